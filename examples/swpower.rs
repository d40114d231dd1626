//! `swpower`: the closed-form power of a stepped-wedge (or any cluster) design by generalised
//! least squares, as swCRTdesign's `swPwr`, and the sample size for a target power
//! (`stepwedge::design`).
//!
//! ```sh
//! cargo run --release --example swpower -- --case FILE.json [--json]
//! cargo run --release --example swpower -- --waves 3,3,3 --baseline 1 --n 20 \
//!     --mu0 0.119 --mu1 0.08 --icc 0.02
//! cargo run --release --example swpower -- --design kth2-funen --n 15 --mu0 0.119 \
//!     --mu1 0.08 --icc 0.01 --solve n --target 0.8
//! ```
//!
//! The design comes from exactly one of
//! - `--case FILE.json`: a power case with swPwr's argument names (the format of
//!   `tests/reference/power/*.json`: `design` as a matrix with `null` for an unobserved cell,
//!   `distn`, `n` (a number, one per cluster or a matrix), `mu0`, `mu1`, and optionally `H`,
//!   `sigma`, `tau`, `eta`, `rho`, `gamma`, `zeta`, `icc`, `cac`, `iac`, `alpha`, `decay`,
//!   `cluster_names`; swPwr's defaults for those left out). The parameter flags below are
//!   then not taken: the file says everything.
//! - `--waves 3,3,3`: the standard stepped wedge (swDsn) with `--baseline B` periods of usual
//!   care first (default 1), `--extra E` periods with every cluster treated at the end
//!   (default 0), `--transition 0.5[,..]` (the effect in the first periods after a wave
//!   crosses, as a share: swDsn's tx.effect.frac) and `--unobserved-transition K` (the first K
//!   periods after a wave crosses are not measured).
//! - `--design NAME`: a named design: `traening-for-livet` (6 municipalities, 7 periods of 3
//!   months), `kth2-funen` (KTH 2.0 on Funen, 10 groups over 17 months) or `kth2-funen-5`
//!   (the same in the 5 periods between its steps: months 1-4, 5-7, 8-10, 11-13, 14-17).
//!
//! With `--waves` or `--design`: `--n N` patients per cluster-period, `--mu0`, `--mu1`, and
//! `--sigma` for a continuous outcome (`--distn gaussian`, the default when `--sigma` is
//! given; otherwise binomial, whose variance is muBar (1 - muBar)); the correlation as random
//! effects (`--tau`, `--eta`, `--rho`, `--gamma`, `--zeta`) or as correlations (`--icc`,
//! `--cac`, `--iac`), not both; `--alpha` (default 0.05); `--decay R` (exponential decay of the
//! cluster effect between periods, an extension); `--contrast equal|W1,W2,..` for the
//! exposure-time model with that contrast H.
//!
//! `--solve n|clusters --target P`: the smallest number of patients per cluster-period, or of
//! clusters in every wave, with a power of at least P (default 0.8). `--diagram FILE.svg`
//! writes the design's rollout diagram (whole or not at all).
//!
//! Output: the design as a text grid and the power, or with `--json` one JSON object:
//! `{"power", "var_trt", "se", "effect", "alpha", "components": {"tau", "eta", "rho",
//! "gamma", "zeta"}, "sigma_sq", "observed_cells", "patients", "var_individual",
//! "design_effect", "contrast" (exposure-time model only), "design": {"clusters", "periods",
//! "waves"}, "solved" (with --solve: {"solved_for", "target", "value", "power_one_less"})}`;
//! with `--solve` the power fields are those at the solution. Exit status 0, 1 on a user error
//! (an invalid case or parameter, named on stderr), 2 on a usage error.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::{ArgGroup, Parser, ValueEnum};
use serde::Serialize;
use stepwedge::core::error::Error;
use stepwedge::core::files::write_atomically;
use stepwedge::design::{Contrast, Design, Power, PowerCase, SampleSize, Sizes, SteppedWedge};
use stepwedge::report::figures::{rollout_diagram, RolloutDiagram};
use stepwedge::studies::traening_for_livet::{funen_design, traening_for_livet_design};

mod cli;
use cli::Failure;

const PROGRAM: &str = "swpower";

/// Closed-form power of a stepped-wedge design by GLS (as swCRTdesign's swPwr), and the
/// sample size for a target power.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version)]
#[command(group(ArgGroup::new("source").required(true).args(["case", "waves", "design"])))]
struct Args {
    /// A power case in JSON with swPwr's argument names (as tests/reference/power/*.json).
    #[arg(long, value_name = "FILE.json")]
    case: Option<String>,
    /// Clusters per wave of a standard stepped wedge, e.g. 3,3,3.
    #[arg(long, value_name = "N,N,..", value_delimiter = ',')]
    waves: Option<Vec<usize>>,
    /// A named design.
    #[arg(long, value_enum, value_name = "NAME")]
    design: Option<Named>,
    /// Periods of usual care before the first wave crosses (with --waves).
    #[arg(long, value_name = "B", default_value_t = 1, requires = "waves")]
    baseline: usize,
    /// Periods with every cluster treated after the last wave (with --waves).
    #[arg(long, value_name = "E", default_value_t = 0, requires = "waves")]
    extra: usize,
    /// The effect in the first periods after a wave crosses, as shares (swDsn's tx.effect.frac).
    #[arg(long, value_name = "F,F,..", value_delimiter = ',', requires = "waves")]
    transition: Vec<f64>,
    /// The first K periods after a wave crosses are not measured (with --waves).
    #[arg(long, value_name = "K", default_value_t = 0, requires = "waves")]
    unobserved_transition: usize,
    /// Patients per cluster-period.
    #[arg(
        long,
        value_name = "N",
        conflicts_with = "case",
        required_unless_present = "case"
    )]
    n: Option<f64>,
    /// Mean (risk) under usual care.
    #[arg(
        long,
        value_name = "X",
        conflicts_with = "case",
        required_unless_present = "case",
        allow_negative_numbers = true
    )]
    mu0: Option<f64>,
    /// Mean (risk) under the intervention.
    #[arg(
        long,
        value_name = "X",
        conflicts_with = "case",
        required_unless_present = "case",
        allow_negative_numbers = true
    )]
    mu1: Option<f64>,
    /// The outcome [default: gaussian with --sigma, else binomial].
    #[arg(long, value_enum, conflicts_with = "case")]
    distn: Option<Distn>,
    /// Residual SD of a continuous outcome.
    #[arg(long, value_name = "SD", conflicts_with = "case")]
    sigma: Option<f64>,
    /// SD of the cluster random intercept.
    #[arg(long, value_name = "SD", conflicts_with = "case")]
    tau: Option<f64>,
    /// SD of the cluster random treatment effect.
    #[arg(long, value_name = "SD", conflicts_with = "case")]
    eta: Option<f64>,
    /// Correlation of the random intercept and treatment effect.
    #[arg(
        long,
        value_name = "R",
        conflicts_with = "case",
        allow_negative_numbers = true
    )]
    rho: Option<f64>,
    /// SD of the cluster-period random effect.
    #[arg(long, value_name = "SD", conflicts_with = "case")]
    gamma: Option<f64>,
    /// SD of the individual random effect of a closed cohort.
    #[arg(long, value_name = "SD", conflicts_with = "case")]
    zeta: Option<f64>,
    /// Intracluster correlation (instead of the random effects).
    #[arg(long, value_name = "ICC", conflicts_with = "case")]
    icc: Option<f64>,
    /// Cluster autocorrelation [swPwr's default with --icc: 1].
    #[arg(long, value_name = "CAC", conflicts_with = "case")]
    cac: Option<f64>,
    /// Individual autocorrelation of a closed cohort [swPwr's default with --icc: 0].
    #[arg(long, value_name = "IAC", conflicts_with = "case")]
    iac: Option<f64>,
    /// Two-sided significance level [default: 0.05].
    #[arg(long, value_name = "A", conflicts_with = "case")]
    alpha: Option<f64>,
    /// Exponential decay r of the cluster effect between periods (Kasza et al. 2019).
    #[arg(long, value_name = "R", conflicts_with = "case")]
    decay: Option<f64>,
    /// The exposure-time model with this contrast H: 'equal' or one weight per exposure time.
    #[arg(long, value_name = "equal|W,W,..", value_parser = contrast, conflicts_with = "case", allow_negative_numbers = true)]
    contrast: Option<Contrast>,
    /// Solve for the smallest patients per cluster-period (n) or clusters per wave.
    #[arg(long, value_enum, value_name = "WHAT")]
    solve: Option<Solve>,
    /// The target power of --solve.
    #[arg(long, value_name = "P", default_value_t = 0.8, requires = "solve")]
    target: f64,
    /// Write the design's rollout diagram to this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    diagram: Option<String>,
    /// Print one JSON object instead of the text.
    #[arg(long)]
    json: bool,
}

/// The named designs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Named {
    /// Træning for Livet: 6 municipalities, 7 periods of 3 months.
    TraeningForLivet,
    /// KTH 2.0 on Funen: 10 groups over 17 months.
    Kth2Funen,
    /// KTH 2.0 on Funen in 5 periods (months 1-4, 5-7, 8-10, 11-13, 14-17).
    #[value(name = "kth2-funen-5")]
    Kth2Funen5,
}

/// The outcome's distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Distn {
    /// Continuous, with residual SD --sigma.
    Gaussian,
    /// Binary, with variance muBar (1 - muBar).
    Binomial,
}

/// What --solve finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Solve {
    /// Patients per cluster-period.
    N,
    /// Clusters in every wave.
    Clusters,
}

/// `equal` or comma-separated weights.
fn contrast(text: &str) -> Result<Contrast, String> {
    if text == "equal" {
        return Ok(Contrast::Equal(1.0));
    }
    text.split(',')
        .map(|w| {
            w.trim()
                .parse::<f64>()
                .map_err(|_| format!("'{w}' is not a number (give 'equal' or W,W,..)"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Contrast::Weights)
}

/// What `--json` prints.
#[derive(Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    power: &'a Power,
    design: DesignSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    solved: Option<Solved>,
}

#[derive(Serialize)]
struct DesignSummary {
    clusters: usize,
    periods: usize,
    waves: Vec<usize>,
}

#[derive(Serialize)]
struct Solved {
    solved_for: String,
    target: f64,
    value: usize,
    power_one_less: Option<f64>,
}

/// The design of the flags.
fn design(args: &Args) -> Result<Design, Error> {
    if let Some(waves) = &args.waves {
        return SteppedWedge::new(waves)
            .baseline(args.baseline)
            .extra_treated(args.extra)
            .fractions(&args.transition)
            .unobserved_transition(args.unobserved_transition)
            .build();
    }
    match args.design {
        Some(Named::TraeningForLivet) => traening_for_livet_design(),
        Some(Named::Kth2Funen) => funen_design(),
        Some(Named::Kth2Funen5) => funen_design()?.merge_periods(&[4, 3, 3, 3, 4]),
        None => Err(Error::invalid("design", "give --case, --waves or --design")),
    }
}

/// The power case of the flags (or of the file).
fn case(args: &Args) -> Result<(PowerCase, Design), Error> {
    if let Some(path) = &args.case {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            file: path.clone(),
            source,
        })?;
        let case = PowerCase::from_json(&text).map_err(|e| match e {
            Error::InvalidArgument { message, .. } => Error::invalid(path, message),
            other => other,
        })?;
        let design = case.design()?;
        return Ok((case, design));
    }
    let design = design(args)?;
    let distn = match args.distn {
        Some(Distn::Gaussian) => "gaussian",
        Some(Distn::Binomial) => "binomial",
        None if args.sigma.is_some() => "gaussian",
        None => "binomial",
    };
    let case = PowerCase {
        design: design.cells().to_vec(),
        distn: distn.into(),
        // clap requires them without --case.
        n: Sizes::Scalar(args.n.unwrap_or_default()),
        mu0: args.mu0.unwrap_or_default(),
        mu1: args.mu1.unwrap_or_default(),
        h: args.contrast.clone(),
        sigma: args.sigma,
        tau: args.tau,
        eta: args.eta,
        rho: args.rho,
        gamma: args.gamma,
        zeta: args.zeta,
        icc: args.icc,
        cac: args.cac,
        iac: args.iac,
        alpha: args.alpha,
        decay: args.decay,
        cluster_names: Some(design.clusters().to_vec()),
        informational: BTreeMap::new(),
    };
    Ok((case, design))
}

fn run(args: &Args) -> Result<(), Failure> {
    let (case, design) = case(args)?;
    let spec = case.closed_form()?;
    let solution: Option<SampleSize> = match args.solve {
        None => None,
        Some(Solve::N) => Some(spec.solve_cluster_period_size(&design, args.target)?),
        Some(Solve::Clusters) => Some(spec.solve_clusters_per_wave(&design, args.target)?),
    };
    let design = match (&solution, args.solve) {
        (Some(s), Some(Solve::Clusters)) => design.replicate_waves(s.value)?,
        _ => design,
    };
    let power = match &solution {
        Some(s) => s.power.clone(),
        None => spec.power(&design)?,
    };
    let waves: Vec<String> = design.waves().iter().map(usize::to_string).collect();
    let title = format!(
        "{} clusters in {} waves ({}), {} periods",
        design.n_clusters(),
        waves.len(),
        waves.join(", "),
        design.n_periods()
    );
    let diagram = RolloutDiagram::new(title, "Period", design.clone());
    if let Some(path) = &args.diagram {
        write_atomically(path, rollout_diagram(&diagram)?.as_bytes())?;
        cli::note(PROGRAM, format_args!("wrote {path}"));
    }
    if args.json {
        let output = Output {
            power: &power,
            design: DesignSummary {
                clusters: design.n_clusters(),
                periods: design.n_periods(),
                waves: design.waves(),
            },
            solved: solution.map(|s| Solved {
                solved_for: s.solved_for,
                target: s.target,
                value: s.value,
                power_one_less: s.power_one_less,
            }),
        };
        return cli::emit_json(&output, "the power");
    }
    let mut text = format!(
        "Closed-form power by GLS (as swCRTdesign's swPwr)\n\n{}\n",
        diagram.text()
    );
    if let Some(s) = &solution {
        text.push_str(&format!("{s}\n"));
    }
    text.push_str(&format!(
        "Outcome: {}, mu0 {}, mu1 {}\n{power}\n",
        case.distn, case.mu0, case.mu1
    ));
    cli::emit(&text)
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::exit(PROGRAM, run(&args))
}
