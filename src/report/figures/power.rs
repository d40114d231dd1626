//! A power curve: power against cluster-period size (or effect size), the closed form as a
//! line and each simulation as points with their Monte Carlo intervals, with the target power
//! marked.

use plotters::prelude::*;

use super::forest::tick_label;
use super::{
    captioned_chart, draw_legend_below, draw_mesh, draw_point_interval, drawing, legend_height,
    svg, Symbol, LINE, MARGIN, NOTE, POINT, SIZE,
};
use crate::core::error::{Error, Result};
use crate::effects::power::CurvePoint;

/// Width of the y-label area, in pixels.
const Y_LABEL_AREA: u32 = 60;
/// Half the width of an interval's end caps, in pixels.
const CAP: i32 = 5;
/// The colours of the simulated series after the first.
const MORE: [RGBColor; 3] = [
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
];

/// A simulated series: power with its Monte Carlo SE at each x.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedSeries {
    /// The legend's text, e.g. `Simulation: logistic mixed model, Wald z (1,000 trials)`.
    pub label: String,
    /// `(x, power, Monte Carlo SE)`.
    pub points: Vec<(f64, f64, f64)>,
}

/// A power curve (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct PowerCurve {
    /// The figure's title.
    pub title: String,
    /// The x-axis title, e.g. `Patients per cluster-period (mean)`.
    pub x_title: String,
    /// The closed-form power `(x, power)`, drawn as a line.
    pub closed_form: Vec<(f64, f64)>,
    /// Its legend text.
    pub closed_form_label: String,
    /// Simulated series, drawn as points with `power -/+ 1.96 MCSE`.
    pub simulations: Vec<SimulatedSeries>,
    /// A target power drawn as a dashed line (e.g. 0.8).
    pub target: Option<f64>,
}

impl PowerCurve {
    /// The curve of `points` ([`crate::effects::power::power_curve`]) against their mean
    /// cluster-period size, the simulations (where present) as one series labelled
    /// `simulation_label`.
    pub fn from_points(
        title: impl Into<String>,
        points: &[CurvePoint],
        simulation_label: impl Into<String>,
    ) -> PowerCurve {
        let simulated: Vec<(f64, f64, f64)> = points
            .iter()
            .filter_map(|p| {
                p.simulation
                    .as_ref()
                    .map(|s| (p.mean_size, s.power, s.mcse))
            })
            .collect();
        PowerCurve {
            title: title.into(),
            x_title: "Patients per cluster-period (mean)".into(),
            closed_form: points
                .iter()
                .map(|p| (p.mean_size, p.closed_form.power))
                .collect(),
            closed_form_label: "Closed form (GLS, as swPwr)".into(),
            simulations: if simulated.is_empty() {
                Vec::new()
            } else {
                vec![SimulatedSeries {
                    label: simulation_label.into(),
                    points: simulated,
                }]
            },
            target: Some(0.8),
        }
    }
}

/// The power curve in SVG: power from 0 to 1 on the y-axis, x linear over the points' range.
///
/// Errors ([`Error::InvalidArgument`]): no points, an x or power that is not finite, a power
/// outside [0, 1], a negative Monte Carlo SE.
pub fn power_curve_plot(curve: &PowerCurve) -> Result<String> {
    let xs: Vec<f64> = curve
        .closed_form
        .iter()
        .map(|p| p.0)
        .chain(
            curve
                .simulations
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.0)),
        )
        .collect();
    if xs.is_empty() {
        return Err(Error::invalid("curve", "there are no points to draw"));
    }
    let bad = |what: &str, v: f64| {
        Err(Error::invalid(
            "curve",
            format!("{what} {v} cannot be drawn (x finite, power in [0, 1], SE >= 0)"),
        ))
    };
    for &(x, p) in &curve.closed_form {
        if !x.is_finite() || !(0.0..=1.0).contains(&p) {
            return bad("the closed-form point", if x.is_finite() { p } else { x });
        }
    }
    for s in &curve.simulations {
        for &(x, p, se) in &s.points {
            if !x.is_finite() || !(0.0..=1.0).contains(&p) || se.is_nan() || se < 0.0 {
                return bad(&format!("a point of '{}'", s.label), p);
            }
        }
    }
    let (low, high) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
            (l.min(x), h.max(x))
        });
    let pad = ((high - low) * 0.05).max(0.5);
    let x_range = (low - pad)..(high + pad);
    let mut legend = vec![(Symbol::Line(LINE, 3), curve.closed_form_label.clone())];
    let colours: Vec<RGBColor> = std::iter::once(POINT).chain(MORE).collect();
    for (k, s) in curve.simulations.iter().enumerate() {
        legend.push((
            Symbol::Dot(colours[k % colours.len()], 5),
            format!("{}; bars -/+ 1.96 Monte Carlo SE", s.label),
        ));
    }
    if let Some(target) = curve.target {
        legend.push((
            Symbol::Dashed(NOTE, 2),
            format!("Target power {}", tick_label(target)),
        ));
    }
    let legend_left = (MARGIN + Y_LABEL_AREA) as i32;
    let legend_h = legend_height(legend_left, (SIZE.0 - MARGIN) as i32, &legend);
    // Series side by side at one x: a few pixels apart.
    let n_series = curve.simulations.len();
    let nudge = (high + pad - (low - pad)) * 0.006;
    svg(|root| {
        let mut chart = captioned_chart(
            root,
            &curve.title,
            (2 * MARGIN, MARGIN + legend_h + 8),
            Y_LABEL_AREA,
            (x_range.clone(), -0.02..1.02),
        )?;
        draw_mesh(
            chart
                .configure_mesh()
                .bold_line_style(BLACK.mix(0.12))
                .light_line_style(TRANSPARENT)
                .y_labels(6)
                .x_desc(curve.x_title.as_str())
                .y_desc("Power")
                .x_label_formatter(&|v| tick_label(*v))
                .y_label_formatter(&|v| tick_label(*v)),
        )?;
        if let Some(target) = curve.target {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x_range.start, target), (x_range.end, target)],
                    8,
                    5,
                    NOTE.stroke_width(2),
                ))
                .map_err(drawing)?;
        }
        let mut line = curve.closed_form.clone();
        line.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(line.clone(), LINE.stroke_width(3)))
            .map_err(drawing)?;
        chart
            .draw_series(
                line.iter()
                    .map(|&(x, p)| Circle::new((x, p), 3, LINE.filled())),
            )
            .map_err(drawing)?;
        for (k, s) in curve.simulations.iter().enumerate() {
            let colour = colours[k % colours.len()];
            let shift = (k as f64 - (n_series as f64 - 1.0) / 2.0) * nudge;
            let mut points = s.points.clone();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|&(x, p, _)| (x + shift, p)),
                    colour.mix(0.5).stroke_width(1),
                ))
                .map_err(drawing)?;
            for &(x, p, se) in &points {
                let interval = (p, (p - 1.96 * se).max(0.0), (p + 1.96 * se).min(1.0));
                draw_point_interval(root, &chart, x + shift, interval, (5, CAP), colour)?;
            }
        }
        draw_legend_below(root, legend_left, legend_h, &legend)
    })
}

#[cfg(test)]
mod tests {
    use super::super::svg_reading::{axis_map, polylines, ticks};
    use super::*;

    fn curve() -> PowerCurve {
        PowerCurve {
            title: "Power by cluster-period size".into(),
            x_title: "Patients per cluster-period (mean)".into(),
            closed_form: vec![(5.0, 0.2), (10.0, 0.4), (20.0, 0.7), (40.0, 0.93)],
            closed_form_label: "Closed form".into(),
            simulations: vec![SimulatedSeries {
                label: "Simulation".into(),
                points: vec![(5.0, 0.25, 0.014), (20.0, 0.78, 0.013)],
            }],
            target: Some(0.8),
        }
    }

    #[test]
    fn the_line_passes_through_the_closed_form_points() {
        let svg = power_curve_plot(&curve()).unwrap();
        assert!(svg.contains("Power by cluster-period size"));
        assert!(svg.contains("Target power 0.8"));
        assert!(svg.contains("Simulation; bars -/+ 1.96 Monte Carlo SE"));
        let x = ticks(&svg, "middle", "x");
        let y = ticks(&svg, "end", "y");
        let (x_per, x0) = axis_map(&x);
        let (y_per, y0) = axis_map(&y);
        let lines = polylines(&svg, "#D62728");
        let line = lines
            .iter()
            .find(|l| l.len() == 4)
            .expect("the closed-form line");
        for ((px, py), (vx, vy)) in line.iter().zip(&curve().closed_form) {
            assert!((px - (x0 + x_per * vx)).abs() <= 1.0, "{px} vs {vx}");
            assert!((py - (y0 + y_per * vy)).abs() <= 1.0, "{py} vs {vy}");
        }
    }

    #[test]
    fn bad_points_are_refused() {
        let mut c = curve();
        c.closed_form[1].1 = 1.5;
        assert!(power_curve_plot(&c).is_err());
        let mut c = curve();
        c.simulations[0].points[0].2 = f64::NAN;
        let e = power_curve_plot(&c).unwrap_err().to_string();
        assert!(e.contains("Simulation"), "{e}");
        let empty = PowerCurve {
            closed_form: Vec::new(),
            simulations: Vec::new(),
            ..curve()
        };
        assert!(power_curve_plot(&empty).is_err());
    }
}
