//! A fitted mixed model as the analyses see it ([`Fitted`]), and its refit to a cluster sample.
//!
//! The sample's likelihood is built from the full data's covariate patterns, cluster by cluster
//! (a cluster drawn twice is two clusters), so nothing is collapsed or coded again. The
//! maximisation starts from the full-data estimate, each cluster's mode search from its
//! full-data conditional mode: the same start whichever thread runs the replicate. (For the
//! gamma family the refit holds the shape at its full-data estimate.)

use super::boundary::boundary_check;
use super::likelihood::Likelihood;
use super::patterns::Patterns;
use super::{GlmmFit, LikelihoodObjective, SETTINGS};
use crate::core::error::{Error, Result};
use crate::frame::counterfactual::FitFrame;
use crate::models::fitted::{field_accessors, Fitted, Parameters};
use crate::models::newton::maximise;

/// The buffers of one thread.
pub struct Workspace {
    patterns: Patterns,
    labels: Vec<String>,
}

impl Fitted for GlmmFit {
    type Workspace = Workspace;

    field_accessors!();

    fn parameters(&self) -> Result<Parameters> {
        Ok(Parameters {
            psi: self.psi.clone(),
            vcov: self.psi_vcov.clone(),
            vcov_kind: self.vcov_kind,
            reference_df: None,
            link: self.link,
            mixed: true,
        })
    }

    fn n_clusters(&self) -> usize {
        self.state.random.groups.len()
    }

    fn frame(&self) -> &FitFrame {
        &self.state.frame
    }

    fn workspace(&self) -> Workspace {
        Workspace {
            patterns: self.state.patterns.resample(&[]),
            labels: Vec::new(),
        }
    }

    fn refit(&self, clusters: &[usize], workspace: &mut Workspace) -> Result<Vec<f64>> {
        let state = &self.state;
        let full = &state.patterns;
        full.resample_into(clusters, &mut workspace.patterns);
        workspace.labels.clear();
        workspace.labels.extend(
            clusters
                .iter()
                .map(|&g| state.random.groups.labels[g].clone()),
        );
        let likelihood = Likelihood {
            patterns: &workspace.patterns,
            labels: &workspace.labels,
            ..state.likelihood()
        };
        let mut objective = LikelihoodObjective::new(&likelihood, state.random.nested);
        let q = full.q;
        for (j, &g) in clusters.iter().enumerate() {
            objective.modes[j * q..(j + 1) * q].copy_from_slice(&state.modes[g * q..(g + 1) * q]);
        }
        let p = full.p;
        let mut best = maximise(&mut objective, self.psi.clone(), SETTINGS)?;
        boundary_check(&mut objective, &mut best, p, &state.random, SETTINGS)?;
        if !best.converged {
            return Err(Error::NotConverged {
                what: "the refit of a bootstrap sample".into(),
                iterations: best.iterations,
                criterion: best.gradient.iter().fold(0.0, |m: f64, g| m.max(g.abs())),
            });
        }
        Ok(best.params)
    }
}
