//! Funnel plots: units (the LKT teams, hospitals) compared with a target, each plotted against
//! its volume, within control limits that narrow as the volume grows (Spiegelhalter 2005,
//! "Funnel plots for comparing institutional performance", Stat Med 24:1185-1202).
//!
//! Two kinds, one result type ([`Funnel`]):
//!
//! * **Proportions** ([`Funnel::proportions`]): unit i has `O_i` events among `n_i` patients;
//!   the plotted value is `y_i = O_i / n_i` against `n_i`, around the overall proportion
//!   `p0 = sum O / sum n`, with `s_i^2 = p0 (1 - p0) / n_i`; the count is `Binomial(n, p0)` on
//!   target. `expected = n p0`, `ratio = O / E`.
//! * **Case-mix-adjusted ratios** ([`Funnel::case_mix`], or [`Funnel::ratios`] with expected
//!   counts from elsewhere): a logistic model of the indicator on the patients' covariates (no
//!   unit term), fitted to all units pooled, gives each patient a risk; `E_i` is the sum of the
//!   risks of unit i's patients, and the plotted value is the indirectly standardised ratio
//!   `y_i = O_i / E_i` against `E_i`, around 1, with `s_i^2 = 1 / E_i`; the count is
//!   `Poisson(E)` on target (E taken as known). The risk-adjusted proportion is
//!   `(O_i / E_i) x overall proportion`, and each ratio has its exact (Garwood) and Byar 95%
//!   interval ([`RatioInterval`]).
//!
//! Limits at volume v (patients n, or expected events E), for the tail probabilities
//! P = 0.025, 0.975 (95%) and P = 0.001, 0.999 (99.8%, the control limits):
//!
//! ```text
//! exact (appendix A.1.1):  F = the count's distribution function at v (F(-1) = 0)
//!                          r_P = min{r >= 0: F(r) >= P}
//!                          a = (F(r_P) - P) / (F(r_P) - F(r_P - 1))
//!                          limit = (r_P - a) / v
//! normal:                  target + z_P s(v)
//! multiplicative (phi):    target + z_P sqrt(phi_used) s(v)
//! additive (random eff.):  target + z_P sqrt(s(v)^2 + tau2)
//! ```
//!
//! with `z_P = qnorm(P)`, every limit truncated to [0, 1] for a proportion and below at 0 for a
//! ratio (the truncation matters when r_P = 0, where (0 - a)/v < 0). A unit is `above` a pair
//! of limits when `y > upper`, `below` when `y < lower` (strictly), else `within`; `outside` is
//! the flag at the exact 99.8% limits, `outside95` at the exact 95% limits.
//!
//! Overdispersion ([`Overdispersion`], section 5 of the paper) from the z-scores
//! `z_i = (y_i - target) / s_i`, which are `(O_i - E_i) / sqrt(E_i)` for the ratio: 10%
//! winsorising at R's `quantile(z, c(0.1, 0.9), type = 7)`, `phi = mean(zw^2)`, the test of
//! `I phi` against chi-square on `I - 1` df, `phi_used = max(phi, 1)`, and
//! `tau2 = max(0, (I phi - (I - 1)) / (sum w - sum w^2 / sum w))` with `w_i = 1 / s_i^2` (`n_i /
//! (p0 (1 - p0))`, or `E_i` for the ratio). Adjusted z-scores: `z_i / sqrt(phi_used)` and
//! `(y_i - target) / sqrt(s_i^2 + tau2)`. For the ratio the same forms are used on the ratio
//! scale with the Poisson variance `1 / E`: the scale of the plot and of its exact limits, on
//! which a unit with no events is still defined (a log scale is not).
//!
//! ```no_run
//! use stepwedge::data::{Cohort, LoadOptions};
//! use stepwedge::report::monitor::funnel::Funnel;
//! # fn main() -> stepwedge::core::error::Result<()> {
//! let cohort = Cohort::from_csv_path("data-samples/stepped_wedge_sim.csv", &LoadOptions::default())?;
//! let adjusted = Funnel::case_mix(&cohort, "cluster", "death30", "age + sex + residence")?;
//! println!("{}", serde_json::to_string_pretty(&adjusted).unwrap_or_default());
//! let crude = Funnel::proportions(
//!     vec!["LKT A".into(), "LKT B".into(), "LKT C".into()],
//!     vec![48.0, 49.0, 10.0],
//!     vec![307.0, 359.0, 108.0],
//! )?;
//! let limits = crude.limits_at(200.0)?; // every kind of limit at 200 patients
//! # Ok(()) }
//! ```

mod case_mix;
mod limits;
mod overdispersion;
mod ratio_interval;

pub use case_mix::CaseMix;
pub use limits::{Flag, FunnelLimits, Limits};
pub use overdispersion::Overdispersion;
pub use ratio_interval::RatioInterval;

use serde::Serialize;

use crate::core::error::{Error, Result};
use limits::Null;

/// What a funnel plots on its y-axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    /// The proportion `O / n` against the patients n.
    Proportion,
    /// The standardised ratio `O / E` against the expected events E.
    Ratio,
}

/// One unit of a funnel plot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelUnit {
    /// The unit's name.
    pub unit: String,
    /// Patients.
    pub n: f64,
    /// Observed events O.
    pub observed: f64,
    /// Expected events E: `n p0`, or the sum of the patients' modelled risks.
    pub expected: f64,
    /// `O / E`.
    pub ratio: f64,
    /// The exact limits at the unit's volume, on the scale of the plotted value.
    #[serde(flatten)]
    pub limits: Limits,
    /// Where the unit lies with respect to the exact 99.8% limits (the control limits).
    pub outside: Flag,
    /// The same at the exact 95% limits.
    pub outside95: Flag,
    /// The crude proportion `O / n`.
    pub proportion: f64,
    /// The risk-adjusted proportion `(O / E) x overall proportion` (the crude proportion for
    /// an unadjusted funnel).
    pub risk_adjusted: f64,
    /// The x of the plot: n for proportions, E for ratios.
    pub volume: f64,
    /// The y of the plot: the proportion or the ratio.
    pub value: f64,
    /// `(value - target) / s`.
    pub z: f64,
    /// `z` winsorised at the 10% and 90% quantiles.
    pub z_winsorised: f64,
    /// `z / sqrt(phi_used)`.
    pub z_phi: f64,
    /// `(value - target) / sqrt(s^2 + tau2)`.
    pub z_re: f64,
    /// Where the unit lies at the multiplicative-overdispersion 99.8% limits.
    pub outside_phi: Flag,
    /// The same at 95%.
    pub outside_phi95: Flag,
    /// Where the unit lies at the random-effects 99.8% limits.
    pub outside_re: Flag,
    /// The same at 95%.
    pub outside_re95: Flag,
    /// The 95% interval of the ratio (for a ratio funnel; `None` for proportions).
    pub ci95: Option<RatioInterval>,
}

/// A funnel plot's numbers: the units, their limits and flags, and the overdispersion (see the
/// [module docs](self) for the formulas). Serialises to
/// `{"y", "target", "overall_proportion", "units": [{"unit", "n", "observed", "expected",
/// "ratio", "lower95", "upper95", "lower998", "upper998", "outside", "outside95", ...}], "phi",
/// "phi_used", "tau2", "test_statistic", "df", "p_value", ..., "case_mix"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Funnel {
    /// What is plotted: `"proportion"` or `"ratio"`.
    #[serde(rename = "y")]
    pub measure: Measure,
    /// The target line: p0, or 1 for the ratio.
    pub target: f64,
    /// `sum O / sum n`.
    pub overall_proportion: f64,
    /// The units, in the order given (by label for [`Funnel::case_mix`]).
    pub units: Vec<FunnelUnit>,
    /// phi, phi_used, the test, tau2.
    #[serde(flatten)]
    pub overdispersion: Overdispersion,
    /// The model behind the expected counts of [`Funnel::case_mix`] (`None` otherwise).
    pub case_mix: Option<CaseMix>,
}

/// The counts of the units, checked.
struct Counts {
    units: Vec<String>,
    observed: Vec<f64>,
    n: Vec<f64>,
}

impl Counts {
    /// At least two units with distinct names, as many counts as units, and each unit's
    /// observed events and patients whole numbers with `0 <= O <= n`, `n >= 1`.
    fn new(units: Vec<String>, observed: Vec<f64>, n: Vec<f64>) -> Result<Counts> {
        if units.len() < 2 {
            return Err(Error::too_few(
                "a funnel plot (the overdispersion phi compares the units with each other and \
                 is not defined for one)",
                "units",
                units.len(),
                2,
            ));
        }
        for (argument, values) in [("observed", &observed), ("n", &n)] {
            if values.len() != units.len() {
                return Err(Error::invalid(
                    argument,
                    format!("{} values given for {} units", values.len(), units.len()),
                ));
            }
        }
        for (k, name) in units.iter().enumerate() {
            if units[..k].contains(name) {
                return Err(Error::invalid(
                    "units",
                    format!("unit '{name}' is given twice"),
                ));
            }
            let whole = |v: f64| v.is_finite() && v.fract() == 0.0 && v < 2f64.powi(53);
            if !(whole(n[k]) && n[k] >= 1.0) {
                return Err(Error::invalid(
                    "n",
                    format!(
                        "unit '{name}' has {} patients; it must have a whole number of at least 1",
                        n[k]
                    ),
                ));
            }
            if !(whole(observed[k]) && (0.0..=n[k]).contains(&observed[k])) {
                return Err(Error::invalid(
                    "observed",
                    format!(
                        "unit '{name}' has {} events among {} patients; events must be a whole \
                         number from 0 to the patients",
                        observed[k], n[k]
                    ),
                ));
            }
        }
        Ok(Counts { units, observed, n })
    }

    /// `sum O / sum n`.
    fn overall_proportion(&self) -> f64 {
        self.observed.iter().sum::<f64>() / self.n.iter().sum::<f64>()
    }
}

impl Funnel {
    /// The funnel of the proportions `observed / n` around `p0 = sum observed / sum n`, with
    /// exact binomial limits at each unit's n.
    ///
    /// Errors: fewer than two units ([`Error::TooFewData`]); lengths that differ, a repeated
    /// unit, counts that are negative, not whole or not finite, no patients, more events than
    /// patients, and no events at all or only events (p0 = 0 or 1, where no z-score is
    /// defined) ([`Error::InvalidArgument`], naming the unit).
    pub fn proportions(units: Vec<String>, observed: Vec<f64>, n: Vec<f64>) -> Result<Funnel> {
        let counts = Counts::new(units, observed, n)?;
        let p0 = counts.overall_proportion();
        if p0 == 0.0 || p0 == 1.0 {
            return Err(Error::invalid(
                "observed",
                format!(
                    "{} of the units' patients have the event, so the target proportion is {p0} \
                     and the units cannot differ from it by chance (no z-score is defined)",
                    if p0 == 0.0 { "none" } else { "all" }
                ),
            ));
        }
        let expected = counts.n.iter().map(|n| n * p0).collect();
        Ok(Funnel::assemble(Null::Binomial { p0 }, counts, expected))
    }

    /// The funnel of the standardised ratios `observed / expected` around 1, with exact Poisson
    /// limits at each unit's expected count; `n` (patients) gives the overall and risk-adjusted
    /// proportions. [`Funnel::case_mix`] computes the expected counts from a logistic model.
    ///
    /// Errors: as [`Funnel::proportions`] (except that no events at all is allowed), and an
    /// expected count that is not positive and finite ([`Error::InvalidArgument`], naming the
    /// unit).
    pub fn ratios(
        units: Vec<String>,
        observed: Vec<f64>,
        expected: Vec<f64>,
        n: Vec<f64>,
    ) -> Result<Funnel> {
        let counts = Counts::new(units, observed, n)?;
        if expected.len() != counts.units.len() {
            return Err(Error::invalid(
                "expected",
                format!(
                    "{} values given for {} units",
                    expected.len(),
                    counts.units.len()
                ),
            ));
        }
        // E > 0, and not so small that O / E or the variance 1 / E overflows.
        let usable = |k: usize| {
            let e = expected[k];
            e.is_finite()
                && e > 0.0
                && (1.0 / e).is_finite()
                && (counts.observed[k] / e).is_finite()
        };
        if let Some(k) = (0..expected.len()).find(|&k| !usable(k)) {
            return Err(Error::invalid(
                "expected",
                format!(
                    "unit '{}' has {} expected events; a ratio O / E needs a positive E (and one \
                     large enough for O / E and 1 / E to be finite)",
                    counts.units[k], expected[k]
                ),
            ));
        }
        Ok(Funnel::assemble(Null::Poisson, counts, expected))
    }

    /// The funnel of checked counts under `null`.
    fn assemble(null: Null, counts: Counts, expected: Vec<f64>) -> Funnel {
        let overall_proportion = counts.overall_proportion();
        let target = null.target();
        let volume: Vec<f64> = match null {
            Null::Binomial { .. } => counts.n.clone(),
            Null::Poisson => expected.clone(),
        };
        let value: Vec<f64> = (0..volume.len())
            .map(|k| counts.observed[k] / volume[k])
            .collect();
        let variance: Vec<f64> = volume.iter().map(|&v| null.variance(v)).collect();
        let z: Vec<f64> = (0..volume.len())
            .map(|k| (value[k] - target) / variance[k].sqrt())
            .collect();
        let weights: Vec<f64> = variance.iter().map(|s2| 1.0 / s2).collect();
        let (overdispersion, winsorised) = Overdispersion::estimate(&z, &weights);
        let Counts { units, observed, n } = counts;
        let units = units
            .into_iter()
            .enumerate()
            .map(|(k, unit)| {
                let at = null.limits(volume[k], overdispersion.phi_used, overdispersion.tau2);
                let y = value[k];
                let ratio = observed[k] / expected[k];
                FunnelUnit {
                    unit,
                    n: n[k],
                    observed: observed[k],
                    expected: expected[k],
                    ratio,
                    limits: at.exact,
                    outside: at.exact.flag998(y),
                    outside95: at.exact.flag95(y),
                    proportion: observed[k] / n[k],
                    risk_adjusted: ratio * overall_proportion,
                    volume: volume[k],
                    value: y,
                    z: z[k],
                    z_winsorised: winsorised[k],
                    z_phi: z[k] / overdispersion.phi_used.sqrt(),
                    z_re: (y - target) / (variance[k] + overdispersion.tau2).sqrt(),
                    outside_phi: at.phi.flag998(y),
                    outside_phi95: at.phi.flag95(y),
                    outside_re: at.re.flag998(y),
                    outside_re95: at.re.flag95(y),
                    ci95: (null == Null::Poisson)
                        .then(|| RatioInterval::new(observed[k], expected[k])),
                }
            })
            .collect();
        Funnel {
            measure: match null {
                Null::Binomial { .. } => Measure::Proportion,
                Null::Poisson => Measure::Ratio,
            },
            target,
            overall_proportion,
            units,
            overdispersion,
            case_mix: None,
        }
    }

    /// The distribution the limits are drawn from.
    fn null(&self) -> Null {
        match self.measure {
            Measure::Proportion => Null::Binomial { p0: self.target },
            Measure::Ratio => Null::Poisson,
        }
    }

    /// Every kind of limit at `volume` (patients n for proportions, a whole number >= 1;
    /// expected events E > 0 for ratios), with this funnel's target and overdispersion.
    /// [`Error::InvalidArgument`] for any other volume.
    pub fn limits_at(&self, volume: f64) -> Result<FunnelLimits> {
        let null = self.null();
        let valid = match null {
            Null::Binomial { .. } => {
                volume.is_finite()
                    && volume >= 1.0
                    && volume.fract() == 0.0
                    && volume < 2f64.powi(53)
            }
            Null::Poisson => volume.is_finite() && volume > 0.0,
        };
        if !valid {
            return Err(Error::invalid(
                "volume",
                match null {
                    Null::Binomial { .. } => {
                        format!("{volume} patients; limits of a proportion need a whole number of at least 1")
                    }
                    Null::Poisson => {
                        format!(
                            "{volume} expected events; limits of a ratio need a positive number"
                        )
                    }
                },
            ));
        }
        Ok(null.limits(
            volume,
            self.overdispersion.phi_used,
            self.overdispersion.tau2,
        ))
    }

    /// The limits on `points` volumes evenly spaced from `from` to `to` (the curves of the
    /// plot); for proportions the volumes are rounded to whole patients (at least 1) and each
    /// is taken once, so a range of fewer than `points` patients gives every n in it.
    /// [`Error::InvalidArgument`] when `from` or `to` is not a valid volume
    /// ([`Funnel::limits_at`]), `to < from`, or `points < 2`.
    pub fn curves(&self, from: f64, to: f64, points: usize) -> Result<Vec<FunnelLimits>> {
        if points < 2 || to < from {
            return Err(Error::invalid(
                "curves",
                format!("{points} points from {from} to {to}; at least 2 points, from <= to"),
            ));
        }
        let mut volumes: Vec<f64> = (0..points)
            .map(|k| from + (to - from) * k as f64 / (points - 1) as f64)
            .collect();
        if self.measure == Measure::Proportion {
            for v in &mut volumes {
                *v = v.round().max(1.0);
            }
            volumes.dedup();
        }
        volumes.into_iter().map(|v| self.limits_at(v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|i| format!("U{i}")).collect()
    }

    #[test]
    fn bad_counts_are_errors_naming_the_unit() {
        let e = Funnel::proportions(names(1), vec![1.0], vec![10.0]).unwrap_err();
        assert!(matches!(e, Error::TooFewData { got: 1, .. }), "{e}");
        let bad = [
            (vec![1.0, 11.0], vec![10.0, 10.0], "U1"),
            (vec![-1.0, 1.0], vec![10.0, 10.0], "U0"),
            (vec![1.5, 1.0], vec![10.0, 10.0], "U0"),
            (vec![1.0, 1.0], vec![10.0, 0.0], "U1"),
            (vec![1.0, f64::NAN], vec![10.0, 10.0], "U1"),
            (vec![1.0, 1.0], vec![10.0, 10.5], "U1"),
        ];
        for (observed, n, unit) in bad {
            let e = Funnel::proportions(names(2), observed.clone(), n.clone())
                .unwrap_err()
                .to_string();
            assert!(e.contains(unit), "{observed:?} {n:?}: {e}");
        }
        let e = Funnel::proportions(names(2), vec![0.0, 0.0], vec![5.0, 5.0]).unwrap_err();
        assert!(e.to_string().contains("none"), "{e}");
        let e = Funnel::proportions(names(3), vec![1.0, 1.0], vec![5.0, 5.0, 5.0]).unwrap_err();
        assert!(e.to_string().contains("'observed'"), "{e}");
        let twice = vec!["A".to_string(), "A".to_string()];
        assert!(Funnel::proportions(twice, vec![1.0, 1.0], vec![5.0, 5.0]).is_err());
        let e = Funnel::ratios(names(2), vec![1.0, 2.0], vec![1.5, 0.0], vec![10.0, 10.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("U1") && e.contains("positive E"), "{e}");
        let tiny = Funnel::ratios(
            names(2),
            vec![1.0, 2.0],
            vec![1.5, 1e-320],
            vec![10.0, 10.0],
        );
        assert!(tiny.is_err());
    }

    #[test]
    fn expected_counts_of_proportions_are_n_p0() {
        let f =
            Funnel::proportions(names(3), vec![5.0, 10.0, 3.0], vec![50.0, 60.0, 70.0]).unwrap();
        let p0 = 18.0 / 180.0;
        assert_eq!(f.measure, Measure::Proportion);
        assert!((f.target - p0).abs() < 1e-15 && f.overall_proportion == f.target);
        for u in &f.units {
            assert!((u.expected - u.n * p0).abs() < 1e-12);
            assert!((u.ratio - u.observed / u.expected).abs() < 1e-15);
            assert_eq!((u.value, u.volume), (u.proportion, u.n));
            assert!((u.risk_adjusted - u.proportion).abs() < 1e-15);
            assert!(u.ci95.is_none());
            let at = f.limits_at(u.n).unwrap();
            assert_eq!(at.exact, u.limits);
        }
        assert!(f.limits_at(10.5).is_err() && f.limits_at(0.0).is_err());
        assert!(f.limits_at(f64::INFINITY).is_err());
    }

    #[test]
    fn ratio_funnels_use_poisson_limits_around_one() {
        let f = Funnel::ratios(
            names(3),
            vec![4.0, 12.0, 0.0],
            vec![6.5, 9.2, 1.3],
            vec![40.0, 70.0, 10.0],
        )
        .unwrap();
        assert_eq!((f.measure, f.target), (Measure::Ratio, 1.0));
        let u = &f.units[1];
        assert!((u.z - (12.0 - 9.2) / 9.2f64.sqrt()).abs() < 1e-14);
        assert_eq!(u.value, u.ratio);
        // No events is within the limits at E = 1.3 (P(O = 0) = 0.27).
        assert_eq!(f.units[2].outside95, Flag::Within);
        assert_eq!(f.units[2].limits.lower95, 0.0);
        assert!(f.units[2].ci95.is_some_and(|c| c.lower == 0.0));
        // E need not be whole.
        assert!(f.limits_at(2.75).is_ok() && f.limits_at(-1.0).is_err());
    }

    #[test]
    fn overdispersed_units_widen_the_adjusted_limits() {
        // Proportions from 5% to 29% at about 200 patients each: phi far above 1.
        let f = Funnel::proportions(
            names(6),
            vec![10.0, 40.0, 5.0, 30.0, 60.0, 12.0],
            vec![200.0, 210.0, 190.0, 205.0, 220.0, 180.0],
        )
        .unwrap();
        let o = &f.overdispersion;
        assert!(o.phi > 1.0 && o.phi_used == o.phi && o.tau2 > 0.0 && o.p_value < 1e-6);
        for u in &f.units {
            assert!((u.z_phi - u.z / o.phi.sqrt()).abs() < 1e-14);
            let s2 = f.target * (1.0 - f.target) / u.n;
            assert!((u.z_re - (u.value - f.target) / (s2 + o.tau2).sqrt()).abs() < 1e-14);
        }
        let at = f.limits_at(200.0).unwrap();
        let s = (f.target * (1.0 - f.target) / 200.0).sqrt();
        let z = crate::core::dist::normal_quantile(0.999);
        assert!((at.phi.upper998 - (f.target + z * o.phi.sqrt() * s)).abs() < 1e-14);
        assert!(at.phi.upper998 > at.normal.upper998 && at.re.upper998 > at.normal.upper998);
        // The unit at 29% is outside the exact limits but not the random-effects ones.
        let high = &f.units[4];
        assert_eq!((high.outside, high.outside_re), (Flag::Above, Flag::Within));
    }

    #[test]
    fn curves_of_proportions_step_by_whole_patients() {
        let f = Funnel::proportions(names(2), vec![5.0, 9.0], vec![50.0, 60.0]).unwrap();
        let c = f.curves(20.0, 30.0, 100).unwrap();
        let volumes: Vec<f64> = c.iter().map(|l| l.volume).collect();
        assert_eq!(volumes, (20..=30).map(f64::from).collect::<Vec<_>>());
        assert!(f.curves(30.0, 20.0, 10).is_err() && f.curves(20.0, 30.0, 1).is_err());
        // The limits narrow as n grows.
        let wide = &c[0];
        let narrow = &c[c.len() - 1];
        assert!(narrow.normal.upper998 < wide.normal.upper998);
    }
}
