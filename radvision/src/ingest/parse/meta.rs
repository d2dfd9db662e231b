//! Reading the file meta information group (0002,xxxx).

use super::header::{arr2, arr4, malformed, read_header, tag_str, Syntax, UNDEFINED};
use crate::ingest::model::Reject;

/// File meta information: the raw values kept.
pub(super) struct Meta<'a> {
    pub(super) sop_class: Option<&'a [u8]>,
    pub(super) sop_instance: Option<&'a [u8]>,
    pub(super) transfer_syntax: Option<&'a [u8]>,
    pub(super) end: usize,
}

pub(super) fn read_meta(data: &[u8]) -> Result<Meta<'_>, Reject> {
    let start = 132usize;
    let first = read_header(data, start, Syntax::ExplicitLe)
        .map_err(|_| malformed("file meta information is truncated"))?;
    let bound = if first.tag == 0x0002_0000 && first.len == 4 {
        let glen = arr4(data, start + first.size)
            .map(u32::from_le_bytes)
            .ok_or_else(|| malformed("file meta information is truncated"))?;
        let end = (start + first.size + 4)
            .checked_add(glen as usize)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| malformed("file meta group length runs past the end of the data"))?;
        Some(end)
    } else {
        tracing::debug!("file meta information without a group length");
        None
    };
    let limit = bound.unwrap_or(data.len());
    let mut meta = Meta {
        sop_class: None,
        sop_instance: None,
        transfer_syntax: None,
        end: start,
    };
    let mut pos = start;
    while pos < limit {
        if bound.is_none() {
            // Without a group length, meta ends at the first non-0002 group.
            match arr2(data, pos).map(u16::from_le_bytes) {
                Some(0x0002) => {}
                _ => break,
            }
        }
        let h = read_header(data, pos, Syntax::ExplicitLe)?;
        if h.tag >> 16 != 0x0002 {
            return Err(malformed(format!(
                "{} inside the file meta group",
                tag_str(h.tag)
            )));
        }
        if h.len == UNDEFINED {
            return Err(malformed("undefined length in the file meta group"));
        }
        let vstart = pos + h.size;
        let vend = vstart
            .checked_add(h.len as usize)
            .filter(|&e| e <= limit)
            .ok_or_else(|| malformed("file meta element runs past the meta group"))?;
        let value = data.get(vstart..vend);
        match h.tag {
            0x0002_0002 => meta.sop_class = value,
            0x0002_0003 => meta.sop_instance = value,
            0x0002_0010 => meta.transfer_syntax = value,
            _ => {}
        }
        pos = vend;
    }
    meta.end = pos;
    Ok(meta)
}
