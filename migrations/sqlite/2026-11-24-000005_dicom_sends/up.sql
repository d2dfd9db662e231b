-- Sending a study to a facility's own DICOM node (a diagnostic workstation): one row per
-- send with its progress, one item per instance to send (so a retry resends only what has
-- not been sent yet). The work itself is an outbox job of kind `dicom.send` whose payload
-- is the send's id. last_error and item errors carry DICOM statuses and reasons, never
-- patient data. Kept in step with migrations/postgres (a test compares the two).
CREATE TABLE dicom_sends (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    facility_id BIGINT NOT NULL REFERENCES facilities (id),
    study_id BIGINT NOT NULL REFERENCES studies (id),
    node_id BIGINT REFERENCES dicom_nodes (id) ON DELETE SET NULL,
    node_ae_title TEXT NOT NULL,
    requested_by BIGINT NOT NULL REFERENCES users (id),
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'done', 'failed')),
    instances_total INTEGER NOT NULL,
    instances_sent INTEGER NOT NULL DEFAULT 0,
    instances_failed INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);
CREATE INDEX dicom_sends_facility_idx ON dicom_sends (facility_id, id);
CREATE INDEX dicom_sends_study_idx ON dicom_sends (study_id);

CREATE TABLE dicom_send_items (
    send_id BIGINT NOT NULL REFERENCES dicom_sends (id) ON DELETE CASCADE,
    instance_id BIGINT NOT NULL REFERENCES instances (id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    error TEXT,
    PRIMARY KEY (send_id, instance_id)
);
