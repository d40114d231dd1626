//! The calibration of the synthetic rollout cohort's free parameters to the published adjusted
//! estimates.

use serde::Serialize;

use super::{headline, prepare, published, Headline};
use crate::core::error::{Error, Result};
use crate::studies::kth_rollout::synthetic::KthRollout;

/// The calibrated configuration and the estimates it gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// The configuration.
    pub config: KthRollout,
    /// Its headline estimates.
    pub headline: Headline,
    /// Cohorts simulated and analysed.
    pub evaluations: usize,
}

/// One free parameter, the estimate it steers and the published target.
#[derive(Debug, Clone, Copy, Serialize)]
enum Knob {
    /// The nursing-home term of the mortality score, steering the adjusted OR to 0.60.
    NursingHomeMortality,
    /// The ASA up-coding of Sønderjylland and Sydvestjylland, steering the own-home NNT to 19.
    AsaUpcoding,
    /// The nursing-home term of the readmission score, steering the adjusted RR to 1.28.
    NursingHomeReadmission,
    /// The extra municipal cost of KTH, steering the own-home cost per saved life to 161,060.
    KthCost,
}

impl Knob {
    /// Search interval, and whether the estimate increases with the parameter.
    fn range(self) -> (f64, f64, bool) {
        match self {
            Knob::NursingHomeMortality => (-1.5, 2.0, false),
            Knob::AsaUpcoding => (0.0, 0.6, false),
            Knob::NursingHomeReadmission => (-1.0, 3.0, false),
            Knob::KthCost => (0.0, 30_000.0, true),
        }
    }

    fn target(self) -> f64 {
        match self {
            Knob::NursingHomeMortality => published::ODDS_RATIO,
            Knob::AsaUpcoding => published::NNT,
            Knob::NursingHomeReadmission => published::RELATIVE_RISK,
            Knob::KthCost => published::COST_PER_LIFE,
        }
    }

    fn estimate(self, h: &Headline) -> f64 {
        match self {
            Knob::NursingHomeMortality => h.odds_ratio,
            Knob::AsaUpcoding => h.own_home_nnt,
            Knob::NursingHomeReadmission => h.relative_risk,
            Knob::KthCost => h.own_home_cost_per_life,
        }
    }

    fn set(self, config: &mut KthRollout, value: f64) {
        match self {
            Knob::NursingHomeMortality => config.mortality.residence[1] = value,
            Knob::AsaUpcoding => {
                for c in config.clusters.iter_mut().filter(|c| c.name != "Fyn") {
                    c.asa_upcoding = value;
                }
            }
            Knob::NursingHomeReadmission => config.readmission.residence[1] = value,
            Knob::KthCost => config.costs.kth_municipality = value,
        }
    }
}

/// Calibrates `start` for `seed`: each free parameter in turn is set by bisection so that its
/// estimate (of [`headline`], on the simulated cohort after [`prepare()`]) reaches its published
/// target (OR 0.60, own-home NNT 19, RR 1.28, 161,060 DKK per saved life), and the rounds repeat
/// until every estimate is within 1% of its target. The draws do not depend on the
/// parameters (common random numbers), so each estimate is a step function of its parameter
/// and bisection finds the step nearest the target. Errors if a target is outside what a
/// parameter's range reaches.
pub fn calibrate(start: KthRollout, seed: u64) -> Result<Calibration> {
    let knobs = [
        Knob::NursingHomeMortality,
        Knob::AsaUpcoding,
        Knob::NursingHomeReadmission,
        Knob::KthCost,
    ];
    let mut config = start;
    let mut evaluations = 0;
    let mut evaluate = |config: &KthRollout| -> Result<Headline> {
        evaluations += 1;
        headline(&prepare(config.simulate(seed)?, None)?)
    };
    for _round in 0..4 {
        for knob in knobs {
            let (mut low, mut high, increasing) = knob.range();
            for _ in 0..40 {
                let mid = 0.5 * (low + high);
                let mut trial = config.clone();
                knob.set(&mut trial, mid);
                let above = knob.estimate(&evaluate(&trial)?) > knob.target();
                if above == increasing {
                    high = mid;
                } else {
                    low = mid;
                }
                if high - low < 1e-6 * (1.0 + low.abs()) {
                    break;
                }
            }
            knob.set(&mut config, 0.5 * (low + high));
        }
        let found = evaluate(&config)?;
        if knobs
            .iter()
            .all(|k| (k.estimate(&found) / k.target() - 1.0).abs() < 0.01)
        {
            return Ok(Calibration {
                config,
                headline: found,
                evaluations,
            });
        }
    }
    Err(Error::NotConverged {
        what: "calibration of the synthetic KTH rollout cohort".into(),
        iterations: 4,
        criterion: f64::NAN,
    })
}
