//! A run or control chart computed from subgroups: each point with its centre line, limits and
//! sigma signal, and each part's runs analysis.

use std::str::FromStr;

use serde::Serialize;

use super::limits::{part_lines, Part};
use super::options::ChartOptions;
use super::runs::RunsAnalysis;
use super::subgroups::Subgroups;
use crate::core::error::{closest_name, Error, Result};

/// The kinds of chart, named as qicharts2's `chart` argument (`pp` is Laney's p'). The
/// centre line and limits of a part come from its base subgroups (in the baseline and not
/// excluded, with a value), as qicharts2's `qic.run`, `qic.p`, `qic.pp`, `qic.u`, `qic.i` and
/// `qic.mr`; `n_i` is subgroup i's denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartKind {
    /// Run chart: the centre line is the median of the base values (R's `median`: the mean of
    /// the two middle values of an even number); no limits; Anhøj's runs analysis.
    Run,
    /// P chart of proportions `y / n`: centre line `cl = sum(y) / sum(n)` over the base,
    /// binomial limits `cl -/+ 3 sqrt(cl (1 - cl) / n_i)` clamped to [0, 1].
    P,
    /// Laney's p' chart, for large denominators and overdispersion: the p chart's centre line;
    /// `z_i = (y_i/n_i - cl) / sqrt(cl (1 - cl) / n_i)` over the base subgroups in order,
    /// `sigma_z` = their average moving range / 1.128 (screened: moving ranges of at least
    /// 3.267 times their mean dropped first, [`ChartOptions::screened_moving_ranges`]); limits
    /// `cl -/+ 3 sigma_z sqrt(cl (1 - cl) / n_i)` clamped to [0, 1].
    #[serde(rename = "pp")]
    PPrime,
    /// U chart of rates `y / n` (events per unit of exposure): centre line
    /// `sum(y) / sum(n)` over the base, Poisson limits `cl -/+ 3 sqrt(cl / n_i)`, the lower
    /// clamped at 0.
    U,
    /// I chart (individuals): centre line the mean of the base values, `sigma` = their
    /// average moving range / 1.128 (screened as the p' chart's), limits `cl -/+ 3 sigma`
    /// (not clamped).
    I,
    /// MR chart: the values are the moving ranges `|y_i - y_(i-1)|` of neighbouring subgroups
    /// of a part; centre line their mean over the base, limits 0 and `3.267 cl`; no runs
    /// signal (qicharts2 sets it to false).
    Mr,
}

/// Every kind, in the order of [`ChartKind::name`]'s list.
const KINDS: [ChartKind; 6] = [
    ChartKind::Run,
    ChartKind::P,
    ChartKind::PPrime,
    ChartKind::U,
    ChartKind::I,
    ChartKind::Mr,
];

impl ChartKind {
    /// The name of the chart as qicharts2's `chart` argument: `run`, `p`, `pp`, `u`, `i`, `mr`.
    pub fn name(self) -> &'static str {
        match self {
            ChartKind::Run => "run",
            ChartKind::P => "p",
            ChartKind::PPrime => "pp",
            ChartKind::U => "u",
            ChartKind::I => "i",
            ChartKind::Mr => "mr",
        }
    }

    /// The chart's name in a title: `Run chart`, `P chart`, `Laney p' chart`, ...
    pub fn title(self) -> &'static str {
        match self {
            ChartKind::Run => "Run chart",
            ChartKind::P => "P chart",
            ChartKind::PPrime => "Laney p' chart",
            ChartKind::U => "U chart",
            ChartKind::I => "I chart",
            ChartKind::Mr => "MR chart",
        }
    }

    /// Whether the chart needs denominators (p, p' and u charts).
    fn needs_denominators(self) -> bool {
        matches!(self, ChartKind::P | ChartKind::PPrime | ChartKind::U)
    }
}

impl FromStr for ChartKind {
    type Err = Error;

    /// The chart of a name ([`ChartKind::name`]); an unknown name is an
    /// [`Error::InvalidArgument`] of `chart` listing the names, with the closest suggested.
    fn from_str(name: &str) -> Result<ChartKind> {
        KINDS.into_iter().find(|k| k.name() == name).ok_or_else(|| {
            let names = KINDS.map(ChartKind::name);
            let suggestion = closest_name(name, names)
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            Error::invalid(
                "chart",
                format!(
                    "'{name}' is not a chart; the charts are {}{suggestion}",
                    names.join(", ")
                ),
            )
        })
    }
}

/// One subgroup of a chart, as a row of qicharts2's `qic(..., return.data = TRUE)`. Values
/// are multiplied by [`ChartOptions::multiply`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChartPoint {
    /// The subgroup's label.
    pub label: String,
    /// The chart's value: `y / n`, the measurement, or (MR chart) the moving range; `None`
    /// if missing.
    pub y: Option<f64>,
    /// The denominator as given (`None` for measurements or when missing).
    pub n: Option<f64>,
    /// The centre line of the point's part (present at every point, missing ones too).
    pub cl: Option<f64>,
    /// The lower control limit (`None` for a run chart and where `y` is missing).
    pub lcl: Option<f64>,
    /// The upper control limit (the same).
    pub ucl: Option<f64>,
    /// `y > ucl` or `y < lcl` (strictly); false without a value or limits. Computed for
    /// excluded points too.
    pub sigma_signal: bool,
    /// The point's part, 1-based.
    pub part: usize,
    /// Whether the point is in the baseline (`position <= freeze`; every point without
    /// freeze).
    pub baseline: bool,
    /// Whether the point is included (not excluded) in the centre line, limits and runs
    /// analysis.
    pub include: bool,
}

/// The runs analysis of one part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PartRuns {
    /// The part's first subgroup, 1-based.
    pub first: usize,
    /// Its last subgroup, 1-based.
    pub last: usize,
    /// The runs analysis of its included points.
    pub runs: RunsAnalysis,
}

/// A run or control chart (see the [module docs](super)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    /// The kind of chart.
    pub kind: ChartKind,
    /// One point per subgroup, in order.
    pub points: Vec<ChartPoint>,
    /// One runs analysis per part, in order.
    pub parts: Vec<PartRuns>,
}

impl Chart {
    /// The chart of `kind` of `subgroups` under `options`, as qicharts2 0.8.1's
    /// `qic(x, y, n, chart = kind, freeze, part, exclude, multiply, method = "anhoej")` with
    /// the package attached (screened moving ranges):
    /// 1. each subgroup's value is `y / n` for counts (run, p, p', u, I and MR charts) and the
    ///    measurement otherwise; the MR chart's value is the moving range `|y_i - y_(i-1)|` of
    ///    neighbouring subgroups of the same part (missing at each part's first subgroup,
    ///    as qicharts2's `qic.mr`, which it applies part by part);
    /// 2. each part (`parts`) has its own centre line and limits from its base subgroups
    ///    (in the baseline, `freeze`, and not excluded; the formulas of each kind are in
    ///    [`ChartKind`]'s docs), and its own runs analysis ([`RunsAnalysis`]) of its included
    ///    subgroups against its centre line; the MR chart has no runs signal (qicharts2 sets
    ///    it to false);
    /// 3. values, centre lines and limits are multiplied by `multiply`, and a point's sigma
    ///    signal is `y > ucl` or `y < lcl` of the multiplied values (as qicharts2).
    ///
    /// Limits are missing where the value is. qicharts2 keeps an I or MR chart's limits at a
    /// missing value (they do not depend on `n` there); here a missing value has no limits in
    /// every chart.
    ///
    /// Errors: bad options (see [`ChartOptions`]: `freeze`, `part`, `exclude`, `multiply`); a
    /// p, p' or u chart of measurements ([`Error::InvalidArgument`] of `chart`); a p or p'
    /// subgroup with `y > n` ([`Error::Subgroup`]); a part whose base has no value, or whose
    /// base has no moving range for an I or p' chart's sigma ([`Error::TooFewData`] naming the
    /// part); a p' chart with a centre line of 0 or 1.
    pub fn compute(
        subgroups: &Subgroups,
        kind: ChartKind,
        options: &ChartOptions,
    ) -> Result<Chart> {
        let layout = options.layout(subgroups.len())?;
        check_data(subgroups, kind)?;
        let len = subgroups.len();
        let values: Vec<Option<f64>> = (0..len).map(|i| subgroups.value(i)).collect();
        let y: Vec<Option<f64>> = match kind {
            ChartKind::Mr => layout
                .parts
                .iter()
                .flat_map(|range| {
                    let values = &values;
                    range.clone().map(move |i| {
                        if i == range.start {
                            None
                        } else {
                            Some((values[i]? - values[i - 1]?).abs())
                        }
                    })
                })
                .collect(),
            _ => values,
        };
        let base: Vec<bool> = (0..len)
            .map(|i| layout.baseline[i] && layout.include[i])
            .collect();
        let m = options.multiply;
        let mut points = Vec::with_capacity(len);
        let mut parts = Vec::with_capacity(layout.parts.len());
        for (k, range) in layout.parts.iter().enumerate() {
            let part = Part {
                number: k + 1,
                range: range.clone(),
                subgroups,
                y: &y,
                base: &base,
            };
            let lines = part_lines(kind, &part, options.screened_moving_ranges)?;
            let mut runs = RunsAnalysis::of(
                range
                    .clone()
                    .filter(|&i| layout.include[i])
                    .map(|i| (y[i], Some(lines.cl))),
            );
            if kind == ChartKind::Mr {
                runs.signal = false;
            }
            parts.push(PartRuns {
                first: range.start + 1,
                last: range.end,
                runs,
            });
            for (i, limits) in range.clone().zip(lines.limits) {
                let value = y[i].map(|v| v * m);
                let limits = limits.map(|(lcl, ucl)| (lcl * m, ucl * m));
                let sigma_signal = match (value, limits) {
                    (Some(v), Some((lcl, ucl))) => v > ucl || v < lcl,
                    _ => false,
                };
                points.push(ChartPoint {
                    label: subgroups.labels()[i].clone(),
                    y: value,
                    n: subgroups.denominator(i),
                    cl: Some(lines.cl * m),
                    lcl: limits.map(|l| l.0),
                    ucl: limits.map(|l| l.1),
                    sigma_signal,
                    part: k + 1,
                    baseline: layout.baseline[i],
                    include: layout.include[i],
                });
            }
        }
        Ok(Chart {
            kind,
            points,
            parts,
        })
    }
}

/// Denominators for the charts that need them, and no proportion above 1.
fn check_data(subgroups: &Subgroups, kind: ChartKind) -> Result<()> {
    if kind.needs_denominators() && !subgroups.has_denominators() {
        return Err(Error::invalid(
            "chart",
            format!(
                "a {} needs counts with denominators (y events among n), not measurements",
                kind.title()
            ),
        ));
    }
    if matches!(kind, ChartKind::P | ChartKind::PPrime) {
        for i in 0..subgroups.len() {
            if let (Some(y), Some(n)) = (subgroups.numerator(i), subgroups.denominator(i)) {
                if y > n {
                    return Err(subgroups.error(
                        i,
                        "y",
                        format!(
                            "{y} is more than its denominator {n}; a proportion (in a {}) \
                             cannot exceed 1",
                            kind.title()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(k: usize) -> Vec<String> {
        (1..=k).map(|m| format!("m{m:02}")).collect()
    }

    fn counts(y: &[Option<f64>], n: &[Option<f64>]) -> Subgroups {
        Subgroups::counts(labels(y.len()), y.to_vec(), n.to_vec()).unwrap()
    }

    fn measurements(y: &[Option<f64>]) -> Subgroups {
        Subgroups::measurements(labels(y.len()), y.to_vec()).unwrap()
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() <= 1e-12 * b.abs().max(1.0))
    }

    #[test]
    fn each_part_has_its_own_centre_line_limits_and_runs() {
        let y = [2.0, 3.0, 1.0, 2.0, 6.0, 5.0, 7.0, 6.0].map(Some);
        let s = counts(&y, &[Some(20.0); 8]);
        let options = ChartOptions {
            parts: vec![4],
            ..ChartOptions::default()
        };
        let chart = Chart::compute(&s, ChartKind::P, &options).unwrap();
        let parts: Vec<usize> = chart.points.iter().map(|p| p.part).collect();
        assert_eq!(parts, [1, 1, 1, 1, 2, 2, 2, 2]);
        assert_eq!((chart.parts[0].first, chart.parts[0].last), (1, 4));
        assert_eq!((chart.parts[1].first, chart.parts[1].last), (5, 8));
        // Part 1: 8/80 = 0.1, 0.1 + 3 sqrt(0.1 0.9 / 20); the lower limit clamped at 0.
        let first = &chart.points[0];
        assert!(close(first.cl, 0.1) && close(first.ucl, 0.1 + 3.0 * (0.09f64 / 20.0).sqrt()));
        assert_eq!(first.lcl, Some(0.0));
        // Part 2: 24/80 = 0.3.
        let last = &chart.points[7];
        assert!(close(last.cl, 0.3) && close(last.ucl, 0.3 + 3.0 * (0.21f64 / 20.0).sqrt()));
        // Runs per part: 2/20 and 6/20 lie on their centre lines; + - and - + are left.
        for part in &chart.parts {
            let r = part.runs;
            assert_eq!(
                (r.n_obs, r.n_useful, r.longest_run, r.n_crossings),
                (4, 2, Some(1), Some(1))
            );
            // round(log2 2) + 3 = 4; qbinom(0.05, 1, 0.5) = 0.
            assert_eq!(
                (r.longest_run_max, r.n_crossings_min, r.signal),
                (Some(4), Some(0), false)
            );
        }
        // One part: 32/160 = 0.2.
        let whole = Chart::compute(&s, ChartKind::P, &ChartOptions::default()).unwrap();
        assert!(close(whole.points[7].cl, 0.2));
        assert_eq!(whole.parts.len(), 1);
    }

    #[test]
    fn moving_ranges_bridge_an_excluded_subgroup_but_not_a_missing_one() {
        // I chart: base 10, 12, NA, 11, 13, 12 (30 excluded): MRs 2, NA, NA, 2, 1 -> 5/3.
        // (Bridging the missing value too, or not bridging the excluded one, gives 1.5.)
        let y = [
            Some(10.0),
            Some(12.0),
            None,
            Some(11.0),
            Some(30.0),
            Some(13.0),
            Some(12.0),
        ];
        let options = ChartOptions {
            exclude: vec![5],
            ..ChartOptions::default()
        };
        let chart = Chart::compute(&measurements(&y), ChartKind::I, &options).unwrap();
        let cl = 58.0 / 5.0;
        let half_width = 3.0 * (5.0 / 3.0) / 1.128;
        let p = &chart.points;
        assert!(
            close(p[0].cl, cl)
                && close(p[0].ucl, cl + half_width)
                && close(p[0].lcl, cl - half_width)
        );
        assert_eq!(
            (p[2].y, p[2].lcl, p[2].ucl, p[2].sigma_signal),
            (None, None, None, false)
        );
        assert!(close(p[2].cl, cl));
        // The excluded point keeps its limits and its signal.
        assert!(!p[4].include && p[4].sigma_signal && close(p[4].ucl, cl + half_width));
        // Runs over the included points: - + (NA) - + + against 11.6.
        let r = chart.parts[0].runs;
        assert_eq!(
            (r.n_obs, r.n_useful, r.longest_run, r.n_crossings),
            (6, 5, Some(2), Some(3))
        );
        assert_eq!((r.longest_run_max, r.n_crossings_min), (Some(5), Some(0)));

        // Laney p': n = 100, y 10, 14, NA, 12, (40 excluded), 9, 13: cl = 58/500 = 0.116.
        // z_i = (p_i - cl) / s with one s for all, so sigma_z s = mean(MR of p) / 1.128, the
        // MRs of p 0.04, NA, NA, 0.03 (bridging the excluded month), 0.04.
        let y = [
            Some(10.0),
            Some(14.0),
            None,
            Some(12.0),
            Some(40.0),
            Some(9.0),
            Some(13.0),
        ];
        let n = [
            Some(100.0),
            Some(100.0),
            None,
            Some(100.0),
            Some(100.0),
            Some(100.0),
            Some(100.0),
        ];
        let chart = Chart::compute(&counts(&y, &n), ChartKind::PPrime, &options).unwrap();
        let half_width = 3.0 * (0.11 / 3.0) / 1.128;
        let p = &chart.points;
        assert!(close(p[0].cl, 0.116), "{:?}", p[0].cl);
        assert!(close(p[0].ucl, 0.116 + half_width) && close(p[0].lcl, 0.116 - half_width));
        assert_eq!((p[2].lcl, p[2].ucl, p[2].n), (None, None, None));
        assert!(!p[4].include && p[4].sigma_signal);
    }

    #[test]
    fn points_on_the_centre_line_are_dropped_from_the_runs_analysis() {
        // Median 5: five points on it; - + - + are left.
        let y = [5.0, 5.0, 5.0, 4.0, 6.0, 5.0, 3.0, 5.0, 7.0].map(Some);
        let chart =
            Chart::compute(&measurements(&y), ChartKind::Run, &ChartOptions::default()).unwrap();
        assert!(close(chart.points[0].cl, 5.0));
        assert!(chart
            .points
            .iter()
            .all(|p| p.lcl.is_none() && p.ucl.is_none()));
        let r = chart.parts[0].runs;
        assert_eq!(
            (r.n_obs, r.n_useful, r.longest_run, r.n_crossings),
            (9, 4, Some(1), Some(3))
        );
        // A p chart whose centre line 20/100 = 0.2 equals 4/20 exactly.
        let s = counts(&[4.0, 4.0, 3.0, 5.0, 4.0].map(Some), &[Some(20.0); 5]);
        let chart = Chart::compute(&s, ChartKind::P, &ChartOptions::default()).unwrap();
        assert_eq!(chart.points[0].cl, Some(0.2));
        assert_eq!(chart.parts[0].runs.n_useful, 2);
    }

    #[test]
    fn multiply_scales_values_centre_line_and_limits_only() {
        let y = [3.0, 15.0, 4.0, 2.0, 5.0, 0.0].map(Some);
        let n = [30.0, 40.0, 35.0, 20.0, 25.0, 31.0].map(Some);
        let s = counts(&y, &n);
        let plain = Chart::compute(&s, ChartKind::P, &ChartOptions::default()).unwrap();
        let options = ChartOptions {
            multiply: 100.0,
            ..ChartOptions::default()
        };
        let percent = Chart::compute(&s, ChartKind::P, &options).unwrap();
        for (a, b) in plain.points.iter().zip(&percent.points) {
            for (x, y) in [(a.y, b.y), (a.cl, b.cl), (a.lcl, b.lcl), (a.ucl, b.ucl)] {
                assert!(close(y, 100.0 * x.unwrap()), "{x:?} {y:?}");
            }
            assert_eq!((a.sigma_signal, a.n), (b.sigma_signal, b.n));
        }
        assert!(plain.points[1].sigma_signal, "15/40 is above its limit");
        assert_eq!(plain.parts, percent.parts);
    }

    #[test]
    fn freeze_takes_the_centre_line_from_the_baseline_and_runs_from_all() {
        let y = [1.0, 2.0, 3.0, 4.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0].map(Some);
        let options = ChartOptions {
            freeze: Some(4),
            ..ChartOptions::default()
        };
        let chart = Chart::compute(&measurements(&y), ChartKind::Run, &options).unwrap();
        let baseline: Vec<bool> = chart.points.iter().map(|p| p.baseline).collect();
        assert_eq!(
            baseline,
            [true, true, true, true, false, false, false, false, false, false]
        );
        assert!(chart.points.iter().all(|p| close(p.cl, 2.5)));
        // - - + x 8: longest 8 > round(log2 10) + 3 = 6, 1 crossing < qbinom(.05, 9, .5) = 2.
        let r = chart.parts[0].runs;
        assert_eq!(
            (r.n_useful, r.longest_run, r.longest_run_max),
            (10, Some(8), Some(6))
        );
        assert_eq!(
            (r.n_crossings, r.n_crossings_min, r.signal),
            (Some(1), Some(2), true)
        );
        // The I chart's sigma from the baseline's moving ranges alone (all 1).
        let chart = Chart::compute(&measurements(&y), ChartKind::I, &options).unwrap();
        assert!(close(chart.points[9].ucl, 2.5 + 3.0 / 1.128));
        assert!(chart.points[9].sigma_signal);
    }

    #[test]
    fn the_mr_chart_restarts_in_each_part_and_has_no_runs_signal() {
        let y = [1.0, 3.0, 2.0, 6.0].map(Some);
        let chart =
            Chart::compute(&measurements(&y), ChartKind::Mr, &ChartOptions::default()).unwrap();
        let mr: Vec<Option<f64>> = chart.points.iter().map(|p| p.y).collect();
        assert_eq!(mr, [None, Some(2.0), Some(1.0), Some(4.0)]);
        assert!(
            close(chart.points[1].cl, 7.0 / 3.0) && close(chart.points[1].ucl, 3.267 * 7.0 / 3.0)
        );
        assert_eq!(chart.points[1].lcl, Some(0.0));
        let options = ChartOptions {
            parts: vec![2],
            ..ChartOptions::default()
        };
        let chart = Chart::compute(&measurements(&y), ChartKind::Mr, &options).unwrap();
        let mr: Vec<Option<f64>> = chart.points.iter().map(|p| p.y).collect();
        assert_eq!(mr, [None, Some(2.0), None, Some(4.0)]);
        assert!(close(chart.points[3].cl, 4.0));
        // A long run of moving ranges above their mean is no signal on an MR chart.
        let y: Vec<Option<f64>> = (0..20).map(|i| Some(f64::from(i * i))).collect();
        let chart =
            Chart::compute(&measurements(&y), ChartKind::Mr, &ChartOptions::default()).unwrap();
        assert!(chart.parts[0].runs.longest_run > chart.parts[0].runs.longest_run_max);
        assert!(!chart.parts[0].runs.signal);
    }

    #[test]
    fn u_chart_limits_and_a_missing_month() {
        let s = counts(
            &[Some(5.0), None, Some(90.0)],
            &[Some(20.5), Some(30.0), Some(300.0)],
        );
        let chart = Chart::compute(&s, ChartKind::U, &ChartOptions::default()).unwrap();
        let cl = 95.0 / 320.5;
        let p = &chart.points;
        assert!(close(p[0].cl, cl) && close(p[0].ucl, cl + 3.0 * (cl / 20.5).sqrt()));
        assert_eq!(p[0].lcl, Some(0.0));
        assert_eq!((p[1].y, p[1].lcl, p[1].n), (None, None, Some(30.0)));
        assert!(close(p[2].lcl, cl - 3.0 * (cl / 300.0).sqrt()));
    }

    #[test]
    fn unusable_data_are_errors_that_say_where() {
        let s = counts(&[Some(3.0), Some(12.0)], &[Some(10.0), Some(10.0)]);
        match Chart::compute(&s, ChartKind::P, &ChartOptions::default()).unwrap_err() {
            Error::Subgroup {
                position,
                label,
                column,
                ..
            } => {
                assert_eq!((position, label.as_str(), column.as_str()), (2, "m02", "y"))
            }
            other => panic!("{other}"),
        }
        // A rate may exceed 1.
        assert!(Chart::compute(&s, ChartKind::U, &ChartOptions::default()).is_ok());
        let m = measurements(&[Some(1.0), Some(2.0), None, None]);
        let e = Chart::compute(&m, ChartKind::P, &ChartOptions::default()).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument { argument, .. } if argument == "chart"),
            "{e}"
        );
        let options = ChartOptions {
            parts: vec![2],
            ..ChartOptions::default()
        };
        let e = Chart::compute(&m, ChartKind::Run, &options).unwrap_err();
        assert!(
            e.to_string()
                .contains("part 2 (subgroups 3 to 4, 'm03' to 'm04')"),
            "{e}"
        );
        // One base value has no moving range for an I chart's sigma.
        let e = Chart::compute(
            &measurements(&[Some(1.0), None]),
            ChartKind::I,
            &ChartOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(e, Error::TooFewData { got: 0, .. }), "{e}");
        // No events in the baseline: no z-scores for Laney's p'.
        let none = counts(&[Some(0.0); 3], &[Some(10.0); 3]);
        let e = Chart::compute(&none, ChartKind::PPrime, &ChartOptions::default()).unwrap_err();
        assert!(e.to_string().contains("use a p chart"), "{e}");
        assert_eq!(
            Chart::compute(&none, ChartKind::P, &ChartOptions::default())
                .unwrap()
                .points[0]
                .ucl,
            Some(0.0)
        );
    }

    #[test]
    fn chart_names_round_trip_and_a_misspelt_one_is_suggested() {
        for kind in KINDS {
            assert_eq!(kind.name().parse::<ChartKind>().unwrap(), kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
        }
        let e = "ppp".parse::<ChartKind>().unwrap_err().to_string();
        assert!(e.contains("did you mean 'pp'?"), "{e}");
    }
}
