//! The example binaries as a user meets them: conventional command lines, Danish and messy data
//! files, full JSON tables, and output that never panics. `cargo test` builds the examples
//! before it runs this file; the binaries are found beside the test's own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const EXAMPLES: [&str; 5] = [
    "swfit",
    "kth_rollout",
    "kth_nursing_home",
    "traening_for_livet",
    "simulate_cohort",
];
const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data-samples/stepped_wedge_sim.csv"
);
const HH: &str = "death30 ~ treated + factor(period) + (1 | cluster)";

/// The example binary `name` (built by `cargo test` into `target/<profile>/examples`).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds the examples (or run `cargo build --examples`)",
        path.display()
    );
    path
}

fn run(name: &str, args: &[&str]) -> Output {
    Command::new(example(name)).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(output: &Output) -> Value {
    assert!(output.status.success(), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stepwedge-cli-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn help_and_version_exit_zero_and_list_every_flag_with_its_default() {
    for name in EXAMPLES {
        let help = run(name, &["--help"]);
        assert_eq!(help.status.code(), Some(0), "{name}");
        let out = text(&help.stdout);
        assert!(
            out.contains("Usage: ") && out.contains("--version"),
            "{name}: {out}"
        );
        let version = run(name, &["--version"]);
        assert_eq!(version.status.code(), Some(0), "{name}");
        assert_eq!(
            text(&version.stdout).trim(),
            format!("{name} {}", env!("CARGO_PKG_VERSION"))
        );
    }
    let help = text(&run("swfit", &["--help"]).stdout);
    for flag in [
        "--data <FILE>",
        "--level <LEVEL>",
        "--delimiter <CHAR>",
        "--decimal-comma",
        "--weights <COLUMN>",
        "--reference <VAR=LEVEL>",
        "--event <VALUE>",
        "--out <FILE.csv>",
        "--seed <N>",
        "--bootstrap <N>",
        "--na <VALUE>",
    ] {
        assert!(help.contains(flag), "{flag} missing from\n{help}");
    }
    for default in [
        "[default: 0.95]",
        "[default: binomial]",
        "[default: 1]",
        "[default: treated]",
    ] {
        assert!(help.contains(default), "{default} missing from\n{help}");
    }
}

#[test]
fn usage_errors_exit_two_with_a_suggestion() {
    let out = run("swfit", &["--dat", SAMPLE, "--formula", HH]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("a similar argument exists: '--data'"), "{err}");
    assert!(out.stdout.is_empty());
    let out = run("kth_rollout", &["--bootstrap", "many"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn flag_equals_value_and_flag_space_value_agree() {
    let a = run(
        "swfit",
        &[
            "--data",
            SAMPLE,
            "--formula",
            HH,
            "--level",
            "0.9",
            "--json",
        ],
    );
    let level = format!("--level={}", 0.9);
    let data = format!("--data={SAMPLE}");
    let b = run("swfit", &[&data, "--formula", HH, &level, "--json"]);
    assert_eq!(json(&a), json(&b));
    assert_eq!(json(&a)["level"], 0.9);
}

#[test]
fn json_rows_carry_every_field_and_the_csv_the_same_numbers() {
    let dir = scratch("json");
    let csv = dir.join("coefficients.csv");
    let csv_arg = csv.display().to_string();
    let fit = json(&run(
        "swfit",
        &[
            "--data",
            SAMPLE,
            "--formula",
            HH,
            "--json",
            "--out",
            &csv_arg,
        ],
    ));
    let rows = fit["coefficients"].as_array().unwrap();
    assert_eq!(rows.len(), 9);
    let keys: Vec<&str> = rows[1]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = [
        "term",
        "estimate",
        "std_error",
        "statistic",
        "df",
        "p_value",
        "ci_low",
        "ci_high",
        "exp_estimate",
        "exp_ci_low",
        "exp_ci_high",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert!(rows[1]["df"].is_null());
    let or = rows[1]["exp_estimate"].as_f64().unwrap();
    assert_eq!(or, rows[1]["estimate"].as_f64().unwrap().exp());
    assert_eq!(fit["dropped"], serde_json::json!({}));
    let re = &fit["random_effects"][0];
    let (variance, sd) = (re["variance"].as_f64().unwrap(), re["sd"].as_f64().unwrap());
    assert!((variance - sd * sd).abs() <= 1e-15 * variance);
    let written = std::fs::read_to_string(&csv).unwrap();
    let line = written.lines().nth(2).unwrap();
    assert!(line.starts_with("treated,"), "{line}");
    let estimate: f64 = line.split(',').nth(1).unwrap().parse().unwrap();
    assert_eq!(estimate, rows[1]["estimate"].as_f64().unwrap());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_linear_mixed_model_reports_correlations_and_satterthwaite_df() {
    let formula = "cost ~ treated + (1 + treated | cluster)";
    let args = [
        "--data",
        SAMPLE,
        "--formula",
        formula,
        "--family",
        "gaussian",
    ];
    let fit = json(&run("swfit", &[&args[..], &["--json"]].concat()));
    let corr = &fit["correlations"][0];
    assert_eq!(corr["group"], "cluster");
    assert_eq!(
        (corr["term1"].as_str(), corr["term2"].as_str()),
        (Some("(Intercept)"), Some("treated"))
    );
    let r = corr["corr"].as_f64().unwrap();
    assert!(r.abs() < 1.0 && r != 0.0, "{r}");
    assert!(fit["coefficients"][1]["df"].as_f64().unwrap() > 1.0);
    let printed = text(&run("swfit", &args).stdout);
    assert!(
        printed.contains("Corr") && printed.contains(&format!("{r:.2}")),
        "{printed}"
    );
    let header = printed.lines().find(|l| l.contains("Estimate")).unwrap();
    assert!(header.contains(" df "), "{header}");
}

/// The bundled sample as Excel writes it with a Danish locale: `;` and decimal commas.
fn danish_copy(dir: &Path) -> String {
    let danish: String = std::fs::read_to_string(SAMPLE)
        .unwrap()
        .chars()
        .map(|c| match c {
            ',' => ';',
            '.' => ',',
            c => c,
        })
        .collect();
    let path = dir.join("danish.csv");
    std::fs::write(&path, danish).unwrap();
    path.display().to_string()
}

#[test]
fn a_danish_file_is_detected_said_and_fitted_the_same() {
    let dir = scratch("danish");
    let danish = danish_copy(&dir);
    let formula = "death30 ~ treated + factor(period) + age + (1 | cluster)";
    let plain = run("swfit", &["--data", SAMPLE, "--formula", formula, "--json"]);
    let read = run(
        "swfit",
        &["--data", &danish, "--formula", formula, "--json"],
    );
    assert_eq!(json(&plain)["coefficients"], json(&read)["coefficients"]);
    let note = text(&read.stderr);
    assert!(
        note.contains("as ';'-separated with decimal commas (detected)"),
        "{note}"
    );
    assert!(text(&plain.stderr).is_empty());
    // Refusing decimal commas makes age text of numbers with commas: refused, naming the cell.
    let out = run(
        "swfit",
        &[
            "--data",
            &danish,
            "--formula",
            formula,
            "--decimal-comma=false",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("line 2, column 'age': '87,5'"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn stray_text_cells_are_named_and_yes_no_responses_take_an_event() {
    let dir = scratch("messy");
    let original = std::fs::read_to_string(SAMPLE).unwrap();
    let mut lines: Vec<String> = original.lines().map(String::from).collect();
    // Line 2's age is 87.5 and line 300's is replaced too; death30 becomes yes/no.
    lines[1] = lines[1].replacen(",87.5,", ",N/A,", 1);
    let mut cells: Vec<&str> = lines[299].split(',').collect();
    cells[4] = "--1";
    lines[299] = cells.join(",");
    let messy = dir.join("messy.csv");
    std::fs::write(&messy, lines.join("\n") + "\n").unwrap();
    let messy = messy.display().to_string();
    let formula = "death30 ~ treated + age + (1 | cluster)";
    let out = run("swfit", &["--data", &messy, "--formula", formula]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("column 'age': 2 of 2611 cells are not numbers")
            && err.contains("line 2 'N/A', line 300 '--1'")
            && err.contains("--na VALUE"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let fit = json(&run(
        "swfit",
        &[
            "--data",
            &messy,
            "--formula",
            formula,
            "--na",
            "N/A",
            "--na=--1",
            "--json",
        ],
    ));
    assert_eq!(fit["dropped"], serde_json::json!({"age": 2}));
    assert_eq!(fit["n_obs"], 2609);

    let yes_no: Vec<String> = original
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut cells: Vec<&str> = l.split(',').collect();
            if i > 0 {
                cells[7] = if cells[7] == "1" { "yes" } else { "no" };
            }
            cells.join(",")
        })
        .collect();
    let path = dir.join("yes_no.csv");
    std::fs::write(&path, yes_no.join("\n") + "\n").unwrap();
    let path = path.display().to_string();
    let coded = json(&run(
        "swfit",
        &["--data", &path, "--formula", HH, "--event", "yes", "--json"],
    ));
    let numeric = json(&run(
        "swfit",
        &["--data", SAMPLE, "--formula", HH, "--json"],
    ));
    assert_eq!(coded["coefficients"], numeric["coefficients"]);
    let out = run("swfit", &["--data", &path, "--formula", HH]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--event VALUE"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_full_stdout_is_exit_one_and_a_closed_pipe_a_quiet_exit() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(example("kth_nursing_home"))
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("stdout") && err.contains("No space left"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let mut child = Command::new(example("traening_for_livet"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn swfit_fits_a_gee_with_every_variance_in_its_json() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/gee/");
    let data = format!("{dir}gee_nex_logit_maee.csv");
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}gee_nex_logit_maee.json")).unwrap(),
    )
    .unwrap();
    let args = [
        "--data",
        &data,
        "--formula",
        "y ~ treated + factor(period) + age",
        "--gee=nested",
        "--cluster",
        "cluster",
        "--period",
        "period",
        "--maee",
        "--se",
        "md",
        "--json",
    ];
    let fit = json(&run("swfit", &args));
    let names: Vec<&str> = fit["correlation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha0", "alpha1"]);
    for kind in ["model", "robust", "kc", "md", "fg", "mbn", "avg"] {
        assert!(
            fit["se_all"][kind]["treated"].as_f64().unwrap() > 0.0,
            "{kind}"
        );
    }
    let treated = &fit["coefficients"][1];
    assert_eq!(treated["std_error"], fit["se_all"]["md"]["treated"]);
    assert_eq!(treated["df"].as_f64(), reference["df"].as_f64());
    let theirs = reference["se"]["MD"]["treated"].as_f64().unwrap();
    let ours = treated["std_error"].as_f64().unwrap();
    assert!(
        (ours - theirs).abs() < 1e-5 * theirs,
        "{ours} vs geeCRT {theirs}"
    );
    let alpha0 = fit["correlation"][0]["estimate"].as_f64().unwrap();
    assert!((alpha0 - reference["alpha"]["alpha0"].as_f64().unwrap()).abs() < 1e-6);
    // A nested correlation without its period column is a user error naming the flag's column.
    let out = run(
        "swfit",
        &[
            "--data",
            &data,
            "--formula",
            "y ~ treated",
            "--gee",
            "nested",
            "--cluster",
            "cluster",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("needs a period column"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn traening_for_livet_reports_the_gee_beside_the_mixed_model() {
    let report = json(&run("traening_for_livet", &["--json"]));
    let synthetic = &report["synthetic"];
    // The mixed model's fields are where they were.
    for field in [
        "odds_ratio",
        "treatment",
        "fit",
        "formula",
        "cluster_sd",
        "singular",
    ] {
        assert!(!synthetic[field].is_null(), "synthetic.{field}");
    }
    let gee = synthetic["population_averaged"].as_array().unwrap();
    let measures: Vec<&str> = gee.iter().map(|p| p["measure"].as_str().unwrap()).collect();
    assert_eq!(measures, ["odds ratio", "relative risk"]);
    for p in gee {
        assert_eq!(p["status"], "fitted");
        assert_eq!(p["df"].as_f64(), Some(3.0));
        assert_eq!(p["formula"], "readmit30 ~ treated + period");
        let ratio = &p["ratio"];
        let (low, estimate, high) = (
            ratio["ci_low"].as_f64().unwrap(),
            ratio["estimate"].as_f64().unwrap(),
            ratio["ci_high"].as_f64().unwrap(),
        );
        assert!(low < estimate && estimate < high, "{ratio}");
    }
    let text_report = run("traening_for_livet", &[]);
    assert!(text_report.status.success());
    let printed = text(&text_report.stdout);
    assert!(
        printed.contains("G - p = 6 - 3 = 3 df")
            && printed.contains("population-averaged odds ratio"),
        "{printed}"
    );
}

/// The visible exposure-time reference case (`tests/reference/eti`): its data and R's numbers.
fn eti_reference() -> (String, Value) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/eti/");
    let json = std::fs::read_to_string(format!("{dir}eti_g12_t5.json")).unwrap();
    (
        format!("{dir}eti_g12_t5.csv"),
        serde_json::from_str(&json).unwrap(),
    )
}

fn close_to(ours: &Value, theirs: &Value, tolerance: f64) {
    let (a, b) = (ours.as_f64().unwrap(), theirs.as_f64().unwrap());
    assert!((a - b).abs() <= tolerance, "ours {a}, R {b}");
}

#[test]
fn swfit_tate_gives_the_time_averaged_effect_and_the_lrt_as_lme4() {
    let (data, r) = eti_reference();
    let eti = "y ~ factor(exposure) + factor(period) + (1 | cluster)";
    let dir = scratch("tate");
    let figure = dir.join("exposure.svg");
    let figure_arg = figure.to_str().unwrap();
    let args = [
        "--data",
        &data,
        "--formula",
        eti,
        "--tate",
        "exposure",
        "--tate-figure",
        figure_arg,
        "--json",
    ];
    let out = run("swfit", &args);
    let fit = json(&out);
    let tate = &fit["tate"];
    let g = &r["glmer"];
    close_to(&tate["estimate"], &g["tate"]["estimate"], 1e-5);
    close_to(&tate["std_error"], &g["tate"]["se"], 1e-4 * 0.27);
    close_to(&tate["lrt"]["statistic"], &g["lrt"]["statistic"], 1e-6);
    close_to(&tate["lrt"]["p_value"], &g["lrt"]["p"], 1e-6);
    assert_eq!(tate["lrt"]["df"], 3);
    assert_eq!(tate["df"], Value::Null);
    let (estimate, se) = (
        tate["estimate"].as_f64().unwrap(),
        tate["std_error"].as_f64().unwrap(),
    );
    close_to(
        &tate["ci_low"],
        &serde_json::json!(estimate - 1.959963984540054 * se),
        1e-12,
    );
    close_to(
        &tate["exp_ci_high"],
        &serde_json::json!((estimate + 1.959963984540054 * se).exp()),
        1e-10,
    );
    let levels = tate["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 4);
    for (k, level) in levels.iter().enumerate() {
        let term = format!("factor(exposure){}", k + 1);
        assert_eq!(level["term"], term.as_str());
        assert_eq!(level["exposure"], (k + 1) as f64);
        assert_eq!(level["weight"], 0.25);
        close_to(&level["estimate"], &g["eti"]["beta"][&term], 1e-5);
    }
    assert_eq!(tate["wald"]["df"], 3);
    assert_eq!(tate["derived"], Value::Null);
    close_to(
        &tate["immediate"]["estimate"],
        &g["it"]["beta"]["treated"],
        1e-5,
    );
    assert_eq!(
        tate["immediate"]["formula"],
        "y ~ treated + factor(period) + (1 | cluster)"
    );
    // Every field of a plain fit is still there.
    for key in [
        "coefficients",
        "random_effects",
        "loglik",
        "converged",
        "icc",
        "vcov",
    ] {
        assert!(fit.get(key).is_some(), "{key}");
    }
    let svg = std::fs::read_to_string(&figure).unwrap();
    assert!(svg.contains("Treatment effect by exposure time") && svg.contains("TATE"));

    // Without the exposure column it is derived from cluster, period and treated, the same.
    let csv = std::fs::read_to_string(&data).unwrap();
    let stripped: String = csv
        .lines()
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let kept: Vec<&str> = cells
                .iter()
                .enumerate()
                .filter(|(k, _)| *k != 4)
                .map(|(_, c)| *c)
                .collect();
            kept.join(",") + "\n"
        })
        .collect();
    assert!(csv.lines().next().unwrap().split(',').nth(4) == Some("\"exposure\""));
    let without = dir.join("no_exposure.csv");
    std::fs::write(&without, stripped).unwrap();
    let without_arg = without.to_str().unwrap();
    let out = run(
        "swfit",
        &[
            "--data",
            without_arg,
            "--formula",
            eti,
            "--tate",
            "exposure",
            "--json",
        ],
    );
    let derived = json(&out);
    assert!(
        text(&out.stderr).contains("derived 'exposure'"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(derived["tate"]["estimate"], tate["estimate"]);
    assert_eq!(derived["tate"]["derived"]["max_exposure"], 4);
    assert_eq!(
        derived["tate"]["derived"]["from"],
        serde_json::json!(["cluster", "period", "treated"])
    );

    // The linear mixed model: REML TATE on Satterthwaite df, the LRT on ML refits (anova()).
    let m = &r["lmer"];
    let lmm = json(&run(
        "swfit",
        &[
            "--data",
            &data,
            "--formula",
            "score ~ factor(exposure) + factor(period) + (1 | cluster)",
            "--family",
            "gaussian",
            "--tate",
            "exposure",
            "--json",
        ],
    ));
    let s = &m["tate"]["satterthwaite"];
    close_to(&lmm["tate"]["estimate"], &s["estimate"], 1e-5);
    close_to(&lmm["tate"]["std_error"], &s["se"], 1e-4);
    close_to(&lmm["tate"]["df"], &s["df"], 1e-4 * 493.6);
    close_to(
        &lmm["tate"]["lrt"]["statistic"],
        &m["lrt"]["statistic"],
        1e-6,
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn swfit_tate_errors_name_the_term_the_flag_or_the_column() {
    let (data, _) = eti_reference();
    let eti = "y ~ factor(exposure) + factor(period) + (1 | cluster)";
    // The exit status and stderr of `swfit` on the reference data with `formula` and `extra`.
    let fails = |formula: &str, extra: &[&str]| {
        let mut args = vec!["--data", data.as_str(), "--formula", formula];
        args.extend_from_slice(extra);
        let out = run("swfit", &args);
        (out.status.code(), text(&out.stderr))
    };
    // No factor(exposure) in the formula.
    let (code, err) = fails(HH, &["--tate", "exposure"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("factor(exposure)") && err.contains("treated"),
        "{err}"
    );
    // --tate-weights needs --tate: a usage error.
    assert_eq!(fails(HH, &["--tate-weights=1,2"]).0, Some(2));
    // Weights that do not fit the levels, and a cap on a column the data have.
    let (code, err) = fails(eti, &["--tate", "exposure", "--tate-weights=1,2"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("2 weights given"), "{err}");
    let (code, err) = fails(eti, &["--tate", "exposure", "--exposure-cap", "2"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--exposure-cap"), "{err}");
    // The flag is listed.
    let help = text(&run("swfit", &["--help"]).stdout);
    assert!(help.contains("--tate <COLUMN>") && help.contains("--exposure-cap <L>"));
}
