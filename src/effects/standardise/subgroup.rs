//! Treatment effects in the subgroups of a modifier that interacts with the treatment.
//!
//! For a model with treatment t, a modifier m and their interaction (`treated * own_home`, or
//! `treated + own_home + treated:own_home`), the effect in the subgroup `m = v` is reported as
//!
//! - the model's own ratio (odds ratio for the logit link, relative risk for the log link)
//!   `exp(c' beta)`, where `c` is the mean over the subgroup's patients of `x_i(1) - x_i(0)`
//!   (here `c = e_treated + v e_treated:own_home`: `exp(b_treated + v b_treated:own_home)`),
//!   with the Wald interval `exp(c' beta -/+ q sqrt(c' V c))`;
//! - the marginal risks, RR, RD and NNT standardised over the subgroup ([`super`]).
//!
//! The test of interaction is the Wald test of the interaction columns I (those whose name
//! joins the treatment and the modifier with `:`): `X^2 = beta_I' V_II^{-1} beta_I` on `|I|`
//! degrees of freedom (for one column the square of its z statistic), with the fit's variance
//! estimator.

use serde::Serialize;

use super::{FittedModel, MarginalEffects, Standardisation, Target};
use crate::core::error::{Error, Result};
use crate::effects::contrast::{combination, wald_test, WaldTest};
use crate::effects::crude::Estimate;
use crate::frame::counterfactual::subgroup_values;
use crate::models::fitted::Fitted;
use crate::models::glm::Link;

/// The treatment's effect in one subgroup.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubgroupEffect {
    /// The subgroup, as `column=value`.
    pub subgroup: String,
    /// What `ratio` is: `odds ratio` (logit link) or `relative risk` (log link).
    pub ratio_kind: Option<String>,
    /// The model's ratio in the subgroup, with its Wald interval.
    pub ratio: Option<Estimate>,
    /// The marginal effects standardised over the subgroup.
    pub marginal: MarginalEffects,
}

/// Subgroup effects and the test of interaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubgroupEffects {
    /// The treatment column.
    pub treatment: String,
    /// The modifier column.
    pub modifier: String,
    /// The test that the treatment's effect is the same in every subgroup.
    pub interaction: WaldTest,
    /// One entry per subgroup, in the order of the modifier's values.
    pub subgroups: Vec<SubgroupEffect>,
}

impl<F: Fitted> FittedModel<'_, F> {
    /// The effects of `spec`'s treatment in each subgroup of `modifier` (`spec`'s target is
    /// replaced by each subgroup in turn).
    pub fn subgroups(&self, spec: &Standardisation, modifier: &str) -> Result<SubgroupEffects> {
        let treatment = spec.treatment();
        let frame = self.fit.frame();
        let names = frame.names();
        let columns: Vec<usize> = (0..names.len())
            .filter(|&j| joins(&names[j], treatment, modifier))
            .collect();
        if columns.is_empty() {
            // The formula has no interaction of the treatment and the modifier: add it.
            return Err(Error::unknown_term(
                "subgroups",
                &format!("{treatment}:{modifier}"),
                names,
            ));
        }
        let interaction = self.wald(&columns)?;
        let values = subgroup_values(self.cohort, frame.rows(), modifier)?;
        let ratio_kind = match self.params.link {
            Link::Logit => Some("odds ratio"),
            Link::Log => Some("relative risk"),
            _ => None,
        };
        let subgroups = values
            .into_iter()
            .map(|value| {
                let subgroup = format!("{modifier}={value}");
                let spec = spec.clone().target(Target::Subgroup(subgroup.clone()));
                let rows = self.target(&spec)?;
                let ratio = ratio_kind.map(|_| self.contrast_ratio(&rows));
                Ok(SubgroupEffect {
                    subgroup,
                    ratio_kind: ratio_kind.map(str::to_string),
                    ratio,
                    marginal: self.effects(&spec)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(SubgroupEffects {
            treatment: treatment.to_string(),
            modifier: modifier.to_string(),
            interaction,
            subgroups,
        })
    }

    /// The Wald test of the coefficients `columns`.
    fn wald(&self, columns: &[usize]) -> Result<WaldTest> {
        let p = self.fit.frame().names().len();
        let rows: Vec<Vec<f64>> = columns
            .iter()
            .map(|&j| (0..p).map(|k| f64::from(u8::from(k == j))).collect())
            .collect();
        let terms = columns
            .iter()
            .map(|&j| self.fit.frame().names()[j].clone())
            .collect();
        wald_test(
            &self.params,
            &rows,
            terms,
            "the variance matrix of the interaction coefficients",
        )
    }

    /// `exp(c' beta)` with `c` the mean of `x(1) - x(0)` over the rows, and its Wald interval.
    fn contrast_ratio(&self, rows: &crate::frame::counterfactual::TargetRows) -> Estimate {
        let p = rows.p;
        let total: f64 = rows.weight.iter().sum();
        let mut c = vec![0.0; p];
        for k in 0..rows.len() {
            let w = rows.weight[k] / total;
            for (j, cj) in c.iter_mut().enumerate() {
                *cj += w * (rows.x[1][k * p + j] - rows.x[0][k * p + j]);
            }
        }
        let (log_ratio, variance) = combination(&self.params, &c);
        let se = variance.max(0.0).sqrt();
        let q = self.quantile();
        Estimate {
            estimate: log_ratio.exp(),
            ci_low: (log_ratio - q * se).exp(),
            ci_high: (log_ratio + q * se).exp(),
            level: self.fit.level(),
        }
    }
}

/// Whether the design column `name` is an interaction of `treatment` with `modifier` (a part
/// equal to the treatment and another that is the modifier or one of its levels).
fn joins(name: &str, treatment: &str, modifier: &str) -> bool {
    let parts: Vec<&str> = name.split(':').collect();
    parts.len() >= 2
        && parts.contains(&treatment)
        && parts.iter().any(|p| {
            *p != treatment && (p.starts_with(modifier) || p.contains(&format!("({modifier})")))
        })
}

#[cfg(test)]
mod tests {
    use super::joins;

    #[test]
    fn interaction_columns_are_found_by_name() {
        assert!(joins("treated:own_home", "treated", "own_home"));
        assert!(joins("own_home:treated", "treated", "own_home"));
        assert!(joins(
            "treated:residencenursing_home",
            "treated",
            "residence"
        ));
        assert!(joins("treated:factor(period)3", "treated", "period"));
        assert!(!joins("own_home", "treated", "own_home"));
        assert!(!joins("treated:age", "treated", "own_home"));
    }
}
