//! The one surface every fitted model offers to the analyses that act on fits: standardisation
//! and its cluster bootstrap, cost-effectiveness, randomisation tests and intervals, and later
//! simulation power. A new kind of model implements [`Fitted`] once and every analysis works on
//! it.
//!
//! The parameters are `psi = (beta, theta)`: the fixed effects in design order, then (for a
//! mixed model) the covariance parameters theta as the fit maximised them. A refit re-estimates
//! `psi` on a sample of the fit's clusters (drawn with replacement: a cluster drawn twice counts
//! as two clusters), starting from the full-data estimate, so a replicate's start does not
//! depend on which thread runs it, with the main fit's safeguards (step halving, variances on
//! their boundary); where that does not converge, it fits the sample as the main fit fits the
//! data, from the main fit's start. A sample whose outcome the fixed effects separate (no event
//! in a level or an arm among the drawn clusters) has no maximum: its refit follows the
//! likelihood to its supremum, where the separating coefficients are large and the separated
//! patients' fitted risks 0 (or 1) to rounding, as R's `glm` and `glmer` return it.
//!
//! A randomisation test refits the model under other assignments of the treatment
//! ([`Fitted::refit_assigned`]): the design column of a 0/1 treatment that enters as a main
//! effect is replaced by a new 0/1 assignment, constant within units (cluster-periods of a
//! stepped wedge) that the analysis numbers once ([`Fitted::assignable`]), and the offset may gain
//! `d x_obs`, `x_obs` the observed treatment column: the fit under the shifted null hypothesis
//! that the treatment's effect is d. The refit starts from the fit's estimate (and a mixed
//! model's conditional modes), with the same safeguards and fallbacks as a cluster sample's.

use nalgebra::DMatrix;

use crate::core::error::{Error, Result};
use crate::data::Cohort;
use crate::frame::counterfactual::{counterfactual_design, FitFrame};
use crate::models::coef_table::CoefRow;
use crate::models::family::Link;
use crate::models::vcov::VcovKind;

/// The parameters of a fit and what their inference rests on.
#[derive(Debug, Clone)]
pub struct Parameters {
    /// The estimates `psi = (beta, theta)`.
    pub psi: Vec<f64>,
    /// Their variance matrix (of `vcov_kind`; 0 where a variance was held on its boundary or,
    /// for the linear mixed model, for theta).
    pub vcov: DMatrix<f64>,
    /// The variance estimator.
    pub vcov_kind: VcovKind,
    /// Degrees of freedom of the t reference of Wald intervals (none: the normal).
    pub reference_df: Option<f64>,
    /// The link between the linear predictor and the mean.
    pub link: Link,
    /// Whether the model has random effects (theta follows beta in `psi`).
    pub mixed: bool,
}

/// What a fit's [`Fitted::loglik`] is, and so whether two fits can be compared by a
/// likelihood-ratio test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoglikKind {
    /// The log-likelihood maximised (or its Laplace or quadrature approximation): fits of nested
    /// models to the same rows compare by likelihood ratio.
    Full,
    /// The REML criterion's log-likelihood: it depends on the fixed effects' design, so fits with
    /// different fixed effects do not compare (refit both by maximum likelihood).
    Restricted,
    /// A quasi-likelihood (GEE): no likelihood-ratio test; use a Wald test.
    Quasi,
}

/// A fitted model, as every analysis sees it.
pub trait Fitted: Sync {
    /// Buffers one thread reuses from refit to refit.
    type Workspace: Send;

    /// The tidy coefficient table (fixed effects, in design order).
    fn coefficients(&self) -> &[CoefRow];

    /// The parameters, their variance matrix and link.
    fn parameters(&self) -> Result<Parameters>;

    /// The log-likelihood at the estimate (for a REML fit, the REML criterion's).
    fn loglik(&self) -> f64;

    /// What [`Fitted::loglik`] is (a full log-likelihood unless the model says otherwise).
    fn loglik_kind(&self) -> LoglikKind {
        LoglikKind::Full
    }

    /// Degrees of freedom of the t reference of a linear combination `contrast' beta` of the
    /// fixed effects (`contrast` has one weight per coefficient; `None`: the normal). By default
    /// the reference of [`Parameters::reference_df`], or, where that is the normal but the
    /// coefficient table has t references (between-within df of a mixed model), the smallest df
    /// among the coefficients the contrast weighs. The linear mixed model gives the contrast's
    /// own Satterthwaite df.
    fn contrast_df(&self, contrast: &[f64]) -> Result<Option<f64>> {
        if let Some(df) = self.parameters()?.reference_df {
            return Ok(Some(df));
        }
        Ok(self
            .coefficients()
            .iter()
            .zip(contrast)
            .filter(|(_, w)| **w != 0.0)
            .filter_map(|(row, _)| row.df)
            .reduce(f64::min))
    }

    /// Observations used.
    fn n_obs(&self) -> usize;

    /// Clusters a bootstrap resamples: the outer grouping factor of a mixed model, the cluster
    /// column of a GLM (1 for a GLM without one).
    fn n_clusters(&self) -> usize;

    /// Confidence level of the fit's intervals.
    fn level(&self) -> f64;

    /// What the fit used: formula, options, rows, design names and clusters.
    fn frame(&self) -> &FitFrame;

    /// New refit buffers.
    fn workspace(&self) -> Self::Workspace;

    /// The estimates `psi` on the clusters `clusters` (indices into the fit's clusters, in the
    /// sorted order of their labels; repeats allowed, each occurrence a cluster of its own),
    /// from the full-data estimate, then the main fit's start, or at the supremum of a separated
    /// sample (see the module docs); [`Error::NotConverged`] when none converges.
    fn refit(&self, clusters: &[usize], workspace: &mut Self::Workspace) -> Result<Vec<f64>>;

    /// What refits under other assignments of the treatment read, prepared once per analysis.
    type Assignable: Sync;

    /// Prepare refits in which the design column `column` (a 0/1 treatment entering as a main
    /// effect) takes a value per unit: `units[i]` numbers the unit (from 0) of the i-th row the
    /// fit used, in [`FitFrame::rows`] order. `cohort` is the cohort the model was fitted to.
    fn assignable(&self, cohort: &Cohort, column: usize, units: &[u32])
        -> Result<Self::Assignable>;

    /// The estimates with the design column of `on` set to `assignment.values[u]` in every row
    /// of unit u and the offset increased by `assignment.shift` times the fit's own column, from
    /// the fit's estimate (then the main fit's start, or at the supremum of a separated
    /// assignment, as [`Fitted::refit`]); the standard errors of beta under the fit's variance
    /// estimator when `assignment.std_errors`. [`Error::NotConverged`] when no fit converges.
    fn refit_assigned(
        &self,
        on: &Self::Assignable,
        assignment: &Assignment<'_>,
        workspace: &mut Self::Workspace,
    ) -> Result<Refit>;

    /// The coefficient row of `term`, or an error naming the terms there are.
    fn term(&self, term: &str) -> Result<&CoefRow> {
        find_term(self.coefficients(), term)
    }

    /// Predicted means of the rows the fit used, in its order, had the numeric column `column`
    /// been `value` for every patient (`treated` = 1: everyone treated), with the random effects
    /// at 0: `h(x_i(value)' beta + o_i)`, h the inverse link. `cohort` is the cohort the model was
    /// fitted to. (Averaged over the random effects and with intervals: the standardisation of
    /// `effects::standardise`.)
    fn predict(&self, cohort: &Cohort, column: &str, value: f64) -> Result<Vec<f64>> {
        let (x, offset) = counterfactual_design(self.frame(), cohort, column, value)?;
        let parameters = self.parameters()?;
        let beta = &parameters.psi[..x.ncols()];
        Ok((0..x.nrows())
            .map(|i| {
                let eta: f64 = (0..x.ncols()).map(|j| x[(i, j)] * beta[j]).sum();
                parameters.link.inverse(eta + offset[i])
            })
            .collect())
    }
}

/// Another assignment of the treatment, to refit under ([`Fitted::refit_assigned`]).
#[derive(Debug, Clone, Copy)]
pub struct Assignment<'a> {
    /// The treatment's value (0 or 1) in each unit.
    pub values: &'a [f64],
    /// The hypothesised effect d of the shifted null: the offset gains `d x_obs` (0: none).
    pub shift: f64,
    /// Whether the refit computes the standard errors of beta.
    pub std_errors: bool,
}

/// The estimates of a refit under another assignment.
#[derive(Debug, Clone, PartialEq)]
pub struct Refit {
    /// `psi = (beta, theta)`, as [`Parameters::psi`].
    pub psi: Vec<f64>,
    /// The standard errors of beta under the fit's variance estimator, when asked for.
    pub std_errors: Option<Vec<f64>>,
    /// Whether a random-effect SD ended on its boundary (below 1e-4, lme4's `isSingular`);
    /// always false for a model without random effects.
    pub singular: bool,
}

/// The units of the rows of a model whose rows are the rows it used (GLM, LMM, GEE): checked
/// once, read by every refit.
#[derive(Debug, Clone)]
pub struct RowUnits {
    /// The design column that is reassigned.
    pub(crate) column: usize,
    /// The unit of each row.
    pub(crate) unit: Vec<u32>,
    /// Units.
    pub(crate) count: usize,
}

impl RowUnits {
    /// The units of a fit with `rows` rows and `p` design columns.
    pub(crate) fn new(rows: usize, p: usize, column: usize, units: &[u32]) -> Result<RowUnits> {
        check_units(rows, p, column, units)?;
        Ok(RowUnits {
            column,
            unit: units.to_vec(),
            count: units.iter().max().map_or(0, |&u| u as usize + 1),
        })
    }

    /// The value of row `i` under `assignment`.
    pub(crate) fn value(&self, i: usize, assignment: &Assignment<'_>) -> f64 {
        assignment.values[self.unit[i] as usize]
    }

    /// An assignment must give a value to every unit.
    pub(crate) fn check(&self, assignment: &Assignment<'_>) -> Result<()> {
        check_values(self.count, assignment)
    }
}

/// `units` numbers `rows` rows and `column` is one of `p` design columns.
pub(crate) fn check_units(rows: usize, p: usize, column: usize, units: &[u32]) -> Result<()> {
    if units.len() != rows {
        return Err(Error::invalid(
            "units",
            format!(
                "{} units given for the {rows} rows the fit used",
                units.len()
            ),
        ));
    }
    if column >= p {
        return Err(Error::invalid(
            "column",
            format!("the design has {p} columns, not {}", column + 1),
        ));
    }
    Ok(())
}

/// `assignment` gives a value to each of `count` units.
pub(crate) fn check_values(count: usize, assignment: &Assignment<'_>) -> Result<()> {
    if assignment.values.len() < count {
        return Err(Error::invalid(
            "assignment",
            format!("{} values given for {count} units", assignment.values.len()),
        ));
    }
    Ok(())
}

/// A model specification (formula, family, options) that can be fitted to a cohort: what an
/// analysis that refits on other data (simulated trials, relabelled allocations) starts from.
pub trait Specification {
    /// The fit it gives.
    type Fit: Fitted;

    /// Fit the model to `cohort`.
    fn fit(&self, cohort: &Cohort) -> Result<Self::Fit>;
}

/// The row of `term` among `rows`, or an error naming the terms there are.
pub(crate) fn find_term<'a>(rows: &'a [CoefRow], term: &str) -> Result<&'a CoefRow> {
    rows.iter().find(|r| r.term == term).ok_or_else(|| {
        let names: Vec<&str> = rows.iter().map(|r| r.term.as_str()).collect();
        Error::unknown_term("term", term, &names)
    })
}

/// The implementation of [`Specification`] for a model kind whose inherent `fit` gives `$fit`.
macro_rules! specification {
    ($spec:ty => $fit:ty) => {
        impl $crate::models::fitted::Specification for $spec {
            type Fit = $fit;

            fn fit(&self, cohort: &$crate::data::Cohort) -> $crate::core::error::Result<$fit> {
                <$spec>::fit(self, cohort)
            }
        }
    };
}
pub(crate) use specification;

/// The [`Fitted`] accessors that read the fit's fields of the same names: `coefficients`,
/// `loglik`, `n_obs` and `level`.
macro_rules! field_accessors {
    () => {
        fn coefficients(&self) -> &[$crate::models::coef_table::CoefRow] {
            &self.coefficients
        }

        fn loglik(&self) -> f64 {
            self.loglik
        }

        fn n_obs(&self) -> usize {
            self.n_obs
        }

        fn level(&self) -> f64 {
            self.level
        }
    };
}
pub(crate) use field_accessors;
