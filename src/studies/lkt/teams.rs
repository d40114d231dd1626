//! The 11 local teams of the national learning and quality team (LKT) on coherent hip-fracture
//! pathways and their published baseline volumes.

/// One LKT team (a hospital and its municipalities) as published.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Team {
    /// The team's name as on the published slide.
    pub name: &'static str,
    /// Patients aged 65+ with a hip fracture in the baseline year (December 2023 to November
    /// 2024).
    pub baseline_patients: u32,
}

/// The 11 teams with their baseline volumes (`shared/published-results.md`, section 5: webinar
/// slides of 5 November 2025, seed 002).
pub const LKT_TEAMS: [Team; 11] = [
    Team {
        name: "Randers",
        baseline_patients: 307,
    },
    Team {
        name: "Gødstrup",
        baseline_patients: 359,
    },
    Team {
        name: "SOL",
        baseline_patients: 108,
    },
    Team {
        name: "Slagelse",
        baseline_patients: 279,
    },
    Team {
        name: "SUH Køge",
        baseline_patients: 117,
    },
    Team {
        name: "Sydhavsøerne",
        baseline_patients: 225,
    },
    Team {
        name: "Byen (Region H)",
        baseline_patients: 226,
    },
    Team {
        name: "Midt (Region H)",
        baseline_patients: 210,
    },
    Team {
        name: "Nord (Region H)",
        baseline_patients: 106,
    },
    Team {
        name: "Syd (Region H)",
        baseline_patients: 172,
    },
    Team {
        name: "Bornholm",
        baseline_patients: 65,
    },
];

/// The published total of the baseline year, "All 2215". The 11 team volumes sum to 2,174: the
/// slide does not say where the other 41 patients belong, so the synthetic cohort uses the team
/// volumes.
pub const PUBLISHED_TOTAL: u32 = 2215;

/// The first month of the baseline year (December 2023), as `(year, month)`.
pub const BASELINE_START: (i32, u32) = (2023, 12);
