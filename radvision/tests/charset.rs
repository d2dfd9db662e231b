//! Specific Character Set decoding: PS3.5 Annex H/I/J/K examples as byte literals, pydicom's
//! character-set files and Enkaku's generated fixtures.

// Tests may unwrap (workspace lint policy); helpers outside #[test] fns need it too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use radvision::ingest::charset::{decode_person_name, decode_text, SpecificCharacterSet};
use radvision::ingest::model::PersonName;
use radvision::ingest::parse::{parse_instance, Limits};

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/dicom")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn pn(a: &str, i: &str, p: &str) -> PersonName {
    PersonName {
        alphabetic: a.into(),
        ideographic: i.into(),
        phonetic: p.into(),
    }
}

fn decode_pn(raw: &[u8], cs: &str) -> PersonName {
    let (name, problem) = decode_person_name(raw, &SpecificCharacterSet::parse(cs));
    assert_eq!(problem, None, "{cs}");
    name
}

/// Raw value of the first explicit-VR-LE element with this tag and a 2-byte length
/// (test helper for files that `parse_instance` refuses for other reasons).
fn raw_element(file: &[u8], group: u16, element: u16, vr: &[u8; 2]) -> Vec<u8> {
    let mut needle = Vec::new();
    needle.extend_from_slice(&group.to_le_bytes());
    needle.extend_from_slice(&element.to_le_bytes());
    needle.extend_from_slice(vr);
    let at = file
        .windows(6)
        .position(|w| w == needle.as_slice())
        .unwrap();
    let len = u16::from_le_bytes([file[at + 6], file[at + 7]]) as usize;
    file[at + 8..at + 8 + len].to_vec()
}

// --- PS3.5 examples ---------------------------------------------------------------------

#[test]
fn h_3_1_iso_2022_ir_87() {
    let raw =
        b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B";
    assert_eq!(
        decode_pn(raw, "\\ISO 2022 IR 87"),
        pn("Yamada^Tarou", "山田^太郎", "やまだ^たろう")
    );
    assert_eq!(
        decode_pn(raw, "ISO 2022 IR 6\\ISO 2022 IR 87"),
        pn("Yamada^Tarou", "山田^太郎", "やまだ^たろう")
    );
}

#[test]
fn h_3_2_iso_2022_ir_13_and_87() {
    let raw = b"\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J=\xd4\xcf\xc0\xde^\xc0\xdb\xb3";
    assert_eq!(
        decode_pn(raw, "ISO 2022 IR 13\\ISO 2022 IR 87"),
        pn("ﾔﾏﾀﾞ^ﾀﾛｳ", "山田^太郎", "ﾔﾏﾀﾞ^ﾀﾛｳ")
    );
}

#[test]
fn iso_ir_13_single_byte() {
    let (s, p) = decode_text(
        b"\xd4\xcf\xc0\xde^Taro",
        &SpecificCharacterSet::parse("ISO_IR 13"),
    );
    assert_eq!((s.as_str(), p), ("ﾔﾏﾀﾞ^Taro", None));
}

#[test]
fn jis_x_0212_via_ir_159() {
    // 丂 is JIS X 0212 0x3021; encoding_rs's ISO-2022-JP decoder lacks JIS X 0212.
    let raw = b"Kyou^Tarou=\x1b$(D0!\x1b(B^\x1b$BB@O:\x1b(B";
    let cs = "ISO 2022 IR 6\\ISO 2022 IR 87\\ISO 2022 IR 159";
    assert_eq!(decode_pn(raw, cs), pn("Kyou^Tarou", "丂^太郎", ""));
}

#[test]
fn latin1_utf8_gb18030_korean() {
    assert_eq!(
        decode_pn(b"Buc^J\xe9r\xf4me", "ISO_IR 100"),
        pn("Buc^Jérôme", "", "")
    );
    assert_eq!(
        decode_pn("Wang^XiaoDong=王^小東=".as_bytes(), "ISO_IR 192"),
        pn("Wang^XiaoDong", "王^小東", "")
    );
    assert_eq!(
        decode_pn(b"Wang^XiaoDong=\xcd\xf5^\xd0\xa1\xb6\xab=", "GB18030"),
        pn("Wang^XiaoDong", "王^小东", "")
    );
    let kr = b"Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf";
    assert_eq!(
        decode_pn(kr, "\\ISO 2022 IR 149"),
        pn("Hong^Gildong", "洪^吉洞", "홍^길동")
    );
}

#[test]
fn misspelled_terms_are_tolerated() {
    let raw = b"\x1b$B;3ED\x1b(B";
    for cs in [
        "ISO_IR 87",
        "ISO2022 IR 87",
        "iso 2022 ir 87",
        "\\ISO-IR 87",
        " \\ ISO 2022 IR 87 ",
    ] {
        let (s, p) = decode_text(raw, &SpecificCharacterSet::parse(cs));
        assert_eq!((s.as_str(), p), ("山田", None), "{cs}");
    }
    for cs in ["ISO_IR 13 ", "iso_ir 13", "ISO 2022 IR 13"] {
        let (s, p) = decode_text(b"\xd4\xcf", &SpecificCharacterSet::parse(cs));
        assert_eq!((s.as_str(), p), ("ﾔﾏ", None), "{cs}");
    }
    for cs in ["ISO-IR 192", "UTF-8", "utf8", "ISO_IR_192"] {
        let (s, p) = decode_text("山田".as_bytes(), &SpecificCharacterSet::parse(cs));
        assert_eq!((s.as_str(), p), ("山田", None), "{cs}");
    }
}

#[test]
fn unknown_or_invalid_is_reported_not_garbled() {
    let (s, p) = decode_text(b"J\xe9r\xf4me", &SpecificCharacterSet::parse("ISO_IR 999"));
    assert_eq!(s, "Jérôme");
    assert!(p.unwrap().contains("ISO_IR 999"));
    let (s, p) = decode_text(b"\xff\xfe", &SpecificCharacterSet::parse("ISO_IR 192"));
    assert_eq!(s, "\u{FFFD}\u{FFFD}");
    assert!(p.is_some());
    let (_, p) = decode_text(b"\x1b$Z", &SpecificCharacterSet::parse("\\ISO 2022 IR 87"));
    assert!(p.is_some());
}

// --- pydicom's character-set files ----------------------------------------------------------

#[test]
fn pydicom_chr_h31() {
    let i = parse_instance(&fixture("pydicom/chrH31.dcm"), &Limits::default()).unwrap();
    assert_eq!(
        i.patient_name,
        pn("Yamada^Tarou", "山田^太郎", "やまだ^たろう")
    );
    assert_eq!(i.specific_character_set, "\\ISO 2022 IR 87");
    assert_eq!(i.charset_problem, None);
}

#[test]
fn pydicom_chr_h32() {
    let i = parse_instance(&fixture("pydicom/chrH32.dcm"), &Limits::default()).unwrap();
    assert_eq!(i.patient_name, pn("ﾔﾏﾀﾞ^ﾀﾛｳ", "山田^太郎", "やまだ^たろう"));
    assert_eq!(i.charset_problem, None);
}

#[test]
fn pydicom_other_charsets() {
    let cases = [
        ("pydicom/chrFren.dcm", pn("Buc^Jérôme", "", "")),
        ("pydicom/chrX1.dcm", pn("Wang^XiaoDong", "王^小東", "")),
        ("pydicom/chrX2.dcm", pn("Wang^XiaoDong", "王^小东", "")),
        (
            "pydicom/chrI2.dcm",
            pn("Hong^Gildong", "洪^吉洞", "홍^길동"),
        ),
    ];
    for (file, want) in cases {
        let i = parse_instance(&fixture(file), &Limits::default()).unwrap();
        assert_eq!(i.patient_name, want, "{file}");
        assert_eq!(i.charset_problem, None, "{file}");
    }
}

#[test]
fn pydicom_jap_multi_raw() {
    // These have no pixel data (refused as instances); decode their raw values directly.
    for file in [
        "pydicom/chrJapMulti.dcm",
        "pydicom/chrJapMultiExplicitIR6.dcm",
    ] {
        let f = fixture(file);
        let cs = SpecificCharacterSet::from_raw(&raw_element(&f, 0x0008, 0x0005, b"CS"));
        let (name, p) = decode_person_name(&raw_element(&f, 0x0010, 0x0010, b"PN"), &cs);
        assert_eq!(name, pn("やまだ^たろう", "", ""), "{file}");
        assert_eq!(p, None);
    }
    let f = fixture("pydicom/chrSQEncoding1.dcm");
    let cs = SpecificCharacterSet::from_raw(&raw_element(&f, 0x0008, 0x0005, b"CS"));
    let (name, _) = decode_person_name(&raw_element(&f, 0x0010, 0x0010, b"PN"), &cs);
    assert_eq!(name, pn("ﾔﾏﾀﾞ^ﾀﾛｳ", "山田^太郎", "やまだ^たろう"));
}

// --- Enkaku's generated fixtures --------------------------------------------------------------

#[test]
fn fixture_ir87_with_delimiter_bytes_inside_kanji() {
    // そ (0x243D) and ぼ (0x245C) carry '=' and '\' bytes inside the JIS X 0208 run.
    let i = parse_instance(&fixture("ja_ir87.dcm"), &Limits::default()).unwrap();
    assert_eq!(i.patient_name, pn("Sobo^Tarou", "祖母^太郎", "そぼ^たろう"));
    assert_eq!(
        i.referring_physician,
        pn("Yamada^Tarou", "山田^太郎", "やまだ^たろう")
    );
    assert_eq!(i.study_description, "胸部ＣＴ");
    assert_eq!(i.charset_problem, None);
}

#[test]
fn fixture_ir13_ir87() {
    let i = parse_instance(&fixture("ja_ir13_ir87.dcm"), &Limits::default()).unwrap();
    assert_eq!(i.specific_character_set, "ISO 2022 IR 13\\ISO 2022 IR 87");
    assert_eq!(i.patient_name, pn("ﾔﾏﾀﾞ^ﾀﾛｳ", "山田^太郎", "ﾔﾏﾀﾞ^ﾀﾛｳ"));
    assert_eq!(i.study_description, "ｷｮｳﾌﾞ CT");
    assert_eq!(i.charset_problem, None);
}

#[test]
fn fixture_ir159_implicit() {
    let i = parse_instance(&fixture("ja_ir159.dcm"), &Limits::default()).unwrap();
    assert_eq!(i.patient_name, pn("Kyou^Tarou", "丂^太郎", "きょう^たろう"));
    assert_eq!(i.charset_problem, None);
}

#[test]
fn fixture_utf8() {
    let i = parse_instance(&fixture("utf8_ir192.dcm"), &Limits::default()).unwrap();
    assert_eq!(
        i.patient_name,
        pn("Yamada^Tarou", "山田^太郎", "やまだ^たろう")
    );
    assert_eq!(i.study_description, "頭部 MRI – Ωmega");
    assert_eq!(i.charset_problem, None);
}

#[test]
fn fixture_misspelled_charset() {
    let i = parse_instance(&fixture("misspelled_charset.dcm"), &Limits::default()).unwrap();
    assert_eq!(i.specific_character_set, "ISO_IR 87");
    assert_eq!(
        i.patient_name,
        pn("Yamada^Tarou", "山田^太郎", "やまだ^たろう")
    );
    assert_eq!(i.charset_problem, None);
}
