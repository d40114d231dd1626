//! Monitoring of quality indicators across units and over time: funnel plots of units against their volume.

pub mod funnel;
