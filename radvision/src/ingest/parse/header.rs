//! Reading one element header: byte order, delimiter tags and bounded byte access.

use crate::ingest::model::Reject;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Syntax {
    ExplicitLe,
    ImplicitLe,
    ExplicitBe,
}

impl Syntax {
    pub(super) fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            Syntax::ExplicitBe => u16::from_be_bytes(b),
            _ => u16::from_le_bytes(b),
        }
    }
    fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            Syntax::ExplicitBe => u32::from_be_bytes(b),
            _ => u32::from_le_bytes(b),
        }
    }
}

pub(super) const UNDEFINED: u32 = 0xFFFF_FFFF;
pub(super) const ITEM: u32 = 0xFFFE_E000;
pub(super) const ITEM_DELIM: u32 = 0xFFFE_E00D;
pub(super) const SEQ_DELIM: u32 = 0xFFFE_E0DD;
pub(super) const PIXEL_DATA: u32 = 0x7FE0_0010;

pub(super) fn malformed(msg: impl Into<String>) -> Reject {
    Reject::Malformed(msg.into())
}

pub(super) fn arr2(buf: &[u8], pos: usize) -> Option<[u8; 2]> {
    buf.get(pos..pos.checked_add(2)?)?.try_into().ok()
}

pub(super) fn arr4(buf: &[u8], pos: usize) -> Option<[u8; 4]> {
    buf.get(pos..pos.checked_add(4)?)?.try_into().ok()
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Header {
    pub(super) tag: u32,
    pub(super) vr: Option<[u8; 2]>,
    pub(super) len: u32,
    pub(super) size: usize,
}

pub(super) fn tag_str(tag: u32) -> String {
    format!("({:04X},{:04X})", tag >> 16, tag & 0xFFFF)
}

/// Reads one element (or item) header at `pos`.
pub(super) fn read_header(buf: &[u8], pos: usize, syntax: Syntax) -> Result<Header, Reject> {
    let truncated = || {
        malformed(format!(
            "data ends inside an element header at offset {pos}"
        ))
    };
    let g = syntax.u16(arr2(buf, pos).ok_or_else(truncated)?);
    let e = syntax.u16(arr2(buf, pos + 2).ok_or_else(truncated)?);
    let tag = (u32::from(g) << 16) | u32::from(e);
    if g == 0xFFFE || syntax == Syntax::ImplicitLe {
        let len = syntax.u32(arr4(buf, pos + 4).ok_or_else(truncated)?);
        return Ok(Header {
            tag,
            vr: None,
            len,
            size: 8,
        });
    }
    let vr = arr2(buf, pos + 4).ok_or_else(truncated)?;
    match &vr {
        b"OB" | b"OD" | b"OF" | b"OL" | b"OV" | b"OW" | b"SQ" | b"UC" | b"UN" | b"UR" | b"UT"
        | b"SV" | b"UV" => {
            let len = syntax.u32(arr4(buf, pos + 8).ok_or_else(truncated)?);
            Ok(Header {
                tag,
                vr: Some(vr),
                len,
                size: 12,
            })
        }
        b"AE" | b"AS" | b"AT" | b"CS" | b"DA" | b"DS" | b"DT" | b"FL" | b"FD" | b"IS" | b"LO"
        | b"LT" | b"PN" | b"SH" | b"SL" | b"SS" | b"ST" | b"TM" | b"UI" | b"UL" | b"US" => {
            let len = u32::from(syntax.u16(arr2(buf, pos + 6).ok_or_else(truncated)?));
            Ok(Header {
                tag,
                vr: Some(vr),
                len,
                size: 8,
            })
        }
        _ => Err(malformed(format!(
            "unknown VR {:02X}{:02X} for {}",
            vr[0],
            vr[1],
            tag_str(tag)
        ))),
    }
}
