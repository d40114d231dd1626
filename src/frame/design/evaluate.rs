//! The values of a formula's expressions on a cohort's rows, as R evaluates them in a model
//! frame: columns, numbers, `I()`, arithmetic (`+ - * / ^`, unary minus), comparisons and
//! logical operators (`> >= < <= == != & | !`, giving logical 0/1), `log`, `exp`, `sqrt`,
//! `scale` and `poly`.
//!
//! `scale(x)` and `poly(x, k)` depend on the data: R's `model.frame` evaluates them on every row
//! of the data, before rows with a missing value are dropped, so their constants (scale's mean
//! and SD, poly's coefficients) come from every row of the fitted cohort where `x` is known.
//! A counterfactual cohort (the treatment set to 0 or 1) is evaluated with the constants of the
//! cohort the model was fitted to, as R's `predict` does through `makepredictcall`.
//!
//! A value that R would give as `NaN` or `Inf` (the log of a non-positive number, the square
//! root of a negative one, a division by zero, an overflow) is an error naming the expression
//! and the data row; missing inputs stay missing.

use crate::core::error::{Error, Result};
use crate::data::{Cohort, Column};
use crate::frame::design::orthogonal_poly::OrthogonalPoly;
use crate::frame::formula::{BinaryOp, Expr};

/// The values of an expression on some rows.
pub(crate) enum Values {
    /// One numeric column.
    Numeric(Vec<f64>),
    /// One logical column, 1 for TRUE and 0 for FALSE: in a design, a factor with the levels
    /// `FALSE` and `TRUE`.
    Logical(Vec<f64>),
    /// Several columns (`poly(x, k)`: degree 1 to k), named by the term and 1, 2, ...
    Basis(Vec<Vec<f64>>),
}

/// Evaluates expressions on the rows of `cohort`, with the data-dependent constants of `fitted`.
pub(crate) struct Evaluator<'a> {
    cohort: &'a Cohort,
    fitted: &'a Cohort,
}

impl<'a> Evaluator<'a> {
    /// Values from `cohort`; `scale()` and `poly()` constants from every row of `fitted` (the
    /// cohort the model is fitted to; `cohort` itself, or the original of a counterfactual one).
    pub fn new(cohort: &'a Cohort, fitted: &'a Cohort) -> Self {
        Evaluator { cohort, fitted }
    }

    /// The values of `e` on `rows` as one number per row (a logical as 0/1).
    pub fn numeric(&self, e: &Expr, rows: &[usize]) -> Result<Vec<f64>> {
        match self.values(e, rows)? {
            Values::Numeric(v) | Values::Logical(v) => Ok(v),
            Values::Basis(_) => Err(Error::invalid(
                &e.to_string(),
                "gives several columns, but one number per row is needed here",
            )),
        }
    }

    /// The values of `e` on `rows`.
    pub fn values(&self, e: &Expr, rows: &[usize]) -> Result<Values> {
        let name = || e.to_string();
        Ok(match e {
            Expr::Column(c) => {
                match self.cohort.column(c)? {
                    Column::Numeric(v) => Values::Numeric(rows.iter().map(|&i| v[i]).collect()),
                    Column::Categorical { .. } => return Err(Error::invalid(
                        c,
                        "is a text column, but a number is needed here (use it as a factor term \
                         instead)",
                    )),
                }
            }
            Expr::Factor(c) => {
                return Err(Error::invalid(
                    c,
                    "factor() cannot be used as a number here",
                ))
            }
            Expr::Number(x) => Values::Numeric(vec![x.value(); rows.len()]),
            Expr::AsIs(inner) | Expr::Paren(inner) => self.values(inner, rows)?,
            Expr::Log(inner) => Values::Numeric(self.map(e, inner, rows, |x| {
                (x > 0.0).then(|| x.ln()).ok_or("values must be positive")
            })?),
            Expr::Sqrt(inner) => Values::Numeric(self.map(e, inner, rows, |x| {
                (x >= 0.0)
                    .then(|| x.sqrt())
                    .ok_or("values must be at least 0")
            })?),
            Expr::Exp(inner) => Values::Numeric(self.map(e, inner, rows, |x| {
                Some(x.exp())
                    .filter(|y| y.is_finite())
                    .ok_or("the result is too large")
            })?),
            Expr::Negate(inner) => Values::Numeric(self.map(e, inner, rows, |x| Ok(-x))?),
            Expr::Not(inner) => {
                Values::Logical(self.map(e, inner, rows, |x| Ok(f64::from(u8::from(x == 0.0))))?)
            }
            Expr::Binary(op, a, b) => {
                let (a, b) = (self.numeric(a, rows)?, self.numeric(b, rows)?);
                let mut out = Vec::with_capacity(rows.len());
                for (k, (&x, &y)) in a.iter().zip(&b).enumerate() {
                    let v = binary(*op, x, y);
                    if !v.is_finite() && x.is_finite() && y.is_finite() {
                        return Err(Error::invalid(
                            &name(),
                            format!("{x} and {y} give {v} at data row {}", rows[k] + 1),
                        ));
                    }
                    out.push(if x.is_nan() || y.is_nan() {
                        f64::NAN
                    } else {
                        v
                    });
                }
                if op.is_logical() {
                    Values::Logical(out)
                } else {
                    Values::Numeric(out)
                }
            }
            Expr::Scale(inner) => {
                let known = self.known_in_fitted(inner)?;
                if known.len() < 2 {
                    return Err(Error::invalid(
                        &name(),
                        format!("needs at least 2 known values, found {}", known.len()),
                    ));
                }
                let n = known.len() as f64;
                let mean = known.iter().sum::<f64>() / n;
                let sd = (known.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
                if sd == 0.0 {
                    return Err(Error::ConstantTerm {
                        term: name(),
                        value: format!("{mean} (scale() divides by its SD, 0)"),
                    });
                }
                let x = self.numeric(inner, rows)?;
                Values::Numeric(x.into_iter().map(|v| (v - mean) / sd).collect())
            }
            Expr::Poly(inner, degree) => {
                let poly = OrthogonalPoly::fit(&self.known_in_fitted(inner)?, *degree, &name())?;
                Values::Basis(poly.evaluate(&self.numeric(inner, rows)?))
            }
        })
    }

    /// `f` of the values of `inner` (the argument of the call `e`) on `rows`; a missing value
    /// stays missing, and a value outside `f`'s domain (its `Err`, the rule) is an error naming
    /// `e`, the value and the data row.
    fn map(
        &self,
        e: &Expr,
        inner: &Expr,
        rows: &[usize],
        f: impl Fn(f64) -> std::result::Result<f64, &'static str>,
    ) -> Result<Vec<f64>> {
        let x = self.numeric(inner, rows)?;
        let function = e.to_string();
        let function = function.split('(').next().unwrap_or_default();
        x.iter()
            .enumerate()
            .map(|(k, &v)| {
                if v.is_nan() {
                    return Ok(f64::NAN);
                }
                f(v).map_err(|rule| {
                    Error::invalid(
                        &e.to_string(),
                        format!("{function} of {v} at data row {}: {rule}", rows[k] + 1),
                    )
                })
            })
            .collect()
    }

    /// The known (not missing) values of `e` over every row of the fitted cohort, where R
    /// computes `scale()` and `poly()`.
    fn known_in_fitted(&self, e: &Expr) -> Result<Vec<f64>> {
        let all: Vec<usize> = (0..self.fitted.n_rows()).collect();
        let values = Evaluator::new(self.fitted, self.fitted).numeric(e, &all)?;
        Ok(values.into_iter().filter(|v| !v.is_nan()).collect())
    }
}

/// `x op y` in R's meaning; comparisons and logical operators give 1 (TRUE) or 0 (FALSE), and
/// a number is TRUE when it is not 0.
fn binary(op: BinaryOp, x: f64, y: f64) -> f64 {
    let truth = |b: bool| f64::from(u8::from(b));
    match op {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div => x / y,
        BinaryOp::Pow => x.powf(y),
        BinaryOp::Gt => truth(x > y),
        BinaryOp::Ge => truth(x >= y),
        BinaryOp::Lt => truth(x < y),
        BinaryOp::Le => truth(x <= y),
        BinaryOp::Eq => truth(x == y),
        BinaryOp::Ne => truth(x != y),
        BinaryOp::And => truth(x != 0.0 && y != 0.0),
        BinaryOp::Or => truth(x != 0.0 || y != 0.0),
    }
}
