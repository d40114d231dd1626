//! From a cohort and a formula to the model's numbers: the rows used, the response, the fixed-
//! effects design matrix X with R's column names, prior weights and offsets.
//!
//! Coding follows R's `model.matrix`:
//! - a numeric or 0/1 column enters as it is (`age`, `treated`);
//! - a text column, or `factor(x)`, is a factor with its levels in sorted order (the first is the
//!   reference unless set otherwise), coded by treatment contrasts: one 0/1 column per non-reference
//!   level, named `sexM`, `factor(period)3`;
//! - in an interaction, a factor is coded by contrasts when the term without it is an earlier term
//!   of the model (or is the intercept), and otherwise by one indicator per level; with no
//!   intercept, the first factor of the model is coded by indicators. The columns of an
//!   interaction vary the first variable fastest, and are named `treated:sexM`.
//!
//! Missing values: by default rows with a missing value in any variable the model uses are
//! dropped (complete cases), and the number of rows missing each variable is reported; with
//! [`MissingPolicy::Error`] a missing value is an error naming the column and row.
//!
//! Aliased columns (linear combinations of earlier columns, where R reports `NA`) are dropped
//! from X and listed by name; a main-effect column that is constant is an error.
//!
//! [`ExposureTime`] derives a design variable of a stepped wedge from its cluster, period and
//! treatment columns: the periods since the cluster crossed over (0 before), for the
//! exposure-time indicator model `factor(exposure)`.

use nalgebra::{DMatrix, DVector};

use crate::core::error::{Error, Result};
use crate::core::linalg::aliased_columns;
use crate::data::{Cohort, Column, ColumnType, MISSING_CODE};
use crate::frame::formula::{Expr, Formula, Response, Term};

mod collapse;
mod evaluate;
mod exposure;
mod orthogonal_poly;

pub(crate) use evaluate::Evaluator;
use evaluate::Values;
pub use exposure::{Crossover, ExposureReport, ExposureTime};

/// What to do with rows that have missing values in a model's variables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MissingPolicy {
    /// Drop rows with any missing value among the model's variables and report the counts.
    #[default]
    CompleteCases,
    /// A missing value in any model variable is an error.
    Error,
}

/// Options for building a design.
#[derive(Debug, Clone, Default)]
pub struct DesignOptions {
    /// Missing-value policy.
    pub missing: MissingPolicy,
    /// Reference levels for factors: `(column, level)`, e.g. `("residence", "own_home")`.
    pub reference_levels: Vec<(String, String)>,
    /// Further columns that must be complete in the rows used (weights, clusters).
    pub extra_columns: Vec<String>,
}

/// How many rows were dropped, and why.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct MissingReport {
    /// Rows in the cohort.
    pub rows_in: usize,
    /// Rows used.
    pub rows_used: usize,
    /// For every variable with missing values: how many rows miss it.
    pub by_variable: Vec<(String, usize)>,
}

impl std::fmt::Display for MissingReport {
    /// `12 rows dropped for missing values (age: 12)`, or `no rows dropped for missing values`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.rows_in - self.rows_used {
            0 => f.write_str("no rows dropped for missing values"),
            1 => f.write_str("1 row dropped for missing values"),
            k => write!(f, "{k} rows dropped for missing values"),
        }?;
        if self.by_variable.is_empty() {
            return Ok(());
        }
        let each: Vec<String> = self
            .by_variable
            .iter()
            .map(|(v, k)| format!("{v}: {k}"))
            .collect();
        write!(f, " ({})", each.join(", "))
    }
}

/// The numbers a model is fitted to.
#[derive(Debug, Clone)]
pub struct Design {
    /// n x p fixed-effects design matrix (aliased columns removed).
    pub x: DMatrix<f64>,
    /// R's names of the columns of `x`.
    pub names: Vec<String>,
    /// Names of aliased columns that were dropped (R shows `NA` for these).
    pub aliased: Vec<String>,
    /// Whether column 0 is the intercept.
    pub intercept: bool,
    /// Response: the value, or for `cbind(s, f)` the proportion s / (s + f).
    pub y: Vec<f64>,
    /// Binomial trials s + f per row for a `cbind` response; `None` for a single column.
    pub trials: Option<Vec<f64>>,
    /// Offset per row (sum of the formula's offsets), if any.
    pub offset: Option<Vec<f64>>,
    /// Cohort row index of each design row (for collapsed rows, the first row of each pattern).
    pub rows: Vec<usize>,
    /// What was dropped for missing values.
    pub missing: MissingReport,
}

/// The rows a model uses, with their response and offsets: the part of a design that does not
/// need the design matrix.
#[derive(Debug, Clone)]
pub(crate) struct UsedRows {
    /// Cohort row index of each row.
    pub rows: Vec<usize>,
    /// What was dropped for missing values.
    pub missing: MissingReport,
    /// Response (a proportion for `cbind`).
    pub y: Vec<f64>,
    /// Binomial trials (or summed rows after collapsing), if not one per row.
    pub trials: Option<Vec<f64>>,
    /// Offset per row, if any.
    pub offset: Option<Vec<f64>>,
}

impl UsedRows {
    /// The complete rows of the model's variables, their response and offsets.
    pub fn new(cohort: &Cohort, formula: &Formula, options: &DesignOptions) -> Result<UsedRows> {
        let (rows, missing) =
            complete_rows(cohort, &model_columns(formula, options), options.missing)?;
        let (y, trials) = response(cohort, &formula.response, &rows)?;
        let offset = offsets(cohort, &formula.offsets, &rows)?;
        Ok(UsedRows {
            rows,
            missing,
            y,
            trials,
            offset,
        })
    }
}

/// Every column the model reads: the formula's and `options.extra_columns`.
fn model_columns(formula: &Formula, options: &DesignOptions) -> Vec<String> {
    let mut variables = formula.columns();
    for c in &options.extra_columns {
        if !variables.contains(c) {
            variables.push(c.clone());
        }
    }
    variables
}

impl Design {
    /// Build the design of `formula`'s fixed part on `cohort`.
    pub fn new(cohort: &Cohort, formula: &Formula, options: &DesignOptions) -> Result<Design> {
        Design::on_rows(
            cohort,
            formula,
            options,
            UsedRows::new(cohort, formula, options)?,
        )
    }

    /// The rows this design was built on (its response, trials and offsets), as chosen before
    /// the design.
    pub(crate) fn used_rows(&self) -> UsedRows {
        UsedRows {
            rows: self.rows.clone(),
            missing: self.missing.clone(),
            y: self.y.clone(),
            trials: self.trials.clone(),
            offset: self.offset.clone(),
        }
    }

    /// The design on rows already chosen (and possibly collapsed).
    pub(crate) fn on_rows(
        cohort: &Cohort,
        formula: &Formula,
        options: &DesignOptions,
        used: UsedRows,
    ) -> Result<Design> {
        let UsedRows {
            rows,
            missing,
            y,
            trials,
            offset,
        } = used;
        // Binomial trials count (and, after collapsing, stand for) the observations of a row.
        let observations = trials
            .as_ref()
            .map_or(missing.rows_used, |t| t.iter().sum::<f64>() as usize);
        let (columns, names) = fixed_columns(
            cohort,
            cohort,
            formula,
            &rows,
            None,
            options,
            Some(observations),
        )?;
        let n = rows.len();
        let x = DMatrix::from_vec(n, names.len(), columns);
        let drop = aliased_columns(&x);
        let aliased: Vec<String> = drop.iter().map(|&j| names[j].clone()).collect();
        let keep: Vec<usize> = (0..names.len()).filter(|j| !drop.contains(j)).collect();
        let x = if drop.is_empty() {
            x
        } else {
            x.select_columns(&keep)
        };
        let names = keep.iter().map(|&j| names[j].clone()).collect();
        Ok(Design {
            x,
            names,
            aliased,
            intercept: formula.intercept,
            y,
            trials,
            offset,
            rows,
            missing,
        })
    }

    /// The fixed-effect rows of the cohort rows `rows` in the columns `names` of a design fitted
    /// to `level_rows` (its factor levels) of `fitted` (the constants of its `scale()` and
    /// `poly()` terms): the design of a counterfactual cohort, one whose treatment column was
    /// changed, for the same patients.
    pub(crate) fn rows_like(
        cohort: &Cohort,
        fitted: &Cohort,
        formula: &Formula,
        options: &DesignOptions,
        rows: &[usize],
        level_rows: &[usize],
        names: &[String],
    ) -> Result<DMatrix<f64>> {
        let (columns, all) = fixed_columns(
            cohort,
            fitted,
            formula,
            rows,
            Some(level_rows),
            options,
            None,
        )?;
        let n = rows.len();
        let mut x = DMatrix::zeros(n, names.len());
        for (j, name) in names.iter().enumerate() {
            let k = all.iter().position(|a| a == name).ok_or_else(|| {
                Error::invalid(
                    "formula",
                    format!("the column '{name}' of the fitted design cannot be rebuilt"),
                )
            })?;
            x.set_column(j, &DVector::from_column_slice(&columns[k * n..(k + 1) * n]));
        }
        Ok(x)
    }

    /// Number of design rows: the rows used, or their patterns when rows were collapsed (the
    /// rows used are then `missing.rows_used`).
    pub fn n(&self) -> usize {
        self.rows.len()
    }

    /// Number of (non-aliased) columns.
    pub fn p(&self) -> usize {
        self.x.ncols()
    }
}

/// Rows complete in every variable, and the per-variable missing counts.
fn complete_rows(
    cohort: &Cohort,
    variables: &[String],
    policy: MissingPolicy,
) -> Result<(Vec<usize>, MissingReport)> {
    let n = cohort.n_rows();
    let mut complete = vec![true; n];
    let mut by_variable = Vec::new();
    for v in variables {
        let column = cohort.column(v)?;
        if !column.has_missing() {
            continue;
        }
        let (count, first) = match column {
            Column::Numeric(values) => {
                mark_missing(&mut complete, values.iter().map(|x| x.is_nan()))
            }
            Column::Categorical { codes, .. } => {
                mark_missing(&mut complete, codes.iter().map(|&c| c == MISSING_CODE))
            }
        };
        if let Some(first) = first {
            if policy == MissingPolicy::Error {
                return Err(Error::MissingValues {
                    column: v.clone(),
                    count,
                    first_row: first + 1,
                });
            }
            by_variable.push((v.clone(), count));
        }
    }
    let rows: Vec<usize> = (0..n).filter(|&i| complete[i]).collect();
    if rows.is_empty() {
        return Err(Error::NoCompleteRows { by_variable });
    }
    let report = MissingReport {
        rows_in: n,
        rows_used: rows.len(),
        by_variable,
    };
    Ok((rows, report))
}

/// Clear `complete` where `missing` is true; the number of missing values and the first.
fn mark_missing(
    complete: &mut [bool],
    missing: impl Iterator<Item = bool>,
) -> (usize, Option<usize>) {
    let mut count = 0;
    let mut first = None;
    for (i, (ok, m)) in complete.iter_mut().zip(missing).enumerate() {
        if m {
            *ok = false;
            count += 1;
            first.get_or_insert(i);
        }
    }
    (count, first)
}

impl UsedRows {
    /// The prior weights of these rows: see [`prior_weights`].
    pub(crate) fn prior_weights(&self, cohort: &Cohort, column: Option<&str>) -> Result<Vec<f64>> {
        prior_weights(cohort, column, &self.rows, self.trials.as_deref())
    }
}

impl Design {
    /// The prior weights of the design's rows: see [`prior_weights`].
    pub(crate) fn prior_weights(&self, cohort: &Cohort, column: Option<&str>) -> Result<Vec<f64>> {
        prior_weights(cohort, column, &self.rows, self.trials.as_deref())
    }
}

/// Prior weights on `rows`: the weights column (if any; its values must be positive and finite)
/// times binomial trials (if any), or 1.
fn prior_weights(
    cohort: &Cohort,
    column: Option<&str>,
    rows: &[usize],
    trials: Option<&[f64]>,
) -> Result<Vec<f64>> {
    let mut w = match column {
        Some(c) => {
            let v = numeric_values(cohort, &Expr::Column(c.to_string()), rows)?;
            if let Some(k) = v.iter().position(|x| !(x.is_finite() && *x > 0.0)) {
                return Err(Error::invalid(
                    c,
                    format!(
                        "weights must be positive numbers; data row {} has {}",
                        rows[k] + 1,
                        v[k]
                    ),
                ));
            }
            v
        }
        None => vec![1.0; rows.len()],
    };
    if let Some(trials) = trials {
        w.iter_mut().zip(trials).for_each(|(a, t)| *a *= t);
    }
    Ok(w)
}

/// Numeric values of `expr` on `rows` of `cohort` (see [`Evaluator`]; `scale()` and `poly()`
/// take their constants from `cohort`).
pub(crate) fn numeric_values(cohort: &Cohort, expr: &Expr, rows: &[usize]) -> Result<Vec<f64>> {
    Evaluator::new(cohort, cohort).numeric(expr, rows)
}

fn response(
    cohort: &Cohort,
    response: &Response,
    rows: &[usize],
) -> Result<(Vec<f64>, Option<Vec<f64>>)> {
    match response {
        Response::Single(Expr::Column(c)) if cohort.column_type(c)? == ColumnType::Categorical => {
            Err(Error::invalid(
                c,
                format!(
                    "the response is a text column (values {}); say which value is the event \
                     (--event VALUE in the examples, Cohort::with_event in the library)",
                    cohort
                        .levels(c)?
                        .iter()
                        .take(5)
                        .map(|l| format!("'{l}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
        Response::Single(e) => Ok((numeric_values(cohort, e, rows)?, None)),
        Response::Binomial {
            successes,
            failures,
        } => {
            let s = numeric_values(cohort, successes, rows)?;
            let f = numeric_values(cohort, failures, rows)?;
            let mut y = Vec::with_capacity(rows.len());
            let mut trials = Vec::with_capacity(rows.len());
            for (k, (&si, &fi)) in s.iter().zip(&f).enumerate() {
                if si < 0.0 || fi < 0.0 || si.fract() != 0.0 || fi.fract() != 0.0 {
                    return Err(Error::InvalidResponse {
                        column: format!("cbind({successes}, {failures})"),
                        row: rows[k] + 1,
                        value: if si < 0.0 || si.fract() != 0.0 {
                            si
                        } else {
                            fi
                        },
                        family: "binomial".into(),
                        expected: "successes and failures must be whole numbers >= 0".into(),
                    });
                }
                let n = si + fi;
                trials.push(n);
                y.push(if n > 0.0 { si / n } else { 0.0 });
            }
            Ok((y, Some(trials)))
        }
    }
}

fn offsets(cohort: &Cohort, offsets: &[Expr], rows: &[usize]) -> Result<Option<Vec<f64>>> {
    let mut total: Option<Vec<f64>> = None;
    for e in offsets {
        let v = numeric_values(cohort, e, rows)?;
        total = Some(match total {
            None => v,
            Some(t) => t.iter().zip(&v).map(|(a, b)| a + b).collect(),
        });
    }
    Ok(total)
}

/// A grouping variable (clusters) on a design's rows: a code `0..labels.len()` per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    /// The column.
    pub column: String,
    /// Group code of each design row.
    pub codes: Vec<usize>,
    /// Group labels (sorted), indexed by code.
    pub labels: Vec<String>,
}

impl Grouping {
    /// The groups of `column` (text or numeric) on the cohort rows `rows`.
    pub fn new(cohort: &Cohort, column: &str, rows: &[usize]) -> Result<Grouping> {
        let f = factor_coding(cohort, column, rows, rows, &DesignOptions::default())?;
        Ok(Grouping {
            column: column.to_string(),
            codes: f.codes,
            labels: f.levels,
        })
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no groups.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// A factor on the used rows: its levels (reference first) and a code per row.
struct FactorCoding {
    levels: Vec<String>,
    codes: Vec<usize>,
}

/// One variable of a term, ready to expand into columns.
enum Coded {
    Numeric(Vec<f64>),
    Factor(FactorCoding),
    /// Several numeric columns (`poly(x, k)`), named by the variable and 1, 2, ...
    Basis(Vec<Vec<f64>>),
}

/// Whether `e` is a factor: `factor(x)`, a text column, or a logical expression (R codes a
/// logical as a factor with the levels FALSE and TRUE).
fn is_factor(cohort: &Cohort, e: &Expr) -> Result<bool> {
    Ok(match e {
        Expr::Factor(_) => true,
        Expr::Column(c) => matches!(cohort.column(c)?, Column::Categorical { .. }),
        other => other.is_logical(),
    })
}

/// A logical variable (1 TRUE, 0 FALSE) as R's `model.matrix` codes it: a factor with the
/// levels FALSE and TRUE, both kept whichever occur (`I(week > 2)TRUE`).
fn logical_coding(values: &[f64]) -> FactorCoding {
    FactorCoding {
        levels: vec!["FALSE".into(), "TRUE".into()],
        codes: values.iter().map(|&v| usize::from(v != 0.0)).collect(),
    }
}

/// The levels used by `level_rows` (R drops unused levels), reference level first, and the
/// code of each of `rows` (whose values must be among those of `level_rows`).
fn factor_coding(
    cohort: &Cohort,
    column: &str,
    level_rows: &[usize],
    rows: &[usize],
    options: &DesignOptions,
) -> Result<FactorCoding> {
    let (labels, raw): (Vec<String>, Vec<usize>) = match cohort.column(column)? {
        Column::Categorical { codes, levels } => {
            let mut used = vec![false; levels.len()];
            for &i in level_rows {
                used[codes[i] as usize] = true;
            }
            let remap = renumber(&used);
            let labels = levels
                .iter()
                .zip(&used)
                .filter(|(_, u)| **u)
                .map(|(l, _)| l.clone());
            let raw = rows.iter().map(|&i| remap[codes[i] as usize]);
            (labels.collect(), raw.collect())
        }
        Column::Numeric(v) => {
            let mut seen = collapse::KeySet::default();
            let mut distinct: Vec<f64> = level_rows
                .iter()
                .map(|&i| v[i])
                .filter(|x| seen.insert(x.to_bits()))
                .collect();
            distinct.sort_by(f64::total_cmp);
            let raw = rows
                .iter()
                .map(|&i| distinct.partition_point(|d| *d < v[i]))
                .collect();
            (distinct.iter().map(|d| format_level(*d)).collect(), raw)
        }
    };
    debug_assert!(raw.iter().all(|&c| c != MISSING_CODE as usize));
    let reference = options
        .reference_levels
        .iter()
        .find(|(c, _)| c == column)
        .map(|(_, l)| l);
    let Some(reference) = reference else {
        return Ok(FactorCoding {
            levels: labels,
            codes: raw,
        });
    };
    let r = labels.iter().position(|l| l == reference).ok_or_else(|| {
        Error::invalid(
            "reference_levels",
            format!(
                "column '{column}' has no level '{reference}' (levels: {})",
                labels.join(", ")
            ),
        )
    })?;
    // Move level r to the front, keeping the others in order (R's relevel).
    let mut levels = vec![labels[r].clone()];
    levels.extend(
        labels
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != r)
            .map(|(_, l)| l.clone()),
    );
    let codes = raw
        .into_iter()
        .map(|c| match c.cmp(&r) {
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Less => c + 1,
            std::cmp::Ordering::Greater => c,
        })
        .collect();
    Ok(FactorCoding { levels, codes })
}

/// New codes for the used levels, in order.
fn renumber(used: &[bool]) -> Vec<usize> {
    let mut next = 0;
    used.iter()
        .map(|&u| {
            let c = next;
            if u {
                next += 1;
            }
            c
        })
        .collect()
}

/// A number as R's `as.character` prints a factor level: integers without a decimal point.
pub(crate) fn format_level(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Whether each factor variable of each term is coded by contrasts (`true`) or by indicators.
fn contrast_flags(cohort: &Cohort, formula: &Formula) -> Result<Vec<Vec<bool>>> {
    let mut flags = Vec::with_capacity(formula.terms.len());
    for (t, term) in formula.terms.iter().enumerate() {
        let mut row = Vec::with_capacity(term.vars.len());
        for v in &term.vars {
            let rest: Vec<&Expr> = term.vars.iter().filter(|w| *w != v).collect();
            let margin_present = rest.is_empty()
                || formula.terms[..t]
                    .iter()
                    .any(|earlier| rest.iter().all(|r| earlier.vars.contains(r)));
            row.push(margin_present);
        }
        flags.push(row);
    }
    if !formula.intercept {
        'outer: for (t, term) in formula.terms.iter().enumerate() {
            for (k, v) in term.vars.iter().enumerate() {
                if is_factor(cohort, v)? {
                    flags[t][k] = false;
                    break 'outer;
                }
            }
        }
    }
    Ok(flags)
}

/// The columns of the fixed part on `rows` of `cohort`, one after another (column-major), and
/// their names, before alias removal; `scale()` and `poly()` take their constants from `fitted`
/// (see [`Evaluator`]). Factor levels are those used by `rows`, or by `levels_from` when given
/// (a counterfactual design, see [`counterfactual_x`]; a constant main effect is then no error).
/// When `rows_used` (the observations a model is fitted to: patients, or binomial trials) is
/// given, a factor with more than half as many levels, or more coefficients than that, is an
/// error.
fn fixed_columns(
    cohort: &Cohort,
    fitted: &Cohort,
    formula: &Formula,
    rows: &[usize],
    levels_from: Option<&[usize]>,
    options: &DesignOptions,
    rows_used: Option<usize>,
) -> Result<(Vec<f64>, Vec<String>)> {
    let level_rows = levels_from.unwrap_or(rows);
    let n = rows.len();
    let mut columns = Vec::new();
    let mut names = Vec::new();
    if formula.intercept {
        columns.resize(n, 1.0);
        names.push("(Intercept)".to_string());
    }
    let flags = contrast_flags(cohort, formula)?;
    let evaluator = Evaluator::new(cohort, fitted);
    for (term, term_flags) in formula.terms.iter().zip(&flags) {
        let mut block: Vec<(Vec<f64>, String)> = Vec::new();
        for (v, &contrasts) in term.vars.iter().zip(term_flags) {
            let coded = if is_factor(cohort, v)? && !v.is_logical() {
                let column = v.columns()[0];
                let coding = factor_coding(cohort, column, level_rows, rows, options)?;
                if let Some(rows_used) = rows_used {
                    check_factor_size(&coding, v, term, rows_used)?;
                }
                Coded::Factor(coding)
            } else {
                match evaluator.values(v, rows)? {
                    Values::Numeric(x) => Coded::Numeric(x),
                    Values::Logical(x) => Coded::Factor(logical_coding(&x)),
                    Values::Basis(columns) => Coded::Basis(columns),
                }
            };
            block = expand_variable(block, v, coded, contrasts, term)?;
        }
        if term.vars.len() == 1 && levels_from.is_none() {
            check_not_constant(&block, term)?;
        }
        let p = names.len() + block.len();
        if let Some(rows_used) = rows_used.filter(|&r| p > r) {
            return Err(Error::too_few(
                format!(
                    "the fixed effects up to term '{}' ({p} coefficients)",
                    term.label()
                ),
                "rows",
                rows_used,
                p,
            ));
        }
        for (col, name) in block {
            columns.extend_from_slice(&col);
            names.push(name);
        }
    }
    Ok((columns, names))
}

/// A factor with more than half as many levels as rows is refused before its columns are built:
/// it is nearly always a column of numbers (or identifiers) read as text, and would give a
/// coefficient per value.
fn check_factor_size(coding: &FactorCoding, v: &Expr, term: &Term, n: usize) -> Result<()> {
    let levels = coding.levels.len();
    if 2 * levels <= n {
        return Ok(());
    }
    Err(Error::too_few(
        format!(
            "the factor '{v}' in term '{}' has {levels} levels, more than half the rows (a \
             column of numbers or identifiers read as text?)",
            term.label()
        ),
        "rows",
        n,
        2 * levels,
    ))
}

/// Multiply the columns built so far by the columns of one more variable (earlier variables vary
/// fastest, as in R). An empty `block` stands for the single column of ones that starts a term.
fn expand_variable(
    block: Vec<(Vec<f64>, String)>,
    v: &Expr,
    coded: Coded,
    contrasts: bool,
    term: &Term,
) -> Result<Vec<(Vec<f64>, String)>> {
    let stem = v.to_string();
    let join = |prefix: &str, name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}:{name}")
        }
    };
    // `None` is the column of ones.
    let block: Vec<(Option<Vec<f64>>, String)> = if block.is_empty() {
        vec![(None, String::new())]
    } else {
        block.into_iter().map(|(c, name)| (Some(c), name)).collect()
    };
    let mut out = Vec::new();
    match coded {
        Coded::Numeric(values) => {
            let single = block.len() == 1 && block[0].0.is_none();
            if single {
                out.push((values, stem));
            } else {
                for (col, name) in block {
                    let c = match col {
                        Some(col) => col.iter().zip(&values).map(|(a, b)| a * b).collect(),
                        None => values.clone(),
                    };
                    out.push((c, join(&name, &stem)));
                }
            }
        }
        Coded::Basis(columns) => {
            for (k, values) in columns.iter().enumerate() {
                for (col, name) in &block {
                    let c = match col {
                        Some(col) => col.iter().zip(values).map(|(a, b)| a * b).collect(),
                        None => values.clone(),
                    };
                    out.push((c, join(name, &format!("{stem}{}", k + 1))));
                }
            }
        }
        Coded::Factor(f) => {
            if f.levels.len() < 2 && contrasts {
                return Err(Error::ConstantTerm {
                    term: term.label(),
                    value: format!("level '{}'", f.levels.first().cloned().unwrap_or_default()),
                });
            }
            let first = usize::from(contrasts);
            for level in first..f.levels.len() {
                for (col, name) in &block {
                    let c = match col {
                        Some(col) => col
                            .iter()
                            .zip(&f.codes)
                            .map(|(a, &code)| if code == level { *a } else { 0.0 })
                            .collect(),
                        None => f
                            .codes
                            .iter()
                            .map(|&code| f64::from(u8::from(code == level)))
                            .collect(),
                    };
                    out.push((c, join(name, &format!("{stem}{}", f.levels[level]))));
                }
            }
        }
    }
    Ok(out)
}

/// A numeric main effect that takes one value cannot be estimated: say so by name.
fn check_not_constant(block: &[(Vec<f64>, String)], term: &Term) -> Result<()> {
    if let [(col, _)] = block {
        if let Some(first) = col.first() {
            if col.iter().all(|v| v == first) {
                return Err(Error::ConstantTerm {
                    term: term.label(),
                    value: format_level(*first),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cohort() -> Cohort {
        let cat = |v: &[&str]| {
            let mut levels: Vec<String> = v.iter().map(|s| s.to_string()).collect();
            levels.sort();
            levels.dedup();
            let codes = v
                .iter()
                .map(|s| levels.iter().position(|l| l == s).unwrap() as u32)
                .collect();
            Column::Categorical { codes, levels }
        };
        Cohort::from_columns(vec![
            (
                "y".into(),
                Column::Numeric(vec![0., 1., 0., 1., 1., 0., 0., 1.]),
            ),
            (
                "treated".into(),
                Column::Numeric(vec![0., 0., 1., 1., 0., 1., 1., 0.]),
            ),
            (
                "period".into(),
                Column::Numeric(vec![1., 2., 3., 1., 2., 3., 1., 2.]),
            ),
            (
                "age".into(),
                Column::Numeric(vec![70., 81., f64::NAN, 90., 66., 75., 88., 79.]),
            ),
            ("sex".into(), cat(&["F", "M", "F", "F", "M", "M", "F", "F"])),
        ])
        .unwrap()
    }

    fn design(f: &str) -> Design {
        Design::new(
            &cohort(),
            &Formula::parse(f).unwrap(),
            &DesignOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn r_column_names_and_complete_cases() {
        let d = design("y ~ treated + factor(period) + age + sex");
        assert_eq!(
            d.names,
            [
                "(Intercept)",
                "treated",
                "factor(period)2",
                "factor(period)3",
                "age",
                "sexM"
            ]
        );
        assert_eq!(d.n(), 7);
        assert_eq!(d.missing.by_variable, [("age".to_string(), 1)]);
        assert_eq!(d.rows, [0, 1, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn interaction_coding_follows_r() {
        assert_eq!(
            design("y ~ treated * sex").names,
            ["(Intercept)", "treated", "sexM", "treated:sexM"]
        );
        assert_eq!(
            design("y ~ age + treated:sex").names,
            ["(Intercept)", "age", "treated:sexF", "treated:sexM"]
        );
        assert_eq!(
            design("y ~ 0 + sex + treated").names,
            ["sexF", "sexM", "treated"]
        );
        // Indicators for both factors; the empty cell M x 1 and the last column are aliased.
        let d = design("y ~ sex:factor(period)");
        assert_eq!(
            d.names[..3],
            [
                "(Intercept)",
                "sexF:factor(period)1",
                "sexF:factor(period)2"
            ]
        );
        assert_eq!(d.aliased, ["sexM:factor(period)1", "sexM:factor(period)3"]);
    }

    #[test]
    fn logical_and_poly_terms_are_coded_as_r_codes_them() {
        assert_eq!(
            design("y ~ I(period > 1) + treated:poly(period, 2)").names,
            [
                "(Intercept)",
                "I(period > 1)TRUE",
                "treated:poly(period, 2)1",
                "treated:poly(period, 2)2"
            ]
        );
        let d = design("y ~ 0 + I(period > 1) + I(period^2)");
        assert_eq!(
            d.names,
            ["I(period > 1)FALSE", "I(period > 1)TRUE", "I(period^2)"]
        );
        let period = [1., 2., 3., 1., 2., 3., 1., 2.];
        for (k, &row) in d.rows.iter().enumerate() {
            let p: f64 = period[row];
            assert_eq!(d.x[(k, 1)], f64::from(u8::from(p > 1.0)));
            assert_eq!(d.x[(k, 2)], p * p);
        }
    }

    #[test]
    fn reference_level_and_errors() {
        let opts = DesignOptions {
            reference_levels: vec![("sex".into(), "M".into())],
            ..DesignOptions::default()
        };
        let d = Design::new(&cohort(), &Formula::parse("y ~ sex").unwrap(), &opts).unwrap();
        assert_eq!(d.names, ["(Intercept)", "sexF"]);
        let e = Design::new(
            &cohort(),
            &Formula::parse("y ~ age").unwrap(),
            &DesignOptions {
                missing: MissingPolicy::Error,
                ..DesignOptions::default()
            },
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("column 'age' has 1 missing value(s), first at data row 3"),
            "{e}"
        );
        let e = Design::new(
            &cohort(),
            &Formula::parse("y ~ treatd").unwrap(),
            &DesignOptions::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("did you mean 'treated'"), "{e}");
    }

    #[test]
    fn aliased_and_constant_columns() {
        let c = cohort();
        let c2 = Cohort::from_columns(
            c.names()
                .iter()
                .map(|n| (n.clone(), c.column(n).unwrap().clone()))
                .chain([
                    (
                        "t2".into(),
                        Column::Numeric(vec![0., 0., 2., 2., 0., 2., 2., 0.]),
                    ),
                    ("one".into(), Column::Numeric(vec![1.; 8])),
                ])
                .collect(),
        )
        .unwrap();
        let f = Formula::parse("y ~ treated + t2 + period").unwrap();
        let d = Design::new(&c2, &f, &DesignOptions::default()).unwrap();
        assert_eq!(d.names, ["(Intercept)", "treated", "period"]);
        assert_eq!(d.aliased, ["t2"]);
        let f = Formula::parse("y ~ one").unwrap();
        let e = Design::new(&c2, &f, &DesignOptions::default()).unwrap_err();
        assert!(e.to_string().contains("term 'one' is constant"), "{e}");
    }

    #[test]
    fn factors_of_nearly_one_level_per_row_and_too_many_coefficients_are_refused() {
        let design_err = |f: &str| {
            let f = Formula::parse(f).unwrap();
            Design::new(&cohort(), &f, &DesignOptions::default()).unwrap_err()
        };
        // 7 complete rows: factor(age) has 7 levels.
        let e = design_err("y ~ treated + factor(age)");
        assert_eq!(
            e.to_string(),
            "the factor 'factor(age)' in term 'factor(age)' has 7 levels, more than half the \
             rows (a column of numbers or identifiers read as text?): 7 rows, at least 14 needed"
        );
        // factor(period) has 3 levels of 8 rows; with interactions the 9th coefficient is one
        // too many.
        let e = design_err("y ~ factor(period) * treated * sex");
        assert_eq!(
            e.to_string(),
            "the fixed effects up to term 'factor(period):sex' (9 coefficients): 8 rows, at \
             least 9 needed"
        );
        assert_eq!(design("y ~ factor(period)").p(), 3);
    }
}
