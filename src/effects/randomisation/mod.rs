//! Randomisation tests and intervals for a treatment that follows a crossover schedule (a
//! stepped wedge, or a staggered rollout with clusters never treated), for any fitted model
//! (GLM, GLMM, LMM, GEE) through [`Fitted`].
//!
//! **The schedule.** Each cluster's crossover is read from the data: the first period in which
//! its patients are treated (none for a cluster never treated). Every patient of a
//! cluster-period must have the same treatment, and a cluster treated in one period must be
//! treated in every later period it has patients; otherwise the error names the cluster.
//!
//! **The allocations.** Under the randomisation the trial used, any permutation of the clusters'
//! crossovers (within strata, when a stratum column is given) was as likely as the observed one.
//! The reference set Pi is every distinct allocation when there are at most `max_exact`
//! (default 10,000), enumerated in ascending lexicographic order of the crossover vector (see
//! `allocations` in the source); otherwise N allocations drawn uniformly with a seeded generator
//! (default 10,000, seed 1), all drawn before any refit.
//!
//! **The statistic.** Under allocation pi the model is refitted with the treatment column set to
//! `1[period >= crossover_pi(cluster)]` ([`Fitted::refit_assigned`]), starting from the observed
//! fit's estimate, in parallel (the result does not depend on the number of threads). `T_pi` is
//! the treatment's estimate ([`Statistic::Estimate`]), its Wald statistic `estimate / SE` under
//! the fit's variance estimator ([`Statistic::Wald`]), or a function of the refit
//! ([`Statistic::custom`]). The observed allocation's statistic `T_obs` is the fit's own.
//!
//! **The p-values.** With every allocation of the exact set (the observed one included, its
//! statistic `T_obs`), `p = #{pi : |T_pi| >= |T_obs|} / |Pi|` (two-sided),
//! `p_upper = #{T_pi >= T_obs} / |Pi|`, `p_lower = #{T_pi <= T_obs} / |Pi|`; comparisons
//! allow `1e-7 max(1, |T_obs|)` for the refits' rounding. From N Monte Carlo allocations,
//! `p = (1 + #{b : |T_b| >= |T_obs|}) / (N + 1)` (the observed allocation counted once), and its
//! Monte Carlo standard error `sqrt(p (1 - p) / N)`. A refit that fails (no convergence, a
//! statistic that is not finite) is counted in `failed` with the first reason and left out of
//! the counts (the denominators are the allocations whose refit succeeded); more than 10% failed
//! is [`Error::RefitsFailed`]. Refits whose random-effect SD ends on its boundary (singular) are
//! kept and counted in `singular`.
//!
//! **The interval** (test inversion, Rabideau & Wang 2021). Under the shifted null hypothesis that
//! the treatment's effect is d, the outcome model of every allocation gains the offset
//! `d x_obs` (`x_obs` the observed treatment; for a linear model, `y - d x_obs`), and
//! `T_pi(d)` is the refit's statistic; the observed allocation's is the fit's with its
//! estimate moved by `-d` (`beta^ - d`, the same likelihood). `p(d)` is the p-value above
//! computed from `T_pi(d)` and `T_obs(d)`. The interval is the set of d the test does not reject:
//! - [`Inversion::TwoSided`] (default; the inversion of the two-sided test, as Ji et al. 2017):
//!   `p(d) > alpha` (a p-value within 1e-9 of alpha counts as equal to it: `1 - level` is
//!   rounded, a share of allocations such as 12 / 120 is not);
//! - [`Inversion::EqualTailed`] (Rabideau & Wang's equal tails): `p_upper(d) > alpha / 2`
//!   for the lower bound and `p_lower(d) > alpha / 2` for the upper.
//!
//! `p(d)` is a step function of d; each bound is the root of a continuous function whose sign
//! says whether d is accepted: for the two-sided test `|T|_(k)(d) - |T_obs(d)|`, the k-th
//! largest `|T_pi(d)|` less `|T_obs(d)|` with k the fewest exceedances for which `p > alpha`
//! (for equal tails the k-th largest `T_pi(d) - T_obs(d)`, or smallest, at `alpha / 2`). From
//! the estimate (accepted) outwards by steps of its standard error, doubling, a bound is
//! bracketed and found by the Illinois method to `1e-4` standard errors. A side on which no
//! rejected d is found within 64 standard errors (too few allocations to ever reject, or a
//! statistic that stops moving) is reported open (`None`). The refits it took are counted.
//!
//! ```no_run
//! use stepwedge::data::{Cohort, LoadOptions};
//! use stepwedge::effects::randomisation::Randomisation;
//! use stepwedge::models::glmm::Glmm;
//! # fn main() -> stepwedge::core::error::Result<()> {
//! let cohort = Cohort::from_csv_path("trial.csv", &LoadOptions::default())?;
//! let fit = Glmm::new("y ~ treated + factor(period) + (1 | cluster)")?.fit(&cohort)?;
//! let test = Randomisation::new("treated").interval(0.95).run(&fit, &cohort)?;
//! println!("{test}");
//! # Ok(()) }
//! ```

mod allocations;
mod interval;
mod schedule;
mod summary;
mod test;

use std::sync::Arc;

use serde::Serialize;

use crate::core::builder::builder_methods;
use crate::core::error::{Error, Result};
use crate::data::Cohort;
use crate::models::fitted::{Fitted, Refit};

pub use schedule::Schedule;
pub use test::Prepared;

/// The statistic of the randomisation distribution.
#[derive(Clone, Default)]
pub enum Statistic {
    /// The treatment's estimate (a log odds ratio, log relative risk or difference).
    #[default]
    Estimate,
    /// Its Wald statistic, `estimate / SE` under the fit's variance estimator.
    Wald,
    /// A function of each refit and the treatment's design column (see [`Statistic::custom`]).
    Custom(CustomStatistic),
}

/// A user's statistic: a name and a function of a refit (its `psi` and, computed for it, the
/// standard errors of beta) and the treatment's design column.
#[derive(Clone)]
pub struct CustomStatistic {
    name: String,
    function: Arc<StatisticFunction>,
}

/// The function of a [`CustomStatistic`].
type StatisticFunction = dyn Fn(&Refit, usize) -> f64 + Send + Sync;

impl Statistic {
    /// A statistic computed by `function` from each refit and the treatment's design column
    /// (the observed one from the fit's estimates and standard errors).
    pub fn custom(
        name: &str,
        function: impl Fn(&Refit, usize) -> f64 + Send + Sync + 'static,
    ) -> Statistic {
        Statistic::Custom(CustomStatistic {
            name: name.to_string(),
            function: Arc::new(function),
        })
    }

    /// `estimate`, `wald` or the custom statistic's name.
    pub fn name(&self) -> &str {
        match self {
            Statistic::Estimate => "estimate",
            Statistic::Wald => "wald",
            Statistic::Custom(c) => &c.name,
        }
    }

    /// Whether the refits need standard errors.
    fn needs_std_errors(&self) -> bool {
        !matches!(self, Statistic::Estimate)
    }

    /// The statistic of `refit` (treatment column `column`), or why there is none.
    fn of(&self, refit: &Refit, column: usize) -> Result<f64> {
        let value = match self {
            Statistic::Estimate => refit.psi[column],
            Statistic::Wald => {
                let se = refit.std_errors.as_ref().map_or(f64::NAN, |s| s[column]);
                refit.psi[column] / se
            }
            Statistic::Custom(c) => (c.function)(refit, column),
        };
        if value.is_finite() {
            Ok(value)
        } else {
            Err(Error::Numerical {
                what: format!("the {} statistic of a refit", self.name()),
                message: format!("it is {value}"),
            })
        }
    }
}

impl std::fmt::Debug for Statistic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Statistic({})", self.name())
    }
}

/// How the interval inverts the test (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Inversion {
    /// The d with two-sided `p(d) > alpha`.
    #[default]
    TwoSided,
    /// The d with `p_upper(d) > alpha / 2` (lower bound) and `p_lower(d) > alpha / 2` (upper).
    EqualTailed,
}

/// A randomisation test (and interval) of a fitted model's treatment effect.
#[derive(Debug, Clone)]
pub struct Randomisation {
    treatment: String,
    cluster: Option<String>,
    period: String,
    strata: Option<String>,
    max_exact: usize,
    draws: usize,
    seed: u64,
    statistic: Statistic,
    interval: Option<f64>,
    inversion: Inversion,
    progress: bool,
}

impl Randomisation {
    /// The test of the numeric 0/1 column `treatment`: clusters from the mixed model's grouping
    /// factor (or the GLM's or GEE's cluster column), periods from `period`, every allocation
    /// when there are at most 10,000, otherwise 10,000 drawn with seed 1, the estimate as
    /// statistic, no interval.
    pub fn new(treatment: &str) -> Self {
        Randomisation {
            treatment: treatment.to_string(),
            cluster: None,
            period: "period".to_string(),
            strata: None,
            max_exact: 10_000,
            draws: 10_000,
            seed: 1,
            statistic: Statistic::Estimate,
            interval: None,
            inversion: Inversion::TwoSided,
            progress: false,
        }
    }

    builder_methods! {
        /// The cluster column (default: the fit's clusters).
        cluster(&mut this, column: &str) { this.cluster = Some(column.to_string()); }

        /// The period column (default `period`).
        period(&mut this, column: &str) { this.period = column.to_string(); }

        /// Permute crossovers only among the clusters of each stratum of `column`.
        strata(&mut this, column: &str) { this.strata = Some(column.to_string()); }

        /// Enumerate every allocation when there are at most `most` (default 10,000).
        max_exact(&mut this, most: usize) { this.max_exact = most; }

        /// Otherwise draw `draws` allocations with `seed` (default 10,000 with seed 1).
        monte_carlo(&mut this, draws: usize, seed: u64) { this.draws = draws; this.seed = seed; }

        /// The statistic (default the estimate).
        statistic(&mut this, statistic: Statistic) { this.statistic = statistic; }

        /// Also the randomisation interval at confidence `level` (e.g. 0.95).
        interval(&mut this, level: f64) { this.interval = Some(level); }

        /// How the interval inverts the test (default two-sided).
        inversion(&mut this, inversion: Inversion) { this.inversion = inversion; }

        /// Show the refits' progress on stderr (default off; the numbers are the same).
        progress(&mut this, show: bool) { this.progress = show; }
    }

    /// Read the schedule and allocations for `fit` (fitted to `cohort`) and run the test, with
    /// the interval if asked for.
    pub fn run<F: Fitted>(&self, fit: &F, cohort: &Cohort) -> Result<RandomisationTest> {
        self.prepare(fit, cohort)?.test()
    }
}

/// The result of a randomisation test.
#[derive(Debug, Clone, Serialize)]
pub struct RandomisationTest {
    /// The treatment column.
    pub treatment: String,
    /// The statistic's name.
    pub statistic: String,
    /// The observed statistic `T_obs`.
    pub observed: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// `P(T <= T_obs)`.
    pub p_lower: f64,
    /// `P(T >= T_obs)`.
    pub p_upper: f64,
    /// Allocations in the reference distribution: every distinct one (exact), or the draws.
    pub n_allocations: usize,
    /// Distinct allocations there are.
    pub n_possible: f64,
    /// Whether every distinct allocation was used.
    pub exact: bool,
    /// The Monte Carlo standard error of `p_value` (None when exact).
    pub mc_se: Option<f64>,
    /// The seed of the draws (None when exact).
    pub seed: Option<u64>,
    /// Refits that failed (left out of the p-values).
    pub failed: usize,
    /// The first failure's reason.
    pub first_failure: Option<String>,
    /// Refits with a random-effect SD on its boundary (kept).
    pub singular: usize,
    /// The schedule read from the data.
    pub schedule: Schedule,
    /// Each allocation (crossover codes as period indices, `None` never treated), in the
    /// order of [`RandomisationTest::statistics`].
    #[serde(skip)]
    pub allocations: Vec<Vec<Option<usize>>>,
    /// The statistic of each allocation (`None` where its refit failed).
    #[serde(skip)]
    pub statistics: Vec<Option<f64>>,
    /// The index of the observed allocation among `allocations` (exact test only).
    pub identity: Option<usize>,
    /// The randomisation interval, if asked for.
    pub interval: Option<RandomisationInterval>,
}

/// The randomisation distribution under the shifted null hypothesis that the treatment's effect
/// is `shift` (0: the test's own).
#[derive(Debug, Clone, Serialize)]
pub struct ShiftedDistribution {
    /// The hypothesised effect d.
    pub shift: f64,
    /// `T_obs(d)`.
    pub observed: f64,
    /// `T_pi(d)` per allocation (`None` where the refit failed), in the test's order.
    pub statistics: Vec<Option<f64>>,
    /// Two-sided p-value.
    pub p_value: f64,
    /// `P(T <= T_obs)`.
    pub p_lower: f64,
    /// `P(T >= T_obs)`.
    pub p_upper: f64,
    /// Refits made.
    pub refits: usize,
    /// Refits that failed.
    pub failed: usize,
    /// The first failure's reason.
    pub first_failure: Option<String>,
    /// Singular refits.
    pub singular: usize,
}

/// A randomisation interval by test inversion.
#[derive(Debug, Clone, Serialize)]
pub struct RandomisationInterval {
    /// Confidence level.
    pub level: f64,
    /// How the test was inverted.
    pub inversion: Inversion,
    /// The lower bound (None: open, no rejected d found below).
    pub low: Option<f64>,
    /// The upper bound (None: open).
    pub high: Option<f64>,
    /// Refits made by the search.
    pub refits: usize,
    /// Refits that failed during the search.
    pub failed: usize,
}
