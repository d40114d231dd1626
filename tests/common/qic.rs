//! The qicharts2 reference cases of `tests/reference/monitor/` and the comparison of a chart's
//! points with qic's data, shared by `monitor_reference.rs` (the library) and `spc_cli.rs`
//! (the `spc` example).

use std::path::Path;

use serde_json::Value;

pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/monitor");

/// Values, centre lines and limits agree within this, absolute or relative.
pub const TOLERANCE: f64 = 1e-9;

/// qic's numeric fields of a point.
pub const NUMBERS: [&str; 4] = ["y", "cl", "lcl", "ucl"];

/// qic's fields of a point that must agree exactly (null = missing).
pub const EXACT: [&str; 11] = [
    "sigma.signal",
    "runs.signal",
    "longest.run",
    "longest.run.max",
    "n.crossings",
    "n.crossings.min",
    "n.useful",
    "n.obs",
    "part",
    "baseline",
    "include",
];

/// Every qic case of the folder (each `.json` but the funnel cases), `(file name, case)`,
/// sorted by name.
pub fn cases() -> Vec<(String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !file_name(p).starts_with("funnel_"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (file_name(&p), case_at(&p)))
        .collect()
}

/// The case in `name` (a file of the folder).
pub fn case(name: &str) -> Value {
    case_at(&Path::new(DIR).join(name))
}

fn case_at(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Positions given as null, one number or an array of numbers.
pub fn positions(v: &Value) -> Vec<usize> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().map(|k| k.as_u64().unwrap() as usize).collect(),
        k => vec![k.as_u64().unwrap() as usize],
    }
}

/// How a chart's points agree with qic's.
#[derive(Debug, Default)]
pub struct Agreement {
    /// Every field that does not agree, with where.
    pub failures: Vec<String>,
    /// The largest difference of a number (absolute or relative, the smaller), and where.
    pub largest: (f64, String),
    /// The largest absolute difference of a centre line or limit.
    pub largest_line: f64,
}

impl Agreement {
    /// Compares every point `i` of `qic` (a chart's `points` of a case) with ours:
    /// `ours(field, i)` is our value of qic's `field` at point `i` as JSON (null = missing).
    pub fn check(&mut self, at: &str, qic: &Value, ours: impl Fn(&str, usize) -> Value) {
        let len = qic["cl"].as_array().unwrap().len();
        for i in 0..len {
            let here = format!("{at} point {}", i + 1);
            for field in NUMBERS {
                let (a, b) = (ours(field, i).as_f64(), qic[field][i].as_f64());
                let difference = match (a, b) {
                    (None, None) => Some(0.0),
                    (Some(a), Some(b)) => Some((a - b).abs().min((a - b).abs() / b.abs())),
                    _ => None,
                };
                match difference {
                    Some(d) if d <= TOLERANCE => {
                        if d > self.largest.0 {
                            self.largest = (d, format!("{here} {field}"));
                        }
                        if let (true, Some(a), Some(b)) = (field != "y", a, b) {
                            self.largest_line = self.largest_line.max((a - b).abs());
                        }
                    }
                    _ => self
                        .failures
                        .push(format!("{here} {field}: {a:?}, qic {b:?}")),
                }
            }
            for field in EXACT {
                let (a, b) = (ours(field, i), &qic[field][i]);
                if &a != b {
                    self.failures.push(format!("{here} {field}: {a}, qic {b}"));
                }
            }
        }
    }
}
