//! What people look at: figures (forest plot, cost-effectiveness plane, acceptability curve,
//! rollout diagram) drawn from the results of `effects` and `models`, tidy tables for other
//! tools.

pub mod figures;
pub mod monitor;
pub mod tables;
