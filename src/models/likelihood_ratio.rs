//! Likelihood-ratio tests of nested models, for any two fits on the [`Fitted`] surface (a
//! mixed model's [`GlmmFit::lrt`](crate::models::glmm::GlmmFit::lrt) is one).
//!
//! `X^2 = 2 (l_larger - l_smaller)` on `df = k_larger - k_smaller` degrees of freedom, `k` the
//! parameters each model estimates, against chi-square (R's `anova(smaller, larger)`). Both fits
//! must have used the same rows, and both log-likelihoods must be full ones
//! ([`LoglikKind::Full`]): REML log-likelihoods of models with different fixed effects are not
//! comparable (refit both by maximum likelihood, as `anova` does), and a GEE has no likelihood.
//! For a variance tested at 0 the chi-square reference is conservative (the null distribution is
//! a 50:50 mixture with a point mass at 0).

use crate::core::dist::chisq_upper;
use crate::core::error::{Error, Result};
use crate::models::fitted::{Fitted, LoglikKind};

/// A likelihood-ratio test of nested models.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LikelihoodRatioTest {
    /// `2 (loglik_larger - loglik_smaller)` (0 if the smaller model's is higher, as it can be
    /// only by the optimiser's tolerance).
    pub statistic: f64,
    /// Difference in the number of parameters.
    pub df: usize,
    /// Upper tail of chi-square on `df`.
    pub p_value: f64,
}

/// One fit's side of a test: log-likelihood, parameters estimated, rows used.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Side {
    pub loglik: f64,
    pub parameters: usize,
    pub n_obs: usize,
}

impl LikelihoodRatioTest {
    /// The test of `smaller` nested in `larger`, or an error (in the argument `smaller`) when
    /// they used different numbers of rows or `smaller` does not have fewer parameters.
    pub(crate) fn of(larger: Side, smaller: Side) -> Result<LikelihoodRatioTest> {
        if smaller.n_obs != larger.n_obs {
            return Err(Error::invalid(
                "smaller",
                format!(
                    "the models were fitted to {} and {} rows; they must use the same rows",
                    smaller.n_obs, larger.n_obs
                ),
            ));
        }
        if smaller.parameters >= larger.parameters {
            return Err(Error::invalid(
                "smaller",
                format!(
                    "it has {} parameters and the larger model {}: pass the smaller model second, \
                     and a model nested in the larger one",
                    smaller.parameters, larger.parameters
                ),
            ));
        }
        let statistic = (2.0 * (larger.loglik - smaller.loglik)).max(0.0);
        let df = larger.parameters - smaller.parameters;
        Ok(LikelihoodRatioTest {
            statistic,
            df,
            p_value: chisq_upper(statistic, df as f64),
        })
    }
}

/// The likelihood-ratio test of `smaller`, a model nested in `larger` and fitted to the same
/// rows, with the parameters counted as the entries of `psi` (fixed effects and covariance
/// parameters; see the [module docs](self)). Errors: a REML or quasi-likelihood fit, fits of
/// different rows, a `smaller` model that does not have fewer parameters.
pub fn likelihood_ratio<A: Fitted, B: Fitted>(
    larger: &A,
    smaller: &B,
) -> Result<LikelihoodRatioTest> {
    for (argument, kind) in [
        ("larger", larger.loglik_kind()),
        ("smaller", smaller.loglik_kind()),
    ] {
        match kind {
            LoglikKind::Full => {}
            LoglikKind::Restricted => {
                return Err(Error::invalid(
                    argument,
                    "is a REML fit, whose log-likelihood depends on the fixed effects' design: \
                     refit both models by maximum likelihood (Lmm::reml(false), swfit --ml) to \
                     compare them, as R's anova() does",
                ))
            }
            LoglikKind::Quasi => {
                return Err(Error::invalid(
                    argument,
                    "is a GEE, which has no likelihood: compare the models by a Wald test",
                ))
            }
        }
    }
    if larger.frame().rows() != smaller.frame().rows() {
        return Err(Error::invalid(
            "smaller",
            format!(
                "the models were fitted to different rows ({} and {}); they must use the same \
                 rows (a variable missing in one model only drops rows from it)",
                larger.n_obs(),
                smaller.n_obs()
            ),
        ));
    }
    let side = |loglik: f64, parameters: usize, n_obs: usize| Side {
        loglik,
        parameters,
        n_obs,
    };
    LikelihoodRatioTest::of(
        side(
            larger.loglik(),
            larger.parameters()?.psi.len(),
            larger.n_obs(),
        ),
        side(
            smaller.loglik(),
            smaller.parameters()?.psi.len(),
            smaller.n_obs(),
        ),
    )
}
