-- The supporting facility's worklist: who reads each request (claimed, assigned by the
-- coordinator, or by the automatic assignment with its reasons), when reading started, each
-- radiologist's specialty scores and duty schedule, and each facility's assignment settings.
-- Kept in step with migrations/postgres (a test compares the two).
ALTER TABLE read_requests ADD COLUMN assigned_to BIGINT REFERENCES users (id);
ALTER TABLE read_requests ADD COLUMN assigned_at TIMESTAMP;
-- NULL with an assignee: the automatic assignment.
ALTER TABLE read_requests ADD COLUMN assigned_by BIGINT REFERENCES users (id);
-- JSON: {"kind":"auto","why":{…}}, {"kind":"manual","note":"…"}, {"kind":"claim"}…
ALTER TABLE read_requests ADD COLUMN assignment_reason TEXT NOT NULL DEFAULT '';
-- When the reader first opened it (the time the service level measures); set once.
ALTER TABLE read_requests ADD COLUMN reading_started_at TIMESTAMP;
CREATE INDEX read_requests_assigned_idx ON read_requests (assigned_to, status);

-- A radiologist's specialty score (0–100) per exam and body region; no row means 0, and a
-- region scored 0 is never assigned automatically.
CREATE TABLE specialty_scores (
    facility_id BIGINT NOT NULL REFERENCES facilities (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    exam TEXT NOT NULL,
    region TEXT NOT NULL,
    score INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
    updated_at TIMESTAMP NOT NULL,
    updated_by BIGINT REFERENCES users (id),
    PRIMARY KEY (user_id, exam, region)
);
CREATE INDEX specialty_scores_facility_idx ON specialty_scores (facility_id);

-- Weekly duty: weekday 0–6 (Monday–Sunday) or 7 (national holidays, instead of the
-- weekday), Japan time 'HH:MM'; ends at or before starts runs past midnight, '24:00' is the
-- end of the day.
CREATE TABLE duty_slots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    facility_id BIGINT NOT NULL REFERENCES facilities (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 7),
    starts TEXT NOT NULL,
    ends TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by BIGINT REFERENCES users (id)
);
CREATE INDEX duty_slots_facility_idx ON duty_slots (facility_id, user_id);

-- Per supporting facility; no row: manual assignment, at most 8 open routine requests.
CREATE TABLE assignment_settings (
    facility_id BIGINT PRIMARY KEY NOT NULL REFERENCES facilities (id),
    auto_assign BOOLEAN NOT NULL DEFAULT FALSE,
    max_open INTEGER NOT NULL DEFAULT 8 CHECK (max_open BETWEEN 1 AND 100),
    updated_at TIMESTAMP NOT NULL
);
