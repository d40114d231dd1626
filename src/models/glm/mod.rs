//! Generalized linear models fitted by maximum likelihood (IRLS), with model-based, robust and
//! cluster-robust standard errors.
//!
//! The model: `g(E[y_i]) = x_i' beta + offset_i`, `Var(y_i) = phi V(mu_i) / w_i`, for the
//! families and links of [`Family`] and [`Link`]. Binary outcomes are 0/1 columns; binomial
//! counts are `cbind(events, non_events)` responses (trials become prior weights, as in R).
//!
//! Which model answers which question:
//! - `binomial` + `logit`: odds ratios (the usual logistic regression);
//! - `binomial` + `log`: relative risks (the log-binomial model). Fitted risks must stay below 1;
//!   IRLS halves any step that would leave that space, so the fit converges wherever an interior
//!   maximum exists, and a maximum on the boundary (some fitted risk -> 1) is reported in
//!   [`GlmFit::boundary`], or as [`Error::Boundary`] when there the information matrix is
//!   singular (no standard errors exist);
//! - `poisson` + `log` on a binary outcome with cluster-robust errors ("modified Poisson",
//!   [`Glm::modified_poisson`]): relative risks when the log-binomial model is awkward;
//! - `binomial` + `identity`: risk differences;
//! - `gaussian`: linear regression (costs);
//! - `nbinom2` (log link): overdispersed counts, theta estimated jointly with the coefficients
//!   as R's `MASS::glm.nb` (see `negbin` in the source), reported in [`GlmFit::nb_theta`].
//!
//! ```no_run
//! use stepwedge::{data::{Cohort, LoadOptions}, models::{glm::Glm, vcov::VcovKind}};
//! # fn main() -> stepwedge::core::error::Result<()> {
//! let cohort = Cohort::from_csv_path("cohort.csv", &LoadOptions::default())?;
//! let fit = Glm::new("death30 ~ treated + factor(period) + age + sex")?
//!     .cluster("cluster")
//!     .vcov(VcovKind::CR2)
//!     .fit(&cohort)?;
//! println!("{fit}");
//! # Ok(()) }
//! ```

mod irls;
mod negbin;
mod replicate;
mod summary;

pub use crate::models::family::{Family, Link, RowDerivatives};
pub use irls::IrlsControl;

use nalgebra::DMatrix;

use crate::core::builder::builder_methods;
use crate::core::error::{Error, Result};
use crate::core::linalg::{spd_inverse, weighted_gram};
use crate::data::Cohort;
use crate::frame::counterfactual::FitFrame;
use crate::frame::design::{Design, DesignOptions, Grouping, MissingPolicy, MissingReport};
use crate::frame::formula::{Formula, Response};
use crate::models::coef_table::{check_level, coef_table, CoefRow};
use crate::models::fitted::{find_term, specification};
use crate::models::negative_binomial::{NbTheta, ThetaEstimate};
use crate::models::vcov::{vcov, SandwichParts, VcovKind};
use irls::{IrlsState, Problem};

/// A GLM specification: formula, family, link, weights, clustering and options.
#[derive(Debug, Clone)]
pub struct Glm {
    formula: Formula,
    family: Family,
    link: Option<Link>,
    weights: Option<String>,
    cluster: Option<String>,
    vcov: VcovKind,
    level: f64,
    design: DesignOptions,
    control: IrlsControl,
    start: Option<Vec<f64>>,
}

impl Glm {
    /// A binomial-logit GLM of `formula` (change with [`Glm::family`] and [`Glm::link`]).
    pub fn new(formula: &str) -> Result<Glm> {
        Ok(Glm::from_formula(Formula::parse(formula)?))
    }

    /// A GLM of an already parsed or built formula.
    pub fn from_formula(formula: Formula) -> Glm {
        Glm {
            formula,
            family: Family::Binomial,
            link: None,
            weights: None,
            cluster: None,
            vcov: VcovKind::Model,
            level: 0.95,
            design: DesignOptions::default(),
            control: IrlsControl::default(),
            start: None,
        }
    }

    /// The modified Poisson model for relative risks of a binary outcome (Zou 2004; Zou & Donner
    /// 2013 for clusters): Poisson family, log link, cluster-robust CR1 errors on `cluster`.
    pub fn modified_poisson(formula: &str, cluster: &str) -> Result<Glm> {
        Ok(Glm::new(formula)?
            .family(Family::Poisson)
            .link(Link::Log)
            .cluster(cluster)
            .vcov(VcovKind::CR1))
    }

    builder_methods! {
        /// The response distribution (default binomial).
        family(&mut this, family: Family) { this.family = family; }

        /// The link (default: the family's canonical link).
        link(&mut this, link: Link) { this.link = Some(link); }

        /// A column of prior weights (positive numbers).
        weights(&mut this, column: &str) { this.weights = Some(column.to_string()); }

        /// The cluster column for cluster-robust errors (clusters are text or numeric labels).
        cluster(&mut this, column: &str) { this.cluster = Some(column.to_string()); }

        /// The variance estimator of the reported table (default model-based).
        vcov(&mut this, kind: VcovKind) { this.vcov = kind; }

        /// Confidence level of the intervals (default 0.95).
        level(&mut this, level: f64) { this.level = level; }

        /// Missing-value policy (default: complete cases).
        missing(&mut this, policy: MissingPolicy) { this.design.missing = policy; }

        /// Set the reference level of a factor column.
        reference_level(&mut this, column: &str, level: &str) { this.design.reference_levels.push((column.to_string(), level.to_string())); }

        /// IRLS controls.
        control(&mut this, control: IrlsControl) { this.control = control; }

        /// Starting coefficients, in the order of the design's columns.
        start(&mut this, start: Vec<f64>) { this.start = Some(start); }
    }

    /// The design options with the weights and cluster columns among the columns read.
    fn options(&self) -> DesignOptions {
        let mut options = self.design.clone();
        options.extra_columns.extend(self.weights.iter().cloned());
        options.extra_columns.extend(self.cluster.iter().cloned());
        options
    }

    /// Fit the model to `cohort`.
    pub fn fit(&self, cohort: &Cohort) -> Result<GlmFit> {
        let link = self.family.resolve_link(self.link)?;
        check_level(self.level)?;
        if !self.formula.random.is_empty() {
            return Err(Error::NeedsMixedModel {
                terms: self.formula.random.iter().map(|r| r.text.clone()).collect(),
            });
        }
        if self.vcov.is_clustered() && self.cluster.is_none() {
            return Err(Error::invalid(
                "cluster",
                format!(
                    "the {} estimator needs a cluster column",
                    self.vcov.describe()
                ),
            ));
        }
        let design = Design::new(cohort, &self.formula, &self.options())?;
        let prior = design.prior_weights(cohort, self.weights.as_deref())?;
        check_response(&self.formula, self.family, &design.y, &design.rows)?;
        let clusters = match &self.cluster {
            Some(c) => Some(Grouping::new(cohort, c, &design.rows)?),
            None => None,
        };
        if let Some(start) = &self.start {
            if start.len() != design.p() {
                return Err(Error::invalid(
                    "start",
                    format!(
                        "{} values given for {} coefficients ({})",
                        start.len(),
                        design.p(),
                        design.names.join(", ")
                    ),
                ));
            }
        }
        let problem = Problem {
            family: self.family,
            link,
            x: &design.x,
            y: &design.y,
            w: &prior,
            offset: design.offset.as_deref(),
        };
        let (problem, state, nb_theta) = match self.family {
            Family::NegativeBinomial(_) => {
                let (family, state, estimate) =
                    negbin::fit_nb2(&problem, self.start.as_deref(), &self.control)?;
                (Problem { family, ..problem }, state, Some(estimate))
            }
            _ => {
                let state = problem.fit(self.start.as_deref(), &self.control)?;
                (problem, state, None)
            }
        };
        let mut working_weights = vec![0.0; design.n()];
        let mut score = vec![0.0; design.n()];
        problem.working(&state.eta, &state.mu, &mut working_weights, &mut score);
        let null_deviance = null_deviance(&problem, &design, &self.control)?;
        let working = Working {
            weights: working_weights,
            score,
            null_deviance,
            nb_theta,
        };
        let frame = FitFrame::new(
            cohort,
            &self.formula,
            &self.options(),
            design.used_rows(),
            &design.names,
            clusters
                .as_ref()
                .map(|c| (c.column.as_str(), c.labels.as_slice())),
        );
        GlmFit::assemble(self, link, design, prior, clusters, state, working, frame)
    }
}

specification!(Glm => GlmFit);

/// A binary response must be 0/1, a count non-negative.
pub(crate) fn check_response(
    formula: &Formula,
    family: Family,
    y: &[f64],
    rows: &[usize],
) -> Result<()> {
    let Response::Single(expr) = &formula.response else {
        return if family == Family::Binomial {
            Ok(())
        } else {
            Err(Error::invalid(
                "family",
                "a cbind(successes, failures) response needs the binomial family",
            ))
        };
    };
    let (ok, expected): (fn(f64) -> bool, &str) = match family {
        Family::Binomial => (
            |y| y == 0.0 || y == 1.0,
            "a binary outcome must be 0 or 1; use cbind(events, trials - events) for counts",
        ),
        Family::Poisson => (|y| y >= 0.0 && y.is_finite(), "counts must be >= 0"),
        Family::Gaussian => (f64::is_finite, "values must be finite"),
        Family::NegativeBinomial(_) => (
            |y| y >= 0.0 && y.is_finite() && y.fract() == 0.0,
            "negative binomial counts must be whole numbers >= 0",
        ),
        Family::Gamma => (
            |y| y > 0.0 && y.is_finite(),
            "gamma outcomes (costs) must be positive; a patient with cost 0 needs a two-part model",
        ),
    };
    match y.iter().position(|&v| !ok(v)) {
        None => Ok(()),
        Some(k) => Err(Error::InvalidResponse {
            column: expr.to_string(),
            row: rows[k] + 1,
            value: y[k],
            family: family.to_string(),
            expected: expected.to_string(),
        }),
    }
}

/// A fitted GLM: estimates, the variance matrix of the chosen estimator, the tidy table and fit
/// statistics. Serialises to JSON (the data it was fitted to are not serialised).
#[derive(Debug, Clone, serde::Serialize)]
pub struct GlmFit {
    /// The formula as written.
    pub formula: String,
    /// Response family.
    pub family: Family,
    /// Link function.
    pub link: Link,
    /// Observations used (rows with positive weight).
    pub n_obs: usize,
    /// Rows dropped for missing values, per variable.
    pub missing: MissingReport,
    /// Tidy coefficient table (with the chosen variance estimator).
    pub coefficients: Vec<CoefRow>,
    /// Terms that were aliased (not estimable; R shows NA).
    pub aliased: Vec<String>,
    /// The variance estimator behind `coefficients`.
    pub vcov_kind: VcovKind,
    /// Its matrix, row by row, in the order of `coefficients`.
    pub vcov: Vec<Vec<f64>>,
    /// Confidence level of the intervals.
    pub level: f64,
    /// Cluster column, if any.
    pub cluster: Option<String>,
    /// Number of clusters, if a cluster column was given.
    pub n_clusters: Option<usize>,
    /// Log-likelihood at the estimate.
    pub loglik: f64,
    /// Number of estimated parameters behind the log-likelihood (coefficients, plus the
    /// variance for the Gaussian family, the shape for gamma, theta for nbinom2).
    pub loglik_df: usize,
    /// Residual deviance.
    pub deviance: f64,
    /// Deviance of the intercept-only model (with the same offset).
    pub null_deviance: f64,
    /// Akaike's information criterion, `-2 loglik + 2 loglik_df`.
    pub aic: f64,
    /// Bayesian information criterion, `-2 loglik + log(n) loglik_df`.
    pub bic: f64,
    /// Residual degrees of freedom `n - p`.
    pub df_residual: usize,
    /// Null degrees of freedom.
    pub df_null: usize,
    /// Dispersion `phi` (1 for binomial and Poisson; Pearson estimate for Gaussian).
    pub dispersion: f64,
    /// IRLS iterations used.
    pub iterations: usize,
    /// Whether IRLS met its convergence criterion.
    pub converged: bool,
    /// Set when the estimate lies on the boundary of the parameter space (log-binomial fitted
    /// risks reaching 1): the message says what that means.
    pub boundary: Option<String>,
    /// For the nbinom2 family: theta with its standard errors (MASS's `theta` and `SE.theta`).
    /// The coefficients' standard errors are at theta fixed, as MASS's; refits (bootstrap,
    /// randomisation) keep theta at this estimate.
    pub nb_theta: Option<ThetaEstimate>,
    #[serde(skip)]
    design: Design,
    #[serde(skip)]
    working_weights: Vec<f64>,
    #[serde(skip)]
    score: Vec<f64>,
    #[serde(skip)]
    theta: Vec<f64>,
    #[serde(skip)]
    fitted: Vec<f64>,
    #[serde(skip)]
    bread: DMatrix<f64>,
    #[serde(skip)]
    clusters: Option<Grouping>,
    #[serde(skip)]
    prior: Vec<f64>,
    #[serde(skip)]
    control: IrlsControl,
    #[serde(skip)]
    frame: FitFrame,
}

impl GlmFit {
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        spec: &Glm,
        link: Link,
        design: Design,
        prior: Vec<f64>,
        clusters: Option<Grouping>,
        state: IrlsState,
        working: Working,
        frame: FitFrame,
    ) -> Result<GlmFit> {
        let Working {
            weights: working_weights,
            score,
            null_deviance,
            nb_theta,
        } = working;
        let family = nb_theta.map_or(spec.family, |t| Family::NegativeBinomial(NbTheta(t.theta)));
        let gram = weighted_gram(&design.x, &working_weights);
        let bread = spd_inverse(&gram, "the information matrix X'WX").map_err(|e| {
            let top = state.mu.iter().copied().fold(0.0, f64::max);
            if family == Family::Binomial && link == Link::Log && top > 1.0 - 1e-6 {
                Error::Boundary {
                    model: "log-binomial".into(),
                    message: format!(
                        "the largest fitted risk is {top:.8} (risks must stay below 1) and the \
                         information matrix there is singular, so no standard errors exist; use \
                         the modified Poisson model (Glm::modified_poisson) for relative risks"
                    ),
                }
            } else {
                e
            }
        })?;
        check_separation(
            family,
            link,
            &design.x,
            &design.names,
            &design.y,
            &state.mu,
            &bread,
        )?;
        let boundary = boundary_message(family, link, &state);
        if !state.converged && boundary.is_none() {
            return Err(Error::NotConverged {
                what: format!("IRLS for the {family} {link} model"),
                iterations: state.iterations,
                criterion: state.criterion,
            });
        }
        let n_obs = prior.iter().filter(|w| **w > 0.0).count();
        let p = design.p();
        let df_residual = n_obs.saturating_sub(p);
        let dispersion = dispersion(family, &design.y, &state.mu, &prior, df_residual);
        let loglik = family.loglik_total(&design.y, &state.mu, &prior, state.deviance);
        let loglik_df = p + family.extra_parameters();
        let theta = working_variances(family, &state.mu, &prior);
        let mut fit = GlmFit {
            formula: spec.formula.text.clone(),
            family,
            link,
            n_obs,
            missing: design.missing.clone(),
            coefficients: Vec::new(),
            aliased: design.aliased.clone(),
            vcov_kind: spec.vcov,
            vcov: Vec::new(),
            level: spec.level,
            cluster: spec.cluster.clone(),
            n_clusters: clusters.as_ref().map(Grouping::len),
            loglik,
            loglik_df,
            deviance: state.deviance,
            null_deviance,
            aic: -2.0 * loglik + 2.0 * loglik_df as f64,
            bic: -2.0 * loglik + (n_obs as f64).ln() * loglik_df as f64,
            df_residual,
            df_null: n_obs - usize::from(design.intercept),
            dispersion,
            iterations: state.iterations,
            converged: state.converged,
            boundary,
            nb_theta,
            design,
            working_weights,
            score,
            theta,
            fitted: state.mu,
            bread,
            clusters,
            prior,
            control: spec.control,
            frame,
        };
        let v = fit.vcov_matrix(spec.vcov)?;
        fit.coefficients = fit.table(&state.beta, &v, spec.vcov, spec.level)?;
        fit.vcov = v.row_iter().map(|r| r.iter().copied().collect()).collect();
        Ok(fit)
    }

    /// Coefficient estimates in design order.
    pub fn coef(&self) -> Vec<f64> {
        self.coefficients.iter().map(|r| r.estimate).collect()
    }

    /// Coefficient names (R's).
    pub fn names(&self) -> &[String] {
        &self.design.names
    }

    /// The coefficient row of `term`, or an error naming the terms there are.
    pub fn term(&self, term: &str) -> Result<&CoefRow> {
        find_term(&self.coefficients, term)
    }

    /// Fitted means `mu` for the rows used.
    pub fn fitted(&self) -> &[f64] {
        &self.fitted
    }

    /// The variance matrix of another estimator, from the same fit.
    pub fn vcov_matrix(&self, kind: VcovKind) -> Result<DMatrix<f64>> {
        let parts = SandwichParts {
            x: &self.design.x,
            weights: &self.working_weights,
            score: &self.score,
            theta: &self.theta,
            bread: &self.bread,
            dispersion: self.dispersion,
            n_obs: self.n_obs,
        };
        vcov(&parts, kind, self.clusters.as_ref())
    }

    /// The variance matrix of the fit's estimator at the end of IRLS on another `problem` with
    /// the fit's rows, prior weights and clusters (a refit under another assignment).
    fn vcov_at(&self, problem: &Problem<'_>, state: &IrlsState) -> Result<DMatrix<f64>> {
        let n = problem.y.len();
        let mut weights = vec![0.0; n];
        let mut score = vec![0.0; n];
        problem.working(&state.eta, &state.mu, &mut weights, &mut score);
        let bread = spd_inverse(
            &weighted_gram(problem.x, &weights),
            "the information matrix X'WX",
        )?;
        let parts = SandwichParts {
            x: problem.x,
            weights: &weights,
            score: &score,
            theta: &working_variances(self.family, &state.mu, problem.w),
            bread: &bread,
            dispersion: dispersion(
                self.family,
                problem.y,
                &state.mu,
                problem.w,
                self.df_residual,
            ),
            n_obs: self.n_obs,
        };
        vcov(&parts, self.vcov_kind, self.clusters.as_ref())
    }

    /// The coefficient table with another variance estimator and level.
    pub fn tidy_with(&self, kind: VcovKind, level: f64) -> Result<Vec<CoefRow>> {
        let v = self.vcov_matrix(kind)?;
        self.table(&self.coef(), &v, kind, level)
    }

    /// Degrees of freedom of the reference distribution for `kind`: t on G - 1 for
    /// cluster-robust errors, t on n - p for the Gaussian family, otherwise the normal (`None`).
    pub fn reference_df(&self, kind: VcovKind) -> Option<f64> {
        if kind.is_clustered() {
            self.n_clusters.map(|g| g as f64 - 1.0)
        } else if self.family.fixed_dispersion() {
            None
        } else {
            Some(self.df_residual as f64)
        }
    }

    fn table(
        &self,
        beta: &[f64],
        v: &DMatrix<f64>,
        kind: VcovKind,
        level: f64,
    ) -> Result<Vec<CoefRow>> {
        let variances: Vec<f64> = (0..beta.len()).map(|j| v[(j, j)]).collect();
        coef_table(
            &self.design.names,
            beta,
            &variances,
            self.reference_df(kind),
            level,
            self.link.exponentiates(),
        )
    }
}

/// The dispersion `phi`: 1 for the binomial and Poisson families, else the Pearson estimate
/// `sum w (y - mu)^2 / V(mu) / df_residual`.
fn dispersion(family: Family, y: &[f64], mu: &[f64], prior: &[f64], df_residual: usize) -> f64 {
    if family.fixed_dispersion() {
        return 1.0;
    }
    let pearson: f64 = (0..y.len())
        .map(|i| prior[i] * (y[i] - mu[i]).powi(2) / family.variance(mu[i]))
        .sum();
    pearson / df_residual.max(1) as f64
}

/// The working variances `V(mu_i) / w_i` (CR2's `theta`).
fn working_variances(family: Family, mu: &[f64], prior: &[f64]) -> Vec<f64> {
    mu.iter()
        .zip(prior)
        .map(|(&m, &w)| family.variance(m) / w)
        .collect()
}

/// What the variance estimators need from the last IRLS state, and the null deviance.
struct Working {
    weights: Vec<f64>,
    score: Vec<f64>,
    null_deviance: f64,
    /// The nbinom2 theta.
    nb_theta: Option<ThetaEstimate>,
}

/// Deviance of the intercept-only model (or of the offset alone without an intercept), as R's
/// `glm.fit` computes it.
fn null_deviance(problem: &Problem<'_>, design: &Design, control: &IrlsControl) -> Result<f64> {
    let n = design.n();
    let (y, w, family) = (problem.y, problem.w, problem.family);
    if !design.intercept {
        return Ok((0..n)
            .map(|i| {
                family.deviance(
                    y[i],
                    problem
                        .link
                        .inverse(design.offset.as_ref().map_or(0.0, |o| o[i])),
                    w[i],
                )
            })
            .sum());
    }
    if design.offset.is_none() {
        let mean = (0..n).map(|i| w[i] * y[i]).sum::<f64>() / w.iter().sum::<f64>();
        return Ok((0..n).map(|i| family.deviance(y[i], mean, w[i])).sum());
    }
    let ones = DMatrix::from_element(n, 1, 1.0);
    let null = Problem {
        x: &ones,
        ..*problem
    };
    Ok(null.fit(None, control)?.deviance)
}

/// Fitted means at the edge of their range with coefficients whose standard errors explode:
/// the maximum-likelihood estimate does not exist. Names the terms involved.
pub(crate) fn check_separation(
    family: Family,
    link: Link,
    x: &DMatrix<f64>,
    names: &[String],
    y: &[f64],
    mu: &[f64],
    bread: &DMatrix<f64>,
) -> Result<()> {
    const EDGE: f64 = 1e-8;
    let at_edge = mu.iter().zip(y).any(|(&mu, &y)| match family {
        Family::Binomial => {
            (mu < EDGE && y == 0.0) || (link != Link::Log && mu > 1.0 - EDGE && y == 1.0)
        }
        Family::Poisson | Family::NegativeBinomial(_) => mu < EDGE && y == 0.0,
        Family::Gaussian | Family::Gamma => false,
    });
    if !at_edge {
        return Ok(());
    }
    let n = x.nrows() as f64;
    let terms: Vec<String> = (0..x.ncols())
        .filter(|&j| {
            let rms = (x.column(j).iter().map(|v| v * v).sum::<f64>() / n).sqrt();
            bread[(j, j)].sqrt() * rms > 50.0
        })
        .map(|j| names[j].clone())
        .collect();
    if terms.is_empty() {
        Ok(())
    } else {
        Err(Error::Separation { terms })
    }
}

/// Maximum-likelihood coefficients of a GLM given as matrices (for starting values of the mixed
/// model, fitted on its collapsed patterns), with the same separation check as [`Glm::fit`].
/// Converged to R's `glm` default tolerance (relative deviance change below 1e-8): a start needs
/// no more.
pub(crate) fn fit_coefficients(
    family: Family,
    link: Link,
    x: &DMatrix<f64>,
    names: &[String],
    y: &[f64],
    w: &[f64],
    offset: Option<&[f64]>,
) -> Result<Vec<f64>> {
    let problem = Problem {
        family,
        link,
        x,
        y,
        w,
        offset,
    };
    let control = IrlsControl {
        epsilon: 1e-8,
        ..IrlsControl::default()
    };
    let state = problem.fit(None, &control)?;
    check_state_separation(&problem, &state, names)?;
    Ok(state.beta)
}

/// [`check_separation`] where IRLS on `problem` ended (`state`; `names` are the columns'), with
/// the variance from the working weights there.
fn check_state_separation(
    problem: &Problem<'_>,
    state: &IrlsState,
    names: &[String],
) -> Result<()> {
    let n = problem.y.len();
    let (mut weights, mut score) = (vec![0.0; n], vec![0.0; n]);
    problem.working(&state.eta, &state.mu, &mut weights, &mut score);
    let bread = spd_inverse(
        &weighted_gram(problem.x, &weights),
        "the information matrix X'WX",
    )?;
    check_separation(
        problem.family,
        problem.link,
        problem.x,
        names,
        problem.y,
        &state.mu,
        &bread,
    )
}

/// For the log-binomial model: a message when fitted risks reach 1 (the maximum is on the
/// boundary of the parameter space).
pub(crate) fn boundary_message(family: Family, link: Link, state: &IrlsState) -> Option<String> {
    if family != Family::Binomial || link != Link::Log {
        return None;
    }
    let top = state.mu.iter().copied().fold(0.0, f64::max);
    (top > 1.0 - 1e-6 || state.stalled).then(|| {
        format!(
            "the maximum-likelihood estimate is on the boundary of the parameter space: the largest \
             fitted risk is {top:.8} (risks must stay below 1). The estimates maximise the likelihood \
             over valid risks, but Wald standard errors do not apply at the boundary; consider the \
             modified Poisson model (Glm::modified_poisson) for relative risks"
        )
    })
}
