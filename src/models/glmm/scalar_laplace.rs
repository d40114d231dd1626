//! The Laplace log-likelihood of a GLMM with one scalar random effect and a canonical link
//! (binomial-logit, Poisson-log), with its exact gradient and exact Hessian.
//!
//! Model: for group i and its patterns j (prior weight m_j, mean response y_j),
//! `eta_j = x_j' beta + o_j + theta z_j b`, `b ~ N(0, 1)`, so the random effect `theta b` has SD
//! `|theta|`. With the canonical link the row log-likelihood is `l_j(eta) = m_j (y_j eta - k(eta))`
//! (`k = log(1 + e^eta)` or `e^eta`) and its eta-derivatives are `l' = m (y - k')`,
//! `l'' = -m k''`, `l''' = -m k'''`, `l'''' = -m k''''`; for the logit
//! `k' = mu, k'' = v = mu (1 - mu), k''' = v (1 - 2 mu), k'''' = v (1 - 6 v)`, for the log all are mu.
//!
//! Per group, in the variables `u = (beta, theta, b)`: `g(u) = sum_j l_j(eta_j) - b^2 / 2`, the
//! conditional mode `b^` solves `g_b = 0`, `C = -g_bb = 1 + theta^2 sum_j m_j k''_j z_j^2` (observed
//! and Fisher curvature agree for a canonical link), and the Laplace log-likelihood is
//! `L(phi) = G(phi, b^(phi))` with `G = g - log(C) / 2` and `phi = (beta, theta)`.
//!
//! Derivatives: `eta` is bilinear in u (`eta_u = v_j = (x_j, z_j b, theta z_j)`, the only second
//! derivative `eta_{theta b} = z_j`), so every derivative of g is a sum over rows of
//! `l^(k)` times products of `v_j` and `z_j`. By the implicit-function theorem
//! `b^_phi = g_{b phi} / C` and `b^_{phi phi} = J' g_{b uu} J / C` with `J = [I; b^_phi']`, so
//!
//! - gradient: `L_phi = J' G_u`,
//! - Hessian: `L_{phi phi} = J' (G_uu + (G_b / C) g_{b uu}) J`,
//!
//! with `G_u = g_u + g_{bbu} / (2C)` and `G_uu = g_uu + g_{bbuu} / (2C) + g_{bbu} g_{bbu}' / (2C^2)`.
//! The three row-weighted Gram matrices in that sum share one pass, with the combined weight
//! `omega_j = l''_j + l''''_j theta^2 z_j^2 / (2C) + (G_b / C) l'''_j theta z_j`; the terms that
//! involve `eta_{theta b}` are rank-one corrections in the theta and b rows.

use nalgebra::DMatrix;
use rayon::prelude::*;

use super::likelihood::{mode_error, Likelihood, MODE_MAX_ITER};
use crate::core::error::{Error, Result};
use crate::models::glm::{Family, Link};

/// Patterns from which groups are evaluated in parallel.
const PARALLEL_PATTERNS: usize = 20_000;

/// A Newton step for the conditional mode at most this large (relative to `1 + |b|`) is the last.
const MODE_LAST_STEP: f64 = 1e-7;

/// The scalar-random-effect Laplace likelihood over a set of patterns.
pub(crate) struct ScalarLaplace<'a> {
    /// Binomial (logit link) or Poisson (log link).
    pub poisson: bool,
    /// The general likelihood whose patterns and group labels this one reads.
    pub likelihood: &'a Likelihood<'a>,
}

/// Value, gradient and (if asked) Hessian of the log-likelihood over `(beta, theta)`.
#[derive(Debug, Clone)]
pub(crate) struct Derivatives {
    pub loglik: f64,
    pub gradient: Vec<f64>,
    pub hessian: Option<DMatrix<f64>>,
}

/// The conditional modes of the last evaluation, where it was and how the modes move with the
/// parameters (`db^/dphi`, one row per group): the next evaluation starts each mode search
/// from `b^ + (db^/dphi) (phi_new - phi)`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ModeAnchor {
    params: Vec<f64>,
    modes: Vec<f64>,
    slopes: Vec<f64>,
}

impl ModeAnchor {
    /// Write the predicted modes at `params` into `modes` (left as they are before the first
    /// evaluation). Each mode value (q per group for a vector random effect) has its own slope
    /// over the n parameters.
    pub(super) fn predict(&self, params: &[f64], modes: &mut [f64]) {
        if self.params.len() != params.len() || self.modes.len() != modes.len() {
            return;
        }
        let n = params.len();
        for (g, b) in modes.iter_mut().enumerate() {
            let slope = &self.slopes[g * n..(g + 1) * n];
            let moved: f64 = slope
                .iter()
                .zip(params.iter().zip(&self.params))
                .map(|(s, (new, old))| s * (new - old))
                .sum();
            *b = self.modes[g] + moved;
        }
    }

    /// The slopes of `len` mode values over the n parameters (n per mode value), to be written
    /// by an evaluation with a gradient.
    pub(super) fn slopes_mut(&mut self, len: usize) -> &mut [f64] {
        self.slopes.resize(len, 0.0);
        &mut self.slopes
    }

    /// Keep `params` and the modes found there as the point predictions start from.
    pub(super) fn record(&mut self, params: &[f64], modes: &[f64]) {
        self.params = params.to_vec();
        self.modes = modes.to_vec();
    }
}

/// For the logit: `e = exp(-|eta|)`, the mean `mu` and `v = mu (1 - mu)`, from one exponential
/// and one division without cancellation.
fn logistic(eta: f64) -> (f64, f64, f64) {
    let e = (-eta.abs()).exp();
    let r = 1.0 / (1.0 + e);
    let mu = if eta >= 0.0 { r } else { e * r };
    (e, mu, e * r * r)
}

/// A row's log-likelihood kernel and its first four eta-derivatives.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Row {
    pub l0: f64,
    pub l1: f64,
    pub l2: f64,
    pub l3: f64,
    pub l4: f64,
}

/// Log-likelihood kernel and derivatives of a pattern with prior weight `m` and mean response
/// `y` at eta, for the Poisson-log (`poisson`) or binomial-logit family (module docs).
pub(super) fn canonical_row(poisson: bool, m: f64, y: f64, eta: f64) -> Row {
    if poisson {
        let mu = eta.exp();
        let d = -m * mu;
        return Row {
            l0: m * (y * eta - mu),
            l1: m * (y - mu),
            l2: d,
            l3: d,
            l4: d,
        };
    }
    let (e, mu, v) = logistic(eta);
    Row {
        l0: m * (y * eta - (eta.max(0.0) + e.ln_1p())),
        l1: m * (y - mu),
        l2: -m * v,
        l3: -m * v * (1.0 - 2.0 * mu),
        l4: -m * v * (1.0 - 6.0 * v),
    }
}

/// The sum of the groups' contributions (in group order, whatever the threads) and the
/// patterns' constant; an error if a group failed or the log-likelihood is not finite.
pub(super) fn add_groups(
    parts: Vec<Result<Derivatives>>,
    n: usize,
    gradient: bool,
    hessian: bool,
    constant: f64,
) -> Result<Derivatives> {
    let mut total = Derivatives {
        loglik: 0.0,
        gradient: vec![0.0; if gradient { n } else { 0 }],
        hessian: hessian.then(|| DMatrix::zeros(n, n)),
    };
    for part in parts {
        let part = part?;
        total.loglik += part.loglik;
        for (t, v) in total.gradient.iter_mut().zip(&part.gradient) {
            *t += v;
        }
        if let (Some(t), Some(h)) = (total.hessian.as_mut(), part.hessian.as_ref()) {
            *t += h;
        }
    }
    total.loglik += constant;
    if !total.loglik.is_finite() {
        return Err(Error::Numerical {
            what: "the integrated log-likelihood".into(),
            message: "it is not finite at these parameters".into(),
        });
    }
    Ok(total)
}

impl<'a> ScalarLaplace<'a> {
    /// The exact path applies to one scalar random effect with a canonical link and Laplace.
    pub fn applies(family: Family, link: Link, q: usize, nagq: usize) -> Option<bool> {
        match (family, link) {
            _ if q != 1 || nagq != 1 => None,
            (Family::Binomial, Link::Logit) => Some(false),
            (Family::Poisson, Link::Log) => Some(true),
            _ => None,
        }
    }

    /// Log-likelihood kernel and derivatives of one pattern at eta.
    fn row(&self, k: usize, eta: f64) -> Row {
        let pat = self.likelihood.patterns;
        canonical_row(self.poisson, pat.m[k], pat.y[k], eta)
    }

    /// Score `m (y - mu)` and curvature weight `m k''` of one pattern at eta (no logarithm).
    fn score_weight(&self, k: usize, eta: f64) -> (f64, f64) {
        let (m, y) = (self.likelihood.patterns.m[k], self.likelihood.patterns.y[k]);
        if self.poisson {
            let mu = eta.exp();
            return (m * (y - mu), m * mu);
        }
        let (_, mu, v) = logistic(eta);
        (m * (y - mu), m * v)
    }

    /// Log-likelihood, gradient and, if `hessian`, Hessian at `params = (beta, theta)`. `modes`
    /// holds one b per group; each mode search starts from the mode predicted by `anchor` (the
    /// last evaluation) and on return `modes` and `anchor` hold this evaluation's.
    pub fn evaluate(
        &self,
        params: &[f64],
        modes: &mut [f64],
        anchor: &mut ModeAnchor,
        hessian: bool,
    ) -> Result<Derivatives> {
        let n = self.likelihood.patterns.p + 1;
        anchor.predict(params, modes);
        let slopes = anchor.slopes_mut(modes.len() * n);
        let one_group = |(g, (b, slope)): (usize, (&mut f64, &mut [f64]))| {
            self.group(g, params, b, slope, hessian)
        };
        // Groups are independent; their sums are added in group order whatever the threads.
        let parts: Vec<Result<Derivatives>> = if self.likelihood.patterns.len() >= PARALLEL_PATTERNS
        {
            modes
                .par_iter_mut()
                .zip(slopes.par_chunks_mut(n))
                .enumerate()
                .map(one_group)
                .collect()
        } else {
            modes
                .iter_mut()
                .zip(slopes.chunks_mut(n))
                .enumerate()
                .map(one_group)
                .collect()
        };
        anchor.record(params, modes);
        add_groups(parts, n, true, hessian, self.likelihood.patterns.constant)
    }

    /// Conditional modes `theta b^` of the random effects at their modes `modes` and their
    /// conditional SDs `|theta| / sqrt(C)`.
    pub fn conditional_modes(&self, params: &[f64], modes: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let pat = self.likelihood.patterns;
        let (beta, theta) = (&params[..pat.p], params[pat.p]);
        let sds = modes
            .iter()
            .enumerate()
            .map(|(g, &b)| {
                let curvature: f64 = (pat.group_start[g]..pat.group_start[g + 1])
                    .map(|k| {
                        let tz = theta * pat.z[k];
                        let eta = pat.x_dot(k, beta) + pat.offset[k] + tz * b;
                        self.score_weight(k, eta).1 * tz * tz
                    })
                    .sum();
                theta.abs() / (1.0 + curvature).sqrt()
            })
            .collect();
        (modes.iter().map(|b| theta * b).collect(), sds)
    }

    /// One group's contribution at its conditional mode (found from `b` and stored there), and
    /// the mode's derivative over `(beta, theta)` in `slope`.
    fn group(
        &self,
        g: usize,
        params: &[f64],
        b: &mut f64,
        slope: &mut [f64],
        hessian: bool,
    ) -> Result<Derivatives> {
        let pat = self.likelihood.patterns;
        let p = pat.p;
        let (beta, theta) = (&params[..p], params[p]);
        let range = pat.group_start[g]..pat.group_start[g + 1];
        let eta0: Vec<f64> = range
            .clone()
            .map(|k| pat.x_dot(k, beta) + pat.offset[k])
            .collect();
        *b = self.mode(range.start, &eta0, theta, *b, &self.likelihood.labels[g])?;
        let b = *b;
        // Pass 1: the rows' derivatives at the mode and the group scalars C and G_b.
        let rows: Vec<Row> = eta0
            .iter()
            .enumerate()
            .map(|(j, e0)| {
                let k = range.start + j;
                self.row(k, e0 + theta * pat.z[k] * b)
            })
            .collect();
        let (mut loglik, mut g_b, mut c, mut g_bbb) = (-0.5 * b * b, -b, 1.0, 0.0);
        for (j, r) in rows.iter().enumerate() {
            let tz = theta * pat.z[range.start + j];
            loglik += r.l0;
            g_b += r.l1 * tz;
            c -= r.l2 * tz * tz;
            g_bbb += r.l3 * tz * tz * tz;
        }
        loglik -= 0.5 * c.ln();
        let big_g_b = g_b + 0.5 * g_bbb / c;
        let kappa = big_g_b / c;
        // Pass 2: sums over rows in u = (beta, theta, b) (indices p and p + 1). With
        // v = (x, z b, theta z), the sums over the theta and b entries are scalar sums of powers
        // of z times powers of b and theta; only the x entries need vectors, and of those only
        // the nonzero ones (the fixed-effect rows are mostly indicator zeros).
        let (it, ib, nu) = (p, p + 1, p + 2);
        // Per x column: the sums of l1 x, l2 z x, l3 theta^2 z^2 x, l3 theta z^2 x and omega z x.
        let mut x_sums = vec![[0.0; 5]; p];
        // The lower triangle of the sum of omega x x', column-major.
        let mut gram = vec![0.0; if hessian { p * p } else { 0 }];
        // The sums of l1 z, l2 z^2, l3 z^3 and omega z^2.
        let (mut l1z, mut l2zz, mut l3zzz, mut omega_zz) = (0.0, 0.0, 0.0, 0.0);
        for (j, r) in rows.iter().enumerate() {
            let k = range.start + j;
            let z = pat.z[k];
            let tz = theta * z;
            let omega = if hessian {
                r.l2 + 0.5 * r.l4 * tz * tz / c + kappa * r.l3 * tz
            } else {
                0.0
            };
            let weights = [r.l1, r.l2 * z, r.l3 * tz * tz, r.l3 * tz * z, omega * z];
            let (columns, values) = pat.x_nonzero(k);
            for (&col, x) in columns.iter().zip(values) {
                for (sum, w) in x_sums[col as usize].iter_mut().zip(&weights) {
                    *sum += w * x;
                }
            }
            l1z += r.l1 * z;
            l2zz += r.l2 * z * z;
            l3zzz += r.l3 * z * z * z;
            if hessian {
                omega_zz += omega * z * z;
                for (a, (&col, xc)) in columns.iter().zip(values).enumerate() {
                    let wx = omega * xc;
                    let col = col as usize;
                    let column = &mut gram[col * p..(col + 1) * p];
                    for (&row, xr) in columns[a..].iter().zip(&values[a..]) {
                        column[row as usize] += wx * xr;
                    }
                }
            }
        }
        // The u-space sums s1 = sum l1 v, t2 = sum l2 z v, t3 = sum l3 theta^2 z^2 v and
        // t3z = sum l3 theta z^2 v, and c1..c4 (the sums of l1 z, l2 theta z^2, l3 theta^2 z^3
        // and l2 z^2).
        let u_vector = |entry: usize, at_theta: f64, at_b: f64| -> Vec<f64> {
            let mut u: Vec<f64> = x_sums.iter().map(|s| s[entry]).collect();
            u.extend([at_theta, at_b]);
            u
        };
        let s1 = u_vector(0, b * l1z, theta * l1z);
        let t2 = u_vector(1, b * l2zz, theta * l2zz);
        let t3 = u_vector(2, b * theta * theta * l3zzz, theta.powi(3) * l3zzz);
        let t3z = u_vector(3, b * theta * l3zzz, theta * theta * l3zzz);
        let (c1, c2, c3, c4) = (l1z, theta * l2zz, theta * theta * l3zzz, l2zz);
        // g_u = s1 - b e_b; g_bbu = t3 + 2 c2 e_theta; G_u = g_u + g_bbu / (2C).
        let mut g_bbu = t3;
        g_bbu[it] += 2.0 * c2;
        let mut big_g_u: Vec<f64> = s1
            .iter()
            .zip(&g_bbu)
            .map(|(s, t)| s + 0.5 * t / c)
            .collect();
        big_g_u[ib] -= b;
        // b^_phi = g_{b phi} / C with g_{b phi} = theta t2 + c1 e_theta (phi entries).
        let mut db: Vec<f64> = t2[..ib].iter().map(|t| theta * t / c).collect();
        db[it] += c1 / c;
        let gradient: Vec<f64> = (0..ib).map(|k| big_g_u[k] + big_g_u[ib] * db[k]).collect();
        slope.copy_from_slice(&db);
        let hessian = hessian.then(|| {
            // The combined Gram matrix, the sum of omega v v', in u.
            let mut m = DMatrix::zeros(nu, nu);
            for col in 0..p {
                for row in col..p {
                    m[(row, col)] = gram[col * p + row];
                }
                let omega_zx = x_sums[col][4];
                m[(it, col)] = b * omega_zx;
                m[(ib, col)] = theta * omega_zx;
            }
            m[(it, it)] = b * b * omega_zz;
            m[(ib, it)] = b * theta * omega_zz;
            m[(ib, ib)] = theta * theta * omega_zz;
            m.fill_upper_triangle_with_lower_triangle();
            // The rank-one terms of g_uu, g_bbuu / (2C), g_bbu g_bbu' / (2C^2) and
            // (G_b / C) g_buu beyond the combined Gram.
            let e_weight = c1 + 0.5 * c3 / c + kappa * c2;
            m[(it, ib)] += e_weight;
            m[(ib, it)] += e_weight;
            m[(ib, ib)] -= 1.0;
            m[(it, it)] += c4 / c;
            for i in 0..nu {
                let t = t3z[i] / c + kappa * t2[i];
                m[(it, i)] += t;
                m[(i, it)] += t;
                for col in 0..nu {
                    m[(i, col)] += 0.5 * g_bbu[i] * g_bbu[col] / (c * c);
                }
            }
            // J' M J with J = [I; db'].
            DMatrix::from_fn(ib, ib, |r, s| {
                m[(r, s)] + m[(r, ib)] * db[s] + db[r] * m[(ib, s)] + m[(ib, ib)] * db[r] * db[s]
            })
        });
        Ok(Derivatives {
            loglik,
            gradient,
            hessian,
        })
    }

    /// The conditional mode of one group: Newton's method on the concave `g(b)`, with a bracket
    /// `[lo, hi]` on the root of `g'` (bisection where a step leaves it). It ends with a step of
    /// at most `1e-7 (1 + |b|)`, which Newton's quadratic convergence leaves about 1e-14 from the
    /// root (and the Laplace value is stationary in b there, so it moves by far less).
    fn mode(&self, start: usize, eta0: &[f64], theta: f64, mut b: f64, group: &str) -> Result<f64> {
        let z = &self.likelihood.patterns.z[start..start + eta0.len()];
        let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
        let mut last_step = f64::INFINITY;
        for _ in 0..MODE_MAX_ITER {
            let (mut slope, mut curvature) = (-b, 1.0);
            for (j, (e0, zj)) in eta0.iter().zip(z).enumerate() {
                let tz = theta * zj;
                let (score, weight) = self.score_weight(start + j, e0 + tz * b);
                slope += score * tz;
                curvature += weight * tz * tz;
            }
            if !slope.is_finite() || !curvature.is_finite() {
                return Err(mode_error(
                    group,
                    "the likelihood's derivatives are not finite",
                    last_step,
                ));
            }
            if slope > 0.0 {
                lo = b;
            } else {
                hi = b;
            }
            let step = slope / curvature;
            last_step = step.abs();
            if last_step <= MODE_LAST_STEP * (1.0 + b.abs()) {
                return Ok(b + step);
            }
            let next = b + step;
            b = if next > lo && next < hi {
                next
            } else {
                0.5 * (lo + hi)
            };
            if hi - lo <= 1e-14 * (1.0 + b.abs()) {
                return Ok(b);
            }
        }
        Err(mode_error(
            group,
            "the Newton iterations did not converge",
            last_step,
        ))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use nalgebra::DMatrix;

    use super::super::likelihood::Likelihood;
    use super::super::patterns::{Patterns, RowData};
    use super::super::quadrature::GaussHermite;
    use super::ScalarLaplace;
    use crate::core::numdiff::assert_jacobian;
    use crate::frame::random_effects::ThetaStructure;
    use crate::models::glm::{Family, Link};

    /// Rows with an intercept and a covariate `((7 i) mod 5) / 4`, outcome counts out of 4
    /// (binomial) or counts (Poisson), an offset, the random-effect rows `z` (one per row) and
    /// row i in group `group(i)` of `n_groups`.
    pub(in crate::models::glmm) fn rows_with(
        family: Family,
        z: &DMatrix<f64>,
        group: impl Fn(usize) -> usize,
        n_groups: usize,
    ) -> Patterns {
        let n = z.nrows();
        let x = DMatrix::from_fn(n, 2, |i, j| {
            if j == 0 {
                1.0
            } else {
                ((i * 7) % 5) as f64 / 4.0
            }
        });
        let y: Vec<f64> = (0..n).map(|i| ((i * 13 + 5) % 5) as f64 / 4.0).collect();
        let w = vec![4.0; n];
        let offset: Vec<f64> = (0..n).map(|i| 0.1 * (i % 2) as f64).collect();
        let group: Vec<usize> = (0..n).map(group).collect();
        let y = if family == Family::Poisson {
            y.iter().map(|v| v * 4.0).collect()
        } else {
            y
        };
        let rows = RowData {
            x: &x,
            z,
            offset: Some(&offset),
            y: &y,
            w: &w,
            group: &group,
            n_groups,
        };
        Patterns::new(&rows, 0.0)
    }

    /// Three groups and a random slope-like z that varies by row.
    fn patterns(family: Family) -> Patterns {
        let z = DMatrix::from_fn(45, 1, |i, _| 0.5 + (i % 3) as f64 * 0.4);
        rows_with(family, &z, |i| i % 3, 3)
    }

    #[test]
    fn matches_the_general_laplace_and_differenced_gradient() {
        for (family, link) in [
            (Family::Binomial, Link::Logit),
            (Family::Poisson, Link::Log),
        ] {
            let patterns = patterns(family);
            let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
            let rule = GaussHermite::new(1).unwrap();
            let structure = ThetaStructure::correlated(1);
            let general = Likelihood {
                family,
                link,
                patterns: &patterns,
                rule: &rule,
                structure: &structure,
                labels: &labels,
            };
            let exact = ScalarLaplace {
                poisson: family == Family::Poisson,
                likelihood: &general,
            };
            let params = [-0.3, 0.4, 0.7];
            let mut modes = vec![0.0; 3];
            let reference = general.evaluate(&params, &mut modes.clone(), true).unwrap();
            let mut anchor = super::ModeAnchor::default();
            let at = exact
                .evaluate(&params, &mut modes, &mut anchor, true)
                .unwrap();
            assert!(
                (at.loglik - reference.loglik).abs() < 1e-10,
                "{family} loglik"
            );
            for (a, r) in at.gradient.iter().zip(&reference.gradient) {
                assert!((a - r).abs() < 1e-8, "{family} gradient {a} vs {r}");
            }
            let (values, sds) = exact.conditional_modes(&params, &modes);
            let (general_values, general_sds) = general.conditional_modes(&params, &modes);
            for (a, b) in values
                .iter()
                .chain(&sds)
                .zip(general_values.iter().chain(&general_sds))
            {
                assert!(
                    (a - b).abs() < 1e-12,
                    "{family} conditional modes {a} vs {b}"
                );
            }
            let gradient = |at: &[f64]| {
                let found = exact.evaluate(at, &mut modes, &mut anchor, false);
                found.unwrap().gradient
            };
            let hessian = at.hessian.unwrap();
            assert_jacobian(gradient, &params, &hessian, 1e-6, &family.to_string());
        }
    }
}
