//! Exposure time of a stepped-wedge or staggered-rollout cohort: the periods since a patient's
//! cluster crossed over to the intervention.
//!
//! The cluster's crossover is the first period in which any of its rows is treated. A row in
//! period `t` of a cluster that crossed over in period `s` has
//!
//! ```text
//! exposure = t - s + 1   if the row is treated (1 = the first treated period),
//!            0           if it is not (before the crossover),
//! ```
//!
//! optionally capped at `L` (`min(t - s + 1, L)`: the exposure-time model then pools the effect
//! of exposure `L` and later). Clusters that never cross over have exposure 0 throughout. Periods
//! are whole numbers counted consecutively (1, 2, ...), so `t - s` counts periods of the calendar;
//! the treatment is a 0/1 column. A row left untreated in its cluster's crossover period (a
//! crossover during the period, by patient) has exposure 0; one left untreated in a later period
//! (the cluster switched back) is an error naming it, as is a period that is not a whole number
//! or a treatment that is not 0/1. A row missing its cluster, period or treatment has a missing
//! exposure (and is dropped by a model that uses it, as any incomplete row).
//!
//! This is the exposure of the exposure-time indicator (ETI) model of Kenny et al. (2022, Stat
//! Med 41:4311), `y ~ factor(exposure) + factor(period) + (1 | cluster)` with level 0 as the
//! reference: one effect per exposure time instead of the immediate, constant effect of
//! `treated` (see `effects::exposure_time`).
//!
//! ```
//! use stepwedge::data::{Cohort, LoadOptions};
//! use stepwedge::frame::design::ExposureTime;
//!
//! let csv = "cluster,period,treated\nA,1,0\nA,2,1\nA,3,1\nA,4,1\nB,1,0\nB,2,0\nB,3,0\nB,4,1\n";
//! let cohort = Cohort::from_csv_str(csv, &LoadOptions::default()).unwrap();
//! let (cohort, report) = ExposureTime::new("cluster", "period", "treated").derive(cohort).unwrap();
//! assert_eq!(cohort.numeric("exposure").unwrap(), &[0.0, 1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 1.0]);
//! assert_eq!(report.max_exposure, 3);
//! ```

use serde::Serialize;

use super::{format_level, Grouping};
use crate::core::builder::builder_methods;
use crate::core::error::{Error, Result};
use crate::data::{Cohort, Column};

/// How to derive the exposure time (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct ExposureTime {
    cluster: String,
    period: String,
    treatment: String,
    name: String,
    cap: Option<usize>,
}

/// One cluster's crossover.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Crossover {
    /// The cluster's label.
    pub cluster: String,
    /// The first period in which a row of the cluster is treated; `None` if none is.
    pub period: Option<f64>,
}

/// What the derivation found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExposureReport {
    /// The column added.
    pub column: String,
    /// The cluster, period and treatment columns it was derived from.
    pub from: [String; 3],
    /// The cap, if any.
    pub cap: Option<usize>,
    /// Each cluster's crossover, in the sorted order of the cluster labels.
    pub crossovers: Vec<Crossover>,
    /// The largest exposure (after the cap): `L`, the number of exposure-time effects.
    pub max_exposure: usize,
    /// Rows at each exposure `0..=max_exposure`.
    pub rows_by_exposure: Vec<usize>,
    /// Rows whose exposure was capped (their uncapped exposure is above the cap).
    pub capped: usize,
    /// Rows untreated in their cluster's crossover period (exposure 0).
    pub untreated_in_crossover_period: usize,
    /// Rows missing the cluster, period or treatment (exposure missing).
    pub missing: usize,
}

impl ExposureTime {
    /// The exposure time from the cluster, period and 0/1 treatment columns, added as the
    /// numeric column `exposure`, uncapped.
    pub fn new(cluster: &str, period: &str, treatment: &str) -> ExposureTime {
        ExposureTime {
            cluster: cluster.to_string(),
            period: period.to_string(),
            treatment: treatment.to_string(),
            name: "exposure".to_string(),
            cap: None,
        }
    }

    builder_methods! {
        /// The name of the column added (default `exposure`).
        name(&mut this, name: &str) { this.name = name.to_string(); }

        /// Cap the exposure at `cap` (at least 1): exposures above it count as `cap`.
        cap(&mut this, cap: usize) { this.cap = Some(cap); }
    }

    /// `cohort` with the exposure column added, and the report. Errors: a column missing or
    /// already there, a text period or treatment, a period that is not a whole number, a
    /// treatment that is not 0/1, a cluster that switches back, a cap of 0 (each naming the
    /// column and, for a cell, the data row).
    pub fn derive(&self, mut cohort: Cohort) -> Result<(Cohort, ExposureReport)> {
        if cohort.names().contains(&self.name) {
            return Err(Error::invalid(
                "exposure",
                format!(
                    "the cohort already has a column '{}'; use it, or name the derived column \
                     otherwise",
                    self.name
                ),
            ));
        }
        let (values, report) = self.values(&cohort)?;
        cohort.add_column(self.name.clone(), Column::Numeric(values))?;
        Ok((cohort, report))
    }

    /// The exposure of every row of `cohort` (NaN where it is missing), and the report.
    pub fn values(&self, cohort: &Cohort) -> Result<(Vec<f64>, ExposureReport)> {
        if self.cap == Some(0) {
            return Err(Error::invalid(
                "cap",
                "the exposure time is capped at 0: the cap must be at least 1 (the first \
                 treated period)",
            ));
        }
        let period = number_column(cohort, &self.period, "a period number")?;
        let treated = number_column(cohort, &self.treatment, "the 0/1 treatment")?;
        let cluster = cohort.column(&self.cluster)?;
        let complete: Vec<usize> = (0..cohort.n_rows())
            .filter(|&i| !(cluster.is_missing(i) || period[i].is_nan() || treated[i].is_nan()))
            .collect();
        for &i in &complete {
            if period[i].fract() != 0.0 || !period[i].is_finite() {
                return Err(cell(
                    &self.period,
                    i,
                    period[i],
                    "periods must be whole numbers counted consecutively (1, 2, ...) to count \
                     the periods since a cluster crossed over",
                ));
            }
            if treated[i] != 0.0 && treated[i] != 1.0 {
                return Err(cell(
                    &self.treatment,
                    i,
                    treated[i],
                    "the treatment must be 0 or 1",
                ));
            }
        }
        let groups = Grouping::new(cohort, &self.cluster, &complete)?;
        let mut crossover: Vec<Option<f64>> = vec![None; groups.len()];
        for (k, &i) in complete.iter().enumerate() {
            if treated[i] == 1.0 {
                let first = &mut crossover[groups.codes[k]];
                *first = Some(first.map_or(period[i], |p| p.min(period[i])));
            }
        }
        let mut values = vec![f64::NAN; cohort.n_rows()];
        let (mut capped, mut untreated_in_crossover_period) = (0, 0);
        for (k, &i) in complete.iter().enumerate() {
            let g = groups.codes[k];
            let exposure = match (crossover[g], treated[i] == 1.0) {
                (Some(s), true) => {
                    let since = period[i] - s + 1.0;
                    match self.cap {
                        Some(cap) if since > cap as f64 => {
                            capped += 1;
                            cap as f64
                        }
                        _ => since,
                    }
                }
                (Some(s), false) if period[i] > s => {
                    return Err(cell(
                        &self.treatment,
                        i,
                        0.0,
                        &format!(
                            "cluster {} crossed over in period {}, but this row of period {} is \
                             untreated; exposure time needs a cluster to stay under the \
                             intervention once it has crossed over",
                            groups.labels[g],
                            format_level(s),
                            format_level(period[i])
                        ),
                    ));
                }
                (Some(s), false) => {
                    if period[i] == s {
                        untreated_in_crossover_period += 1;
                    }
                    0.0
                }
                (None, _) => 0.0,
            };
            values[i] = exposure;
        }
        let max_exposure = values
            .iter()
            .filter(|v| !v.is_nan())
            .fold(0.0, |m: f64, v| m.max(*v)) as usize;
        let mut rows_by_exposure = vec![0; max_exposure + 1];
        for v in values.iter().filter(|v| !v.is_nan()) {
            rows_by_exposure[*v as usize] += 1;
        }
        let crossovers = groups
            .labels
            .iter()
            .zip(&crossover)
            .map(|(label, period)| Crossover {
                cluster: label.clone(),
                period: *period,
            })
            .collect();
        let report = ExposureReport {
            column: self.name.clone(),
            from: [
                self.cluster.clone(),
                self.period.clone(),
                self.treatment.clone(),
            ],
            cap: self.cap,
            crossovers,
            max_exposure,
            rows_by_exposure,
            capped,
            untreated_in_crossover_period,
            missing: cohort.n_rows() - complete.len(),
        };
        Ok((values, report))
    }
}

/// The numbers of column `name`, or an error saying that `what` must be a number.
fn number_column<'c>(cohort: &'c Cohort, name: &str, what: &str) -> Result<&'c [f64]> {
    match cohort.column(name)? {
        Column::Numeric(v) => Ok(v),
        Column::Categorical { .. } => Err(Error::invalid(
            name,
            format!("is a text column, but {what} is needed to derive the exposure time"),
        )),
    }
}

/// The error of the cell of `column` in (0-based) row `row`.
fn cell(column: &str, row: usize, value: f64, expected: &str) -> Error {
    Error::InvalidValue {
        column: column.to_string(),
        row: row + 1,
        value: format_level(value),
        expected: expected.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::LoadOptions;

    fn cohort(csv: &str) -> Cohort {
        Cohort::from_csv_str(csv, &LoadOptions::default()).unwrap()
    }

    const DESIGN: &str = "cluster,period,treated\n\
        C1,1,0\nC1,2,1\nC1,3,1\nC1,4,1\nC1,4,1\n\
        C2,1,0\nC2,2,0\nC2,3,1\nC2,4,1\n\
        C3,1,0\nC3,2,0\nC3,3,0\nC3,4,0\n";

    #[test]
    fn periods_since_crossover_with_and_without_a_cap() {
        let (c, report) = ExposureTime::new("cluster", "period", "treated")
            .derive(cohort(DESIGN))
            .unwrap();
        let want = [0., 1., 2., 3., 3., 0., 0., 1., 2., 0., 0., 0., 0.];
        assert_eq!(c.numeric("exposure").unwrap(), &want);
        assert_eq!(report.max_exposure, 3);
        assert_eq!(report.rows_by_exposure, vec![7, 2, 2, 2]);
        assert_eq!(report.crossovers[0].period, Some(2.0));
        assert_eq!(report.crossovers[2].period, None);
        let (c, report) = ExposureTime::new("cluster", "period", "treated")
            .cap(2)
            .name("e")
            .derive(cohort(DESIGN))
            .unwrap();
        let want = [0., 1., 2., 2., 2., 0., 0., 1., 2., 0., 0., 0., 0.];
        assert_eq!(c.numeric("e").unwrap(), &want);
        assert_eq!((report.max_exposure, report.capped), (2, 2));
    }

    #[test]
    fn rows_are_taken_in_any_order_and_missing_cells_give_missing_exposure() {
        let csv = "cluster,period,treated\n2,3,1\n1,1,0\n2,1,0\n1,2,1\n,2,1\n2,NA,1\n";
        let (values, report) = ExposureTime::new("cluster", "period", "treated")
            .values(&cohort(csv))
            .unwrap();
        assert_eq!(&values[..4], &[1.0, 0.0, 0.0, 1.0]);
        assert!(values[4].is_nan() && values[5].is_nan());
        assert_eq!(report.missing, 2);
    }

    #[test]
    fn bad_cells_and_switching_back_are_named() {
        let derive = |csv: &str| {
            ExposureTime::new("cluster", "period", "treated")
                .values(&cohort(csv))
                .unwrap_err()
                .to_string()
        };
        let back = derive("cluster,period,treated\nA,1,0\nA,2,1\nA,3,0\n");
        assert!(
            back.contains("'treated'") && back.contains("row 3") && back.contains("cluster A"),
            "{back}"
        );
        let half = derive("cluster,period,treated\nA,1,0\nA,1.5,1\n");
        assert!(
            half.contains("'period'") && half.contains("row 2"),
            "{half}"
        );
        let two = derive("cluster,period,treated\nA,1,0\nA,2,2\n");
        assert!(two.contains("0 or 1"), "{two}");
        let text = derive("cluster,period,treated\nA,x,0\nA,y,1\n");
        assert!(text.contains("period") && text.contains("text"), "{text}");
        let unknown = ExposureTime::new("clustr", "period", "treated")
            .values(&cohort(DESIGN))
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("did you mean 'cluster'"), "{unknown}");
        let zero = ExposureTime::new("cluster", "period", "treated")
            .cap(0)
            .values(&cohort(DESIGN))
            .unwrap_err();
        assert!(zero.to_string().contains("cap"));
        let again = ExposureTime::new("cluster", "period", "treated")
            .name("treated")
            .derive(cohort(DESIGN))
            .unwrap_err();
        assert!(again.to_string().contains("already has a column 'treated'"));
    }

    #[test]
    fn a_crossover_during_the_period_leaves_its_untreated_rows_at_zero() {
        let csv = "cluster,period,treated\nA,1,0\nA,2,0\nA,2,1\nA,3,1\n";
        let (values, report) = ExposureTime::new("cluster", "period", "treated")
            .values(&cohort(csv))
            .unwrap();
        assert_eq!(values, vec![0.0, 0.0, 1.0, 2.0]);
        assert_eq!(report.untreated_in_crossover_period, 1);
    }
}
