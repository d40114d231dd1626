//! How the covariance parameters theta fill the relative covariance factor Lambda of one group's
//! random-effect vector (random effects `Lambda b`, `b ~ N(0, I)`).
//!
//! - One grouping factor with q correlated terms, `(1 + x | g)`: Lambda is a general lower-
//!   triangular q x q matrix and theta its entries column by column (lme4's theta).
//! - Two nested factors, `(1 | g) + (1 | g:h)`: each outer group's vector is
//!   `(u, v_1, ..., v_K)` with one `v` per inner level present in the group, and
//!   `Lambda = diag(theta_g, theta_gh, ..., theta_gh)`: independent intercepts with the two SDs.
//!
//! - Any other set of terms ([`ThetaStructure::blocks`]): Lambda block diagonal, per level of
//!   each term a copy of the term's lower-triangular factor.
//!
//! Each theta is a list of the Lambda entries it sets, so that derivatives over theta are sums
//! over those entries.

use nalgebra::DMatrix;

/// The map theta -> Lambda.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ThetaStructure {
    /// Dimension of a group's random-effect vector.
    pub q: usize,
    /// For each theta, the (row, column) entries of Lambda equal to it.
    pub entries: Vec<Vec<(usize, usize)>>,
    /// Whether a row of Z (and of `Z Lambda`) has few nonzeros among many positions (the general
    /// structure of several terms), so that the likelihood is the sparse one.
    pub sparse_rows: bool,
}

impl ThetaStructure {
    /// A general lower-triangular factor for q correlated terms of one grouping factor.
    pub fn correlated(q: usize) -> Self {
        let entries = (0..q)
            .flat_map(|c| (c..q).map(move |r| vec![(r, c)]))
            .collect();
        ThetaStructure {
            q,
            entries,
            sparse_rows: false,
        }
    }

    /// Nested intercepts: an outer intercept and up to `inner` inner intercepts per group.
    pub fn nested(inner: usize) -> Self {
        ThetaStructure {
            q: 1 + inner,
            entries: vec![vec![(0, 0)], (1..=inner).map(|k| (k, k)).collect()],
            sparse_rows: false,
        }
    }

    /// Independent terms, each `(offset, q_t, levels)`: per level of the term a copy of a
    /// lower-triangular q_t x q_t factor at `offset + level * q_t` (the general structure); the
    /// terms' thetas in order, each factor column by column.
    pub fn blocks(terms: &[(usize, usize, usize)]) -> Self {
        let mut entries = Vec::new();
        let mut q = 0;
        for &(offset, qt, levels) in terms {
            for c in 0..qt {
                for r in c..qt {
                    entries.push(
                        (0..levels)
                            .map(|l| (offset + l * qt + r, offset + l * qt + c))
                            .collect(),
                    );
                }
            }
            q = q.max(offset + qt * levels);
        }
        ThetaStructure {
            q,
            entries,
            sparse_rows: true,
        }
    }

    /// Number of theta parameters.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether theta `t` scales only diagonal entries (a standard deviation that may be 0).
    pub fn is_sd(&self, t: usize) -> bool {
        self.entries[t].iter().all(|(r, c)| r == c)
    }

    /// Lambda at `theta`.
    pub fn lambda(&self, theta: &[f64]) -> DMatrix<f64> {
        let mut l = DMatrix::zeros(self.q, self.q);
        for (value, entries) in theta.iter().zip(&self.entries) {
            for &(r, c) in entries {
                l[(r, c)] = *value;
            }
        }
        l
    }

    /// lme4's starting theta: 1 on the diagonal, 0 elsewhere.
    pub fn start(&self) -> Vec<f64> {
        (0..self.len())
            .map(|t| if self.is_sd(t) { 1.0 } else { 0.0 })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_repeat_each_terms_factor_over_its_levels() {
        // (1 + x | g) with 2 levels, then (1 | h) with 3 levels: b = (g1: 0 1, g2: 2 3, h: 4 5 6).
        let s = ThetaStructure::blocks(&[(0, 2, 2), (4, 1, 3)]);
        assert_eq!(s.q, 7);
        assert_eq!(s.len(), 4);
        assert!(s.sparse_rows);
        assert_eq!(s.start(), [1.0, 0.0, 1.0, 1.0]);
        let lam = s.lambda(&[2.0, 0.5, 3.0, 4.0]);
        for level in 0..2 {
            let o = 2 * level;
            assert_eq!(
                (
                    lam[(o, o)],
                    lam[(o + 1, o)],
                    lam[(o + 1, o + 1)],
                    lam[(o, o + 1)]
                ),
                (2.0, 0.5, 3.0, 0.0)
            );
        }
        assert_eq!((4..7).map(|k| lam[(k, k)]).collect::<Vec<_>>(), [4.0; 3]);
        assert_eq!(lam.iter().filter(|v| **v != 0.0).count(), 2 * 3 + 3);
        assert!(!s.is_sd(1) && s.is_sd(0) && s.is_sd(3));
    }
}
