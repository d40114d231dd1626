//! Træning for Livet (Rehabilitation for Life): its stepped-wedge design, the crude comparisons
//! reported in seed 003, a synthetic trial of the same design analysed with the Hussey & Hughes
//! model, and the KTH 2.0 stepped-wedge schedule on Funen from the same slides.
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
//! Fisher's exact test ([`TwoByTwo::summary`]). They are crude: the trial's own analysis, which
//! would adjust for calendar time, is not in the seed.
//!
//! # The synthetic trial
//! The patient-level data are not public. [`SyntheticTrial`] simulates a trial of the same
//! design ([`SimConfig::simulate`], fixed seed) and analyses it; its numbers describe simulated
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
//! fitted by Laplace maximum likelihood ([`Glmm`]) with between-within degrees of freedom
//! ([`DfMethod::BetweenWithin`]) for the t interval of `b_trt`. With 6 clusters the cluster SD
//! may well be estimated as 0 (a singular fit); that is reported, never hidden.
//!
//! # KTH 2.0 on Funen
//! Seed 003's schedule: months 1-4 all usual care; from month 5 Nordfyn, Kerteminde and
//! Nyborg; from month 8 Faaborg-Midtfyn, Svendborg, Langeland, Assens and Ærø; from month 11
//! Odense 1; from month 14 Odense 2, to month 17; each group stays under the intervention once
//! it has crossed ([`funen_schedule`]).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Reproduced, ReproductionTable, Tolerance};
use crate::core::error::{Error, Result};
use crate::core::rng as random;
use crate::effects::crude::{Estimate, Summary, TwoByTwo, DEFAULT_LEVEL, MAX_COUNT};
use crate::models::coef_table::CoefRow;
use crate::models::glmm::{DfMethod, Glmm, GlmmFit};
use crate::report::figures::{rollout_diagram, RolloutDiagram, RolloutRow};
use crate::sim::{ClusterSize, Effects, OutcomeLink, OutcomeModel, PeriodEffect, SimConfig};

/// The trial's protocol, the source of the design.
pub const PROTOCOL_SOURCE: &str =
    "Ipsen et al., Trials 2022;23:375, doi:10.1186/s13063-022-06321-w (NCT04424186)";
/// The source of the crude results: the slides of seed 003.
pub const RESULTS_SOURCE: &str =
    "seed 003, slides 'Træning for Livet - resultater' (control n=137, intervention n=135)";
/// The source of the KTH 2.0 schedule on Funen: the slides of seed 003.
pub const FUNEN_SOURCE: &str = "seed 003, slide 'Stepped wedge trial' (KTH 2.0 on Funen)";

/// Patients in the control (usual-care) group, as published in seed 003.
pub const N_CONTROL: u64 = 137;
/// Patients in the intervention group, as published in seed 003.
pub const N_INTERVENTION: u64 = 135;

/// The outcomes of seed 003 as published: whole percentages of the control and intervention
/// groups.
pub const PUBLISHED: [PublishedOutcome; 3] = [
    PublishedOutcome {
        outcome: "30-day readmission",
        control_percent: 10.0,
        intervention_percent: 7.0,
    },
    PublishedOutcome {
        outcome: "30-day mortality",
        control_percent: 3.0,
        intervention_percent: 4.0,
    },
    PublishedOutcome {
        outcome: "1-year mortality",
        control_percent: 8.0,
        intervention_percent: 8.0,
    },
];

/// The seed of the synthetic trial when none is given (the protocol's article number).
pub const DEFAULT_SEED: u64 = 375;

/// File name of the design's rollout diagram.
pub const DESIGN_SVG: &str = "traening_for_livet_design.svg";
/// File name of the Funen schedule's rollout diagram.
pub const FUNEN_SVG: &str = "kth2_funen_schedule.svg";

/// The KTH 2.0 groups on Funen in seed 003's order, each with the first month (1-based) under
/// the intervention.
pub const FUNEN_GROUPS: [(&str, usize); 10] = [
    ("Nordfyn", 5),
    ("Kerteminde", 5),
    ("Nyborg", 5),
    ("Faaborg-Midtfyn", 8),
    ("Svendborg", 8),
    ("Langeland", 8),
    ("Assens", 8),
    ("Ærø", 8),
    ("Odense 1", 11),
    ("Odense 2", 14),
];
/// Months of the KTH 2.0 schedule on Funen.
pub const FUNEN_MONTHS: usize = 17;

/// One outcome of seed 003 as published.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PublishedOutcome {
    /// The outcome, e.g. `30-day readmission`.
    pub outcome: &'static str,
    /// Published percentage of the control group (whole percent).
    pub control_percent: f64,
    /// Published percentage of the intervention group (whole percent).
    pub intervention_percent: f64,
}

/// A stepped-wedge design: clusters crossing from usual care to the intervention, one step at a
/// time, and staying there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialDesign {
    /// The clusters in crossover order.
    pub clusters: Vec<String>,
    /// Whether `clusters` are the trial's own names (false: placeholders).
    pub cluster_names_verified: bool,
    /// Number of periods.
    pub n_periods: usize,
    /// Length of a period in months.
    pub months_per_period: usize,
    /// Per cluster, the first period (1-based) under the intervention.
    pub first_intervention_period: Vec<usize>,
    /// Where the design is published.
    pub source: String,
}

impl TrialDesign {
    /// Træning for Livet: 6 municipalities, 7 periods of 3 months, the k-th municipality under
    /// the intervention from period k + 1 (see the [module docs](self) on the names).
    pub fn traening_for_livet() -> Self {
        let n_clusters = 6;
        TrialDesign {
            clusters: (1..=n_clusters)
                .map(|k| format!("Municipality {k}"))
                .collect(),
            cluster_names_verified: false,
            n_periods: n_clusters + 1,
            months_per_period: 3,
            first_intervention_period: (2..=n_clusters + 1).collect(),
            source: PROTOCOL_SOURCE.to_string(),
        }
    }

    /// Whether cluster `cluster` (0-based, crossover order) is under the intervention in period
    /// `period` (1-based); `None` for a cluster or period outside the design.
    pub fn is_intervention(&self, cluster: usize, period: usize) -> Option<bool> {
        let first = self.first_intervention_period.get(cluster)?;
        (1..=self.n_periods)
            .contains(&period)
            .then_some(period >= *first)
    }

    /// The cluster-periods under usual care and under the intervention.
    pub fn cluster_periods(&self) -> (usize, usize) {
        let total = self.clusters.len() * self.n_periods;
        let intervention: usize = self
            .first_intervention_period
            .iter()
            .map(|f| (self.n_periods + 1).saturating_sub(*f))
            .sum();
        (total - intervention, intervention)
    }

    /// The design as a rollout diagram, one row per cluster and one column per period.
    pub fn diagram(&self) -> RolloutDiagram {
        RolloutDiagram {
            title: format!(
                "Træning for Livet: stepped wedge, {} municipalities, {} periods of {} months",
                self.clusters.len(),
                self.n_periods,
                self.months_per_period
            ),
            period_title: format!("Period ({} months each)", self.months_per_period),
            period_labels: (1..=self.n_periods).map(|p| p.to_string()).collect(),
            rows: self
                .clusters
                .iter()
                .zip(&self.first_intervention_period)
                .map(|(c, f)| RolloutRow::switching(c.clone(), self.n_periods, Some(*f)))
                .collect(),
        }
    }
}

/// An event count reconstructed from a published percentage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReconstructedCount {
    /// The published percentage.
    pub published_percent: f64,
    /// The group size.
    pub n: u64,
    /// The integer nearest to `published_percent / 100 x n` (halves away from zero).
    pub count: u64,
    /// `100 x count / n`.
    pub percent: f64,
    /// The lowest and highest count whose percentage rounds to the published one (at its whole
    /// percent; every count between them does too), `None` if no count does. It contains
    /// `count` when the reconstruction is consistent.
    pub consistent: Option<(u64, u64)>,
}

/// The event count nearest to `percent`% of `n` patients, with the counts that print as the same
/// whole percentage (see [`ReconstructedCount`]). Errors if `percent` is not in [0, 100] or `n`
/// is 0 or above [`MAX_COUNT`], the largest group of [`TwoByTwo`].
pub fn reconstruct_count(percent: f64, n: u64) -> Result<ReconstructedCount> {
    if !(0.0..=100.0).contains(&percent) {
        return Err(Error::invalid(
            "percent",
            format!("{percent} is not a percentage in [0, 100]"),
        ));
    }
    if n == 0 || n > MAX_COUNT {
        return Err(Error::invalid(
            "n",
            format!("a group of {n} patients is not in 1..={MAX_COUNT}"),
        ));
    }
    let whole = Tolerance::Rounds { decimals: 0 };
    let share = |k: u64| 100.0 * k as f64 / n as f64;
    let count = (percent / 100.0 * n as f64).round() as u64;
    // The counts that print as `percent` are a run of consecutive counts, within half a
    // percentage point (and one count) of it.
    let near = |p: f64| (p / 100.0 * n as f64).max(0.0);
    let prints = |k: u64| whole.accepts(percent, share(k));
    let (mut low, mut high) = (
        near(percent - 0.5).floor() as u64,
        (near(percent + 0.5).ceil() as u64).min(n),
    );
    while low <= high && !prints(low) {
        low += 1;
    }
    while high > low && !prints(high) {
        high -= 1;
    }
    Ok(ReconstructedCount {
        published_percent: percent,
        n,
        count,
        percent: share(count),
        consistent: (low <= high && prints(low)).then_some((low, high)),
    })
}

/// One crude comparison of seed 003 from its reconstructed counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrudeComparison {
    /// The outcome, e.g. `30-day readmission`.
    pub outcome: String,
    /// The intervention group's reconstructed count.
    pub intervention: ReconstructedCount,
    /// The control group's reconstructed count.
    pub control: ReconstructedCount,
    /// Every measure of the 2x2 table (intervention as treated) at 95%.
    pub summary: Summary,
}

impl CrudeComparison {
    /// The comparison of a published outcome with groups of `n_intervention` and `n_control`.
    pub fn new(published: &PublishedOutcome, n_intervention: u64, n_control: u64) -> Result<Self> {
        let intervention = reconstruct_count(published.intervention_percent, n_intervention)?;
        let control = reconstruct_count(published.control_percent, n_control)?;
        let signed = |k: u64| i64::try_from(k).map_err(|_| Error::invalid("n", "too large"));
        let table = TwoByTwo::new(
            signed(intervention.count)?,
            signed(n_intervention)?,
            signed(control.count)?,
            signed(n_control)?,
        )?;
        Ok(CrudeComparison {
            outcome: published.outcome.to_string(),
            intervention,
            control,
            summary: table.summary(DEFAULT_LEVEL)?,
        })
    }
}

/// The settings of the synthetic trial (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyntheticSettings {
    /// Name of the binary outcome column.
    pub outcome: String,
    /// Mean of the Poisson number of patients per cluster-period.
    pub patients_per_cluster_period: f64,
    /// Risk of the outcome under usual care in a cluster with random effect 0.
    pub control_risk: f64,
    /// True conditional odds ratio of the intervention.
    pub odds_ratio: f64,
    /// SD of the cluster random intercept (logit scale).
    pub cluster_sd: f64,
}

impl SyntheticSettings {
    /// The settings for Træning for Livet: patients sized to 137 + 135 over the design's
    /// cluster-periods, 10% readmission under usual care, the odds ratio of 7% against 10%,
    /// cluster SD 0.2.
    pub fn traening_for_livet(design: &TrialDesign) -> Self {
        let cells = (design.clusters.len() * design.n_periods) as f64;
        let odds = |percent: f64| percent / (100.0 - percent);
        let readmission = &PUBLISHED[0];
        SyntheticSettings {
            outcome: "readmit30".to_string(),
            patients_per_cluster_period: (N_CONTROL + N_INTERVENTION) as f64 / cells,
            control_risk: readmission.control_percent / 100.0,
            odds_ratio: odds(readmission.intervention_percent) / odds(readmission.control_percent),
            cluster_sd: 0.2,
        }
    }

    /// The simulator's configuration of `design` with these settings: home-dwelling patients,
    /// a logistic outcome with intercept `logit(control_risk)` and treatment `ln(odds_ratio)`,
    /// no calendar, age or sex effects, no cluster-period effect.
    pub fn sim_config(&self, design: &TrialDesign) -> SimConfig {
        let mut config = SimConfig::stepped_wedge(design.clusters.len(), design.n_periods);
        config.schedule = design
            .first_intervention_period
            .iter()
            .map(|f| Some(*f))
            .collect();
        config.cluster_size = ClusterSize::Poisson {
            mean: self.patients_per_cluster_period,
        };
        config.residence_probs = [1.0, 0.0, 0.0, 0.0];
        config.outcome = OutcomeModel {
            name: self.outcome.clone(),
            link: OutcomeLink::Logit,
            effects: Effects {
                // The simulator's own ln, so the configuration is the same on every platform.
                intercept: random::ln(self.control_risk / (1.0 - self.control_risk)),
                treatment: random::ln(self.odds_ratio),
                period: PeriodEffect::Linear(0.0),
                age_per_year: 0.0,
                male: 0.0,
                residence: [0.0; 4],
                cluster_sd: self.cluster_sd,
                cluster_period_sd: 0.0,
            },
        };
        config
    }
}

/// A synthetic trial of the design and its Hussey & Hughes analysis (see the
/// [module docs](self)). Its numbers describe simulated patients, not the trial.
#[derive(Debug, Clone, Serialize)]
pub struct SyntheticTrial {
    /// Always true: the patients are simulated.
    pub synthetic: bool,
    /// The simulator's seed.
    pub seed: u64,
    /// How the patients were simulated.
    pub settings: SyntheticSettings,
    /// The model fitted, in lme4's notation.
    pub formula: String,
    /// The simulated patients' crude 2x2 table (intervention as treated).
    pub counts: TwoByTwo,
    /// The treatment's row of the fit: log odds ratio, SE, t statistic on between-within df,
    /// p-value and t interval (and the odds ratio with its interval).
    pub treatment: CoefRow,
    /// The odds ratio `exp(b_trt)` with its t interval.
    pub odds_ratio: Estimate,
    /// Estimated SD of the cluster random intercept (0 for a singular fit).
    pub cluster_sd: f64,
    /// Whether the optimiser converged.
    pub converged: bool,
    /// Whether the cluster variance is on its boundary (estimated as 0).
    pub singular: bool,
    /// The whole fit (coefficients, variance components, diagnostics).
    pub fit: GlmmFit,
}

impl SyntheticTrial {
    /// The Hussey & Hughes model of the synthetic trial, for an outcome column.
    pub fn formula(outcome: &str) -> String {
        format!("{outcome} ~ treated + factor(period) + (1 | cluster)")
    }

    /// Simulates `design` with `settings` from `seed` and fits the model. Errors if the
    /// simulation or the fit fails (for example separation, when a period has no events).
    pub fn run(design: &TrialDesign, settings: &SyntheticSettings, seed: u64) -> Result<Self> {
        let cohort = settings.sim_config(design).simulate(seed)?;
        let formula = SyntheticTrial::formula(&settings.outcome);
        let fit = Glmm::new(&formula)?
            .df(DfMethod::BetweenWithin)
            .fit(&cohort)?;
        let treatment = fit.term("treated")?.clone();
        let odds_ratio = Estimate {
            estimate: treatment.estimate.exp(),
            ci_low: treatment.ci_low.exp(),
            ci_high: treatment.ci_high.exp(),
            level: fit.level,
        };
        let cluster_sd = fit
            .random_effects
            .iter()
            .find(|r| r.group == "cluster")
            .map(|r| r.sd)
            .ok_or_else(|| Error::Numerical {
                what: "the synthetic trial's fit".into(),
                message: "it has no cluster random effect".into(),
            })?;
        Ok(SyntheticTrial {
            synthetic: true,
            seed,
            settings: settings.clone(),
            formula,
            counts: TwoByTwo::from_cohort(&cohort, &settings.outcome, "treated")?,
            treatment,
            odds_ratio,
            cluster_sd,
            converged: fit.converged,
            singular: fit.singular,
            fit,
        })
    }
}

/// The KTH 2.0 stepped-wedge schedule on Funen (seed 003): one row per group of
/// [`FUNEN_GROUPS`], one column per month 1..=17.
pub fn funen_schedule() -> RolloutDiagram {
    RolloutDiagram {
        title: "KTH 2.0 on Funen: stepped-wedge schedule".to_string(),
        period_title: "Month".to_string(),
        period_labels: (1..=FUNEN_MONTHS).map(|m| m.to_string()).collect(),
        rows: FUNEN_GROUPS
            .iter()
            .map(|(group, first)| RolloutRow::switching(*group, FUNEN_MONTHS, Some(*first)))
            .collect(),
    }
}

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
    /// The synthetic trial and its analysis.
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
            design_diagram: design.diagram(),
            reproduction: reproduction_table(&crude),
            crude,
            synthetic: SyntheticTrial::run(&design, &settings, seed)?,
            funen_schedule: funen_schedule(),
            design,
        })
    }

    /// The two figures as (file name, SVG document): [`DESIGN_SVG`] and [`FUNEN_SVG`].
    pub fn figures(&self) -> Result<Vec<(&'static str, String)>> {
        Ok(vec![
            (DESIGN_SVG, rollout_diagram(&self.design_diagram)?),
            (FUNEN_SVG, rollout_diagram(&self.funen_schedule)?),
        ])
    }

    /// Writes the figures into `dir`, creating it (and its parents) if needed; returns the
    /// paths written. Errors ([`Error::Io`]) name the directory or file that could not be made.
    pub fn write_figures(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let io = |path: &Path| {
            let file = path.display().to_string();
            move |source| Error::Io { file, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        self.figures()?
            .into_iter()
            .map(|(name, svg)| {
                let path = dir.join(name);
                std::fs::write(&path, svg).map_err(io(&path))?;
                Ok(path)
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_nearest_to_the_percentage() {
        let r = reconstruct_count(7.0, 135).unwrap();
        assert_eq!((r.count, r.consistent), (9, Some((9, 10))));
        assert!((r.percent - 100.0 / 15.0).abs() < 1e-12);
        assert_eq!(
            reconstruct_count(10.0, 137).unwrap().consistent,
            Some((14, 14))
        );
        assert_eq!(reconstruct_count(0.0, 10).unwrap().count, 0);
        assert!(reconstruct_count(101.0, 10).is_err());
        assert!(reconstruct_count(f64::NAN, 10).is_err());
        assert!(reconstruct_count(5.0, 0).is_err());
        // The lowest and highest of the counts of 0..=n that print as the percentage.
        for (percent, n) in [(7.0, 135), (0.0, 137), (100.0, 40), (50.0, 3), (33.0, 1000)] {
            let all: Vec<u64> = (0..=n)
                .filter(|&k| (100.0 * k as f64 / n as f64).round() == percent)
                .collect();
            let ends = all.first().map(|low| (*low, *all.last().unwrap()));
            let r = reconstruct_count(percent, n).unwrap();
            assert_eq!(r.consistent, ends, "{percent}% of {n}");
        }
        assert_eq!(reconstruct_count(50.0, 3).unwrap().consistent, None);
        let (low, high) = reconstruct_count(3.0, MAX_COUNT)
            .unwrap()
            .consistent
            .unwrap();
        assert_eq!((low, high), (250_000, 349_999));
        assert!(reconstruct_count(3.0, MAX_COUNT + 1).is_err());
    }

    #[test]
    fn design_cells() {
        let d = TrialDesign::traening_for_livet();
        assert_eq!(d.is_intervention(0, 1), Some(false));
        assert_eq!(d.is_intervention(0, 2), Some(true));
        assert_eq!(d.is_intervention(5, 6), Some(false));
        assert_eq!(d.is_intervention(5, 7), Some(true));
        assert_eq!(d.is_intervention(6, 1), None);
        assert_eq!(d.is_intervention(0, 8), None);
        assert_eq!(d.cluster_periods(), (21, 21));
        let config = SyntheticSettings::traening_for_livet(&d).sim_config(&d);
        config.validate().unwrap();
        assert_eq!(
            config.schedule,
            SimConfig::stepped_wedge(6, 7).schedule,
            "the simulator's stepped wedge is the same design"
        );
    }
}
