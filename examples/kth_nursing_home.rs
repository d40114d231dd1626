//! Kom Trygt Hjem (KTH): the original nursing-home table, recomputed from its counts.
//!
//! Reproduces the crude comparison of the KTH intervention against usual care in
//! J Am Med Dir Assoc 2021 (doi:10.1016/j.jamda.2021.11.003): 30-day readmission 14/100 vs
//! 46/152 and 30-day mortality 6/100 vs 20/152. For each it prints the risks, odds ratio (Woolf
//! and exact), relative risk, risk difference (Wald and Newcombe), NNT and the tests, and sets
//! the published P-values beside the computed ones, marking whether each computed P rounds to
//! the published value. Then it prints the crude estimates of the 2025 regional rollout.
//!
//! Every number printed is computed from the counts, except the values labelled "published",
//! which are printed as published, with their source.
//!
//! ```text
//! cargo run --release --example kth_nursing_home            # readable report
//! cargo run --release --example kth_nursing_home -- --json  # one JSON object on stdout
//! ```

use std::process::ExitCode;

use clap::Parser;
use serde_json::{json, Value};
use stepwedge::core::error::{Error, Result};
use stepwedge::effects::crude::{Estimable, Estimate, Summary, TwoByTwo, DEFAULT_LEVEL};
use stepwedge::studies::PercentCounts;

mod cli;
use cli::Failure;

const PROGRAM: &str = "kth_nursing_home";

// ---- Published values (inputs and results as published; not computed here) ----

/// Source of the original KTH table.
const KTH_SOURCE: &str = "J Am Med Dir Assoc 2021, doi:10.1016/j.jamda.2021.11.003";
/// Published counts: 30-day readmission, KTH (events, patients) and usual care.
const KTH_READMISSION: [i64; 4] = [14, 100, 46, 152];
/// Published counts: 30-day mortality, KTH and usual care.
const KTH_MORTALITY: [i64; 4] = [6, 100, 20, 152];
/// Published P for readmission, as printed, and the test the paper used.
const KTH_READMISSION_P: Published = Published {
    text: ".004",
    test: Test::Fisher,
};
/// Published P for mortality, as printed, and the test the paper used.
const KTH_MORTALITY_P: Published = Published {
    text: ".07",
    test: Test::Pearson,
};

/// Source of the 2025 regional rollout figures.
const ROLLOUT_SOURCE: &str =
    "webinar on the regional KTH rollout in three southern Danish health clusters, 5 Nov 2025";
/// Published 30-day deaths: rollout (events, patients) and usual care.
const ROLLOUT_MORTALITY: [i64; 4] = [42, 524, 248, 2085];
/// Published readmission percentages (the counts are not published) and group sizes.
const ROLLOUT_READMISSION_PCT: (f64, f64) = (18.6, 13.6);
/// Published adjusted odds ratio of death (estimate, 95% CI).
const ROLLOUT_ADJUSTED_OR: (f64, f64, f64) = (0.60, 0.37, 0.85);
/// Published adjusted relative risk of readmission (estimate, 95% CI).
const ROLLOUT_ADJUSTED_RR: (f64, f64, f64) = (1.28, 1.05, 1.56);

/// A published P-value as printed in the paper, and the test the paper says it comes from.
#[derive(Clone, Copy)]
struct Published {
    text: &'static str,
    test: Test,
}

#[derive(Clone, Copy, PartialEq)]
enum Test {
    Fisher,
    Pearson,
    Yates,
}

impl Test {
    const ALL: [Test; 3] = [Test::Fisher, Test::Pearson, Test::Yates];

    fn name(self) -> &'static str {
        match self {
            Test::Fisher => "Fisher's exact test",
            Test::Pearson => "Pearson chi-square, no correction",
            Test::Yates => "chi-square with Yates' correction",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Test::Fisher => "fisher",
            Test::Pearson => "pearson",
            Test::Yates => "yates",
        }
    }

    /// The computed P of this test, if the table defines it.
    fn p_value(self, s: &Summary) -> Option<f64> {
        match self {
            Test::Fisher => Some(s.fisher_p_value),
            Test::Pearson => s.chi_square.value().map(|t| t.p_value),
            Test::Yates => s.chi_square_yates.value().map(|t| t.p_value),
        }
    }
}

impl Published {
    /// Decimals shown in the published P (".004" has 3).
    fn decimals(self) -> usize {
        self.text.split('.').nth(1).map_or(0, str::len)
    }

    /// `p` rounded to the published number of decimals, in the journal's style (".004").
    fn rounded(self, p: f64) -> String {
        let s = format!("{p:.*}", self.decimals());
        s.trim_start_matches('0').to_string()
    }

    /// Whether `p`, rounded to the published decimals, reads as the published value.
    fn matches(self, p: f64) -> bool {
        self.rounded(p) == self.text
    }
}

/// One outcome of the original table: counts, all measures, and the published P.
struct Outcome {
    name: &'static str,
    summary: Summary,
    published: Published,
}

fn table(counts: [i64; 4]) -> Result<TwoByTwo> {
    let [a, n1, c, n0] = counts;
    TwoByTwo::new(a, n1, c, n0)
}

/// `round(pct / 100 * n)`: the event count nearest to a published percentage (one decimal) of
/// `n` patients.
fn derived_count(pct: f64, n: i64) -> Result<i64> {
    let n = u64::try_from(n).map_err(|_| Error::invalid("n", "a group size cannot be negative"))?;
    let nearest = PercentCounts::new(pct, 1, n)?.nearest;
    i64::try_from(nearest).map_err(|_| Error::invalid("n", "too large"))
}

/// Readmission counts of the rollout, derived from the published percentages.
fn rollout_readmission_counts() -> Result<[i64; 4]> {
    let [_, n1, _, n0] = ROLLOUT_MORTALITY;
    let (p1, p0) = ROLLOUT_READMISSION_PCT;
    Ok([derived_count(p1, n1)?, n1, derived_count(p0, n0)?, n0])
}

struct Report {
    kth: Vec<Outcome>,
    rollout_mortality: Summary,
    rollout_readmission: Summary,
}

fn compute() -> Result<Report> {
    let outcome = |name, counts, published| -> Result<Outcome> {
        Ok(Outcome {
            name,
            summary: table(counts)?.summary(DEFAULT_LEVEL)?,
            published,
        })
    };
    Ok(Report {
        kth: vec![
            outcome("30-day readmission", KTH_READMISSION, KTH_READMISSION_P)?,
            outcome("30-day mortality", KTH_MORTALITY, KTH_MORTALITY_P)?,
        ],
        rollout_mortality: table(ROLLOUT_MORTALITY)?.summary(DEFAULT_LEVEL)?,
        rollout_readmission: table(rollout_readmission_counts()?)?.summary(DEFAULT_LEVEL)?,
    })
}

// ---- Text report ----

fn counts_line(s: &Summary, treated: &str) -> String {
    let t = &s.table;
    format!(
        "{}/{} ({treated}) vs {}/{} (usual care)",
        t.a(),
        t.n1(),
        t.c(),
        t.n0()
    )
}

fn print_p_comparison(out: &mut String, o: &Outcome) {
    let p = o.published;
    outln!(
        out,
        "\n  published: P = {} ({}; {KTH_SOURCE})",
        p.text,
        p.test.name()
    );
    for test in Test::ALL {
        let used = if test == p.test {
            "  <- test used in the paper"
        } else {
            ""
        };
        match test.p_value(&o.summary) {
            Some(v) => outln!(
                out,
                "  computed:  {:<36}P = {v:.4} -> {:<6}{}{used}",
                test.name(),
                p.rounded(v),
                if p.matches(v) {
                    "rounds to the published P"
                } else {
                    "differs"
                }
            ),
            None => outln!(
                out,
                "  computed:  {:<36}not defined for this table",
                test.name()
            ),
        }
    }
}

fn adjusted_line(what: &str, (est, low, high): (f64, f64, f64)) -> String {
    format!("{what} {est:.2} ({low:.2}-{high:.2})")
}

fn crude_line(what: &str, m: &Estimable<Estimate>) -> String {
    match m {
        Estimable::Estimated(e) => format!(
            "{what} {:.2} ({:.2}-{:.2})",
            e.estimate, e.ci_low, e.ci_high
        ),
        Estimable::NotEstimable { reason } => format!("{what} not estimable: {reason}"),
    }
}

fn print_text(out: &mut String, r: &Report) {
    outln!(
        out,
        "Kom Trygt Hjem (KTH) nursing-home study: intervention vs usual care"
    );
    outln!(out, "Source: {KTH_SOURCE}");
    for o in &r.kth {
        outln!(
            out,
            "\n== {}: {} ==",
            o.name,
            counts_line(&o.summary, "KTH")
        );
        outln!(out, "{}", o.summary);
        print_p_comparison(out, o);
    }

    let (p1, p0) = ROLLOUT_READMISSION_PCT;
    let rm = &r.rollout_mortality;
    let rr = &r.rollout_readmission;
    outln!(
        out,
        "\n== 2025 regional rollout, crude (unadjusted) estimates =="
    );
    outln!(
        out,
        "Source of the counts and percentages: {ROLLOUT_SOURCE}"
    );
    outln!(
        out,
        "\n-- 30-day mortality: {} --",
        counts_line(rm, "rollout")
    );
    outln!(out, "{rm}");
    outln!(out, "\n-- readmission: {} --", counts_line(rr, "rollout"));
    outln!(
        out,
        "  The counts are not published: they are derived from the published percentages, \
         round({p1}% x {}) = {} and round({p0}% x {}) = {}.",
        rr.table.n1(),
        rr.table.a(),
        rr.table.n0(),
        rr.table.c()
    );
    outln!(out, "{rr}");
    outln!(
        out,
        "\n  crude (computed here): {}; {}",
        crude_line("mortality OR (Woolf)", &rm.odds_ratio_wald),
        crude_line("readmission RR", &rr.relative_risk)
    );
    outln!(
        out,
        "  published: {} and {} ({ROLLOUT_SOURCE}) are adjusted estimates; \
         they are reproduced by the example `kth_rollout`, not here.",
        adjusted_line("mortality OR", ROLLOUT_ADJUSTED_OR),
        adjusted_line("readmission RR", ROLLOUT_ADJUSTED_RR)
    );
}

// ---- JSON report ----

fn interval_json((estimate, ci_low, ci_high): (f64, f64, f64)) -> Value {
    json!({ "estimate": estimate, "ci_low": ci_low, "ci_high": ci_high, "level": 0.95 })
}

fn outcome_json(o: &Outcome) -> Result<Value> {
    let p = o.published;
    let computed: serde_json::Map<String, Value> = Test::ALL
        .iter()
        .map(|t| {
            let v = t.p_value(&o.summary);
            let entry = json!({
                "p_value": v,
                "rounded": v.map(|v| p.rounded(v)),
                "rounds_to_published": v.map(|v| p.matches(v)),
                "used_in_paper": *t == p.test,
            });
            (t.key().to_string(), entry)
        })
        .collect();
    Ok(json!({
        "outcome": o.name,
        "summary": to_value(&o.summary)?,
        "published_p": { "text": p.text, "test": p.test.key(), "source": KTH_SOURCE },
        "computed_p": computed,
    }))
}

fn to_value(s: &Summary) -> Result<Value> {
    serde_json::to_value(s).map_err(|e| Error::Numerical {
        what: "JSON serialisation".into(),
        message: e.to_string(),
    })
}

fn report_json(r: &Report) -> Result<Value> {
    let (p1, p0) = ROLLOUT_READMISSION_PCT;
    let kth: Vec<Value> = r.kth.iter().map(outcome_json).collect::<Result<_>>()?;
    Ok(json!({
        "kth_2021": { "source": KTH_SOURCE, "outcomes": kth },
        "rollout_2025": {
            "source": ROLLOUT_SOURCE,
            "crude_mortality": to_value(&r.rollout_mortality)?,
            "crude_readmission": to_value(&r.rollout_readmission)?,
            "readmission_counts": {
                "derived": true,
                "from_published_percentages": { "treated": p1, "control": p0 },
                "rule": "round(percentage / 100 * group size)",
            },
            "published_adjusted": {
                "mortality_or": interval_json(ROLLOUT_ADJUSTED_OR),
                "readmission_rr": interval_json(ROLLOUT_ADJUSTED_RR),
                "note": "adjusted estimates, reproduced by the example kth_rollout",
            },
        },
    }))
}

// ---- Command line ----

/// The original KTH nursing-home table and the rollout's crude estimates, from their counts.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version)]
struct Args {
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
}

fn run(args: &Args) -> std::result::Result<(), Failure> {
    let report = compute()?;
    let mut out = String::new();
    if args.json {
        outln!(out, "{}", report_json(&report)?);
    } else {
        print_text(&mut out, &report);
    }
    cli::emit(&out)
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::exit(PROGRAM, run(&args))
}
