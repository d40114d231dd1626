//! Cluster-period counts of a binary outcome in a trial of any [`Design`]: the simulator behind
//! simulation power (`effects::power`). A logistic model with cluster and cluster-period random
//! effects on the latent scale generates the number of events of each observed cell; the
//! patients themselves (their ages, sexes, costs) are not drawn, which is what makes thousands
//! of trials a second affordable. The analysis models collapse patient rows into these counts
//! anyway.
//!
//! # The model
//! For cluster `i` (row of the design) and period `j` (column) with `n_ij` patients,
//!
//! ```text
//! y_ij ~ Binomial(n_ij, p_ij)
//! logit p_ij = beta0 + f_j + theta s_ij r(e_ij) + u_i + v_ij
//!   beta0    the log odds under usual care in the first period, random effects 0 ([`CountModel::intercept`])
//!   f_j      the period effect ([`PeriodEffect`]: slope (j - 1), or one given per period)
//!   theta    the log odds ratio of the intervention at its full effect ([`CountModel::treatment`])
//!   s_ij     the design's share of the cell (0, 1, or a fraction for a transition period)
//!   r(e)     the share of the effect at exposure time e ([`CountModel::treatment_by_exposure`];
//!            1 when empty), e_ij = periods since the cluster's first period with a share above
//!            0 (1 in that period), counting unobserved periods, which are calendar time too
//!   u_i      cluster effect,        N(0, cluster_sd^2)
//!   v_ij     cluster-period effect, N(0, cluster_period_sd^2)
//! ```
//!
//! Cells the design does not observe have no patients. The sizes `n_ij` are fixed whole numbers
//! or Poisson with given means ([`CellSizes`]); a cell with 0 patients has no row in the trial.
//! [`CountModel::latent_icc`] sets the two SDs from an intracluster correlation on the latent
//! (logistic) scale, `sigma^2 = icc / (1 - icc) pi^2 / 3`, split by the cluster autocorrelation
//! `cac` into `cac sigma^2` for the cluster and `(1 - cac) sigma^2` for the cluster-period, the
//! same split as swPwr's `icc`/`cac` on its own scale.
//!
//! # Reproducibility
//! [`CountModel::simulate`] with the same model, design, sizes and seed gives the same counts,
//! bit for bit, on every platform (the generator and arithmetic of the cohort simulator: see
//! the [module docs](super)). Draws in a fixed order: the cluster effects of all clusters, then
//! cluster by cluster and period by period, for each observed cell its cluster-period effect,
//! its size (Poisson sizes only) and its events.

use crate::core::error::{Error, Result};
use crate::core::rng::{self as random, Draws};
use crate::data::{Cohort, Column};
use crate::design::Design;

use super::config::{exposure_share, PeriodEffect};
use super::MAX_PATIENTS;

/// The columns of a trial's cohort of counts ([`TrialCounts::counts_cohort`]): cluster, period
/// (the design's period number, 1-based), treatment share, events and patients.
pub const COUNT_COLUMNS: [&str; 5] = ["cluster", "period", "treated", "events", "trials"];

/// The 0/1 outcome column of a trial's cohort of patients ([`TrialCounts::patient_cohort`]).
pub const PATIENT_OUTCOME: &str = "y";

/// The header of simulated trials written as CSV ([`TrialCounts::csv_rows`]).
pub const TRIALS_CSV_HEADER: &str = "trial,cluster,period,treated,events,trials";

/// How many patients each cell of the design has (clusters x periods, the design's shape).
#[derive(Debug, Clone, PartialEq)]
pub enum CellSizes {
    /// Exactly this many in each cell.
    Fixed(Vec<Vec<u64>>),
    /// A Poisson number with this mean in each cell.
    Poisson(Vec<Vec<f64>>),
}

impl CellSizes {
    /// Fixed sizes from a matrix of whole numbers >= 0 (as [`crate::design::ClosedForm::size_matrix`]
    /// gives them). An entry that is not a whole number is an error naming its cell: take
    /// [`CellSizes::poisson`] for expected numbers of patients.
    pub fn fixed(matrix: &[Vec<f64>]) -> Result<CellSizes> {
        let mut rows = Vec::with_capacity(matrix.len());
        for (i, row) in matrix.iter().enumerate() {
            let mut out = Vec::with_capacity(row.len());
            for (j, &n) in row.iter().enumerate() {
                if !(n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= MAX_PATIENTS) {
                    return Err(Error::invalid(
                        "sizes",
                        format!(
                            "cell ({}, {}) has {n} patients; fixed sizes are whole numbers from \
                             0 to {MAX_PATIENTS} (expected numbers of patients: Poisson sizes)",
                            i + 1,
                            j + 1
                        ),
                    ));
                }
                out.push(n as u64);
            }
            rows.push(out);
        }
        Ok(CellSizes::Fixed(rows))
    }

    /// Poisson sizes with these means (finite, >= 0).
    pub fn poisson(matrix: &[Vec<f64>]) -> Result<CellSizes> {
        for (i, row) in matrix.iter().enumerate() {
            if let Some((j, n)) = row
                .iter()
                .enumerate()
                .find(|(_, n)| !(n.is_finite() && **n >= 0.0 && **n <= MAX_PATIENTS))
            {
                return Err(Error::invalid(
                    "sizes",
                    format!(
                        "cell ({}, {}) has a mean of {n} patients; Poisson means are numbers \
                         from 0 to {MAX_PATIENTS}",
                        i + 1,
                        j + 1
                    ),
                ));
            }
        }
        Ok(CellSizes::Poisson(matrix.to_vec()))
    }

    /// The (expected) patients of cell (i, j).
    fn mean(&self, i: usize, j: usize) -> f64 {
        match self {
            CellSizes::Fixed(m) => m[i][j] as f64,
            CellSizes::Poisson(m) => m[i][j],
        }
    }

    /// The (expected) number of patients in the cells `design` observes.
    pub fn expected_patients(&self, design: &Design) -> f64 {
        let mut total = 0.0;
        for (i, row) in design.cells().iter().enumerate() {
            for (j, cell) in row.iter().enumerate() {
                if cell.is_some() {
                    total += self.mean(i, j);
                }
            }
        }
        total
    }

    /// The sizes have the design's shape, and the trial at most [`MAX_PATIENTS`] patients.
    pub fn check(&self, design: &Design) -> Result<()> {
        let shape: Vec<usize> = match self {
            CellSizes::Fixed(m) => m.iter().map(Vec::len).collect(),
            CellSizes::Poisson(m) => m.iter().map(Vec::len).collect(),
        };
        let (rows, cols) = (design.n_clusters(), design.n_periods());
        if shape.len() != rows || shape.iter().any(|&c| c != cols) {
            return Err(Error::invalid(
                "sizes",
                format!(
                    "a matrix of {} rows (of {:?} columns) for a design of {rows} clusters and \
                     {cols} periods; the shapes must agree",
                    shape.len(),
                    shape.iter().max().unwrap_or(&0)
                ),
            ));
        }
        let expected = self.expected_patients(design);
        if expected > MAX_PATIENTS {
            return Err(Error::invalid(
                "sizes",
                format!("{expected} patients expected, more than the limit of {MAX_PATIENTS}"),
            ));
        }
        if expected <= 0.0 {
            return Err(Error::invalid(
                "sizes",
                "the observed cells have no patients",
            ));
        }
        Ok(())
    }
}

/// The logistic model that generates a trial's counts (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct CountModel {
    /// `beta0`: the log odds of the event under usual care in the first period, with the random
    /// effects at 0.
    pub intercept: f64,
    /// `theta`: the log odds ratio of the intervention at its full effect (0: the null).
    pub treatment: f64,
    /// The period effects `f_j` (0 in the first period).
    pub period: PeriodEffect,
    /// SD of the cluster effect `u_i` (logit scale).
    pub cluster_sd: f64,
    /// SD of the cluster-period effect `v_ij` (logit scale).
    pub cluster_period_sd: f64,
    /// The share of the effect at exposure time 1, 2, ... (periods since the cluster's first
    /// period with a share above 0), the last share holding from then on; empty: the whole
    /// effect from the first period (as [`super::SimConfig::treatment_by_exposure`]).
    pub treatment_by_exposure: Vec<f64>,
}

impl CountModel {
    /// Risk `risk0` under usual care and `risk1` under the intervention (in a cluster and period
    /// with random effects 0, in the first period): `beta0 = logit(risk0)`, `theta =
    /// logit(risk1) - logit(risk0)`. A risk difference d is `risks(risk0, risk0 + d)`. No
    /// period effects, no random effects (see [`CountModel::latent_icc`]).
    pub fn risks(risk0: f64, risk1: f64) -> Result<CountModel> {
        for (name, risk) in [("risk0", risk0), ("risk1", risk1)] {
            if !(risk > 0.0 && risk < 1.0) {
                return Err(Error::invalid(
                    name,
                    format!("is {risk}; a risk strictly between 0 and 1 is needed"),
                ));
            }
        }
        Ok(CountModel {
            intercept: logit(risk0),
            treatment: logit(risk1) - logit(risk0),
            period: PeriodEffect::Linear(0.0),
            cluster_sd: 0.0,
            cluster_period_sd: 0.0,
            treatment_by_exposure: Vec::new(),
        })
    }

    /// Risk `risk0` under usual care and the risk difference `difference` of the intervention
    /// (`risks(risk0, risk0 + difference)`: the difference holds in a cluster and period with
    /// random effects 0; on the logit scale the effect is the same in every cluster).
    pub fn risk_difference(risk0: f64, difference: f64) -> Result<CountModel> {
        CountModel::risks(risk0, risk0 + difference)
    }

    /// Risk `risk0` under usual care and the odds ratio `odds_ratio` (> 0) of the intervention.
    pub fn odds_ratio(risk0: f64, odds_ratio: f64) -> Result<CountModel> {
        if !(odds_ratio > 0.0 && odds_ratio.is_finite()) {
            return Err(Error::invalid(
                "odds_ratio",
                format!("is {odds_ratio}; a positive number is needed"),
            ));
        }
        let mut model = CountModel::risks(risk0, 0.5)?;
        model.treatment = odds_ratio.ln();
        Ok(model)
    }

    /// The random-effect SDs from an intracluster correlation `icc` in [0, 1) on the latent
    /// scale and the cluster autocorrelation `cac` in [0, 1] (1: no cluster-period effect):
    /// `sigma^2 = icc / (1 - icc) pi^2 / 3`, cluster `cac sigma^2`, cluster-period
    /// `(1 - cac) sigma^2`.
    pub fn latent_icc(mut self, icc: f64, cac: f64) -> Result<CountModel> {
        if !(0.0..1.0).contains(&icc) {
            return Err(Error::invalid(
                "icc",
                format!("is {icc}; a correlation in [0, 1) is needed"),
            ));
        }
        if !(0.0..=1.0).contains(&cac) {
            return Err(Error::invalid(
                "cac",
                format!("is {cac}; a correlation in [0, 1] is needed"),
            ));
        }
        let total = icc / (1.0 - icc) * std::f64::consts::PI.powi(2) / 3.0;
        self.cluster_sd = (cac * total).sqrt();
        self.cluster_period_sd = ((1.0 - cac) * total).sqrt();
        Ok(self)
    }

    /// The same model without an effect of the intervention (`theta = 0`): the null hypothesis.
    pub fn null(&self) -> CountModel {
        CountModel {
            treatment: 0.0,
            ..self.clone()
        }
    }

    /// Checks every field against `design`; the error names the first bad one.
    pub fn validate(&self, design: &Design) -> Result<()> {
        let finite = |name: &str, x: f64| {
            if x.is_finite() {
                Ok(())
            } else {
                Err(Error::invalid(
                    name,
                    format!("is {x}; a finite number is needed"),
                ))
            }
        };
        finite("intercept", self.intercept)?;
        finite("treatment", self.treatment)?;
        for (name, sd) in [
            ("cluster_sd", self.cluster_sd),
            ("cluster_period_sd", self.cluster_period_sd),
        ] {
            if !(sd.is_finite() && sd >= 0.0) {
                return Err(Error::invalid(
                    name,
                    format!("is {sd}; an SD >= 0 is needed"),
                ));
            }
        }
        for (k, share) in self.treatment_by_exposure.iter().enumerate() {
            finite(&format!("treatment_by_exposure[{}]", k + 1), *share)?;
        }
        match &self.period {
            PeriodEffect::Linear(slope) => finite("period", *slope),
            PeriodEffect::PerPeriod(v) => {
                if v.len() != design.n_periods() {
                    return Err(Error::invalid(
                        "period",
                        format!(
                            "has {} effects, one per period of the design is needed ({})",
                            v.len(),
                            design.n_periods()
                        ),
                    ));
                }
                v.iter()
                    .enumerate()
                    .try_for_each(|(j, x)| finite(&format!("period[{}]", j + 1), *x))
            }
        }
    }

    /// The linear predictor without random effects, `beta0 + f_j + theta share`, of a cell in
    /// period `period` (the design's column, from 0) whose share of the full effect is `share`
    /// (as [`CountModel::cell_shares`] gives it).
    pub fn fixed_part(&self, period: usize, share: f64) -> f64 {
        self.intercept
            + self.period.at(period + 1)
            + if share == 0.0 {
                0.0
            } else {
                self.treatment * share
            }
    }

    /// The share of the full effect `theta` in each cell of `design`, `s_ij r(e_ij)` (0 in an
    /// unobserved cell).
    pub fn cell_shares(&self, design: &Design) -> Vec<Vec<f64>> {
        design
            .cells()
            .iter()
            .map(|row| {
                let mut first: Option<usize> = None;
                row.iter()
                    .enumerate()
                    .map(|(j, cell)| {
                        let share = cell.unwrap_or(0.0);
                        if share > 0.0 && first.is_none() {
                            first = Some(j);
                        }
                        match (first, share > 0.0) {
                            (Some(f), true) => {
                                share * exposure_share(&self.treatment_by_exposure, j - f + 1)
                            }
                            _ => 0.0,
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// One trial of `design` with `sizes`, drawn with `seed` (see the [module docs](self)).
    /// Errors: an invalid model ([`CountModel::validate`]) or sizes ([`CellSizes::check`]).
    pub fn simulate(&self, design: &Design, sizes: &CellSizes, seed: u64) -> Result<TrialCounts> {
        self.validate(design)?;
        sizes.check(design)?;
        let shares = self.cell_shares(design);
        Ok(self.draw_counts(design, sizes, &shares, seed))
    }

    /// The trial's counts, the model and sizes checked and the cell shares computed.
    pub(crate) fn draw_counts(
        &self,
        design: &Design,
        sizes: &CellSizes,
        shares: &[Vec<f64>],
        seed: u64,
    ) -> TrialCounts {
        let mut draws = Draws::new(seed);
        let u: Vec<f64> = (0..design.n_clusters())
            .map(|_| draws.normal(0.0, self.cluster_sd))
            .collect();
        let mut cells = Vec::new();
        for (i, row) in design.cells().iter().enumerate() {
            for (j, cell) in row.iter().enumerate() {
                let Some(design_share) = *cell else { continue };
                let v = draws.normal(0.0, self.cluster_period_sd);
                let patients = match sizes {
                    CellSizes::Fixed(m) => m[i][j],
                    CellSizes::Poisson(m) => draws.poisson(m[i][j]),
                };
                let eta = self.fixed_part(j, shares[i][j]) + u[i] + v;
                let p = 1.0 / (1.0 + random::exp(-eta));
                let events = draws.binomial(patients, p);
                if patients > 0 {
                    cells.push(CellCount {
                        cluster: i,
                        period: j,
                        share: design_share,
                        patients,
                        events,
                    });
                }
            }
        }
        TrialCounts { cells }
    }
}

/// `log(p / (1 - p))`.
fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// The counts of one observed cell with patients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellCount {
    /// The cluster (row of the design, 0-based).
    pub cluster: usize,
    /// The period (column of the design, 0-based).
    pub period: usize,
    /// The design's share under the intervention (what the analysis takes as its treatment).
    pub share: f64,
    /// Patients.
    pub patients: u64,
    /// Patients with the event.
    pub events: u64,
}

/// A simulated trial: the counts of the cells with patients, cluster by cluster and period by
/// period.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialCounts {
    /// The cells with at least one patient.
    pub cells: Vec<CellCount>,
}

impl TrialCounts {
    /// Patients in the trial.
    pub fn patients(&self) -> u64 {
        self.cells.iter().map(|c| c.patients).sum()
    }

    /// Events in the trial.
    pub fn events(&self) -> u64 {
        self.cells.iter().map(|c| c.events).sum()
    }

    /// One row per cell with patients: [`COUNT_COLUMNS`] (`cluster` labelled as in `design`,
    /// `period` the period's number from 1, `treated` the design's share, `events`, `trials`),
    /// for `cbind(events, trials - events) ~ treated + factor(period) + (1 | cluster)`.
    pub fn counts_cohort(&self, design: &Design) -> Result<Cohort> {
        let cells = &self.cells;
        let [cluster, period, treated, events, trials] = COUNT_COLUMNS.map(String::from);
        Cohort::from_columns(vec![
            (
                cluster,
                Column::categorical(
                    cells.iter().map(|c| c.cluster as u32).collect(),
                    design.clusters().to_vec(),
                )?,
            ),
            (
                period,
                Column::Numeric(cells.iter().map(|c| (c.period + 1) as f64).collect()),
            ),
            (
                treated,
                Column::Numeric(cells.iter().map(|c| c.share).collect()),
            ),
            (
                events,
                Column::Numeric(cells.iter().map(|c| c.events as f64).collect()),
            ),
            (
                trials,
                Column::Numeric(cells.iter().map(|c| c.patients as f64).collect()),
            ),
        ])
    }

    /// The trial's cells as CSV rows under [`TRIALS_CSV_HEADER`], each ending in a newline:
    /// `trial` (the number given), the cluster's label in `design`, the period's number from 1,
    /// the share, the events and the patients; for checking the trials with another program.
    pub fn csv_rows(&self, design: &Design, trial: usize) -> String {
        let mut text = String::new();
        for c in &self.cells {
            text.push_str(&format!(
                "{trial},{},{},{},{},{}\n",
                design.clusters()[c.cluster],
                c.period + 1,
                c.share,
                c.events,
                c.patients
            ));
        }
        text
    }

    /// One row per patient: `cluster`, `period`, `treated` as in [`TrialCounts::counts_cohort`]
    /// and the 0/1 outcome [`PATIENT_OUTCOME`], each cell's patients with the event first.
    pub fn patient_cohort(&self, design: &Design) -> Result<Cohort> {
        let n = usize::try_from(self.patients()).unwrap_or(usize::MAX);
        let (mut cluster, mut period, mut treated, mut y) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for c in &self.cells {
            for k in 0..c.patients {
                cluster.push(c.cluster as u32);
                period.push((c.period + 1) as f64);
                treated.push(c.share);
                y.push(if k < c.events { 1.0 } else { 0.0 });
            }
        }
        Cohort::from_columns(vec![
            (
                COUNT_COLUMNS[0].to_string(),
                Column::categorical(cluster, design.clusters().to_vec())?,
            ),
            (COUNT_COLUMNS[1].to_string(), Column::Numeric(period)),
            (COUNT_COLUMNS[2].to_string(), Column::Numeric(treated)),
            (PATIENT_OUTCOME.to_string(), Column::Numeric(y)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn design() -> Design {
        Design::stepped_wedge(&[2, 2, 2]).unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_trial() {
        let model = CountModel::risks(0.12, 0.08)
            .unwrap()
            .latent_icc(0.05, 0.8)
            .unwrap();
        let sizes = CellSizes::fixed(&vec![vec![20.0; 4]; 6]).unwrap();
        let a = model.simulate(&design(), &sizes, 9).unwrap();
        let b = model.simulate(&design(), &sizes, 9).unwrap();
        let c = model.simulate(&design(), &sizes, 10).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.cells.len(), 24);
        assert_eq!(a.patients(), 480);
        let cohort = a.counts_cohort(&design()).unwrap();
        assert_eq!(cohort.names(), COUNT_COLUMNS);
        assert_eq!(cohort.n_rows(), 24);
        let patients = a.patient_cohort(&design()).unwrap();
        assert_eq!(patients.n_rows(), 480);
    }

    #[test]
    fn shares_follow_the_design_and_the_exposure() {
        let design = Design::new(vec![
            vec![Some(0.0), Some(0.5), Some(1.0), Some(1.0)],
            vec![Some(0.0), None, Some(1.0), Some(1.0)],
        ])
        .unwrap();
        let mut model = CountModel::risks(0.1, 0.2).unwrap();
        assert_eq!(
            model.cell_shares(&design),
            vec![vec![0.0, 0.5, 1.0, 1.0], vec![0.0, 0.0, 1.0, 1.0]]
        );
        model.treatment_by_exposure = vec![0.25, 0.5];
        assert_eq!(
            model.cell_shares(&design),
            vec![vec![0.0, 0.125, 0.5, 0.5], vec![0.0, 0.0, 0.25, 0.5]]
        );
        // The unobserved cell has no patients.
        let sizes = CellSizes::poisson(&[vec![5.0; 4], vec![5.0; 4]]).unwrap();
        let trial = model.simulate(&design, &sizes, 1).unwrap();
        assert!(!trial.cells.iter().any(|c| c.cluster == 1 && c.period == 1));
    }

    #[test]
    fn the_events_follow_the_risks() {
        // One huge cell per arm, no random effects: the shares of events are the risks.
        let design = Design::new(vec![vec![Some(0.0)], vec![Some(1.0)]]).unwrap();
        let model = CountModel::risks(0.119, 0.08).unwrap();
        let sizes = CellSizes::fixed(&[vec![1e6], vec![1e6]]).unwrap();
        let trial = model.simulate(&design, &sizes, 5).unwrap();
        let share = |k: usize| trial.cells[k].events as f64 / 1e6;
        assert!((share(0) - 0.119).abs() < 4.0 * (0.119 * 0.881 / 1e6f64).sqrt());
        assert!((share(1) - 0.08).abs() < 4.0 * (0.08 * 0.92 / 1e6f64).sqrt());
        let or = CountModel::odds_ratio(0.119, 0.6).unwrap();
        assert!((or.treatment - 0.6f64.ln()).abs() < 1e-15);
        let rd = CountModel::risk_difference(0.119, -0.039).unwrap();
        let risks = CountModel::risks(0.119, 0.08).unwrap();
        assert!((rd.treatment - risks.treatment).abs() < 1e-12);
        assert_eq!(rd.intercept, risks.intercept);
        assert!(CountModel::risk_difference(0.119, -0.2).is_err());
    }

    #[test]
    fn the_latent_icc_splits_by_the_autocorrelation() {
        let model = CountModel::risks(0.1, 0.1)
            .unwrap()
            .latent_icc(0.02, 0.75)
            .unwrap();
        let total = 0.02 / 0.98 * std::f64::consts::PI.powi(2) / 3.0;
        assert!((model.cluster_sd.powi(2) - 0.75 * total).abs() < 1e-15);
        assert!((model.cluster_period_sd.powi(2) - 0.25 * total).abs() < 1e-15);
    }

    #[test]
    fn bad_input_is_named() {
        let named = |r: Result<CountModel>, name: &str| {
            let e = r.unwrap_err();
            assert!(
                matches!(&e, Error::InvalidArgument { argument, .. } if argument == name),
                "{e}"
            );
        };
        named(CountModel::risks(0.0, 0.1), "risk0");
        named(CountModel::risks(0.1, 1.0), "risk1");
        named(CountModel::odds_ratio(0.1, -1.0), "odds_ratio");
        named(
            CountModel::risks(0.1, 0.1).unwrap().latent_icc(1.0, 1.0),
            "icc",
        );
        named(
            CountModel::risks(0.1, 0.1).unwrap().latent_icc(0.1, 1.5),
            "cac",
        );
        let mut model = CountModel::risks(0.1, 0.2).unwrap();
        model.period = PeriodEffect::PerPeriod(vec![0.0; 3]);
        let sizes = CellSizes::fixed(&vec![vec![20.0; 4]; 6]).unwrap();
        let e = model.simulate(&design(), &sizes, 1).unwrap_err();
        assert!(e.to_string().contains("period"), "{e}");
        model.period = PeriodEffect::Linear(0.0);
        model.cluster_sd = f64::NAN;
        let e = model.simulate(&design(), &sizes, 1).unwrap_err();
        assert!(e.to_string().contains("cluster_sd"), "{e}");
        let e = CellSizes::fixed(&[vec![2.5]]).unwrap_err();
        assert!(e.to_string().contains("cell (1, 1)"), "{e}");
        let e = CellSizes::poisson(&[vec![1.0, -1.0]]).unwrap_err();
        assert!(e.to_string().contains("cell (1, 2)"), "{e}");
        let wrong = CellSizes::fixed(&vec![vec![20.0; 3]; 6]).unwrap();
        let model = CountModel::risks(0.1, 0.2).unwrap();
        let e = model.simulate(&design(), &wrong, 1).unwrap_err();
        assert!(e.to_string().contains("shapes must agree"), "{e}");
        let empty = CellSizes::fixed(&vec![vec![0.0; 4]; 6]).unwrap();
        let e = model.simulate(&design(), &empty, 1).unwrap_err();
        assert!(e.to_string().contains("no patients"), "{e}");
    }
}
