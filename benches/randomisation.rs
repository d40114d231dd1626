//! Issue 15's speed targets for randomisation tests of a Hussey & Hughes mixed model
//! `death30 ~ treated + factor(period) + (1 | cluster)` (binomial, Laplace):
//!
//! (a) the exact test, all 720 allocations, of a 6-cluster stepped wedge over 7 periods (one
//! cluster crossing over in each of periods 2..7; Poisson cluster-period sizes of mean
//! 2,609 / 42, seed 2609, the first 2,609 of 2,640 patients; its cluster SD is estimated at 0.07,
//! so that 92 of the 720 refits end on the boundary, SD 0): target under 0.5 s;
//! (b) 10,000 Monte Carlo allocations of a 20-cluster stepped wedge over 11 periods (two clusters
//! crossing over in each of periods 2..11; Poisson sizes of mean 1.02 x 100,000 / 220, seed
//! 100000, the first 100,000 patients): target under 10 s.
//!
//! Each is timed on the fitted model (the fit itself is `glmm_fit`'s concern), and once with its
//! randomisation interval (test inversion) for (a).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use stepwedge::data::Cohort;
use stepwedge::effects::randomisation::Randomisation;
use stepwedge::models::glmm::Glmm;
use stepwedge::sim::{ClusterSize, SimConfig};

/// The first `patients` patients of a stepped wedge of `clusters` clusters over `periods`
/// periods with Poisson cluster-period sizes of mean `more` times `patients / (clusters
/// periods)` (simulated with seed `patients`).
fn trial(clusters: usize, periods: usize, patients: usize, more: f64) -> Cohort {
    let mut config = SimConfig::stepped_wedge(clusters, periods);
    config.cluster_size = ClusterSize::Poisson {
        mean: more * patients as f64 / (clusters * periods) as f64,
    };
    let all = config
        .simulate(patients as u64)
        .expect("valid configuration");
    let first: Vec<usize> = (0..patients).collect();
    all.select_rows(&first).expect("enough patients")
}

fn bench(c: &mut Criterion) {
    let model = Glmm::new("death30 ~ treated + factor(period) + (1 | cluster)").expect("formula");

    let small = trial(6, 7, 2609, 1.0);
    let fit = model.fit(&small).expect("fit");
    let exact = Randomisation::new("treated");
    let mut group = c.benchmark_group("randomisation_6_clusters");
    group.sample_size(20);
    group.bench_function("exact_720_glmm_2609", |b| {
        b.iter(|| black_box(exact.run(&fit, &small).map(|t| t.p_value)))
    });
    let with_interval = Randomisation::new("treated").interval(0.95);
    group.bench_function("exact_720_with_interval", |b| {
        b.iter(|| black_box(with_interval.run(&fit, &small).map(|t| t.p_value)))
    });
    group.finish();

    let large = trial(20, 11, 100_000, 1.02);
    let fit = model.fit(&large).expect("fit");
    let monte_carlo = Randomisation::new("treated").monte_carlo(10_000, 1);
    let mut group = c.benchmark_group("randomisation_20_clusters");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(60));
    group.bench_function("monte_carlo_10000_glmm_100000", |b| {
        b.iter(|| black_box(monte_carlo.run(&fit, &large).map(|t| t.p_value)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
