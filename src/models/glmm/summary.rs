//! The printed summary of a fitted GLMM, laid out like lme4's `summary(glmer(...))`.

use std::fmt;

use super::GlmmFit;
use crate::models::coef_table::{align, format_coef_table, sig};
use crate::models::glm::Link;
use crate::models::variance_components::{groups_list, random_effects_table};
use crate::models::vcov::VcovKind;

impl fmt::Display for GlmmFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = if self.nagq == 1 {
            "Laplace approximation".to_string()
        } else {
            format!("adaptive Gauss-Hermite quadrature, {} nodes", self.nagq)
        };
        writeln!(
            f,
            "Generalized linear mixed model: {} family, {} link ({method})",
            self.family, self.link
        )?;
        writeln!(f, "Formula: {}", self.formula)?;
        writeln!(
            f,
            "Observations: {} ({} covariate patterns); {}; groups: {}",
            self.n_obs,
            self.n_patterns,
            self.missing,
            groups_list(&self.n_groups)
        )?;
        writeln!(
            f,
            "Log-likelihood: {} (df = {}); deviance: {}; AIC: {}; BIC: {}",
            sig(self.loglik, 8),
            self.df,
            sig(self.deviance, 8),
            sig(self.aic, 7),
            sig(self.bic, 7)
        )?;
        writeln!(f)?;
        writeln!(f, "Random effects:")?;
        f.write_str(&align(&random_effects_table(
            &self.random_effects,
            &self.correlations,
        )))?;
        if let Some(t) = &self.nb_theta {
            writeln!(
                f,
                "Theta (NB2, variance mu + mu^2/theta): {} (SE {}; SE of log theta {})",
                sig(t.theta, 6),
                sig(t.se, 6),
                sig(t.se_log_theta, 6)
            )?;
        }
        if let Some(icc) = self.icc {
            writeln!(
                f,
                "Intra-cluster correlation (latent scale): {}",
                sig(icc, 4)
            )?;
        }
        writeln!(f)?;
        if self.vcov_kind == VcovKind::Model {
            writeln!(f, "Fixed effects:")?;
        } else {
            writeln!(
                f,
                "Fixed effects ({} standard errors over {} clusters):",
                self.vcov_kind.describe(),
                self.n_groups.values().min().copied().unwrap_or(0)
            )?;
        }
        let ratio = match self.link {
            Link::Logit => Some("OR"),
            Link::Log => Some("RR"),
            _ => None,
        };
        f.write_str(&format_coef_table(&self.coefficients, self.level, ratio))?;
        writeln!(f)?;
        writeln!(
            f,
            "Optimisation: {} after {} iterations and {} evaluations; largest gradient entry {:.2e}",
            if self.converged { "converged" } else { "NOT converged" },
            self.iterations,
            self.evaluations,
            self.gradient_max
        )?;
        if let Some(message) = &self.boundary {
            writeln!(f, "Boundary: {message}")?;
        }
        if self.singular {
            writeln!(
                f,
                "Singular fit: a random-effect variance is on its boundary (estimated as 0). The data show \
                 no between-cluster variation beyond chance; the fixed effects equal those of the model \
                 without that random effect"
            )?;
        }
        Ok(())
    }
}
