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
    body_parts,
    price_tables,
    price_items,
    reading_policies,
    read_requests,
    request_prices,
    request_priors,
    request_events,
    request_attachments,
    outbox,
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
        imaging -> Text,
    }
}

diesel::joinable!(studies -> patients (patient_id));
diesel::joinable!(series -> studies (study_id));
diesel::joinable!(instances -> series (series_id));

diesel::table! {
    body_parts (code) {
        code -> Text,
        region -> Text,
        name_ja -> Text,
        name_en -> Text,
        jj1017_code -> Nullable<Text>,
        sort_order -> Integer,
        is_active -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    price_tables (id) {
        id -> BigInt,
        facility_id -> Nullable<BigInt>,
        effective_from -> Timestamp,
        tax_included -> Bool,
        tax_rate_percent -> Integer,
        rounding -> Text,
        after_hours_start -> Text,
        after_hours_end -> Text,
        holidays_after_hours -> Bool,
        note -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    price_items (id) {
        id -> BigInt,
        price_table_id -> BigInt,
        category -> Text,
        exam -> Text,
        label -> Text,
        base_price -> BigInt,
        covered_body_parts -> Nullable<Integer>,
        covered_images -> Nullable<Integer>,
        includes_comparison -> Bool,
        extra_body_part_price -> BigInt,
        extra_images_block -> Nullable<Integer>,
        extra_images_price -> BigInt,
        emergency_surcharge -> BigInt,
        after_hours_surcharge -> BigInt,
        comparison_price -> BigInt,
    }
}

diesel::table! {
    reading_policies (facility_id) {
        facility_id -> BigInt,
        accepts_emergency -> Bool,
        emergency_from -> Text,
        emergency_until -> Text,
        routine_cutoff -> Text,
        routine_days -> Integer,
        allow_radiologist_choice -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    read_requests (id) {
        id -> BigInt,
        requesting_facility_id -> BigInt,
        supporting_facility_id -> BigInt,
        radiologist_id -> Nullable<BigInt>,
        study_id -> BigInt,
        patient_id -> BigInt,
        requested_by -> BigInt,
        status -> Text,
        urgency -> Text,
        category -> Text,
        modality -> Text,
        exam -> Text,
        body_parts -> Text,
        purpose -> Text,
        purpose_note -> Text,
        clinical_info -> Text,
        clinical_note -> Text,
        contact_phone -> Text,
        image_count -> BigInt,
        filed_while_arriving -> Bool,
        routed_by -> Text,
        routing_note -> Text,
        due_at -> Timestamp,
        requested_at -> Timestamp,
        updated_at -> Timestamp,
        assigned_to -> Nullable<BigInt>,
        assigned_at -> Nullable<Timestamp>,
        assigned_by -> Nullable<BigInt>,
        assignment_reason -> Text,
        reading_started_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    request_prices (request_id) {
        request_id -> BigInt,
        price_table_id -> BigInt,
        subtotal -> BigInt,
        tax -> BigInt,
        total -> BigInt,
        tax_included -> Bool,
        quote -> Text,
    }
}

diesel::table! {
    request_priors (request_id, study_id) {
        request_id -> BigInt,
        study_id -> BigInt,
    }
}

diesel::table! {
    request_events (id) {
        id -> BigInt,
        request_id -> BigInt,
        status -> Text,
        occurred_at -> Timestamp,
        user_id -> Nullable<BigInt>,
        note -> Text,
    }
}

diesel::table! {
    request_attachments (id) {
        id -> BigInt,
        facility_id -> BigInt,
        uploaded_by -> BigInt,
        request_id -> Nullable<BigInt>,
        file_name -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        storage_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        kind -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        done_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(price_items -> price_tables (price_table_id));
diesel::joinable!(request_prices -> read_requests (request_id));
diesel::joinable!(request_events -> read_requests (request_id));
diesel::joinable!(read_requests -> studies (study_id));
diesel::joinable!(read_requests -> patients (patient_id));

diesel::table! {
    dicom_sends (id) {
        id -> BigInt,
        facility_id -> BigInt,
        study_id -> BigInt,
        node_id -> Nullable<BigInt>,
        node_ae_title -> Text,
        requested_by -> BigInt,
        status -> Text,
        instances_total -> Integer,
        instances_sent -> Integer,
        instances_failed -> Integer,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    dicom_send_items (send_id, instance_id) {
        send_id -> BigInt,
        instance_id -> BigInt,
        status -> Text,
        error -> Nullable<Text>,
    }
}

diesel::joinable!(dicom_send_items -> dicom_sends (send_id));
diesel::allow_tables_to_appear_in_same_query!(dicom_sends, dicom_send_items);

diesel::table! {
    key_images (id) {
        id -> BigInt,
        facility_id -> BigInt,
        study_id -> BigInt,
        instance_id -> BigInt,
        frame -> Integer,
        request_id -> Nullable<BigInt>,
        marked_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::joinable!(key_images -> instances (instance_id));
diesel::allow_tables_to_appear_in_same_query!(key_images, instances);
diesel::allow_tables_to_appear_in_same_query!(key_images, series);

diesel::table! {
    specialty_scores (user_id, exam, region) {
        facility_id -> BigInt,
        user_id -> BigInt,
        exam -> Text,
        region -> Text,
        score -> Integer,
        updated_at -> Timestamp,
        updated_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    duty_slots (id) {
        id -> BigInt,
        facility_id -> BigInt,
        user_id -> BigInt,
        weekday -> Integer,
        starts -> Text,
        ends -> Text,
        created_at -> Timestamp,
        created_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    assignment_settings (facility_id) {
        facility_id -> BigInt,
        auto_assign -> Bool,
        max_open -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(specialty_scores, users);
diesel::allow_tables_to_appear_in_same_query!(duty_slots, users);

diesel::table! {
    reports (id) {
        id -> BigInt,
        request_id -> BigInt,
        supporting_facility_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    report_versions (id) {
        id -> BigInt,
        report_id -> BigInt,
        version -> Integer,
        kind -> Text,
        findings -> Text,
        impression -> Text,
        recommendation -> Text,
        addendum_reason -> Nullable<Text>,
        author_id -> BigInt,
        confirmed_by -> BigInt,
        confirmed_at -> Timestamp,
    }
}

diesel::table! {
    report_version_key_images (version_id, instance_id, frame) {
        version_id -> BigInt,
        instance_id -> BigInt,
        frame -> Integer,
    }
}

diesel::table! {
    report_drafts (request_id) {
        request_id -> BigInt,
        author_id -> BigInt,
        findings -> Text,
        impression -> Text,
        recommendation -> Text,
        addendum_reason -> Nullable<Text>,
        revision -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    report_templates (id) {
        id -> BigInt,
        facility_id -> BigInt,
        exam -> Text,
        region -> Nullable<Text>,
        name -> Text,
        findings -> Text,
        impression -> Text,
        recommendation -> Text,
        updated_by -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    fee_lines (id) {
        id -> BigInt,
        request_id -> BigInt,
        requesting_facility_id -> BigInt,
        supporting_facility_id -> BigInt,
        subtotal -> BigInt,
        tax -> BigInt,
        total -> BigInt,
        tax_included -> Bool,
        confirmed_at -> Timestamp,
    }
}

diesel::joinable!(report_versions -> reports (report_id));
diesel::joinable!(report_version_key_images -> instances (instance_id));
diesel::allow_tables_to_appear_in_same_query!(reports, report_versions);
diesel::allow_tables_to_appear_in_same_query!(reports, read_requests);
diesel::allow_tables_to_appear_in_same_query!(report_version_key_images, instances);
diesel::allow_tables_to_appear_in_same_query!(report_version_key_images, series);
diesel::allow_tables_to_appear_in_same_query!(report_version_key_images, studies);

diesel::table! {
    durability_marks (name) {
        name -> Text,
        marked_at -> Timestamp,
    }
}
