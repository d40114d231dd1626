//! Linear mixed model fits (REML, Satterthwaite df as `Lmm::fit`'s default):
//! (a) lme4's sleepstudy, `Reaction ~ Days + (Days | Subject)` (180 rows, correlated random
//!     intercept and slope, three thetas; `tests/reference/kenward_roger/sleepstudy.csv`);
//! (b) the cost model of `tests/reference/data/cost/costs_a.csv` (1,862 rows),
//!     `cost ~ treated + factor(period) + age + (1 | cluster)`;
//! (c) the same with nested cluster-period intercepts, `+ (1 | cluster:period)`;
//! (d) the cost model of (b) on 100,100 simulated patients (`stepwedge::sim`, 20 clusters x 11
//!     periods x 455, seed 19: the cohort of `benches/glmm_fit.rs`'s case (e), whose `cost`
//!     column is gamma distributed).
//!
//! R's times on the same files (`lmer`, median of 5 runs) come from one run of
//! `tests/reference/lmm_timing.R` (`tests/reference/lmm_timings.json`); for (d),
//! `tests/reference/slope_timing.R` (`tests/reference/slope_timings.json`).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::models::lmm::Lmm;
use stepwedge::sim::{ClusterSize, SimConfig};

fn cohort(file: &str) -> Cohort {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference")
        .join(file);
    Cohort::from_csv_path(path, &LoadOptions::default()).expect("reference data")
}

fn bench(c: &mut Criterion) {
    let sleepstudy = cohort("kenward_roger/sleepstudy.csv");
    let costs = cohort("data/cost/costs_a.csv");
    let days = Lmm::new("Reaction ~ Days + (Days | Subject)").expect("formula");
    let cluster =
        Lmm::new("cost ~ treated + factor(period) + age + (1 | cluster)").expect("formula");
    let nested =
        Lmm::new("cost ~ treated + factor(period) + age + (1 | cluster) + (1 | cluster:period)")
            .expect("formula");
    let mut group = c.benchmark_group("lmm");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("a_sleepstudy_days_subject", |b| {
        b.iter(|| black_box(days.fit(&sleepstudy).map(|f| f.loglik)))
    });
    group.bench_function("b_costs_cluster", |b| {
        b.iter(|| black_box(cluster.fit(&costs).map(|f| f.loglik)))
    });
    group.bench_function("c_costs_nested", |b| {
        b.iter(|| black_box(nested.fit(&costs).map(|f| f.loglik)))
    });

    let mut config = SimConfig::stepped_wedge(20, 11);
    config.cluster_size = ClusterSize::Fixed(455);
    let large = config.simulate(19).expect("valid configuration");
    group.bench_function("d_costs_100000", |b| {
        b.iter(|| black_box(cluster.fit(&large).map(|f| f.loglik)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
