//! Træning for Livet: the library path of the example `traening_for_livet` (design, crude
//! comparisons from reconstructed counts, synthetic trial with its mixed model,
//! population-averaged GEEs, exact randomisation test and exposure-time model, KTH 2.0 schedule
//! on Funen, figures).

use std::sync::OnceLock;

use stepwedge::core::error::Error;
use stepwedge::data::Column;
use stepwedge::effects::randomisation::{Inversion, Randomisation};
use stepwedge::models::family::Link;
use stepwedge::models::gee::{Gee, SeKind, WorkingCorrelation};
use stepwedge::studies::traening_for_livet::{
    funen_schedule, ExposureTimeAnalysis, GeeStatus, PopulationAveraged, SyntheticSettings,
    TraeningForLivet, TrialDesign, DEFAULT_SEED, DESIGN_SVG, EXPOSURE_SVG, FUNEN_GROUPS, FUNEN_SVG,
    MIN_CLUSTERS_PER_EXPOSURE, N_CONTROL, N_INTERVENTION,
};

fn close(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} (tolerance {tol})"
    );
}

/// The report of the default seed, computed once per test binary (its randomisation interval
/// takes some 26,000 refits).
fn report() -> &'static TraeningForLivet {
    static REPORT: OnceLock<TraeningForLivet> = OnceLock::new();
    REPORT.get_or_init(|| TraeningForLivet::run(DEFAULT_SEED).unwrap())
}

#[test]
fn design_is_six_clusters_crossing_every_three_months_over_seven_periods() {
    let r = report();
    let d = &r.design;
    assert_eq!(d.clusters.len(), 6);
    assert_eq!(d.n_periods, 7);
    assert_eq!(d.months_per_period, 3);
    assert_eq!(d.first_intervention_period, vec![2, 3, 4, 5, 6, 7]);
    assert!(!d.cluster_names_verified);
    assert_eq!(d.clusters[0], "Municipality 1");
    // One cluster crosses at each step, and a step is one period of 3 months.
    for pair in d.first_intervention_period.windows(2) {
        assert_eq!((pair[1] - pair[0]) * d.months_per_period, 3);
    }
    // Period 1 all usual care, period 7 all intervention, cluster k crosses at period k + 1.
    for k in 0..6 {
        assert_eq!(d.is_intervention(k, 1), Some(false));
        assert_eq!(d.is_intervention(k, 7), Some(true));
        assert_eq!(d.is_intervention(k, k + 1), Some(false));
        assert_eq!(d.is_intervention(k, k + 2), Some(true));
    }
    assert_eq!(d.cluster_periods(), (21, 21));
    let diagram = &r.design_diagram;
    assert_eq!(diagram.design.n_periods(), 7);
    assert_eq!(diagram.design.n_clusters(), 6);
    assert_eq!(diagram.design, d.schedule().unwrap());
    assert_eq!(diagram.share("Municipality 3", "3"), Some(0.0));
    assert_eq!(diagram.share("Municipality 3", "4"), Some(1.0));
    let text = diagram.text();
    assert!(text.contains("Municipality 6  . . . . . . #"), "{text}");
}

#[test]
fn reconstructed_percentages_round_to_the_published_ones() {
    let r = report();
    let table = &r.reproduction;
    assert!(table.all_within(), "{table}");
    assert_eq!(table.rows.len(), 6);
    // (quantity, published %, reconstructed count, group size)
    let expected = [
        ("30-day readmission, control", 10.0, 14, N_CONTROL),
        ("30-day readmission, intervention", 7.0, 9, N_INTERVENTION),
        ("30-day mortality, control", 3.0, 4, N_CONTROL),
        ("30-day mortality, intervention", 4.0, 5, N_INTERVENTION),
        ("1-year mortality, control", 8.0, 11, N_CONTROL),
        ("1-year mortality, intervention", 8.0, 11, N_INTERVENTION),
    ];
    for (quantity, published, count, n) in expected {
        let row = table.row(quantity).unwrap_or_else(|| panic!("{quantity}"));
        assert_eq!(row.published, published, "{quantity}");
        close(
            quantity,
            row.reproduced,
            100.0 * count as f64 / n as f64,
            1e-12,
        );
        assert!(row.within, "{quantity}");
        assert!(row.source.contains("seed 003"), "{quantity}");
        assert_eq!((row.reproduced).round(), published, "{quantity}");
    }
    // The counts behind the rows, and the other counts that print as the same percentage.
    let readmission = &r.crude[0];
    assert_eq!(readmission.outcome, "30-day readmission");
    assert_eq!(
        (readmission.control.count, readmission.intervention.count),
        (14, 9)
    );
    assert_eq!(readmission.control.consistent, Some((14, 14)));
    assert_eq!(readmission.intervention.consistent, Some((9, 10)));
    assert_eq!(r.crude[1].intervention.consistent, Some((5, 6)));
    assert_eq!(r.crude[2].control.consistent, Some((11, 11)));
}

#[test]
fn two_by_two_numbers_match_hand_computation() {
    let r = report();
    // Newcombe limits and Fisher p computed by hand (Python: Wilson limits with z = qnorm(0.975),
    // the hybrid-score formula, and the sum of hypergeometric probabilities <= the observed one).
    // (a, n1, c, n0, OR = a d / (b c), RR, Newcombe low, Newcombe high, Fisher p)
    let hand = [
        (
            9,
            135,
            14,
            137,
            1107.0 / 1764.0,
            1233.0 / 1890.0,
            -0.104964,
            0.032827,
            0.384130,
        ),
        (
            5,
            135,
            4,
            137,
            665.0 / 520.0,
            685.0 / 540.0,
            -0.040485,
            0.057844,
            0.748376,
        ),
        (
            11,
            135,
            11,
            137,
            126.0 / 124.0,
            137.0 / 135.0,
            -0.066546,
            0.069323,
            1.0,
        ),
    ];
    for (c, (a, n1, cc, n0, or, rr, low, high, fisher)) in r.crude.iter().zip(hand) {
        let s = &c.summary;
        let what = &c.outcome;
        let t = &s.table;
        assert_eq!((t.a(), t.n1(), t.c(), t.n0()), (a, n1, cc, n0), "{what}");
        close(what, s.risk_treated.estimate, a as f64 / n1 as f64, 1e-12);
        close(what, s.risk_control.estimate, cc as f64 / n0 as f64, 1e-12);
        close(
            what,
            s.risk_difference_newcombe.estimate,
            a as f64 / n1 as f64 - cc as f64 / n0 as f64,
            1e-12,
        );
        close(what, s.risk_difference_newcombe.ci_low, low, 1e-6);
        close(what, s.risk_difference_newcombe.ci_high, high, 1e-6);
        close(what, s.odds_ratio_wald.value().unwrap().estimate, or, 1e-12);
        close(what, s.relative_risk.value().unwrap().estimate, rr, 1e-12);
        close(what, s.fisher_p_value, fisher, 1e-6);
    }
    close(
        "readmission, control risk",
        r.crude[0].summary.risk_control.estimate,
        0.10219,
        1e-5,
    );
}

#[test]
fn synthetic_trial_is_deterministic_and_converges() {
    let a = report();
    let b = TraeningForLivet::run(DEFAULT_SEED).unwrap();
    let json = |r: &TraeningForLivet| serde_json::to_string(&r.synthetic).unwrap();
    assert_eq!(json(a), json(&b), "the same seed gives the same trial");
    let other = TraeningForLivet::run(DEFAULT_SEED + 1).unwrap();
    assert_ne!(json(a), json(&other), "another seed gives another trial");

    let s = &a.synthetic;
    assert!(s.synthetic);
    assert_eq!(s.seed, DEFAULT_SEED);
    assert!(s.converged, "{}", s.fit);
    assert!(s.fit.gradient_max < 1e-3, "{}", s.fit);
    assert_eq!(
        s.formula,
        "readmit30 ~ treated + factor(period) + (1 | cluster)"
    );
    // Sized to the trial: 272 patients expected, about 136 per arm.
    let (n_treated, n_control) = (s.counts.n1(), s.counts.n0());
    assert_eq!((n_treated + n_control) as usize, s.fit.n_obs);
    for n in [n_treated, n_control] {
        assert!((100..=175).contains(&n), "{n} patients in an arm");
    }
    close(
        "patients per cluster-period",
        s.settings.patients_per_cluster_period,
        272.0 / 42.0,
        1e-12,
    );
    close(
        "true odds ratio",
        s.settings.odds_ratio,
        (7.0 / 93.0) / (10.0 / 90.0),
        1e-12,
    );
    // Between-within df for the (within-cluster) treatment: N - clusters - 7 within columns.
    assert_eq!(s.treatment.df, Some((s.fit.n_obs - 6 - 7) as f64));
    assert_eq!(s.fit.n_groups.get("cluster"), Some(&6));
    close(
        "OR",
        s.odds_ratio.estimate,
        s.treatment.estimate.exp(),
        1e-12,
    );
    assert!(
        s.odds_ratio.ci_low < s.odds_ratio.estimate && s.odds_ratio.estimate < s.odds_ratio.ci_high
    );
    // A singular fit is reported as such, with the SD at exactly 0.
    assert_eq!(s.singular, s.cluster_sd == 0.0, "{}", s.fit);
    assert_eq!(s.singular, s.fit.singular);
}

#[test]
fn population_averaged_effects_sit_beside_the_mixed_model() {
    let r = report();
    let s = &r.synthetic;
    let measures: Vec<&str> = s
        .population_averaged
        .iter()
        .map(|p| p.measure.as_str())
        .collect();
    assert_eq!(measures, ["odds ratio", "relative risk"]);
    let links: Vec<Link> = s.population_averaged.iter().map(|p| p.link).collect();
    assert_eq!(links, [Link::Logit, Link::Log]);
    // qt(0.975, 3), the t quantile on 3 df.
    let t3 = 3.182_446_305_284_263;
    for p in &s.population_averaged {
        let what = &p.measure;
        assert_eq!(p.status, GeeStatus::Fitted, "{what}: {:?}", p.problem);
        assert!(p.converged && p.problem.is_none(), "{what}");
        assert_eq!(p.out_of_range_pairs, 0, "{what}");
        assert_eq!(p.formula, "readmit30 ~ treated + period", "{what}");
        assert_eq!(p.working_correlation, WorkingCorrelation::Exchangeable);
        assert!(p.maee);
        assert_eq!(p.se, SeKind::Kc);
        // 6 municipalities less 3 mean parameters (intercept, treated, linear period).
        assert_eq!(p.df, Some(3.0), "{what}");
        let fit = p.fit.as_ref().unwrap();
        assert_eq!((fit.n_clusters, fit.coefficients.len()), (6, 3), "{what}");
        assert_eq!(
            fit.n_obs, s.fit.n_obs,
            "{what}: the same patients as the mixed model"
        );
        let row = p.coefficient.as_ref().unwrap();
        assert_eq!((row.term.as_str(), row.df), ("treated", Some(3.0)));
        let ratio = p.ratio.unwrap();
        close(what, ratio.estimate, row.estimate.exp(), 1e-12);
        close(
            what,
            ratio.ci_low,
            (row.estimate - t3 * row.std_error).exp(),
            1e-9,
        );
        close(
            what,
            ratio.ci_high,
            (row.estimate + t3 * row.std_error).exp(),
            1e-9,
        );
        // A cluster SD of 0.2 on the logit scale is a correlation near 0.005 between two
        // patients' outcomes at a 10% risk; 6 clusters estimate it roughly.
        let alpha = p.correlation.unwrap();
        assert!(alpha.abs() < 0.05, "{what}: correlation {alpha}");
        assert_eq!(alpha, fit.correlation_parameters[0].estimate);
        assert!(p.correlation_std_error.unwrap() > 0.0);
    }
    // The population-averaged and the conditional odds ratio point the same way and differ
    // little (the municipalities hardly differ; the GEE's linear trend against the mixed
    // model's period effects), each within the other's interval.
    let (gee, mixed) = (s.population_averaged[0].ratio.unwrap(), s.odds_ratio);
    assert_eq!(
        gee.estimate > 1.0,
        mixed.estimate > 1.0,
        "{gee:?} {mixed:?}"
    );
    assert!(
        (gee.estimate.ln() - mixed.estimate.ln()).abs() < 0.15,
        "{gee:?} {mixed:?}"
    );
    assert!(gee.ci_low < mixed.estimate && mixed.estimate < gee.ci_high);
    assert!(mixed.ci_low < gee.estimate && gee.estimate < mixed.ci_high);
    // At risks near 10% the relative risk lies between 1 and the odds ratio.
    let rr = s.population_averaged[1].ratio.unwrap();
    let (log_rr, log_or) = (rr.estimate.ln(), gee.estimate.ln());
    assert!(
        log_rr * log_or > 0.0 && log_rr.abs() < log_or.abs(),
        "{rr:?} {gee:?}"
    );
}

#[test]
fn the_gee_time_trend_is_linear_because_period_effects_leave_no_df() {
    let design = TrialDesign::traening_for_livet();
    let cohort = SyntheticSettings::traening_for_livet(&design)
        .sim_config(&design)
        .simulate(DEFAULT_SEED)
        .unwrap();
    // factor(period): 8 mean parameters for 6 municipalities, refused.
    let refused = Gee::new("readmit30 ~ treated + factor(period)", "cluster")
        .unwrap()
        .fit(&cohort)
        .unwrap_err();
    match refused {
        Error::TooFewData { got, needed, .. } => assert_eq!((got, needed), (6, 9)),
        other => panic!("{other}"),
    }
    // A failing GEE is reported with its reason, not a panic or an error: on 3 municipalities
    // the 3 mean parameters leave no degrees of freedom.
    let clusters = cohort.column("cluster").unwrap();
    let rows: Vec<usize> = (0..cohort.n_rows())
        .filter(|&i| matches!(clusters.label(i), Some("C01" | "C02" | "C03")))
        .collect();
    let three = cohort.select_rows(&rows).unwrap();
    let failed = PopulationAveraged::fit(&three, "readmit30", Link::Logit).unwrap();
    assert_eq!(failed.status, GeeStatus::Failed);
    assert!(!failed.converged);
    assert!(failed.ratio.is_none() && failed.df.is_none() && failed.fit.is_none());
    let problem = failed.problem.unwrap();
    assert!(problem.contains("clusters"), "{problem}");
}

#[test]
fn funen_schedule_cells() {
    let f = funen_schedule().unwrap();
    assert_eq!(f.design.n_clusters(), 10);
    assert_eq!(f.design.n_periods(), 17);
    f.validate().unwrap();
    let share = |group: &str, month: usize| f.share(group, &month.to_string()).unwrap();
    assert_eq!(share("Odense 2", 13), 0.0);
    assert_eq!(share("Odense 2", 14), 1.0);
    assert_eq!(share("Odense 1", 10), 0.0);
    assert_eq!(share("Odense 1", 11), 1.0);
    assert_eq!(share("Nordfyn", 4), 0.0);
    assert_eq!(share("Nyborg", 5), 1.0);
    assert_eq!(share("Ærø", 7), 0.0);
    assert_eq!(share("Faaborg-Midtfyn", 8), 1.0);
    for (label, row) in f.design.clusters().iter().zip(f.design.cells()) {
        let row: Vec<f64> = row.iter().map(|c| c.unwrap()).collect();
        // Months 1-4 all usual care, month 17 all intervention, no group switching back.
        assert!(row[..4].iter().all(|&s| s == 0.0), "{label}");
        assert_eq!(row[16], 1.0, "{label}");
        assert!(row.windows(2).all(|w| w[0] <= w[1]), "{label}");
    }
    let under: Vec<usize> = (1..=17)
        .map(|m| {
            f.design
                .cells()
                .iter()
                .filter(|r| r[m - 1] == Some(1.0))
                .count()
        })
        .collect();
    assert_eq!(
        under,
        vec![0, 0, 0, 0, 3, 3, 3, 8, 8, 8, 9, 9, 9, 10, 10, 10, 10]
    );
}

#[test]
fn figures_have_their_row_labels_and_are_written() {
    let r = report();
    let figures = r.figures().unwrap();
    let svg = |name: &str| {
        figures
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.clone())
            .unwrap()
    };
    let design = svg(DESIGN_SVG);
    assert!(design.starts_with("<svg"));
    for k in 1..=6 {
        assert!(
            design.contains(&format!("Municipality {k}")),
            "Municipality {k}"
        );
    }
    let funen = svg(FUNEN_SVG);
    for (group, _) in FUNEN_GROUPS {
        assert!(funen.contains(group), "{group}");
    }
    assert!(funen.contains("usual care") && funen.contains("intervention"));
    // The effects by exposure time: one interval per level, the TATE and the Hussey & Hughes
    // odds ratio in the legend.
    let effects = svg(EXPOSURE_SVG);
    let tate = r.synthetic.exposure_time.tate.as_ref().unwrap();
    assert!(effects.starts_with("<svg"));
    assert!(
        effects.contains("TATE") && effects.contains("Immediate-treatment model"),
        "{effects}"
    );
    assert!(
        effects.contains(&format!("{:.2}", tate.tate.exp_estimate.unwrap())),
        "the TATE's odds ratio is in the legend"
    );

    let dir = std::env::temp_dir().join(format!("tfl_figures_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let nested = dir.join("a").join("b");
    let written = r.write_figures(&nested).unwrap();
    assert_eq!(written.len(), 3);
    assert_eq!(
        std::fs::read_to_string(nested.join(FUNEN_SVG)).unwrap(),
        funen
    );
    // A directory that cannot be created is an I/O error naming it.
    let file = dir.join("not_a_directory");
    std::fs::write(&file, "x").unwrap();
    match r.write_figures(&file.join("sub")).unwrap_err() {
        Error::Io { file: name, .. } => assert!(name.ends_with("sub"), "{name}"),
        other => panic!("{other}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_schedule_json_keeps_its_rows_and_period_labels_beside_the_design() {
    let f = funen_schedule().unwrap();
    let json = serde_json::to_value(&f).unwrap();
    assert_eq!(json["period_labels"].as_array().unwrap().len(), 17);
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    let odense = rows.iter().find(|r| r["label"] == "Odense 2").unwrap();
    assert_eq!(odense["intervention"][12], 0.0);
    assert_eq!(odense["intervention"][13], 1.0);
    assert_eq!(json["design"]["clusters"].as_array().unwrap().len(), 10);
}

#[test]
fn the_exact_randomisation_test_enumerates_all_720_orders_beside_the_model_based_t() {
    let s = &report().synthetic;
    let r = &s.randomisation;
    assert!(r.problem.is_none(), "{:?}", r.problem);
    let test = r.test.as_ref().unwrap();
    // 6 municipalities crossing at 6 distinct periods: 6! orders, every one refitted.
    assert!(test.exact);
    assert_eq!((test.n_allocations, test.n_possible), (720, 720.0));
    assert_eq!(test.allocations.len(), 720);
    let mut distinct = test.allocations.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 720, "the allocations are distinct");
    let mut crossovers: Vec<Option<usize>> = test.schedule.crossover.clone();
    crossovers.sort();
    assert_eq!(crossovers, (1..=6).map(Some).collect::<Vec<_>>());
    for allocation in &test.allocations {
        let mut sorted = allocation.clone();
        sorted.sort();
        assert_eq!(sorted, crossovers, "an allocation permutes the crossovers");
    }
    // The observed allocation is among them, with the fit's own estimate.
    let k = test.identity.unwrap();
    assert!(r.observed_included);
    assert_eq!(test.allocations[k], test.schedule.crossover);
    assert_eq!(test.statistics[k], Some(test.observed));
    assert_eq!(test.observed, s.treatment.estimate);
    assert_eq!(test.failed, 0, "{:?}", test.first_failure);
    assert!(test.singular <= 720);
    assert_eq!(test.statistic, "estimate");
    // The p-values, counted again from the 720 estimates.
    let values: Vec<f64> = test.statistics.iter().map(|t| t.unwrap()).collect();
    let tolerance = 1e-7 * test.observed.abs().max(1.0);
    let share = |f: &dyn Fn(f64) -> bool| values.iter().filter(|&&v| f(v)).count() as f64 / 720.0;
    let t = test.observed;
    assert_eq!(test.p_value, share(&|v| v.abs() >= t.abs() - tolerance));
    assert_eq!(test.p_lower, share(&|v| v <= t + tolerance));
    assert_eq!(test.p_upper, share(&|v| v >= t - tolerance));
    for p in [test.p_value, test.p_lower, test.p_upper] {
        assert!(p > 0.0 && p <= 1.0, "{p}");
        assert_eq!((p * 720.0).round(), p * 720.0, "a share of 720");
    }
    assert!(test.p_lower + test.p_upper >= 1.0 + 1.0 / 720.0 - 1e-12);
    // Beside it, the model-based t of the same estimate.
    let m = &r.model_based;
    assert_eq!(m.p_value, s.treatment.p_value);
    assert_eq!(m.df, s.treatment.df);
    close("model one-sided", m.p_lower + m.p_upper, 1.0, 1e-12);
    close(
        "model two-sided",
        2.0 * m.p_lower.min(m.p_upper),
        m.p_value,
        1e-9,
    );
    assert_eq!(m.log_odds_ratio.ci_low, Some(s.treatment.ci_low));
    assert_eq!(m.odds_ratio.ci_high, Some(s.odds_ratio.ci_high));
}

#[test]
fn the_randomisation_interval_contains_the_estimate_and_inverts_the_test() {
    let s = &report().synthetic;
    let r = &s.randomisation;
    let interval = r.test.as_ref().unwrap().interval.as_ref().unwrap();
    assert_eq!(
        (interval.level, interval.inversion),
        (0.95, Inversion::TwoSided)
    );
    assert_eq!(interval.failed, 0);
    assert!(interval.refits > 720);
    let log = r.log_odds_ratio.unwrap();
    let or = r.odds_ratio.unwrap();
    assert_eq!((log.ci_low, log.ci_high), (interval.low, interval.high));
    assert_eq!(
        (log.low_open, log.high_open),
        (log.ci_low.is_none(), log.ci_high.is_none())
    );
    assert_eq!((or.low_open, or.high_open), (log.low_open, log.high_open));
    assert_eq!(log.estimate, s.treatment.estimate);
    close("OR", or.estimate, log.estimate.exp(), 1e-12);
    // Both bounds are found for this trial (an open one would be None).
    let (low, high) = (log.ci_low.unwrap(), log.ci_high.unwrap());
    assert!(low < log.estimate && log.estimate < high, "{low} {high}");
    close("OR low", or.ci_low.unwrap(), low.exp(), 1e-12);
    close("OR high", or.ci_high.unwrap(), high.exp(), 1e-12);
    // The randomisation interval is wider than the between-within t interval here.
    assert!(low < s.treatment.ci_low && high > s.treatment.ci_high);
    // Inverting the test: just inside the bounds p(d) > 0.05, just outside p(d) <= 0.05.
    let design = TrialDesign::traening_for_livet();
    let cohort = SyntheticSettings::traening_for_livet(&design)
        .sim_config(&design)
        .simulate(DEFAULT_SEED)
        .unwrap();
    let prepared = Randomisation::new("treated")
        .prepare(&s.fit, &cohort)
        .unwrap();
    let step = 0.02 * s.treatment.std_error;
    for (d, accepted) in [
        (low + step, true),
        (low - step, false),
        (high - step, true),
        (high + step, false),
    ] {
        let p = prepared.distribution(d).unwrap().p_value;
        assert_eq!(p > 0.05, accepted, "p({d}) = {p}");
    }
}

#[test]
fn the_exposure_time_model_is_capped_fitted_and_tested_against_the_immediate_effect() {
    let s = &report().synthetic;
    let e = &s.exposure_time;
    assert_eq!(
        e.formula,
        "readmit30 ~ factor(exposure) + factor(period) + (1 | cluster)"
    );
    assert_eq!(e.immediate_formula, s.formula);
    // Exposure s is observed in 7 - s municipalities (6 before the crossover); exposure 6 in
    // one only, so the design's cap is 5.
    assert_eq!(e.uncapped_max_exposure, 6);
    assert_eq!(e.clusters_by_exposure, vec![6, 6, 5, 4, 3, 2, 1]);
    assert_eq!(
        (e.min_clusters_per_level, MIN_CLUSTERS_PER_EXPOSURE),
        (2, 2)
    );
    assert_eq!(e.design_cap, 5);
    // In this synthetic trial exposure 3 has no readmission, so the caps 5 and 4 separate and
    // the model is fitted at 3 (exposure 3 and later pooled), reported as lowered.
    let cap = e.cap.unwrap();
    assert_eq!(cap, 3);
    assert!(e.cap_lowered);
    let caps: Vec<usize> = e.failed_caps.iter().map(|a| a.cap).collect();
    assert_eq!(caps, (cap + 1..=e.design_cap).rev().collect::<Vec<_>>());
    for attempt in &e.failed_caps {
        assert!(
            attempt.problem.contains("separation") && attempt.problem.contains("factor(exposure)3"),
            "{}",
            attempt.problem
        );
    }
    let derived = e.derived.as_ref().unwrap();
    assert_eq!((derived.cap, derived.max_exposure), (Some(cap), cap));
    assert_eq!(derived.rows_by_exposure.iter().sum::<usize>(), s.fit.n_obs);
    // The effect at each exposure 1..L, finite, and their mean the TATE.
    let fit = e.fit.as_ref().unwrap();
    assert!(fit.converged && fit.gradient_max < 1e-3, "{fit}");
    let tate = e.tate.as_ref().unwrap();
    let exposures: Vec<f64> = tate.levels.iter().map(|l| l.exposure).collect();
    assert_eq!(exposures, (1..=cap).map(|s| s as f64).collect::<Vec<_>>());
    let mut mean = 0.0;
    for level in &tate.levels {
        let row = &level.effect;
        assert_eq!(row.term, format!("factor(exposure){}", level.exposure));
        assert_eq!(row, fit.term(&row.term).unwrap());
        assert!([row.estimate, row.std_error, row.ci_low, row.ci_high]
            .iter()
            .all(|v| v.is_finite()));
        close("weight", level.weight, 1.0 / cap as f64, 1e-15);
        mean += row.estimate / cap as f64;
    }
    let t = &tate.tate;
    close("TATE", t.estimate, mean, 1e-12);
    assert!(t.ci_low < t.estimate && t.estimate < t.ci_high);
    assert!(t.std_error.is_finite() && t.std_error > 0.0);
    // Between-within df: N - clusters - the within columns (L exposure levels, 6 periods).
    assert_eq!(t.df, Some((fit.n_obs - 6 - cap - 6) as f64));
    close("TATE OR", t.exp_estimate.unwrap(), t.estimate.exp(), 1e-12);
    close("TATE OR low", t.exp_ci_low.unwrap(), t.ci_low.exp(), 1e-12);
    close(
        "TATE OR high",
        t.exp_ci_high.unwrap(),
        t.ci_high.exp(),
        1e-12,
    );
    // The Wald test of a constant effect and the LRT against Hussey & Hughes on L - 1 df.
    let wald = tate.constant_effect.as_ref().unwrap();
    assert_eq!(wald.df, cap - 1);
    let lrt = e.lrt.as_ref().unwrap();
    assert_eq!(lrt.df, cap - 1);
    close(
        "LRT",
        lrt.statistic,
        2.0 * (fit.loglik - s.fit.loglik),
        1e-9,
    );
    assert!(lrt.p_value > 0.0 && lrt.p_value <= 1.0);
    assert!(e.problem.is_none(), "{:?}", e.problem);
}

#[test]
fn an_exposure_time_model_that_cannot_be_fitted_is_reported() {
    let s = &report().synthetic;
    let design = TrialDesign::traening_for_livet();
    let mut cohort = SyntheticSettings::traening_for_livet(&design)
        .sim_config(&design)
        .simulate(DEFAULT_SEED)
        .unwrap();
    // No readmission under the intervention: every exposure level separates, at every cap.
    let outcome = cohort.numeric("readmit30").unwrap().to_vec();
    let treated = cohort.numeric("treated").unwrap().to_vec();
    let none: Vec<f64> = outcome
        .iter()
        .zip(&treated)
        .map(|(y, t)| y * (1.0 - t))
        .collect();
    cohort
        .add_column("untreated_readmit30", Column::Numeric(none))
        .unwrap();
    let e = ExposureTimeAnalysis::run(&cohort, "untreated_readmit30", &s.fit).unwrap();
    assert_eq!(e.design_cap, 5);
    assert_eq!(e.cap, None);
    assert!(e.tate.is_none() && e.fit.is_none() && e.lrt.is_none());
    let caps: Vec<usize> = e.failed_caps.iter().map(|a| a.cap).collect();
    assert_eq!(caps, vec![5, 4, 3, 2]);
    let problem = e.problem.as_deref().unwrap();
    assert!(problem.contains("could not be fitted"), "{problem}");
    let text = e.to_string();
    assert!(text.contains("NO EXPOSURE-TIME ANALYSIS"), "{text}");
}

#[test]
fn the_figures_the_readme_quotes_are_the_default_trials() {
    // README, "Which p-value or interval to read" and the example's paragraph.
    let s = &report().synthetic;
    let near = |what: &str, got: f64, printed: f64| close(what, got, printed, 5e-4);
    assert_eq!(
        (s.counts.n0() + s.counts.n1(), s.counts.a() + s.counts.c()),
        (270, 26)
    );
    near("HH OR", s.odds_ratio.estimate, 1.309);
    near("HH low", s.odds_ratio.ci_low, 0.459);
    near("HH high", s.odds_ratio.ci_high, 3.731);
    near("HH p", s.treatment.p_value, 0.613);
    let gee = &s.population_averaged[0];
    let ratio = gee.ratio.unwrap();
    near("GEE OR", ratio.estimate, 1.368);
    near("GEE low", ratio.ci_low, 0.420);
    near("GEE high", ratio.ci_high, 4.448);
    near("GEE p", gee.coefficient.as_ref().unwrap().p_value, 0.460);
    let r = &s.randomisation;
    let test = r.test.as_ref().unwrap();
    assert_eq!(test.p_value * 720.0, 468.0);
    near(
        "randomisation OR low",
        r.odds_ratio.unwrap().ci_low.unwrap(),
        0.260,
    );
    near(
        "randomisation OR high",
        r.odds_ratio.unwrap().ci_high.unwrap(),
        4.831,
    );
    near(
        "randomisation low",
        r.log_odds_ratio.unwrap().ci_low.unwrap(),
        -1.346,
    );
    near(
        "randomisation high",
        r.log_odds_ratio.unwrap().ci_high.unwrap(),
        1.575,
    );
    let refits = test.interval.as_ref().unwrap().refits;
    assert!(
        (20_000..32_000).contains(&refits),
        "about 26,000 refits: {refits}"
    );
    let e = &s.exposure_time;
    let tate = &e.tate.as_ref().unwrap().tate;
    near("TATE OR", tate.exp_estimate.unwrap(), 1.205);
    near("TATE low", tate.exp_ci_low.unwrap(), 0.400);
    near("TATE high", tate.exp_ci_high.unwrap(), 3.627);
    near("LRT p", e.lrt.as_ref().unwrap().p_value, 0.028);
    // Exposure 3: 22 patients, none readmitted.
    let design = TrialDesign::traening_for_livet();
    let cohort = SyntheticSettings::traening_for_livet(&design)
        .sim_config(&design)
        .simulate(DEFAULT_SEED)
        .unwrap();
    let (exposure, _) = stepwedge::frame::design::ExposureTime::new("cluster", "period", "treated")
        .values(&cohort)
        .unwrap();
    let outcome = cohort.numeric("readmit30").unwrap();
    let at3: Vec<usize> = (0..exposure.len())
        .filter(|&i| exposure[i] == 3.0)
        .collect();
    assert_eq!(at3.len(), 22);
    assert!(at3.iter().all(|&i| outcome[i] == 0.0));
}
