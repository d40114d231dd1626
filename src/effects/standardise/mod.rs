//! Marginal effects by standardisation (g-computation) from a fitted GLM or GLMM: the risk of
//! the target population if everyone were treated, if no one were, their ratio and difference,
//! and the number needed to treat, each with a delta-method and a cluster-bootstrap interval.
//!
//! The model: for a numeric 0/1 treatment column (`treated`) and a target population T (the
//! whole cohort used by the fit, the treated patients only (ATT), or a named subgroup),
//!
//! `r_a = (1 / |T|) sum_{i in T} E h(x_i(a)' beta + o_i + z_i(a)' u)`,  a = 1 and 0,
//!
//! where `x_i(a)` is patient i's design row with the treatment set to a (interactions such as
//! `treated:own_home` recomputed) and h the inverse link. For a mixed model the expectation is
//! over the random-effect distribution `u ~ N(0, Sigma)` ([`RandomEffects::Integrated`], the
//! default: the population-averaged risk), or the random effects are set to 0
//! ([`RandomEffects::Conditional`]: the risk of a typical cluster). Patients of a `cbind`
//! response row count as many as its trials; prior weights are not used. Then
//! `RR = r_1 / r_0`, `RD = r_1 - r_0`, and the NNT follows Altman (1998) from RD
//! ([`Nnt`]; adverse events by default, so a lower risk under treatment is benefit).
//!
//! For a cost model (gamma GLM or GLMM, linear mixed model, [`crate::models::lmm`]) the same
//! quantities are mean costs: `risk_treated` and `risk_control` are the standardised mean costs
//! and `risk_difference` the incremental cost per patient (its NNT is meaningless). The
//! cost-effectiveness of a treatment pairs a cost model with an effect model:
//! [`cost_effectiveness`](crate::effects::cost_effectiveness).
//!
//! Intervals at the fit's level:
//! - delta method with the fit's variance matrix over `psi = (beta, theta)` (model-based or
//!   sandwich, see [`Glm::vcov`](crate::models::glm::Glm::vcov) and
//!   [`Glmm::vcov`](crate::models::glmm::Glmm::vcov)): risks `exp(log r_a -/+ q se(r_a) / r_a)`,
//!   `RR` `exp(log RR -/+ q se(log RR))`, `RD -/+ q se(RD)`, where q is the normal quantile, or
//!   for a GLM with cluster-robust errors the t quantile on G - 1 degrees of freedom;
//! - cluster bootstrap, percentile and BCa ([`Standardisation::bootstrap`]; definitions in the
//!   `bootstrap` source module): refits in parallel, seeded, the same numbers for any number of
//!   threads.
//!
//! ```no_run
//! use stepwedge::{data::{Cohort, LoadOptions}, models::glmm::Glmm, effects::standardise::{Standardisation, Target}};
//! # fn main() -> stepwedge::core::error::Result<()> {
//! let cohort = Cohort::from_csv_path("cohort.csv", &LoadOptions::default())?;
//! let fit = Glmm::new("death30 ~ treated + factor(period) + age + (1 | cluster)")?.fit(&cohort)?;
//! let spec = Standardisation::new("treated").target(Target::Treated).bootstrap(2000, 1);
//! let marginal = spec.apply(&fit, &cohort)?;
//! println!("{fit}\n{marginal}");
//! # Ok(()) }
//! ```

pub(crate) mod bootstrap;
pub(crate) mod risk;
mod subgroup;
mod summary;

use serde::Serialize;

pub use crate::effects::contrast::WaldTest;
pub use risk::MAX_INTEGRATION_NODES;
pub use subgroup::{SubgroupEffect, SubgroupEffects};

use crate::core::builder::builder_methods;
use crate::core::dist::{normal_quantile, t_quantile};
use crate::core::error::{Error, Result};
use crate::data::Cohort;
use crate::effects::crude::{Estimate, Nnt, OutcomeKind};
pub use crate::frame::counterfactual::Target;
use crate::frame::counterfactual::{target_rows, TargetRows};
use crate::models::fitted::{Fitted, Parameters};
use crate::models::vcov::VcovKind;
pub(crate) use risk::RiskModel;

/// How a mixed model's random effects enter the risks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RandomEffects {
    /// Averaged over their normal distribution (population-averaged risks).
    #[default]
    Integrated,
    /// Set to 0 (the risks of a cluster with a typical, zero, random effect).
    Conditional,
}

/// What to standardise and how.
#[derive(Debug, Clone)]
pub struct Standardisation {
    treatment: String,
    target: Target,
    random_effects: RandomEffects,
    outcome: OutcomeKind,
    replicates: usize,
    seed: u64,
    samples: Option<Vec<Vec<usize>>>,
    progress: bool,
}

impl Standardisation {
    /// Standardise over the numeric 0/1 column `treatment`: whole cohort, random effects
    /// integrated, adverse outcome, no bootstrap.
    pub fn new(treatment: &str) -> Self {
        Standardisation {
            treatment: treatment.to_string(),
            target: Target::All,
            random_effects: RandomEffects::Integrated,
            outcome: OutcomeKind::Adverse,
            replicates: 0,
            seed: 1,
            samples: None,
            progress: false,
        }
    }

    builder_methods! {
        /// Show the bootstrap's progress on stderr (default off; the numbers are the same).
        progress(&mut this, show: bool) { this.progress = show; }

        /// The target population (default the whole cohort).
        target(&mut this, target: Target) { this.target = target; }

        /// Integrated (default) or conditional risks for a mixed model.
        random_effects(&mut this, how: RandomEffects) { this.random_effects = how; }

        /// Whether an event is adverse (default: death, readmission) or beneficial (regained
        /// mobility), for the direction of the NNT.
        outcome(&mut this, outcome: OutcomeKind) { this.outcome = outcome; }

        /// A cluster bootstrap of `replicates` samples drawn with `seed` (0 replicates: none), over
        /// the mixed model's outer grouping factor or the GLM's cluster column. Replicates whose
        /// refit fails are left out and counted; more than 10% failing is an error.
        bootstrap(&mut this, replicates: usize, seed: u64) { this.replicates = replicates; this.seed = seed; this.samples = None; }

        /// A cluster bootstrap over given samples: each a list of cluster indices (0-based, in the
        /// fit's order of clusters, which is the sorted order of their labels), to reproduce another
        /// program's replicates.
        bootstrap_samples(&mut this, samples: Vec<Vec<usize>>) { this.replicates = samples.len(); this.samples = Some(samples); }
    }

    pub(crate) fn treatment(&self) -> &str {
        &self.treatment
    }

    pub(crate) fn integrated(&self) -> bool {
        self.random_effects == RandomEffects::Integrated
    }

    pub(crate) fn wants_bootstrap(&self) -> bool {
        self.replicates > 0
    }
}

/// One marginal quantity with its intervals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measure {
    /// The estimate.
    pub estimate: f64,
    /// Its delta-method standard error (for the relative risk: of log RR).
    pub std_error: f64,
    /// Delta-method interval.
    pub delta: Estimate,
    /// Bootstrap percentile interval.
    pub percentile: Option<Estimate>,
    /// Bootstrap BCa interval (none when every replicate falls on one side of the estimate).
    pub bca: Option<Estimate>,
}

/// The number needed to treat from each interval of the risk difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NntSummary {
    /// From the delta-method interval.
    pub delta: Nnt,
    /// From the bootstrap percentile interval.
    pub percentile: Option<Nnt>,
    /// From the bootstrap BCa interval.
    pub bca: Option<Nnt>,
}

/// How the bootstrap went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BootstrapSummary {
    /// Samples drawn.
    pub replicates: usize,
    /// Samples whose refit failed (left out).
    pub failed: usize,
    /// The first failure's reason.
    pub first_failure: Option<String>,
    /// The seed (none for samples given by the caller).
    pub seed: Option<u64>,
    /// BCa acceleration of (risk treated, risk control, RR, RD).
    pub acceleration: [f64; 4],
}

/// Marginal risks, RR, RD and NNT of a treatment in a target population.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarginalEffects {
    /// The treatment column.
    pub treatment: String,
    /// The target population.
    pub target: Target,
    /// Patients in it.
    pub patients: f64,
    /// Integrated or conditional risks (none for a model without random effects).
    pub random_effects: Option<RandomEffects>,
    /// Confidence level.
    pub level: f64,
    /// The variance estimator of the delta method.
    pub vcov_kind: VcovKind,
    /// Degrees of freedom of the t reference of the delta-method intervals (none: normal).
    pub reference_df: Option<f64>,
    /// Risk if every patient of the target population were treated.
    pub risk_treated: Measure,
    /// Risk if none were.
    pub risk_control: Measure,
    /// `risk_treated / risk_control`.
    pub relative_risk: Measure,
    /// `risk_treated - risk_control`.
    pub risk_difference: Measure,
    /// Number needed to treat (Altman).
    pub nnt: NntSummary,
    /// The bootstrap, if one was run.
    pub bootstrap: Option<BootstrapSummary>,
}

/// Standardised means of a continuous outcome (a cost): the mean if every patient of the target
/// population were treated, if none were, their difference (the incremental cost per patient)
/// and ratio, each with its intervals. The same computation as [`MarginalEffects`], without a
/// number needed to treat, which a mean does not have.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StandardisedMeans {
    /// The treatment column.
    pub treatment: String,
    /// The target population.
    pub target: Target,
    /// Patients in it.
    pub patients: f64,
    /// Confidence level.
    pub level: f64,
    /// The variance estimator of the delta method.
    pub vcov_kind: VcovKind,
    /// Degrees of freedom of the t reference of the delta-method intervals (none: normal).
    pub reference_df: Option<f64>,
    /// Mean if every patient of the target population were treated.
    pub mean_treated: Measure,
    /// Mean if none were.
    pub mean_control: Measure,
    /// `mean_treated / mean_control` (its standard error is of the log ratio).
    pub ratio: Measure,
    /// `mean_treated - mean_control`.
    pub difference: Measure,
    /// The bootstrap, if one was run.
    pub bootstrap: Option<BootstrapSummary>,
}

impl Standardisation {
    /// The standardised risks, RR, RD and NNT of the treatment in the target population,
    /// computed from `fit` (any [`Fitted`] model, no refit) and the cohort it was fitted to, with
    /// delta-method intervals from the fit's variance estimator (t on G - 1 degrees of freedom
    /// for a cluster-robust GLM) and, if asked, cluster-bootstrap intervals.
    pub fn apply<F: Fitted>(&self, fit: &F, cohort: &Cohort) -> Result<MarginalEffects> {
        FittedModel::new(fit, cohort)?.effects(self)
    }

    /// The standardised means of a continuous outcome (a cost model: gamma GLM or GLMM, linear
    /// mixed model) from `fit` and the cohort it was fitted to: [`StandardisedMeans`]. With the
    /// identity link of a linear mixed model the random effects average out, so the means are
    /// those at random effects 0.
    pub fn means<F: Fitted>(&self, fit: &F, cohort: &Cohort) -> Result<StandardisedMeans> {
        let model = FittedModel::new(fit, cohort)?;
        let found = model.standardised(self)?;
        let [mean_treated, mean_control, ratio, difference] = found.measures;
        Ok(StandardisedMeans {
            treatment: self.treatment.clone(),
            target: self.target.clone(),
            patients: found.patients,
            level: fit.level(),
            vcov_kind: model.params.vcov_kind,
            reference_df: model.params.reference_df,
            mean_treated,
            mean_control,
            ratio,
            difference,
            bootstrap: found.bootstrap,
        })
    }

    /// The treatment's effect in each subgroup of `modifier` (a 0/1 or text column that
    /// interacts with the treatment in the formula, e.g. `treated * own_home`), from `fit` and
    /// the cohort it was fitted to: the model's ratio, the standardised RR and RD of each
    /// subgroup (this specification's target replaced by each subgroup in turn), and the Wald
    /// test of the interaction ([`SubgroupEffects`]).
    pub fn subgroups<F: Fitted>(
        &self,
        fit: &F,
        cohort: &Cohort,
        modifier: &str,
    ) -> Result<SubgroupEffects> {
        FittedModel::new(fit, cohort)?.subgroups(self, modifier)
    }
}

/// A fitted model with the cohort it was fitted to and its parameters, ready to be standardised
/// over any target population.
pub(crate) struct FittedModel<'a, F: Fitted> {
    pub fit: &'a F,
    pub cohort: &'a Cohort,
    pub params: Parameters,
}

/// The four standardised quantities (treated, control, ratio, difference) and the bootstrap.
struct Standardised {
    measures: [Measure; 4],
    bootstrap: Option<BootstrapSummary>,
    patients: f64,
}

impl<'a, F: Fitted> FittedModel<'a, F> {
    pub fn new(fit: &'a F, cohort: &'a Cohort) -> Result<Self> {
        Ok(FittedModel {
            fit,
            cohort,
            params: fit.parameters()?,
        })
    }

    /// The target population of `spec` with its counterfactual rows, and its risk model.
    pub fn target(&self, spec: &Standardisation) -> Result<TargetRows> {
        target_rows(self.fit.frame(), self.cohort, &spec.treatment, &spec.target)
    }

    /// The risk model of `rows` as `spec` asks (integrated or conditional).
    pub fn risk<'r>(&self, rows: &'r TargetRows, spec: &Standardisation) -> RiskModel<'r> {
        RiskModel::new(
            self.params.link,
            rows,
            self.params.mixed && spec.integrated(),
        )
    }

    /// The marginal effects `spec` asks for.
    pub fn effects(&self, spec: &Standardisation) -> Result<MarginalEffects> {
        let found = self.standardised(spec)?;
        let [risk_treated, risk_control, relative_risk, risk_difference] = found.measures;
        let nnt_of = |e: &Estimate| Nnt::from_risk_difference(e, spec.outcome);
        let nnt = NntSummary {
            delta: nnt_of(&risk_difference.delta),
            percentile: risk_difference.percentile.as_ref().map(nnt_of),
            bca: risk_difference.bca.as_ref().map(nnt_of),
        };
        Ok(MarginalEffects {
            treatment: spec.treatment.clone(),
            target: spec.target.clone(),
            patients: found.patients,
            random_effects: self.params.mixed.then_some(spec.random_effects),
            level: self.fit.level(),
            vcov_kind: self.params.vcov_kind,
            reference_df: self.params.reference_df,
            risk_treated,
            risk_control,
            relative_risk,
            risk_difference,
            nnt,
            bootstrap: found.bootstrap,
        })
    }

    /// The four standardised quantities of `spec` with their intervals.
    fn standardised(&self, spec: &Standardisation) -> Result<Standardised> {
        let rows = self.target(spec)?;
        let risk = self.risk(&rows, spec);
        let mut measures = standardise(self, &risk)?;
        let bootstrap = if spec.wants_bootstrap() {
            Some(run_bootstrap(self, &risk, spec, &mut measures)?)
        } else {
            None
        };
        Ok(Standardised {
            measures,
            bootstrap,
            patients: rows.weight.iter().sum(),
        })
    }

    /// The quantile of the delta-method intervals.
    fn quantile(&self) -> f64 {
        let p = 1.0 - (1.0 - self.fit.level()) / 2.0;
        match self.params.reference_df {
            Some(df) => t_quantile(p, df),
            None => normal_quantile(p),
        }
    }
}

/// The standardised (treated, control, ratio, difference) of `model` in the population of
/// `risk`, with delta-method intervals.
fn standardise<F: Fitted>(
    model: &FittedModel<'_, F>,
    risk: &RiskModel<'_>,
) -> Result<[Measure; 4]> {
    let (risks, gradients) = risk.risks(&model.params.psi);
    let [r0, r1] = risks;
    let variance = |g: &[f64]| {
        let v = nalgebra::DVector::from_column_slice(g);
        (v.transpose() * &model.params.vcov * &v)[(0, 0)].max(0.0)
    };
    let q = model.quantile();
    let level = model.fit.level();
    let log_scale = |estimate: f64, se_log: f64| Estimate {
        estimate,
        ci_low: estimate * (-q * se_log).exp(),
        ci_high: estimate * (q * se_log).exp(),
        level,
    };
    let se1 = variance(&gradients[1]).sqrt();
    let se0 = variance(&gradients[0]).sqrt();
    let log_rr: Vec<f64> = gradients[1]
        .iter()
        .zip(&gradients[0])
        .map(|(a, b)| a / r1 - b / r0)
        .collect();
    let rd: Vec<f64> = gradients[1]
        .iter()
        .zip(&gradients[0])
        .map(|(a, b)| a - b)
        .collect();
    let se_log_rr = variance(&log_rr).sqrt();
    let se_rd = variance(&rd).sqrt();
    let measure = |estimate: f64, std_error: f64, delta: Estimate| Measure {
        estimate,
        std_error,
        delta,
        percentile: None,
        bca: None,
    };
    let measures = [
        measure(r1, se1, log_scale(r1, se1 / r1)),
        measure(r0, se0, log_scale(r0, se0 / r0)),
        measure(r1 / r0, se_log_rr, log_scale(r1 / r0, se_log_rr)),
        measure(
            r1 - r0,
            se_rd,
            Estimate {
                estimate: r1 - r0,
                ci_low: r1 - r0 - q * se_rd,
                ci_high: r1 - r0 + q * se_rd,
                level,
            },
        ),
    ];
    if measures
        .iter()
        .any(|m| !m.estimate.is_finite() || !m.std_error.is_finite())
    {
        return Err(Error::Numerical {
            what: "the standardised risks".into(),
            message: format!("risk treated {r1}, control {r0}: the relative risk is not defined"),
        });
    }
    Ok(measures)
}

/// Run the bootstrap and the jackknife and set the bootstrap intervals of `measures`.
fn run_bootstrap<F: Fitted>(
    model: &FittedModel<'_, F>,
    risk: &RiskModel<'_>,
    spec: &Standardisation,
    measures: &mut [Measure; 4],
) -> Result<BootstrapSummary> {
    let n_clusters = model.fit.n_clusters();
    let refit = model.fit;
    if n_clusters < 2 {
        return Err(Error::too_few(
            "a cluster bootstrap needs a model with clusters",
            "clusters",
            n_clusters,
            2,
        ));
    }
    let samples = match &spec.samples {
        Some(s) => {
            if let Some(bad) = s.iter().flatten().find(|&&c| c >= n_clusters) {
                return Err(Error::invalid(
                    "bootstrap_samples",
                    format!(
                        "cluster index {bad} is out of range (the fit has {n_clusters} clusters)"
                    ),
                ));
            }
            s.clone()
        }
        None => bootstrap::draw_clusters(spec.seed, spec.replicates, n_clusters),
    };
    let bar = bootstrap::progress_bar(
        spec.progress,
        samples.len() + n_clusters,
        "cluster bootstrap",
    );
    let results = bootstrap::replicate_statistics(refit, risk, &samples, bar.as_ref());
    let first_failure = results
        .iter()
        .find_map(|r| r.as_ref().err().map(ToString::to_string));
    let values: Vec<[f64; 4]> = results.into_iter().filter_map(|r| r.ok()).collect();
    let failed = samples.len() - values.len();
    if values.len() < 2 || failed * 10 > samples.len() {
        return Err(Error::RefitsFailed {
            what: "bootstrap refits".into(),
            failed,
            total: samples.len(),
            first: first_failure.unwrap_or_default(),
        });
    }
    let jackknife_samples = bootstrap::jackknife_samples(n_clusters);
    let jackknife_results =
        bootstrap::replicate_statistics(refit, risk, &jackknife_samples, bar.as_ref());
    let jackknife_failed = jackknife_results.iter().filter(|r| r.is_err()).count();
    if let Some(first) = jackknife_results.iter().find_map(|r| r.as_ref().err()) {
        return Err(Error::RefitsFailed {
            what: "jackknife refits (for BCa)".into(),
            failed: jackknife_failed,
            total: n_clusters,
            first: first.to_string(),
        });
    }
    let jackknife: Vec<[f64; 4]> = jackknife_results.into_iter().flatten().collect();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let level = model.fit.level();
    let mut acceleration = [0.0; 4];
    for (s, m) in measures.iter_mut().enumerate() {
        let mut sorted: Vec<f64> = values.iter().map(|v| v[s]).collect();
        sorted.sort_by(f64::total_cmp);
        let jack: Vec<f64> = jackknife.iter().map(|v| v[s]).collect();
        acceleration[s] = bootstrap::acceleration(&jack);
        let (lo, hi) = bootstrap::percentile(&sorted, level);
        let interval = |(ci_low, ci_high): (f64, f64)| Estimate {
            estimate: m.estimate,
            ci_low,
            ci_high,
            level,
        };
        m.percentile = Some(interval((lo, hi)));
        m.bca = bootstrap::bca(&sorted, m.estimate, &jack, level).map(interval);
    }
    Ok(BootstrapSummary {
        replicates: samples.len(),
        failed,
        first_failure,
        seed: spec.samples.is_none().then_some(spec.seed),
        acceleration,
    })
}
