//! Sample size for a target power: the smallest cluster-period size, or the smallest number of
//! clusters per wave, whose closed-form power reaches it.

use std::fmt;

use serde::Serialize;

use super::power::{ClosedForm, Power, Sizes};
use super::schedule::Design;
use crate::core::error::{Error, Result};

/// Largest cluster-period size [`ClosedForm::solve_cluster_period_size`] tries (2^30).
pub const MAX_CLUSTER_PERIOD_SIZE: usize = 1 << 30;
/// Most clusters per wave [`ClosedForm::solve_clusters_per_wave`] tries.
pub const MAX_CLUSTERS_PER_WAVE: usize = 100_000;

/// What a solver found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleSize {
    /// What was solved for: `n` (patients per cluster-period) or `clusters_per_wave`.
    pub solved_for: String,
    /// The target power.
    pub target: f64,
    /// The smallest value whose power reaches the target.
    pub value: usize,
    /// The power at that value.
    pub power: Power,
    /// The power at one less (`None` when the value is 1): below the target.
    pub power_one_less: Option<f64>,
}

impl fmt::Display for SampleSize {
    /// What was solved for, the value found and the powers at it and at one less.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.solved_for.as_str() {
            "n" => "patients per cluster-period",
            _ => "clusters per wave",
        };
        write!(
            f,
            "Smallest number of {what} for a power of at least {}: {} (power {:.4}",
            self.target, self.value, self.power.power
        )?;
        match self.power_one_less {
            Some(p) => write!(f, "; {} gives {p:.4})", self.value - 1),
            None => write!(f, ")"),
        }
    }
}

impl ClosedForm {
    /// The smallest number of patients per cluster-period, the same in every cell, at which
    /// the power on `design` reaches `target`; the sizes of `self` are replaced.
    ///
    /// The power grows with the size (each cell's residual variance `sigma^2 / n` falls), so
    /// the size is found by doubling and then bisection. The power cannot pass the limit set
    /// by the cluster-level variance (tau, gamma, eta) however large the clusters are: when
    /// even 2^30 patients per cell fall short, the error says what power they give (add
    /// clusters or periods instead). Errors besides those of [`ClosedForm::power`]: a target
    /// outside (0, 1).
    pub fn solve_cluster_period_size(&self, design: &Design, target: f64) -> Result<SampleSize> {
        check_target(target)?;
        let power_at = |n: usize| self.clone().sizes(Sizes::Scalar(n as f64)).power(design);
        let solved = smallest(power_at, target, MAX_CLUSTER_PERIOD_SIZE).map_err(|e| match e {
            Unreached::Error(e) => e,
            Unreached::Power(p) => Error::invalid(
                "target",
                format!(
                    "the power is only {p:.4} with {MAX_CLUSTER_PERIOD_SIZE} patients per \
                     cluster-period: the cluster-level variance bounds it below the target \
                     {target}; more clusters or periods are needed"
                ),
            ),
        })?;
        Ok(SampleSize {
            solved_for: "n".into(),
            target,
            ..solved
        })
    }

    /// The smallest number of clusters in every wave of `design` (see [`Design::waves`] and
    /// [`Design::replicate_waves`]) at which the power reaches `target`, with the sizes of
    /// `self`, which must be one number for every cell ([`Sizes::Scalar`]): sizes per cluster
    /// do not say what a new cluster's would be.
    ///
    /// Errors besides those of [`ClosedForm::power`]: a target outside (0, 1), sizes that are
    /// not a scalar, or a target not reached with 100,000 clusters per wave.
    pub fn solve_clusters_per_wave(&self, design: &Design, target: f64) -> Result<SampleSize> {
        check_target(target)?;
        if !matches!(self.sizes, Sizes::Scalar(_)) {
            return Err(Error::invalid(
                "n",
                "solving for the clusters per wave needs one cluster-period size for every cell \
                 (a scalar n)",
            ));
        }
        let power_at = |m: usize| self.power(&design.replicate_waves(m)?);
        let solved = smallest(power_at, target, MAX_CLUSTERS_PER_WAVE).map_err(|e| match e {
            Unreached::Error(e) => e,
            Unreached::Power(p) => Error::invalid(
                "target",
                format!(
                    "the power is only {p:.4} with {MAX_CLUSTERS_PER_WAVE} clusters per wave, \
                     below the target {target}"
                ),
            ),
        })?;
        Ok(SampleSize {
            solved_for: "clusters_per_wave".into(),
            target,
            ..solved
        })
    }
}

/// Checks that a target power is in (0, 1).
fn check_target(target: f64) -> Result<()> {
    if target > 0.0 && target < 1.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            "target",
            format!("{target} is not a power in (0, 1)"),
        ))
    }
}

/// Why [`smallest`] found no value.
enum Unreached {
    /// An error computing the power.
    Error(Error),
    /// The power at the largest value tried, below the target.
    Power(f64),
}

impl From<Error> for Unreached {
    fn from(e: Error) -> Self {
        Unreached::Error(e)
    }
}

/// The smallest `v` in `1..=max` with `power_at(v).power >= target`, for a power that grows
/// with `v`: doubling from 1, then bisection.
fn smallest(
    power_at: impl Fn(usize) -> Result<Power>,
    target: f64,
    max: usize,
) -> std::result::Result<SampleSize, Unreached> {
    let first = power_at(1)?;
    let found = |value, power, power_one_less| SampleSize {
        solved_for: String::new(),
        target,
        value,
        power,
        power_one_less,
    };
    if first.power >= target {
        return Ok(found(1, first, None));
    }
    // Invariant: power(low) < target <= power(high).
    let (mut low, mut low_power) = (1, first.power);
    let mut high = 2;
    let mut high_result = loop {
        let p = power_at(high)?;
        if p.power >= target {
            break p;
        }
        if high >= max {
            return Err(Unreached::Power(p.power));
        }
        (low, low_power) = (high, p.power);
        high = (high * 2).min(max);
    };
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        let p = power_at(mid)?;
        if p.power >= target {
            (high, high_result) = (mid, p);
        } else {
            (low, low_power) = (mid, p.power);
        }
    }
    Ok(found(high, high_result, Some(low_power)))
}
