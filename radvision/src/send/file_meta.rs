//! Taking a stored Part 10 file apart for C-STORE: the data set goes on the wire without its
//! preamble and file meta group (PS3.7 9.3.1.1), and the meta group tells what the data set
//! is (checked against the index before sending).

/// What the file meta group says, and where the data set starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub transfer_syntax_uid: String,
    /// Offset of the data set in the file.
    pub data_set_offset: usize,
}

/// VRs whose explicit length is 4 bytes after 2 reserved ones (PS3.5 7.1.2).
fn long_vr(vr: &[u8]) -> bool {
    matches!(
        vr,
        b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"SQ"
            | b"SV"
            | b"UC"
            | b"UN"
            | b"UR"
            | b"UT"
            | b"UV"
    )
}

fn uid(value: &[u8]) -> String {
    String::from_utf8_lossy(value)
        .trim_end_matches(['\0', ' '])
        .to_owned()
}

/// Reads the preamble, `DICM` and the file meta group (Explicit VR Little Endian, group
/// 0002). Bounded by the input; errors are short reasons without patient data.
pub fn read(file: &[u8]) -> Result<FileMeta, &'static str> {
    if file.len() < 132 || &file[128..132] != b"DICM" {
        return Err("not a DICOM Part 10 file (no DICM prefix)");
    }
    let mut pos = 132usize;
    let mut meta = FileMeta {
        sop_class_uid: String::new(),
        sop_instance_uid: String::new(),
        transfer_syntax_uid: String::new(),
        data_set_offset: 0,
    };
    // Stops at the first element outside group 0002, or at the end of a file that holds
    // only the meta group (an empty data set).
    while let Some(head) = file.get(pos..pos + 8) {
        let group = u16::from_le_bytes([head[0], head[1]]);
        if group != 0x0002 {
            break;
        }
        let element = u16::from_le_bytes([head[2], head[3]]);
        let vr = &head[4..6];
        let (len, header) = if long_vr(vr) {
            let l = file
                .get(pos + 8..pos + 12)
                .ok_or("truncated file meta group")?;
            (u32::from_le_bytes([l[0], l[1], l[2], l[3]]), 12usize)
        } else {
            (u32::from(u16::from_le_bytes([head[6], head[7]])), 8usize)
        };
        let len = usize::try_from(len).map_err(|_| "file meta length overflow")?;
        let start = pos + header;
        let end = start.checked_add(len).ok_or("file meta length overflow")?;
        let value = file.get(start..end).ok_or("truncated file meta group")?;
        match element {
            0x0002 => meta.sop_class_uid = uid(value),
            0x0003 => meta.sop_instance_uid = uid(value),
            0x0010 => meta.transfer_syntax_uid = uid(value),
            _ => {}
        }
        pos = end;
    }
    if meta.transfer_syntax_uid.is_empty() {
        return Err("the file meta group names no transfer syntax");
    }
    meta.data_set_offset = pos;
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_what_part10_wraps() {
        let ds = b"\x08\x00\x16\x00\x04\x00\x00\x001.2\x00".to_vec();
        let file = crate::ingest::part10::wrap_dataset("1.2.3", "4.5.6", "1.2.840.10008.1.2", &ds);
        let m = read(&file).unwrap();
        assert_eq!(m.sop_class_uid, "1.2.3");
        assert_eq!(m.sop_instance_uid, "4.5.6");
        assert_eq!(m.transfer_syntax_uid, "1.2.840.10008.1.2");
        assert_eq!(&file[m.data_set_offset..], &ds[..]);
    }

    #[test]
    fn refuses_garbage_without_panicking() {
        let file =
            crate::ingest::part10::wrap_dataset("1.2.3", "4.5.6", "1.2.840.10008.1.2.1", b"ab");
        for n in 0..file.len() {
            let _ = read(&file[..n]);
        }
        assert!(read(b"nope").is_err());
    }
}
