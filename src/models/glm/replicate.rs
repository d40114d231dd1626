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

use super::irls::{IrlsState, Problem};
use super::{boundary_message, check_state_separation, GlmFit};
use crate::core::error::{Error, Result};
use crate::frame::counterfactual::FitFrame;
use crate::frame::design::Grouping;
use crate::models::fitted::{field_accessors, Fitted, Parameters};

/// The buffers of one thread: each cluster's design rows, and the stacked rows of one sample.
pub struct Workspace {
    start: Vec<f64>,
    members: Vec<Vec<usize>>,
    rows: Vec<usize>,
    y: Vec<f64>,
    w: Vec<f64>,
    offset: Vec<f64>,
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
        let kept = |state: &IrlsState| {
            state.converged || boundary_message(self.family, self.link, state).is_some()
        };
        let warm = problem.fit(Some(&ws.start), &self.control)?;
        if kept(&warm) {
            return Ok(warm.beta);
        }
        let state = problem.fit(None, &self.control)?;
        let separated_limit = || {
            state.criterion < self.control.epsilon
                && matches!(
                    check_state_separation(&problem, &state, &self.design.names),
                    Err(Error::Separation { .. })
                )
        };
        if kept(&state) || separated_limit() {
            return Ok(state.beta);
        }
        Err(Error::NotConverged {
            what: "IRLS on a bootstrap sample".into(),
            iterations: state.iterations,
            criterion: state.criterion,
        })
    }
}
