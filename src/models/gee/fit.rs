//! Fitting a [`Gee`]: the data, the Fisher scoring of (beta, alpha), and the variances.

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use std::sync::Arc;

use super::cluster_period;
use super::equations::{Cluster, Data, MeanTerms, PairTerms, Problem};
use super::patterns::Patterns;
use super::{CorrelationParameter, Gee, GeeFit, GeeState, SeKind, WorkingCorrelation};
use crate::core::error::{Error, Result};
use crate::core::linalg::spd_inverse;
use crate::data::Cohort;
use crate::frame::counterfactual::FitFrame;
use crate::frame::design::{Design, Grouping};
use crate::models::coef_table::{check_level, coef_table};
use crate::models::family::{Family, Link};
use crate::models::fitted::{Assignment, Refit, RowUnits};

/// Starting value of every correlation parameter (geeCRT's).
const ALPHA_START: f64 = 0.01;

/// Shrinkings of alpha (by 0.95) tried in an iteration whose alpha is out of the valid range.
const MAX_SHRINKS: usize = 20;

pub(super) fn fit(spec: &Gee, cohort: &Cohort) -> Result<GeeFit> {
    check_level(spec.level)?;
    check_family(spec)?;
    check_model(spec)?;
    check_fixed(spec)?;
    let (problem, design, labels) = problem(spec, cohort)?;
    let (g, p, q) = (problem.clusters.len(), problem.p(), problem.q());
    if g <= p {
        return Err(Error::too_few(
            format!("a GEE with {p} mean parameters (t reference on G - p df)"),
            "clusters",
            g,
            p + 1,
        ));
    }
    let (solution, variances) = if spec.cluster_period_means {
        let means = cluster_period::aggregate(&problem, &spec.cluster)?;
        let solution = cluster_period::solve(spec, &means, None)?;
        let v = cluster_period::variances(spec, &means, &solution.beta, &solution.alpha)?;
        (solution, v)
    } else {
        let solution = solve(spec, &problem, None)?;
        let v = variances(spec, &problem, &solution.beta, &solution.alpha)?;
        (solution, v)
    };
    let Solution {
        beta,
        alpha,
        iterations,
        converged,
        ..
    } = solution;
    let df = (g - p) as f64;
    let chosen = variances.beta(spec.se);
    let coefficients = coef_table(
        &design.names,
        beta.as_slice(),
        &(0..p).map(|j| chosen[(j, j)]).collect::<Vec<_>>(),
        Some(df),
        spec.level,
        matches!(spec.link, Link::Logit | Link::Log),
    )?;
    let alpha_se = variances.alpha(spec.se);
    let fixed = spec.fixed_correlation.is_some();
    let correlation_parameters = spec
        .correlation
        .parameter_names()
        .iter()
        .enumerate()
        .map(|(l, name)| CorrelationParameter {
            name: name.to_string(),
            estimate: alpha[l],
            std_error: alpha_se
                .as_ref()
                .filter(|_| !fixed)
                .map(|v| v[(l, l)].sqrt()),
        })
        .collect();
    let diag_sqrt = |m: &DMatrix<f64>, n: usize| (0..n).map(|j| m[(j, j)].sqrt()).collect();
    let se_all = SeKind::ALL
        .into_iter()
        .map(|k| (k, diag_sqrt(&variances.beta(k), p)))
        .collect();
    let alpha_se_all = SeKind::ALL
        .into_iter()
        .filter(|_| !fixed)
        .filter_map(|k| variances.alpha(k).map(|v| (k, diag_sqrt(&v, q))))
        .collect();
    let frame = FitFrame::new(
        cohort,
        &spec.formula,
        &options(spec),
        design.used_rows(),
        &design.names,
        Some((&spec.cluster, &labels)),
    );
    let quasi_loglik = quasi_likelihood(&problem, &beta, variances.scale);
    Ok(GeeFit {
        formula: spec.formula.text.clone(),
        family: spec.family,
        link: spec.link,
        correlation: spec.correlation,
        correlation_fixed: fixed,
        maee: spec.maee,
        cluster_period_means: spec.cluster_period_means,
        se: spec.se,
        n_obs: design.n(),
        n_clusters: g,
        missing: design.missing,
        level: spec.level,
        coefficients,
        correlation_parameters,
        se_all,
        alpha_se_all,
        vcov: chosen
            .row_iter()
            .map(|r| r.iter().copied().collect())
            .collect(),
        df,
        scale: variances.scale,
        quasi_loglik,
        iterations,
        converged,
        out_of_range_pairs: variances.out_of_range,
        state: Arc::new(GeeState {
            spec: spec.clone(),
            problem,
            beta,
            alpha,
            vcov: chosen,
            frame,
        }),
    })
}

/// The families and links the GEE takes: binomial with the logit, log or identity link;
/// Poisson with the log or identity link; Gaussian with the identity or log link.
fn check_family(spec: &Gee) -> Result<()> {
    let ok = match spec.family {
        Family::Binomial => matches!(spec.link, Link::Logit | Link::Log | Link::Identity),
        Family::Poisson | Family::Gaussian => matches!(spec.link, Link::Log | Link::Identity),
        Family::Gamma | Family::NegativeBinomial(_) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "link",
            format!(
                "the GEE takes binomial (logit, log, identity), Poisson (log, identity) or \
                 Gaussian (identity, log) outcomes, not {} with the {} link",
                spec.family, spec.link
            ),
        ))
    }
}

/// A fixed working correlation has one value per correlation parameter, each a correlation
/// (in (-1, 1); rho of the decay in (0, 1)), and is for the patient-level model.
fn check_fixed(spec: &Gee) -> Result<()> {
    let Some(values) = &spec.fixed_correlation else {
        return Ok(());
    };
    let names = spec.correlation.parameter_names();
    let refuse = |message: String| Err(Error::invalid("fixed correlation", message));
    if spec.cluster_period_means {
        return refuse("the cluster-period means model estimates its correlations".into());
    }
    if values.len() != names.len() {
        return refuse(format!(
            "the {} working correlation has {} parameters ({}), {} values were given",
            spec.correlation,
            names.len(),
            names.join(", "),
            values.len()
        ));
    }
    for (name, &v) in names.iter().zip(values) {
        let low = if *name == "rho" { 0.0 } else { -1.0 };
        if !(v > low && v < 1.0) {
            return refuse(format!("{name} = {v} is outside ({low}, 1)"));
        }
    }
    Ok(())
}

/// Refuses the combinations the cluster-period means model does not define: another family
/// than binomial or link than the logit, and the independence or block exchangeable
/// correlation.
fn check_model(spec: &Gee) -> Result<()> {
    use WorkingCorrelation::{BlockExchangeable, Independence};
    let refuse = |message: String| Err(Error::invalid("working correlation", message));
    match (spec.cluster_period_means, spec.correlation) {
        (true, _) if spec.family != Family::Binomial => Err(Error::invalid(
            "family",
            "the cluster-period means model is for binary outcomes",
        )),
        (true, Independence | BlockExchangeable) => refuse(format!(
            "the cluster-period means model takes exchangeable, nested or decay, not {}",
            spec.correlation
        )),
        (true, _) if spec.weights.is_some() => Err(Error::invalid(
            "weights",
            "the cluster-period means model takes no prior weights",
        )),
        (true, _) if spec.link != Link::Logit => Err(Error::invalid(
            "link",
            "the cluster-period means model is fitted with the logit link",
        )),
        (true, _) if spec.period.is_none() => Err(Error::invalid(
            "period",
            "the cluster-period means model needs a period column",
        )),
        _ => Ok(()),
    }
}

/// The quasi-likelihood of the mean model at `beta` as if the outcomes were independent (as
/// QIC uses it): `-D / (2 phi)` with the family's (prior-weighted) deviance D and scale phi;
/// for 0/1 outcomes the binomial log-likelihood.
fn quasi_likelihood(problem: &Problem, beta: &DVector<f64>, scale: f64) -> f64 {
    let data = &*problem.data;
    let deviance: f64 = problem
        .clusters
        .iter()
        .flat_map(|c| c.rows.iter())
        .map(|&row| {
            let mu = problem.link.inverse(data.eta(row, beta));
            problem.family.deviance(data.y[row], mu, data.weight(row))
        })
        .sum();
    -deviance / (2.0 * scale)
}

/// The estimates on the clusters `sample` of a fit's problem, from the fit's estimate (then
/// from the independence start, as the fit itself starts).
pub(super) fn refit(state: &GeeState, sample: &[usize]) -> Result<Vec<f64>> {
    let problem = state.problem.on_clusters(sample);
    let found = solve_from_fit(state, &problem, "the GEE refit of a cluster sample")?;
    Ok(found.beta.iter().copied().collect())
}

/// The estimates of `problem` (a cluster sample's, or the rows under another assignment) from
/// the fit's estimate, then from the independence start; `what` names the refit in the error
/// when neither converges.
fn solve_from_fit(state: &GeeState, problem: &Problem, what: &str) -> Result<Solution> {
    let warm = solve_model(&state.spec, problem, Some((&state.beta, &state.alpha)));
    let found = match warm {
        Ok(found) if found.converged => found,
        _ => solve_model(&state.spec, problem, None)?,
    };
    if !found.converged {
        return Err(Error::NotConverged {
            what: what.into(),
            iterations: found.iterations,
            criterion: found.last_step,
        });
    }
    Ok(found)
}

/// The estimates with the treatment column of `on` reassigned and the offset shifted (see
/// [`crate::models::Fitted::refit_assigned`]), and, if asked, the standard errors of the fit's
/// `se` kind at them. The covariate patterns of each cluster's pair sums are formed again.
pub(super) fn refit_assigned(
    state: &GeeState,
    on: &RowUnits,
    assignment: &Assignment<'_>,
) -> Result<Refit> {
    on.check(assignment)?;
    let spec = &state.spec;
    let base = &state.problem;
    let data = &*base.data;
    let j = on.column;
    let mut xt = data.xt.clone();
    for i in 0..xt.ncols() {
        xt[(j, i)] = on.value(i, assignment);
    }
    let offset: Vec<f64> = (0..xt.ncols())
        .map(|i| data.offset.as_ref().map_or(0.0, |o| o[i]) + assignment.shift * data.xt[(j, i)])
        .collect();
    let mut clusters = base.clusters.clone();
    if spec.correlation != WorkingCorrelation::BlockExchangeable {
        for c in &mut clusters {
            c.patterns = Patterns::of(
                &c.rows,
                &c.period,
                &xt,
                Some(&offset),
                data.weight.as_deref(),
            );
        }
    }
    let problem = Problem {
        data: Arc::new(Data {
            xt,
            y: data.y.clone(),
            offset: Some(offset),
            weight: data.weight.clone(),
        }),
        clusters,
        ..base.on_clusters(&[])
    };
    let found = solve_from_fit(state, &problem, "the GEE refit of an assignment")?;
    let std_errors = if assignment.std_errors {
        let v = if spec.cluster_period_means {
            let means = cluster_period::aggregate(&problem, &spec.cluster)?;
            cluster_period::variances(spec, &means, &found.beta, &found.alpha)?
        } else {
            variances(spec, &problem, &found.beta, &found.alpha)?
        };
        let b = v.beta(spec.se);
        Some((0..b.nrows()).map(|k| b[(k, k)].sqrt()).collect())
    } else {
        None
    };
    Ok(Refit {
        psi: found.beta.iter().copied().collect(),
        std_errors,
        singular: false,
    })
}

/// The estimates of the patient-level GEE, or of the cluster-period means model.
fn solve_model(
    spec: &Gee,
    problem: &Problem,
    start: Option<(&DVector<f64>, &[f64])>,
) -> Result<Solution> {
    if spec.cluster_period_means {
        cluster_period::solve(
            spec,
            &cluster_period::aggregate(problem, &spec.cluster)?,
            start,
        )
    } else {
        solve(spec, problem, start)
    }
}

/// The design options with the cluster, period and individual columns required complete.
fn options(spec: &Gee) -> crate::frame::design::DesignOptions {
    let mut options = spec.design.clone();
    options.extra_columns.push(spec.cluster.clone());
    options.extra_columns.extend(spec.weights.iter().cloned());
    options.extra_columns.extend(spec.period.iter().cloned());
    options
        .extra_columns
        .extend(spec.individual.iter().cloned());
    options
}

/// The problem (design, response, clusters), the design and the cluster labels.
fn problem(spec: &Gee, cohort: &Cohort) -> Result<(Problem, Design, Vec<String>)> {
    let needs_period = spec.cluster_period_means
        || matches!(
            spec.correlation,
            WorkingCorrelation::NestedExchangeable
                | WorkingCorrelation::BlockExchangeable
                | WorkingCorrelation::ExponentialDecay
        );
    if needs_period && spec.period.is_none() {
        return Err(Error::invalid(
            "period",
            format!(
                "the {} working correlation needs a period column",
                spec.correlation
            ),
        ));
    }
    if spec.correlation == WorkingCorrelation::BlockExchangeable && spec.individual.is_none() {
        return Err(Error::invalid(
            "individual",
            "the block exchangeable working correlation needs a patient column",
        ));
    }
    let design = Design::new(cohort, &spec.formula, &options(spec))?;
    let (valid, expected): (fn(f64) -> bool, &str) = match spec.family {
        Family::Binomial => (|y| y == 0.0 || y == 1.0, "a binary GEE needs 0/1 outcomes"),
        Family::Poisson => (
            |y| y >= 0.0 && y.is_finite(),
            "a Poisson GEE needs counts (numbers >= 0)",
        ),
        _ => (f64::is_finite, "a Gaussian GEE needs finite numbers"),
    };
    if let Some(k) = design.y.iter().position(|&y| !valid(y)) {
        return Err(Error::InvalidResponse {
            column: spec.formula.response_columns().join(", "),
            row: design.rows[k] + 1,
            value: design.y[k],
            family: spec.family.to_string(),
            expected: expected.into(),
        });
    }
    let groups = Grouping::new(cohort, &spec.cluster, &design.rows)?;
    let codes = |column: &Option<String>| -> Result<Vec<u32>> {
        match column {
            Some(c) if needs_period || spec.individual.as_ref() == Some(c) => {
                Ok(Grouping::new(cohort, c, &design.rows)?
                    .codes
                    .into_iter()
                    .map(|k| k as u32)
                    .collect())
            }
            _ => Ok(vec![0; design.rows.len()]),
        }
    };
    let period = codes(&spec.period)?;
    let individual = codes(&spec.individual)?;
    let mut clusters: Vec<Cluster> = groups
        .labels
        .iter()
        .map(|label| Cluster {
            patterns: None,
            label: label.clone(),
            rows: Vec::new(),
            period: Vec::new(),
            individual: Vec::new(),
        })
        .collect();
    for (row, &g) in groups.codes.iter().enumerate() {
        let c = &mut clusters[g];
        c.rows.push(row);
        c.period.push(period[row]);
        c.individual.push(individual[row]);
    }
    let xt = design.x.transpose();
    let weight = match &spec.weights {
        Some(column) => Some(design.prior_weights(cohort, Some(column))?),
        None => None,
    };
    if spec.correlation == WorkingCorrelation::BlockExchangeable {
        check_one_row_per_patient_period(&clusters, spec)?;
    } else {
        for c in &mut clusters {
            c.patterns = Patterns::of(
                &c.rows,
                &c.period,
                &xt,
                design.offset.as_deref(),
                weight.as_deref(),
            );
        }
    }
    let data = Data {
        xt,
        y: design.y.clone(),
        offset: design.offset.clone(),
        weight,
    };
    let problem = Problem {
        data: Arc::new(data),
        family: spec.family,
        link: spec.link,
        correlation: spec.correlation,
        periods: period.iter().max().map_or(1, |&t| t as usize + 1),
        clusters,
    };
    Ok((problem, design, groups.labels))
}

/// In a closed cohort each patient has at most one row per period.
fn check_one_row_per_patient_period(clusters: &[Cluster], spec: &Gee) -> Result<()> {
    for c in clusters {
        let mut seen: Vec<(u32, u32)> = c
            .individual
            .iter()
            .copied()
            .zip(c.period.iter().copied())
            .collect();
        seen.sort_unstable();
        if seen.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::Cluster {
                column: spec.cluster.clone(),
                message: format!(
                    "in cluster '{}' a patient (column '{}') has two rows in one period; the \
                     block exchangeable correlation needs one row per patient and period",
                    c.label,
                    spec.individual.as_deref().unwrap_or_default()
                ),
            });
        }
    }
    Ok(())
}

/// The mean terms of every cluster at scale `scale` (in parallel; the sums are taken in
/// cluster order, so the result does not depend on the number of threads), and their sums
/// `sum u`, `sum M`.
fn mean_pass(
    problem: &Problem,
    beta: &DVector<f64>,
    alpha: &[f64],
    scale: f64,
) -> Result<(Vec<MeanTerms>, DVector<f64>, DMatrix<f64>)> {
    let p = problem.p();
    let terms = (0..problem.clusters.len())
        .into_par_iter()
        .map(|c| problem.mean_terms(c, beta, alpha, scale))
        .collect::<Result<Vec<_>>>()?;
    let mut u = DVector::zeros(p);
    let mut m = DMatrix::zeros(p, p);
    for t in &terms {
        u += &t.u;
        m += &t.m;
    }
    Ok((terms, u, m))
}

/// The mean part of every cluster at (beta, alpha), with the scale estimated there (for the
/// Poisson and Gaussian families) and the MAEE adjustments.
struct Pass {
    terms: Vec<MeanTerms>,
    /// `sum u`.
    u: DVector<f64>,
    /// `sum M`.
    info: DMatrix<f64>,
    /// The MAEE adjustment `t_c` of each cluster (None for UEE).
    shifts: Vec<Option<DVector<f64>>>,
    /// The scale phi (1 for binary outcomes).
    scale: f64,
}

/// The [`Pass`] at (`beta`, `alpha`), from the terms at the scale `scale` of the last pass.
///
/// The scale of Poisson and Gaussian outcomes is the bias-adjusted moment estimate of geeCRT's
/// continuous MAEE (Preisser, Lu & Qaqish 2008): with `E[r_i r_i'] ~ (I - H_i) V_i`,
/// `phi = sum_i sum_j w_ij r_ij (r_ij + (D_i t_i)_j) / v_ij / (N - p)`, `t_i` the adjustment of
/// [`adjustment`], whatever the correlation equations; the terms are then rescaled to it
/// (`u`, `M` by `phi_old / phi`, the residuals `e` by its square root; `t` does not change).
fn pass(
    spec: &Gee,
    problem: &Problem,
    beta: &DVector<f64>,
    alpha: &[f64],
    scale: f64,
) -> Result<Pass> {
    let (mut terms, mut u, mut info) = mean_pass(problem, beta, alpha, scale)?;
    let estimated = problem.family != Family::Binomial;
    let adjustments: Vec<Option<DVector<f64>>> = if spec.maee || estimated {
        terms
            .iter()
            .enumerate()
            .map(|(c, t)| adjustment(problem, c, t, &info).map(Some))
            .collect::<Result<_>>()?
    } else {
        vec![None; terms.len()]
    };
    let mut scale = scale;
    if estimated {
        let n: usize = problem.clusters.iter().map(|c| c.rows.len()).sum();
        let products: f64 = terms
            .iter()
            .zip(&adjustments)
            .map(|(t, adjust)| {
                let dt = adjust.as_ref().map(|a| &t.d * a);
                (0..t.e.len())
                    .map(|j| t.e[j] * (t.e[j] + dt.as_ref().map_or(0.0, |dt| dt[j] / t.s[j])))
                    .sum::<f64>()
            })
            .sum();
        let ratio = products / (n - problem.p()) as f64;
        if !(ratio > 0.0 && ratio.is_finite()) {
            return Err(Error::Numerical {
                what: "the GEE's scale".into(),
                message: format!(
                    "its estimate is {}: the model fits the outcomes exactly",
                    scale * ratio
                ),
            });
        }
        let root = ratio.sqrt();
        for t in &mut terms {
            t.e.iter_mut().for_each(|e| *e /= root);
            t.s.iter_mut().for_each(|s| *s *= root);
            t.u /= ratio;
            t.m /= ratio;
        }
        u /= ratio;
        info /= ratio;
        scale *= ratio;
    }
    let shifts = if spec.maee {
        adjustments
    } else {
        vec![None; terms.len()]
    };
    Ok(Pass {
        terms,
        u,
        info,
        shifts,
        scale,
    })
}

/// The MAEE adjustment `t_c = (sum M - M_c)^{-1} u_c` of cluster `c` (`(V - Omega)^{-1}` by the
/// Woodbury identity, see the module docs). `sum M - M_c` must be positive definite
/// (`V_c - Omega_c` is, then).
fn adjustment(
    problem: &Problem,
    c: usize,
    t: &MeanTerms,
    info: &DMatrix<f64>,
) -> Result<DVector<f64>> {
    let rest = info - &t.m;
    let chol = rest.cholesky().ok_or_else(|| Error::Numerical {
        what: format!(
            "the MAEE adjustment of cluster '{}'",
            problem.clusters[c].label
        ),
        message: "V - Omega is not positive definite (the cluster determines the estimate \
                  alone)"
            .to_string(),
    })?;
    Ok(chol.solve(&t.u))
}

/// The correlation terms of every cluster.
fn pair_pass(
    problem: &Problem,
    terms: &[MeanTerms],
    alpha: &[f64],
    shifts: &[Option<DVector<f64>>],
    cross: bool,
) -> Result<Vec<PairTerms>> {
    terms
        .par_iter()
        .zip(shifts)
        .enumerate()
        .map(|(c, (t, shift))| problem.pair_terms(c, t, alpha, shift.as_ref(), cross))
        .collect()
}

/// Where the Fisher scoring stopped.
pub(super) struct Solution {
    pub beta: DVector<f64>,
    pub alpha: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
    /// The largest change of a parameter in the last iteration.
    pub last_step: f64,
}

impl Solution {
    /// The estimates after `iterations`, converged when `last_step` is within `tolerance`.
    pub fn at(
        beta: DVector<f64>,
        alpha: Vec<f64>,
        iterations: usize,
        last_step: f64,
        tolerance: f64,
    ) -> Solution {
        Solution {
            beta,
            alpha,
            iterations,
            converged: last_step <= tolerance,
            last_step,
        }
    }
}

/// Fisher scoring of beta and alpha together, from `start` or else from the independence GEE
/// (a GLM) and `alpha = 0.01`.
fn solve(
    spec: &Gee,
    problem: &Problem,
    start: Option<(&DVector<f64>, &[f64])>,
) -> Result<Solution> {
    let q = problem.q();
    let tolerance = spec.control.tolerance;
    let (mut beta, mut alpha) = match start {
        Some((beta, alpha)) => (beta.clone(), alpha.to_vec()),
        None => {
            let mut beta = start_beta(problem)?;
            let zeros = vec![0.0; q.max(1)];
            let mut last_step = f64::INFINITY;
            let mut iterations = 0;
            while last_step > tolerance && iterations < spec.control.max_iter {
                let (_, u, m) = mean_pass(problem, &beta, &zeros, 1.0)?;
                let step = spd_inverse(&m, "the GEE's information for beta")? * u;
                take_step(problem, &mut beta, &step)?;
                last_step = step.amax();
                iterations += 1;
            }
            let converged = last_step <= tolerance;
            if q == 0 {
                return Ok(Solution::at(
                    beta,
                    Vec::new(),
                    iterations,
                    last_step,
                    tolerance,
                ));
            }
            if !converged {
                // No start for the correlation parameters (an outcome the mean model separates:
                // no events in an arm or a period, when beta diverges).
                return Err(Error::NotConverged {
                    what: "the independence GEE (a GLM) that starts the correlated GEE; an \
                           outcome without events (or with only events) in a level of the mean \
                           model makes its estimates diverge"
                        .into(),
                    iterations,
                    criterion: last_step,
                });
            }
            let alpha = match &spec.fixed_correlation {
                Some(fixed) => fixed.clone(),
                None => vec![ALPHA_START; q],
            };
            (beta, alpha)
        }
    };
    let mut last_step = f64::INFINITY;
    if q == 0 || spec.fixed_correlation.is_some() {
        // Independence from a start, or a fixed working correlation: beta alone.
        for iterations in 1..=spec.control.max_iter {
            let (_, u, m) = mean_pass(problem, &beta, &alpha, 1.0)?;
            let step = spd_inverse(&m, "the GEE's information for beta")? * u;
            take_step(problem, &mut beta, &step)?;
            last_step = step.amax();
            if last_step <= tolerance {
                return Ok(Solution::at(beta, alpha, iterations, last_step, tolerance));
            }
        }
        let iterations = spec.control.max_iter;
        return Ok(Solution::at(beta, alpha, iterations, last_step, tolerance));
    }
    let mut scale = 1.0;
    for iteration in 1..=spec.control.max_iter {
        // Alpha is shrunk by 0.95 (up to MAX_SHRINKS times) while some pair's working
        // correlation is out of the range its means allow (geeCRT's `shrink = "ALPHA"`).
        let mut shrinks = 0;
        let (u, info, pairs) = loop {
            let pass = pass(spec, problem, &beta, &alpha, scale)?;
            scale = pass.scale;
            let pairs = pair_pass(problem, &pass.terms, &alpha, &pass.shifts, false)?;
            if shrinks < MAX_SHRINKS && pairs.iter().any(|t| t.out_of_range > 0) {
                alpha.iter_mut().for_each(|a| *a *= 0.95);
                shrinks += 1;
                continue;
            }
            break (pass.u, pass.info, pairs);
        };
        let mut a = DVector::zeros(q);
        let mut b = DMatrix::zeros(q, q);
        for t in &pairs {
            a += &t.a;
            b += &t.b;
        }
        let beta_step = spd_inverse(&info, "the GEE's information for beta")? * u;
        let alpha_step = if spec.correlation == WorkingCorrelation::ExponentialDecay {
            let target = decay_profile(&pairs)?;
            DVector::from_iterator(q, target.iter().zip(&alpha).map(|(t, a)| t - a))
        } else {
            spd_inverse(&b, "the information of the correlation equations")? * a
        };
        last_step = beta_step.amax().max(alpha_step.amax());
        take_step(problem, &mut beta, &beta_step)?;
        for (x, s) in alpha.iter_mut().zip(alpha_step.iter()) {
            *x += s;
        }
        if last_step <= tolerance {
            return Ok(Solution::at(beta, alpha, iteration, last_step, tolerance));
        }
    }
    let iterations = spec.control.max_iter;
    Ok(Solution::at(beta, alpha, iterations, last_step, tolerance))
}

/// Points of the grid on which the decay's profile is first searched.
const DECAY_GRID: usize = 200;

/// The decay's correlation parameters given the weights of the products at the current
/// estimate: the weighted least squares of the products on `gamma_d = alpha0 rho^d`. With the
/// statistics `S_d = sum r / w` and `N_d = sum 1 / w` of the pairs at distance d,
/// `alpha0(rho) = sum_d S_d rho^d / sum_d N_d rho^(2d)` and rho maximises the profile
/// `(sum_d S_d rho^d)^2 / sum_d N_d rho^(2d)` on (0, 1): the best point of a grid, then
/// bisection of the profile's slope, whose sign is that of
/// `alpha0(rho) (sum_d d rho^(d-1) S_d - alpha0(rho) sum_d d rho^(2d-1) N_d)`.
/// Fisher scoring in (alpha0, rho) can cycle where rho is weakly determined; this step cannot,
/// and its fixed point solves the same estimating equations. An error when the maximum is at
/// rho = 0 or 1: the between-period correlation does not decay.
fn decay_profile(pairs: &[PairTerms]) -> Result<Vec<f64>> {
    let classes = pairs.iter().map(|t| t.by_class.len()).max().unwrap_or(0);
    let mut sums = vec![[0.0; 2]; classes];
    for t in pairs {
        for (total, s) in sums.iter_mut().zip(&t.by_class) {
            total[0] += s[0];
            total[1] += s[1];
        }
    }
    let parts = |rho: f64| {
        let (mut num, mut den, mut power) = (0.0, 0.0, 1.0);
        for [s, n] in &sums {
            num += s * power;
            den += n * power * power;
            power *= rho;
        }
        (num, den)
    };
    let slope = |rho: f64| {
        let (num, den) = parts(rho);
        let alpha0 = num / den;
        let (mut dnum, mut dden) = (0.0, 0.0);
        for (d, [s, n]) in sums.iter().enumerate().skip(1) {
            let d = d as f64;
            dnum += d * rho.powf(d - 1.0) * s;
            dden += d * rho.powf(2.0 * d - 1.0) * n;
        }
        alpha0 * (dnum - alpha0 * dden)
    };
    let profile = |rho: f64| {
        let (num, den) = parts(rho);
        num * num / den
    };
    let step = 1.0 / DECAY_GRID as f64;
    let best = (0..=DECAY_GRID)
        .map(|i| i as f64 * step)
        .max_by(|a, b| profile(*a).total_cmp(&profile(*b)))
        .unwrap_or(0.5);
    let (mut low, mut high) = ((best - step).max(0.0), (best + step).min(1.0));
    let interior = slope(low) > 0.0 && slope(high) < 0.0;
    if interior {
        for _ in 0..200 {
            let mid = (low + high) / 2.0;
            if slope(mid) > 0.0 {
                low = mid;
            } else {
                high = mid;
            }
        }
    }
    let rho = (low + high) / 2.0;
    if !(interior && rho > 0.0 && rho < 1.0) {
        return Err(Error::Numerical {
            what: "the decay parameter rho".into(),
            message: format!(
                "the correlation equations put rho at {}: the correlation between periods does \
                 not decay with their distance in these data (use the nested exchangeable or \
                 the exchangeable working correlation)",
                rho.round()
            ),
        });
    }
    let (num, den) = parts(rho);
    Ok(vec![num / den, rho])
}

/// Halvings of a step tried when it takes a fitted risk out of (0, 1).
const MAX_HALVINGS: usize = 40;

/// The start of the independence iterations: least squares of the linked starting means
/// (`(y + 0.5) / 2` for binary outcomes, `y + 0.1` for counts, `y`; less any offset), as R's
/// `glm` starts a fit.
fn start_beta(problem: &Problem) -> Result<DVector<f64>> {
    let data = &*problem.data;
    let rows: Vec<usize> = problem
        .clusters
        .iter()
        .flat_map(|c| c.rows.iter().copied())
        .collect();
    let xt = data.xt.select_columns(&rows);
    let z = DVector::from_iterator(
        rows.len(),
        rows.iter().map(|&row| {
            let offset = data.offset.as_ref().map_or(0.0, |o| o[row]);
            problem.link.link(problem.family.start_mu(data.y[row], 1.0)) - offset
        }),
    );
    let gram = &xt * xt.transpose();
    Ok(spd_inverse(&gram, "the GEE's design (X'X)")? * (&xt * z))
}

/// `beta + step`, halved until every fitted mean lies in the family's range.
fn take_step(problem: &Problem, beta: &mut DVector<f64>, step: &DVector<f64>) -> Result<()> {
    let data = &*problem.data;
    let valid = |b: &DVector<f64>| {
        problem.clusters.par_iter().all(|c| {
            c.rows.iter().all(|&row| {
                let (mu, _, _) = problem.link.mean_and_derivatives(data.eta(row, b));
                problem.family.valid_mu(mu)
            })
        })
    };
    let mut scale = 1.0;
    for _ in 0..MAX_HALVINGS {
        let trial = &*beta + step * scale;
        if valid(&trial) {
            *beta = trial;
            return Ok(());
        }
        scale /= 2.0;
    }
    Err(Error::Numerical {
        what: "the GEE's mean model".into(),
        message: format!(
            "no step keeps every fitted mean inside the {} family's range: the {} link does \
             not fit these data",
            problem.family, problem.link
        ),
    })
}

/// The variance matrices of (beta, alpha) at the estimate.
pub(super) struct Variances {
    p: usize,
    model: DMatrix<f64>,
    robust: DMatrix<f64>,
    kc: DMatrix<f64>,
    md: DMatrix<f64>,
    fg: DMatrix<f64>,
    mbn: DMatrix<f64>,
    /// Pairs of patients whose working correlation is out of range at the estimate.
    pub out_of_range: usize,
    /// The scale phi at the estimate (1 for binary outcomes).
    pub scale: f64,
}

impl Variances {
    /// The beta block under `kind`.
    fn beta(&self, kind: SeKind) -> DMatrix<f64> {
        let block = |m: &DMatrix<f64>| m.view((0, 0), (self.p, self.p)).into_owned();
        match kind {
            SeKind::Model => self.model.clone(),
            SeKind::Robust => block(&self.robust),
            SeKind::Kc => block(&self.kc),
            SeKind::Md => block(&self.md),
            SeKind::Fg => block(&self.fg),
            SeKind::Mbn => self.mbn.clone(),
            SeKind::Avg => (block(&self.kc) + block(&self.md)) / 2.0,
        }
    }

    /// The alpha block under `kind`, where it is defined.
    fn alpha(&self, kind: SeKind) -> Option<DMatrix<f64>> {
        let n = self.robust.nrows();
        let block = |m: &DMatrix<f64>| {
            m.view((self.p, self.p), (n - self.p, n - self.p))
                .into_owned()
        };
        match kind {
            SeKind::Model | SeKind::Mbn => None,
            SeKind::Robust => Some(block(&self.robust)),
            SeKind::Kc => Some(block(&self.kc)),
            SeKind::Md => Some(block(&self.md)),
            SeKind::Fg => Some(block(&self.fg)),
            SeKind::Avg => Some((block(&self.kc) + block(&self.md)) / 2.0),
        }
    }
}

/// Every variance of the module docs at the estimate of the patient-level GEE.
fn variances(
    spec: &Gee,
    problem: &Problem,
    beta: &DVector<f64>,
    alpha: &[f64],
) -> Result<Variances> {
    // The scale at the estimate: a first pass moves it there, the second has every term at it.
    let first = pass(spec, problem, beta, alpha, 1.0)?;
    let Pass {
        terms,
        shifts,
        scale,
        ..
    } = pass(spec, problem, beta, alpha, first.scale)?;
    let pairs = pair_pass(problem, &terms, alpha, &shifts, true)?;
    let scores: Vec<ClusterScores> = terms
        .iter()
        .zip(&pairs)
        .map(|(t, pt)| ClusterScores {
            u: &t.u,
            m: &t.m,
            a: &pt.a,
            b: &pt.b,
            cross: &pt.cross,
        })
        .collect();
    let n = problem.clusters.iter().map(|c| c.rows.len()).sum::<usize>() as f64;
    let mut variances = sandwiches(&scores, problem.p(), problem.q(), n, -1.0)?;
    variances.out_of_range = pairs.iter().map(|t| t.out_of_range).sum();
    variances.scale = scale;
    Ok(variances)
}

/// One cluster's scores and information: `u` and `M` of beta, `a` and `B` of alpha, and the
/// alpha-beta block `C` of the information.
pub(super) struct ClusterScores<'a> {
    pub u: &'a DVector<f64>,
    pub m: &'a DMatrix<f64>,
    pub a: &'a DVector<f64>,
    pub b: &'a DMatrix<f64>,
    pub cross: &'a DMatrix<f64>,
}

/// The variances from per-cluster scores `U_i = (u_i, a_i)`, corrected scores
/// `U~_i = (u_i + M_i (M - M_i)^{-1} u_i, a_i + B_i (B - B_i)^{-1} a_i)` and the information
/// `A = [[M, 0], [C, B]]`, whose inverse's alpha-beta block is taken as
/// `sign B^{-1} C M^{-1}` (`sign = -1` inverts A; geeCRT's cluster-period code uses `+1`), over
/// `n` observations.
pub(super) fn sandwiches(
    scores: &[ClusterScores],
    p: usize,
    q: usize,
    n: f64,
    sign: f64,
) -> Result<Variances> {
    let g = scores.len();
    let k = p + q;
    let mut info = DMatrix::zeros(k, k);
    for s in scores {
        let mut block = info.view_mut((0, 0), (p, p));
        block += s.m;
        let mut block = info.view_mut((p, 0), (q, p));
        block += s.cross;
        let mut block = info.view_mut((p, p), (q, q));
        block += s.b;
    }
    let info_beta = info.view((0, 0), (p, p)).into_owned();
    let info_alpha = info.view((p, p), (q, q)).into_owned();
    let model = spd_inverse(&info_beta, "the GEE's information for beta")?;
    let mut bread = DMatrix::zeros(k, k);
    bread.view_mut((0, 0), (p, p)).copy_from(&model);
    if q > 0 {
        let alpha_inverse =
            spd_inverse(&info_alpha, "the information of the correlation equations")?;
        let cross = (&alpha_inverse * info.view((p, 0), (q, p)) * &model) * sign;
        bread.view_mut((p, 0), (q, p)).copy_from(&cross);
        bread.view_mut((p, p), (q, q)).copy_from(&alpha_inverse);
    }
    let mut meat = [
        DMatrix::zeros(k, k),
        DMatrix::zeros(k, k),
        DMatrix::zeros(k, k),
        DMatrix::zeros(k, k),
    ];
    for s in scores {
        let score = DVector::from_iterator(k, s.u.iter().chain(s.a.iter()).copied());
        let corrected_beta = corrected(s.u, s.m, &info_beta, "beta")?;
        let corrected_alpha = if q > 0 {
            corrected(s.a, s.b, &info_alpha, "the correlation parameters")?
        } else {
            DVector::zeros(0)
        };
        let corrected_score = DVector::from_iterator(
            k,
            corrected_beta.iter().chain(corrected_alpha.iter()).copied(),
        );
        let mut cluster_info = DMatrix::zeros(k, k);
        cluster_info.view_mut((0, 0), (p, p)).copy_from(s.m);
        cluster_info.view_mut((p, 0), (q, p)).copy_from(s.cross);
        cluster_info.view_mut((p, p), (q, q)).copy_from(s.b);
        let leverage = &cluster_info * &bread;
        let fg = DVector::from_iterator(
            k,
            (0..k).map(|j| 1.0 / (1.0 - leverage[(j, j)].min(0.75)).sqrt()),
        );
        let outer = &score * score.transpose();
        meat[0] += &outer;
        meat[1] +=
            (&corrected_score * score.transpose() + &score * corrected_score.transpose()) / 2.0;
        meat[2] += &corrected_score * corrected_score.transpose();
        meat[3] += DMatrix::from_diagonal(&fg) * &outer * DMatrix::from_diagonal(&fg);
    }
    let sandwich = |m: &DMatrix<f64>| &bread * m * bread.transpose();
    let (gf, pf) = (g as f64, p as f64);
    let scale = (n - 1.0) / (n - pf) * gf / (gf - 1.0);
    let scaled = meat[0].view((0, 0), (p, p)) * scale;
    let xi = ((&model * &scaled).trace() / pf).max(1.0);
    let delta = (pf / (gf - pf)).min(0.5);
    let mbn = &model * (scaled + &info_beta * (delta * xi)) * &model;
    Ok(Variances {
        p,
        model,
        robust: sandwich(&meat[0]),
        kc: sandwich(&meat[1]),
        md: sandwich(&meat[2]),
        fg: sandwich(&meat[3]),
        mbn,
        out_of_range: 0,
        scale: 1.0,
    })
}

/// The corrected score `u + M_i (M - M_i)^{-1} u` of a cluster with score `u`, information
/// `m_i` and total information `m` (`(I - H_i)^{-1}` by the Woodbury identity).
fn corrected(
    u: &DVector<f64>,
    m_i: &DMatrix<f64>,
    m: &DMatrix<f64>,
    what: &str,
) -> Result<DVector<f64>> {
    let rest = (m - m_i).cholesky().ok_or_else(|| Error::Numerical {
        what: format!("the bias-corrected score for {what}"),
        message: "I - H_i is singular: one cluster determines the estimate alone".to_string(),
    })?;
    Ok(u + m_i * rest.solve(u))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(by_class: Vec<[f64; 2]>) -> PairTerms {
        let mut t = PairTerms::zeros(2, 1);
        t.by_class = by_class;
        t
    }

    #[test]
    fn the_decay_profile_finds_an_exact_decay_and_refuses_none() {
        // Products averaging 0.2 rho^d with rho = 0.5, over two clusters.
        let a = terms(vec![[0.2 * 4.0, 4.0], [0.1 * 2.0, 2.0], [0.05, 1.0]]);
        let b = terms(vec![[0.2 * 3.0, 3.0], [0.1 * 6.0, 6.0]]);
        let alpha = decay_profile(&[a, b]).unwrap();
        assert!(
            (alpha[0] - 0.2).abs() < 1e-12 && (alpha[1] - 0.5).abs() < 1e-12,
            "{alpha:?}"
        );
        // The same correlation at every distance: rho would be 1.
        let flat = terms(vec![[0.2, 1.0], [0.2, 1.0], [0.2, 1.0]]);
        let err = decay_profile(&[flat]).unwrap_err().to_string();
        assert!(
            err.contains("rho at 1") && err.contains("nested exchangeable"),
            "{err}"
        );
        // Products that fall to 0 at once: rho would be 0.
        let sudden = terms(vec![[0.2, 1.0], [-0.01, 1.0], [-0.01, 1.0]]);
        let err = decay_profile(&[sudden]).unwrap_err().to_string();
        assert!(err.contains("rho at 0"), "{err}");
    }
}
