//! Treatment effects that change with exposure time, and their time average (TATE).
//!
//! The Hussey & Hughes model of a stepped wedge, `g(mu_ict) = mu + beta_t + delta X_ct + u_c`
//! (X the 0/1 treatment), assumes an immediate treatment effect (IT) that stays constant. When
//! the effect grows or fades with the time since the cluster crossed over, the IT estimate is a
//! weighted average of the exposure-time effects with weights fixed by the design, some of them
//! negative, so it can be badly biased for every summary of them and its interval undercovers
//! (Kenny et al. 2022, Stat Med 41:4311; Maleyeff et al. 2023).
//!
//! The exposure-time indicator (ETI) model replaces `delta X_ct` by `delta_{s_ct}`, one effect per
//! exposure time `s = 1..L` (exposure 0, before the crossover, the reference): the formula term
//! `factor(exposure)` in place of `treated`, with the exposure derived by
//! [`ExposureTime`](crate::frame::design::ExposureTime). Any model of the crate takes it (GLM,
//! GLMM, LMM, GEE); [`Tate`] acts on the fit through the shared [`Fitted`] surface:
//!
//! - the effect curve: `delta_s = c_s' beta` for each exposure time, with `c_s` the unit vector
//!   of the term `factor(exposure)s` (ETI), or `c_s = e_treated + s e_exposure` in the
//!   linear-in-exposure model `treated + exposure` (`delta_s = theta_0 + theta_1 s`), or
//!   `c_s = s e_exposure` in the ramp `exposure` alone (`delta_s = theta s`);
//! - the time-averaged treatment effect over exposure `1..L`, `TATE = a' beta` with
//!   `a = sum_s w_s c_s` and weights `w_s = 1/L` (or the user's, scaled to sum to 1); for the
//!   ETI model `a` puts `w_s` on each `factor(exposure)s` and 0 elsewhere;
//! - its standard error `sqrt(a' V a)` from the fit's variance matrix of the fixed effects
//!   (`Parameters::vcov`: model-based, sandwich, CR2, ... as the fit was asked), and the interval
//!   `a' beta -/+ q SE` with `q` the normal quantile or the t quantile on the df the fit gives for
//!   `a` ([`Fitted::contrast_df`]: the cluster-robust GLM's G - 1, the GEE's G - p, a mixed
//!   model's between-within df, the linear mixed model's Satterthwaite df of `a' beta`, as
//!   lmerTest's `contest1D`); on the link scale, and exponentiated (odds ratio, relative risk)
//!   for the log and logit links;
//! - the Wald test of a constant effect: for the ETI model `delta_1 = ... = delta_L`
//!   (`C beta = 0` with rows `c_s - c_1`, `s = 2..L`: `L - 1` df), for `treated + exposure`
//!   `theta_1 = 0` (1 df);
//! - [`likelihood_ratio`] of the ETI fit against the IT fit (`treated` in place of
//!   `factor(exposure)`, same rows): `LRT = 2 (l_ETI - l_IT)` on `L - 1` df. For a linear mixed
//!   model both must be maximum-likelihood fits (R's `anova()` refits them so); the TATE itself
//!   is taken from the REML fit.
//!
//! ```
//! use stepwedge::data::{Cohort, LoadOptions};
//! use stepwedge::effects::exposure_time::Tate;
//! use stepwedge::frame::design::ExposureTime;
//! use stepwedge::models::glm::Glm;
//!
//! let cohort = Cohort::from_csv_path(
//!     concat!(env!("CARGO_MANIFEST_DIR"), "/data-samples/stepped_wedge_sim.csv"),
//!     &LoadOptions::default(),
//! )
//! .unwrap();
//! let (cohort, exposure) =
//!     ExposureTime::new("cluster", "period", "treated").derive(cohort).unwrap();
//! let fit = Glm::new("death30 ~ factor(exposure) + factor(period)").unwrap().fit(&cohort).unwrap();
//! let tate = Tate::new("exposure").apply(&fit).unwrap();
//! assert_eq!(tate.levels.len(), exposure.max_exposure);
//! println!("TATE (log OR) {:.3}, SE {:.3}", tate.tate.estimate, tate.tate.std_error);
//! ```

use serde::Serialize;

use crate::core::builder::builder_methods;
use crate::core::error::{Error, Result};
use crate::effects::contrast::{combination, wald_test, WaldTest};
use crate::models::coef_table::{align, coef_table, format_p, sig, whole_or_sig, CoefRow};
use crate::models::fitted::{Fitted, Parameters};
use crate::models::glm::Link;
use crate::models::vcov::VcovKind;

pub use crate::models::likelihood_ratio::{likelihood_ratio, LikelihoodRatioTest};

/// The time-averaged treatment effect of a fit (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct Tate {
    exposure: String,
    treatment: String,
    weights: Option<Vec<f64>>,
    horizon: Option<usize>,
}

/// How the fit models the effect's change with exposure time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExposureModel {
    /// One effect per exposure time, `factor(exposure)` (the ETI model).
    Indicators,
    /// `treated + exposure`: `delta_s = theta_0 + theta_1 s`.
    Linear,
    /// `exposure` alone: `delta_s = theta s`, no effect at exposure 0.
    Ramp,
}

/// The effect at one exposure time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExposureEffect {
    /// The exposure time `s` (1 = the first treated period).
    pub exposure: f64,
    /// Its weight in the TATE.
    pub weight: f64,
    /// `delta_s` with its standard error, test and interval (exponentiated for the log and
    /// logit links); `term` names it: `factor(exposure)2`, or `treated + 2 exposure`.
    #[serde(flatten)]
    pub effect: CoefRow,
}

/// The effect curve over exposure time and its time average.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TateEstimate {
    /// The exposure column.
    pub exposure: String,
    /// How the fit models the effect's change with exposure.
    pub model: ExposureModel,
    /// The link: the effects are on its scale.
    pub link: Link,
    /// The variance estimator of the standard errors.
    pub vcov_kind: VcovKind,
    /// The confidence level.
    pub level: f64,
    /// The TATE `a' beta` (term `TATE`), SE `sqrt(a' V a)`, t or z test and interval, and
    /// (log, logit links) the exponentiated estimate and interval.
    pub tate: CoefRow,
    /// The averaging vector `a`: one weight per fixed effect of the fit, named.
    pub averaging: Vec<(String, f64)>,
    /// The effect at each exposure time `1..L`.
    pub levels: Vec<ExposureEffect>,
    /// The Wald test that the effect does not change with exposure time (none for the ramp, or
    /// an ETI model with one exposure level).
    pub constant_effect: Option<WaldTest>,
}

impl Tate {
    /// The TATE of the exposure column `exposure` (`factor(exposure)` terms, or the linear
    /// terms `exposure` and `treated`), equal weights.
    pub fn new(exposure: &str) -> Tate {
        Tate {
            exposure: exposure.to_string(),
            treatment: "treated".to_string(),
            weights: None,
            horizon: None,
        }
    }

    builder_methods! {
        /// Weights of the exposure times `1..L` (one each, at least 0, not all 0; scaled to sum
        /// to 1). Default: `1/L` each.
        weights(&mut this, weights: Vec<f64>) { this.weights = Some(weights); }

        /// The 0/1 treatment column of the linear-in-exposure model `treated + exposure`
        /// (default `treated`).
        treatment(&mut this, treatment: &str) { this.treatment = treatment.to_string(); }

        /// `L`, the longest exposure the linear-in-exposure and ramp models average over (they
        /// have no level to read it from); with the ETI model it must equal the number of
        /// `factor(exposure)` levels.
        horizon(&mut this, horizon: usize) { this.horizon = Some(horizon); }
    }

    /// The effect curve, the TATE and the test of a constant effect of `fit`. Errors name the
    /// terms: a fit without `factor(exposure)` terms or an `exposure` term, a `factor(exposure)0`
    /// coefficient (exposure 0 must be the reference), an interaction of the exposure, weights or
    /// a horizon that do not fit the levels, a variance that is not finite.
    pub fn apply<F: Fitted>(&self, fit: &F) -> Result<TateEstimate> {
        let params = fit.parameters()?;
        let names: Vec<&str> = fit.coefficients().iter().map(|r| r.term.as_str()).collect();
        let (model, curve) = self.curve(&names)?;
        let weights = self.scaled_weights(curve.len())?;
        let p = names.len();
        let mut a = vec![0.0; p];
        for (c, w) in curve.iter().zip(&weights) {
            for (aj, cj) in a.iter_mut().zip(&c.contrast) {
                *aj += w * cj;
            }
        }
        let exponentiate = matches!(params.link, Link::Log | Link::Logit);
        let row = |term: &str, contrast: &[f64]| -> Result<CoefRow> {
            if let Some(j) = unit_index(contrast) {
                return Ok(fit.coefficients()[j].clone());
            }
            combination_row(fit, &params, term, contrast, exponentiate)
        };
        let levels = curve
            .iter()
            .zip(&weights)
            .map(|(c, w)| {
                Ok(ExposureEffect {
                    exposure: c.exposure,
                    weight: *w,
                    effect: row(&c.term, &c.contrast)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let tate = combination_row(fit, &params, "TATE", &a, exponentiate)?;
        let constant_effect = self.constant_effect(model, &curve, &names, &params)?;
        Ok(TateEstimate {
            exposure: self.exposure.clone(),
            model,
            link: params.link,
            vcov_kind: params.vcov_kind,
            level: fit.level(),
            tate,
            averaging: names.iter().map(|n| n.to_string()).zip(a).collect(),
            levels,
            constant_effect,
        })
    }

    /// The model and the contrast `c_s` of each exposure time, from the coefficient names.
    fn curve(&self, names: &[&str]) -> Result<(ExposureModel, Vec<Point>)> {
        let factor = format!("factor({})", self.exposure);
        let p = names.len();
        let unit = |j: usize, scale: f64| {
            let mut c = vec![0.0; p];
            c[j] = scale;
            c
        };
        // An interaction makes the effect depend on another variable too.
        if let Some(name) = names
            .iter()
            .find(|n| n.contains(':') && n.split(':').any(|part| self.is_exposure(part)))
        {
            return Err(Error::invalid(
                "tate",
                format!(
                    "the coefficient '{name}' is an interaction of the exposure time: the effect \
                     at each exposure then depends on another variable, and its time average is \
                     not one number; fit the exposure without interactions"
                ),
            ));
        }
        let mut points = Vec::new();
        for (j, name) in names.iter().enumerate() {
            let Some(label) = name.strip_prefix(factor.as_str()) else {
                continue;
            };
            let exposure = label.parse::<f64>().ok().filter(|v| v.is_finite());
            match exposure {
                Some(s) if s > 0.0 => points.push(Point {
                    exposure: s,
                    term: name.to_string(),
                    contrast: unit(j, 1.0),
                }),
                _ => {
                    return Err(Error::invalid(
                        "tate",
                        format!(
                            "the coefficient '{name}' is a level of the exposure time other than \
                             1, 2, ...: the exposure must be 0 before the crossover and count \
                             the periods since it, with 0 the reference level (a reference \
                             level other than 0, or no unexposed rows, gives a coefficient for \
                             exposure 0)"
                        ),
                    ))
                }
            }
        }
        if !points.is_empty() {
            points.sort_by(|a, b| a.exposure.total_cmp(&b.exposure));
            if let Some(h) = self.horizon.filter(|h| *h != points.len()) {
                return Err(Error::invalid(
                    "horizon",
                    format!(
                        "is {h}, but the fit has {} exposure levels ({})",
                        points.len(),
                        terms(&points)
                    ),
                ));
            }
            return Ok((ExposureModel::Indicators, points));
        }
        let Some(slope) = names.iter().position(|n| *n == self.exposure) else {
            return Err(Error::unknown_term(
                "tate: the exposure-time terms",
                &factor,
                names,
            ));
        };
        let step = names.iter().position(|n| *n == self.treatment);
        let horizon = self.horizon.ok_or_else(|| {
            Error::invalid(
                "horizon",
                format!(
                    "the linear model in '{}' has no exposure levels to average over: give the \
                     longest exposure L (Tate::horizon, swfit --tate-horizon), usually the \
                     largest exposure in the data",
                    self.exposure
                ),
            )
        })?;
        if horizon == 0 {
            return Err(Error::invalid("horizon", "must be at least 1"));
        }
        let model = if step.is_some() {
            ExposureModel::Linear
        } else {
            ExposureModel::Ramp
        };
        let points = (1..=horizon)
            .map(|s| {
                let s = s as f64;
                let mut contrast = unit(slope, s);
                let term = match step {
                    Some(k) => {
                        contrast[k] = 1.0;
                        format!("{} + {} {}", self.treatment, s, self.exposure)
                    }
                    None => format!("{} {}", s, self.exposure),
                };
                Point {
                    exposure: s,
                    term,
                    contrast,
                }
            })
            .collect();
        Ok((model, points))
    }

    /// Whether a part of a coefficient name is the exposure (`exposure`, `factor(exposure)3`).
    fn is_exposure(&self, part: &str) -> bool {
        part == self.exposure || part.starts_with(&format!("factor({})", self.exposure))
    }

    /// The weights of `n` exposure times, scaled to sum to 1.
    fn scaled_weights(&self, n: usize) -> Result<Vec<f64>> {
        let Some(weights) = &self.weights else {
            return Ok(vec![1.0 / n as f64; n]);
        };
        if weights.len() != n {
            return Err(Error::invalid(
                "weights",
                format!(
                    "{} weights given, one per exposure time 1..{n} is needed",
                    weights.len()
                ),
            ));
        }
        if let Some(w) = weights.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return Err(Error::invalid(
                "weights",
                format!("{w} is not a finite weight of 0 or more"),
            ));
        }
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return Err(Error::invalid("weights", "every weight is 0"));
        }
        Ok(weights.iter().map(|w| w / total).collect())
    }

    /// The Wald test of a constant effect over exposure time.
    fn constant_effect(
        &self,
        model: ExposureModel,
        curve: &[Point],
        names: &[&str],
        params: &Parameters,
    ) -> Result<Option<WaldTest>> {
        let (rows, tested): (Vec<Vec<f64>>, Vec<String>) = match model {
            ExposureModel::Ramp => return Ok(None),
            ExposureModel::Indicators if curve.len() < 2 => return Ok(None),
            ExposureModel::Indicators => {
                let first = &curve[0].contrast;
                let rows = curve[1..]
                    .iter()
                    .map(|c| c.contrast.iter().zip(first).map(|(a, b)| a - b).collect())
                    .collect();
                (rows, curve.iter().map(|c| c.term.clone()).collect())
            }
            ExposureModel::Linear => {
                let slope = names.iter().position(|n| *n == self.exposure);
                let row = (0..names.len())
                    .map(|j| f64::from(u8::from(Some(j) == slope)))
                    .collect();
                (vec![row], vec![self.exposure.clone()])
            }
        };
        wald_test(
            params,
            &rows,
            tested,
            "the variance matrix of the exposure-time contrasts",
        )
        .map(Some)
    }
}

impl std::fmt::Display for TateEstimate {
    /// The effect at each exposure time, the TATE and the test of a constant effect.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let model = match self.model {
            ExposureModel::Indicators => {
                format!("factor({}): one effect per exposure time", self.exposure)
            }
            ExposureModel::Linear => format!("linear in {}", self.exposure),
            ExposureModel::Ramp => format!("proportional to {}", self.exposure),
        };
        let ratio = match self.link {
            Link::Logit => Some("OR"),
            Link::Log => Some("RR"),
            _ => None,
        };
        let reference = match self.tate.df {
            Some(df) => format!("t on {} df", sig(df, 4)),
            None => "z".to_string(),
        };
        writeln!(
            f,
            "Treatment effect by exposure time ({model}; {} link, {} variance)",
            self.link,
            self.vcov_kind.describe()
        )?;
        let pct = format!("{}%", whole_or_sig(100.0 * self.level));
        let mut header = vec![
            "Exposure".to_string(),
            "Weight".into(),
            "Estimate".into(),
            "Std. Error".into(),
            "p".into(),
            format!("{pct} CI"),
        ];
        if let Some(r) = ratio {
            header.push(format!("{r} ({pct} CI)"));
        }
        let mut table = vec![header];
        let line = |label: String, weight: String, row: &CoefRow| {
            let mut cells = vec![
                label,
                weight,
                sig(row.estimate, 4),
                sig(row.std_error, 4),
                format_p(row.p_value),
                format!("{} to {}", sig(row.ci_low, 4), sig(row.ci_high, 4)),
            ];
            if ratio.is_some() {
                cells.push(format!(
                    "{} ({} to {})",
                    sig(row.estimate.exp(), 3),
                    sig(row.ci_low.exp(), 3),
                    sig(row.ci_high.exp(), 3)
                ));
            }
            cells
        };
        for level in &self.levels {
            table.push(line(
                whole_or_sig(level.exposure),
                sig(level.weight, 4),
                &level.effect,
            ));
        }
        table.push(line("TATE".into(), "1".into(), &self.tate));
        f.write_str(&align(&table))?;
        writeln!(
            f,
            "TATE: the weighted mean of the effects at exposure {} to {} ({reference})",
            self.levels
                .first()
                .map_or(String::new(), |l| whole_or_sig(l.exposure)),
            self.levels
                .last()
                .map_or(String::new(), |l| whole_or_sig(l.exposure)),
        )?;
        if let Some(w) = &self.constant_effect {
            writeln!(
                f,
                "Wald test of an effect constant over exposure time: X2 = {} on {} df, p = {}",
                sig(w.statistic, 4),
                w.df,
                format_p(w.p_value)
            )?;
        }
        Ok(())
    }
}

/// One exposure time: its value, the name of its effect and the contrast `c_s`.
struct Point {
    exposure: f64,
    term: String,
    contrast: Vec<f64>,
}

/// The terms of `points`, joined for a message.
fn terms(points: &[Point]) -> String {
    points
        .iter()
        .map(|p| p.term.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The index `j` of a unit vector `e_j`, if `contrast` is one.
fn unit_index(contrast: &[f64]) -> Option<usize> {
    let mut nonzero = contrast.iter().enumerate().filter(|(_, c)| **c != 0.0);
    match (nonzero.next(), nonzero.next()) {
        (Some((j, c)), None) if *c == 1.0 => Some(j),
        _ => None,
    }
}

/// The coefficient-table row of `contrast' beta`, named `term`: SE `sqrt(a' V a)`, the t
/// reference of [`Fitted::contrast_df`], exponentiated for the log and logit links.
fn combination_row<F: Fitted>(
    fit: &F,
    params: &Parameters,
    term: &str,
    contrast: &[f64],
    exponentiate: bool,
) -> Result<CoefRow> {
    let (estimate, variance) = combination(params, contrast);
    let df = fit.contrast_df(contrast)?;
    let mut rows = coef_table(
        &[term.to_string()],
        &[estimate],
        &[variance],
        df,
        fit.level(),
        exponentiate,
    )?;
    Ok(rows.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_vectors_are_recognised() {
        assert_eq!(unit_index(&[0.0, 1.0, 0.0]), Some(1));
        assert_eq!(unit_index(&[0.0, 2.0, 0.0]), None);
        assert_eq!(unit_index(&[1.0, 1.0]), None);
        assert_eq!(unit_index(&[0.0]), None);
    }

    #[test]
    fn weights_are_checked_and_scaled() {
        let tate = Tate::new("exposure").weights(vec![1.0, 3.0]);
        assert_eq!(tate.scaled_weights(2).unwrap(), vec![0.25, 0.75]);
        assert!(tate.scaled_weights(3).is_err());
        let negative = Tate::new("exposure").weights(vec![1.0, -1.0]);
        assert!(negative.scaled_weights(2).is_err());
        let zero = Tate::new("exposure").weights(vec![0.0, 0.0]);
        assert!(zero.scaled_weights(2).is_err());
        assert_eq!(Tate::new("e").scaled_weights(4).unwrap(), vec![0.25; 4]);
    }

    #[test]
    fn the_curve_is_read_from_the_coefficient_names() {
        let names = [
            "(Intercept)",
            "factor(exposure)1",
            "factor(exposure)2",
            "factor(period)2",
        ];
        let (model, curve) = Tate::new("exposure").curve(&names).unwrap();
        assert_eq!(model, ExposureModel::Indicators);
        assert_eq!(curve.len(), 2);
        assert_eq!(curve[1].contrast, vec![0.0, 0.0, 1.0, 0.0]);
        let linear = ["(Intercept)", "treated", "exposure", "factor(period)2"];
        let (model, curve) = Tate::new("exposure").horizon(3).curve(&linear).unwrap();
        assert_eq!(model, ExposureModel::Linear);
        assert_eq!(curve[2].contrast, vec![0.0, 1.0, 3.0, 0.0]);
        assert_eq!(curve[2].term, "treated + 3 exposure");
        let ramp = ["(Intercept)", "exposure"];
        let (model, _) = Tate::new("exposure").horizon(2).curve(&ramp).unwrap();
        assert_eq!(model, ExposureModel::Ramp);
        let error = |names: &[&str], tate: Tate| tate.curve(names).err().unwrap().to_string();
        let none = error(&["(Intercept)", "treated"], Tate::new("exposure"));
        assert!(
            none.contains("factor(exposure)") && none.contains("treated"),
            "{none}"
        );
        let zero = error(
            &["(Intercept)", "factor(exposure)0", "factor(exposure)2"],
            Tate::new("exposure"),
        );
        assert!(zero.contains("'factor(exposure)0'"), "{zero}");
        let interaction = error(
            &["factor(exposure)1", "factor(exposure)1:sexM"],
            Tate::new("exposure"),
        );
        assert!(
            interaction.contains("factor(exposure)1:sexM"),
            "{interaction}"
        );
        let horizon = error(&linear, Tate::new("exposure"));
        assert!(horizon.contains("horizon"), "{horizon}");
        let mismatch = error(&names, Tate::new("exposure").horizon(3));
        assert!(mismatch.contains("2 exposure levels"), "{mismatch}");
    }
}
