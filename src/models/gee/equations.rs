//! The estimating equations of one cluster: the mean part `D'V^{-1}(y - mu)` with its
//! information, and one pass over the cluster's pairs for the correlation part (see the module
//! docs of [`super`]).

use std::sync::Arc;

use nalgebra::{DMatrix, DVector};

use super::patterns::Patterns;
use super::WorkingCorrelation;
use crate::core::error::{Error, Result};
use crate::models::family::Link;

/// The rows of one cluster and what the working correlation needs of them.
#[derive(Debug, Clone)]
pub(super) struct Cluster {
    /// The cluster's covariate patterns, where they are few enough to sum the pairs by.
    pub patterns: Option<Patterns>,
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
    pub fn parameter(&self, correlation: WorkingCorrelation, j: usize, k: usize) -> usize {
        let same_period = self.period[j] == self.period[k];
        match correlation {
            WorkingCorrelation::Independence | WorkingCorrelation::Exchangeable => 0,
            // (The patient-level fit refuses the decay before any pair is formed.)
            WorkingCorrelation::NestedExchangeable | WorkingCorrelation::ExponentialDecay => {
                usize::from(!same_period)
            }
            WorkingCorrelation::BlockExchangeable if same_period => 0,
            WorkingCorrelation::BlockExchangeable if self.individual[j] == self.individual[k] => 2,
            WorkingCorrelation::BlockExchangeable => 1,
        }
    }
}

/// The rows of the mean model: design matrix, 0/1 response and offsets (all rows).
#[derive(Debug)]
pub(super) struct Data {
    /// The design matrix transposed (p x n), so that each row's covariates are contiguous.
    pub xt: DMatrix<f64>,
    /// The 0/1 response.
    pub y: Vec<f64>,
    /// Offsets, if any.
    pub offset: Option<Vec<f64>>,
    /// Prior weights, if any.
    pub weight: Option<Vec<f64>>,
}

impl Data {
    /// The prior weight of `row` (1 without weights).
    pub fn weight(&self, row: usize) -> f64 {
        self.weight.as_ref().map_or(1.0, |w| w[row])
    }

    /// The linear predictor `x_row' beta + offset_row`.
    pub fn eta(&self, row: usize, beta: &DVector<f64>) -> f64 {
        let offset = self.offset.as_ref().map_or(0.0, |o| o[row]);
        self.xt.column(row).dot(beta) + offset
    }
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

/// The mean part of one cluster at (beta, alpha). A prior weight w scales a patient's working
/// variance to `mu (1 - mu) / w`.
pub(super) struct MeanTerms {
    /// `D' V^{-1} (y - mu)`.
    pub u: DVector<f64>,
    /// `D' V^{-1} D`.
    pub m: DMatrix<f64>,
    /// Means.
    pub mu: Vec<f64>,
    /// `sqrt(mu (1 - mu))`.
    pub s: Vec<f64>,
    /// Standardised residuals `(y - mu) / s`.
    pub e: Vec<f64>,
    /// `D = dmu/dbeta`, one row per observation.
    pub d: DMatrix<f64>,
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
        self.data.xt.nrows()
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
            let eta = data.eta(row, beta);
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
                d[(j, col)] = data.xt[(col, row)] * dmu;
            }
        }
        let s: Vec<f64> = cluster
            .rows
            .iter()
            .zip(&mu)
            .map(|(&row, m)| (m * (1.0 - m) / data.weight(row)).sqrt())
            .collect();
        let r: Vec<f64> = cluster
            .rows
            .iter()
            .zip(&mu)
            .map(|(&row, m)| data.y[row] - m)
            .collect();
        let e: Vec<f64> = r.iter().zip(&s).map(|(r, s)| r / s).collect();
        // Y = S^{-1} [r | D]: then D'V^{-1}r and D'V^{-1}D are blocks of Y' R^{-1} Y.
        let q = match (self.correlation, &cluster.patterns) {
            (WorkingCorrelation::BlockExchangeable, _) => {
                dense_quadratic(cluster, self.correlation, alpha, &scaled_rows(&e, &d, &s))
            }
            (_, Some(patterns)) => {
                let sums = patterns.period_sums(cluster, &e, &d, &s);
                self.nested_quadratic(alpha, sums)
            }
            (_, None) => {
                let y = scaled_rows(&e, &d, &s);
                let sums = PeriodSums::of_rows(&cluster.period, &y);
                self.nested_quadratic(alpha, sums)
            }
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
    /// `sigma = sum_t n_t / (a + b n_t)`: no n x n matrix. `None` when R is not positive
    /// definite.
    fn nested_quadratic(&self, alpha: &[f64], sums: PeriodSums) -> Option<DMatrix<f64>> {
        let (a0, a1) = match self.correlation {
            WorkingCorrelation::Independence => (0.0, 0.0),
            WorkingCorrelation::Exchangeable => (alpha[0], alpha[0]),
            _ => (alpha[0], alpha[1]),
        };
        let (a, b, c) = (1.0 - a0, a0 - a1, a1);
        let PeriodSums { gram, sizes, sums } = sums;
        if a <= 0.0 || sizes.iter().any(|&n| n > 0.0 && a + b * n <= 0.0) {
            return None;
        }
        let mut q = gram;
        let mut w = DVector::zeros(q.ncols());
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
    /// each pair; `cross` asks for the alpha-beta block of the information. Summed by covariate
    /// pattern where the cluster has few of them ([`Patterns`]), else pair by pair.
    pub fn pair_terms(
        &self,
        c: usize,
        mean: &MeanTerms,
        alpha: &[f64],
        shift: Option<&DVector<f64>>,
        cross: bool,
    ) -> Result<PairTerms> {
        let cluster = &self.clusters[c];
        let rows = RowTerms::new(self, cluster, mean, shift);
        let mut terms = PairTerms::zeros(self.q(), self.p());
        if self.q() == 0 {
            return Ok(terms);
        }
        let mut sums = PairSums::new(&mut terms, alpha, cross, &mean.d);
        let added = match &cluster.patterns {
            Some(patterns) => patterns.add_pairs(self.correlation, cluster, &rows, &mut sums),
            None => add_each_pair(self.correlation, cluster, &rows, &mut sums),
        };
        added.map_err(|(l, w)| Error::Numerical {
            what: format!("the correlation equations of cluster '{}'", cluster.label),
            message: format!(
                "the variance of a residual product is {w} at {} = {}",
                self.correlation.parameter_names()[l],
                alpha[l]
            ),
        })?;
        Ok(terms)
    }
}

/// What the pairs of a cluster read of each of its rows.
pub(super) struct RowTerms {
    /// Means.
    pub mu: Vec<f64>,
    /// Standardised residuals.
    pub e: Vec<f64>,
    /// The MAEE shift `(D t)_j / s_j` of the first residual of a pair (0 for UEE).
    pub shift: Vec<f64>,
    /// `(1 - 2 mu) / sqrt(v)`: the products' variances are `1 + spread_j spread_k gamma -
    /// gamma^2`.
    pub spread: Vec<f64>,
    /// `d log v / d mu + 2 / (y - mu)`: the products' derivatives are
    /// `gamma / 2 (slope_j d_j + slope_k d_k)` (geeCRT's approximation).
    pub slope: Vec<f64>,
}

impl RowTerms {
    fn new(
        problem: &Problem,
        cluster: &Cluster,
        mean: &MeanTerms,
        shift: Option<&DVector<f64>>,
    ) -> RowTerms {
        let n = cluster.rows.len();
        let shift = match shift {
            Some(t) => {
                let dt = &mean.d * t;
                (0..n).map(|j| dt[j] / mean.s[j]).collect()
            }
            None => vec![0.0; n],
        };
        let slope = cluster
            .rows
            .iter()
            .zip(&mean.mu)
            .map(|(&row, m)| 1.0 / m - 1.0 / (1.0 - m) + 2.0 / (problem.data.y[row] - m))
            .collect();
        let spread = mean
            .mu
            .iter()
            .zip(&mean.s)
            .map(|(m, s)| (1.0 - 2.0 * m) / s)
            .collect();
        RowTerms {
            mu: mean.mu.clone(),
            e: mean.e.clone(),
            shift,
            spread,
            slope,
        }
    }
}

/// The correlation terms being summed, and what a set of pairs adds to them.
pub(super) struct PairSums<'a> {
    terms: &'a mut PairTerms,
    alpha: &'a [f64],
    cross: bool,
    d: &'a DMatrix<f64>,
}

impl<'a> PairSums<'a> {
    /// Sums into `terms` at `alpha`, with cross terms from the derivative rows `d` when
    /// `cross`.
    pub fn new(
        terms: &'a mut PairTerms,
        alpha: &'a [f64],
        cross: bool,
        d: &'a DMatrix<f64>,
    ) -> Self {
        PairSums {
            terms,
            alpha,
            cross,
            d,
        }
    }

    /// Adds `count` pairs of parameter `l` between rows with means `mu` and spreads `spread`
    /// whose residual products sum to `products`. Returns the weight `gamma / (2 w)` of their
    /// cross terms, or `(l, w)` when the products' variance w is not positive.
    pub fn add(
        &mut self,
        l: usize,
        mu: (f64, f64),
        spread: (f64, f64),
        count: f64,
        products: f64,
    ) -> std::result::Result<f64, (usize, f64)> {
        let gamma = self.alpha[l];
        let w = 1.0 + spread.0 * spread.1 * gamma - gamma * gamma;
        if w <= 0.0 {
            return Err((l, w));
        }
        self.terms.a[l] += (products - count * gamma) / w;
        self.terms.b[(l, l)] += count / w;
        if !in_range(gamma, mu.0, mu.1) {
            self.terms.out_of_range += count as usize;
        }
        Ok(gamma / (2.0 * w))
    }

    /// Adds `weight * factor * d_j` to the cross terms of parameter `l` (when asked for).
    pub fn add_cross(&mut self, l: usize, weight: f64, j: usize, factor: f64) {
        if self.cross {
            let scale = weight * factor;
            for col in 0..self.d.ncols() {
                self.terms.cross[(l, col)] += scale * self.d[(j, col)];
            }
        }
    }
}

/// The pairs of a cluster one by one, j before k in the cohort's row order.
pub(super) fn add_each_pair(
    correlation: WorkingCorrelation,
    cluster: &Cluster,
    rows: &RowTerms,
    sums: &mut PairSums,
) -> std::result::Result<(), (usize, f64)> {
    let n = cluster.rows.len();
    for j in 0..n {
        for k in j + 1..n {
            let l = cluster.parameter(correlation, j, k);
            let product = (rows.e[j] + rows.shift[j]) * rows.e[k];
            let weight = sums.add(
                l,
                (rows.mu[j], rows.mu[k]),
                (rows.spread[j], rows.spread[k]),
                1.0,
                product,
            )?;
            sums.add_cross(l, weight, j, rows.slope[j]);
            sums.add_cross(l, weight, k, rows.slope[k]);
        }
    }
    Ok(())
}

impl PairTerms {
    /// No pairs yet.
    pub fn zeros(q: usize, p: usize) -> PairTerms {
        PairTerms {
            a: DVector::zeros(q),
            b: DMatrix::zeros(q, q),
            cross: DMatrix::zeros(q, p),
            out_of_range: 0,
        }
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

/// `Y = S^{-1} [r | D]`: the standardised residuals beside the derivatives over the SDs.
pub(super) fn scaled_rows(e: &[f64], d: &DMatrix<f64>, s: &[f64]) -> DMatrix<f64> {
    let (n, p) = d.shape();
    let mut y = DMatrix::zeros(n, p + 1);
    for j in 0..n {
        y[(j, 0)] = e[j];
        for col in 0..p {
            y[(j, col + 1)] = d[(j, col)] / s[j];
        }
    }
    y
}

/// What the closed-form inverse of a nested exchangeable correlation reads of
/// `Y = S^{-1} [r | D]`: `Y'Y`, and the size and column sums of each period.
pub(super) struct PeriodSums {
    /// `Y'Y`.
    pub gram: DMatrix<f64>,
    /// Rows of each period code.
    pub sizes: Vec<f64>,
    /// Column sums of Y over each period code's rows (one row per code).
    pub sums: DMatrix<f64>,
}

impl PeriodSums {
    /// From the rows of Y and their period codes.
    pub fn of_rows(period: &[u32], y: &DMatrix<f64>) -> PeriodSums {
        let codes = period.iter().max().map_or(0, |&t| t as usize + 1);
        let mut sizes = vec![0.0; codes];
        let mut sums = DMatrix::zeros(codes, y.ncols());
        for (j, &t) in period.iter().enumerate() {
            sizes[t as usize] += 1.0;
            let mut row = sums.row_mut(t as usize);
            row += y.row(j);
        }
        PeriodSums {
            gram: y.tr_mul(y),
            sizes,
            sums,
        }
    }
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
