//! The printed summary of a fitted GLM, laid out like R's `summary.glm`.

use std::fmt;

use super::{Family, GlmFit, Link};
use crate::models::coef_table::{format_coef_table, sig};

impl fmt::Display for GlmFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Generalized linear model: {} family, {} link",
            self.family, self.link
        )?;
        writeln!(f, "Formula: {}", self.formula)?;
        writeln!(f, "Observations: {}; {}", self.n_obs, self.missing)?;
        write!(f, "Standard errors: {}", self.vcov_kind.describe())?;
        match (&self.cluster, self.n_clusters) {
            (Some(c), Some(g)) if self.vcov_kind.is_clustered() => {
                writeln!(f, ", {g} clusters of '{c}', t reference on {} df", g - 1)?
            }
            _ => writeln!(f)?,
        }
        writeln!(f)?;
        let ratio = match self.link {
            Link::Logit => Some("OR"),
            Link::Log if matches!(self.family, Family::Poisson | Family::NegativeBinomial(_)) => {
                Some("RR/IRR")
            }
            Link::Log => Some("RR"),
            _ => None,
        };
        f.write_str(&format_coef_table(&self.coefficients, self.level, ratio))?;
        if !self.aliased.is_empty() {
            writeln!(
                f,
                "({} not defined because of singularities: {})",
                self.aliased.len(),
                self.aliased.join(", ")
            )?;
        }
        writeln!(f)?;
        if !self.family.fixed_dispersion() {
            writeln!(f, "Dispersion parameter: {}", sig(self.dispersion, 6))?;
        }
        if let Some(t) = &self.nb_theta {
            writeln!(
                f,
                "Theta (NB2, variance mu + mu^2/theta): {} (SE {})",
                sig(t.theta, 6),
                sig(t.se, 6)
            )?;
        }
        writeln!(
            f,
            "Null deviance: {} on {} df; residual deviance: {} on {} df",
            sig(self.null_deviance, 6),
            self.df_null,
            sig(self.deviance, 6),
            self.df_residual
        )?;
        writeln!(
            f,
            "Log-likelihood: {} (df = {}); AIC: {}; BIC: {}",
            sig(self.loglik, 7),
            self.loglik_df,
            sig(self.aic, 6),
            sig(self.bic, 6)
        )?;
        writeln!(
            f,
            "IRLS: {} in {} iterations",
            if self.converged {
                "converged"
            } else {
                "stopped"
            },
            self.iterations
        )?;
        if let Some(b) = &self.boundary {
            writeln!(f, "Warning: {b}")?;
        }
        Ok(())
    }
}
