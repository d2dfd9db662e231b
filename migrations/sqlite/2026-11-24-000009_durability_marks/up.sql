-- One row per mark: a write committed with a full flush. The ingest journal commits index
-- rows without waiting for the flush (its own record is already durable) and, before it
-- deletes a journal segment, writes a mark here with a normal (flushed) commit, which makes
-- every earlier commit durable too (both databases write their log in order). Kept in step
-- with migrations/postgres (a test compares the two).
CREATE TABLE durability_marks (
    name TEXT PRIMARY KEY,
    marked_at TIMESTAMP NOT NULL
);
