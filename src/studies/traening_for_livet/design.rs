//! The trial's stepped-wedge design (6 municipalities, one crossing every 3 months) and the
//! KTH 2.0 stepped-wedge schedule on Funen, each as a rollout diagram.

use serde::Serialize;

use crate::report::figures::{RolloutDiagram, RolloutRow};

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
            counts: None,
        }
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
        counts: None,
    }
}
