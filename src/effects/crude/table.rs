//! The 2x2 table of a treated (intervention) group against a control (usual care) group.

use std::fmt;

use serde::Serialize;

use crate::core::error::{Error, Result};
use crate::data::{Cohort, Column};

/// Largest count accepted: 10 million patients per group (above Denmark's population). It keeps
/// every count exact as an `f64` and bounds the exact conditional methods, whose time and memory
/// grow with the number of possible tables (up to `min(n1, n0) + 1`; about 2.5 s for a million).
pub const MAX_COUNT: u64 = 10_000_000;

/// Whether the counted event is bad for the patient (death, readmission: the default) or good
/// (regained mobility, discharge home). It fixes which direction of the risk difference counts
/// as benefit in the number needed to treat; no other measure depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// Events are harmful: fewer events under treatment is benefit.
    #[default]
    Adverse,
    /// Events are wanted: more events under treatment is benefit.
    Beneficial,
}

/// A 2x2 table of counts:
///
/// | group   | event | no event  | total |
/// |---------|-------|-----------|-------|
/// | treated | `a`   | `b = n1 - a` | `n1` |
/// | control | `c`   | `d = n0 - c` | `n0` |
///
/// Every measure of [`crate::effects::crude`] compares the treated group with the control group
/// (treated over control for ratios, treated minus control for differences).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TwoByTwo {
    a: u64,
    n1: u64,
    c: u64,
    n0: u64,
    outcome: OutcomeKind,
}

impl TwoByTwo {
    /// The table with `a` events among `n1` treated patients and `c` events among `n0` control
    /// patients, events adverse ([`OutcomeKind::Adverse`]).
    ///
    /// Errors ([`Error::InvalidArgument`]) if a count is negative, a group is empty, events
    /// exceed the group size, or a count exceeds [`MAX_COUNT`].
    pub fn new(a: i64, n1: i64, c: i64, n0: i64) -> Result<Self> {
        let n1 = count("n1", n1)?;
        let n0 = count("n0", n0)?;
        let a = count("a", a)?;
        let c = count("c", c)?;
        check_group("a", a, "n1", n1, "treated")?;
        check_group("c", c, "n0", n0, "control")?;
        Ok(TwoByTwo {
            a,
            n1,
            c,
            n0,
            outcome: OutcomeKind::Adverse,
        })
    }

    /// The same table with events of the given kind.
    pub fn with_outcome(self, outcome: OutcomeKind) -> Self {
        TwoByTwo { outcome, ..self }
    }

    /// Count the table from two 0/1 columns of equal length, one row per patient: `outcome` is
    /// 1 for an event, `treated` is 1 for the treated group and 0 for control.
    ///
    /// Errors name the 1-based row of the first value that is not 0 or 1 (NaN, a missing value,
    /// included), and reject columns of different length or a table with an empty group.
    pub fn from_binary(outcome: &[f64], treated: &[f64]) -> Result<Self> {
        count_rows(("outcome", outcome), ("treated", treated))
    }

    /// Count the table from two numeric 0/1 columns of a [`Cohort`], as
    /// [`TwoByTwo::from_binary`]; errors name the column and the data row.
    pub fn from_cohort(cohort: &Cohort, outcome: &str, treatment: &str) -> Result<Self> {
        let y = numeric_column(cohort, outcome)?;
        let t = numeric_column(cohort, treatment)?;
        count_rows((outcome, y), (treatment, t))
    }

    /// Treated patients with the event.
    pub fn a(&self) -> u64 {
        self.a
    }
    /// Treated patients without the event, `n1 - a`.
    pub fn b(&self) -> u64 {
        self.n1 - self.a
    }
    /// Control patients with the event.
    pub fn c(&self) -> u64 {
        self.c
    }
    /// Control patients without the event, `n0 - c`.
    pub fn d(&self) -> u64 {
        self.n0 - self.c
    }
    /// Size of the treated group.
    pub fn n1(&self) -> u64 {
        self.n1
    }
    /// Size of the control group.
    pub fn n0(&self) -> u64 {
        self.n0
    }
    /// All patients, `n1 + n0`.
    pub fn n(&self) -> u64 {
        self.n1 + self.n0
    }
    /// All events, `a + c`.
    pub fn events(&self) -> u64 {
        self.a + self.c
    }
    /// Whether events are adverse or beneficial.
    pub fn outcome(&self) -> OutcomeKind {
        self.outcome
    }

    /// The sample risk of the treated group, `p1 = a / n1`.
    pub fn p1(&self) -> f64 {
        self.a as f64 / self.n1 as f64
    }

    /// The sample risk of the control group, `p0 = c / n0`.
    pub fn p0(&self) -> f64 {
        self.c as f64 / self.n0 as f64
    }

    /// The four cells in the order `a, b, c, d` (row by row), with their names.
    pub(crate) fn named_cells(&self) -> [(&'static str, u64); 4] {
        [
            ("a (treated, event)", self.a()),
            ("b (treated, no event)", self.b()),
            ("c (control, event)", self.c()),
            ("d (control, no event)", self.d()),
        ]
    }

    /// The names of the cells that are 0, joined by "and"; `None` when every cell is positive.
    pub(crate) fn zero_cells(&self) -> Option<String> {
        zero_names(&self.named_cells())
    }
}

/// The names of the counts that are 0, joined by "and"; `None` when every count is positive.
pub(crate) fn zero_names(counts: &[(&str, u64)]) -> Option<String> {
    let zeros: Vec<&str> = counts
        .iter()
        .filter(|(_, v)| *v == 0)
        .map(|(name, _)| *name)
        .collect();
    (!zeros.is_empty()).then(|| zeros.join(" and "))
}

/// Prints the table with its margins.
impl fmt::Display for TwoByTwo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<9}{:>10}{:>10}{:>10}",
            "", "event", "no event", "total"
        )?;
        writeln!(
            f,
            "{:<9}{:>10}{:>10}{:>10}",
            "treated",
            self.a,
            self.b(),
            self.n1
        )?;
        write!(
            f,
            "{:<9}{:>10}{:>10}{:>10}",
            "control",
            self.c,
            self.d(),
            self.n0
        )
    }
}

/// A count given as `i64`, checked to be in `0..=MAX_COUNT`.
fn count(name: &str, value: i64) -> Result<u64> {
    let v = u64::try_from(value)
        .map_err(|_| Error::invalid(name, format!("count {value} is negative")))?;
    if v > MAX_COUNT {
        return Err(Error::invalid(
            name,
            format!("count {v} exceeds the maximum {MAX_COUNT}"),
        ));
    }
    Ok(v)
}

/// Checks one group: size positive, events at most the size.
fn check_group(
    events_name: &str,
    events: u64,
    size_name: &str,
    size: u64,
    group: &str,
) -> Result<()> {
    if size == 0 {
        return Err(Error::invalid(
            size_name,
            format!("the {group} group is empty"),
        ));
    }
    if events > size {
        return Err(Error::invalid(
            events_name,
            format!("{events} events in the {group} group exceed its {size} patients"),
        ));
    }
    Ok(())
}

/// The values of a numeric column, or an error naming a non-numeric one.
fn numeric_column<'c>(cohort: &'c Cohort, name: &str) -> Result<&'c [f64]> {
    match cohort.column(name)? {
        Column::Numeric(v) => Ok(v),
        Column::Categorical { .. } => Err(Error::invalid(
            name,
            "the column is categorical; a numeric 0/1 column is needed",
        )),
    }
}

/// Reads a 0/1 value of column `name` at 0-based row `i`.
fn indicator(name: &str, i: usize, value: f64) -> Result<bool> {
    if value == 0.0 || value == 1.0 {
        return Ok(value == 1.0);
    }
    let what = if value.is_nan() {
        "is missing (NaN)".to_string()
    } else {
        format!("has value {value}")
    };
    Err(Error::invalid(
        name,
        format!("row {} {what}; only 0 and 1 are allowed", i + 1),
    ))
}

/// Cross-tabulates two named 0/1 columns into a table.
fn count_rows(outcome: (&str, &[f64]), treated: (&str, &[f64])) -> Result<TwoByTwo> {
    let (y_name, y) = outcome;
    let (t_name, t) = treated;
    if y.len() != t.len() {
        return Err(Error::invalid(
            t_name,
            format!("has {} rows but '{y_name}' has {}", t.len(), y.len()),
        ));
    }
    // counts[group][event]: group 1 = treated.
    let mut counts = [[0_i64; 2]; 2];
    for (i, (&yi, &ti)) in y.iter().zip(t).enumerate() {
        let event = indicator(y_name, i, yi)?;
        let group = indicator(t_name, i, ti)?;
        counts[usize::from(group)][usize::from(event)] += 1;
    }
    let [control, treated] = counts;
    TwoByTwo::new(
        treated[1],
        treated[0] + treated[1],
        control[1],
        control[0] + control[1],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<TwoByTwo>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn cells_and_margins() {
        let t = TwoByTwo::new(14, 100, 46, 152).unwrap();
        assert_eq!((t.a(), t.b(), t.c(), t.d()), (14, 86, 46, 106));
        assert_eq!((t.n(), t.events()), (252, 60));
        assert_eq!(t.outcome(), OutcomeKind::Adverse);
        assert_eq!(t.zero_cells(), None);
        let z = TwoByTwo::new(0, 20, 20, 20).unwrap();
        assert_eq!(
            z.zero_cells().as_deref(),
            Some("a (treated, event) and d (control, no event)")
        );
    }

    #[test]
    fn rejects_bad_counts() {
        assert!(message(TwoByTwo::new(-1, 10, 2, 10)).contains("'a': count -1 is negative"));
        assert!(message(TwoByTwo::new(1, 10, 2, -10)).contains("'n0': count -10 is negative"));
        assert!(message(TwoByTwo::new(11, 10, 2, 10)).contains("exceed its 10 patients"));
        assert!(message(TwoByTwo::new(1, 10, 3, 2)).contains("'c'"));
        assert!(message(TwoByTwo::new(0, 0, 2, 10)).contains("treated group is empty"));
        assert!(message(TwoByTwo::new(1, 10, 0, 0)).contains("control group is empty"));
        assert!(message(TwoByTwo::new(1, i64::MAX, 0, 3)).contains("exceeds the maximum"));
    }

    #[test]
    fn counts_binary_columns() {
        let y = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        let t = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        let tab = TwoByTwo::from_binary(&y, &t).unwrap();
        assert_eq!(tab, TwoByTwo::new(1, 3, 2, 4).unwrap());
    }

    #[test]
    fn binary_columns_name_the_bad_row() {
        let e = message(TwoByTwo::from_binary(&[0.0, 2.0], &[1.0, 0.0]));
        assert!(e.contains("'outcome': row 2 has value 2"), "{e}");
        let e = message(TwoByTwo::from_binary(
            &[0.0, 1.0, 0.0],
            &[1.0, 0.0, f64::NAN],
        ));
        assert!(e.contains("'treated': row 3 is missing (NaN)"), "{e}");
        let e = message(TwoByTwo::from_binary(&[0.0, 1.0], &[1.0]));
        assert!(e.contains("has 1 rows but 'outcome' has 2"), "{e}");
        let e = message(TwoByTwo::from_binary(&[0.0, 1.0], &[1.0, 1.0]));
        assert!(e.contains("control group is empty"), "{e}");
    }

    #[test]
    fn counts_cohort_columns() {
        let cohort = Cohort::from_columns(vec![
            ("death30".into(), Column::Numeric(vec![1.0, 0.0, 1.0, 0.0])),
            ("kth".into(), Column::Numeric(vec![1.0, 1.0, 0.0, 0.0])),
            (
                "ward".into(),
                Column::Categorical {
                    codes: vec![0, 0, 1, 1],
                    levels: vec!["A".into(), "B".into()],
                },
            ),
        ])
        .unwrap();
        let t = TwoByTwo::from_cohort(&cohort, "death30", "kth").unwrap();
        assert_eq!(t, TwoByTwo::new(1, 2, 1, 2).unwrap());
        let e = message(TwoByTwo::from_cohort(&cohort, "death30", "ward"));
        assert!(e.contains("'ward': the column is categorical"), "{e}");
        let e = message(TwoByTwo::from_cohort(&cohort, "deaht30", "kth"));
        assert!(e.contains("did you mean 'death30'"), "{e}");
    }

    #[test]
    fn displays_with_margins() {
        let t = TwoByTwo::new(6, 100, 20, 152).unwrap();
        let s = t.to_string();
        assert!(s.contains("treated           6        94       100"), "{s}");
    }
}
