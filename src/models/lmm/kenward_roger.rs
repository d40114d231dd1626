//! The Kenward-Roger adjustment for the fixed effects of a linear mixed model fitted by REML
//! (Kenward & Roger 1997), as pbkrtest 0.5.2 computes it (`vcovAdj`, `get_Lb_ddf`,
//! `KRmodcomp`; lmerTest's `ddf = "Kenward-Roger"` calls the same functions).
//!
//! **Variance parameters.** `Sigma = Var(y) = sum_k gamma_k G_k`, linear in pbkrtest's
//! parameters: the entries of each random-effect term's covariance matrix `D` (lme4's
//! `VarCorr`: variances and covariances, the lower triangle) and the residual variance
//! `sigma^2`. For a covariance entry `(r, c)` of `D`, `G_k = Z E_k Z'` with `E_k = e_r e_c' +
//! e_c e_r'` (`e_r e_r'` for a variance), summed over every replicate of the term in a group
//! (the inner intercepts of a nested term); for `sigma^2`, `G = I`. lme4's `Lambda` is lower
//! triangular, so its thetas and the entries of `D = sigma^2 Lambda Lambda'` correspond one to
//! one: each theta's `Lambda` entries are the positions of its `E_k`. A variance estimated
//! as 0 stays in the list, as in pbkrtest (whose `G` list comes from `VarCorr` whatever the
//! estimate).
//!
//! **Adjusted covariance.** With `Phi = (X' Sigma^{-1} X)^{-1}` (the unadjusted covariance of
//! beta^),
//!
//! - `P_i = -X' Sigma^{-1} G_i Sigma^{-1} X`,
//! - `Q_ij = X' Sigma^{-1} G_i Sigma^{-1} G_j Sigma^{-1} X`, `R_ij = 0` (Sigma is linear in
//!   gamma, as pbkrtest takes it),
//! - the expected REML information `I_ij = (tr(Sigma^{-1} G_i Sigma^{-1} G_j) - 2 tr(Phi Q_ij) +
//!   tr(Phi P_i Phi P_j)) / 2` and `W = I^{-1}`, the asymptotic covariance of gamma^,
//! - `Phi_A = Phi + 2 Phi (sum_ij W_ij (Q_ij - P_i Phi P_j)) Phi`.
//!
//! **Degrees of freedom and F** of `H0: L beta = 0`, L of full row rank q (section 4 of the
//! paper, pbkrtest's `Lb_ddf`), with `Theta = L' (L Phi L')^{-1} L`:
//!
//! - `A_1 = sum_ij W_ij tr(Theta Phi P_i Phi) tr(Theta Phi P_j Phi)`,
//!   `A_2 = sum_ij W_ij tr(Theta Phi P_i Phi Theta Phi P_j Phi)`,
//!   `B = (A_1 + 6 A_2) / (2 q)`, `g = ((q + 1) A_1 - (q + 4) A_2) / ((q + 2) A_2)`;
//! - with `d = 3 q + 2 (1 - g)`: `c_1 = g / d`, `c_2 = (q - g) / d`, `c_3 = (q + 2 - g) / d`;
//! - `E* = 1 / (1 - A_2 / q)`,
//!   `V* = (2 / q) (1 + c_1 B) / ((1 - c_2 B)^2 (1 - c_3 B))`, `rho = V* / (2 E*^2)`;
//! - the denominator df `m = 4 + (q + 2) / (q rho - 1)` and the scale
//!   `lambda = m / (E* (m - 2))` (1 when `|m - 2| < 0.01`, as pbkrtest);
//! - `F = lambda (L beta^)' (L Phi_A L')^{-1} (L beta^) / q` on (q, m) df. A single
//!   coefficient's t test (q = 1) is `beta^_j / sqrt(Phi_A,jj)` on m df.
//!
//! **Cost.** `Sigma` is block-diagonal over clusters and each block is `sigma^2 V_g`, with
//! `V_g = I + Z_g Lambda Lambda' Z_g'`, whose powers are `V_g^{-j} = I - Z_g K_j Z_g'` with
//! q x q matrices (Woodbury): `K_1 = Lambda A_g^{-1} Lambda'` (`A_g = I + Lambda' Z_g'Z_g
//! Lambda`), `K_2 = 2 K_1 - K_1 S K_1`, `K_3 = K_1 + K_2 - K_2 S K_1` (`S = Z_g'Z_g`). Every
//! product above is then a sum over clusters of q x q and q x p matrices built from the
//! per-cluster `Z'Z`, `Z'X`, `X'X` and `tr(V_g^{-2}) = n_g - tr(K_2 S)`: no n_g x n_g matrix is
//! formed, whatever the cluster size.
//!
//! With several (crossed) terms all rows form one group whose q is the number of all random
//! effects (q = 128 for 30 hospitals and 98 municipalities): the same sums over that one group
//! take dense q x q products, `O(q^3)` per product, cheap for q up to a few hundred and still no
//! n x n matrix (pbkrtest forms n x n ones).

use nalgebra::{DMatrix, SymmetricEigen};

use super::profile::{ClusterStatistics, Statistics};
use crate::core::dist::f_upper;
use crate::core::error::{Error, Result};
use crate::core::linalg::spd_inverse;

/// The Kenward-Roger adjusted covariance of the fixed effects of a REML fit, and what the df
/// of any contrast need.
#[derive(Debug, Clone)]
pub(crate) struct KenwardRoger {
    /// `Phi`, the unadjusted covariance of beta^.
    phi: DMatrix<f64>,
    /// `Phi_A`.
    adjusted: DMatrix<f64>,
    /// `P_i` per variance parameter.
    p: Vec<DMatrix<f64>>,
    /// `W`, the inverse expected information of the variance parameters.
    w: DMatrix<f64>,
}

/// The denominator df `m` of a test of `L beta = 0` and the F statistic's scale `lambda`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DdfScale {
    pub ddf: f64,
    pub scale: f64,
}

/// The q x q pattern `E_k` of each variance parameter of the random effects: `dD / dgamma_k`.
fn covariance_patterns(stats: &Statistics) -> Vec<DMatrix<f64>> {
    let q = stats.structure.q;
    stats
        .structure
        .entries
        .iter()
        .map(|entries| {
            let mut e = DMatrix::zeros(q, q);
            for &(r, c) in entries {
                e[(r, c)] = 1.0;
                e[(c, r)] = 1.0;
            }
            e
        })
        .collect()
}

/// Sums over clusters (in units of `sigma^2`: `V` in place of `Sigma`).
struct Sums {
    /// `X' V^{-1} G_i V^{-1} X` (the P_i without their sign and scale).
    p: Vec<DMatrix<f64>>,
    /// `X' V^{-1} G_i V^{-1} G_j V^{-1} X`, row-major over (i, j).
    q: Vec<DMatrix<f64>>,
    /// `tr(V^{-1} G_i V^{-1} G_j)`.
    trace: DMatrix<f64>,
}

impl Sums {
    fn new(n_params: usize, p: usize) -> Sums {
        Sums {
            p: vec![DMatrix::zeros(p, p); n_params],
            q: vec![DMatrix::zeros(p, p); n_params * n_params],
            trace: DMatrix::zeros(n_params, n_params),
        }
    }

    /// Add one cluster's terms; the last parameter is the residual variance (`G = I`).
    fn add(
        &mut self,
        c: &ClusterStatistics,
        lambda: &DMatrix<f64>,
        patterns: &[DMatrix<f64>],
    ) -> Result<()> {
        let q = lambda.nrows();
        let s = &c.ztz;
        let a = DMatrix::identity(q, q) + lambda.transpose() * s * lambda;
        let k1 = lambda * spd_inverse(&a, "I + Lambda' Z'Z Lambda")? * lambda.transpose();
        let k2 = &k1 * 2.0 - &k1 * s * &k1;
        let k3 = &k1 + &k2 - &k2 * s * &k1;
        // Z'V^{-j}Z, Z'V^{-j}X and X'V^{-j}X.
        let zvz = |k: &DMatrix<f64>| s - s * k * s;
        let zvx = |k: &DMatrix<f64>| &c.ztx - s * k * &c.ztx;
        let xvx = |k: &DMatrix<f64>| &c.xtx - c.ztx.transpose() * k * &c.ztx;
        let c1 = zvz(&k1);
        let c2 = zvz(&k2);
        let b1 = zvx(&k1);
        let b2 = zvx(&k2);
        let r = patterns.len();
        let n = r + 1;
        // E_k Z'V^{-1}X and E_k Z'V^{-1}Z per random-effect parameter.
        let eb: Vec<DMatrix<f64>> = patterns.iter().map(|e| e * &b1).collect();
        let ec: Vec<DMatrix<f64>> = patterns.iter().map(|e| e * &c1).collect();
        for i in 0..r {
            self.p[i] += b1.transpose() * &eb[i];
            for j in 0..r {
                self.q[i * n + j] += eb[i].transpose() * &c1 * &eb[j];
                self.trace[(i, j)] += (&ec[i] * &ec[j]).trace();
            }
            self.q[i * n + r] += eb[i].transpose() * &b2;
            self.q[r * n + i] += b2.transpose() * &eb[i];
            let t = (&patterns[i] * &c2).trace();
            self.trace[(i, r)] += t;
            self.trace[(r, i)] += t;
        }
        self.p[r] += xvx(&k2);
        self.q[r * n + r] += xvx(&k3);
        self.trace[(r, r)] += c.n as f64 - (&k2 * s).trace();
        Ok(())
    }
}

impl KenwardRoger {
    /// The adjustment of the REML fit of `stats` at `theta` (lme4's, relative to sigma) and
    /// `sigma`.
    pub fn new(stats: &Statistics, theta: &[f64], sigma: f64) -> Result<KenwardRoger> {
        let lambda = stats.structure.lambda(theta);
        let patterns = covariance_patterns(stats);
        let n = patterns.len() + 1;
        let mut sums = Sums::new(n, stats.p);
        for c in stats.clusters().iter() {
            sums.add(c, &lambda, &patterns)?;
        }
        let s2 = sigma * sigma;
        let phi = spd_inverse(&stats.at(theta)?.m, "X'V^{-1}X")? * s2;
        // From V to Sigma = sigma^2 V: Sigma^{-1} = V^{-1} / sigma^2 (G does not scale).
        let p: Vec<DMatrix<f64>> = sums.p.iter().map(|m| m * (-1.0 / (s2 * s2))).collect();
        let q: Vec<DMatrix<f64>> = sums.q.iter().map(|m| m / (s2 * s2 * s2)).collect();
        let trace = sums.trace / (s2 * s2);
        let phi_p: Vec<DMatrix<f64>> = p.iter().map(|pi| &phi * pi).collect();
        let mut twice_information = DMatrix::zeros(n, n);
        for i in 0..n {
            for j in 0..n {
                twice_information[(i, j)] = trace[(i, j)] - 2.0 * (&phi * &q[i * n + j]).trace()
                    + (&phi_p[i] * &phi_p[j]).trace();
            }
        }
        let w = symmetric_inverse(&twice_information)? * 2.0;
        let mut u = DMatrix::zeros(stats.p, stats.p);
        for i in 0..n {
            for j in 0..n {
                u += (&q[i * n + j] - &p[i] * &phi_p[j]) * w[(i, j)];
            }
        }
        let adjusted = &phi + &phi * u * &phi * 2.0;
        let adjusted = (&adjusted + adjusted.transpose()) * 0.5;
        if adjusted.iter().any(|v| !v.is_finite()) {
            return Err(Error::Numerical {
                what: "the Kenward-Roger adjusted covariance".into(),
                message: "it is not finite".into(),
            });
        }
        Ok(KenwardRoger {
            phi,
            adjusted,
            p,
            w,
        })
    }

    /// `Phi_A`.
    pub fn adjusted(&self) -> &DMatrix<f64> {
        &self.adjusted
    }

    /// The denominator df and F scale of `H0: L beta = 0` (`l`: q x p, full row rank).
    pub fn ddf_scale(&self, l: &DMatrix<f64>) -> Result<DdfScale> {
        let q = l.nrows() as f64;
        let inner = spd_inverse(
            &(l * &self.phi * l.transpose()),
            "L Phi L' of the Kenward-Roger test (the rows of L must be linearly independent)",
        )?;
        let theta_phi = l.transpose() * inner * l * &self.phi;
        let u: Vec<DMatrix<f64>> = self.p.iter().map(|p| &theta_phi * p * &self.phi).collect();
        let mut a1 = 0.0;
        let mut a2 = 0.0;
        for (i, ui) in u.iter().enumerate() {
            for (j, uj) in u.iter().enumerate() {
                a1 += self.w[(i, j)] * ui.trace() * uj.trace();
                a2 += self.w[(i, j)] * (ui * uj).trace();
            }
        }
        let b = (a1 + 6.0 * a2) / (2.0 * q);
        let g = ((q + 1.0) * a1 - (q + 4.0) * a2) / ((q + 2.0) * a2);
        let denominator = 3.0 * q + 2.0 * (1.0 - g);
        let (c1, c2, c3) = (
            g / denominator,
            (q - g) / denominator,
            (q + 2.0 - g) / denominator,
        );
        let v0 = 1.0 + c1 * b;
        let v0 = if v0.abs() < 1e-10 { 0.0 } else { v0 };
        let v1 = 1.0 - c2 * b;
        let v2 = 1.0 - c3 * b;
        let e = 1.0 - a2 / q;
        // pbkrtest's `.divZero`: 0 / 0 (both below 1e-14) is 1.
        let ratio = if e.abs() < 1e-14 && v1.abs() < 1e-14 {
            1.0
        } else {
            e / v1
        };
        let rho = ratio * ratio * v0 / (q * v2);
        let ddf = 4.0 + (q + 2.0) / (q * rho - 1.0);
        if !ddf.is_finite() || ddf <= 0.0 {
            return Err(Error::Numerical {
                what: "the Kenward-Roger degrees of freedom".into(),
                message: format!(
                    "they come out as {ddf} (A1 = {a1}, A2 = {a2}): the contrast does not \
                     depend on the variance parameters in a way the approximation can use"
                ),
            });
        }
        let scale = if (ddf - 2.0).abs() < 0.01 {
            1.0
        } else {
            ddf * e / (ddf - 2.0)
        };
        Ok(DdfScale { ddf, scale })
    }
}

/// The inverse of the symmetric matrix `m` (twice the information), refused when an eigenvalue
/// is below `sqrt(eps)` times the largest in size: pbkrtest would then take a generalised
/// inverse (dropping directions the data do not inform), which this crate does not.
fn symmetric_inverse(m: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    let eigen = SymmetricEigen::new(m.clone());
    let largest = eigen
        .eigenvalues
        .iter()
        .fold(0.0_f64, |a, v| a.max(v.abs()));
    let smallest = eigen
        .eigenvalues
        .iter()
        .fold(f64::INFINITY, |a, v| a.min(v.abs()));
    let finite = eigen.eigenvalues.iter().all(|v| v.is_finite());
    if !finite || smallest <= f64::EPSILON.sqrt() * largest {
        return Err(Error::Numerical {
            what: "the information of the variance parameters (Kenward-Roger)".into(),
            message: format!(
                "it is singular (eigenvalues from {smallest:e} to {largest:e}): the variance \
                 parameters are not all identified"
            ),
        });
    }
    let inverse_values = eigen.eigenvalues.map(|v| 1.0 / v);
    Ok(&eigen.eigenvectors
        * DMatrix::from_diagonal(&inverse_values)
        * eigen.eigenvectors.transpose())
}

/// The Kenward-Roger F test of `H0: L beta = 0` (pbkrtest's `KRmodcomp(fit, L)`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KenwardRogerTest {
    /// `F = lambda W / q`, W the Wald statistic with the adjusted covariance `Phi_A`.
    pub statistic: f64,
    /// Numerator df q, the rows of L.
    pub ndf: usize,
    /// Denominator df m.
    pub ddf: f64,
    /// The scale lambda of the F statistic.
    pub scale: f64,
    /// `P(F(q, m) >= F)`.
    pub p_value: f64,
    /// `W / q` without the scale (pbkrtest's `FtestU`), on the same (q, m) df.
    pub statistic_unscaled: f64,
    /// `P(F(q, m) >= W / q)`.
    pub p_value_unscaled: f64,
}

impl KenwardRoger {
    /// The F test of `L beta = 0` at the estimate `beta`.
    pub fn test(&self, l: &DMatrix<f64>, beta: &[f64]) -> Result<KenwardRogerTest> {
        let DdfScale { ddf, scale } = self.ddf_scale(l)?;
        let lb = l * nalgebra::DVector::from_column_slice(beta);
        let inner = spd_inverse(
            &(l * &self.adjusted * l.transpose()),
            "L Phi_A L' of the Kenward-Roger test",
        )?;
        let q = l.nrows();
        let statistic_unscaled = (lb.transpose() * inner * &lb)[(0, 0)] / q as f64;
        let statistic = scale * statistic_unscaled;
        Ok(KenwardRogerTest {
            statistic,
            ndf: q,
            ddf,
            scale,
            p_value: f_upper(statistic, q as f64, ddf),
            statistic_unscaled,
            p_value_unscaled: f_upper(statistic_unscaled, q as f64, ddf),
        })
    }
}
