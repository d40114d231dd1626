//! Cost models against R (`tests/reference/cost_models.R`, `cost_models.json`): linear mixed
//! models by REML and ML with a random cluster intercept and with nested cluster-period
//! intercepts, against lme4's `lmer` (polished to the optimum) and lmerTest's Satterthwaite
//! degrees of freedom (and the script's own closed-form derivatives of them), including a
//! singular fit; and the gamma GLM with log link against `glm(family = Gamma(link = "log"))`.

use serde_json::Value;
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::models::glm::{Family, Glm, IrlsControl};
use stepwedge::models::lmm::Lmm;

#[path = "common/json.rs"]
mod json;
use json::numbers;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference");

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/cost_models.json")).unwrap())
        .unwrap()
}

fn data(file: &str) -> Cohort {
    Cohort::from_csv_path(format!("{DIR}/{file}"), &LoadOptions::default()).unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

fn lmm_case(name: &str) {
    let r = reference();
    let c = &r["cases"][name];
    let cohort = data(c["data"].as_str().unwrap());
    let reml = c["REML"].as_bool().unwrap();
    let fit = Lmm::new(c["formula"].as_str().unwrap())
        .unwrap()
        .reml(reml)
        .fit(&cohort)
        .unwrap();
    let terms: Vec<&str> = fit.coefficients.iter().map(|r| r.term.as_str()).collect();
    let want_terms: Vec<&str> = c["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(terms, want_terms);
    let se = numbers(&c["se"]);
    let mut worst_beta: f64 = 0.0;
    let mut worst_se: f64 = 0.0;
    for (k, row) in fit.coefficients.iter().enumerate() {
        // Coefficients on the scale of their standard errors.
        worst_beta = worst_beta.max((row.estimate - f(&c["fixef"][k])).abs() / se[k]);
        worst_se = worst_se.max(rel(row.std_error, se[k]));
    }
    let criterion = if reml {
        f(&c["criterion"]["REMLcrit"])
    } else {
        f(&c["criterion"]["deviance"])
    };
    let d_criterion = rel(fit.criterion, criterion);
    let d_sigma = rel(fit.residual_sd, f(&c["sigma"]));
    // lme4 lists theta with the grouping factor of more levels first; so does the fit's
    // random_effects list.
    let sds = numbers(&c["random_effect_sd"]);
    let d_sd = fit
        .random_effects
        .iter()
        .zip(&sds)
        .map(|(ours, theirs)| (ours.sd - theirs).abs() / f(&c["sigma"]))
        .fold(0.0, f64::max);
    let exact = numbers(&c["exact"]["satterthwaite"]["df"]);
    let lmertest = numbers(&c["satterthwaite"]["df"]);
    let mut d_df_exact: f64 = 0.0;
    let mut d_df_lmertest: f64 = 0.0;
    for (k, row) in fit.coefficients.iter().enumerate() {
        let df = row.df.unwrap();
        d_df_exact = d_df_exact.max(rel(df, exact[k]));
        d_df_lmertest = d_df_lmertest.max(rel(df, lmertest[k]));
    }
    println!(
        "{name}: beta {worst_beta:.1e} SE, SE {worst_se:.1e}, criterion {d_criterion:.1e}, sigma \
         {d_sigma:.1e}, SDs {d_sd:.1e} sigma, Satterthwaite df {d_df_exact:.1e} (closed form) \
         {d_df_lmertest:.1e} (lmerTest)"
    );
    assert_eq!(
        fit.singular,
        c["singular"].as_bool().unwrap(),
        "{name}: singular"
    );
    assert!(
        worst_beta < 1e-6,
        "{name}: coefficients differ by {worst_beta:e} SE"
    );
    assert!(worst_se < 1e-6, "{name}: SEs differ by {worst_se:e}");
    assert!(
        d_criterion < 1e-10,
        "{name}: criterion {} vs {criterion}",
        fit.criterion
    );
    assert!(d_sigma < 1e-7 && d_sd < 1e-6, "{name}: variance components");
    assert!(
        d_df_exact < 1e-7,
        "{name}: df differ from the closed form by {d_df_exact:e}"
    );
    assert!(
        d_df_lmertest < 1e-6,
        "{name}: df differ from lmerTest by {d_df_lmertest:e}"
    );
    assert!((fit.loglik - f(&c["loglik"])).abs() < 1e-8 * fit.loglik.abs());
    assert_eq!(fit.df, c["loglik_df"].as_u64().unwrap() as usize);
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn reml_cluster_intercept() {
    lmm_case("lmm_reml_cluster_a");
}

#[test]
fn ml_cluster_intercept() {
    lmm_case("lmm_ml_cluster_a");
}

#[test]
fn reml_nested_cluster_period() {
    lmm_case("lmm_reml_nested_a");
}

#[test]
fn ml_nested_cluster_period() {
    lmm_case("lmm_ml_nested_a");
}

#[test]
fn singular_reml_fit_has_residual_df() {
    lmm_case("lmm_reml_cluster_b");
}

#[test]
fn gamma_glm_with_log_link_matches_r() {
    let r = reference();
    let c = &r["cases"]["glm_gamma_log_a"];
    let cohort = data(c["data"].as_str().unwrap());
    let fit = Glm::new(c["formula"].as_str().unwrap())
        .unwrap()
        .family(Family::Gamma)
        .control(IrlsControl {
            epsilon: 1e-14,
            ..IrlsControl::default()
        })
        .fit(&cohort)
        .unwrap();
    let beta = numbers(&c["coefficients"]);
    let se = numbers(&c["se"]);
    for (k, row) in fit.coefficients.iter().enumerate() {
        assert!((row.estimate - beta[k]).abs() < 1e-8 * beta[k].abs().max(1.0));
        assert!(rel(row.std_error, se[k]) < 1e-8);
        assert_eq!(
            row.df,
            Some(f64::from(c["df_residual"].as_u64().unwrap() as u32))
        );
    }
    assert!(rel(fit.dispersion, f(&c["dispersion"])) < 1e-8);
    assert!(rel(fit.deviance, f(&c["deviance"])) < 1e-10);
    assert!(rel(fit.null_deviance, f(&c["null_deviance"])) < 1e-10);
    assert!(rel(fit.loglik, f(&c["loglik"])) < 1e-10);
    assert!(rel(fit.aic, f(&c["AIC"])) < 1e-10);
    assert_eq!(fit.loglik_df, c["loglik_df"].as_u64().unwrap() as usize);
}

#[test]
fn gamma_mixed_model_matches_glmmtmb() {
    let r = reference();
    let c = &r["cases"]["glmm_gamma_log_a"];
    let cohort = data(c["data"].as_str().unwrap());
    let fit = stepwedge::models::glmm::Glmm::new(c["formula"].as_str().unwrap())
        .unwrap()
        .family(Family::Gamma)
        .fit(&cohort)
        .unwrap();
    let beta = numbers(&c["fixef"]);
    let se = numbers(&c["se"]);
    let mut worst_beta: f64 = 0.0;
    let mut worst_se: f64 = 0.0;
    for (k, row) in fit.coefficients.iter().enumerate() {
        worst_beta = worst_beta.max((row.estimate - beta[k]).abs());
        worst_se = worst_se.max(rel(row.std_error, se[k]));
    }
    let d_sd = (fit.random_effects[0].sd - f(&c["cluster_sd"])).abs();
    let shape = 1.0 / fit.dispersion.unwrap();
    let d_shape = rel(shape, f(&c["shape"]));
    let d_loglik = rel(fit.loglik, f(&c["loglik"]));
    println!(
        "gamma GLMM: beta {worst_beta:.1e}, SE {worst_se:.1e}, cluster SD {d_sd:.1e}, shape \
         {d_shape:.1e}, loglik {d_loglik:.1e} (ours {} glmmTMB {})",
        fit.loglik, c["loglik"]
    );
    assert!(worst_beta < 1e-6 && d_sd < 1e-6 && d_shape < 1e-6);
    assert!(worst_se < 1e-5, "SEs differ by {worst_se:e}");
    assert!(d_loglik < 1e-10 || fit.loglik > f(&c["loglik"]));
    assert_eq!(fit.df, c["loglik_df"].as_u64().unwrap() as usize);
    assert!(rel(fit.aic, f(&c["AIC"])) < 1e-10);
}
