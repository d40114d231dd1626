//! Every effect measure and test of a 2x2 table in one serialisable result.

use std::fmt;

use serde::Serialize;

use super::chi_square::ChiSquareTest;
use super::estimate::{Confidence, Estimable, Estimate, Number, Percent};
use super::nnt::Nnt;
use super::risk_difference::RiskDifferenceMethod;
use super::table::{OutcomeKind, TwoByTwo};
use crate::core::error::Result;

/// All measures of [`crate::effects::crude`] for one table at one confidence level; each field is
/// documented on the method that computes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The counts (and whether events are adverse).
    pub table: TwoByTwo,
    /// Confidence level of every interval.
    pub level: f64,
    /// `p1 = a / n1` with the Wilson interval ([`TwoByTwo::risk_treated`]).
    pub risk_treated: Estimate,
    /// `p0 = c / n0` with the Wilson interval ([`TwoByTwo::risk_control`]).
    pub risk_control: Estimate,
    /// Sample odds ratio with Woolf's interval ([`TwoByTwo::odds_ratio_wald`]).
    pub odds_ratio_wald: Estimable<Estimate>,
    /// Conditional MLE of the odds ratio with the exact interval
    /// ([`TwoByTwo::exact_odds_ratio`]).
    pub odds_ratio_exact: Estimable<Estimate>,
    /// `p1 / p0` with the log-scale Wald interval ([`TwoByTwo::relative_risk`]).
    pub relative_risk: Estimable<Estimate>,
    /// `p1 - p0` with the Wald interval ([`TwoByTwo::risk_difference_wald`]).
    pub risk_difference_wald: Estimate,
    /// `p1 - p0` with Newcombe's hybrid score interval
    /// ([`TwoByTwo::risk_difference_newcombe`]).
    pub risk_difference_newcombe: Estimate,
    /// NNT from the Wald interval of the risk difference ([`Nnt`]).
    pub nnt_wald: Nnt,
    /// NNT from Newcombe's interval of the risk difference ([`Nnt`]).
    pub nnt_newcombe: Nnt,
    /// Pearson's chi-square test without continuity correction ([`TwoByTwo::chi_square`]).
    pub chi_square: Estimable<ChiSquareTest>,
    /// Pearson's chi-square test with Yates' continuity correction.
    pub chi_square_yates: Estimable<ChiSquareTest>,
    /// Two-sided p-value of Fisher's exact test ([`TwoByTwo::fisher_p_value`]).
    pub fisher_p_value: f64,
}

impl TwoByTwo {
    /// Every measure and test of this table at confidence `level` (use
    /// [`super::DEFAULT_LEVEL`], 0.95, by default). Errors if `level` is not in (0, 1) or the
    /// exact odds ratio's root finding fails; measures the table does not define are
    /// [`Estimable::NotEstimable`] with the reason.
    pub fn summary(&self, level: f64) -> Result<Summary> {
        let conf = Confidence::new(level)?;
        Ok(Summary {
            table: *self,
            level,
            risk_treated: self.risk_treated_at(&conf),
            risk_control: self.risk_control_at(&conf),
            odds_ratio_wald: self.odds_ratio_wald_at(&conf),
            odds_ratio_exact: self.exact_odds_ratio_at(&conf)?,
            relative_risk: self.relative_risk_at(&conf),
            risk_difference_wald: self.risk_difference_at(&conf, RiskDifferenceMethod::Wald),
            risk_difference_newcombe: self
                .risk_difference_at(&conf, RiskDifferenceMethod::Newcombe),
            nnt_wald: self.nnt_at(&conf, RiskDifferenceMethod::Wald),
            nnt_newcombe: self.nnt_at(&conf, RiskDifferenceMethod::Newcombe),
            chi_square: self.chi_square(false),
            chi_square_yates: self.chi_square(true),
            fisher_p_value: self.fisher_p_value(),
        })
    }
}

/// A p-value with 4 decimals, or `< 0.0001`.
pub(crate) struct PValue(pub f64);

impl fmt::Display for PValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 1e-4 {
            f.pad("< 0.0001")
        } else {
            f.pad(&format!("{:.4}", self.0))
        }
    }
}

const LABEL: usize = 36;

fn risk_row(
    f: &mut fmt::Formatter<'_>,
    group: &str,
    events: u64,
    n: u64,
    r: &Estimate,
) -> fmt::Result {
    writeln!(
        f,
        "  {group:<9}{events:>8}{n:>8}{:>9.4}   {:.4} to {:.4}",
        r.estimate, r.ci_low, r.ci_high
    )
}

fn measure_row(f: &mut fmt::Formatter<'_>, label: &str, m: &Estimable<Estimate>) -> fmt::Result {
    match m {
        Estimable::Estimated(e) => writeln!(
            f,
            "  {label:<LABEL$}{:>9}   {} to {}",
            Number(e.estimate, 4),
            Number(e.ci_low, 4),
            Number(e.ci_high, 4)
        ),
        Estimable::NotEstimable { reason } => {
            writeln!(f, "  {label:<LABEL$}not estimable: {reason}")
        }
    }
}

fn test_row(f: &mut fmt::Formatter<'_>, label: &str, t: &Estimable<ChiSquareTest>) -> fmt::Result {
    match t {
        Estimable::Estimated(t) => writeln!(
            f,
            "  {label:<LABEL$}{:>9.4}   {}",
            t.statistic,
            PValue(t.p_value)
        ),
        Estimable::NotEstimable { reason } => {
            writeln!(f, "  {label:<LABEL$}not estimable: {reason}")
        }
    }
}

/// A readable report: the risks, then the measures with their intervals, then the tests.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.table;
        let pct = Percent(self.level);
        let kind = match t.outcome() {
            OutcomeKind::Adverse => "adverse",
            OutcomeKind::Beneficial => "beneficial",
        };
        writeln!(f, "Treated vs control; events are {kind} outcomes")?;
        writeln!(
            f,
            "  {:<9}{:>8}{:>8}{:>9}   {pct} CI (Wilson)",
            "group", "events", "total", "risk"
        )?;
        risk_row(f, "treated", t.a(), t.n1(), &self.risk_treated)?;
        risk_row(f, "control", t.c(), t.n0(), &self.risk_control)?;
        writeln!(f)?;
        writeln!(f, "  {:<LABEL$}{:>9}   {pct} CI", "measure", "estimate")?;
        measure_row(f, "odds ratio, Woolf", &self.odds_ratio_wald)?;
        measure_row(
            f,
            "odds ratio, exact conditional MLE",
            &self.odds_ratio_exact,
        )?;
        measure_row(f, "relative risk", &self.relative_risk)?;
        let rd_wald = Estimable::Estimated(self.risk_difference_wald);
        measure_row(f, "risk difference, Wald", &rd_wald)?;
        let rd_newcombe = Estimable::Estimated(self.risk_difference_newcombe);
        measure_row(f, "risk difference, Newcombe", &rd_newcombe)?;
        writeln!(f, "  {:<LABEL$}{}", "NNT (Wald)", self.nnt_wald)?;
        writeln!(f, "  {:<LABEL$}{}", "NNT (Newcombe)", self.nnt_newcombe)?;
        writeln!(f)?;
        writeln!(f, "  {:<LABEL$}{:>9}   P", "test", "statistic")?;
        test_row(f, "Pearson chi-square, df = 1", &self.chi_square)?;
        test_row(f, "chi-square, Yates' correction", &self.chi_square_yates)?;
        write!(
            f,
            "  {:<LABEL$}{:>9}   {}",
            "Fisher's exact test, two-sided",
            "",
            PValue(self.fisher_p_value)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_collects_every_measure() {
        let s = TwoByTwo::new(14, 100, 46, 152)
            .unwrap()
            .summary(0.95)
            .unwrap();
        assert!((s.risk_treated.estimate - 0.14).abs() < 1e-15);
        assert!(s.odds_ratio_wald.value().is_some() && s.odds_ratio_exact.value().is_some());
        assert!((s.fisher_p_value - 0.0038437278795596).abs() < 1e-12);
        let text = s.to_string();
        assert!(text.contains("odds ratio, Woolf"), "{text}");
        assert!(text.contains("NNT(benefit)"), "{text}");
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["table"]["a"], 14);
        assert_eq!(json["nnt_newcombe"]["interval"]["kind"], "benefit");
    }

    #[test]
    fn zero_cells_are_explained_not_fatal() {
        let s = TwoByTwo::new(0, 20, 5, 20).unwrap().summary(0.9).unwrap();
        assert!(s.odds_ratio_wald.reason().is_some());
        assert!(s.relative_risk.reason().is_some());
        assert_eq!(s.odds_ratio_exact.value().unwrap().estimate, 0.0);
        let text = s.to_string();
        assert!(
            text.contains("not estimable: cell a (treated, event) is 0"),
            "{text}"
        );
        assert!(text.contains("90% CI"), "{text}");
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("null"), "{json}");
    }

    #[test]
    fn bad_level_is_an_error() {
        let t = TwoByTwo::new(1, 5, 2, 5).unwrap();
        assert!(t.summary(0.0).is_err());
        assert!(t.summary(f64::NAN).is_err());
    }

    #[test]
    fn p_values_print_with_a_floor() {
        assert_eq!(PValue(0.00384).to_string(), "0.0038");
        assert_eq!(PValue(1e-9).to_string(), "< 0.0001");
    }
}
