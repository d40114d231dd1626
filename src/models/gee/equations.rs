//! The estimating equations of one cluster: the mean part `D'V^{-1}(y - mu)` with its
//! information, and one pass over the cluster's pairs for the correlation part (see the module
//! docs of [`super`]).

use std::sync::Arc;

use nalgebra::{DMatrix, DVector};

use super::WorkingCorrelation;
use crate::core::error::{Error, Result};
use crate::models::family::Link;

/// The rows of one cluster and what the working correlation needs of them.
#[derive(Debug, Clone)]
pub(super) struct Cluster {
    /// The cluster's label, for messages.
    pub label: String,
    /// Design rows, in cohort order.
    pub rows: Vec<usize>,
    /// Period code of each row (0 when no period column is used).
    pub period: Vec<u32>,
    /// Patient code of each row (0 when no individual column is used).
    pub individual: Vec<u32>,
}

impl Cluster {
    /// The correlation parameter of the pair of the cluster's rows `j` and `k`.
    fn parameter(&self, correlation: WorkingCorrelation, j: usize, k: usize) -> usize {
        let same_period = self.period[j] == self.period[k];
        match correlation {
            WorkingCorrelation::Independence | WorkingCorrelation::Exchangeable => 0,
            WorkingCorrelation::NestedExchangeable => usize::from(!same_period),
            WorkingCorrelation::BlockExchangeable if same_period => 0,
            WorkingCorrelation::BlockExchangeable if self.individual[j] == self.individual[k] => 2,
            WorkingCorrelation::BlockExchangeable => 1,
        }
    }
}

/// The rows of the mean model: design matrix, 0/1 response and offsets (all rows).
#[derive(Debug)]
pub(super) struct Data {
    /// The design matrix.
    pub x: DMatrix<f64>,
    /// The 0/1 response.
    pub y: Vec<f64>,
    /// Offsets, if any.
    pub offset: Option<Vec<f64>>,
}

/// The data every cluster's equations read, and the clusters (all of them, or a bootstrap
/// sample of them).
#[derive(Debug, Clone)]
pub(super) struct Problem {
    /// The rows, shared by the fit and its refits.
    pub data: Arc<Data>,
    /// The link.
    pub link: Link,
    /// The working correlation.
    pub correlation: WorkingCorrelation,
    /// The clusters.
    pub clusters: Vec<Cluster>,
}

/// The mean part of one cluster at (beta, alpha).
pub(super) struct MeanTerms {
    /// `D' V^{-1} (y - mu)`.
    pub u: DVector<f64>,
    /// `D' V^{-1} D`.
    pub m: DMatrix<f64>,
    /// Means.
    mu: Vec<f64>,
    /// `sqrt(mu (1 - mu))`.
    s: Vec<f64>,
    /// Standardised residuals `(y - mu) / s`.
    e: Vec<f64>,
    /// `D = dmu/dbeta`, one row per observation.
    d: DMatrix<f64>,
}

/// The correlation part of one cluster.
pub(super) struct PairTerms {
    /// `sum z (r - gamma) / w`.
    pub a: DVector<f64>,
    /// `sum z z' / w`.
    pub b: DMatrix<f64>,
    /// `sum z (-dr/dbeta)' / w` (geeCRT's approximation), when asked for.
    pub cross: DMatrix<f64>,
    /// Pairs whose working correlation is out of the range their means allow.
    pub out_of_range: usize,
}

impl Problem {
    /// Number of correlation parameters.
    pub fn q(&self) -> usize {
        self.correlation.parameter_names().len()
    }

    /// Number of mean parameters.
    pub fn p(&self) -> usize {
        self.data.x.ncols()
    }

    /// The problem on the clusters `sample` (indices into this problem's clusters; repeats
    /// allowed, each a cluster of its own).
    pub fn on_clusters(&self, sample: &[usize]) -> Problem {
        Problem {
            data: Arc::clone(&self.data),
            link: self.link,
            correlation: self.correlation,
            clusters: sample.iter().map(|&c| self.clusters[c].clone()).collect(),
        }
    }

    /// The mean part of cluster `c` at (`beta`, `alpha`).
    pub fn mean_terms(&self, c: usize, beta: &DVector<f64>, alpha: &[f64]) -> Result<MeanTerms> {
        let cluster = &self.clusters[c];
        let data = &*self.data;
        let n = cluster.rows.len();
        let p = self.p();
        let mut mu = Vec::with_capacity(n);
        let mut d = DMatrix::zeros(n, p);
        for (j, &row) in cluster.rows.iter().enumerate() {
            let offset = data.offset.as_ref().map_or(0.0, |o| o[row]);
            let eta = data.x.row(row).dot(&beta.transpose()) + offset;
            let (m, dmu, _) = self.link.mean_and_derivatives(eta);
            if !(m > 0.0 && m < 1.0) {
                return Err(Error::Numerical {
                    what: format!("the GEE in cluster '{}'", cluster.label),
                    message: format!(
                        "a fitted risk is {m}, outside (0, 1): the {} link does not fit these data",
                        self.link
                    ),
                });
            }
            mu.push(m);
            for col in 0..p {
                d[(j, col)] = data.x[(row, col)] * dmu;
            }
        }
        let s: Vec<f64> = mu.iter().map(|m| (m * (1.0 - m)).sqrt()).collect();
        let r: Vec<f64> = cluster
            .rows
            .iter()
            .zip(&mu)
            .map(|(&row, m)| data.y[row] - m)
            .collect();
        let e: Vec<f64> = r.iter().zip(&s).map(|(r, s)| r / s).collect();
        // Y = S^{-1} [r | D]: then D'V^{-1}r and D'V^{-1}D are blocks of Y' R^{-1} Y.
        let mut y = DMatrix::zeros(n, p + 1);
        for j in 0..n {
            y[(j, 0)] = e[j];
            for col in 0..p {
                y[(j, col + 1)] = d[(j, col)] / s[j];
            }
        }
        let q = match self.correlation {
            WorkingCorrelation::BlockExchangeable => {
                dense_quadratic(cluster, self.correlation, alpha, &y)
            }
            _ => self.nested_quadratic(cluster, alpha, &y),
        }
        .ok_or_else(|| Error::Numerical {
            what: format!("the working covariance of cluster '{}'", cluster.label),
            message: "it is not positive definite: the correlation parameters give no joint \
                      distribution for this cluster"
                .to_string(),
        })?;
        Ok(MeanTerms {
            u: q.view((1, 0), (p, 1)).column(0).into_owned(),
            m: q.view((1, 1), (p, p)).into_owned(),
            mu,
            s,
            e,
            d,
        })
    }

    /// `Y' R^{-1} Y` for the nested exchangeable correlation (and its special cases,
    /// exchangeable and independence) in closed form: with `a = 1 - alpha0`,
    /// `b = alpha0 - alpha1`, `c = alpha1`, `R = a I + b blockdiag(J_t) + c J`, so
    /// `Y'R^{-1}Y = (Y'Y - sum_t b/(a + b n_t) s_t s_t') / a - c w w' / (1 + c sigma)` with the
    /// period column sums `s_t = Y_t' 1`, `w = sum_t s_t / (a + b n_t)` and
    /// `sigma = sum_t n_t / (a + b n_t)`: O(n m^2), no n x n matrix. `None` when R is not
    /// positive definite.
    fn nested_quadratic(
        &self,
        cluster: &Cluster,
        alpha: &[f64],
        y: &DMatrix<f64>,
    ) -> Option<DMatrix<f64>> {
        let (a0, a1) = match self.correlation {
            WorkingCorrelation::Independence => (0.0, 0.0),
            WorkingCorrelation::Exchangeable => (alpha[0], alpha[0]),
            _ => (alpha[0], alpha[1]),
        };
        let (a, b, c) = (1.0 - a0, a0 - a1, a1);
        let m = y.ncols();
        let periods = cluster.period.iter().max().map_or(0, |&t| t as usize + 1);
        let mut sizes = vec![0.0; periods];
        let mut sums = DMatrix::zeros(periods, m);
        for (j, &t) in cluster.period.iter().enumerate() {
            sizes[t as usize] += 1.0;
            let mut row = sums.row_mut(t as usize);
            row += y.row(j);
        }
        if a <= 0.0 || sizes.iter().any(|&n| n > 0.0 && a + b * n <= 0.0) {
            return None;
        }
        let mut q = y.tr_mul(y);
        let mut w = DVector::zeros(m);
        let mut sigma = 0.0;
        for (t, &n_t) in sizes.iter().enumerate().filter(|(_, &n)| n > 0.0) {
            let s_t = sums.row(t).transpose();
            let block = a + b * n_t;
            q -= &s_t * s_t.transpose() * (b / block);
            w += &s_t / block;
            sigma += n_t / block;
        }
        q /= a;
        let denominator = 1.0 + c * sigma;
        if denominator <= 0.0 {
            return None;
        }
        q -= &w * w.transpose() * (c / denominator);
        Some(q)
    }
    /// The correlation part of cluster `c`: `shift`, when given, is the MAEE adjustment
    /// `t = (sum_l M_l - M_c)^{-1} u_c`, which adds `(D t)_j / s_j` to the first residual of
    /// each pair; `cross` asks for the alpha-beta block of the information.
    pub fn pair_terms(
        &self,
        c: usize,
        mean: &MeanTerms,
        alpha: &[f64],
        shift: Option<&DVector<f64>>,
        cross: bool,
    ) -> Result<PairTerms> {
        let cluster = &self.clusters[c];
        let (n, p, q) = (cluster.rows.len(), self.p(), self.q());
        let adjusted: Vec<f64> = match shift {
            Some(t) => (0..n)
                .map(|j| mean.e[j] + mean.d.row(j).dot(&t.transpose()) / mean.s[j])
                .collect(),
            None => mean.e.clone(),
        };
        let mut terms = PairTerms {
            a: DVector::zeros(q),
            b: DMatrix::zeros(q, q),
            cross: DMatrix::zeros(q, p),
            out_of_range: 0,
        };
        if q == 0 {
            return Ok(terms);
        }
        // d log v / d mu and 1 / (y - mu), for the derivative of the products.
        let slope: Vec<f64> = mean.mu.iter().map(|m| 1.0 / m - 1.0 / (1.0 - m)).collect();
        let inverse_residual: Vec<f64> = cluster
            .rows
            .iter()
            .zip(&mean.mu)
            .map(|(&row, m)| 1.0 / (self.data.y[row] - m))
            .collect();
        let spread: Vec<f64> = mean
            .mu
            .iter()
            .zip(&mean.s)
            .map(|(m, s)| (1.0 - 2.0 * m) / s)
            .collect();
        for j in 0..n {
            for k in j + 1..n {
                let l = cluster.parameter(self.correlation, j, k);
                let gamma = alpha[l];
                let w = 1.0 + spread[j] * spread[k] * gamma - gamma * gamma;
                if w <= 0.0 {
                    return Err(Error::Numerical {
                        what: format!("the correlation equations of cluster '{}'", cluster.label),
                        message: format!(
                            "the variance of a residual product is {w} at {} = {gamma}",
                            self.correlation.parameter_names()[l]
                        ),
                    });
                }
                terms.a[l] += (adjusted[j] * mean.e[k] - gamma) / w;
                terms.b[(l, l)] += 1.0 / w;
                if !in_range(gamma, mean.mu[j], mean.mu[k]) {
                    terms.out_of_range += 1;
                }
                if cross {
                    let fj = gamma / 2.0 * (slope[j] + 2.0 * inverse_residual[j]) / w;
                    let fk = gamma / 2.0 * (slope[k] + 2.0 * inverse_residual[k]) / w;
                    for col in 0..p {
                        terms.cross[(l, col)] += fj * mean.d[(j, col)] + fk * mean.d[(k, col)];
                    }
                }
            }
        }
        Ok(terms)
    }
}

/// Whether the correlation `gamma` of two binary outcomes with means `a` and `b` is possible
/// (Prentice 1988): below the smaller of `sqrt(a(1-b)/(b(1-a)))` and its inverse, above the
/// larger of `-sqrt(ab/((1-a)(1-b)))` and its inverse.
fn in_range(gamma: f64, a: f64, b: f64) -> bool {
    let odds = (a * (1.0 - b) / (b * (1.0 - a))).sqrt();
    let both = (a * b / ((1.0 - a) * (1.0 - b))).sqrt();
    gamma <= odds.min(1.0 / odds) && gamma >= (-both).max(-1.0 / both)
}

/// `Y' R^{-1} Y` by a Cholesky factor of the cluster's working correlation R (any structure;
/// used for the block exchangeable one). `None` when R is not positive definite.
fn dense_quadratic(
    cluster: &Cluster,
    correlation: WorkingCorrelation,
    alpha: &[f64],
    y: &DMatrix<f64>,
) -> Option<DMatrix<f64>> {
    let n = cluster.rows.len();
    let mut r = DMatrix::identity(n, n);
    for j in 0..n {
        for k in j + 1..n {
            let gamma = alpha[cluster.parameter(correlation, j, k)];
            r[(j, k)] = gamma;
            r[(k, j)] = gamma;
        }
    }
    let chol = r.cholesky()?;
    Some(y.tr_mul(&chol.solve(y)))
}
