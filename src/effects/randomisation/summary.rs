//! The printed randomisation test.

use std::fmt;

use super::{Inversion, RandomisationInterval, RandomisationTest};

impl fmt::Display for RandomisationTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.schedule;
        writeln!(
            f,
            "Randomisation test of '{}' ({} statistic; crossovers of {} clusters '{}' over {} \
             periods '{}'{})",
            self.treatment,
            self.statistic,
            s.clusters.len(),
            s.cluster_column,
            s.periods.len(),
            s.period_column,
            s.strata
                .as_ref()
                .map_or(String::new(), |(c, _)| format!(", within strata of '{c}'"))
        )?;
        let how = if self.exact {
            format!("all {} distinct allocations", self.n_allocations)
        } else {
            format!(
                "{} allocations drawn (seed {}) of {:.0}",
                self.n_allocations,
                self.seed.unwrap_or_default(),
                self.n_possible
            )
        };
        writeln!(
            f,
            "  {how}; {} failed{}, {} singular",
            self.failed,
            self.first_failure
                .as_ref()
                .map_or(String::new(), |e| format!(" (first: {e})")),
            self.singular
        )?;
        write!(
            f,
            "  observed {:.5}, two-sided p = {:.4}",
            self.observed, self.p_value
        )?;
        if let Some(se) = self.mc_se {
            write!(f, " (Monte Carlo SE {se:.4})")?;
        }
        writeln!(
            f,
            ", P(T <= T_obs) = {:.4}, P(T >= T_obs) = {:.4}",
            self.p_lower, self.p_upper
        )?;
        if let Some(interval) = &self.interval {
            writeln!(f, "  {interval}")?;
        }
        Ok(())
    }
}

impl fmt::Display for RandomisationInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bound = |b: Option<f64>, open: &str| b.map_or(open.to_string(), |v| format!("{v:.4}"));
        write!(
            f,
            "{:.0}% randomisation interval ({}): [{}, {}] ({} refits, {} failed)",
            100.0 * self.level,
            match self.inversion {
                Inversion::TwoSided => "two-sided test inverted",
                Inversion::EqualTailed => "equal tails",
            },
            bound(self.low, "-inf (open)"),
            bound(self.high, "+inf (open)"),
            self.refits,
            self.failed
        )
    }
}
