//! Gauss-Hermite rules for the standard normal density.
//!
//! A rule of n nodes `z_k` and weights `w_k` (summing to 1) integrates `E[f(Z)]`, Z ~ N(0, 1),
//! exactly for polynomials f of degree up to 2n - 1. Nodes and weights come from the
//! Golub-Welsch method: the nodes are the eigenvalues of the symmetric tridiagonal Jacobi matrix
//! of the probabilists' Hermite polynomials (zero diagonal, off-diagonal `sqrt(k)`, k = 1..n-1).
//! Each node is then polished by Newton's method on the orthonormal Hermite polynomial
//! `h_n` (`h_{k+1} = (z h_k - sqrt(k) h_{k-1}) / sqrt(k + 1)`, `h_n' = sqrt(n) h_{n-1}`), and the
//! weights come from `w_k = 1 / (n h_{n-1}(z_k)^2)`, which is accurate also for the tiny weights
//! of the outermost nodes.

use nalgebra::{DMatrix, SymmetricEigen};

use crate::core::error::{Error, Result};

/// Most nodes a rule may have.
pub const MAX_QUADRATURE_NODES: usize = 25;

/// A Gauss-Hermite rule for the standard normal density, nodes in increasing order.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussHermite {
    /// Nodes `z_k`.
    pub nodes: Vec<f64>,
    /// Weights `w_k`, summing to 1.
    pub weights: Vec<f64>,
    /// Their logarithms `log w_k`.
    pub log_weights: Vec<f64>,
}

impl GaussHermite {
    /// The rule with `n` nodes (1 to [`MAX_QUADRATURE_NODES`]). One node is the Laplace approximation.
    pub fn new(n: usize) -> Result<GaussHermite> {
        if !(1..=MAX_QUADRATURE_NODES).contains(&n) {
            return Err(Error::invalid(
                "nagq",
                format!(
                    "the number of quadrature nodes must be 1 to {MAX_QUADRATURE_NODES}, got {n}"
                ),
            ));
        }
        let jacobi = DMatrix::from_fn(n, n, |i, j| {
            if i + 1 == j || j + 1 == i {
                (i.max(j) as f64).sqrt()
            } else {
                0.0
            }
        });
        let eig = SymmetricEigen::new(jacobi);
        let mut nodes: Vec<f64> = eig.eigenvalues.iter().copied().collect();
        nodes.sort_by(f64::total_cmp);
        let mut weights = Vec::with_capacity(n);
        for z in &mut nodes {
            for _ in 0..3 {
                let (h_n, h_prev) = orthonormal_hermite(n, *z);
                *z -= h_n / ((n as f64).sqrt() * h_prev);
            }
            let (_, h_prev) = orthonormal_hermite(n, *z);
            weights.push(1.0 / (n as f64 * h_prev * h_prev));
        }
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        let log_weights = weights.iter().map(|w| w.ln()).collect();
        Ok(GaussHermite {
            nodes,
            weights,
            log_weights,
        })
    }
}

/// `(h_n(z), h_{n-1}(z))` for the orthonormal probabilists' Hermite polynomials.
fn orthonormal_hermite(n: usize, z: f64) -> (f64, f64) {
    let (mut prev, mut cur) = (0.0, 1.0);
    for k in 0..n {
        let next = (z * cur - (k as f64).sqrt() * prev) / ((k + 1) as f64).sqrt();
        prev = cur;
        cur = next;
    }
    (cur, prev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_normal_moments() {
        for n in [1, 2, 5, 10, 25] {
            let rule = GaussHermite::new(n).unwrap();
            // E[Z^(2m)] = (2m - 1)!!
            let mut double_factorial = 1.0;
            for m in 0..n {
                let moment: f64 = rule
                    .nodes
                    .iter()
                    .zip(&rule.weights)
                    .map(|(z, w)| w * z.powi(2 * m as i32))
                    .sum();
                assert!(
                    (moment - double_factorial).abs() < 1e-9 * double_factorial,
                    "n={n} m={m}"
                );
                double_factorial *= (2 * m + 1) as f64;
            }
        }
        assert!(GaussHermite::new(0).is_err() && GaussHermite::new(26).is_err());
    }
}
