//! A synthetic cohort of the 11 LKT teams over 24 months from December 2023, for the monitoring
//! example and its tests.
//!
//! **Synthetic.** Only the team names and their baseline volumes are published
//! ([`LKT_TEAMS`]); the case mix, the outcome models, the team differences and the improvements
//! below are made up to look plausible (Danish hip-fracture registry literature: 30-day
//! mortality about 10%, about 72% women, nursing-home residents with about twice the mortality
//! and readmission of home-dwelling patients). No real patient is in it.
//!
//! # Patients
//! Team *t* has a Poisson(`V_t / 12`) number of patients in each month (`V_t` its baseline
//! volume), with surgery dates uniform over the month's days. A patient lives in a nursing home
//! with the team's probability (the rest live at home); age is normal (team mean, +3 years in
//! a nursing home and -1 at home, SD 7) floored and truncated to 65..=104 by redrawing; female
//! with probability 0.72; ASA class 1-4 drawn from residence-specific shares and moved one
//! class up with the team's probability; length of stay `floor(3 + Gamma(2, mean 5))` days, at
//! most 27.
//!
//! # Outcomes
//! Each of the four indicators is a Bernoulli draw with a logistic probability,
//!
//! ```text
//! logit p = b0 + b_age (age - 85) + b_male [male] + b_nh [nursing home] + b_asa (asa - 2)
//!           + offset_t + improvement_t [month >= start_t]
//! ```
//!
//! with the coefficients of [`OUTCOME_MODELS`] and each team's offset and improvement (log odds
//! ratios) per indicator. 30-day deaths come first: 40% of them die in hospital (a death day
//! within the stay, no discharge date), the others between discharge and day 30. 30-day
//! readmission is drawn for patients discharged alive, 0 to 30 days after discharge (the
//! smaller of two uniform days, so most are early) and never after death. Regaining CAS (0-6)
//! and NMS (0-9): the pre-fracture score is drawn from residence-specific shares; a patient who
//! regains it scores the same or one more at follow-up (capped at the maximum), one who does
//! not scores one or two less (at least 0, so a patient at 0 regains by definition). Follow-up
//! scores are missing for 30-day deaths and for 5% of the others (not scored). There are no
//! deaths or readmissions after day 30.
//!
//! # Reproducibility
//! The same settings and seed give the same cohort bit for bit on every platform (the
//! simulator's generator and its own `exp` and `ln`; see [`crate::sim`]). Draws are made team
//! by team, month by month, patient by patient, in the order of the fields above.

use super::teams::{Team, BASELINE_START, LKT_TEAMS};
use super::Indicator;
use crate::core::dates::Date;
use crate::core::error::{Error, Result};
use crate::core::rng::{self as random, Draws};
use crate::data::{Cohort, Column};

/// The seed of the bundled synthetic cohort (`data-samples/lkt_synthetic.csv`).
pub const DEFAULT_SEED: u64 = 2215;

/// Coefficients of one indicator's logistic model (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutcomeModel {
    /// Intercept (a home-dwelling woman of 85 with ASA 2, offset 0).
    pub intercept: f64,
    /// Per year of age above 85.
    pub age: f64,
    /// Male sex.
    pub male: f64,
    /// Living in a nursing home.
    pub nursing_home: f64,
    /// Per ASA class above 2.
    pub asa: f64,
}

/// The outcome models in the order of [`Indicator::ALL`]: readmission (about 13%), mortality
/// (about 10%), regained CAS (about 55%) and regained NMS (about 45%).
pub const OUTCOME_MODELS: [OutcomeModel; 4] = [
    OutcomeModel {
        intercept: -2.25,
        age: 0.02,
        male: 0.25,
        nursing_home: 0.55,
        asa: 0.30,
    },
    OutcomeModel {
        intercept: -2.95,
        age: 0.05,
        male: 0.45,
        nursing_home: 0.75,
        asa: 0.45,
    },
    OutcomeModel {
        intercept: 0.30,
        age: -0.04,
        male: 0.0,
        nursing_home: -0.60,
        asa: -0.30,
    },
    OutcomeModel {
        intercept: -0.15,
        age: -0.04,
        male: 0.0,
        nursing_home: -0.60,
        asa: -0.30,
    },
];

/// A team's improvement: from month `start` (1-based; month 1 is December 2023) its
/// indicators' log odds change by `log_odds_ratios` (in the order of [`Indicator::ALL`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Improvement {
    /// The first month with the improvement (1-based).
    pub start: u32,
    /// Log odds ratios for readmission, mortality, regained CAS and regained NMS.
    pub log_odds_ratios: [f64; 4],
}

/// One team's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamSettings {
    /// The team (name and baseline volume per year).
    pub team: Team,
    /// Probability of living in a nursing home.
    pub nursing_home: f64,
    /// Mean age (years) before the residence shift.
    pub mean_age: f64,
    /// Probability that the ASA class is one higher than drawn.
    pub asa_up: f64,
    /// Log odds offsets of the four indicators (differences in care beyond case mix).
    pub offsets: [f64; 4],
    /// The team's improvement, if it has one.
    pub improvement: Option<Improvement>,
}

/// The settings of the synthetic LKT cohort.
#[derive(Debug, Clone, PartialEq)]
pub struct LktSynthetic {
    /// The first month, `(year, month)`.
    pub start: (i32, u32),
    /// Number of months.
    pub months: u32,
    /// The teams.
    pub teams: Vec<TeamSettings>,
}

/// ASA class shares (1-4) at home and in a nursing home.
const ASA_SHARES: [[f64; 4]; 2] = [[0.06, 0.42, 0.45, 0.07], [0.01, 0.20, 0.62, 0.17]];
/// Pre-fracture CAS shares (0-6) at home and in a nursing home.
const CAS_SHARES: [[f64; 7]; 2] = [
    [0.01, 0.01, 0.02, 0.04, 0.07, 0.15, 0.70],
    [0.08, 0.10, 0.15, 0.20, 0.20, 0.15, 0.12],
];
/// Pre-fracture NMS shares (0-9) at home and in a nursing home.
const NMS_SHARES: [[f64; 10]; 2] = [
    [0.01, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.15, 0.18, 0.35],
    [0.15, 0.15, 0.15, 0.15, 0.12, 0.10, 0.08, 0.05, 0.03, 0.02],
];
/// Share of 30-day deaths that happen before discharge.
const IN_HOSPITAL_SHARE: f64 = 0.4;
/// Share of surviving patients whose mobility is not scored at follow-up.
const NOT_SCORED: f64 = 0.05;

/// Team settings: nursing-home share, mean age, ASA up-shift, offsets and improvement.
type Row = (f64, f64, f64, [f64; 4], Option<(u32, [f64; 4])>);

/// The made-up case mix, offsets and improvements of the teams, in the order of
/// [`LKT_TEAMS`]: Randers improves from month 7 (June 2024), Slagelse from month 10 and
/// Sydhavsøerne from month 13 (September and December 2024; readmission odds down, regained mobility up); Byen (Region H)
/// has a truly higher readmission risk than its case mix explains, while Bornholm's and
/// Sydhavsøerne's higher crude risks come from older, frailer patients.
const TEAM_ROWS: [Row; 11] = [
    (
        0.22,
        84.5,
        0.10,
        [0.05, 0.0, 0.0, 0.0],
        Some((7, [-1.0, -0.2, 0.8, 0.7])),
    ),
    (0.18, 84.0, 0.05, [-0.10, -0.05, 0.10, 0.05], None),
    (0.25, 85.0, 0.15, [0.10, 0.05, -0.10, 0.0], None),
    (
        0.30,
        85.5,
        0.20,
        [0.0, 0.05, -0.05, -0.10],
        Some((10, [-0.9, 0.0, 0.9, 0.8])),
    ),
    (0.20, 84.8, 0.10, [-0.05, 0.0, 0.05, 0.10], None),
    (
        0.33,
        86.0,
        0.25,
        [0.10, 0.10, -0.10, -0.05],
        Some((13, [-1.0, -0.25, 0.7, 0.6])),
    ),
    (0.15, 83.5, 0.05, [0.50, 0.0, 0.0, 0.05], None),
    (0.17, 84.0, 0.08, [-0.15, -0.10, 0.05, 0.0], None),
    (0.21, 84.6, 0.12, [0.0, 0.05, -0.15, -0.10], None),
    (0.24, 85.2, 0.12, [0.05, 0.0, 0.0, 0.0], None),
    (0.35, 86.5, 0.20, [-0.10, 0.05, 0.0, -0.05], None),
];

impl Default for LktSynthetic {
    /// The 11 teams from December 2023 over 24 months with the settings of the module docs.
    fn default() -> Self {
        let teams = LKT_TEAMS
            .iter()
            .zip(TEAM_ROWS)
            .map(
                |(team, (nursing_home, mean_age, asa_up, offsets, improvement))| TeamSettings {
                    team: *team,
                    nursing_home,
                    mean_age,
                    asa_up,
                    offsets,
                    improvement: improvement.map(|(start, log_odds_ratios)| Improvement {
                        start,
                        log_odds_ratios,
                    }),
                },
            )
            .collect();
        LktSynthetic {
            start: BASELINE_START,
            months: 24,
            teams,
        }
    }
}

/// One simulated patient.
#[derive(Debug, Clone)]
struct Patient {
    team: usize,
    surgery: i32,
    age: f64,
    male: bool,
    nursing_home: bool,
    asa: u32,
    los: i32,
    /// Days from surgery to death (30-day deaths only).
    death_day: Option<i32>,
    in_hospital_death: bool,
    /// Days from discharge to readmission.
    readmission_day: Option<i32>,
    cas: [Option<u32>; 2],
    nms: [Option<u32>; 2],
}

impl LktSynthetic {
    /// Checks the settings: at least one team and month, probabilities in `[0, 1]`, finite
    /// coefficients, improvement months within the period.
    pub fn validate(&self) -> Result<()> {
        if self.teams.is_empty() {
            return Err(Error::too_few("the synthetic LKT cohort", "teams", 0, 1));
        }
        if self.months == 0 {
            return Err(Error::too_few("the synthetic LKT cohort", "months", 0, 1));
        }
        for t in &self.teams {
            let name = t.team.name;
            let probability = |p: f64| (0.0..=1.0).contains(&p);
            if !probability(t.nursing_home) || !probability(t.asa_up) {
                return Err(Error::invalid(
                    name,
                    "the nursing-home share and the ASA up-shift must be probabilities in [0, 1]",
                ));
            }
            let improvement = t.improvement.map_or([0.0; 4], |i| i.log_odds_ratios);
            if !t.mean_age.is_finite()
                || !t.offsets.iter().chain(&improvement).all(|x| x.is_finite())
            {
                return Err(Error::invalid(
                    name,
                    "mean age, offsets and improvements must be finite",
                ));
            }
            if let Some(i) = t.improvement {
                if i.start == 0 || i.start > self.months {
                    return Err(Error::invalid(
                        name,
                        format!(
                            "improvement month {} is outside 1..={}",
                            i.start, self.months
                        ),
                    ));
                }
            }
        }
        Date::from_ymd(self.start.0, self.start.1, 1)
            .and_then(|d| d.add_months(self.months))
            .map(|_| ())
            .ok_or_else(|| Error::invalid("start", "the months are not valid calendar months"))
    }

    /// Simulates the cohort with `seed` (see the [module docs](self)). Columns: `id`, `team`,
    /// `surgery_date`, `age`, `sex` (F/M), `residence` (own_home, nursing_home), `asa`,
    /// `discharge_date`, `death_date`, `readmission_date`, `cas_pre`, `cas_followup`,
    /// `nms_pre`, `nms_followup`, sorted by surgery date and team.
    pub fn simulate(&self, seed: u64) -> Result<Cohort> {
        self.validate()?;
        let mut draws = Draws::new(seed);
        let mut patients = Vec::new();
        let first = Date::from_ymd(self.start.0, self.start.1, 1)
            .ok_or_else(|| Error::invalid("start", "not a calendar month"))?;
        for (t, settings) in self.teams.iter().enumerate() {
            for month in 0..self.months {
                let (from, to) = month_days(first, month)?;
                let n = draws.poisson(f64::from(settings.team.baseline_patients) / 12.0);
                for _ in 0..n {
                    let surgery = from + draws.below(to - from);
                    patients.push(self.patient(t, month + 1, surgery, &mut draws));
                }
            }
        }
        if patients.is_empty() {
            return Err(Error::too_few("the synthetic LKT cohort", "patients", 0, 1));
        }
        patients.sort_by_key(|p| (p.surgery, p.team));
        self.cohort_of(&patients)
    }

    /// One patient of team `t` operated on day `surgery` of month `month` (1-based).
    fn patient(&self, t: usize, month: u32, surgery: i32, draws: &mut Draws) -> Patient {
        let s = &self.teams[t];
        let nursing_home = draws.bernoulli(s.nursing_home);
        let home = usize::from(nursing_home);
        let mean_age = s.mean_age + if nursing_home { 3.0 } else { -1.0 };
        let age = loop {
            let a = draws.normal(mean_age, 7.0).floor();
            if (65.0..=104.0).contains(&a) {
                break a;
            }
        };
        let male = !draws.bernoulli(0.72);
        let asa = (1
            + draws.categorical(&ASA_SHARES[home]) as u32
            + u32::from(draws.bernoulli(s.asa_up)))
        .min(4);
        let los = (3.0 + draws.gamma(2.0, 5.0)).floor().min(27.0) as i32;
        let improving = s.improvement.filter(|i| month >= i.start);
        let chance = |indicator: Indicator| {
            let k = indicator as usize;
            let m = &OUTCOME_MODELS[k];
            random::expit(
                m.intercept
                    + m.age * (age - 85.0)
                    + if male { m.male } else { 0.0 }
                    + if nursing_home { m.nursing_home } else { 0.0 }
                    + m.asa * (f64::from(asa) - 2.0)
                    + s.offsets[k]
                    + improving.map_or(0.0, |i| i.log_odds_ratios[k]),
            )
        };
        let mut p = Patient {
            team: t,
            surgery,
            age,
            male,
            nursing_home,
            asa,
            los,
            death_day: None,
            in_hospital_death: false,
            readmission_day: None,
            cas: [None; 2],
            nms: [None; 2],
        };
        if draws.bernoulli(chance(Indicator::Mortality)) {
            p.in_hospital_death = draws.bernoulli(IN_HOSPITAL_SHARE);
            p.death_day = Some(if p.in_hospital_death {
                draws.below(los)
            } else {
                los + 1 + draws.below(30 - los)
            });
        }
        if !p.in_hospital_death && draws.bernoulli(chance(Indicator::Readmission)) {
            let day = draws.below(31).min(draws.below(31));
            p.readmission_day = Some(p.death_day.map_or(day, |d| day.min(d - los)));
        }
        let scored = p.death_day.is_none();
        let mut score = |shares: &[f64], max: u32, regains: f64| {
            let pre = draws.categorical(shares) as u32;
            let regained = draws.bernoulli(regains);
            let up = draws.bernoulli(0.2);
            let step = 1 + draws.below(2) as u32;
            let missing = draws.bernoulli(NOT_SCORED);
            let follow_up = if regained {
                (pre + u32::from(up)).min(max)
            } else {
                pre.saturating_sub(step)
            };
            [Some(pre), (scored && !missing).then_some(follow_up)]
        };
        p.cas = score(&CAS_SHARES[home], 6, chance(Indicator::RegainedCas));
        p.nms = score(&NMS_SHARES[home], 9, chance(Indicator::RegainedNms));
        p
    }

    /// The cohort of the simulated patients (columns as in [`LktSynthetic::simulate`]).
    fn cohort_of(&self, patients: &[Patient]) -> Result<Cohort> {
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
                "team".into(),
                text(&|p| Some(self.teams[p.team].team.name.into()))?,
            ),
            ("surgery_date".into(), text(&|p| day(p.surgery))?),
            ("age".into(), number(&|p| p.age)),
            (
                "sex".into(),
                text(&|p| Some(if p.male { "M" } else { "F" }.into()))?,
            ),
            (
                "residence".into(),
                text(&|p| {
                    Some(
                        if p.nursing_home {
                            "nursing_home"
                        } else {
                            "own_home"
                        }
                        .into(),
                    )
                })?,
            ),
            ("asa".into(), number(&|p| f64::from(p.asa))),
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
        ])
    }
}

/// The first day of month `month` (0-based) after `first` and the first day of the next, as
/// day numbers.
fn month_days(first: Date, month: u32) -> Result<(i32, i32)> {
    let at = |m: u32| {
        first
            .add_months(m)
            .map(Date::days)
            .ok_or_else(|| Error::invalid("start", "the months are not valid calendar months"))
    };
    Ok((at(month)?, at(month + 1)?))
}
