//! The summaries of the simulated trials: per arm, and the calculation's result.

use std::fmt;

use serde::Serialize;

use crate::core::error::Result;

use super::{Analysis, SimulationPower, TrialFit};

/// The trials of one arm (the alternative or the null), summarised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmSummary {
    /// Trials simulated.
    pub reps: usize,
    /// Trials whose test rejected.
    pub rejected: usize,
    /// `rejected / reps` (a failed fit counts as not rejecting).
    pub rejection_rate: f64,
    /// Its Monte Carlo SE, `sqrt(p (1 - p) / reps)`.
    pub mcse: f64,
    /// Trials whose analysis gave an estimate.
    pub fitted: usize,
    /// Trials whose analysis failed (an error).
    pub failed: usize,
    /// The first failure's message.
    pub first_failure: Option<String>,
    /// Fits that did not converge (kept).
    pub not_converged: usize,
    /// Fits with a random-effect SD at 0 (kept).
    pub singular: usize,
    /// Trials analysed without one or more periods in which no patient (or every one) had the
    /// event.
    pub trials_with_periods_left_out: usize,
    /// The periods left out, over all trials.
    pub periods_left_out: usize,
    /// The value the estimates are compared with.
    pub truth: f64,
    /// The mean estimate over the fits (NaN without fits).
    pub mean_estimate: f64,
    /// Its Monte Carlo SE, `SD / sqrt(fits)`.
    pub mean_estimate_mcse: f64,
    /// `mean_estimate - truth`.
    pub bias: f64,
    /// The SD of the estimates.
    pub empirical_se: f64,
    /// The mean of the fits' standard errors.
    pub mean_std_error: f64,
    /// The share of the fits whose `1 - alpha` interval holds the truth (None: the analysis has
    /// no interval).
    pub coverage: Option<f64>,
    /// Its Monte Carlo SE.
    pub coverage_mcse: Option<f64>,
}

/// `sqrt(p (1 - p) / n)`.
fn binomial_se(p: f64, n: usize) -> f64 {
    if n == 0 {
        f64::NAN
    } else {
        (p * (1.0 - p) / n as f64).sqrt()
    }
}

impl ArmSummary {
    /// The summary of `fits` (in trial order) against `truth`.
    pub(super) fn of(fits: impl Iterator<Item = Result<TrialFit>>, truth: f64) -> ArmSummary {
        let (mut reps, mut rejected, mut failed, mut not_converged, mut singular) = (0, 0, 0, 0, 0);
        let (mut trials_with_periods_left_out, mut periods_left_out) = (0, 0);
        let mut first_failure = None;
        let (mut estimates, mut std_errors) = (Vec::new(), Vec::new());
        let (mut with_interval, mut covered) = (0usize, 0usize);
        for fit in fits {
            reps += 1;
            match fit {
                Ok(fit) => {
                    rejected += usize::from(fit.reject);
                    not_converged += usize::from(!fit.converged);
                    singular += usize::from(fit.singular);
                    trials_with_periods_left_out += usize::from(fit.periods_left_out > 0);
                    periods_left_out += fit.periods_left_out;
                    estimates.push(fit.estimate);
                    std_errors.push(fit.std_error);
                    if let Some((low, high)) = fit.interval {
                        with_interval += 1;
                        covered += usize::from(low <= truth && truth <= high);
                    }
                }
                Err(e) => {
                    failed += 1;
                    first_failure.get_or_insert_with(|| e.to_string());
                }
            }
        }
        let fitted = estimates.len();
        let mean = |v: &[f64]| {
            if v.is_empty() {
                f64::NAN
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        let mean_estimate = mean(&estimates);
        let empirical_se = if fitted > 1 {
            (estimates
                .iter()
                .map(|e| (e - mean_estimate).powi(2))
                .sum::<f64>()
                / (fitted - 1) as f64)
                .sqrt()
        } else {
            f64::NAN
        };
        let rejection_rate = rejected as f64 / reps.max(1) as f64;
        let coverage = (with_interval > 0).then(|| covered as f64 / with_interval as f64);
        ArmSummary {
            reps,
            rejected,
            rejection_rate,
            mcse: binomial_se(rejection_rate, reps),
            fitted,
            failed,
            first_failure,
            not_converged,
            singular,
            trials_with_periods_left_out,
            periods_left_out,
            truth,
            mean_estimate,
            mean_estimate_mcse: empirical_se / (fitted as f64).sqrt(),
            bias: mean_estimate - truth,
            empirical_se,
            mean_std_error: mean(&std_errors),
            coverage,
            coverage_mcse: coverage.map(|c| binomial_se(c, with_interval)),
        }
    }
}

/// The result of a simulation-power calculation (see the [module docs](super)). The first
/// fields are the alternative's (power, its estimate and coverage) and the null's type I
/// error; `failed`, `not_converged` and `singular` count the fits of both arms; `alternative`
/// and `null` hold each arm's whole summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerSimulation {
    /// The power: the share of the alternative's trials whose test rejected.
    pub power: f64,
    /// Its Monte Carlo SE.
    pub mcse: f64,
    /// The type I error: the share of the null's trials whose test rejected (None without the
    /// null's trials).
    pub type1: Option<f64>,
    /// Its Monte Carlo SE.
    pub type1_mcse: Option<f64>,
    /// The mean estimate under the alternative (log odds ratio).
    pub mean_estimate: f64,
    /// The truth it estimates.
    pub truth: f64,
    /// `mean_estimate - truth`.
    pub bias: f64,
    /// The coverage of the `1 - alpha` interval under the alternative (None for the
    /// randomisation test).
    pub coverage: Option<f64>,
    /// Failed analyses, both arms.
    pub failed: usize,
    /// Fits that did not converge, both arms.
    pub not_converged: usize,
    /// Singular fits, both arms.
    pub singular: usize,
    /// Trials analysed without a period whose outcome was constant, both arms.
    pub trials_with_periods_left_out: usize,
    /// Trials per arm.
    pub reps: usize,
    /// The analysis (`glmm`, `glmm-bw`, `gee`, `randomisation`).
    pub analysis: String,
    /// The analysis in words.
    pub analysis_description: String,
    /// The analysis's settings.
    pub analysis_settings: Analysis,
    /// The two-sided significance level.
    pub alpha: f64,
    /// The seed.
    pub seed: u64,
    /// The data-generating model: log odds under usual care in the first period.
    pub beta0: f64,
    /// The data-generating log odds ratio (theta).
    pub theta: f64,
    /// The data-generating cluster SD (logit scale).
    pub cluster_sd: f64,
    /// The data-generating cluster-period SD (logit scale).
    pub cluster_period_sd: f64,
    /// The expected patients per trial.
    pub expected_patients: f64,
    /// The alternative's trials.
    pub alternative: ArmSummary,
    /// The null's trials.
    pub null: Option<ArmSummary>,
}

impl PowerSimulation {
    pub(super) fn new(
        spec: &SimulationPower,
        alternative: ArmSummary,
        null: Option<ArmSummary>,
    ) -> PowerSimulation {
        let both = |f: fn(&ArmSummary) -> usize| f(&alternative) + null.as_ref().map_or(0, f);
        let model = spec.data_model();
        PowerSimulation {
            power: alternative.rejection_rate,
            mcse: alternative.mcse,
            type1: null.as_ref().map(|n| n.rejection_rate),
            type1_mcse: null.as_ref().map(|n| n.mcse),
            mean_estimate: alternative.mean_estimate,
            truth: alternative.truth,
            bias: alternative.bias,
            coverage: alternative.coverage,
            failed: both(|a| a.failed),
            not_converged: both(|a| a.not_converged),
            singular: both(|a| a.singular),
            trials_with_periods_left_out: both(|a| a.trials_with_periods_left_out),
            reps: alternative.reps,
            analysis: spec.chosen_analysis().name().to_string(),
            analysis_description: spec.chosen_analysis().describe(),
            analysis_settings: spec.chosen_analysis().clone(),
            alpha: spec.alpha,
            seed: spec.seed,
            beta0: model.intercept,
            theta: model.treatment,
            cluster_sd: model.cluster_sd,
            cluster_period_sd: model.cluster_period_sd,
            expected_patients: spec.cell_sizes().expected_patients(spec.design()),
            alternative,
            null,
        }
    }
}

impl fmt::Display for PowerSimulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.alternative;
        writeln!(
            f,
            "Simulation power: {} trials per arm, {}, alpha {}, seed {}",
            self.reps, self.analysis_description, self.alpha, self.seed
        )?;
        writeln!(
            f,
            "  data: logit risk {:.4} + {:.4} treated, cluster SD {:.4}, cluster-period SD {:.4} \
             (logit scale), {:.0} patients expected per trial",
            self.beta0, self.theta, self.cluster_sd, self.cluster_period_sd, self.expected_patients
        )?;
        writeln!(
            f,
            "  power        {:.3} (Monte Carlo SE {:.3}; {} of {} rejected)",
            self.power, self.mcse, a.rejected, a.reps
        )?;
        if let Some(null) = &self.null {
            writeln!(
                f,
                "  type I error {:.3} (Monte Carlo SE {:.3}; {} of {} rejected)",
                null.rejection_rate, null.mcse, null.rejected, null.reps
            )?;
        }
        writeln!(
            f,
            "  estimate     mean {:.4} (MCSE {:.4}), truth {:.4}, bias {:+.4}; empirical SE \
             {:.4}, mean SE {:.4}",
            a.mean_estimate,
            a.mean_estimate_mcse,
            a.truth,
            a.bias,
            a.empirical_se,
            a.mean_std_error
        )?;
        if let (Some(c), Some(se)) = (a.coverage, a.coverage_mcse) {
            writeln!(
                f,
                "  coverage     {:.3} (MCSE {:.3}) of the {:.0}% interval",
                c,
                se,
                100.0 * (1.0 - self.alpha)
            )?;
        }
        let arms = std::iter::once(("alternative", a)).chain(self.null.iter().map(|n| ("null", n)));
        for (name, arm) in arms {
            write!(
                f,
                "  fits ({name}): {} failed, {} not converged, {} singular of {}",
                arm.failed, arm.not_converged, arm.singular, arm.reps
            )?;
            if arm.trials_with_periods_left_out > 0 {
                write!(
                    f,
                    "; {} analysed without a period with no events (or only events), {} periods \
                     in all",
                    arm.trials_with_periods_left_out, arm.periods_left_out
                )?;
            }
            if let Some(first) = &arm.first_failure {
                write!(f, "; first failure: {first}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
