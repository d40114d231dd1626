//! From a cohort to the numbers a model is fitted to: the formula, the design matrix (fixed
//! effects, missing values, collapsing), the random-effect design, and the counterfactual rows
//! of a standardisation (each patient's design row with the treatment set to 0 and to 1).
//! Imports only `core` and `data`.

pub mod counterfactual;
pub mod design;
pub mod formula;
pub(crate) mod random_effects;
