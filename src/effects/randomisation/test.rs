//! The randomisation distribution: the allocations' refits in parallel, and the p-values.

use rayon::prelude::*;

use super::allocations;
use super::schedule::{Columns, Schedule, NEVER};
use super::{Randomisation, RandomisationTest, ShiftedDistribution, Statistic};
use crate::core::error::{Error, Result};
use crate::data::Cohort;
use crate::effects::standardise::bootstrap::progress_bar;
use crate::frame::counterfactual::check_treatment;
use crate::frame::formula::{Expr, Formula};
use crate::models::coef_table::check_level;
use crate::models::fitted::{Assignment, Fitted, Refit};

/// Comparisons with `T_obs` allow this much, times `max(1, |T_obs|)`, for the refits' rounding.
const TIE_TOLERANCE: f64 = 1e-7;

/// Most refits that may fail (as a share of those made) before the test is refused.
const MOST_FAILED: f64 = 0.1;

/// A randomisation test ready to run on a fit: its schedule, allocations and the fit's rows
/// prepared for refits.
pub struct Prepared<'a, F: Fitted> {
    pub(super) spec: Randomisation,
    pub(super) fit: &'a F,
    /// The treatment's design column.
    pub(super) column: usize,
    pub(super) schedule: Schedule,
    assignable: F::Assignable,
    /// Crossover codes of each allocation.
    allocations: Vec<Vec<u32>>,
    exact: bool,
    identity: Option<usize>,
    n_possible: f64,
    /// The fit's own estimates and standard errors.
    pub(super) observed: Refit,
}

impl Randomisation {
    /// Read the schedule of `fit`'s rows of `cohort` (the cohort it was fitted to), choose the
    /// allocations and prepare the fit for refits. Errors: a treatment that is not a numeric 0/1
    /// main effect of the formula, a cluster off its crossover schedule, a stratum that splits a
    /// cluster, or a design with a single allocation.
    pub fn prepare<'a, F: Fitted>(&self, fit: &'a F, cohort: &Cohort) -> Result<Prepared<'a, F>> {
        if let Some(level) = self.interval {
            check_level(level)?;
        }
        let frame = fit.frame();
        frame.check_cohort(cohort)?;
        check_treatment(frame, cohort, &self.treatment)?;
        check_main_effect(frame.formula(), &self.treatment)?;
        let column = frame
            .names()
            .iter()
            .position(|n| *n == self.treatment)
            .ok_or_else(|| Error::unknown_term("treatment", &self.treatment, frame.names()))?;
        let cluster = match (&self.cluster, frame.cluster_column()) {
            (Some(c), _) => c.as_str(),
            (None, Some(c)) => c,
            (None, None) => {
                return Err(Error::invalid(
                    "cluster",
                    "the model has no clusters: name the column of the clusters whose \
                     crossovers are permuted",
                ))
            }
        };
        let columns = Columns {
            cluster,
            period: &self.period,
            treatment: &self.treatment,
            strata: self.strata.as_deref(),
        };
        let schedule = Schedule::read(cohort, frame.rows(), &columns)?;
        let codes = schedule.codes();
        let strata = schedule.stratum_codes();
        let n_possible = allocations::count(&codes, &strata);
        if n_possible < 2.0 {
            return Err(Error::invalid(
                "randomisation",
                "every permutation of the clusters' crossovers (within strata) is the observed \
                 allocation, so there is nothing to compare it with",
            ));
        }
        let exact = n_possible <= self.max_exact as f64;
        let allocations = if exact {
            allocations::enumerate(&codes, &strata)
        } else if self.draws == 0 {
            return Err(Error::invalid(
                "monte_carlo",
                format!(
                    "there are {n_possible:.0} allocations, more than max_exact = {}, and 0 \
                     draws were asked for",
                    self.max_exact
                ),
            ));
        } else {
            allocations::sample(&codes, &strata, self.draws, self.seed)
        };
        let identity = if exact {
            allocations.iter().position(|a| *a == codes)
        } else {
            None
        };
        let assignable = fit.assignable(cohort, column, &schedule.units())?;
        let parameters = fit.parameters()?;
        let p = fit.coefficients().len();
        let observed = Refit {
            singular: parameters.mixed && parameters.psi[p..].contains(&0.0),
            psi: parameters.psi,
            std_errors: Some(fit.coefficients().iter().map(|r| r.std_error).collect()),
        };
        Ok(Prepared {
            spec: self.clone(),
            fit,
            column,
            schedule,
            assignable,
            allocations,
            exact,
            identity,
            n_possible,
            observed,
        })
    }
}

/// The treatment must enter the formula as a main effect only: not in an interaction, an offset
/// or a random-effect term, whose columns a new assignment would change too.
fn check_main_effect(formula: &Formula, treatment: &str) -> Result<()> {
    let reads = |e: &Expr| e.columns().contains(&treatment);
    let refuse = |construct: String| {
        Err(Error::unsupported(
            &formula.text,
            &construct,
            "a randomisation test replaces the treatment's own column; fit the treatment as a \
             main effect",
        ))
    };
    if let Some(t) = formula
        .terms
        .iter()
        .find(|t| t.vars.len() > 1 && t.vars.iter().any(reads))
    {
        return refuse(format!(
            "the interaction '{}' with the treatment",
            t.label()
        ));
    }
    if formula.offsets.iter().any(reads) {
        return refuse(format!("the treatment '{treatment}' in an offset"));
    }
    if let Some(r) = formula
        .random
        .iter()
        .find(|r| r.slopes.iter().flat_map(|t| &t.vars).any(reads))
    {
        return refuse(format!("the random slope of the treatment in {}", r.text));
    }
    Ok(())
}

/// Two-sided, lower and upper p-values of `observed` among `values` (the observed allocation's
/// among them for an exact test; counted once more for a Monte Carlo one).
pub(super) fn p_values(observed: f64, values: &[f64], exact: bool) -> (f64, f64, f64) {
    let tolerance = TIE_TOLERANCE * observed.abs().max(1.0);
    let extra = usize::from(!exact);
    let n = (values.len() + extra) as f64;
    let share = |keep: &dyn Fn(f64) -> bool| {
        (values.iter().filter(|&&v| keep(v)).count() + extra) as f64 / n
    };
    (
        share(&|v: f64| v.abs() >= observed.abs() - tolerance),
        share(&|v: f64| v <= observed + tolerance),
        share(&|v: f64| v >= observed - tolerance),
    )
}

impl<F: Fitted> Prepared<'_, F> {
    /// The schedule read from the data.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Whether every distinct allocation is used.
    pub fn exact(&self) -> bool {
        self.exact
    }

    /// The observed refit under the shifted null with effect `shift`: the fit's estimate of the
    /// treatment moved by `-shift` (the same likelihood), the other estimates and the standard
    /// errors unchanged.
    pub(super) fn observed_at(&self, shift: f64) -> Refit {
        let mut refit = self.observed.clone();
        refit.psi[self.column] -= shift;
        refit
    }

    /// The randomisation distribution under the shifted null hypothesis that the treatment's
    /// effect is `shift` (0 for the test itself): every allocation's statistic (the observed
    /// allocation's without a refit) and the p-values.
    pub fn distribution(&self, shift: f64) -> Result<ShiftedDistribution> {
        let statistic = &self.spec.statistic;
        let observed = statistic.of(&self.observed_at(shift), self.column)?;
        let refits = self.allocations.len() - usize::from(self.identity.is_some());
        let bar = progress_bar(self.spec.progress, refits, "randomisation");
        let results: Vec<Result<(f64, bool)>> = self
            .allocations
            .par_iter()
            .enumerate()
            .map_init(
                || (self.fit.workspace(), Vec::new()),
                |(workspace, values), (k, allocation)| {
                    if Some(k) == self.identity {
                        return Ok((observed, self.observed.singular));
                    }
                    if let Some(bar) = &bar {
                        bar.inc(1);
                    }
                    self.statistic_of(allocation, shift, statistic, workspace, values)
                },
            )
            .collect();
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let failures: Vec<&Error> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        if failures.len() as f64 > MOST_FAILED * refits as f64 {
            return Err(Error::RefitsFailed {
                what: format!("refits of the randomisation test's allocations (shift {shift})"),
                failed: failures.len(),
                total: refits,
                first: failures[0].to_string(),
            });
        }
        let statistics: Vec<Option<f64>> = results
            .iter()
            .map(|r| r.as_ref().ok().map(|(t, _)| *t))
            .collect();
        let values: Vec<f64> = statistics.iter().flatten().copied().collect();
        let (p_value, p_lower, p_upper) = p_values(observed, &values, self.exact);
        Ok(ShiftedDistribution {
            shift,
            observed,
            p_value,
            p_lower,
            p_upper,
            refits,
            failed: failures.len(),
            first_failure: failures.first().map(|e| e.to_string()),
            singular: results
                .iter()
                .filter(|r| matches!(r, Ok((_, true))))
                .count(),
            statistics,
        })
    }

    /// The statistic of one allocation's refit, and whether the refit is singular.
    fn statistic_of(
        &self,
        allocation: &[u32],
        shift: f64,
        statistic: &Statistic,
        workspace: &mut F::Workspace,
        values: &mut Vec<f64>,
    ) -> Result<(f64, bool)> {
        self.schedule.unit_values(allocation, values);
        let assignment = Assignment {
            values,
            shift,
            std_errors: statistic.needs_std_errors(),
        };
        let refit = self
            .fit
            .refit_assigned(&self.assignable, &assignment, workspace)?;
        Ok((statistic.of(&refit, self.column)?, refit.singular))
    }

    /// The values entering the p-values at `distribution`: the successful refits' statistics,
    /// and for a Monte Carlo test the observed statistic once more.
    pub(super) fn pooled(&self, distribution: &ShiftedDistribution) -> Vec<f64> {
        let mut values: Vec<f64> = distribution.statistics.iter().flatten().copied().collect();
        if !self.exact {
            values.push(distribution.observed);
        }
        values
    }

    /// The test: the distribution at shift 0, the p-values, and the interval if asked for.
    pub fn test(&self) -> Result<RandomisationTest> {
        let at = self.distribution(0.0)?;
        let interval = match self.spec.interval {
            Some(level) => Some(self.interval(level, self.spec.inversion)?),
            None => None,
        };
        let successes = at.refits - at.failed + usize::from(self.identity.is_some());
        Ok(RandomisationTest {
            treatment: self.spec.treatment.clone(),
            statistic: self.spec.statistic.name().to_string(),
            observed: at.observed,
            p_value: at.p_value,
            p_lower: at.p_lower,
            p_upper: at.p_upper,
            n_allocations: self.allocations.len(),
            n_possible: self.n_possible,
            exact: self.exact,
            mc_se: (!self.exact)
                .then(|| (at.p_value * (1.0 - at.p_value) / successes as f64).sqrt()),
            seed: (!self.exact).then_some(self.spec.seed),
            failed: at.failed,
            first_failure: at.first_failure,
            singular: at.singular,
            schedule: self.schedule.clone(),
            allocations: self
                .allocations
                .iter()
                .map(|a| {
                    a.iter()
                        .map(|&c| (c != NEVER).then_some(c as usize))
                        .collect()
                })
                .collect(),
            statistics: at.statistics,
            identity: self.identity,
            interval,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::p_values;

    #[test]
    fn p_values_count_the_observed_allocation_once() {
        // Exact: the observed value is among the values.
        let values = [0.5, -0.2, 0.1, -0.6, 0.3];
        let (two, lower, upper) = p_values(0.5, &values, true);
        assert_eq!((two, lower, upper), (0.4, 1.0, 0.2));
        // Monte Carlo: (1 + #{|T| >= |T_obs|}) / (N + 1).
        let draws = [0.7, -0.2, 0.1, -0.6];
        let (two, lower, upper) = p_values(0.5, &draws, false);
        assert_eq!((two, lower, upper), (0.6, 0.8, 0.4));
    }
}
