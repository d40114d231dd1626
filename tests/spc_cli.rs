//! The `spc` example as a user meets it: its help and exit statuses, errors that name the
//! file, column and line, and its JSON on reference cases of qicharts2
//! (`tests/reference/monitor/`) written as CSV files, agreeing with qic as the library does
//! (`monitor_reference.rs`). `cargo test` builds the examples before it runs this file (with
//! `--test spc_cli` alone, build it first: `cargo build --example spc`).

#[allow(dead_code)]
#[path = "common/qic.rs"]
mod qic;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The example binary (built by `cargo test` into `target/<profile>/examples`).
fn spc() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join("spc");
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds the examples (or run `cargo build --example spc`)",
        path.display()
    );
    path
}

fn run(args: &[&str]) -> Output {
    Command::new(spc()).args(args).output().unwrap()
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
    let dir = std::env::temp_dir().join(format!("stepwedge-spc-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A cell: empty for null.
fn cell(v: &Value) -> String {
    v.as_f64().map_or_else(String::new, |v| v.to_string())
}

/// The case's input as a CSV file `month,x,events,patients`. `split`: each month with counts
/// as two rows (the counts and denominators halved, the rounding in the second), and the rows
/// in reverse order, so that the program has to sum and order them.
fn write_case(case: &Value, path: &Path, split: bool) {
    let input = &case["input"];
    let column = |name: &str| input[name].as_array().unwrap().clone();
    let (month, x, y, n) = (column("month"), column("x"), column("y"), column("n"));
    let mut rows = Vec::new();
    for i in 0..month.len() {
        let key = format!("{},{}", month[i].as_str().unwrap(), x[i]);
        match (y[i].as_f64(), n[i].as_f64(), split) {
            (Some(a), Some(b), true) => {
                let (a1, b1) = ((a / 2.0).floor(), (b / 2.0).floor());
                rows.push(format!("{key},{a1},{b1}"));
                rows.push(format!("{key},{},{}", a - a1, b - b1));
            }
            _ => rows.push(format!("{key},{},{}", cell(&y[i]), cell(&n[i]))),
        }
    }
    if split {
        rows.reverse();
    }
    std::fs::write(
        path,
        format!("month,x,events,patients\n{}\n", rows.join("\n")),
    )
    .unwrap();
}

/// Our value of qic's `field` at point `i` of the program's JSON.
fn field(out: &Value, field: &str, i: usize) -> Value {
    let point = &out["points"][i];
    match field {
        "n.useful" | "n.obs" => {
            let part = point["part"].as_u64().unwrap() as usize;
            out["parts"][part - 1][field.replace('.', "_")].clone()
        }
        _ => point[field.replace('.', "_")].clone(),
    }
}

/// The CSV file columns of a case's input: subgroup, numerator, denominator.
struct Columns<'a> {
    x: &'a str,
    y: &'a str,
    n: &'a str,
}

/// The columns of [`write_case`]'s files, grouped by `x` (`month` or `x`).
fn written(x: &str) -> Columns<'_> {
    Columns {
        x,
        y: "events",
        n: "patients",
    }
}

/// Runs `spc` on `csv` for every chart of the reference case `name` (with the case's
/// freeze, part, exclude and multiply as flags) and checks its JSON against qic's data.
fn agrees_with_qic(name: &str, csv: &Path, columns: &Columns<'_>) {
    let case = qic::case(&format!("{name}.json"));
    let mut agreement = qic::Agreement::default();
    for reference in case["charts"].as_array().unwrap() {
        let chart = reference["chart"].as_str().unwrap();
        let args = &reference["args"];
        let mut flags: Vec<String> = [
            "--data",
            csv.to_str().unwrap(),
            "--y",
            columns.y,
            "--n",
            columns.n,
            "--x",
            columns.x,
            "--chart",
            chart,
            "--json",
        ]
        .map(String::from)
        .to_vec();
        if let Some(k) = args["freeze"].as_u64() {
            flags.extend(["--freeze".into(), k.to_string()]);
        }
        for (flag, key) in [("--part", "part"), ("--exclude", "exclude")] {
            let positions = qic::positions(&args[key]);
            if !positions.is_empty() {
                let list: Vec<String> = positions.iter().map(usize::to_string).collect();
                flags.extend([flag.into(), list.join(",")]);
            }
        }
        flags.extend(["--multiply".into(), args["multiply"].to_string()]);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let out = json(&run(&flags));
        assert_eq!(out["chart"], chart);
        let points = &reference["points"];
        agreement.check(&format!("{name} {chart}"), points, |f, i| field(&out, f, i));
        // x as the column has it; the top-level runs fields are the last part's.
        let first = &out["points"][0]["x"];
        match columns.x {
            "x" => assert_eq!(first, &Value::from(1)),
            _ => assert_eq!(first, &case["input"]["month"][0]),
        }
        let last = out["parts"].as_array().unwrap().last().unwrap();
        for key in [
            "runs_signal",
            "longest_run",
            "longest_run_max",
            "n_crossings",
            "n_crossings_min",
        ] {
            assert_eq!(out[key], last[key], "{name} {chart} {key}");
        }
    }
    assert!(
        agreement.failures.is_empty(),
        "{}",
        agreement.failures.join("\n")
    );
}

/// [`agrees_with_qic`] on the case written to a CSV file by [`write_case`].
fn written_case_agrees_with_qic(name: &str, split: bool, x: &str) {
    let dir = scratch(name);
    let csv = dir.join(format!("{name}.csv"));
    write_case(&qic::case(&format!("{name}.json")), &csv, split);
    agrees_with_qic(name, &csv, &written(x));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn help_and_version_exit_zero() {
    let help = run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let out = text(&help.stdout);
    for flag in [
        "Usage: ",
        "--data <FILE.csv>",
        "--chart <CHART>",
        "--freeze <K>",
        "--part <K,K,..>",
        "--exclude <K,K,..>",
        "--multiply <M>",
        "[default: 1]",
        "--figure <FILE.svg>",
        "--json",
        "--version",
    ] {
        assert!(out.contains(flag), "{flag} missing from\n{out}");
    }
    for chart in ["run", "p", "pp", "u", "i", "mr"] {
        assert!(
            out.contains(&format!("{chart}:")),
            "{chart} missing from\n{out}"
        );
    }
    let version = run(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        text(&version.stdout).trim(),
        format!("spc {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_two() {
    for args in [
        &["--data", "a.csv", "--y", "e", "--x", "m", "--chart", "q"][..],
        &["--y", "e", "--x", "m", "--chart", "p"],
        &[
            "--data", "a.csv", "--y", "e", "--x", "m", "--chart", "run", "--freeze", "x",
        ],
        &[
            "--data", "a.csv", "--y", "e", "--x", "m", "--chart", "run", "--title", "t",
        ],
    ] {
        let out = run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn user_errors_exit_one_naming_the_file_column_and_line() {
    let dir = scratch("errors");
    let csv = dir.join("months.csv");
    std::fs::write(
        &csv,
        "month,events,patients\n2024-01,3,20\n2024-02,25,20\n2024-03,4,21\n",
    )
    .unwrap();
    let data = csv.to_str().unwrap();
    let base = ["--data", data, "--y", "events", "--x", "month"];
    let failure = |extra: &[&str]| {
        let out = run(&[&base[..], extra].concat());
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        assert!(out.stdout.is_empty());
        text(&out.stderr)
    };
    let e = failure(&["--n", "patiens", "--chart", "p"]);
    assert!(
        e.starts_with("spc: ") && e.contains(data) && e.contains("'patiens'"),
        "{e}"
    );
    assert!(e.contains("did you mean 'patients'?"), "{e}");
    // 25 readmissions among 20 patients, on line 3.
    let e = failure(&["--n", "patients", "--chart", "p"]);
    assert!(
        e.contains(&format!("{data}, line 3, column 'events'")) && e.contains("2024-02"),
        "{e}"
    );
    // A rate may exceed 1.
    assert!(
        run(&[&base[..], &["--n", "patients", "--chart", "u"]].concat())
            .status
            .success()
    );
    let e = failure(&["--chart", "p"]);
    assert!(e.contains("needs counts with denominators"), "{e}");
    let e = failure(&["--n", "patients", "--chart", "u", "--exclude", "4"]);
    assert!(e.contains("'exclude'"), "{e}");
    let e = failure(&["--n", "patients", "--chart", "run", "--freeze", "1"]);
    assert!(e.contains("'freeze'"), "{e}");
    // A negative count, named at its own row.
    std::fs::write(&csv, "month,events,patients\n2024-01,3,20\n2024-01,-1,20\n").unwrap();
    let e = failure(&["--n", "patients", "--chart", "run"]);
    assert!(e.contains("line 3, column 'events'"), "{e}");
    let out = run(&[
        "--data", data, "--y", "month", "--x", "patients", "--chart", "run",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.contains("column 'month': '2024-01' is text"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn reference_cases_through_the_command_line_agree_with_qicharts2() {
    // Freeze: run and p charts frozen on 12 months.
    written_case_agrees_with_qic("readm_freeze_30", false, "month");
    // Rows split in two and reversed, grouped by a numeric x: u chart with n not whole.
    written_case_agrees_with_qic("falls_u_24", true, "x");
    // Laney p'.
    written_case_agrees_with_qic("readm_overdisp_36", true, "month");
}

#[test]
fn the_readme_example_file_holds_its_case_and_agrees() {
    // tests/reference/monitor/readm_shift_30.csv, the README's example, is the case's input.
    let csv = Path::new(qic::DIR).join("readm_shift_30.csv");
    let case = qic::case("readm_shift_30.json");
    let input = &case["input"];
    let lines: Vec<String> = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines[0], "month,readmissions,patients");
    assert_eq!(lines.len() - 1, input["month"].as_array().unwrap().len());
    for (i, line) in lines[1..].iter().enumerate() {
        let expected = format!(
            "{},{},{}",
            input["month"][i].as_str().unwrap(),
            input["y"][i],
            input["n"][i]
        );
        assert_eq!(line, &expected);
    }
    let columns = Columns {
        x: "month",
        y: "readmissions",
        n: "patients",
    };
    agrees_with_qic("readm_shift_30", &csv, &columns);
}

#[test]
fn parts_exclude_and_multiply_as_worked_out_by_hand() {
    let dir = scratch("parts");
    let csv = dir.join("months.csv");
    let rows: Vec<String> = [2, 3, 1, 2, 6, 5, 7, 6]
        .iter()
        .enumerate()
        .map(|(m, y)| format!("2024-{:02},{y},20", m + 1))
        .collect();
    std::fs::write(
        &csv,
        format!("month,events,patients\n{}\n", rows.join("\n")),
    )
    .unwrap();
    let data = csv.to_str().unwrap();
    let out = json(&run(&[
        "--data",
        data,
        "--y",
        "events",
        "--n",
        "patients",
        "--x",
        "month",
        "--chart",
        "p",
        "--part",
        "4",
        "--exclude",
        "2",
        "--multiply",
        "100",
        "--json",
    ]));
    let points = out["points"].as_array().unwrap();
    let close = |v: &Value, expected: f64| (v.as_f64().unwrap() - expected).abs() < 1e-12;
    // Part 1 without month 2: (2 + 1 + 2) / 60 = 1/12; limits 1/12 -/+ 3 sqrt(1/12 11/12 / 20),
    // the lower clamped at 0; in percent.
    let cl1: f64 = 1.0 / 12.0;
    let ucl1 = cl1 + 3.0 * (cl1 * (1.0 - cl1) / 20.0).sqrt();
    for p in &points[..4] {
        assert!(
            close(&p["cl"], 100.0 * cl1) && close(&p["ucl"], 100.0 * ucl1),
            "{p}"
        );
        assert_eq!(
            (p["lcl"].as_f64(), p["part"].as_u64()),
            (Some(0.0), Some(1))
        );
    }
    assert!(close(&points[1]["y"], 15.0));
    assert_eq!(points[1]["include"], false);
    assert_eq!(points[1]["sigma_signal"], false);
    // Part 2: 24/80 = 0.3.
    let ucl2 = 0.3 + 3.0 * (0.3f64 * 0.7 / 20.0).sqrt();
    assert!(close(&points[7]["cl"], 30.0) && close(&points[7]["ucl"], 100.0 * ucl2));
    // Runs of part 1 over months 1, 3, 4 against 1/12: + - +; part 2: 0.3 = 6/20 twice on the
    // line, - + left.
    let parts = out["parts"].as_array().unwrap();
    let expected = [
        [
            ("first", 1),
            ("last", 4),
            ("n_obs", 3),
            ("n_useful", 3),
            ("longest_run", 1),
            ("n_crossings", 2),
        ],
        [
            ("first", 5),
            ("last", 8),
            ("n_obs", 4),
            ("n_useful", 2),
            ("longest_run", 1),
            ("n_crossings", 1),
        ],
    ];
    for (part, fields) in parts.iter().zip(expected) {
        for (key, value) in fields {
            assert_eq!(part[key], value, "{key}: {part}");
        }
        assert_eq!(part["runs_signal"], false);
    }
    // round(log2 3) + 3 = 5 and qbinom(0.05, 2, 0.5) = 0; round(log2 2) + 3 = 4, qbinom(.05, 1, .5) = 0.
    assert_eq!(
        (
            parts[0]["longest_run_max"].as_u64(),
            parts[0]["n_crossings_min"].as_u64()
        ),
        (Some(5), Some(0))
    );
    assert_eq!(out["longest_run_max"], 4, "the last part's");
    assert_eq!(
        points[0]["n_crossings"], 2,
        "each point carries its part's runs"
    );
    // The table and the figure.
    let svg = dir.join("chart.svg");
    let table = run(&[
        "--data",
        data,
        "--y",
        "events",
        "--n",
        "patients",
        "--x",
        "month",
        "--chart",
        "p",
        "--part",
        "4",
        "--figure",
        svg.to_str().unwrap(),
        "--title",
        "Readmission, LKT A",
    ]);
    assert!(table.status.success(), "{}", text(&table.stderr));
    let printed = text(&table.stdout);
    assert!(
        printed.contains("P chart of events / patients by month, 8 subgroups"),
        "{printed}"
    );
    assert!(
        printed.contains("Part 2 (subgroups 5 to 8): longest run 1 (max 4)"),
        "{printed}"
    );
    assert!(text(&table.stderr).contains("wrote"));
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(drawn.contains("Readmission, LKT A") && drawn.contains("Part 2"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Every `funnel_*.json` reference case (hand-computed in R, `make_monitor.R` Part B) written
/// as a CSV of teams, each team's counts split over two rows in reverse order, through
/// `--chart funnel --unit team --json`: the exact limits at each team's n within 1e-9, the flags
/// exactly, phi and tau2 within 1e-9.
#[test]
fn funnel_reference_cases_through_the_command_line() {
    let dir = scratch("funnel");
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/monitor");
    let mut cases = 0;
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("funnel_lkt") && name.ends_with(".json")) {
            continue;
        }
        cases += 1;
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let input = &case["input"];
        let teams = input["team"].as_array().unwrap();
        let mut csv = String::from("team,events,patients\n");
        for k in (0..teams.len()).rev() {
            let (o, n) = (
                input["O"][k].as_f64().unwrap(),
                input["n"][k].as_f64().unwrap(),
            );
            let (o1, n1) = ((o / 2.0).floor(), (n / 2.0).floor());
            csv.push_str(&format!("{},{o1},{n1}\n", teams[k].as_str().unwrap()));
            csv.push_str(&format!(
                "{},{},{}\n",
                teams[k].as_str().unwrap(),
                o - o1,
                n - n1
            ));
        }
        let file = dir.join(format!("{name}.csv"));
        std::fs::write(&file, csv).unwrap();
        let out = json(&run(&[
            "--data",
            file.to_str().unwrap(),
            "--y",
            "events",
            "--n",
            "patients",
            "--chart",
            "funnel",
            "--unit",
            "team",
            "--json",
        ]));
        let close = |a: f64, b: f64, what: &str| {
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                "{name} {what}: {a} vs {b}"
            );
        };
        close(
            out["phi"].as_f64().unwrap(),
            case["overdispersion"]["phi"].as_f64().unwrap(),
            "phi",
        );
        close(
            out["tau2"].as_f64().unwrap(),
            case["overdispersion"]["tau2"].as_f64().unwrap(),
            "tau2",
        );
        let at = &case["limits_at_team_n"];
        for (k, unit) in out["units"].as_array().unwrap().iter().enumerate() {
            assert_eq!(
                unit["unit"], teams[k],
                "{name}: units in the reference's order"
            );
            assert_eq!(unit["n"].as_f64(), input["n"][k].as_f64());
            assert_eq!(unit["observed"].as_f64(), input["O"][k].as_f64());
            for (ours, theirs) in [
                ("lower95", "exact_l95"),
                ("upper95", "exact_u95"),
                ("lower998", "exact_l998"),
                ("upper998", "exact_u998"),
            ] {
                close(
                    unit[ours].as_f64().unwrap(),
                    at[theirs][k].as_f64().unwrap(),
                    ours,
                );
            }
            assert_eq!(
                unit["outside"], case["teams"]["flag_exact998"][k],
                "{name} {k}"
            );
            assert_eq!(
                unit["outside95"], case["teams"]["flag_exact95"][k],
                "{name} {k}"
            );
        }
    }
    assert!(
        cases >= 1,
        "no funnel reference case in {}",
        folder.display()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn funnel_usage_and_user_errors() {
    let dir = scratch("funnel-errors");
    let file = dir.join("teams.csv");
    std::fs::write(
        &file,
        "team,events,patients,age\nA,3,20,80\nB,5,25,81\nB,1,,82\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    // A funnel needs --unit, a control chart --x: usage errors.
    for args in [
        vec![
            "--data", file, "--y", "events", "--n", "patients", "--chart", "funnel",
        ],
        vec![
            "--data", file, "--y", "events", "--n", "patients", "--chart", "p",
        ],
        vec![
            "--data",
            file,
            "--y",
            "events",
            "--n",
            "patients",
            "--chart",
            "funnel",
            "--unit",
            "team",
            "--case-mix",
            "age",
        ],
    ] {
        let out = run(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // A case-mix funnel of a column that is not 0/1, and a missing unit column: user errors.
    for (args, expected) in [
        (
            vec![
                "--data",
                file,
                "--y",
                "age",
                "--chart",
                "funnel",
                "--unit",
                "team",
                "--case-mix",
                "events",
            ],
            "age",
        ),
        (
            vec![
                "--data", file, "--y", "events", "--n", "patients", "--chart", "funnel", "--unit",
                "teem",
            ],
            "team",
        ),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains(expected),
            "{}",
            text(&out.stderr)
        );
    }
    // The row of B without patients is left out (as qic); B is 5 of 25.
    let out = json(&run(&[
        "--data", file, "--y", "events", "--n", "patients", "--chart", "funnel", "--unit", "team",
        "--json",
    ]));
    assert_eq!(out["units"][1]["observed"].as_f64(), Some(5.0));
    assert_eq!(out["units"][1]["n"].as_f64(), Some(25.0));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--case-mix` on the bundled patient file agrees with R's glm (`funnel_case_mix.R`, case
/// "complete"): expected events 1e-8 relative, the ratio's exact limits at E 1e-6 (they move
/// with E), the flags exactly.
#[test]
fn case_mix_funnel_through_the_command_line_agrees_with_glm() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/reference/monitor/funnel_case_mix.json"))
            .unwrap(),
    )
    .unwrap();
    let case = &reference["cases"][0];
    assert_eq!(case["name"], "complete");
    let data = root.join("data-samples/stepped_wedge_sim.csv");
    let out = json(&run(&[
        "--data",
        data.to_str().unwrap(),
        "--y",
        "death30",
        "--chart",
        "funnel",
        "--unit",
        "cluster",
        "--case-mix",
        "age + sex + residence",
        "--json",
    ]));
    assert_eq!(out["y"], "ratio");
    let units = &case["units"];
    for (k, unit) in out["units"].as_array().unwrap().iter().enumerate() {
        assert_eq!(unit["unit"], units["unit"][k]);
        assert_eq!(unit["observed"].as_f64(), units["O"][k].as_f64());
        let (e, r_e) = (
            unit["expected"].as_f64().unwrap(),
            units["E"][k].as_f64().unwrap(),
        );
        assert!((e - r_e).abs() <= 1e-8 * r_e, "{k}: E {e} vs {r_e}");
        let upper = unit["upper998"].as_f64().unwrap();
        let r_upper = case["limits_at_unit_E"]["exact_u998"][k].as_f64().unwrap();
        assert!((upper - r_upper).abs() <= 1e-6, "{k}: {upper} vs {r_upper}");
        assert_eq!(unit["outside"], units["flag_exact998"][k]);
        assert_eq!(unit["outside95"], units["flag_exact95"][k]);
    }
}
