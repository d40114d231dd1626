//! The cost-effectiveness plane and the cost-effectiveness acceptability curve.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    captioned_chart, draw_legend_below, draw_mesh, drawing, legend_height, padded,
    room_around_zero, singular, svg, text_width, thousands, Symbol, CLOUD, LINE, MARGIN, NOTE,
    POINT, SIZE, ZERO,
};
use crate::core::error::{Error, Result};
use crate::effects::cost_effectiveness::{CostEffectiveness, Quadrant};

/// Width of the y-label area of both figures, in pixels.
const Y_LABEL_AREA: u32 = 90;
/// Height of the caption, the x-label area and the gap above the legend, in pixels.
const CAPTION_AND_AXIS: u32 = 30 + 50 + 8;
/// Font size of the quadrant names.
const QUADRANT_FONT: u32 = 13;
/// Height of a line of the quadrant names, in pixels.
const QUADRANT_LINE: i32 = 15;
/// Space between a quadrant name and the corner of the plot, in pixels.
const QUADRANT_INSET: i32 = 6;

/// The quadrants' names (cost, then effect, of the treatment against the comparator), from the
/// top left corner of the plane clockwise, with where each is anchored: (left, top) per corner.
const QUADRANTS: [([&str; 2], (bool, bool)); 4] = [
    (["more costly,", "less effective"], (true, true)),
    (["more costly,", "more effective"], (false, true)),
    (["less costly,", "more effective"], (false, false)),
    (["less costly,", "less effective"], (true, false)),
];

/// Checks that a willingness to pay is a finite number, not negative.
fn check_willingness_to_pay(lambda: f64) -> Result<()> {
    if lambda.is_finite() && lambda >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            "willingness_to_pay",
            format!("{lambda} is not a finite amount of 0 or more"),
        ))
    }
}

/// The left and right x of the legends, in pixels: under the plot.
fn legend_span() -> (i32, i32) {
    ((MARGIN + Y_LABEL_AREA) as i32, (SIZE.0 - MARGIN) as i32)
}

/// The cost-effectiveness plane: every bootstrap pair (incremental effect, incremental cost),
/// the point estimate, the willingness-to-pay line `cost = lambda x effect` through the origin
/// (below it the treatment is cost-effective), clipped to the plot, and the quadrants' names in
/// their corners. `effect_unit` names the effect (e.g. "deaths avoided"), `currency` the cost
/// unit (e.g. "DKK").
///
/// The legend under the plot gives the estimate's ICER, or says that the treatment is dominant
/// (less costly and more effective) or dominated (more costly and less effective) where the
/// ratio would be negative. Each side of both zero lines takes at least the room its quadrant
/// names need.
///
/// Errors ([`Error::InvalidArgument`]): a willingness to pay that is negative or not finite, or
/// an estimate or replicate that is not finite.
pub fn cost_effectiveness_plane(
    ce: &CostEffectiveness,
    willingness_to_pay: f64,
    effect_unit: &str,
    currency: &str,
) -> Result<String> {
    check_willingness_to_pay(willingness_to_pay)?;
    let estimate = (ce.incremental_effect.estimate, ce.incremental_cost.estimate);
    if !(estimate.0.is_finite() && estimate.1.is_finite())
        || ce.replicates.iter().flatten().any(|v| !v.is_finite())
    {
        return Err(Error::invalid(
            "cost_effectiveness",
            "the incremental cost and effect, and every bootstrap replicate, must be finite to \
             be drawn",
        ));
    }
    let extent = |first: f64, k: usize| {
        ce.replicates
            .iter()
            .fold((first, first), |(l, h), p| (l.min(p[k]), h.max(p[k])))
    };
    let (e_low, e_high) = extent(estimate.0, 1);
    let (c_low, c_high) = extent(estimate.1, 0);
    let unit = singular(effect_unit);
    let legend = vec![
        (
            Symbol::Dot(CLOUD, 4),
            format!("Bootstrap replicates ({})", ce.replicates.len()),
        ),
        (
            Symbol::Line(LINE, 2),
            format!(
                "Willingness to pay: {} {currency} per {unit} (cost-effective below the line)",
                thousands(willingness_to_pay)
            ),
        ),
        (
            Symbol::Dot(POINT, 5),
            format!("Estimate: {}", estimate_text(ce, currency, &unit)),
        ),
    ];
    let (legend_left, legend_right) = legend_span();
    let legend_h = legend_height(legend_left, legend_right, &legend);
    // The quadrant names need this much of the plot on each side of the zero lines.
    let plot_width = f64::from(SIZE.0 - 2 * MARGIN - Y_LABEL_AREA);
    let plot_height = f64::from(SIZE.1 - 2 * MARGIN - CAPTION_AND_AXIS - legend_h);
    let name_width = QUADRANTS
        .iter()
        .flat_map(|(lines, _)| lines.iter())
        .map(|l| text_width(l, QUADRANT_FONT))
        .max()
        .unwrap_or(0);
    let x = room_around_zero(
        padded(e_low, e_high),
        f64::from(name_width + 3 * QUADRANT_INSET as u32) / plot_width,
    );
    let y = room_around_zero(
        padded(c_low, c_high),
        f64::from(3 * QUADRANT_LINE as u32 + 2 * QUADRANT_INSET as u32) / plot_height,
    );
    svg(|root| {
        let mut chart = captioned_chart(
            root,
            "Cost-effectiveness plane (cluster bootstrap)",
            (MARGIN, MARGIN + legend_h + 8),
            Y_LABEL_AREA,
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
                .draw_series(LineSeries::new(series, ZERO.stroke_width(1)))
                .map_err(drawing)?;
        }
        // The quadrants' names under the replicates, which stay in sight.
        let (top_left, bottom_right) = (
            chart.backend_coord(&(x.0, y.1)),
            chart.backend_coord(&(x.1, y.0)),
        );
        for (lines, (left, top)) in QUADRANTS {
            let corner = (
                if left { top_left.0 } else { bottom_right.0 },
                if top { top_left.1 } else { bottom_right.1 },
            );
            draw_quadrant_name(root, &lines, corner, (left, top))?;
        }
        chart
            .draw_series(
                ce.replicates
                    .iter()
                    .map(|p| Circle::new((p[1], p[0]), 2, CLOUD.filled())),
            )
            .map_err(drawing)?;
        let line = line_through_origin(willingness_to_pay, x, y);
        chart
            .draw_series(LineSeries::new(line, LINE.stroke_width(2)))
            .map_err(drawing)?;
        chart
            .draw_series(std::iter::once(Circle::new(estimate, 6, POINT.filled())))
            .map_err(drawing)?;
        draw_legend_below(root, legend_left, legend_h, &legend)
    })
}

/// The estimate in the legend of the plane: its ICER, or "dominant" or "dominated".
fn estimate_text(ce: &CostEffectiveness, currency: &str, unit: &str) -> String {
    let icer = || format!("{} {currency} per {unit}", thousands(ce.icer));
    match ce.quadrant {
        Quadrant::Dominant => "dominant (less costly and more effective)".into(),
        Quadrant::Dominated => "dominated (more costly and less effective)".into(),
        _ if !ce.icer.is_finite() => "no difference in effect (the ICER is undefined)".into(),
        Quadrant::MoreEffectiveMoreCostly => icer(),
        Quadrant::LessEffectiveLessCostly => format!("{} (less costly, less effective)", icer()),
    }
}

/// The two ends of the part of the line `y = lambda x` (`lambda >= 0`) inside the box
/// `[x.0, x.1] x [y.0, y.1]`, which holds the origin.
fn line_through_origin(lambda: f64, x: (f64, f64), y: (f64, f64)) -> [(f64, f64); 2] {
    // Where the line is inside the box's height; everywhere for a flat line.
    let (from, to) = if lambda > 0.0 {
        (y.0 / lambda, y.1 / lambda)
    } else {
        (f64::NEG_INFINITY, f64::INFINITY)
    };
    let (from, to) = (x.0.max(from), x.1.min(to));
    [(from, lambda * from), (to, lambda * to)]
}

/// Draws the two lines of a quadrant's name inside the plot corner `corner` (pixels), on a
/// light background that hides the grid, anchored to the corner's left or right and top or bottom.
fn draw_quadrant_name<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    lines: &[&str; 2],
    corner: (i32, i32),
    (left, top): (bool, bool),
) -> Result<()> {
    let width = lines
        .iter()
        .map(|l| text_width(l, QUADRANT_FONT) as i32)
        .max()
        .unwrap_or(0);
    let height = 2 * QUADRANT_LINE;
    let x = if left {
        corner.0 + QUADRANT_INSET
    } else {
        corner.0 - QUADRANT_INSET - width
    };
    let y = if top {
        corner.1 + QUADRANT_INSET
    } else {
        corner.1 - QUADRANT_INSET - height
    };
    root.draw(&Rectangle::new(
        [(x - 3, y - 2), (x + width + 3, y + height + 2)],
        WHITE.mix(0.8).filled(),
    ))
    .map_err(drawing)?;
    let hpos = if left { HPos::Left } else { HPos::Right };
    let anchor_x = if left { x } else { x + width };
    for (k, line) in lines.iter().enumerate() {
        root.draw(&Text::new(
            *line,
            (anchor_x, y + k as i32 * QUADRANT_LINE),
            TextStyle::from(("sans-serif", QUADRANT_FONT))
                .color(&NOTE)
                .pos(Pos::new(hpos, VPos::Top)),
        ))
        .map_err(drawing)?;
    }
    Ok(())
}

/// The cost-effectiveness acceptability curve: the probability that the treatment is
/// cost-effective (the share of bootstrap replicates with a positive net benefit) against the
/// willingness to pay per unit of effect, at every value of `ce.net_benefit`.
///
/// With `willingness_to_pay`, the threshold a report uses is marked: a dashed vertical line at
/// it, the curve's point there and its probability, also named in the legend (the x axis reaches
/// it if it is beyond the values of `ce.net_benefit`).
///
/// Errors ([`Error::InvalidArgument`]): a willingness to pay that is negative or not finite.
pub fn acceptability_curve(
    ce: &CostEffectiveness,
    willingness_to_pay: Option<f64>,
    effect_unit: &str,
    currency: &str,
) -> Result<String> {
    if let Some(lambda) = willingness_to_pay {
        check_willingness_to_pay(lambda)?;
    }
    let mut curve: Vec<(f64, f64)> = ce
        .net_benefit
        .iter()
        .map(|n| (n.willingness_to_pay, n.probability_cost_effective))
        .collect();
    // The curve passes through the marked point.
    let marked = willingness_to_pay.map(|w| (w, ce.probability_cost_effective(w)));
    curve.extend(marked);
    curve.sort_by(|a, b| a.0.total_cmp(&b.0));
    // The curve's values, and room beyond a marked point outside them.
    let top = ce
        .net_benefit
        .iter()
        .map(|n| n.willingness_to_pay)
        .fold(0.0, f64::max)
        .max(marked.map_or(0.0, |(w, _)| 1.05 * w))
        .max(1.0);
    let unit = singular(effect_unit);
    let mut legend = vec![(
        Symbol::Line(POINT, 3),
        format!(
            "Share of {} bootstrap replicates with positive net benefit",
            ce.replicates.len()
        ),
    )];
    if let Some((w, p)) = marked {
        legend.push((
            Symbol::Dashed(LINE, 2),
            format!(
                "Willingness to pay used: {} {currency} per {unit}, probability {p:.2}",
                thousands(w)
            ),
        ));
    }
    let (legend_left, legend_right) = legend_span();
    let legend_h = legend_height(legend_left, legend_right, &legend);
    svg(|root| {
        let mut chart = captioned_chart(
            root,
            "Cost-effectiveness acceptability curve",
            (40, MARGIN + legend_h + 8),
            Y_LABEL_AREA,
            (0.0..top, 0.0..1.0),
        )?;
        draw_mesh(
            chart
                .configure_mesh()
                .x_desc(format!("Willingness to pay ({currency} per {unit})"))
                .y_desc("Probability that the treatment is cost-effective")
                .x_label_formatter(&|v| thousands(*v)),
        )?;
        chart
            .draw_series(LineSeries::new(curve, POINT.stroke_width(3)))
            .map_err(drawing)?;
        if let Some((w, p)) = marked {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(w, 0.0), (w, 1.0)],
                    6,
                    4,
                    LINE.stroke_width(2),
                ))
                .map_err(drawing)?;
            chart
                .draw_series(std::iter::once(Circle::new((w, p), 5, LINE.filled())))
                .map_err(drawing)?;
            // The label beside the point, on the side with more room.
            let (px, py) = chart.backend_coord(&(w, p));
            let right_half = w > top / 2.0;
            let (dx, hpos) = if right_half {
                (-10, HPos::Right)
            } else {
                (10, HPos::Left)
            };
            let vpos = if p > 0.5 { VPos::Top } else { VPos::Bottom };
            let dy = if p > 0.5 { 6 } else { -6 };
            root.draw(&Text::new(
                format!("{p:.2} at {} {currency}", thousands(w)),
                (px + dx, py + dy),
                TextStyle::from(("sans-serif", 14))
                    .color(&LINE)
                    .pos(Pos::new(hpos, vpos)),
            ))
            .map_err(drawing)?;
        }
        draw_legend_below(root, legend_left, legend_h, &legend)
    })
}

#[cfg(test)]
mod tests {
    use super::super::svg_reading::{attribute, axis_map, elements, polylines, ticks};
    use super::*;
    use crate::effects::cost_effectiveness::{IcerInterval, NetBenefit};
    use crate::effects::crude::{Estimate, OutcomeKind};
    use crate::effects::standardise::Target;

    /// A cost-effectiveness result with the estimate `(effect, cost)` and `replicates` (pairs of
    /// effect and cost), its acceptability curve at 0, 10,000, ..., 500,000.
    fn result(effect: f64, cost: f64, replicates: &[(f64, f64)]) -> CostEffectiveness {
        let estimate = |v: f64| Estimate {
            estimate: v,
            ci_low: v,
            ci_high: v,
            level: 0.95,
        };
        let mut ce = CostEffectiveness {
            treatment: "kth".into(),
            target: Target::All,
            patients: 100.0,
            level: 0.95,
            outcome: OutcomeKind::Adverse,
            mean_cost: [cost, 0.0],
            incremental_cost: estimate(cost),
            incremental_effect: estimate(effect),
            icer: cost / effect,
            quadrant: match (effect >= 0.0, cost >= 0.0) {
                (true, true) => Quadrant::MoreEffectiveMoreCostly,
                (true, false) => Quadrant::Dominant,
                (false, true) => Quadrant::Dominated,
                (false, false) => Quadrant::LessEffectiveLessCostly,
            },
            icer_interval: IcerInterval::Unbounded,
            fieller: IcerInterval::Unbounded,
            net_benefit: Vec::new(),
            replicates: replicates.iter().map(|&(e, c)| [c, e]).collect(),
            failed: 0,
            first_failure: None,
            seed: 1,
        };
        ce.net_benefit = (0..=50)
            .map(|k| {
                let w = f64::from(k) * 10_000.0;
                NetBenefit {
                    willingness_to_pay: w,
                    net_benefit: estimate(w * effect - cost),
                    probability_cost_effective: ce.probability_cost_effective(w),
                }
            })
            .collect();
        ce
    }

    /// A cloud like the KTH own-home one: effects 0 to 0.1, costs 1,000 to 15,000.
    fn cloud() -> Vec<(f64, f64)> {
        (0..200)
            .map(|k| {
                let (a, b) = (f64::from(k % 20) / 19.0, f64::from(k / 20) / 9.0);
                (-0.01 + 0.1 * a, 1_000.0 + 14_000.0 * b)
            })
            .collect()
    }

    /// Distance in pixels from `p` to the line through `a` and `b`.
    fn distance(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        ((p.0 - a.0) * dy - (p.1 - a.1) * dx).abs() / dx.hypot(dy)
    }

    /// Checks, from the SVG's pixels alone, that the willingness-to-pay line of the plane runs
    /// through the origin (where the zero lines cross) with slope `lambda` in data units (the
    /// axes' scales from their tick labels), from edge to edge of the plot; returns its ends.
    fn check_line(svg: &str, lambda: f64) -> [(f64, f64); 2] {
        let zero = polylines(svg, "#3C3C3C");
        let horizontal = zero.iter().find(|l| l[0].1 == l[1].1).unwrap();
        let vertical = zero.iter().find(|l| l[0].0 == l[1].0).unwrap();
        let origin = (vertical[0].0, horizontal[0].1);
        let (x_per_unit, x_zero) = axis_map(&ticks(svg, "middle", "x"));
        let (y_per_unit, y_zero) = axis_map(&ticks(svg, "end", "y"));
        assert!((x_zero - origin.0).abs() <= 1.5 && (y_zero - origin.1).abs() <= 1.5);
        let (top, bottom) = (
            vertical[0].1.min(vertical[1].1),
            vertical[0].1.max(vertical[1].1),
        );
        // The line in the plot (the legend has a piece of it below).
        let line: Vec<Vec<(f64, f64)>> = polylines(svg, "#D62728")
            .into_iter()
            .filter(|l| l.iter().all(|p| p.1 <= bottom + 1.0))
            .collect();
        assert_eq!(line.len(), 1, "one willingness-to-pay line");
        let [a, b] = [line[0][0], line[0][1]];
        assert!(
            distance(origin, a, b) <= 1.5,
            "the line misses the origin {origin:?} by {} pixels",
            distance(origin, a, b)
        );
        let slope = ((b.1 - a.1) / y_per_unit) / ((b.0 - a.0) / x_per_unit);
        assert!(
            (slope - lambda).abs() <= 0.02 * lambda + 1.0 / y_per_unit.abs(),
            "slope {slope} in data units, not {lambda}"
        );
        // Both ends in the plot, on its edges.
        let (left, right) = (
            horizontal[0].0.min(horizontal[1].0),
            horizontal[0].0.max(horizontal[1].0),
        );
        for p in [a, b] {
            assert!(
                p.0 >= left - 1.0 && p.0 <= right + 1.0 && p.1 >= top - 1.0 && p.1 <= bottom + 1.0
            );
            let to_edge = [p.0 - left, right - p.0, p.1 - top, bottom - p.1]
                .into_iter()
                .fold(f64::INFINITY, |m, d| m.min(d.abs()));
            assert!(to_edge <= 1.5, "{p:?} is not on an edge of the plot");
        }
        [a, b]
    }

    #[test]
    fn willingness_to_pay_line_runs_through_the_origin_with_its_slope() {
        let ce = result(0.0527, 8_494.0, &cloud());
        // At the estimate's own ICER the line runs through the estimate.
        let svg = cost_effectiveness_plane(&ce, ce.icer, "deaths avoided", "DKK").unwrap();
        let [a, b] = check_line(&svg, ce.icer);
        let estimate = elements(&svg, "circle")
            .into_iter()
            .find(|e| attribute(e, "r") == Some("6"))
            .map(|e| {
                let at = |n| attribute(e, n).unwrap().parse::<f64>().unwrap();
                (at("cx"), at("cy"))
            })
            .unwrap();
        assert!(distance(estimate, a, b) <= 1.5, "{estimate:?} off the line");
        // Steep lines leave through the top and bottom, shallow ones through the sides, a flat
        // one along the zero line.
        for lambda in [2_000_000.0, 60_000.0, 0.0] {
            let svg = cost_effectiveness_plane(&ce, lambda, "deaths avoided", "DKK").unwrap();
            check_line(&svg, lambda);
        }
    }

    #[test]
    fn quadrants_are_named_and_negative_ratios_are_words() {
        let svg = cost_effectiveness_plane(
            &result(0.05, 8_000.0, &cloud()),
            160_000.0,
            "deaths avoided",
            "DKK",
        )
        .unwrap();
        for name in [
            "more costly,",
            "less costly,",
            "less effective",
            "more effective",
        ] {
            assert_eq!(svg.matches(name).count(), 2, "{name}");
        }
        assert!(svg.contains("Estimate: 160,000 DKK per death avoided"));
        let dominant = cost_effectiveness_plane(
            &result(0.05, -2_000.0, &cloud()),
            1.0,
            "deaths avoided",
            "DKK",
        )
        .unwrap();
        assert!(dominant.contains("Estimate: dominant (less costly and more effective)"));
        assert!(!dominant.contains("-40,000"));
        let dominated = cost_effectiveness_plane(
            &result(-0.01, 2_000.0, &cloud()),
            1.0,
            "deaths avoided",
            "DKK",
        )
        .unwrap();
        assert!(dominated.contains("Estimate: dominated (more costly and less effective)"));
        let cheaper = cost_effectiveness_plane(
            &result(-0.01, -2_000.0, &cloud()),
            1.0,
            "deaths avoided",
            "DKK",
        )
        .unwrap();
        assert!(cheaper
            .contains("Estimate: 200,000 DKK per death avoided (less costly, less effective)"));
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let err = cost_effectiveness_plane(&result(0.05, 8_000.0, &cloud()), bad, "d", "DKK")
                .unwrap_err();
            assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
        }
        let mut broken = result(0.05, 8_000.0, &cloud());
        broken.replicates[3][0] = f64::NAN;
        assert!(cost_effectiveness_plane(&broken, 1.0, "d", "DKK").is_err());
    }

    #[test]
    fn acceptability_curve_marks_the_threshold() {
        let ce = result(0.05, 8_000.0, &cloud());
        let p = ce.probability_cost_effective(161_060.0);
        let expected = cloud()
            .iter()
            .filter(|(e, c)| 161_060.0 * e - c > 0.0)
            .count() as f64
            / 200.0;
        assert_eq!(p, expected);
        let svg = acceptability_curve(&ce, Some(161_060.0), "deaths avoided", "DKK").unwrap();
        let label = format!("{p:.2} at 161,060 DKK");
        assert!(svg.contains(&label), "{label}");
        assert!(svg.contains(&format!(
            "Willingness to pay used: 161,060 DKK per death avoided, probability {p:.2}"
        )));
        // The dashed line is vertical, at the threshold on the x axis's scale.
        let (x_per_unit, x_zero) = axis_map(&ticks(&svg, "middle", "x"));
        let (_, y_zero) = axis_map(&ticks(&svg, "end", "y"));
        let dashes: Vec<Vec<(f64, f64)>> = polylines(&svg, "#D62728")
            .into_iter()
            .filter(|l| l.iter().all(|p| p.1 <= y_zero + 1.0))
            .collect();
        assert!(dashes.len() > 3, "{}", dashes.len());
        for dash in &dashes {
            for point in dash {
                assert!(
                    (point.0 - (x_zero + x_per_unit * 161_060.0)).abs() <= 1.5,
                    "{point:?}"
                );
            }
        }
        // A threshold beyond the curve widens the axis to it; none leaves the curve bare.
        let beyond = acceptability_curve(&ce, Some(900_000.0), "deaths avoided", "DKK").unwrap();
        assert!(beyond.contains("900,000"));
        let bare = acceptability_curve(&ce, None, "deaths avoided", "DKK").unwrap();
        assert!(
            !bare.contains("Willingness to pay used") && polylines(&bare, "#D62728").is_empty()
        );
        assert!(acceptability_curve(&ce, Some(-5.0), "d", "DKK").is_err());
    }
}
