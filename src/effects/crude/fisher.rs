//! Fisher's exact test of the 2x2 table, two-sided, as R's `fisher.test`.

use serde::Serialize;

use super::conditional::Conditional;
use super::estimate::{Confidence, Estimable, Estimate};
use super::table::TwoByTwo;
use crate::core::error::Result;

/// Relative tolerance with which a table counts as "no more probable" than the observed one
/// (R's `fisher.test` uses `1 + 1e-7`, guarding against rounding in the probabilities).
const RELATIVE_ERROR: f64 = 1.0 + 1e-7;

/// Fisher's exact test with the exact conditional odds ratio, as `fisher.test` reports them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FisherExact {
    /// Two-sided p-value (see [`TwoByTwo::fisher_p_value`]).
    pub p_value: f64,
    /// Conditional MLE of the odds ratio with the exact conditional interval (see
    /// [`TwoByTwo::exact_odds_ratio`]).
    pub odds_ratio: Estimable<Estimate>,
}

impl TwoByTwo {
    /// Two-sided p-value of Fisher's exact test of independence (odds ratio 1).
    ///
    /// Model: given all margins, the treated event count is hypergeometric,
    /// `P(X = s) = C(n1, s) C(n0, m - s) / C(n, m)`, `m = a + c`. The p-value is the total
    /// probability of the tables no more probable than the observed one,
    ///
    /// ```text
    /// p = Σ P(X = s) over s with P(X = s) <= P(X = a) (1 + 1e-7),
    /// ```
    ///
    /// exactly as R's `fisher.test`. It is 1 when nobody or everybody has the event.
    pub fn fisher_p_value(&self) -> f64 {
        let dist = Conditional::new(self);
        let probabilities = dist.probabilities(0.0);
        let threshold = probabilities[dist.observed_index()] * RELATIVE_ERROR;
        let p: f64 = probabilities.iter().filter(|&&p| p <= threshold).sum();
        p.min(1.0)
    }

    /// Fisher's exact test: two-sided p-value and the exact conditional odds ratio at `level`.
    /// Errors if `level` is not in (0, 1) or root finding fails.
    pub fn fisher_exact(&self, level: f64) -> Result<FisherExact> {
        self.fisher_exact_at(&Confidence::new(level)?)
    }

    pub(crate) fn fisher_exact_at(&self, conf: &Confidence) -> Result<FisherExact> {
        Ok(FisherExact {
            p_value: self.fisher_p_value(),
            odds_ratio: self.exact_odds_ratio_at(conf)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_r_fisher_test() {
        // R: fisher.test(matrix(c(14, 46, 86, 106), 2))$p.value
        let t = TwoByTwo::new(14, 100, 46, 152).unwrap();
        assert!((t.fisher_p_value() - 0.0038437278795596).abs() < 1e-14);
    }

    #[test]
    fn symmetric_table_has_p_one() {
        let t = TwoByTwo::new(10, 50, 10, 50).unwrap();
        assert!((t.fisher_p_value() - 1.0).abs() < 1e-12);
        let none = TwoByTwo::new(0, 7, 0, 9).unwrap();
        assert_eq!(none.fisher_p_value(), 1.0);
        let f = none.fisher_exact(0.95).unwrap();
        assert!(f.odds_ratio.value().is_none());
        assert!(none.fisher_exact(-0.1).is_err());
    }
}
