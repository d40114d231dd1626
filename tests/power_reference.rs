//! Closed-form power against swCRTdesign 4.0's `swPwr` (and SteppedPower 0.3.4's `glsPower`)
//! on every case in `tests/reference/power/` (made by `make_power.R` there): the power within
//! 1e-6, the variance of the treatment estimate within 1e-8 relative and the random effects
//! swPwr derived within 1e-12 relative. Each case's design is also rebuilt with the library's
//! constructors from its R call (`swDsn(...)`, the KTH 2.0 schedule) and must equal the
//! design swDsn wrote.

use stepwedge::design::{Design, PowerCase, SteppedWedge};
use stepwedge::studies::traening_for_livet::{funen_design, traening_for_livet_design};

mod power_cases;
use power_cases::{cases, folder};

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
}

#[test]
fn every_case_agrees_with_swpwr() {
    let cases = cases();
    assert!(cases.len() >= 8, "{} cases", cases.len());
    let (mut worst_power, mut worst_var) = (0.0f64, 0.0f64);
    for (name, json, text) in &cases {
        let case = PowerCase::from_json(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let design = case.design().unwrap();
        let result = case
            .closed_form()
            .and_then(|spec| spec.power(&design))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let power = json["power"].as_f64().unwrap();
        let var = json["var_trt"].as_f64().unwrap();
        let dp = (result.power - power).abs();
        let dv = relative(result.var_trt, var);
        assert!(
            dp <= 1e-6,
            "{name}: power {} vs swPwr {power}",
            result.power
        );
        assert!(dv <= 1e-8, "{name}: var {} vs swPwr {var}", result.var_trt);
        worst_power = worst_power.max(dp);
        worst_var = worst_var.max(dv);
        let derived = &json["derived"];
        let c = result.components;
        for (what, ours) in [
            ("tau", c.tau),
            ("eta", c.eta),
            ("rho", c.rho),
            ("gamma", c.gamma),
            ("zeta", c.zeta),
            ("sigma_sq_used", result.sigma_sq),
        ] {
            let theirs = derived[what].as_f64().unwrap();
            assert!(
                (ours - theirs).abs() <= 1e-12 * theirs.abs().max(1e-300),
                "{name}: {what} {ours} vs swPwr {theirs}"
            );
        }
        assert!((result.effect - (case.mu1 - case.mu0)).abs() < 1e-15);
    }
    println!("largest differences from swPwr: power {worst_power:.2e}, variance {worst_var:.2e} relative");
}

#[test]
fn steppedpower_agrees_on_continuous_outcomes_and_within_a_percent_on_binary() {
    // SteppedPower takes the random effects swPwr derived; it differs only in the binary
    // residual variance (mu_ij (1 - mu_ij) per cell instead of muBar (1 - muBar)) and in
    // scaling eta by a transition cell's share.
    let mut compared = 0;
    for (name, json, text) in cases() {
        let Some(sp_power) = json["power_steppedpower"].as_f64() else {
            continue;
        };
        let sp_var = json["var_trt_steppedpower"].as_f64().unwrap();
        let case = PowerCase::from_json(&text).unwrap();
        let ours = case
            .closed_form()
            .and_then(|s| s.power(&case.design()?))
            .unwrap();
        let fraction_with_eta = case.eta.is_some_and(|e| e > 0.0)
            && case
                .design
                .iter()
                .flatten()
                .flatten()
                .any(|s| *s > 0.0 && *s < 1.0);
        if case.distn == "gaussian" && !fraction_with_eta {
            assert!(relative(ours.var_trt, sp_var) < 1e-9, "{name}");
            assert!((ours.power - sp_power).abs() < 1e-9, "{name}");
        } else {
            let dp = (ours.power - sp_power).abs();
            assert!(
                dp < 0.01,
                "{name}: {} vs SteppedPower {sp_power}",
                ours.power
            );
            println!(
                "{name}: power {:.6} vs SteppedPower {sp_power:.6} ({dp:.4})",
                ours.power
            );
        }
        compared += 1;
    }
    assert!(compared >= 8);
}

/// The design of an R call of `make_power.R`, built with the library's constructors; `None`
/// for a call it does not know.
fn design_of_call(call: &str) -> Option<Design> {
    let call = call.replace(' ', "");
    if let Some(args) = call
        .strip_prefix("swDsn(")
        .and_then(|c| c.strip_suffix(')'))
    {
        return Some(swdsn(args));
    }
    let funen = funen_design().unwrap();
    let design = match call.as_str() {
        "mkDesign(kth17)" => funen,
        "mkDesign(kth17_ramp,tx.effect.frac=c(1/3,2/3))" => {
            funen.with_fractions(&[1.0 / 3.0, 2.0 / 3.0]).unwrap()
        }
        "mkDesign(kth17_implNA)" => {
            // Each group's switch window (months 5-7, 8-10, 11-13, 14-17) is not measured;
            // the group is under the intervention from the month after.
            let windows = [(5, 7), (8, 10), (11, 13), (14, 17)];
            let wave = [0, 0, 0, 1, 1, 1, 1, 1, 2, 3];
            let starts: Vec<Option<usize>> = wave.iter().map(|&w| Some(windows[w].1 + 1)).collect();
            let gaps: Vec<(usize, usize)> = wave
                .iter()
                .enumerate()
                .flat_map(|(i, &w)| (windows[w].0 - 1..windows[w].1).map(move |j| (i, j)))
                .collect();
            Design::from_start_periods(&starts, 17)
                .unwrap()
                .with_unobserved(&gaps)
                .unwrap()
        }
        _ => return None,
    };
    Some(design)
}

/// `swDsn(args)` of swCRTdesign 4.0 (the arguments `make_power.R` uses).
fn swdsn(args: &str) -> Design {
    // Split at top-level commas.
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in args.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&args[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&args[start..]);
    let numbers = |v: &str| -> Vec<f64> {
        if let Some(inner) = v.strip_prefix("c(").and_then(|v| v.strip_suffix(')')) {
            inner.split(',').map(|x| x.parse().unwrap()).collect()
        } else if let Some(inner) = v.strip_prefix("rep(").and_then(|v| v.strip_suffix(')')) {
            let (x, times) = inner.split_once(',').unwrap();
            vec![x.parse().unwrap(); times.parse().unwrap()]
        } else {
            vec![v.parse().unwrap()]
        }
    };
    let waves: Vec<usize> = numbers(parts[0]).iter().map(|&x| x as usize).collect();
    let mut sw = SteppedWedge::new(&waves);
    let (mut baseline, mut extra_control, mut block) = (1, 0, None);
    for part in &parts[1..] {
        let (key, value) = part.split_once('=').unwrap();
        match key {
            "tx.effect.frac" => sw = sw.fractions(&numbers(value)),
            "extra.ctl.time" => extra_control = numbers(value)[0] as usize,
            "extra.trt.time" | "extra.time" => sw = sw.extra_treated(numbers(value)[0] as usize),
            "all.ctl.time0" => baseline = usize::from(value == "TRUE"),
            "swBlk" => block = Some(value.to_string()),
            other => panic!("swDsn argument {other} unknown to the test"),
        }
    }
    let design = sw.baseline(baseline + extra_control).build().unwrap();
    match block.as_deref() {
        None => design,
        // 0 1 1 1 -, 0 0 1 1 1, - 0 0 1 1, - - 0 0 1: two periods before and three from
        // each step.
        Some("blk_incomp_a") => design.observed_window(2, Some(3)),
        // 0 1 1 1 -, - 0 1 1 1, - - 0 1 1, - - - 0 1: one period before and three from
        // each step.
        Some("blk_stair") => design.observed_window(1, Some(3)),
        Some(other) => panic!("block {other} unknown to the test"),
    }
}

#[test]
fn the_constructors_build_every_design_swdsn_wrote() {
    let mut built = 0;
    for (name, json, text) in cases() {
        let call = json["design_call"].as_str().unwrap();
        let Some(ours) = design_of_call(call) else {
            panic!("{name}: no constructor for {call}");
        };
        let case = PowerCase::from_json(&text).unwrap();
        assert_eq!(
            ours.cells(),
            case.design().unwrap().cells(),
            "{name}: {call}"
        );
        let waves: Vec<usize> = json["clusters_per_wave"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(ours.waves(), waves, "{name}");
        built += 1;
    }
    assert!(built >= 8);
}

#[test]
fn the_named_designs_are_the_reference_designs() {
    let by_name = |n: &str| {
        let text = std::fs::read_to_string(folder().join(format!("{n}.json"))).unwrap();
        PowerCase::from_json(&text).unwrap().design().unwrap()
    };
    // Træning for Livet is swDsn(rep(1, 6)); KTH 2.0 on Funen the monthly schedule, and in
    // the five periods between its steps swDsn(c(3, 5, 1, 1)).
    assert_eq!(
        traening_for_livet_design().unwrap().cells(),
        by_name("tfl6_gauss_eta").cells()
    );
    let funen = funen_design().unwrap();
    assert_eq!(funen.cells(), by_name("kth17_binom_mort_nmat").cells());
    let five = funen.merge_periods(&[4, 3, 3, 3, 4]).unwrap();
    assert_eq!(five.cells(), by_name("kth5_binom_readm_nmat").cells());
    assert_eq!(five.periods()[1].label, "5-7");
    assert_eq!(five.clusters()[7], "Ærø");
}

#[test]
fn the_reference_cases_cover_what_the_hidden_ones_exercise() {
    // The visible cases: fractions, NA cells, n matrices, eta, icc, gamma; the script also
    // makes hidden ones (alpha 0.01, cac, rho, zero cells, extra periods), all from the same
    // calls: every call in make_power.R must be buildable here.
    let script = std::fs::read_to_string(folder().join("make_power.R")).unwrap();
    let calls: Vec<&str> = script
        .lines()
        .filter_map(|l| l.trim().strip_prefix("dsn_call = \""))
        .filter_map(|l| l.split('"').next())
        .collect();
    assert!(calls.len() >= 24, "{} calls", calls.len());
    for call in calls {
        assert!(design_of_call(call).is_some(), "{call}");
    }
}
