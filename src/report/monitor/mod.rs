//! Monitoring the LKT indicators: run charts with Anhøj's rules and Shewhart control charts
//! of monthly (or weekly) indicator series, as qicharts2 computes them.
//!
//! **Subgroups.** A series is a sequence of [`Subgroups`], each with a count and its
//! denominator (30-day readmissions among patients discharged that month; falls per 100
//! bed-days) or with one measurement. A subgroup with a missing count or denominator, or a
//! denominator of 0, has no value anywhere on the chart.
//!
//! **Run chart.** The values around their median, judged by Anhøj's runs analysis
//! ([`RunsAnalysis`]): a run on one side of the centre line longer than
//! `round(log2(n)) + 3`, or fewer crossings of it than `qbinom(0.05, n - 1, 0.5)`, of the `n`
//! points not on the centre line, signals a non-random change (a shift or a trend) without
//! assuming any distribution.
//!
//! **Control charts** ([`ChartKind`]): the p chart (proportions, binomial limits
//! `cl -/+ 3 sqrt(cl (1 - cl) / n)`), Laney's p' chart (the same widened by the
//! between-month variation `sigma_z` when large denominators make the p chart's limits too
//! narrow), the u chart (rates, Poisson limits `cl -/+ 3 sqrt(cl / n)`), and the I and MR
//! charts of measurements (limits from the average moving range). A point outside its limits
//! is a sigma signal; every control chart also carries the runs analysis of its centre line
//! (the mean or overall proportion rather than the median).
//!
//! **Parts, freeze, exclude** ([`ChartOptions`]): a chart can be split into parts after given
//! subgroups (a process change), each with its own centre line, limits and runs analysis; or
//! its centre line and limits can be computed on a baseline (`freeze`, the first K subgroups)
//! and carried on; single subgroups can be excluded from the centre line, limits and runs
//! analysis (a data-entry error) and are still drawn with their limits.
//!
//! **Equivalence.** [`Chart::compute`] gives, point by point, what qicharts2 0.8.1's
//! `qic(..., return.data = TRUE)` gives with the package attached (`library(qicharts2)`, which
//! sets screened moving ranges): the centre line, limits, sigma signals and the runs
//! analysis of every part; `tests/monitor_reference.rs` checks this against qicharts2's output
//! (`tests/reference/monitor/`). The charts are drawn by
//! [`crate::report::figures::control_chart_plot`] and
//! [`crate::report::figures::small_multiples_plot`] (one panel per unit).
//!
//! **Series from a cohort** ([`series`]): the numerator and denominator of an indicator for
//! every unit in every month or ISO week, counted from patient rows, every unit on the same
//! subgroups (for small multiples).
//!
//! **Funnel plots** ([`funnel`]): the units' indicators against their volume with exact
//! binomial (or, case-mix adjusted, Poisson) limits and overdispersion (Spiegelhalter 2005).

mod chart;
pub mod funnel;
mod limits;
mod moving_range;
mod options;
mod runs;
pub mod series;
mod subgroups;

pub use chart::{Chart, ChartKind, ChartPoint, PartRuns};
pub use options::ChartOptions;
pub use runs::RunsAnalysis;
pub use subgroups::Subgroups;
