//! The bundled sample data are what the documented commands regenerate, byte for byte.

use stepwedge::data::Cohort;
use stepwedge::sim::{ClusterSize, SimConfig};
use stepwedge::studies::lkt::synthetic::{LktSynthetic, DEFAULT_SEED};

/// Asserts that `cohort`, written as CSV, is the committed file `data-samples/{file}`.
fn assert_is_sample(cohort: &Cohort, file: &str) {
    let mut bytes = Vec::new();
    cohort.write_csv_to(&mut bytes).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data-samples")
        .join(file);
    let committed = std::fs::read(path).unwrap();
    assert!(
        bytes == committed,
        "data-samples/{file} differs from the simulator's output"
    );
}

#[test]
fn stepped_wedge_sample_regenerates_byte_for_byte() {
    // The settings of `simulate_cohort --clusters 12 --periods 8 --size 27 --seed 2609`.
    let mut config = SimConfig::staggered(12, 0, 8);
    config.cluster_size = ClusterSize::Poisson { mean: 27.0 };
    assert_is_sample(&config.simulate(2609).unwrap(), "stepped_wedge_sim.csv");
}

#[test]
fn lkt_sample_regenerates_byte_for_byte() {
    // `simulate_cohort --lkt --out data-samples/lkt_synthetic.csv`
    let cohort = LktSynthetic::default().simulate(DEFAULT_SEED).unwrap();
    assert_is_sample(&cohort, "lkt_synthetic.csv");
}
