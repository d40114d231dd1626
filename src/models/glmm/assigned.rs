//! The likelihood of a fitted mixed model under another assignment of the treatment, built from
//! the fit's covariate patterns without collapsing the rows again.
//!
//! The fit collapsed its rows into patterns: rows that agree in every predictor, the treatment
//! among them. A new assignment is constant within units (a stepped wedge's cluster-periods), so
//! each pattern is split at most by unit: its rows in unit u form a part with weight
//! `m_u = sum w` and mean response `y_u = sum w y / m_u` (the likelihood is linear in `(w, w y)`,
//! so the parts' likelihood is the pattern's whatever the assignment). When every pattern lies in
//! one unit (a model with the period among its predictors) the parts are the patterns themselves,
//! and a refit only rewrites the treatment entry and offset of each: O(patterns) per refit.

use super::patterns::{PatternPart, Patterns};
use super::GlmmFit;
use crate::core::error::{Error, Result};
use crate::data::Cohort;
use crate::models::fitted::{check_units, check_values, Assignment};

/// The fit's patterns split by unit, grouped by cluster: what every refit under another
/// assignment reads.
#[derive(Debug, Clone)]
pub struct Assignable {
    column: usize,
    units: usize,
    parts: Vec<PatternPart>,
    /// The parts of cluster g are `group_start[g]..group_start[g + 1]`.
    group_start: Vec<usize>,
}

impl Assignable {
    /// The parts of `fit`'s patterns for the units `units` of its rows (see
    /// [`crate::models::Fitted::assignable`]).
    pub(super) fn new(
        fit: &GlmmFit,
        cohort: &Cohort,
        column: usize,
        units: &[u32],
    ) -> Result<Assignable> {
        let state = &fit.state;
        let frame = &state.frame;
        let used = &frame.used;
        let patterns = &state.patterns;
        frame.check_cohort(cohort)?;
        check_units(used.rows.len(), patterns.p, column, units)?;
        // The design row (pattern, in the order the fit collapsed them) of each row used.
        let design_row: Vec<u32> = if state.collapsed {
            used.pattern_index(cohort, &frame.formula.predictor_columns())?
        } else {
            (0..used.rows.len() as u32).collect()
        };
        // The fit's patterns are its design rows sorted (stably) by cluster.
        let codes = &state.random.groups.codes;
        let mismatch = || Error::Numerical {
            what: "the refit under another assignment".into(),
            message: "the fit's covariate patterns could not be rebuilt from the cohort (pass \
                      the cohort the model was fitted to)"
                .into(),
        };
        if codes.len() != patterns.len() || design_row.iter().any(|&r| r as usize >= codes.len()) {
            return Err(mismatch());
        }
        let mut position = vec![0; codes.len()];
        let mut next = patterns.group_start.clone();
        for (r, &g) in codes.iter().enumerate() {
            position[r] = next[g];
            next[g] += 1;
        }
        let weight = used.prior_weights(cohort, state.weights.as_deref())?;
        // Per pattern: (unit, summed weight, summed w y) of its rows in each unit.
        let mut sums: Vec<Vec<(u32, f64, f64)>> = vec![Vec::new(); patterns.len()];
        for (i, (&r, &u)) in design_row.iter().zip(units).enumerate() {
            let here = &mut sums[position[r as usize]];
            let (w, wy) = (weight[i], weight[i] * used.y[i]);
            match here.iter_mut().find(|s| s.0 == u) {
                Some(s) => {
                    s.1 += w;
                    s.2 += wy;
                }
                None => here.push((u, w, wy)),
            }
        }
        // The parts in pattern order; those of pattern k start at `first_part[k]`.
        let mut parts = Vec::with_capacity(patterns.len());
        let mut first_part = Vec::with_capacity(patterns.len() + 1);
        for (k, here) in sums.iter().enumerate() {
            first_part.push(parts.len());
            match here.as_slice() {
                [] => return Err(mismatch()),
                // The whole pattern: its own weight and response, exactly the fit's.
                [(unit, _, _)] => parts.push(PatternPart {
                    pattern: k,
                    unit: *unit,
                    share: 1.0,
                    y: patterns.y[k],
                }),
                several => {
                    let total: f64 = several.iter().map(|s| s.1).sum();
                    parts.extend(several.iter().map(|&(unit, w, wy)| PatternPart {
                        pattern: k,
                        unit,
                        share: w / total,
                        y: if w > 0.0 { wy / w } else { 0.0 },
                    }));
                }
            }
        }
        first_part.push(parts.len());
        let group_start = patterns
            .group_start
            .iter()
            .map(|&k| first_part[k])
            .collect();
        Ok(Assignable {
            column,
            units: units.iter().max().map_or(0, |&u| u as usize + 1),
            parts,
            group_start,
        })
    }

    /// Refill `out` with the fit's `patterns` under `assignment`.
    pub(super) fn patterns_into(
        &self,
        patterns: &Patterns,
        assignment: &Assignment<'_>,
        out: &mut Patterns,
    ) -> Result<()> {
        check_values(self.units, assignment)?;
        patterns.reassign_into(
            &self.parts,
            &self.group_start,
            self.column,
            assignment.values,
            assignment.shift,
            out,
        );
        Ok(())
    }
}
