//! Variances on the boundary of the parameter space: a standard deviation estimated as 0.

use nalgebra::DMatrix;

use super::LikelihoodObjective;
use crate::core::error::Result;
use crate::frame::random_effects::RandomSetup;
use crate::models::newton::{ascend_with, maximise, LineSearch, Maximum, Objective, Settings};

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
    match boundary_refit(objective, &best.params, best.loglik, p, random, settings)? {
        Boundary::Interior => Ok(false),
        Boundary::Flagged | Boundary::Kept => Ok(true),
        Boundary::Refitted(refit) => {
            best.params = refit.params;
            best.loglik = refit.at_zero.loglik;
            best.hessian = refit.at_zero.hessian;
            best.gradient = refit.at_zero.gradient;
            best.converged = refit.at_zero.converged;
            best.iterations += refit.at_zero.iterations;
            best.free = refit.free;
            best.log.extend(refit.at_zero.log);
            Ok(true)
        }
    }
}

/// Maximise `objective` from `start` with the line search `search`, then check the variances on
/// their boundary as [`boundary_check`] does: the Hessian at the maximum is differenced for the
/// maximum kept only (not also for an interior one that a boundary refit replaces). Returns the
/// maximum and whether the fit is singular.
pub(crate) fn maximise_checked(
    objective: &mut LikelihoodObjective<'_>,
    start: Vec<f64>,
    p: usize,
    random: &RandomSetup,
    settings: Settings,
    search: LineSearch,
) -> Result<(Maximum, bool)> {
    let mut ascent = ascend_with(objective, start, settings, search)?;
    let refit = boundary_refit(
        objective,
        &ascent.params,
        ascent.loglik,
        p,
        random,
        settings,
    )?;
    let singular = !matches!(refit, Boundary::Interior);
    let Boundary::Refitted(refit) = refit else {
        if matches!(refit, Boundary::Kept) {
            ascent.moved();
        }
        return Ok((ascent.finish(objective)?, singular));
    };
    let mut log = ascent.log;
    log.extend(refit.at_zero.log);
    let best = Maximum {
        start: ascent.start,
        settings: ascent.settings,
        params: refit.params,
        loglik: refit.at_zero.loglik,
        gradient: refit.at_zero.gradient,
        hessian: refit.at_zero.hessian,
        free: refit.free,
        iterations: ascent.iterations + refit.at_zero.iterations,
        converged: refit.at_zero.converged,
        log,
    };
    Ok((best, singular))
}

/// The outcome of the boundary check at a maximum.
enum Boundary {
    /// No SD near 0.
    Interior,
    /// An SD near 0 in a model with correlated effects: flagged, not refitted.
    Flagged,
    /// Refitted with the SDs near 0 held at 0, no better: the maximum stands (the objective was
    /// evaluated elsewhere meanwhile).
    Kept,
    /// Refitted with the SDs near 0 held at 0, at least as good: the maximum is replaced.
    Refitted(Box<Refit>),
}

/// A maximum with SDs held at 0.
struct Refit {
    /// The maximum over the free parameters.
    at_zero: Maximum,
    /// All parameters there (0 for those held).
    params: Vec<f64>,
    /// The free parameters' indices.
    free: Vec<usize>,
}

/// The boundary check at the maximum `params` (log-likelihood `loglik`), see [`boundary_check`].
fn boundary_refit(
    objective: &mut LikelihoodObjective<'_>,
    params: &[f64],
    loglik: f64,
    p: usize,
    random: &RandomSetup,
    settings: Settings,
) -> Result<Boundary> {
    let s = &random.structure;
    let near = near_boundary(params, p, random);
    if near.is_empty() {
        return Ok(Boundary::Interior);
    }
    if (0..s.len()).any(|t| !s.is_sd(t)) {
        return Ok(Boundary::Flagged);
    }
    let free: Vec<usize> = (0..params.len()).filter(|k| !near.contains(k)).collect();
    let mut fixed = FixedParams {
        inner: objective,
        free: free.clone(),
        template: params
            .iter()
            .enumerate()
            .map(|(k, v)| if near.contains(&k) { 0.0 } else { *v })
            .collect(),
    };
    let start: Vec<f64> = free.iter().map(|&k| params[k]).collect();
    let at_zero = maximise(&mut fixed, start, settings)?;
    if at_zero.loglik < loglik - 1e-9 * loglik.abs().max(1.0) {
        return Ok(Boundary::Kept);
    }
    Ok(Boundary::Refitted(Box::new(Refit {
        params: fixed.expand(&at_zero.params),
        at_zero,
        free,
    })))
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
    /// The rows and columns of the free parameters of a Hessian over all.
    fn free_block(&self, h: &DMatrix<f64>) -> DMatrix<f64> {
        DMatrix::from_fn(self.free.len(), self.free.len(), |r, c| {
            h[(self.free[r], self.free[c])]
        })
    }

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
        Ok(self
            .inner
            .exact_hessian(&full)?
            .map(|h| self.free_block(&h)))
    }

    fn final_hessian(&mut self, params: &[f64]) -> Result<Option<DMatrix<f64>>> {
        let full = self.expand(params);
        Ok(self
            .inner
            .final_hessian(&full)?
            .map(|h| self.free_block(&h)))
    }
}
