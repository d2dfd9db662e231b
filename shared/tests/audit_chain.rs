//! The audit trail is append-only and hash-chained: the database refuses UPDATE/DELETE, and
//! `verify` reports a row altered, deleted or inserted behind its back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::RunQueryDsl;
use shared::audit::{self, Ctx, Event};
use shared::db::{self, backend, testing, DbConnection};

fn db_with_events(n: usize) -> (tempfile::TempDir, DbConnection) {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::fresh_database_url(dir.path()).unwrap();
    let mut c = db::establish(&url).unwrap();
    db::migrate(&mut c).unwrap();
    let ctx = Ctx::system("test");
    for i in 0..n {
        audit::record_now(
            &mut c,
            &ctx,
            Event::success("test.event").object("thing", i),
        )
        .unwrap();
    }
    (dir, c)
}

#[test]
fn an_untouched_chain_verifies() {
    let (_d, mut c) = db_with_events(20);
    let r = audit::verify(&mut c).unwrap();
    assert_eq!(r.checked, 20);
    assert!(r.is_intact(), "{:?}", r.problems);
}

#[test]
fn the_database_refuses_updates_and_deletes() {
    let (_d, mut c) = db_with_events(3);
    assert!(
        diesel::sql_query("UPDATE audit_events SET action = 'x' WHERE seq = 2")
            .execute(&mut c)
            .is_err()
    );
    assert!(diesel::sql_query("DELETE FROM audit_events WHERE seq = 2")
        .execute(&mut c)
        .is_err());
    assert!(audit::verify(&mut c).unwrap().is_intact());
}

#[test]
fn an_altered_row_is_detected() {
    let (_d, mut c) = db_with_events(10);
    backend::disable_audit_protection_for_tests(&mut c).unwrap();
    diesel::sql_query("UPDATE audit_events SET outcome = 'failure' WHERE seq = 4")
        .execute(&mut c)
        .unwrap();
    let r = audit::verify(&mut c).unwrap();
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("seq 4") && p.contains("altered")),
        "{:?}",
        r.problems
    );
}

#[test]
fn a_deleted_row_is_detected() {
    let (_d, mut c) = db_with_events(10);
    backend::disable_audit_protection_for_tests(&mut c).unwrap();
    diesel::sql_query("DELETE FROM audit_events WHERE seq = 5")
        .execute(&mut c)
        .unwrap();
    let r = audit::verify(&mut c).unwrap();
    assert!(
        r.problems.iter().any(|p| p.contains("gap")),
        "{:?}",
        r.problems
    );
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("seq 6") && p.contains("link")),
        "{:?}",
        r.problems
    );
}

#[test]
fn an_inserted_row_is_detected() {
    let (_d, mut c) = db_with_events(6);
    backend::disable_audit_protection_for_tests(&mut c).unwrap();
    // Shift the tail up by one and forge a row in the gap, copying a neighbour's hashes.
    for seq in (4..=6).rev() {
        diesel::sql_query(format!(
            "UPDATE audit_events SET seq = {} WHERE seq = {seq}",
            seq + 1
        ))
        .execute(&mut c)
        .unwrap();
    }
    diesel::sql_query(
        "INSERT INTO audit_events (seq, occurred_at, action, outcome, source, prev_hash, hash) \
         SELECT 4, occurred_at, 'user.create', 'success', 'forged', prev_hash, hash FROM audit_events WHERE seq = 5",
    )
    .execute(&mut c)
    .unwrap();
    let r = audit::verify(&mut c).unwrap();
    assert!(!r.is_intact());
    assert!(
        r.problems.iter().any(|p| p.contains("seq 4")),
        "{:?}",
        r.problems
    );
}

#[test]
fn concurrent_appends_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::fresh_database_url(dir.path()).unwrap();
    let pool = db::pool(&url, 4).unwrap();
    db::migrate(&mut pool.get().unwrap()).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let mut c = pool.get().unwrap();
                for i in 0..15 {
                    audit::record_now(
                        &mut c,
                        &Ctx::system("t"),
                        Event::success("test.concurrent").object("n", t * 100 + i),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let r = audit::verify(&mut pool.get().unwrap()).unwrap();
    assert_eq!(r.checked, 60);
    assert!(r.is_intact(), "{:?}", r.problems);
}
