//! A mixed logistic model fitted to a CSV file streamed into covariate patterns
//! (`Tally::from_csv_path`, `Glmm::fit_tally`) is the fit to the cohort read whole.

use stepwedge::data::{Cohort, LoadOptions, Tally};
use stepwedge::models::glmm::{Glmm, GlmmFit};

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data-samples/stepped_wedge_sim.csv"
);

/// Both fits of `model` to the CSV text `text`.
fn both(text: &str, model: &Glmm) -> (GlmmFit, GlmmFit) {
    let path = std::env::temp_dir().join(format!(
        "stepwedge-streamed-fit-{}-{}.csv",
        std::process::id(),
        text.len()
    ));
    std::fs::write(&path, text).unwrap();
    let opts = LoadOptions::default();
    let (keys, summed) = model.tally_columns().unwrap();
    let tally = Tally::from_csv_path(&path, &keys, &summed, &opts);
    let cohort = Cohort::from_csv_path(&path, &opts);
    std::fs::remove_file(&path).unwrap();
    let streamed = model.fit_tally(&tally.unwrap().unwrap()).unwrap();
    let whole = model.fit(&cohort.unwrap()).unwrap();
    (streamed, whole)
}

fn assert_same(a: &GlmmFit, b: &GlmmFit) {
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-10 * (1.0 + y.abs());
    assert!(close(a.loglik, b.loglik), "{} {}", a.loglik, b.loglik);
    assert_eq!(a.coefficients.len(), b.coefficients.len());
    for (x, y) in a.coefficients.iter().zip(&b.coefficients) {
        assert_eq!(x.term, y.term);
        assert!(close(x.estimate, y.estimate), "{}", x.term);
        assert!(close(x.std_error, y.std_error), "{}", x.term);
    }
    for (x, y) in a.random_effects.iter().zip(&b.random_effects) {
        assert!(close(x.sd, y.sd));
    }
    assert_eq!(a.n_obs, b.n_obs);
    assert_eq!(a.n_groups, b.n_groups);
    assert_eq!(a.missing, b.missing);
    assert_eq!(a.converged, b.converged);
}

#[test]
fn streamed_and_whole_file_fits_agree() {
    let text = std::fs::read_to_string(SAMPLE).unwrap();
    let model =
        Glmm::new("death30 ~ treated + factor(period) + age + sex + residence + (1 | cluster)")
            .unwrap();
    let (streamed, whole) = both(&text, &model);
    assert_same(&streamed, &whole);
    assert_eq!(streamed.n_obs, 2_611);

    // Missing ages and outcomes, and adaptive quadrature.
    let mut messy = String::new();
    for (i, line) in text.lines().enumerate() {
        let mut cells: Vec<&str> = line.split(',').collect();
        if i % 89 == 7 {
            cells[4] = "NA";
        }
        if i % 157 == 11 {
            cells[7] = "";
        }
        messy.push_str(&cells.join(","));
        messy.push('\n');
    }
    let model = Glmm::new("death30 ~ treated + factor(period) + age + (1 | cluster)")
        .unwrap()
        .nagq(9);
    let (streamed, whole) = both(&messy, &model);
    assert_same(&streamed, &whole);
    assert!(streamed.n_obs < 2_611 && streamed.missing.by_variable.len() == 2);
}

#[test]
fn models_without_patterns_are_not_fitted_to_a_tally() {
    let poisson = Glmm::new("death30 ~ treated + (1 | cluster)")
        .unwrap()
        .family(stepwedge::models::glm::Family::Poisson);
    assert!(poisson.tally_columns().is_none());
    let weighted = Glmm::new("death30 ~ treated + (1 | cluster)")
        .unwrap()
        .weights("age");
    assert!(weighted.tally_columns().is_none());
    let scaled = Glmm::new("death30 ~ treated + scale(age) + (1 | cluster)").unwrap();
    assert!(scaled.tally_columns().is_none());
}
