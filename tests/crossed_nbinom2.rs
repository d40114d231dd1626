//! The negative binomial NB2 with crossed random intercepts against glmmTMB
//! (`tests/reference/crossed/crossed_nbinom2.R`): grouseticks,
//! `TICKS ~ factor(YEAR) + HEIGHT_s + (1 | BROOD) + (1 | LOCATION)`, family nbinom2.
//! Coefficients and SDs within 1e-5, SEs 1e-4 relative, theta 1e-5 relative, log-likelihood
//! 1e-6 relative.

use serde_json::Value;
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::models::glm::Family;
use stepwedge::models::glmm::Glmm;

#[test]
fn grouseticks_nbinom2_with_crossed_intercepts_matches_glmmtmb() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/crossed");
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("crossed_nbinom2.json")).unwrap())
            .unwrap();
    let cohort =
        Cohort::from_csv_path(dir.join("grouseticks.csv"), &LoadOptions::default()).unwrap();
    let nbinom2: Family = "nbinom2".parse().unwrap();
    let fit = Glmm::new(r["formula"].as_str().unwrap())
        .unwrap()
        .family(nbinom2)
        .fit(&cohort)
        .unwrap();
    assert!(fit.converged);
    let numbers = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let (estimate, se) = (numbers(&r["estimate"]), numbers(&r["std_error"]));
    assert_eq!(fit.coefficients.len(), estimate.len());
    for (k, c) in fit.coefficients.iter().enumerate() {
        assert_eq!(c.term, r["terms"][k].as_str().unwrap());
        assert!(
            (c.estimate - estimate[k]).abs() < 1e-5,
            "{}: {} vs {}",
            c.term,
            c.estimate,
            estimate[k]
        );
        let rel = (c.std_error - se[k]).abs() / se[k];
        assert!(rel < 1e-4, "{}: SE {} vs {}", c.term, c.std_error, se[k]);
    }
    for group in ["BROOD", "LOCATION"] {
        let ours = fit
            .random_effects
            .iter()
            .find(|s| s.group == group)
            .unwrap();
        let want = r["sd"][group].as_f64().unwrap();
        assert!(
            (ours.sd - want).abs() < 1e-5,
            "{group}: {} vs {want}",
            ours.sd
        );
    }
    let theta = fit.nb_theta.unwrap().theta;
    let want = r["theta"].as_f64().unwrap();
    assert!(
        (theta - want).abs() < 1e-5 * want,
        "theta {theta} vs {want}"
    );
    let ll = r["loglik"].as_f64().unwrap();
    assert!(
        (fit.loglik - ll).abs() < 1e-6 * ll.abs(),
        "loglik {} vs {ll}",
        fit.loglik
    );
}
