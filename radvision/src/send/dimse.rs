//! The two command sets a C-STORE SCU needs, by hand: the C-STORE-RQ it sends and the
//! C-STORE-RSP it reads (Implicit VR Little Endian, group 0000 only, PS3.7 9.3.1). The
//! reader is bounded and never panics on what a workstation sends.

use crate::dimse::{
    command_set, put_uid, put_us, read_us as us, TAG_AFFECTED_SOP_CLASS, TAG_AFFECTED_SOP_INSTANCE,
    TAG_COMMAND_FIELD, TAG_DATA_SET_TYPE, TAG_ERROR_COMMENT, TAG_MESSAGE_ID,
    TAG_MESSAGE_ID_RESPONDED, TAG_PRIORITY, TAG_STATUS,
};
pub use crate::dimse::{C_STORE_RQ, C_STORE_RSP};

/// Command Data Set Type: a data set follows (any value but 0x0101).
const DATA_SET_PRESENT: u16 = 0x0000;

/// A C-STORE-RQ command set for one instance (priority medium).
pub fn store_request(message_id: u16, sop_class: &str, sop_instance: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(192);
    put_uid(&mut body, TAG_AFFECTED_SOP_CLASS, sop_class);
    put_us(&mut body, TAG_COMMAND_FIELD, C_STORE_RQ);
    put_us(&mut body, TAG_MESSAGE_ID, message_id);
    put_us(&mut body, TAG_PRIORITY, 0);
    put_us(&mut body, TAG_DATA_SET_TYPE, DATA_SET_PRESENT);
    put_uid(&mut body, TAG_AFFECTED_SOP_INSTANCE, sop_instance);
    command_set(&body)
}

/// What a C-STORE-RSP says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreResponse {
    pub command_field: u16,
    pub responded_to: u16,
    pub status: u16,
    pub sop_instance: String,
    /// (0000,0902), printable ASCII only, at most 64 characters.
    pub error_comment: String,
}

/// Decodes a response command set. Errors are short reasons, safe to log.
pub fn decode_response(bytes: &[u8]) -> Result<StoreResponse, &'static str> {
    let (mut field, mut responded, mut status) = (None, None, None);
    let mut sop_instance = String::new();
    let mut error_comment = String::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (head, tail) = rest.split_at_checked(8).ok_or("truncated element header")?;
        let group = u16::from_le_bytes([head[0], head[1]]);
        let element = u16::from_le_bytes([head[2], head[3]]);
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if group != 0x0000 {
            return Err("element outside group 0000");
        }
        let len = usize::try_from(len).map_err(|_| "length overflow")?;
        let (value, tail) = tail
            .split_at_checked(len)
            .ok_or("truncated element value")?;
        rest = tail;
        match element {
            TAG_COMMAND_FIELD => field = Some(us(value)?),
            TAG_MESSAGE_ID_RESPONDED => responded = Some(us(value)?),
            TAG_STATUS => status = Some(us(value)?),
            TAG_AFFECTED_SOP_INSTANCE => sop_instance = text(value),
            TAG_ERROR_COMMENT => error_comment = text(value),
            _ => {}
        }
    }
    Ok(StoreResponse {
        command_field: field.ok_or("no Command Field")?,
        responded_to: responded.ok_or("no Message ID Being Responded To")?,
        status: status.ok_or("no Status")?,
        sop_instance,
        error_comment,
    })
}

/// How a C-STORE status reads (PS3.4 B.2.3, PS3.7 C).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// 0000, and the warnings (B000, B007, B006, 0001): the instance was stored.
    Stored,
    /// A7xx "Refused: Out of Resources": worth trying again later.
    OutOfResources,
    /// Anything else: this instance will not be accepted as it is.
    Refused,
}

pub fn classify(status: u16) -> StatusClass {
    match status {
        0x0000 | 0x0001 | 0xB000 | 0xB006 | 0xB007 => StatusClass::Stored,
        s if s & 0xFF00 == 0xA700 => StatusClass::OutOfResources,
        _ => StatusClass::Refused,
    }
}

fn text(value: &[u8]) -> String {
    value
        .iter()
        .map(|b| char::from(*b))
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(64)
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dimse::put_header;

    fn response(status: u16) -> Vec<u8> {
        let mut b = Vec::new();
        put_uid(&mut b, TAG_AFFECTED_SOP_CLASS, "1.2.840.10008.5.1.4.1.1.2");
        put_us(&mut b, TAG_COMMAND_FIELD, C_STORE_RSP);
        put_us(&mut b, TAG_MESSAGE_ID_RESPONDED, 7);
        put_us(&mut b, TAG_DATA_SET_TYPE, 0x0101);
        put_us(&mut b, TAG_STATUS, status);
        put_uid(&mut b, TAG_AFFECTED_SOP_INSTANCE, "1.2.3.4");
        let mut out = Vec::new();
        put_header(&mut out, 0, 4);
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(&b);
        out
    }

    #[test]
    fn request_is_even_and_ordered() {
        let r = store_request(3, "1.2.840.10008.5.1.4.1.1.2", "1.2.3");
        assert_eq!(r.len() % 2, 0);
        // group length value = bytes after the group length element
        let gl = u32::from_le_bytes([r[8], r[9], r[10], r[11]]) as usize;
        assert_eq!(gl, r.len() - 12);
    }

    #[test]
    fn reads_a_response() {
        let r = decode_response(&response(0xA700)).unwrap();
        assert_eq!(r.command_field, C_STORE_RSP);
        assert_eq!(r.responded_to, 7);
        assert_eq!(r.status, 0xA700);
        assert_eq!(r.sop_instance, "1.2.3.4");
        assert_eq!(classify(r.status), StatusClass::OutOfResources);
        assert_eq!(classify(0xB007), StatusClass::Stored);
        assert_eq!(classify(0xC000), StatusClass::Refused);
        assert_eq!(classify(0x0122), StatusClass::Refused);
    }

    #[test]
    fn refuses_garbage_without_panicking() {
        let full = response(0);
        for n in 0..full.len() {
            let _ = decode_response(&full[..n]);
        }
        assert!(decode_response(&[8, 0, 0, 1, 0, 0, 0, 0]).is_err());
        assert!(decode_response(&[]).is_err());
    }
}
