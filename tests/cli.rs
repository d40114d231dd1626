//! The example binaries as a user meets them: conventional command lines, Danish and messy data
//! files, full JSON tables, and output that never panics. `cargo test` builds the examples
//! before it runs this file; the binaries are found beside the test's own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const EXAMPLES: [&str; 6] = [
    "swfit",
    "kth_rollout",
    "kth_nursing_home",
    "traening_for_livet",
    "simulate_cohort",
    "swpower",
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
        "--permutation [<N>]",
        "--max-exact <M>",
        "--strata <COLUMN>",
        "--permutation-ci",
        "--permutation-statistic <STATISTIC>",
    ] {
        assert!(help.contains(flag), "{flag} missing from\n{help}");
    }
    for default in [
        "[default: 0.95]",
        "[default: binomial]",
        "[default: 1]",
        "[default: treated]",
        "[default: 10000]",
        "[default: estimate]",
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
fn swfit_runs_a_randomisation_test_with_its_interval_in_the_json() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/perm/");
    let data = format!("{dir}perm_g6_t4_waves2.csv");
    let hh = "y ~ treated + factor(period) + (1 | cluster)";
    // Without --permutation the JSON has no permutation object.
    let plain = json(&run("swfit", &["--data", &data, "--formula", hh, "--json"]));
    assert!(plain.get("permutation").is_none());
    // Exact: all 90 allocations; lme4's p-value is 24 / 90; the interval by inversion lies
    // between the grid values where lme4's p(d) crosses 0.05.
    let args = [
        "--data",
        &data,
        "--formula",
        hh,
        "--permutation",
        "--permutation-ci",
        "--json",
    ];
    let out = json(&run("swfit", &args));
    let p = &out["permutation"];
    assert_eq!(p["statistic"], "estimate");
    assert_eq!(p["exact"], true);
    assert_eq!(p["n_allocations"], 90);
    assert!((p["p_value"].as_f64().unwrap() - 24.0 / 90.0).abs() < 1e-15);
    assert!(p["mc_se"].is_null() && p["seed"].is_null());
    assert_eq!(
        (p["failed"].as_u64(), p["singular"].as_u64()),
        (Some(0), Some(0))
    );
    let observed = p["observed"].as_f64().unwrap();
    assert_eq!(Some(observed), out["coefficients"][1]["estimate"].as_f64());
    let (low, high) = (
        p["ci_low"].as_f64().unwrap(),
        p["ci_high"].as_f64().unwrap(),
    );
    assert!(low > -0.45 && low <= -0.4, "{low}");
    assert!((1.25..1.3).contains(&high), "{high}");
    assert_eq!(p["ci_level"], 0.95);
    assert_eq!(p["ci_inversion"], "two_sided");
    // Equal tails (Rabideau & Wang): the same upper bound here, a narrower lower one.
    let mut equal = args.to_vec();
    equal.push("--permutation-ci-tails=equal-tailed");
    let e = json(&run("swfit", &equal))["permutation"].clone();
    assert_eq!(e["ci_inversion"], "equal_tailed");
    let (e_low, e_high) = (
        e["ci_low"].as_f64().unwrap(),
        e["ci_high"].as_f64().unwrap(),
    );
    assert!(e_low > low && e_low < observed, "{e_low} {low}");
    assert!(e_high > observed, "{e_high}");
    for field in ["p_lower", "p_upper", "n_possible", "ci_refits", "treatment"] {
        assert!(!p[field].is_null(), "{field}");
    }
    // Monte Carlo with the Wald statistic: seeded, the same numbers twice.
    let args = [
        "--data",
        &data,
        "--formula",
        hh,
        "--permutation",
        "60",
        "--max-exact=50",
        "--seed",
        "3",
        "--permutation-statistic",
        "wald",
        "--json",
    ];
    let first = json(&run("swfit", &args));
    let p = &first["permutation"];
    assert_eq!(p["exact"], false);
    assert_eq!(
        (p["n_allocations"].as_u64(), p["seed"].as_u64()),
        (Some(60), Some(3))
    );
    assert_eq!(p["statistic"], "wald");
    let pv = p["p_value"].as_f64().unwrap();
    let se = p["mc_se"].as_f64().unwrap();
    assert!((se - (pv * (1.0 - pv) / 60.0).sqrt()).abs() < 1e-15);
    assert!(p["ci_low"].is_null() && p["ci_high"].is_null());
    assert_eq!(first, json(&run("swfit", &args)));
    // The printed report ends with the test; a cluster off its schedule is a user error.
    let printed = run(
        "swfit",
        &["--data", &data, "--formula", hh, "--permutation", "--quiet"],
    );
    assert!(printed.status.success());
    assert!(text(&printed.stdout).contains("all 90 distinct allocations"));
    let scratch = scratch("permutation");
    let broken = scratch.join("broken.csv");
    let csv = std::fs::read_to_string(&data).unwrap();
    // Cluster 2 crosses over in period 2: untreated again in period 4.
    let lines: Vec<String> = csv
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            if f.len() > 4 && f[1] == "2" && f[2] == "4" {
                let mut f = f.clone();
                f[3] = "0";
                f.join(",")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&broken, lines.join("\n")).unwrap();
    let out = run(
        "swfit",
        &[
            "--data",
            broken.to_str().unwrap(),
            "--formula",
            hh,
            "--permutation",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("cluster '2' is treated in period 2 and untreated in the later period 4"),
        "{err}"
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

#[test]
fn traening_for_livet_reports_the_randomisation_test_and_the_exposure_time_model() {
    let dir = scratch("tfl-randomisation");
    let figures = dir.join("figures");
    let report = json(&run(
        "traening_for_livet",
        &["--json", "--out", figures.to_str().unwrap()],
    ));
    let synthetic = &report["synthetic"];
    // The exact test: all 720 orders, the observed one among them, the p-values and the
    // interval of the log odds ratio and the odds ratio beside the model-based t.
    let r = &synthetic["randomisation"];
    assert!(r["problem"].is_null(), "{r}");
    let test = &r["test"];
    assert_eq!(test["exact"], true);
    assert_eq!(test["n_allocations"], 720);
    assert_eq!(test["failed"], 0);
    assert!(test["singular"].as_u64().unwrap() <= 720);
    assert!(test["identity"].as_u64().unwrap() < 720);
    assert_eq!(r["observed_included"], true);
    let p = test["p_value"].as_f64().unwrap();
    assert!(p > 0.0 && p <= 1.0, "{p}");
    assert_eq!(test["observed"], synthetic["treatment"]["estimate"]);
    for scale in ["log_odds_ratio", "odds_ratio"] {
        let i = &r[scale];
        let (low, estimate, high) = (
            i["ci_low"].as_f64().unwrap(),
            i["estimate"].as_f64().unwrap(),
            i["ci_high"].as_f64().unwrap(),
        );
        assert!(low < estimate && estimate < high, "{i}");
        assert_eq!(
            (&i["low_open"], &i["high_open"]),
            (&Value::Bool(false), &Value::Bool(false))
        );
    }
    assert_eq!(
        r["model_based"]["p_value"],
        synthetic["treatment"]["p_value"]
    );
    // The exposure-time model: L levels, the TATE and the LRT on L - 1 df.
    let e = &synthetic["exposure_time"];
    let cap = e["cap"].as_u64().unwrap();
    assert_eq!(e["design_cap"], 5);
    assert_eq!(e["tate"]["levels"].as_array().unwrap().len() as u64, cap);
    assert_eq!(e["lrt"]["df"].as_u64().unwrap(), cap - 1);
    assert_eq!(
        e["tate"]["constant_effect"]["df"].as_u64().unwrap(),
        cap - 1
    );
    let tate = &e["tate"]["tate"];
    assert!(tate["exp_ci_low"].as_f64().unwrap() < tate["exp_estimate"].as_f64().unwrap());
    // The earlier fields are where they were, and the figures were written.
    assert!(!synthetic["population_averaged"].is_null());
    let written = report["figures_written"].as_array().unwrap();
    assert_eq!(written.len(), 3);
    let effects = figures.join("traening_for_livet_exposure_effects.svg");
    assert!(std::fs::read_to_string(effects).unwrap().contains("TATE"));

    let printed = text(&run("traening_for_livet", &[]).stdout);
    for needle in [
        "Exact randomisation test of the treatment effect",
        "all 720 distinct allocations",
        "randomisation (exact, 720 allocations)",
        "model-based (t on",
        "exposure-time indicator model",
        "TATE as an odds ratio",
        "likelihood-ratio test against the immediate-treatment model",
    ] {
        assert!(printed.contains(needle), "{needle}: {printed}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A reference power case of `tests/reference/power/`.
fn power_case(name: &str) -> String {
    format!(
        "{}/tests/reference/power/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn swpower_reproduces_the_reference_cases_in_json() {
    for name in [
        "tfl6_binom_mort_icc02",
        "incomplete_na_gauss",
        "kth5_binom_readm_nmat",
    ] {
        let path = power_case(name);
        let reference: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let out = json(&run("swpower", &["--case", &path, "--json"]));
        let (power, var) = (
            out["power"].as_f64().unwrap(),
            out["var_trt"].as_f64().unwrap(),
        );
        let expected_var = reference["var_trt"].as_f64().unwrap();
        assert!(
            (power - reference["power"].as_f64().unwrap()).abs() < 1e-6,
            "{name}"
        );
        assert!((var - expected_var).abs() < 1e-8 * expected_var, "{name}");
        for field in [
            "se",
            "effect",
            "alpha",
            "sigma_sq",
            "observed_cells",
            "patients",
            "design_effect",
        ] {
            assert!(out[field].is_number(), "{name}: {field}");
        }
        let tau = reference["derived"]["tau"].as_f64().unwrap();
        assert!((out["components"]["tau"].as_f64().unwrap() - tau).abs() < 1e-12 * tau);
        assert_eq!(
            out["design"]["waves"], reference["clusters_per_wave"],
            "{name}"
        );
    }
}

#[test]
fn swpower_builds_a_design_from_flags_and_solves_for_a_size() {
    let flags = [
        "--waves",
        "3,3,3",
        "--baseline",
        "1",
        "--n",
        "20",
        "--mu0",
        "0.119",
        "--mu1",
        "0.08",
        "--icc",
        "0.02",
    ];
    let text_out = run("swpower", &flags);
    assert!(text_out.status.success(), "{}", text(&text_out.stderr));
    let printed = text(&text_out.stdout);
    assert!(printed.contains("Cluster 9  . . . #"), "{printed}");
    assert!(printed.contains("Power 0.1753"), "{printed}");
    let plain = json(&run("swpower", &[&flags[..], &["--json"]].concat()));
    assert_eq!(plain["design"]["waves"], serde_json::json!([3, 3, 3]));
    assert_eq!(plain["patients"].as_f64(), Some(720.0));
    assert!(plain.get("solved").is_none());
    let solved = json(&run(
        "swpower",
        &[&flags[..], &["--solve", "n", "--target", "0.8", "--json"]].concat(),
    ));
    let value = solved["solved"]["value"].as_u64().unwrap();
    assert!(solved["power"].as_f64().unwrap() >= 0.8);
    assert!(solved["solved"]["power_one_less"].as_f64().unwrap() < 0.8);
    // The power at the solution is the power of that size.
    let n = value.to_string();
    let mut at = flags.to_vec();
    at[5] = &n;
    let check = json(&run("swpower", &[&at[..], &["--json"]].concat()));
    assert_eq!(check["power"], solved["power"]);
    let clusters = json(&run(
        "swpower",
        &[&flags[..], &["--solve=clusters", "--json"]].concat(),
    ));
    let per_wave = clusters["solved"]["value"].as_u64().unwrap();
    assert_eq!(clusters["design"]["clusters"].as_u64(), Some(3 * per_wave));
    // A named design, a continuous outcome with an exposure-time contrast, and the diagram.
    let dir = scratch("swpower");
    let svg = dir.join("design.svg");
    let funen = run(
        "swpower",
        &[
            "--design",
            "kth2-funen",
            "--n",
            "15",
            "--mu0",
            "0",
            "--mu1",
            "0.2",
            "--sigma",
            "1",
            "--tau",
            "0.1",
            "--contrast",
            "equal",
            "--diagram",
            svg.to_str().unwrap(),
            "--json",
        ],
    );
    let funen = json(&funen);
    assert_eq!(funen["contrast"].as_array().unwrap().len(), 13);
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(drawn.contains("Odense 2") && drawn.contains("Ærø"));
}

#[test]
fn swpower_errors_name_the_field_and_usage_errors_exit_two() {
    let base = [
        "--waves", "2,2", "--n", "10", "--mu0", "0.1", "--mu1", "0.2",
    ];
    let both = run(
        "swpower",
        &[&base[..], &["--icc", "0.02", "--tau", "0.01"]].concat(),
    );
    assert_eq!(both.status.code(), Some(1));
    assert!(
        text(&both.stderr).contains("not both"),
        "{}",
        text(&both.stderr)
    );
    let icc = run("swpower", &[&base[..], &["--icc", "1"]].concat());
    assert_eq!(icc.status.code(), Some(1));
    assert!(text(&icc.stderr).contains("'icc': 1 is outside [0, 1)"));
    // A case file with a misspelt parameter.
    let dir = scratch("swpower_errors");
    let file = dir.join("case.json");
    std::fs::write(
        &file,
        r#"{"design": [[0, 1], [0, 0]], "distn": "gaussian", "n": 10, "mu0": 0, "mu1": 1,
           "sigma": 1, "gama": 0.1}"#,
    )
    .unwrap();
    let misspelt = run("swpower", &["--case", file.to_str().unwrap()]);
    assert_eq!(misspelt.status.code(), Some(1));
    assert!(text(&misspelt.stderr).contains("did you mean 'gamma'?"));
    let missing = run("swpower", &["--case", "/no/such/case.json"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("/no/such/case.json"));
    // Usage errors: a case with parameter flags, no design, a missing size, a bad name.
    for args in [
        &["--case", file.to_str().unwrap(), "--n", "3"][..],
        &["--n", "10", "--mu0", "0", "--mu1", "1"],
        &["--waves", "2,2", "--mu0", "0", "--mu1", "1"],
        &["--design", "funen", "--n", "1", "--mu0", "0", "--mu1", "1"],
        &[
            "--waves", "2,2", "--n", "1", "--mu0", "0", "--mu1", "1", "--solve", "m",
        ],
    ] {
        let out = run("swpower", args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
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

#[test]
fn swpower_simulates_the_analysis_beside_the_closed_form() {
    let case = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/power/tfl6_binom_mort_icc02.json"
    );
    let args = ["--case", case, "--simulate", "40", "--seed", "3", "--json"];
    let out = json(&run("swpower", &args));
    let simulation = &out["simulation"];
    for field in [
        "power",
        "mcse",
        "type1",
        "type1_mcse",
        "mean_estimate",
        "bias",
        "coverage",
        "failed",
        "not_converged",
        "singular",
        "reps",
    ] {
        assert!(!simulation[field].is_null(), "{field}: {simulation}");
    }
    assert_eq!(simulation["reps"].as_u64(), Some(40));
    assert_eq!(simulation["analysis"], "glmm");
    // The closed form is still swPwr's.
    assert!((out["power"].as_f64().unwrap() - 0.481487480680833).abs() < 1e-6);
    // The same seed, the same numbers; the text shows both.
    assert_eq!(json(&run("swpower", &args))["simulation"], *simulation);
    let printed = text(&run("swpower", &args[..args.len() - 1]).stdout);
    assert!(
        printed.contains("Power 0.4815") && printed.contains("Simulation power: 40 trials"),
        "{printed}"
    );
    // The trials as counts, the analysis chosen, and a power curve with its figure.
    let dir = scratch("swpower_simulate");
    let csv = dir.join("trials.csv");
    let svg = dir.join("curve.svg");
    let flags = [
        "--waves",
        "2,2,2",
        "--patients",
        "480",
        "--mu0",
        "0.3",
        "--mu1",
        "0.2",
        "--latent-icc",
        "0.05",
        "--simulate",
        "10",
        "--no-null",
        "--analysis",
        "glmm-bw",
        "--write-trials",
        csv.to_str().unwrap(),
        "--json",
    ];
    let out = json(&run("swpower", &flags));
    assert_eq!(out["simulation"]["analysis"], "glmm-bw");
    assert!(out["simulation"]["type1"].is_null());
    assert_eq!(out["patients"].as_f64(), Some(480.0));
    assert_eq!(out["latent_icc"].as_f64(), Some(0.05));
    let written = std::fs::read_to_string(&csv).unwrap();
    assert!(written.starts_with("trial,cluster,period,treated,events,trials\n"));
    assert_eq!(written.lines().count(), 1 + 10 * 24);
    let curve = json(&run(
        "swpower",
        &[
            "--waves",
            "2,2,2",
            "--n",
            "20",
            "--mu0",
            "0.3",
            "--mu1",
            "0.2",
            "--icc",
            "0.05",
            "--curve-n",
            "10,20,40",
            "--simulate",
            "10",
            "--figure",
            svg.to_str().unwrap(),
            "--json",
        ],
    ));
    let points = curve["curve"].as_array().unwrap();
    assert_eq!(points.len(), 3);
    assert!(
        points[2]["closed_form"]["power"].as_f64() > points[0]["closed_form"]["power"].as_f64()
    );
    assert_eq!(points[1]["simulation"]["reps"].as_u64(), Some(10));
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(drawn.contains("Target power 0.8") && drawn.contains("Closed form"));
    // What the simulation cannot do is named.
    let gaussian = run(
        "swpower",
        &[
            "--waves",
            "2,2",
            "--n",
            "10",
            "--mu0",
            "0",
            "--mu1",
            "1",
            "--sigma",
            "1",
            "--tau",
            "0.1",
            "--simulate",
            "10",
        ],
    );
    assert_eq!(gaussian.status.code(), Some(1));
    assert!(
        text(&gaussian.stderr).contains("'distn'"),
        "{}",
        text(&gaussian.stderr)
    );
    let gee = run(
        "swpower",
        &[
            "--waves",
            "1,1",
            "--n",
            "10",
            "--mu0",
            "0.1",
            "--mu1",
            "0.2",
            "--simulate",
            "10",
            "--analysis",
            "gee",
        ],
    );
    assert_eq!(gee.status.code(), Some(1));
    assert!(text(&gee.stderr).contains("G - p"), "{}", text(&gee.stderr));
}

/// `swfit --df kr`: the table's and the JSON's standard errors and df are pbkrtest's
/// (`tests/reference/kenward_roger`); `--df` elsewhere, and with `--ml`, is an error.
#[test]
fn swfit_df_kr_shows_the_kenward_roger_standard_errors() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/kenward_roger");
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}/kenward_roger.json")).unwrap(),
    )
    .unwrap();
    let case = &r["cases"][1];
    assert_eq!(case["name"], "sw_cluster");
    let data = format!("{dir}/sw_costs.csv");
    let formula = case["formula"].as_str().unwrap();
    let args = |df: &'static str| {
        vec![
            "--data",
            &data,
            "--formula",
            formula,
            "--family",
            "gaussian",
            "--df",
            df,
        ]
    };
    let out = json(&run("swfit", &[args("kr"), vec!["--json"]].concat()));
    assert_eq!(out["df_method"], "KenwardRoger");
    let plain = json(&run(
        "swfit",
        &[args("satterthwaite"), vec!["--json"]].concat(),
    ));
    assert_eq!(plain["df_method"], "Satterthwaite");
    for (k, row) in out["coefficients"].as_array().unwrap().iter().enumerate() {
        let rel = |a: &Value, b: &Value| {
            (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() / b.as_f64().unwrap().abs()
        };
        assert!(rel(&row["std_error"], &case["se_kr"][k]) < 1e-6, "{row}");
        assert!(rel(&row["df"], &case["ddf_kr"][k]) < 1e-6, "{row}");
        let unadjusted = &plain["coefficients"][k]["std_error"];
        assert!(rel(unadjusted, &case["se"][k]) < 1e-6, "{unadjusted}");
    }
    let table = text(&run("swfit", &args("kr")).stdout);
    assert!(table.contains("Kenward and Roger"), "{table}");
    let se = format!("{:.1}", case["se_kr"][1].as_f64().unwrap());
    assert!(table.contains(&se), "{se} not in\n{table}");

    let ml = run("swfit", &[args("kr"), vec!["--ml"]].concat());
    assert_eq!(ml.status.code(), Some(1), "{}", text(&ml.stderr));
    assert!(text(&ml.stderr).contains("REML"), "{}", text(&ml.stderr));
    let glmm = run("swfit", &["--data", SAMPLE, "--formula", HH, "--df", "kr"]);
    assert_eq!(glmm.status.code(), Some(1), "{}", text(&glmm.stderr));
    assert!(
        text(&glmm.stderr).contains("--df"),
        "{}",
        text(&glmm.stderr)
    );
}

#[test]
fn swfit_fits_the_negative_binomial_with_theta_in_its_json() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/negbin");
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}/negbin_reference.json")).unwrap(),
    )
    .unwrap();
    let data = format!("{dir}/data/sw_contacts.csv");
    for (case, formula) in [
        (
            "glmm_sw",
            "contacts ~ treated + factor(period) + age + (1 | cluster)",
        ),
        ("glm_quine", "Days ~ Eth + Sex + Age + Lrn"),
    ] {
        let data = if case == "glm_quine" {
            format!("{dir}/data/quine.csv")
        } else {
            data.clone()
        };
        let args = ["--data", &data, "--formula", formula, "--family", "nbinom2"];
        let fit = json(&run("swfit", &[&args[..], &["--json"]].concat()));
        let r = &reference[case];
        assert_eq!(fit["family"], "nbinom2");
        let theta = fit["theta"].as_f64().unwrap();
        let want = r["theta"].as_f64().unwrap();
        assert!(
            (theta / want - 1.0).abs() < 1e-5,
            "{case}: {theta} vs {want}"
        );
        let se = fit["theta_se"].as_f64().unwrap();
        let log_se = fit["log_theta_se"].as_f64().unwrap();
        assert!((se - theta * log_se).abs() < 1e-12 * se, "{case}");
        let beta = fit["coefficients"][1]["estimate"].as_f64().unwrap();
        let want = r["estimate"][1].as_f64().unwrap();
        assert!((beta - want).abs() < 1e-5, "{case}: {beta} vs {want}");
        let printed = text(&run("swfit", &args).stdout);
        assert!(printed.contains("nbinom2"), "{printed}");
    }
    let poisson = json(&run(
        "swfit",
        &[
            "--data",
            &data,
            "--formula",
            "contacts ~ treated",
            "--family",
            "poisson",
            "--json",
        ],
    ));
    assert!(poisson["theta"].is_null());
}

#[test]
fn simulate_cohort_registry_writes_the_same_patients_with_registry_columns() {
    let dir = scratch("registry");
    let (plain, registry) = (dir.join("plain.csv"), dir.join("registry.csv"));
    let common = [
        "--clusters",
        "4",
        "--periods",
        "3",
        "--size",
        "20",
        "--seed",
        "7",
    ];
    for (path, extra) in [(&plain, None), (&registry, Some("--registry"))] {
        let mut args = common.to_vec();
        args.extend(extra);
        args.extend(["--out", path.to_str().unwrap()]);
        let out = run("simulate_cohort", &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let options = stepwedge::data::LoadOptions::default();
    let plain = stepwedge::data::Cohort::from_csv_path(&plain, &options).unwrap();
    let registry = stepwedge::data::Cohort::from_csv_path(&registry, &options).unwrap();
    assert_eq!(
        registry.names(),
        [
            "patient_id",
            "cluster",
            "period",
            "treated",
            "age",
            "female",
            "nursing_home",
            "death30"
        ]
    );
    assert_eq!(registry.n_rows(), plain.n_rows());
    for (ours, theirs) in [
        ("patient_id", "id"),
        ("period", "period"),
        ("treated", "treated"),
    ]
    .into_iter()
    .chain([("death30", "death30")])
    {
        assert_eq!(
            registry.numeric(ours).unwrap(),
            plain.numeric(theirs).unwrap()
        );
    }
    assert_eq!(
        registry.codes("cluster").unwrap(),
        plain.codes("cluster").unwrap()
    );
    let (sex, sex_levels) = (plain.codes("sex").unwrap(), plain.levels("sex").unwrap());
    let residence = plain.codes("residence").unwrap();
    let residence_levels = plain.levels("residence").unwrap();
    for i in 0..plain.n_rows() {
        assert_eq!(
            registry.numeric("age").unwrap()[i],
            plain.numeric("age").unwrap()[i].floor()
        );
        let female = sex_levels[sex[i] as usize] == "F";
        assert_eq!(
            registry.numeric("female").unwrap()[i],
            f64::from(u8::from(female))
        );
        let home = residence_levels[residence[i] as usize] == "nursing_home";
        assert_eq!(
            registry.numeric("nursing_home").unwrap()[i],
            f64::from(u8::from(home))
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
