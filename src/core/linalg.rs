//! Small dense linear-algebra kernels shared by the model fits.
//!
//! Design matrices are tall (n rows, p columns, column-major); everything that is solved is
//! p x p. The kernels here form weighted cross-products in row blocks (so each block stays in
//! cache and the product runs through nalgebra's matrix multiply), detect aliased columns, and
//! invert symmetric positive-definite matrices with a typed error instead of a silent NaN.

use nalgebra::{DMatrix, DVector};

use crate::core::error::{Error, Result};

/// Rows per block in [`weighted_gram`].
const BLOCK: usize = 2048;

/// `X' diag(w) X` for an n x p matrix `x` and weights `w >= 0`.
pub fn weighted_gram(x: &DMatrix<f64>, w: &[f64]) -> DMatrix<f64> {
    let (n, p) = x.shape();
    let data = x.as_slice();
    let root_w: Vec<f64> = w.iter().map(|v| v.sqrt()).collect();
    let mut gram = DMatrix::zeros(p, p);
    let mut scaled = DMatrix::zeros(BLOCK.min(n.max(1)), p);
    let mut start = 0;
    while start < n {
        let len = BLOCK.min(n - start);
        if scaled.nrows() != len {
            scaled = DMatrix::zeros(len, p);
        }
        let weights = &root_w[start..start + len];
        for (j, target) in scaled.as_mut_slice().chunks_exact_mut(len).enumerate() {
            let source = &data[j * n + start..j * n + start + len];
            for ((t, s), r) in target.iter_mut().zip(source).zip(weights) {
                *t = s * r;
            }
        }
        gram.gemm_tr(1.0, &scaled, &scaled, 1.0);
        start += len;
    }
    gram
}

/// `X' v` for an n x p matrix and an n-vector.
pub fn xt_vec(x: &DMatrix<f64>, v: &[f64]) -> DVector<f64> {
    DVector::from_iterator(
        x.ncols(),
        x.column_iter()
            .map(|c| c.iter().zip(v).map(|(a, b)| a * b).sum()),
    )
}

/// `X b` for an n x p matrix and a p-vector, written into `out`.
pub fn x_times(x: &DMatrix<f64>, b: &[f64], out: &mut [f64]) {
    out.iter_mut().for_each(|o| *o = 0.0);
    for (j, col) in x.column_iter().enumerate() {
        let bj = b[j];
        if bj != 0.0 {
            out.iter_mut()
                .zip(col.iter())
                .for_each(|(o, xij)| *o += xij * bj);
        }
    }
}

/// Rows above which [`aliased_columns`] looks at a systematic sample of about this many rows
/// first.
const RANK_SAMPLE_ROWS: usize = 4_000;

/// Columns of `x` that are (numerically) linear combinations of earlier columns.
///
/// Works on the equilibrated Gram matrix `D X'X D` (unit diagonal) with a sequential Cholesky
/// factorisation: column j is aliased when the squared norm of its residual after projection
/// on the kept earlier columns is below `1e-10` of its own squared norm (a relative residual
/// norm of 1e-5). As in R, it is always the later of two collinear columns that is dropped.
///
/// A tall matrix is first checked on every k-th row (about 4,000 rows): rows removed cannot
/// make a dependent column independent, so when every column of the sample keeps a relative
/// squared residual of at least 1e-6 (far above the tolerance), none is aliased. Otherwise all
/// rows decide.
pub fn aliased_columns(x: &DMatrix<f64>) -> Vec<usize> {
    let n = x.nrows();
    if n > 2 * RANK_SAMPLE_ROWS {
        let stride = n / RANK_SAMPLE_ROWS;
        let rows: Vec<usize> = (0..n).step_by(stride).collect();
        let sample = x.select_rows(&rows);
        let (aliased, smallest) =
            sequential_residuals(&weighted_gram(&sample, &vec![1.0; rows.len()]));
        if aliased.is_empty() && smallest >= 1e-6 {
            return aliased;
        }
    }
    sequential_residuals(&weighted_gram(x, &vec![1.0; n])).0
}

/// The aliased columns of a Gram matrix (see [`aliased_columns`]), and the smallest relative
/// squared residual among the columns kept.
fn sequential_residuals(gram: &DMatrix<f64>) -> (Vec<usize>, f64) {
    let p = gram.nrows();
    let scale: Vec<f64> = (0..p).map(|j| gram[(j, j)].sqrt()).collect();
    let mut kept: Vec<usize> = Vec::new();
    let mut l_rows: Vec<Vec<f64>> = Vec::new();
    let mut aliased = Vec::new();
    let mut smallest = f64::INFINITY;
    for j in 0..p {
        if scale[j] == 0.0 {
            aliased.push(j);
            continue;
        }
        // Forward substitution L r = g (the scaled cross-products with kept columns).
        let mut r = Vec::with_capacity(kept.len());
        for (a, &k) in kept.iter().enumerate() {
            let g = gram[(k, j)] / (scale[k] * scale[j]);
            let s: f64 = (0..a).map(|b| l_rows[a][b] * r[b]).sum();
            r.push((g - s) / l_rows[a][a]);
        }
        let d = 1.0 - r.iter().map(|v| v * v).sum::<f64>();
        if d < 1e-10 {
            aliased.push(j);
        } else {
            smallest = smallest.min(d);
            r.push(d.sqrt());
            l_rows.push(r);
            kept.push(j);
        }
    }
    (aliased, smallest)
}

/// Inverse of a symmetric positive-definite matrix by Cholesky; `what` names the matrix in the
/// error when it is not positive definite.
pub fn spd_inverse(a: &DMatrix<f64>, what: &str) -> Result<DMatrix<f64>> {
    let chol = a.clone().cholesky().ok_or_else(|| Error::Numerical {
        what: what.to_string(),
        message: "the matrix is not positive definite (an effect is not identified)".to_string(),
    })?;
    Ok(chol.inverse())
}

/// Solve `A x = b` for symmetric positive-definite `A`.
pub fn spd_solve(a: &DMatrix<f64>, b: &DVector<f64>, what: &str) -> Result<DVector<f64>> {
    let chol = a.clone().cholesky().ok_or_else(|| Error::Numerical {
        what: what.to_string(),
        message: "the matrix is not positive definite (an effect is not identified)".to_string(),
    })?;
    Ok(chol.solve(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gram_matches_direct_product() {
        let x = DMatrix::from_fn(5000, 3, |i, j| ((i * 7 + j * 3) % 11) as f64 - 4.0);
        let w: Vec<f64> = (0..5000).map(|i| 0.5 + (i % 3) as f64).collect();
        let direct = x.transpose() * DMatrix::from_diagonal(&DVector::from_vec(w.clone())) * &x;
        assert!((weighted_gram(&x, &w) - direct).amax() < 1e-8);
    }

    #[test]
    fn finds_later_collinear_column() {
        let x = DMatrix::from_fn(20, 4, |i, j| match j {
            0 => 1.0,
            1 => i as f64,
            2 => 2.0 * i as f64 + 3.0,
            _ => ((i * i) % 7) as f64,
        });
        assert_eq!(aliased_columns(&x), vec![2]);
    }

    #[test]
    fn tall_matrices_are_decided_by_all_rows_when_the_sample_is_not_clear() {
        let n = 100_000;
        // Column 2 repeats column 1 except in one row, which the 1-in-2 sample skips: aliased in
        // the sample, independent in the whole.
        let x = DMatrix::from_fn(n, 3, |i, j| match j {
            0 => 1.0,
            1 => (i % 13) as f64,
            _ => (i % 13) as f64 + f64::from(u8::from(i == 1)),
        });
        assert!(aliased_columns(&x.select_rows(&(0..n).step_by(2).collect::<Vec<_>>())) == vec![2]);
        assert!(aliased_columns(&x).is_empty());
        // An exact dependence is found in the sample and confirmed.
        let y = DMatrix::from_fn(n, 3, |i, j| match j {
            0 => 1.0,
            1 => (i % 13) as f64,
            _ => 2.0 - (i % 13) as f64,
        });
        assert_eq!(aliased_columns(&y), vec![2]);
    }
}
