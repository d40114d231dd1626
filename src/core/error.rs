//! The one error type of the crate.
//!
//! Every message says what was wrong and where: the file, line and column of a CSV problem, the
//! column or term of a model problem, the cluster of a clustering problem. Nothing in the library
//! panics on user input; every failure comes back as one of these variants.

use std::fmt;

use crate::core::dates::Date;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in `stepwedge`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be opened or read.
    #[error("{file}: {source}")]
    Io {
        /// The path as given.
        file: String,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },

    /// A CSV cell or record could not be read. `line` is the 1-based line in the file (the header
    /// is line 1).
    #[error("{file}, line {line}, column '{column}': {message}")]
    Csv {
        /// The path (or `<memory>` for in-memory data).
        file: String,
        /// 1-based line number in the file.
        line: u64,
        /// The column name (or `#k` when the header itself is broken).
        column: String,
        /// What was wrong with the cell.
        message: String,
    },

    /// A column whose type is inferred holds numbers in all but a few cells: those cells
    /// (`cells`: the first ten, as line and text) would otherwise turn it into a factor with one
    /// level per distinct number.
    #[error(
        "{file}, column '{column}': {count} of {total} cells are not numbers, though the others \
         are: {}; if they mark missing values, add them to the missing values (--na VALUE in the \
         examples, LoadOptions::missing_values in the library; by default NA, NaN and empty \
         cells are missing); if the column is text, set its type to categorical (--categorical \
         COLUMN in the examples)",
        StrayCells(cells, *count)
    )]
    TextInNumbers {
        /// The path (or `<memory>` for in-memory data).
        file: String,
        /// The column name.
        column: String,
        /// The first (up to ten) such cells: 1-based line in the file and the cell's text.
        cells: Vec<(u64, String)>,
        /// How many cells are not numbers.
        count: usize,
        /// Non-missing cells in the column.
        total: usize,
    },

    /// A formula, builder or option names a column the cohort does not have.
    #[error("unknown column '{name}'{}", did_you_mean(suggestion))]
    UnknownColumn {
        /// The name as written.
        name: String,
        /// The closest existing column name, if any is close.
        suggestion: Option<String>,
    },

    /// A formula could not be parsed. `position` is the 0-based character offset.
    #[error("formula '{formula}', at character {position}: {message}")]
    Formula {
        /// The formula as written.
        formula: String,
        /// 0-based character offset of the problem.
        position: usize,
        /// What was expected or found.
        message: String,
    },

    /// A column used by a model has missing values and missing values were set to be an error.
    #[error(
        "column '{column}' has {count} missing value(s), first at data row {first_row}; \
             missing values are set to be an error (use the complete-case policy to drop them)"
    )]
    MissingValues {
        /// The column.
        column: String,
        /// How many rows are missing it.
        count: usize,
        /// 1-based data row of the first missing value (header not counted).
        first_row: usize,
    },

    /// After dropping incomplete rows nothing is left.
    #[error(
        "no rows left after dropping rows with missing values ({})",
        MissingList(by_variable)
    )]
    NoCompleteRows {
        /// Rows missing each variable, in formula order.
        by_variable: Vec<(String, usize)>,
    },

    /// A response value is not valid for the family (for example 2 in a binary outcome).
    #[error(
        "response '{column}' has value {value} at data row {row}, which is not valid for the \
             {family} family ({expected})"
    )]
    InvalidResponse {
        /// The response column.
        column: String,
        /// 1-based data row (header not counted).
        row: usize,
        /// The offending value.
        value: f64,
        /// The family name.
        family: String,
        /// What the family needs.
        expected: String,
    },

    /// A cell whose value the computation cannot use (a negative or non-numeric cost).
    #[error("column '{column}' has {value} at data row {row}: {expected}")]
    InvalidValue {
        /// The column.
        column: String,
        /// 1-based data row (header not counted).
        row: usize,
        /// The offending value, as text.
        value: String,
        /// What is needed.
        expected: String,
    },

    /// Two dates of one patient in an order that cannot happen: a discharge or death before
    /// surgery, a death before discharge, a readmission before discharge or after death, or a
    /// readmission without a discharge (then `other_date` is `None`).
    #[error(
        "patient {patient} (data row {row}): '{column}' {date} {relation} '{other_column}'{}",
        Optional(" ", other_date, "")
    )]
    DateOrder {
        /// The patient's id as text (a whole numeric id written as an integer).
        patient: String,
        /// 1-based data row of the patient (header not counted).
        row: usize,
        /// The column whose date is out of order.
        column: String,
        /// The patient's date in `column`.
        date: Date,
        /// How `date` stands to `other_date`: `"is before"`, `"is after"`, or `"is given
        /// without"` when the other date is missing but needed.
        relation: String,
        /// The column `date` is checked against.
        other_column: String,
        /// The patient's date in `other_column`; `None` when that cell is missing.
        other_date: Option<Date>,
    },

    /// A predictor takes one value only, so its effect cannot be estimated.
    #[error(
        "term '{term}' is constant (every used row has {value}); its effect cannot be estimated"
    )]
    ConstantTerm {
        /// The term name (R's spelling).
        term: String,
        /// The one value it takes.
        value: String,
    },

    /// Perfect or quasi-complete separation: the maximum-likelihood estimate does not exist.
    #[error(
        "separation: the outcome is perfectly predicted by {}; the maximum-likelihood estimate \
             does not exist (estimates diverge). Remove or merge the term, or use exact methods",
        Terms(terms)
    )]
    Separation {
        /// Terms whose coefficients diverge.
        terms: Vec<String>,
    },

    /// Terms whose effects the design cannot separate from others (for example a treatment that
    /// switches on in the same period in every cluster, so it is a combination of period effects).
    #[error(
        "{} cannot be separated from {with} in this design: {reason}",
        Terms(terms)
    )]
    Confounded {
        /// The terms involved.
        terms: Vec<String>,
        /// What they are confounded with.
        with: String,
        /// Why.
        reason: String,
    },

    /// A random-effect term was given to a fit that has no random effects.
    #[error(
        "the formula has random-effect term(s) {}; fit it with the mixed-model fit, \
             not a GLM",
        Terms(terms)
    )]
    NeedsMixedModel {
        /// The random-effect terms as written.
        terms: Vec<String>,
    },

    /// An iterative fit did not converge.
    #[error(
        "{what} did not converge in {iterations} iterations (last relative change {criterion:.3e})"
    )]
    NotConverged {
        /// Which fit.
        what: String,
        /// Iterations used.
        iterations: usize,
        /// Last value of the convergence criterion.
        criterion: f64,
    },

    /// A clustering variable is unusable (for example a single cluster, or clusters that are
    /// not consistent with the data).
    #[error("cluster variable '{column}': {message}")]
    Cluster {
        /// The cluster column.
        column: String,
        /// What is wrong.
        message: String,
    },

    /// An argument is out of its domain (negative counts, a confidence level outside (0, 1), ...).
    #[error("invalid argument '{argument}': {message}")]
    InvalidArgument {
        /// The argument name.
        argument: String,
        /// What is wrong with it.
        message: String,
    },

    /// A maximum-likelihood estimate on the boundary of the parameter space where the method
    /// is not defined there (a log-binomial mixed model whose fitted risks reach 1).
    #[error("the {model} estimate is on the boundary of the parameter space: {message}")]
    Boundary {
        /// The model.
        model: String,
        /// What reaches the boundary, and what to do instead.
        message: String,
    },

    /// A model has no coefficient or parameter of this name (a misspelt term, a treatment that
    /// is not in the formula, a parameter that cannot be profiled).
    #[error("{context}: no term '{term}'; the terms are {}{}", available.join(", "), did_you_mean(suggestion))]
    UnknownTerm {
        /// Where the name was used (`term`, `treatment`, `profile`, ...).
        context: String,
        /// The name as given.
        term: String,
        /// The names there are.
        available: Vec<String>,
        /// The closest of them, if one is close.
        suggestion: Option<String>,
    },

    /// A formula construct that this model or analysis does not take.
    #[error("formula '{formula}': {construct} is not supported: {reason}")]
    UnsupportedFormula {
        /// The formula as written.
        formula: String,
        /// The construct (a random-effect term, `factor(treated)`, ...).
        construct: String,
        /// Why, and what to use instead.
        reason: String,
    },

    /// Too few data for an estimate or analysis: no patient in a target population, fewer rows
    /// than fixed effects, fewer than two clusters for a cluster bootstrap.
    #[error("{what}: {got} {unit}, at least {needed} needed")]
    TooFewData {
        /// What was being estimated, and on what.
        what: String,
        /// What was counted (`rows`, `clusters`, `patients`).
        unit: String,
        /// How many there are.
        got: usize,
        /// How many are needed.
        needed: usize,
    },

    /// More refits of a bootstrap (or permutation, or simulation) failed than its result can
    /// bear (more than 10%, or any jackknife refit of BCa).
    #[error("{failed} of {total} {what} failed; the first: {first}")]
    RefitsFailed {
        /// Which refits.
        what: String,
        /// How many failed.
        failed: usize,
        /// How many were attempted.
        total: usize,
        /// The first failure's message.
        first: String,
    },

    /// A value of one subgroup of a monitored series (a month of a run or control chart) that
    /// the chart cannot use: a negative count, a proportion above 1. A program that built the
    /// subgroups from a file maps `position` back to its rows and `column` to its column.
    #[error("subgroup {position} ('{label}'), {column}: {message}")]
    Subgroup {
        /// 1-based position of the subgroup in the series.
        position: usize,
        /// The subgroup's label (its month, week, ...).
        label: String,
        /// Which of its values: `y` (the numerator or measurement) or `n` (the denominator).
        column: String,
        /// What is wrong with it.
        message: String,
    },

    /// A numerical step failed (a matrix that should be positive definite is not).
    #[error("numerical failure in {what}: {message}")]
    Numerical {
        /// Where.
        what: String,
        /// What happened.
        message: String,
    },

    /// An error in the analysis of one unit (a team, a hospital) among several: which analysis,
    /// which unit, and the error itself.
    #[error("{what} of {unit}: {source}")]
    InUnit {
        /// The analysis (`the run chart of 30-day readmission`).
        what: String,
        /// The unit.
        unit: String,
        /// The error.
        source: Box<Error>,
    },
}

impl Error {
    /// This error as one of `what` (an analysis) of `unit` ([`Error::InUnit`]).
    pub fn in_unit(self, what: impl Into<String>, unit: &str) -> Self {
        Error::InUnit {
            what: what.into(),
            unit: unit.to_string(),
            source: Box::new(self),
        }
    }

    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(argument: &str, message: impl Into<String>) -> Self {
        Error::InvalidArgument {
            argument: argument.to_string(),
            message: message.into(),
        }
    }

    /// An [`Error::UnknownTerm`] for `term` in `context`, among `available`, with the closest
    /// as suggestion.
    pub fn unknown_term<S: AsRef<str>>(context: &str, term: &str, available: &[S]) -> Self {
        let available: Vec<String> = available.iter().map(|a| a.as_ref().to_string()).collect();
        Error::UnknownTerm {
            context: context.to_string(),
            term: term.to_string(),
            suggestion: closest_name(term, available.iter().map(String::as_str)),
            available,
        }
    }

    /// An [`Error::UnsupportedFormula`]: `construct` of `formula` is not supported, for `reason`.
    pub fn unsupported(formula: &str, construct: &str, reason: &str) -> Self {
        Error::UnsupportedFormula {
            formula: formula.to_string(),
            construct: construct.to_string(),
            reason: reason.to_string(),
        }
    }

    /// An [`Error::TooFewData`]: `got` `unit` for `what`, where `needed` are needed.
    pub fn too_few(what: impl Into<String>, unit: &str, got: usize, needed: usize) -> Self {
        Error::TooFewData {
            what: what.into(),
            unit: unit.to_string(),
            got,
            needed,
        }
    }

    /// An [`Error::UnknownColumn`] with the closest of `candidates` as suggestion.
    pub fn unknown_column<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        Error::UnknownColumn {
            name: name.to_string(),
            suggestion: closest_name(name, candidates),
        }
    }
}

/// The candidate closest to `name` by edit distance (case-insensitive), if it is close enough to
/// be a plausible typo: at most a third of the longer name's length, and at least one edit.
pub fn closest_name<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (name.chars().count().max(c.chars().count()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// Levenshtein distance between two strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// An optional part of a message: `before`, the value and `after` when there is a value,
/// nothing otherwise.
struct Optional<'a, T>(&'a str, &'a Option<T>, &'a str);
impl<T: fmt::Display> fmt::Display for Optional<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(value) => write!(f, "{}{value}{}", self.0, self.2),
            None => Ok(()),
        }
    }
}

/// The closest name, as a question after the message.
fn did_you_mean(name: &Option<String>) -> Optional<'_, String> {
    Optional("; did you mean '", name, "'?")
}

struct Terms<'a>(&'a [String]);
impl fmt::Display for Terms<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted: Vec<String> = self.0.iter().map(|t| format!("'{t}'")).collect();
        f.write_str(&quoted.join(", "))
    }
}

/// Cells as `line 14 'N/A', line 200 '--1'`, with `and k more` when only some are listed.
struct StrayCells<'a>(&'a [(u64, String)], usize);
impl fmt::Display for StrayCells<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(line, text)| format!("line {line} '{text}'"))
            .collect();
        f.write_str(&parts.join(", "))?;
        match self.1.saturating_sub(self.0.len()) {
            0 => Ok(()),
            more => write!(f, " and {more} more"),
        }
    }
}

struct MissingList<'a>(&'a [(String, usize)]);
impl fmt::Display for MissingList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(v, n)| format!("{v}: {n} missing"))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let cols = ["death30", "treated", "period", "cluster"];
        assert_eq!(closest_name("deaht30", cols), Some("death30".into()));
        assert_eq!(closest_name("Treated", cols), Some("treated".into()));
        assert_eq!(closest_name("income", cols), None);
    }

    #[test]
    fn date_order_message_names_patient_row_columns_and_dates() {
        let date = |s| Date::parse(s).unwrap();
        let e = Error::DateOrder {
            patient: "17".into(),
            row: 17,
            column: "discharge_date".into(),
            date: date("2024-01-03"),
            relation: "is before".into(),
            other_column: "surgery_date".into(),
            other_date: Some(date("2024-01-05")),
        };
        assert_eq!(
            e.to_string(),
            "patient 17 (data row 17): 'discharge_date' 2024-01-03 is before 'surgery_date' \
             2024-01-05"
        );
        let e = Error::DateOrder {
            patient: "A7".into(),
            row: 2,
            column: "readmission_date".into(),
            date: date("2024-02-01"),
            relation: "is given without".into(),
            other_column: "discharge_date".into(),
            other_date: None,
        };
        assert_eq!(
            e.to_string(),
            "patient A7 (data row 2): 'readmission_date' 2024-02-01 is given without \
             'discharge_date'"
        );
    }

    #[test]
    fn unknown_column_message_names_the_suggestion() {
        let e = Error::unknown_column("treatd", ["treated", "age"]);
        assert_eq!(
            e.to_string(),
            "unknown column 'treatd'; did you mean 'treated'?"
        );
    }
}
