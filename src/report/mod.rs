//! What people look at: figures (forest plot, cost-effectiveness plane, acceptability curve,
//! rollout diagram) drawn from the results of `effects` and `models`, tidy tables for other
//! tools, and writing them so that no file is ever left half-written.

pub mod figures;
pub mod output;
pub mod tables;
