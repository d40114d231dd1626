//! The conditional distribution of the treated event count given all margins of the table:
//! Fisher's noncentral hypergeometric distribution. It underlies Fisher's exact test and the
//! exact conditional odds ratio.

use statrs::function::factorial::ln_binomial;

use super::table::TwoByTwo;

/// Given the margins `n1`, `n0` and `m = a + c`, the treated event count `X` has
///
/// ```text
/// P(X = s; ψ) = C(n1, s) C(n0, m - s) ψ^s / Σ_t C(n1, t) C(n0, m - t) ψ^t,
/// ```
///
/// for `s` in the support `max(0, m - n0) ..= min(n1, m)`, where `ψ` is the odds ratio.
/// `ψ = 1` is the (central) hypergeometric distribution of Fisher's exact test. Everything is
/// parameterised by `u = log ψ`, so that `ψ = 0` and `ψ = ∞` are limits, never evaluated.
#[derive(Debug, Clone)]
pub(crate) struct Conditional {
    /// Smallest possible treated event count.
    lo: u64,
    /// The observed treated event count `a`.
    observed: u64,
    /// `ln C(n1, s) + ln C(n0, m - s)` for each `s` of the support, in order.
    log_weights: Vec<f64>,
}

impl Conditional {
    /// The conditional distribution of `a` given the margins of `table`.
    pub(crate) fn new(table: &TwoByTwo) -> Self {
        let (n1, n0, m) = (table.n1(), table.n0(), table.events());
        let lo = m.saturating_sub(n0);
        let hi = n1.min(m);
        let log_weights = (lo..=hi)
            .map(|s| ln_binomial(n1, s) + ln_binomial(n0, m - s))
            .collect();
        Conditional {
            lo,
            observed: table.a(),
            log_weights,
        }
    }

    /// Smallest value of the support.
    pub(crate) fn lo(&self) -> u64 {
        self.lo
    }

    /// Largest value of the support.
    pub(crate) fn hi(&self) -> u64 {
        self.lo + self.log_weights.len() as u64 - 1
    }

    /// The observed count `a`.
    pub(crate) fn observed(&self) -> u64 {
        self.observed
    }

    /// The support values `lo..=hi` as `f64`, in order.
    fn values(&self) -> impl Iterator<Item = f64> + '_ {
        (self.lo..=self.hi()).map(|s| s as f64)
    }

    /// Probabilities of the support values at `u = log ψ`, computed as
    /// `exp(w_s + u s - max) / Σ exp(w_t + u t - max)` so that nothing overflows.
    pub(crate) fn probabilities(&self, u: f64) -> Vec<f64> {
        let logs: Vec<f64> = self
            .log_weights
            .iter()
            .zip(self.values())
            .map(|(w, s)| w + u * s)
            .collect();
        let max = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let unnormalised: Vec<f64> = logs.iter().map(|l| (l - max).exp()).collect();
        let total: f64 = unnormalised.iter().sum();
        unnormalised.iter().map(|p| p / total).collect()
    }

    /// The conditional mean `E[X; ψ]` at `u = log ψ`.
    pub(crate) fn mean(&self, u: f64) -> f64 {
        self.probabilities(u)
            .iter()
            .zip(self.values())
            .map(|(p, s)| p * s)
            .sum()
    }

    /// `P(X <= a; ψ)` at `u = log ψ`.
    pub(crate) fn lower_tail(&self, u: f64) -> f64 {
        let k = self.observed_index();
        self.probabilities(u)[..=k].iter().sum()
    }

    /// `P(X >= a; ψ)` at `u = log ψ`.
    pub(crate) fn upper_tail(&self, u: f64) -> f64 {
        let k = self.observed_index();
        self.probabilities(u)[k..].iter().sum()
    }

    /// Position of the observed count in the support.
    pub(crate) fn observed_index(&self) -> usize {
        // The observed count lies in the support by construction, whose length fits in usize.
        (self.observed - self.lo) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_and_central_probabilities() {
        // 1/12 vs 7/15: m = 8, support 0..=8; dhyper(1, 12, 15, 8) = 0.0348...
        let c = Conditional::new(&TwoByTwo::new(1, 12, 7, 15).unwrap());
        assert_eq!((c.lo(), c.hi(), c.observed()), (0, 8, 1));
        let p = c.probabilities(0.0);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        // R: dhyper(1, 12, 15, 8)
        assert!((p[1] - 0.03478260869565217).abs() < 1e-14, "{}", p[1]);
        assert!((c.mean(0.0) - 8.0 * 12.0 / 27.0).abs() < 1e-12);
        assert!((c.lower_tail(0.0) + c.upper_tail(0.0) - 1.0 - p[1]).abs() < 1e-14);
    }

    #[test]
    fn extreme_odds_ratios_concentrate_on_the_ends() {
        let c = Conditional::new(&TwoByTwo::new(14, 100, 46, 152).unwrap());
        assert!((c.mean(-800.0) - c.lo() as f64).abs() < 1e-12);
        assert!((c.mean(800.0) - c.hi() as f64).abs() < 1e-12);
    }
}
