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
//! Studies:
//! - [`traening_for_livet`]: Træning for Livet (a stepped-wedge trial of 6 municipalities),
//!   its crude results reconstructed from their published percentages, a synthetic trial of
//!   its design, and the KTH 2.0 schedule on Funen.

pub mod kth_rollout;

use std::fmt;

use serde::Serialize;

pub mod traening_for_livet;

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
        let digits = format!("{:.0}", value.abs());
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let sign = if value < 0.0 { "-" } else { "" };
        return format!("{sign}{grouped}");
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
