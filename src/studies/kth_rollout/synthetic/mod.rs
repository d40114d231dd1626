//! A synthetic cohort of the 2023-2025 regional rollout of Kom Trygt Hjem (KTH) in three
//! southern Danish health clusters, built to match every published margin of its evaluation.
//!
//! **Synthetic.** The registry data behind the published evaluation (webinar of 5 November 2025;
//! see `shared/published-results.md`, section 4) are not public. This generator makes patients
//! whose design follows what was published (three health clusters and their hospitals, their 18
//! municipalities, the rollout start dates and the target groups of each cluster, 2,609 patients
//! of whom 524 had KTH) and whose outcomes reproduce the published margins exactly. Its few free
//! parameters were calibrated so that the adjusted analysis of [`crate::studies::kth_rollout`]
//! gives the published adjusted estimates (see [`KthRollout::calibrated`]). No real patient is
//! in it, and nothing but the published margins can be learnt from it.
//!
//! # Design
//! Surgery dates run from [`KthRollout::window_start`] to [`KthRollout::window_end`]. Each health
//! cluster has three segments with fixed patient counts: before its rollout start (usual care),
//! after it in its target group (KTH), and after it outside its target group (usual care).
//! Surgery dates are uniform over a segment's days; municipalities are drawn with the weights
//! of [`HealthCluster::municipalities`] (about their populations aged 65+); residences are
//! allocated in fixed counts per segment (largest remainder of the residence shares times the
//! segment size, in random order), from the target residences for the KTH segment and from the
//! others for the post-rollout usual-care segment.
//!
//! # Patients
//! Age is normal with a residence-specific mean (own home 82, else 87; SD 7) truncated to
//! 65..=104 and rounded down to whole years; sex is female with probability 0.72; ASA class
//! 1-4 with residence-specific shares; the length of stay is 3 + a gamma(2, mean 5) number of
//! days, at most 27.
//!
//! # Outcomes with exact margins
//! Each binary outcome has a latent score `s_i = eta_i + e_i` with `e_i` standard logistic and
//!
//! ```text
//! eta_i = b_age (age_i - 85) + b_male [male] + b_res[residence_i] + b_asa (asa_i - 2)
//!         + b_trend (years since window start) + u_m(i),   u_m ~ N(0, sd_m^2)
//! ```
//!
//! Within each margin cell (KTH or usual care, crossed with own home or not) the patients with
//! the highest scores have the event, exactly as many as the cell's published count. This is
//! the latent-variable form of a logistic model with one intercept per cell, so the outcomes
//! are logistic in the covariates while the cell margins are the published ones. 30-day deaths
//! are chosen this way; a fixed number of them die before discharge (in-hospital deaths, who
//! have no discharge date), the others after discharge. 30-day readmissions are then chosen
//! among the patients discharged alive, with readmission days skewed to the first week
//! (seed 003: most readmissions were within 7 days) and never after the death date. Survivors
//! of day 30 may die later (up to the end of follow-up) and may be readmitted after day 30;
//! neither counts in the 30-day outcomes.
//!
//! # Mobility and costs
//! Pre-fracture CAS (0-6) and NMS (0-9) depend on residence; follow-up scores (at three months)
//! are missing for patients who died before then, and are at least the pre-fracture score with
//! a logistic probability that is higher under KTH (no published value). Costs per sector
//! (hospital, municipality, general practitioner, medicine; DKK, surgery to 3 months) are gamma
//! around means that depend on the length of stay, readmission, death, residence and KTH.
//!
//! # Reproducibility
//! The same configuration and seed give the same cohort bit for bit on every platform: the
//! draws come from the simulator's own generator and use only correctly rounded arithmetic
//! (see the [simulator's module docs](crate::sim)), in a fixed order.

mod calibrated;
mod columns;
mod draws;
mod follow_up;
mod margins;
mod patients;

pub use margins::{CellCounts, Margins};

use crate::core::dates::Date;
use crate::core::error::{Error, Result};
use crate::core::rng::Draws;
use crate::data::Cohort;

use draws::{logistic, shuffle};
use margins::CELLS;

/// Residences, in the order of the shares and effects below (the data's labels).
pub const KTH_RESIDENCES: [&str; 5] = [
    "own_home",
    "nursing_home",
    "temporary",
    "respite",
    "rehab_24h",
];
/// Index of `own_home` in [`KTH_RESIDENCES`].
const OWN_HOME: usize = 0;

/// One health cluster of the rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCluster {
    /// Its name, as published (`Fyn`, `Sønderjylland`, `Sydvestjylland`).
    pub name: &'static str,
    /// Its hospital.
    pub hospital: &'static str,
    /// Start of KTH patient intake (published).
    pub rollout_start: Date,
    /// The residences of its target group (published), as indices into [`KTH_RESIDENCES`].
    pub target: &'static [usize],
    /// Its municipalities with their sampling weights.
    pub municipalities: &'static [(&'static str, f64)],
    /// Patients before the rollout start.
    pub before: usize,
    /// KTH patients: after the start, in the target group.
    pub kth: usize,
    /// Usual-care patients after the start, outside the target group.
    pub after_usual: usize,
    /// Chance that a patient's ASA class is recorded one class higher (at most 4) than drawn:
    /// hospitals differ in how they code ASA.
    pub asa_upcoding: f64,
}

/// The coefficients of one latent outcome score (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct LatentScore {
    /// Per year of age above 85.
    pub age: f64,
    /// Men against women.
    pub male: f64,
    /// Per residence, in the order of [`KTH_RESIDENCES`] (own home 0).
    pub residence: [f64; 5],
    /// Per ASA class above 2.
    pub asa: f64,
    /// Per year since the window start (a secular trend).
    pub trend: f64,
    /// SD of the municipality effect.
    pub municipality_sd: f64,
}

/// Mean costs per sector (DKK, surgery to 3 months) and the effect of KTH on them.
#[derive(Debug, Clone, PartialEq)]
pub struct CostMeans {
    /// Hospital: per admission, plus per day of stay, plus per 30-day readmission.
    pub hospital: [f64; 3],
    /// Municipality (care, nursing, training) per residence, for 3 months alive.
    pub municipality: [f64; 5],
    /// General practitioner.
    pub gp: f64,
    /// Medicine.
    pub medicine: f64,
    /// Extra municipal cost of a KTH patient (acute-team visits, training), DKK.
    pub kth_municipality: f64,
    /// Gamma shape of every sector's cost.
    pub shape: f64,
}

/// Configuration of the synthetic KTH rollout cohort.
#[derive(Debug, Clone, PartialEq)]
pub struct KthRollout {
    /// First surgery date.
    pub window_start: Date,
    /// Last surgery date.
    pub window_end: Date,
    /// End of follow-up (deaths and readmissions after it are not known).
    pub follow_up_end: Date,
    /// The health clusters.
    pub clusters: Vec<HealthCluster>,
    /// Residence shares (before allocation to segments).
    pub residence_shares: [f64; 5],
    /// The published margins the outcomes are made to match.
    pub margins: Margins,
    /// Share of the 30-day deaths of each margin cell that happen before discharge (rounded;
    /// moved by at most a few deaths where the published readmission percentages need it).
    pub in_hospital_share: f64,
    /// The 30-day mortality score.
    pub mortality: LatentScore,
    /// The 30-day readmission score.
    pub readmission: LatentScore,
    /// Log-odds of regaining the pre-fracture CAS or NMS under KTH against usual care.
    pub mobility_kth: f64,
    /// Costs.
    pub costs: CostMeans,
}

impl KthRollout {
    /// Checks the configuration: at least one cluster with municipalities, a window that is
    /// not empty and contains every rollout start, follow-up ending after the window and a
    /// year before the last date, shares that are positive and finite.
    pub fn validate(&self) -> Result<()> {
        if self.clusters.is_empty() {
            return Err(Error::invalid(
                "clusters",
                "at least one health cluster is needed",
            ));
        }
        if self.window_end < self.window_start || self.follow_up_end < self.window_end {
            return Err(Error::invalid(
                "window",
                "the window must not be empty and follow-up must end after it",
            ));
        }
        if self.follow_up_end.add_days(366).is_none() {
            return Err(Error::invalid(
                "follow_up_end",
                "follow-up must end at least a year before 9999-12-31 (the last date), so that \
                 every simulated date (discharge, readmission) exists",
            ));
        }
        for c in &self.clusters {
            if c.municipalities.is_empty() || c.target.is_empty() {
                return Err(Error::invalid(
                    "clusters",
                    format!("{}: needs municipalities and a target group", c.name),
                ));
            }
            if c.rollout_start <= self.window_start || c.rollout_start > self.window_end {
                return Err(Error::invalid(
                    "clusters",
                    format!("{}: the rollout start must lie inside the window", c.name),
                ));
            }
            if c.target.iter().any(|&r| r >= KTH_RESIDENCES.len()) {
                return Err(Error::invalid(
                    "clusters",
                    format!("{}: a target residence is out of range", c.name),
                ));
            }
        }
        if self
            .residence_shares
            .iter()
            .any(|s| !(s.is_finite() && *s > 0.0))
        {
            return Err(Error::invalid(
                "residence_shares",
                "shares must be positive",
            ));
        }
        Ok(())
    }

    /// Simulates the cohort (see the [module docs](self)); `seed` fixes every draw.
    pub fn simulate(&self, seed: u64) -> Result<Cohort> {
        self.validate()?;
        let mut draws = Draws::new(seed);
        let n_municipalities: usize = self.clusters.iter().map(|c| c.municipalities.len()).sum();
        // The municipality effects of the mortality score, then of the readmission score.
        let scores = [&self.mortality, &self.readmission];
        let effects = scores.map(|s| {
            (0..n_municipalities)
                .map(|_| draws.normal(0.0, s.municipality_sd))
                .collect::<Vec<f64>>()
        });
        let mut patients = self.draw_patients(&mut draws)?;
        let years: Vec<f64> = patients
            .iter()
            .map(|p| f64::from(p.surgery - self.window_start.days()) / 365.25)
            .collect();
        // Every patient's latent mortality score, then every patient's readmission score.
        let [death_score, readmit_score] = [0, 1].map(|k| {
            patients
                .iter()
                .zip(&years)
                .map(|(p, &t)| {
                    p.eta(scores[k], t) + effects[k][p.municipality] + logistic(&mut draws)
                })
                .collect::<Vec<f64>>()
        });
        let cells = self.cell_counts(&patients)?;
        let members: Vec<Vec<usize>> = (0..CELLS)
            .map(|c| {
                (0..patients.len())
                    .filter(|&i| patients[i].cell() == c)
                    .collect()
            })
            .collect();
        for (cell, counts) in cells.iter().enumerate() {
            let mut dead = top(&members[cell], &death_score, counts.deaths);
            shuffle(&mut dead, &mut draws);
            for (k, &i) in dead.iter().enumerate() {
                let p = &mut patients[i];
                if k < counts.in_hospital {
                    p.in_hospital_death = true;
                    p.death_day = Some(draws.below(p.los));
                } else {
                    p.death_day = Some(p.los + draws.below(31 - p.los));
                }
            }
            let at_risk: Vec<usize> = members[cell]
                .iter()
                .copied()
                .filter(|&i| !patients[i].in_hospital_death)
                .collect();
            for i in top(&at_risk, &readmit_score, counts.readmissions) {
                let p = &mut patients[i];
                let limit = p.death_day.map_or(30, |d| (d - p.los).min(30));
                let u = draws.uniform();
                p.readmission_day = Some(((u * u * f64::from(limit + 1)) as i32).min(limit));
            }
        }
        for (i, p) in patients.iter_mut().enumerate() {
            self.later_events(p, death_score[i], &mut draws);
            self.mobility(p, &mut draws);
            self.cost(p, &mut draws);
        }
        self.cohort_of(&patients)
    }
}

/// The indices of `members` with the `k` highest `scores` (ties by position).
fn top(members: &[usize], scores: &[f64], k: usize) -> Vec<usize> {
    let mut sorted = members.to_vec();
    sorted.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    sorted.truncate(k);
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cohort_has_the_published_design_and_is_seeded() {
        let config = KthRollout::calibrated();
        let a = config.simulate(7).unwrap();
        assert_eq!(a.n_rows(), 2609);
        assert_eq!(a.numeric("kth").unwrap().iter().sum::<f64>(), 524.0);
        assert_eq!(a.levels("municipality").unwrap().len(), 18);
        assert!(a.identical(&config.simulate(7).unwrap()));
        assert!(!a.identical(&config.simulate(8).unwrap()));
    }

    #[test]
    fn invalid_configurations_are_errors() {
        let mut config = KthRollout::calibrated();
        config.clusters[0].rollout_start = Date::from_ymd(2025, 1, 1).unwrap();
        assert!(config.validate().unwrap_err().to_string().contains("Fyn"));
        let mut config = KthRollout::calibrated();
        config.residence_shares[2] = f64::NAN;
        assert!(config.simulate(1).is_err());
        let mut config = KthRollout::calibrated();
        config.follow_up_end = Date::MAX;
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("9999-12-31"));
    }
}
