//! The distribution functions behind every p-value and interval, pinned against R's `qnorm`,
//! `qt`, `pt`, `pnorm` and `pchisq` (values written by `tests/reference/quantiles.R`).
//! `qchisq` is checked through `pchisq`: the upper tail at R's 95% quantile must be 0.05.

use serde_json::Value;
use stepwedge::core::dist::{chisq_upper, normal_cdf, normal_quantile, t_cdf, t_quantile};

fn reference() -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/quantiles.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("quantiles.json")).expect("JSON")
}

fn rows<'a>(r: &'a Value, key: &str) -> &'a Vec<Value> {
    r[key].as_array().unwrap_or_else(|| panic!("{key}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

fn check(what: &str, got: f64, want: f64, tol: f64) {
    let scale = want.abs().max(1e-300);
    assert!(
        (got - want).abs() <= tol * scale.max(1e-12),
        "{what}: {got:.17e} vs R {want:.17e}"
    );
}

#[test]
fn distribution_functions_match_r() {
    let r = reference();
    for q in rows(&r, "qnorm") {
        let want = f(&q["value"]);
        let got = normal_quantile(f(&q["p"]));
        assert!(
            (got - want).abs() <= 1e-13 * want.abs().max(1.0),
            "qnorm({}): {got} vs {want}",
            q["p"]
        );
    }
    for q in rows(&r, "qt") {
        check(
            &format!("qt({}, {})", q["p"], q["df"]),
            t_quantile(f(&q["p"]), f(&q["df"])),
            f(&q["value"]),
            1e-10,
        );
    }
    for q in rows(&r, "pt") {
        check(
            &format!("pt({}, {})", q["x"], q["df"]),
            t_cdf(f(&q["x"]), f(&q["df"])),
            f(&q["value"]),
            1e-10,
        );
    }
    for q in rows(&r, "pnorm") {
        check(
            &format!("pnorm({})", q["x"]),
            normal_cdf(f(&q["x"])),
            f(&q["value"]),
            1e-13,
        );
    }
    for q in rows(&r, "pchisq_upper") {
        check(
            &format!("pchisq({}, {})", q["x"], q["df"]),
            chisq_upper(f(&q["x"]), f(&q["df"])),
            f(&q["value"]),
            1e-10,
        );
    }
    for q in rows(&r, "qchisq") {
        let upper = chisq_upper(f(&q["value"]), f(&q["df"]));
        check(
            &format!("qchisq({}, {})", q["p"], q["df"]),
            upper,
            1.0 - f(&q["p"]),
            1e-10,
        );
    }
}
