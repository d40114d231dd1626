//! A GLMM's rows (or their covariate patterns, see the design's collapsing) sorted by group, in
//! the layout the likelihood loops read.
//!
//! Binomial and Poisson log-likelihoods are linear in `(w, w y)`, so each row is kept as its
//! prior weight `m` and mean response `y`; the mean-free constants (`log C(n, s)`, `-log y!`)
//! are summed by the caller over the original rows.

use nalgebra::DMatrix;

/// Rows (or their patterns) sorted by group: sparse fixed-effect rows, row-major random-effect
/// rows, offsets, mean responses and prior weights.
#[derive(Debug, Clone)]
pub(crate) struct Patterns {
    /// Fixed-effect columns p.
    pub p: usize,
    /// Random-effect columns q.
    pub q: usize,
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
    /// The nonzero entries of the fixed-effect rows.
    nonzero: SparseRows,
}

/// The nonzero entries of rows: those of row k are `start[k]..start[k + 1]` in `column` and
/// `value`.
#[derive(Debug, Clone)]
struct SparseRows {
    start: Vec<usize>,
    column: Vec<u32>,
    value: Vec<f64>,
}

impl SparseRows {
    /// Append a row given by its nonzero entries.
    fn push(&mut self, columns: &[u32], values: &[f64]) {
        self.column.extend_from_slice(columns);
        self.value.extend_from_slice(values);
        self.start.push(self.column.len());
    }

    /// Append a dense row.
    fn push_dense(&mut self, row: &[f64]) {
        for (j, &v) in row.iter().enumerate() {
            if v != 0.0 {
                self.column.push(j as u32);
                self.value.push(v);
            }
        }
        self.start.push(self.column.len());
    }
}

/// A row of a likelihood under another assignment of the treatment: a fit's pattern, or the part
/// of its rows in one unit, with the part's share of the pattern's weight and its mean response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PatternPart {
    /// The pattern (index into the fit's patterns).
    pub pattern: usize,
    /// The unit of its rows.
    pub unit: u32,
    /// Its share of the pattern's weight.
    pub share: f64,
    /// Its (weighted) mean response.
    pub y: f64,
}

/// Rows per block when rows are copied into row-major order.
const TRANSPOSE_BLOCK: usize = 1024;

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
    fn empty(p: usize, q: usize, constant: f64) -> Patterns {
        Patterns {
            p,
            q,
            z: Vec::new(),
            offset: Vec::new(),
            y: Vec::new(),
            m: Vec::new(),
            group_start: vec![0],
            constant,
            nonzero: SparseRows {
                start: vec![0],
                column: Vec::new(),
                value: Vec::new(),
            },
        }
    }

    /// Append one pattern (to the last group).
    fn push(&mut self, x: (&[u32], &[f64]), z: &[f64], offset: f64, y: f64, m: f64) {
        self.nonzero.push(x.0, x.1);
        self.z.extend_from_slice(z);
        self.offset.push(offset);
        self.y.push(y);
        self.m.push(m);
    }

    /// The rows sorted by group (stably).
    pub fn new(rows: &RowData<'_>, constant: f64) -> Patterns {
        let (n, p) = rows.x.shape();
        let q = rows.z.ncols();
        let mut out = Patterns::empty(p, q, constant);
        // Counting sort by group.
        let mut start = vec![0; rows.n_groups + 1];
        for &g in rows.group {
            start[g + 1] += 1;
        }
        for g in 0..rows.n_groups {
            start[g + 1] += start[g];
        }
        out.group_start = start.clone();
        let mut order = vec![0; n];
        for (i, &g) in rows.group.iter().enumerate() {
            order[start[g]] = i;
            start[g] += 1;
        }
        // The fixed-effect rows in group order through a row-major buffer, a block of rows at
        // a time; the random-effect rows as they are (q is small).
        let mut buffer = vec![0.0; TRANSPOSE_BLOCK * p];
        for block in order.chunks(TRANSPOSE_BLOCK) {
            for (j, column) in rows.x.column_iter().enumerate() {
                let column = column.as_slice();
                for (k, &i) in block.iter().enumerate() {
                    buffer[k * p + j] = column[i];
                }
            }
            for row in buffer.chunks(p.max(1)).take(block.len()) {
                out.nonzero.push_dense(row);
            }
        }
        out.z = Vec::with_capacity(n * q);
        for &i in &order {
            out.z.extend((0..q).map(|j| rows.z[(i, j)]));
        }
        out.offset = order
            .iter()
            .map(|&i| rows.offset.map_or(0.0, |o| o[i]))
            .collect();
        out.y = order.iter().map(|&i| rows.y[i]).collect();
        out.m = order.iter().map(|&i| rows.w[i]).collect();
        out
    }

    /// Every `stride`-th pattern of each group (from its first), with its weight multiplied by
    /// `stride`: a systematic subsample whose likelihood approximates the whole one.
    pub fn subsample(&self, stride: usize) -> Patterns {
        let mut out = Patterns::empty(self.p, self.q, 0.0);
        for g in 0..self.n_groups() {
            for k in (self.group_start[g]..self.group_start[g + 1]).step_by(stride) {
                out.push(
                    self.x_nonzero(k),
                    self.z_row(k),
                    self.offset[k],
                    self.y[k],
                    self.m[k] * stride as f64,
                );
            }
            out.group_start.push(out.len());
        }
        out
    }

    /// Refill `out` with the patterns of the groups `groups`, in that order, each a group of its
    /// own (a group listed twice is two groups: a cluster bootstrap sample). The likelihood
    /// constant is 0. `out`'s buffers are reused.
    pub fn resample_into(&self, groups: &[usize], out: &mut Patterns) {
        self.clear_into(out);
        out.constant = 0.0;
        for &g in groups {
            for k in self.group_start[g]..self.group_start[g + 1] {
                out.push(
                    self.x_nonzero(k),
                    self.z_row(k),
                    self.offset[k],
                    self.y[k],
                    self.m[k],
                );
            }
            out.group_start.push(out.len());
        }
    }

    /// Empty `out` (keeping its buffers) for patterns of this shape and constant.
    fn clear_into(&self, out: &mut Patterns) {
        out.p = self.p;
        out.q = self.q;
        out.constant = self.constant;
        for v in [&mut out.z, &mut out.offset, &mut out.y, &mut out.m] {
            v.clear();
        }
        out.group_start.clear();
        out.group_start.push(0);
        out.nonzero.start.clear();
        out.nonzero.start.push(0);
        out.nonzero.column.clear();
        out.nonzero.value.clear();
    }

    /// Refill `out` with `parts` (those of group g are `group_start[g]..group_start[g + 1]`),
    /// each part's pattern with the design column `column` set to `values[part.unit]`, its
    /// offset increased by `shift` times the pattern's own entry in that column, its weight the
    /// part's share of the pattern's and its mean response the part's. The likelihood constant
    /// is kept. `out`'s buffers are reused.
    pub fn reassign_into(
        &self,
        parts: &[PatternPart],
        group_start: &[usize],
        column: usize,
        values: &[f64],
        shift: f64,
        out: &mut Patterns,
    ) {
        self.clear_into(out);
        let target = column as u32;
        for g in 0..group_start.len() - 1 {
            for part in &parts[group_start[g]..group_start[g + 1]] {
                let k = part.pattern;
                let (columns, entries) = self.x_nonzero(k);
                let value = values[part.unit as usize];
                let mut observed = 0.0;
                let mut placed = value == 0.0;
                for (&c, &v) in columns.iter().zip(entries) {
                    if c == target {
                        observed = v;
                        continue;
                    }
                    if !placed && c > target {
                        out.nonzero.column.push(target);
                        out.nonzero.value.push(value);
                        placed = true;
                    }
                    out.nonzero.column.push(c);
                    out.nonzero.value.push(v);
                }
                if !placed {
                    out.nonzero.column.push(target);
                    out.nonzero.value.push(value);
                }
                out.nonzero.start.push(out.nonzero.column.len());
                out.z.extend_from_slice(self.z_row(k));
                out.offset.push(self.offset[k] + shift * observed);
                out.y.push(part.y);
                out.m.push(self.m[k] * part.share);
            }
            out.group_start.push(out.len());
        }
    }

    /// [`Patterns::resample_into`] into new buffers.
    pub fn resample(&self, groups: &[usize]) -> Patterns {
        let mut out = Patterns::empty(self.p, self.q, 0.0);
        self.resample_into(groups, &mut out);
        out
    }

    /// The nonzero entries of pattern k's fixed-effect row: columns and values.
    pub fn x_nonzero(&self, k: usize) -> (&[u32], &[f64]) {
        let range = self.nonzero.start[k]..self.nonzero.start[k + 1];
        (
            &self.nonzero.column[range.clone()],
            &self.nonzero.value[range],
        )
    }

    /// Number of patterns.
    pub fn len(&self) -> usize {
        self.m.len()
    }

    /// Number of groups.
    pub fn n_groups(&self) -> usize {
        self.group_start.len() - 1
    }

    /// `x_k' beta` for pattern k.
    pub fn x_dot(&self, k: usize, beta: &[f64]) -> f64 {
        let (columns, values) = self.x_nonzero(k);
        columns
            .iter()
            .zip(values)
            .map(|(&c, v)| v * beta[c as usize])
            .sum()
    }

    /// The fixed-effect rows as a dense matrix.
    pub fn x_dense(&self) -> DMatrix<f64> {
        let mut x = DMatrix::zeros(self.len(), self.p);
        for k in 0..self.len() {
            let (columns, values) = self.x_nonzero(k);
            for (&c, &v) in columns.iter().zip(values) {
                x[(k, c as usize)] = v;
            }
        }
        x
    }

    /// Random-effect row of pattern k.
    pub fn z_row(&self, k: usize) -> &[f64] {
        &self.z[k * self.q..(k + 1) * self.q]
    }
}
