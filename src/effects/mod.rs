//! What a decision maker reads, computed from counts or from fitted models: the crude 2x2
//! measures ([`crude`]), standardised (marginal) risks, relative risks, risk differences and
//! numbers needed to treat from any fitted model ([`standardise`]), the cost-effectiveness
//! of a treatment from a cost fit and an effect fit ([`cost_effectiveness`]), randomisation
//! tests and intervals of a stepped wedge's treatment effect from any fitted model
//! ([`randomisation`]), and treatment effects that change with exposure time: the effect curve
//! of the exposure-time indicator model and its time average, the TATE ([`exposure_time`]).
//! Simulation power: a design's trials simulated and given the analysis that will be run
//! (the Hussey & Hughes mixed model, a GEE, a randomisation test) ([`power`]).
//! Linear combinations and Wald tests of coefficients are shared ([`contrast`]). Imports
//! `models` and what stands below it, never `report` or `studies`.

pub mod contrast;
pub mod cost_effectiveness;
pub mod crude;
pub mod exposure_time;
pub mod power;
pub mod randomisation;
pub mod standardise;
