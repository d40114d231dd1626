//! Variance estimators for the fixed effects of a fitted GLM.
//!
//! With bread `B = (X'WX)^{-1}` (W the working weights at the estimate) and score contributions
//! `u_i = x_i s_i`, `s_i = w_i (dmu/deta)_i (y_i - mu_i) / V(mu_i)`:
//!
//! - `Model`: `phi B`, the inverse Fisher information (R's `vcov`).
//! - `HC0`: `B (sum_i u_i u_i') B` (White); `HC1`: `HC0 * n / (n - p)` (sandwich's `vcovHC`).
//! - `Sandwich`: `B (sum_g U_g U_g') B` with `U_g = sum_{i in g} u_i` over G clusters, the
//!   Liang-Zeger sandwich of a GEE with independence working correlation (geepack's `san.se`,
//!   clubSandwich's `CR0`).
//! - `CR0`: `G/(G-1)` times `Sandwich` (sandwich's `vcovCL(type = "HC0")`); `CR1`:
//!   `CR0 * (n-1)/(n-p)` (Stata's and `vcovCL`'s default).
//! - `CR3` (Mancl & DeRouen 2001 type): each cluster's score is recomputed from adjusted
//!   residuals, `U_g = X~_g' (I - H_gg)^{-1} e~_g`, with whitened `X~ = W^{1/2} X`,
//!   `e~ = W^{1/2} (y - mu) / (dmu/deta)` and `H_gg = X~_g B X~_g'`; no further factor
//!   (clubSandwich's `vcovCR(type = "CR3")`).
//! - `CR2` (Bell & McCaffrey 2002, in clubSandwich's construction for GLMs): with the working
//!   variances `theta_i = V(mu_i) / w_i` and `Theta_g = diag(theta_g)`,
//!   `G_g = Theta_g (I - H_gg) Theta_g` and `U_g = X~_g' G_g^{-1/2} Theta_g e~_g`; no further
//!   factor (clubSandwich's `vcovCR(type = "CR2")`). When `theta` is constant within a cluster
//!   (the Gaussian family, or any cluster of identical working variances) this is
//!   `U_g = X~_g' (I - H_gg)^{-1/2} e~_g`.
//!
//! The `(I - H_gg)^power` forms never build the n_g x n_g matrix `H_gg`: with
//! `M_g = X~_g'X~_g = E D E'` (positive eigenvalues only) and `K = D^{1/2} E' B E D^{1/2} = V L V'`,
//! any `f(H_gg)` with `f(0) = 1` acts as `f(H_gg) = I + U V (f(L) - I) V' U'` for the orthonormal
//! `U = X~_g E D^{-1/2}`, so `U_g = s_g + E D^{1/2} V (f(L) - I) V' D^{-1/2} E' s_g` with
//! `s_g = X~_g' e~_g = sum_{i in g} u_i`: O(n p^2 + G p^3) for any cluster size. CR2 with working
//! variances that differ within a cluster needs the eigendecomposition of the n_g x n_g `G_g`, and
//! is computed for clusters of up to [`DENSE_CR2_MAX_ROWS`] rows.
//!
//! Cluster-robust estimators are used with t references on G - 1 degrees of freedom.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::core::error::{Error, Result};
use crate::frame::design::Grouping;

/// Largest cluster for which CR2 with varying working variances is computed (it needs an
/// eigendecomposition of an n_g x n_g matrix).
pub const DENSE_CR2_MAX_ROWS: usize = 2000;

/// Which variance estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum VcovKind {
    /// Model-based (inverse information times dispersion).
    #[default]
    Model,
    /// Heteroskedasticity-robust, no small-sample factor.
    HC0,
    /// Heteroskedasticity-robust with n / (n - p).
    HC1,
    /// Cluster-robust sandwich without a small-sample factor (Liang-Zeger; geepack's `san.se`).
    Sandwich,
    /// Cluster-robust with G / (G - 1).
    CR0,
    /// Cluster-robust with G / (G - 1) (n - 1) / (n - p) (Stata).
    CR1,
    /// Cluster-robust, bias-reduced linearization (Bell-McCaffrey).
    CR2,
    /// Cluster-robust, jackknife-type (Mancl-DeRouen).
    CR3,
    /// GEE only: the Kauermann-Carroll bias-corrected sandwich (`models::gee`).
    KC,
    /// GEE only: the Fay-Graubard bias-corrected sandwich.
    FG,
    /// GEE only: the Morel-Bokossa-Neerchal bias-corrected sandwich.
    MBN,
    /// GEE only: the average of the Kauermann-Carroll and Mancl-DeRouen sandwiches.
    AVG,
}

impl VcovKind {
    /// Whether the estimator needs a cluster variable.
    pub fn is_clustered(self) -> bool {
        matches!(
            self,
            VcovKind::Sandwich | VcovKind::CR0 | VcovKind::CR1 | VcovKind::CR2 | VcovKind::CR3
        )
    }

    /// Whether the estimator is defined for GEE fits only (`models::gee`).
    pub fn is_gee_only(self) -> bool {
        matches!(
            self,
            VcovKind::KC | VcovKind::FG | VcovKind::MBN | VcovKind::AVG
        )
    }

    /// How it is described in printed output.
    pub fn describe(self) -> &'static str {
        match self {
            VcovKind::Model => "model-based",
            VcovKind::HC0 => "robust (HC0)",
            VcovKind::HC1 => "robust (HC1)",
            VcovKind::Sandwich => "cluster-robust sandwich (Liang-Zeger, no small-sample factor)",
            VcovKind::CR0 => "cluster-robust (CR0)",
            VcovKind::CR1 => "cluster-robust (CR1, Stata's small-sample factor)",
            VcovKind::CR2 => "cluster-robust (CR2, Bell-McCaffrey)",
            VcovKind::CR3 => "cluster-robust (CR3, Mancl-DeRouen)",
            VcovKind::KC => "bias-corrected sandwich (Kauermann-Carroll)",
            VcovKind::FG => "bias-corrected sandwich (Fay-Graubard)",
            VcovKind::MBN => "bias-corrected sandwich (Morel-Bokossa-Neerchal)",
            VcovKind::AVG => {
                "bias-corrected sandwich (average of Kauermann-Carroll and Mancl-DeRouen)"
            }
        }
    }
}

impl std::str::FromStr for VcovKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "MODEL" => VcovKind::Model,
            "HC0" => VcovKind::HC0,
            "HC1" => VcovKind::HC1,
            "SANDWICH" => VcovKind::Sandwich,
            "CR0" => VcovKind::CR0,
            "CR1" => VcovKind::CR1,
            "CR2" => VcovKind::CR2,
            "CR3" => VcovKind::CR3,
            _ => {
                return Err(Error::invalid(
                    "vcov",
                    format!("'{s}' is not one of model, HC0, HC1, sandwich, CR0-CR3"),
                ))
            }
        })
    }
}

/// What the estimators need from a fit.
pub(crate) struct SandwichParts<'a> {
    pub x: &'a DMatrix<f64>,
    /// Working weights W.
    pub weights: &'a [f64],
    /// Score factors s_i (so that u_i = x_i s_i).
    pub score: &'a [f64],
    /// Working variances theta_i = V(mu_i) / w_i (prior weight w_i).
    pub theta: &'a [f64],
    /// `(X'WX)^{-1}`.
    pub bread: &'a DMatrix<f64>,
    /// Dispersion phi.
    pub dispersion: f64,
    /// Number of observations n used for HC1/CR1 (rows with positive weight).
    pub n_obs: usize,
}

/// The variance matrix of kind `kind`.
pub(crate) fn vcov(
    parts: &SandwichParts<'_>,
    kind: VcovKind,
    clusters: Option<&Grouping>,
) -> Result<DMatrix<f64>> {
    let (n, p) = parts.x.shape();
    let n_obs = parts.n_obs as f64;
    let p_f = p as f64;
    match kind {
        _ if kind.is_gee_only() => Err(Error::invalid(
            "vcov",
            format!(
                "the {} is defined for GEE fits (models::gee)",
                kind.describe()
            ),
        )),
        VcovKind::Model => Ok(parts.bread * parts.dispersion),
        VcovKind::HC0 | VcovKind::HC1 => {
            let codes: Vec<usize> = (0..n).collect();
            let meat = meat(parts, &codes, n, None)?;
            let factor = if kind == VcovKind::HC1 {
                n_obs / (n_obs - p_f)
            } else {
                1.0
            };
            Ok(sandwich(parts.bread, &meat) * factor)
        }
        _ => {
            let c = clusters.ok_or_else(|| {
                Error::invalid(
                    "cluster",
                    format!("the {} estimator needs a cluster variable", kind.describe()),
                )
            })?;
            let g = c.labels.len();
            if g < 2 {
                return Err(Error::Cluster {
                    column: c.column.clone(),
                    message: format!(
                        "only {g} cluster in the rows used; cluster-robust errors need at least 2"
                    ),
                });
            }
            let gf = g as f64;
            let factor = match kind {
                VcovKind::CR0 => gf / (gf - 1.0),
                VcovKind::CR1 => gf / (gf - 1.0) * (n_obs - 1.0) / (n_obs - p_f),
                _ => 1.0,
            };
            let meat = meat(parts, &c.codes, g, Some((kind, c)))?;
            Ok(sandwich(parts.bread, &meat) * factor)
        }
    }
}

fn sandwich(bread: &DMatrix<f64>, meat: &DMatrix<f64>) -> DMatrix<f64> {
    let v = bread * meat * bread;
    (&v + v.transpose()) * 0.5
}

/// `sum_g U_g U_g'` over groups `codes`, with the CR2/CR3 adjustment for those kinds.
fn meat(
    parts: &SandwichParts<'_>,
    codes: &[usize],
    n_groups: usize,
    clustered: Option<(VcovKind, &Grouping)>,
) -> Result<DMatrix<f64>> {
    let p = parts.x.ncols();
    let mut sums = DMatrix::<f64>::zeros(p, n_groups);
    for (j, col) in parts.x.column_iter().enumerate() {
        for (i, xij) in col.iter().enumerate() {
            sums[(j, codes[i])] += xij * parts.score[i];
        }
    }
    let Some((kind, clusters)) = clustered else {
        return Ok(&sums * sums.transpose());
    };
    if !matches!(kind, VcovKind::CR2 | VcovKind::CR3) {
        return Ok(&sums * sums.transpose());
    }
    let grams = cluster_grams(parts, codes, n_groups);
    let members = members(codes, n_groups);
    for g in 0..n_groups {
        let rows = &members[g];
        let s = sums.column(g).into_owned();
        let constant_theta = rows.iter().all(|&i| {
            (parts.theta[i] - parts.theta[rows[0]]).abs() <= 1e-12 * parts.theta[rows[0]]
        });
        let adjusted = if kind == VcovKind::CR3 || constant_theta {
            let power = if kind == VcovKind::CR3 { -1.0 } else { -0.5 };
            adjusted_score(&grams[g], parts.bread, &s, power)
        } else {
            dense_cr2_score(parts, rows)
        };
        let adjusted = adjusted.map_err(|message| Error::Cluster {
            column: clusters.column.clone(),
            message: format!("cluster '{}': {message}", clusters.labels[g]),
        })?;
        sums.set_column(g, &adjusted);
    }
    Ok(&sums * sums.transpose())
}

/// The design rows of each group.
fn members(codes: &[usize], n_groups: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); n_groups];
    for (i, &g) in codes.iter().enumerate() {
        out[g].push(i);
    }
    out
}

/// clubSandwich's CR2 score of one cluster, `X~_g' G^{-1/2} Theta e~_g` with
/// `G = Theta (I - H_gg) Theta`, by eigendecomposition of the n_g x n_g matrix `G`.
fn dense_cr2_score(
    parts: &SandwichParts<'_>,
    rows: &[usize],
) -> std::result::Result<DVector<f64>, String> {
    let m = rows.len();
    if m > DENSE_CR2_MAX_ROWS {
        return Err(format!(
            "has {m} rows with working variances that differ within it; CR2 needs an eigendecomposition \
             of an {m} x {m} matrix, and is computed for clusters of up to {DENSE_CR2_MAX_ROWS} rows. \
             Use CR3 (exact at any cluster size) or CR1"
        ));
    }
    let p = parts.x.ncols();
    let xt = DMatrix::from_fn(m, p, |a, j| {
        parts.x[(rows[a], j)] * parts.weights[rows[a]].sqrt()
    });
    let theta = DVector::from_iterator(m, rows.iter().map(|&i| parts.theta[i]));
    // Theta e~ = theta * s / sqrt(W), since e~ = s / sqrt(W).
    let theta_e = DVector::from_iterator(
        m,
        rows.iter()
            .zip(theta.iter())
            .map(|(&i, t)| t * parts.score[i] / parts.weights[i].sqrt()),
    );
    let h = &xt * parts.bread * xt.transpose();
    let g = DMatrix::from_fn(m, m, |a, b| {
        let identity = if a == b { 1.0 } else { 0.0 };
        theta[a] * (identity - h[(a, b)]) * theta[b]
    });
    let eig = SymmetricEigen::new(g);
    let top = eig.eigenvalues.amax();
    if eig.eigenvalues.iter().any(|&l| l <= 1e-12 * top) {
        return Err(LEVERAGE_ONE.to_string());
    }
    let q = &eig.eigenvectors;
    let scaled = eig.eigenvalues.map(|l| 1.0 / l.sqrt());
    let inner = DMatrix::from_diagonal(&scaled) * (q.transpose() * theta_e);
    Ok(xt.transpose() * (q * inner))
}

const LEVERAGE_ONE: &str =
    "has leverage 1 (some coefficient is estimated from this cluster alone), \
                            so the CR2/CR3 adjustment is undefined";

/// `M_g = X_g' W_g X_g` for every cluster.
fn cluster_grams(parts: &SandwichParts<'_>, codes: &[usize], n_groups: usize) -> Vec<DMatrix<f64>> {
    let (n, p) = parts.x.shape();
    let mut grams = vec![DMatrix::<f64>::zeros(p, p); n_groups];
    let mut row = vec![0.0; p];
    for i in 0..n {
        for (j, r) in row.iter_mut().enumerate() {
            *r = parts.x[(i, j)];
        }
        let m = &mut grams[codes[i]];
        let w = parts.weights[i];
        for a in 0..p {
            let wa = w * row[a];
            for b in 0..=a {
                m[(a, b)] += wa * row[b];
            }
        }
    }
    for m in &mut grams {
        m.fill_upper_triangle_with_lower_triangle();
    }
    grams
}

/// `X~_g' (I - H_gg)^power e~_g` from `M_g`, the bread and `s_g = X~_g' e~_g` (see module docs).
fn adjusted_score(
    gram: &DMatrix<f64>,
    bread: &DMatrix<f64>,
    s: &DVector<f64>,
    power: f64,
) -> std::result::Result<DVector<f64>, String> {
    let eig = SymmetricEigen::new(gram.clone());
    let top = eig.eigenvalues.amax();
    let keep: Vec<usize> = (0..eig.eigenvalues.len())
        .filter(|&k| eig.eigenvalues[k] > 1e-12 * top)
        .collect();
    if keep.is_empty() {
        return Ok(s.clone());
    }
    let e = eig.eigenvectors.select_columns(&keep);
    let d_half =
        DVector::from_iterator(keep.len(), keep.iter().map(|&k| eig.eigenvalues[k].sqrt()));
    let ed = &e * DMatrix::from_diagonal(&d_half);
    let k = ed.transpose() * bread * &ed;
    let k_eig = SymmetricEigen::new(k);
    let mut f = DVector::zeros(keep.len());
    for (fl, &l) in f.iter_mut().zip(k_eig.eigenvalues.iter()) {
        if l >= 1.0 - 1e-10 {
            return Err(LEVERAGE_ONE.to_string());
        }
        *fl = (1.0 - l).powf(power) - 1.0;
    }
    let v = &k_eig.eigenvectors;
    let d_inv_half = d_half.map(|d| 1.0 / d);
    let inner = DMatrix::from_diagonal(&d_inv_half) * e.transpose() * s;
    let middle = v * DMatrix::from_diagonal(&f) * v.transpose() * inner;
    Ok(s + ed * middle)
}
