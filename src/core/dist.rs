//! Quantiles, distribution functions and p-values of the normal, Student t and chi-square
//! distributions, and the distribution functions of the binomial and Poisson distributions
//! with the binomial quantile, as thin wrappers over `statrs`; the first count at which a
//! discrete distribution function reaches a probability ([`first_reaching`]).
//!
//! These functions are for the crate's own use, which always passes valid arguments; their
//! domains are documented on each function. They are nevertheless *total*: they never panic and
//! never return NaN.
//!
//! * A probability outside `[0, 1]` is a caller bug: debug builds stop on a `debug_assert!`,
//!   release builds clamp it into `[0, 1]` (a NaN probability is read as `0.5`, the median).
//! * A NaN statistic is a caller bug too: debug builds assert, release builds read it as `0`
//!   (so a p-value comes out as 1, the conservative answer).
//!
//! The normal distribution function is computed as `P(Z >= t) = Q(1/2, t²/2) / 2` (`Q` the
//! regularised upper incomplete gamma function, `statrs::function::gamma`), not with statrs'
//! `erfc`, which is accurate only to about 1e-10 relative in the tails (`pnorm(-3.5)` came out
//! 8e-11 too large); the gamma route agrees with R to about 1e-15.
//!
//! * Degrees of freedom must be positive. `f64::INFINITY` is allowed for the t distribution and
//!   gives the standard normal (the limit as df grows). An invalid df (zero, negative or NaN)
//!   trips a `debug_assert!`; release builds fall back to the normal distribution for t and to
//!   an upper-tail probability of 1 for chi-square.

use statrs::distribution::{ChiSquared, Continuous, ContinuousCDF, Normal, StudentsT};
use statrs::function::beta::checked_beta_reg;
use statrs::function::gamma::checked_gamma_ur;

/// The probability `p`, clamped into `[0, 1]`; NaN becomes `0.5`.
fn probability(p: f64) -> f64 {
    debug_assert!((0.0..=1.0).contains(&p), "probability {p} outside [0, 1]");
    if p.is_nan() {
        0.5
    } else {
        p.clamp(0.0, 1.0)
    }
}

/// The statistic `x`; NaN becomes `0`.
fn statistic(x: f64) -> f64 {
    debug_assert!(!x.is_nan(), "NaN statistic");
    if x.is_nan() {
        0.0
    } else {
        x
    }
}

/// The Student t distribution with `df` degrees of freedom, or `None` for the normal limit
/// (`df` infinite, or invalid in a release build).
fn students_t(df: f64) -> Option<StudentsT> {
    debug_assert!(df > 0.0, "degrees of freedom {df} not positive");
    if df.is_finite() {
        StudentsT::new(0.0, 1.0, df).ok()
    } else {
        None
    }
}

/// Quantile of the standard normal distribution: the `z` with `P(Z <= z) = p`.
///
/// Domain `p` in `[0, 1]`; `p = 0` gives `-inf` and `p = 1` gives `+inf`.
/// Example: `normal_quantile(0.975)` = 1.959963984540054 (R: `qnorm(0.975)`).
pub fn normal_quantile(p: f64) -> f64 {
    Normal::standard().inverse_cdf(probability(p))
}

/// Upper tail of the standard normal at `t >= 0`: `P(Z >= t) = Q(1/2, t²/2) / 2`.
fn normal_upper_tail(t: f64) -> f64 {
    let h = t * t / 2.0;
    if h.is_infinite() {
        return 0.0;
    }
    // Q(1/2, 0) = 1: `checked_gamma_ur` rejects h = 0, which is the median.
    checked_gamma_ur(0.5, h).map_or(0.5, |q| 0.5 * q)
}

/// Distribution function of the standard normal: `P(Z <= x)`. Defined for every `x` (±inf give
/// 0 and 1). R: `pnorm(x)`.
pub fn normal_cdf(x: f64) -> f64 {
    let x = statistic(x);
    let tail = normal_upper_tail(x.abs());
    if x < 0.0 {
        tail
    } else {
        1.0 - tail
    }
}

/// Quantile of the Student t distribution with `df` degrees of freedom: the `t` with
/// `P(T <= t) = p`.
///
/// Domain `p` in `[0, 1]`, `df > 0` (`+inf` gives the normal quantile). R: `qt(p, df)`.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let p = probability(p);
    match students_t(df) {
        Some(t) => t.inverse_cdf(p),
        None => normal_quantile(p),
    }
}

/// Distribution function of the Student t distribution: `P(T <= x)` with `df` degrees of
/// freedom. Domain any `x`, `df > 0` (`+inf` gives the normal). R: `pt(x, df)`.
pub fn t_cdf(x: f64, df: f64) -> f64 {
    let x = statistic(x);
    match students_t(df) {
        Some(t) => t.cdf(x),
        None => normal_cdf(x),
    }
}

/// Upper tail of the chi-square distribution: `P(X >= x)` with `df` degrees of freedom, the
/// p-value of a chi-square statistic `x`. Domain any `x` (`x <= 0` gives 1), `df > 0` finite.
/// R: `pchisq(x, df, lower.tail = FALSE)`.
pub fn chisq_upper(x: f64, df: f64) -> f64 {
    debug_assert!(
        df > 0.0 && df.is_finite(),
        "degrees of freedom {df} invalid"
    );
    let x = statistic(x);
    if x <= 0.0 {
        return 1.0;
    }
    ChiSquared::new(df).map_or(1.0, |chi| chi.sf(x))
}

/// Upper tail of the F distribution: `P(F >= x)` with `df1` and `df2` degrees of freedom, the
/// p-value of an F statistic `x`, as the regularised incomplete beta function
/// `I_{df2 / (df2 + df1 x)}(df2 / 2, df1 / 2)`. Domain any `x` (`x <= 0` gives 1), `df1`, `df2 >
/// 0` finite. R: `pf(x, df1, df2, lower.tail = FALSE)`.
pub fn f_upper(x: f64, df1: f64, df2: f64) -> f64 {
    debug_assert!(
        df1 > 0.0 && df1.is_finite() && df2 > 0.0 && df2.is_finite(),
        "degrees of freedom {df1}, {df2} invalid"
    );
    let x = statistic(x);
    if x <= 0.0 {
        return 1.0;
    }
    checked_beta_reg(df2 / 2.0, df1 / 2.0, df2 / (df2 + df1 * x)).unwrap_or(1.0)
}

/// Quantile of the chi-square distribution with `df` degrees of freedom: the `x` with
/// `P(X <= x) = p`. Domain `p` in `[0, 1]` (`p = 0` gives 0, `p = 1` gives `+inf`), `df > 0`
/// finite (release builds give 0 for an invalid df). R: `qchisq(p, df)`; for example the
/// exact (Garwood) Poisson interval of a count `O` is `qchisq(0.025, 2 O) / 2` to
/// `qchisq(0.975, 2 O + 2) / 2`.
pub fn chisq_quantile(p: f64, df: f64) -> f64 {
    debug_assert!(
        df > 0.0 && df.is_finite(),
        "degrees of freedom {df} invalid"
    );
    let p = probability(p);
    let Ok(chi) = ChiSquared::new(df) else {
        return 0.0;
    };
    let mut x = chi.inverse_cdf(p);
    // statrs stops at about 1e-11 relative in the lower tail: two Newton steps on the tail
    // that holds p (the upper one above the median, where the distribution function rounds
    // towards 1) bring it to R's.
    for _ in 0..2 {
        let density = chi.pdf(x);
        if !(x > 0.0 && x.is_finite() && density > 0.0) {
            break;
        }
        let step = if p > 0.5 {
            (chi.sf(x) - (1.0 - p)) / density
        } else {
            (p - chi.cdf(x)) / density
        };
        if (x + step) > 0.0 {
            x += step;
        }
    }
    x
}

/// Two-sided p-value of a standard normal statistic: `2 P(Z >= |z|)`, computed from the lower
/// tail so that it stays accurate for large `|z|`. R: `2 * pnorm(-abs(z))`.
pub fn p_normal_two_sided(z: f64) -> f64 {
    (2.0 * normal_upper_tail(statistic(z).abs())).min(1.0)
}

/// Two-sided p-value of a Student t statistic with `df` degrees of freedom: `2 P(T >= |t|)`.
/// R: `2 * pt(-abs(t), df)`.
pub fn p_t_two_sided(t: f64, df: f64) -> f64 {
    (2.0 * t_cdf(-statistic(t).abs(), df)).min(1.0)
}

/// Distribution function of the binomial distribution with `size` trials and success
/// probability `prob`: `P(X <= k)`, computed as the regularised incomplete beta function
/// `I_{1-prob}(size - k, k + 1)`. Any `k` (`k < 0` gives 0, `k >= size` gives 1); `prob` in
/// `[0, 1]`. R: `pbinom(k, size, prob)` (agrees to about 1e-13 relative).
pub fn binomial_cdf(k: i64, size: u64, prob: f64) -> f64 {
    let prob = probability(prob);
    if k < 0 {
        return 0.0;
    }
    let k = k as u64;
    if k >= size {
        return 1.0;
    }
    if prob == 0.0 {
        return 1.0;
    }
    if prob == 1.0 {
        return 0.0;
    }
    checked_beta_reg((size - k) as f64, k as f64 + 1.0, 1.0 - prob).unwrap_or(0.0)
}

/// Quantile of the binomial distribution: the smallest `k` in `0..=size` with
/// `P(X <= k) >= p`, with R's fuzz (`p` taken as `p (1 - 64 eps)`, so that a distribution
/// function equal to `p` up to rounding counts as reaching it). `p` in `[0, 1]`.
/// R: `qbinom(p, size, prob)`; for example `qbinom(0.05, 23, 0.5)` = 8, the least number of
/// crossings of Anhøj's run-chart rule for 24 useful points.
pub fn binomial_quantile(p: f64, size: u64, prob: f64) -> u64 {
    let target = probability(p) * (1.0 - 64.0 * f64::EPSILON);
    first_reaching(target, size, |k| binomial_cdf(k as i64, size, prob))
}

/// The smallest `k` in `0..=max` with `cdf(k) >= p`, by bisection, for a non-decreasing `cdf`
/// (`max` when no `k` reaches `p`). Where `k > 0`, `cdf(k - 1) < p <= cdf(k)`: the quantile
/// without R's fuzz, `min{r: F(r) >= P}` of the exact limits of a funnel plot.
pub fn first_reaching(p: f64, max: u64, cdf: impl Fn(u64) -> f64) -> u64 {
    let (mut lo, mut hi) = (0u64, max);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if cdf(mid) >= p {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Distribution function of the Poisson distribution with mean `mu >= 0`: `P(X <= k)`,
/// computed as the regularised upper incomplete gamma function `Q(k + 1, mu)`. Any `k`
/// (`k < 0` gives 0). R: `ppois(k, mu)`.
pub fn poisson_cdf(k: i64, mu: f64) -> f64 {
    debug_assert!(mu >= 0.0, "Poisson mean {mu} negative");
    if k < 0 {
        return 0.0;
    }
    if mu <= 0.0 || mu.is_nan() {
        return 1.0;
    }
    checked_gamma_ur(k as f64 + 1.0, mu).unwrap_or(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(x: f64, y: f64, tol: f64) -> bool {
        (x - y).abs() <= tol * y.abs().max(1e-300)
    }

    #[test]
    fn normal_quantile_limits_and_symmetry() {
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
        assert_eq!(normal_quantile(0.5), 0.0);
        assert!(close(
            -normal_quantile(0.025),
            normal_quantile(0.975),
            1e-14
        ));
    }

    #[test]
    fn normal_cdf_limits() {
        assert_eq!(normal_cdf(0.0), 0.5);
        assert_eq!(normal_cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(normal_cdf(f64::INFINITY), 1.0);
        assert_eq!(normal_cdf(1e-200), 0.5);
        assert!(normal_cdf(-40.0) >= 0.0);
    }

    #[test]
    fn infinite_df_is_normal() {
        assert_eq!(t_quantile(0.975, f64::INFINITY), normal_quantile(0.975));
        assert_eq!(t_cdf(1.3, f64::INFINITY), normal_cdf(1.3));
    }

    #[test]
    fn p_values_are_probabilities() {
        assert_eq!(p_normal_two_sided(0.0), 1.0);
        assert_eq!(p_t_two_sided(0.0, 5.0), 1.0);
        assert_eq!(chisq_upper(0.0, 1.0), 1.0);
        assert_eq!(chisq_upper(-1.0, 1.0), 1.0);
        assert!(p_normal_two_sided(40.0) >= 0.0);
        assert!(close(
            p_normal_two_sided(-1.5),
            p_normal_two_sided(1.5),
            1e-15
        ));
    }

    #[test]
    fn chi_square_one_df_is_squared_normal() {
        let z = 2.3_f64;
        assert!(close(chisq_upper(z * z, 1.0), p_normal_two_sided(z), 1e-12));
    }

    #[test]
    fn binomial_and_poisson_agree_with_r() {
        // R: sprintf("%.17g", pbinom(c(2, 7, 40), c(10, 30, 300), c(0.5, 0.14, 0.14)))
        let v = binomial_cdf(2, 10, 0.5);
        assert!(close(v, 0.054_687_499_999_999_97, 1e-12), "{v:e}");
        assert!(close(binomial_cdf(7, 30, 0.14), 0.9503316738105223, 1e-12));
        assert!(close(
            binomial_cdf(40, 300, 0.14),
            0.40879591639539203,
            1e-13
        ));
        assert_eq!(binomial_cdf(-1, 10, 0.5), 0.0);
        assert_eq!(binomial_cdf(10, 10, 0.5), 1.0);
        // R: qbinom(0.05, c(9, 10, 19, 23, 29, 35, 99), 0.5)
        let sizes = [9, 10, 19, 23, 29, 35, 99];
        let expected = [2, 2, 6, 8, 10, 13, 41];
        for (n, q) in sizes.iter().zip(expected) {
            assert_eq!(binomial_quantile(0.05, *n, 0.5), q, "size {n}");
        }
        assert_eq!(binomial_quantile(0.05, 0, 0.5), 0);
        // R: sprintf("%.17g", ppois(c(3, 10), c(2.5, 12.2)))
        assert!(close(poisson_cdf(3, 2.5), 0.757_576_133_133_065_9, 1e-14));
        assert!(close(poisson_cdf(10, 12.2), 0.32661695901056587, 1e-14));
        assert_eq!(poisson_cdf(-1, 2.0), 0.0);
    }

    #[test]
    fn chi_square_quantiles_agree_with_r() {
        // R: sprintf("%.17g", qchisq(p, df))
        let cases = [
            (0.025, 2.0, 0.05063561596857975),
            (0.975, 4.0, 11.143286781877798),
            (0.025, 20.0, 9.590777392264867),
            (0.975, 116.0, 147.70022280592565),
            (0.5, 7.0, 6.345811195521517),
            (0.001, 1.0, 1.5707971492624904e-06),
        ];
        for (p, df, r) in cases {
            let q = chisq_quantile(p, df);
            assert!(close(q, r, 1e-12), "qchisq({p}, {df}) = {r}, not {q}");
            assert!(close(chisq_upper(q, df), 1.0 - p, 1e-12));
        }
        assert_eq!(chisq_quantile(0.0, 3.0), 0.0);
        assert_eq!(chisq_quantile(1.0, 3.0), f64::INFINITY);
    }

    #[test]
    fn first_reaching_is_the_unfuzzed_quantile() {
        // F(k) = k / 10 on 0..=10: P = 0.3 is reached at 3 exactly, 0.31 at 4, 0 at 0.
        let cdf = |k: u64| k as f64 / 10.0;
        assert_eq!(first_reaching(0.3, 10, cdf), 3);
        assert_eq!(first_reaching(0.31, 10, cdf), 4);
        assert_eq!(first_reaching(0.0, 10, cdf), 0);
        // Not reached: the end of the range.
        assert_eq!(first_reaching(2.0, 10, cdf), 10);
        // R: qbinom(0.975, 307, 0.145814167433303) = 57, pbinom(56, ...) < 0.975.
        let p0 = 0.145814167433303;
        let r = first_reaching(0.975, 307, |k| binomial_cdf(k as i64, 307, p0));
        assert_eq!(r, 57);
    }
}
