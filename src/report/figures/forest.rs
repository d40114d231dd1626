//! Forest plots: estimates with their intervals, in groups by outcome, on a ratio (log) or a
//! difference scale, with optional columns of events and patients per arm.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    draw_mesh, drawing, group_thousands, number, padded, room_around_zero, svg_sized, text_width,
    MARGIN, NOTE, POINT, SIZE,
};
use crate::core::error::{Error, Result};
use crate::effects::crude::{Estimate, OutcomeKind, TwoByTwo};
use crate::effects::standardise::MarginalEffects;

/// Font size of the labels, headings and columns.
const FONT: u32 = 13;
/// Font size of the "favours" annotations.
const NOTE_FONT: u32 = 12;
/// Height of a row (or a heading), in pixels.
const ROW: u32 = 26;
/// Height of a line of the column titles, in pixels.
const HEADER_LINE: u32 = 16;
/// Indent of the rows under a heading, in pixels.
const INDENT: u32 = 14;
/// Space between columns, in pixels.
const GAP: u32 = 14;
/// Height of the x-label area (tick labels and the axis title), in pixels.
const X_LABEL_AREA: u32 = 50;
/// Half the side of an estimate's square, in pixels.
const SQUARE: i32 = 5;
/// Narrowest plot, in pixels; long labels are cut short by it rather than the plot.
const MIN_PLOT_WIDTH: u32 = 240;
/// Title of the count columns, under each arm's name.
const COUNTS_TITLE: &str = "events/n";

/// One row of a forest plot.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestRow {
    /// What the row shows, e.g. `Relative risk, own home`.
    pub label: String,
    /// The estimate and its interval.
    pub estimate: Estimate,
    /// Events and patients in each arm, shown as `events/n` in the count columns when any row
    /// has them (the table's treated group in the first arm's column).
    pub counts: Option<TwoByTwo>,
}

impl ForestRow {
    /// A row without counts.
    pub fn new(label: impl Into<String>, estimate: Estimate) -> Self {
        ForestRow {
            label: label.into(),
            estimate,
            counts: None,
        }
    }

    /// The relative risk of marginal effects (delta-method interval), labelled `label`.
    pub fn relative_risk(label: impl Into<String>, m: &MarginalEffects) -> Self {
        ForestRow::new(label, m.relative_risk.delta)
    }

    /// This row with the events and patients of each arm.
    pub fn with_counts(mut self, counts: TwoByTwo) -> Self {
        self.counts = Some(counts);
        self
    }
}

/// Rows of one outcome under a heading.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestGroup {
    /// The heading, e.g. `30-day mortality`; empty for rows without one.
    pub heading: String,
    /// Whether the outcome is adverse (a ratio below 1, or a difference below 0, favours the
    /// treatment) or beneficial (above favours it): the heading's line then says which side of
    /// the no-effect line favours which arm. `None`: no such annotation.
    pub outcome: Option<OutcomeKind>,
    /// The rows, top to bottom.
    pub rows: Vec<ForestRow>,
}

impl ForestGroup {
    /// Rows under `heading` (empty for none), without a "favours" annotation.
    pub fn new(heading: impl Into<String>, rows: Vec<ForestRow>) -> Self {
        ForestGroup {
            heading: heading.into(),
            outcome: None,
            rows,
        }
    }

    /// This group with the "favours" annotation of an outcome of kind `outcome`.
    pub fn with_outcome(mut self, outcome: OutcomeKind) -> Self {
        self.outcome = Some(outcome);
        self
    }

    /// Whether the group takes a line for its heading (a heading or an annotation).
    fn has_heading_line(&self) -> bool {
        !self.heading.is_empty() || self.outcome.is_some()
    }

    /// The arm (0: treatment, 1: comparator) favoured below and above the no-effect line.
    fn favoured(&self) -> Option<(usize, usize)> {
        self.outcome.map(|kind| match kind {
            OutcomeKind::Adverse => (0, 1),
            OutcomeKind::Beneficial => (1, 0),
        })
    }
}

/// A forest plot: groups of rows, each row an estimate (a square) with its interval (a line),
/// the no-effect line (ratio 1 on a log scale, or difference 0), round ticks with a light grid,
/// a column of the estimates in numbers and, when rows have them, columns of events and
/// patients per arm. Draw it with [`ForestPlot::svg`].
#[derive(Debug, Clone, PartialEq)]
pub struct ForestPlot {
    /// The x-axis title.
    pub x_title: String,
    /// Whether the estimates are ratios (drawn on a log scale; every limit must be positive)
    /// rather than differences.
    pub ratio: bool,
    /// The arms' names, the treatment's first: the count columns' titles and the "favours"
    /// annotations (default `treatment`, `control`).
    pub arms: [String; 2],
    /// The groups, top to bottom.
    pub groups: Vec<ForestGroup>,
}

impl ForestPlot {
    /// An empty plot of ratios (`ratio`) or differences, with the x-axis title `x_title`.
    pub fn new(x_title: impl Into<String>, ratio: bool) -> Self {
        ForestPlot {
            x_title: x_title.into(),
            ratio,
            arms: ["treatment".into(), "control".into()],
            groups: Vec::new(),
        }
    }

    /// This plot with the arms named `treatment` and `comparator` (e.g. `KTH`, `usual care`).
    pub fn with_arms(
        mut self,
        treatment: impl Into<String>,
        comparator: impl Into<String>,
    ) -> Self {
        self.arms = [treatment.into(), comparator.into()];
        self
    }

    /// This plot with `group` added below the others.
    pub fn group(mut self, group: ForestGroup) -> Self {
        self.groups.push(group);
        self
    }

    /// Checks the plot: at least one row ([`Error::TooFewData`]), and every estimate and limit
    /// finite and, on a ratio scale, positive ([`Error::InvalidArgument`] naming the row).
    pub fn validate(&self) -> Result<()> {
        let rows = || self.groups.iter().flat_map(|g| &g.rows);
        if rows().next().is_none() {
            return Err(Error::too_few("a forest plot", "rows", 0, 1));
        }
        if let Some(bad) = rows().find(|r| {
            ![r.estimate.estimate, r.estimate.ci_low, r.estimate.ci_high]
                .iter()
                .all(|v| v.is_finite() && (!self.ratio || *v > 0.0))
        }) {
            return Err(Error::invalid(
                "rows",
                format!(
                    "row '{}' has a limit that cannot be drawn (infinite, or not positive on a \
                     ratio scale)",
                    bad.label
                ),
            ));
        }
        Ok(())
    }

    /// The SVG document (plotters), 800 pixels wide and as high as its rows need: the column
    /// titles on top; then per group its heading in bold, with, for a group whose outcome kind
    /// is set, "← favours ..." and "favours ... →" on either side of the no-effect line, and its
    /// rows, indented under the heading: the label, the count columns (`events/n` of each arm,
    /// when any row has counts), the interval and estimate, and the estimate with its interval
    /// in numbers. The x axis has round ticks (on a ratio scale 0.25, 0.5, 1, 2, 4 where three
    /// or more of them are in range, else 0.3, 0.5, 0.7, 1, 1.5, 2, ...) with a light grid;
    /// each side of the no-effect line is wide enough for its annotation.
    ///
    /// Errors: see [`ForestPlot::validate`].
    pub fn svg(&self) -> Result<String> {
        self.validate()?;
        let layout = Layout::new(self);
        let scale = |v: f64| if self.ratio { v.ln() } else { v };
        let (low, high) =
            self.groups
                .iter()
                .flat_map(|g| &g.rows)
                .fold((0.0f64, 0.0f64), |(l, h), r| {
                    (
                        l.min(scale(r.estimate.ci_low)),
                        h.max(scale(r.estimate.ci_high)),
                    )
                });
        let mut range = padded(low, high);
        if self.groups.iter().any(|g| g.outcome.is_some()) {
            let need = self
                .arms
                .iter()
                .map(|arm| text_width(&favours_left(arm), NOTE_FONT))
                .max()
                .unwrap_or(0)
                + 12;
            let width = f64::from(layout.plot.1 - layout.plot.0);
            range = room_around_zero(range, f64::from(need) / width);
        }
        let ticks = axis_ticks(range, self.ratio);
        let ratio = self.ratio;
        let lines = layout.lines as f64;
        svg_sized((SIZE.0, layout.height), |root| {
            let mut chart = ChartBuilder::on(root)
                .margin_top(MARGIN + layout.header)
                .margin_bottom(MARGIN)
                .margin_left(layout.plot.0)
                .margin_right(SIZE.0 - layout.plot.1)
                .x_label_area_size(X_LABEL_AREA)
                .build_cartesian_2d(
                    Ticked {
                        axis: (range.0..range.1).into(),
                        ticks,
                    },
                    -lines..0.0,
                )
                .map_err(drawing)?;
            draw_mesh(
                chart
                    .configure_mesh()
                    .disable_y_mesh()
                    .disable_y_axis()
                    .bold_line_style(BLACK.mix(0.12))
                    .light_line_style(TRANSPARENT)
                    .x_desc(self.x_title.as_str())
                    .x_label_formatter(&|v| tick_label(if ratio { v.exp() } else { *v })),
            )?;
            chart
                .draw_series(LineSeries::new(
                    vec![(0.0, -lines), (0.0, 0.0)],
                    BLACK.stroke_width(1),
                ))
                .map_err(drawing)?;
            let text = |s: String, at: (i32, i32), hpos: HPos, style: TextStyle<'static>| {
                root.draw(&Text::new(s, at, style.pos(Pos::new(hpos, VPos::Center))))
                    .map_err(drawing)
            };
            let plain = || TextStyle::from(("sans-serif", FONT));
            // Column titles.
            let titles = |k: u32| (MARGIN + k * HEADER_LINE + HEADER_LINE / 2) as i32;
            let estimate_x = (layout.plot.1 + GAP) as i32;
            if let Some(columns) = &layout.counts {
                for (arm, right) in self.arms.iter().zip(columns) {
                    text(arm.clone(), (*right, titles(0)), HPos::Right, plain())?;
                    text(
                        COUNTS_TITLE.into(),
                        (*right, titles(1)),
                        HPos::Right,
                        plain(),
                    )?;
                }
            }
            let estimate_title = layout.estimate_title.clone();
            text(estimate_title, (estimate_x, titles(0)), HPos::Left, plain())?;
            let (zero_x, _) = chart.backend_coord(&(0.0, 0.0));
            // The pixel y of the middle of line k (headings and rows, from the top).
            let middle = |k: usize| chart.backend_coord(&(0.0, -(k as f64) - 0.5)).1;
            let mut line = 0;
            for group in &self.groups {
                if group.has_heading_line() {
                    let y = middle(line);
                    line += 1;
                    let bold =
                        TextStyle::from(("sans-serif", FONT).into_font().style(FontStyle::Bold));
                    text(group.heading.clone(), (MARGIN as i32, y), HPos::Left, bold)?;
                    if let Some((below, above)) = group.favoured() {
                        let note = || TextStyle::from(("sans-serif", NOTE_FONT)).color(&NOTE);
                        let left = favours_left(&self.arms[below]);
                        text(left, (zero_x - 6, y), HPos::Right, note())?;
                        let right = format!("favours {} →", self.arms[above]);
                        text(right, (zero_x + 6, y), HPos::Left, note())?;
                    }
                }
                for row in &group.rows {
                    let y = middle(line);
                    line += 1;
                    let e = &row.estimate;
                    text(
                        row.label.clone(),
                        ((MARGIN + layout.indent) as i32, y),
                        HPos::Left,
                        plain(),
                    )?;
                    if let (Some(columns), Some(t)) = (&layout.counts, &row.counts) {
                        for (cell, right) in counts_cells(t).into_iter().zip(columns) {
                            text(cell, (*right, y), HPos::Right, plain())?;
                        }
                    }
                    let ends = [scale(e.ci_low), scale(e.ci_high)]
                        .map(|v| (chart.backend_coord(&(v, 0.0)).0, y));
                    root.draw(&PathElement::new(ends.to_vec(), POINT.stroke_width(2)))
                        .map_err(drawing)?;
                    let (x, _) = chart.backend_coord(&(scale(e.estimate), 0.0));
                    root.draw(&Rectangle::new(
                        [(x - SQUARE, y - SQUARE), (x + SQUARE, y + SQUARE)],
                        POINT.filled(),
                    ))
                    .map_err(drawing)?;
                    text(estimate_text(e), (estimate_x, y), HPos::Left, plain())?;
                }
            }
            Ok(())
        })
    }
}

/// A forest plot of `rows` in one group without a heading (see [`ForestPlot::svg`]): ratios on
/// a log scale when `ratio`, else differences; `x_title` is the x-axis title.
pub fn forest_plot(rows: &[ForestRow], ratio: bool, x_title: &str) -> Result<String> {
    ForestPlot::new(x_title, ratio)
        .group(ForestGroup::new("", rows.to_vec()))
        .svg()
}

/// Where the parts of a forest plot go, in pixels.
struct Layout {
    /// Lines of headings and rows.
    lines: usize,
    /// Height of the column titles.
    header: u32,
    /// Indent of the rows' labels.
    indent: u32,
    /// The right edges of the two count columns, if drawn.
    counts: Option<[i32; 2]>,
    /// The left and right edges of the plot.
    plot: (u32, u32),
    /// The title of the estimates' column.
    estimate_title: String,
    /// The figure's height.
    height: u32,
}

impl Layout {
    fn new(plot: &ForestPlot) -> Self {
        let rows = || plot.groups.iter().flat_map(|g| &g.rows);
        let headed = plot.groups.iter().any(ForestGroup::has_heading_line);
        let lines = plot.groups.iter().filter(|g| g.has_heading_line()).count() + rows().count();
        let indent = if headed { INDENT } else { 0 };
        let widest = |texts: &mut dyn Iterator<Item = String>| {
            texts.map(|t| text_width(&t, FONT)).max().unwrap_or(0)
        };
        // Count columns: each as wide as its widest cell, its arm's name or its title.
        let column_widths = rows().any(|r| r.counts.is_some()).then(|| {
            [0, 1].map(|arm| {
                let cells =
                    rows().filter_map(|r| r.counts.as_ref().map(|t| counts_cells(t)[arm].clone()));
                widest(&mut cells.chain([plot.arms[arm].clone(), COUNTS_TITLE.to_string()]))
            })
        });
        let counts_width = column_widths.map_or(0, |w| w[0] + w[1] + 2 * GAP);
        let headings = widest(&mut plot.groups.iter().map(|g| g.heading.clone()));
        let labels = widest(&mut rows().map(|r| r.label.clone())) + indent;
        let levels: Vec<f64> = rows().map(|r| r.estimate.level).collect();
        let estimate_title = if levels.iter().all(|l| *l == levels[0]) {
            format!("Estimate ({}% CI)", tick_label(100.0 * levels[0]))
        } else {
            "Estimate (CI)".to_string()
        };
        let estimates = widest(&mut rows().map(|r| estimate_text(&r.estimate)))
            .max(text_width(&estimate_title, FONT));
        // Headings run on over the count columns; labels are cut short by a narrow plot.
        let room = SIZE
            .0
            .saturating_sub(2 * MARGIN + counts_width + estimates + 2 * GAP + MIN_PLOT_WIDTH);
        let label_width = labels.max(headings.saturating_sub(counts_width)).min(room);
        let left = MARGIN + label_width + GAP;
        let counts = column_widths.map(|w| {
            let first = left + w[0];
            [first as i32, (first + GAP + w[1]) as i32]
        });
        let plot_left = left + counts_width;
        let plot_right = (SIZE.0 - MARGIN - estimates - GAP).max(plot_left + 1);
        let header = if counts.is_some() { 2 } else { 1 } * HEADER_LINE + 10;
        Layout {
            lines,
            header,
            indent,
            counts,
            plot: (plot_left, plot_right),
            estimate_title,
            height: MARGIN + header + lines as u32 * ROW + X_LABEL_AREA + MARGIN,
        }
    }
}

/// An `f64` axis with its ticks (and grid lines) at given values.
pub(super) struct Ticked {
    /// The axis.
    pub axis: RangedCoordf64,
    /// The ticks' values.
    pub ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.axis.map(value, limit)
    }

    /// The ticks, as bold points of the mesh; no light points.
    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.axis.range()
    }
}

/// `← favours {arm}`, the annotation left of the no-effect line.
fn favours_left(arm: &str) -> String {
    format!("← favours {arm}")
}

/// The count cells of a row: `events/n` of the treated arm, then of the control arm.
fn counts_cells(t: &TwoByTwo) -> [String; 2] {
    let thousands = |v: u64| group_thousands(&v.to_string(), false);
    [
        format!("{}/{}", thousands(t.a()), thousands(t.n1())),
        format!("{}/{}", thousands(t.c()), thousands(t.n0())),
    ]
}

/// `estimate (low to high)`, the estimate to three significant digits and the limits to as
/// many decimals (each limit to three significant digits of its own when the estimate is 0 or
/// written with an exponent).
fn estimate_text(e: &Estimate) -> String {
    let estimate = number(e.estimate);
    if e.estimate == 0.0 || estimate.contains('e') {
        return format!("{estimate} ({} to {})", number(e.ci_low), number(e.ci_high));
    }
    let decimals = estimate.split_once('.').map_or(0, |(_, d)| d.len());
    format!(
        "{estimate} ({:.decimals$} to {:.decimals$})",
        e.ci_low, e.ci_high
    )
}

/// Round ticks of an axis over `(low, high)`: on the log scale of ratios when `ratio` (the
/// ticks' logarithms, the values being log ratios), else on the scale of the values.
pub(super) fn axis_ticks((low, high): (f64, f64), ratio: bool) -> Vec<f64> {
    if ratio {
        ratio_ticks(low.exp(), high.exp())
            .into_iter()
            .map(f64::ln)
            .collect()
    } else {
        linear_ticks(low, high)
    }
}

/// Round ticks of a ratio axis from `low` to `high` (`0 < low < high`): the powers of 2 in the
/// range (0.25, 0.5, 1, 2, 4) if there are three to nine; more than nine, the powers of 10
/// `10^k` with `k` a multiple of the smallest step that leaves at most nine; fewer than three,
/// the values 1, 1.5, 2, 3, 5 and 7 times powers of 10 in the range, if three or more; else
/// evenly spaced round values ([`linear_ticks`]).
fn ratio_ticks(low: f64, high: f64) -> Vec<f64> {
    // The powers base^k in the range with k a multiple of `step`.
    let powers = |base: f64, step: i32| {
        let (from, to) = (
            (low.ln() / base.ln()).floor() as i32,
            (high.ln() / base.ln()).ceil() as i32,
        );
        (from..=to)
            .filter(|k| k % step == 0)
            .map(|k| base.powi(k))
            .filter(|v| (low..=high).contains(v))
            .collect::<Vec<f64>>()
    };
    let doubling = powers(2.0, 1);
    if doubling.len() > 9 {
        let decades = powers(10.0, 1).len() as i32;
        return (1..=decades)
            .map(|step| powers(10.0, step))
            .find(|ticks| ticks.len() <= 9)
            .unwrap_or_default();
    }
    if doubling.len() >= 3 {
        return doubling;
    }
    let decades = low.log10().floor() as i32..=high.log10().ceil() as i32;
    let ladder: Vec<f64> = decades
        .flat_map(|d| [1.0, 1.5, 2.0, 3.0, 5.0, 7.0].map(|m| m * 10f64.powi(d)))
        .filter(|v| (low..=high).contains(v))
        .collect();
    if ladder.len() >= 3 {
        return ladder;
    }
    linear_ticks(low, high)
}

/// Evenly spaced round ticks from `low` to `high` (`low < high`): multiples of 1, 2 or 5 times
/// a power of 10, about five of them.
fn linear_ticks(low: f64, high: f64) -> Vec<f64> {
    let raw = (high - low) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let (from, to) = ((low / step).ceil() as i64, (high / step).floor() as i64);
    (from..=to).map(|k| k as f64 * step).collect()
}

/// A tick value as short as it reads: `0.3` (not `0.30000000000000004`), `2`, `1.5`.
pub(super) fn tick_label(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{}", if v == 0.0 { 0.0 } else { v });
    }
    let scale = 10f64.powi(9 - v.abs().log10().floor() as i32);
    format!("{}", (v * scale).round() / scale)
}

#[cfg(test)]
mod tests {
    use super::super::svg_reading::ticks;
    use super::*;

    fn e(estimate: f64, ci_low: f64, ci_high: f64) -> Estimate {
        Estimate {
            estimate,
            ci_low,
            ci_high,
            level: 0.95,
        }
    }

    #[test]
    fn round_ticks() {
        assert_eq!(ratio_ticks(0.2, 5.0), [0.25, 0.5, 1.0, 2.0, 4.0]);
        assert_eq!(ratio_ticks(0.45, 2.2), [0.5, 1.0, 2.0]);
        // Two powers of 2 only: the finer ladder.
        let ticks: Vec<String> = ratio_ticks(0.28, 1.9).into_iter().map(tick_label).collect();
        assert_eq!(ticks, ["0.3", "0.5", "0.7", "1", "1.5"]);
        // Near 1: evenly spaced.
        let ticks: Vec<String> = ratio_ticks(0.96, 1.05)
            .into_iter()
            .map(tick_label)
            .collect();
        assert_eq!(ticks, ["0.96", "0.98", "1", "1.02", "1.04"]);
        // A huge range: powers of 10, at most nine.
        let ticks = ratio_ticks(1e-12, 1e12);
        assert!(ticks.len() <= 9 && ticks.len() >= 5, "{ticks:?}");
        assert!(ticks
            .iter()
            .all(|t| (t.log10() - t.log10().round()).abs() < 1e-12));
        assert_eq!(linear_ticks(-0.13, 0.05), [-0.1, -0.05, 0.0, 0.05]);
        assert_eq!(tick_label(0.1 + 0.2), "0.3");
        assert_eq!(tick_label(95.0), "95");
        assert_eq!(tick_label(-0.0), "0");
    }

    #[test]
    fn grouped_plot_has_headings_counts_and_favours_on_the_right_sides() {
        let deaths = TwoByTwo::new(42, 524, 248, 2085).unwrap();
        let plot = ForestPlot::new("Ratio, KTH against usual care (log scale)", true)
            .with_arms("KTH", "usual care")
            .group(
                ForestGroup::new(
                    "30-day mortality",
                    vec![ForestRow::new("adjusted OR", e(0.6, 0.42, 0.86)).with_counts(deaths)],
                )
                .with_outcome(OutcomeKind::Adverse),
            )
            .group(
                ForestGroup::new(
                    "Regained mobility",
                    vec![ForestRow::new("adjusted OR", e(1.15, 0.92, 1.43))],
                )
                .with_outcome(OutcomeKind::Beneficial),
            );
        let svg = plot.svg().unwrap();
        for text in [
            "30-day mortality",
            "Regained mobility",
            "font-weight=\"bold\"",
            "42/524",
            "248/2,085",
            "events/n",
            "usual care",
            "Estimate (95% CI)",
            "0.600 (0.420 to 0.860)",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        // Mortality: lower is better, so KTH is favoured on the left; mobility the reverse.
        let order: Vec<&str> = svg
            .match_indices("favours")
            .map(|(k, _)| {
                let end = svg[k..].find('\n').map_or(svg.len(), |n| k + n);
                &svg[k..end]
            })
            .collect();
        assert_eq!(
            order,
            [
                "favours KTH",
                "favours usual care →",
                "favours usual care",
                "favours KTH →"
            ]
        );
        let lefts: Vec<usize> = svg.match_indices("← favours").map(|(k, _)| k).collect();
        assert_eq!(lefts.len(), 2);
        // Round ticks, in order, evenly spaced on the log scale.
        let ticks = ticks(&svg, "middle", "x");
        let values: Vec<f64> = ticks.iter().map(|t| t.0).collect();
        assert_eq!(values, [0.5, 0.7, 1.0, 1.5]);
        let at = |value: f64| ticks.iter().find(|t| t.0 == value).unwrap().1;
        let per_log = (at(1.0) - at(0.5)) / 2f64.ln();
        for value in [0.7, 1.5] {
            assert!((at(value) - at(1.0) - per_log * value.ln()).abs() <= 1.0);
        }
        // A light grid line at each tick.
        assert!(svg.matches("opacity=\"0.12\"").count() >= ticks.len());
    }

    #[test]
    fn forest_plot_has_its_labels_and_rejects_undrawable_rows() {
        let svg = forest_plot(
            &[
                ForestRow::new("Mortality, odds ratio", e(0.6, 0.37, 0.85)),
                ForestRow::new("Readmission, relative risk", e(1.28, 1.05, 1.56)),
            ],
            true,
            "Ratio (log scale)",
        )
        .unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("Mortality, odds ratio"));
        assert!(svg.contains("Ratio (log scale)"));
        assert!(!svg.contains("favours") && !svg.contains("events/n"));
        let bad = forest_plot(&[ForestRow::new("x", e(1.0, 0.0, 2.0))], true, "Ratio");
        assert!(bad.unwrap_err().to_string().contains("row 'x'"));
        assert!(forest_plot(&[], false, "d").is_err());
        let differences =
            forest_plot(&[ForestRow::new("d", e(-0.05, -0.08, -0.02))], false, "RD").unwrap();
        assert!(
            differences.contains("-0.0500 (-0.0800 to -0.0200)"),
            "{differences}"
        );
        assert_eq!(
            estimate_text(&e(1.24, 0.8839, 1.726)),
            "1.24 (0.88 to 1.73)"
        );
        assert_eq!(
            estimate_text(&e(0.0, -0.02, 0.031)),
            "0 (-0.0200 to 0.0310)"
        );
    }
}
