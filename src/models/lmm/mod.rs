//! Linear mixed models for continuous outcomes (costs): REML (default) or maximum likelihood,
//! with Satterthwaite degrees of freedom for the fixed effects, as lme4's `lmer` and lmerTest.
//!
//! The model: `y_ij = x_ij' beta + z_ij' b_i + e_ij`, `b_i ~ N(0, Sigma)`, `e_ij ~ N(0,
//! sigma^2)`, with the random-effect terms of the formula: a random cluster intercept
//! `(1 | cluster)`, nested cluster-period intercepts `(1 | cluster) + (1 | cluster:period)`,
//! correlated effects `(1 + treated | cluster)`, or any number of terms as lme4's `lmer`:
//! crossed grouping factors (patients by hospital and by municipality, `(1 | hospital) +
//! (1 | municipality)`; lme4's Penicillin `(1 | plate) + (1 | sample)`), partially crossed, each
//! term scalar or correlated. `Sigma = sigma^2 Lambda Lambda'`, theta the entries of Lambda
//! (lme4's theta: for intercepts, each SD relative to sigma).
//!
//! Crossed terms do not split the rows into independent clusters: their likelihood is that of
//! one group of all rows, computed with a sparse Cholesky factor (see `profile`). Their fits
//! have the same inference (Satterthwaite or Kenward-Roger); the analyses that resample or
//! average over the clusters of one grouping factor (standardised effects, the cluster
//! bootstrap, randomisation tests) refuse them with [`Error::UnsupportedFormula`].
//!
//! Estimation (see `profile` in the source for the formulas): beta and sigma are profiled out, the
//! REML criterion (or the deviance, `Lmm::reml(false)`) is minimised over theta by Newton's
//! method with standard deviations held at or above 0; a standard deviation at 0 is reported and
//! the fit flagged singular. Inference: `Var(beta^) = sigma^2 (X'V^{-1}X)^{-1}`, t tests and
//! intervals on Satterthwaite degrees of freedom (lmerTest's default; see `satterthwaite`), or,
//! with [`DfMethod::KenwardRoger`] (REML fits), the Kenward-Roger adjusted covariance `Phi_A`
//! and its degrees of freedom (pbkrtest's; see `kenward_roger`); any REML fit also gives the
//! Kenward-Roger F test of `L beta = 0` ([`LmmFit::kenward_roger_test`]).

mod kenward_roger;
mod optimize;
mod profile;
mod satterthwaite;
mod summary;

use std::collections::BTreeMap;
use std::sync::Arc;

use nalgebra::DMatrix;

use crate::core::builder::builder_methods;
use crate::core::error::{Error, Result};
use crate::core::linalg::spd_inverse;
use crate::data::Cohort;
use crate::frame::counterfactual::FitFrame;
use crate::frame::design::{Design, DesignOptions, MissingPolicy, MissingReport, UsedRows};
use crate::frame::formula::Formula;
use crate::frame::random_effects::{RandomSetup, ThetaStructure};
use crate::models::coef_table::{check_level, coef_table, CoefRow};
use crate::models::fitted::{
    field_accessors, find_term, specification, Assignment, Fitted, LoglikKind, Parameters, Refit,
    RowUnits,
};
use crate::models::glm::{check_response, Family, Link};
use crate::models::newton::{EvaluationRecord, OptimisationSummary};
use crate::models::variance_components::{
    canonical_theta, no_clusters_error, variance_components, RandomEffectCorrelation,
    RandomEffectSd,
};
use crate::models::vcov::VcovKind;
use kenward_roger::KenwardRoger;
pub use kenward_roger::KenwardRogerTest;
use optimize::minimise;
use profile::Statistics;
use satterthwaite::{satterthwaite_df, Satterthwaite};

/// The covariance of the fixed effects and the degrees of freedom of their t tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum DfMethod {
    /// `sigma^2 (X'V^{-1}X)^{-1}` with Satterthwaite's df, as lmerTest's default.
    #[default]
    Satterthwaite,
    /// Kenward and Roger's adjusted covariance `Phi_A` (larger than the unadjusted one: it
    /// adds the uncertainty of the variance parameters and corrects the bias of plugging them
    /// in) with their df, as pbkrtest and `summary(fit, ddf = "Kenward-Roger")`; REML fits
    /// only.
    KenwardRoger,
}

/// A linear mixed model specification.
#[derive(Debug, Clone)]
pub struct Lmm {
    formula: Formula,
    reml: bool,
    level: f64,
    df: DfMethod,
    design: DesignOptions,
}

impl Lmm {
    /// A linear mixed model of `formula`, which needs a random-effect term; REML by default.
    pub fn new(formula: &str) -> Result<Lmm> {
        Ok(Lmm {
            formula: Formula::parse(formula)?,
            reml: true,
            level: 0.95,
            df: DfMethod::Satterthwaite,
            design: DesignOptions::default(),
        })
    }

    builder_methods! {
        /// REML (true, the default, as `lmer`) or maximum likelihood (false, `REML = FALSE`; use it
        /// to compare models with different fixed effects by likelihood ratio).
        reml(&mut this, reml: bool) { this.reml = reml; }

        /// Confidence level of the intervals (default 0.95).
        level(&mut this, level: f64) { this.level = level; }

        /// The covariance and df of the fixed effects' t tests (default Satterthwaite);
        /// Kenward-Roger needs a REML fit.
        df(&mut this, method: DfMethod) { this.df = method; }

        /// Missing-value policy.
        missing(&mut this, policy: MissingPolicy) { this.design.missing = policy; }

        /// Reference level of a factor.
        reference_level(&mut this, column: &str, level: &str) { this.design.reference_levels.push((column.to_string(), level.to_string())); }
    }

    /// Fit the model.
    pub fn fit(&self, cohort: &Cohort) -> Result<LmmFit> {
        check_level(self.level)?;
        if self.df == DfMethod::KenwardRoger && !self.reml {
            return Err(Error::invalid(
                "df",
                "Kenward-Roger needs a REML fit (pbkrtest refits a maximum-likelihood fit by \
                 REML): not with reml(false) or --ml",
            ));
        }
        let used = UsedRows::new(cohort, &self.formula, &self.design)?;
        let mut design = Design::on_rows(cohort, &self.formula, &self.design, used)?;

        if !design.aliased.is_empty() {
            return Err(Error::Confounded {
                terms: design.aliased.clone(),
                with: "the other fixed effects".into(),
                reason: "each is a linear combination of earlier columns (R reports NA for it)"
                    .into(),
            });
        }
        check_response(&self.formula, Family::Gaussian, &design.y, &design.rows)?;
        let mut random = RandomSetup::new(cohort, &self.formula, &design)?;
        let (n, p) = design.x.shape();
        if n <= p {
            return Err(Error::too_few(
                format!(
                    "{}: the residual variance with {p} fixed effects",
                    self.formula.text
                ),
                "rows",
                n,
                p + 1,
            ));
        }
        // The rows are kept for refits; the design and setup need them no more.
        let rows = LmmRows {
            x: std::mem::replace(&mut design.x, DMatrix::zeros(0, 0)),
            y: design.y.clone(),
            z: std::mem::replace(&mut random.z, DMatrix::zeros(0, 0)),
            codes: random.groups.codes.clone(),
        };
        let stats = rows.statistics(&rows.x, &rows.y, random.structure.clone());
        let start = random.structure.start();
        let minimum = minimise(&stats, self.reml, start)?;
        let theta = minimum.theta.clone();
        let at = stats.at(&theta)?;
        let sigma = (at.rss / stats.residual_count(self.reml)).sqrt();
        let (vcov, df, kenward_roger) = match self.df {
            DfMethod::Satterthwaite => {
                let unscaled = spd_inverse(&at.m, "X'V^{-1}X")?;
                let df = satterthwaite_df(&stats, self.reml, &theta, sigma, &minimum.at_zero)?;
                (unscaled * (sigma * sigma), df, None)
            }
            DfMethod::KenwardRoger => {
                let kr = KenwardRoger::new(&stats, &theta, sigma)?;
                let df = (0..p)
                    .map(|j| Ok(kr.ddf_scale(&unit_row(p, j))?.ddf))
                    .collect::<Result<Vec<f64>>>()?;
                (kr.adjusted().clone(), df, Some(kr))
            }
        };
        let mut coefficients = Vec::with_capacity(p);
        for j in 0..p {
            coefficients.extend(coef_table(
                &design.names[j..=j],
                &[at.beta[j]],
                &[vcov[(j, j)]],
                Some(df[j]),
                self.level,
                false,
            )?);
        }
        let theta = canonical_theta(&random.structure, &theta);
        let scaled: Vec<f64> = theta.iter().map(|t| t * sigma).collect();
        let lam = random.structure.lambda(&scaled);
        let (random_effects, correlations) =
            variance_components(&random, &scaled, &(&lam * lam.transpose()));
        let n_params = p + theta.len() + 1;
        let criterion = minimum.value;
        let psi = at.beta.iter().chain(&minimum.theta).copied().collect();
        let at_zero = minimum.at_zero.clone();
        let frame = FitFrame::new(
            cohort,
            &self.formula,
            &self.design,
            design.used_rows(),
            &design.names,
            (!random.is_general()).then_some((&random.groups.column, &random.groups.labels)),
        );
        let n_clusters = random.groups.len();
        let fit = LmmFit {
            formula: self.formula.text.clone(),
            reml: self.reml,
            df_method: self.df,
            n_obs: n,
            n_groups: random.n_groups.iter().cloned().collect(),
            missing: design.missing.clone(),
            level: self.level,
            coefficients,
            vcov: vcov
                .row_iter()
                .map(|r| r.iter().copied().collect())
                .collect(),
            random_effects,
            correlations,
            residual_sd: sigma,
            theta,
            criterion,
            loglik: -criterion / 2.0,
            df: n_params,
            aic: criterion + 2.0 * n_params as f64,
            bic: criterion + (n as f64).ln() * n_params as f64,
            converged: minimum.maximum.converged,
            singular: !minimum.at_zero.is_empty(),
            iterations: minimum.maximum.iterations,
            evaluations: minimum.maximum.log.len(),
            optimisation: minimum.maximum.summary(),
            log: minimum.maximum.log,
            state: Arc::new(LmmState {
                stats,
                psi,
                at_zero,
                kenward_roger,
                n_clusters,
                frame,
                rows,
            }),
        };
        Ok(fit)
    }
}

specification!(Lmm => LmmFit);

/// What a fitted linear mixed model keeps for the analyses of the fit: the per-cluster
/// sufficient statistics (a cluster sample's are sums of its clusters'), the estimate
/// `(beta, theta)` that refits start from, and the rows it used.
pub(crate) struct LmmState {
    stats: Statistics,
    /// `(beta, theta)`.
    psi: Vec<f64>,
    /// The thetas held at 0 (left out of the Satterthwaite df).
    at_zero: Vec<usize>,
    /// The Kenward-Roger adjustment of a fit with `DfMethod::KenwardRoger`.
    kenward_roger: Option<KenwardRoger>,
    n_clusters: usize,
    frame: FitFrame,
    /// The rows, for refits under another assignment of the treatment.
    rows: LmmRows,
}

/// The rows of a linear mixed model: design, response, random-effect rows and clusters.
struct LmmRows {
    x: DMatrix<f64>,
    y: Vec<f64>,
    z: DMatrix<f64>,
    codes: Vec<usize>,
}

impl LmmRows {
    /// The sufficient statistics of these rows with the design `x` and response `y` (the rows'
    /// own, or those of another assignment).
    fn statistics(&self, x: &DMatrix<f64>, y: &[f64], structure: ThetaStructure) -> Statistics {
        let n_clusters = self.codes.iter().max().map_or(0, |&g| g + 1);
        Statistics::new(x, y, &self.z, &self.codes, n_clusters, structure)
    }
}

/// Printed by size only: a fit's debug output need not list its sufficient statistics.
impl std::fmt::Debug for LmmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LmmState {{ {} clusters }}", self.n_clusters)
    }
}

impl Fitted for LmmFit {
    type Workspace = ();

    field_accessors!();

    /// With the identity link the random effects average out: standardised means are those at
    /// random effects 0, and theta's variance does not enter (its rows and columns are 0).
    fn parameters(&self) -> Result<Parameters> {
        self.check_clustered()?;
        let psi = self.state.psi.clone();
        let n_params = psi.len();
        let mut vcov = DMatrix::zeros(n_params, n_params);
        for (i, row) in self.vcov.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                vcov[(i, j)] = *v;
            }
        }
        Ok(Parameters {
            psi,
            vcov,
            vcov_kind: VcovKind::Model,
            reference_df: None,
            link: Link::Identity,
            mixed: true,
        })
    }

    fn n_clusters(&self) -> usize {
        self.state.n_clusters
    }

    /// The REML criterion's for a REML fit: not comparable between models with different fixed
    /// effects.
    fn loglik_kind(&self) -> LoglikKind {
        if self.reml {
            LoglikKind::Restricted
        } else {
            LoglikKind::Full
        }
    }

    /// The df of `contrast' beta` by the fit's method, the reference of its own t tests:
    /// lmerTest's Satterthwaite df (`contest1D(fit, contrast, ddf = "Satterthwaite")`) or the
    /// Kenward-Roger df (`ddf = "Kenward-Roger"`, pbkrtest's `get_Lb_ddf`).
    fn contrast_df(&self, contrast: &[f64]) -> Result<Option<f64>> {
        let p = self.coefficients.len();
        if let Some(kr) = &self.state.kenward_roger {
            let l = contrast_row(contrast, p)?;
            return Ok(Some(kr.ddf_scale(&l)?.ddf));
        }
        let theta = &self.state.psi[p..];
        let satterthwaite = Satterthwaite::new(
            &self.state.stats,
            self.reml,
            theta,
            self.residual_sd,
            &self.state.at_zero,
        )?;
        Ok(Some(satterthwaite.df(contrast)?))
    }

    fn frame(&self) -> &FitFrame {
        &self.state.frame
    }

    fn workspace(&self) {}

    /// The minimisation starts at the full-data theta; if it does not converge, again at the
    /// main fit's start (every SD 1, correlations 0).
    fn refit(&self, clusters: &[usize], _: &mut ()) -> Result<Vec<f64>> {
        self.check_clustered()?;
        let stats = self.state.stats.resample(clusters);
        let minimum = self.minimise_from_fit(&stats, "on a bootstrap sample")?;
        let at = stats.at(&minimum.theta)?;
        Ok(at.beta.iter().chain(&minimum.theta).copied().collect())
    }

    type Assignable = RowUnits;

    fn assignable(&self, _: &Cohort, column: usize, units: &[u32]) -> Result<RowUnits> {
        self.check_clustered()?;
        let x = &self.state.rows.x;
        RowUnits::new(x.nrows(), x.ncols(), column, units)
    }

    /// With the identity link the shifted null's offset `d x_obs` is `y - d x_obs`. The
    /// minimisation starts at the fit's theta (then at the main fit's start); the standard
    /// errors are `sqrt(diag(sigma^2 (X'V^{-1}X)^{-1}))`, or the Kenward-Roger adjusted ones
    /// under `DfMethod::KenwardRoger` (as the fit's own, so that a Wald statistic is the same
    /// statistic under every assignment).
    fn refit_assigned(
        &self,
        on: &RowUnits,
        assignment: &Assignment<'_>,
        _: &mut (),
    ) -> Result<Refit> {
        on.check(assignment)?;
        let rows = &self.state.rows;
        let j = on.column;
        let mut x = rows.x.clone();
        let mut y = rows.y.clone();
        for (i, y) in y.iter_mut().enumerate() {
            x[(i, j)] = on.value(i, assignment);
            *y -= assignment.shift * rows.x[(i, j)];
        }
        let stats = rows.statistics(&x, &y, self.state.stats.structure.clone());
        let p = self.coefficients.len();
        let minimum = self.minimise_from_fit(&stats, "under another assignment")?;
        let at = stats.at(&minimum.theta)?;
        let std_errors = if assignment.std_errors {
            let sigma2 = at.rss / stats.residual_count(self.reml);
            let vcov = match self.df_method {
                DfMethod::Satterthwaite => spd_inverse(&at.m, "X'V^{-1}X")? * sigma2,
                DfMethod::KenwardRoger => KenwardRoger::new(&stats, &minimum.theta, sigma2.sqrt())?
                    .adjusted()
                    .clone(),
            };
            Some((0..p).map(|k| vcov[(k, k)].sqrt()).collect())
        } else {
            None
        };
        Ok(Refit {
            psi: at.beta.iter().chain(&minimum.theta).copied().collect(),
            std_errors,
            singular: !minimum.at_zero.is_empty(),
        })
    }
}

/// A fitted linear mixed model.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LmmFit {
    /// The formula as written.
    pub formula: String,
    /// REML (true) or maximum likelihood.
    pub reml: bool,
    /// Rows used.
    pub n_obs: usize,
    /// Groups per grouping factor.
    pub n_groups: BTreeMap<String, usize>,
    /// Rows dropped for missing values.
    pub missing: MissingReport,
    /// Confidence level.
    pub level: f64,
    /// Fixed effects with t tests and intervals on Satterthwaite degrees of freedom, or with
    /// Kenward-Roger's adjusted standard errors and df (`df_method`).
    pub coefficients: Vec<CoefRow>,
    /// Variance matrix of the fixed effects, row by row.
    pub vcov: Vec<Vec<f64>>,
    /// Random-effect standard deviations (absolute, not relative to sigma).
    pub random_effects: Vec<RandomEffectSd>,
    /// Correlations of correlated random effects (`(1 + Days | Subject)`).
    pub correlations: Vec<RandomEffectCorrelation>,
    /// Residual standard deviation sigma.
    pub residual_sd: f64,
    /// lme4's theta: the entries of Lambda (random-effect SDs relative to sigma).
    pub theta: Vec<f64>,
    /// The REML criterion (REML fits) or the deviance `-2 log-likelihood` (ML fits), as lme4's
    /// `REMLcrit` / `deviance`.
    pub criterion: f64,
    /// `-criterion / 2`: the REML or ML log-likelihood, as lme4's `logLik`.
    pub loglik: f64,
    /// Parameters counted in AIC and BIC: fixed effects, theta and sigma.
    pub df: usize,
    /// `criterion + 2 df`.
    pub aic: f64,
    /// `criterion + log(n) df`.
    pub bic: f64,
    /// The covariance and df of the fixed effects: `vcov` and `coefficients` are Kenward-Roger's
    /// adjusted ones under `DfMethod::KenwardRoger`.
    pub df_method: DfMethod,
    /// Whether the minimisation met its criterion.
    pub converged: bool,
    /// Whether a random-effect SD is estimated as 0.
    pub singular: bool,
    /// Newton iterations.
    pub iterations: usize,
    /// Evaluations of the criterion (each with its gradient).
    pub evaluations: usize,
    /// Every evaluation: the log-likelihood `-criterion / 2` and the largest gradient entry.
    pub log: Vec<EvaluationRecord>,
    /// The maximisation of `-criterion / 2` over theta: start, end, settings, iterations,
    /// convergence.
    pub optimisation: OptimisationSummary,
    /// What refits of the fit start from.
    #[serde(skip)]
    state: Arc<LmmState>,
}

impl LmmFit {
    /// The analyses of a fit (standardised effects, cluster bootstrap, randomisation tests)
    /// average over and resample the clusters of one grouping factor: a model with several
    /// random-effect terms (crossed) has none, and is refused with an error naming its terms.
    fn check_clustered(&self) -> Result<()> {
        if !self.state.stats.is_general() {
            return Ok(());
        }
        Err(no_clusters_error(
            &self.formula,
            self.n_groups.keys().map(String::as_str),
        ))
    }

    /// The minimum of the criterion of `stats` (a refit's) from the fit's theta, then from the
    /// main fit's start; `what` says which refit in the error when neither converges.
    fn minimise_from_fit(&self, stats: &Statistics, what: &str) -> Result<optimize::Minimum> {
        let p = self.coefficients.len();
        let mut minimum = minimise(stats, self.reml, self.state.psi[p..].to_vec())?;
        if !minimum.maximum.converged {
            minimum = minimise(stats, self.reml, stats.structure.start())?;
        }
        if !minimum.maximum.converged {
            return Err(Error::NotConverged {
                what: format!("the linear mixed model {what}"),
                iterations: minimum.maximum.iterations,
                criterion: 0.0,
            });
        }
        Ok(minimum)
    }

    /// The coefficient row of `term`, or an error naming the terms there are.
    pub fn term(&self, term: &str) -> Result<&CoefRow> {
        find_term(&self.coefficients, term)
    }

    /// The Kenward-Roger F test of `L beta = 0` (`l`: one row of p weights per constraint,
    /// linearly independent rows; pbkrtest's `KRmodcomp(fit, L)`), whatever the fit's
    /// `df_method`; REML fits only.
    pub fn kenward_roger_test(&self, l: &[Vec<f64>]) -> Result<KenwardRogerTest> {
        if !self.reml {
            return Err(Error::invalid(
                "kenward_roger_test",
                "Kenward-Roger needs a REML fit (this one is maximum likelihood)",
            ));
        }
        let p = self.coefficients.len();
        if l.is_empty() {
            return Err(Error::invalid("L", "has no rows"));
        }
        let mut matrix = DMatrix::zeros(l.len(), p);
        for (i, row) in l.iter().enumerate() {
            matrix.set_row(i, &contrast_row(row, p)?.row(0));
        }
        let beta: Vec<f64> = self.state.psi[..p].to_vec();
        match &self.state.kenward_roger {
            Some(kr) => kr.test(&matrix, &beta),
            None => {
                let kr =
                    KenwardRoger::new(&self.state.stats, &self.state.psi[p..], self.residual_sd)?;
                kr.test(&matrix, &beta)
            }
        }
    }
}

/// The unit row `e_j'` of p columns.
fn unit_row(p: usize, j: usize) -> DMatrix<f64> {
    let mut l = DMatrix::zeros(1, p);
    l[(0, j)] = 1.0;
    l
}

/// A contrast of p finite weights as a 1 x p row, or an error.
fn contrast_row(contrast: &[f64], p: usize) -> Result<DMatrix<f64>> {
    if contrast.len() != p {
        return Err(Error::invalid(
            "contrast",
            format!(
                "has {} entries, the model has {p} fixed effects",
                contrast.len()
            ),
        ));
    }
    if contrast.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid("contrast", "has a non-finite entry"));
    }
    Ok(DMatrix::from_row_slice(1, p, contrast))
}
