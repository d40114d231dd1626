//! Simulation power: the power of the analysis that will actually be run, by simulating the
//! trial many times and running it on each.
//!
//! For a [`Design`], cluster-period sizes ([`CellSizes`]) and a data-generating model
//! ([`CountModel`]: a logistic model with cluster and cluster-period random effects on the
//! latent scale, the intervention's odds ratio (or the risks it moves between), period effects
//! and optionally an effect that builds up with exposure time), [`SimulationPower::run`]
//! simulates `reps` trials under the model (the alternative) and `reps` under the same model
//! without an effect (the null), fits the chosen [`Analysis`] to each and reports
//! ([`PowerSimulation`]):
//!
//! - **power**: the share of the alternative's trials whose test rejects at `alpha`, with its
//!   Monte Carlo SE `sqrt(p (1 - p) / reps)`;
//! - **type I error**: the same share among the null's trials, with its Monte Carlo SE;
//! - the **mean estimate** of the treatment's log odds ratio, its **bias** against the truth
//!   (the model's `theta` for the mixed model and the randomisation test, which estimate the
//!   cluster-specific effect; the population-averaged log odds ratio for the GEE, see below),
//!   the SD of the estimates (empirical SE) beside the mean model-based SE, and the **coverage**
//!   of the analysis's `1 - alpha` interval (the one its test inverts), each with its Monte
//!   Carlo SE;
//! - the numbers of **failed** fits (an error: no convergence in any of the fallbacks, an
//!   outcome separated by the design, too many failed randomisation refits), **non-converged**
//!   fits (kept, as glmer's fits with convergence warnings are kept) and **singular** fits
//!   (a cluster SD estimated at 0; kept), with the first failure's message. A failed fit counts
//!   as a trial whose test did not reject, in the denominators of power and type I error
//!   (`reps`), and is left out of the mean estimate and coverage (whose denominators are the
//!   fits); nothing is dropped silently. (An analysis that panicked, which would be a bug,
//!   fails its trial with a message naming the trial and its seed.)
//!
//! **Periods without events.** A period in which no patient of the trial had the event (or
//! every one had it) has no finite period effect: the likelihood rises as the period's
//! coefficient goes to minus (plus) infinity, where its patients' contributions go to 0 and the
//! likelihood of every other parameter becomes that of the data without them; glmer heads
//! there, stops at a large coefficient and warns. Such periods (frequent with a handful of
//! patients per period and a rare outcome) are therefore left out of that trial's analysis,
//! which is the limit of its fit, and counted (`trials_with_periods_left_out`,
//! `periods_left_out`). A treatment whose arm has no events is not left out: its fit fails
//! (separation) and is counted as failed.
//!
//! # The analyses
//! - [`Analysis::Glmm`]: the Hussey & Hughes model `cbind(events, trials - events) ~ treated +
//!   factor(period) + (1 | cluster)`, logistic, Laplace (as `glmer`), Wald z test of
//!   `treated`. The trial is fitted on its cluster-period counts, which is the same likelihood
//!   as the patients' rows (the model collapses them into these counts), only faster.
//! - [`Analysis::GlmmBetweenWithin`]: the same fit with a t reference on between-within
//!   degrees of freedom, counted as for the patients' rows (`N - G - p_within` for a
//!   treatment that changes within clusters, N patients, G clusters; `G - p_between` for one
//!   constant within every cluster), as the fit of the patient-level data would count them.
//! - [`Analysis::Gee`]: the population-averaged model `y ~ treated + factor(period)` by GEE on
//!   the patients' rows, with a working correlation (nested exchangeable by default: one
//!   correlation within a cluster-period, another between its periods) and a bias-corrected
//!   sandwich (Kauermann-Carroll by default), t on `G - p` degrees of freedom (`p` the mean
//!   parameters: intercept, treatment and one per period after the first, so the design needs
//!   more clusters than that). Its estimand is the population-averaged log odds ratio, smaller
//!   than `theta` when clusters vary: the truth of its bias and coverage is
//!   `logit E[expit(eta_j + theta + w)] - logit E[expit(eta_j + w)]`, `w ~ N(0, cluster_sd^2 +
//!   cluster_period_sd^2)`, `eta_j` the usual-care log odds of period j, averaged over the
//!   design's periods (Gauss-Hermite quadrature, 25 nodes).
//! - [`Analysis::Randomisation`]: the randomisation test of the Hussey & Hughes model's
//!   estimate (`effects::randomisation`): every permutation of the clusters' crossovers when
//!   there are at most `max_exact`, otherwise `draws` permutations drawn with a seed derived
//!   from the trial's; rejects when `p <= alpha`. Each trial refits the model once per
//!   permutation, so this costs `draws` (or the number of permutations) times the mixed model:
//!   affordable for a few hundred trials of a small design. It has no interval here (test
//!   inversion per trial would cost dozens of times more), so its coverage is not reported;
//!   the design must be 0/1 (no transition fractions).
//!
//! # Seeds and threads
//! Trial `r` (from 0) of the alternative is drawn with the seed `mix(seed + (2 r + 1) phi)`, of
//! the null with `mix(seed + (2 r + 2) phi)` (`phi` the 64-bit golden ratio, `mix` SplitMix64's
//! finaliser; [`SimulationPower::trial_seed`]), so every trial can be drawn again on its own
//! ([`SimulationPower::trial`]); the trials are analysed in parallel (rayon) and summed in
//! order, so the results are identical for any number of threads. A progress bar on stderr
//! ([`SimulationPower::progress`]) does not change any number.
//!
//! # When to simulate
//! See the [`design`](crate::design) module docs: the closed form is a linear model on the risk
//! scale; simulation runs the logistic analysis itself, with its failures and its small-sample
//! behaviour, and its ICC is the latent-scale one of the logistic model.
//!
//! ```
//! use stepwedge::design::Design;
//! use stepwedge::effects::power::{Analysis, SimulationPower};
//! use stepwedge::sim::{CellSizes, CountModel};
//! # fn main() -> stepwedge::core::error::Result<()> {
//! let design = Design::stepped_wedge(&[2, 2, 2])?;
//! let sizes = CellSizes::fixed(&vec![vec![60.0; 4]; 6])?;
//! let model = CountModel::risks(0.119, 0.08)?.latent_icc(0.02, 1.0)?;
//! let result = SimulationPower::new(design, sizes, model)
//!     .analysis(Analysis::Glmm)
//!     .reps(20)
//!     .seed(7)
//!     .run()?;
//! assert_eq!(result.reps, 20);
//! assert!(result.power >= 0.0 && result.power <= 1.0);
//! # Ok(()) }
//! ```

mod analyse;
mod curve;
mod summary;

use std::panic::AssertUnwindSafe;

use rayon::prelude::*;
use serde::Serialize;

use crate::core::builder::builder_methods;
use crate::core::error::{Error, Result};
use crate::design::{ClosedForm, Correlation, Design, Outcome, TreatmentModel};
use crate::effects::standardise::bootstrap::counting_bar;
use crate::models::gee::{SeKind, WorkingCorrelation};
use crate::models::glmm::GaussHermite;
use crate::sim::{CellSizes, CountModel, TrialCounts};

pub use analyse::TrialFit;
pub use curve::{power_curve, probability_scale_icc, scaled_sizes, CurvePoint};
pub use summary::{ArmSummary, PowerSimulation};

use analyse::Prepared;

/// The analysis each simulated trial is given (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Analysis {
    /// The Hussey & Hughes logistic mixed model (Laplace), Wald z test.
    Glmm,
    /// The same with a t reference on between-within degrees of freedom.
    GlmmBetweenWithin,
    /// A GEE with this working correlation and variance, t on `G - p` degrees of freedom.
    Gee {
        /// The working correlation (needs the period for the nested exchangeable one).
        correlation: WorkingCorrelation,
        /// The variance estimator.
        se: SeKind,
    },
    /// The randomisation test of the Hussey & Hughes model's estimate.
    Randomisation {
        /// Enumerate every permutation when there are at most this many.
        max_exact: usize,
        /// Otherwise draw this many.
        draws: usize,
    },
}

impl Analysis {
    /// The GEE with a nested exchangeable working correlation and Kauermann-Carroll variances.
    pub fn gee() -> Analysis {
        Analysis::Gee {
            correlation: WorkingCorrelation::NestedExchangeable,
            se: SeKind::Kc,
        }
    }

    /// The randomisation test, exact up to 1,000 permutations, else 500 drawn.
    pub fn randomisation() -> Analysis {
        Analysis::Randomisation {
            max_exact: 1_000,
            draws: 500,
        }
    }

    /// `glmm`, `glmm-bw`, `gee` or `randomisation`.
    pub fn name(&self) -> &'static str {
        match self {
            Analysis::Glmm => "glmm",
            Analysis::GlmmBetweenWithin => "glmm-bw",
            Analysis::Gee { .. } => "gee",
            Analysis::Randomisation { .. } => "randomisation",
        }
    }

    /// The analysis in words.
    pub fn describe(&self) -> String {
        match self {
            Analysis::Glmm => "Hussey & Hughes logistic mixed model (Laplace), Wald z".to_string(),
            Analysis::GlmmBetweenWithin => {
                "Hussey & Hughes logistic mixed model (Laplace), t on between-within df".to_string()
            }
            Analysis::Gee { correlation, se } => format!(
                "GEE (logit), {correlation} working correlation, {} variance, t on G - p df",
                se.name().to_uppercase()
            ),
            Analysis::Randomisation { max_exact, draws } => format!(
                "randomisation test of the Hussey & Hughes estimate (exact up to {max_exact} \
                 permutations, else {draws} drawn)"
            ),
        }
    }
}

impl std::str::FromStr for Analysis {
    type Err = Error;
    /// `glmm`, `glmm-bw`, `gee` (nested exchangeable, KC) or `randomisation` (exact up to
    /// 1,000 permutations, else 500 drawn).
    fn from_str(s: &str) -> Result<Analysis> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "glmm" => Analysis::Glmm,
            "glmm-bw" | "glmm_bw" => Analysis::GlmmBetweenWithin,
            "gee" => Analysis::gee(),
            "randomisation" | "randomization" => Analysis::randomisation(),
            _ => {
                return Err(Error::invalid(
                    "analysis",
                    format!("'{s}' is not one of glmm, glmm-bw, gee, randomisation"),
                ))
            }
        })
    }
}

/// The trials of the alternative (the model as given) or of the null (without an effect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// The model as given.
    Alternative,
    /// The model with `theta = 0`.
    Null,
}

/// A simulation-power calculation (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct SimulationPower {
    design: Design,
    sizes: CellSizes,
    model: CountModel,
    analysis: Analysis,
    reps: usize,
    seed: u64,
    alpha: f64,
    null: bool,
    progress: bool,
}

/// Most trials per arm one calculation may simulate.
pub const MAX_REPS: usize = 10_000_000;

impl SimulationPower {
    /// `reps` = 1,000 trials of `design` with `sizes` drawn from `model` and as many from its
    /// null, analysed by the Hussey & Hughes mixed model with a Wald z test at `alpha` = 0.05,
    /// seed 1.
    pub fn new(design: Design, sizes: CellSizes, model: CountModel) -> SimulationPower {
        SimulationPower {
            design,
            sizes,
            model,
            analysis: Analysis::Glmm,
            reps: 1_000,
            seed: 1,
            alpha: 0.05,
            null: true,
            progress: false,
        }
    }

    /// The simulation that matches a closed-form calculation of a binary outcome on `design`:
    /// risks `mu0` and `mu1` (`CountModel::risks`), its `icc` and `cac` taken as the
    /// latent-scale ICC and cluster autocorrelation of the logistic model
    /// ([`CountModel::latent_icc`]; as the reference cases' glmer simulations do, and not the
    /// same clustering as the closed form's probability-scale icc), its sizes as fixed sizes when
    /// they are whole numbers and `poisson` is false, else as Poisson means, and its alpha.
    /// Errors: a Gaussian outcome, random effects given as SDs on the probability scale, a
    /// closed cohort (`iac > 0`), the exposure-time model or a decay, none of which this
    /// simulation has.
    pub fn from_closed_form(
        closed: &ClosedForm,
        design: &Design,
        poisson: bool,
    ) -> Result<SimulationPower> {
        if !matches!(closed.outcome, Outcome::Binomial) {
            return Err(Error::invalid(
                "distn",
                "simulation power is for a binary outcome (binomial)",
            ));
        }
        let (icc, cac) =
            match closed.correlation {
                Correlation::Coefficients { icc, cac, iac: 0.0 } => (icc, cac),
                Correlation::Coefficients { .. } => return Err(Error::invalid(
                    "iac",
                    "the simulation has cross-sectional clusters (iac = 0), not a closed cohort",
                )),
                Correlation::RandomEffects(effects) => {
                    if effects == Default::default() {
                        (0.0, 1.0)
                    } else {
                        return Err(Error::invalid(
                            "tau",
                            "random-effect SDs on the probability scale have no logistic \
                         counterpart; give the icc (taken on the latent scale) or build a \
                         CountModel with logit-scale SDs",
                        ));
                    }
                }
            };
        if closed.model != TreatmentModel::Immediate {
            return Err(Error::invalid(
                "H",
                "the simulation analyses the immediate-treatment (Hussey & Hughes) model; \
                 for an effect that builds up, set CountModel::treatment_by_exposure",
            ));
        }
        if closed.decay.is_some() {
            return Err(Error::invalid(
                "decay",
                "the simulation has no decay of the cluster effect",
            ));
        }
        let model = CountModel::risks(closed.mu0, closed.mu1)?.latent_icc(icc, cac)?;
        let matrix = closed.size_matrix(design)?;
        let whole = matrix.iter().flatten().all(|n| n.fract() == 0.0);
        let sizes = if poisson || !whole {
            CellSizes::poisson(&matrix)?
        } else {
            CellSizes::fixed(&matrix)?
        };
        Ok(SimulationPower::new(design.clone(), sizes, model).alpha(closed.alpha))
    }

    builder_methods! {
        /// The analysis of each trial (default the Hussey & Hughes model with a Wald z test).
        analysis(&mut this, analysis: Analysis) { this.analysis = analysis; }

        /// Trials per arm (default 1,000).
        reps(&mut this, reps: usize) { this.reps = reps; }

        /// The seed (default 1).
        seed(&mut this, seed: u64) { this.seed = seed; }

        /// The two-sided significance level (default 0.05).
        alpha(&mut this, alpha: f64) { this.alpha = alpha; }

        /// Whether to simulate the null's trials too (default true; false leaves the type I
        /// error out and halves the time).
        null(&mut this, on: bool) { this.null = on; }

        /// Show the trials' progress on stderr (default off; the numbers are the same).
        progress(&mut this, show: bool) { this.progress = show; }

        /// The data-generating model.
        model(&mut this, model: CountModel) { this.model = model; }

        /// The sizes of the cells.
        sizes(&mut this, sizes: CellSizes) { this.sizes = sizes; }
    }

    /// The design.
    pub fn design(&self) -> &Design {
        &self.design
    }

    /// The data-generating model (of the alternative).
    pub fn data_model(&self) -> &CountModel {
        &self.model
    }

    /// The sizes.
    pub fn cell_sizes(&self) -> &CellSizes {
        &self.sizes
    }

    /// The analysis.
    pub fn chosen_analysis(&self) -> &Analysis {
        &self.analysis
    }

    /// The model of `arm`.
    fn model_of(&self, arm: Arm) -> CountModel {
        match arm {
            Arm::Alternative => self.model.clone(),
            Arm::Null => self.model.null(),
        }
    }

    /// The seed of trial `index` (from 0) of `arm` (see the [module docs](self)).
    pub fn trial_seed(&self, arm: Arm, index: usize) -> u64 {
        const PHI: u64 = 0x9E37_79B9_7F4A_7C15;
        let k = 2 * index as u64
            + match arm {
                Arm::Alternative => 1,
                Arm::Null => 2,
            };
        mix(self.seed.wrapping_add(k.wrapping_mul(PHI)))
    }

    /// Trial `index` (from 0) of `arm`, as [`SimulationPower::run`] draws it.
    pub fn trial(&self, arm: Arm, index: usize) -> Result<TrialCounts> {
        self.model_of(arm)
            .simulate(&self.design, &self.sizes, self.trial_seed(arm, index))
    }

    /// The analysis of one trial (its seed only matters to a randomisation test's draws).
    pub fn analyse(&self, trial: &TrialCounts, seed: u64) -> Result<TrialFit> {
        self.prepare()?.analyse(trial, seed)
    }

    /// The truth the analysis's estimate is compared with under the alternative: `theta`, or
    /// for the GEE the population-averaged log odds ratio (see the [module docs](self)).
    pub fn truth(&self) -> f64 {
        match self.analysis {
            Analysis::Gee { .. } => marginal_log_odds_ratio(&self.model, &self.design),
            _ => self.model.treatment,
        }
    }

    /// Checks the settings and builds the analysis's specifications.
    fn prepare(&self) -> Result<Prepared<'_>> {
        if !(1..=MAX_REPS).contains(&self.reps) {
            return Err(Error::invalid(
                "reps",
                format!("is {}; 1 to {MAX_REPS} trials are needed", self.reps),
            ));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::invalid(
                "alpha",
                format!("is {}; a level in (0, 1) is needed", self.alpha),
            ));
        }
        self.model.validate(&self.design)?;
        self.sizes.check(&self.design)?;
        Prepared::new(&self.design, &self.analysis, self.alpha)
    }

    /// Simulates and analyses the trials (see the [module docs](self)). Errors: invalid
    /// settings, model or sizes (named), a GEE on a design with no more clusters than mean
    /// parameters, a randomisation test of a design with shares between 0 and 1. A trial whose
    /// analysis fails is counted, never an error of the whole.
    pub fn run(&self) -> Result<PowerSimulation> {
        let prepared = self.prepare()?;
        let arms: Vec<Arm> = if self.null {
            vec![Arm::Alternative, Arm::Null]
        } else {
            vec![Arm::Alternative]
        };
        let models: Vec<(CountModel, Vec<Vec<f64>>)> = arms
            .iter()
            .map(|&arm| {
                let model = self.model_of(arm);
                let shares = model.cell_shares(&self.design);
                (model, shares)
            })
            .collect();
        let jobs: Vec<(usize, usize)> = (0..arms.len())
            .flat_map(|a| (0..self.reps).map(move |r| (a, r)))
            .collect();
        let bar = counting_bar(self.progress, jobs.len(), "simulation power", "trials");
        let fits: Vec<Result<TrialFit>> = jobs
            .par_iter()
            .map(|&(a, r)| {
                let seed = self.trial_seed(arms[a], r);
                let (model, shares) = &models[a];
                let trial = model.draw_counts(&self.design, &self.sizes, shares, seed);
                // A panic (a bug) fails this trial, named, instead of the whole run.
                let fit =
                    std::panic::catch_unwind(AssertUnwindSafe(|| prepared.analyse(&trial, seed)))
                        .unwrap_or_else(|panic| {
                            let message = panic
                                .downcast_ref::<&str>()
                                .map(|m| m.to_string())
                                .or_else(|| panic.downcast_ref::<String>().cloned())
                                .unwrap_or_default();
                            Err(Error::Numerical {
                                what: format!(
                                    "the analysis of trial {} ({:?}, seed {seed})",
                                    r + 1,
                                    arms[a]
                                ),
                                message: format!("it panicked ({message}); please report it"),
                            })
                        });
                if let Some(bar) = &bar {
                    bar.inc(1);
                }
                fit
            })
            .collect();
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let mut fits = fits.into_iter();
        let alternative = ArmSummary::of(fits.by_ref().take(self.reps), self.truth());
        let null = self
            .null
            .then(|| ArmSummary::of(fits.by_ref().take(self.reps), 0.0));
        Ok(PowerSimulation::new(self, alternative, null))
    }
}

/// SplitMix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The population-averaged log odds ratio of `model` on `design` (see the [module
/// docs](self)): the mean over the design's periods of the log odds ratio of the risks averaged
/// over the random effects, with the whole effect.
pub fn marginal_log_odds_ratio(model: &CountModel, design: &Design) -> f64 {
    let sd = (model.cluster_sd.powi(2) + model.cluster_period_sd.powi(2)).sqrt();
    if sd == 0.0 {
        return model.treatment;
    }
    let Ok(rule) = GaussHermite::new(25) else {
        return f64::NAN;
    };
    let average = |eta: f64| -> f64 {
        rule.nodes
            .iter()
            .zip(&rule.weights)
            .map(|(z, w)| w / (1.0 + (-(eta + sd * z)).exp()))
            .sum()
    };
    let logit = |p: f64| (p / (1.0 - p)).ln();
    let periods = design.n_periods();
    (0..periods)
        .map(|j| {
            let control = model.fixed_part(j, 0.0);
            logit(average(control + model.treatment)) - logit(average(control))
        })
        .sum::<f64>()
        / periods as f64
}
