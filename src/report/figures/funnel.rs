//! A funnel plot ([`crate::report::monitor::funnel`]): each unit's proportion (or standardised
//! ratio O/E) against its volume (patients, or expected events), the target line, the exact
//! 95% and 99.8% limits as curves over the volumes, the overdispersion-adjusted 99.8% limits
//! (multiplicative and random effects) dashed when phi > 1, and each unit named beside its
//! point, clear of the points, the curves and the other names (with a leader line when it had
//! to move away); units outside the 99.8% limits in red, outside only the 95% limits in
//! orange. The legend gives phi and its test.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::forest::tick_label;
use super::{
    captioned_chart, draw_legend_below, draw_mesh, drawing, legend_height, number, svg, text_width,
    Symbol, LINE, MARGIN, NOTE, POINT, SIZE,
};
use crate::core::error::{Error, Result};
use crate::report::monitor::funnel::{Flag, Funnel, FunnelLimits, Limits, Measure};

/// Width of the y-label area, in pixels.
const Y_LABEL_AREA: u32 = 64;
/// Radius of a unit's point, in pixels.
const RADIUS: i32 = 5;
/// Font size of the units' names.
const NAME_FONT: u32 = 13;
/// Volumes on which the limit curves are computed.
const CURVE_POINTS: usize = 600;
/// Colour of units outside the 95% limits only (a warning).
const WARNING: RGBColor = RGBColor(255, 127, 14);
/// Colour of the 95% limits.
const LIMIT95: RGBColor = RGBColor(107, 174, 214);
/// Colour of the 99.8% limits.
const LIMIT998: RGBColor = RGBColor(8, 69, 148);
/// Colour of the multiplicative overdispersion limits.
const PHI: RGBColor = RGBColor(148, 103, 189);
/// Colour of the random-effects limits.
const RANDOM: RGBColor = RGBColor(140, 86, 75);

/// The funnel plot of `funnel` in SVG, titled `title`, with `y_label` as the y-axis title (the
/// x-axis is `Patients (n)` for proportions, `Expected events (E)` for ratios).
///
/// Errors ([`Error::InvalidArgument`]): a funnel without units, or with a volume or value that
/// is not finite.
pub fn funnel_plot(funnel: &Funnel, title: &str, y_label: &str) -> Result<String> {
    if funnel.units.is_empty() {
        return Err(Error::invalid("funnel", "there are no units to draw"));
    }
    if let Some(u) = funnel
        .units
        .iter()
        .find(|u| !(u.volume.is_finite() && u.volume > 0.0 && u.value.is_finite()))
    {
        return Err(Error::invalid(
            "funnel",
            format!(
                "unit '{}' has volume {} and value {}; it cannot be drawn",
                u.unit, u.volume, u.value
            ),
        ));
    }
    let (low, high) = funnel
        .units
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), u| {
            (l.min(u.volume), h.max(u.volume))
        });
    let (from, to) = match funnel.measure {
        Measure::Proportion => ((low / 2.0).floor().max(1.0), (high * 1.08).ceil()),
        Measure::Ratio => (low / 2.0, high * 1.08),
    };
    let curves = funnel.curves(from, to, CURVE_POINTS)?;
    let od = &funnel.overdispersion;
    // Drawn when the units are overdispersed (phi > 1, and then tau2 > 0 too); with phi <= 1
    // a small tau2 moves the random-effects limits less than the normal approximation under
    // them differs from the exact limits, which the dashed curve would show instead.
    let adjusted = if od.phi > 1.0 {
        vec![Adjusted::Phi, Adjusted::RandomEffects]
    } else {
        Vec::new()
    };
    let y_range = y_range(funnel, &curves, &adjusted);
    let x_range = from..to + (to - from) * 0.02;
    let legend = legend(funnel, &adjusted);
    let legend_left = (MARGIN + Y_LABEL_AREA) as i32;
    let legend_h = legend_height(legend_left, (SIZE.0 - MARGIN) as i32, &legend);
    let x_title = match funnel.measure {
        Measure::Proportion => "Patients (n)",
        Measure::Ratio => "Expected events (E)",
    };
    svg(|root| {
        let mut chart = captioned_chart(
            root,
            title,
            (2 * MARGIN, MARGIN + legend_h + 8),
            Y_LABEL_AREA,
            (x_range.clone(), y_range.clone()),
        )?;
        draw_mesh(
            chart
                .configure_mesh()
                .bold_line_style(BLACK.mix(0.1))
                .light_line_style(TRANSPARENT)
                .x_desc(x_title)
                .y_desc(y_label)
                .x_label_formatter(&|v| tick_label(*v))
                .y_label_formatter(&|v| tick_label(*v)),
        )?;
        let line = |pick: fn(&Limits) -> f64, limits: fn(&FunnelLimits) -> &Limits| {
            curves
                .iter()
                .map(move |c| (c.volume, pick(limits(c))))
                .collect::<Vec<_>>()
        };
        let [lower95, upper95, lower998, upper998]: [fn(&Limits) -> f64; 4] =
            [|l| l.lower95, |l| l.upper95, |l| l.lower998, |l| l.upper998];
        let exact: fn(&FunnelLimits) -> &Limits = |c| &c.exact;
        chart
            .draw_series(LineSeries::new(
                vec![(x_range.start, funnel.target), (x_range.end, funnel.target)],
                BLACK.stroke_width(2),
            ))
            .map_err(drawing)?;
        // Every line drawn, in pixels, for the names to keep clear of.
        let mut drawn: Vec<Vec<(i32, i32)>> = vec![[x_range.start, x_range.end]
            .map(|x| chart.backend_coord(&(x, funnel.target)))
            .to_vec()];
        for (pick, colour) in [
            (lower95, LIMIT95),
            (upper95, LIMIT95),
            (lower998, LIMIT998),
            (upper998, LIMIT998),
        ] {
            let points = line(pick, exact);
            drawn.push(points.iter().map(|p| chart.backend_coord(p)).collect());
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(drawing)?;
        }
        for a in &adjusted {
            for pick in [lower998, upper998] {
                let points = line(pick, a.limits());
                drawn.push(points.iter().map(|p| chart.backend_coord(p)).collect());
                chart
                    .draw_series(DashedLineSeries::new(
                        points,
                        7,
                        5,
                        a.colour().stroke_width(2),
                    ))
                    .map_err(drawing)?;
            }
        }
        let points: Vec<(i32, i32)> = funnel
            .units
            .iter()
            .map(|u| chart.backend_coord(&(u.volume, u.value)))
            .collect();
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        let names: Vec<&str> = funnel.units.iter().map(|u| u.unit.as_str()).collect();
        let area = (xs.start, ys.start, xs.end, ys.end);
        let labels = place_labels(&points, &names, area, &drawn);
        for (label, &point) in labels.iter().zip(&points) {
            if label.leader {
                let (cx, cy) = label.centre();
                let (px, py) = point;
                let d = f64::from((cx - px).pow(2) + (cy - py).pow(2))
                    .sqrt()
                    .max(1.0);
                let start = (
                    px + (f64::from(cx - px) / d * f64::from(RADIUS + 1)) as i32,
                    py + (f64::from(cy - py) / d * f64::from(RADIUS + 1)) as i32,
                );
                root.draw(&PathElement::new(
                    vec![start, label.nearest(point)],
                    NOTE.mix(0.6).stroke_width(1),
                ))
                .map_err(drawing)?;
            }
        }
        for (u, &point) in funnel.units.iter().zip(&points) {
            let colour = unit_colour(u.outside, u.outside95);
            root.draw(&Circle::new(point, RADIUS, colour.filled()))
                .map_err(drawing)?;
            root.draw(&Circle::new(point, RADIUS, WHITE.stroke_width(1)))
                .map_err(drawing)?;
        }
        for (label, name) in labels.iter().zip(&names) {
            root.draw(&Text::new(
                name.to_string(),
                (label.x0, label.centre().1),
                TextStyle::from(("sans-serif", NAME_FONT)).pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(drawing)?;
        }
        draw_legend_below(root, legend_left, legend_h, &legend)
    })
}

/// The overdispersion-adjusted limits drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Adjusted {
    /// Multiplicative, when phi > 1.
    Phi,
    /// Additive random effects, when tau2 > 0.
    RandomEffects,
}

impl Adjusted {
    fn limits(self) -> fn(&FunnelLimits) -> &Limits {
        match self {
            Adjusted::Phi => |c| &c.phi,
            Adjusted::RandomEffects => |c| &c.re,
        }
    }

    fn colour(self) -> RGBColor {
        match self {
            Adjusted::Phi => PHI,
            Adjusted::RandomEffects => RANDOM,
        }
    }
}

/// Red outside the 99.8% limits, orange outside the 95% limits only, blue within.
fn unit_colour(outside: Flag, outside95: Flag) -> RGBColor {
    if outside.is_outside() {
        LINE
    } else if outside95.is_outside() {
        WARNING
    } else {
        POINT
    }
}

/// The y-range: every unit and every drawn limit, padded by 6%; not below 0 unless a unit is
/// at 0.
fn y_range(
    funnel: &Funnel,
    curves: &[FunnelLimits],
    adjusted: &[Adjusted],
) -> std::ops::Range<f64> {
    let mut values: Vec<f64> = funnel.units.iter().map(|u| u.value).collect();
    values.push(funnel.target);
    for c in curves {
        let limits = std::iter::once(&c.exact).chain(adjusted.iter().map(|a| a.limits()(c)));
        for l in limits {
            values.extend([l.lower95, l.upper95, l.lower998, l.upper998]);
        }
    }
    let (low, high) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let pad = ((high - low) * 0.06).max(1e-9);
    let bottom = if funnel.units.iter().all(|u| u.value > 0.0) {
        (low - pad).max(0.0)
    } else {
        low - pad
    };
    bottom..high + pad
}

/// The legend: the units' colours that occur, the target, the limits, and the overdispersion.
fn legend(funnel: &Funnel, adjusted: &[Adjusted]) -> Vec<(Symbol, String)> {
    let count = |f: &dyn Fn(Flag, Flag) -> bool| {
        funnel
            .units
            .iter()
            .filter(|u| f(u.outside, u.outside95))
            .count()
    };
    let mut entries = vec![(
        Symbol::Dot(POINT, RADIUS),
        "Unit within the 95% limits".to_string(),
    )];
    let warning = count(&|o, o95| !o.is_outside() && o95.is_outside());
    if warning > 0 {
        entries.push((
            Symbol::Dot(WARNING, RADIUS),
            format!("Outside the 95% limits ({warning})"),
        ));
    }
    let alarm = count(&|o, _| o.is_outside());
    if alarm > 0 {
        entries.push((
            Symbol::Dot(LINE, RADIUS),
            format!("Outside the 99.8% limits ({alarm})"),
        ));
    }
    let target = match funnel.measure {
        Measure::Proportion => format!("Target {}", number(funnel.target)),
        Measure::Ratio => "Target O/E = 1".to_string(),
    };
    entries.push((Symbol::Line(BLACK, 2), target));
    entries.push((Symbol::Line(LIMIT95, 2), "95% limits (exact)".into()));
    entries.push((Symbol::Line(LIMIT998, 2), "99.8% limits (exact)".into()));
    let od = &funnel.overdispersion;
    for a in adjusted {
        let text = match a {
            Adjusted::Phi => format!("99.8%, overdispersion x{}", number(od.phi)),
            Adjusted::RandomEffects => format!("99.8%, random effects (tau {})", number(od.tau)),
        };
        entries.push((Symbol::Dashed(a.colour(), 2), text));
    }
    entries.push((
        Symbol::Note,
        format!("phi = {}, test p = {}", number(od.phi), number(od.p_value)),
    ));
    entries
}

/// A unit's name placed in pixels: its box, and whether a leader line joins it to the point.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Label {
    x0: i32,
    y0: i32,
    x1: i32,
    y1: i32,
    leader: bool,
}

impl Label {
    fn centre(&self) -> (i32, i32) {
        ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)
    }

    /// The point of the box nearest to `(x, y)`.
    fn nearest(&self, (x, y): (i32, i32)) -> (i32, i32) {
        (x.clamp(self.x0, self.x1), y.clamp(self.y0, self.y1))
    }

    fn overlaps(&self, other: &Label) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }

    fn inside(&self, (x0, y0, x1, y1): (i32, i32, i32, i32)) -> bool {
        self.x0 >= x0 && self.x1 <= x1 && self.y0 >= y0 && self.y1 <= y1
    }
}

/// Whether the polyline `line` (pixels) passes through the box `label`, sampled every 2
/// pixels along each segment.
fn crosses(label: &Label, line: &[(i32, i32)]) -> bool {
    line.windows(2).any(|segment| {
        let [(x0, y0), (x1, y1)] = [segment[0], segment[1]];
        let steps = ((x1 - x0).abs().max((y1 - y0).abs()) / 2).max(1);
        (0..=steps).any(|k| {
            let x = x0 + (x1 - x0) * k / steps;
            let y = y0 + (y1 - y0) * k / steps;
            x >= label.x0 && x <= label.x1 && y >= label.y0 && y <= label.y1
        })
    })
}

/// Where to write each name beside its point (pixels) inside `area` (left, top, right,
/// bottom): the first of a ring of positions (right, left, above, below, the diagonals), at
/// growing distances, whose box overlaps no point, no name placed before and no line of
/// `lines`; failing that, the first that overlaps no point or name (crossing a line); failing
/// that, right of the point. Names beyond the first ring get a leader line. Points are taken
/// from left to right.
fn place_labels(
    points: &[(i32, i32)],
    names: &[&str],
    area: (i32, i32, i32, i32),
    lines: &[Vec<(i32, i32)>],
) -> Vec<Label> {
    let height = (f64::from(NAME_FONT) / 1.24).ceil() as i32 + 2;
    let dots: Vec<Label> = points
        .iter()
        .map(|&(x, y)| Label {
            x0: x - RADIUS - 1,
            y0: y - RADIUS - 1,
            x1: x + RADIUS + 1,
            y1: y + RADIUS + 1,
            leader: false,
        })
        .collect();
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by_key(|&k| (points[k].0, points[k].1));
    let mut placed: Vec<Option<Label>> = vec![None; points.len()];
    for k in order {
        let (x, y) = points[k];
        let width = text_width(names[k], NAME_FONT) as i32 + 2;
        let candidates: Vec<Label> = [1, 3, 5, 8]
            .iter()
            .flat_map(|&ring| {
                let d = (RADIUS + 3) * ring;
                let diagonal = (f64::from(d) * 0.7) as i32;
                [
                    (x + d, y - height / 2),
                    (x - d - width, y - height / 2),
                    (x - width / 2, y - d - height),
                    (x - width / 2, y + d),
                    (x + diagonal, y - diagonal - height),
                    (x + diagonal, y + diagonal),
                    (x - diagonal - width, y - diagonal - height),
                    (x - diagonal - width, y + diagonal),
                ]
                .map(move |(x0, y0)| Label {
                    x0,
                    y0,
                    x1: x0 + width,
                    y1: y0 + height,
                    leader: ring > 1,
                })
            })
            .collect();
        let clear = |l: &Label| {
            l.inside(area)
                && !dots.iter().any(|d| d.overlaps(l))
                && !placed.iter().flatten().any(|p| p.overlaps(l))
        };
        let chosen = candidates
            .iter()
            .find(|l| clear(l) && !lines.iter().any(|line| crosses(l, line)))
            .or_else(|| candidates.iter().find(|l| clear(l)))
            .copied()
            .unwrap_or(if x + RADIUS + 3 + width <= area.2 {
                candidates[0]
            } else {
                candidates[1]
            });
        placed[k] = Some(chosen);
    }
    placed.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::super::svg_reading::{attribute, axis_map, elements, polylines, ticks};
    use super::*;

    fn lkt() -> Funnel {
        let teams = (b'A'..=b'K')
            .map(|c| format!("LKT {}", c as char))
            .collect();
        // funnel_lkt_readm's counts, with team D made high.
        Funnel::proportions(
            teams,
            vec![
                48.0, 49.0, 10.0, 75.0, 22.0, 22.0, 41.0, 29.0, 15.0, 28.0, 8.0,
            ],
            vec![
                307.0, 359.0, 108.0, 279.0, 117.0, 225.0, 226.0, 210.0, 106.0, 172.0, 65.0,
            ],
        )
        .unwrap()
    }

    #[test]
    fn the_exact_limit_curves_pass_through_each_units_limits() {
        let f = lkt();
        let svg = funnel_plot(&f, "Readmission by team", "30-day readmission").unwrap();
        let (x_per, x0) = axis_map(&ticks(&svg, "middle", "x"));
        let (y_per, y0) = axis_map(&ticks(&svg, "end", "y"));
        // The two 99.8% curves (the legend's line has two points).
        let curves: Vec<_> = polylines(&svg, "#084594")
            .into_iter()
            .filter(|c| c.len() > 10)
            .collect();
        assert_eq!(curves.len(), 2);
        for u in &f.units {
            let px = x0 + x_per * u.volume;
            for (curve, limit) in curves.iter().zip([u.limits.lower998, u.limits.upper998]) {
                let near = curve
                    .iter()
                    .min_by(|a, b| (a.0 - px).abs().total_cmp(&(b.0 - px).abs()))
                    .unwrap();
                assert!((near.1 - (y0 + y_per * limit)).abs() <= 1.5, "{}", u.unit);
            }
        }
        // Every team is named; D (75 of 279) is outside the 99.8% limits, in red.
        for u in &f.units {
            assert!(svg.contains(&format!(">{}<", u.unit)) || svg.contains(&u.unit));
        }
        let d = &f.units[3];
        assert_eq!(d.outside, Flag::Above);
        let red = elements(&svg, "circle")
            .into_iter()
            .filter(|c| attribute(c, "fill") == Some("#D62728"))
            .count();
        assert_eq!(red, 1 + 1, "D and the legend's dot");
        assert!(svg.contains("Outside the 99.8% limits (1)"));
    }

    #[test]
    fn names_overlap_neither_points_nor_each_other() {
        // Points crowded together.
        let points: Vec<(i32, i32)> = (0..8).map(|k| (300 + 6 * k, 200 + 3 * (k % 3))).collect();
        let names = [
            "LKT A", "LKT B", "LKT C", "LKT D", "LKT E", "LKT F", "LKT G", "LKT H",
        ];
        // A line through them all, and one just below.
        let lines = vec![vec![(80, 203), (780, 203)], vec![(80, 215), (780, 215)]];
        let labels = place_labels(&points, &names, (80, 40, 780, 460), &lines);
        assert_eq!(labels.len(), 8);
        for (i, a) in labels.iter().enumerate() {
            for b in &labels[i + 1..] {
                assert!(!a.overlaps(b), "{a:?} {b:?}");
            }
            for &(x, y) in &points {
                let dot = Label {
                    x0: x - RADIUS,
                    y0: y - RADIUS,
                    x1: x + RADIUS,
                    y1: y + RADIUS,
                    leader: false,
                };
                assert!(!a.overlaps(&dot));
            }
            assert!(!lines.iter().any(|l| crosses(a, l)), "{a:?}");
        }
        assert!(labels.iter().any(|l| l.leader));
    }

    #[test]
    fn overdispersion_adds_dashed_limits() {
        let teams = (0..6).map(|k| format!("U{k}")).collect();
        let f = Funnel::proportions(
            teams,
            vec![10.0, 40.0, 5.0, 30.0, 60.0, 12.0],
            vec![200.0, 210.0, 190.0, 205.0, 220.0, 180.0],
        )
        .unwrap();
        assert!(f.overdispersion.phi > 1.0);
        let svg = funnel_plot(&f, "Overdispersed", "Proportion").unwrap();
        assert!(svg.contains("overdispersion x") && svg.contains("random effects"));
        assert!(!polylines(&svg, "#9467BD").is_empty());
    }

    #[test]
    fn a_bad_funnel_is_refused() {
        let mut f = lkt();
        f.units[0].value = f64::NAN;
        let e = funnel_plot(&f, "t", "y").unwrap_err().to_string();
        assert!(e.contains("LKT A"), "{e}");
        f.units.clear();
        assert!(funnel_plot(&f, "t", "y").is_err());
    }
}
