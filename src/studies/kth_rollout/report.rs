//! The printed report of the rollout evaluation and its files (JSON and SVG figures).

use std::fmt;
use std::path::{Path, PathBuf};

use super::{published, Analysis, TreatmentEffect};
use crate::core::error::{Error, Result};
use crate::effects::cost_effectiveness::IcerInterval;
use crate::effects::crude::Estimate;
use crate::report::figures::{cost_effectiveness_plane, forest_plot, rollout_diagram, ForestRow};
use crate::studies::write_files;

/// The files of a report: `kth_rollout.json` (every number of the analysis), `forest_plot.svg`
/// (the ratios of every model), `cost_effectiveness_plane.svg` (own-home patients, bootstrap
/// replicates, the published cost per saved life as the willingness-to-pay line) and
/// `rollout.svg` (health clusters by month, shaded by usual care and intervention).
pub fn report_files(analysis: &Analysis) -> Result<Vec<(&'static str, String)>> {
    let json = serde_json::to_string_pretty(analysis).map_err(|e| Error::Numerical {
        what: "JSON of the analysis".into(),
        message: e.to_string(),
    })?;
    let ratio = |label: &str, e: &TreatmentEffect| {
        ForestRow::new(format!("{label} ({})", e.measure), e.ratio)
    };
    let mut rows = vec![
        ForestRow::new(
            "30-day mortality, profile CI (odds ratio)",
            analysis
                .mortality
                .profile
                .unwrap_or(analysis.mortality.ratio),
        ),
        ratio("30-day mortality, Wald CI", &analysis.mortality),
        ratio(
            "30-day mortality + calendar quarter",
            &analysis.mortality_time_adjusted,
        ),
        ratio("30-day mortality, own home", &analysis.own_home.mortality),
        ratio("30-day readmission", &analysis.readmission),
        ratio(
            "30-day readmission + calendar quarter",
            &analysis.readmission_time_adjusted,
        ),
    ];
    for m in &analysis.mobility {
        rows.push(ratio(&format!("{} (LKT)", m.outcome), &m.effect));
    }
    Ok(vec![
        ("kth_rollout.json", json),
        (
            "forest_plot.svg",
            forest_plot(&rows, true, "KTH against usual care (log scale)")?,
        ),
        (
            "cost_effectiveness_plane.svg",
            cost_effectiveness_plane(
                &analysis.own_home.cost_effectiveness,
                published::COST_PER_LIFE,
                "deaths avoided",
                "DKK",
            )?,
        ),
        ("rollout.svg", rollout_diagram(&analysis.rollout)?),
    ])
}

/// Writes [`report_files`] into `dir` (created if needed) and returns their paths. Every file is
/// made before the first is written, so a failure leaves nothing half-written.
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
