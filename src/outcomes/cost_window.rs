//! Per-patient, per-sector costs summed over a window from surgery, from dated cost records in
//! long format (see [`CostWindow`]).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::columns::{check_new_names, read_dates, read_numbers, surgery_dates, Labels};
use crate::core::builder::builder_methods;
use crate::core::dates::Date;
use crate::core::error::{Error, Result};
use crate::data::{Cohort, Column};

/// The length of a cost window, counted from the day of surgery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Window {
    /// Calendar months: the window of surgery date `s` ends before `s.add_months(n)` (the same
    /// day `n` months later, or the last day of a shorter month).
    Months(u32),
    /// Days: the window ends before `s.add_days(n)`.
    Days(u32),
}

/// The longest window in months (100 years).
const MAX_MONTHS: u32 = 1200;
/// The longest window in days (100 years).
const MAX_DAYS: u32 = 36_525;

impl Window {
    /// The first day after the window of a patient operated on `surgery`; `None` when that is
    /// after the last date (9999-12-31), so that every later record is inside the window.
    fn end(self, surgery: Date) -> Option<Date> {
        match self {
            Window::Months(n) => surgery.add_months(n),
            Window::Days(n) => surgery.add_days(i32::try_from(n).ok()?),
        }
    }

    /// Checks that the window is at least one day or month and at most 100 years.
    fn check(self) -> Result<()> {
        match self {
            Window::Months(n) if !(1..=MAX_MONTHS).contains(&n) => Err(Error::invalid(
                "months",
                format!("the window must be 1 to {MAX_MONTHS} months, not {n}"),
            )),
            Window::Days(n) if !(1..=MAX_DAYS).contains(&n) => Err(Error::invalid(
                "days",
                format!("the window must be 1 to {MAX_DAYS} days, not {n}"),
            )),
            _ => Ok(()),
        }
    }
}

/// Sums dated cost records per patient and sector over a window from surgery.
///
/// Inputs: the patient cohort, with a patient id (`id`, numeric or text, unique and present for
/// every patient) and the surgery date `s` (`surgery_date`, required); and a records cohort in
/// long format, one row per cost record, with the patient id (`id`), the date of the record
/// (`date`), the sector (`sector`, for example hospital, municipality, general practitioner,
/// medicine) and the amount (`amount`). All column names are settable. Records are matched to
/// patients by the text of the id: a text id as written, a numeric id as an integer when it is a
/// whole number (`17`, so that a numeric `17` matches a text `17` but not `017`).
///
/// For patient `i` and sector `k`, the cost is
///
/// `cost_k(i) = sum of amount over the records of patient i in sector k with s_i <= date < end_i`
///
/// where `end_i = s_i.add_months(3)` by default ([`CostWindow::months`]; the same day three
/// calendar months later, or the last day of a shorter month), or `s_i.add_days(n)` with
/// [`CostWindow::days`]. A record on the day of surgery counts; one on `end_i` does not. A patient
/// with no record in a sector within the window has cost 0 there. One numeric column is added per
/// sector that occurs in the records (in or out of the window), named `cost_<sector>` (prefix
/// settable), sectors in sorted (byte) order.
///
/// **Errors**, each naming the records' column and 1-based data row: a record whose id is missing
/// or matches no patient, a missing or invalid date (not `YYYY-MM-DD`), a missing sector, and a
/// missing, negative or non-finite amount. In the patient cohort: a missing or repeated id, a
/// missing or invalid surgery date. An output column that already exists is an error too.
///
/// ```
/// use stepwedge::data::{Cohort, LoadOptions};
/// use stepwedge::outcomes::CostWindow;
///
/// let opts = LoadOptions::default();
/// let patients = Cohort::from_csv_str("id,surgery_date\n1,2024-01-31\n2,2024-02-10\n", &opts)
///     .unwrap();
/// let records = Cohort::from_csv_str(
///     "id,date,sector,amount\n\
///      1,2024-01-31,hospital,5000\n\
///      1,2024-04-30,hospital,700\n\
///      1,2024-05-01,hospital,900\n\
///      2,2024-03-01,gp,150\n",
///     &opts,
/// )
/// .unwrap();
/// let (patients, report) = CostWindow::default().derive(patients, &records).unwrap();
/// // Patient 1's window is 2024-01-31 up to (not including) 2024-04-30.
/// assert_eq!(patients.numeric("cost_gp").unwrap(), &[0.0, 150.0]);
/// assert_eq!(patients.numeric("cost_hospital").unwrap(), &[5000.0, 0.0]);
/// assert_eq!((report.records_used, report.records_outside), (2, 2));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CostWindow {
    id: String,
    surgery: String,
    record_id: String,
    record_date: String,
    sector: String,
    amount: String,
    window: Window,
    prefix: String,
}

impl Default for CostWindow {
    /// Patient columns `id` and `surgery_date`; record columns `id`, `date`, `sector` and
    /// `amount`; a window of 3 calendar months; output prefix `cost_`.
    fn default() -> Self {
        CostWindow {
            id: "id".into(),
            surgery: "surgery_date".into(),
            record_id: "id".into(),
            record_date: "date".into(),
            sector: "sector".into(),
            amount: "amount".into(),
            window: Window::Months(3),
            prefix: "cost_".into(),
        }
    }
}

/// One sector's totals over the records in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SectorTotal {
    /// The sector label, as in the records.
    pub sector: String,
    /// The column added.
    pub column: String,
    /// Records of this sector in the window.
    pub records: usize,
    /// The sum of their amounts (the sum of the column).
    pub total: f64,
}

/// What [`CostWindow::derive`] did. `records_used + records_outside = records`, and
/// `records_outside = records_before_surgery + records_after_window`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostWindowReport {
    /// The window.
    pub window: Window,
    /// Patients (rows of the patient cohort).
    pub patients: usize,
    /// Patients with at least one record in the window.
    pub patients_with_costs: usize,
    /// Records (rows of the records cohort).
    pub records: usize,
    /// Records in their patient's window.
    pub records_used: usize,
    /// Records outside their patient's window.
    pub records_outside: usize,
    /// Records dated before their patient's surgery.
    pub records_before_surgery: usize,
    /// Records dated on or after the end of their patient's window.
    pub records_after_window: usize,
    /// Per sector, in sorted order.
    pub sectors: Vec<SectorTotal>,
}

/// One record, after reading.
struct Record {
    patient: usize,
    date: Date,
    sector: String,
    amount: f64,
}

impl CostWindow {
    /// The defaults (see [`CostWindow::default`]).
    pub fn new() -> Self {
        Self::default()
    }

    builder_methods! {
        /// The patient-id column of the patient cohort (default `id`).
        id_column(&mut this, name: &str) { this.id = name.to_string(); }

        /// The surgery-date column of the patient cohort (default `surgery_date`).
        surgery_column(&mut this, name: &str) { this.surgery = name.to_string(); }

        /// The patient-id column of the records (default `id`).
        record_id_column(&mut this, name: &str) { this.record_id = name.to_string(); }

        /// The date column of the records (default `date`).
        record_date_column(&mut this, name: &str) { this.record_date = name.to_string(); }

        /// The sector column of the records (default `sector`; text or numeric).
        sector_column(&mut this, name: &str) { this.sector = name.to_string(); }

        /// The amount column of the records (default `amount`).
        amount_column(&mut this, name: &str) { this.amount = name.to_string(); }

        /// A window of `n` calendar months (default 3; 1 to 1200).
        months(&mut this, n: u32) { this.window = Window::Months(n); }

        /// A window of `n` days (1 to 36,525).
        days(&mut this, n: u32) { this.window = Window::Days(n); }

        /// The prefix of the added column names (default `cost_`).
        prefix(&mut this, prefix: &str) { this.prefix = prefix.to_string(); }
    }

    /// The window.
    pub fn window(&self) -> Window {
        self.window
    }

    /// The patient cohort with one cost column per sector added, and the report. See
    /// [`CostWindow`] for the definition and errors.
    pub fn derive(&self, patients: Cohort, records: &Cohort) -> Result<(Cohort, CostWindowReport)> {
        self.window.check()?;
        let ids = Labels::new(&patients, &self.id)?;
        let index = self.patient_index(&patients, &ids)?;
        let surgery = surgery_dates(&patients, &self.surgery, &ids)?;
        let records = self.read_records(records, &index)?;

        // The records of each sector, sectors in sorted order.
        let mut by_sector: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
        for r in &records {
            by_sector.entry(r.sector.as_str()).or_default().push(r);
        }
        let columns: Vec<String> = by_sector
            .keys()
            .map(|s| format!("{}{s}", self.prefix))
            .collect();
        let column_refs: Vec<&str> = columns.iter().map(String::as_str).collect();
        check_new_names(&patients, &column_refs, "prefix")?;

        let n = patients.n_rows();
        let ends: Vec<Option<Date>> = surgery.iter().map(|&s| self.window.end(s)).collect();
        let mut has_costs = vec![false; n];
        let (mut before, mut after) = (0, 0);
        let mut sectors = Vec::with_capacity(by_sector.len());
        let mut costs = Vec::with_capacity(by_sector.len());
        for ((sector, sector_records), column) in by_sector.iter().zip(&columns) {
            let mut values = vec![0.0; n];
            let mut used = 0;
            for r in sector_records {
                if r.date < surgery[r.patient] {
                    before += 1;
                } else if ends[r.patient].is_some_and(|end| r.date >= end) {
                    after += 1;
                } else {
                    values[r.patient] += r.amount;
                    used += 1;
                    has_costs[r.patient] = true;
                }
            }
            sectors.push(SectorTotal {
                sector: sector.to_string(),
                column: column.clone(),
                records: used,
                total: values.iter().sum(),
            });
            costs.push(values);
        }
        let report = CostWindowReport {
            window: self.window,
            patients: n,
            patients_with_costs: has_costs.iter().filter(|&&h| h).count(),
            records: records.len(),
            records_used: records.len() - before - after,
            records_outside: before + after,
            records_before_surgery: before,
            records_after_window: after,
            sectors,
        };
        let mut patients = patients;
        for (column, values) in columns.into_iter().zip(costs) {
            patients.add_column(column, Column::Numeric(values))?;
        }
        Ok((patients, report))
    }

    /// The patient row of each id text. Errors on a missing or repeated id.
    fn patient_index(&self, patients: &Cohort, ids: &Labels<'_>) -> Result<HashMap<String, usize>> {
        let mut index = HashMap::with_capacity(patients.n_rows());
        for row in 0..patients.n_rows() {
            let Some(id) = ids.text(row) else {
                return Err(Error::InvalidValue {
                    column: self.id.clone(),
                    row: row + 1,
                    value: "a missing value".into(),
                    expected: "every patient needs an id to be matched to cost records".into(),
                });
            };
            if let Some(first) = index.insert(id.to_string(), row) {
                return Err(Error::InvalidValue {
                    column: self.id.clone(),
                    row: row + 1,
                    value: format!("'{id}'"),
                    expected: format!(
                        "patient ids must be unique (this id is also at data row {})",
                        first + 1
                    ),
                });
            }
        }
        Ok(index)
    }

    /// The records, each matched to its patient's row, with every cell checked.
    fn read_records(
        &self,
        records: &Cohort,
        index: &HashMap<String, usize>,
    ) -> Result<Vec<Record>> {
        let ids = Labels::new(records, &self.record_id)?;
        let dates = read_dates(records, &self.record_date)?;
        let sectors = Labels::new(records, &self.sector)?;
        let amounts = read_numbers(records, &self.amount, "amounts")?;
        let invalid =
            |column: &str, row: usize, value: String, expected: &str| Error::InvalidValue {
                column: column.to_string(),
                row: row + 1,
                value,
                expected: format!("cost record: {expected}"),
            };
        let missing = || "a missing value".to_string();
        (0..records.n_rows())
            .map(|row| {
                let id = ids.text(row).ok_or_else(|| {
                    invalid(
                        &self.record_id,
                        row,
                        missing(),
                        "every record needs a patient id",
                    )
                })?;
                let patient = *index.get(id.as_ref()).ok_or_else(|| {
                    invalid(
                        &self.record_id,
                        row,
                        format!("'{id}'"),
                        "no patient has this id",
                    )
                })?;
                let date = dates[row].ok_or_else(|| {
                    invalid(
                        &self.record_date,
                        row,
                        missing(),
                        "every record needs a date",
                    )
                })?;
                let sector = sectors.text(row).ok_or_else(|| {
                    invalid(&self.sector, row, missing(), "every record needs a sector")
                })?;
                let amount = amounts[row];
                if !amount.is_finite() || amount < 0.0 {
                    let value = if amount.is_nan() {
                        missing()
                    } else {
                        amount.to_string()
                    };
                    return Err(invalid(
                        &self.amount,
                        row,
                        value,
                        "amounts must be finite and not negative",
                    ));
                }
                Ok(Record {
                    patient,
                    date,
                    sector: sector.into_owned(),
                    amount,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(cells: &[&str]) -> Column {
        Column::from_labels(cells.iter().map(|c| (!c.is_empty()).then_some(*c))).unwrap()
    }

    fn patients(ids: Column, surgery: &[&str]) -> Cohort {
        Cohort::from_columns(vec![
            ("id".into(), ids),
            ("surgery_date".into(), text(surgery)),
        ])
        .unwrap()
    }

    fn records(ids: Column, dates: &[&str], sectors: &[&str], amounts: Vec<f64>) -> Cohort {
        Cohort::from_columns(vec![
            ("id".into(), ids),
            ("date".into(), text(dates)),
            ("sector".into(), text(sectors)),
            ("amount".into(), Column::Numeric(amounts)),
        ])
        .unwrap()
    }

    #[test]
    fn sums_records_in_a_three_month_window() {
        // Patient 1 (2023-11-30): window up to 2024-02-29 (rolled back from Feb 30).
        // Patient 2 (2024-01-15): window up to 2024-04-15.
        let p = patients(
            Column::Numeric(vec![1.0, 2.0]),
            &["2023-11-30", "2024-01-15"],
        );
        let r = records(
            Column::Numeric(vec![1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0]),
            &[
                "2023-11-30", // day of surgery: in
                "2024-02-28", // last day: in
                "2024-02-29", // end: out
                "2023-11-29", // before surgery: out
                "2024-04-14", // in
                "2024-04-15", // end: out
                "2024-02-01", // in
            ],
            &[
                "hospital",
                "gp",
                "hospital",
                "hospital",
                "municipality",
                "gp",
                "hospital",
            ],
            vec![1000.0, 50.0, 999.0, 998.0, 300.0, 997.0, 2500.5],
        );
        let (p, report) = CostWindow::default().derive(p, &r).unwrap();
        assert_eq!(
            p.names(),
            [
                "id",
                "surgery_date",
                "cost_gp",
                "cost_hospital",
                "cost_municipality"
            ]
        );
        assert_eq!(p.numeric("cost_gp").unwrap(), &[50.0, 0.0]);
        assert_eq!(p.numeric("cost_hospital").unwrap(), &[1000.0, 2500.5]);
        assert_eq!(p.numeric("cost_municipality").unwrap(), &[0.0, 300.0]);
        assert_eq!(
            (
                report.records,
                report.records_used,
                report.records_before_surgery,
                report.records_after_window,
                report.records_outside,
            ),
            (7, 4, 1, 2, 3)
        );
        let totals: Vec<(&str, usize, f64)> = report
            .sectors
            .iter()
            .map(|s| (s.sector.as_str(), s.records, s.total))
            .collect();
        assert_eq!(
            totals,
            [
                ("gp", 1, 50.0),
                ("hospital", 2, 3500.5),
                ("municipality", 1, 300.0)
            ]
        );
        assert_eq!(report.patients_with_costs, 2);
    }

    #[test]
    fn windows_in_days_and_months_can_be_set() {
        let p = patients(text(&["A"]), &["2024-01-10"]);
        let r = records(
            text(&["A", "A", "A"]),
            &["2024-01-19", "2024-01-20", "2024-02-09"],
            &["gp", "gp", "gp"],
            vec![1.0, 2.0, 4.0],
        );
        let (out, report) = CostWindow::default()
            .days(10)
            .derive(p.clone(), &r)
            .unwrap();
        // 2024-01-10 + 10 days = 2024-01-20, not included.
        assert_eq!(out.numeric("cost_gp").unwrap(), &[1.0]);
        assert_eq!(report.window, Window::Days(10));
        let (out, _) = CostWindow::default()
            .months(1)
            .derive(p.clone(), &r)
            .unwrap();
        assert_eq!(out.numeric("cost_gp").unwrap(), &[7.0]);
        assert!(CostWindow::default()
            .months(0)
            .derive(p.clone(), &r)
            .is_err());
        assert!(CostWindow::default().days(40_000).derive(p, &r).is_err());
    }

    #[test]
    fn a_window_past_the_last_date_has_no_end() {
        // 9999-11-15 + 3 months and + 100 days are after 9999-12-31: every later record is in.
        let p = patients(text(&["A"]), &["9999-11-15"]);
        let r = records(
            text(&["A", "A"]),
            &["9999-11-14", "9999-12-31"],
            &["gp", "gp"],
            vec![1.0, 2.0],
        );
        for window in [CostWindow::default(), CostWindow::default().days(100)] {
            let (out, report) = window.derive(p.clone(), &r).unwrap();
            assert_eq!(out.numeric("cost_gp").unwrap(), &[2.0]);
            assert_eq!(report.records_before_surgery, 1);
            assert_eq!(report.records_after_window, 0);
        }
    }

    #[test]
    fn numeric_and_text_ids_match_by_their_text() {
        // Numeric patient ids; the records' ids are text ("7" matches 7, "07" would not).
        let p = patients(
            Column::Numeric(vec![7.0, 12.0]),
            &["2024-01-10", "2024-01-10"],
        );
        let r = records(
            text(&["12", "7"]),
            &["2024-01-11", "2024-01-12"],
            &["gp", "gp"],
            vec![5.0, 6.0],
        );
        let (out, _) = CostWindow::default().derive(p.clone(), &r).unwrap();
        assert_eq!(out.numeric("cost_gp").unwrap(), &[6.0, 5.0]);
        let r = records(text(&["07"]), &["2024-01-11"], &["gp"], vec![5.0]);
        let err = CostWindow::default().derive(p, &r).unwrap_err().to_string();
        assert_eq!(
            err,
            "column 'id' has '07' at data row 1: cost record: no patient has this id"
        );
    }

    #[test]
    fn numeric_sectors_and_custom_names() {
        let p = Cohort::from_columns(vec![
            ("pnr".into(), text(&["x"])),
            ("op".into(), text(&["2024-01-10"])),
        ])
        .unwrap();
        let r = Cohort::from_columns(vec![
            ("who".into(), text(&["x", "x"])),
            ("when".into(), text(&["2024-01-10", "2024-01-11"])),
            ("kind".into(), Column::Numeric(vec![2.0, 10.0])),
            ("dkk".into(), text(&["1.5", "2"])),
        ])
        .unwrap();
        let (out, report) = CostWindow::default()
            .id_column("pnr")
            .surgery_column("op")
            .record_id_column("who")
            .record_date_column("when")
            .sector_column("kind")
            .amount_column("dkk")
            .prefix("dkk_")
            .derive(p, &r)
            .unwrap();
        // Sorted as text: "10" before "2".
        assert_eq!(out.names(), ["pnr", "op", "dkk_10", "dkk_2"]);
        assert_eq!(out.numeric("dkk_2").unwrap(), &[1.5]);
        assert_eq!(report.sectors[0].sector, "10");
    }

    #[test]
    fn no_records_adds_no_columns() {
        let p = patients(Column::Numeric(vec![1.0]), &["2024-01-10"]);
        let r = records(Column::Numeric(vec![]), &[], &[], vec![]);
        let (out, report) = CostWindow::default().derive(p, &r).unwrap();
        assert_eq!(out.n_cols(), 2);
        assert_eq!((report.records, report.patients_with_costs), (0, 0));
    }

    /// The error message for one record `(id, date, sector, amount)` of patient 1.
    fn record_error(date: &str, sector: &str, amount: f64) -> String {
        let p = patients(Column::Numeric(vec![1.0]), &["2024-01-10"]);
        let r = records(
            Column::Numeric(vec![1.0, 1.0]),
            &["2024-01-11", date],
            &["gp", sector],
            vec![1.0, amount],
        );
        CostWindow::default().derive(p, &r).unwrap_err().to_string()
    }

    #[test]
    fn bad_records_name_column_and_row() {
        assert_eq!(
            record_error("2024-01-11", "gp", -5.0),
            "column 'amount' has -5 at data row 2: cost record: amounts must be finite and not \
             negative"
        );
        assert!(record_error("2024-01-11", "gp", f64::INFINITY)
            .starts_with("column 'amount' has inf at data row 2"));
        assert!(record_error("2024-01-11", "gp", f64::NAN)
            .starts_with("column 'amount' has a missing value at data row 2"));
        assert_eq!(
            record_error("2024-13-01", "gp", 1.0),
            "column 'date' has '2024-13-01' at data row 2: dates must be written YYYY-MM-DD and \
             name a calendar day"
        );
        assert!(record_error("", "gp", 1.0)
            .starts_with("column 'date' has a missing value at data row 2"));
        assert!(record_error("2024-01-11", "", 1.0)
            .starts_with("column 'sector' has a missing value at data row 2"));
        let p = patients(Column::Numeric(vec![1.0]), &["2024-01-10"]);
        let r = records(
            Column::Numeric(vec![1.0, 3.0]),
            &["2024-01-11"; 2],
            &["gp"; 2],
            vec![1.0, 1.0],
        );
        let err = CostWindow::default().derive(p, &r).unwrap_err().to_string();
        assert_eq!(
            err,
            "column 'id' has '3' at data row 2: cost record: no patient has this id"
        );
    }

    #[test]
    fn bad_patients_are_errors() {
        let r = records(
            Column::Numeric(vec![1.0]),
            &["2024-01-11"],
            &["gp"],
            vec![1.0],
        );
        let p = patients(
            Column::Numeric(vec![1.0, 1.0]),
            &["2024-01-10", "2024-01-10"],
        );
        let err = CostWindow::default().derive(p, &r).unwrap_err().to_string();
        assert_eq!(
            err,
            "column 'id' has '1' at data row 2: patient ids must be unique (this id is also at \
             data row 1)"
        );
        let p = patients(
            Column::Numeric(vec![1.0, f64::NAN]),
            &["2024-01-10", "2024-01-10"],
        );
        assert!(CostWindow::default()
            .derive(p, &r)
            .unwrap_err()
            .to_string()
            .starts_with("column 'id' has a missing value at data row 2"));
        let p = patients(Column::Numeric(vec![1.0, 2.0]), &["2024-01-10", ""]);
        assert!(CostWindow::default()
            .derive(p, &r)
            .unwrap_err()
            .to_string()
            .contains("patient 2 has no surgery date"));
        let p = patients(Column::Numeric(vec![1.0]), &["2024-01-10"])
            .with_column("cost_gp", Column::Numeric(vec![0.0]))
            .unwrap();
        assert!(CostWindow::default()
            .derive(p, &r)
            .unwrap_err()
            .to_string()
            .contains("already has a column 'cost_gp'"));
    }
}
