//! Fitted models: generalized linear models ([`glm`]), linear mixed models ([`lmm`]) and
//! generalized linear mixed models ([`glmm`]), their variance estimators ([`vcov`]) and tidy
//! coefficient tables ([`coef_table`]). Imports `core`, `data` and `frame`, never `effects`.

pub mod coef_table;
pub mod family;
pub mod fitted;
pub mod gee;
pub mod glm;
pub mod glmm;
pub mod likelihood_ratio;
pub mod lmm;
pub mod negative_binomial;
pub mod newton;
pub(crate) mod variance_components;
pub mod vcov;

pub use fitted::{Assignment, Fitted, LoglikKind, Parameters, Refit, Specification};
