//! The closed-form power where swPwr's reference cases do not reach: against an independent
//! dense GLS (the whole `V` of every cluster at once, inverted by LU), the Hussey & Hughes
//! closed formula, identities between parameterisations (closed cohort, decay, exposure
//! times), the solvers, and every invalid input as a named error.

use nalgebra::DMatrix;
use stepwedge::core::dist::{normal_cdf, normal_quantile};
use stepwedge::core::error::Error;
use stepwedge::design::{
    two_sided_power, ClosedForm, Design, PowerCase, RandomEffects, Sizes, SteppedWedge,
    TreatmentModel,
};

fn message(e: Error) -> String {
    match e {
        Error::InvalidArgument { argument, message } => format!("{argument}: {message}"),
        other => other.to_string(),
    }
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// The GLS variance of the treatment effect written out densely: all clusters' cells in one
/// `V` (block diagonal), `X` with an intercept and period contrasts, `(X' V^-1 X)^-1` by LU.
#[allow(clippy::too_many_arguments)]
fn dense_variance(
    design: &Design,
    n: &[Vec<f64>],
    sigma_sq: f64,
    re: RandomEffects,
    decay: f64,
) -> f64 {
    let periods = design.n_periods();
    let cells: Vec<(usize, usize, f64)> = (0..design.n_clusters())
        .flat_map(|i| (0..periods).map(move |j| (i, j)))
        .filter_map(|(i, j)| {
            let share = design.cells()[i][j]?;
            (n[i][j] > 0.0).then_some((i, j, share))
        })
        .collect();
    let m = cells.len();
    let x = DMatrix::from_fn(m, periods + 1, |r, c| {
        let (_, j, share) = cells[r];
        match c {
            0 => 1.0,
            c if c < periods => f64::from(u8::from(j == c)),
            _ => share,
        }
    });
    let v = DMatrix::from_fn(m, m, |a, b| {
        let (ia, ja, sa) = cells[a];
        let (ib, jb, sb) = cells[b];
        if ia != ib {
            return 0.0;
        }
        let (xa, xb) = (f64::from(u8::from(sa > 0.0)), f64::from(u8::from(sb > 0.0)));
        let mut v = re.tau * re.tau * decay.powi(ja.abs_diff(jb) as i32)
            + re.zeta * re.zeta / (n[ia][ja] * n[ib][jb]).sqrt()
            + re.eta * re.eta * xa * xb
            + re.rho * re.eta * re.tau * (xa + xb);
        if a == b {
            v += sigma_sq / n[ia][ja] + re.gamma * re.gamma;
        }
        v
    });
    let v_inv = v.lu().try_inverse().unwrap();
    let info = x.transpose() * v_inv * &x;
    info.lu().try_inverse().unwrap()[(periods, periods)]
}

/// A design with everything: unequal waves, a transition fraction, unobserved cells.
fn busy_design() -> Design {
    SteppedWedge::new(&[2, 1, 3])
        .extra_treated(1)
        .fractions(&[0.5])
        .build()
        .unwrap()
        .with_unobserved(&[(0, 4), (5, 0)])
        .unwrap()
}

fn busy_sizes(design: &Design) -> Vec<Vec<f64>> {
    (0..design.n_clusters())
        .map(|i| {
            (0..design.n_periods())
                .map(|j| {
                    if (i, j) == (3, 2) {
                        0.0
                    } else {
                        10.0 + ((3 * i + 7 * j) % 11) as f64
                    }
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_structured_gls_equals_the_dense_one() {
    let design = busy_design();
    let n = busy_sizes(&design);
    for (re, decay) in [
        (
            RandomEffects {
                tau: 0.3,
                eta: 0.2,
                rho: -0.4,
                gamma: 0.1,
                zeta: 0.0,
            },
            None,
        ),
        (
            RandomEffects {
                tau: 0.3,
                eta: 0.1,
                rho: 0.0,
                gamma: 0.15,
                zeta: 0.0,
            },
            Some(0.7),
        ),
    ] {
        let spec = ClosedForm::gaussian(0.0, 0.4, 1.3, Sizes::Matrix(n.clone()))
            .random_effects(re)
            .alpha(0.1);
        let spec = match decay {
            Some(r) => spec.decay(r),
            None => spec,
        };
        let ours = spec.power(&design).unwrap();
        let dense = dense_variance(&design, &n, 1.69, re, decay.unwrap_or(1.0));
        assert!(
            relative(ours.var_trt, dense) < 1e-12,
            "{} vs {dense}",
            ours.var_trt
        );
        let z = normal_quantile(0.95);
        let expected = normal_cdf(0.4 / dense.sqrt() - z) + normal_cdf(-0.4 / dense.sqrt() - z);
        assert!((ours.power - expected).abs() < 1e-12);
        // 6 clusters x 5 periods, 2 cells unobserved, 1 without patients.
        assert_eq!(ours.observed_cells, 27);
    }
    // A closed cohort needs the same size in every period of a cluster.
    let per_cluster: Vec<f64> = (0..design.n_clusters()).map(|i| 8.0 + i as f64).collect();
    let re = RandomEffects {
        tau: 0.2,
        zeta: 0.5,
        ..RandomEffects::default()
    };
    let ours = ClosedForm::gaussian(0.0, 0.4, 1.0, Sizes::PerCluster(per_cluster.clone()))
        .random_effects(re)
        .power(&design)
        .unwrap();
    let matrix: Vec<Vec<f64>> = per_cluster.iter().map(|&s| vec![s; 5]).collect();
    let dense = dense_variance(&design, &matrix, 1.0, re, 1.0);
    assert!(relative(ours.var_trt, dense) < 1e-12);
}

#[test]
fn the_hussey_hughes_closed_formula() {
    // var = I s2 (s2 + J tau^2) / ((I U - W) s2 + (U^2 + I J U - J W - I V) tau^2), with
    // s2 = sigma^2 / n, U the treated cells, W the sum of squared column totals and V of
    // squared row totals (Hussey & Hughes 2007).
    let design = Design::stepped_wedge(&[3, 2, 4, 1]).unwrap();
    let (sigma, tau, n) = (1.7_f64, 0.35_f64, 12.0);
    let ours = ClosedForm::gaussian(1.0, 1.5, sigma, Sizes::Scalar(n))
        .random_effects(RandomEffects {
            tau,
            ..RandomEffects::default()
        })
        .power(&design)
        .unwrap();
    let x: Vec<Vec<f64>> = design
        .cells()
        .iter()
        .map(|r| r.iter().map(|c| c.unwrap()).collect())
        .collect();
    let (i, j) = (x.len() as f64, x[0].len() as f64);
    let u: f64 = x.iter().flatten().sum();
    let w: f64 = (0..x[0].len())
        .map(|c| x.iter().map(|r| r[c]).sum::<f64>().powi(2))
        .sum();
    let v: f64 = x.iter().map(|r| r.iter().sum::<f64>().powi(2)).sum();
    let s2 = sigma * sigma / n;
    let t2 = tau * tau;
    let closed =
        i * s2 * (s2 + j * t2) / ((i * u - w) * s2 + (u * u + i * j * u - j * w - i * v) * t2);
    assert!(
        relative(ours.var_trt, closed) < 1e-12,
        "{} vs {closed}",
        ours.var_trt
    );
}

#[test]
fn parameterisations_that_are_the_same_model_give_the_same_variance() {
    let design = busy_design();
    let base = ClosedForm::gaussian(0.0, 0.3, 1.0, Sizes::Scalar(20.0));
    let var = |spec: ClosedForm| spec.power(&design).unwrap().var_trt;
    let re = |tau, gamma, zeta| RandomEffects {
        tau,
        gamma,
        zeta,
        ..RandomEffects::default()
    };
    // A closed cohort with a constant size adds zeta^2 / n to every covariance: a larger tau.
    let cohort = var(base.clone().random_effects(re(0.2, 0.1, 0.6)));
    let tau = (0.04_f64 + 0.36 / 20.0).sqrt();
    assert!(relative(cohort, var(base.clone().random_effects(re(tau, 0.1, 0.0)))) < 1e-12);
    // No decay is r = 1; r = 0 makes the cluster effect a cluster-period effect.
    let plain = var(base.clone().random_effects(re(0.3, 0.1, 0.0)));
    assert!(
        relative(
            plain,
            var(base.clone().random_effects(re(0.3, 0.1, 0.0)).decay(1.0))
        ) < 1e-14
    );
    let r0 = var(base.clone().random_effects(re(0.3, 0.0, 0.0)).decay(0.0));
    assert!(relative(r0, var(base.clone().random_effects(re(0.0, 0.3, 0.0)))) < 1e-12);
    // Decay loses the within-cluster comparison across distant periods: more variance.
    let decayed = var(base.clone().random_effects(re(0.3, 0.1, 0.0)).decay(0.5));
    assert!(decayed > plain);
    // icc and cac are the shares of the cluster-period variance and of tau^2 in it.
    let spec = base.clone().coefficients(0.05, 0.8, 0.0);
    let c = spec.components().unwrap();
    let (t2, g2) = (c.tau * c.tau, c.gamma * c.gamma);
    assert!(((t2 + g2) / (t2 + g2 + 1.0) - 0.05).abs() < 1e-15);
    assert!((t2 / (t2 + g2) - 0.8).abs() < 1e-15);
    assert!(
        relative(
            var(spec),
            var(base.clone().random_effects(re(c.tau, c.gamma, 0.0)))
        ) < 1e-14
    );
    // iac: zeta^2 = s2 iac / (1 - iac), and icc then counts zeta^2 in the total.
    let c = base
        .clone()
        .coefficients(0.1, 1.0, 0.3)
        .components()
        .unwrap();
    assert!((c.zeta * c.zeta - 0.3 / 0.7).abs() < 1e-15);
    assert!((c.tau * c.tau - (1.0 + 0.3 / 0.7) * 0.1 / 0.9).abs() < 1e-15);
    // Binary: sigma^2 from the mean risk.
    let b = ClosedForm::binomial(0.1, 0.3, Sizes::Scalar(20.0));
    assert!((b.sigma_sq().unwrap() - 0.16).abs() < 1e-16);
}

#[test]
fn the_exposure_time_model() {
    // With one exposure time it is the immediate-treatment model.
    let one = Design::parallel_baseline(3, 3, 2, 1).unwrap();
    let spec =
        ClosedForm::gaussian(0.0, 0.5, 1.0, Sizes::Scalar(15.0)).random_effects(RandomEffects {
            tau: 0.2,
            ..RandomEffects::default()
        });
    let it = spec.power(&one).unwrap();
    let eti = spec
        .clone()
        .model(TreatmentModel::ExposureTime { contrast: None })
        .power(&one)
        .unwrap();
    assert!(relative(eti.var_trt, it.var_trt) < 1e-12);
    assert_eq!(eti.contrast, Some(vec![1.0]));
    // In a stepped wedge, estimating one effect per exposure time costs precision; a
    // contrast is scaled to add up to 1.
    let sw = Design::stepped_wedge(&[2, 2, 2, 2]).unwrap();
    let it = spec.power(&sw).unwrap();
    let equal = spec
        .clone()
        .model(TreatmentModel::ExposureTime { contrast: None })
        .power(&sw)
        .unwrap();
    let scaled = spec
        .clone()
        .model(TreatmentModel::ExposureTime {
            contrast: Some(vec![2.0; 4]),
        })
        .power(&sw)
        .unwrap();
    assert!(equal.var_trt > it.var_trt);
    assert!(relative(scaled.var_trt, equal.var_trt) < 1e-14);
    assert_eq!(scaled.contrast, Some(vec![0.25; 4]));
    // The long-term effect alone is estimated from the first wave only: least precise.
    let last = spec
        .clone()
        .model(TreatmentModel::ExposureTime {
            contrast: Some(vec![0.0, 0.0, 0.0, 1.0]),
        })
        .power(&sw)
        .unwrap();
    assert!(last.var_trt > equal.var_trt);
    let wrong = spec
        .clone()
        .model(TreatmentModel::ExposureTime {
            contrast: Some(vec![1.0, 1.0]),
        })
        .power(&sw)
        .unwrap_err();
    assert!(message(wrong).contains("2 weights for 4 exposure times"));
    let zero_sum = spec
        .clone()
        .model(TreatmentModel::ExposureTime {
            contrast: Some(vec![1.0, -1.0, 0.0, 0.0]),
        })
        .power(&sw)
        .unwrap_err();
    assert!(message(zero_sum).starts_with("H: the weights add up to 0"));
    let half = SteppedWedge::new(&[1, 1])
        .fractions(&[0.5])
        .build()
        .unwrap();
    let fractions = spec
        .model(TreatmentModel::ExposureTime { contrast: None })
        .power(&half)
        .unwrap_err();
    assert!(message(fractions).contains("needs a design of 0s and 1s"));
}

#[test]
fn power_formula_design_effect_and_monotonicity() {
    // theta = 0: the power is the size of the test.
    assert!((two_sided_power(0.0, 0.1, 0.05) - 0.05).abs() < 1e-15);
    assert!((two_sided_power(-0.3, 0.1, 0.05) - two_sided_power(0.3, 0.1, 0.05)).abs() < 1e-15);
    // Two clusters, one period, no clustering: exactly an individually randomised trial.
    let two = Design::parallel(1, 1, 1).unwrap();
    let p = ClosedForm::gaussian(0.0, 0.5, 2.0, Sizes::Scalar(40.0))
        .power(&two)
        .unwrap();
    assert!((p.var_trt - 2.0 * 4.0 / 40.0).abs() < 1e-15);
    assert!((p.design_effect - 1.0).abs() < 1e-14);
    assert_eq!(p.patients, 80.0);
    // Clustering costs: a design effect above 1, and more patients always help.
    let sw = Design::stepped_wedge(&[3, 3, 3]).unwrap();
    let spec = ClosedForm::binomial(0.119, 0.08, Sizes::Scalar(20.0)).coefficients(0.02, 1.0, 0.0);
    let mut last = 0.0;
    for n in [5.0, 10.0, 20.0, 40.0, 80.0] {
        let p = spec.clone().sizes(Sizes::Scalar(n)).power(&sw).unwrap();
        assert!(p.power > last);
        assert!(p.design_effect > 1.0);
        last = p.power;
    }
}

#[test]
fn the_solvers_find_the_smallest_size() {
    let sw = Design::stepped_wedge(&[3, 3, 3]).unwrap();
    let spec = ClosedForm::binomial(0.119, 0.08, Sizes::Scalar(1.0)).coefficients(0.02, 1.0, 0.0);
    let n = spec.solve_cluster_period_size(&sw, 0.8).unwrap();
    assert_eq!(n.solved_for, "n");
    assert!(n.power.power >= 0.8);
    let below = spec
        .clone()
        .sizes(Sizes::Scalar((n.value - 1) as f64))
        .power(&sw)
        .unwrap();
    assert!(below.power < 0.8);
    assert_eq!(n.power_one_less, Some(below.power));
    let k = spec
        .clone()
        .sizes(Sizes::Scalar(20.0))
        .solve_clusters_per_wave(&sw, 0.8)
        .unwrap();
    assert!(k.power.power >= 0.8 && k.power_one_less.unwrap() < 0.8);
    let fewer = spec
        .clone()
        .sizes(Sizes::Scalar(20.0))
        .power(&sw.replicate_waves(k.value - 1).unwrap())
        .unwrap();
    assert_eq!(Some(fewer.power), k.power_one_less);
    // A target already met by the smallest value.
    let easy = spec.solve_cluster_period_size(&sw, 0.01).unwrap();
    assert_eq!((easy.value, easy.power_one_less), (1, None));
    // icc 0.3 with 9 clusters: the cluster variance caps the power below 0.99.
    let capped = ClosedForm::gaussian(0.0, 0.2, 1.0, Sizes::Scalar(1.0))
        .coefficients(0.3, 0.5, 0.0)
        .solve_cluster_period_size(&sw, 0.99)
        .unwrap_err();
    assert!(message(capped).contains("more clusters or periods are needed"));
    let matrix = spec
        .clone()
        .sizes(Sizes::PerCluster(vec![20.0; 9]))
        .solve_clusters_per_wave(&sw, 0.8)
        .unwrap_err();
    assert!(message(matrix).starts_with("n: solving for the clusters per wave"));
    assert!(spec.solve_cluster_period_size(&sw, 1.0).is_err());
}

#[test]
fn invalid_inputs_are_errors_naming_the_field_or_cell() {
    let sw = Design::stepped_wedge(&[2, 2]).unwrap();
    let g = || ClosedForm::gaussian(0.0, 0.5, 1.0, Sizes::Scalar(10.0));
    let re = |tau, eta, rho, gamma| RandomEffects {
        tau,
        eta,
        rho,
        gamma,
        zeta: 0.0,
    };
    let cases: Vec<(ClosedForm, Design, &str)> = vec![
        (
            g().random_effects(re(-0.1, 0.0, 0.0, 0.0)),
            sw.clone(),
            "tau: -0.1 is not a standard deviation",
        ),
        (
            g().random_effects(re(0.1, 0.0, 0.0, f64::NAN)),
            sw.clone(),
            "gamma: NaN",
        ),
        (
            g().random_effects(re(0.1, 0.0, 0.5, 0.0)),
            sw.clone(),
            "rho: 0.5 correlates",
        ),
        (
            g().random_effects(re(0.1, 0.1, 1.5, 0.0)),
            sw.clone(),
            "rho: 1.5 is outside [-1, 1]",
        ),
        (
            g().coefficients(1.0, 1.0, 0.0),
            sw.clone(),
            "icc: 1 is outside [0, 1)",
        ),
        (g().coefficients(-0.1, 1.0, 0.0), sw.clone(), "icc: -0.1"),
        (
            g().coefficients(0.1, 1.2, 0.0),
            sw.clone(),
            "cac: 1.2 is outside [0, 1]",
        ),
        (
            g().coefficients(0.1, 1.0, 1.0),
            sw.clone(),
            "iac: 1 is outside [0, 1)",
        ),
        (
            ClosedForm::gaussian(0.0, 0.5, 0.0, Sizes::Scalar(10.0)),
            sw.clone(),
            "sigma: sigma, gamma and zeta are all 0",
        ),
        (
            ClosedForm::gaussian(0.0, 0.5, 0.0, Sizes::Scalar(10.0)).coefficients(0.1, 1.0, 0.0),
            sw.clone(),
            "sigma: sigma is 0",
        ),
        (
            ClosedForm::binomial(0.1, 0.2, Sizes::Scalar(10.0))
                .random_effects(re(0.5, 0.0, 0.0, 0.0)),
            sw.clone(),
            "exceeds muBar (1 - muBar)",
        ),
        (
            ClosedForm::binomial(0.1, 1.2, Sizes::Scalar(10.0)),
            sw.clone(),
            "mu1: 1.2 is not a risk",
        ),
        (
            ClosedForm::binomial(0.0, 0.0, Sizes::Scalar(10.0)),
            sw.clone(),
            "leaves no variance",
        ),
        (g().alpha(0.0), sw.clone(), "alpha: 0 is outside (0, 1)"),
        (g().decay(1.5), sw.clone(), "decay: 1.5 is outside [0, 1]"),
        (
            g().random_effects(re(0.1, 0.1, 0.2, 0.0)).decay(0.5),
            sw.clone(),
            "decay: a decaying cluster effect",
        ),
        (
            g().sizes(Sizes::Scalar(0.0)),
            sw.clone(),
            "n: 0 patients per cluster-period",
        ),
        (
            g().sizes(Sizes::PerCluster(vec![1.0; 3])),
            sw.clone(),
            "n: 3 sizes for 4 clusters",
        ),
        (
            g().sizes(Sizes::Matrix(vec![vec![1.0; 3]; 3])),
            sw.clone(),
            "a matrix of 3 rows",
        ),
        (
            g().sizes(Sizes::Matrix(vec![vec![5.0, -1.0, 5.0]; 4])),
            sw.clone(),
            "cluster 'Cluster 1', period '2' has -1 patients",
        ),
        (
            g().sizes(Sizes::Matrix(vec![
                vec![5.0; 3],
                vec![0.0; 3],
                vec![5.0; 3],
                vec![5.0; 3],
            ])),
            sw.clone(),
            "cluster 'Cluster 2' is never observed",
        ),
        (
            g(),
            sw.clone()
                .with_unobserved(&[(0, 0), (1, 0), (2, 0), (3, 0)])
                .unwrap(),
            "period '1' has no observed cell",
        ),
        (
            g(),
            Design::parallel(0, 3, 2).unwrap(),
            "no observed cell is under the intervention",
        ),
        (
            g(),
            Design::parallel(3, 0, 2).unwrap(),
            "the treatment effect cannot be separated",
        ),
        (
            g(),
            Design::parallel_baseline(0, 2, 1, 1)
                .unwrap()
                .with_unobserved(&[])
                .unwrap(),
            "no observed cell",
        ),
        (
            g().random_effects(RandomEffects {
                zeta: 0.3,
                ..RandomEffects::default()
            })
            .sizes(Sizes::Matrix(vec![vec![5.0, 6.0, 5.0]; 4])),
            sw.clone(),
            "closed cohort (zeta > 0)",
        ),
    ];
    for (spec, design, expected) in cases {
        let e = message(spec.power(&design).unwrap_err());
        assert!(e.contains(expected), "'{expected}' not in '{e}'");
    }
    // Every cluster switching at once: the treatment is the calendar.
    let together = Design::from_start_periods(&[Some(2), Some(2)], 3).unwrap();
    let e = message(g().power(&together).unwrap_err());
    assert!(
        e.contains("cannot be separated from the period effects"),
        "{e}"
    );
}

#[test]
fn a_case_file_reads_swpwr_names_and_refuses_unknown_fields() {
    let base = r#""design": [[0, 1], [0, 0]], "n": 10, "mu0": 0, "mu1": 0.5"#;
    let case = |extra: &str| PowerCase::from_json(&format!("{{{base}, {extra}}}"));
    let spec = case(r#""distn": "gaussian", "sigma": 1, "tau": 0.1"#)
        .unwrap()
        .closed_form()
        .unwrap();
    assert_eq!(spec.alpha, 0.05);
    assert_eq!(spec.components().unwrap().tau, 0.1);
    let e = message(case(r#""distn": "gaussian", "sigma": 1, "gama": 0.1"#).unwrap_err());
    assert!(
        e.contains("unknown field 'gama' (did you mean 'gamma'?)"),
        "{e}"
    );
    let e = message(case(r#""distn": "gaussian", "sigma": 1, "xyz": 0.1"#).unwrap_err());
    assert!(
        e.contains("unknown field 'xyz'; the parameters are design, distn"),
        "{e}"
    );
    let both = case(r#""distn": "gaussian", "sigma": 1, "tau": 0.1, "icc": 0.1"#)
        .unwrap()
        .closed_form()
        .unwrap_err();
    assert!(message(both).contains("not both"));
    let no_sigma = case(r#""distn": "gaussian""#)
        .unwrap()
        .closed_form()
        .unwrap_err();
    assert!(message(no_sigma).starts_with("sigma: a gaussian outcome"));
    let sigma = case(r#""distn": "binomial", "sigma": 1"#)
        .unwrap()
        .closed_form()
        .unwrap_err();
    assert!(message(sigma).starts_with("sigma: a binomial"));
    let distn = case(r#""distn": "poisson""#)
        .unwrap()
        .closed_form()
        .unwrap_err();
    assert!(message(distn).contains("'poisson' is neither"));
    // H as a number: equal weights, as swPwr.
    let eti = case(r#""distn": "gaussian", "sigma": 1, "H": 1"#)
        .unwrap()
        .closed_form()
        .unwrap();
    assert_eq!(eti.model, TreatmentModel::ExposureTime { contrast: None });
    let icc = case(r#""distn": "binomial", "icc": 0.1, "cac": 0.5, "alpha": 0.1, "decay": 0.8"#)
        .unwrap()
        .closed_form()
        .unwrap();
    assert_eq!((icc.alpha, icc.decay), (0.1, Some(0.8)));
    let bad_json = message(PowerCase::from_json("{\"design\": [[0, 1]],").unwrap_err());
    assert!(bad_json.contains("line 1"), "{bad_json}");
    let named = PowerCase::from_json(&format!(
        r#"{{{base}, "distn": "gaussian", "sigma": 1, "cluster_names": ["A", "B"]}}"#
    ))
    .unwrap();
    assert_eq!(named.design().unwrap().clusters(), ["A", "B"]);
    let null = PowerCase::from_json(
        r#"{"design": [[0, 1, null]], "n": [[3, 4, 5]], "mu0": 0, "mu1": 1, "distn": "gaussian", "sigma": 1}"#,
    )
    .unwrap();
    assert_eq!(null.design().unwrap().share(0, 2), None);
    assert_eq!(null.n, Sizes::Matrix(vec![vec![3.0, 4.0, 5.0]]));
}
