//! Generalized linear mixed models for stepped-wedge and cluster cohorts.
//!
//! The model (Hussey & Hughes for a stepped wedge): for patient j in cluster i,
//! `g(E[y_ij | b_i]) = x_ij' beta + o_ij + z_ij' u_i`, with `u_i ~ N(0, Sigma)` independent over
//! clusters. `x` holds the fixed effects (treatment, calendar period, patient covariates), `z`
//! the random-effect terms of the formula's `( ... | cluster)`: `(1 | cluster)` gives a random
//! intercept (z = 1, Sigma = sigma^2), `(1 + treated | cluster)` a random intercept and
//! treatment effect with their correlation. Families: binomial (logit, log, cloglog links) and
//! Poisson (log).
//!
//! Estimation maximises the marginal likelihood, the integral over `u_i`, approximated per cluster
//! by the Laplace approximation (`nagq = 1`, the default, as lme4's `glmer`) or by adaptive
//! Gauss-Hermite quadrature with up to 25 nodes for a scalar random effect (see
//! [`marginal`](self) docs in the source for the formulas). Rows with the same cluster and the
//! same fixed and random design rows are collapsed into binomial or Poisson counts first; the
//! likelihood, and so every estimate, is unchanged.
//!
//! Inference: standard errors of the fixed effects from the Hessian of the approximate marginal
//! log-likelihood over (beta, theta) (theta the entries of the lower-triangular factor Lambda of
//! `Sigma = Lambda Lambda'`, as in lme4), Wald z intervals; the random-effect SDs; conditional
//! modes of the random effects with conditional SDs; log-likelihood, deviance, AIC, BIC.
//! Diagnostics: convergence with the final gradient, a singular (boundary) variance reported as
//! exactly 0 and flagged, evaluations used and a log of every evaluation.

mod between_within;
mod marginal;
mod nested_quadrature;
mod optimize;
mod patterns;
mod profile;
mod quadrature;
mod random;
mod structure;
mod summary;

pub use optimize::EvaluationRecord;
pub use profile::ProfileInterval;
pub use quadrature::{GaussHermite, MAX_NODES};
pub use random::MAX_CORRELATED_TERMS;

use nalgebra::DMatrix;

use crate::data::Cohort;
use crate::design::{Design, DesignOptions, MissingPolicy, MissingReport};
use crate::error::{Error, Result};
use crate::formula::Formula;
use crate::glm::{check_response, fit_coefficients, Family, Link};
use crate::linalg::spd_inverse;
use crate::results::{check_level, coef_table, CoefRow};
use between_within::{between_columns, between_within_df, check_cluster_confounding};
use marginal::{Evaluation, Marginal};
use optimize::{maximise, Maximum, Objective, Settings};
use patterns::{Patterns, RowData};
use random::RandomSetup;

/// A random-effect standard deviation below this (relative to 1 on the theta scale, as lme4's
/// `isSingular` tolerance) is tested for the boundary.
const SINGULAR_TOLERANCE: f64 = 1e-4;

/// Reference distribution of the Wald tests and intervals of the fixed effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum DfMethod {
    /// Standard normal (Wald z), as lme4's `summary`.
    #[default]
    Normal,
    /// t on between-within degrees of freedom: `G - p_between` for cluster-level terms,
    /// `N - G - p_within` for the others (SAS `DDFM=BW`; Li & Redden 2015).
    BetweenWithin,
}

/// Largest (patterns x parameters) for which the reported Hessian is differenced in every
/// column; above it the fixed-effects block is the Schur-complement information (its difference
/// from the full Hessian shrinks with the cluster sizes).
const FULL_HESSIAN_BUDGET: usize = 2_000_000;

/// A GLMM specification.
#[derive(Debug, Clone)]
pub struct Glmm {
    formula: Formula,
    family: Family,
    link: Option<Link>,
    nagq: usize,
    level: f64,
    collapse: bool,
    df: DfMethod,
    design: DesignOptions,
}

impl Glmm {
    /// A binomial-logit mixed model of `formula`, which must have one random-effect term.
    pub fn new(formula: &str) -> Result<Glmm> {
        Ok(Glmm {
            formula: Formula::parse(formula)?,
            family: Family::Binomial,
            link: None,
            nagq: 1,
            level: 0.95,
            collapse: true,
            df: DfMethod::Normal,
            design: DesignOptions::default(),
        })
    }

    /// Response family (binomial or Poisson).
    pub fn family(mut self, family: Family) -> Self {
        self.family = family;
        self
    }

    /// Link (default: the family's canonical link).
    pub fn link(mut self, link: Link) -> Self {
        self.link = Some(link);
        self
    }

    /// Quadrature nodes: 1 = Laplace (default), up to 25 for adaptive Gauss-Hermite quadrature.
    pub fn nagq(mut self, nodes: usize) -> Self {
        self.nagq = nodes;
        self
    }

    /// Confidence level of the intervals (default 0.95).
    pub fn level(mut self, level: f64) -> Self {
        self.level = level;
        self
    }

    /// Whether to collapse identical rows into counts first (default true; the estimates are
    /// the same either way).
    pub fn collapse(mut self, collapse: bool) -> Self {
        self.collapse = collapse;
        self
    }

    /// Reference distribution of tests and intervals (default normal).
    pub fn df(mut self, method: DfMethod) -> Self {
        self.df = method;
        self
    }

    /// Missing-value policy.
    pub fn missing(mut self, policy: MissingPolicy) -> Self {
        self.design.missing = policy;
        self
    }

    /// Reference level of a factor.
    pub fn reference_level(mut self, column: &str, level: &str) -> Self {
        self.design
            .reference_levels
            .push((column.to_string(), level.to_string()));
        self
    }

    /// Fit the model.
    pub fn fit(&self, cohort: &Cohort) -> Result<GlmmFit> {
        self.with_session(cohort, |s| s.fit())
    }

    /// Profile-likelihood interval for one parameter: a fixed-effect term (`"treated"`) or a
    /// random-effect SD (`"sd(cluster)"`, `"sd(cluster:period)"`, `"sd(treated|cluster)"` for a
    /// scalar slope). The interval holds the values v whose profile log-likelihood (maximised
    /// over all other parameters with this one held at v) is within `chi2_{1, level} / 2` of the
    /// maximum, as lme4's `confint(method = "profile")`. An SD whose profile stays above that
    /// at 0 has lower limit 0.
    pub fn profile_interval(&self, cohort: &Cohort, parameter: &str) -> Result<ProfileInterval> {
        self.with_session(cohort, |s| s.profile(parameter))
    }

    /// Build the model's pieces and run `f` on them.
    fn with_session<R>(
        &self,
        cohort: &Cohort,
        f: impl FnOnce(&mut Session<'_>) -> Result<R>,
    ) -> Result<R> {
        let link = self.family.resolve_link(self.link)?;
        check_level(self.level)?;
        if self.family == Family::Gaussian {
            return Err(Error::invalid(
                "family",
                "the Gaussian mixed model is fitted by the linear mixed model, not here",
            ));
        }
        let rule = GaussHermite::new(self.nagq)?;
        let design = Design::new(cohort, &self.formula, &self.design)?;
        if !design.aliased.is_empty() {
            return Err(Error::Confounded {
                terms: design.aliased.clone(),
                with: "the other fixed effects (calendar period, covariates)".into(),
                reason: "each is a linear combination of earlier columns (R reports NA for it); remove it \
                         or change the design"
                    .into(),
            });
        }
        let random = RandomSetup::new(cohort, &self.formula, &design)?;
        let between = between_columns(&design.x, &random.groups.codes, random.groups.len());
        check_cluster_confounding(
            &design.x,
            &design.names,
            &between,
            &random.groups.codes,
            random.groups.len(),
            &random.groups.column,
        )?;
        if self.nagq > 1 && !random.nested && random.structure.q > 1 {
            return Err(Error::invalid(
                "nagq",
                "adaptive quadrature is implemented for a scalar random effect and for nested \
                 intercepts; use nagq = 1 (Laplace) for correlated random effects",
            ));
        }
        check_response(&self.formula, self.family, &design)?;
        let prior: Vec<f64> = design
            .trials
            .clone()
            .unwrap_or_else(|| vec![1.0; design.n()]);
        let patterns = Patterns::new(
            &RowData {
                x: &design.x,
                z: &random.z,
                offset: design.offset.as_deref(),
                y: &design.y,
                w: &prior,
                group: &random.groups.codes,
                n_groups: random.groups.len(),
            },
            self.family,
            self.collapse,
        );
        let marginal = Marginal {
            family: self.family,
            link,
            patterns: &patterns,
            rule: &rule,
            structure: &random.structure,
            labels: &random.groups.labels,
        };
        // Starting values: the GLM without random effects, fitted on the patterns.
        let x_patterns = DMatrix::from_row_slice(patterns.len(), patterns.p, &patterns.x);
        let mut start = fit_coefficients(
            self.family,
            link,
            &x_patterns,
            &design.names,
            &patterns.y,
            &patterns.m,
            Some(&patterns.offset),
        )?;
        start.extend(random.structure.start());
        let mut session = Session {
            spec: self,
            link,
            design: &design,
            random: &random,
            between: &between,
            objective: MarginalObjective {
                marginal: &marginal,
                modes: vec![0.0; random.groups.len() * random.structure.q],
                nested_quadrature: random.nested && self.nagq > 1,
            },
            start,
        };
        f(&mut session)
    }
}

/// Settings of every maximisation.
const SETTINGS: Settings = Settings {
    max_iterations: 200,
    gradient_tolerance: 1e-7,
};

/// A model ready to be maximised: the design, the random-effect setup and the objective.
pub(crate) struct Session<'a> {
    spec: &'a Glmm,
    link: Link,
    design: &'a Design,
    random: &'a RandomSetup,
    between: &'a [bool],
    objective: MarginalObjective<'a>,
    start: Vec<f64>,
}

impl Session<'_> {
    /// The maximum (with SDs on the boundary set to exactly 0) and whether the fit is singular.
    fn maximum(&mut self) -> Result<(Maximum, bool)> {
        let mut best = maximise(&mut self.objective, self.start.clone(), SETTINGS)?;
        let singular = boundary_check(
            &mut self.objective,
            &mut best,
            self.design.p(),
            self.random,
            SETTINGS,
        )?;
        Ok((best, singular))
    }

    fn fit(&mut self) -> Result<GlmmFit> {
        let (best, singular) = self.maximum()?;
        let df = match self.spec.df {
            DfMethod::Normal => None,
            DfMethod::BetweenWithin => Some(between_within_df(
                self.between,
                self.design.n(),
                self.random.groups.len(),
            )),
        };
        GlmmFit::assemble(
            self.spec,
            self.link,
            self.design,
            self.random,
            &mut self.objective,
            best,
            singular,
            df,
        )
    }
}

/// The approximate marginal log-likelihood as an optimisation objective; keeps the conditional
/// modes between evaluations as warm starts.
struct MarginalObjective<'a> {
    marginal: &'a Marginal<'a>,
    modes: Vec<f64>,
    /// Nested intercepts with quadrature: the log-likelihood of [`nested_quadrature`], its
    /// gradient by central differences.
    nested_quadrature: bool,
}

impl Objective for MarginalObjective<'_> {
    fn value(&mut self, params: &[f64], gradient: bool) -> Result<(f64, Vec<f64>)> {
        if !self.nested_quadrature {
            let Evaluation { loglik, gradient } =
                self.marginal.evaluate(params, &mut self.modes, gradient)?;
            return Ok((loglik, gradient));
        }
        let loglik = self.marginal.nested_loglik(params, &mut self.modes)?;
        if !gradient {
            return Ok((loglik, Vec::new()));
        }
        let mut grad = Vec::with_capacity(params.len());
        for k in 0..params.len() {
            let h = 1e-5 * params[k].abs().max(1.0);
            let mut moved = params.to_vec();
            moved[k] += h;
            let up = self.marginal.nested_loglik(&moved, &mut self.modes)?;
            moved[k] -= 2.0 * h;
            let down = self.marginal.nested_loglik(&moved, &mut self.modes)?;
            grad.push((up - down) / (2.0 * h));
        }
        self.marginal.nested_loglik(params, &mut self.modes)?;
        Ok((loglik, grad))
    }

    fn leading_information(&mut self, params: &[f64]) -> Option<DMatrix<f64>> {
        Some(self.marginal.fixed_information(params, &self.modes))
    }

    fn full_hessian_affordable(&self) -> bool {
        let n_params = self.marginal.patterns.p + self.marginal.structure.len();
        self.marginal.patterns.len() * n_params < FULL_HESSIAN_BUDGET
    }
}

/// For every theta that is a standard deviation and ended near 0: compare with the fit where it
/// is exactly 0 and the other parameters are re-maximised. When that is at least as good, the
/// variance is on its boundary: it is set to exactly 0 and the maximum replaced (its Hessian then
/// covers the free parameters only). For correlated effects a near-zero SD is flagged only.
fn boundary_check(
    objective: &mut MarginalObjective<'_>,
    best: &mut Maximum,
    p: usize,
    random: &RandomSetup,
    settings: Settings,
) -> Result<bool> {
    let s = &random.structure;
    let near: Vec<usize> = (0..s.len())
        .filter(|&t| s.is_sd(t) && best.params[p + t].abs() < SINGULAR_TOLERANCE)
        .map(|t| p + t)
        .collect();
    if near.is_empty() {
        return Ok(false);
    }
    if !random.nested && s.q > 1 {
        return Ok(true);
    }
    let free: Vec<usize> = (0..best.params.len())
        .filter(|k| !near.contains(k))
        .collect();
    let mut fixed = FixedParams {
        inner: objective,
        free: free.clone(),
        template: best
            .params
            .iter()
            .enumerate()
            .map(|(k, v)| if near.contains(&k) { 0.0 } else { *v })
            .collect(),
    };
    let start: Vec<f64> = free.iter().map(|&k| best.params[k]).collect();
    let at_zero = maximise(&mut fixed, start, settings)?;
    if at_zero.loglik >= best.loglik - 1e-9 * best.loglik.abs().max(1.0) {
        best.params = fixed.expand(&at_zero.params);
        best.loglik = at_zero.loglik;
        best.hessian = at_zero.hessian;
        best.gradient = at_zero.gradient;
        best.converged = at_zero.converged;
        best.iterations += at_zero.iterations;
        best.free = free;
        best.log.extend(at_zero.log);
    }
    Ok(true)
}

/// The objective over the free parameters, the others held at their values in `template`.
struct FixedParams<'a, 'b> {
    inner: &'a mut MarginalObjective<'b>,
    free: Vec<usize>,
    template: Vec<f64>,
}

impl FixedParams<'_, '_> {
    fn expand(&self, free_values: &[f64]) -> Vec<f64> {
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
}

/// theta with the sign convention of lme4: the diagonal of Lambda non-negative (flipping a
/// column of Lambda leaves `Lambda Lambda'` and the likelihood unchanged).
fn canonical_theta(structure: &structure::ThetaStructure, theta: &[f64]) -> Vec<f64> {
    let lam = structure.lambda(theta);
    let flip: Vec<bool> = (0..structure.q).map(|c| lam[(c, c)] < 0.0).collect();
    theta
        .iter()
        .zip(&structure.entries)
        .map(|(v, entries)| if flip[entries[0].1] { -v } else { *v })
        .collect()
}

/// Random-effect SDs and correlations, listed as lme4 lists them: grouping factors with more
/// levels first.
fn variance_components(
    random: &RandomSetup,
    theta: &[f64],
    sigma: &DMatrix<f64>,
) -> (Vec<RandomEffectSd>, Vec<RandomEffectCorrelation>) {
    if random.nested {
        let mut sds: Vec<RandomEffectSd> = random
            .theta_names
            .iter()
            .zip(theta)
            .filter_map(|(name, t)| {
                name.as_ref().map(|(group, term)| RandomEffectSd {
                    group: group.clone(),
                    term: term.clone(),
                    sd: t.abs(),
                })
            })
            .collect();
        sds.reverse();
        return (sds, Vec::new());
    }
    let group = &random.n_groups[0].0;
    let q = random.structure.q;
    let sds = (0..q)
        .map(|r| RandomEffectSd {
            group: group.clone(),
            term: random.terms[r].clone(),
            sd: sigma[(r, r)].sqrt(),
        })
        .collect();
    let mut correlations = Vec::new();
    for c in 0..q {
        for r in c + 1..q {
            let denom = (sigma[(r, r)] * sigma[(c, c)]).sqrt();
            if denom > 0.0 {
                correlations.push(RandomEffectCorrelation {
                    group: group.clone(),
                    term1: random.terms[c].clone(),
                    term2: random.terms[r].clone(),
                    correlation: sigma[(r, c)] / denom,
                });
            }
        }
    }
    (sds, correlations)
}

/// A likelihood-ratio test of nested models.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LikelihoodRatioTest {
    /// `2 (loglik_larger - loglik_smaller)`.
    pub statistic: f64,
    /// Difference in the number of parameters.
    pub df: usize,
    /// Upper tail of chi-square on `df`.
    pub p_value: f64,
}

/// A random-effect standard deviation (and its correlations) as lme4 prints them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RandomEffectSd {
    /// Grouping factor, e.g. `cluster` or `cluster:period`.
    pub group: String,
    /// Term, e.g. `(Intercept)` or `treated`.
    pub term: String,
    /// Standard deviation.
    pub sd: f64,
}

/// Correlation between two random effects of the same group.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RandomEffectCorrelation {
    /// Grouping factor.
    pub group: String,
    /// First term.
    pub term1: String,
    /// Second term.
    pub term2: String,
    /// Correlation.
    pub correlation: f64,
}

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
    /// Conditional modes of the random effects.
    pub conditional_modes: Vec<ConditionalMode>,
}

impl GlmmFit {
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        spec: &Glmm,
        link: Link,
        design: &Design,
        random: &RandomSetup,
        objective: &mut MarginalObjective<'_>,
        best: Maximum,
        singular: bool,
        df: Option<Vec<f64>>,
    ) -> Result<GlmmFit> {
        let p = design.p();
        let structure = &random.structure;
        let theta = canonical_theta(structure, &best.params[p..]);
        // Refresh the modes at the estimate (the last evaluation may have been a trial point).
        objective.value(&best.params, false)?;
        // The fixed effects come first among the free parameters.
        let vcov_beta = spd_inverse(
            &(-best.hessian.clone()),
            "the information matrix over (beta, theta)",
        )?
        .view((0, 0), (p, p))
        .into_owned();
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
        let marginal = objective.marginal;
        let (modes, sds) = marginal.conditional_modes(&best.params, &objective.modes);
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
        let n_obs = design.n();
        let gradient_max = best.gradient.iter().fold(0.0, |m: f64, g| m.max(g.abs()));
        Ok(GlmmFit {
            formula: spec.formula.text.clone(),
            family: spec.family,
            link,
            nagq: spec.nagq,
            n_obs,
            n_patterns: marginal.patterns.len(),
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
            log: best.log,
            conditional_modes,
        })
    }

    /// Likelihood-ratio test of `smaller`, a model nested in this one and fitted to the same rows:
    /// `X^2 = 2 (loglik - loglik_smaller)` on `df - df_smaller` degrees of freedom, as R's
    /// `anova(smaller, larger)`. (For a variance tested at 0 the chi-square reference is
    /// conservative: the null distribution is a 50:50 mixture with a point mass at 0.)
    pub fn lrt(&self, smaller: &GlmmFit) -> Result<LikelihoodRatioTest> {
        if smaller.n_obs != self.n_obs {
            return Err(Error::invalid(
                "smaller",
                format!(
                    "the models were fitted to {} and {} rows; they must use the same rows",
                    smaller.n_obs, self.n_obs
                ),
            ));
        }
        if smaller.df >= self.df {
            return Err(Error::invalid(
                "smaller",
                format!(
                    "it has {} parameters and this model {}: pass the smaller model",
                    smaller.df, self.df
                ),
            ));
        }
        let statistic = (2.0 * (self.loglik - smaller.loglik)).max(0.0);
        let df = self.df - smaller.df;
        Ok(LikelihoodRatioTest {
            statistic,
            df,
            p_value: crate::dist::chisq_upper(statistic, df as f64),
        })
    }

    /// The coefficient row of `term`.
    pub fn term(&self, term: &str) -> Result<&CoefRow> {
        self.coefficients
            .iter()
            .find(|r| r.term == term)
            .ok_or_else(|| {
                let names: Vec<&str> = self.coefficients.iter().map(|r| r.term.as_str()).collect();
                Error::invalid(
                    "term",
                    format!("no term '{term}'; the terms are {}", names.join(", ")),
                )
            })
    }
}
