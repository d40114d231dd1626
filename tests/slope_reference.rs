//! The 100,100-patient stepped wedge of the benchmarks `glmm_slope/e_100000_random_treatment`
//! and `lmm/d_costs_100000` (simulated here as there: 20 clusters x 11 periods x 455, seed 19)
//! against R's fits of the same patients in `tests/reference/slope_timings.json`
//! (`slope_timing.R`, from the CSV that `simulate_cohort --clusters 20 --periods 11 --size 455
//! --fixed --seed 19` writes): the maximised log-likelihood at least R's (less 1e-6 relative)
//! and the treatment effect within 1e-4 of R's (relative for the costs).
//!
//! The random treatment effect has no variance in the simulator: glmer and glmmTMB both end on
//! the boundary (correlation -1), so the logistic model is compared with the better of the two.

use serde_json::Value;
use stepwedge::data::Cohort;
use stepwedge::models::glmm::Glmm;
use stepwedge::models::lmm::Lmm;
use stepwedge::sim::{ClusterSize, SimConfig};

fn reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/slope_timings.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("reference JSON")).expect("JSON")
}

fn cohort() -> Cohort {
    let mut config = SimConfig::stepped_wedge(20, 11);
    config.cluster_size = ClusterSize::Fixed(455);
    config.simulate(19).expect("valid configuration")
}

fn number(v: &Value) -> f64 {
    v.as_f64().expect("a number")
}

#[test]
fn random_treatment_effect_and_costs_agree_with_r() {
    let reference = reference();
    let cohort = cohort();
    assert_eq!(cohort.n_rows(), number(&reference["rows"]) as usize);

    let glmm = &reference["e_100000_random_treatment"];
    let fit = Glmm::new(glmm["formula"].as_str().unwrap())
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let (glmer, tmb) = (&glmm["glmer"], &glmm["glmmTMB"]);
    let best = if number(&glmer["loglik"]) >= number(&tmb["loglik"]) {
        glmer
    } else {
        tmb
    };
    let r_loglik = number(&best["loglik"]);
    assert!(
        fit.loglik >= r_loglik - 1e-6 * r_loglik.abs(),
        "loglik {} vs R's {r_loglik}",
        fit.loglik
    );
    let treated = fit.term("treated").unwrap().estimate;
    let r_treated = number(&best["treated"]);
    assert!(
        (treated - r_treated).abs() <= 1e-4,
        "treated {treated} vs R's {r_treated}"
    );

    let lmm = &reference["d_costs_100000"];
    let fit = Lmm::new(lmm["formula"].as_str().unwrap())
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let lmer = &lmm["lmer"];
    let r_loglik = number(&lmer["loglik"]);
    assert!(
        fit.loglik >= r_loglik - 1e-6 * r_loglik.abs(),
        "REML loglik {} vs lmer's {r_loglik}",
        fit.loglik
    );
    let treated = fit.term("treated").unwrap().estimate;
    let r_treated = number(&lmer["treated"]);
    assert!(
        (treated - r_treated).abs() <= 1e-4 * r_treated.abs(),
        "treated {treated} vs lmer's {r_treated}"
    );
}
