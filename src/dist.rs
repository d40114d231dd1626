//! TEMPORARY stand-in, replaced by the dist module being written in parallel.
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};
/// Standard normal quantile.
pub fn normal_quantile(p: f64) -> f64 {
    Normal::standard().inverse_cdf(p)
}
/// Student t quantile.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df)
        .map(|t| t.inverse_cdf(p))
        .unwrap_or(f64::NAN)
}
/// Two-sided normal p.
pub fn p_normal_two_sided(z: f64) -> f64 {
    2.0 * Normal::standard().cdf(-z.abs())
}
/// Two-sided t p.
pub fn p_t_two_sided(t: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df)
        .map(|d| 2.0 * d.cdf(-t.abs()))
        .unwrap_or(f64::NAN)
}
