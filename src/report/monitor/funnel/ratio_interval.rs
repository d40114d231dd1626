//! The 95% interval of an indirectly standardised ratio `O / E`, treating `O` as Poisson and
//! `E` as known: exact (Garwood) and Byar's approximation.

use serde::Serialize;

use crate::core::dist::{chisq_quantile, normal_quantile};

/// The 95% interval of `O / E`.
///
/// Exact (Garwood 1936; R's `poisson.test(O, E)$conf.int`):
///
/// ```text
/// lower = qchisq(0.025, 2 O) / (2 E)        (0 when O = 0)
/// upper = qchisq(0.975, 2 O + 2) / (2 E)
/// ```
///
/// Byar's approximation (Breslow & Day 1987), with `z = qnorm(0.975)`:
///
/// ```text
/// lower = O (1 - 1/(9 O) - z / (3 sqrt(O)))^3 / E                    (0 when O = 0)
/// upper = (O + 1) (1 - 1/(9 (O + 1)) + z / (3 sqrt(O + 1)))^3 / E
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RatioInterval {
    /// Exact (Garwood) lower limit.
    pub lower: f64,
    /// Exact (Garwood) upper limit.
    pub upper: f64,
    /// Byar's lower limit.
    pub byar_lower: f64,
    /// Byar's upper limit.
    pub byar_upper: f64,
}

impl RatioInterval {
    /// The interval of `observed / expected` (`observed` a whole number >= 0, `expected > 0`;
    /// the caller checks).
    pub(super) fn new(observed: f64, expected: f64) -> RatioInterval {
        let z = normal_quantile(0.975);
        let byar =
            |o: f64, sign: f64| o * (1.0 - 1.0 / (9.0 * o) + sign * z / (3.0 * o.sqrt())).powi(3);
        let (lower, byar_lower) = if observed > 0.0 {
            (
                chisq_quantile(0.025, 2.0 * observed) / 2.0,
                byar(observed, -1.0),
            )
        } else {
            (0.0, 0.0)
        };
        RatioInterval {
            lower: lower / expected,
            upper: chisq_quantile(0.975, 2.0 * observed + 2.0) / 2.0 / expected,
            byar_lower: byar_lower / expected,
            byar_upper: byar(observed + 1.0, 1.0) / expected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garwood_and_byar_agree_with_r() {
        // R: qchisq(.025, 2 O) / 2 / E, qchisq(.975, 2 O + 2) / 2 / E (= poisson.test(O, E)),
        // and Byar's formula, printed with %.17g.
        let cases = [
            (0.0, 2.5, [0.0, 1.475551781645574, 0.0, 1.4672047328695004]),
            (
                1.0,
                3.2,
                [
                    0.007911814995090586,
                    1.741138559668406,
                    0.004085041531720109,
                    1.7386736195235188,
                ],
            ),
            (
                7.0,
                5.5,
                [
                    0.5117023730036121,
                    2.622304611218614,
                    0.5098964881954665,
                    2.622411374534372,
                ],
            ),
            (
                40.0,
                33.7,
                [
                    0.8479699240886932,
                    1.6162803253407734,
                    0.8478723995975344,
                    1.6163234219591767,
                ],
            ),
        ];
        for (o, e, r) in cases {
            let i = RatioInterval::new(o, e);
            for (ours, theirs) in [i.lower, i.upper, i.byar_lower, i.byar_upper].iter().zip(r) {
                assert!(
                    (ours - theirs).abs() <= 1e-12 * theirs,
                    "O = {o}, E = {e}: {ours} vs R {theirs}"
                );
            }
        }
    }
}
