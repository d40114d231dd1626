//! The shared surface of fitted models (`models::Fitted`): every model kind answers the same
//! questions, analyses act on an existing fit without refitting it, a refit on the fit's own
//! clusters returns its estimate, and predictions for counterfactual rows agree with the
//! standardisation built on them.

#[allow(dead_code)]
mod common;

use stepwedge::core::error::Result;
use stepwedge::data::Cohort;
use stepwedge::effects::standardise::{RandomEffects, Standardisation, Target};
use stepwedge::models::gee::{Gee, WorkingCorrelation};
use stepwedge::models::glm::{Glm, Link};
use stepwedge::models::glmm::Glmm;
use stepwedge::models::lmm::Lmm;
use stepwedge::models::{Assignment, Fitted, Specification};

fn sample() -> Cohort {
    common::stepped_wedge_sample()
}

/// What any fit reports through the surface, checked against the fit's own fields.
fn surface<F: Fitted>(fit: &F, n_obs: usize, loglik: f64, clusters: usize) {
    assert_eq!(fit.n_obs(), n_obs);
    assert_eq!(fit.loglik(), loglik);
    assert_eq!(fit.n_clusters(), clusters);
    assert_eq!(fit.frame().rows().len(), n_obs);
    let names: Vec<&str> = fit.coefficients().iter().map(|r| r.term.as_str()).collect();
    assert_eq!(fit.frame().names(), names.as_slice());
    let treated = fit.term("treated").unwrap();
    let parameters = fit.parameters().unwrap();
    let j = names.iter().position(|n| *n == "treated").unwrap();
    assert_eq!(parameters.psi[j], treated.estimate);
    assert!((parameters.vcov[(j, j)].sqrt() - treated.std_error).abs() < 1e-12);
    let err = fit.term("treatd").unwrap_err().to_string();
    assert!(err.contains("treatd") && err.contains("treated"), "{err}");
}

/// The fit's estimate again from a refit on every cluster once.
fn refit_is_identity<F: Fitted>(fit: &F, tolerance: f64) {
    let all: Vec<usize> = (0..fit.n_clusters()).collect();
    let mut workspace = fit.workspace();
    let again = fit.refit(&all, &mut workspace).unwrap();
    let psi = fit.parameters().unwrap().psi;
    let p = fit.coefficients().len();
    for (a, b) in again[..p].iter().zip(&psi[..p]) {
        assert!((a - b).abs() < tolerance, "refit {a} vs fit {b}");
    }
}

/// The fit's estimate and standard errors again from a refit under the observed assignment,
/// each row a unit of its own (a mixed model's covariate patterns then split row by row).
fn assigned_refit_is_identity<F: Fitted>(fit: &F, cohort: &Cohort, tolerance: f64) {
    let column = fit
        .frame()
        .names()
        .iter()
        .position(|n| n == "treated")
        .unwrap();
    let rows = fit.frame().rows();
    let units: Vec<u32> = (0..rows.len() as u32).collect();
    let treated = match cohort.column("treated").unwrap() {
        stepwedge::data::Column::Numeric(v) => v,
        _ => unreachable!(),
    };
    let values: Vec<f64> = rows.iter().map(|&i| treated[i]).collect();
    let on = fit.assignable(cohort, column, &units).unwrap();
    let assignment = Assignment {
        values: &values,
        shift: 0.0,
        std_errors: true,
    };
    let refit = fit
        .refit_assigned(&on, &assignment, &mut fit.workspace())
        .unwrap();
    let p = fit.coefficients().len();
    let se = refit.std_errors.unwrap();
    for (j, row) in fit.coefficients().iter().enumerate() {
        assert!(
            (refit.psi[j] - row.estimate).abs() < tolerance,
            "{}",
            row.term
        );
        assert!(
            (se[j] - row.std_error).abs() < 1e3 * tolerance * row.std_error,
            "SE of {}: {} vs {}",
            row.term,
            se[j],
            row.std_error
        );
    }
    assert_eq!(refit.psi.len(), fit.parameters().unwrap().psi.len());
    assert!(p > column);
}

#[test]
fn every_model_kind_answers_through_the_same_surface() {
    let cohort = sample();
    let glm = Glm::new("death30 ~ treated + factor(period) + age")
        .unwrap()
        .cluster("cluster")
        .fit(&cohort)
        .unwrap();
    surface(&glm, glm.n_obs, glm.loglik, 12);
    refit_is_identity(&glm, 1e-8);
    assigned_refit_is_identity(&glm, &cohort, 1e-8);
    let glmm = Glmm::new("death30 ~ treated + factor(period) + age + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    surface(&glmm, glmm.n_obs, glmm.loglik, 12);
    refit_is_identity(&glmm, 1e-5);
    assigned_refit_is_identity(&glmm, &cohort, 1e-5);
    let lmm = Lmm::new("cost ~ treated + factor(period) + age + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    surface(&lmm, lmm.n_obs, lmm.loglik, 12);
    refit_is_identity(&lmm, 1e-5);
    assigned_refit_is_identity(&lmm, &cohort, 1e-5);
    let gee = Gee::new("death30 ~ treated + factor(period) + age", "cluster")
        .unwrap()
        .correlation(WorkingCorrelation::NestedExchangeable)
        .period("period")
        .maee(true)
        .fit(&cohort)
        .unwrap();
    surface(&gee, gee.n_obs, gee.quasi_loglik, 12);
    refit_is_identity(&gee, 1e-8);
    assigned_refit_is_identity(&gee, &cohort, 1e-8);
}

#[test]
fn a_marginal_models_standardised_effects_are_its_coefficients() {
    // Without interactions, standardising a marginal model with an identity (log) link gives
    // its risk difference (relative risk) coefficient exactly; the bootstrap refits the GEE.
    let cohort = sample();
    let spec = Gee::new("death30 ~ treated + factor(period)", "cluster")
        .unwrap()
        .correlation(WorkingCorrelation::NestedExchangeable)
        .period("period");
    let identity = spec.clone().link(Link::Identity).fit(&cohort).unwrap();
    let m = Standardisation::new("treated")
        .bootstrap(40, 1)
        .apply(&identity, &cohort)
        .unwrap();
    let rd = identity.term("treated").unwrap();
    assert!((m.risk_difference.estimate - rd.estimate).abs() < 1e-12);
    assert!((m.risk_difference.std_error - rd.std_error).abs() < 1e-12);
    let bootstrap = m.bootstrap.as_ref().unwrap();
    assert_eq!(bootstrap.failed, 0);
    let log = spec.link(Link::Log).fit(&cohort).unwrap();
    let m = Standardisation::new("treated")
        .apply(&log, &cohort)
        .unwrap();
    let rr = log.term("treated").unwrap().exp_estimate.unwrap();
    assert!((m.relative_risk.estimate - rr).abs() < 1e-12);
}

/// Fit through the generic `Specification` and standardise.
fn standardised<S: Specification>(spec: &S, cohort: &Cohort) -> Result<f64> {
    let fit = spec.fit(cohort)?;
    Ok(Standardisation::new("treated")
        .apply(&fit, cohort)?
        .risk_difference
        .estimate)
}

#[test]
fn an_existing_fit_is_standardised_without_refitting_and_repeatably() {
    let cohort = sample();
    let fit = Glmm::new("death30 ~ treated + factor(period) + age + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let before = serde_json::to_string(&fit).unwrap();
    let all = Standardisation::new("treated")
        .apply(&fit, &cohort)
        .unwrap();
    let treated = Standardisation::new("treated")
        .target(Target::Treated)
        .apply(&fit, &cohort)
        .unwrap();
    let again = Standardisation::new("treated")
        .apply(&fit, &cohort)
        .unwrap();
    assert_eq!(all, again);
    assert_ne!(all.patients, treated.patients);
    // The fit is unchanged by the analyses of it.
    assert_eq!(serde_json::to_string(&fit).unwrap(), before);
    // Fitting anew through the generic specification gives the same numbers.
    let generic = standardised(
        &Glmm::new("death30 ~ treated + factor(period) + age + (1 | cluster)").unwrap(),
        &cohort,
    )
    .unwrap();
    assert_eq!(generic, all.risk_difference.estimate);
    // Another cohort than the one fitted is refused, naming both sizes.
    let half: Vec<usize> = (0..cohort.n_rows() / 2).collect();
    let other = cohort.select_rows(&half).unwrap();
    let err = Standardisation::new("treated")
        .apply(&fit, &other)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&cohort.n_rows().to_string()) && err.contains(&half.len().to_string()),
        "{err}"
    );
}

#[test]
fn predictions_for_counterfactual_rows_average_to_the_standardised_risks() {
    let cohort = sample();
    let fit = Glm::new("death30 ~ treated + factor(period) + age")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let m = Standardisation::new("treated")
        .apply(&fit, &cohort)
        .unwrap();
    for (value, risk) in [
        (1.0, m.risk_treated.estimate),
        (0.0, m.risk_control.estimate),
    ] {
        let predicted = fit.predict(&cohort, "treated", value).unwrap();
        assert_eq!(predicted.len(), fit.n_obs);
        let mean = predicted.iter().sum::<f64>() / predicted.len() as f64;
        assert!((mean - risk).abs() < 1e-12, "{mean} vs {risk}");
    }
    // For a mixed model the predictions are at random effects 0: they average to the
    // conditional standardised risk.
    let glmm = Glmm::new("death30 ~ treated + factor(period) + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let conditional = Standardisation::new("treated")
        .random_effects(RandomEffects::Conditional)
        .apply(&glmm, &cohort)
        .unwrap();
    let predicted = glmm.predict(&cohort, "treated", 1.0).unwrap();
    let mean = predicted.iter().sum::<f64>() / predicted.len() as f64;
    assert!((mean - conditional.risk_treated.estimate).abs() < 1e-12);
    let err = fit.predict(&cohort, "sex", 1.0).unwrap_err().to_string();
    assert!(err.contains("sex"), "{err}");
}

#[test]
fn standardised_means_of_a_cost_model_are_the_same_computation_without_an_nnt() {
    let cohort = sample();
    let fit = Lmm::new("cost ~ treated + factor(period) + age + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let spec = Standardisation::new("treated");
    let means = spec.means(&fit, &cohort).unwrap();
    let as_risks = spec.apply(&fit, &cohort).unwrap();
    assert_eq!(means.difference, as_risks.risk_difference);
    assert_eq!(means.mean_treated, as_risks.risk_treated);
    assert_eq!(means.ratio, as_risks.relative_risk);
    // With the identity link the difference of standardised means is the coefficient.
    let b = fit.term("treated").unwrap();
    assert!((means.difference.estimate - b.estimate).abs() < 1e-9 * b.estimate.abs());
    let json = serde_json::to_value(&means).unwrap();
    assert!(json.get("nnt").is_none() && json.get("mean_treated").is_some());
}

#[test]
fn a_profile_interval_of_the_fit_is_that_of_the_specification() {
    let cohort = sample();
    let model = Glmm::new("death30 ~ treated + factor(period) + (1 | cluster)").unwrap();
    let fit = model.fit(&cohort).unwrap();
    let of_fit = fit.profile_interval("treated").unwrap();
    let of_spec = model.profile_interval(&cohort, "treated").unwrap();
    assert_eq!(of_fit, of_spec);
    assert!(of_fit.ci_low < of_fit.estimate && of_fit.estimate < of_fit.ci_high);
}

#[test]
fn the_linear_and_the_generalized_mixed_model_keep_the_same_evaluation_log() {
    let cohort = sample();
    let lmm = Lmm::new("cost ~ treated + factor(period) + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    assert!(!lmm.log.is_empty());
    assert_eq!(lmm.evaluations, lmm.log.len());
    let last = lmm.log.last().unwrap();
    // The optimiser maximises minus half the REML criterion, and ends at the estimate.
    assert!((last.loglik - lmm.loglik).abs() < 1e-9 * lmm.loglik.abs());
    assert_eq!(lmm.optimisation.iterations, lmm.iterations);
    assert!(lmm.optimisation.converged && lmm.converged);
    assert_eq!(lmm.optimisation.end.len(), lmm.theta.len());
    let glmm = Glmm::new("death30 ~ treated + factor(period) + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    assert_eq!(glmm.evaluations, glmm.log.len());
    assert_eq!(glmm.optimisation.iterations, glmm.iterations);
    assert_eq!(
        glmm.optimisation.end,
        glmm.parameters().unwrap().psi,
        "the maximisation ends at the estimate"
    );
    // Both serialise the same fields for it.
    for json in [
        serde_json::to_value(&lmm).unwrap(),
        serde_json::to_value(&glmm).unwrap(),
    ] {
        for field in ["log", "evaluations", "iterations", "optimisation"] {
            assert!(json.get(field).is_some(), "{field}");
        }
        let settings = &json["optimisation"]["settings"];
        assert!(settings["max_iterations"].as_u64().unwrap() > 0);
    }
}
