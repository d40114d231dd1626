//! The regional Kom Trygt Hjem rollout: the bundled synthetic cohort regenerates byte for byte,
//! the library path of `examples/kth_rollout.rs` reproduces the published numbers within the
//! stated tolerances, its report files hold every printed estimate, the calibration finds the
//! committed parameters again, and the own-home bootstraps keep their separated samples
//! (refitted to the limit) and report their failures.

use std::sync::OnceLock;

use stepwedge::core::error::Error;
use stepwedge::data::{Cohort, Column, LoadOptions};
use stepwedge::effects::cost_effectiveness::{cost_effectiveness, CostEffectivenessSpec};
use stepwedge::effects::standardise::Standardisation;
use stepwedge::models::coef_table::CoefRow;
use stepwedge::models::fitted::Fitted;
use stepwedge::models::glm::Glm;
use stepwedge::models::glmm::Glmm;
use stepwedge::models::lmm::Lmm;
use stepwedge::studies::kth_rollout::synthetic::KthRollout;
use stepwedge::studies::kth_rollout::{
    analyse, calibrate, estimates, headline, nnt_bound, prepare, report_files, write_report,
    Analysis, Crude, Options, OWN_HOME_COST, OWN_HOME_MORTALITY,
};

fn sample_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data-samples/kth_rollout_synthetic.csv")
}

fn sample() -> Cohort {
    Cohort::from_csv_path(sample_path(), &LoadOptions::default()).unwrap()
}

/// The analysis of the bundled sample with 200 bootstrap replicates, run once for the tests
/// that read it.
fn analysis() -> &'static Analysis {
    static ANALYSIS: OnceLock<Analysis> = OnceLock::new();
    ANALYSIS.get_or_init(|| {
        let options = Options {
            bootstrap: 200,
            ..Options::default()
        };
        analyse(sample(), &options).unwrap()
    })
}

#[test]
fn synthetic_sample_regenerates_byte_for_byte() {
    // `simulate_cohort --kth-rollout --out data-samples/kth_rollout_synthetic.csv`
    let cohort = KthRollout::calibrated().simulate(KthRollout::SEED).unwrap();
    let mut bytes = Vec::new();
    cohort.write_csv_to(&mut bytes).unwrap();
    let committed = std::fs::read(sample_path()).unwrap();
    assert!(
        bytes == committed,
        "data-samples/kth_rollout_synthetic.csv differs from the simulator's output"
    );
}

#[test]
fn published_table_is_reproduced_within_tolerance() {
    let a = analysis();
    let failing: Vec<String> = a
        .table
        .rows
        .iter()
        .filter(|r| !r.within)
        .map(|r| format!("{}: {} vs {}", r.quantity, r.published_text, r.reproduced))
        .collect();
    assert!(
        failing.is_empty(),
        "outside tolerance: {failing:?}\n{}",
        a.table
    );
    assert_eq!(a.table.rows.len(), 19);
    // The exact margins.
    assert_eq!(a.mortality_crude.kth, (42, 524));
    assert_eq!(a.mortality_crude.usual, (248, 2085));
    let row = |q: &str| a.table.row(q).unwrap().reproduced;
    // Stated tolerances, checked here by hand as well.
    assert!((row("30-day mortality, adjusted OR") / 0.60 - 1.0).abs() <= 0.02);
    assert!((row("  OR 95% CI, lower (profile)") - 0.37).abs() <= 0.05);
    assert!((row("  OR 95% CI, upper (profile)") - 0.85).abs() <= 0.05);
    assert!((row("30-day readmission, adjusted RR") / 1.28 - 1.0).abs() <= 0.02);
    assert!((row("  RR 95% CI, lower") - 1.05).abs() <= 0.05);
    assert!((row("  RR 95% CI, upper") - 1.56).abs() <= 0.05);
    assert!((row("patients per life saved (NNT, own home)") - 19.0).abs() <= 1.0);
    assert!((row("cost per saved life, DKK (own home)") / 161_060.0 - 1.0).abs() <= 0.02);
    // The models converged, and the RR's interval is symmetric on the log scale (Wald).
    assert!(a.mortality.converged && a.readmission.converged && a.own_home.mortality.converged);
    let rr = &a.readmission.ratio;
    assert!(((rr.estimate / rr.ci_low).ln() - (rr.ci_high / rr.estimate).ln()).abs() < 1e-9);
    // The bound that sends the NNT to the own-home patients holds for the whole cohort.
    assert!(a.whole_cohort.nnt.delta.nnt >= a.whole_cohort_nnt_bound);
    assert!(a.whole_cohort_nnt_bound > 20.0);
    // The LKT indicators are computed from the scores.
    assert_eq!(a.mobility.len(), 2);
    assert!(a
        .mobility
        .iter()
        .all(|m| m.crude.kth.1 > 400 && m.effect.converged));
    // The rollout diagram: Fyn starts on 1 January 2024, Sønderjylland on 15 September 2023.
    let share = |name: &str, month: &str| a.rollout.share(name, month).unwrap();
    assert_eq!(share("Fyn", "2023-12"), 0.0);
    assert_eq!(share("Fyn", "2024-01"), 1.0);
    let september = share("Sønderjylland", "2023-09");
    assert!((september - 16.0 / 30.0).abs() < 1e-12, "{september}");
    // The months are calendar periods with their dates.
    let january = a.rollout.design.period_index("2024-01").unwrap();
    let period = &a.rollout.design.periods()[january];
    assert_eq!(period.days(), Some(31));
    assert_eq!(period.start.unwrap().to_string(), "2024-01-01");
    // Patients per cluster and month add up to the cohort.
    let counts = a.rollout.counts.as_ref().unwrap();
    assert_eq!(counts.iter().flatten().sum::<usize>(), 524 + 2085);
    assert_eq!(counts.len(), a.rollout.design.n_clusters());
}

#[test]
fn report_files_are_written_with_every_printed_estimate() {
    let a = analysis();
    let names = [
        "kth_rollout.json",
        "forest_plot.svg",
        "cost_effectiveness_plane.svg",
        "acceptability_curve.svg",
        "rollout.svg",
        "estimates.csv",
    ];
    let files = report_files(a).unwrap();
    assert_eq!(files.iter().map(|f| f.0).collect::<Vec<_>>(), names);
    let dir = std::env::temp_dir().join(format!("kth_rollout_report_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Written twice: the second report replaces the first.
    write_report(a, &dir).unwrap();
    let written = write_report(a, &dir).unwrap();
    assert_eq!(written, names.map(|n| dir.join(n)));
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&read("kth_rollout.json")).unwrap();
    assert_eq!(json["mortality_crude"]["kth"][0], 42);
    for (name, text) in [
        ("forest_plot.svg", "favours usual care"),
        (
            "cost_effectiveness_plane.svg",
            "Willingness to pay: 161,060 DKK",
        ),
        (
            "acceptability_curve.svg",
            "Willingness to pay used: 161,060 DKK",
        ),
        ("rollout.svg", "Sydvestjylland"),
    ] {
        let svg = read(name);
        assert!(
            svg.starts_with("<svg") && svg.contains(text),
            "{name}: {text}"
        );
    }
    // estimates.csv: the header, then one row per estimate, equal to the analysis' numbers.
    let csv_text = read("estimates.csv");
    assert_eq!(
        csv_text.lines().next().unwrap(),
        "quantity,model,estimate,ci_low,ci_high,method,published,source,within_tolerance"
    );
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), estimates(a).len());
    let number = |cell: &str| cell.parse::<f64>().unwrap();
    let record = |quantity: &str| {
        let found: Vec<&csv::StringRecord> = records.iter().filter(|r| &r[0] == quantity).collect();
        assert_eq!(found.len(), 1, "{quantity}");
        found[0]
    };
    // Every row of the printed table, with its published value and agreement.
    for row in &a.table.rows {
        let r = record(&row.quantity);
        assert_eq!(number(&r[2]), row.reproduced, "{}", row.quantity);
        assert_eq!(number(&r[6]), row.published, "{}", row.quantity);
        assert_eq!(
            (&r[7], &r[8]),
            (row.source.as_str(), row.within.to_string().as_str())
        );
    }
    let or = record("30-day mortality, adjusted OR");
    let profile = a.mortality.profile.unwrap();
    assert_eq!(
        (number(&or[3]), number(&or[4])),
        (profile.ci_low, profile.ci_high)
    );
    assert!(or[1].contains("death30 ~ kth") && or[5].contains("profile"));
    // Estimates without a published value, as the report prints them.
    let printed = a.to_string();
    let unpublished = records.iter().filter(|r| r[6].is_empty()).count();
    assert_eq!(unpublished, records.len() - a.table.rows.len());
    assert!(records
        .iter()
        .filter(|r| r[6].is_empty())
        .all(|r| r[7].is_empty() && r[8].is_empty()));
    let interval3 = |r: &csv::StringRecord| {
        format!(
            "{:.3} ({:.3}-{:.3})",
            number(&r[2]),
            number(&r[3]),
            number(&r[4])
        )
    };
    let wald = record("30-day mortality, adjusted OR (Wald CI)");
    assert!(
        printed.contains(&format!("OR {} Wald", interval3(wald))),
        "{printed}"
    );
    let quarter = [
        record("30-day mortality, adjusted OR + calendar quarter"),
        record("30-day readmission, adjusted RR + calendar quarter"),
    ];
    let sensitivity = format!("OR {}, RR {}", interval3(quarter[0]), interval3(quarter[1]));
    assert!(printed.contains(&sensitivity), "{sensitivity}");
    let cost = record("own home: incremental cost per patient, DKK");
    let cost_text = format!(
        "incremental cost {:.0} DKK per patient (bootstrap {:.0} to {:.0})",
        number(&cost[2]),
        number(&cost[3]),
        number(&cost[4])
    );
    assert!(printed.contains(&cost_text), "{cost_text}");
    let nnt = record("whole cohort: patients per life saved (NNT)");
    assert!(printed.contains(&format!("NNT {:.1}", number(&nnt[2]))));
    let cas = record("cas_regained, standardised difference, points");
    assert!(printed.contains(&format!("difference {:+.1} points", number(&cas[2]))));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn nnt_bound_is_the_jensen_bound() {
    // OR 0.60, 42/524 vs 248/2085: the control risk under treatment h(p) = OR p / (1 - p + OR p),
    // the treated risk without treatment g(p) = p / (OR + (1 - OR) p).
    let crude = Crude {
        kth: (42, 524),
        usual: (248, 2085),
    };
    let (pt, pc) = (42.0 / 524.0, 248.0 / 2085.0);
    let h = 0.6 * pc / (1.0 - pc + 0.6 * pc);
    let g = pt / (0.6 + 0.4 * pt);
    let expected = 2609.0 / (2085.0 * (pc - h) + 524.0 * (g - pt));
    assert!((nnt_bound(0.6, &crude) - expected).abs() < 1e-12);
    assert!((nnt_bound(0.6, &crude) - 22.45).abs() < 0.01);
    assert_eq!(nnt_bound(1.2, &crude), f64::INFINITY);
}

#[test]
fn kth_before_the_rollout_start_names_the_patient() {
    let mut cohort = sample();
    // Patient 1 is a usual-care patient operated in July 2022; make them a KTH patient.
    let mut kth = cohort.numeric("kth").unwrap().to_vec();
    kth[0] = 1.0;
    let others: Vec<(String, Column)> = cohort
        .iter()
        .map(|(n, c)| {
            (
                n.to_string(),
                if n == "kth" {
                    Column::Numeric(kth.clone())
                } else {
                    c.clone()
                },
            )
        })
        .collect();
    cohort = Cohort::from_columns(others).unwrap();
    let err = prepare(cohort, None).unwrap_err();
    assert!(matches!(err, Error::DateOrder { row: 1, .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("patient 1") && text.contains("rollout_start"),
        "{text}"
    );
}

#[test]
fn calibration_finds_the_committed_parameters_again() {
    // From a start away from the committed values, the calibration returns to estimates within
    // 1% of the targets, and the committed configuration gives them within the table's
    // tolerances.
    let mut start = KthRollout::calibrated();
    start.mortality.residence[1] = 0.8;
    start.readmission.residence[1] = 0.2;
    start.costs.kth_municipality = 2000.0;
    let found = calibrate(start, KthRollout::SEED).unwrap();
    let h = found.headline;
    assert!((h.odds_ratio / 0.60 - 1.0).abs() < 0.01, "{h:?}");
    assert!((h.relative_risk / 1.28 - 1.0).abs() < 0.01, "{h:?}");
    assert!((h.own_home_nnt / 19.0 - 1.0).abs() < 0.01, "{h:?}");
    assert!(
        (h.own_home_cost_per_life / 161_060.0 - 1.0).abs() < 0.01,
        "{h:?}"
    );
    let committed = headline(&prepare(sample(), None).unwrap()).unwrap();
    assert!((committed.odds_ratio / h.odds_ratio - 1.0).abs() < 0.02);
    assert!((committed.own_home_cost_per_life / h.own_home_cost_per_life - 1.0).abs() < 0.02);
}

/// The own-home patients of the bundled cohort, outcomes derived.
fn own_home() -> Cohort {
    let cohort = prepare(sample(), None).unwrap().cohort;
    let own = cohort.numeric("own_home").unwrap();
    let rows: Vec<usize> = (0..own.len()).filter(|&i| own[i] == 1.0).collect();
    cohort.select_rows(&rows).unwrap()
}

#[test]
fn own_home_bootstraps_lose_at_most_one_replicate_in_a_thousand_and_report_the_count() {
    let own = own_home();
    let mortality = Glmm::new(OWN_HOME_MORTALITY).unwrap().fit(&own).unwrap();
    let cost = Lmm::new(OWN_HOME_COST).unwrap().fit(&own).unwrap();
    // The joint bootstrap of the published cost per saved life: 1,000 samples of the 18
    // municipalities, 10 of which separate the outcome (no death among the drawn ASA 1 or KTH
    // patients). Those refits reach the likelihood's supremum and are kept.
    let spec = CostEffectivenessSpec::new("kth").bootstrap(1000, 1);
    let ce = cost_effectiveness(&cost, &mortality, &own, &spec).unwrap();
    assert!(
        ce.failed <= 1,
        "{} failed: {:?}",
        ce.failed,
        ce.first_failure
    );
    assert_eq!(ce.replicates.len() + ce.failed, 1000);
    let json = serde_json::to_value(&ce).unwrap();
    assert_eq!(json["failed"], ce.failed);
    assert!(json.as_object().unwrap().contains_key("first_failure"));
    // The marginal bootstrap (with the 18 jackknife refits of BCa) on the same samples.
    let marginal = Standardisation::new("kth")
        .bootstrap(1000, 1)
        .apply(&mortality, &own)
        .unwrap();
    let boot = marginal.bootstrap.as_ref().unwrap();
    assert!(
        boot.failed <= 1,
        "{} failed: {:?}",
        boot.failed,
        boot.first_failure
    );
    let json = serde_json::to_value(&marginal).unwrap();
    assert_eq!(json["bootstrap"]["failed"], boot.failed);
    assert!(json["bootstrap"]
        .as_object()
        .unwrap()
        .contains_key("first_failure"));
    let printed = marginal.to_string();
    assert!(
        printed.contains(&format!("1000 replicates (seed 1), {} failed", boot.failed)),
        "{printed}"
    );
}

#[test]
fn a_separated_sample_is_refitted_to_its_limit() {
    let own = own_home();
    // Municipality indices of two of the samples above, in the sorted order of their names:
    // among the drawn municipalities, no KTH patient died in the first, no ASA 1 patient in the
    // second (the whole cohort has deaths in both).
    let no_kth_death = vec![
        17, 2, 11, 10, 11, 11, 12, 7, 7, 17, 17, 10, 9, 17, 11, 4, 16, 12,
    ];
    let no_asa1_death = vec![
        7, 12, 5, 13, 15, 12, 17, 17, 17, 15, 5, 17, 7, 2, 9, 9, 14, 14,
    ];
    let mut names: Vec<String> = own.levels("municipality").unwrap().to_vec();
    names.sort();
    let municipality = own.column("municipality").unwrap();
    let (death, kth, asa) = (
        own.numeric("death30").unwrap(),
        own.numeric("kth").unwrap(),
        own.numeric("asa").unwrap(),
    );
    // Patients and deaths of the drawn municipalities among the rows `among`.
    let counts = |sample: &[usize], among: &dyn Fn(usize) -> bool| {
        let drawn = |i: usize| {
            municipality
                .label(i)
                .is_some_and(|m| sample.iter().any(|&g| names[g] == m))
        };
        let rows: Vec<usize> = (0..own.n_rows())
            .filter(|&i| drawn(i) && among(i))
            .collect();
        let deaths = rows.iter().filter(|&&i| death[i] == 1.0).count();
        (rows.len(), deaths)
    };
    let (patients, deaths) = counts(&no_kth_death, &|i| kth[i] == 1.0);
    assert!(patients > 20 && deaths == 0, "{patients} {deaths}");
    let (patients, deaths) = counts(&no_asa1_death, &|i| asa[i] == 1.0);
    assert!(patients > 20 && deaths == 0, "{patients} {deaths}");
    assert!(counts(&(0..18).collect::<Vec<_>>(), &|i| asa[i] == 1.0).1 > 0);

    let glmm = Glmm::new(OWN_HOME_MORTALITY).unwrap().fit(&own).unwrap();
    let glm = Glm::new("death30 ~ kth + age + sex + factor(asa)")
        .unwrap()
        .cluster("municipality")
        .fit(&own)
        .unwrap();
    let at = |rows: &[CoefRow], term: &str| rows.iter().position(|r| r.term == term).unwrap();
    let (glmm_rows, glm_rows) = (glmm.coefficients(), glm.coefficients());
    // Both refits diverge along the separating direction, far beyond the full-data estimates.
    let psi = glmm.refit(&no_kth_death, &mut glmm.workspace()).unwrap();
    assert!(psi[at(glmm_rows, "kth")] < -15.0, "{psi:?}");
    let psi = glmm.refit(&no_asa1_death, &mut glmm.workspace()).unwrap();
    assert!(psi[at(glmm_rows, "(Intercept)")] < -20.0, "{psi:?}");
    assert!(psi[at(glmm_rows, "factor(asa)2")] > 15.0, "{psi:?}");
    let beta = glm.refit(&no_kth_death, &mut glm.workspace()).unwrap();
    assert!(beta[at(glm_rows, "kth")] < -15.0, "{beta:?}");
    let beta = glm.refit(&no_asa1_death, &mut glm.workspace()).unwrap();
    assert!(beta[at(glm_rows, "(Intercept)")] < -20.0, "{beta:?}");
    // The replicate's standardised risk if every patient were treated is the limit, 0.
    let marginal = Standardisation::new("kth")
        .bootstrap_samples(vec![no_kth_death; 2])
        .apply(&glmm, &own)
        .unwrap();
    assert_eq!(marginal.bootstrap.as_ref().unwrap().failed, 0);
    let treated = marginal.risk_treated.percentile.unwrap();
    assert!(treated.ci_high < 1e-6, "{treated:?}");
    assert!(marginal.risk_control.percentile.unwrap().ci_low > 0.05);
}

#[test]
fn population_averaged_effects_sit_beside_the_mixed_models() {
    let a = analysis();
    let measures: Vec<&str> = a
        .population_averaged
        .iter()
        .map(|p| p.measure.as_str())
        .collect();
    assert_eq!(measures, ["odds ratio", "relative risk"]);
    // 18 municipalities less 11 mean parameters.
    assert!(a.population_averaged.iter().all(|p| p.df == 7.0));
    // Marginal and conditional effects differ little when the municipalities hardly differ.
    let (gee, mixed) = (&a.population_averaged[0].ratio, &a.mortality.ratio);
    assert!(
        (gee.estimate.ln() - mixed.estimate.ln()).abs() < 0.05,
        "{gee:?} {mixed:?}"
    );
    assert!(gee.ci_low < gee.estimate && gee.estimate < gee.ci_high);
    let rr = &a.population_averaged[1].ratio;
    assert!((rr.estimate.ln() - a.readmission.ratio.estimate.ln()).abs() < 0.05);
}
