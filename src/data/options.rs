//! Options for reading a [`Cohort`] from CSV.

use super::{Cohort, ColumnType};

/// Options for reading CSV: which cells are missing, column types forced by the caller, and the
/// field delimiter.
///
/// How cells are read (after trimming surrounding whitespace):
/// * a cell whose text is one of the missing-value strings (default `""`, `"NA"`, `"NaN"`) is
///   missing: `NAN` in a numeric column, [`MISSING_CODE`](super::MISSING_CODE) in a categorical
///   one;
/// * a column is numeric when every other cell is a number in Rust's syntax (`12`, `-0.5`, `.5`,
///   `1e-3`); otherwise it is categorical, with every cell's text kept exactly as written (`"01"`
///   stays `"01"`) and levels sorted;
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
    delimiter: u8,
}

impl Default for LoadOptions {
    /// Missing values `""`, `"NA"` and `"NaN"`; types inferred; comma-delimited.
    fn default() -> Self {
        LoadOptions {
            missing: MissingSet::new(vec![String::new(), "NA".into(), "NaN".into()]),
            types: Vec::new(),
            delimiter: b',',
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
    /// look like numbers.
    pub fn matching(cohort: &Cohort) -> Self {
        cohort.iter().fold(Self::default(), |opts, (name, col)| {
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

    /// Sets the field delimiter (default `b','`; `b';'` for CSV written with a Danish locale).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
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

    /// The field delimiter.
    pub fn delimiter_byte(&self) -> u8 {
        self.delimiter
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
