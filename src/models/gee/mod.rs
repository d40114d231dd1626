//! Population-averaged (marginal) models of clustered binary, count and continuous outcomes
//! fitted by generalized estimating equations (GEE), with the correlation parameters from
//! moment (UEE) or matrix-adjusted (MAEE) estimating equations and bias-corrected sandwich
//! variances for few clusters, as geeCRT's `geemaee` (Yu, Li, Rathouz, Turner & Preisser 2021).
//!
//! **The marginal model.** For patient j of cluster i, `g(mu_ij) = x_ij' beta` with
//! `mu_ij = E[y_ij]` averaged over the clusters (population-averaged: the odds ratio, relative
//! risk or risk difference of a logit, log or identity link compares the population's risks,
//! not a cluster's), `Var(y_ij) = phi v(mu_ij) / w_ij` with the family's variance function
//! (binomial `mu (1 - mu)` with `phi = 1`; Poisson `mu`; Gaussian 1) and prior weight w, and
//! the working covariance of a cluster `V_i = S_i R_i(alpha) S_i`, `S_i = diag(sqrt(Var(y_ij)))`,
//! with correlations `corr(y_ij, y_ik) = gamma_ijk(alpha)`. For counts and Gaussian outcomes
//! the scale is geeCRT's bias-adjusted moment estimate `phi = sum_ij w r (r + (D_i t_i)_j) / v
//! / (N - p)` (the MAEE adjustment t below; `(r + D t)` is `(I - H_i)^{-1} r` under
//! independence), updated at each iteration.
//!
//! **Working correlations** ([`WorkingCorrelation`]; for a cross-sectional stepped wedge, where
//! each period has other patients, and for closed cohorts):
//! - independence: `gamma = 0`;
//! - exchangeable: `gamma = alpha` for any two patients of a cluster;
//! - nested exchangeable (Li, Turner & Preisser 2018): `alpha0` for two patients of the same
//!   cluster-period, `alpha1` for two of different periods;
//! - block exchangeable (closed cohort): `alpha0` same period, different patients; `alpha1`
//!   different periods and patients; `alpha2` the same patient in different periods;
//! - exponential decay (Li 2020; Kasza et al. 2019): `alpha0` within a cluster-period,
//!   `alpha0 rho^|s-t|` between its periods s and t (the distance counted between the sorted
//!   levels of the period column), `0 < rho < 1`;
//! - any of them held at given values ([`Gee::fixed_correlation`], geepack's `fixed`).
//!
//! The model fitted on cluster-period means ([`Gee::cluster_period_means`], Li, Yu, Rathouz,
//! Turner & Preisser 2022; geeCRT's `cpgeeSWD`) takes the exchangeable, nested exchangeable and
//! decay ones for binary outcomes; see `cluster_period.rs` for its equations.
//!
//! **Estimating equations.** `U_beta = sum_i D_i' V_i^{-1} (y_i - mu_i) = 0`, `D_i = dmu_i/dbeta`.
//! With standardised residuals `e_ij = (y_ij - mu_ij) / sqrt(Var(y_ij))`, the correlation
//! equations are `U_alpha = sum_i sum_{j<k} z_ijk (r_ijk - gamma_ijk) / w_ijk = 0` with
//! `z = dgamma/dalpha` (a unit vector for the structures linear in alpha; `(rho^d, alpha0 d
//! rho^(d-1))` for the decay at distance d) and the variance of the product: for binary
//! outcomes `w_ijk = 1 + (1 - 2 mu_ij)(1 - 2 mu_ik) gamma_ijk / sqrt(v_ij v_ik) - gamma_ijk^2`
//! (Prentice 1988), for Gaussian ones `1 + gamma^2` (geeCRT's continuous MAEE), for counts 1.
//! UEE uses `r_ijk = e_ij e_ik`. MAEE (Preisser, Lu & Qaqish 2008) corrects the
//! products for the bias of residuals at an estimate: `E[(y - mu)(y - mu)'] ~ (I - H_i) V_i`, so
//! `r_ijk = [C_i e_i]_j e_ik` with `C_i = S_i^{-1} V_i (V_i - Omega_i)^{-1} S_i` and
//! `Omega_i = D_i (sum_l D_l' V_l^{-1} D_l)^{-1} D_i'`; pairs are taken with j before k in the
//! cohort's row order, as geeCRT takes them. The equations are solved by Fisher scoring, beta and
//! alpha updated together (`beta += (sum D'V^{-1}D)^{-1} U_beta`,
//! `alpha += (sum z z'/w)^{-1} U_alpha`), from the independence GEE (a GLM) and `alpha = 0.01`.
//!
//! **Variances** ([`SeKind`]), with `A = sum_i A_i` the information of (beta, alpha) (its alpha
//! row holding `sum z (-dr/dbeta)'/w`, geeCRT's approximation), per-cluster scores `U_i` and
//! `B = A^{-1}`:
//! - model-based: `(sum_i D_i' V_i^{-1} D_i)^{-1}` (beta only);
//! - robust (BC0, Liang & Zeger 1986; Prentice 1988 for alpha): `B (sum U_i U_i') B'`;
//! - KC (Kauermann & Carroll 2001): `B [sum (U~_i U_i' + U_i U~_i')/2] B'` with the corrected
//!   score `U~_i = D_i' V_i^{-1} (I - H_i)^{-1} (y_i - mu_i)`, `H_i = D_i (sum D'V^{-1}D)^{-1}
//!   D_i' V_i^{-1}` (and the same with the correlation equations for alpha);
//! - MD (Mancl & DeRouen 2001): `B (sum U~_i U~_i') B'`;
//! - FG (Fay & Graubard 2001): `B (sum F_i U_i U_i' F_i) B'`, `F_i = diag(1 / sqrt(1 - min(0.75,
//!   diag(A_i B))))`, without the d factor, as geeCRT;
//! - MBN (Morel, Bokossa & Neerchal 2003), beta only: `B_b (c M + delta xi A_b) B_b` with
//!   `M = sum U_i U_i'`, `c = (N - 1)/(N - p) G/(G - 1)`, `delta = min(0.5, p/(G - p))`,
//!   `xi = max(1, trace(B_b c M)/p)`;
//! - AVG (Ford & Westgate 2017): `(KC + MD) / 2`.
//!
//! Intervals and tests use a t reference on `G - p` degrees of freedom (G clusters, p mean
//! parameters), as recommended for few clusters (Li, Turner & Preisser 2018; Ford & Westgate
//! 2017). The default is KC: with t on G - p it keeps the nominal size of stepped-wedge tests
//! with as few as 8-10 clusters where the plain sandwich does not (Li, Turner & Preisser 2018;
//! Thompson et al. 2021); MD is somewhat conservative, AVG in between.
//!
//! The per-cluster work, for any cluster size: `V_i^{-1}` applied to the residuals and to `D_i`
//! through the period sums of `S^{-1}[r | D]` (every structure but the block exchangeable is
//! `R = a I + Z C Z'` in the period indicators Z, inverted by the Woodbury identity in a T x T
//! matrix: `equations.rs`); the MAEE adjustment and the corrected scores by the Woodbury
//! identity in p x p and q x q matrices (`(V - D N D')^{-1} = V^{-1} + V^{-1} D (N^{-1} -
//! D'V^{-1}D)^{-1} D'V^{-1}`), so that KC, MD and FG need no n x n leverage matrix; and the
//! pair sums of the correlation equations from the sums and sums of squares of each covariate
//! pattern's residuals (`patterns.rs`), O(n + P^2) for P patterns. Clusters with more than 512
//! patterns (continuous covariates such as age) are summed pair by pair, O(n_i^2) time and
//! O(n_i) memory; the block exchangeable inverse is a dense Cholesky factor, O(n_i^3), for
//! clusters of up to a few thousand observations.

mod cluster_period;
mod equations;
mod fit;
mod patterns;
mod replicate;
mod summary;

use std::fmt;
use std::sync::Arc;

use nalgebra::{DMatrix, DVector};

use crate::core::builder::builder_methods;
use crate::core::error::{Error, Result};
use crate::data::Cohort;
use crate::frame::counterfactual::FitFrame;
use crate::frame::design::{DesignOptions, MissingReport};
use crate::frame::formula::Formula;
use crate::models::coef_table::CoefRow;
use crate::models::family::{Family, Link};
use crate::models::fitted::specification;

/// The working correlation of a cluster's outcomes (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkingCorrelation {
    /// No correlation (the GEE is a GLM with cluster-robust variances).
    Independence,
    /// One correlation `alpha` between any two patients of a cluster.
    Exchangeable,
    /// `alpha0` within a cluster-period, `alpha1` between periods (needs a period column).
    NestedExchangeable,
    /// Closed cohort: `alpha0` same period, `alpha1` different periods and patients, `alpha2`
    /// the same patient in different periods (needs period and individual columns).
    BlockExchangeable,
    /// `alpha0` within a cluster-period, `alpha0 rho^|s - t|` between cluster-periods s and t
    /// (Li 2020; Kasza et al. 2019; needs a period column).
    ExponentialDecay,
}

impl WorkingCorrelation {
    /// The names of the correlation parameters, as `swfit` and the JSON give them.
    pub fn parameter_names(self) -> &'static [&'static str] {
        match self {
            WorkingCorrelation::Independence => &[],
            WorkingCorrelation::Exchangeable => &["alpha0"],
            WorkingCorrelation::NestedExchangeable => &["alpha0", "alpha1"],
            WorkingCorrelation::BlockExchangeable => &["alpha0", "alpha1", "alpha2"],
            WorkingCorrelation::ExponentialDecay => &["alpha0", "rho"],
        }
    }
}

impl std::str::FromStr for WorkingCorrelation {
    type Err = Error;
    /// `independence`, `exchangeable`, `nested` (or `nested_exchangeable`), `block` (or
    /// `block_exchangeable`), `decay` (or `exponential_decay`).
    fn from_str(s: &str) -> Result<WorkingCorrelation> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "independence" => WorkingCorrelation::Independence,
            "exchangeable" => WorkingCorrelation::Exchangeable,
            "nested" | "nested_exchangeable" => WorkingCorrelation::NestedExchangeable,
            "block" | "block_exchangeable" => WorkingCorrelation::BlockExchangeable,
            "decay" | "exponential_decay" => WorkingCorrelation::ExponentialDecay,
            _ => {
                return Err(Error::invalid(
                    "working correlation",
                    format!("'{s}' is not one of independence, exchangeable, nested, block, decay"),
                ))
            }
        })
    }
}

impl fmt::Display for WorkingCorrelation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WorkingCorrelation::Independence => "independence",
            WorkingCorrelation::Exchangeable => "exchangeable",
            WorkingCorrelation::NestedExchangeable => "nested exchangeable",
            WorkingCorrelation::BlockExchangeable => "block exchangeable",
            WorkingCorrelation::ExponentialDecay => "exponential decay",
        })
    }
}

/// The variance estimator of the reported table (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeKind {
    /// Model-based.
    Model,
    /// The plain sandwich (BC0).
    Robust,
    /// Kauermann-Carroll.
    Kc,
    /// Mancl-DeRouen.
    Md,
    /// Fay-Graubard.
    Fg,
    /// Morel-Bokossa-Neerchal.
    Mbn,
    /// The average of KC and MD.
    Avg,
}

impl SeKind {
    /// The estimator as the shared fitted-model surface names it (`Md` is Mancl-DeRouen's
    /// `CR3`, `Robust` the plain `Sandwich`).
    pub fn vcov_kind(self) -> crate::models::vcov::VcovKind {
        use crate::models::vcov::VcovKind;
        match self {
            SeKind::Model => VcovKind::Model,
            SeKind::Robust => VcovKind::Sandwich,
            SeKind::Kc => VcovKind::KC,
            SeKind::Md => VcovKind::CR3,
            SeKind::Fg => VcovKind::FG,
            SeKind::Mbn => VcovKind::MBN,
            SeKind::Avg => VcovKind::AVG,
        }
    }

    /// Every kind, in the order of the JSON's `se_all`.
    pub const ALL: [SeKind; 7] = [
        SeKind::Model,
        SeKind::Robust,
        SeKind::Kc,
        SeKind::Md,
        SeKind::Fg,
        SeKind::Mbn,
        SeKind::Avg,
    ];

    /// The name on the command line and in the JSON (`model`, `robust`, `kc`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SeKind::Model => "model",
            SeKind::Robust => "robust",
            SeKind::Kc => "kc",
            SeKind::Md => "md",
            SeKind::Fg => "fg",
            SeKind::Mbn => "mbn",
            SeKind::Avg => "avg",
        }
    }
}

impl std::str::FromStr for SeKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<SeKind> {
        SeKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::invalid(
                    "se",
                    format!("'{s}' is not one of model, robust, kc, md, fg, mbn, avg"),
                )
            })
    }
}

/// Convergence controls of the Fisher scoring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeeControl {
    /// Largest number of iterations (default 200).
    pub max_iter: usize,
    /// Convergence when no parameter moves by more than this (default 1e-10).
    pub tolerance: f64,
}

impl Default for GeeControl {
    fn default() -> Self {
        GeeControl {
            max_iter: 200,
            tolerance: 1e-10,
        }
    }
}

/// A GEE specification: formula, link, cluster (and period, individual) columns, working
/// correlation, correlation equations and variance.
#[derive(Debug, Clone)]
pub struct Gee {
    formula: Formula,
    family: Family,
    link: Link,
    cluster: String,
    period: Option<String>,
    individual: Option<String>,
    weights: Option<String>,
    correlation: WorkingCorrelation,
    fixed_correlation: Option<Vec<f64>>,
    maee: bool,
    cluster_period_means: bool,
    se: SeKind,
    level: f64,
    design: DesignOptions,
    control: GeeControl,
}

impl Gee {
    /// A binomial GEE of `formula` (no random-effect terms) with logit link, clusters in
    /// `cluster`, exchangeable working correlation by UEE, KC variances.
    pub fn new(formula: &str, cluster: &str) -> Result<Gee> {
        let formula = Formula::parse(formula)?;
        if let Some(r) = formula.random.first() {
            return Err(Error::unsupported(
                &formula.text,
                &format!("the random-effect term '{}'", r.text),
                "a GEE models the correlation through its working correlation: give the \
                 cluster column instead",
            ));
        }
        Ok(Gee {
            formula,
            family: Family::Binomial,
            link: Link::Logit,
            cluster: cluster.to_string(),
            period: None,
            individual: None,
            weights: None,
            correlation: WorkingCorrelation::Exchangeable,
            fixed_correlation: None,
            maee: false,
            cluster_period_means: false,
            se: SeKind::Kc,
            level: 0.95,
            design: DesignOptions::default(),
            control: GeeControl::default(),
        })
    }

    builder_methods! {
        /// The family of the outcome: binomial (0/1, default), Poisson (counts) or Gaussian;
        /// the link becomes the family's canonical one (logit, log, identity) unless set after.
        family(&mut this, family: Family) { this.family = family; this.link = family.default_link(); }

        /// The link: for binary outcomes logit (odds ratios, default), log (relative risks) or
        /// identity (risk differences); log or identity for counts and Gaussian outcomes.
        link(&mut this, link: Link) { this.link = link; }

        /// The period column (nested and block exchangeable, decay, cluster-period means).
        period(&mut this, column: &str) { this.period = Some(column.to_string()); }

        /// A column of prior weights (positive numbers): a patient's working variance becomes
        /// `mu (1 - mu) / w`, as geepack's weights (not for the cluster-period means model).
        weights(&mut this, column: &str) { this.weights = Some(column.to_string()); }

        /// The patient column (block exchangeable: the same patient in several periods).
        individual(&mut this, column: &str) { this.individual = Some(column.to_string()); }

        /// The working correlation (default exchangeable).
        correlation(&mut this, correlation: WorkingCorrelation) { this.correlation = correlation; }

        /// Hold the correlation parameters at `values` (in the order of
        /// [`WorkingCorrelation::parameter_names`]) instead of estimating them: a working
        /// correlation taken from another study or a pilot (geepack's `corstr = "fixed"`).
        /// Only beta is estimated; the correlation parameters have no standard errors.
        fixed_correlation(&mut this, values: &[f64]) { this.fixed_correlation = Some(values.to_vec()); }

        /// Bias-adjusted correlation equations (MAEE) instead of the moment ones (UEE).
        maee(&mut this, maee: bool) { this.maee = maee; }

        /// Fit the marginal model on the cluster-period proportions (Li et al. 2022; geeCRT's
        /// `cpgeeSWD`): logit link, a mean model constant within cluster-periods, and an
        /// exchangeable, nested exchangeable or exponential decay working correlation.
        cluster_period_means(&mut this, on: bool) { this.cluster_period_means = on; }

        /// The variance of the reported table (default KC).
        se(&mut this, kind: SeKind) { this.se = kind; }

        /// Confidence level of the intervals (default 0.95).
        level(&mut this, level: f64) { this.level = level; }

        /// Set the reference level of a factor column.
        reference_level(&mut this, column: &str, level: &str) { this.design.reference_levels.push((column.to_string(), level.to_string())); }

        /// Convergence controls.
        control(&mut this, control: GeeControl) { this.control = control; }
    }

    /// Fits the model to `cohort`.
    pub fn fit(&self, cohort: &Cohort) -> Result<GeeFit> {
        fit::fit(self, cohort)
    }
}

specification!(Gee => GeeFit);

/// A correlation parameter with its standard error under the chosen variance (`None` for the
/// model-based and MBN variances, which are defined for beta only).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CorrelationParameter {
    /// `alpha0`, `alpha1`, `alpha2`.
    pub name: String,
    /// The estimate.
    pub estimate: f64,
    /// Its standard error.
    pub std_error: Option<f64>,
}

/// A fitted GEE.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GeeFit {
    /// The formula as written.
    pub formula: String,
    /// The family.
    pub family: Family,
    /// The link.
    pub link: Link,
    /// The working correlation.
    pub correlation: WorkingCorrelation,
    /// Whether the correlation parameters were held at given values
    /// ([`Gee::fixed_correlation`]) rather than estimated.
    pub correlation_fixed: bool,
    /// Whether the correlation equations were bias-adjusted (MAEE).
    pub maee: bool,
    /// Whether the model was fitted on cluster-period means.
    pub cluster_period_means: bool,
    /// The variance of `coefficients` and `correlation_parameters`.
    pub se: SeKind,
    /// Observations used.
    pub n_obs: usize,
    /// Clusters.
    pub n_clusters: usize,
    /// Rows dropped for missing values.
    pub missing: MissingReport,
    /// Confidence level.
    pub level: f64,
    /// The mean parameters with t tests and intervals on `G - p` df under `se`.
    pub coefficients: Vec<CoefRow>,
    /// The correlation parameters.
    pub correlation_parameters: Vec<CorrelationParameter>,
    /// Standard errors of the mean parameters under every estimator, in [`SeKind::ALL`] order.
    pub se_all: Vec<(SeKind, Vec<f64>)>,
    /// Standard errors of the correlation parameters under the estimators that define them.
    pub alpha_se_all: Vec<(SeKind, Vec<f64>)>,
    /// Variance matrix of the mean parameters under `se`, row by row.
    pub vcov: Vec<Vec<f64>>,
    /// `G - p`.
    pub df: f64,
    /// The scale phi of the working variance `phi v(mu) / w`: 1 for binary outcomes, estimated
    /// for counts and Gaussian outcomes (see the module docs).
    pub scale: f64,
    /// The binomial log-likelihood of the mean model as if the outcomes were independent (the
    /// quasi-likelihood QIC uses); a GEE has no likelihood of its own.
    pub quasi_loglik: f64,
    /// Fisher-scoring iterations.
    pub iterations: usize,
    /// Whether the iterations converged.
    pub converged: bool,
    /// Pairs whose working correlation lies outside the range the two means allow (Prentice
    /// 1988) at the estimate: 0 for a valid joint distribution.
    pub out_of_range_pairs: usize,
    /// What refits need.
    #[serde(skip)]
    state: Arc<GeeState>,
}

/// What a fit keeps for its refits and the shared fitted-model surface.
#[derive(Debug)]
struct GeeState {
    spec: Gee,
    problem: equations::Problem,
    beta: DVector<f64>,
    alpha: Vec<f64>,
    /// The variance of beta under the fit's `se`.
    vcov: DMatrix<f64>,
    frame: FitFrame,
}

impl GeeFit {
    /// The standard errors of the mean parameters under `kind`.
    pub fn std_errors(&self, kind: SeKind) -> &[f64] {
        self.se_all
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(&[], |(_, se)| se.as_slice())
    }

    /// The standard errors of the correlation parameters under `kind`, if it defines them.
    pub fn alpha_std_errors(&self, kind: SeKind) -> Option<&[f64]> {
        self.alpha_se_all
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, se)| se.as_slice())
    }
}
