//! Profile-likelihood intervals for one parameter of a GLMM.
//!
//! With `l^` the maximum log-likelihood and `l_p(v)` the maximum over all other parameters with
//! the profiled one held at v, the signed root deviance `zeta(v) = sign(v - v^) sqrt(2 (l^ - l_p(v)))`
//! is close to linear in v. The interval ends where `zeta = -/+ z`, `z^2 = chi2_{1, level}`: found
//! on each side by bracketing and then the secant method on zeta with bisection as a safeguard
//! (Illinois variant), to `|dv| <= 1e-6 (1 + |v|)`. For a standard deviation the lower end is 0
//! when the profile at 0 stays within the bound.

use super::boundary::FixedParams;
use super::{GlmmFit, LikelihoodObjective, SETTINGS};
use crate::core::dist::normal_quantile;
use crate::core::error::{Error, Result};
use crate::models::newton::{maximise, Maximum};

/// A profile-likelihood confidence interval.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProfileInterval {
    /// The parameter, as named in the request.
    pub parameter: String,
    /// Maximum-likelihood estimate.
    pub estimate: f64,
    /// Lower limit.
    pub ci_low: f64,
    /// Upper limit.
    pub ci_high: f64,
    /// Confidence level.
    pub level: f64,
}

/// Most bracketing expansions and secant steps per side.
const MAX_STEPS: usize = 40;

impl GlmmFit {
    /// Index into (beta, theta) of a named parameter, and whether it is an SD (bounded by 0).
    fn parameter_index(&self, parameter: &str) -> Result<(usize, bool)> {
        let (names, random) = (&self.state.frame.names, &self.state.random);
        if let Some(j) = names.iter().position(|n| n == parameter) {
            return Ok((j, false));
        }
        let inner = parameter
            .strip_prefix("sd(")
            .and_then(|r| r.strip_suffix(')'));
        let p = names.len();
        for (t, name) in random.theta_names.iter().enumerate() {
            let Some((group, term)) = name else { continue };
            let long = format!("{term}|{group}");
            let matches = inner == Some(long.as_str())
                || (term == "(Intercept)" && inner == Some(group.as_str()));
            if matches && random.structure.is_sd(t) && (random.nested || random.structure.q == 1) {
                return Ok((p + t, true));
            }
        }
        let mut known: Vec<String> = names.clone();
        known.extend(random.theta_names.iter().flatten().map(|(g, t)| {
            if t == "(Intercept)" {
                format!("sd({g})")
            } else {
                format!("sd({t}|{g})")
            }
        }));
        Err(Error::unknown_term("profile", parameter, &known))
    }

    /// Profile-likelihood interval for one parameter of the fit: a fixed-effect term
    /// (`"treated"`) or a random-effect SD (`"sd(cluster)"`, `"sd(cluster:period)"`,
    /// `"sd(treated|cluster)"` for a scalar slope). The interval holds the values v whose profile
    /// log-likelihood (maximised over all other parameters with this one held at v) is within
    /// `chi2_{1, level} / 2` of the maximum, as lme4's `confint(method = "profile")`. An SD whose
    /// profile stays above that at 0 has lower limit 0. Each profile point is maximised from the
    /// last, the first from the fit's estimate and conditional modes.
    pub fn profile_interval(&self, parameter: &str) -> Result<ProfileInterval> {
        let (k, is_sd) = self.parameter_index(parameter)?;
        let state = &self.state;
        let best = &state.maximum;
        let likelihood = state.likelihood();
        let mut objective = LikelihoodObjective::new(&likelihood, state.random.nested);
        objective.modes.copy_from_slice(&state.modes);
        // The likelihood is even in an SD's theta: profile it on |theta|.
        let estimate = if is_sd {
            best.params[k].abs()
        } else {
            best.params[k]
        };
        let z = normal_quantile(1.0 - (1.0 - self.level) / 2.0);
        let se = standard_error(best, k).unwrap_or(0.1 * estimate.abs().max(0.1));
        let mut profile = Profile {
            objective: &mut objective,
            best,
            k,
            centre: estimate,
            warm: best.params.clone(),
        };
        let low = if is_sd {
            // The profile is even in theta: look between 0 and the estimate.
            let at_zero = profile.zeta(0.0)?;
            if at_zero.abs() <= z {
                0.0
            } else {
                profile.root(
                    estimate,
                    -z,
                    (estimate - z * se).max(estimate / 2.0),
                    Some(0.0),
                )?
            }
        } else {
            profile.root(estimate, -z, estimate - z * se, None)?
        };
        profile.warm = best.params.clone();
        if is_sd {
            profile.warm[k] = estimate;
        }
        let high = profile.root(estimate, z, estimate + z * se, None)?;
        Ok(ProfileInterval {
            parameter: parameter.to_string(),
            estimate,
            ci_low: low,
            ci_high: high,
            level: self.level,
        })
    }
}

/// `sqrt` of the diagonal entry of the inverse information for parameter `k` (if it is free).
fn standard_error(best: &Maximum, k: usize) -> Option<f64> {
    let position = best.free.iter().position(|&f| f == k)?;
    let inverse = (-best.hessian.clone()).try_inverse()?;
    let v = inverse[(position, position)];
    (v > 0.0).then(|| v.sqrt())
}

struct Profile<'s, 'a> {
    objective: &'s mut LikelihoodObjective<'a>,
    best: &'s Maximum,
    k: usize,
    /// The estimate on the profiled scale.
    centre: f64,
    /// Start of the next inner maximisation (the last profile point).
    warm: Vec<f64>,
}

impl Profile<'_, '_> {
    /// Signed root deviance at `value`.
    fn zeta(&mut self, value: f64) -> Result<f64> {
        let k = self.k;
        let free: Vec<usize> = (0..self.best.params.len()).filter(|&j| j != k).collect();
        let mut template = self.warm.clone();
        template[k] = value;
        let mut fixed = FixedParams {
            inner: &mut *self.objective,
            free: free.clone(),
            template,
        };
        let start: Vec<f64> = free.iter().map(|&j| self.warm[j]).collect();
        let at = maximise(&mut fixed, start, SETTINGS)?;
        self.warm = fixed.expand(&at.params);
        let drop = (self.best.loglik - at.loglik).max(0.0);
        let sign = if value < self.centre { -1.0 } else { 1.0 };
        Ok(sign * (2.0 * drop).sqrt())
    }

    /// The value where zeta equals `target`, starting from a first guess; `floor` bounds the
    /// search from below (0 for an SD).
    fn root(&mut self, estimate: f64, target: f64, guess: f64, floor: Option<f64>) -> Result<f64> {
        let bound = |v: f64| floor.map_or(v, |f| v.max(f));
        // Bracket: (inside, zeta inside) with |zeta| < |target| and (outside, zeta) beyond it.
        let (mut a, mut fa) = (estimate, 0.0 - target);
        let mut b = bound(guess);
        let mut fb = self.zeta(b)? - target;
        let mut step = guess - estimate;
        let mut expansions = 0;
        while fb.signum() == fa.signum() {
            expansions += 1;
            if expansions > MAX_STEPS {
                return Err(Error::NotConverged {
                    what:
                        "the profile interval (the profile log-likelihood stays within the bound)"
                            .into(),
                    iterations: MAX_STEPS,
                    criterion: fb.abs(),
                });
            }
            a = b;
            fa = fb;
            step *= 2.0;
            b = bound(estimate + step);
            fb = self.zeta(b)? - target;
        }
        // Illinois regula falsi on [a, b].
        let mut side = 0;
        for _ in 0..MAX_STEPS {
            let c = (a * fb - b * fa) / (fb - fa);
            let fc = self.zeta(c)? - target;
            if (c - b).abs() <= 1e-6 * (1.0 + c.abs()) || fc == 0.0 {
                return Ok(c);
            }
            if fc.signum() == fb.signum() {
                b = c;
                fb = fc;
                if side == -1 {
                    fa /= 2.0;
                }
                side = -1;
            } else {
                a = b;
                fa = fb;
                b = c;
                fb = fc;
                side = 1;
            }
        }
        Err(Error::NotConverged {
            what: "the profile interval".into(),
            iterations: MAX_STEPS,
            criterion: fb.abs(),
        })
    }
}
