//! The treatment effect by exposure time: the effect at each exposure time with its interval,
//! the time-averaged treatment effect (TATE) as a line across them with its interval as a band,
//! and, if given, the immediate-treatment (Hussey & Hughes) estimate for comparison.

use plotters::prelude::*;

use super::forest::{axis_ticks, tick_label, Ticked};
use super::{
    draw_legend_below, draw_mesh, draw_point_interval, drawing, legend_height, number, padded, svg,
    Symbol, CLOUD, LINE, MARGIN, NOTE, POINT, SIZE, ZERO,
};
use crate::core::error::{Error, Result};
use crate::effects::exposure_time::TateEstimate;
use crate::models::coef_table::CoefRow;
use crate::models::glm::Link;

/// Width of the y-label area, in pixels.
const Y_LABEL_AREA: u32 = 70;
/// Half the width of an interval's end caps, in pixels.
const CAP: i32 = 6;

/// The effect by exposure time of `tate` (see the [module docs](self)), in SVG.
///
/// Effects of a log or logit link are drawn as ratios on a log scale (odds ratios, relative
/// risks), others on the link scale, around the no-effect line (1 or 0). `immediate` is the
/// treatment row of the immediate-treatment fit (`treated` in place of `factor(exposure)`), drawn
/// as a dashed line; `y_title` replaces the default y-axis title (`Odds ratio (log scale)`,
/// `Relative risk (log scale)`, `Effect (difference)`).
///
/// Errors ([`Error::InvalidArgument`]): an estimate or limit that is not finite.
pub fn exposure_effects_plot(
    tate: &TateEstimate,
    immediate: Option<&CoefRow>,
    y_title: Option<&str>,
) -> Result<String> {
    let ratio = matches!(tate.link, Link::Log | Link::Logit);
    let rows: Vec<&CoefRow> = tate.levels.iter().map(|l| &l.effect).collect();
    for row in rows.iter().copied().chain([&tate.tate]).chain(immediate) {
        if ![row.estimate, row.ci_low, row.ci_high]
            .iter()
            .all(|v| v.is_finite())
        {
            return Err(Error::invalid(
                "tate",
                format!(
                    "'{}' has an estimate or limit that is not finite; it cannot be drawn",
                    row.term
                ),
            ));
        }
    }
    if tate.levels.is_empty() {
        return Err(Error::invalid(
            "tate",
            "there are no exposure times to draw",
        ));
    }
    let shown = |v: f64| if ratio { v.exp() } else { v };
    let (low, high) = rows
        .iter()
        .copied()
        .chain([&tate.tate])
        .chain(immediate)
        .fold((0.0f64, 0.0f64), |(l, h), r| {
            (l.min(r.ci_low), h.max(r.ci_high))
        });
    let range = padded(low, high);
    let ticks = axis_ticks(range, ratio);
    let first = tate.levels[0].exposure;
    let last = tate.levels[tate.levels.len() - 1].exposure;
    let x_range = (first - 0.5)..(last + 0.5);
    let x_ticks: Vec<f64> = tate.levels.iter().map(|l| l.exposure).collect();
    let percent = tick_label(100.0 * tate.level);
    let value = |r: &CoefRow| {
        format!(
            "{} ({} to {})",
            number(shown(r.estimate)),
            number(shown(r.ci_low)),
            number(shown(r.ci_high))
        )
    };
    let equal = tate
        .levels
        .iter()
        .all(|l| (l.weight - tate.levels[0].weight).abs() < 1e-12);
    let span = format!("{} to {}", tick_label(first), tick_label(last));
    let tate_label = if equal {
        format!("TATE, mean over exposure {span}: {}", value(&tate.tate))
    } else {
        format!("TATE, weighted over exposure {span}: {}", value(&tate.tate))
    };
    let mut legend = vec![
        (
            Symbol::Dot(POINT, 5),
            format!("Effect at each exposure time ({percent}% CI)"),
        ),
        (Symbol::Line(LINE, 3), tate_label),
        (Symbol::Cell(0.0), format!("{percent}% CI of the TATE")),
    ];
    if let Some(it) = immediate {
        legend.push((
            Symbol::Dashed(NOTE, 2),
            format!("Immediate-treatment model: {}", value(it)),
        ));
    }
    let legend_left = (MARGIN + Y_LABEL_AREA) as i32;
    let legend_h = legend_height(legend_left, (SIZE.0 - MARGIN) as i32, &legend);
    let y_title = y_title.map_or_else(
        || {
            match tate.link {
                Link::Logit => "Odds ratio (log scale)",
                Link::Log => "Relative risk (log scale)",
                Link::Identity => "Effect (difference)",
                Link::Cloglog => "Effect (complementary log-log scale)",
            }
            .to_string()
        },
        str::to_string,
    );
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Treatment effect by exposure time", ("sans-serif", 22))
            .margin(MARGIN)
            .margin_right(2 * MARGIN)
            .margin_bottom(MARGIN + legend_h + 8)
            .x_label_area_size(50)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(
                Ticked {
                    axis: x_range.clone().into(),
                    ticks: x_ticks,
                },
                Ticked {
                    axis: (range.0..range.1).into(),
                    ticks,
                },
            )
            .map_err(drawing)?;
        draw_mesh(
            chart
                .configure_mesh()
                .bold_line_style(BLACK.mix(0.12))
                .light_line_style(TRANSPARENT)
                .x_desc("Exposure time (periods since the cluster crossed over)")
                .y_desc(y_title.as_str())
                .x_label_formatter(&|v| tick_label(*v))
                .y_label_formatter(&|v| tick_label(shown(*v))),
        )?;
        let (x0, x1) = (x_range.start, x_range.end);
        // The TATE's interval as a band under everything else, then the no-effect line.
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x0, tate.tate.ci_low), (x1, tate.tate.ci_high)],
                CLOUD.mix(0.6).filled(),
            )))
            .map_err(drawing)?;
        chart
            .draw_series(LineSeries::new(
                vec![(x0, 0.0), (x1, 0.0)],
                ZERO.stroke_width(1),
            ))
            .map_err(drawing)?;
        if let Some(it) = immediate {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x0, it.estimate), (x1, it.estimate)],
                    8,
                    5,
                    NOTE.stroke_width(2),
                ))
                .map_err(drawing)?;
        }
        chart
            .draw_series(LineSeries::new(
                vec![(x0, tate.tate.estimate), (x1, tate.tate.estimate)],
                LINE.stroke_width(3),
            ))
            .map_err(drawing)?;
        for level in &tate.levels {
            let e = &level.effect;
            let interval = (e.estimate, e.ci_low, e.ci_high);
            draw_point_interval(root, &chart, level.exposure, interval, (6, CAP), POINT)?;
        }
        draw_legend_below(root, legend_left, legend_h, &legend)
    })
}

#[cfg(test)]
mod tests {
    use super::super::svg_reading::{axis_map, polylines, ticks};
    use super::*;
    use crate::effects::exposure_time::{ExposureEffect, ExposureModel};
    use crate::models::coef_table::coef_table;
    use crate::models::vcov::VcovKind;

    fn row(term: &str, estimate: f64, se: f64) -> CoefRow {
        coef_table(&[term.into()], &[estimate], &[se * se], None, 0.95, true)
            .unwrap()
            .remove(0)
    }

    fn estimate() -> TateEstimate {
        let effects = [0.3, 0.6, 0.9, 1.2];
        TateEstimate {
            exposure: "exposure".into(),
            model: ExposureModel::Indicators,
            link: Link::Logit,
            vcov_kind: VcovKind::Model,
            level: 0.95,
            tate: row("TATE", 0.75, 0.2),
            averaging: Vec::new(),
            levels: effects
                .iter()
                .enumerate()
                .map(|(k, b)| ExposureEffect {
                    exposure: k as f64 + 1.0,
                    weight: 0.25,
                    effect: row(&format!("factor(exposure){}", k + 1), *b, 0.25),
                })
                .collect(),
            constant_effect: None,
        }
    }

    #[test]
    fn points_line_and_ticks_are_where_the_values_say() {
        let tate = estimate();
        let it = row("treated", 0.4, 0.15);
        let svg = exposure_effects_plot(&tate, Some(&it), None).unwrap();
        assert!(svg.contains("Treatment effect by exposure time"));
        assert!(svg.contains("Odds ratio (log scale)"));
        assert!(svg.contains("TATE, mean over exposure 1 to 4: 2.12 (1.43 to 3.13)"));
        assert!(svg.contains("Immediate-treatment model: 1.49"));
        // The y ticks are odds ratios, evenly spaced on the log scale.
        let y = ticks(&svg, "end", "y");
        assert!(y.len() >= 3, "{y:?}");
        let (per_log, _) = axis_map(&y.iter().map(|(v, p)| (v.ln(), *p)).collect::<Vec<_>>());
        let at = |v: f64| {
            let (v0, p0) = y[0];
            p0 + per_log * (v.ln() - v0.ln())
        };
        // The TATE line is horizontal at OR exp(0.75).
        let lines = polylines(&svg, "#D62728");
        let tate_line = lines.iter().find(|l| l.len() == 2).unwrap();
        assert!((tate_line[0].1 - tate_line[1].1).abs() < 0.5);
        assert!((tate_line[0].1 - at(0.75f64.exp())).abs() <= 1.0);
        // The x ticks are the exposure times.
        let x: Vec<f64> = ticks(&svg, "middle", "x").iter().map(|t| t.0).collect();
        assert_eq!(x, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn a_difference_scale_and_bad_values() {
        let mut tate = estimate();
        tate.link = Link::Identity;
        let svg = exposure_effects_plot(&tate, None, Some("Score difference")).unwrap();
        assert!(svg.contains("Score difference") && !svg.contains("Immediate"));
        tate.levels[1].effect.ci_high = f64::NAN;
        let error = exposure_effects_plot(&tate, None, None).unwrap_err();
        assert!(error.to_string().contains("factor(exposure)2"), "{error}");
        tate.levels.clear();
        assert!(exposure_effects_plot(&tate, None, None).is_err());
    }
}
