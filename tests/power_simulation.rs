//! Simulation power (`effects::power`): agreement with the glmer simulations of the reference
//! cases in `tests/reference/power/` (within 3 combined Monte Carlo SEs), glmer's fits of the
//! bench's first 50 trials (`tests/reference/power/timing/`), the fit of a trial's
//! counts against the fit of its patients' rows, identical results for any number of threads,
//! failures counted, the randomisation test's own p-values, the GEE's population-averaged
//! truth, an effect that builds up, and every invalid input named.

use serde_json::Value;
use stepwedge::data::{Cohort, Column};
use stepwedge::design::{ClosedForm, Design, PowerCase, RandomEffects, Sizes, TreatmentModel};
use stepwedge::effects::power::{
    marginal_log_odds_ratio, power_curve, probability_scale_icc, scaled_sizes, Analysis, Arm,
    PowerSimulation, SimulationPower,
};
use stepwedge::models::glmm::{DfMethod, Glmm};
use stepwedge::sim::{CellSizes, CountModel, PeriodEffect, TRIALS_CSV_HEADER};

mod power_cases;
use power_cases::{cases, folder};

/// The reference cases with a glmer simulation: name, JSON, text.
fn simulated_cases() -> Vec<(String, Value, String)> {
    cases()
        .into_iter()
        .filter(|(_, json, _)| json.get("power_sim_glmer").is_some())
        .collect()
}

/// The data-generating model the case's `sim_settings` describe.
fn model_of(json: &Value) -> CountModel {
    let settings = &json["sim_settings"];
    let number = |key: &str| settings[key].as_f64().unwrap();
    CountModel {
        intercept: number("beta0_logit"),
        treatment: number("theta_logit"),
        period: PeriodEffect::Linear(0.0),
        cluster_sd: number("sigma_b_logit"),
        cluster_period_sd: 0.0,
        treatment_by_exposure: Vec::new(),
    }
}

#[test]
fn simulation_power_agrees_with_the_glmer_simulations() {
    let cases = simulated_cases();
    assert!(
        cases.len() >= 2,
        "{} cases with a glmer simulation",
        cases.len()
    );
    let reps = 1_000;
    for (name, json, text) in &cases {
        let settings = &json["sim_settings"];
        assert!(
            settings["model"]
                .as_str()
                .unwrap()
                .contains("no period effects in the data"),
            "{name}: the simulation's model changed"
        );
        let case = PowerCase::from_json(text).unwrap();
        let design = case.design().unwrap();
        let closed = case.closed_form().unwrap();
        let sizes = CellSizes::fixed(&closed.size_matrix(&design).unwrap()).unwrap();
        let model = model_of(json);
        // The closed form's own simulation is the same model (risks and a latent icc).
        let matched = SimulationPower::from_closed_form(&closed, &design, false).unwrap();
        let m = matched.data_model();
        assert!((m.intercept - model.intercept).abs() < 1e-12, "{name}");
        assert!((m.treatment - model.treatment).abs() < 1e-12, "{name}");
        assert!((m.cluster_sd - model.cluster_sd).abs() < 1e-12, "{name}");
        assert_eq!(matched.cell_sizes(), &sizes, "{name}");
        let ours = SimulationPower::new(design, sizes, model)
            .analysis(Analysis::Glmm)
            .alpha(closed.alpha)
            .reps(reps)
            .seed(2024)
            .null(false)
            .run()
            .unwrap();
        let theirs = json["power_sim_glmer"].as_f64().unwrap();
        let their_mcse = json["power_sim_mcse"].as_f64().unwrap();
        let combined = (ours.mcse.powi(2) + their_mcse.powi(2)).sqrt();
        println!(
            "{name}: ours {:.3} (MCSE {:.4}, {} failed, {} singular), glmer {theirs:.3} (MCSE \
             {their_mcse:.4}); difference {:.2} combined MCSEs",
            ours.power,
            ours.mcse,
            ours.failed,
            ours.singular,
            (ours.power - theirs) / combined
        );
        assert!(
            (ours.power - theirs).abs() <= 3.0 * combined,
            "{name}: power {} vs glmer {theirs} (combined MCSE {combined})",
            ours.power
        );
        // The mean estimates agree as well (glmer's from its reps, with an MCSE like ours).
        let their_mean = settings["mean_estimate_logit"].as_f64().unwrap();
        let their_reps = json["sim_reps"].as_f64().unwrap();
        let mean_mcse =
            ours.alternative.mean_estimate_mcse * (1.0 + reps as f64 / their_reps).sqrt();
        assert!(
            (ours.mean_estimate - their_mean).abs() <= 3.0 * mean_mcse,
            "{name}: mean estimate {} vs glmer {their_mean} (MCSE {mean_mcse})",
            ours.mean_estimate
        );
        assert_eq!(
            ours.failed, 0,
            "{name}: {:?}",
            ours.alternative.first_failure
        );
    }
}

/// A stepped wedge of 6 clusters in 3 waves with 25 patients per cell, mortality 12% vs 8%,
/// latent icc 0.05 (cac 0.8).
fn small() -> SimulationPower {
    let design = Design::stepped_wedge(&[2, 2, 2]).unwrap();
    let sizes = CellSizes::fixed(&vec![vec![25.0; 4]; 6]).unwrap();
    let model = CountModel::risks(0.12, 0.08)
        .unwrap()
        .latent_icc(0.05, 0.8)
        .unwrap();
    SimulationPower::new(design, sizes, model).seed(5)
}

#[test]
fn a_fit_of_the_counts_is_the_fit_of_the_patients() {
    let spec = small().analysis(Analysis::GlmmBetweenWithin);
    let trial = spec.trial(Arm::Alternative, 3).unwrap();
    let design = spec.design().clone();
    let patients = trial.patient_cohort(&design).unwrap();
    assert_eq!(patients.n_rows() as u64, trial.patients());
    let by_patient = Glmm::new("y ~ treated + factor(period) + (1 | cluster)")
        .unwrap()
        .df(DfMethod::BetweenWithin)
        .fit(&patients)
        .unwrap();
    let row = by_patient.term("treated").unwrap();
    let ours = spec.analyse(&trial, 0).unwrap();
    assert!(
        (ours.estimate - row.estimate).abs() < 1e-6,
        "{} vs {}",
        ours.estimate,
        row.estimate
    );
    assert!((ours.std_error - row.std_error).abs() < 1e-6);
    // The between-within df as the patients' fit counts them.
    assert_eq!(ours.df, row.df);
    assert!(ours.df.unwrap() > 500.0);
    let z = small().analysis(Analysis::Glmm).analyse(&trial, 0).unwrap();
    assert_eq!(z.df, None);
    assert!((z.estimate - ours.estimate).abs() < 1e-12);
    let (low, high) = z.interval.unwrap();
    assert!((high - low - 2.0 * 1.959964 * z.std_error).abs() < 1e-5);
}

#[test]
fn a_run_is_its_trials_and_does_not_depend_on_the_threads() {
    let spec = small().reps(40);
    let on = |threads: usize| -> PowerSimulation {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| spec.run().unwrap())
    };
    let one = on(1);
    assert_eq!(one, on(2));
    assert_eq!(one, on(5));
    // The progress bar changes no number.
    assert_eq!(one, spec.clone().progress(true).run().unwrap());
    // The summary is that of the trials drawn one by one.
    let (mut rejected, mut total) = (0, 0.0);
    for r in 0..40 {
        let trial = spec.trial(Arm::Alternative, r).unwrap();
        let fit = spec
            .analyse(&trial, spec.trial_seed(Arm::Alternative, r))
            .unwrap();
        rejected += usize::from(fit.reject);
        total += fit.estimate;
    }
    assert_eq!(one.alternative.rejected, rejected);
    assert!((one.mean_estimate - total / 40.0).abs() < 1e-12);
    assert_eq!(one.reps, 40);
    let null = one.null.as_ref().unwrap();
    assert_eq!(null.truth, 0.0);
    assert_eq!(Some(null.rejection_rate), one.type1);
    // The null's trials have no effect: other seeds than the alternative's.
    assert_ne!(
        spec.trial_seed(Arm::Null, 0),
        spec.trial_seed(Arm::Alternative, 0)
    );
    // Another seed, other trials.
    assert_ne!(one, small().seed(6).reps(40).run().unwrap());
}

#[test]
fn failed_fits_are_counted_and_not_dropped() {
    // A rare outcome and two patients per cell: many trials have no event among the treated.
    let design = Design::stepped_wedge(&[1, 1, 1, 1]).unwrap();
    let sizes = CellSizes::fixed(&vec![vec![2.0; 5]; 4]).unwrap();
    let model = CountModel::risks(0.02, 0.01).unwrap();
    let result = SimulationPower::new(design, sizes, model)
        .reps(60)
        .run()
        .unwrap();
    let a = &result.alternative;
    assert!(a.failed > 0, "{a:?}");
    assert_eq!(a.fitted + a.failed, 60);
    assert_eq!(a.reps, 60);
    assert!(a.first_failure.is_some());
    assert!((result.power - a.rejected as f64 / 60.0).abs() < 1e-15);
    let null = result.null.as_ref().unwrap();
    assert_eq!(result.failed, a.failed + null.failed);
    let text = result.to_string();
    assert!(
        text.contains("failed") && text.contains("first failure"),
        "{text}"
    );
}

#[test]
fn the_randomisation_test_rejects_by_its_own_p_values() {
    // Three clusters, one per wave: 6 allocations, the smallest p-value 1/6 > 0.05, so the
    // randomisation test never rejects, whatever the effect, while the Wald test does.
    let design = Design::stepped_wedge(&[1, 1, 1]).unwrap();
    let sizes = CellSizes::fixed(&vec![vec![80.0; 4]; 3]).unwrap();
    let model = CountModel::odds_ratio(0.2, 0.3).unwrap();
    let spec = SimulationPower::new(design, sizes, model).reps(30);
    let wald = spec.clone().analysis(Analysis::Glmm).run().unwrap();
    assert!(wald.power > 0.5, "{wald}");
    let randomisation = spec.analysis(Analysis::randomisation()).run().unwrap();
    assert_eq!(randomisation.power, 0.0);
    assert_eq!(randomisation.type1, Some(0.0));
    assert_eq!(randomisation.coverage, None);
    assert_eq!(randomisation.failed, 0);
    // The same estimates as the mixed model's.
    assert!((randomisation.mean_estimate - wald.mean_estimate).abs() < 1e-9);
}

#[test]
fn the_randomisation_test_keeps_its_level() {
    // Five clusters one per wave: 120 allocations, exact; p <= 0.05 for at most 6 of them.
    let design = Design::stepped_wedge(&[1, 1, 1, 1, 1]).unwrap();
    let sizes = CellSizes::fixed(&vec![vec![30.0; 6]; 5]).unwrap();
    let model = CountModel::risks(0.15, 0.15)
        .unwrap()
        .latent_icc(0.05, 1.0)
        .unwrap();
    let result = SimulationPower::new(design, sizes, model)
        .analysis(Analysis::randomisation())
        .reps(150)
        .null(false)
        .seed(3)
        .run()
        .unwrap();
    // Under the null (theta = 0 here) the exact test's size is at most 6 / 120 = 0.05.
    assert!(
        result.power <= 0.05 + 3.0 * (0.05f64 * 0.95 / 150.0).sqrt(),
        "{result}"
    );
}

#[test]
fn the_gee_estimates_the_population_averaged_effect() {
    // Strong clustering (latent icc 0.15): the marginal log odds ratio is clearly smaller than
    // theta, and the GEE's estimates centre on it.
    let design = Design::stepped_wedge(&[4, 4, 4]).unwrap();
    let sizes = CellSizes::fixed(&vec![vec![40.0; 4]; 12]).unwrap();
    let model = CountModel::odds_ratio(0.3, 0.4)
        .unwrap()
        .latent_icc(0.15, 1.0)
        .unwrap();
    let marginal = marginal_log_odds_ratio(&model, &design);
    assert!(
        marginal > model.treatment + 0.03,
        "{marginal} vs {}",
        model.treatment
    );
    // Against a direct integral over the normal density (midpoint rule on +/- 8 SD).
    let sd = model.cluster_sd;
    let risk = |eta: f64| {
        let steps = 20_000;
        let h = 16.0 / steps as f64;
        (0..steps)
            .map(|k| {
                let z = -8.0 + (k as f64 + 0.5) * h;
                let density = (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
                h * density / (1.0 + (-(eta + sd * z)).exp())
            })
            .sum::<f64>()
    };
    let logit = |p: f64| (p / (1.0 - p)).ln();
    let direct = logit(risk(model.intercept + model.treatment)) - logit(risk(model.intercept));
    assert!((marginal - direct).abs() < 1e-8, "{marginal} vs {direct}");
    let spec = SimulationPower::new(design, sizes, model)
        .analysis(Analysis::gee())
        .reps(150)
        .null(false)
        .seed(8);
    assert!((spec.truth() - marginal).abs() < 1e-15);
    let result = spec.run().unwrap();
    let a = &result.alternative;
    assert!(
        a.bias.abs() <= 3.0 * a.mean_estimate_mcse + 0.01,
        "bias {} (MCSE {})",
        a.bias,
        a.mean_estimate_mcse
    );
    assert!(a.coverage.unwrap() > 0.85, "{result}");
    assert_eq!(result.singular, 0);
}

#[test]
fn an_effect_that_builds_up_biases_the_immediate_treatment_estimate() {
    let design = Design::stepped_wedge(&[2, 2, 2, 2, 2]).unwrap();
    let sizes = CellSizes::fixed(&vec![vec![60.0; 6]; 10]).unwrap();
    let mut model = CountModel::odds_ratio(0.15, 0.6).unwrap();
    model.treatment_by_exposure = vec![0.2, 0.4, 0.6, 0.8, 1.0];
    let result = SimulationPower::new(design, sizes, model.clone())
        .reps(200)
        .null(false)
        .run()
        .unwrap();
    let a = &result.alternative;
    // The estimate is pulled towards 0 (less than the full log odds ratio by far more than
    // its Monte Carlo SE), and the interval misses the full effect more often than 5%.
    assert!(a.bias > 6.0 * a.mean_estimate_mcse, "{result}");
    assert!(a.coverage.unwrap() < 0.9, "{result}");
    // With period effects in the data, the factor(period) terms absorb them.
    let mut trend = model;
    trend.treatment_by_exposure.clear();
    trend.period = PeriodEffect::Linear(-0.15);
    let design = Design::stepped_wedge(&[2, 2, 2, 2, 2]).unwrap();
    let sizes = CellSizes::fixed(&vec![vec![60.0; 6]; 10]).unwrap();
    let result = SimulationPower::new(design, sizes, trend)
        .reps(200)
        .null(false)
        .run()
        .unwrap();
    let a = &result.alternative;
    assert!(a.bias.abs() < 3.0 * a.mean_estimate_mcse + 0.01, "{result}");
}

#[test]
fn the_probability_scale_icc() {
    // At a risk of 10%, a latent icc of 0.02 is about 0.006 on the probability scale.
    let icc = probability_scale_icc(0.02, 0.1).unwrap();
    assert!((icc - 0.006).abs() < 0.001, "{icc}");
    assert_eq!(probability_scale_icc(0.0, 0.1).unwrap(), 0.0);
    assert!(probability_scale_icc(0.05, 0.1).unwrap() > icc);
    // For small SDs, p(1 - p) sigma^2 / (p(1 - p) sigma^2 + 1) to first order.
    let sigma2 = 0.001 / 0.999 * std::f64::consts::PI.powi(2) / 3.0;
    let approx = 0.09 * sigma2 / (0.09 * sigma2 + 1.0);
    let exact = probability_scale_icc(0.001, 0.1).unwrap();
    assert!(
        (exact - approx).abs() / approx < 0.01,
        "{exact} vs {approx}"
    );
    assert!(probability_scale_icc(1.0, 0.1).is_err());
    assert!(probability_scale_icc(0.1, 0.0).is_err());
}

#[test]
fn power_curves_scale_the_sizes() {
    let design = Design::stepped_wedge(&[2, 2]).unwrap();
    let closed = ClosedForm::binomial(0.12, 0.08, Sizes::PerCluster(vec![10.0, 20.0, 30.0, 40.0]))
        .coefficients(0.01, 1.0, 0.0);
    let scaled = scaled_sizes(&closed, &design, 50.0).unwrap();
    let matrix = scaled.size_matrix(&design).unwrap();
    assert!((matrix[0][0] - 20.0).abs() < 1e-12 && (matrix[3][2] - 80.0).abs() < 1e-12);
    let points = power_curve(&closed, &design, &[10.0, 25.0, 50.0], false, None).unwrap();
    assert!(points
        .windows(2)
        .all(|w| w[1].closed_form.power > w[0].closed_form.power));
    assert!((points[2].patients - 50.0 * 12.0).abs() < 1e-9);
    let simulate = |s: SimulationPower| s.reps(20).null(false);
    let points = power_curve(&closed, &design, &[25.0, 50.0], false, Some(&simulate)).unwrap();
    assert_eq!(points[1].simulation.as_ref().unwrap().reps, 20);
    // 50 x (10, 20, 30, 40) / 25 are whole numbers: fixed sizes; 7 x .. / 25 are not: Poisson.
    let fixed = SimulationPower::from_closed_form(&scaled, &design, false).unwrap();
    assert!(matches!(fixed.cell_sizes(), CellSizes::Fixed(_)));
    let odd = scaled_sizes(&closed, &design, 7.0).unwrap();
    let poisson = SimulationPower::from_closed_form(&odd, &design, false).unwrap();
    assert!(matches!(poisson.cell_sizes(), CellSizes::Poisson(_)));
    assert!(scaled_sizes(&closed, &design, 0.0).is_err());
}

#[test]
fn invalid_settings_are_named() {
    let named = |spec: SimulationPower, name: &str| {
        let e = spec.run().unwrap_err().to_string();
        assert!(e.contains(&format!("'{name}'")), "{name}: {e}");
    };
    named(small().reps(0), "reps");
    named(small().alpha(1.0), "alpha");
    // The GEE on 6 clusters with 5 mean parameters works; on 7 periods it cannot.
    let wide = Design::stepped_wedge(&[1, 1, 1, 1, 1, 1]).unwrap();
    let sizes = CellSizes::fixed(&vec![vec![10.0; 7]; 6]).unwrap();
    let model = CountModel::risks(0.1, 0.2).unwrap();
    let e = SimulationPower::new(wide, sizes, model.clone())
        .analysis(Analysis::gee())
        .run()
        .unwrap_err()
        .to_string();
    assert!(e.contains("6 clusters for 8 mean parameters"), "{e}");
    // The randomisation test needs whole crossovers.
    let half = stepwedge::design::SteppedWedge::new(&[1, 1, 1])
        .fractions(&[0.5])
        .build()
        .unwrap();
    let sizes = CellSizes::fixed(&vec![vec![10.0; half.n_periods()]; 3]).unwrap();
    let e = SimulationPower::new(half, sizes, model)
        .analysis(Analysis::randomisation())
        .run()
        .unwrap_err()
        .to_string();
    assert!(e.contains("share 0.5"), "{e}");
    assert!("bayes".parse::<Analysis>().is_err());
    assert_eq!(
        "glmm-bw".parse::<Analysis>().unwrap(),
        Analysis::GlmmBetweenWithin
    );
    // What the simulation cannot take from a closed form.
    let design = Design::stepped_wedge(&[2, 2]).unwrap();
    let base = ClosedForm::binomial(0.1, 0.2, Sizes::Scalar(10.0));
    let refused = |closed: ClosedForm, name: &str| {
        let e = SimulationPower::from_closed_form(&closed, &design, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("'{name}'")), "{name}: {e}");
    };
    refused(
        ClosedForm::gaussian(0.0, 1.0, 1.0, Sizes::Scalar(10.0)),
        "distn",
    );
    refused(
        base.clone().random_effects(RandomEffects {
            tau: 0.02,
            ..Default::default()
        }),
        "tau",
    );
    refused(base.clone().coefficients(0.02, 1.0, 0.3), "iac");
    refused(
        base.clone()
            .model(TreatmentModel::ExposureTime { contrast: None }),
        "H",
    );
    refused(base.clone().decay(0.8), "decay");
    assert!(SimulationPower::from_closed_form(&base, &design, false).is_ok());
}

#[test]
fn the_counts_cohort_reads_as_data() {
    // The cohort of counts is the columns the formula names, one row per cell with patients.
    let spec = small();
    let trial = spec.trial(Arm::Null, 0).unwrap();
    let cohort: Cohort = trial.counts_cohort(spec.design()).unwrap();
    assert_eq!(cohort.n_rows(), 24);
    let Ok(Column::Numeric(trials)) = cohort.column("trials") else {
        panic!("a numeric trials column")
    };
    assert!(trials.iter().all(|&n| n == 25.0));
}

/// The KTH-size case of the bench and the glmer timing (tests/reference/power/timing/).
fn timing_simulation() -> SimulationPower {
    let text = std::fs::read_to_string(folder().join("timing/kth_size.json")).unwrap();
    let case = PowerCase::from_json(&text).unwrap();
    let design = case.design().unwrap();
    SimulationPower::from_closed_form(&case.closed_form().unwrap(), &design, false)
        .unwrap()
        .seed(2609)
        .null(false)
}

#[test]
fn the_timing_trials_are_ours_and_glmer_fits_them_as_we_do() {
    let spec = timing_simulation();
    assert!(matches!(spec.cell_sizes(), CellSizes::Fixed(_)));
    // trials.csv holds trials 1..50 of the bench's simulation, cell by cell.
    let csv = std::fs::read_to_string(folder().join("timing/trials.csv")).unwrap();
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some(TRIALS_CSV_HEADER));
    let design = spec.design().clone();
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(folder().join("timing/glmer_timing.json")).unwrap(),
    )
    .unwrap();
    let numbers = |key: &str| -> Vec<f64> {
        reference[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (estimates, std_errors) = (numbers("estimates"), numbers("std_errors"));
    let profile = numbers("profile_std_errors");
    let singular: Vec<bool> = reference["singular"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_bool().unwrap())
        .collect();
    assert_eq!(estimates.len(), 50);
    let (mut worst_estimate, mut worst_se, mut worst_profile, mut rejected) =
        (0.0f64, 0.0f64, 0.0f64, 0);
    for r in 0..50 {
        let trial = spec.trial(Arm::Alternative, r).unwrap();
        assert_eq!(trial.patients(), 2609);
        for expected in trial.csv_rows(&design, r + 1).lines() {
            assert_eq!(rows.next(), Some(expected), "trial {}", r + 1);
        }
        let fit = spec.analyse(&trial, 0).unwrap();
        rejected += usize::from(fit.reject);
        worst_estimate = worst_estimate.max((fit.estimate - estimates[r]).abs());
        worst_se = worst_se.max((fit.std_error - std_errors[r]).abs() / std_errors[r]);
        worst_profile = worst_profile.max((fit.std_error - profile[r]).abs() / profile[r]);
        assert_eq!(fit.singular, singular[r], "trial {}", r + 1);
    }
    assert_eq!(rows.next(), None);
    println!(
        "50 trials: estimate within {worst_estimate:.2e} of glmer's; SE within \
         {worst_profile:.2e} relative of the profile likelihood's curvature, {worst_se:.2e} of \
         glmer's finite-difference Hessian"
    );
    assert!(worst_estimate < 2e-4, "{worst_estimate}");
    // Our SE (the exact Hessian) is the curvature of the profile likelihood; glmer's
    // finite-difference Hessian of its deviance function is up to 0.5% off it here.
    assert!(worst_profile < 1e-3, "{worst_profile}");
    assert!(worst_se < 1e-2, "{worst_se}");
    assert_eq!(
        rejected as u64,
        reference["rejected_at_0.05"].as_u64().unwrap()
    );
}

#[test]
fn a_period_without_events_is_left_out_as_the_limit_of_its_fit() {
    let spec = small();
    let mut trial = spec.trial(Arm::Alternative, 0).unwrap();
    // No deaths in the third period.
    for c in trial.cells.iter_mut().filter(|c| c.period == 2) {
        c.events = 0;
    }
    let fit = spec.analyse(&trial, 0).unwrap();
    assert_eq!(fit.periods_left_out, 1);
    // The same as the fit of the other periods' counts.
    let mut rest = trial.clone();
    rest.cells.retain(|c| c.period != 2);
    let cohort = rest.counts_cohort(spec.design()).unwrap();
    let direct =
        Glmm::new("cbind(events, trials - events) ~ treated + factor(period) + (1 | cluster)")
            .unwrap()
            .fit(&cohort)
            .unwrap();
    let row = direct.term("treated").unwrap();
    assert!((fit.estimate - row.estimate).abs() < 1e-12);
    assert!((fit.std_error - row.std_error).abs() < 1e-12);
    // Fitted with the period in, the model has no maximum: the period's effect diverges.
    let all = trial.counts_cohort(spec.design()).unwrap();
    let error =
        Glmm::new("cbind(events, trials - events) ~ treated + factor(period) + (1 | cluster)")
            .unwrap()
            .fit(&all)
            .unwrap_err()
            .to_string();
    assert!(error.contains("factor(period)3"), "{error}");
    // In a run, such trials are counted.
    let sparse = Design::stepped_wedge(&[2, 2, 2]).unwrap();
    let sizes = CellSizes::fixed(&vec![vec![3.0; 4]; 6]).unwrap();
    let model = CountModel::risks(0.08, 0.05).unwrap();
    let result = SimulationPower::new(sparse, sizes, model)
        .reps(50)
        .run()
        .unwrap();
    assert!(result.trials_with_periods_left_out > 0, "{result}");
    assert!(result.alternative.periods_left_out >= result.alternative.trials_with_periods_left_out);
    assert!(result.to_string().contains("analysed without a period"));
}
