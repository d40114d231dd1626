//! Træning for Livet: the library path of the example `traening_for_livet` (design, crude
//! comparisons from reconstructed counts, synthetic trial with its mixed model and
//! population-averaged GEEs, KTH 2.0 schedule on Funen, figures).

use stepwedge::core::error::Error;
use stepwedge::models::family::Link;
use stepwedge::models::gee::{Gee, SeKind, WorkingCorrelation};
use stepwedge::studies::traening_for_livet::{
    funen_schedule, GeeStatus, PopulationAveraged, SyntheticSettings, TraeningForLivet,
    TrialDesign, DEFAULT_SEED, DESIGN_SVG, FUNEN_GROUPS, FUNEN_SVG, N_CONTROL, N_INTERVENTION,
};

fn close(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} (tolerance {tol})"
    );
}

fn report() -> TraeningForLivet {
    TraeningForLivet::run(DEFAULT_SEED).unwrap()
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
    assert_eq!(diagram.period_labels.len(), 7);
    assert_eq!(diagram.rows.len(), 6);
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
    let b = report();
    let json = |r: &TraeningForLivet| serde_json::to_string(&r.synthetic).unwrap();
    assert_eq!(json(&a), json(&b), "the same seed gives the same trial");
    let other = TraeningForLivet::run(DEFAULT_SEED + 1).unwrap();
    assert_ne!(json(&a), json(&other), "another seed gives another trial");

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
    let f = funen_schedule();
    assert_eq!(f.rows.len(), 10);
    assert_eq!(f.period_labels.len(), 17);
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
    for row in &f.rows {
        // Months 1-4 all usual care, month 17 all intervention, no group switching back.
        assert!(
            row.intervention[..4].iter().all(|&s| s == 0.0),
            "{}",
            row.label
        );
        assert_eq!(row.intervention[16], 1.0, "{}", row.label);
        assert!(
            row.intervention.windows(2).all(|w| w[0] <= w[1]),
            "{}",
            row.label
        );
    }
    let under: Vec<usize> = (1..=17)
        .map(|m| {
            f.rows
                .iter()
                .filter(|r| r.intervention[m - 1] == 1.0)
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

    let dir = std::env::temp_dir().join(format!("tfl_figures_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let nested = dir.join("a").join("b");
    let written = r.write_figures(&nested).unwrap();
    assert_eq!(written.len(), 2);
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
