//! The negative binomial NB2 distribution (glmmTMB's `nbinom2`, MASS's `negative.binomial`):
//! counts with mean `mu` and variance `mu + mu^2 / theta`, theta > 0 (the Poisson family is the
//! limit theta -> infinity). A row with prior weight `w` has the log-likelihood, as R's
//! `dnbinom(y, size = theta, mu = mu, log = TRUE)`,
//!
//! `w [lgamma(y + theta) - lgamma(theta) - lgamma(y + 1) + theta log(theta / (theta + mu))
//!   + y log(mu / (theta + mu))]`.
//!
//! Here: the shape `theta` carried by [`Family::NegativeBinomial`](crate::models::family::Family)
//! ([`NbTheta`]), its estimate with standard errors ([`ThetaEstimate`]) and its maximum
//! likelihood at fixed means ([`theta_ml`], MASS's `theta.ml`, by Newton's method in log theta).

use crate::core::error::{Error, Result};
use statrs::function::gamma::{digamma, ln_gamma};

/// The NB2 shape theta of a [`Family::NegativeBinomial`](crate::models::family::Family): the
/// estimate in a fitted model's family, not yet known (NaN) in a specification's. Families
/// compare by their kind: two `NbTheta` are equal whatever their values.
#[derive(Debug, Clone, Copy)]
pub struct NbTheta(pub f64);

impl NbTheta {
    /// The shape of a specification: to be estimated.
    pub const ESTIMATED: NbTheta = NbTheta(f64::NAN);
}

impl PartialEq for NbTheta {
    fn eq(&self, _: &NbTheta) -> bool {
        true
    }
}

impl Eq for NbTheta {}

/// The estimated NB2 shape with its standard errors.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ThetaEstimate {
    /// theta (glmmTMB's `sigma(fit)`, MASS's `fit$theta`).
    pub theta: f64,
    /// Its standard error (MASS's `SE.theta`; for the mixed model `theta * se_log_theta`).
    pub se: f64,
    /// The standard error of `log(theta)` (glmmTMB's parameter `betad`).
    pub se_log_theta: f64,
}

impl ThetaEstimate {
    /// The estimate `exp(log_theta)` with the standard error `se_log_theta` of its logarithm.
    pub fn from_log(log_theta: f64, se_log_theta: f64) -> ThetaEstimate {
        let theta = log_theta.exp();
        ThetaEstimate {
            theta,
            se: theta * se_log_theta,
            se_log_theta,
        }
    }
}

/// Above this multiple of `max(1, largest count)` theta is taken as infinite: the extra-Poisson
/// variance `mu^2 / theta` is then below a millionth of the Poisson variance `mu` (for means
/// up to the largest count).
const THETA_LIMIT: f64 = 1e6;

/// The theta beyond which an estimate is the Poisson limit, for counts up to `largest_count`.
pub(crate) fn theta_limit(largest_count: f64) -> f64 {
    THETA_LIMIT * largest_count.max(1.0)
}

/// The error of a theta estimate that runs off to infinity: the Poisson limit.
pub(crate) fn poisson_limit(model: &str, theta: f64) -> Error {
    Error::Boundary {
        model: model.into(),
        message: format!(
            "the estimate of theta runs off to infinity (beyond {theta:.4e}): the variance \
             mu + mu^2 / theta shows no overdispersion, theta = infinity is the Poisson model \
             (the boundary of the NB2 parameter space, where theta has no standard error); \
             fit the Poisson family instead"
        ),
    }
}

/// The log-likelihood over `theta` at fixed means: its value, score `dl/dtheta` and observed
/// information `-d^2 l / dtheta^2` (MASS's `theta.ml` `score` and `info`), summed over rows
/// `(y, mu, w)`.
pub(crate) fn theta_terms(rows: impl Iterator<Item = (f64, f64, f64)>, theta: f64) -> [f64; 3] {
    let mut out = [0.0; 3];
    let (dg_t, tg_t) = (digamma(theta), trigamma(theta));
    for (y, mu, w) in rows {
        let tm = theta + mu;
        out[0] += w * (row_constant(y, theta) + kernel(y, mu, theta));
        // log(theta) + 1 - log(theta + mu) - (y + theta) / (theta + mu), without cancellation.
        out[1] += w * (digamma(y + theta) - dg_t - (mu / theta).ln_1p() + (mu - y) / tm);
        out[2] +=
            w * (-trigamma(y + theta) + tg_t - 1.0 / theta + 2.0 / tm - (y + theta) / (tm * tm));
    }
    out
}

/// The maximum-likelihood theta at fixed means (rows `(y, mu, w)` from `rows()`), from `start`:
/// Newton's method in `log theta` with step halving on the log-likelihood, as MASS's
/// `theta.ml` (which steps in theta). Returns theta and its observed information; a theta
/// beyond [`theta_limit`] is the Poisson limit ([`Error::Boundary`], named `model`).
pub(crate) fn theta_ml<I: Iterator<Item = (f64, f64, f64)>>(
    rows: impl Fn() -> I,
    start: f64,
    model: &str,
) -> Result<(f64, f64)> {
    let limit = theta_limit(rows().map(|(y, _, _)| y).fold(0.0, f64::max));
    let mut log_theta = start.clamp(1e-8, limit).ln();
    let mut last = f64::INFINITY;
    for _ in 0..200 {
        let theta = log_theta.exp();
        let [value, score, info] = theta_terms(rows(), theta);
        // Derivatives in t = log theta.
        let gradient = theta * score;
        let curvature = theta * theta * info - gradient;
        let mut step = if curvature > 0.0 {
            gradient / curvature
        } else {
            gradient.signum()
        };
        step = step.clamp(-2.0, 2.0);
        if step.abs() < 1e-12 * (1.0 + log_theta.abs()) {
            return Ok((theta, info));
        }
        while step.abs() > 1e-14 {
            let moved = theta_terms(rows(), (log_theta + step).exp())[0];
            if moved.is_finite() && moved >= value - 1e-13 * value.abs() {
                break;
            }
            step /= 2.0;
        }
        log_theta += step;
        last = step.abs();
        if log_theta.exp() > limit {
            return Err(poisson_limit(model, limit));
        }
    }
    Err(Error::NotConverged {
        what: format!("the maximum-likelihood theta of the {model}"),
        iterations: 200,
        criterion: last,
    })
}

/// The trigamma function `psi'(x)` for `x > 0`: the recurrence `psi'(x) = psi'(x + 1) + 1/x^2`
/// up to `x >= 20`, then the asymptotic series to the `x^-11` term (the next term is below
/// 1e-17 there).
pub(crate) fn trigamma(mut x: f64) -> f64 {
    let mut sum = 0.0;
    while x < 20.0 {
        sum += 1.0 / (x * x);
        x += 1.0;
    }
    let r = 1.0 / (x * x);
    sum + 1.0 / x
        + r / 2.0
        + r / x
            * (1.0 / 6.0 - r * (1.0 / 30.0 - r * (1.0 / 42.0 - r * (1.0 / 30.0 - r * 5.0 / 66.0))))
}

/// `theta log(theta / (theta + mu)) + y log(mu / (theta + mu))`, the part of a row's
/// log-likelihood that depends on the mean, as `-theta log1p(mu / theta) - y log1p(theta / mu)`
/// (accurate also for theta far above mu, near the Poisson limit).
pub(crate) fn kernel(y: f64, mu: f64, theta: f64) -> f64 {
    let count = if y == 0.0 {
        0.0
    } else {
        y * (theta / mu).ln_1p()
    };
    -theta * (mu / theta).ln_1p() - count
}

/// `lgamma(y + theta) - lgamma(theta) - lgamma(y + 1)`, the part of a row's log-likelihood free
/// of the mean (with the `theta log theta` of the kernel kept in the kernel).
pub(crate) fn row_constant(y: f64, theta: f64) -> f64 {
    ln_gamma(y + theta) - ln_gamma(theta) - ln_gamma(y + 1.0)
}

/// The distinct counts of the rows of a model and their summed prior weights: enough for the
/// mean-free part of the log-likelihood at any theta, `sum_y w_y row_constant(y, theta)`, after
/// the rows have been collapsed into patterns.
#[derive(Debug, Clone, Default)]
pub(crate) struct CountSums(Vec<(f64, f64)>);

impl CountSums {
    /// The sums of the rows `(y, w)`.
    pub fn new(rows: impl Iterator<Item = (f64, f64)>) -> CountSums {
        let mut sums: Vec<(f64, f64)> = Vec::new();
        for (y, w) in rows {
            match sums.binary_search_by(|(v, _)| v.total_cmp(&y)) {
                Ok(k) => sums[k].1 += w,
                Err(k) => sums.insert(k, (y, w)),
            }
        }
        CountSums(sums)
    }

    /// The largest count (0 without rows).
    pub fn largest(&self) -> f64 {
        self.0.last().map_or(0.0, |&(y, _)| y)
    }

    /// `sum_rows w [lgamma(y + theta) - lgamma(theta) - lgamma(y + 1)]`.
    pub fn constant(&self, theta: f64) -> f64 {
        self.0
            .iter()
            .map(|&(y, w)| w * row_constant(y, theta))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigamma_matches_r() {
        // R 4.2.2's trigamma(x).
        for (x, want) in [
            (0.05, 401.53235734211506),
            (0.7, 2.8340491566946104),
            (3.2, 0.366_321_190_731_400_8),
            (6.0, 0.18132295573711527),
            (41.5, 0.024389035040253255),
        ] {
            assert!((trigamma(x) - want).abs() < 1e-14 * want, "{x}");
        }
        // psi'(1) = pi^2 / 6.
        assert!((trigamma(1.0) - std::f64::consts::PI.powi(2) / 6.0).abs() < 1e-14);
    }

    #[test]
    fn theta_terms_are_derivatives_of_the_loglik() {
        let rows = || [(0.0, 1.3, 1.0), (4.0, 2.2, 2.0), (11.0, 6.0, 1.0)].into_iter();
        let theta = 1.7;
        let h = 1e-5;
        let at = theta_terms(rows(), theta);
        let up = theta_terms(rows(), theta + h);
        let down = theta_terms(rows(), theta - h);
        assert!((at[1] - (up[0] - down[0]) / (2.0 * h)).abs() < 1e-7);
        assert!((at[2] + (up[1] - down[1]) / (2.0 * h)).abs() < 1e-7);
    }

    #[test]
    fn equidispersed_counts_reach_the_poisson_limit() {
        // Counts whose variance equals their mean: no overdispersion.
        let rows = || [(1.0, 2.0, 1.0), (2.0, 2.0, 2.0), (3.0, 2.0, 1.0)].into_iter();
        let err = theta_ml(rows, 1.0, "NB2 GLM").unwrap_err();
        assert!(matches!(err, Error::Boundary { .. }), "{err}");
        assert!(err.to_string().contains("Poisson"), "{err}");
    }

    #[test]
    fn count_sums_give_the_rows_constant() {
        let rows = [(0.0, 1.0), (3.0, 2.0), (0.0, 0.5), (7.0, 1.0)];
        let sums = CountSums::new(rows.into_iter());
        let direct: f64 = rows.iter().map(|&(y, w)| w * row_constant(y, 2.5)).sum();
        assert!((sums.constant(2.5) - direct).abs() < 1e-12);
    }
}
