//! Cost-effectiveness of a treatment from two fitted models: one for the per-patient cost, one
//! for an outcome (death, readmission, regained mobility), both standardised over the same
//! target population, with a joint cluster bootstrap that keeps the correlation of the two.
//!
//! Definitions (for the target population, see [`super`]):
//! - incremental cost `dC = c_1 - c_0`, the standardised mean cost if all were treated minus if
//!   none were;
//! - incremental effect `dE`, outcomes avoided per patient for an adverse outcome
//!   (`r_0 - r_1`: deaths avoided, lives saved) or gained for a beneficial one (`r_1 - r_0`);
//! - ICER `dC / dE` (the cost per saved life for death); net monetary benefit at a willingness
//!   to pay `lambda` per unit of effect, `NMB(lambda) = lambda dE - dC`.
//!
//! The joint bootstrap refits both models on the same cluster samples (seeded, as the marginal
//! bootstrap) and gives pairs `(dC_b, dE_b)`: the cost-effectiveness plane. A sample where
//! either refit fails (as in the marginal bootstrap, see [`super::standardise`]) is counted in
//! `failed` and left out of everything below; more than 10% failed is
//! [`Error::RefitsFailed`]. From the pairs:
//! - the acceptability curve `CEAC(lambda)`, the share of replicates with `NMB_b(lambda) > 0`;
//! - percentile intervals of dC, dE and NMB;
//! - the ICER interval by inverting the acceptability curve (Fenwick, O'Brien & Briggs 2004): the
//!   willingness-to-pay values where `CEAC = alpha/2` and `1 - alpha/2`. It follows the
//!   replicates through every quadrant of the plane: no ratio of replicates is ever sorted, so an
//!   effect interval that crosses 0 gives an unbounded interval, not a wrong bounded one;
//! - Fieller's interval: the values R with `(dC - R dE)^2 <= q^2 (V_C - 2 R V_CE + R^2 V_E)`,
//!   with the bootstrap variances and covariance of (dC, dE) and q the normal quantile; bounded
//!   only when `dE^2 > q^2 V_E` (the effect is significantly non-zero).

use serde::Serialize;

use super::standardise::bootstrap::{draw_clusters, progress_bar, replicate_statistics};
use super::standardise::{FittedModel, Standardisation, Target};
use crate::core::builder::builder_methods;
use crate::core::dist::normal_quantile;
use crate::core::error::{Error, Result};
use crate::data::Cohort;
use crate::effects::crude::{Estimate, OutcomeKind};
use crate::models::fitted::Fitted;

/// What to compute.
#[derive(Debug, Clone)]
pub struct CostEffectivenessSpec {
    treatment: String,
    target: Target,
    outcome: OutcomeKind,
    replicates: usize,
    seed: u64,
    level: f64,
    willingness_to_pay: Vec<f64>,
    progress: bool,
}

impl CostEffectivenessSpec {
    /// For the 0/1 treatment column `treatment`: the whole cohort, an adverse outcome, 1,000
    /// bootstrap replicates with seed 1, 95% intervals, and willingness-to-pay values 0 to
    /// 2,000,000 in steps of 20,000.
    pub fn new(treatment: &str) -> Self {
        CostEffectivenessSpec {
            treatment: treatment.to_string(),
            target: Target::All,
            outcome: OutcomeKind::Adverse,
            replicates: 1000,
            seed: 1,
            level: 0.95,
            willingness_to_pay: (0..=100).map(|k| f64::from(k) * 20_000.0).collect(),
            progress: false,
        }
    }

    builder_methods! {
        /// Show the bootstrap's progress on stderr (default off; the numbers are the same).
        progress(&mut this, show: bool) { this.progress = show; }

        /// The target population.
        target(&mut this, target: Target) { this.target = target; }

        /// Adverse (death, readmission: effect = events avoided) or beneficial (effect = events
        /// gained).
        outcome(&mut this, outcome: OutcomeKind) { this.outcome = outcome; }

        /// Bootstrap replicates (at least 100) and seed.
        bootstrap(&mut this, replicates: usize, seed: u64) { this.replicates = replicates; this.seed = seed; }

        /// Confidence level (default 0.95).
        level(&mut this, level: f64) { this.level = level; }

        /// Willingness-to-pay values (per unit of effect: per life saved) for the acceptability
        /// curve and the net monetary benefit; non-negative.
        willingness_to_pay(&mut this, values: Vec<f64>) { this.willingness_to_pay = values; }
    }
}

/// Where the point estimate lies on the cost-effectiveness plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quadrant {
    /// More effective and more costly: the ICER is the price of the extra effect.
    MoreEffectiveMoreCostly,
    /// More effective and less costly: the treatment dominates.
    Dominant,
    /// Less effective and more costly: the treatment is dominated.
    Dominated,
    /// Less effective and less costly: the ICER is the saving per unit of effect lost.
    LessEffectiveLessCostly,
}

/// An interval of the ICER, which may run through infinity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IcerInterval {
    /// From `low` to `high`.
    Bounded {
        /// Lower limit.
        low: f64,
        /// Upper limit.
        high: f64,
    },
    /// From `low` upwards without limit (the effect may be 0).
    AtLeast {
        /// Lower limit.
        low: f64,
    },
    /// Up to `high` (the interval reaches into the dominant quadrant, where the ratio is
    /// negative).
    AtMost {
        /// Upper limit.
        high: f64,
    },
    /// Every value outside `(high_end, low_end)`: from `-inf` to `high_end` and from `low_end`
    /// to `+inf` (Fieller's interval when the effect is not significant but the cost is).
    Outside {
        /// End of the lower branch.
        high_end: f64,
        /// Start of the upper branch.
        low_end: f64,
    },
    /// Every value: the data do not bound the ICER.
    Unbounded,
}

impl IcerInterval {
    /// The interval as `(low, high)`, with an infinite end where it is open (`-inf` to `+inf`
    /// when unbounded); `None` for an interval in two pieces ([`IcerInterval::Outside`]).
    pub fn bounds(&self) -> Option<(f64, f64)> {
        match *self {
            IcerInterval::Bounded { low, high } => Some((low, high)),
            IcerInterval::AtLeast { low } => Some((low, f64::INFINITY)),
            IcerInterval::AtMost { high } => Some((f64::NEG_INFINITY, high)),
            IcerInterval::Unbounded => Some((f64::NEG_INFINITY, f64::INFINITY)),
            IcerInterval::Outside { .. } => None,
        }
    }
}

/// Net monetary benefit at one willingness to pay.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NetBenefit {
    /// Willingness to pay per unit of effect.
    pub willingness_to_pay: f64,
    /// `lambda dE - dC` at the estimates, with the bootstrap percentile interval.
    pub net_benefit: Estimate,
    /// Share of replicates with a positive net benefit (the acceptability curve).
    pub probability_cost_effective: f64,
}

/// The result of a cost-effectiveness analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostEffectiveness {
    /// The treatment column.
    pub treatment: String,
    /// The target population.
    pub target: Target,
    /// Patients in it.
    pub patients: f64,
    /// Confidence level.
    pub level: f64,
    /// Whether the effect counts events avoided (adverse) or gained (beneficial).
    pub outcome: OutcomeKind,
    /// Standardised mean cost if all were treated, and if none were.
    pub mean_cost: [f64; 2],
    /// Incremental cost `dC` with its bootstrap percentile interval.
    pub incremental_cost: Estimate,
    /// Incremental effect `dE` with its bootstrap percentile interval.
    pub incremental_effect: Estimate,
    /// `dC / dE`.
    pub icer: f64,
    /// The quadrant of the estimate.
    pub quadrant: Quadrant,
    /// The ICER interval from the acceptability curve.
    pub icer_interval: IcerInterval,
    /// Fieller's interval.
    pub fieller: IcerInterval,
    /// Net benefit and acceptability at each willingness to pay.
    pub net_benefit: Vec<NetBenefit>,
    /// The bootstrap pairs `(dC_b, dE_b)` (the cost-effectiveness plane).
    pub replicates: Vec<[f64; 2]>,
    /// Replicates whose refits failed (left out).
    pub failed: usize,
    /// The first failure's reason.
    pub first_failure: Option<String>,
    /// The seed.
    pub seed: u64,
}

/// Cost-effectiveness of `spec`'s treatment from a fitted cost model and a fitted effect model
/// (any two [`Fitted`] models: GLM, GLMM, linear mixed model) of the same cohort `cohort`, with
/// the same clusters. Neither model is refitted except in the joint bootstrap.
pub fn cost_effectiveness<C: Fitted, E: Fitted>(
    cost: &C,
    effect: &E,
    cohort: &Cohort,
    spec: &CostEffectivenessSpec,
) -> Result<CostEffectiveness> {
    let cost = FittedModel::new(cost, cohort)?;
    let effect = FittedModel::new(effect, cohort)?;
    if spec.replicates < 100 {
        return Err(Error::invalid(
            "bootstrap",
            "a cost-effectiveness bootstrap needs at least 100 replicates",
        ));
    }
    if spec
        .willingness_to_pay
        .iter()
        .any(|w| !(*w >= 0.0 && w.is_finite()))
    {
        return Err(Error::invalid(
            "willingness_to_pay",
            "values must be finite and not negative",
        ));
    }
    let clusters = &cost.fit.frame().clusters;
    if clusters.is_none() || clusters != &effect.fit.frame().clusters {
        return Err(Error::invalid(
            "models",
            "the cost and effect models need the same clusters (a cluster column for a GLM, \
             the same grouping factor for a mixed model) for the joint bootstrap",
        ));
    }
    let standardisation = Standardisation::new(&spec.treatment).target(spec.target.clone());
    let rows = (
        cost.target(&standardisation)?,
        effect.target(&standardisation)?,
    );
    let risks = (
        cost.risk(&rows.0, &standardisation),
        effect.risk(&rows.1, &standardisation),
    );
    let sign = match spec.outcome {
        OutcomeKind::Adverse => -1.0,
        OutcomeKind::Beneficial => 1.0,
    };
    let ([c0, c1], _) = risks.0.risks(&cost.params.psi);
    let ([e0, e1], _) = risks.1.risks(&effect.params.psi);
    let (d_cost, d_effect) = (c1 - c0, sign * (e1 - e0));
    let samples = draw_clusters(spec.seed, spec.replicates, cost.fit.n_clusters());
    let bar = progress_bar(spec.progress, 2 * samples.len(), "joint cluster bootstrap");
    let costs = replicate_statistics(cost.fit, &risks.0, &samples, bar.as_ref());
    let effects = replicate_statistics(effect.fit, &risks.1, &samples, bar.as_ref());
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let pairs: Vec<[f64; 2]> = costs
        .iter()
        .zip(&effects)
        .filter_map(|(c, e)| match (c, e) {
            (Ok(c), Ok(e)) => Some([c[3], sign * e[3]]),
            _ => None,
        })
        .collect();
    let failed = samples.len() - pairs.len();
    let first_failure = costs
        .iter()
        .chain(&effects)
        .find_map(|r| r.as_ref().err().map(ToString::to_string));
    if failed * 10 > samples.len() {
        return Err(Error::RefitsFailed {
            what: "joint refits".into(),
            failed,
            total: samples.len(),
            first: first_failure.unwrap_or_default(),
        });
    }
    let level = spec.level;
    let percentile_of = |estimate: f64, values: Vec<f64>| {
        let mut sorted = values;
        sorted.sort_by(f64::total_cmp);
        let (ci_low, ci_high) = super::standardise::bootstrap::percentile(&sorted, level);
        Estimate {
            estimate,
            ci_low,
            ci_high,
            level,
        }
    };
    let net_benefit = spec
        .willingness_to_pay
        .iter()
        .map(|&w| NetBenefit {
            willingness_to_pay: w,
            net_benefit: percentile_of(
                w * d_effect - d_cost,
                pairs.iter().map(|[c, e]| w * e - c).collect(),
            ),
            probability_cost_effective: acceptability(&pairs, w),
        })
        .collect();
    Ok(CostEffectiveness {
        treatment: spec.treatment.clone(),
        target: spec.target.clone(),
        patients: rows.1.weight.iter().sum(),
        level,
        outcome: spec.outcome,
        mean_cost: [c1, c0],
        incremental_cost: percentile_of(d_cost, pairs.iter().map(|p| p[0]).collect()),
        incremental_effect: percentile_of(d_effect, pairs.iter().map(|p| p[1]).collect()),
        icer: d_cost / d_effect,
        quadrant: quadrant(d_cost, d_effect),
        icer_interval: acceptability_interval(&pairs, level),
        fieller: fieller(d_cost, d_effect, &pairs, level),
        net_benefit,
        replicates: pairs,
        failed,
        first_failure,
        seed: spec.seed,
    })
}

impl CostEffectiveness {
    /// The acceptability curve at the willingness to pay `lambda` per unit of effect: the share
    /// of bootstrap replicates with a positive net benefit, `lambda dE_b - dC_b > 0` (NaN
    /// without replicates).
    pub fn probability_cost_effective(&self, lambda: f64) -> f64 {
        acceptability(&self.replicates, lambda)
    }
}

fn quadrant(d_cost: f64, d_effect: f64) -> Quadrant {
    match (d_effect >= 0.0, d_cost >= 0.0) {
        (true, true) => Quadrant::MoreEffectiveMoreCostly,
        (true, false) => Quadrant::Dominant,
        (false, true) => Quadrant::Dominated,
        (false, false) => Quadrant::LessEffectiveLessCostly,
    }
}

/// Share of pairs with `lambda dE - dC > 0`.
fn acceptability(pairs: &[[f64; 2]], lambda: f64) -> f64 {
    pairs.iter().filter(|[c, e]| lambda * e - c > 0.0).count() as f64 / pairs.len() as f64
}

/// The willingness-to-pay values `lambda >= 0` where the acceptability curve crosses `alpha/2`
/// (lower limit) and `1 - alpha/2` (upper limit). The curve changes only at the replicates'
/// own ratios, so they are the candidates. A curve already at `alpha/2` at 0 has no lower limit
/// (the interval reaches the dominant quadrant); one that never reaches `1 - alpha/2` has no
/// upper limit.
fn acceptability_interval(pairs: &[[f64; 2]], level: f64) -> IcerInterval {
    let alpha = 1.0 - level;
    let mut candidates: Vec<f64> = pairs
        .iter()
        .filter(|[_, e]| *e != 0.0)
        .map(|[c, e]| c / e)
        .filter(|r| *r >= 0.0)
        .collect();
    candidates.sort_by(f64::total_cmp);
    // The curve just above lambda.
    let at = |lambda: f64| acceptability(pairs, lambda * (1.0 + 1e-12) + 1e-300);
    // `Some(None)`: reached at 0 already; `Some(Some(l))`: first reached at l; `None`: never.
    let first_at = |p: f64| -> Option<Option<f64>> {
        if at(0.0) >= p {
            return Some(None);
        }
        candidates.iter().copied().find(|&l| at(l) >= p).map(Some)
    };
    match (first_at(alpha / 2.0), first_at(1.0 - alpha / 2.0)) {
        (Some(Some(low)), Some(Some(high))) => IcerInterval::Bounded { low, high },
        (Some(None), Some(Some(high))) => IcerInterval::AtMost { high },
        (Some(Some(low)), None) => IcerInterval::AtLeast { low },
        _ => IcerInterval::Unbounded,
    }
}

/// Fieller's interval for `dC / dE` with the bootstrap covariance of the pairs.
fn fieller(d_cost: f64, d_effect: f64, pairs: &[[f64; 2]], level: f64) -> IcerInterval {
    let n = pairs.len() as f64;
    let mean = |k: usize| pairs.iter().map(|p| p[k]).sum::<f64>() / n;
    let (mc, me) = (mean(0), mean(1));
    let cov = |a: usize, ma: f64, b: usize, mb: f64| {
        pairs.iter().map(|p| (p[a] - ma) * (p[b] - mb)).sum::<f64>() / (n - 1.0)
    };
    let (vc, ve, vce) = (cov(0, mc, 0, mc), cov(1, me, 1, me), cov(0, mc, 1, me));
    let q2 = normal_quantile(1.0 - (1.0 - level) / 2.0).powi(2);
    // (dE^2 - q^2 V_E) R^2 - 2 (dC dE - q^2 V_CE) R + (dC^2 - q^2 V_C) <= 0
    let a = d_effect * d_effect - q2 * ve;
    let b = -2.0 * (d_cost * d_effect - q2 * vce);
    let c = d_cost * d_cost - q2 * vc;
    let discriminant = b * b - 4.0 * a * c;
    if a > 0.0 {
        if discriminant <= 0.0 {
            return IcerInterval::Unbounded;
        }
        let root = discriminant.sqrt();
        let (r1, r2) = ((-b - root) / (2.0 * a), (-b + root) / (2.0 * a));
        IcerInterval::Bounded {
            low: r1.min(r2),
            high: r1.max(r2),
        }
    } else if discriminant > 0.0 {
        let root = discriminant.sqrt();
        let (r1, r2) = ((-b - root) / (2.0 * a), (-b + root) / (2.0 * a));
        IcerInterval::Outside {
            high_end: r1.min(r2),
            low_end: r1.max(r2),
        }
    } else {
        IcerInterval::Unbounded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acceptability_interval_follows_the_quadrants() {
        // Effect clearly positive, cost clearly positive: ratios about 100 +- 20.
        let pairs: Vec<[f64; 2]> = (0..1000)
            .map(|k| {
                let t = f64::from(k) / 999.0 - 0.5;
                [100.0 + 40.0 * t, 1.0]
            })
            .collect();
        match acceptability_interval(&pairs, 0.95) {
            IcerInterval::Bounded { low, high } => {
                assert!(
                    (low - 81.0).abs() < 0.1 && (high - 119.0).abs() < 0.1,
                    "{low} {high}"
                )
            }
            other => panic!("{other:?}"),
        }
        // Effect interval crossing 0: no upper limit.
        let crossing: Vec<[f64; 2]> = (0..1000)
            .map(|k| [100.0, f64::from(k) / 999.0 - 0.3])
            .collect();
        assert!(matches!(
            acceptability_interval(&crossing, 0.95),
            IcerInterval::AtLeast { .. }
        ));
        // Cost saving in some replicates: the interval reaches the dominant quadrant.
        let saving: Vec<[f64; 2]> = (0..1000)
            .map(|k| [f64::from(k) / 999.0 * 200.0 - 20.0, 1.0])
            .collect();
        assert!(matches!(
            acceptability_interval(&saving, 0.95),
            IcerInterval::AtMost { .. }
        ));
    }

    #[test]
    fn fieller_with_a_precise_effect_is_bounded_around_the_ratio() {
        let pairs: Vec<[f64; 2]> = (0..2000)
            .map(|k| {
                let t = f64::from(k) / 1999.0 - 0.5;
                [1000.0 + 200.0 * t, 0.05 + 0.002 * (t * 7.0).sin()]
            })
            .collect();
        match fieller(1000.0, 0.05, &pairs, 0.95) {
            IcerInterval::Bounded { low, high } => assert!(low < 20_000.0 && 20_000.0 < high),
            other => panic!("{other:?}"),
        }
        let vague: Vec<[f64; 2]> = (0..2000)
            .map(|k| [1000.0, 0.05 * ((f64::from(k) / 1999.0 - 0.5) * 8.0)])
            .collect();
        assert!(!matches!(
            fieller(1000.0, 0.01, &vague, 0.95),
            IcerInterval::Bounded { .. }
        ));
    }
}
