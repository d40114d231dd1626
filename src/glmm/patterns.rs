//! Collapsing patient rows into covariate patterns within each group.
//!
//! Binomial and Poisson log-likelihoods depend on rows that share the group, the fixed-effect
//! row x, the random-effect row z and the offset only through the summed prior weight
//! `m = sum w` and the weighted mean response `y = sum w y / m`: the kernel
//! `w [y log mu + (1 - y) log(1 - mu)]` (binomial) or `w [y log mu - mu]` (Poisson) is linear in
//! `(w, w y)`. The mean-free constants (`log C(n, s)`, `-log y!`) are summed separately, so the
//! collapsed likelihood equals the uncollapsed one exactly, and so do all estimates. A
//! stepped-wedge model with only categorical terms has at most groups x periods x levels
//! patterns, whatever the number of patients.

use nalgebra::DMatrix;

use crate::design::{mix, HashIndex, HASH_SEED};

/// Rows (or their patterns) sorted by group, with row-major fixed and random design rows.
#[derive(Debug, Clone)]
pub(crate) struct Patterns {
    /// Fixed-effect columns p.
    pub p: usize,
    /// Random-effect columns q.
    pub q: usize,
    /// Row-major fixed-effect rows, `len * p`.
    pub x: Vec<f64>,
    /// Row-major random-effect rows, `len * q`.
    pub z: Vec<f64>,
    /// Offsets.
    pub offset: Vec<f64>,
    /// Weighted mean response.
    pub y: Vec<f64>,
    /// Summed prior weights.
    pub m: Vec<f64>,
    /// Patterns of group g are `group_start[g]..group_start[g + 1]`.
    pub group_start: Vec<usize>,
    /// Sum over the original rows of the mean-free log-likelihood constants (given by the
    /// caller, who has the rows before any collapsing).
    pub constant: f64,
}

/// The inputs of [`Patterns::new`]: one entry per row.
pub(crate) struct RowData<'a> {
    pub x: &'a DMatrix<f64>,
    pub z: &'a DMatrix<f64>,
    pub offset: Option<&'a [f64]>,
    pub y: &'a [f64],
    pub w: &'a [f64],
    pub group: &'a [usize],
    pub n_groups: usize,
}

impl Patterns {
    /// Sort rows by group and, if `collapse`, merge rows with identical x, z and offset.
    pub fn new(rows: &RowData<'_>, constant: f64, collapse: bool) -> Patterns {
        let (n, p) = rows.x.shape();
        let q = rows.z.ncols();
        let mut by_group: Vec<Vec<usize>> = vec![Vec::new(); rows.n_groups];
        for i in 0..n {
            by_group[rows.group[i]].push(i);
        }
        let mut out = Patterns {
            p,
            q,
            x: Vec::new(),
            z: Vec::new(),
            offset: Vec::new(),
            y: Vec::new(),
            m: Vec::new(),
            group_start: vec![0],
            constant,
        };
        let offset = |i: usize| rows.offset.map_or(0.0, |o| o[i]);
        let row_hash = |i: usize| {
            let bits = (0..p)
                .map(|j| rows.x[(i, j)].to_bits())
                .chain((0..q).map(|j| rows.z[(i, j)].to_bits()))
                .chain(std::iter::once(offset(i).to_bits()));
            bits.fold(HASH_SEED, mix)
        };
        let same_row = |out: &Patterns, k: usize, i: usize| {
            out.x_row(k)
                .iter()
                .enumerate()
                .all(|(j, v)| *v == rows.x[(i, j)])
                && out
                    .z_row(k)
                    .iter()
                    .enumerate()
                    .all(|(j, v)| *v == rows.z[(i, j)])
                && out.offset[k] == offset(i)
        };
        // Summed w y per pattern; divided by the summed weight at the end.
        let mut weighted_y: Vec<f64> = Vec::new();
        for members in &by_group {
            // First pattern of each hash value, and the next pattern with the same hash.
            let mut heads = HashIndex::default();
            let mut next: Vec<Option<usize>> = Vec::new();
            let group_start = out.m.len();
            for &i in members {
                let (w, y) = (rows.w[i], rows.y[i]);
                let hash = if collapse { row_hash(i) } else { 0 };
                let mut found = None;
                if collapse {
                    let mut k = heads.get(&hash).copied();
                    while let Some(candidate) = k {
                        if same_row(&out, candidate, i) {
                            found = Some(candidate);
                            break;
                        }
                        k = next.get(candidate - group_start).copied().flatten();
                    }
                }
                match found {
                    Some(k) => {
                        out.m[k] += w;
                        weighted_y[k] += w * y;
                    }
                    None => {
                        let k = out.m.len();
                        if collapse {
                            next.push(heads.insert(hash, k));
                        }
                        out.x.extend((0..p).map(|j| rows.x[(i, j)]));
                        out.z.extend((0..q).map(|j| rows.z[(i, j)]));
                        out.offset.push(offset(i));
                        out.m.push(w);
                        weighted_y.push(w * y);
                    }
                }
            }
            out.group_start.push(out.m.len());
        }
        out.y = weighted_y
            .iter()
            .zip(&out.m)
            .map(|(wy, m)| if *m > 0.0 { wy / m } else { 0.0 })
            .collect();
        out
    }

    /// Number of patterns.
    pub fn len(&self) -> usize {
        self.m.len()
    }

    /// Number of groups.
    pub fn n_groups(&self) -> usize {
        self.group_start.len() - 1
    }

    /// Fixed-effect row of pattern k.
    pub fn x_row(&self, k: usize) -> &[f64] {
        &self.x[k * self.p..(k + 1) * self.p]
    }

    /// Random-effect row of pattern k.
    pub fn z_row(&self, k: usize) -> &[f64] {
        &self.z[k * self.q..(k + 1) * self.q]
    }
}
