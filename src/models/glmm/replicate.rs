//! A fitted mixed model as the analyses see it ([`Fitted`]), and its refit to a cluster sample.
//!
//! The sample's likelihood is built from the full data's covariate patterns, cluster by cluster
//! (a cluster drawn twice is two clusters), so nothing is collapsed or coded again. The
//! maximisation starts from the full-data estimate, each cluster's mode search from its
//! full-data conditional mode: the same start whichever thread runs the replicate. (For the
//! gamma family the refit holds the shape at its full-data estimate.) Every maximisation is
//! followed by the main fit's check of variances on their boundary.
//!
//! When that maximisation does not converge, the sample is fitted as the main fit fits the
//! data: from the GLM without random effects (after pilot fits to subsamples of a large
//! model), the conditional modes from 0. That GLM refuses a sample whose outcome the fixed
//! effects separate (no event in a level or an arm among the drawn clusters, when the whole
//! data have some): its likelihood has no maximum, only a supremum approached as the
//! separating coefficients grow without bound, where the fitted risks of the separated
//! patients go to 0 (or 1) and every other fitted risk to its limit. The refit then follows the
//! likelihood there from the first maximisation's end, with Newton steps extended while the
//! likelihood rises ([`LineSearch::Extending`]), and the replicate is the limit (within
//! rounding of it), as R's `glm` and `glmer` return it (with a warning). Only a refit that
//! converges in none of these ways fails.
//!
//! A refit under another assignment of the treatment (a randomisation test's) is built from the
//! same patterns, each with the treatment column set to its unit's value (see `assigned`), and
//! maximised in the same way from the fit's estimate and conditional modes.

use super::assigned::Assignable;
use super::boundary::{maximise_checked, near_boundary};
use super::fit::free_vcov;
use super::likelihood::Likelihood;
use super::patterns::Patterns;
use super::{glm_start, pilot_start, pilot_subsamples, GlmmFit, LikelihoodObjective, SETTINGS};
use crate::core::error::{Error, Result};
use crate::data::Cohort;
use crate::frame::counterfactual::FitFrame;
use crate::models::fitted::{field_accessors, Assignment, Fitted, Parameters, Refit};
use crate::models::newton::{LineSearch, Maximum};
use crate::models::variance_components::no_clusters_error;

/// The buffers of one thread.
pub struct Workspace {
    patterns: Patterns,
    labels: Vec<String>,
}

impl GlmmFit {
    /// The analyses of a fit (standardised effects, cluster bootstrap, randomisation tests)
    /// average over and resample the clusters of one grouping factor: a model with several
    /// random-effect terms (crossed) has none, and is refused with an error naming its terms.
    fn check_clustered(&self) -> Result<()> {
        if !self.state.random.is_general() {
            return Ok(());
        }
        Err(no_clusters_error(
            &self.formula,
            self.state.random.n_groups.iter().map(|(g, _)| g.as_str()),
        ))
    }
}

impl Fitted for GlmmFit {
    type Workspace = Workspace;

    field_accessors!();

    fn parameters(&self) -> Result<Parameters> {
        self.check_clustered()?;
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
        self.check_clustered()?;
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
        let (best, _) = self.maximise_from_fit(&likelihood, clusters, "a bootstrap sample")?;
        Ok(best.params)
    }

    type Assignable = Assignable;

    fn assignable(&self, cohort: &Cohort, column: usize, units: &[u32]) -> Result<Assignable> {
        self.check_clustered()?;
        Assignable::new(self, cohort, column, units)
    }

    fn refit_assigned(
        &self,
        on: &Assignable,
        assignment: &Assignment<'_>,
        workspace: &mut Workspace,
    ) -> Result<Refit> {
        let state = &self.state;
        on.patterns_into(&state.patterns, assignment, &mut workspace.patterns)?;
        let likelihood = Likelihood {
            patterns: &workspace.patterns,
            ..state.likelihood()
        };
        let groups: Vec<usize> = (0..state.random.groups.len()).collect();
        let (best, mut objective) =
            self.maximise_from_fit(&likelihood, &groups, "the refit of an assignment")?;
        let p = state.patterns.p;
        let singular = !near_boundary(&best.params, p, &state.random).is_empty();
        let std_errors = if assignment.std_errors {
            let vcov = free_vcov(state.vcov_kind, &mut objective, &best, state.random.nested)?;
            Some((0..p).map(|j| vcov[(j, j)].sqrt()).collect())
        } else {
            None
        };
        Ok(Refit {
            psi: best.params,
            std_errors,
            singular,
        })
    }
}

impl GlmmFit {
    /// The maximum of `likelihood`, whose groups are the fit's clusters `clusters`, from the
    /// fit's estimate and those clusters' conditional modes, with the check of variances on
    /// their boundary; where that does not converge, the maximum found as the main fit finds its
    /// own, or the supremum of a separated likelihood (see the module docs). `what` names the
    /// refit in the error when none converges. Returns the maximum and the objective.
    fn maximise_from_fit<'a>(
        &self,
        likelihood: &'a Likelihood<'a>,
        clusters: &[usize],
        what: &str,
    ) -> Result<(Maximum, LikelihoodObjective<'a>)> {
        let state = &self.state;
        let mut objective = LikelihoodObjective::new(likelihood, state.random.nested);
        let q = state.patterns.q;
        for (j, &g) in clusters.iter().enumerate() {
            objective.modes[j * q..(j + 1) * q].copy_from_slice(&state.modes[g * q..(g + 1) * q]);
        }
        let p = state.patterns.p;
        let (mut best, _) = maximise_checked(
            &mut objective,
            self.psi.clone(),
            p,
            &state.random,
            SETTINGS,
            LineSearch::Backtracking,
        )?;
        if !best.converged {
            best = match self.main_fit_maximum(likelihood) {
                Ok(found) => found,
                Err(Error::Separation { .. }) => {
                    maximise_checked(
                        &mut objective,
                        best.params,
                        p,
                        &state.random,
                        SETTINGS,
                        LineSearch::Extending,
                    )?
                    .0
                }
                Err(e) => return Err(e),
            };
        }
        if !best.converged {
            return Err(Error::NotConverged {
                what: format!("the refit of {what}"),
                iterations: best.iterations,
                criterion: best.gradient.iter().fold(0.0, |m: f64, g| m.max(g.abs())),
            });
        }
        Ok((best, objective))
    }

    /// The maximum of `likelihood` (a cluster sample's) found as the main fit finds its own:
    /// from the GLM without random effects, after pilot fits of a large sample, then the check
    /// of variances on their boundary. [`Error::Separation`] when the GLM finds the sample's
    /// outcome separated.
    fn main_fit_maximum(&self, likelihood: &Likelihood<'_>) -> Result<Maximum> {
        let state = &self.state;
        let nested = state.random.nested;
        let pilots = pilot_subsamples(likelihood.patterns, state.pilot);
        let mut start = glm_start(likelihood, &state.frame.names, &pilots)?;
        start.extend(state.random.structure.start());
        let start = pilot_start(likelihood, nested, &pilots, start);
        let mut objective = LikelihoodObjective::new(likelihood, nested);
        let (best, _) = maximise_checked(
            &mut objective,
            start,
            likelihood.patterns.p,
            &state.random,
            SETTINGS,
            LineSearch::Backtracking,
        )?;
        Ok(best)
    }
}
