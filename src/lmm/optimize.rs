//! Minimising the profiled deviance (or REML criterion) over theta: Newton steps with
//! Richardson-differenced gradient and Hessian, standard deviations kept at or above 0.
//!
//! A standard deviation is held at 0 when the step would make it negative and the gradient
//! there points inside (the boundary is the minimum along it); the Hessian is made positive
//! definite where it is not (eigenvalues replaced by their absolute values, at least 1e-8 of the
//! largest). Converged when the step moves no theta by more than 1e-10 (relative to 1 + |theta|)
//! or the free gradient is below 1e-8.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use super::profile::Statistics;
use crate::error::{Error, Result};
use crate::numdiff::{gradient, hessian};

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
    let is_sd: Vec<bool> = (0..start.len()).map(|k| stats.structure.is_sd(k)).collect();
    let mut theta = start;
    let mut value = f(&theta)?;
    let mut converged = false;
    let mut iterations = 0;
    while iterations < MAX_ITERATIONS {
        iterations += 1;
        let g = gradient(f, &theta)?;
        let h = hessian(f, &theta)?;
        let free: Vec<usize> = (0..theta.len())
            .filter(|&k| !(is_sd[k] && theta[k] <= 0.0 && g[k] >= 0.0))
            .collect();
        if free.iter().all(|&k| g[k].abs() < 1e-8) {
            converged = true;
            break;
        }
        let step = newton_step(&h, &g, &free);
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..50 {
            let candidate: Vec<f64> = theta
                .iter()
                .zip(&step)
                .enumerate()
                .map(|(k, (v, s))| {
                    let c = v + t * s;
                    if is_sd[k] {
                        c.max(0.0)
                    } else {
                        c
                    }
                })
                .collect();
            let v = f(&candidate)?;
            if v <= value + 1e-12 * value.abs() {
                accepted = Some((candidate, v));
                break;
            }
            t /= 2.0;
        }
        let Some((candidate, v)) = accepted else {
            converged = free.iter().all(|&k| g[k].abs() < 1e-5);
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
    let at_zero = (0..theta.len())
        .filter(|&k| is_sd[k] && theta[k] == 0.0)
        .collect();
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

/// `-H_ff^{-1} g_f` on the free coordinates (0 elsewhere), H made positive definite.
fn newton_step(h: &DMatrix<f64>, g: &[f64], free: &[usize]) -> Vec<f64> {
    let k = free.len();
    let hf = DMatrix::from_fn(k, k, |a, b| h[(free[a], free[b])]);
    let gf = DVector::from_iterator(k, free.iter().map(|&i| g[i]));
    let eig = SymmetricEigen::new(hf);
    let top = eig.eigenvalues.amax().max(1e-300);
    let coords = eig.eigenvectors.transpose() * &gf;
    let scaled = DVector::from_iterator(
        k,
        coords
            .iter()
            .zip(eig.eigenvalues.iter())
            .map(|(c, l)| -c / l.abs().max(1e-8 * top)),
    );
    let d = &eig.eigenvectors * scaled;
    let mut step = vec![0.0; g.len()];
    for (a, &i) in free.iter().enumerate() {
        step[i] = d[a];
    }
    step
}
