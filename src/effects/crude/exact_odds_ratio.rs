//! The exact conditional odds ratio: conditional maximum-likelihood estimate and exact
//! conditional confidence interval, as R's `fisher.test` reports them.

use super::conditional::Conditional;
use super::estimate::{Confidence, Estimable, Estimate};
use super::root::solve_increasing;
use super::table::TwoByTwo;
use crate::core::error::Result;

impl TwoByTwo {
    /// The exact conditional odds ratio, from the distribution of `a` given all margins (Fisher's
    /// noncentral hypergeometric, see the model below):
    ///
    /// * estimate: the conditional maximum-likelihood estimate, the `ψ` with `E[X; ψ] = a`
    ///   (0 when `a` is the smallest possible count, `+inf` when it is the largest);
    /// * interval: `[ψ_L, ψ_U]` with `P(X >= a; ψ_L) = α/2` and `P(X <= a; ψ_U) = α/2`,
    ///   `α = 1 - level` (`ψ_L = 0` at the smallest count, `ψ_U = +inf` at the largest).
    ///
    /// Model: `P(X = s; ψ) ∝ C(n1, s) C(n0, m - s) ψ^s`, `m = a + c`, `s` from `max(0, m - n0)`
    /// to `min(n1, m)`. The equations are solved by Brent's method on `log ψ` to about `1e-12`
    /// relative; R's `fisher.test` solves the same equations with `uniroot` at tolerance
    /// ≈ 1.2e-4 (absolute, on `ψ` or `1/ψ`), so its values agree with these only to that
    /// tolerance.
    ///
    /// When nobody or everybody has the event the conditional distribution is a single table and
    /// the odds ratio is not identified: [`Estimable::NotEstimable`] (R's `fisher.test` reports 0
    /// with interval 0 to ∞ there). Errors if `level` is not in (0, 1), or
    /// ([`crate::core::error::Error::Numerical`]) if root finding fails.
    pub fn exact_odds_ratio(&self, level: f64) -> Result<Estimable<Estimate>> {
        self.exact_odds_ratio_at(&Confidence::new(level)?)
    }

    pub(crate) fn exact_odds_ratio_at(&self, conf: &Confidence) -> Result<Estimable<Estimate>> {
        let dist = Conditional::new(self);
        if dist.lo() == dist.hi() {
            return Ok(Estimable::not(
                "nobody or everybody has the event: the conditional distribution is a single \
                 table and the odds ratio is not identified",
            ));
        }
        let a = dist.observed();
        let (smallest, largest) = (a == dist.lo(), a == dist.hi());
        let (target, tail) = (a as f64, conf.alpha_half());
        Ok(Estimable::Estimated(Estimate {
            // E[X; ψ] = a; 0 or +inf at the ends of the support.
            estimate: solve_psi(
                smallest.then_some(0.0).or(largest.then_some(f64::INFINITY)),
                |u| dist.mean(u) - target,
                "conditional MLE of the odds ratio",
            )?,
            // P(X >= a; ψ) = tail, increasing in ψ; 0 when `a` is the smallest count.
            ci_low: solve_psi(
                smallest.then_some(0.0),
                |u| dist.upper_tail(u) - tail,
                "lower exact confidence limit of the odds ratio",
            )?,
            // P(X <= a; ψ) = tail, decreasing in ψ; +inf when `a` is the largest count.
            ci_high: solve_psi(
                largest.then_some(f64::INFINITY),
                |u| tail - dist.lower_tail(u),
                "upper exact confidence limit of the odds ratio",
            )?,
            level: conf.level(),
        }))
    }
}

/// The `ψ = exp(u)` whose `u` solves `f(u) = 0` for `f` increasing in `u` (`what` names it in
/// errors), unless `at_end` gives it: the value `ψ` takes where the observed count is at an end
/// of the support.
fn solve_psi(at_end: Option<f64>, f: impl Fn(f64) -> f64, what: &str) -> Result<f64> {
    match at_end {
        Some(psi) => Ok(psi),
        None => Ok(solve_increasing(f, what)?.exp()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(a: i64, n1: i64, c: i64, n0: i64) -> Estimate {
        TwoByTwo::new(a, n1, c, n0)
            .unwrap()
            .exact_odds_ratio(0.95)
            .unwrap()
            .into_result()
            .unwrap()
    }

    #[test]
    fn defining_equations_hold() {
        let t = TwoByTwo::new(14, 100, 46, 152).unwrap();
        let e = exact(14, 100, 46, 152);
        let dist = Conditional::new(&t);
        assert!((dist.mean(e.estimate.ln()) - 14.0).abs() < 1e-9);
        assert!((dist.upper_tail(e.ci_low.ln()) - 0.025).abs() < 1e-12);
        assert!((dist.lower_tail(e.ci_high.ln()) - 0.025).abs() < 1e-12);
    }

    #[test]
    fn boundary_counts_give_zero_and_infinity() {
        let zero = exact(0, 20, 5, 20);
        assert_eq!((zero.estimate, zero.ci_low), (0.0, 0.0));
        assert!(zero.ci_high.is_finite() && zero.ci_high > 0.0);
        let inf = exact(5, 20, 0, 20);
        assert_eq!((inf.estimate, inf.ci_high), (f64::INFINITY, f64::INFINITY));
        // Symmetry: swapping groups inverts the odds ratio and its interval.
        assert!((inf.ci_low * zero.ci_high - 1.0).abs() < 1e-9);
    }

    #[test]
    fn single_table_is_not_estimable() {
        let t = TwoByTwo::new(0, 10, 0, 12).unwrap();
        assert!(t.exact_odds_ratio(0.95).unwrap().value().is_none());
        assert!(t.exact_odds_ratio(2.0).is_err());
    }
}
