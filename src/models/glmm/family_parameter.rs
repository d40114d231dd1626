//! The parameter of the response distribution that a mixed model estimates with the fixed
//! effects and variance components: the shape of the gamma family, theta of the negative
//! binomial NB2.
//!
//! Gamma with log link, as glmmTMB's `family = Gamma(link = "log")`: with shape k (dispersion
//! `phi = 1/k`; glmmTMB's `sigma` is the coefficient of variation `sqrt(phi)`), a row with prior
//! weight w contributes
//!
//! `w [k (-y/mu - log mu) + k log k - log Gamma(k) + (k - 1) log y]`,
//!
//! the family's kernel with prior weight `w k` plus a term free of the mean.
//!
//! NB2 with log link, as glmmTMB's `family = nbinom2` (whose `sigma` is theta): a row
//! contributes the family's kernel at theta, `w [theta log(theta / (theta + mu))
//! + y log(mu / (theta + mu))]` (linear in `(w, w y)`, so collapsed patterns keep it), plus
//! `w [lgamma(y + theta) - lgamma(theta) - log y!]`, summed over the rows before collapsing.
//!
//! For a fixed value of the parameter the Laplace likelihood over (beta, theta) is maximised by
//! the general machinery; the logarithm of the parameter is maximised on the profile by
//! golden-section search, each step starting from the last maximum. The standard errors come
//! from the Hessian over `(beta, theta, log parameter)` at the joint maximum: the (beta, theta)
//! block as for the other families, the rows of the log parameter by central differences of the
//! gradient and log-likelihood.

use nalgebra::DMatrix;

use super::likelihood::Likelihood;
use super::patterns::Patterns;
use super::{LikelihoodObjective, Session, SETTINGS};
use crate::core::error::{Error, Result};
use crate::models::glm::Family;
use crate::models::negative_binomial::{poisson_limit, theta_limit, CountSums, NbTheta};
use crate::models::newton::{maximise, Maximum, Objective};

/// `sum_i w_i` and `sum_i w_i log y_i` over the rows used (before any collapsing).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GammaSums {
    pub weight: f64,
    pub weighted_log_y: f64,
}

/// The distribution parameter estimated, with what its log-likelihood needs from the rows.
#[derive(Debug, Clone)]
pub(crate) enum FamilyParameter {
    /// The gamma shape k.
    GammaShape(GammaSums),
    /// The NB2 theta.
    NbTheta(CountSums),
}

impl FamilyParameter {
    /// The family and the patterns at the parameter value `k`: for the gamma family the weights
    /// times k, for both the constant of the log-likelihood.
    fn at(&self, family: Family, base: &Patterns, k: f64) -> (Family, Patterns) {
        let mut p = base.clone();
        match self {
            FamilyParameter::GammaShape(sums) => {
                p.m.iter_mut().for_each(|m| *m *= k);
                p.constant = sums.weight * (k * k.ln() - statrs::function::gamma::ln_gamma(k))
                    + (k - 1.0) * sums.weighted_log_y;
                (family, p)
            }
            FamilyParameter::NbTheta(counts) => {
                p.constant = counts.constant(k);
                (Family::NegativeBinomial(NbTheta(k)), p)
            }
        }
    }

    /// How far below and above the start the search for the log parameter goes: the mixed
    /// model's theta exceeds the GLM's (the random effects take up overdispersion).
    fn bracket(&self) -> (f64, f64) {
        match self {
            FamilyParameter::GammaShape(_) => (3.0, 3.0),
            FamilyParameter::NbTheta(_) => (3.0, 7.0),
        }
    }

    /// The error of a maximum at an end of the search range (`upper` for the upper end, at
    /// `value`): for NB2 at the upper end the Poisson limit.
    fn at_end(&self, upper: bool, value: f64, criterion: f64) -> Error {
        match self {
            FamilyParameter::NbTheta(_) if upper => poisson_limit("NB2 mixed model", value),
            FamilyParameter::GammaShape(_) => Error::NotConverged {
                what: "the gamma shape of the mixed model (at the end of its search range)".into(),
                iterations: 200,
                criterion,
            },
            FamilyParameter::NbTheta(_) => Error::NotConverged {
                what: "theta of the NB2 mixed model (at the lower end of its search range)".into(),
                iterations: 200,
                criterion,
            },
        }
    }
}

/// The maximum over (beta, theta) at the parameter value k, from `start`.
fn at_value(
    session: &Session<'_>,
    parameter: &FamilyParameter,
    k: f64,
    start: Vec<f64>,
) -> Result<Maximum> {
    let base = session.objective.likelihood;
    let (family, patterns) = parameter.at(base.family, base.patterns, k);
    let likelihood = Likelihood {
        family,
        patterns: &patterns,
        ..*base
    };
    let mut objective = LikelihoodObjective::new(&likelihood, session.random.nested);
    maximise(&mut objective, start, SETTINGS)
}

/// The joint maximum: `(beta, theta)`, the parameter, the Hessian over
/// `(beta, theta, log parameter)`, and the family and patterns at the parameter.
pub(crate) struct ParameterMaximum {
    pub best: Maximum,
    pub value: f64,
    pub hessian: DMatrix<f64>,
    pub family: Family,
    pub patterns: Patterns,
}

/// Maximise over (beta, theta, log parameter), from the parameter value `start_value` (the
/// GLM's).
pub(crate) fn maximise_parameter(
    session: &Session<'_>,
    parameter: &FamilyParameter,
    start_value: f64,
) -> Result<ParameterMaximum> {
    let mut start = session.start.clone();
    let profile = |log_k: f64, start: &mut Vec<f64>| -> Result<f64> {
        let found = at_value(session, parameter, log_k.exp(), start.clone())?;
        *start = found.params.clone();
        Ok(found.loglik)
    };
    // Golden-section search for the maximum of the profile over log k, in a bracket around
    // the GLM's value.
    let centre = start_value.max(1e-3).ln();
    let (below, above) = parameter.bracket();
    let (mut a, mut b) = (centre - below, centre + above);
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
    if log_k <= centre - below + 0.001 || log_k >= centre + above - 0.001 {
        let upper = log_k > centre;
        return Err(parameter.at_end(upper, log_k.exp(), b - a));
    }
    let value = log_k.exp();
    if let FamilyParameter::NbTheta(counts) = parameter {
        let limit = theta_limit(counts.largest());
        if value > limit {
            return Err(poisson_limit("NB2 mixed model", limit));
        }
    }
    let best = at_value(session, parameter, value, start)?;
    // Rows of log k in the Hessian: central differences at fixed (beta, theta).
    let h = 1e-4;
    let base = session.objective.likelihood;
    let evaluate = |log_k: f64| -> Result<(f64, Vec<f64>)> {
        let (family, patterns) = parameter.at(base.family, base.patterns, log_k.exp());
        let likelihood = Likelihood {
            family,
            patterns: &patterns,
            ..*base
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
    let (family, patterns) = parameter.at(base.family, base.patterns, value);
    Ok(ParameterMaximum {
        best,
        value,
        hessian,
        family,
        patterns,
    })
}
