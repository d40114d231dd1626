//! Træning for Livet (Rehabilitation for Life): its stepped-wedge design, the crude comparisons
//! reported in seed 003, a synthetic trial of the same design analysed with the Hussey & Hughes
//! model and, beside it, population-averaged GEEs, and the KTH 2.0 stepped-wedge schedule on
//! Funen from the same slides.
//!
//! This is the library side of the example `traening_for_livet`
//! (`cargo run --release --example traening_for_livet`); [`TraeningForLivet::run`] computes
//! everything the example prints, in one serialisable result.
//!
//! # The design
//! Protocol: Ipsen et al., Trials 2022;23:375 (doi:10.1186/s13063-022-06321-w; NCT04424186).
//! A stepped-wedge cluster-randomised trial of 6 municipalities, one of which crosses from usual
//! care to the intervention every 3 months: 7 periods of 3 months, period 1 all usual care, and
//! the k-th municipality to cross (k = 1..6) under the intervention from period k + 1 on. The
//! protocol's municipalities and their randomised order could not be verified from public
//! sources here, so the clusters are called `Municipality 1`..`Municipality 6`, in crossover
//! order ([`TrialDesign::cluster_names_verified`] is false).
//!
//! # The crude comparisons
//! Seed 003 reports control n = 137 and intervention n = 135, and as whole percentages
//! (control vs intervention) 30-day readmission 10% vs 7%, 30-day mortality 3% vs 4% and 1-year
//! mortality 8% vs 8%. The event counts are not published. Each is reconstructed here as the
//! integer nearest to `percentage / 100 x n` ([`reconstruct_count`]); the table
//! [`TraeningForLivet::reproduction`] checks that `100 x count / n` rounds back to the published
//! whole percentage ([`Tolerance::Rounds`] with 0 decimals), and every count that would also
//! round to it is listed, since a whole percentage does not always fix the count (9 and 10 of
//! 135 both print as 7%). Each outcome's 2x2 table (intervention as the treated group) gives the
//! risks, the odds ratio, relative risk, risk difference with Newcombe's interval, the NNT and
//! Fisher's exact test ([`TwoByTwo::summary`](crate::effects::crude::TwoByTwo::summary)). They are crude: the trial's own analysis, which
//! would adjust for calendar time, is not in the seed.
//!
//! # The synthetic trial
//! The patient-level data are not public. [`SyntheticTrial`] simulates a trial of the same
//! design ([`SimConfig::simulate`](crate::sim::SimConfig::simulate), fixed seed) and analyses it; its numbers describe simulated
//! patients, not the trial. The settings ([`SyntheticSettings::traening_for_livet`]): Poisson
//! numbers of patients per cluster-period with mean `(137 + 135) / 42`, so that each arm (21
//! cluster-periods each) expects 136 patients; home-dwelling patients (the trial's population);
//! the outcome is 30-day readmission (`readmit30`), because 30-day mortality at 3-4% gives about
//! 10 deaths among 272 patients, too few for a mixed model: the usual-care risk is 10% and the
//! true odds ratio that of the published crude readmission risks, 7% against 10%
//! (`(7/93) / (10/90)` = 0.677), with a cluster random intercept of SD 0.2 on the logit scale
//! and no calendar trend, age or sex effect. The analysis is the Hussey & Hughes model
//!
//! ```text
//! logit P(readmit30_ij = 1 | u_i) = b0 + b_trt treated_ij + g_period(ij) + u_i,  u_i ~ N(0, s^2)
//! readmit30 ~ treated + factor(period) + (1 | cluster)
//! ```
//!
//! fitted by Laplace maximum likelihood ([`Glmm`](crate::models::glmm::Glmm)) with between-within degrees of freedom
//! ([`DfMethod::BetweenWithin`](crate::models::glmm::DfMethod::BetweenWithin)) for the t interval of `b_trt`. With 6 clusters the cluster SD
//! may well be estimated as 0 (a singular fit); that is reported, never hidden.
//!
//! # The population-averaged analysis
//! Beside the mixed model, the same simulated patients are analysed by GEE
//! ([`PopulationAveraged`], [`Gee`](crate::models::gee::Gee)): the marginal models
//!
//! ```text
//! logit P(readmit30_ij = 1) = b0 + b_trt treated_ij + b_time period_ij   (odds ratio)
//! log   P(readmit30_ij = 1) = b0 + b_trt treated_ij + b_time period_ij   (relative risk)
//! readmit30 ~ treated + period                                            (period numeric)
//! ```
//!
//! with an exchangeable working correlation within municipality (the `cluster` column),
//! MAEE correlation equations and the Kauermann-Carroll variance with t on `G - p` df. Calendar
//! time is a linear trend in the period number, not `factor(period)`: with 6 municipalities the
//! intercept, `treated` and 6 period contrasts (`p = 8`) would leave no degrees of freedom for
//! the t reference (the GEE refuses `G <= p`); the trend leaves `p = 3` and `6 - 3 = 3` df. With
//! 6 clusters this inference is fragile (wide t intervals on 3 df; small-sample corrections
//! studied with 8 or more clusters), and it is reported as a companion to the mixed model's.
//! The population-averaged odds ratio compares the population's risks, the mixed model's the
//! risks within a municipality; they differ little when the municipalities differ little. A
//! GEE that fails or does not converge is reported as such ([`GeeStatus`]).
//!
//! # KTH 2.0 on Funen
//! Seed 003's schedule: months 1-4 all usual care; from month 5 Nordfyn, Kerteminde and
//! Nyborg; from month 8 Faaborg-Midtfyn, Svendborg, Langeland, Assens and Ærø; from month 11
//! Odense 1; from month 14 Odense 2, to month 17; each group stays under the intervention once
//! it has crossed ([`funen_design`], drawn by [`funen_schedule`]).
mod crude;
mod design;
mod exposure_time;
mod population_averaged;
mod randomisation;
mod synthetic;

pub use crude::{
    reconstruct_count, CrudeComparison, PublishedOutcome, ReconstructedCount, N_CONTROL,
    N_INTERVENTION, PUBLISHED, RESULTS_SOURCE,
};
pub use design::{
    funen_design, funen_schedule, traening_for_livet_design, TrialDesign, FUNEN_GROUPS,
    FUNEN_MONTHS, FUNEN_SOURCE, PROTOCOL_SOURCE,
};
pub use exposure_time::{CapAttempt, ExposureTimeAnalysis, EXPOSURE, MIN_CLUSTERS_PER_EXPOSURE};
pub use population_averaged::{
    GeeStatus, PopulationAveraged, GEE_CLUSTER, GEE_CORRELATION, GEE_SE, GEE_TIME,
};
pub use randomisation::{ModelBasedTest, OpenInterval, RandomisationAnalysis};
pub use synthetic::{SyntheticSettings, SyntheticTrial, DEFAULT_SEED};

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{write_files, Reproduced, ReproductionTable, Tolerance};
use crate::core::error::Result;
use crate::report::figures::{exposure_effects_plot, rollout_diagram, RolloutDiagram};

/// File name of the design's rollout diagram.
pub const DESIGN_SVG: &str = "traening_for_livet_design.svg";
/// File name of the Funen schedule's rollout diagram.
pub const FUNEN_SVG: &str = "kth2_funen_schedule.svg";
/// File name of the synthetic trial's effects by exposure time (written when the exposure-time
/// model could be fitted).
pub const EXPOSURE_SVG: &str = "traening_for_livet_exposure_effects.svg";

/// Everything the example `traening_for_livet` prints.
#[derive(Debug, Clone, Serialize)]
pub struct TraeningForLivet {
    /// The trial's design.
    pub design: TrialDesign,
    /// The design as a rollout diagram.
    pub design_diagram: RolloutDiagram,
    /// The crude comparisons of seed 003, one per outcome of [`PUBLISHED`].
    pub crude: Vec<CrudeComparison>,
    /// Each reconstructed percentage beside the published one.
    pub reproduction: ReproductionTable,
    /// The synthetic trial and its analyses: the mixed model and, beside it, the
    /// population-averaged GEEs ([`SyntheticTrial::population_averaged`]), the exact
    /// randomisation test ([`SyntheticTrial::randomisation`]) and the exposure-time model
    /// ([`SyntheticTrial::exposure_time`]).
    pub synthetic: SyntheticTrial,
    /// The KTH 2.0 schedule on Funen.
    pub funen_schedule: RolloutDiagram,
}

impl TraeningForLivet {
    /// Computes every part, the synthetic trial from `seed` (use [`DEFAULT_SEED`]).
    pub fn run(seed: u64) -> Result<Self> {
        let design = TrialDesign::traening_for_livet();
        let crude = PUBLISHED
            .iter()
            .map(|p| CrudeComparison::new(p, N_INTERVENTION, N_CONTROL))
            .collect::<Result<Vec<_>>>()?;
        let settings = SyntheticSettings::traening_for_livet(&design);
        Ok(TraeningForLivet {
            design_diagram: design.diagram()?,
            reproduction: reproduction_table(&crude),
            crude,
            synthetic: SyntheticTrial::run(&design, &settings, seed)?,
            funen_schedule: funen_schedule()?,
            design,
        })
    }

    /// The figures as (file name, SVG document): [`DESIGN_SVG`], [`FUNEN_SVG`] and, when the
    /// synthetic trial's exposure-time model could be fitted, [`EXPOSURE_SVG`] (its odds ratio
    /// at each exposure time with its interval, the TATE as a line with its interval as a band,
    /// and the Hussey & Hughes odds ratio dashed: [`exposure_effects_plot`]).
    pub fn figures(&self) -> Result<Vec<(&'static str, String)>> {
        let mut figures = vec![
            (DESIGN_SVG, rollout_diagram(&self.design_diagram)?),
            (FUNEN_SVG, rollout_diagram(&self.funen_schedule)?),
        ];
        if let Some(tate) = &self.synthetic.exposure_time.tate {
            let svg = exposure_effects_plot(tate, Some(&self.synthetic.treatment), None)?;
            figures.push((EXPOSURE_SVG, svg));
        }
        Ok(figures)
    }

    /// Writes the figures as the directory `dir` (its parents created if needed), all at once:
    /// an old copy of them there is replaced whole and a failure leaves `dir` as it was; returns
    /// the paths written. Errors ([`Error::Io`](crate::core::error::Error::Io)) name the
    /// directory or file that could not be made; a `dir` holding anything else is not replaced
    /// ([`Error::InvalidArgument`](crate::core::error::Error::InvalidArgument)).
    pub fn write_figures(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        write_files(dir, self.figures()?)
    }
}

/// For each comparison and group, the reconstructed percentage beside the published one.
fn reproduction_table(crude: &[CrudeComparison]) -> ReproductionTable {
    let rows = crude
        .iter()
        .flat_map(|c| {
            [("control", &c.control), ("intervention", &c.intervention)].map(|(group, r)| {
                Reproduced::new(
                    format!("{}, {group}", c.outcome),
                    r.published_percent,
                    format!("{}%", r.published_percent),
                    RESULTS_SOURCE,
                    r.percent,
                    Tolerance::Rounds { decimals: 0 },
                )
            })
        })
        .collect();
    ReproductionTable { rows }
}
