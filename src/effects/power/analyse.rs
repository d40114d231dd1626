//! The analysis of one simulated trial: the fit, its test and interval.

use crate::core::dist::{normal_quantile, p_normal_two_sided, p_t_two_sided, t_quantile};
use crate::core::error::{Error, Result};
use crate::design::Design;
use crate::effects::randomisation::Randomisation;
use crate::models::fitted::Fitted;
use crate::models::gee::Gee;
use crate::models::glmm::{DfMethod, Glmm, GlmmFit};
use crate::sim::{TrialCounts, COUNT_COLUMNS, PATIENT_OUTCOME};

use super::Analysis;

/// What one trial's analysis gives.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrialFit {
    /// The treatment's estimate (log odds ratio).
    pub estimate: f64,
    /// Its standard error under the analysis's variance.
    pub std_error: f64,
    /// Degrees of freedom of the t reference (None: the normal).
    pub df: Option<f64>,
    /// The two-sided p-value of the analysis's test (the randomisation p-value for the
    /// randomisation test).
    pub p_value: f64,
    /// Whether the test rejects at alpha.
    pub reject: bool,
    /// The `1 - alpha` interval the test inverts (None for the randomisation test).
    pub interval: Option<(f64, f64)>,
    /// Whether the fit converged.
    pub converged: bool,
    /// Whether a random-effect SD was estimated at 0 (mixed models only).
    pub singular: bool,
    /// Periods left out of the analysis because no patient in them (or every one) had the
    /// event (see the [module docs](super)).
    pub periods_left_out: usize,
}

/// The specifications of an analysis, built once for all trials.
pub(super) struct Prepared<'a> {
    design: &'a Design,
    analysis: &'a Analysis,
    alpha: f64,
    glmm: Glmm,
    glmm_bw: Glmm,
    gee: Option<Gee>,
    /// Whether the models have period effects.
    periods: bool,
}

/// The mixed model's formula on counts, with or without period effects.
fn glmm_formula(periods: bool) -> String {
    let [cluster, _, treated, events, trials] = COUNT_COLUMNS;
    let period = if periods { " + factor(period)" } else { "" };
    format!("cbind({events}, {trials} - {events}) ~ {treated}{period} + (1 | {cluster})")
}

impl<'a> Prepared<'a> {
    /// Checks that `analysis` suits `design` and builds its specifications.
    pub(super) fn new(
        design: &'a Design,
        analysis: &'a Analysis,
        alpha: f64,
    ) -> Result<Prepared<'a>> {
        let periods = design.n_periods() > 1;
        let glmm = Glmm::new(&glmm_formula(periods))?;
        let glmm_bw = glmm.clone().df(DfMethod::BetweenWithin);
        let mut gee = None;
        match analysis {
            Analysis::Gee { correlation, se } => {
                // Intercept, treatment and one per period after the first.
                let p = 2 + design.n_periods() - 1;
                let g = design.n_clusters();
                if g <= p {
                    return Err(Error::invalid(
                        "analysis",
                        format!(
                            "the GEE's t reference has G - p degrees of freedom, and this design \
                             has {g} clusters for {p} mean parameters (intercept, treatment, {} \
                             periods after the first); merge periods or take the mixed model",
                            design.n_periods() - 1
                        ),
                    ));
                }
                let [cluster, period, treated, _, _] = COUNT_COLUMNS;
                let formula = if periods {
                    format!("{PATIENT_OUTCOME} ~ {treated} + factor({period})")
                } else {
                    format!("{PATIENT_OUTCOME} ~ {treated}")
                };
                gee = Some(
                    Gee::new(&formula, cluster)?
                        .period(period)
                        .correlation(*correlation)
                        .se(*se),
                );
            }
            Analysis::Randomisation { draws, .. } => {
                if *draws == 0 {
                    return Err(Error::invalid(
                        "draws",
                        "the randomisation test needs at least one permutation drawn",
                    ));
                }
                for (i, row) in design.cells().iter().enumerate() {
                    for (j, cell) in row.iter().enumerate() {
                        if let Some(share) = cell.filter(|s| *s != 0.0 && *s != 1.0) {
                            return Err(Error::invalid(
                                "analysis",
                                format!(
                                    "cluster '{}', period '{}' has the share {share}; the \
                                     randomisation test permutes whole crossovers (0 or 1)",
                                    design.clusters()[i],
                                    design.periods()[j].label
                                ),
                            ));
                        }
                    }
                }
            }
            Analysis::Glmm | Analysis::GlmmBetweenWithin => {}
        }
        Ok(Prepared {
            design,
            analysis,
            alpha,
            glmm,
            glmm_bw,
            gee,
            periods,
        })
    }

    /// The analysis of `trial` (`seed`: the randomisation test's draws), without the periods
    /// whose outcome is constant.
    pub(super) fn analyse(&self, trial: &TrialCounts, seed: u64) -> Result<TrialFit> {
        if !self.periods {
            return self.analyse_all(trial, seed);
        }
        let constant = constant_periods(trial);
        if constant.is_empty() {
            return self.analyse_all(trial, seed);
        }
        let kept = TrialCounts {
            cells: trial
                .cells
                .iter()
                .filter(|c| !constant.contains(&c.period))
                .copied()
                .collect(),
        };
        let mut fit = self.analyse_all(&kept, seed)?;
        fit.periods_left_out = constant.len();
        Ok(fit)
    }

    /// The analysis of every cell of `trial`.
    fn analyse_all(&self, trial: &TrialCounts, seed: u64) -> Result<TrialFit> {
        match self.analysis {
            Analysis::Glmm => {
                let cohort = trial.counts_cohort(self.design)?;
                let fit = self.glmm.fit(&cohort)?;
                self.wald(&fit, None)
            }
            Analysis::GlmmBetweenWithin => {
                let cohort = trial.counts_cohort(self.design)?;
                let fit = self.glmm_bw.fit(&cohort)?;
                let counted = fit
                    .term(COUNT_COLUMNS[2])?
                    .df
                    .ok_or_else(|| Error::Numerical {
                        what: "the between-within degrees of freedom".into(),
                        message: "the fit has none".into(),
                    })?;
                self.wald(&fit, Some(patient_between_within_df(trial, counted)))
            }
            Analysis::Gee { .. } => {
                let cohort = trial.patient_cohort(self.design)?;
                let gee = self.gee.as_ref().ok_or_else(|| Error::Numerical {
                    what: "the GEE analysis".into(),
                    message: "its specification was not built".into(),
                })?;
                let fit = gee.fit(&cohort)?;
                let row = fit.term(COUNT_COLUMNS[2])?;
                let (estimate, std_error) = (row.estimate, row.std_error);
                let critical = t_quantile(1.0 - self.alpha / 2.0, fit.df);
                let statistic = estimate / std_error;
                finite(estimate, std_error)?;
                Ok(TrialFit {
                    estimate,
                    std_error,
                    df: Some(fit.df),
                    p_value: p_t_two_sided(statistic, fit.df),
                    reject: statistic.abs() > critical,
                    interval: Some((
                        estimate - critical * std_error,
                        estimate + critical * std_error,
                    )),
                    converged: fit.converged,
                    singular: false,
                    periods_left_out: 0,
                })
            }
            Analysis::Randomisation { max_exact, draws } => {
                let cohort = trial.counts_cohort(self.design)?;
                let fit = self.glmm.fit(&cohort)?;
                let test = Randomisation::new(COUNT_COLUMNS[2])
                    .cluster(COUNT_COLUMNS[0])
                    .period(COUNT_COLUMNS[1])
                    .max_exact(*max_exact)
                    .monte_carlo(*draws, seed)
                    .run(&fit, &cohort)?;
                let row = fit.term(COUNT_COLUMNS[2])?;
                finite(row.estimate, row.std_error)?;
                Ok(TrialFit {
                    estimate: row.estimate,
                    std_error: row.std_error,
                    df: None,
                    p_value: test.p_value,
                    // A p-value within 1e-9 of alpha counts as equal (alpha is rounded).
                    reject: test.p_value <= self.alpha + 1e-9,
                    interval: None,
                    converged: fit.converged,
                    singular: fit.singular,
                    periods_left_out: 0,
                })
            }
        }
    }

    /// The Wald test of the mixed model's treatment: z, or t on `df`.
    fn wald(&self, fit: &GlmmFit, df: Option<f64>) -> Result<TrialFit> {
        let row = fit.term(COUNT_COLUMNS[2])?;
        let (estimate, std_error) = (row.estimate, row.std_error);
        finite(estimate, std_error)?;
        let statistic = estimate / std_error;
        let (critical, p_value) = match df {
            None => (
                normal_quantile(1.0 - self.alpha / 2.0),
                p_normal_two_sided(statistic),
            ),
            Some(df) => (
                t_quantile(1.0 - self.alpha / 2.0, df),
                p_t_two_sided(statistic, df),
            ),
        };
        Ok(TrialFit {
            estimate,
            std_error,
            df,
            p_value,
            reject: statistic.abs() > critical,
            interval: Some((
                estimate - critical * std_error,
                estimate + critical * std_error,
            )),
            converged: fit.converged,
            singular: fit.singular,
            periods_left_out: 0,
        })
    }
}

/// The periods (design columns) of `trial` in which no patient, or every patient, had the
/// event.
fn constant_periods(trial: &TrialCounts) -> Vec<usize> {
    let mut sums: Vec<(usize, u64, u64)> = Vec::new();
    for c in &trial.cells {
        match sums.iter_mut().find(|s| s.0 == c.period) {
            Some(s) => {
                s.1 += c.events;
                s.2 += c.patients;
            }
            None => sums.push((c.period, c.events, c.patients)),
        }
    }
    sums.iter()
        .filter(|(_, events, patients)| *events == 0 || events == patients)
        .map(|(period, _, _)| *period)
        .collect()
}

/// An estimate and standard error that are numbers.
fn finite(estimate: f64, std_error: f64) -> Result<()> {
    if estimate.is_finite() && std_error.is_finite() && std_error > 0.0 {
        Ok(())
    } else {
        Err(Error::Numerical {
            what: "the treatment's estimate".into(),
            message: format!("estimate {estimate}, standard error {std_error}"),
        })
    }
}

/// The between-within degrees of freedom of the treatment as the fit of the trial's patients'
/// rows counts them, from `df`, the fit's on the counts: the fit of the counts counted the cells
/// with patients as its observations, the patients' fit counts the patients, so a treatment
/// that changes within a cluster (`N - G - p_within`) gains `N - cells`; one constant within
/// every cluster (`G - p_between`) is the same either way.
fn patient_between_within_df(trial: &TrialCounts, df: f64) -> f64 {
    let cells = &trial.cells;
    let within = cells.iter().any(|c| {
        cells
            .iter()
            .any(|d| d.cluster == c.cluster && d.share != c.share)
    });
    if within {
        df + (trial.patients() as f64 - cells.len() as f64)
    } else {
        df
    }
}
