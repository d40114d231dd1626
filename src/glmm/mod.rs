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

mod marginal;
mod optimize;
mod patterns;
mod quadrature;
mod summary;

pub use optimize::EvaluationRecord;
pub use quadrature::{GaussHermite, MAX_NODES};

use nalgebra::DMatrix;

use crate::data::Cohort;
use crate::design::{
    numeric_values, Design, DesignOptions, Grouping, MissingPolicy, MissingReport,
};
use crate::error::{Error, Result};
use crate::formula::{Formula, RandomTerm};
use crate::glm::{Family, Glm, Link};
use crate::linalg::spd_inverse;
use crate::results::{check_level, coef_table, CoefRow};
use marginal::{lambda, n_theta, Evaluation, Marginal};
use optimize::{maximise, Maximum, Objective, Settings};
use patterns::{Patterns, RowData};

/// A random-effect standard deviation below this (relative to 1 on the theta scale, as lme4's
/// `isSingular` tolerance) is tested for the boundary.
const SINGULAR_TOLERANCE: f64 = 1e-4;

/// A GLMM specification.
#[derive(Debug, Clone)]
pub struct Glmm {
    formula: Formula,
    family: Family,
    link: Option<Link>,
    nagq: usize,
    level: f64,
    collapse: bool,
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
        let link = self.link.unwrap_or_else(|| self.family.default_link());
        self.family.check_link(link)?;
        check_level(self.level)?;
        if self.family == Family::Gaussian {
            return Err(Error::invalid(
                "family",
                "the Gaussian mixed model is fitted by the linear mixed model, not here",
            ));
        }
        let term = self.random_term()?;
        let rule = GaussHermite::new(self.nagq)?;
        let q = usize::from(term.intercept) + term.slopes.len();
        if self.nagq > 1 && q > 1 {
            return Err(Error::invalid(
                "nagq",
                format!("adaptive quadrature needs a scalar random effect; {} has {q} terms (use nagq = 1)", term.text),
            ));
        }
        let design = Design::new(cohort, &self.formula, &self.design)?;
        let grouping = group_codes(cohort, term, &design)?;
        let z = random_design(cohort, term, &design)?;
        let glm = self.starting_glm(cohort, link)?;
        let prior: Vec<f64> = design
            .trials
            .clone()
            .unwrap_or_else(|| vec![1.0; design.n()]);
        let patterns = Patterns::new(
            &RowData {
                x: &design.x,
                z: &z,
                offset: design.offset.as_deref(),
                y: &design.y,
                w: &prior,
                group: &grouping.codes,
                n_groups: grouping.len(),
            },
            self.family,
            self.collapse,
        );
        let marginal = Marginal {
            family: self.family,
            link,
            patterns: &patterns,
            rule: &rule,
            labels: &grouping.labels,
        };
        let mut objective = MarginalObjective {
            marginal: &marginal,
            modes: vec![0.0; grouping.len() * q],
        };
        let mut start = glm.coef();
        start.extend((0..n_theta(q)).map(|t| if is_diagonal(t, q) { 1.0 } else { 0.0 }));
        let settings = Settings {
            max_iterations: 200,
            gradient_tolerance: 1e-7,
        };
        let mut best = maximise(&mut objective, start, settings)?;
        let p = design.p();
        let singular = boundary_check(&mut objective, &mut best, p, q, settings)?;
        GlmmFit::assemble(
            self,
            link,
            term,
            &design,
            &grouping,
            &marginal,
            &mut objective,
            best,
            singular,
        )
    }

    /// The one random-effect term (nested and crossed structures are not yet supported).
    fn random_term(&self) -> Result<&RandomTerm> {
        match self.formula.random.as_slice() {
            [] => Err(Error::invalid(
                "formula",
                "a mixed model needs a random-effect term such as (1 | cluster); fit a model without one with Glm",
            )),
            [one] => Ok(one),
            many => Err(Error::invalid(
                "formula",
                format!(
                    "{} random-effect terms ({}); this version fits one grouping factor",
                    many.len(),
                    many.iter().map(|r| r.text.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }

    /// The GLM without random effects, for starting values (and checks of the fixed part).
    fn starting_glm(&self, cohort: &Cohort, link: Link) -> Result<crate::glm::GlmFit> {
        let mut fixed = self.formula.clone();
        fixed.random.clear();
        let mut glm = Glm::from_formula(fixed)
            .family(self.family)
            .link(link)
            .missing(self.design.missing);
        for (c, l) in &self.design.reference_levels {
            glm = glm.reference_level(c, l);
        }
        glm.fit(cohort)
    }
}

fn is_diagonal(t: usize, q: usize) -> bool {
    let mut k = 0;
    for c in 0..q {
        for r in c..q {
            if k == t {
                return r == c;
            }
            k += 1;
        }
    }
    false
}

/// Group codes of the random term's grouping factor (`g` or `g:h`) on the design's rows.
fn group_codes(cohort: &Cohort, term: &RandomTerm, design: &Design) -> Result<Grouping> {
    if term.group.len() == 1 {
        return Grouping::new(cohort, &term.group[0], &design.rows);
    }
    let parts: Vec<Grouping> = term
        .group
        .iter()
        .map(|g| Grouping::new(cohort, g, &design.rows))
        .collect::<Result<_>>()?;
    let mut labels: Vec<String> = (0..design.n())
        .map(|i| {
            parts
                .iter()
                .map(|g| g.labels[g.codes[i]].as_str())
                .collect::<Vec<_>>()
                .join(":")
        })
        .collect();
    let row_labels = labels.clone();
    labels.sort();
    labels.dedup();
    let codes = row_labels
        .iter()
        .map(|l| labels.binary_search(l).unwrap_or(0))
        .collect();
    Ok(Grouping {
        column: term.group_name(),
        codes,
        labels,
    })
}

/// The random-effect design rows z (intercept and numeric slopes).
fn random_design(cohort: &Cohort, term: &RandomTerm, design: &Design) -> Result<DMatrix<f64>> {
    let mut columns: Vec<Vec<f64>> = Vec::new();
    if term.intercept {
        columns.push(vec![1.0; design.n()]);
    }
    for slope in &term.slopes {
        match slope.vars.as_slice() {
            [v] => columns.push(numeric_values(cohort, v, &design.rows)?),
            _ => {
                return Err(Error::invalid(
                    "formula",
                    format!(
                        "random slope '{}' in {}: only numeric main effects are supported",
                        slope.label(),
                        term.text
                    ),
                ))
            }
        }
    }
    if columns.is_empty() {
        return Err(Error::invalid(
            "formula",
            format!("{} has no random effect", term.text),
        ));
    }
    Ok(DMatrix::from_fn(design.n(), columns.len(), |i, j| {
        columns[j][i]
    }))
}

/// The approximate marginal log-likelihood as an optimisation objective; keeps the conditional
/// modes between evaluations as warm starts.
struct MarginalObjective<'a> {
    marginal: &'a Marginal<'a>,
    modes: Vec<f64>,
}

impl Objective for MarginalObjective<'_> {
    fn value(&mut self, params: &[f64], gradient: bool) -> Result<(f64, Vec<f64>)> {
        let Evaluation { loglik, gradient } =
            self.marginal.evaluate(params, &mut self.modes, gradient)?;
        Ok((loglik, gradient))
    }
}

/// For a scalar random effect whose SD ended near 0: compare with the fit at exactly 0 (the GLM
/// fixed effects, re-maximised with theta held at 0). When that is at least as good, the fit is
/// singular: theta is set to 0 and the maximum replaced. For q > 1, a near-zero diagonal of
/// Lambda flags the fit as singular.
fn boundary_check(
    objective: &mut MarginalObjective<'_>,
    best: &mut Maximum,
    p: usize,
    q: usize,
    settings: Settings,
) -> Result<bool> {
    let lam = lambda(&best.params[p..], q);
    let near_zero = (0..q).any(|r| lam[(r, r)].abs() < SINGULAR_TOLERANCE);
    if !near_zero {
        return Ok(false);
    }
    if q > 1 {
        return Ok(true);
    }
    let mut fixed_theta = FixedTheta {
        inner: objective,
        p,
        theta: vec![0.0],
    };
    let at_zero = maximise(&mut fixed_theta, best.params[..p].to_vec(), settings)?;
    if at_zero.loglik >= best.loglik - 1e-9 * best.loglik.abs().max(1.0) {
        let mut params = at_zero.params.clone();
        params.push(0.0);
        best.params = params;
        best.loglik = at_zero.loglik;
        best.hessian = at_zero.hessian;
        best.gradient = at_zero.gradient;
        best.converged = at_zero.converged;
        best.log.extend(at_zero.log);
    }
    Ok(true)
}

/// The objective over beta with theta held fixed.
struct FixedTheta<'a, 'b> {
    inner: &'a mut MarginalObjective<'b>,
    p: usize,
    theta: Vec<f64>,
}

impl Objective for FixedTheta<'_, '_> {
    fn value(&mut self, params: &[f64], gradient: bool) -> Result<(f64, Vec<f64>)> {
        let mut full = params.to_vec();
        full.extend(&self.theta);
        let (v, mut g) = self.inner.value(&full, gradient)?;
        g.truncate(if gradient { self.p } else { 0 });
        Ok((v, g))
    }
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
        term: &RandomTerm,
        design: &Design,
        grouping: &Grouping,
        marginal: &Marginal<'_>,
        objective: &mut MarginalObjective<'_>,
        best: Maximum,
        singular: bool,
    ) -> Result<GlmmFit> {
        let p = design.p();
        let q = usize::from(term.intercept) + term.slopes.len();
        let theta = best.params[p..].to_vec();
        // Refresh the modes at the estimate (the last evaluation may have been a trial point).
        objective.value(&best.params, false)?;
        let information = -best.hessian.clone();
        let vcov_beta = if singular && q == 1 {
            spd_inverse(
                &information.view((0, 0), (p, p)).into_owned(),
                "the information of the fixed effects",
            )?
        } else {
            spd_inverse(&information, "the information matrix over (beta, theta)")?
                .view((0, 0), (p, p))
                .into_owned()
        };
        let variances: Vec<f64> = (0..p).map(|j| vcov_beta[(j, j)]).collect();
        let coefficients = coef_table(
            &design.names,
            &best.params[..p],
            &variances,
            None,
            spec.level,
            link.exponentiates(),
        )?;
        let lam = lambda(&theta, q);
        let sigma = &lam * lam.transpose();
        let mut names = Vec::new();
        if term.intercept {
            names.push("(Intercept)".to_string());
        }
        names.extend(term.slopes.iter().map(|s| s.label()));
        let group = term.group_name();
        let random_effects: Vec<RandomEffectSd> = (0..q)
            .map(|r| RandomEffectSd {
                group: group.clone(),
                term: names[r].clone(),
                sd: sigma[(r, r)].sqrt(),
            })
            .collect();
        let mut correlations = Vec::new();
        for r in 0..q {
            for c in 0..r {
                let denom = (sigma[(r, r)] * sigma[(c, c)]).sqrt();
                if denom > 0.0 {
                    correlations.push(RandomEffectCorrelation {
                        group: group.clone(),
                        term1: names[c].clone(),
                        term2: names[r].clone(),
                        correlation: sigma[(r, c)] / denom,
                    });
                }
            }
        }
        let icc = (q == 1 && term.intercept && link == Link::Logit).then(|| {
            let v = sigma[(0, 0)];
            v / (v + std::f64::consts::PI.powi(2) / 3.0)
        });
        let (modes, sds) = marginal.conditional_modes(&best.params, &objective.modes);
        let conditional_modes = (0..grouping.len())
            .flat_map(|g| {
                let names = &names;
                let (modes, sds) = (&modes, &sds);
                (0..q).map(move |r| ConditionalMode {
                    level: grouping.labels[g].clone(),
                    term: names[r].clone(),
                    mode: modes[g * q + r],
                    sd: sds[g * q + r],
                })
            })
            .collect();
        let df = p + n_theta(q);
        let n_obs = design.n();
        let mut n_groups = std::collections::BTreeMap::new();
        n_groups.insert(group.clone(), grouping.len());
        let gradient_max = best.gradient.iter().fold(0.0, |m: f64, g| m.max(g.abs()));
        Ok(GlmmFit {
            formula: spec.formula.text.clone(),
            family: spec.family,
            link,
            nagq: spec.nagq,
            n_obs,
            n_patterns: marginal.patterns.len(),
            n_groups,
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
