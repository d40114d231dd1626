//! Reproductions of published evaluations: each row sets a published number, as printed and
//! with its source, beside the number this library computes, and says whether the two agree
//! within a stated tolerance.
//!
//! A tolerance is one of
//! - [`Tolerance::Relative`]`(r)`: `|reproduced - published| <= r |published|`;
//! - [`Tolerance::Absolute`]`(a)`: `|reproduced - published| <= a`;
//! - [`Tolerance::Rounds { decimals }`](Tolerance::Rounds): the reproduced number, rounded
//!   half away from zero to the published number of decimals, is the published number (a
//!   percentage printed as 18.6% is reproduced by 18.55 up to, not including, 18.65).
//!
//! Where a study publishes a percentage but not its count, [`PercentCounts`] gives the counts
//! that print as it: the nearest count and the run of counts that round to it.
//!
//! Studies:
//! - [`kth_rollout`]: the regional rollout of Kom Trygt Hjem in three southern Danish health
//!   clusters, its analysis end to end and a synthetic cohort with the published margins.
//! - [`traening_for_livet`]: Træning for Livet (a stepped-wedge trial of 6 municipalities),
//!   its crude results reconstructed from their published percentages, a synthetic trial of
//!   its design, and the KTH 2.0 schedule on Funen.

pub mod kth_rollout;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::core::error::{Error, Result};
use crate::report::figures::group_thousands;

pub mod traening_for_livet;

/// Most decimals of a published percentage that [`PercentCounts::new`] takes.
pub const MAX_PERCENT_DECIMALS: u32 = 15;

/// The event counts among `n` patients that a published percentage allows.
///
/// A count `k` prints as the percentage when `100 k / n`, rounded half away from zero to the
/// published decimals, is the published percentage (rounded the same way). This is decided
/// exactly, in integers: with `S = 100 x 10^decimals` and `t` the published percentage in units
/// of `10^-decimals` percent, `k` prints as it exactly when `n (2t - 1) <= 2 S k < n (2t + 1)`,
/// so the counts that do are a run of consecutive counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PercentCounts {
    /// The integer nearest to `percent / 100 x n` (halves away from zero).
    pub nearest: u64,
    /// The lowest and highest count of `0..=n` that prints as the percentage (every count
    /// between them does too); `None` if no count does, as for `n = 0`.
    pub consistent: Option<(u64, u64)>,
}

impl PercentCounts {
    /// The counts among `n` for `percent`, published with `decimals` decimals. Errors if
    /// `percent` is not in [0, 100] or `decimals` is above [`MAX_PERCENT_DECIMALS`].
    pub fn new(percent: f64, decimals: u32, n: u64) -> Result<Self> {
        if !(0.0..=100.0).contains(&percent) {
            return Err(Error::invalid(
                "percent",
                format!("{percent} is not a percentage in [0, 100]"),
            ));
        }
        if decimals > MAX_PERCENT_DECIMALS {
            return Err(Error::invalid(
                "decimals",
                format!("{decimals} decimals are more than {MAX_PERCENT_DECIMALS}"),
            ));
        }
        let scale = 10u128.pow(decimals);
        let s = 100 * scale;
        let t = (percent * scale as f64).round() as u128;
        let n_wide = u128::from(n);
        // The smallest k with 2 S k >= n (2t - 1), and the largest with 2 S k < n (2t + 1).
        let low = (n_wide * (2 * t).saturating_sub(1)).div_ceil(2 * s);
        let high = ((n_wide * (2 * t + 1)).div_ceil(2 * s)).saturating_sub(1);
        let consistent =
            (n > 0 && low <= high.min(n_wide)).then(|| (low as u64, high.min(n_wide) as u64));
        Ok(PercentCounts {
            nearest: (percent / 100.0 * n as f64).round() as u64,
            consistent,
        })
    }

    /// The count that prints as the percentage nearest to `percent / 100 x n`: [`Self::nearest`]
    /// where it prints as the percentage, else the end of the run nearer to it; `None` if no
    /// count prints as it.
    pub fn nearest_consistent(&self) -> Option<u64> {
        self.consistent
            .map(|(low, high)| self.nearest.clamp(low, high))
    }
}

/// How close a reproduced number must be to the published one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Tolerance {
    /// Within this fraction of the published value.
    Relative(f64),
    /// Within this distance of the published value.
    Absolute(f64),
    /// Rounds to the published value at this many decimals.
    Rounds {
        /// Decimals of the published value.
        decimals: u32,
    },
}

impl Tolerance {
    /// Whether `reproduced` agrees with `published` (false for a non-finite `reproduced`).
    pub fn accepts(self, published: f64, reproduced: f64) -> bool {
        if !reproduced.is_finite() {
            return false;
        }
        match self {
            Tolerance::Relative(r) => (reproduced - published).abs() <= r * published.abs(),
            Tolerance::Absolute(a) => (reproduced - published).abs() <= a,
            Tolerance::Rounds { decimals } => {
                let scale = 10f64.powi(decimals as i32);
                ((reproduced * scale).round() - (published * scale).round()).abs() < 0.5
            }
        }
    }
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tolerance::Relative(r) => write!(f, "within {}%", r * 100.0),
            Tolerance::Absolute(a) => write!(f, "within {a}"),
            Tolerance::Rounds { decimals } => write!(f, "rounds to it ({decimals} dp)"),
        }
    }
}

/// One row of a reproduction table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reproduced {
    /// What the number is, e.g. `30-day mortality, adjusted OR`.
    pub quantity: String,
    /// The published value.
    pub published: f64,
    /// The published value as printed (`0.60`, `18.6%`, `ca. 161.060 DKK`).
    pub published_text: String,
    /// Where it was published.
    pub source: String,
    /// The value computed here.
    pub reproduced: f64,
    /// How close it must be.
    pub tolerance: Tolerance,
    /// Whether it is that close.
    pub within: bool,
}

impl Reproduced {
    /// A row; `within` is computed from the tolerance.
    pub fn new(
        quantity: impl Into<String>,
        published: f64,
        published_text: impl Into<String>,
        source: impl Into<String>,
        reproduced: f64,
        tolerance: Tolerance,
    ) -> Self {
        Reproduced {
            quantity: quantity.into(),
            published,
            published_text: published_text.into(),
            source: source.into(),
            reproduced,
            tolerance,
            within: tolerance.accepts(published, reproduced),
        }
    }
}

/// Rows of published numbers beside their reproductions, printed as an aligned table.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ReproductionTable {
    /// The rows, in reading order.
    pub rows: Vec<Reproduced>,
}

impl ReproductionTable {
    /// Whether every row is within its tolerance.
    pub fn all_within(&self) -> bool {
        self.rows.iter().all(|r| r.within)
    }

    /// The row of `quantity`, if there is one.
    pub fn row(&self, quantity: &str) -> Option<&Reproduced> {
        self.rows.iter().find(|r| r.quantity == quantity)
    }
}

impl fmt::Display for ReproductionTable {
    /// Columns: quantity, published (as printed), reproduced (to the published decimals plus
    /// one), tolerance, agreement; the sources follow as numbered notes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sources: Vec<&str> = Vec::new();
        let mut cells = vec![[
            "quantity".to_string(),
            "published".to_string(),
            "reproduced".to_string(),
            "tolerance".to_string(),
            "agrees".to_string(),
        ]];
        for row in &self.rows {
            let note = match sources.iter().position(|s| *s == row.source) {
                Some(i) => i + 1,
                None => {
                    sources.push(&row.source);
                    sources.len()
                }
            };
            cells.push([
                row.quantity.clone(),
                format!("{} [{note}]", row.published_text),
                format_like(row.reproduced, &row.published_text),
                row.tolerance.to_string(),
                if row.within { "yes" } else { "NO" }.to_string(),
            ]);
        }
        let widths: Vec<usize> = (0..5)
            .map(|c| {
                cells
                    .iter()
                    .map(|r| r[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &cells {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (cell, w))| {
                    let pad = w - cell.chars().count();
                    if c == 0 {
                        format!("{cell}{}", " ".repeat(pad))
                    } else {
                        format!("{}{cell}", " ".repeat(pad))
                    }
                })
                .collect();
            writeln!(f, "{}", line.join("  ").trim_end())?;
        }
        for (i, source) in sources.iter().enumerate() {
            writeln!(f, "[{}] {source}", i + 1)?;
        }
        Ok(())
    }
}

/// Writes each `(file name, text)` of `files` into `dir`, creating it (and its parents) if
/// needed, and returns the paths written. Errors ([`Error::Io`]) name the directory or file that
/// could not be made.
fn write_files(dir: &Path, files: Vec<(&'static str, String)>) -> Result<Vec<PathBuf>> {
    let io = |path: &Path| {
        let file = path.display().to_string();
        move |source| Error::Io { file, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    files
        .into_iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(io(&path))?;
            Ok(path)
        })
        .collect()
}

/// `value` with one more decimal than the number written in `published` (digits after a `.`),
/// or with none and thousands separated by commas where the published number is 1,000 or more
/// (`161,060`); with a `%` if the published text has one.
fn format_like(value: f64, published: &str) -> String {
    if !value.is_finite() {
        return "-".to_string();
    }
    let number: String = published
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .collect();
    if number.contains(',') || value.abs() >= 1000.0 {
        return group_thousands(&format!("{:.0}", value.abs()), value < 0.0);
    }
    let decimals = number.rsplit_once('.').map_or(0, |(_, d)| d.len()) + 1;
    let percent = if published.contains('%') { "%" } else { "" };
    format!("{value:.decimals$}{percent}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerances() {
        assert!(Tolerance::Relative(0.02).accepts(0.60, 0.611));
        assert!(!Tolerance::Relative(0.02).accepts(0.60, 0.613));
        assert!(Tolerance::Absolute(0.05).accepts(0.37, 0.41));
        assert!(!Tolerance::Absolute(0.05).accepts(0.37, 0.43));
        assert!(Tolerance::Rounds { decimals: 1 }.accepts(18.6, 18.55));
        assert!(Tolerance::Rounds { decimals: 1 }.accepts(18.6, 18.6489));
        assert!(!Tolerance::Rounds { decimals: 1 }.accepts(18.6, 18.65));
        assert!(!Tolerance::Relative(0.5).accepts(1.0, f64::NAN));
    }

    #[test]
    fn counts_that_print_as_a_percentage() {
        let counts = |percent, decimals, n| PercentCounts::new(percent, decimals, n).unwrap();
        // Every count of 0..=n, rounded by hand in integers, against the run.
        for (percent, decimals, n) in [
            (7.0, 0, 135),
            (10.0, 0, 137),
            (0.0, 0, 137),
            (100.0, 0, 40),
            (50.0, 0, 3),
            (33.0, 0, 1000),
            (6.3, 1, 318),
            (6.3, 1, 311),
            (18.6, 1, 524),
            (0.1, 1, 1500),
            (12.35, 2, 2000),
        ] {
            let scale = 10u64.pow(decimals);
            let target = (percent * scale as f64).round() as u64;
            let all: Vec<u64> = (0..=n)
                .filter(|&k| (200 * scale * k + n) / (2 * n) == target)
                .collect();
            let ends = all.first().zip(all.last()).map(|(l, h)| (*l, *h));
            assert_eq!(
                counts(percent, decimals, n).consistent,
                ends,
                "{percent}% of {n}"
            );
        }
        assert_eq!(counts(7.0, 0, 135).consistent, Some((9, 10)));
        assert_eq!(counts(6.3, 1, 318).nearest_consistent(), Some(20)); // 6.29%
        assert_eq!(counts(6.3, 1, 311).nearest_consistent(), None); // 19: 6.11%, 20: 6.43%
        assert_eq!(counts(18.6, 1, 524).nearest_consistent(), None);
        assert_eq!(counts(18.6, 1, 521).nearest_consistent(), Some(97));
        assert_eq!(counts(6.3, 1, 16).consistent, Some((1, 1))); // 6.25 rounds up
                                                                 // The nearest count does not always print as the percentage.
        let c = counts(7.0, 0, 20);
        assert_eq!((c.nearest, c.consistent), (1, None));
        assert_eq!(counts(6.3, 1, 311).nearest, 20);
        // 3.49 printed as 3%: 35 of 1000 is 3.5%, which prints as 4%; 34 is the nearest that
        // prints as 3%.
        let c = counts(3.49, 0, 1000);
        assert_eq!((c.nearest, c.nearest_consistent()), (35, Some(34)));
        assert_eq!(counts(5.0, 0, 0).consistent, None);
        assert_eq!(
            counts(3.0, 0, 10_000_000).consistent,
            Some((250_000, 349_999))
        );
        assert!(PercentCounts::new(101.0, 0, 10).is_err());
        assert!(PercentCounts::new(f64::NAN, 0, 10).is_err());
        assert!(PercentCounts::new(5.0, MAX_PERCENT_DECIMALS + 1, 10).is_err());
        let most = PercentCounts::new(100.0, MAX_PERCENT_DECIMALS, u64::MAX).unwrap();
        assert_eq!(most.consistent, Some((u64::MAX - 92, u64::MAX)));
    }

    #[test]
    fn table_lists_sources_once() {
        let table = ReproductionTable {
            rows: vec![
                Reproduced::new(
                    "a",
                    8.0,
                    "8.0%",
                    "S1",
                    8.015,
                    Tolerance::Rounds { decimals: 1 },
                ),
                Reproduced::new("b", 0.6, "0.60", "S1", 0.7, Tolerance::Relative(0.02)),
            ],
        };
        let text = table.to_string();
        assert!(
            text.contains("8.0% [1]") && text.contains("8.02%"),
            "{text}"
        );
        assert!(text.contains("0.700") && text.contains("NO"), "{text}");
        assert_eq!(format_like(161_064.54, "161,060 DKK"), "161,065");
        assert_eq!(format_like(-2_085.0, "2085"), "-2,085");
        assert_eq!(format_like(19.04, "19"), "19.0");
        assert_eq!(text.matches("[1] S1").count(), 1, "{text}");
        assert!(!table.all_within());
    }
}
