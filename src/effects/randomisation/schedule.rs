//! The crossover schedule of a stepped-wedge trial, read from the rows a model used: each
//! cluster's crossover period (the first period in which its patients are treated), checked to
//! be a schedule, and the unit (cluster-period) of every row.

use serde::Serialize;

use crate::core::error::{Error, Result};
use crate::data::{Cohort, Column, MISSING_CODE};
use crate::frame::design::Grouping;

/// The code of a cluster that is never treated: it sorts after every period.
pub(crate) const NEVER: u32 = u32::MAX;

/// The schedule of a trial as its data show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    /// The cluster column.
    pub cluster_column: String,
    /// The period column.
    pub period_column: String,
    /// The clusters, sorted (numerically for a numeric column).
    pub clusters: Vec<String>,
    /// The periods, sorted (numerically for a numeric column).
    pub periods: Vec<String>,
    /// Each cluster's crossover: the index into `periods` of its first treated period, or
    /// `None` for a cluster never treated.
    pub crossover: Vec<Option<usize>>,
    /// The stratum column and each cluster's stratum, if the allocation was stratified.
    pub strata: Option<(String, Vec<String>)>,
    /// The cluster of each row the fit used.
    #[serde(skip)]
    pub(crate) row_cluster: Vec<u32>,
    /// The period of each row the fit used.
    #[serde(skip)]
    pub(crate) row_period: Vec<u32>,
}

/// The columns a schedule is read from.
pub(crate) struct Columns<'a> {
    pub cluster: &'a str,
    pub period: &'a str,
    pub treatment: &'a str,
    pub strata: Option<&'a str>,
}

impl Schedule {
    /// The schedule of the cohort rows `rows` (those a fit used). A cluster with treated and
    /// untreated patients in one period, or treated in one period and untreated in a later one,
    /// is an error naming it; so is a stratum column that varies within a cluster.
    pub(crate) fn read(cohort: &Cohort, rows: &[usize], columns: &Columns<'_>) -> Result<Schedule> {
        let clusters = complete_grouping(cohort, columns.cluster, rows)?;
        let periods = complete_grouping(cohort, columns.period, rows)?;
        let treated = match cohort.column(columns.treatment)? {
            Column::Numeric(v) => v,
            Column::Categorical { .. } => {
                return Err(Error::invalid(
                    columns.treatment,
                    "is a text column; the treatment must be a numeric 0/1 column",
                ))
            }
        };
        let (g, t) = (clusters.len(), periods.len());
        // Per cluster-period: 0 no rows, 1 untreated, 2 treated.
        let mut cell = vec![0u8; g * t];
        for (k, &i) in rows.iter().enumerate() {
            let (c, p) = (clusters.codes[k], periods.codes[k]);
            let here = if treated[i] == 1.0 { 2 } else { 1 };
            let slot = &mut cell[c * t + p];
            if *slot != 0 && *slot != here {
                return Err(Error::Cluster {
                    column: columns.cluster.to_string(),
                    message: format!(
                        "cluster '{}' has treated and untreated patients in period {} ('{}'): a \
                         randomisation test permutes whole clusters' crossovers, so the treatment \
                         must be the same for every patient of a cluster-period",
                        clusters.labels[c], periods.labels[p], columns.period
                    ),
                });
            }
            *slot = here;
        }
        let mut crossover = Vec::with_capacity(g);
        for (c, label) in clusters.labels.iter().enumerate() {
            let row = &cell[c * t..(c + 1) * t];
            let first = row.iter().position(|&s| s == 2);
            if let Some(first) = first {
                if let Some(later) = (first..t).find(|&p| row[p] == 1) {
                    return Err(Error::Cluster {
                        column: columns.cluster.to_string(),
                        message: format!(
                            "cluster '{label}' is treated in period {} and untreated in the later \
                             period {} ('{}'): the treatment does not follow a crossover \
                             schedule",
                            periods.labels[first], periods.labels[later], columns.period
                        ),
                    });
                }
            }
            crossover.push(first);
        }
        let strata = match columns.strata {
            None => None,
            Some(column) => Some((
                column.to_string(),
                cluster_strata(cohort, column, rows, &clusters)?,
            )),
        };
        Ok(Schedule {
            cluster_column: columns.cluster.to_string(),
            period_column: columns.period.to_string(),
            clusters: clusters.labels,
            periods: periods.labels,
            crossover,
            strata,
            row_cluster: clusters.codes.iter().map(|&c| c as u32).collect(),
            row_period: periods.codes.iter().map(|&p| p as u32).collect(),
        })
    }

    /// The crossover codes (see [`NEVER`]).
    pub(crate) fn codes(&self) -> Vec<u32> {
        self.crossover
            .iter()
            .map(|c| c.map_or(NEVER, |p| p as u32))
            .collect()
    }

    /// Each cluster's stratum, numbered (all 0 without strata).
    pub(crate) fn stratum_codes(&self) -> Vec<usize> {
        match &self.strata {
            None => vec![0; self.clusters.len()],
            Some((_, labels)) => {
                let mut distinct: Vec<&String> = labels.iter().collect();
                distinct.sort();
                distinct.dedup();
                labels
                    .iter()
                    .map(|l| distinct.partition_point(|d| *d < l))
                    .collect()
            }
        }
    }

    /// The unit (cluster-period, `cluster * periods + period`) of each row.
    pub(crate) fn units(&self) -> Vec<u32> {
        let t = self.periods.len() as u32;
        self.row_cluster
            .iter()
            .zip(&self.row_period)
            .map(|(c, p)| c * t + p)
            .collect()
    }

    /// Write into `values` the treatment of every unit under the crossovers `allocation`
    /// (treated from the crossover period on).
    pub(crate) fn unit_values(&self, allocation: &[u32], values: &mut Vec<f64>) {
        let t = self.periods.len();
        values.clear();
        for &crossover in allocation {
            values.extend((0..t).map(|p| f64::from(u8::from(p as u32 >= crossover))));
        }
    }
}

/// The groups of `column` on `rows`, which must all have a value.
fn complete_grouping(cohort: &Cohort, column: &str, rows: &[usize]) -> Result<Grouping> {
    let missing: Vec<usize> = match cohort.column(column)? {
        Column::Numeric(v) => rows.iter().copied().filter(|&i| v[i].is_nan()).collect(),
        Column::Categorical { codes, .. } => rows
            .iter()
            .copied()
            .filter(|&i| codes[i] == MISSING_CODE)
            .collect(),
    };
    if let Some(&first) = missing.first() {
        return Err(Error::invalid(
            column,
            format!(
                "{} of the rows the model used have no value, the first at data row {}; the \
                 randomisation test needs every patient's cluster, period and stratum",
                missing.len(),
                first + 1
            ),
        ));
    }
    Grouping::new(cohort, column, rows)
}

/// The stratum of each cluster: `column` must be constant within each.
fn cluster_strata(
    cohort: &Cohort,
    column: &str,
    rows: &[usize],
    clusters: &Grouping,
) -> Result<Vec<String>> {
    let strata = complete_grouping(cohort, column, rows)?;
    let mut of_cluster: Vec<Option<usize>> = vec![None; clusters.len()];
    for (&c, &s) in clusters.codes.iter().zip(&strata.codes) {
        match of_cluster[c] {
            Some(first) if first != s => {
                return Err(Error::Cluster {
                    column: clusters.column.clone(),
                    message: format!(
                        "cluster '{}' lies in strata '{}' and '{}' of '{column}'; a stratum must \
                         hold whole clusters",
                        clusters.labels[c], strata.labels[first], strata.labels[s]
                    ),
                })
            }
            _ => of_cluster[c] = Some(s),
        }
    }
    Ok(of_cluster
        .into_iter()
        .map(|s| strata.labels[s.unwrap_or(0)].clone())
        .collect())
}
