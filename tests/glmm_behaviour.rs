//! Behaviour of the mixed-model fit beyond agreement with R: collapsing, recovery of simulated
//! parameters, singular fits, confounded designs, between-within df and likelihood-ratio tests.

use std::path::PathBuf;

use stepwedge::core::error::Error;
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::models::glm::Family;
use stepwedge::models::glmm::{DfMethod, Glmm};
use stepwedge::sim::{ClusterSize, SimConfig};

fn reference_data(name: &str) -> Cohort {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference/data/glmm")
        .join(name);
    Cohort::from_csv_path(path, &LoadOptions::default()).expect("reference data")
}

fn stepped_wedge(clusters: usize, periods: usize, size: usize, sd: f64, seed: u64) -> Cohort {
    let mut c = SimConfig::stepped_wedge(clusters, periods);
    c.cluster_size = ClusterSize::Fixed(size);
    c.outcome.effects.cluster_sd = sd;
    c.outcome.effects.cluster_period_sd = 0.0;
    c.simulate(seed).unwrap()
}

#[test]
fn collapsing_rows_changes_no_estimate() {
    // 25,000 rows: uncollapsed, the evaluation runs its groups in parallel; collapsed, serially.
    let cohort = stepped_wedge(8, 5, 625, 0.4, 3);
    let formula = "death30 ~ treated + factor(period) + sex + (1 | cluster)";
    let collapsed = Glmm::new(formula).unwrap().fit(&cohort).unwrap();
    let rows = Glmm::new(formula)
        .unwrap()
        .collapse(false)
        .fit(&cohort)
        .unwrap();
    assert!(
        collapsed.n_patterns < rows.n_patterns / 5,
        "{} vs {}",
        collapsed.n_patterns,
        rows.n_patterns
    );
    assert_eq!(rows.n_patterns, cohort.n_rows());
    assert!((collapsed.loglik - rows.loglik).abs() < 1e-9);
    for (a, b) in collapsed.coefficients.iter().zip(&rows.coefficients) {
        assert!((a.estimate - b.estimate).abs() < 1e-8, "{}", a.term);
        assert!(
            (a.std_error - b.std_error).abs() < 1e-6 * b.std_error,
            "{}",
            a.term
        );
    }
    assert!((collapsed.random_effects[0].sd - rows.random_effects[0].sd).abs() < 1e-8);
}

/// A cohort of repeated covariate rows with counts, a cbind response, an exposure offset and
/// missing values: row i has cluster i % 6, period i % 3 and a level of x from i % 4.
fn repeated_rows() -> Cohort {
    let mut csv = String::from("cluster,period,x,count,events,nonevents,exposure\n");
    for i in 0..600usize {
        let count = (i * 7 + i / 13) % 5;
        let events = (i * 3 + i / 7) % 4;
        let x = if i % 97 == 5 {
            ""
        } else {
            ["a", "b", "c", "b"][i % 4]
        };
        let exposure = [1.0, 2.5][i % 2];
        csv += &format!(
            "c{},{},{x},{count},{events},{},{exposure}\n",
            i % 6,
            i % 3,
            3 - events % 3
        );
    }
    Cohort::from_csv_str(&csv, &LoadOptions::default()).unwrap()
}

#[test]
fn collapsing_keeps_counts_trials_offsets_and_missing_rows() {
    let cohort = repeated_rows();
    for (formula, family) in [
        (
            "count ~ x + factor(period) + offset(log(exposure)) + (1 | cluster)",
            Family::Poisson,
        ),
        (
            "cbind(events, nonevents) ~ x + factor(period) + (1 | cluster)",
            Family::Binomial,
        ),
    ] {
        let model = Glmm::new(formula).unwrap().family(family);
        let collapsed = model.fit(&cohort).unwrap();
        let rows = model.clone().collapse(false).fit(&cohort).unwrap();
        assert!(collapsed.n_patterns < rows.n_patterns / 4, "{formula}");
        assert_eq!(collapsed.n_obs, rows.n_obs);
        assert_eq!(rows.n_obs, 600 - 7, "{formula}: rows missing x are dropped");
        assert_eq!(collapsed.missing, rows.missing);
        assert!(
            (collapsed.loglik - rows.loglik).abs() < 1e-9 * rows.loglik.abs(),
            "{formula}: {} vs {}",
            collapsed.loglik,
            rows.loglik
        );
        for (a, b) in collapsed.coefficients.iter().zip(&rows.coefficients) {
            assert!(
                (a.estimate - b.estimate).abs() < 1e-8,
                "{formula} {}",
                a.term
            );
            assert!((a.std_error - b.std_error).abs() < 1e-7 * b.std_error);
        }
    }
}

#[test]
fn fits_recover_the_simulated_treatment_effect_and_cluster_sd() {
    // 20 seeds of a 12-cluster stepped wedge; the mean estimate lies within 4 Monte Carlo SEs of
    // the truth for the treatment log odds ratio, and the SD estimate is in the right range.
    let truth = SimConfig::stepped_wedge(12, 6).outcome.effects.treatment;
    let (mut estimates, mut sds) = (Vec::new(), Vec::new());
    for seed in 0..20 {
        let cohort = stepped_wedge(12, 6, 80, 0.5, 100 + seed);
        let fit =
            Glmm::new("death30 ~ treated + factor(period) + age + sex + residence + (1 | cluster)")
                .unwrap()
                .reference_level("residence", "own_home")
                .fit(&cohort)
                .unwrap();
        assert!(fit.converged);
        estimates.push(fit.term("treated").unwrap().estimate);
        sds.push(fit.random_effects[0].sd);
    }
    let n = estimates.len() as f64;
    let mean = estimates.iter().sum::<f64>() / n;
    let sd = (estimates.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    assert!(
        (mean - truth).abs() < 4.0 * sd / n.sqrt(),
        "mean {mean} vs truth {truth}"
    );
    let mean_sd = sds.iter().sum::<f64>() / n;
    assert!(
        (0.3..0.7).contains(&mean_sd),
        "mean cluster SD {mean_sd} for a true 0.5"
    );
}

#[test]
fn singular_fit_reports_exactly_zero() {
    let cohort = reference_data("ri_singular02.csv");
    let fit =
        Glmm::new("cbind(events, trials - events) ~ treated + factor(period) + (1 | cluster)")
            .unwrap()
            .fit(&cohort)
            .unwrap();
    assert!(fit.singular);
    assert_eq!(fit.random_effects[0].sd, 0.0);
    assert_eq!(fit.theta, vec![0.0]);
    assert!(fit.to_string().contains("Singular fit"));
    assert!(fit.coefficients.iter().all(|r| r.std_error.is_finite()));
}

#[test]
fn treatment_confounded_with_period_is_an_error() {
    // Every cluster switches in period 3: treated = period >= 3, a sum of period dummies.
    let mut c = SimConfig::stepped_wedge(6, 5);
    c.schedule = vec![Some(3); 6];
    c.cluster_size = ClusterSize::Fixed(40);
    let cohort = c.simulate(1).unwrap();
    let err = Glmm::new("death30 ~ factor(period) + treated + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap_err();
    assert!(matches!(err, Error::Confounded { .. }), "{err}");
    assert!(
        err.to_string().contains("'treated' cannot be separated"),
        "{err}"
    );
}

#[test]
fn treatment_of_a_single_cluster_is_confounded_with_it() {
    let mut c = SimConfig::parallel(1, 5, 4);
    c.cluster_size = ClusterSize::Fixed(40);
    let cohort = c.simulate(2).unwrap();
    let err = Glmm::new("death30 ~ treated + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("'treated' cannot be separated from 'cluster'")
            && text.contains("only 1 cluster"),
        "{text}"
    );
}

#[test]
fn between_within_degrees_of_freedom() {
    // Parallel design: treatment is a cluster-level term; period varies within clusters.
    let mut c = SimConfig::parallel(4, 4, 3);
    c.cluster_size = ClusterSize::Fixed(30);
    let cohort = c.simulate(5).unwrap();
    let fit = Glmm::new("death30 ~ treated + factor(period) + (1 | cluster)")
        .unwrap()
        .df(DfMethod::BetweenWithin)
        .fit(&cohort)
        .unwrap();
    let n = cohort.n_rows() as f64;
    // Between: intercept and treated (p_between = 2), G = 8 -> 6. Within: 2 period columns.
    assert_eq!(fit.term("treated").unwrap().df, Some(6.0));
    assert_eq!(fit.term("(Intercept)").unwrap().df, Some(6.0));
    assert_eq!(fit.term("factor(period)2").unwrap().df, Some(n - 8.0 - 2.0));
    let z = Glmm::new("death30 ~ treated + factor(period) + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    // Same estimate and SE; the t interval is wider than the z interval.
    let (t_row, z_row) = (fit.term("treated").unwrap(), z.term("treated").unwrap());
    assert!((t_row.estimate - z_row.estimate).abs() < 1e-12);
    assert!(t_row.ci_high - t_row.ci_low > z_row.ci_high - z_row.ci_low);
    assert!(t_row.p_value > z_row.p_value);
}

#[test]
fn likelihood_ratio_test_of_treatment() {
    let cohort = stepped_wedge(10, 5, 50, 0.3, 9);
    let full = Glmm::new("death30 ~ treated + factor(period) + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let reduced = Glmm::new("death30 ~ factor(period) + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let test = full.lrt(&reduced).unwrap();
    assert_eq!(test.df, 1);
    assert!(test.statistic >= 0.0 && (0.0..=1.0).contains(&test.p_value));
    // The Wald and likelihood-ratio statistics agree to first order.
    let wald = full.term("treated").unwrap().statistic.powi(2);
    assert!(
        (test.statistic - wald).abs() < 0.2 * wald.max(1.0),
        "LR {} vs Wald {wald}",
        test.statistic
    );
    assert!(reduced.lrt(&full).is_err());
}

#[test]
fn bad_input_is_reported_not_panicked() {
    let cohort = stepped_wedge(6, 4, 20, 0.2, 4);
    let e = |f: &str| {
        Glmm::new(f)
            .and_then(|m| m.fit(&cohort))
            .unwrap_err()
            .to_string()
    };
    assert!(e("death30 ~ treated").contains("needs a random-effect term"));
    assert!(e("death30 ~ treated + (1 | clustr)").contains("did you mean 'cluster'"));
    assert!(e("cost ~ treated + (1 | cluster)").contains("must be 0 or 1"));
    // Several terms are fitted (tests/crossed_reference.rs); what they cannot have is refused.
    assert!(
        e("death30 ~ treated + (1 + treated + age + period | cluster) + (1 | sex)")
            .contains("1 to 3 correlated random effects")
    );
    let crossed_quadrature = Glmm::new("death30 ~ treated + (1 | cluster) + (1 | period)")
        .unwrap()
        .nagq(5)
        .fit(&cohort)
        .unwrap_err();
    assert!(
        crossed_quadrature.to_string().contains("nagq = 1"),
        "{crossed_quadrature}"
    );
    let nagq = Glmm::new("death30 ~ treated + (1 | cluster)")
        .unwrap()
        .nagq(30)
        .fit(&cohort)
        .unwrap_err();
    assert!(nagq.to_string().contains("1 to 25"));
}

#[test]
fn the_pilot_start_changes_no_estimate() {
    // 60,000 patients with a continuous covariate (log cost, unique to each patient): more than
    // 50,000 patterns, so pilots run.
    let mut config = SimConfig::stepped_wedge(10, 6);
    config.cluster_size = ClusterSize::Fixed(1000);
    let cohort = config.simulate(11).unwrap();
    let model =
        Glmm::new("death30 ~ treated + factor(period) + age + log(cost) + (1 | cluster)").unwrap();
    let piloted = model.fit(&cohort).unwrap();
    let direct = model.clone().pilot(false).fit(&cohort).unwrap();
    assert!(piloted.n_patterns >= 50_000, "{}", piloted.n_patterns);
    assert!(piloted.converged && direct.converged);
    assert!((piloted.loglik - direct.loglik).abs() < 1e-9 * direct.loglik.abs());
    for (a, b) in piloted.coefficients.iter().zip(&direct.coefficients) {
        assert!((a.estimate - b.estimate).abs() < 1e-6, "{}", a.term);
        assert!(
            (a.std_error - b.std_error).abs() < 1e-6 * b.std_error,
            "{}",
            a.term
        );
    }
    assert!(
        piloted.evaluations < direct.evaluations,
        "{} vs {}",
        piloted.evaluations,
        direct.evaluations
    );
}

#[test]
fn integer_weights_fit_as_repeated_rows() {
    use stepwedge::data::Column;
    let mut config = SimConfig::stepped_wedge(6, 4);
    config.cluster_size = ClusterSize::Fixed(25);
    let cohort = config.simulate(5).unwrap();
    let weights: Vec<f64> = (0..cohort.n_rows()).map(|i| (1 + i % 3) as f64).collect();
    let repeated: Vec<usize> = (0..cohort.n_rows())
        .flat_map(|i| std::iter::repeat_n(i, 1 + i % 3))
        .collect();
    let expanded = cohort.select_rows(&repeated).unwrap();
    let weighted = cohort
        .clone()
        .with_column("w", Column::Numeric(weights))
        .unwrap();
    let formula = "death30 ~ treated + factor(period) + age + (1 | cluster)";
    for collapse in [true, false] {
        let by_weight = Glmm::new(formula)
            .unwrap()
            .weights("w")
            .collapse(collapse)
            .fit(&weighted)
            .unwrap();
        let by_rows = Glmm::new(formula).unwrap().fit(&expanded).unwrap();
        assert!((by_weight.loglik - by_rows.loglik).abs() < 1e-9 * by_rows.loglik.abs());
        for (a, b) in by_weight.coefficients.iter().zip(&by_rows.coefficients) {
            assert!((a.estimate - b.estimate).abs() < 1e-7, "{}", a.term);
            assert!((a.std_error - b.std_error).abs() < 1e-6 * b.std_error);
        }
        assert!((by_weight.random_effects[0].sd - by_rows.random_effects[0].sd).abs() < 1e-7);
    }
    let n = cohort.n_rows();
    let bad = cohort
        .with_column("w", Column::Numeric(vec![-1.0; n]))
        .unwrap();
    let err = Glmm::new(formula)
        .unwrap()
        .weights("w")
        .fit(&bad)
        .unwrap_err();
    assert!(
        err.to_string().contains("weights must be positive"),
        "{err}"
    );
}
