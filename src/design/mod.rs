//! Designing a cluster trial: its schedule ([`Design`]), the closed-form power of the treatment
//! effect by generalised least squares ([`ClosedForm`]), as swCRTdesign's `swPwr` computes it,
//! and the sample size for a target power ([`ClosedForm::solve_cluster_period_size`],
//! [`ClosedForm::solve_clusters_per_wave`]).
//!
//! This module sits below the models (it uses only `core`): a design is what a trial is
//! planned with, before there are data. `report::figures` draws a design
//! ([`RolloutDiagram`](crate::report::figures::RolloutDiagram)), and `studies` builds the
//! named designs (the Træning for Livet trial, the KTH 2.0 schedule on Funen). Not to be
//! confused with [`frame::design`](crate::frame::design), the design *matrices* of a model
//! fitted to data.
//!
//! # Designs
//! A [`Design`] is the cluster x period matrix of the share under the intervention: 0, 1, a
//! fraction (a transition period at part of the effect, or a calendar period in which the
//! intervention started part-way), or no value for a cell that is not observed; with cluster
//! labels and periods, which may be calendar periods with dates ([`Period`]). Constructors:
//! the standard complete stepped wedge with swCRTdesign's `swDsn` options ([`SteppedWedge`]:
//! clusters per wave, baseline and extra periods, transition fractions, unobserved
//! implementation periods), parallel designs with and without a baseline, one row per wave
//! (`swDsn`'s `swBlk`), incomplete designs ([`Design::observed_window`],
//! [`Design::with_unobserved`]), a staggered rollout by start period, and a schedule read from
//! rollout dates over calendar periods ([`Design::from_rollout_dates`], [`Period::months`]).
//!
//! # The model behind the closed form
//! As in swPwr (Hussey & Hughes 2007; Hughes et al.), the outcome is modelled by its
//! cluster-period means. For cluster `i` and period `j` with `n_ij` patients,
//!
//! ```text
//! ybar_ij = mu_j + theta X_ij + a_i + x_ij b_i + c_ij + (closed cohort) u_ij + e_ij
//!   mu_j      fixed period effects (an intercept and J - 1 period contrasts)
//!   X_ij      the design's share under the intervention, as it is (a fraction enters linearly)
//!   a_i       cluster intercept,         var tau^2
//!   b_i       cluster treatment effect,  var eta^2, corr(a_i, b_i) = rho
//!   x_ij      1 if the cell's share is above 0, else 0 (so a transition cell at 0.5 gets
//!             the whole eta^2: swPwr's choice; SteppedPower scales eta by the share)
//!   c_ij      cluster-period effect,     var gamma^2
//!   u_ij      mean of the cohort's individual effects, cov zeta^2 / sqrt(n_ij n_il)
//!   e_ij      residual mean,             var sigma^2 / n_ij
//! ```
//!
//! so that the cluster's observed cells have the covariance
//!
//! ```text
//! V_i = tau^2 11' + eta^2 x x' + rho eta tau (x 1' + 1 x') + zeta^2 [1 / sqrt(n_ij n_il)]
//!       + diag(sigma^2 / n_ij + gamma^2)
//! ```
//!
//! and `V` is block diagonal over clusters. With `X` the fixed-effects matrix (period
//! indicators and the treatment column), the GLS estimate has covariance
//! `(X' V^-1 X)^-1 = (sum_i X_i' V_i^-1 X_i)^-1`, and `var_trt` is its treatment element. The
//! power of the two-sided test at level `alpha` uses the normal reference:
//!
//! ```text
//! power = Phi(|theta| / se - z) + Phi(-|theta| / se - z),  se = sqrt(var_trt),
//! z = Phi^-1(1 - alpha / 2),  theta = mu1 - mu0
//! ```
//!
//! Cells without a value in the design, and cells with 0 patients in a matrix of sizes, are
//! dropped (their rows of `X` and rows and columns of `V`). The sizes are a scalar, one per
//! cluster or a cluster x period matrix ([`Sizes`]); they need not be whole numbers (an
//! expected number of patients per month is fine), unlike swPwr's.
//!
//! **The exposure-time model** (Kenny et al. 2022, swPwr's `H`): instead of one `theta X_ij`,
//! one effect `delta_e` per exposure time `e` (the number of periods under the intervention so
//! far; a 0/1 design is needed), and `theta = H' delta` with the weights `H` scaled to add up
//! to 1 (equal by default): `var_trt = H' Cov(delta) H`.
//!
//! **Correlations instead of random effects** (swPwr's icc, cac, iac): with `s2` the residual
//! variance, `zeta^2 = s2 iac / (1 - iac)`; `cac = 1`: `tau^2 = (s2 + zeta^2) icc / (1 - icc)`,
//! `gamma = 0`; otherwise `gamma^2 = (s2 + zeta^2) icc (1 - cac) / (1 - icc)`,
//! `tau^2 = gamma^2 cac / (1 - cac)`; `eta = rho = 0` ([`ClosedForm::components`]).
//!
//! **Exponential decay** (Kasza et al. 2019; an extension, not in swPwr): the cluster effect
//! decays between periods, `cov(a_ij, a_il) = tau^2 r^|j - l|`, so that `tau^2 11'` above
//! becomes `tau^2 [r^|j - l|]`; `r = 1` is the model above, and with `gamma = 0` it is
//! Kasza's model with `tau^2` the cluster-period variance. Not combined with `rho`.
//!
//! **The design effect** ([`Power::design_effect`]) compares `var_trt` with the variance of
//! the same effect in an individually randomised trial of the same patients, half to each
//! arm, and no clustering: `4 sigma^2 / N`.
//!
//! # Binary outcomes: what the approximation assumes
//! For `distn = binomial` the model above is a *linear* model on the risk scale: `theta` is a
//! risk difference, `tau`, `eta` and `gamma` are SDs of cluster effects on the probability
//! scale, and every cell's residual variance is the same stand-in `sigma^2 = muBar (1 - muBar)`
//! with `muBar = (mu0 + mu1) / 2` (SteppedPower uses `mu_ij (1 - mu_ij)` per cell; its power
//! differs by up to about 0.01). It assumes cluster-period means close to normal, variances
//! that do not depend on the risk, a test with a known variance (z, not t) and enough clusters
//! for the GLS variance to be the actual one. For rare outcomes (30-day mortality of 8-12%)
//! with few clusters (6 to 12) each of these is strained: the trial will be analysed by a
//! logistic mixed model or a GEE on the logit scale, whose cluster variance (a latent-scale
//! ICC) is not the probability-scale `tau^2`, whose Wald or t test with few clusters has its
//! own size and power, and whose fits can fail or be singular. The closed form is then a
//! quick first look; prefer simulating the actual analysis (simulation power, with failed and
//! singular fits counted) when the outcome is binary and rare, clusters are few (fewer than
//! about 20), cluster sizes vary a lot, the analysis is not the linear mixed model (GEE with a
//! small-sample correction, a randomisation test), or the effect is a ratio. The reference
//! cases in `tests/reference/power/` show how far apart the two can be: for the Træning for
//! Livet design (6 clusters, 60 patients per cell, mortality 11.9% vs 8.0%), swPwr's power with
//! icc 0.02 on the probability scale is 0.48, while 500 trials simulated from a logistic model
//! with a latent-scale icc of 0.02 and analysed by glmer (Wald z) reject in 58% (Monte Carlo SE
//! 2.2%): an "icc of 0.02" is a different clustering on the two scales, and the closed form says
//! nothing about how the fitted analysis behaves.
//!
//! # Simulation power
//! [`effects::power`](crate::effects::power) simulates the trials of a design from a logistic
//! model (cluster and cluster-period effects on the latent scale, period effects, an effect
//! that builds up with exposure time; [`sim::CountModel`](crate::sim::CountModel)) and runs on
//! each the analysis that will be run: the Hussey & Hughes mixed model with a Wald z or
//! between-within t test, a GEE with a bias-corrected sandwich and t on G - p, or a
//! randomisation test. It reports the power and the type I error with their Monte Carlo SEs,
//! the bias and coverage of the estimate, and every failed, non-converged and singular fit;
//! [`SimulationPower::from_closed_form`](crate::effects::power::SimulationPower::from_closed_form)
//! simulates the model that matches a [`ClosedForm`] (its `icc` taken on the latent scale), and
//! [`probability_scale_icc`](crate::effects::power::probability_scale_icc) gives the closed form
//! the same clustering on the probability scale, so that the two describe one population.
//! Simulate rather than trust the closed form when:
//! - the outcome is binary and rare, or clusters are few (fewer than about 20): the Wald z test
//!   of the mixed model with 10 clusters rejects 6-7% of null trials at 5% once clusters are
//!   large (the KTH 2.0 schedule on Funen), which no closed form shows;
//! - the analysis is not the linear mixed model: a GEE whose t reference has G - p degrees of
//!   freedom (4 for 10 clusters over 5 periods) keeps a type I error of 1-2% and has a fraction
//!   of the closed form's power, or cannot be fitted at all (G <= p); a randomisation test
//!   cannot reject below `1 / (number of allocations)`;
//! - cells are small: periods without events (left out of a trial's fit, its limit) and arms
//!   without events (failed fits) change what the analysis can do;
//! - sizes vary between clusters or over time, the effect builds up with exposure time, or
//!   there are period effects on the logit scale: the simulation draws exactly that.
//!
//! With the same clustering on both scales, the closed form was within about 0.025 of the
//! simulated mixed model's power on the KTH 2.0 and Træning for Livet designs (README,
//! "Is KTH 2.0 on Funen powered?"); with the icc read on different scales, the reference case
//! above is 0.10 apart.

mod case;
mod power;
mod schedule;
mod solve;

pub use case::{Contrast, PowerCase};
pub use power::{
    two_sided_power, ClosedForm, Correlation, Outcome, Power, RandomEffects, Sizes, TreatmentModel,
};
pub use schedule::{CellCounts, Design, Period, SteppedWedge};
pub use solve::{SampleSize, MAX_CLUSTERS_PER_WAVE, MAX_CLUSTER_PERIOD_SIZE};
