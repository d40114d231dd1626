//! A synthetic trial of the design, simulated with a fixed seed and analysed with the Hussey &
//! Hughes model and, beside it, population-averaged GEEs, the exact randomisation test and the
//! exposure-time model (its numbers describe simulated patients, not the trial).

use serde::Serialize;

use super::crude::{N_CONTROL, N_INTERVENTION, PUBLISHED};
use super::design::TrialDesign;
use super::exposure_time::ExposureTimeAnalysis;
use super::population_averaged::PopulationAveraged;
use super::randomisation::RandomisationAnalysis;
use crate::core::error::{Error, Result};
use crate::core::rng as random;
use crate::effects::crude::{Estimate, TwoByTwo};
use crate::models::coef_table::CoefRow;
use crate::models::glmm::{DfMethod, Glmm, GlmmFit};
use crate::sim::{ClusterSize, Effects, OutcomeLink, OutcomeModel, PeriodEffect, SimConfig};

/// The seed of the synthetic trial when none is given (the protocol's article number).
pub const DEFAULT_SEED: u64 = 375;

/// The settings of the synthetic trial (see the [module docs](super)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyntheticSettings {
    /// Name of the binary outcome column.
    pub outcome: String,
    /// Mean of the Poisson number of patients per cluster-period.
    pub patients_per_cluster_period: f64,
    /// Risk of the outcome under usual care in a cluster with random effect 0.
    pub control_risk: f64,
    /// True conditional odds ratio of the intervention.
    pub odds_ratio: f64,
    /// SD of the cluster random intercept (logit scale).
    pub cluster_sd: f64,
}

impl SyntheticSettings {
    /// The settings for Træning for Livet: patients sized to 137 + 135 over the design's
    /// cluster-periods, 10% readmission under usual care, the odds ratio of 7% against 10%,
    /// cluster SD 0.2.
    pub fn traening_for_livet(design: &TrialDesign) -> Self {
        let cells = (design.clusters.len() * design.n_periods) as f64;
        let odds = |percent: f64| percent / (100.0 - percent);
        let readmission = &PUBLISHED[0];
        SyntheticSettings {
            outcome: "readmit30".to_string(),
            patients_per_cluster_period: (N_CONTROL + N_INTERVENTION) as f64 / cells,
            control_risk: readmission.control_percent / 100.0,
            odds_ratio: odds(readmission.intervention_percent) / odds(readmission.control_percent),
            cluster_sd: 0.2,
        }
    }

    /// The simulator's configuration of `design` with these settings: home-dwelling patients,
    /// a logistic outcome with intercept `logit(control_risk)` and treatment `ln(odds_ratio)`,
    /// no calendar, age or sex effects, no cluster-period effect.
    pub fn sim_config(&self, design: &TrialDesign) -> SimConfig {
        let mut config = SimConfig::stepped_wedge(design.clusters.len(), design.n_periods);
        config.schedule = design
            .first_intervention_period
            .iter()
            .map(|f| Some(*f))
            .collect();
        config.cluster_size = ClusterSize::Poisson {
            mean: self.patients_per_cluster_period,
        };
        config.residence_probs = [1.0, 0.0, 0.0, 0.0];
        config.outcome = OutcomeModel {
            name: self.outcome.clone(),
            link: OutcomeLink::Logit,
            effects: Effects {
                // The simulator's own ln, so the configuration is the same on every platform.
                intercept: random::ln(self.control_risk / (1.0 - self.control_risk)),
                treatment: random::ln(self.odds_ratio),
                period: PeriodEffect::Linear(0.0),
                age_per_year: 0.0,
                male: 0.0,
                residence: [0.0; 4],
                cluster_sd: self.cluster_sd,
                cluster_period_sd: 0.0,
            },
        };
        config
    }
}

/// A synthetic trial of the design, its Hussey & Hughes analysis and the population-averaged
/// GEEs beside it (see the [module docs](super)). Its numbers describe simulated patients, not
/// the trial.
#[derive(Debug, Clone, Serialize)]
pub struct SyntheticTrial {
    /// Always true: the patients are simulated.
    pub synthetic: bool,
    /// The simulator's seed.
    pub seed: u64,
    /// How the patients were simulated.
    pub settings: SyntheticSettings,
    /// The model fitted, in lme4's notation.
    pub formula: String,
    /// The simulated patients' crude 2x2 table (intervention as treated).
    pub counts: TwoByTwo,
    /// The treatment's row of the fit: log odds ratio, SE, t statistic on between-within df,
    /// p-value and t interval (and the odds ratio with its interval).
    pub treatment: CoefRow,
    /// The odds ratio `exp(b_trt)` with its t interval.
    pub odds_ratio: Estimate,
    /// Estimated SD of the cluster random intercept (0 for a singular fit).
    pub cluster_sd: f64,
    /// Whether the optimiser converged.
    pub converged: bool,
    /// Whether the cluster variance is on its boundary (estimated as 0).
    pub singular: bool,
    /// The whole fit (coefficients, variance components, diagnostics).
    pub fit: GlmmFit,
    /// The population-averaged effects of the same patients by GEE, beside the mixed model's:
    /// the odds ratio (logit link) and the relative risk (log link) of
    /// `readmit30 ~ treated + period` with a linear calendar-time trend, exchangeable working
    /// correlation within municipality (MAEE), Kauermann-Carroll variance and t on
    /// 6 - 3 = 3 df ([`PopulationAveraged`]); a fit that fails is reported with its status.
    pub population_averaged: Vec<PopulationAveraged>,
    /// The exact randomisation test of the mixed model's treatment effect (all 720 orders of
    /// the municipalities' crossovers) and its randomisation interval, beside the model-based
    /// t ([`RandomisationAnalysis`]).
    pub randomisation: RandomisationAnalysis,
    /// The exposure-time indicator model, the effect by exposure time, the TATE and the tests
    /// against the Hussey & Hughes model ([`ExposureTimeAnalysis`]).
    pub exposure_time: ExposureTimeAnalysis,
}

impl SyntheticTrial {
    /// The Hussey & Hughes model of the synthetic trial, for an outcome column.
    pub fn formula(outcome: &str) -> String {
        format!("{outcome} ~ treated + factor(period) + (1 | cluster)")
    }

    /// Simulates `design` with `settings` from `seed` and fits the mixed model and the GEEs, and
    /// runs the randomisation test and the exposure-time analysis. Errors if the simulation or
    /// the mixed model fails (for example separation, when a period has no events); a GEE, a
    /// randomisation test or an exposure-time model that fails is reported in its field instead.
    pub fn run(design: &TrialDesign, settings: &SyntheticSettings, seed: u64) -> Result<Self> {
        let cohort = settings.sim_config(design).simulate(seed)?;
        let formula = SyntheticTrial::formula(&settings.outcome);
        let fit = Glmm::new(&formula)?
            .df(DfMethod::BetweenWithin)
            .fit(&cohort)?;
        let treatment = fit.term("treated")?.clone();
        let odds_ratio = Estimate {
            estimate: treatment.estimate.exp(),
            ci_low: treatment.ci_low.exp(),
            ci_high: treatment.ci_high.exp(),
            level: fit.level,
        };
        let cluster_sd = fit
            .random_effects
            .iter()
            .find(|r| r.group == "cluster")
            .map(|r| r.sd)
            .ok_or_else(|| Error::Numerical {
                what: "the synthetic trial's fit".into(),
                message: "it has no cluster random effect".into(),
            })?;
        let population_averaged = PopulationAveraged::both(&cohort, &settings.outcome)?;
        let randomisation = RandomisationAnalysis::run(&fit, &cohort, &treatment);
        let exposure_time = ExposureTimeAnalysis::run(&cohort, &settings.outcome, &fit)?;
        Ok(SyntheticTrial {
            synthetic: true,
            seed,
            settings: settings.clone(),
            formula,
            counts: TwoByTwo::from_cohort(&cohort, &settings.outcome, "treated")?,
            treatment,
            odds_ratio,
            cluster_sd,
            converged: fit.converged,
            singular: fit.singular,
            fit,
            population_averaged,
            randomisation,
            exposure_time,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimConfig;

    #[test]
    fn design_cells() {
        let d = TrialDesign::traening_for_livet();
        assert_eq!(d.is_intervention(0, 1), Some(false));
        assert_eq!(d.is_intervention(0, 2), Some(true));
        assert_eq!(d.is_intervention(5, 6), Some(false));
        assert_eq!(d.is_intervention(5, 7), Some(true));
        assert_eq!(d.is_intervention(6, 1), None);
        assert_eq!(d.is_intervention(0, 8), None);
        assert_eq!(d.cluster_periods(), (21, 21));
        let config = SyntheticSettings::traening_for_livet(&d).sim_config(&d);
        config.validate().unwrap();
        assert_eq!(
            config.schedule,
            SimConfig::stepped_wedge(6, 7).schedule,
            "the simulator's stepped wedge is the same design"
        );
    }
}
