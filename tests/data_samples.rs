//! The bundled sample data are what the documented command regenerates, byte for byte.

use stepwedge::sim::{ClusterSize, SimConfig};

#[test]
fn stepped_wedge_sample_regenerates_byte_for_byte() {
    // The settings of `simulate_cohort --clusters 12 --periods 8 --size 27 --seed 2609`.
    let mut config = SimConfig::staggered(12, 0, 8);
    config.cluster_size = ClusterSize::Poisson { mean: 27.0 };
    let cohort = config.simulate(2609).unwrap();
    let mut bytes = Vec::new();
    cohort.write_csv_to(&mut bytes).unwrap();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data-samples/stepped_wedge_sim.csv");
    let committed = std::fs::read(path).unwrap();
    assert!(
        bytes == committed,
        "data-samples/stepped_wedge_sim.csv differs from the simulator's output"
    );
}
