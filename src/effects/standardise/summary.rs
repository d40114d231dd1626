//! The printed table of marginal effects.

use std::fmt;

use super::{MarginalEffects, Measure, RandomEffects, SubgroupEffects, Target};
use crate::models::coef_table::{align, sig, whole_or_sig};

/// `low to high`, or `-` when absent.
fn limits(e: Option<&crate::effects::crude::Estimate>) -> String {
    e.map_or("-".to_string(), |e| {
        format!("{} to {}", sig(e.ci_low, 4), sig(e.ci_high, 4))
    })
}

impl fmt::Display for MarginalEffects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let population = match &self.target {
            Target::All => "all patients".to_string(),
            Target::Treated => "the treated patients (ATT)".to_string(),
            Target::Subgroup(s) => format!("the subgroup {s}"),
        };
        let how = match self.random_effects {
            Some(RandomEffects::Integrated) => "; risks averaged over the random effects",
            Some(RandomEffects::Conditional) => "; risks at random effects 0 (conditional)",
            None => "",
        };
        writeln!(
            f,
            "Marginal effects of {} (standardised over {population}, {} patients{how})",
            self.treatment,
            whole_or_sig(self.patients)
        )?;
        let pct = format!("{}%", whole_or_sig(self.level * 100.0));
        let mut table = vec![vec![
            String::new(),
            "Estimate".to_string(),
            format!("{pct} CI (delta, {})", self.vcov_kind.describe()),
            format!("{pct} CI (percentile)"),
            format!("{pct} CI (BCa)"),
        ]];
        let rows: [(&str, &Measure); 4] = [
            ("Risk if treated", &self.risk_treated),
            ("Risk if not treated", &self.risk_control),
            ("Relative risk", &self.relative_risk),
            ("Risk difference", &self.risk_difference),
        ];
        for (name, m) in rows {
            table.push(vec![
                name.to_string(),
                sig(m.estimate, 5),
                limits(Some(&m.delta)),
                limits(m.percentile.as_ref()),
                limits(m.bca.as_ref()),
            ]);
        }
        f.write_str(&align(&table))?;
        writeln!(f, "Number needed to treat (delta): {:.1}", self.nnt.delta)?;
        if let Some(nnt) = &self.nnt.bca {
            writeln!(f, "Number needed to treat (BCa):   {nnt:.1}")?;
        }
        if let Some(b) = &self.bootstrap {
            let seed = b
                .seed
                .map_or("given samples".to_string(), |s| format!("seed {s}"));
            writeln!(
                f,
                "Cluster bootstrap: {} replicates ({seed}), {} failed{}",
                b.replicates,
                b.failed,
                b.first_failure
                    .as_ref()
                    .map_or(String::new(), |r| format!(" (first: {r})"))
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for SubgroupEffects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Effect of {} by {}: test of interaction ({}): chi-square {} on {} df, p = {}",
            self.treatment,
            self.modifier,
            self.interaction.terms.join(", "),
            sig(self.interaction.statistic, 4),
            self.interaction.df,
            sig(self.interaction.p_value, 3)
        )?;
        let mut table = vec![vec![
            "Subgroup".to_string(),
            "Patients".to_string(),
            "Model ratio".to_string(),
            "Relative risk".to_string(),
            "Risk difference".to_string(),
        ]];
        for g in &self.subgroups {
            let m = &g.marginal;
            let ratio = match (&g.ratio_kind, &g.ratio) {
                (Some(kind), Some(r)) => format!("{kind} {}", estimate_with_limits(r)),
                _ => "-".to_string(),
            };
            table.push(vec![
                g.subgroup.clone(),
                whole_or_sig(m.patients),
                ratio,
                estimate_with_limits(&m.relative_risk.delta),
                estimate_with_limits(&m.risk_difference.delta),
            ]);
        }
        f.write_str(&align(&table))?;
        writeln!(
            f,
            "(intervals: Wald for the model ratio, delta method for the standardised RR and RD)"
        )
    }
}

/// `estimate (low to high)`.
fn estimate_with_limits(e: &crate::effects::crude::Estimate) -> String {
    format!(
        "{} ({} to {})",
        sig(e.estimate, 4),
        sig(e.ci_low, 4),
        sig(e.ci_high, 4)
    )
}
