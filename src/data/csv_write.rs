//! Writing a [`Cohort`] as CSV that the loader reads back to the same cohort.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use super::{Cohort, Column, LoadOptions, MISSING_CODE};
use crate::core::error::{Error, Result};
use crate::core::files::write_atomically_with;

/// How a missing cell is written.
const MISSING_TEXT: &str = "NA";

/// The name used in error messages for a writer.
const WRITER: &str = "<writer>";

impl Cohort {
    /// Writes the cohort as CSV to the file at `path` (see [`Cohort::write_csv_to`]), whole or
    /// not at all ([`write_atomically_with`]).
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let file = path.display().to_string();
        self.check_writable()?;
        write_atomically_with(path, |out| self.write_records(out, &file))
    }

    /// Writes the cohort as CSV: a header of the column names, then one line per row; numbers in
    /// the shortest form that reads back to the same `f64` (`3`, not `3.0`; exponent form below
    /// 1e-5 and from 1e16 on), labels as they are, missing cells as `NA`; fields quoted only where
    /// needed.
    ///
    /// [`Cohort::from_csv_reader`] with [`LoadOptions::matching`] reads the output back to a cohort
    /// [`identical`](Cohort::identical) to this one whenever every level of every categorical
    /// column is used (unused levels are not stored in CSV; see [`Column::drop_unused_levels`]).
    /// With the default options the same holds if, in addition, every categorical column has a
    /// label that is not a number (otherwise the column is read back as numeric).
    ///
    /// Errors (before writing anything) if the cohort has no columns, if a column name is empty
    /// or has surrounding whitespace, if a label is a default missing-value string (`""`, `"NA"`,
    /// `"NaN"`) or has surrounding whitespace, or if a number is infinite: each would read back
    /// as something else.
    pub fn write_csv_to(&self, writer: impl Write) -> Result<()> {
        self.check_writable()?;
        self.write_records(writer, WRITER)
    }

    /// Checks that the cohort can be written and read back unchanged.
    fn check_writable(&self) -> Result<()> {
        if self.names.is_empty() {
            return Err(Error::invalid(
                "cohort",
                "a cohort without columns cannot be written as CSV",
            ));
        }
        let defaults = LoadOptions::default();
        let reads_back =
            |text: &str| text.trim_ascii() == text && !defaults.is_missing(text.as_bytes());
        for (name, col) in self.iter() {
            if name.is_empty() || name.trim_ascii() != name {
                return Err(Error::invalid(
                    "columns",
                    format!("column name '{name}' is empty or has surrounding whitespace"),
                ));
            }
            match col {
                Column::Numeric(v) => {
                    if let Some(row) = v.iter().position(|x| x.is_infinite()) {
                        return Err(Error::invalid(
                            name,
                            format!("row {} of column '{name}' is {}", row + 1, v[row]),
                        ));
                    }
                }
                Column::Categorical { levels, .. } => {
                    if let Some(bad) = levels.iter().find(|l| !reads_back(l)) {
                        return Err(Error::invalid(
                            name,
                            format!(
                                "column '{name}' has level '{bad}', which would read back as \
                                 missing or trimmed"
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes header and rows to `out`; `file` names it in I/O errors.
    fn write_records(&self, out: impl Write, file: &str) -> Result<()> {
        let io = |e: csv::Error| Error::Io {
            file: file.to_string(),
            source: e.into(),
        };
        let mut w = csv::WriterBuilder::new().from_writer(out);
        w.write_record(&self.names).map_err(io)?;
        let mut cell = String::new();
        for row in 0..self.n_rows {
            for col in &self.columns {
                cell.clear();
                let text = match col {
                    Column::Numeric(v) => {
                        format_number(v[row], &mut cell);
                        cell.as_str()
                    }
                    Column::Categorical { codes, levels } => match codes[row] {
                        MISSING_CODE => MISSING_TEXT,
                        c => levels.get(c as usize).map_or(MISSING_TEXT, String::as_str),
                    },
                };
                w.write_field(text).map_err(io)?;
            }
            w.write_record(None::<&[u8]>).map_err(io)?;
        }
        w.flush().map_err(|source| Error::Io {
            file: file.to_string(),
            source,
        })
    }
}

/// Appends `x` to `out` in the shortest text that parses back to the same value: `NA` for NaN,
/// plain decimal between 1e-5 and 1e16 in magnitude (integers without `.0`), exponent form
/// outside that range.
fn format_number(x: f64, out: &mut String) {
    let plain = x == 0.0 || (1e-5..1e16).contains(&x.abs());
    // Writing to a String cannot fail.
    let _ = if x.is_nan() {
        out.write_str(MISSING_TEXT)
    } else if plain {
        write!(out, "{x}")
    } else {
        write!(out, "{x:e}")
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formatted(x: f64) -> String {
        let mut s = String::new();
        format_number(x, &mut s);
        s
    }

    #[test]
    fn numbers_are_short_and_round_trip() {
        assert_eq!(formatted(3.0), "3");
        assert_eq!(formatted(-0.0), "-0");
        assert_eq!(formatted(84.3), "84.3");
        assert_eq!(formatted(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(formatted(1e300), "1e300");
        assert_eq!(formatted(1.5e-7), "1.5e-7");
        assert_eq!(formatted(f64::NAN), "NA");
        for x in [
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            123456789.123,
            1e16,
            9.999e15,
        ] {
            assert_eq!(formatted(x).parse::<f64>().unwrap(), x);
        }
    }
}
