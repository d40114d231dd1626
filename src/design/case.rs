//! A power calculation written as JSON with swPwr's argument names: the format of the
//! reference cases in `tests/reference/power/` and of the example `swpower --case`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::power::{ClosedForm, Outcome, RandomEffects, Sizes, TreatmentModel};
use super::schedule::Design;
use crate::core::error::{closest_name, Error, Result};

/// The parameters of a power calculation as swPwr names them.
///
/// ```text
/// design   [[number|null]]   clusters x periods: 0 usual care, 1 intervention, a share,
///                            null for a cell that is not observed
/// distn    "gaussian" | "binomial"
/// n        number | [number] | [[number]]   patients per cluster-period (scalar, per
///                            cluster, or clusters x periods with 0 for an unobserved cell)
/// mu0, mu1 number            means (risks for a binary outcome)
/// H        number | [number] the exposure-time model's contrast (a number: equal weights)
/// sigma    number            residual SD (gaussian only, required there)
/// tau, eta, rho, gamma, zeta number   random effects (default 0), or
/// icc, cac, iac number       correlations (defaults 0, 1, 0), not both
/// alpha    number            significance level (default 0.05)
/// decay    number            exponential decay r of the cluster effect (an extension)
/// cluster_names [string]     labels of the clusters (optional)
/// ```
///
/// The reference files' other fields (name, description, the reference results) are read and
/// kept in [`PowerCase::informational`]; any other field is an error naming it, with the
/// closest known name, so that a misspelt parameter is never silently left at its default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PowerCase {
    /// The design.
    pub design: Vec<Vec<Option<f64>>>,
    /// `gaussian` or `binomial`.
    pub distn: String,
    /// Patients per cluster-period.
    pub n: Sizes,
    /// Mean under usual care.
    pub mu0: f64,
    /// Mean under the intervention.
    pub mu1: f64,
    /// The exposure-time contrast.
    #[serde(rename = "H", default)]
    pub h: Option<Contrast>,
    /// Residual SD.
    #[serde(default)]
    pub sigma: Option<f64>,
    /// SD of the cluster intercept.
    #[serde(default)]
    pub tau: Option<f64>,
    /// SD of the cluster treatment effect.
    #[serde(default)]
    pub eta: Option<f64>,
    /// Correlation of intercept and treatment effect.
    #[serde(default)]
    pub rho: Option<f64>,
    /// SD of the cluster-period effect.
    #[serde(default)]
    pub gamma: Option<f64>,
    /// SD of the individual effect of a closed cohort.
    #[serde(default)]
    pub zeta: Option<f64>,
    /// Intracluster correlation.
    #[serde(default)]
    pub icc: Option<f64>,
    /// Cluster autocorrelation.
    #[serde(default)]
    pub cac: Option<f64>,
    /// Individual autocorrelation.
    #[serde(default)]
    pub iac: Option<f64>,
    /// Significance level.
    #[serde(default)]
    pub alpha: Option<f64>,
    /// Exponential decay of the cluster effect between periods.
    #[serde(default)]
    pub decay: Option<f64>,
    /// Cluster labels.
    #[serde(default)]
    pub cluster_names: Option<Vec<String>>,
    /// Every other field (the reference files' name, description and results).
    #[serde(flatten)]
    pub informational: BTreeMap<String, Value>,
}

/// The exposure-time contrast `H`: a number (every exposure time weighted equally, as swPwr
/// does with a scalar `H`) or one weight per exposure time.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Contrast {
    /// Equal weights.
    Equal(f64),
    /// One weight per exposure time.
    Weights(Vec<f64>),
}

/// The fields of a reference case that are not parameters.
const INFORMATIONAL: [&str; 23] = [
    "name",
    "description",
    "design_call",
    "clusters_per_wave",
    "power",
    "var_trt",
    "derived",
    "source",
    "power_steppedpower",
    "var_trt_steppedpower",
    "steppedpower_args",
    "steppedpower_source",
    "steppedpower_error",
    "power_sim_glmer",
    "power_sim_mcse",
    "sim_reps",
    "sim_failures",
    "sim_warnings",
    "sim_singular",
    "sim_settings",
    "notes",
    "comment",
    "solve",
];

/// The parameter fields, for suggestions.
const PARAMETERS: [&str; 18] = [
    "design",
    "distn",
    "n",
    "mu0",
    "mu1",
    "H",
    "sigma",
    "tau",
    "eta",
    "rho",
    "gamma",
    "zeta",
    "icc",
    "cac",
    "iac",
    "alpha",
    "decay",
    "cluster_names",
];

impl PowerCase {
    /// Reads a case from JSON text. Errors ([`Error::InvalidArgument`] on `case`): text that
    /// is not JSON of this form (with serde's line and column), or an unknown field (with the
    /// closest field name).
    pub fn from_json(text: &str) -> Result<PowerCase> {
        let case: PowerCase = serde_json::from_str(text)
            .map_err(|e| Error::invalid("case", format!("not a power case: {e}")))?;
        if let Some(unknown) = case
            .informational
            .keys()
            .find(|k| !INFORMATIONAL.contains(&k.as_str()))
        {
            let suggestion = closest_name(unknown, PARAMETERS.iter().copied())
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            return Err(Error::invalid(
                "case",
                format!(
                    "unknown field '{unknown}'{suggestion}; the parameters are {}",
                    PARAMETERS.join(", ")
                ),
            ));
        }
        Ok(case)
    }

    /// The design, with the cluster names if given.
    pub fn design(&self) -> Result<Design> {
        let design = Design::new(self.design.clone())?;
        match &self.cluster_names {
            Some(names) => design.with_cluster_labels(names.clone()),
            None => Ok(design),
        }
    }

    /// The calculation, with swPwr's defaults for what is not given. Errors: an unknown
    /// `distn`; a continuous outcome without `sigma` or a binary one with it; both random
    /// effects and correlations (swPwr's two parameterisations are exclusive).
    pub fn closed_form(&self) -> Result<ClosedForm> {
        let outcome = match (self.distn.as_str(), self.sigma) {
            ("gaussian", Some(sigma)) => Outcome::Gaussian { sigma },
            ("gaussian", None) => {
                return Err(Error::invalid(
                    "sigma",
                    "a gaussian outcome needs its residual SD sigma",
                ))
            }
            ("binomial", None) => Outcome::Binomial,
            ("binomial", Some(_)) => {
                return Err(Error::invalid(
                    "sigma",
                    "a binomial outcome's variance is muBar (1 - muBar); leave sigma out",
                ))
            }
            (other, _) => {
                return Err(Error::invalid(
                    "distn",
                    format!("'{other}' is neither 'gaussian' nor 'binomial'"),
                ))
            }
        };
        let effects = [self.tau, self.eta, self.rho, self.gamma, self.zeta];
        let coefficients = [self.icc, self.cac, self.iac];
        let mut spec = match outcome {
            Outcome::Gaussian { sigma } => {
                ClosedForm::gaussian(self.mu0, self.mu1, sigma, self.n.clone())
            }
            Outcome::Binomial => ClosedForm::binomial(self.mu0, self.mu1, self.n.clone()),
        };
        if coefficients.iter().any(Option::is_some) {
            if effects.iter().any(Option::is_some) {
                return Err(Error::invalid(
                    "icc",
                    "give either random effects (tau, eta, rho, gamma, zeta) or correlations \
                     (icc, cac, iac), not both",
                ));
            }
            spec = spec.coefficients(
                self.icc.unwrap_or(0.0),
                self.cac.unwrap_or(1.0),
                self.iac.unwrap_or(0.0),
            );
        } else {
            spec = spec.random_effects(RandomEffects {
                tau: self.tau.unwrap_or(0.0),
                eta: self.eta.unwrap_or(0.0),
                rho: self.rho.unwrap_or(0.0),
                gamma: self.gamma.unwrap_or(0.0),
                zeta: self.zeta.unwrap_or(0.0),
            });
        }
        if let Some(h) = &self.h {
            spec = spec.model(TreatmentModel::ExposureTime {
                contrast: match h {
                    Contrast::Equal(_) => None,
                    Contrast::Weights(w) => Some(w.clone()),
                },
            });
        }
        if let Some(alpha) = self.alpha {
            spec = spec.alpha(alpha);
        }
        if let Some(r) = self.decay {
            spec = spec.decay(r);
        }
        Ok(spec)
    }
}
