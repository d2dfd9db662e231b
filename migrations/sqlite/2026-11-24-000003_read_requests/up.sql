-- Read requests: the body-part catalogue, versioned price tables, each supporting
-- facility's reading policy, the requests with their price snapshot, priors, attachments
-- and status history, and the outbox for notifications. Timestamps are UTC.
-- Kept in step with migrations/postgres (a test compares the two).

-- The body-part catalogue: DICOM Body Part Examined defined terms (PS3.16 Annex L) with
-- Japanese names, grouped by region. The association may add entries and fill in the
-- JJ1017 code from the official master (never invented here, so it starts empty).
CREATE TABLE body_parts (
    code TEXT PRIMARY KEY NOT NULL,
    region TEXT NOT NULL CHECK (region IN ('head_neck', 'chest', 'breast', 'abdomen', 'pelvis',
        'spine', 'upper_limb', 'lower_limb', 'whole_body', 'other')),
    name_ja TEXT NOT NULL,
    name_en TEXT NOT NULL,
    jj1017_code TEXT,
    sort_order INTEGER NOT NULL DEFAULT 0,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at TIMESTAMP NOT NULL
);

-- A price table version: a supporting facility's (or, with no facility, the association's
-- default), in force from `effective_from` until a later version of the same owner. Versions
-- are never changed (the database refuses it); a new price means a new version.
CREATE TABLE price_tables (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    facility_id BIGINT REFERENCES facilities (id),
    effective_from TIMESTAMP NOT NULL,
    tax_included BOOLEAN NOT NULL,
    tax_rate_percent INTEGER NOT NULL CHECK (tax_rate_percent BETWEEN 0 AND 100),
    rounding TEXT NOT NULL CHECK (rounding IN ('floor', 'half_up', 'ceil')),
    after_hours_start TEXT NOT NULL,
    after_hours_end TEXT NOT NULL,
    holidays_after_hours BOOLEAN NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX price_tables_owner_idx ON price_tables (facility_id, effective_from);

CREATE TABLE price_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    price_table_id BIGINT NOT NULL REFERENCES price_tables (id),
    category TEXT NOT NULL CHECK (category IN ('clinical', 'screening')),
    exam TEXT NOT NULL CHECK (exam IN ('ct', 'mri', 'cr_dx', 'mmg', 'ugi', 'fundus', 'us',
        'nm_pet', 'other')),
    label TEXT NOT NULL DEFAULT '',
    base_price BIGINT NOT NULL CHECK (base_price >= 0),
    covered_body_parts INTEGER,
    covered_images INTEGER,
    includes_comparison BOOLEAN NOT NULL DEFAULT FALSE,
    extra_body_part_price BIGINT NOT NULL DEFAULT 0,
    extra_images_block INTEGER,
    extra_images_price BIGINT NOT NULL DEFAULT 0,
    emergency_surcharge BIGINT NOT NULL DEFAULT 0,
    after_hours_surcharge BIGINT NOT NULL DEFAULT 0,
    comparison_price BIGINT NOT NULL DEFAULT 0,
    UNIQUE (price_table_id, category, exam)
);

-- How a supporting facility takes requests. No row: the defaults.
CREATE TABLE reading_policies (
    facility_id BIGINT PRIMARY KEY NOT NULL REFERENCES facilities (id),
    accepts_emergency BOOLEAN NOT NULL DEFAULT TRUE,
    emergency_from TEXT NOT NULL DEFAULT '00:00',
    emergency_until TEXT NOT NULL DEFAULT '00:00',
    routine_cutoff TEXT NOT NULL DEFAULT '12:00',
    routine_days INTEGER NOT NULL DEFAULT 1,
    allow_radiologist_choice BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE read_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    requesting_facility_id BIGINT NOT NULL REFERENCES facilities (id),
    supporting_facility_id BIGINT NOT NULL REFERENCES facilities (id),
    radiologist_id BIGINT REFERENCES users (id),
    study_id BIGINT NOT NULL REFERENCES studies (id),
    patient_id BIGINT NOT NULL REFERENCES patients (id),
    requested_by BIGINT NOT NULL REFERENCES users (id),
    status TEXT NOT NULL CHECK (status IN ('requested', 'accepted', 'reading', 'confirmed',
        'acknowledged', 'cancelled')),
    urgency TEXT NOT NULL CHECK (urgency IN ('emergency', 'routine')),
    category TEXT NOT NULL CHECK (category IN ('clinical', 'screening')),
    modality TEXT NOT NULL,
    exam TEXT NOT NULL,
    body_parts TEXT NOT NULL,
    purpose TEXT NOT NULL,
    purpose_note TEXT NOT NULL DEFAULT '',
    clinical_info TEXT NOT NULL,
    clinical_note TEXT NOT NULL DEFAULT '',
    contact_phone TEXT NOT NULL,
    image_count BIGINT NOT NULL,
    filed_while_arriving BOOLEAN NOT NULL DEFAULT FALSE,
    routed_by TEXT NOT NULL CHECK (routed_by IN ('requester', 'rule')),
    routing_note TEXT NOT NULL DEFAULT '',
    due_at TIMESTAMP NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX read_requests_requesting_idx ON read_requests (requesting_facility_id, requested_at);
CREATE INDEX read_requests_supporting_idx ON read_requests (supporting_facility_id, status);
CREATE INDEX read_requests_study_idx ON read_requests (study_id);
-- One live request per study and target.
CREATE UNIQUE INDEX read_requests_one_live_idx ON read_requests (study_id, supporting_facility_id)
    WHERE status IN ('requested', 'accepted', 'reading');

-- The price as quoted when the request was filed; never changed afterwards.
CREATE TABLE request_prices (
    request_id BIGINT PRIMARY KEY NOT NULL REFERENCES read_requests (id),
    price_table_id BIGINT NOT NULL REFERENCES price_tables (id),
    subtotal BIGINT NOT NULL,
    tax BIGINT NOT NULL,
    total BIGINT NOT NULL,
    tax_included BOOLEAN NOT NULL,
    quote TEXT NOT NULL
);

CREATE TABLE request_priors (
    request_id BIGINT NOT NULL REFERENCES read_requests (id),
    study_id BIGINT NOT NULL REFERENCES studies (id),
    PRIMARY KEY (request_id, study_id)
);

-- Status history: one row per change, with who made it.
CREATE TABLE request_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id BIGINT NOT NULL REFERENCES read_requests (id),
    status TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    user_id BIGINT REFERENCES users (id),
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX request_events_request_idx ON request_events (request_id);

-- A referral letter (PDF). Staged by the request form (no request yet), then attached.
CREATE TABLE request_attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    facility_id BIGINT NOT NULL REFERENCES facilities (id),
    uploaded_by BIGINT NOT NULL REFERENCES users (id),
    request_id BIGINT REFERENCES read_requests (id),
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX request_attachments_request_idx ON request_attachments (request_id);

-- Side effects that leave the process (mail), written in the same transaction as their
-- cause and delivered by a worker with retries. Payloads carry ids, never patient data.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    done_at TIMESTAMP
);
CREATE INDEX outbox_due_idx ON outbox (status, next_attempt_at);

INSERT INTO body_parts (code, region, name_ja, name_en, sort_order, updated_at) VALUES
    ('HEAD', 'head_neck', '頭部', 'Head', 10, CURRENT_TIMESTAMP),
    ('BRAIN', 'head_neck', '脳', 'Brain', 20, CURRENT_TIMESTAMP),
    ('SKULL', 'head_neck', '頭蓋骨', 'Skull', 30, CURRENT_TIMESTAMP),
    ('CIRCLEOFWILLIS', 'head_neck', 'ウィリス動脈輪', 'Circle of Willis', 40, CURRENT_TIMESTAMP),
    ('FACE', 'head_neck', '顔面', 'Face', 50, CURRENT_TIMESTAMP),
    ('ORBIT', 'head_neck', '眼窩', 'Orbit', 60, CURRENT_TIMESTAMP),
    ('SINUS', 'head_neck', '副鼻腔', 'Paranasal sinus', 70, CURRENT_TIMESTAMP),
    ('IAC', 'head_neck', '内耳道', 'Internal auditory canal', 80, CURRENT_TIMESTAMP),
    ('EAR', 'head_neck', '耳', 'Ear', 90, CURRENT_TIMESTAMP),
    ('TMJ', 'head_neck', '顎関節', 'Temporomandibular joint', 100, CURRENT_TIMESTAMP),
    ('JAW', 'head_neck', '顎', 'Jaw', 110, CURRENT_TIMESTAMP),
    ('NECK', 'head_neck', '頸部', 'Neck', 120, CURRENT_TIMESTAMP),
    ('HEADNECK', 'head_neck', '頭頸部', 'Head and neck', 130, CURRENT_TIMESTAMP),
    ('PHARYNX', 'head_neck', '咽頭', 'Pharynx', 140, CURRENT_TIMESTAMP),
    ('LARYNX', 'head_neck', '喉頭', 'Larynx', 150, CURRENT_TIMESTAMP),
    ('THYROID', 'head_neck', '甲状腺', 'Thyroid', 160, CURRENT_TIMESTAMP),
    ('CAROTID', 'head_neck', '頸動脈', 'Carotid artery', 170, CURRENT_TIMESTAMP),
    ('CHEST', 'chest', '胸部', 'Chest', 180, CURRENT_TIMESTAMP),
    ('LUNG', 'chest', '肺', 'Lung', 190, CURRENT_TIMESTAMP),
    ('MEDIASTINUM', 'chest', '縦隔', 'Mediastinum', 200, CURRENT_TIMESTAMP),
    ('HEART', 'chest', '心臓', 'Heart', 210, CURRENT_TIMESTAMP),
    ('CORONARYARTERY', 'chest', '冠動脈', 'Coronary artery', 220, CURRENT_TIMESTAMP),
    ('AORTA', 'chest', '大動脈', 'Aorta', 230, CURRENT_TIMESTAMP),
    ('RIB', 'chest', '肋骨', 'Rib', 240, CURRENT_TIMESTAMP),
    ('STERNUM', 'chest', '胸骨', 'Sternum', 250, CURRENT_TIMESTAMP),
    ('BREAST', 'breast', '乳房', 'Breast', 260, CURRENT_TIMESTAMP),
    ('AXILLA', 'breast', '腋窩', 'Axilla', 270, CURRENT_TIMESTAMP),
    ('ABDOMEN', 'abdomen', '腹部', 'Abdomen', 280, CURRENT_TIMESTAMP),
    ('LIVER', 'abdomen', '肝臓', 'Liver', 290, CURRENT_TIMESTAMP),
    ('GALLBLADDER', 'abdomen', '胆嚢', 'Gallbladder', 300, CURRENT_TIMESTAMP),
    ('PANCREAS', 'abdomen', '膵臓', 'Pancreas', 310, CURRENT_TIMESTAMP),
    ('SPLEEN', 'abdomen', '脾臓', 'Spleen', 320, CURRENT_TIMESTAMP),
    ('KIDNEY', 'abdomen', '腎臓', 'Kidney', 330, CURRENT_TIMESTAMP),
    ('ADRENAL', 'abdomen', '副腎', 'Adrenal gland', 340, CURRENT_TIMESTAMP),
    ('STOMACH', 'abdomen', '胃', 'Stomach', 350, CURRENT_TIMESTAMP),
    ('ESOPHAGUS', 'abdomen', '食道', 'Esophagus', 360, CURRENT_TIMESTAMP),
    ('DUODENUM', 'abdomen', '十二指腸', 'Duodenum', 370, CURRENT_TIMESTAMP),
    ('COLON', 'abdomen', '大腸', 'Colon', 380, CURRENT_TIMESTAMP),
    ('PELVIS', 'pelvis', '骨盤部', 'Pelvis', 390, CURRENT_TIMESTAMP),
    ('ABDOMENPELVIS', 'pelvis', '腹部骨盤', 'Abdomen and pelvis', 400, CURRENT_TIMESTAMP),
    ('BLADDER', 'pelvis', '膀胱', 'Bladder', 410, CURRENT_TIMESTAMP),
    ('PROSTATE', 'pelvis', '前立腺', 'Prostate', 420, CURRENT_TIMESTAMP),
    ('UTERUS', 'pelvis', '子宮', 'Uterus', 430, CURRENT_TIMESTAMP),
    ('OVARY', 'pelvis', '卵巣', 'Ovary', 440, CURRENT_TIMESTAMP),
    ('RECTUM', 'pelvis', '直腸', 'Rectum', 450, CURRENT_TIMESTAMP),
    ('HIP', 'pelvis', '股関節', 'Hip', 460, CURRENT_TIMESTAMP),
    ('SPINE', 'spine', '脊椎', 'Spine', 470, CURRENT_TIMESTAMP),
    ('CSPINE', 'spine', '頸椎', 'Cervical spine', 480, CURRENT_TIMESTAMP),
    ('TSPINE', 'spine', '胸椎', 'Thoracic spine', 490, CURRENT_TIMESTAMP),
    ('LSPINE', 'spine', '腰椎', 'Lumbar spine', 500, CURRENT_TIMESTAMP),
    ('SSPINE', 'spine', '仙骨', 'Sacrum', 510, CURRENT_TIMESTAMP),
    ('COCCYX', 'spine', '尾骨', 'Coccyx', 520, CURRENT_TIMESTAMP),
    ('SHOULDER', 'upper_limb', '肩関節', 'Shoulder', 530, CURRENT_TIMESTAMP),
    ('CLAVICLE', 'upper_limb', '鎖骨', 'Clavicle', 540, CURRENT_TIMESTAMP),
    ('SCAPULA', 'upper_limb', '肩甲骨', 'Scapula', 550, CURRENT_TIMESTAMP),
    ('HUMERUS', 'upper_limb', '上腕骨', 'Humerus', 560, CURRENT_TIMESTAMP),
    ('ELBOW', 'upper_limb', '肘関節', 'Elbow', 570, CURRENT_TIMESTAMP),
    ('ARM', 'upper_limb', '上肢', 'Arm', 580, CURRENT_TIMESTAMP),
    ('WRIST', 'upper_limb', '手関節', 'Wrist', 590, CURRENT_TIMESTAMP),
    ('HAND', 'upper_limb', '手', 'Hand', 600, CURRENT_TIMESTAMP),
    ('FINGER', 'upper_limb', '手指', 'Finger', 610, CURRENT_TIMESTAMP),
    ('FEMUR', 'lower_limb', '大腿骨', 'Femur', 620, CURRENT_TIMESTAMP),
    ('THIGH', 'lower_limb', '大腿', 'Thigh', 630, CURRENT_TIMESTAMP),
    ('KNEE', 'lower_limb', '膝関節', 'Knee', 640, CURRENT_TIMESTAMP),
    ('PATELLA', 'lower_limb', '膝蓋骨', 'Patella', 650, CURRENT_TIMESTAMP),
    ('LEG', 'lower_limb', '下腿', 'Lower leg', 660, CURRENT_TIMESTAMP),
    ('ANKLE', 'lower_limb', '足関節', 'Ankle', 670, CURRENT_TIMESTAMP),
    ('FOOT', 'lower_limb', '足', 'Foot', 680, CURRENT_TIMESTAMP),
    ('TOE', 'lower_limb', '足趾', 'Toe', 690, CURRENT_TIMESTAMP),
    ('WHOLEBODY', 'whole_body', '全身', 'Whole body', 700, CURRENT_TIMESTAMP),
    ('CHESTABDOMEN', 'whole_body', '胸腹部', 'Chest and abdomen', 710, CURRENT_TIMESTAMP),
    ('CHESTABDPELV', 'whole_body', '胸腹骨盤部', 'Chest, abdomen and pelvis', 720, CURRENT_TIMESTAMP),
    ('NECKCHESTABDPELV', 'whole_body', '頸胸腹骨盤部', 'Neck, chest, abdomen and pelvis', 730, CURRENT_TIMESTAMP),
    ('EXTREMITY', 'other', '四肢', 'Extremity', 740, CURRENT_TIMESTAMP),
    ('EYE', 'other', '眼（眼底）', 'Eye (fundus)', 750, CURRENT_TIMESTAMP);

-- Price versions and quoted prices are records: the database refuses to change them.
CREATE TRIGGER price_tables_no_update BEFORE UPDATE ON price_tables
BEGIN
    SELECT RAISE(ABORT, 'price table versions are never changed');
END;
CREATE TRIGGER price_tables_no_delete BEFORE DELETE ON price_tables
BEGIN
    SELECT RAISE(ABORT, 'price table versions are never changed');
END;
CREATE TRIGGER price_items_no_update BEFORE UPDATE ON price_items
BEGIN
    SELECT RAISE(ABORT, 'price table versions are never changed');
END;
CREATE TRIGGER price_items_no_delete BEFORE DELETE ON price_items
BEGIN
    SELECT RAISE(ABORT, 'price table versions are never changed');
END;
CREATE TRIGGER request_prices_no_update BEFORE UPDATE ON request_prices
BEGIN
    SELECT RAISE(ABORT, 'a quoted price is never changed');
END;
CREATE TRIGGER request_prices_no_delete BEFORE DELETE ON request_prices
BEGIN
    SELECT RAISE(ABORT, 'a quoted price is never changed');
END;
