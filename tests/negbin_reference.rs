//! The negative binomial NB2 models against R (`tests/reference/negbin/negbin_reference.R`,
//! `negbin_reference.json`): the GLM against `MASS::glm.nb` (quine, grouseticks) and the mixed
//! model with a random intercept against `glmmTMB(family = nbinom2)` (grouseticks, a simulated
//! stepped wedge of contacts per patient); typed errors for non-counts and the Poisson limit.

use serde_json::Value;
use stepwedge::core::error::Error;
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::models::glm::{Family, Glm};
use stepwedge::models::glmm::Glmm;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/negbin");

fn reference() -> Value {
    let path = format!("{DIR}/negbin_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn data(file: &str) -> Cohort {
    Cohort::from_csv_path(format!("{DIR}/data/{file}"), &LoadOptions::default()).unwrap()
}

fn nbinom2() -> Family {
    "nbinom2".parse().unwrap()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(f).collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// The largest differences of one case: coefficients (absolute), SEs (relative), theta and its
/// SE and the SE of log theta (relative), the log-likelihood (relative).
#[derive(Debug)]
struct Differences {
    beta: f64,
    se: f64,
    theta: f64,
    se_theta: f64,
    se_log_theta: f64,
    loglik: f64,
}

impl Differences {
    /// The differences from case `c`, whose SE of theta is `se_theta` (its SE of log theta
    /// `se_theta / theta`).
    fn of(
        c: &Value,
        se_theta: &str,
        terms: Vec<&str>,
        beta_se: Vec<(f64, f64)>,
        theta: stepwedge::models::negative_binomial::ThetaEstimate,
        loglik: f64,
    ) -> Differences {
        let want: Vec<&str> = c["terms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(terms, want);
        let (beta, se) = (numbers(&c["estimate"]), numbers(&c["se"]));
        let mut d = Differences {
            beta: 0.0,
            se: 0.0,
            theta: rel(theta.theta, f(&c["theta"])),
            se_theta: rel(theta.se, f(&c[se_theta])),
            se_log_theta: rel(theta.se_log_theta, f(&c[se_theta]) / f(&c["theta"])),
            loglik: rel(loglik, f(&c["loglik"])),
        };
        for (k, (b, s)) in beta_se.iter().enumerate() {
            d.beta = d.beta.max((b - beta[k]).abs());
            d.se = d.se.max(rel(*s, se[k]));
        }
        d
    }

    fn check(&self, case: &str) {
        println!("{case}: {self:?}");
        assert!(self.beta < 1e-5, "{case}: {self:?}");
        assert!(self.se < 1e-4, "{case}: {self:?}");
        assert!(self.theta < 1e-5, "{case}: {self:?}");
        assert!(
            self.se_theta < 1e-4 && self.se_log_theta < 1e-4,
            "{case}: {self:?}"
        );
        assert!(self.loglik < 1e-6, "{case}: {self:?}");
    }
}

fn glm_case(case: &str, file: &str) {
    let r = reference();
    let c = &r[case];
    let fit = Glm::new(c["formula"].as_str().unwrap())
        .unwrap()
        .family(nbinom2())
        .fit(&data(file))
        .unwrap();
    assert_eq!(fit.family, nbinom2());
    let theta = fit.nb_theta.unwrap();
    assert_eq!(fit.family.nb_theta(), Some(theta.theta));
    // MASS's SE.theta is the information before theta.ml's last Newton step (which stops at
    // steps below 1.2e-4): compared with the information at the estimate, and with MASS's
    // SE.theta within that step.
    let d = Differences::of(
        c,
        "se_theta_at_estimate",
        fit.coefficients.iter().map(|r| r.term.as_str()).collect(),
        fit.coefficients
            .iter()
            .map(|r| (r.estimate, r.std_error))
            .collect(),
        theta,
        fit.loglik,
    );
    d.check(case);
    let d_mass = rel(theta.se, f(&c["se_theta"]));
    println!("{case}: SE.theta of MASS {d_mass:.1e}");
    assert!(d_mass < 1e-3, "{case}: SE.theta {d_mass:e}");
    assert_eq!(fit.loglik_df, fit.coefficients.len() + 1);
    assert!(rel(fit.aic, f(&c["aic"])) < 1e-6);
    assert!(rel(fit.deviance, f(&c["deviance"])) < 1e-5);
    assert_eq!(fit.n_obs, c["n"].as_u64().unwrap() as usize);
    let printed = fit.to_string();
    assert!(printed.contains("Theta (NB2"), "{printed}");
}

#[test]
fn glm_matches_glm_nb_on_quine() {
    glm_case("glm_quine", "quine.csv");
}

#[test]
fn glm_matches_glm_nb_on_grouseticks() {
    glm_case("glm_grouse", "grouseticks.csv");
}

fn glmm_case(case: &str, file: &str) {
    let r = reference();
    let c = &r[case];
    let fit = Glmm::new(c["formula"].as_str().unwrap())
        .unwrap()
        .family(nbinom2())
        .fit(&data(file))
        .unwrap();
    let theta = fit.nb_theta.unwrap();
    assert_eq!(fit.family.nb_theta(), Some(theta.theta));
    let d = Differences::of(
        c,
        "se_theta",
        fit.coefficients.iter().map(|r| r.term.as_str()).collect(),
        fit.coefficients
            .iter()
            .map(|r| (r.estimate, r.std_error))
            .collect(),
        theta,
        fit.loglik,
    );
    let d_sd = rel(fit.random_effects[0].sd, f(&c["sd_random"]));
    println!("{case}: random-intercept SD {d_sd:.1e}");
    d.check(case);
    assert!(d_sd < 1e-5, "{case}: SD {d_sd:e}");
    assert!(fit.converged);
    // Coefficients, the variance and theta.
    assert_eq!(fit.df, fit.coefficients.len() + 2);
}

#[test]
fn mixed_model_matches_glmmtmb_on_grouseticks() {
    glmm_case("glmm_grouse", "grouseticks.csv");
}

#[test]
fn mixed_model_matches_glmmtmb_on_a_stepped_wedge() {
    glmm_case("glmm_sw", "sw_contacts.csv");
}

#[test]
fn a_count_that_is_not_a_whole_number_is_a_typed_error() {
    let cohort =
        Cohort::from_csv_str("y,x\n0,1\n2.5,2\n3,3\n1,4\n", &LoadOptions::default()).unwrap();
    let err = Glm::new("y ~ x")
        .unwrap()
        .family(nbinom2())
        .fit(&cohort)
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidResponse { column, row: 2, .. } if column == "y"),
        "{err}"
    );
    let negative =
        Cohort::from_csv_str("y,x\n0,1\n-1,2\n3,3\n1,4\n", &LoadOptions::default()).unwrap();
    let err = Glm::new("y ~ x")
        .unwrap()
        .family(nbinom2())
        .fit(&negative)
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidResponse { row: 2, .. }),
        "{err}"
    );
}

#[test]
fn counts_without_overdispersion_reach_the_poisson_limit() {
    // Counts less variable than Poisson counts: theta runs off to infinity.
    let mut text = String::from("y,x,g\n");
    for i in 0..60 {
        text.push_str(&format!(
            "{},{},g{}\n",
            2 + (i % 3) / 2 + (i % 5) / 3,
            i % 2,
            i % 6
        ));
    }
    let cohort = Cohort::from_csv_str(&text, &LoadOptions::default()).unwrap();
    let err = Glm::new("y ~ x")
        .unwrap()
        .family(nbinom2())
        .fit(&cohort)
        .unwrap_err();
    assert!(matches!(&err, Error::Boundary { .. }), "{err}");
    assert!(err.to_string().contains("Poisson family"), "{err}");
    let err = Glmm::new("y ~ x + (1 | g)")
        .unwrap()
        .family(nbinom2())
        .fit(&cohort)
        .unwrap_err();
    assert!(matches!(&err, Error::Boundary { .. }), "{err}");
}

#[test]
fn nb2_fits_are_standardised_and_bootstrapped_like_other_fits() {
    use stepwedge::effects::standardise::Standardisation;
    let cohort = data("sw_contacts.csv");
    let fit = Glm::new("contacts ~ treated + age")
        .unwrap()
        .family(nbinom2())
        .cluster("cluster")
        .fit(&cohort)
        .unwrap();
    let marginal = Standardisation::new("treated")
        .bootstrap(20, 7)
        .apply(&fit, &cohort)
        .unwrap();
    // The standardised mean count if treated: exp(b0 + b1 + b2 age) averaged over patients.
    let text = std::fs::read_to_string(format!("{DIR}/data/sw_contacts.csv")).unwrap();
    let ages: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(3).unwrap().parse().unwrap())
        .collect();
    let b = fit.coef();
    let treated = ages
        .iter()
        .map(|a| (b[0] + b[1] + b[2] * a).exp())
        .sum::<f64>()
        / ages.len() as f64;
    assert!((marginal.risk_treated.estimate / treated - 1.0).abs() < 1e-12);
    let boot = marginal.bootstrap.as_ref().unwrap();
    assert_eq!((boot.replicates, boot.failed), (20, 0));
    assert!(marginal.relative_risk.percentile.is_some());
    // The mixed model: standardised over the random effects and bootstrapped with theta held.
    let fit = Glmm::new("contacts ~ treated + age + (1 | cluster)")
        .unwrap()
        .family(nbinom2())
        .fit(&cohort)
        .unwrap();
    let marginal = Standardisation::new("treated")
        .bootstrap(10, 7)
        .apply(&fit, &cohort)
        .unwrap();
    let boot = marginal.bootstrap.as_ref().unwrap();
    assert_eq!((boot.replicates, boot.failed), (10, 0));
    let rr = marginal.relative_risk.estimate;
    assert!(rr.is_finite() && rr > 0.0, "{rr}");
}
