//! Derives every outcome of `stepwedge::outcomes` from a small CSV extract, with the expected
//! values worked out by hand below (day counts use 31 days for January 2024 and 29 for February
//! 2024).

use stepwedge::core::dates::Date;
use stepwedge::core::error::Error;
use stepwedge::data::{Cohort, ColumnType, LoadOptions};
use stepwedge::outcomes::{CostWindow, PathwayOutcomes, Regained, Window};

/// Eight patients with text ids. `emigrated` is empty in every row, so it loads as an all-missing
/// numeric column; `followup_end` ends the follow-up of P01, P03 and P07.
const PATIENTS: &str = "\
id,surgery_date,discharge_date,death_date,readmission_date,emigrated,followup_end,cas_pre,cas_fu,nms_pre,nms_fu
P01,2024-01-05,2024-01-12,,,,2024-02-01,6,6,9,9
P02,2024-01-05,,2024-01-05,,,,4,,5,
P03,2024-01-05,2024-01-15,2024-02-04,,,2024-01-20,6,3,9,6
P04,2024-01-05,2024-01-15,2024-02-05,2024-01-20,,,5,5,7,8
P05,2024-01-31,2024-02-07,,2024-03-08,,,2,3,3,2
P06,2024-01-31,2024-02-07,,2024-03-09,,,,2,,4
P07,2024-02-20,,,,,2024-03-10,3,3,4,4
P08,2024-02-20,2024-03-01,2024-03-01,,,,1,0,2,2
";

/// Cost records in long format.
const RECORDS: &str = "\
id,date,sector,amount
P01,2024-01-05,hospital,42000
P01,2024-04-04,municipality,1200.5
P01,2024-04-05,municipality,800
P03,2024-01-20,gp,350
P05,2024-04-30,hospital,9000
P05,2024-05-01,hospital,100
P07,2024-02-19,medicine,75
P07,2024-05-19,medicine,25.25
P08,2024-03-01,medicine,60
";

/// Column `name` with missing values as `None`.
fn values(cohort: &Cohort, name: &str) -> Vec<Option<f64>> {
    cohort
        .numeric(name)
        .unwrap()
        .iter()
        .map(|&v| (!v.is_nan()).then_some(v))
        .collect()
}

fn load(text: &str) -> Cohort {
    Cohort::from_csv_str(text, &LoadOptions::default()).unwrap()
}

#[test]
fn pathway_outcomes_without_censoring() {
    let cohort = load(PATIENTS);
    assert_eq!(cohort.column_type("emigrated").unwrap(), ColumnType::Binary);
    assert!(cohort
        .numeric("emigrated")
        .unwrap()
        .iter()
        .all(|v| v.is_nan()));
    // The all-empty `emigrated` column ends nobody's follow-up.
    let (cohort, report) = PathwayOutcomes::default()
        .follow_up_end_column("emigrated")
        .derive(cohort)
        .unwrap();
    // Mortality from surgery:
    // P01 no death: 0. P02 died on the day of surgery: 1. P03 died 2024-02-04, day 30: 1.
    // P04 died 2024-02-05, day 31: 0. P05, P06, P07 no death: 0.
    // P08 operated 2024-02-20, died 2024-03-01, day 10: 1.
    assert_eq!(
        values(&cohort, "death30"),
        [
            Some(0.0),
            Some(1.0),
            Some(1.0),
            Some(0.0),
            Some(0.0),
            Some(0.0),
            Some(0.0),
            Some(1.0)
        ]
    );
    // Readmission from discharge:
    // P01 discharged, never readmitted: 0. P02 died in hospital: missing.
    // P03 discharged 2024-01-15, died 20 days later without readmission: 0 (competing risk).
    // P04 readmitted 5 days after discharge: 1.
    // P05 discharged 2024-02-07, readmitted 2024-03-08, day 30: 1. P06 readmitted day 31: 0.
    // P07 neither discharged nor dead: missing. P08 died on the day of discharge: 0.
    assert_eq!(
        values(&cohort, "readmit30"),
        [
            Some(0.0),
            None,
            Some(0.0),
            Some(1.0),
            Some(1.0),
            Some(0.0),
            None,
            Some(0.0)
        ]
    );
    assert_eq!(report.patients, 8);
    assert_eq!(
        (
            report.deaths_within_horizon,
            report.alive_at_horizon,
            report.mortality_censored
        ),
        (3, 5, 0)
    );
    assert_eq!(
        (
            report.discharged_alive,
            report.in_hospital_deaths,
            report.not_discharged
        ),
        (6, 1, 1)
    );
    assert_eq!(
        (
            report.readmissions,
            report.not_readmitted,
            report.readmission_censored
        ),
        (2, 4, 0)
    );
    // P03 and P08.
    assert_eq!(report.deaths_after_discharge_without_readmission, 2);
    assert_eq!(report.died_on_discharge_day, 1);
    assert_eq!(report.follow_up_end_missing, 8);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["readmissions"], 2);
    assert_eq!(json["death_column"], "death30");
}

#[test]
fn pathway_outcomes_censored_by_a_follow_up_end_column() {
    let (cohort, report) = PathwayOutcomes::default()
        .follow_up_end_column("followup_end")
        .death_name("death30_fu")
        .readmission_name("readmit30_fu")
        .derive(load(PATIENTS))
        .unwrap();
    // P01: follow-up ends 2024-02-01, day 27 after surgery and day 20 after discharge, with no
    // event: both outcomes censored.
    // P03: follow-up ends 2024-01-20, but the recorded death (day 30) is used: mortality 1. Its
    // time at risk of readmission runs to the death 20 days after discharge, and follow-up ends
    // 5 days after discharge: readmission censored.
    // P07: follow-up ends 2024-03-10, day 19 after surgery, no death: mortality censored;
    // readmission missing (never discharged).
    // The others have no follow-up end and keep their values.
    assert_eq!(
        values(&cohort, "death30_fu"),
        [
            None,
            Some(1.0),
            Some(1.0),
            Some(0.0),
            Some(0.0),
            Some(0.0),
            None,
            Some(1.0)
        ]
    );
    assert_eq!(
        values(&cohort, "readmit30_fu"),
        [
            None,
            None,
            None,
            Some(1.0),
            Some(1.0),
            Some(0.0),
            None,
            Some(0.0)
        ]
    );
    assert_eq!(
        (
            report.deaths_within_horizon,
            report.alive_at_horizon,
            report.mortality_censored
        ),
        (3, 3, 2)
    );
    assert_eq!(
        (
            report.readmissions,
            report.not_readmitted,
            report.readmission_censored
        ),
        (2, 2, 2)
    );
    // Only P08 now: P03's readmission is censored.
    assert_eq!(report.deaths_after_discharge_without_readmission, 1);
    assert_eq!(report.follow_up_end_missing, 5);
}

#[test]
fn a_fixed_follow_up_end_before_a_surgery_is_an_order_error() {
    // P07 and P08 were operated 2024-02-20, after the fixed end.
    let err = PathwayOutcomes::default()
        .follow_up_end(Date::parse("2024-02-19").unwrap())
        .derive(load(PATIENTS))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "patient P07 (data row 7): 'follow-up end (fixed date)' 2024-02-19 is before \
         'surgery_date' 2024-02-20"
    );
}

#[test]
fn regained_mobility() {
    let (cohort, cas) = Regained::cas("cas_pre", "cas_fu")
        .derive(load(PATIENTS))
        .unwrap();
    let (cohort, nms) = Regained::nms("nms_pre", "nms_fu").derive(cohort).unwrap();
    // CAS pre/follow-up: 6/6 1, 4/- missing, 6/3 0, 5/5 1, 2/3 1, -/2 missing, 3/3 1, 1/0 0.
    assert_eq!(
        values(&cohort, "cas_regained"),
        [
            Some(1.0),
            None,
            Some(0.0),
            Some(1.0),
            Some(1.0),
            None,
            Some(1.0),
            Some(0.0)
        ]
    );
    // NMS pre/follow-up: 9/9 1, 5/- missing, 9/6 0, 7/8 1, 3/2 0, -/4 missing, 4/4 1, 2/2 1.
    assert_eq!(
        values(&cohort, "nms_regained"),
        [
            Some(1.0),
            None,
            Some(0.0),
            Some(1.0),
            Some(0.0),
            None,
            Some(1.0),
            Some(1.0)
        ]
    );
    assert_eq!(
        (
            cas.regained,
            cas.not_regained,
            cas.missing,
            cas.missing_pre,
            cas.missing_follow_up
        ),
        (4, 2, 2, 1, 1)
    );
    assert_eq!((nms.regained, nms.not_regained, nms.missing), (4, 2, 2));
    // The NMS columns hold 7, 8 and 9: too high for the CAS.
    let err = Regained::cas("nms_pre", "nms_fu")
        .derive(load(PATIENTS))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "column 'nms_pre' has 9 at data row 1: a Cumulated Ambulation Score is a whole number \
         from 0 to 6"
    );
}

#[test]
fn costs_in_the_three_months_from_surgery() {
    let records = load(RECORDS);
    let (cohort, report) = CostWindow::default()
        .derive(load(PATIENTS), &records)
        .unwrap();
    // Windows [surgery, surgery + 3 months):
    // P01 2024-01-05 .. 2024-04-05: hospital 42000 and municipality 1200.5 in; the
    //   municipality record of 2024-04-05 (the end) out.
    // P03 2024-01-05 .. 2024-04-05: gp 350 in.
    // P05 2024-01-31 .. 2024-04-30 (April 31 rolled back): both hospital records out.
    // P07 2024-02-20 .. 2024-05-20: medicine 75 on 2024-02-19 is before surgery (out),
    //   25.25 on 2024-05-19 in.
    // P08 2024-02-20 .. 2024-05-20: medicine 60 in.
    let zero = |patients: &[(usize, f64)]| {
        let mut v = vec![Some(0.0); 8];
        for &(i, x) in patients {
            v[i] = Some(x);
        }
        v
    };
    assert_eq!(values(&cohort, "cost_gp"), zero(&[(2, 350.0)]));
    assert_eq!(values(&cohort, "cost_hospital"), zero(&[(0, 42000.0)]));
    assert_eq!(
        values(&cohort, "cost_medicine"),
        zero(&[(6, 25.25), (7, 60.0)])
    );
    assert_eq!(values(&cohort, "cost_municipality"), zero(&[(0, 1200.5)]));
    assert_eq!(
        &cohort.names()[11..],
        [
            "cost_gp",
            "cost_hospital",
            "cost_medicine",
            "cost_municipality"
        ]
    );
    assert_eq!(report.window, Window::Months(3));
    assert_eq!(
        (
            report.records,
            report.records_used,
            report.records_outside,
            report.records_before_surgery,
            report.records_after_window
        ),
        (9, 5, 4, 1, 3)
    );
    assert_eq!((report.patients, report.patients_with_costs), (8, 4));
    let totals: Vec<(&str, usize, f64)> = report
        .sectors
        .iter()
        .map(|s| (s.sector.as_str(), s.records, s.total))
        .collect();
    assert_eq!(
        totals,
        [
            ("gp", 1, 350.0),
            ("hospital", 1, 42000.0),
            ("medicine", 2, 85.25),
            ("municipality", 1, 1200.5)
        ]
    );
}

#[test]
fn a_record_of_an_unknown_patient_is_named() {
    let records = load("id,date,sector,amount\nP01,2024-01-06,gp,10\nP09,2024-01-06,gp,10\n");
    let err = CostWindow::default()
        .derive(load(PATIENTS), &records)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "column 'id' has 'P09' at data row 2: cost record: no patient has this id"
    );
}

#[test]
fn an_impossible_order_names_the_patient_row_and_dates() {
    // Numeric ids 1..=20; patient 17 is discharged two days before surgery.
    let mut csv = String::from("id,surgery_date,discharge_date,death_date,readmission_date\n");
    for id in 1..=20 {
        let discharge = if id == 17 { "2024-01-03" } else { "2024-01-10" };
        csv.push_str(&format!("{id},2024-01-05,{discharge},,\n"));
    }
    let cohort = load(&csv);
    assert_eq!(
        cohort.column_type("death_date").unwrap(),
        ColumnType::Binary
    );
    let err = PathwayOutcomes::default().derive(cohort).unwrap_err();
    assert!(matches!(err, Error::DateOrder { row: 17, .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "patient 17 (data row 17): 'discharge_date' 2024-01-03 is before 'surgery_date' \
         2024-01-05"
    );
}

#[test]
fn a_bad_date_is_named_by_column_row_and_text() {
    let csv = "id,surgery_date,discharge_date,death_date,readmission_date\n\
               1,2024-01-05,2024-01-10,,\n\
               2,2024-01-05,10/01/2024,,\n";
    let err = PathwayOutcomes::default().derive(load(csv)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "column 'discharge_date' has '10/01/2024' at data row 2: dates must be written \
         YYYY-MM-DD and name a calendar day"
    );
}
