//! The estimating equations of one cluster: the mean part `D'V^{-1}(y - mu)` with its
//! information, and one pass over the cluster's pairs for the correlation part (see the module
//! docs of [`super`]).

use std::sync::Arc;

use nalgebra::{DMatrix, DVector};

use super::patterns::Patterns;
use super::WorkingCorrelation;
use crate::core::error::{Error, Result};
use crate::models::family::{Family, Link};

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
    /// A cluster of rows 0, 1, ... with these period codes, for tests.
    #[cfg(test)]
    pub fn of_periods(period: Vec<u32>) -> Cluster {
        let n = period.len();
        Cluster {
            patterns: None,
            label: "c".into(),
            rows: (0..n).collect(),
            period,
            individual: vec![0; n],
        }
    }

    /// The pair class (see [`PairClasses`]) of the cluster's rows `j` and `k`.
    pub fn class(&self, correlation: WorkingCorrelation, j: usize, k: usize) -> usize {
        if correlation == WorkingCorrelation::BlockExchangeable
            && self.period[j] != self.period[k]
            && self.individual[j] == self.individual[k]
        {
            return 2;
        }
        period_class(correlation, self.period[j], self.period[k])
    }
}

/// The pair class of two different patients of periods `s` and `t`: 0 for any pair under
/// independence and exchangeable; 0 within and 1 between periods under the nested and block
/// exchangeable ones; the distance `|s - t|` under the decay.
pub(super) fn period_class(correlation: WorkingCorrelation, s: u32, t: u32) -> usize {
    match correlation {
        WorkingCorrelation::Independence | WorkingCorrelation::Exchangeable => 0,
        WorkingCorrelation::NestedExchangeable | WorkingCorrelation::BlockExchangeable => {
            usize::from(s != t)
        }
        WorkingCorrelation::ExponentialDecay => s.abs_diff(t) as usize,
    }
}

/// The working correlation of each class of pairs and its derivative in the correlation
/// parameters: `gamma_k = z_k' alpha` with `z_k` a unit vector for the linear structures
/// (one class per parameter); for the decay, class d (the distance in periods) has
/// `gamma_d = alpha0 rho^d` and `z_d = dgamma_d / d(alpha0, rho) = (rho^d, alpha0 d rho^(d-1))`.
/// The correlation equations are `sum z_k (r - gamma_k) / w = 0` over the pairs either way.
#[derive(Debug, Clone)]
pub(super) struct PairClasses {
    /// The working correlation of each class.
    pub gamma: Vec<f64>,
    /// `dgamma / dalpha` of each class (length q).
    pub z: Vec<Vec<f64>>,
}

impl PairClasses {
    /// The classes of `correlation` at `alpha`, for periods coded below `periods`.
    pub fn new(correlation: WorkingCorrelation, alpha: &[f64], periods: usize) -> PairClasses {
        let unit = |q: usize| -> Vec<Vec<f64>> {
            (0..q)
                .map(|l| (0..q).map(|m| f64::from(u8::from(l == m))).collect())
                .collect()
        };
        match correlation {
            WorkingCorrelation::Independence => PairClasses {
                gamma: vec![0.0],
                z: vec![Vec::new()],
            },
            WorkingCorrelation::ExponentialDecay => {
                let (alpha0, rho) = (alpha[0], alpha[1]);
                let lags = 0..periods.max(1);
                PairClasses {
                    gamma: lags.clone().map(|d| alpha0 * rho.powi(d as i32)).collect(),
                    z: lags
                        .map(|d| match d {
                            0 => vec![1.0, 0.0],
                            _ => vec![
                                rho.powi(d as i32),
                                alpha0 * d as f64 * rho.powi(d as i32 - 1),
                            ],
                        })
                        .collect(),
                }
            }
            _ => PairClasses {
                gamma: alpha.to_vec(),
                z: unit(alpha.len()),
            },
        }
    }
}

/// The rows of the mean model: design matrix, response and offsets (all rows).
#[derive(Debug)]
pub(super) struct Data {
    /// The design matrix transposed (p x n), so that each row's covariates are contiguous.
    pub xt: DMatrix<f64>,
    /// The response.
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
    /// The family (its variance function).
    pub family: Family,
    /// The link.
    pub link: Link,
    /// The working correlation.
    pub correlation: WorkingCorrelation,
    /// Period codes are below this.
    pub periods: usize,
    /// The clusters.
    pub clusters: Vec<Cluster>,
}

/// The mean part of one cluster at (beta, alpha) and scale phi. A patient's working variance is
/// `phi v(mu) / w` with the family's variance function v and prior weight w.
pub(super) struct MeanTerms {
    /// `D' V^{-1} (y - mu)`.
    pub u: DVector<f64>,
    /// `D' V^{-1} D`.
    pub m: DMatrix<f64>,
    /// Means.
    pub mu: Vec<f64>,
    /// `sqrt(phi v(mu) / w)`.
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
    /// `sum z z' / w`, the information of the correlation equations.
    pub b: DMatrix<f64>,
    /// `sum z (-dr/dbeta)' / w` (geeCRT's approximation), when asked for.
    pub cross: DMatrix<f64>,
    /// Pairs whose working correlation is out of the range their means allow.
    pub out_of_range: usize,
    /// For each pair class, `(sum r / w, sum 1 / w)` over its pairs (the weighted least-squares
    /// statistics of the decay's profile step).
    pub by_class: Vec<[f64; 2]>,
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
            family: self.family,
            link: self.link,
            correlation: self.correlation,
            periods: self.periods,
            clusters: sample.iter().map(|&c| self.clusters[c].clone()).collect(),
        }
    }

    /// The working correlation of each class of pairs at `alpha`.
    pub fn classes(&self, alpha: &[f64]) -> PairClasses {
        PairClasses::new(self.correlation, alpha, self.periods)
    }

    /// The mean part of cluster `c` at (`beta`, `alpha`) and scale `scale`.
    pub fn mean_terms(
        &self,
        c: usize,
        beta: &DVector<f64>,
        alpha: &[f64],
        scale: f64,
    ) -> Result<MeanTerms> {
        let cluster = &self.clusters[c];
        let data = &*self.data;
        let n = cluster.rows.len();
        let p = self.p();
        let mut mu = Vec::with_capacity(n);
        let mut d = DMatrix::zeros(n, p);
        for (j, &row) in cluster.rows.iter().enumerate() {
            let eta = data.eta(row, beta);
            let (m, dmu, _) = self.link.mean_and_derivatives(eta);
            if !self.family.valid_mu(m) {
                return Err(Error::Numerical {
                    what: format!("the GEE in cluster '{}'", cluster.label),
                    message: format!(
                        "a fitted mean is {m}, outside the {} family's range: the {} link does \
                         not fit these data",
                        self.family, self.link
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
            .map(|(&row, &m)| (scale * self.family.variance(m) / data.weight(row)).sqrt())
            .collect();
        let r: Vec<f64> = cluster
            .rows
            .iter()
            .zip(&mu)
            .map(|(&row, m)| data.y[row] - m)
            .collect();
        let e: Vec<f64> = r.iter().zip(&s).map(|(r, s)| r / s).collect();
        // Y = S^{-1} [r | D]: then D'V^{-1}r and D'V^{-1}D are blocks of Y' R^{-1} Y.
        let classes = self.classes(alpha);
        let q = match (self.correlation, &cluster.patterns) {
            (WorkingCorrelation::BlockExchangeable, _) => dense_quadratic(
                cluster,
                self.correlation,
                &classes,
                &scaled_rows(&e, &d, &s),
            ),
            (_, Some(patterns)) => {
                let sums = patterns.period_sums(cluster, &e, &d, &s);
                self.structured_quadratic(&classes, sums)
            }
            (_, None) => {
                let y = scaled_rows(&e, &d, &s);
                let sums = PeriodSums::of_rows(&cluster.period, &y);
                self.structured_quadratic(&classes, sums)
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

    /// `Y' R^{-1} Y` for a correlation that depends on the periods only (independence,
    /// exchangeable, nested exchangeable, decay): with the period indicators Z (n x T), the
    /// between-patient correlations C (T x T, `C_st` that of two patients of periods s and t)
    /// and `a = 1 - C_tt` (`1 - alpha0`), `R = a I + Z C Z'`. With `N = Z'Z` (the period sizes)
    /// and `U = Z N^{-1/2}` (orthonormal), `R = a (I - UU') + U K U'`, `K = a I + N^{1/2} C
    /// N^{1/2}`, so `Y'R^{-1}Y = (Y'Y - S'N^{-1}S) / a + S'N^{-1/2} K^{-1} N^{-1/2} S` with the
    /// period column sums `S = Z'Y`: a T x T Cholesky factor, no n x n matrix. `None` when R is
    /// not positive definite (`a <= 0` or K not positive definite).
    fn structured_quadratic(
        &self,
        classes: &PairClasses,
        sums: PeriodSums,
    ) -> Option<DMatrix<f64>> {
        let PeriodSums { gram, sizes, sums } = sums;
        let present: Vec<usize> = (0..sizes.len()).filter(|&t| sizes[t] > 0.0).collect();
        let a = 1.0 - classes.gamma[0];
        if a <= 0.0 {
            return None;
        }
        let root: Vec<f64> = present.iter().map(|&t| sizes[t].sqrt()).collect();
        let k = DMatrix::from_fn(present.len(), present.len(), |i, j| {
            let (s, t) = (present[i], present[j]);
            let c = classes.gamma[period_class(self.correlation, s as u32, t as u32)];
            root[i] * c * root[j] + if i == j { a } else { 0.0 }
        });
        let chol = k.cholesky()?;
        // N^{-1/2} S, one row per present period.
        let scaled = DMatrix::from_fn(present.len(), gram.ncols(), |i, col| {
            sums[(present[i], col)] / root[i]
        });
        Some((gram - scaled.tr_mul(&scaled)) / a + scaled.tr_mul(&chol.solve(&scaled)))
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
        terms.by_class = vec![[0.0; 2]; self.classes(alpha).gamma.len()];
        if self.q() == 0 {
            return Ok(terms);
        }
        let classes = self.classes(alpha);
        let mut sums = PairSums::new(&mut terms, self.family, &classes, cross, &mean.d);
        let added = match &cluster.patterns {
            Some(patterns) => patterns.add_pairs(self.correlation, cluster, &rows, &mut sums),
            None => add_each_pair(self.correlation, cluster, &rows, &mut sums),
        };
        added.map_err(|(k, w)| Error::Numerical {
            what: format!("the correlation equations of cluster '{}'", cluster.label),
            message: format!(
                "the variance of a residual product is {w} at a working correlation of {} \
                 ({} = {:?})",
                classes.gamma[k],
                self.correlation.parameter_names().join(", "),
                alpha
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
    /// `v'(mu) / s`, for binary outcomes `(1 - 2 mu) / s`: their products' variances are
    /// `1 + spread_j spread_k gamma - gamma^2`.
    pub spread: Vec<f64>,
    /// `d log v / d mu + 2 / (y - mu)` (0 for the second part where y equals mu exactly): the
    /// products' derivatives are `gamma / 2 (slope_j d_j + slope_k d_k)` (geeCRT's
    /// approximation).
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
            .map(|(&row, &m)| {
                let family = problem.family;
                let r = problem.data.y[row] - m;
                family.variance_deriv(m) / family.variance(m) + if r == 0.0 { 0.0 } else { 2.0 / r }
            })
            .collect();
        let spread = mean
            .mu
            .iter()
            .zip(&mean.s)
            .map(|(&m, s)| problem.family.variance_deriv(m) / s)
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
    family: Family,
    classes: &'a PairClasses,
    cross: bool,
    d: &'a DMatrix<f64>,
}

impl<'a> PairSums<'a> {
    /// Sums into `terms` for outcomes of `family` with pair classes `classes`, with cross terms
    /// from the derivative rows `d` when `cross`.
    pub fn new(
        terms: &'a mut PairTerms,
        family: Family,
        classes: &'a PairClasses,
        cross: bool,
        d: &'a DMatrix<f64>,
    ) -> Self {
        PairSums {
            terms,
            family,
            classes,
            cross,
            d,
        }
    }

    /// Adds `count` pairs of class `k` between rows with means `mu` and spreads `spread`
    /// whose residual products sum to `products`. The variance of a product is, for binary
    /// outcomes, `w = 1 + spread_j spread_k gamma - gamma^2` (Prentice 1988); for Gaussian ones
    /// `1 + gamma^2` (as geeCRT's continuous MAEE); for counts 1 (unit weights). Returns the
    /// weight `gamma / (2 w)` of their cross terms, or `(k, w)` when w is not positive.
    pub fn add(
        &mut self,
        k: usize,
        mu: (f64, f64),
        spread: (f64, f64),
        count: f64,
        products: f64,
    ) -> std::result::Result<f64, (usize, f64)> {
        let gamma = self.classes.gamma[k];
        let (w, valid) = match self.family {
            Family::Binomial => (
                1.0 + spread.0 * spread.1 * gamma - gamma * gamma,
                in_range(gamma, mu.0, mu.1),
            ),
            Family::Gaussian => (1.0 + gamma * gamma, gamma.abs() < 1.0),
            _ => (1.0, gamma.abs() < 1.0),
        };
        if w <= 0.0 {
            return Err((k, w));
        }
        let z = &self.classes.z[k];
        for (l, &zl) in z.iter().enumerate() {
            self.terms.a[l] += zl * (products - count * gamma) / w;
            for (m, &zm) in z.iter().enumerate() {
                self.terms.b[(l, m)] += zl * zm * count / w;
            }
        }
        if let Some(sums) = self.terms.by_class.get_mut(k) {
            sums[0] += products / w;
            sums[1] += count / w;
        }
        if !valid {
            self.terms.out_of_range += count as usize;
        }
        Ok(gamma / (2.0 * w))
    }

    /// Adds `weight * factor * z_k d_j` to the cross terms (when asked for).
    pub fn add_cross(&mut self, k: usize, weight: f64, j: usize, factor: f64) {
        if self.cross {
            for (l, &zl) in self.classes.z[k].iter().enumerate() {
                let scale = weight * factor * zl;
                for col in 0..self.d.ncols() {
                    self.terms.cross[(l, col)] += scale * self.d[(j, col)];
                }
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
            let l = cluster.class(correlation, j, k);
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
            by_class: Vec::new(),
        }
    }
}

/// Whether the correlation `gamma` of two binary outcomes with means `a` and `b` is possible
/// (Prentice 1988): below the smaller of `sqrt(a(1-b)/(b(1-a)))` and its inverse, above the
/// larger of `-sqrt(ab/((1-a)(1-b)))` and its inverse.
pub(super) fn in_range(gamma: f64, a: f64, b: f64) -> bool {
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
    classes: &PairClasses,
    y: &DMatrix<f64>,
) -> Option<DMatrix<f64>> {
    let n = cluster.rows.len();
    let mut r = DMatrix::identity(n, n);
    for j in 0..n {
        for k in j + 1..n {
            let gamma = classes.gamma[cluster.class(correlation, j, k)];
            r[(j, k)] = gamma;
            r[(k, j)] = gamma;
        }
    }
    let chol = r.cholesky()?;
    Some(y.tr_mul(&chol.solve(y)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cluster of 23 rows over 4 periods (one empty), with Y = [r | D] of 3 columns.
    fn cluster() -> (Cluster, DMatrix<f64>) {
        let period: Vec<u32> = (0..23u32).map(|j| [0, 1, 3][(j % 3) as usize]).collect();
        let n = period.len();
        let c = Cluster::of_periods(period);
        let y = DMatrix::from_fn(n, 3, |j, col| ((j * 7 + col * 3) % 11) as f64 / 5.0 - 1.0);
        (c, y)
    }

    /// A problem of the one cluster `c` (no rows of data: only its structure is used).
    fn problem(c: &Cluster, correlation: WorkingCorrelation) -> Problem {
        Problem {
            data: Arc::new(Data {
                xt: DMatrix::zeros(2, 0),
                y: Vec::new(),
                offset: None,
                weight: None,
            }),
            family: Family::Binomial,
            link: Link::Logit,
            correlation,
            periods: 4,
            clusters: vec![c.clone()],
        }
    }

    #[test]
    fn the_structured_inverse_equals_the_dense_one() {
        let (c, y) = cluster();
        for (correlation, alpha) in [
            (WorkingCorrelation::Independence, vec![]),
            (WorkingCorrelation::Exchangeable, vec![0.1]),
            (WorkingCorrelation::NestedExchangeable, vec![0.12, 0.04]),
            (WorkingCorrelation::ExponentialDecay, vec![0.15, 0.6]),
        ] {
            let problem = problem(&c, correlation);
            let classes = problem.classes(&alpha);
            let dense = dense_quadratic(&c, correlation, &classes, &y).unwrap();
            let sums = PeriodSums::of_rows(&c.period, &y);
            let structured = problem.structured_quadratic(&classes, sums).unwrap();
            let diff = (&dense - &structured).amax();
            assert!(diff <= 1e-12 * dense.amax(), "{correlation}: {diff}");
        }
    }

    #[test]
    fn a_correlation_without_a_joint_distribution_is_none() {
        let (c, y) = cluster();
        let problem = problem(&c, WorkingCorrelation::NestedExchangeable);
        // Within-period correlation below -1 / (n_t - 1).
        let classes = problem.classes(&[-0.2, 0.0]);
        let sums = PeriodSums::of_rows(&c.period, &y);
        assert!(problem.structured_quadratic(&classes, sums).is_none());
    }
}
