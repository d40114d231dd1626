//! Tidy tables for other tools: one row per estimate, as CSV (the columns of R's
//! `broom::tidy` with `conf.int = TRUE` and, for log and logit links, `exponentiate`).

use crate::models::coef_table::CoefRow;

/// The header of [`coefficients_csv`].
pub const COEFFICIENT_COLUMNS: [&str; 11] = [
    "term",
    "estimate",
    "std_error",
    "statistic",
    "df",
    "p_value",
    "ci_low",
    "ci_high",
    "exp_estimate",
    "exp_ci_low",
    "exp_ci_high",
];

/// A coefficient table as CSV: the header [`COEFFICIENT_COLUMNS`], then one row per term,
/// numbers with all the digits needed to read them back exactly (Rust's shortest round-trip
/// form), an empty cell for a missing value (`df` of a z reference, `exp_*` for other links),
/// terms quoted where CSV needs it.
pub fn coefficients_csv(rows: &[CoefRow]) -> String {
    let mut out = COEFFICIENT_COLUMNS.join(",");
    out.push('\n');
    for r in rows {
        let numbers = [
            Some(r.estimate),
            Some(r.std_error),
            Some(r.statistic),
            r.df,
            Some(r.p_value),
            Some(r.ci_low),
            Some(r.ci_high),
            r.exp_estimate,
            r.exp_ci_low,
            r.exp_ci_high,
        ];
        out.push_str(&csv_field(&r.term));
        for x in numbers {
            out.push(',');
            if let Some(x) = x {
                out.push_str(&number(x));
            }
        }
        out.push('\n');
    }
    out
}

/// `x` in the shortest form that reads back exactly: plain (`-0.4733`) for magnitudes from 1e-5
/// to 1e15, scientific (`1.0297e-104`) otherwise.
fn number(x: f64) -> String {
    if x == 0.0 || (1e-5..1e15).contains(&x.abs()) || !x.is_finite() {
        x.to_string()
    } else {
        format!("{x:e}")
    }
}

/// A CSV field: quoted (with doubled quotes) when it holds a comma, quote or line end.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Cohort, LoadOptions};
    use crate::models::coef_table::coef_table;

    #[test]
    fn the_csv_reads_back_to_the_table() {
        let names = ["(Intercept)".to_string(), "poly(x, 2)1".to_string()];
        let rows =
            coef_table(&names, &[0.1, -2.0 / 3.0], &[0.04, 0.003], None, 0.95, true).unwrap();
        let text = coefficients_csv(&rows);
        assert!(text.starts_with("term,estimate,std_error,statistic,df,p_value,"));
        let back = Cohort::from_csv_str(&text, &LoadOptions::new().delimiter(b',')).unwrap();
        assert_eq!(back.column("term").unwrap().label(1), Some("poly(x, 2)1"));
        assert_eq!(back.numeric("estimate").unwrap()[1], -2.0 / 3.0);
        assert_eq!(
            back.numeric("exp_ci_high").unwrap()[0],
            rows[0].exp_ci_high.unwrap()
        );
        assert!(back.numeric("df").unwrap().iter().all(|d| d.is_nan()));
        let p = back.numeric("p_value").unwrap()[1];
        assert!(p > 0.0 && p == rows[1].p_value, "{p}");
        assert!(text.contains("e-"), "{text}");
    }
}
