//! The population-averaged (GEE) analysis of the synthetic trial, beside its mixed model (see
//! [`PopulationAveraged`]).

use serde::Serialize;

use crate::core::error::Result;
use crate::data::Cohort;
use crate::effects::crude::Estimate;
use crate::models::coef_table::CoefRow;
use crate::models::family::Link;
use crate::models::gee::{Gee, GeeFit, SeKind, WorkingCorrelation};
use crate::models::Fitted;

/// The cluster column of the simulated patients (one cluster per municipality).
pub const GEE_CLUSTER: &str = "cluster";
/// The working correlation within a municipality.
pub const GEE_CORRELATION: WorkingCorrelation = WorkingCorrelation::Exchangeable;
/// The variance of the GEE's intervals (Kauermann-Carroll).
pub const GEE_SE: SeKind = SeKind::Kc;
/// How the GEE's mean model takes calendar time.
pub const GEE_TIME: &str = "linear calendar-time trend: period as a number (1..7), not \
                            factor(period), which would leave no degrees of freedom with 6 \
                            municipalities";

/// What came of a GEE fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GeeStatus {
    /// Converged, every pair's working correlation within the range its two risks allow.
    Fitted,
    /// Converged, but some pairs' working correlation lies outside the range their risks allow
    /// (Prentice 1988): the estimates are reported, with that warning.
    OutOfRange,
    /// The Fisher scoring did not converge: no estimate is reported.
    NotConverged,
    /// The fit was refused or failed (the reason in [`PopulationAveraged::problem`]).
    Failed,
}

/// One population-averaged effect of the intervention on the synthetic trial, beside the
/// mixed model's: the GEE of [`PopulationAveraged::formula`] with one link.
///
/// The marginal models, fitted to the same simulated patients as the Hussey & Hughes model,
///
/// ```text
/// logit P(readmit30_ij = 1) = b0 + b_trt treated_ij + b_time period_ij   (OR = exp(b_trt))
/// log   P(readmit30_ij = 1) = b0 + b_trt treated_ij + b_time period_ij   (RR = exp(b_trt))
/// corr(readmit30_ij, readmit30_ik) = alpha   (patients j != k of municipality i)
/// readmit30 ~ treated + period               (period numeric, 1..7)
/// ```
///
/// by GEE ([`Gee`]): clusters are the municipalities (column `cluster`), the working
/// correlation is exchangeable (the marginal counterpart of the mixed model's `(1 | cluster)`;
/// the simulation has no cluster-period effect, so a nested exchangeable correlation would spend
/// a second correlation parameter on 6 clusters for nothing), the correlation equations are
/// bias-adjusted (MAEE), and the variance is Kauermann-Carroll's, with t intervals on `G - p`
/// degrees of freedom.
///
/// **Time.** Calendar time enters as a linear trend in the period number, not as
/// `factor(period)`: with 6 municipalities, the intercept, `treated` and 6 period contrasts are
/// 8 mean parameters, more than the clusters, and the t reference on `G - p` would have no
/// degrees of freedom (the GEE refuses `G <= p`). The trend leaves `p = 3` and `6 - 3 = 3` df.
/// It is the right form for these patients (simulated without a calendar trend); on real data a
/// linear trend is an assumption the mixed model's period effects do not make.
///
/// **Fragility.** Three degrees of freedom make the t intervals wide; sandwich variances run
/// small with few clusters, and the correction behind these intervals (KC with t on `G - p`)
/// was shown to keep the nominal size with as few as 8-10 clusters (Li, Turner & Preisser
/// 2018), not 6; the correlation is estimated from the same 6 clusters. The GEE numbers are a companion to the mixed
/// model's, not a sharper answer.
///
/// A fit that fails, does not converge or ends with working correlations outside the range the
/// risks allow is reported as such ([`GeeStatus`]), never hidden and never a panic.
#[derive(Debug, Clone, Serialize)]
pub struct PopulationAveraged {
    /// The mean model, `readmit30 ~ treated + period` with `period` numeric.
    pub formula: String,
    /// `odds ratio` (logit link) or `relative risk` (log link).
    pub measure: String,
    /// The link.
    pub link: Link,
    /// How the mean model takes calendar time ([`GEE_TIME`]).
    pub time: String,
    /// The cluster column (municipalities).
    pub cluster: String,
    /// The working correlation within a municipality ([`GEE_CORRELATION`]).
    pub working_correlation: WorkingCorrelation,
    /// Whether the correlation equations are bias-adjusted (MAEE): always true.
    pub maee: bool,
    /// The variance of the intervals ([`GEE_SE`]).
    pub se: SeKind,
    /// What came of the fit.
    pub status: GeeStatus,
    /// Why there is no estimate, or what is wrong with it; `None` for [`GeeStatus::Fitted`].
    pub problem: Option<String>,
    /// `exp(b_trt)` with its t interval on `df`; `None` unless the fit converged.
    pub ratio: Option<Estimate>,
    /// The row of `treated` (log scale, t on `df`); `None` unless the fit converged.
    pub coefficient: Option<CoefRow>,
    /// Degrees of freedom of the t reference: municipalities less mean parameters (`None` if
    /// the fit failed).
    pub df: Option<f64>,
    /// The exchangeable correlation within a municipality (`None` unless the fit converged).
    pub correlation: Option<f64>,
    /// Its standard error under [`GEE_SE`].
    pub correlation_std_error: Option<f64>,
    /// Whether the Fisher scoring converged.
    pub converged: bool,
    /// Pairs whose working correlation is outside the range their risks allow.
    pub out_of_range_pairs: usize,
    /// The whole fit, where there is one (converged or not).
    pub fit: Option<GeeFit>,
}

impl PopulationAveraged {
    /// The GEE's mean model of an outcome column: `{outcome} ~ treated + period`.
    pub fn formula(outcome: &str) -> String {
        format!("{outcome} ~ treated + period")
    }

    /// The ratio's measure for a link: `odds ratio` for the logit, `relative risk` for the log.
    fn measure(link: Link) -> &'static str {
        if link == Link::Log {
            "relative risk"
        } else {
            "odds ratio"
        }
    }

    /// Fits the GEE of `outcome` with `link` to the synthetic patients `cohort` (the model of
    /// [`PopulationAveraged`]). A fit that fails or does not converge is returned with its
    /// [`GeeStatus`]; only an unreadable formula is an error.
    pub fn fit(cohort: &Cohort, outcome: &str, link: Link) -> Result<Self> {
        let formula = Self::formula(outcome);
        let spec = Gee::new(&formula, GEE_CLUSTER)?
            .link(link)
            .correlation(GEE_CORRELATION)
            .maee(true)
            .se(GEE_SE);
        let mut result = PopulationAveraged {
            formula,
            measure: Self::measure(link).to_string(),
            link,
            time: GEE_TIME.to_string(),
            cluster: GEE_CLUSTER.to_string(),
            working_correlation: GEE_CORRELATION,
            maee: true,
            se: GEE_SE,
            status: GeeStatus::Failed,
            problem: None,
            ratio: None,
            coefficient: None,
            df: None,
            correlation: None,
            correlation_std_error: None,
            converged: false,
            out_of_range_pairs: 0,
            fit: None,
        };
        let fit = match spec.fit(cohort) {
            Ok(fit) => fit,
            Err(e) => {
                result.problem = Some(format!("the GEE could not be fitted: {e}"));
                return Ok(result);
            }
        };
        result.df = Some(fit.df);
        result.converged = fit.converged;
        result.out_of_range_pairs = fit.out_of_range_pairs;
        if !fit.converged {
            result.status = GeeStatus::NotConverged;
            result.problem = Some(format!(
                "the Fisher scoring did not converge in {} iterations",
                fit.iterations
            ));
            result.fit = Some(fit);
            return Ok(result);
        }
        let row = match fit.term("treated") {
            Ok(row) => row.clone(),
            Err(e) => {
                result.problem = Some(format!("the fit has no treatment effect: {e}"));
                result.fit = Some(fit);
                return Ok(result);
            }
        };
        result.ratio = Some(Estimate {
            estimate: row.estimate.exp(),
            ci_low: row.ci_low.exp(),
            ci_high: row.ci_high.exp(),
            level: fit.level,
        });
        result.coefficient = Some(row);
        let alpha = fit.correlation_parameters.first();
        result.correlation = alpha.map(|a| a.estimate);
        result.correlation_std_error = alpha.and_then(|a| a.std_error);
        if fit.out_of_range_pairs > 0 {
            result.status = GeeStatus::OutOfRange;
            result.problem = Some(format!(
                "{} pairs of patients have a working correlation outside the range their risks \
                 allow (Prentice 1988)",
                fit.out_of_range_pairs
            ));
        } else {
            result.status = GeeStatus::Fitted;
        }
        result.fit = Some(fit);
        Ok(result)
    }

    /// The GEE with the logit link (odds ratio) and with the log link (relative risk), in that
    /// order.
    pub fn both(cohort: &Cohort, outcome: &str) -> Result<Vec<Self>> {
        [Link::Logit, Link::Log]
            .into_iter()
            .map(|link| Self::fit(cohort, outcome, link))
            .collect()
    }
}
