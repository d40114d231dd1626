//! Issue 16's speed target for simulation power: 1,000 simulated KTH-size trials (2,609
//! patients, 12 clusters in 7 waves, 8 periods: `tests/reference/power/timing/kth_size.json`,
//! mortality 11.9% vs 8.0%, latent icc 0.02, seed 2609) analysed by the Hussey & Hughes mixed
//! model `cbind(events, trials - events) ~ treated + factor(period) + (1 | cluster)` with a Wald
//! z test: target under 1 s. Also with the null's 1,000 trials (the type I error), 2,000 fits.
//!
//! glmer on the first 50 of the same trials (`trials.csv` beside the case, written by
//! `swpower --case kth_size.json --simulate 50 --seed 2609 --no-null --write-trials
//! trials.csv`) is timed by `tests/reference/power/timing/glmer_timing.R`
//! (`glmer_timing.json`, extrapolated to 1,000).

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use stepwedge::design::PowerCase;
use stepwedge::effects::power::{Analysis, SimulationPower};

fn bench(c: &mut Criterion) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/power/timing/kth_size.json");
    let text = std::fs::read_to_string(path).expect("the KTH-size case");
    let case = PowerCase::from_json(&text).expect("a power case");
    let design = case.design().expect("its design");
    let closed = case.closed_form().expect("its parameters");
    let simulation = SimulationPower::from_closed_form(&closed, &design, false)
        .expect("a binary outcome with an icc")
        .analysis(Analysis::Glmm)
        .seed(2609)
        .reps(1_000);
    let mut group = c.benchmark_group("simulation_power_kth_size");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    let alternative = simulation.clone().null(false);
    group.bench_function("glmm_1000_trials", |b| {
        b.iter(|| black_box(alternative.run().map(|r| r.power)))
    });
    group.bench_function("glmm_1000_trials_and_1000_null", |b| {
        b.iter(|| black_box(simulation.run().map(|r| r.power)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
