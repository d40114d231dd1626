//! Satterthwaite degrees of freedom for the fixed effects of a linear mixed model, as lmerTest
//! computes them.
//!
//! With the variance parameters `psi = (theta, sigma)` and the deviance `D(psi)` of the fit (REML
//! criterion or -2 log-likelihood, not profiled over sigma; see `profile`), their asymptotic
//! covariance is `A = 2 H^{-1}`, H the Hessian of D at the estimate. For a contrast L (here each
//! coefficient, L = e_j), `f(psi) = L' C(psi) L` with `C(psi) = sigma^2 (X'V^{-1}X)^{-1}` and
//! `g = grad f`; the degrees of freedom are `df = 2 f^2 / (g' A g)`. H and g are differenced
//! (Richardson, as lmerTest's numDeriv). A standard deviation estimated as exactly 0 is held
//! there: it is left out of psi.

use nalgebra::{DMatrix, DVector};

use super::profile::Statistics;
use crate::core::error::Result;
use crate::core::linalg::spd_inverse;
use crate::core::numdiff::{gradient, hessian};

/// The Satterthwaite df of every coefficient at `theta`, `sigma`.
pub(crate) fn satterthwaite_df(
    stats: &Statistics,
    reml: bool,
    theta: &[f64],
    sigma: f64,
    at_zero: &[usize],
) -> Result<Vec<f64>> {
    // psi: the free thetas, then sigma.
    let free: Vec<usize> = (0..theta.len()).filter(|k| !at_zero.contains(k)).collect();
    let expand = |psi: &[f64]| -> (Vec<f64>, f64) {
        let mut t = theta.to_vec();
        for (a, &k) in free.iter().enumerate() {
            t[k] = psi[a];
        }
        (t, psi[free.len()])
    };
    let mut psi: Vec<f64> = free.iter().map(|&k| theta[k]).collect();
    psi.push(sigma);
    let h = hessian(
        |v: &[f64]| {
            let (t, s) = expand(v);
            stats.deviance(&t, s, reml)
        },
        &psi,
    )?;
    let a: DMatrix<f64> = spd_inverse(&h, "the Hessian of the deviance over (theta, sigma)")? * 2.0;
    let p = stats.p;
    let coefficient_variance = |v: &[f64], j: usize| -> Result<f64> {
        let (t, s) = expand(v);
        let at = stats.at(&t)?;
        let inverse = spd_inverse(&at.m, "X'V^{-1}X")?;
        Ok(s * s * inverse[(j, j)])
    };
    (0..p)
        .map(|j| {
            let f = coefficient_variance(&psi, j)?;
            let g = DVector::from_vec(gradient(|v: &[f64]| coefficient_variance(v, j), &psi)?);
            let denominator = (g.transpose() * &a * &g)[(0, 0)];
            Ok(2.0 * f * f / denominator)
        })
        .collect()
}
