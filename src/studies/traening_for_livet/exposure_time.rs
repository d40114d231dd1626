//! The exposure-time analysis of the synthetic trial: the exposure-time indicator (ETI) model
//! beside the Hussey & Hughes model (see [`ExposureTimeAnalysis`]).

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::core::error::{Error, Result};
use crate::data::Cohort;
use crate::effects::exposure_time::{likelihood_ratio, LikelihoodRatioTest, Tate, TateEstimate};
use crate::frame::design::{ExposureReport, ExposureTime};
use crate::models::glmm::{DfMethod, Glmm, GlmmFit};

/// The exposure column derived from the synthetic patients.
pub const EXPOSURE: &str = "exposure";

/// Every exposure level of the ETI model must hold at least this many clusters.
pub const MIN_CLUSTERS_PER_EXPOSURE: usize = 2;

/// A cap of the exposure at which the ETI model could not be used, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapAttempt {
    /// The cap `L`.
    pub cap: usize,
    /// Why the ETI model with this cap was not used.
    pub problem: String,
}

/// The exposure-time analysis of the synthetic trial.
///
/// `exposure` is the number of periods since the municipality crossed over (1 = its first
/// period under the intervention, 0 before), derived from the `cluster`, `period` and `treated`
/// columns ([`ExposureTime`]). The exposure-time indicator model (Kenny et al. 2022)
///
/// ```text
/// logit P(readmit30_ij = 1 | u_i) = b0 + delta_{s(ij)} + g_period(ij) + u_i,  delta_0 = 0
/// readmit30 ~ factor(exposure) + factor(period) + (1 | cluster)
/// ```
///
/// is fitted like the Hussey & Hughes model (Laplace, between-within df), and [`Tate`] gives the
/// effect at each exposure time `1..L`, the time-averaged treatment effect (TATE, their
/// equal-weight mean) with its t interval (log odds ratio, and as an odds ratio), and the Wald
/// test of an effect constant over exposure time; [`likelihood_ratio`] tests the ETI model
/// against the Hussey & Hughes (immediate-treatment) model on `L - 1` df.
///
/// **The cap.** With 6 municipalities crossing one per period over 7 periods, exposure runs to
/// 6, and exposure `s` is observed in `7 - s` municipalities: exposure 6 in one only, whose
/// effect would be confounded with that municipality. The exposure is therefore capped
/// (exposure `L` and later pooled into one level) at the largest `L` at which every level holds
/// at least [`MIN_CLUSTERS_PER_EXPOSURE`] municipalities, read from the data: `L = 5` for this
/// design ([`Self::design_cap`]). With about 270 patients and 26 readmissions a level may still
/// have no readmission (or only readmissions), and then the model's estimates do not exist
/// (separation); the cap is then lowered one step at a time until the model can be fitted, down
/// to `L = 2` (two levels, the least for a change with exposure to be tested), and every cap
/// that failed is reported with its reason ([`Self::failed_caps`]). Such a cap is chosen after
/// seeing the outcomes, and the analysis says so ([`Self::cap_lowered`]). If no cap works,
/// there is no ETI analysis, and [`Self::problem`] says why.
#[derive(Debug, Clone, Serialize)]
pub struct ExposureTimeAnalysis {
    /// The exposure column.
    pub exposure: String,
    /// The ETI model.
    pub formula: String,
    /// The immediate-treatment (Hussey & Hughes) model it is tested against.
    pub immediate_formula: String,
    /// The longest exposure in the data before capping.
    pub uncapped_max_exposure: usize,
    /// The municipalities observed at each exposure `0..=uncapped_max_exposure` (uncapped).
    pub clusters_by_exposure: Vec<usize>,
    /// [`MIN_CLUSTERS_PER_EXPOSURE`].
    pub min_clusters_per_level: usize,
    /// The largest cap at which every level holds [`MIN_CLUSTERS_PER_EXPOSURE`] municipalities.
    pub design_cap: usize,
    /// The cap of the ETI model reported (`L`, its number of exposure levels); `None` if none
    /// could be fitted.
    pub cap: Option<usize>,
    /// Whether the cap had to be lowered below [`Self::design_cap`] (chosen after seeing the
    /// outcomes).
    pub cap_lowered: bool,
    /// The larger caps that were tried first and failed, with their reasons.
    pub failed_caps: Vec<CapAttempt>,
    /// The derivation of the exposure at the reported cap.
    pub derived: Option<ExposureReport>,
    /// The effect at each exposure time, the TATE with its interval and the Wald test of a
    /// constant effect.
    pub tate: Option<TateEstimate>,
    /// The likelihood-ratio test of the ETI model against the immediate-treatment model.
    pub lrt: Option<LikelihoodRatioTest>,
    /// The ETI fit.
    pub fit: Option<GlmmFit>,
    /// Why there is no ETI analysis, or no likelihood-ratio test.
    pub problem: Option<String>,
}

/// What one cap's ETI analysis gives.
struct CappedFit {
    derived: ExposureReport,
    fit: GlmmFit,
    tate: TateEstimate,
}

impl ExposureTimeAnalysis {
    /// The ETI model of an outcome column:
    /// `{outcome} ~ factor(exposure) + factor(period) + (1 | cluster)`.
    pub fn formula(outcome: &str) -> String {
        format!("{outcome} ~ factor({EXPOSURE}) + factor(period) + (1 | cluster)")
    }

    /// The exposure-time analysis of `outcome` in the synthetic patients `cohort`, against
    /// `immediate`, their Hussey & Hughes fit. A model that cannot be fitted is reported, not an
    /// error; only an exposure that cannot be derived from the columns is one.
    pub fn run(cohort: &Cohort, outcome: &str, immediate: &GlmmFit) -> Result<Self> {
        let derivation = ExposureTime::new("cluster", "period", "treated").name(EXPOSURE);
        let (values, uncapped) = derivation.values(cohort)?;
        let clusters = clusters_by_exposure(cohort, &values, uncapped.max_exposure)?;
        let design_cap = design_cap(&clusters);
        let mut result = ExposureTimeAnalysis {
            exposure: EXPOSURE.to_string(),
            formula: Self::formula(outcome),
            immediate_formula: immediate.formula.clone(),
            uncapped_max_exposure: uncapped.max_exposure,
            clusters_by_exposure: clusters.iter().map(BTreeSet::len).collect(),
            min_clusters_per_level: MIN_CLUSTERS_PER_EXPOSURE,
            design_cap,
            cap: None,
            cap_lowered: false,
            failed_caps: Vec::new(),
            derived: None,
            tate: None,
            lrt: None,
            fit: None,
            problem: None,
        };
        for cap in (2..=design_cap).rev() {
            match result.fit_capped(cohort, &derivation, cap) {
                Ok(capped) => {
                    result.cap = Some(cap);
                    result.cap_lowered = cap < design_cap;
                    match likelihood_ratio(&capped.fit, immediate) {
                        Ok(lrt) => result.lrt = Some(lrt),
                        Err(e) => result.problem = Some(format!("no likelihood-ratio test: {e}")),
                    }
                    result.derived = Some(capped.derived);
                    result.fit = Some(capped.fit);
                    result.tate = Some(capped.tate);
                    return Ok(result);
                }
                Err(e) => result.failed_caps.push(CapAttempt {
                    cap,
                    problem: e.to_string(),
                }),
            }
        }
        result.problem = Some(if design_cap < 2 {
            format!(
                "fewer than 2 exposure levels hold {MIN_CLUSTERS_PER_EXPOSURE} municipalities \
                 each: the exposure-time model cannot be told from the immediate-treatment one"
            )
        } else {
            format!(
                "the exposure-time model could not be fitted at any cap from {design_cap} down \
                 to 2"
            )
        });
        Ok(result)
    }

    /// The ETI model with the exposure capped at `cap` and its TATE, or why there is none.
    fn fit_capped(
        &self,
        cohort: &Cohort,
        derivation: &ExposureTime,
        cap: usize,
    ) -> Result<CappedFit> {
        let (cohort, derived) = derivation.clone().cap(cap).derive(cohort.clone())?;
        let fit = Glmm::new(&self.formula)?
            .df(DfMethod::BetweenWithin)
            .fit(&cohort)?;
        if !fit.converged {
            return Err(Error::Numerical {
                what: "the exposure-time model".into(),
                message: format!(
                    "the optimiser did not converge (largest gradient entry {:.1e})",
                    fit.gradient_max
                ),
            });
        }
        let tate = Tate::new(EXPOSURE).apply(&fit)?;
        for row in tate.levels.iter().map(|l| &l.effect).chain([&tate.tate]) {
            if ![row.estimate, row.ci_low, row.ci_high]
                .iter()
                .all(|v| v.is_finite())
            {
                return Err(Error::Numerical {
                    what: format!("the exposure-time effect '{}'", row.term),
                    message: "its estimate or interval is not finite".into(),
                });
            }
        }
        Ok(CappedFit { derived, fit, tate })
    }
}

/// The clusters observed at each exposure `0..=max` (rows with a missing exposure left out).
fn clusters_by_exposure<'a>(
    cohort: &'a Cohort,
    exposure: &[f64],
    max: usize,
) -> Result<Vec<BTreeSet<&'a str>>> {
    let cluster = cohort.column("cluster")?;
    let mut seen: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); max + 1];
    for (i, s) in exposure.iter().enumerate() {
        if let (Some(label), true) = (cluster.label(i), s.is_finite()) {
            if let Some(level) = seen.get_mut(*s as usize) {
                level.insert(label);
            }
        }
    }
    Ok(seen)
}

/// The largest cap `L` at which every level holds [`MIN_CLUSTERS_PER_EXPOSURE`] clusters, from
/// the clusters observed at each exposure (`clusters[s]`): the levels `1..L-1` are single
/// exposures, the capped level `L` pools exposure `L` and later. 0 if not even `L = 1` does.
fn design_cap(clusters: &[BTreeSet<&str>]) -> usize {
    let enough = |n: usize| n >= MIN_CLUSTERS_PER_EXPOSURE;
    let mut best = 0;
    for cap in 1..clusters.len() {
        if !clusters[1..cap].iter().all(|c| enough(c.len())) {
            break;
        }
        let pooled: BTreeSet<&str> = clusters[cap..].iter().flatten().copied().collect();
        if enough(pooled.len()) {
            best = cap;
        }
    }
    best
}

impl fmt::Display for ExposureTimeAnalysis {
    /// The exposure levels and the cap, the effect by exposure time with the TATE, and the
    /// tests against the immediate-treatment model.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: Vec<String> = self
            .clusters_by_exposure
            .iter()
            .map(ToString::to_string)
            .collect();
        writeln!(
            f,
            "  {} = periods since the municipality crossed over (0 before); uncapped it runs to \
             {}, observed in {} municipalities at exposure 0..{}",
            self.exposure,
            self.uncapped_max_exposure,
            counts.join(", "),
            self.uncapped_max_exposure
        )?;
        writeln!(
            f,
            "  cap: L = {}, the largest with at least {} municipalities at every level \
             (exposure L and later pooled into level L)",
            self.design_cap, self.min_clusters_per_level
        )?;
        for attempt in &self.failed_caps {
            writeln!(
                f,
                "  with the exposure capped at {}: NOT FITTED ({})",
                attempt.cap, attempt.problem
            )?;
        }
        let (Some(cap), Some(tate), Some(fit)) = (self.cap, &self.tate, &self.fit) else {
            return writeln!(
                f,
                "  NO EXPOSURE-TIME ANALYSIS: {}",
                self.problem.as_deref().unwrap_or("it was not computed")
            );
        };
        writeln!(
            f,
            "  exposure-time indicator model {} with the exposure capped at L = {cap}{} \
             (Laplace; t on between-within df); converged: {}; singular fit: {}",
            self.formula,
            if self.cap_lowered {
                format!(
                    ", LOWERED from {} because the model could not be fitted there: a cap \
                     chosen after seeing the outcomes",
                    self.design_cap
                )
            } else {
                String::new()
            },
            if fit.converged { "yes" } else { "no" },
            if fit.singular {
                "yes (cluster SD estimated as 0)"
            } else {
                "no"
            }
        )?;
        for line in tate.to_string().lines() {
            writeln!(f, "  {line}")?;
        }
        let t = &tate.tate;
        if let (Some(or), Some(low), Some(high)) = (t.exp_estimate, t.exp_ci_low, t.exp_ci_high) {
            writeln!(
                f,
                "  TATE as an odds ratio: {or:.3} ({}% t interval {low:.3} to {high:.3}), \
                 p = {:.4}",
                (1000.0 * tate.level).round() / 10.0,
                t.p_value
            )?;
        }
        match &self.lrt {
            Some(lrt) => writeln!(
                f,
                "  likelihood-ratio test against the immediate-treatment model {}: X2 = {:.4} \
                 on {} df, p = {:.4}",
                self.immediate_formula, lrt.statistic, lrt.df, lrt.p_value
            )?,
            None => writeln!(
                f,
                "  no likelihood-ratio test: {}",
                self.problem.as_deref().unwrap_or("not computed")
            )?,
        }
        Ok(())
    }
}
