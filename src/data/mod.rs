//! Cohort data: a columnar table of numeric, 0/1 and categorical (text) columns.
//!
//! Missing values are part of the data model: a numeric cell that is missing holds `f64::NAN`
//! (never read as a value: the design step drops or rejects such rows), a categorical cell that is
//! missing holds [`MISSING_CODE`]. Categorical levels are kept in sorted order (byte order, as R's
//! `sort` in the C locale), so that level 0 is R's default reference level.
//!
//! Cohorts are read from CSV with [`Cohort::from_csv_path`] (see [`LoadOptions`]) and written
//! with [`Cohort::write_csv`].

mod chunks;
mod column_builder;
mod csv_load;
mod csv_write;
mod event;
mod levels;
mod number;
mod options;
mod tally;

pub use options::{CsvFormat, LoadOptions};
pub use tally::Tally;

use crate::core::error::{Error, Result};

/// Code of a missing cell in a categorical column.
pub const MISSING_CODE: u32 = u32::MAX;

/// The type of a column, as inferred from the data or set by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ColumnType {
    /// Any real numbers.
    Numeric,
    /// Numbers that are all 0 or 1 (stored as numeric).
    Binary,
    /// Text labels, stored as codes into a sorted list of levels.
    Categorical,
}

/// One column of a [`Cohort`].
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numeric (or 0/1) values; `NAN` marks a missing cell.
    Numeric(Vec<f64>),
    /// Codes into `levels` (sorted); [`MISSING_CODE`] marks a missing cell.
    Categorical {
        /// One code per row.
        codes: Vec<u32>,
        /// The distinct labels, sorted.
        levels: Vec<String>,
    },
}

impl Column {
    /// A categorical column from one optional label per row (`None` = missing). The levels are
    /// the distinct labels, sorted.
    pub fn from_labels<I, S>(labels: I) -> Result<Column>
    where
        I: IntoIterator<Item = Option<S>>,
        S: AsRef<str>,
    {
        let mut interner = levels::LevelInterner::default();
        let mut codes = Vec::new();
        for label in labels {
            let code = match label {
                None => MISSING_CODE,
                Some(l) => interner
                    .code(l.as_ref().as_bytes())
                    .map_err(|_| Error::invalid("labels", "too many distinct labels"))?,
            };
            codes.push(code);
        }
        let (codes, levels) = interner.into_sorted(codes);
        Ok(Column::Categorical { codes, levels })
    }

    /// A categorical column from codes into `levels`, which need not be sorted: they are sorted
    /// here and the codes recoded to match. Errors if a level repeats or a code (other than
    /// [`MISSING_CODE`]) does not index `levels`.
    pub fn categorical(codes: Vec<u32>, levels: Vec<String>) -> Result<Column> {
        check_codes(&codes, levels.len()).map_err(|m| Error::invalid("codes", m))?;
        let (codes, levels) = levels::sort_levels(codes, levels);
        if let Some(w) = levels.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::invalid(
                "levels",
                format!("level '{}' appears twice", w[0]),
            ));
        }
        Ok(Column::Categorical { codes, levels })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Categorical { codes, .. } => codes.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether row `i` is missing (`false` if there is no row `i`).
    pub fn is_missing(&self, i: usize) -> bool {
        match self {
            Column::Numeric(v) => v.get(i).is_some_and(|x| x.is_nan()),
            Column::Categorical { codes, .. } => codes.get(i) == Some(&MISSING_CODE),
        }
    }

    /// Whether any value is missing.
    pub fn has_missing(&self) -> bool {
        // Blocks without an early exit inside, so that each block's scan is vectorised.
        match self {
            Column::Numeric(v) => v
                .chunks(1024)
                .any(|block| block.iter().fold(false, |any, x| any | x.is_nan())),
            Column::Categorical { codes, .. } => codes.chunks(1024).any(|block| {
                block
                    .iter()
                    .fold(false, |any, &c| any | (c == MISSING_CODE))
            }),
        }
    }

    /// The column's type: `Binary` for a numeric column whose non-missing values are all 0 or 1.
    pub fn column_type(&self) -> ColumnType {
        match self {
            Column::Numeric(v) => {
                if v.iter().all(|x| x.is_nan() || *x == 0.0 || *x == 1.0) {
                    ColumnType::Binary
                } else {
                    ColumnType::Numeric
                }
            }
            Column::Categorical { .. } => ColumnType::Categorical,
        }
    }

    /// The values of a numeric column; `None` for a categorical column.
    pub fn as_numeric(&self) -> Option<&[f64]> {
        match self {
            Column::Numeric(v) => Some(v),
            Column::Categorical { .. } => None,
        }
    }

    /// The sorted levels of a categorical column; `None` for a numeric column.
    pub fn levels(&self) -> Option<&[String]> {
        match self {
            Column::Numeric(_) => None,
            Column::Categorical { levels, .. } => Some(levels),
        }
    }

    /// The label of row `i` of a categorical column; `None` if the column is numeric, the cell is
    /// missing or `i` is out of range.
    pub fn label(&self, i: usize) -> Option<&str> {
        match self {
            Column::Numeric(_) => None,
            Column::Categorical { codes, levels } => codes
                .get(i)
                .and_then(|&c| levels.get(c as usize))
                .map(String::as_str),
        }
    }

    /// The same column without the levels that no row uses (R's `droplevels`).
    pub fn drop_unused_levels(&self) -> Column {
        match self {
            Column::Numeric(_) => self.clone(),
            Column::Categorical { codes, levels } => {
                let mut used = vec![false; levels.len()];
                for &c in codes {
                    if let Some(u) = used.get_mut(c as usize) {
                        *u = true;
                    }
                }
                // Kept levels stay in sorted order; `new_code` maps old codes to new ones.
                let mut new_code = vec![MISSING_CODE; levels.len()];
                let mut kept = Vec::new();
                for (old, level) in levels.iter().enumerate() {
                    if used[old] {
                        new_code[old] = kept.len() as u32;
                        kept.push(level.clone());
                    }
                }
                let codes = codes
                    .iter()
                    .map(|&c| new_code.get(c as usize).copied().unwrap_or(MISSING_CODE))
                    .collect();
                Column::Categorical {
                    codes,
                    levels: kept,
                }
            }
        }
    }

    /// Whether two columns hold the same data: like `==`, except that a missing numeric cell
    /// (`NAN`, whatever its payload) equals another missing cell.
    pub fn identical(&self, other: &Column) -> bool {
        match (self, other) {
            (Column::Numeric(a), Column::Numeric(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
            }
            _ => self == other,
        }
    }

    /// The rows `rows` of the column, in that order. `rows` must be in range.
    fn select(&self, rows: &[usize]) -> Column {
        match self {
            Column::Numeric(v) => Column::Numeric(rows.iter().map(|&i| v[i]).collect()),
            Column::Categorical { codes, levels } => Column::Categorical {
                codes: rows.iter().map(|&i| codes[i]).collect(),
                levels: levels.clone(),
            },
        }
    }

    /// Checks the invariants of a categorical column: levels sorted and distinct, codes in range.
    fn check(&self) -> std::result::Result<(), String> {
        match self {
            Column::Numeric(_) => Ok(()),
            Column::Categorical { codes, levels } => {
                if let Some(w) = levels.windows(2).find(|w| w[0] >= w[1]) {
                    return Err(format!(
                        "levels must be sorted and distinct ('{}' comes before '{}')",
                        w[0], w[1]
                    ));
                }
                check_codes(codes, levels.len())
            }
        }
    }
}

/// Checks that every code indexes one of `n_levels` levels or is [`MISSING_CODE`].
fn check_codes(codes: &[u32], n_levels: usize) -> std::result::Result<(), String> {
    match codes
        .iter()
        .position(|&c| c != MISSING_CODE && c as usize >= n_levels)
    {
        Some(row) => Err(format!(
            "row {} has code {}, but there are {n_levels} levels",
            row + 1,
            codes[row]
        )),
        None => Ok(()),
    }
}

/// A columnar table of patients (rows) and variables (columns).
#[derive(Debug, Clone, PartialEq)]
pub struct Cohort {
    names: Vec<String>,
    columns: Vec<Column>,
    n_rows: usize,
}

impl Cohort {
    /// Build a cohort from named columns. Errors if names repeat or lengths differ, or if a
    /// categorical column has unsorted or repeated levels or codes out of range.
    pub fn from_columns(columns: Vec<(String, Column)>) -> Result<Self> {
        let mut cohort = Cohort {
            names: Vec::with_capacity(columns.len()),
            columns: Vec::with_capacity(columns.len()),
            n_rows: 0,
        };
        for (name, col) in columns {
            cohort.add_column(name, col)?;
        }
        Ok(cohort)
    }

    /// Number of rows (patients).
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.columns.len()
    }

    /// Column names in file order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The columns with their names, in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Column)> {
        self.names.iter().map(String::as_str).zip(&self.columns)
    }

    /// The column called `name`, or [`Error::UnknownColumn`] with the closest name as suggestion.
    pub fn column(&self, name: &str) -> Result<&Column> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.columns[i])
            .ok_or_else(|| Error::unknown_column(name, self.names.iter().map(String::as_str)))
    }

    /// The type of column `name` (`Binary` for a numeric column of 0s and 1s).
    pub fn column_type(&self, name: &str) -> Result<ColumnType> {
        Ok(self.column(name)?.column_type())
    }

    /// The values of numeric column `name` (`NAN` = missing). Errors if the column is
    /// categorical.
    pub fn numeric(&self, name: &str) -> Result<&[f64]> {
        let col = self.column(name)?;
        col.as_numeric().ok_or_else(|| {
            Error::invalid(
                name,
                format!("column '{name}' is categorical; a numeric column is needed"),
            )
        })
    }

    /// The sorted levels of categorical column `name`. Errors if the column is numeric.
    pub fn levels(&self, name: &str) -> Result<&[String]> {
        Ok(self.categorical(name)?.1)
    }

    /// The codes of categorical column `name` (indices into [`Cohort::levels`],
    /// [`MISSING_CODE`] = missing). Errors if the column is numeric.
    pub fn codes(&self, name: &str) -> Result<&[u32]> {
        Ok(self.categorical(name)?.0)
    }

    fn categorical(&self, name: &str) -> Result<(&[u32], &[String])> {
        match self.column(name)? {
            Column::Categorical { codes, levels } => Ok((codes, levels)),
            Column::Numeric(_) => Err(Error::invalid(
                name,
                format!(
                    "column '{name}' is numeric; a categorical column is needed \
                     (load it with LoadOptions::column_type(\"{name}\", ColumnType::Categorical))"
                ),
            )),
        }
    }

    /// Appends column `name`. Errors if the name is empty or taken, if the column's length differs
    /// from the cohort's (a cohort without columns takes the new column's length), or if a
    /// categorical column breaks its invariants (sorted distinct levels, codes in range).
    pub fn add_column(&mut self, name: impl Into<String>, column: Column) -> Result<()> {
        let name = name.into();
        if name.is_empty() {
            return Err(Error::invalid("columns", "a column name is empty"));
        }
        if self.names.contains(&name) {
            return Err(Error::invalid(
                "columns",
                format!("column '{name}' appears twice"),
            ));
        }
        if !self.columns.is_empty() && column.len() != self.n_rows {
            return Err(Error::invalid(
                "columns",
                format!(
                    "column '{name}' has {} rows, the cohort has {}",
                    column.len(),
                    self.n_rows
                ),
            ));
        }
        column
            .check()
            .map_err(|m| Error::invalid("columns", format!("column '{name}': {m}")))?;
        self.n_rows = column.len();
        self.names.push(name);
        self.columns.push(column);
        Ok(())
    }

    /// The cohort with column `name` appended (see [`Cohort::add_column`]).
    pub fn with_column(mut self, name: impl Into<String>, column: Column) -> Result<Cohort> {
        self.add_column(name, column)?;
        Ok(self)
    }

    /// A cohort of the rows `rows` (0-based, in that order, repeats allowed: a bootstrap sample).
    /// Categorical columns keep all their levels, used or not. Errors if an index is out of
    /// range.
    pub fn select_rows(&self, rows: &[usize]) -> Result<Cohort> {
        if let Some(&bad) = rows.iter().find(|&&i| i >= self.n_rows) {
            return Err(Error::invalid(
                "rows",
                format!(
                    "row index {bad} is out of range (the cohort has {} rows)",
                    self.n_rows
                ),
            ));
        }
        Ok(Cohort {
            names: self.names.clone(),
            columns: self.columns.iter().map(|c| c.select(rows)).collect(),
            n_rows: if self.columns.is_empty() {
                0
            } else {
                rows.len()
            },
        })
    }

    /// Whether two cohorts hold the same names, types and data, counting missing numeric cells
    /// as equal (see [`Column::identical`]).
    pub fn identical(&self, other: &Cohort) -> bool {
        self.n_rows == other.n_rows
            && self.names == other.names
            && self
                .columns
                .iter()
                .zip(&other.columns)
                .all(|(a, b)| a.identical(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Cohort {
        Cohort::from_columns(vec![
            ("x".into(), Column::Numeric(vec![1.0, f64::NAN, 3.0])),
            (
                "g".into(),
                Column::from_labels([Some("b"), None, Some("a")]).unwrap(),
            ),
        ])
        .unwrap()
    }

    #[test]
    fn from_labels_sorts_levels() {
        let c = small();
        assert_eq!(c.levels("g").unwrap(), ["a", "b"]);
        assert_eq!(c.codes("g").unwrap(), [1, MISSING_CODE, 0]);
        assert_eq!(c.column("g").unwrap().label(0), Some("b"));
    }

    #[test]
    fn categorical_constructor_sorts_and_checks() {
        let col = Column::categorical(vec![0, 1, 0], vec!["z".into(), "a".into()]).unwrap();
        assert_eq!(col.levels().unwrap(), ["a", "z"]);
        assert_eq!(col.label(0), Some("z"));
        let err = Column::categorical(vec![2], vec!["a".into()]).unwrap_err();
        assert!(err.to_string().contains("row 1 has code 2"), "{err}");
        let err = Column::categorical(vec![0], vec!["a".into(), "a".into()]).unwrap_err();
        assert!(err.to_string().contains("'a' appears twice"), "{err}");
    }

    #[test]
    fn typed_accessors_refuse_the_wrong_kind() {
        let c = small();
        assert_eq!(c.numeric("x").unwrap().len(), 3);
        assert!(c
            .numeric("g")
            .unwrap_err()
            .to_string()
            .contains("is categorical"));
        assert!(c
            .levels("x")
            .unwrap_err()
            .to_string()
            .contains("is numeric"));
        assert_eq!(c.column_type("g").unwrap(), ColumnType::Categorical);
        assert_eq!(c.column_type("x").unwrap(), ColumnType::Numeric);
        assert!(matches!(c.numeric("xx"), Err(Error::UnknownColumn { .. })));
    }

    #[test]
    fn add_column_checks_length_name_and_levels() {
        let c = small();
        assert!(c
            .clone()
            .with_column("x", Column::Numeric(vec![0.0; 3]))
            .is_err());
        assert!(c
            .clone()
            .with_column("", Column::Numeric(vec![0.0; 3]))
            .is_err());
        assert!(c
            .clone()
            .with_column("y", Column::Numeric(vec![0.0; 2]))
            .is_err());
        let unsorted = Column::Categorical {
            codes: vec![0, 0, 0],
            levels: vec!["b".into(), "a".into()],
        };
        assert!(c.clone().with_column("h", unsorted).is_err());
        let c = c.with_column("y", Column::Numeric(vec![0.0; 3])).unwrap();
        assert_eq!(c.n_cols(), 3);
    }

    #[test]
    fn select_rows_keeps_levels_and_checks_range() {
        let c = small();
        let s = c.select_rows(&[2, 2, 0]).unwrap();
        assert_eq!(s.n_rows(), 3);
        assert_eq!(s.numeric("x").unwrap(), [3.0, 3.0, 1.0]);
        assert_eq!(s.levels("g").unwrap(), ["a", "b"]);
        assert!(c.select_rows(&[3]).is_err());
        let dropped = s.select_rows(&[0]).unwrap();
        let g = dropped.column("g").unwrap().drop_unused_levels();
        assert_eq!(g.levels().unwrap(), ["a"]);
        assert_eq!(g.label(0), Some("a"));
    }

    #[test]
    fn identical_treats_missing_as_equal() {
        let c = small();
        assert_ne!(c, c.clone());
        assert!(c.identical(&c.clone()));
        let other = c.select_rows(&[0, 1, 1]).unwrap();
        assert!(!c.identical(&other));
    }
}
