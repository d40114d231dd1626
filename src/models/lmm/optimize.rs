//! Minimising the profiled deviance (or REML criterion) `f(theta)` over theta, by the models'
//! one Newton optimiser ([`crate::models::newton`]) maximising `-f(theta) / 2` (the REML or ML
//! log-likelihood), with Richardson-differenced gradient and Hessian (the Hessian is the
//! objective's own, so no gradient is differenced again).
//!
//! The criterion depends on theta through `Lambda Lambda'` only, so it is even in each
//! standard deviation of nested intercepts and unchanged when a column of Lambda changes sign:
//! the maximisation is unconstrained (a bound at 0 would make 0, a stationary point, a trap),
//! and the caller takes the sign convention. A standard deviation that ends below 1e-4 is set to
//! exactly 0 when that does not raise the criterion by more than 1e-10 relative: the fit is then
//! singular. Converged when the scaled gradient of `f` is below 1e-8 or a full step changes
//! nothing at 1e-10 relative.

use nalgebra::DMatrix;

use super::profile::Statistics;
use crate::core::error::Result;
use crate::core::numdiff::{gradient, hessian};
use crate::models::newton::{maximise, Maximum, Objective, Settings};

/// The minimum found.
#[derive(Debug, Clone)]
pub(crate) struct Minimum {
    pub theta: Vec<f64>,
    /// The criterion `f` at theta.
    pub value: f64,
    /// Thetas held at 0 (standard deviations on the boundary).
    pub at_zero: Vec<usize>,
    /// The maximisation of `-f / 2` (before SDs were set to 0): iterations, convergence, every
    /// evaluation.
    pub maximum: Maximum,
}

/// Settings of the maximisation of `-f / 2`: a gradient of `f` below 1e-8, and no stop on the
/// predicted gain (a Newton step on a criterion this cheap costs nothing, and the last steps
/// take the estimates to 1e-11 of lme4's).
const SETTINGS: Settings = Settings {
    max_iterations: 100,
    gradient_tolerance: 0.5e-8,
    gain_tolerance: 0.0,
};

/// `-f(theta) / 2` as an objective.
struct Profiled<'a> {
    stats: &'a Statistics,
    reml: bool,
}

impl Profiled<'_> {
    fn criterion(&self, theta: &[f64]) -> Result<f64> {
        self.stats.profiled_deviance(theta, self.reml)
    }
}

impl Objective for Profiled<'_> {
    fn value(&mut self, theta: &[f64], want_gradient: bool) -> Result<(f64, Vec<f64>)> {
        let value = -0.5 * self.criterion(theta)?;
        let grad = if want_gradient {
            gradient(|t| self.criterion(t), theta)?
                .iter()
                .map(|g| -0.5 * g)
                .collect()
        } else {
            Vec::new()
        };
        Ok((value, grad))
    }

    fn exact_hessian(&mut self, theta: &[f64]) -> Result<Option<DMatrix<f64>>> {
        Ok(Some(hessian(|t| self.criterion(t), theta)? * -0.5))
    }
}

/// Minimise the profiled criterion of `stats` from `start`.
pub(crate) fn minimise(stats: &Statistics, reml: bool, start: Vec<f64>) -> Result<Minimum> {
    let mut objective = Profiled { stats, reml };
    let best = maximise(&mut objective, start, SETTINGS)?;
    let mut theta = best.params.clone();
    let mut value = -2.0 * best.loglik;
    let mut at_zero = Vec::new();
    for k in 0..theta.len() {
        if stats.structure.is_sd(k) && theta[k].abs() < 1e-4 {
            let mut zeroed = theta.clone();
            zeroed[k] = 0.0;
            let v = objective.criterion(&zeroed)?;
            if v <= value + 1e-10 * value.abs() {
                theta = zeroed;
                value = v.min(value);
                at_zero.push(k);
            }
        }
    }
    // `maximise` refuses a non-finite maximum, and a zeroed SD is kept only where the criterion
    // stays below it: `value` is finite.
    Ok(Minimum {
        theta,
        value,
        at_zero,
        maximum: best,
    })
}
