//! The LKT monitoring on the bundled synthetic cohort: the monthly counts behind every chart and
//! the case-mix model's expected events agree with an independent derivation in base R
//! (`tests/reference/lkt/lkt_monitoring.R`), the improvements built into the cohort show as
//! signals, and the report is written whole.

use std::sync::OnceLock;

use serde_json::Value;
use stepwedge::data::{Cohort, LoadOptions};
use stepwedge::report::monitor::funnel::Flag;
use stepwedge::studies::lkt::{Indicator, Monitoring, POINTS_HEADER};

#[path = "common/json.rs"]
mod json;
use json::numbers;

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn monitoring() -> &'static Monitoring {
    static M: OnceLock<Monitoring> = OnceLock::new();
    M.get_or_init(|| {
        let cohort = Cohort::from_csv_path(
            root().join("data-samples/lkt_synthetic.csv"),
            &LoadOptions::default(),
        )
        .unwrap();
        Monitoring::run(cohort).unwrap()
    })
}

fn reference() -> Value {
    let text =
        std::fs::read_to_string(root().join("tests/reference/lkt/lkt_monitoring.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn monthly_counts_and_expected_events_agree_with_base_r() {
    let m = monitoring();
    let r = reference();
    let months: Vec<&str> = r["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let teams: Vec<&str> = r["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(m.teams(), teams);
    let mut largest = 0.0f64;
    for im in &m.indicators {
        let col = &r[im.indicator.column()];
        assert_eq!(im.series.labels, months, "{:?}", im.indicator);
        for (k, unit) in im.series.units.iter().enumerate() {
            let events: Vec<u64> = numbers(&col["events"][k])
                .iter()
                .map(|&x| x as u64)
                .collect();
            let patients: Vec<u64> = numbers(&col["patients"][k])
                .iter()
                .map(|&x| x as u64)
                .collect();
            assert_eq!(unit.events, events, "{:?} {}", im.indicator, unit.unit);
            assert_eq!(unit.patients, patients, "{:?} {}", im.indicator, unit.unit);
            assert_eq!(unit.missing as f64, numbers(&col["missing"])[k]);
            let f = &im.funnel.units[k];
            assert_eq!(f.unit, unit.unit);
            assert_eq!(f.observed, numbers(&col["observed"])[k]);
            let expected = numbers(&col["expected"])[k];
            let rel = (f.expected - expected).abs() / expected;
            largest = largest.max(rel);
            assert!(
                rel < 1e-6,
                "{:?} {}: E {} vs R {expected}",
                im.indicator,
                unit.unit,
                f.expected
            );
        }
    }
    eprintln!("largest relative difference of E from R's glm: {largest:.1e}");
}

#[test]
fn built_in_improvements_and_differences_show_as_signals() {
    // Properties of the bundled cohort (seed 2215), printed by `lkt_indicators`.
    let signals = monitoring().signals();
    let find = |team: &str, indicator: Indicator| {
        signals
            .iter()
            .find(|s| s.team == team && s.indicator == indicator)
            .unwrap()
    };
    // Sydhavsøerne regains mobility more often from month 13 of 24: its run charts shift.
    for indicator in [Indicator::RegainedCas, Indicator::RegainedNms] {
        let s = find("Sydhavsøerne", indicator);
        assert!(s.long_run && s.few_crossings, "{s:?}");
    }
    // Randers regains CAS more often from month 7: above the funnel's 99.8% limits.
    let randers = find("Randers", Indicator::RegainedCas);
    assert_eq!(randers.funnel, Flag::Above, "{randers:?}");
    // Byen (Region H) has a higher readmission risk than its case mix explains.
    let byen = find("Byen (Region H)", Indicator::Readmission);
    assert_eq!(byen.funnel95, Flag::Above, "{byen:?}");
    // Gødstrup, the largest team, has no built-in difference and no signal at all.
    for indicator in Indicator::ALL {
        let s = find("Gødstrup", indicator);
        assert!(!s.any(), "{s:?}");
    }
}

#[test]
fn report_is_written_whole_with_every_point() {
    let m = monitoring();
    let dir = std::env::temp_dir().join(format!("lkt-report-{}", std::process::id()));
    let written = m.write_report(&dir).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for indicator in Indicator::ALL {
        assert!(names.contains(&format!("run_{}.svg", indicator.key())));
        assert!(names.contains(&format!("funnel_{}.svg", indicator.key())));
    }
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("p_readmission_"))
            .count(),
        11
    );
    let csv = std::fs::read_to_string(dir.join("monitoring_points.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), POINTS_HEADER.join(","));
    // 4 indicators x 11 teams x 24 months of run charts, 11 x 24 p chart points, 4 x 11
    // funnel points.
    assert_eq!(lines.count(), 4 * 11 * 24 + 11 * 24 + 4 * 11);
    // The README's figures are this report's.
    for (figure, file) in [
        ("run_cas.svg", "lkt_run_cas.svg"),
        ("funnel_readmission.svg", "lkt_funnel_readmission.svg"),
    ] {
        let committed = std::fs::read_to_string(root().join("docs/figures").join(file)).unwrap();
        let made = std::fs::read_to_string(dir.join(figure)).unwrap();
        assert!(
            committed == made,
            "docs/figures/{file} is not the report's {figure}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
