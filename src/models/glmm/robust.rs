//! Cluster-robust (sandwich) variance of a GLMM's parameters.
//!
//! The approximate integrated log-likelihood is a sum over the groups of the outer grouping factor
//! (clusters), `l(psi) = sum_g l_g(psi)` with `psi = (beta, theta)`. With `H` the Hessian of `l`
//! at the estimate and `s_g = grad l_g(psi^)` the score of cluster g, the sandwich is
//!
//! `V = H^{-1} (sum_g s_g s_g') H^{-1}`,
//!
//! the variance of `psi^` that stays valid when the random-effect distribution or the
//! within-cluster correlation is misspecified, as long as clusters are independent
//! (glmmTMB's `vcovHC(type = "HC0")`, merDeriv's `sandwich`). `CR0` multiplies it by
//! `G / (G - 1)`. Its fixed-effect block does not depend on how theta is parametrised (theta,
//! log SD, variance), so it is comparable across packages. With few clusters it is too small:
//! prefer 30 or more clusters, or the bootstrap.

use nalgebra::DMatrix;

use super::likelihood::Likelihood;
use super::LikelihoodObjective;
use crate::core::error::Result;
use crate::models::vcov::VcovKind;

/// The score of each cluster at `params` over the parameters `free`: a `G x free.len()` matrix.
/// `modes` (q per group) start each cluster's mode search.
pub(crate) fn cluster_scores(
    likelihood: &Likelihood<'_>,
    nested: bool,
    params: &[f64],
    modes: &[f64],
    free: &[usize],
) -> Result<DMatrix<f64>> {
    let patterns = likelihood.patterns;
    let (g_count, q) = (patterns.n_groups(), patterns.q);
    let mut scores = DMatrix::zeros(g_count, free.len());
    let mut one = patterns.resample(&[]);
    for g in 0..g_count {
        patterns.resample_into(&[g], &mut one);
        let single = Likelihood {
            patterns: &one,
            labels: &likelihood.labels[g..=g],
            ..*likelihood
        };
        let mut objective = LikelihoodObjective::new(&single, nested);
        objective.modes.copy_from_slice(&modes[g * q..(g + 1) * q]);
        let (_, gradient) = objective.evaluate(params, true)?;
        for (j, &k) in free.iter().enumerate() {
            scores[(g, j)] = gradient[k];
        }
    }
    Ok(scores)
}

/// The sandwich `B (S'S) B` of kind `kind` (`Sandwich`, or `CR0` with `G / (G - 1)`) from the
/// bread `B = (-H)^{-1}` and the cluster scores `S` (one row per cluster).
pub(crate) fn sandwich(
    bread: &DMatrix<f64>,
    scores: &DMatrix<f64>,
    kind: VcovKind,
) -> DMatrix<f64> {
    let g = scores.nrows() as f64;
    let factor = if kind == VcovKind::CR0 {
        g / (g - 1.0)
    } else {
        1.0
    };
    let meat = scores.transpose() * scores;
    let v = bread * meat * bread * factor;
    (&v + v.transpose()) * 0.5
}

/// Whether the mixed model supports `kind`.
pub(crate) fn supported(kind: VcovKind) -> bool {
    matches!(kind, VcovKind::Model | VcovKind::Sandwich | VcovKind::CR0)
}
