//! The integrated log-likelihood of a GLMM with one grouping factor, by the Laplace approximation or
//! adaptive Gauss-Hermite quadrature, and its exact gradient.
//!
//! Model: for group i and its rows j, `eta_ij = x_ij' beta + o_ij + z_ij' Lambda b_i` with
//! spherical `b_i ~ N(0, I_q)`, so the random effects `Lambda b_i` have covariance
//! `Sigma = Lambda Lambda'`, Lambda filled from theta as [`ThetaStructure`] says. The integrated likelihood factorises over groups:
//! `L_i = (2 pi)^{-q/2} int exp(g_i(b)) db` with `g_i(b) = sum_j log f(y_ij | eta_ij) - b'b/2`.
//!
//! With the conditional mode `b^ = argmax g_i` and `C_i = I + Lambda' Z_i' W_i Z_i Lambda` (W the
//! Fisher weights at the mode, as lme4 uses):
//!
//! - Laplace: `log L_i = g_i(b^) - 1/2 log det C_i`;
//! - adaptive Gauss-Hermite (q = 1, nodes z_k, weights w_k for N(0, 1)):
//!   `log L_i = log s_i + log sum_k w_k exp(g_i(b^ + s_i z_k) + z_k^2 / 2)`, `s_i = C_i^{-1/2}`;
//!   one node is the Laplace approximation.
//!
//! The gradient over `phi = (beta, theta)` is exact for the approximation: the conditional mode
//! moves with phi by the implicit-function theorem, `db^/dphi = H^{-1} dF/dphi` for the mode
//! equation `F = Lambda' Z' s - b = 0` with `H = I - Lambda' Z' diag(s') Z Lambda`, and
//! `d log det C / dphi = tr(C^{-1} dC/dphi)` includes the change of W with eta.

use nalgebra::{Cholesky, DMatrix, DVector};
use rayon::prelude::*;

use super::patterns::Patterns;
use super::quadrature::GaussHermite;
use crate::core::error::{Error, Result};
use crate::frame::random_effects::ThetaStructure;
use crate::models::glm::{Family, Link, RowDerivatives};

/// Patterns from which an evaluation runs its groups in parallel.
const PARALLEL_PATTERNS: usize = 20_000;

/// Newton iterations allowed for one conditional mode.
pub(crate) const MODE_MAX_ITER: usize = 200;

/// A GLMM likelihood with one grouping factor.
pub(crate) struct Likelihood<'a> {
    pub family: Family,
    pub link: Link,
    pub patterns: &'a Patterns,
    pub rule: &'a GaussHermite,
    /// How theta fills Lambda.
    pub structure: &'a ThetaStructure,
    /// Group labels, for messages.
    pub labels: &'a [String],
}

/// Log-likelihood and gradient at one parameter vector.
#[derive(Debug, Clone)]
pub(crate) struct Evaluation {
    pub loglik: f64,
    pub gradient: Vec<f64>,
}

/// One group's patterns at the current parameters: the fixed part of the linear predictor and
/// `a_j = Lambda' z_j` (row-major, q values per pattern). (The general structure of several
/// terms, whose rows are sparse, has its own likelihood: [`super::sparse_laplace`].)
pub(crate) struct GroupView {
    pub start: usize,
    pub eta0: Vec<f64>,
    a: Vec<f64>,
    q: usize,
    /// `0..q`: the positions of a row.
    all: Vec<u32>,
}

impl GroupView {
    pub fn len(&self) -> usize {
        self.eta0.len()
    }

    /// Positions and values of `a_j`.
    pub(super) fn a_row(&self, j: usize) -> (&[u32], &[f64]) {
        (&self.all, &self.a[j * self.q..(j + 1) * self.q])
    }

    /// Positions and values of `z_j` (`z_row` the pattern's row).
    fn z_row<'v>(&'v self, z_row: &'v [f64]) -> (&'v [u32], &'v [f64]) {
        (&self.all, z_row)
    }

    /// `eta_j = eta0_j + a_j' b`.
    pub(super) fn eta(&self, j: usize, b: &[f64]) -> f64 {
        let (_, a) = self.a_row(j);
        self.eta0[j] + a.iter().zip(b).map(|(v, b)| v * b).sum::<f64>()
    }
}

/// Per-group sums at a point b (see the module docs for their use).
struct Sums {
    loglik: f64,
    /// sum s x (p)
    sx: DVector<f64>,
    /// sum s z (q)
    sz: DVector<f64>,
    /// sum s' z z' (q x q)
    q_obs: DMatrix<f64>,
    /// sum s' z x' (q x p)
    s1: DMatrix<f64>,
    /// sum W z z' (q x q)
    m_fisher: DMatrix<f64>,
}

impl Likelihood<'_> {
    fn p(&self) -> usize {
        self.patterns.p
    }

    fn q(&self) -> usize {
        self.patterns.q
    }

    /// Log-likelihood (and, if asked, its gradient) at `params = (beta, theta)`. `modes` holds
    /// one b per group (q values each): the start of each mode search, and on return the modes.
    pub fn evaluate(
        &self,
        params: &[f64],
        modes: &mut [f64],
        want_gradient: bool,
    ) -> Result<Evaluation> {
        let (p, q) = (self.p(), self.q());
        let beta = &params[..p];
        let lam = self.structure.lambda(&params[p..]);
        let one_group = |(g, b): (usize, &mut [f64])| -> Result<(f64, Vec<f64>)> {
            let view = self.view(g, beta, &lam);
            self.find_mode(&view, b, &self.labels[g])?;
            let b = DVector::from_column_slice(b);
            self.group_contribution(&view, &b, &lam, want_gradient)
        };
        // Groups are independent: split them over threads when there is enough work.
        let parts: Vec<Result<(f64, Vec<f64>)>> = if self.patterns.len() >= PARALLEL_PATTERNS {
            modes.par_chunks_mut(q).enumerate().map(one_group).collect()
        } else {
            modes.chunks_mut(q).enumerate().map(one_group).collect()
        };
        let mut total = Evaluation {
            loglik: self.patterns.constant,
            gradient: vec![0.0; params.len()],
        };
        for part in parts {
            let (ll, grad) = part?;
            total.loglik += ll;
            for (t, v) in total.gradient.iter_mut().zip(grad) {
                *t += v;
            }
        }
        Ok(total)
    }

    /// Group g's patterns at `beta` and `lam`.
    pub(crate) fn view(&self, g: usize, beta: &[f64], lam: &DMatrix<f64>) -> GroupView {
        let q = self.q();
        let range = self.patterns.group_start[g]..self.patterns.group_start[g + 1];
        let eta0 = range
            .clone()
            .map(|k| self.patterns.x_dot(k, beta) + self.patterns.offset[k])
            .collect();
        let all = (0..q as u32).collect();
        let mut a = Vec::with_capacity(range.len() * q);
        for k in range.clone() {
            let z = self.patterns.z_row(k);
            a.extend((0..q).map(|c| (0..q).map(|r| lam[(r, c)] * z[r]).sum::<f64>()));
        }
        GroupView {
            start: range.start,
            eta0,
            a,
            q,
            all,
        }
    }

    /// Each pattern of a group at the point b: its index within the group, its index among all
    /// patterns, and its log-likelihood derivatives at `eta = eta0 + a' b`.
    fn rows_at<'v>(
        &'v self,
        view: &'v GroupView,
        b: &'v [f64],
    ) -> impl Iterator<Item = (usize, usize, RowDerivatives)> + 'v {
        (0..view.len()).map(move |j| {
            let k = view.start + j;
            let d = self.family.row_derivatives(
                self.link,
                self.patterns.y[k],
                self.patterns.m[k],
                view.eta(j, b),
            );
            (j, k, d)
        })
    }

    /// Sums over the patterns of one group at the point b.
    fn sums(&self, view: &GroupView, b: &DVector<f64>, full: bool) -> Sums {
        let (p, q) = (self.p(), self.q());
        let mut s = Sums {
            loglik: 0.0,
            sx: DVector::zeros(if full { p } else { 0 }),
            sz: DVector::zeros(q),
            q_obs: DMatrix::zeros(q, q),
            s1: DMatrix::zeros(q, if full { p } else { 0 }),
            m_fisher: DMatrix::zeros(q, q),
        };
        for (_, k, d) in self.rows_at(view, b.as_slice()) {
            let (at, z) = view.z_row(self.patterns.z_row(k));
            s.loglik += d.loglik;
            for (&r, zr) in at.iter().zip(z) {
                let r = r as usize;
                s.sz[r] += d.score * zr;
                for (&c, zc) in at.iter().zip(z) {
                    let c = c as usize;
                    s.q_obs[(r, c)] += d.score_deriv * zr * zc;
                    s.m_fisher[(r, c)] += d.weight * zr * zc;
                }
            }
            if full {
                let (columns, values) = self.patterns.x_nonzero(k);
                for (&col, xv) in columns.iter().zip(values) {
                    let col = col as usize;
                    s.sx[col] += d.score * xv;
                    for (&r, zr) in at.iter().zip(z) {
                        s.s1[(r as usize, col)] += d.score_deriv * zr * xv;
                    }
                }
            }
        }
        s
    }

    /// Newton (Fisher scoring) with step halving for the conditional mode of one group. The
    /// search allocates its vectors and matrices once (q and q x q), not per iteration.
    pub(crate) fn find_mode(&self, view: &GroupView, b: &mut [f64], group: &str) -> Result<()> {
        let q = self.q();
        let mut current = DVector::from_column_slice(b);
        let mut candidate = DVector::zeros(q);
        // The gradient, solved in place into the Newton step.
        let mut step = DVector::zeros(q);
        let mut c = DMatrix::zeros(q, q);
        let mut last_step = f64::INFINITY;
        for _ in 0..MODE_MAX_ITER {
            let f0 = self.mode_state_into(view, &current, &mut step, &mut c);
            let chol = Cholesky::new(std::mem::replace(&mut c, DMatrix::zeros(0, 0))).ok_or_else(
                || mode_error(group, "the curvature is not positive definite", last_step),
            )?;
            chol.solve_mut(&mut step);
            c = chol.unpack_dirty();
            last_step = step.amax();
            if last_step <= 1e-11 * (1.0 + current.amax()) {
                b.copy_from_slice(current.as_slice());
                return Ok(());
            }
            let mut t = 1.0;
            loop {
                for ((x, s), y) in candidate.iter_mut().zip(&step).zip(&current) {
                    *x = y + s * t;
                }
                let f1 = self.mode_value(view, &candidate);
                if f1.is_finite() && f1 >= f0 - 1e-13 * f0.abs().max(1.0) {
                    std::mem::swap(&mut current, &mut candidate);
                    break;
                }
                t /= 2.0;
                if t < 1e-12 {
                    // No ascent left at rounding level: this is the mode.
                    b.copy_from_slice(current.as_slice());
                    return Ok(());
                }
            }
        }
        Err(mode_error(
            group,
            "the Newton iterations did not converge",
            last_step,
        ))
    }

    /// At b: `g(b)`, `grad_b g = sum_j s_j a_j - b` and the Fisher curvature
    /// `C = I + sum_j W_j a_j a_j'`.
    pub(crate) fn mode_state(
        &self,
        view: &GroupView,
        b: &DVector<f64>,
    ) -> (f64, DVector<f64>, DMatrix<f64>) {
        let q = self.q();
        let mut grad = DVector::zeros(q);
        let mut c = DMatrix::zeros(q, q);
        let value = self.mode_state_into(view, b, &mut grad, &mut c);
        (value, grad, c)
    }

    /// [`Likelihood::mode_state`] into the caller's `grad` (q) and `c` (q x q); returns `g(b)`.
    fn mode_state_into(
        &self,
        view: &GroupView,
        b: &DVector<f64>,
        grad: &mut DVector<f64>,
        c: &mut DMatrix<f64>,
    ) -> f64 {
        let mut value = -0.5 * b.dot(b);
        for (g, v) in grad.iter_mut().zip(b) {
            *g = -v;
        }
        c.fill_with_identity();
        for (j, _, d) in self.rows_at(view, b.as_slice()) {
            value += d.loglik;
            let (at, a) = view.a_row(j);
            for (&r, ar) in at.iter().zip(a) {
                let r = r as usize;
                grad[r] += d.score * ar;
                for (&col, ac) in at.iter().zip(a) {
                    c[(r, col as usize)] += d.weight * ar * ac;
                }
            }
        }
        value
    }

    /// `g(b)` alone (the value of [`Likelihood::mode_state`]).
    fn mode_value(&self, view: &GroupView, b: &DVector<f64>) -> f64 {
        let mut value = -0.5 * b.dot(b);
        for (_, _, d) in self.rows_at(view, b.as_slice()) {
            value += d.loglik;
        }
        value
    }

    /// One group's log-likelihood and its gradient over (beta, theta), at its mode `b`.
    fn group_contribution(
        &self,
        view: &GroupView,
        b: &DVector<f64>,
        lam: &DMatrix<f64>,
        want_gradient: bool,
    ) -> Result<(f64, Vec<f64>)> {
        let (p, q) = (self.p(), self.q());
        let at_mode = self.sums(view, b, want_gradient);
        let c = DMatrix::identity(q, q) + lam.transpose() * &at_mode.m_fisher * lam;
        let chol = c.clone().cholesky().ok_or_else(|| Error::Numerical {
            what: "the Laplace approximation".into(),
            message: "the conditional curvature is not positive definite".into(),
        })?;
        let log_det_c = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
        let g_mode = at_mode.loglik - 0.5 * b.dot(b);
        let nodes = self.rule.nodes.len();
        let scale = if nodes > 1 { c[(0, 0)].powf(-0.5) } else { 1.0 };
        // Node values g(b^ + s z_k) + z_k^2 / 2 (q = 1 when nodes > 1).
        let node_points: Vec<DVector<f64>> = if nodes > 1 {
            self.rule
                .nodes
                .iter()
                .map(|z| b + DVector::from_element(1, scale * z))
                .collect()
        } else {
            vec![b.clone()]
        };
        let node_sums: Vec<Sums> = if nodes > 1 {
            node_points
                .iter()
                .map(|bk| self.sums(view, bk, want_gradient))
                .collect()
        } else {
            Vec::new()
        };
        // Log of each node's term of the quadrature sum (none under Laplace).
        let terms: Vec<f64> = node_sums
            .iter()
            .zip(&node_points)
            .zip(self.rule.nodes.iter().zip(&self.rule.weights))
            .map(|((s, bk), (z, w))| w.ln() + s.loglik - 0.5 * bk.dot(bk) + 0.5 * z * z)
            .collect();
        let loglik = if nodes > 1 {
            scale.ln() + log_sum_exp(&terms)
        } else {
            g_mode - 0.5 * log_det_c
        };
        if !loglik.is_finite() {
            return Err(Error::Numerical {
                what: "the integrated log-likelihood".into(),
                message: "it is not finite at these parameters".into(),
            });
        }
        if !want_gradient {
            return Ok((loglik, Vec::new()));
        }
        let c_inv = chol.inverse();
        let entries = &self.structure.entries;
        let n_params = p + entries.len();
        // Observed negative Hessian of g in b, for the mode's sensitivity.
        let h = DMatrix::identity(q, q) - lam.transpose() * &at_mode.q_obs * lam;
        let h_chol = h.cholesky().ok_or_else(|| Error::Numerical {
            what: "the conditional mode".into(),
            message: "the observed curvature is not positive definite".into(),
        })?;
        // Second pass at the mode: sum W' h_j x_j and sum W' h_j z_j with h_j = a_j' C^{-1} a_j.
        let mut wx = DVector::zeros(p);
        let mut wz = DVector::zeros(q);
        for (j, k, d) in self.rows_at(view, b.as_slice()) {
            let (at, a) = view.a_row(j);
            let mut hj = 0.0;
            for (&r, ar) in at.iter().zip(a) {
                for (&col, ac) in at.iter().zip(a) {
                    hj += ar * c_inv[(r as usize, col as usize)] * ac;
                }
            }
            let f = d.weight_deriv * hj;
            let (columns, values) = self.patterns.x_nonzero(k);
            for (&col, x) in columns.iter().zip(values) {
                wx[col as usize] += f * x;
            }
            let (zt, z) = view.z_row(self.patterns.z_row(k));
            for (&r, z) in zt.iter().zip(z) {
                wz[r as usize] += f * z;
            }
        }
        let wa = lam.transpose() * &wz;
        let m_lam_cinv = &at_mode.m_fisher * lam * &c_inv;
        let mut db = Vec::with_capacity(n_params);
        let mut trace = Vec::with_capacity(n_params);
        for k in 0..n_params {
            let (df, explicit) = if k < p {
                (lam.transpose() * at_mode.s1.column(k), wx[k])
            } else {
                let mut df = DVector::zeros(q);
                let mut explicit = 0.0;
                for &(r, c_col) in &entries[k - p] {
                    df[c_col] += at_mode.sz[r];
                    df += lam.transpose() * at_mode.q_obs.column(r) * b[c_col];
                    explicit += 2.0 * m_lam_cinv[(r, c_col)] + wz[r] * b[c_col];
                }
                (df, explicit)
            };
            let dbk = h_chol.solve(&df);
            trace.push(explicit + wa.dot(&dbk));
            db.push(dbk);
        }
        let dg_dphi = |s: &Sums, point: &DVector<f64>| -> Vec<f64> {
            let mut v: Vec<f64> = s.sx.iter().copied().collect();
            v.extend(entries.iter().map(|e| {
                e.iter()
                    .map(|&(r, c_col)| s.sz[r] * point[c_col])
                    .sum::<f64>()
            }));
            v
        };
        let grad = if nodes > 1 {
            let lse = log_sum_exp(&terms);
            let mut grad = vec![0.0; n_params];
            for (((s, bk), z), term) in node_sums
                .iter()
                .zip(&node_points)
                .zip(&self.rule.nodes)
                .zip(&terms)
            {
                let pi = (term - lse).exp();
                if pi == 0.0 {
                    // A node outside the mean space (a risk above 1 in a log-binomial model)
                    // has likelihood 0 and adds nothing.
                    continue;
                }
                let g_prime = (lam.transpose() * &s.sz)[0] - bk[0];
                let partial = dg_dphi(s, bk);
                for k in 0..n_params {
                    let ds = -0.5 * scale * trace[k];
                    grad[k] += pi * (partial[k] + g_prime * (db[k][0] + z * ds));
                }
            }
            for (g, t) in grad.iter_mut().zip(&trace) {
                *g -= 0.5 * t;
            }
            grad
        } else {
            dg_dphi(&at_mode, b)
                .iter()
                .zip(&trace)
                .map(|(d, t)| d - 0.5 * t)
                .collect()
        };
        Ok((loglik, grad))
    }

    /// The information about beta with theta fixed, by the Schur complement of the joint
    /// (beta, b) Fisher information at the current modes:
    /// `sum_i [X_i' W_i X_i - (X_i' W_i A_i) C_i^{-1} (A_i' W_i X_i)]` (rows of `A_i` are
    /// `a_j = Lambda' z_j`). It is what lme4's `vcov(use.hessian = FALSE)` inverts, and a close
    /// approximation to minus the beta block of the Hessian of the Laplace log-likelihood.
    pub fn fixed_information(&self, params: &[f64], modes: &[f64]) -> DMatrix<f64> {
        let (p, q) = (self.p(), self.q());
        let lam = self.structure.lambda(&params[p..]);
        let mut info = DMatrix::zeros(p, p);
        for g in 0..self.patterns.n_groups() {
            let view = self.view(g, &params[..p], &lam);
            let b = &modes[g * q..(g + 1) * q];
            let mut xwa = DMatrix::<f64>::zeros(p, q);
            let mut c = DMatrix::identity(q, q);
            for (j, k, d) in self.rows_at(&view, b) {
                let w = d.weight;
                let (columns, values) = self.patterns.x_nonzero(k);
                let (positions, a) = view.a_row(j);
                for (i, (&r, xr)) in columns.iter().zip(values).enumerate() {
                    let (r, wx) = (r as usize, w * xr);
                    for (&col, xc) in columns[..=i].iter().zip(values) {
                        info[(r, col as usize)] += wx * xc;
                    }
                    for (&t, at) in positions.iter().zip(a) {
                        xwa[(r, t as usize)] += wx * at;
                    }
                }
                for (&r, ar) in positions.iter().zip(a) {
                    for (&col, ac) in positions.iter().zip(a) {
                        c[(r as usize, col as usize)] += w * ar * ac;
                    }
                }
            }
            if let Some(ci) = c.try_inverse() {
                let correction: DMatrix<f64> = &xwa * ci * xwa.transpose();
                for r in 0..p {
                    for col in 0..=r {
                        info[(r, col)] -= correction[(r, col)];
                    }
                }
            }
        }
        info.fill_upper_triangle_with_lower_triangle();
        info
    }

    /// Conditional modes `Lambda b^` of the random effects and their conditional SDs
    /// `sqrt(diag(Lambda C^{-1} Lambda'))`, group by group (q values each).
    pub fn conditional_modes(&self, params: &[f64], modes: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (p, q) = (self.p(), self.q());
        let lam = self.structure.lambda(&params[p..]);
        let mut values = Vec::with_capacity(modes.len());
        let mut sds = Vec::with_capacity(modes.len());
        for g in 0..self.patterns.n_groups() {
            let view = self.view(g, &params[..p], &lam);
            let b = DVector::from_column_slice(&modes[g * q..(g + 1) * q]);
            let (_, _, c) = self.mode_state(&view, &b);
            let cov = c.try_inverse().map(|ci| &lam * ci * lam.transpose());
            values.extend((&lam * &b).iter());
            match cov {
                Some(v) => sds.extend((0..q).map(|r| v[(r, r)].max(0.0).sqrt())),
                None => sds.extend(std::iter::repeat_n(0.0, q)),
            }
        }
        (values, sds)
    }
}

/// The error of a conditional-mode search that did not converge.
pub(crate) fn mode_error(group: &str, message: &str, last_step: f64) -> Error {
    Error::NotConverged {
        what: format!("the conditional mode of group '{group}' ({message})"),
        iterations: MODE_MAX_ITER,
        criterion: if last_step.is_finite() {
            last_step
        } else {
            0.0
        },
    }
}

fn log_sum_exp(v: &[f64]) -> f64 {
    let top = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    top + v.iter().map(|x| (x - top).exp()).sum::<f64>().ln()
}
