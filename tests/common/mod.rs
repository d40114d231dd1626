//! Helpers shared by the coverage simulations (`bootstrap_coverage.rs`, `icer_coverage.rs`):
//! the true population-averaged risk of a logistic random-intercept model, summary statistics
//! and the environment variables that shorten a run.

pub fn inverse_logit(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `E h(eta + sigma T)`, T standard normal, h the inverse logit: the trapezoidal rule with step
/// 1/200 on [-12, 12] (the integrand is analytic and decays like a Gaussian, so the rule's error
/// is far below 1e-12; the truncation error is below 1e-30).
pub fn integrated_risk(eta: f64, sigma: f64) -> f64 {
    if sigma == 0.0 {
        return inverse_logit(eta);
    }
    const HALF_WIDTH: f64 = 12.0;
    const STEPS: usize = 4800;
    let h = 2.0 * HALF_WIDTH / STEPS as f64;
    let norm = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
    let mut sum = 0.0;
    for k in 0..=STEPS {
        let t = -HALF_WIDTH + k as f64 * h;
        let end = if k == 0 || k == STEPS { 0.5 } else { 1.0 };
        sum += end * inverse_logit(eta + sigma * t) * norm * (-0.5 * t * t).exp();
    }
    sum * h
}

pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

pub fn sd(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() as f64 - 1.0)).sqrt()
}

pub fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} must be a count, not {v:?}"))
        })
        .unwrap_or(default)
}

/// The bundled synthetic stepped-wedge cohort (`data-samples/stepped_wedge_sim.csv`).
#[allow(dead_code)] // not every test binary that shares this module uses it
pub fn stepped_wedge_sample() -> stepwedge::data::Cohort {
    stepwedge::data::Cohort::from_csv_path(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data-samples/stepped_wedge_sim.csv"
        ),
        &stepwedge::data::LoadOptions::default(),
    )
    .unwrap()
}

/// Fit a model and analyse the fit: the two steps the library keeps apart, in one call for tests
/// that check the result of both.
pub trait FitThen: stepwedge::models::Specification {
    /// Fit to `cohort`, then standardise the fit as `spec` asks.
    fn fit_and_standardise(
        &self,
        cohort: &stepwedge::data::Cohort,
        spec: &stepwedge::effects::standardise::Standardisation,
    ) -> stepwedge::core::error::Result<(Self::Fit, stepwedge::effects::standardise::MarginalEffects)>
    {
        let fit = self.fit(cohort)?;
        let effects = spec.apply(&fit, cohort)?;
        Ok((fit, effects))
    }

    /// Fit to `cohort`, then estimate the effects in the subgroups of `modifier`.
    #[allow(dead_code)] // not every test binary that shares this module uses it
    fn fit_and_subgroups(
        &self,
        cohort: &stepwedge::data::Cohort,
        spec: &stepwedge::effects::standardise::Standardisation,
        modifier: &str,
    ) -> stepwedge::core::error::Result<(Self::Fit, stepwedge::effects::standardise::SubgroupEffects)>
    {
        let fit = self.fit(cohort)?;
        let effects = spec.subgroups(&fit, cohort, modifier)?;
        Ok((fit, effects))
    }
}

impl<S: stepwedge::models::Specification> FitThen for S {}
