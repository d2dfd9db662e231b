DROP TABLE assignment_settings;
DROP TABLE duty_slots;
DROP TABLE specialty_scores;
DROP INDEX read_requests_assigned_idx;
ALTER TABLE read_requests DROP COLUMN reading_started_at;
ALTER TABLE read_requests DROP COLUMN assignment_reason;
ALTER TABLE read_requests DROP COLUMN assigned_by;
ALTER TABLE read_requests DROP COLUMN assigned_at;
ALTER TABLE read_requests DROP COLUMN assigned_to;
