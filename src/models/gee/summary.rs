//! The printed summary of a fitted GEE: the model, the mean parameters under the chosen
//! variance with t on G - p df, the correlation parameters, and the standard errors under every
//! variance side by side.

use std::fmt;

use super::{GeeFit, SeKind};
use crate::models::coef_table::{align, format_coef_table, sig};
use crate::models::family::{Family, Link};

impl fmt::Display for GeeFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let equations = match (self.correlation_fixed, self.maee) {
            (true, _) => "held fixed",
            (false, true) => "MAEE",
            (false, false) => "UEE",
        };
        let on = if self.cluster_period_means {
            ", fitted on cluster-period means"
        } else {
            ""
        };
        writeln!(
            f,
            "Marginal model by GEE{on}: {} family, {} link; {} working correlation \
             ({equations})",
            self.family, self.link, self.correlation
        )?;
        writeln!(f, "Formula: {}", self.formula)?;
        writeln!(
            f,
            "Observations: {}; {}; clusters: {}",
            self.n_obs, self.missing, self.n_clusters
        )?;
        writeln!(
            f,
            "Standard errors: {} (t reference on G - p = {} df)",
            self.se.vcov_kind().describe(),
            self.df
        )?;
        if self.family != Family::Binomial {
            writeln!(f, "Scale (phi): {}", sig(self.scale, 5))?;
        }
        writeln!(f)?;
        let ratio = match self.link {
            Link::Logit => Some("OR"),
            Link::Log => Some("RR"),
            _ => None,
        };
        f.write_str(&format_coef_table(&self.coefficients, self.level, ratio))?;
        if !self.correlation_parameters.is_empty() {
            writeln!(f)?;
            writeln!(f, "Correlation parameters:")?;
            let mut table = vec![vec![String::new(), "Estimate".into(), "Std. Error".into()]];
            for a in &self.correlation_parameters {
                table.push(vec![
                    a.name.clone(),
                    sig(a.estimate, 5),
                    a.std_error.map_or_else(|| "-".into(), |s| sig(s, 5)),
                ]);
            }
            f.write_str(&align(&table))?;
        }
        writeln!(f)?;
        writeln!(f, "Standard errors of the mean parameters by estimator:")?;
        let mut header = vec![String::new()];
        header.extend(SeKind::ALL.iter().map(|k| k.name().to_string()));
        let mut table = vec![header];
        for (j, row) in self.coefficients.iter().enumerate() {
            let mut line = vec![row.term.clone()];
            line.extend(SeKind::ALL.iter().map(|&k| sig(self.std_errors(k)[j], 4)));
            table.push(line);
        }
        f.write_str(&align(&table))?;
        writeln!(f)?;
        let status = if self.converged {
            "converged"
        } else {
            "did NOT converge"
        };
        writeln!(
            f,
            "Fisher scoring: {status} after {} iterations",
            self.iterations
        )?;
        if self.out_of_range_pairs > 0 {
            writeln!(
                f,
                "Warning: {} pairs have a working correlation outside the range their means \
                 allow (Prentice 1988 for binary outcomes; (-1, 1) otherwise)",
                self.out_of_range_pairs
            )?;
        }
        Ok(())
    }
}
