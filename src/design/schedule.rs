//! The design of a stepped-wedge, staggered-rollout or parallel cluster trial: which clusters
//! are under the intervention in which periods, and which cluster-periods are observed.

use serde::{Serialize, Serializer};

use crate::core::dates::Date;
use crate::core::error::{Error, Result};

/// One period of a [`Design`]: a label and, for calendar periods, its first day and the day
/// after its last (`end` is exclusive, so a month runs from its 1st to the 1st of the next).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// The label (`1`, `2023-09`), unique within its design.
    pub label: String,
    /// Its first day, for a calendar period.
    #[serde(serialize_with = "iso_date", skip_serializing_if = "Option::is_none")]
    pub start: Option<Date>,
    /// The day after its last day, for a calendar period.
    #[serde(serialize_with = "iso_date", skip_serializing_if = "Option::is_none")]
    pub end: Option<Date>,
}

/// A date as `YYYY-MM-DD` (serde).
fn iso_date<S: Serializer>(date: &Option<Date>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match date {
        Some(d) => s.serialize_str(&d.to_string()),
        None => s.serialize_none(),
    }
}

impl Period {
    /// A period without calendar dates, labelled `label`.
    pub fn numbered(label: impl Into<String>) -> Period {
        Period {
            label: label.into(),
            start: None,
            end: None,
        }
    }

    /// The calendar period from `start` up to, not including, `end`; an
    /// [`Error::InvalidArgument`] unless `start` comes before `end`.
    pub fn dated(label: impl Into<String>, start: Date, end: Date) -> Result<Period> {
        let label = label.into();
        if start >= end {
            return Err(Error::invalid(
                "periods",
                format!(
                    "period '{label}' starts on {start} but ends before it (on {end}, exclusive)"
                ),
            ));
        }
        Ok(Period {
            label,
            start: Some(start),
            end: Some(end),
        })
    }

    /// Every calendar month from the month of `first` to the month of `last`, labelled
    /// `YYYY-MM`. Errors if `last` comes before `first` or a month would end after 9999.
    pub fn months(first: Date, last: Date) -> Result<Vec<Period>> {
        if last < first {
            return Err(Error::invalid(
                "periods",
                format!("the last day {last} comes before the first {first}"),
            ));
        }
        let (y, m, _) = first.ymd();
        let mut start = Date::from_ymd(y, m, 1);
        let mut months = Vec::new();
        while let Some(s) = start.filter(|s| *s <= last) {
            let end = s.add_months(1).ok_or_else(|| {
                Error::invalid("periods", format!("the month of {s} ends after 9999-12-31"))
            })?;
            let (y, m, _) = s.ymd();
            months.push(Period::dated(format!("{y}-{m:02}"), s, end)?);
            start = Some(end);
        }
        Ok(months)
    }

    /// Days in the period, for a calendar period.
    pub fn days(&self) -> Option<i32> {
        Some(self.end?.days_since(self.start?))
    }
}

/// A cluster trial's design: for each cluster (row) and period (column) the share of the
/// cluster-period under the intervention, or no value for a cluster-period that is not
/// observed.
///
/// A share is 0 (usual care), 1 (the intervention) or a fraction in between: a transition
/// period in which the intervention takes partial effect (swCRTdesign's `tx.effect.frac`), or
/// a calendar period in which it started part-way. In the closed-form power the share is the
/// treatment regressor as it is, so a cell of 0.5 carries half the effect
/// ([`ClosedForm`](crate::design::ClosedForm)). A cell without a value is a cluster-period in which no
/// outcome is measured: before a cluster joins an incomplete design, during an implementation
/// period, or after it leaves.
///
/// The fields are private and every constructor checks them, so a `Design` always has at
/// least one cluster and one period, one value or gap per cluster and period, shares in
/// [0, 1], and unique cluster and period labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Design {
    clusters: Vec<String>,
    periods: Vec<Period>,
    cells: Vec<Vec<Option<f64>>>,
}

/// The number of cells of a [`Design`] of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CellCounts {
    /// Observed cells under usual care (share 0).
    pub control: usize,
    /// Observed cells fully under the intervention (share 1).
    pub intervention: usize,
    /// Observed cells partly under the intervention (a share between 0 and 1).
    pub partial: usize,
    /// Cells not observed.
    pub unobserved: usize,
}

/// The standard complete stepped wedge of swCRTdesign's `swDsn`, with its options: waves of
/// clusters crossing from usual care to the intervention one period apart, after `baseline`
/// periods of usual care and followed by `extra_treated` periods with every cluster under the
/// intervention.
///
/// `SteppedWedge::new(&[3, 3, 3]).build()` is `swDsn(c(3, 3, 3))`: 9 clusters over 4 periods,
/// wave k (1-based) under the intervention from period k + 1. The options map to `swDsn`'s as
/// `baseline(b)` = `all.ctl.time0` (1 or 0) + `extra.ctl.time`, `extra_treated(e)` =
/// `extra.trt.time`, `fractions(f)` = `tx.effect.frac`. A wave of 0 clusters is a step at which
/// no cluster crosses (as `swDsn`'s 0 in `clusters`).
#[derive(Debug, Clone, PartialEq)]
pub struct SteppedWedge {
    clusters_per_wave: Vec<usize>,
    baseline: usize,
    extra_treated: usize,
    fractions: Vec<f64>,
    unobserved: usize,
}

impl SteppedWedge {
    /// A stepped wedge with these numbers of clusters per wave, one baseline period, no extra
    /// period, no transition.
    pub fn new(clusters_per_wave: &[usize]) -> Self {
        SteppedWedge {
            clusters_per_wave: clusters_per_wave.to_vec(),
            baseline: 1,
            extra_treated: 0,
            fractions: Vec::new(),
            unobserved: 0,
        }
    }

    /// Periods of usual care for every cluster before the first wave crosses (default 1; 0 is
    /// `swDsn`'s `all.ctl.time0 = FALSE`: the first wave is under the intervention from the
    /// first period).
    pub fn baseline(mut self, periods: usize) -> Self {
        self.baseline = periods;
        self
    }

    /// Periods after the last wave has crossed, with every cluster under the intervention
    /// (default 0; `swDsn`'s `extra.trt.time`).
    pub fn extra_treated(mut self, periods: usize) -> Self {
        self.extra_treated = periods;
        self
    }

    /// The effect in the first periods after a wave crosses, as a share of the full effect:
    /// the k-th period under the intervention has share `fractions[k - 1]`, later periods 1
    /// (`swDsn`'s `tx.effect.frac`: `[0.5]` is a transition period at half the effect). Each
    /// share must be in (0, 1].
    pub fn fractions(mut self, fractions: &[f64]) -> Self {
        self.fractions = fractions.to_vec();
        self
    }

    /// The first `periods` periods after each wave crosses are not observed (an implementation
    /// period in which no outcome is measured; Hemming's transition period); the shares of
    /// [`SteppedWedge::fractions`] then apply to the periods after them.
    pub fn unobserved_transition(mut self, periods: usize) -> Self {
        self.unobserved = periods;
        self
    }

    /// The design: clusters `Cluster 1`.. in wave order, periods `1`..
    ///
    /// Errors ([`Error::InvalidArgument`] naming the option): no cluster in any wave, or a
    /// fraction outside (0, 1] ([`Design::with_fractions`]).
    pub fn build(&self) -> Result<Design> {
        let total: usize = self.clusters_per_wave.iter().sum();
        if total == 0 {
            return Err(Error::invalid(
                "clusters_per_wave",
                format!(
                    "{:?} has no cluster; a stepped wedge needs at least one wave with a cluster",
                    self.clusters_per_wave
                ),
            ));
        }
        let n_periods = self.baseline + self.clusters_per_wave.len() + self.extra_treated;
        let starts: Vec<Option<usize>> = self
            .clusters_per_wave
            .iter()
            .enumerate()
            .flat_map(|(wave, &count)| std::iter::repeat_n(Some(self.baseline + wave + 1), count))
            .collect();
        Design::from_start_periods(&starts, n_periods)?
            .with_unobserved_transition(self.unobserved)?
            .with_fractions(&self.fractions)
    }
}

impl Design {
    /// A design from its cells: per cluster, per period, the share under the intervention in
    /// [0, 1] or `None` for a cluster-period that is not observed. Clusters are labelled
    /// `Cluster 1`.., periods `1`..
    ///
    /// Errors: no cluster or no period ([`Error::TooFewData`]); rows of different lengths or a
    /// share outside [0, 1] ([`Error::InvalidArgument`] naming the cluster and period).
    pub fn new(cells: Vec<Vec<Option<f64>>>) -> Result<Design> {
        if cells.is_empty() {
            return Err(Error::too_few("a design", "clusters", 0, 1));
        }
        let n_periods = cells[0].len();
        if n_periods == 0 {
            return Err(Error::too_few("a design", "periods", 0, 1));
        }
        for (i, row) in cells.iter().enumerate() {
            if row.len() != n_periods {
                return Err(Error::invalid(
                    "design",
                    format!(
                        "cluster {} has {} periods but cluster 1 has {n_periods}; every cluster \
                         needs one cell per period",
                        i + 1,
                        row.len()
                    ),
                ));
            }
            if let Some((j, share)) = row
                .iter()
                .enumerate()
                .find_map(|(j, c)| c.filter(|s| !(0.0..=1.0).contains(s)).map(|s| (j, s)))
            {
                return Err(Error::invalid(
                    "design",
                    format!(
                        "cluster {}, period {} has share {share}; the share under the \
                         intervention must be in [0, 1] (or no value for an unobserved cell)",
                        i + 1,
                        j + 1
                    ),
                ));
            }
        }
        Ok(Design {
            clusters: (1..=cells.len()).map(|k| format!("Cluster {k}")).collect(),
            periods: (1..=n_periods)
                .map(|k| Period::numbered(k.to_string()))
                .collect(),
            cells,
        })
    }

    /// The standard complete stepped wedge with these numbers of clusters per wave (see
    /// [`SteppedWedge`] for the options): `Design::stepped_wedge(&[3, 3, 3])` is
    /// `swDsn(c(3, 3, 3))`.
    pub fn stepped_wedge(clusters_per_wave: &[usize]) -> Result<Design> {
        SteppedWedge::new(clusters_per_wave).build()
    }

    /// A parallel cluster trial over `periods` periods: `treated` clusters under the
    /// intervention throughout, then `control` clusters under usual care throughout.
    pub fn parallel(treated: usize, control: usize, periods: usize) -> Result<Design> {
        Design::parallel_baseline(treated, control, 0, periods)
    }

    /// A parallel cluster trial with a baseline: every cluster under usual care for `baseline`
    /// periods, then `treated` clusters under the intervention and `control` clusters under
    /// usual care for `follow_up` periods.
    pub fn parallel_baseline(
        treated: usize,
        control: usize,
        baseline: usize,
        follow_up: usize,
    ) -> Result<Design> {
        let row = |share: f64| -> Vec<Option<f64>> {
            (0..baseline + follow_up)
                .map(|j| Some(if j < baseline { 0.0 } else { share }))
                .collect()
        };
        let mut cells = vec![row(1.0); treated];
        cells.extend(vec![row(0.0); control]);
        Design::new(cells)
    }

    /// A design from one row per wave (swCRTdesign's `swBlk`), each repeated for the wave's
    /// number of clusters: `blocks[w]` holds wave w's shares (`None` where not observed), and
    /// `clusters_per_wave[w]` its clusters. Errors if the two lengths differ, besides those of
    /// [`Design::new`].
    pub fn from_waves(blocks: &[Vec<Option<f64>>], clusters_per_wave: &[usize]) -> Result<Design> {
        if blocks.len() != clusters_per_wave.len() {
            return Err(Error::invalid(
                "clusters_per_wave",
                format!(
                    "{} waves of clusters for {} rows of the design; one count per row is needed",
                    clusters_per_wave.len(),
                    blocks.len()
                ),
            ));
        }
        let cells = blocks
            .iter()
            .zip(clusters_per_wave)
            .flat_map(|(row, &count)| std::iter::repeat_n(row.clone(), count))
            .collect();
        Design::new(cells)
    }

    /// A staggered rollout over `n_periods` periods: cluster i under usual care before period
    /// `starts[i]` (1-based) and under the intervention from it on; `None`, or a start after
    /// the last period, keeps the cluster under usual care throughout. Errors on a start of 0.
    pub fn from_start_periods(starts: &[Option<usize>], n_periods: usize) -> Result<Design> {
        if let Some(i) = starts.iter().position(|s| *s == Some(0)) {
            return Err(Error::invalid(
                "starts",
                format!(
                    "cluster {} starts in period 0; periods are numbered from 1",
                    i + 1
                ),
            ));
        }
        let cells = starts
            .iter()
            .map(|start| {
                (1..=n_periods)
                    .map(|p| {
                        Some(if start.is_some_and(|s| p >= s) {
                            1.0
                        } else {
                            0.0
                        })
                    })
                    .collect()
            })
            .collect();
        Design::new(cells)
    }

    /// A schedule read from rollout dates: one cluster per `(label, start)`, one column per
    /// calendar period of `periods` (e.g. [`Period::months`]), each cell the share of the
    /// period's days on or after the cluster's start date (0 before it, 1 once it has passed,
    /// a share in the period it falls in; `None`: never started).
    ///
    /// Errors: a period without dates, or a repeated cluster or period label
    /// ([`Error::InvalidArgument`]), besides those of [`Design::new`].
    pub fn from_rollout_dates(
        clusters: &[(String, Option<Date>)],
        periods: Vec<Period>,
    ) -> Result<Design> {
        let mut spans = Vec::with_capacity(periods.len());
        for p in &periods {
            match (p.start, p.end) {
                (Some(s), Some(e)) if s < e => spans.push((s, e)),
                _ => {
                    return Err(Error::invalid(
                        "periods",
                        format!(
                            "period '{}' has no calendar dates; rollout dates need dated periods",
                            p.label
                        ),
                    ))
                }
            }
        }
        let cells = clusters
            .iter()
            .map(|(_, start)| {
                spans
                    .iter()
                    .map(|&(s, e)| {
                        let on = start.map_or(0, |d| e.days_since(d.max(s)).max(0));
                        Some(f64::from(on) / f64::from(e.days_since(s)))
                    })
                    .collect()
            })
            .collect();
        Design::new(cells)?
            .with_cluster_labels(clusters.iter().map(|(c, _)| c.clone()).collect())?
            .with_periods(periods)
    }

    /// This design with these cluster labels, one per cluster, each used once.
    pub fn with_cluster_labels(mut self, labels: Vec<String>) -> Result<Design> {
        check_labels("cluster labels", &labels, self.cells.len())?;
        self.clusters = labels;
        Ok(self)
    }

    /// This design with these periods, one per column, each label used once.
    pub fn with_periods(mut self, periods: Vec<Period>) -> Result<Design> {
        let labels: Vec<String> = periods.iter().map(|p| p.label.clone()).collect();
        check_labels("periods", &labels, self.n_periods())?;
        self.periods = periods;
        Ok(self)
    }

    /// This design with the periods labelled `labels` (no calendar dates).
    pub fn with_period_labels(self, labels: Vec<String>) -> Result<Design> {
        self.with_periods(labels.into_iter().map(Period::numbered).collect())
    }

    /// This design with the cells `(cluster, period)` (0-based) not observed; an
    /// [`Error::InvalidArgument`] names a cell outside the design.
    pub fn with_unobserved(mut self, cells: &[(usize, usize)]) -> Result<Design> {
        for &(i, j) in cells {
            let n = self.n_periods();
            let cell = self.cells.get_mut(i).and_then(|r| r.get_mut(j));
            match cell {
                Some(c) => *c = None,
                None => {
                    return Err(Error::invalid(
                        "unobserved",
                        format!(
                            "cell ({i}, {j}) is outside the design of {} clusters and {n} \
                             periods (0-based)",
                            self.cells.len()
                        ),
                    ))
                }
            }
        }
        Ok(self)
    }

    /// The design with transition periods at part of the effect (swCRTdesign's
    /// `tx.effect.frac`): in each cluster, the k-th period from its first observed period under
    /// the intervention gets the share `fractions[k - 1]` (where that period is under the
    /// intervention and observed); later periods keep theirs. The design must be of 0s and 1s
    /// and each share in (0, 1]; errors name the share or the first cell that is neither 0 nor
    /// 1.
    pub fn with_fractions(mut self, fractions: &[f64]) -> Result<Design> {
        if let Some(f) = fractions.iter().find(|f| !(**f > 0.0 && **f <= 1.0)) {
            return Err(Error::invalid(
                "fractions",
                format!("{f} is not a share of the effect in (0, 1]"),
            ));
        }
        if fractions.is_empty() {
            return Ok(self);
        }
        self.check_zero_one("transition fractions")?;
        for row in &mut self.cells {
            let Some(first) = row.iter().position(|c| *c == Some(1.0)) else {
                continue;
            };
            for (cell, &f) in row[first..].iter_mut().zip(fractions) {
                if *cell == Some(1.0) {
                    *cell = Some(f);
                }
            }
        }
        Ok(self)
    }

    /// The design with the first `periods` periods under the intervention of each cluster
    /// (from its first period under it) not observed: an implementation period in which no
    /// outcome is measured. The design must be of 0s and 1s (an error names the first cell
    /// that is not).
    pub fn with_unobserved_transition(mut self, periods: usize) -> Result<Design> {
        if periods == 0 {
            return Ok(self);
        }
        self.check_zero_one("an unobserved transition")?;
        for row in &mut self.cells {
            if let Some(first) = row.iter().position(|c| *c == Some(1.0)) {
                row[first..]
                    .iter_mut()
                    .take(periods)
                    .for_each(|c| *c = None);
            }
        }
        Ok(self)
    }

    /// An error naming the first cell with a share between 0 and 1, for an operation on
    /// designs of 0s and 1s.
    fn check_zero_one(&self, operation: &str) -> Result<()> {
        for (i, row) in self.cells.iter().enumerate() {
            if let Some((j, s)) = row
                .iter()
                .enumerate()
                .find_map(|(j, c)| c.filter(|s| *s > 0.0 && *s < 1.0).map(|s| (j, s)))
            {
                return Err(Error::invalid(
                    "design",
                    format!(
                        "cluster '{}', period '{}' has share {s}; {operation} needs a design of \
                         0s and 1s",
                        self.clusters[i], self.periods[j].label
                    ),
                ));
            }
        }
        Ok(())
    }

    /// An incomplete design: each cluster observed only from `before` periods before its
    /// first period under the intervention to `after` periods from it (that period included;
    /// `None`: to the end), its other cells not observed. A cluster never under the
    /// intervention keeps every cell. `Design::stepped_wedge(&[2, 2, 2, 2])?.observed_window(2,
    /// Some(3))` drops the cells more than 2 periods before or 3 periods after each step.
    pub fn observed_window(mut self, before: usize, after: Option<usize>) -> Design {
        for row in &mut self.cells {
            let Some(step) = row.iter().position(|c| c.is_some_and(|s| s > 0.0)) else {
                continue;
            };
            for (j, cell) in row.iter_mut().enumerate() {
                let too_early = j + before < step;
                let too_late = after.is_some_and(|a| j >= step + a);
                if too_early || too_late {
                    *cell = None;
                }
            }
        }
        self
    }

    /// The design with consecutive periods merged: `lengths[k]` periods into the k-th new
    /// period (they must add up to the number of periods). A merged cell's share is the mean
    /// of its observed cells (weighted by their days for calendar periods), and it is not
    /// observed when none of them is; a merged label is `first-last` (or the one label), and
    /// a merged calendar period runs from the first's start to the last's end. The KTH 2.0
    /// months 1-4, 5-7, 8-10, 11-13 and 14-17 are `merge_periods(&[4, 3, 3, 3, 4])`.
    pub fn merge_periods(&self, lengths: &[usize]) -> Result<Design> {
        let total: usize = lengths.iter().sum();
        if total != self.n_periods() || lengths.contains(&0) {
            return Err(Error::invalid(
                "lengths",
                format!(
                    "{lengths:?} must be positive and add up to the {} periods of the design",
                    self.n_periods()
                ),
            ));
        }
        let mut groups = Vec::with_capacity(lengths.len());
        let mut first = 0;
        for &len in lengths {
            groups.push(first..first + len);
            first += len;
        }
        let weight = |j: usize| self.periods[j].days().map_or(1.0, f64::from);
        let cells = self
            .cells
            .iter()
            .map(|row| {
                groups
                    .iter()
                    .map(|g| {
                        let (sum, w) = g
                            .clone()
                            .filter_map(|j| row[j].map(|s| (s * weight(j), weight(j))))
                            .fold((0.0, 0.0), |(a, b), (s, w)| (a + s, b + w));
                        (w > 0.0).then(|| (sum / w).clamp(0.0, 1.0))
                    })
                    .collect()
            })
            .collect();
        let periods = groups
            .iter()
            .map(|g| {
                let (a, b) = (&self.periods[g.start], &self.periods[g.end - 1]);
                let label = if g.len() == 1 {
                    a.label.clone()
                } else {
                    format!("{}-{}", a.label, b.label)
                };
                Period {
                    label,
                    start: a.start.filter(|_| b.end.is_some()),
                    end: b.end.filter(|_| a.start.is_some()),
                }
            })
            .collect();
        Design::new(cells)?
            .with_cluster_labels(self.clusters.clone())?
            .with_periods(periods)
    }

    /// The design with every wave (a run of consecutive clusters with the same cells, see
    /// [`Design::waves`]) made of `per_wave` clusters, labelled `Cluster 1`.. anew; the
    /// periods are kept. Errors if `per_wave` is 0.
    pub fn replicate_waves(&self, per_wave: usize) -> Result<Design> {
        if per_wave == 0 {
            return Err(Error::invalid(
                "clusters_per_wave",
                "0 clusters per wave leaves no cluster",
            ));
        }
        let mut blocks = Vec::new();
        let mut row = 0;
        for count in self.waves() {
            blocks.push(self.cells[row].clone());
            row += count;
        }
        Design::from_waves(&blocks, &vec![per_wave; blocks.len()])?
            .with_periods(self.periods.clone())
    }

    /// Number of clusters.
    pub fn n_clusters(&self) -> usize {
        self.cells.len()
    }

    /// Number of periods.
    pub fn n_periods(&self) -> usize {
        self.periods.len()
    }

    /// The cluster labels, in row order.
    pub fn clusters(&self) -> &[String] {
        &self.clusters
    }

    /// The periods, in column order.
    pub fn periods(&self) -> &[Period] {
        &self.periods
    }

    /// The cells: per cluster, per period, the share under the intervention or `None` where
    /// not observed.
    pub fn cells(&self) -> &[Vec<Option<f64>>] {
        &self.cells
    }

    /// The share of cluster `cluster` (0-based) under the intervention in period `period`
    /// (0-based); `None` for a cell that is not observed or outside the design.
    pub fn share(&self, cluster: usize, period: usize) -> Option<f64> {
        self.cells.get(cluster)?.get(period).copied().flatten()
    }

    /// The row of the cluster labelled `label`; an [`Error::UnknownTerm`] lists the labels
    /// there are.
    pub fn cluster_index(&self, label: &str) -> Result<usize> {
        self.clusters
            .iter()
            .position(|c| c == label)
            .ok_or_else(|| Error::unknown_term("design clusters", label, &self.clusters))
    }

    /// The column of the period labelled `label`; an [`Error::UnknownTerm`] lists the labels
    /// there are.
    pub fn period_index(&self, label: &str) -> Result<usize> {
        let labels: Vec<&str> = self.periods.iter().map(|p| p.label.as_str()).collect();
        labels
            .iter()
            .position(|p| *p == label)
            .ok_or_else(|| Error::unknown_term("design periods", label, &labels))
    }

    /// The waves: the lengths of the runs of consecutive clusters with the same cells
    /// (swCRTdesign's `clusters`): `[3, 3, 3]` for `Design::stepped_wedge(&[3, 3, 3])`.
    pub fn waves(&self) -> Vec<usize> {
        let mut waves: Vec<usize> = Vec::new();
        for (i, row) in self.cells.iter().enumerate() {
            match waves.last_mut() {
                Some(n) if self.cells[i - 1] == *row => *n += 1,
                _ => waves.push(1),
            }
        }
        waves
    }

    /// The number of cells of each kind.
    pub fn cell_counts(&self) -> CellCounts {
        let mut counts = CellCounts {
            control: 0,
            intervention: 0,
            partial: 0,
            unobserved: 0,
        };
        for cell in self.cells.iter().flatten() {
            match cell {
                None => counts.unobserved += 1,
                Some(s) if *s == 0.0 => counts.control += 1,
                Some(s) if *s == 1.0 => counts.intervention += 1,
                Some(_) => counts.partial += 1,
            }
        }
        counts
    }

    /// The exposure time of every cell of a design of 0s and 1s (Kenny et al. 2022): the
    /// number of periods under the intervention up to and including this one, unobserved
    /// cells counting as 0 (as swCRTdesign's `swPwr` with `H`); 0 under usual care. An
    /// [`Error::InvalidArgument`] names the first cell with a share between 0 and 1, for which
    /// an exposure time is not defined.
    pub fn exposure_times(&self) -> Result<Vec<Vec<usize>>> {
        self.check_zero_one("the exposure-time model")?;
        Ok(self
            .cells
            .iter()
            .map(|row| {
                let mut exposed = 0;
                row.iter()
                    .map(|cell| {
                        if *cell == Some(1.0) {
                            exposed += 1;
                            exposed
                        } else {
                            0
                        }
                    })
                    .collect()
            })
            .collect())
    }
}

/// Checks that `labels` has `expected` entries, each used once.
fn check_labels(what: &str, labels: &[String], expected: usize) -> Result<()> {
    if labels.len() != expected {
        return Err(Error::invalid(
            what,
            format!("{} labels for {expected}; one each is needed", labels.len()),
        ));
    }
    for (k, label) in labels.iter().enumerate() {
        if labels[..k].contains(label) {
            return Err(Error::invalid(
                what,
                format!("'{label}' is used twice; each label must name one row or column"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of a design as strings: `0`, `1`, the share, or `-` for an unobserved cell.
    fn rows(d: &Design) -> Vec<String> {
        d.cells()
            .iter()
            .map(|r| {
                r.iter()
                    .map(|c| c.map_or("-".to_string(), |s| s.to_string()))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    fn message(e: Error) -> String {
        match e {
            Error::InvalidArgument { argument, message } => format!("{argument}: {message}"),
            other => other.to_string(),
        }
    }

    #[test]
    fn the_standard_stepped_wedge_and_its_options() {
        let d = Design::stepped_wedge(&[2, 1]).unwrap();
        assert_eq!(rows(&d), ["0 1 1", "0 1 1", "0 0 1"]);
        assert_eq!(d.waves(), [2, 1]);
        assert_eq!(d.clusters()[2], "Cluster 3");
        assert_eq!(d.periods()[2].label, "3");
        // swDsn(c(1, 0, 1)): a step at which no cluster crosses.
        let gap = Design::stepped_wedge(&[1, 0, 1]).unwrap();
        assert_eq!(rows(&gap), ["0 1 1 1", "0 0 0 1"]);
        // all.ctl.time0 = FALSE, extra.ctl.time = 1, extra.trt.time = 1, tx.effect.frac.
        let sw = |b| SteppedWedge::new(&[1, 1]).baseline(b);
        assert_eq!(rows(&sw(0).build().unwrap()), ["1 1", "0 1"]);
        assert_eq!(
            rows(&sw(2).extra_treated(1).build().unwrap()),
            ["0 0 1 1 1", "0 0 0 1 1"]
        );
        assert_eq!(
            rows(&sw(1).fractions(&[0.3, 0.7]).build().unwrap()),
            ["0 0.3 0.7", "0 0 0.3"]
        );
        // An implementation period that is not measured, then half the effect.
        let d = sw(1)
            .extra_treated(2)
            .unobserved_transition(1)
            .fractions(&[0.5])
            .build()
            .unwrap();
        assert_eq!(rows(&d), ["0 - 0.5 1 1", "0 0 - 0.5 1"]);
        assert_eq!(
            d.cell_counts(),
            CellCounts {
                control: 3,
                intervention: 3,
                partial: 2,
                unobserved: 2
            }
        );
        assert!(message(SteppedWedge::new(&[0, 0]).build().unwrap_err()).contains("no cluster"));
        let bad = sw(1).fractions(&[1.5]).build().unwrap_err();
        assert!(message(bad).starts_with("fractions: 1.5"));
    }

    #[test]
    fn parallel_designs_and_waves() {
        let d = Design::parallel(1, 2, 2).unwrap();
        assert_eq!(rows(&d), ["1 1", "0 0", "0 0"]);
        assert_eq!(d.waves(), [1, 2]);
        let b = Design::parallel_baseline(1, 1, 1, 2).unwrap();
        assert_eq!(rows(&b), ["0 1 1", "0 0 0"]);
        let w = Design::from_waves(
            &[vec![Some(0.0), None], vec![Some(1.0), Some(1.0)]],
            &[2, 1],
        )
        .unwrap();
        assert_eq!(rows(&w), ["0 -", "0 -", "1 1"]);
        assert!(
            message(Design::from_waves(&[vec![Some(0.0)]], &[1, 1]).unwrap_err())
                .contains("2 waves of clusters for 1 rows")
        );
        let more = Design::stepped_wedge(&[1, 2])
            .unwrap()
            .replicate_waves(3)
            .unwrap();
        assert_eq!(more.waves(), [3, 3]);
        assert_eq!(more.n_clusters(), 6);
        assert!(Design::stepped_wedge(&[1])
            .unwrap()
            .replicate_waves(0)
            .is_err());
    }

    #[test]
    fn incomplete_designs() {
        let d = Design::stepped_wedge(&[1, 1, 1, 1]).unwrap();
        assert_eq!(
            rows(&d.clone().observed_window(1, Some(2))),
            ["0 1 1 - -", "- 0 1 1 -", "- - 0 1 1", "- - - 0 1"]
        );
        let parallel = Design::parallel(0, 1, 3)
            .unwrap()
            .observed_window(0, Some(1));
        assert_eq!(
            rows(&parallel),
            ["0 0 0"],
            "a cluster never treated keeps its cells"
        );
        let gaps = d.clone().with_unobserved(&[(0, 0), (3, 4)]).unwrap();
        assert_eq!(gaps.share(0, 0), None);
        assert_eq!(gaps.share(0, 1), Some(1.0));
        assert_eq!(gaps.cell_counts().unobserved, 2);
        let outside = d.with_unobserved(&[(4, 0)]).unwrap_err();
        assert!(message(outside).contains("cell (4, 0) is outside"));
    }

    #[test]
    fn invalid_designs_name_the_cell() {
        assert!(matches!(
            Design::new(vec![]).unwrap_err(),
            Error::TooFewData { ref unit, .. } if unit == "clusters"
        ));
        assert!(matches!(
            Design::new(vec![vec![]]).unwrap_err(),
            Error::TooFewData { ref unit, .. } if unit == "periods"
        ));
        let ragged = Design::new(vec![vec![Some(0.0), Some(1.0)], vec![Some(0.0)]]);
        assert!(message(ragged.unwrap_err()).contains("cluster 2 has 1 periods"));
        for bad in [-0.1, 1.1, f64::NAN, f64::INFINITY] {
            let e = Design::new(vec![vec![Some(0.0), Some(bad)]]).unwrap_err();
            assert!(
                message(e).contains("cluster 1, period 2 has share"),
                "{bad}"
            );
        }
        let d = Design::stepped_wedge(&[1, 1]).unwrap();
        let twice = d.clone().with_cluster_labels(vec!["A".into(), "A".into()]);
        assert!(message(twice.unwrap_err()).contains("'A' is used twice"));
        let short = d.clone().with_period_labels(vec!["1".into()]);
        assert!(message(short.unwrap_err()).contains("1 labels for 3"));
        assert!(matches!(
            d.cluster_index("Cluster 9").unwrap_err(),
            Error::UnknownTerm { .. }
        ));
        assert_eq!(d.period_index("3").unwrap(), 2);
        let zero = Design::from_start_periods(&[Some(0)], 2).unwrap_err();
        assert!(message(zero).contains("period 0"));
        let undated =
            Design::from_rollout_dates(&[("A".into(), None)], vec![Period::numbered("1")]);
        assert!(message(undated.unwrap_err()).contains("period '1' has no calendar dates"));
    }

    #[test]
    fn calendar_periods_and_rollout_dates() {
        let date = |y, m, d| Date::from_ymd(y, m, d).unwrap();
        let months = Period::months(date(2024, 1, 20), date(2024, 3, 1)).unwrap();
        let labels: Vec<&str> = months.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["2024-01", "2024-02", "2024-03"]);
        assert_eq!(months[1].days(), Some(29));
        assert!(Period::months(date(2024, 2, 1), date(2024, 1, 1)).is_err());
        assert!(Period::dated("x", date(2024, 2, 1), date(2024, 2, 1)).is_err());
        let d = Design::from_rollout_dates(
            &[
                ("early".into(), Some(date(2023, 12, 1))),
                ("mid".into(), Some(date(2024, 2, 15))),
                ("late".into(), Some(date(2024, 6, 1))),
                ("never".into(), None),
            ],
            months,
        )
        .unwrap();
        assert_eq!(rows(&d)[0], "1 1 1");
        // 15 February 2024: 15 of 29 days.
        assert_eq!(d.share(1, 1), Some(15.0 / 29.0));
        assert_eq!(rows(&d)[2], "0 0 0");
        assert_eq!(rows(&d)[3], "0 0 0");
        assert_eq!(d.clusters()[1], "mid");
        // Merged by days: 31 + 29 days, 15 of them under the intervention.
        let merged = d.merge_periods(&[2, 1]).unwrap();
        assert!((merged.share(1, 0).unwrap() - 15.0 / 60.0).abs() < 1e-15);
        let first = &merged.periods()[0];
        assert_eq!(first.label, "2024-01-2024-02");
        assert_eq!(first.days(), Some(60));
        assert!(d.merge_periods(&[2, 2]).is_err());
        assert!(d.merge_periods(&[3, 0]).is_err());
    }

    #[test]
    fn merged_periods_average_the_observed_cells() {
        let d = Design::new(vec![vec![Some(0.0), Some(1.0), None, None]]).unwrap();
        let m = d.merge_periods(&[2, 2]).unwrap();
        assert_eq!(m.cells(), [vec![Some(0.5), None]]);
        assert_eq!(m.periods()[0].label, "1-2");
        assert_eq!(m.periods()[0].days(), None);
    }

    #[test]
    fn exposure_times_count_the_periods_under_the_intervention() {
        let d = Design::new(vec![
            vec![Some(0.0), Some(1.0), None, Some(1.0)],
            vec![Some(0.0), Some(0.0), Some(0.0), Some(1.0)],
        ])
        .unwrap();
        assert_eq!(d.exposure_times().unwrap(), [[0, 1, 0, 2], [0, 0, 0, 1]]);
        let half = SteppedWedge::new(&[1]).fractions(&[0.5]).build().unwrap();
        let e = message(half.exposure_times().unwrap_err());
        assert!(
            e.contains("cluster 'Cluster 1', period '2' has share 0.5"),
            "{e}"
        );
        assert!(half.with_fractions(&[0.5]).is_err());
    }
}
