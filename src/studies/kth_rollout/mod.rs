//! The evaluation of the 2023-2025 regional rollout of Kom Trygt Hjem (KTH) in three southern
//! Danish health clusters, end to end: from patient-level dates to the published table.
//!
//! Published (webinar of 5 November 2025, [`SOURCE`]): 2,609 patients aged 65+ operated for a
//! hip fracture on Funen, in Sønderjylland and in Sydvestjylland, 524 on the KTH pathway and
//! 2,085 in usual care; 30-day mortality 8.0% vs 11.9%, OR 0.60 (95% CI 0.37-0.85); 30-day
//! readmission 18.6% vs 13.6%, RR 1.28 (1.05-1.56); in patients living in their own home,
//! mortality 6.3% vs 11.5% and readmission 18.3% vs 12.9%; one life saved for every 19 patients,
//! at about 161,060 DKK per life saved.
//!
//! # The analysis
//! [`analyse`] runs, on the patient file (columns as in `data-samples/README.md`):
//! 1. [`prepare`]: outcomes from dates ([`crate::outcomes`]), the total cost, quarter, own home.
//! 2. Mortality: the mixed-effects logistic model [`MORTALITY`], `logit P(death30) = x'beta + u_m`
//!    with a random intercept `u_m ~ N(0, s^2)` per municipality (Laplace); the OR is
//!    `exp(beta_kth)` with its Wald interval `exp(b -/+ 1.96 se)` and its profile-likelihood
//!    interval.
//! 3. Readmission: the relative risk from the Poisson mixed model [`READMISSION`]
//!    (`log E(readmit30) = x'beta + u_m`) with the cluster sandwich variance (robust to the
//!    Poisson variance being wrong for a 0/1 outcome); `RR = exp(beta_kth)`, Wald interval.
//! 4. Own-home patients (the published subgroup): the mortality model [`OWN_HOME_MORTALITY`]
//!    and the linear mixed cost model [`OWN_HOME_COST`] on them, standardised over them: risks
//!    if all and if none had KTH, averaged over the municipality effects; the risk difference,
//!    the NNT = 1 / (deaths avoided per patient), the incremental cost, and the cost per saved
//!    life ICER = incremental cost / deaths avoided per patient, with a joint cluster bootstrap.
//! 5. The whole cohort's standardised NNT, with the lower bound that no logistic model with the
//!    published OR and risks can go below ([`nnt_bound`]), and the same models adjusted for the
//!    calendar quarter as well (treatment is partly confounded with time in a staggered rollout).
//! 6. The LKT indicators: regained CAS and NMS, each by the logistic mixed model of mortality's
//!    form, with the standardised difference in the share regaining.
//!
//! # What "reproduced" means
//! The registry data are not public. On the synthetic cohort of [`crate::studies::kth_rollout::synthetic`],
//! whose margins are the published ones and whose few free parameters were calibrated
//! ([`calibrate`]), the same pipeline a researcher runs on the real file gives numbers that
//! agree with the published ones within stated tolerances ([`crate::studies::Tolerance`]):
//! percentages to their printed decimals, point estimates within 2%, interval bounds within
//! 0.05, the NNT within 1 and the cost per saved life within 2%. That shows the pipeline and the
//! published numbers are consistent with each other; it is not evidence about the real
//! patients.

mod calibrate;
mod estimates;
mod prepare;
mod published;
mod report;
pub mod synthetic;

pub use calibrate::{calibrate, Calibration};
pub use estimates::estimates;
pub use prepare::{prepare, DerivationReports, Prepared, COST_SECTORS};
pub use published::{reproduction_table, SOURCE};
pub use report::{forest, report_files, write_report};

use serde::Serialize;

use crate::core::dates::Date;
use crate::core::error::{Error, Result};
use crate::data::Cohort;
use crate::design::{Design, Period};
use crate::effects::cost_effectiveness::{
    cost_effectiveness, CostEffectiveness, CostEffectivenessSpec,
};
use crate::effects::crude::{Estimate, TwoByTwo};
use crate::effects::standardise::{MarginalEffects, Standardisation};
use crate::models::coef_table::CoefRow;
use crate::models::gee::{Gee, WorkingCorrelation};
use crate::models::glm::{Family, Link};
use crate::models::glmm::{Glmm, GlmmFit};
use crate::models::lmm::Lmm;
use crate::models::vcov::VcovKind;
use crate::models::Fitted;
use crate::outcomes::columns::read_dates;
use crate::report::figures::RolloutDiagram;

use super::ReproductionTable;

/// The mortality model.
pub const MORTALITY: &str =
    "death30 ~ kth + age + sex + residence + factor(asa) + (1 | municipality)";
/// The readmission model (Poisson family, log link, cluster sandwich).
pub const READMISSION: &str =
    "readmit30 ~ kth + age + sex + residence + factor(asa) + (1 | municipality)";
/// The mortality model of own-home patients (residence is constant there).
pub const OWN_HOME_MORTALITY: &str = "death30 ~ kth + age + sex + factor(asa) + (1 | municipality)";
/// The cost model of own-home patients (linear mixed model, REML).
pub const OWN_HOME_COST: &str = "cost ~ kth + age + sex + factor(asa) + (1 | municipality)";

/// How to run the analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Joint cluster-bootstrap replicates for the cost-effectiveness (default 1,000).
    pub bootstrap: usize,
    /// Seed of the bootstrap (default 1).
    pub seed: u64,
    /// End of follow-up of the file (default none: every patient followed for 30 days).
    pub follow_up_end: Option<Date>,
    /// Show the bootstrap's progress on stderr (default off).
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bootstrap: 1000,
            seed: 1,
            follow_up_end: None,
            progress: false,
        }
    }
}

/// One model's treatment effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TreatmentEffect {
    /// The model formula.
    pub formula: String,
    /// What the ratio is (`odds ratio`, `relative risk`).
    pub measure: String,
    /// The ratio with its Wald interval.
    pub ratio: Estimate,
    /// The profile-likelihood interval of the ratio, where computed.
    pub profile: Option<Estimate>,
    /// The coefficient row of `kth` (log scale).
    pub coefficient: CoefRow,
    /// The municipality SD.
    pub municipality_sd: f64,
    /// Patients used.
    pub patients: usize,
    /// Whether the fit converged.
    pub converged: bool,
    /// Whether the municipality SD is estimated at 0.
    pub singular: bool,
    /// The variance estimator.
    pub vcov: VcovKind,
}

impl TreatmentEffect {
    /// The model in words with its formula: `logistic mixed model (Laplace): death30 ~ ...`
    /// for an odds ratio, `Poisson mixed model (Laplace): ...` for a relative risk.
    pub fn model(&self) -> String {
        let family = if self.measure == "relative risk" {
            "Poisson"
        } else {
            "logistic"
        };
        format!("{family} mixed model (Laplace): {}", self.formula)
    }

    /// How the ratio and its Wald interval are computed: `exp` of the coefficient of `kth` and
    /// of its Wald limits, with the variance estimator.
    pub fn wald_method(&self) -> String {
        format!(
            "exp(coefficient of kth); Wald CI, {} variance",
            self.vcov.describe()
        )
    }
}

/// A population-averaged effect of KTH: the marginal model of the mixed model's fixed part,
/// fitted by GEE with an exchangeable working correlation within municipalities (MAEE) and the
/// Kauermann-Carroll variance with t on G - p df (`models::gee`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PopulationAveraged {
    /// The mean model.
    pub formula: String,
    /// `odds ratio` (logit link) or `relative risk` (log link).
    pub measure: String,
    /// The ratio with its t interval.
    pub ratio: Estimate,
    /// Degrees of freedom of the t reference (municipalities less mean parameters).
    pub df: f64,
    /// The exchangeable correlation within a municipality.
    pub correlation: f64,
}

/// Raw counts and percentages of one outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Crude {
    /// KTH (events, patients).
    pub kth: (usize, usize),
    /// Usual care (events, patients).
    pub usual: (usize, usize),
}

impl Crude {
    /// KTH risk, %.
    pub fn kth_percent(&self) -> f64 {
        100.0 * self.kth.0 as f64 / self.kth.1 as f64
    }
    /// Usual-care risk, %.
    pub fn usual_percent(&self) -> f64 {
        100.0 * self.usual.0 as f64 / self.usual.1 as f64
    }

    /// The counts as a 2x2 table, KTH as the treated group; errors as [`TwoByTwo::new`].
    pub fn table(&self) -> Result<TwoByTwo> {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        TwoByTwo::new(
            count(self.kth.0),
            count(self.kth.1),
            count(self.usual.0),
            count(self.usual.1),
        )
    }
}

/// Own-home patients: standardised mortality and the cost per saved life.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OwnHome {
    /// Mortality model's treatment effect.
    pub mortality: TreatmentEffect,
    /// Standardised mortality (risks, RR, RD, NNT).
    pub marginal: MarginalEffects,
    /// Incremental cost, deaths avoided, ICER (cost per saved life) with bootstrap intervals.
    pub cost_effectiveness: CostEffectiveness,
}

/// A regained-mobility indicator (LKT).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mobility {
    /// `cas_regained` or `nms_regained`.
    pub outcome: String,
    /// Crude counts of patients regaining.
    pub crude: Crude,
    /// The logistic mixed model's odds ratio.
    pub effect: TreatmentEffect,
    /// The standardised share regaining, and its difference.
    pub marginal: MarginalEffects,
}

/// Everything [`analyse`] computes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// What the derivations found.
    pub data: DerivationReports,
    /// 30-day mortality, crude.
    pub mortality_crude: Crude,
    /// 30-day readmission among patients discharged alive, crude.
    pub readmission_crude: Crude,
    /// Own-home 30-day mortality, crude.
    pub own_home_mortality_crude: Crude,
    /// Own-home 30-day readmission, crude.
    pub own_home_readmission_crude: Crude,
    /// The adjusted OR of 30-day mortality.
    pub mortality: TreatmentEffect,
    /// The adjusted RR of 30-day readmission.
    pub readmission: TreatmentEffect,
    /// Own-home patients: NNT and cost per saved life.
    pub own_home: OwnHome,
    /// The whole cohort's standardised mortality effect.
    pub whole_cohort: MarginalEffects,
    /// The smallest whole-cohort NNT any logistic model with the fitted OR and the crude risks
    /// allows ([`nnt_bound`]).
    pub whole_cohort_nnt_bound: f64,
    /// Mortality adjusted for the calendar quarter as well.
    pub mortality_time_adjusted: TreatmentEffect,
    /// Readmission adjusted for the calendar quarter as well.
    pub readmission_time_adjusted: TreatmentEffect,
    /// Population-averaged OR of mortality and RR of readmission (GEE beside the mixed
    /// models).
    pub population_averaged: Vec<PopulationAveraged>,
    /// Regained CAS and NMS.
    pub mobility: Vec<Mobility>,
    /// The rollout: clusters by month.
    pub rollout: RolloutDiagram,
    /// The published numbers beside the reproduced ones.
    pub table: ReproductionTable,
}

/// The point estimates the calibration targets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Headline {
    /// Adjusted OR of mortality.
    pub odds_ratio: f64,
    /// Adjusted RR of readmission.
    pub relative_risk: f64,
    /// NNT of own-home patients.
    pub own_home_nnt: f64,
    /// Cost per saved life of own-home patients (DKK).
    pub own_home_cost_per_life: f64,
}

/// Runs the whole evaluation on a patient file (see the [module docs](self)).
pub fn analyse(raw: Cohort, options: &Options) -> Result<Analysis> {
    let prepared = prepare(raw, options.follow_up_end)?;
    let cohort = &prepared.cohort;
    let own = own_home_patients(cohort)?;
    // The mortality fit serves both its OR and the whole cohort's standardisation.
    let fit = mortality_model()?.fit(cohort)?;
    let whole_cohort = Standardisation::new("kth").apply(&fit, cohort)?;
    let mortality = effect_of(&fit, Some(profile_ratio(&fit)?))?;
    let readmission = treatment_effect(&readmission_model()?, cohort)?;
    let own_home = own_home_analysis(&own, options)?;
    let mortality_crude = crude(cohort, "death30", None)?;
    let whole_cohort_nnt_bound = nnt_bound(mortality.ratio.estimate, &mortality_crude);
    let timed = |formula: &str| formula.replace(" + (1 |", " + quarter + (1 |");
    let mortality_time_adjusted = treatment_effect(&Glmm::new(&timed(MORTALITY))?, cohort)?;
    let readmission_time_adjusted = treatment_effect(
        &Glmm::new(&timed(READMISSION))?
            .family(Family::Poisson)
            .vcov(VcovKind::Sandwich),
        cohort,
    )?;
    let population_averaged = vec![
        population_averaged(MORTALITY, Link::Logit, cohort)?,
        population_averaged(READMISSION, Link::Log, cohort)?,
    ];
    let mobility = ["cas_regained", "nms_regained"]
        .iter()
        .map(|outcome| mobility(cohort, outcome))
        .collect::<Result<Vec<_>>>()?;
    let mut analysis = Analysis {
        data: prepared.reports.clone(),
        readmission_crude: crude(cohort, "readmit30", None)?,
        own_home_mortality_crude: crude(cohort, "death30", Some("own_home"))?,
        own_home_readmission_crude: crude(cohort, "readmit30", Some("own_home"))?,
        mortality_crude,
        mortality,
        readmission,
        own_home,
        whole_cohort,
        whole_cohort_nnt_bound,
        mortality_time_adjusted,
        readmission_time_adjusted,
        population_averaged,
        mobility,
        rollout: rollout_diagram(cohort)?,
        table: ReproductionTable::default(),
    };
    analysis.table = reproduction_table(&analysis);
    Ok(analysis)
}

/// The calibration targets' point estimates, without intervals (fast).
pub fn headline(prepared: &Prepared) -> Result<Headline> {
    let cohort = &prepared.cohort;
    let own = own_home_patients(cohort)?;
    let spec = Standardisation::new("kth");
    let odds_ratio = mortality_model()?.fit(cohort)?.term("kth")?.estimate.exp();
    let relative_risk = readmission_model()?
        .fit(cohort)?
        .term("kth")?
        .estimate
        .exp();
    let deaths = spec.apply(&Glmm::new(OWN_HOME_MORTALITY)?.fit(&own)?, &own)?;
    let cost = spec.means(&Lmm::new(OWN_HOME_COST)?.fit(&own)?, &own)?;
    let avoided = -deaths.risk_difference.estimate;
    Ok(Headline {
        odds_ratio,
        relative_risk,
        own_home_nnt: 1.0 / avoided,
        own_home_cost_per_life: cost.difference.estimate / avoided,
    })
}

/// The mortality model.
fn mortality_model() -> Result<Glmm> {
    Glmm::new(MORTALITY)
}

/// The readmission model.
fn readmission_model() -> Result<Glmm> {
    Ok(Glmm::new(READMISSION)?
        .family(Family::Poisson)
        .vcov(VcovKind::Sandwich))
}

/// The own-home patients.
fn own_home_patients(cohort: &Cohort) -> Result<Cohort> {
    let own = cohort.numeric("own_home")?;
    let rows: Vec<usize> = (0..own.len()).filter(|&i| own[i] == 1.0).collect();
    if rows.is_empty() {
        return Err(Error::too_few(
            "patients living in their own home (residence own_home)",
            "patients",
            0,
            1,
        ));
    }
    cohort.select_rows(&rows)
}

/// The treatment effect of `kth` in `model` (Wald interval only).
fn treatment_effect(model: &Glmm, cohort: &Cohort) -> Result<TreatmentEffect> {
    effect_of(&model.fit(cohort)?, None)
}

/// The GEE of a mixed model's fixed part (`formula` without its random-effect term), clustered
/// by municipality (see [`PopulationAveraged`]).
fn population_averaged(formula: &str, link: Link, cohort: &Cohort) -> Result<PopulationAveraged> {
    let fixed = formula.replace(" + (1 | municipality)", "");
    let fit = Gee::new(&fixed, "municipality")?
        .link(link)
        .correlation(WorkingCorrelation::Exchangeable)
        .maee(true)
        .fit(cohort)?;
    let row = fit.term("kth")?;
    Ok(PopulationAveraged {
        formula: fixed,
        measure: if link == Link::Log {
            "relative risk"
        } else {
            "odds ratio"
        }
        .into(),
        ratio: Estimate {
            estimate: row.estimate.exp(),
            ci_low: row.ci_low.exp(),
            ci_high: row.ci_high.exp(),
            level: fit.level,
        },
        df: fit.df,
        correlation: fit.correlation_parameters[0].estimate,
    })
}

/// The profile-likelihood interval of `exp(beta_kth)`.
fn profile_ratio(fit: &GlmmFit) -> Result<Estimate> {
    let p = fit.profile_interval("kth")?;
    Ok(Estimate {
        estimate: p.estimate.exp(),
        ci_low: p.ci_low.exp(),
        ci_high: p.ci_high.exp(),
        level: p.level,
    })
}

/// The `kth` row of a fit as a [`TreatmentEffect`].
fn effect_of(fit: &GlmmFit, profile: Option<Estimate>) -> Result<TreatmentEffect> {
    let row = fit.term("kth")?.clone();
    let measure = match fit.family {
        Family::Poisson => "relative risk",
        _ => "odds ratio",
    };
    Ok(TreatmentEffect {
        formula: fit.formula.clone(),
        measure: measure.into(),
        ratio: Estimate {
            estimate: row.estimate.exp(),
            ci_low: row.ci_low.exp(),
            ci_high: row.ci_high.exp(),
            level: fit.level,
        },
        profile,
        municipality_sd: fit.random_effects.first().map_or(0.0, |r| r.sd),
        patients: fit.n_obs,
        converged: fit.converged,
        singular: fit.singular,
        vcov: fit.vcov_kind,
        coefficient: row,
    })
}

/// Own-home NNT and cost per saved life.
fn own_home_analysis(own: &Cohort, options: &Options) -> Result<OwnHome> {
    let fit = Glmm::new(OWN_HOME_MORTALITY)?.fit(own)?;
    let marginal = Standardisation::new("kth").apply(&fit, own)?;
    let spec = CostEffectivenessSpec::new("kth")
        .bootstrap(options.bootstrap, options.seed)
        .progress(options.progress);
    let cost_fit = Lmm::new(OWN_HOME_COST)?.fit(own)?;
    let cost_effectiveness = cost_effectiveness(&cost_fit, &fit, own, &spec)?;
    Ok(OwnHome {
        mortality: effect_of(&fit, None)?,
        marginal,
        cost_effectiveness,
    })
}

/// A regained-mobility indicator: OR and standardised difference.
fn mobility(cohort: &Cohort, outcome: &str) -> Result<Mobility> {
    let formula = MORTALITY.replacen("death30", outcome, 1);
    let fit = Glmm::new(&formula)?.fit(cohort)?;
    let marginal = Standardisation::new("kth")
        .outcome(crate::effects::crude::OutcomeKind::Beneficial)
        .apply(&fit, cohort)?;
    Ok(Mobility {
        outcome: outcome.to_string(),
        crude: crude(cohort, outcome, None)?,
        effect: effect_of(&fit, None)?,
        marginal,
    })
}

/// Events and patients with a known outcome, KTH and usual care, optionally within the rows
/// where the 0/1 column `within` is 1.
fn crude(cohort: &Cohort, outcome: &str, within: Option<&str>) -> Result<Crude> {
    let y = cohort.numeric(outcome)?;
    let kth = cohort.numeric("kth")?;
    let keep = match within {
        Some(column) => cohort.numeric(column)?.to_vec(),
        None => vec![1.0; y.len()],
    };
    let mut counts = [(0usize, 0usize); 2];
    for i in 0..y.len() {
        if y[i].is_nan() || keep[i] != 1.0 {
            continue;
        }
        let arm = &mut counts[usize::from(kth[i] == 1.0)];
        arm.0 += usize::from(y[i] == 1.0);
        arm.1 += 1;
    }
    if counts.iter().any(|c| c.1 == 0) {
        return Err(Error::invalid(
            outcome,
            "both KTH and usual-care patients need a known outcome",
        ));
    }
    Ok(Crude {
        kth: counts[1],
        usual: counts[0],
    })
}

/// The smallest whole-cohort NNT that a logistic model with odds ratio `or` < 1 can give when
/// its fitted risks average to the crude risks of each arm (as the fitted risks of any logistic
/// GLM with an intercept and the treatment do, and of a mixed model nearly).
///
/// Each control patient's risk p moves to `h(p) = OR p / (1 - p + OR p)` if treated, which is
/// convex for OR < 1; each treated patient's risk p to `g(p) = p / (OR + (1 - OR) p)` if not
/// treated, which is concave. By Jensen's inequality the deaths avoided per patient are at most
///
/// `[n_C (pbar_C - h(pbar_C)) + n_T (g(pbar_T) - pbar_T)] / (n_C + n_T)`,
///
/// and the NNT at least its inverse (`+inf` when OR >= 1).
pub fn nnt_bound(or: f64, mortality: &Crude) -> f64 {
    if !(or > 0.0 && or < 1.0) {
        return f64::INFINITY;
    }
    let (p_t, p_c) = (
        mortality.kth_percent() / 100.0,
        mortality.usual_percent() / 100.0,
    );
    let (n_t, n_c) = (mortality.kth.1 as f64, mortality.usual.1 as f64);
    let h = or * p_c / (1.0 - p_c + or * p_c);
    let g = p_t / (or + (1.0 - or) * p_t);
    (n_t + n_c) / (n_c * (p_c - h) + n_t * (g - p_t))
}

/// The rollout diagram from the data: one row per health cluster, one column per calendar month
/// of surgery, each cell the share of the month on or after the cluster's `rollout_start`
/// ([`Design::from_rollout_dates`]) and the number of patients of the cluster operated in the
/// month.
pub fn rollout_diagram(cohort: &Cohort) -> Result<RolloutDiagram> {
    let clusters = cohort.column("health_cluster")?;
    let surgery = read_dates(cohort, "surgery_date")?;
    let start = read_dates(cohort, "rollout_start")?;
    let (Some(first), Some(last)) = (
        surgery.iter().flatten().min().copied(),
        surgery.iter().flatten().max().copied(),
    ) else {
        return Err(Error::too_few(
            "the rollout diagram's months (column surgery_date)",
            "surgery dates",
            0,
            1,
        ));
    };
    let months = Period::months(first, last)?;
    let mut rows: Vec<(String, Option<Date>)> = Vec::new();
    for (i, start) in start.iter().enumerate() {
        let Some(name) = clusters.label(i) else {
            continue;
        };
        match rows.iter().find(|(n, _)| n == name) {
            None => rows.push((name.to_string(), *start)),
            Some((_, first)) if first != start => {
                return Err(Error::Cluster {
                    column: "health_cluster".into(),
                    message: format!(
                        "'{name}' has more than one rollout_start (data row {})",
                        i + 1
                    ),
                })
            }
            Some(_) => {}
        }
    }
    rows.sort();
    // Patients per cluster and month of surgery.
    let mut counts = vec![vec![0usize; months.len()]; rows.len()];
    let month_number = |d: Date| {
        let (y, m, _) = d.ymd();
        i64::from(y) * 12 + i64::from(m)
    };
    for (i, date) in surgery.iter().enumerate() {
        let (Some(name), Some(date)) = (clusters.label(i), date) else {
            continue;
        };
        let month = usize::try_from(month_number(*date) - month_number(first)).ok();
        let row = rows.iter().position(|(n, _)| n == name);
        if let Some(cell) = row
            .zip(month)
            .and_then(|(r, m)| counts.get_mut(r).and_then(|c| c.get_mut(m)))
        {
            *cell += 1;
        }
    }
    let design = Design::from_rollout_dates(&rows, months)?;
    Ok(RolloutDiagram::new(
        "Kom Trygt Hjem rollout: patient intake by health cluster",
        "Month of surgery",
        design,
    )
    .with_counts(counts))
}
