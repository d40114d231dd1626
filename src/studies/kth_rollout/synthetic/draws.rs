//! The random draws of the synthetic cohort beyond those of the simulator's generator (a
//! permutation, a whole number below a bound, a logistic deviate) and the logistic function.
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

/// A whole number uniform on `0..n` (n >= 1).
pub(super) fn below(draws: &mut Draws, n: i32) -> i32 {
    ((draws.uniform() * f64::from(n)) as i32).min(n - 1)
}

/// A standard logistic deviate.
pub(super) fn logistic(draws: &mut Draws) -> f64 {
    let u = draws.uniform();
    random::ln(u / (1.0 - u))
}

/// `1 / (1 + e^-x)` with the simulator's own `exp`.
pub(super) fn expit(x: f64) -> f64 {
    1.0 / (1.0 + random::exp(-x))
}
