//! Adaptive Gauss-Hermite quadrature for nested random intercepts, `(1 | g) + (1 | g:h)`, which
//! lme4 and MixedModels.jl do not offer (they refuse quadrature beyond one scalar effect).
//!
//! Given the outer effect, the inner effects of a group are independent, so the group's
//! likelihood is a one-dimensional integral of a product of one-dimensional integrals:
//! `L_i = int phi(u) prod_k [ int phi(v) prod_{j in k} f(y_j | eta0_j + s_u u + s_v v) dv ] du`
//! (`s_u`, `s_v` the two SDs). Each integral is approximated by adaptive Gauss-Hermite quadrature
//! with the same n nodes:
//! - inner: centred at the mode of `h_k(v) = sum_{j in k} log f - v^2/2` given u, scaled by
//!   `(1 + s_v^2 sum_{j in k} W_j)^{-1/2}`;
//! - outer: centred at the joint conditional mode's u, scaled by the Laplace precision of u
//!   after the v's are integrated out, the Schur complement `C_uu - sum_k C_uk^2 / C_kk` of the
//!   joint curvature `C`.
//!
//! With one node this is exactly the joint Laplace approximation (the arrowhead determinant
//! factorises the same way). The gradient is taken by central differences of this
//! log-likelihood.

use super::likelihood::Likelihood;
use crate::core::error::{Error, Result};

/// Newton iterations allowed for an inner mode.
const INNER_MAX_ITER: usize = 100;

impl Likelihood<'_> {
    /// The nested-quadrature log-likelihood at `params`; `modes` (1 + K values per group) are the
    /// joint conditional modes, updated in place.
    pub fn nested_loglik(&self, params: &[f64], modes: &mut [f64]) -> Result<f64> {
        let p = self.patterns.p;
        let q = self.patterns.q;
        let lam = self.structure.lambda(&params[p..]);
        let (s_u, s_v) = (lam[(0, 0)], if q > 1 { lam[(1, 1)] } else { 0.0 });
        let mut total = self.patterns.constant;
        for g in 0..self.patterns.n_groups() {
            let view = self.view(g, &params[..p], &lam);
            let b = &mut modes[g * q..(g + 1) * q];
            self.find_mode(&view, b, &self.labels[g])?;
            let (_, _, c) = self.mode_state(&view, &nalgebra::DVector::from_column_slice(b));
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
                        self.labels[g]
                    ),
                });
            }
            // Patterns of each inner level (position k >= 1 of z).
            let mut inner: Vec<Vec<usize>> = vec![Vec::new(); q];
            for j in 0..view.len() {
                let z = self.patterns.z_row(view.start + j);
                if let Some(k) = (1..q).find(|&k| z[k] != 0.0) {
                    inner[k].push(j);
                }
            }
            let outer_scale = schur.powf(-0.5);
            let mut terms = Vec::with_capacity(self.rule.nodes.len());
            for (z_m, w_m) in self.rule.nodes.iter().zip(&self.rule.weights) {
                let u = b[0] + outer_scale * z_m;
                let mut sum = -0.5 * u * u;
                for (k, members) in inner.iter().enumerate().skip(1) {
                    if members.is_empty() {
                        continue;
                    }
                    let shift = |j: usize| view.eta0[j] + s_u * u;
                    sum += self.inner_log_integral(
                        &view,
                        members,
                        &shift,
                        s_v,
                        b[k],
                        &self.labels[g],
                    )?;
                }
                terms.push(w_m.ln() + sum + 0.5 * z_m * z_m);
            }
            let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let value =
                outer_scale.ln() + top + terms.iter().map(|t| (t - top).exp()).sum::<f64>().ln();
            if !value.is_finite() {
                return Err(Error::Numerical {
                    what: "nested quadrature".into(),
                    message: format!("the likelihood of group '{}' is not finite", self.labels[g]),
                });
            }
            total += value;
        }
        Ok(total)
    }

    /// `log int phi(v) prod_{j in members} f(y_j | base_j + s_v v) dv` by adaptive quadrature,
    /// the mode searched from `start`.
    fn inner_log_integral(
        &self,
        view: &super::likelihood::GroupView,
        members: &[usize],
        base: &dyn Fn(usize) -> f64,
        s_v: f64,
        start: f64,
        label: &str,
    ) -> Result<f64> {
        let at = |v: f64| -> (f64, f64, f64) {
            let (mut value, mut grad, mut curvature) = (-0.5 * v * v, -v, 1.0);
            for &j in members {
                let k = view.start + j;
                let d = self.family.row_derivatives(
                    self.link,
                    self.patterns.y[k],
                    self.patterns.m[k],
                    base(j) + s_v * v,
                );
                value += d.loglik;
                grad += s_v * d.score;
                curvature += s_v * s_v * d.weight;
            }
            (value, grad, curvature)
        };
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
                what: format!("an inner conditional mode of group '{label}'"),
                iterations: INNER_MAX_ITER,
                criterion: (state.1 / state.2).abs(),
            });
        }
        let scale = state.2.powf(-0.5);
        let terms: Vec<f64> = self
            .rule
            .nodes
            .iter()
            .zip(&self.rule.weights)
            .map(|(z, w)| w.ln() + at(v + scale * z).0 + 0.5 * z * z)
            .collect();
        let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Ok(scale.ln() + top + terms.iter().map(|t| (t - top).exp()).sum::<f64>().ln())
    }
}

#[cfg(test)]
mod tests {
    use nalgebra::DMatrix;

    use super::super::likelihood::Likelihood;
    use super::super::patterns::{Patterns, RowData};
    use super::super::quadrature::GaussHermite;
    use crate::frame::random_effects::ThetaStructure;
    use crate::models::glm::{Family, Link};

    /// Two clusters with 3 and 2 inner levels, binary rows (a small deterministic data set).
    fn data() -> (DMatrix<f64>, DMatrix<f64>, Vec<f64>, Vec<usize>) {
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
        let (x, z, y, g) = data();
        let w = vec![1.0; y.len()];
        let rows = RowData {
            x: &x,
            z: &z,
            offset: None,
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
            family: Family::Binomial,
            link: Link::Logit,
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
            (laplace, m.nested_loglik(&PARAMS, &mut modes).unwrap())
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
            .map(|&n| with_likelihood(n, |m| m.nested_loglik(&PARAMS, &mut [0.0; 8]).unwrap()))
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
        let laplace = with_likelihood(1, |m| m.nested_loglik(&PARAMS, &mut [0.0; 8]).unwrap());
        assert!(
            (laplace - exact).abs() > (by_nodes[0] - exact).abs(),
            "quadrature improves on Laplace"
        );
    }
}
