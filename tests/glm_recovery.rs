//! Fits recover the parameters the simulator used, across seeds.
//!
//! With the random effects switched off the simulator's outcome model is exactly a GLM:
//! `g(P(death)) = b0 + b_trt treated + slope (period - 1) + b_age (age - 85) + b_male male +
//! b_res[residence]`. Over 24 seeds the mean estimate of every coefficient must lie within four
//! Monte Carlo standard errors of the truth, and the 95% intervals must cover it in most seeds.

use stepwedge::models::glm::{Glm, Link};
use stepwedge::sim::{ClusterSize, OutcomeLink, PeriodEffect, SimConfig};

const SEEDS: u64 = 24;

fn config(link: OutcomeLink) -> SimConfig {
    let mut c = SimConfig::stepped_wedge(12, 6);
    c.cluster_size = ClusterSize::Fixed(150);
    c.outcome.link = link;
    let e = &mut c.outcome.effects;
    e.cluster_sd = 0.0;
    e.cluster_period_sd = 0.0;
    e.period = PeriodEffect::Linear(-0.05);
    if link == OutcomeLink::Log {
        // Risks stay below 1 for every patient: at most exp(-1.9 + 0.03 * 20 + 0.3 + 0.5) < 0.6.
        e.intercept = -2.3;
        e.treatment = 0.25;
        e.age_per_year = 0.03;
        e.male = 0.3;
        e.residence = [0.0, 0.5, 0.3, 0.2];
    }
    c
}

/// (term, true value) pairs for the fitted formula.
fn truth(c: &SimConfig) -> Vec<(&'static str, f64)> {
    let e = &c.outcome.effects;
    let slope = match e.period {
        PeriodEffect::Linear(s) => s,
        PeriodEffect::PerPeriod(_) => unreachable!("linear period effect in this test"),
    };
    vec![
        ("(Intercept)", e.intercept - slope - 85.0 * e.age_per_year),
        ("treated", e.treatment),
        ("period", slope),
        ("age", e.age_per_year),
        ("sexM", e.male),
        ("residencenursing_home", e.residence[1]),
        ("residencerehab_24h", e.residence[3]),
        ("residencetemporary", e.residence[2]),
    ]
}

fn check_recovery(link: OutcomeLink, glm_link: Link) {
    let c = config(link);
    let truth = truth(&c);
    let glm = Glm::new("death30 ~ treated + period + age + sex + residence")
        .unwrap()
        .link(glm_link)
        .reference_level("residence", "own_home");
    let mut estimates = vec![Vec::new(); truth.len()];
    let mut covered = vec![0; truth.len()];
    for seed in 0..SEEDS {
        let cohort = c.simulate(seed).unwrap();
        let fit = glm.fit(&cohort).unwrap();
        for (k, (term, value)) in truth.iter().enumerate() {
            let row = fit.term(term).unwrap();
            estimates[k].push(row.estimate);
            covered[k] += usize::from(row.ci_low <= *value && *value <= row.ci_high);
        }
    }
    for (k, (term, value)) in truth.iter().enumerate() {
        let n = SEEDS as f64;
        let mean = estimates[k].iter().sum::<f64>() / n;
        let sd = (estimates[k].iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let mc_se = sd / n.sqrt();
        assert!(
            (mean - value).abs() <= 4.0 * mc_se,
            "{glm_link} {term}: mean estimate {mean:.4} vs truth {value:.4} (Monte Carlo SE {mc_se:.4})"
        );
        // 95% intervals: at least 18 of 24 cover (P(fewer) < 0.01 under nominal coverage).
        assert!(
            covered[k] >= 18,
            "{glm_link} {term}: {} of {SEEDS} intervals cover the truth",
            covered[k]
        );
    }
}

#[test]
fn logistic_fits_recover_the_simulated_odds_ratios() {
    check_recovery(OutcomeLink::Logit, Link::Logit);
}

#[test]
fn log_binomial_fits_recover_the_simulated_relative_risks() {
    check_recovery(OutcomeLink::Log, Link::Log);
}
