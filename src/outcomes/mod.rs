//! Study outcomes derived from patient-level dates and scores of the hip-fracture pathway.
//!
//! Each derivation takes a cohort by value and returns it with 0/1 (or cost) columns added, and a
//! serialisable report of the counts behind them; on an error the cohort is not returned, so
//! nothing is ever half-written.
//!
//! * [`PathwayOutcomes`]: 30-day mortality counted from the day of surgery (1 if death is at most
//!   30 days after surgery) and 30-day readmission counted from discharge among patients
//!   discharged alive (1 if readmitted 0 to 30 days after discharge; a death after discharge
//!   without readmission counts as not readmitted), both censored when follow-up ends before the
//!   horizon without the event.
//! * [`Regained`]: regained pre-fracture mobility, 1 if the follow-up score (Cumulated Ambulation
//!   Score or New Mobility Score) is at least the pre-fracture score.
//! * [`CostWindow`]: costs per patient and sector from dated records in long format, summed over
//!   `surgery <= date < surgery + 3 months`.
//!
//! Dates are text columns written `YYYY-MM-DD` (see [`crate::core::dates::Date`]); an empty cell is
//! missing, and a column whose cells are all empty (which loads as an all-missing numeric
//! column) is accepted as all missing. A cell that is not a date, dates in an impossible order
//! ([`Error::DateOrder`](crate::core::error::Error::DateOrder)) and out-of-range scores are errors
//! naming the column, the data row and, for dates, the patient.
//!
//! ```
//! use stepwedge::data::{Cohort, LoadOptions};
//! use stepwedge::outcomes::{PathwayOutcomes, Regained};
//!
//! let csv = "id,surgery_date,discharge_date,death_date,readmission_date,cas_pre,cas_fu\n\
//!            1,2024-03-01,2024-03-08,,2024-03-20,6,6\n\
//!            2,2024-03-01,2024-03-09,2024-04-01,,6,4\n";
//! let cohort = Cohort::from_csv_str(csv, &LoadOptions::default()).unwrap();
//! let (cohort, pathway) = PathwayOutcomes::default().derive(cohort).unwrap();
//! let (cohort, mobility) = Regained::cas("cas_pre", "cas_fu").derive(cohort).unwrap();
//! // Patient 2 died 31 days after surgery: alive at day 30, and not readmitted.
//! assert_eq!(cohort.numeric("death30").unwrap(), &[0.0, 0.0]);
//! assert_eq!(cohort.numeric("readmit30").unwrap(), &[1.0, 0.0]);
//! assert_eq!(cohort.numeric("cas_regained").unwrap(), &[1.0, 0.0]);
//! assert_eq!((pathway.readmissions, mobility.regained), (1, 1));
//! ```

pub(crate) mod columns;
mod cost_window;
mod mobility;
mod pathway;

pub use cost_window::{CostWindow, CostWindowReport, SectorTotal, Window};
pub use mobility::{MobilityScale, Regained, RegainedReport};
pub use pathway::{PathwayOutcomes, PathwayReport};
