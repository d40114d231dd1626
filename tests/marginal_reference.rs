//! Marginal standardisation and the cluster bootstrap against R
//! (`tests/reference/marginal_reference.R`, `marginal_reference.json`): standardised risks, RR
//! and RD with their delta-method intervals from a logistic GLM (model-based and CR1 variances),
//! subgroup odds ratios and the interaction test, a random-intercept logistic GLMM (risks
//! integrated over the random effect, and conditional on it being 0), and percentile and BCa
//! intervals over the same bootstrap samples R refitted.

#[allow(dead_code)]
mod common;
use common::FitThen;
use serde_json::Value;
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::effects::crude::Estimate;
use stepwedge::effects::standardise::{MarginalEffects, RandomEffects, Standardisation, Target};
use stepwedge::models::glm::{Glm, IrlsControl};
use stepwedge::models::glmm::Glmm;
use stepwedge::models::vcov::VcovKind;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference");

fn reference() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(format!("{DIR}/marginal_reference.json")).unwrap(),
    )
    .unwrap()
}

fn cohort() -> Cohort {
    Cohort::from_csv_path(
        format!("{DIR}/data/marginal/cohort.csv"),
        &LoadOptions::default(),
    )
    .unwrap()
}

/// R's bootstrap samples as 0-based cluster indices.
fn draws(file: &str) -> Vec<Vec<usize>> {
    std::fs::read_to_string(format!("{DIR}/{file}"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|c| c.trim().parse::<usize>().unwrap() - 1)
                .collect()
        })
        .collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

fn pair(v: &Value) -> (f64, f64) {
    (f(&v[0]), f(&v[1]))
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

/// The R target name as ours.
fn target(name: &str) -> Target {
    match name {
        "all" => Target::All,
        "treated" => Target::Treated,
        "own_home" => Target::parse("own_home"),
        "not_own_home" => Target::parse("own_home=0"),
        other => panic!("unknown target {other}"),
    }
}

/// Compare point estimates (within `tol_estimate` relative) and one delta-method block (SEs
/// and limits within `tol_se` relative) with R's.
fn compare(
    ours: &MarginalEffects,
    r: &Value,
    delta: &Value,
    tol_estimate: f64,
    tol_se: f64,
) -> f64 {
    let mut worst_se: f64 = 0.0;
    let estimates = [
        (ours.risk_treated.estimate, f(&r["r1"])),
        (ours.risk_control.estimate, f(&r["r0"])),
        (ours.relative_risk.estimate, f(&r["RR"])),
        (ours.risk_difference.estimate, f(&r["RD"])),
    ];
    for (a, b) in estimates {
        assert!(rel(a, b) < tol_estimate, "estimate {a} vs R {b}");
    }
    let ses = [
        (ours.risk_treated.std_error, f(&delta["se_r1"])),
        (ours.risk_control.std_error, f(&delta["se_r0"])),
        (ours.relative_risk.std_error, f(&delta["se_log_RR"])),
        (ours.risk_difference.std_error, f(&delta["se_RD"])),
    ];
    for (a, b) in ses {
        worst_se = worst_se.max(rel(a, b));
        assert!(rel(a, b) < tol_se, "SE {a} vs R {b}");
    }
    let limits = [
        (&ours.risk_treated.delta, "r1_ci"),
        (&ours.risk_control.delta, "r0_ci"),
        (&ours.relative_risk.delta, "RR_ci"),
        (&ours.risk_difference.delta, "RD_ci"),
    ];
    for (e, key) in limits {
        let (lo, hi) = pair(&delta[key]);
        // Limits near 0 (of RD) are compared on the scale of the interval's width.
        let width = hi - lo;
        assert!(
            (e.ci_low - lo).abs() < tol_se * width,
            "{key} low {} vs R {lo}",
            e.ci_low
        );
        assert!(
            (e.ci_high - hi).abs() < tol_se * width,
            "{key} high {} vs R {hi}",
            e.ci_high
        );
    }
    worst_se
}

/// Compare our percentile and BCa limits with R's (`intervals`), within `tol` of the width.
fn compare_bootstrap(ours: &MarginalEffects, intervals: &Value, tol: f64) -> f64 {
    let mut worst: f64 = 0.0;
    let measures = [
        (&ours.risk_treated, "r1"),
        (&ours.risk_control, "r0"),
        (&ours.relative_risk, "RR"),
        (&ours.risk_difference, "RD"),
    ];
    for (m, key) in measures {
        let r = &intervals[key];
        for (e, kind) in [
            (m.percentile.as_ref(), "percentile"),
            (m.bca.as_ref(), "bca"),
        ] {
            let e: &Estimate = e.unwrap();
            let (lo, hi) = pair(&r[kind]);
            let width = hi - lo;
            let d = (e.ci_low - lo).abs().max((e.ci_high - hi).abs()) / width;
            worst = worst.max(d);
            assert!(
                d < tol,
                "{key} {kind}: ({}, {}) vs R ({lo}, {hi})",
                e.ci_low,
                e.ci_high
            );
        }
    }
    worst
}

/// IRLS converged as tightly as R's reference fits.
fn tight() -> IrlsControl {
    IrlsControl {
        epsilon: 1e-14,
        ..IrlsControl::default()
    }
}

#[test]
fn glm_standardisation_matches_r() {
    let r = reference();
    let case = &r["cases"]["glm_logit"];
    let data = cohort();
    let formula = case["formula"].as_str().unwrap();
    let mut worst = 0.0f64;
    for name in ["all", "treated", "own_home"] {
        let want = &case["standardisation"][name];
        let spec = Standardisation::new("treated").target(target(name));
        let (_, model) = Glm::new(formula)
            .unwrap()
            .control(tight())
            .fit_and_standardise(&data, &spec)
            .unwrap();
        assert_eq!(model.patients, f(&want["n_target"]));
        worst = worst.max(compare(&model, want, &want["delta"]["model"], 1e-10, 1e-8));
        let (_, robust) = Glm::new(formula)
            .unwrap()
            .control(tight())
            .cluster("cluster")
            .vcov(VcovKind::CR1)
            .fit_and_standardise(&data, &spec)
            .unwrap();
        assert_eq!(robust.reference_df, Some(13.0));
        worst = worst.max(compare(&robust, want, &want["delta"]["CR1"], 1e-10, 1e-8));
    }
    println!("GLM standardisation: largest SE difference {worst:.2e} relative");
}

#[test]
fn glm_bootstrap_matches_r_on_the_same_samples() {
    let r = reference();
    let case = &r["cases"]["glm_logit"];
    let boot = &case["bootstrap"];
    let samples = draws(boot["draws_file"].as_str().unwrap());
    assert_eq!(samples.len(), 300);
    let model = Glm::new(case["formula"].as_str().unwrap())
        .unwrap()
        .control(tight())
        .cluster("cluster");
    let data = cohort();
    // Replicate by replicate: a bootstrap of one sample twice has both limits equal to that
    // sample's statistic.
    for b in (0..300).step_by(23) {
        let spec = Standardisation::new("treated")
            .bootstrap_samples(vec![samples[b].clone(), samples[b].clone()]);
        let (_, m) = model.fit_and_standardise(&data, &spec).unwrap();
        let want = f(&boot["replicates"]["RD"][b]);
        let got = m.risk_difference.percentile.unwrap();
        assert!(
            rel(got.ci_low, want) < 1e-9,
            "replicate {b}: {} vs R {want}",
            got.ci_low
        );
    }
    let spec = Standardisation::new("treated").bootstrap_samples(samples);
    let (_, m) = model.fit_and_standardise(&data, &spec).unwrap();
    let summary = m.bootstrap.as_ref().unwrap();
    assert_eq!((summary.replicates, summary.failed), (300, 0));
    for (s, key) in ["r1", "r0", "RR", "RD"].iter().enumerate() {
        let a = f(&boot["intervals"][key]["a"]);
        assert!(
            (summary.acceleration[s] - a).abs() < 1e-8,
            "{key}: a {} vs R {a}",
            summary.acceleration[s]
        );
    }
    let worst = compare_bootstrap(&m, &boot["intervals"], 1e-8);
    println!("GLM bootstrap: largest limit difference {worst:.2e} of the interval width");
}

#[test]
fn subgroup_odds_ratios_and_interaction_test_match_r() {
    let r = reference();
    let case = &r["cases"]["glm_interaction"];
    let data = cohort();
    let (_, s) = Glm::new(case["formula"].as_str().unwrap())
        .unwrap()
        .control(tight())
        .fit_and_subgroups(&data, &Standardisation::new("treated"), "own_home")
        .unwrap();
    let test = &case["interaction_test"];
    assert_eq!(s.interaction.terms, vec![test["term"].as_str().unwrap()]);
    let z = f(&test["z"]);
    assert!(rel(s.interaction.statistic, z * z) < 1e-8);
    assert!(rel(s.interaction.p_value, f(&test["p_value"])) < 1e-8);
    for (g, key, target_name) in [
        (0, "own_home_0", "not_own_home"),
        (1, "own_home_1", "own_home"),
    ] {
        let want = &case["subgroup_odds_ratios"][key];
        let ratio = s.subgroups[g].ratio.unwrap();
        assert!(rel(ratio.estimate, f(&want["OR"])) < 1e-8);
        let (lo, hi) = pair(&want["OR_ci"]);
        assert!(rel(ratio.ci_low, lo) < 1e-8 && rel(ratio.ci_high, hi) < 1e-8);
        let standardised = &case["standardisation"][target_name];
        compare(
            &s.subgroups[g].marginal,
            standardised,
            &standardised["delta"]["model"],
            1e-10,
            1e-8,
        );
    }
}

#[test]
fn glmm_standardisation_matches_r() {
    let r = reference();
    let case = &r["cases"]["glmm_logit"];
    let data = cohort();
    let model = Glmm::new(case["formula"].as_str().unwrap()).unwrap();
    let mut worst = 0.0f64;
    for (version, how) in [
        ("marginal", RandomEffects::Integrated),
        ("conditional", RandomEffects::Conditional),
    ] {
        for name in ["all", "treated", "own_home"] {
            let want = &case["standardisation"][version][name];
            let spec = Standardisation::new("treated")
                .target(target(name))
                .random_effects(how);
            let (fit, m) = model.fit_and_standardise(&data, &spec).unwrap();
            assert!(fit.loglik >= f(&case["loglik"]) - 1e-9);
            let delta = &want["delta"]["laplace_hessian_analytic_gradient"];
            worst = worst.max(compare(&m, want, delta, 1e-6, 1e-5));
        }
    }
    println!("GLMM standardisation: largest SE difference {worst:.2e} relative");
}

#[test]
fn glmm_bootstrap_matches_r_on_the_same_samples() {
    let r = reference();
    let case = &r["cases"]["glmm_logit"];
    let boot = &case["bootstrap"];
    let samples = draws(boot["draws_file"].as_str().unwrap());
    let failed: Vec<usize> = boot["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["replicate"].as_u64().unwrap() as usize - 1)
        .collect();
    let model = Glmm::new(case["formula"].as_str().unwrap()).unwrap();
    let data = cohort();
    let used: Vec<Vec<usize>> = samples
        .iter()
        .enumerate()
        .filter(|(b, _)| !failed.contains(b))
        .map(|(_, s)| s.clone())
        .collect();
    assert_eq!(used.len() as f64, f(&boot["n_ok"]));
    // R's values of the replicates it fitted, in order.
    let values: Vec<f64> = boot["replicates"]["RD"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert_eq!(values.len(), used.len());
    for k in 0..used.len() {
        let spec = Standardisation::new("treated")
            .bootstrap_samples(vec![used[k].clone(), used[k].clone()]);
        let (_, m) = model.fit_and_standardise(&data, &spec).unwrap();
        let got = m.risk_difference.percentile.unwrap().ci_low;
        assert!(
            (got - values[k]).abs() < 1e-7,
            "replicate {k}: {got} vs R {}",
            values[k]
        );
    }
    let spec = Standardisation::new("treated").bootstrap_samples(used);
    let (_, m) = model.fit_and_standardise(&data, &spec).unwrap();
    assert_eq!(m.bootstrap.as_ref().unwrap().failed, 0);
    let worst = compare_bootstrap(&m, &boot["intervals"], 1e-6);
    println!("GLMM bootstrap: largest limit difference {worst:.2e} of the interval width");
}
