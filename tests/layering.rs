//! The crate's modules depend one way: core -> design -> data -> (outcomes, costs, sim) ->
//! frame -> models -> effects -> report -> studies. `design` (trial designs and their
//! closed-form power) uses only `core`; `sim` simulates trials of a design (its counts for
//! simulation power), and `effects::power` fits the models to them. This test reads every source file under
//! src/, resolves each `crate::` and `super::` path it uses to the module it names, and checks
//! that (1) no module uses one of a higher layer, and (2) the graph of modules (down to the
//! second level: `models::glm`, `effects::standardise`, `core::error`) has no cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layer of each top-level module: a module may use only modules of its own layer or below.
fn layer(top: &str) -> Option<u8> {
    Some(match top {
        "core" => 0,
        "design" => 1,
        "data" => 2,
        "outcomes" | "costs" | "sim" => 3,
        "frame" => 4,
        "models" => 5,
        "effects" => 6,
        "report" => 7,
        "studies" => 8,
        _ => return None,
    })
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/models/glm/irls.rs` is `["models", "glm", "irls"]`,
/// `src/models/glm/mod.rs` is `["models", "glm"]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("under src/");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The node of the module graph a module path belongs to: its first two components, or fewer
/// where the path is shorter or the second component is not a module of its own.
fn node(src: &Path, path: &[String]) -> String {
    let mut taken = Vec::new();
    for part in path.iter().take(2) {
        let mut candidate = src.to_path_buf();
        candidate.extend(taken.iter());
        let is_module =
            candidate.join(format!("{part}.rs")).exists() || candidate.join(part).is_dir();
        if !is_module {
            break;
        }
        taken.push(part.clone());
    }
    taken.join("::")
}

/// Every module path a line names through `crate::` or `super::`, resolved from `module`
/// (the module of the file; `is_mod_file` for a mod.rs, whose `super` is its parent).
fn named_paths(line: &str, module: &[String]) -> Vec<Vec<String>> {
    let code = line.split("//").next().unwrap_or("");
    let mut found = Vec::new();
    for (start, _) in code.match_indices("crate::") {
        let rest = &code[start + "crate::".len()..];
        found.push(path_words(rest));
    }
    let mut search = 0;
    while let Some(offset) = code[search..].find("super::") {
        let start = search + offset;
        // Only the first `super::` of a run; count the run.
        if start >= 2 && code[..start].ends_with("::") {
            search = start + 7;
            continue;
        }
        let mut rest = &code[start..];
        let mut base = module.to_vec();
        while let Some(r) = rest.strip_prefix("super::") {
            base.pop();
            rest = r;
        }
        base.extend(path_words(rest));
        found.push(base);
        search = start + 7;
    }
    found
}

/// The leading `a::b::c` identifiers of `text`.
fn path_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = text;
    loop {
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if word.is_empty() {
            break;
        }
        rest = &rest[word.len()..];
        words.push(word);
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => break,
        }
    }
    words
}

#[test]
fn modules_depend_one_way_and_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut upward = Vec::new();
    for file in &files {
        let module = module_path(&src, file);
        let Some(top) = module.first() else { continue };
        let from = node(&src, &module);
        let text = fs::read_to_string(file).expect("a readable source file");
        for (number, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") {
                continue;
            }
            for path in named_paths(line, &module) {
                let Some(target_top) = path.first() else {
                    continue;
                };
                let (Some(own), Some(theirs)) = (layer(top), layer(target_top)) else {
                    continue;
                };
                if theirs > own {
                    upward.push(format!(
                        "{}:{}: {top} uses {}",
                        file.display(),
                        number + 1,
                        path.join("::")
                    ));
                }
                let to = node(&src, &path);
                if !to.is_empty() && to != from && !from.starts_with(&format!("{to}::")) {
                    edges.entry(from.clone()).or_default().insert(to);
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "modules using a higher layer:\n{}",
        upward.join("\n")
    );
    // Depth-first search for a cycle.
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(1) => {
                let at = stack.iter().position(|s| s == n).unwrap_or(0);
                let mut cycle = stack[at..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            Some(_) => return None,
            None => {}
        }
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for next in edges.get(n).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        let mut stack = Vec::new();
        if let Some(cycle) = visit(n, &edges, &mut state, &mut stack) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
    assert!(
        edges.len() >= 20,
        "the module graph looks too small ({} nodes with edges): is src/ read?",
        edges.len()
    );
}

#[test]
fn the_checker_sees_a_planted_cycle_and_an_upward_use() {
    let module: Vec<String> = ["models", "glm", "irls"].map(String::from).to_vec();
    let named = named_paths("use crate::effects::standardise::Standardisation;", &module);
    assert_eq!(named[0], ["effects", "standardise", "Standardisation"]);
    assert!(layer("effects") > layer("models"));
    let named = named_paths("use super::super::fitted::Fitted; // super::x", &module);
    assert_eq!(named, vec![vec!["models", "fitted", "Fitted"]]);
    // The design is planned before there are data: it uses neither data nor simulation, while
    // the simulator of a design's trials may use it, and simulation power (which fits models)
    // sits above the models.
    assert!(layer("design") < layer("data"));
    assert!(layer("sim") > layer("design"));
    assert!(layer("effects") > layer("models"));
}
