//! `swfit`: fit a mixed-effects (or, without a random-effect term, a fixed-effects) model to a CSV
//! file and print the coefficient table, random effects and diagnostics.
//!
//! ```sh
//! cargo run --release --example swfit -- --data data-samples/stepped_wedge_sim.csv \
//!     --formula "death30 ~ treated + factor(period) + (1 | cluster)" [--family binomial|poisson] \
//!     [--link logit|log|cloglog] [--nagq N] [--robust] [--vcov KIND] [--cluster COL] \
//!     [--marginal [all|treated|SUBGROUP]] [--treatment COL] [--conditional] \
//!     [--bootstrap N] [--seed S] [--permutation [N] [--max-exact M] [--strata COL]
//!     [--period COL] [--permutation-ci]] [--json]
//! ```
//!
//! `swfit --help` lists every flag with its default. Flags take `--flag value` or
//! `--flag=value`. Besides the model flags below:
//! - `--level 0.9`: the confidence level of every interval (default 0.95).
//! - `--weights COLUMN`: prior weights (GLM and GLMM).
//! - `--reference VAR=LEVEL`: the reference level of a factor; repeatable.
//! - `--event VALUE`: the response is a two-valued text, logical or 0/1 column; VALUE (`yes`,
//!   `TRUE`, `1`) is the event.
//! - `--out FILE.csv`: also write the tidy coefficient table as CSV (written whole or not at
//!   all).
//! - Reading the data: `--delimiter ';'`, `--decimal-comma` (both detected by default: a
//!   `;`-separated file with decimal commas, as Excel writes it with a Danish locale, is read
//!   as such and said so on stderr), `--na VALUE` (another missing-value text besides NA, NaN
//!   and empty; repeatable), `--categorical COLUMN` (read a column as text; repeatable). A
//!   column of numbers with a few text cells is an error naming them.
//! - Large files: a binomial mixed model with a 0/1 response and no weights, offsets,
//!   `scale()` or `poly()`, asked for nothing that needs the patients' rows (`--marginal`,
//!   `--subgroups`, `--permutation`, `--tate`, `--event`, `--robust`, a `--vcov` but model),
//!   is fitted to the file streamed into covariate patterns (`stepwedge::data::Tally`): only
//!   the model's columns are parsed, and memory grows with the patterns rather than the rows.
//!   The numbers are those of the whole file read into memory, which is what happens otherwise.
//!
//! - `--family gamma` (log link): costs; a gamma GLM, or with a random-effect term the gamma
//!   mixed model (as glmmTMB's), whose JSON adds `"dispersion"` (1 / shape).
//! - `--family nbinom2` (log link): overdispersed counts (readmissions, contacts per patient),
//!   variance `mu + mu^2 / theta`; the GLM as R's `MASS::glm.nb`, with a random-effect term the
//!   mixed model as glmmTMB's `nbinom2`. The JSON adds `"theta"`, `"theta_se"` and
//!   `"log_theta_se"` (null for the other families).
//! - `--family gaussian` with a random-effect term: a linear mixed model (costs) fitted by REML,
//!   or by maximum likelihood with `--ml`, with t intervals on Satterthwaite degrees of freedom
//!   (as lmerTest); its JSON adds `"residual_sd"`, `"reml"`, `"criterion"` (the REML
//!   criterion or deviance) and `"df_method"`. `--df kr`: Kenward-Roger instead (REML only, as
//!   pbkrtest and `summary(fit, ddf = "Kenward-Roger")`): the table's and the JSON's standard
//!   errors are the adjusted ones, `sqrt(diag(Phi_A))`, with their df, and so are `--tate`'s.
//! - `--robust`: cluster-robust standard errors: for a mixed model the sandwich over its
//!   grouping factor (`--vcov sandwich`); for a model without random effects CR1 over
//!   `--cluster COL` (`--vcov` chooses another: model, HC0, HC1, sandwich, CR0-CR3), with t
//!   intervals on G - 1 degrees of freedom.
//! - `--marginal [TARGET]`: marginal (standardised) risks under treatment and control, their RR
//!   and RD and the NNT, for the target population `all` (default), `treated` (ATT) or a
//!   subgroup (`own_home` for a 0/1 column, `residence=own_home` for a level), with delta-method
//!   and cluster-bootstrap (percentile, BCa) intervals. The treatment is the 0/1 column
//!   `--treatment` (default `treated`); a mixed model's risks are averaged over the random
//!   effects unless `--conditional`. `--bootstrap N` replicates (default 1000 when the model has clusters: a
//!   random-effect term or `--cluster`; 0 for none) drawn
//!   with `--seed S` (default 1). The bootstrap's progress shows on stderr unless `--quiet` or
//!   `--json`.
//! - `--gee CORSTR` (`independence`, `exchangeable`, `nested`, `block`, `decay`): a marginal
//!   (population-averaged) model by GEE of a binary outcome (or, with `--family poisson` or
//!   `gaussian`, of counts or a continuous one), clusters from `--cluster COL`,
//!   periods from `--period COL` (nested, block, decay, `--cp-means`), patients from
//!   `--individual COL` (block), `--maee` for the bias-adjusted correlation equations,
//!   `--cp-means` to fit on cluster-period means, `--fixed-correlation=A,B` to hold the
//!   correlation parameters at given values, `--se KIND` (`model`, `robust`, `kc`
//!   (default), `md`, `fg`, `mbn`, `avg`) for the table, with t on G - p df. Its JSON adds
//!   `"correlation": [{"name", "estimate", "std_error"}]`, `"se_all": {"model": {term: se},
//!   ...}`, `gee`, `correlation_fixed`, `maee`, `cp_means`, `se`, `df`, `scale` (the working
//!   variance's phi: 1 for binary outcomes), `iterations` and `out_of_range_pairs`.
//! - `--subgroups COL`: the treatment's effect in each subgroup of COL (a 0/1 or text column
//!   that interacts with the treatment in the formula, e.g. `treated * own_home`): the model's
//!   odds ratio or relative risk, the standardised RR and RD, and the Wald test of interaction
//!   (`"subgroups"` in the JSON).
//! - `--permutation [N]`: a randomisation test of the treatment (`--treatment`, default
//!   `treated`) for any of the models above: each cluster's crossover (first treated period) is
//!   read from `--cluster COL` (default: the mixed model's grouping factor) and `--period COL`
//!   (default `period`), and the crossovers are permuted among the clusters (within the strata
//!   of `--strata COL`); every distinct allocation when there are at most `--max-exact M`
//!   (default 10,000), otherwise N allocations (default 10,000) drawn with `--seed S`. The
//!   statistic is the treatment's estimate or, with `--permutation-statistic wald`, its Wald
//!   statistic; `--permutation-ci` adds the randomisation interval at `--level` by inverting the
//!   two-sided test. The JSON adds `"permutation": {"treatment", "statistic", "observed",
//!   "p_value", "p_lower", "p_upper", "n_allocations", "n_possible", "exact", "mc_se", "seed",
//!   "failed", "first_failure", "singular", "ci_low", "ci_high", "ci_level", "ci_refits"}`
//!   (`mc_se` and `seed` null for an exact test; the `ci_` fields null without
//!   `--permutation-ci`, and a bound null where the interval is open).
//!
//! - `--tate COLUMN` (exposure-time effects; the formula has `factor(COLUMN)` where the
//!   Hussey & Hughes model has `treated`, e.g. `y ~ factor(exposure) + factor(period) + (1 |
//!   cluster)`, or the linear `treated + COLUMN`): the effect at each exposure time, the
//!   time-averaged treatment effect (TATE: the mean of the effects at exposure 1..L, or weighted
//!   by `--tate-weights=W1,W2,..`) with its delta-method interval from the fit's variance (t on the
//!   fit's df: Satterthwaite for the linear mixed model), the Wald test of an effect constant over
//!   exposure, and the likelihood-ratio test against the model with the treatment column
//!   (`--treatment`, default `treated`) in place of `factor(COLUMN)` (fitted by maximum
//!   likelihood for the linear mixed model, whose REML fit gives the TATE; none for a GEE, which
//!   has no likelihood). If the data have no column COLUMN it is derived as the periods since the
//!   cluster crossed over (`stepwedge::frame::design::ExposureTime`): 0 before the cluster's
//!   first treated period, then 1, 2, ...; the cluster is the formula's grouping factor `(1 |
//!   cluster)` (or `--cluster`), the period `--period` (default `period`, whole numbers), the
//!   treatment `--treatment`; `--exposure-cap L` caps it at L. `--tate-horizon L` gives L for the
//!   linear model; `--tate-figure FILE.svg` draws the effects by exposure time with the TATE and
//!   the immediate-treatment estimate. Its JSON adds `"tate": {"exposure", "model", "estimate",
//!   "std_error", "statistic", "df", "p_value", "ci_low", "ci_high", "exp_estimate",
//!   "exp_ci_low", "exp_ci_high", "level", "vcov", "levels": [{"exposure", "weight", "term",
//!   "estimate", "std_error", "statistic", "df", "p_value", "ci_low", "ci_high", "exp_estimate",
//!   "exp_ci_low", "exp_ci_high"}], "averaging": {term: weight}, "wald": {"statistic", "df",
//!   "p_value"} or null, "lrt": {"statistic", "df", "p_value", "formula"} or null, "immediate":
//!   {the treatment's row of the immediate-treatment fit, "formula"}, "derived": null or
//!   {"from": [cluster, period, treatment], "cap", "max_exposure", "rows_by_exposure", ...}}`.
//!
//! With `--json` exactly one JSON object goes to stdout:
//! `{"n_obs", "n_groups": {"cluster": ..}, "coefficients": [{"term", "estimate", "std_error",
//! "statistic", "df", "p_value", "ci_low", "ci_high", "exp_estimate", "exp_ci_low",
//! "exp_ci_high"}], "random_effects": [{"group", "term", "variance", "sd"}], "correlations":
//! [{"group", "term1", "term2", "corr"}], "dropped": {"age": 12}, "level", "loglik",
//! "converged", "singular"}` (`df` is null for a z reference, the `exp_` fields for links other
//! than log and logit; `dropped` counts the rows missing each variable) plus `family`, `link`,
//! `nagq`, `aic`, `bic`, `icc`, `gradient_max`, `evaluations`,
//! `vcov` (the estimator of the standard errors), `boundary` (a log-binomial estimate on the
//! boundary, else null) and, with `--marginal`, `"marginal": {"treatment", "target", "patients",
//! "random_effects", "level", "vcov_kind", "reference_df", "risk_treated", "risk_control",
//! "relative_risk", "risk_difference", "nnt", "bootstrap"}` (each measure `{"estimate",
//! "std_error", "delta", "percentile", "bca"}`, intervals `{"estimate", "ci_low", "ci_high",
//! "level"}`; the relative risk's `std_error` is that of log RR).
//! Errors go to stderr with exit status 1 (2 for a bad command line); a closed pipe on stdout
//! ends the program quietly.

use std::process::ExitCode;

use clap::Parser;
use serde_json::{json, Map, Value};
use stepwedge::core::error::Error;
use stepwedge::core::files::write_atomically;
use stepwedge::data::Cohort;
use stepwedge::effects::exposure_time::{
    likelihood_ratio, ExposureModel, LikelihoodRatioTest, Tate, TateEstimate,
};
use stepwedge::effects::randomisation::{Inversion, Randomisation, RandomisationTest, Statistic};
use stepwedge::effects::standardise::{
    MarginalEffects, RandomEffects, Standardisation, SubgroupEffects, Target,
};
use stepwedge::frame::design::{ExposureReport, ExposureTime, MissingReport};
use stepwedge::frame::formula::{Expr, Formula, Response};
use stepwedge::models::coef_table::CoefRow;
use stepwedge::models::gee::{Gee, SeKind, WorkingCorrelation};
use stepwedge::models::glm::{Family, Glm, Link};
use stepwedge::models::glmm::{Glmm, GlmmFit, RandomEffectCorrelation, RandomEffectSd};
use stepwedge::models::lmm::{DfMethod, Lmm};
use stepwedge::models::vcov::VcovKind;
use stepwedge::models::{Fitted, LoglikKind};
use stepwedge::report::figures::exposure_effects_plot;
use stepwedge::report::tables::coefficients_csv;

mod cli;
use cli::{DataFlags, Failure};

const PROGRAM: &str = "swfit";

/// Fit a GLM, GLMM or linear mixed model to a CSV file and print its tables.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version)]
struct Args {
    /// CSV file, one row per patient.
    #[arg(long, value_name = "FILE")]
    data: String,
    /// Model formula in lme4's syntax, e.g. "death30 ~ treated + factor(period) + (1 | cluster)".
    #[arg(long)]
    formula: String,
    /// Response distribution: binomial, poisson, gaussian, gamma or nbinom2.
    #[arg(long, default_value = "binomial")]
    family: Family,
    /// Link function (default: the family's canonical link; log for gamma).
    #[arg(long)]
    link: Option<Link>,
    /// Adaptive Gauss-Hermite quadrature nodes of a mixed model (1 = Laplace).
    #[arg(long, default_value_t = 1, value_name = "N")]
    nagq: usize,
    /// Confidence level of every interval.
    #[arg(long, default_value_t = 0.95)]
    level: f64,
    /// Column of prior weights (positive numbers).
    #[arg(long, value_name = "COLUMN")]
    weights: Option<String>,
    /// Reference level of a factor, VAR=LEVEL; repeatable.
    #[arg(long = "reference", value_name = "VAR=LEVEL", value_parser = reference)]
    references: Vec<(String, String)>,
    /// The response's value that is the event (yes, TRUE, 1) for a two-valued text response.
    #[arg(long, value_name = "VALUE")]
    event: Option<String>,
    /// Fit a linear mixed model by maximum likelihood instead of REML.
    #[arg(long)]
    ml: bool,
    /// The linear mixed model's standard errors and df: satterthwaite, or kr (Kenward-Roger's
    /// adjusted covariance and df; REML) [default: satterthwaite].
    #[arg(long, value_name = "METHOD")]
    df: Option<LmmDf>,
    /// Cluster-robust standard errors (the sandwich of a mixed model; CR1 over --cluster).
    #[arg(long)]
    robust: bool,
    /// Variance estimator: model, HC0, HC1, sandwich, CR0, CR1, CR2, CR3.
    #[arg(long, value_name = "KIND")]
    vcov: Option<VcovKind>,
    /// Cluster column of a model without random effects (for cluster-robust errors), and of
    /// --permutation (default there: the mixed model's grouping factor).
    #[arg(long, value_name = "COLUMN")]
    cluster: Option<String>,
    /// Standardised risks, RR, RD and NNT for a target: all, treated or a subgroup.
    #[arg(long, value_name = "TARGET", num_args = 0..=1, default_missing_value = "all")]
    marginal: Option<String>,
    /// The 0/1 treatment column of --marginal, --subgroups and --permutation.
    #[arg(long, value_name = "COLUMN", default_value = "treated")]
    treatment: String,
    /// Risks of a mixed model at random effects zero instead of averaged over them.
    #[arg(long)]
    conditional: bool,
    /// Cluster-bootstrap replicates of --marginal [default: 1000 with clusters, else 0].
    #[arg(long, value_name = "N")]
    bootstrap: Option<usize>,
    /// Seed of the bootstrap and of --permutation's draws.
    #[arg(long, default_value_t = 1, value_name = "N")]
    seed: u64,
    /// The treatment's effect in each subgroup of COLUMN.
    #[arg(long, value_name = "COLUMN")]
    subgroups: Option<String>,
    /// Fit a marginal model by GEE with this working correlation: independence, exchangeable,
    /// nested (needs --period), block (needs --period and --individual) or decay (needs
    /// --period); clusters from --cluster. Binary (--family binomial), count (poisson) or
    /// continuous (gaussian) outcomes.
    #[arg(long, value_name = "CORSTR")]
    gee: Option<WorkingCorrelation>,
    /// The period column of a GEE's nested, block or decay working correlation, and of
    /// --permutation (there `period` when not given).
    #[arg(long, value_name = "COLUMN")]
    period: Option<String>,
    /// The patient column of a GEE's block working correlation (a closed cohort).
    #[arg(long, value_name = "COLUMN")]
    individual: Option<String>,
    /// A GEE's variance: model, robust, kc, md, fg, mbn or avg.
    #[arg(long, value_name = "KIND", default_value = "kc")]
    se: SeKind,
    /// Bias-adjusted correlation equations (MAEE) for a GEE.
    #[arg(long)]
    maee: bool,
    /// Fit the GEE on the cluster-period proportions (exchangeable, nested or decay; needs
    /// --period; no patient covariates).
    #[arg(long)]
    cp_means: bool,
    /// Hold a GEE's correlation parameters at these comma-separated values instead of
    /// estimating them (e.g. `--fixed-correlation=0.05,0.02` for nested: alpha0, alpha1).
    #[arg(long, value_name = "VALUES", value_delimiter = ',')]
    fixed_correlation: Option<Vec<f64>>,
    /// A randomisation test of --treatment: every allocation of the clusters' crossovers when
    /// there are at most --max-exact, otherwise N drawn with --seed.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "10000")]
    permutation: Option<usize>,
    /// Enumerate every allocation of --permutation when there are at most this many.
    #[arg(long, value_name = "M", default_value_t = 10_000)]
    max_exact: usize,
    /// Permute crossovers only among the clusters of each stratum of this column.
    #[arg(long, value_name = "COLUMN")]
    strata: Option<String>,
    /// The statistic of --permutation: estimate or wald.
    #[arg(long, value_name = "STATISTIC", default_value = "estimate")]
    permutation_statistic: PermutationStatistic,
    /// Also the randomisation interval (at --level) of --permutation.
    #[arg(long)]
    permutation_ci: bool,
    /// How --permutation-ci inverts the test: two-sided (the d whose two-sided p exceeds
    /// 1 - level) or equal-tailed (Rabideau & Wang: each one-sided p above (1 - level) / 2).
    #[arg(
        long,
        value_name = "TAILS",
        default_value = "two-sided",
        requires = "permutation_ci"
    )]
    permutation_ci_tails: Tails,

    // Exposure-time effects (--tate and its options).
    /// Exposure-time effects of the exposure column COLUMN (`factor(COLUMN)` in the formula):
    /// the effect at each exposure time, their time average (TATE) and the tests against the
    /// model with --treatment in its place; COLUMN is derived if the data lack it.
    #[arg(long, value_name = "COLUMN")]
    tate: Option<String>,
    /// Weights of the exposure times 1..L in the TATE, comma-separated (default: equal).
    #[arg(long, value_name = "WEIGHTS", value_delimiter = ',', requires = "tate")]
    tate_weights: Option<Vec<f64>>,
    /// The longest exposure L the TATE of a linear-in-exposure model averages over.
    #[arg(long, value_name = "L", requires = "tate")]
    tate_horizon: Option<usize>,
    /// Cap the derived exposure at L (exposure L and later pooled).
    #[arg(long, value_name = "L", requires = "tate")]
    exposure_cap: Option<usize>,
    /// Draw the effects by exposure time, the TATE and the immediate-treatment estimate (SVG).
    #[arg(long, value_name = "FILE.svg", requires = "tate")]
    tate_figure: Option<String>,
    /// Also write the tidy coefficient table to this CSV file.
    #[arg(long, value_name = "FILE.csv")]
    out: Option<String>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Print one JSON object instead of the tables.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    read: DataFlags,
}

/// `--df`: the linear mixed model's covariance and df.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LmmDf {
    /// Satterthwaite's df (lmerTest's default).
    Satterthwaite,
    /// Kenward-Roger's adjusted covariance and df (pbkrtest).
    Kr,
}

/// The statistic of `--permutation`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PermutationStatistic {
    /// The treatment's estimate.
    Estimate,
    /// Its Wald statistic, estimate / SE.
    Wald,
}

/// The inversion of `--permutation-ci`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Tails {
    /// The two-sided test inverted.
    TwoSided,
    /// Equal tails.
    EqualTailed,
}

/// `VAR=LEVEL`.
fn reference(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((var, level)) if !var.is_empty() && !level.is_empty() => {
            Ok((var.to_string(), level.to_string()))
        }
        _ => Err(format!("'{text}' is not VAR=LEVEL")),
    }
}

impl Args {
    /// The standardisation asked for by the flags (`None` without `--marginal` and
    /// `--subgroups`).
    fn standardisation(&self, formula: &Formula) -> Standardisation {
        let clustered = self.cluster.is_some() || !formula.random.is_empty();
        let replicates = self.bootstrap.unwrap_or(if clustered { 1000 } else { 0 });
        let target = Target::parse(self.marginal.as_deref().unwrap_or("all"));
        Standardisation::new(&self.treatment)
            .random_effects(if self.conditional {
                RandomEffects::Conditional
            } else {
                RandomEffects::Integrated
            })
            .progress(!self.quiet && !self.json)
            .target(target)
            .bootstrap(replicates, self.seed)
    }
}

/// The analyses of a fit asked for: the standardisation (`--marginal`), the subgroup analysis
/// (`--subgroups`) and the randomisation test (`--permutation`).
struct Analyses {
    marginal: Option<MarginalEffects>,
    subgroups: Option<SubgroupEffects>,
    permutation: Option<RandomisationTest>,
}

impl Analyses {
    /// The report of `fit` followed by the analyses.
    fn text(&self, fit: &impl std::fmt::Display) -> String {
        let mut text = fit.to_string();
        for extra in [
            self.marginal.as_ref().map(ToString::to_string),
            self.subgroups.as_ref().map(ToString::to_string),
            self.permutation.as_ref().map(ToString::to_string),
        ]
        .into_iter()
        .flatten()
        {
            text.push('\n');
            text.push_str(&extra);
        }
        text
    }
}

fn analyses<F: Fitted>(
    fit: &F,
    cohort: &Cohort,
    args: &Args,
    formula: &Formula,
) -> Result<Analyses, Error> {
    let spec = args.standardisation(formula);
    let marginal = match args.marginal {
        Some(_) => Some(spec.apply(fit, cohort)?),
        None => None,
    };
    let subgroups = match &args.subgroups {
        Some(modifier) => Some(spec.subgroups(fit, cohort, modifier)?),
        None => None,
    };
    Ok(Analyses {
        marginal,
        subgroups,
        permutation: permutation(fit, cohort, args)?,
    })
}

/// The randomisation test asked for by `--permutation`.
fn permutation<F: Fitted>(
    fit: &F,
    cohort: &Cohort,
    args: &Args,
) -> Result<Option<RandomisationTest>, Error> {
    let Some(draws) = args.permutation else {
        return Ok(None);
    };
    let mut spec = Randomisation::new(&args.treatment)
        .period(args.period.as_deref().unwrap_or("period"))
        .max_exact(args.max_exact)
        .monte_carlo(draws, args.seed)
        .statistic(match args.permutation_statistic {
            PermutationStatistic::Estimate => Statistic::Estimate,
            PermutationStatistic::Wald => Statistic::Wald,
        })
        .progress(!args.quiet && !args.json);
    if let Some(c) = &args.cluster {
        spec = spec.cluster(c);
    }
    if let Some(s) = &args.strata {
        spec = spec.strata(s);
    }
    if args.permutation_ci {
        spec = spec
            .interval(args.level)
            .inversion(match args.permutation_ci_tails {
                Tails::TwoSided => Inversion::TwoSided,
                Tails::EqualTailed => Inversion::EqualTailed,
            });
    }
    Ok(Some(spec.run(fit, cohort)?))
}

/// The `"permutation"` object of the JSON (null without `--permutation`).
fn permutation_json(test: Option<&RandomisationTest>) -> Value {
    let Some(t) = test else {
        return Value::Null;
    };
    let ci = t.interval.as_ref();
    json!({
        "treatment": t.treatment, "statistic": t.statistic, "observed": t.observed,
        "p_value": t.p_value, "p_lower": t.p_lower, "p_upper": t.p_upper,
        "n_allocations": t.n_allocations, "n_possible": t.n_possible, "exact": t.exact,
        "mc_se": t.mc_se, "seed": t.seed, "failed": t.failed, "first_failure": t.first_failure,
        "singular": t.singular, "ci_low": ci.and_then(|c| c.low),
        "ci_high": ci.and_then(|c| c.high), "ci_level": ci.map(|c| c.level),
        "ci_refits": ci.map(|c| c.refits), "ci_inversion": ci.map(|c| c.inversion),
    })
}

/// The cohort with the response recoded to 0/1 when `--event` is given.
fn with_event(cohort: Cohort, formula: &Formula, event: Option<&str>) -> Result<Cohort, Error> {
    let Some(event) = event else {
        return Ok(cohort);
    };
    match &formula.response {
        Response::Single(Expr::Column(column)) => cohort.with_event(column, event),
        _ => Err(Error::invalid(
            "--event",
            "the response must be one column to recode, not cbind() or an expression",
        )),
    }
}

/// The fields every model's JSON has: coefficients, random effects and correlations, dropped
/// rows and the level.
fn common_json(
    coefficients: &[CoefRow],
    random: &[RandomEffectSd],
    correlations: &[RandomEffectCorrelation],
    missing: &MissingReport,
    level: f64,
) -> Map<String, Value> {
    let random: Vec<Value> = random
        .iter()
        .map(|r| json!({"group": r.group, "term": r.term, "variance": r.sd * r.sd, "sd": r.sd}))
        .collect();
    let correlations: Vec<Value> = correlations
        .iter()
        .map(|c| json!({"group": c.group, "term1": c.term1, "term2": c.term2, "corr": c.correlation}))
        .collect();
    let dropped: Map<String, Value> = missing
        .by_variable
        .iter()
        .map(|(v, k)| (v.clone(), json!(k)))
        .collect();
    let mut map = Map::new();
    map.insert("coefficients".into(), json!(coefficients));
    map.insert("random_effects".into(), json!(random));
    map.insert("correlations".into(), json!(correlations));
    map.insert("dropped".into(), Value::Object(dropped));
    map.insert("level".into(), json!(level));
    map
}

/// The JSON object: the common fields, then `rest` (without `marginal`, `subgroups`,
/// `permutation` and `tate` when they were not asked for).
fn report_json(mut common: Map<String, Value>, rest: Value) -> String {
    if let Value::Object(rest) = rest {
        for (key, value) in rest {
            if !(matches!(
                key.as_str(),
                "marginal" | "subgroups" | "permutation" | "tate"
            ) && value.is_null())
            {
                common.insert(key, value);
            }
        }
    }
    let mut text = Value::Object(common).to_string();
    text.push('\n');
    text
}

fn run(args: &Args) -> Result<(), Failure> {
    let formula = Formula::parse(&args.formula)?;
    let link = args.family.resolve_link(args.link)?;
    if args.df.is_none() {
        if let Some(fit) = streamed(args, &formula, link)? {
            let none = Analyses {
                marginal: None,
                subgroups: None,
                permutation: None,
            };
            let (text, coefficients) = glmm_report(args, fit, none, None, None);
            return finish(args, &text, &coefficients);
        }
    }
    let cohort = args.read.load(PROGRAM, &args.data)?;
    let cohort = with_event(cohort, &formula, args.event.as_deref())?;
    let (cohort, derived) = with_exposure(cohort, &formula, args)?;
    let derived = derived.as_ref();
    let lmm = args.gee.is_none() && !formula.random.is_empty() && args.family == Family::Gaussian;
    if args.df.is_some() && !lmm {
        return Err(Error::invalid(
            "df",
            "--df is for the linear mixed model (--family gaussian with a random-effect term)",
        )
        .into());
    }
    let (text, coefficients) = if let Some(correlation) = args.gee {
        run_gee(args, &cohort, correlation, link, &formula, derived)?
    } else if formula.random.is_empty() {
        let fit = glm_spec(args, formula.clone(), link).fit(&cohort)?;
        let a = analyses(&fit, &cohort, args, &formula)?;
        let tate = tate_analysis(args, &fit, &formula, |f: &Formula, _| {
            glm_spec(args, f.clone(), link).fit(&cohort)
        })?;
        let text = if args.json {
            let common = common_json(&fit.coefficients, &[], &[], &fit.missing, fit.level);
            report_json(
                common,
                json!({
                    "n_obs": fit.n_obs, "n_groups": {}, "loglik": fit.loglik,
                    "converged": fit.converged, "singular": false, "family": fit.family,
                    "link": fit.link, "nagq": 0, "aic": fit.aic, "bic": fit.bic,
                    "vcov": fit.vcov_kind, "boundary": fit.boundary, "marginal": a.marginal,
                    "theta": fit.nb_theta.map(|t| t.theta), "theta_se": fit.nb_theta.map(|t| t.se),
                    "log_theta_se": fit.nb_theta.map(|t| t.se_log_theta),
                    "subgroups": a.subgroups, "permutation": permutation_json(a.permutation.as_ref()),
                    "tate": tate_json(tate.as_ref(), derived),
                }),
            )
        } else {
            with_tate_text(a.text(&fit), tate.as_ref())
        };
        (text, fit.coefficients)
    } else if args.family == Family::Gaussian {
        run_lmm(args, &cohort, &formula, derived)?
    } else {
        let fit = glmm_spec(args, &args.formula, link)?.fit(&cohort)?;
        let a = analyses(&fit, &cohort, args, &formula)?;
        let tate = tate_analysis(args, &fit, &formula, |f: &Formula, _| {
            glmm_spec(args, &f.text, link)?.fit(&cohort)
        })?;
        glmm_report(args, fit, a, tate.as_ref(), derived)
    };
    finish(args, &text, &coefficients)
}

/// Writes the coefficient table (`--out`) and the report.
fn finish(args: &Args, text: &str, coefficients: &[CoefRow]) -> Result<(), Failure> {
    if let Some(path) = &args.out {
        write_atomically(path, coefficients_csv(coefficients).as_bytes())?;
    }
    cli::emit(text)
}

/// A mixed model's report (JSON or text) and its coefficients.
fn glmm_report(
    args: &Args,
    fit: GlmmFit,
    a: Analyses,
    tate: Option<&TateAnalysis>,
    derived: Option<&ExposureReport>,
) -> (String, Vec<CoefRow>) {
    let text = if args.json {
        let common = common_json(
            &fit.coefficients,
            &fit.random_effects,
            &fit.correlations,
            &fit.missing,
            fit.level,
        );
        report_json(
            common,
            json!({
                "n_obs": fit.n_obs, "n_groups": fit.n_groups, "loglik": fit.loglik,
                "converged": fit.converged, "singular": fit.singular, "family": fit.family,
                "link": fit.link, "nagq": fit.nagq, "aic": fit.aic, "bic": fit.bic,
                "icc": fit.icc, "gradient_max": fit.gradient_max,
                "evaluations": fit.evaluations, "vcov": fit.vcov_kind,
                "boundary": fit.boundary, "dispersion": fit.dispersion,
                "theta": fit.nb_theta.map(|t| t.theta), "theta_se": fit.nb_theta.map(|t| t.se),
                "log_theta_se": fit.nb_theta.map(|t| t.se_log_theta),
                "marginal": a.marginal, "subgroups": a.subgroups,
                "permutation": permutation_json(a.permutation.as_ref()),
                "tate": tate_json(tate, derived),
            }),
        )
    } else {
        with_tate_text(a.text(&fit), tate)
    };
    (text, fit.coefficients)
}

/// The mixed logistic model fitted to the covariate patterns of the data file, streamed into
/// them (`Tally`: memory grows with the patterns, not the rows, and only the model's columns
/// are parsed), when nothing asked for needs the patients' rows (`--marginal`, `--subgroups`,
/// `--permutation`, `--tate`, `--event`, robust errors) and the model allows it
/// (`Glmm::tally_columns`). `None` otherwise, or when the file has to be read whole.
fn streamed(args: &Args, formula: &Formula, link: Link) -> Result<Option<GlmmFit>, Error> {
    let rows_free = args.gee.is_none()
        && args.family != Family::Gaussian
        && !formula.random.is_empty()
        && args.event.is_none()
        && args.tate.is_none()
        && args.marginal.is_none()
        && args.subgroups.is_none()
        && args.permutation.is_none()
        && !args.robust
        && args.vcov.is_none_or(|v| v == VcovKind::Model);
    if !rows_free {
        return Ok(None);
    }
    let spec = glmm_spec(args, &args.formula, link)?;
    let Some((keys, summed)) = spec.tally_columns() else {
        return Ok(None);
    };
    match args.read.tally(PROGRAM, &args.data, &keys, &summed)? {
        Some(tally) => spec.fit_tally(&tally).map(Some),
        None => Ok(None),
    }
}

/// A GLM of `formula` as the flags ask.
fn glm_spec(args: &Args, formula: Formula, link: Link) -> Glm {
    let mut spec = Glm::from_formula(formula)
        .family(args.family)
        .link(link)
        .level(args.level);
    if let Some(c) = &args.cluster {
        spec = spec.cluster(c);
    }
    if let Some(w) = &args.weights {
        spec = spec.weights(w);
    }
    for (var, level) in &args.references {
        spec = spec.reference_level(var, level);
    }
    if let Some(kind) = args.vcov.or(args.robust.then_some(VcovKind::CR1)) {
        spec = spec.vcov(kind);
    }
    spec
}

/// A mixed model of `formula` as the flags ask.
fn glmm_spec(args: &Args, formula: &str, link: Link) -> Result<Glmm, Error> {
    let robust = args.robust.then_some(VcovKind::Sandwich);
    let vcov = args.vcov.or(robust).unwrap_or(VcovKind::Model);
    let mut spec = Glmm::new(formula)?
        .family(args.family)
        .link(link)
        .nagq(args.nagq)
        .level(args.level)
        .vcov(vcov);
    if let Some(w) = &args.weights {
        spec = spec.weights(w);
    }
    for (var, level) in &args.references {
        spec = spec.reference_level(var, level);
    }
    Ok(spec)
}

/// A marginal model by GEE (`--gee CORSTR`): the report and the coefficients.
fn run_gee(
    args: &Args,
    cohort: &Cohort,
    correlation: WorkingCorrelation,
    link: Link,
    formula: &Formula,
    derived: Option<&ExposureReport>,
) -> Result<(String, Vec<CoefRow>), Error> {
    let cluster = args
        .cluster
        .as_deref()
        .ok_or_else(|| Error::invalid("--gee", "a GEE needs its clusters: --cluster COLUMN"))?;
    let gee_spec = |formula: &str| -> Result<Gee, Error> {
        let mut spec = Gee::new(formula, cluster)?
            .family(args.family)
            .link(link)
            .correlation(correlation)
            .maee(args.maee)
            .cluster_period_means(args.cp_means)
            .se(args.se)
            .level(args.level);
        if let Some(p) = &args.period {
            spec = spec.period(p);
        }
        if let Some(i) = &args.individual {
            spec = spec.individual(i);
        }
        if let Some(w) = &args.weights {
            spec = spec.weights(w);
        }
        if let Some(values) = &args.fixed_correlation {
            spec = spec.fixed_correlation(values);
        }
        for (var, level) in &args.references {
            spec = spec.reference_level(var, level);
        }
        Ok(spec)
    };
    let fit = gee_spec(&args.formula)?.fit(cohort)?;
    let a = analyses(&fit, cohort, args, formula)?;
    let tate = tate_analysis(args, &fit, formula, |f: &Formula, _| {
        gee_spec(&f.text)?.fit(cohort)
    })?;
    let text = if args.json {
        let common = common_json(&fit.coefficients, &[], &[], &fit.missing, fit.level);
        let terms = |se: &[f64]| -> Map<String, Value> {
            fit.coefficients
                .iter()
                .zip(se)
                .map(|(r, s)| (r.term.clone(), json!(s)))
                .collect()
        };
        let se_all: Map<String, Value> = fit
            .se_all
            .iter()
            .map(|(kind, se)| (kind.name().to_string(), Value::Object(terms(se))))
            .collect();
        report_json(
            common,
            json!({
                "n_obs": fit.n_obs, "n_groups": {cluster: fit.n_clusters},
                "loglik": fit.quasi_loglik, "converged": fit.converged, "singular": false,
                "family": fit.family, "link": fit.link, "nagq": 0, "scale": fit.scale,
                "gee": fit.correlation, "correlation_fixed": fit.correlation_fixed, "maee": fit.maee, "cp_means": fit.cluster_period_means, "se": fit.se.name(), "df": fit.df,
                "iterations": fit.iterations, "out_of_range_pairs": fit.out_of_range_pairs,
                "correlation": fit.correlation_parameters, "se_all": se_all,
                "marginal": a.marginal, "subgroups": a.subgroups,
                "permutation": permutation_json(a.permutation.as_ref()),
                "tate": tate_json(tate.as_ref(), derived),
            }),
        )
    } else {
        with_tate_text(a.text(&fit), tate.as_ref())
    };
    Ok((text, fit.coefficients))
}

/// A linear mixed model (`--family gaussian` with a random-effect term): REML unless `--ml`,
/// t intervals on Satterthwaite degrees of freedom (or Kenward-Roger's with `--df kr`). Returns
/// the report and the coefficients.
fn run_lmm(
    args: &Args,
    cohort: &Cohort,
    formula: &Formula,
    derived: Option<&ExposureReport>,
) -> Result<(String, Vec<CoefRow>), Error> {
    let unsupported = [
        (args.marginal.is_some(), "--marginal"),
        (args.subgroups.is_some(), "--subgroups"),
        (args.robust, "--robust"),
        (args.vcov.is_some(), "--vcov"),
        (args.weights.is_some(), "--weights"),
    ];
    if let Some((_, flag)) = unsupported.iter().find(|(given, _)| *given) {
        return Err(Error::invalid(
            "family",
            format!("{flag} is not available for the linear mixed model (--family gaussian with a random-effect term)"),
        ));
    }
    let lmm_spec = |formula: &str, reml: bool| -> Result<Lmm, Error> {
        let df = match args.df {
            Some(LmmDf::Kr) => DfMethod::KenwardRoger,
            Some(LmmDf::Satterthwaite) | None => DfMethod::Satterthwaite,
        };
        let mut spec = Lmm::new(formula)?.reml(reml).level(args.level);
        // The ML refits of --tate's likelihood-ratio test keep Satterthwaite (their df are not
        // reported); `--ml --df kr` is the library's error (Kenward-Roger needs REML).
        if reml || args.ml {
            spec = spec.df(df);
        }
        for (var, level) in &args.references {
            spec = spec.reference_level(var, level);
        }
        Ok(spec)
    };
    let fit = lmm_spec(&args.formula, !args.ml)?.fit(cohort)?;
    let tate = tate_analysis(args, &fit, formula, |f: &Formula, ml: bool| {
        lmm_spec(&f.text, !(ml || args.ml))?.fit(cohort)
    })?;
    let test = permutation(&fit, cohort, args)?;
    let text = if args.json {
        let common = common_json(
            &fit.coefficients,
            &fit.random_effects,
            &fit.correlations,
            &fit.missing,
            fit.level,
        );
        report_json(
            common,
            json!({
                "n_obs": fit.n_obs, "n_groups": fit.n_groups, "loglik": fit.loglik,
                "converged": fit.converged, "singular": fit.singular,
                "family": Family::Gaussian, "link": Link::Identity, "nagq": 0, "aic": fit.aic,
                "bic": fit.bic, "residual_sd": fit.residual_sd, "reml": fit.reml,
                "criterion": fit.criterion, "df_method": fit.df_method, "permutation": permutation_json(test.as_ref()),
                "tate": tate_json(tate.as_ref(), derived),
            }),
        )
    } else {
        let analyses = Analyses {
            marginal: None,
            subgroups: None,
            permutation: test,
        };
        with_tate_text(analyses.text(&fit), tate.as_ref())
    };
    Ok((text, fit.coefficients))
}

/// What `--tate` found: the effects by exposure time and the TATE, the immediate-treatment
/// fit's treatment row and formula, and the likelihood-ratio test against it.
struct TateAnalysis {
    estimate: TateEstimate,
    immediate: CoefRow,
    immediate_formula: String,
    lrt: Option<LikelihoodRatioTest>,
    lrt_note: Option<&'static str>,
}

/// The cohort with the `--tate` exposure column derived if it lacks it (see the module docs),
/// and what the derivation found; unchanged without `--tate` or when the column is there.
fn with_exposure(
    cohort: Cohort,
    formula: &Formula,
    args: &Args,
) -> Result<(Cohort, Option<ExposureReport>), Error> {
    let Some(exposure) = &args.tate else {
        return Ok((cohort, None));
    };
    if !formula.predictor_columns().contains(exposure) {
        let terms: Vec<String> = formula.terms.iter().map(|t| t.label()).collect();
        return Err(Error::unknown_term(
            "--tate: the formula's exposure-time terms",
            &format!("factor({exposure})"),
            &terms,
        ));
    }
    if cohort.names().contains(exposure) {
        if args.exposure_cap.is_some() {
            return Err(Error::invalid(
                "--exposure-cap",
                format!(
                    "caps the exposure derived from the design; the data have a column \
                     '{exposure}' already (cap it there, or rename it to derive it)"
                ),
            ));
        }
        return Ok((cohort, None));
    }
    let cluster = match (formula.random.first(), &args.cluster) {
        (Some(r), _) if r.group.len() == 1 => r.group[0].clone(),
        (_, Some(c)) => c.clone(),
        _ => {
            return Err(Error::invalid(
                "--tate",
                format!(
                    "the data have no column '{exposure}', and deriving it needs the clusters: \
                     a random-effect term (1 | cluster) or --cluster COLUMN"
                ),
            ))
        }
    };
    let period = args.period.clone().unwrap_or_else(|| "period".to_string());
    let mut derivation = ExposureTime::new(&cluster, &period, &args.treatment).name(exposure);
    if let Some(cap) = args.exposure_cap {
        derivation = derivation.cap(cap);
    }
    let (cohort, report) = derivation.derive(cohort)?;
    cli::note(
        PROGRAM,
        format_args!(
            "derived '{exposure}' (periods since the cluster crossed over, 0 before; L = {}) \
             from cluster '{cluster}', period '{period}' and treatment '{}'",
            report.max_exposure, args.treatment
        ),
    );
    Ok((cohort, Some(report)))
}

/// `--tate`: the TATE of `fit`, the immediate-treatment model (`--treatment` in place of the
/// exposure) refitted by `refit` and the likelihood-ratio test against it. `refit(formula, ml)`
/// fits `formula` as the flags ask, by maximum likelihood if `ml` (the linear mixed model).
fn tate_analysis<F: Fitted, G: Fitted>(
    args: &Args,
    fit: &F,
    formula: &Formula,
    refit: impl Fn(&Formula, bool) -> Result<G, Error>,
) -> Result<Option<TateAnalysis>, Error> {
    let Some(exposure) = &args.tate else {
        return Ok(None);
    };
    let mut tate = Tate::new(exposure).treatment(&args.treatment);
    if let Some(w) = &args.tate_weights {
        tate = tate.weights(w.clone());
    }
    if let Some(h) = args.tate_horizon {
        tate = tate.horizon(h);
    }
    let estimate = tate.apply(fit)?;
    let from = match estimate.model {
        ExposureModel::Indicators => Expr::Factor(exposure.clone()),
        ExposureModel::Linear | ExposureModel::Ramp => Expr::Column(exposure.clone()),
    };
    let it_formula = formula.replace_variable(&from, &Expr::Column(args.treatment.clone()))?;
    let it = refit(&it_formula, false)?;
    let immediate = it.term(&args.treatment)?.clone();
    let (lrt, lrt_note) = match (estimate.model, fit.loglik_kind()) {
        (ExposureModel::Ramp, _) => (
            None,
            Some("the ramp is not nested in the immediate-treatment model"),
        ),
        (_, LoglikKind::Quasi) => (None, Some("a GEE has no likelihood; see the Wald test")),
        (_, LoglikKind::Restricted) => {
            let eti_ml = refit(formula, true)?;
            let it_ml = refit(&it_formula, true)?;
            (
                Some(likelihood_ratio(&eti_ml, &it_ml)?),
                Some("on maximum-likelihood refits of both models"),
            )
        }
        (_, LoglikKind::Full) => (Some(likelihood_ratio(fit, &it)?), None),
    };
    if let Some(path) = &args.tate_figure {
        let svg = exposure_effects_plot(&estimate, Some(&immediate), None)?;
        write_atomically(path, svg.as_bytes())?;
    }
    Ok(Some(TateAnalysis {
        estimate,
        immediate,
        immediate_formula: it_formula.text,
        lrt,
        lrt_note,
    }))
}

/// The `"tate"` object of the JSON (null without `--tate`).
fn tate_json(tate: Option<&TateAnalysis>, derived: Option<&ExposureReport>) -> Value {
    let Some(t) = tate else {
        return Value::Null;
    };
    let e = &t.estimate;
    let averaging: Map<String, Value> = e
        .averaging
        .iter()
        .map(|(term, w)| (term.clone(), json!(w)))
        .collect();
    let wald = e.constant_effect.as_ref().map(
        |w| json!({"statistic": w.statistic, "df": w.df, "p_value": w.p_value, "terms": w.terms}),
    );
    let lrt = t.lrt.as_ref().map(|l| {
        json!({"statistic": l.statistic, "df": l.df, "p_value": l.p_value,
               "formula": t.immediate_formula, "note": t.lrt_note})
    });
    let mut immediate = json!(t.immediate);
    immediate["formula"] = json!(t.immediate_formula);
    json!({
        "exposure": e.exposure, "model": e.model, "estimate": e.tate.estimate,
        "std_error": e.tate.std_error, "statistic": e.tate.statistic, "df": e.tate.df,
        "p_value": e.tate.p_value, "ci_low": e.tate.ci_low, "ci_high": e.tate.ci_high,
        "exp_estimate": e.tate.exp_estimate, "exp_ci_low": e.tate.exp_ci_low,
        "exp_ci_high": e.tate.exp_ci_high, "level": e.level, "vcov": e.vcov_kind,
        "levels": e.levels, "averaging": averaging, "wald": wald, "lrt": lrt,
        "immediate": immediate, "derived": derived,
    })
}

/// The printed report with the `--tate` analysis after it.
fn with_tate_text(mut text: String, tate: Option<&TateAnalysis>) -> String {
    let Some(t) = tate else {
        return text;
    };
    text.push('\n');
    text.push_str(&t.estimate.to_string());
    let i = &t.immediate;
    text.push_str(&format!(
        "Immediate-treatment model ({}): {} = {:.4} ({:.4} to {:.4})\n",
        t.immediate_formula, i.term, i.estimate, i.ci_low, i.ci_high
    ));
    match (&t.lrt, t.lrt_note) {
        (Some(l), note) => text.push_str(&format!(
            "Likelihood-ratio test against it: X2 = {:.4} on {} df, p = {}{}\n",
            l.statistic,
            l.df,
            if l.p_value < 1e-4 {
                format!("{:.2e}", l.p_value)
            } else {
                format!("{:.4}", l.p_value)
            },
            note.map_or(String::new(), |n| format!(" ({n})"))
        )),
        (None, Some(note)) => text.push_str(&format!("No likelihood-ratio test: {note}\n")),
        (None, None) => {}
    }
    text
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::exit(PROGRAM, run(&args))
}
