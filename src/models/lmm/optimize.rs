//! Minimising the profiled deviance (or REML criterion) over theta: Newton steps with
//! Richardson-differenced gradient and Hessian.
//!
//! The criterion depends on theta through `Lambda Lambda'` only, so it is even in each
//! standard deviation of nested intercepts and unchanged when a column of Lambda changes sign:
//! the minimisation is unconstrained (a bound at 0 would make 0, a stationary point, a trap),
//! and the caller takes the sign convention. A standard deviation that ends below 1e-4 is set to
//! exactly 0 when that does not raise the criterion by more than 1e-10 relative: the fit is then
//! singular. The Hessian is made positive definite where it is not (eigenvalues replaced by
//! their absolute values, at least 1e-8 of the largest). Converged when the step moves no theta
//! by more than 1e-10 (relative to 1 + |theta|) or the gradient is below 1e-8.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use super::profile::Statistics;
use crate::core::error::{Error, Result};
use crate::core::numdiff::{gradient, hessian};

/// The minimum found.
#[derive(Debug, Clone)]
pub(crate) struct Minimum {
    pub theta: Vec<f64>,
    pub value: f64,
    pub iterations: usize,
    pub converged: bool,
    /// Thetas held at 0 (standard deviations on the boundary).
    pub at_zero: Vec<usize>,
}

const MAX_ITERATIONS: usize = 100;

/// Minimise the profiled criterion of `stats` from `start`.
pub(crate) fn minimise(stats: &Statistics, reml: bool, start: Vec<f64>) -> Result<Minimum> {
    let f = |theta: &[f64]| stats.profiled_deviance(theta, reml);
    let mut theta = start;
    let mut value = f(&theta)?;
    let mut converged = false;
    let mut iterations = 0;
    while iterations < MAX_ITERATIONS {
        iterations += 1;
        let g = gradient(f, &theta)?;
        let h = hessian(f, &theta)?;
        if g.iter().all(|v| v.abs() < 1e-8) {
            converged = true;
            break;
        }
        let step = newton_step(&h, &g);
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..50 {
            let candidate: Vec<f64> = theta.iter().zip(&step).map(|(v, s)| v + t * s).collect();
            let v = f(&candidate)?;
            if v <= value + 1e-12 * value.abs() {
                accepted = Some((candidate, v));
                break;
            }
            t /= 2.0;
        }
        let Some((candidate, v)) = accepted else {
            converged = g.iter().all(|v| v.abs() < 1e-5);
            break;
        };
        let moved = theta
            .iter()
            .zip(&candidate)
            .map(|(a, b)| (a - b).abs() / (1.0 + a.abs()))
            .fold(0.0, f64::max);
        theta = candidate;
        value = v;
        if moved < 1e-10 {
            converged = true;
            break;
        }
    }
    let mut at_zero = Vec::new();
    for k in 0..theta.len() {
        if stats.structure.is_sd(k) && theta[k].abs() < 1e-4 {
            let mut zeroed = theta.clone();
            zeroed[k] = 0.0;
            let v = f(&zeroed)?;
            if v <= value + 1e-10 * value.abs() {
                theta = zeroed;
                value = v.min(value);
                at_zero.push(k);
            }
        }
    }
    if !value.is_finite() {
        return Err(Error::Numerical {
            what: "the linear mixed model".into(),
            message: "the deviance is not finite".into(),
        });
    }
    Ok(Minimum {
        theta,
        value,
        iterations,
        converged,
        at_zero,
    })
}

/// `-H^{-1} g`, H made positive definite.
fn newton_step(h: &DMatrix<f64>, g: &[f64]) -> Vec<f64> {
    let k = g.len();
    let gf = DVector::from_column_slice(g);
    let eig = SymmetricEigen::new(h.clone());
    let top = eig.eigenvalues.amax().max(1e-300);
    let coords = eig.eigenvectors.transpose() * &gf;
    let scaled = DVector::from_iterator(
        k,
        coords
            .iter()
            .zip(eig.eigenvalues.iter())
            .map(|(c, l)| -c / l.abs().max(1e-8 * top)),
    );
    (&eig.eigenvectors * scaled).iter().copied().collect()
}
