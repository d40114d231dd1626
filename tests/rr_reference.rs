//! Relative-risk models against R (`tests/reference/rr_models.R`, `rr_models.json`): the
//! Poisson, log-binomial and logistic mixed models against lme4's `glmer`, with model-based
//! errors from the Hessian of the Laplace log-likelihood and the cluster sandwich
//! `H^{-1} (sum_g s_g s_g') H^{-1}`; the modified Poisson model against `geepack::geeglm`
//! (`san.se`) and clubSandwich's CR2 and CR3 with t intervals on G - 1 degrees of freedom; and a
//! log-binomial GLM whose maximum is on the boundary.

use serde_json::Value;
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::models::glm::{Family, Glm, Link};
use stepwedge::models::glmm::Glmm;
use stepwedge::models::vcov::VcovKind;

fn reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/rr_models.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn data(file: &str) -> Cohort {
    let path = format!("{}/tests/reference/{file}", env!("CARGO_MANIFEST_DIR"));
    Cohort::from_csv_path(path, &LoadOptions::default()).unwrap()
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn diagonal_sqrt(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, row)| row[i].as_f64().unwrap().sqrt())
        .collect()
}

fn case<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

/// Largest |a - b| / max(|b|, floor).
fn worst(a: &[f64], b: &[f64], floor: f64) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(floor))
        .fold(0.0, f64::max)
}

fn glmm_case(name: &str, family: Family, link: Link) {
    let r = reference();
    let c = case(&r, name);
    let cohort = data(c["data"].as_str().unwrap());
    let formula = c["formula"].as_str().unwrap();
    let spec = Glmm::new(formula).unwrap().family(family).link(link);
    let fit = spec.fit(&cohort).unwrap();
    let terms: Vec<&str> = c["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let ours: Vec<&str> = fit.coefficients.iter().map(|r| r.term.as_str()).collect();
    assert_eq!(ours, terms);
    let beta: Vec<f64> = fit.coefficients.iter().map(|r| r.estimate).collect();
    let se: Vec<f64> = fit.coefficients.iter().map(|r| r.std_error).collect();
    let d_beta = worst(&beta, &numbers(&c["fixef"]), 1.0);
    let d_theta = (fit.theta[0] - c["theta"].as_f64().unwrap()).abs();
    let d_loglik = (fit.loglik - c["loglik"].as_f64().unwrap()).abs() / fit.loglik.abs();
    let p = terms.len();
    // The matrices from R's exact per-cluster gradients (`*_cluster_sum`) are the more
    // accurate ones (the deviance function's Hessian is differenced; see the JSON's notes).
    let se_full = &diagonal_sqrt(&c["vcov_full_cluster_sum"])[..p];
    let d_se = worst(&se, se_full, 0.0);
    let robust = spec.vcov(VcovKind::Sandwich).fit(&cohort).unwrap();
    let se_robust: Vec<f64> = robust.coefficients.iter().map(|r| r.std_error).collect();
    let d_robust = worst(
        &se_robust,
        &diagonal_sqrt(&c["sandwich_full_cluster_sum"])[..p],
        0.0,
    );
    println!(
        "{name}: beta {d_beta:.2e}, theta {d_theta:.2e}, loglik {d_loglik:.2e} (ours {} R {}), \
         SE {d_se:.2e}, sandwich SE {d_robust:.2e}",
        fit.loglik, c["loglik"]
    );
    assert!(d_beta < 1e-6, "{name}: coefficients differ by {d_beta:e}");
    assert!(d_theta < 1e-5, "{name}: theta differs by {d_theta:e}");
    assert!(
        d_loglik < 1e-6 || fit.loglik > c["loglik"].as_f64().unwrap(),
        "{name}: loglik"
    );
    assert!(
        d_se < 1e-4,
        "{name}: model-based SEs differ by {d_se:e} relative"
    );
    assert!(
        d_robust < 1e-4,
        "{name}: sandwich SEs differ by {d_robust:e} relative"
    );
    assert_eq!(robust.vcov_kind, VcovKind::Sandwich);
    // The sandwich's point estimates are the model's.
    assert_eq!(
        robust.coefficients[1].estimate,
        fit.coefficients[1].estimate
    );
}

#[test]
fn poisson_mixed_model_matches_glmer_with_sandwich_errors() {
    glmm_case("poisson_glmm", Family::Poisson, Link::Log);
}

#[test]
fn log_binomial_mixed_model_matches_glmer_with_sandwich_errors() {
    glmm_case("logbinomial_glmm", Family::Binomial, Link::Log);
}

#[test]
fn logistic_mixed_model_sandwich_matches_the_cluster_scores() {
    glmm_case("logistic_glmm", Family::Binomial, Link::Logit);
}

#[test]
fn modified_poisson_matches_geeglm_and_clubsandwich() {
    let r = reference();
    let c = case(&r, "modified_poisson_gee");
    let cohort = data(c["data"].as_str().unwrap());
    let formula = c["formula"].as_str().unwrap();
    let model = Glm::modified_poisson(formula, "cluster").unwrap();
    let fit = model.clone().vcov(VcovKind::Sandwich).fit(&cohort).unwrap();
    let beta = fit.coef();
    let d_beta = worst(&beta, &numbers(&c["geeglm"]["coefficients"]), 1.0);
    let se: Vec<f64> = fit.coefficients.iter().map(|r| r.std_error).collect();
    let d_san = worst(&se, &numbers(&c["geeglm"]["se"]), 0.0);
    println!("geeglm: coefficients {d_beta:.2e}, san.se {d_san:.2e}");
    assert!(d_beta < 1e-8 && d_san < 1e-6);
    let g = c["treated_wald_t"]["df"].as_f64().unwrap();
    for (kind, key) in [
        (VcovKind::Sandwich, "san_se"),
        (VcovKind::CR2, "CR2"),
        (VcovKind::CR3, "CR3"),
    ] {
        let rows = fit.tidy_with(kind, 0.95).unwrap();
        let treated = rows.iter().find(|r| r.term == "treated").unwrap();
        let want = &c["treated_wald_t"][key];
        assert_eq!(treated.df, Some(g));
        let pairs = [
            (treated.std_error, want["se"].as_f64().unwrap()),
            (treated.exp_ci_low.unwrap(), want["lower"].as_f64().unwrap()),
            (
                treated.exp_ci_high.unwrap(),
                want["upper"].as_f64().unwrap(),
            ),
        ];
        for (ours, theirs) in pairs {
            let d = (ours - theirs).abs() / theirs;
            println!("{key}: {ours} vs {theirs} ({d:.1e})");
            assert!(d < 1e-6, "{key}: {ours} vs {theirs}");
        }
    }
    for (kind, key) in [(VcovKind::CR2, "CR2"), (VcovKind::CR3, "CR3")] {
        let v = fit.vcov_matrix(kind).unwrap();
        let ours: Vec<f64> = (0..beta.len()).map(|j| v[(j, j)].sqrt()).collect();
        let d = worst(&ours, &diagonal_sqrt(&c["glm"][key]), 0.0);
        assert!(d < 1e-6, "{key} SEs differ by {d:e}");
    }
}

#[test]
fn log_binomial_glm_on_the_boundary_is_reported_plainly() {
    // R's glm stops at the boundary with warnings ("step size truncated: out of bounds",
    // "algorithm stopped at boundary value") and a fitted risk of 1 - 4e-9 (recorded in the
    // JSON); its information matrix there is singular, so no standard error exists.
    let r = reference();
    let c = case(&r, "logbinomial_glm_boundary");
    assert_eq!(c["with_start"]["boundary"], true);
    assert!(c["with_start"]["one_minus_max_fitted"].as_f64().unwrap() < 1e-6);
    let cohort = data(c["data"].as_str().unwrap());
    let err = Glm::new("y ~ x")
        .unwrap()
        .link(Link::Log)
        .fit(&cohort)
        .unwrap_err();
    println!("{err}");
    assert!(
        matches!(err, stepwedge::core::error::Error::Boundary { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("modified Poisson"));
    // The modified Poisson model estimates the relative risk on the same data.
    let fit = Glm::new("y ~ x")
        .unwrap()
        .family(Family::Poisson)
        .link(Link::Log)
        .fit(&cohort)
        .unwrap();
    assert!(fit.boundary.is_none());
}
