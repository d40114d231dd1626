//! The randomisation interval by test inversion (see the module docs of [`super`]).

use super::test::Prepared;
use super::{Inversion, RandomisationInterval, ShiftedDistribution};
use crate::core::error::{Error, Result};
use crate::models::fitted::Fitted;

/// Steps of the bracket search: up to `2^MAX_DOUBLINGS` standard errors from the estimate.
const MAX_DOUBLINGS: i32 = 6;

/// A bound is found to this many standard errors.
const TOLERANCE: f64 = 1e-4;

/// Most Illinois steps for one bound.
const MAX_STEPS: usize = 100;

/// Below (-1) or above (+1) the estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Lower,
    Upper,
}

/// A hypothesised effect and the signed margin by which it is accepted (>= 0) or rejected.
#[derive(Debug, Clone, Copy)]
struct Point {
    d: f64,
    margin: f64,
}

/// The k-th largest of `values` (1-based), or -inf when there are fewer.
fn kth_largest(mut values: Vec<f64>, k: usize) -> f64 {
    if k == 0 || k > values.len() {
        return f64::NEG_INFINITY;
    }
    values.sort_by(|a, b| b.total_cmp(a));
    values[k - 1]
}

/// A p-value this close to `alpha` counts as equal to it (not above): `alpha = 1 - level` is
/// rounded (1 - 0.9 is 0.09999999999999998), a share of allocations such as 12 / 120 is not.
const ALPHA_ROUNDING: f64 = 1e-9;

/// The fewest values at or beyond `T_obs` out of `n` for which the p-value exceeds `alpha`.
fn fewest(n: usize, alpha: f64) -> usize {
    (0..=n)
        .find(|&c| c as f64 / n as f64 > alpha + ALPHA_ROUNDING)
        .unwrap_or(n + 1)
}

impl<F: Fitted> Prepared<'_, F> {
    /// The randomisation interval at confidence `level`, by inverting the test as `inversion`
    /// says (see the module docs of [`super`]).
    pub fn interval(&self, level: f64, inversion: Inversion) -> Result<RandomisationInterval> {
        crate::models::coef_table::check_level(level)?;
        let alpha = 1.0 - level;
        let estimate = self.observed.psi[self.column];
        let se = self
            .observed
            .std_errors
            .as_ref()
            .map_or(f64::NAN, |s| s[self.column]);
        let step = if se.is_finite() && se > 0.0 {
            se
        } else {
            0.1 * estimate.abs().max(1.0)
        };
        let mut search = Search {
            prepared: self,
            alpha,
            inversion,
            refits: 0,
            failed: 0,
        };
        let low = search.bound(Side::Lower, estimate, step)?;
        let high = search.bound(Side::Upper, estimate, step)?;
        Ok(RandomisationInterval {
            level,
            inversion,
            low,
            high,
            refits: search.refits,
            failed: search.failed,
        })
    }
}

/// One interval's search, counting its refits.
struct Search<'p, 'a, F: Fitted> {
    prepared: &'p Prepared<'a, F>,
    alpha: f64,
    inversion: Inversion,
    refits: usize,
    failed: usize,
}

impl<F: Fitted> Search<'_, '_, F> {
    /// The margin of acceptance of `d` on `side` (>= 0: accepted).
    fn margin(&mut self, side: Side, d: f64) -> Result<f64> {
        let at = self.prepared.distribution(d)?;
        self.refits += at.refits;
        self.failed += at.failed;
        Ok(self.margin_of(side, &at))
    }

    /// The margin at a distribution: for the two-sided test the k-th largest `|T_pi(d)|` less
    /// `|T_obs(d)|`; for equal tails the k-th largest `T_pi(d)` less `T_obs(d)` (lower side) or
    /// `T_obs(d)` less the k-th smallest (upper side), k the fewest exceedances that accept.
    fn margin_of(&self, side: Side, at: &ShiftedDistribution) -> f64 {
        let values = self.prepared.pooled(at);
        let n = values.len();
        let observed = at.observed;
        match (self.inversion, side) {
            (Inversion::TwoSided, _) => {
                let k = fewest(n, self.alpha);
                kth_largest(values.iter().map(|v| v.abs()).collect(), k) - observed.abs()
            }
            (Inversion::EqualTailed, Side::Lower) => {
                kth_largest(values, fewest(n, self.alpha / 2.0)) - observed
            }
            (Inversion::EqualTailed, Side::Upper) => {
                let k = fewest(n, self.alpha / 2.0);
                observed + kth_largest(values.iter().map(|v| -v).collect(), k)
            }
        }
    }

    /// The bound on `side`: bracketed from the estimate outwards by `step`, doubling, then
    /// found by the Illinois method; `None` when no rejected d is found within
    /// `2^MAX_DOUBLINGS` steps (or the refits there fail).
    fn bound(&mut self, side: Side, estimate: f64, step: f64) -> Result<Option<f64>> {
        let direction = if side == Side::Lower { -1.0 } else { 1.0 };
        let at_estimate = self.margin(side, estimate)?;
        if at_estimate < 0.0 {
            return Err(Error::Numerical {
                what: "the randomisation interval".into(),
                message: format!(
                    "the test rejects the estimate itself ({estimate}) at level {}: the \
                     allocations are too few for this level",
                    1.0 - self.alpha
                ),
            });
        }
        let mut inner = Point {
            d: estimate,
            margin: at_estimate,
        };
        let mut outer = None;
        for k in 0..=MAX_DOUBLINGS {
            let d = estimate + direction * step * 2f64.powi(k);
            let margin = match self.margin(side, d) {
                Ok(m) => m,
                Err(Error::RefitsFailed { failed, .. }) => {
                    self.failed += failed;
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            if margin < 0.0 {
                outer = Some(Point { d, margin });
                break;
            }
            inner = Point { d, margin };
        }
        let Some(mut outer) = outer else {
            return Ok(None);
        };
        // Illinois: regula falsi, halving the stale end's margin.
        let mut last_inner = None;
        for _ in 0..MAX_STEPS {
            if (outer.d - inner.d).abs() <= TOLERANCE * step {
                break;
            }
            let secant =
                outer.d - outer.margin * (outer.d - inner.d) / (outer.margin - inner.margin);
            let (lo, hi) = (inner.d.min(outer.d), inner.d.max(outer.d));
            let d = if secant > lo && secant < hi {
                secant
            } else {
                0.5 * (lo + hi)
            };
            let margin = self.margin(side, d)?;
            if margin >= 0.0 {
                inner = Point { d, margin };
                if last_inner == Some(true) {
                    outer.margin /= 2.0;
                }
                last_inner = Some(true);
            } else {
                outer = Point { d, margin };
                if last_inner == Some(false) {
                    inner.margin /= 2.0;
                }
                last_inner = Some(false);
            }
        }
        Ok(Some(0.5 * (inner.d + outer.d)))
    }
}

#[cfg(test)]
mod tests {
    use super::{fewest, kth_largest};

    #[test]
    fn the_fewest_exceedances_that_accept() {
        // 90 allocations at alpha 0.05: 5 / 90 > 0.05 >= 4 / 90.
        assert_eq!(fewest(90, 0.05), 5);
        // 20 at 0.05: 2 / 20 > 0.05 = 1 / 20.
        assert_eq!(fewest(20, 0.05), 2);
        assert_eq!(fewest(10, 0.05), 1);
        // 12 / 120 is not above 1 - 0.9.
        assert_eq!(fewest(120, 1.0 - 0.9), 13);
        // 12 / 120 is not above 1 - 0.9.
        assert_eq!(fewest(120, 1.0 - 0.9), 13);
        assert_eq!(kth_largest(vec![0.1, 0.7, 0.3], 2), 0.3);
        assert_eq!(kth_largest(vec![0.1], 2), f64::NEG_INFINITY);
    }
}
