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
//! A study's estimates, published or not, are also written as a tidy CSV table
//! ([`ReportedEstimate`], [`estimates_csv`]), and its report files are written into their
//! directory all at once or not at all (`write_files`).
//!
//! Studies:
//! - [`kth_rollout`]: the regional rollout of Kom Trygt Hjem in three southern Danish health
//!   clusters, its analysis end to end and a synthetic cohort with the published margins.
//! - [`lkt`]: the national learning and quality team's 11 local teams and their four result
//!   indicators, monitored with run, control and funnel charts on a synthetic cohort.
//! - [`traening_for_livet`]: Træning for Livet (a stepped-wedge trial of 6 municipalities),
//!   its crude results reconstructed from their published percentages, a synthetic trial of
//!   its design, and the KTH 2.0 schedule on Funen.

pub mod kth_rollout;
pub mod lkt;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

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
    /// The model that computed the reproduced value (e.g. its formula); empty for counts and
    /// crude percentages.
    pub model: String,
    /// How the reproduced value, and its interval if it has one, was computed.
    pub method: String,
    /// The reproduced value's confidence interval `(low, high)`, where it has one (an infinite
    /// end for an interval open on that side).
    pub interval: Option<(f64, f64)>,
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
            model: String::new(),
            method: String::new(),
            interval: None,
        }
    }

    /// This row with the model and the method that computed the reproduced value.
    pub fn computed(mut self, model: impl Into<String>, method: impl Into<String>) -> Self {
        self.model = model.into();
        self.method = method.into();
        self
    }

    /// This row with the reproduced value's confidence interval.
    pub fn interval(mut self, interval: Option<(f64, f64)>) -> Self {
        self.interval = interval;
        self
    }
}

/// One estimate of a study's report, a row of its `estimates.csv` ([`estimates_csv`]): what it
/// is, the model and method behind it, the estimate and its interval, and, where there is a
/// published value, that value, its source and whether the estimate agrees with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportedEstimate {
    /// What the number is, as the report prints it (e.g. `30-day mortality, adjusted OR`).
    pub quantity: String,
    /// The model (e.g. its formula); empty for counts and crude percentages.
    pub model: String,
    /// The estimate.
    pub estimate: f64,
    /// The confidence interval `(low, high)`, if it has one.
    pub interval: Option<(f64, f64)>,
    /// How the estimate and its interval were computed.
    pub method: String,
    /// The published value, where there is one.
    pub published: Option<PublishedValue>,
}

/// A published value beside a [`ReportedEstimate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedValue {
    /// The value.
    pub value: f64,
    /// Where it was published.
    pub source: String,
    /// Whether the estimate is within the tolerance of its reproduction table row.
    pub within_tolerance: bool,
}

impl ReportedEstimate {
    /// An estimate without a published value.
    pub fn new(
        quantity: impl Into<String>,
        model: impl Into<String>,
        estimate: f64,
        interval: Option<(f64, f64)>,
        method: impl Into<String>,
    ) -> Self {
        ReportedEstimate {
            quantity: quantity.into(),
            model: model.into(),
            estimate,
            interval,
            method: method.into(),
            published: None,
        }
    }
}

impl From<&Reproduced> for ReportedEstimate {
    /// The reproduced value of a row of a reproduction table, with the published value.
    fn from(row: &Reproduced) -> Self {
        ReportedEstimate {
            published: Some(PublishedValue {
                value: row.published,
                source: row.source.clone(),
                within_tolerance: row.within,
            }),
            ..ReportedEstimate::new(
                row.quantity.clone(),
                row.model.clone(),
                row.reproduced,
                row.interval,
                row.method.clone(),
            )
        }
    }
}

/// The header of [`estimates_csv`].
pub const ESTIMATES_HEADER: [&str; 9] = [
    "quantity",
    "model",
    "estimate",
    "ci_low",
    "ci_high",
    "method",
    "published",
    "source",
    "within_tolerance",
];

/// `estimates` as CSV text: the header [`ESTIMATES_HEADER`], then one line per estimate.
/// Numbers are written in the shortest form that reads back to the same `f64` (`Inf`, `-Inf`
/// and `NaN` for the others); the interval's cells, and `published`, `source` and
/// `within_tolerance` (`true` or `false`) where there is no published value, are empty; fields
/// are quoted where they need it (RFC 4180).
pub fn estimates_csv(estimates: &[ReportedEstimate]) -> Result<String> {
    let records = estimates.iter().map(|e| {
        let (low, high) = e.interval.unzip();
        let (published, source, within) = match &e.published {
            Some(p) => (
                Some(p.value),
                p.source.clone(),
                p.within_tolerance.to_string(),
            ),
            None => (None, String::new(), String::new()),
        };
        vec![
            e.quantity.clone(),
            e.model.clone(),
            csv_number(Some(e.estimate)),
            csv_number(low),
            csv_number(high),
            e.method.clone(),
            csv_number(published),
            source,
            within,
        ]
    });
    csv_text("estimates.csv", &ESTIMATES_HEADER, records)
}

/// CSV text (RFC 4180 quoting) of `header` and `records`; errors name the report file `file`.
fn csv_text(
    file: &str,
    header: &[&str],
    records: impl IntoIterator<Item = Vec<String>>,
) -> Result<String> {
    let io = |e: csv::Error| Error::Io {
        file: file.into(),
        source: e.into(),
    };
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(header).map_err(io)?;
    for record in records {
        w.write_record(&record).map_err(io)?;
    }
    let bytes = w.into_inner().map_err(|e| Error::Io {
        file: file.into(),
        source: e.into_error(),
    })?;
    String::from_utf8(bytes).map_err(|e| Error::Numerical {
        what: file.into(),
        message: e.to_string(),
    })
}

/// A number for a report's CSV: empty for none, `Inf`, `-Inf` and `NaN` as R reads them.
fn csv_number(v: Option<f64>) -> String {
    match v {
        None => String::new(),
        Some(v) if v.is_nan() => "NaN".into(),
        Some(v) if v.is_infinite() => if v > 0.0 { "Inf" } else { "-Inf" }.into(),
        Some(v) => format!("{v}"),
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

/// Numbers the temporary directories of this process, so that threads writing reports at the
/// same time use different names.
static SIDE_DIRECTORIES: AtomicUsize = AtomicUsize::new(0);

/// Writes each `(file name, text)` of `files` as the directory `dir`, all at once or not at all
/// (see [`write_files_with`]), and returns the paths written.
fn write_files<N: AsRef<str>>(dir: &Path, files: Vec<(N, String)>) -> Result<Vec<PathBuf>> {
    write_files_with(dir, files, write_synced)
}

/// Writes `text` into a new file at `path` and waits until it is on the disk.
fn write_synced(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Waits until the entries of the directory `dir` are on the disk (on Unix; elsewhere a
/// directory cannot be opened to be synced, and this does nothing).
fn sync_directory(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes the report `files` as the directory `dir`, each file by `write`, so that `dir` ends up
/// holding the whole report or is left as it was:
/// 1. every file is written into a new temporary directory beside `dir` (same parent, named
///    `.{name}.tmp-{process id}-{k}`), which is then synced;
/// 2. if `dir` does not exist, the temporary directory is renamed to it; if it does, it must be
///    an old report (a directory holding nothing but files with the report's file names), which
///    is renamed away (`.{name}.old-{process id}-{k}`), the temporary directory renamed to
///    `dir`, and the old report removed.
///
/// On a failure before the new report is in place, the temporary directory is removed and `dir`
/// is as it was (an old report is put back if the second rename fails). The parent of `dir` is
/// created if needed; `.` and `..` are resolved to the directory they name.
///
/// Errors: [`Error::Io`] naming `dir` or the report file that could not be made (or, once the
/// new report is in place, the old one that could not be removed);
/// [`Error::InvalidArgument`] when `dir` exists but is not an old report: a file, or a
/// directory holding anything else, which is never replaced.
fn write_files_with<N: AsRef<str>>(
    dir: &Path,
    files: Vec<(N, String)>,
    mut write: impl FnMut(&Path, &str) -> std::io::Result<()>,
) -> Result<Vec<PathBuf>> {
    let io = |path: &Path| {
        let file = path.display().to_string();
        move |source| Error::Io { file, source }
    };
    let dir = match dir.file_name() {
        Some(_) => dir.to_path_buf(),
        None => std::fs::canonicalize(dir).map_err(io(dir))?,
    };
    let name = dir
        .file_name()
        .ok_or_else(|| {
            Error::invalid("dir", "the file system's root cannot be a report directory")
        })?
        .to_string_lossy()
        .into_owned();
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(&dir))?;
    let k = SIDE_DIRECTORIES.fetch_add(1, Ordering::Relaxed);
    let beside = |what: &str| parent.join(format!(".{name}.{what}-{}-{k}", std::process::id()));
    let temporary = beside("tmp");
    std::fs::create_dir(&temporary).map_err(io(&dir))?;
    let mut fill_and_swap = || -> Result<Vec<PathBuf>> {
        for (file, text) in &files {
            let file = file.as_ref();
            write(&temporary.join(file), text).map_err(io(&dir.join(file)))?;
        }
        sync_directory(&temporary).map_err(io(&dir))?;
        match std::fs::symlink_metadata(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::rename(&temporary, &dir).map_err(io(&dir))?;
            }
            Err(e) => return Err(io(&dir)(e)),
            Ok(_) => {
                check_old_report(&dir, &files)?;
                let old = beside("old");
                std::fs::rename(&dir, &old).map_err(io(&dir))?;
                if let Err(e) = std::fs::rename(&temporary, &dir) {
                    std::fs::rename(&old, &dir).map_err(io(&old))?;
                    return Err(io(&dir)(e));
                }
                std::fs::remove_dir_all(&old).map_err(io(&old))?;
            }
        }
        sync_directory(&parent).map_err(io(&parent))?;
        Ok(files
            .iter()
            .map(|(file, _)| dir.join(file.as_ref()))
            .collect())
    };
    let written = fill_and_swap();
    if written.is_err() && temporary.exists() {
        // The failure is what the caller needs to hear of; a temporary directory that cannot be
        // removed either is named by no error.
        let _ = std::fs::remove_dir_all(&temporary);
    }
    written
}

/// Checks that the existing `dir` is an old report that [`write_files_with`] may replace: a
/// directory (not a link to one) holding only files named as files of the report.
fn check_old_report<N: AsRef<str>>(dir: &Path, files: &[(N, String)]) -> Result<()> {
    let io = |source| Error::Io {
        file: dir.display().to_string(),
        source,
    };
    let refuse = |what: String| {
        Error::invalid(
            "dir",
            format!(
                "'{}' {what}, so it is not an old report and is left as it is: write the report \
                 into a new or empty directory",
                dir.display()
            ),
        )
    };
    if !std::fs::symlink_metadata(dir).map_err(io)?.is_dir() {
        return Err(refuse("is a file or a link, not a directory".into()));
    }
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let is_file = entry.file_type().map_err(io)?.is_file();
        if !is_file || !files.iter().any(|(file, _)| name == file.as_ref()) {
            return Err(refuse(format!(
                "holds '{}', which is not a file of the report",
                name.to_string_lossy()
            )));
        }
    }
    Ok(())
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

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The files in `dir` with their text, sorted by name.
    fn contents(dir: &Path) -> Vec<(String, String)> {
        names(dir)
            .into_iter()
            .map(|n| {
                let text = std::fs::read_to_string(dir.join(&n)).unwrap();
                (n, text)
            })
            .collect()
    }

    #[test]
    fn reports_are_written_whole_or_not_at_all() {
        let base =
            std::env::temp_dir().join(format!("stepwedge_write_files_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let files = || {
            ["a.svg", "b.svg", "c.csv", "d.json"]
                .map(|name| (name, format!("new {name}")))
                .to_vec()
        };
        // Writes like the real writer, except that the third write fails.
        let third_fails = || {
            let mut calls = 0;
            move |path: &Path, text: &str| {
                calls += 1;
                if calls == 3 {
                    return Err(std::io::Error::other("disk full"));
                }
                write_synced(path, text)
            }
        };
        // A new directory is not made, and no temporary directory is left.
        let fresh = base.join("fresh");
        match write_files_with(&fresh, files(), third_fails()).unwrap_err() {
            Error::Io { file, source } => {
                assert!(file.ends_with("c.csv"), "{file}");
                assert_eq!(source.to_string(), "disk full");
            }
            other => panic!("{other}"),
        }
        assert!(!fresh.exists());
        assert_eq!(names(&base), Vec::<String>::new());
        // An old report is left as it was.
        let report = base.join("report");
        std::fs::create_dir(&report).unwrap();
        std::fs::write(report.join("a.svg"), "old a").unwrap();
        std::fs::write(report.join("d.json"), "old d").unwrap();
        let old = contents(&report);
        assert!(write_files_with(&report, files(), third_fails()).is_err());
        assert_eq!(contents(&report), old);
        assert_eq!(names(&base), ["report"]);
        // Without a failure the old report is replaced whole, and nothing else is left.
        let written = write_files(&report, files()).unwrap();
        assert_eq!(written[2], report.join("c.csv"));
        let expected: Vec<(String, String)> = files()
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .collect();
        assert_eq!(contents(&report), expected);
        assert_eq!(names(&base), ["report"]);
        let written = write_files(&fresh, files()).unwrap();
        assert_eq!(names(&fresh), ["a.svg", "b.svg", "c.csv", "d.json"]);
        assert_eq!(written.len(), 4);
        // A directory with anything else in it is never replaced.
        std::fs::write(report.join("notes.txt"), "mine").unwrap();
        match write_files(&report, files()).unwrap_err() {
            Error::InvalidArgument { message, .. } => {
                assert!(message.contains("'notes.txt'"), "{message}")
            }
            other => panic!("{other}"),
        }
        assert_eq!(
            std::fs::read_to_string(report.join("notes.txt")).unwrap(),
            "mine"
        );
        assert_eq!(names(&base), ["fresh", "report"]);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn estimates_as_csv() {
        let published = Reproduced::new(
            "x, \"quoted\"",
            0.6,
            "0.60",
            "S1, p. 2",
            0.61,
            Tolerance::Relative(0.02),
        )
        .computed("y ~ x", "Wald CI")
        .interval(Some((0.4, f64::INFINITY)));
        let rows = [
            ReportedEstimate::from(&published),
            ReportedEstimate::new("plain", "", 0.1 + 0.2, None, "count"),
        ];
        let text = estimates_csv(&rows).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], ESTIMATES_HEADER.join(","));
        assert_eq!(
            lines[1],
            "\"x, \"\"quoted\"\"\",y ~ x,0.61,0.4,Inf,Wald CI,0.6,\"S1, p. 2\",true"
        );
        assert_eq!(lines[2], "plain,,0.30000000000000004,,,count,,,");
        assert_eq!(lines.len(), 3);
    }
}
