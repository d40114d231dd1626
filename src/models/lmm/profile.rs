//! The linear mixed model's log-likelihood from per-cluster sufficient statistics.
//!
//! Model: `y = X beta + Z b + e`, `b = Lambda u`, `u ~ N(0, sigma^2 I)`, `e ~ N(0, sigma^2 I)`,
//! clusters independent, so `Var(y_g) = sigma^2 V_g` with `V_g = I + Z_g Lambda Lambda' Z_g'`
//! (Lambda filled from theta, the random-effect SDs relative to sigma, as lme4's theta).
//! With `A_g = I + Lambda' Z_g'Z_g Lambda` (q x q), Woodbury gives
//! `V_g^{-1} = I - Z_g Lambda A_g^{-1} Lambda' Z_g'` and `log|V_g| = log|A_g|`, so every
//! quantity below needs only `X'X`, `X'y`, `y'y` and, per cluster, `Z_g'Z_g`, `Z_g'X_g`,
//! `Z_g'y_g`:
//!
//! - `M = X'V^{-1}X`, `beta^(theta) = M^{-1} X'V^{-1}y`,
//!   `r^2(theta) = y'V^{-1}y - beta^' X'V^{-1}y` (the penalised residual sum of squares);
//! - ML: `sigma^2 = r^2 / n`, deviance `-2 l = sum_g log|A_g| + n (1 + log(2 pi r^2 / n))`;
//! - REML: `sigma^2 = r^2 / (n - p)`, criterion
//!   `sum_g log|A_g| + log|M| + (n - p)(1 + log(2 pi r^2 / (n - p)))`, lme4's REML criterion.
//!
//! For fixed sigma (the variance parameters `(theta, sigma)` of the Satterthwaite method) the
//! deviance is `sum_g log|A_g| [+ log|M|] + m log(2 pi sigma^2) + r^2 / sigma^2` with
//! `m = n` (ML) or `n - p` (REML).
//!
//! **Gradient (clusters).** theta_k fills the entries `(r, c)` of Lambda in
//! `structure.entries[k]` (the 0/1 pattern `E_k`, `dLambda/dtheta_k = E_k`). With `S_g = Z_g'Z_g`,
//! `C_g = Z_g'X_g`, `W_g = Lambda' C_g`, `w_g = Lambda' Z_g'y_g`, `U_g = A_g^{-1} W_g`,
//! `u_g = A_g^{-1} w_g`, `dA_g = E_k' S_g Lambda + Lambda' S_g E_k`, `dW_g = E_k' C_g` and
//! `dw_g = E_k' Z_g'y_g`:
//!
//! - `d sum_g log|A_g| = sum_g tr(A_g^{-1} dA_g) = 2 sum_{(r, c) in E_k} G_rc`,
//!   `G = sum_g S_g Lambda A_g^{-1}`;
//! - `dM = -sum_g (dW_g' U_g + U_g' dW_g - U_g' dA_g U_g)` (and `X'V^{-1}y`, `y'V^{-1}y` alike),
//!   so with `beta^` fixed (its own derivative drops out: `r^2` is stationary in beta), the
//!   spherical modes `v_g = u_g - U_g beta^ = A_g^{-1} Lambda' e_g` and `e_g = Z_g'(y_g - X_g
//!   beta^)`: `dr^2 = sum_g (v_g' dA_g v_g - 2 (E_k' e_g)' v_g) = 2 sum_{(r, c) in E_k} R_rc`,
//!   `R = sum_g (S_g Lambda v_g - e_g) v_g'`;
//! - `d log|M| = tr(M^{-1} dM) = -2 sum_{(r, c) in E_k} T_rc`,
//!   `T = sum_g (C_g - S_g Lambda U_g) M^{-1} U_g'`;
//!
//! and `df/dtheta_k = d sum_g log|A_g| + m dr^2 / r^2 [+ d log|M|]` (`m = n` ML, `n - p` REML).
//!
//! **Several terms (crossed).** The general structure ([`ThetaStructure::sparse_rows`]) has one
//! group of all n rows and q = all random effects (one block per term and level), and
//! `A = I + Lambda' Z'Z Lambda` is sparse: `(Z'Z)_ab` is nonzero only where some row has effects
//! a and b (a hospital and a municipality that share a patient), and Lambda is block diagonal.
//! Z'Z is kept as its nonzeros (built from each row's few nonzero z), and
//! `A_ij = delta_ij + sum_{(a, b): (Z'Z)_ab != 0} Lambda_ai (Z'Z)_ab Lambda_bj` is assembled on
//! its pattern, analysed once ([`SymbolicCholesky`]); per theta a sparse factorisation gives
//! `log|A|` and the p + 1 solves `A^{-1} Lambda'Z'X`, `A^{-1} Lambda'Z'y`, and the formulas
//! above hold with the one group. No q x q matrix is formed.

use std::borrow::Cow;
use std::collections::HashMap;

use nalgebra::{Cholesky, DMatrix, DMatrixView, DVector, DVectorView};

use crate::core::error::{Error, Result};
use crate::core::sparse_cholesky::SymbolicCholesky;
use crate::frame::random_effects::ThetaStructure;

/// The sufficient statistics of a linear mixed model.
#[derive(Debug, Clone)]
pub(crate) struct Statistics {
    pub n: usize,
    pub p: usize,
    pub structure: ThetaStructure,
    xtx: DMatrix<f64>,
    xty: DVector<f64>,
    yty: f64,
    /// Per cluster (none for the general structure, whose one group is `sparse`).
    clusters: Vec<ClusterStatistics>,
    /// The one group of the general structure (several terms), kept sparse.
    sparse: Option<SparseGroup>,
}

/// The one group of the general structure: `Z'Z` as its nonzeros, `Z'X`, `Z'y`, and the
/// analysis of `A = I + Lambda' Z'Z Lambda` (module docs).
#[derive(Debug, Clone)]
struct SparseGroup {
    /// The upper triangle of `Z'Z`: `(a, b, value)`, `a <= b`.
    ztz: Vec<(usize, usize, f64)>,
    ztx: DMatrix<f64>,
    zty: DVector<f64>,
    /// The pattern of A and of its Cholesky factor.
    symbolic: SymbolicCholesky,
    /// The terms of A's upper triangle: `values[slot] += theta[s] theta[t] (Z'Z)[k]` for each
    /// `(slot, k, s, t)`.
    terms: Vec<(usize, usize, usize, usize)>,
}

/// One cluster's `Z'Z`, `Z'X`, `Z'y`, `X'X`, `X'y`, `y'y` and rows.
#[derive(Debug, Clone)]
pub(crate) struct ClusterStatistics {
    pub ztz: DMatrix<f64>,
    pub ztx: DMatrix<f64>,
    zty: DVector<f64>,
    pub xtx: DMatrix<f64>,
    xty: DVector<f64>,
    yty: f64,
    pub n: usize,
}

impl ClusterStatistics {
    /// The statistics of one cluster's rows of X, Z and y (each entry a dot product of two
    /// columns).
    fn of_rows(
        x: DMatrixView<'_, f64>,
        z: DMatrixView<'_, f64>,
        y: DVectorView<'_, f64>,
    ) -> ClusterStatistics {
        ClusterStatistics {
            ztz: gram(z),
            ztx: z.tr_mul(&x),
            zty: z.tr_mul(&y),
            xtx: gram(x),
            xty: x.tr_mul(&y),
            yty: y.dot(&y),
            n: y.len(),
        }
    }
}

/// What [`Statistics::criterion_gradient`] keeps of the pass over the clusters.
struct Solved {
    /// `G = sum_g S_g Lambda A_g^{-1}`.
    g: DMatrix<f64>,
    /// Per cluster `(U_g, u_g) = A_g^{-1} (W_g, w_g)`.
    clusters: Vec<(DMatrix<f64>, DVector<f64>)>,
}

/// The profiled fit at one theta.
#[derive(Debug, Clone)]
pub(crate) struct AtTheta {
    /// `sum_g log|A_g|`.
    pub log_det_a: f64,
    /// `X'V^{-1}X` (sigma^2 units).
    pub m: DMatrix<f64>,
    pub beta: DVector<f64>,
    /// Penalised residual sum of squares `r^2`.
    pub rss: f64,
}

impl Statistics {
    /// From the design rows, the random-effect rows `z` (n x q) and each row's cluster.
    pub fn new(
        x: &DMatrix<f64>,
        y: &[f64],
        z: &DMatrix<f64>,
        cluster: &[usize],
        n_clusters: usize,
        structure: ThetaStructure,
    ) -> Statistics {
        if structure.sparse_rows {
            return Statistics::sparse(x, y, z, structure);
        }
        let p = x.ncols();
        // Each cluster's rows, in row order.
        let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); n_clusters];
        for (i, &g) in cluster.iter().enumerate() {
            rows_of[g].push(i);
        }
        let clusters = rows_of
            .iter()
            .map(|rows| match rows.first() {
                // Rows stored together (data sorted by cluster): their blocks, not copies.
                Some(&first) if rows[rows.len() - 1] - first + 1 == rows.len() => {
                    ClusterStatistics::of_rows(
                        x.rows(first, rows.len()),
                        z.rows(first, rows.len()),
                        DVectorView::from_slice(&y[first..first + rows.len()], rows.len()),
                    )
                }
                _ => {
                    let y_g = DVector::from_iterator(rows.len(), rows.iter().map(|&i| y[i]));
                    ClusterStatistics::of_rows(
                        x.select_rows(rows).as_view(),
                        z.select_rows(rows).as_view(),
                        y_g.as_view(),
                    )
                }
            })
            .collect();
        Statistics::from_clusters(p, structure, clusters)
    }

    /// The statistics of the general structure's one group (`z` n x q, few nonzeros per row).
    fn sparse(
        x: &DMatrix<f64>,
        y: &[f64],
        z: &DMatrix<f64>,
        structure: ThetaStructure,
    ) -> Statistics {
        let (n, p) = x.shape();
        let q = z.ncols();
        let mut xtx = DMatrix::zeros(p, p);
        let mut xty = DVector::zeros(p);
        let mut yty = 0.0;
        let mut ztx = DMatrix::zeros(q, p);
        let mut zty = DVector::zeros(q);
        let mut ztz: HashMap<(usize, usize), f64> = HashMap::new();
        let mut nonzero: Vec<(usize, f64)> = Vec::new();
        for i in 0..n {
            nonzero.clear();
            nonzero.extend(
                z.row(i)
                    .iter()
                    .copied()
                    .enumerate()
                    .filter(|(_, v)| *v != 0.0),
            );
            for (k, &(a, za)) in nonzero.iter().enumerate() {
                for &(b, zb) in &nonzero[k..] {
                    *ztz.entry((a, b)).or_insert(0.0) += za * zb;
                }
                for j in 0..p {
                    ztx[(a, j)] += za * x[(i, j)];
                }
                zty[a] += za * y[i];
            }
            for a in 0..p {
                for b in 0..=a {
                    xtx[(a, b)] += x[(i, a)] * x[(i, b)];
                }
                xty[a] += x[(i, a)] * y[i];
            }
            yty += y[i] * y[i];
        }
        xtx.fill_upper_triangle_with_lower_triangle();
        let mut ztz: Vec<(usize, usize, f64)> =
            ztz.into_iter().map(|((a, b), v)| (a, b, v)).collect();
        ztz.sort_unstable_by_key(|&(a, b, _)| (b, a));
        // Lambda's row r: (column, theta) of each structural nonzero.
        let mut rows: Vec<Vec<(usize, usize)>> = vec![Vec::new(); q];
        for (t, entries) in structure.entries.iter().enumerate() {
            for &(r, c) in entries {
                rows[r].push((c, t));
            }
        }
        // Every ordered pair (a, b) of Z'Z's nonzeros adds Lambda_ai (Z'Z)_ab Lambda_bj to A_ij;
        // the upper triangle (i <= j) is stored.
        let mut contributions = Vec::new();
        for (k, &(a, b, _)) in ztz.iter().enumerate() {
            let ordered: &[(usize, usize)] = if a == b { &[(a, a)] } else { &[(a, b), (b, a)] };
            for &(ra, rb) in ordered {
                for &(i, s) in &rows[ra] {
                    for &(j, t) in &rows[rb] {
                        if i <= j {
                            contributions.push((i, j, k, s, t));
                        }
                    }
                }
            }
        }
        let symbolic = SymbolicCholesky::new(q, contributions.iter().map(|&(i, j, ..)| (i, j)));
        let terms = contributions
            .iter()
            .map(|&(i, j, k, s, t)| {
                let slot = symbolic
                    .slot(i, j)
                    .expect("A's pattern holds its own pairs");
                (slot, k, s, t)
            })
            .collect();
        Statistics {
            n,
            p,
            structure,
            xtx,
            xty,
            yty,
            clusters: Vec::new(),
            sparse: Some(SparseGroup {
                ztz,
                ztx,
                zty,
                symbolic,
                terms,
            }),
        }
    }

    /// Each cluster's statistics; the general structure's one group as a dense cluster (q x q
    /// `Z'Z`).
    pub fn clusters(&self) -> Cow<'_, [ClusterStatistics]> {
        let Some(group) = &self.sparse else {
            return Cow::Borrowed(&self.clusters);
        };
        let q = self.structure.q;
        let mut ztz = DMatrix::zeros(q, q);
        for &(a, b, v) in &group.ztz {
            ztz[(a, b)] = v;
            ztz[(b, a)] = v;
        }
        Cow::Owned(vec![ClusterStatistics {
            ztz,
            ztx: group.ztx.clone(),
            zty: group.zty.clone(),
            xtx: self.xtx.clone(),
            xty: self.xty.clone(),
            yty: self.yty,
            n: self.n,
        }])
    }

    /// Whether the statistics are those of one group of crossed (or several) terms, which do not
    /// split into independent clusters.
    pub fn is_general(&self) -> bool {
        self.sparse.is_some()
    }

    /// The statistics of the clusters `clusters` (repeats allowed: a cluster bootstrap sample);
    /// not for the general structure, whose one group has no clusters (the fit refuses first).
    pub fn resample(&self, clusters: &[usize]) -> Statistics {
        debug_assert!(self.sparse.is_none());
        let chosen = clusters.iter().map(|&c| self.clusters[c].clone()).collect();
        Statistics::from_clusters(self.p, self.structure.clone(), chosen)
    }

    /// Totals over `clusters`.
    fn from_clusters(
        p: usize,
        structure: ThetaStructure,
        clusters: Vec<ClusterStatistics>,
    ) -> Statistics {
        let mut xtx = DMatrix::zeros(p, p);
        let mut xty = DVector::zeros(p);
        let mut yty = 0.0;
        let mut n = 0;
        for c in &clusters {
            xtx += &c.xtx;
            xty += &c.xty;
            yty += c.yty;
            n += c.n;
        }
        Statistics {
            n,
            p,
            structure,
            xtx,
            xty,
            yty,
            clusters,
            sparse: None,
        }
    }

    /// The profiled quantities at `theta`.
    pub fn at(&self, theta: &[f64]) -> Result<AtTheta> {
        if let Some(group) = &self.sparse {
            return self.at_sparse(group, theta);
        }
        self.at_dense(theta, None)
    }

    /// [`Statistics::at`] for clusters (dense `A_g`); with `solved`, also `G = sum_g S_g Lambda
    /// A_g^{-1}` and each cluster's `(U_g, u_g) = A_g^{-1} (W_g, w_g)` for
    /// [`Statistics::criterion_gradient`] (module docs).
    fn at_dense(&self, theta: &[f64], mut solved: Option<&mut Solved>) -> Result<AtTheta> {
        let lambda = self.structure.lambda(theta);
        let (q, p) = (self.structure.q, self.p);
        let mut m = self.xtx.clone();
        let mut xvy = self.xty.clone();
        let mut yvy = self.yty;
        let mut log_det_a = 0.0;
        // One set of buffers for all clusters (A_g's storage passes through its factor).
        let mut s_lambda = DMatrix::zeros(q, q);
        let mut a = DMatrix::zeros(q, q);
        let mut inverse = DMatrix::zeros(q, q);
        let (mut w, mut aw) = (DMatrix::zeros(q, p), DMatrix::zeros(q, p));
        let (mut wy, mut awy) = (DVector::zeros(q), DVector::zeros(q));
        for ClusterStatistics { ztz, ztx, zty, .. } in &self.clusters {
            // A = I + Lambda' (Z'Z Lambda).
            ztz.mul_to(&lambda, &mut s_lambda);
            lambda.tr_mul_to(&s_lambda, &mut a);
            for i in 0..q {
                a[(i, i)] += 1.0;
            }
            let chol = Cholesky::new(std::mem::replace(&mut a, DMatrix::zeros(0, 0))).ok_or_else(
                || Error::Numerical {
                    what: "the linear mixed model".into(),
                    message: "I + Lambda' Z'Z Lambda is not positive definite".into(),
                },
            )?;
            let l = chol.l_dirty();
            log_det_a += 2.0 * (0..q).map(|i| l[(i, i)].ln()).sum::<f64>();
            // W = Lambda' Z'X, w = Lambda' Z'y; subtract W' A^{-1} W etc.
            lambda.tr_mul_to(ztx, &mut w);
            lambda.tr_mul_to(zty, &mut wy);
            aw.copy_from(&w);
            chol.solve_mut(&mut aw);
            awy.copy_from(&wy);
            chol.solve_mut(&mut awy);
            m.gemm_tr(-1.0, &w, &aw, 1.0);
            xvy.gemv_tr(-1.0, &w, &awy, 1.0);
            yvy -= wy.dot(&awy);
            if let Some(solved) = solved.as_deref_mut() {
                inverse.fill_with_identity();
                chol.solve_mut(&mut inverse);
                solved.g.gemm(1.0, &s_lambda, &inverse, 1.0);
                solved.clusters.push((aw.clone(), awy.clone()));
            }
            a = chol.unpack_dirty();
        }
        self.profile(log_det_a, m, xvy, yvy)
    }

    /// [`Statistics::at`] for the general structure's one group (module docs).
    fn at_sparse(&self, group: &SparseGroup, theta: &[f64]) -> Result<AtTheta> {
        let symbolic = &group.symbolic;
        let mut values = vec![0.0; symbolic.a_len()];
        for slot in symbolic.diagonal_slots() {
            values[slot] = 1.0;
        }
        for &(slot, k, s, t) in &group.terms {
            values[slot] += theta[s] * theta[t] * group.ztz[k].2;
        }
        let chol = symbolic.factor(&values).map_err(|_| Error::Numerical {
            what: "the linear mixed model".into(),
            message: "I + Lambda' Z'Z Lambda is not positive definite".into(),
        })?;
        // W = [Lambda'Z'X, Lambda'Z'y] (q x (p + 1)), then A^{-1} W column by column.
        let p = self.p;
        let mut w = DMatrix::zeros(self.structure.q, p + 1);
        for (value, entries) in theta.iter().zip(&self.structure.entries) {
            for &(r, c) in entries {
                for j in 0..p {
                    w[(c, j)] += value * group.ztx[(r, j)];
                }
                w[(c, p)] += value * group.zty[r];
            }
        }
        let mut aw = w.clone();
        for mut column in aw.column_iter_mut() {
            chol.solve(column.as_mut_slice());
        }
        let wx = w.columns(0, p);
        let awx = aw.columns(0, p);
        let m = &self.xtx - wx.transpose() * awx;
        let xvy = &self.xty - wx.transpose() * aw.column(p);
        let yvy = self.yty - w.column(p).dot(&aw.column(p));
        self.profile(chol.log_det(), m, xvy, yvy)
    }

    /// beta and `r^2` from `M`, `X'V^{-1}y` and `y'V^{-1}y`.
    fn profile(
        &self,
        log_det_a: f64,
        m: DMatrix<f64>,
        xvy: DVector<f64>,
        yvy: f64,
    ) -> Result<AtTheta> {
        let chol = m.clone().cholesky().ok_or_else(|| Error::Numerical {
            what: "the linear mixed model".into(),
            message: "X'V^{-1}X is not positive definite (a fixed effect is not identified)".into(),
        })?;
        let beta = chol.solve(&xvy);
        let rss = (yvy - beta.dot(&xvy)).max(0.0);
        Ok(AtTheta {
            log_det_a,
            m,
            beta,
            rss,
        })
    }

    /// `m`: n for ML, n - p for REML.
    pub fn residual_count(&self, reml: bool) -> f64 {
        if reml {
            (self.n - self.p) as f64
        } else {
            self.n as f64
        }
    }

    /// The profiled deviance (ML) or REML criterion at `theta`.
    pub fn profiled_deviance(&self, theta: &[f64], reml: bool) -> Result<f64> {
        let at = self.at(theta)?;
        let m = self.residual_count(reml);
        let mut d = at.log_det_a + m * (1.0 + (2.0 * std::f64::consts::PI * at.rss / m).ln());
        if reml {
            d += log_det_spd(&at.m);
        }
        Ok(d)
    }

    /// The profiled deviance (ML) or REML criterion `f` at `theta` and its exact gradient over
    /// theta (module docs, "Gradient"); clusters only (not the general structure).
    pub fn criterion_gradient(&self, theta: &[f64], reml: bool) -> Result<(f64, Vec<f64>)> {
        let (at, log_dets, d_log_dets, d_rss) = self.derivatives(theta, reml)?;
        let m = self.residual_count(reml);
        let value = log_dets + m * (1.0 + (2.0 * std::f64::consts::PI * at.rss / m).ln());
        let gradient = d_log_dets
            .iter()
            .zip(&d_rss)
            .map(|(d, r)| d + m * r / at.rss)
            .collect();
        Ok((value, gradient))
    }

    /// The gradient of [`Statistics::deviance`] over `(theta, sigma)` (clusters only):
    /// `d sum_g log|A_g| [+ d log|M|] + dr^2 / sigma^2` over theta and
    /// `2 m / sigma - 2 r^2 / sigma^3` over sigma.
    pub fn deviance_gradient(&self, theta: &[f64], sigma: f64, reml: bool) -> Result<Vec<f64>> {
        let (at, _, d_log_dets, d_rss) = self.derivatives(theta, reml)?;
        let s2 = sigma * sigma;
        let m = self.residual_count(reml);
        let mut gradient: Vec<f64> = d_log_dets
            .iter()
            .zip(&d_rss)
            .map(|(d, r)| d + r / s2)
            .collect();
        gradient.push(2.0 * m / sigma - 2.0 * at.rss / (s2 * sigma));
        Ok(gradient)
    }

    /// At `theta`: the profiled quantities, `sum_g log|A_g| [+ log|M|]`, its gradient over theta
    /// and that of `r^2` (module docs, "Gradient"); clusters only.
    #[allow(clippy::type_complexity)]
    fn derivatives(&self, theta: &[f64], reml: bool) -> Result<(AtTheta, f64, Vec<f64>, Vec<f64>)> {
        debug_assert!(self.sparse.is_none());
        let q = self.structure.q;
        let mut solved = Solved {
            g: DMatrix::zeros(q, q),
            clusters: Vec::with_capacity(self.clusters.len()),
        };
        let at = self.at_dense(theta, Some(&mut solved))?;
        let mut value = at.log_det_a;
        let m_inverse = if reml {
            let chol = at.m.clone().cholesky().ok_or_else(|| Error::Numerical {
                what: "the linear mixed model".into(),
                message: "X'V^{-1}X is not positive definite".into(),
            })?;
            value += 2.0 * chol.l().diagonal().iter().map(|d| d.ln()).sum::<f64>();
            Some(chol.inverse())
        } else {
            None
        };
        let lambda = self.structure.lambda(theta);
        // R = sum_g (S_g Lambda v_g - e_g) v_g', T = sum_g (C_g - S_g Lambda U_g) M^{-1} U_g'.
        let p = self.p;
        let mut r = DMatrix::<f64>::zeros(q, q);
        let mut t = DMatrix::<f64>::zeros(q, q);
        let mut s_lambda = DMatrix::zeros(q, q);
        let (mut v, mut x) = (DVector::zeros(q), DVector::zeros(q));
        let (mut q_g, mut u_m) = (DMatrix::zeros(q, p), DMatrix::zeros(q, p));
        for (c, (u_x, u_y)) in self.clusters.iter().zip(&solved.clusters) {
            c.ztz.mul_to(&lambda, &mut s_lambda);
            // v = u - U beta^, x = S Lambda v - e with e = Z'y - Z'X beta^.
            v.copy_from(u_y);
            v.gemv(-1.0, u_x, &at.beta, 1.0);
            x.copy_from(&c.zty);
            x.gemv(1.0, &c.ztx, &at.beta, -1.0);
            x.gemv(1.0, &s_lambda, &v, 1.0);
            r.ger(1.0, &x, &v, 1.0);
            if let Some(m_inverse) = &m_inverse {
                q_g.copy_from(&c.ztx);
                q_g.gemm(-1.0, &s_lambda, u_x, 1.0);
                // T += Q_g (U_g M^{-1})' (M^{-1} is symmetric).
                u_m.gemm(1.0, u_x, m_inverse, 0.0);
                for a in 0..q {
                    for b in 0..q {
                        t[(a, b)] += q_g.row(a).dot(&u_m.row(b));
                    }
                }
            }
        }
        let sum = |matrix: &DMatrix<f64>, entries: &[(usize, usize)]| {
            2.0 * entries.iter().map(|&rc| matrix[rc]).sum::<f64>()
        };
        let entries = &self.structure.entries;
        let d_log_dets = entries
            .iter()
            .map(|e| sum(&solved.g, e) - sum(&t, e))
            .collect();
        let d_rss = entries.iter().map(|e| sum(&r, e)).collect();
        Ok((at, value, d_log_dets, d_rss))
    }

    /// The deviance at `theta` and a given `sigma` (not profiled).
    pub fn deviance(&self, theta: &[f64], sigma: f64, reml: bool) -> Result<f64> {
        let at = self.at(theta)?;
        let m = self.residual_count(reml);
        let s2 = sigma * sigma;
        let mut d = at.log_det_a + m * (2.0 * std::f64::consts::PI * s2).ln() + at.rss / s2;
        if reml {
            d += log_det_spd(&at.m);
        }
        Ok(d)
    }
}

/// `M'M`, each entry below the diagonal a dot product of two columns, mirrored above.
fn gram(m: DMatrixView<'_, f64>) -> DMatrix<f64> {
    let k = m.ncols();
    let mut out = DMatrix::zeros(k, k);
    for j in 0..k {
        for i in j..k {
            let v = m.column(i).dot(&m.column(j));
            out[(i, j)] = v;
            out[(j, i)] = v;
        }
    }
    out
}

/// `log|M|` of a positive definite matrix (by its Cholesky factor).
fn log_det_spd(m: &DMatrix<f64>) -> f64 {
    m.clone().cholesky().map_or(f64::INFINITY, |c| {
        2.0 * c.l().diagonal().iter().map(|d| d.ln()).sum::<f64>()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::numdiff::gradient;

    /// Deterministic pseudo-random numbers in (-1, 1).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        }
    }

    /// Clusters of 6 to 11 rows over 4 periods; fixed effects `1, x, period`; `z` from `row`
    /// (the row's period and x).
    fn statistics(structure: ThetaStructure, z_of: impl Fn(usize, f64) -> Vec<f64>) -> Statistics {
        let mut rng = Lcg(20261207);
        let (mut x, mut y, mut z, mut cluster) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let n_clusters = 9;
        for g in 0..n_clusters {
            let b0 = rng.next();
            let b1 = 0.5 * rng.next();
            for i in 0..6 + g % 6 {
                let period = i % 4;
                let xi = rng.next() * 2.0;
                x.extend([1.0, xi, period as f64]);
                y.push(1.0 + 0.5 * xi + 0.2 * period as f64 + b0 + b1 * xi + 0.7 * rng.next());
                z.extend(z_of(period, xi));
                cluster.push(g);
            }
        }
        let n = y.len();
        let x = DMatrix::from_row_slice(n, 3, &x);
        let z = DMatrix::from_row_slice(n, structure.q, &z);
        Statistics::new(&x, &y, &z, &cluster, n_clusters, structure)
    }

    fn check(stats: &Statistics, theta: &[f64]) {
        for reml in [true, false] {
            let mut psi = theta.to_vec();
            psi.push(0.9);
            let exact = stats.deviance_gradient(theta, 0.9, reml).unwrap();
            let differenced = gradient(
                |v| stats.deviance(&v[..theta.len()], v[theta.len()], reml),
                &psi,
            )
            .unwrap();
            let scale = differenced.iter().fold(1.0_f64, |m, d| m.max(d.abs()));
            for (e, d) in exact.iter().zip(&differenced) {
                assert!((e - d).abs() <= 1e-7 * scale, "deviance: {e} vs {d}");
            }
            let (value, exact) = stats.criterion_gradient(theta, reml).unwrap();
            let want = stats.profiled_deviance(theta, reml).unwrap();
            assert!((value - want).abs() <= 1e-12 * want.abs(), "{value} {want}");
            let differenced = gradient(|t| stats.profiled_deviance(t, reml), theta).unwrap();
            let scale = differenced.iter().fold(1.0_f64, |m, d| m.max(d.abs()));
            for (k, (e, d)) in exact.iter().zip(&differenced).enumerate() {
                assert!(
                    (e - d).abs() <= 1e-7 * scale,
                    "reml {reml} theta {k}: exact {e}, differenced {d}"
                );
            }
        }
    }

    #[test]
    fn exact_gradient_matches_differences() {
        let scalar = statistics(ThetaStructure::correlated(1), |_, _| vec![1.0]);
        check(&scalar, &[0.8]);
        check(&scalar, &[0.05]);
        let slope = statistics(ThetaStructure::correlated(2), |_, x| vec![1.0, x]);
        check(&slope, &[1.2, -0.3, 0.6]);
        check(&slope, &[0.4, 0.2, 0.1]);
        let three = statistics(ThetaStructure::correlated(3), |p, x| vec![1.0, x, p as f64]);
        check(&three, &[1.1, 0.2, -0.1, 0.5, 0.3, 0.4]);
        let nested = statistics(ThetaStructure::nested(4), |p, _| {
            let mut z = vec![1.0, 0.0, 0.0, 0.0, 0.0];
            z[1 + p] = 1.0;
            z
        });
        check(&nested, &[0.9, 0.4]);
        check(&nested, &[0.3, 1.5]);
    }
}
