//! A two-valued response coded as text or numbers (`yes`/`no`, `TRUE`/`FALSE`, `1`/`0`) turned
//! into the 0/1 indicator of the event that a binomial model needs.

use super::{Cohort, Column, MISSING_CODE};
use crate::core::error::{Error, Result};

impl Cohort {
    /// The cohort with column `name` replaced by the indicator of `event`: 1 where the cell is
    /// `event`, 0 where it is the column's other value, missing where it is missing. The column
    /// may be text (`event` is compared with its labels, exactly) or numeric (`event` is read as a
    /// number). It must hold at most two distinct values, one of them `event`; anything else is
    /// an error naming the column and its values.
    ///
    /// ```
    /// use stepwedge::data::{Cohort, LoadOptions};
    /// let c = Cohort::from_csv_str("died\nyes\nno\nNA\n", &LoadOptions::default()).unwrap();
    /// let y = c.with_event("died", "yes").unwrap();
    /// let v = y.numeric("died").unwrap();
    /// assert_eq!((v[0], v[1]), (1.0, 0.0));
    /// assert!(v[2].is_nan());
    /// ```
    pub fn with_event(&self, name: &str, event: &str) -> Result<Cohort> {
        let indicator = match self.column(name)? {
            Column::Categorical { codes, levels } => {
                let used = used_levels(codes, levels.len());
                let values: Vec<&str> = used.iter().map(|&l| levels[l].as_str()).collect();
                check_two(name, event, &values)?;
                let hit = levels.iter().position(|l| l == event);
                codes
                    .iter()
                    .map(|&c| match c {
                        MISSING_CODE => f64::NAN,
                        c => f64::from(u8::from(Some(c as usize) == hit)),
                    })
                    .collect()
            }
            Column::Numeric(values) => {
                let mut distinct: Vec<f64> =
                    values.iter().copied().filter(|x| !x.is_nan()).collect();
                distinct.sort_by(f64::total_cmp);
                distinct.dedup();
                let shown: Vec<String> = distinct.iter().map(f64::to_string).collect();
                let shown: Vec<&str> = shown.iter().map(String::as_str).collect();
                let target = event
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|t| distinct.contains(t));
                let written = target.map_or_else(|| event.to_string(), |t| t.to_string());
                check_two(name, &written, &shown)?;
                values
                    .iter()
                    .map(|&x| match x {
                        x if x.is_nan() => f64::NAN,
                        x => f64::from(u8::from(Some(x) == target)),
                    })
                    .collect()
            }
        };
        let mut indicator = Some(Column::Numeric(indicator));
        let columns = self
            .iter()
            .map(|(n, c)| {
                let c = match indicator.take_if(|_| n == name) {
                    Some(new) => new,
                    None => c.clone(),
                };
                (n.to_string(), c)
            })
            .collect();
        Cohort::from_columns(columns)
    }
}

/// The levels (indices) that some row uses, in order.
fn used_levels(codes: &[u32], n_levels: usize) -> Vec<usize> {
    let mut used = vec![false; n_levels];
    for &c in codes.iter().filter(|&&c| c != MISSING_CODE) {
        used[c as usize] = true;
    }
    (0..n_levels).filter(|&l| used[l]).collect()
}

/// Checks that `values` (the column's distinct values) are at most two and include `event`.
fn check_two(name: &str, event: &str, values: &[&str]) -> Result<()> {
    if values.len() > 2 {
        return Err(Error::invalid(
            name,
            format!(
                "an event indicator needs a column of two values; it has {} ({})",
                values.len(),
                list(values)
            ),
        ));
    }
    if !values.contains(&event) {
        return Err(not_a_value(name, event, values));
    }
    Ok(())
}

/// The error for an event that is not one of the column's values.
fn not_a_value(name: &str, event: &str, values: &[&str]) -> Error {
    Error::invalid(
        name,
        format!(
            "the event '{event}' is not one of the column's values ({})",
            list(values)
        ),
    )
}

/// Values as `'no', 'yes'` (at most ten).
fn list(values: &[&str]) -> String {
    let mut shown: Vec<String> = values.iter().take(10).map(|v| format!("'{v}'")).collect();
    if values.len() > 10 {
        shown.push(format!("and {} more", values.len() - 10));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::LoadOptions;

    fn cohort(text: &str) -> Cohort {
        Cohort::from_csv_str(text, &LoadOptions::default()).unwrap()
    }

    #[test]
    fn text_logical_and_numeric_codes_give_the_same_indicator() {
        let c = cohort("a,b,c,d\nyes,TRUE,1,x\nno,FALSE,0,y\nyes,TRUE,1,x\nNA,NA,NA,z\n");
        for (column, event) in [("a", "yes"), ("b", "TRUE"), ("c", "1")] {
            let v = c.with_event(column, event).unwrap();
            let v = v.numeric(column).unwrap();
            assert_eq!(&v[..3], [1.0, 0.0, 1.0], "{column}");
            assert!(v[3].is_nan());
        }
        let e = c.with_event("a", "Yes").unwrap_err().to_string();
        assert!(
            e.contains("the event 'Yes' is not one of the column's values ('no', 'yes')"),
            "{e}"
        );
        let e = c.with_event("c", "2").unwrap_err().to_string();
        assert!(
            e.contains("the event '2' is not one of the column's values ('0', '1')"),
            "{e}"
        );
        let e = c.with_event("d", "x").unwrap_err().to_string();
        assert!(e.contains("two values; it has 3 ('x', 'y', 'z')"), "{e}");
        assert!(c.with_event("e", "x").is_err());
    }
}
