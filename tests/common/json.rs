//! Readers of the reference JSON that the R scripts write (`tests/reference/json_helpers.R`:
//! every value an array), shared by the reference tests that `#[path]`-include this file.

// Each including test uses what it reads.
#![allow(dead_code)]

use serde_json::Value;

/// A JSON array of numbers.
pub fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// A JSON array of strings.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}
