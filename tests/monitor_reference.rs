//! Run and control charts against qicharts2 0.8.1 (`tests/reference/monitor/`, made by
//! `make_monitor.R` with `qic(..., return.data = TRUE)`): every chart of every qic case file in
//! the folder (each `.json` but the funnel cases, so that a case put beside them is checked
//! too), at every point: y, the centre line and the limits within 1e-9 (absolute or
//! relative), and the signals, the runs analysis, the part, baseline and include exactly.

use std::path::Path;

use serde_json::Value;
use stepwedge::report::monitor::{Chart, ChartKind, ChartOptions, PartRuns, Subgroups};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/monitor");
const TOLERANCE: f64 = 1e-9;

/// Every qic case of the folder, `(file name, case)`, sorted by name.
fn cases() -> Vec<(String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !file_name(p).starts_with("funnel_"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let case = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (file_name(&p), case)
        })
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// A number or null.
fn optional(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// Positions given as null, one number or an array of numbers.
fn positions(v: &Value) -> Vec<usize> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().map(|k| k.as_u64().unwrap() as usize).collect(),
        k => vec![k.as_u64().unwrap() as usize],
    }
}

/// The case's input as subgroups: its months, numerators and denominators.
fn subgroups(case: &Value) -> Subgroups {
    let input = &case["input"];
    let column = |name: &str| -> Vec<Option<f64>> {
        input[name]
            .as_array()
            .unwrap()
            .iter()
            .map(optional)
            .collect()
    };
    let labels = input["month"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect();
    Subgroups::counts(labels, column("y"), column("n")).unwrap()
}

/// qic's arguments as chart options.
fn options(args: &Value) -> ChartOptions {
    ChartOptions {
        freeze: args["freeze"].as_u64().map(|k| k as usize),
        parts: positions(&args["part"]),
        exclude: positions(&args["exclude"]),
        multiply: args["multiply"].as_f64().unwrap(),
        screened_moving_ranges: args["qic.screenedmr"].as_bool().unwrap(),
    }
}

/// `|ours - theirs|`, relative to `theirs` when that is the smaller; `None` if one is
/// missing and the other not.
fn difference(ours: Option<f64>, theirs: Option<f64>) -> Option<f64> {
    match (ours, theirs) {
        (None, None) => Some(0.0),
        (Some(a), Some(b)) => {
            let absolute = (a - b).abs();
            Some(absolute.min(absolute / b.abs()))
        }
        _ => None,
    }
}

/// The runs fields of qic's data of a point, ours from the point's part.
fn runs_fields(part: &PartRuns) -> [(&'static str, Value); 7] {
    let r = part.runs;
    [
        ("runs.signal", Value::from(r.signal)),
        ("longest.run", Value::from(r.longest_run)),
        ("longest.run.max", Value::from(r.longest_run_max)),
        ("n.crossings", Value::from(r.n_crossings)),
        ("n.crossings.min", Value::from(r.n_crossings_min)),
        ("n.useful", Value::from(r.n_useful)),
        ("n.obs", Value::from(r.n_obs)),
    ]
}

#[test]
fn every_chart_of_every_case_agrees_with_qicharts2() {
    let cases = cases();
    assert!(cases.len() >= 5, "the visible cases are missing from {DIR}");
    let mut failures = Vec::new();
    // The largest difference (absolute or relative, whichever is smaller), and the largest
    // absolute difference of a centre line or limit.
    let mut largest = (0.0f64, String::new());
    let mut largest_line = 0.0f64;
    let mut charts = 0;
    for (file, case) in &cases {
        let subgroups = subgroups(case);
        for reference in case["charts"].as_array().unwrap() {
            let name = reference["chart"].as_str().unwrap();
            let kind: ChartKind = name.parse().unwrap();
            let chart = Chart::compute(&subgroups, kind, &options(&reference["args"]))
                .unwrap_or_else(|e| panic!("{file} {name}: {e}"));
            charts += 1;
            let theirs = &reference["points"];
            assert_eq!(chart.points.len(), theirs["cl"].as_array().unwrap().len());
            for (i, point) in chart.points.iter().enumerate() {
                let at = format!("{file} {name} point {}", i + 1);
                let numbers = [
                    ("y", point.y),
                    ("cl", point.cl),
                    ("lcl", point.lcl),
                    ("ucl", point.ucl),
                ];
                for (field, ours) in numbers {
                    let expected = optional(&theirs[field][i]);
                    match difference(ours, expected) {
                        Some(d) if d <= TOLERANCE => {
                            if d > largest.0 {
                                largest = (d, format!("{at} {field}"));
                            }
                            if let (true, Some(a), Some(b)) = (field != "y", ours, expected) {
                                largest_line = largest_line.max((a - b).abs());
                            }
                        }
                        _ => failures.push(format!("{at} {field}: {ours:?}, qic {expected:?}")),
                    }
                }
                let part = chart.parts[point.part - 1];
                let exact = [
                    ("sigma.signal", Value::from(point.sigma_signal)),
                    ("part", Value::from(point.part)),
                    ("baseline", Value::from(point.baseline)),
                    ("include", Value::from(point.include)),
                ];
                for (field, ours) in exact.into_iter().chain(runs_fields(&part)) {
                    let expected = &theirs[field][i];
                    if &ours != expected {
                        failures.push(format!("{at} {field}: {ours}, qic {expected}"));
                    }
                }
                if !(part.first..=part.last).contains(&(i + 1)) {
                    failures.push(format!("{at}: not within its part {part:?}"));
                }
            }
        }
    }
    println!(
        "{charts} charts of {} cases; largest difference {:.2e} ({}); largest absolute \
         difference of a centre line or limit {largest_line:.2e}",
        cases.len(),
        largest.0,
        largest.1
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
