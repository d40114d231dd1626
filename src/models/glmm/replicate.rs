//! Refitting a mixed model to a cluster bootstrap sample, for the bootstrap of marginal effects.
//!
//! The sample's likelihood is built from the full data's covariate patterns, cluster by cluster
//! (a cluster drawn twice is two clusters), so nothing is collapsed or coded again. The
//! maximisation starts from the full-data estimate, each cluster's mode search from its
//! full-data conditional mode: the same start whichever thread runs the replicate.

use super::boundary::boundary_check;
use super::likelihood::Likelihood;
use super::optimize::maximise;
use super::patterns::Patterns;
use super::{LikelihoodObjective, SETTINGS};
use crate::core::error::{Error, Result};
use crate::effects::standardise::Refit;
use crate::frame::random_effects::RandomSetup;

/// A fitted mixed model, ready to be refitted to cluster samples.
pub(crate) struct GlmmRefit<'a> {
    pub likelihood: &'a Likelihood<'a>,
    pub random: &'a RandomSetup,
    /// Fixed-effect columns.
    pub p: usize,
    /// The full-data estimate `(beta, theta)`.
    pub start: &'a [f64],
    /// The full-data conditional modes (spherical, q per cluster).
    pub modes: &'a [f64],
}

/// The buffers of one thread.
pub(crate) struct Workspace {
    patterns: Patterns,
    labels: Vec<String>,
}

impl Refit for GlmmRefit<'_> {
    type Workspace = Workspace;

    fn workspace(&self) -> Workspace {
        Workspace {
            patterns: self.likelihood.patterns.resample(&[]),
            labels: Vec::new(),
        }
    }

    fn refit(&self, clusters: &[usize], workspace: &mut Workspace) -> Result<Vec<f64>> {
        let full = self.likelihood.patterns;
        full.resample_into(clusters, &mut workspace.patterns);
        workspace.labels.clear();
        workspace
            .labels
            .extend(clusters.iter().map(|&g| self.likelihood.labels[g].clone()));
        let likelihood = Likelihood {
            patterns: &workspace.patterns,
            labels: &workspace.labels,
            ..*self.likelihood
        };
        let mut objective = LikelihoodObjective::new(&likelihood, self.random.nested);
        let q = full.q;
        for (j, &g) in clusters.iter().enumerate() {
            objective.modes[j * q..(j + 1) * q].copy_from_slice(&self.modes[g * q..(g + 1) * q]);
        }
        let mut best = maximise(&mut objective, self.start.to_vec(), SETTINGS)?;
        boundary_check(&mut objective, &mut best, self.p, self.random, SETTINGS)?;
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
