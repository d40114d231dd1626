//! The exact Hessian of the nested adaptive Gauss-Hermite likelihood of
//! [`super::nested_quadrature`] for the canonical links (binomial-logit, Poisson-log), over
//! `phi = (beta, s_u, s_v)`: that of the approximation as computed, with the centres and scales
//! of both levels moving with phi (their first and second derivatives taken too). The same pass
//! over the nodes gives the value and the gradient (those of [`Likelihood::nested_evaluate`], to
//! rounding). The maximiser takes it for the Hessian reported at the maximum (the Newton steps
//! keep the cheaper step information, [`Likelihood::nested_step_information`]).
//!
//! # Hessian
//!
//! Every intermediate quantity is carried as a jet: its value, gradient and Hessian over a small
//! coordinate space (second-order forward mode), combined by the chain rule, `d^2 f(a) =
//! f'(a) d^2 a + f''(a) da da'`, `d^2 (a c) = a d^2 c + c d^2 a + da dc' + dc da'`. For the
//! canonical links a row's log-likelihood `l = m (y eta - k(eta))` has `l' = m (y - k')`,
//! `l'' = -m k''` (observed = Fisher: `W = -l''`, `W' = -l'''`, `W'' = -l''''`), with `k' = mu`,
//! `k'' = v = mu (1 - mu)`, `k''' = v (1 - 2 mu)`, `k'''' = v (1 - 6 v)` for the logit and all
//! equal to mu for the log. A sum over a level's rows of `f(e_j + sigma)`, `e_j` with constant
//! gradient `r_j` and a common shift `sigma` (a jet), is the jet `sum f`, `sum f' r_j +
//! (sum f') dsigma`, `sum f'' r_j r_j' + w dsigma' + dsigma w' + (sum f'') dsigma dsigma' +
//! (sum f') d^2 sigma` with `w = sum f'' r_j`.
//!
//! - Modes (implicit functions of `F(b, phi) = 0`: the joint mode's arrowhead system `F_0 =
//!   s_u sum_j s_j - u`, `F_k = s_v sum_{j in k} s_j - v_k`, or an inner mode's `F = s_v sum_j
//!   s_j - v`): with `H = -dF/db`, `db = H^{-1} F_phi` from F's jet at b held fixed, and
//!   `d^2 b = H^{-1} d^2 F` from F's jet with b carrying `db` and no second derivative (F = 0
//!   identically, so `-H d^2 b` cancels the rest of its second derivative).
//! - Scales: `tau = (1 + s_v^2 sum_{j in k} W_j(v*))^{-1/2}` and `sigma = S^{-1/2}`,
//!   `S = C_uu - sum_k C_uk^2 / C_kk`, jets of the rows' W at the modes' jets.
//! - Sums over nodes: with `rho_n` the normalised terms `t_n`, `d^2 log sum_n exp(t_n) =
//!   sum_n rho_n (d^2 t_n + dt_n dt_n') - dbar dbar'`, `dbar = sum_n rho_n dt_n`; the outer
//!   nodes' `T_m = log w_m + z_m^2 / 2 - u_m^2 / 2 + sum_k J_k(u_m)`, `u_m = u^ + sigma z_m`.
//! - Inner nodes: `t_n = log w_n + z_n^2 / 2 + h_k(v_n)`, `v_n = v* + tau z_n`. With
//!   `f = (dv*, dtau, ds_v)`, `kappa_n = (s_v, s_v z_n, v_n)` (`d(s_v v_n) = kappa_n' f`) and
//!   the node's row sums `L1 = sum_j l'_j`, `L2 = sum_j l''_j`:
//!   `dt_n = sum_j l'_j r_j + (L1 s_v - v_n)(dv* + z_n dtau) + L1 v_n ds_v` and
//!   `d^2 t_n = sum_j l''_j [r_j r_j' + r_j (kappa_n' f)' + (kappa_n' f) r_j'] + L2 (kappa_n'
//!   f)(kappa_n' f)' + L1 [s_v (d^2 v* + z_n d^2 tau) + ds_v dv_n' + dv_n ds_v'] -
//!   dv_n dv_n' - v_n (d^2 v* + z_n d^2 tau)`, `dv_n = dv* + z_n dtau`, so `sum_n rho_n d^2 t_n`
//!   needs only scalar sums over the nodes (per row `sum rho l''` and `sum rho l'' kappa`, and
//!   `sum rho L2 kappa kappa'`, `sum rho L1 {1, z}`, `sum rho v_n {1, z}`, `sum rho {1, z, z^2}`).
//! - Zero inner SD: `J_k = sum_j l_j(e_j)`, even in s_v with `d^2 J_k / ds_v^2 = sum_j l''_j +
//!   (sum_j l'_j)^2` (for any number of nodes: the node sum is `exp(s_v^2 (sum l')^2 / 2 +
//!   O(s_v^4))` and `log tau = s_v^2 sum l'' / 2 + O(s_v^4)`). The other zero-SD shortcut of
//!   the value (`s_u = 0`) needs nothing here: the general formulas hold there.
//!
//! The outer level works over phi (rows' `r_j = x_j`, sparse). An inner integral `J_k(u_m)`
//! depends on phi only through its rows' `eta0_j`, the shift `a = s_u u_m` and `s_v`, so it is
//! taken over those local coordinates (the rows' `eta0_j`, or beta where a level has more rows
//! than beta has entries) and mapped to phi by `dJ = L' dJ_loc`, `d^2 J = L' (d^2_loc J) L +
//! (dJ / da) d^2 a`, L the local coordinates' gradients over phi.

use nalgebra::DMatrix;
use rayon::prelude::*;

use super::likelihood::Likelihood;
use super::nested_quadrature::{NestedGroup, PARALLEL_NODE_ROWS};
use crate::core::error::{Error, Result};
use crate::models::glm::{Family, Link};

/// A value with its gradient and Hessian (row-major, full) over `d` coordinates.
#[derive(Clone, Debug)]
struct Jet {
    v: f64,
    g: Vec<f64>,
    h: Vec<f64>,
}

impl Jet {
    fn constant(v: f64, d: usize) -> Jet {
        Jet {
            v,
            g: vec![0.0; d],
            h: vec![0.0; d * d],
        }
    }

    /// Coordinate i with value v.
    fn variable(v: f64, i: usize, d: usize) -> Jet {
        let mut jet = Jet::constant(v, d);
        jet.g[i] = 1.0;
        jet
    }

    fn dim(&self) -> usize {
        self.g.len()
    }

    /// `self + c other` in place.
    fn add_scaled(&mut self, c: f64, other: &Jet) {
        self.v += c * other.v;
        for (a, b) in self.g.iter_mut().zip(&other.g) {
            *a += c * b;
        }
        for (a, b) in self.h.iter_mut().zip(&other.h) {
            *a += c * b;
        }
    }

    /// `self + c other`.
    fn plus(&self, c: f64, other: &Jet) -> Jet {
        let mut out = Jet::constant(0.0, self.dim());
        out.assign_plus(self, c, other);
        out
    }

    /// Becomes `a + c b`.
    fn assign_plus(&mut self, a: &Jet, c: f64, b: &Jet) {
        self.v = a.v + c * b.v;
        for ((o, x), y) in self.g.iter_mut().zip(&a.g).zip(&b.g) {
            *o = x + c * y;
        }
        for ((o, x), y) in self.h.iter_mut().zip(&a.h).zip(&b.h) {
            *o = x + c * y;
        }
    }

    /// `self + c`.
    fn shifted(mut self, c: f64) -> Jet {
        self.v += c;
        self
    }

    fn times(&self, other: &Jet) -> Jet {
        let mut out = Jet::constant(0.0, self.dim());
        out.assign_times(self, other);
        out
    }

    /// Becomes `a b`.
    fn assign_times(&mut self, a: &Jet, b: &Jet) {
        let d = self.dim();
        self.v = a.v * b.v;
        for i in 0..d {
            self.g[i] = a.v * b.g[i] + b.v * a.g[i];
            for l in 0..d {
                self.h[i * d + l] =
                    a.v * b.h[i * d + l] + b.v * a.h[i * d + l] + a.g[i] * b.g[l] + b.g[i] * a.g[l];
            }
        }
    }

    /// `f(self)` from `f`, `f'` and `f''` at the value.
    fn map(&self, f0: f64, f1: f64, f2: f64) -> Jet {
        let mut out = Jet::constant(0.0, self.dim());
        out.assign_map(self, f0, f1, f2);
        out
    }

    /// Becomes `f(a)` from `f`, `f'` and `f''` at a's value.
    fn assign_map(&mut self, a: &Jet, f0: f64, f1: f64, f2: f64) {
        let d = self.dim();
        self.v = f0;
        for i in 0..d {
            self.g[i] = f1 * a.g[i];
            for l in 0..d {
                self.h[i * d + l] = f1 * a.h[i * d + l] + f2 * a.g[i] * a.g[l];
            }
        }
    }

    fn ln(&self) -> Jet {
        let v = self.v;
        self.map(v.ln(), 1.0 / v, -1.0 / (v * v))
    }

    fn powf(&self, e: f64) -> Jet {
        let v = self.v;
        self.map(
            v.powf(e),
            e * v.powf(e - 1.0),
            e * (e - 1.0) * v.powf(e - 2.0),
        )
    }

    /// `log sum_n exp(t_n)` of the jets `terms`.
    fn log_sum_exp(terms: &[Jet]) -> Jet {
        let d = terms[0].dim();
        let top = terms.iter().map(|t| t.v).fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = terms.iter().map(|t| (t.v - top).exp()).sum();
        let mut out = Jet::constant(top + sum.ln(), d);
        for t in terms {
            let rho = (t.v - top).exp() / sum;
            for i in 0..d {
                out.g[i] += rho * t.g[i];
                for l in 0..d {
                    out.h[i * d + l] += rho * (t.h[i * d + l] + t.g[i] * t.g[l]);
                }
            }
        }
        for i in 0..d {
            for l in 0..d {
                out.h[i * d + l] -= out.g[i] * out.g[l];
            }
        }
        out
    }
}

/// Sparse constant gradient of a row's `e_j` (positions and values).
type Direction = Vec<(usize, f64)>;

/// `sum_j f(e_j + shift)` over rows with `f`, `f'`, `f''` at their points and the gradients of
/// their `e_j` (`rows`), see the module docs.
fn row_sum<'r>(rows: impl Iterator<Item = ([f64; 3], &'r Direction)>, shift: &Jet) -> Jet {
    let d = shift.dim();
    let mut out = Jet::constant(0.0, d);
    row_sum_into(&mut out, &mut vec![0.0; d], rows, shift);
    out
}

/// [`row_sum`] into `out`, with `w` (d values) for `sum f'' r_j`.
fn row_sum_into<'r>(
    out: &mut Jet,
    w: &mut [f64],
    rows: impl Iterator<Item = ([f64; 3], &'r Direction)>,
    shift: &Jet,
) {
    let d = shift.dim();
    let (mut f0, mut f1, mut f2) = (0.0, 0.0, 0.0);
    out.g.fill(0.0);
    out.h.fill(0.0);
    w.fill(0.0);
    for (f, dir) in rows {
        f0 += f[0];
        f1 += f[1];
        f2 += f[2];
        for &(i, a) in dir {
            out.g[i] += f[1] * a;
            w[i] += f[2] * a;
            for &(l, b) in dir {
                out.h[i * d + l] += f[2] * a * b;
            }
        }
    }
    out.v = f0;
    for i in 0..d {
        out.g[i] += f1 * shift.g[i];
        for l in 0..d {
            out.h[i * d + l] += w[i] * shift.g[l]
                + shift.g[i] * w[l]
                + f2 * shift.g[i] * shift.g[l]
                + f1 * shift.h[i * d + l];
        }
    }
}

/// `l`, `l'`, `l''`, `l'''`, `l''''` of a row `m (y eta - k(eta))` of a canonical link (see the
/// module docs).
fn canonical_row(poisson: bool, y: f64, m: f64, eta: f64) -> [f64; 5] {
    if poisson {
        let mu = eta.exp();
        let d = -m * mu;
        return [m * (y * eta - mu), m * (y - mu), d, d, d];
    }
    // e = exp(-|eta|): mu = 1 / (1 + e) for eta >= 0, e / (1 + e) below.
    let e = (-eta.abs()).exp();
    let mu = if eta >= 0.0 { 1.0 } else { e } / (1.0 + e);
    let v = e / ((1.0 + e) * (1.0 + e));
    let softplus = eta.max(0.0) + e.ln_1p();
    [
        m * (y * eta - softplus),
        m * (y - mu),
        -m * v,
        -m * v * (1.0 - 2.0 * mu),
        -m * v * (1.0 - 6.0 * v),
    ]
}

/// Solves the arrowhead system `H x = r` (`H_00`, `H_0k`, `H_kk` over the levels `levels`) for
/// each entry of the right-hand sides `rhs[0]`, `rhs[k]` (vectors of equal length).
fn arrowhead_solve(
    h00: f64,
    h0: &[f64],
    hkk: &[f64],
    levels: &[usize],
    rhs: &[&[f64]],
) -> Vec<Vec<f64>> {
    let n = rhs[0].len();
    let schur = h00 - levels.iter().map(|&k| h0[k] * h0[k] / hkk[k]).sum::<f64>();
    let mut out = vec![vec![0.0; n]; rhs.len()];
    for i in 0..n {
        let du = (rhs[0][i]
            - levels
                .iter()
                .map(|&k| h0[k] * rhs[k][i] / hkk[k])
                .sum::<f64>())
            / schur;
        out[0][i] = du;
        for &k in levels {
            out[k][i] = (rhs[k][i] - h0[k] * du) / hkk[k];
        }
    }
    out
}

/// The Hessian's outer pieces of one group: the rows' directions over phi and their levels.
struct Rows {
    /// The level of each row (0 for none).
    level: Vec<usize>,
    /// Each row's `x_j` over phi (sparse).
    dirs: Vec<Direction>,
}

impl Likelihood<'_> {
    /// Whether the exact Hessian applies (a canonical link), and whether the family is Poisson.
    fn nested_hessian_link(&self) -> Option<bool> {
        match (self.family, self.link) {
            (Family::Binomial, Link::Logit) => Some(false),
            (Family::Poisson, Link::Log) => Some(true),
            _ => None,
        }
    }

    /// The nested-quadrature log-likelihood at `params` as a jet over phi (value, exact gradient
    /// and Hessian; see the module docs); `modes` (1 + K values per group) are the joint
    /// conditional modes, updated in place. `None` for a non-canonical link, or rows outside
    /// every inner level.
    fn nested_jet(&self, params: &[f64], modes: &mut [f64]) -> Result<Option<Jet>> {
        let Some(poisson) = self.nested_hessian_link() else {
            return Ok(None);
        };
        let (p, q) = (self.patterns.p, self.patterns.q);
        let lam = self.structure.lambda(&params[p..]);
        let (s_u, s_v) = (lam[(0, 0)], if q > 1 { lam[(1, 1)] } else { 0.0 });
        let one_group = |(g, b): (usize, &mut [f64])| -> Result<Option<Jet>> {
            let view = self.view(g, &params[..p], &lam);
            self.find_mode(&view, b, &self.labels[g])?;
            let group = self.nested_group_of(&view, g, s_u, s_v);
            self.nested_group_jet(&group, b, poisson)
        };
        let work = self.patterns.len() * self.rule.nodes.len() * self.rule.nodes.len();
        let parts: Vec<Result<Option<Jet>>> = if work >= PARALLEL_NODE_ROWS {
            modes.par_chunks_mut(q).enumerate().map(one_group).collect()
        } else {
            modes.chunks_mut(q).enumerate().map(one_group).collect()
        };
        let mut total = Jet::constant(self.patterns.constant, params.len());
        for part in parts {
            match part? {
                Some(jet) => total.add_scaled(1.0, &jet),
                None => return Ok(None),
            }
        }
        Ok(Some(total))
    }

    /// The exact Hessian of the nested-quadrature log-likelihood at `params` (see the module
    /// docs; symmetrised against rounding); `modes` as in [`Likelihood::nested_evaluate`].
    /// `None` for a non-canonical link.
    pub(crate) fn nested_hessian(
        &self,
        params: &[f64],
        modes: &mut [f64],
    ) -> Result<Option<DMatrix<f64>>> {
        let n = params.len();
        Ok(self.nested_jet(params, modes)?.map(|jet| {
            let h = DMatrix::from_row_slice(n, n, &jet.h);
            (&h + h.transpose()) * 0.5
        }))
    }

    /// One group's log-likelihood as a jet over phi, at its joint mode `b`.
    fn nested_group_jet(
        &self,
        group: &NestedGroup<'_>,
        b: &[f64],
        poisson: bool,
    ) -> Result<Option<Jet>> {
        let view = group.view;
        let (p, q, n) = (self.patterns.p, b.len(), view.len());
        let d = p + 2;
        let (s_u, s_v) = (group.s_u, group.s_v);
        let mut rows = Rows {
            level: vec![0; n],
            dirs: Vec::with_capacity(n),
        };
        for (k, members) in group.inner.iter().enumerate().skip(1) {
            for &j in members {
                rows.level[j] = k;
            }
        }
        if rows.level.contains(&0) {
            return Ok(None);
        }
        for j in 0..n {
            let (columns, values) = self.patterns.x_nonzero(view.start + j);
            rows.dirs.push(
                columns
                    .iter()
                    .zip(values)
                    .map(|(&c, &x)| (c as usize, x))
                    .collect(),
            );
        }
        let levels: Vec<usize> = (1..q).filter(|&k| !group.inner[k].is_empty()).collect();
        let row_at = |j: usize, eta: f64| {
            let k = view.start + j;
            canonical_row(poisson, self.patterns.y[k], self.patterns.m[k], eta)
        };
        let su = Jet::variable(s_u, p, d);
        let sv = Jet::variable(s_v, p + 1, d);
        // The rows at the joint mode, and the arrowhead H = -dF/db there.
        let at_mode: Vec<[f64; 5]> = (0..n)
            .map(|j| row_at(j, view.eta0[j] + s_u * b[0] + s_v * b[rows.level[j]]))
            .collect();
        let mut curvature = vec![0.0; q];
        for (j, r) in at_mode.iter().enumerate() {
            curvature[rows.level[j]] += r[2];
        }
        let total: f64 = curvature.iter().sum();
        let h00 = 1.0 - s_u * s_u * total;
        let h0: Vec<f64> = curvature.iter().map(|c| -s_u * s_v * c).collect();
        let hkk: Vec<f64> = curvature.iter().map(|c| 1.0 - s_v * s_v * c).collect();
        // Sums over each level's rows of (f, f', f'') picked from the rows' derivatives.
        let level_sum = |k: usize, pick: &dyn Fn(&[f64; 5]) -> [f64; 3], shift: &Jet| {
            let members = group.inner[k].iter();
            row_sum(members.map(|&j| (pick(&at_mode[j]), &rows.dirs[j])), shift)
        };
        let shift = |modes: &[Jet], k: usize| su.times(&modes[0]).plus(1.0, &sv.times(&modes[k]));
        // F(b, phi) as jets, b the jets `modes`.
        let equations = |modes: &[Jet]| -> Vec<Jet> {
            let mut f = vec![Jet::constant(0.0, d); q];
            let mut all = Jet::constant(0.0, d);
            for &k in &levels {
                let scores = level_sum(k, &|r| [r[1], r[2], r[3]], &shift(modes, k));
                f[k] = sv.times(&scores).plus(-1.0, &modes[k]);
                all.add_scaled(1.0, &scores);
            }
            f[0] = su.times(&all).plus(-1.0, &modes[0]);
            f
        };
        let mut modes: Vec<Jet> = b.iter().map(|&v| Jet::constant(v, d)).collect();
        let f = equations(&modes);
        let rhs: Vec<&[f64]> = f.iter().map(|f| f.g.as_slice()).collect();
        for (jet, g) in modes
            .iter_mut()
            .zip(arrowhead_solve(h00, &h0, &hkk, &levels, &rhs))
        {
            jet.g = g;
        }
        let f = equations(&modes);
        let rhs: Vec<&[f64]> = f.iter().map(|f| f.h.as_slice()).collect();
        for (jet, h) in modes
            .iter_mut()
            .zip(arrowhead_solve(h00, &h0, &hkk, &levels, &rhs))
        {
            jet.h = h;
        }
        // The Schur complement S of the joint Fisher curvature, and sigma = S^{-1/2}.
        let mut schur = Jet::constant(1.0, d);
        let (su2, sv2, susv) = (su.times(&su), sv.times(&sv), su.times(&sv));
        for &k in &levels {
            let weights = level_sum(k, &|r| [-r[2], -r[3], -r[4]], &shift(&modes, k));
            let c_uk = susv.times(&weights);
            let c_kk = sv2.times(&weights).shifted(1.0);
            schur.add_scaled(1.0, &su2.times(&weights));
            schur.add_scaled(-1.0, &c_uk.times(&c_uk).times(&c_kk.powf(-1.0)));
        }
        if schur.v.is_nan() || schur.v <= 0.0 {
            return Err(Error::Numerical {
                what: "nested quadrature".into(),
                message: format!(
                    "the outer curvature of group '{}' is not positive",
                    group.label
                ),
            });
        }
        let sigma = schur.powf(-0.5);
        let slopes = self.inner_mode_slopes(group, b);
        let mut locals: Vec<Local> = levels
            .iter()
            .map(|&k| Local::new(&group.inner[k], &rows, p, s_v, poisson))
            .collect();
        let mut terms = Vec::with_capacity(self.rule.nodes.len());
        for (z_m, lw_m) in self.rule.nodes.iter().zip(&self.rule.log_weights) {
            let u_m = modes[0].plus(*z_m, &sigma);
            let mut term = Jet::constant(lw_m + 0.5 * z_m * z_m, d);
            term.add_scaled(-0.5, &u_m.times(&u_m));
            let a = su.times(&u_m);
            for (&k, local) in levels.iter().zip(locals.iter_mut()) {
                let members = &group.inner[k];
                let v_star = if s_v == 0.0 {
                    0.0
                } else {
                    let start = b[k] + slopes[k] * (u_m.v - b[0]);
                    self.inner_mode(group, members, a.v, start)?.0
                };
                self.add_inner_jet(group, members, local, &a, v_star, &mut term);
            }
            terms.push(term);
        }
        let mut value = Jet::log_sum_exp(&terms);
        value.add_scaled(1.0, &sigma.ln());
        if !value.v.is_finite() {
            return Err(Error::Numerical {
                what: "nested quadrature".into(),
                message: format!("the likelihood of group '{}' is not finite", group.label),
            });
        }
        Ok(Some(value))
    }

    /// Adds to `out` an inner integral `J_k(u_m)` (rows `members`, `e_j = eta0_j + a`, `a =
    /// s_u u_m` the jet over phi, mode `v_star`) as a jet over phi: taken over the level's
    /// local coordinates `local` (rows' `eta0_j` or beta, then a, then s_v) and mapped to phi
    /// (see the module docs).
    fn add_inner_jet(
        &self,
        group: &NestedGroup<'_>,
        members: &[usize],
        local: &mut Local,
        a: &Jet,
        v_star: f64,
        out: &mut Jet,
    ) {
        let view = group.view;
        let s_v = group.s_v;
        let Local {
            r,
            dirs,
            lift,
            sv,
            sv2,
            poisson,
            buffers: b,
        } = local;
        let (r, d) = (*r, *r + 2);
        let row_at = |j: usize, v: f64| {
            let k = view.start + j;
            canonical_row(
                *poisson,
                self.patterns.y[k],
                self.patterns.m[k],
                view.eta0[j] + a.v + s_v * v,
            )
        };
        if s_v == 0.0 {
            // J = sum_j l_j(e_j), even in s_v with d^2 J / ds_v^2 = sum_j l''_j + (sum_j l'_j)^2
            // (the rule's node sum is exp(s_v^2 (sum l')^2 / 2 + O(s_v^4)) and tau^2 = 1 +
            // s_v^2 sum l'' + O(s_v^4), for any number of nodes).
            let jet = &mut b.inner;
            jet.v = 0.0;
            jet.g.fill(0.0);
            jet.h.fill(0.0);
            let (mut l1, mut l2) = (0.0, 0.0);
            for (&j, dir) in members.iter().zip(dirs.iter()) {
                let row = row_at(j, 0.0);
                jet.v += row[0];
                l1 += row[1];
                l2 += row[2];
                for &(i, x) in dir {
                    jet.g[i] += row[1] * x;
                    for &(l, y) in dir {
                        jet.h[i * d + l] += row[2] * x * y;
                    }
                }
            }
            jet.h[(r + 1) * d + r + 1] = l2 + l1 * l1;
        } else {
            // The inner mode by the implicit function of F = s_v sum_j s_j - v (H = -dF/dv): F's
            // jet with v fixed gives dv, with v carrying dv then d^2 v.
            b.at_mode.clear();
            b.at_mode.extend(members.iter().map(|&j| row_at(j, v_star)));
            let h = 1.0 - s_v * s_v * b.at_mode.iter().map(|r| r[2]).sum::<f64>();
            b.v.v = v_star;
            b.v.g.fill(0.0);
            b.v.h.fill(0.0);
            for pass in 0..2 {
                b.shift.assign_times(sv, &b.v);
                let scores = b.at_mode.iter().map(|r| [r[1], r[2], r[3]]);
                row_sum_into(&mut b.t1, &mut b.w, scores.zip(dirs.iter()), &b.shift);
                b.t2.assign_times(sv, &b.t1);
                b.t2.add_scaled(-1.0, &b.v);
                let (to, from) = if pass == 0 {
                    (&mut b.v.g, &b.t2.g)
                } else {
                    (&mut b.v.h, &b.t2.h)
                };
                for (x, f) in to.iter_mut().zip(from) {
                    *x = f / h;
                }
            }
            // tau = (1 + s_v^2 sum W)^{-1/2}.
            b.shift.assign_times(sv, &b.v);
            let weights = b.at_mode.iter().map(|r| [-r[2], -r[3], -r[4]]);
            row_sum_into(&mut b.t1, &mut b.w, weights.zip(dirs.iter()), &b.shift);
            b.t2.assign_times(sv2, &b.t1);
            let c = 1.0 + b.t2.v;
            b.tau.assign_map(
                &b.t2,
                c.powf(-0.5),
                -0.5 * c.powf(-1.5),
                0.75 * c.powf(-2.5),
            );
            let tau = &b.tau;
            // The nodes' terms t_n (values first, for rho_n), then their jets summed.
            let nodes = self.rule.nodes.len();
            let size = members.len();
            b.rows.clear();
            b.values.clear();
            for (z, lw) in self.rule.nodes.iter().zip(&self.rule.log_weights) {
                let v_n = b.v.v + tau.v * z;
                let mut t = lw + 0.5 * z * z - 0.5 * v_n * v_n;
                for &j in members {
                    let row = row_at(j, v_n);
                    t += row[0];
                    b.rows.push([row[0], row[1], row[2]]);
                }
                b.values.push(t);
            }
            let top = b.values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = b.values.iter().map(|t| (t - top).exp()).sum();
            // Every node's jet is made of the fixed vectors f = (dv, dtau, e_sv) and the rows' r_j
            // with scalar coefficients (see the module docs): sum_n rho_n d^2 t_n from sums of
            // those, sum_n rho_n dt_n dt_n' and sum_n rho_n dt_n directly.
            let (mut s0, mut s_z, mut s_zz, mut s_l, mut s_lz, mut s_v_n, mut s_vz) =
                (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
            let mut m = [[0.0; 3]; 3];
            b.acc.clear();
            b.acc.resize(size, [0.0; 4]);
            let jet = &mut b.inner;
            jet.v = top + sum.ln();
            jet.g.fill(0.0);
            jet.h.fill(0.0);
            for n in 0..nodes {
                let rho = (b.values[n] - top).exp() / sum;
                if rho == 0.0 {
                    continue;
                }
                let z = self.rule.nodes[n];
                let v_n = b.v.v + tau.v * z;
                let kappa = [s_v, s_v * z, v_n];
                b.g_n.fill(0.0);
                let (mut l1, mut l2) = (0.0, 0.0);
                for ((row, dir), acc) in b.rows[n * size..(n + 1) * size]
                    .iter()
                    .zip(dirs.iter())
                    .zip(b.acc.iter_mut())
                {
                    l1 += row[1];
                    l2 += row[2];
                    for &(i, x) in dir {
                        b.g_n[i] += row[1] * x;
                    }
                    let c = rho * row[2];
                    acc[0] += c;
                    for (a, k) in acc[1..].iter_mut().zip(kappa) {
                        *a += c * k;
                    }
                }
                let c1 = l1 * s_v - v_n;
                for i in 0..d {
                    b.g_n[i] += c1 * (b.v.g[i] + z * tau.g[i]);
                }
                b.g_n[r + 1] += l1 * v_n;
                for i in 0..d {
                    let gi = rho * b.g_n[i];
                    jet.g[i] += gi;
                    for l in 0..d {
                        jet.h[i * d + l] += gi * b.g_n[l];
                    }
                }
                for (m_a, k_a) in m.iter_mut().zip(kappa) {
                    for (m_ac, k_c) in m_a.iter_mut().zip(kappa) {
                        *m_ac += rho * l2 * k_a * k_c;
                    }
                }
                s0 += rho;
                s_z += rho * z;
                s_zz += rho * z * z;
                s_l += rho * l1;
                s_lz += rho * l1 * z;
                s_v_n += rho * v_n;
                s_vz += rho * v_n * z;
            }
            // f as vectors (e_sv through its index).
            let f: [&[f64]; 2] = [&b.v.g, &tau.g];
            let unit = |i: usize| f64::from(u8::from(i == r + 1));
            let fa = |a: usize, i: usize| if a < 2 { f[a][i] } else { unit(i) };
            for i in 0..d {
                for l in 0..d {
                    let mut x = -jet.g[i] * jet.g[l];
                    for (a, m_a) in m.iter().enumerate() {
                        for (c, m_ac) in m_a.iter().enumerate() {
                            x += m_ac * fa(a, i) * fa(c, l);
                        }
                    }
                    x += s_v * (s_l * b.v.h[i * d + l] + s_lz * tau.h[i * d + l]);
                    x += s_l * (unit(i) * b.v.g[l] + b.v.g[i] * unit(l))
                        + s_lz * (unit(i) * tau.g[l] + tau.g[i] * unit(l));
                    x -= s0 * b.v.g[i] * b.v.g[l]
                        + s_z * (b.v.g[i] * tau.g[l] + tau.g[i] * b.v.g[l])
                        + s_zz * tau.g[i] * tau.g[l];
                    x -= s_v_n * b.v.h[i * d + l] + s_vz * tau.h[i * d + l];
                    jet.h[i * d + l] += x;
                }
            }
            for (dir, acc) in dirs.iter().zip(&b.acc) {
                // q_j = sum_a P_ja f_a.
                for i in 0..d {
                    b.g_n[i] = (0..3).map(|a| acc[1 + a] * fa(a, i)).sum();
                }
                for &(i, x) in dir {
                    for &(l, y) in dir {
                        jet.h[i * d + l] += acc[0] * x * y;
                    }
                    for l in 0..d {
                        jet.h[i * d + l] += x * b.g_n[l];
                        jet.h[l * d + i] += x * b.g_n[l];
                    }
                }
            }
            b.t2.assign_map(tau, tau.v.ln(), 1.0 / tau.v, -1.0 / (tau.v * tau.v));
            jet.add_scaled(1.0, &b.t2);
        }
        // L (the local coordinates' gradients over phi; a's row is a's gradient):
        // dJ = L' dJ_loc, d^2 J = L' (d^2_loc J) L + (dJ / da) d^2 a.
        let big = out.dim();
        lift[r * big..(r + 1) * big].copy_from_slice(&a.g);
        let jet = &b.inner;
        out.v += jet.v;
        for i in 0..d {
            for c in 0..big {
                out.g[c] += jet.g[i] * lift[i * big + c];
            }
        }
        let (jet, hl) = (&b.inner, &mut b.hl);
        hl.fill(0.0);
        for i in 0..d {
            for l in 0..d {
                let h_il = jet.h[i * d + l];
                for c in 0..big {
                    hl[i * big + c] += h_il * lift[l * big + c];
                }
            }
        }
        for i in 0..d {
            for c in 0..big {
                let l_ic = lift[i * big + c];
                if l_ic != 0.0 {
                    for e in 0..big {
                        out.h[c * big + e] += l_ic * hl[i * big + e];
                    }
                }
            }
        }
        for (o, h) in out.h.iter_mut().zip(&a.h) {
            *o += jet.g[r] * h;
        }
    }
}

/// An inner level's local coordinates (its rows' `eta0_j`, or beta where that is fewer, then
/// a, then s_v) with their gradients over phi, and the buffers of its node sums.
struct Local {
    /// The row coordinates (a is coordinate r, s_v coordinate r + 1).
    r: usize,
    /// Each member row's gradient of `e_j` over the local coordinates.
    dirs: Vec<Direction>,
    /// The local coordinates' gradients over phi (row-major, (r + 2) x (p + 2)), a's row set
    /// per outer node.
    lift: Vec<f64>,
    /// s_v and s_v^2 as jets.
    sv: Jet,
    sv2: Jet,
    /// Poisson-log (else binomial-logit).
    poisson: bool,
    buffers: NodeBuffers,
}

/// Buffers of an inner integral's jets.
struct NodeBuffers {
    /// The rows' derivatives at the inner mode.
    at_mode: Vec<[f64; 5]>,
    /// The rows' `l`, `l'`, `l''` at each node (node-major).
    rows: Vec<[f64; 3]>,
    /// The nodes' terms.
    values: Vec<f64>,
    /// The inner mode, its scale and the integral.
    v: Jet,
    tau: Jet,
    inner: Jet,
    shift: Jet,
    t1: Jet,
    t2: Jet,
    w: Vec<f64>,
    /// A node's gradient, or a row's `q_j`.
    g_n: Vec<f64>,
    /// Per row: `sum_n rho_n l''_jn` and `sum_n rho_n l''_jn kappa_n`.
    acc: Vec<[f64; 4]>,
    /// `(d^2_loc J) L`.
    hl: Vec<f64>,
}

impl Local {
    fn new(members: &[usize], rows: &Rows, p: usize, s_v: f64, poisson: bool) -> Local {
        let by_rows = members.len() <= p;
        let r = if by_rows { members.len() } else { p };
        let (d, big) = (r + 2, p + 2);
        let dirs = members
            .iter()
            .enumerate()
            .map(|(i, &j)| {
                let mut dir = if by_rows {
                    vec![(i, 1.0)]
                } else {
                    rows.dirs[j].clone()
                };
                dir.push((r, 1.0));
                dir
            })
            .collect();
        let mut lift = vec![0.0; d * big];
        for i in 0..r {
            if by_rows {
                for &(c, x) in &rows.dirs[members[i]] {
                    lift[i * big + c] = x;
                }
            } else {
                lift[i * big + i] = 1.0;
            }
        }
        lift[(r + 1) * big + p + 1] = 1.0;
        let jet = || Jet::constant(0.0, d);
        let sv = Jet::variable(s_v, r + 1, d);
        Local {
            r,
            dirs,
            lift,
            sv2: sv.times(&sv),
            sv,
            poisson,
            buffers: NodeBuffers {
                at_mode: Vec::new(),
                rows: Vec::new(),
                values: Vec::new(),
                v: jet(),
                tau: jet(),
                inner: jet(),
                shift: jet(),
                t1: jet(),
                t2: jet(),
                w: vec![0.0; d],
                g_n: vec![0.0; d],
                acc: Vec::new(),
                hl: vec![0.0; d * big],
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use nalgebra::DMatrix;

    use super::super::nested_quadrature::tests::{data, with_data};
    use crate::models::glm::{Family, Link};

    /// The exact Hessian against central differences of the exact gradient (step 1e-5), and the
    /// jet's value and gradient against [`Likelihood::nested_evaluate`], for both canonical
    /// links, 1, 3 and 7 nodes, zero SDs, with an offset, on two designs: the data's (more rows
    /// per inner level than beta has entries: local coordinates beta) and one with 16 columns
    /// (local coordinates the rows' eta0).
    #[test]
    fn the_hessian_is_the_derivative_of_the_gradient() {
        let (x, _, _, _) = data();
        let n = x.nrows();
        let offset: Vec<f64> = (0..n).map(|i| 0.1 * ((i * 3) % 4) as f64 - 0.15).collect();
        let wide = DMatrix::from_fn(n, 16, |i, j| match j {
            0 | 1 => x[(i, j)],
            _ => ((i * (j + 1)) % 7) as f64 / 7.0 - 0.4,
        });
        let mut cases = Vec::new();
        for nodes in [1, 3, 7] {
            cases.push((nodes, Family::Binomial, Link::Logit, [-0.4, 0.6, 0.8, 0.5]));
            cases.push((nodes, Family::Poisson, Link::Log, [-0.9, 0.3, 0.6, 0.7]));
        }
        cases.push((3, Family::Binomial, Link::Logit, [-0.4, 0.6, 0.0, 0.5]));
        cases.push((3, Family::Binomial, Link::Logit, [-0.4, 0.6, 0.8, 0.0]));
        cases.push((7, Family::Poisson, Link::Log, [-0.9, 0.3, 0.0, 0.7]));
        cases.push((7, Family::Poisson, Link::Log, [-0.9, 0.3, 0.6, 0.0]));
        for design in [None, Some(&wide)] {
            for &(nodes, family, link, [b0, b1, s_u, s_v]) in &cases {
                let p = design.map_or(2, |x| x.ncols());
                let mut params: Vec<f64> = (0..p).map(|c| 0.03 * c as f64 - 0.2).collect();
                params[..2].copy_from_slice(&[b0, b1]);
                params.extend([s_u, s_v]);
                with_data(nodes, family, link, (design, Some(&offset)), |m| {
                    let mut modes = vec![0.0; 8];
                    let at = m.nested_evaluate(&params, &mut modes, true).unwrap();
                    let jet = m.nested_jet(&params, &mut modes.clone()).unwrap().unwrap();
                    let what = format!("{family:?} {nodes} nodes, p = {p}, SDs {s_u}, {s_v}");
                    assert!((jet.v - at.loglik).abs() < 1e-9, "{what}");
                    for (a, b) in jet.g.iter().zip(&at.gradient) {
                        assert!(
                            (a - b).abs() < 1e-8 * b.abs().max(1.0),
                            "{what}: {a} vs {b}"
                        );
                    }
                    let k = params.len();
                    let raw = DMatrix::from_row_slice(k, k, &jet.h);
                    assert!(
                        (&raw - raw.transpose()).amax() < 1e-9 * raw.amax(),
                        "{what}"
                    );
                    let hessian = m
                        .nested_hessian(&params, &mut modes.clone())
                        .unwrap()
                        .unwrap();
                    for k in 0..params.len() {
                        let step = 1e-5;
                        let (mut up, mut down) = (params.clone(), params.clone());
                        up[k] += step;
                        down[k] -= step;
                        let mut warm = modes.clone();
                        let g_up = m.nested_evaluate(&up, &mut warm, true).unwrap().gradient;
                        let g_down = m.nested_evaluate(&down, &mut warm, true).unwrap().gradient;
                        for r in 0..params.len() {
                            let differenced = (g_up[r] - g_down[r]) / (2.0 * step);
                            let exact = hessian[(r, k)];
                            assert!(
                                (exact - differenced).abs() <= 1e-6 * exact.abs().max(1.0),
                                "{what}, ({r}, {k}): exact {exact} vs differenced {differenced}"
                            );
                        }
                    }
                });
            }
        }
    }

    /// A non-canonical link has no exact Hessian here (the maximiser differences the gradient).
    #[test]
    fn a_non_canonical_link_has_none() {
        with_data(3, Family::Binomial, Link::Cloglog, (None, None), |m| {
            let params = [-0.4, 0.6, 0.8, 0.5];
            let mut modes = vec![0.0; 8];
            assert!(m.nested_hessian(&params, &mut modes).unwrap().is_none());
        });
    }
}
