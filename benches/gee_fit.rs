//! GEE on the bundled stepped-wedge sample (`data-samples/stepped_wedge_sim.csv`: 2,611 patients,
//! 12 clusters x 8 periods): the nested exchangeable working correlation with UEE and with MAEE
//! (and with a patient covariate, age), and the exponential decay with MAEE, each fit computing
//! every variance (model, BC0, KC, MD, FG, MBN, AVG); and the Hussey & Hughes
//! mean model with MAEE on a simulated 1,000,200-patient stepped wedge (50 clusters x 12
//! periods x 1,667 patients).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::models::gee::{Gee, WorkingCorrelation};
use stepwedge::sim::{ClusterSize, SimConfig};

fn bench(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data-samples/stepped_wedge_sim.csv"
    );
    let cohort = Cohort::from_csv_path(path, &LoadOptions::default()).expect("sample");
    let mut group = c.benchmark_group("gee_2611");
    group.sample_size(20);
    let nested = WorkingCorrelation::NestedExchangeable;
    let plain = "death30 ~ treated + factor(period)";
    for (name, correlation, maee, formula) in [
        ("nested_uee", nested, false, plain),
        ("nested_maee", nested, true, plain),
        (
            "nested_maee_age",
            nested,
            true,
            "death30 ~ treated + factor(period) + age",
        ),
        (
            "decay_maee",
            WorkingCorrelation::ExponentialDecay,
            true,
            plain,
        ),
    ] {
        let spec = Gee::new(formula, "cluster")
            .expect("formula")
            .correlation(correlation)
            .period("period")
            .maee(maee);
        group.bench_function(name, |b| {
            b.iter(|| black_box(spec.fit(&cohort).map(|f| f.coefficients[1].estimate)))
        });
    }
    group.finish();

    let mut config = SimConfig::stepped_wedge(50, 12);
    config.cluster_size = ClusterSize::Fixed(1667);
    let large = config.simulate(1).expect("valid configuration");
    let spec = Gee::new("death30 ~ treated + factor(period)", "cluster")
        .expect("formula")
        .correlation(WorkingCorrelation::NestedExchangeable)
        .period("period")
        .maee(true);
    let mut group = c.benchmark_group("gee_1m");
    group.sample_size(10);
    group.bench_function("nested_maee", |b| {
        b.iter(|| black_box(spec.fit(&large).map(|f| f.coefficients[1].estimate)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
