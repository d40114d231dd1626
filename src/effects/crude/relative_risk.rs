//! The relative risk (risk ratio) with its log-scale Wald interval.

use super::estimate::{Confidence, Estimable, Estimate};
use super::table::{zero_names, TwoByTwo};
use crate::core::error::Result;

impl TwoByTwo {
    /// The relative risk of treated against control, `RR = p1 / p0 = (a / n1) / (c / n0)`, with
    /// the Wald interval on the log scale (delta method),
    ///
    /// ```text
    /// exp(log RR -/+ z sqrt(1/a - 1/n1 + 1/c - 1/n0)),   z = qnorm((1 + level) / 2).
    /// ```
    ///
    /// With no events in a group (`a = 0` or `c = 0`) the RR is 0 or infinite and the standard
    /// error is infinite: the result is [`Estimable::NotEstimable`] saying which group. Errors
    /// only if `level` is not in (0, 1).
    pub fn relative_risk(&self, level: f64) -> Result<Estimable<Estimate>> {
        Ok(self.relative_risk_at(&Confidence::new(level)?))
    }

    pub(crate) fn relative_risk_at(&self, conf: &Confidence) -> Estimable<Estimate> {
        let (a, n1, c, n0) = (
            self.a() as f64,
            self.n1() as f64,
            self.c() as f64,
            self.n0() as f64,
        );
        Estimable::log_scale_ratio(
            zero_names(&[("treated", self.a()), ("control", self.c())]),
            |groups| {
                format!(
                    "no events in the {groups} group: the relative risk is 0 or infinite and its \
                     log-scale interval does not exist"
                )
            },
            self.p1().ln() - self.p0().ln(),
            1.0 / a - 1.0 / n1 + 1.0 / c - 1.0 / n0,
            conf,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rr_matches_r() {
        let t = TwoByTwo::new(14, 100, 46, 152).unwrap();
        let rr = t.relative_risk(0.95).unwrap().into_result().unwrap();
        assert!((rr.estimate - 0.462608695652174).abs() < 1e-14);
        assert!((rr.ci_high - 0.795758046087843).abs() < 1e-12);
    }

    #[test]
    fn no_events_is_not_estimable() {
        let t = TwoByTwo::new(3, 20, 0, 20).unwrap();
        let reason = t.relative_risk(0.95).unwrap().reason().unwrap().to_string();
        assert!(
            reason.contains("no events in the control group"),
            "{reason}"
        );
        // A group where everyone has the event is fine: its variance term is 0.
        let full = TwoByTwo::new(20, 20, 10, 20).unwrap();
        let rr = full.relative_risk(0.95).unwrap().into_result().unwrap();
        assert!((rr.estimate - 2.0).abs() < 1e-15 && rr.ci_low > 1.0);
    }
}
