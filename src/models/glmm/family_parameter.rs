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
//! With `t = log k` (k the shape or theta), the approximate integrated log-likelihood
//! `l(beta, theta, t)` (Laplace or quadrature, as for the other families, at the patterns and
//! family of `k = e^t`) is maximised jointly over `(beta, theta, t)` by the models' one Newton
//! optimiser (`newton::maximise`, its convergence criteria and settings those of every fit),
//! from the GLM's `t` and the (beta, theta) start of the other families. The gradient over
//! (beta, theta) is the likelihood's exact one at `k`; the derivative in `t` at fixed
//! (beta, theta) is the five-point central difference
//!
//! `dl/dt = [8 (l(t + h) - l(t - h)) - (l(t + 2h) - l(t - 2h))] / (12 h)`, `h = 1e-3`,
//!
//! (each `l` with the conditional modes found again at its k; truncation error of order
//! `h^4 l^(5) / 30`, below 1e-10 here). At the joint maximum this derivative vanishes with the
//! (beta, theta) gradient, so `t` is the maximum of the profile `max_{beta, theta} l`. The
//! Newton steps use the fixed-effects information block with the other columns differenced; the
//! Hessian reported over `(beta, theta, t)`, from which the standard errors come, is the
//! optimiser's central differences of this gradient.
//!
//! `t` is confined to a range around the GLM's value (`FamilyParameter::bracket`): a trial step
//! beyond it is refused (the line search halves it). A maximum within 0.001 of an end is an
//! error, and so is a maximisation that stops without a negative-definite Hessian (the
//! likelihood still rising, by less than rounding, towards an end) where the (beta, theta)
//! maximum at that end of the range is at least as high: for NB2 at the upper end (and for
//! theta beyond `theta_limit`) the Poisson limit.

use nalgebra::DMatrix;

use super::likelihood::Likelihood;
use super::patterns::Patterns;
use super::{LikelihoodObjective, Session, FULL_HESSIAN_BUDGET, SETTINGS};
use crate::core::error::{Error, Result};
use crate::models::glm::Family;
use crate::models::negative_binomial::{poisson_limit, theta_limit, CountSums, NbTheta};
use crate::models::newton::{maximise, Maximum, Objective};

/// Step in `log k` of the five-point derivative.
const LOG_STEP: f64 = 1e-3;

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
        let family = self.set(family, base, k, &mut p);
        (family, p)
    }

    /// `to` (a copy of `base`) moved to the parameter value `k`: its weights (the gamma family's
    /// `w k`) and constant; returns the family at `k`.
    fn set(&self, family: Family, base: &Patterns, k: f64, to: &mut Patterns) -> Family {
        match self {
            FamilyParameter::GammaShape(sums) => {
                to.m.iter_mut().zip(&base.m).for_each(|(m, w)| *m = w * k);
                to.constant = sums.weight * (k * k.ln() - statrs::function::gamma::ln_gamma(k))
                    + (k - 1.0) * sums.weighted_log_y;
                family
            }
            FamilyParameter::NbTheta(counts) => {
                to.constant = counts.constant(k);
                Family::NegativeBinomial(NbTheta(k))
            }
        }
    }

    /// How far below and above the start the range of the log parameter goes: the mixed
    /// model's theta exceeds the GLM's (the random effects take up overdispersion).
    fn bracket(&self) -> (f64, f64) {
        match self {
            FamilyParameter::GammaShape(_) => (3.0, 3.0),
            FamilyParameter::NbTheta(_) => (3.0, 7.0),
        }
    }

    /// The error of a maximum at an end of the range (`upper` for the upper end, at `value`,
    /// after `iterations` with the derivative in log k `criterion`): for NB2 at the upper end
    /// the Poisson limit.
    fn at_end(&self, upper: bool, value: f64, iterations: usize, criterion: f64) -> Error {
        match self {
            FamilyParameter::NbTheta(_) if upper => poisson_limit("NB2 mixed model", value),
            FamilyParameter::GammaShape(_) => Error::NotConverged {
                what: "the gamma shape of the mixed model (at the end of its search range)".into(),
                iterations,
                criterion,
            },
            FamilyParameter::NbTheta(_) => Error::NotConverged {
                what: "theta of the NB2 mixed model (at the lower end of its search range)".into(),
                iterations,
                criterion,
            },
        }
    }
}

/// The approximate integrated log-likelihood over `(beta, theta, log k)`, with the conditional
/// modes of the last evaluation kept as the start of the next mode searches.
struct JointObjective<'a> {
    /// The likelihood with the base patterns (prior weights not scaled by k).
    base: &'a Likelihood<'a>,
    parameter: &'a FamilyParameter,
    nested: bool,
    /// The patterns at the current k, and the family there.
    patterns: Patterns,
    family: Family,
    /// The log k the patterns are at.
    log_k: f64,
    modes: Vec<f64>,
    /// The range of log k.
    range: (f64, f64),
    /// Whether the last evaluation was refused for a log k beyond the upper (`Some(true)`) or
    /// lower end of the range.
    beyond: Option<bool>,
}

impl<'a> JointObjective<'a> {
    fn new(
        base: &'a Likelihood<'a>,
        parameter: &'a FamilyParameter,
        nested: bool,
        range: (f64, f64),
    ) -> Self {
        JointObjective {
            base,
            parameter,
            nested,
            patterns: base.patterns.clone(),
            family: base.family,
            log_k: f64::NAN,
            modes: vec![0.0; base.patterns.n_groups() * base.structure.q],
            range,
            beyond: None,
        }
    }

    /// The patterns and family moved to `log_k`.
    fn move_to(&mut self, log_k: f64) {
        if log_k != self.log_k {
            let base = self.base;
            self.family =
                self.parameter
                    .set(base.family, base.patterns, log_k.exp(), &mut self.patterns);
            self.log_k = log_k;
        }
    }

    /// `f` of the (beta, theta) objective at `log_k`, which starts from the modes kept and
    /// leaves its modes to be kept.
    fn with_objective<R>(
        &mut self,
        log_k: f64,
        f: impl FnOnce(&mut LikelihoodObjective<'_>) -> R,
    ) -> R {
        self.move_to(log_k);
        let likelihood = Likelihood {
            family: self.family,
            patterns: &self.patterns,
            ..*self.base
        };
        let mut objective = LikelihoodObjective::new(&likelihood, self.nested);
        std::mem::swap(&mut objective.modes, &mut self.modes);
        let found = f(&mut objective);
        std::mem::swap(&mut objective.modes, &mut self.modes);
        found
    }

    /// The log-likelihood (and its gradient over `phi = (beta, theta)`) at `(phi, log_k)`.
    fn at(&mut self, phi: &[f64], log_k: f64, gradient: bool) -> Result<(f64, Vec<f64>)> {
        self.with_objective(log_k, |objective| objective.value(phi, gradient))
    }
}

impl Objective for JointObjective<'_> {
    fn value(&mut self, params: &[f64], gradient: bool) -> Result<(f64, Vec<f64>)> {
        let (phi, log_k) = params.split_at(params.len() - 1);
        let log_k = log_k[0];
        self.beyond = None;
        let (low, high) = self.range;
        if !(low..=high).contains(&log_k) {
            self.beyond = Some(log_k > high);
            return Err(Error::Numerical {
                what: "the log parameter of the family".into(),
                message: format!("{log_k} is outside its range [{low}, {high}]"),
            });
        }
        if !gradient {
            return self.at(phi, log_k, false);
        }
        // The derivative in log k first, so that the modes are left at log k.
        let mut ends = [0.0; 4];
        for (end, step) in ends.iter_mut().zip([1.0, 2.0, -1.0, -2.0]) {
            *end = self.at(phi, log_k + step * LOG_STEP, false)?.0;
        }
        let derivative = (8.0 * (ends[0] - ends[2]) - (ends[1] - ends[3])) / (12.0 * LOG_STEP);
        let (value, mut grad) = self.at(phi, log_k, true)?;
        grad.push(derivative);
        Ok((value, grad))
    }

    fn leading_information(&mut self, params: &[f64]) -> Option<DMatrix<f64>> {
        let (phi, log_k) = params.split_at(params.len() - 1);
        self.with_objective(log_k[0], |objective| objective.leading_information(phi))
    }

    fn full_hessian_affordable(&self) -> bool {
        let n_params = self.patterns.p + self.base.structure.len() + 1;
        self.patterns.len() * n_params < FULL_HESSIAN_BUDGET
    }
}

/// The maximum over (beta, theta) at `log_k`, from `start`: the profile log-likelihood there.
fn profile_at(
    session: &Session<'_>,
    parameter: &FamilyParameter,
    log_k: f64,
    start: Vec<f64>,
) -> Result<Maximum> {
    let base = session.objective.likelihood;
    let (family, patterns) = parameter.at(base.family, base.patterns, log_k.exp());
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
    let base = session.objective.likelihood;
    let centre = start_value.max(1e-3).ln();
    let (below, above) = parameter.bracket();
    let range = (centre - below, centre + above);
    let mut objective = JointObjective::new(base, parameter, session.random.nested, range);
    let mut start = session.start.clone();
    start.push(centre);
    let joint = match maximise(&mut objective, start, SETTINGS) {
        Ok(joint) => joint,
        // Refused at an end of the range where the maximisation could not go on.
        Err(_) if objective.beyond.is_some() => {
            let upper = objective.beyond == Some(true);
            let end = if upper { range.1 } else { range.0 };
            return Err(parameter.at_end(upper, end.exp(), 0, 0.0));
        }
        Err(e) => return Err(e),
    };
    let n = joint.params.len() - 1;
    let log_k = joint.params[n];
    // Where the likelihood keeps rising towards an end of the range (NB2 counts without
    // overdispersion: theta -> infinity), Newton's method stalls where its changes are below
    // rounding, with no negative-definite Hessian: the maximum is then at that end if the fit
    // there is at least as good.
    let resolved = joint.converged && (-&joint.hessian).cholesky().is_some();
    if !resolved {
        let upper = log_k > centre;
        let end = if upper { range.1 } else { range.0 };
        let there = profile_at(session, parameter, end, joint.params[..n].to_vec())?;
        if there.loglik >= joint.loglik - 1e-9 * joint.loglik.abs().max(1.0) {
            return Err(parameter.at_end(
                upper,
                end.exp(),
                joint.iterations,
                joint.gradient[n].abs(),
            ));
        }
    }
    if log_k <= range.0 + 0.001 || log_k >= range.1 - 0.001 {
        let upper = log_k > centre;
        return Err(parameter.at_end(
            upper,
            log_k.exp(),
            joint.iterations,
            joint.gradient[n].abs(),
        ));
    }
    let value = log_k.exp();
    if let FamilyParameter::NbTheta(counts) = parameter {
        let limit = theta_limit(counts.largest());
        if value > limit {
            return Err(poisson_limit("NB2 mixed model", limit));
        }
    }
    let best = Maximum {
        start: joint.start[..n].to_vec(),
        settings: joint.settings,
        params: joint.params[..n].to_vec(),
        loglik: joint.loglik,
        gradient: joint.gradient[..n].to_vec(),
        hessian: joint.hessian.view((0, 0), (n, n)).into_owned(),
        free: (0..n).collect(),
        iterations: joint.iterations,
        converged: joint.converged,
        log: joint.log,
    };
    let (family, patterns) = parameter.at(base.family, base.patterns, value);
    Ok(ParameterMaximum {
        best,
        value,
        hessian: joint.hessian,
        family,
        patterns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Cohort, LoadOptions};
    use crate::models::glmm::Glmm;

    /// The gamma mixed model of the glmmTMB reference test (costs in 12 clusters).
    fn costs() -> (Cohort, Glmm) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/reference/data/cost/costs_a.csv"
        );
        let cohort = Cohort::from_csv_path(path, &LoadOptions::default()).unwrap();
        let model = Glmm::new("cost ~ treated + factor(period) + age + (1 | cluster)")
            .unwrap()
            .family(Family::Gamma);
        (cohort, model)
    }

    /// The profile log-likelihood at `log_k`, from `start`.
    fn profile(
        session: &Session<'_>,
        parameter: &FamilyParameter,
        log_k: f64,
        start: &[f64],
    ) -> f64 {
        let found = profile_at(session, parameter, log_k, start.to_vec()).unwrap();
        assert!(found.converged);
        found.loglik
    }

    #[test]
    fn the_joint_maximum_is_the_maximum_of_the_profile_over_log_shape() {
        let (cohort, model) = costs();
        model
            .with_session(&cohort, |session| {
                let (parameter, start) = session.parameter.take().unwrap();
                let found = maximise_parameter(session, &parameter, start).unwrap();
                assert!(found.best.converged);
                let log_k = found.value.ln();
                let n = found.best.params.len();
                // The derivative in log k at the maximum, as the optimiser sees it, and by a
                // wider central difference of the log-likelihood at fixed (beta, theta).
                let base = session.objective.likelihood;
                let mut objective = JointObjective::new(
                    base,
                    &parameter,
                    session.random.nested,
                    (log_k - 1.0, log_k + 1.0),
                );
                let mut at = found.best.params.clone();
                at.push(log_k);
                let (loglik, gradient) = objective.value(&at, true).unwrap();
                assert!((loglik - found.best.loglik).abs() < 1e-9);
                assert!(gradient[n].abs() < 1e-6, "d/dlog k = {:e}", gradient[n]);
                let h = 1e-2;
                let wide = (objective
                    .at(&found.best.params, log_k + h, false)
                    .unwrap()
                    .0
                    - objective
                        .at(&found.best.params, log_k - h, false)
                        .unwrap()
                        .0)
                    / (2.0 * h);
                // Its error is h^2 l^(3) / 6, with l^(3) of the order of the rows (1,862).
                assert!(wide.abs() < h * h * 2000.0, "wide {wide:e}");
                // The profile, (beta, theta) refitted, is lower on either side.
                let here = profile(session, &parameter, log_k, &found.best.params);
                assert!((here - found.best.loglik).abs() < 1e-8);
                let delta = 1e-3;
                let up = profile(session, &parameter, log_k + delta, &found.best.params);
                let down = profile(session, &parameter, log_k - delta, &found.best.params);
                assert!(up <= here && down <= here, "{down} {here} {up}");
                // The vertex of the parabola through the three profile values is log k.
                let vertex = log_k - delta * (up - down) / (2.0 * (up - 2.0 * here + down));
                assert!((vertex - log_k).abs() < 1e-5, "{vertex} {log_k}");
                println!(
                    "log k {log_k}, d/dlog k {:e}, wide {wide:e}, vertex - log k {:e}",
                    gradient[n],
                    vertex - log_k
                );
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_start_far_from_the_maximum_is_refused_at_the_end_of_the_range() {
        let (cohort, model) = costs();
        model
            .with_session(&cohort, |session| {
                let (parameter, start) = session.parameter.take().unwrap();
                // The shape is near 1.86: from 1e-3 the range ends at 1e-3 e^3 = 0.02.
                let err = maximise_parameter(session, &parameter, 1e-3)
                    .err()
                    .expect("the maximum is beyond the range");
                assert!(err.to_string().contains("end of its search range"), "{err}");
                assert!(maximise_parameter(session, &parameter, start).is_ok());
                Ok(())
            })
            .unwrap();
    }
}
