//! Run and control charts against qicharts2 0.8.1 (`tests/reference/monitor/`, made by
//! `make_monitor.R` with `qic(..., return.data = TRUE)`): every chart of every qic case file in
//! the folder (each `.json` but the funnel cases, so that a case put beside them is checked
//! too), at every point: y, the centre line and the limits within 1e-9 (absolute or
//! relative), and the signals, the runs analysis, the part, baseline and include exactly.

#[allow(dead_code)]
#[path = "common/qic.rs"]
mod qic;

use serde_json::Value;
use stepwedge::report::monitor::{Chart, ChartKind, ChartOptions, ChartPoint, Subgroups};

/// The case's input as subgroups: its months, numerators and denominators.
fn subgroups(case: &Value) -> Subgroups {
    let input = &case["input"];
    let column = |name: &str| -> Vec<Option<f64>> {
        input[name]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::as_f64)
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
        parts: qic::positions(&args["part"]),
        exclude: qic::positions(&args["exclude"]),
        multiply: args["multiply"].as_f64().unwrap(),
        screened_moving_ranges: args["qic.screenedmr"].as_bool().unwrap(),
    }
}

/// Our value of qic's `field` at `point` of `chart`, as JSON.
fn field(chart: &Chart, point: &ChartPoint, field: &str) -> Value {
    let runs = chart.parts[point.part - 1].runs;
    match field {
        "y" => point.y.into(),
        "cl" => point.cl.into(),
        "lcl" => point.lcl.into(),
        "ucl" => point.ucl.into(),
        "sigma.signal" => point.sigma_signal.into(),
        "runs.signal" => runs.signal.into(),
        "longest.run" => runs.longest_run.into(),
        "longest.run.max" => runs.longest_run_max.into(),
        "n.crossings" => runs.n_crossings.into(),
        "n.crossings.min" => runs.n_crossings_min.into(),
        "n.useful" => runs.n_useful.into(),
        "n.obs" => runs.n_obs.into(),
        "part" => point.part.into(),
        "baseline" => point.baseline.into(),
        "include" => point.include.into(),
        other => panic!("no field {other}"),
    }
}

#[test]
fn every_chart_of_every_case_agrees_with_qicharts2() {
    let cases = qic::cases();
    assert!(
        cases.len() >= 5,
        "the visible cases are missing from {}",
        qic::DIR
    );
    let mut agreement = qic::Agreement::default();
    let mut charts = 0;
    for (file, case) in &cases {
        let subgroups = subgroups(case);
        for reference in case["charts"].as_array().unwrap() {
            let name = reference["chart"].as_str().unwrap();
            let kind: ChartKind = name.parse().unwrap();
            let chart = Chart::compute(&subgroups, kind, &options(&reference["args"]))
                .unwrap_or_else(|e| panic!("{file} {name}: {e}"));
            charts += 1;
            let points = &reference["points"];
            assert_eq!(chart.points.len(), points["cl"].as_array().unwrap().len());
            agreement.check(&format!("{file} {name}"), points, |f, i| {
                field(&chart, &chart.points[i], f)
            });
            for (k, part) in chart.parts.iter().enumerate() {
                let within = chart.points[part.first - 1..part.last].iter();
                assert!(within.clone().all(|p| p.part == k + 1), "{file} {name}");
            }
        }
    }
    println!(
        "{charts} charts of {} cases; largest difference {:.2e} ({}); largest absolute \
         difference of a centre line or limit {:.2e}",
        cases.len(),
        agreement.largest.0,
        agreement.largest.1,
        agreement.largest_line
    );
    assert!(
        agreement.failures.is_empty(),
        "{} differences:\n{}",
        agreement.failures.len(),
        agreement.failures.join("\n")
    );
}
