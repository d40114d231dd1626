//! The Laplace log-likelihood of the general random-effect structure (several terms, crossed,
//! partially crossed or nested: one joint vector b of all random effects) with sparse matrices,
//! and its exact gradient.
//!
//! The model and the formulas are those of [`super::likelihood`] with one group holding all rows:
//! `eta_j = x_j' beta + o_j + a_j' b` with `a_j = Lambda' z_j`,
//! `log L = sum_j log f(y_j | eta_j) - b'b/2 - 1/2 log det C` at the conditional mode b, with
//! `C = I + sum_j W_j a_j a_j'`. Here C (and the observed curvature
//! `H = I - sum_j s'_j a_j a_j'` of the mode equation) are sparse: entry `(c, l)` is nonzero only
//! if positions c and l share a row of `Z Lambda`, so that a row of a grouping factor couples
//! only the levels that occur together in the data. They are factored by
//! [`SymbolicCholesky`], analysed once per fit, in the order of b (terms by decreasing number of
//! levels, as lme4 orders them).
//!
//! The gradient over `phi = (beta, theta)` is `dg/dphi - 1/2 tr(C^{-1} dC/dphi)`, with the mode
//! moving as `db/dphi = H^{-1} dF/dphi`. Every quantity is a sum over rows of terms that need
//! `C^{-1}` only on the pairs of positions of one row (the selected inverse), written with
//! `u_j = C^{-1} a_j`, `h_j = a_j' u_j`, `f_j = W'_j h_j`, and for each theta t the sum
//! `zb_jt = sum over the entries (r, c) of Lambda equal to theta_t of z_jr b_c`:
//!
//! - `dg/dbeta = sum_j s_j x_j`, `dg/dtheta_t = sum_j s_j zb_jt`;
//! - `dF/dbeta_k = sum_j s'_j x_jk a_j`,
//!   `dF/dtheta_t = sum_j [s'_j zb_jt a_j + s_j sum_{(r, c) = t} z_jr e_c]`;
//! - `tr(C^{-1} dC/dbeta_k) = sum_j f_j x_jk + w' db/dbeta_k`,
//!   `tr(C^{-1} dC/dtheta_t) = sum_j [2 W_j sum_{(r, c) = t} z_jr u_jc + f_j zb_jt] + w' db/dtheta_t`,
//!   with `w = sum_j f_j a_j` (the change of W with eta through the mode).

use std::ops::Range;
use std::sync::Mutex;

use rayon::prelude::*;

use nalgebra::DMatrix;

use super::likelihood::{mode_error, Evaluation, Likelihood, MODE_MAX_ITER};
use crate::core::error::{Error, Result};
use crate::core::sparse_cholesky::{Cholesky, SelectedInverse, SymbolicCholesky};
use crate::models::glm::RowDerivatives;

/// Rows from which sums over rows run in parallel.
const PARALLEL_ROWS: usize = 20_000;

/// Rows per part of a parallel sum: fixed, so that the parts are added in the same order
/// whatever the number of threads (the same numbers on any machine).
const CHUNK_ROWS: usize = 4_096;

/// The rows' random-effect parts, fixed over a fit: the nonzeros of `z_j`, the positions of
/// `a_j = Lambda' z_j` (the columns of Lambda's entries in the rows where `z_j` is nonzero), how
/// each entry of Lambda feeds `a_j`, and where each pair of positions of `a_j` sits in C.
struct RandomRows {
    z_start: Vec<usize>,
    z_at: Vec<u32>,
    z: Vec<f64>,
    a_start: Vec<usize>,
    a_at: Vec<u32>,
    /// Per row, `(position in the row's a, index into z, theta)` for each entry of Lambda in the
    /// row's nonzero z rows: `a_j[position] += z * theta`.
    term_start: Vec<usize>,
    terms: Vec<(u32, u32, u32)>,
    /// Per row, the slot in C of each pair `(u, v)`, `u <= v` positions of the row's a.
    pair_start: Vec<usize>,
    pair_slot: Vec<u32>,
}

/// The sparse Laplace likelihood of a general structure.
pub(crate) struct SparseLaplace<'a> {
    likelihood: &'a Likelihood<'a>,
    rows: RandomRows,
    /// Per row r of Lambda: `(column, theta)` of its entries.
    lambda: Vec<Vec<(u32, u32)>>,
    symbolic: SymbolicCholesky,
    diagonal: Vec<usize>,
    /// The theta at which the modes were last found (see [`SparseLaplace::carry_modes`]).
    modes_theta: Mutex<Vec<f64>>,
}

/// The state of the mode search at a point b.
struct ModeState {
    value: f64,
    gradient: Vec<f64>,
    /// Values of C on the symbolic pattern.
    curvature: Vec<f64>,
}

/// Sums over rows for the gradient: `dg/dphi`, the explicit parts of the traces, `dF/dphi` (one
/// q-vector per parameter) and `w = sum_j f_j a_j`.
struct GradientSums {
    dg: Vec<f64>,
    explicit: Vec<f64>,
    df: Vec<Vec<f64>>,
    w: Vec<f64>,
}

impl GradientSums {
    fn new(n_params: usize, q: usize) -> Self {
        GradientSums {
            dg: vec![0.0; n_params],
            explicit: vec![0.0; n_params],
            df: vec![vec![0.0; q]; n_params],
            w: vec![0.0; q],
        }
    }

    fn add(&mut self, other: GradientSums) {
        add_to(&mut self.dg, &other.dg);
        add_to(&mut self.explicit, &other.explicit);
        for (mine, theirs) in self.df.iter_mut().zip(&other.df) {
            add_to(mine, theirs);
        }
        add_to(&mut self.w, &other.w);
    }
}

/// `total += other`, entry by entry.
fn add_to(total: &mut [f64], other: &[f64]) {
    for (t, o) in total.iter_mut().zip(other) {
        *t += o;
    }
}

impl<'a> SparseLaplace<'a> {
    /// The analysis of `likelihood`'s rows (one group, the general structure).
    pub fn new(likelihood: &'a Likelihood<'a>) -> Self {
        let patterns = likelihood.patterns;
        let structure = likelihood.structure;
        let q = structure.q;
        let mut lambda: Vec<Vec<(u32, u32)>> = vec![Vec::new(); q];
        for (t, entries) in structure.entries.iter().enumerate() {
            for &(r, c) in entries {
                lambda[r].push((c as u32, t as u32));
            }
        }
        let mut rows = RandomRows {
            z_start: vec![0],
            z_at: Vec::new(),
            z: Vec::new(),
            a_start: vec![0],
            a_at: Vec::new(),
            term_start: vec![0],
            terms: Vec::new(),
            pair_start: vec![0],
            pair_slot: Vec::new(),
        };
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        let mut positions: Vec<u32> = Vec::new();
        for k in 0..patterns.len() {
            let first_z = rows.z_at.len();
            for (r, &v) in patterns.z_row(k).iter().enumerate() {
                if v != 0.0 {
                    rows.z_at.push(r as u32);
                    rows.z.push(v);
                }
            }
            positions.clear();
            for &r in &rows.z_at[first_z..] {
                positions.extend(lambda[r as usize].iter().map(|&(c, _)| c));
            }
            positions.sort_unstable();
            positions.dedup();
            for (zi, &r) in rows.z_at[first_z..].iter().enumerate() {
                for &(c, t) in &lambda[r as usize] {
                    let at = positions.binary_search(&c).unwrap_or_default();
                    rows.terms.push((at as u32, (first_z + zi) as u32, t));
                }
            }
            for (i, &u) in positions.iter().enumerate() {
                for &v in &positions[i..] {
                    pairs.push((u as usize, v as usize));
                }
            }
            rows.a_at.extend_from_slice(&positions);
            rows.z_start.push(rows.z_at.len());
            rows.a_start.push(rows.a_at.len());
            rows.term_start.push(rows.terms.len());
        }
        // The entries of each level's block of Lambda' Lambda, for the conditional SDs.
        for row in &lambda {
            for (i, &(u, _)) in row.iter().enumerate() {
                for &(v, _) in &row[i..] {
                    pairs.push((u as usize, v as usize));
                }
            }
        }
        let symbolic = SymbolicCholesky::new(q, pairs.iter().copied());
        for k in 0..patterns.len() {
            let at = &rows.a_at[rows.a_start[k]..rows.a_start[k + 1]];
            for (i, &u) in at.iter().enumerate() {
                for &v in &at[i..] {
                    let slot = symbolic.slot(u as usize, v as usize).unwrap_or_default();
                    rows.pair_slot.push(slot as u32);
                }
            }
            rows.pair_start.push(rows.pair_slot.len());
        }
        let diagonal = symbolic.diagonal_slots();
        SparseLaplace {
            likelihood,
            rows,
            lambda,
            symbolic,
            diagonal,
            modes_theta: Mutex::new(Vec::new()),
        }
    }

    /// Start the mode search at theta from the modes found at the last theta with the random
    /// effects `u = Lambda b` unchanged: `b = Lambda(theta)^{-1} Lambda(last) b_last`, level
    /// block by level block (Lambda is lower triangular within a block; an effect whose SD is 0
    /// keeps its b). A large step in theta then starts near the new mode instead of far from it.
    fn carry_modes(&self, theta: &[f64], modes: &mut [f64]) {
        let last = self
            .modes_theta
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default();
        if last.len() != theta.len() || last.as_slice() == theta {
            return;
        }
        let u: Vec<f64> = self
            .lambda
            .iter()
            .map(|row| {
                row.iter()
                    .map(|&(c, t)| last[t as usize] * modes[c as usize])
                    .sum()
            })
            .collect();
        for (r, row) in self.lambda.iter().enumerate() {
            let mut rest = u[r];
            let mut diagonal = 0.0;
            for &(c, t) in row {
                if c as usize == r {
                    diagonal = theta[t as usize];
                } else {
                    rest -= theta[t as usize] * modes[c as usize];
                }
            }
            if diagonal != 0.0 {
                modes[r] = rest / diagonal;
            }
        }
    }

    fn p(&self) -> usize {
        self.likelihood.patterns.p
    }

    /// Each row's fixed part `x_j' beta + o_j` and the values of `a_j` at theta.
    fn linear_parts(&self, params: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (patterns, p) = (self.likelihood.patterns, self.p());
        let theta = &params[p..];
        let eta0 = (0..patterns.len())
            .map(|k| patterns.x_dot(k, &params[..p]) + patterns.offset[k])
            .collect();
        let rows = &self.rows;
        let mut a = vec![0.0; rows.a_at.len()];
        for k in 0..patterns.len() {
            let a_row = &mut a[rows.a_start[k]..rows.a_start[k + 1]];
            for &(at, zi, t) in &rows.terms[rows.term_start[k]..rows.term_start[k + 1]] {
                a_row[at as usize] += rows.z[zi as usize] * theta[t as usize];
            }
        }
        (eta0, a)
    }

    /// Row k's log-likelihood derivatives at the point b.
    fn row(&self, k: usize, eta0: &[f64], a: &[f64], b: &[f64]) -> RowDerivatives {
        let rows = &self.rows;
        let range = rows.a_start[k]..rows.a_start[k + 1];
        let eta = eta0[k]
            + rows.a_at[range.clone()]
                .iter()
                .zip(&a[range])
                .map(|(&c, v)| v * b[c as usize])
                .sum::<f64>();
        let l = self.likelihood;
        l.family
            .row_derivatives(l.link, l.patterns.y[k], l.patterns.m[k], eta)
    }

    /// Add `weight a_j a_j'` of row k to the values of a matrix on the symbolic pattern.
    fn add_outer(&self, k: usize, a: &[f64], weight: f64, values: &mut [f64]) {
        let rows = &self.rows;
        let a_row = &a[rows.a_start[k]..rows.a_start[k + 1]];
        let mut slots = rows.pair_slot[rows.pair_start[k]..rows.pair_start[k + 1]].iter();
        for (i, &u) in a_row.iter().enumerate() {
            for &v in &a_row[i..] {
                if let Some(&slot) = slots.next() {
                    values[slot as usize] += weight * u * v;
                }
            }
        }
    }

    /// The identity on the symbolic pattern.
    fn identity(&self) -> Vec<f64> {
        let mut values = vec![0.0; self.symbolic.a_len()];
        for &d in &self.diagonal {
            values[d] = 1.0;
        }
        values
    }

    /// `part(rows)` summed over all rows: in one part, or, for many rows, over fixed chunks in
    /// parallel, added in chunk order by `add`.
    fn sum_rows<T: Send>(
        &self,
        part: impl Fn(Range<usize>) -> T + Sync,
        add: impl Fn(&mut T, T),
    ) -> T {
        let n = self.likelihood.patterns.len();
        if n < PARALLEL_ROWS {
            return part(0..n);
        }
        let starts: Vec<usize> = (0..n).step_by(CHUNK_ROWS).collect();
        let mut parts: Vec<T> = starts
            .par_iter()
            .map(|&start| part(start..(start + CHUNK_ROWS).min(n)))
            .collect();
        let mut total = parts.remove(0);
        for next in parts {
            add(&mut total, next);
        }
        total
    }

    /// At b: `g(b)`, its gradient `sum_j s_j a_j - b` and the Fisher curvature C.
    fn mode_state(&self, eta0: &[f64], a: &[f64], b: &[f64]) -> ModeState {
        let rows = &self.rows;
        let part = |range: Range<usize>| {
            let mut state = ModeState {
                value: 0.0,
                gradient: vec![0.0; b.len()],
                curvature: vec![0.0; self.symbolic.a_len()],
            };
            for k in range {
                let d = self.row(k, eta0, a, b);
                state.value += d.loglik;
                let range = rows.a_start[k]..rows.a_start[k + 1];
                for (&c, v) in rows.a_at[range.clone()].iter().zip(&a[range]) {
                    state.gradient[c as usize] += d.score * v;
                }
                self.add_outer(k, a, d.weight, &mut state.curvature);
            }
            state
        };
        let mut state = self.sum_rows(part, |total, next| {
            total.value += next.value;
            add_to(&mut total.gradient, &next.gradient);
            add_to(&mut total.curvature, &next.curvature);
        });
        state.value -= 0.5 * b.iter().map(|v| v * v).sum::<f64>();
        add_to(
            &mut state.gradient,
            &b.iter().map(|v| -v).collect::<Vec<_>>(),
        );
        for &d in &self.diagonal {
            state.curvature[d] += 1.0;
        }
        state
    }

    /// Factor values on the symbolic pattern, or the error named `what`.
    fn factor(&self, values: &[f64], what: &str) -> Result<Cholesky<'_>> {
        self.symbolic.factor(values).map_err(|_| Error::Numerical {
            what: what.into(),
            message: "the conditional curvature is not positive definite".into(),
        })
    }

    /// Fisher scoring with step halving for the joint conditional mode (as
    /// [`Likelihood::find_mode`], with sparse solves).
    fn find_mode(&self, eta0: &[f64], a: &[f64], b: &mut [f64]) -> Result<()> {
        let group = &self.likelihood.labels[0];
        let mut last_step = f64::INFINITY;
        for _ in 0..MODE_MAX_ITER {
            let state = self.mode_state(eta0, a, b);
            let chol = self.symbolic.factor(&state.curvature).map_err(|_| {
                mode_error(group, "the curvature is not positive definite", last_step)
            })?;
            let mut step = state.gradient;
            chol.solve(&mut step);
            last_step = step.iter().fold(0.0, |m: f64, v| m.max(v.abs()));
            let size = b.iter().fold(0.0, |m: f64, v| m.max(v.abs()));
            if last_step <= 1e-11 * (1.0 + size) {
                return Ok(());
            }
            let mut t = 1.0;
            loop {
                let candidate: Vec<f64> = b.iter().zip(&step).map(|(v, s)| v + t * s).collect();
                let f1 = self.mode_state(eta0, a, &candidate).value;
                if f1.is_finite() && f1 >= state.value - 1e-13 * state.value.abs().max(1.0) {
                    b.copy_from_slice(&candidate);
                    break;
                }
                t /= 2.0;
                if t < 1e-12 {
                    // No ascent left at rounding level: this is the mode.
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

    /// Log-likelihood (and, if asked, its gradient) at `params = (beta, theta)`; `modes` is the
    /// start of the mode search and on return the mode.
    pub fn evaluate(
        &self,
        params: &[f64],
        modes: &mut [f64],
        want_gradient: bool,
    ) -> Result<Evaluation> {
        let patterns = self.likelihood.patterns;
        let (eta0, a) = self.linear_parts(params);
        let theta = &params[self.p()..];
        self.carry_modes(theta, modes);
        self.find_mode(&eta0, &a, modes)?;
        if let Ok(mut last) = self.modes_theta.lock() {
            *last = theta.to_vec();
        }
        let b: &[f64] = modes;
        // At the mode: the log-likelihood and C (and H, the observed curvature).
        let derivatives: Vec<RowDerivatives> = if patterns.len() < PARALLEL_ROWS {
            (0..patterns.len())
                .map(|k| self.row(k, &eta0, &a, b))
                .collect()
        } else {
            (0..patterns.len())
                .into_par_iter()
                .map(|k| self.row(k, &eta0, &a, b))
                .collect()
        };
        let part = |range: Range<usize>| {
            let mut sums = (
                0.0,
                vec![0.0; self.symbolic.a_len()],
                vec![0.0; self.symbolic.a_len()],
            );
            for k in range {
                let d = &derivatives[k];
                sums.0 += d.loglik;
                self.add_outer(k, &a, d.weight, &mut sums.1);
                self.add_outer(k, &a, -d.score_deriv, &mut sums.2);
            }
            sums
        };
        let (sum_loglik, mut c_values, mut h_values) = self.sum_rows(part, |total, next| {
            total.0 += next.0;
            add_to(&mut total.1, &next.1);
            add_to(&mut total.2, &next.2);
        });
        for &d in &self.diagonal {
            c_values[d] += 1.0;
            h_values[d] += 1.0;
        }
        let mut loglik =
            patterns.constant + sum_loglik - 0.5 * b.iter().map(|v| v * v).sum::<f64>();
        let c = self.factor(&c_values, "the Laplace approximation")?;
        loglik -= 0.5 * c.log_det();
        if !loglik.is_finite() {
            return Err(Error::Numerical {
                what: "the integrated log-likelihood".into(),
                message: "it is not finite at these parameters".into(),
            });
        }
        if !want_gradient {
            return Ok(Evaluation {
                loglik,
                gradient: Vec::new(),
            });
        }
        let (p, q, n_theta) = (self.p(), self.symbolic.n(), self.likelihood.structure.len());
        let n_params = p + n_theta;
        let h = if h_values == c_values {
            None
        } else {
            Some(self.factor(&h_values, "the conditional mode")?)
        };
        let inverse = c.selected_inverse();
        let part = |range: Range<usize>| {
            let mut sums = GradientSums::new(n_params, q);
            for k in range {
                self.add_gradient_terms(k, &derivatives[k], &a, b, &inverse, &mut sums);
            }
            sums
        };
        let GradientSums {
            dg,
            explicit,
            df,
            w,
        } = self.sum_rows(part, GradientSums::add);
        let gradient = df
            .into_iter()
            .enumerate()
            .map(|(k, mut db)| {
                h.as_ref().unwrap_or(&c).solve(&mut db);
                let trace = explicit[k] + w.iter().zip(&db).map(|(x, y)| x * y).sum::<f64>();
                dg[k] - 0.5 * trace
            })
            .collect();
        Ok(Evaluation { loglik, gradient })
    }

    /// Row k's terms of the gradient's sums (module docs), with `u = C^{-1} a_k` from the
    /// selected inverse.
    fn add_gradient_terms(
        &self,
        k: usize,
        d: &RowDerivatives,
        a: &[f64],
        b: &[f64],
        inverse: &SelectedInverse<'_>,
        sums: &mut GradientSums,
    ) {
        let (rows, p) = (&self.rows, self.p());
        let range = rows.a_start[k]..rows.a_start[k + 1];
        let (at, a_row) = (&rows.a_at[range.clone()], &a[range]);
        let u: Vec<f64> = at
            .iter()
            .map(|&c1| {
                at.iter()
                    .zip(a_row)
                    .map(|(&c2, v)| inverse.get(c1 as usize, c2 as usize) * v)
                    .sum::<f64>()
            })
            .collect();
        let hj: f64 = a_row.iter().zip(&u).map(|(v, uv)| v * uv).sum();
        let f = d.weight_deriv * hj;
        let mut zb = vec![0.0; sums.dg.len() - p];
        for &(position, zi, t) in &rows.terms[rows.term_start[k]..rows.term_start[k + 1]] {
            let (position, t) = (position as usize, t as usize);
            let z = rows.z[zi as usize];
            zb[t] += z * b[at[position] as usize];
            sums.explicit[p + t] += 2.0 * d.weight * z * u[position];
            sums.df[p + t][at[position] as usize] += d.score * z;
        }
        let (columns, values) = self.likelihood.patterns.x_nonzero(k);
        let x_terms = columns
            .iter()
            .map(|&col| col as usize)
            .zip(values.iter().copied());
        let zb_terms = zb.iter().enumerate().map(|(t, &v)| (p + t, v));
        for (param, x) in x_terms.chain(zb_terms) {
            if x == 0.0 {
                continue;
            }
            sums.dg[param] += d.score * x;
            sums.explicit[param] += f * x;
            for (&c1, v) in at.iter().zip(a_row) {
                sums.df[param][c1 as usize] += d.score_deriv * x * v;
            }
        }
        for (&c1, v) in at.iter().zip(a_row) {
            sums.w[c1 as usize] += f * v;
        }
    }

    /// The information about beta with theta fixed at the mode `modes` (as
    /// [`Likelihood::fixed_information`]): `X'WX - (A'WX)' C^{-1} (A'WX)`.
    pub fn fixed_information(&self, params: &[f64], modes: &[f64]) -> DMatrix<f64> {
        let (patterns, p, q) = (self.likelihood.patterns, self.p(), self.symbolic.n());
        let (eta0, a) = self.linear_parts(params);
        let rows = &self.rows;
        let mut info = DMatrix::zeros(p, p);
        let mut awx = vec![vec![0.0; q]; p];
        let mut c_values = self.identity();
        for k in 0..patterns.len() {
            let d = self.row(k, &eta0, &a, modes);
            let (columns, values) = patterns.x_nonzero(k);
            let range = rows.a_start[k]..rows.a_start[k + 1];
            for (&r, xr) in columns.iter().zip(values) {
                for (&col, xc) in columns.iter().zip(values) {
                    info[(r as usize, col as usize)] += d.weight * xr * xc;
                }
                for (&c1, v) in rows.a_at[range.clone()].iter().zip(&a[range.clone()]) {
                    awx[r as usize][c1 as usize] += d.weight * xr * v;
                }
            }
            self.add_outer(k, &a, d.weight, &mut c_values);
        }
        if let Ok(c) = self.symbolic.factor(&c_values) {
            let solved: Vec<Vec<f64>> = awx
                .iter()
                .map(|column| {
                    let mut s = column.clone();
                    c.solve(&mut s);
                    s
                })
                .collect();
            for r in 0..p {
                for col in 0..p {
                    info[(r, col)] -= awx[r]
                        .iter()
                        .zip(&solved[col])
                        .map(|(x, y)| x * y)
                        .sum::<f64>();
                }
            }
        }
        info
    }

    /// Conditional modes `Lambda b^` and their conditional SDs `sqrt(diag(Lambda C^{-1} Lambda'))`.
    pub fn conditional_modes(&self, params: &[f64], modes: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let theta = &params[self.p()..];
        let (eta0, a) = self.linear_parts(params);
        let state = self.mode_state(&eta0, &a, modes);
        let values = self
            .lambda
            .iter()
            .map(|row| {
                row.iter()
                    .map(|&(c, t)| theta[t as usize] * modes[c as usize])
                    .sum()
            })
            .collect();
        let sds = match self.symbolic.factor(&state.curvature) {
            Ok(c) => {
                let inverse = c.selected_inverse();
                self.lambda
                    .iter()
                    .map(|row| {
                        let mut v = 0.0;
                        for &(c1, t1) in row {
                            for &(c2, t2) in row {
                                v += theta[t1 as usize]
                                    * inverse.get(c1 as usize, c2 as usize)
                                    * theta[t2 as usize];
                            }
                        }
                        v.max(0.0).sqrt()
                    })
                    .collect()
            }
            Err(_) => vec![0.0; modes.len()],
        };
        (values, sds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Cohort, LoadOptions};
    use crate::models::glmm::Glmm;

    /// The sparse and the dense evaluation agree on a crossed model: value, gradient, modes,
    /// fixed information and conditional SDs.
    #[test]
    fn sparse_and_dense_evaluations_agree() {
        let mut text = String::from("y,h,m,x\n");
        for i in 0..120 {
            let h = i % 7;
            let m = (i * 5 + i / 7) % 11;
            let x = ((i * 37) % 17) as f64 / 17.0 - 0.5;
            let y = u8::from((i * 13 + h * 3 + m) % 5 < 2);
            text.push_str(&format!("{y},H{h},M{m},{x}\n"));
        }
        let cohort = Cohort::from_csv_str(&text, &LoadOptions::default()).expect("cohort");
        let spec = Glmm::new("y ~ x + (1 + x || h) + (1 | m)").expect("formula");
        spec.with_session(&cohort, |session| {
            let likelihood = session.objective.likelihood;
            let sparse = SparseLaplace::new(likelihood);
            assert_eq!(likelihood.structure.len(), 3);
            let params = [-0.3, 0.4, 0.7, 0.5, 0.9];
            let mut dense_modes = vec![0.0; likelihood.structure.q];
            let mut sparse_modes = dense_modes.clone();
            let dense = likelihood.evaluate(&params, &mut dense_modes, true)?;
            let found = sparse.evaluate(&params, &mut sparse_modes, true)?;
            assert!((dense.loglik - found.loglik).abs() < 1e-10);
            for (d, s) in dense.gradient.iter().zip(&found.gradient) {
                assert!((d - s).abs() < 1e-8, "{d} vs {s}");
            }
            for (d, s) in dense_modes.iter().zip(&sparse_modes) {
                assert!((d - s).abs() < 1e-9);
            }
            let info = sparse.fixed_information(&params, &sparse_modes);
            let dense_info = likelihood.fixed_information(&params, &dense_modes);
            assert!((info - dense_info).amax() < 1e-9);
            let (values, sds) = sparse.conditional_modes(&params, &sparse_modes);
            let (dense_values, dense_sds) = likelihood.conditional_modes(&params, &dense_modes);
            for (x, y) in values
                .iter()
                .zip(&dense_values)
                .chain(sds.iter().zip(&dense_sds))
            {
                assert!((x - y).abs() < 1e-9);
            }
            Ok(())
        })
        .expect("evaluations");
    }
}
