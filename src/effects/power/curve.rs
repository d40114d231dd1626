//! Power curves (closed form beside simulation) and the probability-scale ICC of a logistic
//! model.

use serde::Serialize;

use crate::core::error::{Error, Result};
use crate::design::{ClosedForm, Design, Power, Sizes};
use crate::models::glmm::GaussHermite;

use super::{PowerSimulation, SimulationPower};

/// One point of a power curve: the closed form and, if asked for, the simulation at one mean
/// cluster-period size.
#[derive(Debug, Clone, Serialize)]
pub struct CurvePoint {
    /// The mean patients per observed cluster-period.
    pub mean_size: f64,
    /// The expected patients of the trial.
    pub patients: f64,
    /// The closed-form power there.
    pub closed_form: Power,
    /// The simulation there.
    pub simulation: Option<PowerSimulation>,
}

/// The mean size of the observed cells of `matrix` on `design`.
fn observed_mean(matrix: &[Vec<f64>], design: &Design) -> f64 {
    let (mut total, mut cells) = (0.0, 0usize);
    for (row, sizes) in design.cells().iter().zip(matrix) {
        for (cell, n) in row.iter().zip(sizes) {
            if cell.is_some() {
                total += n;
                cells += 1;
            }
        }
    }
    total / cells.max(1) as f64
}

/// `closed`'s sizes on `design` scaled so that the observed cells hold `mean` patients on
/// average (their proportions kept: a scalar size becomes `mean`).
pub fn scaled_sizes(closed: &ClosedForm, design: &Design, mean: f64) -> Result<ClosedForm> {
    if !(mean > 0.0 && mean.is_finite()) {
        return Err(Error::invalid(
            "mean size",
            format!("is {mean}; a positive number of patients is needed"),
        ));
    }
    let matrix = closed.size_matrix(design)?;
    let now = observed_mean(&matrix, design);
    if now <= 0.0 {
        return Err(Error::invalid("n", "the observed cells have no patients"));
    }
    let factor = mean / now;
    let scaled = matrix
        .iter()
        .map(|row| row.iter().map(|n| n * factor).collect())
        .collect();
    Ok(closed.clone().sizes(Sizes::Matrix(scaled)))
}

/// The closed-form power of `closed` on `design` at each mean cluster-period size of `means`
/// ([`scaled_sizes`]) and, when `simulate` is given, the simulation that matches it there
/// ([`SimulationPower::from_closed_form`] with Poisson sizes when `poisson` or when the scaled
/// sizes are not whole numbers, then `simulate` to set the analysis, trials and seed).
pub fn power_curve(
    closed: &ClosedForm,
    design: &Design,
    means: &[f64],
    poisson: bool,
    simulate: Option<&dyn Fn(SimulationPower) -> SimulationPower>,
) -> Result<Vec<CurvePoint>> {
    means
        .iter()
        .map(|&mean| {
            let at = scaled_sizes(closed, design, mean)?;
            let closed_form = at.power(design)?;
            let simulation = match simulate {
                Some(adjust) => {
                    let spec = adjust(SimulationPower::from_closed_form(&at, design, poisson)?);
                    Some(spec.run()?)
                }
                None => None,
            };
            Ok(CurvePoint {
                mean_size: mean,
                patients: closed_form.patients,
                closed_form,
                simulation,
            })
        })
        .collect()
}

/// The intracluster correlation on the probability scale of a logistic model with a normal
/// cluster effect whose latent-scale ICC is `latent_icc` (`sigma^2 = icc / (1 - icc) pi^2 /
/// 3`), at the risk `risk` (the log odds `logit(risk)` with the cluster effect at 0):
/// `Var(p_b) / (mu (1 - mu))`, `p_b = expit(logit(risk) + b)`, `mu = E[p_b]` (Gauss-Hermite
/// quadrature, 25 nodes). This is the correlation of two patients' 0/1 outcomes in one cluster,
/// the ICC that swPwr's binomial closed form takes: a latent ICC of 0.02 at a risk of 10% is
/// about 0.006 here.
pub fn probability_scale_icc(latent_icc: f64, risk: f64) -> Result<f64> {
    if !(0.0..1.0).contains(&latent_icc) {
        return Err(Error::invalid(
            "icc",
            format!("is {latent_icc}; a correlation in [0, 1) is needed"),
        ));
    }
    if !(risk > 0.0 && risk < 1.0) {
        return Err(Error::invalid(
            "risk",
            format!("is {risk}; a risk strictly between 0 and 1 is needed"),
        ));
    }
    let sd = (latent_icc / (1.0 - latent_icc) * std::f64::consts::PI.powi(2) / 3.0).sqrt();
    let rule = GaussHermite::new(25)?;
    let eta = (risk / (1.0 - risk)).ln();
    let (mut mean, mut square) = (0.0, 0.0);
    for (z, w) in rule.nodes.iter().zip(&rule.weights) {
        let p = 1.0 / (1.0 + (-(eta + sd * z)).exp());
        mean += w * p;
        square += w * p * p;
    }
    Ok(((square - mean * mean) / (mean * (1.0 - mean))).max(0.0))
}
