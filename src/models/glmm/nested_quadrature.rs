//! Adaptive Gauss-Hermite quadrature for nested random intercepts, `(1 | g) + (1 | g:h)`, which
//! lme4 and MixedModels.jl do not offer (they refuse quadrature beyond one scalar effect), and
//! the exact gradient of that approximation.
//!
//! Given the outer effect, the inner effects of a group are independent, so the group's
//! likelihood is a one-dimensional integral of a product of one-dimensional integrals:
//! `L_i = int phi(u) prod_k [ int phi(v) prod_{j in k} f(y_j | eta0_j + s_u u + s_v v) dv ] du`
//! (`s_u`, `s_v` the two SDs, theta). Each integral is approximated by adaptive Gauss-Hermite
//! quadrature with the same n nodes `z`, weights `w`:
//! - inner, given u: `J_k(u) = log tau + log sum_n w_n exp(h_k(v* + tau z_n) + z_n^2 / 2)` with
//!   `h_k(v) = sum_{j in k} l_j(e_j + s_v v) - v^2 / 2`, `e_j = eta0_j + s_u u`, `v*` the mode
//!   of `h_k` and `tau = (1 + s_v^2 sum_{j in k} W_j(v*))^{-1/2}` (W the Fisher weights);
//! - outer: `log L_i = log sigma + log sum_m w_m exp(T_m)`,
//!   `T_m = -u_m^2 / 2 + sum_k J_k(u_m) + z_m^2 / 2` at `u_m = mu + sigma z_m`, centred at the
//!   joint conditional mode's u, `mu = u^`, and scaled by the Laplace precision of u after the v's
//!   are integrated out, the Schur complement `S = C_uu - sum_k C_uk^2 / C_kk = sigma^{-2}` of
//!   the joint Fisher curvature `C = I + sum_j W_j a_j a_j'` at the joint mode.
//!
//! With one node this is exactly the joint Laplace approximation (the arrowhead determinant
//! factorises the same way).
//!
//! # Gradient
//!
//! The gradient over `phi = (beta, s_u, s_v)` is that of the approximation as computed: the
//! centres and scales move with phi, and their derivatives are taken too. Every derivative is
//! written as a linear form in the differentials `dx_j = x_j' dbeta` of the rows, `ds_u` and
//! `ds_v`, so a group's gradient is `sum_j c_j x_j` in beta plus two scalars, and no loop over
//! nodes carries a vector of length p. With `s_j`, `s'_j`, `W_j`, `W'_j` a row's score, its
//! eta-derivative, Fisher weight and its eta-derivative:
//!
//! - Inner mode (implicit function of `F = s_v sum_j s_j - v = 0`):
//!   `dv* = [s_v sum_j s'_j de_j + (sum_j s_j + s_v v* sum_j s'_j) ds_v] / H` with
//!   `H = 1 - s_v^2 sum_j s'_j` and `de_j = dx_j + u ds_u + s_u du`.
//! - Inner scale: `d log tau = -tau^2 / 2 [(2 s_v sum W + s_v^2 v* sum W') ds_v
//!   + s_v^2 sum_j W'_j de_j + s_v^3 sum W' dv*]`.
//! - Inner sum, with `v_n = v* + tau z_n` and `rho_n` its normalised term:
//!   `dJ_k = (1 + tau sum_n rho_n h'(v_n) z_n) d log tau + sum_j P_j de_j + Q ds_v
//!   + (sum_n rho_n h'(v_n)) dv*`, `P_j = sum_n rho_n s_j(v_n)`,
//!   `Q = sum_n rho_n v_n sum_j s_j(v_n)`, `h'(v) = s_v sum_j s_j(v) - v`.
//! - Outer node, with `a_j` the coefficient of `de_j` in `dJ_k` and `A_m = sum_j a_j`:
//!   `dT_m = sum_j a_j dx_j + A_m u_m ds_u + (sum_k dJ_k / ds_v) ds_v + (s_u A_m - u_m) du_m`,
//!   `du_m = dmu + z_m sigma d log sigma`.
//! - Outer sum, with `pi_m` the normalised terms: `d log L_i = d log sigma + sum_m pi_m dT_m`,
//!   `d log sigma = -dS / (2 S)`.
//! - Joint mode `b^ = (u^, v^_k)` (implicit function of `F_0 = s_u sum_j s_j - u`,
//!   `F_k = s_v sum_{j in k} s_j - v_k`): the arrowhead system `H db = dF` with
//!   `H_00 = 1 - s_u^2 sum_j s'_j`, `H_0k = -s_u s_v sum_{j in k} s'_j`,
//!   `H_kk = 1 - s_v^2 sum_{j in k} s'_j`, `dF_0 = s_u sum_j s'_j dx_j + (sum_j s_j +
//!   s_u u^ sum_j s'_j) ds_u + s_u sum_j s'_j v^_k(j) ds_v` and `dF_k = s_v sum_{j in k} s'_j
//!   dx_j + s_v u^ sum_{j in k} s'_j ds_u + (sum_{j in k} s_j + s_v v^_k sum_{j in k} s'_j)
//!   ds_v`, solved as `du^ = (dF_0 - sum_k H_0k dF_k / H_kk) / (H_00 - sum_k H_0k^2 / H_kk)`,
//!   `dv^_k = (dF_k - H_0k du^) / H_kk`.
//! - Outer scale: with `A = sum_j W_j`, `B_k = sum_{j in k} W_j`, `C_uu = 1 + s_u^2 A`,
//!   `C_uk = s_u s_v B_k`, `C_kk = 1 + s_v^2 B_k`:
//!   `dS = 2 s_u A ds_u - sum_k [2 C_uk s_v B_k / C_kk] ds_u - sum_k [2 C_uk s_u B_k / C_kk
//!   - 2 C_uk^2 s_v B_k / C_kk^2] ds_v + sum_j omega_j W'_j deta_j` with
//!   `omega_j = s_u^2 - gamma_k(j)`, `gamma_k = 2 C_uk s_u s_v / C_kk - C_uk^2 s_v^2 / C_kk^2`
//!   and `deta_j = dx_j + u^ ds_u + s_u du^ + v^_k ds_v + s_v dv^_k`.
//!
//! # Evaluation
//!
//! The inner mode at the outer node `u_m` is searched (Newton with Fisher curvature) from the
//! linear prediction `v^_k + dv*/du (u_m - u^)` off the joint mode, `dv*/du = s_u s_v sum_j
//! s'_j / (1 - s_v^2 sum_j s'_j)`; the search and the inner nodes compute only the rows'
//! kernel, score and Fisher weight ([`crate::models::glm::Family::loglik_score_weight`]). A
//! zero SD is not integrated over: with `s_v = 0` an inner integral is the product of its rows
//! (they do not depend on v, and the rule's weights sum to 1), with `s_u = 0` the inner integrals
//! (and their derivatives) of the first outer node serve every node (they do not depend on u).
//! The groups are evaluated in parallel when there is enough work, and added in group order.
//!
//! The maximisation starts from the maximum of the same model's Laplace approximation (far
//! cheaper, and close). The Newton maximiser takes its step curvature from the Laplace
//! approximation too while that converges fast (for a canonical link its exact Hessian,
//! `vector_laplace` in the source; else [`Likelihood::nested_step_information`]), else from the
//! fixed-effects information and differences of this gradient in the theta columns. The Hessian
//! reported at the maximum is exact for a canonical link (binomial-logit, Poisson-log:
//! `nested_hessian` in the source, the same derivatives taken to second order, about three
//! evaluations' cost, so not for the steps), else from differences of this gradient.
//!
//! # Hessian
//!
//! For the canonical links, by second-order forward differentiation of the same computation
//! (modes and scales by the implicit-function theorem, node sums by their moments): see
//! `nested_hessian` in the source for the formulas.

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use super::likelihood::{Evaluation, GroupView, Likelihood};
use super::quadrature::GaussHermite;
use crate::core::error::{Error, Result};
use crate::models::glm::RowDerivatives;

/// Newton iterations allowed for an inner mode.
const INNER_MAX_ITER: usize = 100;

/// Groups are evaluated in parallel from this many patterns times squared nodes (the row
/// evaluations of one evaluation, about).
pub(super) const PARALLEL_NODE_ROWS: usize = 20_000;

/// One group's pieces shared by the value and its derivatives.
pub(super) struct NestedGroup<'v> {
    pub(super) view: &'v GroupView,
    pub(super) s_u: f64,
    pub(super) s_v: f64,
    /// The rows (indices within the group) of each inner level (position k >= 1 of z).
    pub(super) inner: Vec<Vec<usize>>,
    pub(super) label: &'v str,
}

/// Where an inner integral adds its derivative: the coefficient of `de_j` of each member j (at
/// index j) and that of `ds_v`.
struct InnerGradient<'b> {
    rows: &'b mut [f64],
    sv: &'b mut f64,
}

impl Likelihood<'_> {
    /// The nested-quadrature log-likelihood at `params` and, if asked, its exact gradient (see
    /// the module docs); `modes` (1 + K values per group) are the joint conditional modes,
    /// updated in place.
    pub fn nested_evaluate(
        &self,
        params: &[f64],
        modes: &mut [f64],
        want_gradient: bool,
    ) -> Result<Evaluation> {
        let p = self.patterns.p;
        let q = self.patterns.q;
        let lam = self.structure.lambda(&params[p..]);
        let (s_u, s_v) = (lam[(0, 0)], if q > 1 { lam[(1, 1)] } else { 0.0 });
        let one_group = |(g, b): (usize, &mut [f64])| -> Result<(f64, Vec<f64>)> {
            let view = self.view(g, &params[..p], &lam);
            self.find_mode(&view, b, &self.labels[g])?;
            let group = self.nested_group_of(&view, g, s_u, s_v);
            let mut gradient = vec![0.0; if want_gradient { params.len() } else { 0 }];
            let wanted = want_gradient.then_some(gradient.as_mut_slice());
            let loglik = self.nested_group(&group, b, wanted)?;
            Ok((loglik, gradient))
        };
        // Groups are independent: split them over threads when there is enough work, and add
        // their contributions in group order (the same numbers on any number of threads).
        let work = self.patterns.len() * self.rule.nodes.len() * self.rule.nodes.len();
        let parts: Vec<Result<(f64, Vec<f64>)>> = if work >= PARALLEL_NODE_ROWS {
            modes.par_chunks_mut(q).enumerate().map(one_group).collect()
        } else {
            modes.chunks_mut(q).enumerate().map(one_group).collect()
        };
        let mut total = Evaluation {
            loglik: self.patterns.constant,
            gradient: vec![0.0; if want_gradient { params.len() } else { 0 }],
        };
        for part in parts {
            let (loglik, gradient) = part?;
            total.loglik += loglik;
            for (t, g) in total.gradient.iter_mut().zip(gradient) {
                *t += g;
            }
        }
        Ok(total)
    }

    /// Group g's pieces at `view` and the SDs.
    pub(super) fn nested_group_of<'v>(
        &'v self,
        view: &'v GroupView,
        g: usize,
        s_u: f64,
        s_v: f64,
    ) -> NestedGroup<'v> {
        // Patterns of each inner level (position k >= 1 of z).
        let q = self.patterns.q;
        let mut inner: Vec<Vec<usize>> = vec![Vec::new(); q];
        for j in 0..view.len() {
            let z = self.patterns.z_row(view.start + j);
            if let Some(k) = (1..q).find(|&k| z[k] != 0.0) {
                inner[k].push(j);
            }
        }
        NestedGroup {
            view,
            s_u,
            s_v,
            inner,
            label: &self.labels[g],
        }
    }

    /// An approximation of minus the Hessian of the nested-quadrature log-likelihood at
    /// `params` for the Newton steps of a link without the exact Laplace Hessian, far cheaper
    /// than differences of its gradient: that of the same model's Laplace approximation (the
    /// one-node rule, nearly the same function), its
    /// fixed-effects information ([`Likelihood::fixed_information`]) with the theta columns
    /// from forward differences of the Laplace gradient (steps `1e-6 max(1, |theta_k|)`),
    /// symmetrised. `modes` are the joint modes at `params`; `None` where the Laplace
    /// likelihood cannot be evaluated.
    pub(crate) fn nested_step_information(
        &self,
        params: &[f64],
        modes: &[f64],
    ) -> Option<DMatrix<f64>> {
        let rule = GaussHermite::new(1).ok()?;
        let laplace = Likelihood {
            rule: &rule,
            ..*self
        };
        let (p, n) = (self.patterns.p, params.len());
        let mut warm = modes.to_vec();
        let at = laplace.evaluate(params, &mut warm, true).ok()?.gradient;
        let mut information = DMatrix::zeros(n, n);
        information
            .view_mut((0, 0), (p, p))
            .copy_from(&laplace.fixed_information(params, &warm));
        for k in p..n {
            let step = 1e-6 * params[k].abs().max(1.0);
            let mut up = params.to_vec();
            up[k] += step;
            let moved = laplace
                .evaluate(&up, &mut warm.clone(), true)
                .ok()?
                .gradient;
            for r in 0..n {
                information[(r, k)] = (at[r] - moved[r]) / step;
                if r < p {
                    information[(k, r)] = information[(r, k)];
                }
            }
        }
        Some((&information + information.transpose()) * 0.5)
    }

    /// One group's log-likelihood at its joint mode `b`; its gradient added to `gradient` if
    /// given.
    fn nested_group(
        &self,
        group: &NestedGroup<'_>,
        b: &[f64],
        gradient: Option<&mut [f64]>,
    ) -> Result<f64> {
        let q = b.len();
        let (_, _, c) = self.mode_state(group.view, &DVector::from_column_slice(b));
        let schur = c[(0, 0)]
            - (1..q)
                .filter(|&k| c[(k, k)] > 0.0)
                .map(|k| c[(0, k)].powi(2) / c[(k, k)])
                .sum::<f64>();
        if schur.is_nan() || schur <= 0.0 {
            return Err(Error::Numerical {
                what: "nested quadrature".into(),
                message: format!(
                    "the outer curvature of group '{}' is not positive",
                    group.label
                ),
            });
        }
        let outer_scale = schur.powf(-0.5);
        let nodes = self.rule.nodes.len();
        let n = group.view.len();
        // Per node m: the coefficients of the rows' `de_j` in `sum_k dJ_k` (n values each) and
        // that of `ds_v`.
        let mut node_rows = vec![0.0; if gradient.is_some() { nodes * n } else { 0 }];
        let mut node_sv = vec![0.0; nodes];
        let mut scratch = Scratch::default();
        let mut terms = Vec::with_capacity(nodes);
        let slopes = self.inner_mode_slopes(group, b);
        // sum_k J_k(u_m) at the current node.
        let mut inner = 0.0;
        for (m, (z_m, lw_m)) in self
            .rule
            .nodes
            .iter()
            .zip(&self.rule.log_weights)
            .enumerate()
        {
            let u = b[0] + outer_scale * z_m;
            if group.s_u == 0.0 && m > 0 {
                // With s_u = 0 the inner integrals do not depend on u: those of the first node.
                if !node_rows.is_empty() {
                    node_rows.copy_within(0..n, m * n);
                }
                node_sv[m] = node_sv[0];
            } else {
                inner = 0.0;
                for (k, members) in group.inner.iter().enumerate().skip(1) {
                    if members.is_empty() {
                        continue;
                    }
                    let derivative = gradient.is_some().then(|| InnerGradient {
                        rows: &mut node_rows[m * n..(m + 1) * n],
                        sv: &mut node_sv[m],
                    });
                    inner += self.inner_log_integral(
                        group,
                        members,
                        group.s_u * u,
                        b[k] + slopes[k] * (u - b[0]),
                        derivative,
                        &mut scratch,
                    )?;
                }
            }
            terms.push(lw_m - 0.5 * u * u + inner + 0.5 * z_m * z_m);
        }
        let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum_exp = terms.iter().map(|t| (t - top).exp()).sum::<f64>();
        let value = outer_scale.ln() + top + sum_exp.ln();
        if !value.is_finite() {
            return Err(Error::Numerical {
                what: "nested quadrature".into(),
                message: format!("the likelihood of group '{}' is not finite", group.label),
            });
        }
        if let Some(gradient) = gradient {
            let weights: Vec<f64> = terms.iter().map(|t| (t - top).exp() / sum_exp).collect();
            let outer = OuterNodes {
                weights: &weights,
                rows: &node_rows,
                sv: &node_sv,
                scale: outer_scale,
                schur,
            };
            self.nested_group_gradient(group, b, &outer, gradient);
        }
        Ok(value)
    }

    /// Adds one group's gradient to `gradient`: the outer sum's derivative with those of its
    /// centre `u^` and scale `sigma` through the joint mode (see the module docs).
    fn nested_group_gradient(
        &self,
        group: &NestedGroup<'_>,
        b: &[f64],
        outer: &OuterNodes<'_>,
        gradient: &mut [f64],
    ) {
        let (s_u, s_v, q, n) = (group.s_u, group.s_v, b.len(), group.view.len());
        let p = self.patterns.p;
        // The coefficients of dx_j, ds_u and ds_v in d log L_i.
        let mut rows = vec![0.0; n];
        let (mut d_su, mut d_sv) = (0.0, 0.0);
        // The coefficients of du^ (d1) and of sigma d log sigma (d2) through the nodes.
        let (mut d1, mut d2) = (0.0, 0.0);
        for (m, (pi, z_m)) in outer.weights.iter().zip(&self.rule.nodes).enumerate() {
            if *pi == 0.0 {
                continue;
            }
            let node = &outer.rows[m * n..(m + 1) * n];
            let a_m: f64 = node.iter().sum();
            let u_m = b[0] + outer.scale * z_m;
            for (r, a) in rows.iter_mut().zip(node) {
                *r += pi * a;
            }
            d_su += pi * a_m * u_m;
            d_sv += pi * outer.sv[m];
            let du = pi * (s_u * a_m - u_m);
            d1 += du;
            d2 += du * z_m;
        }
        // The level of each row, and its derivatives at the joint mode.
        let mut level = vec![0; n];
        for (k, members) in group.inner.iter().enumerate().skip(1) {
            for &j in members {
                level[j] = k;
            }
        }
        let at_mode: Vec<RowDerivatives> = (0..n)
            .map(|j| {
                let v = if level[j] > 0 { s_v * b[level[j]] } else { 0.0 };
                self.row(group.view.start + j, group.view.eta0[j] + s_u * b[0] + v)
            })
            .collect();
        // Per level (index 0: all rows): sums of s', s and W.
        let (mut ts, mut sc, mut bw) = (vec![0.0; q], vec![0.0; q], vec![0.0; q]);
        for (j, d) in at_mode.iter().enumerate() {
            for k in [0, level[j]] {
                ts[k] += d.score_deriv;
                sc[k] += d.score;
                bw[k] += d.weight;
            }
            if level[j] == 0 {
                // Counted twice above for rows outside every level.
                ts[0] -= d.score_deriv;
                sc[0] -= d.score;
                bw[0] -= d.weight;
            }
        }
        let h00 = 1.0 - s_u * s_u * ts[0];
        let h0: Vec<f64> = (0..q).map(|k| -s_u * s_v * ts[k]).collect();
        let hkk: Vec<f64> = (0..q).map(|k| 1.0 - s_v * s_v * ts[k]).collect();
        let h_schur = h00 - (1..q).map(|k| h0[k] * h0[k] / hkk[k]).sum::<f64>();
        let c0: Vec<f64> = (0..q).map(|k| s_u * s_v * bw[k]).collect();
        let ckk: Vec<f64> = (0..q).map(|k| 1.0 + s_v * s_v * bw[k]).collect();
        let omega: Vec<f64> = (0..q)
            .map(|k| {
                let gamma = if k == 0 {
                    0.0
                } else {
                    2.0 * c0[k] * s_u * s_v / ckk[k] - (c0[k] * s_v / ckk[k]).powi(2)
                };
                s_u * s_u - gamma
            })
            .collect();
        // E_k = sum_{j in k} omega_j W'_j (index 0: all rows), and sum_j omega_j W'_j v^_k(j).
        let mut e = vec![0.0; q];
        let mut e_v = 0.0;
        for (j, d) in at_mode.iter().enumerate() {
            let k = level[j];
            let f = omega[k] * d.weight_deriv;
            e[0] += f;
            if k > 0 {
                e[k] += f;
                e_v += f * b[k];
            }
        }
        // d log L_i gets mu_s dS (from d log sigma and the nodes' du_m).
        let mu_s = -(1.0 + d2 * outer.scale) / (2.0 * outer.schur);
        d_su += mu_s
            * (2.0 * s_u * bw[0] + e[0] * b[0]
                - (1..q)
                    .map(|k| 2.0 * c0[k] * s_v * bw[k] / ckk[k])
                    .sum::<f64>());
        d_sv += mu_s
            * (e_v
                - (1..q)
                    .map(|k| {
                        2.0 * c0[k] * s_u * bw[k] / ckk[k]
                            - 2.0 * c0[k] * c0[k] * s_v * bw[k] / (ckk[k] * ckk[k])
                    })
                    .sum::<f64>());
        // The coefficient of du^, then those of dF_0 (lambda_0) and dF_k (lambda_k).
        let m0 = d1 + mu_s * s_u * e[0]
            - mu_s * s_v * (1..q).map(|k| e[k] * h0[k] / hkk[k]).sum::<f64>();
        let lambda0 = m0 / h_schur;
        let lambda: Vec<f64> = (0..q)
            .map(|k| {
                if k == 0 {
                    0.0
                } else {
                    mu_s * s_v * e[k] / hkk[k] - m0 * h0[k] / (hkk[k] * h_schur)
                }
            })
            .collect();
        for (j, d) in at_mode.iter().enumerate() {
            let k = level[j];
            rows[j] += mu_s * omega[k] * d.weight_deriv
                + (lambda0 * s_u + lambda[k] * s_v) * d.score_deriv;
        }
        d_su += lambda0 * (sc[0] + s_u * b[0] * ts[0])
            + (1..q).map(|k| lambda[k] * s_v * b[0] * ts[k]).sum::<f64>();
        d_sv += (1..q)
            .map(|k| lambda0 * s_u * ts[k] * b[k] + lambda[k] * (sc[k] + s_v * b[k] * ts[k]))
            .sum::<f64>();
        for (j, c) in rows.iter().enumerate() {
            let (columns, values) = self.patterns.x_nonzero(group.view.start + j);
            for (&col, x) in columns.iter().zip(values) {
                gradient[col as usize] += c * x;
            }
        }
        gradient[p] += d_su;
        gradient[p + 1] += d_sv;
    }

    /// For each inner level k (index 0 unused), the derivative of its inner mode `v*(u)` in the
    /// outer effect u at the joint mode `b`, `dv*/du = s_u s_v sum_j s'_j / (1 - s_v^2 sum_j
    /// s'_j)` (the implicit function of `F = s_v sum_j s_j - v = 0`, sums over the level's
    /// rows): the inner mode search at the outer node `u_m` starts from the linear prediction
    /// `v^_k + dv*/du (u_m - u^)` instead of from `v^_k`.
    pub(super) fn inner_mode_slopes(&self, group: &NestedGroup<'_>, b: &[f64]) -> Vec<f64> {
        let (view, s_u, s_v) = (group.view, group.s_u, group.s_v);
        let mut slopes = vec![0.0; b.len()];
        for (k, members) in group.inner.iter().enumerate().skip(1) {
            let eta_shift = s_u * b[0] + s_v * b[k];
            let sum_sd: f64 = members
                .iter()
                .map(|&j| {
                    self.row(view.start + j, view.eta0[j] + eta_shift)
                        .score_deriv
                })
                .sum();
            slopes[k] = s_u * s_v * sum_sd / (1.0 - s_v * s_v * sum_sd);
        }
        slopes
    }

    /// Pattern k's log-likelihood derivatives at `eta`.
    fn row(&self, k: usize, eta: f64) -> RowDerivatives {
        self.family
            .row_derivatives(self.link, self.patterns.y[k], self.patterns.m[k], eta)
    }

    /// Row j of `view`: its log-likelihood kernel, score and Fisher weight at `eta`.
    fn kernel_score_weight(&self, view: &GroupView, j: usize, eta: f64) -> (f64, f64, f64) {
        let k = view.start + j;
        self.family
            .loglik_score_weight(self.link, self.patterns.y[k], self.patterns.m[k], eta)
    }

    /// `h(v)`, `h'(v)` and `1 + s_v^2 sum W` of an inner level (rows `members`, `e_j =
    /// eta0_j + shift`); the members' scores pushed onto `keep` if given.
    fn inner_state(
        &self,
        group: &NestedGroup<'_>,
        members: &[usize],
        shift: f64,
        v: f64,
        mut keep: Option<&mut Vec<f64>>,
    ) -> (f64, f64, f64) {
        let (view, s_v) = (group.view, group.s_v);
        let (mut value, mut grad, mut curvature) = (-0.5 * v * v, -v, 1.0);
        for &j in members {
            let (loglik, score, weight) =
                self.kernel_score_weight(view, j, view.eta0[j] + shift + s_v * v);
            value += loglik;
            grad += s_v * score;
            curvature += s_v * s_v * weight;
            if let Some(keep) = keep.as_deref_mut() {
                keep.push(score);
            }
        }
        (value, grad, curvature)
    }

    /// The mode `v*` of `h` of an inner level (rows `members`, `e_j = eta0_j + shift`) by
    /// Newton with Fisher curvature and step halving from `start`, and `1 + s_v^2 sum W` there.
    pub(super) fn inner_mode(
        &self,
        group: &NestedGroup<'_>,
        members: &[usize],
        shift: f64,
        start: f64,
    ) -> Result<(f64, f64)> {
        let at = |v: f64| self.inner_state(group, members, shift, v, None);
        let mut v = start;
        let mut state = at(v);
        let mut converged = false;
        for _ in 0..INNER_MAX_ITER {
            let step = state.1 / state.2;
            if step.abs() <= 1e-11 * (1.0 + v.abs()) {
                converged = true;
                break;
            }
            let mut t = 1.0;
            loop {
                let candidate = at(v + t * step);
                if candidate.0 >= state.0 - 1e-13 * state.0.abs().max(1.0) {
                    v += t * step;
                    state = candidate;
                    break;
                }
                t /= 2.0;
                if t < 1e-12 {
                    break;
                }
            }
            if t < 1e-12 {
                converged = true;
                break;
            }
        }
        if !converged {
            return Err(Error::NotConverged {
                what: format!("an inner conditional mode of group '{}'", group.label),
                iterations: INNER_MAX_ITER,
                criterion: (state.1 / state.2).abs(),
            });
        }
        Ok((v, state.2))
    }

    /// `J_k = log int phi(v) prod_{j in members} f(y_j | eta0_j + shift + s_v v) dv` by adaptive
    /// quadrature, the mode searched from `start`; with `derivative`, its derivative as a linear
    /// form in the members' `de_j` and `ds_v` (see the module docs).
    fn inner_log_integral(
        &self,
        group: &NestedGroup<'_>,
        members: &[usize],
        shift: f64,
        start: f64,
        derivative: Option<InnerGradient<'_>>,
        scratch: &mut Scratch,
    ) -> Result<f64> {
        let (view, s_v) = (group.view, group.s_v);
        let eta = |j: usize, v: f64| view.eta0[j] + shift + s_v * v;
        let row = |j: usize, v: f64| self.kernel_score_weight(view, j, eta(j, v));
        if s_v == 0.0 {
            // The rows do not depend on v: the mode is v* = 0, tau = 1, every node's term is
            // w_n exp(sum_j l_j), so J_k = sum_j l_j (the weights sum to 1) with derivative
            // sum_j s_j de_j, and none in s_v (J_k is even in s_v).
            let mut value = 0.0;
            let mut derivative = derivative;
            for &j in members {
                let (loglik, score, _) = row(j, 0.0);
                value += loglik;
                if let Some(out) = derivative.as_mut() {
                    out.rows[j] += score;
                }
            }
            return Ok(value);
        }
        let at =
            |v: f64, keep: Option<&mut Vec<f64>>| self.inner_state(group, members, shift, v, keep);
        let (v, curvature) = self.inner_mode(group, members, shift, start)?;
        let scale = curvature.powf(-0.5);
        let Scratch { scores, terms } = scratch;
        scores.clear();
        terms.clear();
        let mut keep = derivative.is_some().then_some(&mut *scores);
        terms.extend(
            self.rule
                .nodes
                .iter()
                .zip(&self.rule.log_weights)
                .map(|(z, lw)| lw + at(v + scale * z, keep.as_deref_mut()).0 + 0.5 * z * z),
        );
        let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // Each term becomes exp(term - top), rho_n times the sum.
        let mut sum_exp = 0.0;
        for t in terms.iter_mut() {
            *t = (*t - top).exp();
            sum_exp += *t;
        }
        let value = scale.ln() + top + sum_exp.ln();
        if let Some(out) = derivative {
            let tau = scale;
            // sum_n rho_n h'(v_n), sum_n rho_n h'(v_n) z_n and Q; P_j into `out.rows`.
            let (mut r, mut r_z, mut q_sv) = (0.0, 0.0, 0.0);
            let size = members.len();
            for (n, (t, z)) in terms.iter().zip(&self.rule.nodes).enumerate() {
                let rho = t / sum_exp;
                if rho == 0.0 {
                    // A node outside the mean space (a log-binomial risk of 1 or more) has
                    // likelihood 0 and adds nothing.
                    continue;
                }
                let v_n = v + tau * z;
                let node = &scores[n * size..(n + 1) * size];
                let total: f64 = node.iter().sum();
                let slope = rho * (s_v * total - v_n);
                r += slope;
                r_z += slope * z;
                q_sv += rho * v_n * total;
                for (&j, s) in members.iter().zip(node) {
                    out.rows[j] += rho * s;
                }
            }
            // At the mode: H = 1 - s_v^2 sum s', sum s, sum W, sum W'.
            let (mut sum_sd, mut sum_s, mut sum_w, mut sum_wd) = (0.0, 0.0, 0.0, 0.0);
            let at_mode: Vec<RowDerivatives> = members
                .iter()
                .map(|&j| self.row(view.start + j, eta(j, v)))
                .collect();
            for d in &at_mode {
                sum_sd += d.score_deriv;
                sum_s += d.score;
                sum_w += d.weight;
                sum_wd += d.weight_deriv;
            }
            let h = 1.0 - s_v * s_v * sum_sd;
            // dv* = sum_j alpha_j de_j + alpha_v ds_v.
            let alpha_v = (sum_s + s_v * v * sum_sd) / h;
            // The coefficient of d log tau, and the total one of dv*.
            let f = -(1.0 + r_z * tau) * tau * tau / 2.0;
            let kappa = r + f * s_v.powi(3) * sum_wd;
            for (&j, d) in members.iter().zip(&at_mode) {
                out.rows[j] += f * s_v * s_v * d.weight_deriv + kappa * s_v * d.score_deriv / h;
            }
            *out.sv += q_sv + f * (2.0 * s_v * sum_w + s_v * s_v * v * sum_wd) + kappa * alpha_v;
        }
        Ok(value)
    }
}

/// Buffers of [`Likelihood::inner_log_integral`], reused across its calls: the members' scores
/// at each node, and the nodes' terms.
#[derive(Default)]
struct Scratch {
    scores: Vec<f64>,
    terms: Vec<f64>,
}

/// The outer nodes of one group: their normalised weights `pi_m`, the coefficients of each
/// node's `sum_k dJ_k` (rows per node, then `ds_v`), the scale `sigma` and `S = sigma^{-2}`.
struct OuterNodes<'a> {
    weights: &'a [f64],
    rows: &'a [f64],
    sv: &'a [f64],
    scale: f64,
    schur: f64,
}

#[cfg(test)]
pub(super) mod tests {
    use nalgebra::DMatrix;

    use super::super::likelihood::Likelihood;
    use super::super::patterns::{Patterns, RowData};
    use super::super::quadrature::GaussHermite;
    use crate::frame::random_effects::ThetaStructure;
    use crate::models::glm::{Family, Link};

    /// Two clusters with 3 and 2 inner levels, binary rows (a small deterministic data set).
    pub(crate) fn data() -> (DMatrix<f64>, DMatrix<f64>, Vec<f64>, Vec<usize>) {
        // (cluster, inner level 1..=3, x, y)
        let rows: Vec<(usize, usize, f64, f64)> = (0..60)
            .map(|i| {
                let cluster = i % 2;
                let inner = 1 + (i / 2) % (3 - cluster);
                let x = ((i * 7) % 5) as f64 / 4.0;
                let y = f64::from(((i * 13 + cluster * 5 + inner * 3) % 7) < 3);
                (cluster, inner, x, y)
            })
            .collect();
        let x = DMatrix::from_fn(rows.len(), 2, |i, j| if j == 0 { 1.0 } else { rows[i].2 });
        let z = DMatrix::from_fn(rows.len(), 4, |i, j| f64::from(j == 0 || j == rows[i].1));
        let y = rows.iter().map(|r| r.3).collect();
        let g = rows.iter().map(|r| r.0).collect();
        (x, z, y, g)
    }

    fn with_likelihood<R>(nodes: usize, f: impl FnOnce(&Likelihood<'_>) -> R) -> R {
        with_model(nodes, Family::Binomial, Link::Logit, f)
    }

    fn with_model<R>(
        nodes: usize,
        family: Family,
        link: Link,
        f: impl FnOnce(&Likelihood<'_>) -> R,
    ) -> R {
        with_data(nodes, family, link, (None, None), f)
    }

    /// The likelihood of the data of [`data`], with fixed-effects design `design.0` and offset
    /// `design.1` where given, with `nodes` nodes.
    pub(crate) fn with_data<R>(
        nodes: usize,
        family: Family,
        link: Link,
        design: (Option<&DMatrix<f64>>, Option<&[f64]>),
        f: impl FnOnce(&Likelihood<'_>) -> R,
    ) -> R {
        let (x, z, y, g) = data();
        let (x, offset) = (design.0.unwrap_or(&x), design.1);
        let w = vec![1.0; y.len()];
        let rows = RowData {
            x,
            z: &z,
            offset,
            y: &y,
            w: &w,
            group: &g,
            n_groups: 2,
        };
        let patterns = Patterns::new(&rows, 0.0);
        let rule = GaussHermite::new(nodes).unwrap();
        let structure = ThetaStructure::nested(3);
        let labels = vec!["A".to_string(), "B".to_string()];
        let likelihood = Likelihood {
            family,
            link,
            patterns: &patterns,
            rule: &rule,
            structure: &structure,
            labels: &labels,
        };
        f(&likelihood)
    }

    const PARAMS: [f64; 4] = [-0.4, 0.6, 0.8, 0.5];

    #[test]
    fn one_node_is_the_joint_laplace_approximation() {
        let (laplace, nested) = with_likelihood(1, |m| {
            let mut modes = vec![0.0; 8];
            let laplace = m.evaluate(&PARAMS, &mut modes, false).unwrap().loglik;
            (
                laplace,
                m.nested_evaluate(&PARAMS, &mut modes, false)
                    .unwrap()
                    .loglik,
            )
        });
        assert!((laplace - nested).abs() < 1e-10, "{laplace} vs {nested}");
    }

    /// The exact likelihood by brute force: trapezoid rules on [-9, 9] for both integrals.
    fn brute_force() -> f64 {
        let (x, z, y, g) = data();
        let grid: Vec<f64> = (0..=720).map(|i| -9.0 + 0.025 * i as f64).collect();
        let phi = |t: f64| (-0.5 * t * t).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let mut total = 0.0;
        for cluster in 0..2 {
            let outer: Vec<f64> = grid
                .iter()
                .map(|&u| {
                    let mut product = phi(u);
                    for inner in 1..4 {
                        let members: Vec<usize> = (0..y.len())
                            .filter(|&i| g[i] == cluster && z[(i, inner)] == 1.0)
                            .collect();
                        if members.is_empty() {
                            continue;
                        }
                        let values: Vec<f64> = grid
                            .iter()
                            .map(|&v| {
                                let lik: f64 = members
                                    .iter()
                                    .map(|&i| {
                                        let eta = PARAMS[0]
                                            + PARAMS[1] * x[(i, 1)]
                                            + PARAMS[2] * u
                                            + PARAMS[3] * v;
                                        let mu = 1.0 / (1.0 + (-eta).exp());
                                        if y[i] == 1.0 {
                                            mu
                                        } else {
                                            1.0 - mu
                                        }
                                    })
                                    .product();
                                phi(v) * lik
                            })
                            .collect();
                        product *= 0.025 * values.iter().sum::<f64>();
                    }
                    product
                })
                .collect();
            total += (0.025 * outer.iter().sum::<f64>()).ln();
        }
        total
    }

    #[test]
    fn many_nodes_converge_to_the_exact_likelihood() {
        let exact = brute_force();
        let by_nodes: Vec<f64> = [5, 15, 25]
            .iter()
            .map(|&n| {
                with_likelihood(n, |m| {
                    m.nested_evaluate(&PARAMS, &mut [0.0; 8], false)
                        .unwrap()
                        .loglik
                })
            })
            .collect();
        assert!(
            (by_nodes[2] - exact).abs() < 1e-8,
            "25 nodes {} vs exact {exact}",
            by_nodes[2]
        );
        assert!(
            (by_nodes[1] - exact).abs() < 1e-6,
            "15 nodes {} vs exact {exact}",
            by_nodes[1]
        );
        let laplace = with_likelihood(1, |m| {
            m.nested_evaluate(&PARAMS, &mut [0.0; 8], false)
                .unwrap()
                .loglik
        });
        assert!(
            (laplace - exact).abs() > (by_nodes[0] - exact).abs(),
            "quadrature improves on Laplace"
        );
    }

    /// The step information is minus the Hessian of the Laplace approximation (its theta columns
    /// against central differences of the one-node gradient, its beta block the fixed-effects
    /// information), and close to minus that of the quadrature (differenced).
    #[test]
    fn the_step_information_is_that_of_the_laplace_approximation() {
        let hessian = |nodes: usize| {
            with_likelihood(nodes, |m| {
                let mut modes = vec![0.0; 8];
                let mut h = DMatrix::zeros(4, 4);
                for k in 0..4 {
                    let step = 1e-5;
                    let (mut up, mut down) = (PARAMS, PARAMS);
                    up[k] += step;
                    down[k] -= step;
                    let g_up = m.nested_evaluate(&up, &mut modes, true).unwrap().gradient;
                    let g_down = m.nested_evaluate(&down, &mut modes, true).unwrap().gradient;
                    for r in 0..4 {
                        h[(r, k)] = (g_up[r] - g_down[r]) / (2.0 * step);
                    }
                }
                h
            })
        };
        let (laplace, quadrature) = (hessian(1), hessian(25));
        let (information, fixed) = with_likelihood(25, |m| {
            let mut modes = vec![0.0; 8];
            m.nested_evaluate(&PARAMS, &mut modes, false).unwrap();
            (
                m.nested_step_information(&PARAMS, &modes).unwrap(),
                m.fixed_information(&PARAMS, &modes),
            )
        });
        assert!((&information - information.transpose()).amax() < 1e-12);
        for r in 0..4 {
            for k in 2..4 {
                let (ours, differenced) = (information[(r, k)], -laplace[(r, k)]);
                assert!(
                    (ours - differenced).abs() < 1e-4 * differenced.abs().max(1.0),
                    "({r}, {k}): {ours} vs {differenced}"
                );
            }
        }
        assert!((information.view((0, 0), (2, 2)) - &fixed).amax() < 1e-12);
        let scale = quadrature.amax();
        let gap = (&information + &quadrature).amax() / scale;
        eprintln!("step information vs quadrature Hessian: {gap:.3e} of {scale:.3e}");
        assert!(gap < 0.1, "{information} vs {quadrature}");
    }

    /// The exact gradient against central differences of the log-likelihood, for canonical and
    /// non-canonical links, few and many nodes, a point where the inner SD exceeds the outer,
    /// and zero SDs.
    #[test]
    fn the_gradient_is_the_derivative_of_the_approximation() {
        let cases = [
            (5, Family::Binomial, Link::Logit, PARAMS),
            (25, Family::Binomial, Link::Logit, PARAMS),
            (25, Family::Binomial, Link::Logit, [0.3, -1.1, 0.4, 1.3]),
            (9, Family::Binomial, Link::Cloglog, PARAMS),
            (25, Family::Poisson, Link::Log, [-0.9, 0.3, 0.6, 0.7]),
            // A zero SD (its rows or inner integrals evaluated once).
            (25, Family::Binomial, Link::Logit, [-0.4, 0.6, 0.0, 0.5]),
            (25, Family::Binomial, Link::Logit, [-0.4, 0.6, 0.8, 0.0]),
        ];
        for (nodes, family, link, params) in cases {
            with_model(nodes, family, link, |m| {
                let mut modes = vec![0.0; 8];
                let exact = m.nested_evaluate(&params, &mut modes, true).unwrap();
                let mut value =
                    |at: &[f64]| m.nested_evaluate(at, &mut modes, false).unwrap().loglik;
                for k in 0..params.len() {
                    let h = 1e-5;
                    let (mut up, mut down) = (params, params);
                    up[k] += h;
                    down[k] -= h;
                    let (at_up, at_down) = (value(&up), value(&down));
                    let differenced = (at_up - at_down) / (2.0 * h);
                    // The value itself is continuous there (also at a zero SD).
                    let middle = (at_up + at_down) / 2.0;
                    assert!(
                        (exact.loglik - middle).abs() < 1e-7,
                        "{family:?} {link:?}, {nodes} nodes: {} vs {middle}",
                        exact.loglik
                    );
                    let g = exact.gradient[k];
                    assert!(
                        (g - differenced).abs() <= 1e-8 * g.abs().max(1.0),
                        "{family:?} {link:?}, {nodes} nodes, parameter {k}: exact {g} vs \
                         differenced {differenced}"
                    );
                }
            });
        }
    }
}
