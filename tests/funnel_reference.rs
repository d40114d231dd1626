//! Funnel plots of proportions against the hand computation in R of every funnel case in
//! `tests/reference/monitor/` (`funnel_*.json`, made by `make_monitor.R`, Part B; cases put
//! beside the visible one are checked too): the target, the z-scores, every limit (exact with
//! its r_P, normal, multiplicative phi, additive random effects; 95% and 99.8%) at each team's
//! n and on the grid of n, the winsorising quantiles, phi, the test and tau2 within 1e-9, and
//! every flag exactly. (`funnel_case_mix.json` is the case-mix funnel's, checked by
//! `tests/funnel_case_mix.rs`.)

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use stepwedge::report::monitor::funnel::{Flag, Funnel, FunnelLimits, Limits};

#[path = "common/json.rs"]
mod json;
use json::strings;

const TOLERANCE: f64 = 1e-9;

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/monitor")
}

/// Every funnel case of the folder: name and JSON.
fn cases() -> Vec<(String, Value)> {
    let mut cases: Vec<(String, Value)> = fs::read_dir(folder())
        .expect("the reference folder")
        .map(|e| e.expect("an entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("funnel_") && name.ends_with(".json") && name != "funnel_case_mix.json"
        })
        .map(|p| {
            let text = fs::read_to_string(&p).expect("readable");
            let name = p.file_stem().unwrap().to_string_lossy().to_string();
            (name, serde_json::from_str(&text).expect("JSON"))
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    cases
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

fn flag(f: Flag) -> String {
    serde_json::to_value(f)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// The largest difference seen, and where.
#[derive(Default)]
struct Worst(f64, String);

impl Worst {
    fn check(&mut self, what: &str, ours: f64, theirs: f64) {
        let d = (ours - theirs).abs();
        assert!(
            d <= TOLERANCE,
            "{what}: {ours} vs R {theirs} (difference {d:.2e})"
        );
        if d > self.0 {
            *self = Worst(d, what.to_string());
        }
    }
}

/// The limit of `kind` (`exact`, `normal`, `phi`, `re`) and suffix (`l95`, ...) of `at`.
fn limit(at: &FunnelLimits, kind: &str, which: &str) -> f64 {
    let pair: &Limits = match kind {
        "exact" => &at.exact,
        "normal" => &at.normal,
        "phi" => &at.phi,
        "re" => &at.re,
        _ => unreachable!(),
    };
    match which {
        "l95" => pair.lower95,
        "u95" => pair.upper95,
        "l998" => pair.lower998,
        "u998" => pair.upper998,
        _ => unreachable!(),
    }
}

fn exact_r(at: &FunnelLimits, which: &str) -> u64 {
    let r = &at.exact_r;
    match which {
        "l95" => r.lower95,
        "u95" => r.upper95,
        "l998" => r.lower998,
        _ => r.upper998,
    }
}

/// Every limit of R's table `table` (`limits_at_team_n` or `limits_grid`) against ours at the
/// same n.
fn check_limits(name: &str, funnel: &Funnel, table: &Value, worst: &mut Worst) {
    let n = numbers(&table["n"]);
    for (k, &volume) in n.iter().enumerate() {
        let at = funnel.limits_at(volume).unwrap();
        for which in ["l95", "u95", "l998", "u998"] {
            for kind in ["exact", "normal", "phi", "re"] {
                let theirs = table[format!("{kind}_{which}")][k].as_f64().unwrap();
                let what = format!("{name}: {kind}_{which} at n = {volume}");
                worst.check(&what, limit(&at, kind, which), theirs);
            }
            let r = table[format!("exact_r_{which}")][k].as_u64().unwrap();
            assert_eq!(
                exact_r(&at, which),
                r,
                "{name}: exact_r_{which} at n = {volume}"
            );
        }
    }
}

#[test]
fn every_funnel_case_agrees_with_r() {
    let cases = cases();
    assert!(!cases.is_empty(), "no funnel_*.json in {:?}", folder());
    let mut worst = Worst::default();
    for (name, json) in &cases {
        let input = &json["input"];
        let funnel = Funnel::proportions(
            strings(&input["team"]),
            numbers(&input["O"]),
            numbers(&input["n"]),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let p0 = json["p0"].as_f64().unwrap();
        worst.check(&format!("{name}: p0"), funnel.target, p0);
        worst.check(&format!("{name}: overall"), funnel.overall_proportion, p0);

        let teams = &json["teams"];
        let od = &json["overdispersion"];
        let zw = numbers(&od["z_winsorised"]);
        for (k, unit) in funnel.units.iter().enumerate() {
            let team = &unit.unit;
            for (field, ours) in [
                ("proportion", unit.value),
                ("z", unit.z),
                ("z_phi", unit.z_phi),
                ("z_re", unit.z_re),
            ] {
                worst.check(
                    &format!("{name}: {team} {field}"),
                    ours,
                    teams[field][k].as_f64().unwrap(),
                );
            }
            worst.check(
                &format!("{name}: {team} z_winsorised"),
                unit.z_winsorised,
                zw[k],
            );
            for (field, ours) in [
                ("flag_exact95", unit.outside95),
                ("flag_exact998", unit.outside),
                ("flag_phi95", unit.outside_phi95),
                ("flag_phi998", unit.outside_phi),
                ("flag_re95", unit.outside_re95),
                ("flag_re998", unit.outside_re),
            ] {
                assert_eq!(flag(ours), teams[field][k], "{name}: {team} {field}");
            }
            // The unit's own limits are the exact ones at its n.
            let at = &json["limits_at_team_n"];
            for (which, ours) in [
                ("l95", unit.limits.lower95),
                ("u95", unit.limits.upper95),
                ("l998", unit.limits.lower998),
                ("u998", unit.limits.upper998),
            ] {
                let theirs = at[format!("exact_{which}")][k].as_f64().unwrap();
                worst.check(&format!("{name}: {team} exact_{which}"), ours, theirs);
            }
        }
        check_limits(name, &funnel, &json["limits_at_team_n"], &mut worst);
        check_limits(name, &funnel, &json["limits_grid"], &mut worst);

        let o = &funnel.overdispersion;
        for (field, ours) in [
            ("winsor_q10", o.winsor_q10),
            ("winsor_q90", o.winsor_q90),
            ("phi", o.phi),
            ("phi_used", o.phi_used),
            ("test_statistic", o.test_statistic),
            ("p_value", o.p_value),
            ("tau2", o.tau2),
            ("tau", o.tau),
        ] {
            worst.check(
                &format!("{name}: {field}"),
                ours,
                od[field].as_f64().unwrap(),
            );
        }
        assert_eq!(o.df as u64 + 1, od["I"].as_u64().unwrap(), "{name}: I");
    }
    println!(
        "{} funnel cases; largest difference from R {:.2e} ({})",
        cases.len(),
        worst.0,
        worst.1
    );
}

#[test]
fn the_visible_case_has_tau2_with_phi_below_one() {
    // funnel_lkt_readm: phi = 0.919 < 1 but I phi = 10.106 > I - 1 = 10, so tau2 > 0 while
    // the multiplicative limits are the normal ones.
    let (_, json) = cases()
        .into_iter()
        .find(|(n, _)| n == "funnel_lkt_readm")
        .expect("the visible case");
    let input = &json["input"];
    let funnel = Funnel::proportions(
        strings(&input["team"]),
        numbers(&input["O"]),
        numbers(&input["n"]),
    )
    .unwrap();
    let o = &funnel.overdispersion;
    assert!(o.phi < 1.0 && o.phi_used == 1.0 && o.tau2 > 0.0);
    let at = funnel.limits_at(200.0).unwrap();
    assert_eq!(at.phi, at.normal);
    assert!(at.re.upper998 > at.normal.upper998 && at.re.lower95 < at.normal.lower95);
    // Team F is below its exact 95% limit only.
    let f = &funnel.units[5];
    assert_eq!((f.outside95, f.outside), (Flag::Below, Flag::Within));
}
