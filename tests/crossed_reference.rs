//! Crossed, nested and uncorrelated random-effect terms against glmmTMB (and lme4's glmer) on the
//! data written by `tests/reference/crossed/crossed_reference.R`: lme4's grouseticks with three
//! crossed intercepts and with `(1 | LOCATION/BROOD)` (Poisson), and a simulated cohort of 3,000
//! patients grouped by hospital (30) and municipality (98) at once (logistic), also with
//! `(1 + treated || hospital)`; and the 100,000-patient cohort of the same design written by
//! `tests/reference/crossed/crossed_100k.R` (`crossed_100k_reference.json`; there glmmTMB's
//! nlminb is polished by Newton steps on TMB's gradient, as it stops 3e-5 short on these data).
//!
//! The Laplace approximation of a canonical-link model is the same in glmmTMB (observed
//! curvature) and lme4 (expected curvature). Estimates (fixed effects and random-effect SDs) must
//! agree with glmmTMB's within 1e-5, standard errors (from the Hessian of the approximate
//! log-likelihood, as glmmTMB's sdreport) within 1e-4 relative, and the log-likelihood within
//! 1e-6 relative; glmer's derivative-free optimiser stops a little short of the maximum, so ours
//! must be at least glmer's.

use std::path::PathBuf;

use serde_json::Value;
use stepwedge::core::error::Error;
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::models::glm::Family;
use stepwedge::models::glmm::{Glmm, GlmmFit};
use stepwedge::models::vcov::VcovKind;

const ESTIMATE_ABS: f64 = 1e-5;
const SE_REL: f64 = 1e-4;
const LOGLIK_REL: f64 = 1e-6;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/crossed")
}

/// The reference files, each with a `cases` array: `crossed_reference.R`'s and `crossed_100k.R`'s.
const REFERENCE_FILES: [&str; 2] = ["crossed_reference.json", "crossed_100k_reference.json"];

fn reference(id: &str) -> Value {
    REFERENCE_FILES
        .iter()
        .find_map(|file| {
            let text = std::fs::read_to_string(dir().join(file)).expect("reference");
            let all: Value = serde_json::from_str(&text).expect("json");
            all["cases"]
                .as_array()
                .expect("cases")
                .iter()
                .find(|c| c["id"][0] == id)
                .cloned()
        })
        .unwrap_or_else(|| panic!("no reference case {id}"))
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn cohort(file: &str) -> Cohort {
    Cohort::from_csv_path(dir().join(file), &LoadOptions::default()).expect("data loads")
}

/// The grouping factor's columns as a sorted list (`BROOD:LOCATION` and `LOCATION:BROOD` agree).
fn factor_key(group: &str) -> Vec<String> {
    let mut parts: Vec<String> = group.split(':').map(str::to_string).collect();
    parts.sort();
    parts
}

/// Compare `fit` with the glmmTMB and glmer fits of case `id`; the largest differences.
fn check(fit: &GlmmFit, id: &str) -> [f64; 4] {
    let case = reference(id);
    let tmb = &case["glmmtmb"];
    assert!(fit.converged, "{id}: not converged");
    let beta: Vec<f64> = fit.coefficients.iter().map(|c| c.estimate).collect();
    let se: Vec<f64> = fit.coefficients.iter().map(|c| c.std_error).collect();
    let (r_beta, r_se) = (numbers(&tmb["beta"]), numbers(&tmb["se"]));
    assert_eq!(beta.len(), r_beta.len(), "{id}: coefficients");
    let mut worst = [0.0f64; 4];
    for j in 0..beta.len() {
        let d = (beta[j] - r_beta[j]).abs();
        worst[0] = worst[0].max(d);
        assert!(
            d < ESTIMATE_ABS,
            "{id}: beta {j}: {} vs {}",
            beta[j],
            r_beta[j]
        );
        let rel = (se[j] - r_se[j]).abs() / r_se[j];
        worst[2] = worst[2].max(rel);
        assert!(rel < SE_REL, "{id}: se {j}: {} vs {}", se[j], r_se[j]);
    }
    let names: Vec<&str> = tmb["sd_names"]
        .as_array()
        .expect("names")
        .iter()
        .map(|v| v.as_str().expect("name"))
        .collect();
    let r_sd = numbers(&tmb["sd"]);
    assert_eq!(fit.random_effects.len(), r_sd.len(), "{id}: SDs");
    for (name, r) in names.iter().zip(&r_sd) {
        let (group, term) = name.rsplit_once('.').expect("group.term");
        let ours = fit
            .random_effects
            .iter()
            .find(|s| factor_key(&s.group) == factor_key(group) && s.term == term)
            .unwrap_or_else(|| panic!("{id}: no SD for {name}: {:?}", fit.random_effects));
        let d = (ours.sd - r).abs();
        worst[1] = worst[1].max(d);
        assert!(d < ESTIMATE_ABS, "{id}: sd {name}: {} vs {r}", ours.sd);
    }
    let r_ll = tmb["loglik"].as_f64().expect("loglik");
    let rel = (fit.loglik - r_ll).abs() / r_ll.abs();
    worst[3] = rel;
    assert!(rel < LOGLIK_REL, "{id}: loglik {} vs {r_ll}", fit.loglik);
    let glmer_ll = case["glmer"]["loglik"].as_f64().expect("glmer loglik");
    assert!(
        fit.loglik >= glmer_ll - 1e-8 * glmer_ll.abs(),
        "{id}: loglik {} below glmer's {glmer_ll}",
        fit.loglik
    );
    eprintln!(
        "{id}: max |beta diff| {:.1e}, max |sd diff| {:.1e}, max se rel {:.1e}, loglik rel {:.1e}",
        worst[0], worst[1], worst[2], worst[3]
    );
    worst
}

const GROUSETICKS_CROSSED: &str =
    "TICKS ~ factor(YEAR) + HEIGHT_s + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)";

#[test]
fn grouseticks_three_crossed_intercepts_match_glmmtmb() {
    let fit = Glmm::new(GROUSETICKS_CROSSED)
        .unwrap()
        .family(Family::Poisson)
        .fit(&cohort("grouseticks.csv"))
        .unwrap();
    check(&fit, "grouseticks_crossed");
    assert_eq!(fit.n_groups["INDEX"], 403);
    assert_eq!(fit.n_groups["BROOD"], 118);
    assert_eq!(fit.n_groups["LOCATION"], 63);
    // lme4's order of the terms: more levels first, and its theta.
    let groups: Vec<&str> = fit
        .random_effects
        .iter()
        .map(|s| s.group.as_str())
        .collect();
    assert_eq!(groups, ["INDEX", "BROOD", "LOCATION"]);
    let theta = numbers(&reference("grouseticks_crossed")["glmer"]["theta"]);
    for (ours, r) in fit.theta.iter().zip(&theta) {
        assert!((ours - r).abs() < 1e-3, "theta {ours} vs glmer {r}");
    }
    // One conditional mode per level of each factor.
    assert_eq!(fit.conditional_modes.len(), 403 + 118 + 63);
    assert!(!fit.singular);
}

#[test]
fn grouseticks_location_brood_nesting_matches_glmmtmb() {
    let fit = Glmm::new("TICKS ~ factor(YEAR) + HEIGHT_s + (1 | LOCATION/BROOD)")
        .unwrap()
        .family(Family::Poisson)
        .fit(&cohort("grouseticks.csv"))
        .unwrap();
    check(&fit, "grouseticks_nested");
}

#[test]
fn hospital_by_municipality_cohort_matches_glmmtmb() {
    let fit = Glmm::new("death30 ~ treated + age + sex + (1 | hospital) + (1 | municipality)")
        .unwrap()
        .fit(&cohort("hospital_municipality.csv"))
        .unwrap();
    check(&fit, "hospital_municipality");
}

/// The 100,000-patient cohort of `crossed_100k.R` (the bench's case c): the same model as above.
#[test]
fn hospital_by_municipality_100k_cohort_matches_glmmtmb() {
    let fit = Glmm::new("death30 ~ treated + age + sex + (1 | hospital) + (1 | municipality)")
        .unwrap()
        .fit(&cohort("hospital_municipality_100k.csv"))
        .unwrap();
    check(&fit, "hospital_municipality_100k");
    assert_eq!(fit.n_groups["hospital"], 30);
    assert_eq!(fit.n_groups["municipality"], 98);
}

#[test]
fn uncorrelated_intercept_and_slope_match_glmmtmb() {
    let fit = Glmm::new("death30 ~ treated + age + sex + (1 + treated || hospital)")
        .unwrap()
        .fit(&cohort("hospital_municipality.csv"))
        .unwrap();
    check(&fit, "uncorrelated_slope");
    assert!(fit.correlations.is_empty());
}

#[test]
fn what_crossed_terms_cannot_have_is_a_typed_error() {
    let data = cohort("hospital_municipality.csv");
    let formula = "death30 ~ treated + (1 | hospital) + (1 | municipality)";
    let refused = |e: Error, needle: &str| match e {
        Error::UnsupportedFormula {
            reason, construct, ..
        } => {
            assert!(
                reason.contains(needle) || construct.contains(needle),
                "{construct}: {reason}"
            )
        }
        other => panic!("expected UnsupportedFormula, got {other:?}"),
    };
    let model = Glmm::new(formula).unwrap();
    refused(model.clone().nagq(5).fit(&data).unwrap_err(), "quadrature");
    refused(
        model
            .clone()
            .vcov(VcovKind::Sandwich)
            .fit(&data)
            .unwrap_err(),
        "sandwich",
    );
}
