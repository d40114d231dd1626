//! Refitting a GLM to a cluster bootstrap sample, for the bootstrap of marginal effects: the
//! rows of the drawn clusters stacked (a cluster drawn twice twice), IRLS from the full-data
//! estimate.

use nalgebra::DMatrix;

use super::irls::{IrlsControl, Problem};
use super::{Family, Link};
use crate::core::error::{Error, Result};
use crate::effects::standardise::Refit;

/// A fitted GLM, ready to be refitted to cluster samples.
pub(crate) struct GlmRefit<'a> {
    pub family: Family,
    pub link: Link,
    pub x: &'a DMatrix<f64>,
    pub y: &'a [f64],
    /// Prior weights.
    pub w: &'a [f64],
    pub offset: Option<&'a [f64]>,
    /// The design rows of each cluster.
    pub members: Vec<Vec<usize>>,
    /// The full-data estimate.
    pub start: &'a [f64],
    pub control: IrlsControl,
}

/// The stacked rows of one sample.
#[derive(Default)]
pub(crate) struct Workspace {
    rows: Vec<usize>,
    y: Vec<f64>,
    w: Vec<f64>,
    offset: Vec<f64>,
}

impl Refit for GlmRefit<'_> {
    type Workspace = Workspace;

    fn workspace(&self) -> Workspace {
        Workspace::default()
    }

    fn refit(&self, clusters: &[usize], ws: &mut Workspace) -> Result<Vec<f64>> {
        ws.rows.clear();
        for &c in clusters {
            ws.rows.extend_from_slice(&self.members[c]);
        }
        ws.y.clear();
        ws.y.extend(ws.rows.iter().map(|&i| self.y[i]));
        ws.w.clear();
        ws.w.extend(ws.rows.iter().map(|&i| self.w[i]));
        ws.offset.clear();
        if let Some(o) = self.offset {
            ws.offset.extend(ws.rows.iter().map(|&i| o[i]));
        }
        let x = self.x.select_rows(&ws.rows);
        let problem = Problem {
            family: self.family,
            link: self.link,
            x: &x,
            y: &ws.y,
            w: &ws.w,
            offset: self.offset.map(|_| ws.offset.as_slice()),
        };
        let state = problem.fit(Some(self.start), &self.control)?;
        if !state.converged {
            return Err(Error::NotConverged {
                what: "IRLS on a bootstrap sample".into(),
                iterations: state.iterations,
                criterion: state.criterion,
            });
        }
        Ok(state.beta)
    }
}
