//! The columns of the synthetic cohort (as described in `data-samples/README.md`).

use super::patients::Patient;
use super::{KthRollout, KTH_RESIDENCES};
use crate::core::dates::Date;
use crate::core::error::Result;
use crate::data::{Cohort, Column};

impl KthRollout {
    /// The cohort of the simulated patients (columns as in `data-samples/README.md`).
    pub(super) fn cohort_of(&self, patients: &[Patient]) -> Result<Cohort> {
        let municipality_names: Vec<&str> = self
            .clusters
            .iter()
            .flat_map(|c| c.municipalities.iter().map(|m| m.0))
            .collect();
        let day = |d: i32| Date::from_days(d).map(|d| d.to_string());
        let text =
            |f: &dyn Fn(&Patient) -> Option<String>| Column::from_labels(patients.iter().map(f));
        let number =
            |f: &dyn Fn(&Patient) -> f64| Column::Numeric(patients.iter().map(f).collect());
        let score = |s: Option<u32>| s.map_or(f64::NAN, f64::from);
        Cohort::from_columns(vec![
            (
                "id".into(),
                Column::Numeric((1..=patients.len()).map(|i| i as f64).collect()),
            ),
            (
                "health_cluster".into(),
                text(&|p| Some(self.clusters[p.cluster].name.into()))?,
            ),
            (
                "hospital".into(),
                text(&|p| Some(self.clusters[p.cluster].hospital.into()))?,
            ),
            (
                "municipality".into(),
                text(&|p| Some(municipality_names[p.municipality].into()))?,
            ),
            (
                "rollout_start".into(),
                text(&|p| day(self.clusters[p.cluster].rollout_start.days()))?,
            ),
            ("surgery_date".into(), text(&|p| day(p.surgery))?),
            ("kth".into(), number(&|p| f64::from(u8::from(p.kth)))),
            ("age".into(), number(&|p| p.age)),
            (
                "sex".into(),
                text(&|p| Some(if p.male { "M" } else { "F" }.into()))?,
            ),
            (
                "residence".into(),
                text(&|p| Some(KTH_RESIDENCES[p.residence].into()))?,
            ),
            ("asa".into(), number(&|p| p.asa as f64)),
            (
                "discharge_date".into(),
                text(&|p| {
                    (!p.in_hospital_death)
                        .then(|| day(p.surgery + p.los))
                        .flatten()
                })?,
            ),
            (
                "death_date".into(),
                text(&|p| p.death_day.and_then(|d| day(p.surgery + d)))?,
            ),
            (
                "readmission_date".into(),
                text(&|p| p.readmission_day.and_then(|d| day(p.surgery + p.los + d)))?,
            ),
            ("cas_pre".into(), number(&|p| score(p.cas[0]))),
            ("cas_followup".into(), number(&|p| score(p.cas[1]))),
            ("nms_pre".into(), number(&|p| score(p.nms[0]))),
            ("nms_followup".into(), number(&|p| score(p.nms[1]))),
            ("cost_hospital".into(), number(&|p| p.costs[0])),
            ("cost_municipality".into(), number(&|p| p.costs[1])),
            ("cost_gp".into(), number(&|p| p.costs[2])),
            ("cost_medicine".into(), number(&|p| p.costs[3])),
        ])
    }
}
