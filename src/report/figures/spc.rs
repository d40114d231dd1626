//! Run and control charts of a monitored indicator ([`crate::report::monitor`]), drawn as
//! qicharts2 draws them: the values as points joined by a line, each part's centre line
//! (dashed in the signal colour when the part's runs analysis signals), the control limits
//! as steps around a grey band (a p chart's limits move with its denominators), points
//! outside their limits in the signal colour, excluded points hollow, and the part
//! boundaries and the end of a frozen baseline as vertical lines. One chart
//! ([`control_chart_plot`]) or one panel per unit on a shared y-axis
//! ([`small_multiples_plot`]).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::forest::{axis_ticks, tick_label, Ticked};
use super::{
    draw_legend, drawing, legend_height, number, svg_sized, text_width, Symbol, LABEL_FONT, MARGIN,
    NOTE, POINT, SIZE,
};
use crate::core::error::{Error, Result};
use crate::report::monitor::{Chart, ChartKind, ChartPoint, PartRuns, RunsAnalysis};

/// Colour of a signal: a point outside its limits, the centre line of a part with a runs
/// signal (qicharts2's orange, a little darker to read on white).
const SIGNAL: RGBColor = RGBColor(224, 120, 0);
/// Colour of the control limits.
const LIMIT: RGBColor = RGBColor(150, 150, 150);
/// Colour of the band between the limits.
const BAND: RGBColor = RGBColor(236, 236, 236);
/// Colour of a centre line without a runs signal.
const CENTRE: RGBColor = RGBColor(70, 70, 70);
/// Width of the y-label area, in pixels (one chart; panels: [`PANEL_Y_LABELS`]).
const Y_LABEL_AREA: u32 = 70;
/// Height of a line of a title's subtitle, in pixels.
const SUBTITLE_LINE: u32 = 20;
/// Font size of subtitles.
const SUBTITLE_FONT: u32 = 15;
/// Height of one panel of small multiples, in pixels.
const PANEL_HEIGHT: u32 = 220;
/// Height of a panel's name, in pixels (its runs lines follow, [`PANEL_LINE`] each).
const PANEL_NAME: u32 = 22;
/// Height of a line of a panel's runs analysis, in pixels.
const PANEL_LINE: u32 = 16;
/// Width of a panel's y-label area, in pixels.
const PANEL_Y_LABELS: u32 = 46;
/// Font size of a panel's axis labels and runs line.
const PANEL_FONT: u32 = 12;

/// A chart with ticked axes: x the subgroups' positions 1, 2, ..., y the values.
type Plot<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Ticked, Ticked>>;

/// `chart` in SVG, 800 x 560 pixels: the values as points joined within each part, each
/// part's centre line (dashed in the signal colour when its runs analysis signals), the limits
/// as steps around a grey band, points outside them in the signal colour, excluded points
/// hollow, and part boundaries and the end of a frozen baseline as dashed vertical lines,
/// labelled above the plot. Under `title`, each part's runs analysis as qicharts2's summary
/// gives it, `Longest run: 7 (max 8) · Crossings: 10 (min 8)`, in the signal colour when it
/// (or a point outside the limits) signals; the y-axis titled `y_label`, the subgroups' labels
/// on the x-axis (every k-th where they would not all fit); a legend below.
///
/// Errors ([`Error::InvalidArgument`]): a chart without points, a point whose part is not one
/// of the chart's parts, a value or limit that is not finite.
pub fn control_chart_plot(chart: &Chart, title: &str, y_label: &str) -> Result<String> {
    check(chart, "chart")?;
    let y_range = value_range(std::iter::once(chart));
    let subtitle = subtitle_lines(chart);
    let legend = legend(std::iter::once(chart));
    let legend_left = (MARGIN + Y_LABEL_AREA) as i32;
    let legend_h = legend_height(legend_left, (SIZE.0 - MARGIN) as i32, &legend);
    let spans = spans(chart);
    let head = MARGIN + 30 + SUBTITLE_LINE * subtitle.len() as u32;
    let span_room = if spans.is_empty() { 0 } else { 20 };
    let n = chart.points.len();
    let plot_width = SIZE.0 - 3 * MARGIN - Y_LABEL_AREA;
    let x_ticks = x_ticks(chart, plot_width, LABEL_FONT);
    svg_sized(SIZE, |root| {
        draw_text(
            root,
            title,
            (SIZE.0 as i32 / 2, (MARGIN + 11) as i32),
            22,
            BLACK,
            HPos::Center,
        )?;
        for (k, (line, colour)) in subtitle.iter().enumerate() {
            let y = MARGIN + 30 + SUBTITLE_LINE * k as u32 + SUBTITLE_LINE / 2;
            draw_text(
                root,
                line,
                (SIZE.0 as i32 / 2, y as i32),
                SUBTITLE_FONT,
                *colour,
                HPos::Center,
            )?;
        }
        let mut plot = ChartBuilder::on(root)
            .margin(MARGIN)
            .margin_top(head + span_room)
            .margin_right(2 * MARGIN)
            .margin_bottom(MARGIN + legend_h + 8)
            .x_label_area_size(30)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(x_axis(n, x_ticks), y_axis(y_range))
            .map_err(drawing)?;
        plot.configure_mesh()
            .disable_x_mesh()
            .bold_line_style(BLACK.mix(0.1))
            .light_line_style(TRANSPARENT)
            .label_style(("sans-serif", LABEL_FONT))
            .axis_desc_style(("sans-serif", 16))
            .y_desc(y_label)
            .x_label_formatter(&|v| subgroup_label(chart, *v))
            .y_label_formatter(&|v| tick_label(*v))
            .draw()
            .map_err(drawing)?;
        draw_chart(&mut plot, chart, 4, y_range)?;
        for (first, last, text) in &spans {
            let middle = (*first + *last) as f64 / 2.0;
            let (x, y) = plot.backend_coord(&(middle, y_range.1));
            draw_text(root, text, (x, y - 10), 13, NOTE, HPos::Center)?;
        }
        let top = (SIZE.1 - MARGIN - legend_h) as i32;
        draw_legend(root, (legend_left, top), (SIZE.0 - MARGIN) as i32, &legend)
    })
}

/// One panel per unit, `(unit name, chart)`, in a grid (up to three columns, 800 pixels wide),
/// all on the y-axis of every panel's values (titled `y_label` under the `title`), each with
/// its centre lines, limits and signals as [`control_chart_plot`] draws them, its first and
/// last subgroup labelled, and under its name a short runs line per part:
/// `Run 7 (≤8) · Crossings 10 (≥8)`, in the signal colour when it signals.
///
/// Errors ([`Error::InvalidArgument`]): no panels, or a chart that
/// [`control_chart_plot`] refuses (named by its unit).
pub fn small_multiples_plot(
    panels: &[(&str, &Chart)],
    title: &str,
    y_label: &str,
) -> Result<String> {
    if panels.is_empty() {
        return Err(Error::invalid("panels", "there are no panels to draw"));
    }
    for (name, chart) in panels {
        check(chart, name)?;
    }
    let charts = || panels.iter().map(|(_, c)| *c);
    let y_range = value_range(charts());
    let legend = legend(charts());
    let columns = match panels.len() {
        1..=3 => panels.len(),
        4 => 2,
        _ => 3,
    };
    let rows = panels.len().div_ceil(columns);
    let runs_lines = panels.iter().map(|(_, c)| c.parts.len()).max().unwrap_or(1) as u32;
    let heading = PANEL_NAME + PANEL_LINE * runs_lines;
    let panel_height = PANEL_HEIGHT + PANEL_LINE * (runs_lines - 1);
    let legend_left = MARGIN as i32;
    let legend_h = legend_height(legend_left, (SIZE.0 - MARGIN) as i32, &legend);
    let head = MARGIN + 30 + SUBTITLE_LINE + 6;
    let height = head + rows as u32 * panel_height + legend_h + 2 * MARGIN;
    svg_sized((SIZE.0, height), |root| {
        draw_text(
            root,
            title,
            (SIZE.0 as i32 / 2, (MARGIN + 11) as i32),
            22,
            BLACK,
            HPos::Center,
        )?;
        let note = format!("{y_label}; the same scale in every panel");
        let y = (MARGIN + 30 + SUBTITLE_LINE / 2) as i32;
        draw_text(
            root,
            &note,
            (SIZE.0 as i32 / 2, y),
            SUBTITLE_FONT,
            NOTE,
            HPos::Center,
        )?;
        let below = height - head - rows as u32 * panel_height;
        let grid = root.margin(head, below, MARGIN / 2, MARGIN);
        let areas = grid.split_evenly((rows, columns));
        for ((name, chart), area) in panels.iter().zip(&areas) {
            draw_panel(root, area, (name, heading), chart, y_range)?;
        }
        let top = (height - MARGIN - legend_h) as i32;
        draw_legend(root, (legend_left, top), (SIZE.0 - MARGIN) as i32, &legend)
    })
}

/// One panel of small multiples on `area`: the unit's name and a runs line per part in its
/// heading of `heading` pixels, then its chart.
fn draw_panel(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    (name, heading): (&str, u32),
    chart: &Chart,
    y_range: (f64, f64),
) -> Result<()> {
    let (xs, ys) = area.get_pixel_range();
    let centre = (xs.start + xs.end) / 2;
    draw_text(root, name, (centre, ys.start + 9), 15, BLACK, HPos::Center)?;
    let width = (xs.end - xs.start) as u32;
    for (k, part) in chart.parts.iter().enumerate() {
        let mut line = short_runs(&part.runs);
        if chart.parts.len() > 1 {
            line = format!("Part {}: {line}", k + 1);
        }
        let colour = if part.runs.signal { SIGNAL } else { NOTE };
        let y = ys.start + (PANEL_NAME + PANEL_LINE * k as u32 + PANEL_LINE / 2) as i32;
        draw_text(root, &line, (centre, y), PANEL_FONT, colour, HPos::Center)?;
    }
    let (_, body) = area.split_vertically(heading);
    let n = chart.points.len();
    let plot_width = width.saturating_sub(PANEL_Y_LABELS + 16);
    let ticks = if n > 1 {
        vec![1.0, n as f64]
    } else {
        vec![1.0]
    };
    let ticks = if x_fits(chart, &ticks, plot_width) {
        ticks
    } else {
        vec![1.0]
    };
    let mut plot = ChartBuilder::on(&body)
        .margin(4)
        .margin_right(20)
        .x_label_area_size(22)
        .y_label_area_size(PANEL_Y_LABELS)
        .build_cartesian_2d(x_axis(n, ticks), y_axis(y_range))
        .map_err(drawing)?;
    plot.configure_mesh()
        .disable_x_mesh()
        .bold_line_style(BLACK.mix(0.1))
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", PANEL_FONT))
        .x_label_formatter(&|v| subgroup_label(chart, *v))
        .y_label_formatter(&|v| tick_label(*v))
        .draw()
        .map_err(drawing)?;
    draw_chart(&mut plot, chart, 3, y_range)
}

/// Draws the band and steps of the limits, the centre lines, the part boundaries and the end
/// of the baseline, then the values (points of `radius` pixels joined within each part).
fn draw_chart(
    plot: &mut Plot<'_, '_>,
    chart: &Chart,
    radius: i32,
    (low, high): (f64, f64),
) -> Result<()> {
    let points = &chart.points;
    let x = |i: usize| (i + 1) as f64;
    for part in &chart.parts {
        let indices = part.first - 1..part.last;
        // The band between the limits: one polygon per run of subgroups with limits, along
        // the upper steps and back along the lower ones.
        for run in runs_of(indices.clone(), |i| Some((points[i].lcl?, points[i].ucl?))) {
            let steps = |i: usize, v: f64| [(x(i) - 0.5, v), (x(i) + 0.5, v)];
            let upper = run.iter().flat_map(|&(i, (_, ucl))| steps(i, ucl));
            let lower = run
                .iter()
                .rev()
                .flat_map(|&(i, (lcl, _))| steps(i, lcl).into_iter().rev());
            let outline: Vec<(f64, f64)> = upper.chain(lower).collect();
            plot.draw_series(std::iter::once(Polygon::new(outline, BAND.filled())))
                .map_err(drawing)?;
        }
        for upper in [false, true] {
            let steps = runs_of(indices.clone(), |i| limit_of(&points[i], upper));
            for run in steps {
                let path: Vec<(f64, f64)> = run
                    .iter()
                    .flat_map(|&(i, v)| [(x(i) - 0.5, v), (x(i) + 0.5, v)])
                    .collect();
                plot.draw_series(LineSeries::new(path, LIMIT.stroke_width(1)))
                    .map_err(drawing)?;
            }
        }
        if let Some(cl) = points[part.first - 1].cl {
            let line = vec![(x(part.first - 1) - 0.5, cl), (x(part.last - 1) + 0.5, cl)];
            if part.runs.signal {
                plot.draw_series(DashedLineSeries::new(line, 8, 5, SIGNAL.stroke_width(2)))
                    .map_err(drawing)?;
            } else {
                plot.draw_series(LineSeries::new(line, CENTRE.stroke_width(2)))
                    .map_err(drawing)?;
            }
        }
    }
    let mut boundaries: Vec<f64> = chart
        .parts
        .iter()
        .skip(1)
        .map(|p| p.first as f64 - 0.5)
        .collect();
    let baseline = points.iter().filter(|p| p.baseline).count();
    let frozen = baseline < points.len();
    if frozen {
        boundaries.push(baseline as f64 + 0.5);
    }
    for at in boundaries {
        plot.draw_series(DashedLineSeries::new(
            vec![(at, low), (at, high)],
            4,
            4,
            NOTE.stroke_width(1),
        ))
        .map_err(drawing)?;
    }
    for part in &chart.parts {
        for run in runs_of(part.first - 1..part.last, |i| points[i].y) {
            let path: Vec<(f64, f64)> = run.iter().map(|&(i, v)| (x(i), v)).collect();
            plot.draw_series(LineSeries::new(path, POINT.mix(0.8).stroke_width(2)))
                .map_err(drawing)?;
        }
    }
    for (i, p) in points.iter().enumerate() {
        let Some(y) = p.y else { continue };
        let colour = if p.sigma_signal { SIGNAL } else { POINT };
        let style = if p.include {
            colour.filled()
        } else {
            WHITE.filled()
        };
        let size = if p.sigma_signal { radius + 1 } else { radius };
        plot.draw_series([
            Circle::new((x(i), y), size, style),
            Circle::new((x(i), y), size, colour.stroke_width(2)),
        ])
        .map_err(drawing)?;
    }
    Ok(())
}

/// The lower (`upper` false) or upper limit of a point.
fn limit_of(point: &ChartPoint, upper: bool) -> Option<f64> {
    if upper {
        point.ucl
    } else {
        point.lcl
    }
}

/// The maximal runs of consecutive indices where `value` is present, each as `(index, value)`.
fn runs_of<T>(
    indices: std::ops::Range<usize>,
    value: impl Fn(usize) -> Option<T>,
) -> Vec<Vec<(usize, T)>> {
    let mut runs: Vec<Vec<(usize, T)>> = Vec::new();
    let mut current: Vec<(usize, T)> = Vec::new();
    for i in indices {
        match value(i) {
            Some(v) => current.push((i, v)),
            None if !current.is_empty() => runs.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// The chart has points, each in one of its parts, and finite numbers.
fn check(chart: &Chart, what: &str) -> Result<()> {
    if chart.points.is_empty() {
        return Err(Error::invalid(what, "the chart has no points to draw"));
    }
    for (i, p) in chart.points.iter().enumerate() {
        let part = p.part.checked_sub(1).and_then(|k| chart.parts.get(k));
        if !part.is_some_and(|part| (part.first..=part.last).contains(&(i + 1))) {
            return Err(Error::invalid(
                what,
                format!(
                    "point {} ('{}') is not within its part {}",
                    i + 1,
                    p.label,
                    p.part
                ),
            ));
        }
        if [p.y, p.cl, p.lcl, p.ucl]
            .iter()
            .flatten()
            .any(|v| !v.is_finite())
        {
            return Err(Error::invalid(
                what,
                format!(
                    "point {} ('{}') has a value or line that is not finite",
                    i + 1,
                    p.label
                ),
            ));
        }
    }
    Ok(())
}

/// The range of the y-axis: every value, centre line and limit of `charts`, widened by 8% on
/// each side but not below 0 when nothing is negative.
fn value_range<'a>(charts: impl Iterator<Item = &'a Chart>) -> (f64, f64) {
    let (low, high) = charts
        .flat_map(|c| c.points.iter())
        .flat_map(|p| [p.y, p.cl, p.lcl, p.ucl])
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    let span = high - low;
    let pad = if span > 0.0 {
        0.08 * span
    } else {
        0.1 * high.abs().max(1e-9)
    };
    let bottom = if low >= 0.0 {
        (low - pad).max(0.0)
    } else {
        low - pad
    };
    (bottom, high + pad)
}

fn x_axis(n: usize, ticks: Vec<f64>) -> Ticked {
    Ticked {
        axis: (0.5..n as f64 + 0.5).into(),
        ticks,
    }
}

fn y_axis((low, high): (f64, f64)) -> Ticked {
    Ticked {
        axis: (low..high).into(),
        ticks: axis_ticks((low, high), false),
    }
}

/// The label of the subgroup at x-axis position `v` (1-based).
fn subgroup_label(chart: &Chart, v: f64) -> String {
    let i = v.round() as usize;
    i.checked_sub(1)
        .and_then(|i| chart.points.get(i))
        .map_or_else(String::new, |p| p.label.clone())
}

/// Positions 1, 1 + k, 1 + 2k, ... of the x-axis labels, with the smallest step k at which
/// the widest label (at font `size`, with a gap) fits in `width` pixels.
fn x_ticks(chart: &Chart, width: u32, size: u32) -> Vec<f64> {
    let n = chart.points.len();
    let widest = chart
        .points
        .iter()
        .map(|p| text_width(&p.label, size))
        .max()
        .unwrap_or(0)
        + 12;
    let fit = (width / widest.max(1)).max(1) as usize;
    let step = n.div_ceil(fit).max(1);
    (1..=n).step_by(step).map(|i| i as f64).collect()
}

/// Whether the labels at `ticks` fit in `width` pixels side by side (a panel's first and last).
fn x_fits(chart: &Chart, ticks: &[f64], width: u32) -> bool {
    let total: u32 = ticks
        .iter()
        .map(|&v| text_width(&subgroup_label(chart, v), PANEL_FONT) + 12)
        .sum();
    total <= width
}

/// The subtitle: one line per part with its runs analysis (`Part 2 (2022-07 to 2023-12): `
/// before it when there are several parts) and its points outside the limits, in the signal
/// colour when either signals.
fn subtitle_lines(chart: &Chart) -> Vec<(String, RGBColor)> {
    chart
        .parts
        .iter()
        .enumerate()
        .map(|(k, part)| {
            let mut line = if chart.parts.len() > 1 {
                let label = |i: usize| chart.points[i - 1].label.as_str();
                format!(
                    "Part {} ({} to {}): ",
                    k + 1,
                    label(part.first),
                    label(part.last)
                )
            } else {
                String::new()
            };
            line.push_str(&runs_text(&part.runs));
            let outside = outside(chart, part);
            if outside > 0 {
                let s = if outside == 1 { "" } else { "s" };
                line.push_str(&format!(" · {outside} point{s} outside the limits"));
            }
            let colour = if part.runs.signal || outside > 0 {
                SIGNAL
            } else {
                NOTE
            };
            (line, colour)
        })
        .collect()
}

/// The points of `part` with a sigma signal.
fn outside(chart: &Chart, part: &PartRuns) -> usize {
    chart.points[part.first - 1..part.last]
        .iter()
        .filter(|p| p.sigma_signal)
        .count()
}

/// `Longest run: 7 (max 8) · Crossings: 10 (min 8)`, as qicharts2's summary.
fn runs_text(r: &RunsAnalysis) -> String {
    match (
        r.longest_run,
        r.longest_run_max,
        r.n_crossings,
        r.n_crossings_min,
    ) {
        (Some(run), Some(max), Some(crossings), Some(min)) => {
            let signal = if r.signal { " · runs signal" } else { "" };
            format!("Longest run: {run} (max {max}) · Crossings: {crossings} (min {min}){signal}")
        }
        _ => "No point off the centre line: no runs analysis".into(),
    }
}

/// `Run 7 (≤8) · Crossings 10 (≥8)`, a panel's runs line.
fn short_runs(r: &RunsAnalysis) -> String {
    match (
        r.longest_run,
        r.longest_run_max,
        r.n_crossings,
        r.n_crossings_min,
    ) {
        (Some(run), Some(max), Some(crossings), Some(min)) => {
            format!("Run {run} (≤{max}) · Crossings {crossings} (≥{min})")
        }
        _ => "No runs analysis".into(),
    }
}

/// Labels over the plot: `Part 1`, `Part 2`, ... over the parts, or `Baseline` and `Frozen`
/// over a frozen baseline and the rest; `(first, last, text)` in positions 1..n.
fn spans(chart: &Chart) -> Vec<(usize, usize, String)> {
    if chart.parts.len() > 1 {
        return chart
            .parts
            .iter()
            .enumerate()
            .map(|(k, p)| (p.first, p.last, format!("Part {}", k + 1)))
            .collect();
    }
    let n = chart.points.len();
    let baseline = chart.points.iter().filter(|p| p.baseline).count();
    if baseline == n {
        return Vec::new();
    }
    let frozen = match chart.kind {
        ChartKind::Run => "Centre line frozen",
        _ => "Centre line and limits frozen",
    };
    vec![
        (1, baseline, "Baseline".into()),
        (baseline + 1, n, frozen.into()),
    ]
}

/// The legend of `charts`: the values, the centre line (what it is, and its value when there
/// is one), the limits, and the signals, excluded points and boundaries where there are any.
fn legend<'a>(charts: impl Iterator<Item = &'a Chart> + Clone) -> Vec<(Symbol, String)> {
    let all = || charts.clone().flat_map(|c| c.points.iter());
    let kind = charts.clone().next().map_or(ChartKind::Run, |c| c.kind);
    let what = match kind {
        ChartKind::Run => "median",
        ChartKind::P | ChartKind::PPrime => "overall proportion",
        ChartKind::U => "overall rate",
        ChartKind::I | ChartKind::Mr => "mean",
    };
    let mut centre = format!("Centre line ({what})");
    let single: Vec<&Chart> = charts.clone().take(2).collect();
    if single.len() == 1 {
        let values: Vec<String> = single[0]
            .parts
            .iter()
            .filter_map(|p| single[0].points[p.first - 1].cl)
            .map(number)
            .collect();
        centre.push_str(&format!(": {}", values.join(", ")));
    }
    let mut entries = vec![
        (Symbol::Dot(POINT, 4), "Subgroup value".to_string()),
        (Symbol::Line(CENTRE, 2), centre),
    ];
    if all().any(|p| p.ucl.is_some()) {
        entries.push((Symbol::Line(LIMIT, 1), "3-sigma control limits".into()));
    }
    if all().any(|p| p.sigma_signal) {
        entries.push((Symbol::Dot(SIGNAL, 5), "Outside the limits".into()));
    }
    if charts
        .clone()
        .any(|c| c.parts.iter().any(|p| p.runs.signal))
    {
        entries.push((
            Symbol::Dashed(SIGNAL, 2),
            "Runs signal (Anhøj): shift or trend".into(),
        ));
    }
    if all().any(|p| !p.include) {
        entries.push((
            Symbol::Ring(POINT, 4),
            "Excluded from the centre line and limits".into(),
        ));
    }
    entries
}

/// `text` at `at` (pixels of `root`), vertically centred, anchored by `h`.
fn draw_text(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    text: &str,
    at: (i32, i32),
    size: u32,
    colour: RGBColor,
    h: HPos,
) -> Result<()> {
    let style = TextStyle::from(("sans-serif", size))
        .color(&colour)
        .pos(Pos::new(h, VPos::Center));
    root.draw(&Text::new(text.to_string(), at, style))
        .map_err(drawing)
}

#[cfg(test)]
mod tests {
    use super::super::svg_reading::{attribute, axis_map, elements, polylines, text_fill, ticks};
    use super::*;
    use crate::report::monitor::{ChartOptions, Subgroups};

    /// Hex of a colour as the SVG backend writes it.
    fn hex(c: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
    }

    /// A chart of `kind` of counts `y` among 50 each, one per month.
    fn chart(y: &[f64], kind: ChartKind, options: &ChartOptions) -> Chart {
        let labels = (0..y.len())
            .map(|m| format!("{}-{:02}", 2021 + m / 12, m % 12 + 1))
            .collect();
        let s = Subgroups::counts(
            labels,
            y.iter().map(|&v| Some(v)).collect(),
            vec![Some(50.0); y.len()],
        )
        .unwrap();
        Chart::compute(&s, kind, options).unwrap()
    }

    const STABLE: [f64; 12] = [5.0, 6.0, 4.0, 5.0, 7.0, 5.0, 20.0, 6.0, 4.0, 5.0, 6.0, 5.0];

    #[test]
    fn centre_line_and_signal_are_drawn_at_their_values() {
        let c = chart(&STABLE, ChartKind::P, &ChartOptions::default());
        let svg = control_chart_plot(&c, "Readmission", "Proportion readmitted").unwrap();
        let r = c.parts[0].runs;
        assert!(!r.signal);
        let subtitle = format!(
            "Longest run: {} (max {}) · Crossings: {} (min {}) · 1 point outside the limits",
            r.longest_run.unwrap(),
            r.longest_run_max.unwrap(),
            r.n_crossings.unwrap(),
            r.n_crossings_min.unwrap()
        );
        assert_eq!(text_fill(&svg, &subtitle), Some(hex(SIGNAL)), "{subtitle}");
        let (per_unit, zero) = axis_map(&ticks(&svg, "end", "y"));
        let pixel = |v: f64| zero + per_unit * v;
        // The centre line 78/600 across the plot (and the legend's sample line).
        let cl = c.points[0].cl.unwrap();
        assert!((cl - 78.0 / 600.0).abs() < 1e-15);
        let centre = polylines(&svg, &hex(CENTRE));
        assert_eq!(centre.len(), 2);
        assert!(centre
            .iter()
            .any(|l| l.iter().all(|p| (p.1 - pixel(cl)).abs() <= 1.0)));
        // One point outside the limits (20/50 in July), in the signal colour.
        let signals: Vec<&str> = elements(&svg, "circle")
            .into_iter()
            .filter(|e| attribute(e, "fill") == Some(&hex(SIGNAL)))
            .filter(|e| attribute(e, "r") == Some("5"))
            .collect();
        assert_eq!(signals.len(), 2, "the point and the legend's");
        let cy: Vec<f64> = signals
            .iter()
            .map(|e| attribute(e, "cy").unwrap().parse().unwrap())
            .collect();
        assert!(cy.iter().any(|&y| (y - pixel(0.4)).abs() <= 1.0), "{cy:?}");
    }

    #[test]
    fn a_runs_signal_dashes_the_centre_line_in_the_signal_colour() {
        let shifted: Vec<f64> = (0..20).map(|i| if i < 10 { 9.0 } else { 4.0 }).collect();
        let c = chart(&shifted, ChartKind::Run, &ChartOptions::default());
        assert!(c.parts[0].runs.signal);
        let svg = control_chart_plot(&c, "Shift", "Proportion").unwrap();
        // Only the legend's sample of a plain centre line; the centre line in dashes.
        assert_eq!(polylines(&svg, &hex(CENTRE)).len(), 1);
        assert!(polylines(&svg, &hex(SIGNAL)).len() > 10);
        assert!(svg.contains("Runs signal (Anhøj): shift or trend"));
        assert!(
            !svg.contains("3-sigma control limits"),
            "a run chart has no limits"
        );
    }

    #[test]
    fn parts_and_a_frozen_baseline_are_labelled() {
        let parts = ChartOptions {
            parts: vec![6],
            ..ChartOptions::default()
        };
        let svg = control_chart_plot(&chart(&STABLE, ChartKind::P, &parts), "Parts", "p").unwrap();
        for text in [
            "Part 1",
            "Part 2",
            "Part 2 (2021-07 to 2021-12): Longest run",
        ] {
            assert!(svg.contains(text), "{text}");
        }
        let frozen = ChartOptions {
            freeze: Some(6),
            ..ChartOptions::default()
        };
        let svg =
            control_chart_plot(&chart(&STABLE, ChartKind::P, &frozen), "Frozen", "p").unwrap();
        assert!(svg.contains("Baseline") && svg.contains("Centre line and limits frozen"));
    }

    #[test]
    fn month_labels_are_thinned_to_fit() {
        let c = chart(&[5.0; 36], ChartKind::Run, &ChartOptions::default());
        // "2021-01" at font 14 is 48 pixels, with its gap 60: 11 fit in 680, every 4th month.
        let ticks = x_ticks(&c, 680, 14);
        assert_eq!(ticks, [1.0, 5.0, 9.0, 13.0, 17.0, 21.0, 25.0, 29.0, 33.0]);
        assert_eq!(subgroup_label(&c, 5.0), "2021-05");
        // 12 months need 720 pixels: every second.
        let twelve = chart(&STABLE, ChartKind::Run, &ChartOptions::default());
        assert_eq!(x_ticks(&twelve, 680, 14), [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]);
        assert_eq!(x_ticks(&twelve, 800, 14).len(), 12);
    }

    #[test]
    fn small_multiples_draw_every_unit_on_one_scale() {
        let a = chart(&STABLE, ChartKind::P, &ChartOptions::default());
        let shifted: Vec<f64> = (0..20).map(|i| if i < 10 { 9.0 } else { 4.0 }).collect();
        let b = chart(&shifted, ChartKind::P, &ChartOptions::default());
        let panels: Vec<(&str, &Chart)> =
            vec![("LKT A", &a), ("LKT B", &b), ("LKT C", &a), ("LKT D", &b)];
        let svg = small_multiples_plot(&panels, "Readmission by team", "Readmitted (%)").unwrap();
        for name in [
            "LKT A",
            "LKT B",
            "LKT C",
            "LKT D",
            "Readmitted (%); the same scale in every panel",
        ] {
            assert!(svg.contains(name), "{name}");
        }
        let r = b.parts[0].runs;
        let line = format!(
            "Run {} (≤{}) · Crossings {} (≥{})",
            r.longest_run.unwrap(),
            r.longest_run_max.unwrap(),
            r.n_crossings.unwrap(),
            r.n_crossings_min.unwrap()
        );
        assert_eq!(text_fill(&svg, &line), Some(hex(SIGNAL)));
        // Two rows of two panels, taller than one row of three.
        let height = |svg: &str| {
            attribute(elements(svg, "svg")[0], "height")
                .unwrap()
                .parse::<u32>()
                .unwrap()
        };
        let three = small_multiples_plot(&panels[..3], "t", "y").unwrap();
        assert!(height(&svg) > height(&three) + PANEL_HEIGHT / 2);
        // Every panel's y-axis has the same ticks.
        let labels: Vec<String> = elements(&svg, "text")
            .into_iter()
            .filter(|e| attribute(e, "text-anchor") == Some("end"))
            .filter_map(|e| e.split_once('>').map(|(_, t)| t.trim().to_string()))
            .collect();
        let zero = labels.iter().filter(|t| *t == "0").count();
        assert_eq!(zero, 4, "{labels:?}");
    }

    #[test]
    fn charts_that_cannot_be_drawn_are_refused() {
        assert!(small_multiples_plot(&[], "t", "y").is_err());
        let mut bad = chart(&STABLE, ChartKind::P, &ChartOptions::default());
        bad.points[3].ucl = Some(f64::INFINITY);
        let e = small_multiples_plot(&[("LKT Z", &bad)], "t", "y")
            .unwrap_err()
            .to_string();
        assert!(e.contains("LKT Z") && e.contains("point 4"), "{e}");
        let mut bad = chart(&STABLE, ChartKind::P, &ChartOptions::default());
        bad.points[0].part = 2;
        assert!(control_chart_plot(&bad, "t", "y").is_err());
        bad.points.clear();
        assert!(control_chart_plot(&bad, "t", "y").is_err());
    }
}
