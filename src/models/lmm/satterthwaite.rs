//! Satterthwaite degrees of freedom for the fixed effects of a linear mixed model, and for any
//! linear combination of them, as lmerTest computes them (`contest1D(fit, L, ddf =
//! "Satterthwaite")`).
//!
//! With the variance parameters `psi = (theta, sigma)` and the deviance `D(psi)` of the fit (REML
//! criterion or -2 log-likelihood, not profiled over sigma; see `profile`), their asymptotic
//! covariance is `A = 2 H^{-1}`, H the Hessian of D at the estimate. For a contrast L (each
//! coefficient, L = e_j, or a combination such as the time-averaged treatment effect),
//! `f(psi) = L' C(psi) L` with `C(psi) = sigma^2 (X'V^{-1}X)^{-1}` and `g = grad f`; the degrees
//! of freedom are `df = 2 f^2 / (g' A g)`. H and g are differenced (Richardson, as lmerTest's
//! numDeriv); for clusters H is the Richardson-differenced exact gradient of D
//! ([`Statistics::deviance_gradient`]), `6 (r + 1)` gradients instead of `36 (r + 1)^2` values.
//! A standard deviation estimated as exactly 0 is held there: it is left out of psi.

use nalgebra::{DMatrix, DVector};

use super::profile::Statistics;
use crate::core::error::{Error, Result};
use crate::core::linalg::spd_inverse;
use crate::core::numdiff::{gradient, hessian, jacobian};

/// The covariance `A` of the free variance parameters at the estimate, from which the df of any
/// contrast follow.
pub(crate) struct Satterthwaite<'a> {
    stats: &'a Statistics,
    theta: &'a [f64],
    /// The free thetas (not held at 0).
    free: Vec<usize>,
    /// `(free thetas, sigma)` at the estimate.
    psi: Vec<f64>,
    /// `2 H^{-1}`.
    a: DMatrix<f64>,
}

impl<'a> Satterthwaite<'a> {
    /// The covariance of the variance parameters of the fit at `theta`, `sigma` (REML or ML
    /// deviance), with the thetas `at_zero` held at 0.
    pub fn new(
        stats: &'a Statistics,
        reml: bool,
        theta: &'a [f64],
        sigma: f64,
        at_zero: &[usize],
    ) -> Result<Self> {
        let free: Vec<usize> = (0..theta.len()).filter(|k| !at_zero.contains(k)).collect();
        let mut psi: Vec<f64> = free.iter().map(|&k| theta[k]).collect();
        psi.push(sigma);
        let mut this = Satterthwaite {
            stats,
            theta,
            free,
            psi,
            a: DMatrix::zeros(0, 0),
        };
        let h = if stats.is_general() {
            hessian(
                |v: &[f64]| {
                    let (t, s) = this.expand(v);
                    stats.deviance(&t, s, reml)
                },
                &this.psi,
            )?
        } else {
            let free = &this.free;
            let h = jacobian(
                |v: &[f64]| {
                    let (t, s) = this.expand(v);
                    let g = stats.deviance_gradient(&t, s, reml)?;
                    Ok(free.iter().map(|&k| g[k]).chain([g[t.len()]]).collect())
                },
                &this.psi,
            )?;
            (&h + h.transpose()) * 0.5
        };
        this.a = spd_inverse(&h, "the Hessian of the deviance over (theta, sigma)")? * 2.0;
        Ok(this)
    }

    /// `(theta, sigma)` from the free parameters `psi`.
    fn expand(&self, psi: &[f64]) -> (Vec<f64>, f64) {
        let mut t = self.theta.to_vec();
        for (a, &k) in self.free.iter().enumerate() {
            t[k] = psi[a];
        }
        (t, psi[self.free.len()])
    }

    /// The diagonal of `C(psi)` at the free parameters `psi`: each coefficient's `f`.
    fn coefficient_variances(&self, psi: &[f64]) -> Result<Vec<f64>> {
        let (t, s) = self.expand(psi);
        let at = self.stats.at(&t)?;
        let inverse = spd_inverse(&at.m, "X'V^{-1}X")?;
        Ok(inverse.diagonal().iter().map(|v| s * s * v).collect())
    }

    /// `df = 2 f^2 / (g' A g)` of the contrast with variance `f` and gradient `g`.
    fn df_of(&self, f: f64, g: DVector<f64>) -> f64 {
        let denominator = (g.transpose() * &self.a * &g)[(0, 0)];
        2.0 * f * f / denominator
    }

    /// The Satterthwaite df of every coefficient: as [`Satterthwaite::df`] of each unit
    /// contrast, with one differencing of all the variances together.
    pub fn coefficient_df(&self) -> Result<Vec<f64>> {
        let f = self.coefficient_variances(&self.psi)?;
        let g = jacobian(|v: &[f64]| self.coefficient_variances(v), &self.psi)?;
        Ok(f.iter()
            .enumerate()
            .map(|(j, &f)| self.df_of(f, g.row(j).transpose()))
            .collect())
    }

    /// `L' C(psi) L` at the free parameters `psi`.
    fn contrast_variance(&self, psi: &[f64], contrast: &[f64]) -> Result<f64> {
        let (t, s) = self.expand(psi);
        let at = self.stats.at(&t)?;
        let inverse = spd_inverse(&at.m, "X'V^{-1}X")?;
        let l = DVector::from_column_slice(contrast);
        Ok(s * s * (l.transpose() * inverse * &l)[(0, 0)])
    }

    /// The Satterthwaite df of the contrast `contrast` (one weight per fixed effect).
    pub fn df(&self, contrast: &[f64]) -> Result<f64> {
        if contrast.len() != self.stats.p {
            return Err(Error::invalid(
                "contrast",
                format!(
                    "has {} entries, the model has {} fixed effects",
                    contrast.len(),
                    self.stats.p
                ),
            ));
        }
        let f = self.contrast_variance(&self.psi, contrast)?;
        let g = DVector::from_vec(gradient(
            |v: &[f64]| self.contrast_variance(v, contrast),
            &self.psi,
        )?);
        Ok(self.df_of(f, g))
    }
}

/// The Satterthwaite df of every coefficient at `theta`, `sigma`.
pub(crate) fn satterthwaite_df(
    stats: &Statistics,
    reml: bool,
    theta: &[f64],
    sigma: f64,
    at_zero: &[usize],
) -> Result<Vec<f64>> {
    Satterthwaite::new(stats, reml, theta, sigma, at_zero)?.coefficient_df()
}
