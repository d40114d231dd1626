//! The printed summary of a linear mixed model, laid out like lmerTest's `summary(lmer(...))`.

use std::fmt;

use super::{DfMethod, LmmFit};
use crate::models::coef_table::{align, format_coef_table, sig};
use crate::models::variance_components::{groups_list, random_effects_table};

impl fmt::Display for LmmFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = if self.reml {
            "REML"
        } else {
            "maximum likelihood"
        };
        let tests = match self.df_method {
            DfMethod::Satterthwaite => "t tests use Satterthwaite's method",
            DfMethod::KenwardRoger => {
                "standard errors and t tests use Kenward and Roger's adjustment"
            }
        };
        writeln!(f, "Linear mixed model fit by {method}; {tests}")?;
        writeln!(f, "Formula: {}", self.formula)?;
        writeln!(
            f,
            "Observations: {}; {}; groups: {}",
            self.n_obs,
            self.missing,
            groups_list(&self.n_groups)
        )?;
        let what = if self.reml {
            "REML criterion"
        } else {
            "Deviance"
        };
        writeln!(
            f,
            "{what}: {}; log-likelihood: {} (df = {}); AIC: {}; BIC: {}",
            sig(self.criterion, 8),
            sig(self.loglik, 8),
            self.df,
            sig(self.aic, 7),
            sig(self.bic, 7)
        )?;
        writeln!(f)?;
        writeln!(f, "Random effects:")?;
        let mut table = random_effects_table(&self.random_effects, &self.correlations);
        table.push(vec![
            "Residual".to_string(),
            String::new(),
            sig(self.residual_sd * self.residual_sd, 5),
            sig(self.residual_sd, 5),
        ]);
        f.write_str(&align(&table))?;
        writeln!(f)?;
        writeln!(f, "Fixed effects:")?;
        f.write_str(&format_coef_table(&self.coefficients, self.level, None))?;
        if !self.converged {
            writeln!(f, "The minimisation did NOT converge")?;
        }
        if self.singular {
            writeln!(
                f,
                "Singular fit: a random-effect SD is estimated as 0 (no variation beyond chance)"
            )?;
        }
        Ok(())
    }
}
