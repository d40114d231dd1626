//! Randomisation tests of a stepped wedge's treatment effect against lme4 (tests/reference/perm/,
//! make_perm.R: glmer Laplace on cluster-period counts, bobyqa at rhoend 1e-12): every case in
//! the folder (the visible one and any added beside it). The exact randomisation distribution of
//! the glmer estimate matches allocation by allocation (same enumeration order) within 1e-5 and
//! the p-value exactly; where the case has the interval's grid (offset d * treated_obs), p(d)
//! and every T_pi(d) match at each grid value, and the interval's bounds lie between the grid
//! values where R's p(d) crosses 0.05.

use serde_json::Value;
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::effects::randomisation::{Inversion, Prepared, Randomisation};
use stepwedge::models::glmm::{Glmm, GlmmFit};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/perm/");

/// The cases in the folder: every `<name>.json` with its `<name>.csv`.
fn cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".json")?.to_string();
            std::path::Path::new(&format!("{DIR}{stem}.csv"))
                .exists()
                .then_some(stem)
        })
        .collect();
    names.sort();
    assert!(!names.is_empty());
    names
}

fn load(name: &str) -> (Cohort, Value, GlmmFit) {
    let cohort =
        Cohort::from_csv_path(format!("{DIR}{name}.csv"), &LoadOptions::default()).unwrap();
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{DIR}{name}.json")).unwrap())
            .unwrap();
    let fit = Glmm::new("y ~ treated + factor(period) + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    (cohort, json, fit)
}

fn numbers(v: &Value) -> Vec<Option<f64>> {
    v.as_array().unwrap().iter().map(Value::as_f64).collect()
}

/// The allocations of the test as period numbers, as R writes them.
fn allocations(prepared_labels: &[String], allocations: &[Vec<Option<usize>>]) -> Vec<Vec<f64>> {
    allocations
        .iter()
        .map(|a| {
            a.iter()
                .map(|c| c.map_or(f64::INFINITY, |p| prepared_labels[p].parse().unwrap()))
                .collect()
        })
        .collect()
}

/// The largest difference between our T_pi and R's, allocation by allocation (R's failures,
/// null, must be ours too).
fn max_difference(ours: &[Option<f64>], theirs: &[Option<f64>], what: &str) -> f64 {
    assert_eq!(ours.len(), theirs.len(), "{what}: allocations");
    let mut worst: f64 = 0.0;
    for (k, (a, b)) in ours.iter().zip(theirs).enumerate() {
        match (a, b) {
            (Some(a), Some(b)) => {
                let d = (a - b).abs();
                assert!(d < 1e-5, "{what}, allocation {}: ours {a}, R {b}", k + 1);
                worst = worst.max(d);
            }
            (None, None) => {}
            _ => panic!("{what}, allocation {}: ours {a:?}, R {b:?}", k + 1),
        }
    }
    worst
}

/// p-values agree exactly, except for the comparisons R flags as near ties (each moves p by
/// 1 / n).
fn same_p(ours: f64, theirs: f64, near_ties: f64, n: usize, what: &str) {
    let allowed = near_ties / n as f64 + 1e-12;
    assert!(
        (ours - theirs).abs() <= allowed,
        "{what}: p ours {ours}, R {theirs}"
    );
}

#[test]
fn the_exact_distribution_and_p_value_match_glmer_allocation_by_allocation() {
    for name in cases() {
        let (cohort, r, fit) = load(&name);
        let test = Randomisation::new("treated").run(&fit, &cohort).unwrap();
        let n = r["n_allocations"].as_u64().unwrap() as usize;
        assert!(test.exact, "{name}");
        assert_eq!(test.n_allocations, n, "{name}");
        assert_eq!(
            test.identity,
            Some(r["identity_index"].as_u64().unwrap() as usize - 1),
            "{name}"
        );
        let theirs: Vec<Vec<f64>> = r["allocations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                numbers(a)
                    .iter()
                    .map(|v| v.unwrap_or(f64::INFINITY))
                    .collect()
            })
            .collect();
        assert_eq!(
            allocations(&test.schedule.periods, &test.allocations),
            theirs,
            "{name}: enumeration order"
        );
        let worst = max_difference(&test.statistics, &numbers(&r["T_perm"]), &name);
        assert!(
            (test.observed - r["T_obs"].as_f64().unwrap()).abs() < 1e-5,
            "{name}: T_obs"
        );
        same_p(
            test.p_value,
            r["p_value"].as_f64().unwrap(),
            r["near_ties"].as_f64().unwrap(),
            n,
            &name,
        );
        assert_eq!(
            test.failed as u64,
            r["n_failed"].as_u64().unwrap(),
            "{name}"
        );
        // Singular refits: R's isSingular (SD < 1e-4) and ours agree away from the tolerance.
        let sds = numbers(&r["sd_perm"]);
        let unclear = sds
            .iter()
            .filter(|s| s.is_some_and(|s| (0.5e-4..2e-4).contains(&s)))
            .count();
        let r_singular = r["n_singular"].as_u64().unwrap() as usize;
        assert!(
            test.singular.abs_diff(r_singular) <= unclear,
            "{name}: singular ours {}, R {r_singular}",
            test.singular
        );
        eprintln!(
            "{name}: {n} allocations, max |T_perm - R| = {worst:.2e}, p = {} (R {}), singular {} (R {r_singular})",
            test.p_value, r["p_value"], test.singular
        );
    }
}

/// The grid values where R's `p` crosses `alpha` going down from grid index `start` (the
/// estimate's): the last rejected and the first accepted.
fn below(grid: &[f64], p: &[f64], alpha: f64, start: usize) -> (f64, f64) {
    let low = (0..start).rev().find(|&i| p[i] <= alpha).unwrap();
    (grid[low], grid[low + 1])
}

/// The same going up: the last accepted and the first rejected.
fn above(grid: &[f64], p: &[f64], alpha: f64, start: usize) -> (f64, f64) {
    let high = (start..p.len()).find(|&i| p[i] <= alpha).unwrap();
    (grid[high - 1], grid[high])
}

fn check_interval(prepared: &Prepared<'_, GlmmFit>, r: &Value, name: &str) {
    let ci = &r["ci"];
    let grid: Vec<f64> = numbers(&ci["grid"]).into_iter().flatten().collect();
    let t_grid: Vec<Vec<Option<f64>>> = ci["T_perm"]
        .as_array()
        .unwrap()
        .iter()
        .map(numbers)
        .collect();
    let n = t_grid[0].len();
    let identity = r["identity_index"].as_u64().unwrap() as usize - 1;
    let mut worst: f64 = 0.0;
    let mut p = Vec::new();
    let (mut p_upper, mut p_lower) = (Vec::new(), Vec::new());
    for (i, &d) in grid.iter().enumerate() {
        let at = prepared.distribution(d).unwrap();
        let what = format!("{name}, d = {d}");
        worst = worst.max(max_difference(&at.statistics, &t_grid[i], &what));
        assert!(
            (at.observed - ci["T_obs"][i].as_f64().unwrap()).abs() < 1e-5,
            "{what}"
        );
        same_p(
            at.p_value,
            ci["p"][i].as_f64().unwrap(),
            ci["near_ties"][i].as_f64().unwrap(),
            n,
            &what,
        );
        p.push(ci["p"][i].as_f64().unwrap());
        // R's one-sided p-values from its own T_perm(d).
        let theirs: Vec<f64> = t_grid[i].iter().flatten().copied().collect();
        let obs = theirs[identity];
        p_upper.push(theirs.iter().filter(|&&t| t >= obs - 1e-12).count() as f64 / n as f64);
        p_lower.push(theirs.iter().filter(|&&t| t <= obs + 1e-12).count() as f64 / n as f64);
    }
    eprintln!(
        "{name}: grid of {} values, max |T_perm(d) - R| = {worst:.2e}",
        grid.len()
    );
    let start = (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
    let ((a, b), (c, e)) = (below(&grid, &p, 0.05, start), above(&grid, &p, 0.05, start));
    let two_sided = prepared.interval(0.95, Inversion::TwoSided).unwrap();
    let (low, high) = (two_sided.low.unwrap(), two_sided.high.unwrap());
    eprintln!(
        "{name}: interval [{low:.4}, {high:.4}] in ({a}, {b}] and [{c}, {e}); R's grid CI [{}, {}]; {} refits",
        ci["ci_lower"], ci["ci_upper"], two_sided.refits
    );
    assert!(
        low > a && low <= b,
        "{name}: lower bound {low} not in ({a}, {b}]"
    );
    assert!(
        high >= c && high < e,
        "{name}: upper bound {high} not in [{c}, {e})"
    );
    // Equal tails: each one-sided p(d) of R's T_perm(d) crosses 0.025 where our bound lies.
    let equal = prepared.interval(0.95, Inversion::EqualTailed).unwrap();
    let (a, b) = below(&grid, &p_upper, 0.025, start);
    let (c, e) = above(&grid, &p_lower, 0.025, start);
    let (low, high) = (equal.low.unwrap(), equal.high.unwrap());
    eprintln!("{name}: equal-tailed interval [{low:.4}, {high:.4}] in ({a}, {b}] and [{c}, {e})");
    assert!(
        low > a && low <= b,
        "{name}: equal-tailed lower bound {low} not in ({a}, {b}]"
    );
    assert!(
        high >= c && high < e,
        "{name}: equal-tailed upper bound {high} not in [{c}, {e})"
    );
}

#[test]
fn the_shifted_distributions_and_the_interval_match_glmer_on_its_grid() {
    let mut checked = 0;
    for name in cases() {
        let (cohort, r, fit) = load(&name);
        if r["ci"].is_null() {
            continue;
        }
        let prepared = Randomisation::new("treated")
            .prepare(&fit, &cohort)
            .unwrap();
        check_interval(&prepared, &r, &name);
        checked += 1;
    }
    assert!(checked > 0);
}
