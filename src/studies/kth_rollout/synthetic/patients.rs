//! The simulated patients: each cluster's segments (before the rollout start, KTH, usual care
//! after it), with their surgery dates, municipalities, residences, age, sex, ASA class and
//! length of stay.

use super::draws::shuffle;
use super::{KthRollout, LatentScore, KTH_RESIDENCES, OWN_HOME};
use crate::core::error::{Error, Result};
use crate::core::rng::Draws;

/// ASA class shares (1-4) for own-home patients and for the others.
const ASA_SHARES: [[f64; 4]; 2] = [[0.06, 0.42, 0.45, 0.07], [0.01, 0.20, 0.62, 0.17]];

/// One simulated patient.
#[derive(Debug, Clone, Default)]
pub(super) struct Patient {
    pub(super) cluster: usize,
    pub(super) municipality: usize,
    pub(super) surgery: i32,
    pub(super) kth: bool,
    pub(super) age: f64,
    pub(super) male: bool,
    pub(super) residence: usize,
    pub(super) asa: usize,
    pub(super) los: i32,
    /// Days from surgery to death, if known by the end of follow-up.
    pub(super) death_day: Option<i32>,
    /// Days from discharge to the first readmission, if any.
    pub(super) readmission_day: Option<i32>,
    pub(super) in_hospital_death: bool,
    pub(super) cas: [Option<u32>; 2],
    pub(super) nms: [Option<u32>; 2],
    pub(super) costs: [f64; 4],
}

impl Patient {
    /// Margin cell: 0 KTH own home, 1 KTH other, 2 usual own home, 3 usual other.
    pub(super) fn cell(&self) -> usize {
        2 * usize::from(!self.kth) + usize::from(self.residence != OWN_HOME)
    }

    /// Latent linear predictor (without the municipality effect).
    pub(super) fn eta(&self, s: &LatentScore, years: f64) -> f64 {
        s.age * (self.age - 85.0)
            + if self.male { s.male } else { 0.0 }
            + s.residence[self.residence]
            + s.asa * (self.asa as f64 - 2.0)
            + s.trend * years
    }
}

/// Counts `shares * n` rounded by largest remainder (ties to the first), so they sum to `n`.
fn allocate(shares: &[f64], n: usize) -> Vec<usize> {
    let total: f64 = shares.iter().sum();
    let exact: Vec<f64> = shares.iter().map(|s| s / total * n as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .total_cmp(&(exact[a] - exact[a].floor()))
            .then(a.cmp(&b))
    });
    let missing = n - counts.iter().sum::<usize>();
    for &i in order.iter().take(missing) {
        counts[i] += 1;
    }
    counts
}

impl KthRollout {
    /// The patients of every cluster and segment, with their covariates.
    pub(super) fn draw_patients(&self, draws: &mut Draws) -> Result<Vec<Patient>> {
        let mut patients = Vec::new();
        let mut first_municipality = 0;
        for (c, cluster) in self.clusters.iter().enumerate() {
            let weights: Vec<f64> = {
                let total: f64 = cluster.municipalities.iter().map(|m| m.1).sum();
                cluster.municipalities.iter().map(|m| m.1 / total).collect()
            };
            let start = cluster.rollout_start.days();
            let segments = [
                (cluster.before, self.window_start.days(), start, None),
                (cluster.kth, start, self.window_end.days() + 1, Some(true)),
                (
                    cluster.after_usual,
                    start,
                    self.window_end.days() + 1,
                    Some(false),
                ),
            ];
            for (n, from, to, in_target) in segments {
                let shares: Vec<f64> = (0..KTH_RESIDENCES.len())
                    .map(|r| match in_target {
                        Some(t) if cluster.target.contains(&r) != t => 0.0,
                        _ => self.residence_shares[r],
                    })
                    .collect();
                let mut residences: Vec<usize> = allocate(&shares, n)
                    .iter()
                    .enumerate()
                    .flat_map(|(r, &k)| std::iter::repeat_n(r, k))
                    .collect();
                shuffle(&mut residences, draws);
                for residence in residences {
                    let home = usize::from(residence != OWN_HOME);
                    let mean_age = if home == 0 { 82.0 } else { 87.0 };
                    let age = loop {
                        let a = draws.normal(mean_age, 7.0).floor();
                        if (65.0..=104.0).contains(&a) {
                            break a;
                        }
                    };
                    patients.push(Patient {
                        cluster: c,
                        municipality: first_municipality + draws.categorical(&weights),
                        surgery: from + draws.below(to - from),
                        kth: in_target == Some(true),
                        age,
                        male: !draws.bernoulli(0.72),
                        residence,
                        asa: {
                            let drawn = 1 + draws.categorical(&ASA_SHARES[home]);
                            let up = draws.bernoulli(cluster.asa_upcoding);
                            (drawn + usize::from(up)).min(4)
                        },
                        los: (3.0 + draws.gamma(2.0, 5.0)).floor().min(27.0) as i32,
                        ..Patient::default()
                    });
                }
            }
            first_municipality += cluster.municipalities.len();
        }
        if patients.is_empty() {
            return Err(Error::too_few(
                "the synthetic rollout cohort's clusters",
                "patients",
                0,
                1,
            ));
        }
        patients.sort_by_key(|p| (p.surgery, p.cluster, p.municipality));
        Ok(patients)
    }
}
