//! The printed report of the rollout evaluation and its files (JSON, CSV and SVG figures).

use std::fmt;
use std::path::{Path, PathBuf};

use super::{estimates, published, Analysis, Crude, TreatmentEffect};
use crate::core::error::{Error, Result};
use crate::effects::cost_effectiveness::IcerInterval;
use crate::effects::crude::{Estimate, OutcomeKind};
use crate::report::figures::{
    acceptability_curve, cost_effectiveness_plane, rollout_diagram, ForestGroup, ForestPlot,
    ForestRow,
};
use crate::studies::{estimates_csv, write_files};

/// The files of a report: `kth_rollout.json` (every number of the analysis), `forest_plot.svg`
/// ([`forest`]), `cost_effectiveness_plane.svg` (own-home patients, bootstrap replicates, the
/// published cost per saved life as the willingness-to-pay line), `acceptability_curve.svg`
/// (own-home patients, the published cost per saved life marked), `rollout.svg` (health
/// clusters by month, shaded by usual care and intervention, with the patients of each month)
/// and `estimates.csv` (every estimate printed, [`estimates`]).
pub fn report_files(analysis: &Analysis) -> Result<Vec<(&'static str, String)>> {
    let json = serde_json::to_string_pretty(analysis).map_err(|e| Error::Numerical {
        what: "JSON of the analysis".into(),
        message: e.to_string(),
    })?;
    let ce = &analysis.own_home.cost_effectiveness;
    Ok(vec![
        ("kth_rollout.json", json),
        ("forest_plot.svg", forest(analysis)?.svg()?),
        (
            "cost_effectiveness_plane.svg",
            cost_effectiveness_plane(ce, published::COST_PER_LIFE, "deaths avoided", "DKK")?,
        ),
        (
            "acceptability_curve.svg",
            acceptability_curve(ce, Some(published::COST_PER_LIFE), "deaths avoided", "DKK")?,
        ),
        ("rollout.svg", rollout_diagram(&analysis.rollout)?),
        ("estimates.csv", estimates_csv(&estimates(analysis))?),
    ])
}

/// The forest plot of the report, KTH against usual care: 30-day mortality (the adjusted OR with
/// its profile and Wald intervals, adjusted for calendar quarter as well, and in own-home
/// patients), 30-day readmission (the adjusted RR, and adjusted for calendar quarter as well),
/// each LKT indicator (regained CAS, NMS: the adjusted OR), each row with its crude events and
/// patients per arm, and each outcome's "favours" annotation (fewer deaths and readmissions,
/// more patients regaining mobility, favour KTH).
pub fn forest(analysis: &Analysis) -> Result<ForestPlot> {
    let row = |label: &str, estimate: Estimate, crude: &Crude| {
        Ok(ForestRow::new(label, estimate).with_counts(crude.table()?))
    };
    let wald = |label: &str, e: &TreatmentEffect, crude: &Crude| row(label, e.ratio, crude);
    let a = analysis;
    let mut mortality = Vec::new();
    if let Some(profile) = a.mortality.profile {
        mortality.push(row("adjusted OR, profile CI", profile, &a.mortality_crude)?);
    }
    mortality.extend([
        wald("adjusted OR, Wald CI", &a.mortality, &a.mortality_crude)?,
        wald(
            "adjusted OR + calendar quarter",
            &a.mortality_time_adjusted,
            &a.mortality_crude,
        )?,
        wald(
            "own home, adjusted OR",
            &a.own_home.mortality,
            &a.own_home_mortality_crude,
        )?,
    ]);
    let readmission = vec![
        wald("adjusted RR", &a.readmission, &a.readmission_crude)?,
        wald(
            "adjusted RR + calendar quarter",
            &a.readmission_time_adjusted,
            &a.readmission_crude,
        )?,
    ];
    let mut plot = ForestPlot::new(
        "Odds ratio or relative risk, KTH against usual care (log scale)",
        true,
    )
    .with_arms("KTH", "usual care")
    .group(ForestGroup::new("30-day mortality", mortality).with_outcome(OutcomeKind::Adverse))
    .group(ForestGroup::new("30-day readmission", readmission).with_outcome(OutcomeKind::Adverse));
    for m in &a.mobility {
        let indicator = m.outcome.trim_end_matches("_regained").to_uppercase();
        plot = plot.group(
            ForestGroup::new(
                format!("Regained pre-fracture {indicator} (LKT)"),
                vec![wald("adjusted OR", &m.effect, &m.crude)?],
            )
            .with_outcome(OutcomeKind::Beneficial),
        );
    }
    Ok(plot)
}

/// Writes [`report_files`] as the directory `dir`, all at once: an old report there is replaced
/// whole, and a failure leaves `dir` as it was (see `studies::write_files`). Returns the paths
/// written.
pub fn write_report(analysis: &Analysis, dir: &Path) -> Result<Vec<PathBuf>> {
    write_files(dir, report_files(analysis)?)
}

/// `estimate (low-high)` with `decimals` decimals.
fn interval(e: &Estimate, decimals: usize) -> String {
    format!(
        "{:.d$} ({:.d$}-{:.d$})",
        e.estimate,
        e.ci_low,
        e.ci_high,
        d = decimals
    )
}

/// An ICER interval in words.
fn icer_interval(i: &IcerInterval) -> String {
    match i {
        IcerInterval::Bounded { low, high } => format!("{low:.0} to {high:.0}"),
        IcerInterval::AtLeast { low } => format!("at least {low:.0}"),
        IcerInterval::AtMost { high } => format!("at most {high:.0}"),
        IcerInterval::Outside { high_end, low_end } => {
            format!("below {high_end:.0} or above {low_end:.0}")
        }
        IcerInterval::Unbounded => "unbounded".into(),
    }
}

impl fmt::Display for Analysis {
    /// The reproduction table, then how each reproduced number was computed, the sensitivity
    /// analyses, the LKT indicators and the rollout.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.table)?;
        let m = &self.mortality;
        writeln!(f, "30-day mortality: {}", m.formula)?;
        writeln!(
            f,
            "  OR {} Wald; profile {}; municipality SD {:.3}{}",
            interval(&m.ratio, 3),
            m.profile.as_ref().map_or("-".into(), |p| interval(p, 3)),
            m.municipality_sd,
            if m.singular { " (singular fit)" } else { "" }
        )?;
        let geometric = (0.37f64 * 0.85).sqrt();
        writeln!(
            f,
            "  The published interval 0.37-0.85 is not symmetric on the log scale around 0.60 \
             (its geometric midpoint is {geometric:.3}):\n  a Wald interval is; a profile \
             interval leans the same way as the published one, but less."
        )?;
        let r = &self.readmission;
        writeln!(
            f,
            "30-day readmission: {} (Poisson, {:?} variance)",
            r.formula, r.vcov
        )?;
        writeln!(f, "  RR {} Wald", interval(&r.ratio, 3))?;
        let own = &self.own_home;
        let ce = &own.cost_effectiveness;
        writeln!(
            f,
            "Own home ({} patients): OR {}; deaths avoided per patient {:.4} (delta {:.4} to \
             {:.4}); NNT {:.1}",
            own.marginal.patients,
            interval(&own.mortality.ratio, 3),
            -own.marginal.risk_difference.estimate,
            -own.marginal.risk_difference.delta.ci_high,
            -own.marginal.risk_difference.delta.ci_low,
            own.marginal.nnt.delta.nnt
        )?;
        writeln!(
            f,
            "  incremental cost {:.0} DKK per patient (bootstrap {:.0} to {:.0}); cost per saved \
             life {:.0} DKK ({}; Fieller {}); {} bootstrap replicates, {} failed{}",
            ce.incremental_cost.estimate,
            ce.incremental_cost.ci_low,
            ce.incremental_cost.ci_high,
            ce.icer,
            icer_interval(&ce.icer_interval),
            icer_interval(&ce.fieller),
            ce.replicates.len(),
            ce.failed,
            ce.first_failure
                .as_ref()
                .map_or(String::new(), |e| format!(" (the first: {e})"))
        )?;
        writeln!(
            f,
            "Whole cohort: standardised deaths avoided per patient {:.4}, NNT {:.1}. No logistic \
             model with OR {:.3} and these risks\n  can give an NNT below {:.1}, so the \
             published 19 (= 1 / (11.5% - 6.3%)) is reproduced in own-home patients.",
            -self.whole_cohort.risk_difference.estimate,
            self.whole_cohort.nnt.delta.nnt,
            m.ratio.estimate,
            self.whole_cohort_nnt_bound
        )?;
        let own_r = &self.own_home_readmission_crude;
        writeln!(
            f,
            "The published own-home readmission difference, 6.3 points, is not 18.3% - 12.9% = \
             5.4 points; here {:.1}.",
            own_r.kth_percent() - own_r.usual_percent()
        )?;
        writeln!(
            f,
            "Sensitivity, adjusted for calendar quarter too (KTH is partly confounded with \
             time): OR {}, RR {}",
            interval(&self.mortality_time_adjusted.ratio, 3),
            interval(&self.readmission_time_adjusted.ratio, 3)
        )?;
        for pa in &self.population_averaged {
            writeln!(
                f,
                "Population-averaged {} (GEE, exchangeable within municipality, MAEE, \
                 Kauermann-Carroll, t on {} df): {}; correlation {:.3}",
                pa.measure,
                pa.df,
                interval(&pa.ratio, 3),
                pa.correlation
            )?;
        }
        writeln!(
            f,
            "LKT indicators (regained pre-fracture score; no published values):"
        )?;
        for mob in &self.mobility {
            writeln!(
                f,
                "  {}: KTH {}/{} ({:.1}%), usual care {}/{} ({:.1}%); OR {}; standardised \
                 difference {:+.1} points",
                mob.outcome,
                mob.crude.kth.0,
                mob.crude.kth.1,
                mob.crude.kth_percent(),
                mob.crude.usual.0,
                mob.crude.usual.1,
                mob.crude.usual_percent(),
                interval(&mob.effect.ratio, 2),
                100.0 * mob.marginal.risk_difference.estimate
            )?;
        }
        writeln!(f, "\n{}", self.rollout.text())
    }
}
