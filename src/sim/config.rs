//! The simulator's configuration: design, patient mix and the two outcome models.

use crate::core::error::{Error, Result};
use crate::design::Design;

/// Residence categories, in the order used by [`SimConfig::residence_probs`] and
/// [`Effects::residence`]. (In the cohort the levels are sorted, so R's reference level for
/// `residence` is `nursing_home`.)
pub const RESIDENCE_LEVELS: [&str; 4] = ["own_home", "nursing_home", "temporary", "rehab_24h"];

/// Lowest and highest simulated age (years).
pub const AGE_RANGE: (f64, f64) = (65.0, 105.0);

/// Age at which the age effect is zero (the linear predictor uses age − 85).
pub const AGE_CENTRE: f64 = 85.0;

/// Most patients one simulation may be configured to produce (in expectation).
pub const MAX_PATIENTS: f64 = 50_000_000.0;

/// Most cluster-periods (clusters × periods) one simulation may have.
pub const MAX_CLUSTER_PERIODS: usize = 10_000_000;

/// How many patients each cluster-period has.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterSize {
    /// Exactly this many.
    Fixed(usize),
    /// A Poisson number with this mean.
    Poisson {
        /// Mean patients per cluster-period.
        mean: f64,
    },
}

/// OutcomeLink of the binary outcome model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeLink {
    /// logit P(event) = η: coefficients are log odds ratios.
    Logit,
    /// log P(event) = η: coefficients are log relative risks. A probability above 1 is an error.
    Log,
}

/// The calendar-time effect in a linear predictor.
#[derive(Debug, Clone, PartialEq)]
pub enum PeriodEffect {
    /// `slope × (period − 1)`: zero in period 1.
    Linear(f64),
    /// One effect per period (period 1 first); length must be `n_periods`.
    PerPeriod(Vec<f64>),
}

impl PeriodEffect {
    /// The effect in `period` (1-based; checked by validation).
    pub(crate) fn at(&self, period: usize) -> f64 {
        match self {
            PeriodEffect::Linear(slope) => slope * (period as f64 - 1.0),
            PeriodEffect::PerPeriod(v) => v.get(period - 1).copied().unwrap_or(0.0),
        }
    }
}

/// Coefficients and random-effect SDs of one linear predictor:
///
/// ```text
/// η = intercept + treatment·treated + period effect + age_per_year·(age − 85)
///     + male·[sex = M] + residence[r] + u_cluster + v_cluster-period
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Effects {
    /// η for a 85-year-old woman living in her own home, under usual care, in period 1.
    pub intercept: f64,
    /// Effect of the intervention (`treated` = 1).
    pub treatment: f64,
    /// Calendar-time effect.
    pub period: PeriodEffect,
    /// Effect per year of age.
    pub age_per_year: f64,
    /// Effect of male sex.
    pub male: f64,
    /// Effect of each residence, in [`RESIDENCE_LEVELS`] order (own home first, usually 0).
    pub residence: [f64; 4],
    /// SD of the normal cluster random intercept u.
    pub cluster_sd: f64,
    /// SD of the normal cluster-period random intercept v.
    pub cluster_period_sd: f64,
}

/// The binary outcome (30-day mortality by default).
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeModel {
    /// Column name in the cohort.
    pub name: String,
    /// OutcomeLink function.
    pub link: OutcomeLink,
    /// Linear predictor.
    pub effects: Effects,
}

impl Default for OutcomeModel {
    /// `death30`, logistic: about 8% mortality for the reference patient, OR 0.82 for the
    /// intervention, OR 1.06 per year of age, OR 1.7 for men, OR 2.2 for nursing-home residents.
    fn default() -> Self {
        OutcomeModel {
            name: "death30".into(),
            link: OutcomeLink::Logit,
            effects: Effects {
                intercept: -2.45,
                treatment: -0.2,
                period: PeriodEffect::Linear(-0.02),
                age_per_year: 0.06,
                male: 0.55,
                residence: [0.0, 0.8, 0.5, 0.3],
                cluster_sd: 0.2,
                cluster_period_sd: 0.1,
            },
        }
    }
}

/// Per-patient costs: gamma distributed with log mean η.
#[derive(Debug, Clone, PartialEq)]
pub struct CostModel {
    /// Column name in the cohort.
    pub name: String,
    /// Linear predictor of the log mean cost.
    pub effects: Effects,
    /// Gamma shape (coefficient of variation 1/√shape); at least 0.1.
    pub shape: f64,
}

impl Default for CostModel {
    /// `cost`: mean 60,000 DKK for the reference patient, shape 2 (CV 0.71).
    fn default() -> Self {
        CostModel {
            name: "cost".into(),
            effects: Effects {
                // The simulator's own ln, so that the default is the same on every platform.
                intercept: crate::core::rng::ln(60_000.0),
                treatment: -0.05,
                period: PeriodEffect::Linear(0.01),
                age_per_year: -0.005,
                male: 0.05,
                residence: [0.0, -0.2, 0.1, 0.15],
                cluster_sd: 0.1,
                cluster_period_sd: 0.05,
            },
            shape: 2.0,
        }
    }
}

/// Everything the simulator needs. Fields are public; start from [`SimConfig::default`],
/// [`SimConfig::stepped_wedge`], [`SimConfig::staggered`] or [`SimConfig::parallel`] and change
/// what you need. [`SimConfig::validate`] (called by `simulate`) checks every field.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Number of clusters (hospitals, municipalities).
    pub n_clusters: usize,
    /// Number of periods.
    pub n_periods: usize,
    /// Per cluster, the first period (1-based) under the intervention; `None` = usual care
    /// throughout. Length `n_clusters`.
    pub schedule: Vec<Option<usize>>,
    /// Patients per cluster-period.
    pub cluster_size: ClusterSize,
    /// Mean of the normal age distribution before truncation to [`AGE_RANGE`].
    pub age_mean: f64,
    /// SD of the normal age distribution before truncation (at most 50).
    pub age_sd: f64,
    /// Probability that a patient is a woman.
    pub p_female: f64,
    /// Probability of each residence, in [`RESIDENCE_LEVELS`] order; they sum to 1.
    pub residence_probs: [f64; 4],
    /// The binary outcome.
    pub outcome: OutcomeModel,
    /// The costs.
    pub cost: CostModel,
    /// A treatment effect that builds up (or fades) with exposure time: the share of each
    /// model's `treatment` effect at exposure 1, 2, ... (the periods since the cluster crossed
    /// over, 1 = its first treated period), the last share holding from then on. Empty (the
    /// default): the whole effect from the first treated period, as the Hussey & Hughes model
    /// assumes. `[1/3, 2/3, 1]` ramps it up over three periods.
    pub treatment_by_exposure: Vec<f64>,
}

impl Default for SimConfig {
    /// A stepped wedge of 10 clusters over 6 periods (two clusters cross over in each of periods
    /// 2..=6) with Poisson(30) patients per cluster-period, and the default patient mix and models.
    fn default() -> Self {
        SimConfig::stepped_wedge(10, 6)
    }
}

impl SimConfig {
    /// The share of the treatment effect in period `period` of a cluster that starts the
    /// intervention in period `start` (0 before, or without a start).
    pub(crate) fn treatment_share(&self, start: Option<usize>, period: usize) -> f64 {
        match start {
            Some(s) if period >= s => exposure_share(&self.treatment_by_exposure, period - s + 1),
            _ => 0.0,
        }
    }

    /// A configuration (with the defaults of [`SimConfig::stepped_wedge`] for everything else)
    /// whose clusters and schedule are `design`'s: one cluster per row, one period per column,
    /// each cluster's start its first period under the intervention (`None` if it has none), so
    /// that a schedule is written once, as a [`Design`]. The cohort's clusters are still named
    /// `C01`, `C02`, ... in the design's row order. The cohort simulator knows only whole
    /// crossovers: a share between 0 and 1, an unobserved cell or a cluster leaving the
    /// intervention is an error naming the cluster and period (the count simulator,
    /// [`super::CountModel`], takes any design).
    pub fn from_design(design: &Design) -> Result<SimConfig> {
        let mut schedule = Vec::with_capacity(design.n_clusters());
        for (i, row) in design.cells().iter().enumerate() {
            let mut start = None;
            for (j, cell) in row.iter().enumerate() {
                let where_ = || {
                    format!(
                        "cluster '{}', period '{}'",
                        design.clusters()[i],
                        design.periods()[j].label
                    )
                };
                match *cell {
                    Some(1.0) => {
                        start.get_or_insert(j + 1);
                    }
                    Some(0.0) if start.is_none() => {}
                    Some(0.0) => {
                        return Err(Error::invalid(
                            "design",
                            format!(
                                "{} is back under usual care after the intervention started; \
                                 the cohort simulator's clusters stay under it",
                                where_()
                            ),
                        ))
                    }
                    Some(share) => {
                        return Err(Error::invalid(
                            "design",
                            format!(
                                "{} has the share {share}; the cohort simulator takes 0 or 1 \
                                 (simulate counts for transition periods)",
                                where_()
                            ),
                        ))
                    }
                    None => {
                        return Err(Error::invalid(
                            "design",
                            format!(
                                "{} is not observed; the cohort simulator observes every cell \
                                 (simulate counts for incomplete designs)",
                                where_()
                            ),
                        ))
                    }
                }
            }
            schedule.push(start);
        }
        Ok(SimConfig::with_schedule(design.n_periods(), schedule))
    }

    /// A stepped wedge: all clusters start under usual care in period 1 and cross over at
    /// periods 2..=n_periods, spread as evenly as possible (cluster order = crossover order).
    pub fn stepped_wedge(n_clusters: usize, n_periods: usize) -> Self {
        SimConfig::staggered(n_clusters, 0, n_periods)
    }

    /// A staggered rollout: `n_switching` clusters cross over as in a stepped wedge, followed by
    /// `n_never` usual-care clusters that never switch.
    pub fn staggered(n_switching: usize, n_never: usize, n_periods: usize) -> Self {
        let steps = n_periods.saturating_sub(1);
        // Cluster i crosses over at the middle of its share of the steps.
        // In u128 so that no size overflows; the result is at most `steps`, a usize.
        let step_of = |i: usize| {
            let step = (2 * i as u128 + 1) * steps as u128 / (2 * n_switching as u128);
            usize::try_from(step).unwrap_or(steps)
        };
        let switching = (0..n_switching).map(|i| Some(step_of(i).saturating_add(2)));
        let schedule = switching.chain((0..n_never).map(|_| None)).collect();
        SimConfig::with_schedule(n_periods, schedule)
    }

    /// A parallel comparison: `n_intervention` clusters under the intervention from period 1,
    /// then `n_control` usual-care clusters.
    pub fn parallel(n_intervention: usize, n_control: usize, n_periods: usize) -> Self {
        let schedule = (0..n_intervention)
            .map(|_| Some(1))
            .chain((0..n_control).map(|_| None))
            .collect();
        SimConfig::with_schedule(n_periods, schedule)
    }

    /// Defaults for everything but the design.
    fn with_schedule(n_periods: usize, schedule: Vec<Option<usize>>) -> Self {
        SimConfig {
            n_clusters: schedule.len(),
            n_periods,
            schedule,
            cluster_size: ClusterSize::Poisson { mean: 30.0 },
            age_mean: 84.0,
            age_sd: 7.0,
            p_female: 0.7,
            residence_probs: [0.68, 0.22, 0.04, 0.06],
            outcome: OutcomeModel::default(),
            cost: CostModel::default(),
            treatment_by_exposure: Vec::new(),
        }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
        if self.n_clusters == 0 {
            return Err(Error::invalid("n_clusters", "must be at least 1"));
        }
        if self.n_periods == 0 {
            return Err(Error::invalid("n_periods", "must be at least 1"));
        }
        if self.n_clusters.saturating_mul(self.n_periods) > MAX_CLUSTER_PERIODS {
            return Err(Error::invalid(
                "n_clusters",
                format!(
                    "{} clusters × {} periods is more than {MAX_CLUSTER_PERIODS} cluster-periods",
                    self.n_clusters, self.n_periods
                ),
            ));
        }
        self.validate_schedule()?;
        self.validate_size()?;
        check_range("age_mean", self.age_mean, AGE_RANGE.0, AGE_RANGE.1)?;
        check_range("age_sd", self.age_sd, 0.0, 50.0)?;
        check_range("p_female", self.p_female, 0.0, 1.0)?;
        for (p, level) in self.residence_probs.iter().zip(RESIDENCE_LEVELS) {
            check_range(&format!("residence_probs[{level}]"), *p, 0.0, 1.0)?;
        }
        let total: f64 = self.residence_probs.iter().sum();
        if (total - 1.0).abs() > 1e-9 {
            return Err(Error::invalid(
                "residence_probs",
                format!("must sum to 1, not {total}"),
            ));
        }
        for (k, share) in self.treatment_by_exposure.iter().enumerate() {
            check_range(
                &format!("treatment_by_exposure[{}]", k + 1),
                *share,
                f64::MIN,
                f64::MAX,
            )?;
        }
        self.validate_effects("outcome", &self.outcome.effects)?;
        self.validate_effects("cost", &self.cost.effects)?;
        check_range("cost.shape", self.cost.shape, 0.1, f64::MAX)?;
        self.validate_names()
    }

    fn validate_schedule(&self) -> Result<()> {
        if self.schedule.len() != self.n_clusters {
            return Err(Error::invalid(
                "schedule",
                format!(
                    "has {} entries, one per cluster is needed ({})",
                    self.schedule.len(),
                    self.n_clusters
                ),
            ));
        }
        for (i, start) in self.schedule.iter().enumerate() {
            if let Some(s) = *start {
                if s == 0 || s > self.n_periods {
                    return Err(Error::invalid(
                        "schedule",
                        format!(
                            "cluster {} starts the intervention in period {s}, outside 1..={}",
                            i + 1,
                            self.n_periods
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_size(&self) -> Result<()> {
        let per_cell = match self.cluster_size {
            ClusterSize::Fixed(n) => n as f64,
            ClusterSize::Poisson { mean } => {
                check_range("cluster_size", mean, 0.0, MAX_PATIENTS)?;
                mean
            }
        };
        let expected = self.n_clusters as f64 * self.n_periods as f64 * per_cell;
        if expected > MAX_PATIENTS {
            return Err(Error::invalid(
                "cluster_size",
                format!("{expected} patients expected, more than the limit of {MAX_PATIENTS}"),
            ));
        }
        Ok(())
    }

    fn validate_effects(&self, model: &str, e: &Effects) -> Result<()> {
        let coefficients = [
            ("intercept", e.intercept),
            ("treatment", e.treatment),
            ("age_per_year", e.age_per_year),
            ("male", e.male),
        ];
        for (field, x) in coefficients {
            check_range(&format!("{model}.{field}"), x, f64::MIN, f64::MAX)?;
        }
        for (x, level) in e.residence.iter().zip(RESIDENCE_LEVELS) {
            check_range(
                &format!("{model}.residence[{level}]"),
                *x,
                f64::MIN,
                f64::MAX,
            )?;
        }
        check_range(&format!("{model}.cluster_sd"), e.cluster_sd, 0.0, f64::MAX)?;
        check_range(
            &format!("{model}.cluster_period_sd"),
            e.cluster_period_sd,
            0.0,
            f64::MAX,
        )?;
        match &e.period {
            PeriodEffect::Linear(slope) => {
                check_range(&format!("{model}.period"), *slope, f64::MIN, f64::MAX)
            }
            PeriodEffect::PerPeriod(v) => {
                if v.len() != self.n_periods {
                    return Err(Error::invalid(
                        &format!("{model}.period"),
                        format!(
                            "has {} effects, one per period is needed ({})",
                            v.len(),
                            self.n_periods
                        ),
                    ));
                }
                v.iter().enumerate().try_for_each(|(i, x)| {
                    check_range(
                        &format!("{model}.period[{}]", i + 1),
                        *x,
                        f64::MIN,
                        f64::MAX,
                    )
                })
            }
        }
    }

    fn validate_names(&self) -> Result<()> {
        let (outcome, cost) = (&self.outcome.name, &self.cost.name);
        for (field, name) in [("outcome.name", outcome), ("cost.name", cost)] {
            if name.trim_ascii().is_empty() || name.trim_ascii() != name {
                return Err(Error::invalid(
                    field,
                    format!("'{name}' is empty or has surrounding whitespace"),
                ));
            }
            if super::DESIGN_COLUMNS.contains(&name.as_str()) {
                return Err(Error::invalid(
                    field,
                    format!("'{name}' is the name of a design or covariate column"),
                ));
            }
        }
        if outcome == cost {
            return Err(Error::invalid(
                "cost.name",
                format!("'{cost}' is also the outcome's name"),
            ));
        }
        Ok(())
    }
}

/// The share of a treatment effect at exposure time `exposure` (1 = the first period under
/// the intervention) when it builds up or fades as `by_exposure` says (the last share holding
/// from then on; empty: the whole effect).
pub(crate) fn exposure_share(by_exposure: &[f64], exposure: usize) -> f64 {
    match by_exposure.len() {
        0 => 1.0,
        n => by_exposure[exposure.clamp(1, n) - 1],
    }
}

/// Checks that `x` is a number in `[lo, hi]`.
fn check_range(field: &str, x: f64, lo: f64, hi: f64) -> Result<()> {
    if x.is_nan() || x < lo || x > hi {
        let range = match (lo == f64::MIN, hi == f64::MAX) {
            (true, true) => "a finite number".to_string(),
            (false, true) => format!("a finite number >= {lo}"),
            _ => format!("in [{lo}, {hi}]"),
        };
        return Err(Error::invalid(field, format!("is {x}, must be {range}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_treatment_builds_up_with_exposure_time() {
        let mut c = SimConfig::stepped_wedge(4, 6);
        assert_eq!(c.treatment_share(Some(3), 2), 0.0);
        assert_eq!(c.treatment_share(Some(3), 3), 1.0);
        assert_eq!(c.treatment_share(None, 6), 0.0);
        c.treatment_by_exposure = vec![0.25, 0.5];
        let shares: Vec<f64> = (1..=6).map(|t| c.treatment_share(Some(2), t)).collect();
        assert_eq!(shares, vec![0.0, 0.25, 0.5, 0.5, 0.5, 0.5]);
        c.treatment_by_exposure = vec![f64::NAN];
        let error = c.validate().unwrap_err().to_string();
        assert!(error.contains("treatment_by_exposure[1]"), "{error}");
    }

    #[test]
    fn a_design_gives_the_schedule() {
        let design = Design::stepped_wedge(&[2, 1]).unwrap();
        let c = SimConfig::from_design(&design).unwrap();
        assert_eq!((c.n_clusters, c.n_periods), (3, 3));
        assert_eq!(c.schedule, vec![Some(2), Some(2), Some(3)]);
        c.validate().unwrap();
        let parallel = Design::parallel(1, 1, 2).unwrap();
        let c = SimConfig::from_design(&parallel).unwrap();
        assert_eq!(c.schedule, vec![Some(1), None]);
        let half = crate::design::SteppedWedge::new(&[1, 1])
            .fractions(&[0.5])
            .build()
            .unwrap();
        let e = SimConfig::from_design(&half).unwrap_err().to_string();
        assert!(e.contains("share 0.5"), "{e}");
        let gap = Design::stepped_wedge(&[1, 1])
            .unwrap()
            .with_unobserved(&[(0, 0)])
            .unwrap();
        let e = SimConfig::from_design(&gap).unwrap_err().to_string();
        assert!(e.contains("not observed"), "{e}");
        let back = Design::new(vec![vec![Some(0.0), Some(1.0), Some(0.0)]]).unwrap();
        let e = SimConfig::from_design(&back).unwrap_err().to_string();
        assert!(e.contains("back under usual care"), "{e}");
    }

    #[test]
    fn stepped_wedge_spreads_crossovers_evenly() {
        let c = SimConfig::stepped_wedge(10, 6);
        let starts: Vec<usize> = c.schedule.iter().map(|s| s.unwrap()).collect();
        assert_eq!(starts, vec![2, 2, 3, 3, 4, 4, 5, 5, 6, 6]);
        let c = SimConfig::stepped_wedge(3, 7);
        assert_eq!(c.schedule, vec![Some(3), Some(5), Some(7)]);
        c.validate().unwrap();
    }

    #[test]
    fn staggered_and_parallel_have_usual_care_clusters() {
        let c = SimConfig::staggered(4, 2, 5);
        assert_eq!(c.n_clusters, 6);
        assert_eq!(c.schedule[4..], [None, None]);
        c.validate().unwrap();
        let c = SimConfig::parallel(2, 3, 4);
        assert_eq!(c.schedule, vec![Some(1), Some(1), None, None, None]);
        c.validate().unwrap();
    }

    #[test]
    fn bad_fields_are_named() {
        let named = |c: SimConfig, field: &str| {
            let e = c.validate().unwrap_err();
            assert!(
                matches!(&e, Error::InvalidArgument { argument, .. } if argument == field),
                "{e}"
            );
        };
        let changed = |change: &dyn Fn(&mut SimConfig), field: &str| {
            let mut c = SimConfig::stepped_wedge(10, 6);
            change(&mut c);
            named(c, field);
        };
        named(SimConfig::stepped_wedge(0, 5), "n_clusters");
        named(SimConfig::stepped_wedge(3, 1), "schedule");
        named(SimConfig::parallel(1, 0, usize::MAX), "n_clusters");
        named(SimConfig::stepped_wedge(3, usize::MAX), "n_clusters");
        changed(&|c| c.schedule.truncate(9), "schedule");
        changed(&|c| c.p_female = 1.2, "p_female");
        changed(
            &|c| c.residence_probs = [0.5, 0.5, 0.5, -0.5],
            "residence_probs[rehab_24h]",
        );
        changed(
            &|c| c.residence_probs = [0.5, 0.2, 0.1, 0.1],
            "residence_probs",
        );
        changed(
            &|c| c.outcome.effects.cluster_sd = -0.1,
            "outcome.cluster_sd",
        );
        changed(
            &|c| c.cost.effects.period = PeriodEffect::PerPeriod(vec![0.0; 2]),
            "cost.period",
        );
        changed(&|c| c.cost.shape = 0.0, "cost.shape");
        changed(
            &|c| c.cluster_size = ClusterSize::Poisson { mean: f64::NAN },
            "cluster_size",
        );
        changed(
            &|c| c.cluster_size = ClusterSize::Fixed(usize::MAX),
            "cluster_size",
        );
        changed(&|c| c.outcome.name = "age".into(), "outcome.name");
        changed(&|c| c.cost.name = "death30".into(), "cost.name");
        changed(&|c| c.age_mean = 60.0, "age_mean");
        changed(&|c| c.outcome.effects.male = f64::INFINITY, "outcome.male");
    }
}
