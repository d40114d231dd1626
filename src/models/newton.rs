//! The one Newton optimiser of the models (the GLMM's likelihood and the LMM's profiled
//! criterion): maximising a smooth objective with a gradient, Newton steps with a backtracking
//! line search, and a log of every evaluation ([`OptimisationSummary`]: start, end, settings,
//! iterations, every evaluation, like MixedModels.jl's `OptSummary`). The Newton Hessian is the
//! objective's exact Hessian where it has one, else minus its cheap approximation of the whole
//! information for the steps where it has one, as long as each such step reduces the largest
//! scaled gradient entry tenfold (the Hessian reported at the maximum is differenced as below).
//! Otherwise it is the objective's cheap information block for the leading parameters (the
//! fixed effects) with the other columns (the covariance parameters) from forward differences
//! of the gradient; where the objective has no such block, all columns are differenced. The
//! step Hessian is computed only where a step is taken: not at the start or after a step when
//! the iterations stop there. At the maximum the Hessian is the objective's exact one, or its
//! final one where it has an exact Hessian too costly for the steps (`Objective::final_hessian`),
//! else it is differenced centrally in every column where that is affordable; a caller that may
//! replace the maximum (a variance refitted on its boundary) stops at the [`Ascent`] and
//! differences the Hessian of the maximum it keeps only.
//!
//! The Hessian is symmetrised `(H + H')/2`; where it is not negative definite the step uses the
//! eigen-decomposition with every eigenvalue replaced by `-max(|lambda|, 1e-8 max|lambda|)`
//! (the step is then `V diag(1 / max(|lambda|, ...)) V' g`), so each step is an ascent
//! direction. Converged when the largest scaled gradient entry `|g_k| max(1, |phi_k|)` is below
//! `gradient_tolerance`; when the Hessian is negative definite and the Newton step's predicted
//! gain `g' (-H)^{-1} g / 2` is below `gain_tolerance` (by step information: only once a step
//! with it has reduced the gradient tenfold); or when a full step changes the log-likelihood by
//! less than 1e-12 relative and moves no parameter by more than 1e-10 relative.
//!
//! A step is halved until the log-likelihood does not fall (`LineSearch::Backtracking`, every
//! fit). For a likelihood whose supremum lies at infinity (an outcome separated by the fixed
//! effects: a level or arm without events) the Newton step along the diverging direction is
//! capped by the eigenvalue floor above, so the iterations creep; `LineSearch::Extending`
//! then doubles an accepted full step while the log-likelihood keeps rising, so that the
//! iterations reach the supremum (where the fitted means of the separated observations are 0 or
//! 1 to rounding and the gradient vanishes).

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::core::error::{Error, Result};

/// One evaluation of the objective, as kept in the fit's log.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EvaluationRecord {
    /// 1-based count.
    pub evaluation: usize,
    /// Log-likelihood.
    pub loglik: f64,
    /// Largest absolute gradient entry (0 when the gradient was not computed).
    pub gradient_max: f64,
}

/// How a fit's maximisation went: where it started and ended, its settings, the Newton
/// iterations and whether it met its criterion (the evaluations themselves are the fit's `log`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OptimisationSummary {
    /// The parameters the maximisation started from.
    pub start: Vec<f64>,
    /// The parameters it ended at (before a model's sign convention or boundary step).
    pub end: Vec<f64>,
    /// Its settings.
    pub settings: Settings,
    /// Newton iterations.
    pub iterations: usize,
    /// Whether it met its convergence criterion.
    pub converged: bool,
}

/// Where the maximisation ended.
#[derive(Debug, Clone)]
pub(crate) struct Maximum {
    /// Where it started, and with which settings.
    pub start: Vec<f64>,
    pub settings: Settings,
    pub params: Vec<f64>,
    pub loglik: f64,
    pub gradient: Vec<f64>,
    /// Hessian at `params` (central differences of the gradient), over the parameters `free`.
    pub hessian: DMatrix<f64>,
    /// Indices of the parameters the Hessian covers (all, unless some were held fixed).
    pub free: Vec<usize>,
    pub iterations: usize,
    pub converged: bool,
    pub log: Vec<EvaluationRecord>,
}

/// Settings of a maximisation.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Settings {
    /// Most Newton iterations.
    pub max_iterations: usize,
    /// Converged when the largest scaled gradient entry `|g_k| max(1, |phi_k|)` is below this.
    pub gradient_tolerance: f64,
    /// Converged when the Newton step's predicted gain in log-likelihood is below this: the
    /// parameters are then within about `sqrt(2 gain_tolerance)` standard errors of the
    /// maximum, whatever the sample size.
    pub gain_tolerance: f64,
}

/// How the length of a Newton step is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineSearch {
    /// The full step, halved (up to 40 times) until the log-likelihood does not fall.
    Backtracking,
    /// As `Backtracking`, and an accepted full step doubled (up to [`MAX_EXTENSIONS`] times)
    /// while the log-likelihood rises by more than 1e-12 relative.
    Extending,
}

/// Newton steps take the objective's step information while each step reduces the largest
/// scaled gradient entry at least this many times over; after one that does not (the
/// approximation converges too slowly, as near a variance's boundary), the Hessian is
/// differenced for the rest of the iterations.
const CHEAP_STEP_REDUCTION: f64 = 0.1;

/// Most doublings of one step under `LineSearch::Extending` (a step up to 2^30 times the
/// Newton step).
const MAX_EXTENSIONS: usize = 30;

/// An objective: log-likelihood and (if asked) gradient at a parameter vector.
pub(crate) trait Objective {
    fn value(&mut self, params: &[f64], gradient: bool) -> Result<(f64, Vec<f64>)>;

    /// An approximation of minus the Hessian's leading block (the first `m` parameters) at the
    /// point of the last evaluation, cheaper than differencing the gradient; `None` if there is
    /// none.
    fn leading_information(&mut self, _params: &[f64]) -> Option<DMatrix<f64>> {
        None
    }

    /// Whether differencing the whole gradient for the final Hessian is affordable.
    fn full_hessian_affordable(&self) -> bool {
        true
    }

    /// The exact Hessian at `params`, where the objective has one (then no Hessian is
    /// differenced).
    fn exact_hessian(&mut self, _params: &[f64]) -> Result<Option<DMatrix<f64>>> {
        Ok(None)
    }

    /// The exact Hessian at `params` for the Hessian reported at the maximum only, where the
    /// objective has one too costly for the Newton steps; `None` if there is none (the
    /// Hessian at the maximum is then as for the steps, differenced where affordable).
    fn final_hessian(&mut self, _params: &[f64]) -> Result<Option<DMatrix<f64>>> {
        Ok(None)
    }

    /// An approximation of minus the whole Hessian at `params` (the point of the last
    /// evaluation), cheaper than differencing the gradient, for the Newton steps only (the
    /// Hessian reported at the maximum is not taken from it); `None` if there is none.
    fn step_information(&mut self, _params: &[f64]) -> Option<DMatrix<f64>> {
        None
    }
}

struct Logged<'a, O: Objective> {
    inner: &'a mut O,
    log: Vec<EvaluationRecord>,
    /// Where the objective was last evaluated with a gradient.
    last_point: Option<Vec<f64>>,
    /// The last Hessian differenced centrally in every column, with the point it was computed
    /// at: the final Hessian there is that one, not differenced again.
    central: Option<(Vec<f64>, DMatrix<f64>)>,
    /// Whether the last Hessian was the objective's step information.
    approximate: bool,
}

impl<O: Objective> Logged<'_, O> {
    fn eval(&mut self, params: &[f64], gradient: bool) -> Result<(f64, Vec<f64>)> {
        self.last_point = None;
        let (value, grad) = self.inner.value(params, gradient)?;
        self.last_point = gradient.then(|| params.to_vec());
        self.log.push(EvaluationRecord {
            evaluation: self.log.len() + 1,
            loglik: value,
            gradient_max: grad.iter().fold(0.0, |m, g| m.max(g.abs())),
        });
        Ok((value, grad))
    }

    /// Hessian by central differences of the gradient, in the columns `from..n`; the leading
    /// block (columns `..from`) is left 0 for the caller to fill.
    fn hessian_columns(
        &mut self,
        params: &[f64],
        from: usize,
        central: bool,
        grad: &[f64],
    ) -> Result<DMatrix<f64>> {
        let n = params.len();
        let mut h = DMatrix::zeros(n, n);
        for k in from..n {
            let step = if central { 1e-5 } else { 1e-6 } * params[k].abs().max(1.0);
            let mut up = params.to_vec();
            up[k] += step;
            let (_, g_up) = self.eval(&up, true)?;
            let g_down = if central {
                let mut down = params.to_vec();
                down[k] -= step;
                self.eval(&down, true)?.1
            } else {
                grad.to_vec()
            };
            let width = if central { 2.0 * step } else { step };
            for r in 0..n {
                h[(r, k)] = (g_up[r] - g_down[r]) / width;
            }
        }
        // Mirror the differenced columns into the rows of the leading block.
        for k in from..n {
            for r in 0..from {
                h[(k, r)] = h[(r, k)];
            }
        }
        let sym = (&h + h.transpose()) * 0.5;
        Ok(sym)
    }

    /// The accepted full step `found` (at `t` = 1 along `direction` from `params`) doubled while
    /// the log-likelihood rises by more than 1e-12 relative, at most [`MAX_EXTENSIONS`] times;
    /// `t` becomes the factor kept. The objective is left evaluated at the point returned.
    fn extend(
        &mut self,
        params: &[f64],
        direction: &DVector<f64>,
        found: (Vec<f64>, f64, Vec<f64>),
        t: &mut f64,
    ) -> Result<(Vec<f64>, f64, Vec<f64>)> {
        let mut best = found;
        for _ in 0..MAX_EXTENSIONS {
            let candidate = along(params, direction, 2.0 * *t);
            match self.eval(&candidate, true) {
                Ok((v, g)) if v > best.1 + 1e-12 * best.1.abs().max(1.0) => {
                    best = (candidate, v, g);
                    *t *= 2.0;
                }
                _ => break,
            }
        }
        if self.last_point.as_deref() != Some(best.0.as_slice()) {
            let (v, g) = self.eval(&best.0, true)?;
            best = (best.0, v, g);
        }
        Ok(best)
    }

    /// The Hessian used for a Newton step: the objective's exact one, else its step information
    /// (negated) while `cheap` (false once a step with it converged too slowly), else its
    /// leading information block (negated) with the remaining columns differenced forward, or
    /// the whole Hessian differenced.
    fn step_hessian(&mut self, params: &[f64], grad: &[f64], cheap: bool) -> Result<DMatrix<f64>> {
        self.hessian(params, grad, false, false, cheap)
    }

    /// The Hessian reported at the maximum: the objective's final one where it has one, else
    /// fully differenced where affordable.
    fn final_hessian(&mut self, params: &[f64], grad: &[f64]) -> Result<DMatrix<f64>> {
        if let Some(exact) = self.inner.final_hessian(params)? {
            return Ok(exact);
        }
        let affordable = self.inner.full_hessian_affordable();
        self.hessian(params, grad, true, affordable, false)
    }

    /// The objective's exact Hessian; else, if `cheap`, its step information (negated) where it
    /// has one; else the Hessian differenced centrally in every column
    /// at `params` if there is one already; else, unless `difference_all`, the objective's
    /// leading information block (negated) with the other columns differenced (centrally if
    /// `central`); else every column differenced centrally (and kept for a later request at
    /// `params`: where the objective has no leading block, the step Hessian at the maximum is
    /// already the final one).
    fn hessian(
        &mut self,
        params: &[f64],
        grad: &[f64],
        central: bool,
        difference_all: bool,
        cheap: bool,
    ) -> Result<DMatrix<f64>> {
        self.approximate = false;
        if let Some(exact) = self.inner.exact_hessian(params)? {
            return Ok(exact);
        }
        if let Some(information) = cheap.then(|| self.inner.step_information(params)).flatten() {
            self.approximate = true;
            return Ok(-information);
        }
        if let Some((_, h)) = self.central.as_ref().filter(|(at, _)| at == params) {
            return Ok(h.clone());
        }
        let block = if difference_all {
            None
        } else {
            self.inner.leading_information(params)
        };
        match block {
            Some(block) => {
                let m = block.nrows();
                let mut h = self.hessian_columns(params, m, central, grad)?;
                h.view_mut((0, 0), (m, m)).copy_from(&(-block));
                Ok(h)
            }
            None => {
                let h = self.hessian_columns(params, 0, true, grad)?;
                self.central = Some((params.to_vec(), h.clone()));
                Ok(h)
            }
        }
    }
}

/// Newton ascent direction `-H^{-1} g`, with H made negative definite where it is not, and
/// the predicted gain of the full step `g' (-H)^{-1} g / 2` when H was negative definite.
fn ascent_direction(hessian: &DMatrix<f64>, gradient: &[f64]) -> (DVector<f64>, Option<f64>) {
    let g = DVector::from_column_slice(gradient);
    let eig = SymmetricEigen::new(hessian.clone());
    let top = eig.eigenvalues.amax().max(1e-300);
    let negative_definite = eig.eigenvalues.iter().all(|&l| l < 0.0);
    let inv: Vec<f64> = eig
        .eigenvalues
        .iter()
        .map(|&l| 1.0 / l.abs().max(1e-8 * top))
        .collect();
    let v = &eig.eigenvectors;
    let coords = v.transpose() * &g;
    let scaled = DVector::from_iterator(coords.len(), coords.iter().zip(&inv).map(|(c, i)| c * i));
    let direction = v * scaled;
    let gain = negative_definite.then(|| 0.5 * g.dot(&direction));
    (direction, gain)
}

fn scaled_gradient(params: &[f64], gradient: &[f64]) -> f64 {
    params
        .iter()
        .zip(gradient)
        .fold(0.0, |m, (p, g)| m.max(g.abs() * p.abs().max(1.0)))
}

impl Maximum {
    /// The summary of this maximisation.
    pub fn summary(&self) -> OptimisationSummary {
        OptimisationSummary {
            start: self.start.clone(),
            end: self.params.clone(),
            settings: self.settings,
            iterations: self.iterations,
            converged: self.converged,
        }
    }
}

/// Maximise `objective` from `start`, halving steps that would lower it.
pub(crate) fn maximise<O: Objective>(
    objective: &mut O,
    start: Vec<f64>,
    settings: Settings,
) -> Result<Maximum> {
    maximise_with(objective, start, settings, LineSearch::Backtracking)
}

/// `params + t direction`.
fn along(params: &[f64], direction: &DVector<f64>, t: f64) -> Vec<f64> {
    params
        .iter()
        .zip(direction.iter())
        .map(|(p, d)| p + t * d)
        .collect()
}

/// Maximise `objective` from `start` with the line search `search`.
pub(crate) fn maximise_with<O: Objective>(
    objective: &mut O,
    start: Vec<f64>,
    settings: Settings,
    search: LineSearch,
) -> Result<Maximum> {
    ascend_with(objective, start, settings, search)?.finish(objective)
}

/// Where the Newton iterations ended, before the Hessian at the maximum is differenced: a
/// caller that may replace the maximum (a variance refitted on its boundary) differences the
/// Hessian of the maximum it keeps only ([`Ascent::finish`]).
#[derive(Debug, Clone)]
pub(crate) struct Ascent {
    pub start: Vec<f64>,
    pub settings: Settings,
    pub params: Vec<f64>,
    pub loglik: f64,
    pub gradient: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
    pub log: Vec<EvaluationRecord>,
    /// Where the objective was last evaluated with a gradient (`None` once something else may
    /// have evaluated it since).
    last_point: Option<Vec<f64>>,
    /// The last Hessian differenced centrally in every column, and where.
    central: Option<(Vec<f64>, DMatrix<f64>)>,
}

impl Ascent {
    /// The objective has been evaluated elsewhere since the ascent ended (its state, such as
    /// warm-started modes, is no longer that at `params`).
    pub fn moved(&mut self) {
        self.last_point = None;
    }

    /// The maximum with its Hessian: the one differenced centrally at `params` during the
    /// iterations if there is one, else differenced now (after an evaluation at `params` if the
    /// objective was last evaluated elsewhere).
    pub fn finish<O: Objective>(self, objective: &mut O) -> Result<Maximum> {
        let reuse = matches!(&self.central, Some((at, _)) if *at == self.params);
        let mut logged = Logged {
            inner: objective,
            log: self.log,
            last_point: self.last_point,
            central: self.central,
            approximate: false,
        };
        if !reuse && logged.last_point.as_deref() != Some(self.params.as_slice()) {
            logged.eval(&self.params, true)?;
        }
        let hessian = logged.final_hessian(&self.params, &self.gradient)?;
        Ok(Maximum {
            start: self.start,
            settings: self.settings,
            free: (0..self.params.len()).collect(),
            params: self.params,
            loglik: self.loglik,
            gradient: self.gradient,
            hessian,
            iterations: self.iterations,
            converged: self.converged,
            log: logged.log,
        })
    }
}

/// The Newton iterations of [`maximise_with`], without the final Hessian. The step Hessian is
/// computed only where a step is taken (after the gradient criterion fails), not at a point
/// where the iterations stop.
pub(crate) fn ascend_with<O: Objective>(
    objective: &mut O,
    start: Vec<f64>,
    settings: Settings,
    search: LineSearch,
) -> Result<Ascent> {
    let mut logged = Logged {
        inner: objective,
        log: Vec::new(),
        last_point: None,
        central: None,
        approximate: false,
    };
    let mut params = start.clone();
    let (mut value, mut grad) = logged.eval(&params, true)?;
    let mut converged = false;
    let mut iterations = 0;
    // Step information is used while `cheap`; `verified` once a step with it converged fast.
    let (mut cheap, mut verified) = (true, false);
    while iterations < settings.max_iterations {
        iterations += 1;
        if scaled_gradient(&params, &grad) < settings.gradient_tolerance {
            converged = true;
            break;
        }
        let hessian = logged.step_hessian(&params, &grad, cheap)?;
        let (direction, gain) = ascent_direction(&hessian, &grad);
        // The gain predicted by step information is trusted only once a step verified it.
        let trusted = !logged.approximate || verified;
        if trusted && gain.is_some_and(|gain| gain < settings.gain_tolerance) {
            converged = true;
            break;
        }
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..40 {
            let candidate = along(&params, &direction, t);
            if let Ok((v, g)) = logged.eval(&candidate, true) {
                if v >= value - 1e-12 * value.abs().max(1.0) {
                    accepted = Some((candidate, v, g));
                    break;
                }
            }
            t /= 2.0;
        }
        let Some(mut found) = accepted else {
            // No ascent at rounding level: the maximum is here.
            converged = scaled_gradient(&params, &grad) < settings.gradient_tolerance.sqrt();
            break;
        };
        if search == LineSearch::Extending && t == 1.0 {
            found = logged.extend(&params, &direction, found, &mut t)?;
        }
        let (candidate, v, g) = found;
        let moved = params.iter().zip(&candidate).fold(0.0, |m: f64, (a, b)| {
            m.max((a - b).abs() / a.abs().max(1.0))
        });
        let gained = (v - value).abs() / value.abs().max(1.0);
        if logged.approximate {
            let fast = scaled_gradient(&candidate, &g)
                <= CHEAP_STEP_REDUCTION * scaled_gradient(&params, &grad);
            verified |= fast;
            cheap &= fast;
        }
        params = candidate;
        value = v;
        grad = g;
        if t == 1.0 && gained < 1e-12 && moved < 1e-10 {
            converged = true;
            break;
        }
    }
    if !value.is_finite() {
        return Err(Error::Numerical {
            what: "the maximisation".into(),
            message: "the log-likelihood is not finite".into(),
        });
    }
    Ok(Ascent {
        start,
        settings,
        params,
        loglik: value,
        gradient: grad,
        iterations,
        converged,
        log: logged.log,
        last_point: logged.last_point,
        central: logged.central,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `l(x, y) = -(x - 1)^2 - 4 (y + 2)^2 + x y / 2`, concave, with its exact gradient and no
    /// Hessian of its own (every column differenced).
    struct Quadratic;

    impl Objective for Quadratic {
        fn value(&mut self, p: &[f64], gradient: bool) -> Result<(f64, Vec<f64>)> {
            let (x, y) = (p[0], p[1]);
            let value = -(x - 1.0).powi(2) - 4.0 * (y + 2.0).powi(2) + x * y / 2.0;
            let grad = if gradient {
                vec![-2.0 * (x - 1.0) + y / 2.0, -8.0 * (y + 2.0) + x / 2.0]
            } else {
                Vec::new()
            };
            Ok((value, grad))
        }
    }

    const SETTINGS: Settings = Settings {
        max_iterations: 50,
        gradient_tolerance: 1e-10,
        gain_tolerance: 1e-14,
    };

    #[test]
    fn finds_the_maximum_of_a_concave_quadratic_and_logs_every_evaluation() {
        let best = maximise(&mut Quadratic, vec![5.0, 5.0], SETTINGS).unwrap();
        // The stationary point solves -2x + y/2 = -2, x/2 - 8y = 16.
        let det = 16.0 - 0.25;
        let x = (-2.0 * -8.0 - 0.5 * 16.0) / det;
        let y = (-2.0 * 16.0 - 0.5 * -2.0) / det;
        assert!((best.params[0] - x).abs() < 1e-9 && (best.params[1] - y).abs() < 1e-9);
        assert!(best.converged);
        // The Hessian reported at the maximum is the quadratic's.
        let h = &best.hessian;
        assert!((h[(0, 0)] + 2.0).abs() < 1e-5 && (h[(1, 1)] + 8.0).abs() < 1e-5);
        assert!((h[(0, 1)] - 0.5).abs() < 1e-5 && (h[(1, 0)] - 0.5).abs() < 1e-5);
        // One record per evaluation, numbered, the last at the maximum.
        assert!(best.log.len() > best.iterations);
        assert!(best
            .log
            .iter()
            .enumerate()
            .all(|(k, r)| r.evaluation == k + 1));
        let summary = best.summary();
        assert_eq!(summary.start, vec![5.0, 5.0]);
        assert_eq!(summary.end, best.params);
        assert_eq!(summary.settings, SETTINGS);
    }

    /// `l(x, y) = -log(1 + e^x) - (y - 1)^2`: its supremum 0 lies at x = -infinity (as for a
    /// separated outcome), with its exact gradient and Hessian.
    struct Separated;

    impl Objective for Separated {
        fn value(&mut self, p: &[f64], gradient: bool) -> Result<(f64, Vec<f64>)> {
            let (x, y) = (p[0], p[1]);
            let value = -(x.exp().ln_1p()) - (y - 1.0).powi(2);
            let grad = if gradient {
                vec![-1.0 / (1.0 + (-x).exp()), -2.0 * (y - 1.0)]
            } else {
                Vec::new()
            };
            Ok((value, grad))
        }

        fn exact_hessian(&mut self, p: &[f64]) -> Result<Option<DMatrix<f64>>> {
            let s = 1.0 / (1.0 + (-p[0]).exp());
            Ok(Some(DMatrix::from_row_slice(
                2,
                2,
                &[-s * (1.0 - s), 0.0, 0.0, -2.0],
            )))
        }
    }

    /// [`Quadratic`] with its information times `factor` as the step information.
    struct Approximate {
        factor: f64,
    }

    impl Objective for Approximate {
        fn value(&mut self, p: &[f64], gradient: bool) -> Result<(f64, Vec<f64>)> {
            Quadratic.value(p, gradient)
        }

        fn step_information(&mut self, _params: &[f64]) -> Option<DMatrix<f64>> {
            Some(DMatrix::from_row_slice(2, 2, &[2.0, -0.5, -0.5, 8.0]) * self.factor)
        }
    }

    #[test]
    fn step_information_is_used_while_it_converges_fast() {
        let exact = maximise(&mut Quadratic, vec![5.0, 5.0], SETTINGS).unwrap();
        for factor in [1.05, 20.0] {
            let best = maximise(&mut Approximate { factor }, vec![5.0, 5.0], SETTINGS).unwrap();
            assert!(best.converged, "factor {factor}");
            // With 20 times the curvature a step shrinks the gradient by 5% only: the Hessian
            // is then differenced, and the maximum reached in a few more steps.
            assert!(best.iterations < 10, "factor {factor}: {}", best.iterations);
            assert!(best
                .params
                .iter()
                .zip(&exact.params)
                .all(|(a, b)| (a - b).abs() < 1e-6));
            // The reported Hessian is differenced, not the step information.
            assert!(
                (&best.hessian - &exact.hessian).amax() < 1e-6,
                "factor {factor}"
            );
        }
        // With 1.05 times the curvature no step Hessian is differenced: one evaluation per step
        // and the four of the final Hessian.
        let close = maximise(&mut Approximate { factor: 1.05 }, vec![5.0, 5.0], SETTINGS).unwrap();
        assert!(
            close.log.len() <= close.iterations + 5,
            "{}",
            close.log.len()
        );
    }

    #[test]
    fn extended_steps_reach_a_supremum_at_infinity() {
        let settings = Settings {
            max_iterations: 100,
            ..SETTINGS
        };
        // Halving only: once e^x is below the eigenvalue floor the steps shrink with it.
        let crept = maximise(&mut Separated, vec![0.0, 3.0], settings).unwrap();
        assert!(
            !crept.converged && crept.params[0] > -23.0,
            "{:?}",
            crept.params
        );
        // Extended steps go on to where the objective no longer rises, and converge there.
        let reached = maximise_with(
            &mut Separated,
            vec![0.0, 3.0],
            settings,
            LineSearch::Extending,
        )
        .unwrap();
        assert!(reached.converged, "{:?}", reached.params);
        assert!(reached.params[0] < -30.0 && (reached.params[1] - 1.0).abs() < 1e-9);
        assert!(reached.loglik > -1e-12 && reached.iterations < 10);
        // On a concave objective with a maximum, extension changes nothing.
        let plain = maximise(&mut Quadratic, vec![5.0, 5.0], SETTINGS).unwrap();
        let extended = maximise_with(
            &mut Quadratic,
            vec![5.0, 5.0],
            SETTINGS,
            LineSearch::Extending,
        )
        .unwrap();
        assert!(extended.converged);
        assert!(plain
            .params
            .iter()
            .zip(&extended.params)
            .all(|(a, b)| (a - b).abs() < 1e-9));
    }

    #[test]
    fn an_indefinite_hessian_still_gives_an_ascent_direction() {
        // At a saddle-like Hessian diag(2, -3) the plain Newton step -H^{-1} g would descend
        // along the first axis; the repaired step uses |lambda| and ascends.
        let hessian = DMatrix::from_row_slice(2, 2, &[2.0, 0.0, 0.0, -3.0]);
        let gradient = [1.0, 1.0];
        let (direction, gain) = ascent_direction(&hessian, &gradient);
        assert!((direction[0] - 0.5).abs() < 1e-12 && (direction[1] - 1.0 / 3.0).abs() < 1e-12);
        assert!(gradient[0] * direction[0] + gradient[1] * direction[1] > 0.0);
        // No predicted gain is claimed where H is not negative definite.
        assert!(gain.is_none());
        let concave = DMatrix::from_row_slice(2, 2, &[-2.0, 0.0, 0.0, -4.0]);
        let (_, gain) = ascent_direction(&concave, &gradient);
        assert!((gain.unwrap() - 0.5 * (0.5 + 0.25)).abs() < 1e-12);
    }
}
