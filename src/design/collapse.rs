//! Collapsing a model's rows into covariate patterns before the design matrix is built.
//!
//! Binomial and Poisson log-likelihoods depend on rows that agree in every variable the model
//! reads except the response only through the summed prior weight `m = sum w` (trials, or 1 per
//! row) and the weighted mean response `y = sum w y / m`. Rows are therefore merged on the raw
//! values of those variables (a text column's code, a number's bits): the pattern keeps its first
//! row as representative, and the design matrix is built on the representatives only. A
//! stepped-wedge cohort of a million patients with categorical covariates has a few thousand
//! patterns.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;

use super::{DesignOptions, UsedRows};
use crate::data::{Cohort, Column};
use crate::error::{Error, Result};
use crate::formula::Formula;

/// A hasher for keys that are already 64-bit hashes: it only spreads their bits with the
/// MurmurHash3 finaliser (`fmix64`), so that every bit of the key moves the table position.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        let mut h = v ^ (v >> 33);
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        self.0 = h ^ (h >> 33);
    }
}

/// A hash map keyed by precomputed 64-bit hashes.
pub(crate) type HashIndex = HashMap<u64, usize, BuildHasherDefault<PassThrough>>;

/// Mix one 64-bit value into a running hash (FNV-style multiply, then a rotation).
pub(crate) fn mix(hash: u64, value: u64) -> u64 {
    (hash ^ value)
        .wrapping_mul(0x0000_0100_0000_01b3)
        .rotate_left(17)
}

/// The starting value of [`mix`].
pub(crate) const HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// A raw column value as 64 bits: a text column's code or a number's bits.
fn raw(column: &Column, i: usize) -> u64 {
    match column {
        Column::Numeric(v) => v[i].to_bits(),
        Column::Categorical { codes, .. } => u64::from(codes[i]),
    }
}

/// Mix column `column`'s values on `rows` into their running hashes (one pass per column).
fn mix_column(hashes: &mut [u64], column: &Column, rows: &[usize]) {
    match column {
        Column::Numeric(v) => {
            for (h, &i) in hashes.iter_mut().zip(rows) {
                *h = mix(*h, v[i].to_bits());
            }
        }
        Column::Categorical { codes, .. } => {
            for (h, &i) in hashes.iter_mut().zip(rows) {
                *h = mix(*h, u64::from(codes[i]));
            }
        }
    }
}

/// Rows per parallel task.
const CHUNK: usize = 1 << 16;

/// Hash seeds tried in turn: a 64-bit collision between two different rows under one seed is
/// detected and the rows are hashed again under the next.
const SEEDS: [u64; 4] = [
    HASH_SEED,
    0x9e37_79b9_7f4a_7c15,
    0xc2b2_ae3d_27d4_eb4f,
    0x1656_67b1_9e37_79f9,
];

impl UsedRows {
    /// Merge the rows that agree in every column the model reads apart from the response (the
    /// formula's predictor columns and `options.extra_columns`): `y` becomes the pattern's
    /// weighted mean response and `trials` its summed prior weight. Only for likelihoods linear
    /// in `(w, w y)` (binomial, Poisson).
    pub fn collapse(
        self,
        cohort: &Cohort,
        formula: &Formula,
        options: &DesignOptions,
    ) -> Result<UsedRows> {
        let mut keys = formula.predictor_columns();
        for c in &options.extra_columns {
            if !keys.contains(c) {
                keys.push(c.clone());
            }
        }
        let columns: Vec<&Column> = keys
            .iter()
            .map(|c| cohort.column(c))
            .collect::<Result<_>>()?;
        for seed in SEEDS {
            if let Some(patterns) = self.patterns(&columns, seed) {
                return Ok(self.merge(patterns));
            }
        }
        Err(Error::Numerical {
            what: "collapsing rows into covariate patterns".into(),
            message: "different rows kept the same hash under every seed".into(),
        })
    }

    /// The patterns of the rows `range` (indices into `self.rows`) in order of first
    /// appearance, when rows with equal hashes under `seed` are equal in every column; `None`
    /// on a collision.
    fn chunk_patterns(
        &self,
        columns: &[&Column],
        seed: u64,
        range: std::ops::Range<usize>,
    ) -> Option<Sums> {
        let rows = &self.rows[range.clone()];
        let mut hashes = vec![seed; rows.len()];
        for c in columns {
            mix_column(&mut hashes, c, rows);
        }
        let mut sums = Sums::default();
        let mut index = HashIndex::default();
        let mut pattern_of = Vec::with_capacity(rows.len());
        for (k, h) in range.zip(&hashes) {
            let pattern = *index.entry(*h).or_insert_with(|| {
                sums.push(*h, k);
                sums.first.len() - 1
            });
            let w = self.trials.as_ref().map_or(1.0, |t| t[k]);
            sums.weight[pattern] += w;
            sums.weighted_y[pattern] += w * self.y[k];
            pattern_of.push(pattern);
        }
        let all_equal = columns.iter().all(|c| {
            pattern_of
                .iter()
                .zip(rows)
                .all(|(&p, &i)| raw(c, i) == raw(c, self.rows[sums.first[p]]))
        });
        all_equal.then_some(sums)
    }

    /// The patterns of all rows: those of each chunk (in parallel), merged in order.
    fn patterns(&self, columns: &[&Column], seed: u64) -> Option<Sums> {
        let chunks: Vec<Option<Sums>> = (0..self.rows.len().div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let range = c * CHUNK..((c + 1) * CHUNK).min(self.rows.len());
                self.chunk_patterns(columns, seed, range)
            })
            .collect();
        let mut all = Sums::default();
        let mut index = HashIndex::default();
        for chunk in chunks {
            let chunk = chunk?;
            for (p, h) in chunk.hash.iter().enumerate() {
                let k = chunk.first[p];
                let pattern = *index.entry(*h).or_insert_with(|| {
                    all.push(*h, k);
                    all.first.len() - 1
                });
                let first = self.rows[all.first[pattern]];
                if !columns
                    .iter()
                    .all(|c| raw(c, first) == raw(c, self.rows[k]))
                {
                    return None;
                }
                all.weight[pattern] += chunk.weight[p];
                all.weighted_y[pattern] += chunk.weighted_y[p];
            }
        }
        Some(all)
    }

    /// The rows merged into `patterns`: the first row of each, summed weights, weighted mean
    /// response.
    fn merge(self, patterns: Sums) -> UsedRows {
        let Sums {
            first,
            weight,
            weighted_y,
            ..
        } = patterns;
        let y = weighted_y
            .iter()
            .zip(&weight)
            .map(|(wy, m)| if *m > 0.0 { wy / m } else { 0.0 })
            .collect();
        UsedRows {
            rows: first.iter().map(|&k| self.rows[k]).collect(),
            missing: self.missing,
            y,
            trials: Some(weight),
            offset: self.offset.map(|o| first.iter().map(|&k| o[k]).collect()),
        }
    }
}

/// Covariate patterns of a set of rows, in order of first appearance.
#[derive(Default)]
struct Sums {
    /// The pattern's hash.
    hash: Vec<u64>,
    /// Index (into the rows used) of the pattern's first row.
    first: Vec<usize>,
    /// Summed prior weights.
    weight: Vec<f64>,
    /// Summed `w y`.
    weighted_y: Vec<f64>,
}

impl Sums {
    fn push(&mut self, hash: u64, first: usize) {
        self.hash.push(hash);
        self.first.push(first);
        self.weight.push(0.0);
        self.weighted_y.push(0.0);
    }
}
