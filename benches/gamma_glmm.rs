//! The gamma mixed model of costs (`tests/reference/data/cost/costs_a.csv`, 1,862 patients in
//! 12 clusters, `cost ~ treated + factor(period) + age + (1 | cluster)`, log link), as in the
//! glmmTMB reference test: the whole fit, whose shape is estimated with the fixed effects and
//! the variance component.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::models::glm::Family;
use stepwedge::models::glmm::Glmm;

fn gamma_shape_joint(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/data/cost/costs_a.csv"
    );
    let cohort = Cohort::from_csv_path(path, &LoadOptions::default()).expect("cost data");
    let model = Glmm::new("cost ~ treated + factor(period) + age + (1 | cluster)")
        .expect("formula")
        .family(Family::Gamma);
    let mut group = c.benchmark_group("gamma_glmm");
    group.sample_size(10);
    group.bench_function("gamma_shape_joint", |b| {
        b.iter(|| black_box(model.fit(&cohort).map(|f| f.loglik)))
    });
    group.finish();
}

criterion_group!(benches, gamma_shape_joint);
criterion_main!(benches);
