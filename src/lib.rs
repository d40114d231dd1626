#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod costs;
pub mod data;
pub mod dates;
pub mod design;
pub mod dist;
pub mod effects;
pub mod error;
pub mod figures;
pub mod formula;
pub mod glm;
pub mod glmm;
pub mod linalg;
pub mod lmm;
pub mod marginal;
pub(crate) mod numdiff;
pub mod outcomes;
pub mod results;
pub mod sim;
pub mod studies;
pub mod vcov;
