//! Mixed models with crossed random effects (issue 18): the Laplace fit at the joint conditional
//! mode of all random effects.
//! (a) lme4's grouseticks, `TICKS ~ YEAR + HEIGHT_s + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)`
//!     (Poisson; 403 rows, 584 random effects);
//! (b) 3,000 simulated patients grouped by 30 hospitals crossed with 98 municipalities,
//!     `death30 ~ treated + age + sex + (1 | hospital) + (1 | municipality)` (logistic);
//! (c) the same model on 100,000 simulated patients of the same design
//!     (`hospital_municipality_100k.csv`, written by `crossed_100k.R`).
//!
//! All data sets are those of `tests/reference/crossed/`; R's times on them (glmer and glmmTMB,
//! medians over the number of runs recorded as `runs` in `crossed_timings.json`) come from one
//! run of `tests/reference/crossed/crossed_timing.R`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::models::glm::Family;
use stepwedge::models::glmm::Glmm;

fn cohort(file: &str) -> Cohort {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference/crossed")
        .join(file);
    Cohort::from_csv_path(path, &LoadOptions::default()).expect("reference data")
}

fn bench(c: &mut Criterion) {
    let grouseticks = cohort("grouseticks.csv");
    let ticks =
        Glmm::new("TICKS ~ factor(YEAR) + HEIGHT_s + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)")
            .expect("formula")
            .family(Family::Poisson);
    let patients = cohort("hospital_municipality.csv");
    let patients_100k = cohort("hospital_municipality_100k.csv");
    let crossed = Glmm::new("death30 ~ treated + age + sex + (1 | hospital) + (1 | municipality)")
        .expect("formula");
    let mut group = c.benchmark_group("crossed");
    group.sample_size(10);
    group.bench_function("a_grouseticks", |b| {
        b.iter(|| black_box(ticks.fit(&grouseticks).map(|f| f.loglik)))
    });
    group.bench_function("b_hospital_municipality_3000", |b| {
        b.iter(|| black_box(crossed.fit(&patients).map(|f| f.loglik)))
    });
    group.bench_function("c_hospital_municipality_100000", |b| {
        b.iter(|| black_box(crossed.fit(&patients_100k).map(|f| f.loglik)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
