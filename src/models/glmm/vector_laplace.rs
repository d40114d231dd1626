//! The Laplace log-likelihood of a GLMM with one grouping factor and a vector random effect
//! (q >= 2: correlated terms `(1 + x | g)`, or nested intercepts `(1 | g) + (1 | g:h)` under
//! Laplace) and a canonical link (binomial-logit, Poisson-log), with its exact gradient and
//! exact Hessian; [`super::scalar_laplace`] is the same for q = 1, written out in scalars.
//!
//! Model: for group i and its patterns j (prior weight m_j, mean response y_j),
//! `eta_j = x_j' beta + o_j + z_j' Lambda b`, `b ~ N(0, I_q)`, Lambda linear in theta:
//! `Lambda = sum_t theta_t E_t` (each theta sets the entries [`ThetaStructure`] lists). The row
//! log-likelihood is `l_j(eta) = m_j (y_j eta - k(eta))`, with eta-derivatives `l'..l''''` as in
//! [`super::scalar_laplace`].
//!
//! Per group, in the variables `u = (beta, theta, b)` (m = p + #theta of them in `phi`, then q):
//! `g(u) = sum_j l_j(eta_j) - b'b / 2`; the conditional mode `b^` solves `g_b = 0`;
//! `C = -g_bb = I - sum_j l''_j a_j a_j'` with `a_j = Lambda' z_j` (observed and Fisher
//! curvature agree for a canonical link); the Laplace log-likelihood is `L(phi) = G(phi, b^(phi))`
//! with `G = g - log det C / 2`.
//!
//! eta is bilinear in u: `eta_u = v_j = (x_j, d_j, a_j)` with `d_jt = e_jt' b` and
//! `e_jt = E_t' z_j`, and its only second derivatives are `eta_{theta_t b} = e_jt` (the matrix
//! S_j). So every derivative of g is a sum over rows of `l^(k)` times products of v_j and S_j:
//! `g_u = sum l' v - (0, 0, b)`, `g_uu = sum (l'' v v' + l' S) - diag(0, 0, I)`,
//! `g_{b_r u u} = sum [l''' a_r v v' + l'' (S_r v' + v S_r' + a_r S)]` (`S_r` the b_r row of S),
//! and `-C_k = -dC/du_k = D_k = sum [l''' v_k a a' + l'' (S_k a' + a S_k')]` (`S_k` the column of
//! S at u_k: `e_jt` for k = theta_t, else 0).
//!
//! By the implicit-function theorem `b^_phi = B = C^{-1} g_{b phi}` and, differentiating `g_b = 0`
//! twice, `b^_{phi phi} = C^{-1} J' g_{b uu} J` with `J = [I; B]`. With
//! `G_u = g_u + tau / 2`, `tau_k = -tr(C^{-1} C_k) = sum [l''' alpha v_k + 2 l'' gamma' S_k]`,
//! `gamma_j = C^{-1} a_j`, `alpha_j = a_j' gamma_j` and `c = C^{-1} G_b`:
//!
//! - gradient: `L_phi = J' G_u = G_phi + B' G_b`;
//! - Hessian: `L_{phi phi} = J' M J` with `M = G_uu + sum_r c_r g_{b_r uu}`, which is
//!   `sum_j [omega v v' + psi v' + v psi' + kappa S + l'' S' C^{-1} S] - diag(0, 0, I)
//!   + [tr(C^{-1} D_k C^{-1} D_l) / 2]_{kl}` with `omega = l'' + l'''' alpha / 2 + l''' c'a`,
//!   `kappa = l' + l''' alpha / 2 + l'' c'a` and `psi_k = (l''' gamma + l'' c)' S_k`
//!   (`G_uu = g_uu - [tr(C^{-1} C_kl) - tr(C^{-1} C_k C^{-1} C_l)] / 2`, the fourth
//!   derivatives of g entering through `C_kl`).
//!
//! The cost is one pass over the rows for the value and one more each for the gradient and the
//! Hessian, with the fixed-effect rows used by their nonzero entries; per group the q x q
//! matrices `D_k` for every u. The buffers of these passes belong to a [`Workspace`] that
//! each thread reuses from group to group.

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use super::likelihood::{GroupView, Likelihood};
use super::scalar_laplace::{add_groups, canonical_row, Derivatives, ModeAnchor, Row};
use crate::core::error::{Error, Result};
use crate::frame::random_effects::ThetaStructure;
use crate::models::glm::{Family, Link};

/// Patterns from which groups are evaluated in parallel.
const PARALLEL_PATTERNS: usize = 20_000;

/// The vector-random-effect Laplace likelihood over a set of patterns.
pub(crate) struct VectorLaplace<'a> {
    /// Binomial (logit link) or Poisson (log link).
    pub poisson: bool,
    /// The general likelihood whose patterns, structure and group labels this one reads, and
    /// whose conditional-mode search it uses.
    pub likelihood: &'a Likelihood<'a>,
}

/// One group's buffers, kept from group to group.
#[derive(Debug, Default)]
struct Workspace {
    rows: Vec<Row>,
    /// The positions where `a_j` or some `e_jt` is nonzero, row after row (nested intercepts
    /// touch two of the q positions), with each row's start.
    support: Vec<usize>,
    support_start: Vec<usize>,
    /// `e_jt` (q values per theta, #theta q per row).
    e: Vec<f64>,
    /// `alpha_j = a_j' C^{-1} a_j`, and `gamma_j' e_jt` for each theta (1 + #theta per row).
    quadratic: Vec<f64>,
    /// `D_k` for every u (q x q each, column-major, one after another).
    d: Vec<f64>,
    /// `d_jt` and `a_j`: the entries of `v_j` after the fixed effects.
    tail: Vec<f64>,
}

/// One group's quantities at the mode that the Hessian pass reads besides the rows.
struct AtMode<'m> {
    b: &'m DVector<f64>,
    c_inv: &'m DMatrix<f64>,
    /// `c = C^{-1} G_b`.
    cv: &'m DVector<f64>,
    /// `B = db^/dphi` (q x m).
    slope: &'m DMatrix<f64>,
}

impl<'a> VectorLaplace<'a> {
    /// The exact path applies to a vector random effect of one grouping factor (dense rows)
    /// with a canonical link and Laplace; `Some(poisson)` where it does.
    pub fn applies(
        family: Family,
        link: Link,
        structure: &ThetaStructure,
        nagq: usize,
    ) -> Option<bool> {
        match (family, link) {
            _ if structure.q < 2 || structure.sparse_rows || nagq != 1 => None,
            (Family::Binomial, Link::Logit) => Some(false),
            (Family::Poisson, Link::Log) => Some(true),
            _ => None,
        }
    }

    /// Log-likelihood and, if `gradient`, its gradient and Hessian at `params = (beta, theta)`.
    /// `modes` holds one b per group (q values each); each mode search starts from the mode
    /// predicted by `anchor` (linear in the parameters from the last evaluation with a
    /// gradient), and on return `modes` and `anchor` hold this evaluation's.
    pub fn evaluate(
        &self,
        params: &[f64],
        modes: &mut [f64],
        anchor: &mut ModeAnchor,
        gradient: bool,
    ) -> Result<Derivatives> {
        let likelihood = self.likelihood;
        let (p, q) = (likelihood.patterns.p, likelihood.patterns.q);
        let n = params.len();
        let lam = likelihood.structure.lambda(&params[p..]);
        anchor.predict(params, modes);
        let slopes = anchor.slopes_mut(modes.len() * n);
        let one_group = |ws: &mut Workspace, (g, (b, slope)): (usize, (&mut [f64], &mut [f64]))| {
            self.group(ws, g, (params, &lam), b, slope, gradient)
        };
        // Groups are independent; their sums are added in group order whatever the threads.
        let parts: Vec<Result<Derivatives>> = if likelihood.patterns.len() >= PARALLEL_PATTERNS {
            modes
                .par_chunks_mut(q)
                .zip(slopes.par_chunks_mut(q * n))
                .enumerate()
                .map_init(Workspace::default, one_group)
                .collect()
        } else {
            let mut ws = Workspace::default();
            modes
                .chunks_mut(q)
                .zip(slopes.chunks_mut(q * n))
                .enumerate()
                .map(|item| one_group(&mut ws, item))
                .collect()
        };
        anchor.record(params, modes);
        add_groups(parts, n, gradient, gradient, likelihood.patterns.constant)
    }

    /// One group's contribution at its conditional mode (found from `b` and stored there) at
    /// `(params, Lambda)`; with `gradient`, its gradient and Hessian, and the mode's derivative
    /// over the parameters in `slope` (row r of B in entries `r n..(r + 1) n`).
    fn group(
        &self,
        ws: &mut Workspace,
        g: usize,
        (params, lam): (&[f64], &DMatrix<f64>),
        b: &mut [f64],
        slope: &mut [f64],
        gradient: bool,
    ) -> Result<Derivatives> {
        let likelihood = self.likelihood;
        let pat = likelihood.patterns;
        let (p, q, nt) = (pat.p, pat.q, likelihood.structure.len());
        let (m, nu) = (p + nt, p + nt + q);
        let view = likelihood.view(g, &params[..p], lam);
        likelihood.find_mode(&view, b, &likelihood.labels[g])?;
        let b = DVector::from_column_slice(b);
        self.fill_e_and_support(ws, &view);
        // Pass 1: the rows at the mode, C and the value.
        ws.rows.clear();
        let mut c = DMatrix::<f64>::identity(q, q);
        let mut loglik = -0.5 * b.dot(&b);
        for j in 0..view.len() {
            let k = view.start + j;
            let row = canonical_row(self.poisson, pat.m[k], pat.y[k], view.eta(j, b.as_slice()));
            loglik += row.l0;
            let (_, a) = view.a_row(j);
            let support = &ws.support[ws.support_start[j]..ws.support_start[j + 1]];
            for &col in support {
                for &r in support {
                    c[(r, col)] -= row.l2 * a[r] * a[col];
                }
            }
            ws.rows.push(row);
        }
        let chol = c.cholesky().ok_or_else(|| Error::Numerical {
            what: "the Laplace approximation".into(),
            message: format!(
                "the conditional curvature of group '{}' is not positive definite",
                likelihood.labels[g]
            ),
        })?;
        loglik -= chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
        if !gradient {
            return Ok(Derivatives {
                loglik,
                gradient: Vec::new(),
                hessian: None,
            });
        }
        let c_inv = chol.inverse();
        // Pass 2: g_u, tau, g_bu and the D_k.
        let mut g_u = DVector::<f64>::zeros(nu);
        let mut tau = DVector::<f64>::zeros(nu);
        let mut g_bu = DMatrix::<f64>::zeros(q, nu);
        ws.d.clear();
        ws.d.resize(nu * q * q, 0.0);
        ws.quadratic.clear();
        ws.tail.resize(nt + q, 0.0);
        for (j, row) in ws.rows.iter().enumerate() {
            let k = view.start + j;
            let (_, a) = view.a_row(j);
            let e = &ws.e[j * nt * q..(j + 1) * nt * q];
            let support = &ws.support[ws.support_start[j]..ws.support_start[j + 1]];
            let alpha = quadratic_form(support, &c_inv, a, a);
            ws.quadratic.push(alpha);
            tail_values(support, e, &b, a, &mut ws.tail);
            let (columns, values) = pat.x_nonzero(k);
            for (&col, x) in columns.iter().zip(values) {
                let col = col as usize;
                g_u[col] += row.l1 * x;
                tau[col] += row.l3 * alpha * x;
                for &r in support {
                    g_bu[(r, col)] += row.l2 * a[r] * x;
                }
                add_outer(&mut ws.d[col * q * q..], support, row.l3 * x, a, a);
            }
            for (i, w) in ws.tail.iter().enumerate() {
                let u = p + i;
                g_u[u] += row.l1 * w;
                tau[u] += row.l3 * alpha * w;
                for &r in support {
                    g_bu[(r, u)] += row.l2 * a[r] * w;
                }
                add_outer(&mut ws.d[u * q * q..], support, row.l3 * w, a, a);
            }
            for t in 0..nt {
                let (u, et) = (p + t, &e[t * q..(t + 1) * q]);
                let gamma_e = quadratic_form(support, &c_inv, a, et);
                ws.quadratic.push(gamma_e);
                tau[u] += 2.0 * row.l2 * gamma_e;
                for &r in support {
                    g_bu[(r, u)] += row.l1 * et[r];
                }
                let block = &mut ws.d[u * q * q..];
                add_outer(block, support, row.l2, et, a);
                add_outer(block, support, row.l2, a, et);
            }
        }
        for r in 0..q {
            g_u[m + r] -= b[r];
            g_bu[(r, m + r)] -= 1.0;
        }
        let big_g_u = &g_u + &tau * 0.5;
        let big_g_b = big_g_u.rows(m, q).into_owned();
        let cv = &c_inv * &big_g_b;
        let slope_b = &c_inv * g_bu.columns(0, m);
        for r in 0..q {
            slope[r * m..(r + 1) * m].copy_from_slice(slope_b.row(r).transpose().as_slice());
        }
        let grad: Vec<f64> = (0..m)
            .map(|k| big_g_u[k] + slope_b.column(k).dot(&big_g_b))
            .collect();
        let at_mode = AtMode {
            b: &b,
            c_inv: &c_inv,
            cv: &cv,
            slope: &slope_b,
        };
        let hessian = self.hessian(ws, &view, &at_mode);
        Ok(Derivatives {
            loglik,
            gradient: grad,
            hessian: Some(hessian),
        })
    }

    /// `e_jt = E_t' z_j` of every row of the group, and each row's support (the positions
    /// where `a_j` or an `e_jt` is nonzero), into the workspace.
    fn fill_e_and_support(&self, ws: &mut Workspace, view: &GroupView) {
        let likelihood = self.likelihood;
        let (q, entries) = (likelihood.patterns.q, &likelihood.structure.entries);
        let nt = entries.len();
        ws.e.clear();
        ws.e.resize(view.len() * nt * q, 0.0);
        ws.support.clear();
        ws.support_start.clear();
        ws.support_start.push(0);
        for j in 0..view.len() {
            let z = likelihood.patterns.z_row(view.start + j);
            let e = &mut ws.e[j * nt * q..(j + 1) * nt * q];
            for (t, set) in entries.iter().enumerate() {
                for &(r, col) in set {
                    e[t * q + col] += z[r];
                }
            }
            let (_, a) = view.a_row(j);
            ws.support
                .extend((0..q).filter(|&r| a[r] != 0.0 || (0..nt).any(|t| e[t * q + r] != 0.0)));
            ws.support_start.push(ws.support.len());
        }
    }

    /// Pass 3: `J' M J` (module docs) from the rows and the pass-2 quantities in `ws`.
    fn hessian(&self, ws: &mut Workspace, view: &GroupView, at: &AtMode<'_>) -> DMatrix<f64> {
        let pat = self.likelihood.patterns;
        let (p, q, nt) = (pat.p, pat.q, self.likelihood.structure.len());
        let (m, nu) = (p + nt, p + nt + q);
        let mut big_m = DMatrix::<f64>::zeros(nu, nu);
        let mut psi = vec![0.0; nt + q];
        for (j, row) in ws.rows.iter().enumerate() {
            let k = view.start + j;
            let (_, a) = view.a_row(j);
            let e = &ws.e[j * nt * q..(j + 1) * nt * q];
            let support = &ws.support[ws.support_start[j]..ws.support_start[j + 1]];
            let quadratic = &ws.quadratic[j * (1 + nt)..(j + 1) * (1 + nt)];
            let alpha = quadratic[0];
            let ca: f64 = support.iter().map(|&r| at.cv[r] * a[r]).sum();
            let omega = row.l2 + 0.5 * row.l4 * alpha + row.l3 * ca;
            let kappa = row.l1 + 0.5 * row.l3 * alpha + row.l2 * ca;
            tail_values(support, e, at.b, a, &mut ws.tail);
            let tail = &ws.tail;
            for t in 0..nt {
                let ce: f64 = support.iter().map(|&r| at.cv[r] * e[t * q + r]).sum();
                psi[t] = row.l3 * quadratic[1 + t] + row.l2 * ce;
            }
            // The x block (lower triangle; the nonzero columns come in increasing order).
            let (columns, values) = pat.x_nonzero(k);
            for (i, (&r, xr)) in columns.iter().zip(values).enumerate() {
                let wx = omega * xr;
                for (&col, xc) in columns[..=i].iter().zip(values) {
                    big_m[(r as usize, col as usize)] += wx * xc;
                }
            }
            // The tail rows (theta, b) against the x columns and against each other.
            for i in 0..nt + q {
                let f = omega * tail[i] + psi[i];
                for (&col, x) in columns.iter().zip(values) {
                    big_m[(p + i, col as usize)] += f * x;
                }
                for jj in 0..nt + q {
                    big_m[(p + i, p + jj)] +=
                        omega * tail[i] * tail[jj] + psi[i] * tail[jj] + tail[i] * psi[jj];
                }
            }
            for t in 0..nt {
                let et = &e[t * q..(t + 1) * q];
                for &r in support {
                    big_m[(p + t, m + r)] += kappa * et[r];
                    big_m[(m + r, p + t)] += kappa * et[r];
                }
                for s in 0..nt {
                    let es = &e[s * q..(s + 1) * q];
                    big_m[(p + t, p + s)] += row.l2 * quadratic_form(support, at.c_inv, et, es);
                }
            }
        }
        for col in 0..p {
            for r in col + 1..nu {
                big_m[(col, r)] = big_m[(r, col)];
            }
        }
        for r in 0..q {
            big_m[(m + r, m + r)] -= 1.0;
        }
        // tr(C^{-1} D_k C^{-1} D_l) / 2.
        let products: Vec<DMatrix<f64>> = (0..nu)
            .map(|u| at.c_inv * DMatrix::from_column_slice(q, q, &ws.d[u * q * q..(u + 1) * q * q]))
            .collect();
        let transposed: Vec<DMatrix<f64>> = products.iter().map(|n| n.transpose()).collect();
        for k in 0..nu {
            for l in 0..=k {
                let trace = 0.5 * products[k].dot(&transposed[l]);
                big_m[(k, l)] += trace;
                if l != k {
                    big_m[(l, k)] += trace;
                }
            }
        }
        // J' M J with J = [I; B].
        let m_pp = big_m.view((0, 0), (m, m));
        let m_bp = big_m.view((m, 0), (q, m));
        let m_bb = big_m.view((m, m), (q, q));
        let cross = at.slope.transpose() * m_bp;
        m_pp + &cross + cross.transpose() + at.slope.transpose() * m_bb * at.slope
    }
}

/// `x' A y` over the positions of `support` (x and y vanish elsewhere).
fn quadratic_form(support: &[usize], a: &DMatrix<f64>, x: &[f64], y: &[f64]) -> f64 {
    support
        .iter()
        .map(|&r| x[r] * support.iter().map(|&s| a[(r, s)] * y[s]).sum::<f64>())
        .sum()
}

/// The entries of `v_j` after the fixed effects: `d_jt = e_jt' b` for each theta, then `a_j`.
fn tail_values(support: &[usize], e: &[f64], b: &DVector<f64>, a: &[f64], tail: &mut [f64]) {
    let q = a.len();
    let nt = tail.len() - q;
    for (t, d) in tail[..nt].iter_mut().enumerate() {
        *d = support.iter().map(|&r| e[t * q + r] * b[r]).sum();
    }
    tail[nt..].copy_from_slice(a);
}

/// `block += f x y'` over the positions of `support`, for the q x q column-major block at the
/// start of `block`.
fn add_outer(block: &mut [f64], support: &[usize], f: f64, x: &[f64], y: &[f64]) {
    let q = x.len();
    for &col in support {
        let fy = f * y[col];
        for &r in support {
            block[col * q + r] += fy * x[r];
        }
    }
}

#[cfg(test)]
mod tests {
    use nalgebra::DMatrix;

    use super::super::likelihood::Likelihood;
    use super::super::patterns::Patterns;
    use super::super::quadrature::GaussHermite;
    use super::super::scalar_laplace::tests::rows_with;
    use super::super::scalar_laplace::ModeAnchor;
    use super::VectorLaplace;
    use crate::core::numdiff::assert_jacobian;
    use crate::frame::random_effects::ThetaStructure;
    use crate::models::glm::{Family, Link};

    /// Four groups of unequal size with a random-effect row `(1, x)` plus a third varying
    /// column for q = 3, or nested intercepts (an outer 1 and one of three inner levels).
    fn patterns(family: Family, z_kind: &str) -> Patterns {
        let n = 61;
        let z = match z_kind {
            "nested" => DMatrix::from_fn(n, 4, |i, c| {
                if c == 0 || c == 1 + (i * 5) % 3 {
                    1.0
                } else {
                    0.0
                }
            }),
            _ => {
                let q = if z_kind == "q3" { 3 } else { 2 };
                DMatrix::from_fn(n, q, |i, c| match c {
                    0 => 1.0,
                    1 => ((i * 7) % 5) as f64 / 4.0,
                    _ => 0.5 + (i % 3) as f64 * 0.4,
                })
            }
        };
        rows_with(family, &z, |i| (i * i) % 7 % 4, 4)
    }

    #[test]
    fn matches_the_general_laplace_and_differences_of_its_gradient() {
        let cases: [(&str, ThetaStructure, &[f64]); 3] = [
            (
                "q2",
                ThetaStructure::correlated(2),
                &[-0.3, 0.4, 0.7, -0.2, 0.5],
            ),
            (
                "q3",
                ThetaStructure::correlated(3),
                &[-0.3, 0.4, 0.6, 0.1, -0.2, 0.5, 0.3, 0.4],
            ),
            ("nested", ThetaStructure::nested(3), &[-0.3, 0.4, 0.8, 0.6]),
        ];
        for (family, link) in [
            (Family::Binomial, Link::Logit),
            (Family::Poisson, Link::Log),
        ] {
            for (kind, structure, params) in &cases {
                let patterns = patterns(family, kind);
                let labels: Vec<String> = (0..4).map(|g| format!("g{g}")).collect();
                let rule = GaussHermite::new(1).unwrap();
                let general = Likelihood {
                    family,
                    link,
                    patterns: &patterns,
                    rule: &rule,
                    structure,
                    labels: &labels,
                };
                let exact = VectorLaplace {
                    poisson: family == Family::Poisson,
                    likelihood: &general,
                };
                let q = structure.q;
                let mut modes = vec![0.0; 4 * q];
                let reference = general.evaluate(params, &mut modes.clone(), true).unwrap();
                let mut anchor = ModeAnchor::default();
                let at = exact
                    .evaluate(params, &mut modes, &mut anchor, true)
                    .unwrap();
                let what = format!("{family} {kind}");
                assert!(
                    (at.loglik - reference.loglik).abs() < 1e-10,
                    "{what} loglik {} vs {}",
                    at.loglik,
                    reference.loglik
                );
                for (a, r) in at.gradient.iter().zip(&reference.gradient) {
                    assert!((a - r).abs() < 1e-8, "{what} gradient {a} vs {r}");
                }
                let value_only = exact
                    .evaluate(params, &mut modes, &mut anchor, false)
                    .unwrap();
                assert!(value_only.gradient.is_empty() && value_only.hessian.is_none());
                assert!((value_only.loglik - at.loglik).abs() < 1e-12, "{what}");
                let gradient = |at: &[f64]| {
                    let found = exact.evaluate(at, &mut modes, &mut anchor, true);
                    found.unwrap().gradient
                };
                let hessian = at.hessian.unwrap();
                assert_jacobian(gradient, params, &hessian, 1e-6, &what);
            }
        }
    }

    #[test]
    fn applies_to_dense_vector_effects_with_canonical_links_under_laplace() {
        let correlated = ThetaStructure::correlated(2);
        let logit = (Family::Binomial, Link::Logit);
        assert_eq!(
            VectorLaplace::applies(logit.0, logit.1, &correlated, 1),
            Some(false)
        );
        assert_eq!(
            VectorLaplace::applies(Family::Poisson, Link::Log, &correlated, 1),
            Some(true)
        );
        assert_eq!(
            VectorLaplace::applies(logit.0, logit.1, &correlated, 3),
            None
        );
        assert_eq!(
            VectorLaplace::applies(Family::Binomial, Link::Cloglog, &correlated, 1),
            None
        );
        let scalar = ThetaStructure::correlated(1);
        assert_eq!(VectorLaplace::applies(logit.0, logit.1, &scalar, 1), None);
        let crossed = ThetaStructure::blocks(&[(0, 1, 3), (3, 1, 2)]);
        assert_eq!(VectorLaplace::applies(logit.0, logit.1, &crossed, 1), None);
    }
}
