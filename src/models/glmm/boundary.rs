//! Variances on the boundary of the parameter space: a standard deviation estimated as 0.

use nalgebra::DMatrix;

use super::LikelihoodObjective;
use crate::core::error::Result;
use crate::frame::random_effects::RandomSetup;
use crate::models::newton::{maximise, Maximum, Objective, Settings};

/// A random-effect standard deviation below this (relative to 1 on the theta scale, as lme4's
/// `isSingular` tolerance) is tested for the boundary.
const SINGULAR_TOLERANCE: f64 = 1e-4;

/// For every theta that is a standard deviation and ended near 0: compare with the fit where it
/// is exactly 0 and the other parameters are re-maximised. When that is at least as good, the
/// variance is on its boundary: it is set to exactly 0 and the maximum replaced (its Hessian then
/// covers the free parameters only). When any term has correlated effects a near-zero SD is
/// flagged only.
pub(crate) fn boundary_check(
    objective: &mut LikelihoodObjective<'_>,
    best: &mut Maximum,
    p: usize,
    random: &RandomSetup,
    settings: Settings,
) -> Result<bool> {
    let s = &random.structure;
    let near = near_boundary(&best.params, p, random);
    if near.is_empty() {
        return Ok(false);
    }
    if (0..s.len()).any(|t| !s.is_sd(t)) {
        return Ok(true);
    }
    let free: Vec<usize> = (0..best.params.len())
        .filter(|k| !near.contains(k))
        .collect();
    let mut fixed = FixedParams {
        inner: objective,
        free: free.clone(),
        template: best
            .params
            .iter()
            .enumerate()
            .map(|(k, v)| if near.contains(&k) { 0.0 } else { *v })
            .collect(),
    };
    let start: Vec<f64> = free.iter().map(|&k| best.params[k]).collect();
    let at_zero = maximise(&mut fixed, start, settings)?;
    if at_zero.loglik >= best.loglik - 1e-9 * best.loglik.abs().max(1.0) {
        best.params = fixed.expand(&at_zero.params);
        best.loglik = at_zero.loglik;
        best.hessian = at_zero.hessian;
        best.gradient = at_zero.gradient;
        best.converged = at_zero.converged;
        best.iterations += at_zero.iterations;
        best.free = free;
        best.log.extend(at_zero.log);
    }
    Ok(true)
}

/// The indices (into `params`, whose theta starts at `p`) of the standard deviations below the
/// singular tolerance: a singular fit when there is any.
pub(crate) fn near_boundary(params: &[f64], p: usize, random: &RandomSetup) -> Vec<usize> {
    let s = &random.structure;
    (0..s.len())
        .filter(|&t| s.is_sd(t) && params[p + t].abs() < SINGULAR_TOLERANCE)
        .map(|t| p + t)
        .collect()
}

/// The objective over the free parameters, the others held at their values in `template`.
pub(crate) struct FixedParams<'a, 'b> {
    pub inner: &'a mut LikelihoodObjective<'b>,
    pub free: Vec<usize>,
    pub template: Vec<f64>,
}

impl FixedParams<'_, '_> {
    pub fn expand(&self, free_values: &[f64]) -> Vec<f64> {
        let mut full = self.template.clone();
        for (&k, v) in self.free.iter().zip(free_values) {
            full[k] = *v;
        }
        full
    }
}

impl Objective for FixedParams<'_, '_> {
    fn value(&mut self, params: &[f64], gradient: bool) -> Result<(f64, Vec<f64>)> {
        let full = self.expand(params);
        let (v, g) = self.inner.value(&full, gradient)?;
        let g = if gradient {
            self.free.iter().map(|&k| g[k]).collect()
        } else {
            Vec::new()
        };
        Ok((v, g))
    }

    fn exact_hessian(&mut self, params: &[f64]) -> Result<Option<DMatrix<f64>>> {
        let full = self.expand(params);
        Ok(self.inner.exact_hessian(&full)?.map(|h| {
            DMatrix::from_fn(self.free.len(), self.free.len(), |r, c| {
                h[(self.free[r], self.free[c])]
            })
        }))
    }
}
