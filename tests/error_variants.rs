//! The typed errors a caller can match on, each reached through the public API and checked for
//! the variant and the fields that say where: an unknown or misspelt term, an unsupported
//! formula construct, a fit that does not converge, too few data, and failed refits.

#[allow(dead_code)]
mod common;

use stepwedge::core::error::Error;
use stepwedge::data::Cohort;
use stepwedge::effects::standardise::{Standardisation, Target};
use stepwedge::models::glm::{Glm, IrlsControl};
use stepwedge::models::glmm::Glmm;
use stepwedge::models::lmm::Lmm;

fn sample() -> Cohort {
    common::stepped_wedge_sample()
}

#[test]
fn a_misspelt_term_is_unknown_and_the_closest_is_suggested() {
    let cohort = sample();
    let fit = Glm::new("death30 ~ treated + age")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let err = fit.term("treatd").unwrap_err();
    match &err {
        Error::UnknownTerm {
            context,
            term,
            available,
            suggestion,
        } => {
            assert_eq!((context.as_str(), term.as_str()), ("term", "treatd"));
            assert_eq!(available, &["(Intercept)", "treated", "age"]);
            assert_eq!(suggestion.as_deref(), Some("treated"));
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        err.to_string(),
        "term: no term 'treatd'; the terms are (Intercept), treated, age; did you mean 'treated'?"
    );
    // A parameter the profile does not know.
    let glmm = Glmm::new("death30 ~ treated + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let err = glmm.profile_interval("sd(clustr)").unwrap_err();
    assert!(
        matches!(&err, Error::UnknownTerm { context, suggestion, .. }
            if context == "profile" && suggestion.as_deref() == Some("sd(cluster)")),
        "{err}"
    );
}

#[test]
fn unsupported_formula_constructs_are_named() {
    let cohort = sample();
    let construct = |err: Error| match err {
        Error::UnsupportedFormula {
            formula, construct, ..
        } => (formula, construct),
        other => panic!("{other}"),
    };
    let (formula, what) = construct(
        Glmm::new("death30 ~ treated + (1 + treated + age + period | cluster)")
            .unwrap()
            .fit(&cohort)
            .unwrap_err(),
    );
    assert_eq!(
        formula,
        "death30 ~ treated + (1 + treated + age + period | cluster)"
    );
    assert!(what.contains("4 random effects"), "{what}");
    let (_, what) = construct(
        Glmm::new("death30 ~ treated + (1 + treated | cluster)")
            .unwrap()
            .nagq(5)
            .fit(&cohort)
            .unwrap_err(),
    );
    assert!(what.contains("nagq = 5"), "{what}");
    let (_, what) = construct(
        Lmm::new("cost ~ treated + age")
            .unwrap()
            .fit(&cohort)
            .unwrap_err(),
    );
    assert!(what.contains("without a random-effect term"), "{what}");
    let fit = Glm::new("death30 ~ factor(treated) + age")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let (_, what) = construct(
        Standardisation::new("treated")
            .apply(&fit, &cohort)
            .unwrap_err(),
    );
    assert!(what.contains("factor(treated)"), "{what}");
}

#[test]
fn a_fit_out_of_iterations_does_not_converge() {
    let cohort = sample();
    let err = Glm::new("death30 ~ treated + factor(period) + age")
        .unwrap()
        .control(IrlsControl {
            max_iter: 1,
            ..IrlsControl::default()
        })
        .fit(&cohort)
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotConverged { iterations: 1, what, .. } if what.contains("IRLS")),
        "{err}"
    );
}

#[test]
fn too_few_data_say_how_many_there_are_and_are_needed() {
    let cohort = sample();
    // Two rows for two fixed effects leave nothing for the residual variance.
    let two = cohort.select_rows(&[0, 1]).unwrap();
    let err = Lmm::new("cost ~ age + (1 | cluster)")
        .unwrap()
        .fit(&two)
        .unwrap_err();
    assert!(
        matches!(&err, Error::TooFewData { unit, got: 2, needed: 3, .. } if unit == "rows"),
        "{err}"
    );
    // A cluster bootstrap of a model without clusters.
    let fit = Glm::new("death30 ~ treated").unwrap().fit(&cohort).unwrap();
    let err = Standardisation::new("treated")
        .bootstrap(10, 1)
        .apply(&fit, &cohort)
        .unwrap_err();
    assert!(
        matches!(&err, Error::TooFewData { unit, got: 1, needed: 2, .. } if unit == "clusters"),
        "{err}"
    );
    // A target population with no patient.
    let err = Standardisation::new("treated")
        .target(Target::parse("age=200"))
        .apply(&fit, &cohort)
        .unwrap_err();
    assert!(
        matches!(&err, Error::TooFewData { unit, got: 0, what, .. }
            if unit == "patients" && what.contains("age=200")),
        "{err}"
    );
}

#[test]
fn failed_bootstrap_refits_are_counted() {
    // One cluster drawn twelve times: its treatment is a function of its period, so every
    // refit of `treated + factor(period)` is singular.
    let cohort = sample();
    let fit = Glm::new("death30 ~ treated + factor(period)")
        .unwrap()
        .cluster("cluster")
        .fit(&cohort)
        .unwrap();
    let err = Standardisation::new("treated")
        .bootstrap_samples(vec![vec![0; 12]; 5])
        .apply(&fit, &cohort)
        .unwrap_err();
    match &err {
        Error::RefitsFailed {
            what,
            failed,
            total,
            first,
        } => {
            assert_eq!((what.as_str(), *failed, *total), ("bootstrap refits", 5, 5));
            assert!(!first.is_empty());
        }
        other => panic!("{other}"),
    }
}
