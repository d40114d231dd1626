//! Coverage of the cluster bootstrap (and delta-method) intervals of standardised marginal
//! effects from a random-intercept logistic GLMM, by simulation.
//!
//! Design: a stepped-wedge trial of 40 clusters (`C01`..`C40`) over 5 periods; the clusters
//! cross from usual care to the intervention in 4 waves of 10, at the start of periods 2, 3, 4
//! and 5. Each cluster-period has 30 to 40 patients (uniform). The outcome:
//!
//! `logit P(death30 = 1) = b0 + b_trt treated + gamma_period + u_cluster`, `u ~ N(0, sigma^2)`,
//!
//! with `b0 = logit(0.12)`, `b_trt = -0.4`, `gamma = (0, -0.05, -0.10, -0.15, -0.20)` and
//! `sigma = 0.4`.
//!
//! Estimand of each simulated trial: the population-averaged standardised risks over that
//! trial's own patients at the true parameters,
//!
//! `r_a = (1/N) sum_i E h(b0 + b_trt a + gamma_period(i) + sigma T)`, `T ~ N(0, 1)`,
//!
//! (h the inverse logit; the expectation by the trapezoidal rule on [-12, 12], see
//! [`integrated_risk`]) and `RD = r_1 - r_0`, `RR = r_1 / r_0`. This is what
//! `Glmm::standardise` estimates with its defaults (target: all patients, random effects
//! integrated).
//!
//! The ignored test [`cluster_bootstrap_coverage`] fits
//! `death30 ~ treated + factor(period) + (1 | cluster)` to each of 500 trials with a cluster
//! bootstrap of B = 500 replicates (seed = trial index), prints the coverage of the delta,
//! percentile and BCa intervals of RD and RR with Monte Carlo standard errors, mean widths and
//! failures, and asserts that the percentile and BCa intervals of RD cover the truth in 93% to
//! 97% of the trials. Run it with
//!
//! ```text
//! cargo test --release --test bootstrap_coverage -- --ignored --nocapture
//! ```
//!
//! The environment variables `STEPWEDGE_COVERAGE_TRIALS` and `STEPWEDGE_COVERAGE_REPLICATES`
//! override the number of trials and of bootstrap replicates (for a quick timing run); the
//! coverage criterion is asserted only with at least 500 trials, where one Monte Carlo standard
//! error of a coverage near 95% is about 1 percentage point.

mod common;
use common::FitThen;

use std::time::Instant;

use common::{env_count, integrated_risk, inverse_logit, mean, sd};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use stepwedge::data::{Cohort, Column};
use stepwedge::effects::crude::Estimate;
use stepwedge::effects::standardise::{Measure, Standardisation};
use stepwedge::models::glmm::Glmm;

const FORMULA: &str = "death30 ~ treated + factor(period) + (1 | cluster)";

/// The stepped-wedge design and the true outcome model.
#[derive(Debug, Clone)]
struct Scenario {
    clusters: usize,
    periods: usize,
    waves: usize,
    /// Patients per cluster-period, uniform on `min..=max`.
    min_patients: usize,
    max_patients: usize,
    b0: f64,
    b_trt: f64,
    /// Period effects, the first 0.
    gamma: Vec<f64>,
    sigma: f64,
}

impl Scenario {
    fn standard() -> Self {
        Scenario {
            clusters: 40,
            periods: 5,
            waves: 4,
            min_patients: 30,
            max_patients: 40,
            b0: (0.12f64 / 0.88).ln(),
            b_trt: -0.4,
            gamma: vec![0.0, -0.05, -0.10, -0.15, -0.20],
            sigma: 0.4,
        }
    }

    /// The first period (1-based) in which cluster `c` (0-based) is treated: wave w crosses at
    /// the start of period w + 2.
    fn crossover(&self, c: usize) -> usize {
        let per_wave = self.clusters.div_ceil(self.waves);
        c / per_wave + 2
    }
}

/// One simulated trial: the cohort and the true marginal risks `(r_1, r_0)` of its patients.
struct Trial {
    cohort: Cohort,
    risk_treated: f64,
    risk_control: f64,
}

/// Simulate trial `seed` of `scenario`.
fn simulate(scenario: &Scenario, seed: u64) -> Trial {
    let mut rng =
        Xoshiro256PlusPlus::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED);
    let (mut cluster, mut period, mut treated, mut death) = (vec![], vec![], vec![], vec![]);
    // Patients per period, for the truth.
    let mut per_period = vec![0usize; scenario.periods];
    for c in 0..scenario.clusters {
        let z: f64 = StandardNormal.sample(&mut rng);
        let u = scenario.sigma * z;
        let label = format!("C{:02}", c + 1);
        let start = scenario.crossover(c);
        for t in 1..=scenario.periods {
            let n = rng.random_range(scenario.min_patients..=scenario.max_patients);
            per_period[t - 1] += n;
            let a = usize::from(t >= start);
            let p =
                inverse_logit(scenario.b0 + scenario.b_trt * a as f64 + scenario.gamma[t - 1] + u);
            for _ in 0..n {
                cluster.push(Some(label.clone()));
                period.push(t as f64);
                treated.push(a as f64);
                death.push(if rng.random::<f64>() < p { 1.0 } else { 0.0 });
            }
        }
    }
    let total: usize = per_period.iter().sum();
    let risk = |a: f64| {
        per_period
            .iter()
            .zip(&scenario.gamma)
            .map(|(&n, g)| {
                n as f64 * integrated_risk(scenario.b0 + scenario.b_trt * a + g, scenario.sigma)
            })
            .sum::<f64>()
            / total as f64
    };
    let cohort = Cohort::from_columns(vec![
        ("cluster".into(), Column::from_labels(cluster).unwrap()),
        ("period".into(), Column::Numeric(period)),
        ("treated".into(), Column::Numeric(treated)),
        ("death30".into(), Column::Numeric(death)),
    ])
    .unwrap();
    Trial {
        cohort,
        risk_treated: risk(1.0),
        risk_control: risk(0.0),
    }
}

/// Hits, misses below and above, and the summed width of one kind of interval.
#[derive(Debug, Default, Clone)]
struct Tally {
    n: usize,
    covered: usize,
    /// The interval lies entirely below the truth.
    below: usize,
    /// The interval lies entirely above the truth.
    above: usize,
    width: f64,
    /// Trials without this interval (BCa undefined).
    missing: usize,
}

impl Tally {
    fn add(&mut self, interval: Option<&Estimate>, truth: f64) {
        let Some(e) = interval else {
            self.missing += 1;
            return;
        };
        self.n += 1;
        self.width += e.ci_high - e.ci_low;
        if e.ci_high < truth {
            self.below += 1;
        } else if e.ci_low > truth {
            self.above += 1;
        } else {
            self.covered += 1;
        }
    }

    fn coverage(&self) -> f64 {
        self.covered as f64 / self.n as f64
    }

    /// Monte Carlo standard error of the coverage.
    fn mc_se(&self) -> f64 {
        let p = self.coverage();
        (p * (1.0 - p) / self.n as f64).sqrt()
    }

    fn mean_width(&self) -> f64 {
        self.width / self.n as f64
    }
}

/// Tallies of (delta, percentile, BCa) for one measure, and the estimates for bias and SD.
#[derive(Debug, Default, Clone)]
struct MeasureTally {
    intervals: [Tally; 3],
    /// estimate - truth per trial (for RR on the log scale).
    errors: Vec<f64>,
    /// Delta-method standard errors (for RR of log RR).
    std_errors: Vec<f64>,
}

impl MeasureTally {
    fn add(&mut self, m: &Measure, truth: f64, log: bool) {
        self.intervals[0].add(Some(&m.delta), truth);
        self.intervals[1].add(m.percentile.as_ref(), truth);
        self.intervals[2].add(m.bca.as_ref(), truth);
        self.errors.push(if log {
            m.estimate.ln() - truth.ln()
        } else {
            m.estimate - truth
        });
        self.std_errors.push(m.std_error);
    }
}

/// What a coverage run found.
#[derive(Debug, Default)]
struct Coverage {
    trials: usize,
    /// Trials whose fit or bootstrap returned an error, with the first message.
    failed_trials: usize,
    first_error: Option<String>,
    /// Bootstrap replicates drawn and failed, over the successful trials.
    replicates: usize,
    failed_replicates: usize,
    /// Trials whose variance was estimated as 0.
    singular: usize,
    rd: MeasureTally,
    rr: MeasureTally,
    /// Wald coverage of the conditional treatment coefficient b_trt (a sanity check).
    beta: Tally,
    sigma_estimates: Vec<f64>,
    true_rd: Vec<f64>,
    true_rr: Vec<f64>,
}

fn run(scenario: &Scenario, trials: usize, replicates: usize) -> Coverage {
    let model = Glmm::new(FORMULA).unwrap();
    let mut out = Coverage {
        trials,
        ..Coverage::default()
    };
    for trial in 0..trials as u64 {
        let sim = simulate(scenario, trial);
        let rd_true = sim.risk_treated - sim.risk_control;
        let rr_true = sim.risk_treated / sim.risk_control;
        let spec = Standardisation::new("treated").bootstrap(replicates, trial);
        let (fit, marginal) = match model.fit_and_standardise(&sim.cohort, &spec) {
            Ok(r) => r,
            Err(e) => {
                out.failed_trials += 1;
                out.first_error
                    .get_or_insert_with(|| format!("trial {trial}: {e}"));
                continue;
            }
        };
        out.true_rd.push(rd_true);
        out.true_rr.push(rr_true);
        let boot = marginal
            .bootstrap
            .as_ref()
            .expect("a bootstrap was asked for");
        out.replicates += boot.replicates;
        out.failed_replicates += boot.failed;
        out.singular += usize::from(fit.singular);
        out.sigma_estimates.push(fit.random_effects[0].sd);
        out.rd.add(&marginal.risk_difference, rd_true, false);
        out.rr.add(&marginal.relative_risk, rr_true, true);
        let b = fit.term("treated").unwrap();
        out.beta.add(
            Some(&Estimate {
                estimate: b.estimate,
                ci_low: b.ci_low,
                ci_high: b.ci_high,
                level: 0.95,
            }),
            scenario.b_trt,
        );
    }
    out
}

fn print_report(c: &Coverage, scenario: &Scenario, replicates: usize) {
    println!(
        "\nCluster-bootstrap coverage: {} trials, B = {replicates}, {} clusters x {} periods, \
         {} waves, {}-{} patients per cluster-period",
        c.trials,
        scenario.clusters,
        scenario.periods,
        scenario.waves,
        scenario.min_patients,
        scenario.max_patients
    );
    println!(
        "truth: b0 = {:.4}, b_trt = {}, sigma = {}; mean true RD {:.5} (sd over trials {:.2e}), \
         mean true RR {:.5}",
        scenario.b0,
        scenario.b_trt,
        scenario.sigma,
        mean(&c.true_rd),
        sd(&c.true_rd),
        mean(&c.true_rr)
    );
    println!(
        "{:<8} {:<11} {:>6} {:>9} {:>8} {:>7} {:>7} {:>11} {:>8}",
        "measure", "interval", "n", "coverage", "MC se", "below", "above", "mean width", "missing"
    );
    for (name, t) in [("RD", &c.rd), ("RR", &c.rr)] {
        for (kind, tally) in ["delta", "percentile", "BCa"].iter().zip(&t.intervals) {
            println!(
                "{:<8} {:<11} {:>6} {:>8.2}% {:>7.2}% {:>7} {:>7} {:>11.5} {:>8}",
                name,
                kind,
                tally.n,
                100.0 * tally.coverage(),
                100.0 * tally.mc_se(),
                tally.below,
                tally.above,
                tally.mean_width(),
                tally.missing
            );
        }
    }
    let b = &c.beta;
    println!(
        "{:<8} {:<11} {:>6} {:>8.2}% {:>7.2}% {:>7} {:>7} {:>11.5}",
        "b_trt",
        "Wald",
        b.n,
        100.0 * b.coverage(),
        100.0 * b.mc_se(),
        b.below,
        b.above,
        b.mean_width()
    );
    for (name, t) in [("RD", &c.rd), ("log RR", &c.rr)] {
        println!(
            "{name}: mean (estimate - truth) {:+.2e} (MC se {:.1e}); sd of estimates {:.5}, \
             mean delta se {:.5}",
            mean(&t.errors),
            sd(&t.errors) / (t.errors.len() as f64).sqrt(),
            sd(&t.errors),
            mean(&t.std_errors)
        );
    }
    println!(
        "sigma: mean estimate {:.4} (truth {}), {} singular fits",
        mean(&c.sigma_estimates),
        scenario.sigma,
        c.singular
    );
    println!(
        "failures: {} of {} trials ({}); {} of {} bootstrap replicates",
        c.failed_trials,
        c.trials,
        c.first_error.as_deref().unwrap_or("none"),
        c.failed_replicates,
        c.replicates
    );
}

#[test]
#[ignore = "coverage simulation: 500 trials x 500 bootstrap refits; minutes in release"]
fn cluster_bootstrap_coverage() {
    let trials = env_count("STEPWEDGE_COVERAGE_TRIALS", 500);
    let replicates = env_count("STEPWEDGE_COVERAGE_REPLICATES", 500);
    let scenario = Scenario::standard();
    let started = Instant::now();
    let c = run(&scenario, trials, replicates);
    print_report(&c, &scenario, replicates);
    println!("elapsed: {:.1} s", started.elapsed().as_secs_f64());

    assert!(
        c.failed_trials * 100 <= c.trials,
        "{} of {} trials failed; the first: {:?}",
        c.failed_trials,
        c.trials,
        c.first_error
    );
    if trials < 500 {
        println!("coverage criterion not asserted: fewer than 500 trials");
        return;
    }
    for (kind, tally) in [
        ("percentile", &c.rd.intervals[1]),
        ("BCa", &c.rd.intervals[2]),
    ] {
        let coverage = tally.coverage();
        assert!(
            (0.93..=0.97).contains(&coverage),
            "the {kind} interval of RD covers the truth in {} of {} trials ({:.1}%), outside \
             93-97%",
            tally.covered,
            tally.n,
            100.0 * coverage
        );
    }
}

/// The truth's integral: symmetric about eta = 0, equal to h(eta) as the SD goes to 0, and the
/// same to 1e-12 with a midpoint rule of 10 times fewer steps.
#[test]
fn integrated_risk_is_accurate() {
    assert!((integrated_risk(0.0, 1.3) - 0.5).abs() < 1e-14);
    for eta in [-4.0, -2.0, -0.3, 1.5] {
        let s = 0.7;
        assert!((integrated_risk(eta, s) + integrated_risk(-eta, s) - 1.0).abs() < 1e-13);
        assert!((integrated_risk(eta, 1e-300) - inverse_logit(eta)).abs() < 1e-14);
        // A midpoint rule with 10x fewer steps agrees to 1e-12.
        let h = 24.0 / 480.0;
        let coarse: f64 = (0..480)
            .map(|k| {
                let t = -12.0 + (k as f64 + 0.5) * h;
                inverse_logit(eta + s * t) * (-0.5 * t * t).exp()
            })
            .sum::<f64>()
            * h
            / (2.0 * std::f64::consts::PI).sqrt();
        assert!((integrated_risk(eta, s) - coarse).abs() < 1e-12);
    }
    // The risk of the standard scenario's control arm lies between h(b0) and 0.5 (Jensen, for a
    // risk below 0.5 the logistic curve is convex).
    let sc = Scenario::standard();
    let r = integrated_risk(sc.b0, sc.sigma);
    assert!(r > 0.12 && r < 0.14, "{r}");
}

/// The coverage machinery on 3 small trials with B = 50: every interval exists and the true
/// risks are plausible, so the code path stays compiled and exercised.
#[test]
fn coverage_machinery_runs() {
    let scenario = Scenario::standard();
    let c = run(&scenario, 3, 50);
    print_report(&c, &scenario, 50);
    assert_eq!(c.failed_trials, 0, "{:?}", c.first_error);
    assert_eq!(c.replicates, 150);
    assert!(c.failed_replicates <= 5);
    for t in c.rd.intervals.iter().chain(&c.rr.intervals) {
        assert_eq!(t.n + t.missing, 3);
        assert!(t.mean_width() > 0.0 && t.mean_width().is_finite());
    }
    assert_eq!(c.rd.intervals[0].n, 3);
    for (&rd, &rr) in c.true_rd.iter().zip(&c.true_rr) {
        assert!((-0.05..-0.02).contains(&rd), "true RD {rd}");
        assert!((0.6..0.8).contains(&rr), "true RR {rr}");
    }
}
