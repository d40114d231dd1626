//! The GEE against geepack 1.3.9's `geeglm` (tests/reference/geepack: the R script, the data
//! and the JSON it wrote), for binary (logit, log, identity links), count and Gaussian outcomes
//! with the independence and exchangeable working correlations.
//!
//! geepack estimates the exchangeable correlation and the scale by other moment equations than
//! geeCRT's (which this crate follows: see `src/models/gee`), so the exchangeable fits are
//! compared at geepack's correlation, held fixed (`Gee::fixed_correlation`): then beta and the
//! sandwich (geepack's `san.se`) must agree. The model-based standard errors carry each
//! package's scale, so they are compared divided by the square root of it.

use serde_json::Value;
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::models::family::Family;
use stepwedge::models::gee::{Gee, SeKind, WorkingCorrelation};
use stepwedge::models::glm::Link;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/geepack/");

fn close(what: &str, ours: f64, theirs: f64, relative: f64) -> f64 {
    let diff = (ours - theirs).abs() / theirs.abs().max(1.0);
    assert!(
        diff <= relative,
        "{what}: ours {ours}, geepack {theirs} (difference {diff:.2e})"
    );
    diff
}

/// Fits the case `name` and returns the largest differences (beta, robust SE, model SE).
fn check(name: &str) -> [f64; 3] {
    let json = std::fs::read_to_string(format!("{DIR}{name}.json")).unwrap();
    let r: Value = serde_json::from_str(&json).unwrap();
    let path = format!("{DIR}{}", r["data_path"].as_str().unwrap());
    let cohort = Cohort::from_csv_path(path, &LoadOptions::default()).unwrap();
    let family: Family = r["family"].as_str().unwrap().parse().unwrap();
    let link: Link = r["link"].as_str().unwrap().parse().unwrap();
    let mut spec = Gee::new(r["formula"].as_str().unwrap(), "cluster")
        .unwrap()
        .family(family)
        .link(link)
        .control(stepwedge::models::gee::GeeControl {
            max_iter: 200,
            tolerance: 1e-12,
        });
    spec = match r["alpha"].as_f64() {
        Some(alpha) => spec
            .correlation(WorkingCorrelation::Exchangeable)
            .fixed_correlation(&[alpha]),
        None => spec.correlation(WorkingCorrelation::Independence),
    };
    let fit = spec.fit(&cohort).unwrap();
    assert!(fit.converged, "{name}");
    assert_eq!(fit.n_obs as f64, r["n_obs"].as_f64().unwrap());
    let robust = fit.std_errors(SeKind::Robust);
    let model = fit.std_errors(SeKind::Model);
    let their_scale = r["scale"].as_f64().unwrap();
    let mut worst = [0.0f64; 3];
    for (j, row) in fit.coefficients.iter().enumerate() {
        let term = &row.term;
        let beta = r["beta"][term].as_f64().unwrap();
        worst[0] = worst[0].max(close(
            &format!("{name} beta {term}"),
            row.estimate,
            beta,
            1e-6,
        ));
        let se = r["se_robust"][term].as_f64().unwrap();
        let what = format!("{name} robust se {term}");
        worst[1] = worst[1].max(close(&what, robust[j] / se, 1.0, 1e-5));
        let se = r["se_model"][term].as_f64().unwrap() / their_scale.sqrt();
        let what = format!("{name} model se / sqrt(scale) {term}");
        let ours = model[j] / fit.scale.sqrt();
        worst[2] = worst[2].max(close(&what, ours / se, 1.0, 1e-5));
    }
    eprintln!(
        "{name}: largest differences from geepack: beta {:.1e}, robust se {:.1e}, model se {:.1e} \
         (relative)",
        worst[0], worst[1], worst[2]
    );
    worst
}

#[test]
fn binary_outcomes_agree_with_geepack() {
    for name in [
        "gp_binomial_logit_independence",
        "gp_binomial_logit_exchangeable",
        "gp_binomial_log_exchangeable",
        "gp_binomial_identity_exchangeable",
    ] {
        check(name);
    }
}

#[test]
fn counts_agree_with_geepack() {
    check("gp_poisson_log_independence");
    check("gp_poisson_log_exchangeable");
}

#[test]
fn gaussian_outcomes_agree_with_geepack() {
    check("gp_gaussian_identity_independence");
    check("gp_gaussian_identity_exchangeable");
}

#[test]
fn a_fixed_correlation_is_checked_and_has_no_standard_errors() {
    let json =
        std::fs::read_to_string(format!("{DIR}gp_binomial_logit_exchangeable.json")).unwrap();
    let r: Value = serde_json::from_str(&json).unwrap();
    let path = format!("{DIR}{}", r["data_path"].as_str().unwrap());
    let cohort = Cohort::from_csv_path(path, &LoadOptions::default()).unwrap();
    let spec = Gee::new("y ~ treated + factor(period)", "cluster").unwrap();
    let fit = spec
        .clone()
        .fixed_correlation(&[0.05])
        .fit(&cohort)
        .unwrap();
    assert!(fit.correlation_fixed);
    assert_eq!(fit.correlation_parameters[0].estimate, 0.05);
    assert_eq!(fit.correlation_parameters[0].std_error, None);
    assert!(fit.alpha_std_errors(SeKind::Kc).is_none());
    for (values, expected) in [
        (vec![0.05, 0.02], "has 1 parameters"),
        (vec![1.2], "outside (-1, 1)"),
    ] {
        let err = spec
            .clone()
            .fixed_correlation(&values)
            .fit(&cohort)
            .unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
}

#[test]
fn the_gaussian_scale_is_the_bias_adjusted_moment_estimate() {
    // Independence: beta is least squares, and geeCRT's scale is
    // sum_i r_i' (I - H_i)^{-1} r_i / (N - p), H_i = X_i (X'X)^{-1} X_i' (computed here densely).
    use nalgebra::{DMatrix, DVector};
    let text = std::fs::read_to_string(format!("{DIR}gee_continuous.csv")).unwrap();
    let rows: Vec<Vec<f64>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    let x_row = |r: &Vec<f64>| {
        let period = r[1] as usize;
        let mut x = vec![1.0, r[2]];
        x.extend((2..=5).map(|t| f64::from(u8::from(period == t))));
        x
    };
    let n = rows.len();
    let x = DMatrix::from_row_iterator(n, 6, rows.iter().flat_map(x_row));
    let y = DVector::from_iterator(n, rows.iter().map(|r| r[4]));
    let xtx_inv = (x.transpose() * &x).try_inverse().unwrap();
    let beta = &xtx_inv * x.transpose() * &y;
    let residual = &y - &x * &beta;
    let mut total = 0.0;
    for cluster in 1..=12 {
        let idx: Vec<usize> = (0..n).filter(|&i| rows[i][0] == cluster as f64).collect();
        let xc = x.select_rows(&idx);
        let rc = residual.select_rows(&idx);
        let h = &xc * &xtx_inv * xc.transpose();
        let adjusted = (DMatrix::identity(idx.len(), idx.len()) - h)
            .try_inverse()
            .unwrap();
        total += (rc.transpose() * adjusted * &rc)[(0, 0)];
    }
    let expected = total / (n - 6) as f64;
    let cohort =
        Cohort::from_csv_path(format!("{DIR}gee_continuous.csv"), &LoadOptions::default()).unwrap();
    let fit = Gee::new("y ~ treated + factor(period)", "cluster")
        .unwrap()
        .family(Family::Gaussian)
        .correlation(WorkingCorrelation::Independence)
        .fit(&cohort)
        .unwrap();
    assert!(
        (fit.scale - expected).abs() <= 1e-10 * expected,
        "{} {expected}",
        fit.scale
    );
    // The model-based variance carries it: (X'X)^{-1} phi.
    let se = fit.std_errors(SeKind::Model)[1];
    assert!((se - (xtx_inv[(1, 1)] * expected).sqrt()).abs() <= 1e-10 * se);
}
