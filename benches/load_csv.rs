//! Loading a 1,000,000-row simulated cohort from CSV, against a bare `csv` pass over the same
//! file that only counts fields (the speed of CSV parsing itself); and the mixed logistic model
//! of `benches/glmm_fit.rs` (b) fitted to its 999,600-row CSV file, streamed into covariate
//! patterns (`Tally::from_csv_path` and `Glmm::fit_tally`, as `swfit` reads it) and read whole
//! (`Cohort::from_csv_path` and `Glmm::fit`).

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use stepwedge::data::{Cohort, LoadOptions, Tally};
use stepwedge::models::glmm::Glmm;
use stepwedge::sim::{ClusterSize, SimConfig};

/// Writes a simulated stepped-wedge cohort (`clusters` x `periods` x `size` patients, seed 1)
/// to a temporary file.
fn make_file(clusters: usize, periods: usize, size: usize) -> PathBuf {
    let mut config = SimConfig::stepped_wedge(clusters, periods);
    config.cluster_size = ClusterSize::Fixed(size);
    let cohort = config
        .simulate(1)
        .expect("the benchmark configuration is valid");
    let path = std::env::temp_dir().join(format!(
        "stepwedge-bench-{}-{periods}.csv",
        std::process::id()
    ));
    cohort
        .write_csv(&path)
        .expect("the temporary file can be written");
    path
}

/// Reads the file with `csv`'s byte records and counts the fields.
fn count_fields(path: &Path) -> usize {
    let mut reader = csv::Reader::from_path(path).expect("the file exists");
    let mut record = csv::ByteRecord::new();
    let mut fields = 0;
    while reader
        .read_byte_record(&mut record)
        .expect("the file is valid CSV")
    {
        fields += record.len();
    }
    fields
}

fn bench(c: &mut Criterion) {
    let path = make_file(50, 10, 2000);
    let opts = LoadOptions::default();
    let mut group = c.benchmark_group("load_1m_rows");
    group.sample_size(10);
    group.bench_function("csv_bytes_baseline", |b| {
        b.iter(|| black_box(count_fields(&path)))
    });
    group.bench_function("from_csv_path", |b| {
        b.iter(|| black_box(Cohort::from_csv_path(&path, &opts).map(|c| c.n_rows())))
    });
    group.finish();
    let _ = std::fs::remove_file(&path);

    let path = make_file(50, 12, 1_000_000 / 600);
    let model =
        Glmm::new("death30 ~ treated + factor(period) + age + sex + residence + (1 | cluster)")
            .expect("formula");
    let (keys, summed) = model.tally_columns().expect("a model of patterns");
    let mut group = c.benchmark_group("load_fit_1m");
    group.sample_size(10);
    group.bench_function("streamed", |b| {
        b.iter(|| {
            let tally = Tally::from_csv_path(&path, &keys, &summed, &opts)
                .expect("load")
                .expect("a file that streams");
            black_box(model.fit_tally(&tally).map(|f| f.loglik))
        })
    });
    group.bench_function("whole_file", |b| {
        b.iter(|| {
            let cohort = Cohort::from_csv_path(&path, &opts).expect("load");
            black_box(model.fit(&cohort).map(|f| f.loglik))
        })
    });
    group.finish();
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, bench);
criterion_main!(benches);
