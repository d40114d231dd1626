//! The published numbers of the regional rollout evaluation, set beside their reproductions.

use super::{Analysis, Crude, OWN_HOME_COST};
use crate::studies::{Reproduced, ReproductionTable, Tolerance};

/// Where the numbers were published.
pub const SOURCE: &str = "Webinar 'Effekt og omkostninger ved implementering af Kom Trygt Hjem \
     i tre syddanske sundhedsklynger', LKT Sammenhængende hoftebrudsforløb, 5 Nov 2025";

/// The published adjusted OR of 30-day mortality.
pub(super) const ODDS_RATIO: f64 = 0.60;
/// The published adjusted RR of 30-day readmission.
pub(super) const RELATIVE_RISK: f64 = 1.28;
/// The published number of patients per life saved.
pub(super) const NNT: f64 = 19.0;
/// The published cost per saved life, DKK.
pub(super) const COST_PER_LIFE: f64 = 161_060.0;

/// How the crude percentages are computed.
pub(super) const CRUDE_PERCENT: &str = "crude: events / patients with a known outcome, %";
/// How the own-home risks are standardised.
pub(super) const STANDARDISED: &str =
    "standardised over own-home patients (risks averaged over the municipality effects)";

/// The models of the own-home cost-effectiveness: the cost model, then the mortality model.
pub(super) fn own_home_cost_effectiveness_model(a: &Analysis) -> String {
    format!(
        "linear mixed model (REML): {OWN_HOME_COST}; {}",
        a.own_home.mortality.model()
    )
}

/// Percentages are compared at their printed decimals.
const PERCENT: Tolerance = Tolerance::Rounds { decimals: 1 };
/// Point estimates within 2%.
const POINT: Tolerance = Tolerance::Relative(0.02);
/// Interval bounds within 0.05.
const BOUND: Tolerance = Tolerance::Absolute(0.05);

/// The reproduction table of an analysis: every published number of the evaluation (patients,
/// crude percentages, the adjusted OR and RR with their intervals, the own-home figures, the
/// NNT and the cost per saved life), as printed, beside the number computed here, with the
/// model and method behind it and its interval where it has one.
///
/// The OR interval compared is the profile-likelihood interval (as `confint` gives for a
/// `glmer` fit); the Wald interval is in the analysis as well. The NNT and the cost per saved
/// life are those of the own-home patients: the published NNT of 19 is 1 / (11.5% - 6.3%), and
/// no logistic model with OR 0.60 and the published risks gives a whole-cohort NNT below 22
/// (see [`super::nnt_bound`]).
pub fn reproduction_table(a: &Analysis) -> ReproductionTable {
    let row = |quantity: &str, published: f64, text: &str, reproduced: f64, tol| {
        Reproduced::new(quantity, published, text, SOURCE, reproduced, tol)
    };
    // The rows of a quantity for KTH, then usual care: published (value, as printed) and
    // reproduced, in that order.
    let by_group = |quantity: &str, published: [(f64, &str); 2], reproduced: [f64; 2], tol| {
        [("KTH", 0), ("usual care", 1)]
            .map(|(group, k)| {
                let (value, text) = published[k];
                row(
                    &format!("{quantity}, {group}"),
                    value,
                    text,
                    reproduced[k],
                    tol,
                )
            })
            .to_vec()
    };
    let percentages = |quantity: &str, published, crude: &Crude| {
        let reproduced = [crude.kth_percent(), crude.usual_percent()];
        by_group(quantity, published, reproduced, PERCENT)
            .into_iter()
            .map(|r| r.computed("", CRUDE_PERCENT))
            .collect::<Vec<_>>()
    };
    let count = |n: usize| n as f64;
    let or = a.mortality.profile.as_ref().unwrap_or(&a.mortality.ratio);
    let or_ci = if a.mortality.profile.is_some() {
        "profile-likelihood CI"
    } else {
        "Wald CI"
    };
    let rr = &a.readmission.ratio;
    let (or_model, rr_model) = (a.mortality.model(), a.readmission.model());
    let limit =
        |side: &str, ci: &str| format!("{side} limit of the {ci} of exp(coefficient of kth)");
    let own = &a.own_home;
    let ce = &own.cost_effectiveness;
    let own_m = &a.own_home_mortality_crude;
    let patients = [a.mortality_crude.kth.1, a.mortality_crude.usual.1].map(count);
    let rows = [
        by_group(
            "patients",
            [(524.0, "524"), (2085.0, "2,085")],
            patients,
            Tolerance::Absolute(0.0),
        )
        .into_iter()
        .map(|r| r.computed("", "count of patients"))
        .collect(),
        percentages(
            "30-day mortality",
            [(8.0, "8.0%"), (11.9, "11.9%")],
            &a.mortality_crude,
        ),
        vec![
            row(
                "30-day mortality, adjusted OR",
                ODDS_RATIO,
                "0.60",
                a.mortality.ratio.estimate,
                POINT,
            )
            .computed(&or_model, format!("exp(coefficient of kth); {or_ci}"))
            .interval(Some((or.ci_low, or.ci_high))),
            row(
                "  OR 95% CI, lower (profile)",
                0.37,
                "0.37",
                or.ci_low,
                BOUND,
            )
            .computed(&or_model, limit("lower", or_ci)),
            row(
                "  OR 95% CI, upper (profile)",
                0.85,
                "0.85",
                or.ci_high,
                BOUND,
            )
            .computed(&or_model, limit("upper", or_ci)),
        ],
        percentages(
            "30-day readmission",
            [(18.6, "18.6%"), (13.6, "13.6%")],
            &a.readmission_crude,
        ),
        vec![
            row(
                "30-day readmission, adjusted RR",
                RELATIVE_RISK,
                "1.28",
                rr.estimate,
                POINT,
            )
            .computed(&rr_model, a.readmission.wald_method())
            .interval(Some((rr.ci_low, rr.ci_high))),
            row("  RR 95% CI, lower", 1.05, "1.05", rr.ci_low, BOUND)
                .computed(&rr_model, limit("lower", "Wald CI")),
            row("  RR 95% CI, upper", 1.56, "1.56", rr.ci_high, BOUND)
                .computed(&rr_model, limit("upper", "Wald CI")),
        ],
        percentages(
            "own home: 30-day mortality",
            [(6.3, "6.3%"), (11.5, "11.5%")],
            own_m,
        ),
        vec![row(
            "own home: mortality difference, points",
            5.2,
            "5.2%",
            own_m.usual_percent() - own_m.kth_percent(),
            PERCENT,
        )
        .computed("", "usual care minus KTH, crude percentages")],
        percentages(
            "own home: readmission",
            [(18.3, "18.3%"), (12.9, "12.9%")],
            &a.own_home_readmission_crude,
        ),
        vec![
            row(
                "patients per life saved (NNT, own home)",
                NNT,
                "19",
                own.marginal.nnt.delta.nnt,
                Tolerance::Absolute(1.0),
            )
            .computed(
                own.mortality.model(),
                format!("1 / deaths avoided per patient, {STANDARDISED}; delta-method CI"),
            )
            .interval(own.marginal.nnt.delta.interval.bounds()),
            row(
                "cost per saved life, DKK (own home)",
                COST_PER_LIFE,
                "161,060 DKK",
                ce.icer,
                POINT,
            )
            .computed(
                own_home_cost_effectiveness_model(a),
                format!(
                    "incremental cost / deaths avoided per patient, {STANDARDISED}; CI from the \
                     acceptability curve of a joint cluster bootstrap ({} replicates)",
                    ce.replicates.len()
                ),
            )
            .interval(ce.icer_interval.bounds()),
        ],
    ];
    ReproductionTable {
        rows: rows.concat(),
    }
}
