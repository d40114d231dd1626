//! Indicator series from a patient cohort: the numerator (patients with the event) and the
//! denominator (patients with a known indicator) of every unit in every month or week.
//!
//! Each patient belongs to the subgroup of a date (the month, or the ISO week, of surgery, say)
//! and to a unit (a team, a hospital). Every unit gets the same subgroups: each calendar month
//! or week from the earliest to the latest date of the cohort (or of a given range), so that
//! small multiples share one axis. A subgroup without patients is missing (no point, no
//! limits), as qicharts2 treats a missing subgroup.
//!
//! The indicator is a 0/1 column; a missing value (a patient not at risk or not scored) is
//! left out of numerator and denominator and counted in [`UnitSeries::missing`].
//! Patients outside a given range are left out and counted. A missing unit or date, a date
//! that is not `YYYY-MM-DD`, or an indicator value other than 0, 1 or missing is an error
//! naming the column and the 1-based data row.

use serde::Serialize;

use super::subgroups::Subgroups;
use crate::core::dates::Date;
use crate::core::error::{Error, Result};
use crate::data::Cohort;
use crate::outcomes::columns::{read_dates, Labels};

/// The length of a subgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Period {
    /// Calendar months, labelled `YYYY-MM`.
    Month,
    /// ISO 8601 weeks (Monday to Sunday), labelled `YYYY-Www` with the ISO week-numbering year.
    Week,
}

impl Period {
    /// The index of the subgroup of `date`: months since year 0, or weeks since the Monday of
    /// 1969-12-29.
    fn index(self, date: Date) -> i64 {
        match self {
            Period::Month => {
                let (year, month, _) = date.ymd();
                i64::from(year) * 12 + i64::from(month) - 1
            }
            // 1970-01-01 was a Thursday: day -3 is the Monday of its week.
            Period::Week => (i64::from(date.days()) + 3).div_euclid(7),
        }
    }

    /// The label of subgroup `index`.
    fn label(self, index: i64) -> String {
        match self {
            Period::Month => format!(
                "{:04}-{:02}",
                index.div_euclid(12),
                index.rem_euclid(12) + 1
            ),
            Period::Week => {
                // The ISO year of a week is the year of its Thursday; the week number counts
                // the Thursdays of that year up to it.
                let thursday = i32::try_from(index * 7).ok().and_then(Date::from_days);
                match thursday {
                    Some(t) => {
                        let (year, _, _) = t.ymd();
                        let first = Date::from_ymd(year, 1, 1).map_or(0, Date::days);
                        format!("{year:04}-W{:02}", (t.days() - first) / 7 + 1)
                    }
                    None => format!("week {index}"),
                }
            }
        }
    }
}

/// What to count: the columns of unit, date and indicator, the subgroup length, and optionally
/// the first and last date to include.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSpec {
    /// The unit column (text or numbers).
    pub unit: String,
    /// The date column (`YYYY-MM-DD` text) that places a patient in a subgroup.
    pub date: String,
    /// The 0/1 indicator column (missing allowed).
    pub indicator: String,
    /// Months or weeks.
    pub period: Period,
    /// Leave out patients before this date (and start the subgroups at its period).
    pub from: Option<Date>,
    /// Leave out patients after this date (and end the subgroups at its period).
    pub to: Option<Date>,
}

impl SeriesSpec {
    /// Monthly series of `indicator` by `unit` and the month of `date`, over the whole cohort.
    pub fn monthly(unit: &str, date: &str, indicator: &str) -> Self {
        SeriesSpec {
            unit: unit.to_string(),
            date: date.to_string(),
            indicator: indicator.to_string(),
            period: Period::Month,
            from: None,
            to: None,
        }
    }
}

/// One unit's counts per subgroup.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitSeries {
    /// The unit's label.
    pub unit: String,
    /// Patients with the event (indicator 1), per subgroup.
    pub events: Vec<u64>,
    /// Patients with a known indicator, per subgroup.
    pub patients: Vec<u64>,
    /// Patients of the unit (in range) whose indicator is missing.
    pub missing: u64,
}

/// The series of every unit on shared subgroups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndicatorSeries {
    /// The indicator column.
    pub indicator: String,
    /// The subgroup labels (`YYYY-MM` or `YYYY-Www`), in time order.
    pub labels: Vec<String>,
    /// The units, in sorted order of their labels.
    pub units: Vec<UnitSeries>,
    /// Patients left out because their date is outside the range.
    pub outside_range: u64,
}

impl IndicatorSeries {
    /// Counts the indicator by unit and subgroup (see the [module docs](self)).
    pub fn from_cohort(cohort: &Cohort, spec: &SeriesSpec) -> Result<IndicatorSeries> {
        let units = Labels::new(cohort, &spec.unit)?;
        let dates = read_dates(cohort, &spec.date)?;
        let values = cohort.numeric(&spec.indicator)?;
        let missing_cell = |column: &str, row: usize, expected: &str| Error::InvalidValue {
            column: column.to_string(),
            row: row + 1,
            value: String::new(),
            expected: expected.to_string(),
        };
        let mut rows = Vec::with_capacity(values.len());
        let mut outside_range = 0;
        for (row, (date, &value)) in dates.iter().zip(values).enumerate() {
            let date =
                date.ok_or_else(|| missing_cell(&spec.date, row, "every patient needs a date"))?;
            let unit = units
                .text(row)
                .ok_or_else(|| missing_cell(&spec.unit, row, "every patient needs a unit"))?;
            if !(value.is_nan() || value == 0.0 || value == 1.0) {
                return Err(Error::InvalidValue {
                    column: spec.indicator.clone(),
                    row: row + 1,
                    value: value.to_string(),
                    expected: "an indicator is 0, 1 or missing".to_string(),
                });
            }
            if spec.from.is_some_and(|f| date < f) || spec.to.is_some_and(|t| date > t) {
                outside_range += 1;
                continue;
            }
            rows.push((unit.into_owned(), spec.period.index(date), value));
        }
        let first = spec.from.map(|d| spec.period.index(d));
        let last = spec.to.map(|d| spec.period.index(d));
        let first = first.or_else(|| rows.iter().map(|r| r.1).min());
        let last = last.or_else(|| rows.iter().map(|r| r.1).max());
        let (Some(first), Some(last)) = (first, last) else {
            return Err(Error::too_few(
                format!("the series of '{}'", spec.indicator),
                "patients in range",
                0,
                1,
            ));
        };
        if last < first {
            return Err(Error::invalid("to", "the last date is before the first"));
        }
        let n = (last - first + 1) as usize;
        let mut names: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
        names.sort();
        names.dedup();
        let mut series: Vec<UnitSeries> = names
            .into_iter()
            .map(|unit| UnitSeries {
                unit,
                events: vec![0; n],
                patients: vec![0; n],
                missing: 0,
            })
            .collect();
        for (unit, index, value) in rows {
            let u = series.partition_point(|s| s.unit < unit);
            let s = &mut series[u];
            if value.is_nan() {
                s.missing += 1;
            } else {
                let k = (index - first) as usize;
                s.patients[k] += 1;
                s.events[k] += u64::from(value == 1.0);
            }
        }
        Ok(IndicatorSeries {
            indicator: spec.indicator.clone(),
            labels: (first..=last).map(|i| spec.period.label(i)).collect(),
            units: series,
            outside_range,
        })
    }

    /// The subgroups of `unit` for a chart: numerators and denominators, a subgroup without
    /// patients missing. Errors if there is no such unit.
    pub fn subgroups(&self, unit: &str) -> Result<Subgroups> {
        let s = self.units.iter().find(|s| s.unit == unit).ok_or_else(|| {
            Error::unknown_column(unit, self.units.iter().map(|s| s.unit.as_str()))
        })?;
        let present = |k: usize, x: u64| (s.patients[k] > 0).then_some(x as f64);
        Subgroups::counts(
            self.labels.clone(),
            (0..self.labels.len())
                .map(|k| present(k, s.events[k]))
                .collect(),
            (0..self.labels.len())
                .map(|k| present(k, s.patients[k]))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::LoadOptions;

    #[test]
    fn iso_week_labels() {
        // 2024-12-30 (a Monday) starts ISO week 1 of 2025; 2021-01-03 is in week 53 of 2020.
        let label = |d: &str| Period::Week.label(Period::Week.index(Date::parse(d).unwrap()));
        assert_eq!(label("2024-12-30"), "2025-W01");
        assert_eq!(label("2025-01-05"), "2025-W01");
        assert_eq!(label("2021-01-03"), "2020-W53");
        assert_eq!(label("2024-01-01"), "2024-W01");
        assert_eq!(label("1970-01-01"), "1970-W01");
    }

    #[test]
    fn counts_by_unit_and_month_with_empty_months_missing() {
        let csv = "team,surgery,event\n\
                   A,2024-01-05,1\nA,2024-01-20,0\nB,2024-01-07,NA\nB,2024-03-02,1\nA,2024-03-31,0\n";
        let cohort = Cohort::from_csv_str(csv, &LoadOptions::default()).unwrap();
        let s =
            IndicatorSeries::from_cohort(&cohort, &SeriesSpec::monthly("team", "surgery", "event"))
                .unwrap();
        assert_eq!(s.labels, ["2024-01", "2024-02", "2024-03"]);
        assert_eq!(s.units[0].events, [1, 0, 0]);
        assert_eq!(s.units[0].patients, [2, 0, 1]);
        assert_eq!(s.units[1].patients, [0, 0, 1]);
        assert_eq!(s.units[1].missing, 1);
        let b = s.subgroups("B").unwrap();
        assert_eq!(b.value(0), None);
        assert_eq!(b.value(2), Some(1.0));
        assert!(s.subgroups("C").is_err());
    }

    #[test]
    fn bad_cells_name_column_and_row() {
        let csv = "team,surgery,event\nA,2024-01-05,2\n";
        let cohort = Cohort::from_csv_str(csv, &LoadOptions::default()).unwrap();
        let e =
            IndicatorSeries::from_cohort(&cohort, &SeriesSpec::monthly("team", "surgery", "event"))
                .unwrap_err()
                .to_string();
        assert!(e.contains("event") && e.contains('1'), "{e}");
        let csv = "team,surgery,event\nA,NA,1\n";
        let cohort = Cohort::from_csv_str(csv, &LoadOptions::default()).unwrap();
        assert!(IndicatorSeries::from_cohort(
            &cohort,
            &SeriesSpec::monthly("team", "surgery", "event")
        )
        .is_err());
    }
}
