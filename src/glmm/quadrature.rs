//! Gauss-Hermite rules for the standard normal density.
//!
//! A rule of n nodes `z_k` and weights `w_k` (summing to 1) integrates `E[f(Z)]`, Z ~ N(0, 1),
//! exactly for polynomials f of degree up to 2n - 1. Nodes and weights come from the
//! Golub-Welsch method: the nodes are the eigenvalues of the symmetric tridiagonal Jacobi matrix
//! of the probabilists' Hermite polynomials (zero diagonal, off-diagonal `sqrt(k)`, k = 1..n-1),
//! and each weight is the squared first component of the unit eigenvector.

use nalgebra::{DMatrix, SymmetricEigen};

use crate::error::{Error, Result};

/// Most nodes a rule may have.
pub const MAX_NODES: usize = 25;

/// A Gauss-Hermite rule for the standard normal density, nodes in increasing order.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussHermite {
    /// Nodes `z_k`.
    pub nodes: Vec<f64>,
    /// Weights `w_k`, summing to 1.
    pub weights: Vec<f64>,
}

impl GaussHermite {
    /// The rule with `n` nodes (1 to [`MAX_NODES`]). One node is the Laplace approximation.
    pub fn new(n: usize) -> Result<GaussHermite> {
        if !(1..=MAX_NODES).contains(&n) {
            return Err(Error::invalid(
                "nagq",
                format!("the number of quadrature nodes must be 1 to {MAX_NODES}, got {n}"),
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
        let mut pairs: Vec<(f64, f64)> = (0..n)
            .map(|k| (eig.eigenvalues[k], eig.eigenvectors[(0, k)].powi(2)))
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = pairs.iter().map(|p| p.1).sum();
        Ok(GaussHermite {
            nodes: pairs.iter().map(|p| p.0).collect(),
            weights: pairs.iter().map(|p| p.1 / total).collect(),
        })
    }
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
