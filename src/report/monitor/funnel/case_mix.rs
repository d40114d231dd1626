//! The case-mix-adjusted funnel: expected events per unit from a logistic model of the
//! patients' risks, fitted to all units pooled.

use serde::Serialize;

use super::Funnel;
use crate::core::error::{Error, Result};
use crate::data::Cohort;
use crate::frame::design::{Grouping, MissingReport};
use crate::frame::formula::Formula;
use crate::models::coef_table::CoefRow;
use crate::models::glm::Glm;
use crate::models::Fitted;

/// The model behind a case-mix-adjusted funnel, and the patients it used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseMix {
    /// The logistic model fitted, `indicator ~ covariates`.
    pub formula: String,
    /// The column naming each patient's unit.
    pub unit_column: String,
    /// Patients used: complete in the indicator, the covariates and the unit.
    pub patients: usize,
    /// Patients excluded for a missing value in any of those (`missing` says which).
    pub excluded: usize,
    /// The rows in the cohort and used, and the patients missing each variable.
    pub missing: MissingReport,
    /// The model's coefficients (log odds ratios, with their odds ratios).
    pub coefficients: Vec<CoefRow>,
}

impl Funnel {
    /// The case-mix-adjusted funnel of the 0/1 `indicator` across the units of the column
    /// `unit` of `cohort`: the logistic model `indicator ~ covariates` (`covariates` the right
    /// side of a formula, `age + sex + residence + asa`, without a unit term; empty for none),
    /// fitted by [`Glm`] to all units pooled, gives each patient's risk; a unit's expected
    /// events E are the sum of its patients' risks, and the funnel is that of
    /// [`Funnel::ratios`] (O / E against E, exact Poisson limits). Units are in the order of
    /// their labels.
    ///
    /// Patients missing the indicator, a covariate or the unit are excluded and counted
    /// ([`CaseMix::excluded`], per variable in [`CaseMix::missing`]).
    ///
    /// Errors: an unknown column ([`Error::UnknownColumn`]), a formula that does not parse, a
    /// covariate that is the unit column or a random effect ([`Error::InvalidArgument`],
    /// [`Error::NeedsMixedModel`]), an indicator that is not 0/1
    /// ([`Error::InvalidResponse`]); the model's failures as the [`Glm`] reports them
    /// (separation, [`Error::NotConverged`], a constant covariate); a unit all of whose patients
    /// were excluded ([`Error::TooFewData`], naming it); and those of [`Funnel::ratios`].
    pub fn case_mix(
        cohort: &Cohort,
        unit: &str,
        indicator: &str,
        covariates: &str,
    ) -> Result<Funnel> {
        let covariates = if covariates.trim().is_empty() {
            "1"
        } else {
            covariates
        };
        let formula = Formula::parse(&format!("{indicator} ~ {covariates}"))?;
        if formula.predictor_columns().iter().any(|c| c == unit) {
            return Err(Error::invalid(
                "covariates",
                format!(
                    "'{covariates}' includes the unit column '{unit}'; the expected events come \
                     from a model without units, which the funnel then compares"
                ),
            ));
        }
        let labels = cohort.column(unit)?;
        // The unit as the fit's cluster column: patients without one are excluded and counted.
        let fit = Glm::from_formula(formula).cluster(unit).fit(cohort)?;
        let rows = fit.frame().rows();
        let risks = fit.fitted();
        if risks.len() != rows.len() {
            return Err(Error::Numerical {
                what: "the case-mix model".into(),
                message: format!("{} fitted risks for {} patients", risks.len(), rows.len()),
            });
        }
        let y = cohort.numeric(indicator)?;
        let present: Vec<usize> = (0..cohort.n_rows())
            .filter(|&i| !labels.is_missing(i))
            .collect();
        let groups = Grouping::new(cohort, unit, &present)?;
        let mut code = vec![None; cohort.n_rows()];
        for (&row, &c) in present.iter().zip(&groups.codes) {
            code[row] = Some(c);
        }
        let k = groups.len();
        let (mut observed, mut expected, mut n) = (vec![0.0; k], vec![0.0; k], vec![0.0; k]);
        for (&row, &risk) in rows.iter().zip(risks) {
            if let Some(c) = code[row] {
                observed[c] += y[row];
                expected[c] += risk;
                n[c] += 1.0;
            }
        }
        if let Some(empty) = n.iter().position(|&n| n == 0.0) {
            let patients = groups.codes.iter().filter(|&&c| c == empty).count();
            return Err(Error::too_few(
                format!(
                    "unit '{}' of '{unit}' (its {patients} patient(s) were all excluded for \
                     missing values: {})",
                    groups.labels[empty], fit.missing
                ),
                "patients",
                0,
                1,
            ));
        }
        let mut funnel = Funnel::ratios(groups.labels, observed, expected, n)?;
        funnel.case_mix = Some(CaseMix {
            formula: fit.formula.clone(),
            unit_column: unit.to_string(),
            patients: fit.missing.rows_used,
            excluded: fit.missing.rows_in - fit.missing.rows_used,
            missing: fit.missing.clone(),
            coefficients: fit.coefficients.clone(),
        });
        Ok(funnel)
    }
}
