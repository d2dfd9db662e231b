//! Benchmark (not a test) of the assignment engine: 10,000 waiting requests (40 %
//! emergencies, CT/MRI/CR/MMG over every region) planned over 50 radiologists with seeded
//! random specialty tables (some regions read by only two or three), duty and open work.
//!
//! `cargo bench -p radvision --bench assignment` — optional `ENKAKU_BENCH_REQUESTS` (10000)
//! and `ENKAKU_BENCH_RADIOLOGISTS` (50). Prints the median of 7 plans and how many waited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use radvision::core::assignment::{plan, Decision, Radiologist, Rules, Waiting};
use rand::{Rng, SeedableRng};
use shared::domain::{BodyRegion, Exam, Urgency};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = env("ENKAKU_BENCH_REQUESTS", 10_000);
    let m = env("ENKAKU_BENCH_RADIOLOGISTS", 50);
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let exams = [Exam::Ct, Exam::Mri, Exam::CrDx, Exam::Mmg];
    let t0 = NaiveDate::from_ymd_opt(2026, 11, 24)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let team: Vec<Radiologist> = (0..m)
        .map(|i| Radiologist {
            id: i as i64 + 1,
            on_duty: rng.gen_bool(0.7),
            open: rng.gen_range(0..6),
            today: rng.gen_range(0..15),
            scores: exams
                .iter()
                .flat_map(|&e| BodyRegion::ALL.iter().map(move |&r| (e, r)))
                .filter_map(|(e, r)| {
                    // Spine and limbs are scarce: one radiologist in ten reads them.
                    let scarce = matches!(
                        r,
                        BodyRegion::Spine | BodyRegion::UpperLimb | BodyRegion::LowerLimb
                    );
                    let reads = if scarce {
                        rng.gen_bool(0.1)
                    } else {
                        rng.gen_bool(0.8)
                    };
                    reads.then(|| ((e, r), rng.gen_range(10..=100)))
                })
                .collect(),
        })
        .collect();
    let waiting: Vec<Waiting> = (0..n)
        .map(|i| {
            let filed = t0 + chrono::Duration::seconds(rng.gen_range(0..86_400));
            let emergency = rng.gen_bool(0.4);
            let regions = (0..rng.gen_range(1..=2))
                .map(|_| BodyRegion::ALL[rng.gen_range(0..BodyRegion::ALL.len())])
                .collect();
            Waiting {
                id: i as i64 + 1,
                urgency: if emergency {
                    Urgency::Emergency
                } else {
                    Urgency::Routine
                },
                due_at: filed
                    + if emergency {
                        chrono::Duration::minutes(30)
                    } else {
                        chrono::Duration::hours(18)
                    },
                filed_at: filed,
                exam: exams[rng.gen_range(0..exams.len())],
                regions,
            }
        })
        .collect();
    let rules = Rules::default();
    let mut times: Vec<Duration> = Vec::new();
    let mut last = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        last = plan(&waiting, &team, &rules);
        times.push(start.elapsed());
    }
    times.sort();
    let assigned = last
        .iter()
        .filter(|(_, d)| matches!(d, Decision::Assigned { .. }))
        .count();
    println!(
        "assignment: {n} requests over {m} radiologists: median {:.1} ms (min {:.1}, max {:.1}); {assigned} assigned, {} wait",
        times[3].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[6].as_secs_f64() * 1e3,
        n - assigned
    );
}
