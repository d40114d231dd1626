//! The centre line and control limits of one part of a chart, for each kind of chart, as
//! qicharts2's `qic.run`, `qic.p`, `qic.pp`, `qic.u`, `qic.i` and `qic.mr`.

use std::ops::Range;

use super::chart::ChartKind;
use super::moving_range::{moving_range_sigma, D4};
use super::subgroups::Subgroups;
use crate::core::error::{Error, Result};

/// One part of a chart as its lines are computed from it.
pub(super) struct Part<'a> {
    /// The part's 1-based number.
    pub number: usize,
    /// Its subgroups' 0-based indices.
    pub range: Range<usize>,
    /// The subgroups of the whole chart.
    pub subgroups: &'a Subgroups,
    /// The chart's value of each subgroup of the whole chart (`y / n`, the measurement or the
    /// moving range; `None` if missing).
    pub y: &'a [Option<f64>],
    /// Whether each subgroup of the whole chart is in the base of its part: in the baseline
    /// and not excluded.
    pub base: &'a [bool],
}

/// The centre line of a part and the limits `(lcl, ucl)` of each of its subgroups (`None`
/// where the subgroup has no value, and for every subgroup of a run chart).
pub(super) struct PartLines {
    pub cl: f64,
    pub limits: Vec<Option<(f64, f64)>>,
}

impl Part<'_> {
    /// `part 2 (subgroups 19 to 36, '2022-07' to '2023-12')`, for messages.
    fn name(&self) -> String {
        let labels = self.subgroups.labels();
        let (first, last) = (self.range.start, self.range.end - 1);
        format!(
            "part {} (subgroups {} to {}, '{}' to '{}')",
            self.number,
            first + 1,
            last + 1,
            labels[first],
            labels[last]
        )
    }

    /// The base subgroups' indices, in order.
    fn base_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.range.clone().filter(|&i| self.base[i])
    }

    /// The base subgroups' values, in order, missing ones kept as `None`.
    fn base_values(&self) -> Vec<Option<f64>> {
        self.base_indices().map(|i| self.y[i]).collect()
    }

    /// The binomial standard deviation `sqrt(cl (1 - cl) / n)` of a proportion in subgroup `i`.
    fn binomial_sd(&self, cl: f64, i: usize) -> Option<f64> {
        let (_, n) = self.subgroups.count(i)?;
        Some((cl * (1.0 - cl) / n).sqrt())
    }

    /// `(lcl, ucl)` of each subgroup of the part with a value, from `limits(i)`.
    fn limits_of(&self, limits: impl Fn(usize) -> Option<(f64, f64)>) -> Vec<Option<(f64, f64)>> {
        self.range
            .clone()
            .map(|i| self.y[i].and(limits(i)))
            .collect()
    }
}

/// The centre line and limits of `part` for a chart of `kind`, by the formulas in
/// [`ChartKind`]'s docs (as qicharts2 computes them, in the same order of operations).
///
/// Errors: no base subgroup with a value ([`Error::TooFewData`], naming the part); no
/// moving range for the sigma of an I or p' chart (the same); a p' chart whose centre line is
/// 0 or 1 ([`Error::InvalidArgument`]: its z-scores are undefined).
pub(super) fn part_lines(kind: ChartKind, part: &Part<'_>, screened: bool) -> Result<PartLines> {
    let values: Vec<f64> = part.base_values().into_iter().flatten().collect();
    if values.is_empty() {
        return Err(Error::too_few(
            format!("the centre line of the {} of {}", kind.title(), part.name()),
            "baseline subgroups with a value (not missing, not excluded)",
            0,
            1,
        ));
    }
    let sigma_of = |series: &[Option<f64>]| {
        moving_range_sigma(series, screened).ok_or_else(|| {
            Error::too_few(
                format!("the sigma of the {} of {}", kind.title(), part.name()),
                "moving ranges between neighbouring baseline subgroups with values (when \
                 screened, none if all are 0)",
                0,
                1,
            )
        })
    };
    let lines = match kind {
        ChartKind::Run => PartLines {
            cl: median(values),
            limits: vec![None; part.range.len()],
        },
        ChartKind::I => {
            let cl = mean(&values);
            let sigma = sigma_of(&part.base_values())?;
            PartLines {
                cl,
                limits: part.limits_of(|_| Some((cl - 3.0 * sigma, cl + 3.0 * sigma))),
            }
        }
        ChartKind::Mr => {
            let cl = mean(&values);
            PartLines {
                cl,
                limits: part.limits_of(|_| Some((0.0, D4 * cl))),
            }
        }
        ChartKind::P => {
            let cl = proportion(part);
            PartLines {
                cl,
                limits: part.limits_of(|i| {
                    let sd = part.binomial_sd(cl, i)?;
                    Some(((cl - 3.0 * sd).max(0.0), (cl + 3.0 * sd).min(1.0)))
                }),
            }
        }
        ChartKind::U => {
            let cl = proportion(part);
            PartLines {
                cl,
                limits: part.limits_of(|i| {
                    let (_, n) = part.subgroups.count(i)?;
                    let sd = (cl / n).sqrt();
                    Some(((cl - 3.0 * sd).max(0.0), cl + 3.0 * sd))
                }),
            }
        }
        ChartKind::PPrime => {
            let cl = proportion(part);
            if cl <= 0.0 || cl >= 1.0 {
                return Err(Error::invalid(
                    "chart",
                    format!(
                        "the {} of {}: its centre line is {cl}, so the binomial SD of every \
                         subgroup is 0 and the z-scores are undefined; use a p chart",
                        kind.title(),
                        part.name()
                    ),
                ));
            }
            let z: Vec<Option<f64>> = part
                .base_indices()
                .map(|i| Some((part.y[i]? - cl) / part.binomial_sd(cl, i)?))
                .collect();
            let sigma_z = sigma_of(&z)?;
            PartLines {
                cl,
                limits: part.limits_of(|i| {
                    let sd = part.binomial_sd(cl, i)? * sigma_z;
                    Some(((cl - 3.0 * sd).max(0.0), (cl + 3.0 * sd).min(1.0)))
                }),
            }
        }
    };
    Ok(lines)
}

/// `sum(y[base]) / sum(n[base])` over the part's base subgroups with a value (which has at
/// least one, with `n > 0`).
fn proportion(part: &Part<'_>) -> f64 {
    let (y, n) = part
        .base_indices()
        .filter_map(|i| part.subgroups.count(i))
        .fold((0.0, 0.0), |(sy, sn), (y, n)| (sy + y, sn + n));
    y / n
}

/// The mean of `values` (not empty).
fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The median of `values` (not empty), as R's `median`: the middle value, or the mean of the
/// two middle values.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let half = values.len() / 2;
    if values.len() % 2 == 1 {
        values[half]
    } else {
        (values[half - 1] + values[half]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![0.2, 0.2]), 0.2);
    }
}
