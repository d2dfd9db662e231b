//! The diesel schema, written by hand to match both migration trees
//! (`migrations/sqlite` and `migrations/postgres`); `tests/schema.rs` checks that they agree.

diesel::table! {
    facilities (id) {
        id -> BigInt,
        name -> Text,
        kind -> Text,
        is_requesting -> Bool,
        is_supporting -> Bool,
        status -> Text,
        postal_address -> Text,
        phone -> Text,
        notification_emails -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        facility_id -> BigInt,
        username -> Text,
        display_name -> Text,
        email -> Text,
        kind -> Text,
        password_hash -> Nullable<Text>,
        must_change_password -> Bool,
        totp_secret -> Nullable<Text>,
        totp_enabled -> Bool,
        is_active -> Bool,
        last_sign_in_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    user_roles (user_id, role) {
        user_id -> BigInt,
        role -> Text,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> BigInt,
        user_id -> BigInt,
        code_hash -> Text,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> BigInt,
        stage -> Text,
        csrf_token -> Text,
        lang -> Text,
        source_address -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        token_hash -> Text,
        token_prefix -> Text,
        created_by -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    contracts (id) {
        id -> BigInt,
        requesting_facility_id -> BigInt,
        supporting_facility_id -> BigInt,
        modalities -> Text,
        valid_from -> Date,
        valid_until -> Nullable<Date>,
        note -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    dicom_nodes (id) {
        id -> BigInt,
        facility_id -> BigInt,
        ae_title -> Text,
        allowed_addresses -> Text,
        host -> Nullable<Text>,
        port -> Nullable<Integer>,
        description -> Text,
        is_enabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        seq -> BigInt,
        occurred_at -> Timestamp,
        user_id -> Nullable<BigInt>,
        username -> Nullable<Text>,
        facility_id -> Nullable<BigInt>,
        role -> Nullable<Text>,
        action -> Text,
        object_type -> Nullable<Text>,
        object_id -> Nullable<Text>,
        patient_ref -> Nullable<Text>,
        study_ref -> Nullable<Text>,
        outcome -> Text,
        source -> Text,
        detail -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::joinable!(users -> facilities (facility_id));
diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(dicom_nodes -> facilities (facility_id));

diesel::allow_tables_to_appear_in_same_query!(
    facilities,
    users,
    user_roles,
    recovery_codes,
    sessions,
    api_tokens,
    contracts,
    dicom_nodes,
    audit_events,
    patients,
    studies,
    series,
    instances,
);

diesel::table! {
    patients (id) {
        id -> BigInt,
        facility_id -> BigInt,
        patient_key -> Text,
        name_alphabetic -> Text,
        name_ideographic -> Text,
        name_phonetic -> Text,
        name_search -> Text,
        birth_date -> Nullable<Date>,
        sex -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    studies (id) {
        id -> BigInt,
        facility_id -> BigInt,
        patient_id -> BigInt,
        study_uid -> Text,
        accession_number -> Text,
        study_date -> Nullable<Date>,
        study_time -> Text,
        description -> Text,
        modalities -> Text,
        body_part -> Text,
        referring_physician -> Text,
        num_series -> BigInt,
        num_instances -> BigInt,
        size_bytes -> BigInt,
        first_received_at -> Timestamp,
        last_received_at -> Timestamp,
    }
}

diesel::table! {
    series (id) {
        id -> BigInt,
        study_id -> BigInt,
        series_uid -> Text,
        modality -> Text,
        series_number -> Nullable<Integer>,
        description -> Text,
        body_part -> Text,
        num_instances -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    instances (id) {
        id -> BigInt,
        facility_id -> BigInt,
        study_id -> BigInt,
        series_id -> BigInt,
        sop_instance_uid -> Text,
        sop_class_uid -> Text,
        transfer_syntax_uid -> Text,
        instance_number -> Nullable<Integer>,
        rows_count -> Nullable<Integer>,
        columns_count -> Nullable<Integer>,
        frames -> Nullable<Integer>,
        size_bytes -> BigInt,
        sha256 -> Text,
        storage_key -> Text,
        received_via -> Text,
        received_at -> Timestamp,
    }
}

diesel::joinable!(studies -> patients (patient_id));
diesel::joinable!(series -> studies (study_id));
diesel::joinable!(instances -> series (series_id));
