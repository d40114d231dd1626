//! Issue 4's speed target: a cluster bootstrap of 2,000 replicates of a 2,609-patient mixed
//! model, refitting each replicate, with the 12 jackknife refits of BCa, the standardised risks
//! of every replicate and the delta method: `Glmm::standardise` end to end.
//!
//! The cohort: the simulator's stepped wedge of 12 clusters x 8 periods with Poisson
//! cluster-period sizes of mean 2,609 / 96 (seed 2609, the cohort of `glmm_fit`'s (a)), its
//! first 2,609 patients; the model `death30 ~ treated + factor(period) + age + (1 | cluster)`
//! (age is continuous, so nearly every patient is a covariate pattern of their own).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use stepwedge::effects::standardise::Standardisation;
use stepwedge::models::glmm::Glmm;
use stepwedge::sim::{ClusterSize, SimConfig};

fn bench(c: &mut Criterion) {
    let mut config = SimConfig::stepped_wedge(12, 8);
    config.cluster_size = ClusterSize::Poisson {
        mean: 2609.0 / 96.0,
    };
    let all = config.simulate(2609).expect("valid configuration");
    let first: Vec<usize> = (0..2609).collect();
    let cohort = all.select_rows(&first).expect("2,609 rows");
    let model =
        Glmm::new("death30 ~ treated + factor(period) + age + (1 | cluster)").expect("formula");
    let spec = Standardisation::new("treated").bootstrap(2000, 1);
    let mut group = c.benchmark_group("marginal");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(60));
    group.bench_function("bootstrap_2000_glmm_2609", |b| {
        b.iter(|| {
            black_box(
                model
                    .fit(&cohort)
                    .and_then(|fit| spec.apply(&fit, &cohort))
                    .map(|m| m.risk_difference.estimate),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
