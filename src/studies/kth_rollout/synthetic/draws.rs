//! The random draws of the synthetic cohort beyond those of the simulator's generator (a
//! permutation and a logistic deviate).
//! Each uses only correctly rounded arithmetic and the generator's own `exp`
//! and `ln`, so that the cohort is the same on every platform.

use crate::core::rng::{self as random, Draws};

/// A random permutation of `items` (Fisher-Yates).
pub(super) fn shuffle<T>(items: &mut [T], draws: &mut Draws) {
    for i in (1..items.len()).rev() {
        let j = ((draws.uniform() * (i + 1) as f64) as usize).min(i);
        items.swap(i, j);
    }
}

/// A standard logistic deviate.
pub(super) fn logistic(draws: &mut Draws) -> f64 {
    let u = draws.uniform();
    random::ln(u / (1.0 - u))
}
