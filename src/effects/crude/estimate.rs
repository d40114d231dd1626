//! The shapes every effect measure comes back in: a point estimate with its confidence interval
//! ([`Estimate`]), a quantity that a valid table may still not define ([`Estimable`]), and the
//! confidence level with its normal quantile ([`Confidence`]).

use std::fmt;

use serde::{Serialize, Serializer};

use crate::core::dist::normal_quantile;
use crate::core::error::{Error, Result};

/// The confidence level used when none is given: 95%.
pub const DEFAULT_LEVEL: f64 = 0.95;

/// A point estimate with a two-sided confidence interval `[ci_low, ci_high]` at confidence
/// `level` (for example 0.95).
///
/// Ratio measures may have bounds `0` or `+inf` (an exact interval that is open at one end, or
/// a conditional MLE on the boundary). JSON has no infinity: infinite values are serialised as
/// the strings `"Inf"` and `"-Inf"`, as R's `jsonlite` writes them. No field is ever NaN.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// The point estimate.
    #[serde(serialize_with = "serialize_extended")]
    pub estimate: f64,
    /// Lower confidence limit.
    #[serde(serialize_with = "serialize_extended")]
    pub ci_low: f64,
    /// Upper confidence limit.
    #[serde(serialize_with = "serialize_extended")]
    pub ci_high: f64,
    /// Confidence level of the interval, in (0, 1).
    pub level: f64,
}

impl Estimate {
    /// Whether `value` lies in the closed interval `[ci_low, ci_high]`.
    pub fn contains(&self, value: f64) -> bool {
        self.ci_low <= value && value <= self.ci_high
    }
}

impl Estimable<Estimate> {
    /// A ratio of the treated group against the control group with its Wald interval on the log
    /// scale: `exp(log_ratio)` with limits `exp(log_ratio -/+ z sqrt(variance))`, `z` the normal
    /// quantile of `conf`. Where `zeros` names counts that are 0, the ratio is 0 or infinite
    /// and its log has infinite variance: the result is [`Estimable::NotEstimable`] with the
    /// reason `undefined(zeros)`.
    pub(crate) fn log_scale_ratio(
        zeros: Option<String>,
        undefined: impl FnOnce(String) -> String,
        log_ratio: f64,
        variance: f64,
        conf: &Confidence,
    ) -> Self {
        if let Some(zeros) = zeros {
            return Estimable::not(undefined(zeros));
        }
        let se = variance.sqrt();
        Estimable::Estimated(Estimate {
            estimate: log_ratio.exp(),
            ci_low: (log_ratio - conf.z * se).exp(),
            ci_high: (log_ratio + conf.z * se).exp(),
            level: conf.level,
        })
    }
}

/// Prints `estimate (95% CI low to high)`; the formatter's precision (default 3) applies to
/// the three numbers, and infinite values print as `∞`.
impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = f.precision().unwrap_or(3);
        write!(
            f,
            "{} ({} CI {} to {})",
            Number(self.estimate, digits),
            Percent(self.level),
            Number(self.ci_low, digits),
            Number(self.ci_high, digits)
        )
    }
}

/// A quantity that a valid table may leave undefined (Woolf's interval with a zero cell, a
/// chi-square test with a zero expected count, ...). `NotEstimable` says why, in words meant for
/// the researcher.
///
/// Serialised without a tag: either the quantity's own fields, or `{"reason": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Estimable<T> {
    /// The quantity.
    Estimated(T),
    /// Why the table does not define it.
    NotEstimable {
        /// The explanation.
        reason: String,
    },
}

impl<T> Estimable<T> {
    /// A `NotEstimable` with the given reason.
    pub(crate) fn not(reason: impl Into<String>) -> Self {
        Estimable::NotEstimable {
            reason: reason.into(),
        }
    }

    /// The quantity, if it is defined.
    pub fn value(&self) -> Option<&T> {
        match self {
            Estimable::Estimated(v) => Some(v),
            Estimable::NotEstimable { .. } => None,
        }
    }

    /// The reason it is not defined, if it is not.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Estimable::Estimated(_) => None,
            Estimable::NotEstimable { reason } => Some(reason),
        }
    }

    /// The quantity, or the reason as an [`Error::InvalidArgument`] on argument `table`, for
    /// callers that want to use `?`.
    pub fn into_result(self) -> Result<T> {
        match self {
            Estimable::Estimated(v) => Ok(v),
            Estimable::NotEstimable { reason } => Err(Error::invalid("table", reason)),
        }
    }
}

/// Prints the quantity, or `not estimable: <reason>`.
impl<T: fmt::Display> fmt::Display for Estimable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Estimable::Estimated(v) => match f.precision() {
                Some(p) => write!(f, "{v:.p$}"),
                None => write!(f, "{v}"),
            },
            Estimable::NotEstimable { reason } => write!(f, "not estimable: {reason}"),
        }
    }
}

/// A validated confidence level with its two-sided normal quantile
/// `z = qnorm((1 + level) / 2)` (1.959964 for 95%).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Confidence {
    level: f64,
    z: f64,
}

impl Confidence {
    /// Check that `level` is a number strictly between 0 and 1, and compute its quantile.
    pub fn new(level: f64) -> Result<Self> {
        if !(level > 0.0 && level < 1.0) {
            return Err(Error::invalid(
                "level",
                format!(
                    "confidence level {level} is not strictly between 0 and 1 (use 0.95 for 95%)"
                ),
            ));
        }
        Ok(Confidence {
            level,
            z: normal_quantile((1.0 + level) / 2.0),
        })
    }

    /// The level, in (0, 1).
    pub fn level(&self) -> f64 {
        self.level
    }

    /// The two-sided normal quantile `qnorm((1 + level) / 2)`.
    pub fn z(&self) -> f64 {
        self.z
    }

    /// The tail probability on each side, `(1 - level) / 2`.
    pub fn alpha_half(&self) -> f64 {
        (1.0 - self.level) / 2.0
    }
}

/// Serialise an `f64` that may be infinite: finite values as JSON numbers, `±inf` as the strings
/// `"Inf"` / `"-Inf"` (R `jsonlite`'s spelling), so that no bound is silently turned into `null`.
pub(crate) fn serialize_extended<S: Serializer>(
    x: &f64,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    debug_assert!(!x.is_nan(), "NaN reached serialisation");
    if x.is_infinite() {
        s.serialize_str(if *x > 0.0 { "Inf" } else { "-Inf" })
    } else {
        s.serialize_f64(*x)
    }
}

/// A number with `digits` decimals, `∞` / `-∞` for infinities.
pub(crate) struct Number(pub f64, pub usize);

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Number(x, digits) = *self;
        if x.is_infinite() {
            f.pad(if x > 0.0 { "∞" } else { "-∞" })
        } else {
            f.pad(&format!("{x:.digits$}"))
        }
    }
}

/// A confidence level as a percentage without needless decimals: `95%`, `99.5%`.
pub(crate) struct Percent(pub f64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = format!("{:.6}", self.0 * 100.0);
        let trimmed = pct.trim_end_matches('0').trim_end_matches('.');
        f.pad(&format!("{trimmed}%"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_must_be_inside_zero_one() {
        for bad in [0.0, 1.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
            let err = Confidence::new(bad).unwrap_err();
            assert!(
                err.to_string().contains("invalid argument 'level'"),
                "{err}"
            );
        }
        let c = Confidence::new(0.95).unwrap();
        assert!((c.z - 1.959963984540054).abs() < 1e-14);
        assert!((c.alpha_half() - 0.025).abs() < 1e-15);
    }

    #[test]
    fn infinite_bounds_serialise_as_strings() {
        let e = Estimate {
            estimate: f64::INFINITY,
            ci_low: 2.5,
            ci_high: f64::INFINITY,
            level: 0.95,
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"estimate":"Inf","ci_low":2.5,"ci_high":"Inf","level":0.95}"#
        );
        assert_eq!(format!("{e:.2}"), "∞ (95% CI 2.50 to ∞)");
    }

    #[test]
    fn not_estimable_carries_its_reason() {
        let e: Estimable<Estimate> = Estimable::not("cell a is 0");
        assert_eq!(e.reason(), Some("cell a is 0"));
        assert!(e.value().is_none());
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"reason":"cell a is 0"}"#
        );
        assert!(e
            .into_result()
            .unwrap_err()
            .to_string()
            .contains("cell a is 0"));
    }

    #[test]
    fn percent_drops_trailing_zeros() {
        assert_eq!(Percent(0.95).to_string(), "95%");
        assert_eq!(Percent(0.995).to_string(), "99.5%");
    }
}
