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
//! (see the [module docs](super)), in a fixed order.

use crate::core::dates::Date;
use crate::core::error::{Error, Result};
use crate::data::{Cohort, Column};

use crate::core::rng::{self as random, Draws};

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
/// Patients per margin cell index: (KTH, own home).
const CELLS: usize = 4;

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

/// Published-margin counts of one cell (KTH or usual care, crossed with own home or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CellCounts {
    /// Patients.
    pub patients: usize,
    /// Deaths within 30 days of surgery.
    pub deaths: usize,
    /// Of those, deaths before discharge.
    pub in_hospital: usize,
    /// Readmissions within 30 days of discharge, among the patients discharged alive.
    pub readmissions: usize,
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
    Date::from_ymd(y, m, d).unwrap_or(Date::from_days(0))
}

impl KthRollout {
    /// The configuration that `data-samples/kth_rollout_synthetic.csv` was generated with
    /// (seed [`KthRollout::SEED`]). The design and the margins are the published ones; the
    /// latent-score trends and the KTH cost were calibrated so that the adjusted analysis of
    /// [`crate::studies::kth_rollout`] reproduces the published OR, RR, NNT and cost per saved
    /// life (the calibration is [`crate::studies::kth_rollout::calibrate`]).
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

/// The published margins of the evaluation (webinar of 5 November 2025): 30-day deaths as
/// counts, the other margins as percentages to one decimal.
#[derive(Debug, Clone, PartialEq)]
pub struct Margins {
    /// 30-day deaths of the 524 KTH patients (8.0%).
    pub kth_deaths: usize,
    /// 30-day deaths of the 2,085 usual-care patients (11.9%).
    pub usual_deaths: usize,
    /// 30-day readmission of KTH patients discharged alive, %.
    pub kth_readmission: f64,
    /// 30-day readmission of usual-care patients discharged alive, %.
    pub usual_readmission: f64,
    /// 30-day mortality of KTH patients living in their own home, %.
    pub own_home_kth_mortality: f64,
    /// 30-day mortality of usual-care patients living in their own home, %.
    pub own_home_usual_mortality: f64,
    /// 30-day readmission of KTH patients living in their own home, %.
    pub own_home_kth_readmission: f64,
    /// 30-day readmission of usual-care patients living in their own home, %.
    pub own_home_usual_readmission: f64,
}

impl Margins {
    /// The published values.
    pub fn published() -> Margins {
        Margins {
            kth_deaths: 42,
            usual_deaths: 248,
            kth_readmission: 18.6,
            usual_readmission: 13.6,
            own_home_kth_mortality: 6.3,
            own_home_usual_mortality: 11.5,
            own_home_kth_readmission: 18.3,
            own_home_usual_readmission: 12.9,
        }
    }
}

/// Whether `events / n`, as a percentage rounded half away from zero to one decimal, is `pct`.
fn rounds_to(events: usize, n: usize, pct: f64) -> bool {
    n > 0 && (2000 * events + n) / (2 * n) == (pct * 10.0).round() as usize
}

/// The event count nearest `pct` % of `n` that rounds to `pct`, if any.
fn count_for(pct: f64, n: usize) -> Option<usize> {
    let target = pct / 100.0 * n as f64;
    (0..=n).filter(|&k| rounds_to(k, n, pct)).min_by(|&a, &b| {
        (a as f64 - target)
            .abs()
            .total_cmp(&(b as f64 - target).abs())
    })
}

/// The margin counts of one treatment group, split into own home (`[0]`) and other (`[1]`).
#[allow(clippy::too_many_arguments)]
fn group_counts(
    group: &str,
    patients: [usize; 2],
    deaths: usize,
    own_mortality: f64,
    readmission: f64,
    own_readmission: f64,
    in_hospital_share: f64,
) -> Result<[CellCounts; 2]> {
    let fail = |what: &str| {
        Error::invalid(
            "margins",
            format!("{group}: no whole number of patients gives the published {what}"),
        )
    };
    let own_deaths =
        count_for(own_mortality, patients[0]).ok_or_else(|| fail("own-home mortality"))?;
    let other_deaths = deaths
        .checked_sub(own_deaths)
        .filter(|&d| d <= patients[1])
        .ok_or_else(|| fail("mortality split"))?;
    let start = [own_deaths, other_deaths].map(|d| (d as f64 * in_hospital_share).round() as i64);
    // In-hospital deaths nearest the share for which both readmission percentages exist.
    let mut offsets: Vec<(i64, i64)> = (-4..=4)
        .flat_map(|a| (-4..=4).map(move |b| (a, b)))
        .collect();
    offsets.sort_by_key(|&(a, b)| (a.abs() + b.abs(), a, b));
    for (a, b) in offsets {
        let h = [start[0] + a, start[1] + b];
        if h[0] < 0 || h[1] < 0 || h[0] as usize > own_deaths || h[1] as usize > other_deaths {
            continue;
        }
        let at_risk = [patients[0] - h[0] as usize, patients[1] - h[1] as usize];
        let Some(own) = count_for(own_readmission, at_risk[0]) else {
            continue;
        };
        let Some(total) = count_for(readmission, at_risk[0] + at_risk[1]) else {
            continue;
        };
        if total < own || total - own > at_risk[1] {
            continue;
        }
        return Ok([
            CellCounts {
                patients: patients[0],
                deaths: own_deaths,
                in_hospital: h[0] as usize,
                readmissions: own,
            },
            CellCounts {
                patients: patients[1],
                deaths: other_deaths,
                in_hospital: h[1] as usize,
                readmissions: total - own,
            },
        ]);
    }
    Err(fail("readmission percentages"))
}

/// ASA class shares (1-4) for own-home patients and for the others.
const ASA_SHARES: [[f64; 4]; 2] = [[0.06, 0.42, 0.45, 0.07], [0.01, 0.20, 0.62, 0.17]];
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

/// One simulated patient.
#[derive(Debug, Clone, Default)]
struct Patient {
    cluster: usize,
    municipality: usize,
    surgery: i32,
    kth: bool,
    age: f64,
    male: bool,
    residence: usize,
    asa: usize,
    los: i32,
    /// Days from surgery to death, if known by the end of follow-up.
    death_day: Option<i32>,
    /// Days from discharge to the first readmission, if any.
    readmission_day: Option<i32>,
    in_hospital_death: bool,
    cas: [Option<u32>; 2],
    nms: [Option<u32>; 2],
    costs: [f64; 4],
}

impl Patient {
    /// Margin cell: 0 KTH own home, 1 KTH other, 2 usual own home, 3 usual other.
    fn cell(&self) -> usize {
        2 * usize::from(!self.kth) + usize::from(self.residence != OWN_HOME)
    }

    /// Latent linear predictor (without the municipality effect).
    fn eta(&self, s: &LatentScore, years: f64) -> f64 {
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

/// A random permutation of `items` (Fisher-Yates).
fn shuffle<T>(items: &mut [T], draws: &mut Draws) {
    for i in (1..items.len()).rev() {
        let j = ((draws.uniform() * (i + 1) as f64) as usize).min(i);
        items.swap(i, j);
    }
}

/// A whole number uniform on `0..n` (n >= 1).
fn below(draws: &mut Draws, n: i32) -> i32 {
    ((draws.uniform() * f64::from(n)) as i32).min(n - 1)
}

/// A standard logistic deviate.
fn logistic(draws: &mut Draws) -> f64 {
    let u = draws.uniform();
    random::ln(u / (1.0 - u))
}

/// `1 / (1 + e^-x)` with the simulator's own `exp`.
fn expit(x: f64) -> f64 {
    1.0 / (1.0 + random::exp(-x))
}

/// The indices of `members` with the `k` highest `scores` (ties by position).
fn top(members: &[usize], scores: &[f64], k: usize) -> Vec<usize> {
    let mut sorted = members.to_vec();
    sorted.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    sorted.truncate(k);
    sorted
}

impl KthRollout {
    /// Checks the configuration: at least one cluster with municipalities, a window that is
    /// not empty and contains every rollout start, follow-up ending after the window, shares
    /// that are positive and finite.
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
        let u_death: Vec<f64> = (0..n_municipalities)
            .map(|_| draws.normal(0.0, self.mortality.municipality_sd))
            .collect();
        let u_readmit: Vec<f64> = (0..n_municipalities)
            .map(|_| draws.normal(0.0, self.readmission.municipality_sd))
            .collect();
        let mut patients = self.draw_patients(&mut draws)?;
        let years: Vec<f64> = patients
            .iter()
            .map(|p| f64::from(p.surgery - self.window_start.days()) / 365.25)
            .collect();
        let death_score: Vec<f64> = patients
            .iter()
            .zip(&years)
            .map(|(p, &t)| {
                p.eta(&self.mortality, t) + u_death[p.municipality] + logistic(&mut draws)
            })
            .collect();
        let readmit_score: Vec<f64> = patients
            .iter()
            .zip(&years)
            .map(|(p, &t)| {
                p.eta(&self.readmission, t) + u_readmit[p.municipality] + logistic(&mut draws)
            })
            .collect();
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
                    p.death_day = Some(below(&mut draws, p.los));
                } else {
                    p.death_day = Some(p.los + below(&mut draws, 31 - p.los));
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

    /// The margin counts of the four cells for these patients.
    fn cell_counts(&self, patients: &[Patient]) -> Result<[CellCounts; CELLS]> {
        let mut n = [0usize; CELLS];
        for p in patients {
            n[p.cell()] += 1;
        }
        let m = &self.margins;
        let kth = group_counts(
            "KTH",
            [n[0], n[1]],
            m.kth_deaths,
            m.own_home_kth_mortality,
            m.kth_readmission,
            m.own_home_kth_readmission,
            self.in_hospital_share,
        )?;
        let usual = group_counts(
            "usual care",
            [n[2], n[3]],
            m.usual_deaths,
            m.own_home_usual_mortality,
            m.usual_readmission,
            m.own_home_usual_readmission,
            self.in_hospital_share,
        )?;
        Ok([kth[0], kth[1], usual[0], usual[1]])
    }

    /// The patients of every cluster and segment, with their covariates.
    fn draw_patients(&self, draws: &mut Draws) -> Result<Vec<Patient>> {
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
                        surgery: from + below(draws, to - from),
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

impl KthRollout {
    /// Deaths after day 30 and readmissions after day 30 of discharge, known only up to the
    /// end of follow-up.
    fn later_events(&self, p: &mut Patient, death_score: f64, draws: &mut Draws) {
        let last_day = self.follow_up_end.days() - p.surgery;
        if p.death_day.is_none() && draws.bernoulli(0.7 * expit(death_score - 2.5)) {
            // Not before a readmission within 30 days of discharge.
            let readmitted = p.readmission_day.map_or(0, |r| p.los + r);
            let day = (31 + below(draws, 335)).max(readmitted);
            p.death_day = (day <= last_day).then_some(day);
        }
        if !p.in_hospital_death && p.readmission_day.is_none() && draws.bernoulli(0.1) {
            let day = 31 + below(draws, 60);
            let alive = p.death_day.is_none_or(|d| p.los + day <= d);
            p.readmission_day = (alive && p.los + day <= last_day).then_some(day);
        }
    }

    /// Pre-fracture and three-month CAS and NMS.
    fn mobility(&self, p: &mut Patient, draws: &mut Draws) {
        let home = usize::from(p.residence != OWN_HOME);
        let followed = p.death_day.is_none_or(|d| d > FOLLOW_UP_DAYS);
        let chance = expit(
            0.3 - 0.04 * (p.age - 85.0) - 0.3 * (p.asa as f64 - 2.0)
                + if p.kth { self.mobility_kth } else { 0.0 },
        );
        let mut score = |shares: &[f64], max: u32| {
            let pre = draws.categorical(shares) as u32;
            let lost = draws.bernoulli(0.05);
            let regained = draws.bernoulli(chance);
            let step = 1 + below(draws, 2) as u32;
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
    fn cost(&self, p: &mut Patient, draws: &mut Draws) {
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

    /// The cohort of the simulated patients (columns as in `data-samples/README.md`).
    fn cohort_of(&self, patients: &[Patient]) -> Result<Cohort> {
        let municipality_names: Vec<&str> = self
            .clusters
            .iter()
            .flat_map(|c| c.municipalities.iter().map(|m| m.0))
            .collect();
        let day = |d: i32| Some(Date::from_days(d).to_string());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_that_round_to_a_published_percentage() {
        assert_eq!(count_for(6.3, 318), Some(20)); // 6.29%
        assert_eq!(count_for(6.3, 311), None); // 19 -> 6.11%, 20 -> 6.43%
        assert_eq!(count_for(18.6, 524), None); // why readmission is among the discharged
        assert_eq!(count_for(18.6, 521), Some(97));
        assert!(rounds_to(1, 16, 6.3)); // 6.25 rounds half away from zero
        assert!(!rounds_to(0, 0, 0.0));
    }

    #[test]
    fn impossible_margins_are_an_error_naming_the_group() {
        let err = group_counts("KTH", [311, 213], 42, 6.3, 18.6, 18.3, 0.1).unwrap_err();
        assert!(err.to_string().contains("KTH") && err.to_string().contains("own-home"));
        let ok = group_counts("KTH", [318, 206], 42, 6.3, 18.6, 18.3, 0.1).unwrap();
        assert_eq!(ok[0].deaths + ok[1].deaths, 42);
        let at_risk = 524 - ok[0].in_hospital - ok[1].in_hospital;
        assert!(rounds_to(
            ok[0].readmissions + ok[1].readmissions,
            at_risk,
            18.6
        ));
    }

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
        config.clusters[0].rollout_start = date(2025, 1, 1);
        assert!(config.validate().unwrap_err().to_string().contains("Fyn"));
        let mut config = KthRollout::calibrated();
        config.residence_shares[2] = f64::NAN;
        assert!(config.simulate(1).is_err());
    }
}
