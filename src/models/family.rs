//! Families and link functions of generalized linear models.
//!
//! A GLM says `g(E[y]) = eta = X beta + offset` with `Var(y) = phi V(mu) / w` for prior weights
//! `w`. The family fixes the variance function `V` and the dispersion `phi`, the link `g` maps the
//! mean to the linear predictor:
//!
//! | family   | V(mu)        | phi       | links                          |
//! |----------|--------------|-----------|--------------------------------|
//! | binomial | mu (1 - mu)  | 1         | logit, log, identity, cloglog |
//! | poisson  | mu           | 1         | log                            |
//! | gaussian | 1            | estimated | identity                       |
//! | gamma    | mu^2         | estimated | log (default), identity        |
//! | nbinom2  | mu + mu^2/theta | 1      | log                            |
//!
//! The negative binomial NB2 (`nbinom2`, see [`crate::models::negative_binomial`]) carries its
//! shape theta: estimated by the fit ([`NbTheta::ESTIMATED`] in a specification), every
//! function of the family below is at that theta.
//!
//! Inverse links are clamped the way R clamps them (`logit` to `[eps, 1 - eps]` beyond
//! `|eta| > 30`, derivatives at least `eps`; exponentials are taken of at most 700), so extreme
//! linear predictors never give NaN or infinity.

use crate::core::error::{Error, Result};
pub use crate::models::negative_binomial::NbTheta;
use crate::models::negative_binomial::{kernel, row_constant};

const EPS: f64 = f64::EPSILON;
/// Largest linear predictor exponentiated (exp(700) is about 1e304, still finite).
const MAX_LOG_ETA: f64 = 700.0;

/// Distribution family of the response.
///
/// Serialised by its R name (`"binomial"`, ..., `"nbinom2"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Binary (0/1) or binomial counts (`cbind(successes, failures)`).
    Binomial,
    /// Counts.
    Poisson,
    /// Normal errors (linear regression).
    Gaussian,
    /// Positive, right-skewed outcomes with a constant coefficient of variation (costs). The
    /// default link is log (R's default for `Gamma` is the inverse link; give
    /// `Gamma(link = "log")` there).
    Gamma,
    /// Overdispersed counts (readmissions, contacts): the negative binomial NB2 with variance
    /// `mu + mu^2 / theta` and log link, theta estimated with the coefficients (R's
    /// `MASS::glm.nb`, glmmTMB's `nbinom2`). Written `Family::NegativeBinomial(NbTheta::ESTIMATED)`
    /// or `"nbinom2".parse()`.
    NegativeBinomial(NbTheta),
}

impl serde::Serialize for Family {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(name_of(&FAMILY_NAMES, self))
    }
}

impl<'de> serde::Deserialize<'de> for Family {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// Link function `g`, with `eta = g(mu)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Link {
    /// `log(mu / (1 - mu))`: coefficients are log odds ratios.
    Logit,
    /// `log(mu)`: coefficients are log relative risks (log rate ratios).
    Log,
    /// `mu`: coefficients are risk (or mean) differences.
    Identity,
    /// `log(-log(1 - mu))`: coefficients are log hazard ratios of a grouped-time model.
    Cloglog,
}

/// The families by the names R gives them (the first name of each is the printed one; `Gamma`
/// is R's spelling of `gamma`).
const FAMILY_NAMES: [(&str, Family); 6] = [
    ("binomial", Family::Binomial),
    ("poisson", Family::Poisson),
    ("gaussian", Family::Gaussian),
    ("gamma", Family::Gamma),
    ("Gamma", Family::Gamma),
    ("nbinom2", Family::NegativeBinomial(NbTheta::ESTIMATED)),
];

/// The links by their R names.
const LINK_NAMES: [(&str, Link); 4] = [
    ("logit", Link::Logit),
    ("log", Link::Log),
    ("identity", Link::Identity),
    ("cloglog", Link::Cloglog),
];

/// The first name of `value` in `names`.
fn name_of<T: PartialEq>(names: &[(&'static str, T)], value: &T) -> &'static str {
    names
        .iter()
        .find(|(_, v)| v == value)
        .map_or("", |(name, _)| name)
}

/// The value named `s` in `names`, or an error on `argument` listing the lower-case names.
fn parse_named<T: Copy>(s: &str, argument: &str, names: &[(&str, T)]) -> Result<T> {
    names
        .iter()
        .find(|(name, _)| *name == s)
        .map(|(_, value)| *value)
        .ok_or_else(|| {
            let known: Vec<&str> = names
                .iter()
                .map(|(name, _)| *name)
                .filter(|name| name.starts_with(|c: char| c.is_ascii_lowercase()))
                .collect();
            Error::invalid(
                argument,
                format!("'{s}' is not one of {}", known.join(", ")),
            )
        })
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(name_of(&FAMILY_NAMES, self))
    }
}

impl std::fmt::Display for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(name_of(&LINK_NAMES, self))
    }
}

impl std::str::FromStr for Family {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        parse_named(s, "family", &FAMILY_NAMES)
    }
}

impl std::str::FromStr for Link {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        parse_named(s, "link", &LINK_NAMES)
    }
}

impl Family {
    /// The default link: logit, log, identity, log (gamma, nbinom2).
    pub fn default_link(self) -> Link {
        match self {
            Family::Binomial => Link::Logit,
            Family::Poisson | Family::Gamma | Family::NegativeBinomial(_) => Link::Log,
            Family::Gaussian => Link::Identity,
        }
    }

    /// The link to use: `link` if given (checked against the family), else the canonical one.
    pub fn resolve_link(self, link: Option<Link>) -> Result<Link> {
        let link = link.unwrap_or_else(|| self.default_link());
        self.check_link(link)?;
        Ok(link)
    }

    /// Whether `link` is supported for this family.
    pub fn check_link(self, link: Link) -> Result<()> {
        let ok = match self {
            Family::Binomial => true,
            Family::Poisson | Family::NegativeBinomial(_) => link == Link::Log,
            Family::Gaussian => link == Link::Identity,
            Family::Gamma => matches!(link, Link::Log | Link::Identity),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::invalid(
                "link",
                format!("the {self} family supports no {link} link here"),
            ))
        }
    }

    /// Variance function `V(mu)`.
    pub fn variance(self, mu: f64) -> f64 {
        match self {
            Family::Binomial => mu * (1.0 - mu),
            Family::Poisson => mu,
            Family::Gaussian => 1.0,
            Family::Gamma => mu * mu,
            Family::NegativeBinomial(NbTheta(theta)) => mu + mu * mu / theta,
        }
    }

    /// Whether the dispersion is fixed at 1.
    pub fn fixed_dispersion(self) -> bool {
        matches!(
            self,
            Family::Binomial | Family::Poisson | Family::NegativeBinomial(_)
        )
    }

    /// The NB2 shape theta of a negative binomial family (NaN before it is estimated).
    pub fn nb_theta(self) -> Option<f64> {
        match self {
            Family::NegativeBinomial(NbTheta(theta)) => Some(theta),
            _ => None,
        }
    }

    /// Parameters of the distribution estimated besides the coefficients: the variance
    /// (Gaussian), the shape (gamma) or theta (nbinom2).
    pub fn extra_parameters(self) -> usize {
        match self {
            Family::Binomial | Family::Poisson => 0,
            Family::Gaussian | Family::Gamma | Family::NegativeBinomial(_) => 1,
        }
    }

    /// Whether `mu` is inside the family's mean space.
    pub fn valid_mu(self, mu: f64) -> bool {
        match self {
            Family::Binomial => mu.is_finite() && mu > 0.0 && mu < 1.0,
            Family::Poisson | Family::Gamma | Family::NegativeBinomial(_) => {
                mu.is_finite() && mu > 0.0
            }
            Family::Gaussian => mu.is_finite(),
        }
    }

    /// Starting mean for IRLS (R's `initialize`): `(w y + 1/2) / (w + 1)` for binomial with
    /// prior weight (trials) `w`, `y + 1/10` for Poisson, `y + (y == 0) / 6` for nbinom2
    /// (MASS's `negative.binomial`), `y` for Gaussian and gamma.
    pub fn start_mu(self, y: f64, w: f64) -> f64 {
        match self {
            Family::Binomial => (w * y + 0.5) / (w + 1.0),
            Family::Poisson => y + 0.1,
            Family::NegativeBinomial(_) => y + if y == 0.0 { 1.0 / 6.0 } else { 0.0 },
            Family::Gaussian | Family::Gamma => y,
        }
    }

    /// Unit deviance `d(y, mu)` times the prior weight `w`:
    /// binomial `2 w [y log(y/mu) + (1-y) log((1-y)/(1-mu))]`, Poisson
    /// `2 w [y log(y/mu) - (y - mu)]`, Gaussian `w (y - mu)^2`, gamma
    /// `2 w [-log(y/mu) + (y - mu)/mu]`, nbinom2
    /// `2 w [y log(y/mu) - (y + theta) log((y + theta)/(mu + theta))]`.
    pub fn deviance(self, y: f64, mu: f64, w: f64) -> f64 {
        match self {
            Family::Binomial => {
                2.0 * w * (xlogy(y, y / mu) + xlogy(1.0 - y, (1.0 - y) / (1.0 - mu)))
            }
            Family::Poisson => 2.0 * w * (xlogy(y, y / mu) - (y - mu)),
            Family::Gaussian => w * (y - mu) * (y - mu),
            Family::Gamma => 2.0 * w * (-(y / mu).ln() + (y - mu) / mu),
            Family::NegativeBinomial(NbTheta(theta)) => {
                2.0 * w * (xlogy(y, y / mu) - (y + theta) * ((y - mu) / (mu + theta)).ln_1p())
            }
        }
    }

    /// One row's log-likelihood at dispersion 1 (Gaussian: without the variance term, which
    /// [`Family::loglik_total`] adds): [`Family::loglik_kernel`] plus
    /// [`Family::loglik_constant`].
    fn loglik_row(self, y: f64, mu: f64, w: f64) -> f64 {
        self.loglik_kernel(y, mu, w) + self.loglik_constant(y, w)
    }

    /// The part of a row's log-likelihood that depends on the mean: binomial
    /// `w [y log mu + (1 - y) log(1 - mu)]`, Poisson `w [y log mu - mu]`, gamma
    /// `w [-y / mu - log mu]` (times the shape, which the caller puts in `w`), nbinom2
    /// `w [theta log(theta / (theta + mu)) + y log(mu / (theta + mu))]`, Gaussian 0 (its
    /// likelihood is handled through the deviance). Rows with the same mean add up: a pattern
    /// of rows has the kernel of its summed weight and weighted mean response.
    pub fn loglik_kernel(self, y: f64, mu: f64, w: f64) -> f64 {
        match self {
            Family::Binomial => w * (xlogy(y, mu) + xlogy(1.0 - y, 1.0 - mu)),
            Family::Poisson => w * (xlogy(y, mu) - mu),
            Family::Gamma => w * (-y / mu - mu.ln()),
            Family::NegativeBinomial(NbTheta(theta)) => w * kernel(y, mu, theta),
            Family::Gaussian => 0.0,
        }
    }

    /// The part of a row's log-likelihood free of the mean: binomial `log C(w, w y)` (zero for a
    /// 0/1 row), Poisson `-w log(y!)`, Gaussian `log(w) / 2`, nbinom2
    /// `w [lgamma(y + theta) - lgamma(theta) - log(y!)]`.
    pub fn loglik_constant(self, y: f64, w: f64) -> f64 {
        match self {
            Family::Binomial => ln_choose(w.round(), (w * y).round()),
            Family::Poisson => -w * statrs::function::gamma::ln_gamma(y + 1.0),
            Family::Gaussian => w.ln() / 2.0,
            Family::Gamma => 0.0,
            Family::NegativeBinomial(NbTheta(theta)) => w * row_constant(y, theta),
        }
    }

    /// Derivative of the variance function, `V'(mu)`.
    pub fn variance_deriv(self, mu: f64) -> f64 {
        match self {
            Family::Binomial => 1.0 - 2.0 * mu,
            Family::Poisson => 1.0,
            Family::Gaussian => 0.0,
            Family::Gamma => 2.0 * mu,
            Family::NegativeBinomial(NbTheta(theta)) => 1.0 + 2.0 * mu / theta,
        }
    }

    /// A row's log-likelihood kernel and its derivatives in the linear predictor `eta`, for
    /// response `y` (a proportion for binomial counts) and prior weight `w`:
    ///
    /// - score `s = w (y - mu) mu' / V`,
    /// - its derivative `s' = w [ -mu'^2 / V + (y - mu) (mu'' V - mu'^2 V') / V^2 ]`,
    /// - Fisher weight `W = w mu'^2 / V` and its derivative `W' = w [2 mu' mu'' / V - mu'^3 V' / V^2]`,
    ///
    /// with `mu' = dmu/deta`, `mu'' = d^2 mu / deta^2`. For canonical links `s' = -W`. For the
    /// gamma family with log link the weight is the observed information `w y / mu` (so that
    /// the mixed model's Laplace approximation is glmmTMB's); for nbinom2 with log link too, the
    /// observed information `w (y + theta) theta mu / (theta + mu)^2`.
    pub fn row_derivatives(self, link: Link, y: f64, w: f64, eta: f64) -> RowDerivatives {
        let (mu, d1, d2) = link.mean_and_derivatives(eta);
        if let (Family::NegativeBinomial(NbTheta(theta)), Link::Log) = (self, link) {
            let tm = theta + mu;
            let weight = w * (y + theta) * theta * mu / (tm * tm);
            return RowDerivatives {
                loglik: self.loglik_kernel(y, mu, w),
                score: w * theta * (y - mu) / tm,
                score_deriv: -weight,
                weight,
                weight_deriv: weight * (theta - mu) / tm,
            };
        }
        if (self, link) == (Family::Gamma, Link::Log) {
            // The observed information `w y / mu` stands in for the Fisher weight `w`: the
            // gamma mixed model's Laplace approximation uses the exact curvature, as glmmTMB's.
            let ratio = y / mu;
            return RowDerivatives {
                loglik: self.loglik_kernel(y, mu, w),
                score: w * (ratio - 1.0),
                score_deriv: -w * ratio,
                weight: w * ratio,
                weight_deriv: -w * ratio,
            };
        }
        let v = self.variance(mu);
        let dv = self.variance_deriv(mu);
        let r = y - mu;
        RowDerivatives {
            loglik: self.loglik_kernel_at(link, y, mu, eta, w),
            score: w * r * d1 / v,
            score_deriv: w * (-d1 * d1 / v + r * (d2 * v - d1 * d1 * dv) / (v * v)),
            weight: w * d1 * d1 / v,
            weight_deriv: w * (2.0 * d1 * d2 / v - d1 * d1 * d1 * dv / (v * v)),
        }
    }

    /// A row's log-likelihood kernel, score and Fisher weight at `eta`, as
    /// [`Family::row_derivatives`] gives them (to rounding) with less work where the link is
    /// canonical: binomial-logit with `|eta| <= 30`, `e = exp(eta)`, `mu = e / (1 + e)`:
    /// kernel `w [y eta - log(1 + e)]`, score `w (y - mu)`, weight `w e / (1 + e)^2`
    /// (one exponential and one logarithm); Poisson-log with `eta <= 700`,
    /// `mu = max(exp(eta), eps)`: `w (y eta - mu)`, `w (y - mu)`, `w mu`. Elsewhere those of
    /// [`Family::row_derivatives`].
    pub fn loglik_score_weight(self, link: Link, y: f64, w: f64, eta: f64) -> (f64, f64, f64) {
        match (self, link) {
            (Family::Binomial, Link::Logit) if eta.abs() <= 30.0 => {
                let e = eta.exp();
                let mu = e / (1.0 + e);
                (
                    w * (y * eta - e.ln_1p()),
                    w * (y - mu),
                    w * e / ((1.0 + e) * (1.0 + e)),
                )
            }
            (Family::Poisson, Link::Log) if eta <= MAX_LOG_ETA => {
                let mu = eta.exp().max(EPS);
                (w * (y * eta - mu), w * (y - mu), w * mu)
            }
            _ => {
                let d = self.row_derivatives(link, y, w, eta);
                (d.loglik, d.score, d.weight)
            }
        }
    }

    /// [`Family::loglik_kernel`] at `mu = g^{-1}(eta)`, with one logarithm fewer where the link
    /// allows: binomial-logit `w [y eta - log(1 + e^eta)]`, Poisson-log `w [y eta - e^eta]`;
    /// `-inf` for a log-binomial risk of 1 or more (outside the parameter space, also for rows
    /// with `y = 1`, whose kernel alone would not stop it).
    fn loglik_kernel_at(self, link: Link, y: f64, mu: f64, eta: f64, w: f64) -> f64 {
        match (self, link) {
            (Family::Binomial, Link::Logit) if eta.abs() <= 30.0 => {
                let softplus = eta.max(0.0) + (-eta.abs()).exp().ln_1p();
                w * (y * eta - softplus)
            }
            (Family::Poisson, Link::Log) if eta <= MAX_LOG_ETA => w * (y * eta - mu),
            // A log-binomial risk must stay below 1 whatever the response.
            (Family::Binomial, Link::Log) if eta >= 0.0 => f64::NEG_INFINITY,
            _ => self.loglik_kernel(y, mu, w),
        }
    }

    /// Log-likelihood of the fitted model, as R's `logLik.glm`. For the Gaussian family the
    /// variance is the ML estimate `deviance / n`:
    /// `-n/2 (log(2 pi dev / n) + 1) + sum(log w) / 2`. For the gamma family, with
    /// `phi = deviance / sum(w)` (as R's `Gamma()$aic`):
    /// `sum_i w_i log f(y_i)`, f the gamma density of shape `1/phi` and scale `mu_i phi`.
    pub fn loglik_total(self, y: &[f64], mu: &[f64], w: &[f64], deviance: f64) -> f64 {
        let rows: f64 = (0..y.len())
            .filter(|&i| w[i] > 0.0)
            .map(|i| self.loglik_row(y[i], mu[i], w[i]))
            .sum();
        match self {
            Family::Gaussian => {
                let n = w.iter().filter(|&&v| v > 0.0).count() as f64;
                rows - n / 2.0 * ((2.0 * std::f64::consts::PI * deviance / n).ln() + 1.0)
            }
            Family::Gamma => {
                let phi = deviance / w.iter().sum::<f64>();
                let shape = 1.0 / phi;
                let log_gamma_shape = statrs::function::gamma::ln_gamma(shape);
                (0..y.len())
                    .filter(|&i| w[i] > 0.0)
                    .map(|i| {
                        let scale = mu[i] * phi;
                        w[i] * (-log_gamma_shape - shape * scale.ln() + (shape - 1.0) * y[i].ln()
                            - y[i] / scale)
                    })
                    .sum()
            }
            _ => rows,
        }
    }
}

/// A row's log-likelihood kernel and its derivatives in `eta` (see [`Family::row_derivatives`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowDerivatives {
    /// Log-likelihood kernel.
    pub loglik: f64,
    /// `d loglik / d eta`.
    pub score: f64,
    /// `d^2 loglik / d eta^2` (observed).
    pub score_deriv: f64,
    /// Fisher (expected) information weight.
    pub weight: f64,
    /// `d weight / d eta`.
    pub weight_deriv: f64,
}

/// `x log(y)` with the conventions `0 log(anything) = 0` and, for `x > 0`, `log(y) = -inf` for
/// `y <= 0` (a mean outside the family's range has likelihood 0).
fn xlogy(x: f64, y: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else if y <= 0.0 {
        f64::NEG_INFINITY
    } else {
        x * y.ln()
    }
}

/// `log(n choose k)` by log-gamma.
fn ln_choose(n: f64, k: f64) -> f64 {
    use statrs::function::gamma::ln_gamma;
    if k <= 0.0 || k >= n {
        return 0.0;
    }
    ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)
}

impl Link {
    /// `g(mu)`.
    pub fn link(self, mu: f64) -> f64 {
        match self {
            Link::Logit => (mu / (1.0 - mu)).ln(),
            Link::Log => mu.ln(),
            Link::Identity => mu,
            Link::Cloglog => (-(1.0 - mu).ln()).ln(),
        }
    }

    /// `g^{-1}(eta)`, clamped as in R.
    pub fn inverse(self, eta: f64) -> f64 {
        self.mean_and_derivatives(eta).0
    }

    /// `d mu / d eta`, at least `eps` for the nonlinear links.
    pub fn mu_eta(self, eta: f64) -> f64 {
        self.mean_and_derivatives(eta).1
    }

    /// `(mu, dmu/deta, d^2 mu/deta^2)` with one exponential, clamped as R clamps them: logit
    /// means to `[eps, 1 - eps]` and derivatives to at least `eps` beyond `|eta| > 30`, log and
    /// cloglog exponentials taken of at most 700.
    pub fn mean_and_derivatives(self, eta: f64) -> (f64, f64, f64) {
        match self {
            Link::Logit => {
                let e = eta.clamp(-30.0, 30.0).exp();
                let mu = (e / (1.0 + e)).clamp(EPS, 1.0 - EPS);
                let d1 = (e / ((1.0 + e) * (1.0 + e))).max(EPS);
                let d2 = if eta.abs() > 30.0 {
                    0.0
                } else {
                    d1 * (1.0 - 2.0 * mu)
                };
                (mu, d1, d2)
            }
            Link::Log => {
                let e = eta.min(MAX_LOG_ETA).exp();
                (e.max(EPS), e.max(EPS), e)
            }
            Link::Identity => (eta, 1.0, 0.0),
            Link::Cloglog => {
                let e = eta.min(MAX_LOG_ETA).exp();
                let survival = (-e).exp();
                let mu = (-(-e).exp_m1()).clamp(EPS, 1.0 - EPS);
                let d1 = (e * survival).max(EPS);
                (mu, d1, e * survival * (1.0 - e))
            }
        }
    }

    /// Whether coefficients exponentiate to ratios (odds ratios for logit, relative risks for
    /// log).
    pub fn exponentiates(self) -> bool {
        matches!(self, Link::Logit | Link::Log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_print_and_parse_both_ways() {
        for (name, family) in FAMILY_NAMES {
            assert_eq!(name.parse::<Family>().unwrap(), family);
            assert_eq!(family.to_string(), name.to_lowercase());
        }
        for (name, link) in LINK_NAMES {
            assert_eq!(name.parse::<Link>().unwrap(), link);
            assert_eq!(link.to_string(), name);
        }
        let err = "binomal".parse::<Family>().unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid argument 'family': 'binomal' is not one of binomial, poisson, gaussian, gamma, nbinom2"
        );
        let err = "probit".parse::<Link>().unwrap_err().to_string();
        assert!(
            err.ends_with("'probit' is not one of logit, log, identity, cloglog"),
            "{err}"
        );
    }

    #[test]
    fn links_invert() {
        for link in [Link::Logit, Link::Log, Link::Identity, Link::Cloglog] {
            for mu in [0.05, 0.3, 0.7] {
                let eta = link.link(mu);
                assert!((link.inverse(eta) - mu).abs() < 1e-14, "{link} {mu}");
                let h = 1e-6;
                let numeric = (link.inverse(eta + h) - link.inverse(eta - h)) / (2.0 * h);
                assert!((link.mu_eta(eta) - numeric).abs() < 1e-8, "{link} {mu}");
            }
        }
    }

    #[test]
    fn loglik_score_weight_is_that_of_row_derivatives() {
        let cases = [
            (Family::Binomial, Link::Logit, 0.25, 4.0),
            (Family::Binomial, Link::Logit, 1.0, 1.0),
            (Family::Poisson, Link::Log, 3.0, 2.0),
            (Family::Binomial, Link::Cloglog, 0.0, 1.0),
        ];
        for (family, link, y, w) in cases {
            // Not at large positive eta short of 30: there `row_derivatives` loses digits to
            // `1 - mu` in `V` (the canonical forms have no such difference).
            for eta in [-40.0, -29.5, -3.0, -0.2, 0.0, 0.7, 4.0, 9.0, 35.0] {
                let d = family.row_derivatives(link, y, w, eta);
                let (l, s, wt) = family.loglik_score_weight(link, y, w, eta);
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-10 * a.abs().max(1.0);
                assert!(
                    close(d.loglik, l) && close(d.score, s) && close(d.weight, wt),
                    "{family:?} {link:?} eta {eta}: {d:?} vs ({l}, {s}, {wt})"
                );
            }
        }
    }

    #[test]
    fn row_derivatives_match_finite_differences() {
        let h = 1e-6;
        for (family, link, y, w) in [
            (Family::Binomial, Link::Logit, 1.0, 1.0),
            (Family::Binomial, Link::Log, 0.3, 10.0),
            (Family::Binomial, Link::Cloglog, 0.0, 3.0),
            (Family::Poisson, Link::Log, 4.0, 2.0),
            (Family::NegativeBinomial(NbTheta(1.7)), Link::Log, 3.0, 2.0),
            (Family::NegativeBinomial(NbTheta(0.4)), Link::Log, 0.0, 1.0),
        ] {
            for eta in [-2.1, -0.7, -0.2] {
                let d = |e: f64| family.row_derivatives(link, y, w, e);
                let at = d(eta);
                let fd =
                    |f: fn(&RowDerivatives) -> f64| (f(&d(eta + h)) - f(&d(eta - h))) / (2.0 * h);
                assert!(
                    (at.score - fd(|r| r.loglik)).abs() < 1e-6,
                    "{family} {link} score"
                );
                assert!(
                    (at.score_deriv - fd(|r| r.score)).abs() < 1e-6,
                    "{family} {link} s'"
                );
                assert!(
                    (at.weight_deriv - fd(|r| r.weight)).abs() < 1e-6,
                    "{family} {link} W'"
                );
            }
        }
    }

    #[test]
    fn extreme_eta_gives_no_nan() {
        for link in [Link::Logit, Link::Log, Link::Cloglog] {
            for eta in [-1e308, -800.0, 0.0, 800.0, 1e308] {
                assert!(link.inverse(eta).is_finite() && link.mu_eta(eta).is_finite());
            }
        }
    }

    #[test]
    fn binomial_deviance_is_twice_loglik_difference() {
        let (y, mu) = (1.0, 0.2);
        let d = Family::Binomial.deviance(y, mu, 1.0);
        assert!((d - (-2.0 * 0.2f64.ln())).abs() < 1e-15);
    }
}
