//! The power reference cases in `tests/reference/power/` (made by `make_power.R` there), shared
//! by `power_reference.rs` and `power_simulation.rs`.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The folder of the cases.
pub fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/power")
}

/// Every case file (`*.json` directly in [`folder`]), sorted by name: its name, parsed JSON
/// and text.
pub fn cases() -> Vec<(String, Value, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, serde_json::from_str(&text).unwrap(), text)
        })
        .collect()
}
