//! The NB2 GLM, as R's `MASS::glm.nb`: `log E[y] = x' beta + offset`, `Var(y) = mu + mu^2 / theta`,
//! maximised jointly over `(beta, theta)`.
//!
//! From the Poisson fit and MASS's moment start `theta = sum w / sum w (y / mu - 1)^2`, IRLS for
//! beta at fixed theta alternates with the maximum-likelihood theta at the fitted means
//! ([`theta_ml`]) until theta moves by less than 1e-10 relative with IRLS converged: then both
//! scores vanish, the joint maximum (the one `glm.nb` converges to).
//!
//! Standard errors as MASS's `summary.glm.nb`: those of beta from IRLS at the final theta (the
//! inverse of `X'WX` with the Fisher weights `mu theta / (mu + theta)`, the beta block of the
//! inverse expected information, where the cross terms of beta and theta vanish), that of theta
//! (`SE.theta`) `1 / sqrt(i)` with `i` the observed information of theta at the fitted means.

use super::irls::{IrlsControl, IrlsState, Problem};
use crate::core::error::{Error, Result};
use crate::models::family::{Family, NbTheta};
use crate::models::negative_binomial::{theta_ml, theta_terms, ThetaEstimate};

/// The model's name in messages.
const MODEL: &str = "negative binomial (NB2) GLM";

/// Alternations of IRLS and the theta step allowed.
const MAX_ALTERNATIONS: usize = 100;

/// The joint maximum of the NB2 GLM `problem` (whose family's theta is ignored): the family at
/// the estimated theta, the IRLS state there and the estimate of theta with its standard errors.
pub(super) fn fit_nb2(
    problem: &Problem<'_>,
    start: Option<&[f64]>,
    control: &IrlsControl,
) -> Result<(Family, IrlsState, ThetaEstimate)> {
    let (y, w) = (problem.y, problem.w);
    let poisson = Problem {
        family: Family::Poisson,
        ..*problem
    };
    let mut state = poisson.fit(start, control)?;
    let pearson: f64 = rows(y, w, &state.mu)
        .map(|(y, mu, w)| w * (y / mu - 1.0).powi(2))
        .sum();
    let weight: f64 = rows(y, w, &state.mu).map(|(_, _, w)| w).sum();
    let (mut theta, _) = theta_ml(|| rows(y, w, &state.mu), weight / pearson, MODEL)?;
    let mut change = f64::INFINITY;
    for _ in 0..MAX_ALTERNATIONS {
        let family = Family::NegativeBinomial(NbTheta(theta));
        let at_theta = Problem { family, ..*problem };
        state = at_theta.fit(Some(&state.beta), control)?;
        let (next, _) = theta_ml(|| rows(y, w, &state.mu), theta, MODEL)?;
        change = (next / theta).ln().abs();
        if change < 1e-10 && state.converged {
            let information = theta_terms(rows(y, w, &state.mu), theta)[2];
            if information.is_nan() || information <= 0.0 {
                return Err(Error::Numerical {
                    what: format!("the standard error of theta in the {MODEL}"),
                    message: format!("the information of theta is {information}, not positive"),
                });
            }
            let se = information.sqrt().recip();
            let estimate = ThetaEstimate {
                theta,
                se,
                se_log_theta: se / theta,
            };
            return Ok((family, state, estimate));
        }
        theta = next;
    }
    Err(Error::NotConverged {
        what: format!("the alternation of IRLS and theta of the {MODEL}"),
        iterations: MAX_ALTERNATIONS,
        criterion: change,
    })
}

/// The rows `(y, mu, w)` with positive weight.
fn rows<'a>(
    y: &'a [f64],
    w: &'a [f64],
    mu: &'a [f64],
) -> impl Iterator<Item = (f64, f64, f64)> + 'a {
    (0..y.len())
        .filter(move |&i| w[i] > 0.0)
        .map(move |i| (y[i], mu[i], w[i]))
}
