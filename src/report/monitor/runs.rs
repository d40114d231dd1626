//! Anhøj's runs analysis of one part of a chart: is the variation around the centre line
//! random, or is there a shift (an unusually long run on one side) or oscillation missing
//! (unusually few crossings)?

use serde::Serialize;

use crate::core::dist::binomial_quantile;

/// The runs analysis of the included points of one part, as qicharts2's `runs.analysis`
/// (Anhøj's rules, `method = "anhoej"`).
///
/// Over the part's included points (excluded points left out), each point's side of the
/// centre line is `sign(y - cl)`; points exactly on the centre line (sign 0) and missing
/// points are dropped, and `n_useful` points are left. A run is a sequence of equal signs:
/// - `longest_run`: the length of the longest run;
/// - `longest_run_max = round(log2(n_useful)) + 3` (Schilling 2012). R's `round` rounds
///   halves to even, and so does this; for a whole `n_useful >= 1` the logarithm is never
///   a half (it would make `n_useful` an odd power of `sqrt 2`), so the rule does not matter;
/// - `n_crossings`: the number of runs - 1 (times the series crosses the centre line);
/// - `n_crossings_min = qbinom(0.05, n_useful - 1, 0.5)` (Chen 2010): the fewest crossings
///   that 95% of random series have;
/// - `signal`: `longest_run > longest_run_max` or `n_crossings < n_crossings_min`.
///
/// With no useful point the four counts are missing (`None`) and there is no signal.
/// `n_obs` counts the part's included points, missing ones too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RunsAnalysis {
    /// The part's included points, missing ones too.
    pub n_obs: usize,
    /// The included points that are neither missing nor on the centre line.
    pub n_useful: usize,
    /// The longest run on one side of the centre line.
    pub longest_run: Option<usize>,
    /// The longest run a random series is expected to have, `round(log2(n_useful)) + 3`.
    pub longest_run_max: Option<usize>,
    /// Crossings of the centre line: runs - 1.
    pub n_crossings: Option<usize>,
    /// The fewest crossings a random series is expected to have,
    /// `qbinom(0.05, n_useful - 1, 0.5)`.
    pub n_crossings_min: Option<usize>,
    /// A runs signal: a run longer than its maximum, or fewer crossings than their minimum.
    pub signal: bool,
}

impl RunsAnalysis {
    /// The runs analysis of `points`, the `(y, cl)` of each included point of a part in order
    /// (`None` for a missing value).
    pub fn of(points: impl IntoIterator<Item = (Option<f64>, Option<f64>)>) -> RunsAnalysis {
        let mut n_obs = 0;
        // The length of each run, in order.
        let mut runs: Vec<usize> = Vec::new();
        let mut last_side = None;
        for (y, cl) in points {
            n_obs += 1;
            let side = match (y, cl) {
                (Some(y), Some(cl)) if y > cl => true,
                (Some(y), Some(cl)) if y < cl => false,
                _ => continue,
            };
            match runs.last_mut() {
                Some(length) if last_side == Some(side) => *length += 1,
                _ => runs.push(1),
            }
            last_side = Some(side);
        }
        let n_useful: usize = runs.iter().sum();
        let Some(&longest_run) = runs.iter().max() else {
            return RunsAnalysis {
                n_obs,
                n_useful,
                longest_run: None,
                longest_run_max: None,
                n_crossings: None,
                n_crossings_min: None,
                signal: false,
            };
        };
        let longest_run_max = (n_useful as f64).log2().round_ties_even() as usize + 3;
        let n_crossings = runs.len() - 1;
        let n_crossings_min = binomial_quantile(0.05, (n_useful - 1) as u64, 0.5) as usize;
        RunsAnalysis {
            n_obs,
            n_useful,
            longest_run: Some(longest_run),
            longest_run_max: Some(longest_run_max),
            n_crossings: Some(n_crossings),
            n_crossings_min: Some(n_crossings_min),
            signal: longest_run > longest_run_max || n_crossings < n_crossings_min,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(y, cl)` pairs of the values `ys` around the centre line `cl`.
    fn around(ys: &[Option<f64>], cl: f64) -> Vec<(Option<f64>, Option<f64>)> {
        ys.iter().map(|&y| (y, Some(cl))).collect()
    }

    #[test]
    fn runs_and_crossings_of_a_short_series() {
        // Sides + + - + - - - + : runs 2, 1, 1, 3, 1 -> longest 3, 4 crossings, 8 useful.
        let ys = [3.0, 4.0, 1.0, 5.0, 0.0, 1.0, 1.5, 9.0].map(Some);
        let r = RunsAnalysis::of(around(&ys, 2.0));
        assert_eq!((r.n_obs, r.n_useful), (8, 8));
        assert_eq!(r.longest_run, Some(3));
        assert_eq!(r.n_crossings, Some(4));
        // round(log2 8) + 3 = 6; qbinom(0.05, 7, 0.5) = 1 (pbinom(0, 7, .5) = 1/128,
        // pbinom(1, 7, .5) = 8/128 = 0.0625).
        assert_eq!(r.longest_run_max, Some(6));
        assert_eq!(r.n_crossings_min, Some(1));
        assert!(!r.signal);
    }

    #[test]
    fn points_on_the_centre_line_and_missing_points_are_not_useful() {
        // 2 on the line and a missing point between two runs of + : the runs join.
        let ys = [Some(3.0), Some(2.0), None, Some(3.0), Some(1.0), Some(2.0)];
        let r = RunsAnalysis::of(around(&ys, 2.0));
        assert_eq!((r.n_obs, r.n_useful), (6, 3));
        assert_eq!((r.longest_run, r.n_crossings), (Some(2), Some(1)));
        // round(log2 3) + 3 = round(1.585) + 3 = 5; qbinom(0.05, 2, 0.5) = 0.
        assert_eq!((r.longest_run_max, r.n_crossings_min), (Some(5), Some(0)));
    }

    #[test]
    fn a_long_run_or_too_few_crossings_is_a_signal() {
        // 24 useful points: at most 8 in a run, at least 8 crossings.
        let shift: Vec<Option<f64>> = (0..24)
            .map(|i| Some(if i < 9 { 1.0 } else { -1.0 }))
            .collect();
        let r = RunsAnalysis::of(around(&shift, 0.0));
        assert_eq!((r.longest_run, r.longest_run_max), (Some(15), Some(8)));
        assert!(r.signal);
        // Alternating in pairs: runs of 2, 11 crossings: no signal; in sixes: 3 crossings.
        let pairs: Vec<Option<f64>> = (0..24)
            .map(|i| Some(if (i / 2) % 2 == 0 { 1.0 } else { -1.0 }))
            .collect();
        let r = RunsAnalysis::of(around(&pairs, 0.0));
        assert_eq!(
            (r.longest_run, r.n_crossings, r.n_crossings_min),
            (Some(2), Some(11), Some(8))
        );
        assert!(!r.signal);
        let sixes: Vec<Option<f64>> = (0..24)
            .map(|i| Some(if (i / 6) % 2 == 0 { 1.0 } else { -1.0 }))
            .collect();
        let r = RunsAnalysis::of(around(&sixes, 0.0));
        assert_eq!((r.longest_run, r.n_crossings), (Some(6), Some(3)));
        assert!(r.signal);
    }

    #[test]
    fn no_useful_point_has_no_counts_and_no_signal() {
        let r = RunsAnalysis::of(around(&[Some(1.0), None, Some(1.0)], 1.0));
        assert_eq!((r.n_obs, r.n_useful), (3, 0));
        assert_eq!(
            (
                r.longest_run,
                r.longest_run_max,
                r.n_crossings,
                r.n_crossings_min
            ),
            (None, None, None, None)
        );
        assert!(!r.signal);
        // One useful point: one run, no crossing, qbinom(0.05, 0, 0.5) = 0.
        let r = RunsAnalysis::of(around(&[Some(2.0)], 1.0));
        assert_eq!(
            (
                r.longest_run,
                r.longest_run_max,
                r.n_crossings,
                r.n_crossings_min
            ),
            (Some(1), Some(3), Some(0), Some(0))
        );
    }

    #[test]
    fn the_logarithm_of_a_count_is_never_a_half_so_rounding_halves_cannot_matter() {
        for n in 1..=1_000_000u32 {
            let l = f64::from(n).log2();
            assert!((l - l.floor() - 0.5).abs() > 1e-9, "{n}");
        }
    }
}
