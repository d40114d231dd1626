//! The published margins and the margin solver: the counts of 30-day deaths (before and after
//! discharge) and 30-day readmissions in each margin cell (KTH or usual care, crossed with own
//! home or not) that reproduce every published count and percentage exactly.

use super::patients::Patient;
use super::KthRollout;
use crate::core::error::{Error, Result};
use crate::studies::PercentCounts;

/// Margin cells: (KTH, own home), (KTH, other), (usual care, own home), (usual care, other).
pub(super) const CELLS: usize = 4;

/// Published-margin counts of one cell (KTH or usual care, crossed with own home or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CellCounts {
    /// Patients.
    pub patients: usize,
    /// Deaths within 30 days of surgery.
    pub deaths: usize,
    /// Of those, deaths before discharge.
    pub in_hospital: usize,
    /// Readmissions within 30 days of discharge, among the patients discharged alive.
    pub readmissions: usize,
}

/// The published margins of the evaluation (webinar of 5 November 2025): 30-day deaths as
/// counts, the other margins as percentages to one decimal.
#[derive(Debug, Clone, PartialEq)]
pub struct Margins {
    /// 30-day deaths of the 524 KTH patients (8.0%).
    pub kth_deaths: usize,
    /// 30-day deaths of the 2,085 usual-care patients (11.9%).
    pub usual_deaths: usize,
    /// 30-day readmission of KTH patients discharged alive, %.
    pub kth_readmission: f64,
    /// 30-day readmission of usual-care patients discharged alive, %.
    pub usual_readmission: f64,
    /// 30-day mortality of KTH patients living in their own home, %.
    pub own_home_kth_mortality: f64,
    /// 30-day mortality of usual-care patients living in their own home, %.
    pub own_home_usual_mortality: f64,
    /// 30-day readmission of KTH patients living in their own home, %.
    pub own_home_kth_readmission: f64,
    /// 30-day readmission of usual-care patients living in their own home, %.
    pub own_home_usual_readmission: f64,
}

/// The published margins of one treatment group.
struct GroupMargins {
    /// The group, as named in errors.
    group: &'static str,
    /// 30-day deaths.
    deaths: usize,
    /// 30-day mortality of its patients living in their own home, %.
    own_mortality: f64,
    /// 30-day readmission of its patients discharged alive, %.
    readmission: f64,
    /// 30-day readmission of its patients living in their own home, %.
    own_readmission: f64,
}

impl Margins {
    /// The margins of the KTH group, then of the usual-care group.
    fn groups(&self) -> [GroupMargins; 2] {
        [
            GroupMargins {
                group: "KTH",
                deaths: self.kth_deaths,
                own_mortality: self.own_home_kth_mortality,
                readmission: self.kth_readmission,
                own_readmission: self.own_home_kth_readmission,
            },
            GroupMargins {
                group: "usual care",
                deaths: self.usual_deaths,
                own_mortality: self.own_home_usual_mortality,
                readmission: self.usual_readmission,
                own_readmission: self.own_home_usual_readmission,
            },
        ]
    }

    /// The published values.
    pub fn published() -> Margins {
        Margins {
            kth_deaths: 42,
            usual_deaths: 248,
            kth_readmission: 18.6,
            usual_readmission: 13.6,
            own_home_kth_mortality: 6.3,
            own_home_usual_mortality: 11.5,
            own_home_kth_readmission: 18.3,
            own_home_usual_readmission: 12.9,
        }
    }
}

/// The event count nearest `pct` % of `n` that prints as `pct` at one decimal, if any (see
/// [`PercentCounts`]). Errors if `pct` is not a percentage.
fn count_for(pct: f64, n: usize) -> Result<Option<usize>> {
    let counts = PercentCounts::new(pct, 1, n as u64)?;
    Ok(counts.nearest_consistent().map(|k| k as usize))
}

/// The margin counts of one treatment group with `patients` living in their own home (`[0]`)
/// and elsewhere (`[1]`), split the same way, with about `in_hospital_share` of the deaths of
/// each before discharge.
fn group_counts(
    margins: &GroupMargins,
    patients: [usize; 2],
    in_hospital_share: f64,
) -> Result<[CellCounts; 2]> {
    let fail = |what: &str| {
        Error::invalid(
            "margins",
            format!(
                "{}: no whole number of patients gives the published {what}",
                margins.group
            ),
        )
    };
    let own_deaths =
        count_for(margins.own_mortality, patients[0])?.ok_or_else(|| fail("own-home mortality"))?;
    let other_deaths = margins
        .deaths
        .checked_sub(own_deaths)
        .filter(|&d| d <= patients[1])
        .ok_or_else(|| fail("mortality split"))?;
    let start = [own_deaths, other_deaths].map(|d| (d as f64 * in_hospital_share).round() as i64);
    // In-hospital deaths nearest the share for which both readmission percentages exist.
    let mut offsets: Vec<(i64, i64)> = (-4..=4)
        .flat_map(|a| (-4..=4).map(move |b| (a, b)))
        .collect();
    offsets.sort_by_key(|&(a, b)| (a.abs() + b.abs(), a, b));
    for (a, b) in offsets {
        let h = [start[0] + a, start[1] + b];
        if h[0] < 0 || h[1] < 0 || h[0] as usize > own_deaths || h[1] as usize > other_deaths {
            continue;
        }
        let at_risk = [patients[0] - h[0] as usize, patients[1] - h[1] as usize];
        let Some(own) = count_for(margins.own_readmission, at_risk[0])? else {
            continue;
        };
        let Some(total) = count_for(margins.readmission, at_risk[0] + at_risk[1])? else {
            continue;
        };
        if total < own || total - own > at_risk[1] {
            continue;
        }
        let (deaths, readmissions) = ([own_deaths, other_deaths], [own, total - own]);
        return Ok([0, 1].map(|k| CellCounts {
            patients: patients[k],
            deaths: deaths[k],
            in_hospital: h[k] as usize,
            readmissions: readmissions[k],
        }));
    }
    Err(fail("readmission percentages"))
}

impl KthRollout {
    /// The margin counts of the four cells for these patients.
    pub(super) fn cell_counts(&self, patients: &[Patient]) -> Result<[CellCounts; CELLS]> {
        let mut n = [0usize; CELLS];
        for p in patients {
            n[p.cell()] += 1;
        }
        let [kth, usual] = self.margins.groups();
        let kth = group_counts(&kth, [n[0], n[1]], self.in_hospital_share)?;
        let usual = group_counts(&usual, [n[2], n[3]], self.in_hospital_share)?;
        Ok([kth[0], kth[1], usual[0], usual[1]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `events` of `n`, as a percentage to one decimal, prints as `pct`.
    fn prints_as(events: usize, n: usize, pct: f64) -> bool {
        let run = PercentCounts::new(pct, 1, n as u64).unwrap().consistent;
        run.is_some_and(|(low, high)| (low..=high).contains(&(events as u64)))
    }

    #[test]
    fn counts_that_round_to_a_published_percentage() {
        assert_eq!(count_for(6.3, 318).unwrap(), Some(20)); // 6.29%
        assert_eq!(count_for(6.3, 311).unwrap(), None); // 19 -> 6.11%, 20 -> 6.43%
        assert_eq!(count_for(18.6, 524).unwrap(), None); // why readmission is among the discharged
        assert_eq!(count_for(18.6, 521).unwrap(), Some(97));
        assert!(prints_as(1, 16, 6.3)); // 6.25 rounds half away from zero
        assert!(!prints_as(0, 0, 0.0));
        assert!(count_for(f64::NAN, 10).is_err());
    }

    #[test]
    fn impossible_margins_are_an_error_naming_the_group() {
        let [kth, _] = Margins::published().groups();
        let err = group_counts(&kth, [311, 213], 0.1).unwrap_err();
        assert!(err.to_string().contains("KTH") && err.to_string().contains("own-home"));
        let ok = group_counts(&kth, [318, 206], 0.1).unwrap();
        assert_eq!(ok[0].deaths + ok[1].deaths, 42);
        let at_risk = 524 - ok[0].in_hospital - ok[1].in_hospital;
        assert!(prints_as(
            ok[0].readmissions + ok[1].readmissions,
            at_risk,
            18.6
        ));
    }
}
