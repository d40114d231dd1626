//! Coverage of the cost-effectiveness intervals (incremental cost and effect, net monetary
//! benefit, and the two ICER intervals) of `stepwedge::effects::cost_effectiveness::cost_effectiveness`, by
//! simulation.
//!
//! Design: a stepped-wedge trial of 40 clusters (`C01`..`C40`) over 5 periods; the clusters
//! cross from usual care to the intervention in 4 waves of 10, at the start of periods 2, 3, 4
//! and 5. Each cluster-period has 30 to 40 patients (uniform). Cluster c has two correlated
//! standard-normal effects `z_c` and `z'_c = rho z_c + sqrt(1 - rho^2) w_c`.
//!
//! Death (the effect model is correctly specified):
//!
//! `logit P(death30 = 1) = b0 + b_trt treated + gamma_period + sigma z_c`.
//!
//! Cost: for a patient of risk p (above) in a cluster-period with
//!
//! `m = exp(c0 + c_trt treated + delta_period + v_c)`, `v_c = sigma_c z'_c - sigma_c^2 / 2`,
//!
//! `cost = m (1 + k (1 - p)) G` if the patient dies and `m (1 - k p) G` if not, with G gamma of
//! shape `shape` and mean 1. Dying costs more, yet `E[cost | cluster, period] = m` for any p,
//! and `E exp(v_c) = 1`, so the population-averaged mean cost is exactly
//! `exp(c0 + c_trt treated + delta_period)`: the mean that the fitted gamma GLM
//! `cost ~ treated + factor(period)` (log link, cluster column for the bootstrap) describes (its
//! variance function is not exactly `phi mu^2`, which a quasi-likelihood fit tolerates). The
//! shared cluster effect and the cost of dying make costs and deaths correlated, within clusters
//! and between them, and so the estimates (dC, dE) and the bootstrap pairs `(dC_b, dE_b)`.
//!
//! Estimand of each simulated trial (what `cost_effectiveness` targets with its defaults: the
//! whole cohort, random effects integrated, an adverse outcome): over that trial's own patients
//! at the true parameters,
//!
//! - `dC = (1/N) sum_i [exp(c0 + c_trt + delta_p(i)) - exp(c0 + delta_p(i))]`, the GLM's
//!   standardised mean cost if all were treated minus if none were (a GLM has no random effects,
//!   its means are the population-averaged ones, which is why `E exp(v) = 1` above);
//! - `dE = r_0 - r_1`, deaths avoided per patient, with the population-averaged risks
//!   `r_a = (1/N) sum_i E h(b0 + b_trt a + gamma_p(i) + sigma T)`, `T ~ N(0, 1)`, h the inverse
//!   logit (the integral by the trapezoidal rule on [-12, 12], see [`integrated_risk`]);
//! - `ICER = dC / dE` and `NMB(lambda) = lambda dE - dC`.
//!
//! Scenarios: [`Scenario::precise`], an effect of about 0.042 deaths avoided per patient (SE
//! about 0.012) and an incremental cost of about 2,080 (SE about 440), an ICER about 50,000, so
//! both ICER intervals are bounded in most trials; and [`Scenario::vague`], an effect of about
//! 0.006 (well under its SE of 0.013), an ICER about 350,000, so the ICER intervals are mostly
//! unbounded (`AtLeast`, `Outside`, `Unbounded`), to check they still cover. The estimates of
//! dC and dE are negatively correlated (about -0.4, over trials and within the bootstrap), so
//! Fieller's interval and the net benefit depend on the bootstrap covariance. A trial's
//! interval covers the truth when the truth lies in the set it describes, whatever its shape
//! ([`contains`]).
//!
//! An `Unbounded` acceptability interval contains every value, as the library documents it. The
//! library also returns `Unbounded` when the acceptability curve stays below `alpha/2` at every
//! willingness to pay (dE significantly below 0 with dC above it: the treatment is dominated),
//! where the data exclude every positive ICER; such trials count as covering here, by the
//! library's semantics, and are reported apart with the coverage counting them as misses.
//!
//! The ignored test [`icer_interval_coverage`] runs 500 trials of each scenario with B = 500
//! joint bootstrap replicates (seed = trial index), prints per interval the coverage, its Monte
//! Carlo SE, misses below and above, the shapes of the ICER intervals and failures. It asserts
//! that the percentile intervals of dC and dE cover in 90.5% to 97.5% of the trials in both
//! scenarios (3 Monte Carlo SEs around the 94-95% of a cluster bootstrap with 40 clusters,
//! whose variance runs a few percent low like the CR0 sandwich's; see
//! [`icer_delta_method_comparison`]), and that the ICER intervals (acceptability-curve
//! inversion and Fieller's with the bootstrap covariance, neither exact) and the net benefit's
//! percentile intervals cover in at least 90%. On every trial it also checks two identities
//! that involve no Monte Carlo noise ([`check_identities`]): Fieller's interval holds the true
//! ICER R exactly when the Wald test of `NMB(R) = 0` with the bootstrap variance accepts, and
//! the acceptability interval exactly when `alpha/2 <= CEAC(R) <= 1 - alpha/2`. So the ICER
//! intervals' coverage is that of a test of the net benefit at the true ICER, and the
//! acceptability interval's nearly equals that of the NMB percentile interval at R. Run it with
//!
//! ```text
//! cargo test --release --test icer_coverage -- --ignored --nocapture
//! ```
//!
//! The environment variables `STEPWEDGE_ICER_TRIALS` and `STEPWEDGE_ICER_REPLICATES` override
//! the number of trials (per scenario) and of bootstrap replicates; the coverage criteria are
//! asserted only with at least 500 trials, where one Monte Carlo standard error of a coverage
//! near 95% is about 1 percentage point.

mod common;
use common::FitThen;

use std::time::Instant;

use common::{env_count, integrated_risk, inverse_logit, mean, sd};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Gamma, StandardNormal};
use stepwedge::data::{Cohort, Column};
use stepwedge::effects::cost_effectiveness::{
    cost_effectiveness, CostEffectivenessSpec, IcerInterval,
};
use stepwedge::effects::crude::Estimate;
use stepwedge::effects::standardise::Standardisation;
use stepwedge::models::glm::{Family, Glm};
use stepwedge::models::glmm::Glmm;
use stepwedge::models::vcov::VcovKind;

const EFFECT_FORMULA: &str = "death30 ~ treated + factor(period) + (1 | cluster)";
const COST_FORMULA: &str = "cost ~ treated + factor(period)";

/// The stepped-wedge design and the true death and cost models.
#[derive(Debug, Clone)]
struct Scenario {
    name: &'static str,
    clusters: usize,
    periods: usize,
    waves: usize,
    /// Patients per cluster-period, uniform on `min..=max`.
    min_patients: usize,
    max_patients: usize,
    /// Death: intercept, treatment, period effects (the first 0), cluster SD.
    b0: f64,
    b_trt: f64,
    gamma: Vec<f64>,
    sigma: f64,
    /// Cost (log scale): intercept, treatment, period effects (the first 0), cluster SD, the
    /// correlation of the cost and death cluster effects, and the gamma shape.
    c0: f64,
    c_trt: f64,
    delta: Vec<f64>,
    sigma_c: f64,
    rho: f64,
    shape: f64,
    /// How much more a patient who dies costs (see the module documentation).
    death_cost: f64,
    /// Added to the trial index for the data's seed, so the scenarios draw different trials.
    seed_offset: u64,
}

impl Scenario {
    /// About 0.042 deaths avoided per patient (SE about 0.011), about 2,080 extra cost per
    /// patient (SE about 430): an ICER about 50,000 per death avoided.
    fn precise() -> Self {
        Scenario {
            name: "precise effect",
            clusters: 40,
            periods: 5,
            waves: 4,
            min_patients: 30,
            max_patients: 40,
            b0: (0.12f64 / 0.88).ln(),
            b_trt: -0.5,
            gamma: vec![0.0, -0.05, -0.10, -0.15, -0.20],
            sigma: 0.4,
            c0: 8000f64.ln(),
            c_trt: 1.25f64.ln(),
            delta: vec![0.0, 0.02, 0.04, 0.06, 0.08],
            sigma_c: 0.1,
            rho: 0.7,
            shape: 1.2,
            death_cost: 1.5,
            seed_offset: 0,
        }
    }

    /// The same design and costs with an effect well under its SE (about 0.006 deaths avoided
    /// per patient, SE about 0.012): the ICER is about 350,000 and its intervals are mostly
    /// unbounded.
    fn vague() -> Self {
        Scenario {
            name: "vague effect",
            b_trt: -0.06,
            seed_offset: 1_000_000,
            ..Scenario::precise()
        }
    }

    /// The first period (1-based) in which cluster `c` (0-based) is treated: wave w crosses at
    /// the start of period w + 2.
    fn crossover(&self, c: usize) -> usize {
        let per_wave = self.clusters.div_ceil(self.waves);
        c / per_wave + 2
    }

    /// The true (dC, dE) for patients `per_period[p]` in period p + 1.
    fn truth(&self, per_period: &[usize]) -> (f64, f64) {
        let total: usize = per_period.iter().sum();
        let average = |f: &dyn Fn(usize) -> f64| {
            per_period
                .iter()
                .enumerate()
                .map(|(p, &n)| n as f64 * f(p))
                .sum::<f64>()
                / total as f64
        };
        let cost = |a: f64, p: usize| (self.c0 + self.c_trt * a + self.delta[p]).exp();
        let risk = |a: f64, p: usize| {
            integrated_risk(self.b0 + self.b_trt * a + self.gamma[p], self.sigma)
        };
        (
            average(&|p| cost(1.0, p) - cost(0.0, p)),
            average(&|p| risk(0.0, p) - risk(1.0, p)),
        )
    }

    /// The ICER of a trial with equally many patients in every period, rounded to 1,000: the
    /// fixed willingness to pay at which the net benefit is checked.
    fn reference_wtp(&self) -> f64 {
        let (dc, de) = self.truth(&vec![1; self.periods]);
        (dc / de / 1000.0).round() * 1000.0
    }
}

/// One simulated trial: the cohort and its true incremental cost and effect.
struct Trial {
    cohort: Cohort,
    d_cost: f64,
    d_effect: f64,
}

/// Simulate trial `seed` of `scenario`.
fn simulate(scenario: &Scenario, seed: u64) -> Trial {
    let seed = seed + scenario.seed_offset;
    let mut rng =
        Xoshiro256PlusPlus::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x1CE5);
    let (mut cluster, mut period, mut treated, mut death, mut cost) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut per_period = vec![0usize; scenario.periods];
    for c in 0..scenario.clusters {
        let z: f64 = StandardNormal.sample(&mut rng);
        let w: f64 = StandardNormal.sample(&mut rng);
        let u = scenario.sigma * z;
        let z_cost = scenario.rho * z + (1.0 - scenario.rho * scenario.rho).sqrt() * w;
        let v = scenario.sigma_c * z_cost - 0.5 * scenario.sigma_c * scenario.sigma_c;
        let label = format!("C{:02}", c + 1);
        let start = scenario.crossover(c);
        for t in 1..=scenario.periods {
            let n = rng.random_range(scenario.min_patients..=scenario.max_patients);
            per_period[t - 1] += n;
            let a = usize::from(t >= start) as f64;
            let p = inverse_logit(scenario.b0 + scenario.b_trt * a + scenario.gamma[t - 1] + u);
            let mean_cost = (scenario.c0 + scenario.c_trt * a + scenario.delta[t - 1] + v).exp();
            // Given death the mean cost is multiplied by 1 + k (1 - p), given survival by
            // 1 - k p: on average by 1, whatever p.
            let k = scenario.death_cost;
            assert!(
                k * p < 1.0,
                "a cluster-period with risk {p} would have a negative cost"
            );
            let multiplier = [1.0 - k * p, 1.0 + k * (1.0 - p)];
            let noise = Gamma::new(scenario.shape, 1.0 / scenario.shape).unwrap();
            for _ in 0..n {
                let died = rng.random::<f64>() < p;
                cluster.push(Some(label.clone()));
                period.push(t as f64);
                treated.push(a);
                death.push(if died { 1.0 } else { 0.0 });
                let g: f64 = noise.sample(&mut rng);
                cost.push(mean_cost * multiplier[usize::from(died)] * g);
            }
        }
    }
    let (d_cost, d_effect) = scenario.truth(&per_period);
    let cohort = Cohort::from_columns(vec![
        ("cluster".into(), Column::from_labels(cluster).unwrap()),
        ("period".into(), Column::Numeric(period)),
        ("treated".into(), Column::Numeric(treated)),
        ("death30".into(), Column::Numeric(death)),
        ("cost".into(), Column::Numeric(cost)),
    ])
    .unwrap();
    Trial {
        cohort,
        d_cost,
        d_effect,
    }
}

/// Whether the ICER interval contains `value`, for every shape.
fn contains(interval: &IcerInterval, value: f64) -> bool {
    match *interval {
        IcerInterval::Bounded { low, high } => low <= value && value <= high,
        IcerInterval::AtLeast { low } => low <= value,
        IcerInterval::AtMost { high } => value <= high,
        IcerInterval::Outside { high_end, low_end } => value <= high_end || value >= low_end,
        IcerInterval::Unbounded => true,
    }
}

/// The shapes, in the order of [`shape_index`].
const SHAPES: [&str; 5] = ["bounded", "at least", "at most", "outside", "unbounded"];

fn shape_index(interval: &IcerInterval) -> usize {
    match interval {
        IcerInterval::Bounded { .. } => 0,
        IcerInterval::AtLeast { .. } => 1,
        IcerInterval::AtMost { .. } => 2,
        IcerInterval::Outside { .. } => 3,
        IcerInterval::Unbounded => 4,
    }
}

/// Hits and misses of one kind of interval (a percentile interval or an ICER interval).
#[derive(Debug, Default, Clone)]
struct Tally {
    n: usize,
    covered: usize,
    /// The interval lies entirely below the truth (for an ICER interval: a miss whose interval
    /// has a point above the truth is counted as above, see [`Tally::add_icer`]).
    below: usize,
    above: usize,
    /// Summed widths of the percentile intervals.
    width: f64,
    /// ICER intervals: trials and hits per shape.
    shapes: [usize; 5],
    shape_covered: [usize; 5],
}

impl Tally {
    fn add(&mut self, e: &Estimate, truth: f64) {
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

    fn add_icer(&mut self, interval: &IcerInterval, truth: f64) {
        self.n += 1;
        let s = shape_index(interval);
        self.shapes[s] += 1;
        if contains(interval, truth) {
            self.covered += 1;
            self.shape_covered[s] += 1;
            return;
        }
        // A miss: is the truth above the set (every point of it below the truth)?
        let entirely_below = match *interval {
            IcerInterval::Bounded { high, .. } | IcerInterval::AtMost { high } => high < truth,
            _ => false,
        };
        if entirely_below {
            self.below += 1;
        } else {
            self.above += 1;
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

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma) * (x - ma)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb) * (y - mb)).sum();
    cov / (va * vb).sqrt()
}

/// What a coverage run of one scenario found.
#[derive(Debug, Default)]
struct Coverage {
    trials: usize,
    /// The fixed willingness to pay of the net-benefit check.
    wtp: f64,
    /// Trials whose fits or bootstrap returned an error, with the first message.
    failed_trials: usize,
    first_error: Option<String>,
    /// Bootstrap replicates drawn and failed (left out), over the successful trials.
    replicates: usize,
    failed_replicates: usize,
    d_cost: Tally,
    d_effect: Tally,
    /// Net benefit at willingness to pay 0 (= -dC), the fixed `wtp`, and the trial's own true
    /// ICER (where the true net benefit is 0).
    nmb_zero: Tally,
    nmb_fixed: Tally,
    nmb_at_truth: Tally,
    acceptability: Tally,
    fieller: Tally,
    /// Trials where the acceptability interval and the net-benefit percentile interval at the
    /// true ICER disagree on covering (they nearly always agree: both ask whether the share of
    /// replicates with `R dE_b - dC_b > 0` lies within `[alpha/2, 1 - alpha/2]`, the percentile
    /// interval with type-7 interpolation between replicates).
    ceac_nmb_disagree: usize,
    /// Identity checks on each trial's replicates (see [`check_identities`]): trials where the
    /// acceptability interval's covering the true ICER R disagrees with
    /// `alpha/2 <= CEAC(R) <= 1 - alpha/2`, and where Fieller's disagrees with the Wald test
    /// `|R dE - dC| <= q sd_b(R dE_b - dC_b)`; the cases of the first that are an `Unbounded`
    /// acceptability interval while `CEAC(R) < alpha/2` (a treatment significantly less
    /// effective and more costly) are counted apart, in `unbounded_dominated`.
    ceac_identity_mismatch: usize,
    fieller_identity_mismatch: usize,
    unbounded_dominated: usize,
    /// The first few disagreements of any kind, described.
    disagreements: Vec<String>,
    /// Trials whose dE percentile interval lies above 0, and below 0.
    effect_significant: usize,
    effect_harmful: usize,
    /// Trials whose point estimate lies outside the north-east quadrant.
    other_quadrant: usize,
    true_cost: Vec<f64>,
    true_effect: Vec<f64>,
    true_icer: Vec<f64>,
    cost_errors: Vec<f64>,
    effect_errors: Vec<f64>,
    cost_boot_sd: Vec<f64>,
    effect_boot_sd: Vec<f64>,
    /// Per trial, the correlation of the bootstrap pairs.
    boot_correlation: Vec<f64>,
    /// The estimates (dC, dE), for their correlation over trials.
    cost_estimates: Vec<f64>,
    effect_estimates: Vec<f64>,
}

fn run(scenario: &Scenario, trials: usize, replicates: usize) -> Coverage {
    let cost_model = Glm::new(COST_FORMULA)
        .unwrap()
        .family(Family::Gamma)
        .cluster("cluster");
    let effect_model = Glmm::new(EFFECT_FORMULA).unwrap();
    let wtp = scenario.reference_wtp();
    let mut out = Coverage {
        trials,
        wtp,
        ..Coverage::default()
    };
    let started = Instant::now();
    for trial in 0..trials as u64 {
        if trial > 0 && trial % 100 == 0 {
            eprintln!(
                "{}: {trial} of {trials} trials, {:.0} s",
                scenario.name,
                started.elapsed().as_secs_f64()
            );
        }
        let sim = simulate(scenario, trial);
        let true_icer = sim.d_cost / sim.d_effect;
        assert!(
            sim.d_cost > 0.0 && sim.d_effect > 0.0,
            "the design needs a positive ICER"
        );
        let spec = CostEffectivenessSpec::new("treated")
            .bootstrap(replicates, trial)
            .willingness_to_pay(vec![0.0, wtp, true_icer]);
        let fits = cost_model
            .fit(&sim.cohort)
            .and_then(|cost| Ok((cost, effect_model.fit(&sim.cohort)?)));
        let joint =
            fits.and_then(|(cost, effect)| cost_effectiveness(&cost, &effect, &sim.cohort, &spec));
        let ce = match joint {
            Ok(ce) => ce,
            Err(e) => {
                out.failed_trials += 1;
                out.first_error
                    .get_or_insert_with(|| format!("trial {trial}: {e}"));
                continue;
            }
        };
        out.replicates += replicates;
        out.failed_replicates += ce.failed;
        out.true_cost.push(sim.d_cost);
        out.true_effect.push(sim.d_effect);
        out.true_icer.push(true_icer);
        out.d_cost.add(&ce.incremental_cost, sim.d_cost);
        out.d_effect.add(&ce.incremental_effect, sim.d_effect);
        let nmb = |k: usize| {
            assert_eq!(
                ce.net_benefit[k].willingness_to_pay,
                spec_wtp(k, wtp, true_icer)
            );
            ce.net_benefit[k].net_benefit
        };
        out.nmb_zero.add(&nmb(0), -sim.d_cost);
        out.nmb_fixed.add(&nmb(1), wtp * sim.d_effect - sim.d_cost);
        let at_truth = nmb(2);
        out.nmb_at_truth.add(&at_truth, 0.0);
        out.acceptability.add_icer(&ce.icer_interval, true_icer);
        out.fieller.add_icer(&ce.fieller, true_icer);
        let nmb_covers = at_truth.ci_low <= 0.0 && 0.0 <= at_truth.ci_high;
        let identities = check_identities(&ce, true_icer);
        let ceac_covers = contains(&ce.icer_interval, true_icer);
        let mut disagreement = None;
        if nmb_covers != ceac_covers {
            out.ceac_nmb_disagree += 1;
            disagreement = Some("acceptability vs NMB percentile");
        }
        if identities.ceac_expected != ceac_covers {
            if ce.icer_interval == IcerInterval::Unbounded && identities.ceac < 0.5 {
                out.unbounded_dominated += 1;
                disagreement = Some("acceptability Unbounded with CEAC(R) < alpha/2");
            } else {
                out.ceac_identity_mismatch += 1;
                disagreement = Some("acceptability vs CEAC(R) identity");
            }
        }
        if let Some(expected) = identities.fieller_expected {
            if expected != contains(&ce.fieller, true_icer) {
                out.fieller_identity_mismatch += 1;
                disagreement = Some("Fieller vs Wald identity");
            }
        }
        if let (Some(kind), true) = (disagreement, out.disagreements.len() < 8) {
            out.disagreements.push(format!(
                "trial {trial} ({kind}): true ICER {true_icer:.1}, acceptability {:?}, Fieller \
                 {:?}, NMB at it [{:.2}, {:.2}], CEAC at it {:.4}; dE [{:.4}, {:.4}], dC [{:.1}, \
                 {:.1}]",
                ce.icer_interval,
                ce.fieller,
                at_truth.ci_low,
                at_truth.ci_high,
                identities.ceac,
                ce.incremental_effect.ci_low,
                ce.incremental_effect.ci_high,
                ce.incremental_cost.ci_low,
                ce.incremental_cost.ci_high
            ));
        }
        out.effect_significant += usize::from(ce.incremental_effect.ci_low > 0.0);
        out.effect_harmful += usize::from(ce.incremental_effect.ci_high < 0.0);
        out.other_quadrant += usize::from(
            !(ce.incremental_cost.estimate >= 0.0 && ce.incremental_effect.estimate >= 0.0),
        );
        out.cost_errors
            .push(ce.incremental_cost.estimate - sim.d_cost);
        out.effect_errors
            .push(ce.incremental_effect.estimate - sim.d_effect);
        out.cost_estimates.push(ce.incremental_cost.estimate);
        out.effect_estimates.push(ce.incremental_effect.estimate);
        let (bc, be): (Vec<f64>, Vec<f64>) = ce.replicates.iter().map(|p| (p[0], p[1])).unzip();
        out.cost_boot_sd.push(sd(&bc));
        out.effect_boot_sd.push(sd(&be));
        out.boot_correlation.push(correlation(&bc, &be));
    }
    out
}

/// The willingness to pay asked for at position `k` of the spec.
fn spec_wtp(k: usize, fixed: f64, true_icer: f64) -> f64 {
    [0.0, fixed, true_icer][k]
}

/// What each ICER interval should say about a value R, from the replicates themselves.
struct Identities {
    /// `CEAC(R)`: the share of replicates with `R dE_b - dC_b > 0`.
    ceac: f64,
    /// Whether `alpha/2 <= CEAC(R) <= 1 - alpha/2`: the acceptability interval is the set of
    /// willingness-to-pay values where the curve lies within those limits (exactly so when the
    /// curve is monotone, as when every `dE_b > 0`).
    ceac_expected: bool,
    /// Whether `|R dE - dC| <= q sd_b(R dE_b - dC_b)`, q the normal quantile: Fieller's set is
    /// the solution of `(dC - R dE)^2 <= q^2 (V_C - 2 R V_CE + R^2 V_E)`, and the right side is
    /// `q^2` times the bootstrap variance of `R dE_b - dC_b`. `None` within 1e-9 of the edge.
    fieller_expected: Option<bool>,
}

fn check_identities(
    ce: &stepwedge::effects::cost_effectiveness::CostEffectiveness,
    r: f64,
) -> Identities {
    let alpha = 1.0 - ce.level;
    let nmb: Vec<f64> = ce.replicates.iter().map(|[c, e]| r * e - c).collect();
    let ceac = nmb.iter().filter(|&&v| v > 0.0).count() as f64 / nmb.len() as f64;
    let q = stepwedge::core::dist::normal_quantile(1.0 - alpha / 2.0);
    let (lhs, rhs) = (
        (r * ce.incremental_effect.estimate - ce.incremental_cost.estimate).abs(),
        q * sd(&nmb),
    );
    Identities {
        ceac,
        ceac_expected: alpha / 2.0 <= ceac && ceac <= 1.0 - alpha / 2.0,
        fieller_expected: ((lhs - rhs).abs() > 1e-9 * rhs).then_some(lhs <= rhs),
    }
}

fn print_report(c: &Coverage, scenario: &Scenario, replicates: usize) {
    let n = c.true_icer.len();
    println!(
        "\n=== {}: {} trials, B = {replicates}, {} clusters x {} periods, {} waves, {}-{} \
         patients per cluster-period ===",
        scenario.name,
        c.trials,
        scenario.clusters,
        scenario.periods,
        scenario.waves,
        scenario.min_patients,
        scenario.max_patients
    );
    println!(
        "death: b0 = {:.4}, b_trt = {}, sigma = {}; cost: exp(c0) = {:.0}, exp(c_trt) = {:.3}, \
         sigma_c = {}, rho = {}, gamma shape {}",
        scenario.b0,
        scenario.b_trt,
        scenario.sigma,
        scenario.c0.exp(),
        scenario.c_trt.exp(),
        scenario.sigma_c,
        scenario.rho,
        scenario.shape
    );
    if n == 0 {
        println!("no successful trials");
    } else {
        println!(
            "truth (mean over trials, sd): dC {:.2} ({:.2}), dE {:.5} ({:.1e}), ICER {:.0} ({:.0}); \
             fixed willingness to pay {:.0}",
            mean(&c.true_cost),
            sd(&c.true_cost),
            mean(&c.true_effect),
            sd(&c.true_effect),
            mean(&c.true_icer),
            sd(&c.true_icer),
            c.wtp
        );
        println!(
            "{:<26} {:>5} {:>9} {:>7} {:>6} {:>6} {:>12}",
            "interval", "n", "coverage", "MC se", "below", "above", "mean width"
        );
        let rows: [(&str, &Tally); 7] = [
            ("dC percentile", &c.d_cost),
            ("dE percentile", &c.d_effect),
            ("NMB(0) percentile", &c.nmb_zero),
            ("NMB(fixed wtp) percentile", &c.nmb_fixed),
            ("NMB(true ICER) percentile", &c.nmb_at_truth),
            ("ICER acceptability", &c.acceptability),
            ("ICER Fieller", &c.fieller),
        ];
        for (k, (name, t)) in rows.iter().enumerate() {
            let width = if k < 5 {
                format!("{:>12.4}", t.mean_width())
            } else {
                format!("{:>12}", "-")
            };
            println!(
                "{:<26} {:>5} {:>8.2}% {:>6.2}% {:>6} {:>6} {width}",
                name,
                t.n,
                100.0 * t.coverage(),
                100.0 * t.mc_se(),
                t.below,
                t.above
            );
        }
        println!("ICER interval shapes (trials / covering):");
        for (name, t) in [("acceptability", &c.acceptability), ("Fieller", &c.fieller)] {
            let cells: Vec<String> = SHAPES
                .iter()
                .enumerate()
                .map(|(s, shape)| format!("{shape} {}/{}", t.shapes[s], t.shape_covered[s]))
                .collect();
            println!("  {name:<14} {}", cells.join(", "));
        }
        println!(
            "identities at the true ICER R: acceptability vs alpha/2 <= CEAC(R) <= 1 - alpha/2 \
             disagree in {} trials, Fieller vs the Wald test of NMB(R) = 0 in {}; acceptability \
             Unbounded although CEAC(R) < alpha/2 in {} (acceptability coverage counting them as \
             misses: {:.2}%); acceptability vs NMB(R) percentile disagree in {}",
            c.ceac_identity_mismatch,
            c.fieller_identity_mismatch,
            c.unbounded_dominated,
            100.0 * (c.acceptability.covered - c.unbounded_dominated) as f64
                / c.acceptability.n as f64,
            c.ceac_nmb_disagree
        );
        println!(
            "effect significant (dE interval above 0) in {} trials, below 0 in {}; point estimate \
             outside the NE quadrant in {}",
            c.effect_significant, c.effect_harmful, c.other_quadrant
        );
        for d in &c.disagreements {
            println!("  {d}");
        }
        for (name, errors, boot) in [
            ("dC", &c.cost_errors, &c.cost_boot_sd),
            ("dE", &c.effect_errors, &c.effect_boot_sd),
        ] {
            println!(
                "{name}: mean (estimate - truth) {:+.3e} (MC se {:.1e}); sd of errors {:.4e}, \
                 mean bootstrap sd {:.4e}",
                mean(errors),
                sd(errors) / (errors.len() as f64).sqrt(),
                sd(errors),
                mean(boot)
            );
        }
        println!(
            "correlation of (dC, dE): over trials {:.3}, mean within-trial bootstrap {:.3}",
            correlation(&c.cost_estimates, &c.effect_estimates),
            mean(&c.boot_correlation)
        );
    }
    println!(
        "failures: {} of {} trials ({}); {} of {} bootstrap replicates",
        c.failed_trials,
        c.trials,
        c.first_error.as_deref().unwrap_or("none"),
        c.failed_replicates,
        c.replicates
    );
}

fn assert_band(name: &str, t: &Tally, low: f64, high: f64) {
    let coverage = t.coverage();
    assert!(
        (low..=high).contains(&coverage),
        "{name} covers the truth in {} of {} trials ({:.1}%), outside {:.0}-{:.0}%",
        t.covered,
        t.n,
        100.0 * coverage,
        100.0 * low,
        100.0 * high
    );
}

#[test]
#[ignore = "coverage simulation: 2 x 500 trials x 500 joint bootstrap refits; minutes in release"]
fn icer_interval_coverage() {
    let trials = env_count("STEPWEDGE_ICER_TRIALS", 500);
    let replicates = env_count("STEPWEDGE_ICER_REPLICATES", 500);
    let mut results = vec![];
    for scenario in [Scenario::precise(), Scenario::vague()] {
        let started = Instant::now();
        let c = run(&scenario, trials, replicates);
        print_report(&c, &scenario, replicates);
        println!("elapsed: {:.1} s", started.elapsed().as_secs_f64());
        results.push((scenario, c));
    }
    for (scenario, c) in &results {
        assert!(
            c.failed_trials * 100 <= c.trials,
            "{}: {} of {} trials failed; the first: {:?}",
            scenario.name,
            c.failed_trials,
            c.trials,
            c.first_error
        );
        assert!(
            c.failed_replicates * 100 <= c.replicates,
            "{}: {} of {} replicates failed",
            scenario.name,
            c.failed_replicates,
            c.replicates
        );
        // Exact identities between each ICER interval and the replicates (Monte Carlo noise
        // does not enter): Fieller's interval is the inverted Wald test of NMB(R) = 0 with the
        // bootstrap variance, the acceptability interval the inverted acceptability curve. A
        // non-monotone curve (replicates in several quadrants) may rarely break the second.
        assert_eq!(
            c.fieller_identity_mismatch, 0,
            "{}: Fieller's interval disagrees with the Wald test at the true ICER",
            scenario.name
        );
        assert!(
            c.ceac_identity_mismatch * 100 <= c.trials,
            "{}: the acceptability interval disagrees with the curve at the true ICER in {} \
             trials",
            scenario.name,
            c.ceac_identity_mismatch
        );
    }
    if trials < 500 {
        println!("coverage criteria not asserted: fewer than 500 trials");
        return;
    }
    // The percentile intervals of dC and dE: 3 Monte Carlo SEs (1.0-1.1% each at 500 trials)
    // around the 94-95% that a cluster bootstrap with 40 clusters gives (its variance, like the
    // sandwich's, runs a few percent low with this few clusters; see the module documentation).
    for (scenario, c) in &results {
        let name = |what: &str| format!("{}: {what}", scenario.name);
        assert_band(&name("the dC percentile interval"), &c.d_cost, 0.905, 0.975);
        assert_band(
            &name("the dE percentile interval"),
            &c.d_effect,
            0.905,
            0.975,
        );
        for (what, t) in [
            ("the NMB(0) percentile interval", &c.nmb_zero),
            ("the NMB(fixed) percentile interval", &c.nmb_fixed),
            ("the NMB(true ICER) percentile interval", &c.nmb_at_truth),
            ("the acceptability ICER interval", &c.acceptability),
            ("Fieller's ICER interval", &c.fieller),
        ] {
            assert_band(&name(what), t, 0.90, 1.0);
        }
    }
    // The design does what it is meant to: bounded ICER intervals in most trials of the precise
    // scenario, mostly unbounded ones in the vague scenario.
    let (precise, vague) = (&results[0].1, &results[1].1);
    for t in [&precise.acceptability, &precise.fieller] {
        assert!(t.shapes[0] * 10 >= t.n * 9, "{:?}", t.shapes);
    }
    for t in [&vague.acceptability, &vague.fieller] {
        assert!(t.shapes[0] * 2 <= t.n, "{:?}", t.shapes);
    }
}

/// A diagnostic for the percentile intervals' coverage: on the same trials as
/// [`icer_interval_coverage`] (same seeds), without a bootstrap, the delta-method intervals of
/// dE (the mixed model's model-based variance) and of dC (the GLM's cluster-robust sandwich and
/// the jackknife-type CR3, t on G - 1 degrees of freedom), their mean standard errors and the
/// standard deviation of the estimates over the trials. If the delta intervals cover about as
/// often as the percentile ones on the same trials, a shortfall is in the trials drawn (or the
/// design), not in the joint bootstrap. Seconds in release.
#[test]
#[ignore = "diagnostic: delta-method intervals on the coverage trials"]
fn icer_delta_method_comparison() {
    let trials = env_count("STEPWEDGE_ICER_TRIALS", 500);
    let effect = Glmm::new(EFFECT_FORMULA).unwrap();
    let cost = |kind: VcovKind| {
        Glm::new(COST_FORMULA)
            .unwrap()
            .family(Family::Gamma)
            .cluster("cluster")
            .vcov(kind)
    };
    let costs = [
        ("sandwich", cost(VcovKind::Sandwich)),
        ("CR3", cost(VcovKind::CR3)),
    ];
    let spec = Standardisation::new("treated");
    for scenario in [Scenario::precise(), Scenario::vague()] {
        let mut effect_tally = Tally::default();
        let mut cost_tallies = [Tally::default(), Tally::default()];
        let (mut effect_se, mut cost_se) = (vec![], [vec![], vec![]]);
        let (mut effect_errors, mut cost_errors) = (vec![], vec![]);
        for trial in 0..trials as u64 {
            let sim = simulate(&scenario, trial);
            let (_, m) = effect.fit_and_standardise(&sim.cohort, &spec).unwrap();
            // RD = r_1 - r_0 = -dE.
            effect_tally.add(&m.risk_difference.delta, -sim.d_effect);
            effect_se.push(m.risk_difference.std_error);
            effect_errors.push(-m.risk_difference.estimate - sim.d_effect);
            for (k, (_, glm)) in costs.iter().enumerate() {
                let m = spec
                    .means(&glm.fit(&sim.cohort).unwrap(), &sim.cohort)
                    .unwrap();
                cost_tallies[k].add(&m.difference.delta, sim.d_cost);
                cost_se[k].push(m.difference.std_error);
                if k == 0 {
                    cost_errors.push(m.difference.estimate - sim.d_cost);
                }
            }
        }
        println!(
            "\n=== {}: {trials} trials, delta-method intervals ===",
            scenario.name
        );
        println!(
            "{:<22} {:>9} {:>7} {:>6} {:>6} {:>12} {:>12}",
            "interval", "coverage", "MC se", "below", "above", "mean se", "sd of est."
        );
        let row = |name: &str, t: &Tally, se: &[f64], errors: &[f64]| {
            println!(
                "{:<22} {:>8.2}% {:>6.2}% {:>6} {:>6} {:>12.4e} {:>12.4e}",
                name,
                100.0 * t.coverage(),
                100.0 * t.mc_se(),
                t.below,
                t.above,
                mean(se),
                sd(errors)
            );
        };
        row(
            "dE (RD) model-based",
            &effect_tally,
            &effect_se,
            &effect_errors,
        );
        for (k, (name, _)) in costs.iter().enumerate() {
            row(
                &format!("dC {name}"),
                &cost_tallies[k],
                &cost_se[k],
                &cost_errors,
            );
        }
    }
}

/// `contains` for every shape, and the truth's integral against its limit and symmetry.
#[test]
fn contains_and_truth_are_right() {
    let bounded = IcerInterval::Bounded {
        low: 10.0,
        high: 20.0,
    };
    assert!(contains(&bounded, 10.0) && contains(&bounded, 15.0) && contains(&bounded, 20.0));
    assert!(!contains(&bounded, 9.9) && !contains(&bounded, 20.1));
    let at_least = IcerInterval::AtLeast { low: 10.0 };
    assert!(contains(&at_least, 10.0) && contains(&at_least, 1e12) && !contains(&at_least, 5.0));
    let at_most = IcerInterval::AtMost { high: 10.0 };
    assert!(contains(&at_most, -1e12) && contains(&at_most, 10.0) && !contains(&at_most, 11.0));
    let outside = IcerInterval::Outside {
        high_end: -5.0,
        low_end: 10.0,
    };
    assert!(contains(&outside, -6.0) && contains(&outside, 10.0) && contains(&outside, 1e12));
    assert!(!contains(&outside, 0.0) && !contains(&outside, 9.0));
    assert!(contains(&IcerInterval::Unbounded, 123.0));

    let mut t = Tally::default();
    t.add_icer(&bounded, 25.0);
    t.add_icer(&bounded, 5.0);
    t.add_icer(&at_least, 5.0);
    t.add_icer(&outside, 0.0);
    t.add_icer(&IcerInterval::Unbounded, 0.0);
    assert_eq!((t.n, t.covered, t.below, t.above), (5, 1, 1, 3));
    assert_eq!(t.shapes, [2, 1, 0, 1, 1]);

    for eta in [-2.0, -0.3, 1.5] {
        assert!((integrated_risk(eta, 0.7) + integrated_risk(-eta, 0.7) - 1.0).abs() < 1e-13);
        assert!((integrated_risk(eta, 1e-300) - inverse_logit(eta)).abs() < 1e-14);
    }
    // The scenarios' expected truths: about 0.042 and 0.006 deaths avoided, 2,080 extra cost.
    let (dc, de) = Scenario::precise().truth(&[1; 5]);
    assert!(
        (1950.0..2200.0).contains(&dc) && (0.037..0.047).contains(&de),
        "{dc} {de}"
    );
    let (_, de) = Scenario::vague().truth(&[1; 5]);
    assert!((0.004..0.008).contains(&de), "{de}");
}

/// The coverage machinery on 3 trials of the precise scenario with B = 100: every interval
/// exists, the truths are plausible, so the code path stays compiled and exercised.
#[test]
fn icer_coverage_machinery_runs() {
    let scenario = Scenario::precise();
    let c = run(&scenario, 3, 100);
    print_report(&c, &scenario, 100);
    assert_eq!(c.failed_trials, 0, "{:?}", c.first_error);
    assert_eq!(c.replicates, 300);
    assert!(c.failed_replicates <= 10);
    for t in [
        &c.d_cost,
        &c.d_effect,
        &c.nmb_zero,
        &c.nmb_fixed,
        &c.nmb_at_truth,
    ] {
        assert_eq!(t.n, 3);
        assert!(t.mean_width() > 0.0 && t.mean_width().is_finite());
    }
    assert_eq!(c.acceptability.n, 3);
    // The joint bootstrap's dC and dE intervals are the separate marginal bootstraps' intervals
    // of the risk difference with the same seed (dE = -RD for an adverse outcome).
    let sim = simulate(&scenario, 0);
    let cost = Glm::new(COST_FORMULA)
        .unwrap()
        .family(Family::Gamma)
        .cluster("cluster")
        .fit(&sim.cohort)
        .unwrap();
    let effect = Glmm::new(EFFECT_FORMULA).unwrap().fit(&sim.cohort).unwrap();
    let ce = cost_effectiveness(
        &cost,
        &effect,
        &sim.cohort,
        &CostEffectivenessSpec::new("treated").bootstrap(100, 0),
    )
    .unwrap();
    let spec = Standardisation::new("treated").bootstrap(100, 0);
    let rd = spec.apply(&effect, &sim.cohort).unwrap();
    let dc = spec.means(&cost, &sim.cohort).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + a.abs());
    let rd = rd.risk_difference.percentile.unwrap();
    let e = &ce.incremental_effect;
    assert!(
        close(e.ci_low, -rd.ci_high) && close(e.ci_high, -rd.ci_low),
        "{e:?} {rd:?}"
    );
    let dc = dc.difference.percentile.unwrap();
    let k = &ce.incremental_cost;
    assert!(
        close(k.ci_low, dc.ci_low) && close(k.ci_high, dc.ci_high),
        "{k:?} {dc:?}"
    );
    assert_eq!(c.fieller.n, 3);
    assert_eq!(
        (c.ceac_identity_mismatch, c.fieller_identity_mismatch),
        (0, 0),
        "{:?}",
        c.disagreements
    );
    for ((&dc, &de), &icer) in c.true_cost.iter().zip(&c.true_effect).zip(&c.true_icer) {
        assert!((1950.0..2200.0).contains(&dc), "true dC {dc}");
        assert!((0.037..0.047).contains(&de), "true dE {de}");
        assert!((icer - dc / de).abs() < 1e-9 * icer);
    }
}
