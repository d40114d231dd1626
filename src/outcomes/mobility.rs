//! Regained mobility: whether the mobility score at follow-up is back at the pre-fracture level
//! (see [`Regained`]).

use serde::Serialize;

use super::columns::{check_new_names, read_numbers};
use crate::core::error::{Error, Result};
use crate::data::{Cohort, Column};

/// A mobility score and its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MobilityScale {
    /// The Cumulated Ambulation Score: basic mobility (getting in and out of bed, sit to stand,
    /// walking), each scored 0 to 2; a whole number from 0 to 6.
    Cas,
    /// The New Mobility Score: pre-fracture mobility indoors, outdoors and shopping, each scored
    /// 0 to 3; a whole number from 0 to 9.
    Nms,
}

impl MobilityScale {
    /// The highest score: 6 for the CAS, 9 for the NMS (the lowest is 0).
    pub fn max(self) -> u32 {
        match self {
            MobilityScale::Cas => 6,
            MobilityScale::Nms => 9,
        }
    }

    /// The name of the score, as in messages.
    pub fn name(self) -> &'static str {
        match self {
            MobilityScale::Cas => "Cumulated Ambulation Score",
            MobilityScale::Nms => "New Mobility Score",
        }
    }
}

/// Derives "regained pre-fracture mobility" from a pre-fracture and a follow-up score.
///
/// For each patient, with `pre` the pre-fracture score and `post` the score at follow-up:
/// * 1 (regained) if `post >= pre`;
/// * 0 (not regained) if `post < pre`;
/// * missing if either score is missing.
///
/// Both scores must be whole numbers in the scale's range (0..=6 for the CAS, 0..=9 for the NMS);
/// any other value, in either column and whether or not the other score is present, is an
/// [`Error::InvalidValue`] naming the column, the 1-based data row and the value. The output
/// column (`cas_regained` or `nms_regained` unless set with [`Regained::name`]) must not exist.
///
/// ```
/// use stepwedge::data::{Cohort, Column};
/// use stepwedge::outcomes::Regained;
///
/// let cohort = Cohort::from_columns(vec![
///     ("cas_pre".into(), Column::Numeric(vec![6.0, 6.0, 4.0, f64::NAN])),
///     ("cas_fu".into(), Column::Numeric(vec![6.0, 5.0, 5.0, 3.0])),
/// ])
/// .unwrap();
/// let (cohort, report) = Regained::cas("cas_pre", "cas_fu").derive(cohort).unwrap();
/// let regained = cohort.numeric("cas_regained").unwrap();
/// assert_eq!(&regained[..3], &[1.0, 0.0, 1.0]);
/// assert!(regained[3].is_nan());
/// assert_eq!((report.regained, report.not_regained, report.missing), (2, 1, 1));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Regained {
    scale: MobilityScale,
    pre: String,
    follow_up: String,
    name: String,
}

/// What [`Regained::derive`] found. `regained + not_regained + missing = patients`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegainedReport {
    /// The score.
    pub scale: MobilityScale,
    /// The column added.
    pub column: String,
    /// Patients (rows).
    pub patients: usize,
    /// Follow-up score at least the pre-fracture score (1).
    pub regained: usize,
    /// Follow-up score below the pre-fracture score (0).
    pub not_regained: usize,
    /// Outcome missing: either score missing.
    pub missing: usize,
    /// Patients missing the pre-fracture score.
    pub missing_pre: usize,
    /// Patients missing the follow-up score.
    pub missing_follow_up: usize,
}

impl Regained {
    /// Regained CAS from the columns `pre` (pre-fracture) and `follow_up`; output
    /// `cas_regained`.
    pub fn cas(pre: &str, follow_up: &str) -> Self {
        Self::with_scale(MobilityScale::Cas, pre, follow_up)
    }

    /// Regained NMS from the columns `pre` (pre-fracture) and `follow_up`; output
    /// `nms_regained`.
    pub fn nms(pre: &str, follow_up: &str) -> Self {
        Self::with_scale(MobilityScale::Nms, pre, follow_up)
    }

    /// Regained mobility on `scale`, output `<scale>_regained` (`cas` or `nms`).
    pub fn with_scale(scale: MobilityScale, pre: &str, follow_up: &str) -> Self {
        let prefix = match scale {
            MobilityScale::Cas => "cas",
            MobilityScale::Nms => "nms",
        };
        Regained {
            scale,
            pre: pre.to_string(),
            follow_up: follow_up.to_string(),
            name: format!("{prefix}_regained"),
        }
    }

    /// The name of the column added.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// The scale.
    pub fn scale(&self) -> MobilityScale {
        self.scale
    }

    /// The cohort with the 0/1 column of regained mobility added (`NAN` where a score is
    /// missing), and the counts. See [`Regained`] for the definition and errors.
    pub fn derive(&self, cohort: Cohort) -> Result<(Cohort, RegainedReport)> {
        check_new_names(&cohort, &[&self.name], "name")?;
        let pre = self.scores(&cohort, &self.pre)?;
        let post = self.scores(&cohort, &self.follow_up)?;
        let mut report = RegainedReport {
            scale: self.scale,
            column: self.name.clone(),
            patients: cohort.n_rows(),
            regained: 0,
            not_regained: 0,
            missing: 0,
            missing_pre: pre.iter().filter(|v| v.is_nan()).count(),
            missing_follow_up: post.iter().filter(|v| v.is_nan()).count(),
        };
        let regained: Vec<f64> = pre
            .iter()
            .zip(&post)
            .map(|(&a, &b)| {
                if a.is_nan() || b.is_nan() {
                    report.missing += 1;
                    f64::NAN
                } else if b >= a {
                    report.regained += 1;
                    1.0
                } else {
                    report.not_regained += 1;
                    0.0
                }
            })
            .collect();
        let cohort = cohort.with_column(self.name.as_str(), Column::Numeric(regained))?;
        Ok((cohort, report))
    }

    /// The scores of column `name`, checked to be whole numbers in range (`NAN` = missing).
    fn scores(&self, cohort: &Cohort, name: &str) -> Result<Vec<f64>> {
        let values = read_numbers(cohort, name, "scores")?;
        let max = f64::from(self.scale.max());
        if let Some(row) = values
            .iter()
            .position(|&v| !v.is_nan() && (v.fract() != 0.0 || !(0.0..=max).contains(&v)))
        {
            return Err(Error::InvalidValue {
                column: name.to_string(),
                row: row + 1,
                value: values[row].to_string(),
                expected: format!(
                    "a {} is a whole number from 0 to {}",
                    self.scale.name(),
                    self.scale.max()
                ),
            });
        }
        Ok(values.into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NA: f64 = f64::NAN;

    fn cohort(pre: Vec<f64>, post: Vec<f64>) -> Cohort {
        Cohort::from_columns(vec![
            ("pre".into(), Column::Numeric(pre)),
            ("post".into(), Column::Numeric(post)),
        ])
        .unwrap()
    }

    /// The output with `NAN` written as -1.
    fn coded(c: &Cohort, name: &str) -> Vec<f64> {
        c.numeric(name)
            .unwrap()
            .iter()
            .map(|v| if v.is_nan() { -1.0 } else { *v })
            .collect()
    }

    #[test]
    fn regained_means_at_least_the_pre_fracture_score() {
        let c = cohort(
            vec![6.0, 6.0, 0.0, 3.0, NA, 2.0, NA],
            vec![6.0, 5.0, 0.0, 4.0, 2.0, NA, NA],
        );
        let (c, r) = Regained::cas("pre", "post").derive(c).unwrap();
        assert_eq!(
            coded(&c, "cas_regained"),
            [1.0, 0.0, 1.0, 1.0, -1.0, -1.0, -1.0]
        );
        assert_eq!(
            (r.patients, r.regained, r.not_regained, r.missing),
            (7, 3, 1, 3)
        );
        assert_eq!((r.missing_pre, r.missing_follow_up), (2, 2));
        assert_eq!(r.scale, MobilityScale::Cas);
    }

    #[test]
    fn nms_uses_its_own_range_and_name() {
        let c = cohort(vec![9.0, 7.0], vec![8.0, 9.0]);
        let (c, r) = Regained::nms("pre", "post").derive(c).unwrap();
        assert_eq!(coded(&c, "nms_regained"), [0.0, 1.0]);
        assert_eq!(r.column, "nms_regained");
        // 7 and 9 are out of the CAS range.
        let err = Regained::cas("pre", "post")
            .derive(cohort(vec![9.0, 7.0], vec![8.0, 9.0]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "column 'pre' has 9 at data row 1: a Cumulated Ambulation Score is a whole number \
             from 0 to 6"
        );
    }

    #[test]
    fn out_of_range_and_fractional_scores_are_errors() {
        for (bad, text) in [(10.0, "10"), (-1.0, "-1"), (4.5, "4.5")] {
            let err = Regained::nms("pre", "post")
                .derive(cohort(vec![3.0, 3.0, NA], vec![3.0, 3.0, bad]))
                .unwrap_err();
            match err {
                Error::InvalidValue {
                    column, row, value, ..
                } => assert_eq!((column.as_str(), row, value.as_str()), ("post", 3, text)),
                other => panic!("{other}"),
            }
        }
    }

    #[test]
    fn text_scores_are_read_as_numbers_or_named() {
        let c = Cohort::from_columns(vec![
            (
                "pre".into(),
                Column::from_labels([Some("5"), None]).unwrap(),
            ),
            ("post".into(), Column::Numeric(vec![4.0, 1.0])),
        ])
        .unwrap();
        let (c, _) = Regained::cas("pre", "post").derive(c).unwrap();
        assert_eq!(coded(&c, "cas_regained"), [0.0, -1.0]);
        let c = Cohort::from_columns(vec![
            (
                "pre".into(),
                Column::from_labels([Some("5"), Some("walks")]).unwrap(),
            ),
            ("post".into(), Column::Numeric(vec![4.0, 1.0])),
        ])
        .unwrap();
        let err = Regained::cas("pre", "post")
            .derive(c)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "column 'pre' has 'walks' at data row 2: scores must be numbers"
        );
    }

    #[test]
    fn names_are_settable_and_must_be_new() {
        let (c, _) = Regained::cas("pre", "post")
            .name("walks_again")
            .derive(cohort(vec![1.0], vec![2.0]))
            .unwrap();
        assert_eq!(c.numeric("walks_again").unwrap(), &[1.0]);
        let err = Regained::cas("pre", "post")
            .name("pre")
            .derive(cohort(vec![1.0], vec![2.0]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("already has a column 'pre'"), "{err}");
        assert!(Regained::cas("pre", "missing")
            .derive(cohort(vec![1.0], vec![2.0]))
            .is_err());
    }
}
