//! What the example binaries share: the data-file flags, reading a cohort with a note on the
//! detected format, writing to stdout without panicking, and the exit status.
//!
//! Exit status: 0 on success, 1 on a user error (bad data, a model that cannot be fitted, an
//! output that cannot be written), 2 on a usage error (clap's). A closed pipe on stdout (`|
//! head`) ends the program quietly with status 0; any other failure to write stdout (a full
//! device) is an error with status 1. Each example uses a part of this module.
#![allow(dead_code)]

use std::fmt::Display;
use std::io::Write;
use std::process::ExitCode;

use stepwedge::core::error::Error;
use stepwedge::data::{Cohort, ColumnType, LoadOptions, Tally};

/// The flags that say how a CSV file is read (mapped to [`LoadOptions`]).
#[derive(Debug, Clone, clap::Args)]
pub struct DataFlags {
    /// Field delimiter, one character (default: detected from the header, ',' or ';').
    #[arg(long, value_name = "CHAR", value_parser = delimiter)]
    pub delimiter: Option<u8>,
    /// Numbers have decimal commas (87,5); `--decimal-comma=false` refuses them (default:
    /// detected: yes with a ';' delimiter unless the first rows have decimal points).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub decimal_comma: Option<bool>,
    /// A cell text that marks a missing value, besides NA, NaN and empty cells; repeatable.
    #[arg(long = "na", value_name = "VALUE")]
    pub na: Vec<String>,
    /// Read this column as text (a factor) even if most cells are numbers; repeatable.
    #[arg(long, value_name = "COLUMN")]
    pub categorical: Vec<String>,
}

/// One delimiter character (`;`, `,`, `tab` or `\t`).
fn delimiter(text: &str) -> Result<u8, String> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        t if t.len() == 1 && t.is_ascii() => Ok(t.as_bytes()[0]),
        t => Err(format!("'{t}' is not one ASCII character")),
    }
}

impl DataFlags {
    /// The load options these flags ask for.
    pub fn options(&self) -> LoadOptions {
        let mut opts = LoadOptions::new();
        if let Some(d) = self.delimiter {
            opts = opts.delimiter(d);
        }
        if let Some(c) = self.decimal_comma {
            opts = opts.decimal_comma(c);
        }
        if !self.na.is_empty() {
            let defaults = opts.missing().to_vec();
            opts = opts.missing_values(defaults.into_iter().chain(self.na.iter().cloned()));
        }
        for column in &self.categorical {
            opts = opts.column_type(column, ColumnType::Categorical);
        }
        opts
    }

    /// Reads the cohort at `path`; a detected format (`;` with decimal commas) is said on stderr
    /// as `program: reading FILE as ';'-separated with decimal commas (detected)`.
    pub fn load(&self, program: &str, path: &str) -> Result<Cohort, Error> {
        let opts = self.options_noted(program, path)?;
        Cohort::from_csv_path(path, &opts)
    }

    /// Streams the file at `path` into the patterns of the columns `keys`, summing `summed`
    /// ([`Tally::from_csv_path`]; `None` when the file has to be read whole), with the note on
    /// a detected format as [`DataFlags::load`] gives it.
    pub fn tally(
        &self,
        program: &str,
        path: &str,
        keys: &[String],
        summed: &str,
    ) -> Result<Option<Tally>, Error> {
        let opts = self.options_noted(program, path)?;
        Tally::from_csv_path(path, keys, summed, &opts)
    }

    /// The load options, after saying a detected format on stderr.
    fn options_noted(&self, program: &str, path: &str) -> Result<LoadOptions, Error> {
        let opts = self.options();
        let format = opts.format_of_file(path)?;
        if format.detected {
            note(
                program,
                format_args!("reading {path} as {format} (detected)"),
            );
        }
        Ok(opts)
    }
}

/// Why a run stopped early.
pub enum Failure {
    /// A user error (status 1), with its message.
    Error(Error),
    /// stdout was closed by its reader: stop quietly (status 0).
    ClosedPipe,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Error(e)
    }
}

/// Writes `text` to stdout and flushes it. A closed pipe is [`Failure::ClosedPipe`]; any other
/// failure (a full device) is an error naming stdout.
pub fn emit(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure::ClosedPipe),
        Err(source) => Err(Failure::Error(Error::Io {
            file: "stdout".into(),
            source,
        })),
    }
}

/// Writes `value` as pretty-printed JSON and a newline to stdout (see [`emit`]); `what` names
/// it in the error should it not serialise.
pub fn emit_json(value: &impl serde::Serialize, what: &str) -> Result<(), Failure> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| Error::Numerical {
        what: format!("the JSON of {what}"),
        message: e.to_string(),
    })?;
    text.push('\n');
    emit(&text)
}

/// A message on stderr, `program: message` (a failure to write stderr is ignored: there is
/// nowhere left to report it).
pub fn note(program: &str, message: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "{program}: {message}");
}

/// The exit status of a run: 0, or 1 with the error on stderr.
pub fn exit(program: &str, result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) | Err(Failure::ClosedPipe) => ExitCode::SUCCESS,
        Err(Failure::Error(e)) => {
            note(program, e);
            ExitCode::FAILURE
        }
    }
}

/// Appends a line to an output buffer (writing to a `String` cannot fail).
#[macro_export]
macro_rules! outln {
    ($out:expr) => {
        $out.push('\n')
    };
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

/// Appends text to an output buffer.
#[macro_export]
macro_rules! out {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = write!($out, $($arg)*);
    }};
}
