//! The Kenward-Roger adjustment of linear mixed models against pbkrtest 0.5.2
//! (`tests/reference/kenward_roger/make_kenward_roger.R`, `kenward_roger.json`): lme4's
//! sleepstudy with correlated random intercepts and slopes, and a stepped wedge of 7 clusters
//! with a cluster intercept, with cluster and cluster-period intercepts, and the same on an
//! outcome whose cluster-period variance is estimated as 0. Per case: the unadjusted SEs, the
//! adjusted covariance `Phi_A` entry by entry, each coefficient's KR df (`get_Lb_ddf`) and
//! lmerTest's KR t tests, and `KRmodcomp`'s F test of a multi-row L.

use serde_json::Value;
use stepwedge::core::error::Error;
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::models::fitted::Fitted;
use stepwedge::models::lmm::{DfMethod, Lmm};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/kenward_roger");

/// Relative agreement required of every quantity but the p-values.
const TOLERANCE: f64 = 1e-6;

/// Relative agreement of p-values: a p-value's relative error is the statistic's times about
/// `t^2` (the t's of sleepstudy are 37 and 10), so 1e-6 in t allows some 1e-5 in a small p.
const P_TOLERANCE: f64 = 1e-5;

fn reference() -> Value {
    let text = std::fs::read_to_string(format!("{DIR}/kenward_roger.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn data(file: &str) -> Cohort {
    Cohort::from_csv_path(format!("{DIR}/{file}"), &LoadOptions::default()).unwrap()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(f).collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

fn case(name: &str) -> Value {
    reference()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
        .clone()
}

fn file_of(name: &str) -> &'static str {
    if name == "sleepstudy" {
        "sleepstudy.csv"
    } else {
        "sw_costs.csv"
    }
}

/// The largest differences of one case, printed and checked against `TOLERANCE`.
fn compare(name: &str) {
    let c = case(name);
    let cohort = data(file_of(name));
    let formula = c["formula"].as_str().unwrap();
    let satterthwaite = Lmm::new(formula).unwrap().fit(&cohort).unwrap();
    let kr = Lmm::new(formula)
        .unwrap()
        .df(DfMethod::KenwardRoger)
        .fit(&cohort)
        .unwrap();
    assert_eq!(kr.df_method, DfMethod::KenwardRoger);
    let terms: Vec<&str> = kr.coefficients.iter().map(|r| r.term.as_str()).collect();
    let want: Vec<&str> = c["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(terms, want, "{name}: terms");
    assert_eq!(kr.singular, c["singular"].as_bool().unwrap(), "{name}");

    let se = numbers(&c["se"]);
    let se_kr = numbers(&c["se_kr"]);
    let ddf = numbers(&c["ddf_kr"]);
    let lmertest_df = numbers(&c["lmertest"]["df"]);
    let lmertest_t = numbers(&c["lmertest"]["t"]);
    let lmertest_p = numbers(&c["lmertest"]["p"]);
    let beta = numbers(&c["beta"]);
    let mut worst = [0.0_f64; 7];
    for (k, (s, a)) in satterthwaite
        .coefficients
        .iter()
        .zip(&kr.coefficients)
        .enumerate()
    {
        worst[0] = worst[0].max((a.estimate - beta[k]).abs() / se[k]);
        worst[1] = worst[1].max(rel(s.std_error, se[k]));
        worst[2] = worst[2].max(rel(a.std_error, se_kr[k]));
        let df = a.df.unwrap();
        worst[3] = worst[3].max(rel(df, ddf[k]).max(rel(df, lmertest_df[k])));
        worst[4] = worst[4].max(rel(a.statistic, lmertest_t[k]));
        worst[5] = worst[5].max(rel(a.p_value, lmertest_p[k]));
    }
    let vcov_kr: Vec<Vec<f64>> = c["vcov_kr"]
        .as_array()
        .unwrap()
        .iter()
        .map(numbers)
        .collect();
    for (i, row) in kr.vcov.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            let scale = (vcov_kr[i][i] * vcov_kr[j][j]).sqrt();
            worst[6] = worst[6].max((v - vcov_kr[i][j]).abs() / scale);
        }
    }
    println!(
        "{name}: beta/se {:.1e}, SE {:.1e}, KR SE {:.1e}, KR df {:.1e}, t {:.1e}, p {:.1e}, Phi_A {:.1e}",
        worst[0], worst[1], worst[2], worst[3], worst[4], worst[5], worst[6]
    );
    for (what, w) in [
        "coefficients",
        "unadjusted SE",
        "KR SE",
        "KR df",
        "KR t",
        "KR p",
        "Phi_A",
    ]
    .iter()
    .zip(worst)
    {
        let tolerance = if *what == "KR p" {
            P_TOLERANCE
        } else {
            TOLERANCE
        };
        assert!(w < tolerance, "{name}: {what} differs by {w:e}");
    }

    // KRmodcomp of L, on the KR fit and on the Satterthwaite fit alike.
    let t = &c["ftest"];
    let l: Vec<Vec<f64>> = t["L"].as_array().unwrap().iter().map(numbers).collect();
    for fit in [&kr, &satterthwaite] {
        let test = fit.kenward_roger_test(&l).unwrap();
        assert_eq!(test.ndf, t["ndf"].as_u64().unwrap() as usize, "{name}");
        let d = [
            rel(test.statistic, f(&t["F"])),
            rel(test.ddf, f(&t["ddf"])),
            rel(test.scale, f(&t["F_scaling"])),
            rel(test.p_value, f(&t["p"])),
            rel(test.statistic_unscaled, f(&t["F_unscaled"])),
            rel(test.p_value_unscaled, f(&t["p_unscaled"])),
        ];
        println!(
            "{name} F test: F {:.1e}, ddf {:.1e}, scale {:.1e}, p {:.1e}, unscaled F {:.1e}, p {:.1e}",
            d[0], d[1], d[2], d[3], d[4], d[5]
        );
        let p_values = [3, 5];
        assert!(
            d.iter().enumerate().all(|(k, x)| *x
                < if p_values.contains(&k) {
                    P_TOLERANCE
                } else {
                    TOLERANCE
                }),
            "{name}: F test {d:?} ({test:?})"
        );
    }

    // The contrast df of the Fitted surface follow the fit's method: a single row of the F test
    // gives the KR df of that row.
    let row = &l[l.len() - 1];
    let single = kr.kenward_roger_test(std::slice::from_ref(row)).unwrap();
    let contrast_df = kr.contrast_df(row).unwrap().unwrap();
    assert!(rel(contrast_df, single.ddf) < 1e-12, "{name}");
    let s_df = satterthwaite.contrast_df(row).unwrap().unwrap();
    assert!(
        rel(s_df, contrast_df) > 1e-8 || name == "sleepstudy",
        "{name}: the Satterthwaite fit's contrast df are its own"
    );
}

#[test]
fn sleepstudy_correlated_intercept_and_slope() {
    compare("sleepstudy");
}

#[test]
fn stepped_wedge_cluster_intercept() {
    compare("sw_cluster");
}

#[test]
fn stepped_wedge_cluster_and_cluster_period() {
    compare("sw_cluster_period");
}

/// pbkrtest keeps a variance estimated as 0 among its parameters; so does the crate, and the
/// df then differ far from those that leave it out (the Satterthwaite df hold it at 0).
#[test]
fn stepped_wedge_cluster_period_variance_at_zero() {
    compare("sw_cluster_period_singular");
}

#[test]
fn refuses_what_it_cannot_compute() {
    let cohort = data("sw_costs.csv");
    let formula = "cost ~ treated + factor(period) + (1 | cluster)";
    let ml = Lmm::new(formula)
        .unwrap()
        .reml(false)
        .df(DfMethod::KenwardRoger)
        .fit(&cohort);
    assert!(matches!(ml, Err(Error::InvalidArgument { .. })), "{ml:?}");
    let ml = Lmm::new(formula).unwrap().reml(false).fit(&cohort).unwrap();
    let p = ml.coefficients.len();
    let mut unit = vec![0.0; p];
    unit[1] = 1.0;
    assert!(matches!(
        ml.kenward_roger_test(&[unit.clone()]),
        Err(Error::InvalidArgument { .. })
    ));
    let fit = Lmm::new(formula)
        .unwrap()
        .df(DfMethod::KenwardRoger)
        .fit(&cohort)
        .unwrap();
    assert!(matches!(
        fit.kenward_roger_test(&[]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        fit.kenward_roger_test(&[vec![1.0, 2.0]]),
        Err(Error::InvalidArgument { .. })
    ));
    let mut nan = unit.clone();
    nan[0] = f64::NAN;
    assert!(matches!(
        fit.kenward_roger_test(&[nan]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        fit.contrast_df(&[1.0]),
        Err(Error::InvalidArgument { .. })
    ));
    // Two equal rows: L Phi L' is singular.
    assert!(matches!(
        fit.kenward_roger_test(&[unit.clone(), unit]),
        Err(Error::Numerical { .. })
    ));
}

#[test]
fn summary_names_the_method() {
    let cohort = data("sw_costs.csv");
    let formula = "cost ~ treated + factor(period) + (1 | cluster)";
    let kr = Lmm::new(formula)
        .unwrap()
        .df(DfMethod::KenwardRoger)
        .fit(&cohort)
        .unwrap();
    assert!(kr.to_string().contains("Kenward and Roger"));
    let s = Lmm::new(formula).unwrap().fit(&cohort).unwrap();
    assert!(s.to_string().contains("Satterthwaite"));
}

/// Clusters of thousands of patients (6 clusters of 4,200): the adjustment is built from q x q
/// and q x p sums per cluster, never an n_g x n_g matrix (a dense one would hold 17.6 million
/// entries per cluster). The adjusted variances exceed the unadjusted ones, and with so much
/// information within clusters the patient-level coefficients' df are large while the
/// intercept's, informed between clusters, stay near G - 1.
#[test]
fn thousands_of_patients_per_cluster() {
    let mut csv = String::from("cluster,period,treated,cost\n");
    // A fixed pseudo-random sequence (a linear congruential generator), no seed needed.
    let mut state: u64 = 20261207;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for g in 0..6 {
        let effect = 800.0 * (uniform() - 0.5);
        for t in 1..=6 {
            let treated = usize::from(t > g);
            for _ in 0..700 {
                let noise: f64 = (0..12).map(|_| uniform()).sum::<f64>() - 6.0;
                let cost = 12000.0 - 600.0 * treated as f64 + effect + 2500.0 * noise;
                csv.push_str(&format!("K{g},{t},{treated},{cost:.2}\n"));
            }
        }
    }
    let cohort = Cohort::from_csv_str(&csv, &LoadOptions::default()).unwrap();
    let formula = "cost ~ treated + factor(period) + (1 | cluster)";
    let plain = Lmm::new(formula).unwrap().fit(&cohort).unwrap();
    let kr = Lmm::new(formula)
        .unwrap()
        .df(DfMethod::KenwardRoger)
        .fit(&cohort)
        .unwrap();
    assert_eq!(kr.n_obs, 25_200);
    for (a, s) in kr.coefficients.iter().zip(&plain.coefficients) {
        assert!(a.std_error >= s.std_error, "{a:?} {s:?}");
        assert!(a.std_error < 1.1 * s.std_error, "{a:?} {s:?}");
        assert!(a.df.unwrap().is_finite(), "{a:?}");
    }
    let intercept = kr.coefficients[0].df.unwrap();
    assert!(intercept > 3.0 && intercept < 10.0, "{intercept}");
    assert!(kr.coefficients[1].df.unwrap() > 1000.0);
}

/// A refit under the observed assignment gives the fit's own (adjusted) standard errors, so
/// that a randomisation test's Wald statistic is the same statistic for every allocation.
#[test]
fn refits_under_an_assignment_keep_the_adjustment() {
    use stepwedge::data::Column;
    use stepwedge::models::fitted::Assignment;
    let cohort = data("sw_costs.csv");
    let fit = Lmm::new("cost ~ treated + factor(period) + (1 | cluster)")
        .unwrap()
        .df(DfMethod::KenwardRoger)
        .fit(&cohort)
        .unwrap();
    let rows = fit.frame().rows();
    let units: Vec<u32> = (0..rows.len() as u32).collect();
    let Column::Numeric(treated) = cohort.column("treated").unwrap() else {
        panic!("treated is not numeric")
    };
    let values: Vec<f64> = rows.iter().map(|&i| treated[i]).collect();
    let on = fit.assignable(&cohort, 1, &units).unwrap();
    let assignment = Assignment {
        values: &values,
        shift: 0.0,
        std_errors: true,
    };
    let refit = fit.refit_assigned(&on, &assignment, &mut ()).unwrap();
    let se = refit.std_errors.unwrap();
    let r = case("sw_cluster");
    for (j, row) in fit.coefficients.iter().enumerate() {
        assert!(rel(se[j], row.std_error) < 1e-7, "{}", row.term);
    }
    // The treatment's adjusted SE is 1.1% above the unadjusted one.
    assert!(rel(se[1], f(&r["se"][1])) > 1e-3);
}
