//! The number needed to treat, with Altman's (1998) interval that may run through infinity.
//!
//! Altman DG. Confidence intervals for the number needed to treat. BMJ 1998;317:1309-12.

use std::fmt;

use serde::Serialize;

use super::estimate::{serialize_extended, Confidence, Estimate, Number, Percent};
use super::risk_difference::RiskDifferenceMethod;
use super::table::{OutcomeKind, TwoByTwo};
use crate::core::error::Result;

/// Which way the treatment moves the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Treatment is better: fewer adverse events (or more beneficial ones).
    Benefit,
    /// Treatment is worse.
    Harm,
    /// The risks are equal: the NNT is infinite.
    NoDifference,
}

/// The confidence interval of an NNT, in Altman's three shapes.
///
/// Bounds are NNTs (positive numbers); a bound is `+inf` when the corresponding limit of the risk
/// difference is exactly 0. Infinite bounds are serialised as `"Inf"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NntInterval {
    /// The whole interval shows benefit: NNT(benefit) from `low` to `high`.
    Benefit {
        /// Smaller NNT(benefit) (the larger benefit).
        #[serde(serialize_with = "serialize_extended")]
        low: f64,
        /// Larger NNT(benefit).
        #[serde(serialize_with = "serialize_extended")]
        high: f64,
    },
    /// The whole interval shows harm: NNT(harm) from `low` to `high`.
    Harm {
        /// Smaller NNT(harm) (the larger harm).
        #[serde(serialize_with = "serialize_extended")]
        low: f64,
        /// Larger NNT(harm).
        #[serde(serialize_with = "serialize_extended")]
        high: f64,
    },
    /// The risk-difference interval includes 0: the NNT interval runs from NNT(harm)
    /// `harm_bound` through infinity to NNT(benefit) `benefit_bound`.
    ThroughInfinity {
        /// NNT(harm) at the harmful end of the interval.
        #[serde(serialize_with = "serialize_extended")]
        harm_bound: f64,
        /// NNT(benefit) at the beneficial end of the interval.
        #[serde(serialize_with = "serialize_extended")]
        benefit_bound: f64,
    },
}

/// A number needed to treat with its confidence interval.
///
/// Model and sign convention: with `RD = p1 - p0` (treated minus control), the *benefit
/// difference* is `BD = -RD` for adverse events (fewer deaths under treatment is benefit) and
/// `BD = RD` for beneficial events ([`OutcomeKind`]). Then
///
/// * `BD > 0`: NNT(benefit) `= 1 / BD`, patients treated for one more patient to benefit;
/// * `BD < 0`: NNT(harm) `= 1 / |BD|`, patients treated for one more patient to be harmed;
/// * `BD = 0`: the NNT is infinite.
///
/// The interval inverts the limits `(L, U)` of the BD interval (Altman 1998): if `L >= 0`
/// NNT(benefit) `1/U` to `1/L`; if `U <= 0` NNT(harm) `1/|L|` to `1/|U|`; otherwise
/// NNT(harm) `1/|L|` to ∞ to NNT(benefit) `1/U`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Nnt {
    /// Benefit, harm or no difference at the point estimate.
    pub direction: Direction,
    /// The NNT(benefit) or NNT(harm) of the point estimate, `1 / |RD|` (`+inf` when `RD = 0`).
    #[serde(serialize_with = "serialize_extended")]
    pub nnt: f64,
    /// The confidence interval.
    pub interval: NntInterval,
    /// Confidence level of the interval.
    pub level: f64,
    /// Whether events are adverse or beneficial.
    pub outcome: OutcomeKind,
}

impl Nnt {
    /// The NNT from a risk difference `rd` (treated minus control, with its interval) for events
    /// of kind `outcome`; see the type's documentation for the convention.
    pub fn from_risk_difference(rd: &Estimate, outcome: OutcomeKind) -> Self {
        let (bd, low, high) = match outcome {
            OutcomeKind::Adverse => (-rd.estimate, -rd.ci_high, -rd.ci_low),
            OutcomeKind::Beneficial => (rd.estimate, rd.ci_low, rd.ci_high),
        };
        let direction = if bd > 0.0 {
            Direction::Benefit
        } else if bd < 0.0 {
            Direction::Harm
        } else {
            Direction::NoDifference
        };
        Nnt {
            direction,
            nnt: inverse(bd),
            interval: NntInterval::from_limits(low, high),
            level: rd.level,
            outcome,
        }
    }
}

impl NntInterval {
    /// The interval as `(low, high)` where it is one piece (NNT(benefit) or NNT(harm)
    /// throughout); `None` for an interval through infinity.
    pub fn bounds(&self) -> Option<(f64, f64)> {
        match *self {
            NntInterval::Benefit { low, high } | NntInterval::Harm { low, high } => {
                Some((low, high))
            }
            NntInterval::ThroughInfinity { .. } => None,
        }
    }

    /// Altman's interval from the limits `low <= high` of the benefit difference.
    fn from_limits(low: f64, high: f64) -> Self {
        if low >= 0.0 && high > 0.0 {
            NntInterval::Benefit {
                low: inverse(high),
                high: inverse(low),
            }
        } else if high <= 0.0 && low < 0.0 {
            NntInterval::Harm {
                low: inverse(low),
                high: inverse(high),
            }
        } else {
            NntInterval::ThroughInfinity {
                harm_bound: inverse(low),
                benefit_bound: inverse(high),
            }
        }
    }
}

/// `1 / |x|`, `+inf` for `x = 0` (of either sign).
fn inverse(x: f64) -> f64 {
    1.0 / x.abs()
}

impl TwoByTwo {
    /// The number needed to treat from the risk difference with the interval of `method`, for
    /// the table's [`OutcomeKind`] (adverse events unless set with
    /// [`TwoByTwo::with_outcome`]). Errors if `level` is not in (0, 1).
    pub fn nnt(&self, level: f64, method: RiskDifferenceMethod) -> Result<Nnt> {
        Ok(self.nnt_at(&Confidence::new(level)?, method))
    }

    pub(crate) fn nnt_at(&self, conf: &Confidence, method: RiskDifferenceMethod) -> Nnt {
        Nnt::from_risk_difference(&self.risk_difference_at(conf, method), self.outcome())
    }
}

/// Altman's wording, e.g. `NNT(harm) 21.6 to ∞ to NNT(benefit) 4.5`; the formatter's precision
/// (default 1) applies.
impl fmt::Display for NntInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = f.precision().unwrap_or(1);
        match *self {
            NntInterval::Benefit { low, high } => {
                write!(f, "NNT(benefit) {} to {}", Number(low, p), Number(high, p))
            }
            NntInterval::Harm { low, high } => {
                write!(f, "NNT(harm) {} to {}", Number(low, p), Number(high, p))
            }
            NntInterval::ThroughInfinity {
                harm_bound,
                benefit_bound,
            } => write!(
                f,
                "NNT(harm) {} to ∞ to NNT(benefit) {}",
                Number(harm_bound, p),
                Number(benefit_bound, p)
            ),
        }
    }
}

/// For example `NNT(benefit) 6.1 (95% CI NNT(benefit) 3.9 to 17.6)`; the formatter's precision
/// (default 1) applies.
impl fmt::Display for Nnt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = f.precision().unwrap_or(1);
        let label = match self.direction {
            Direction::Benefit => "NNT(benefit) ",
            Direction::Harm => "NNT(harm) ",
            Direction::NoDifference => "NNT ",
        };
        write!(
            f,
            "{label}{} ({} CI {:.p$})",
            Number(self.nnt, p),
            Percent(self.level),
            self.interval
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(estimate: f64, ci_low: f64, ci_high: f64) -> Estimate {
        Estimate {
            estimate,
            ci_low,
            ci_high,
            level: 0.95,
        }
    }

    #[test]
    fn lower_death_risk_under_treatment_is_benefit() {
        let nnt = Nnt::from_risk_difference(&rd(-0.1, -0.2, -0.05), OutcomeKind::Adverse);
        assert_eq!(nnt.direction, Direction::Benefit);
        assert!((nnt.nnt - 10.0).abs() < 1e-12);
        assert_eq!(
            nnt.interval,
            NntInterval::Benefit {
                low: 5.0,
                high: 20.0
            }
        );
        assert_eq!(
            nnt.to_string(),
            "NNT(benefit) 10.0 (95% CI NNT(benefit) 5.0 to 20.0)"
        );
    }

    #[test]
    fn beneficial_outcome_flips_the_sign() {
        let nnt = Nnt::from_risk_difference(&rd(-0.1, -0.2, -0.05), OutcomeKind::Beneficial);
        assert_eq!(nnt.direction, Direction::Harm);
        assert_eq!(
            nnt.interval,
            NntInterval::Harm {
                low: 5.0,
                high: 20.0
            }
        );
    }

    #[test]
    fn interval_covering_zero_runs_through_infinity() {
        // Shaped like Altman's (1998) example: a risk reduction of 0.096 whose interval runs
        // from 0.046 harm to 0.222 benefit.
        let nnt = Nnt::from_risk_difference(&rd(-0.096, -0.222, 0.046), OutcomeKind::Adverse);
        assert_eq!(
            nnt.to_string(),
            "NNT(benefit) 10.4 (95% CI NNT(harm) 21.7 to ∞ to NNT(benefit) 4.5)"
        );
        let json = serde_json::to_value(nnt).unwrap();
        assert_eq!(json["interval"]["kind"], "through_infinity");
        assert_eq!(json["direction"], "benefit");
    }

    #[test]
    fn zero_limits_give_infinite_bounds() {
        let nnt = Nnt::from_risk_difference(&rd(-0.1, -0.2, 0.0), OutcomeKind::Adverse);
        assert_eq!(
            nnt.interval,
            NntInterval::Benefit {
                low: 5.0,
                high: f64::INFINITY
            }
        );
        let none = Nnt::from_risk_difference(&rd(0.0, 0.0, 0.0), OutcomeKind::Adverse);
        assert_eq!(none.direction, Direction::NoDifference);
        assert_eq!(none.nnt, f64::INFINITY);
        assert_eq!(
            serde_json::to_value(none).unwrap()["nnt"],
            serde_json::Value::String("Inf".into())
        );
    }

    #[test]
    fn table_nnt_uses_the_outcome_kind() {
        let t = TwoByTwo::new(6, 100, 20, 152).unwrap();
        let adverse = t.nnt(0.95, RiskDifferenceMethod::Newcombe).unwrap();
        assert_eq!(adverse.direction, Direction::Benefit);
        assert!(matches!(
            adverse.interval,
            NntInterval::ThroughInfinity { .. }
        ));
        let good = t.with_outcome(OutcomeKind::Beneficial);
        assert_eq!(
            good.nnt(0.95, RiskDifferenceMethod::Wald)
                .unwrap()
                .direction,
            Direction::Harm
        );
        assert!(t.nnt(1.2, RiskDifferenceMethod::Wald).is_err());
    }
}
