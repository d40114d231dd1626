//! What people look at: figures (forest plot, cost-effectiveness plane, acceptability curve,
//! rollout diagram) drawn from the results of `effects` and `models`.

pub mod figures;
