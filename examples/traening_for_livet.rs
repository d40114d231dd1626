//! Træning for Livet (Rehabilitation for Life): the stepped-wedge design, the crude results of
//! seed 003 from reconstructed counts, a synthetic trial of the design, and the KTH 2.0 schedule
//! on Funen.
//!
//! Prints the design (Ipsen et al., Trials 2022;23:375) as a grid; for 30-day readmission,
//! 30-day mortality and 1-year mortality the event counts reconstructed from the published
//! percentages (control n=137, intervention n=135; the counts are not published), each 2x2
//! table's risks, odds ratio, relative risk, risk difference (Newcombe), NNT and tests, and the
//! table of reconstructed beside published percentages; then a SYNTHETIC trial of the same
//! design (simulated patients, not the trial's) analysed with the Hussey & Hughes model
//! `readmit30 ~ treated + factor(period) + (1 | cluster)` with between-within t inference and,
//! beside it, the population-averaged odds ratio and relative risk by GEE of
//! `readmit30 ~ treated + period` (a linear calendar-time trend: with 6 municipalities
//! `factor(period)` would leave the GEE's t reference on G - p no degrees of freedom;
//! exchangeable working correlation within municipality, MAEE, Kauermann-Carroll variance, t on
//! 6 - 3 = 3 df, fragile with so few clusters); the exact randomisation test of the mixed
//! model's treatment effect (all 720 orders of the municipalities' crossovers refitted) with its
//! two-sided and one-sided p-values and randomisation interval (log odds ratio and odds ratio,
//! an open bound printed as open) beside the model-based t; the exposure-time indicator model
//! `readmit30 ~ factor(exposure) + factor(period) + (1 | cluster)` (exposure capped so that every
//! level holds 2 municipalities, lowered and reported when the model cannot be fitted) with the
//! effect at each exposure time, the TATE and its interval, and the Wald and likelihood-ratio
//! tests against the Hussey & Hughes model; then the KTH 2.0 schedule on Funen. The library side
//! is `stepwedge::studies::traening_for_livet`.
//!
//! Every number printed is computed from the counts, the design or the simulated data, except
//! the values labelled "published", which are printed as published, with their source.
//!
//! ```text
//! cargo run --release --example traening_for_livet                    # readable report
//! cargo run --release --example traening_for_livet -- --out figures   # also write the SVGs
//! cargo run --release --example traening_for_livet -- --seed 7        # another synthetic trial
//! cargo run --release --example traening_for_livet -- --json          # one JSON object on stdout
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use serde_json::Value;
use stepwedge::core::error::Error;
use stepwedge::studies::traening_for_livet::{
    CrudeComparison, ReconstructedCount, SyntheticTrial, TraeningForLivet, DEFAULT_SEED,
    FUNEN_SOURCE, N_CONTROL, N_INTERVENTION, PUBLISHED, RESULTS_SOURCE,
};

mod cli;
use cli::Failure;

const PROGRAM: &str = "traening_for_livet";

// ---- Text report ----

/// `9-10` or `14`: the counts that print as the published percentage.
fn consistent(r: &ReconstructedCount) -> String {
    match r.consistent {
        Some((a, b)) if a == b => a.to_string(),
        Some((a, b)) => format!("{a}-{b}"),
        None => "none".to_string(),
    }
}

fn reconstructed_line(group: &str, r: &ReconstructedCount) -> String {
    format!(
        "  {group:<13}published {}% of n={} -> count {} (nearest to {}% x {} = {:.2}); \
         {}/{} = {:.2}% {}; counts printing as {}%: {}",
        r.published_percent,
        r.n,
        r.count,
        r.published_percent,
        r.n,
        r.published_percent / 100.0 * r.n as f64,
        r.count,
        r.n,
        r.percent,
        if r.consistent
            .is_some_and(|(a, b)| (a..=b).contains(&r.count))
        {
            "rounds to the published percentage"
        } else {
            "DOES NOT round to the published percentage"
        },
        r.published_percent,
        consistent(r)
    )
}

fn print_crude(out: &mut String, c: &CrudeComparison) {
    let t = &c.summary.table;
    outln!(
        out,
        "\n-- {}: {}/{} (intervention) vs {}/{} (control), reconstructed counts --",
        c.outcome,
        t.a(),
        t.n1(),
        t.c(),
        t.n0()
    );
    outln!(out, "{}", reconstructed_line("control", &c.control));
    outln!(
        out,
        "{}",
        reconstructed_line("intervention", &c.intervention)
    );
    outln!(out, "{}", c.summary);
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn print_synthetic(out: &mut String, s: &SyntheticTrial, cluster_periods: usize) {
    let t = &s.counts;
    let set = &s.settings;
    let readmission = &PUBLISHED[0];
    outln!(
        out,
        "\n== SYNTHETIC trial of the same design (simulated patients, not the trial's data) =="
    );
    outln!(
        out,
        "  simulation: seed {}; Poisson({:.3}) patients per cluster-period ({:.0} expected); \
         home-dwelling patients; outcome {} (readmission-like: 30-day mortality, published at \
         {}% and {}%, is too rare for a mixed model of so few patients); usual-care risk {:.0}% and true odds ratio \
         {:.3} (set from the published {}% and {}% readmission), cluster SD {} (logit scale); \
         no calendar trend",
        s.seed,
        set.patients_per_cluster_period,
        set.patients_per_cluster_period * cluster_periods as f64,
        set.outcome,
        PUBLISHED[1].control_percent,
        PUBLISHED[1].intervention_percent,
        100.0 * set.control_risk,
        set.odds_ratio,
        readmission.control_percent,
        readmission.intervention_percent,
        set.cluster_sd
    );
    outln!(
        out,
        "  simulated patients: control {} (published trial: {N_CONTROL}), intervention {} \
         (published trial: {N_INTERVENTION}); events {}/{} = {:.1}% vs {}/{} = {:.1}%",
        t.n0(),
        t.n1(),
        t.c(),
        t.n0(),
        100.0 * t.p0(),
        t.a(),
        t.n1(),
        100.0 * t.p1()
    );
    let row = &s.treatment;
    outln!(
        out,
        "  Hussey & Hughes model {} (Laplace; t on between-within df)",
        s.formula
    );
    outln!(
        out,
        "  treatment odds ratio {:.3} ({:.0}% t interval {:.3} to {:.3}, df = {}), p = {:.4}",
        s.odds_ratio.estimate,
        100.0 * s.odds_ratio.level,
        s.odds_ratio.ci_low,
        s.odds_ratio.ci_high,
        row.df.map_or("normal".to_string(), |d| format!("{d}")),
        row.p_value
    );
    outln!(
        out,
        "  cluster SD {:.4}; converged: {} (largest gradient entry {:.1e}); singular fit: {}",
        s.cluster_sd,
        yes_no(s.converged),
        s.fit.gradient_max,
        if s.singular {
            format!(
                "YES, the cluster variance is estimated as 0 ({} clusters are few to estimate it)",
                s.fit.n_groups.get("cluster").copied().unwrap_or(0)
            )
        } else {
            "no".to_string()
        }
    );
    outln!(out, "\n{}", s.fit);
    print_population_averaged(out, s);
    outln!(
        out,
        "\n-- Exact randomisation test of the treatment effect, beside the model-based t --"
    );
    out!(out, "{}", s.randomisation);
    outln!(
        out,
        "\n-- Exposure-time analysis: the effect by time since the crossover (ETI model, TATE) --"
    );
    out!(out, "{}", s.exposure_time);
}

/// The GEEs beside the mixed model: the model, the caution about 6 clusters, each ratio (or
/// why there is none), and the logit GEE's whole table.
fn print_population_averaged(out: &mut String, s: &SyntheticTrial) {
    outln!(
        out,
        "-- Population-averaged analysis of the same synthetic patients (GEE), beside the mixed \
         model --"
    );
    let Some(first) = s.population_averaged.first() else {
        return;
    };
    outln!(
        out,
        "  marginal model {} by GEE, clustered by municipality (column {}): {} working \
         correlation within municipality ({}), {} variance; time: {}",
        first.formula,
        first.cluster,
        first.working_correlation,
        if first.maee { "MAEE" } else { "UEE" },
        first.se.vcov_kind().describe(),
        first.time
    );
    let clusters = first.fit.as_ref().map_or_else(
        || s.fit.n_groups.get("cluster").copied().unwrap_or(0),
        |f| f.n_clusters,
    );
    let df = first
        .fit
        .as_ref()
        .map(|f| {
            format!(
                "t reference on G - p = {} - {} = {} df",
                f.n_clusters,
                f.coefficients.len(),
                f.df
            )
        })
        .unwrap_or_else(|| "no degrees of freedom (the fit failed)".to_string());
    outln!(
        out,
        "  CAUTION: with only {clusters} municipalities the GEE inference is fragile: {df}, so \
         the t intervals are wide; sandwich variances run small with few clusters, and the KC \
         correction was shown to keep its size with as few as 8-10 clusters, not {clusters}; \
         the correlation rests on the same few clusters. Read it as a companion to the mixed \
         model, not a sharper answer"
    );
    for pa in &s.population_averaged {
        match (&pa.ratio, &pa.coefficient) {
            (Some(ratio), Some(row)) => outln!(
                out,
                "  population-averaged {} ({} link): {:.3} ({:.0}% t interval {:.3} to {:.3}, \
                 df = {}), p = {:.4}; correlation within municipality {}; {}",
                pa.measure,
                pa.link,
                ratio.estimate,
                100.0 * ratio.level,
                ratio.ci_low,
                ratio.ci_high,
                row.df.map_or("normal".to_string(), |d| format!("{d}")),
                row.p_value,
                match (pa.correlation, pa.correlation_std_error) {
                    (Some(a), Some(se)) => format!("{a:.4} (SE {se:.4})"),
                    (Some(a), None) => format!("{a:.4}"),
                    _ => "-".to_string(),
                },
                pa.fit.as_ref().map_or(String::new(), |f| format!(
                    "converged after {} iterations",
                    f.iterations
                ))
            ),
            _ => outln!(
                out,
                "  population-averaged {} ({} link): NO ESTIMATE ({:?})",
                pa.measure,
                pa.link,
                pa.status
            ),
        }
        if let Some(problem) = &pa.problem {
            outln!(out, "    WARNING: {problem}");
        }
    }
    outln!(
        out,
        "  beside the mixed model's odds ratio {:.3} ({:.0}% t interval {:.3} to {:.3}), which \
         is conditional on the municipality and takes time as factor(period)",
        s.odds_ratio.estimate,
        100.0 * s.odds_ratio.level,
        s.odds_ratio.ci_low,
        s.odds_ratio.ci_high
    );
    if let Some(fit) = s.population_averaged.iter().find_map(|p| p.fit.as_ref()) {
        outln!(out, "\n{fit}");
    }
}

fn print_text(out: &mut String, r: &TraeningForLivet) {
    let d = &r.design;
    let (control, intervention) = d.cluster_periods();
    outln!(
        out,
        "Træning for Livet (Rehabilitation for Life): stepped-wedge cluster-randomised trial"
    );
    outln!(
        out,
        "Design (published: {}): {} municipalities, one crossing to the intervention every {} \
         months, {} periods",
        d.source,
        d.clusters.len(),
        d.months_per_period,
        d.n_periods
    );
    if !d.cluster_names_verified {
        outln!(
            out,
            "  The municipalities and their randomised order could not be verified from public \
             sources; they are named by crossover order."
        );
    }
    outln!(out, "\n{}", r.design_diagram.text());
    outln!(
        out,
        "Cluster-periods (from the grid): {control} under usual care, {intervention} under the \
         intervention"
    );

    outln!(out, "\n== Crude comparisons, intervention vs control ==");
    outln!(
        out,
        "Published ({RESULTS_SOURCE}): whole percentages only. The event counts are not \
         published; each is reconstructed as the integer nearest to percentage x n."
    );
    for c in &r.crude {
        print_crude(out, c);
    }
    outln!(
        out,
        "\n-- Reconstructed percentages beside the published ones --"
    );
    out!(out, "{}", r.reproduction);
    outln!(
        out,
        "All reconstructed percentages round to the published ones: {}",
        yes_no(r.reproduction.all_within())
    );

    print_synthetic(out, &r.synthetic, control + intervention);

    outln!(
        out,
        "\n== KTH 2.0 on Funen (published schedule: {FUNEN_SOURCE}) ==\n"
    );
    out!(out, "{}", r.funen_schedule.text());
}

// ---- Command line ----

/// Træning for Livet: the design, the crude results, a synthetic trial and the KTH 2.0 schedule.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version)]
struct Args {
    /// Print one JSON object on stdout instead of the report.
    #[arg(long)]
    json: bool,
    /// Write the figures (SVG: the design, the Funen schedule and the synthetic trial's effects
    /// by exposure time) into this directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Seed of the synthetic trial.
    #[arg(long, value_name = "S", default_value_t = DEFAULT_SEED)]
    seed: u64,
}

fn json_error(e: serde_json::Error) -> Error {
    Error::Numerical {
        what: "JSON serialisation".into(),
        message: e.to_string(),
    }
}

fn run(args: &Args) -> std::result::Result<(), Failure> {
    let report = TraeningForLivet::run(args.seed)?;
    let written = match &args.out {
        Some(dir) => report.write_figures(dir).map_err(|e| {
            Error::invalid(
                "--out",
                format!(
                    "cannot create '{}' or write the figures into it ({e})",
                    dir.display()
                ),
            )
        })?,
        None => Vec::new(),
    };
    let mut out = String::new();
    if args.json {
        let mut value = serde_json::to_value(&report).map_err(json_error)?;
        if let Value::Object(map) = &mut value {
            let files = written
                .iter()
                .map(|p| Value::String(p.display().to_string()))
                .collect();
            map.insert("figures_written".into(), Value::Array(files));
        }
        outln!(out, "{value}");
    } else {
        print_text(&mut out, &report);
        for path in &written {
            outln!(out, "wrote {}", path.display());
        }
    }
    cli::emit(&out)
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::exit(PROGRAM, run(&args))
}
