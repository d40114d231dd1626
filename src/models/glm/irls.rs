//! Maximum likelihood for GLMs by iteratively reweighted least squares (Fisher scoring).
//!
//! With working weights `W_i = w_i (dmu/deta)_i^2 / V(mu_i)` and the score
//! `U = X' [w (dmu/deta) (y - mu) / V(mu)]`, each step is `beta <- beta + (X'WX)^{-1} U`.
//! Written as an increment (rather than R's regression on a working response) the fixed point is
//! exactly `U = 0`, whatever rounding the solve has. The first step is R's: a weighted regression
//! of the working response `eta - offset + (y - mu) / (dmu/deta)` from the family's start means.
//!
//! A step that leaves the mean space (a fitted risk >= 1 in the log-binomial model), gives a
//! non-finite deviance or raises the deviance is halved, up to [`MAX_HALVINGS`] times, so the
//! deviance never increases. Convergence: `|dev - dev_old| / (|dev| + 0.1) < epsilon`, R's rule
//! with a tighter default, and no coefficient moving by more than `step_tolerance`.

use nalgebra::{DMatrix, DVector};

use crate::core::error::{Error, Result};
use crate::core::linalg::{spd_solve, weighted_gram, x_times, xt_vec};
use crate::models::family::{Family, Link};

/// Step halvings tried before a step is given up.
pub const MAX_HALVINGS: usize = 60;

/// Controls of the IRLS iterations.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct IrlsControl {
    /// Relative deviance change that counts as converged (R's default is 1e-8).
    pub epsilon: f64,
    /// Largest relative change of a coefficient, `|delta b| / (|b| + 1)`, that counts as
    /// converged. Fisher scoring converges only linearly for non-canonical links (log-binomial,
    /// cloglog), so the deviance rule alone can stop early there.
    pub step_tolerance: f64,
    /// Maximum number of iterations.
    pub max_iter: usize,
}

impl Default for IrlsControl {
    fn default() -> Self {
        IrlsControl {
            epsilon: 1e-12,
            step_tolerance: 1e-10,
            max_iter: 100,
        }
    }
}

/// The model's data as IRLS needs it.
pub(crate) struct Problem<'a> {
    pub family: Family,
    pub link: Link,
    pub x: &'a DMatrix<f64>,
    pub y: &'a [f64],
    /// Prior weights (times binomial trials).
    pub w: &'a [f64],
    pub offset: Option<&'a [f64]>,
}

/// How the iterations ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Converged,
    /// No step (even halved) kept the means valid and the deviance from rising.
    Stalled,
    OutOfIterations,
}

/// Where IRLS ended.
pub(crate) struct IrlsState {
    pub beta: Vec<f64>,
    pub eta: Vec<f64>,
    pub mu: Vec<f64>,
    pub deviance: f64,
    pub iterations: usize,
    pub converged: bool,
    /// Last relative deviance change.
    pub criterion: f64,
    /// Whether the last step could not improve on the deviance without leaving the mean space.
    pub stalled: bool,
}

impl IrlsState {
    fn at(
        beta: Vec<f64>,
        eta: Vec<f64>,
        mu: Vec<f64>,
        deviance: f64,
        iterations: usize,
        criterion: f64,
        ending: Ending,
    ) -> Self {
        IrlsState {
            beta,
            eta,
            mu,
            deviance,
            iterations,
            converged: ending == Ending::Converged,
            criterion,
            stalled: ending == Ending::Stalled,
        }
    }
}

impl Problem<'_> {
    fn n(&self) -> usize {
        self.y.len()
    }

    fn offset(&self, i: usize) -> f64 {
        self.offset.map_or(0.0, |o| o[i])
    }

    /// `eta = X beta + offset`, `mu = g^{-1}(eta)` and the deviance; `None` if any mean leaves the
    /// family's mean space or the deviance is not finite.
    fn evaluate(&self, beta: &[f64], eta: &mut [f64], mu: &mut [f64]) -> Option<f64> {
        x_times(self.x, beta, eta);
        let mut dev = 0.0;
        for i in 0..self.n() {
            eta[i] += self.offset(i);
            mu[i] = self.link.inverse(eta[i]);
            if self.w[i] > 0.0 && !self.family.valid_mu(mu[i]) {
                return None;
            }
            dev += self.family.deviance(self.y[i], mu[i], self.w[i]);
        }
        dev.is_finite().then_some(dev)
    }

    /// Working weights `W` and score contributions `w (dmu/deta) (y - mu) / V(mu)` at `eta`.
    pub fn working(&self, eta: &[f64], mu: &[f64], weights: &mut [f64], score: &mut [f64]) {
        for i in 0..self.n() {
            let d = self.link.mu_eta(eta[i]);
            let v = self.family.variance(mu[i]);
            weights[i] = self.w[i] * d * d / v;
            score[i] = self.w[i] * d * (self.y[i] - mu[i]) / v;
        }
    }

    /// Whether this is a log-binomial model with a fitted risk within 1e-6 of 1.
    pub fn at_risk_boundary(&self, mu: &[f64]) -> bool {
        self.family == Family::Binomial
            && self.link == Link::Log
            && mu.iter().any(|&m| m > 1.0 - 1e-6)
    }

    /// The first coefficients: R's weighted regression of the working response on X.
    fn first_beta(&self, weights: &mut [f64], score: &mut [f64]) -> Result<Vec<f64>> {
        let n = self.n();
        let mut eta = vec![0.0; n];
        let mut mu = vec![0.0; n];
        for i in 0..n {
            mu[i] = self.family.start_mu(self.y[i], self.w[i]);
            eta[i] = self.link.link(mu[i]);
        }
        self.working(&eta, &mu, weights, score);
        // X'W z with z = eta - offset + (y - mu)/mu_eta  =  X'(W (eta - offset)) + score.
        let rhs: Vec<f64> = (0..n)
            .map(|i| weights[i] * (eta[i] - self.offset(i)) + score[i])
            .collect();
        let gram = weighted_gram(self.x, weights);
        Ok(
            spd_solve(&gram, &xt_vec(self.x, &rhs), "the first IRLS step")?
                .as_slice()
                .to_vec(),
        )
    }

    /// Fit from `start` (or R's starting values).
    pub fn fit(&self, start: Option<&[f64]>, control: &IrlsControl) -> Result<IrlsState> {
        let n = self.n();
        let mut weights = vec![0.0; n];
        let mut score = vec![0.0; n];
        let mut eta = vec![0.0; n];
        let mut mu = vec![0.0; n];
        let mut beta = match start {
            Some(s) => s.to_vec(),
            None => self.first_beta(&mut weights, &mut score)?,
        };
        let mut dev = match self.evaluate(&beta, &mut eta, &mut mu) {
            Some(d) => d,
            None => {
                let fallback = self.feasible_start().ok_or_else(|| no_valid_start(self))?;
                beta = fallback;
                self.evaluate(&beta, &mut eta, &mut mu)
                    .ok_or_else(|| no_valid_start(self))?
            }
        };
        let mut new_eta = vec![0.0; n];
        let mut new_mu = vec![0.0; n];
        let mut criterion = f64::INFINITY;
        let (mut iterations, mut ending) = (control.max_iter, Ending::OutOfIterations);
        for iteration in 1..=control.max_iter {
            self.working(&eta, &mu, &mut weights, &mut score);
            let gram = weighted_gram(self.x, &weights);
            let step = match spd_solve(&gram, &xt_vec(self.x, &score), "the IRLS step") {
                Ok(step) => Some(step),
                // Log-binomial risks at 1 make the working weights mu / (1 - mu) explode: the
                // iterations have reached the boundary.
                Err(_) if self.at_risk_boundary(&mu) => None,
                Err(e) => return Err(e),
            };
            // Stalled at the boundary, or no halving of the step lowers the deviance.
            let Some((candidate, new_dev)) =
                step.and_then(|step| self.halve(&beta, &step, dev, &mut new_eta, &mut new_mu))
            else {
                (iterations, ending) = (iteration, Ending::Stalled);
                break;
            };
            criterion = (new_dev - dev).abs() / (new_dev.abs() + 0.1);
            let step_size = beta
                .iter()
                .zip(&candidate)
                .map(|(a, b)| (a - b).abs() / (a.abs() + 1.0))
                .fold(0.0, f64::max);
            beta = candidate;
            dev = new_dev;
            std::mem::swap(&mut eta, &mut new_eta);
            std::mem::swap(&mut mu, &mut new_mu);
            if criterion < control.epsilon && step_size < control.step_tolerance {
                (iterations, ending) = (iteration, Ending::Converged);
                break;
            }
        }
        Ok(IrlsState::at(
            beta, eta, mu, dev, iterations, criterion, ending,
        ))
    }

    /// `beta + step`, halved until the means are valid and the deviance does not rise.
    fn halve(
        &self,
        beta: &[f64],
        step: &DVector<f64>,
        dev: f64,
        eta: &mut [f64],
        mu: &mut [f64],
    ) -> Option<(Vec<f64>, f64)> {
        let mut factor = 1.0;
        for _ in 0..=MAX_HALVINGS {
            let candidate: Vec<f64> = beta
                .iter()
                .zip(step.iter())
                .map(|(b, s)| b + factor * s)
                .collect();
            if let Some(new_dev) = self.evaluate(&candidate, eta, mu) {
                if new_dev <= dev + 1e-10 * (dev.abs() + 1.0) {
                    return Some((candidate, new_dev));
                }
            }
            factor /= 2.0;
        }
        None
    }

    /// For a log-binomial model whose first step leaves the mean space: the intercept-only
    /// point `log(mean y)` with every other coefficient 0, when the design has an intercept.
    fn feasible_start(&self) -> Option<Vec<f64>> {
        let p = self.x.ncols();
        let intercept = (0..p).find(|&j| self.x.column(j).iter().all(|v| *v == 1.0))?;
        let total_w: f64 = self.w.iter().sum();
        let ybar = self.y.iter().zip(self.w).map(|(y, w)| y * w).sum::<f64>() / total_w;
        let mut beta = vec![0.0; p];
        beta[intercept] = self.link.link(ybar.clamp(1e-6, 1.0 - 1e-6));
        Some(beta)
    }
}

fn no_valid_start(p: &Problem<'_>) -> Error {
    Error::invalid(
        "start",
        format!(
            "no valid starting values were found for the {} model with {} link (every start gives \
             fitted means outside the family's range); give start values",
            p.family, p.link
        ),
    )
}
