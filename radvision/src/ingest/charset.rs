//! Decoding DICOM text by its Specific Character Set (0008,0005), PS3.5 6.1 and Annexes H–K.
//!
//! dicom-object 0.10.1 looks only at the first value of a multi-valued Specific Character Set,
//! leaves ISO 2022 escape sequences in the text and splits values on byte 0x5C even inside
//! two-byte JIS X 0208 runs (where 0x5C is half of a kanji). So Enkaku decodes the *raw bytes*
//! of each text value itself, with a small ISO 2022 state machine:
//!
//! - G0 starts as ASCII (or JIS X 0201 romaji when value 1 is `ISO 2022 IR 13`) at the start
//!   of every value and of every person-name component group (PS3.5 6.1.2.5.3);
//! - `ESC ( B` ASCII, `ESC ( J` JIS X 0201 romaji, `ESC $ B` / `ESC $ @` JIS X 0208,
//!   `ESC $ ( D` JIS X 0212 into G0; `ESC ) I` JIS X 0201 katakana, `ESC - A`… ISO 8859 upper
//!   halves, `ESC $ ) C` KS X 1001 and `ESC $ ) A` GB 2312 into G1;
//! - JIS X 0208 pairs are decoded as EUC-JP (`b | 0x80`), JIS X 0212 pairs as EUC-JP with the
//!   0x8F prefix (encoding_rs's ISO-2022-JP decoder has no JIS X 0212), via `encoding_rs`.
//!
//! JIS X 0201 romaji is decoded as ASCII (0x5C stays `\`, 0x7E stays `~`), as other DICOM
//! toolkits do, so that value and component delimiters keep their meaning.
//!
//! Nothing here panics or silently garbles: every byte that cannot be decoded becomes U+FFFD
//! (or its Latin-1 reading for an unknown character set) and a problem is reported. Problem
//! strings never contain patient data (only character-set names and byte counts).

use std::borrow::Cow;

use encoding_rs::Encoding;

use super::model::PersonName;

const ESC: u8 = 0x1B;

/// What G0 (bytes 0x21–0x7E) currently means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum G0 {
    Ascii,
    /// JIS X 0201 romaji; decoded as ASCII.
    Romaji,
    /// JIS X 0208, two bytes per character.
    Jis0208,
    /// JIS X 0212, two bytes per character.
    Jis0212,
}

impl G0 {
    fn is_two_byte(self) -> bool {
        matches!(self, G0::Jis0208 | G0::Jis0212)
    }
}

/// What G1 (bytes 0xA0–0xFF) currently means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum G1 {
    /// Nothing designated: high bytes are outside the declared repertoire.
    None,
    /// ISO 8859-1 upper half.
    Latin1,
    /// Another single-byte ISO 8859 (or similar) upper half, through `encoding_rs`.
    Single(&'static Encoding),
    /// JIS X 0201 katakana (0xA1–0xDF → U+FF61–U+FF9F).
    Katakana,
    /// A two-byte G1 set decoded pairwise through `encoding_rs` (EUC-KR, GBK).
    Double(&'static Encoding),
    /// Unknown character set: Latin-1 reading, reported as a problem.
    UnknownLatin1,
}

/// A parsed Specific Character Set (0008,0005), tolerant of common misspellings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecificCharacterSet {
    declared: String,
    /// A whole-value encoding without code extensions (UTF-8, GB18030, GBK).
    whole: Option<&'static Encoding>,
    g0: G0,
    g1: G1,
    problem: Option<String>,
}

impl Default for SpecificCharacterSet {
    fn default() -> Self {
        SpecificCharacterSet {
            declared: String::new(),
            whole: None,
            g0: G0::Ascii,
            g1: G1::None,
            problem: None,
        }
    }
}

/// One recognised defined term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Term {
    Ascii,
    /// An ISO 8859 part (or similar) used as G1; `true` for ISO 8859-1.
    Single(&'static Encoding, bool),
    Katakana,
    Jis0208,
    Jis0212,
    Ksx1001,
    Gb2312,
    Utf8,
    Gb18030,
    Gbk,
}

/// Normalises a defined term: upper case, `_`/`-` as spaces, spaces collapsed, `ISO2022` split.
fn normalise(term: &str) -> String {
    let upper = term
        .trim_matches(|c: char| c == ' ' || c == '\0')
        .to_ascii_uppercase();
    let spaced: String = upper
        .chars()
        .map(|c| if c == '_' || c == '-' { ' ' } else { c })
        .collect();
    let collapsed = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    let collapsed = collapsed
        .replace("ISO2022", "ISO 2022")
        .replace("ISOIR", "ISO IR");
    collapsed.replace("ISO 2022IR", "ISO 2022 IR")
}

fn term_of(normalised: &str) -> Option<Term> {
    use encoding_rs as e;
    let ir = normalised
        .strip_prefix("ISO 2022 IR ")
        .or_else(|| normalised.strip_prefix("ISO IR "))
        .or_else(|| normalised.strip_prefix("IR "))
        .map(str::trim);
    if let Some(number) = ir {
        return Some(match number {
            "6" => Term::Ascii,
            "100" => Term::Single(e::WINDOWS_1252, true),
            "101" => Term::Single(e::ISO_8859_2, false),
            "109" => Term::Single(e::ISO_8859_3, false),
            "110" => Term::Single(e::ISO_8859_4, false),
            "144" => Term::Single(e::ISO_8859_5, false),
            "127" => Term::Single(e::ISO_8859_6, false),
            "126" => Term::Single(e::ISO_8859_7, false),
            "138" => Term::Single(e::ISO_8859_8, false),
            "148" => Term::Single(e::WINDOWS_1254, false),
            "203" => Term::Single(e::ISO_8859_15, false),
            "166" => Term::Single(e::WINDOWS_874, false),
            "13" => Term::Katakana,
            "87" => Term::Jis0208,
            "159" => Term::Jis0212,
            "149" => Term::Ksx1001,
            "58" => Term::Gb2312,
            "192" => Term::Utf8,
            _ => return None,
        });
    }
    Some(match normalised {
        "" | "ASCII" | "US ASCII" | "ISO 646" => Term::Ascii,
        "UTF 8" | "UTF8" => Term::Utf8,
        "LATIN1" | "LATIN 1" | "ISO 8859 1" => Term::Single(encoding_rs::WINDOWS_1252, true),
        "GB18030" | "GB 18030" => Term::Gb18030,
        "GBK" => Term::Gbk,
        _ => return None,
    })
}

impl SpecificCharacterSet {
    /// The default repertoire (ISO IR 6).
    pub fn ascii() -> Self {
        Self::default()
    }

    /// Parses the raw bytes of (0008,0005).
    pub fn from_raw(raw: &[u8]) -> Self {
        let text: String = raw.iter().map(|&b| char::from(b)).collect();
        Self::parse(&text)
    }

    /// Parses a Specific Character Set value (values separated by `\`).
    pub fn parse(declared: &str) -> Self {
        let declared_trimmed = declared.trim_matches(|c: char| c == ' ' || c == '\0');
        let mut cs = SpecificCharacterSet {
            declared: declared_trimmed.to_string(),
            ..Self::default()
        };
        let mut unknown: Vec<String> = Vec::new();
        let mut first = true;
        let mut first_term = Term::Ascii;
        let mut terms = Vec::new();
        for raw_term in declared_trimmed.split('\\') {
            let norm = normalise(raw_term);
            match term_of(&norm) {
                Some(t) => {
                    if first {
                        first_term = t;
                    }
                    terms.push(t);
                }
                None => {
                    // Names of character sets only: safe to log.
                    let shown: String = raw_term
                        .chars()
                        .filter(|c| c.is_ascii_graphic() || *c == ' ')
                        .take(32)
                        .collect();
                    unknown.push(shown.trim().to_string());
                    if first {
                        first_term = Term::Ascii;
                        cs.g1 = G1::UnknownLatin1;
                    }
                }
            }
            first = false;
        }
        match first_term {
            Term::Utf8 => cs.whole = Some(encoding_rs::UTF_8),
            Term::Gb18030 => cs.whole = Some(encoding_rs::GB18030),
            Term::Gbk => cs.whole = Some(encoding_rs::GBK),
            Term::Single(_, true) => cs.g1 = G1::Latin1,
            Term::Single(enc, false) => cs.g1 = G1::Single(enc),
            Term::Katakana => {
                cs.g0 = G0::Romaji;
                cs.g1 = G1::Katakana;
            }
            // Two-byte sets are only ever reached by escape sequences; a lone (misspelled)
            // `ISO_IR 87` is treated as `\ISO 2022 IR 87`.
            Term::Ascii | Term::Jis0208 | Term::Jis0212 => {}
            Term::Ksx1001 => cs.g1 = G1::Double(encoding_rs::EUC_KR),
            Term::Gb2312 => cs.g1 = G1::Double(encoding_rs::GBK),
        }
        if terms.len() > 1 && cs.whole.is_some() {
            // UTF-8 and GB18030 allow no code extensions (PS3.3 C.12.1.1.2).
            tracing::debug!("Specific Character Set {declared_trimmed:?} mixes a multi-byte set without code extensions with others");
        }
        if !unknown.is_empty() {
            cs.problem = Some(format!(
                "unknown Specific Character Set term(s) {:?}; decoded as Latin-1",
                unknown
            ));
        }
        cs
    }

    /// The value as sent (trimmed).
    pub fn declared(&self) -> &str {
        &self.declared
    }

    /// A problem with the declared value itself (unknown terms).
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }
}

/// Collects decoding problems (deduplicated, bounded) without patient data.
#[derive(Debug, Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, p: impl Into<String>) {
        let p = p.into();
        if self.0.len() < 4 && !self.0.contains(&p) {
            self.0.push(p);
        }
    }
    fn into_option(self) -> Option<String> {
        if self.0.is_empty() {
            None
        } else {
            Some(self.0.join("; "))
        }
    }
}

/// Decodes the raw bytes of a text value (all its values, with `\` kept) to UTF-8.
/// Returns the text and, if some bytes could not be decoded cleanly, why.
pub fn decode_text(raw: &[u8], charset: &SpecificCharacterSet) -> (String, Option<String>) {
    let mut problems = Problems::default();
    if let Some(p) = charset.problem() {
        problems.add(p);
    }
    let mut out = String::with_capacity(raw.len());
    if let Some(enc) = charset.whole {
        decode_whole(raw, enc, &mut out, &mut problems);
    } else {
        decode_2022(raw, charset, &mut out, &mut problems);
    }
    (out, problems.into_option())
}

fn decode_whole(raw: &[u8], enc: &'static Encoding, out: &mut String, problems: &mut Problems) {
    let (text, had_errors) = enc.decode_without_bom_handling(raw);
    if had_errors {
        problems.add(format!("invalid {} byte sequence", enc.name()));
    }
    out.push_str(&text);
}

/// Pending bytes of a two-byte run, flushed through `encoding_rs`.
struct Pending {
    enc: Option<&'static Encoding>,
    bytes: Vec<u8>,
}

impl Pending {
    fn push(&mut self, enc: &'static Encoding, bytes: &[u8], out: &mut String, p: &mut Problems) {
        if self.enc != Some(enc) {
            self.flush(out, p);
            self.enc = Some(enc);
        }
        self.bytes.extend_from_slice(bytes);
    }
    fn flush(&mut self, out: &mut String, p: &mut Problems) {
        if let Some(enc) = self.enc {
            if !self.bytes.is_empty() {
                let (text, had_errors) = enc.decode_without_bom_handling(&self.bytes);
                if had_errors {
                    p.add(format!("undecodable {} character", enc.name()));
                }
                out.push_str(&text);
            }
        }
        self.bytes.clear();
        self.enc = None;
    }
}

/// The ISO 2022 state machine (also used for single-byte sets without code extensions).
fn decode_2022(raw: &[u8], cs: &SpecificCharacterSet, out: &mut String, p: &mut Problems) {
    let mut g0 = cs.g0;
    let mut g1 = cs.g1;
    let mut pending = Pending {
        enc: None,
        bytes: Vec::new(),
    };
    let mut i = 0usize;
    while i < raw.len() {
        let b = raw[i];
        if b == ESC {
            pending.flush(out, p);
            match escape(&raw[i + 1..]) {
                Some((Designation::G0(set), len)) => {
                    g0 = set;
                    i += 1 + len;
                }
                Some((Designation::G1(set), len)) => {
                    g1 = set;
                    i += 1 + len;
                }
                None => {
                    p.add("unknown escape sequence");
                    out.push('\u{FFFD}');
                    i += 1;
                }
            }
            continue;
        }
        if b < 0x80 {
            if g0.is_two_byte() && (0x21..=0x7E).contains(&b) {
                let Some(&b2) = raw.get(i + 1) else {
                    pending.flush(out, p);
                    p.add("truncated two-byte character");
                    out.push('\u{FFFD}');
                    break;
                };
                if !(0x21..=0x7E).contains(&b2) {
                    pending.flush(out, p);
                    p.add("invalid two-byte character");
                    out.push('\u{FFFD}');
                    i += 1;
                    continue;
                }
                let (l, t) = (b | 0x80, b2 | 0x80);
                if g0 == G0::Jis0212 {
                    pending.push(encoding_rs::EUC_JP, &[0x8F, l, t], out, p);
                } else {
                    pending.push(encoding_rs::EUC_JP, &[l, t], out, p);
                }
                i += 2;
                continue;
            }
            // Single-byte G0 (ASCII or romaji), and controls / space in any G0.
            pending.flush(out, p);
            if b == 0 {
                // NUL padding (seen on UI-like values); drop it.
            } else {
                out.push(char::from(b));
            }
            i += 1;
            continue;
        }
        // High byte: G1 (or C1 controls, 0x80–0x9F).
        match g1 {
            G1::Latin1 => {
                pending.flush(out, p);
                out.push(char::from(b));
                i += 1;
            }
            G1::UnknownLatin1 => {
                pending.flush(out, p);
                out.push(char::from(b));
                i += 1;
            }
            G1::Single(enc) => {
                pending.push(enc, &[b], out, p);
                i += 1;
            }
            G1::Katakana => {
                pending.flush(out, p);
                if (0xA1..=0xDF).contains(&b) {
                    let c = char::from_u32(0xFF61 + u32::from(b - 0xA1)).unwrap_or('\u{FFFD}');
                    out.push(c);
                } else {
                    p.add("byte outside JIS X 0201 katakana");
                    out.push('\u{FFFD}');
                }
                i += 1;
            }
            G1::Double(enc) => match raw.get(i + 1) {
                Some(&b2) if b2 >= 0xA1 && b >= 0xA1 => {
                    pending.push(enc, &[b, b2], out, p);
                    i += 2;
                }
                _ => {
                    pending.flush(out, p);
                    p.add("invalid two-byte G1 character");
                    out.push('\u{FFFD}');
                    i += 1;
                }
            },
            G1::None => {
                pending.flush(out, p);
                p.add("byte outside the declared character repertoire (read as Latin-1)");
                out.push(char::from(b));
                i += 1;
            }
        }
    }
    pending.flush(out, p);
}

enum Designation {
    G0(G0),
    G1(G1),
}

/// Recognises an escape sequence (the bytes after ESC); returns the designation and the
/// number of bytes it takes after ESC.
fn escape(rest: &[u8]) -> Option<(Designation, usize)> {
    use encoding_rs as e;
    match rest {
        [b'(', b'B', ..] => Some((Designation::G0(G0::Ascii), 2)),
        [b'(', b'J', ..] => Some((Designation::G0(G0::Romaji), 2)),
        [b'$', b'B', ..] | [b'$', b'@', ..] => Some((Designation::G0(G0::Jis0208), 2)),
        [b'$', b'(', b'D', ..] => Some((Designation::G0(G0::Jis0212), 3)),
        [b'$', b'(', b'B', ..] => Some((Designation::G0(G0::Jis0208), 3)),
        [b')', b'I', ..] => Some((Designation::G1(G1::Katakana), 2)),
        [b'$', b')', b'C', ..] => Some((Designation::G1(G1::Double(e::EUC_KR)), 3)),
        [b'$', b')', b'A', ..] => Some((Designation::G1(G1::Double(e::GBK)), 3)),
        [b'-', f, ..] => {
            let set = match f {
                b'A' => G1::Latin1,
                b'B' => G1::Single(e::ISO_8859_2),
                b'C' => G1::Single(e::ISO_8859_3),
                b'D' => G1::Single(e::ISO_8859_4),
                b'L' => G1::Single(e::ISO_8859_5),
                b'G' => G1::Single(e::ISO_8859_6),
                b'F' => G1::Single(e::ISO_8859_7),
                b'H' => G1::Single(e::ISO_8859_8),
                b'M' => G1::Single(e::WINDOWS_1254),
                b'T' => G1::Single(e::WINDOWS_874),
                b'b' => G1::Single(e::ISO_8859_15),
                _ => return None,
            };
            Some((Designation::G1(set), 2))
        }
        _ => None,
    }
}

/// Splits raw bytes on `delim` where it is a delimiter: only while G0 is single-byte
/// (in a JIS X 0208/0212 run, 0x3D and 0x5C are halves of characters).
fn split_raw<'a>(raw: &'a [u8], delim: u8, cs: &SpecificCharacterSet) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut g0 = cs.g0;
    let mut start = 0usize;
    let mut i = 0usize;
    while i < raw.len() {
        let b = raw[i];
        if b == ESC {
            if let Some((d, len)) = escape(&raw[i + 1..]) {
                if let Designation::G0(set) = d {
                    g0 = set;
                }
                i += 1 + len;
            } else {
                i += 1;
            }
            continue;
        }
        if g0.is_two_byte() && (0x21..=0x7E).contains(&b) {
            i += 2;
            continue;
        }
        if let G1::Double(_) = cs.g1 {
            if b >= 0xA1 {
                i += 2;
                continue;
            }
        }
        if b == delim {
            parts.push(&raw[start..i]);
            start = i + 1;
            // Each value / component group starts again in the initial G0.
            g0 = cs.g0;
        }
        i += 1;
    }
    parts.push(raw.get(start..).unwrap_or_default());
    parts
}

fn trim_text(s: &str) -> String {
    s.trim_matches(|c: char| c == ' ' || c == '\0').to_string()
}

/// Decodes a person name (PN) value: the first value only (`\` separates values), split in
/// its alphabetic, ideographic and phonetic groups on `=`, each decoded from the initial G0.
pub fn decode_person_name(
    raw: &[u8],
    charset: &SpecificCharacterSet,
) -> (PersonName, Option<String>) {
    let mut problems = Problems::default();
    let mut groups: Vec<String> = Vec::with_capacity(3);
    if let Some(enc) = charset.whole {
        // Multi-byte sets without code extensions: GB18030/GBK trail bytes can be 0x3D or
        // 0x5C, so split after decoding.
        let mut text = String::new();
        decode_whole(raw, enc, &mut text, &mut problems);
        let first = text.split('\\').next().unwrap_or_default();
        groups.extend(first.split('=').map(trim_text));
    } else {
        if let Some(p) = charset.problem() {
            problems.add(p);
        }
        let first = split_raw(raw, b'\\', charset)
            .into_iter()
            .next()
            .unwrap_or_default();
        for group in split_raw(first, b'=', charset) {
            let mut text = String::new();
            decode_2022(group, charset, &mut text, &mut problems);
            groups.push(trim_text(&text));
        }
    }
    if groups.len() > 3 {
        problems.add("person name with more than three component groups");
    }
    let mut it = groups.into_iter();
    let name = PersonName {
        alphabetic: it.next().unwrap_or_default(),
        ideographic: it.next().unwrap_or_default(),
        phonetic: it.next().unwrap_or_default(),
    };
    (name, problems.into_option())
}

/// Decodes bytes of a value in the default repertoire (CS, DA, TM, IS, UI, AS…): Latin-1,
/// trimmed of space and NUL padding.
pub fn decode_default(raw: &[u8]) -> Cow<'_, str> {
    let trimmed = trim_bytes(raw);
    match std::str::from_utf8(trimmed) {
        Ok(s) if s.is_ascii() => Cow::Borrowed(s),
        _ => Cow::Owned(trimmed.iter().map(|&b| char::from(b)).collect()),
    }
}

/// Trims leading and trailing space and NUL padding.
pub fn trim_bytes(raw: &[u8]) -> &[u8] {
    let start = raw
        .iter()
        .position(|&b| b != b' ' && b != 0)
        .unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(start, |e| e + 1);
    raw.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pn(raw: &[u8], cs: &str) -> (PersonName, Option<String>) {
        decode_person_name(raw, &SpecificCharacterSet::parse(cs))
    }

    /// PS3.5 H.3.1: `\ISO 2022 IR 87`.
    const H31: &[u8] =
        b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B";
    /// PS3.5 H.3.2: `ISO 2022 IR 13\ISO 2022 IR 87`.
    const H32: &[u8] = b"\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J=\xd4\xcf\xc0\xde^\xc0\xdb\xb3";

    #[test]
    fn h31_ir87() {
        let (name, problem) = pn(H31, "\\ISO 2022 IR 87");
        assert_eq!(name.alphabetic, "Yamada^Tarou");
        assert_eq!(name.ideographic, "山田^太郎");
        assert_eq!(name.phonetic, "やまだ^たろう");
        assert_eq!(problem, None);
    }

    #[test]
    fn h32_ir13_ir87() {
        let (name, problem) = pn(H32, "ISO 2022 IR 13\\ISO 2022 IR 87");
        assert_eq!(name.alphabetic, "ﾔﾏﾀﾞ^ﾀﾛｳ");
        assert_eq!(name.ideographic, "山田^太郎");
        assert_eq!(name.phonetic, "ﾔﾏﾀﾞ^ﾀﾛｳ");
        assert_eq!(problem, None);
    }

    #[test]
    fn ir159() {
        // JIS X 0212 0x3021 is U+4E02 (丂); 0x2237 is U+FF5E (～).
        let raw = b"\x1b$(D\x30\x21\x1b(B";
        let cs = SpecificCharacterSet::parse("ISO 2022 IR 6\\ISO 2022 IR 87\\ISO 2022 IR 159");
        let (s, p) = decode_text(raw, &cs);
        assert_eq!(s, "丂");
        assert_eq!(p, None);
    }

    #[test]
    fn utf8_and_latin1() {
        let (name, p) = pn("Wang^XiaoDong=王^小東=".as_bytes(), "ISO_IR 192");
        assert_eq!(name.ideographic, "王^小東");
        assert_eq!(p, None);
        let (name, p) = pn(b"Buc^J\xe9r\xf4me", "ISO_IR 100");
        assert_eq!(name.alphabetic, "Buc^Jérôme");
        assert_eq!(p, None);
    }

    #[test]
    fn misspellings() {
        for cs in [
            "ISO_IR 87",
            "ISO2022 IR 87",
            "iso 2022 ir 87",
            "\\ISO-IR 87",
        ] {
            let (name, p) = pn(H31, cs);
            assert_eq!(name.ideographic, "山田^太郎", "{cs}");
            assert_eq!(p, None, "{cs}");
        }
        let (name, _) = pn(H32, "ISO_IR 13 \\ISO_IR 87");
        assert_eq!(name.alphabetic, "ﾔﾏﾀﾞ^ﾀﾛｳ");
        for cs in ["ISO-IR 192", "UTF-8", "utf8"] {
            let (s, p) = decode_text("山田".as_bytes(), &SpecificCharacterSet::parse(cs));
            assert_eq!(s, "山田");
            assert_eq!(p, None);
        }
    }

    #[test]
    fn unknown_charset_is_flagged() {
        let (s, p) = decode_text(b"Buc^J\xe9r\xf4me", &SpecificCharacterSet::parse("KLINGON"));
        assert_eq!(s, "Buc^Jérôme");
        assert!(p.unwrap_or_default().contains("KLINGON"));
    }

    #[test]
    fn high_bytes_in_ascii_are_flagged() {
        let (s, p) = decode_text(b"J\xe9r", &SpecificCharacterSet::ascii());
        assert_eq!(s, "Jér");
        assert!(p.is_some());
    }

    #[test]
    fn backslash_inside_kanji_is_not_a_delimiter() {
        // JIS X 0208 0x305C is 楼... any pair with 0x5C second byte must survive.
        let raw = b"\x1b$B\x30\x5c\x1b(B=x";
        let (name, p) = pn(raw, "\\ISO 2022 IR 87");
        assert_eq!(p, None);
        assert_eq!(name.alphabetic.chars().count(), 1);
        assert_eq!(name.ideographic, "x");
    }

    #[test]
    fn garbage_never_panics() {
        let cs = SpecificCharacterSet::parse("ISO 2022 IR 13\\ISO 2022 IR 87\\ISO 2022 IR 159");
        let raw: Vec<u8> = (0..=255u8).chain([0x1b, b'$']).collect();
        let _ = decode_text(&raw, &cs);
        let _ = decode_person_name(&raw, &cs);
        let _ = decode_person_name(b"\x1b$B\x30", &cs);
        let _ = decode_text(b"\x1b", &cs);
    }
}
