//! The configuration of the bundled synthetic cohort: the published design (health clusters,
//! hospitals, municipalities, rollout starts, target groups and patient counts) and the
//! calibrated free parameters.

use super::{CostMeans, HealthCluster, KthRollout, LatentScore, Margins};
use crate::core::dates::Date;

const FYN: [(&str, f64); 9] = [
    ("Odense", 33.0),
    ("Svendborg", 15.0),
    ("Faaborg-Midtfyn", 14.0),
    ("Assens", 11.0),
    ("Nyborg", 9.0),
    ("Nordfyn", 8.0),
    ("Kerteminde", 7.0),
    ("Langeland", 4.5),
    ("Ærø", 2.5),
];
const SOENDERJYLLAND: [(&str, f64); 4] = [
    ("Sønderborg", 20.0),
    ("Aabenraa", 15.0),
    ("Haderslev", 14.0),
    ("Tønder", 10.0),
];
const SYDVESTJYLLAND: [(&str, f64); 5] = [
    ("Esbjerg", 26.0),
    ("Varde", 11.0),
    ("Vejen", 9.0),
    ("Billund", 6.0),
    ("Fanø", 1.5),
];

/// A date known to exist.
fn date(y: i32, m: u32, d: u32) -> Date {
    Date::from_ymd(y, m, d).unwrap_or(Date::MIN)
}

impl KthRollout {
    /// The configuration that `data-samples/kth_rollout_synthetic.csv` was generated with
    /// (seed [`KthRollout::SEED`]). The design and the margins are the published ones; the
    /// latent-score trends and the KTH cost were calibrated so that the adjusted analysis of
    /// [`crate::studies::kth_rollout`] reproduces the published OR, RR, NNT and cost per saved
    /// life (the calibration is [`crate::studies::kth_rollout::calibrate()`]).
    pub fn calibrated() -> KthRollout {
        KthRollout {
            window_start: date(2022, 7, 1),
            window_end: date(2024, 6, 30),
            follow_up_end: date(2024, 9, 30),
            clusters: vec![
                HealthCluster {
                    name: "Fyn",
                    hospital: "Odense Universitetshospital",
                    rollout_start: date(2024, 1, 1),
                    target: &[1, 4],
                    municipalities: &FYN,
                    before: 817,
                    kth: 60,
                    after_usual: 212,
                    asa_upcoding: 0.0,
                },
                HealthCluster {
                    name: "Sønderjylland",
                    hospital: "Sygehus Sønderjylland",
                    rollout_start: date(2023, 9, 15),
                    target: &[0, 1, 3],
                    municipalities: &SOENDERJYLLAND,
                    before: 447,
                    kth: 248,
                    after_usual: 45,
                    asa_upcoding: 0.0035,
                },
                HealthCluster {
                    name: "Sydvestjylland",
                    hospital: "Sydvestjysk Sygehus",
                    rollout_start: date(2023, 11, 1),
                    target: &[0, 1, 2],
                    municipalities: &SYDVESTJYLLAND,
                    before: 520,
                    kth: 216,
                    after_usual: 44,
                    asa_upcoding: 0.0035,
                },
            ],
            residence_shares: [0.62, 0.24, 0.05, 0.04, 0.05],
            margins: Margins::published(),
            in_hospital_share: 0.1,
            mortality: LatentScore {
                age: 0.06,
                male: 0.45,
                residence: [0.0, 0.1357, 0.45, 0.45, 0.35],
                asa: 0.5,
                trend: 0.0,
                municipality_sd: 0.3,
            },
            readmission: LatentScore {
                age: 0.02,
                male: 0.2,
                residence: [0.0, 0.8763, 0.3, 0.3, 0.2],
                asa: 0.3,
                trend: 0.0,
                municipality_sd: 0.3,
            },
            mobility_kth: 0.25,
            costs: CostMeans {
                hospital: [42_000.0, 3_800.0, 28_000.0],
                municipality: [38_000.0, 72_000.0, 55_000.0, 50_000.0, 60_000.0],
                gp: 1_600.0,
                medicine: 2_900.0,
                kth_municipality: 8_496.0,
                shape: 6.0,
            },
        }
    }

    /// The seed of `data-samples/kth_rollout_synthetic.csv`.
    pub const SEED: u64 = 20251105;
}
