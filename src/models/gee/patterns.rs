//! The correlation equations of a cluster summed by covariate pattern instead of pair by pair.
//!
//! Rows of one pattern (the same period and design row, so the same mean, variance and
//! derivative) differ only in their residuals, so the pairs between two patterns g and h share
//! their correlation parameter, their products' variance and their range, and their products
//! sum to `E_g E_h` (`E` the pattern's sum of standardised residuals; `(E_g^2 - Q_g) / 2` within
//! a pattern, `Q` the sum of squares). MAEE's shift of the first residual of a pair (first in the
//! cohort's row order) adds `delta_g O_gh + delta_h O_hg`, where `O_gh` sums the residuals of
//! h's rows, each times the number of g's rows before it: a sweep in row order, over the patterns
//! of the row's period only when each period's rows are contiguous (the patterns of an earlier
//! period then precede all of a later one: `O_gh = n_g E_h`). The work per cluster is
//! O(n + P^2 + n P_t) for P patterns, P_t of them in a period, instead of O(n^2).

use std::collections::HashMap;

use nalgebra::DMatrix;

use super::equations::{Cluster, PairSums, PeriodSums, RowTerms};
use super::WorkingCorrelation;

/// The most patterns a cluster is summed by (their P x P sweep sums are kept in memory).
const MAX_PATTERNS: usize = 512;

/// A cluster's covariate patterns.
#[derive(Debug, Clone)]
pub(super) struct Patterns {
    /// The pattern of each of the cluster's rows.
    of_row: Vec<usize>,
    /// The first row (index within the cluster) of each pattern.
    first: Vec<usize>,
    /// For each pattern, the run of its period when every period's rows are contiguous.
    runs: Option<Vec<usize>>,
}

impl Patterns {
    /// The patterns of a cluster (columns `rows` of the transposed design `xt`, rows of
    /// `offset` and `weight`, with period codes `period`),
    /// or `None` when they are not at most a quarter as many as the rows (or more than
    /// [`MAX_PATTERNS`]): then pair by pair is as fast.
    pub fn of(
        rows: &[usize],
        period: &[u32],
        xt: &DMatrix<f64>,
        offset: Option<&[f64]>,
        weight: Option<&[f64]>,
    ) -> Option<Patterns> {
        let mut index: HashMap<Vec<u64>, usize> = HashMap::new();
        let mut of_row = Vec::with_capacity(rows.len());
        let mut first = Vec::new();
        for (j, &row) in rows.iter().enumerate() {
            let mut key = Vec::with_capacity(xt.nrows() + 2);
            key.push(u64::from(period[j]));
            key.extend(xt.column(row).iter().map(|v| v.to_bits()));
            key.push(offset.map_or(0, |o| o[row].to_bits()));
            key.push(weight.map_or(0, |w| w[row].to_bits()));
            let next = first.len();
            let g = *index.entry(key).or_insert(next);
            if g == next {
                first.push(j);
                if first.len() > MAX_PATTERNS || 4 * first.len() > rows.len().max(4) {
                    return None;
                }
            }
            of_row.push(g);
        }
        let runs = period_runs(period)
            .map(|run_of_period| first.iter().map(|&j| run_of_period[&period[j]]).collect());
        Some(Patterns {
            of_row,
            first,
            runs,
        })
    }

    /// [`PeriodSums`] of `Y = S^{-1} [r | D]` from one row per pattern: the rows of a pattern
    /// share `z = d / s`, so `Y'Y` has `sum_g n_g z_g z_g'`, `sum_g E_g z_g` and `sum e^2`, and a
    /// period's sums are `(sum E_g, sum n_g z_g)` over its patterns: O(n + P p^2).
    pub fn period_sums(
        &self,
        cluster: &Cluster,
        e: &[f64],
        d: &DMatrix<f64>,
        s: &[f64],
    ) -> PeriodSums {
        let (count, p) = (self.first.len(), d.ncols());
        let mut size = vec![0.0; count];
        let mut total = vec![0.0; count];
        let mut squares = 0.0;
        for (j, &g) in self.of_row.iter().enumerate() {
            size[g] += 1.0;
            total[g] += e[j];
            squares += e[j] * e[j];
        }
        // One row per pattern, [E_g, n_g z_g], and its weight 1 / n_g.
        let mut compact = DMatrix::zeros(count, p + 1);
        let mut weighted = DMatrix::zeros(count, p + 1);
        for (g, &j) in self.first.iter().enumerate() {
            compact[(g, 0)] = total[g];
            weighted[(g, 0)] = total[g] / size[g];
            for col in 0..p {
                let z = d[(j, col)] / s[j];
                compact[(g, col + 1)] = size[g] * z;
                weighted[(g, col + 1)] = z;
            }
        }
        let mut gram = compact.tr_mul(&weighted);
        gram[(0, 0)] = squares;
        let codes = cluster.period.iter().max().map_or(0, |&t| t as usize + 1);
        let mut sizes = vec![0.0; codes];
        let mut sums = DMatrix::zeros(codes, p + 1);
        for (g, &j) in self.first.iter().enumerate() {
            let t = cluster.period[j] as usize;
            sizes[t] += size[g];
            let mut row = sums.row_mut(t);
            row += compact.row(g);
        }
        PeriodSums { gram, sizes, sums }
    }

    /// Adds the cluster's pairs to `sums` (see the module docs).
    pub fn add_pairs(
        &self,
        correlation: WorkingCorrelation,
        cluster: &Cluster,
        rows: &RowTerms,
        sums: &mut PairSums,
    ) -> Result<(), (usize, f64)> {
        let count = self.first.len();
        let mut size = vec![0.0; count];
        let mut total = vec![0.0; count];
        let mut squares = vec![0.0; count];
        let mut slope = vec![0.0; count];
        for (j, &g) in self.of_row.iter().enumerate() {
            size[g] += 1.0;
            total[g] += rows.e[j];
            squares[g] += rows.e[j] * rows.e[j];
            slope[g] += rows.slope[j];
        }
        let before = self.ordered_sums(rows, &size, &total);
        for g in 0..count {
            let (jg, shift_g) = (self.first[g], rows.shift[self.first[g]]);
            for h in g..count {
                let jh = self.first[h];
                let l = cluster.class(correlation, jg, jh);
                let (pairs, products) = if g == h {
                    let within = (total[g] * total[g] - squares[g]) / 2.0;
                    (
                        size[g] * (size[g] - 1.0) / 2.0,
                        within + shift_g * before[g * count + g],
                    )
                } else {
                    let shifted =
                        shift_g * before[g * count + h] + rows.shift[jh] * before[h * count + g];
                    (size[g] * size[h], total[g] * total[h] + shifted)
                };
                if pairs == 0.0 {
                    continue;
                }
                let weight = sums.add(
                    l,
                    (rows.mu[jg], rows.mu[jh]),
                    (rows.spread[jg], rows.spread[jh]),
                    pairs,
                    products,
                )?;
                if g == h {
                    sums.add_cross(l, weight, jg, (size[g] - 1.0) * slope[g]);
                } else {
                    sums.add_cross(l, weight, jg, size[h] * slope[g]);
                    sums.add_cross(l, weight, jh, size[g] * slope[h]);
                }
            }
        }
        Ok(())
    }

    /// `O_gh` (at `g * P + h`): the residuals of h's rows, each times the number of g's rows
    /// before it in the cluster's order.
    fn ordered_sums(&self, rows: &RowTerms, size: &[f64], total: &[f64]) -> Vec<f64> {
        let count = self.first.len();
        let mut before = vec![0.0; count * count];
        let mut seen = vec![0.0; count];
        let all: Vec<usize> = (0..count).collect();
        let mut in_run: HashMap<usize, Vec<usize>> = HashMap::new();
        if let Some(runs) = &self.runs {
            for (g, &run) in runs.iter().enumerate() {
                in_run.entry(run).or_default().push(g);
            }
            for g in 0..count {
                for h in 0..count {
                    if runs[g] < runs[h] {
                        before[g * count + h] = size[g] * total[h];
                    }
                }
            }
        }
        for (k, &h) in self.of_row.iter().enumerate() {
            let candidates = match &self.runs {
                Some(runs) => &in_run[&runs[h]],
                None => &all,
            };
            for &g in candidates {
                before[g * count + h] += seen[g] * rows.e[k];
            }
            seen[h] += 1.0;
        }
        before
    }
}

/// The run (0, 1, ...) of each period code when each period's rows are contiguous, else `None`.
fn period_runs(period: &[u32]) -> Option<HashMap<u32, usize>> {
    let mut runs: HashMap<u32, usize> = HashMap::new();
    let mut last = None;
    for &t in period {
        if last != Some(t) {
            let next = runs.len();
            if runs.insert(t, next).is_some() {
                return None;
            }
            last = Some(t);
        }
    }
    Some(runs)
}

#[cfg(test)]
mod tests {
    use super::super::equations::{add_each_pair, scaled_rows, PairClasses, PairTerms};
    use super::*;
    use crate::models::family::Family;

    /// A cluster of 3 periods x 2 covariate patterns, 42 rows, in `order`.
    fn cluster(order: &[usize]) -> (Cluster, DMatrix<f64>, RowTerms, DMatrix<f64>) {
        let n = order.len();
        let pattern_of = |i: usize| (i % 3, (i / 3) % 2);
        let mut x = DMatrix::zeros(n, 2);
        let mut d = DMatrix::zeros(n, 2);
        let mut rows = RowTerms {
            mu: Vec::new(),
            e: Vec::new(),
            shift: Vec::new(),
            spread: Vec::new(),
            slope: Vec::new(),
        };
        let mut period = Vec::new();
        for (j, &i) in order.iter().enumerate() {
            let (t, k) = pattern_of(i);
            let mu = 0.1 + 0.1 * t as f64 + 0.05 * k as f64;
            let y = f64::from(u8::from(i % 5 == 0));
            let s = (mu * (1.0 - mu)).sqrt();
            x[(j, 0)] = t as f64;
            x[(j, 1)] = k as f64;
            d[(j, 0)] = mu * (1.0 - mu);
            d[(j, 1)] = k as f64 * mu * (1.0 - mu);
            rows.mu.push(mu);
            rows.e.push((y - mu) / s);
            rows.shift.push(0.03 * (t as f64 + 1.0) - 0.02 * k as f64);
            rows.spread.push((1.0 - 2.0 * mu) / s);
            rows.slope
                .push(1.0 / mu - 1.0 / (1.0 - mu) + 2.0 / (y - mu));
            period.push(t as u32);
        }
        (Cluster::of_periods(period), x, rows, d)
    }

    fn both(order: &[usize], correlation: WorkingCorrelation) -> (PairTerms, PairTerms, bool) {
        let (mut c, x, rows, d) = cluster(order);
        let alpha = [0.05, 0.4];
        let classes = PairClasses::new(correlation, &alpha, 3);
        let mut plain = PairTerms::zeros(2, 2);
        add_each_pair(
            correlation,
            &c,
            &rows,
            &mut PairSums::new(&mut plain, Family::Binomial, &classes, true, &d),
        )
        .unwrap();
        let patterns = Patterns::of(&c.rows, &c.period, &x.transpose(), None, None).unwrap();
        let runs = patterns.runs.is_some();
        c.patterns = Some(patterns.clone());
        let mut grouped = PairTerms::zeros(2, 2);
        patterns
            .add_pairs(
                correlation,
                &c,
                &rows,
                &mut PairSums::new(&mut grouped, Family::Binomial, &classes, true, &d),
            )
            .unwrap();
        (plain, grouped, runs)
    }

    fn assert_same(a: &PairTerms, b: &PairTerms) {
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * (1.0 + x.abs());
        assert!(
            a.a.iter().zip(b.a.iter()).all(|(x, y)| close(*x, *y)),
            "{} {}",
            a.a,
            b.a
        );
        assert!(a.b.iter().zip(b.b.iter()).all(|(x, y)| close(*x, *y)));
        assert!(
            a.cross
                .iter()
                .zip(b.cross.iter())
                .all(|(x, y)| close(*x, *y)),
            "{} {}",
            a.cross,
            b.cross
        );
        assert_eq!(a.out_of_range, b.out_of_range);
    }

    #[test]
    fn period_sums_by_pattern_equal_those_of_the_rows() {
        let order: Vec<usize> = (0..42).map(|i| (i * 17) % 42).collect();
        let (c, x, rows, d) = cluster(&order);
        let s: Vec<f64> = rows.mu.iter().map(|m| (m * (1.0 - m)).sqrt()).collect();
        let patterns = Patterns::of(&c.rows, &c.period, &x.transpose(), None, None).unwrap();
        let grouped = patterns.period_sums(&c, &rows.e, &d, &s);
        let plain = PeriodSums::of_rows(&c.period, &scaled_rows(&rows.e, &d, &s));
        assert_eq!(grouped.sizes, plain.sizes);
        for (a, b) in [(&grouped.gram, &plain.gram), (&grouped.sums, &plain.sums)] {
            assert_eq!(a.shape(), b.shape());
            assert!(
                a.iter()
                    .zip(b.iter())
                    .all(|(x, y)| (x - y).abs() <= 1e-12 * (1.0 + y.abs())),
                "{a} {b}"
            );
        }
    }

    #[test]
    fn sums_by_pattern_equal_the_pair_by_pair_sums_in_any_row_order() {
        // Sorted by period: contiguous runs.
        let mut sorted: Vec<usize> = (0..42).collect();
        sorted.sort_by_key(|&i| (i % 3, i));
        let interleaved: Vec<usize> = (0..42).map(|i| (i * 17) % 42).collect();
        for correlation in [
            WorkingCorrelation::NestedExchangeable,
            WorkingCorrelation::ExponentialDecay,
        ] {
            let (plain, grouped, runs) = both(&sorted, correlation);
            assert!(runs);
            assert_same(&plain, &grouped);
            // Periods interleaved: the full sweep.
            let (plain, grouped, runs) = both(&interleaved, correlation);
            assert!(!runs);
            assert_same(&plain, &grouped);
        }
    }
}
