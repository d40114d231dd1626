//! Options for reading a [`Cohort`] from CSV.

use std::fmt;

use super::{Cohort, ColumnType};
use crate::core::error::{Error, Result};

/// Bytes read from the start of a file to detect its format.
const SNIFF_BYTES: usize = 64 * 1024;

/// The format a CSV file is read in (see [`LoadOptions::format_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvFormat {
    /// The field delimiter.
    pub delimiter: u8,
    /// Whether numbers have decimal commas (`87,5`).
    pub decimal_comma: bool,
    /// Whether the delimiter or the decimal comma was detected rather than set or the default
    /// (`,` and decimal points): the examples say so on stderr.
    pub detected: bool,
}

impl fmt::Display for CsvFormat {
    /// `';'-separated with decimal commas`, for a note on stderr.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let delimiter = match self.delimiter {
            b'\t' => "tab".to_string(),
            d => format!("'{}'", char::from(d)),
        };
        let mark = if self.decimal_comma {
            "decimal commas"
        } else {
            "decimal points"
        };
        write!(f, "{delimiter}-separated with {mark}")
    }
}

/// Whether `cell` is a decimal number written with the decimal mark `mark`: digits (after an
/// optional sign), `mark`, digits.
fn decimal_with(cell: &[u8], mark: u8) -> bool {
    let body = cell.strip_prefix(b"-").unwrap_or(cell);
    let Some(at) = body.iter().position(|&b| b == mark) else {
        return false;
    };
    let (int, frac) = (&body[..at], &body[at + 1..]);
    !frac.is_empty() && int.iter().chain(frac).all(u8::is_ascii_digit)
}

/// Options for reading CSV: which cells are missing, column types forced by the caller, the
/// field delimiter and the decimal mark.
///
/// The format: unless set, the delimiter is detected from the header line (`;` when it has more
/// semicolons than commas, as in CSV written with a Danish locale, otherwise `,`), and with a `;`
/// delimiter numbers are read with decimal commas (`87,5`) unless the first rows hold numbers with
/// a decimal point and none with a decimal comma. [`LoadOptions::format_of`] tells what a file will
/// be read as. With decimal commas a number has at most one `,` and no `.` (as R's `read.csv2`), so
/// `1.234,5` is text, not 1234.5.
///
/// How cells are read (after trimming surrounding whitespace):
/// * a cell whose text is one of the missing-value strings (default `""`, `"NA"`, `"NaN"`) is
///   missing: `NAN` in a numeric column, [`MISSING_CODE`](super::MISSING_CODE) in a categorical
///   one;
/// * a column is numeric when every other cell is a number in Rust's syntax (`12`, `-0.5`, `.5`,
///   `1e-3`); otherwise it is categorical, with every cell's text kept exactly as written (`"01"`
///   stays `"01"`) and levels sorted;
/// * a column whose type is inferred and whose cells are numbers except a few (at most 10, or at
///   most 1% of its non-missing cells if that is more) is an error
///   ([`Error::TextInNumbers`](crate::core::error::Error::TextInNumbers)) naming those cells: they
///   are usually codes for a missing value (`N/A`, `.`) to add to the missing values, or typing
///   errors, and read as text they would silently turn the column into a factor with one level
///   per distinct number. Force the type to `Categorical` where such a column is meant as text;
/// * a cell that spells a non-finite number (`inf`, `-Infinity`, `1e400`, or `nan` when it is not
///   a missing-value string) is an error naming line and column in a numeric column (no NaN or
///   infinity ever enters a cohort unannounced); in a categorical column it is an ordinary label.
///
/// ```
/// use stepwedge::data::{ColumnType, LoadOptions};
/// let opts = LoadOptions::new()
///     .column_type("municipality", ColumnType::Categorical)
///     .missing_values(["", "NA", "-"]);
/// assert_eq!(opts.missing(), ["", "NA", "-"]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    missing: MissingSet,
    types: Vec<(String, ColumnType)>,
    /// The delimiter, or `None` to detect it.
    delimiter: Option<u8>,
    /// Whether numbers have decimal commas, or `None` to detect it.
    decimal_comma: Option<bool>,
}

impl Default for LoadOptions {
    /// Missing values `""`, `"NA"` and `"NaN"`; types inferred; delimiter and decimal mark
    /// detected (see [`LoadOptions`]).
    fn default() -> Self {
        LoadOptions {
            missing: MissingSet::new(vec![String::new(), "NA".into(), "NaN".into()]),
            types: Vec::new(),
            delimiter: None,
            decimal_comma: None,
        }
    }
}

impl LoadOptions {
    /// The default options (see [`LoadOptions::default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Options that force every column of `cohort` to its present type (numeric columns to
    /// `Numeric`, categorical ones to `Categorical`), so that a cohort written with
    /// [`Cohort::write_csv`] reads back identical even when a categorical column's labels all
    /// look like numbers. The format is that of [`Cohort::write_csv`]: `,`-separated with
    /// decimal points.
    pub fn matching(cohort: &Cohort) -> Self {
        let plain = Self::default().delimiter(b',').decimal_comma(false);
        cohort.iter().fold(plain, |opts, (name, col)| {
            let ty = match col.column_type() {
                ColumnType::Categorical => ColumnType::Categorical,
                ColumnType::Numeric | ColumnType::Binary => ColumnType::Numeric,
            };
            opts.column_type(name, ty)
        })
    }

    /// Replaces the list of cell texts read as missing (compared after trimming whitespace, case
    /// sensitive). Default: `""`, `"NA"`, `"NaN"`.
    pub fn missing_values<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.missing = MissingSet::new(
            values
                .into_iter()
                .map(|v| v.into().trim_ascii().to_string())
                .collect(),
        );
        self
    }

    /// Forces column `name` to type `ty` instead of inferring it. `Categorical` keeps every
    /// cell's text (a municipality code "0101" stays "0101"); `Numeric` makes a cell that is not a
    /// number an error; `Binary` makes a cell that is not 0 or 1 an error. A later call for the
    /// same name replaces an earlier one.
    pub fn column_type(mut self, name: &str, ty: ColumnType) -> Self {
        self.types.retain(|(n, _)| n != name);
        self.types.push((name.to_string(), ty));
        self
    }

    /// Sets the field delimiter (by default detected: `b','`, or `b';'` for CSV written with a
    /// Danish locale).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = Some(delimiter);
        self
    }

    /// Sets whether numbers are written with decimal commas (`87,5`; by default detected: yes
    /// with a `;` delimiter unless the first rows have decimal points only). Decimal commas
    /// need a delimiter other than `,`.
    pub fn decimal_comma(mut self, decimal_comma: bool) -> Self {
        self.decimal_comma = Some(decimal_comma);
        self
    }

    /// The cell texts read as missing.
    pub fn missing(&self) -> &[String] {
        &self.missing.texts
    }

    /// The forced column types, in the order they were set.
    pub fn column_types(&self) -> &[(String, ColumnType)] {
        &self.types
    }

    /// The type forced for column `name`, if any.
    pub fn forced_type(&self, name: &str) -> Option<ColumnType> {
        self.types.iter().find(|(n, _)| n == name).map(|(_, t)| *t)
    }

    /// The field delimiter, if set (`None`: detected from each file).
    pub fn delimiter_byte(&self) -> Option<u8> {
        self.delimiter
    }

    /// Whether decimal commas were asked for or refused (`None`: detected from each file).
    pub fn decimal_comma_setting(&self) -> Option<bool> {
        self.decimal_comma
    }

    /// The format a CSV file whose text starts with `bytes` is read in: the delimiter and
    /// decimal mark set, or those detected from the header line and the first rows (see
    /// [`LoadOptions`]).
    ///
    /// ```
    /// use stepwedge::data::LoadOptions;
    /// let danish = LoadOptions::new().format_of(b"id;age\n1;87,5\n");
    /// assert_eq!((danish.delimiter, danish.decimal_comma, danish.detected), (b';', true, true));
    /// let plain = LoadOptions::new().format_of(b"id,age\n1,87.5\n");
    /// assert_eq!((plain.delimiter, plain.decimal_comma, plain.detected), (b',', false, false));
    /// ```
    pub fn format_of(&self, bytes: &[u8]) -> CsvFormat {
        let sample = &bytes[..bytes.len().min(SNIFF_BYTES)];
        let mut lines = sample.split(|&b| b == b'\n');
        let header = lines.next().unwrap_or_default();
        let count = |c: u8| header.iter().filter(|&&b| b == c).count();
        let delimiter = self.delimiter.unwrap_or(if count(b';') > count(b',') {
            b';'
        } else {
            b','
        });
        let decimal_comma = self.decimal_comma.unwrap_or_else(|| {
            delimiter != b',' && {
                let (mut commas, mut points) = (false, false);
                for cell in lines.flat_map(|l| l.split(|&b| b == delimiter)) {
                    let cell = cell.trim_ascii();
                    commas |= decimal_with(cell, b',');
                    points |= decimal_with(cell, b'.');
                }
                commas || !points
            }
        });
        CsvFormat {
            delimiter,
            decimal_comma,
            detected: (self.delimiter.is_none() && delimiter != b',')
                || (self.decimal_comma.is_none() && decimal_comma),
        }
    }

    /// The format the CSV file at `path` is read in (see [`LoadOptions::format_of`]); reads
    /// the start of the file only.
    pub fn format_of_file(&self, path: impl AsRef<std::path::Path>) -> Result<CsvFormat> {
        use std::io::Read;
        let path = path.as_ref();
        let io = |source| Error::Io {
            file: path.display().to_string(),
            source,
        };
        let mut start = Vec::with_capacity(SNIFF_BYTES);
        std::fs::File::open(path)
            .map_err(io)?
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut start)
            .map_err(io)?;
        Ok(self.format_of(&start))
    }

    /// These options with the format fixed to `format`.
    pub(crate) fn with_format(&self, format: CsvFormat) -> LoadOptions {
        let mut opts = self.clone();
        opts.delimiter = Some(format.delimiter);
        opts.decimal_comma = Some(format.decimal_comma);
        opts
    }

    /// The delimiter of options whose format is fixed (`,` if it is not).
    pub(crate) fn fixed_delimiter(&self) -> u8 {
        self.delimiter.unwrap_or(b',')
    }

    /// Whether options whose format is fixed read decimal commas.
    pub(crate) fn reads_decimal_commas(&self) -> bool {
        self.decimal_comma == Some(true)
    }

    /// Whether the (trimmed) cell text is one of the missing-value strings.
    pub(crate) fn is_missing(&self, cell: &[u8]) -> bool {
        self.missing.contains(cell)
    }
}

/// The missing-value strings, with a set of their first bytes so that most cells are told apart
/// from all of them by one lookup.
#[derive(Debug, Clone, PartialEq)]
struct MissingSet {
    texts: Vec<String>,
    /// Bit b is set when some text starts with byte b.
    first_bytes: [u64; 4],
    /// Whether the empty text is listed.
    empty: bool,
}

impl MissingSet {
    fn new(texts: Vec<String>) -> Self {
        let mut first_bytes = [0u64; 4];
        for b in texts.iter().filter_map(|t| t.as_bytes().first()) {
            first_bytes[usize::from(b >> 6)] |= 1 << (b & 63);
        }
        let empty = texts.iter().any(String::is_empty);
        MissingSet {
            texts,
            first_bytes,
            empty,
        }
    }

    fn contains(&self, cell: &[u8]) -> bool {
        match cell.first() {
            None => self.empty,
            Some(&b) => {
                self.first_bytes[usize::from(b >> 6)] & (1 << (b & 63)) != 0
                    && self.texts.iter().any(|t| t.as_bytes() == cell)
            }
        }
    }
}
