//! Random draws that are the same on every platform.
//!
//! The generator is xoshiro256++ (a fully specified algorithm, seeded from a `u64` through
//! SplitMix64), not `StdRng`, whose algorithm may change between `rand` versions. The standard
//! library's `exp` and `ln` call the platform's maths library, whose last bit may differ between
//! platforms, so the draws here use [`exp`] and [`ln`] below, built from `+ - * /` and exact
//! rounding only (IEEE 754 makes those bit-identical everywhere; Rust never fuses them).

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};

/// ln 2 split in a high part with trailing zero bits (so `k * LN2_HI` is exact for |k| < 2^11)
/// and the rest.
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;

/// 2^54, to bring subnormal numbers into the normal range.
const TWO_POW_54: f64 = 18_014_398_509_481_984.0;

/// e^x, to within a few units in the last place, bit-identical on every platform.
pub(crate) fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > 709.8 {
        return f64::INFINITY;
    }
    if x < -745.2 {
        return 0.0;
    }
    // x = k ln2 + r with |r| <= ln2 / 2; e^x = 2^k e^r.
    let k = (x / std::f64::consts::LN_2).round();
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // Taylor series of e^r to r^14/14! (< 1e-17 relative for |r| <= 0.35), by Horner's rule.
    let mut sum = 1.0;
    for n in (1..=14).rev() {
        sum = 1.0 + sum * r / f64::from(n);
    }
    // k is within -1075..=1025 here.
    scale_by_power_of_two(sum, k as i32)
}

/// `m * 2^k` for `m` in [0.5, 2] and k in -1100..=1100, rounding once at most.
fn scale_by_power_of_two(m: f64, k: i32) -> f64 {
    let pow2 = |e: i32| f64::from_bits(((e + 1023) as u64) << 52);
    if k > 1000 {
        m * pow2(1000) * pow2(k - 1000)
    } else if k < -1000 {
        // Two steps keep intermediate results normal until the last multiplication.
        m * pow2(k + 1000) * pow2(-1000)
    } else {
        m * pow2(k)
    }
}

/// The natural logarithm of x, to within a few units in the last place, bit-identical on every
/// platform. `ln(0) = -inf`; negative or NaN input gives NaN.
pub(crate) fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    // Subnormals: scale into the normal range first.
    let (x, extra) = if x < f64::MIN_POSITIVE {
        (x * TWO_POW_54, -54)
    } else {
        (x, 0)
    };
    // x = m 2^e with m in [sqrt(1/2), sqrt(2)).
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i32 - 1023 + extra;
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    // ln m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m-1)/(m+1), |s| <= 0.172.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut series = 0.0;
    for n in (0..13).rev() {
        series = 1.0 / f64::from(2 * n + 1) + s2 * series;
    }
    let e = f64::from(e);
    e * LN2_HI + (2.0 * s * series + e * LN2_LO)
}

/// The logistic function `1 / (1 + e^-x)`, with this module's own [`exp`].
pub(crate) fn expit(x: f64) -> f64 {
    1.0 / (1.0 + exp(-x))
}

/// The random draws the simulator needs, from one seeded generator.
#[derive(Debug, Clone)]
pub(crate) struct Draws {
    rng: Xoshiro256PlusPlus,
    /// The second normal deviate of the last polar-method pair.
    spare_normal: Option<f64>,
}

impl Draws {
    /// A generator seeded from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Draws {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            spare_normal: None,
        }
    }

    /// Uniform on the open interval (0, 1): 53 random bits, centred in their bin.
    pub(crate) fn uniform(&mut self) -> f64 {
        ((self.rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// A whole number uniform on `0..n` (`n >= 1`).
    pub(crate) fn below(&mut self, n: i32) -> i32 {
        ((self.uniform() * f64::from(n)) as i32).min(n - 1)
    }

    /// True with probability `p`.
    pub(crate) fn bernoulli(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// The index of a category drawn with probabilities `probs` (summing to 1).
    pub(crate) fn categorical(&mut self, probs: &[f64]) -> usize {
        let u = self.uniform();
        let mut cumulative = 0.0;
        for (i, p) in probs.iter().enumerate() {
            cumulative += p;
            if u < cumulative {
                return i;
            }
        }
        // Rounding left the sum just below u: take the last category with positive probability.
        probs.iter().rposition(|&p| p > 0.0).unwrap_or(0)
    }

    /// A standard normal deviate (Marsaglia's polar method).
    pub(crate) fn standard_normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        loop {
            let a = 2.0 * self.uniform() - 1.0;
            let b = 2.0 * self.uniform() - 1.0;
            let s = a * a + b * b;
            if s < 1.0 && s > 0.0 {
                let f = (-2.0 * ln(s) / s).sqrt();
                self.spare_normal = Some(b * f);
                return a * f;
            }
        }
    }

    /// A normal deviate with mean `mean` and standard deviation `sd`.
    pub(crate) fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        mean + sd * self.standard_normal()
    }

    /// A gamma deviate with shape `shape` > 0 and mean `mean` (Marsaglia and Tsang's method;
    /// for shape < 1, a shape + 1 deviate times U^(1/shape)).
    pub(crate) fn gamma(&mut self, shape: f64, mean: f64) -> f64 {
        let scale = mean / shape;
        if shape < 1.0 {
            let boost = exp(ln(self.uniform()) / shape);
            return self.gamma_shape_at_least_one(shape + 1.0) * boost * scale;
        }
        self.gamma_shape_at_least_one(shape) * scale
    }

    /// A gamma deviate with unit scale and shape `shape` >= 1.
    fn gamma_shape_at_least_one(&mut self, shape: f64) -> f64 {
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.standard_normal();
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = self.uniform();
            let x2 = x * x;
            if u < 1.0 - 0.0331 * x2 * x2 || ln(u) < 0.5 * x2 + d * (1.0 - v + ln(v)) {
                return d * v;
            }
        }
    }

    /// A binomial deviate: successes in `n` trials with probability `p` in [0, 1] each.
    /// Inversion (sequential search of the CDF from 0) of the smaller of `p` and `1 - p`, in
    /// chunks of trials whose expected successes are at most 30, so that `(1 - p)^m`, where
    /// the search starts, never underflows; a chunk costs one uniform draw and about `m p`
    /// steps. (`p` outside [0, 1] is clamped; a NaN `p` gives 0.)
    pub(crate) fn binomial(&mut self, n: u64, p: f64) -> u64 {
        const CHUNK_MEAN: f64 = 30.0;
        if n == 0 || p.is_nan() || p <= 0.0 {
            return 0;
        }
        if p >= 1.0 {
            return n;
        }
        let (q, flipped) = if p > 0.5 { (1.0 - p, true) } else { (p, false) };
        // Chunks of at most `chunk` trials, each with mean at most CHUNK_MEAN.
        let chunk = ((CHUNK_MEAN / q).floor() as u64).clamp(1, n);
        let (mut left, mut successes) = (n, 0u64);
        while left > 0 {
            let m = left.min(chunk);
            successes += self.binomial_small(m, q);
            left -= m;
        }
        if flipped {
            n - successes
        } else {
            successes
        }
    }

    /// A binomial deviate of `m` trials with probability `q` in (0, 0.5] and `m q` at most
    /// about 30, by sequential search of the CDF.
    fn binomial_small(&mut self, m: u64, q: f64) -> u64 {
        let u = self.uniform();
        let ratio = q / (1.0 - q);
        let mut k = 0u64;
        let mut term = exp(m as f64 * ln(1.0 - q));
        let mut cumulative = term;
        while u > cumulative && k < m && term > 0.0 {
            term *= (m - k) as f64 / (k + 1) as f64 * ratio;
            k += 1;
            cumulative += term;
        }
        // Rounding can leave the CDF's sum just below u at the top: stop at m.
        k
    }

    /// A Poisson deviate with mean `mean` >= 0: inversion for means up to 30, and a sum of
    /// Poisson deviates with means of at most 30 for larger means.
    pub(crate) fn poisson(&mut self, mean: f64) -> u64 {
        const CHUNK: f64 = 30.0;
        let parts = (mean / CHUNK).ceil().max(1.0);
        let part_mean = mean / parts;
        // parts <= mean / 30 + 1, bounded by the configuration's checks.
        (0..parts as u64)
            .map(|_| self.poisson_small(part_mean))
            .sum()
    }

    /// A Poisson deviate with mean `mean` in [0, 30], by sequential search of the CDF.
    fn poisson_small(&mut self, mean: f64) -> u64 {
        let u = self.uniform();
        let mut k = 0u64;
        let mut term = exp(-mean);
        let mut cumulative = term;
        // The term shrinks to 0 well before k = 1000 for means up to 30.
        while u > cumulative && term > 0.0 && k < 1000 {
            k += 1;
            term *= mean / k as f64;
            cumulative += term;
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relative_error(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    #[test]
    fn exp_matches_std() {
        let mut x = -745.0;
        while x < 709.0 {
            let (ours, std) = (exp(x), x.exp());
            if std > 1e-300 {
                assert!(
                    relative_error(ours, std) < 1e-15,
                    "exp({x}): {ours} vs {std}"
                );
            }
            x += 0.0731;
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(1000.0), f64::INFINITY);
        assert_eq!(exp(-1000.0), 0.0);
        assert!(exp(-740.0) > 0.0);
    }

    #[test]
    fn ln_matches_std() {
        for &x in &[
            1e-310, 1e-300, 1e-5, 0.1, 0.5, 0.9999, 1.0, 1.0001, 2.0, 3.7, 60000.0, 1e300,
        ] {
            let (ours, std) = (ln(x), x.ln());
            assert!(
                (ours - std).abs() <= 1e-15 * std.abs().max(1.0),
                "ln({x}): {ours} vs {std}"
            );
        }
        let mut x = 1e-8;
        while x < 1e8 {
            assert!(
                (ln(x) - x.ln()).abs() <= 5e-16 * x.ln().abs().max(1.0),
                "ln({x})"
            );
            x *= 1.0173;
        }
        assert_eq!(ln(1.0), 0.0);
        assert!(ln(-1.0).is_nan());
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
    }

    #[test]
    fn uniform_is_in_open_unit_interval_and_seeded() {
        let mut a = Draws::new(7);
        let mut b = Draws::new(7);
        for _ in 0..1000 {
            let u = a.uniform();
            assert!(u > 0.0 && u < 1.0);
            assert_eq!(u, b.uniform());
        }
    }

    #[test]
    fn draws_have_the_right_moments() {
        let mut d = Draws::new(1);
        let n = 200_000;
        let mean_of = |f: &mut dyn FnMut() -> f64| (0..n).map(|_| f()).sum::<f64>() / n as f64;
        let z = mean_of(&mut || d.standard_normal());
        assert!(z.abs() < 4.0 / (n as f64).sqrt(), "normal mean {z}");
        let g = mean_of(&mut || d.gamma(2.0, 10.0));
        assert!(
            (g - 10.0).abs() < 4.0 * 10.0 / (2.0 * n as f64).sqrt(),
            "gamma mean {g}"
        );
        let g = mean_of(&mut || d.gamma(0.5, 3.0));
        assert!(
            (g - 3.0).abs() < 4.0 * 3.0 / (0.5 * n as f64).sqrt(),
            "gamma mean {g}"
        );
        for lambda in [0.5, 12.0, 95.0] {
            let p = mean_of(&mut || d.poisson(lambda) as f64);
            assert!(
                (p - lambda).abs() < 4.0 * (lambda / n as f64).sqrt(),
                "poisson {p}"
            );
        }
        for (trials, p) in [
            (27u64, 0.119),
            (1u64, 0.3),
            (40, 0.8),
            (5000, 0.08),
            (3, 0.5),
        ] {
            let b = mean_of(&mut || d.binomial(trials, p) as f64);
            let expected = trials as f64 * p;
            let sd = (expected * (1.0 - p) / n as f64).sqrt();
            assert!(
                (b - expected).abs() < 4.0 * sd,
                "binomial({trials}, {p}) mean {b}"
            );
        }
        let v = (0..n)
            .map(|_| (d.binomial(27, 0.119) as f64 - 27.0 * 0.119).powi(2))
            .sum::<f64>()
            / n as f64;
        assert!(
            (v - 27.0 * 0.119 * 0.881).abs() < 0.05,
            "binomial variance {v}"
        );
        let c = mean_of(&mut || d.categorical(&[0.2, 0.0, 0.8]) as f64);
        assert!((c - 1.6).abs() < 0.01, "categorical mean {c}");
    }

    #[test]
    fn binomial_edges_and_distribution() {
        let mut d = Draws::new(3);
        assert_eq!(d.binomial(0, 0.4), 0);
        assert_eq!(d.binomial(12, 0.0), 0);
        assert_eq!(d.binomial(12, 1.0), 12);
        assert_eq!(d.binomial(12, f64::NAN), 0);
        for _ in 0..1000 {
            assert!(d.binomial(7, 0.93) <= 7);
        }
        // Far more trials than one chunk: the whole range is reachable and the mean holds.
        let big = (0..2000)
            .map(|_| d.binomial(1_000_000, 0.3) as f64)
            .sum::<f64>()
            / 2000.0;
        assert!(
            (big - 300_000.0).abs() < 4.0 * (210_000.0f64 / 2000.0).sqrt(),
            "{big}"
        );
        // The frequencies of Binomial(4, 0.25) against its probabilities.
        let n = 100_000;
        let mut counts = [0usize; 5];
        for _ in 0..n {
            counts[d.binomial(4, 0.25) as usize] += 1;
        }
        let probs = [
            81.0 / 256.0,
            108.0 / 256.0,
            54.0 / 256.0,
            12.0 / 256.0,
            1.0 / 256.0,
        ];
        for (k, (&c, &p)) in counts.iter().zip(&probs).enumerate() {
            let share = c as f64 / n as f64;
            assert!(
                (share - p).abs() < 4.0 * (p * (1.0 - p) / n as f64).sqrt(),
                "P({k}) {share}"
            );
        }
    }
}
