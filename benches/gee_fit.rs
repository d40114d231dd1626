//! GEE on the bundled stepped-wedge sample (`data-samples/stepped_wedge_sim.csv`: 2,611 patients,
//! 12 clusters x 8 periods): the nested exchangeable working correlation with UEE and with MAEE,
//! each fit computing every variance (model, BC0, KC, MD, FG, MBN, AVG).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::models::gee::{Gee, WorkingCorrelation};

fn bench(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data-samples/stepped_wedge_sim.csv"
    );
    let cohort = Cohort::from_csv_path(path, &LoadOptions::default()).expect("sample");
    let mut group = c.benchmark_group("gee_2611");
    group.sample_size(20);
    for (name, maee, formula) in [
        ("nested_uee", false, "death30 ~ treated + factor(period)"),
        ("nested_maee", true, "death30 ~ treated + factor(period)"),
        (
            "nested_maee_age",
            true,
            "death30 ~ treated + factor(period) + age",
        ),
    ] {
        let spec = Gee::new(formula, "cluster")
            .expect("formula")
            .correlation(WorkingCorrelation::NestedExchangeable)
            .period("period")
            .maee(maee);
        group.bench_function(name, |b| {
            b.iter(|| black_box(spec.fit(&cohort).map(|f| f.coefficients[1].estimate)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
