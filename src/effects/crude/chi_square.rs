//! Pearson's chi-square test of independence for the 2x2 table, with and without Yates'
//! continuity correction, as R's `chisq.test`.

use serde::Serialize;

use super::estimate::Estimable;
use super::table::TwoByTwo;
use crate::core::dist::chisq_upper;

/// The result of a chi-square test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChiSquareTest {
    /// The statistic `X²`.
    pub statistic: f64,
    /// Degrees of freedom (1 for a 2x2 table).
    pub df: f64,
    /// Upper-tail probability of `X²` under the chi-square distribution with `df` degrees of
    /// freedom.
    pub p_value: f64,
    /// Whether Yates' continuity correction was applied.
    pub continuity_correction: bool,
}

impl TwoByTwo {
    /// Pearson's chi-square test of independence of group and outcome.
    ///
    /// Model: under independence the expected count of each cell is
    /// `E = (row total) (column total) / n`. The statistic is
    ///
    /// ```text
    /// X² = sum over the four cells of (|O - E| - Y)² / E,   df = 1,
    /// ```
    ///
    /// with `Y = 0` without correction and, with Yates' continuity correction,
    /// `Y = min(0.5, |O - E|)` (the smallest `|O - E|` of the cells, which are all equal in a
    /// 2x2 table up to rounding), exactly as R's `chisq.test(x, correct = TRUE)`: the correction
    /// never pushes `|O - E|` below 0. The p-value is `P(chi²(1) >= X²)`.
    ///
    /// When nobody or everybody has the event an expected count is 0 and the test is not
    /// defined (R returns NaN): the result is [`Estimable::NotEstimable`].
    pub fn chi_square(&self, continuity_correction: bool) -> Estimable<ChiSquareTest> {
        let cells = self.named_cells().map(|(_, v)| v as f64);
        let expected = self.expected_counts();
        if expected.contains(&0.0) {
            return Estimable::not(
                "an expected count is 0 (no patient, or every patient, has the event): \
                 the chi-square test is not defined",
            );
        }
        let deviations: Vec<f64> = cells
            .iter()
            .zip(&expected)
            .map(|(o, e)| (o - e).abs())
            .collect();
        let yates = if continuity_correction {
            deviations.iter().fold(0.5_f64, |m, d| m.min(*d))
        } else {
            0.0
        };
        let statistic: f64 = deviations
            .iter()
            .zip(&expected)
            .map(|(d, e)| (d - yates).powi(2) / e)
            .sum();
        Estimable::Estimated(ChiSquareTest {
            statistic,
            df: 1.0,
            p_value: chisq_upper(statistic, 1.0),
            continuity_correction,
        })
    }

    /// Expected counts under independence, in the order `a, b, c, d`:
    /// `E = (row total) (column total) / n`.
    pub fn expected_counts(&self) -> [f64; 4] {
        let n = self.n() as f64;
        let rows = [self.n1() as f64, self.n0() as f64];
        let cols = [self.events() as f64, (self.n() - self.events()) as f64];
        [
            rows[0] * cols[0] / n,
            rows[0] * cols[1] / n,
            rows[1] * cols[0] / n,
            rows[1] * cols[1] / n,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_r_chisq_test() {
        let t = TwoByTwo::new(14, 100, 46, 152).unwrap();
        let plain = t.chi_square(false).into_result().unwrap();
        assert!((plain.statistic - 8.79430263157895).abs() < 1e-12);
        let yates = t.chi_square(true).into_result().unwrap();
        assert!((yates.statistic - 7.92064391447369).abs() < 1e-12);
        assert!(yates.continuity_correction && yates.p_value > plain.p_value);
    }

    #[test]
    fn yates_correction_never_overshoots() {
        // |O - E| = 0 for every cell: the corrected statistic is 0, not positive.
        let t = TwoByTwo::new(10, 50, 10, 50).unwrap();
        let yates = t.chi_square(true).into_result().unwrap();
        assert_eq!(yates.statistic, 0.0);
        assert_eq!(yates.p_value, 1.0);
    }

    #[test]
    fn zero_expected_count_is_not_estimable() {
        let t = TwoByTwo::new(0, 10, 0, 12).unwrap();
        assert!(t
            .chi_square(false)
            .reason()
            .unwrap()
            .contains("expected count is 0"));
        let all = TwoByTwo::new(10, 10, 12, 12).unwrap();
        assert!(all.chi_square(true).value().is_none());
    }
}
