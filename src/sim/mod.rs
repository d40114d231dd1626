//! Seeded simulation of stepped-wedge, staggered-rollout and parallel cohorts of hip-fracture
//! patients aged 65+, with a binary outcome (30-day mortality) and costs.
//!
//! # Design
//! Clusters `C01`, `C02`, … (zero-padded, so sorted order is numeric order) are followed over
//! periods `1..=n_periods`. Cluster *c* is under the intervention (`treated` = 1) in period *t*
//! exactly when its [`schedule`](SimConfig::schedule) entry is `Some(s)` with *t* ≥ *s*; `None`
//! keeps it under usual care. Each cluster-period has a fixed or Poisson number of patients.
//!
//! # Patients
//! * `age`: normal(`age_mean`, `age_sd`) truncated to 65..=105 (by redrawing), rounded to one
//!   decimal;
//! * `sex`: `"F"` with probability `p_female`, else `"M"`;
//! * `residence`: one of [`RESIDENCE_LEVELS`] with probabilities `residence_probs`.
//!
//! # Outcome models
//! Both outcomes have a linear predictor of the same form ([`Effects`]):
//!
//! ```text
//! η = β₀ + β_trt·treated + f(period) + β_age·(age − 85) + β_male·[sex = M]
//!     + β_res[residence] + u_c + v_ct
//! ```
//!
//! with f(period) = slope·(period − 1) or one effect per period, `treated` replaced by the share
//! of the effect at the cluster's exposure time where
//! [`treatment_by_exposure`](SimConfig::treatment_by_exposure) makes it build up or fade, a cluster random intercept
//! u_c ~ N(0, `cluster_sd`²) and a cluster-period random intercept v_ct ~ N(0,
//! `cluster_period_sd`²), all independent; the outcome and the cost model each have their own
//! coefficients and their own independent random effects.
//!
//! * Binary outcome: P(event) = 1/(1 + e^−η) ([`OutcomeLink::Logit`]) or e^η ([`OutcomeLink::Log`], a
//!   relative-risk model; a probability above 1 is an error naming the patient).
//! * Cost: gamma with shape k = `cost.shape` and mean e^η (so the variance is mean²/k).
//!
//! # Counts for simulation power
//! [`CountModel`] simulates the cluster-period counts of a binary outcome in a trial of any
//! [`Design`](crate::design::Design) (fractions, unobserved cells, sizes per cell), with cluster
//! and cluster-period random effects on the logit scale and optionally an effect that changes
//! with exposure time, without drawing patients: see [`counts`](CountModel) for its model.
//! [`SimConfig::from_design`] takes a design's schedule for the patient-level cohorts here.
//!
//! # Reproducibility
//! [`SimConfig::simulate`] with the same configuration and seed gives the same cohort, bit for
//! bit, on every platform (every target with IEEE 754 double arithmetic, which includes all of
//! Rust's tier-1 targets): the generator is xoshiro256++ (a fixed, published algorithm, unlike
//! `rand`'s `StdRng`) seeded from the `u64` through SplitMix64, and every draw uses only
//! correctly rounded arithmetic (`+ − × ÷ √`, rounding): the simulator carries its own `exp` and
//! `ln` instead of the platform's maths library, whose last bits may differ. A configuration
//! computed with the platform's `exp` or `ln` (say, an intercept of `0.1f64.ln()`) can of
//! course differ in its last bit between platforms; the defaults do not. Draws are made in a fixed order: outcome cluster effects for all clusters,
//! then cost cluster effects; then cluster by cluster and, within a cluster, period by period:
//! the outcome and cost cluster-period effects, the number of patients, and for each patient age,
//! sex, residence, outcome and cost. Changing one setting therefore changes later draws too.
//!
//! # Output columns
//! `id` (1..=N), `cluster`, `period`, `treated`, `age`, `sex`, `residence`, then the outcome
//! (`death30` by default) and the cost (`cost` by default).
//!
//! ```
//! use stepwedge::sim::SimConfig;
//! let cohort = SimConfig::stepped_wedge(6, 4).simulate(42).unwrap();
//! assert_eq!(cohort.names()[1], "cluster");
//! ```

mod config;
mod counts;

pub use config::{
    ClusterSize, CostModel, Effects, OutcomeLink, OutcomeModel, PeriodEffect, SimConfig,
    AGE_CENTRE, AGE_RANGE, MAX_CLUSTER_PERIODS, MAX_PATIENTS, RESIDENCE_LEVELS,
};
pub use counts::{
    CellCount, CellSizes, CountModel, TrialCounts, COUNT_COLUMNS, PATIENT_OUTCOME,
    TRIALS_CSV_HEADER,
};

use crate::core::error::{Error, Result};
use crate::core::rng::{self as random, Draws};
use crate::data::{Cohort, Column};

/// Names of the columns that do not depend on the configuration.
const DESIGN_COLUMNS: [&str; 7] = [
    "id",
    "cluster",
    "period",
    "treated",
    "age",
    "sex",
    "residence",
];

/// The columns being filled, one entry per patient.
#[derive(Debug, Default)]
struct Rows {
    cluster: Vec<u32>,
    period: Vec<f64>,
    treated: Vec<f64>,
    age: Vec<f64>,
    female: Vec<bool>,
    residence: Vec<u32>,
    event: Vec<f64>,
    cost: Vec<f64>,
}

/// The patient-level part of a linear predictor (everything but the random effects).
fn fixed_part(e: &Effects, period: usize, share: f64, age: f64, female: bool, res: usize) -> f64 {
    e.intercept
        + if share == 0.0 {
            0.0
        } else {
            share * e.treatment
        }
        + e.period.at(period)
        + e.age_per_year * (age - AGE_CENTRE)
        + if female { 0.0 } else { e.male }
        + e.residence.get(res).copied().unwrap_or(0.0)
}

impl SimConfig {
    /// Simulates a cohort from this configuration and `seed` (see the [module docs](self) for
    /// the model). Errors if the configuration is invalid (see [`SimConfig::validate`]) or if a
    /// log-link probability exceeds 1.
    pub fn simulate(&self, seed: u64) -> Result<Cohort> {
        self.validate()?;
        let mut draws = Draws::new(seed);
        let (outcome, cost) = (&self.outcome.effects, &self.cost.effects);
        let u_outcome: Vec<f64> = (0..self.n_clusters)
            .map(|_| draws.normal(0.0, outcome.cluster_sd))
            .collect();
        let u_cost: Vec<f64> = (0..self.n_clusters)
            .map(|_| draws.normal(0.0, cost.cluster_sd))
            .collect();
        let mut rows = Rows::default();
        for (c, start) in self.schedule.iter().enumerate() {
            for period in 1..=self.n_periods {
                let v_outcome = draws.normal(0.0, outcome.cluster_period_sd);
                let v_cost = draws.normal(0.0, cost.cluster_period_sd);
                let n = match self.cluster_size {
                    ClusterSize::Fixed(n) => n as u64,
                    ClusterSize::Poisson { mean } => draws.poisson(mean),
                };
                let treated = start.is_some_and(|s| period >= s);
                let share = self.treatment_share(*start, period);
                for _ in 0..n {
                    let age = self.draw_age(&mut draws);
                    let female = draws.bernoulli(self.p_female);
                    let res = draws.categorical(&self.residence_probs);
                    let eta = fixed_part(outcome, period, share, age, female, res)
                        + u_outcome[c]
                        + v_outcome;
                    let p = self.event_probability(eta, rows.age.len() + 1)?;
                    let event = draws.bernoulli(p);
                    let eta_cost =
                        fixed_part(cost, period, share, age, female, res) + u_cost[c] + v_cost;
                    let amount = draws.gamma(self.cost.shape, random::exp(eta_cost));
                    rows.cluster.push(c as u32);
                    rows.period.push(period as f64);
                    rows.treated.push(f64::from(u8::from(treated)));
                    rows.age.push(age);
                    rows.female.push(female);
                    rows.residence.push(res as u32);
                    rows.event.push(f64::from(u8::from(event)));
                    rows.cost.push(amount);
                }
            }
        }
        self.cohort_of(rows)
    }

    /// An age from the truncated normal, rounded to one decimal.
    fn draw_age(&self, draws: &mut Draws) -> f64 {
        let (lo, hi) = AGE_RANGE;
        loop {
            let age = (draws.normal(self.age_mean, self.age_sd) * 10.0).round() / 10.0;
            if (lo..=hi).contains(&age) {
                return age;
            }
        }
    }

    /// The event probability for linear predictor `eta` of patient `id`.
    fn event_probability(&self, eta: f64, id: usize) -> Result<f64> {
        match self.outcome.link {
            OutcomeLink::Logit => Ok(1.0 / (1.0 + random::exp(-eta))),
            OutcomeLink::Log => {
                let p = random::exp(eta);
                if p > 1.0 {
                    return Err(Error::invalid(
                        "outcome.effects",
                        format!(
                            "with the log link, patient {id} has event probability {p:.4} > 1; \
                             lower the intercept or the effects"
                        ),
                    ));
                }
                Ok(p)
            }
        }
    }

    /// The cohort of the simulated rows.
    fn cohort_of(&self, rows: Rows) -> Result<Cohort> {
        let width = self.n_clusters.to_string().len().max(2);
        let cluster_labels = (1..=self.n_clusters)
            .map(|i| format!("C{i:0width$}"))
            .collect();
        let sex_codes = rows.female.iter().map(|&f| u32::from(!f)).collect();
        let residence_labels = RESIDENCE_LEVELS.iter().map(|s| s.to_string()).collect();
        let ids = (1..=rows.age.len()).map(|i| i as f64).collect();
        Cohort::from_columns(vec![
            ("id".into(), Column::Numeric(ids)),
            (
                "cluster".into(),
                Column::categorical(rows.cluster, cluster_labels)?,
            ),
            ("period".into(), Column::Numeric(rows.period)),
            ("treated".into(), Column::Numeric(rows.treated)),
            ("age".into(), Column::Numeric(rows.age)),
            (
                "sex".into(),
                Column::categorical(sex_codes, vec!["F".into(), "M".into()])?,
            ),
            (
                "residence".into(),
                Column::categorical(rows.residence, residence_labels)?,
            ),
            (self.outcome.name.clone(), Column::Numeric(rows.event)),
            (self.cost.name.clone(), Column::Numeric(rows.cost)),
        ])
    }
}
