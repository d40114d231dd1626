//! Behaviour of standardisation, the cluster bootstrap and subgroup effects that can be checked
//! without R: closed forms, invariances and errors. (The comparisons with R are in
//! `marginal_reference.rs` and `rr_reference.rs`.)

#[allow(dead_code)]
mod common;
use common::FitThen;
use stepwedge::core::error::Error;
use stepwedge::data::Cohort;
use stepwedge::effects::standardise::{RandomEffects, Standardisation, Target};
use stepwedge::models::glm::{Family, Glm, Link};
use stepwedge::models::glmm::Glmm;
use stepwedge::models::vcov::VcovKind;

fn sample() -> Cohort {
    common::stepped_wedge_sample()
}

/// Events and patients by arm.
fn arms(cohort: &Cohort) -> [(f64, f64); 2] {
    let t = cohort.numeric("treated").unwrap();
    let y = cohort.numeric("death30").unwrap();
    let mut out = [(0.0, 0.0); 2];
    for (t, y) in t.iter().zip(y) {
        let a = &mut out[*t as usize];
        a.0 += y;
        a.1 += 1.0;
    }
    out
}

#[test]
fn saturated_logistic_model_gives_the_observed_risks_and_binomial_errors() {
    let cohort = sample();
    let (_, m) = Glm::new("death30 ~ treated")
        .unwrap()
        .fit_and_standardise(&cohort, &Standardisation::new("treated"))
        .unwrap();
    let [(e0, n0), (e1, n1)] = arms(&cohort);
    let (p0, p1) = (e0 / n0, e1 / n1);
    assert!((m.risk_treated.estimate - p1).abs() < 1e-10);
    assert!((m.risk_control.estimate - p0).abs() < 1e-10);
    assert!((m.risk_difference.estimate - (p1 - p0)).abs() < 1e-10);
    // The delta method on the saturated model is the binomial standard error.
    let se1 = (p1 * (1.0 - p1) / n1).sqrt();
    assert!((m.risk_treated.std_error - se1).abs() < 1e-8 * se1);
    let se_rd = (p1 * (1.0 - p1) / n1 + p0 * (1.0 - p0) / n0).sqrt();
    assert!((m.risk_difference.std_error - se_rd).abs() < 1e-8 * se_rd);
    let se_log_rr = ((1.0 - p1) / (n1 * p1) + (1.0 - p0) / (n0 * p0)).sqrt();
    assert!((m.relative_risk.std_error - se_log_rr).abs() < 1e-8 * se_log_rr);
    assert!(m.bootstrap.is_none() && m.risk_treated.percentile.is_none());
    assert_eq!(m.patients, n0 + n1);
}

#[test]
fn the_log_link_coefficient_is_the_standardised_relative_risk() {
    // Without covariates that interact with treatment, a log-link model's RR is exp(b_treated)
    // in every target population.
    let cohort = sample();
    let spec = Glm::new("death30 ~ treated + factor(period)")
        .unwrap()
        .family(Family::Poisson)
        .link(Link::Log);
    for target in [
        Target::All,
        Target::Treated,
        Target::parse("residence=own_home"),
    ] {
        let (fit, m) = spec
            .fit_and_standardise(&cohort, &Standardisation::new("treated").target(target))
            .unwrap();
        let b = fit.term("treated").unwrap();
        assert!((m.relative_risk.estimate - b.estimate.exp()).abs() < 1e-10);
        assert!((m.relative_risk.std_error - b.std_error).abs() < 1e-10);
    }
}

#[test]
fn att_and_subgroups_count_their_patients() {
    let cohort = sample();
    let model = Glm::new("death30 ~ treated + factor(period) + age").unwrap();
    let [(_, n0), (_, n1)] = arms(&cohort);
    let (_, att) = model
        .fit_and_standardise(
            &cohort,
            &Standardisation::new("treated").target(Target::Treated),
        )
        .unwrap();
    assert_eq!(att.patients, n1);
    let (_, all) = model
        .fit_and_standardise(&cohort, &Standardisation::new("treated"))
        .unwrap();
    assert_eq!(all.patients, n0 + n1);
    let residence = cohort.levels("residence").unwrap().to_vec();
    let codes = cohort.codes("residence").unwrap();
    let own = residence.iter().position(|l| l == "own_home").unwrap() as u32;
    let (_, sub) = model
        .fit_and_standardise(
            &cohort,
            &Standardisation::new("treated").target(Target::parse("residence=own_home")),
        )
        .unwrap();
    assert_eq!(
        sub.patients,
        codes.iter().filter(|&&c| c == own).count() as f64
    );
}

#[test]
fn mixed_model_risks_integrate_over_the_random_effects() {
    let cohort = sample();
    let model = Glmm::new("death30 ~ treated + factor(period) + age + (1 | cluster)").unwrap();
    let (_, integrated) = model
        .fit_and_standardise(&cohort, &Standardisation::new("treated"))
        .unwrap();
    let (_, conditional) = model
        .fit_and_standardise(
            &cohort,
            &Standardisation::new("treated").random_effects(RandomEffects::Conditional),
        )
        .unwrap();
    // The inverse logit is convex below 1/2, where these risks are: averaging over u raises
    // them (Jensen), E h(eta + u) > h(eta).
    assert!(integrated.risk_control.estimate > conditional.risk_control.estimate);
    assert!(integrated.risk_treated.estimate > conditional.risk_treated.estimate);
    assert_eq!(integrated.random_effects, Some(RandomEffects::Integrated));
    assert_eq!(conditional.random_effects, Some(RandomEffects::Conditional));
}

#[test]
fn bootstrap_is_the_same_whatever_the_number_of_threads() {
    let cohort = sample();
    let model = Glmm::new("death30 ~ treated + factor(period) + (1 | cluster)").unwrap();
    let spec = Standardisation::new("treated").bootstrap(40, 7);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| model.fit_and_standardise(&cohort, &spec).unwrap().1)
    };
    let one = run(1);
    let two = run(2);
    assert_eq!(one, two);
    let b = one.bootstrap.as_ref().unwrap();
    assert_eq!((b.replicates, b.seed), (40, Some(7)));
    let p = one.risk_difference.percentile.unwrap();
    assert!(p.ci_low < one.risk_difference.estimate && one.risk_difference.estimate < p.ci_high);
    // Another seed, other replicates.
    let other = model
        .fit_and_standardise(&cohort, &Standardisation::new("treated").bootstrap(40, 8))
        .unwrap()
        .1;
    assert_ne!(
        other.risk_difference.percentile,
        one.risk_difference.percentile
    );
}

#[test]
fn given_bootstrap_samples_are_used_as_given() {
    let cohort = sample();
    let model = Glm::new("death30 ~ treated + factor(period)")
        .unwrap()
        .cluster("cluster");
    // Every sample the identity: every replicate reproduces the estimate.
    let identity: Vec<usize> = (0..12).collect();
    let spec = Standardisation::new("treated").bootstrap_samples(vec![identity; 5]);
    let (_, m) = model.fit_and_standardise(&cohort, &spec).unwrap();
    let p = m.risk_difference.percentile.unwrap();
    assert!((p.ci_low - m.risk_difference.estimate).abs() < 1e-9);
    assert!((p.ci_high - m.risk_difference.estimate).abs() < 1e-9);
    // BCa is not defined when no replicate falls below the estimate.
    assert!(
        m.risk_difference.bca.is_none() || m.risk_difference.bca.unwrap().ci_low <= p.ci_low + 1e-9
    );
    let bad = Standardisation::new("treated").bootstrap_samples(vec![vec![0, 12]]);
    let err = model
        .fit_and_standardise(&cohort, &bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cluster index 12"), "{err}");
    let no_clusters = Glm::new("death30 ~ treated").unwrap();
    let err = no_clusters
        .fit_and_standardise(&cohort, &Standardisation::new("treated").bootstrap(10, 1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs a model with clusters"), "{err}");
}

#[test]
fn subgroup_effects_follow_the_interaction() {
    let cohort = sample();
    let model = Glm::new("death30 ~ treated * residence + factor(period)").unwrap();
    let (fit, s) = model
        .fit_and_subgroups(&cohort, &Standardisation::new("treated"), "residence")
        .unwrap();
    let b = |t: &str| fit.term(t).unwrap().estimate;
    let levels = cohort.levels("residence").unwrap();
    assert_eq!(s.subgroups.len(), levels.len());
    // The reference level's OR is exp(b_treated); another's adds its interaction.
    assert!((s.subgroups[0].ratio.unwrap().estimate - b("treated").exp()).abs() < 1e-10);
    let second = format!("treated:residence{}", levels[1]);
    assert!(
        (s.subgroups[1].ratio.unwrap().estimate - (b("treated") + b(&second)).exp()).abs() < 1e-10
    );
    assert_eq!(s.subgroups[0].ratio_kind.as_deref(), Some("odds ratio"));
    assert_eq!(s.interaction.df, levels.len() - 1);
    assert!(s.interaction.p_value > 0.0 && s.interaction.p_value <= 1.0);
    for g in &s.subgroups {
        assert_eq!(g.marginal.target, Target::Subgroup(g.subgroup.clone()));
    }
    // One interaction column: the test is the square of its z statistic.
    let cohort2 = cohort
        .clone()
        .with_column(
            "own_home",
            stepwedge::data::Column::Numeric(
                cohort
                    .codes("residence")
                    .unwrap()
                    .iter()
                    .map(|&c| f64::from(u8::from(levels[c as usize] == "own_home")))
                    .collect(),
            ),
        )
        .unwrap();
    let (fit, s) = Glm::new("death30 ~ treated * own_home + factor(period)")
        .unwrap()
        .fit_and_subgroups(&cohort2, &Standardisation::new("treated"), "own_home")
        .unwrap();
    let row = fit.term("treated:own_home").unwrap();
    let z = row.estimate / row.std_error;
    assert!((s.interaction.statistic - z * z).abs() < 1e-9 * z * z);
    // Without the interaction there is no term to estimate the subgroups from: the error names
    // the missing term and the ones there are.
    let err = Glm::new("death30 ~ treated + own_home")
        .unwrap()
        .fit_and_subgroups(&cohort2, &Standardisation::new("treated"), "own_home")
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnknownTerm { term, available, .. }
            if term == "treated:own_home" && available.contains(&"own_home".to_string())),
        "{err}"
    );
}

#[test]
fn bad_treatments_and_targets_are_named() {
    let cohort = sample();
    let glm = |f: &str| Glm::new(f).unwrap();
    let err =
        |g: Glm, s: Standardisation| g.fit_and_standardise(&cohort, &s).unwrap_err().to_string();
    let e = err(
        glm("death30 ~ factor(treated) + age"),
        Standardisation::new("treated"),
    );
    assert!(e.contains("factor(treated)"), "{e}");
    let e = glm("death30 ~ age")
        .fit_and_standardise(&cohort, &Standardisation::new("treated"))
        .unwrap_err();
    assert!(
        matches!(&e, Error::UnknownTerm { term, available, .. }
            if term == "treated" && available == &["age".to_string()]),
        "{e}"
    );
    let e = err(
        glm("death30 ~ period + age"),
        Standardisation::new("period"),
    );
    assert!(e.contains("must be 0 or 1"), "{e}");
    let e = err(
        glm("death30 ~ treated"),
        Standardisation::new("treated").target(Target::parse("residence=mars")),
    );
    assert!(e.contains("no level 'mars'"), "{e}");
    let e = err(
        glm("death30 ~ treated"),
        Standardisation::new("treated").target(Target::parse("residence")),
    );
    assert!(e.contains("residence=LEVEL"), "{e}");
    let e = err(
        glm("death30 ~ treated"),
        Standardisation::new("treated").target(Target::parse("age")),
    );
    assert!(e.contains("needs a 0/1 column"), "{e}");
}

#[test]
fn a_log_binomial_mixed_model_on_the_boundary_says_so() {
    // Every patient with x = 1 has the event: the log-binomial maximum has a risk of 1.
    let n = 600;
    let cluster: Vec<String> = (0..n).map(|i| format!("C{:02}", i % 10)).collect();
    let x: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 7 == 0))).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| if i % 7 == 0 || i % 5 == 0 { 1.0 } else { 0.0 })
        .collect();
    let cohort = Cohort::from_columns(vec![
        (
            "cluster".into(),
            stepwedge::data::Column::from_labels(cluster.iter().map(Some)).unwrap(),
        ),
        ("x".into(), stepwedge::data::Column::Numeric(x)),
        ("y".into(), stepwedge::data::Column::Numeric(y)),
    ])
    .unwrap();
    let err = Glmm::new("y ~ x + (1 | cluster)")
        .unwrap()
        .link(Link::Log)
        .fit(&cohort)
        .unwrap_err();
    assert!(matches!(err, Error::Boundary { .. }), "{err}");
    assert!(err.to_string().contains("Poisson"));
    // The Poisson mixed model with sandwich errors fits the same data.
    let fit = Glmm::new("y ~ x + (1 | cluster)")
        .unwrap()
        .family(Family::Poisson)
        .vcov(VcovKind::Sandwich)
        .fit(&cohort)
        .unwrap();
    assert_eq!(fit.vcov_kind, VcovKind::Sandwich);
    assert!(fit.boundary.is_none());
}

#[test]
fn marginal_json_has_the_documented_fields() {
    // swfit --json prints this object as "marginal" (see examples/swfit.rs).
    let cohort = sample();
    let (_, m) = Glmm::new("death30 ~ treated + factor(period) + (1 | cluster)")
        .unwrap()
        .vcov(VcovKind::Sandwich)
        .fit_and_standardise(&cohort, &Standardisation::new("treated").bootstrap(20, 3))
        .unwrap();
    let json = serde_json::to_value(&m).unwrap();
    for key in [
        "treatment",
        "target",
        "patients",
        "random_effects",
        "level",
        "vcov_kind",
        "reference_df",
        "risk_treated",
        "risk_control",
        "relative_risk",
        "risk_difference",
        "nnt",
        "bootstrap",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    for key in ["estimate", "std_error", "delta", "percentile", "bca"] {
        assert!(json["risk_difference"].get(key).is_some(), "missing {key}");
    }
    for key in ["estimate", "ci_low", "ci_high", "level"] {
        assert!(
            json["relative_risk"]["delta"].get(key).is_some(),
            "missing {key}"
        );
    }
    assert_eq!(json["target"], "all");
    assert_eq!(json["random_effects"], "integrated");
    assert_eq!(json["vcov_kind"], "Sandwich");
    assert_eq!(json["bootstrap"]["replicates"], 20);
    assert!(json["nnt"]["delta"]["interval"]["kind"].is_string());
}

#[test]
fn linear_mixed_model_standardises_to_its_treatment_coefficient() {
    // With the identity link and no interaction, the standardised difference of mean costs is
    // the treatment coefficient, whatever the target population, with its standard error.
    let cohort = sample();
    let model =
        stepwedge::models::lmm::Lmm::new("cost ~ treated + factor(period) + age + (1 | cluster)")
            .unwrap();
    let (fit, m) = model
        .fit_and_standardise(
            &cohort,
            &Standardisation::new("treated")
                .target(Target::Treated)
                .bootstrap(200, 5),
        )
        .unwrap();
    let b = fit.term("treated").unwrap();
    assert!((m.risk_difference.estimate - b.estimate).abs() < 1e-8 * b.estimate.abs());
    assert!((m.risk_difference.std_error - b.std_error).abs() < 1e-8 * b.std_error);
    let p = m.risk_difference.percentile.unwrap();
    assert!(p.ci_low < b.estimate && b.estimate < p.ci_high);
    assert_eq!(m.bootstrap.as_ref().unwrap().failed, 0);
}

#[test]
fn cost_effectiveness_pairs_a_cost_model_with_an_effect_model() {
    use stepwedge::effects::cost_effectiveness::{cost_effectiveness, CostEffectivenessSpec};
    let cohort = sample();
    let cost =
        stepwedge::models::lmm::Lmm::new("cost ~ treated + factor(period) + age + (1 | cluster)")
            .unwrap()
            .fit(&cohort)
            .unwrap();
    let effect = Glmm::new("death30 ~ treated + factor(period) + age + (1 | cluster)")
        .unwrap()
        .fit(&cohort)
        .unwrap();
    let spec = CostEffectivenessSpec::new("treated").bootstrap(200, 3);
    let ce = cost_effectiveness(&cost, &effect, &cohort, &spec).unwrap();
    // The point estimates are the two standardisations of the same fits.
    let c = Standardisation::new("treated")
        .means(&cost, &cohort)
        .unwrap();
    let e = Standardisation::new("treated")
        .apply(&effect, &cohort)
        .unwrap();
    assert!((ce.incremental_cost.estimate - c.difference.estimate).abs() < 1e-6);
    assert!((ce.incremental_effect.estimate + e.risk_difference.estimate).abs() < 1e-12);
    assert!((ce.icer - ce.incremental_cost.estimate / ce.incremental_effect.estimate).abs() < 1e-6);
    assert_eq!(ce.replicates.len() + ce.failed, 200);
    // The same seed gives the same replicates. At a willingness to pay of 0 the treatment is
    // cost-effective exactly in the replicates where it saves money.
    let again = cost_effectiveness(&cost, &effect, &cohort, &spec).unwrap();
    assert_eq!(ce.replicates, again.replicates);
    let at_zero = &ce.net_benefit[0];
    assert_eq!(at_zero.willingness_to_pay, 0.0);
    let saving = ce.replicates.iter().filter(|p| p[0] < 0.0).count() as f64;
    assert_eq!(
        at_zero.probability_cost_effective,
        saving / ce.replicates.len() as f64
    );
    // The figures of the analysis, with their units.
    let plane = stepwedge::report::figures::cost_effectiveness_plane(
        &ce,
        150_000.0,
        "deaths avoided",
        "DKK",
    )
    .unwrap();
    assert!(plane.contains("Incremental cost (DKK per patient)"));
    assert!(plane.contains("Willingness to pay: 150,000 DKK per death avoided"));
    let curve = stepwedge::report::figures::acceptability_curve(&ce, None, "deaths avoided", "DKK")
        .unwrap();
    assert!(curve.contains("Willingness to pay (DKK per death avoided)"));
    // Models with different clusters cannot share a bootstrap.
    let other = Glm::new("cost ~ treated")
        .unwrap()
        .family(Family::Gamma)
        .cluster("residence")
        .fit(&cohort)
        .unwrap();
    let err = cost_effectiveness(&other, &effect, &cohort, &spec).unwrap_err();
    assert!(err.to_string().contains("same clusters"), "{err}");
}
