//! Generalized linear mixed models for stepped-wedge and cluster cohorts.
//!
//! The model (Hussey & Hughes for a stepped wedge): for patient j in cluster i,
//! `g(E[y_ij | b_i]) = x_ij' beta + o_ij + z_ij' u_i`, with `u_i ~ N(0, Sigma)` independent over
//! clusters. `x` holds the fixed effects (treatment, calendar period, patient covariates), `z`
//! the random-effect terms of the formula's `( ... | cluster)`: `(1 | cluster)` gives a random
//! intercept (z = 1, Sigma = sigma^2), `(1 + treated | cluster)` a random intercept and
//! treatment effect with their correlation. Families: binomial (logit, log, cloglog links),
//! Poisson (log), gamma (log, for costs; its shape is estimated, see `family_parameter` in the
//! source, and its Laplace approximation uses the observed curvature, as glmmTMB's) and the
//! negative binomial NB2 (`nbinom2`, log, for overdispersed counts; theta estimated jointly in
//! the same way, reported in [`GlmmFit::nb_theta`], the Laplace approximation with the observed
//! curvature as glmmTMB's).
//!
//! Several random-effect terms (crossed `(1 | hospital) + (1 | municipality)`, partially crossed,
//! three or more, uncorrelated `(1 + x || g)`) form the general structure: `eta = X beta + o + Z
//! Lambda b`, `b ~ N(0, I)` over all levels of all terms at once, Lambda block diagonal (see
//! `frame::random_effects`). Its likelihood does not factorise over a grouping factor, so the
//! Laplace approximation is taken at the joint conditional mode of all random effects,
//! `log L = g(b^) - 1/2 log det(I + Lambda' Z' W Z Lambda)` (lme4's `nAGQ = 1` objective), with
//! Z's rows kept sparse; quadrature, the cluster sandwich, between-within df and the analyses
//! that resample or average over clusters are refused for it with an error naming the terms.
//!
//! Estimation maximises the likelihood integrated over `u_i` (lme4's marginal likelihood; here
//! "marginal" is kept for standardisation), approximated per cluster
//! by the Laplace approximation (`nagq = 1`, the default, as lme4's `glmer`) or by adaptive
//! Gauss-Hermite quadrature with up to 25 nodes for a scalar random effect (see
//! `likelihood` docs in the source for the formulas). Rows that agree in every variable
//! of the model except the response are collapsed into binomial or Poisson counts first; the
//! likelihood, and so every estimate, is unchanged.
//!
//! Maximisation is by Newton's method with an exact gradient. For one grouping factor with a
//! canonical link (binomial-logit, Poisson-log) under Laplace, the Hessian is exact too (see
//! `scalar_laplace` for a scalar random effect and `vector_laplace` for correlated terms or
//! nested intercepts, in the source); nested quadrature with a canonical link has an exact
//! Hessian for the one reported at the maximum (`nested_hessian`; its Newton steps take the
//! Laplace approximation's); otherwise the covariance-parameter columns are differenced.
//! The start is the GLM without random effects; a model with 50,000 or more patterns is first
//! fitted to systematic 1-in-5 subsamples of its patterns ([`Glmm::pilot`]).
//!
//! Relative risks of a binary outcome (readmission, death), and when to use which model:
//! - **Poisson GLMM** (`family(Family::Poisson)`, log link) with the cluster sandwich
//!   (`vcov(VcovKind::Sandwich)`): `exp(b_treated)` is the relative risk given the cluster. The
//!   Poisson variance is wrong for 0/1 data, so its model-based errors are too wide; the sandwich
//!   corrects them when there are enough clusters (about 30 or more; otherwise use the bootstrap
//!   of [`crate::effects::standardise`]). Always converges (canonical link): the robust default.
//! - **Log-binomial GLMM** (binomial, `link(Link::Log)`): the right likelihood for 0/1 data and
//!   efficient when every fitted risk is well below 1 (30-day mortality, readmission). Steps that
//!   would give a risk of 1 or more are rejected, so it converges wherever the maximum is inside
//!   the parameter space; a maximum on the boundary is [`Error::Boundary`] (the Laplace
//!   approximation is not defined there), or the fit's `boundary` message when the risk at the
//!   conditional modes comes within 1e-6 of 1. Then use the Poisson GLMM.
//! - **Modified Poisson** ([`Glm::modified_poisson`](crate::models::glm::Glm::modified_poisson)): a GEE
//!   with independence working correlation, the population-averaged relative risk; sandwich (as
//!   geepack), CR2 or CR3 (bias-corrected for few clusters) errors with t on G - 1 df.
//! - From any of these, or from the logistic GLMM, the standardised RR, RD and NNT:
//!   [`crate::effects::standardise`].
//!
//! Inference: standard errors of the fixed effects from the Hessian of the approximate integrated
//! log-likelihood over (beta, theta) (theta the entries of the lower-triangular factor Lambda of
//! `Sigma = Lambda Lambda'`, as in lme4), Wald z intervals; the random-effect SDs; conditional
//! modes of the random effects with conditional SDs; log-likelihood, deviance, AIC, BIC.
//! Diagnostics: convergence with the final gradient, a singular (boundary) variance reported as
//! exactly 0 and flagged, evaluations used and a log of every evaluation.

mod assigned;
mod between_within;
mod boundary;
mod family_parameter;
mod fit;
mod likelihood;
mod nested_hessian;
mod nested_quadrature;
mod patterns;
mod profile;
mod quadrature;
mod replicate;
mod robust;
mod scalar_laplace;
mod sparse_laplace;
mod summary;
mod vector_laplace;

pub use crate::frame::random_effects::MAX_CORRELATED_TERMS;
pub use crate::models::likelihood_ratio::LikelihoodRatioTest;
pub use crate::models::newton::{EvaluationRecord, OptimisationSummary};
pub use crate::models::variance_components::{RandomEffectCorrelation, RandomEffectSd};
pub use fit::{ConditionalMode, GlmmFit};
pub use profile::ProfileInterval;
pub use quadrature::{GaussHermite, MAX_QUADRATURE_NODES};

use nalgebra::DMatrix;

use crate::core::builder::builder_methods;
use crate::core::error::{Error, Result};
use crate::core::linalg::spd_inverse;
use crate::data::{Cohort, Tally};
use crate::frame::counterfactual::FitFrame;
use crate::frame::design::{Design, DesignOptions, MissingPolicy, UsedRows};
use crate::frame::formula::Formula;
use crate::frame::random_effects::RandomSetup;
use crate::models::coef_table::check_level;
use crate::models::fitted::specification;
use crate::models::glm::{check_response, fit_coefficients, Family, Link};
use crate::models::negative_binomial::{CountSums, ThetaEstimate};
use crate::models::newton::{ascend_with, LineSearch, Maximum, Objective, Settings};
use crate::models::vcov::VcovKind;
use between_within::{between_columns, between_within_df, check_cluster_confounding};
use boundary::{boundary_check, maximise_checked};
use family_parameter::{maximise_parameter, FamilyParameter, GammaSums};
use likelihood::{Evaluation, Likelihood};
use patterns::{Patterns, RowData};
use scalar_laplace::{ModeAnchor, ScalarLaplace};
use sparse_laplace::SparseLaplace;
use vector_laplace::VectorLaplace;

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

/// The rows a fit uses, the rows its analyses see, the likelihood's mean-free constant and the
/// family parameter's sums (see [`Glmm::cohort_rows`]).
type PreparedRows = (UsedRows, UsedRows, f64, Option<FamilyParameter>);

/// A GLMM specification.
#[derive(Debug, Clone)]
pub struct Glmm {
    formula: Formula,
    family: Family,
    link: Option<Link>,
    nagq: usize,
    level: f64,
    collapse: bool,
    pilot: bool,
    weights: Option<String>,
    df: DfMethod,
    vcov: VcovKind,
    design: DesignOptions,
}

impl Glmm {
    /// A binomial-logit mixed model of `formula`, which must have at least one random-effect term.
    pub fn new(formula: &str) -> Result<Glmm> {
        Ok(Glmm {
            formula: Formula::parse(formula)?,
            family: Family::Binomial,
            link: None,
            nagq: 1,
            level: 0.95,
            collapse: true,
            pilot: true,
            weights: None,
            df: DfMethod::Normal,
            vcov: VcovKind::Model,
            design: DesignOptions::default(),
        })
    }

    builder_methods! {
        /// Response family (binomial or Poisson).
        family(&mut this, family: Family) { this.family = family; }

        /// Link (default: the family's canonical link).
        link(&mut this, link: Link) { this.link = Some(link); }

        /// Quadrature nodes: 1 = Laplace (default), up to 25 for adaptive Gauss-Hermite quadrature.
        nagq(&mut this, nodes: usize) { this.nagq = nodes; }

        /// Confidence level of the intervals (default 0.95).
        level(&mut this, level: f64) { this.level = level; }

        /// Whether to collapse rows that agree in every variable but the response into binomial or
        /// Poisson counts first (default true; the estimates are the same either way).
        collapse(&mut this, collapse: bool) { this.collapse = collapse; }

        /// Prior weights from a numeric column (positive values), as `glmer(weights = )`: each
        /// row's log-likelihood is multiplied by its weight (for a binomial row, its weight times
        /// its trials is the number of trials). Integer weights give the same fit as rows repeated
        /// that many times.
        weights(&mut this, column: &str) { this.weights = Some(column.to_string()); }

        /// Whether a model with 50,000 or more covariate patterns is first fitted to systematic
        /// subsamples of them (1 in 5, then 1 in 25, ..., weights scaled up) to start the full
        /// maximisation near its maximum (default true). Like lme4's `nAGQ0initStep`, it changes
        /// where the optimiser starts, not the maximum it finds.
        pilot(&mut this, pilot: bool) { this.pilot = pilot; }

        /// The variance estimator of the fixed effects' table (default model-based, the inverse
        /// Hessian as lme4's): [`VcovKind::Sandwich`] for the cluster-robust sandwich over the
        /// outer grouping factor (see `robust` in the source), [`VcovKind::CR0`] for it times
        /// `G / (G - 1)`. Marginal effects use the same estimator.
        vcov(&mut this, kind: VcovKind) { this.vcov = kind; }

        /// Reference distribution of tests and intervals (default normal).
        df(&mut this, method: DfMethod) { this.df = method; }

        /// Missing-value policy.
        missing(&mut this, policy: MissingPolicy) { this.design.missing = policy; }

        /// Reference level of a factor.
        reference_level(&mut this, column: &str, level: &str) { this.design.reference_levels.push((column.to_string(), level.to_string())); }
    }

    /// Fit the model.
    pub fn fit(&self, cohort: &Cohort) -> Result<GlmmFit> {
        self.with_session(cohort, |s| s.fit())
    }

    /// The columns of a [`Tally`] this model can be fitted to ([`Glmm::fit_tally`]): the keys
    /// (every column the model reads but the response) and the summed response. `None` unless
    /// the model is binomial with a 0/1 response column, no weights or offsets, rows collapsed
    /// (the default) and no term that depends on other rows (`scale()`, `poly()`).
    ///
    /// ```
    /// use stepwedge::models::glmm::Glmm;
    /// let model = Glmm::new("death30 ~ treated + factor(period) + age + (1 | cluster)").unwrap();
    /// let (keys, summed) = model.tally_columns().unwrap();
    /// assert_eq!(keys, ["treated", "period", "age", "cluster"]);
    /// assert_eq!(summed, "death30");
    /// ```
    pub fn tally_columns(&self) -> Option<(Vec<String>, String)> {
        if self.family != Family::Binomial || self.weights.is_some() || !self.collapse {
            return None;
        }
        UsedRows::tally_columns(&self.formula, &self.options())
    }

    /// Fit the model to the covariate patterns of a cohort read as a [`Tally`] of the columns
    /// [`Glmm::tally_columns`] names (as `Tally::from_csv_path` streams a large file): the same
    /// fit as [`Glmm::fit`] to the whole cohort, which collapses its rows into the same patterns.
    /// The fit's data are the patterns, so analyses that need the patients' rows (marginal
    /// risks, randomisation tests) take a fit to the cohort.
    pub fn fit_tally(&self, tally: &Tally) -> Result<GlmmFit> {
        self.with_rows(tally.patterns(), Some(tally), |s| s.fit())
    }

    /// The design options with the weights column among the columns read.
    fn options(&self) -> DesignOptions {
        let mut options = self.design.clone();
        options.extra_columns.extend(self.weights.iter().cloned());
        options
    }

    /// Profile-likelihood interval for one parameter: a fixed-effect term (`"treated"`) or a
    /// random-effect SD (`"sd(cluster)"`, `"sd(cluster:period)"`, `"sd(treated|cluster)"` for a
    /// scalar slope). The interval holds the values v whose profile log-likelihood (maximised
    /// over all other parameters with this one held at v) is within `chi2_{1, level} / 2` of the
    /// maximum, as lme4's `confint(method = "profile")`. An SD whose profile stays above that
    /// at 0 has lower limit 0.
    ///
    /// The same as fitting and profiling the fit, [`GlmmFit::profile_interval`].
    pub fn profile_interval(&self, cohort: &Cohort, parameter: &str) -> Result<ProfileInterval> {
        self.fit(cohort)?.profile_interval(parameter)
    }

    /// The rows of `cohort` the model uses (collapsed if asked), the rows the fit's analyses
    /// see (before weights and collapsing), the likelihood's mean-free constant and the family's
    /// parameter sums.
    fn cohort_rows(&self, cohort: &Cohort, options: &DesignOptions) -> Result<PreparedRows> {
        let mut used = UsedRows::new(cohort, &self.formula, options)?;
        check_response(&self.formula, self.family, &used.y, &used.rows)?;
        // The rows as the analyses of the fit see them: before weights and collapsing.
        let frame_rows = used.clone();
        if self.weights.is_some() {
            used.trials = Some(used.prior_weights(cohort, self.weights.as_deref())?);
        }
        // The likelihood's mean-free constants, summed over the rows before any collapsing
        // (0 for binary rows).
        let constant: f64 = match (&used.trials, self.family) {
            // Depends on theta: added at each theta from the counts' sums.
            (None, Family::Binomial) | (_, Family::NegativeBinomial(_)) => 0.0,
            (trials, family) => used
                .y
                .iter()
                .enumerate()
                .map(|(k, &y)| family.loglik_constant(y, trials.as_ref().map_or(1.0, |t| t[k])))
                .sum(),
        };
        // The gamma likelihood's term free of the mean needs sum w and sum w log y.
        let row_weight = |k: usize| used.trials.as_ref().map_or(1.0, |t| t[k]);
        let parameter = match self.family {
            Family::Gamma => Some(FamilyParameter::GammaShape(GammaSums {
                weight: (0..used.y.len()).map(row_weight).sum(),
                weighted_log_y: used
                    .y
                    .iter()
                    .enumerate()
                    .map(|(k, &y)| row_weight(k) * y.ln())
                    .sum(),
            })),
            // The NB2 likelihood's term free of the mean needs the rows' counts and weights.
            Family::NegativeBinomial(_) => Some(FamilyParameter::NbTheta(CountSums::new(
                used.y.iter().enumerate().map(|(k, &y)| (y, row_weight(k))),
            ))),
            _ => None,
        };
        let used = if self.collapse {
            used.collapse(cohort, &self.formula)?
        } else {
            used
        };
        Ok((used, frame_rows, constant, parameter))
    }

    /// [`Glmm::cohort_rows`] from the patterns of a tally: the patterns are the rows of both,
    /// and the constant is 0 (binary rows).
    fn tally_rows(&self, tally: &Tally, options: &DesignOptions) -> Result<PreparedRows> {
        if self.tally_columns().is_none() {
            return Err(Error::invalid(
                "tally",
                "only a binomial model with a 0/1 response, without weights and with collapsing \
                 is fitted to a tally",
            ));
        }
        let used = UsedRows::from_tally(tally, &self.formula, options)?;
        if let Some((row, value)) = tally.first_not_binary() {
            check_response(&self.formula, self.family, &[value], &[row - 1])?;
        }
        Ok((used.clone(), used, 0.0, None))
    }

    /// Build the model's pieces and run `f` on them.
    fn with_session<R>(
        &self,
        cohort: &Cohort,
        f: impl FnOnce(&mut Session<'_>) -> Result<R>,
    ) -> Result<R> {
        self.with_rows(cohort, None, f)
    }

    /// Build the model's pieces on the rows of `cohort`, or on the patterns of `tally` (whose
    /// cohort `cohort` then is), and run `f` on them.
    fn with_rows<R>(
        &self,
        cohort: &Cohort,
        tally: Option<&Tally>,
        f: impl FnOnce(&mut Session<'_>) -> Result<R>,
    ) -> Result<R> {
        let link = self.family.resolve_link(self.link)?;
        check_level(self.level)?;
        if self.family == Family::Gaussian {
            return Err(Error::invalid(
                "family",
                "the Gaussian mixed model is fitted by the linear mixed model (lmm::Lmm), not here",
            ));
        }
        if matches!(self.family, Family::Gamma | Family::NegativeBinomial(_))
            && (link != Link::Log || self.vcov != VcovKind::Model)
        {
            return Err(Error::invalid(
                "family",
                format!(
                    "the {} mixed model has the log link and model-based errors here",
                    self.family
                ),
            ));
        }
        let rule = GaussHermite::new(self.nagq)?;
        if !robust::supported(self.vcov) {
            return Err(Error::invalid(
                "vcov",
                format!(
                    "a mixed model has model-based, sandwich or CR0 variances, not {}",
                    self.vcov.describe()
                ),
            ));
        }
        let options = self.options();
        let (used, frame_rows, constant, parameter) = match tally {
            Some(tally) => self.tally_rows(tally, &options)?,
            None => self.cohort_rows(cohort, &options)?,
        };
        let design = Design::on_rows(cohort, &self.formula, &options, used)?;
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
        if random.is_general() {
            self.check_general(&random)?;
        }
        let frame = FitFrame::new(
            cohort,
            &self.formula,
            &options,
            frame_rows,
            &design.names,
            (!random.is_general()).then_some((&random.groups.column, &random.groups.labels)),
        );
        let between = between_columns(&design.x, &random.groups.codes, random.groups.len());
        if !random.is_general() {
            check_cluster_confounding(
                &design.x,
                &design.names,
                &between,
                &random.groups.codes,
                random.groups.len(),
                &random.groups.column,
            )?;
        }
        if self.nagq > 1 && !random.nested && random.structure.q > 1 {
            return Err(Error::unsupported(
                &self.formula.text,
                &format!("correlated random effects with nagq = {}", self.nagq),
                "adaptive quadrature is implemented for a scalar random effect and for nested \
                 intercepts; use nagq = 1 (Laplace) for correlated random effects",
            ));
        }
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
            constant,
        );
        let likelihood = Likelihood {
            family: self.family,
            link,
            patterns: &patterns,
            rule: &rule,
            structure: &random.structure,
            labels: &random.groups.labels,
        };
        let pilots = pilot_subsamples(&patterns, self.pilot);
        let mut start = glm_start(&likelihood, &design.names, &pilots)?;
        // The gamma start: the GLM's shape, 1 / Pearson dispersion.
        let glm_shape = |start: &[f64]| {
            let (mut pearson, mut weight) = (0.0, 0.0);
            for k in 0..patterns.len() {
                let mu = (patterns.x_dot(k, start) + patterns.offset[k]).exp();
                pearson += patterns.m[k] * (patterns.y[k] - mu).powi(2) / (mu * mu);
                weight += patterns.m[k];
            }
            (weight - start.len() as f64).max(1.0) / pearson.max(f64::MIN_POSITIVE)
        };
        // The NB2 start: the moment estimate of theta from the Poisson GLM's means,
        // `sum m mu^2 / sum (m (y - mu)^2 - mu)` over patterns (m rows of mean count y have
        // variance `(mu + mu^2 / theta) / m`); no excess variance starts at 1e4 (the search
        // then finds whether theta runs off to infinity).
        let nb_theta = |start: &[f64]| {
            let (mut numerator, mut excess) = (0.0, 0.0);
            for k in 0..patterns.len() {
                let mu = (patterns.x_dot(k, start) + patterns.offset[k]).exp();
                numerator += patterns.m[k] * mu * mu;
                excess += patterns.m[k] * (patterns.y[k] - mu).powi(2) - mu;
            }
            if excess > 0.0 {
                numerator / excess
            } else {
                1e4
            }
        };
        let parameter = parameter.map(|parameter| {
            let value = match parameter {
                FamilyParameter::GammaShape(_) => glm_shape(&start),
                FamilyParameter::NbTheta(_) => nb_theta(&start),
            };
            (parameter, value)
        });
        start.extend(random.structure.start());
        let mut session = Session {
            spec: self,
            link,
            frame,
            design: &design,
            random: &random,
            between: &between,
            objective: LikelihoodObjective::new(&likelihood, random.nested),
            pilots: &pilots,
            start,
            parameter,
        };
        f(&mut session)
    }
}

impl Glmm {
    /// What a model with several random-effect terms (the general structure, whose likelihood
    /// does not factorise over one grouping factor) cannot have: quadrature, the sandwich over
    /// the outer grouping factor, between-within degrees of freedom, the gamma family.
    fn check_general(&self, random: &RandomSetup) -> Result<()> {
        let terms: Vec<&str> = self
            .formula
            .random
            .iter()
            .map(|r| r.text.as_str())
            .collect();
        let terms = terms.join(" + ");
        let refuse =
            |what: String, reason: &str| Err(Error::unsupported(&self.formula.text, &what, reason));
        if self.nagq > 1 {
            return refuse(
                format!("{terms} with nagq = {}", self.nagq),
                "adaptive quadrature is defined for one scalar random-effect term and for two \
                 nested intercepts (1 | g) + (1 | g:h), whose likelihoods are products of low-\
                 dimensional integrals; crossed or several terms are fitted by the Laplace \
                 approximation (nagq = 1), as lme4's glmer",
            );
        }
        if self.vcov != VcovKind::Model {
            return refuse(
                format!("{terms} with the {} variance", self.vcov.describe()),
                "the cluster sandwich needs one outer grouping factor; crossed terms have \
                 model-based variances",
            );
        }
        if self.df == DfMethod::BetweenWithin {
            return refuse(
                format!("{terms} with between-within degrees of freedom"),
                "between-within degrees of freedom need one grouping factor; use DfMethod::Normal",
            );
        }
        if self.family == Family::Gamma {
            return refuse(
                format!("{terms} in a gamma mixed model"),
                "the gamma mixed model takes one random-effect term or two nested intercepts",
            );
        }
        debug_assert!(random.is_general());
        Ok(())
    }
}

specification!(Glmm => GlmmFit);

/// Pilot subsamples of `patterns` when `pilot` (see [`Glmm::pilot`]): each a 1-in-PILOT_STRIDE
/// sample of the one before, down to fewer than PILOT_FROM patterns.
fn pilot_subsamples(patterns: &Patterns, pilot: bool) -> Vec<Patterns> {
    let mut pilots: Vec<Patterns> = Vec::new();
    while pilot && pilots.last().unwrap_or(patterns).len() >= PILOT_FROM {
        let sample = pilots.last().unwrap_or(patterns).subsample(PILOT_STRIDE);
        pilots.push(sample);
    }
    pilots
}

/// Starting fixed effects of a maximisation of `likelihood`: the GLM without random effects
/// (same family and link, Poisson for NB2; `names` are the design's column names), fitted on the smallest of
/// `pilots`. A subsample is separated wherever the whole data are, but may be where they are
/// not: if its fit fails, the next larger pilot is tried, and in the end the patterns decide
/// ([`Error::Separation`] when the outcome is separated).
fn glm_start(
    likelihood: &Likelihood<'_>,
    names: &[String],
    pilots: &[Patterns],
) -> Result<Vec<f64>> {
    let family = match likelihood.family {
        Family::NegativeBinomial(_) => Family::Poisson,
        family => family,
    };
    let fit_on = |on: &Patterns| {
        fit_coefficients(
            family,
            likelihood.link,
            &on.x_dense(),
            names,
            &on.y,
            &on.m,
            Some(&on.offset),
        )
    };
    pilots
        .iter()
        .rev()
        .find_map(|pilot| fit_on(pilot).ok())
        .map_or_else(|| fit_on(likelihood.patterns), Ok)
}

/// `start` moved to the maximum of each pilot's likelihood in turn (the pilots of
/// `likelihood`'s patterns, from the smallest); a pilot whose fit fails is skipped. Nested
/// intercepts by quadrature are moved by their Laplace approximation instead (the one-node rule:
/// far cheaper, with nearly the same maximum), on the pilots and then on all patterns.
fn pilot_start(
    likelihood: &Likelihood<'_>,
    nested: bool,
    pilots: &[Patterns],
    mut start: Vec<f64>,
) -> Vec<f64> {
    let one_node = (nested && likelihood.rule.nodes.len() > 1)
        .then(|| GaussHermite::new(1).ok())
        .flatten();
    let moving = Likelihood {
        rule: one_node.as_ref().unwrap_or(likelihood.rule),
        ..*likelihood
    };
    let all = one_node.is_some().then_some(likelihood.patterns);
    for patterns in pilots.iter().rev().chain(all) {
        let likelihood = Likelihood { patterns, ..moving };
        let mut objective = LikelihoodObjective::new(&likelihood, nested);
        let found = ascend_with(
            &mut objective,
            start.clone(),
            PILOT_SETTINGS,
            LineSearch::Backtracking,
        );
        if let Ok(found) = found {
            start = found.params;
        }
    }
    start
}

/// Patterns from which a model is first fitted to a systematic subsample of its patterns (see
/// [`Patterns::subsample`]), whose maximum starts the maximisation of the full likelihood (and
/// so on: the subsample may have a pilot of its own).
const PILOT_FROM: usize = 50_000;

/// One pattern in this many is kept in a pilot subsample.
const PILOT_STRIDE: usize = 5;

/// Settings of every maximisation.
const SETTINGS: Settings = Settings {
    max_iterations: 200,
    gradient_tolerance: 1e-7,
    gain_tolerance: 1e-12,
};

/// Settings of a pilot fit: its maximum only starts the next fit, so within 0.05 of its
/// standard errors is close enough.
const PILOT_SETTINGS: Settings = Settings {
    gain_tolerance: 1e-3,
    ..SETTINGS
};

/// A model ready to be maximised: the design, the random-effect setup and the objective.
pub(crate) struct Session<'a> {
    spec: &'a Glmm,
    link: Link,
    /// What the fit uses, for the analyses of the fit.
    frame: FitFrame,
    design: &'a Design,
    random: &'a RandomSetup,
    between: &'a [bool],
    objective: LikelihoodObjective<'a>,
    /// Systematic subsamples of the patterns of a large model, each of the one before, fitted
    /// from the last to the first for the start.
    pilots: &'a [Patterns],
    start: Vec<f64>,
    /// For the gamma and NB2 families: the parameter of the distribution, with the sums of its
    /// constant, and the GLM's value (the start).
    parameter: Option<(FamilyParameter, f64)>,
}

impl Session<'_> {
    /// The maximum (with SDs on the boundary set to exactly 0) and whether the fit is singular.
    fn maximum(&mut self) -> Result<(Maximum, bool)> {
        let start = pilot_start(
            self.objective.likelihood,
            self.random.nested,
            self.pilots,
            self.start.clone(),
        );
        let p = self.design.p();
        let found = maximise_checked(
            &mut self.objective,
            start,
            p,
            self.random,
            SETTINGS,
            LineSearch::Backtracking,
        );
        found.map_err(|e| self.boundary_or(e))
    }

    /// For a log-binomial model whose fit failed: the plain boundary error when already the
    /// model without random effects (the start) has a fitted risk within 1e-6 of 1, else `error`.
    fn boundary_or(&self, error: Error) -> Error {
        let likelihood = self.objective.likelihood;
        if likelihood.family != Family::Binomial || likelihood.link != Link::Log {
            return error;
        }
        let patterns = likelihood.patterns;
        let beta = &self.start[..patterns.p];
        let top = (0..patterns.len())
            .map(|k| patterns.x_dot(k, beta) + patterns.offset[k])
            .fold(f64::NEG_INFINITY, f64::max)
            .exp();
        if top <= 1.0 - 1e-6 {
            return error;
        }
        Error::Boundary {
            model: "log-binomial mixed model".into(),
            message: format!(
                "already without random effects the largest fitted risk is {top:.8} (risks must \
                 stay below 1), and the Laplace approximation is not defined there. Use the \
                 Poisson mixed model with the sandwich variance for relative risks \
                 (Glmm::family(Family::Poisson).vcov(VcovKind::Sandwich); swfit --family poisson \
                 --robust), or the modified Poisson model (Glm::modified_poisson)"
            ),
        }
    }

    fn fit(&mut self) -> Result<GlmmFit> {
        if let Some((parameter, value)) = self.parameter.take() {
            return self.fit_parameter(&parameter, value);
        }
        let (best, singular) = self.maximum()?;
        let df = match self.spec.df {
            DfMethod::Normal => None,
            DfMethod::BetweenWithin => Some(between_within_df(
                self.between,
                self.design.missing.rows_used,
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
            &self.frame,
        )
    }
}

impl Session<'_> {
    /// The gamma or NB2 mixed model: the joint maximum over (beta, theta, log parameter), the
    /// fit at the parameter found, and standard errors from the Hessian over all three.
    fn fit_parameter(&mut self, parameter: &FamilyParameter, start: f64) -> Result<GlmmFit> {
        let found = maximise_parameter(self, parameter, start)?;
        let likelihood = Likelihood {
            family: found.family,
            patterns: &found.patterns,
            ..*self.objective.likelihood
        };
        let mut objective = LikelihoodObjective::new(&likelihood, self.random.nested);
        let mut best = found.best;
        let singular = boundary_check(
            &mut objective,
            &mut best,
            self.design.p(),
            self.random,
            SETTINGS,
        )?;
        let free = best.free.clone();
        let hessian = if free.len() == found.hessian.nrows() - 1 {
            found.hessian
        } else {
            // A variance on its boundary: the Hessian without its row and column.
            let keep: Vec<usize> = (0..found.hessian.nrows())
                .filter(|&k| k == found.hessian.nrows() - 1 || free.contains(&k))
                .collect();
            found.hessian.select_rows(&keep).select_columns(&keep)
        };
        let vcov = spd_inverse(
            &(-hessian),
            "the information over (beta, theta, log shape or theta)",
        )?;
        let n = free.len();
        let free_vcov = vcov.view((0, 0), (n, n)).into_owned();
        let fit = GlmmFit::assemble(
            self.spec,
            self.link,
            self.design,
            self.random,
            &mut objective,
            best,
            singular,
            None,
            &self.frame,
        )?;
        let mut fit = fit.with_variance(&free_vcov, &free, 1, &self.design.names, None)?;
        match parameter {
            FamilyParameter::GammaShape(_) => fit.dispersion = Some(1.0 / found.value),
            FamilyParameter::NbTheta(_) => {
                fit.family = found.family;
                fit.nb_theta = Some(ThetaEstimate::from_log(
                    found.value.ln(),
                    vcov[(n, n)].sqrt(),
                ));
            }
        }
        Ok(fit)
    }
}

/// The approximate integrated log-likelihood as an optimisation objective; keeps the conditional
/// modes between evaluations as warm starts.
pub(crate) struct LikelihoodObjective<'a> {
    likelihood: &'a Likelihood<'a>,
    modes: Vec<f64>,
    /// Nested intercepts with quadrature: the log-likelihood of [`nested_quadrature`] with its
    /// exact gradient.
    nested_quadrature: bool,
    /// A scalar random effect with a canonical link under Laplace: the likelihood with its exact
    /// Hessian, used instead of `likelihood`'s.
    exact: Option<ScalarLaplace<'a>>,
    /// A vector random effect of one grouping factor with a canonical link under Laplace: the
    /// likelihood with its exact Hessian, used instead of `likelihood`'s.
    vector: Option<VectorLaplace<'a>>,
    /// The general structure (several random-effect terms): the Laplace likelihood with sparse
    /// matrices, used instead of `likelihood`'s.
    sparse: Option<SparseLaplace<'a>>,
    /// The exact Hessian of the last evaluation with a gradient, and its parameters.
    hessian_at: Option<(Vec<f64>, DMatrix<f64>)>,
    /// Where the exact likelihood's mode searches start.
    anchor: ModeAnchor,
    /// The parameters of the last evaluation (the modes are those there).
    evaluated_at: Option<Vec<f64>>,
}

impl<'a> LikelihoodObjective<'a> {
    /// The objective of `likelihood`; `nested` for nested intercepts (their quadrature has its own
    /// likelihood), and the exact scalar-Laplace likelihood where it applies.
    fn new(likelihood: &'a Likelihood<'a>, nested: bool) -> Self {
        let nagq = likelihood.rule.nodes.len();
        let q = likelihood.structure.q;
        LikelihoodObjective {
            likelihood,
            modes: vec![0.0; likelihood.patterns.n_groups() * q],
            nested_quadrature: nested && nagq > 1,
            exact: ScalarLaplace::applies(likelihood.family, likelihood.link, q, nagq).map(
                |poisson| ScalarLaplace {
                    poisson,
                    likelihood,
                },
            ),
            vector: VectorLaplace::applies(
                likelihood.family,
                likelihood.link,
                likelihood.structure,
                nagq,
            )
            .map(|poisson| VectorLaplace {
                poisson,
                likelihood,
            }),
            sparse: likelihood
                .structure
                .sparse_rows
                .then(|| SparseLaplace::new(likelihood)),
            hessian_at: None,
            anchor: ModeAnchor::default(),
            evaluated_at: None,
        }
    }

    /// Evaluate at `params` unless the last evaluation was there, so that the modes are those
    /// at `params`.
    fn evaluate_at(&mut self, params: &[f64]) -> Result<()> {
        if self.evaluated_at.as_deref() != Some(params) {
            self.value(params, false)?;
        }
        Ok(())
    }

    /// Conditional modes of the random effects and their conditional SDs at `params` (after an
    /// evaluation there).
    fn conditional_modes(&self, params: &[f64]) -> (Vec<f64>, Vec<f64>) {
        match (&self.exact, &self.sparse) {
            (Some(exact), _) => exact.conditional_modes(params, &self.modes),
            (None, Some(sparse)) => sparse.conditional_modes(params, &self.modes),
            (None, None) => self.likelihood.conditional_modes(params, &self.modes),
        }
    }

    /// The log-likelihood (and gradient) at `params`, by whichever likelihood applies.
    fn evaluate(&mut self, params: &[f64], gradient: bool) -> Result<(f64, Vec<f64>)> {
        let (modes, anchor) = (&mut self.modes, &mut self.anchor);
        let exact = match (&self.exact, &self.vector) {
            (Some(scalar), _) => Some(scalar.evaluate(params, modes, anchor, gradient)?),
            (None, Some(vector)) => Some(vector.evaluate(params, modes, anchor, gradient)?),
            (None, None) => None,
        };
        if let Some(d) = exact {
            self.hessian_at = d.hessian.map(|h| (params.to_vec(), h));
            return Ok((d.loglik, d.gradient));
        }
        if let Some(sparse) = &self.sparse {
            let Evaluation { loglik, gradient } =
                sparse.evaluate(params, &mut self.modes, gradient)?;
            return Ok((loglik, gradient));
        }
        if !self.nested_quadrature {
            let Evaluation { loglik, gradient } =
                self.likelihood
                    .evaluate(params, &mut self.modes, gradient)?;
            return Ok((loglik, gradient));
        }
        let Evaluation { loglik, gradient } =
            self.likelihood
                .nested_evaluate(params, &mut self.modes, gradient)?;
        Ok((loglik, gradient))
    }
}

impl Objective for LikelihoodObjective<'_> {
    fn value(&mut self, params: &[f64], gradient: bool) -> Result<(f64, Vec<f64>)> {
        self.evaluated_at = None;
        let found = self.evaluate(params, gradient)?;
        self.evaluated_at = Some(params.to_vec());
        Ok(found)
    }

    fn leading_information(&mut self, params: &[f64]) -> Option<DMatrix<f64>> {
        Some(match &self.sparse {
            Some(sparse) => sparse.fixed_information(params, &self.modes),
            None => self.likelihood.fixed_information(params, &self.modes),
        })
    }

    fn exact_hessian(&mut self, params: &[f64]) -> Result<Option<DMatrix<f64>>> {
        if self.exact.is_none() && self.vector.is_none() {
            return Ok(None);
        }
        if !matches!(&self.hessian_at, Some((at, _)) if at == params) {
            self.value(params, true)?;
        }
        Ok(self.hessian_at.as_ref().map(|(_, h)| h.clone()))
    }

    /// Nested quadrature with a canonical link: its exact Hessian (about three evaluations' cost,
    /// so the Newton steps keep the step information); where it cannot be computed, the
    /// Hessian is differenced as for other links.
    fn final_hessian(&mut self, params: &[f64]) -> Result<Option<DMatrix<f64>>> {
        if !self.nested_quadrature {
            return Ok(None);
        }
        self.evaluate_at(params)?;
        Ok(self
            .likelihood
            .nested_hessian(params, &mut self.modes)
            .ok()
            .flatten())
    }

    fn step_information(&mut self, params: &[f64]) -> Option<DMatrix<f64>> {
        if !self.nested_quadrature {
            return None;
        }
        self.evaluate_at(params).ok()?;
        let rule = GaussHermite::new(1).ok()?;
        let laplace = Likelihood {
            rule: &rule,
            ..*self.likelihood
        };
        let link = (laplace.family, laplace.link);
        match VectorLaplace::applies(link.0, link.1, laplace.structure, 1) {
            // The exact Hessian of the Laplace approximation, for a canonical link.
            Some(poisson) => {
                let exact = VectorLaplace {
                    poisson,
                    likelihood: &laplace,
                };
                let mut modes = self.modes.clone();
                let found = exact
                    .evaluate(params, &mut modes, &mut ModeAnchor::default(), true)
                    .ok()?;
                found.hessian.map(|h| -h)
            }
            None => self.likelihood.nested_step_information(params, &self.modes),
        }
    }

    fn full_hessian_affordable(&self) -> bool {
        let n_params = self.likelihood.patterns.p + self.likelihood.structure.len();
        self.likelihood.patterns.len() * n_params < FULL_HESSIAN_BUDGET
    }
}
