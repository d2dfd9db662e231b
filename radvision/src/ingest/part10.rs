//! Building a DICOM Part 10 file around a data set received without file meta information
//! (C-STORE, PS3.10 7.1).

/// Enkaku's Implementation Class UID (0002,0012), fixed for this implementation. It sits under
/// the `1.2.826.0.1.3680043.10` root (Medical Connections' free UID service, as used by
/// several open-source toolkits); change it only together with [`IMPLEMENTATION_VERSION_NAME`].
pub const IMPLEMENTATION_CLASS_UID: &str = "1.2.826.0.1.3680043.10.1445.1";

/// Enkaku's Implementation Version Name (0002,0013), at most 16 characters.
pub const IMPLEMENTATION_VERSION_NAME: &str = "ENKAKU_010";

fn push_element(out: &mut Vec<u8>, element: u16, vr: &[u8; 2], value: &[u8], pad: u8) {
    // Values here are UIDs (cut to 64 bytes by the caller) or constants; the cap only keeps
    // a 16-bit length valid whatever the input.
    let value = value.get(..value.len().min(0xFFFE)).unwrap_or_default();
    let padded_len = value.len() + value.len() % 2;
    out.extend_from_slice(&0x0002u16.to_le_bytes());
    out.extend_from_slice(&element.to_le_bytes());
    out.extend_from_slice(vr);
    if vr == b"OB" {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&u32::try_from(padded_len).unwrap_or(0).to_le_bytes());
    } else {
        out.extend_from_slice(&u16::try_from(padded_len).unwrap_or(0).to_le_bytes());
    }
    out.extend_from_slice(value);
    if value.len() % 2 == 1 {
        out.push(pad);
    }
}

/// Wraps a data set (encoded in `transfer_syntax_uid`) into a Part 10 file: a zero preamble,
/// `DICM`, the file meta group in Explicit VR Little Endian, then `dataset` unchanged.
pub fn wrap_dataset(
    sop_class_uid: &str,
    sop_instance_uid: &str,
    transfer_syntax_uid: &str,
    dataset: &[u8],
) -> Vec<u8> {
    let mut out = file_header(
        sop_class_uid,
        sop_instance_uid,
        transfer_syntax_uid,
        dataset.len(),
    );
    out.extend_from_slice(dataset);
    out
}

/// The bytes of a Part 10 file before its data set (preamble, `DICM`, file meta group), in a
/// vector with room for `dataset_capacity` more bytes. The DICOM listener writes these as
/// soon as the C-STORE command arrives, then the data set as it comes.
pub fn file_header(
    sop_class_uid: &str,
    sop_instance_uid: &str,
    transfer_syntax_uid: &str,
    dataset_capacity: usize,
) -> Vec<u8> {
    let trim = |s: &str| -> Vec<u8> {
        s.trim_matches(|c: char| c == '\0' || c == ' ')
            .bytes()
            .take(64)
            .collect()
    };
    let mut group = Vec::with_capacity(256);
    push_element(&mut group, 0x0001, b"OB", &[0x00, 0x01], 0);
    push_element(&mut group, 0x0002, b"UI", &trim(sop_class_uid), 0);
    push_element(&mut group, 0x0003, b"UI", &trim(sop_instance_uid), 0);
    push_element(&mut group, 0x0010, b"UI", &trim(transfer_syntax_uid), 0);
    push_element(
        &mut group,
        0x0012,
        b"UI",
        IMPLEMENTATION_CLASS_UID.as_bytes(),
        0,
    );
    push_element(
        &mut group,
        0x0013,
        b"SH",
        IMPLEMENTATION_VERSION_NAME.as_bytes(),
        b' ',
    );

    let mut out = Vec::with_capacity(132 + 12 + group.len() + dataset_capacity);
    out.extend_from_slice(&[0u8; 128]);
    out.extend_from_slice(b"DICM");
    out.extend_from_slice(&0x0002u16.to_le_bytes());
    out.extend_from_slice(&0x0000u16.to_le_bytes());
    out.extend_from_slice(b"UL");
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&(group.len() as u32).to_le_bytes());
    out.extend_from_slice(&group);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_layout() {
        let f = wrap_dataset(
            "1.2.840.10008.5.1.4.1.1.2",
            "1.2.3",
            "1.2.840.10008.1.2",
            b"",
        );
        assert_eq!(&f[128..132], b"DICM");
        let glen = u32::from_le_bytes([f[140], f[141], f[142], f[143]]) as usize;
        assert_eq!(f.len(), 144 + glen);
        // Odd-length UI padded with NUL.
        assert!(f.windows(6).any(|w| w == b"1.2.3\0"));
    }
}
