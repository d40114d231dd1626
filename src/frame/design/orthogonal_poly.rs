//! R's orthogonal polynomials `poly(x, degree)`: the coefficients from the data, and the
//! polynomials at any values (R's `predict` of a `poly()` term).
//!
//! With `xc = x - mean(x)` and the QR decomposition `Q R` of the Vandermonde matrix
//! `[1, xc, xc^2, ..., xc^degree]`, `Z_j = Q_j R_jj` is `xc^j` minus its projection on the lower
//! powers: the monic orthogonal polynomial of degree j at the data. R keeps
//! `norm2 = (1, |Z_0|^2, ..., |Z_degree|^2)` and `alpha_j = sum(x Z_j^2) / |Z_j|^2` for
//! j < degree, from which the three-term recurrence
//! `P_0 = 1`, `P_1 = x - alpha_0`,
//! `P_{j+1} = (x - alpha_j) P_j - (norm2_{j+1} / norm2_j) P_{j-1}`
//! gives the polynomials at any x; column j of `poly()` is `P_j / sqrt(norm2_{j+1})`, for
//! j = 1..=degree. At the data the recurrence reproduces the QR's columns.

use nalgebra::DMatrix;

use crate::core::error::{Error, Result};

/// The coefficients of `poly(x, degree)` (R's `attr(, "coefs")`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrthogonalPoly {
    /// `alpha_0 .. alpha_{degree-1}`.
    alpha: Vec<f64>,
    /// `1, |Z_0|^2, .., |Z_degree|^2`.
    norm2: Vec<f64>,
}

impl OrthogonalPoly {
    /// The coefficients of the polynomials of degree 1 to `degree` orthogonal over the values
    /// `x` (all finite). `term` names the term in the error when `x` has `degree` or fewer
    /// distinct values (R: "'degree' must be less than number of unique points").
    pub fn fit(x: &[f64], degree: usize, term: &str) -> Result<OrthogonalPoly> {
        let mut distinct: Vec<f64> = x.to_vec();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        if distinct.len() <= degree {
            return Err(Error::invalid(
                term,
                format!(
                    "the degree ({degree}) must be less than the number of distinct values ({})",
                    distinct.len()
                ),
            ));
        }
        let n = x.len();
        let mean = x.iter().sum::<f64>() / n as f64;
        let vandermonde = DMatrix::from_fn(n, degree + 1, |i, j| (x[i] - mean).powi(j as i32));
        let qr = vandermonde.qr();
        let (q, r) = (qr.q(), qr.r());
        let mut alpha = Vec::with_capacity(degree);
        let mut norm2 = vec![1.0];
        for j in 0..=degree {
            let z = q.column(j) * r[(j, j)];
            let squared: f64 = z.iter().map(|v| v * v).sum();
            if j < degree {
                let weighted: f64 = z.iter().zip(x).map(|(v, xi)| (xi - mean) * v * v).sum();
                alpha.push(weighted / squared + mean);
            }
            norm2.push(squared);
        }
        Ok(OrthogonalPoly { alpha, norm2 })
    }

    /// The columns `poly(x, degree)1 .. poly(x, degree)degree` at the values `x`.
    pub fn evaluate(&self, x: &[f64]) -> Vec<Vec<f64>> {
        let degree = self.alpha.len();
        let mut columns: Vec<Vec<f64>> = Vec::with_capacity(degree + 1);
        columns.push(vec![1.0; x.len()]);
        columns.push(x.iter().map(|xi| xi - self.alpha[0]).collect());
        for j in 1..degree {
            let ratio = self.norm2[j + 1] / self.norm2[j];
            let next = x
                .iter()
                .enumerate()
                .map(|(i, xi)| (xi - self.alpha[j]) * columns[j][i] - ratio * columns[j - 1][i])
                .collect();
            columns.push(next);
        }
        columns
            .into_iter()
            .enumerate()
            .skip(1)
            .map(|(j, c)| {
                let s = self.norm2[j + 1].sqrt();
                c.into_iter().map(|v| v / s).collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_orthonormal_and_orthogonal_to_the_constant() {
        let x: Vec<f64> = [1.0, 2.0, 4.0, 4.5, 7.0, 8.0, 10.0].to_vec();
        let p = OrthogonalPoly::fit(&x, 3, "poly(x, 3)").unwrap();
        let z = p.evaluate(&x);
        for (a, za) in z.iter().enumerate() {
            assert!(za.iter().sum::<f64>().abs() < 1e-12);
            for zb in &z[a..] {
                let dot: f64 = za.iter().zip(zb).map(|(u, v)| u * v).sum();
                let want = if std::ptr::eq(za, zb) { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-12, "{dot}");
            }
        }
        // Degree 1 is the centred x over its norm.
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        let norm = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>().sqrt();
        assert!((z[0][0] - (x[0] - mean) / norm).abs() < 1e-12);
    }

    #[test]
    fn too_few_distinct_values_is_an_error() {
        let e = OrthogonalPoly::fit(&[1.0, 2.0, 2.0, 1.0], 2, "poly(x, 2)").unwrap_err();
        assert!(e.to_string().contains("'poly(x, 2)'"), "{e}");
        assert!(e.to_string().contains("distinct values (2)"), "{e}");
    }
}
