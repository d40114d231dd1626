//! Collapsing a model's rows into covariate patterns before the design matrix is built.
//!
//! Binomial and Poisson log-likelihoods depend on rows that agree in every variable the model
//! reads except the response only through the summed prior weight `m = sum w` (trials, or 1 per
//! row) and the weighted mean response `y = sum w y / m`. Rows are therefore merged on the raw
//! values of those variables (a text column's code, a number's bits): the pattern keeps its first
//! row as representative, and the design matrix is built on the representatives only. A
//! stepped-wedge cohort of a million patients with categorical covariates has a few thousand
//! patterns.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;

use super::{model_columns, DesignOptions, MissingPolicy, MissingReport, UsedRows};
use crate::core::error::{Error, Result};
use crate::data::{Cohort, Column, Tally};
use crate::frame::formula::{Expr, Formula, Response};

/// A hasher for keys that are already 64-bit hashes: it only spreads their bits with the
/// MurmurHash3 finaliser (`fmix64`), so that every bit of the key moves the table position.
#[derive(Default)]
pub(super) struct PassThrough(u64);

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
        self.0 = spread(v);
    }
}

/// The MurmurHash3 finaliser: every input bit moves every output bit.
fn spread(v: u64) -> u64 {
    let mut h = v ^ (v >> 33);
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Patterns are merged across chunks in this many independent partitions of the hash values
/// (so that each partition's table stays in cache and the partitions run in parallel).
const PARTITIONS: usize = 64;

/// The partition of a hash value.
fn partition(hash: u64) -> usize {
    (spread(hash ^ 0x5bd1_e995) >> 58) as usize
}

/// A hash map keyed by precomputed 64-bit hashes.
type HashIndex = HashMap<u64, usize, BuildHasherDefault<PassThrough>>;

/// A set of 64-bit keys (a number's bits), hashed by [`spread`].
pub(super) type KeySet = HashSet<u64, BuildHasherDefault<PassThrough>>;

/// Mix one 64-bit value into a running hash (FNV-style multiply, then a rotation).
fn mix(hash: u64, value: u64) -> u64 {
    (hash ^ value)
        .wrapping_mul(0x0000_0100_0000_01b3)
        .rotate_left(17)
}

/// The starting value of [`mix`].
const HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;

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

/// Whether `column` has the same value in each row of `rows` as in the matching row of
/// `others`.
fn same_values(column: &Column, rows: &[usize], others: &[usize]) -> bool {
    match column {
        Column::Numeric(v) => rows
            .iter()
            .zip(others)
            .all(|(&i, &j)| v[i].to_bits() == v[j].to_bits()),
        Column::Categorical { codes, .. } => {
            rows.iter().zip(others).all(|(&i, &j)| codes[i] == codes[j])
        }
    }
}

impl UsedRows {
    /// Merge the rows that agree in every predictor column of the formula (all it reads apart
    /// from the response): `y` becomes the pattern's weighted mean response and `trials` its
    /// summed prior weight (trials or weights). Only for likelihoods linear in `(w, w y)`
    /// (binomial, Poisson).
    pub fn collapse(self, cohort: &Cohort, formula: &Formula) -> Result<UsedRows> {
        self.collapse_by(cohort, &formula.predictor_columns())
    }

    /// Collapse rows that agree in the columns `keys` (see [`UsedRows::collapse`]).
    pub fn collapse_by(self, cohort: &Cohort, keys: &[String]) -> Result<UsedRows> {
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

    /// The pattern of each row as [`UsedRows::collapse_by`] numbers them (in order of first
    /// appearance): where each row went in the collapsed rows.
    pub(crate) fn pattern_index(&self, cohort: &Cohort, keys: &[String]) -> Result<Vec<u32>> {
        let columns: Vec<&Column> = keys
            .iter()
            .map(|c| cohort.column(c))
            .collect::<Result<_>>()?;
        for seed in SEEDS {
            let mut hashes = vec![seed; self.rows.len()];
            for c in &columns {
                mix_column(&mut hashes, c, &self.rows);
            }
            let mut index = HashIndex::default();
            let mut first: Vec<usize> = Vec::new();
            let pattern: Vec<u32> = hashes
                .iter()
                .enumerate()
                .map(|(k, h)| {
                    let next = first.len();
                    let p = *index.entry(*h).or_insert(next);
                    if p == next {
                        first.push(k);
                    }
                    p as u32
                })
                .collect();
            let representative: Vec<usize> = pattern
                .iter()
                .map(|&p| self.rows[first[p as usize]])
                .collect();
            if columns
                .iter()
                .all(|c| same_values(c, &self.rows, &representative))
            {
                return Ok(pattern);
            }
        }
        Err(Error::Numerical {
            what: "numbering rows by covariate pattern".into(),
            message: "different rows kept the same hash under every seed".into(),
        })
    }

    /// The patterns of the rows `range` (indices into `self.rows`), when rows with equal hashes
    /// under `seed` are equal in every column (`None` on a collision): sorted by partition, in
    /// order of first appearance within each, with the bounds of each partition.
    fn chunk_patterns(
        &self,
        columns: &[&Column],
        seed: u64,
        range: std::ops::Range<usize>,
    ) -> Option<(Sums, Vec<usize>)> {
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
        let representative: Vec<usize> = pattern_of
            .iter()
            .map(|&p| self.rows[sums.first[p]])
            .collect();
        let all_equal = columns
            .iter()
            .all(|c| same_values(c, rows, &representative));
        all_equal.then(|| sums.by_partition())
    }

    /// The patterns of all rows: those of each chunk (in parallel), merged partition by
    /// partition (in parallel), ordered by partition and then by first appearance.
    fn patterns(&self, columns: &[&Column], seed: u64) -> Option<Sums> {
        let chunks: Vec<(Sums, Vec<usize>)> = (0..self.rows.len().div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let range = c * CHUNK..((c + 1) * CHUNK).min(self.rows.len());
                self.chunk_patterns(columns, seed, range)
            })
            .collect::<Option<_>>()?;
        let parts: Vec<Sums> = (0..PARTITIONS)
            .into_par_iter()
            .map(|q| {
                let mut part = Sums::default();
                let mut index = HashIndex::default();
                for (chunk, bounds) in &chunks {
                    for p in bounds[q]..bounds[q + 1] {
                        let (h, k) = (chunk.hash[p], chunk.first[p]);
                        let pattern = match index.entry(h) {
                            Entry::Vacant(slot) => {
                                part.push(h, k);
                                *slot.insert(part.first.len() - 1)
                            }
                            Entry::Occupied(slot) => {
                                let first = self.rows[part.first[*slot.get()]];
                                let row = self.rows[k];
                                if !columns.iter().all(|c| same_values(c, &[first], &[row])) {
                                    return None;
                                }
                                *slot.get()
                            }
                        };
                        part.weight[pattern] += chunk.weight[p];
                        part.weighted_y[pattern] += chunk.weighted_y[p];
                    }
                }
                Some(part)
            })
            .collect::<Option<_>>()?;
        let mut all = Sums::with_capacity(parts.iter().map(|p| p.hash.len()).sum());
        for part in parts {
            all.hash.extend(part.hash);
            all.first.extend(part.first);
            all.weight.extend(part.weight);
            all.weighted_y.extend(part.weighted_y);
        }
        Some(all)
    }

    /// The rows merged into `patterns`: the first row of each, summed weights, weighted mean
    /// response.
    fn merge(self, patterns: Sums) -> UsedRows {
        // In order of first appearance (the rows' order), whatever the partitions.
        let mut order: Vec<usize> = (0..patterns.first.len()).collect();
        order.sort_unstable_by_key(|&p| patterns.first[p]);
        let y = order
            .iter()
            .map(|&p| {
                let m = patterns.weight[p];
                if m > 0.0 {
                    patterns.weighted_y[p] / m
                } else {
                    0.0
                }
            })
            .collect();
        let first = |p: &usize| patterns.first[*p];
        UsedRows {
            rows: order.iter().map(|p| self.rows[first(p)]).collect(),
            missing: self.missing,
            y,
            trials: Some(order.iter().map(|&p| patterns.weight[p]).collect()),
            offset: self
                .offset
                .map(|o| order.iter().map(|p| o[first(p)]).collect()),
        }
    }
}

impl UsedRows {
    /// The columns a [`Tally`] of the model's rows needs: the keys (every column the model reads
    /// but the response) and the summed response column. `None` when the formula's rows cannot
    /// be read as a tally: a response other than one column, offsets, or a term whose values
    /// depend on other rows (`scale()`, `poly()`).
    pub(crate) fn tally_columns(
        formula: &Formula,
        options: &DesignOptions,
    ) -> Option<(Vec<String>, String)> {
        let Response::Single(Expr::Column(response)) = &formula.response else {
            return None;
        };
        let row_wise = formula
            .terms
            .iter()
            .chain(formula.random.iter().flat_map(|r| &r.slopes))
            .flat_map(|t| &t.vars)
            .all(row_wise);
        if !formula.offsets.is_empty() || !row_wise {
            return None;
        }
        let keys: Vec<String> = model_columns(formula, options)
            .into_iter()
            .filter(|c| c != response)
            .collect();
        Some((keys, response.clone()))
    }

    /// The rows of a tally of the cohort (see [`UsedRows::tally_columns`]), as
    /// [`UsedRows::new`] and [`UsedRows::collapse`] give them for the whole cohort: one row per
    /// pattern of the tally's cohort, its mean response and its rows as trials. Missing values
    /// are reported (or refused) as [`UsedRows::new`] does.
    pub(crate) fn from_tally(
        tally: &Tally,
        formula: &Formula,
        options: &DesignOptions,
    ) -> Result<UsedRows> {
        let Some((keys, response)) = UsedRows::tally_columns(formula, options) else {
            return Err(Error::invalid(
                "formula",
                "the model's rows cannot be read as covariate patterns (a response other than \
                 one column, an offset, scale() or poly())",
            ));
        };
        if tally.patterns().names() != keys.as_slice() || tally.summed_column() != response {
            return Err(Error::invalid(
                "tally",
                format!(
                    "the tally has the columns {:?} summing '{}'; the model needs {keys:?} \
                     summing '{response}'",
                    tally.patterns().names(),
                    tally.summed_column()
                ),
            ));
        }
        let mut by_variable = Vec::new();
        for column in model_columns(formula, options) {
            let Some((_, count, first_row)) = tally.missing().iter().find(|m| m.0 == column) else {
                continue;
            };
            if options.missing == MissingPolicy::Error {
                return Err(Error::MissingValues {
                    column,
                    count: *count,
                    first_row: *first_row,
                });
            }
            by_variable.push((column, *count));
        }
        if tally.rows().is_empty() {
            return Err(Error::NoCompleteRows { by_variable });
        }
        let y = tally
            .sums()
            .iter()
            .zip(tally.rows())
            .map(|(s, m)| s / m)
            .collect();
        Ok(UsedRows {
            rows: (0..tally.rows().len()).collect(),
            missing: MissingReport {
                rows_in: tally.rows_in(),
                rows_used: tally.rows_used(),
                by_variable,
            },
            y,
            trials: Some(tally.rows().to_vec()),
            offset: None,
        })
    }
}

/// Whether an expression's value in a row depends on that row alone (not on `scale()` or
/// `poly()`, whose constants come from all rows).
fn row_wise(e: &Expr) -> bool {
    match e {
        Expr::Scale(_) | Expr::Poly(..) => false,
        Expr::Column(_) | Expr::Factor(_) | Expr::Number(_) => true,
        Expr::Log(e)
        | Expr::Exp(e)
        | Expr::Sqrt(e)
        | Expr::AsIs(e)
        | Expr::Paren(e)
        | Expr::Negate(e)
        | Expr::Not(e) => row_wise(e),
        Expr::Binary(_, a, b) => row_wise(a) && row_wise(b),
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
    fn with_capacity(n: usize) -> Sums {
        Sums {
            hash: Vec::with_capacity(n),
            first: Vec::with_capacity(n),
            weight: Vec::with_capacity(n),
            weighted_y: Vec::with_capacity(n),
        }
    }

    /// The patterns sorted (stably) by partition, and where each partition starts and ends.
    fn by_partition(self) -> (Sums, Vec<usize>) {
        let mut bounds = vec![0; PARTITIONS + 1];
        for &h in &self.hash {
            bounds[partition(h) + 1] += 1;
        }
        for q in 0..PARTITIONS {
            bounds[q + 1] += bounds[q];
        }
        let mut next = bounds.clone();
        let mut order = vec![0; self.hash.len()];
        for (p, &h) in self.hash.iter().enumerate() {
            let q = partition(h);
            order[next[q]] = p;
            next[q] += 1;
        }
        let sorted = Sums {
            hash: order.iter().map(|&p| self.hash[p]).collect(),
            first: order.iter().map(|&p| self.first[p]).collect(),
            weight: order.iter().map(|&p| self.weight[p]).collect(),
            weighted_y: order.iter().map(|&p| self.weighted_y[p]).collect(),
        };
        (sorted, bounds)
    }

    fn push(&mut self, hash: u64, first: usize) {
        self.hash.push(hash);
        self.first.push(first);
        self.weight.push(0.0);
        self.weighted_y.push(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::LoadOptions;

    const MODEL: &str =
        "death30 ~ treated + factor(period) + age + sex + residence + (1 | cluster)";

    /// The sample cohort with some ages and outcomes missing, as a temporary file.
    fn sample_with_missing() -> std::path::PathBuf {
        let sample = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data-samples/stepped_wedge_sim.csv"
        );
        let text = std::fs::read_to_string(sample).unwrap();
        let mut out = String::new();
        for (i, line) in text.lines().enumerate() {
            let mut cells: Vec<&str> = line.split(',').collect();
            if i % 97 == 13 {
                cells[4] = "NA";
            }
            if i % 211 == 50 {
                cells[7] = "";
            }
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        let path =
            std::env::temp_dir().join(format!("stepwedge-collapse-{}.csv", std::process::id()));
        std::fs::write(&path, out).unwrap();
        path
    }

    #[test]
    fn a_tally_gives_the_collapsed_rows_of_the_cohort() {
        let path = sample_with_missing();
        let opts = LoadOptions::default();
        let cohort = Cohort::from_csv_path(&path, &opts).unwrap();
        let formula = Formula::parse(MODEL).unwrap();
        let options = DesignOptions::default();
        let (keys, summed) = UsedRows::tally_columns(&formula, &options).unwrap();
        assert_eq!(
            keys,
            ["treated", "period", "age", "sex", "residence", "cluster"]
        );
        let tally = Tally::from_csv_path(&path, &keys, &summed, &opts);
        std::fs::remove_file(&path).unwrap();
        let tally = tally.unwrap().unwrap();
        let streamed = UsedRows::from_tally(&tally, &formula, &options).unwrap();
        let whole = UsedRows::new(&cohort, &formula, &options)
            .unwrap()
            .collapse(&cohort, &formula)
            .unwrap();
        assert_eq!(streamed.y, whole.y);
        assert_eq!(streamed.trials, whole.trials);
        assert_eq!(streamed.missing.rows_in, whole.missing.rows_in);
        assert_eq!(streamed.missing.rows_used, whole.missing.rows_used);
        assert_eq!(streamed.missing.by_variable, whole.missing.by_variable);
        assert_eq!(whole.missing.by_variable.len(), 2);
        let patterns = tally.patterns();
        for key in &keys {
            let (a, b) = (patterns.column(key).unwrap(), cohort.column(key).unwrap());
            for (k, &row) in whole.rows.iter().enumerate() {
                match (a, b) {
                    (Column::Numeric(x), Column::Numeric(y)) => assert_eq!(x[k], y[row]),
                    _ => assert_eq!(a.label(k), b.label(row)),
                }
            }
        }
        let refused = UsedRows::from_tally(
            &tally,
            &Formula::parse("death30 ~ treated + (1 | cluster)").unwrap(),
            &options,
        );
        assert!(refused.is_err());
    }

    #[test]
    fn models_that_read_other_rows_have_no_tally() {
        let options = DesignOptions::default();
        for model in [
            "death30 ~ treated + scale(age) + (1 | cluster)",
            "death30 ~ treated + poly(age, 2) + (1 | cluster)",
            "events ~ treated + offset(log(days)) + (1 | cluster)",
            "cbind(events, trials - events) ~ treated + (1 | cluster)",
        ] {
            let formula = Formula::parse(model).unwrap();
            assert!(
                UsedRows::tally_columns(&formula, &options).is_none(),
                "{model}"
            );
        }
        let formula = Formula::parse("death30 ~ treated + I(age > 80) + (1 | cluster)").unwrap();
        assert!(UsedRows::tally_columns(&formula, &options).is_some());
    }
}
