//! `swfit`: fit a mixed-effects (or, without a random-effect term, a fixed-effects) model to a CSV
//! file and print the coefficient table, random effects and diagnostics.
//!
//! ```sh
//! cargo run --release --example swfit -- --data data-samples/stepped_wedge_sim.csv \
//!     --formula "death30 ~ treated + factor(period) + (1 | cluster)" [--family binomial|poisson] \
//!     [--link logit|log|cloglog] [--nagq N] [--robust] [--vcov KIND] [--cluster COL] \
//!     [--marginal [all|treated|SUBGROUP]] [--treatment COL] [--conditional] \
//!     [--bootstrap N] [--seed S] [--json]
//! ```
//!
//! - `--robust`: cluster-robust standard errors: for a mixed model the sandwich over its
//!   grouping factor (`--vcov sandwich`); for a model without random effects CR1 over
//!   `--cluster COL` (`--vcov` chooses another: model, HC0, HC1, sandwich, CR0-CR3), with t
//!   intervals on G - 1 degrees of freedom.
//! - `--marginal [TARGET]`: marginal (standardised) risks under treatment and control, their RR
//!   and RD and the NNT, for the target population `all` (default), `treated` (ATT) or a
//!   subgroup (`own_home` for a 0/1 column, `residence=own_home` for a level), with delta-method
//!   and cluster-bootstrap (percentile, BCa) intervals. The treatment is the 0/1 column
//!   `--treatment` (default `treated`); a mixed model's risks are averaged over the random
//!   effects unless `--conditional`. `--bootstrap N` replicates (default 1000; 0 for none) drawn
//!   with `--seed S` (default 1).
//!
//! With `--json` exactly one JSON object goes to stdout:
//! `{"n_obs", "n_groups": {"cluster": ..}, "coefficients": [{"term", "estimate", "std_error",
//! "ci_low", "ci_high"}], "random_effects": [{"group", "term", "sd"}], "loglik", "converged",
//! "singular"}` plus `family`, `link`, `nagq`, `aic`, `bic`, `icc`, `gradient_max`, `evaluations`,
//! `vcov` (the estimator of the standard errors), `boundary` (a log-binomial estimate on the
//! boundary, else null) and, with `--marginal`, `"marginal": {"treatment", "target", "patients",
//! "random_effects", "level", "vcov_kind", "reference_df", "risk_treated", "risk_control",
//! "relative_risk", "risk_difference", "nnt", "bootstrap"}` (each measure `{"estimate",
//! "std_error", "delta", "percentile", "bca"}`, intervals `{"estimate", "ci_low", "ci_high",
//! "level"}`; the relative risk's `std_error` is that of log RR).
//! Errors go to stderr with exit status 1 (2 for a bad command line).

use std::process::ExitCode;

use serde_json::{json, Value};
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::error::Error;
use stepwedge::formula::Formula;
use stepwedge::glm::{Family, Glm, Link};
use stepwedge::glmm::Glmm;
use stepwedge::marginal::{MarginalEffects, RandomEffects, Standardisation, Target};
use stepwedge::vcov::VcovKind;
use stepwedge::results::CoefRow;

const USAGE: &str = "usage: swfit --data FILE.csv --formula \"y ~ x + (1 | cluster)\" \
                     [--family binomial|poisson] [--link logit|log|cloglog] [--nagq N] \
                     [--robust] [--vcov KIND] [--cluster COL] [--marginal [all|treated|SUBGROUP]] \
                     [--treatment COL] [--conditional] [--bootstrap N] [--seed S] [--json]";

struct Args {
    data: String,
    formula: String,
    family: Family,
    link: Option<Link>,
    nagq: usize,
    json: bool,
    robust: bool,
    vcov: Option<VcovKind>,
    cluster: Option<String>,
    marginal: Option<Standardisation>,
}

fn parse_args() -> Result<Args, String> {
    let mut data = None;
    let mut formula = None;
    let mut family = Family::Binomial;
    let mut link = None;
    let mut nagq = 1;
    let mut json = false;
    let mut robust = false;
    let mut vcov = None;
    let mut cluster = None;
    let mut target = None;
    let mut treatment = "treated".to_string();
    let mut conditional = false;
    let mut replicates = 1000;
    let mut seed = 1;
    let mut it = std::env::args().skip(1).peekable();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--data" => data = Some(value()?),
            "--formula" => formula = Some(value()?),
            "--family" => family = value()?.parse().map_err(|e: Error| e.to_string())?,
            "--link" => link = Some(value()?.parse().map_err(|e: Error| e.to_string())?),
            "--nagq" => nagq = whole(&flag, &value()?)?,
            "--json" => json = true,
            "--robust" => robust = true,
            "--vcov" => vcov = Some(value()?.parse().map_err(|e: Error| e.to_string())?),
            "--cluster" => cluster = Some(value()?),
            "--marginal" => {
                // The target is optional: the next argument, unless it is a flag.
                let next = it.next_if(|a| !a.starts_with("--"));
                target = Some(Target::parse(next.as_deref().unwrap_or("all")));
            }
            "--treatment" => treatment = value()?,
            "--conditional" => conditional = true,
            "--bootstrap" => replicates = whole(&flag, &value()?)?,
            "--seed" => seed = whole(&flag, &value()?)? as u64,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown flag '{other}'")),
        }
    }
    let marginal = target.map(|t| {
        Standardisation::new(&treatment)
            .target(t)
            .random_effects(if conditional {
                RandomEffects::Conditional
            } else {
                RandomEffects::Integrated
            })
            .bootstrap(replicates, seed)
    });
    Ok(Args {
        data: data.ok_or("--data FILE is required")?,
        formula: formula.ok_or("--formula is required")?,
        family,
        link,
        nagq,
        json,
        robust,
        vcov,
        cluster,
        marginal,
    })
}

/// A whole number given to `flag`.
fn whole(flag: &str, v: &str) -> Result<usize, String> {
    v.parse()
        .map_err(|_| format!("{flag}: '{v}' is not a whole number"))
}

fn coefficients_json(rows: &[CoefRow]) -> Value {
    rows.iter()
        .map(|r| {
            json!({"term": r.term, "estimate": r.estimate, "std_error": r.std_error,
                   "ci_low": r.ci_low, "ci_high": r.ci_high})
        })
        .collect()
}

fn run(args: &Args) -> Result<(), Error> {
    let cohort = Cohort::from_csv_path(&args.data, &LoadOptions::default())?;
    let formula = Formula::parse(&args.formula)?;
    let link = args.family.resolve_link(args.link)?;
    if formula.random.is_empty() {
        let mut spec = Glm::from_formula(formula).family(args.family).link(link);
        if let Some(c) = &args.cluster {
            spec = spec.cluster(c);
        }
        if let Some(kind) = args.vcov.or(args.robust.then_some(VcovKind::CR1)) {
            spec = spec.vcov(kind);
        }
        let (fit, marginal) = match &args.marginal {
            Some(m) => {
                let (fit, effects) = spec.standardise(&cohort, m)?;
                (fit, Some(effects))
            }
            None => (spec.fit(&cohort)?, None),
        };
        if args.json {
            let out = json!({
                "n_obs": fit.n_obs, "n_groups": {}, "coefficients": coefficients_json(&fit.coefficients),
                "random_effects": [], "loglik": fit.loglik, "converged": fit.converged, "singular": false,
                "family": fit.family, "link": fit.link, "nagq": 0, "aic": fit.aic, "bic": fit.bic,
                "vcov": fit.vcov_kind, "boundary": fit.boundary, "marginal": marginal,
            });
            println!("{}", without_null_marginal(out));
        } else {
            print!("{fit}");
            print_marginal(marginal.as_ref());
        }
        return Ok(());
    }
    let robust = args.robust.then_some(VcovKind::Sandwich);
    let vcov = args.vcov.or(robust).unwrap_or(VcovKind::Model);
    let spec = Glmm::new(&args.formula)?
        .family(args.family)
        .link(link)
        .nagq(args.nagq)
        .vcov(vcov);
    let (fit, marginal) = match &args.marginal {
        Some(m) => {
            let (fit, effects) = spec.standardise(&cohort, m)?;
            (fit, Some(effects))
        }
        None => (spec.fit(&cohort)?, None),
    };
    if args.json {
        let out = json!({
            "n_obs": fit.n_obs, "n_groups": fit.n_groups, "coefficients": coefficients_json(&fit.coefficients),
            "random_effects": fit.random_effects, "loglik": fit.loglik, "converged": fit.converged,
            "singular": fit.singular, "family": fit.family, "link": fit.link, "nagq": fit.nagq,
            "aic": fit.aic, "bic": fit.bic, "icc": fit.icc, "gradient_max": fit.gradient_max,
            "evaluations": fit.evaluations, "vcov": fit.vcov_kind, "boundary": fit.boundary,
            "marginal": marginal,
        });
        println!("{}", without_null_marginal(out));
    } else {
        print!("{fit}");
        print_marginal(marginal.as_ref());
    }
    Ok(())
}

/// The JSON object without `"marginal"` when it was not asked for.
fn without_null_marginal(mut out: Value) -> Value {
    if out["marginal"].is_null() {
        if let Some(map) = out.as_object_mut() {
            map.remove("marginal");
        }
    }
    out
}

fn print_marginal(marginal: Option<&MarginalEffects>) {
    if let Some(m) = marginal {
        println!();
        print!("{m}");
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("swfit: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("swfit: {e}");
            ExitCode::FAILURE
        }
    }
}
