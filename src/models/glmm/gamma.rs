//! The gamma mixed model with log link, for skewed positive outcomes (costs), as glmmTMB's
//! `family = Gamma(link = "log")`.
//!
//! With shape k (dispersion `phi = 1/k`; glmmTMB's `sigma` is the coefficient of variation
//! `sqrt(phi)`), a row with prior weight w contributes
//!
//! `w [k (-y/mu - log mu) + k log k - log Gamma(k) + (k - 1) log y]`,
//!
//! the family's kernel with prior weight `w k` plus a term free of the mean. For fixed k the
//! Laplace likelihood over (beta, theta) is maximised by the general machinery (patterns with
//! weights `w k`); `log k` is maximised on the profile by golden-section search, each step
//! starting from the last maximum. The standard errors come from the Hessian over
//! `(beta, theta, log k)` at the joint maximum: the (beta, theta) block as for the other
//! families, the rows of `log k` by central differences of the gradient and log-likelihood.

use nalgebra::DMatrix;

use super::likelihood::Likelihood;
use super::patterns::Patterns;
use super::{LikelihoodObjective, Session, SETTINGS};
use crate::core::error::{Error, Result};
use crate::models::newton::{maximise, Maximum, Objective};

/// `sum_i w_i` and `sum_i w_i log y_i` over the rows used (before any collapsing).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GammaSums {
    pub weight: f64,
    pub weighted_log_y: f64,
}

/// The patterns of shape k: weights times k, and the constant of the log-likelihood.
fn with_shape(base: &Patterns, sums: GammaSums, k: f64) -> Patterns {
    let mut p = base.clone();
    p.m.iter_mut().for_each(|m| *m *= k);
    p.constant = sums.weight * (k * k.ln() - statrs::function::gamma::ln_gamma(k))
        + (k - 1.0) * sums.weighted_log_y;
    p
}

/// The maximum over (beta, theta) at shape k, from `start`.
fn at_shape(session: &Session<'_>, sums: GammaSums, k: f64, start: Vec<f64>) -> Result<Maximum> {
    let patterns = with_shape(session.objective.likelihood.patterns, sums, k);
    let likelihood = Likelihood {
        patterns: &patterns,
        ..*session.objective.likelihood
    };
    let mut objective = LikelihoodObjective::new(&likelihood, session.random.nested);
    maximise(&mut objective, start, SETTINGS)
}

/// The joint maximum: `(beta, theta)`, the shape and the Hessian over `(beta, theta, log k)`.
pub(crate) struct GammaMaximum {
    pub best: Maximum,
    pub shape: f64,
    pub hessian: DMatrix<f64>,
    pub patterns: Patterns,
}

/// Maximise over (beta, theta, log k), from the shape `start_shape` (the GLM's).
pub(crate) fn maximise_gamma(
    session: &Session<'_>,
    sums: GammaSums,
    start_shape: f64,
) -> Result<GammaMaximum> {
    let mut start = session.start.clone();
    let profile = |log_k: f64, start: &mut Vec<f64>| -> Result<f64> {
        let found = at_shape(session, sums, log_k.exp(), start.clone())?;
        *start = found.params.clone();
        Ok(found.loglik)
    };
    // Golden-section search for the maximum of the profile over log k, in a bracket of
    // +-3 around the GLM's shape, widened while the maximum is at an end.
    let centre = start_shape.max(1e-3).ln();
    let (mut a, mut b) = (centre - 3.0, centre + 3.0);
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - ratio * (b - a);
    let mut d = a + ratio * (b - a);
    let mut fc = profile(c, &mut start)?;
    let mut fd = profile(d, &mut start)?;
    for _ in 0..200 {
        if (b - a).abs() < 1e-10 * (1.0 + c.abs()) {
            break;
        }
        if fc >= fd {
            b = d;
            d = c;
            fd = fc;
            c = b - ratio * (b - a);
            fc = profile(c, &mut start)?;
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + ratio * (b - a);
            fd = profile(d, &mut start)?;
        }
    }
    let log_k = (a + b) / 2.0;
    if log_k <= centre - 2.999 || log_k >= centre + 2.999 {
        return Err(Error::NotConverged {
            what: "the gamma shape of the mixed model (at the end of its search range)".into(),
            iterations: 200,
            criterion: b - a,
        });
    }
    let shape = log_k.exp();
    let best = at_shape(session, sums, shape, start)?;
    // Rows of log k in the Hessian: central differences at fixed (beta, theta).
    let h = 1e-4;
    let evaluate = |log_k: f64| -> Result<(f64, Vec<f64>)> {
        let patterns = with_shape(session.objective.likelihood.patterns, sums, log_k.exp());
        let likelihood = Likelihood {
            patterns: &patterns,
            ..*session.objective.likelihood
        };
        let mut objective = LikelihoodObjective::new(&likelihood, session.random.nested);
        objective.value(&best.params, true)
    };
    let (l0, _) = evaluate(log_k)?;
    let (lu, gu) = evaluate(log_k + h)?;
    let (ld, gd) = evaluate(log_k - h)?;
    let n = best.free.len();
    let mut hessian = DMatrix::zeros(n + 1, n + 1);
    hessian.view_mut((0, 0), (n, n)).copy_from(&best.hessian);
    for (a, &i) in best.free.iter().enumerate() {
        let cross = (gu[i] - gd[i]) / (2.0 * h);
        hessian[(a, n)] = cross;
        hessian[(n, a)] = cross;
    }
    hessian[(n, n)] = (lu - 2.0 * l0 + ld) / (h * h);
    let patterns = with_shape(session.objective.likelihood.patterns, sums, shape);
    Ok(GammaMaximum {
        best,
        shape,
        hessian,
        patterns,
    })
}
