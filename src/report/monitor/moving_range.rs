//! The standard deviation of a series estimated from its moving ranges, the sigma of the I
//! chart and of Laney's p' chart.

/// D4 for moving ranges of two points: the upper control limit of a moving range is 3.267
/// times the average moving range (the MR chart's limit, and the screening limit below).
pub(super) const D4: f64 = 3.267;

/// d2 for moving ranges of two points: the expected range of two independent standard normal
/// values, 1.128, so that `sigma = average moving range / 1.128`.
const D2: f64 = 1.128;

/// `sigma = mean(MR) / 1.128` of `values` in order, the moving ranges `MR_i = |v_i - v_(i-1)|`
/// of neighbours in the slice, as qicharts2's `qic.i` and `qic.pp`:
/// - a missing value (`None`) stays in its place, so the two moving ranges next to it are
///   missing and dropped (the caller removes excluded points from the slice before, so that
///   the moving ranges bridge them);
/// - `screened` (Nelson 1982; qicharts2's option `qic.screenedmr`, set when the package is
///   attached with `library()`): the moving ranges of at least `3.267 mean(MR)` are dropped
///   and the rest averaged again.
///
/// `None` if there is no moving range to average: no two neighbouring values, or, screened,
/// every moving range 0 (qicharts2 gives missing limits in both cases).
pub(super) fn moving_range_sigma(values: &[Option<f64>], screened: bool) -> Option<f64> {
    let ranges: Vec<f64> = values
        .windows(2)
        .filter_map(|w| Some((w[1]? - w[0]?).abs()))
        .collect();
    let mut average = mean(&ranges)?;
    if screened {
        let limit = D4 * average;
        let kept: Vec<f64> = ranges.into_iter().filter(|&r| r < limit).collect();
        average = mean(&kept)?;
    }
    Some(average / D2)
}

/// The mean of `values`, `None` if there are none.
fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_value_drops_both_its_moving_ranges() {
        // MRs: |3-1| = 2, (3, None), (None, 2), |6-2| = 4, |4-6| = 2 -> mean 8/3.
        let v = [Some(1.0), Some(3.0), None, Some(2.0), Some(6.0), Some(4.0)];
        let sigma = moving_range_sigma(&v, false).unwrap();
        assert!((sigma - 8.0 / 3.0 / 1.128).abs() < 1e-15);
        // Screening keeps MRs below 3.267 * 8/3 = 8.712: all of them.
        assert_eq!(moving_range_sigma(&v, true), Some(sigma));
    }

    #[test]
    fn screening_drops_large_moving_ranges_and_averages_again() {
        // MRs 1, 1, 1, 1, 1, 1, 1, 1, 1, 20: mean 2.9, limit 9.474; 20 dropped -> mean 1.
        let mut v: Vec<Option<f64>> = (0..10).map(|i| Some(f64::from(i % 2))).collect();
        v.push(Some(21.0));
        let unscreened = moving_range_sigma(&v, false).unwrap();
        assert!((unscreened - 2.9 / 1.128).abs() < 1e-14);
        let screened = moving_range_sigma(&v, true).unwrap();
        assert!((screened - 1.0 / 1.128).abs() < 1e-15);
    }

    #[test]
    fn no_moving_range_or_all_zero_when_screened_is_none() {
        assert_eq!(
            moving_range_sigma(&[Some(1.0), None, Some(2.0)], false),
            None
        );
        assert_eq!(moving_range_sigma(&[Some(1.0)], true), None);
        assert_eq!(moving_range_sigma(&[Some(2.0); 4], false), Some(0.0));
        assert_eq!(moving_range_sigma(&[Some(2.0); 4], true), None);
    }
}
