//! The allocations a randomisation test compares the observed one with: the distinct
//! permutations of the clusters' crossovers (within strata when the allocation was stratified),
//! all of them or a seeded sample.
//!
//! An allocation is a vector of crossover codes, element g the crossover of the g-th cluster in
//! sorted order (a period index, or [`NEVER`] for a cluster never treated). With stratum s
//! holding `n_s` clusters whose crossovers take the distinct values `k` with multiplicities
//! `m_sk`, there are `prod_s n_s! / prod_k m_sk!` distinct allocations; they are enumerated in
//! ascending lexicographic order of the whole vector (a cluster never treated counting as the
//! latest crossover), the order of R's `next_permutation` over the sorted vector when there are
//! no strata. A Monte Carlo allocation is a uniformly random permutation within each stratum
//! (Fisher-Yates), which draws every distinct allocation with the same probability.

use super::schedule::NEVER;
use crate::core::rng::Draws;

/// The number of distinct allocations (`f64::INFINITY` past `u128`).
pub(crate) fn count(crossover: &[u32], stratum: &[usize]) -> f64 {
    let mut total: u128 = 1;
    for members in strata(crossover, stratum) {
        let mut values: Vec<u32> = members.iter().map(|&g| crossover[g]).collect();
        values.sort_unstable();
        // n! / prod m_k! as a product of binomial coefficients C(placed, m).
        let mut placed: u128 = 0;
        let mut start = 0;
        while start < values.len() {
            let run = values[start..]
                .iter()
                .take_while(|&&v| v == values[start])
                .count();
            for i in 1..=run as u128 {
                placed += 1;
                // C(placed, i) = C(placed - 1, i - 1) * placed / i, exact at every step.
                total = match total.checked_mul(placed) {
                    Some(t) => t / i,
                    None => return f64::INFINITY,
                };
            }
            start += run;
        }
    }
    total as f64
}

/// The clusters of each stratum, in ascending order.
fn strata(crossover: &[u32], stratum: &[usize]) -> Vec<Vec<usize>> {
    let n_strata = stratum.iter().max().map_or(0, |&s| s + 1);
    let mut members = vec![Vec::new(); n_strata];
    for g in 0..crossover.len() {
        members[stratum[g]].push(g);
    }
    members
}

/// Every distinct permutation of `values`, from the sorted one on, in ascending lexicographic
/// order (the classic next-permutation step).
fn permutations(values: &[u32]) -> Vec<Vec<u32>> {
    let mut a = values.to_vec();
    a.sort_unstable();
    let mut out = vec![a.clone()];
    let n = a.len();
    loop {
        let Some(i) = (0..n.saturating_sub(1)).rev().find(|&i| a[i] < a[i + 1]) else {
            return out;
        };
        let j = (i + 1..n).rev().find(|&j| a[j] > a[i]).unwrap_or(i + 1);
        a.swap(i, j);
        a[i + 1..].reverse();
        out.push(a.clone());
    }
}

/// Every distinct allocation, in ascending lexicographic order (see the module docs). The
/// caller has checked that there are few enough ([`count`]).
pub(crate) fn enumerate(crossover: &[u32], stratum: &[usize]) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = vec![vec![NEVER; crossover.len()]];
    for members in strata(crossover, stratum) {
        let values: Vec<u32> = members.iter().map(|&g| crossover[g]).collect();
        let each = permutations(&values);
        out = out
            .iter()
            .flat_map(|partial| {
                each.iter().map(|p| {
                    let mut a = partial.clone();
                    for (&g, &v) in members.iter().zip(p) {
                        a[g] = v;
                    }
                    a
                })
            })
            .collect();
    }
    out.sort_unstable();
    out
}

/// `n` allocations drawn uniformly (a random permutation within each stratum) from a generator
/// seeded with `seed`: all of them before any refit, so that they do not depend on threads.
pub(crate) fn sample(crossover: &[u32], stratum: &[usize], n: usize, seed: u64) -> Vec<Vec<u32>> {
    let mut draws = Draws::new(seed);
    let groups = strata(crossover, stratum);
    (0..n)
        .map(|_| {
            let mut a = crossover.to_vec();
            for members in &groups {
                for i in (1..members.len()).rev() {
                    let j = ((draws.uniform() * (i + 1) as f64) as usize).min(i);
                    a.swap(members[i], members[j]);
                }
            }
            a
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_multinomials_over_strata() {
        assert_eq!(count(&[3, 2, 2, 3, 4, 4], &[0; 6]), 90.0);
        assert_eq!(count(&[1, 2, 3, 4, 5, 6], &[0; 6]), 720.0);
        assert_eq!(count(&[1, 2, 1, 2], &[0, 0, 1, 1]), 4.0);
        assert_eq!(count(&[1, 1, 1], &[0; 3]), 1.0);
        assert_eq!(count(&[1, NEVER, 2, NEVER], &[0; 4]), 12.0);
        let many: Vec<u32> = (0..40).collect();
        assert_eq!(count(&many, &[0; 40]), f64::INFINITY);
    }

    #[test]
    fn enumeration_is_distinct_lexicographic_and_complete() {
        let crossover = [3, 2, 2, 3, 4, 4];
        let all = enumerate(&crossover, &[0; 6]);
        assert_eq!(all.len(), 90);
        assert_eq!(all[0], vec![2, 2, 3, 3, 4, 4]);
        assert_eq!(all[1], vec![2, 2, 3, 4, 3, 4]);
        assert_eq!(all[89], vec![4, 4, 3, 3, 2, 2]);
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        // R's identity_index is 31 (1-based).
        assert_eq!(all.iter().position(|a| a == &crossover), Some(30));
        let stratified = enumerate(&[1, 2, 1, 2], &[0, 0, 1, 1]);
        assert_eq!(
            stratified,
            vec![
                vec![1, 2, 1, 2],
                vec![1, 2, 2, 1],
                vec![2, 1, 1, 2],
                vec![2, 1, 2, 1]
            ]
        );
    }

    #[test]
    fn samples_are_seeded_uniform_and_respect_strata() {
        let crossover = [1, 2, 3, 1, 2, 3];
        let stratum = [0, 0, 0, 1, 1, 1];
        let a = sample(&crossover, &stratum, 6000, 7);
        assert_eq!(a, sample(&crossover, &stratum, 6000, 7));
        assert_ne!(a, sample(&crossover, &stratum, 6000, 8));
        for s in &a {
            let mut first: Vec<u32> = s[..3].to_vec();
            first.sort_unstable();
            assert_eq!(first, vec![1, 2, 3]);
        }
        // 36 allocations, each about 1/36 of the draws.
        let all = enumerate(&crossover, &stratum);
        assert_eq!(all.len(), 36);
        for x in &all {
            let share = a.iter().filter(|s| *s == x).count() as f64 / 6000.0;
            assert!((share - 1.0 / 36.0).abs() < 0.012, "{x:?}: {share}");
        }
    }
}
