//! What follows the 30-day outcomes up to the end of follow-up: later deaths and readmissions,
//! mobility (CAS and NMS) at three months, and the costs of each sector to three months.

use super::patients::Patient;
use super::{KthRollout, OWN_HOME};
use crate::core::rng::{self as random, Draws};

/// Pre-fracture CAS shares (0-6), own home and others.
const CAS_SHARES: [[f64; 7]; 2] = [
    [0.01, 0.01, 0.02, 0.04, 0.07, 0.15, 0.70],
    [0.08, 0.10, 0.15, 0.20, 0.20, 0.15, 0.12],
];
/// Pre-fracture NMS shares (0-9), own home and others.
const NMS_SHARES: [[f64; 10]; 2] = [
    [0.01, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.15, 0.18, 0.35],
    [0.15, 0.15, 0.15, 0.15, 0.12, 0.10, 0.08, 0.05, 0.03, 0.02],
];
/// Days after surgery at which mobility is scored, and after which costs stop.
const FOLLOW_UP_DAYS: i32 = 91;

impl KthRollout {
    /// Deaths after day 30 and readmissions after day 30 of discharge, known only up to the
    /// end of follow-up.
    pub(super) fn later_events(&self, p: &mut Patient, death_score: f64, draws: &mut Draws) {
        let last_day = self.follow_up_end.days() - p.surgery;
        if p.death_day.is_none() && draws.bernoulli(0.7 * random::expit(death_score - 2.5)) {
            // Not before a readmission within 30 days of discharge.
            let readmitted = p.readmission_day.map_or(0, |r| p.los + r);
            let day = (31 + draws.below(335)).max(readmitted);
            p.death_day = (day <= last_day).then_some(day);
        }
        if !p.in_hospital_death && p.readmission_day.is_none() && draws.bernoulli(0.1) {
            let day = 31 + draws.below(60);
            let alive = p.death_day.is_none_or(|d| p.los + day <= d);
            p.readmission_day = (alive && p.los + day <= last_day).then_some(day);
        }
    }

    /// Pre-fracture and three-month CAS and NMS.
    pub(super) fn mobility(&self, p: &mut Patient, draws: &mut Draws) {
        let home = usize::from(p.residence != OWN_HOME);
        let followed = p.death_day.is_none_or(|d| d > FOLLOW_UP_DAYS);
        let chance = random::expit(
            0.3 - 0.04 * (p.age - 85.0) - 0.3 * (p.asa as f64 - 2.0)
                + if p.kth { self.mobility_kth } else { 0.0 },
        );
        let mut score = |shares: &[f64], max: u32| {
            let pre = draws.categorical(shares) as u32;
            let lost = draws.bernoulli(0.05);
            let regained = draws.bernoulli(chance);
            let step = 1 + draws.below(2) as u32;
            let up = draws.bernoulli(0.2);
            let follow_up = if regained {
                (pre + u32::from(up)).min(max)
            } else {
                pre.saturating_sub(step)
            };
            [Some(pre), (followed && !lost).then_some(follow_up)]
        };
        p.cas = score(&CAS_SHARES[home], 6);
        p.nms = score(&NMS_SHARES[home], 9);
    }

    /// Costs per sector, surgery to 3 months (whole DKK).
    pub(super) fn cost(&self, p: &mut Patient, draws: &mut Draws) {
        let c = &self.costs;
        let alive = p.death_day.map_or(1.0, |d| {
            f64::from(d.min(FOLLOW_UP_DAYS)) / f64::from(FOLLOW_UP_DAYS)
        });
        let readmitted = p.readmission_day.is_some_and(|d| d <= 30);
        let hospital = c.hospital[0]
            + c.hospital[1] * f64::from(p.los)
            + if readmitted { c.hospital[2] } else { 0.0 };
        let municipality =
            (c.municipality[p.residence] + if p.kth { c.kth_municipality } else { 0.0 }) * alive;
        let means = [hospital, municipality, c.gp * alive, c.medicine * alive];
        for (cost, mean) in p.costs.iter_mut().zip(means) {
            *cost = if mean > 0.0 {
                draws.gamma(c.shape, mean).round()
            } else {
                0.0
            };
        }
    }
}
