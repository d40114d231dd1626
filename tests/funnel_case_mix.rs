//! The case-mix-adjusted funnel against `tests/reference/monitor/funnel_case_mix.R` (R's
//! `glm(death30 ~ age + sex + residence, binomial)` on `data-samples/stepped_wedge_sim.csv`,
//! pooled over units, and the funnel computed by hand): each unit's patients, events and flags
//! exactly; the model's coefficients and SEs, the expected events, ratios, intervals,
//! z-scores, phi and tau2 within 1e-8 relative (they carry the error of the two fits; measured:
//! E and O/E 3e-14, everything 8e-12); every limit at R's E within 1e-9 (measured 4e-14). Three cases: the clusters, the clusters with values blanked (patients excluded and
//! counted), and the periods as units (overdispersed). Then what the funnel refuses.

use std::path::{Path, PathBuf};

use serde_json::Value;
use stepwedge::core::error::Error;
use stepwedge::data::{Cohort, Column, LoadOptions};
use stepwedge::report::monitor::funnel::{Flag, Funnel, FunnelLimits, Measure};

#[path = "common/json.rs"]
mod json;
use json::numbers;

const COVARIATES: &str = "age + sex + residence";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn reference() -> Value {
    let path = root().join("tests/reference/monitor/funnel_case_mix.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn csv() -> String {
    std::fs::read_to_string(root().join("data-samples/stepped_wedge_sim.csv")).unwrap()
}

/// The sample cohort with the cells blanked as the R script's case `missing` blanks them: age
/// where id % 50 == 0, death30 where id % 71 == 0, cluster where id % 113 == 0.
fn with_missing() -> Cohort {
    let text = csv();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let column = |name: &str| header.split(',').position(|c| c == name).unwrap();
    let (id, age, death, cluster) = (
        column("id"),
        column("age"),
        column("death30"),
        column("cluster"),
    );
    let mut out = vec![header.to_string()];
    for line in lines {
        let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
        let i: u64 = cells[id].parse().unwrap();
        for (k, modulus) in [(age, 50), (death, 71), (cluster, 113)] {
            if i.is_multiple_of(modulus) {
                cells[k].clear();
            }
        }
        out.push(cells.join(","));
    }
    Cohort::from_csv_str(&out.join("\n"), &LoadOptions::default()).unwrap()
}

fn cohort(case: &str) -> Cohort {
    match case {
        "missing" => with_missing(),
        _ => Cohort::from_csv_str(&csv(), &LoadOptions::default()).unwrap(),
    }
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

/// The largest difference of each kind, and where.
#[derive(Default)]
struct Worst {
    fit: (f64, String),
    limits: (f64, String),
}

impl Worst {
    /// A number that carries the fit's error: within 1e-8 relative (absolute near 0).
    fn fitted(&mut self, what: String, ours: f64, theirs: f64) {
        let d = if theirs.abs() < 1e-3 {
            (ours - theirs).abs()
        } else {
            relative(ours, theirs)
        };
        assert!(d <= 1e-8, "{what}: {ours} vs R {theirs} ({d:.2e})");
        if d > self.fit.0 {
            self.fit = (d, what);
        }
    }

    /// A limit at R's E: within 1e-9.
    fn limit(&mut self, what: String, ours: f64, theirs: f64) {
        let d = (ours - theirs).abs();
        assert!(d <= 1e-9, "{what}: {ours} vs R {theirs} ({d:.2e})");
        if d > self.limits.0 {
            self.limits = (d, what);
        }
    }
}

fn limit_of(at: &FunnelLimits, kind: &str, which: &str) -> (f64, Option<u64>) {
    let (pair, r) = match kind {
        "exact" => (&at.exact, Some(&at.exact_r)),
        "normal" => (&at.normal, None),
        "phi" => (&at.phi, None),
        _ => (&at.re, None),
    };
    let pick = |l: &stepwedge::report::monitor::funnel::Limits<u64>| match which {
        "l95" => l.lower95,
        "u95" => l.upper95,
        "l998" => l.lower998,
        _ => l.upper998,
    };
    let value = match which {
        "l95" => pair.lower95,
        "u95" => pair.upper95,
        "l998" => pair.lower998,
        _ => pair.upper998,
    };
    (value, r.map(pick))
}

/// Every limit of R's table (`limits_at_unit_E` or `limits_grid`) at R's E.
fn check_limits(name: &str, funnel: &Funnel, table: &Value, worst: &mut Worst) {
    for (k, e) in numbers(&table["E"]).into_iter().enumerate() {
        let at = funnel.limits_at(e).unwrap();
        for which in ["l95", "u95", "l998", "u998"] {
            for kind in ["exact", "normal", "phi", "re"] {
                let (ours, r) = limit_of(&at, kind, which);
                let theirs = table[format!("{kind}_{which}")][k].as_f64().unwrap();
                worst.limit(format!("{name}: {kind}_{which} at E = {e}"), ours, theirs);
                if let Some(r) = r {
                    let theirs = table[format!("exact_r_{which}")][k].as_u64().unwrap();
                    assert_eq!(r, theirs, "{name}: exact_r_{which} at E = {e}");
                }
            }
        }
    }
}

fn flag(f: Flag) -> Value {
    serde_json::to_value(f).unwrap()
}

#[test]
fn case_mix_funnels_agree_with_r_glm() {
    let json = reference();
    let mut worst = Worst::default();
    for case in json["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let unit_column = case["unit"].as_str().unwrap();
        let funnel = Funnel::case_mix(&cohort(name), unit_column, "death30", COVARIATES)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(funnel.measure, Measure::Ratio);
        assert_eq!(funnel.target, 1.0);

        // The model and the patients it used.
        let model = funnel.case_mix.as_ref().unwrap();
        assert_eq!(model.patients as u64, case["rows_used"].as_u64().unwrap());
        assert_eq!(model.excluded as u64, case["excluded"].as_u64().unwrap());
        let missing = case["missing_by_variable"].as_object().unwrap();
        assert_eq!(model.missing.by_variable.len(), missing.len(), "{name}");
        for (variable, count) in &model.missing.by_variable {
            assert_eq!(
                Some(*count as u64),
                missing[variable].as_u64(),
                "{name}: {variable}"
            );
        }
        let coefficients = &case["coefficients"];
        for (k, term) in coefficients["terms"].as_array().unwrap().iter().enumerate() {
            let row = &model.coefficients[k];
            assert_eq!(row.term, term.as_str().unwrap());
            let est = coefficients["estimate"][k].as_f64().unwrap();
            let se = coefficients["se"][k].as_f64().unwrap();
            worst.fitted(format!("{name}: {} estimate", row.term), row.estimate, est);
            worst.fitted(format!("{name}: {} se", row.term), row.std_error, se);
        }

        let units = &case["units"];
        let labels: Vec<&str> = units["unit"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap())
            .collect();
        let ours: Vec<&str> = funnel.units.iter().map(|u| u.unit.as_str()).collect();
        assert_eq!(ours, labels, "{name}: units");
        let e = numbers(&units["E"]);
        for (k, u) in funnel.units.iter().enumerate() {
            let at = |field: &str| units[field][k].as_f64().unwrap();
            assert_eq!((u.n, u.observed), (at("n"), at("O")), "{name}: {}", u.unit);
            let ci = u.ci95.expect("a ratio's interval");
            for (field, value) in [
                ("E", u.expected),
                ("ratio", u.ratio),
                ("risk_adjusted", u.risk_adjusted),
                ("garwood_lower", ci.lower),
                ("garwood_upper", ci.upper),
                ("byar_lower", ci.byar_lower),
                ("byar_upper", ci.byar_upper),
                ("z", u.z),
                ("z_winsorised", u.z_winsorised),
                ("z_phi", u.z_phi),
                ("z_re", u.z_re),
            ] {
                worst.fitted(format!("{name}: {} {field}", u.unit), value, at(field));
            }
            let table = &case["limits_at_unit_E"];
            for (which, value) in [
                ("l95", u.limits.lower95),
                ("u95", u.limits.upper95),
                ("l998", u.limits.lower998),
                ("u998", u.limits.upper998),
            ] {
                let theirs = table[format!("exact_{which}")][k].as_f64().unwrap();
                worst.fitted(format!("{name}: {} exact_{which}", u.unit), value, theirs);
            }
            for (field, ours) in [
                ("flag_exact95", u.outside95),
                ("flag_exact998", u.outside),
                ("flag_phi95", u.outside_phi95),
                ("flag_phi998", u.outside_phi),
                ("flag_re95", u.outside_re95),
                ("flag_re998", u.outside_re),
            ] {
                assert_eq!(flag(ours), units[field][k], "{name}: {} {field}", u.unit);
            }
            assert_eq!((u.volume, u.value), (u.expected, u.ratio));
        }
        assert_eq!(e.len(), funnel.units.len());

        let od = &case["overdispersion"];
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
            worst.fitted(
                format!("{name}: {field}"),
                ours,
                od[field].as_f64().unwrap(),
            );
        }
        worst.fitted(
            format!("{name}: overall proportion"),
            funnel.overall_proportion,
            case["overall_proportion"].as_f64().unwrap(),
        );
        check_limits(name, &funnel, &case["limits_at_unit_E"], &mut worst);
        check_limits(name, &funnel, &case["limits_grid"], &mut worst);
    }
    println!(
        "largest differences from R: fitted quantities {:.2e} relative ({}), limits at R's E {:.2e} ({})",
        worst.fit.0, worst.fit.1, worst.limits.0, worst.limits.1
    );
}

#[test]
fn the_periods_are_overdispersed() {
    let funnel = Funnel::case_mix(&cohort("complete"), "period", "death30", COVARIATES).unwrap();
    let o = &funnel.overdispersion;
    assert!(o.phi > 1.0 && o.phi_used == o.phi && o.tau2 > 0.0 && o.p_value < 0.05);
    // The overdispersion-adjusted limits are wider than the normal ones.
    let at = funnel.limits_at(30.0).unwrap();
    assert!(at.phi.upper998 > at.normal.upper998 && at.re.upper998 > at.normal.upper998);
    assert!(at.phi.lower998 < at.normal.lower998 && at.re.lower998 < at.normal.lower998);
    // Period 2 is above even the overdispersion-adjusted 95% limits.
    let two = funnel.units.iter().find(|u| u.unit == "2").unwrap();
    assert_eq!((two.outside, two.outside_phi95), (Flag::Above, Flag::Above));
}

#[test]
fn a_logistic_model_expects_as_many_events_as_were_observed() {
    // The score equation of the intercept: sum of fitted risks = sum of events.
    let funnel = Funnel::case_mix(&with_missing(), "cluster", "death30", COVARIATES).unwrap();
    let observed: f64 = funnel.units.iter().map(|u| u.observed).sum();
    let expected: f64 = funnel.units.iter().map(|u| u.expected).sum();
    assert!(
        (observed - expected).abs() < 1e-8 * observed,
        "{observed} vs {expected}"
    );
    let patients: f64 = funnel.units.iter().map(|u| u.n).sum();
    assert_eq!(
        patients as usize,
        funnel.case_mix.as_ref().unwrap().patients
    );
    // No covariates: every patient's risk is the overall proportion, E = n p.
    let crude = Funnel::case_mix(&cohort("complete"), "cluster", "death30", " ").unwrap();
    for u in &crude.units {
        assert!((u.expected - u.n * crude.overall_proportion).abs() < 1e-9 * u.expected);
        assert!((u.risk_adjusted - u.proportion).abs() < 1e-12);
    }
}

#[test]
fn the_json_has_the_contract_fields() {
    let funnel = Funnel::case_mix(&cohort("complete"), "cluster", "death30", COVARIATES).unwrap();
    let json = serde_json::to_value(&funnel).unwrap();
    for field in [
        "units",
        "phi",
        "tau2",
        "y",
        "target",
        "overall_proportion",
        "phi_used",
        "p_value",
    ] {
        assert!(json.get(field).is_some(), "no '{field}'");
    }
    assert_eq!(json["y"], "ratio");
    let unit = &json["units"][0];
    for field in [
        "unit",
        "n",
        "observed",
        "expected",
        "ratio",
        "lower95",
        "upper95",
        "lower998",
        "upper998",
        "outside",
        "outside95",
        "proportion",
        "z",
    ] {
        assert!(unit.get(field).is_some(), "no unit '{field}'");
    }
    assert_eq!(unit["unit"], "C01");
    assert!(["above", "below", "within"].contains(&unit["outside"].as_str().unwrap()));
    assert_eq!(json["case_mix"]["excluded"], 0);
}

#[test]
fn what_the_case_mix_funnel_refuses() {
    let c = cohort("complete");
    // The unit among the covariates.
    let e = Funnel::case_mix(&c, "cluster", "death30", "age + cluster").unwrap_err();
    assert!(
        matches!(e, Error::InvalidArgument { .. }) && e.to_string().contains("cluster"),
        "{e}"
    );
    // Unknown columns, with a suggestion.
    let e = Funnel::case_mix(&c, "clustr", "death30", "age").unwrap_err();
    assert!(e.to_string().contains("cluster"), "{e}");
    let e = Funnel::case_mix(&c, "cluster", "death30", "agee").unwrap_err();
    assert!(matches!(e, Error::UnknownColumn { .. }), "{e}");
    // An indicator that is not 0/1.
    let e = Funnel::case_mix(&c, "cluster", "age", "sex").unwrap_err();
    assert!(matches!(e, Error::InvalidResponse { .. }), "{e}");
    // A random effect.
    let e = Funnel::case_mix(&c, "cluster", "death30", "age + (1 | period)").unwrap_err();
    assert!(matches!(e, Error::NeedsMixedModel { .. }), "{e}");
}

/// A small cohort of units, 0/1 outcomes and one covariate, with `missing` cells of x.
fn small(unit: &[&str], y: &[f64], x: &[f64]) -> Cohort {
    Cohort::from_columns(vec![
        (
            "team".to_string(),
            Column::from_labels(unit.iter().map(|u| Some(*u))).unwrap(),
        ),
        ("y".to_string(), Column::Numeric(y.to_vec())),
        ("x".to_string(), Column::Numeric(x.to_vec())),
    ])
    .unwrap()
}

#[test]
fn a_unit_whose_patients_were_all_excluded_is_named() {
    let unit = ["A", "A", "A", "B", "B", "B", "C", "C"];
    let y = [0., 1., 0., 1., 0., 0., 1., 0.];
    let x = [1., 2., 3., 2., 1., 3., f64::NAN, f64::NAN];
    let e = Funnel::case_mix(&small(&unit, &y, &x), "team", "y", "x").unwrap_err();
    match &e {
        Error::TooFewData { what, got: 0, .. } => {
            assert!(what.contains("'C'") && what.contains("2 patient(s)"), "{e}")
        }
        other => panic!("expected too few data, got {other}"),
    }
}

#[test]
fn separation_is_reported() {
    // x > 2 always has the event: the coefficient of x diverges.
    let unit = ["A", "A", "A", "A", "B", "B", "B", "B"];
    let y = [0., 0., 1., 1., 0., 0., 1., 1.];
    let x = [1., 2., 3., 4., 1.5, 2., 3.5, 5.];
    let e = Funnel::case_mix(&small(&unit, &y, &x), "team", "y", "x").unwrap_err();
    assert!(matches!(e, Error::Separation { .. }), "{e}");
}
