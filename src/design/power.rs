//! Closed-form power of a cluster trial's design by generalised least squares, as
//! swCRTdesign's `swPwr` computes it (see the [module docs](super) for the model).

use std::fmt;

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use super::schedule::Design;
use crate::core::dist::{normal_cdf, normal_quantile};
use crate::core::error::{Error, Result};
use crate::core::linalg::{aliased_columns, spd_inverse};

/// The outcome's distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "distn", rename_all = "lowercase")]
pub enum Outcome {
    /// A continuous outcome with residual (within cluster-period) SD `sigma`.
    Gaussian {
        /// The residual SD.
        sigma: f64,
    },
    /// A binary outcome: `mu0` and `mu1` are risks, and the residual variance is
    /// `sigma^2 = muBar (1 - muBar)` with `muBar = (mu0 + mu1) / 2` in every cell (swPwr's
    /// stand-in).
    Binomial,
}

/// The random effects of the model, as SDs (swPwr's names); for a binary outcome on the
/// probability scale.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct RandomEffects {
    /// SD of the cluster random intercept.
    pub tau: f64,
    /// SD of the cluster random treatment effect.
    pub eta: f64,
    /// Correlation of the random intercept and the random treatment effect, in [-1, 1].
    pub rho: f64,
    /// SD of the cluster-period random effect.
    pub gamma: f64,
    /// SD of the individual random effect of a closed cohort (the same patients measured in
    /// every period).
    pub zeta: f64,
}

/// How the correlation of the outcomes is given.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Correlation {
    /// By the random effects' SDs.
    RandomEffects(RandomEffects),
    /// By swPwr's correlations, translated to random effects with `eta = rho = 0` (see
    /// [`ClosedForm::components`]).
    Coefficients {
        /// The within-period intracluster correlation, in [0, 1).
        icc: f64,
        /// The cluster autocorrelation (between periods), in [0, 1].
        cac: f64,
        /// The individual autocorrelation of a closed cohort, in [0, 1).
        iac: f64,
    },
}

/// The number of patients per cluster-period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Sizes {
    /// The same number in every cell.
    Scalar(f64),
    /// One number per cluster, the same in each of its periods.
    PerCluster(Vec<f64>),
    /// One number per cluster and period; 0 marks a cell that is not observed.
    Matrix(Vec<Vec<f64>>),
}

/// Which treatment effect is estimated.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TreatmentModel {
    /// One effect, reached at once (a cell's share of it is its share in the design): the
    /// Hussey & Hughes model.
    Immediate,
    /// One effect per exposure time (periods under the intervention so far), estimated
    /// together, and the weighted mean `H' delta` of them tested (Kenny et al. 2022); `None`
    /// weights every exposure time equally.
    ExposureTime {
        /// The contrast `H`, one weight per exposure time; scaled to add up to 1.
        contrast: Option<Vec<f64>>,
    },
}

/// A closed-form power calculation: the outcome, the effect, the sizes, the correlation and
/// the test. Build it with [`ClosedForm::gaussian`] or [`ClosedForm::binomial`] and the
/// setters, then call [`ClosedForm::power`] on a [`Design`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClosedForm {
    /// The outcome.
    pub outcome: Outcome,
    /// The mean (or risk) under usual care.
    pub mu0: f64,
    /// The mean (or risk) under the intervention; the effect is `mu1 - mu0`.
    pub mu1: f64,
    /// Patients per cluster-period.
    pub sizes: Sizes,
    /// The correlation of the outcomes.
    pub correlation: Correlation,
    /// The treatment effect estimated.
    pub model: TreatmentModel,
    /// Exponential decay of the cluster effect between periods (Kasza et al. 2019): the
    /// covariance of cluster effects `d` periods apart is `tau^2 r^d` with this `r` in [0, 1];
    /// `None` is no decay (`r = 1`, swPwr's model).
    pub decay: Option<f64>,
    /// The two-sided significance level, in (0, 1).
    pub alpha: f64,
}

/// The power of a design and what it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Power {
    /// The power of the two-sided test at `alpha`:
    /// `Phi(|theta| / se - z) + Phi(-|theta| / se - z)`, `z = Phi^-1(1 - alpha / 2)`.
    pub power: f64,
    /// The variance of the estimated effect (swPwr's `var.theta.WLS`).
    pub var_trt: f64,
    /// Its square root.
    pub se: f64,
    /// The effect `theta = mu1 - mu0`.
    pub effect: f64,
    /// The significance level.
    pub alpha: f64,
    /// The random effects used (derived from icc, cac and iac where those were given).
    pub components: RandomEffects,
    /// The residual variance used: `sigma^2`, or `muBar (1 - muBar)` for a binary outcome.
    pub sigma_sq: f64,
    /// The exposure-time contrast used (scaled to add up to 1), for that model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contrast: Option<Vec<f64>>,
    /// Cells that enter the calculation (observed in the design, with patients).
    pub observed_cells: usize,
    /// Patients in those cells.
    pub patients: f64,
    /// The variance of the effect in an individually randomised trial of the same patients,
    /// half to each arm: `4 sigma^2 / patients`.
    pub var_individual: f64,
    /// The design effect against that trial: `var_trt / var_individual`.
    pub design_effect: f64,
}

impl ClosedForm {
    /// A continuous outcome with means `mu0` and `mu1` and residual SD `sigma`, `n` patients
    /// per cluster-period; no random effects, the immediate-treatment model, no decay,
    /// `alpha = 0.05` (swPwr's defaults).
    pub fn gaussian(mu0: f64, mu1: f64, sigma: f64, n: Sizes) -> Self {
        ClosedForm::new(Outcome::Gaussian { sigma }, mu0, mu1, n)
    }

    /// A binary outcome with risks `mu0` and `mu1`, `n` patients per cluster-period; the
    /// defaults of [`ClosedForm::gaussian`].
    pub fn binomial(mu0: f64, mu1: f64, n: Sizes) -> Self {
        ClosedForm::new(Outcome::Binomial, mu0, mu1, n)
    }

    fn new(outcome: Outcome, mu0: f64, mu1: f64, sizes: Sizes) -> Self {
        ClosedForm {
            outcome,
            mu0,
            mu1,
            sizes,
            correlation: Correlation::RandomEffects(RandomEffects::default()),
            model: TreatmentModel::Immediate,
            decay: None,
            alpha: 0.05,
        }
    }

    /// With these random effects.
    pub fn random_effects(mut self, effects: RandomEffects) -> Self {
        self.correlation = Correlation::RandomEffects(effects);
        self
    }

    /// With the correlations icc, cac and iac instead of random effects (swPwr's defaults
    /// are `cac = 1`, `iac = 0`: a cross-sectional design with a constant cluster effect).
    pub fn coefficients(mut self, icc: f64, cac: f64, iac: f64) -> Self {
        self.correlation = Correlation::Coefficients { icc, cac, iac };
        self
    }

    /// With these patients per cluster-period.
    pub fn sizes(mut self, sizes: Sizes) -> Self {
        self.sizes = sizes;
        self
    }

    /// With this treatment model.
    pub fn model(mut self, model: TreatmentModel) -> Self {
        self.model = model;
        self
    }

    /// With exponential decay `r` of the cluster effect between periods.
    pub fn decay(mut self, r: f64) -> Self {
        self.decay = Some(r);
        self
    }

    /// With this significance level.
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// The effect `mu1 - mu0`.
    pub fn effect(&self) -> f64 {
        self.mu1 - self.mu0
    }

    /// The residual variance: `sigma^2` for a continuous outcome, `muBar (1 - muBar)` with
    /// `muBar = (mu0 + mu1) / 2` for a binary one. Errors name `sigma`, `mu0` or `mu1` when it
    /// is not a finite non-negative SD or a risk in [0, 1], or when a binary outcome's
    /// `muBar` is 0 or 1.
    pub fn sigma_sq(&self) -> Result<f64> {
        for (name, value) in [("mu0", self.mu0), ("mu1", self.mu1)] {
            if !value.is_finite() {
                return Err(Error::invalid(name, format!("{value} is not a number")));
            }
        }
        match self.outcome {
            Outcome::Gaussian { sigma } => {
                if !(sigma.is_finite() && sigma >= 0.0) {
                    return Err(Error::invalid(
                        "sigma",
                        format!("{sigma} is not a standard deviation (finite, >= 0)"),
                    ));
                }
                Ok(sigma * sigma)
            }
            Outcome::Binomial => {
                for (name, value) in [("mu0", self.mu0), ("mu1", self.mu1)] {
                    if !(0.0..=1.0).contains(&value) {
                        return Err(Error::invalid(
                            name,
                            format!("{value} is not a risk; a binary outcome's mean is in [0, 1]"),
                        ));
                    }
                }
                let bar = (self.mu0 + self.mu1) / 2.0;
                if bar <= 0.0 || bar >= 1.0 {
                    return Err(Error::invalid(
                        "mu1",
                        format!(
                            "the mean risk (mu0 + mu1) / 2 = {bar} leaves no variance \
                             muBar (1 - muBar)"
                        ),
                    ));
                }
                Ok(bar * (1.0 - bar))
            }
        }
    }

    /// The random effects of the model, checked: each SD finite and >= 0, `rho` in [-1, 1]
    /// and 0 unless both `tau` and `eta` are positive, a continuous outcome with some
    /// variance (sigma, gamma or zeta), and for a binary outcome `tau^2 + eta^2 + gamma^2`
    /// at most `sigma^2` (swPwr's checks).
    ///
    /// From correlations (swPwr), with `s2` the residual variance ([`ClosedForm::sigma_sq`]):
    /// `zeta^2 = s2 iac / (1 - iac)`; if `cac = 1`, `gamma = 0` and
    /// `tau^2 = (s2 + zeta^2) icc / (1 - icc)`; otherwise
    /// `gamma^2 = (s2 + zeta^2) icc (1 - cac) / (1 - icc)` and
    /// `tau^2 = gamma^2 cac / (1 - cac)`; `eta = rho = 0`. So icc is the share of the
    /// cluster-period variance `tau^2 + gamma^2` in the total, and cac the share of `tau^2` in
    /// `tau^2 + gamma^2`. Errors name `icc` (outside [0, 1)), `cac` (outside [0, 1]), `iac`
    /// (outside [0, 1)) or `sigma` (0 for a continuous outcome).
    pub fn components(&self) -> Result<RandomEffects> {
        let s2 = self.sigma_sq()?;
        let effects = match self.correlation {
            Correlation::RandomEffects(e) => e,
            Correlation::Coefficients { icc, cac, iac } => {
                for (name, value, top_included) in
                    [("icc", icc, false), ("cac", cac, true), ("iac", iac, false)]
                {
                    let ok = value >= 0.0 && (value < 1.0 || (top_included && value == 1.0));
                    if !ok {
                        let range = if top_included { "[0, 1]" } else { "[0, 1)" };
                        return Err(Error::invalid(name, format!("{value} is outside {range}")));
                    }
                }
                if s2 == 0.0 {
                    return Err(Error::invalid(
                        "sigma",
                        "sigma is 0: correlations need a residual variance; give the random \
                         effects (tau, gamma) instead",
                    ));
                }
                let zeta_sq = s2 * iac / (1.0 - iac);
                let total = s2 + zeta_sq;
                let (tau_sq, gamma_sq) = if cac == 1.0 {
                    (total * icc / (1.0 - icc), 0.0)
                } else {
                    let gamma_sq = icc * total * (1.0 - cac) / (1.0 - icc);
                    (gamma_sq * cac / (1.0 - cac), gamma_sq)
                };
                RandomEffects {
                    tau: tau_sq.sqrt(),
                    eta: 0.0,
                    rho: 0.0,
                    gamma: gamma_sq.sqrt(),
                    zeta: zeta_sq.sqrt(),
                }
            }
        };
        for (name, sd) in [
            ("tau", effects.tau),
            ("eta", effects.eta),
            ("gamma", effects.gamma),
            ("zeta", effects.zeta),
        ] {
            if !(sd.is_finite() && sd >= 0.0) {
                return Err(Error::invalid(
                    name,
                    format!("{sd} is not a standard deviation (finite, >= 0)"),
                ));
            }
        }
        let rho = effects.rho;
        if !(-1.0..=1.0).contains(&rho) {
            return Err(Error::invalid("rho", format!("{rho} is outside [-1, 1]")));
        }
        if rho != 0.0 && (effects.tau == 0.0 || effects.eta == 0.0) {
            return Err(Error::invalid(
                "rho",
                format!("{rho} correlates the random intercept and treatment effect, but tau or eta is 0"),
            ));
        }
        match self.outcome {
            Outcome::Gaussian { .. }
                if s2 == 0.0 && effects.gamma == 0.0 && effects.zeta == 0.0 =>
            {
                Err(Error::invalid(
                    "sigma",
                    "sigma, gamma and zeta are all 0: the cluster-period means would have no \
                     variance",
                ))
            }
            Outcome::Binomial => {
                let cluster = effects.tau.powi(2) + effects.eta.powi(2) + effects.gamma.powi(2);
                if cluster > s2 {
                    return Err(Error::invalid(
                        "tau",
                        format!(
                            "tau^2 + eta^2 + gamma^2 = {cluster} exceeds muBar (1 - muBar) = {s2}; \
                             on the probability scale the cluster variance must be below the \
                             binomial variance"
                        ),
                    ));
                }
                Ok(effects)
            }
            Outcome::Gaussian { .. } => Ok(effects),
        }
    }

    /// The patients of every cell, `clusters x periods`, checked against the design: finite
    /// and >= 0, a scalar above 0, one number per cluster or a matrix of the design's shape.
    pub fn size_matrix(&self, design: &Design) -> Result<Vec<Vec<f64>>> {
        let (rows, cols) = (design.n_clusters(), design.n_periods());
        let matrix = match &self.sizes {
            Sizes::Scalar(n) => {
                if !(*n > 0.0 && n.is_finite()) {
                    return Err(Error::invalid(
                        "n",
                        format!("{n} patients per cluster-period; a positive number is needed"),
                    ));
                }
                vec![vec![*n; cols]; rows]
            }
            Sizes::PerCluster(v) => {
                if v.len() != rows {
                    return Err(Error::invalid(
                        "n",
                        format!(
                            "{} sizes for {rows} clusters; one per cluster is needed",
                            v.len()
                        ),
                    ));
                }
                v.iter().map(|n| vec![*n; cols]).collect()
            }
            Sizes::Matrix(m) => {
                if m.len() != rows || m.iter().any(|r| r.len() != cols) {
                    let got_cols = m.iter().map(Vec::len).max().unwrap_or(0);
                    return Err(Error::invalid(
                        "n",
                        format!(
                            "a matrix of {} rows and up to {got_cols} columns for a design of \
                             {rows} clusters and {cols} periods; the shapes must agree",
                            m.len()
                        ),
                    ));
                }
                m.clone()
            }
        };
        for (i, row) in matrix.iter().enumerate() {
            if let Some((j, n)) = row
                .iter()
                .enumerate()
                .find(|(_, n)| !(n.is_finite() && **n >= 0.0))
            {
                return Err(Error::invalid(
                    "n",
                    format!(
                        "cluster '{}', period '{}' has {n} patients; a number >= 0 is needed",
                        design.clusters()[i],
                        design.periods()[j].label
                    ),
                ));
            }
        }
        Ok(matrix)
    }

    /// The power of `design` (see the [module docs](super) for the model and formulas).
    ///
    /// Errors ([`Error::InvalidArgument`] naming the field, cluster or period): an invalid
    /// parameter ([`ClosedForm::components`], [`ClosedForm::sigma_sq`], [`ClosedForm::size_matrix`],
    /// alpha outside (0, 1), a decay outside [0, 1] or with `rho != 0`); a cluster or a period
    /// without an observed cell; no observed cell under the intervention; a treatment effect
    /// that the design cannot separate from the periods; for the exposure-time model a share
    /// between 0 and 1, a contrast of the wrong length or adding up to 0, or an exposure time
    /// without an observed cell; a closed cohort (zeta > 0) whose sizes change within a
    /// cluster.
    pub fn power(&self, design: &Design) -> Result<Power> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::invalid(
                "alpha",
                format!("{} is outside (0, 1)", self.alpha),
            ));
        }
        let sigma_sq = self.sigma_sq()?;
        let components = self.components()?;
        let decay = match self.decay {
            None => 1.0,
            Some(r) if (0.0..=1.0).contains(&r) => {
                if components.rho != 0.0 {
                    return Err(Error::invalid(
                        "decay",
                        "a decaying cluster effect has no single intercept for the random \
                         treatment effect to correlate with: set rho to 0",
                    ));
                }
                r
            }
            Some(r) => return Err(Error::invalid("decay", format!("{r} is outside [0, 1]"))),
        };
        let sizes = self.size_matrix(design)?;
        let observed = observed_cells(design, &sizes)?;
        if components.zeta > 0.0 {
            closed_cohort_sizes(design, &sizes, &observed)?;
        }
        let (regressors, contrast) = self.regressors(design, &observed)?;
        let k = regressors[0][0].len();
        let j_count = design.n_periods();
        let p = j_count + k;
        // The fixed effects: one column per period (the intercept and period effects), then
        // the treatment columns; identifiability is checked on the stacked observed rows.
        let rows: usize = observed.iter().map(Vec::len).sum();
        let mut x = DMatrix::zeros(rows, p);
        let mut r = 0;
        for (i, cells) in observed.iter().enumerate() {
            for (c, &j) in cells.iter().enumerate() {
                x[(r, j)] = 1.0;
                for t in 0..k {
                    x[(r, j_count + t)] = regressors[i][c][t];
                }
                r += 1;
            }
        }
        if let Some(&col) = aliased_columns(&x).first() {
            return Err(not_identified(design, col, j_count, &self.model));
        }
        let mut information = DMatrix::zeros(p, p);
        let mut r = 0;
        for (i, cells) in observed.iter().enumerate() {
            let m = cells.len();
            let treated: Vec<f64> = cells
                .iter()
                .map(|&j| f64::from(u8::from(design.cells()[i][j].is_some_and(|s| s > 0.0))))
                .collect();
            let v = DMatrix::from_fn(m, m, |a, b| {
                let (ja, jb) = (cells[a], cells[b]);
                let (na, nb) = (sizes[i][ja], sizes[i][jb]);
                let lag = ja.abs_diff(jb) as i32;
                let mut cov = components.tau.powi(2) * decay.powi(lag)
                    + components.zeta.powi(2) / (na * nb).sqrt()
                    + components.eta.powi(2) * treated[a] * treated[b]
                    + components.rho * components.eta * components.tau * (treated[a] + treated[b]);
                if a == b {
                    cov += sigma_sq / na + components.gamma.powi(2);
                }
                cov
            });
            let v_inv = spd_inverse(
                &v,
                &format!(
                    "the covariance of cluster '{}' (its random effects are not a valid \
                     covariance)",
                    design.clusters()[i]
                ),
            )?;
            let xi = x.rows(r, m);
            information += xi.transpose() * v_inv * xi;
            r += m;
        }
        let covariance = spd_inverse(&information, "the information matrix of the design")?;
        let block = covariance.view((j_count, j_count), (k, k)).into_owned();
        let var_trt = match &contrast {
            None => block[(0, 0)],
            Some(h) => {
                let h = DVector::from_column_slice(h);
                (h.transpose() * &block * &h)[(0, 0)]
            }
        };
        if !(var_trt.is_finite() && var_trt > 0.0) {
            return Err(Error::Numerical {
                what: "the variance of the treatment effect".into(),
                message: format!("{var_trt} is not a positive variance"),
            });
        }
        let se = var_trt.sqrt();
        let effect = self.effect();
        let patients: f64 = observed
            .iter()
            .enumerate()
            .flat_map(|(i, cells)| cells.iter().map(move |&j| (i, j)))
            .map(|(i, j)| sizes[i][j])
            .sum();
        let var_individual = 4.0 * sigma_sq / patients;
        Ok(Power {
            power: two_sided_power(effect, se, self.alpha),
            var_trt,
            se,
            effect,
            alpha: self.alpha,
            components,
            sigma_sq,
            contrast,
            observed_cells: rows,
            patients,
            var_individual,
            design_effect: var_trt / var_individual,
        })
    }

    /// The treatment regressors of every observed cell (per cluster, per observed cell, one
    /// value per treatment column) and the contrast of the exposure-time model.
    #[allow(clippy::type_complexity)]
    fn regressors(
        &self,
        design: &Design,
        observed: &[Vec<usize>],
    ) -> Result<(Vec<Vec<Vec<f64>>>, Option<Vec<f64>>)> {
        let treated_cells = observed.iter().enumerate().any(|(i, cells)| {
            cells
                .iter()
                .any(|&j| design.share(i, j).is_some_and(|s| s > 0.0))
        });
        if !treated_cells {
            return Err(Error::invalid(
                "design",
                "no observed cell is under the intervention: the treatment effect cannot be \
                 estimated",
            ));
        }
        match &self.model {
            TreatmentModel::Immediate => Ok((
                observed
                    .iter()
                    .enumerate()
                    .map(|(i, cells)| {
                        cells
                            .iter()
                            .map(|&j| vec![design.share(i, j).unwrap_or(0.0)])
                            .collect()
                    })
                    .collect(),
                None,
            )),
            TreatmentModel::ExposureTime { contrast } => {
                let times = design.exposure_times()?;
                let most = times.iter().flatten().copied().max().unwrap_or(0);
                let weights = match contrast {
                    None => vec![1.0 / most as f64; most],
                    Some(h) => {
                        if h.len() != most {
                            return Err(Error::invalid(
                                "H",
                                format!(
                                    "{} weights for {most} exposure times; the contrast needs one \
                                     weight per exposure time",
                                    h.len()
                                ),
                            ));
                        }
                        let sum: f64 = h.iter().sum();
                        if !(sum.is_finite() && sum != 0.0) {
                            return Err(Error::invalid(
                                "H",
                                format!("the weights add up to {sum}; they must add up to a non-zero number (they are scaled to add up to 1)"),
                            ));
                        }
                        h.iter().map(|w| w / sum).collect()
                    }
                };
                for e in 1..=most {
                    let seen = observed
                        .iter()
                        .enumerate()
                        .any(|(i, cells)| cells.iter().any(|&j| times[i][j] == e));
                    if !seen {
                        return Err(Error::invalid(
                            "design",
                            format!("no observed cell has exposure time {e}: its effect cannot be estimated"),
                        ));
                    }
                }
                let columns = observed
                    .iter()
                    .enumerate()
                    .map(|(i, cells)| {
                        cells
                            .iter()
                            .map(|&j| {
                                (1..=most)
                                    .map(|e| f64::from(u8::from(times[i][j] == e)))
                                    .collect()
                            })
                            .collect()
                    })
                    .collect();
                Ok((columns, Some(weights)))
            }
        }
    }
}

impl fmt::Display for Power {
    /// The power, the variance of the estimate, the random effects, the cells and the design
    /// effect, one line each.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.components;
        writeln!(
            f,
            "Power {:.4} (two-sided z test at alpha {}) for an effect of {}",
            self.power,
            self.alpha,
            significant(self.effect)
        )?;
        writeln!(
            f,
            "  variance of the estimated effect {} (SE {})",
            significant(self.var_trt),
            significant(self.se)
        )?;
        writeln!(
            f,
            "  random effects: tau {}, eta {}, rho {}, gamma {}, zeta {}; residual variance {}",
            significant(c.tau),
            significant(c.eta),
            significant(c.rho),
            significant(c.gamma),
            significant(c.zeta),
            significant(self.sigma_sq)
        )?;
        if let Some(h) = &self.contrast {
            let weights: Vec<String> = h.iter().map(|w| significant(*w)).collect();
            writeln!(
                f,
                "  exposure-time model, contrast H over exposure times 1..{}: {}",
                h.len(),
                weights.join(", ")
            )?;
        }
        write!(
            f,
            "  {} observed cells, {} patients; design effect {:.3} against an individually \
             randomised trial of the same patients",
            self.observed_cells,
            significant(self.patients),
            self.design_effect
        )
    }
}

/// A number with 4 significant digits, without trailing zeros (`0.04276`, `720`, `0`).
pub(crate) fn significant(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (3 - x.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{x:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// `Phi(|theta| / se - z) + Phi(-|theta| / se - z)` with `z = Phi^-1(1 - alpha / 2)`: the
/// power of the two-sided Wald test at level `alpha` of an effect `theta` estimated with
/// standard error `se` (swPwr's formula, both tails).
pub fn two_sided_power(theta: f64, se: f64, alpha: f64) -> f64 {
    let z = normal_quantile(1.0 - alpha / 2.0);
    let ratio = theta.abs() / se;
    normal_cdf(ratio - z) + normal_cdf(-ratio - z)
}

/// Per cluster, the periods (0-based) of its observed cells: a value in the design and
/// patients. Errors name a cluster or a period without any.
fn observed_cells(design: &Design, sizes: &[Vec<f64>]) -> Result<Vec<Vec<usize>>> {
    let observed: Vec<Vec<usize>> = design
        .cells()
        .iter()
        .zip(sizes)
        .map(|(row, n)| {
            (0..row.len())
                .filter(|&j| row[j].is_some() && n[j] > 0.0)
                .collect()
        })
        .collect();
    if let Some(i) = observed.iter().position(Vec::is_empty) {
        return Err(Error::invalid(
            "design",
            format!(
                "cluster '{}' is never observed (every cell is missing or has no patients); \
                 leave it out of the design",
                design.clusters()[i]
            ),
        ));
    }
    let mut seen = vec![false; design.n_periods()];
    for &j in observed.iter().flatten() {
        seen[j] = true;
    }
    if let Some(j) = seen.iter().position(|s| !s) {
        return Err(Error::invalid(
            "design",
            format!(
                "period '{}' has no observed cell: its period effect cannot be estimated; leave \
                 it out of the design",
                design.periods()[j].label
            ),
        ));
    }
    Ok(observed)
}

/// A closed cohort's sizes must be the same in every observed period of a cluster (swPwr).
fn closed_cohort_sizes(design: &Design, sizes: &[Vec<f64>], observed: &[Vec<usize>]) -> Result<()> {
    for (i, cells) in observed.iter().enumerate() {
        let first = sizes[i][cells[0]];
        if let Some(&j) = cells.iter().find(|&&j| sizes[i][j] != first) {
            return Err(Error::invalid(
                "n",
                format!(
                    "cluster '{}' has {first} patients in period '{}' but {} in period '{}'; a \
                     closed cohort (zeta > 0) follows the same patients, so its size must not \
                     change",
                    design.clusters()[i],
                    design.periods()[cells[0]].label,
                    sizes[i][j],
                    design.periods()[j].label
                ),
            ));
        }
    }
    Ok(())
}

/// The error for an aliased fixed-effect column `col` (periods first, then treatment).
fn not_identified(design: &Design, col: usize, periods: usize, model: &TreatmentModel) -> Error {
    let what = if col < periods {
        format!("the effect of period '{}'", design.periods()[col].label)
    } else {
        match model {
            TreatmentModel::Immediate => "the treatment effect".to_string(),
            TreatmentModel::ExposureTime { .. } => {
                format!("the effect at exposure time {}", col - periods + 1)
            }
        }
    };
    Error::invalid(
        "design",
        format!(
            "{what} cannot be separated from the period effects (every cluster is in the same \
             state in each period, or the treated cells are confounded with calendar time)"
        ),
    )
}
