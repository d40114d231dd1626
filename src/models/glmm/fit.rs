//! The fitted mixed model: estimates, variance components, conditional modes, diagnostics and
//! likelihood-ratio tests, assembled from the maximum.

use std::sync::Arc;

use nalgebra::DMatrix;

use super::likelihood::Likelihood;
use super::patterns::Patterns;
use super::quadrature::GaussHermite;
use super::robust::{cluster_scores, sandwich};
use super::{Glmm, LikelihoodObjective};
use crate::core::error::Result;
use crate::core::linalg::spd_inverse;
use crate::frame::counterfactual::FitFrame;
use crate::frame::design::{Design, MissingReport};
use crate::frame::random_effects::RandomSetup;
use crate::models::coef_table::{coef_table, CoefRow};
use crate::models::fitted::find_term;
use crate::models::glm::{Family, Link};
use crate::models::likelihood_ratio::{LikelihoodRatioTest, Side};
use crate::models::newton::{EvaluationRecord, Maximum, OptimisationSummary};
use crate::models::variance_components::{
    canonical_theta, variance_components, RandomEffectCorrelation, RandomEffectSd,
};
use crate::models::vcov::VcovKind;

/// Conditional mode of one random effect of one group, with its conditional SD.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConditionalMode {
    /// Grouping factor, e.g. `cluster` or `cluster:period`.
    pub group: String,
    /// Group label (e.g. `C03`).
    pub level: String,
    /// Term.
    pub term: String,
    /// Conditional mode.
    pub mode: f64,
    /// Conditional standard deviation.
    pub sd: f64,
}

/// A fitted GLMM.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GlmmFit {
    /// The formula as written.
    pub formula: String,
    /// Family.
    pub family: Family,
    /// Link.
    pub link: Link,
    /// Quadrature nodes (1 = Laplace).
    pub nagq: usize,
    /// Rows used.
    pub n_obs: usize,
    /// Covariate patterns the likelihood was computed on.
    pub n_patterns: usize,
    /// Groups per grouping factor, e.g. `{"cluster": 12}`.
    pub n_groups: std::collections::BTreeMap<String, usize>,
    /// Rows dropped for missing values.
    pub missing: MissingReport,
    /// Confidence level of the intervals.
    pub level: f64,
    /// Fixed effects (Wald z intervals).
    pub coefficients: Vec<CoefRow>,
    /// Variance matrix of the fixed effects, row by row.
    pub vcov: Vec<Vec<f64>>,
    /// Random-effect standard deviations.
    pub random_effects: Vec<RandomEffectSd>,
    /// Correlations of random effects within a group.
    pub correlations: Vec<RandomEffectCorrelation>,
    /// Latent-scale intra-cluster correlation `sigma^2 / (sigma^2 + pi^2/3)` for a logistic
    /// random-intercept model.
    pub icc: Option<f64>,
    /// lme4's theta (entries of Lambda, column by column).
    pub theta: Vec<f64>,
    /// Log-likelihood (of the approximation used).
    pub loglik: f64,
    /// `-2 loglik`.
    pub deviance: f64,
    /// Parameters counted in AIC and BIC.
    pub df: usize,
    /// Akaike's information criterion.
    pub aic: f64,
    /// Bayesian information criterion.
    pub bic: f64,
    /// Whether the optimiser met its criterion.
    pub converged: bool,
    /// Largest absolute gradient entry at the estimate.
    pub gradient_max: f64,
    /// Whether a variance is on the boundary (reported as exactly 0).
    pub singular: bool,
    /// Newton iterations.
    pub iterations: usize,
    /// Objective evaluations.
    pub evaluations: usize,
    /// Every evaluation: log-likelihood and largest gradient entry.
    pub log: Vec<EvaluationRecord>,
    /// The maximisation: start, end, settings, iterations, convergence.
    pub optimisation: OptimisationSummary,
    /// Conditional modes of the random effects.
    pub conditional_modes: Vec<ConditionalMode>,
    /// The variance estimator behind `coefficients` and `vcov`.
    pub vcov_kind: VcovKind,
    /// For the gamma family: the dispersion `phi = 1 / shape` (the squared coefficient of
    /// variation; glmmTMB's `sigma` is its square root).
    pub dispersion: Option<f64>,
    /// For the nbinom2 family: theta (glmmTMB's `sigma`) with its standard error and that of
    /// log theta, from the Hessian over (beta, theta, log theta). Refits (bootstrap,
    /// randomisation) keep theta at this estimate.
    pub nb_theta: Option<crate::models::negative_binomial::ThetaEstimate>,
    /// Set when a log-binomial estimate lies on the boundary of the parameter space (a fitted
    /// risk at the conditional modes reaches 1): the message says what that means.
    pub boundary: Option<String>,
    /// All parameters `(beta, theta)` as maximised (theta before the sign convention).
    #[serde(skip)]
    pub(crate) psi: Vec<f64>,
    /// Their variance matrix (of `vcov_kind`), 0 for a variance held on its boundary.
    #[serde(skip)]
    pub(crate) psi_vcov: DMatrix<f64>,
    /// What refits and profiles of the fit start from.
    #[serde(skip)]
    pub(crate) state: Arc<GlmmState>,
}

/// What a fitted GLMM keeps for the analyses of the fit: its likelihood (family, link,
/// quadrature rule, covariate patterns and random-effect setup), the conditional modes and the
/// maximum at the estimate, and the rows it used.
pub(crate) struct GlmmState {
    pub family: Family,
    pub link: Link,
    pub rule: GaussHermite,
    pub patterns: Patterns,
    pub random: RandomSetup,
    /// Spherical conditional modes at the estimate, q per cluster.
    pub modes: Vec<f64>,
    pub maximum: Maximum,
    pub frame: FitFrame,
    /// Whether a large model starts from pilot fits ([`Glmm::pilot`]).
    pub pilot: bool,
    /// Whether the rows were collapsed into covariate patterns ([`Glmm::collapse`]).
    pub collapsed: bool,
    /// The prior-weights column ([`Glmm::weights`]).
    pub weights: Option<String>,
    /// The variance estimator of the fit.
    pub vcov_kind: VcovKind,
}

/// Printed by size only: a fit's debug output need not list its covariate patterns.
impl std::fmt::Debug for GlmmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GlmmState {{ {} patterns, {} groups }}",
            self.patterns.len(),
            self.random.groups.len()
        )
    }
}

impl GlmmState {
    /// The likelihood of the fit.
    pub fn likelihood(&self) -> Likelihood<'_> {
        Likelihood {
            family: self.family,
            link: self.link,
            patterns: &self.patterns,
            rule: &self.rule,
            structure: &self.random.structure,
            labels: &self.random.groups.labels,
        }
    }
}

/// For the log-binomial mixed model: a message when the largest fitted risk at the conditional
/// modes, `exp(x'beta + o + z'u^)`, is within 1e-6 of 1 (the maximum is then on the boundary of
/// the parameter space, where Wald intervals do not apply).
fn log_binomial_boundary(patterns: &Patterns, params: &[f64], modes: &[f64]) -> Option<String> {
    let (p, q) = (patterns.p, patterns.q);
    let mut top = f64::NEG_INFINITY;
    for g in 0..patterns.n_groups() {
        let u = &modes[g * q..(g + 1) * q];
        for k in patterns.group_start[g]..patterns.group_start[g + 1] {
            let zu: f64 = patterns.z_row(k).iter().zip(u).map(|(z, u)| z * u).sum();
            top = top.max(patterns.x_dot(k, &params[..p]) + patterns.offset[k] + zu);
        }
    }
    let risk = top.exp();
    (risk > 1.0 - 1e-6).then(|| {
        format!(
            "the maximum-likelihood estimate is on the boundary of the parameter space: the largest \
             fitted risk (at the conditional modes) is {risk:.8}, and risks must stay below 1. The \
             estimates maximise the likelihood over valid risks, but Wald standard errors do not \
             apply at the boundary; use the Poisson mixed model with the sandwich variance \
             (Glmm::family(Family::Poisson).vcov(VcovKind::Sandwich)) for relative risks"
        )
    })
}

/// The variance matrix of the free parameters at the maximum `best` of `objective` (nested:
/// the nested random-effect structure): the inverse of minus the Hessian, or for a cluster-robust
/// `kind` the sandwich with it as the bread.
pub(crate) fn free_vcov(
    kind: VcovKind,
    objective: &mut LikelihoodObjective<'_>,
    best: &Maximum,
    nested: bool,
) -> Result<DMatrix<f64>> {
    // The modes at the estimate (the last evaluation may have been a trial point).
    objective.evaluate_at(&best.params)?;
    let bread = spd_inverse(
        &(-best.hessian.clone()),
        "the information matrix over (beta, theta)",
    )?;
    if kind == VcovKind::Model {
        return Ok(bread);
    }
    let scores = cluster_scores(
        objective.likelihood,
        nested,
        &best.params,
        &objective.modes,
        &best.free,
    )?;
    Ok(sandwich(&bread, &scores, kind))
}

impl GlmmFit {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn assemble(
        spec: &Glmm,
        link: Link,
        design: &Design,
        random: &RandomSetup,
        objective: &mut LikelihoodObjective<'_>,
        best: Maximum,
        singular: bool,
        df: Option<Vec<f64>>,
        frame: &FitFrame,
    ) -> Result<GlmmFit> {
        let p = design.p();
        let structure = &random.structure;
        let theta = canonical_theta(structure, &best.params[p..]);
        let free_vcov = free_vcov(spec.vcov, objective, &best, random.nested)?;
        // Over all parameters: 0 for those held on the boundary.
        let n_params = best.params.len();
        let mut psi_vcov = DMatrix::zeros(n_params, n_params);
        for (a, &i) in best.free.iter().enumerate() {
            for (b, &j) in best.free.iter().enumerate() {
                psi_vcov[(i, j)] = free_vcov[(a, b)];
            }
        }
        // The fixed effects come first among the free parameters.
        let vcov_beta = psi_vcov.view((0, 0), (p, p)).into_owned();
        let variances: Vec<f64> = (0..p).map(|j| vcov_beta[(j, j)]).collect();
        let mut coefficients = Vec::with_capacity(p);
        for j in 0..p {
            let column_df = df.as_ref().map(|d| d[j]);
            coefficients.extend(coef_table(
                &design.names[j..=j],
                &best.params[j..=j],
                &variances[j..=j],
                column_df,
                spec.level,
                link.exponentiates(),
            )?);
        }
        let lam = structure.lambda(&theta);
        let sigma = &lam * lam.transpose();
        let (random_effects, correlations) = variance_components(random, &theta, &sigma);
        let icc = (!random.nested
            && structure.q == 1
            && random.terms[0] == "(Intercept)"
            && link == Link::Logit)
            .then(|| sigma[(0, 0)] / (sigma[(0, 0)] + std::f64::consts::PI.powi(2) / 3.0));
        let (modes, sds) = objective.conditional_modes(&best.params);
        let boundary = (spec.family == Family::Binomial && link == Link::Log)
            .then(|| log_binomial_boundary(objective.likelihood.patterns, &best.params, &modes))
            .flatten();
        let q = structure.q;
        let conditional_modes = random
            .mode_labels
            .iter()
            .enumerate()
            .flat_map(|(g, labels)| labels.iter().enumerate().map(move |(r, l)| (g * q + r, l)))
            .filter_map(|(k, label)| {
                label.as_ref().map(|(group, level, term)| ConditionalMode {
                    group: group.clone(),
                    level: level.clone(),
                    term: term.clone(),
                    mode: modes[k],
                    sd: sds[k],
                })
            })
            .collect();
        let df = p + structure.len();
        let n_obs = design.missing.rows_used;
        let gradient_max = best.gradient.iter().fold(0.0, |m: f64, g| m.max(g.abs()));
        let likelihood = objective.likelihood;
        let state = GlmmState {
            family: likelihood.family,
            link,
            rule: likelihood.rule.clone(),
            patterns: likelihood.patterns.clone(),
            random: random.clone(),
            modes: objective.modes.clone(),
            maximum: best.clone(),
            frame: frame.clone(),
            pilot: spec.pilot,
            collapsed: spec.collapse,
            weights: spec.weights.clone(),
            vcov_kind: spec.vcov,
        };
        Ok(GlmmFit {
            formula: spec.formula.text.clone(),
            family: spec.family,
            link,
            nagq: spec.nagq,
            n_obs,
            n_patterns: objective.likelihood.patterns.len(),
            n_groups: random.n_groups.iter().cloned().collect(),
            missing: design.missing.clone(),
            level: spec.level,
            coefficients,
            vcov: vcov_beta
                .row_iter()
                .map(|r| r.iter().copied().collect())
                .collect(),
            random_effects,
            correlations,
            icc,
            theta,
            loglik: best.loglik,
            deviance: -2.0 * best.loglik,
            df,
            aic: -2.0 * best.loglik + 2.0 * df as f64,
            bic: -2.0 * best.loglik + (n_obs as f64).ln() * df as f64,
            converged: best.converged,
            gradient_max,
            singular,
            iterations: best.iterations,
            evaluations: best.log.len(),
            optimisation: best.summary(),
            log: best.log,
            conditional_modes,
            vcov_kind: spec.vcov,
            dispersion: None,
            nb_theta: None,
            boundary,
            psi: best.params,
            psi_vcov,
            state: Arc::new(state),
        })
    }

    /// Replace the variance matrix of the parameters by `free_vcov` (over `free`, the
    /// parameters that were not held on a boundary, in order) and the coefficient table with
    /// it; `extra` more parameters count in AIC and BIC.
    pub(crate) fn with_variance(
        mut self,
        free_vcov: &DMatrix<f64>,
        free: &[usize],
        extra: usize,
        names: &[String],
        df: Option<&[f64]>,
    ) -> Result<GlmmFit> {
        let n = self.psi.len();
        let mut psi_vcov = DMatrix::zeros(n, n);
        for (a, &i) in free.iter().enumerate() {
            for (b, &j) in free.iter().enumerate() {
                psi_vcov[(i, j)] = free_vcov[(a, b)];
            }
        }
        let p = names.len();
        let mut coefficients = Vec::with_capacity(p);
        for j in 0..p {
            coefficients.extend(coef_table(
                &names[j..=j],
                &self.psi[j..=j],
                &[psi_vcov[(j, j)]],
                df.map(|d| d[j]),
                self.level,
                self.link.exponentiates(),
            )?);
        }
        self.coefficients = coefficients;
        self.vcov = (0..p)
            .map(|i| (0..p).map(|j| psi_vcov[(i, j)]).collect())
            .collect();
        self.psi_vcov = psi_vcov;
        self.df += extra;
        self.aic = -2.0 * self.loglik + 2.0 * self.df as f64;
        self.bic = -2.0 * self.loglik + (self.n_obs as f64).ln() * self.df as f64;
        Ok(self)
    }

    /// Likelihood-ratio test of `smaller`, a model nested in this one and fitted to the same rows:
    /// `X^2 = 2 (loglik - loglik_smaller)` on `df - df_smaller` degrees of freedom, as R's
    /// `anova(smaller, larger)`. (For a variance tested at 0 the chi-square reference is
    /// conservative: the null distribution is a 50:50 mixture with a point mass at 0.)
    pub fn lrt(&self, smaller: &GlmmFit) -> Result<LikelihoodRatioTest> {
        let side = |fit: &GlmmFit| Side {
            loglik: fit.loglik,
            parameters: fit.df,
            n_obs: fit.n_obs,
        };
        LikelihoodRatioTest::of(side(self), side(smaller))
    }

    /// The coefficient row of `term`, or an error naming the terms there are.
    pub fn term(&self, term: &str) -> Result<&CoefRow> {
        find_term(&self.coefficients, term)
    }
}
