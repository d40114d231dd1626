//! What the mixed models share in their results: the variance components (random-effect SDs
//! and correlations, from theta with lme4's sign convention) and how they are printed.
//!
//! With `Sigma = Lambda Lambda'` the covariance of one group's random effects (Lambda the
//! lower-triangular factor filled from theta), the SD of effect r is `sqrt(Sigma_rr)` and the
//! correlation of effects r and c is `Sigma_rc / sqrt(Sigma_rr Sigma_cc)`; for nested intercepts
//! each theta is an SD of its own.

use std::collections::BTreeMap;

use nalgebra::DMatrix;

use crate::core::error::Error;
use crate::frame::random_effects::{RandomSetup, ThetaStructure};
use crate::models::coef_table::sig;

/// The refusal of the analyses that average over and resample the clusters of one grouping
/// factor (standardised effects, the cluster bootstrap, randomisation tests) for a mixed model
/// of `formula` with several random-effect terms (crossed) over `groups`, which has none.
pub(crate) fn no_clusters_error<'g>(formula: &str, groups: impl Iterator<Item = &'g str>) -> Error {
    let groups: Vec<&str> = groups.collect();
    Error::unsupported(
        formula,
        &format!("the random-effect terms of {}", groups.join(", ")),
        "standardised effects, the cluster bootstrap and randomisation tests of a mixed model \
         need one grouping factor (or two nested intercepts); use the coefficients of this fit, \
         or refit with one clustering factor for these analyses",
    )
}

/// theta with the sign convention of lme4: the diagonal of Lambda non-negative (flipping a
/// column of Lambda leaves `Lambda Lambda'` and the likelihood unchanged).
pub(crate) fn canonical_theta(structure: &ThetaStructure, theta: &[f64]) -> Vec<f64> {
    let lam = structure.lambda(theta);
    let flip: Vec<bool> = (0..structure.q).map(|c| lam[(c, c)] < 0.0).collect();
    theta
        .iter()
        .zip(&structure.entries)
        .map(|(v, entries)| if flip[entries[0].1] { -v } else { *v })
        .collect()
}

/// Random-effect SDs and correlations, listed as lme4 lists them: grouping factors with more
/// levels first.
pub(crate) fn variance_components(
    random: &RandomSetup,
    theta: &[f64],
    sigma: &DMatrix<f64>,
) -> (Vec<RandomEffectSd>, Vec<RandomEffectCorrelation>) {
    if random.nested {
        let mut sds: Vec<RandomEffectSd> = random
            .theta_names
            .iter()
            .zip(theta)
            .filter_map(|(name, t)| {
                name.as_ref().map(|(group, term)| RandomEffectSd {
                    group: group.clone(),
                    term: term.clone(),
                    sd: t.abs(),
                })
            })
            .collect();
        sds.reverse();
        return (sds, Vec::new());
    }
    if random.is_general() {
        return general_components(random, theta);
    }
    let group = &random.n_groups[0].0;
    let q = random.structure.q;
    let sds = (0..q)
        .map(|r| RandomEffectSd {
            group: group.clone(),
            term: random.terms[r].clone(),
            sd: sigma[(r, r)].sqrt(),
        })
        .collect();
    let mut correlations = Vec::new();
    for c in 0..q {
        for r in c + 1..q {
            let denom = (sigma[(r, r)] * sigma[(c, c)]).sqrt();
            if denom > 0.0 {
                correlations.push(RandomEffectCorrelation {
                    group: group.clone(),
                    term1: random.terms[c].clone(),
                    term2: random.terms[r].clone(),
                    correlation: sigma[(r, c)] / denom,
                });
            }
        }
    }
    (sds, correlations)
}

/// The SDs and correlations of each term of the general structure, from its own factor
/// `Sigma_t = Lambda_t Lambda_t'`, terms in lme4's order (more levels first).
fn general_components(
    random: &RandomSetup,
    theta: &[f64],
) -> (Vec<RandomEffectSd>, Vec<RandomEffectCorrelation>) {
    let (mut sds, mut correlations) = (Vec::new(), Vec::new());
    for block in &random.blocks {
        let q = block.q();
        let local = ThetaStructure::correlated(q);
        let lam = local.lambda(&theta[block.theta_start..block.theta_start + local.len()]);
        let sigma = &lam * lam.transpose();
        for r in 0..q {
            sds.push(RandomEffectSd {
                group: block.group.clone(),
                term: block.terms[r].clone(),
                sd: sigma[(r, r)].sqrt(),
            });
        }
        for c in 0..q {
            for r in c + 1..q {
                let denom = (sigma[(r, r)] * sigma[(c, c)]).sqrt();
                if denom > 0.0 {
                    correlations.push(RandomEffectCorrelation {
                        group: block.group.clone(),
                        term1: block.terms[c].clone(),
                        term2: block.terms[r].clone(),
                        correlation: sigma[(r, c)] / denom,
                    });
                }
            }
        }
    }
    (sds, correlations)
}

/// A random-effect standard deviation (and its correlations) as lme4 prints them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RandomEffectSd {
    /// Grouping factor, e.g. `cluster` or `cluster:period`.
    pub group: String,
    /// Term, e.g. `(Intercept)` or `treated`.
    pub term: String,
    /// Standard deviation.
    pub sd: f64,
}

/// Correlation between two random effects of the same group.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RandomEffectCorrelation {
    /// Grouping factor.
    pub group: String,
    /// First term.
    pub term1: String,
    /// Second term.
    pub term2: String,
    /// Correlation.
    pub correlation: f64,
}

/// The groups of each grouping factor as printed: `cluster, 12; cluster:period, 48`.
pub(crate) fn groups_list(n_groups: &BTreeMap<String, usize>) -> String {
    let groups: Vec<String> = n_groups.iter().map(|(g, n)| format!("{g}, {n}")).collect();
    groups.join("; ")
}

/// The rows of the random-effects table as lme4 prints it: a header, then group, term,
/// variance, SD and, for correlated terms, the correlations with the group's earlier terms
/// (`Corr`).
pub(crate) fn random_effects_table(
    sds: &[RandomEffectSd],
    correlations: &[RandomEffectCorrelation],
) -> Vec<Vec<String>> {
    let mut header = ["Group", "Term", "Variance", "Std.Dev."]
        .map(String::from)
        .to_vec();
    if !correlations.is_empty() {
        header.push("Corr".to_string());
    }
    let mut table = vec![header];
    for r in sds {
        let mut row = vec![
            r.group.clone(),
            r.term.clone(),
            sig(r.sd * r.sd, 5),
            sig(r.sd, 5),
        ];
        let with_earlier: Vec<String> = correlations
            .iter()
            .filter(|c| c.group == r.group && c.term2 == r.term)
            .map(|c| format!("{:.2}", c.correlation))
            .collect();
        if !with_earlier.is_empty() {
            row.push(with_earlier.join(" "));
        }
        table.push(row);
    }
    table
}
