//! Linear combinations of a fit's coefficients and Wald tests of linear hypotheses about them,
//! from the fit's parameters and their variance matrix ([`Parameters`]).
//!
//! A combination `a' beta` has the variance `a' V a`; a hypothesis `C beta = 0` (C with q rows)
//! has the Wald statistic `X^2 = (C beta)' (C V C')^{-1} (C beta)` on q degrees of freedom,
//! against chi-square. Selecting coefficients (C of unit rows) tests that they are all 0.

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use crate::core::dist::chisq_upper;
use crate::core::error::Result;
use crate::core::linalg::spd_inverse;
use crate::models::fitted::Parameters;

/// A Wald test of a linear hypothesis about the coefficients: that the coefficients `terms` are
/// all 0 (the test of interaction of subgroup effects), or that they are all equal (the test of a
/// constant effect over exposure time).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaldTest {
    /// The coefficients tested.
    pub terms: Vec<String>,
    /// `(C beta)' (C V C')^{-1} (C beta)`; for coefficients tested at 0, `beta_I' V_II^{-1}
    /// beta_I`.
    pub statistic: f64,
    /// Degrees of freedom: the rows of C.
    pub df: usize,
    /// Upper tail of chi-square on `df`.
    pub p_value: f64,
}

/// `a' beta` and its variance `a' V a` (`a` weighs the first `a.len()` parameters: the fixed
/// effects).
pub(crate) fn combination(params: &Parameters, a: &[f64]) -> (f64, f64) {
    let estimate = a.iter().zip(&params.psi).map(|(a, b)| a * b).sum();
    let mut variance = 0.0;
    for (i, ai) in a.iter().enumerate().filter(|(_, w)| **w != 0.0) {
        for (j, aj) in a.iter().enumerate().filter(|(_, w)| **w != 0.0) {
            variance += ai * params.vcov[(i, j)] * aj;
        }
    }
    (estimate, variance)
}

/// The Wald test of `C beta = 0`, C given by its rows (each one weight per fixed effect);
/// `terms` names what is tested, `what` the matrix `C V C'` in an error.
pub(crate) fn wald_test(
    params: &Parameters,
    rows: &[Vec<f64>],
    terms: Vec<String>,
    what: &str,
) -> Result<WaldTest> {
    let q = rows.len();
    let p = rows.first().map_or(0, Vec::len);
    let c = DMatrix::from_fn(q, p, |r, j| rows[r][j]);
    let beta = DVector::from_iterator(p, params.psi.iter().take(p).copied());
    let v = params.vcov.view((0, 0), (p, p));
    let middle = &c * v * c.transpose();
    let inverse = spd_inverse(&middle, what)?;
    let cb = &c * beta;
    let statistic = (cb.transpose() * inverse * &cb)[(0, 0)];
    Ok(WaldTest {
        terms,
        statistic,
        df: q,
        p_value: chisq_upper(statistic, q as f64),
    })
}
