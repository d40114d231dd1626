//! GLMM fits against lme4's `glmer` (Laplace and 25-node adaptive quadrature) and glmmTMB, on the
//! grid of simulated stepped-wedge data sets written by `tests/reference/glmm_reference.R`.
//!
//! For every reference fit our log-likelihood must be at least R's (up to 1e-8 relative): lme4
//! stops its derivative-free optimiser a little short of the maximum, so ours is often higher.
//! Where ours is not higher by more than 1e-9, the estimates must agree:
//! the treatment coefficient within 1e-5, every coefficient within 1e-4 and every random-effect SD
//! within 1e-4. Where ours is higher, the estimates may differ by what lme4's early stop leaves
//! (we still require 1e-3). The treatment coefficient's standard error agrees within 1e-3
//! relative, the others within 1e-2 (R's numerical Hessians are coarse where age, centred far
//! from 0, is nearly collinear with the intercept). lme4 reports the log-likelihood of nAGQ > 1 fits without the
//! saturated model's log-likelihood (for binary rows that term is 0); it is added back here.
//! glmmTMB's Laplace approximation uses the observed information, lme4's (and ours) the expected
//! one, so glmmTMB is compared for canonical links only.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use stepwedge::data::{Cohort, Column, LoadOptions};
use stepwedge::models::glm::{Family, Link};
use stepwedge::models::glmm::{Glmm, GlmmFit};

const TREATMENT_ABS: f64 = 1e-5;
const COEF_ABS: f64 = 1e-4;
const SD_ABS: f64 = 1e-4;
const SE_REL: f64 = 1e-3;
/// SEs of the other coefficients: R's numerical Hessians (lme4's finite differences, glmmTMB's
/// on log SD near 0) are coarse where a covariate is nearly collinear with the intercept (age
/// around 85).
const SE_REL_OTHER: f64 = 1e-2;
const LOGLIK_SLACK: f64 = 1e-8;
/// Log-likelihoods within this (absolute) count as equal.
const LOGLIK_SAME: f64 = 1e-9;
/// When our log-likelihood is higher, how far the estimates may still be from R's.
const HIGHER_ABS: f64 = 1e-3;

fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference")
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn by_term(list: &Value, key: &str) -> BTreeMap<String, f64> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|r| (r["term"].as_str().expect("term").to_string(), num(&r[key])))
        .collect()
}

/// Log-likelihood of the saturated model (fitted mean = observed proportion or count).
fn saturated_loglik(cohort: &Cohort, family: Family, collapsed: bool) -> f64 {
    match (family, collapsed) {
        (Family::Binomial, true) => {
            let events = cohort.numeric("events").unwrap();
            let trials = cohort.numeric("trials").unwrap();
            events
                .iter()
                .zip(trials)
                .map(|(&s, &n)| {
                    let y = s / n;
                    family.loglik_kernel(y, y, n) + family.loglik_constant(y, n)
                })
                .sum()
        }
        (Family::Poisson, _) => {
            let count = cohort.numeric("count").unwrap();
            count
                .iter()
                .map(|&y| family.loglik_kernel(y, y, 1.0) + family.loglik_constant(y, 1.0))
                .sum()
        }
        _ => 0.0,
    }
}

struct Worst {
    treatment: f64,
    coef: f64,
    sd: f64,
    se: f64,
    higher: Vec<String>,
    compared: usize,
}

fn compare(case: &Value, reference: &Value, ours: &GlmmFit, r_loglik: f64, worst: &mut Worst) {
    let label = format!(
        "{} {}",
        case["id"].as_str().unwrap_or("?"),
        reference["label"].as_str().unwrap_or("?")
    );
    assert!(
        ours.loglik >= r_loglik - LOGLIK_SLACK * r_loglik.abs(),
        "{label}: our log-likelihood {} is below R's {r_loglik}",
        ours.loglik
    );
    let same = ours.loglik - r_loglik <= LOGLIK_SAME;
    if !same {
        worst
            .higher
            .push(format!("{label}: +{:.2e}", ours.loglik - r_loglik));
    }
    let est = by_term(&reference["coefficients"], "estimate");
    let se = by_term(&reference["coefficients"], "std_error");
    assert_eq!(
        ours.coefficients.len(),
        est.len(),
        "{label}: number of coefficients"
    );
    for row in &ours.coefficients {
        let want = *est
            .get(&row.term)
            .unwrap_or_else(|| panic!("{label}: R has no term {}", row.term));
        let diff = (row.estimate - want).abs();
        let tol = match (same, row.term.as_str()) {
            (false, _) => HIGHER_ABS,
            (true, "treated") => TREATMENT_ABS,
            (true, _) => COEF_ABS,
        };
        assert!(
            diff <= tol,
            "{label} {}: {} vs R {want} (diff {diff:.2e})",
            row.term,
            row.estimate
        );
        if same {
            if row.term == "treated" {
                worst.treatment = worst.treatment.max(diff);
            }
            worst.coef = worst.coef.max(diff);
        }
        let se_rel = (row.std_error - se[&row.term]).abs() / se[&row.term];
        let se_tol = if row.term == "treated" {
            SE_REL
        } else {
            SE_REL_OTHER
        };
        if row.term == "treated" {
            worst.se = worst.se.max(se_rel);
        }
        assert!(
            se_rel <= se_tol,
            "{label} {} SE: {} vs R {} (rel {se_rel:.2e})",
            row.term,
            row.std_error,
            se[&row.term]
        );
    }
    for r in reference["random_effects"]
        .as_array()
        .expect("random effects")
    {
        let (group, term, want) = (
            r["group"].as_str().unwrap(),
            r["term"].as_str().unwrap(),
            num(&r["sd"]),
        );
        let got = ours
            .random_effects
            .iter()
            .find(|o| o.group == group && o.term == term)
            .unwrap_or_else(|| panic!("{label}: no SD for {group} {term}"));
        let diff = (got.sd - want).abs();
        let tol = if same { SD_ABS } else { HIGHER_ABS };
        assert!(
            diff <= tol,
            "{label} SD {group} {term}: {} vs R {want}",
            got.sd
        );
        if same {
            worst.sd = worst.sd.max(diff);
        }
    }
    worst.compared += 1;
}

#[test]
fn glmm_matches_lme4_and_glmmtmb_over_the_grid() {
    let text = std::fs::read_to_string(reference_dir().join("glmm_reference.json"))
        .expect("reference JSON");
    let reference: Value = serde_json::from_str(&text).expect("JSON");
    let cases = reference["cases"].as_array().expect("cases");
    assert!(
        cases.len() >= 30,
        "the grid has at least 30 data sets, found {}",
        cases.len()
    );
    let mut worst = Worst {
        treatment: 0.0,
        coef: 0.0,
        sd: 0.0,
        se: 0.0,
        higher: Vec::new(),
        compared: 0,
    };
    for case in cases {
        let data = reference_dir().join(case["data"].as_str().expect("data"));
        let cohort = Cohort::from_csv_path(&data, &LoadOptions::default()).expect("data loads");
        let collapsed = case["collapsed"].as_bool().unwrap_or(false);
        for fit in case["fits"].as_array().expect("fits") {
            let family: Family = fit["family"].as_str().unwrap().parse().unwrap();
            let link: Link = fit["link"].as_str().unwrap().parse().unwrap();
            let is_lme4 = fit["package"].as_str() == Some("lme4");
            if !is_lme4 && link != family.default_link() {
                continue;
            }
            let nagq = fit["nAGQ"].as_u64().unwrap_or(1) as usize;
            let ours = Glmm::new(fit["formula"].as_str().unwrap())
                .unwrap()
                .family(family)
                .link(link)
                .nagq(nagq)
                .fit(&cohort)
                .unwrap_or_else(|e| panic!("{} {}: {e}", case["id"], fit["label"]));
            assert!(ours.converged, "{} {}: converged", case["id"], fit["label"]);
            let mut r_loglik = num(&fit["loglik"]);
            if is_lme4 && nagq > 1 {
                r_loglik += saturated_loglik(&cohort, family, collapsed);
            }
            if is_lme4 {
                assert_eq!(
                    ours.singular,
                    fit["is_singular"].as_bool().unwrap(),
                    "{} singular flag",
                    case["id"]
                );
                let groups: BTreeMap<String, usize> =
                    serde_json::from_value(fit["n_groups"].clone()).unwrap();
                assert_eq!(ours.n_groups, groups, "{} groups", case["id"]);
            }
            compare(case, fit, &ours, r_loglik, &mut worst);
        }
    }
    eprintln!(
        "compared {} fits; where the log-likelihoods agree: treatment coefficient within {:.2e}, coefficients within {:.2e}, SDs within {:.2e}; treatment SE within {:.2e} relative",
        worst.compared, worst.treatment, worst.coef, worst.sd, worst.se
    );
    eprintln!(
        "our log-likelihood higher than R's in {} fits:",
        worst.higher.len()
    );
    for h in &worst.higher {
        eprintln!("  {h}");
    }
}

fn load_reference() -> Value {
    let text = std::fs::read_to_string(reference_dir().join("glmm_reference.json"))
        .expect("reference JSON");
    serde_json::from_str(&text).expect("JSON")
}

fn laplace_spec(case: &Value) -> (Cohort, Glmm, String) {
    let data = reference_dir().join(case["data"].as_str().expect("data"));
    let cohort = Cohort::from_csv_path(&data, &LoadOptions::default()).expect("data loads");
    let fit = case["fits"]
        .as_array()
        .expect("fits")
        .iter()
        .find(|f| f["label"] == "lme4_laplace")
        .expect("Laplace fit");
    let family: Family = fit["family"].as_str().unwrap().parse().unwrap();
    let link: Link = fit["link"].as_str().unwrap().parse().unwrap();
    let formula = fit["formula"].as_str().unwrap().to_string();
    let model = Glmm::new(&formula).unwrap().family(family).link(link);
    (cohort, model, formula)
}

/// lme4's profile intervals come from a spline through a few dozen profile points, so they
/// agree with the exact profile roots only to a few 1e-3 (ri16's upper treatment limit is 3.8e-3
/// off). Our limits for the treatment effect are therefore also checked against their
/// definition, independently of the profiling code: refitting with the treatment effect held at
/// the limit (as an offset) must lose exactly chi2_{1, 0.95} / 2 of log-likelihood.
#[test]
fn profile_intervals_match_lme4_and_their_definition() {
    let reference = load_reference();
    let mut compared = 0;
    let mut worst: f64 = 0.0;
    let half_chi2 = 3.841_458_820_694_124 / 2.0;
    for case in reference["cases"].as_array().expect("cases") {
        let Some(profile) = case["confint"]["profile"].as_array() else {
            continue;
        };
        let (cohort, model, formula) = laplace_spec(case);
        let maximum = model.clone().fit(&cohort).unwrap().loglik;
        for row in profile {
            let parm = row["parm"].as_str().unwrap();
            let ours_name = if parm == ".sig01" {
                "sd(cluster)"
            } else {
                parm
            };
            let ours = model
                .profile_interval(&cohort, ours_name)
                .unwrap_or_else(|e| panic!("{} {parm}: {e}", case["id"]));
            for (got, want) in [
                (ours.ci_low, num(&row["lower"])),
                (ours.ci_high, num(&row["upper"])),
            ] {
                let diff = (got - want).abs();
                worst = worst.max(diff);
                assert!(diff < 5e-3, "{} {parm}: {got} vs lme4 {want}", case["id"]);
                if parm == "treated" {
                    let treated = cohort.numeric("treated").unwrap();
                    let shifted = cohort
                        .clone()
                        .with_column(
                            "treated_offset",
                            Column::Numeric(treated.iter().map(|t| t * got).collect()),
                        )
                        .unwrap();
                    let held = formula.replace("treated + ", "") + " + offset(treated_offset)";
                    let profile_loglik = Glmm::new(&held).unwrap().fit(&shifted).unwrap().loglik;
                    let drop = maximum - profile_loglik;
                    assert!(
                        (drop - half_chi2).abs() < 1e-5,
                        "{} limit {got}: log-likelihood drop {drop}",
                        case["id"]
                    );
                }
            }
            compared += 1;
        }
    }
    assert!(compared >= 10, "profile intervals compared: {compared}");
    eprintln!("{compared} profile intervals; largest difference from lme4 {worst:.2e}");
}

#[test]
fn likelihood_ratio_tests_match_anova() {
    let reference = load_reference();
    let mut compared = 0;
    for case in reference["cases"].as_array().expect("cases") {
        let lrt = &case["lrt_treated"];
        if !lrt.is_object() {
            continue;
        }
        let (cohort, model, _) = laplace_spec(case);
        let full = model.clone().fit(&cohort).unwrap();
        let null_formula = lrt["null_formula"].as_str().unwrap();
        let null = Glmm::new(null_formula)
            .unwrap()
            .family(full.family)
            .link(full.link)
            .fit(&cohort)
            .unwrap();
        let test = full.lrt(&null).unwrap();
        assert_eq!(test.df as f64, num(&lrt["df"]), "{}", case["id"]);
        assert!(
            (test.statistic - num(&lrt["chisq"])).abs() < 1e-4,
            "{}: {} vs {}",
            case["id"],
            test.statistic,
            lrt["chisq"]
        );
        let p = num(&lrt["p_value"]);
        assert!(
            (test.p_value - p).abs() < 1e-4 * p.max(1e-3),
            "{}: p {} vs {p}",
            case["id"],
            test.p_value
        );
        compared += 1;
    }
    assert!(compared >= 4, "LR tests compared: {compared}");
}
