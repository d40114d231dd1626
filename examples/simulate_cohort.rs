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
//!
//! `--kth-rollout` writes the synthetic cohort of the regional Kom Trygt Hjem rollout instead
//! (`stepwedge::studies::kth_rollout::synthetic`, calibrated configuration, seed 20251105 unless `--seed` is
//! given); the bundled sample is
//!
//! ```sh
//! cargo run --release --example simulate_cohort -- --kth-rollout \
//!     --out data-samples/kth_rollout_synthetic.csv
//! ```
//!
//! and `--kth-rollout --calibrate` runs the calibration of its free parameters again and prints
//! what it finds (`stepwedge::studies::kth_rollout::calibrate`).

use std::process::ExitCode;

use stepwedge::sim::{ClusterSize, SimConfig};
use stepwedge::studies::kth_rollout::calibrate;
use stepwedge::studies::kth_rollout::synthetic::KthRollout;

struct Args {
    clusters: usize,
    never: usize,
    periods: usize,
    size: f64,
    fixed: bool,
    seed: Option<u64>,
    out: String,
    kth_rollout: bool,
    calibrate: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        clusters: 10,
        never: 0,
        periods: 6,
        size: 30.0,
        fixed: false,
        seed: None,
        out: String::new(),
        kth_rollout: false,
        calibrate: false,
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
                args.seed = Some(
                    value()?
                        .parse()
                        .map_err(|_| "--seed needs a whole number".to_string())?,
                )
            }
            "--out" => args.out = value()?,
            "--kth-rollout" => args.kth_rollout = true,
            "--calibrate" => args.calibrate = true,
            other => {
                return Err(format!(
                "unknown flag '{other}' (flags: --clusters --never --periods --size --fixed --seed --out --kth-rollout --calibrate)"
            ))
            }
        }
    }
    if args.calibrate && !args.kth_rollout {
        return Err("--calibrate goes with --kth-rollout".to_string());
    }
    if args.out.is_empty() && !args.calibrate {
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
    if args.kth_rollout {
        return kth_rollout(&args);
    }
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
        .simulate(args.seed.unwrap_or(1))
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

/// The synthetic KTH rollout cohort, or its calibration.
fn kth_rollout(args: &Args) -> ExitCode {
    let seed = args.seed.unwrap_or(KthRollout::SEED);
    let config = if args.calibrate {
        match calibrate(KthRollout::calibrated(), seed) {
            Ok(found) => {
                let c = &found.config;
                println!(
                    "calibrated in {} evaluations (seed {seed}):",
                    found.evaluations
                );
                println!(
                    "  mortality.residence[nursing_home]   = {:.4}",
                    c.mortality.residence[1]
                );
                println!(
                    "  readmission.residence[nursing_home] = {:.4}",
                    c.readmission.residence[1]
                );
                println!(
                    "  asa_upcoding (Sønderjylland, Sydvestjylland) = {:.4}",
                    c.clusters
                        .iter()
                        .find(|k| k.name != "Fyn")
                        .map_or(0.0, |k| k.asa_upcoding)
                );
                println!("  costs.kth_municipality = {:.0}", c.costs.kth_municipality);
                println!("  gives {:?}", found.headline);
                found.config
            }
            Err(e) => {
                eprintln!("simulate_cohort: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        KthRollout::calibrated()
    };
    if args.out.is_empty() {
        return ExitCode::SUCCESS;
    }
    let written = config
        .simulate(seed)
        .and_then(|cohort| cohort.write_csv(&args.out).map(|()| cohort.n_rows()));
    match written {
        Ok(n) => {
            eprintln!("wrote {n} synthetic patients to {}", args.out);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("simulate_cohort: {e}");
            ExitCode::FAILURE
        }
    }
}
