//! Minimising the profiled deviance (or REML criterion) `f(theta)` over theta, by the models'
//! one Newton optimiser ([`crate::models::newton`]) maximising `-f(theta) / 2` (the REML or ML
//! log-likelihood). For clusters (one grouping factor: scalar, correlated or nested intercepts)
//! the gradient is exact ([`Statistics::criterion_gradient`]) and the Newton Hessian its forward
//! difference, column k `(grad f(theta + h e_k) - grad f(theta)) / h` with
//! `h = 1e-6 max(|theta_k|, 1)`, symmetrised: r + 1 passes over the clusters per Newton step
//! with r thetas. For the general structure (crossed terms) gradient and Hessian are
//! Richardson-differenced criterion values.
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
    /// The last exact gradient of `f` and its theta (clusters).
    last: Option<(Vec<f64>, Vec<f64>)>,
}

impl Profiled<'_> {
    fn criterion(&self, theta: &[f64]) -> Result<f64> {
        self.stats.profiled_deviance(theta, self.reml)
    }

    /// `f` and its exact gradient (clusters).
    fn with_gradient(&mut self, theta: &[f64]) -> Result<(f64, Vec<f64>)> {
        let (value, grad) = self.stats.criterion_gradient(theta, self.reml)?;
        self.last = Some((theta.to_vec(), grad.clone()));
        Ok((value, grad))
    }
}

impl Objective for Profiled<'_> {
    fn value(&mut self, theta: &[f64], want_gradient: bool) -> Result<(f64, Vec<f64>)> {
        let (value, grad) = if !want_gradient {
            (self.criterion(theta)?, Vec::new())
        } else if self.stats.is_general() {
            (
                self.criterion(theta)?,
                gradient(|t| self.criterion(t), theta)?,
            )
        } else {
            self.with_gradient(theta)?
        };
        Ok((-0.5 * value, grad.iter().map(|g| -0.5 * g).collect()))
    }

    fn exact_hessian(&mut self, theta: &[f64]) -> Result<Option<DMatrix<f64>>> {
        if self.stats.is_general() {
            return Ok(Some(hessian(|t| self.criterion(t), theta)? * -0.5));
        }
        let at_theta = match &self.last {
            Some((t, g)) if t.as_slice() == theta => g.clone(),
            _ => self.with_gradient(theta)?.1,
        };
        let r = theta.len();
        let mut h = DMatrix::zeros(r, r);
        let mut shifted = theta.to_vec();
        for k in 0..r {
            let step = 1e-6 * theta[k].abs().max(1.0);
            shifted[k] = theta[k] + step;
            let (_, up) = self.stats.criterion_gradient(&shifted, self.reml)?;
            shifted[k] = theta[k];
            for (row, (u, g)) in up.iter().zip(&at_theta).enumerate() {
                h[(row, k)] = (u - g) / step;
            }
        }
        Ok(Some((&h + h.transpose()) * -0.25))
    }
}

/// Minimise the profiled criterion of `stats` from `start`.
pub(crate) fn minimise(stats: &Statistics, reml: bool, start: Vec<f64>) -> Result<Minimum> {
    let mut objective = Profiled {
        stats,
        reml,
        last: None,
    };
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
