//! Tidy coefficient tables, as R's broom gives them, and their printed form.
//!
//! For an estimate `b` with standard error `se`, the statistic is `b / se`; with a t reference on
//! `df` degrees of freedom the p-value is `2 P(T_df > |b/se|)` and the interval
//! `b -/+ t_{df, 1 - alpha/2} se`; with `df = None` the reference is the standard normal (Wald z).
//! Where the link is log or logit the exponentiated estimate and interval (relative risk or odds
//! ratio) are given as well.

use std::fmt::Write as _;

use crate::core::dist::{normal_quantile, p_normal_two_sided, p_t_two_sided, t_quantile};
use crate::core::error::{Error, Result};

/// One row of a coefficient table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CoefRow {
    /// R's term name, e.g. `factor(period)3`.
    pub term: String,
    /// Point estimate.
    pub estimate: f64,
    /// Standard error.
    pub std_error: f64,
    /// `estimate / std_error`.
    pub statistic: f64,
    /// Degrees of freedom of the t reference; `None` for the normal (z) reference.
    pub df: Option<f64>,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Lower confidence limit.
    pub ci_low: f64,
    /// Upper confidence limit.
    pub ci_high: f64,
    /// `exp(estimate)` for log and logit links.
    pub exp_estimate: Option<f64>,
    /// `exp(ci_low)` for log and logit links.
    pub exp_ci_low: Option<f64>,
    /// `exp(ci_high)` for log and logit links.
    pub exp_ci_high: Option<f64>,
}

/// Check a confidence level.
pub fn check_level(level: f64) -> Result<()> {
    if level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            "level",
            format!("the confidence level must be in (0, 1), got {level}"),
        ))
    }
}

/// Build a coefficient table from estimates and their variances.
pub fn coef_table(
    names: &[String],
    estimates: &[f64],
    variances: &[f64],
    df: Option<f64>,
    level: f64,
    exponentiate: bool,
) -> Result<Vec<CoefRow>> {
    check_level(level)?;
    let upper = 1.0 - (1.0 - level) / 2.0;
    let q = match df {
        Some(d) => t_quantile(upper, d),
        None => normal_quantile(upper),
    };
    let mut rows = Vec::with_capacity(names.len());
    for ((term, &b), &v) in names.iter().zip(estimates).zip(variances) {
        if !(v.is_finite() && v >= 0.0) {
            return Err(Error::Numerical {
                what: format!("the variance of '{term}'"),
                message: format!("it is {v}; the estimate is not identified"),
            });
        }
        let se = v.sqrt();
        let statistic = b / se;
        let p_value = match df {
            Some(d) => p_t_two_sided(statistic, d),
            None => p_normal_two_sided(statistic),
        };
        let (lo, hi) = (b - q * se, b + q * se);
        let exp = |x: f64| exponentiate.then(|| x.exp());
        rows.push(CoefRow {
            term: term.clone(),
            estimate: b,
            std_error: se,
            statistic,
            df,
            p_value,
            ci_low: lo,
            ci_high: hi,
            exp_estimate: exp(b),
            exp_ci_low: exp(lo),
            exp_ci_high: exp(hi),
        });
    }
    Ok(rows)
}

/// Format a number with `digits` significant digits, as R's summary prints.
pub(crate) fn sig(x: f64, digits: usize) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    if !(-4..=6).contains(&magnitude) {
        return format!("{:.*e}", digits.saturating_sub(1), x);
    }
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    format!("{x:.decimals$}")
}

/// A whole number without decimals, otherwise 4 significant digits.
pub(crate) fn whole_or_sig(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        sig(x, 4)
    }
}

/// A p-value as R prints it: `< 2e-16` below that, else 3 significant digits.
pub(crate) fn format_p(p: f64) -> String {
    if p < 2e-16 {
        "< 2e-16".to_string()
    } else {
        sig(p, 3)
    }
}

/// Render a coefficient table as aligned text. `ratio` names the exponentiated column
/// (`"OR"`, `"RR"`) or is `None`. Rows with a t reference show its degrees of freedom in a `df`
/// column (as lmerTest's summary).
pub fn format_coef_table(rows: &[CoefRow], level: f64, ratio: Option<&str>) -> String {
    let pct = |x: f64| format!("{}", (x * 1000.0).round() / 10.0);
    let t = rows.iter().any(|r| r.df.is_some());
    let stat = if t { "t" } else { "z" };
    let mut header = vec![String::new(), "Estimate".into(), "Std. Error".into()];
    if t {
        header.push("df".into());
    }
    header.extend([
        format!("{stat} value"),
        format!("Pr(>|{stat}|)"),
        format!("{}%", pct((1.0 - level) / 2.0)),
        format!("{}%", pct(1.0 - (1.0 - level) / 2.0)),
    ]);
    if let Some(r) = ratio {
        header.push(r.to_string());
        header.push(format!("{}% CI", pct(level)));
    }
    let mut table = vec![header];
    for r in rows {
        let mut line = vec![r.term.clone(), sig(r.estimate, 5), sig(r.std_error, 5)];
        if t {
            line.push(r.df.map_or_else(|| "Inf".to_string(), |d| sig(d, 4)));
        }
        line.extend([
            sig(r.statistic, 4),
            format_p(r.p_value),
            sig(r.ci_low, 4),
            sig(r.ci_high, 4),
        ]);
        if ratio.is_some() {
            if let (Some(e), Some(lo), Some(hi)) = (r.exp_estimate, r.exp_ci_low, r.exp_ci_high) {
                line.push(sig(e, 4));
                line.push(format!("{} - {}", sig(lo, 3), sig(hi, 3)));
            }
        }
        table.push(line);
    }
    align(&table)
}

/// Left-align the first column, right-align the others.
pub(crate) fn align(table: &[Vec<String>]) -> String {
    let cols = table.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            table
                .iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in table {
        for (c, cell) in row.iter().enumerate() {
            if c == 0 {
                let _ = write!(out, "{cell:<w$}", w = widths[0]);
            } else {
                let _ = write!(out, "  {cell:>w$}", w = widths[c]);
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wald_rows() {
        let rows = coef_table(&["x".into()], &[0.5], &[0.04], None, 0.95, true).unwrap();
        let r = &rows[0];
        assert!((r.statistic - 2.5).abs() < 1e-15);
        assert!((r.ci_low - (0.5 - 1.959963984540054 * 0.2)).abs() < 1e-12);
        assert!((r.exp_estimate.unwrap() - 0.5f64.exp()).abs() < 1e-15);
        assert!((r.p_value - 0.01241933065155231).abs() < 1e-12);
        assert!(coef_table(&["x".into()], &[0.5], &[-1.0], None, 0.95, false).is_err());
        assert!(coef_table(&["x".into()], &[0.5], &[1.0], None, 1.5, false).is_err());
    }

    #[test]
    fn t_tables_show_their_degrees_of_freedom() {
        let names = ["(Intercept)".to_string(), "treated".to_string()];
        let rows = coef_table(&names, &[1.0, 0.5], &[0.04, 0.01], Some(17.25), 0.95, false);
        let text = format_coef_table(&rows.unwrap(), 0.95, None);
        let lines: Vec<&str> = text.lines().collect();
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(header[..4], ["Estimate", "Std.", "Error", "df"]);
        assert_eq!(lines[2].split_whitespace().nth(3), Some("17.25"));
        let z = coef_table(&names, &[1.0, 0.5], &[0.04, 0.01], None, 0.95, false).unwrap();
        assert!(!format_coef_table(&z, 0.95, None).contains(" df "));
    }

    #[test]
    fn number_formats() {
        assert_eq!(sig(0.123456, 4), "0.1235");
        assert_eq!(sig(-5.675287750346164, 5), "-5.6753");
        assert_eq!(format_p(1e-20), "< 2e-16");
    }
}
