//! From the formula's random-effect terms to the per-group random-effect design: the grouping
//! factor, the z rows, how theta fills Lambda, and the names lme4 gives to each variance and each
//! conditional mode.
//!
//! Three structures: one term with up to 3 correlated effects, `(1 | g)`, `(1 + x | g)`,
//! `(0 + x | g)`, and two nested intercepts, `(1 | g) + (1 | g:h)` (each level of `g:h` lies in one
//! level of `g`), whose likelihoods factorise over the levels of `g` (the fast paths); and any
//! other set of terms (crossed, partially crossed, uncorrelated `(1 + x || g)`; see `general`).

use nalgebra::DMatrix;

mod general;
mod structure;

use crate::core::error::{Error, Result};
use crate::data::Cohort;
use crate::frame::design::{numeric_values, Design, Grouping};
use crate::frame::formula::{Formula, RandomTerm};
pub(crate) use general::TermBlock;
pub(crate) use structure::ThetaStructure;

/// Most correlated random effects per grouping factor.
pub const MAX_CORRELATED_TERMS: usize = 3;

/// The random-effect part of a model, ready for the likelihood.
#[derive(Debug, Clone)]
pub(crate) struct RandomSetup {
    pub structure: ThetaStructure,
    /// Row-wise z (n x q).
    pub z: DMatrix<f64>,
    /// The outer grouping factor: the likelihood factorises over its levels.
    pub groups: Grouping,
    /// For each theta that is a standard deviation: (group name, term name); for a correlation
    /// parameter of correlated terms: `None`.
    pub theta_names: Vec<Option<(String, String)>>,
    /// Term names of the correlated effects (single-factor case), for SDs and correlations.
    pub terms: Vec<String>,
    /// Grouping factor names and numbers of levels, e.g. `[("cluster", 12)]`.
    pub n_groups: Vec<(String, usize)>,
    /// For every group and position 0..q of its random-effect vector: (grouping factor, level,
    /// term), or `None` for an unused position (an inner level absent from the group).
    pub mode_labels: Vec<Vec<Option<(String, String, String)>>>,
    /// Whether this is the nested structure.
    pub nested: bool,
    /// The terms of the general structure (several terms other than two nested intercepts: all
    /// rows form one group); empty for the two structures that factorise over groups.
    pub blocks: Vec<TermBlock>,
}

impl RandomSetup {
    /// Build the random part of `formula` on `design`'s rows.
    pub fn new(cohort: &Cohort, formula: &Formula, design: &Design) -> Result<RandomSetup> {
        let text = &formula.text;
        match formula.random.as_slice() {
            [] => Err(Error::unsupported(
                text,
                "a formula without a random-effect term",
                "a mixed model needs a random-effect term such as (1 | cluster); fit a model \
                 without one with Glm",
            )),
            [one] => correlated(cohort, text, one, design),
            [a, b] => match nested_intercepts(a, b) {
                Some((outer, inner)) => nested(cohort, outer, inner, design),
                None => general::general(cohort, text, &[a.clone(), b.clone()], design),
            },
            many => general::general(cohort, text, many, design),
        }
    }

    /// Whether this is the general structure (all rows one group).
    pub fn is_general(&self) -> bool {
        !self.blocks.is_empty()
    }
}

/// For two random intercepts of which one is nested in the other, `(1 | g) + (1 | g:h)`: the
/// outer and the inner term.
fn nested_intercepts<'t>(
    a: &'t RandomTerm,
    b: &'t RandomTerm,
) -> Option<(&'t RandomTerm, &'t RandomTerm)> {
    let (outer, inner) = if a.group.len() < b.group.len() {
        (a, b)
    } else {
        (b, a)
    };
    let intercept_only = |t: &RandomTerm| t.intercept && t.slopes.is_empty();
    (intercept_only(outer)
        && intercept_only(inner)
        && inner.group.len() > outer.group.len()
        && inner.group.starts_with(&outer.group))
    .then_some((outer, inner))
}

/// Groups of a (possibly compound, `g:h`) grouping factor on the design rows.
fn grouping(cohort: &Cohort, group: &[String], name: String, design: &Design) -> Result<Grouping> {
    if let [single] = group {
        return Grouping::new(cohort, single, &design.rows);
    }
    let parts: Vec<Grouping> = group
        .iter()
        .map(|g| Grouping::new(cohort, g, &design.rows))
        .collect::<Result<_>>()?;
    let row_labels: Vec<String> = (0..design.n())
        .map(|i| {
            let labels: Vec<&str> = parts
                .iter()
                .map(|g| g.labels[g.codes[i]].as_str())
                .collect();
            labels.join(":")
        })
        .collect();
    let mut labels = row_labels.clone();
    labels.sort();
    labels.dedup();
    let codes = row_labels
        .iter()
        .map(|l| labels.binary_search(l).unwrap_or(0))
        .collect();
    Ok(Grouping {
        column: name,
        codes,
        labels,
    })
}

/// The z columns of one term's effects on the design rows, and the effects' names.
fn correlated_columns(
    cohort: &Cohort,
    formula: &str,
    term: &RandomTerm,
    design: &Design,
) -> Result<(Vec<Vec<f64>>, Vec<String>)> {
    let mut columns: Vec<Vec<f64>> = Vec::new();
    let mut terms = Vec::new();
    if term.intercept {
        columns.push(vec![1.0; design.n()]);
        terms.push("(Intercept)".to_string());
    }
    for slope in &term.slopes {
        match slope.vars.as_slice() {
            [v] => columns.push(numeric_values(cohort, v, &design.rows)?),
            _ => {
                return Err(Error::unsupported(
                    formula,
                    &format!("the random slope '{}' in {}", slope.label(), term.text),
                    "only numeric main effects are supported as random slopes",
                ))
            }
        }
        terms.push(slope.label());
    }
    Ok((columns, terms))
}

/// One grouping factor with correlated effects.
fn correlated(
    cohort: &Cohort,
    formula: &str,
    term: &RandomTerm,
    design: &Design,
) -> Result<RandomSetup> {
    let (columns, terms) = correlated_columns(cohort, formula, term, design)?;
    let q = columns.len();
    if q == 0 || q > MAX_CORRELATED_TERMS {
        return Err(Error::unsupported(
            formula,
            &format!("{} with {q} random effects", term.text),
            &format!("1 to {MAX_CORRELATED_TERMS} correlated random effects are supported"),
        ));
    }
    let name = term.group_name();
    let groups = grouping(cohort, &term.group, name.clone(), design)?;
    let structure = ThetaStructure::correlated(q);
    let theta_names = structure
        .entries
        .iter()
        .map(|e| {
            let (r, c) = e[0];
            (r == c).then(|| (name.clone(), terms[r].clone()))
        })
        .collect();
    let mode_labels = groups
        .labels
        .iter()
        .map(|level| {
            terms
                .iter()
                .map(|t| Some((name.clone(), level.clone(), t.clone())))
                .collect()
        })
        .collect();
    Ok(RandomSetup {
        z: DMatrix::from_fn(design.n(), q, |i, j| columns[j][i]),
        n_groups: vec![(name, groups.len())],
        structure,
        groups,
        theta_names,
        terms,
        mode_labels,
        nested: false,
        blocks: Vec::new(),
    })
}

/// Two nested random intercepts, the outer `(1 | g)` and the inner `(1 | g:h)`.
fn nested(
    cohort: &Cohort,
    outer: &RandomTerm,
    inner: &RandomTerm,
    design: &Design,
) -> Result<RandomSetup> {
    let outer_name = outer.group_name();
    let inner_name = inner.group_name();
    let groups = grouping(cohort, &outer.group, outer_name.clone(), design)?;
    let inner_groups = grouping(cohort, &inner.group, inner_name.clone(), design)?;
    // Local index (1-based) of each inner level within its outer group.
    let mut local: Vec<Vec<usize>> = vec![Vec::new(); groups.len()];
    let mut position = vec![0usize; inner_groups.len()];
    for i in 0..design.n() {
        let (g, h) = (groups.codes[i], inner_groups.codes[i]);
        if position[h] == 0 {
            local[g].push(h);
            position[h] = local[g].len();
        }
    }
    let max_inner = local.iter().map(Vec::len).max().unwrap_or(0);
    let q = 1 + max_inner;
    let z = DMatrix::from_fn(design.n(), q, |i, j| {
        if j == 0 || j == position[inner_groups.codes[i]] {
            1.0
        } else {
            0.0
        }
    });
    let mode_labels = (0..groups.len())
        .map(|g| {
            let mut row = vec![Some((
                outer_name.clone(),
                groups.labels[g].clone(),
                "(Intercept)".to_string(),
            ))];
            row.extend((0..max_inner).map(|k| {
                local[g].get(k).map(|&h| {
                    (
                        inner_name.clone(),
                        inner_groups.labels[h].clone(),
                        "(Intercept)".to_string(),
                    )
                })
            }));
            row
        })
        .collect();
    Ok(RandomSetup {
        structure: ThetaStructure::nested(max_inner),
        z,
        theta_names: vec![
            Some((outer_name.clone(), "(Intercept)".to_string())),
            Some((inner_name.clone(), "(Intercept)".to_string())),
        ],
        terms: vec!["(Intercept)".to_string()],
        n_groups: vec![(outer_name, groups.len()), (inner_name, inner_groups.len())],
        groups,
        mode_labels,
        nested: true,
        blocks: Vec::new(),
    })
}
