//! A fitted GLM as the analyses see it ([`Fitted`]), and its refit to a cluster sample: the rows
//! of the drawn clusters stacked (a cluster drawn twice twice), IRLS from the full-data
//! estimate, with the main fit's step halving.
//!
//! A refit is kept where the main fit would keep its fit: converged, or a log-binomial
//! estimate on the boundary (a fitted risk at 1). Otherwise IRLS starts again from the main
//! fit's start (R's). A sample whose outcome the fixed effects separate (no event in a level or
//! an arm among the drawn clusters) has no maximum: IRLS there reaches the likelihood's
//! supremum, where the deviance stops changing while the separating coefficients keep growing
//! and the separated patients' fitted risks are 0 (or 1). Found by the main fit's separation
//! check, that limit is the replicate, as R's `glm` returns it (with a warning).
//!
//! A refit under another assignment of the treatment (a randomisation test's) is IRLS on all
//! rows with the treatment column replaced and the offset shifted, with the same start and
//! fallbacks; its standard errors are the fit's variance estimator at its end.

use nalgebra::DMatrix;

use super::irls::{IrlsState, Problem};
use super::{boundary_message, check_state_separation, GlmFit};
use crate::core::error::{Error, Result};
use crate::data::Cohort;
use crate::frame::counterfactual::FitFrame;
use crate::frame::design::Grouping;
use crate::models::fitted::{field_accessors, Assignment, Fitted, Parameters, Refit, RowUnits};

/// The buffers of one thread: each cluster's design rows, and the stacked rows of one sample.
pub struct Workspace {
    start: Vec<f64>,
    members: Vec<Vec<usize>>,
    rows: Vec<usize>,
    y: Vec<f64>,
    w: Vec<f64>,
    offset: Vec<f64>,
    /// The design under another assignment (allocated at the first such refit).
    x: DMatrix<f64>,
}

impl Fitted for GlmFit {
    type Workspace = Workspace;

    field_accessors!();

    fn parameters(&self) -> Result<Parameters> {
        Ok(Parameters {
            psi: self.coef(),
            vcov: self.vcov_matrix(self.vcov_kind)?,
            vcov_kind: self.vcov_kind,
            reference_df: self.reference_df(self.vcov_kind),
            link: self.link,
            mixed: false,
        })
    }

    fn n_clusters(&self) -> usize {
        self.clusters.as_ref().map_or(1, Grouping::len)
    }

    fn frame(&self) -> &FitFrame {
        &self.frame
    }

    fn workspace(&self) -> Workspace {
        let mut members = vec![Vec::new(); self.n_clusters()];
        if let Some(c) = &self.clusters {
            for (i, &g) in c.codes.iter().enumerate() {
                members[g].push(i);
            }
        }
        Workspace {
            start: self.coef(),
            members,
            rows: Vec::new(),
            y: Vec::new(),
            w: Vec::new(),
            offset: Vec::new(),
            x: DMatrix::zeros(0, 0),
        }
    }

    fn refit(&self, clusters: &[usize], ws: &mut Workspace) -> Result<Vec<f64>> {
        let design = &self.design;
        ws.rows.clear();
        for &c in clusters {
            ws.rows.extend_from_slice(&ws.members[c]);
        }
        ws.y.clear();
        ws.y.extend(ws.rows.iter().map(|&i| design.y[i]));
        ws.w.clear();
        ws.w.extend(ws.rows.iter().map(|&i| self.prior[i]));
        ws.offset.clear();
        if let Some(o) = &design.offset {
            ws.offset.extend(ws.rows.iter().map(|&i| o[i]));
        }
        let x = design.x.select_rows(&ws.rows);
        let problem = Problem {
            family: self.family,
            link: self.link,
            x: &x,
            y: &ws.y,
            w: &ws.w,
            offset: design.offset.as_ref().map(|_| ws.offset.as_slice()),
        };
        Ok(self
            .irls_from_fit(&problem, &ws.start, "IRLS on a bootstrap sample")?
            .beta)
    }

    type Assignable = RowUnits;

    fn assignable(&self, _: &Cohort, column: usize, units: &[u32]) -> Result<RowUnits> {
        RowUnits::new(self.design.n(), self.design.p(), column, units)
    }

    fn refit_assigned(
        &self,
        on: &RowUnits,
        assignment: &Assignment<'_>,
        ws: &mut Workspace,
    ) -> Result<Refit> {
        on.check(assignment)?;
        let design = &self.design;
        let j = on.column;
        if ws.x.shape() != design.x.shape() {
            ws.x = design.x.clone();
        }
        let n = design.n();
        for i in 0..n {
            ws.x[(i, j)] = on.value(i, assignment);
        }
        ws.offset.clear();
        ws.offset.extend((0..n).map(|i| {
            design.offset.as_ref().map_or(0.0, |o| o[i]) + assignment.shift * design.x[(i, j)]
        }));
        let problem = Problem {
            family: self.family,
            link: self.link,
            x: &ws.x,
            y: &design.y,
            w: &self.prior,
            offset: Some(&ws.offset),
        };
        let state = self.irls_from_fit(&problem, &ws.start, "IRLS under another assignment")?;
        let std_errors = if assignment.std_errors {
            let v = self.vcov_at(&problem, &state)?;
            Some((0..v.nrows()).map(|k| v[(k, k)].sqrt()).collect())
        } else {
            None
        };
        Ok(Refit {
            psi: state.beta,
            std_errors,
            singular: false,
        })
    }
}

impl GlmFit {
    /// IRLS on `problem` (a cluster sample's, or the rows under another assignment) from
    /// `start`, kept where the main fit would keep its fit; otherwise again from R's start,
    /// kept also at the supremum of a separated outcome (see the module docs). `what` names the
    /// iterations in the error when neither is kept.
    fn irls_from_fit(&self, problem: &Problem<'_>, start: &[f64], what: &str) -> Result<IrlsState> {
        let kept = |state: &IrlsState| {
            state.converged || boundary_message(self.family, self.link, state).is_some()
        };
        let warm = problem.fit(Some(start), &self.control)?;
        if kept(&warm) {
            return Ok(warm);
        }
        let state = problem.fit(None, &self.control)?;
        let separated_limit = || {
            state.criterion < self.control.epsilon
                && matches!(
                    check_state_separation(problem, &state, &self.design.names),
                    Err(Error::Separation { .. })
                )
        };
        if kept(&state) || separated_limit() {
            return Ok(state);
        }
        Err(Error::NotConverged {
            what: what.into(),
            iterations: state.iterations,
            criterion: state.criterion,
        })
    }
}
