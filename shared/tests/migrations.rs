//! The two migration trees produce the same tables and columns, and every migration runs
//! up, down and up again. Runs against the backend the suite is on (SQLite or PostgreSQL),
//! and the column comparison always checks SQLite against the PostgreSQL tree's text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shared::db::{self, backend, testing};

#[test]
fn migrations_run_up_down_up() {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::fresh_database_url(dir.path()).unwrap();
    let mut c = db::establish(&url).unwrap();
    let applied = db::migrate(&mut c).unwrap();
    assert!(!applied.is_empty());
    let full = backend::columns(&mut c).unwrap();
    // Down, one by one, to nothing.
    for _ in 0..applied.len() {
        db::revert_last(&mut c).unwrap();
    }
    assert!(
        backend::columns(&mut c).unwrap().is_empty(),
        "down leaves no tables"
    );
    // Up again gives the same schema.
    db::migrate(&mut c).unwrap();
    assert_eq!(backend::columns(&mut c).unwrap(), full);
    assert!(db::pending(&mut c).unwrap().is_empty());
}

/// Column names per table, parsed from a migration tree's up.sql files (CREATE TABLE bodies
/// and ALTER TABLE … ADD COLUMN lines).
fn columns_in_tree(tree: &str) -> Vec<(String, String, bool)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(tree);
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for d in dirs {
        let sql = std::fs::read_to_string(d.join("up.sql")).unwrap();
        let mut rest = sql.as_str();
        while let Some(i) = rest.find("CREATE TABLE ") {
            let after = &rest[i + 13..];
            let name = after.split_whitespace().next().unwrap().to_owned();
            let body_start = after.find('(').unwrap() + 1;
            let body_end = after.find("\n);").unwrap();
            for line in after[body_start..body_end].lines() {
                let l = line.trim();
                let first = l.split_whitespace().next().unwrap_or("");
                if first.is_empty()
                    || ["PRIMARY", "CHECK", "UNIQUE", "FOREIGN", "--"]
                        .iter()
                        .any(|k| first.starts_with(k))
                    || first.starts_with("'")
                {
                    continue;
                }
                if !first
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    continue;
                }
                let not_null = l.contains("NOT NULL") || l.contains("PRIMARY KEY");
                out.push((name.clone(), first.to_owned(), not_null));
            }
            rest = &after[body_end..];
        }
        // Columns added later: `ALTER TABLE t ADD COLUMN c TYPE ...;` on one line.
        for l in sql.lines().map(str::trim) {
            let Some(after) = l.strip_prefix("ALTER TABLE ") else {
                continue;
            };
            let mut w = after.split_whitespace();
            let (Some(table), Some("ADD"), Some("COLUMN"), Some(column)) =
                (w.next(), w.next(), w.next(), w.next())
            else {
                continue;
            };
            out.push((table.to_owned(), column.to_owned(), l.contains("NOT NULL")));
        }
    }
    out.sort();
    out
}

#[test]
fn sqlite_and_postgres_trees_define_the_same_columns() {
    let s = columns_in_tree("sqlite");
    let p = columns_in_tree("postgres");
    assert!(s.len() > 50, "parsed {} columns", s.len());
    assert_eq!(s, p);
}

#[test]
fn the_live_schema_matches_the_migration_text() {
    let dir = tempfile::tempdir().unwrap();
    let url = testing::fresh_database_url(dir.path()).unwrap();
    let mut c = db::establish(&url).unwrap();
    db::migrate(&mut c).unwrap();
    let live: Vec<(String, String, bool)> = backend::columns(&mut c)
        .unwrap()
        .into_iter()
        .map(|ci| (ci.table_name, ci.column_name, ci.not_null == 1))
        .collect();
    let tree = if testing::using_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(live, columns_in_tree(tree));
}
