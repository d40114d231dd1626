//! 30-day mortality from surgery and 30-day readmission from discharge, from the dates of the
//! hip-fracture pathway (see [`PathwayOutcomes`] for the definitions).

use serde::Serialize;

use super::columns::{check_new_names, read_dates, surgery_dates, Labels};
use crate::core::builder::builder_methods;
use crate::core::dates::Date;
use crate::core::error::{Error, Result};
use crate::data::{Cohort, Column};

/// How the end of follow-up is given.
#[derive(Debug, Clone, PartialEq)]
enum FollowUpEnd {
    /// No end: every patient is followed beyond the horizon.
    Open,
    /// The same last day of follow-up for every patient (the data extraction date).
    Fixed(Date),
    /// Each patient's last day of follow-up, in a date column (a missing cell: no end).
    Column(String),
}

/// The name of a fixed follow-up end in [`Error::DateOrder`] messages (it is not a column).
const FIXED_FOLLOW_UP: &str = "follow-up end (fixed date)";

/// Derives 30-day mortality and 30-day readmission from the dates of each patient's pathway.
///
/// Input columns (defaults in brackets, each settable): the patient id (`id`, numeric or text,
/// used in messages), the date of surgery (`surgery_date`, required for every patient), of
/// discharge from the index admission (`discharge_date`), of death (`death_date`) and of the
/// first readmission after the index discharge (`readmission_date`). Dates are text columns of
/// `YYYY-MM-DD`; an empty cell is missing, and a column with every cell empty is accepted as all
/// missing. The horizon `h` is 30 days unless set with [`PathwayOutcomes::horizon_days`].
///
/// The end of follow-up `f`, if any, is the last day on which a patient is observed: a fixed date
/// ([`PathwayOutcomes::follow_up_end`], for example the data extraction date) or a date column
/// ([`PathwayOutcomes::follow_up_end_column`], for example emigration; a missing cell there
/// means that the patient's follow-up does not end early). Without it every patient is taken to
/// be followed beyond the horizon. A recorded death or readmission is always used as recorded,
/// even if it falls after `f`: only the *absence* of an event is censored.
///
/// **Mortality** (column `death30`), counted from the day of surgery `s`, with `x` the death
/// date:
/// * 1 if `x - s <= h` days (a death on the day of surgery, `x = s`, counts; day `h` counts, day
///   `h + 1` does not);
/// * 0 if `x - s > h`, or if there is no death date and follow-up reaches `s + h` (`f >= s + h`
///   or no `f`);
/// * missing (censored) if there is no death date and `f < s + h`.
///
/// **Readmission** (column `readmit30`), counted from discharge `d` among patients discharged
/// alive (those with a discharge date), with `r` the first readmission date:
/// * 1 if `0 <= r - d <= h` days (a readmission on the day of discharge counts);
/// * 0 if `r - d > h`, or if there is no readmission and follow-up reaches the end of the
///   patient's time at risk: `d + h`, or the death date `x` if the patient died within `h` days of
///   discharge. *Competing risk*: a patient who dies after discharge without having been
///   readmitted counts as not readmitted (0), as registry readmission rates among discharged
///   patients do (the rate is of readmission among all patients discharged alive, not of
///   readmission in a world without death);
/// * missing (censored) if there is no readmission and `f` is before that end;
/// * missing, not at risk, for a patient without a discharge date: one with a death date died in
///   hospital; one with neither date is still admitted or of unknown status. Both are counted in
///   the [`PathwayReport`].
///
/// A patient with a discharge date is taken to have been discharged alive, also when the death
/// date is the day of discharge (reported as [`PathwayReport::died_on_discharge_day`]): data that
/// give in-hospital deaths a discharge date equal to the death date must leave the discharge date
/// empty for those patients.
///
/// **Errors** (nothing is returned half-done; the cohort is returned only on success):
/// * a date that is not `YYYY-MM-DD` or names no day: [`Error::InvalidValue`] with the column,
///   1-based data row and text;
/// * a missing surgery date: [`Error::InvalidValue`] naming the column, row and patient;
/// * dates in an impossible order: [`Error::DateOrder`] naming the patient, the row and both
///   columns with their dates, for a discharge before surgery, a death before surgery, a death
///   before discharge, a readmission before discharge, a readmission after death, a readmission
///   without a discharge date, and a follow-up end before surgery;
/// * an output name that is empty, repeated, or already a column of the cohort.
///
/// ```
/// use stepwedge::data::{Cohort, LoadOptions};
/// use stepwedge::outcomes::PathwayOutcomes;
///
/// let csv = "id,surgery_date,discharge_date,death_date,readmission_date\n\
///            1,2024-01-05,2024-01-12,2024-02-04,\n\
///            2,2024-01-05,2024-01-12,,2024-02-11\n\
///            3,2024-01-05,,2024-01-09,\n";
/// let cohort = Cohort::from_csv_str(csv, &LoadOptions::default()).unwrap();
/// let (cohort, report) = PathwayOutcomes::default().derive(cohort).unwrap();
/// // Patient 1 died on day 30 after surgery; 2 was readmitted on day 30 after discharge; 3 died
/// // in hospital and was never at risk of readmission.
/// assert_eq!(cohort.numeric("death30").unwrap(), &[1.0, 0.0, 1.0]);
/// let readmit = cohort.numeric("readmit30").unwrap();
/// assert_eq!((readmit[0], readmit[1]), (0.0, 1.0));
/// assert!(readmit[2].is_nan());
/// assert_eq!(report.in_hospital_deaths, 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PathwayOutcomes {
    id: String,
    surgery: String,
    discharge: String,
    death: String,
    readmission: String,
    horizon: u32,
    follow_up: FollowUpEnd,
    death_name: String,
    readmission_name: String,
}

impl Default for PathwayOutcomes {
    /// Columns `id`, `surgery_date`, `discharge_date`, `death_date`, `readmission_date`; horizon
    /// 30 days; no end of follow-up; outputs `death30` and `readmit30`.
    fn default() -> Self {
        PathwayOutcomes {
            id: "id".into(),
            surgery: "surgery_date".into(),
            discharge: "discharge_date".into(),
            death: "death_date".into(),
            readmission: "readmission_date".into(),
            horizon: 30,
            follow_up: FollowUpEnd::Open,
            death_name: "death30".into(),
            readmission_name: "readmit30".into(),
        }
    }
}

/// What [`PathwayOutcomes::derive`] found. Counts are of patients (rows).
///
/// For mortality, `deaths_within_horizon + alive_at_horizon + mortality_censored = patients`.
/// For readmission, `discharged_alive + in_hospital_deaths + not_discharged = patients` and
/// `readmissions + not_readmitted + readmission_censored = discharged_alive`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathwayReport {
    /// The horizon `h` in days.
    pub horizon_days: u32,
    /// The mortality column added.
    pub death_column: String,
    /// The readmission column added.
    pub readmission_column: String,
    /// Patients (rows).
    pub patients: usize,
    /// Mortality 1: died at most `h` days after surgery.
    pub deaths_within_horizon: usize,
    /// Mortality 0: known alive `h` days after surgery.
    pub alive_at_horizon: usize,
    /// Mortality missing: follow-up ended before `s + h` without a recorded death.
    pub mortality_censored: usize,
    /// Died without a discharge date (at any time): not at risk of readmission.
    pub in_hospital_deaths: usize,
    /// Neither a discharge nor a death date (still admitted, or unknown): not at risk of
    /// readmission.
    pub not_discharged: usize,
    /// With a discharge date: at risk of readmission.
    pub discharged_alive: usize,
    /// Readmission 1: readmitted at most `h` days after discharge.
    pub readmissions: usize,
    /// Readmission 0, including [`PathwayReport::deaths_after_discharge_without_readmission`].
    pub not_readmitted: usize,
    /// Discharged alive, died at most `h` days after discharge without a readmission: counted as
    /// not readmitted (the competing-risk choice).
    pub deaths_after_discharge_without_readmission: usize,
    /// Readmission missing: discharged alive, follow-up ended before the end of the time at risk
    /// without a recorded readmission.
    pub readmission_censored: usize,
    /// Discharged alive with the death date equal to the discharge date (counted as discharged
    /// alive; see [`PathwayOutcomes`]).
    pub died_on_discharge_day: usize,
    /// With a follow-up end column: patients whose cell is missing (followed without an end).
    pub follow_up_end_missing: usize,
}

/// One patient's dates, after reading.
#[derive(Debug, Clone, Copy)]
struct Dates {
    surgery: Date,
    discharge: Option<Date>,
    death: Option<Date>,
    readmission: Option<Date>,
    follow_up_end: Option<Date>,
}

/// A patient's mortality outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mortality {
    Died,
    Alive,
    Censored,
}

/// A patient's readmission outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readmission {
    Readmitted,
    /// Not readmitted; `died` when the patient died within the horizon after discharge.
    NotReadmitted {
        died: bool,
    },
    Censored,
    DiedInHospital,
    NotDischarged,
}

impl Mortality {
    /// The outcome's value in the mortality column, counted in its field of `report`.
    fn tally(self, report: &mut PathwayReport) -> f64 {
        let (count, value) = match self {
            Mortality::Died => (&mut report.deaths_within_horizon, 1.0),
            Mortality::Alive => (&mut report.alive_at_horizon, 0.0),
            Mortality::Censored => (&mut report.mortality_censored, f64::NAN),
        };
        *count += 1;
        value
    }
}

impl Readmission {
    /// The outcome's value in the readmission column, counted in its field of `report`.
    fn tally(self, report: &mut PathwayReport) -> f64 {
        let (count, value) = match self {
            Readmission::Readmitted => (&mut report.readmissions, 1.0),
            Readmission::NotReadmitted { died } => {
                report.deaths_after_discharge_without_readmission += usize::from(died);
                (&mut report.not_readmitted, 0.0)
            }
            Readmission::Censored => (&mut report.readmission_censored, f64::NAN),
            Readmission::DiedInHospital => (&mut report.in_hospital_deaths, f64::NAN),
            Readmission::NotDischarged => (&mut report.not_discharged, f64::NAN),
        };
        *count += 1;
        value
    }
}

/// Whether follow-up ending on `end` (`None` = no end) covers the day `days` days after `from`.
fn observed_through(end: Option<Date>, from: Date, days: i64) -> bool {
    end.is_none_or(|f| i64::from(f.days_since(from)) >= days)
}

/// Mortality within `h` days of surgery (see [`PathwayOutcomes`]).
fn mortality_outcome(d: &Dates, h: i64) -> Mortality {
    match d.death {
        Some(x) if i64::from(x.days_since(d.surgery)) <= h => Mortality::Died,
        Some(_) => Mortality::Alive,
        None if observed_through(d.follow_up_end, d.surgery, h) => Mortality::Alive,
        None => Mortality::Censored,
    }
}

/// Readmission within `h` days of discharge (see [`PathwayOutcomes`]). The dates must be in order
/// (checked before).
fn readmission_outcome(d: &Dates, h: i64) -> Readmission {
    let Some(discharge) = d.discharge else {
        return match d.death {
            Some(_) => Readmission::DiedInHospital,
            None => Readmission::NotDischarged,
        };
    };
    if let Some(r) = d.readmission {
        return if i64::from(r.days_since(discharge)) <= h {
            Readmission::Readmitted
        } else {
            Readmission::NotReadmitted { died: false }
        };
    }
    // Time at risk ends at the horizon, or at death within it.
    let death_in_window = d
        .death
        .map(|x| i64::from(x.days_since(discharge)))
        .filter(|&days| days <= h);
    let at_risk = death_in_window.unwrap_or(h);
    if observed_through(d.follow_up_end, discharge, at_risk) {
        Readmission::NotReadmitted {
            died: death_in_window.is_some(),
        }
    } else {
        Readmission::Censored
    }
}

impl PathwayOutcomes {
    /// The defaults (see [`PathwayOutcomes::default`]).
    pub fn new() -> Self {
        Self::default()
    }

    builder_methods! {
        /// The patient-id column (numeric or text; default `id`), used to name patients in errors.
        id_column(&mut this, name: &str) { this.id = name.to_string(); }

        /// The surgery-date column (default `surgery_date`).
        surgery_column(&mut this, name: &str) { this.surgery = name.to_string(); }

        /// The discharge-date column of the index admission (default `discharge_date`).
        discharge_column(&mut this, name: &str) { this.discharge = name.to_string(); }

        /// The death-date column (default `death_date`).
        death_column(&mut this, name: &str) { this.death = name.to_string(); }

        /// The column of the date of the first readmission after the index discharge (default
        /// `readmission_date`).
        readmission_column(&mut this, name: &str) { this.readmission = name.to_string(); }

        /// The horizon `h` in days for both outcomes (default 30). The output names do not follow
        /// it: set them with [`PathwayOutcomes::death_name`] and
        /// [`PathwayOutcomes::readmission_name`].
        horizon_days(&mut this, days: u32) { this.horizon = days; }

        /// The same last day of follow-up for every patient (replaces a follow-up end column).
        follow_up_end(&mut this, date: Date) { this.follow_up = FollowUpEnd::Fixed(date); }

        /// Each patient's last day of follow-up, from a date column; a missing cell means no end
        /// (replaces a fixed follow-up end).
        follow_up_end_column(&mut this, name: &str) { this.follow_up = FollowUpEnd::Column(name.to_string()); }

        /// The name of the mortality column added (default `death30`).
        death_name(&mut this, name: &str) { this.death_name = name.to_string(); }

        /// The name of the readmission column added (default `readmit30`).
        readmission_name(&mut this, name: &str) { this.readmission_name = name.to_string(); }
    }

    /// The cohort with the 0/1 columns of mortality and readmission added (`NAN` where missing:
    /// censored or not at risk), and the counts behind them. See [`PathwayOutcomes`] for the
    /// definitions and errors.
    pub fn derive(&self, cohort: Cohort) -> Result<(Cohort, PathwayReport)> {
        check_new_names(
            &cohort,
            &[&self.death_name, &self.readmission_name],
            "output names",
        )?;
        let h = i64::from(self.horizon);
        let ids = Labels::new(&cohort, &self.id)?;
        let surgery = surgery_dates(&cohort, &self.surgery, &ids)?;
        let discharge = read_dates(&cohort, &self.discharge)?;
        let death = read_dates(&cohort, &self.death)?;
        let readmission = read_dates(&cohort, &self.readmission)?;
        let (follow_up, follow_up_end_missing) = match &self.follow_up {
            FollowUpEnd::Open => (vec![None; cohort.n_rows()], 0),
            FollowUpEnd::Fixed(date) => (vec![Some(*date); cohort.n_rows()], 0),
            FollowUpEnd::Column(name) => {
                let dates = read_dates(&cohort, name)?;
                let missing = dates.iter().filter(|d| d.is_none()).count();
                (dates, missing)
            }
        };
        let mut report = PathwayReport {
            horizon_days: self.horizon,
            death_column: self.death_name.clone(),
            readmission_column: self.readmission_name.clone(),
            patients: cohort.n_rows(),
            deaths_within_horizon: 0,
            alive_at_horizon: 0,
            mortality_censored: 0,
            in_hospital_deaths: 0,
            not_discharged: 0,
            discharged_alive: 0,
            readmissions: 0,
            not_readmitted: 0,
            deaths_after_discharge_without_readmission: 0,
            readmission_censored: 0,
            died_on_discharge_day: 0,
            follow_up_end_missing,
        };
        let mut death_out = Vec::with_capacity(cohort.n_rows());
        let mut readmit_out = Vec::with_capacity(cohort.n_rows());
        for row in 0..cohort.n_rows() {
            let dates = Dates {
                surgery: surgery[row],
                discharge: discharge[row],
                death: death[row],
                readmission: readmission[row],
                follow_up_end: follow_up[row],
            };
            self.check_order(&dates, row, &ids)?;
            death_out.push(mortality_outcome(&dates, h).tally(&mut report));
            if dates.discharge.is_some() {
                report.discharged_alive += 1;
                report.died_on_discharge_day += usize::from(dates.death == dates.discharge);
            }
            readmit_out.push(readmission_outcome(&dates, h).tally(&mut report));
        }
        let cohort = cohort
            .with_column(self.death_name.as_str(), Column::Numeric(death_out))?
            .with_column(self.readmission_name.as_str(), Column::Numeric(readmit_out))?;
        Ok((cohort, report))
    }

    /// Checks that the dates of the patient in `row` are in a possible order: each rule of the
    /// table names a date, the date it is checked against and the order the two cannot be in.
    fn check_order(&self, d: &Dates, row: usize, ids: &Labels<'_>) -> Result<()> {
        let follow_up = match &self.follow_up {
            FollowUpEnd::Column(name) => name.as_str(),
            _ => FIXED_FOLLOW_UP,
        };
        let (surgery, discharge) = (self.surgery.as_str(), self.discharge.as_str());
        let (death, readmission) = (self.death.as_str(), self.readmission.as_str());
        let s = Some(d.surgery);
        let rules = [
            (discharge, d.discharge, Impossible::Before, surgery, s),
            (death, d.death, Impossible::Before, surgery, s),
            (death, d.death, Impossible::Before, discharge, d.discharge),
            (
                readmission,
                d.readmission,
                Impossible::Without,
                discharge,
                d.discharge,
            ),
            (
                readmission,
                d.readmission,
                Impossible::Before,
                discharge,
                d.discharge,
            ),
            (
                readmission,
                d.readmission,
                Impossible::After,
                death,
                d.death,
            ),
            (follow_up, d.follow_up_end, Impossible::Before, surgery, s),
        ];
        for (column, date, order, other_column, other_date) in rules {
            let Some(date) = date.filter(|&date| order.holds(date, other_date)) else {
                continue;
            };
            return Err(Error::DateOrder {
                patient: ids.patient(row),
                row: row + 1,
                column: column.to_string(),
                date,
                relation: order.words().to_string(),
                other_column: other_column.to_string(),
                other_date,
            });
        }
        Ok(())
    }
}

/// An order in which two dates of a patient cannot be.
#[derive(Debug, Clone, Copy)]
enum Impossible {
    /// The date is before the other.
    Before,
    /// The date is after the other.
    After,
    /// The date is given, the other is not.
    Without,
}

impl Impossible {
    /// Whether `date` and `other` are in this order.
    fn holds(self, date: Date, other: Option<Date>) -> bool {
        match (self, other) {
            (Impossible::Before, Some(other)) => date < other,
            (Impossible::After, Some(other)) => date > other,
            (Impossible::Without, None) => true,
            _ => false,
        }
    }

    /// The order as error messages word it.
    fn words(self) -> &'static str {
        match self {
            Impossible::Before => "is before",
            Impossible::After => "is after",
            Impossible::Without => "is given without",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    /// A text column of optional dates (`""` = missing).
    fn dates(cells: &[&str]) -> Column {
        Column::from_labels(cells.iter().map(|c| (!c.is_empty()).then_some(*c))).unwrap()
    }

    /// A cohort with numeric ids 1..=n and the four date columns, given per patient as
    /// `[surgery, discharge, death, readmission]`.
    fn cohort(rows: &[[&str; 4]]) -> Cohort {
        let col = |k: usize| dates(&rows.iter().map(|r| r[k]).collect::<Vec<_>>());
        Cohort::from_columns(vec![
            (
                "id".into(),
                Column::Numeric((1..=rows.len()).map(|i| i as f64).collect()),
            ),
            ("surgery_date".into(), col(0)),
            ("discharge_date".into(), col(1)),
            ("death_date".into(), col(2)),
            ("readmission_date".into(), col(3)),
        ])
        .unwrap()
    }

    /// The two outcome columns, with `NAN` written as -1 so that they compare with `==`.
    fn outcomes(c: &Cohort) -> (Vec<f64>, Vec<f64>) {
        let coded = |name| {
            c.numeric(name)
                .unwrap()
                .iter()
                .map(|v| if v.is_nan() { -1.0 } else { *v })
                .collect()
        };
        (coded("death30"), coded("readmit30"))
    }

    #[test]
    fn mortality_counts_from_the_day_of_surgery() {
        let c = cohort(&[
            ["2024-01-05", "", "2024-01-05", ""], // died on the day of surgery
            ["2024-01-05", "2024-01-10", "2024-02-04", ""], // day 30
            ["2024-01-05", "2024-01-10", "2024-02-05", ""], // day 31
            ["2024-01-05", "2024-01-10", "", ""], // alive, no end of follow-up
            ["2024-02-20", "2024-02-25", "2024-03-21", ""], // day 30 across a leap day
        ]);
        let (c, report) = PathwayOutcomes::default().derive(c).unwrap();
        assert_eq!(outcomes(&c).0, [1.0, 1.0, 0.0, 0.0, 1.0]);
        assert_eq!(report.deaths_within_horizon, 3);
        assert_eq!(report.alive_at_horizon, 2);
        assert_eq!(report.mortality_censored, 0);
    }

    #[test]
    fn readmission_counts_from_discharge_among_patients_discharged_alive() {
        let c = cohort(&[
            ["2024-01-05", "2024-01-12", "", "2024-01-12"], // readmitted on the day of discharge
            ["2024-01-05", "2024-01-12", "", "2024-02-11"], // day 30 after discharge
            ["2024-01-05", "2024-01-12", "", "2024-02-12"], // day 31: not within
            ["2024-01-05", "2024-01-12", "", ""],           // never readmitted
            ["2024-01-05", "", "2024-01-08", ""],           // died in hospital
            ["2024-01-05", "", "", ""],                     // still admitted / unknown
        ]);
        let (c, report) = PathwayOutcomes::default().derive(c).unwrap();
        assert_eq!(outcomes(&c).1, [1.0, 1.0, 0.0, 0.0, -1.0, -1.0]);
        assert_eq!(
            (
                report.discharged_alive,
                report.readmissions,
                report.not_readmitted,
                report.in_hospital_deaths,
                report.not_discharged,
            ),
            (4, 2, 2, 1, 1)
        );
    }

    #[test]
    fn death_after_discharge_without_readmission_is_not_readmitted() {
        let c = cohort(&[
            ["2024-01-05", "2024-01-12", "2024-01-20", ""], // died 8 days after discharge
            ["2024-01-05", "2024-01-12", "2024-01-12", ""], // died on the day of discharge
            ["2024-01-05", "2024-01-12", "2024-01-20", "2024-01-15"], // readmitted, then died
            ["2024-01-05", "2024-01-12", "2024-03-20", ""], // died long after the horizon
        ]);
        let (c, report) = PathwayOutcomes::default().derive(c).unwrap();
        assert_eq!(
            outcomes(&c),
            (vec![1.0, 1.0, 1.0, 0.0], vec![0.0, 0.0, 1.0, 0.0])
        );
        assert_eq!(report.deaths_after_discharge_without_readmission, 2);
        assert_eq!(report.died_on_discharge_day, 1);
        assert_eq!(report.not_readmitted, 3);
    }

    #[test]
    fn a_fixed_follow_up_end_censors_the_absence_of_events() {
        let c = cohort(&[
            // Surgery + 30 = 2024-02-04 is after the end 2024-02-01: censored unless dead.
            ["2024-01-05", "2024-01-12", "", ""],
            ["2024-01-05", "2024-01-12", "2024-01-25", ""], // died before the end: known
            ["2024-01-02", "2024-01-05", "", ""],           // s + 30 = 2024-02-01: observed
            ["2024-01-05", "2024-01-12", "", "2024-01-20"], // readmission known
            // Died 2024-01-31 after discharge 2024-01-25: time at risk ends at death, observed.
            ["2024-01-20", "2024-01-25", "2024-01-31", ""],
        ]);
        let (c, report) = PathwayOutcomes::default()
            .follow_up_end(date("2024-02-01"))
            .derive(c)
            .unwrap();
        let (death, readmit) = outcomes(&c);
        assert_eq!(death, [-1.0, 1.0, 0.0, -1.0, 1.0]);
        // Readmission of patient 3: discharge + 30 = 2024-02-04 is after the end: censored.
        assert_eq!(readmit, [-1.0, 0.0, -1.0, 1.0, 0.0]);
        assert_eq!(
            (report.mortality_censored, report.readmission_censored),
            (2, 2)
        );
        assert_eq!(report.deaths_after_discharge_without_readmission, 2);
    }

    #[test]
    fn a_follow_up_end_column_censors_per_patient() {
        let c = cohort(&[
            ["2024-01-05", "2024-01-12", "", ""],
            ["2024-01-05", "2024-01-12", "", ""],
            ["2024-01-05", "2024-01-12", "", ""],
            ["2024-01-05", "2024-01-12", "", ""],
        ])
        // Surgery + 30 = 2024-02-04, discharge + 30 = 2024-02-11.
        .with_column(
            "followup_end",
            dates(&["2024-02-03", "2024-02-04", "2024-02-11", ""]),
        )
        .unwrap();
        let (c, report) = PathwayOutcomes::default()
            .follow_up_end_column("followup_end")
            .derive(c)
            .unwrap();
        assert_eq!(
            outcomes(&c),
            (vec![-1.0, 0.0, 0.0, 0.0], vec![-1.0, -1.0, 0.0, 0.0])
        );
        assert_eq!(report.follow_up_end_missing, 1);
        assert_eq!(
            (report.mortality_censored, report.readmission_censored),
            (1, 2)
        );
    }

    #[test]
    fn a_death_on_the_day_of_discharge_within_a_short_follow_up_is_not_censored() {
        // Follow-up ends on the day of discharge and death: the time at risk is fully observed.
        let c = cohort(&[["2024-01-05", "2024-01-12", "2024-01-12", ""]]);
        let (c, _) = PathwayOutcomes::default()
            .follow_up_end(date("2024-01-12"))
            .derive(c)
            .unwrap();
        assert_eq!(outcomes(&c), (vec![1.0], vec![0.0]));
    }

    #[test]
    fn all_empty_date_columns_are_all_missing() {
        let c = Cohort::from_columns(vec![
            ("id".into(), Column::Numeric(vec![1.0, 2.0])),
            ("surgery_date".into(), dates(&["2024-01-05", "2024-01-06"])),
            ("discharge_date".into(), dates(&["2024-01-10", ""])),
            ("death_date".into(), Column::Numeric(vec![f64::NAN; 2])),
            (
                "readmission_date".into(),
                Column::Numeric(vec![f64::NAN; 2]),
            ),
        ])
        .unwrap();
        let (c, report) = PathwayOutcomes::default().derive(c).unwrap();
        assert_eq!(outcomes(&c), (vec![0.0, 0.0], vec![0.0, -1.0]));
        assert_eq!(report.not_discharged, 1);
    }

    #[test]
    fn horizon_and_names_can_be_set() {
        let c = cohort(&[["2024-01-05", "2024-01-12", "2024-03-01", "2024-02-20"]]);
        let (c, report) = PathwayOutcomes::default()
            .horizon_days(90)
            .death_name("death90")
            .readmission_name("readmit90")
            .derive(c)
            .unwrap();
        // Death on day 56 and readmission on day 39 are within 90 days.
        assert_eq!(c.numeric("death90").unwrap(), &[1.0]);
        assert_eq!(c.numeric("readmit90").unwrap(), &[1.0]);
        assert_eq!(report.horizon_days, 90);
        assert!(c.column("death30").is_err());
    }

    #[test]
    fn custom_column_names_are_used() {
        let c = Cohort::from_columns(vec![
            ("cpr".into(), dates(&["A1"])),
            ("op".into(), dates(&["2024-01-05"])),
            ("ud".into(), dates(&["2024-01-12"])),
            ("dd".into(), dates(&[""])),
            ("gen".into(), dates(&["2024-01-02"])),
        ])
        .unwrap();
        let err = PathwayOutcomes::default()
            .id_column("cpr")
            .surgery_column("op")
            .discharge_column("ud")
            .death_column("dd")
            .readmission_column("gen")
            .derive(c)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "patient A1 (data row 1): 'gen' 2024-01-02 is before 'ud' 2024-01-12"
        );
    }

    /// The error of a one-patient cohort with text id `P7`.
    fn order_error(row: [&str; 4], follow_up: Option<&str>) -> String {
        let c = cohort(&[row]);
        let c = Cohort::from_columns(
            c.iter()
                .map(|(n, col)| {
                    let col = if n == "id" {
                        dates(&["P7"])
                    } else {
                        col.clone()
                    };
                    (n.to_string(), col)
                })
                .collect(),
        )
        .unwrap();
        let mut outcomes = PathwayOutcomes::default();
        if let Some(f) = follow_up {
            outcomes = outcomes.follow_up_end(date(f));
        }
        outcomes.derive(c).unwrap_err().to_string()
    }

    #[test]
    fn impossible_orders_name_patient_row_columns_and_dates() {
        let cases = [
            (
                ["2024-01-05", "2024-01-03", "", ""],
                "'discharge_date' 2024-01-03 is before 'surgery_date' 2024-01-05",
            ),
            (
                ["2024-01-05", "", "2024-01-04", ""],
                "'death_date' 2024-01-04 is before 'surgery_date' 2024-01-05",
            ),
            (
                ["2024-01-05", "2024-01-12", "2024-01-11", ""],
                "'death_date' 2024-01-11 is before 'discharge_date' 2024-01-12",
            ),
            (
                ["2024-01-05", "2024-01-12", "", "2024-01-11"],
                "'readmission_date' 2024-01-11 is before 'discharge_date' 2024-01-12",
            ),
            (
                ["2024-01-05", "2024-01-12", "2024-01-20", "2024-01-21"],
                "'readmission_date' 2024-01-21 is after 'death_date' 2024-01-20",
            ),
            (
                ["2024-01-05", "", "", "2024-01-21"],
                "'readmission_date' 2024-01-21 is given without 'discharge_date'",
            ),
            (
                ["2024-01-05", "", "2024-01-08", "2024-01-07"],
                "'readmission_date' 2024-01-07 is given without 'discharge_date'",
            ),
        ];
        for (row, message) in cases {
            assert_eq!(
                order_error(row, None),
                format!("patient P7 (data row 1): {message}")
            );
        }
        assert_eq!(
            order_error(["2024-01-05", "", "", ""], Some("2024-01-04")),
            "patient P7 (data row 1): 'follow-up end (fixed date)' 2024-01-04 is before \
             'surgery_date' 2024-01-05"
        );
    }

    #[test]
    fn order_errors_name_numeric_ids_and_the_row() {
        let c = cohort(&[
            ["2024-01-05", "2024-01-10", "", ""],
            ["2024-01-05", "2024-01-03", "", ""],
        ])
        .with_column("followup_end", dates(&["2024-01-04", ""]))
        .unwrap();
        let err = PathwayOutcomes::default().derive(c.clone()).unwrap_err();
        match err {
            Error::DateOrder {
                patient,
                row,
                column,
                other_column,
                ..
            } => assert_eq!(
                (
                    patient.as_str(),
                    row,
                    column.as_str(),
                    other_column.as_str()
                ),
                ("2", 2, "discharge_date", "surgery_date")
            ),
            other => panic!("{other}"),
        }
        let c = cohort(&[["2024-01-05", "", "", ""]])
            .with_column("followup_end", dates(&["2024-01-04"]))
            .unwrap();
        let err = PathwayOutcomes::default()
            .follow_up_end_column("followup_end")
            .derive(c)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "patient 1 (data row 1): 'followup_end' 2024-01-04 is before 'surgery_date' \
             2024-01-05"
        );
    }

    #[test]
    fn bad_and_missing_dates_are_errors() {
        let err = PathwayOutcomes::default()
            .derive(cohort(&[
                ["2024-01-05", "2024-01-10", "", ""],
                ["2024-01-05", "2024-02-30", "", ""],
            ]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "column 'discharge_date' has '2024-02-30' at data row 2: dates must be written \
             YYYY-MM-DD and name a calendar day"
        );
        let err = PathwayOutcomes::default()
            .derive(cohort(&[["2024-01-05", "", "", ""], ["", "", "", ""]]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "column 'surgery_date' has a missing value at data row 2: patient 2 has no \
             surgery date; every patient needs one"
        );
        let err = PathwayOutcomes::default()
            .follow_up_end_column("end")
            .derive(cohort(&[["2024-01-05", "", "", ""]]))
            .unwrap_err();
        assert!(matches!(err, Error::UnknownColumn { .. }), "{err}");
    }

    #[test]
    fn existing_output_names_are_refused() {
        let c = cohort(&[["2024-01-05", "", "", ""]])
            .with_column("death30", Column::Numeric(vec![0.0]))
            .unwrap();
        let err = PathwayOutcomes::default()
            .derive(c)
            .unwrap_err()
            .to_string();
        assert!(err.contains("already has a column 'death30'"), "{err}");
        let c = cohort(&[["2024-01-05", "", "", ""]]);
        let err = PathwayOutcomes::default()
            .readmission_name("death30")
            .derive(c)
            .unwrap_err()
            .to_string();
        assert!(err.contains("both named 'death30'"), "{err}");
    }

    #[test]
    fn the_report_adds_up() {
        let c = cohort(&[
            ["2024-01-05", "2024-01-12", "", "2024-01-20"],
            ["2024-01-05", "", "2024-01-06", ""],
            ["2024-01-05", "", "", ""],
            ["2024-01-25", "2024-01-30", "", ""],
            ["2024-01-05", "2024-01-08", "2024-01-09", ""],
        ]);
        let (_, r) = PathwayOutcomes::default()
            .follow_up_end(date("2024-02-10"))
            .derive(c)
            .unwrap();
        assert_eq!(r.patients, 5);
        assert_eq!(
            r.deaths_within_horizon + r.alive_at_horizon + r.mortality_censored,
            5
        );
        assert_eq!(
            r.discharged_alive + r.in_hospital_deaths + r.not_discharged,
            5
        );
        assert_eq!(
            r.readmissions + r.not_readmitted + r.readmission_censored,
            r.discharged_alive
        );
        // Patient 4: s + 30 = 2024-02-24 and d + 30 = 2024-02-29 are after the end.
        assert_eq!((r.mortality_censored, r.readmission_censored), (1, 1));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["deaths_after_discharge_without_readmission"], 1);
    }
}
