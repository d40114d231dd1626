//! Figures as SVG text, readable at A4 width (800 x 560 pixels, axis titles with units,
//! legends): the cost-effectiveness plane, the cost-effectiveness acceptability curve, a
//! forest plot of effect estimates and the rollout diagram of a stepped-wedge or
//! staggered-rollout schedule. Each function returns the SVG document; write it to a file
//! with `std::fs::write`.

use std::ops::Range;

use plotters::chart::MeshStyle;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::core::error::{Error, Result};
use crate::effects::cost_effectiveness::CostEffectiveness;
use crate::effects::crude::Estimate;
use crate::effects::standardise::MarginalEffects;

mod rollout;

pub use rollout::{rollout_diagram, RolloutDiagram, RolloutRow};

/// Width and height of every figure, in pixels (A4 width at 96 dpi is 794).
pub const SIZE: (u32, u32) = (800, 560);

const POINT: RGBColor = RGBColor(31, 119, 180);
const CLOUD: RGBColor = RGBColor(158, 202, 225);
const LINE: RGBColor = RGBColor(214, 39, 40);

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
/// (`margin_right` pixels on the right) and an x-label area of 50 pixels and a y-label area of
/// `y_label_area`.
fn captioned_chart<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    caption: &str,
    margin_right: u32,
    y_label_area: u32,
    (x, y): (Range<f64>, Range<f64>),
) -> Result<Chart<'a, 'b>> {
    ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 22))
        .margin(16)
        .margin_right(margin_right)
        .x_label_area_size(50)
        .y_label_area_size(y_label_area)
        .build_cartesian_2d(x, y)
        .map_err(drawing)
}

/// Draws a mesh whose axis titles and label formats are set, in the figures' fonts.
fn draw_mesh(
    mesh: &mut MeshStyle<'_, '_, RangedCoordf64, RangedCoordf64, SVGBackend<'_>>,
) -> Result<()> {
    mesh.label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(drawing)
}

/// Draws the legend of `chart` at `position`, on a white box with a black border.
fn draw_legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, position: SeriesLabelPosition) -> Result<()> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(position)
        .draw()
        .map_err(drawing)
}

/// `[low, high]` widened by 8% on each side (and to include 0), never empty.
fn padded(low: f64, high: f64) -> (f64, f64) {
    let (low, high) = (low.min(0.0), high.max(0.0));
    let pad = ((high - low) * 0.08).max(1e-12);
    (low - pad, high + pad)
}

/// The cost-effectiveness plane: every bootstrap pair (incremental effect, incremental cost),
/// the point estimate, and the willingness-to-pay line `cost = lambda x effect` (below it the
/// treatment is cost-effective). `effect_unit` names the effect (e.g. "deaths avoided"),
/// `currency` the cost unit (e.g. "DKK").
pub fn cost_effectiveness_plane(
    ce: &CostEffectiveness,
    willingness_to_pay: f64,
    effect_unit: &str,
    currency: &str,
) -> Result<String> {
    let (e_low, e_high) = ce.replicates.iter().fold(
        (
            ce.incremental_effect.estimate,
            ce.incremental_effect.estimate,
        ),
        |(l, h), p| (l.min(p[1]), h.max(p[1])),
    );
    let (c_low, c_high) = ce.replicates.iter().fold(
        (ce.incremental_cost.estimate, ce.incremental_cost.estimate),
        |(l, h), p| (l.min(p[0]), h.max(p[0])),
    );
    let x = padded(e_low, e_high);
    let y = padded(c_low, c_high);
    svg(|root| {
        let mut chart = captioned_chart(
            root,
            "Cost-effectiveness plane (cluster bootstrap)",
            16,
            90,
            (x.0..x.1, y.0..y.1),
        )?;
        draw_mesh(
            chart
                .configure_mesh()
                .x_desc(format!("Incremental effect ({effect_unit} per patient)"))
                .y_desc(format!("Incremental cost ({currency} per patient)"))
                .y_label_formatter(&|v| thousands(*v)),
        )?;
        for series in [vec![(x.0, 0.0), (x.1, 0.0)], vec![(0.0, y.0), (0.0, y.1)]] {
            chart
                .draw_series(LineSeries::new(series, BLACK.stroke_width(1)))
                .map_err(drawing)?;
        }
        chart
            .draw_series(
                ce.replicates
                    .iter()
                    .map(|p| Circle::new((p[1], p[0]), 2, CLOUD.filled())),
            )
            .map_err(drawing)?
            .label(format!("Bootstrap replicates ({})", ce.replicates.len()))
            .legend(|(x, y)| Circle::new((x + 10, y), 4, CLOUD.filled()));
        let line: Vec<(f64, f64)> = [x.0, x.1]
            .iter()
            .map(|&e| (e, willingness_to_pay * e))
            .collect();
        chart
            .draw_series(LineSeries::new(line, LINE.stroke_width(2)))
            .map_err(drawing)?
            .label(format!(
                "Willingness to pay: {} {currency} per {}",
                thousands(willingness_to_pay),
                singular(effect_unit)
            ))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], LINE.stroke_width(2)));
        chart
            .draw_series(std::iter::once(Circle::new(
                (ce.incremental_effect.estimate, ce.incremental_cost.estimate),
                6,
                POINT.filled(),
            )))
            .map_err(drawing)?
            .label(format!(
                "Estimate: {} {currency} per {}",
                thousands(ce.icer),
                singular(effect_unit)
            ))
            .legend(|(x, y)| Circle::new((x + 10, y), 5, POINT.filled()));
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

/// The cost-effectiveness acceptability curve: the probability that the treatment is
/// cost-effective (positive net benefit) against the willingness to pay per unit of effect.
pub fn acceptability_curve(
    ce: &CostEffectiveness,
    effect_unit: &str,
    currency: &str,
) -> Result<String> {
    let top = ce
        .net_benefit
        .iter()
        .map(|n| n.willingness_to_pay)
        .fold(0.0, f64::max)
        .max(1.0);
    svg(|root| {
        let mut chart = captioned_chart(
            root,
            "Cost-effectiveness acceptability curve",
            40,
            70,
            (0.0..top, 0.0..1.0),
        )?;
        draw_mesh(
            chart
                .configure_mesh()
                .x_desc(format!(
                    "Willingness to pay ({currency} per {})",
                    singular(effect_unit)
                ))
                .y_desc("Probability that the treatment is cost-effective")
                .x_label_formatter(&|v| thousands(*v)),
        )?;
        chart
            .draw_series(LineSeries::new(
                ce.net_benefit
                    .iter()
                    .map(|n| (n.willingness_to_pay, n.probability_cost_effective)),
                POINT.stroke_width(3),
            ))
            .map_err(drawing)?
            .label(format!(
                "Share of {} bootstrap replicates with positive net benefit",
                ce.replicates.len()
            ))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], POINT.stroke_width(3)));
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
    })
}

/// One row of a forest plot.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestRow {
    /// What the row shows, e.g. `Relative risk, own home`.
    pub label: String,
    /// The estimate and its interval.
    pub estimate: Estimate,
}

impl ForestRow {
    /// A row.
    pub fn new(label: impl Into<String>, estimate: Estimate) -> Self {
        ForestRow {
            label: label.into(),
            estimate,
        }
    }

    /// The relative risk of marginal effects (delta-method interval), labelled `label`.
    pub fn relative_risk(label: impl Into<String>, m: &MarginalEffects) -> Self {
        ForestRow::new(label, m.relative_risk.delta)
    }
}

/// A forest plot: each row's estimate (a square) and interval (a line), with the no-effect
/// line at `reference` (1 for ratios, drawn on a log scale when `ratio`; 0 for differences).
pub fn forest_plot(rows: &[ForestRow], ratio: bool, x_title: &str) -> Result<String> {
    if rows.is_empty() {
        return Err(Error::too_few("a forest plot", "rows", 0, 1));
    }
    if let Some(bad) = rows.iter().find(|r| {
        ![r.estimate.estimate, r.estimate.ci_low, r.estimate.ci_high]
            .iter()
            .all(|v| v.is_finite() && (!ratio || *v > 0.0))
    }) {
        return Err(Error::invalid(
            "rows",
            format!(
                "row '{}' has a limit that cannot be drawn (infinite, or not positive on a ratio scale)",
                bad.label
            ),
        ));
    }
    let scale = |v: f64| if ratio { v.ln() } else { v };
    // No effect: ratio 1 (0 on the log scale) or difference 0.
    let reference = 0.0f64;
    let (low, high) = rows.iter().fold((reference, reference), |(l, h), r| {
        (
            l.min(scale(r.estimate.ci_low)),
            h.max(scale(r.estimate.ci_high)),
        )
    });
    let (low, high) = padded(low, high);
    let n = rows.len();
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .margin_left(270)
            .x_label_area_size(50)
            .build_cartesian_2d(low..high, -(n as f64) + 0.5..0.5)
            .map_err(drawing)?;
        draw_mesh(
            chart
                .configure_mesh()
                .disable_y_mesh()
                .disable_y_axis()
                .x_desc(x_title)
                .x_label_formatter(&|v| {
                    if ratio {
                        format!("{:.2}", v.exp())
                    } else {
                        format!("{v:.3}")
                    }
                }),
        )?;
        chart
            .draw_series(LineSeries::new(
                vec![(reference, -(n as f64) + 0.5), (reference, 0.5)],
                BLACK.stroke_width(1),
            ))
            .map_err(drawing)?;
        for (k, row) in rows.iter().enumerate() {
            let y = -(k as f64);
            let e = &row.estimate;
            chart
                .draw_series(LineSeries::new(
                    vec![(scale(e.ci_low), y), (scale(e.ci_high), y)],
                    POINT.stroke_width(2),
                ))
                .map_err(drawing)?;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [
                        (scale(e.estimate) - (high - low) * 0.006, y - 0.12),
                        (scale(e.estimate) + (high - low) * 0.006, y + 0.12),
                    ],
                    POINT.filled(),
                )))
                .map_err(drawing)?;
            // The label on the row's line, in the left margin.
            let (_, py) = chart.backend_coord(&(low, y));
            let numbers = format!(
                "{} ({} to {})",
                number(e.estimate),
                number(e.ci_low),
                number(e.ci_high)
            );
            for (text, dy) in [(row.label.clone(), -18), (numbers, 2)] {
                root.draw(&Text::new(
                    text,
                    (10, py + dy),
                    ("sans-serif", 14).into_font(),
                ))
                .map_err(drawing)?;
            }
        }
        Ok(())
    })
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
    fn forest_plot_has_its_labels_and_rejects_undrawable_rows() {
        let e = |estimate, ci_low, ci_high| Estimate {
            estimate,
            ci_low,
            ci_high,
            level: 0.95,
        };
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
        let bad = forest_plot(&[ForestRow::new("x", e(1.0, 0.0, 2.0))], true, "Ratio");
        assert!(bad.unwrap_err().to_string().contains("row 'x'"));
        assert!(forest_plot(&[], false, "d").is_err());
    }
}
