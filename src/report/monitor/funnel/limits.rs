//! Control limits of a funnel plot at one volume (patients n, or expected events E): exact
//! limits with Spiegelhalter's interpolation, and normal-approximation limits without and with
//! an allowance for overdispersion (multiplicative and additive).

use serde::Serialize;

use crate::core::dist::{binomial_cdf, first_reaching, normal_quantile, poisson_cdf};

/// The tail probabilities P of the lower 95%, upper 95%, lower 99.8% and upper 99.8% limits.
const TAILS: [f64; 4] = [0.025, 0.975, 0.001, 0.999];

/// The 95% and 99.8% limit pairs of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Limits<T = f64> {
    /// Lower 95% limit (tail probability P = 0.025).
    pub lower95: T,
    /// Upper 95% limit (P = 0.975).
    pub upper95: T,
    /// Lower 99.8% limit (P = 0.001).
    pub lower998: T,
    /// Upper 99.8% limit (P = 0.999).
    pub upper998: T,
}

impl<T> Limits<T> {
    /// The limits at the tail probabilities 0.025, 0.975, 0.001 and 0.999, from `at`.
    fn at_tails(mut at: impl FnMut(f64) -> T) -> Limits<T> {
        let [lower95, upper95, lower998, upper998] = TAILS.map(&mut at);
        Limits {
            lower95,
            upper95,
            lower998,
            upper998,
        }
    }

    /// Each limit mapped by `f`.
    fn map<U>(self, mut f: impl FnMut(T) -> U) -> Limits<U> {
        Limits {
            lower95: f(self.lower95),
            upper95: f(self.upper95),
            lower998: f(self.lower998),
            upper998: f(self.upper998),
        }
    }
}

impl Limits {
    /// Where `value` lies with respect to the 95% pair.
    pub fn flag95(&self, value: f64) -> Flag {
        Flag::of(value, self.lower95, self.upper95)
    }

    /// Where `value` lies with respect to the 99.8% pair (the control limits).
    pub fn flag998(&self, value: f64) -> Flag {
        Flag::of(value, self.lower998, self.upper998)
    }
}

/// Where a unit lies with respect to a pair of limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flag {
    /// Above the upper limit (strictly).
    Above,
    /// Below the lower limit (strictly).
    Below,
    /// On or between the limits.
    Within,
}

impl Flag {
    /// `Above` when `value > upper`, `Below` when `value < lower`, else `Within`.
    fn of(value: f64, lower: f64, upper: f64) -> Flag {
        if value > upper {
            Flag::Above
        } else if value < lower {
            Flag::Below
        } else {
            Flag::Within
        }
    }

    /// Whether the unit is outside the limits.
    pub fn is_outside(self) -> bool {
        self != Flag::Within
    }
}

/// Every kind of limit at one volume, on the scale of the plotted value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelLimits {
    /// The volume: patients n (proportions) or expected events E (ratios).
    pub volume: f64,
    /// Exact limits with interpolation, `(r_P - a) / volume`, truncated.
    pub exact: Limits,
    /// The counts r_P behind the exact limits.
    pub exact_r: Limits<u64>,
    /// Normal approximation, `target -/+ z_P s`.
    pub normal: Limits,
    /// Multiplicative overdispersion, `target -/+ z_P sqrt(phi_used) s`.
    pub phi: Limits,
    /// Additive random effects, `target -/+ z_P sqrt(s^2 + tau2)`.
    pub re: Limits,
}

/// The distribution of a unit's count at its volume when it is on target: what the limits are
/// drawn around.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Null {
    /// `O ~ Binomial(n, p0)`, plotted as the proportion `O / n` around `p0`.
    Binomial {
        /// The target proportion.
        p0: f64,
    },
    /// `O ~ Poisson(E)`, plotted as the ratio `O / E` around 1.
    Poisson,
}

impl Null {
    /// The target: `p0`, or 1 for the ratio.
    pub(super) fn target(self) -> f64 {
        match self {
            Null::Binomial { p0 } => p0,
            Null::Poisson => 1.0,
        }
    }

    /// The variance `s^2` of the plotted value at `volume` under the null: `p0 (1 - p0) / n`, or
    /// `1 / E` for the ratio.
    pub(super) fn variance(self, volume: f64) -> f64 {
        match self {
            Null::Binomial { p0 } => p0 * (1.0 - p0) / volume,
            Null::Poisson => 1.0 / volume,
        }
    }

    /// `value` truncated to the range of the plotted value: `[0, 1]` for a proportion,
    /// `[0, inf)` for a ratio.
    fn truncate(self, value: f64) -> f64 {
        match self {
            Null::Binomial { .. } => value.clamp(0.0, 1.0),
            Null::Poisson => value.max(0.0),
        }
    }

    /// The distribution function of the count at `volume`.
    fn cdf(self, volume: f64, r: u64) -> f64 {
        match self {
            Null::Binomial { p0 } => binomial_cdf(r as i64, volume as u64, p0),
            Null::Poisson => poisson_cdf(r as i64, volume),
        }
    }

    /// The largest count worth searching for a tail probability `p` at `volume`: n, or for the
    /// Poisson a count whose distribution function reaches `p` (E + 10 sqrt(E) + 10, doubled
    /// until it does).
    fn search_limit(self, volume: f64, p: f64) -> u64 {
        match self {
            Null::Binomial { .. } => volume as u64,
            Null::Poisson => {
                let mut max = (volume + 10.0 * volume.sqrt() + 10.0).ceil() as u64;
                while self.cdf(volume, max) < p && max < u64::MAX / 2 {
                    max *= 2;
                }
                max
            }
        }
    }

    /// The exact limit for tail probability `p` at `volume` (Spiegelhalter 2005, appendix
    /// A.1.1): `r_P = min{r: F(r) >= p}`, `a = (F(r_P) - p) / (F(r_P) - F(r_P - 1))` (with
    /// `F(-1) = 0`), limit `(r_P - a) / volume` truncated; with `r_P`.
    fn exact(self, volume: f64, p: f64) -> (u64, f64) {
        let r = first_reaching(p, self.search_limit(volume, p), |r| self.cdf(volume, r));
        let at = self.cdf(volume, r);
        let below = if r == 0 { 0.0 } else { self.cdf(volume, r - 1) };
        // below < p <= at, so the denominator is positive.
        let a = (at - p) / (at - below);
        (r, self.truncate((r as f64 - a) / volume))
    }

    /// Every kind of limit at `volume` (a whole number of patients for the binomial, positive
    /// for the Poisson; checked by the caller), with the multiplicative overdispersion
    /// `phi_used` and the additive `tau2`.
    pub(super) fn limits(self, volume: f64, phi_used: f64, tau2: f64) -> FunnelLimits {
        let target = self.target();
        let s2 = self.variance(volume);
        let around =
            |sd: f64| Limits::at_tails(|p| self.truncate(target + normal_quantile(p) * sd));
        let exact = Limits::at_tails(|p| self.exact(volume, p));
        FunnelLimits {
            volume,
            exact: exact.map(|(_, limit)| limit),
            exact_r: exact.map(|(r, _)| r),
            normal: around(s2.sqrt()),
            phi: around((phi_used * s2).sqrt()),
            re: around((s2 + tau2).sqrt()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_events_truncate_the_lower_limit_at_zero() {
        // n = 20, p0 = 0.03: F(0) = 0.97^20 = 0.544 >= 0.025, so r_P = 0 and (0 - a)/n < 0.
        let null = Null::Binomial { p0: 0.03 };
        let (r, limit) = null.exact(20.0, 0.025);
        assert_eq!(r, 0);
        assert_eq!(limit, 0.0);
        // Without the truncation the limit would be -a/n, a = (F(0) - P)/F(0).
        let f0 = 0.97f64.powi(20);
        assert!((f0 - 0.025) / f0 > 0.0);
        // The upper limit lies between (r_P - 1)/n and r_P/n.
        let (r, upper) = null.exact(20.0, 0.975);
        assert!(r >= 1 && upper > (r - 1) as f64 / 20.0 && upper <= r as f64 / 20.0);
    }

    #[test]
    fn exact_limits_interpolate_between_counts() {
        // Interpolation: at P = F(r_P) exactly, a = 0 and the limit is r_P / n.
        let null = Null::Binomial { p0: 0.2 };
        let f3 = binomial_cdf(3, 30, 0.2);
        let (r, limit) = null.exact(30.0, f3);
        assert_eq!(r, 3);
        assert!((limit - 0.1).abs() < 1e-15);
        // Halfway between F(2) and F(3): a = 1/2.
        let f2 = binomial_cdf(2, 30, 0.2);
        let (r, limit) = null.exact(30.0, (f2 + f3) / 2.0);
        assert_eq!(r, 3);
        assert!((limit - 2.5 / 30.0).abs() < 1e-14);
    }

    #[test]
    fn poisson_limits_search_far_enough() {
        // E = 1e4: r_P near E + 3.09 sqrt(E) for P = 0.999.
        let (r, limit) = Null::Poisson.exact(1e4, 0.999);
        assert!(poisson_cdf(r as i64, 1e4) >= 0.999 && poisson_cdf(r as i64 - 1, 1e4) < 0.999);
        assert!((limit - (1.0 + 3.09 / 100.0)).abs() < 2e-3, "{limit}");
        // Tiny E: r_P = 0 for the lower limits, truncated to 0.
        let l = Null::Poisson.limits(0.05, 1.0, 0.0);
        assert_eq!((l.exact_r.lower998, l.exact.lower998), (0, 0.0));
        assert!(l.exact.upper998 > 1.0 && l.normal.lower95 == 0.0);
    }

    #[test]
    fn flags_are_strict() {
        let l = Null::Binomial { p0: 0.5 }.limits(100.0, 1.0, 0.0);
        assert_eq!(l.exact.flag95(l.exact.upper95), Flag::Within);
        assert_eq!(l.exact.flag95(l.exact.upper95 + 1e-12), Flag::Above);
        assert_eq!(l.exact.flag998(l.exact.lower998 - 1e-12), Flag::Below);
        assert!(Flag::Below.is_outside() && !Flag::Within.is_outside());
    }
}
