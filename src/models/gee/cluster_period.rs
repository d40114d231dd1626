//! The marginal model fitted on cluster-period means (Li, Yu, Rathouz, Turner & Preisser 2022;
//! geeCRT's `cpgeeSWD`): for a cross-sectional stepped wedge whose mean model varies only
//! between cluster-periods, the GEE on the patients is equivalent to one on the cluster-period
//! proportions `ybar_ij` (m_ij patients), whatever the cluster-period sizes.
//!
//! Cluster i's proportions have means `mu_ij = expit(x_ij' beta)`, `v_ij = mu_ij (1 - mu_ij)` and
//! working covariance `Var(ybar_ij) = v_ij / m_ij (1 + (m_ij - 1) alpha0)` and
//! `Cov(ybar_ij, ybar_ik) = sqrt(v_ij v_ik) c_jk`, with `c_jk = alpha0` (exchangeable), `alpha1`
//! (nested exchangeable) or `alpha0 rho^|j - k|` (exponential decay, `|j - k|` the distance in
//! the cluster's cluster-periods, sorted by period). The correlation parameters solve the
//! least-squares equations `sum_i D_i' (g_i - gamma_i(alpha)) = 0` over the cluster's pairs
//! `j <= k`, with `g_jk = (ybar_ij - mu_ij)(ybar_ik - mu_ik)` (MAEE: the products of
//! `B_i (B_i - Omega_i)^{-1} (ybar - mu)(ybar - mu)'`), `gamma_jk` the working covariance and
//! `D = d gamma / d alpha`; linear in alpha but for the decay's rho, found by a root search.
//! Beta is updated by Fisher scoring with alpha solved anew in each iteration. The variances are
//! those of the module docs of [`super`], with the alpha-beta block of the information
//! `sum D' Q`, `Q_jk = -(r_j v_j x_j + r_k v_k x_k)`, as geeCRT computes them.

use nalgebra::{DMatrix, DVector};

use super::equations::{in_range, Problem};
use super::fit::{sandwiches, ClusterScores, Solution, Variances};
use super::{Gee, WorkingCorrelation};
use crate::core::error::{Error, Result};
use crate::core::linalg::spd_inverse;

/// One cluster's cluster-periods, sorted by period.
#[derive(Debug, Clone)]
pub(super) struct CpCluster {
    /// The cluster's label.
    pub label: String,
    /// Mean-model covariates, one row per cluster-period.
    pub x: DMatrix<f64>,
    /// Proportions of events.
    pub ybar: Vec<f64>,
    /// Patients.
    pub m: Vec<f64>,
}

/// What one cluster gives at (beta, alpha).
pub(super) struct CpTerms {
    /// `C' B^{-1} r`.
    pub u: DVector<f64>,
    /// `C' B^{-1} C`.
    pub m: DMatrix<f64>,
    /// `D' (g - gamma)`.
    pub a: DVector<f64>,
    /// `D' D`.
    pub b: DMatrix<f64>,
    /// `D' Q` (the alpha-beta information).
    pub cross: DMatrix<f64>,
    /// The pair products `g_jk`, `j <= k`, for the alpha update.
    products: Vec<(usize, usize, f64)>,
    /// Means' variances.
    v: Vec<f64>,
    /// Patients.
    sizes: Vec<f64>,
}

/// The working covariance entry of cluster-periods j, k and its derivative in alpha.
fn covariance(
    correlation: WorkingCorrelation,
    alpha: &[f64],
    (j, k): (usize, usize),
    v: &[f64],
    m: &[f64],
) -> (f64, [f64; 2]) {
    if j == k {
        let d = v[j] / m[j] * (m[j] - 1.0);
        return (v[j] / m[j] + alpha[0] * d, [d, 0.0]);
    }
    let s = (v[j] * v[k]).sqrt();
    match correlation {
        WorkingCorrelation::NestedExchangeable => (s * alpha[1], [0.0, s]),
        WorkingCorrelation::ExponentialDecay => {
            let distance = (k - j) as f64;
            let decay = alpha[1].powf(distance);
            let slope = alpha[0] * distance * alpha[1].powf(distance - 1.0);
            (s * alpha[0] * decay, [s * decay, s * slope])
        }
        _ => (s * alpha[0], [s, 0.0]),
    }
}

/// The terms of `cluster` at (`beta`, `alpha`); with `naive` (the inverse information of beta)
/// the products are MAEE's.
pub(super) fn cp_terms(
    cluster: &CpCluster,
    correlation: WorkingCorrelation,
    beta: &DVector<f64>,
    alpha: &[f64],
    naive: Option<&DMatrix<f64>>,
) -> Result<CpTerms> {
    let (n, p) = cluster.x.shape();
    let q = correlation.parameter_names().len();
    let eta = &cluster.x * beta;
    let mu: Vec<f64> = eta.iter().map(|e| 1.0 / (1.0 + (-e).exp())).collect();
    let v: Vec<f64> = mu.iter().map(|m| m * (1.0 - m)).collect();
    let r = DVector::from_iterator(n, cluster.ybar.iter().zip(&mu).map(|(y, m)| y - m));
    let mut c = cluster.x.clone();
    for (mut row, vj) in c.row_iter_mut().zip(&v) {
        row.scale_mut(*vj);
    }
    let mut cov = DMatrix::zeros(n, n);
    for j in 0..n {
        for k in j..n {
            let (value, _) = covariance(correlation, alpha, (j, k), &v, &cluster.m);
            cov[(j, k)] = value;
            cov[(k, j)] = value;
        }
    }
    let not_pd = || Error::Numerical {
        what: format!(
            "the working covariance of cluster '{}'s means",
            cluster.label
        ),
        message: "it is not positive definite".to_string(),
    };
    let chol = cov.clone().cholesky().ok_or_else(not_pd)?;
    let binv_r = chol.solve(&r);
    let binv_c = chol.solve(&c);
    let mut g = &r * r.transpose();
    if let Some(naive) = naive {
        let omega = &c * naive * c.transpose();
        let rest = (&cov - omega).cholesky().ok_or_else(|| Error::Numerical {
            what: format!("the MAEE adjustment of cluster '{}'", cluster.label),
            message: "B - Omega is not positive definite".to_string(),
        })?;
        g = &cov * rest.solve(&g);
    }
    let mut a = DVector::zeros(q);
    let mut b = DMatrix::zeros(q, q);
    let mut cross = DMatrix::zeros(q, p);
    let mut products = Vec::with_capacity(n * (n + 1) / 2);
    for j in 0..n {
        for k in j..n {
            let (gamma, d) = covariance(correlation, alpha, (j, k), &v, &cluster.m);
            let residual = g[(j, k)] - gamma;
            products.push((j, k, g[(j, k)]));
            let qrow = -(cluster.x.row(j) * (r[j] * v[j]) + cluster.x.row(k) * (r[k] * v[k]));
            for l in 0..q {
                a[l] += d[l] * residual;
                for l2 in 0..q {
                    b[(l, l2)] += d[l] * d[l2];
                }
                for col in 0..p {
                    cross[(l, col)] += d[l] * qrow[col];
                }
            }
        }
    }
    Ok(CpTerms {
        u: c.tr_mul(&binv_r),
        m: c.tr_mul(&binv_c),
        a,
        b,
        cross,
        products,
        v,
        sizes: cluster.m.clone(),
    })
}

/// The correlation parameters solving the least-squares equations for the products of every
/// cluster's `terms`: linear for exchangeable and nested exchangeable; for the decay, alpha0
/// given rho in closed form and rho in (0, 1) by bisection of the rho equation.
pub(super) fn solve_alpha(correlation: WorkingCorrelation, terms: &[CpTerms]) -> Result<Vec<f64>> {
    // Diagonal pairs: d = v/m (m - 1), target g - v/m; off-diagonal: s = sqrt(v_j v_k), target g.
    let diagonal = || {
        terms.iter().flat_map(|t| {
            t.products
                .iter()
                .filter(|(j, k, _)| j == k)
                .map(move |&(j, _, g)| {
                    (
                        t.v[j] / t.sizes[j] * (t.sizes[j] - 1.0),
                        g - t.v[j] / t.sizes[j],
                    )
                })
        })
    };
    let off = || {
        terms.iter().flat_map(|t| {
            t.products
                .iter()
                .filter(|(j, k, _)| j != k)
                .map(move |&(j, k, g)| ((t.v[j] * t.v[k]).sqrt(), (k - j) as f64, g))
        })
    };
    let (d1, d0) = diagonal().fold((0.0, 0.0), |(n, d), (w, target)| {
        (n + w * target, d + w * w)
    });
    match correlation {
        WorkingCorrelation::Exchangeable => {
            let (e1, e0) = off().fold((0.0, 0.0), |(n, d), (s, _, g)| (n + s * g, d + s * s));
            Ok(vec![(d1 + e1) / (d0 + e0)])
        }
        WorkingCorrelation::NestedExchangeable => {
            let (e1, e0) = off().fold((0.0, 0.0), |(n, d), (s, _, g)| (n + s * g, d + s * s));
            Ok(vec![d1 / d0, e1 / e0])
        }
        WorkingCorrelation::ExponentialDecay => {
            let alpha0 = |rho: f64| {
                let (e1, e0) = off().fold((0.0, 0.0), |(n, d), (s, dist, g)| {
                    let w = s * rho.powf(dist);
                    (n + w * g, d + w * w)
                });
                (d1 + e1) / (d0 + e0)
            };
            let equation = |rho: f64| {
                let a0 = alpha0(rho);
                off().map(|(s, dist, g)| s * dist * rho.powf(dist - 1.0) * (g - s * a0 * rho.powf(dist))).sum::<f64>()
            };
            let (mut low, mut high) = (1e-12, 1.0 - 1e-12);
            let (f_low, f_high) = (equation(low), equation(high));
            if f_low.signum() == f_high.signum() {
                return Err(Error::Numerical {
                    what: "the decay parameter rho".into(),
                    message: "its estimating equation has no root in (0, 1): the correlation \
                              between periods does not decay with distance in these data"
                        .into(),
                });
            }
            for _ in 0..200 {
                let mid = (low + high) / 2.0;
                if equation(mid).signum() == f_low.signum() {
                    low = mid;
                } else {
                    high = mid;
                }
            }
            let rho = (low + high) / 2.0;
            Ok(vec![alpha0(rho), rho])
        }
        WorkingCorrelation::Independence | WorkingCorrelation::BlockExchangeable => Err(Error::invalid(
            "working correlation",
            format!("the cluster-period means model takes exchangeable, nested or decay, not {correlation}"),
        )),
    }
}

/// The cluster-periods of every cluster (of the column `column`) of a patient-level problem: the proportion of events,
/// the number of patients and the mean model's covariates, which must be the same for every
/// patient of a cluster-period (else an error naming the cluster).
pub(super) fn aggregate(problem: &Problem, column: &str) -> Result<Vec<CpCluster>> {
    let data = &*problem.data;
    let p = problem.p();
    problem
        .clusters
        .iter()
        .map(|cluster| {
            let mut periods: Vec<u32> = cluster.period.clone();
            periods.sort_unstable();
            periods.dedup();
            let n = periods.len();
            let mut x = DMatrix::zeros(n, p);
            let mut events = vec![0.0; n];
            let mut m = vec![0.0; n];
            let mut seen = vec![false; n];
            for (&row, t) in cluster.rows.iter().zip(&cluster.period) {
                let j = periods.binary_search(t).unwrap_or_default();
                let covariates = data.xt.column(row);
                if !seen[j] {
                    x.row_mut(j).copy_from(&covariates.transpose());
                    seen[j] = true;
                } else if x.row(j).transpose() != covariates {
                    return Err(Error::Cluster {
                        column: column.to_string(),
                        message: format!(
                            "in cluster '{}' the mean model differs between patients of one \
                             period; the cluster-period means model needs covariates that are \
                             the same for a cluster-period (no patient covariates)",
                            cluster.label
                        ),
                    });
                }
                events[j] += data.y[row];
                m[j] += 1.0;
            }
            Ok(CpCluster {
                label: cluster.label.clone(),
                x,
                ybar: events.iter().zip(&m).map(|(e, m)| e / m).collect(),
                m,
            })
        })
        .collect()
}

/// The terms of every cluster, and the information of beta `sum C'B^{-1}C`.
fn pass(
    clusters: &[CpCluster],
    correlation: WorkingCorrelation,
    beta: &DVector<f64>,
    alpha: &[f64],
    naive: Option<&DMatrix<f64>>,
) -> Result<(Vec<CpTerms>, DVector<f64>, DMatrix<f64>)> {
    let p = beta.len();
    let terms = clusters
        .iter()
        .map(|c| cp_terms(c, correlation, beta, alpha, naive))
        .collect::<Result<Vec<_>>>()?;
    let (mut u, mut m) = (DVector::zeros(p), DMatrix::zeros(p, p));
    for t in &terms {
        u += &t.u;
        m += &t.m;
    }
    Ok((terms, u, m))
}

/// Correlation parameters that give independence.
fn independent(correlation: WorkingCorrelation) -> Vec<f64> {
    match correlation {
        WorkingCorrelation::ExponentialDecay => vec![0.0, 0.5],
        c => vec![0.0; c.parameter_names().len()],
    }
}

/// Fisher scoring of beta with alpha solved anew in each iteration (geeCRT's order: the
/// products at the current beta give alpha; the step of beta is taken at the previous alpha),
/// from `start` or from the binomial GLM of the proportions and its alpha.
pub(super) fn solve(
    spec: &Gee,
    clusters: &[CpCluster],
    start: Option<(&DVector<f64>, &[f64])>,
) -> Result<Solution> {
    let correlation = spec.correlation;
    let p = clusters.first().map_or(0, |c| c.x.ncols());
    let tolerance = spec.control.tolerance;
    let (mut beta, mut alpha) = match start {
        Some((b, a)) => (b.clone(), a.to_vec()),
        None => {
            let none = independent(correlation);
            let mut beta = DVector::zeros(p);
            let mut converged = false;
            for _ in 0..spec.control.max_iter {
                let (_, u, m) = pass(clusters, correlation, &beta, &none, None)?;
                let step = spd_inverse(&m, "the information of the proportions' GLM")? * u;
                beta += &step;
                if step.amax() <= tolerance {
                    converged = true;
                    break;
                }
            }
            if !converged {
                return Err(Error::NotConverged {
                    what: "the binomial GLM of the cluster-period proportions".into(),
                    iterations: spec.control.max_iter,
                    criterion: f64::INFINITY,
                });
            }
            let (terms, _, _) = pass(clusters, correlation, &beta, &none, None)?;
            let alpha = solve_alpha(correlation, &terms)?;
            (beta, alpha)
        }
    };
    let mut naive = {
        let (_, _, m) = pass(clusters, correlation, &beta, &alpha, None)?;
        spd_inverse(&m, "the GEE's information for beta")?
    };
    let mut last_step = f64::INFINITY;
    for iterations in 1..=spec.control.max_iter {
        let adjust = spec.maee.then_some(&naive);
        let (terms, u, m) = pass(clusters, correlation, &beta, &alpha, adjust)?;
        let new_alpha = solve_alpha(correlation, &terms)?;
        let information = spd_inverse(&m, "the GEE's information for beta")?;
        let step = &information * u;
        beta += &step;
        let alpha_step = new_alpha
            .iter()
            .zip(&alpha)
            .fold(0.0f64, |most, (a, b)| most.max((a - b).abs()));
        alpha = new_alpha;
        naive = information;
        last_step = step.amax().max(alpha_step);
        if last_step <= tolerance {
            return Ok(Solution::at(beta, alpha, iterations, last_step, tolerance));
        }
    }
    let iterations = spec.control.max_iter;
    Ok(Solution::at(beta, alpha, iterations, last_step, tolerance))
}

/// Every variance at the estimate, as geeCRT's cluster-period code computes them (the MAEE
/// products with the information at the estimate; the alpha-beta block of the inverse
/// information with a plus sign).
pub(super) fn variances(
    spec: &Gee,
    clusters: &[CpCluster],
    beta: &DVector<f64>,
    alpha: &[f64],
) -> Result<Variances> {
    let (p, q) = (beta.len(), alpha.len());
    let (_, _, m) = pass(clusters, spec.correlation, beta, alpha, None)?;
    let naive = spd_inverse(&m, "the GEE's information for beta")?;
    let (terms, _, _) = pass(
        clusters,
        spec.correlation,
        beta,
        alpha,
        spec.maee.then_some(&naive),
    )?;
    let scores: Vec<ClusterScores> = terms
        .iter()
        .map(|t| ClusterScores {
            u: &t.u,
            m: &t.m,
            a: &t.a,
            b: &t.b,
            cross: &t.cross,
        })
        .collect();
    let n = clusters.iter().flat_map(|c| &c.m).sum::<f64>();
    let mut variances = sandwiches(&scores, p, q, n, 1.0)?;
    variances.out_of_range = out_of_range(spec.correlation, clusters, beta, alpha);
    Ok(variances)
}

/// The pairs of patients whose working correlation lies outside the range their risks allow
/// (Prentice 1988): `alpha0` within a cluster-period, `c_jk` between two.
fn out_of_range(
    correlation: WorkingCorrelation,
    clusters: &[CpCluster],
    beta: &DVector<f64>,
    alpha: &[f64],
) -> usize {
    let mut count = 0.0;
    for cluster in clusters {
        let mu: Vec<f64> = (&cluster.x * beta)
            .iter()
            .map(|e| 1.0 / (1.0 + (-e).exp()))
            .collect();
        let units = vec![1.0; mu.len()];
        for j in 0..mu.len() {
            for k in j..mu.len() {
                let (corr, pairs) = if j == k {
                    (alpha[0], cluster.m[j] * (cluster.m[j] - 1.0) / 2.0)
                } else {
                    // The covariance of two unit-variance means is the correlation.
                    let (c, _) = covariance(correlation, alpha, (j, k), &units, &cluster.m);
                    (c, cluster.m[j] * cluster.m[k])
                };
                if !in_range(corr, mu[j], mu[k]) {
                    count += pairs;
                }
            }
        }
    }
    count as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_of_patients_out_of_prentices_range_are_counted() {
        // Risks 0.02 and 0.5: two patients of these periods can correlate at most
        // sqrt(0.02 x 0.5 / (0.5 x 0.98)) = 0.143.
        let logit = |p: f64| (p / (1.0 - p)).ln();
        let cluster = CpCluster {
            label: "a".into(),
            x: DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 1.0, 1.0]),
            ybar: vec![0.0, 0.5],
            m: vec![10.0, 20.0],
        };
        let beta = DVector::from_vec(vec![logit(0.02), logit(0.5) - logit(0.02)]);
        let nested = WorkingCorrelation::NestedExchangeable;
        assert_eq!(
            out_of_range(nested, std::slice::from_ref(&cluster), &beta, &[0.1, 0.3]),
            200
        );
        assert_eq!(
            out_of_range(nested, std::slice::from_ref(&cluster), &beta, &[0.1, 0.1]),
            0
        );
        // The decay: alpha0 rho = 0.25 between them.
        let decay = WorkingCorrelation::ExponentialDecay;
        assert_eq!(out_of_range(decay, &[cluster], &beta, &[0.5, 0.5]), 200);
    }
}
