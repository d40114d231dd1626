//! Loading a 1,000,000-row simulated cohort from CSV, against a bare `csv` pass over the same
//! file that only counts fields (the speed of CSV parsing itself).

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion};
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::sim::{ClusterSize, SimConfig};

/// Writes the benchmark cohort (50 clusters x 10 periods x 2,000 patients) to a temporary file.
fn make_file() -> PathBuf {
    let mut config = SimConfig::stepped_wedge(50, 10);
    config.cluster_size = ClusterSize::Fixed(2000);
    let cohort = config
        .simulate(1)
        .expect("the benchmark configuration is valid");
    let path = std::env::temp_dir().join(format!("stepwedge-bench-{}.csv", std::process::id()));
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
    let path = make_file();
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
