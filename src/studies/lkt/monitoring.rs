//! The LKT monitoring: each indicator month by month per team as a run chart (Anhøj's
//! rules), 30-day readmission as a p chart per team, and each indicator across the teams as a
//! case-mix-adjusted funnel plot; the signals of all of them in one table.
//!
//! * Series: [`IndicatorSeries`] by `team` and the month of `surgery_date`, every team on the
//!   same months.
//! * Run charts: [`ChartKind::Run`] of each team's monthly percentage (median centre line over
//!   all months, no freeze), as qicharts2's `qic(month, y, n, chart = "run", multiply = 100)`.
//! * p charts: [`ChartKind::P`] of each team's monthly 30-day readmission (3-sigma limits from
//!   the month's patients discharged alive).
//! * Funnel plots: [`Funnel::case_mix`] over the whole period, the logistic model
//!   `indicator ~ age + sex + residence + asa` ([`CASE_MIX`]) fitted to all teams pooled, each
//!   team's observed events against its expected events (O/E against E, exact Poisson limits).
//!
//! A team's signals ([`TeamSignals`]): the run chart's runs signal (a run longer than its
//! maximum or too few crossings), the p chart's months outside the limits, and where the team
//! lies on the funnel (outside the 95% or the 99.8% limits, above or below).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{prepare, Derivation, Indicator};
use crate::core::error::Result;
use crate::data::Cohort;
use crate::report::figures::{control_chart_plot, funnel_plot, small_multiples_plot};
use crate::report::monitor::funnel::{Flag, Funnel};
use crate::report::monitor::series::{IndicatorSeries, SeriesSpec};
use crate::report::monitor::{Chart, ChartKind, ChartOptions};
use crate::studies::{csv_number, csv_text, write_files};

/// The case-mix model's covariates: age, sex, residence and ASA class (no team term).
pub const CASE_MIX: &str = "age + sex + residence + asa";

/// The header of the tidy CSV of every plotted point ([`Monitoring::points_csv`]).
pub const POINTS_HEADER: [&str; 22] = [
    "indicator",
    "chart",
    "team",
    "subgroup",
    "y",
    "n",
    "cl",
    "lcl",
    "ucl",
    "sigma_signal",
    "part",
    "runs_signal",
    "longest_run",
    "longest_run_max",
    "n_crossings",
    "n_crossings_min",
    "expected",
    "lower95",
    "upper95",
    "lower998",
    "upper998",
    "outside",
];

/// One team's chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamChart {
    /// The team.
    pub team: String,
    /// Its chart.
    pub chart: Chart,
}

/// Everything shown of one indicator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndicatorMonitoring {
    /// The indicator.
    pub indicator: Indicator,
    /// Its monthly counts per team.
    pub series: IndicatorSeries,
    /// A run chart per team (percent).
    pub run_charts: Vec<TeamChart>,
    /// A p chart per team (percent): 30-day readmission only, empty for the others.
    pub p_charts: Vec<TeamChart>,
    /// The case-mix-adjusted funnel across the teams.
    pub funnel: Funnel,
}

/// The signals of one team and indicator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamSignals {
    /// The team.
    pub team: String,
    /// The indicator.
    pub indicator: Indicator,
    /// A run longer than its maximum in the run chart.
    pub long_run: bool,
    /// Fewer crossings of the median than their minimum in the run chart.
    pub few_crossings: bool,
    /// The run chart's median is 0% or 100%: most months have no event (or only events), the
    /// months on the median are left out of the runs analysis (as qicharts2 does), and what is
    /// left lies on one side of it, so a runs signal says only that events are rare.
    pub median_at_bound: bool,
    /// Months outside the p chart's limits (readmission only).
    pub p_chart_months: Vec<String>,
    /// Where the team lies at the funnel's 99.8% limits.
    pub funnel: Flag,
    /// Where it lies at the 95% limits.
    pub funnel95: Flag,
}

impl TeamSignals {
    /// A short cell for the signal table: `run` (a long run), `cross` (few crossings), `*`
    /// after them when the median is 0% or 100% ([`TeamSignals::median_at_bound`]), `pK`
    /// (K months outside the p chart's limits), `F+`/`F-` (above/below the funnel's 99.8%
    /// limits), `f+`/`f-` (outside the 95% limits only); `.` for none.
    pub fn cell(&self) -> String {
        let mut parts = Vec::new();
        if self.long_run {
            parts.push("run".to_string());
        }
        if self.few_crossings {
            parts.push("cross".to_string());
        }
        if self.median_at_bound && (self.long_run || self.few_crossings) {
            if let Some(last) = parts.last_mut() {
                last.push('*');
            }
        }
        if !self.p_chart_months.is_empty() {
            parts.push(format!("p{}", self.p_chart_months.len()));
        }
        let sign = |flag: Flag| if flag == Flag::Above { "+" } else { "-" };
        if self.funnel.is_outside() {
            parts.push(format!("F{}", sign(self.funnel)));
        } else if self.funnel95.is_outside() {
            parts.push(format!("f{}", sign(self.funnel95)));
        }
        if parts.is_empty() {
            ".".to_string()
        } else {
            parts.join(" ")
        }
    }

    /// Whether there is any signal.
    pub fn any(&self) -> bool {
        self.long_run
            || self.few_crossings
            || !self.p_chart_months.is_empty()
            || self.funnel95.is_outside()
    }
}

/// The LKT monitoring of a cohort (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Monitoring {
    /// What deriving the indicators found.
    pub derivation: Derivation,
    /// The four indicators.
    pub indicators: Vec<IndicatorMonitoring>,
}

impl Monitoring {
    /// Derives the indicators of the raw LKT cohort ([`prepare`]; columns as
    /// `data-samples/lkt_synthetic.csv`) and computes every chart. Errors as [`prepare`],
    /// [`IndicatorSeries::from_cohort`], [`Chart::compute`] (naming the team) and
    /// [`Funnel::case_mix`].
    pub fn run(raw: Cohort) -> Result<Monitoring> {
        let (cohort, derivation) = prepare(raw)?;
        let indicators = Indicator::ALL
            .iter()
            .map(|&indicator| monitor(&cohort, indicator))
            .collect::<Result<_>>()?;
        Ok(Monitoring {
            derivation,
            indicators,
        })
    }

    /// The teams, in sorted order.
    pub fn teams(&self) -> Vec<&str> {
        self.indicators.first().map_or_else(Vec::new, |m| {
            m.series.units.iter().map(|u| u.unit.as_str()).collect()
        })
    }

    /// The signals of every team (outer, sorted) and indicator (inner, in [`Indicator::ALL`]
    /// order).
    pub fn signals(&self) -> Vec<TeamSignals> {
        let mut out = Vec::new();
        for team in self.teams() {
            for m in &self.indicators {
                let run_chart = m.run_charts.iter().find(|c| c.team == team);
                let runs: Vec<_> = run_chart
                    .map(|c| c.chart.parts.iter().map(|p| p.runs).collect())
                    .unwrap_or_default();
                // The charts are in percent: a median of 0 or 100.
                let median_at_bound = run_chart.is_some_and(|c| {
                    c.chart
                        .points
                        .iter()
                        .any(|p| p.cl.is_some_and(|cl| cl <= 0.0 || cl >= 100.0))
                });
                let long_run = runs
                    .iter()
                    .any(|r| matches!((r.longest_run, r.longest_run_max), (Some(l), Some(max)) if l > max));
                let few_crossings = runs
                    .iter()
                    .any(|r| matches!((r.n_crossings, r.n_crossings_min), (Some(c), Some(min)) if c < min));
                let p_chart_months = m
                    .p_charts
                    .iter()
                    .filter(|c| c.team == team)
                    .flat_map(|c| c.chart.points.iter())
                    .filter(|p| p.sigma_signal)
                    .map(|p| p.label.clone())
                    .collect();
                let unit = m.funnel.units.iter().find(|u| u.unit == team);
                out.push(TeamSignals {
                    team: team.to_string(),
                    indicator: m.indicator,
                    long_run,
                    few_crossings,
                    median_at_bound,
                    p_chart_months,
                    funnel: unit.map_or(Flag::Within, |u| u.outside),
                    funnel95: unit.map_or(Flag::Within, |u| u.outside95),
                });
            }
        }
        out
    }

    /// The signal table: a row per team, a column per indicator, cells as
    /// [`TeamSignals::cell`], and a legend.
    pub fn signal_table(&self) -> String {
        let signals = self.signals();
        let width = self
            .teams()
            .iter()
            .map(|t| t.chars().count())
            .max()
            .unwrap_or(4);
        let mut out = format!("{:width$}", "team");
        for m in &self.indicators {
            out.push_str(&format!("  {:>20}", m.indicator.label()));
        }
        out.push('\n');
        for row in signals.chunks(self.indicators.len().max(1)) {
            out.push_str(&format!("{:width$}", row[0].team));
            for s in row {
                out.push_str(&format!("  {:>20}", s.cell()));
            }
            out.push('\n');
        }
        out.push_str(concat!(
            "\nrun    a run of months on one side of the median longer than round(log2(n)) + 3\n",
            "cross  fewer crossings of the median than the 5th percentile of Binomial(n - 1, 0.5)\n",
            "       (Anhøj's rules on the run chart of all months)\n",
            "*      the median month has no events (or only events): those months are left out of\n",
            "       the runs analysis and the signal says only that events are rare (count quarters)\n",
            "pK     K months outside the p chart's 3-sigma limits (30-day readmission)\n",
            "F+ F-  observed/expected above/below the funnel's 99.8% limits; f+ f-: outside the 95%\n",
            "       limits only (case-mix adjusted for age, sex, residence and ASA)\n",
            ".      no signal\n",
        ));
        out
    }

    /// Every plotted point as a tidy CSV ([`POINTS_HEADER`]): run and p chart points (one per
    /// team and month, with their part's runs analysis) and funnel points (one per team,
    /// subgroup `all`, with `y` the ratio O/E, `n` the patients, `cl` the target 1, `expected`
    /// E, the exact limits of the ratio, `sigma_signal` true outside the 99.8% limits and
    /// `outside` above, below or within them).
    pub fn points_csv(&self) -> Result<String> {
        let mut records = Vec::new();
        let flag = |f: Flag| {
            serde_json::to_value(f)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        let count = |v: Option<usize>| v.map_or(String::new(), |v| v.to_string());
        for m in &self.indicators {
            let charts = [("run", &m.run_charts), ("p", &m.p_charts)];
            for (kind, team_charts) in charts {
                for tc in team_charts.iter() {
                    for p in &tc.chart.points {
                        let runs = tc
                            .chart
                            .parts
                            .get(p.part.saturating_sub(1))
                            .map(|part| part.runs);
                        records.push(vec![
                            m.indicator.key().to_string(),
                            kind.to_string(),
                            tc.team.clone(),
                            p.label.clone(),
                            csv_number(p.y),
                            csv_number(p.n),
                            csv_number(p.cl),
                            csv_number(p.lcl),
                            csv_number(p.ucl),
                            p.sigma_signal.to_string(),
                            p.part.to_string(),
                            runs.map_or(String::new(), |r| r.signal.to_string()),
                            count(runs.and_then(|r| r.longest_run)),
                            count(runs.and_then(|r| r.longest_run_max)),
                            count(runs.and_then(|r| r.n_crossings)),
                            count(runs.and_then(|r| r.n_crossings_min)),
                            String::new(),
                            String::new(),
                            String::new(),
                            String::new(),
                            String::new(),
                            String::new(),
                        ]);
                    }
                }
            }
            for u in &m.funnel.units {
                let mut record = vec![String::new(); POINTS_HEADER.len()];
                record[0] = m.indicator.key().to_string();
                record[1] = "funnel".to_string();
                record[2] = u.unit.clone();
                record[3] = "all".to_string();
                record[4] = csv_number(Some(u.ratio));
                record[5] = csv_number(Some(u.n));
                record[6] = csv_number(Some(m.funnel.target));
                record[9] = u.outside.is_outside().to_string();
                record[16] = csv_number(Some(u.expected));
                record[17] = csv_number(Some(u.limits.lower95));
                record[18] = csv_number(Some(u.limits.upper95));
                record[19] = csv_number(Some(u.limits.lower998));
                record[20] = csv_number(Some(u.limits.upper998));
                record[21] = flag(u.outside);
                records.push(record);
            }
        }
        csv_text("monitoring_points.csv", &POINTS_HEADER, records)
    }

    /// The report's files: `run_{indicator}.svg` (small multiples, one panel per team),
    /// `p_readmission_{team}.svg` (one per team), `funnel_{indicator}.svg`,
    /// `monitoring_points.csv` and `signals.txt` (the signal table).
    pub fn report_files(&self) -> Result<Vec<(String, String)>> {
        let mut files = Vec::new();
        for m in &self.indicators {
            let label = m.indicator.label();
            let unit = percent_of(m.indicator);
            let panels: Vec<(&str, &Chart)> = m
                .run_charts
                .iter()
                .map(|c| (c.team.as_str(), &c.chart))
                .collect();
            files.push((
                format!("run_{}.svg", m.indicator.key()),
                small_multiples_plot(
                    &panels,
                    &format!("{label} by team and month: run charts"),
                    unit,
                )?,
            ));
            for c in &m.p_charts {
                files.push((
                    format!("p_{}_{}.svg", m.indicator.key(), file_slug(&c.team)),
                    control_chart_plot(&c.chart, &format!("{label}, {}: p chart", c.team), unit)?,
                ));
            }
            files.push((
                format!("funnel_{}.svg", m.indicator.key()),
                funnel_plot(
                    &m.funnel,
                    &format!("{label} by team, case-mix adjusted"),
                    "Observed / expected events",
                )?,
            ));
        }
        files.push(("monitoring_points.csv".to_string(), self.points_csv()?));
        files.push(("signals.txt".to_string(), self.signal_table()));
        Ok(files)
    }

    /// Writes [`Monitoring::report_files`] as the directory `dir`, whole or not at all (see
    /// `studies::write_files`), and returns the paths written.
    pub fn write_report(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        write_files(dir, self.report_files()?)
    }
}

/// The y-axis title of an indicator's charts.
fn percent_of(indicator: Indicator) -> &'static str {
    match indicator {
        Indicator::Readmission => "% of patients discharged alive",
        Indicator::Mortality => "% of patients",
        Indicator::RegainedCas | Indicator::RegainedNms => "% of patients scored at follow-up",
    }
}

/// The charts and funnel of one indicator.
fn monitor(cohort: &Cohort, indicator: Indicator) -> Result<IndicatorMonitoring> {
    let series = IndicatorSeries::from_cohort(
        cohort,
        &SeriesSpec::monthly("team", "surgery_date", indicator.column()),
    )?;
    let percent = ChartOptions {
        multiply: 100.0,
        ..ChartOptions::default()
    };
    let charts = |kind: ChartKind| -> Result<Vec<TeamChart>> {
        series
            .units
            .iter()
            .map(|u| {
                let subgroups = series.subgroups(&u.unit)?;
                let chart = Chart::compute(&subgroups, kind, &percent).map_err(|e| {
                    e.in_unit(
                        format!("the {} chart of {}", kind.name(), indicator.label()),
                        &u.unit,
                    )
                })?;
                Ok(TeamChart {
                    team: u.unit.clone(),
                    chart,
                })
            })
            .collect()
    };
    let run_charts = charts(ChartKind::Run)?;
    let p_charts = if indicator == Indicator::Readmission {
        charts(ChartKind::P)?
    } else {
        Vec::new()
    };
    let funnel = Funnel::case_mix(cohort, "team", indicator.column(), CASE_MIX)?;
    Ok(IndicatorMonitoring {
        indicator,
        series,
        run_charts,
        p_charts,
        funnel,
    })
}

/// A file-name form of a team's name: lower case ASCII letters and digits, Danish letters
/// spelt out (æ ae, ø o, å aa), everything else one `_`.
fn file_slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        let piece = match c {
            'æ' => "ae",
            'ø' => "o",
            'å' => "aa",
            c if c.is_ascii_alphanumeric() => {
                out.push(c);
                continue;
            }
            _ => "_",
        };
        if piece == "_" {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        } else {
            out.push_str(piece);
        }
    }
    out.trim_end_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_slugs() {
        assert_eq!(file_slug("Gødstrup"), "godstrup");
        assert_eq!(file_slug("SUH Køge"), "suh_koge");
        assert_eq!(file_slug("Byen (Region H)"), "byen_region_h");
        assert_eq!(file_slug("Sydhavsøerne"), "sydhavsoerne");
    }
}
