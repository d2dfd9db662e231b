//! The DIMSE command set, encoded and decoded by hand: it is always Implicit VR Little
//! Endian, holds only group 0000 elements and is small, so a bounded reader that never
//! allocates more than it was given is simpler and safer than a general parser.

use crate::dimse::{
    command_set, put_uid, put_us, read_us as us, TAG_AFFECTED_SOP_CLASS, TAG_AFFECTED_SOP_INSTANCE,
    TAG_COMMAND_FIELD, TAG_DATA_SET_TYPE, TAG_MESSAGE_ID, TAG_MESSAGE_ID_RESPONDED, TAG_STATUS,
};
pub use crate::dimse::{C_CANCEL_RQ, C_ECHO_RQ, C_ECHO_RSP, C_STORE_RQ, C_STORE_RSP, NO_DATA_SET};

/// DIMSE statuses this listener sends.
pub const STATUS_SUCCESS: u16 = 0x0000;
pub const STATUS_OUT_OF_RESOURCES: u16 = 0xA700;
pub const STATUS_SOP_CLASS_NOT_SUPPORTED: u16 = 0x0122;
pub const STATUS_UNRECOGNIZED_OPERATION: u16 = 0x0211;
pub const STATUS_CANNOT_UNDERSTAND: u16 = 0xC000;

/// The fields of a request command this listener uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    pub command_field: u16,
    pub message_id: u16,
    pub affected_sop_class: String,
    pub affected_sop_instance: String,
    /// Whether a data set follows the command.
    pub has_data_set: bool,
}

/// Decodes an Implicit VR Little Endian command set. Errors are short reasons, safe to log.
pub fn decode(bytes: &[u8]) -> Result<Command, &'static str> {
    let mut cmd = Command::default();
    let (mut field, mut data_set_type) = (None, None);
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
            TAG_AFFECTED_SOP_CLASS => cmd.affected_sop_class = uid(value)?,
            TAG_AFFECTED_SOP_INSTANCE => cmd.affected_sop_instance = uid(value)?,
            TAG_COMMAND_FIELD => field = Some(us(value)?),
            TAG_MESSAGE_ID => cmd.message_id = us(value)?,
            TAG_DATA_SET_TYPE => data_set_type = Some(us(value)?),
            _ => {}
        }
    }
    cmd.command_field = field.ok_or("no Command Field")?;
    cmd.has_data_set = data_set_type.ok_or("no Command Data Set Type")? != NO_DATA_SET;
    Ok(cmd)
}

fn uid(value: &[u8]) -> Result<String, &'static str> {
    if value.len() > 64 {
        return Err("UID longer than 64 characters");
    }
    let s = std::str::from_utf8(value).map_err(|_| "UID not ASCII")?;
    let s = s.trim_end_matches(['\0', ' ']);
    if !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err("UID with characters other than digits and dots");
    }
    Ok(s.to_owned())
}

/// A response command set (C-STORE-RSP or C-ECHO-RSP) with no data set.
pub fn encode_response(
    command_field: u16,
    responded_to: u16,
    status: u16,
    sop_class: &str,
    sop_instance: Option<&str>,
) -> Vec<u8> {
    let mut body = Vec::with_capacity(160);
    put_uid(&mut body, TAG_AFFECTED_SOP_CLASS, sop_class);
    put_us(&mut body, TAG_COMMAND_FIELD, command_field);
    put_us(&mut body, TAG_MESSAGE_ID_RESPONDED, responded_to);
    put_us(&mut body, TAG_DATA_SET_TYPE, NO_DATA_SET);
    put_us(&mut body, TAG_STATUS, status);
    if let Some(i) = sop_instance {
        put_uid(&mut body, TAG_AFFECTED_SOP_INSTANCE, i);
    }
    command_set(&body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dimse::put_header;

    fn request(field: u16, ds: u16) -> Vec<u8> {
        let mut b = Vec::new();
        put_uid(&mut b, TAG_AFFECTED_SOP_CLASS, "1.2.840.10008.5.1.4.1.1.7");
        put_us(&mut b, TAG_COMMAND_FIELD, field);
        put_us(&mut b, TAG_MESSAGE_ID, 7);
        put_us(&mut b, 0x0700, 0);
        put_us(&mut b, TAG_DATA_SET_TYPE, ds);
        put_uid(&mut b, TAG_AFFECTED_SOP_INSTANCE, "1.2.3.4");
        let mut out = Vec::new();
        put_header(&mut out, 0, 4);
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(&b);
        out
    }

    #[test]
    fn decodes_a_store_request() {
        let c = decode(&request(C_STORE_RQ, 0x0000)).unwrap();
        assert_eq!(c.command_field, C_STORE_RQ);
        assert_eq!(c.message_id, 7);
        assert_eq!(c.affected_sop_class, "1.2.840.10008.5.1.4.1.1.7");
        assert_eq!(c.affected_sop_instance, "1.2.3.4");
        assert!(c.has_data_set);
        assert!(
            !decode(&request(C_ECHO_RQ, NO_DATA_SET))
                .unwrap()
                .has_data_set
        );
    }

    #[test]
    fn response_round_trips() {
        let r = encode_response(C_STORE_RSP, 9, 0xA700, "1.2.3", Some("4.5.6"));
        assert_eq!(r.len() % 2, 0);
        let c = decode(&r).unwrap();
        assert_eq!(c.command_field, C_STORE_RSP);
        assert_eq!(c.affected_sop_class, "1.2.3");
        assert_eq!(c.affected_sop_instance, "4.5.6");
    }

    #[test]
    fn refuses_garbage_without_panicking() {
        assert!(decode(&[1, 2, 3]).is_err());
        assert!(decode(&[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(decode(&[8, 0, 0, 1, 0, 0, 0, 0]).is_err());
        assert!(decode(&[]).is_err());
        let full = request(C_STORE_RQ, 0);
        for n in 0..full.len() {
            let _ = decode(&full[..n]);
        }
    }
}
