//! DIMSE command sets at the byte level (PS3.7 9.3, E.1), shared by the listener (SCP) and
//! the sender (SCU): always Implicit VR Little Endian, group 0000 only, small. The command
//! fields and tags both sides use, the element writers, and the bounded US reader.

/// Command Field values (PS3.7 E.1).
pub const C_STORE_RQ: u16 = 0x0001;
pub const C_STORE_RSP: u16 = 0x8001;
pub const C_ECHO_RQ: u16 = 0x0030;
pub const C_ECHO_RSP: u16 = 0x8030;
pub const C_CANCEL_RQ: u16 = 0x0FFF;

/// Command Data Set Type meaning "no data set follows"; any other value means one does.
pub const NO_DATA_SET: u16 = 0x0101;

pub const TAG_AFFECTED_SOP_CLASS: u16 = 0x0002;
pub const TAG_COMMAND_FIELD: u16 = 0x0100;
pub const TAG_MESSAGE_ID: u16 = 0x0110;
pub const TAG_MESSAGE_ID_RESPONDED: u16 = 0x0120;
pub const TAG_PRIORITY: u16 = 0x0700;
pub const TAG_DATA_SET_TYPE: u16 = 0x0800;
pub const TAG_STATUS: u16 = 0x0900;
pub const TAG_ERROR_COMMENT: u16 = 0x0902;
pub const TAG_AFFECTED_SOP_INSTANCE: u16 = 0x1000;

/// A command set from its elements (already encoded): the group length element first.
pub fn command_set(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 12);
    put_header(&mut out, 0x0000, 4);
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(body);
    out
}

pub fn put_header(out: &mut Vec<u8>, element: u16, len: u32) {
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&element.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
}

pub fn put_us(out: &mut Vec<u8>, element: u16, v: u16) {
    put_header(out, element, 2);
    out.extend_from_slice(&v.to_le_bytes());
}

/// A UID, at most 64 characters, padded to even length with NUL (PS3.5 6.2).
pub fn put_uid(out: &mut Vec<u8>, element: u16, s: &str) {
    let mut v: Vec<u8> = s.bytes().take(64).collect();
    if v.len() % 2 == 1 {
        v.push(0);
    }
    put_header(out, element, u32::try_from(v.len()).unwrap_or(0));
    out.extend_from_slice(&v);
}

/// A US value; anything but two bytes is an error.
pub fn read_us(value: &[u8]) -> Result<u16, &'static str> {
    match value {
        [a, b] => Ok(u16::from_le_bytes([*a, *b])),
        _ => Err("US element of wrong length"),
    }
}
