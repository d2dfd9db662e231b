-- Reports (読影レポート): one report per request, its confirmed versions (the initial one and
-- addenda), the key images each version shows, the reader's autosaved draft, each supporting
-- facility's report templates, and the fee line fixed at confirmation. Confirmed versions,
-- their key images, reports and fee lines are records: the database refuses to change them.
-- Timestamps are UTC. Kept in step with migrations/postgres (a test compares the two).

CREATE TABLE reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id BIGINT NOT NULL UNIQUE REFERENCES read_requests (id),
    supporting_facility_id BIGINT NOT NULL REFERENCES facilities (id),
    created_at TIMESTAMP NOT NULL
);

-- A confirmed version (確定): version 1 is the initial report, later ones are addenda with
-- a reason. Never updated or deleted.
CREATE TABLE report_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id BIGINT NOT NULL REFERENCES reports (id),
    version INTEGER NOT NULL CHECK (version >= 1),
    kind TEXT NOT NULL CHECK (kind IN ('initial', 'addendum')),
    findings TEXT NOT NULL,
    impression TEXT NOT NULL,
    recommendation TEXT NOT NULL,
    addendum_reason TEXT,
    author_id BIGINT NOT NULL REFERENCES users (id),
    confirmed_by BIGINT NOT NULL REFERENCES users (id),
    confirmed_at TIMESTAMP NOT NULL,
    UNIQUE (report_id, version)
);

-- The key images a version shows, copied from the reader's marks when it was confirmed.
CREATE TABLE report_version_key_images (
    version_id BIGINT NOT NULL REFERENCES report_versions (id),
    instance_id BIGINT NOT NULL REFERENCES instances (id),
    frame INTEGER NOT NULL CHECK (frame >= 1),
    PRIMARY KEY (version_id, instance_id, frame)
);

-- The reader's working copy of the initial report (autosaved); `revision` guards against
-- two editors overwriting each other. Deleted when the report is confirmed.
CREATE TABLE report_drafts (
    request_id BIGINT PRIMARY KEY NOT NULL REFERENCES read_requests (id),
    author_id BIGINT NOT NULL REFERENCES users (id),
    findings TEXT NOT NULL,
    impression TEXT NOT NULL,
    recommendation TEXT NOT NULL,
    addendum_reason TEXT,
    revision INTEGER NOT NULL CHECK (revision >= 1),
    updated_at TIMESTAMP NOT NULL
);

-- A supporting facility's report templates, per exam and optionally per body region.
CREATE TABLE report_templates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    facility_id BIGINT NOT NULL REFERENCES facilities (id),
    exam TEXT NOT NULL CHECK (exam IN ('ct', 'mri', 'cr_dx', 'mmg', 'ugi', 'fundus', 'us',
        'nm_pet', 'other')),
    region TEXT CHECK (region IN ('head_neck', 'chest', 'breast', 'abdomen', 'pelvis',
        'spine', 'upper_limb', 'lower_limb', 'whole_body', 'other')),
    name TEXT NOT NULL,
    findings TEXT NOT NULL,
    impression TEXT NOT NULL,
    recommendation TEXT NOT NULL,
    updated_by BIGINT NOT NULL REFERENCES users (id),
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX report_templates_facility_idx ON report_templates (facility_id, exam);

-- The fee of a confirmed read, from the request's price snapshot. Never changed.
CREATE TABLE fee_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id BIGINT NOT NULL UNIQUE REFERENCES read_requests (id),
    requesting_facility_id BIGINT NOT NULL REFERENCES facilities (id),
    supporting_facility_id BIGINT NOT NULL REFERENCES facilities (id),
    subtotal BIGINT NOT NULL,
    tax BIGINT NOT NULL,
    total BIGINT NOT NULL,
    tax_included BOOLEAN NOT NULL,
    confirmed_at TIMESTAMP NOT NULL
);
CREATE INDEX fee_lines_supporting_idx ON fee_lines (supporting_facility_id, confirmed_at);
CREATE INDEX fee_lines_requesting_idx ON fee_lines (requesting_facility_id, confirmed_at);

CREATE TRIGGER reports_no_update BEFORE UPDATE ON reports
BEGIN
    SELECT RAISE(ABORT, 'reports are never changed');
END;
CREATE TRIGGER reports_no_delete BEFORE DELETE ON reports
BEGIN
    SELECT RAISE(ABORT, 'reports are never changed');
END;
CREATE TRIGGER report_versions_no_update BEFORE UPDATE ON report_versions
BEGIN
    SELECT RAISE(ABORT, 'confirmed report versions are never changed');
END;
CREATE TRIGGER report_versions_no_delete BEFORE DELETE ON report_versions
BEGIN
    SELECT RAISE(ABORT, 'confirmed report versions are never changed');
END;
CREATE TRIGGER report_version_key_images_no_update BEFORE UPDATE ON report_version_key_images
BEGIN
    SELECT RAISE(ABORT, 'confirmed report versions are never changed');
END;
CREATE TRIGGER report_version_key_images_no_delete BEFORE DELETE ON report_version_key_images
BEGIN
    SELECT RAISE(ABORT, 'confirmed report versions are never changed');
END;
CREATE TRIGGER fee_lines_no_update BEFORE UPDATE ON fee_lines
BEGIN
    SELECT RAISE(ABORT, 'fee lines are never changed');
END;
CREATE TRIGGER fee_lines_no_delete BEFORE DELETE ON fee_lines
BEGIN
    SELECT RAISE(ABORT, 'fee lines are never changed');
END;
