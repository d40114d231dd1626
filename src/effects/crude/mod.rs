//! Effect measures and tests for a 2x2 table of counts: a treated (intervention) group with `a`
//! events among `n1` patients against a control (usual care) group with `c` events among `n0`.
//!
//! | quantity | method | R equivalent |
//! |---|---|---|
//! | risks `p1 = a/n1`, `p0 = c/n0` | Wilson score interval | `prop.test(x, n, correct = FALSE)` |
//! | odds ratio `ad/(bc)` | Woolf (log-scale Wald) | by formula |
//! | exact odds ratio | conditional MLE, exact conditional interval | `fisher.test()$estimate`, `$conf.int` |
//! | relative risk `p1/p0` | log-scale Wald | by formula |
//! | risk difference `p1 - p0` | Wald; Newcombe hybrid score | `prop.test(c(a, c), c(n1, n0), correct = FALSE)`; by formula |
//! | number needed to treat | inverted risk-difference limits (Altman 1998) | by formula |
//! | independence | Pearson chi-square, with/without Yates | `chisq.test(correct = TRUE/FALSE)` |
//! | independence | Fisher's exact test, two-sided | `fisher.test()$p.value` |
//!
//! Build a table with [`TwoByTwo::new`] (counts) or [`TwoByTwo::from_binary`] (0/1 columns),
//! then call a method, or [`TwoByTwo::summary`] for all of them. Bad input (negative counts,
//! events above the group size, an empty group, a confidence level outside (0, 1)) is an
//! [`Error::InvalidArgument`](crate::core::error::Error::InvalidArgument). A measure that a valid
//! table does not define (Woolf's interval with a zero cell, say) is
//! [`Estimable::NotEstimable`] with the reason; no result is ever NaN.

mod chi_square;
mod conditional;
mod estimate;
mod exact_odds_ratio;
mod fisher;
mod nnt;
mod odds_ratio;
mod relative_risk;
mod risk;
mod risk_difference;
mod root;
mod summary;
mod table;

pub use chi_square::ChiSquareTest;
pub use estimate::{Confidence, Estimable, Estimate, DEFAULT_LEVEL};
pub use fisher::FisherExact;
pub use nnt::{Direction, Nnt, NntInterval};
pub use risk_difference::RiskDifferenceMethod;
pub use summary::Summary;
pub use table::{OutcomeKind, TwoByTwo, MAX_COUNT};
