//! Reading the input columns of the outcome derivations: dates, ids and labels, numbers, and
//! checking the names of the columns to be added.
//!
//! Every reader returns one value per row or an error naming the column, the 1-based data row
//! and the offending text; none of them panics or turns a bad cell into a missing one.

use std::borrow::Cow;

use crate::core::dates::Date;
use crate::core::error::{Error, Result};
use crate::data::{Cohort, Column, MISSING_CODE};

/// What a date cell must look like (the `expected` part of the error).
const DATE_EXPECTED: &str = "dates must be written YYYY-MM-DD and name a calendar day";

/// The dates of column `name`, one per row (`None` = missing).
///
/// A date column is a text (categorical) column of `YYYY-MM-DD` labels. A numeric column is
/// accepted only when every cell is missing (a CSV column with every cell empty loads as an
/// all-missing numeric column); a numeric column with a value is an error at its first value.
pub(crate) fn read_dates(cohort: &Cohort, name: &str) -> Result<Vec<Option<Date>>> {
    let invalid = |row: usize, value: String| Error::InvalidValue {
        column: name.to_string(),
        row: row + 1,
        value,
        expected: DATE_EXPECTED.to_string(),
    };
    match cohort.column(name)? {
        Column::Numeric(values) => match values.iter().position(|v| !v.is_nan()) {
            None => Ok(vec![None; values.len()]),
            Some(row) => Err(invalid(row, values[row].to_string())),
        },
        Column::Categorical { codes, levels } => {
            // Each label is parsed once; an unparsable label is an error only if a row uses it.
            let parsed: Vec<Option<Date>> = levels.iter().map(|l| Date::parse(l)).collect();
            codes
                .iter()
                .enumerate()
                .map(|(row, &code)| {
                    if code == MISSING_CODE {
                        return Ok(None);
                    }
                    match parsed.get(code as usize) {
                        Some(Some(date)) => Ok(Some(*date)),
                        _ => {
                            let text = levels.get(code as usize).map_or("", String::as_str);
                            Err(invalid(row, format!("'{text}'")))
                        }
                    }
                })
                .collect()
        }
    }
}

/// The surgery dates of `cohort` (column `name`), which every patient must have: a missing cell
/// is an error naming the column, the data row and the patient (`ids`).
pub(crate) fn surgery_dates(cohort: &Cohort, name: &str, ids: &Labels<'_>) -> Result<Vec<Date>> {
    read_dates(cohort, name)?
        .into_iter()
        .enumerate()
        .map(|(row, date)| {
            date.ok_or_else(|| Error::InvalidValue {
                column: name.to_string(),
                row: row + 1,
                value: "a missing value".to_string(),
                expected: format!(
                    "patient {} has no surgery date; every patient needs one",
                    ids.patient(row)
                ),
            })
        })
        .collect()
}

/// A column read as text: the labels of a categorical column, or the numbers of a numeric column
/// written as text (see [`number_text`]). Used for patient ids, which may be either, and for cost
/// sectors.
pub(crate) struct Labels<'a> {
    column: &'a Column,
}

impl<'a> Labels<'a> {
    /// The column `name` of `cohort`, read as text.
    pub(crate) fn new(cohort: &'a Cohort, name: &str) -> Result<Labels<'a>> {
        Ok(Labels {
            column: cohort.column(name)?,
        })
    }

    /// The text of row `row`; `None` if the cell is missing.
    pub(crate) fn text(&self, row: usize) -> Option<Cow<'a, str>> {
        match self.column {
            Column::Numeric(values) => values
                .get(row)
                .filter(|v| !v.is_nan())
                .map(|&v| Cow::Owned(number_text(v))),
            labels @ Column::Categorical { .. } => labels.label(row).map(Cow::Borrowed),
        }
    }

    /// The patient of row `row` as named in messages: the id's text, or `<missing id>`.
    pub(crate) fn patient(&self, row: usize) -> String {
        self.text(row)
            .map_or_else(|| "<missing id>".to_string(), Cow::into_owned)
    }
}

/// The text form of a numeric id or label: a whole number as an integer (`17`, not `17.0`),
/// anything else as Rust writes the number (`17.5`).
pub(crate) fn number_text(value: f64) -> String {
    // Whole numbers below 2^53 are exactly integers.
    if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
        format!("{}", value as i64)
    } else {
        value.to_string()
    }
}

/// The numbers of column `name`, one per row (`NAN` = missing): the values of a numeric column, or
/// the labels of a text column read as numbers, where a label that is not a number is an error
/// naming the row (`what` says what the numbers are, for the message).
pub(crate) fn read_numbers<'a>(
    cohort: &'a Cohort,
    name: &str,
    what: &str,
) -> Result<Cow<'a, [f64]>> {
    match cohort.column(name)? {
        Column::Numeric(values) => Ok(Cow::Borrowed(values)),
        text @ Column::Categorical { codes, .. } => (0..codes.len())
            .map(|row| match text.label(row) {
                None => Ok(f64::NAN),
                Some(label) => label
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| Error::InvalidValue {
                        column: name.to_string(),
                        row: row + 1,
                        value: format!("'{label}'"),
                        expected: format!("{what} must be numbers"),
                    }),
            })
            .collect::<Result<Vec<f64>>>()
            .map(Cow::Owned),
    }
}

/// Checks that the output column names `names` are not empty, distinct, and not columns of
/// `cohort` already (`argument` names the setting, for the message).
pub(crate) fn check_new_names(cohort: &Cohort, names: &[&str], argument: &str) -> Result<()> {
    for (k, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(Error::invalid(argument, "an output column name is empty"));
        }
        if cohort.names().iter().any(|n| n == name) {
            return Err(Error::invalid(
                argument,
                format!(
                    "the cohort already has a column '{name}'; choose another output name \
                     or drop the column"
                ),
            ));
        }
        if names[..k].contains(name) {
            return Err(Error::invalid(
                argument,
                format!("two output columns are both named '{name}'"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cohort(columns: Vec<(&str, Column)>) -> Cohort {
        Cohort::from_columns(columns.into_iter().map(|(n, c)| (n.into(), c)).collect()).unwrap()
    }

    fn text(labels: &[Option<&str>]) -> Column {
        Column::from_labels(labels.iter().copied()).unwrap()
    }

    #[test]
    fn dates_read_from_text_with_missing_cells() {
        let c = cohort(vec![(
            "d",
            text(&[Some("2024-01-05"), None, Some("2023-12-31")]),
        )]);
        let dates = read_dates(&c, "d").unwrap();
        assert_eq!(
            dates,
            vec![
                Date::parse("2024-01-05"),
                None,
                Some(Date::from_ymd(2023, 12, 31).unwrap())
            ]
        );
    }

    #[test]
    fn an_all_empty_numeric_date_column_is_all_missing() {
        let c = cohort(vec![("d", Column::Numeric(vec![f64::NAN; 3]))]);
        assert_eq!(read_dates(&c, "d").unwrap(), vec![None; 3]);
        let c = cohort(vec![("d", Column::Numeric(vec![f64::NAN, 20240105.0]))]);
        let err = read_dates(&c, "d").unwrap_err().to_string();
        assert_eq!(
            err,
            "column 'd' has 20240105 at data row 2: dates must be written YYYY-MM-DD and name \
             a calendar day"
        );
    }

    #[test]
    fn bad_dates_name_column_row_and_text() {
        for bad in ["2023-02-29", "05-01-2024", "2024-1-5"] {
            let c = cohort(vec![("d", text(&[Some("2024-01-05"), None, Some(bad)]))]);
            let err = read_dates(&c, "d").unwrap_err();
            match &err {
                Error::InvalidValue {
                    column, row, value, ..
                } => {
                    assert_eq!((column.as_str(), *row), ("d", 3));
                    assert_eq!(value, &format!("'{bad}'"));
                }
                other => panic!("{other}"),
            }
        }
    }

    #[test]
    fn an_unused_bad_level_is_no_error() {
        let c = cohort(vec![("d", text(&[Some("garbage"), Some("2024-01-05")]))])
            .select_rows(&[1])
            .unwrap();
        assert_eq!(
            read_dates(&c, "d").unwrap(),
            vec![Date::parse("2024-01-05")]
        );
    }

    #[test]
    fn ids_as_text() {
        let c = cohort(vec![
            ("n", Column::Numeric(vec![17.0, f64::NAN, 2.5, -3.0, 1e16])),
            (
                "t",
                text(&[Some("017"), None, Some("A"), Some("b"), Some("c")]),
            ),
        ]);
        let n = Labels::new(&c, "n").unwrap();
        let texts: Vec<Option<String>> = (0..5).map(|i| n.text(i).map(Cow::into_owned)).collect();
        assert_eq!(
            texts,
            [
                Some("17".to_string()),
                None,
                Some("2.5".to_string()),
                Some("-3".to_string()),
                Some("10000000000000000".to_string())
            ]
        );
        let t = Labels::new(&c, "t").unwrap();
        assert_eq!(t.text(0).as_deref(), Some("017"));
        assert_eq!(t.patient(1), "<missing id>");
        assert!(Labels::new(&c, "x").is_err());
    }

    #[test]
    fn surgery_dates_are_required() {
        let c = cohort(vec![
            ("id", Column::Numeric(vec![4.0, 9.0])),
            ("s", text(&[Some("2024-01-05"), None])),
        ]);
        let ids = Labels::new(&c, "id").unwrap();
        let err = surgery_dates(&c, "s", &ids).unwrap_err().to_string();
        assert_eq!(
            err,
            "column 's' has a missing value at data row 2: patient 9 has no surgery date; \
             every patient needs one"
        );
    }

    #[test]
    fn numbers_from_numeric_or_text_columns() {
        let c = cohort(vec![
            ("x", Column::Numeric(vec![1.0, f64::NAN])),
            ("y", text(&[Some("3"), None])),
            ("z", text(&[Some("3"), Some("three")])),
        ]);
        assert_eq!(read_numbers(&c, "x", "scores").unwrap()[0], 1.0);
        let y = read_numbers(&c, "y", "scores").unwrap();
        assert!(y[0] == 3.0 && y[1].is_nan());
        let err = read_numbers(&c, "z", "scores").unwrap_err().to_string();
        assert_eq!(
            err,
            "column 'z' has 'three' at data row 2: scores must be numbers"
        );
    }

    #[test]
    fn output_names_must_be_new_and_distinct() {
        let c = cohort(vec![("death30", Column::Numeric(vec![0.0]))]);
        assert!(check_new_names(&c, &["a", "b"], "names").is_ok());
        let err = check_new_names(&c, &["death30"], "names").unwrap_err();
        assert!(
            err.to_string().contains("already has a column 'death30'"),
            "{err}"
        );
        assert!(check_new_names(&c, &["a", "a"], "names").is_err());
        assert!(check_new_names(&c, &[""], "names").is_err());
    }
}
