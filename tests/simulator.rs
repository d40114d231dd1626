//! The cohort simulator: reproducibility, the design, and agreement of empirical rates with the
//! configuration.

use statrs::distribution::{Continuous, ContinuousCDF, Normal};
use stepwedge::core::error::Error;
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::sim::{
    ClusterSize, Effects, OutcomeLink, PeriodEffect, SimConfig, RESIDENCE_LEVELS,
};

/// Asserts that an empirical proportion `hits / n` is within 4 standard errors of `p`.
fn assert_proportion(what: &str, hits: usize, n: usize, p: f64) {
    let observed = hits as f64 / n as f64;
    let se = (p * (1.0 - p) / n as f64).sqrt();
    assert!(
        (observed - p).abs() <= 4.0 * se,
        "{what}: observed {observed}, expected {p} (se {se})"
    );
}

/// Effects with only an intercept and no random effects.
fn intercept_only(intercept: f64) -> Effects {
    Effects {
        intercept,
        treatment: 0.0,
        period: PeriodEffect::Linear(0.0),
        age_per_year: 0.0,
        male: 0.0,
        residence: [0.0; 4],
        cluster_sd: 0.0,
        cluster_period_sd: 0.0,
    }
}

/// 20 clusters x 10 periods x 1,000 patients = 200,000 patients.
fn large() -> SimConfig {
    let mut c = SimConfig::stepped_wedge(20, 10);
    c.cluster_size = ClusterSize::Fixed(1000);
    c
}

fn count(values: &[f64], pred: impl Fn(f64) -> bool) -> usize {
    values.iter().filter(|&&v| pred(v)).count()
}

#[test]
fn same_seed_same_cohort_different_seed_different_cohort() {
    let config = SimConfig::default();
    let a = config.simulate(2024).unwrap();
    let b = config.simulate(2024).unwrap();
    assert!(a.identical(&b));
    assert_eq!(a, b);
    let c = config.simulate(2025).unwrap();
    assert!(!a.identical(&c));
}

#[test]
fn output_is_pinned_for_a_seed() {
    // These values must not change between platforms or releases without notice: the simulator
    // promises the same cohort for the same seed everywhere.
    let c = SimConfig::stepped_wedge(4, 3).simulate(7).unwrap();
    let summary = |name: &str| c.numeric(name).unwrap().iter().sum::<f64>();
    let pinned = (
        c.n_rows(),
        summary("age"),
        summary("death30"),
        summary("cost"),
        c.codes("residence").unwrap()[..6].to_vec(),
    );
    let expected = (
        347,
        29003.8,
        30.0,
        19078606.31091499,
        vec![0, 0, 1, 1, 1, 1],
    );
    assert_eq!(pinned, expected);
}

#[test]
fn columns_and_labels() {
    let c = SimConfig::stepped_wedge(12, 4).simulate(1).unwrap();
    assert_eq!(
        c.names(),
        [
            "id",
            "cluster",
            "period",
            "treated",
            "age",
            "sex",
            "residence",
            "death30",
            "cost"
        ]
    );
    let clusters: Vec<String> = (1..=12).map(|i| format!("C{i:02}")).collect();
    assert_eq!(c.levels("cluster").unwrap(), clusters);
    assert_eq!(c.levels("sex").unwrap(), ["F", "M"]);
    let mut residence = RESIDENCE_LEVELS.to_vec();
    residence.sort();
    assert_eq!(c.levels("residence").unwrap(), residence);
    let ids = c.numeric("id").unwrap();
    assert!(ids.iter().enumerate().all(|(i, &id)| id == (i + 1) as f64));

    let wide = SimConfig::stepped_wedge(120, 3).simulate(1).unwrap();
    assert_eq!(wide.levels("cluster").unwrap()[0], "C001");
    assert_eq!(wide.levels("cluster").unwrap()[119], "C120");

    let mut named = SimConfig::default();
    named.outcome.name = "readm30".into();
    named.cost.name = "cost_dkk".into();
    let c = named.simulate(1).unwrap();
    assert!(c.numeric("readm30").is_ok() && c.numeric("cost_dkk").is_ok());
}

#[test]
fn schedule_is_respected() {
    for config in [
        SimConfig::stepped_wedge(7, 5),
        SimConfig::staggered(5, 3, 6),
        SimConfig::parallel(3, 2, 4),
    ] {
        let c = config.simulate(3).unwrap();
        let clusters = c.codes("cluster").unwrap();
        let periods = c.numeric("period").unwrap();
        let treated = c.numeric("treated").unwrap();
        for i in 0..c.n_rows() {
            let start = config.schedule[clusters[i] as usize];
            let expected = start.is_some_and(|s| periods[i] >= s as f64);
            assert_eq!(treated[i] == 1.0, expected, "row {i}");
            assert!(treated[i] == 0.0 || treated[i] == 1.0);
        }
        // Never-switching clusters stay under usual care.
        assert!(config.schedule.iter().enumerate().all(|(k, s)| s.is_some()
            || (0..c.n_rows()).all(|i| clusters[i] as usize != k || treated[i] == 0.0)));
    }
}

#[test]
fn fixed_cluster_sizes_and_treated_fraction() {
    let config = large();
    let c = config.simulate(11).unwrap();
    assert_eq!(c.n_rows(), 200_000);
    let treated_cells: usize = config
        .schedule
        .iter()
        .map(|s| s.map_or(0, |s| config.n_periods + 1 - s))
        .sum();
    let treated = count(c.numeric("treated").unwrap(), |t| t == 1.0);
    assert_eq!(treated, treated_cells * 1000);
}

#[test]
fn poisson_cluster_sizes_and_treated_fraction() {
    let mut config = SimConfig::stepped_wedge(20, 10);
    config.cluster_size = ClusterSize::Poisson { mean: 1000.0 };
    let c = config.simulate(12).unwrap();
    let n = c.n_rows();
    let cells = 200.0;
    let se_total = (cells * 1000.0f64).sqrt();
    assert!(
        (n as f64 - 200_000.0).abs() <= 4.0 * se_total,
        "{n} patients"
    );
    // Given the total, the number treated is binomial with p = treated cells / cells.
    let treated_cells: usize = config
        .schedule
        .iter()
        .map(|s| s.map_or(0, |s| config.n_periods + 1 - s))
        .sum();
    let treated = count(c.numeric("treated").unwrap(), |t| t == 1.0);
    assert_proportion("treated", treated, n, treated_cells as f64 / cells);
}

#[test]
fn covariates_follow_the_configuration() {
    let config = large();
    let c = config.simulate(13).unwrap();
    let n = c.n_rows();
    let female = c.codes("sex").unwrap().iter().filter(|&&s| s == 0).count();
    assert_proportion("female", female, n, config.p_female);
    let levels = c.levels("residence").unwrap();
    let codes = c.codes("residence").unwrap();
    for (name, p) in RESIDENCE_LEVELS.iter().zip(config.residence_probs) {
        let code = levels.iter().position(|l| l == name).unwrap() as u32;
        let hits = codes.iter().filter(|&&r| r == code).count();
        assert_proportion(name, hits, n, p);
    }

    let ages = c.numeric("age").unwrap();
    assert!(ages.iter().all(|&a| (65.0..=105.0).contains(&a)));
    assert!(ages
        .iter()
        .all(|&a| ((a * 10.0).round() - a * 10.0).abs() < 1e-6));
    // Mean of the normal truncated to [65, 105].
    let z = Normal::standard();
    let (lo, hi) = (
        (65.0 - config.age_mean) / config.age_sd,
        (105.0 - config.age_mean) / config.age_sd,
    );
    let mean = config.age_mean + config.age_sd * (z.pdf(lo) - z.pdf(hi)) / (z.cdf(hi) - z.cdf(lo));
    let observed = ages.iter().sum::<f64>() / n as f64;
    let se = config.age_sd / (n as f64).sqrt();
    assert!(
        (observed - mean).abs() <= 4.0 * se,
        "age mean {observed} vs {mean}"
    );
}

#[test]
fn logistic_event_rate_matches() {
    let mut config = large();
    config.outcome.effects = intercept_only(-2.2);
    let c = config.simulate(14).unwrap();
    let deaths = count(c.numeric("death30").unwrap(), |d| d == 1.0);
    let p = 1.0 / (1.0 + 2.2f64.exp());
    assert_proportion("death30", deaths, c.n_rows(), p);
}

#[test]
fn log_link_treatment_effect_is_a_relative_risk() {
    let mut config = large();
    config.outcome.link = OutcomeLink::Log;
    config.outcome.effects = Effects {
        treatment: 0.7f64.ln(),
        ..intercept_only(0.1f64.ln())
    };
    let c = config.simulate(15).unwrap();
    let treated = c.numeric("treated").unwrap();
    let deaths = c.numeric("death30").unwrap();
    for (arm, p) in [(0.0, 0.1), (1.0, 0.07)] {
        let rows: Vec<usize> = (0..c.n_rows()).filter(|&i| treated[i] == arm).collect();
        let hits = rows.iter().filter(|&&i| deaths[i] == 1.0).count();
        assert_proportion(&format!("death30 in arm {arm}"), hits, rows.len(), p);
    }
}

#[test]
fn log_link_probability_above_one_is_an_error() {
    let mut config = SimConfig::default();
    config.outcome.link = OutcomeLink::Log;
    config.outcome.effects = intercept_only(0.5);
    let e = config.simulate(1).unwrap_err();
    assert!(matches!(&e, Error::InvalidArgument { argument, .. } if argument == "outcome.effects"));
    assert!(
        e.to_string()
            .contains("patient 1 has event probability 1.6487 > 1"),
        "{e}"
    );
}

#[test]
fn costs_are_positive_with_the_configured_mean() {
    let mut config = large();
    config.cost.effects = intercept_only(60_000f64.ln());
    config.cost.shape = 2.0;
    let c = config.simulate(16).unwrap();
    let costs = c.numeric("cost").unwrap();
    assert!(costs.iter().all(|&x| x > 0.0 && x.is_finite()));
    let n = costs.len() as f64;
    let mean = costs.iter().sum::<f64>() / n;
    let se = 60_000.0 / (2.0 * n).sqrt();
    assert!((mean - 60_000.0).abs() <= 4.0 * se, "mean cost {mean}");

    // With the default model (covariates, random effects) costs stay positive, around 60,000.
    let c = SimConfig::default().simulate(17).unwrap();
    let costs = c.numeric("cost").unwrap();
    assert!(costs.iter().all(|&x| x > 0.0 && x.is_finite()));
    let mean = costs.iter().sum::<f64>() / costs.len() as f64;
    assert!((40_000.0..80_000.0).contains(&mean), "mean cost {mean}");
}

#[test]
fn invalid_configuration_names_the_field() {
    let mut config = SimConfig::default();
    config.schedule.push(None);
    let e = config.simulate(1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid argument 'schedule': has 11 entries, one per cluster is needed (10)"
    );
}

#[test]
fn simulated_cohort_round_trips_through_csv() {
    let c = SimConfig::default().simulate(5).unwrap();
    let mut out = Vec::new();
    c.write_csv_to(&mut out).unwrap();
    let back = Cohort::from_csv_reader(&out[..], "sim.csv", &LoadOptions::default()).unwrap();
    assert!(back.identical(&c));
}
