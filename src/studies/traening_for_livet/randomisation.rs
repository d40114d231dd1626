//! The exact randomisation test of the synthetic trial's treatment effect and its interval,
//! beside the mixed model's between-within t (see [`RandomisationAnalysis`]).

use std::fmt;

use serde::Serialize;

use crate::core::dist::t_cdf;
use crate::data::Cohort;
use crate::effects::randomisation::{Inversion, Randomisation, RandomisationTest};
use crate::models::coef_table::{align, whole_or_sig, CoefRow};
use crate::models::glmm::GlmmFit;

/// An estimate with an interval whose bounds may be open (`None`: no bound was found on that
/// side, see [`crate::effects::randomisation`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OpenInterval {
    /// The point estimate.
    pub estimate: f64,
    /// The lower bound; `None` when it is open.
    pub ci_low: Option<f64>,
    /// The upper bound; `None` when it is open.
    pub ci_high: Option<f64>,
    /// The confidence level.
    pub level: f64,
    /// Whether the lower bound is open (no hypothesised effect below the estimate is rejected).
    pub low_open: bool,
    /// Whether the upper bound is open.
    pub high_open: bool,
}

impl OpenInterval {
    /// The interval from its estimate and bounds.
    fn new(estimate: f64, ci_low: Option<f64>, ci_high: Option<f64>, level: f64) -> Self {
        OpenInterval {
            estimate,
            ci_low,
            ci_high,
            level,
            low_open: ci_low.is_none(),
            high_open: ci_high.is_none(),
        }
    }

    /// The same on the exponentiated scale (a log odds ratio's interval as an odds ratio's); an
    /// open bound stays open.
    fn exp(&self) -> Self {
        OpenInterval::new(
            self.estimate.exp(),
            self.ci_low.map(f64::exp),
            self.ci_high.map(f64::exp),
            self.level,
        )
    }

    /// `low to high`, an open bound printed as such.
    fn bounds(&self, open_low: &str) -> String {
        format!(
            "{} to {}",
            self.ci_low
                .map_or(format!("{open_low} (open)"), |v| format!("{v:.3}")),
            self.ci_high
                .map_or("+inf (open)".to_string(), |v| format!("{v:.3}"))
        )
    }
}

/// The mixed model's own (model-based) test of the treatment, for the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelBasedTest {
    /// How it is referred: `t on 257 between-within df`, or `z`.
    pub reference: String,
    /// Degrees of freedom of the t reference (`None`: normal).
    pub df: Option<f64>,
    /// Two-sided p-value of the Wald t statistic.
    pub p_value: f64,
    /// `P(T <= t_obs)` under the t (or normal) reference: evidence that the odds ratio is below 1.
    pub p_lower: f64,
    /// `P(T >= t_obs)`: evidence that it is above 1.
    pub p_upper: f64,
    /// The log odds ratio with its t interval.
    pub log_odds_ratio: OpenInterval,
    /// The odds ratio with its t interval.
    pub odds_ratio: OpenInterval,
}

impl ModelBasedTest {
    /// The test of a coefficient row (t on its df, or z).
    fn of(row: &CoefRow, level: f64) -> Self {
        let df = row.df.unwrap_or(f64::INFINITY);
        let log = OpenInterval::new(row.estimate, Some(row.ci_low), Some(row.ci_high), level);
        ModelBasedTest {
            reference: row
                .df
                .map_or("z".to_string(), |d| format!("t on {d} between-within df")),
            df: row.df,
            p_value: row.p_value,
            p_lower: t_cdf(row.statistic, df),
            p_upper: t_cdf(-row.statistic, df),
            odds_ratio: log.exp(),
            log_odds_ratio: log,
        }
    }
}

/// The exact randomisation test of the synthetic trial's treatment effect and its randomisation
/// interval, beside the mixed model's between-within t.
///
/// Under the trial's randomisation any order in which the 6 municipalities cross over was as
/// likely as the one drawn: `6! = 720` allocations, every one of them refitted (the Hussey &
/// Hughes GLMM of the trial with the treatment column reassigned,
/// [`Randomisation`](crate::effects::randomisation::Randomisation)), the observed one included.
/// The statistic is the treatment's estimate, the log odds ratio; the two-sided p-value is the
/// share of allocations with `|T| >= |T_obs|`, the one-sided ones the shares with `T <= T_obs`
/// (evidence of an odds ratio below 1) and `T >= T_obs`. The interval of the log odds ratio
/// inverts the two-sided test under the shifted null (Rabideau & Wang 2021): the hypothesised
/// effects `d` whose p-value exceeds `1 - level`; a side on which no `d` is rejected is open
/// (`None`, printed as open). The odds ratio's interval is its exponential. Refits that fail
/// are counted and left out; refits whose cluster SD is estimated as 0 (singular) are kept and
/// counted.
///
/// Its validity rests on the randomisation alone, not on the model's distributional
/// assumptions or on the number of clusters; with 720 allocations its p-values move in steps
/// of `1 / 720`. A test or interval that cannot be computed is reported in [`Self::problem`],
/// never a panic.
#[derive(Debug, Clone, Serialize)]
pub struct RandomisationAnalysis {
    /// The treatment column whose crossovers are permuted.
    pub treatment: String,
    /// The statistic: the estimate (log odds ratio) of the mixed model.
    pub statistic: String,
    /// The confidence level of the interval (the fit's).
    pub level: f64,
    /// How the interval inverts the test (two-sided).
    pub inversion: Inversion,
    /// The test (every allocation, the p-values, failed and singular refits, the schedule read
    /// from the data) with its interval; `None` if it could not be computed.
    pub test: Option<RandomisationTest>,
    /// Whether the observed allocation is among those enumerated (always, for an exact test).
    pub observed_included: bool,
    /// The log odds ratio with its randomisation interval (`None` without one).
    pub log_odds_ratio: Option<OpenInterval>,
    /// The odds ratio with its randomisation interval.
    pub odds_ratio: Option<OpenInterval>,
    /// The mixed model's own test and t interval, for the comparison.
    pub model_based: ModelBasedTest,
    /// Why there is no test or no interval.
    pub problem: Option<String>,
}

impl RandomisationAnalysis {
    /// The randomisation test of the treatment whose row of `fit` (the Hussey & Hughes GLMM of
    /// `cohort`) is `row`, with its interval at the fit's level. A test or interval that fails
    /// is reported in [`Self::problem`].
    pub fn run(fit: &GlmmFit, cohort: &Cohort, row: &CoefRow) -> Self {
        let treatment = row.term.as_str();
        let level = fit.level;
        let inversion = Inversion::TwoSided;
        let mut result = RandomisationAnalysis {
            treatment: treatment.to_string(),
            statistic: format!(
                "the estimate of '{treatment}' (log odds ratio) in the refitted mixed model"
            ),
            level,
            inversion,
            test: None,
            observed_included: false,
            log_odds_ratio: None,
            odds_ratio: None,
            model_based: ModelBasedTest::of(row, level),
            problem: None,
        };
        let spec = Randomisation::new(treatment).period("period");
        let prepared = match spec.prepare(fit, cohort) {
            Ok(p) => p,
            Err(e) => {
                result.problem = Some(format!("the randomisation test could not be set up: {e}"));
                return result;
            }
        };
        let mut test = match prepared.test() {
            Ok(t) => t,
            Err(e) => {
                result.problem = Some(format!("the randomisation test failed: {e}"));
                return result;
            }
        };
        result.observed_included = test.identity.is_some();
        match prepared.interval(level, inversion) {
            Ok(interval) => {
                let log = OpenInterval::new(test.observed, interval.low, interval.high, level);
                result.odds_ratio = Some(log.exp());
                result.log_odds_ratio = Some(log);
                test.interval = Some(interval);
            }
            Err(e) => {
                result.problem = Some(format!("the randomisation interval failed: {e}"));
            }
        }
        result.test = Some(test);
        result
    }
}

impl fmt::Display for RandomisationAnalysis {
    /// The test's allocations and refits, then the model-based and the randomisation p-values
    /// and intervals side by side.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = format!("{}%", whole_or_sig(100.0 * self.level));
        let Some(test) = &self.test else {
            return writeln!(
                f,
                "  NO RANDOMISATION TEST: {}",
                self.problem.as_deref().unwrap_or("it was not computed")
            );
        };
        let s = &test.schedule;
        let how = if test.exact {
            format!(
                "exact: all {} distinct allocations of the {} clusters' crossovers over {} \
                 periods enumerated and refitted",
                test.n_allocations,
                s.clusters.len(),
                s.periods.len()
            )
        } else {
            format!(
                "Monte Carlo: {} of {:.0} allocations drawn (seed {}), Monte Carlo SE of p {:.4}",
                test.n_allocations,
                test.n_possible,
                test.seed.unwrap_or_default(),
                test.mc_se.unwrap_or(f64::NAN)
            )
        };
        writeln!(
            f,
            "  {how}; the observed allocation included: {}; statistic: {}",
            if self.observed_included { "yes" } else { "no" },
            self.statistic
        )?;
        writeln!(
            f,
            "  refits: {} failed{}, {} singular (cluster SD estimated as 0; kept)",
            test.failed,
            test.first_failure
                .as_ref()
                .map_or(String::new(), |e| format!(" (first: {e})")),
            test.singular
        )?;
        let m = &self.model_based;
        let mut table = vec![vec![
            String::new(),
            "log OR".to_string(),
            format!("{pct} interval"),
            "OR".into(),
            format!("{pct} interval"),
            "p two-sided".into(),
            "P(T <= obs)".into(),
            "P(T >= obs)".into(),
        ]];
        table.push(vec![
            format!("model-based ({})", m.reference),
            format!("{:.3}", m.log_odds_ratio.estimate),
            m.log_odds_ratio.bounds("-inf"),
            format!("{:.3}", m.odds_ratio.estimate),
            m.odds_ratio.bounds("0"),
            format!("{:.4}", m.p_value),
            format!("{:.4}", m.p_lower),
            format!("{:.4}", m.p_upper),
        ]);
        let no_interval = || "no interval".to_string();
        table.push(vec![
            format!(
                "randomisation ({}, {} allocations)",
                if test.exact { "exact" } else { "Monte Carlo" },
                test.n_allocations
            ),
            format!("{:.3}", test.observed),
            self.log_odds_ratio
                .as_ref()
                .map_or_else(no_interval, |i| i.bounds("-inf")),
            format!("{:.3}", test.observed.exp()),
            self.odds_ratio
                .as_ref()
                .map_or_else(no_interval, |i| i.bounds("0")),
            format!("{:.4}", test.p_value),
            format!("{:.4}", test.p_lower),
            format!("{:.4}", test.p_upper),
        ]);
        for line in align(&table).lines() {
            writeln!(f, "  {line}")?;
        }
        if let Some(interval) = &test.interval {
            writeln!(
                f,
                "  the randomisation interval inverts the two-sided test under the shifted null \
                 (the d with p(d) > {}): {} refits, {} failed{}",
                (1e6 * (1.0 - self.level)).round() / 1e6,
                interval.refits,
                interval.failed,
                match (interval.low, interval.high) {
                    (Some(_), Some(_)) => String::new(),
                    _ => "; an open bound: no hypothesised effect on that side is rejected by so \
                          few allocations"
                        .to_string(),
                }
            )?;
        }
        if let Some(problem) = &self.problem {
            writeln!(f, "  WARNING: {problem}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::OpenInterval;

    #[test]
    fn an_open_bound_stays_open_on_the_odds_ratio_scale_and_is_printed_so() {
        let log = OpenInterval::new(0.3, None, Some(1.5), 0.95);
        assert!(log.low_open && !log.high_open);
        let or = log.exp();
        assert_eq!((or.ci_low, or.low_open), (None, true));
        assert!((or.ci_high.unwrap() - 1.5f64.exp()).abs() < 1e-15);
        assert_eq!(log.bounds("-inf"), "-inf (open) to 1.500");
        assert_eq!(or.bounds("0"), "0 (open) to 4.482");
        let upper = OpenInterval::new(0.3, Some(-1.0), None, 0.95);
        assert_eq!(upper.bounds("-inf"), "-1.000 to +inf (open)");
        let json = serde_json::to_value(upper).unwrap();
        assert!(json["ci_high"].is_null() && json["high_open"] == true);
    }
}
