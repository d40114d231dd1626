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
//! `readmit30 ~ treated + factor(period) + (1 | cluster)` with between-within t inference; then
//! the KTH 2.0 schedule on Funen. The library side is
//! `stepwedge::studies::traening_for_livet`.
//!
//! Every number printed is computed from the counts, the design or the simulated data, except
//! the values labelled "published", which are printed as published, with their source.
//!
//! ```text
//! cargo run --release --example traening_for_livet                    # readable report
//! cargo run --release --example traening_for_livet -- --out figures   # also write the two SVGs
//! cargo run --release --example traening_for_livet -- --seed 7        # another synthetic trial
//! cargo run --release --example traening_for_livet -- --json          # one JSON object on stdout
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value;
use stepwedge::core::error::{Error, Result};
use stepwedge::studies::traening_for_livet::{
    CrudeComparison, ReconstructedCount, SyntheticTrial, TraeningForLivet, DEFAULT_SEED,
    DESIGN_SVG, FUNEN_SOURCE, FUNEN_SVG, N_CONTROL, N_INTERVENTION, PUBLISHED, RESULTS_SOURCE,
};

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

fn print_crude(c: &CrudeComparison) {
    let t = &c.summary.table;
    println!(
        "\n-- {}: {}/{} (intervention) vs {}/{} (control), reconstructed counts --",
        c.outcome,
        t.a(),
        t.n1(),
        t.c(),
        t.n0()
    );
    println!("{}", reconstructed_line("control", &c.control));
    println!("{}", reconstructed_line("intervention", &c.intervention));
    println!("{}", c.summary);
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn print_synthetic(s: &SyntheticTrial, cluster_periods: usize) {
    let t = &s.counts;
    let set = &s.settings;
    let readmission = &PUBLISHED[0];
    println!(
        "\n== SYNTHETIC trial of the same design (simulated patients, not the trial's data) =="
    );
    println!(
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
    println!(
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
    println!(
        "  Hussey & Hughes model {} (Laplace; t on between-within df)",
        s.formula
    );
    println!(
        "  treatment odds ratio {:.3} ({:.0}% t interval {:.3} to {:.3}, df = {}), p = {:.4}",
        s.odds_ratio.estimate,
        100.0 * s.odds_ratio.level,
        s.odds_ratio.ci_low,
        s.odds_ratio.ci_high,
        row.df.map_or("normal".to_string(), |d| format!("{d}")),
        row.p_value
    );
    println!(
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
    println!("\n{}", s.fit);
}

fn print_text(r: &TraeningForLivet) {
    let d = &r.design;
    let (control, intervention) = d.cluster_periods();
    println!("Træning for Livet (Rehabilitation for Life): stepped-wedge cluster-randomised trial");
    println!(
        "Design (published: {}): {} municipalities, one crossing to the intervention every {} \
         months, {} periods",
        d.source,
        d.clusters.len(),
        d.months_per_period,
        d.n_periods
    );
    if !d.cluster_names_verified {
        println!(
            "  The municipalities and their randomised order could not be verified from public \
             sources; they are named by crossover order."
        );
    }
    println!("\n{}", r.design_diagram.text());
    println!(
        "Cluster-periods (from the grid): {control} under usual care, {intervention} under the \
         intervention"
    );

    println!("\n== Crude comparisons, intervention vs control ==");
    println!(
        "Published ({RESULTS_SOURCE}): whole percentages only. The event counts are not \
         published; each is reconstructed as the integer nearest to percentage x n."
    );
    for c in &r.crude {
        print_crude(c);
    }
    println!("\n-- Reconstructed percentages beside the published ones --");
    print!("{}", r.reproduction);
    println!(
        "All reconstructed percentages round to the published ones: {}",
        yes_no(r.reproduction.all_within())
    );

    print_synthetic(&r.synthetic, control + intervention);

    println!("\n== KTH 2.0 on Funen (published schedule: {FUNEN_SOURCE}) ==\n");
    print!("{}", r.funen_schedule.text());
}

// ---- Command line ----

fn usage() -> String {
    format!(
        "usage: traening_for_livet [--json] [--out DIR] [--seed S]
  --json      print one JSON object on stdout
  --out DIR   write {DESIGN_SVG} and {FUNEN_SVG} into DIR (created if needed)
  --seed S    seed of the synthetic trial (default {DEFAULT_SEED})"
    )
}

struct Args {
    json: bool,
    out: Option<PathBuf>,
    seed: u64,
}

/// The arguments, or the message to print and the exit code.
fn parse_args() -> std::result::Result<Args, (String, u8)> {
    let mut args = Args {
        json: false,
        out: None,
        seed: DEFAULT_SEED,
    };
    let mut it = std::env::args().skip(1);
    let usage_error = |m: String| (format!("traening_for_livet: {m}\n{}", usage()), 2);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--json" => args.json = true,
            "--out" => match it.next() {
                Some(dir) => args.out = Some(PathBuf::from(dir)),
                None => return Err(usage_error("--out needs a directory".into())),
            },
            "--seed" => {
                let value = it.next().unwrap_or_default();
                args.seed = value.parse().map_err(|_| {
                    usage_error(format!(
                        "--seed needs a whole number from 0 to {}, not '{value}'",
                        u64::MAX
                    ))
                })?;
            }
            "-h" | "--help" => return Err((usage(), 0)),
            other => return Err(usage_error(format!("unknown argument '{other}'"))),
        }
    }
    Ok(args)
}

fn json_error(e: serde_json::Error) -> Error {
    Error::Numerical {
        what: "JSON serialisation".into(),
        message: e.to_string(),
    }
}

fn run(args: &Args) -> Result<()> {
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
    if args.json {
        let mut value = serde_json::to_value(&report).map_err(json_error)?;
        if let Value::Object(map) = &mut value {
            let files = written
                .iter()
                .map(|p| Value::String(p.display().to_string()))
                .collect();
            map.insert("figures_written".into(), Value::Array(files));
        }
        println!("{value}");
    } else {
        print_text(&report);
        for path in &written {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err((message, code)) => {
            if code == 0 {
                println!("{message}");
            } else {
                eprintln!("{message}");
            }
            return ExitCode::from(code);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("traening_for_livet: {e}");
            ExitCode::FAILURE
        }
    }
}
