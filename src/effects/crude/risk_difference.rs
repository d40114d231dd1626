//! The risk difference `p1 - p0` with the Wald interval and Newcombe's hybrid score interval.

use serde::Serialize;

use super::estimate::{Confidence, Estimate};
use super::table::TwoByTwo;
use crate::core::error::Result;

/// How the interval of a risk difference is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskDifferenceMethod {
    /// Wald (normal approximation with the unpooled standard error), clamped to `[-1, 1]`.
    Wald,
    /// Newcombe's hybrid score interval (method 10 of Newcombe 1998), from the two Wilson
    /// intervals. Better coverage with small counts; the default.
    #[default]
    Newcombe,
}

impl TwoByTwo {
    /// The risk difference `RD = p1 - p0` (treated minus control) with the interval of `method`
    /// (see [`TwoByTwo::risk_difference_wald`] and [`TwoByTwo::risk_difference_newcombe`]).
    pub fn risk_difference(&self, level: f64, method: RiskDifferenceMethod) -> Result<Estimate> {
        Ok(self.risk_difference_at(&Confidence::new(level)?, method))
    }

    /// `RD = p1 - p0` with the Wald interval
    ///
    /// ```text
    /// RD -/+ z sqrt(p1 (1 - p1) / n1 + p0 (1 - p0) / n0),   z = qnorm((1 + level) / 2),
    /// ```
    ///
    /// clamped to `[-1, 1]`: R's two-sample `prop.test(correct = FALSE)$conf.int`. When both
    /// risks are 0 or 1 the interval has width 0.
    pub fn risk_difference_wald(&self, level: f64) -> Result<Estimate> {
        self.risk_difference(level, RiskDifferenceMethod::Wald)
    }

    /// `RD = p1 - p0` with Newcombe's hybrid score interval (Newcombe 1998, Stat Med 17:873,
    /// method 10). With `(l1, u1)` and `(l0, u0)` the Wilson intervals of `p1` and `p0`:
    ///
    /// ```text
    /// lower = RD - sqrt((p1 - l1)² + (u0 - p0)²)
    /// upper = RD + sqrt((u1 - p1)² + (p0 - l0)²)
    /// ```
    ///
    /// It always lies within `[-1, 1]` and is defined for every table.
    pub fn risk_difference_newcombe(&self, level: f64) -> Result<Estimate> {
        self.risk_difference(level, RiskDifferenceMethod::Newcombe)
    }

    pub(crate) fn risk_difference_at(
        &self,
        conf: &Confidence,
        method: RiskDifferenceMethod,
    ) -> Estimate {
        let (p1, p0) = (self.p1(), self.p0());
        let rd = p1 - p0;
        let (ci_low, ci_high) = match method {
            RiskDifferenceMethod::Wald => {
                let se = (p1 * (1.0 - p1) / self.n1() as f64 + p0 * (1.0 - p0) / self.n0() as f64)
                    .sqrt();
                (
                    (rd - conf.z() * se).max(-1.0),
                    (rd + conf.z() * se).min(1.0),
                )
            }
            RiskDifferenceMethod::Newcombe => {
                let (r1, r0) = (self.risk_treated_at(conf), self.risk_control_at(conf));
                (
                    rd - (p1 - r1.ci_low).hypot(r0.ci_high - p0),
                    rd + (r1.ci_high - p1).hypot(p0 - r0.ci_low),
                )
            }
        };
        Estimate {
            estimate: rd,
            ci_low,
            ci_high,
            level: conf.level(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wald_and_newcombe_match_r() {
        // R: prop.test(c(14, 46), c(100, 152), correct = FALSE)$conf.int, and Newcombe's
        // method 10 by formula.
        let t = TwoByTwo::new(14, 100, 46, 152).unwrap();
        for (method, low, high, tol) in [
            (
                RiskDifferenceMethod::Wald,
                -0.262425481242589,
                -0.0628376766521477,
                1e-14,
            ),
            (
                RiskDifferenceMethod::Newcombe,
                -0.25723104949295,
                -0.056954927322382,
                1e-13,
            ),
        ] {
            let rd = t.risk_difference(0.95, method).unwrap();
            assert!((rd.ci_low - low).abs() < tol, "{method:?}: {rd}");
            assert!((rd.ci_high - high).abs() < tol, "{method:?}: {rd}");
        }
        let (wald, newcombe) = (
            t.risk_difference_wald(0.95).unwrap(),
            t.risk_difference_newcombe(0.95).unwrap(),
        );
        assert_eq!(
            wald,
            t.risk_difference(0.95, RiskDifferenceMethod::Wald).unwrap()
        );
        assert_eq!(
            newcombe,
            t.risk_difference(0.95, RiskDifferenceMethod::Newcombe)
                .unwrap()
        );
    }

    #[test]
    fn wald_is_clamped_and_newcombe_stays_inside() {
        let t = TwoByTwo::new(5, 5, 0, 2).unwrap();
        let wald = t.risk_difference_wald(0.95).unwrap();
        assert_eq!((wald.ci_low, wald.ci_high), (1.0, 1.0));
        let nc = t.risk_difference_newcombe(0.95).unwrap();
        assert!(nc.ci_low > 0.0 && nc.ci_high <= 1.0, "{nc}");
    }
}
