//! What a chart is computed over: its parts, its baseline (freeze) and the points left out of
//! the centre line (exclude), as qicharts2's `part`, `freeze` and `exclude` arguments, and the
//! scale of its values (`multiply`).

use std::ops::Range;

use crate::core::error::{Error, Result};

/// The options of a run or control chart; positions are 1-based, like qicharts2's
/// arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartOptions {
    /// `freeze = K`: the centre line and limits come from subgroups 1 to K (the baseline) and
    /// are carried on over the rest. Ignored when `parts` are given, as in qicharts2. At least
    /// 2 and at most the number of subgroups.
    pub freeze: Option<usize>,
    /// `part = k`: a new part starts after subgroup k (several allowed, each in 1 to the number
    /// of subgroups - 1, no repeats, any order); each part has its own centre line, limits and
    /// runs analysis.
    pub parts: Vec<usize>,
    /// Subgroups left out of the centre line, the limits' sigma and the runs analysis; they
    /// are still drawn, with limits and a sigma signal.
    pub exclude: Vec<usize>,
    /// A factor for the values, centre line and limits, applied after every calculation (100
    /// for percent); finite and positive. Default 1.
    pub multiply: f64,
    /// Screened moving ranges for the sigma of the I and Laney p' charts (default `true`, as
    /// qicharts2 when attached with `library()`): moving ranges of at least 3.267 times their
    /// mean are dropped before sigma is estimated.
    pub screened_moving_ranges: bool,
}

impl Default for ChartOptions {
    fn default() -> Self {
        ChartOptions {
            freeze: None,
            parts: Vec::new(),
            exclude: Vec::new(),
            multiply: 1.0,
            screened_moving_ranges: true,
        }
    }
}

/// Where each point of a chart of `len` subgroups belongs (0-based indices).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Layout {
    /// The parts' index ranges, in order, covering every point.
    pub parts: Vec<Range<usize>>,
    /// Whether each point is in the baseline (position <= freeze; all without freeze).
    pub baseline: Vec<bool>,
    /// Whether each point is included (not excluded).
    pub include: Vec<bool>,
}

impl ChartOptions {
    /// The layout of a chart of `len` subgroups under these options, as qicharts2 lays out
    /// `freeze` (positions in the whole series, not the part), `part` and `exclude`.
    ///
    /// Errors ([`Error::InvalidArgument`], naming `freeze`, `part`, `exclude` or `multiply`):
    /// freeze below 2 or past the last subgroup, a part position outside 1 to `len - 1` or
    /// given twice, an exclude position outside 1 to `len`, multiply not finite and positive.
    pub(super) fn layout(&self, len: usize) -> Result<Layout> {
        if !(self.multiply.is_finite() && self.multiply > 0.0) {
            return Err(Error::invalid(
                "multiply",
                format!("is {}; a finite number above 0 is needed", self.multiply),
            ));
        }
        let mut cuts = self.parts.clone();
        cuts.sort_unstable();
        if let Some(&k) = cuts.iter().find(|&&k| k == 0 || k >= len) {
            return Err(Error::invalid(
                "part",
                format!(
                    "{k} is not a subgroup after which a part can start: 1 to {} for {len} \
                     subgroups",
                    len.saturating_sub(1)
                ),
            ));
        }
        if let Some(w) = cuts.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::invalid("part", format!("{} is given twice", w[0])));
        }
        if let Some(&k) = self.exclude.iter().find(|&&k| k == 0 || k > len) {
            return Err(Error::invalid(
                "exclude",
                format!("{k} is not a subgroup: 1 to {len}"),
            ));
        }
        let freeze = match self.freeze {
            Some(k) if cuts.is_empty() => {
                if !(2..=len).contains(&k) {
                    return Err(Error::invalid(
                        "freeze",
                        format!(
                            "{k} is not a baseline of this series: 2 to {len} subgroups (the \
                             number of subgroups)"
                        ),
                    ));
                }
                k
            }
            _ => len,
        };
        let starts = std::iter::once(0).chain(cuts.iter().copied());
        let ends = cuts.iter().copied().chain(std::iter::once(len));
        Ok(Layout {
            parts: starts.zip(ends).map(|(a, b)| a..b).collect(),
            baseline: (1..=len).map(|k| k <= freeze).collect(),
            include: (1..=len).map(|k| !self.exclude.contains(&k)).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_start_after_their_positions_in_any_order() {
        let options = ChartOptions {
            parts: vec![7, 3],
            exclude: vec![2],
            ..ChartOptions::default()
        };
        let layout = options.layout(10).unwrap();
        assert_eq!(layout.parts, vec![0..3, 3..7, 7..10]);
        assert!(layout.baseline.iter().all(|&b| b));
        assert_eq!(layout.include.iter().filter(|&&i| !i).count(), 1);
        assert!(!layout.include[1]);
    }

    #[test]
    fn freeze_is_a_position_in_the_whole_series_and_ignored_with_parts() {
        let frozen = ChartOptions {
            freeze: Some(4),
            ..ChartOptions::default()
        };
        let layout = frozen.layout(6).unwrap();
        assert_eq!(layout.parts, vec![0..6]);
        assert_eq!(layout.baseline, [true, true, true, true, false, false]);
        let with_parts = ChartOptions {
            parts: vec![3],
            ..frozen
        };
        assert!(with_parts.layout(6).unwrap().baseline.iter().all(|&b| b));
        // Ignored: even a freeze past the end.
        let with_parts = ChartOptions {
            freeze: Some(60),
            ..with_parts
        };
        assert!(with_parts.layout(6).is_ok());
    }

    #[test]
    fn positions_out_of_range_are_errors_naming_the_argument() {
        let argument = |options: ChartOptions| match options.layout(6).unwrap_err() {
            Error::InvalidArgument { argument, .. } => argument,
            other => panic!("{other}"),
        };
        let d = ChartOptions::default;
        assert_eq!(
            argument(ChartOptions {
                freeze: Some(1),
                ..d()
            }),
            "freeze"
        );
        assert_eq!(
            argument(ChartOptions {
                freeze: Some(7),
                ..d()
            }),
            "freeze"
        );
        assert_eq!(
            argument(ChartOptions {
                parts: vec![6],
                ..d()
            }),
            "part"
        );
        assert_eq!(
            argument(ChartOptions {
                parts: vec![0],
                ..d()
            }),
            "part"
        );
        assert_eq!(
            argument(ChartOptions {
                parts: vec![2, 2],
                ..d()
            }),
            "part"
        );
        assert_eq!(
            argument(ChartOptions {
                exclude: vec![7],
                ..d()
            }),
            "exclude"
        );
        assert_eq!(
            argument(ChartOptions {
                multiply: 0.0,
                ..d()
            }),
            "multiply"
        );
        assert_eq!(
            argument(ChartOptions {
                multiply: f64::NAN,
                ..d()
            }),
            "multiply"
        );
        assert!(ChartOptions {
            freeze: Some(6),
            ..d()
        }
        .layout(6)
        .is_ok());
    }
}
