//! The crude comparisons of seed 003: event counts reconstructed from the published whole
//! percentages (the nearest count, and every count that prints the same), and each outcome's
//! 2x2 summary.

use serde::Serialize;

use crate::core::error::{Error, Result};
use crate::effects::crude::{Summary, TwoByTwo, DEFAULT_LEVEL, MAX_COUNT};
use crate::studies::PercentCounts;

/// The source of the crude results: the slides of seed 003.
pub const RESULTS_SOURCE: &str =
    "seed 003, slides 'Træning for Livet - resultater' (control n=137, intervention n=135)";

/// Patients in the control (usual-care) group, as published in seed 003.
pub const N_CONTROL: u64 = 137;
/// Patients in the intervention group, as published in seed 003.
pub const N_INTERVENTION: u64 = 135;

/// The outcomes of seed 003 as published: whole percentages of the control and intervention
/// groups.
pub const PUBLISHED: [PublishedOutcome; 3] = [
    PublishedOutcome {
        outcome: "30-day readmission",
        control_percent: 10.0,
        intervention_percent: 7.0,
    },
    PublishedOutcome {
        outcome: "30-day mortality",
        control_percent: 3.0,
        intervention_percent: 4.0,
    },
    PublishedOutcome {
        outcome: "1-year mortality",
        control_percent: 8.0,
        intervention_percent: 8.0,
    },
];

/// One outcome of seed 003 as published.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PublishedOutcome {
    /// The outcome, e.g. `30-day readmission`.
    pub outcome: &'static str,
    /// Published percentage of the control group (whole percent).
    pub control_percent: f64,
    /// Published percentage of the intervention group (whole percent).
    pub intervention_percent: f64,
}

/// An event count reconstructed from a published percentage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReconstructedCount {
    /// The published percentage.
    pub published_percent: f64,
    /// The group size.
    pub n: u64,
    /// The integer nearest to `published_percent / 100 x n` (halves away from zero).
    pub count: u64,
    /// `100 x count / n`.
    pub percent: f64,
    /// The lowest and highest count whose percentage rounds to the published one (at its whole
    /// percent; every count between them does too), `None` if no count does. It contains
    /// `count` when the reconstruction is consistent.
    pub consistent: Option<(u64, u64)>,
}

/// The event count nearest to `percent`% of `n` patients, with the counts that print as the same
/// whole percentage (see [`ReconstructedCount`] and [`PercentCounts`]). Errors if `percent` is
/// not in [0, 100] or `n` is 0 or above [`MAX_COUNT`], the largest group of [`TwoByTwo`].
pub fn reconstruct_count(percent: f64, n: u64) -> Result<ReconstructedCount> {
    let counts = PercentCounts::new(percent, 0, n)?;
    if n == 0 || n > MAX_COUNT {
        return Err(Error::invalid(
            "n",
            format!("a group of {n} patients is not in 1..={MAX_COUNT}"),
        ));
    }
    Ok(ReconstructedCount {
        published_percent: percent,
        n,
        count: counts.nearest,
        percent: 100.0 * counts.nearest as f64 / n as f64,
        consistent: counts.consistent,
    })
}

/// One crude comparison of seed 003 from its reconstructed counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrudeComparison {
    /// The outcome, e.g. `30-day readmission`.
    pub outcome: String,
    /// The intervention group's reconstructed count.
    pub intervention: ReconstructedCount,
    /// The control group's reconstructed count.
    pub control: ReconstructedCount,
    /// Every measure of the 2x2 table (intervention as treated) at 95%.
    pub summary: Summary,
}

impl CrudeComparison {
    /// The comparison of a published outcome with groups of `n_intervention` and `n_control`.
    pub fn new(published: &PublishedOutcome, n_intervention: u64, n_control: u64) -> Result<Self> {
        let intervention = reconstruct_count(published.intervention_percent, n_intervention)?;
        let control = reconstruct_count(published.control_percent, n_control)?;
        let signed = |k: u64| i64::try_from(k).map_err(|_| Error::invalid("n", "too large"));
        let table = TwoByTwo::new(
            signed(intervention.count)?,
            signed(n_intervention)?,
            signed(control.count)?,
            signed(n_control)?,
        )?;
        Ok(CrudeComparison {
            outcome: published.outcome.to_string(),
            intervention,
            control,
            summary: table.summary(DEFAULT_LEVEL)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_nearest_to_the_percentage() {
        let r = reconstruct_count(7.0, 135).unwrap();
        assert_eq!((r.count, r.consistent), (9, Some((9, 10))));
        assert!((r.percent - 100.0 / 15.0).abs() < 1e-12);
        assert_eq!(
            reconstruct_count(10.0, 137).unwrap().consistent,
            Some((14, 14))
        );
        assert_eq!(reconstruct_count(0.0, 10).unwrap().count, 0);
        assert!(reconstruct_count(101.0, 10).is_err());
        assert!(reconstruct_count(f64::NAN, 10).is_err());
        assert!(reconstruct_count(5.0, 0).is_err());
        // The lowest and highest of the counts of 0..=n that print as the percentage.
        for (percent, n) in [(7.0, 135), (0.0, 137), (100.0, 40), (50.0, 3), (33.0, 1000)] {
            let all: Vec<u64> = (0..=n)
                .filter(|&k| (100.0 * k as f64 / n as f64).round() == percent)
                .collect();
            let ends = all.first().map(|low| (*low, *all.last().unwrap()));
            let r = reconstruct_count(percent, n).unwrap();
            assert_eq!(r.consistent, ends, "{percent}% of {n}");
        }
        assert_eq!(reconstruct_count(50.0, 3).unwrap().consistent, None);
        let (low, high) = reconstruct_count(3.0, MAX_COUNT)
            .unwrap()
            .consistent
            .unwrap();
        assert_eq!((low, high), (250_000, 349_999));
        assert!(reconstruct_count(3.0, MAX_COUNT + 1).is_err());
    }
}
