//! Figures as SVG text, readable at A4 width (800 pixels wide, axis titles with units,
//! legends): the cost-effectiveness plane, the cost-effectiveness acceptability curve, a
//! forest plot of effect estimates, the rollout diagram of a stepped-wedge or
//! staggered-rollout schedule, the treatment effect by exposure time with its time average, and
//! a power curve (closed form beside simulation, [`power_curve_plot`]), run and control
//! charts of monitored indicators, one unit ([`control_chart_plot`]) or one panel per unit
//! ([`small_multiples_plot`]), and a funnel plot of units against their volume
//! ([`funnel_plot`]). Each function returns the SVG document; write it to a file with
//! `std::fs::write`.

use std::ops::Range;

use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::core::error::{Error, Result};

mod cost_effectiveness;
mod exposure;
mod forest;
mod funnel;
mod power;
mod rollout;
mod spc;

pub use cost_effectiveness::{acceptability_curve, cost_effectiveness_plane};
pub use exposure::exposure_effects_plot;
pub use forest::{forest_plot, ForestGroup, ForestPlot, ForestRow};
pub use funnel::funnel_plot;
pub use power::{power_curve_plot, PowerCurve, SimulatedSeries};
pub use rollout::{rollout_diagram, RolloutDiagram};
pub use spc::{control_chart_plot, small_multiples_plot};

/// Width and height of the figures, in pixels (A4 width at 96 dpi is 794); the forest plot and
/// the rollout diagram take the height their rows need.
pub const SIZE: (u32, u32) = (800, 560);

const POINT: RGBColor = RGBColor(31, 119, 180);
const CLOUD: RGBColor = RGBColor(158, 202, 225);
const LINE: RGBColor = RGBColor(214, 39, 40);
/// Colour of the zero lines of a plane (a little lighter than the axes).
const ZERO: RGBColor = RGBColor(60, 60, 60);
/// Colour of the cross and outline of a cell that is not observed.
const UNOBSERVED: RGBColor = RGBColor(170, 170, 170);
/// Colour of annotations (quadrant names, "favours ..." labels).
const NOTE: RGBColor = RGBColor(90, 90, 90);
/// Margin around every figure, in pixels.
const MARGIN: u32 = 16;
/// Font size of legends and labels.
const LABEL_FONT: u32 = 14;

/// A drawing error as the crate's error.
fn drawing<E: std::fmt::Debug>(e: E) -> Error {
    Error::Numerical {
        what: "drawing a figure".into(),
        message: format!("{e:?}"),
    }
}

/// Draw with `f` on an SVG canvas of [`SIZE`] and return the document.
fn svg(f: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>) -> Result<String> {
    svg_sized(SIZE, f)
}

/// Draw with `f` on an SVG canvas of `size` (width, height) pixels and return the document.
fn svg_sized(
    size: (u32, u32),
    f: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        f(&root)?;
        root.present().map_err(drawing)?;
    }
    Ok(out)
}

/// A chart with `f64` axes on an SVG canvas.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A chart on `root` over `x` by `y` with `caption` as its title, the figures' margins
/// (`margin_right` pixels on the right, `margin_bottom` below the x-axis title), an x-label
/// area of 50 pixels and a y-label area of `y_label_area`.
fn captioned_chart<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    caption: &str,
    (margin_right, margin_bottom): (u32, u32),
    y_label_area: u32,
    (x, y): (Range<f64>, Range<f64>),
) -> Result<Chart<'a, 'b>> {
    ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 22))
        .margin(MARGIN)
        .margin_right(margin_right)
        .margin_bottom(margin_bottom)
        .x_label_area_size(50)
        .y_label_area_size(y_label_area)
        .build_cartesian_2d(x, y)
        .map_err(drawing)
}

/// Draws a mesh whose axis titles and label formats are set, in the figures' fonts.
fn draw_mesh<X, Y>(mesh: &mut MeshStyle<'_, '_, X, Y, SVGBackend<'_>>) -> Result<()>
where
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged + ValueFormatter<Y::ValueType>,
{
    mesh.label_style(("sans-serif", LABEL_FONT))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(drawing)
}

/// The symbol of a legend entry.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Symbol {
    /// A filled circle of this colour and radius.
    Dot(RGBColor, i32),
    /// A hollow circle of this colour and radius.
    Ring(RGBColor, i32),
    /// A line of this colour and width.
    Line(RGBColor, u32),
    /// A dashed line of this colour and width.
    Dashed(RGBColor, u32),
    /// A rollout cell with this share under the intervention, filled dark from the right.
    Cell(f64),
    /// A rollout cell that is not observed: white with a grey cross.
    Unobserved,
    /// No symbol: a note in the legend's font.
    Note,
}

/// Width of a legend symbol and the space after it, in pixels.
const SYMBOL_WIDTH: i32 = 20;
/// Height of a legend line, in pixels.
const LEGEND_LINE: i32 = 22;

/// Where each legend entry starts, laid out from the left edge `x` to the right, on a new line
/// before an entry that would pass `right`: per entry `(x, line)`.
fn legend_layout(x: i32, right: i32, entries: &[(Symbol, String)]) -> Vec<(i32, usize)> {
    let mut at = (x, 0);
    entries
        .iter()
        .map(|(symbol, text)| {
            let width = legend_entry_width(*symbol, text);
            if at.0 > x && at.0 + width > right {
                at = (x, at.1 + 1);
            }
            let start = at;
            at.0 += width + 24;
            start
        })
        .collect()
}

/// Width in pixels of a legend entry: its symbol, a gap and its text.
fn legend_entry_width(symbol: Symbol, text: &str) -> i32 {
    let symbol = if symbol == Symbol::Note {
        0
    } else {
        SYMBOL_WIDTH + 6
    };
    symbol + text_width(text, LABEL_FONT) as i32
}

/// Height in pixels of the legend of `entries` between `x` and `right` (see [`draw_legend`]).
fn legend_height(x: i32, right: i32, entries: &[(Symbol, String)]) -> u32 {
    let lines = legend_layout(x, right, entries)
        .last()
        .map_or(0, |(_, line)| line + 1);
    lines as u32 * LEGEND_LINE as u32
}

/// Draws the legend of `entries` with its top left corner at `(x, y)`, each entry a symbol and
/// its text, from left to right and on as many lines as the space up to `right` needs.
fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    right: i32,
    entries: &[(Symbol, String)],
) -> Result<()> {
    for ((symbol, text), (at, line)) in entries.iter().zip(legend_layout(x, right, entries)) {
        let middle = y + line as i32 * LEGEND_LINE + LEGEND_LINE / 2;
        let text_x = match symbol {
            Symbol::Note => at,
            _ => at + SYMBOL_WIDTH + 6,
        };
        match *symbol {
            Symbol::Dot(color, radius) => root
                .draw(&Circle::new(
                    (at + SYMBOL_WIDTH / 2, middle),
                    radius,
                    color.filled(),
                ))
                .map_err(drawing)?,
            Symbol::Ring(color, radius) => root
                .draw(&Circle::new(
                    (at + SYMBOL_WIDTH / 2, middle),
                    radius,
                    color.stroke_width(2),
                ))
                .map_err(drawing)?,
            Symbol::Line(color, width) => root
                .draw(&PathElement::new(
                    vec![(at, middle), (at + SYMBOL_WIDTH, middle)],
                    color.stroke_width(width),
                ))
                .map_err(drawing)?,
            Symbol::Dashed(color, width) => root
                .draw(&DashedPathElement::new(
                    vec![(at, middle), (at + SYMBOL_WIDTH, middle)],
                    5,
                    3,
                    color.stroke_width(width),
                ))
                .map_err(drawing)?,
            Symbol::Cell(share) => {
                let (top, side) = (middle - 8, 16);
                root.draw(&Rectangle::new(
                    [(at, top), (at + side, top + side)],
                    CLOUD.filled(),
                ))
                .map_err(drawing)?;
                if share > 0.0 {
                    let light = ((1.0 - share) * f64::from(side)).round() as i32;
                    root.draw(&Rectangle::new(
                        [(at + light, top), (at + side, top + side)],
                        POINT.filled(),
                    ))
                    .map_err(drawing)?;
                }
            }
            Symbol::Unobserved => {
                let top = middle - 8;
                draw_unobserved(root, (at, top), (at + 16, top + 16))?;
            }
            Symbol::Note => {}
        }
        root.draw(&Text::new(
            text.clone(),
            (text_x, middle),
            TextStyle::from(("sans-serif", LABEL_FONT)).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(drawing)?;
    }
    Ok(())
}

/// A cell that is not observed, from its top left to its bottom right corner (pixels): white,
/// with a grey cross.
fn draw_unobserved<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x0, y0): (i32, i32),
    (x1, y1): (i32, i32),
) -> Result<()> {
    root.draw(&Rectangle::new([(x0, y0), (x1, y1)], WHITE.filled()))
        .map_err(drawing)?;
    let (dx, dy) = ((x1 - x0) / 4, (y1 - y0) / 4);
    for line in [
        [(x0 + dx, y0 + dy), (x1 - dx, y1 - dy)],
        [(x0 + dx, y1 - dy), (x1 - dx, y0 + dy)],
    ] {
        root.draw(&PathElement::new(line.to_vec(), UNOBSERVED.stroke_width(1)))
            .map_err(drawing)?;
    }
    root.draw(&Rectangle::new(
        [(x0, y0), (x1, y1)],
        UNOBSERVED.stroke_width(1),
    ))
    .map_err(drawing)
}

/// A point at `(x, estimate)` of `chart`, a filled circle of `radius` pixels, with its interval
/// from `low` to `high` as a vertical line with end caps of `cap` pixels each side, in `colour`
/// (drawn on `root`, the chart's whole canvas, in pixels).
fn draw_point_interval<DB, X, Y>(
    root: &DrawingArea<DB, Shift>,
    chart: &ChartContext<'_, DB, Cartesian2d<X, Y>>,
    x: f64,
    (estimate, low, high): (f64, f64, f64),
    (radius, cap): (i32, i32),
    colour: RGBColor,
) -> Result<()>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let whisker = [(x, low), (x, high)]
        .map(|p| chart.backend_coord(&p))
        .to_vec();
    let caps = [low, high].map(|y| {
        let (px, py) = chart.backend_coord(&(x, y));
        vec![(px - cap, py), (px + cap, py)]
    });
    for path in std::iter::once(whisker).chain(caps) {
        root.draw(&PathElement::new(path, colour.stroke_width(2)))
            .map_err(drawing)?;
    }
    root.draw(&Circle::new(
        chart.backend_coord(&(x, estimate)),
        radius,
        colour.filled(),
    ))
    .map_err(drawing)
}

/// Draws the legend of `entries` under a figure of [`SIZE`], from `left` to the right margin,
/// `height` pixels high (see [`legend_height`]) and ending at the bottom margin.
fn draw_legend_below<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    left: i32,
    height: u32,
    entries: &[(Symbol, String)],
) -> Result<()> {
    draw_legend(
        root,
        (left, (SIZE.1 - MARGIN - height) as i32),
        (SIZE.0 - MARGIN) as i32,
        entries,
    )
}

/// Estimated width in pixels of `text` at font `size`: the SVG backend writes the font size as
/// `size / 1.24` pixels, and a sans-serif glyph is on average about 0.6 of that wide.
fn text_width(text: &str, size: u32) -> u32 {
    (text.chars().count() as f64 * f64::from(size) / 1.24 * 0.6).ceil() as u32
}

/// `[low, high]` widened by 8% on each side (and to include 0), never empty.
fn padded(low: f64, high: f64) -> (f64, f64) {
    let (low, high) = (low.min(0.0), high.max(0.0));
    let pad = ((high - low) * 0.08).max(1e-12);
    (low - pad, high + pad)
}

/// `(low, high)`, with `low < 0 < high`, widened on the side of 0 that is shorter than
/// `share` (at most 1/2) of the whole range until it is that share: room for a label on each
/// side of 0.
fn room_around_zero((low, high): (f64, f64), share: f64) -> (f64, f64) {
    let share = share.clamp(0.0, 0.5);
    let width = high - low;
    if -low < share * width {
        (-share * high / (1.0 - share), high)
    } else if high < share * width {
        (low, -share * low / (1.0 - share))
    } else {
        (low, high)
    }
}

/// Three significant digits.
fn number(v: f64) -> String {
    crate::models::coef_table::sig(v, 3)
}

/// `161060` as `161,060` (rounded half away from zero).
fn thousands(v: f64) -> String {
    let rounded = v.round();
    group_thousands(&format!("{}", rounded.abs() as i64), rounded < 0.0)
}

/// The digits of a whole number with a comma before each group of three from the right, and
/// a `-` before them if `negative`: `161060` as `161,060`.
pub(crate) fn group_thousands(digits: &str, negative: bool) -> String {
    let mut out = String::from(if negative { "-" } else { "" });
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `deaths avoided` -> `death avoided` for "per ..." phrases.
fn singular(unit: &str) -> String {
    unit.replacen("deaths", "death", 1)
        .replacen("lives", "life", 1)
        .replacen("readmissions", "readmission", 1)
        .replacen("patients", "patient", 1)
}

/// Reading the SVG documents of the figures back in tests: elements, attributes, lines and
/// axis ticks in pixels.
#[cfg(test)]
mod svg_reading {
    /// The value of attribute `name` in an SVG element's text.
    pub fn attribute<'a>(element: &'a str, name: &str) -> Option<&'a str> {
        let start = element.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = element[start..].find('"')? + start;
        Some(&element[start..end])
    }

    /// The elements `<tag ...>` of `svg`, each with what follows up to the next element.
    pub fn elements<'a>(svg: &'a str, tag: &str) -> Vec<&'a str> {
        svg.split('<')
            .filter(|e| e.starts_with(&format!("{tag} ")))
            .collect()
    }

    /// The text of an element, trimmed.
    fn text_of(element: &str) -> Option<&str> {
        Some(element.split_once('>')?.1.trim())
    }

    /// The pixel points of every polyline stroked with `colour`.
    pub fn polylines(svg: &str, colour: &str) -> Vec<Vec<(f64, f64)>> {
        elements(svg, "polyline")
            .into_iter()
            .filter(|e| attribute(e, "stroke") == Some(colour))
            .map(|e| {
                attribute(e, "points")
                    .unwrap_or("")
                    .split_whitespace()
                    .filter_map(|p| {
                        let (x, y) = p.split_once(',')?;
                        Some((x.parse().ok()?, y.parse().ok()?))
                    })
                    .collect()
            })
            .collect()
    }

    /// The ticks of one axis as (value, pixel): the numeric, unrotated labels anchored at
    /// `anchor` (`middle` under the x axis, `end` left of the y axis), with the pixel from
    /// attribute `at` (`x` or `y`); thousands separators are dropped.
    pub fn ticks(svg: &str, anchor: &str, at: &str) -> Vec<(f64, f64)> {
        elements(svg, "text")
            .into_iter()
            .filter(|e| {
                attribute(e, "text-anchor") == Some(anchor) && attribute(e, "transform").is_none()
            })
            .filter_map(|e| {
                let label = text_of(e)?.replace(',', "");
                Some((label.parse().ok()?, attribute(e, at)?.parse().ok()?))
            })
            .collect()
    }

    /// Pixels per data unit and the pixel of 0 on an axis, from its first and last tick.
    pub fn axis_map(ticks: &[(f64, f64)]) -> (f64, f64) {
        let (first, last) = (ticks[0], ticks[ticks.len() - 1]);
        let per_unit = (last.1 - first.1) / (last.0 - first.0);
        (per_unit, first.1 - per_unit * first.0)
    }

    /// The fill colour of the first text element whose text is `text`.
    pub fn text_fill(svg: &str, text: &str) -> Option<String> {
        elements(svg, "text")
            .into_iter()
            .find(|e| text_of(e) == Some(text))
            .and_then(|e| attribute(e, "fill"))
            .map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(161_060.4), "161,060");
        assert_eq!(thousands(-1234.0), "-1,234");
        assert_eq!(thousands(12.0), "12");
        assert_eq!(singular("lives saved"), "life saved");
    }

    #[test]
    fn room_on_both_sides_of_zero() {
        // 0 is 10% from the left: the left side grows to 25% of the new range.
        let (low, high) = room_around_zero((-1.0, 9.0), 0.25);
        assert!((-low / (high - low) - 0.25).abs() < 1e-12 && high == 9.0);
        let (low, high) = room_around_zero((-9.0, 1.0), 0.25);
        assert!((high / (high - low) - 0.25).abs() < 1e-12 && low == -9.0);
        assert_eq!(room_around_zero((-4.0, 6.0), 0.25), (-4.0, 6.0));
        // A share above 1/2 centres 0.
        let (low, high) = room_around_zero((-1.0, 3.0), 0.9);
        assert!((low + high).abs() < 1e-12);
    }

    #[test]
    fn legend_wraps_before_the_right_edge() {
        let entries = vec![
            (Symbol::Dot(POINT, 4), "a".repeat(40)),
            (Symbol::Line(LINE, 2), "b".repeat(40)),
            (Symbol::Note, "c".repeat(10)),
        ];
        let layout = legend_layout(100, 600, &entries);
        assert_eq!(layout[0], (100, 0));
        // 40 characters are 271 pixels at font 14, with the symbol 297: the second entry
        // starts at 421 and would end at 718, past 600.
        assert_eq!(layout[1], (100, 1));
        assert_eq!(layout[2].1, 1);
        assert_eq!(legend_height(100, 600, &entries), 2 * LEGEND_LINE as u32);
        assert_eq!(legend_height(100, 2000, &entries), LEGEND_LINE as u32);
    }
}
