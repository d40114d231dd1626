//! Randomisation tests on every kind of fitted model: a refit under an allocation equals the
//! model fitted from scratch to the cohort with the treatment column reassigned (and, under the
//! shifted null, the offset `d * treated_obs`, or for the linear model the response less it);
//! stratified, Monte Carlo and never-treated designs; and the errors that name what is wrong.

use stepwedge::core::error::Error;
use stepwedge::data::{Cohort, Column};
use stepwedge::effects::randomisation::{Randomisation, RandomisationTest, Statistic};
use stepwedge::models::gee::{Gee, SeKind, WorkingCorrelation};
use stepwedge::models::glm::Glm;
use stepwedge::models::glmm::Glmm;
use stepwedge::models::lmm::Lmm;
use stepwedge::models::vcov::VcovKind;
use stepwedge::models::Fitted;
use stepwedge::sim::{ClusterSize, SimConfig};

/// A stepped wedge of `clusters` clusters, each crossing over in its own period, about 40
/// patients per cluster-period.
fn trial(clusters: usize, seed: u64) -> Cohort {
    let mut config = SimConfig::stepped_wedge(clusters, clusters + 1);
    config.cluster_size = ClusterSize::Poisson { mean: 40.0 };
    config.outcome.effects.intercept = -1.2;
    config.simulate(seed).unwrap()
}

fn numeric(cohort: &Cohort, name: &str) -> Vec<f64> {
    match cohort.column(name).unwrap() {
        Column::Numeric(v) => v.clone(),
        Column::Categorical { .. } => panic!("{name} is text"),
    }
}

fn labels(cohort: &Cohort, name: &str) -> Vec<String> {
    match cohort.column(name).unwrap() {
        Column::Categorical { codes, levels } => {
            codes.iter().map(|&c| levels[c as usize].clone()).collect()
        }
        Column::Numeric(v) => v.iter().map(|x| format!("{x}")).collect(),
    }
}

/// The cohort with columns replaced or added.
fn with_columns(cohort: &Cohort, columns: Vec<(&str, Vec<f64>)>) -> Cohort {
    let mut out: Vec<(String, Column)> = cohort
        .names()
        .iter()
        .filter(|n| !columns.iter().any(|(c, _)| c == n))
        .map(|n| (n.clone(), cohort.column(n).unwrap().clone()))
        .collect();
    out.extend(
        columns
            .into_iter()
            .map(|(n, v)| (n.to_string(), Column::Numeric(v))),
    );
    Cohort::from_columns(out).unwrap()
}

/// The treatment of every row under allocation `k` of `test`.
fn assigned(cohort: &Cohort, test: &RandomisationTest, k: usize) -> Vec<f64> {
    let s = &test.schedule;
    let clusters = labels(cohort, &s.cluster_column);
    let periods = numeric(cohort, &s.period_column);
    clusters
        .iter()
        .zip(&periods)
        .map(|(c, p)| {
            let g = s.clusters.iter().position(|l| l == c).unwrap();
            let t = s
                .periods
                .iter()
                .position(|l| l.parse::<f64>().unwrap() == *p)
                .unwrap();
            let crossover = test.allocations[k][g];
            f64::from(u8::from(crossover.is_some_and(|x| t >= x)))
        })
        .collect()
}

/// The cohort of allocation `k` under the shift `d`: `treated` reassigned, `off = d treated`
/// (observed) and `cost_shifted = cost - d treated`.
fn allocation_cohort(cohort: &Cohort, test: &RandomisationTest, k: usize, d: f64) -> Cohort {
    let observed = numeric(cohort, "treated");
    let cost = numeric(cohort, "cost");
    with_columns(
        cohort,
        vec![
            ("treated", assigned(cohort, test, k)),
            ("off", observed.iter().map(|t| d * t).collect()),
            (
                "cost_shifted",
                cost.iter().zip(&observed).map(|(c, t)| c - d * t).collect(),
            ),
        ],
    )
}

/// Allocations checked against fits from scratch: the first, some in between and the last.
fn some_allocations(test: &RandomisationTest) -> Vec<usize> {
    let n = test.allocations.len();
    vec![0, 7 % n, n / 3, n / 2 + 1, n - 1]
}

fn close(what: &str, ours: f64, scratch: f64, tolerance: f64) {
    assert!(
        (ours - scratch).abs() <= tolerance * scratch.abs().max(1.0),
        "{what}: refit {ours}, from scratch {scratch}"
    );
}

#[test]
fn a_glmm_refit_equals_the_fit_to_the_reassigned_cohort_with_and_without_collapsing() {
    let cohort = trial(5, 11);
    for formula in [
        "death30 ~ treated + factor(period) + (1 | cluster)",
        "death30 ~ treated + factor(period) + age + (1 | cluster)",
        // Without the period the fit's patterns span periods: each is split by unit.
        "death30 ~ treated + (1 | cluster)",
    ] {
        for collapse in [true, false] {
            let fit = Glmm::new(formula)
                .unwrap()
                .collapse(collapse)
                .fit(&cohort)
                .unwrap();
            let spec = Randomisation::new("treated").statistic(Statistic::Wald);
            let test = spec.run(&fit, &cohort).unwrap();
            assert!(test.exact && test.n_allocations == 120, "{formula}");
            let prepared = spec.prepare(&fit, &cohort).unwrap();
            for d in [0.0, 0.4] {
                let at = prepared.distribution(d).unwrap();
                for k in some_allocations(&test) {
                    let shifted = formula.replace(" + (1", " + offset(off) + (1");
                    let scratch = Glmm::new(&shifted)
                        .unwrap()
                        .fit(&allocation_cohort(&cohort, &test, k, d))
                        .unwrap();
                    let what = format!("{formula} (collapse {collapse}), d {d}, allocation {k}");
                    close(
                        &what,
                        at.statistics[k].unwrap(),
                        scratch.term("treated").unwrap().statistic,
                        1e-6,
                    );
                }
            }
        }
    }
}

/// The Wald statistics of `fit`'s refits under some allocations at the shift `d` equal those
/// of `scratch`, the model fitted to the reassigned cohort.
fn matches_scratch<F: Fitted>(
    what: &str,
    fit: &F,
    cohort: &Cohort,
    d: f64,
    scratch: impl Fn(&Cohort) -> f64,
    tolerance: f64,
) {
    let wald = Randomisation::new("treated").statistic(Statistic::Wald);
    let test = wald.run(fit, cohort).unwrap();
    let at = wald.prepare(fit, cohort).unwrap().distribution(d).unwrap();
    for k in some_allocations(&test) {
        let theirs = scratch(&allocation_cohort(cohort, &test, k, d));
        close(what, at.statistics[k].unwrap(), theirs, tolerance);
    }
}

#[test]
fn glm_lmm_and_gee_refits_equal_their_fits_to_the_reassigned_cohort() {
    let cohort = trial(5, 12);
    // GLM with cluster-robust CR2 errors: the clusters from its cluster column.
    let glm = |formula: &str, cohort: &Cohort| {
        Glm::new(formula)
            .unwrap()
            .cluster("cluster")
            .vcov(VcovKind::CR2)
            .fit(cohort)
            .unwrap()
    };
    let base = "death30 ~ treated + factor(period) + age";
    let scratch = |c: &Cohort| {
        let fit = glm(&format!("{base} + offset(off)"), c);
        fit.term("treated").unwrap().statistic
    };
    matches_scratch("GLM", &glm(base, &cohort), &cohort, 0.3, scratch, 1e-7);
    // Linear mixed model (REML): the shifted null subtracts d * treated from the response.
    let lmm = |response: &str, cohort: &Cohort| {
        Lmm::new(&format!(
            "{response} ~ treated + factor(period) + (1 | cluster)"
        ))
        .unwrap()
        .fit(cohort)
        .unwrap()
    };
    let scratch = |c: &Cohort| lmm("cost_shifted", c).term("treated").unwrap().statistic;
    matches_scratch("LMM", &lmm("cost", &cohort), &cohort, -800.0, scratch, 1e-6);
    // GEE, nested exchangeable with MAEE and the Kauermann-Carroll variance.
    let gee = |formula: &str, cohort: &Cohort| {
        Gee::new(formula, "cluster")
            .unwrap()
            .correlation(WorkingCorrelation::NestedExchangeable)
            .period("period")
            .maee(true)
            .se(SeKind::Kc)
            .fit(cohort)
            .unwrap()
    };
    let base = "death30 ~ treated + period";
    let scratch = |c: &Cohort| {
        let fit = gee(&format!("{base} + offset(off)"), c);
        fit.term("treated").unwrap().statistic
    };
    matches_scratch("GEE", &gee(base, &cohort), &cohort, 0.3, scratch, 1e-6);
}

#[test]
fn the_observed_allocation_is_the_fit_and_p_values_count_it() {
    let cohort = trial(5, 13);
    let fit = Glmm::new("death30 ~ treated + factor(period) + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let test = Randomisation::new("treated").run(&fit, &cohort).unwrap();
    let k = test.identity.unwrap();
    let estimate = fit.term("treated").unwrap().estimate;
    assert_eq!(test.statistics[k], Some(estimate));
    assert_eq!(test.observed, estimate);
    let values: Vec<f64> = test.statistics.iter().flatten().copied().collect();
    let tol = 1e-7 * estimate.abs().max(1.0);
    let count = |keep: &dyn Fn(f64) -> bool| {
        values.iter().filter(|&&v| keep(v)).count() as f64 / values.len() as f64
    };
    assert_eq!(test.p_value, count(&|v| v.abs() >= estimate.abs() - tol));
    assert_eq!(test.p_lower, count(&|v| v <= estimate + tol));
    assert_eq!(test.p_upper, count(&|v| v >= estimate - tol));
    assert!(test.p_lower + test.p_upper >= 1.0);
    assert_eq!(test.mc_se, None);
    assert_eq!((test.failed, test.n_possible), (0, 120.0));
    assert_eq!(
        test.schedule.crossover,
        vec![Some(1), Some(2), Some(3), Some(4), Some(5)]
    );
    let text = test.to_string();
    assert!(text.contains("all 120 distinct allocations"), "{text}");
}

#[test]
fn monte_carlo_draws_are_seeded_and_do_not_depend_on_the_threads() {
    let cohort = trial(5, 14);
    let fit = Glmm::new("death30 ~ treated + factor(period) + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let spec = Randomisation::new("treated")
        .max_exact(100)
        .monte_carlo(150, 7);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| spec.run(&fit, &cohort).unwrap())
    };
    let (one, two) = (run(1), run(2));
    assert!(!one.exact);
    assert_eq!(one.n_allocations, 150);
    assert_eq!(one.statistics, two.statistics);
    assert_eq!(one.allocations, two.allocations);
    assert_eq!(one.p_value, two.p_value);
    let values: Vec<f64> = one.statistics.iter().flatten().copied().collect();
    let tol = 1e-7 * one.observed.abs().max(1.0);
    let exceed = values
        .iter()
        .filter(|v| v.abs() >= one.observed.abs() - tol)
        .count();
    assert_eq!(one.p_value, (1 + exceed) as f64 / 151.0);
    let se = one.mc_se.unwrap();
    assert!((se - (one.p_value * (1.0 - one.p_value) / 150.0).sqrt()).abs() < 1e-15);
    assert_eq!(one.seed, Some(7));
    let other = Randomisation::new("treated")
        .max_exact(100)
        .monte_carlo(150, 8)
        .run(&fit, &cohort)
        .unwrap();
    assert_ne!(other.allocations, one.allocations);
}

#[test]
fn strata_and_clusters_never_treated_restrict_and_extend_the_allocations() {
    // 4 clusters crossing over and 2 never treated.
    let mut config = SimConfig::staggered(4, 2, 5);
    config.cluster_size = ClusterSize::Poisson { mean: 40.0 };
    let cohort = config.simulate(15).unwrap();
    let clusters = labels(&cohort, "cluster");
    // Strata: the first three clusters and the last three.
    let region: Vec<f64> = clusters
        .iter()
        .map(|c| f64::from(u8::from(c.as_str() > "C03")))
        .collect();
    let cohort = with_columns(&cohort, vec![("region", region)]);
    let fit = Glmm::new("death30 ~ treated + factor(period) + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let all = Randomisation::new("treated").run(&fit, &cohort).unwrap();
    assert_eq!(all.schedule.crossover[4..], [None, None]);
    // 6! / 2! orders of 4 distinct crossovers and two clusters never treated.
    assert_eq!(all.n_allocations, 360);
    let stratified = Randomisation::new("treated")
        .strata("region")
        .run(&fit, &cohort)
        .unwrap();
    // C01-C03 have 3 distinct crossovers (3!); C04 and the two never treated (3).
    assert_eq!(stratified.n_allocations, 18);
    let observed = &stratified.schedule.crossover;
    for a in &stratified.allocations {
        let mut first = a[..3].to_vec();
        let mut expected = observed[..3].to_vec();
        first.sort();
        expected.sort();
        assert_eq!(first, expected);
    }
    // Ascending, a cluster never treated counting as the latest crossover.
    let key = |a: &Vec<Option<usize>>| -> Vec<usize> {
        a.iter().map(|c| c.unwrap_or(usize::MAX)).collect()
    };
    assert!(stratified
        .allocations
        .windows(2)
        .all(|w| key(&w[0]) < key(&w[1])));
    let (_, strata) = stratified.schedule.strata.as_ref().unwrap();
    assert_eq!(strata, &["0", "0", "0", "1", "1", "1"]);
}

/// The cohort with `treated` set to `value` on the rows of cluster `cluster` in period `period`.
fn set_treated(
    cohort: &Cohort,
    cluster: &str,
    period: f64,
    value: f64,
    first_only: bool,
) -> Cohort {
    let clusters = labels(cohort, "cluster");
    let periods = numeric(cohort, "period");
    let mut treated = numeric(cohort, "treated");
    for i in 0..treated.len() {
        if clusters[i] == cluster && periods[i] == period {
            treated[i] = value;
            if first_only {
                break;
            }
        }
    }
    with_columns(cohort, vec![("treated", treated)])
}

fn error_of(cohort: &Cohort, spec: &Randomisation, formula: &str) -> String {
    let fit = Glmm::new(formula).unwrap().fit(cohort).unwrap();
    spec.run(&fit, cohort).unwrap_err().to_string()
}

#[test]
fn a_treatment_off_its_schedule_or_a_split_stratum_is_an_error_naming_the_cluster() {
    let cohort = trial(4, 16);
    let hh = "death30 ~ treated + factor(period) + (1 | cluster)";
    let spec = Randomisation::new("treated");
    // C02 crosses over in period 3; untreated again in period 5.
    let err = error_of(&set_treated(&cohort, "C02", 5.0, 0.0, false), &spec, hh);
    assert!(
        err.contains("cluster 'C02' is treated in period 3 and untreated in the later period 5"),
        "{err}"
    );
    // One treated patient in C03's last control period.
    let err = error_of(&set_treated(&cohort, "C03", 3.0, 1.0, true), &spec, hh);
    assert!(
        err.contains("cluster 'C03' has treated and untreated patients in period 3"),
        "{err}"
    );
    // A stratum column that varies within C01.
    let clusters = labels(&cohort, "cluster");
    let split: Vec<f64> = (0..clusters.len())
        .map(|i| f64::from(u8::from(clusters[i] == "C01" && i % 2 == 0)))
        .collect();
    let cohort_split = with_columns(&cohort, vec![("region", split)]);
    let err = error_of(&cohort_split, &spec.clone().strata("region"), hh);
    assert!(err.contains("cluster 'C01' lies in strata"), "{err}");
    // The treatment in an interaction, absent, or without clusters to permute.
    let err = error_of(
        &cohort,
        &spec,
        "death30 ~ treated + factor(period) + treated:age + (1 | cluster)",
    );
    assert!(err.contains("interaction 'treated:age'"), "{err}");
    let err = error_of(&cohort, &Randomisation::new("age"), hh);
    assert!(err.contains("no term 'age'"), "{err}");
    let glm = Glm::new("death30 ~ treated + factor(period)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let err = spec.run(&glm, &cohort).unwrap_err().to_string();
    assert!(err.contains("name the column of the clusters"), "{err}");
    let ok = spec.clone().cluster("cluster").run(&glm, &cohort).unwrap();
    assert_eq!(ok.n_allocations, 24);
    // Another cohort than the fit's.
    let fit = Glmm::new(hh).unwrap().fit(&cohort).unwrap();
    let fewer: Vec<usize> = (0..100).collect();
    let err = spec
        .run(&fit, &cohort.select_rows(&fewer).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pass the cohort the model was fitted to"),
        "{err}"
    );
    // Every cluster crossing over together leaves one allocation.
    let mut together = SimConfig::parallel(3, 0, 3);
    together.cluster_size = ClusterSize::Fixed(20);
    let one = together.simulate(1).unwrap();
    let glm = Glm::new("death30 ~ treated + age").unwrap().fit(&one);
    if let Ok(glm) = glm {
        let err = spec.clone().cluster("cluster").run(&glm, &one).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    }
}

#[test]
fn failed_refits_are_counted_and_too_many_refuse_the_test() {
    let cohort = trial(5, 17);
    let fit = Glmm::new("death30 ~ treated + factor(period) + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let observed = fit.term("treated").unwrap().estimate;
    // A statistic that is not finite for the allocations with the largest estimates.
    let test = Randomisation::new("treated").run(&fit, &cohort).unwrap();
    let mut sorted: Vec<f64> = test.statistics.iter().flatten().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let cut = sorted[sorted.len() - 6];
    let statistic = Statistic::custom("capped", move |refit, column| {
        let t = refit.psi[column];
        if t > cut && t != observed {
            f64::NAN
        } else {
            t
        }
    });
    let capped = Randomisation::new("treated")
        .statistic(statistic)
        .run(&fit, &cohort)
        .unwrap();
    let expected = sorted.iter().filter(|&&t| t > cut && t != observed).count();
    assert_eq!(capped.failed, expected);
    assert!(capped.first_failure.unwrap().contains("capped statistic"));
    assert_eq!(
        capped.statistics.iter().filter(|s| s.is_none()).count(),
        expected
    );
    let refuse = Statistic::custom("refused", move |refit, column| {
        let t = refit.psi[column];
        if t == observed {
            t
        } else {
            f64::INFINITY
        }
    });
    let err = Randomisation::new("treated")
        .statistic(refuse)
        .run(&fit, &cohort)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::RefitsFailed {
                failed: 119,
                total: 119,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn the_interval_contains_the_estimate_and_opens_when_no_allocation_can_reject() {
    let cohort = trial(5, 18);
    let fit = Glmm::new("death30 ~ treated + factor(period) + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let estimate = fit.term("treated").unwrap().estimate;
    let test = Randomisation::new("treated")
        .interval(0.9)
        .run(&fit, &cohort)
        .unwrap();
    let interval = test.interval.unwrap();
    let (low, high) = (interval.low.unwrap(), interval.high.unwrap());
    assert!(
        low < estimate && estimate < high,
        "[{low}, {high}] vs {estimate}"
    );
    assert!(interval.refits > 0 && interval.failed == 0);
    let prepared = Randomisation::new("treated")
        .prepare(&fit, &cohort)
        .unwrap();
    // Just inside each bound the test accepts at 10%, just outside it rejects.
    let eps = 1e-3;
    assert!(prepared.distribution(low + eps).unwrap().p_value > 0.1);
    assert!(prepared.distribution(low - eps).unwrap().p_value <= 0.1);
    assert!(prepared.distribution(high - eps).unwrap().p_value > 0.1);
    assert!(prepared.distribution(high + eps).unwrap().p_value <= 0.1);
    // 3 clusters: 6 allocations, so p >= 1/6 > 0.05 whatever d: both bounds open.
    let small = trial(3, 19);
    let fit = Glmm::new("death30 ~ treated + factor(period) + (1 | cluster)")
        .unwrap()
        .fit(&small)
        .unwrap();
    let interval = Randomisation::new("treated")
        .interval(0.95)
        .run(&fit, &small)
        .unwrap()
        .interval
        .unwrap();
    assert_eq!((interval.low, interval.high), (None, None));
}
