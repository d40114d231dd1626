//! Size of the GEE's Wald t tests with few clusters (ignored by default; run with
//! `cargo test --release --test gee_coverage -- --ignored --nocapture`): 1,000 simulated
//! stepped-wedge trials of 10 clusters over 4 periods (20 patients per cluster-period, cluster
//! SD 0.5 and cluster-period SD 0.25 on the logit scale, no treatment effect), each analysed by
//! the nested exchangeable GEE with MAEE. Under the null the marginal effect is 0, so the share
//! of trials whose test of `treated` rejects at 5% (t on G - p = 5 df) is each variance's size;
//! its 95% interval covers 0 in the others. Failed fits are counted and shown.

use stepwedge::models::gee::{Gee, SeKind, WorkingCorrelation};
use stepwedge::sim::{ClusterSize, SimConfig};

#[test]
#[ignore = "a simulation of 1,000 trials: run with --ignored"]
fn bias_corrected_t_tests_keep_their_size_with_ten_clusters() {
    let trials = 1000;
    let mut config = SimConfig::stepped_wedge(10, 4);
    config.cluster_size = ClusterSize::Fixed(20);
    config.outcome.effects.treatment = 0.0;
    config.outcome.effects.cluster_sd = 0.5;
    config.outcome.effects.cluster_period_sd = 0.25;
    let spec = Gee::new("death30 ~ treated + factor(period)", "cluster")
        .unwrap()
        .correlation(WorkingCorrelation::NestedExchangeable)
        .period("period")
        .maee(true);
    let kinds = [
        SeKind::Robust,
        SeKind::Kc,
        SeKind::Md,
        SeKind::Avg,
        SeKind::Fg,
        SeKind::Mbn,
    ];
    let mut rejections = [0usize; 6];
    let (mut failed, mut first_failure) = (0, None);
    for seed in 0..trials {
        let cohort = config.simulate(seed).unwrap();
        let fit = match spec.fit(&cohort) {
            Ok(fit) => fit,
            Err(e) => {
                failed += 1;
                first_failure.get_or_insert(e.to_string());
                continue;
            }
        };
        let estimate = fit.coefficients[1].estimate;
        let critical = stepwedge::core::dist::t_quantile(0.975, fit.df);
        for (r, kind) in rejections.iter_mut().zip(kinds) {
            if (estimate / fit.std_errors(kind)[1]).abs() > critical {
                *r += 1;
            }
        }
    }
    let fitted = (trials as usize - failed) as f64;
    eprintln!("{trials} trials, {failed} failed fits (first: {first_failure:?})");
    for (r, kind) in rejections.iter().zip(kinds) {
        eprintln!(
            "{:>6}: size {:.3}, coverage of 0 {:.3}",
            kind.name(),
            *r as f64 / fitted,
            1.0 - *r as f64 / fitted
        );
    }
    assert!(failed * 100 <= trials as usize, "{failed} failed fits");
    // KC, MD and AVG keep the size within Monte Carlo error (sd 0.007 at 1,000 trials) of 5%
    // or below; the plain sandwich rejects too often.
    for (r, kind) in rejections.iter().zip(kinds) {
        let size = *r as f64 / fitted;
        if matches!(kind, SeKind::Kc | SeKind::Md | SeKind::Avg) {
            assert!(size < 0.05 + 0.02, "{}: {size}", kind.name());
        }
    }
}
