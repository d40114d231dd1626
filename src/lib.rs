#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

// The pipeline, each layer importing only the ones above it in this list (checked by
// tests/layering.rs): core -> design -> data -> frame -> models -> effects -> report;
// design holds trial designs and their closed-form power (core only); outcomes and costs
// derive analysis columns from data; sim simulates cohorts and the counts of a design's
// trials (simulation power, in effects, fits the models to them); studies reproduce published
// evaluations on top of everything.
pub mod core;
pub mod costs;
pub mod data;
pub mod design;
pub mod effects;
pub mod frame;
pub mod models;
pub mod outcomes;
pub mod report;
pub mod sim;
pub mod studies;
