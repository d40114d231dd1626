//! GEE with UEE and MAEE correlation equations and bias-corrected sandwich variances against
//! geeCRT 1.1.4's `geemaee` (patients) and `cpgeeSWD` (cluster-period means)
//! (tests/reference/gee/make_gee.R, epsilon 1e-8, makevone = FALSE):
//! estimates within 1e-6, standard errors within 1e-5 relative, correlation parameters within
//! 1e-6.

use serde_json::Value;
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::models::gee::{Gee, GeeFit, SeKind, WorkingCorrelation};

fn reference(name: &str) -> (Cohort, Value) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/gee/");
    let cohort =
        Cohort::from_csv_path(format!("{dir}{name}.csv"), &LoadOptions::default()).unwrap();
    let json = std::fs::read_to_string(format!("{dir}{name}.json")).unwrap();
    (cohort, serde_json::from_str(&json).unwrap())
}

fn fit(cohort: &Cohort, r: &Value) -> GeeFit {
    let cluster_periods = r["cluster_period_fit"].is_string();
    let (correlation, period, individual) = match r["corstr"].as_str().unwrap() {
        "exchangeable" if cluster_periods => {
            (WorkingCorrelation::Exchangeable, Some("period"), None)
        }
        "exp_decay" => (WorkingCorrelation::ExponentialDecay, Some("period"), None),
        "nest_exch" => (WorkingCorrelation::NestedExchangeable, Some("period"), None),
        "exchangeable" => (WorkingCorrelation::Exchangeable, None, None),
        "nested_exchangeable" => (WorkingCorrelation::NestedExchangeable, Some("period"), None),
        "block_exchangeable" => (
            WorkingCorrelation::BlockExchangeable,
            Some("period"),
            Some("patient_id"),
        ),
        other => panic!("{other}"),
    };
    let mut spec = Gee::new(r["formula"].as_str().unwrap(), "cluster")
        .unwrap()
        .correlation(correlation)
        .cluster_period_means(cluster_periods)
        .maee(r["method"] == "MAEE");
    if let Some(p) = period {
        spec = spec.period(p);
    }
    if let Some(i) = individual {
        spec = spec.individual(i);
    }
    spec.fit(cohort).unwrap()
}

fn close(what: &str, ours: f64, theirs: f64, abs: f64, rel: f64) -> f64 {
    let diff = (ours - theirs).abs();
    assert!(
        diff <= abs + rel * theirs.abs(),
        "{what}: ours {ours}, geeCRT {theirs} (difference {diff:e})"
    );
    diff / theirs.abs().max(1e-300)
}

fn check(name: &str) {
    let (cohort, r) = reference(name);
    let f = fit(&cohort, &r);
    let mut worst = [0.0f64; 4];
    assert!(f.converged, "{name}");
    assert_eq!(f.df, r["df"].as_f64().unwrap());
    for (j, row) in f.coefficients.iter().enumerate() {
        let beta = r["beta"][&row.term].as_f64().unwrap();
        close(
            &format!("{name} beta {}", row.term),
            row.estimate,
            beta,
            1e-6,
            0.0,
        );
        worst[0] = worst[0].max((row.estimate - beta).abs());
        for (kind, label) in [
            (SeKind::Model, "MB"),
            (SeKind::Robust, "BC0"),
            (SeKind::Kc, "KC"),
            (SeKind::Md, "MD"),
            (SeKind::Fg, "FG"),
        ] {
            let theirs = r["se"][label][&row.term].as_f64().unwrap();
            let what = format!("{name} {label} se of {}", row.term);
            worst[1] = worst[1].max(close(&what, f.std_errors(kind)[j], theirs, 0.0, 1e-5));
        }
    }
    for (l, a) in f.correlation_parameters.iter().enumerate() {
        let key = if r["alpha"].get("alpha").is_some() {
            "alpha"
        } else {
            &a.name
        };
        let theirs = r["alpha"][key].as_f64().unwrap();
        close(&format!("{name} {}", a.name), a.estimate, theirs, 1e-6, 0.0);
        worst[2] = worst[2].max((a.estimate - theirs).abs());
        for (kind, label) in [
            (SeKind::Robust, "BC0"),
            (SeKind::Kc, "KC"),
            (SeKind::Md, "MD"),
            (SeKind::Fg, "FG"),
        ] {
            let theirs = r["alpha_se"][label][key].as_f64().unwrap();
            let ours = f.alpha_std_errors(kind).unwrap()[l];
            worst[3] = worst[3].max(close(
                &format!("{name} {label} se of {}", a.name),
                ours,
                theirs,
                0.0,
                1e-5,
            ));
        }
    }
    eprintln!("{name}: largest differences from geeCRT: beta {:.1e}, se {:.1e} relative, alpha {:.1e}, alpha se {:.1e} relative", worst[0], worst[1], worst[2], worst[3]);
    // The reported table is KC's with t on G - p df.
    let j = f
        .coefficients
        .iter()
        .position(|c| c.term == "treated")
        .unwrap();
    assert_eq!(f.coefficients[j].df, Some(f.df));
    assert_eq!(f.coefficients[j].std_error, f.std_errors(SeKind::Kc)[j]);
}

#[test]
fn exchangeable_uee_matches_geecrt() {
    check("gee_exch_logit_uee");
}

#[test]
fn nested_exchangeable_maee_matches_geecrt() {
    check("gee_nex_logit_maee");
}

#[test]
fn block_exchangeable_maee_in_a_closed_cohort_matches_geecrt() {
    check("gee_bex_logit_maee_cohort");
}

#[test]
fn cluster_period_means_exchangeable_maee_matches_geecrt() {
    check("cp_exch_logit_maee");
}

#[test]
fn cluster_period_means_exponential_decay_maee_matches_geecrt() {
    check("cp_ed_logit_maee");
}
