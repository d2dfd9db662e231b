-- The image index: patients, studies, series and instances, each owned by the facility that
-- sent them (a study from clinic B never touches clinic A's rows). Names are UTF-8 with the
-- three person-name groups kept apart. Kept in step with migrations/postgres.

CREATE TABLE patients (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    facility_id BIGINT NOT NULL REFERENCES facilities (id),
    patient_key TEXT NOT NULL,
    name_alphabetic TEXT NOT NULL DEFAULT '',
    name_ideographic TEXT NOT NULL DEFAULT '',
    name_phonetic TEXT NOT NULL DEFAULT '',
    name_search TEXT NOT NULL DEFAULT '',
    birth_date DATE,
    sex TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (facility_id, patient_key)
);

CREATE TABLE studies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    facility_id BIGINT NOT NULL REFERENCES facilities (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    study_uid TEXT NOT NULL,
    accession_number TEXT NOT NULL DEFAULT '',
    study_date DATE,
    study_time TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    modalities TEXT NOT NULL DEFAULT '',
    body_part TEXT NOT NULL DEFAULT '',
    referring_physician TEXT NOT NULL DEFAULT '',
    num_series BIGINT NOT NULL DEFAULT 0,
    num_instances BIGINT NOT NULL DEFAULT 0,
    size_bytes BIGINT NOT NULL DEFAULT 0,
    first_received_at TIMESTAMP NOT NULL,
    last_received_at TIMESTAMP NOT NULL,
    UNIQUE (facility_id, study_uid)
);
CREATE INDEX studies_facility_date_idx ON studies (facility_id, study_date);
CREATE INDEX studies_patient_idx ON studies (patient_id);

CREATE TABLE series (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    study_id BIGINT NOT NULL REFERENCES studies (id),
    series_uid TEXT NOT NULL,
    modality TEXT NOT NULL DEFAULT '',
    series_number INTEGER,
    description TEXT NOT NULL DEFAULT '',
    body_part TEXT NOT NULL DEFAULT '',
    num_instances BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (study_id, series_uid)
);

CREATE TABLE instances (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    facility_id BIGINT NOT NULL REFERENCES facilities (id),
    study_id BIGINT NOT NULL REFERENCES studies (id),
    series_id BIGINT NOT NULL REFERENCES series (id),
    sop_instance_uid TEXT NOT NULL,
    sop_class_uid TEXT NOT NULL,
    transfer_syntax_uid TEXT NOT NULL,
    instance_number INTEGER,
    rows_count INTEGER,
    columns_count INTEGER,
    frames INTEGER,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    received_via TEXT NOT NULL CHECK (received_via IN ('c-store', 'stow-rs', 'upload')),
    received_at TIMESTAMP NOT NULL,
    UNIQUE (facility_id, sop_instance_uid)
);
CREATE INDEX instances_series_idx ON instances (series_id);
CREATE INDEX instances_study_idx ON instances (study_id);
CREATE INDEX instances_storage_key_idx ON instances (storage_key);
