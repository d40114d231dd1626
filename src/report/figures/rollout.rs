//! The rollout diagram of a stepped-wedge or staggered-rollout design: one row per cluster, one
//! column per period, each cell shaded by the share of the period spent under the intervention.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontTransform;
use serde::Serialize;

use super::{
    draw_legend, drawing, legend_height, svg_sized, text_width, Symbol, CLOUD, LABEL_FONT, MARGIN,
    POINT, SIZE,
};
use crate::core::error::{Error, Result};

/// A stepped-wedge or staggered-rollout schedule: which clusters are under the intervention in
/// which periods.
///
/// Each row is a cluster (a hospital, a municipality, a group of them) and holds, for every
/// period, the share of that period under the intervention: 0 is usual care, 1 the
/// intervention, a share in between a period in which the intervention started (a rollout that
/// starts mid-month). Optionally each cell also has a number of patients
/// ([`RolloutDiagram::with_counts`]). Draw it with [`rollout_diagram`] or print it with
/// [`RolloutDiagram::text`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutDiagram {
    /// The figure's title.
    pub title: String,
    /// What the columns are, e.g. `Month` or `Period (3 months)`; the x-axis title.
    pub period_title: String,
    /// One label per period, in order (`1`..`17`, `2023-09`).
    pub period_labels: Vec<String>,
    /// One row per cluster, top to bottom.
    pub rows: Vec<RolloutRow>,
    /// Patients per cell, if known: per row, one count per period; [`rollout_diagram`] prints
    /// them in the cells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<Vec<Vec<usize>>>,
}

/// One cluster of a [`RolloutDiagram`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutRow {
    /// The cluster's name, printed on the left.
    pub label: String,
    /// Per period, the share of the period under the intervention, in [0, 1].
    pub intervention: Vec<f64>,
}

impl RolloutRow {
    /// A row with these shares.
    pub fn new(label: impl Into<String>, intervention: Vec<f64>) -> Self {
        RolloutRow {
            label: label.into(),
            intervention,
        }
    }

    /// A row over `n_periods` periods that is under usual care before period `first` (1-based)
    /// and under the intervention from it on (share 1); `None`, or a `first` after the last
    /// period, keeps it under usual care throughout.
    pub fn switching(label: impl Into<String>, n_periods: usize, first: Option<usize>) -> Self {
        let shares = (1..=n_periods)
            .map(|period| {
                if first.is_some_and(|f| period >= f) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        RolloutRow::new(label, shares)
    }
}

impl RolloutDiagram {
    /// This diagram with `counts` patients per cell: per row, one count per period.
    pub fn with_counts(mut self, counts: Vec<Vec<usize>>) -> Self {
        self.counts = Some(counts);
        self
    }

    /// Checks the diagram: at least one row and one period ([`Error::TooFewData`] otherwise),
    /// every row with one share per period label, every share a number in [0, 1], and counts,
    /// if any, one per row and period (an [`Error::InvalidArgument`] naming the first bad row).
    pub fn validate(&self) -> Result<()> {
        for (count, unit) in [
            (self.rows.len(), "rows"),
            (self.period_labels.len(), "periods"),
        ] {
            if count == 0 {
                return Err(Error::too_few("a rollout diagram", unit, 0, 1));
            }
        }
        let n = self.period_labels.len();
        for (i, row) in self.rows.iter().enumerate() {
            if row.intervention.len() != n {
                return Err(Error::invalid(
                    "rows",
                    format!(
                        "row {} ('{}') has {} shares; one per period label is needed ({n})",
                        i + 1,
                        row.label,
                        row.intervention.len()
                    ),
                ));
            }
            let bad = row
                .intervention
                .iter()
                .zip(&self.period_labels)
                .find(|(s, _)| !(0.0..=1.0).contains(*s));
            if let Some((share, period)) = bad {
                return Err(Error::invalid(
                    "rows",
                    format!(
                        "row {} ('{}') has share {share} in period '{period}'; a share of the \
                         period under the intervention must be in [0, 1]",
                        i + 1,
                        row.label
                    ),
                ));
            }
        }
        if let Some(counts) = &self.counts {
            if counts.len() != self.rows.len() {
                return Err(Error::invalid(
                    "counts",
                    format!(
                        "{} rows of counts for {} rows; one per row is needed",
                        counts.len(),
                        self.rows.len()
                    ),
                ));
            }
            if let Some((i, c)) = counts.iter().enumerate().find(|(_, c)| c.len() != n) {
                return Err(Error::invalid(
                    "counts",
                    format!(
                        "row {} ('{}') has {} counts; one per period label is needed ({n})",
                        i + 1,
                        self.rows[i].label,
                        c.len()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The share of period `period` (a period label) under the intervention in the row labelled
    /// `row`, if both exist.
    pub fn share(&self, row: &str, period: &str) -> Option<f64> {
        let column = self.period_labels.iter().position(|p| p == period)?;
        let row = self.rows.iter().find(|r| r.label == row)?;
        row.intervention.get(column).copied()
    }

    /// The schedule as a plain-text grid for terminals: the title, the period labels over their
    /// columns (see below), then one line per row with `.` for usual care, `#` for the
    /// intervention and `+` for a period partly under the intervention (`?` for a share that is
    /// not in [0, 1]; the grid is printed as it is, without [`RolloutDiagram::validate`]), then
    /// a key. Each column is one character wide, with a space between columns. Labels of up to
    /// 3 characters are written downwards over their columns, every one of
    /// them (`1` over `0` for period 10); longer labels (`2023-09`) are written across, each
    /// starting at its column and marked there with a `|` below it, skipping a label that would
    /// run into the one before.
    pub fn text(&self) -> String {
        let width = self
            .rows
            .iter()
            .map(|r| r.label.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = format!("{}\n", self.title);
        for line in header_lines(&self.period_labels) {
            let text = format!("{:width$}  {line}", "");
            out.push_str(text.trim_end());
            out.push('\n');
        }
        for row in &self.rows {
            let cells: Vec<&str> = row.intervention.iter().map(|&s| symbol(s)).collect();
            out.push_str(&format!("{:<width$}  {}\n", row.label, cells.join(" ")));
        }
        out.push_str(&format!(
            "Columns: {}. '.' usual care, '#' intervention, '+' part of the period under the \
             intervention\n",
            self.period_title
        ));
        out
    }
}

/// Longest period label that [`RolloutDiagram::text`] writes downwards over its column.
const TEXT_UPRIGHT_LABEL: usize = 3;

/// The header lines of the text grid over columns two characters apart (see
/// [`RolloutDiagram::text`]).
fn header_lines(labels: &[String]) -> Vec<String> {
    let depth = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    if depth <= TEXT_UPRIGHT_LABEL {
        return (0..depth)
            .map(|line| {
                let cells: Vec<String> = labels
                    .iter()
                    .map(|l| {
                        // Labels are bottom-aligned: shorter ones start lower.
                        let skip = depth - l.chars().count();
                        line.checked_sub(skip)
                            .and_then(|k| l.chars().nth(k))
                            .unwrap_or(' ')
                            .to_string()
                    })
                    .collect();
                cells.join(" ")
            })
            .collect();
    }
    let (mut text, mut ticks) = (String::new(), String::new());
    // The first position the next label may start at (one space after the last one).
    let mut free = 0;
    for (j, label) in labels.iter().enumerate() {
        let at = 2 * j;
        if at >= free {
            text.push_str(&" ".repeat(at - text.chars().count()));
            text.push_str(label);
            ticks.push_str(&" ".repeat(at - ticks.chars().count()));
            ticks.push('|');
            free = at + label.chars().count() + 1;
        }
    }
    vec![text, ticks]
}

/// The grid symbol of a share.
fn symbol(share: f64) -> &'static str {
    if share == 0.0 {
        "."
    } else if share == 1.0 {
        "#"
    } else if share > 0.0 && share < 1.0 {
        "+"
    } else {
        "?"
    }
}

/// Smallest and largest height of a row, in pixels.
const ROW_HEIGHT: (u32, u32) = (20, 40);
/// Most rows, and most periods, that [`rollout_diagram`] draws.
const MAX_DRAWN: usize = 1000;
/// Height of the title, in pixels (font 22 and the space below it).
const CAPTION: u32 = 40;

/// Largest and smallest font size of the counts in the cells.
const COUNT_FONT: (u32, u32) = (12, 7);

/// An SVG figure of the schedule (plotters; 800 pixels wide, readable at A4 width; 20 to 40
/// pixels a row, so about 560 high for 10 rows, less for fewer and more for over 20): one row per cluster with its label on the
/// left, one column per period with its label below (written upwards when the labels are wider
/// than the columns), the period title under them, each cell light (usual care) with the share
/// under the intervention filled dark from the cell's right edge (a cell under the intervention
/// throughout is all dark), with its number of patients in the middle if the diagram has counts
/// (in the largest font from 12 down to 7 that fits the cells), a legend ("usual care",
/// "intervention", the partial cell when there is one, and what the numbers are) and the title.
///
/// Errors: [`Error::InvalidArgument`] naming the row when the diagram is not valid (see
/// [`RolloutDiagram::validate`]), when it has more than 1,000 rows or periods (too many to
/// draw; [`RolloutDiagram::text`] prints any number), or when its counts do not fit the cells
/// even in font 7.
pub fn rollout_diagram(diagram: &RolloutDiagram) -> Result<String> {
    diagram.validate()?;
    let n_rows = diagram.rows.len();
    let n_periods = diagram.period_labels.len();
    for (what, n) in [("rows", n_rows), ("period_labels", n_periods)] {
        if n > MAX_DRAWN {
            return Err(Error::invalid(
                what,
                format!("{n} {what} are too many to draw; at most {MAX_DRAWN} can be"),
            ));
        }
    }
    // Labels wider than these limits run off the canvas (the left edge, the bottom).
    let left = diagram
        .rows
        .iter()
        .map(|r| text_width(&r.label, LABEL_FONT))
        .max()
        .unwrap_or(0)
        .min(SIZE.0 / 2)
        + 12;
    let plot_width = SIZE.0.saturating_sub(left + 3 * MARGIN).max(1);
    let cell_width = plot_width / n_periods as u32;
    let widest_period = diagram
        .period_labels
        .iter()
        .map(|l| text_width(l, LABEL_FONT))
        .max()
        .unwrap_or(0)
        .min(SIZE.1 / 2);
    let upright = widest_period + 4 > cell_width;
    let label_depth = if upright { widest_period } else { LABEL_FONT };
    let partial = diagram
        .rows
        .iter()
        .flat_map(|r| &r.intervention)
        .any(|&s| s > 0.0 && s < 1.0);
    let mut legend = vec![
        (Symbol::Cell(0.0), "usual care".to_string()),
        (Symbol::Cell(1.0), "intervention".to_string()),
    ];
    if partial {
        legend.push((
            Symbol::Cell(0.5),
            "part of the period (filled from the right)".to_string(),
        ));
    }
    if diagram.counts.is_some() {
        legend.push((Symbol::Note, "numbers: patients in the cell".to_string()));
    }
    let legend_left = (MARGIN + left) as i32;
    let legend_h = legend_height(legend_left, (SIZE.0 - MARGIN) as i32, &legend);
    // Period labels, the period title and the legend, with space between them.
    let bottom = 8 + label_depth + 12 + 20 + 11 + legend_h;
    // Rows share the standard height, within ROW_HEIGHT each.
    let fixed = MARGIN + CAPTION + bottom + MARGIN;
    let row_height =
        (SIZE.1.saturating_sub(fixed) / n_rows as u32).clamp(ROW_HEIGHT.0, ROW_HEIGHT.1);
    let height = fixed + n_rows as u32 * row_height;
    let count_font = diagram
        .counts
        .as_ref()
        .map(|counts| count_font(counts, cell_width, row_height))
        .transpose()?;
    let rows = n_rows as f64;
    svg_sized((SIZE.0, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&diagram.title, ("sans-serif", 22))
            .margin(MARGIN)
            .margin_left(MARGIN + left)
            .margin_right(2 * MARGIN)
            .margin_bottom(MARGIN + bottom)
            .build_cartesian_2d(0.0..n_periods as f64, -rows..0.0)
            .map_err(drawing)?;
        // Row k occupies y in [-(k + 1), -k], period j x in [j, j + 1].
        for (k, row) in diagram.rows.iter().enumerate() {
            let (y0, y1) = (-(k as f64) - 1.0, -(k as f64));
            for (j, &share) in row.intervention.iter().enumerate() {
                let (x0, x1) = (j as f64, j as f64 + 1.0);
                let mut cell = vec![Rectangle::new([(x0, y0), (x1, y1)], CLOUD.filled())];
                if share > 0.0 {
                    cell.push(Rectangle::new([(x1 - share, y0), (x1, y1)], POINT.filled()));
                }
                cell.push(Rectangle::new([(x0, y0), (x1, y1)], WHITE.stroke_width(2)));
                chart.draw_series(cell).map_err(drawing)?;
                if let (Some(counts), Some(size)) = (&diagram.counts, count_font) {
                    // White on a cell that is mostly dark.
                    let colour = if share > 0.75 { WHITE } else { BLACK };
                    root.draw(&Text::new(
                        counts[k][j].to_string(),
                        chart.backend_coord(&(x0 + 0.5, y0 + 0.5)),
                        TextStyle::from(("sans-serif", size))
                            .color(&colour)
                            .pos(Pos::new(HPos::Center, VPos::Center)),
                    ))
                    .map_err(drawing)?;
                }
            }
            let (x, y) = chart.backend_coord(&(0.0, -(k as f64) - 0.5));
            root.draw(&Text::new(
                row.label.clone(),
                (x - 8, y),
                label_style().pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(drawing)?;
        }
        let (_, grid_bottom) = chart.backend_coord(&(0.0, -rows));
        for (j, label) in diagram.period_labels.iter().enumerate() {
            let (x, _) = chart.backend_coord(&(j as f64 + 0.5, 0.0));
            let style = if upright {
                label_style()
                    .transform(FontTransform::Rotate270)
                    .pos(Pos::new(HPos::Right, VPos::Center))
            } else {
                label_style().pos(Pos::new(HPos::Center, VPos::Top))
            };
            root.draw(&Text::new(label.clone(), (x, grid_bottom + 8), style))
                .map_err(drawing)?;
        }
        let (grid_left, _) = chart.backend_coord(&(0.0, 0.0));
        let (grid_right, _) = chart.backend_coord(&(n_periods as f64, 0.0));
        let title_y = grid_bottom + 8 + label_depth as i32 + 12;
        root.draw(&Text::new(
            diagram.period_title.clone(),
            ((grid_left + grid_right) / 2, title_y),
            TextStyle::from(("sans-serif", 16)).pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(drawing)?;
        draw_legend(
            root,
            (legend_left, title_y + 20 + 11),
            (SIZE.0 - MARGIN) as i32,
            &legend,
        )
    })
}

/// The largest font size of [`COUNT_FONT`] in which every count fits its cell of `width` by
/// `height` pixels, or an error naming the cell width if none does.
fn count_font(counts: &[Vec<usize>], width: u32, height: u32) -> Result<u32> {
    let widest = counts
        .iter()
        .flatten()
        .max()
        .map_or(1, |c| c.to_string().len());
    (COUNT_FONT.1..=COUNT_FONT.0)
        .rev()
        .find(|&size| text_width(&"0".repeat(widest), size) + 4 <= width && size + 4 <= height)
        .ok_or_else(|| {
            Error::invalid(
                "counts",
                format!(
                    "counts of {widest} digits do not fit cells {width} pixels wide even in font \
                     {}; draw fewer periods or leave the counts out",
                    COUNT_FONT.1
                ),
            )
        })
}

/// The style of the row and period labels.
fn label_style() -> TextStyle<'static> {
    TextStyle::from(("sans-serif", LABEL_FONT))
}

#[cfg(test)]
mod tests {
    use super::super::svg_reading::text_fill;
    use super::*;

    fn diagram() -> RolloutDiagram {
        RolloutDiagram {
            title: "Three regions".into(),
            period_title: "Month".into(),
            // September 2023 to June 2025.
            period_labels: (8..30)
                .map(|m| format!("{}-{:02}", 2023 + m / 12, m % 12 + 1))
                .collect(),
            rows: vec![
                RolloutRow::switching("Sønderjylland", 22, Some(9)),
                RolloutRow::new(
                    "Sydvestjylland",
                    (1..=22).map(|m| if m < 11 { 0.0 } else { 1.0 }).collect(),
                ),
                RolloutRow::switching("Fyn", 22, None),
            ],
            counts: None,
        }
    }

    #[test]
    fn svg_has_the_labels_and_the_legend() {
        let mut d = diagram();
        d.rows[0].intervention[8] = 0.5;
        let svg = rollout_diagram(&d).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        for text in [
            "Three regions",
            "Month",
            "Sønderjylland",
            "Sydvestjylland",
            "Fyn",
            "2023-09",
            "2025-06",
            "usual care",
            "intervention",
            "part of the period",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        // Long labels are written upwards.
        assert!(svg.contains("rotate(270"), "{svg}");
        let full = rollout_diagram(&diagram()).unwrap();
        assert!(!full.contains("part of the period"));
    }

    #[test]
    fn short_labels_stay_level_and_many_rows_make_it_taller() {
        let d = RolloutDiagram {
            title: "t".into(),
            period_title: "Period".into(),
            period_labels: (1..=7).map(|p| p.to_string()).collect(),
            rows: (1..=40)
                .map(|k| RolloutRow::switching(format!("C{k}"), 7, Some(k % 7 + 1)))
                .collect(),
            counts: None,
        };
        let svg = rollout_diagram(&d).unwrap();
        assert!(!svg.contains("rotate(270"));
        assert!(svg.contains("C40"));
        assert!(!svg.contains(r#"height="560""#), "{}", &svg[..200]);
        // Labels far too long to fit are cut off by the canvas, without failing.
        let long = RolloutDiagram {
            period_labels: (1..=7).map(|p| "x".repeat(500 + p)).collect(),
            rows: vec![RolloutRow::switching("y".repeat(2000), 7, Some(3))],
            ..d
        };
        assert!(rollout_diagram(&long).unwrap().contains(&"y".repeat(2000)));
    }

    #[test]
    fn invalid_diagrams_name_the_row() {
        let message = |d: &RolloutDiagram| match rollout_diagram(d).unwrap_err() {
            Error::InvalidArgument { argument, message } => format!("{argument}: {message}"),
            other => panic!("{other}"),
        };
        let mut d = diagram();
        d.rows.clear();
        let empty = rollout_diagram(&d).unwrap_err();
        assert!(
            matches!(&empty, Error::TooFewData { unit, got: 0, needed: 1, .. } if unit == "rows"),
            "{empty}"
        );
        let mut d = diagram();
        d.rows[1].intervention.pop();
        assert!(message(&d).contains("row 2 ('Sydvestjylland') has 21"));
        let mut d = diagram();
        d.rows[2].intervention[3] = 1.5;
        assert!(message(&d).contains("'Fyn'") && message(&d).contains("'2023-12'"));
        d.rows[2].intervention[3] = f64::NAN;
        assert!(message(&d).contains("share NaN"), "{}", message(&d));
        let many = RolloutDiagram {
            rows: (0..1001)
                .map(|k| RolloutRow::switching(k.to_string(), 2, Some(2)))
                .collect(),
            period_labels: vec!["1".into(), "2".into()],
            ..diagram()
        };
        assert!(message(&many).contains("1001 rows are too many"));
        let mut d = diagram();
        d.period_labels.clear();
        d.rows.iter_mut().for_each(|r| r.intervention.clear());
        let empty = rollout_diagram(&d).unwrap_err();
        assert!(
            matches!(&empty, Error::TooFewData { unit, got: 0, needed: 1, .. } if unit == "periods"),
            "{empty}"
        );
    }

    #[test]
    fn counts_are_printed_in_their_cells() {
        // Row k, period j: 100 k + j patients.
        let counts = |rows: usize, periods: usize| {
            (0..rows)
                .map(|k| (0..periods).map(|j| 100 * k + j).collect())
                .collect()
        };
        let svg = rollout_diagram(&diagram().with_counts(counts(3, 22))).unwrap();
        assert!(svg.contains("numbers: patients in the cell"));
        // Sønderjylland switches in period 9 (j = 8): dark cells get white numbers.
        assert_eq!(text_fill(&svg, "7").as_deref(), Some("#000000"));
        assert_eq!(text_fill(&svg, "8").as_deref(), Some("#FFFFFF"));
        assert_eq!(text_fill(&svg, "221").as_deref(), Some("#000000"));
        assert!(text_fill(&svg, "222").is_none());
        assert!(!rollout_diagram(&diagram()).unwrap().contains("numbers:"));
        let message = |d: RolloutDiagram| match rollout_diagram(&d).unwrap_err() {
            Error::InvalidArgument { argument, message } => format!("{argument}: {message}"),
            other => panic!("{other}"),
        };
        assert!(message(diagram().with_counts(counts(2, 22))).contains("2 rows of counts for 3"));
        let mut short = counts(3, 22);
        short[1].pop();
        assert!(message(diagram().with_counts(short)).contains("row 2 ('Sydvestjylland') has 21"));
        // 200 periods leave cells 3 pixels wide: too narrow for any number.
        let wide = RolloutDiagram {
            period_labels: (1..=200).map(|p| p.to_string()).collect(),
            rows: vec![RolloutRow::switching("A", 200, Some(50))],
            ..diagram()
        };
        let too_narrow = message(wide.with_counts(counts(1, 200)));
        assert!(
            too_narrow.contains("do not fit cells 3 pixels wide"),
            "{too_narrow}"
        );
    }

    #[test]
    fn text_grid() {
        let d = RolloutDiagram {
            title: "Design".into(),
            period_title: "period".into(),
            period_labels: (1..=12).map(|p| p.to_string()).collect(),
            rows: vec![
                RolloutRow::switching("A", 12, Some(2)),
                RolloutRow::new(
                    "Longer",
                    vec![0.0, 0.0, 0.25, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0],
                ),
            ],
            counts: None,
        };
        let text = d.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Design");
        assert_eq!(lines[1], "                          1 1 1");
        assert_eq!(lines[2], "        1 2 3 4 5 6 7 8 9 0 1 2");
        assert_eq!(lines[3], "A       . # # # # # # # # # # #");
        assert_eq!(lines[4], "Longer  . . + # # # # # # # # ?");
        assert!(lines[5].starts_with("Columns: period."));
        assert_eq!(d.share("Longer", "3"), Some(0.25));
        assert_eq!(d.share("Longer", "13"), None);
        assert_eq!(d.share("B", "1"), None);
    }

    #[test]
    fn long_labels_go_across_with_ticks() {
        let text = diagram().text();
        let lines: Vec<&str> = text.lines().collect();
        // 16 characters of row labels and gap; a label every 4 columns.
        assert_eq!(&lines[1][..40], "                2023-09 2024-01 2024-05 ");
        assert_eq!(&lines[2][..33], "                |       |       |");
        let cells: String = lines[3].chars().skip(16).collect();
        assert_eq!(cells, ". . . . . . . . # # # # # # # # # # # # # #");
        assert_eq!(
            lines[5].trim_end(),
            "Fyn             . . . . . . . . . . . . . . . . . . . . . ."
        );
    }
}
