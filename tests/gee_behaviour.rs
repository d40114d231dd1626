//! What the GEE refuses, and how it says so: too few clusters for a t reference, outcomes that
//! are not 0/1, a working correlation without the columns it needs, combinations the two fits
//! do not define, and a mean model that varies within cluster-periods for the cluster-period fit.

use stepwedge::core::error::Error;
use stepwedge::data::{Cohort, Column, LoadOptions};
use stepwedge::models::family::Family;
use stepwedge::models::gee::{Gee, SeKind, WorkingCorrelation};
use stepwedge::models::glm::{Glm, Link};
use stepwedge::models::vcov::VcovKind;

fn reference() -> Cohort {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/gee/gee_nex_logit_maee.csv"
    );
    Cohort::from_csv_path(path, &LoadOptions::default()).unwrap()
}

fn message(spec: Gee, cohort: &Cohort) -> String {
    spec.fit(cohort).unwrap_err().to_string()
}

#[test]
fn too_few_clusters_for_the_t_reference_are_refused() {
    let cohort = reference();
    let few: Vec<usize> = (0..cohort.n_rows())
        .filter(|&i| cohort.numeric("cluster").unwrap()[i] <= 4.0)
        .collect();
    let four = cohort.select_rows(&few).unwrap();
    let spec = Gee::new("y ~ treated + factor(period)", "cluster").unwrap();
    let e = spec.fit(&four).unwrap_err();
    assert!(
        matches!(
            e,
            Error::TooFewData {
                got: 4,
                needed: 8,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn outcomes_and_columns_are_checked_by_name() {
    let cohort = reference();
    let e = message(Gee::new("age ~ treated", "cluster").unwrap(), &cohort);
    assert!(e.contains("'age'") && e.contains("0/1"), "{e}");
    let nested = Gee::new("y ~ treated", "cluster")
        .unwrap()
        .correlation(WorkingCorrelation::NestedExchangeable);
    assert!(message(nested, &cohort).contains("needs a period column"));
    let block = Gee::new("y ~ treated", "cluster")
        .unwrap()
        .correlation(WorkingCorrelation::BlockExchangeable)
        .period("period");
    assert!(message(block, &cohort).contains("needs a patient column"));
    let unknown = Gee::new("y ~ treated", "clustr").unwrap();
    assert!(message(unknown, &cohort).contains("did you mean 'cluster'"));
    let random = Gee::new("y ~ treated + (1 | cluster)", "cluster").unwrap_err();
    assert!(
        matches!(random, Error::UnsupportedFormula { .. }),
        "{random}"
    );
}

#[test]
fn combinations_the_fits_do_not_define_are_refused() {
    let cohort = reference();
    let decay = Gee::new("y ~ treated + factor(period)", "cluster")
        .unwrap()
        .correlation(WorkingCorrelation::ExponentialDecay);
    assert!(message(decay, &cohort).contains("needs a period column"));
    let poisson_means = Gee::new("y ~ treated + factor(period)", "cluster")
        .unwrap()
        .family(Family::Poisson)
        .cluster_period_means(true)
        .period("period");
    assert!(message(poisson_means, &cohort).contains("binary outcomes"));
    let gamma = Gee::new("y ~ treated", "cluster")
        .unwrap()
        .family(Family::Gamma);
    assert!(message(gamma, &cohort).contains("not gamma with the log link"));
    let means = Gee::new("y ~ treated + factor(period)", "cluster")
        .unwrap()
        .cluster_period_means(true)
        .period("period");
    let log = means.clone().link(Link::Log);
    assert!(message(log, &cohort).contains("logit link"));
    // Age varies between the patients of a cluster-period: the means model is refused.
    let age = Gee::new("y ~ treated + factor(period) + age", "cluster")
        .unwrap()
        .cluster_period_means(true)
        .period("period");
    assert!(message(age, &cohort).contains("differs between patients of one period"));
    assert!(means.fit(&cohort).is_ok());
}

#[test]
fn the_independence_gee_is_the_glm_with_its_cluster_sandwiches() {
    // With independence the GEE's equations are the GLM's score equations (with the same prior
    // weights); its model-based variance is the GLM's, BC0 the Liang-Zeger sandwich and MD the
    // Mancl-DeRouen (CR3) one.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data-samples/stepped_wedge_sim.csv"
    );
    let cohort = Cohort::from_csv_path(path, &LoadOptions::default()).unwrap();
    // Prior weights 1, 2, 3 by patient.
    let weights: Vec<f64> = (0..cohort.n_rows()).map(|i| 1.0 + (i % 3) as f64).collect();
    let cohort = cohort.with_column("w", Column::Numeric(weights)).unwrap();
    // (The GLM's IRLS creeps without converging for the identity link with age here: a fitted
    // risk sits near 0, so that link is checked without age.)
    for (link, formula) in [
        (Link::Logit, "death30 ~ treated + factor(period) + age"),
        (Link::Log, "death30 ~ treated + factor(period) + age"),
        (Link::Identity, "death30 ~ treated + factor(period)"),
    ] {
        let gee = Gee::new(formula, "cluster")
            .unwrap()
            .link(link)
            .correlation(WorkingCorrelation::Independence)
            .weights("w")
            .fit(&cohort)
            .unwrap();
        let glm = Glm::new(formula)
            .unwrap()
            .link(link)
            .cluster("cluster")
            .weights("w")
            .fit(&cohort)
            .unwrap();
        for (kind, vcov) in [
            (SeKind::Model, VcovKind::Model),
            (SeKind::Robust, VcovKind::Sandwich),
            (SeKind::Md, VcovKind::CR3),
        ] {
            let v = glm.vcov_matrix(vcov).unwrap();
            for (j, (g, l)) in gee.coefficients.iter().zip(&glm.coefficients).enumerate() {
                assert!(
                    (g.estimate - l.estimate).abs() < 1e-8,
                    "{link:?} {}",
                    g.term
                );
                let se = v[(j, j)].sqrt();
                let ours = gee.std_errors(kind)[j];
                assert!(
                    (ours - se).abs() < 1e-7 * se,
                    "{link:?} {kind:?} {}: {ours} vs {se}",
                    g.term
                );
            }
        }
    }
}

/// A Gaussian stepped wedge whose cluster-period effects follow an AR(1) in time:
/// `y = u_ct + e`, `u_ct` with variance `var_u` and correlation `rho^|s-t|`, `e ~ N(0, 1)`: the
/// correlation of two patients is `alpha0 = var_u / (var_u + 1)` within a period and
/// `alpha0 rho^|s-t|` between periods.
fn decaying(clusters: usize, periods: usize, size: usize, var_u: f64, rho: f64) -> Cohort {
    let mut state = 0x2545F4914F6CDD1Du64;
    let mut normal = move || {
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (a, b) = (uniform().max(1e-300), uniform());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    };
    let (mut cluster, mut period, mut treated, mut y) = (vec![], vec![], vec![], vec![]);
    for c in 0..clusters {
        let mut u = normal() * var_u.sqrt();
        for t in 0..periods {
            if t > 0 {
                u = rho * u + (var_u * (1.0 - rho * rho)).sqrt() * normal();
            }
            let on = t > c % (periods - 1);
            for _ in 0..size {
                cluster.push(c as f64);
                period.push(t as f64);
                treated.push(f64::from(u8::from(on)));
                y.push(u + normal() + 0.3 * f64::from(u8::from(on)));
            }
        }
    }
    Cohort::from_columns(vec![
        ("cluster".into(), Column::Numeric(cluster)),
        ("period".into(), Column::Numeric(period)),
        ("treated".into(), Column::Numeric(treated)),
        ("y".into(), Column::Numeric(y)),
    ])
    .unwrap()
}

#[test]
fn the_patient_level_decay_recovers_a_decaying_correlation() {
    // alpha0 = 0.2, rho = 0.5 (between adjacent periods 0.1, two apart 0.05).
    let cohort = decaying(60, 6, 40, 0.25, 0.5);
    let spec = Gee::new("y ~ treated + factor(period)", "cluster")
        .unwrap()
        .family(Family::Gaussian)
        .period("period");
    for maee in [false, true] {
        let fit = spec
            .clone()
            .correlation(WorkingCorrelation::ExponentialDecay)
            .maee(maee)
            .fit(&cohort)
            .unwrap();
        assert!(fit.converged);
        let (alpha0, rho) = (
            fit.correlation_parameters[0].estimate,
            fit.correlation_parameters[1].estimate,
        );
        eprintln!(
            "decay (maee {maee}): alpha0 {alpha0:.4}, rho {rho:.4}, scale {:.4}, {} iterations",
            fit.scale, fit.iterations
        );
        assert!((alpha0 - 0.2).abs() < 0.05, "alpha0 {alpha0}");
        assert!((rho - 0.5).abs() < 0.15, "rho {rho}");
        let se = fit.correlation_parameters[1].std_error.unwrap();
        assert!(se > 0.0 && se < 0.2, "se of rho {se}");
        assert!((fit.scale - 1.25).abs() < 0.15, "scale {}", fit.scale);
        let treated = &fit.coefficients[1];
        assert!(treated.ci_low < 0.3 && treated.ci_high > 0.3, "{treated:?}");
    }
    // The nested exchangeable fit averages the between-period correlations.
    let nested = spec
        .correlation(WorkingCorrelation::NestedExchangeable)
        .fit(&cohort)
        .unwrap();
    let alpha1 = nested.correlation_parameters[1].estimate;
    assert!(alpha1 > 0.0 && alpha1 < 0.1, "alpha1 {alpha1}");
}

#[test]
fn an_arm_without_events_is_an_error_not_a_panic() {
    // Eight clusters over three periods; no patient under the intervention has the event, so
    // the independence start's treatment coefficient diverges and the correlated GEE has no
    // start for its correlation parameters.
    let (mut cluster, mut period, mut treated, mut y) = (vec![], vec![], vec![], vec![]);
    for c in 0..8u32 {
        for t in 1..=3 {
            let on = t > 1 + (c as usize) % 2;
            for k in 0..6 {
                cluster.push(c);
                period.push(t as f64);
                treated.push(f64::from(u8::from(on)));
                y.push(if !on && (k + c as usize + t).is_multiple_of(3) {
                    1.0
                } else {
                    0.0
                });
            }
        }
    }
    let labels = (0..8).map(|c| format!("C{c}")).collect();
    let cohort = Cohort::from_columns(vec![
        (
            "cluster".into(),
            Column::categorical(cluster, labels).unwrap(),
        ),
        ("period".into(), Column::Numeric(period)),
        ("treated".into(), Column::Numeric(treated)),
        ("y".into(), Column::Numeric(y)),
    ])
    .unwrap();
    for correlation in [
        WorkingCorrelation::Exchangeable,
        WorkingCorrelation::NestedExchangeable,
    ] {
        let spec = Gee::new("y ~ treated + factor(period)", "cluster")
            .unwrap()
            .period("period")
            .correlation(correlation);
        let error = spec.fit(&cohort).unwrap_err();
        assert!(
            matches!(error, Error::NotConverged { .. }),
            "{correlation}: {error}"
        );
        assert!(error.to_string().contains("without events"), "{error}");
    }
}
