//! Properties every GLM fit must have, and its behaviour on hard or bad input.

use std::path::PathBuf;

use proptest::prelude::*;
use stepwedge::core::error::Error;
use stepwedge::data::{Cohort, Column, LoadOptions};
use stepwedge::models::glm::{Family, Glm, GlmFit, Link};
use stepwedge::models::vcov::VcovKind;

fn reference_cohort() -> Cohort {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/data/glm_binary.csv");
    Cohort::from_csv_path(path, &LoadOptions::default()).expect("reference data")
}

const FORMULA: &str = "death30 ~ treated + factor(period) + age + sex";

fn fit(cohort: &Cohort, kind: VcovKind) -> GlmFit {
    Glm::new(FORMULA)
        .unwrap()
        .cluster("cluster")
        .vcov(kind)
        .fit(cohort)
        .unwrap()
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
}

fn ses(f: &GlmFit) -> Vec<f64> {
    f.coefficients.iter().map(|r| r.std_error).collect()
}

/// A permutation of 0..n from a seed (Fisher-Yates on a small LCG; deterministic).
fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (state >> 33) as usize % (i + 1);
        p.swap(i, j);
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn shuffling_rows_changes_nothing(seed in any::<u64>()) {
        let cohort = reference_cohort();
        let base = fit(&cohort, VcovKind::CR2);
        let shuffled = cohort.select_rows(&permutation(cohort.n_rows(), seed)).unwrap();
        let other = fit(&shuffled, VcovKind::CR2);
        prop_assert!(close(&other.coef(), &base.coef(), 1e-9));
        prop_assert!(close(&ses(&other), &ses(&base), 1e-8));
        prop_assert!((other.loglik - base.loglik).abs() < 1e-9);
    }

    #[test]
    fn relabelling_clusters_changes_nothing(seed in any::<u64>()) {
        let cohort = reference_cohort();
        let base = fit(&cohort, VcovKind::CR1);
        let labels = cohort.levels("cluster").unwrap().to_vec();
        let perm = permutation(labels.len(), seed);
        let codes = cohort.codes("cluster").unwrap();
        let relabelled = Column::from_labels(codes.iter().map(|&c| Some(format!("site-{}", perm[c as usize])))).unwrap();
        let renamed = cohort.clone().with_column("site", relabelled).unwrap();
        let other = Glm::new(FORMULA).unwrap().cluster("site").vcov(VcovKind::CR1).fit(&renamed).unwrap();
        prop_assert!(close(&ses(&other), &ses(&base), 1e-10));
    }
}

#[test]
fn duplicating_every_row_halves_the_variance() {
    let cohort = reference_cohort();
    let base = fit(&cohort, VcovKind::Model);
    let rows: Vec<usize> = (0..cohort.n_rows()).chain(0..cohort.n_rows()).collect();
    let doubled = fit(&cohort.select_rows(&rows).unwrap(), VcovKind::Model);
    assert!(close(&doubled.coef(), &base.coef(), 1e-9));
    for (d, b) in doubled.coefficients.iter().zip(&base.coefficients) {
        let ratio = d.std_error.powi(2) / b.std_error.powi(2);
        assert!(
            (ratio - 0.5).abs() < 1e-9,
            "{}: variance ratio {ratio}",
            d.term
        );
    }
}

#[test]
fn collapsed_counts_give_the_same_fit_as_binary_rows() {
    // cbind(events, trials - events) on cluster x period x treated counts equals the binary fit.
    let cohort = reference_cohort();
    let binary = Glm::new("death30 ~ treated + factor(period)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let period = cohort.numeric("period").unwrap();
    let treated = cohort.numeric("treated").unwrap();
    let death = cohort.numeric("death30").unwrap();
    let mut cells: Vec<(f64, f64, f64, f64)> = Vec::new();
    for i in 0..cohort.n_rows() {
        match cells
            .iter_mut()
            .find(|c| c.0 == period[i] && c.1 == treated[i])
        {
            Some(c) => {
                c.2 += death[i];
                c.3 += 1.0;
            }
            None => cells.push((period[i], treated[i], death[i], 1.0)),
        }
    }
    let col = |f: fn(&(f64, f64, f64, f64)) -> f64| Column::Numeric(cells.iter().map(f).collect());
    let counts = Cohort::from_columns(vec![
        ("period".into(), col(|c| c.0)),
        ("treated".into(), col(|c| c.1)),
        ("events".into(), col(|c| c.2)),
        ("trials".into(), col(|c| c.3)),
    ])
    .unwrap();
    let grouped = Glm::new("cbind(events, trials - events) ~ treated + factor(period)")
        .unwrap()
        .fit(&counts)
        .unwrap();
    assert!(close(&grouped.coef(), &binary.coef(), 1e-9));
    assert!(close(&ses(&grouped), &ses(&binary), 1e-8));
}

fn small(columns: &[(&str, &[f64])]) -> Cohort {
    Cohort::from_columns(
        columns
            .iter()
            .map(|(n, v)| (n.to_string(), Column::Numeric(v.to_vec())))
            .collect(),
    )
    .unwrap()
}

#[test]
fn separation_is_reported_with_the_term() {
    // Every treated patient survives: the log odds ratio diverges.
    let y = [0., 0., 0., 0., 0., 0., 1., 0., 1., 1., 0., 1.];
    let t = [1., 1., 1., 1., 1., 1., 0., 0., 0., 0., 0., 0.];
    let a = [70., 75., 80., 85., 90., 95., 71., 76., 81., 86., 91., 96.];
    let c = small(&[("y", &y), ("treated", &t), ("age", &a)]);
    let err = Glm::new("y ~ treated + age").unwrap().fit(&c).unwrap_err();
    match &err {
        Error::Separation { terms } => assert!(terms.contains(&"treated".to_string()), "{err}"),
        other => panic!("expected separation, got {other}"),
    }
    assert!(err.to_string().contains("'treated'"));
}

#[test]
fn log_binomial_converges_where_the_first_step_leaves_the_mean_space() {
    // Risks near 1 in one group: R's glm needs start values here; the estimate is interior.
    let y = [
        1., 1., 1., 1., 1., 1., 1., 1., 1., 0., 0., 1., 0., 1., 0., 0., 0., 1., 0., 0.,
    ];
    let x = [
        1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0.,
    ];
    let c = small(&[("y", &y), ("x", &x)]);
    let f = Glm::new("y ~ x").unwrap().link(Link::Log).fit(&c).unwrap();
    assert!(f.boundary.is_none());
    // Closed form: RR = (9/10) / (3/10) = 3.
    let rr = f.term("x").unwrap().exp_estimate.unwrap();
    assert!((rr - 3.0).abs() < 1e-8, "{rr}");
}

#[test]
fn log_binomial_on_the_boundary_says_so() {
    // A continuous covariate pushes the fitted risk of the oldest patients to 1.
    let y = [0., 0., 1., 0., 1., 1., 1., 1., 1., 1.];
    let a = [1., 2., 3., 4., 5., 6., 7., 8., 9., 10.];
    let c = small(&[("y", &y), ("age", &a)]);
    let f = Glm::new("y ~ age")
        .unwrap()
        .link(Link::Log)
        .fit(&c)
        .unwrap();
    let message = f.boundary.as_deref().expect("boundary reported");
    assert!(message.contains("boundary"), "{message}");
    assert!(f.fitted().iter().all(|&m| m < 1.0));
    assert!(f
        .to_string()
        .contains("Warning: the maximum-likelihood estimate is on the boundary"));
}

#[test]
fn bad_input_gives_typed_errors() {
    let c = reference_cohort();
    let err = |g: stepwedge::core::error::Result<Glm>| g.unwrap().fit(&c).unwrap_err().to_string();
    // A binary outcome that is not 0/1.
    let cost = err(Glm::new("cost ~ treated"));
    assert!(
        cost.contains("response 'cost'") && cost.contains("must be 0 or 1"),
        "{cost}"
    );
    // An unknown column, with the suggestion.
    let unknown = err(Glm::new("death30 ~ treatd"));
    assert!(unknown.contains("did you mean 'treated'"), "{unknown}");
    // A random-effect term given to a GLM.
    let mixed = err(Glm::new("death30 ~ treated + (1 | cluster)"));
    assert!(mixed.contains("mixed-model fit"), "{mixed}");
    // A cluster-robust estimator without a cluster.
    let nocluster = err(Glm::new("death30 ~ treated").map(|g| g.vcov(VcovKind::CR2)));
    assert!(nocluster.contains("needs a cluster"), "{nocluster}");
    // A wrong link for the family.
    let link =
        err(Glm::new("death30 ~ treated").map(|g| g.family(Family::Poisson).link(Link::Logit)));
    assert!(
        link.contains("poisson family supports no logit link"),
        "{link}"
    );
}

#[test]
fn constant_treatment_is_an_error() {
    let y = [0., 1., 0., 1.];
    let c = small(&[("y", &y), ("treated", &[1., 1., 1., 1.])]);
    let e = Glm::new("y ~ treated")
        .unwrap()
        .fit(&c)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("term 'treated' is constant (every used row has 1)"),
        "{e}"
    );
}

#[test]
fn no_rows_after_missing_values_is_an_error() {
    let c = small(&[("y", &[0., 1., f64::NAN]), ("x", &[f64::NAN, f64::NAN, 1.])]);
    let e = Glm::new("y ~ x").unwrap().fit(&c).unwrap_err().to_string();
    assert!(
        e.contains("no rows left") && e.contains("y: 1 missing") && e.contains("x: 2 missing"),
        "{e}"
    );
}

#[test]
fn summary_prints_like_r() {
    let f = fit(&reference_cohort(), VcovKind::Model);
    let text = f.to_string();
    for needle in [
        "binomial family, logit link",
        "(Intercept)",
        "factor(period)2",
        "sexM",
        "Pr(>|z|)",
        "OR",
        "AIC",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    let json = serde_json::to_value(&f).unwrap();
    assert_eq!(json["coefficients"][1]["term"], "treated");
    assert!(json["coefficients"][1]["exp_estimate"].is_number());
}
