//! The risk (proportion with the event) of each group, with Wilson score intervals.

use super::estimate::{Confidence, Estimate};
use super::table::TwoByTwo;
use crate::core::error::Result;

/// Wilson score interval for `x` events in `n` trials (`n > 0`, `x <= n`): the set of `p`
/// not rejected by the score test `|p̂ - p| / sqrt(p (1 - p) / n) <= z`, which solves to
///
/// ```text
/// (p̂ + z²/(2n) ± z sqrt(p̂ (1 - p̂) / n + z²/(4n²))) / (1 + z²/n),   p̂ = x / n,
/// ```
///
/// with the lower limit exactly 0 when `x = 0` and the upper exactly 1 when `x = n`. This is
/// R's `prop.test(x, n, correct = FALSE)$conf.int`.
pub(crate) fn wilson(x: u64, n: u64, conf: &Confidence) -> Estimate {
    let nf = n as f64;
    let p = x as f64 / nf;
    let z = conf.z();
    let z2n = z * z / (2.0 * nf);
    let centre = p + z2n;
    let half = z * (p * (1.0 - p) / nf + z2n / (2.0 * nf)).sqrt();
    let scale = 1.0 + 2.0 * z2n;
    Estimate {
        estimate: p,
        ci_low: if x == 0 { 0.0 } else { (centre - half) / scale },
        ci_high: if x == n { 1.0 } else { (centre + half) / scale },
        level: conf.level(),
    }
}

impl TwoByTwo {
    /// Risk of the treated group, `p1 = a / n1`, with its Wilson score interval (see
    /// [`TwoByTwo::risks`]).
    pub fn risk_treated(&self, level: f64) -> Result<Estimate> {
        Ok(self.risk_treated_at(&Confidence::new(level)?))
    }

    /// Risk of the control group, `p0 = c / n0`, with its Wilson score interval.
    pub fn risk_control(&self, level: f64) -> Result<Estimate> {
        Ok(self.risk_control_at(&Confidence::new(level)?))
    }

    /// Both risks `(p1, p0)`, each with the Wilson score interval
    /// `(p̂ + z²/(2n) ± z sqrt(p̂(1-p̂)/n + z²/(4n²))) / (1 + z²/n)`, `z = qnorm((1 + level)/2)`,
    /// as R's `prop.test(correct = FALSE)`. Errors if `level` is not in (0, 1).
    pub fn risks(&self, level: f64) -> Result<(Estimate, Estimate)> {
        let conf = Confidence::new(level)?;
        Ok((self.risk_treated_at(&conf), self.risk_control_at(&conf)))
    }

    pub(crate) fn risk_treated_at(&self, conf: &Confidence) -> Estimate {
        wilson(self.a(), self.n1(), conf)
    }

    pub(crate) fn risk_control_at(&self, conf: &Confidence) -> Estimate {
        wilson(self.c(), self.n0(), conf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_boundaries_are_exact() {
        let conf = Confidence::new(0.95).unwrap();
        let zero = wilson(0, 20, &conf);
        assert_eq!(zero.ci_low, 0.0);
        assert!(zero.ci_high > 0.0 && zero.ci_high < 0.2);
        let all = wilson(20, 20, &conf);
        assert_eq!(all.ci_high, 1.0);
        assert!((all.ci_low - (1.0 - zero.ci_high)).abs() < 1e-15);
    }

    #[test]
    fn wilson_matches_r() {
        // R: prop.test(14, 100, correct = FALSE)$conf.int
        let r = TwoByTwo::new(14, 100, 46, 152)
            .unwrap()
            .risk_treated(0.95)
            .unwrap();
        assert!((r.ci_low - 0.0852634365993913).abs() < 1e-14);
        assert!((r.ci_high - 0.221371882109638).abs() < 1e-14);
    }

    #[test]
    fn rejects_bad_level() {
        let t = TwoByTwo::new(1, 2, 1, 2).unwrap();
        assert!(t.risks(1.0).is_err());
        assert!(t.risk_control(0.0).is_err());
    }
}
