//! Simulate a stepped-wedge or staggered-rollout cohort and write it as CSV.
//!
//! ```sh
//! cargo run --release --example simulate_cohort -- --clusters 12 --periods 8 --size 27 \
//!     --seed 2609 --out data-samples/stepped_wedge_sim.csv
//! ```
//!
//! Flags (`simulate_cohort --help` lists them with their defaults): `--clusters K` (clusters that cross over, default 10), `--never N` (usual-care clusters
//! that never cross over, default 0), `--periods T` (default 6), `--size M` (mean patients per
//! cluster-period, Poisson; default 30), `--fixed` (exactly `--size` patients in every
//! cluster-period instead), `--seed S` (default 1), `--out FILE` (required; written whole or
//! not at all). The outcome and
//! cost models are the simulator's defaults (see `stepwedge::sim`).
//!
//! The cohort of the 10^6-patient benchmarks (`benches/glmm_fit.rs`) is
//! `--clusters 50 --periods 12 --size 1666 --fixed --seed 1`.
//!
//! `--registry` writes the same patients with a registry's columns instead: `patient_id,
//! cluster, period, treated, age, female, nursing_home, death30`, age in whole years (the
//! simulated age rounded down), `female` 1 for sex F and `nursing_home` 1 for that residence,
//! 0 otherwise; no cost. The 10^7-row file of the speed table (`benches/speed/workloads.json`)
//! is `--clusters 50 --periods 12 --size 16667 --fixed --seed 1 --registry`.
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
//!
//! `--lkt` writes the synthetic cohort of the 11 LKT teams over 24 months from December 2023
//! (`stepwedge::studies::lkt::synthetic`, seed 2215 unless `--seed` is given); the bundled
//! sample is
//!
//! ```sh
//! cargo run --release --example simulate_cohort -- --lkt --out data-samples/lkt_synthetic.csv
//! ```

use std::process::ExitCode;

use clap::Parser;
use stepwedge::core::error::Error;
use stepwedge::data::{Cohort, Column};
use stepwedge::sim::{ClusterSize, SimConfig};
use stepwedge::studies::kth_rollout::calibrate;
use stepwedge::studies::kth_rollout::synthetic::KthRollout;
use stepwedge::studies::lkt::synthetic::{LktSynthetic, DEFAULT_SEED as LKT_SEED};

mod cli;
use cli::Failure;

const PROGRAM: &str = "simulate_cohort";

/// Simulate a stepped-wedge or staggered-rollout cohort and write it as CSV.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version)]
struct Args {
    /// Clusters that cross over.
    #[arg(long, value_name = "K", default_value_t = 10)]
    clusters: usize,
    /// Usual-care clusters that never cross over.
    #[arg(long, value_name = "N", default_value_t = 0)]
    never: usize,
    /// Calendar periods.
    #[arg(long, value_name = "T", default_value_t = 6)]
    periods: usize,
    /// Mean patients per cluster-period (Poisson), or the exact number with --fixed.
    #[arg(long, value_name = "M", default_value_t = 30.0)]
    size: f64,
    /// Exactly --size patients in every cluster-period.
    #[arg(long)]
    fixed: bool,
    /// Write a registry's columns (patient_id, cluster, period, treated, age in whole years,
    /// female, nursing_home, death30) instead of the simulator's.
    #[arg(long, conflicts_with_all = ["kth_rollout", "lkt"])]
    registry: bool,
    /// Seed [default: 1, the KTH rollout's 20251105 with --kth-rollout, 2215 with --lkt].
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// The CSV file to write (required unless --calibrate).
    #[arg(long, value_name = "FILE", required_unless_present = "calibrate")]
    out: Option<String>,
    /// Write the synthetic cohort of the regional Kom Trygt Hjem rollout instead.
    #[arg(long, conflicts_with = "lkt")]
    kth_rollout: bool,
    /// Write the synthetic cohort of the 11 LKT teams (24 months from December 2023) instead.
    #[arg(long)]
    lkt: bool,
    /// With --kth-rollout: run the calibration again and print what it finds.
    #[arg(long, requires = "kth_rollout")]
    calibrate: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = if args.kth_rollout {
        kth_rollout(&args)
    } else if args.lkt {
        lkt(&args)
    } else {
        simulate(&args)
    };
    cli::exit(PROGRAM, result)
}

/// The simulated stepped-wedge or staggered-rollout cohort.
fn simulate(args: &Args) -> Result<(), Failure> {
    let mut config = SimConfig::staggered(args.clusters, args.never, args.periods);
    config.cluster_size = if args.fixed {
        if args.size < 0.0 || args.size.fract() != 0.0 {
            return Err(Error::invalid("--size", "--fixed needs a whole number --size").into());
        }
        ClusterSize::Fixed(args.size as usize)
    } else {
        ClusterSize::Poisson { mean: args.size }
    };
    let mut cohort = config.simulate(args.seed.unwrap_or(1))?;
    if args.registry {
        cohort = registry_columns(&cohort)?;
    }
    if let Some(out) = &args.out {
        cohort.write_csv(out)?;
        cli::note(
            PROGRAM,
            format_args!("wrote {} patients to {out}", cohort.n_rows()),
        );
    }
    Ok(())
}

/// The simulated cohort with a registry's columns: `patient_id`, `cluster`, `period`,
/// `treated`, `age` in whole years (rounded down), `female` (sex F), `nursing_home` (that
/// residence), `death30`.
fn registry_columns(cohort: &Cohort) -> Result<Cohort, Error> {
    let indicator = |name: &str, level: &str| -> Result<Column, Error> {
        let (codes, levels) = (cohort.codes(name)?, cohort.levels(name)?);
        let code = levels.iter().position(|l| l == level).map(|c| c as u32);
        Ok(Column::Numeric(
            codes
                .iter()
                .map(|&c| if Some(c) == code { 1.0 } else { 0.0 })
                .collect(),
        ))
    };
    let copy = |name: &str| cohort.column(name).cloned();
    let age = cohort.numeric("age")?.iter().map(|a| a.floor()).collect();
    Cohort::from_columns(vec![
        ("patient_id".into(), copy("id")?),
        ("cluster".into(), copy("cluster")?),
        ("period".into(), copy("period")?),
        ("treated".into(), copy("treated")?),
        ("age".into(), Column::Numeric(age)),
        ("female".into(), indicator("sex", "F")?),
        (
            "nursing_home".into(),
            indicator("residence", "nursing_home")?,
        ),
        ("death30".into(), copy("death30")?),
    ])
}

/// The synthetic LKT cohort.
fn lkt(args: &Args) -> Result<(), Failure> {
    let cohort = LktSynthetic::default().simulate(args.seed.unwrap_or(LKT_SEED))?;
    if let Some(out) = &args.out {
        cohort.write_csv(out)?;
        cli::note(
            PROGRAM,
            format_args!("wrote {} synthetic patients to {out}", cohort.n_rows()),
        );
    }
    Ok(())
}

/// The synthetic KTH rollout cohort, or its calibration.
fn kth_rollout(args: &Args) -> Result<(), Failure> {
    let seed = args.seed.unwrap_or(KthRollout::SEED);
    let config = if args.calibrate {
        let found = calibrate(KthRollout::calibrated(), seed)?;
        let c = &found.config;
        let upcoding = c
            .clusters
            .iter()
            .find(|k| k.name != "Fyn")
            .map_or(0.0, |k| k.asa_upcoding);
        cli::emit(&format!(
            "calibrated in {} evaluations (seed {seed}):\n  \
             mortality.residence[nursing_home]   = {:.4}\n  \
             readmission.residence[nursing_home] = {:.4}\n  \
             asa_upcoding (Sønderjylland, Sydvestjylland) = {upcoding:.4}\n  \
             costs.kth_municipality = {:.0}\n  gives {:?}\n",
            found.evaluations,
            c.mortality.residence[1],
            c.readmission.residence[1],
            c.costs.kth_municipality,
            found.headline
        ))?;
        found.config
    } else {
        KthRollout::calibrated()
    };
    if let Some(out) = &args.out {
        let cohort = config.simulate(seed)?;
        cohort.write_csv(out)?;
        cli::note(
            PROGRAM,
            format_args!("wrote {} synthetic patients to {out}", cohort.n_rows()),
        );
    }
    Ok(())
}
