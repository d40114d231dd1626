//! Sparse Cholesky factorisation `A = L L'` of a symmetric positive-definite matrix whose
//! pattern is fixed while its values change (the random-effects system of a mixed model, factored
//! at every Newton step with the same nonzeros), its log-determinant, solves, and the selected
//! inverse: the entries of `A^{-1}` on the pattern of L.
//!
//! Simplicial and up-looking (row k of L from a sparse triangular solve
//! `L[..k, ..k] l_k = A[..k, k]`), in the order the rows are given: the caller orders them so that
//! fill stays small (the mixed models put the largest grouping factor first, as lme4 orders its
//! terms, so that its diagonal block is eliminated first and fill stays among the smaller
//! factors). The symbolic analysis is done once: the elimination tree (Liu's algorithm), the
//! pattern of each row of L in topological order (the row subtrees), and where each entry of L
//! goes, so that a numeric factorisation only does arithmetic.
//!
//! The selected inverse `Z = A^{-1}` on the pattern of L follows Takahashi's recurrence: from
//! `Z L = L^{-T}` (upper triangular with diagonal `1 / L_jj`), column by column from the last,
//! `Z_ij = (delta_ij / L_jj - sum_{k > j, L_kj != 0} Z_ik L_kj) / L_jj` for `i >= j` in the
//! pattern of column j; every `Z_ik` it needs lies on the pattern of a later column because the
//! pattern of a column of L (below the diagonal) is a clique of the filled graph.
//!
//! A dense matrix of the same order would need `n^3 / 3` operations per factorisation; this one
//! needs the sum over columns of the squared column counts of L.

/// The pattern of a symmetric matrix (its upper triangle by columns) and of its Cholesky factor.
#[derive(Debug, Clone)]
pub struct SymbolicCholesky {
    n: usize,
    /// Column k of A's upper triangle: rows `a_row[a_start[k]..a_start[k + 1]]`, increasing,
    /// ending with k.
    a_start: Vec<usize>,
    a_row: Vec<u32>,
    /// Column j of L: rows `l_row[l_start[j]..l_start[j + 1]]`, increasing, the diagonal first.
    l_start: Vec<usize>,
    l_row: Vec<u32>,
    /// Row k of L left of the diagonal: the columns `row_col[row_start[k]..row_start[k + 1]]` in
    /// topological order of the elimination tree, and where each entry sits in `l_row`.
    row_start: Vec<usize>,
    row_col: Vec<u32>,
    row_slot: Vec<usize>,
}

impl SymbolicCholesky {
    /// The analysis of an n x n matrix whose nonzeros are the diagonal and the pairs `(i, j)`
    /// (either order; repeats allowed).
    pub fn new(n: usize, pairs: impl IntoIterator<Item = (usize, usize)>) -> Self {
        let mut columns: Vec<Vec<u32>> = (0..n).map(|k| vec![k as u32]).collect();
        for (i, j) in pairs {
            let (row, col) = if i <= j { (i, j) } else { (j, i) };
            columns[col].push(row as u32);
        }
        let mut a_start = Vec::with_capacity(n + 1);
        let mut a_row = Vec::new();
        a_start.push(0);
        for column in &mut columns {
            column.sort_unstable();
            column.dedup();
            a_row.extend_from_slice(column);
            a_start.push(a_row.len());
        }
        let parent = elimination_tree(n, &a_start, &a_row);
        // Row subtrees: the pattern of each row of L, in topological order.
        let mut mark = vec![usize::MAX; n];
        let mut row_start = Vec::with_capacity(n + 1);
        let mut row_col: Vec<u32> = Vec::new();
        let mut path: Vec<u32> = Vec::new();
        let mut paths: Vec<(usize, usize)> = Vec::new();
        row_start.push(0);
        for k in 0..n {
            mark[k] = k;
            path.clear();
            paths.clear();
            for &i in &a_row[a_start[k]..a_start[k + 1]] {
                let mut i = i as usize;
                let first = path.len();
                while mark[i] != k {
                    path.push(i as u32);
                    mark[i] = k;
                    i = parent[i];
                }
                paths.push((first, path.len()));
            }
            // A later path ends below a node of an earlier one: list later paths first.
            for &(from, to) in paths.iter().rev() {
                row_col.extend_from_slice(&path[from..to]);
            }
            row_start.push(row_col.len());
        }
        let mut count = vec![1usize; n];
        for &i in &row_col {
            count[i as usize] += 1;
        }
        let mut l_start = Vec::with_capacity(n + 1);
        l_start.push(0);
        for c in &count {
            l_start.push(l_start.last().copied().unwrap_or(0) + c);
        }
        let mut l_row = vec![0u32; l_start[n]];
        let mut next: Vec<usize> = l_start[..n].iter().map(|s| s + 1).collect();
        let mut row_slot = Vec::with_capacity(row_col.len());
        for k in 0..n {
            l_row[l_start[k]] = k as u32;
            for &i in &row_col[row_start[k]..row_start[k + 1]] {
                let slot = next[i as usize];
                next[i as usize] += 1;
                l_row[slot] = k as u32;
                row_slot.push(slot);
            }
        }
        SymbolicCholesky {
            n,
            a_start,
            a_row,
            l_start,
            l_row,
            row_start,
            row_col,
            row_slot,
        }
    }

    /// Order of the matrix.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of stored entries of A's upper triangle (the length of a value array).
    pub fn a_len(&self) -> usize {
        self.a_row.len()
    }

    /// Where entry `(i, j)` (either order) of A sits in a value array, if it is in the pattern.
    pub fn slot(&self, i: usize, j: usize) -> Option<usize> {
        let (row, col) = if i <= j { (i, j) } else { (j, i) };
        let range = self.a_start[col]..self.a_start[col + 1];
        self.a_row[range.clone()]
            .binary_search(&(row as u32))
            .ok()
            .map(|k| range.start + k)
    }

    /// Where each diagonal entry sits in a value array.
    pub fn diagonal_slots(&self) -> Vec<usize> {
        self.a_start[1..].iter().map(|end| end - 1).collect()
    }

    /// The factor of the matrix with these values (by [`SymbolicCholesky::slot`]), or the first
    /// column whose pivot is not positive (the matrix is not positive definite).
    pub fn factor(&self, values: &[f64]) -> Result<Cholesky<'_>, usize> {
        let n = self.n;
        let mut lx = vec![0.0; self.l_row.len()];
        let mut x = vec![0.0; n];
        for k in 0..n {
            for p in self.a_start[k]..self.a_start[k + 1] {
                x[self.a_row[p] as usize] = values[p];
            }
            let mut d = x[k];
            x[k] = 0.0;
            for t in self.row_start[k]..self.row_start[k + 1] {
                let i = self.row_col[t] as usize;
                let slot = self.row_slot[t];
                let lki = x[i] / lx[self.l_start[i]];
                x[i] = 0.0;
                for p in self.l_start[i] + 1..slot {
                    x[self.l_row[p] as usize] -= lx[p] * lki;
                }
                d -= lki * lki;
                lx[slot] = lki;
            }
            if !(d > 0.0 && d.is_finite()) {
                return Err(k);
            }
            lx[self.l_start[k]] = d.sqrt();
        }
        Ok(Cholesky { symbolic: self, lx })
    }
}

/// The elimination tree of the matrix with upper-triangle columns `(a_start, a_row)`: the parent
/// of each column (`usize::MAX` at a root), by Liu's algorithm with path compression.
fn elimination_tree(n: usize, a_start: &[usize], a_row: &[u32]) -> Vec<usize> {
    let mut parent = vec![usize::MAX; n];
    let mut ancestor = vec![usize::MAX; n];
    for k in 0..n {
        for &i in &a_row[a_start[k]..a_start[k + 1]] {
            let mut i = i as usize;
            while i != usize::MAX && i < k {
                let next = ancestor[i];
                ancestor[i] = k;
                if next == usize::MAX {
                    parent[i] = k;
                }
                i = next;
            }
        }
    }
    parent
}

/// A numeric factor `A = L L'` on a [`SymbolicCholesky`].
#[derive(Debug, Clone)]
pub struct Cholesky<'s> {
    symbolic: &'s SymbolicCholesky,
    lx: Vec<f64>,
}

impl Cholesky<'_> {
    /// `log det A = 2 sum_j log L_jj`.
    pub fn log_det(&self) -> f64 {
        let s = self.symbolic;
        2.0 * (0..s.n).map(|j| self.lx[s.l_start[j]].ln()).sum::<f64>()
    }

    /// Solve `A x = b` in place.
    pub fn solve(&self, b: &mut [f64]) {
        let s = self.symbolic;
        for j in 0..s.n {
            b[j] /= self.lx[s.l_start[j]];
            let bj = b[j];
            for p in s.l_start[j] + 1..s.l_start[j + 1] {
                b[s.l_row[p] as usize] -= self.lx[p] * bj;
            }
        }
        for j in (0..s.n).rev() {
            let mut v = b[j];
            for p in s.l_start[j] + 1..s.l_start[j + 1] {
                v -= self.lx[p] * b[s.l_row[p] as usize];
            }
            b[j] = v / self.lx[s.l_start[j]];
        }
    }

    /// The entries of `A^{-1}` on the pattern of L (Takahashi's recurrence, module docs).
    pub fn selected_inverse(&self) -> SelectedInverse<'_> {
        let s = self.symbolic;
        let mut z = SelectedInverse {
            symbolic: s,
            zx: vec![0.0; self.lx.len()],
        };
        for j in (0..s.n).rev() {
            let diag = s.l_start[j];
            let below = diag + 1..s.l_start[j + 1];
            let ljj = self.lx[diag];
            for p in below.clone() {
                let i = s.l_row[p] as usize;
                let sum: f64 = below
                    .clone()
                    .map(|p2| z.get(i, s.l_row[p2] as usize) * self.lx[p2])
                    .sum();
                z.zx[p] = -sum / ljj;
            }
            let sum: f64 = below.map(|p| self.lx[p] * z.zx[p]).sum();
            z.zx[diag] = (1.0 / ljj - sum) / ljj;
        }
        z
    }
}

/// Entries of the inverse of a factored matrix on the pattern of its factor.
#[derive(Debug, Clone)]
pub struct SelectedInverse<'s> {
    symbolic: &'s SymbolicCholesky,
    zx: Vec<f64>,
}

impl SelectedInverse<'_> {
    /// `(A^{-1})_ij`; 0 outside the pattern of L (where the caller must not ask: the value there
    /// is in general not 0).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        let s = self.symbolic;
        let (row, col) = if i >= j { (i, j) } else { (j, i) };
        let range = s.l_start[col]..s.l_start[col + 1];
        match s.l_row[range.clone()].binary_search(&(row as u32)) {
            Ok(k) => self.zx[range.start + k],
            Err(_) => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;

    /// A random sparse SPD matrix: pairs with pseudo-random values, diagonally dominant.
    fn example(n: usize, seed: u64) -> (Vec<(usize, usize)>, DMatrix<f64>) {
        let mut state = seed;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as f64 / (1u64 << 31) as f64
        };
        let mut a = DMatrix::zeros(n, n);
        let mut pairs = Vec::new();
        for i in 0..n {
            for j in 0..i {
                if next() < 0.15 {
                    let v = next() - 0.5;
                    a[(i, j)] = v;
                    a[(j, i)] = v;
                    pairs.push((i, j));
                }
            }
        }
        for i in 0..n {
            let off: f64 = (0..n).filter(|&j| j != i).map(|j| a[(i, j)].abs()).sum();
            a[(i, i)] = off + 0.5 + next();
        }
        (pairs, a)
    }

    fn values(s: &SymbolicCholesky, a: &DMatrix<f64>) -> Vec<f64> {
        let mut v = vec![0.0; s.a_len()];
        for col in 0..a.ncols() {
            for row in 0..=col {
                if let Some(k) = s.slot(row, col) {
                    v[k] = a[(row, col)];
                }
            }
        }
        v
    }

    #[test]
    fn factor_solve_log_det_and_selected_inverse_match_dense() {
        for seed in 1..6 {
            let n = 40;
            let (pairs, a) = example(n, seed);
            let s = SymbolicCholesky::new(n, pairs.iter().copied());
            let chol = s.factor(&values(&s, &a)).expect("positive definite");
            let dense = a.clone().cholesky().expect("dense");
            let dense_log_det = 2.0 * dense.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
            assert!((chol.log_det() - dense_log_det).abs() < 1e-12);
            let b: Vec<f64> = (0..n).map(|i| (i as f64).sin()).collect();
            let mut x = b.clone();
            chol.solve(&mut x);
            let residual = &a * nalgebra::DVector::from_column_slice(&x)
                - nalgebra::DVector::from_column_slice(&b);
            assert!(residual.amax() < 1e-12);
            let inverse = a.clone().try_inverse().expect("inverse");
            let z = chol.selected_inverse();
            // Every entry of A's pattern (and so of L's) agrees with the dense inverse.
            let mut checked = 0;
            for j in 0..n {
                for p in s.l_start[j]..s.l_start[j + 1] {
                    let i = s.l_row[p] as usize;
                    assert!((z.get(i, j) - inverse[(i, j)]).abs() < 1e-12);
                    assert_eq!(z.get(i, j), z.get(j, i));
                    checked += 1;
                }
            }
            assert!(checked > n + pairs.len() / 2);
        }
    }

    #[test]
    fn the_factor_has_the_fill_of_an_arrow_pointing_down_and_none_pointing_up() {
        // Column 0 coupled with all others: eliminating it first fills everything; ordered last
        // (column n - 1 coupled with all) there is no fill.
        let n = 6;
        let first = SymbolicCholesky::new(n, (1..n).map(|j| (0, j)));
        let last = SymbolicCholesky::new(n, (0..n - 1).map(|i| (i, n - 1)));
        assert_eq!(first.l_row.len(), n * (n + 1) / 2);
        assert_eq!(last.l_row.len(), 2 * n - 1);
    }

    #[test]
    fn an_indefinite_matrix_names_its_first_bad_pivot() {
        let s = SymbolicCholesky::new(3, [(0, 1), (1, 2)]);
        let mut a = DMatrix::from_row_slice(3, 3, &[1.0, 2.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        a[(2, 1)] = 0.5;
        a[(1, 2)] = 0.5;
        assert_eq!(s.factor(&values(&s, &a)).err(), Some(1));
    }
}
