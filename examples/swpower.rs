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
//! With `--waves` or `--design`: `--n N` patients per cluster-period (or `--patients TOTAL`
//! in the whole trial, spread evenly over each cluster's observed periods and over the
//! clusters in proportion to `--cluster-weights W,W,..`, equal by default), `--mu0`, `--mu1`, and
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
//! `--simulate R`: simulation power beside the closed form (`stepwedge::effects::power`): R
//! trials of a logistic model with the closed form's risks (`mu0`, `mu1`) and its `icc` and
//! `cac` taken on the latent scale (cluster SD^2 `cac icc / (1 - icc) pi^2 / 3`, the rest
//! cluster-period), and R more without an effect (the type I error; `--no-null` leaves them
//! out), each given `--analysis glmm|glmm-bw|gee|randomisation` (default `glmm`: the Hussey &
//! Hughes model with a Wald z test; `glmm-bw` with between-within t; `gee` nested
//! exchangeable with Kauermann-Carroll variances and t on G - p; `randomisation` the
//! permutation test of the mixed model's estimate, exact up to 1,000 permutations, else
//! `--permutations N` drawn, default 500) at `--alpha`, seeded by `--seed S` (default 1).
//! `--sizes fixed|poisson`: the cluster-period sizes as fixed numbers (the default when they
//! are whole numbers) or Poisson with those means (the default otherwise). `--latent-icc X`
//! instead of `--icc`: the simulation's latent-scale ICC is X and the closed form takes the
//! same clustering on the probability scale (`effects::power::probability_scale_icc` at the
//! mean risk), so that both describe one population. `--ramp F,F,..`: the data's effect
//! builds up (the share of it at exposure time 1, 2, ..., the analysis still the
//! immediate-treatment model); `--period-trend B`: a linear period effect of B on the logit
//! scale in the data. `--progress` shows a progress bar on stderr; `--write-trials FILE.csv`
//! writes the alternative's simulated trials as counts (`trial,cluster,period,treated,events,trials`)
//! for checking with another program (tests/reference/power/timing/).
//!
//! `--curve-n N,N,..`: the power at each mean cluster-period size (the sizes scaled, their
//! proportions kept), by the closed form and, with `--simulate`, by simulation; `--figure
//! FILE.svg` draws it (`report::figures::power_curve_plot`).
//!
//! Output: the design as a text grid and the power, or with `--json` one JSON object:
//! `{"power", "var_trt", "se", "effect", "alpha", "components": {"tau", "eta", "rho",
//! "gamma", "zeta"}, "sigma_sq", "observed_cells", "patients", "var_individual",
//! "design_effect", "contrast" (exposure-time model only), "design": {"clusters", "periods",
//! "waves"}, "solved" (with --solve: {"solved_for", "target", "value", "power_one_less"}),
//! "simulation" (with --simulate: {"power", "mcse", "type1", "type1_mcse", "mean_estimate",
//! "truth", "bias", "coverage", "failed", "not_converged", "singular", "reps", ...,
//! "alternative", "null"}), "curve" (with --curve-n: [{"mean_size", "patients",
//! "closed_form", "simulation"}]), "latent_icc" (with --latent-icc)}`;
//! with `--solve` the power fields are those at the solution. Exit status 0, 1 on a user error
//! (an invalid case or parameter, named on stderr), 2 on a usage error.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::{ArgGroup, Parser, ValueEnum};
use serde::Serialize;
use stepwedge::core::error::Error;
use stepwedge::core::files::write_atomically;
use stepwedge::design::{
    ClosedForm, Contrast, Design, Power, PowerCase, SampleSize, Sizes, SteppedWedge,
};
use stepwedge::effects::power::{
    power_curve, probability_scale_icc, scaled_sizes, Analysis, Arm, CurvePoint, PowerSimulation,
    SimulationPower,
};
use stepwedge::report::figures::{power_curve_plot, rollout_diagram, PowerCurve, RolloutDiagram};
use stepwedge::sim::{CellSizes, PeriodEffect, TRIALS_CSV_HEADER};
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
        conflicts_with_all = ["case", "patients"],
        required_unless_present_any = ["case", "patients"]
    )]
    n: Option<f64>,
    /// Patients in the whole trial (expected), spread evenly over each cluster's observed
    /// periods and over the clusters by --cluster-weights (instead of --n).
    #[arg(long, value_name = "TOTAL", conflicts_with = "case")]
    patients: Option<f64>,
    /// The clusters' shares of --patients, one weight per cluster [default: equal].
    #[arg(
        long,
        value_name = "W,W,..",
        value_delimiter = ',',
        requires = "patients"
    )]
    cluster_weights: Vec<f64>,
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
    /// The latent-scale ICC of the simulation; the closed form takes its probability-scale
    /// counterpart (instead of --icc).
    #[arg(long, value_name = "ICC", conflicts_with_all = ["case", "icc", "tau", "eta", "rho", "gamma", "zeta"])]
    latent_icc: Option<f64>,
    /// Simulation power from R simulated trials (and R under the null).
    #[arg(long, value_name = "R")]
    simulate: Option<usize>,
    /// The analysis of each simulated trial.
    #[arg(long, value_enum, default_value_t = AnalysisArg::Glmm)]
    analysis: AnalysisArg,
    /// Permutations drawn by the randomisation analysis (when there are over 1,000).
    #[arg(long, value_name = "N", default_value_t = 500)]
    permutations: usize,
    /// The seed of the simulation.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Simulated cluster-period sizes [default: fixed if whole numbers, else poisson].
    #[arg(long, value_enum)]
    sizes: Option<SizesArg>,
    /// Do not simulate the null's trials (no type I error).
    #[arg(long)]
    no_null: bool,
    /// The data's effect builds up: its share at exposure time 1, 2, ...
    #[arg(long, value_name = "F,F,..", value_delimiter = ',')]
    ramp: Vec<f64>,
    /// A linear period effect in the simulated data (logit scale, per period).
    #[arg(long, value_name = "B", allow_negative_numbers = true)]
    period_trend: Option<f64>,
    /// Show the simulation's progress on stderr.
    #[arg(long)]
    progress: bool,
    /// Write the simulated trials (alternative) as counts to this CSV file.
    #[arg(long, value_name = "FILE.csv", requires = "simulate")]
    write_trials: Option<String>,
    /// The power at these mean cluster-period sizes (a power curve).
    #[arg(long, value_name = "N,N,..", value_delimiter = ',')]
    curve_n: Vec<f64>,
    /// Draw the power curve of --curve-n to this SVG file.
    #[arg(long, value_name = "FILE.svg", requires = "curve_n")]
    figure: Option<String>,
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

/// The analysis of each simulated trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AnalysisArg {
    /// Hussey & Hughes logistic mixed model, Wald z.
    Glmm,
    /// The same with between-within t.
    GlmmBw,
    /// GEE, nested exchangeable, Kauermann-Carroll, t on G - p.
    Gee,
    /// Randomisation test of the mixed model's estimate.
    Randomisation,
}

/// How simulated sizes are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SizesArg {
    /// Exactly the given numbers (whole numbers).
    Fixed,
    /// Poisson with the given means.
    Poisson,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    simulation: Option<PowerSimulation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    curve: Option<Vec<CurvePoint>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latent_icc: Option<f64>,
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

/// `total` patients spread over the observed cells of `design`: cluster i gets the share
/// `w_i / sum w` of them (equal shares without weights), evenly over its observed periods.
fn spread(total: f64, weights: &[f64], design: &Design) -> Result<Sizes, Error> {
    if !(total > 0.0 && total.is_finite()) {
        return Err(Error::invalid(
            "patients",
            format!("is {total}; a positive number of patients is needed"),
        ));
    }
    let clusters = design.n_clusters();
    let weights = if weights.is_empty() {
        vec![1.0; clusters]
    } else {
        weights.to_vec()
    };
    if weights.len() != clusters || weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
        return Err(Error::invalid(
            "cluster-weights",
            format!(
                "{} weights for {clusters} clusters; one number >= 0 per cluster is needed",
                weights.len()
            ),
        ));
    }
    let sum: f64 = weights.iter().sum();
    if sum <= 0.0 {
        return Err(Error::invalid("cluster-weights", "the weights add up to 0"));
    }
    let matrix = design
        .cells()
        .iter()
        .zip(&weights)
        .map(|(row, w)| {
            let observed = row.iter().filter(|c| c.is_some()).count().max(1) as f64;
            let n = total * w / sum / observed;
            row.iter()
                .map(|c| if c.is_some() { n } else { 0.0 })
                .collect()
        })
        .collect();
    Ok(Sizes::Matrix(matrix))
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
        n: match args.patients {
            Some(total) => spread(total, &args.cluster_weights, &design)?,
            None => Sizes::Scalar(args.n.unwrap_or_default()),
        },
        mu0: args.mu0.unwrap_or_default(),
        mu1: args.mu1.unwrap_or_default(),
        h: args.contrast.clone(),
        sigma: args.sigma,
        tau: args.tau,
        eta: args.eta,
        rho: args.rho,
        gamma: args.gamma,
        zeta: args.zeta,
        icc: match args.latent_icc {
            Some(latent) => Some(probability_scale_icc(
                latent,
                (args.mu0.unwrap_or_default() + args.mu1.unwrap_or_default()) / 2.0,
            )?),
            None => args.icc,
        },
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
    // The closed form as computed: at the solution's size when solving for it.
    let spec = match (&solution, args.solve) {
        (Some(s), Some(Solve::N)) => spec.sizes(Sizes::Scalar(s.value as f64)),
        _ => spec,
    };
    let simulation = match args.simulate {
        Some(reps) => {
            let simulation = simulation_of(args, &spec, &design)?.reps(reps);
            if let Some(path) = &args.write_trials {
                write_trials(&simulation, reps, path)?;
                cli::note(PROGRAM, format_args!("wrote {path}"));
            }
            Some(simulation.run()?)
        }
        None => None,
    };
    let curve = if args.curve_n.is_empty() {
        None
    } else {
        Some(curve_of(args, &spec, &design)?)
    };
    if let (Some(path), Some(points)) = (&args.figure, &curve) {
        let label = match args.simulate {
            Some(reps) => format!(
                "Simulation: {}, {reps} trials",
                analysis_of(args).describe()
            ),
            None => String::new(),
        };
        let mut figure = PowerCurve::from_points(
            format!(
                "Power: {} clusters, {} periods, {} {} vs {}",
                design.n_clusters(),
                design.n_periods(),
                if case.distn == "binomial" {
                    "risk"
                } else {
                    "mean"
                },
                case.mu0,
                case.mu1
            ),
            points,
            label,
        );
        figure.closed_form_label = "Closed form (GLS, as swCRTdesign's swPwr)".into();
        write_atomically(path, power_curve_plot(&figure)?.as_bytes())?;
        cli::note(PROGRAM, format_args!("wrote {path}"));
    }
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
            simulation,
            curve,
            latent_icc: args.latent_icc,
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
    if let Some(latent) = args.latent_icc {
        text.push_str(&format!(
            "ICC: latent scale {latent} (simulation), probability scale {:.5} (closed form)\n",
            case.icc.unwrap_or_default()
        ));
    }
    if let Some(simulation) = &simulation {
        text.push_str(&format!("\n{simulation}"));
    }
    if let Some(points) = &curve {
        text.push_str(&curve_table(points));
    }
    cli::emit(&text)
}

/// The analysis of the flags.
fn analysis_of(args: &Args) -> Analysis {
    match args.analysis {
        AnalysisArg::Glmm => Analysis::Glmm,
        AnalysisArg::GlmmBw => Analysis::GlmmBetweenWithin,
        AnalysisArg::Gee => Analysis::gee(),
        AnalysisArg::Randomisation => Analysis::Randomisation {
            max_exact: 1_000,
            draws: args.permutations,
        },
    }
}

/// The simulation that matches `spec` on `design`, with the flags' analysis and settings.
fn simulation_of(
    args: &Args,
    spec: &ClosedForm,
    design: &Design,
) -> Result<SimulationPower, Error> {
    let poisson = args.sizes == Some(SizesArg::Poisson);
    let simulation = SimulationPower::from_closed_form(spec, design, poisson);
    let mut simulation = match (simulation, args.latent_icc) {
        // The closed form took the probability-scale ICC: the simulation has the latent one.
        (Ok(s), Some(latent)) => {
            let cac = args.cac.unwrap_or(1.0);
            let model = s.data_model().clone().latent_icc(latent, cac)?;
            s.model(model)
        }
        (result, _) => result?,
    };
    if args.sizes == Some(SizesArg::Fixed) {
        let matrix = spec.size_matrix(design)?;
        simulation = simulation.sizes(CellSizes::fixed(&matrix)?);
    }
    let mut model = simulation.data_model().clone();
    model.treatment_by_exposure = args.ramp.clone();
    if let Some(slope) = args.period_trend {
        model.period = PeriodEffect::Linear(slope);
    }
    Ok(simulation
        .model(model)
        .analysis(analysis_of(args))
        .seed(args.seed)
        .null(!args.no_null)
        .progress(args.progress))
}

/// The power curve of the flags: the closed form at each size, and the simulation that
/// matches it there with `--simulate`.
fn curve_of(args: &Args, spec: &ClosedForm, design: &Design) -> Result<Vec<CurvePoint>, Error> {
    let poisson = args.sizes == Some(SizesArg::Poisson);
    let mut points = power_curve(spec, design, &args.curve_n, poisson, None)?;
    if let Some(reps) = args.simulate {
        for point in &mut points {
            let at = scaled_sizes(spec, design, point.mean_size)?;
            point.simulation = Some(simulation_of(args, &at, design)?.reps(reps).run()?);
        }
    }
    Ok(points)
}

/// The curve as a table.
fn curve_table(points: &[CurvePoint]) -> String {
    let mut text = String::from(
        "\nPower curve\n  mean n  patients  closed form  simulation (MCSE)  type I error (MCSE)\n",
    );
    for p in points {
        let (sim, null) = match &p.simulation {
            Some(s) => (
                format!("{:.3} ({:.3})", s.power, s.mcse),
                match (s.type1, s.type1_mcse) {
                    (Some(t), Some(se)) => format!("{t:.3} ({se:.3})"),
                    _ => "-".into(),
                },
            ),
            None => ("-".into(), "-".into()),
        };
        text.push_str(&format!(
            "  {:>6.2}  {:>8.0}  {:>11.3}  {:>17}  {:>19}\n",
            p.mean_size, p.patients, p.closed_form.power, sim, null
        ));
    }
    text
}

/// Writes the first `reps` trials of the alternative as counts to `path` (whole or not at all).
fn write_trials(simulation: &SimulationPower, reps: usize, path: &str) -> Result<(), Error> {
    let mut text = format!("{TRIALS_CSV_HEADER}\n");
    for r in 0..reps {
        let trial = simulation.trial(Arm::Alternative, r)?;
        text.push_str(&trial.csv_rows(simulation.design(), r + 1));
    }
    write_atomically(path, text.as_bytes())
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::exit(PROGRAM, run(&args))
}
