//! The series a run or control chart is drawn from: ordered subgroups (months, weeks, ...)
//! each with a count and its denominator (events among patients, falls per 100 bed-days) or
//! with one measurement.

use crate::core::error::{Error, Result};

/// Ordered subgroups with their numerators `y` and denominators `n` (counts), or with one
/// measurement `y` each (no denominators).
///
/// A subgroup whose `y` or `n` is missing, or whose `n` is 0, has no value: it is missing from
/// the chart everywhere (no point, no limits, not in the centre line or the runs analysis),
/// as in qicharts2, which sets both `y` and `n` to `NA` where either is missing
/// (`complete.cases(y, n)`) and plots `y / n` (`NaN` for `n = 0`) as missing.
#[derive(Debug, Clone, PartialEq)]
pub struct Subgroups {
    labels: Vec<String>,
    y: Vec<Option<f64>>,
    n: Option<Vec<Option<f64>>>,
}

impl Subgroups {
    /// Counts: numerators `y` (events) and denominators `n` (patients, or an exposure such as
    /// 100 bed-days; need not be whole numbers), one of each per label, in the order of the
    /// chart. `None` marks a missing value.
    ///
    /// Errors: the three lengths differ, no subgroups, a value that is not finite
    /// ([`Error::Subgroup`], naming the subgroup and `y` or `n`), a negative count or
    /// denominator (the same).
    pub fn counts(labels: Vec<String>, y: Vec<Option<f64>>, n: Vec<Option<f64>>) -> Result<Self> {
        check_lengths(&labels, &y, "y")?;
        check_lengths(&labels, &n, "n")?;
        for (column, values) in [("y", &y), ("n", &n)] {
            check_values(&labels, values, column, true)?;
        }
        Ok(Subgroups {
            labels,
            y,
            n: Some(n),
        })
    }

    /// Measurements: one value `y` per label (a mean length of stay, a score), any sign.
    /// `None` marks a missing value.
    ///
    /// Errors: the lengths differ, no subgroups, a value that is not finite
    /// ([`Error::Subgroup`]).
    pub fn measurements(labels: Vec<String>, y: Vec<Option<f64>>) -> Result<Self> {
        check_lengths(&labels, &y, "y")?;
        check_values(&labels, &y, "y", false)?;
        Ok(Subgroups { labels, y, n: None })
    }

    /// The subgroups' labels, in order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The number of subgroups.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no subgroups (never, for subgroups that were constructed).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Whether the subgroups are counts with denominators.
    pub fn has_denominators(&self) -> bool {
        self.n.is_some()
    }

    /// The value of subgroup `i` (0-based): `y / n` for counts, the measurement otherwise;
    /// `None` if `y` or `n` is missing, `n` is 0, or there is no subgroup `i`.
    pub fn value(&self, i: usize) -> Option<f64> {
        match &self.n {
            None => self.numerator(i),
            Some(_) => self.count(i).map(|(y, n)| y / n),
        }
    }

    /// The numerator and denominator of subgroup `i` (0-based) of counts, if the subgroup has
    /// a value ([`Subgroups::value`]); `None` for measurements.
    pub fn count(&self, i: usize) -> Option<(f64, f64)> {
        let n = self.denominator(i)?;
        let y = self.numerator(i)?;
        (n > 0.0).then_some((y, n))
    }

    /// The numerator (or measurement) of subgroup `i` as given (`None` if missing).
    pub fn numerator(&self, i: usize) -> Option<f64> {
        self.y.get(i).copied().flatten()
    }

    /// The denominator of subgroup `i` as given (`None` if missing, or for measurements).
    pub fn denominator(&self, i: usize) -> Option<f64> {
        self.n.as_ref()?.get(i).copied().flatten()
    }

    /// The error for subgroup `i` (0-based) and its `column` (`y` or `n`): an
    /// [`Error::Subgroup`] naming the 1-based position and label.
    pub(super) fn error(&self, i: usize, column: &str, message: impl Into<String>) -> Error {
        subgroup_error(&self.labels, i, column, message)
    }
}

fn subgroup_error(labels: &[String], i: usize, column: &str, message: impl Into<String>) -> Error {
    Error::Subgroup {
        position: i + 1,
        label: labels.get(i).cloned().unwrap_or_default(),
        column: column.to_string(),
        message: message.into(),
    }
}

/// One value of `column` per label, and at least one label.
fn check_lengths(labels: &[String], values: &[Option<f64>], column: &str) -> Result<()> {
    if labels.is_empty() {
        return Err(Error::too_few("a run or control chart", "subgroups", 0, 1));
    }
    if values.len() != labels.len() {
        return Err(Error::invalid(
            column,
            format!(
                "{} values for {} subgroup labels; one per subgroup is needed",
                values.len(),
                labels.len()
            ),
        ));
    }
    Ok(())
}

/// Every value finite, and not negative if `counts`.
fn check_values(
    labels: &[String],
    values: &[Option<f64>],
    column: &str,
    counts: bool,
) -> Result<()> {
    for (i, v) in values.iter().enumerate() {
        match *v {
            Some(v) if !v.is_finite() => {
                return Err(subgroup_error(
                    labels,
                    i,
                    column,
                    format!("{v} is not a finite number (a missing value is None)"),
                ))
            }
            Some(v) if counts && v < 0.0 => {
                return Err(subgroup_error(
                    labels,
                    i,
                    column,
                    format!("{v} is negative; counts and denominators cannot be"),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(k: usize) -> Vec<String> {
        (1..=k).map(|m| format!("2024-{m:02}")).collect()
    }

    #[test]
    fn a_missing_numerator_denominator_or_zero_denominator_has_no_value() {
        let s = Subgroups::counts(
            labels(4),
            vec![Some(3.0), None, Some(2.0), Some(0.0)],
            vec![Some(12.0), Some(10.0), None, Some(0.0)],
        )
        .unwrap();
        assert_eq!(s.value(0), Some(0.25));
        assert_eq!(s.count(0), Some((3.0, 12.0)));
        assert_eq!((s.value(1), s.value(2), s.value(3)), (None, None, None));
        assert_eq!(s.denominator(1), Some(10.0));
        assert_eq!(s.value(4), None);
        assert!(s.has_denominators() && s.len() == 4 && !s.is_empty());
        let m = Subgroups::measurements(labels(2), vec![Some(-1.5), None]).unwrap();
        assert_eq!(
            (m.value(0), m.value(1), m.count(0)),
            (Some(-1.5), None, None)
        );
    }

    #[test]
    fn bad_input_names_the_subgroup_and_column() {
        let e = Subgroups::counts(
            labels(3),
            vec![Some(1.0); 3],
            vec![Some(5.0), Some(-2.0), None],
        )
        .unwrap_err();
        match &e {
            Error::Subgroup {
                position,
                label,
                column,
                ..
            } => assert_eq!(
                (*position, label.as_str(), column.as_str()),
                (2, "2024-02", "n")
            ),
            other => panic!("{other}"),
        }
        assert!(e.to_string().contains("negative"), "{e}");
        let e = Subgroups::measurements(labels(2), vec![Some(1.0), Some(f64::NAN)]).unwrap_err();
        assert!(
            e.to_string().starts_with("subgroup 2 ('2024-02'), y:"),
            "{e}"
        );
        let e = Subgroups::counts(labels(3), vec![Some(1.0); 2], vec![Some(5.0); 3]).unwrap_err();
        assert!(matches!(&e, Error::InvalidArgument { argument, .. } if argument == "y"));
        let e = Subgroups::measurements(Vec::new(), Vec::new()).unwrap_err();
        assert!(matches!(e, Error::TooFewData { got: 0, .. }));
    }
}
