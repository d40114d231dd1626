//! The cluster bootstrap of standardised risks, with percentile and BCa intervals.
//!
//! Replicate b draws G clusters with replacement from the G clusters of the fit; a cluster drawn
//! twice counts as two clusters. All draws are made before any refit, from one xoshiro256++
//! generator seeded with the user's seed, so the numbers do not depend on the number of threads.
//! Each replicate refits the model (starting from the full-data estimate, and for a mixed model
//! from the full-data conditional modes of the drawn clusters) and computes the risks of the
//! target patients it contains; RR and RD follow from them.
//!
//! - Percentile interval: the type-7 quantiles (R's default) of the B replicate values at
//!   `alpha/2` and `1 - alpha/2`.
//! - BCa (Efron 1987): bias correction `z0 = Phi^{-1}(#{t_b < t^} / B)` (strict, as R's
//!   `boot.ci`) and acceleration from the leave-one-cluster-out jackknife (G refits),
//!   `a = sum_g (tbar - t_(g))^3 / (6 [sum_g (tbar - t_(g))^2]^{3/2})`; the limits are the
//!   type-7 quantiles at `Phi(z0 + (z0 + z_k) / (1 - a (z0 + z_k)))` for `z_k = -/+ z_{1-alpha/2}`.
//!
//! A resample whose outcome is separated where the data's is not (no event among the drawn
//! patients of a level or an arm) has no maximum-likelihood estimate; its refit is the
//! likelihood's limit, where the separated patients' fitted risks are 0 (see
//! [`Fitted::refit`]), and the replicate is kept. A replicate whose refit still fails, that
//! holds no patient of the target population, or whose control risk is 0 (no relative risk) is
//! counted (`failed`, with the first reason) and left out of the percentile and BCa intervals;
//! more than 10% of them failed, or any failed jackknife refit, is [`Error::RefitsFailed`].

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::risk::RiskModel;
use crate::core::dist::{normal_cdf, normal_quantile};
use crate::core::error::{Error, Result};
use crate::core::rng::Draws;
use crate::models::fitted::Fitted;

/// `replicates` samples of `g` clusters drawn with replacement, from a generator seeded with
/// `seed`.
pub(crate) fn draw_clusters(seed: u64, replicates: usize, g: usize) -> Vec<Vec<usize>> {
    let mut draws = Draws::new(seed);
    (0..replicates)
        .map(|_| {
            (0..g)
                .map(|_| ((draws.uniform() * g as f64) as usize).min(g - 1))
                .collect()
        })
        .collect()
}

/// The leave-one-cluster-out samples.
pub(crate) fn jackknife_samples(g: usize) -> Vec<Vec<usize>> {
    (0..g)
        .map(|left| (0..g).filter(|&c| c != left).collect())
        .collect()
}

/// The four statistics `(r_1, r_0, RR, RD)` from `(r_0, r_1)`.
pub(crate) fn statistics(risks: [f64; 2]) -> [f64; 4] {
    let [r0, r1] = risks;
    [r1, r0, r1 / r0, r1 - r0]
}

/// A progress bar of `len` refits on stderr, if `show` (it does not change any number).
pub(crate) fn progress_bar(show: bool, len: usize, message: &str) -> Option<ProgressBar> {
    counting_bar(show, len, message, "refits")
}

/// A progress bar of `len` things called `unit` on stderr, if `show`.
pub(crate) fn counting_bar(
    show: bool,
    len: usize,
    message: &str,
    unit: &str,
) -> Option<ProgressBar> {
    show.then(|| {
        let bar = ProgressBar::new(len as u64).with_message(message.to_string());
        let template = format!("{{msg}} [{{bar:40}}] {{pos}}/{{len}} {unit}, {{eta}} left");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    })
}

/// The statistics of each sample (in order), refitting in parallel; `progress` counts them.
pub(crate) fn replicate_statistics<F: Fitted>(
    refit: &F,
    risk: &RiskModel<'_>,
    samples: &[Vec<usize>],
    progress: Option<&ProgressBar>,
) -> Vec<Result<[f64; 4]>> {
    let weights = risk.rows().cluster_weights();
    samples
        .par_iter()
        .map_init(
            || refit.workspace(),
            |workspace, sample| {
                if let Some(bar) = progress {
                    bar.inc(1);
                }
                let psi = refit.refit(sample, workspace)?;
                let sums = risk.cluster_sums(&psi);
                let total: f64 = sample.iter().map(|&c| weights[c]).sum();
                if total <= 0.0 {
                    return Err(Error::invalid(
                        "bootstrap",
                        "the sample holds no patient of the target population",
                    ));
                }
                let risk_of = |a: usize| sample.iter().map(|&c| sums[a][c]).sum::<f64>() / total;
                let stats = statistics([risk_of(0), risk_of(1)]);
                if stats.iter().all(|s| s.is_finite()) {
                    Ok(stats)
                } else {
                    Err(Error::invalid(
                        "bootstrap",
                        "the sample's control risk is 0, so its relative risk is not defined",
                    ))
                }
            },
        )
        .collect()
}

/// R's type-7 quantile of sorted values at probability `prob`.
pub(crate) fn quantile7(sorted: &[f64], prob: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * prob.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Percentile limits of `values` (sorted) at confidence `level`.
pub(crate) fn percentile(sorted: &[f64], level: f64) -> (f64, f64) {
    let alpha = 1.0 - level;
    (
        quantile7(sorted, alpha / 2.0),
        quantile7(sorted, 1.0 - alpha / 2.0),
    )
}

/// The BCa acceleration from jackknife values, `sum (tbar - t_(g))^3 / (6 [sum (tbar -
/// t_(g))^2]^{3/2})` (0 when they are all equal).
pub(crate) fn acceleration(jackknife: &[f64]) -> f64 {
    let mean = jackknife.iter().sum::<f64>() / jackknife.len() as f64;
    let (mut s2, mut s3) = (0.0, 0.0);
    for t in jackknife {
        let d = mean - t;
        s2 += d * d;
        s3 += d * d * d;
    }
    if s2 > 0.0 {
        s3 / (6.0 * s2.powf(1.5))
    } else {
        0.0
    }
}

/// BCa limits of `sorted` replicate values for the estimate `estimate`, with the acceleration
/// from the jackknife values `jackknife`; `None` when every replicate lies on one side of the estimate (no bias correction is
/// defined).
pub(crate) fn bca(
    sorted: &[f64],
    estimate: f64,
    jackknife: &[f64],
    level: f64,
) -> Option<(f64, f64)> {
    let below = sorted.iter().filter(|&&t| t < estimate).count();
    if below == 0 || below == sorted.len() {
        return None;
    }
    let z0 = normal_quantile(below as f64 / sorted.len() as f64);
    let a = acceleration(jackknife);
    let z = normal_quantile(1.0 - (1.0 - level) / 2.0);
    let adjusted = |zk: f64| normal_cdf(z0 + (z0 + zk) / (1.0 - a * (z0 + zk)));
    Some((
        quantile7(sorted, adjusted(-z)),
        quantile7(sorted, adjusted(z)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type7_quantiles_match_r() {
        // R: quantile(c(1, 2, 4, 8, 16), c(0.025, 0.5, 0.975)) = 1.1, 4, 15.2
        let v = [1.0, 2.0, 4.0, 8.0, 16.0];
        assert!((quantile7(&v, 0.025) - 1.1).abs() < 1e-12);
        assert_eq!(quantile7(&v, 0.5), 4.0);
        assert!((quantile7(&v, 0.975) - 15.2).abs() < 1e-12);
    }

    #[test]
    fn draws_depend_on_the_seed_only() {
        let a = draw_clusters(7, 3, 10);
        assert_eq!(a, draw_clusters(7, 3, 10));
        assert_ne!(a, draw_clusters(8, 3, 10));
        assert!(a.iter().flatten().all(|&c| c < 10));
    }

    #[test]
    fn bca_without_skew_or_bias_is_the_percentile_interval() {
        // Symmetric replicates around the estimate and a symmetric jackknife: z0 = 0, a = 0.
        let sorted: Vec<f64> = (0..=1000).map(|k| f64::from(k) / 1000.0 - 0.5).collect();
        let jack = [-1.0, 0.0, 1.0];
        let (lo, hi) = bca(&sorted, 0.0005, &jack, 0.95).unwrap();
        let (plo, phi) = percentile(&sorted, 0.95);
        assert!((lo - plo).abs() < 2e-3 && (hi - phi).abs() < 2e-3);
        assert!(bca(&sorted, -1.0, &jack, 0.95).is_none());
    }
}
