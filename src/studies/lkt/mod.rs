//! The national learning and quality team (LKT) on coherent hip-fracture pathways: 11 local
//! teams (a hospital and its municipalities) follow four result indicators month by month and
//! compare themselves on funnel plots.
//!
//! This is the library side of the example `lkt_indicators`
//! (`cargo run --release --example lkt_indicators -- --out DIR`).
//!
//! # The indicators
//! For patients aged 65+ operated for a hip fracture ([`Indicator`]), derived from dates and
//! scores by [`crate::outcomes`] ([`prepare`]):
//! - 30-day readmission among patients discharged alive (`readmit30`);
//! - 30-day mortality from surgery (`death30`);
//! - regained pre-fracture Cumulated Ambulation Score at follow-up (`cas_regained`);
//! - regained pre-fracture New Mobility Score at follow-up (`nms_regained`).
//!
//! A patient with a missing indicator (not at risk of readmission, not scored) is left out of
//! that indicator's numerator and denominator, and counted.
//!
//! # The teams
//! [`LKT_TEAMS`]: the names and baseline volumes as published (December 2023 to November 2024;
//! 2,174 patients in the 11 teams against the published total of 2,215, [`PUBLISHED_TOTAL`]).
//! The patient data are not public: [`synthetic`] makes a synthetic cohort of the teams.
//!
//! # The monitoring
//! [`Monitoring::run`] derives the indicators and computes, per indicator, a run chart per
//! team, a p chart per team (30-day readmission), and a case-mix-adjusted funnel plot across the
//! teams, with the signals of each team in one table ([`Monitoring::signal_table`]); see
//! `monitoring.rs` for what each chart is.

mod monitoring;
pub mod synthetic;
mod teams;

pub use monitoring::{
    IndicatorMonitoring, Monitoring, TeamChart, TeamSignals, CASE_MIX, POINTS_HEADER,
};

pub use teams::{Team, BASELINE_START, LKT_TEAMS, PUBLISHED_TOTAL};

use serde::Serialize;

use crate::core::error::Result;
use crate::data::Cohort;
use crate::outcomes::{PathwayOutcomes, PathwayReport, Regained, RegainedReport};

/// One of the four LKT result indicators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Indicator {
    /// 30-day readmission after discharge (lower is better).
    Readmission,
    /// 30-day mortality after surgery (lower is better).
    Mortality,
    /// Regained pre-fracture CAS at follow-up (higher is better).
    RegainedCas,
    /// Regained pre-fracture NMS at follow-up (higher is better).
    RegainedNms,
}

impl Indicator {
    /// The four indicators, in the LKT's order of the synthetic models.
    pub const ALL: [Indicator; 4] = [
        Indicator::Readmission,
        Indicator::Mortality,
        Indicator::RegainedCas,
        Indicator::RegainedNms,
    ];

    /// The 0/1 column the outcomes module derives for it.
    pub fn column(self) -> &'static str {
        match self {
            Indicator::Readmission => "readmit30",
            Indicator::Mortality => "death30",
            Indicator::RegainedCas => "cas_regained",
            Indicator::RegainedNms => "nms_regained",
        }
    }

    /// A short name for files and tables.
    pub fn key(self) -> &'static str {
        match self {
            Indicator::Readmission => "readmission",
            Indicator::Mortality => "mortality",
            Indicator::RegainedCas => "cas",
            Indicator::RegainedNms => "nms",
        }
    }

    /// The name people read.
    pub fn label(self) -> &'static str {
        match self {
            Indicator::Readmission => "30-day readmission",
            Indicator::Mortality => "30-day mortality",
            Indicator::RegainedCas => "Regained CAS",
            Indicator::RegainedNms => "Regained NMS",
        }
    }

    /// Whether a higher share is better (regained mobility) or worse (readmission, death).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Indicator::RegainedCas | Indicator::RegainedNms)
    }
}

/// What deriving the indicators found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Derivation {
    /// 30-day mortality and readmission.
    pub pathway: PathwayReport,
    /// Regained CAS.
    pub cas: RegainedReport,
    /// Regained NMS.
    pub nms: RegainedReport,
}

/// The cohort with the four indicator columns added ([`Indicator::column`]), from the dates
/// (`surgery_date`, `discharge_date`, `death_date`, `readmission_date`) and scores (`cas_pre`,
/// `cas_followup`, `nms_pre`, `nms_followup`) of the LKT data, with the counts behind them.
/// Errors as [`PathwayOutcomes::derive`] and [`Regained::derive`].
pub fn prepare(raw: Cohort) -> Result<(Cohort, Derivation)> {
    let (cohort, pathway) = PathwayOutcomes::default().derive(raw)?;
    let (cohort, cas) = Regained::cas("cas_pre", "cas_followup").derive(cohort)?;
    let (cohort, nms) = Regained::nms("nms_pre", "nms_followup").derive(cohort)?;
    Ok((cohort, Derivation { pathway, cas, nms }))
}
