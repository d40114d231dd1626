//! One column being read from CSV: numbers until its first cell of text, labels from then on.

use csv::ByteRecord;

use super::levels::{InternError, LevelInterner};
use super::number::{parse_decimal_comma, parse_number};
use super::{Column, ColumnType, LoadOptions, MISSING_CODE};

/// How strictly a numeric column treats a cell that is not a finite number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// The type is inferred: text turns the column categorical.
    Inferred,
    /// Forced numeric: text is an error.
    Numeric,
    /// Forced 0/1: anything else is an error.
    Binary,
}

/// A cell that parsed as NaN or infinity in an inferred column: an error if the column stays
/// numeric, an ordinary label if it turns categorical.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NonFinite {
    /// The 1-based line of the cell, counted from the start of the bytes being parsed.
    pub(crate) line: u64,
    /// The error message.
    pub(crate) message: String,
}

/// A column (or the part of a column in one chunk of the file) being read. Errors are messages
/// for [`crate::core::error::Error::Csv`]; the caller adds file, line and column.
#[derive(Debug)]
pub(crate) enum Builder {
    /// Every cell so far was missing or a number.
    Numbers {
        values: Vec<f64>,
        rule: Rule,
        non_finite: Option<NonFinite>,
    },
    /// The column is categorical.
    Labels {
        codes: Vec<u32>,
        interner: LevelInterner,
        /// Rows `0..rescan_rows` have no code yet: they were read as numbers before the column
        /// turned out to be categorical, and [`Builder::fill`] must give them their labels.
        rescan_rows: usize,
    },
}

impl Builder {
    /// An empty builder for a column of type `forced` (`None` = inferred), with room for
    /// `capacity` rows.
    pub(crate) fn new(forced: Option<ColumnType>, capacity: usize) -> Self {
        let rule = match forced {
            Some(ColumnType::Categorical) => {
                return Builder::labels(Vec::with_capacity(capacity), 0)
            }
            Some(ColumnType::Numeric) => Rule::Numeric,
            Some(ColumnType::Binary) => Rule::Binary,
            None => Rule::Inferred,
        };
        Builder::Numbers {
            values: Vec::with_capacity(capacity),
            rule,
            non_finite: None,
        }
    }

    fn labels(codes: Vec<u32>, rescan_rows: usize) -> Self {
        Builder::Labels {
            codes,
            interner: LevelInterner::default(),
            rescan_rows,
        }
    }

    /// Whether the column has turned categorical.
    pub(crate) fn is_labels(&self) -> bool {
        matches!(self, Builder::Labels { .. })
    }

    /// Rows still waiting for their labels (see [`Builder::fill`]).
    pub(crate) fn rescan_rows(&self) -> usize {
        match self {
            Builder::Labels { rescan_rows, .. } => *rescan_rows,
            Builder::Numbers { .. } => 0,
        }
    }

    /// Turns a column read as numbers into a categorical column whose labels all have to be
    /// read again (the column turned categorical in another part of the file).
    pub(crate) fn relabel_all(&mut self) {
        if let Builder::Numbers { values, .. } = self {
            *self = Builder::labels(vec![MISSING_CODE; values.len()], values.len());
        }
    }

    /// Adds column `col` of `records`, the rows from `first_row` (0-based) on, cells trimmed.
    /// The error names the index in `records` of the first bad cell.
    pub(crate) fn push_batch(
        &mut self,
        first_row: usize,
        records: &[ByteRecord],
        col: usize,
        opts: &LoadOptions,
    ) -> Result<(), (usize, String)> {
        let cells = records
            .iter()
            .map(|r| r.get(col).unwrap_or_default().trim_ascii());
        match self {
            Builder::Labels {
                codes, interner, ..
            } => {
                for (i, cell) in cells.enumerate() {
                    codes.push(label_code(interner, cell, opts).map_err(|m| (i, m))?);
                }
                Ok(())
            }
            Builder::Numbers {
                values,
                rule,
                non_finite,
            } => {
                for (i, cell) in cells.enumerate() {
                    match number_cell(cell, *rule, opts).map_err(|m| (i, m))? {
                        NumberCell::Value(x) => values.push(x),
                        NumberCell::NonFinite(message) => {
                            let line = records[i].position().map_or(0, |p| p.line());
                            non_finite.get_or_insert(NonFinite { line, message });
                            values.push(f64::NAN);
                        }
                        NumberCell::Text => {
                            // The column is categorical; the rows so far get labels later.
                            let row = first_row + i;
                            let mut codes = Vec::with_capacity(values.capacity());
                            codes.resize(row, MISSING_CODE);
                            *self = Builder::labels(codes, row);
                            return self
                                .push_batch(row, &records[i..], col, opts)
                                .map_err(|(j, m)| (i + j, m));
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Gives row `row` (one of the first [`Builder::rescan_rows`]) the label in `cell`.
    pub(crate) fn fill(
        &mut self,
        row: usize,
        cell: &[u8],
        opts: &LoadOptions,
    ) -> Result<(), String> {
        if let Builder::Labels {
            codes, interner, ..
        } = self
        {
            let code = label_code(interner, cell, opts)?;
            if let Some(slot) = codes.get_mut(row) {
                *slot = code;
            }
        }
        Ok(())
    }

    /// The column read so far: numbers, or codes (in first-seen order) with their interner.
    /// An inferred numeric column with a NaN or infinite cell gives that cell's error.
    pub(crate) fn finish(self) -> Result<Part, NonFinite> {
        match self {
            Builder::Numbers {
                non_finite: Some(bad),
                ..
            } => Err(bad),
            Builder::Numbers { values, .. } => Ok(Part::Numbers(values)),
            Builder::Labels {
                codes, interner, ..
            } => Ok(Part::Labels(interner, codes)),
        }
    }
}

/// A finished builder (see [`Builder::finish`]).
#[derive(Debug)]
pub(crate) enum Part {
    /// Numeric values.
    Numbers(Vec<f64>),
    /// Codes in first-seen order and the labels they stand for.
    Labels(LevelInterner, Vec<u32>),
}

impl Part {
    /// The column of one or more parts read in file order: numeric if all parts are, otherwise
    /// categorical (numeric parts are then ignored: the caller relabels them first).
    pub(crate) fn concat(mut parts: Vec<Part>) -> Result<Column, String> {
        if parts.iter().all(|p| matches!(p, Part::Numbers(_))) {
            let rows = parts.iter().map(Part::len).sum();
            let mut numbers = Vec::with_capacity(if parts.len() == 1 { 0 } else { rows });
            for part in parts {
                if let Part::Numbers(v) = part {
                    if numbers.capacity() == 0 {
                        numbers = v;
                    } else {
                        numbers.extend_from_slice(&v);
                    }
                }
            }
            return Ok(Column::Numeric(numbers));
        }
        let labels = parts
            .drain(..)
            .filter_map(|p| match p {
                Part::Labels(interner, codes) => Some((interner, codes)),
                Part::Numbers(_) => None,
            })
            .collect();
        let (codes, levels) = LevelInterner::concat(labels).map_err(intern_message)?;
        Ok(Column::Categorical { codes, levels })
    }

    /// Number of rows.
    fn len(&self) -> usize {
        match self {
            Part::Numbers(v) => v.len(),
            Part::Labels(_, codes) => codes.len(),
        }
    }
}

/// What a cell of a numeric column holds.
pub(crate) enum NumberCell {
    /// A finite number, or NaN for a missing cell.
    Value(f64),
    /// NaN or infinity written out, with its error message.
    NonFinite(String),
    /// Text: the column is not numeric.
    Text,
}

/// Reads the trimmed `cell` of a numeric column. Under a forced rule, what the rule does not
/// allow (text, NaN or infinity, and for `Binary` numbers other than 0 and 1) is an error.
#[inline]
pub(crate) fn number_cell(
    cell: &[u8],
    rule: Rule,
    opts: &LoadOptions,
) -> Result<NumberCell, String> {
    if opts.is_missing(cell) {
        return Ok(NumberCell::Value(f64::NAN));
    }
    match number_in(cell, opts) {
        Some(x) if x.is_finite() => {
            if rule == Rule::Binary && x != 0.0 && x != 1.0 {
                return Err(format!(
                    "'{}' is not 0 or 1 (the column is set to Binary)",
                    show(cell)
                ));
            }
            Ok(NumberCell::Value(x))
        }
        Some(x) if rule == Rule::Inferred => Ok(NumberCell::NonFinite(non_finite_message(cell, x))),
        Some(x) => Err(non_finite_message(cell, x)),
        None if rule == Rule::Inferred => Ok(NumberCell::Text),
        None => Err(format!(
            "'{}' is not a number (the column is set to {rule:?})",
            show(cell)
        )),
    }
}

/// The number written in `cell` under the decimal mark of `opts` (a format already fixed).
pub(crate) fn number_in(cell: &[u8], opts: &LoadOptions) -> Option<f64> {
    if opts.reads_decimal_commas() {
        parse_decimal_comma(cell)
    } else {
        parse_number(cell)
    }
}

/// The code of a label cell ([`MISSING_CODE`] if it is a missing-value string).
pub(crate) fn label_code(
    interner: &mut LevelInterner,
    cell: &[u8],
    opts: &LoadOptions,
) -> Result<u32, String> {
    if opts.is_missing(cell) {
        return Ok(MISSING_CODE);
    }
    interner.code(cell).map_err(|e| match e {
        InternError::NotUtf8 => format!("'{}' is not valid UTF-8 text", show(cell)),
        e => intern_message(e),
    })
}

/// The message for a failure to intern a label.
fn intern_message(e: InternError) -> String {
    match e {
        InternError::NotUtf8 => "a label is not valid UTF-8 text".to_string(),
        InternError::TooManyLevels => "the column has too many distinct labels".to_string(),
    }
}

/// The message for a cell that parsed as NaN or infinity.
fn non_finite_message(cell: &[u8], x: f64) -> String {
    if x.is_nan() {
        format!(
            "'{}' is not a number; if it marks a missing value, add it to \
             LoadOptions::missing_values",
            show(cell)
        )
    } else {
        format!("'{}' is not a finite number", show(cell))
    }
}

/// The cell's text for a message.
fn show(cell: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(cell)
}
