//! Fixed effects that vary only between clusters, the between-within degrees of freedom, and
//! the check that no fixed effect is confounded with the clusters themselves.
//!
//! A column of X is *between-cluster* when it is constant within every cluster (the intercept, a
//! cluster-level covariate, the treatment of a parallel cluster trial); otherwise it is
//! *within-cluster* (the treatment of a stepped wedge, period, patient covariates). The
//! between-within method (SAS's `DDFM=BW`, recommended for GLMMs with few clusters by Li & Redden
//! 2015) tests between-cluster coefficients on `G - p_between` degrees of freedom and
//! within-cluster ones on `N - G - p_within`, with G clusters and N observations.

use nalgebra::DMatrix;

use crate::core::error::{Error, Result};

/// For each column of `x`: whether it is constant within every group.
pub(crate) fn between_columns(x: &DMatrix<f64>, groups: &[usize], n_groups: usize) -> Vec<bool> {
    x.column_iter()
        .map(|col| {
            let mut first: Vec<Option<f64>> = vec![None; n_groups];
            col.iter().zip(groups).all(|(&v, &g)| match first[g] {
                None => {
                    first[g] = Some(v);
                    true
                }
                Some(f) => f == v,
            })
        })
        .collect()
}

/// Degrees of freedom per column by the between-within method.
pub(crate) fn between_within_df(between: &[bool], n_obs: usize, n_groups: usize) -> Vec<f64> {
    let p_between = between.iter().filter(|b| **b).count();
    let p_within = between.len() - p_between;
    let df_between = n_groups as f64 - p_between as f64;
    let df_within = n_obs as f64 - n_groups as f64 - p_within as f64;
    between
        .iter()
        .map(|&b| if b { df_between } else { df_within })
        .collect()
}

/// A between-cluster 0/1 column whose value 0 or 1 occurs in fewer than two clusters cannot be
/// told apart from those clusters' random effects; more between-cluster columns than clusters
/// leave nothing to estimate them from.
pub(crate) fn check_cluster_confounding(
    x: &DMatrix<f64>,
    names: &[String],
    between: &[bool],
    groups: &[usize],
    n_groups: usize,
    group_name: &str,
) -> Result<()> {
    let p_between = between.iter().filter(|b| **b).count();
    if p_between >= n_groups {
        let terms = names
            .iter()
            .zip(between)
            .filter(|(_, b)| **b)
            .map(|(n, _)| n.clone())
            .collect();
        return Err(Error::Confounded {
            terms,
            with: format!("'{group_name}'"),
            reason: format!("{p_between} cluster-level coefficients cannot be estimated from {n_groups} clusters"),
        });
    }
    for (j, col) in x.column_iter().enumerate() {
        if !between[j] || names[j] == "(Intercept)" || !col.iter().all(|v| *v == 0.0 || *v == 1.0) {
            continue;
        }
        let mut value = vec![None; n_groups];
        for (&v, &g) in col.iter().zip(groups) {
            value[g] = Some(v);
        }
        let ones = value.iter().filter(|v| **v == Some(1.0)).count();
        let zeros = value.iter().filter(|v| **v == Some(0.0)).count();
        if ones < 2 || zeros < 2 {
            let (k, v) = if ones < 2 { (ones, 1) } else { (zeros, 0) };
            return Err(Error::Confounded {
                terms: vec![names[j].clone()],
                with: format!("'{group_name}'"),
                reason: format!(
                    "it is constant within clusters and only {k} cluster(s) have {} = {v}, so its effect \
                     is not separable from that cluster's random effect",
                    names[j]
                ),
            });
        }
    }
    Ok(())
}
