//! What people look at: figures (forest plot, cost-effectiveness plane, acceptability curve,
//! rollout diagram, run and control charts) drawn from the results of `effects` and `models`,
//! tidy tables for other tools, and the monitoring of indicators over time (`monitor`).

pub mod figures;
pub mod monitor;
pub mod tables;
