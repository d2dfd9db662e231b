//! `parse_instance` on valid and hostile inputs, `wrap_dataset` round trips, and fuzzing:
//! nothing may panic, every bad input gets the expected `Reject`.

// Tests may unwrap (workspace lint policy); helpers outside #[test] fns need it too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use proptest::prelude::*;
use radvision::ingest::model::{PersonName, Reject};
use radvision::ingest::parse::{parse_instance, Limits};
use radvision::ingest::part10::wrap_dataset;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/dicom")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn parse(name: &str) -> Result<radvision::ingest::model::ParsedInstance, Reject> {
    parse_instance(&fixture(name), &Limits::default())
}

fn date(y: i32, m: u32, d: u32) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::from_ymd_opt(y, m, d)
}

const STUDY: &str = "2.25.100000000000000000000000000000001445";
const SERIES: &str = "2.25.100000000000000000000000000000001446";

#[test]
fn valid_ct_explicit_le_all_fields() {
    let i = parse("ct_explicit_le.dcm").unwrap();
    assert_eq!(i.sop_class_uid, "1.2.840.10008.5.1.4.1.1.2");
    assert_eq!(
        i.sop_instance_uid,
        "2.25.2000000000000000000000000000000001"
    );
    assert_eq!(i.study_instance_uid, STUDY);
    assert_eq!(i.series_instance_uid, SERIES);
    assert_eq!(i.transfer_syntax_uid, "1.2.840.10008.1.2.1");
    assert_eq!(i.patient_id, "PID-0001");
    assert_eq!(
        i.patient_name,
        PersonName {
            alphabetic: "Buc^Jérôme".into(),
            ..Default::default()
        }
    );
    assert_eq!(i.patient_birth_date, date(1970, 1, 1));
    assert_eq!(i.patient_sex, "M");
    assert_eq!(i.study_date, date(2024, 2, 29));
    assert_eq!(i.study_time, "101530.25");
    assert_eq!(i.accession_number, "ACC0001");
    assert_eq!(i.study_description, "Chest");
    assert_eq!(i.referring_physician.alphabetic, "Doe^John^^Dr");
    assert_eq!(i.modality, "CT");
    assert_eq!(i.body_part_examined, "CHEST");
    assert_eq!(i.series_number, Some(2));
    assert_eq!(i.series_description, "Axial 5mm");
    assert_eq!(i.instance_number, Some(1));
    assert_eq!(
        (i.rows, i.columns, i.number_of_frames),
        (Some(64), Some(64), None)
    );
    assert_eq!(i.specific_character_set, "ISO_IR 100");
    assert_eq!(i.charset_problem, None);
}

#[test]
fn valid_other_syntaxes_and_classes() {
    let mr = parse("mr_implicit_le.dcm").unwrap();
    assert_eq!(mr.transfer_syntax_uid, "1.2.840.10008.1.2");
    assert_eq!((mr.modality.as_str(), mr.instance_number), ("MR", Some(2)));
    assert_eq!(mr.patient_name.alphabetic, "Buc^Jérôme");

    let cr = parse("cr_explicit_le.dcm").unwrap();
    assert_eq!(cr.sop_class_uid, "1.2.840.10008.5.1.4.1.1.1");
    assert_eq!(cr.study_date, date(2024, 2, 29)); // "2024.02.29" tolerated
    assert_eq!(cr.patient_sex, "F");

    let d = parse("ct_deflated.dcm").unwrap();
    assert_eq!(d.transfer_syntax_uid, "1.2.840.10008.1.2.1.99");
    assert_eq!(d.patient_id, "PID-0001");

    let be = parse("ct_explicit_be.dcm").unwrap();
    assert_eq!(
        (be.rows, be.columns, be.series_number),
        (Some(64), Some(64), Some(2))
    );

    let pre = parse("ct_hostile_preamble.dcm").unwrap();
    assert_eq!(pre.instance_number, Some(6));

    let rle = parse("ct_rle_encapsulated.dcm").unwrap();
    assert_eq!(rle.transfer_syntax_uid, "1.2.840.10008.1.2.5");
}

fn expect(name: &str, want: Reject) {
    assert_eq!(parse(name).unwrap_err(), want, "{name}");
}

fn expect_malformed(name: &str) {
    match parse(name) {
        Err(Reject::Malformed(msg)) => eprintln!("{name}: {msg}"),
        other => panic!("{name}: expected Malformed, got {other:?}"),
    }
}

#[test]
fn bad_files_are_refused_with_the_right_reason() {
    expect("bad_truncated_pixels.dcm", Reject::TruncatedPixelData);
    expect("bad_cut_pixels.dcm", Reject::TruncatedPixelData);
    assert!(matches!(
        parse("bad_rows_zero.dcm"),
        Err(Reject::AbsurdDimensions(_))
    ));
    assert!(matches!(
        parse("bad_rows_65535.dcm"),
        Err(Reject::AbsurdDimensions(_))
    ));
    assert!(matches!(
        parse("bad_frames.dcm"),
        Err(Reject::AbsurdDimensions(_))
    ));
    expect_malformed("bad_deep_sequence.dcm");
    expect("bad_uid_letters.dcm", Reject::BadUid("StudyInstanceUID"));
    expect("bad_uid_65.dcm", Reject::BadUid("SOPInstanceUID"));
    expect(
        "bad_sop_class.dcm",
        Reject::UnsupportedSopClass("1.2.840.10008.5.1.4.1.1.481.1".into()),
    );
    expect_malformed("bad_sop_mismatch.dcm");
    expect(
        "bad_transfer_syntax.dcm",
        Reject::UnsupportedTransferSyntax("1.2.3.4".into()),
    );
    assert!(matches!(parse("bad_no_dicm.dcm"), Err(Reject::NotDicom(_))));
    expect_malformed("bad_meta_length.dcm");
    expect_malformed("bad_length_beyond.dcm");
    expect_malformed("bad_undefined_length.dcm");
    assert!(matches!(parse("bad_garbage.dcm"), Err(Reject::NotDicom(_))));
}

#[test]
fn deep_sequence_passes_with_a_higher_limit() {
    let limits = Limits {
        max_sequence_depth: 40,
        ..Limits::default()
    };
    assert!(parse_instance(&fixture("bad_deep_sequence.dcm"), &limits).is_ok());
}

#[test]
fn size_limit_is_checked_first() {
    let limits = Limits {
        max_instance_bytes: 1000,
        ..Limits::default()
    };
    assert_eq!(
        parse_instance(&fixture("ct_explicit_le.dcm"), &limits),
        Err(Reject::TooLarge(1000))
    );
    assert_eq!(
        parse_instance(&fixture("bad_garbage.dcm"), &limits),
        Err(Reject::TooLarge(1000))
    );
}

#[test]
fn huge_declared_length_is_refused_without_allocating() {
    // 0xFFFFFFF0 on a UT value: must be refused from the length alone.
    let mut f = fixture("bad_length_beyond.dcm");
    let at = f
        .windows(6)
        .position(|w| w == b"\x40\x00\x60\xa1UT")
        .unwrap();
    f[at + 8..at + 12].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    assert!(matches!(
        parse_instance(&f, &Limits::default()),
        Err(Reject::Malformed(_))
    ));
}

fn meta_end(f: &[u8]) -> usize {
    144 + u32::from_le_bytes([f[140], f[141], f[142], f[143]]) as usize
}

#[test]
fn wrap_dataset_round_trips() {
    for (name, ts) in [
        ("ct_explicit_le.dcm", "1.2.840.10008.1.2.1"),
        ("mr_implicit_le.dcm", "1.2.840.10008.1.2"),
        ("ja_ir13_ir87.dcm", "1.2.840.10008.1.2.1"),
        ("ct_deflated.dcm", "1.2.840.10008.1.2.1.99"),
    ] {
        let original = fixture(name);
        let parsed = parse_instance(&original, &Limits::default()).unwrap();
        let dataset = &original[meta_end(&original)..];
        let wrapped = wrap_dataset(&parsed.sop_class_uid, &parsed.sop_instance_uid, ts, dataset);
        assert_eq!(&wrapped[128..132], b"DICM");
        assert!(wrapped.ends_with(dataset));
        let again = parse_instance(&wrapped, &Limits::default()).unwrap();
        assert_eq!(again, parsed, "{name}");
    }
}

/// dicom-object's own behaviour on the hostile fixtures (why Enkaku walks data sets itself):
/// it returns errors rather than panicking on lengths beyond the data and undefined lengths.
#[test]
fn dicom_object_errors_on_bad_lengths() {
    for name in [
        "bad_length_beyond.dcm",
        "bad_undefined_length.dcm",
        "bad_meta_length.dcm",
    ] {
        let f = fixture(name);
        let r = dicom_object::OpenFileOptions::new().from_reader(&f[128..]);
        assert!(r.is_err(), "{name}");
    }
}

fn all_fixtures() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/dicom");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .chain(std::fs::read_dir(dir.join("pydicom")).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .collect();
    names.sort();
    names.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn every_truncation_of_every_fixture_is_handled() {
    for f in all_fixtures() {
        for cut in (0..f.len()).step_by(7) {
            let _ = parse_instance(&f[..cut], &Limits::default());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = parse_instance(&data, &Limits::default());
        let mut with_magic = vec![0u8; 128];
        with_magic.extend_from_slice(b"DICM");
        with_magic.extend_from_slice(&data);
        let _ = parse_instance(&with_magic, &Limits::default());
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0usize..64,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let files = fixtures_cache();
        let mut f = files[which % files.len()].clone();
        for (at, byte) in edits {
            let i = at.index(f.len());
            f[i] = byte;
        }
        if truncate {
            f.truncate(cut.index(f.len() + 1));
        }
        let _ = parse_instance(&f, &Limits::default());
    }

    #[test]
    fn mutated_headers_never_panic(
        which in 0usize..64,
        edits in proptest::collection::vec((0usize..600, any::<u8>()), 1..8),
    ) {
        // Concentrate mutations on meta and early headers, where lengths and VRs live.
        let files = fixtures_cache();
        let mut f = files[which % files.len()].clone();
        for (at, byte) in edits {
            if let Some(b) = f.get_mut(128 + at) {
                *b = byte;
            }
        }
        let _ = parse_instance(&f, &Limits::default());
    }
}

fn fixtures_cache() -> &'static Vec<Vec<u8>> {
    static CACHE: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    CACHE.get_or_init(all_fixtures)
}

/// The imaging attributes are read from a real CT (pydicom's CT_small.dcm) and a bad value
/// is left out rather than refusing the instance.
#[test]
fn imaging_attributes_of_a_real_ct() {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "from pydicom.data import get_testdata_file as g; print(g('CT_small.dcm'))",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let path = String::from_utf8(out.stdout).unwrap();
    let data = std::fs::read(path.trim()).unwrap();
    let i = parse_instance(&data, &Limits::default()).unwrap();
    let a = &i.imaging;
    assert_eq!(a.pixel_spacing, Some([0.661468, 0.661468]));
    assert_eq!(a.rescale_intercept, Some(-1024.0));
    assert_eq!(a.rescale_slope, Some(1.0));
    assert_eq!(a.slice_thickness, Some(5.0));
    assert_eq!(a.slice_location, Some(-77.2040634155));
    assert_eq!(
        a.image_position,
        Some([-158.135803, -179.035797, -75.699997])
    );
    assert_eq!(a.image_orientation, Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]));
    assert_eq!(
        (
            a.bits_allocated,
            a.bits_stored,
            a.high_bit,
            a.pixel_representation
        ),
        (Some(16), Some(16), Some(15), Some(1))
    );
    assert_eq!(a.photometric.as_deref(), Some("MONOCHROME2"));
    assert_eq!(a.samples_per_pixel, Some(1));
    assert!(a.window_center.is_empty());

    // The explicit-LE fixture: pixel description only.
    let ct = parse("ct_explicit_le.dcm").unwrap();
    assert_eq!(ct.imaging.bits_stored, Some(12));
    assert_eq!(ct.imaging.pixel_spacing, None);
    // Big endian: US values read in the right byte order (8, not 2048).
    let be = parse("ct_explicit_be.dcm").unwrap();
    assert_eq!(
        (be.imaging.bits_allocated, be.imaging.high_bit),
        (Some(8), Some(7))
    );
}
