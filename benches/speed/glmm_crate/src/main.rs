//! Times the Rust `glmm` crate on the workloads of `benches/speed/workloads.json` that name a
//! `glmm_crate` formula, on the same CSV files as stepwedge's benches and R.
//!
//! ```sh
//! cargo run --release --manifest-path benches/speed/glmm_crate/Cargo.toml -- \
//!     benches/speed/workloads.json DATA_DIR OUT.json
//! ```
//!
//! Each fit is `glmm::formula::fit` with the crate's default options (and `nagq` where the
//! workload sets it), timed from the table in memory to the fit (the CSV is read first), median
//! of 5 runs (one run when the first takes over 10 s). The log-likelihood and the `treated`
//! coefficient are written beside the time, or the crate's error where it refuses the model.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use glmm::formula::{fit, Column, Table};
use glmm::{BinomialLink, Family, FitOptions, GammaLink, PoissonLink};
use serde_json::{json, Value};

const RUNS: usize = 5;
const SLOW_SECONDS: f64 = 10.0;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 3 {
        eprintln!("usage: glmm_crate_timing WORKLOADS.json DATA_DIR OUT.json");
        return ExitCode::from(2);
    }
    match run(&args[0], &args[1], &args[2]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("glmm_crate_timing: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(workloads: &str, data_dir: &str, out: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(workloads).map_err(|e| format!("{workloads}: {e}"))?;
    let spec: Value = serde_json::from_str(&text).map_err(|e| format!("{workloads}: {e}"))?;
    let list = spec["workloads"]
        .as_array()
        .ok_or_else(|| format!("{workloads}: no `workloads` array"))?;
    let mut cases = BTreeMap::new();
    for w in list {
        let id = w["id"].as_str().unwrap_or("?").to_string();
        let Some(crate_spec) = w.get("glmm_crate").filter(|v| v.is_object()) else {
            continue;
        };
        let formula = crate_spec["formula"].as_str().unwrap_or_default();
        let factors: Vec<&str> = crate_spec["factors"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let file = format!("{data_dir}/{}", w["file"].as_str().unwrap_or_default());
        let family = family(w["family"].as_str().unwrap_or("binomial"))?;
        let mut opts = FitOptions::default();
        opts.nagq = w["nagq"].as_u64().unwrap_or(1) as u8;
        eprintln!("glmm crate: {id}");
        let table = read_table(&file, &factors)?;
        cases.insert(id, time_fit(formula, &table, family, &opts));
    }
    let result = json!({
        "description": "Elapsed seconds of the Rust glmm crate's formula::fit (default options), median of runs, written by benches/speed/glmm_crate",
        "glmm_crate_version": "0.8.0",
        "cases": cases,
    });
    let tmp = format!("{out}.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&result).unwrap_or_default())
        .map_err(|e| format!("{tmp}: {e}"))?;
    std::fs::rename(&tmp, out).map_err(|e| format!("{out}: {e}"))
}

fn family(name: &str) -> Result<Family, String> {
    Ok(match name {
        "binomial" => Family::Binomial {
            link: BinomialLink::Logit,
        },
        "poisson" => Family::Poisson {
            link: PoissonLink::Log,
        },
        "gamma" => Family::Gamma {
            link: GammaLink::Log,
        },
        "gaussian" => Family::Gaussian,
        other => return Err(format!("unknown family {other}")),
    })
}

/// The CSV as a table: the `factors` columns as factors, every other column numeric where
/// every value parses (columns that do not are left out: the formulas do not use them).
fn read_table(path: &str, factors: &[&str]) -> Result<Table, String> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| format!("{path}: {e}"))?;
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{path}: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut raw: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("{path}:{}: {e}", line + 2))?;
        for (column, value) in raw.iter_mut().zip(record.iter()) {
            column.push(value.to_string());
        }
    }
    let n = raw.first().map_or(0, Vec::len);
    let mut columns = Vec::new();
    for (name, values) in names.into_iter().zip(raw) {
        if factors.contains(&name.as_str()) {
            columns.push((name, Column::factor_from_labels(&values)));
        } else if let Ok(numbers) = values
            .iter()
            .map(|v| v.parse::<f64>())
            .collect::<Result<Vec<_>, _>>()
        {
            columns.push((name, Column::Numeric(numbers)));
        }
    }
    Ok(Table { columns, n })
}

fn time_fit(formula: &str, table: &Table, family: Family, opts: &FitOptions) -> Value {
    let mut seconds = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let result = fit(formula, table, family, opts);
        seconds.push(start.elapsed().as_secs_f64());
        match result {
            Ok(model) => last = Some(model),
            Err(e) => return json!({ "error": e.to_string() }),
        }
        if seconds[0] > SLOW_SECONDS {
            break;
        }
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    let Some(model) = last else {
        return json!({ "error": "no fit" });
    };
    let names = &model.lowered().col_names;
    let beta = model.fit().beta();
    let treated = names
        .iter()
        .position(|n| n == "treated")
        .and_then(|i| beta.get(i));
    json!({
        "elapsed_seconds": median,
        "runs": seconds.len(),
        "loglik": model.fit().loglik(),
        "treated": treated,
        "converged": model.fit().converged(),
    })
}
