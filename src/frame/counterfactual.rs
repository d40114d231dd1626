//! The target population of a standardisation: its patients, collapsed into covariate patterns,
//! with each pattern's fixed-effect row under treatment and under control, its random-effect row
//! and its cluster.

use std::collections::HashMap;

use crate::core::error::{Error, Result};
use crate::data::{Cohort, Column};
use crate::frame::design::{format_level, Design, DesignOptions, Evaluator, Grouping, UsedRows};
use crate::frame::formula::{Expr, Formula};
use crate::frame::random_effects::ThetaStructure;

use serde::Serialize;
use std::fmt;

/// The patients whose risks are averaged.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Every patient used by the fit.
    #[default]
    All,
    /// The treated patients (treatment column 1): the effect of treatment on the treated.
    Treated,
    /// A subgroup: `"own_home"` for the rows where the 0/1 column `own_home` is 1, or
    /// `"column=value"` for a level of a text column or a value of a numeric one.
    Subgroup(String),
}

impl Target {
    /// `all`, `treated`, or else a subgroup named as in [`Target::Subgroup`].
    pub fn parse(text: &str) -> Target {
        match text {
            "all" => Target::All,
            "treated" => Target::Treated,
            other => Target::Subgroup(other.to_string()),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::All => f.write_str("all"),
            Target::Treated => f.write_str("treated"),
            Target::Subgroup(s) => f.write_str(s),
        }
    }
}

/// What a fit used, kept with the fit so that analyses acting on it (standardisation, the
/// bootstrap) can rebuild its rows from the cohort: the formula and design options, the rows of
/// the cohort it used (before any collapsing of covariate patterns), the names of its design
/// columns, and its clusters (the column and the labels, by code).
#[derive(Debug, Clone)]
pub struct FitFrame {
    pub(crate) formula: Formula,
    pub(crate) options: DesignOptions,
    pub(crate) used: UsedRows,
    pub(crate) names: Vec<String>,
    pub(crate) clusters: Option<(String, Vec<String>)>,
    /// Rows of the cohort the fit was given.
    cohort_rows: usize,
}

impl FitFrame {
    /// The frame of a fit of `formula` to `cohort` that used the rows `used` and has the design
    /// columns `names` and the clusters `clusters` (column, labels by code).
    pub(crate) fn new(
        cohort: &Cohort,
        formula: &Formula,
        options: &DesignOptions,
        used: UsedRows,
        names: &[String],
        clusters: Option<(&str, &[String])>,
    ) -> FitFrame {
        FitFrame {
            formula: formula.clone(),
            options: options.clone(),
            used,
            names: names.to_vec(),
            clusters: clusters.map(|(c, l)| (c.to_string(), l.to_vec())),
            cohort_rows: cohort.n_rows(),
        }
    }

    /// The cohort's rows the fit used (0-based), in the fit's order.
    pub fn rows(&self) -> &[usize] {
        &self.used.rows
    }

    /// The names of the design columns (R's coefficient names).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The formula fitted.
    pub fn formula(&self) -> &Formula {
        &self.formula
    }

    /// The cluster column, if the fit has clusters.
    pub fn cluster_column(&self) -> Option<&str> {
        self.clusters.as_ref().map(|(c, _)| c.as_str())
    }

    /// `column` must be a variable of the formula's fixed effects, to be set to other values.
    fn check_predictor(&self, context: &str, column: &str) -> Result<()> {
        let predictors = self.formula.predictor_columns();
        if predictors.iter().any(|c| c == column) {
            Ok(())
        } else {
            Err(Error::unknown_term(context, column, &predictors))
        }
    }

    /// An analysis rebuilds the fit's rows from the cohort it is given: it must be the cohort
    /// the model was fitted to (checked by its number of rows).
    pub(crate) fn check_cohort(&self, cohort: &Cohort) -> Result<()> {
        if cohort.n_rows() == self.cohort_rows {
            return Ok(());
        }
        Err(Error::invalid(
            "cohort",
            format!(
                "the model was fitted to a cohort of {} rows and this one has {}: pass the cohort \
                 the model was fitted to",
                self.cohort_rows,
                cohort.n_rows()
            ),
        ))
    }
}

/// The target population's covariate patterns, sorted by cluster. Index 0 of `x` and `z` is
/// the control row (treatment set to 0), index 1 the treated row.
#[derive(Debug, Clone)]
pub(crate) struct TargetRows {
    /// Fixed-effect columns.
    pub p: usize,
    /// Row-major fixed-effect rows under control and under treatment.
    pub x: [Vec<f64>; 2],
    /// The random-effect rows under control and under treatment (row-major, `structure.q`
    /// each), and how theta fills their covariance factor; `None` without random effects.
    pub random: Option<(ThetaStructure, [Vec<f64>; 2])>,
    /// Offsets.
    pub offset: Vec<f64>,
    /// Patients in the pattern.
    pub weight: Vec<f64>,
    /// Patterns of cluster c are `cluster_start[c]..cluster_start[c + 1]`.
    pub cluster_start: Vec<usize>,
}

impl TargetRows {
    /// Number of patterns.
    pub fn len(&self) -> usize {
        self.weight.len()
    }

    /// Number of clusters of the fitted model (1 for a model without clusters).
    pub fn n_clusters(&self) -> usize {
        self.cluster_start.len() - 1
    }

    /// Patients of the target population in each cluster.
    pub fn cluster_weights(&self) -> Vec<f64> {
        (0..self.n_clusters())
            .map(|c| {
                self.weight[self.cluster_start[c]..self.cluster_start[c + 1]]
                    .iter()
                    .sum()
            })
            .collect()
    }
}

/// The numeric 0/1 treatment column must enter the formula as a number (not through
/// `factor()`), so that setting it to 0 or 1 keeps the design's columns.
pub(crate) fn check_treatment(fit: &FitFrame, cohort: &Cohort, treatment: &str) -> Result<()> {
    let formula = &fit.formula;
    let in_factor = formula
        .terms
        .iter()
        .flat_map(|t| &t.vars)
        .any(|v| matches!(v, Expr::Factor(c) if c == treatment));
    if in_factor {
        return Err(Error::unsupported(
            &formula.text,
            &format!("factor({treatment}) for the treatment"),
            "the analyses set the treatment to 0 and 1 (standardisation) or permute it (randomisation tests), so use the numeric 0/1 column itself",
        ));
    }
    fit.check_predictor("treatment", treatment)?;
    let values = match cohort.column(treatment)? {
        Column::Numeric(v) => v,
        Column::Categorical { .. } => {
            return Err(Error::invalid(
                treatment,
                "is a text column; the treatment must be a numeric 0/1 column",
            ))
        }
    };
    if let Some(&i) = fit
        .used
        .rows
        .iter()
        .find(|&&i| values[i] != 0.0 && values[i] != 1.0)
    {
        return Err(Error::invalid(
            treatment,
            format!(
                "has the value {} at data row {}; the treatment must be 0 or 1",
                values[i],
                i + 1
            ),
        ));
    }
    Ok(())
}

/// The rows used by the fit that belong to `target`.
fn target_members(
    fit: &FitFrame,
    cohort: &Cohort,
    treatment: &str,
    target: &Target,
) -> Result<Vec<usize>> {
    let rows = &fit.used.rows;
    let (column, level) = match target {
        Target::All => return Ok((0..rows.len()).collect()),
        Target::Treated => (treatment, None),
        Target::Subgroup(spec) => match spec.split_once('=') {
            Some((c, l)) => (c.trim(), Some(l.trim())),
            None => (spec.trim(), None),
        },
    };
    let member: Box<dyn Fn(usize) -> bool> = match (cohort.column(column)?, level) {
        (Column::Numeric(v), None) => {
            if let Some(&i) = rows
                .iter()
                .find(|&&i| !(v[i] == 0.0 || v[i] == 1.0 || v[i].is_nan()))
            {
                return Err(Error::invalid(
                    "target",
                    format!(
                        "subgroup '{column}' needs a 0/1 column, but it is {} at data row {}; name a \
                         value as '{column}=VALUE'",
                        v[i],
                        i + 1
                    ),
                ));
            }
            Box::new(move |i| v[i] == 1.0)
        }
        (Column::Numeric(v), Some(l)) => {
            let value: f64 = l.parse().map_err(|_| {
                Error::invalid(
                    "target",
                    format!("'{l}' is not a number, and '{column}' is a numeric column"),
                )
            })?;
            Box::new(move |i| v[i] == value)
        }
        (Column::Categorical { codes, levels }, Some(l)) => {
            let code = levels.iter().position(|x| x == l).ok_or_else(|| {
                Error::invalid(
                    "target",
                    format!(
                        "column '{column}' has no level '{l}' (levels: {})",
                        levels.join(", ")
                    ),
                )
            })? as u32;
            Box::new(move |i| codes[i] == code)
        }
        (Column::Categorical { levels, .. }, None) => {
            return Err(Error::invalid(
                "target",
                format!(
                "'{column}' is a text column: name the subgroup as '{column}=LEVEL' (levels: {})",
                levels.join(", ")
            ),
            ))
        }
    };
    let members: Vec<usize> = (0..rows.len()).filter(|&k| member(rows[k])).collect();
    if members.is_empty() {
        return Err(Error::too_few(
            format!("the target population {target} among the patients the model used"),
            "patients",
            0,
            1,
        ));
    }
    Ok(members)
}

/// The values of `modifier` among `rows`, as subgroup names (`column=value`): the levels used
/// of a text column, or the distinct values (at most 20) of a numeric one, sorted.
pub(crate) fn subgroup_values(
    cohort: &Cohort,
    rows: &[usize],
    modifier: &str,
) -> Result<Vec<String>> {
    const MOST: usize = 20;
    match cohort.column(modifier)? {
        Column::Categorical { codes, levels } => {
            let mut used = vec![false; levels.len()];
            for &i in rows {
                if let Some(u) = used.get_mut(codes[i] as usize) {
                    *u = true;
                }
            }
            Ok(levels
                .iter()
                .zip(used)
                .filter(|(_, u)| *u)
                .map(|(l, _)| l.clone())
                .collect())
        }
        Column::Numeric(v) => {
            let mut values: Vec<f64> = rows.iter().map(|&i| v[i]).filter(|x| !x.is_nan()).collect();
            values.sort_by(f64::total_cmp);
            values.dedup();
            if values.len() > MOST {
                return Err(Error::invalid(
                    "modifier",
                    format!(
                        "'{modifier}' takes {} values; subgroups need a 0/1 or categorical column",
                        values.len()
                    ),
                ));
            }
            Ok(values.into_iter().map(format_level).collect())
        }
    }
}

/// The fixed-effect design of the rows the fit used (in its order) with the numeric column
/// `column` set to `value` in every row, and their offsets: what predictions for a
/// counterfactual cohort need.
pub(crate) fn counterfactual_design(
    fit: &FitFrame,
    cohort: &Cohort,
    column: &str,
    value: f64,
) -> Result<(nalgebra::DMatrix<f64>, Vec<f64>)> {
    fit.check_cohort(cohort)?;
    fit.check_predictor("predict", column)?;
    if !matches!(cohort.column(column)?, Column::Numeric(_)) {
        return Err(Error::invalid(
            column,
            "is a text column; set a numeric column",
        ));
    }
    let arm = counterfactual_cohort(fit, cohort, column, value)?;
    let rows = &fit.used.rows;
    let x = Design::rows_like(
        &arm,
        cohort,
        &fit.formula,
        &fit.options,
        rows,
        rows,
        &fit.names,
    )?;
    let offset = fit
        .used
        .offset
        .clone()
        .unwrap_or_else(|| vec![0.0; rows.len()]);
    Ok((x, offset))
}

/// The columns a counterfactual cohort needs (the formula's predictors and the cluster column),
/// with `treatment` set to `value` in every row.
fn counterfactual_cohort(
    fit: &FitFrame,
    cohort: &Cohort,
    treatment: &str,
    value: f64,
) -> Result<Cohort> {
    let mut names = fit.formula.predictor_columns();
    if let Some((c, _)) = &fit.clusters {
        if !names.iter().any(|n| n == c) {
            names.push(c.to_string());
        }
    }
    let n = cohort.n_rows();
    let columns = names
        .into_iter()
        .map(|name| {
            let column = if name == treatment {
                Column::Numeric(vec![value; n])
            } else {
                cohort.column(&name)?.clone()
            };
            Ok((name, column))
        })
        .collect::<Result<Vec<_>>>()?;
    Cohort::from_columns(columns)
}

/// The random-effect rows of `rows` in the variance form used for integration: for one term
/// `(1 + x | g)` its z rows with the fit's structure; for nested intercepts `(1 | g) + (1 | g:h)`
/// the row `(1, 1)` with one SD per entry (the variance of the sum is `theta_g^2 + theta_gh^2`).
/// Slopes are evaluated by `evaluator` (a counterfactual cohort, with the fitted one's `scale()`
/// and `poly()` constants).
fn random_rows(
    formula: &Formula,
    evaluator: &Evaluator,
    rows: &[usize],
) -> Result<Option<(ThetaStructure, Vec<f64>)>> {
    match formula.random.as_slice() {
        [] => Ok(None),
        [term] => {
            let mut columns: Vec<Vec<f64>> = Vec::new();
            if term.intercept {
                columns.push(vec![1.0; rows.len()]);
            }
            for slope in &term.slopes {
                if let [v] = slope.vars.as_slice() {
                    columns.push(evaluator.numeric(v, rows)?);
                }
            }
            let q = columns.len();
            let z = (0..rows.len())
                .flat_map(|i| columns.iter().map(move |c| c[i]))
                .collect();
            Ok(Some((ThetaStructure::correlated(q), z)))
        }
        _ => Ok(Some((ThetaStructure::nested(1), vec![1.0; 2 * rows.len()]))),
    }
}

/// The target population's patterns with their counterfactual rows.
pub(crate) fn target_rows(
    fit: &FitFrame,
    cohort: &Cohort,
    treatment: &str,
    target: &Target,
) -> Result<TargetRows> {
    fit.check_cohort(cohort)?;
    check_treatment(fit, cohort, treatment)?;
    let used = &fit.used;
    let members = target_members(fit, cohort, treatment, target)?;
    let subset = UsedRows {
        rows: members.iter().map(|&k| used.rows[k]).collect(),
        missing: used.missing.clone(),
        y: vec![0.0; members.len()],
        trials: Some(
            members
                .iter()
                .map(|&k| used.trials.as_ref().map_or(1.0, |t| t[k]))
                .collect(),
        ),
        offset: used
            .offset
            .as_ref()
            .map(|o| members.iter().map(|&k| o[k]).collect()),
    };
    let mut keys = fit.formula.predictor_columns();
    if let Some((c, _)) = &fit.clusters {
        if !keys.iter().any(|k| k == c) {
            keys.push(c.to_string());
        }
    }
    let patterns = subset.collapse_by(cohort, &keys)?;
    let reps = &patterns.rows;
    let n = reps.len();
    // Cluster of each pattern, as the fit numbers its clusters.
    let cluster: Vec<usize> = match &fit.clusters {
        None => vec![0; n],
        Some((column, labels)) => {
            let index: HashMap<&str, usize> = labels
                .iter()
                .enumerate()
                .map(|(k, l)| (l.as_str(), k))
                .collect();
            let here = Grouping::new(cohort, column, reps)?;
            here.codes
                .iter()
                .map(|&c| {
                    index.get(here.labels[c].as_str()).copied().ok_or_else(|| {
                        Error::invalid(
                            column,
                            format!(
                                "cluster '{}' is not among the fitted clusters",
                                here.labels[c]
                            ),
                        )
                    })
                })
                .collect::<Result<_>>()?
        }
    };
    let n_clusters = fit.clusters.as_ref().map_or(1, |(_, labels)| labels.len());
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&k| cluster[k]);
    let sorted: Vec<usize> = order.iter().map(|&k| reps[k]).collect();
    let mut cluster_start = vec![0; n_clusters + 1];
    for &k in &order {
        cluster_start[cluster[k] + 1] += 1;
    }
    for c in 0..n_clusters {
        cluster_start[c + 1] += cluster_start[c];
    }
    let p = fit.names.len();
    let mut x: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut z: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut structure = None;
    for a in 0..2 {
        let arm = counterfactual_cohort(fit, cohort, treatment, a as f64)?;
        let design = Design::rows_like(
            &arm,
            cohort,
            &fit.formula,
            &fit.options,
            &sorted,
            &used.rows,
            &fit.names,
        )?;
        x[a] = (0..n)
            .flat_map(|i| (0..p).map(move |j| (i, j)))
            .map(|(i, j)| design[(i, j)])
            .collect();
        if let Some((s, rows)) = random_rows(&fit.formula, &Evaluator::new(&arm, cohort), &sorted)?
        {
            z[a] = rows;
            structure = Some(s);
        }
    }
    let weights = patterns.trials.clone().unwrap_or_else(|| vec![1.0; n]);
    Ok(TargetRows {
        p,
        x,
        random: structure.map(|s| (s, z)),
        offset: order
            .iter()
            .map(|&k| patterns.offset.as_ref().map_or(0.0, |o| o[k]))
            .collect(),
        weight: order.iter().map(|&k| weights[k]).collect(),
        cluster_start,
    })
}
