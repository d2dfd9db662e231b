-- Key images (キー画像): the frames a facility marked while viewing a study, kept for the
-- report (next issue). A facility sees only its own marks; request_id is set when the
-- marker was reading for a request. Kept in step with migrations/postgres (a test compares
-- the two).
CREATE TABLE key_images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    facility_id BIGINT NOT NULL REFERENCES facilities (id),
    study_id BIGINT NOT NULL REFERENCES studies (id),
    instance_id BIGINT NOT NULL REFERENCES instances (id),
    frame INTEGER NOT NULL CHECK (frame >= 1),
    request_id BIGINT REFERENCES read_requests (id),
    marked_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (facility_id, instance_id, frame)
);
CREATE INDEX key_images_study_idx ON key_images (facility_id, study_id);
