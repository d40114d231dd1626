//! The sample odds ratio with Woolf's log-scale Wald interval.

use super::estimate::{Confidence, Estimable, Estimate};
use super::table::TwoByTwo;
use crate::core::error::Result;

impl TwoByTwo {
    /// The sample (unconditional maximum-likelihood) odds ratio of treated against control,
    /// `OR = (a d) / (b c)`, with Woolf's interval: the Wald interval on the log scale,
    ///
    /// ```text
    /// exp(log OR -/+ z sqrt(1/a + 1/b + 1/c + 1/d)),   z = qnorm((1 + level) / 2).
    /// ```
    ///
    /// With a zero cell the sample OR is 0 or infinite (or 0/0) and the standard error is
    /// infinite, so the interval does not exist: the result is [`Estimable::NotEstimable`] naming
    /// the zero cells. The exact conditional odds ratio ([`TwoByTwo::exact_odds_ratio`]) is
    /// defined for such tables. Errors only if `level` is not in (0, 1).
    pub fn odds_ratio_wald(&self, level: f64) -> Result<Estimable<Estimate>> {
        Ok(self.odds_ratio_wald_at(&Confidence::new(level)?))
    }

    pub(crate) fn odds_ratio_wald_at(&self, conf: &Confidence) -> Estimable<Estimate> {
        let [a, b, c, d] = self.named_cells().map(|(_, v)| v as f64);
        Estimable::log_scale_ratio(
            self.zero_cells(),
            |zeros| {
                format!(
                    "cell {zeros} is 0: the sample odds ratio is 0 or infinite and Woolf's \
                     interval does not exist; use the exact conditional odds ratio"
                )
            },
            a.ln() + d.ln() - b.ln() - c.ln(),
            1.0 / a + 1.0 / b + 1.0 / c + 1.0 / d,
            conf,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn woolf_matches_formula() {
        let t = TwoByTwo::new(14, 100, 46, 152).unwrap();
        let or = t.odds_ratio_wald(0.95).unwrap().into_result().unwrap();
        let expected = 14.0 * 106.0 / (86.0 * 46.0);
        assert!((or.estimate - expected).abs() < 1e-14);
        assert!((or.ci_low - 0.19341478328453).abs() < 1e-12);
        assert!(
            (or.estimate.ln() - or.ci_low.ln() - (or.ci_high.ln() - or.estimate.ln())).abs()
                < 1e-12
        );
    }

    #[test]
    fn zero_cell_is_not_estimable() {
        let t = TwoByTwo::new(0, 20, 5, 20).unwrap();
        let or = t.odds_ratio_wald(0.95).unwrap();
        let reason = or.reason().unwrap();
        assert!(reason.contains("cell a (treated, event) is 0"), "{reason}");
    }

    #[test]
    fn bad_level_is_an_error() {
        let t = TwoByTwo::new(3, 20, 5, 20).unwrap();
        assert!(t.odds_ratio_wald(95.0).is_err());
    }
}
