//! The outbox's claims: only due jobs of the asked kinds; a claim holds a job for one lease
//! and a dead worker's job falls due again after it; the attempt count fences a stale
//! worker out; backoff, giving up; and concurrent workers (threads with their own
//! connections — on PostgreSQL through `FOR UPDATE SKIP LOCKED`) never claim the same job.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use diesel::prelude::*;
use serde_json::json;
use shared::db::schema::outbox as o;
use shared::db::{self, testing, DbConnection, DbPool};
use shared::outbox::{self, kind, AfterFailure, RetryPolicy};

const LEASE: Duration = Duration::from_secs(60);

fn pool(dir: &tempfile::TempDir) -> DbPool {
    let url = testing::fresh_database_url(dir.path()).unwrap();
    let pool = db::pool(&url, 8).unwrap();
    db::migrate(&mut pool.get().unwrap()).unwrap();
    pool
}

fn policy(max_attempts: i32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base: Duration::from_secs(30),
        cap: Duration::from_secs(3600),
        lease: LEASE,
    }
}

fn send_job(c: &mut DbConnection, n: i64) -> i64 {
    outbox::enqueue(c, kind::DICOM_SEND, &json!({ "send_id": n })).unwrap()
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

#[test]
fn claims_only_due_jobs_of_the_kinds_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let p = pool(&dir);
    let c = &mut p.get().unwrap();
    let mail = outbox::enqueue(c, kind::REQUEST_FILED, &json!({ "request_id": 1 })).unwrap();
    let a = send_job(c, 1);
    let b = send_job(c, 2);
    let now = db::now();
    let kinds = [kind::DICOM_SEND];
    let first = outbox::claim(c, &kinds, now, LEASE).unwrap().unwrap();
    assert_eq!((first.id, first.attempts), (a, 1));
    assert!(first.next_attempt_at >= now + secs(59));
    let second = outbox::claim(c, &kinds, now, LEASE).unwrap().unwrap();
    assert_eq!(second.id, b);
    assert!(outbox::claim(c, &kinds, now, LEASE).unwrap().is_none());
    // The mail job is untouched.
    let m = outbox::get(c, mail).unwrap();
    assert_eq!((m.status.as_str(), m.attempts), ("pending", 0));
    assert!(outbox::complete(c, &first).unwrap());
    assert_eq!(outbox::get(c, a).unwrap().status, "done");
    assert!(outbox::get(c, a).unwrap().done_at.is_some());
}

#[test]
fn a_dead_worker_s_job_is_claimed_again_after_the_lease_and_the_stale_worker_is_fenced_out() {
    let dir = tempfile::tempdir().unwrap();
    let p = pool(&dir);
    let c = &mut p.get().unwrap();
    let id = send_job(c, 1);
    let now = db::now();
    let kinds = [kind::DICOM_SEND];
    let stale = outbox::claim(c, &kinds, now, LEASE).unwrap().unwrap();
    // Within the lease nobody else gets it…
    assert!(outbox::claim(c, &kinds, now + secs(59), LEASE)
        .unwrap()
        .is_none());
    // …after it, another worker does (the attempt counted again).
    let fresh = outbox::claim(c, &kinds, now + secs(61), LEASE)
        .unwrap()
        .unwrap();
    assert_eq!((fresh.id, fresh.attempts), (id, 2));
    // The first worker wakes up: whatever it reports changes nothing.
    assert!(!outbox::complete(c, &stale).unwrap());
    assert!(!outbox::renew(c, &stale, LEASE).unwrap());
    assert_eq!(
        outbox::retry_or_give_up(c, &stale, "late", false, &policy(5)).unwrap(),
        AfterFailure::Lost
    );
    assert!(outbox::renew(c, &fresh, LEASE).unwrap());
    assert!(outbox::complete(c, &fresh).unwrap());
}

#[test]
fn failures_back_off_then_give_up() {
    let dir = tempfile::tempdir().unwrap();
    let p = pool(&dir);
    let c = &mut p.get().unwrap();
    let id = send_job(c, 1);
    let kinds = [kind::DICOM_SEND];
    let policy = policy(3);
    let mut now = db::now();
    for (attempt, wait) in [(1, 30), (2, 60)] {
        let job = outbox::claim(c, &kinds, now, LEASE).unwrap().unwrap();
        assert_eq!(job.attempts, attempt);
        let before = db::now();
        let AfterFailure::Retry(at) =
            outbox::retry_or_give_up(c, &job, "connection refused", false, &policy).unwrap()
        else {
            panic!("not retried");
        };
        assert!(at >= before + secs(wait) && at <= db::now() + secs(wait));
        let j = outbox::get(c, id).unwrap();
        assert_eq!(
            (j.status.as_str(), j.last_error.as_deref()),
            ("pending", Some("connection refused"))
        );
        // Not due before its time.
        assert!(outbox::claim(c, &kinds, at - secs(1), LEASE)
            .unwrap()
            .is_none());
        now = at;
    }
    let job = outbox::claim(c, &kinds, now, LEASE).unwrap().unwrap();
    assert_eq!(
        outbox::retry_or_give_up(c, &job, "connection refused", false, &policy).unwrap(),
        AfterFailure::GaveUp
    );
    let j = outbox::get(c, id).unwrap();
    assert_eq!((j.status.as_str(), j.attempts), ("failed", 3));
    assert!(outbox::claim(c, &kinds, now + secs(86_400), LEASE)
        .unwrap()
        .is_none());

    // A permanent failure gives up at once; a released job is due again, uncounted.
    let other = send_job(c, 2);
    let job = outbox::claim(c, &kinds, db::now(), LEASE).unwrap().unwrap();
    assert!(outbox::release(c, &job).unwrap());
    let j = outbox::get(c, other).unwrap();
    assert_eq!(j.attempts, 0);
    let job = outbox::claim(c, &kinds, db::now(), LEASE).unwrap().unwrap();
    assert_eq!(
        outbox::retry_or_give_up(c, &job, "node removed", true, &policy).unwrap(),
        AfterFailure::GaveUp
    );
    assert_eq!(outbox::get(c, other).unwrap().status, "failed");
}

#[test]
fn concurrent_workers_never_claim_the_same_job() {
    let dir = tempfile::tempdir().unwrap();
    let p = pool(&dir);
    const JOBS: i64 = 60;
    {
        let c = &mut p.get().unwrap();
        for n in 0..JOBS {
            send_job(c, n);
        }
    }
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let p = p.clone();
            std::thread::spawn(move || {
                let c = &mut p.get().unwrap();
                let mut mine = Vec::new();
                let mut idle = 0;
                while idle < 3 {
                    match outbox::claim(c, &[kind::DICOM_SEND], db::now(), LEASE).unwrap() {
                        Some(job) => {
                            idle = 0;
                            // Hold the job a moment, as a real worker would.
                            std::thread::sleep(Duration::from_millis(2));
                            assert!(outbox::complete(c, &job).unwrap());
                            mine.push(job.id);
                        }
                        None => {
                            idle += 1;
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.join().unwrap());
    }
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), distinct.len(), "a job was claimed twice");
    assert_eq!(all.len() as i64, JOBS);
    let c = &mut p.get().unwrap();
    let attempts: Vec<i32> = o::table.select(o::attempts).load(c).unwrap();
    assert!(attempts.iter().all(|a| *a == 1), "{attempts:?}");
}
