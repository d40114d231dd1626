//! Logistic GLM on a 100,000-patient simulated stepped-wedge cohort (50 clusters x 10 periods x
//! 200 patients): the fit with model-based errors, and the cluster-robust CR1 and CR3 matrices
//! from the fitted model.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use stepwedge::models::glm::Glm;
use stepwedge::models::vcov::VcovKind;
use stepwedge::sim::{ClusterSize, SimConfig};

fn bench(c: &mut Criterion) {
    let mut config = SimConfig::stepped_wedge(50, 10);
    config.cluster_size = ClusterSize::Fixed(200);
    let cohort = config.simulate(7).expect("valid configuration");
    let glm = Glm::new("death30 ~ treated + factor(period) + age + sex + residence")
        .expect("formula")
        .cluster("cluster");
    let mut group = c.benchmark_group("glm_100k");
    group.sample_size(10);
    group.bench_function("fit_logistic", |b| {
        b.iter(|| black_box(glm.fit(&cohort).map(|f| f.loglik)))
    });
    let fit = glm.fit(&cohort).expect("fit");
    for kind in [VcovKind::CR1, VcovKind::CR3] {
        group.bench_function(format!("vcov_{kind:?}"), |b| {
            b.iter(|| black_box(fit.vcov_matrix(kind).map(|v| v[(0, 0)])))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
