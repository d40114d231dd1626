//! `spc`: a run or control chart of an indicator series from a CSV file, as qicharts2's `qic`
//! (`stepwedge::report::monitor`), or a funnel plot of units (`report::monitor::funnel`).
//!
//! ```sh
//! cargo run --release --example spc -- --data FILE.csv --y COLUMN --n COLUMN --x COLUMN \
//!     --chart run|p|pp|u|i|mr [--json] [--freeze K] [--part K,..] [--exclude K,..] \
//!     [--multiply M] [--figure FILE.svg] [--title TEXT]
//! cargo run --release --example spc -- --data FILE.csv --y COLUMN --n COLUMN \
//!     --chart funnel --unit COLUMN [--json] [--figure FILE.svg]
//! cargo run --release --example spc -- --data PATIENTS.csv --y INDICATOR --chart funnel \
//!     --unit COLUMN --case-mix "age + sex + residence + asa" [--json]
//! ```
//!
//! **Funnel** (`--chart funnel --unit COLUMN`, no `--x`): each unit's `--y` events and `--n`
//! patients summed over its rows (rows missing either left out), and the units' proportions
//! against their patients with exact binomial 95% and 99.8% limits around the overall
//! proportion (Spiegelhalter 2005); with `--case-mix COVARIATES` instead of `--n`, one row per
//! patient, `--y` 0/1, and the units' observed/expected events against their expected events
//! (expected from the logistic model `y ~ COVARIATES` fitted to all units, exact Poisson
//! limits). JSON: `{"y": "proportion"|"ratio", "target", "units": [{"unit", "n", "observed",
//! "expected", "ratio", "lower95", "upper95", "lower998", "upper998", "outside",
//! "outside95", ...}], "phi", "tau2", ...}`, the limits on the plotted scale at the unit's
//! volume, `outside` `above`|`below`|`within` at the 99.8% limits.
//!
//! **Run and control charts:**
//! The rows are grouped into subgroups by `--x` (rows with the same x are one subgroup, as
//! qic aggregates them), ordered by x: numerically for a numeric column, as text otherwise
//! (ISO months `2024-01` sort in time order). With `--n` a subgroup's count and denominator
//! are the sums of `--y` and `--n` over its rows with both present (a row with either missing
//! is left out, as qic); without `--n` (run, I and MR charts of measurements) its value is
//! the mean of its rows' `--y` (qic's default `agg.fun`). A subgroup without any such row is
//! missing. `--chart`: `run` (median and Anhøj's runs analysis), `p` (proportions), `pp`
//! (Laney's p'), `u` (rates), `i` (individuals), `mr` (moving ranges); p, pp and u need `--n`.
//! `--freeze K`: centre line and limits from subgroups 1 to K; `--part K,..`: a new part after
//! each subgroup K (each with its own centre line, limits and runs analysis; freeze is then
//! ignored); `--exclude K,..`: subgroups left out of the centre line, limits and runs
//! analysis; positions count subgroups after grouping, from 1. `--multiply M` scales values
//! and lines (100 for percent). `--figure FILE.svg` draws the chart
//! (`report::figures::control_chart_plot`), written whole or not at all.
//!
//! Output: a table of the subgroups and each part's runs analysis, or with `--json` one
//! object: `{"chart", "points": [{"x", "y", "cl", "lcl", "ucl", "sigma_signal", "n", "part",
//! "baseline", "include", "runs_signal", "longest_run", "longest_run_max", "n_crossings",
//! "n_crossings_min"}], "runs_signal", "longest_run", "longest_run_max", "n_crossings",
//! "n_crossings_min", "parts": [{"part", "first", "last", "n_obs", "n_useful", "runs_signal",
//! "longest_run", "longest_run_max", "n_crossings", "n_crossings_min"}]}` (`null` for a
//! missing value): x is a number for a numeric column and the text otherwise; each point
//! carries its part's runs analysis (as qic's data); the top-level runs fields are the last
//! part's (the chart's, with one part). Exit status 0, 1 on a user error (a missing column, a
//! count above its denominator, ...: named on stderr with the file, column and line), 2 on a
//! usage error.

use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use serde::Serialize;
use serde_json::Value;
use stepwedge::core::error::Error;
use stepwedge::core::files::write_atomically;
use stepwedge::data::{Cohort, Column};
use stepwedge::report::figures::{control_chart_plot, funnel_plot};
use stepwedge::report::monitor::funnel::{Flag, Funnel, Measure};
use stepwedge::report::monitor::{
    Chart, ChartKind, ChartOptions, ChartPoint, PartRuns, RunsAnalysis, Subgroups,
};

mod cli;
use cli::{DataFlags, Failure};

const PROGRAM: &str = "spc";

/// Run and control charts of an indicator series (as qicharts2's qic), with Anhøj's runs
/// analysis.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version)]
struct Args {
    /// The CSV file, one row per subgroup or several (summed by --x).
    #[arg(long, value_name = "FILE.csv")]
    data: String,
    /// The numerator (events) or measurement column.
    #[arg(long, value_name = "COLUMN")]
    y: String,
    /// The denominator column (patients, exposure); needed by p, pp and u charts.
    #[arg(long, value_name = "COLUMN")]
    n: Option<String>,
    /// The subgroup column (month, week, ...): rows are grouped and ordered by it (not with
    /// --chart funnel).
    #[arg(long, value_name = "COLUMN", required_if_eq_any = [
        ("chart", "run"), ("chart", "p"), ("chart", "pp"), ("chart", "u"), ("chart", "i"),
        ("chart", "mr"),
    ])]
    x: Option<String>,
    /// The chart.
    #[arg(long, value_enum)]
    chart: ChartArg,
    /// With --chart funnel: the unit column (team, hospital); rows are summed per unit.
    #[arg(long, value_name = "COLUMN", required_if_eq("chart", "funnel"))]
    unit: Option<String>,
    /// With --chart funnel: one row per patient, --y the 0/1 indicator, and the expected
    /// events of each unit from the logistic model `y ~ COVARIATES` fitted to all units
    /// (for example "age + sex + residence + asa"); the funnel is then of observed/expected.
    #[arg(
        long,
        value_name = "COVARIATES",
        requires = "unit",
        conflicts_with = "n"
    )]
    case_mix: Option<String>,
    /// Centre line and limits from subgroups 1 to K (the baseline).
    #[arg(long, value_name = "K")]
    freeze: Option<usize>,
    /// A new part after subgroup K (repeat as K,K,..); freeze is then ignored.
    #[arg(long, value_name = "K,K,..", value_delimiter = ',')]
    part: Vec<usize>,
    /// Subgroups left out of the centre line, limits and runs analysis.
    #[arg(long, value_name = "K,K,..", value_delimiter = ',')]
    exclude: Vec<usize>,
    /// Multiply values, centre lines and limits by M (100 for percent).
    #[arg(long, value_name = "M", default_value_t = 1.0)]
    multiply: f64,
    /// Draw the chart to this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    figure: Option<String>,
    /// The figure's title [default: the chart and its columns].
    #[arg(long, value_name = "TEXT", requires = "figure")]
    title: Option<String>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    data_flags: DataFlags,
}

/// The charts `--chart` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ChartArg {
    /// Run chart: median and Anhøj's runs analysis.
    Run,
    /// P chart: proportions y/n.
    P,
    /// Laney's p' chart: proportions with limits widened for overdispersion.
    Pp,
    /// U chart: rates y/n.
    U,
    /// I chart: individual values.
    I,
    /// MR chart: moving ranges.
    Mr,
    /// Funnel plot of the units (--unit) against their volume.
    Funnel,
}

impl ChartArg {
    /// The chart's name as `--chart` takes it.
    fn name(self) -> &'static str {
        match self {
            ChartArg::Run => "run",
            ChartArg::P => "p",
            ChartArg::Pp => "pp",
            ChartArg::U => "u",
            ChartArg::I => "i",
            ChartArg::Mr => "mr",
            ChartArg::Funnel => "funnel",
        }
    }
}

fn run(args: &Args) -> Result<(), Failure> {
    let cohort = args.data_flags.load(PROGRAM, &args.data)?;
    match args.chart {
        ChartArg::Run => control_chart(args, &cohort, ChartKind::Run),
        ChartArg::P => control_chart(args, &cohort, ChartKind::P),
        ChartArg::Pp => control_chart(args, &cohort, ChartKind::PPrime),
        ChartArg::U => control_chart(args, &cohort, ChartKind::U),
        ChartArg::I => control_chart(args, &cohort, ChartKind::I),
        ChartArg::Mr => control_chart(args, &cohort, ChartKind::Mr),
        ChartArg::Funnel => funnel(args, &cohort),
    }
}

/// A run or control chart of the file: its table or JSON, and its figure.
fn control_chart(args: &Args, cohort: &Cohort, kind: ChartKind) -> Result<(), Failure> {
    let Some(x) = args.x.as_deref() else {
        return Err(
            Error::invalid("--x", "a run or control chart needs the subgroup column").into(),
        );
    };
    let series = Series::of(args, cohort, x, "x")?;
    let options = ChartOptions {
        freeze: args.freeze,
        parts: args.part.clone(),
        exclude: args.exclude.clone(),
        multiply: args.multiply,
        ..ChartOptions::default()
    };
    let chart = series
        .subgroups()
        .and_then(|s| Chart::compute(&s, kind, &options))
        .map_err(|e| series.locate(e, args))?;
    if let Some(path) = &args.figure {
        let what = match &args.n {
            Some(n) => format!("{} / {n}", args.y),
            None => args.y.clone(),
        };
        let title = args
            .title
            .clone()
            .unwrap_or_else(|| format!("{} of {what} by {x}", kind.title()));
        let measured = match kind {
            ChartKind::Mr => format!("Moving range of {what}"),
            _ => what,
        };
        let y_label = if args.multiply == 1.0 {
            measured
        } else if args.multiply == 100.0 {
            format!("{measured} (%)")
        } else {
            format!("{measured} × {}", args.multiply)
        };
        write_atomically(
            path,
            control_chart_plot(&chart, &title, &y_label)?.as_bytes(),
        )?;
        cli::note(PROGRAM, format_args!("wrote {path}"));
    }
    if args.json {
        return cli::emit_json(&Output::of(&chart, &series), "the chart");
    }
    cli::emit(&table(&chart, &series, args))
}

/// A funnel plot of the file's units: their events and patients summed over their rows
/// (`Funnel::proportions`), or with `--case-mix` their observed and expected events from the
/// patient rows (`Funnel::case_mix`); its table or JSON, and its figure.
fn funnel(args: &Args, cohort: &Cohort) -> Result<(), Failure> {
    let Some(unit) = args.unit.as_deref() else {
        return Err(Error::invalid("--unit", "a funnel plot needs the unit column").into());
    };
    let funnel = match &args.case_mix {
        Some(covariates) => {
            column(cohort, &args.data, unit, "unit")?;
            column(cohort, &args.data, &args.y, "y")?;
            Funnel::case_mix(cohort, unit, &args.y, covariates)?
        }
        None => {
            let Some(n) = &args.n else {
                return Err(Error::invalid(
                    "--n",
                    "a funnel plot of proportions needs the patients column (--n), or \
                     --case-mix for one row per patient",
                )
                .into());
            };
            let series = Series::of(args, cohort, unit, "unit")?;
            let counts = |values: &[Option<f64>], name: &str| -> Result<Vec<f64>, Error> {
                values
                    .iter()
                    .zip(&series.labels)
                    .map(|(v, label)| {
                        v.ok_or_else(|| {
                            Error::invalid(
                                name,
                                format!("unit '{label}' has no row with both --y and --n"),
                            )
                        })
                    })
                    .collect()
            };
            let observed = counts(&series.y, &args.y)?;
            let patients = counts(series.n.as_deref().unwrap_or_default(), n)?;
            Funnel::proportions(series.labels.clone(), observed, patients)?
        }
    };
    if let Some(path) = &args.figure {
        let (title, y_label) = match funnel.measure {
            Measure::Proportion => (
                format!(
                    "{} / {} by {unit}",
                    args.y,
                    args.n.as_deref().unwrap_or("n")
                ),
                format!("{} / {}", args.y, args.n.as_deref().unwrap_or("n")),
            ),
            Measure::Ratio => (
                format!("{} by {unit}, case-mix adjusted", args.y),
                "Observed / expected events".to_string(),
            ),
        };
        let title = args.title.clone().unwrap_or(title);
        write_atomically(path, funnel_plot(&funnel, &title, &y_label)?.as_bytes())?;
        cli::note(PROGRAM, format_args!("wrote {path}"));
    }
    if args.json {
        return cli::emit_json(&funnel, "the funnel");
    }
    cli::emit(&funnel_table(&funnel, unit))
}

/// The funnel as a table of its units, with the overdispersion.
fn funnel_table(funnel: &Funnel, unit: &str) -> String {
    let width = funnel
        .units
        .iter()
        .map(|u| u.unit.chars().count())
        .max()
        .unwrap_or(1)
        .max(unit.len());
    let measure = match funnel.measure {
        Measure::Proportion => "proportion",
        Measure::Ratio => "O/E",
    };
    let mut text =
        format!(
        "Funnel plot of {} units: {measure} against {}, target {:.4}\n\n{:<width$}  {:>8}  {:>8}  \
         {:>9}  {:>10}  {:>9}  {:>9}  {:>9}  {:>9}  outside (99.8% / 95%)\n",
        funnel.units.len(),
        if funnel.measure == Measure::Proportion { "patients" } else { "expected events" },
        funnel.target,
        unit,
        "n",
        "observed",
        "expected",
        measure,
        "lower998",
        "lower95",
        "upper95",
        "upper998",
    );
    for u in &funnel.units {
        let flag = |f: Flag| match f {
            Flag::Above => "above",
            Flag::Below => "below",
            Flag::Within => "within",
        };
        text.push_str(&format!(
            "{:<width$}  {:>8}  {:>8}  {:>9.2}  {:>10.4}  {:>9.4}  {:>9.4}  {:>9.4}  {:>9.4}  {} / {}\n",
            u.unit,
            u.n,
            u.observed,
            u.expected,
            u.value,
            u.limits.lower998,
            u.limits.lower95,
            u.limits.upper95,
            u.limits.upper998,
            flag(u.outside),
            flag(u.outside95),
        ));
    }
    let o = &funnel.overdispersion;
    text.push_str(&format!(
        "\nOverdispersion: phi = {:.3} (10%-winsorised z-scores; test {:.2} on {} df, p = {:.4}), \
         tau2 = {:.3e}\n",
        o.phi, o.test_statistic, o.df, o.p_value, o.tau2
    ));
    text
}

/// The file's rows grouped into subgroups by x.
struct Series {
    file: String,
    /// The column the rows are grouped by (x, or the unit of a funnel).
    key: String,
    /// Each subgroup's label (its x as text) and x as JSON (a number or the text).
    labels: Vec<String>,
    keys: Vec<Value>,
    /// The first data row (0-based) of each subgroup.
    first_rows: Vec<usize>,
    y: Vec<Option<f64>>,
    /// The summed denominators, with --n.
    n: Option<Vec<Option<f64>>>,
}

impl Series {
    /// The rows of the file grouped by the column `key` (given by `--flag`).
    fn of(args: &Args, cohort: &Cohort, key: &str, flag: &str) -> Result<Series, Error> {
        let file = args.data.clone();
        if cohort.n_rows() == 0 {
            let what = format!("{file}: a {} chart", args.chart.name());
            return Err(Error::too_few(what, "data rows", 0, 1));
        }
        let x = column(cohort, &file, key, flag)?;
        let y = numbers(cohort, &file, &args.y, "y")?;
        let n = match &args.n {
            Some(name) => Some((name.as_str(), numbers(cohort, &file, name, "n")?)),
            None => None,
        };
        // Counts and denominators are numbers >= 0 in every row, before rows are summed.
        if let Some((n_name, n_values)) = n {
            for (name, values) in [(args.y.as_str(), y), (n_name, n_values)] {
                let bad = |v: &f64| !(v.is_nan() || (v.is_finite() && *v >= 0.0));
                if let Some(row) = values.iter().position(bad) {
                    let message = format!("{} is not a count (a number >= 0)", values[row]);
                    return Err(cell_error(&file, row, name, message));
                }
            }
        }
        let groups = groups(x, &file, key)?;
        let mut series = Series {
            file,
            key: key.to_string(),
            labels: Vec::new(),
            keys: Vec::new(),
            first_rows: Vec::new(),
            y: Vec::new(),
            n: n.map(|_| Vec::new()),
        };
        for (label, key, rows) in groups {
            series.first_rows.push(rows[0]);
            series.labels.push(label);
            series.keys.push(key);
            match (&mut series.n, n) {
                (Some(sums), Some((_, nv))) => {
                    let complete: Vec<usize> = rows
                        .iter()
                        .copied()
                        .filter(|&r| !y[r].is_nan() && !nv[r].is_nan())
                        .collect();
                    let sum = |v: &[f64]| {
                        (!complete.is_empty()).then(|| complete.iter().map(|&r| v[r]).sum::<f64>())
                    };
                    series.y.push(sum(y));
                    sums.push(sum(nv));
                }
                _ => {
                    let present: Vec<f64> =
                        rows.iter().map(|&r| y[r]).filter(|v| !v.is_nan()).collect();
                    series.y.push(
                        (!present.is_empty())
                            .then(|| present.iter().sum::<f64>() / present.len() as f64),
                    );
                }
            }
        }
        Ok(series)
    }

    /// The subgroups of the series: counts with --n, measurements without.
    fn subgroups(&self) -> Result<Subgroups, Error> {
        match &self.n {
            Some(n) => Subgroups::counts(self.labels.clone(), self.y.clone(), n.clone()),
            None => Subgroups::measurements(self.labels.clone(), self.y.clone()),
        }
    }

    /// A subgroup's error at the file's line and column (its first row, the column of its
    /// `y` or `n`).
    fn locate(&self, e: Error, args: &Args) -> Error {
        match e {
            Error::Subgroup {
                position,
                label,
                column,
                message,
            } => {
                let name = match (column.as_str(), &args.n) {
                    ("n", Some(n)) => n.as_str(),
                    _ => args.y.as_str(),
                };
                let row = position
                    .checked_sub(1)
                    .and_then(|i| self.first_rows.get(i))
                    .copied()
                    .unwrap_or_default();
                cell_error(
                    &self.file,
                    row,
                    name,
                    format!("subgroup {position} ({} = '{label}'): {message}", self.key),
                )
            }
            other => other,
        }
    }
}

/// An error at data row `row` (0-based; the header is line 1) of column `name` of `file`.
fn cell_error(file: &str, row: usize, name: &str, message: String) -> Error {
    Error::Csv {
        file: file.to_string(),
        line: row as u64 + 2,
        column: name.to_string(),
        message,
    }
}

/// Column `name` of the cohort (given by `--flag`); an unknown one is an error at the header.
fn column<'a>(cohort: &'a Cohort, file: &str, name: &str, flag: &str) -> Result<&'a Column, Error> {
    cohort.column(name).map_err(|e| match e {
        Error::UnknownColumn { suggestion, .. } => Error::Csv {
            file: file.to_string(),
            line: 1,
            column: name.to_string(),
            message: format!(
                "there is no such column (--{flag}); the columns are {}{}",
                cohort.names().join(", "),
                suggestion
                    .map(|s| format!("; did you mean '{s}'?"))
                    .unwrap_or_default()
            ),
        },
        other => other,
    })
}

/// The numbers of column `name` (`NaN` = missing); a text column is an error at its first
/// text cell.
fn numbers<'a>(cohort: &'a Cohort, file: &str, name: &str, flag: &str) -> Result<&'a [f64], Error> {
    let col = column(cohort, file, name, flag)?;
    col.as_numeric().ok_or_else(|| {
        let row = (0..col.len())
            .find(|&r| !col.is_missing(r))
            .unwrap_or_default();
        let text = col.label(row).unwrap_or_default();
        cell_error(
            file,
            row,
            name,
            format!("'{text}' is text; --{flag} needs a column of numbers"),
        )
    })
}

/// The rows of each subgroup in x order: `(label, x as JSON, rows)`. A missing x is an error
/// at its row.
fn groups(x: &Column, file: &str, name: &str) -> Result<Vec<(String, Value, Vec<usize>)>, Error> {
    if let Some(row) = (0..x.len()).find(|&r| x.is_missing(r)) {
        return Err(cell_error(
            file,
            row,
            name,
            "the subgroup (x) is missing".into(),
        ));
    }
    let mut rows: Vec<usize> = (0..x.len()).collect();
    let mut out: Vec<(String, Value, Vec<usize>)> = Vec::new();
    match x {
        Column::Numeric(values) => {
            rows.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
            for r in rows {
                let v = values[r];
                match out.last_mut() {
                    Some((_, Value::Number(k), group)) if k.as_f64() == Some(v) => group.push(r),
                    _ => out.push((v.to_string(), number_value(v), vec![r])),
                }
            }
        }
        Column::Categorical { codes, levels } => {
            // Levels are sorted, so code order is text order.
            rows.sort_by_key(|&r| codes[r]);
            for r in rows {
                let label = &levels[codes[r] as usize];
                match out.last_mut() {
                    Some((l, _, group)) if l == label => group.push(r),
                    _ => out.push((label.clone(), Value::from(label.as_str()), vec![r])),
                }
            }
        }
    }
    Ok(out)
}

/// A whole number as a JSON integer, any other as a JSON float.
fn number_value(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::from(v as i64)
    } else {
        Value::from(v)
    }
}

/// What `--json` prints.
#[derive(Serialize)]
struct Output {
    chart: &'static str,
    points: Vec<PointOut>,
    /// The last part's runs analysis.
    #[serde(flatten)]
    runs: RunsOut,
    parts: Vec<PartOut>,
}

#[derive(Serialize)]
struct PointOut {
    x: Value,
    y: Option<f64>,
    cl: Option<f64>,
    lcl: Option<f64>,
    ucl: Option<f64>,
    sigma_signal: bool,
    n: Option<f64>,
    part: usize,
    baseline: bool,
    include: bool,
    #[serde(flatten)]
    runs: RunsOut,
}

#[derive(Serialize)]
struct PartOut {
    part: usize,
    first: usize,
    last: usize,
    n_obs: usize,
    n_useful: usize,
    #[serde(flatten)]
    runs: RunsOut,
}

#[derive(Serialize)]
struct RunsOut {
    runs_signal: bool,
    longest_run: Option<usize>,
    longest_run_max: Option<usize>,
    n_crossings: Option<usize>,
    n_crossings_min: Option<usize>,
}

impl RunsOut {
    fn of(r: &RunsAnalysis) -> RunsOut {
        RunsOut {
            runs_signal: r.signal,
            longest_run: r.longest_run,
            longest_run_max: r.longest_run_max,
            n_crossings: r.n_crossings,
            n_crossings_min: r.n_crossings_min,
        }
    }
}

impl Output {
    fn of(chart: &Chart, series: &Series) -> Output {
        let part_of = |p: &ChartPoint| chart.parts[p.part - 1];
        let last = chart.parts[chart.parts.len() - 1];
        Output {
            chart: chart.kind.name(),
            points: chart
                .points
                .iter()
                .zip(&series.keys)
                .map(|(p, x)| PointOut {
                    x: x.clone(),
                    y: p.y,
                    cl: p.cl,
                    lcl: p.lcl,
                    ucl: p.ucl,
                    sigma_signal: p.sigma_signal,
                    n: p.n,
                    part: p.part,
                    baseline: p.baseline,
                    include: p.include,
                    runs: RunsOut::of(&part_of(p).runs),
                })
                .collect(),
            runs: RunsOut::of(&last.runs),
            parts: chart
                .parts
                .iter()
                .enumerate()
                .map(|(k, p): (usize, &PartRuns)| PartOut {
                    part: k + 1,
                    first: p.first,
                    last: p.last,
                    n_obs: p.runs.n_obs,
                    n_useful: p.runs.n_useful,
                    runs: RunsOut::of(&p.runs),
                })
                .collect(),
        }
    }
}

/// The chart as a table of its subgroups and a line per part.
fn table(chart: &Chart, series: &Series, args: &Args) -> String {
    let value = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"));
    let width = series
        .labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(1)
        .max(series.key.len());
    let mut text = format!(
        "{} of {}{} by {}, {} subgroups\n\n",
        chart.kind.title(),
        args.y,
        args.n
            .as_ref()
            .map(|n| format!(" / {n}"))
            .unwrap_or_default(),
        series.key,
        chart.points.len()
    );
    text.push_str(&format!(
        "{:<width$}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {}\n",
        series.key, "y", "n", "cl", "lcl", "ucl", "notes"
    ));
    for p in &chart.points {
        let mut notes = Vec::new();
        if p.sigma_signal {
            notes.push("outside the limits");
        }
        if !p.include {
            notes.push("excluded");
        }
        if !p.baseline {
            notes.push("after the baseline");
        }
        text.push_str(&format!(
            "{:<width$}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {}\n",
            p.label,
            value(p.y),
            p.n.map_or_else(|| "-".to_string(), |n| n.to_string()),
            value(p.cl),
            value(p.lcl),
            value(p.ucl),
            notes.join(", ")
        ));
    }
    text.push('\n');
    for (k, part) in chart.parts.iter().enumerate() {
        let r = &part.runs;
        let counts = match (
            r.longest_run,
            r.longest_run_max,
            r.n_crossings,
            r.n_crossings_min,
        ) {
            (Some(l), Some(lm), Some(c), Some(cm)) => format!(
                "longest run {l} (max {lm}), crossings {c} (min {cm}), {} useful of {}",
                r.n_useful, r.n_obs
            ),
            _ => "no point off the centre line".to_string(),
        };
        text.push_str(&format!(
            "Part {} (subgroups {} to {}): {counts}: {}\n",
            k + 1,
            part.first,
            part.last,
            if r.signal {
                "RUNS SIGNAL (non-random variation)"
            } else {
                "no runs signal"
            }
        ));
    }
    text
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::exit(PROGRAM, run(&args))
}
