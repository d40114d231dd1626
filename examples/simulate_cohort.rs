//! Simulate a stepped-wedge or staggered-rollout cohort and write it as CSV.
//!
//! ```sh
//! cargo run --release --example simulate_cohort -- --clusters 12 --periods 8 --size 27 \
//!     --seed 2609 --out data-samples/stepped_wedge_sim.csv
//! ```
//!
//! Flags: `--clusters K` (clusters that cross over, default 10), `--never N` (usual-care clusters
//! that never cross over, default 0), `--periods T` (default 6), `--size M` (mean patients per
//! cluster-period, Poisson; default 30), `--fixed` (exactly `--size` patients in every
//! cluster-period instead), `--seed S` (default 1), `--out FILE` (required). The outcome and
//! cost models are the simulator's defaults (see `stepwedge::sim`).
//!
//! The cohort of the 10^6-patient benchmarks (`benches/glmm_fit.rs`) is
//! `--clusters 50 --periods 12 --size 1666 --fixed --seed 1`.

use std::process::ExitCode;

use stepwedge::sim::{ClusterSize, SimConfig};

struct Args {
    clusters: usize,
    never: usize,
    periods: usize,
    size: f64,
    fixed: bool,
    seed: u64,
    out: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        clusters: 10,
        never: 0,
        periods: 6,
        size: 30.0,
        fixed: false,
        seed: 1,
        out: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| {
            v.parse::<f64>()
                .map_err(|_| format!("{flag}: '{v}' is not a number"))
        };
        let count = |v: String| {
            v.parse::<usize>()
                .map_err(|_| format!("{flag}: '{v}' is not a whole number"))
        };
        match flag.as_str() {
            "--clusters" => args.clusters = count(value()?)?,
            "--never" => args.never = count(value()?)?,
            "--periods" => args.periods = count(value()?)?,
            "--size" => args.size = number(value()?)?,
            "--fixed" => args.fixed = true,
            "--seed" => {
                args.seed = value()?
                    .parse()
                    .map_err(|_| "--seed needs a whole number".to_string())?
            }
            "--out" => args.out = value()?,
            other => {
                return Err(format!(
                "unknown flag '{other}' (flags: --clusters --never --periods --size --fixed --seed --out)"
            ))
            }
        }
    }
    if args.out.is_empty() {
        return Err("--out FILE is required".to_string());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("simulate_cohort: {e}");
            return ExitCode::from(2);
        }
    };
    let mut config = SimConfig::staggered(args.clusters, args.never, args.periods);
    config.cluster_size = if args.fixed {
        if args.size < 0.0 || args.size.fract() != 0.0 {
            eprintln!("simulate_cohort: --fixed needs a whole number --size");
            return ExitCode::from(2);
        }
        ClusterSize::Fixed(args.size as usize)
    } else {
        ClusterSize::Poisson { mean: args.size }
    };
    let written = config
        .simulate(args.seed)
        .and_then(|cohort| cohort.write_csv(&args.out).map(|()| cohort.n_rows()));
    match written {
        Ok(n) => {
            eprintln!("wrote {n} patients to {}", args.out);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("simulate_cohort: {e}");
            ExitCode::FAILURE
        }
    }
}
