//! A GEE on the shared fitted-model surface: standardisation, the cluster bootstrap and the
//! analyses that refit act on it as on any model. `psi` is beta (the correlation parameters are
//! nuisance parameters, re-estimated in every refit); the variance is that of the fit's `se`
//! with its t reference on `G - p` df; the log-likelihood is the quasi-likelihood. A refit under
//! another assignment of the treatment re-estimates beta and the correlation parameters with the
//! treatment column replaced, and its standard errors are those of the fit's `se` kind.

use super::{fit, GeeFit};
use crate::core::error::Result;
use crate::data::Cohort;
use crate::frame::counterfactual::FitFrame;
use crate::models::coef_table::CoefRow;
use crate::models::fitted::{Assignment, Fitted, LoglikKind, Parameters, Refit, RowUnits};

impl Fitted for GeeFit {
    type Workspace = ();

    fn coefficients(&self) -> &[CoefRow] {
        &self.coefficients
    }

    fn parameters(&self) -> Result<Parameters> {
        Ok(Parameters {
            psi: self.state.beta.iter().copied().collect(),
            vcov: self.state.vcov.clone(),
            vcov_kind: self.se.vcov_kind(),
            reference_df: Some(self.df),
            link: self.link,
            mixed: false,
        })
    }

    fn loglik(&self) -> f64 {
        self.quasi_loglik
    }

    fn loglik_kind(&self) -> LoglikKind {
        LoglikKind::Quasi
    }

    fn n_obs(&self) -> usize {
        self.n_obs
    }

    fn n_clusters(&self) -> usize {
        self.n_clusters
    }

    fn level(&self) -> f64 {
        self.level
    }

    fn frame(&self) -> &FitFrame {
        &self.state.frame
    }

    fn workspace(&self) {}

    fn refit(&self, clusters: &[usize], _: &mut ()) -> Result<Vec<f64>> {
        fit::refit(&self.state, clusters)
    }

    type Assignable = RowUnits;

    fn assignable(&self, _: &Cohort, column: usize, units: &[u32]) -> Result<RowUnits> {
        let xt = &self.state.problem.data.xt;
        RowUnits::new(xt.ncols(), xt.nrows(), column, units)
    }

    fn refit_assigned(
        &self,
        on: &RowUnits,
        assignment: &Assignment<'_>,
        _: &mut (),
    ) -> Result<Refit> {
        fit::refit_assigned(&self.state, on, assignment)
    }
}
