//! Every estimate the report prints, as tidy rows for `estimates.csv`.

use super::published::{own_home_cost_effectiveness_model, CRUDE_PERCENT, STANDARDISED};
use super::{Analysis, TreatmentEffect, OWN_HOME_COST};
use crate::effects::crude::Estimate;
use crate::studies::ReportedEstimate;

/// The estimates of the analysis, one row each: first every row of the reproduction table
/// (its quantity as printed, with the published value, its source and the agreement), then the
/// estimates the report prints without a published value: the mortality OR's Wald interval, the
/// models adjusted for calendar quarter, the own-home OR, deaths avoided per patient,
/// incremental cost and Fieller's interval of the cost per saved life, the whole cohort's
/// standardised effect, NNT and its bound, and per LKT indicator the crude percentages, the OR
/// and the standardised difference.
pub fn estimates(a: &Analysis) -> Vec<ReportedEstimate> {
    let mut rows: Vec<ReportedEstimate> = a.table.rows.iter().map(Into::into).collect();
    let ratio = |quantity: &str, e: &TreatmentEffect| {
        ReportedEstimate::new(
            quantity,
            e.model(),
            e.ratio.estimate,
            Some((e.ratio.ci_low, e.ratio.ci_high)),
            e.wald_method(),
        )
    };
    // Deaths avoided per patient: minus the risk difference and its interval.
    let avoided = |rd: &Estimate| (-rd.estimate, Some((-rd.ci_high, -rd.ci_low)));
    let own = &a.own_home;
    let ce = &own.cost_effectiveness;
    let (own_avoided, own_avoided_ci) = avoided(&own.marginal.risk_difference.delta);
    let (all_avoided, all_avoided_ci) = avoided(&a.whole_cohort.risk_difference.delta);
    let bootstrap = format!(
        "joint cluster bootstrap ({} replicates)",
        ce.replicates.len()
    );
    rows.extend([
        ratio("30-day mortality, adjusted OR (Wald CI)", &a.mortality),
        ratio(
            "30-day mortality, adjusted OR + calendar quarter",
            &a.mortality_time_adjusted,
        ),
        ratio(
            "30-day readmission, adjusted RR + calendar quarter",
            &a.readmission_time_adjusted,
        ),
        ratio("own home: 30-day mortality, adjusted OR", &own.mortality),
        ReportedEstimate::new(
            "own home: deaths avoided per patient",
            own.mortality.model(),
            own_avoided,
            own_avoided_ci,
            format!("{STANDARDISED}; delta-method CI"),
        ),
        ReportedEstimate::new(
            "own home: incremental cost per patient, DKK",
            format!("linear mixed model (REML): {OWN_HOME_COST}"),
            ce.incremental_cost.estimate,
            Some((ce.incremental_cost.ci_low, ce.incremental_cost.ci_high)),
            format!("standardised mean cost, KTH minus usual care; percentile CI of a {bootstrap}"),
        ),
        ReportedEstimate::new(
            "cost per saved life, DKK (own home), Fieller CI",
            own_home_cost_effectiveness_model(a),
            ce.icer,
            ce.fieller.bounds(),
            format!("incremental cost / deaths avoided per patient; Fieller's CI with the variances of a {bootstrap}"),
        ),
        ReportedEstimate::new(
            "whole cohort: deaths avoided per patient",
            a.mortality.model(),
            all_avoided,
            all_avoided_ci,
            "standardised over the whole cohort (risks averaged over the municipality effects); \
             delta-method CI",
        ),
        ReportedEstimate::new(
            "whole cohort: patients per life saved (NNT)",
            a.mortality.model(),
            a.whole_cohort.nnt.delta.nnt,
            a.whole_cohort.nnt.delta.interval.bounds(),
            "1 / deaths avoided per patient, standardised over the whole cohort; delta-method CI",
        ),
        ReportedEstimate::new(
            "whole cohort: smallest NNT of a logistic model with this OR",
            "",
            a.whole_cohort_nnt_bound,
            None,
            "Jensen's bound from the adjusted OR and the crude risks (nnt_bound)",
        ),
    ]);
    for m in &a.mobility {
        let percent = |arm: &str, value: f64| {
            ReportedEstimate::new(
                format!("{}, {arm}", m.outcome),
                "",
                value,
                None,
                CRUDE_PERCENT,
            )
        };
        let difference = &m.marginal.risk_difference.delta;
        rows.extend([
            percent("KTH", m.crude.kth_percent()),
            percent("usual care", m.crude.usual_percent()),
            ratio(&format!("{}, adjusted OR", m.outcome), &m.effect),
            ReportedEstimate::new(
                format!("{}, standardised difference, points", m.outcome),
                m.effect.model(),
                100.0 * difference.estimate,
                Some((100.0 * difference.ci_low, 100.0 * difference.ci_high)),
                "share regaining, KTH minus usual care, standardised over the whole cohort; \
                 delta-method CI",
            ),
        ]);
    }
    rows
}
