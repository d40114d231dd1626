//! Derivatives of smooth functions by Richardson-extrapolated central differences (as R's
//! `numDeriv` does): with `D(h) = (f(x + h) - f(x - h)) / 2h` at steps `h, h/2, h/4`, the
//! extrapolation `(64 D(h/4) - 20 D(h/2) + D(h)) / 45` removes the `h^2` and `h^4` error terms.
//! Steps are relative: `h = step * max(|x|, 1e-2)`.

use crate::core::error::Result;

/// Relative first step.
const STEP: f64 = 1e-2;

/// The Richardson-extrapolated central difference of `f` at `x` along coordinate `k`.
fn partial(f: &mut impl FnMut(&[f64]) -> Result<f64>, x: &[f64], k: usize) -> Result<f64> {
    let h0 = STEP * x[k].abs().max(1e-2);
    let mut d = [0.0; 3];
    let mut point = x.to_vec();
    for (level, dk) in d.iter_mut().enumerate() {
        let h = h0 / f64::from(1u32 << level);
        point[k] = x[k] + h;
        let up = f(&point)?;
        point[k] = x[k] - h;
        let down = f(&point)?;
        *dk = (up - down) / (2.0 * h);
    }
    Ok((64.0 * d[2] - 20.0 * d[1] + d[0]) / 45.0)
}

/// The gradient of `f` at `x`.
pub(crate) fn gradient(mut f: impl FnMut(&[f64]) -> Result<f64>, x: &[f64]) -> Result<Vec<f64>> {
    (0..x.len()).map(|k| partial(&mut f, x, k)).collect()
}

/// The Jacobian of the vector function `f` at `x` (column k the Richardson-extrapolated central
/// difference along coordinate k): with `f` a gradient, a Hessian from `6 n` gradients.
pub(crate) fn jacobian(
    mut f: impl FnMut(&[f64]) -> Result<Vec<f64>>,
    x: &[f64],
) -> Result<nalgebra::DMatrix<f64>> {
    let n = x.len();
    let mut point = x.to_vec();
    let mut columns = Vec::with_capacity(n);
    for k in 0..n {
        let h0 = STEP * x[k].abs().max(1e-2);
        let mut d: Vec<Vec<f64>> = Vec::with_capacity(3);
        for level in 0..3 {
            let h = h0 / f64::from(1u32 << level);
            point[k] = x[k] + h;
            let up = f(&point)?;
            point[k] = x[k] - h;
            let down = f(&point)?;
            d.push(
                up.iter()
                    .zip(&down)
                    .map(|(u, w)| (u - w) / (2.0 * h))
                    .collect(),
            );
        }
        point[k] = x[k];
        columns.push(nalgebra::DVector::from_iterator(
            d[0].len(),
            (0..d[0].len()).map(|i| (64.0 * d[2][i] - 20.0 * d[1][i] + d[0][i]) / 45.0),
        ));
    }
    Ok(nalgebra::DMatrix::from_columns(&columns))
}

/// The Hessian of `f` at `x`: each row the gradient of one partial derivative, symmetrised.
pub(crate) fn hessian(
    mut f: impl FnMut(&[f64]) -> Result<f64>,
    x: &[f64],
) -> Result<nalgebra::DMatrix<f64>> {
    let n = x.len();
    let mut h = nalgebra::DMatrix::zeros(n, n);
    for i in 0..n {
        for j in 0..n {
            let mut fi = |y: &[f64]| partial(&mut f, y, i);
            h[(i, j)] = partial(&mut fi, x, j)?;
        }
    }
    Ok((&h + h.transpose()) * 0.5)
}

/// Test support: that `expected` is the Jacobian of `f` at `x` (a Hessian, with `f` a
/// gradient), entry by entry within `tolerance (1 + |d|)` of the central difference d with step
/// 1e-5.
#[cfg(test)]
pub(crate) fn assert_jacobian(
    mut f: impl FnMut(&[f64]) -> Vec<f64>,
    x: &[f64],
    expected: &nalgebra::DMatrix<f64>,
    tolerance: f64,
    what: &str,
) {
    let h = 1e-5;
    for k in 0..x.len() {
        let mut moved = x.to_vec();
        moved[k] += h;
        let up = f(&moved);
        moved[k] -= 2.0 * h;
        let down = f(&moved);
        for r in 0..up.len() {
            let d = (up[r] - down[r]) / (2.0 * h);
            assert!(
                (expected[(r, k)] - d).abs() < tolerance * (1.0 + d.abs()),
                "{what} [{r}, {k}] = {} vs {d}",
                expected[(r, k)]
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_of_a_known_function() {
        // f = exp(a) sin(b) + a^2 b^3
        let f = |x: &[f64]| Ok(x[0].exp() * x[1].sin() + x[0] * x[0] * x[1].powi(3));
        let x = [0.7, 1.3];
        let g = gradient(f, &x).unwrap();
        let (a, b) = (x[0], x[1]);
        let want = [
            a.exp() * b.sin() + 2.0 * a * b.powi(3),
            a.exp() * b.cos() + 3.0 * a * a * b * b,
        ];
        for k in 0..2 {
            assert!((g[k] - want[k]).abs() < 1e-11, "{} vs {}", g[k], want[k]);
        }
        let h = hessian(f, &x).unwrap();
        let hab = a.exp() * b.cos() + 6.0 * a * b * b;
        let hbb = -a.exp() * b.sin() + 6.0 * a * a * b;
        assert!((h[(0, 1)] - hab).abs() < 1e-8 && (h[(1, 1)] - hbb).abs() < 1e-8);
    }
}
