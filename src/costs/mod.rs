//! Per-patient costs built from cost components (sectors), for incremental cost models.
//!
//! The Kom Trygt Hjem evaluations count costs per patient from the day of surgery to 3 months in
//! four sectors: hospital, municipality, general practitioner and medicine. [`CostComponents`]
//! adds a total column (the sum of the component columns) to a cohort and keeps the per-sector
//! breakdown in its [`CostReport`]: every component must be numeric and non-negative (an error
//! names the column and the data row); a missing component is an error, or, with
//! [`CostComponents::exclude_incomplete`], the patient's total is missing (so that models drop
//! the patient as an incomplete case) and the report counts such patients per component.

use serde::Serialize;

use crate::core::error::{Error, Result};
use crate::data::{Cohort, Column};

/// How to build a total cost from component columns.
#[derive(Debug, Clone)]
pub struct CostComponents {
    columns: Vec<String>,
    exclude_incomplete: bool,
}

/// One component's summary over the patients with a total.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SectorSummary {
    /// The component column.
    pub column: String,
    /// Sum over patients.
    pub total: f64,
    /// Mean per patient.
    pub mean: f64,
    /// Patients missing this component.
    pub missing: usize,
}

/// What [`CostComponents::add_total`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostReport {
    /// The total column added.
    pub total_column: String,
    /// Patients with a total.
    pub patients: usize,
    /// Patients whose total is missing because a component is.
    pub excluded: usize,
    /// Per component.
    pub sectors: Vec<SectorSummary>,
}

impl CostComponents {
    /// A total from the numeric columns `columns` (at least one); a missing component is an
    /// error.
    pub fn new(columns: &[&str]) -> Result<CostComponents> {
        if columns.is_empty() {
            return Err(Error::invalid(
                "columns",
                "name at least one cost component",
            ));
        }
        Ok(CostComponents {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            exclude_incomplete: false,
        })
    }

    /// Patients with a missing component get a missing total (complete-case analysis), counted in
    /// the report, instead of an error.
    pub fn exclude_incomplete(mut self) -> Self {
        self.exclude_incomplete = true;
        self
    }

    /// The cohort with the column `name` = the sum of the components, and the report.
    pub fn add_total(&self, cohort: Cohort, name: &str) -> Result<(Cohort, CostReport)> {
        let n = cohort.n_rows();
        let mut total = vec![0.0; n];
        let mut sectors = Vec::with_capacity(self.columns.len());
        for column in &self.columns {
            let values = match cohort.column(column)? {
                Column::Numeric(v) => v,
                text @ Column::Categorical { .. } => {
                    // The first cell that is not a number (the loader read the column as text).
                    let row = (0..n)
                        .find(|&i| {
                            text.label(i)
                                .is_some_and(|l| l.trim().parse::<f64>().is_err())
                        })
                        .unwrap_or(0);
                    return Err(Error::InvalidValue {
                        column: column.clone(),
                        row: row + 1,
                        value: format!("'{}'", text.label(row).unwrap_or("")),
                        expected: "cost components must be numbers".into(),
                    });
                }
            };
            let mut missing = 0;
            for (i, &v) in values.iter().enumerate() {
                if v.is_nan() {
                    if !self.exclude_incomplete {
                        return Err(Error::InvalidValue {
                            column: column.clone(),
                            row: i + 1,
                            value: "a missing value".into(),
                            expected: "every cost component must be present (or exclude \
                                       incomplete patients)"
                                .into(),
                        });
                    }
                    missing += 1;
                } else if v < 0.0 || !v.is_finite() {
                    return Err(Error::InvalidValue {
                        column: column.clone(),
                        row: i + 1,
                        value: v.to_string(),
                        expected: "costs must be finite and not negative".into(),
                    });
                }
                total[i] += v;
            }
            sectors.push((column.clone(), missing));
        }
        let complete: Vec<bool> = total.iter().map(|t| !t.is_nan()).collect();
        let patients = complete.iter().filter(|&&c| c).count();
        let sectors = sectors
            .into_iter()
            .map(|(column, missing)| {
                let values = cohort.numeric(&column).unwrap_or(&[]);
                let sum: f64 = values
                    .iter()
                    .zip(&complete)
                    .filter(|(_, &c)| c)
                    .map(|(v, _)| v)
                    .sum();
                SectorSummary {
                    column,
                    total: sum,
                    mean: if patients > 0 {
                        sum / patients as f64
                    } else {
                        0.0
                    },
                    missing,
                }
            })
            .collect();
        let report = CostReport {
            total_column: name.to_string(),
            patients,
            excluded: n - patients,
            sectors,
        };
        let cohort = cohort.with_column(name, Column::Numeric(total))?;
        Ok((cohort, report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cohort(hospital: Vec<f64>, municipality: Vec<f64>) -> Cohort {
        Cohort::from_columns(vec![
            ("hospital".into(), Column::Numeric(hospital)),
            ("municipality".into(), Column::Numeric(municipality)),
        ])
        .unwrap()
    }

    #[test]
    fn totals_sum_the_sectors_and_keep_the_breakdown() {
        let c = cohort(vec![100.0, 250.0, 0.0], vec![50.0, 0.0, 10.0]);
        let (c, report) = CostComponents::new(&["hospital", "municipality"])
            .unwrap()
            .add_total(c, "cost")
            .unwrap();
        assert_eq!(c.numeric("cost").unwrap(), &[150.0, 250.0, 10.0]);
        assert_eq!(report.patients, 3);
        assert_eq!(report.sectors[0].total, 350.0);
        assert!((report.sectors[1].mean - 20.0).abs() < 1e-12);
    }

    #[test]
    fn bad_cells_are_named() {
        let c = cohort(vec![100.0, -5.0], vec![1.0, 2.0]);
        let err = CostComponents::new(&["hospital", "municipality"])
            .unwrap()
            .add_total(c, "cost")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'hospital'") && err.contains("row 2") && err.contains("-5"),
            "{err}"
        );
        let c = cohort(vec![100.0, f64::NAN], vec![1.0, 2.0]);
        let components = CostComponents::new(&["hospital", "municipality"]).unwrap();
        let err = components
            .add_total(c.clone(), "cost")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing value") && err.contains("row 2"),
            "{err}"
        );
        let (c, report) = components
            .exclude_incomplete()
            .add_total(c, "cost")
            .unwrap();
        assert!(c.numeric("cost").unwrap()[1].is_nan());
        assert_eq!(
            (report.patients, report.excluded, report.sectors[0].missing),
            (1, 1, 1)
        );
        let text = Cohort::from_columns(vec![(
            "gp".into(),
            Column::from_labels([Some("12"), Some("abc")]).unwrap(),
        )])
        .unwrap();
        let err = CostComponents::new(&["gp"])
            .unwrap()
            .add_total(text, "cost")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'gp'") && err.contains("'abc' at data row 2"),
            "{err}"
        );
        assert!(CostComponents::new(&[]).is_err());
    }
}
