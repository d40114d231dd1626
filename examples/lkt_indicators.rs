//! The LKT result indicators team by team: run charts with Anhøj's rules, p charts of 30-day
//! readmission, and case-mix-adjusted funnel plots, with a table of the signals.
//!
//! Loads the patient file (the bundled synthetic cohort of the 11 LKT teams, or `--data FILE`
//! with the same columns), derives 30-day readmission and mortality and regained CAS and NMS
//! from the dates and scores, counts them by team and month of surgery, and prints the signals
//! of every team and indicator (`stepwedge::studies::lkt`).
//!
//! ```text
//! cargo run --release --example lkt_indicators
//! cargo run --release --example lkt_indicators -- --out lkt-report/
//! cargo run --release --example lkt_indicators -- --data FILE --json
//! ```
//!
//! Flags (`lkt_indicators --help` lists them): `--data FILE` (default
//! `data-samples/lkt_synthetic.csv`), `--out DIR` (writes `run_{indicator}.svg` with one panel
//! per team, `p_readmission_{team}.svg` per team, `funnel_{indicator}.svg`,
//! `monitoring_points.csv` with every plotted point and signal, and `signals.txt`; the
//! directory is written whole or not at all), `--json` (the whole monitoring as JSON on
//! stdout), and the flags that say how the file is read (`--delimiter`, `--decimal-comma`,
//! `--na`, `--categorical`).
//!
//! The bundled file is synthetic (`stepwedge::studies::lkt::synthetic`): only the team names
//! and their baseline volumes are published; the case mix, outcomes and improvements are made
//! up, so the signals show what the charts find, not anything about real teams.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use stepwedge::studies::lkt::{Indicator, Monitoring, LKT_TEAMS, PUBLISHED_TOTAL};

mod cli;
use cli::{DataFlags, Failure};

const PROGRAM: &str = "lkt_indicators";
const SAMPLE: &str = "data-samples/lkt_synthetic.csv";

/// The LKT indicators team by team: run charts, p charts and case-mix-adjusted funnel plots.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version)]
struct Args {
    /// Patient file with the columns of the bundled sample [default: the bundled synthetic cohort].
    #[arg(long, value_name = "FILE")]
    data: Option<String>,
    /// Write the figures, the tidy CSV of every plotted point and the signal table into this
    /// directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the monitoring as JSON instead of the table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    read: DataFlags,
}

fn run(args: &Args) -> Result<(), Failure> {
    let path = args.data.clone().unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(SAMPLE)
            .display()
            .to_string()
    });
    let cohort = args.read.load(PROGRAM, &path)?;
    let monitoring = Monitoring::run(cohort)?;
    if let Some(dir) = &args.out {
        for file in monitoring.write_report(dir)? {
            cli::note(PROGRAM, format_args!("wrote {}", file.display()));
        }
    }
    if args.json {
        return cli::emit_json(&monitoring, "the monitoring");
    }
    let mut text = match &args.data {
        None => format!(
            "LKT coherent hip-fracture pathways: the four result indicators of the 11 teams on \
             the SYNTHETIC cohort {SAMPLE}\n(team names and baseline volumes as published; case \
             mix, outcomes and improvements made up)\n\n"
        ),
        Some(file) => format!("LKT result indicators: {file}\n\n"),
    };
    text.push_str(&volumes(&monitoring));
    text.push_str("\nSignals by team and indicator\n");
    text.push_str(&monitoring.signal_table());
    cli::emit(&text)
}

/// Patients per team in the first 12 months beside the published baseline volumes, and the
/// share of each indicator over the whole period.
fn volumes(monitoring: &Monitoring) -> String {
    let Some(first) = monitoring.indicators.first() else {
        return String::new();
    };
    let mut out = format!(
        "{:16} {:>9} {:>10}  {}\n",
        "team",
        "published",
        "12 months",
        Indicator::ALL
            .map(|i| format!("{:>20}", i.label()))
            .join(" ")
    );
    let year = first.series.labels.len().min(12);
    let mut total = 0;
    for team in monitoring.teams() {
        let published = LKT_TEAMS
            .iter()
            .find(|t| t.name == team)
            .map_or("-".to_string(), |t| t.baseline_patients.to_string());
        // Every patient has a known 30-day mortality (no censoring in the LKT data), so its
        // denominators count the patients.
        let patients: u64 = monitoring
            .indicators
            .iter()
            .find(|m| m.indicator == Indicator::Mortality)
            .and_then(|m| m.series.units.iter().find(|u| u.unit == team))
            .map_or(0, |u| u.patients[..year].iter().sum());
        total += patients;
        let shares = monitoring.indicators.iter().map(|m| {
            let unit = m.series.units.iter().find(|u| u.unit == team);
            let (events, n) = unit.map_or((0, 0), |u| {
                (u.events.iter().sum::<u64>(), u.patients.iter().sum::<u64>())
            });
            if n == 0 {
                format!("{:>20}", "-")
            } else {
                format!("{:>14.1}% {:>4}", 100.0 * events as f64 / n as f64, n)
            }
        });
        out.push_str(&format!(
            "{team:16} {published:>9} {patients:>10}  {}\n",
            shares.collect::<Vec<_>>().join(" ")
        ));
    }
    out.push_str(&format!(
        "{:16} {:>9} {total:>10}  (published total {PUBLISHED_TOTAL}: webinar of 5 November \
         2025, shared/published-results.md section 5)\n",
        "all",
        LKT_TEAMS.iter().map(|t| t.baseline_patients).sum::<u32>()
    ));
    out
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::exit(PROGRAM, run(&args))
}
