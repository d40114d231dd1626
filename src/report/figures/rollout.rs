//! The rollout diagram of a stepped-wedge or staggered-rollout design: one row per cluster, one
//! column per period, each cell shaded by the share of the period spent under the intervention.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontTransform;
use serde::Serialize;

use super::{
    draw_legend, draw_unobserved, drawing, legend_height, svg_sized, text_width, Symbol, CLOUD,
    LABEL_FONT, MARGIN, POINT, SIZE,
};
use crate::core::error::{Error, Result};
use crate::design::Design;

/// The rollout diagram of a [`Design`]: its title, what its columns are, the design and
/// optionally the patients of each cell.
///
/// Each row is a cluster (a hospital, a municipality, a group of them) and holds, for every
/// period, the share of that period under the intervention: 0 is usual care, 1 the
/// intervention, a share in between a transition period (part of the effect) or a period in
/// which the intervention started (a rollout that starts mid-month), and a cell without a
/// value is not observed. Optionally each cell also has a number of patients
/// ([`RolloutDiagram::with_counts`]). Draw it with [`rollout_diagram`] or print it with
/// [`RolloutDiagram::text`].
///
/// Its JSON keeps the fields it had before it held a [`Design`], `period_labels` and `rows`
/// (`[{"label", "intervention": [share or null]}]`), beside `design`.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutDiagram {
    /// The figure's title.
    pub title: String,
    /// What the columns are, e.g. `Month` or `Period (3 months)`; the x-axis title.
    pub period_title: String,
    /// The design: its cluster labels are the rows, its period labels the columns.
    pub design: Design,
    /// Patients per cell, if known: per row, one count per period; [`rollout_diagram`] prints
    /// them in the cells.
    pub counts: Option<Vec<Vec<usize>>>,
}

impl Serialize for RolloutDiagram {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        #[derive(Serialize)]
        struct Row<'a> {
            label: &'a str,
            intervention: &'a [Option<f64>],
        }
        let rows: Vec<Row> = self
            .design
            .clusters()
            .iter()
            .zip(self.design.cells())
            .map(|(label, cells)| Row {
                label,
                intervention: cells,
            })
            .collect();
        let labels: Vec<&str> = self
            .design
            .periods()
            .iter()
            .map(|p| p.label.as_str())
            .collect();
        let fields = if self.counts.is_some() { 6 } else { 5 };
        let mut state = s.serialize_struct("RolloutDiagram", fields)?;
        state.serialize_field("title", &self.title)?;
        state.serialize_field("period_title", &self.period_title)?;
        state.serialize_field("period_labels", &labels)?;
        state.serialize_field("rows", &rows)?;
        state.serialize_field("design", &self.design)?;
        if let Some(counts) = &self.counts {
            state.serialize_field("counts", counts)?;
        }
        state.end()
    }
}

impl RolloutDiagram {
    /// The diagram of `design`, titled `title`, with `period_title` under its columns.
    pub fn new(title: impl Into<String>, period_title: impl Into<String>, design: Design) -> Self {
        RolloutDiagram {
            title: title.into(),
            period_title: period_title.into(),
            design,
            counts: None,
        }
    }

    /// This diagram with `counts` patients per cell: per row, one count per period.
    pub fn with_counts(mut self, counts: Vec<Vec<usize>>) -> Self {
        self.counts = Some(counts);
        self
    }

    /// Checks the counts, if any: one row per cluster and one count per period (an
    /// [`Error::InvalidArgument`] naming the first bad row). The design is valid by
    /// construction.
    pub fn validate(&self) -> Result<()> {
        let Some(counts) = &self.counts else {
            return Ok(());
        };
        let (rows, n) = (self.design.n_clusters(), self.design.n_periods());
        if counts.len() != rows {
            return Err(Error::invalid(
                "counts",
                format!(
                    "{} rows of counts for {rows} rows; one per row is needed",
                    counts.len()
                ),
            ));
        }
        if let Some((i, c)) = counts.iter().enumerate().find(|(_, c)| c.len() != n) {
            return Err(Error::invalid(
                "counts",
                format!(
                    "row {} ('{}') has {} counts; one per period label is needed ({n})",
                    i + 1,
                    self.design.clusters()[i],
                    c.len()
                ),
            ));
        }
        Ok(())
    }

    /// The share of period `period` (a period label) under the intervention in the row labelled
    /// `row`, if both exist and the cell is observed.
    pub fn share(&self, row: &str, period: &str) -> Option<f64> {
        let row = self.design.cluster_index(row).ok()?;
        let column = self.design.period_index(period).ok()?;
        self.design.share(row, column)
    }

    /// The period labels, in order.
    pub fn period_labels(&self) -> Vec<String> {
        self.design
            .periods()
            .iter()
            .map(|p| p.label.clone())
            .collect()
    }

    /// The schedule as a plain-text grid for terminals: the title, the period labels over their
    /// columns (see below), then one line per row with `.` for usual care, `#` for the
    /// intervention, `+` for a period partly under the intervention and `-` for a cell that is
    /// not observed, then a key. Each column is one character wide, with a space between
    /// columns. Labels of up to 3 characters are written downwards over their columns, every
    /// one of them (`1` over `0` for period 10); longer labels (`2023-09`) are written across,
    /// each starting at its column and marked there with a `|` below it, skipping a label that
    /// would run into the one before.
    pub fn text(&self) -> String {
        let width = self
            .design
            .clusters()
            .iter()
            .map(|r| r.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = format!("{}\n", self.title);
        for line in header_lines(&self.period_labels()) {
            let text = format!("{:width$}  {line}", "");
            out.push_str(text.trim_end());
            out.push('\n');
        }
        for (label, row) in self.design.clusters().iter().zip(self.design.cells()) {
            let cells: Vec<&str> = row.iter().map(|&s| symbol(s)).collect();
            out.push_str(&format!("{label:<width$}  {}\n", cells.join(" ")));
        }
        let unobserved = if self.design.cell_counts().unobserved > 0 {
            ", '-' not observed"
        } else {
            ""
        };
        out.push_str(&format!(
            "Columns: {}. '.' usual care, '#' intervention, '+' part of the period under the \
             intervention{unobserved}\n",
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

/// The grid symbol of a cell.
fn symbol(share: Option<f64>) -> &'static str {
    match share {
        None => "-",
        Some(0.0) => ".",
        Some(1.0) => "#",
        Some(_) => "+",
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
/// throughout is all dark), a cell that is not observed white with a grey cross, with its
/// number of patients in the middle if the diagram has counts (in the largest font from 12 down
/// to 7 that fits the cells), a legend ("usual care", "intervention", the partial and the
/// unobserved cell when there is one, and what the numbers are) and the title.
///
/// Errors: [`Error::InvalidArgument`] naming the row when the diagram is not valid (see
/// [`RolloutDiagram::validate`]), when it has more than 1,000 rows or periods (too many to
/// draw; [`RolloutDiagram::text`] prints any number), or when its counts do not fit the cells
/// even in font 7.
pub fn rollout_diagram(diagram: &RolloutDiagram) -> Result<String> {
    diagram.validate()?;
    let design = &diagram.design;
    let n_rows = design.n_clusters();
    let n_periods = design.n_periods();
    let period_labels = diagram.period_labels();
    for (what, n) in [("rows", n_rows), ("period_labels", n_periods)] {
        if n > MAX_DRAWN {
            return Err(Error::invalid(
                what,
                format!("{n} {what} are too many to draw; at most {MAX_DRAWN} can be"),
            ));
        }
    }
    // Labels wider than these limits run off the canvas (the left edge, the bottom).
    let left = design
        .clusters()
        .iter()
        .map(|r| text_width(r, LABEL_FONT))
        .max()
        .unwrap_or(0)
        .min(SIZE.0 / 2)
        + 12;
    let plot_width = SIZE.0.saturating_sub(left + 3 * MARGIN).max(1);
    let cell_width = plot_width / n_periods as u32;
    let widest_period = period_labels
        .iter()
        .map(|l| text_width(l, LABEL_FONT))
        .max()
        .unwrap_or(0)
        .min(SIZE.1 / 2);
    let upright = widest_period + 4 > cell_width;
    let label_depth = if upright { widest_period } else { LABEL_FONT };
    let kinds = design.cell_counts();
    let mut legend = vec![
        (Symbol::Cell(0.0), "usual care".to_string()),
        (Symbol::Cell(1.0), "intervention".to_string()),
    ];
    if kinds.partial > 0 {
        legend.push((
            Symbol::Cell(0.5),
            "partly under the intervention (the share filled from the right)".to_string(),
        ));
    }
    if kinds.unobserved > 0 {
        legend.push((Symbol::Unobserved, "not observed".to_string()));
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
        for (k, (label, row)) in design.clusters().iter().zip(design.cells()).enumerate() {
            let (y0, y1) = (-(k as f64) - 1.0, -(k as f64));
            for (j, &cell) in row.iter().enumerate() {
                let (x0, x1) = (j as f64, j as f64 + 1.0);
                let share = cell.unwrap_or(0.0);
                match cell {
                    Some(share) => {
                        let mut shapes = vec![Rectangle::new([(x0, y0), (x1, y1)], CLOUD.filled())];
                        if share > 0.0 {
                            shapes
                                .push(Rectangle::new([(x1 - share, y0), (x1, y1)], POINT.filled()));
                        }
                        chart.draw_series(shapes).map_err(drawing)?;
                    }
                    None => {
                        let (a, b) = (
                            chart.backend_coord(&(x0, y1)),
                            chart.backend_coord(&(x1, y0)),
                        );
                        draw_unobserved(root, a, b)?;
                    }
                }
                chart
                    .draw_series([Rectangle::new([(x0, y0), (x1, y1)], WHITE.stroke_width(2))])
                    .map_err(drawing)?;
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
                label.clone(),
                (x - 8, y),
                label_style().pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(drawing)?;
        }
        let (_, grid_bottom) = chart.backend_coord(&(0.0, -rows));
        for (j, label) in period_labels.iter().enumerate() {
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
    use crate::design::Period;

    /// A design over `n` periods with these start periods (1-based; `None`: never).
    fn switching(labels: &[&str], n: usize, starts: &[Option<usize>]) -> Design {
        Design::from_start_periods(starts, n)
            .unwrap()
            .with_cluster_labels(labels.iter().map(|l| l.to_string()).collect())
            .unwrap()
    }

    fn diagram() -> RolloutDiagram {
        // September 2023 to June 2025.
        let labels = (8..30)
            .map(|m| format!("{}-{:02}", 2023 + m / 12, m % 12 + 1))
            .collect();
        let design = switching(
            &["Sønderjylland", "Sydvestjylland", "Fyn"],
            22,
            &[Some(9), Some(11), None],
        )
        .with_period_labels(labels)
        .unwrap();
        RolloutDiagram::new("Three regions", "Month", design)
    }

    /// `d` with cell (i, j) set to `share`.
    fn with_cell(d: &RolloutDiagram, i: usize, j: usize, share: Option<f64>) -> RolloutDiagram {
        let mut cells = d.design.cells().to_vec();
        cells[i][j] = share;
        let design = Design::new(cells)
            .unwrap()
            .with_cluster_labels(d.design.clusters().to_vec())
            .unwrap()
            .with_periods(d.design.periods().to_vec())
            .unwrap();
        RolloutDiagram {
            design,
            ..d.clone()
        }
    }

    #[test]
    fn svg_has_the_labels_and_the_legend() {
        let d = with_cell(&diagram(), 0, 8, Some(0.5));
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
            "partly under the intervention",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        // Long labels are written upwards.
        assert!(svg.contains("rotate(270"), "{svg}");
        let full = rollout_diagram(&diagram()).unwrap();
        assert!(!full.contains("partly under"));
        assert!(!full.contains("not observed"));
    }

    #[test]
    fn unobserved_cells_are_crossed_and_in_the_legend() {
        let d = with_cell(&diagram(), 2, 0, None);
        let svg = rollout_diagram(&d).unwrap();
        assert!(svg.contains("not observed"));
        // Two crosses (the cell and the legend's symbol) in the grey of unobserved cells.
        let grey = "#AAAAAA";
        let lines = svg.matches(&format!("stroke=\"{grey}\"")).count();
        assert!(lines >= 4, "{lines} grey strokes");
        assert!(d.text().contains("'-' not observed"));
        assert!(d
            .text()
            .lines()
            .nth(5)
            .unwrap()
            .starts_with("Fyn             - ."));
        assert_eq!(d.share("Fyn", "2023-09"), None);
        assert_eq!(d.share("Fyn", "2023-10"), Some(0.0));
    }

    #[test]
    fn short_labels_stay_level_and_many_rows_make_it_taller() {
        let labels: Vec<String> = (1..=40).map(|k| format!("C{k}")).collect();
        let names: Vec<&str> = labels.iter().map(String::as_str).collect();
        let starts: Vec<Option<usize>> = (1..=40).map(|k| Some(k % 7 + 1)).collect();
        let d = RolloutDiagram::new("t", "Period", switching(&names, 7, &starts));
        let svg = rollout_diagram(&d).unwrap();
        assert!(!svg.contains("rotate(270"));
        assert!(svg.contains("C40"));
        assert!(!svg.contains(r#"height="560""#), "{}", &svg[..200]);
        // Labels far too long to fit are cut off by the canvas, without failing.
        let long_name = "y".repeat(2000);
        let long = RolloutDiagram::new(
            "t",
            "Period",
            switching(&[&long_name], 7, &[Some(3)])
                .with_period_labels((1..=7).map(|p| "x".repeat(500 + p)).collect())
                .unwrap(),
        );
        assert!(rollout_diagram(&long).unwrap().contains(&long_name));
    }

    #[test]
    fn too_many_rows_are_refused_by_name() {
        let message = |d: &RolloutDiagram| match rollout_diagram(d).unwrap_err() {
            Error::InvalidArgument { argument, message } => format!("{argument}: {message}"),
            other => panic!("{other}"),
        };
        let many = RolloutDiagram::new(
            "t",
            "Period",
            Design::from_start_periods(&vec![Some(2); 1001], 2).unwrap(),
        );
        assert!(message(&many).contains("1001 rows are too many"));
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
        let wide = RolloutDiagram::new("t", "Period", switching(&["A"], 200, &[Some(50)]));
        let too_narrow = message(wide.with_counts(counts(1, 200)));
        assert!(
            too_narrow.contains("do not fit cells 3 pixels wide"),
            "{too_narrow}"
        );
    }

    #[test]
    fn text_grid() {
        let design = Design::new(vec![
            std::iter::once(Some(0.0))
                .chain(std::iter::repeat_n(Some(1.0), 11))
                .collect(),
            [0.0, 0.0, 0.25, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
                .map(Some)
                .into_iter()
                .chain([None])
                .collect(),
        ])
        .unwrap()
        .with_cluster_labels(vec!["A".into(), "Longer".into()])
        .unwrap();
        let d = RolloutDiagram::new("Design", "period", design);
        let text = d.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Design");
        assert_eq!(lines[1], "                          1 1 1");
        assert_eq!(lines[2], "        1 2 3 4 5 6 7 8 9 0 1 2");
        assert_eq!(lines[3], "A       . # # # # # # # # # # #");
        assert_eq!(lines[4], "Longer  . . + # # # # # # # # -");
        assert!(lines[5].starts_with("Columns: period."));
        assert_eq!(d.share("Longer", "3"), Some(0.25));
        assert_eq!(d.share("Longer", "12"), None);
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

    #[test]
    fn calendar_periods_from_rollout_dates() {
        let date = |y, m, d| crate::core::dates::Date::from_ymd(y, m, d).unwrap();
        let months = Period::months(date(2023, 9, 3), date(2024, 1, 31)).unwrap();
        let design = Design::from_rollout_dates(
            &[("A".into(), Some(date(2023, 9, 15))), ("B".into(), None)],
            months,
        )
        .unwrap();
        let d = RolloutDiagram::new("Rollout", "Month", design);
        assert!((d.share("A", "2023-09").unwrap() - 16.0 / 30.0).abs() < 1e-15);
        assert!(rollout_diagram(&d).unwrap().contains("2024-01"));
    }
}
