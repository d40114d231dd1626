//! Standardised risks and their gradients over the model's parameters.
//!
//! Pattern k of the target population has `w_k` patients, under arm a (0 control, 1 treated)
//! the linear predictor `eta_ak = x_ak' beta + o_k` and the random-effect variance
//! `v_ak = z_ak' Lambda Lambda' z_ak` (Lambda filled from theta). The standardised risk is
//!
//! `r_a = sum_k w_k m(eta_ak, v_ak) / sum_k w_k`,  `m(eta, v) = E h(eta + sqrt(v) T)`, T ~ N(0, 1),
//!
//! with h the inverse link: the risk averaged over the random-effect distribution
//! (integrated), or `m = h(eta)` (conditional on random effects 0, and for models without
//! them). For the log link `m = exp(eta + v / 2)` exactly; otherwise a Gauss-Hermite rule of
//! [`NODES`] nodes computes it (for the logit link and SDs up to 2 its error is below 1e-8
//! relative; up to 1, below 1e-13).
//!
//! Gradients: `dm/deta = E h'(eta + sqrt(v) T)`, `dm/dv = E h''(eta + sqrt(v) T) / 2` (Stein's
//! lemma), and `dv/dtheta_m = 2 sum_{(r, c) in entries(m)} z_r (Lambda' z)_c`.

use nalgebra::DMatrix;

use crate::glm::Link;
use crate::glmm::GaussHermite;

use super::target::TargetRows;

/// Nodes of the rule that integrates risks over a random effect.
pub const NODES: usize = 32;

/// Risks of a target population under a fitted model.
pub(crate) struct RiskModel<'a> {
    link: Link,
    rows: &'a TargetRows,
    /// Whether risks are averaged over the random effects (else they are 0).
    integrate: bool,
    rule: GaussHermite,
}

/// `(m, dm/deta, dm/dv)` at one pattern.
type Expectation = (f64, f64, f64);

impl<'a> RiskModel<'a> {
    pub fn new(link: Link, rows: &'a TargetRows, integrate: bool) -> Self {
        RiskModel {
            link,
            rows,
            integrate: integrate && rows.random.is_some(),
            rule: GaussHermite::with_nodes(NODES),
        }
    }

    /// The rows.
    pub fn rows(&self) -> &TargetRows {
        self.rows
    }

    fn expectation(&self, eta: f64, v: f64) -> Expectation {
        if !self.integrate || v <= 0.0 {
            let (m, d1, d2) = self.link.mean_and_derivatives(eta);
            return (m, d1, d2 / 2.0);
        }
        if self.link == Link::Log {
            let m = (eta + v / 2.0).exp();
            return (m, m, m / 2.0);
        }
        let sd = v.sqrt();
        let (mut m, mut d1, mut d2) = (0.0, 0.0, 0.0);
        for (t, w) in self.rule.nodes.iter().zip(&self.rule.weights) {
            let (a, b, c) = self.link.mean_and_derivatives(eta + sd * t);
            m += w * a;
            d1 += w * b;
            d2 += w * c;
        }
        (m, d1, d2 / 2.0)
    }

    /// For pattern k under arm a at `psi = (beta, theta)`: the expectation and, for the
    /// gradient over theta, `dv/dtheta` (empty without integration).
    fn pattern(
        &self,
        a: usize,
        k: usize,
        psi: &[f64],
        lambda: Option<&DMatrix<f64>>,
        dv: &mut Vec<f64>,
    ) -> Expectation {
        let rows = self.rows;
        let p = rows.p;
        let x = &rows.x[a][k * p..(k + 1) * p];
        let eta: f64 = x.iter().zip(&psi[..p]).map(|(x, b)| x * b).sum::<f64>() + rows.offset[k];
        dv.clear();
        let v =
            match (&rows.random, lambda) {
                (Some((structure, z)), Some(lambda)) => {
                    let q = structure.q;
                    let z = &z[a][k * q..(k + 1) * q];
                    // Lambda' z
                    let lz: Vec<f64> = (0..q)
                        .map(|c| (0..q).map(|r| lambda[(r, c)] * z[r]).sum())
                        .collect();
                    dv.extend(structure.entries.iter().map(|entries| {
                        2.0 * entries.iter().map(|&(r, c)| z[r] * lz[c]).sum::<f64>()
                    }));
                    lz.iter().map(|v| v * v).sum()
                }
                _ => 0.0,
            };
        self.expectation(eta, v)
    }

    /// Lambda at `psi`'s theta, when risks are integrated over the random effects.
    fn lambda(&self, psi: &[f64]) -> Option<DMatrix<f64>> {
        let (structure, _) = self.rows.random.as_ref().filter(|_| self.integrate)?;
        let p = self.rows.p;
        Some(structure.lambda(&psi[p..p + structure.len()]))
    }

    /// `sum_k w_k m(eta_ak, v_ak)` over the patterns of each cluster, for a = 0 and 1.
    pub fn cluster_sums(&self, psi: &[f64]) -> [Vec<f64>; 2] {
        let rows = self.rows;
        let lambda = self.lambda(psi);
        let mut dv = Vec::new();
        let mut out = [Vec::new(), Vec::new()];
        for (a, sums) in out.iter_mut().enumerate() {
            *sums = (0..rows.n_clusters())
                .map(|c| {
                    (rows.cluster_start[c]..rows.cluster_start[c + 1])
                        .map(|k| {
                            let m = self.pattern(a, k, psi, lambda.as_ref(), &mut dv).0;
                            rows.weight[k] * m
                        })
                        .sum()
                })
                .collect();
        }
        out
    }

    /// The risks `(r_0, r_1)` at `psi` and their gradients over `psi` (entries beyond beta and
    /// theta are 0).
    pub fn risks(&self, psi: &[f64]) -> ([f64; 2], [Vec<f64>; 2]) {
        let rows = self.rows;
        let p = rows.p;
        let total: f64 = rows.weight.iter().sum();
        let mut risks = [0.0; 2];
        let mut gradients = [vec![0.0; psi.len()], vec![0.0; psi.len()]];
        let lambda = self.lambda(psi);
        let mut dv = Vec::new();
        for a in 0..2 {
            let g = &mut gradients[a];
            for k in 0..rows.len() {
                let w = rows.weight[k] / total;
                let (m, d_eta, d_v) = self.pattern(a, k, psi, lambda.as_ref(), &mut dv);
                risks[a] += w * m;
                for (gj, x) in g[..p].iter_mut().zip(&rows.x[a][k * p..(k + 1) * p]) {
                    *gj += w * d_eta * x;
                }
                for (gj, d) in g[p..].iter_mut().zip(&dv) {
                    *gj += w * d_v * d;
                }
            }
        }
        (risks, gradients)
    }
}
