//! `swfit`: fit a mixed-effects (or, without a random-effect term, a fixed-effects) model to a CSV
//! file and print the coefficient table, random effects and diagnostics.
//!
//! ```sh
//! cargo run --release --example swfit -- --data data-samples/stepped_wedge_sim.csv \
//!     --formula "death30 ~ treated + factor(period) + (1 | cluster)" [--family binomial|poisson] \
//!     [--link logit|log|cloglog] [--nagq N] [--json]
//! ```
//!
//! With `--json` exactly one JSON object goes to stdout:
//! `{"n_obs", "n_groups": {"cluster": ..}, "coefficients": [{"term", "estimate", "std_error",
//! "ci_low", "ci_high"}], "random_effects": [{"group", "term", "sd"}], "loglik", "converged",
//! "singular"}` plus `family`, `link`, `nagq`, `aic`, `bic`, `icc`, `gradient_max`, `evaluations`.
//! Errors go to stderr with exit status 1 (2 for a bad command line).

use std::process::ExitCode;

use serde_json::{json, Value};
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::error::Error;
use stepwedge::formula::Formula;
use stepwedge::glm::{Family, Glm, Link};
use stepwedge::glmm::Glmm;
use stepwedge::results::CoefRow;

const USAGE: &str = "usage: swfit --data FILE.csv --formula \"y ~ x + (1 | cluster)\" \
                     [--family binomial|poisson] [--link logit|log|cloglog] [--nagq N] [--json]";

struct Args {
    data: String,
    formula: String,
    family: Family,
    link: Option<Link>,
    nagq: usize,
    json: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut data = None;
    let mut formula = None;
    let mut family = Family::Binomial;
    let mut link = None;
    let mut nagq = 1;
    let mut json = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--data" => data = Some(value()?),
            "--formula" => formula = Some(value()?),
            "--family" => family = value()?.parse().map_err(|e: Error| e.to_string())?,
            "--link" => link = Some(value()?.parse().map_err(|e: Error| e.to_string())?),
            "--nagq" => {
                let v = value()?;
                nagq = v
                    .parse()
                    .map_err(|_| format!("--nagq: '{v}' is not a whole number"))?;
            }
            "--json" => json = true,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown flag '{other}'")),
        }
    }
    Ok(Args {
        data: data.ok_or("--data FILE is required")?,
        formula: formula.ok_or("--formula is required")?,
        family,
        link,
        nagq,
        json,
    })
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
        let fit = Glm::from_formula(formula)
            .family(args.family)
            .link(link)
            .fit(&cohort)?;
        if args.json {
            let out = json!({
                "n_obs": fit.n_obs, "n_groups": {}, "coefficients": coefficients_json(&fit.coefficients),
                "random_effects": [], "loglik": fit.loglik, "converged": fit.converged, "singular": false,
                "family": fit.family, "link": fit.link, "nagq": 0, "aic": fit.aic, "bic": fit.bic,
            });
            println!("{out}");
        } else {
            print!("{fit}");
        }
        return Ok(());
    }
    let fit = Glmm::new(&args.formula)?
        .family(args.family)
        .link(link)
        .nagq(args.nagq)
        .fit(&cohort)?;
    if args.json {
        let out = json!({
            "n_obs": fit.n_obs, "n_groups": fit.n_groups, "coefficients": coefficients_json(&fit.coefficients),
            "random_effects": fit.random_effects, "loglik": fit.loglik, "converged": fit.converged,
            "singular": fit.singular, "family": fit.family, "link": fit.link, "nagq": fit.nagq,
            "aic": fit.aic, "bic": fit.bic, "icc": fit.icc, "gradient_max": fit.gradient_max,
            "evaluations": fit.evaluations,
        });
        println!("{out}");
    } else {
        print!("{fit}");
    }
    Ok(())
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
