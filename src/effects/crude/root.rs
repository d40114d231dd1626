//! Root of an increasing function of a log odds ratio, by bracketing and Brent's method.

use argmin::core::{CostFunction, Executor, State, TerminationReason, TerminationStatus};
use argmin::solver::brent::BrentRoot;

use crate::core::error::{Error, Result};

/// Absolute tolerance of the root on the log odds-ratio scale, i.e. a relative tolerance of
/// about `1e-12` on the odds ratio. (R's `fisher.test` uses `uniroot`'s default,
/// `.Machine$double.eps^0.25` ≈ 1.2e-4, absolute on the odds ratio or its inverse.)
pub(crate) const LOG_TOLERANCE: f64 = 1e-12;

/// The bracket grows from `[0, ±1]` by doubling, up to `±2^MAX_DOUBLINGS`. A log odds ratio
/// beyond a few hundred already puts all conditional mass on one end of the support.
const MAX_DOUBLINGS: u32 = 16;

/// Iterations allowed to Brent's method inside a bracket.
const MAX_ITERATIONS: u64 = 500;

/// A function of one variable, as argmin wants it.
struct Function<F>(F);

impl<F: Fn(f64) -> f64> CostFunction for Function<F> {
    type Param = f64;
    type Output = f64;

    fn cost(&self, u: &f64) -> std::result::Result<f64, argmin::core::Error> {
        Ok((self.0)(*u))
    }
}

/// The root `u` of `f(u) = 0`, `f` continuous and increasing in `u` with a sign change
/// somewhere on the real line. `what` names the quantity in error messages.
pub(crate) fn solve_increasing<F: Fn(f64) -> f64>(f: F, what: &str) -> Result<f64> {
    let (low, high) = match bracket(&f, what)? {
        Bracket::Root(u) => return Ok(u),
        Bracket::Interval(low, high) => (low, high),
    };
    let failed = |message: String| Error::Numerical {
        what: what.to_string(),
        message,
    };
    let result = Executor::new(Function(f), BrentRoot::new(low, high, LOG_TOLERANCE))
        .configure(|state| state.max_iters(MAX_ITERATIONS))
        .run()
        .map_err(|e| failed(format!("Brent's method failed: {e}")))?;
    let state = result.state();
    if state.get_termination_status()
        != &TerminationStatus::Terminated(TerminationReason::SolverConverged)
    {
        return Err(failed(format!(
            "Brent's method did not converge in {MAX_ITERATIONS} iterations"
        )));
    }
    state
        .get_best_param()
        .copied()
        .ok_or_else(|| failed("Brent's method returned no root".to_string()))
}

enum Bracket {
    /// `f` is exactly 0 here.
    Root(f64),
    /// `f` changes sign between the two points.
    Interval(f64, f64),
}

/// Walks outwards from 0 in the direction in which the increasing `f` moves toward 0, doubling
/// the step, until `f` changes sign.
fn bracket<F: Fn(f64) -> f64>(f: &F, what: &str) -> Result<Bracket> {
    let f0 = f(0.0);
    if f0 == 0.0 {
        return Ok(Bracket::Root(0.0));
    }
    let direction = if f0 < 0.0 { 1.0 } else { -1.0 };
    let mut inner = 0.0;
    for k in 0..=MAX_DOUBLINGS {
        let outer = direction * f64::from(2_u32.pow(k));
        let fo = f(outer);
        if fo == 0.0 {
            return Ok(Bracket::Root(outer));
        }
        if (fo > 0.0) != (f0 > 0.0) {
            return Ok(Bracket::Interval(
                f64::min(inner, outer),
                f64::max(inner, outer),
            ));
        }
        inner = outer;
    }
    Err(Error::Numerical {
        what: what.to_string(),
        message: format!(
            "no sign change for log odds ratios up to ±{}",
            2_u32.pow(MAX_DOUBLINGS)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_roots_either_side_of_zero() {
        let up = solve_increasing(|u| u - 3.7, "test").unwrap();
        assert!((up - 3.7).abs() < 1e-11);
        let down = solve_increasing(|u: f64| u.exp() - 1e-30, "test").unwrap();
        assert!((down - (1e-30_f64).ln()).abs() < 1e-10);
        assert_eq!(solve_increasing(|u| u, "test").unwrap(), 0.0);
        assert_eq!(solve_increasing(|u| u - 4.0, "test").unwrap(), 4.0);
    }

    #[test]
    fn reports_a_missing_sign_change() {
        let e = solve_increasing(|u: f64| 1.0 + u.exp(), "the thing").unwrap_err();
        assert!(
            e.to_string().contains("numerical failure in the thing"),
            "{e}"
        );
    }
}
