//! The ground floor: errors, distributions, dense and sparse linear algebra, numerical derivatives,
//! calendar dates, the seeded random-number generator and files written whole or not at all. Nothing here imports any other module
//! of the crate.

pub(crate) mod builder;
pub mod dates;
pub mod dist;
pub mod error;
pub mod files;
pub mod linalg;
pub(crate) mod numdiff;
pub(crate) mod rng;
pub(crate) mod sparse_cholesky;
