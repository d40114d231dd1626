//! Any number of random-effect terms: grouping factors crossed (`(1 | hospital) +
//! (1 | municipality)`), partially crossed or nested, each term a scalar effect or up to
//! [`MAX_CORRELATED_TERMS`] correlated effects, the terms independent of one another (lme4's
//! random-effect structure).
//!
//! The random-effect vector `b` stacks one block per term (terms ordered as lme4 orders them: by
//! decreasing number of levels, ties in the order written), each block one q_t-vector per level
//! of the term's grouping factor. `Lambda` is block diagonal: per level of term t a copy of the
//! term's lower-triangular q_t x q_t factor, so theta is the terms' factors in order, each column
//! by column (lme4's `getME(, "theta")`). The likelihood does not factorise over any grouping
//! factor: all rows form one group whose random-effect vector is all of `b`.

use nalgebra::DMatrix;

use super::{correlated_columns, grouping, RandomSetup, ThetaStructure, MAX_CORRELATED_TERMS};
use crate::core::error::{Error, Result};
use crate::data::Cohort;
use crate::frame::design::{Design, Grouping};
use crate::frame::formula::RandomTerm;

/// The label of the one group of a general structure (for messages about its conditional mode).
const ALL_ROWS: &str = "(all rows)";

/// One random-effect term of a general structure and where it sits in `b` and theta.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TermBlock {
    /// The grouping factor, e.g. `LOCATION:BROOD`.
    pub group: String,
    /// Names of the term's effects, e.g. `["(Intercept)", "treated"]`.
    pub terms: Vec<String>,
    /// Levels of the grouping factor.
    pub levels: Vec<String>,
    /// Position of the block's first effect in `b`.
    pub offset: usize,
    /// Position of the term's first theta.
    pub theta_start: usize,
}

impl TermBlock {
    /// Effects per level.
    pub fn q(&self) -> usize {
        self.terms.len()
    }
}

/// A term with its z columns, its effects' names and its grouping factor on the design rows.
type BuiltTerm<'t> = (&'t RandomTerm, Vec<Vec<f64>>, Vec<String>, Grouping);

/// The random part of several terms.
pub(super) fn general(
    cohort: &Cohort,
    formula: &str,
    terms: &[RandomTerm],
    design: &Design,
) -> Result<RandomSetup> {
    let n = design.n();
    // (term, its columns, names, grouping), then ordered by decreasing number of levels.
    let mut built: Vec<BuiltTerm<'_>> = Vec::new();
    for term in terms {
        let (columns, names) = correlated_columns(cohort, formula, term, design)?;
        let groups = grouping(cohort, &term.group, term.group_name(), design)?;
        built.push((term, columns, names, groups));
    }
    built.sort_by_key(|(_, _, _, g)| std::cmp::Reverse(g.len()));
    let mut blocks = Vec::with_capacity(built.len());
    let (mut offset, mut theta_start) = (0, 0);
    for (term, _, names, groups) in &built {
        let q = names.len();
        if q > MAX_CORRELATED_TERMS {
            return Err(Error::unsupported(
                formula,
                &format!("{} with {q} random effects", term.text),
                &format!("1 to {MAX_CORRELATED_TERMS} correlated random effects are supported"),
            ));
        }
        blocks.push(TermBlock {
            group: term.group_name(),
            terms: names.clone(),
            levels: groups.labels.clone(),
            offset,
            theta_start,
        });
        offset += q * groups.len();
        theta_start += q * (q + 1) / 2;
    }
    let total = offset;
    let mut z = DMatrix::zeros(n, total);
    for ((_, columns, _, groups), block) in built.iter().zip(&blocks) {
        for i in 0..n {
            let first = block.offset + groups.codes[i] * block.q();
            for (r, column) in columns.iter().enumerate() {
                z[(i, first + r)] = column[i];
            }
        }
    }
    let structure = ThetaStructure::blocks(
        &blocks
            .iter()
            .map(|b| (b.offset, b.q(), b.levels.len()))
            .collect::<Vec<_>>(),
    );
    let theta_names = blocks
        .iter()
        .flat_map(|b| {
            (0..b.q()).flat_map(move |c| {
                (c..b.q()).map(move |r| (r == c).then(|| (b.group.clone(), b.terms[r].clone())))
            })
        })
        .collect();
    let mode_labels = vec![blocks
        .iter()
        .flat_map(|b| {
            b.levels.iter().flat_map(move |level| {
                b.terms
                    .iter()
                    .map(move |t| Some((b.group.clone(), level.clone(), t.clone())))
            })
        })
        .collect()];
    Ok(RandomSetup {
        structure,
        z,
        groups: Grouping {
            column: ALL_ROWS.to_string(),
            codes: vec![0; n],
            labels: vec![ALL_ROWS.to_string()],
        },
        theta_names,
        terms: Vec::new(),
        n_groups: blocks
            .iter()
            .map(|b| (b.group.clone(), b.levels.len()))
            .collect(),
        mode_labels,
        nested: false,
        blocks,
    })
}
