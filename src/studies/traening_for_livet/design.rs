//! The trial's stepped-wedge design (6 municipalities, one crossing every 3 months) and the
//! KTH 2.0 stepped-wedge schedule on Funen, each as a [`Design`] and a rollout diagram.

use serde::Serialize;

use crate::core::error::Result;
use crate::design::Design;
use crate::report::figures::RolloutDiagram;

/// The trial's protocol, the source of the design.
pub const PROTOCOL_SOURCE: &str =
    "Ipsen et al., Trials 2022;23:375, doi:10.1186/s13063-022-06321-w (NCT04424186)";
/// The source of the KTH 2.0 schedule on Funen: the slides of seed 003.
pub const FUNEN_SOURCE: &str = "seed 003, slide 'Stepped wedge trial' (KTH 2.0 on Funen)";

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
    /// the intervention from period k + 1 (see the [module docs](super) on the names).
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

    /// The design as a [`Design`] for power calculations and figures: one row per
    /// municipality (its label), one numbered period per column, 0 before and 1 from its first
    /// period under the intervention. Its closed-form power is that of
    /// `swDsn(rep(1, 6))` ([`crate::design`]).
    pub fn schedule(&self) -> Result<Design> {
        let starts: Vec<Option<usize>> = self
            .first_intervention_period
            .iter()
            .copied()
            .map(Some)
            .collect();
        Design::from_start_periods(&starts, self.n_periods)?
            .with_cluster_labels(self.clusters.clone())
    }

    /// The design as a rollout diagram, one row per cluster and one column per period.
    pub fn diagram(&self) -> Result<RolloutDiagram> {
        Ok(RolloutDiagram::new(
            format!(
                "Træning for Livet: stepped wedge, {} municipalities, {} periods of {} months",
                self.clusters.len(),
                self.n_periods,
                self.months_per_period
            ),
            format!("Period ({} months each)", self.months_per_period),
            self.schedule()?,
        ))
    }
}

/// The Træning for Livet design ([`TrialDesign::traening_for_livet`]) as a [`Design`]: 6
/// municipalities over 7 periods of 3 months, the k-th under the intervention from period
/// k + 1.
pub fn traening_for_livet_design() -> Result<Design> {
    TrialDesign::traening_for_livet().schedule()
}

/// The KTH 2.0 stepped-wedge schedule on Funen (seed 003) as a [`Design`]: one row per group
/// of [`FUNEN_GROUPS`], one column per month 1..=17, 0 before the group's first month under
/// the intervention and 1 from it on. `funen_design().merge_periods(&[4, 3, 3, 3, 4])` is the
/// same schedule in the five periods between its steps.
pub fn funen_design() -> Result<Design> {
    let starts: Vec<Option<usize>> = FUNEN_GROUPS.iter().map(|(_, first)| Some(*first)).collect();
    Design::from_start_periods(&starts, FUNEN_MONTHS)?
        .with_cluster_labels(FUNEN_GROUPS.iter().map(|(g, _)| g.to_string()).collect())
}

/// The KTH 2.0 stepped-wedge schedule on Funen (seed 003) as a rollout diagram
/// ([`funen_design`]).
pub fn funen_schedule() -> Result<RolloutDiagram> {
    Ok(RolloutDiagram::new(
        "KTH 2.0 on Funen: stepped-wedge schedule",
        "Month",
        funen_design()?,
    ))
}
