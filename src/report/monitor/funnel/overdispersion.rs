//! Overdispersion of a funnel plot's units (Spiegelhalter 2005, Stat Med 24:1185, section 5):
//! the multiplicative factor phi from 10%-winsorised z-scores, its chi-square test, and the
//! additive between-unit variance tau2 (DerSimonian-Laird form with the winsorised phi).

use serde::Serialize;

use crate::core::dist::chisq_upper;
use crate::effects::standardise::bootstrap::quantile7;

/// How much the units vary beyond chance.
///
/// With `I` units, z-scores `z_i = (y_i - target) / s_i` and weights `w_i = 1 / s_i^2`:
///
/// ```text
/// q10, q90 = quantile(z, c(0.1, 0.9), type = 7)       (R's default quantile)
/// zw_i     = min(max(z_i, q10), q90)                    (10% winsorising)
/// phi      = sum(zw_i^2) / I,  phi_used = max(phi, 1)
/// I phi    ~ chi^2 on I - 1 df under no overdispersion  (test_statistic, p_value)
/// tau2     = max(0, (I phi - (I - 1)) / (sum w - sum w^2 / sum w))
/// ```
///
/// (the denominator summed without cancellation: `sum_i w_i (sum_{j != i} w_j) / sum w`).
///
/// `tau2` can be positive while `phi < 1`: it needs only `I phi > I - 1`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overdispersion {
    /// The 10% quantile of the z-scores (type 7), where they are winsorised below.
    pub winsor_q10: f64,
    /// The 90% quantile, where they are winsorised above.
    pub winsor_q90: f64,
    /// The multiplicative overdispersion `phi = mean(zw^2)`.
    pub phi: f64,
    /// `max(phi, 1)`: what the multiplicative limits and adjusted z-scores use.
    pub phi_used: f64,
    /// `I phi`, chi-square on `I - 1` df when the units differ by chance alone.
    pub test_statistic: f64,
    /// Its degrees of freedom, `I - 1`.
    pub df: usize,
    /// Its upper-tail p-value.
    pub p_value: f64,
    /// The additive between-unit variance (on the scale of the plotted value).
    pub tau2: f64,
    /// Its square root.
    pub tau: f64,
}

impl Overdispersion {
    /// The overdispersion of z-scores `z` with weights `w` (`1 / s^2`), and the winsorised
    /// z-scores. At least two units, with finite z and positive w (the caller checks).
    pub(super) fn estimate(z: &[f64], w: &[f64]) -> (Overdispersion, Vec<f64>) {
        let units = z.len() as f64;
        let mut sorted = z.to_vec();
        sorted.sort_by(f64::total_cmp);
        let (q10, q90) = (quantile7(&sorted, 0.1), quantile7(&sorted, 0.9));
        let winsorised: Vec<f64> = z.iter().map(|z| z.clamp(q10, q90)).collect();
        let phi = winsorised.iter().map(|z| z * z).sum::<f64>() / units;
        let test_statistic = units * phi;
        let df = z.len() - 1;
        let tau2 = ((test_statistic - df as f64) / spread(w)).max(0.0);
        let overdispersion = Overdispersion {
            winsor_q10: q10,
            winsor_q90: q90,
            phi,
            phi_used: phi.max(1.0),
            test_statistic,
            df,
            p_value: chisq_upper(test_statistic, df as f64),
            tau2,
            tau: tau2.sqrt(),
        };
        (overdispersion, winsorised)
    }
}

/// `sum w - sum w^2 / sum w`, computed as `sum_i w_i (sum_{j != i} w_j) / sum w` with the sums
/// of the others taken from both ends, so that one unit's much larger weight does not cancel it
/// to 0 (it is positive for two or more positive weights).
fn spread(w: &[f64]) -> f64 {
    let total: f64 = w.iter().sum();
    let mut before = 0.0;
    let mut after: Vec<f64> = w
        .iter()
        .rev()
        .scan(0.0, |sum, &x| {
            let others_after = *sum;
            *sum += x;
            Some(others_after)
        })
        .collect();
    after.reverse();
    let mut cross = 0.0;
    for (x, after) in w.iter().zip(after) {
        cross += x * (before + after);
        before += x;
    }
    cross / total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_units_replace_the_extremes_by_their_neighbours() {
        // With I = 11, type 7 puts q10 at the 2nd smallest z and q90 at the 10th.
        let z: Vec<f64> = (0..11).map(|k| f64::from(k) - 5.0).collect();
        let w = vec![1.0; 11];
        let (o, zw) = Overdispersion::estimate(&z, &w);
        assert_eq!((o.winsor_q10, o.winsor_q90), (-4.0, 4.0));
        assert_eq!((zw[0], zw[10]), (-4.0, 4.0));
        assert_eq!(&zw[1..10], &z[1..10]);
        let phi = (2.0 * 16.0 + 2.0 * (16.0 + 9.0 + 4.0 + 1.0)) / 11.0;
        assert!((o.phi - phi).abs() < 1e-14);
        assert_eq!(o.phi_used, o.phi);
        assert_eq!(o.df, 10);
        // Equal weights: sum w - sum w^2 / sum w = I - 1.
        assert!((o.tau2 - (11.0 * phi - 10.0) / 10.0).abs() < 1e-14);
    }

    #[test]
    fn tau2_can_be_positive_with_phi_below_one() {
        // I = 5, z all +/-0.95: phi = 0.9025 < 1, but I phi = 4.51 > I - 1 = 4.
        let z = [0.95, -0.95, 0.95, -0.95, 0.95];
        let w = [100.0, 200.0, 300.0, 400.0, 500.0];
        let (o, _) = Overdispersion::estimate(&z, &w);
        assert!(o.phi < 1.0 && o.phi_used == 1.0);
        let denominator = 1500.0 - (1e4 + 4e4 + 9e4 + 16e4 + 25e4) / 1500.0;
        assert!((o.tau2 - (5.0 * 0.9025 - 4.0) / denominator).abs() < 1e-15);
        assert!(o.tau2 > 0.0 && o.p_value > 0.3);
    }

    #[test]
    fn the_spread_of_weights_survives_a_dominant_one() {
        let w = [100.0, 200.0, 300.0];
        assert!((spread(&w) - (600.0 - 140000.0 / 600.0)).abs() < 1e-12);
        // 1e17 and 1: the textbook form cancels to 0; the spread is 2 w1 w2 / (w1 + w2) ~ 2.
        let w = [1e17, 1.0];
        let (sum, sum2): (f64, f64) = (w.iter().sum(), w.iter().map(|x| x * x).sum());
        assert!(sum - sum2 / sum <= 0.0);
        assert!((spread(&w) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn units_alike_have_no_overdispersion() {
        let (o, _) = Overdispersion::estimate(&[0.1, -0.1, 0.0], &[1.0, 2.0, 3.0]);
        assert_eq!(o.tau2, 0.0);
        assert_eq!(o.phi_used, 1.0);
        assert!(o.p_value > 0.9);
    }
}
