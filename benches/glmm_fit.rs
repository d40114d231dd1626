//! Mixed-effects logistic fits on simulated stepped-wedge cohorts (issue 3's speed targets):
//! (a) 2,619 patients (Poisson cluster-period sizes with mean 2,609 / 96), 12 clusters x 8
//!     periods, treatment + period, random cluster intercept;
//! (b) 999,600 patients, 50 clusters x 12 periods x 1,666, treatment + period + age + sex +
//!     residence, random cluster intercept, from the in-memory cohort and from the CSV file;
//! (c) as (b) without the continuous covariate;
//! (d) the cohort of (a) with nested random intercepts `(1 | cluster) + (1 | cluster:period)`,
//!     by adaptive Gauss-Hermite quadrature with 25 nodes and by the Laplace approximation
//!     (the simulator has no cluster-period effect: the fits are singular); (f) the same
//!     quadrature on a cohort simulated as (a) with a cluster-period SD of 0.6;
//! (e) 100,100 patients, 20 clusters x 11 periods x 455 (two clusters cross over at each of periods
//!     2-11), treatment + period with a random treatment effect correlated with the cluster
//!     intercept, `(1 + treated | cluster)` (three thetas), Laplace. The simulator has no random
//!     treatment effect: its variance is estimated near 0 on these data.
//!
//! The same cohorts as CSV, for R (`tests/reference/glmm_bench_timing.R`), come from the
//! `simulate_cohort` example: `--clusters 12 --periods 8 --size 27.177083333333332 --seed 2609`
//! and `--clusters 50 --periods 12 --size 1666 --fixed --seed 1`; the cohort of (e), for
//! `tests/reference/slope_timing.R`, is `--clusters 20 --periods 11 --size 455 --fixed --seed 19`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::models::glmm::Glmm;
use stepwedge::sim::{ClusterSize, SimConfig};

fn config(clusters: usize, periods: usize, size: ClusterSize) -> SimConfig {
    let mut c = SimConfig::stepped_wedge(clusters, periods);
    c.cluster_size = size;
    c
}

fn cohort(clusters: usize, periods: usize, size: ClusterSize, seed: u64) -> Cohort {
    config(clusters, periods, size)
        .simulate(seed)
        .expect("valid configuration")
}

fn bench(c: &mut Criterion) {
    let small = cohort(
        12,
        8,
        ClusterSize::Poisson {
            mean: 2609.0 / 96.0,
        },
        2609,
    );
    let small_model =
        Glmm::new("death30 ~ treated + factor(period) + (1 | cluster)").expect("formula");
    let mut group = c.benchmark_group("glmm");
    group.sample_size(20);
    group.bench_function("a_2609_patients", |b| {
        b.iter(|| black_box(small_model.fit(&small).map(|f| f.loglik)))
    });
    group.finish();

    let nested = "death30 ~ treated + factor(period) + (1 | cluster) + (1 | cluster:period)";
    let mut group = c.benchmark_group("glmm_nested");
    group.sample_size(20);
    for (name, nodes) in [("d_2609_nagq25", 25), ("d_2609_laplace", 1)] {
        let model = Glmm::new(nested).expect("formula").nagq(nodes);
        group.bench_function(name, |b| {
            b.iter(|| black_box(model.fit(&small).map(|f| f.loglik)))
        });
    }
    // (d) fits a cluster-period SD of 0 (the simulator has none); (f) has one of 0.6.
    let size = ClusterSize::Poisson {
        mean: 2609.0 / 96.0,
    };
    let mut varying = config(12, 8, size);
    varying.outcome.effects.cluster_period_sd = 0.6;
    let varying = varying.simulate(2609).expect("valid configuration");
    let model = Glmm::new(nested).expect("formula").nagq(25);
    group.bench_function("f_2609_nagq25_cluster_period_sd", |b| {
        b.iter(|| black_box(model.fit(&varying).map(|f| f.loglik)))
    });
    group.finish();

    let slopes = cohort(20, 11, ClusterSize::Fixed(455), 19);
    let slope_model =
        Glmm::new("death30 ~ treated + factor(period) + (1 + treated | cluster)").expect("formula");
    let mut group = c.benchmark_group("glmm_slope");
    group.sample_size(10);
    group.bench_function("e_100000_random_treatment", |b| {
        b.iter(|| black_box(slope_model.fit(&slopes).map(|f| f.loglik)))
    });
    group.finish();

    let large = cohort(50, 12, ClusterSize::Fixed(1_000_000 / 600), 1);
    let path =
        std::env::temp_dir().join(format!("stepwedge-glmm-bench-{}.csv", std::process::id()));
    large.write_csv(&path).expect("temporary file");
    let with_age =
        Glmm::new("death30 ~ treated + factor(period) + age + sex + residence + (1 | cluster)")
            .expect("formula");
    let without_age =
        Glmm::new("death30 ~ treated + factor(period) + sex + residence + (1 | cluster)")
            .expect("formula");
    let mut group = c.benchmark_group("glmm_1m");
    group.sample_size(10);
    group.bench_function("b_in_memory", |b| {
        b.iter(|| black_box(with_age.fit(&large).map(|f| f.loglik)))
    });
    group.bench_function("b_from_csv", |b| {
        b.iter(|| {
            let cohort = Cohort::from_csv_path(&path, &LoadOptions::default()).expect("load");
            black_box(with_age.fit(&cohort).map(|f| f.loglik))
        })
    });
    group.bench_function("c_in_memory", |b| {
        b.iter(|| black_box(without_age.fit(&large).map(|f| f.loglik)))
    });
    group.finish();
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, bench);
criterion_main!(benches);
