//! From the patient file to the analysis data: outcomes from dates, regained mobility, total
//! cost, calendar quarter and the own-home indicator, with the rollout checked against the data.

use serde::Serialize;

use crate::core::dates::Date;
use crate::core::error::{Error, Result};
use crate::costs::{CostComponents, CostReport};
use crate::data::{Cohort, Column};
use crate::outcomes::columns::{read_dates, Labels};
use crate::outcomes::{PathwayOutcomes, PathwayReport, Regained, RegainedReport};

/// The cost sectors of the patient file, summed into `cost` (surgery to 3 months).
pub const COST_SECTORS: [&str; 4] = [
    "cost_hospital",
    "cost_municipality",
    "cost_gp",
    "cost_medicine",
];

/// The analysis data and what each derivation found.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The patient file with `death30`, `readmit30`, `cas_regained`, `nms_regained`, `cost`,
    /// `quarter` (`2023Q4`) and `own_home` (0/1) added.
    pub cohort: Cohort,
    /// Reports of the derivations.
    pub reports: DerivationReports,
}

/// What the derivations of [`prepare`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DerivationReports {
    /// 30-day mortality and readmission.
    pub pathway: PathwayReport,
    /// Regained CAS.
    pub cas: RegainedReport,
    /// Regained NMS.
    pub nms: RegainedReport,
    /// Total cost from the four sectors.
    pub costs: CostReport,
}

/// Derives the analysis columns from the patient file (columns as in `data-samples/README.md`):
/// 30-day mortality from surgery and 30-day readmission from discharge
/// ([`PathwayOutcomes`], follow-up ending at `follow_up_end` if given), regained CAS and NMS
/// ([`Regained`]), the total cost over [`COST_SECTORS`], the calendar quarter of surgery and
/// `own_home` = [residence is `own_home`]. Errors if `kth` is not 0/1 or a KTH patient was
/// operated before the rollout start of their cluster (naming the patient).
pub fn prepare(raw: Cohort, follow_up_end: Option<Date>) -> Result<Prepared> {
    check_rollout(&raw)?;
    let mut pathway = PathwayOutcomes::default();
    if let Some(end) = follow_up_end {
        pathway = pathway.follow_up_end(end);
    }
    let (cohort, pathway) = pathway.derive(raw)?;
    let (cohort, cas) = Regained::cas("cas_pre", "cas_followup").derive(cohort)?;
    let (cohort, nms) = Regained::nms("nms_pre", "nms_followup").derive(cohort)?;
    let (cohort, costs) = CostComponents::new(&COST_SECTORS)?.add_total(cohort, "cost")?;
    let surgery = read_dates(&cohort, "surgery_date")?;
    let quarter = Column::from_labels(surgery.iter().map(|d| {
        d.map(|d| {
            let (y, m, _) = d.ymd();
            format!("{y}Q{}", (m - 1) / 3 + 1)
        })
    }))?;
    let residence = cohort.column("residence")?;
    if residence.levels().is_none() {
        return Err(Error::invalid(
            "residence",
            "must be a text column (own_home, ...)",
        ));
    }
    let own_home = Column::Numeric(
        (0..cohort.n_rows())
            .map(|i| match residence.label(i) {
                Some(r) => f64::from(u8::from(r == "own_home")),
                None => f64::NAN,
            })
            .collect(),
    );
    let cohort = cohort
        .with_column("quarter", quarter)?
        .with_column("own_home", own_home)?;
    Ok(Prepared {
        cohort,
        reports: DerivationReports {
            pathway,
            cas,
            nms,
            costs,
        },
    })
}

/// `kth` is 0/1 and no KTH patient was operated before their cluster's `rollout_start`.
fn check_rollout(cohort: &Cohort) -> Result<()> {
    let kth = cohort.numeric("kth")?;
    let surgery = read_dates(cohort, "surgery_date")?;
    let start = read_dates(cohort, "rollout_start")?;
    let ids = Labels::new(cohort, "id")?;
    for i in 0..cohort.n_rows() {
        if !(kth[i] == 0.0 || kth[i] == 1.0) {
            return Err(Error::InvalidValue {
                column: "kth".into(),
                row: i + 1,
                value: kth[i].to_string(),
                expected: "0 (usual care) or 1 (Kom Trygt Hjem)".into(),
            });
        }
        if let (1.0, Some(s), Some(r)) = (kth[i], surgery[i], start[i]) {
            if s < r {
                return Err(Error::DateOrder {
                    patient: ids.patient(i),
                    row: i + 1,
                    column: "surgery_date".into(),
                    date: s,
                    relation: "is before".into(),
                    other_column: "rollout_start".into(),
                    other_date: Some(r),
                });
            }
        }
    }
    Ok(())
}
