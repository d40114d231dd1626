//! The linear mixed model with crossed random effects against lme4's lmer, lmerTest and pbkrtest
//! on the data written by `tests/reference/crossed_lmm/crossed_lmm_reference.R`: lme4's
//! Penicillin, `diameter ~ 1 + (1 | plate) + (1 | sample)` (REML and ML), and a continuous cost
//! on the simulated cohort of 3,000 patients grouped by hospital (30) and municipality (98) at
//! once, with crossed intercepts (REML and ML) and with `(1 + treated | hospital) +
//! (1 | municipality)` (REML).
//!
//! Estimates (fixed effects, random-effect SDs and correlations, sigma, theta) must agree with
//! lmer's within 1e-5 (relative beyond 1 for the costs' coefficients and SDs, which are in the
//! hundreds and thousands: lmer's bobyqa stops some 1e-7 relative short), SEs within 1e-4
//! relative, the REML criterion or deviance within 1e-6 relative and at most lmer's (its
//! derivative-free optimiser stops a little short of the minimum), lmerTest's Satterthwaite df
//! within 1e-4 relative (lmerTest differences numerically) and pbkrtest's Kenward-Roger df and
//! adjusted SEs within 1e-6 relative.

use serde_json::Value;
use stepwedge::core::error::Error;
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::models::fitted::Fitted;
use stepwedge::models::lmm::{DfMethod, Lmm, LmmFit};

#[path = "common/json.rs"]
mod json;
use json::{numbers, strings};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/crossed_lmm");

const ESTIMATE: f64 = 1e-5;
const SE_REL: f64 = 1e-4;
const CRITERION_REL: f64 = 1e-6;
const SATTERTHWAITE_REL: f64 = 1e-4;
const KR_REL: f64 = 1e-6;

fn case(id: &str) -> Value {
    let text = std::fs::read_to_string(format!("{DIR}/crossed_lmm_reference.json")).unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    all["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"][0] == id)
        .unwrap_or_else(|| panic!("no reference case {id}"))
        .clone()
}

fn cohort(file: &str) -> Cohort {
    Cohort::from_csv_path(format!("{DIR}/{file}"), &LoadOptions::default()).unwrap()
}

/// The first `rows` rows of the cost cohort (R's `hm[1:rows, ]`).
fn first_costs(rows: usize) -> Cohort {
    let text = std::fs::read_to_string(format!("{DIR}/hospital_municipality_cost.csv")).unwrap();
    let head: Vec<&str> = text.lines().take(rows + 1).collect();
    Cohort::from_csv_str(&(head.join("\n") + "\n"), &LoadOptions::default()).unwrap()
}

/// How a difference is scaled.
#[derive(Clone, Copy)]
enum Scale {
    Absolute,
    Relative,
    /// Relative beyond 1 (costs in the thousands).
    AtLeastOne,
}

/// The largest `|ours - r| / scale(r)` over the pairs, asserting each is below `tolerance`.
fn worst(what: &str, ours: &[f64], r: &[f64], scale: Scale, tolerance: f64) -> f64 {
    assert_eq!(ours.len(), r.len(), "{what}: lengths");
    let mut worst = 0.0f64;
    for (k, (a, b)) in ours.iter().zip(r).enumerate() {
        let scale = match scale {
            Scale::Absolute => 1.0,
            Scale::Relative => b.abs(),
            Scale::AtLeastOne => b.abs().max(1.0),
        };
        let d = (a - b).abs() / scale;
        assert!(d < tolerance, "{what} {k}: {a} vs lmer {b} ({d:.1e})");
        worst = worst.max(d);
    }
    worst
}

/// Fit case `id`'s formula (REML or ML, Satterthwaite and, where pbkrtest's numbers are
/// recorded, Kenward-Roger) on `data` and compare; estimates (fixed effects, SDs) compared
/// relative beyond 1 when `costs`.
fn check(id: &str, data: &Cohort, costs: bool) -> LmmFit {
    let estimate_scale = if costs {
        Scale::AtLeastOne
    } else {
        Scale::Absolute
    };
    let r = case(id);
    let formula = r["formula"][0].as_str().unwrap();
    let reml = r["reml"].as_bool().unwrap();
    assert_eq!(data.n_rows(), r["n_obs"].as_u64().unwrap() as usize);
    let fit = Lmm::new(formula).unwrap().reml(reml).fit(data).unwrap();
    assert!(fit.converged, "{id}: not converged");
    let names: Vec<String> = fit.coefficients.iter().map(|c| c.term.clone()).collect();
    assert_eq!(names, strings(&r["names"]), "{id}: coefficient names");
    let beta: Vec<f64> = fit.coefficients.iter().map(|c| c.estimate).collect();
    let se: Vec<f64> = fit.coefficients.iter().map(|c| c.std_error).collect();
    let df: Vec<f64> = fit.coefficients.iter().map(|c| c.df.unwrap()).collect();
    let d_beta = worst(
        "beta",
        &beta,
        &numbers(&r["beta"]),
        estimate_scale,
        ESTIMATE,
    );
    let d_se = worst("se", &se, &numbers(&r["se"]), Scale::Relative, SE_REL);
    // lme4's order: grouping factors with more levels first.
    let groups: Vec<String> = fit.random_effects.iter().map(|s| s.group.clone()).collect();
    assert_eq!(groups, strings(&r["sd_groups"]), "{id}: SD groups");
    let terms: Vec<String> = fit.random_effects.iter().map(|s| s.term.clone()).collect();
    assert_eq!(terms, strings(&r["sd_terms"]), "{id}: SD terms");
    let mut sd: Vec<f64> = fit.random_effects.iter().map(|s| s.sd).collect();
    let mut r_sd = numbers(&r["sd"]);
    sd.push(fit.residual_sd);
    r_sd.push(r["sigma"].as_f64().unwrap());
    let d_sd = worst("sd", &sd, &r_sd, estimate_scale, ESTIMATE);
    let cor: Vec<f64> = fit.correlations.iter().map(|c| c.correlation).collect();
    let d_cor = worst(
        "correlation",
        &cor,
        &numbers(&r["cor"]),
        Scale::Absolute,
        ESTIMATE,
    );
    let r_criterion = r["criterion"].as_f64().unwrap();
    let d_criterion = (fit.criterion - r_criterion).abs() / r_criterion.abs();
    assert!(
        d_criterion < CRITERION_REL,
        "{id}: criterion {} vs lmer {r_criterion}",
        fit.criterion
    );
    assert!(
        fit.criterion <= r_criterion + 1e-9 * r_criterion.abs(),
        "{id}: criterion {} above lmer's {r_criterion}",
        fit.criterion
    );
    let r_loglik = r["loglik"].as_f64().unwrap();
    assert!((fit.loglik - r_loglik).abs() < CRITERION_REL * r_loglik.abs());
    let d_df = worst(
        "Satterthwaite df",
        &df,
        &numbers(&r["df_satterthwaite"]),
        Scale::Relative,
        SATTERTHWAITE_REL,
    );
    eprintln!(
        "{id}: |beta| {d_beta:.1e}, se rel {d_se:.1e}, sd {d_sd:.1e}, cor {d_cor:.1e}, \
         criterion rel {d_criterion:.1e} (ours - lmer {:.1e}), Satterthwaite df rel {d_df:.1e}",
        fit.criterion - r_criterion
    );
    if reml && !r["df_kr"].is_null() {
        let kr = Lmm::new(formula)
            .unwrap()
            .df(DfMethod::KenwardRoger)
            .fit(data)
            .unwrap();
        let se_kr: Vec<f64> = kr.coefficients.iter().map(|c| c.std_error).collect();
        let df_kr: Vec<f64> = kr.coefficients.iter().map(|c| c.df.unwrap()).collect();
        let d_se_kr = worst(
            "KR se",
            &se_kr,
            &numbers(&r["se_kr"]),
            Scale::Relative,
            KR_REL,
        );
        let d_df_kr = worst(
            "KR df",
            &df_kr,
            &numbers(&r["df_kr"]),
            Scale::Relative,
            KR_REL,
        );
        eprintln!("{id}: Kenward-Roger se rel {d_se_kr:.1e}, df rel {d_df_kr:.1e}");
    }
    fit
}

#[test]
fn penicillin_plate_by_sample_matches_lmer() {
    let data = cohort("penicillin.csv");
    let fit = check("penicillin", &data, false);
    assert_eq!(fit.n_groups["plate"], 24);
    assert_eq!(fit.n_groups["sample"], 6);
    let theta = numbers(&case("penicillin")["theta"]);
    worst("theta", &fit.theta, &theta, Scale::Absolute, ESTIMATE);
    check("penicillin_ml", &data, false);
}

#[test]
fn hospital_by_municipality_costs_match_lmer() {
    let data = cohort("hospital_municipality_cost.csv");
    let fit = check("hospital_municipality", &data, true);
    let theta = numbers(&case("hospital_municipality")["theta"]);
    worst("theta", &fit.theta, &theta, Scale::Absolute, ESTIMATE);
    check("hospital_municipality_ml", &data, true);
    let fit = check("hospital_slope_municipality", &data, true);
    assert_eq!(fit.correlations.len(), 1);
}

#[test]
fn kenward_roger_on_600_crossed_patients_matches_pbkrtest() {
    let data = first_costs(600);
    check("hospital_municipality_600", &data, true);
    check("hospital_slope_municipality_600", &data, true);
}

#[test]
fn crossed_fits_refuse_the_analyses_that_resample_clusters() {
    let fit = Lmm::new("cost ~ treated + (1 | hospital) + (1 | municipality)")
        .unwrap()
        .fit(&cohort("hospital_municipality_cost.csv"))
        .unwrap();
    let refused = |e: Error| match e {
        Error::UnsupportedFormula {
            construct, reason, ..
        } => {
            assert!(construct.contains("hospital") && construct.contains("municipality"));
            assert!(reason.contains("one grouping factor"), "{reason}");
        }
        other => panic!("expected UnsupportedFormula, got {other:?}"),
    };
    refused(fit.parameters().unwrap_err());
    refused(fit.refit(&[0], &mut ()).unwrap_err());
    // The fit's own inference stands: the Satterthwaite df of a contrast.
    let df = fit.contrast_df(&[0.0, 1.0]).unwrap().unwrap();
    assert!((df - fit.coefficients[1].df.unwrap()).abs() < 1e-9 * df);
}
