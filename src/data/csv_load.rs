//! Reading a [`Cohort`] from CSV.
//!
//! The file is read into memory once and parsed with `csv`'s reusable byte records, so no cell
//! is copied into a `String`: numbers are parsed from the trimmed bytes, and a categorical label
//! is allocated only the first time it is seen. Records are read in batches, and each column then
//! runs through a batch in one tight loop. Column types are inferred in the same pass: a
//! column starts out numeric and turns categorical at its first cell that is neither missing nor
//! a number; the rows before that cell are then read again for that column only.
//!
//! A large file without any `"` is split at line ends into chunks that are read in parallel
//! (without quotes every line end ends a record) and joined column by column; a file with
//! quotes is read in one piece.

use std::io::Read;
use std::path::Path;

use csv::ByteRecord;
use rayon::prelude::*;

use super::chunks::{count_line_ends, read_file, split, Chunk};
use super::column_builder::{number_in, Builder, Part};
use super::{Cohort, Column, ColumnType, LoadOptions, MISSING_CODE};
use crate::core::error::{Error, Result};

/// The name used in error messages for in-memory data.
const MEMORY: &str = "<memory>";

impl Cohort {
    /// Reads a cohort from the CSV file at `path` (see [`LoadOptions`] for types and missing
    /// values). The first line is the header.
    pub fn from_csv_path(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Cohort> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let bytes = read_file(path).map_err(|source| Error::Io {
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

/// The file, its bytes and column names, for error messages.
struct Context<'a> {
    file: &'a str,
    bytes: &'a [u8],
    names: &'a [String],
}

impl Context<'_> {
    /// The line in the file of line `local` (1-based) of the chunk starting at byte `offset`.
    /// Counted only for error messages.
    fn line(&self, offset: usize, local: u64) -> u64 {
        let before = self.bytes.get(..offset).unwrap_or(self.bytes);
        count_line_ends(before) as u64 + local
    }

    /// An [`Error::Csv`] at `line` in column number `col` (0-based).
    fn error(&self, line: u64, col: usize, message: impl Into<String>) -> Error {
        Error::Csv {
            file: self.file.to_string(),
            line,
            column: column_label(self.names, col),
            message: message.into(),
        }
    }

    /// An [`Error::Csv`] for an error of the `csv` parser in the chunk starting at `offset`.
    fn parser_error(&self, e: &csv::Error, offset: usize) -> Error {
        let line = e.position().map_or(0, |p| self.line(offset, p.line()));
        self.error(line, self.names.len(), e.to_string())
    }
}

/// Parses a whole CSV file held in `bytes`.
fn parse(bytes: &[u8], file: &str, opts: &LoadOptions) -> Result<Cohort> {
    parse_in_chunks(bytes, file, opts, rayon::current_num_threads())
}

/// Parses a whole CSV file held in `bytes`, in chunks for `threads` threads where possible.
fn parse_in_chunks(bytes: &[u8], file: &str, opts: &LoadOptions, threads: usize) -> Result<Cohort> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let opts = &fixed_format(bytes, opts)?;
    let (names, body_start) = read_header(bytes, file, opts)?;
    let ctx = Context {
        file,
        bytes,
        names: &names,
    };
    let forced = forced_types(&names, opts)?;
    let mut chunks = split(bytes, body_start, threads);
    // A quoted field may hold a line end, so a file with quotes is read in one piece.
    if chunks.len() > 1 && chunks.par_iter().any(|c| c.bytes.contains(&b'"')) {
        chunks = split(bytes, body_start, 1);
    }

    let mut parts = first_error(
        chunks
            .par_iter()
            .map(|chunk| read_chunk(chunk, &ctx, &forced, opts))
            .collect(),
    )?;
    // A column that is categorical in one chunk is categorical in all.
    for col in 0..names.len() {
        if parts.iter().any(|p| p[col].is_labels()) {
            parts.iter_mut().for_each(|p| p[col].relabel_all());
        }
    }
    first_error(
        chunks
            .par_iter()
            .zip(parts.par_iter_mut())
            .map(|(chunk, builders)| rescan(chunk, builders, &ctx, opts))
            .collect(),
    )?;

    let mut by_column: Vec<Vec<Builder>> = names.iter().map(|_| Vec::new()).collect();
    for builders in parts {
        for (col, b) in builders.into_iter().enumerate() {
            by_column[col].push(b);
        }
    }
    let columns = first_error(
        by_column
            .into_par_iter()
            .enumerate()
            .map(|(col, builders)| join(builders, &chunks, &ctx, col))
            .collect(),
    )?;
    check_text_in_numbers(&columns, &forced, &ctx, opts)?;
    Cohort::from_columns(names.into_iter().zip(columns).collect())
}

/// The options with the format of the file starting with `bytes` fixed (given or detected,
/// see [`LoadOptions::format_of`]); a delimiter that cannot be one is an error.
pub(super) fn fixed_format(bytes: &[u8], opts: &LoadOptions) -> Result<LoadOptions> {
    let format = opts.format_of(bytes);
    let d = format.delimiter;
    if matches!(d, b'"' | b'\n' | b'\r') {
        return Err(Error::invalid(
            "delimiter",
            format!("{:?} cannot be a field delimiter", char::from(d)),
        ));
    }
    if format.decimal_comma && d == b',' {
        return Err(Error::invalid(
            "decimal_comma",
            "decimal commas need a field delimiter other than ',' (such as ';')",
        ));
    }
    Ok(opts.with_format(format))
}

/// The name of column number `col` (0-based) in error messages: its name, or `#k` past the
/// header's columns.
pub(super) fn column_label(names: &[String], col: usize) -> String {
    names
        .get(col)
        .cloned()
        .unwrap_or_else(|| format!("#{}", col + 1))
}

/// A column with at most this many text cells among numbers (or 1% of its cells if that is
/// more) is an [`Error::TextInNumbers`] rather than a factor.
const STRAY_TEXT_CELLS: usize = 10;

/// Cells listed in an [`Error::TextInNumbers`].
const STRAY_CELLS_LISTED: usize = 10;

/// Refuses a column whose type was inferred as categorical only because of a few cells of text
/// among numbers (more numbers than text, and at most [`STRAY_TEXT_CELLS`] or 1% of the
/// non-missing cells text): the error names the first of those cells.
fn check_text_in_numbers(
    columns: &[Column],
    forced: &[Option<ColumnType>],
    ctx: &Context,
    opts: &LoadOptions,
) -> Result<()> {
    for (col, column) in columns.iter().enumerate() {
        let (None, Column::Categorical { codes, levels }) = (forced[col], column) else {
            continue;
        };
        check_decimal_mark(levels, col, ctx, opts)?;
        let numeric: Vec<bool> = levels
            .iter()
            .map(|l| number_in(l.as_bytes(), opts).is_some_and(f64::is_finite))
            .collect();
        let (mut numbers, mut text) = (0, 0);
        for &c in codes.iter().filter(|&&c| c != MISSING_CODE) {
            if numeric[c as usize] {
                numbers += 1;
            } else {
                text += 1;
            }
        }
        if text > 0 && numbers > text && text <= STRAY_TEXT_CELLS.max((numbers + text) / 100) {
            return Err(Error::TextInNumbers {
                file: ctx.file.to_string(),
                column: ctx.names[col].clone(),
                cells: text_cells(ctx, col, opts)?,
                count: text,
                total: numbers + text,
            });
        }
    }
    Ok(())
}

/// Refuses a column of text whose every label is a number written with the other decimal mark
/// (`87,5` read with decimal points, `87.5` read with decimal commas): the error names the first
/// such cell and the option to set.
fn check_decimal_mark(
    levels: &[String],
    col: usize,
    ctx: &Context,
    opts: &LoadOptions,
) -> Result<()> {
    let comma = !opts.reads_decimal_commas();
    if comma && opts.fixed_delimiter() == b',' {
        return Ok(());
    }
    let other = opts.clone().decimal_comma(comma);
    let all = levels
        .iter()
        .all(|l| number_in(l.as_bytes(), &other).is_some_and(f64::is_finite));
    if !all {
        return Ok(());
    }
    let (line, cell) = text_cells(ctx, col, opts)?.swap_remove(0);
    let (mark, option) = if comma {
        (
            "commas",
            "--decimal-comma, LoadOptions::decimal_comma(true)",
        )
    } else {
        (
            "points",
            "--decimal-comma=false, LoadOptions::decimal_comma(false)",
        )
    };
    Err(ctx.error(
        line,
        col,
        format!(
            "'{cell}': the column's cells are numbers with decimal {mark}, which are not read \
             as numbers unless asked for ({option})"
        ),
    ))
}

/// The first [`STRAY_CELLS_LISTED`] cells of column `col` that are neither missing nor numbers:
/// their lines in the file and their text.
fn text_cells(ctx: &Context, col: usize, opts: &LoadOptions) -> Result<Vec<(u64, String)>> {
    let mut reader = record_reader(ctx.bytes, opts);
    let mut record = ByteRecord::new();
    let mut cells = Vec::new();
    let mut header = true;
    while cells.len() < STRAY_CELLS_LISTED
        && reader
            .read_byte_record(&mut record)
            .map_err(|e| ctx.parser_error(&e, 0))?
    {
        let cell = record.get(col).unwrap_or_default().trim_ascii();
        if !std::mem::take(&mut header)
            && !opts.is_missing(cell)
            && number_in(cell, opts).is_none_or(|x| !x.is_finite())
        {
            cells.push((line_of(&record), String::from_utf8_lossy(cell).into_owned()));
        }
    }
    Ok(cells)
}

/// The first error of results in file order, or all the values.
fn first_error<T>(results: Vec<Result<T>>) -> Result<Vec<T>> {
    results.into_iter().collect()
}

/// A `csv` reader over `bytes` that returns every record, the header included, and leaves
/// length checks and trimming to us.
fn record_reader<'a>(bytes: &'a [u8], opts: &LoadOptions) -> csv::Reader<&'a [u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(opts.fixed_delimiter())
        .from_reader(bytes)
}

/// The 1-based line where `record` starts, counted from the start of the bytes being parsed.
fn line_of(record: &ByteRecord) -> u64 {
    record.position().map_or(1, csv::Position::line)
}

/// Reads the header record and checks its names: present, UTF-8, non-empty, distinct. Returns
/// the names and the offset of the first byte after the header.
pub(super) fn read_header(
    bytes: &[u8],
    file: &str,
    opts: &LoadOptions,
) -> Result<(Vec<String>, usize)> {
    let none = Context {
        file,
        bytes,
        names: &[],
    };
    let mut reader = record_reader(bytes, opts);
    let mut record = ByteRecord::new();
    if !reader
        .read_byte_record(&mut record)
        .map_err(|e| none.parser_error(&e, 0))?
    {
        return Err(none.error(1, 0, "the file is empty; a header line is needed"));
    }
    let line = line_of(&record);
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
    let end = usize::try_from(reader.position().byte()).unwrap_or(bytes.len());
    Ok((names, end.min(bytes.len())))
}

/// The type forced for each column; an option naming no column is an error.
fn forced_types(names: &[String], opts: &LoadOptions) -> Result<Vec<Option<ColumnType>>> {
    if let Some((unknown, _)) = opts.column_types().iter().find(|(n, _)| !names.contains(n)) {
        return Err(Error::unknown_column(
            unknown,
            names.iter().map(String::as_str),
        ));
    }
    Ok(names.iter().map(|n| opts.forced_type(n)).collect())
}

/// Records read at a time: each column then runs through a batch in one loop.
const BATCH: usize = 256;

/// Reads every record of a chunk into one builder per column.
fn read_chunk(
    chunk: &Chunk,
    ctx: &Context,
    forced: &[Option<ColumnType>],
    opts: &LoadOptions,
) -> Result<Vec<Builder>> {
    let mut builders: Vec<Builder> = forced
        .iter()
        .map(|&f| Builder::new(f, chunk.rows_hint))
        .collect();
    let mut reader = record_reader(chunk.bytes, opts);
    let mut batch: Vec<ByteRecord> = (0..BATCH).map(|_| ByteRecord::new()).collect();
    let mut first_row = 0;
    loop {
        let mut filled = 0;
        for record in batch.iter_mut() {
            if !reader
                .read_byte_record(record)
                .map_err(|e| ctx.parser_error(&e, chunk.offset))?
            {
                break;
            }
            check_length(record, ctx, chunk.offset)?;
            filled += 1;
        }
        let records = &batch[..filled];
        // Every column stops at its first bad cell; the first of those in the file is reported.
        let mut first_bad: Option<(usize, usize, String)> = None;
        for (col, builder) in builders.iter_mut().enumerate() {
            if let Err((i, message)) = builder.push_batch(first_row, records, col, opts) {
                if first_bad.as_ref().is_none_or(|(j, _, _)| i < *j) {
                    first_bad = Some((i, col, message));
                }
            }
        }
        if let Some((i, col, message)) = first_bad {
            let line = ctx.line(chunk.offset, line_of(&records[i]));
            return Err(ctx.error(line, col, message));
        }
        first_row += filled;
        if filled < BATCH {
            return Ok(builders);
        }
    }
}

/// Checks that a data record (of the chunk starting at `offset`) has one field per column.
fn check_length(record: &ByteRecord, ctx: &Context, offset: usize) -> Result<()> {
    let (found, wanted) = (record.len(), ctx.names.len());
    if found == wanted {
        return Ok(());
    }
    Err(ctx.error(
        ctx.line(offset, line_of(record)),
        found.min(wanted),
        format!("the record has {found} field(s), the header has {wanted}"),
    ))
}

/// Reads a chunk again for the columns that turned categorical after their first rows, giving
/// those rows their labels.
fn rescan(
    chunk: &Chunk,
    builders: &mut [Builder],
    ctx: &Context,
    opts: &LoadOptions,
) -> Result<()> {
    let rows = builders.iter().map(Builder::rescan_rows).max().unwrap_or(0);
    let mut reader = record_reader(chunk.bytes, opts);
    let mut record = ByteRecord::new();
    for row in 0..rows {
        if !reader
            .read_byte_record(&mut record)
            .map_err(|e| ctx.parser_error(&e, chunk.offset))?
        {
            break;
        }
        for (col, (builder, cell)) in builders.iter_mut().zip(record.iter()).enumerate() {
            if row < builder.rescan_rows() {
                builder
                    .fill(row, cell.trim_ascii(), opts)
                    .map_err(|m| ctx.error(ctx.line(chunk.offset, line_of(&record)), col, m))?;
            }
        }
    }
    Ok(())
}

/// Column `col` from its builders, one per chunk in file order.
fn join(builders: Vec<Builder>, chunks: &[Chunk], ctx: &Context, col: usize) -> Result<Column> {
    let parts = builders
        .into_iter()
        .zip(chunks)
        .map(|(b, chunk)| {
            b.finish()
                .map_err(|bad| ctx.error(ctx.line(chunk.offset, bad.line), col, bad.message))
        })
        .collect::<Result<Vec<Part>>>()?;
    // The line is unknown once the chunks are joined; only a column with more than u32::MAX
    // labels fails here.
    Part::concat(parts).map_err(|m| ctx.error(0, col, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CSV of about 2 MB: `x` numeric, `g` labels, `late` numeric until its last 2,000 rows,
    /// which hold `last_late`.
    fn big_csv(last_late: &str) -> String {
        let mut text = String::from("x,g,late\n");
        for i in 0..100_000 {
            text.push_str(&format!("{}.5,g{},{}\n", i, i % 7, i % 3));
        }
        for _ in 0..2_000 {
            text.push_str(&format!("1,g1,{last_late}\n"));
        }
        text
    }

    fn load(text: &str, threads: usize) -> Result<Cohort> {
        parse_in_chunks(text.as_bytes(), "big.csv", &LoadOptions::default(), threads)
    }

    #[test]
    fn chunks_give_the_same_cohort_as_one_piece() {
        let text = big_csv("text");
        assert!(split(text.as_bytes(), 9, 4).len() > 1);
        let one = load(&text, 1).unwrap();
        let many = load(&text, 4).unwrap();
        assert!(one.identical(&many));
        assert_eq!(many.n_rows(), 102_000);
        assert_eq!(many.column_type("late").unwrap(), ColumnType::Categorical);
        assert_eq!(many.levels("late").unwrap(), ["0", "1", "2", "text"]);
        assert_eq!(many.column("late").unwrap().label(4), Some("1"));
        assert_eq!(many.levels("g").unwrap().len(), 7);
        assert_eq!(many.numeric("x").unwrap()[99_999], 99_999.5);
    }

    #[test]
    fn errors_in_later_chunks_name_the_file_line() {
        let mut text = big_csv("2");
        // Line 80,002 is data row 80,001.
        text = text.replacen("80000.5,g", "80000.5,inf,g", 1);
        let e = load(&text, 4).unwrap_err();
        assert_eq!(
            e.to_string(),
            "big.csv, line 80002, column '#4': the record has 4 field(s), the header has 3"
        );
        let text = big_csv("inf");
        let e = load(&text, 4).unwrap_err();
        assert_eq!(
            e.to_string(),
            "big.csv, line 100002, column 'late': 'inf' is not a finite number"
        );
    }

    #[test]
    fn a_few_text_cells_among_numbers_are_named_across_chunks() {
        let mut text = big_csv("2");
        text = text.replacen("\n70000.5,g0,1\n", "\n70000.5,g0,N/A\n", 1);
        text.push_str("1,g1,--1\n");
        let e = load(&text, 4).unwrap_err();
        let Error::TextInNumbers {
            file,
            column,
            cells,
            count,
            total,
        } = &e
        else {
            panic!("{e}");
        };
        assert_eq!((file.as_str(), column.as_str()), ("big.csv", "late"));
        assert_eq!(
            cells,
            &[(70_002, "N/A".to_string()), (102_002, "--1".to_string())]
        );
        assert_eq!((*count, *total), (2, 102_001));
        assert!(
            e.to_string()
                .contains("line 70002 'N/A', line 102002 '--1'"),
            "{e}"
        );
    }

    #[test]
    fn quotes_keep_the_file_in_one_piece() {
        let text = big_csv("\"two\nlines\"");
        let c = load(&text, 4).unwrap();
        assert_eq!(c.column("late").unwrap().label(101_999), Some("two\nlines"));
    }

    #[test]
    fn large_files_are_read_whole() {
        let text = big_csv("0");
        let path = std::env::temp_dir().join(format!("stepwedge-read-{}.csv", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        let read = read_file(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read.unwrap(), text.as_bytes());
    }
}
