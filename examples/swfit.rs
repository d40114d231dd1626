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
//! - `--family gamma` (log link): costs; a gamma GLM, or with a random-effect term the gamma
//!   mixed model (as glmmTMB's), whose JSON adds `"dispersion"` (1 / shape).
//! - `--family gaussian` with a random-effect term: a linear mixed model (costs) fitted by REML,
//!   or by maximum likelihood with `--ml`, with t intervals on Satterthwaite degrees of freedom
//!   (as lmerTest); its JSON adds `"residual_sd"`, `"reml"` and `"criterion"` (the REML
//!   criterion or deviance).
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
//! - `--subgroups COL`: the treatment's effect in each subgroup of COL (a 0/1 or text column
//!   that interacts with the treatment in the formula, e.g. `treated * own_home`): the model's
//!   odds ratio or relative risk, the standardised RR and RD, and the Wald test of interaction
//!   (`"subgroups"` in the JSON).
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
use stepwedge::core::error::Error;
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::effects::standardise::{
    MarginalEffects, RandomEffects, Standardisation, SubgroupEffects, Target,
};
use stepwedge::frame::formula::Formula;
use stepwedge::models::coef_table::CoefRow;
use stepwedge::models::glm::{Family, Glm, Link};
use stepwedge::models::glmm::Glmm;
use stepwedge::models::lmm::Lmm;
use stepwedge::models::vcov::VcovKind;
use stepwedge::models::Fitted;

const USAGE: &str = "usage: swfit --data FILE.csv --formula \"y ~ x + (1 | cluster)\" \
                     [--family binomial|poisson|gaussian|gamma] [--ml] [--link logit|log|cloglog] [--nagq N] \
                     [--robust] [--vcov KIND] [--cluster COL] [--marginal [all|treated|SUBGROUP]] \
                     [--treatment COL] [--conditional] [--bootstrap N] [--seed S] [--subgroups COL] [--quiet] [--json]";

struct Args {
    data: String,
    formula: String,
    family: Family,
    link: Option<Link>,
    nagq: usize,
    json: bool,
    ml: bool,
    robust: bool,
    vcov: Option<VcovKind>,
    cluster: Option<String>,
    marginal: Option<Standardisation>,
    subgroups: Option<(String, Standardisation)>,
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
    let mut replicates = None;
    let mut seed = 1;
    let mut modifier = None;
    let mut ml = false;
    let mut quiet = false;
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
            "--ml" => ml = true,
            "--quiet" => quiet = true,
            "--bootstrap" => replicates = Some(whole(&flag, &value()?)?),
            "--seed" => seed = whole(&flag, &value()?)? as u64,
            "--subgroups" => modifier = Some(value()?),
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown flag '{other}'")),
        }
    }
    let standardisation = Standardisation::new(&treatment)
        .random_effects(if conditional {
            RandomEffects::Conditional
        } else {
            RandomEffects::Integrated
        })
        .progress(!quiet && !json);
    let clustered = cluster.is_some()
        || formula
            .as_deref()
            .is_some_and(|f| Formula::parse(f).is_ok_and(|f| !f.random.is_empty()));
    let replicates = replicates.unwrap_or(if clustered { 1000 } else { 0 });
    let marginal = target.map(|t| {
        standardisation
            .clone()
            .target(t)
            .bootstrap(replicates, seed)
    });
    let subgroups = modifier.map(|m| (m, standardisation));
    Ok(Args {
        data: data.ok_or("--data FILE is required")?,
        formula: formula.ok_or("--formula is required")?,
        family,
        link,
        nagq,
        json,
        ml,
        robust,
        vcov,
        cluster,
        marginal,
        subgroups,
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

/// The standardisation (`--marginal`) and subgroup analysis (`--subgroups`) asked for, of one
/// fit.
fn analyses<F: Fitted>(
    fit: &F,
    cohort: &Cohort,
    args: &Args,
) -> Result<(Option<MarginalEffects>, Option<SubgroupEffects>), Error> {
    let marginal = args
        .marginal
        .as_ref()
        .map(|spec| spec.apply(fit, cohort))
        .transpose()?;
    let subgroups = args
        .subgroups
        .as_ref()
        .map(|(modifier, spec)| spec.subgroups(fit, cohort, modifier))
        .transpose()?;
    Ok((marginal, subgroups))
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
        let fit = spec.fit(&cohort)?;
        let (marginal, subgroups) = analyses(&fit, &cohort, args)?;
        if args.json {
            let out = json!({
                "n_obs": fit.n_obs, "n_groups": {}, "coefficients": coefficients_json(&fit.coefficients),
                "random_effects": [], "loglik": fit.loglik, "converged": fit.converged, "singular": false,
                "family": fit.family, "link": fit.link, "nagq": 0, "aic": fit.aic, "bic": fit.bic,
                "vcov": fit.vcov_kind, "boundary": fit.boundary, "marginal": marginal,
                "subgroups": subgroups,
            });
            println!("{}", without_nulls(out));
        } else {
            print!("{fit}");
            print_extra(marginal.as_ref(), subgroups.as_ref());
        }
        return Ok(());
    }
    if args.family == Family::Gaussian {
        return run_lmm(args, &cohort);
    }
    let robust = args.robust.then_some(VcovKind::Sandwich);
    let vcov = args.vcov.or(robust).unwrap_or(VcovKind::Model);
    let spec = Glmm::new(&args.formula)?
        .family(args.family)
        .link(link)
        .nagq(args.nagq)
        .vcov(vcov);
    let fit = spec.fit(&cohort)?;
    let (marginal, subgroups) = analyses(&fit, &cohort, args)?;
    if args.json {
        let out = json!({
            "n_obs": fit.n_obs, "n_groups": fit.n_groups, "coefficients": coefficients_json(&fit.coefficients),
            "random_effects": fit.random_effects, "loglik": fit.loglik, "converged": fit.converged,
            "singular": fit.singular, "family": fit.family, "link": fit.link, "nagq": fit.nagq,
            "aic": fit.aic, "bic": fit.bic, "icc": fit.icc, "gradient_max": fit.gradient_max,
            "evaluations": fit.evaluations, "vcov": fit.vcov_kind, "boundary": fit.boundary,
            "dispersion": fit.dispersion,
            "marginal": marginal, "subgroups": subgroups,
        });
        println!("{}", without_nulls(out));
    } else {
        print!("{fit}");
        print_extra(marginal.as_ref(), subgroups.as_ref());
    }
    Ok(())
}

/// A linear mixed model (`--family gaussian` with a random-effect term): REML unless `--ml`,
/// t intervals on Satterthwaite degrees of freedom.
fn run_lmm(args: &Args, cohort: &Cohort) -> Result<(), Error> {
    if args.marginal.is_some() || args.subgroups.is_some() || args.robust || args.vcov.is_some() {
        return Err(Error::invalid(
            "family",
            "--marginal, --subgroups, --robust and --vcov are for binomial and Poisson models",
        ));
    }
    let fit = Lmm::new(&args.formula)?.reml(!args.ml).fit(cohort)?;
    if args.json {
        let out = json!({
            "n_obs": fit.n_obs, "n_groups": fit.n_groups,
            "coefficients": coefficients_json(&fit.coefficients),
            "random_effects": fit.random_effects, "loglik": fit.loglik, "converged": fit.converged,
            "singular": fit.singular, "family": Family::Gaussian, "link": Link::Identity,
            "nagq": 0, "aic": fit.aic, "bic": fit.bic, "residual_sd": fit.residual_sd,
            "reml": fit.reml, "criterion": fit.criterion,
        });
        println!("{out}");
    } else {
        print!("{fit}");
    }
    Ok(())
}

/// The JSON object without `"marginal"` and `"subgroups"` when they were not asked for.
fn without_nulls(mut out: Value) -> Value {
    if let Some(map) = out.as_object_mut() {
        for key in ["marginal", "subgroups"] {
            if map.get(key).is_some_and(Value::is_null) {
                map.remove(key);
            }
        }
    }
    out
}

fn print_extra(marginal: Option<&MarginalEffects>, subgroups: Option<&SubgroupEffects>) {
    if let Some(m) = marginal {
        println!();
        print!("{m}");
    }
    if let Some(s) = subgroups {
        println!();
        print!("{s}");
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
