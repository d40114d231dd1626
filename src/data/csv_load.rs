//! Reading a [`Cohort`] from CSV.
//!
//! The file is read into memory once and parsed with `csv`'s reusable byte records, so no cell
//! is copied into a `String`: numbers are parsed from the trimmed bytes, and a categorical label
//! is allocated only the first time it is seen. Column types are inferred in the same pass: a
//! column starts out numeric and turns categorical at its first cell that is neither missing nor
//! a number; the rows before that cell are then read again for that column only.

use std::io::Read;
use std::path::Path;

use csv::ByteRecord;

use super::levels::{InternError, LevelInterner};
use super::{Cohort, Column, ColumnType, LoadOptions, MISSING_CODE};
use crate::error::{Error, Result};

/// The name used in error messages for in-memory data.
const MEMORY: &str = "<memory>";

impl Cohort {
    /// Reads a cohort from the CSV file at `path` (see [`LoadOptions`] for types and missing
    /// values). The first line is the header.
    pub fn from_csv_path(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Cohort> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            file: file.clone(),
            source,
        })?;
        parse(&bytes, &file, opts)
    }

    /// Reads a cohort from CSV text coming from `reader`; `name_for_errors` stands for the file
    /// in error messages.
    pub fn from_csv_reader(
        mut reader: impl Read,
        name_for_errors: &str,
        opts: &LoadOptions,
    ) -> Result<Cohort> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map_err(|source| Error::Io {
            file: name_for_errors.to_string(),
            source,
        })?;
        parse(&bytes, name_for_errors, opts)
    }

    /// Reads a cohort from CSV text in memory (errors name the file `<memory>`).
    pub fn from_csv_str(text: &str, opts: &LoadOptions) -> Result<Cohort> {
        parse(text.as_bytes(), MEMORY, opts)
    }
}

/// Where an error happened, for messages.
struct Context<'a> {
    file: &'a str,
    names: &'a [String],
}

impl Context<'_> {
    /// An [`Error::Csv`] at `line` in column number `col` (0-based).
    fn error(&self, line: u64, col: usize, message: impl Into<String>) -> Error {
        let column = self
            .names
            .get(col)
            .cloned()
            .unwrap_or_else(|| format!("#{}", col + 1));
        Error::Csv {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    /// An [`Error::Csv`] for an error of the `csv` parser itself.
    fn parser_error(&self, e: &csv::Error) -> Error {
        let line = e.position().map_or(0, csv::Position::line);
        self.error(line, self.names.len(), e.to_string())
    }
}

/// Parses a whole CSV file held in `bytes`.
fn parse(bytes: &[u8], file: &str, opts: &LoadOptions) -> Result<Cohort> {
    let d = opts.delimiter_byte();
    if matches!(d, b'"' | b'\n' | b'\r') {
        return Err(Error::invalid(
            "delimiter",
            format!("{:?} cannot be a field delimiter", char::from(d)),
        ));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = record_reader(bytes, opts);
    let mut record = ByteRecord::new();
    let names = read_header(&mut reader, &mut record, file)?;
    let ctx = Context {
        file,
        names: &names,
    };
    let mut builders = start_builders(&names, opts)?;

    let mut row = 0usize;
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| ctx.parser_error(&e))?
    {
        let line = line_of(&record);
        check_length(&record, &ctx, line)?;
        for (col, (builder, cell)) in builders.iter_mut().zip(record.iter()).enumerate() {
            let cell = cell.trim_ascii();
            builder
                .push(row, line, cell, opts)
                .map_err(|m| ctx.error(line, col, m))?;
        }
        row += 1;
    }
    rescan(bytes, opts, &mut builders, &ctx)?;

    let columns = builders
        .into_iter()
        .enumerate()
        .map(|(col, b)| b.finish(&ctx, col))
        .collect::<Result<Vec<_>>>()?;
    Cohort::from_columns(names.into_iter().zip(columns).collect())
}

/// A `csv` reader over `bytes` that returns every record, the header included, and leaves
/// length checks and trimming to us.
fn record_reader<'a>(bytes: &'a [u8], opts: &LoadOptions) -> csv::Reader<&'a [u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(opts.delimiter_byte())
        .from_reader(bytes)
}

/// The 1-based line where `record` starts.
fn line_of(record: &ByteRecord) -> u64 {
    record.position().map_or(0, csv::Position::line)
}

/// Reads the header record and checks its names: present, UTF-8, non-empty, distinct.
fn read_header(
    reader: &mut csv::Reader<&[u8]>,
    record: &mut ByteRecord,
    file: &str,
) -> Result<Vec<String>> {
    let none = Context { file, names: &[] };
    if !reader
        .read_byte_record(record)
        .map_err(|e| none.parser_error(&e))?
    {
        return Err(none.error(1, 0, "the file is empty; a header line is needed"));
    }
    let line = line_of(record);
    let mut names: Vec<String> = Vec::with_capacity(record.len());
    for (col, cell) in record.iter().enumerate() {
        let name = std::str::from_utf8(cell.trim_ascii())
            .map_err(|_| none.error(line, col, "the column name is not valid UTF-8"))?;
        if name.is_empty() {
            return Err(none.error(line, col, "the column name is empty"));
        }
        if let Some(first) = names.iter().position(|n| n == name) {
            return Err(none.error(
                line,
                col,
                format!(
                    "column name '{name}' appears twice (columns {} and {})",
                    first + 1,
                    col + 1
                ),
            ));
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// Checks that a data record has one field per column.
fn check_length(record: &ByteRecord, ctx: &Context, line: u64) -> Result<()> {
    let (found, wanted) = (record.len(), ctx.names.len());
    if found == wanted {
        return Ok(());
    }
    Err(ctx.error(
        line,
        found.min(wanted),
        format!("the record has {found} field(s), the header has {wanted}"),
    ))
}

/// One builder per column, typed as forced by `opts` or starting out inferred.
fn start_builders(names: &[String], opts: &LoadOptions) -> Result<Vec<Builder>> {
    if let Some((unknown, _)) = opts.column_types().iter().find(|(n, _)| !names.contains(n)) {
        return Err(Error::unknown_column(
            unknown,
            names.iter().map(String::as_str),
        ));
    }
    Ok(names
        .iter()
        .map(|n| match opts.forced_type(n) {
            None => Builder::numbers(Rule::Inferred),
            Some(ColumnType::Numeric) => Builder::numbers(Rule::Numeric),
            Some(ColumnType::Binary) => Builder::numbers(Rule::Binary),
            Some(ColumnType::Categorical) => Builder::labels(Vec::new(), 0),
        })
        .collect())
}

/// Reads again, for the columns that turned categorical part-way, the rows before the turn.
fn rescan(bytes: &[u8], opts: &LoadOptions, builders: &mut [Builder], ctx: &Context) -> Result<()> {
    let rows = builders.iter().map(Builder::rescan_rows).max().unwrap_or(0);
    if rows == 0 {
        return Ok(());
    }
    let mut reader = record_reader(bytes, opts);
    let mut record = ByteRecord::new();
    // The header was read successfully before.
    reader
        .read_byte_record(&mut record)
        .map_err(|e| ctx.parser_error(&e))?;
    for row in 0..rows {
        if !reader
            .read_byte_record(&mut record)
            .map_err(|e| ctx.parser_error(&e))?
        {
            break;
        }
        let line = line_of(&record);
        for (col, (builder, cell)) in builders.iter_mut().zip(record.iter()).enumerate() {
            if row < builder.rescan_rows() {
                builder
                    .fill(row, cell.trim_ascii(), opts)
                    .map_err(|m| ctx.error(line, col, m))?;
            }
        }
    }
    Ok(())
}

/// How strictly a numeric column treats a cell that is not a finite number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// The type is inferred: text turns the column categorical.
    Inferred,
    /// Forced numeric: text is an error.
    Numeric,
    /// Forced 0/1: anything else is an error.
    Binary,
}

/// A cell that parsed as NaN or infinity in an inferred column: an error if the column stays
/// numeric, an ordinary label if it turns categorical.
#[derive(Debug)]
struct NonFinite {
    line: u64,
    message: String,
}

/// A column being read.
#[derive(Debug)]
enum Builder {
    Numbers {
        values: Vec<f64>,
        rule: Rule,
        non_finite: Option<NonFinite>,
    },
    Labels {
        codes: Vec<u32>,
        interner: LevelInterner,
        /// Rows `0..rescan_rows` were read as numbers and still need their labels.
        rescan_rows: usize,
    },
}

impl Builder {
    fn numbers(rule: Rule) -> Self {
        Builder::Numbers {
            values: Vec::new(),
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

    fn rescan_rows(&self) -> usize {
        match self {
            Builder::Labels { rescan_rows, .. } => *rescan_rows,
            Builder::Numbers { .. } => 0,
        }
    }

    /// Adds the trimmed `cell` of data row `row` (0-based), which starts at `line`. The error is
    /// the message for [`Error::Csv`].
    fn push(
        &mut self,
        row: usize,
        line: u64,
        cell: &[u8],
        opts: &LoadOptions,
    ) -> std::result::Result<(), String> {
        let missing = opts.is_missing(cell);
        match self {
            Builder::Labels {
                codes, interner, ..
            } => {
                codes.push(label_code(interner, cell, missing)?);
                Ok(())
            }
            Builder::Numbers {
                values,
                rule,
                non_finite,
            } => {
                if missing {
                    values.push(f64::NAN);
                    return Ok(());
                }
                match parse_number(cell) {
                    Some(x) if x.is_finite() => {
                        if *rule == Rule::Binary && x != 0.0 && x != 1.0 {
                            return Err(format!(
                                "'{}' is not 0 or 1 (the column is set to Binary)",
                                show(cell)
                            ));
                        }
                        values.push(x);
                        Ok(())
                    }
                    Some(x) => {
                        let message = non_finite_message(cell, x);
                        if *rule != Rule::Inferred {
                            return Err(message);
                        }
                        non_finite.get_or_insert(NonFinite { line, message });
                        values.push(f64::NAN);
                        Ok(())
                    }
                    None if *rule == Rule::Inferred => {
                        *self = Builder::labels(vec![MISSING_CODE; row], row);
                        self.push(row, line, cell, opts)
                    }
                    None => Err(format!(
                        "'{}' is not a number (the column is set to {})",
                        show(cell),
                        if *rule == Rule::Binary {
                            "Binary"
                        } else {
                            "Numeric"
                        }
                    )),
                }
            }
        }
    }

    /// Sets the label of a row read as a number before the column turned categorical.
    fn fill(
        &mut self,
        row: usize,
        cell: &[u8],
        opts: &LoadOptions,
    ) -> std::result::Result<(), String> {
        if let Builder::Labels {
            codes, interner, ..
        } = self
        {
            let code = label_code(interner, cell, opts.is_missing(cell))?;
            if let Some(slot) = codes.get_mut(row) {
                *slot = code;
            }
        }
        Ok(())
    }

    /// The finished column; an inferred numeric column with a NaN or infinite cell is an error.
    fn finish(self, ctx: &Context, col: usize) -> Result<Column> {
        match self {
            Builder::Numbers {
                non_finite: Some(bad),
                ..
            } => Err(ctx.error(bad.line, col, bad.message)),
            Builder::Numbers { values, .. } => Ok(Column::Numeric(values)),
            Builder::Labels {
                codes, interner, ..
            } => {
                let (codes, levels) = interner.into_sorted(codes);
                Ok(Column::Categorical { codes, levels })
            }
        }
    }
}

/// The code of a label cell.
fn label_code(
    interner: &mut LevelInterner,
    cell: &[u8],
    missing: bool,
) -> std::result::Result<u32, String> {
    if missing {
        return Ok(MISSING_CODE);
    }
    interner.code(cell).map_err(|e| match e {
        InternError::NotUtf8 => format!("'{}' is not valid UTF-8 text", show(cell)),
        InternError::TooManyLevels => "the column has too many distinct labels".to_string(),
    })
}

/// The number written in `cell`, if it is one (Rust's float syntax: `1`, `-2.5`, `1e-3`, `.5`,
/// and also `inf` and `NaN`, which the caller rejects).
fn parse_number(cell: &[u8]) -> Option<f64> {
    std::str::from_utf8(cell).ok()?.parse().ok()
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
