//! 12-bit JPEG (JPEG Extended, process 4: 1.2.840.10008.1.2.4.51 with 12-bit samples, as
//! found in older CT and MR) through dcmtk's `dcmdjpeg` (IJG libjpeg 6b, 12-bit build).
//!
//! jpeg-decoder has no 12-bit DCT process, no safe Rust crate has one, and the workspace
//! forbids `unsafe` code, so an in-process C decoder (libjpeg-turbo 3's
//! `tj3Decompress12`) is not an option; a separate process is.
//!
//! The frame's codestream is wrapped in a minimal Part 10 file of our own — file meta, the
//! pixel description and one fragment, nothing else of the instance, so no patient data
//! reaches the disk — written to a fresh private temporary directory (mode 0700) under
//! fixed names. `dcmdjpeg` runs on it with a fixed argument list (no shell), stdin, stdout
//! and stderr closed, under a time limit after which it is killed; the output file's size
//! is checked against the frame before it is read, and it is read with the native path
//! ([`super::Pixels`]). Without `dcmdjpeg` on the `PATH` the frame is
//! [`PixelError::Unsupported`] (a 406, as before).

use std::io::{ErrorKind, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{PixelError, Pixels, Stored};

const JPEG_EXTENDED: &str = "1.2.840.10008.1.2.4.51";
/// Secondary Capture: the wrapper's SOP class (dcmtk wants one; nothing reads it).
const SECONDARY_CAPTURE: &str = "1.2.840.10008.5.1.4.1.1.7";
/// A fixed placeholder SOP Instance UID for the wrapper (never the instance's own).
const PLACEHOLDER_UID: &str = "2.25.1";
/// The program, looked up on the `PATH`.
const PROGRAM: &str = "dcmdjpeg";
/// How long one frame may take before the process is killed.
const TIME_LIMIT: Duration = Duration::from_secs(10);
/// What dcmtk may write beyond the pixels (file meta and the few elements we give it).
const HEADER_ALLOWANCE: u64 = 64 * 1024;

/// The sample precision in the JPEG's first start-of-frame marker, if the bytes reach one.
/// A small bounded marker walk (each step moves forward by at least two bytes).
pub(super) fn precision(jpeg: &[u8]) -> Option<u8> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2usize;
    loop {
        if *jpeg.get(i)? != 0xFF {
            return None;
        }
        while *jpeg.get(i)? == 0xFF {
            i += 1;
        }
        let marker = *jpeg.get(i)?;
        i += 1;
        match marker {
            // Stand-alone markers (TEM, RSTn) carry no length.
            0x01 | 0xD0..=0xD7 => continue,
            // End of image, or a scan before any frame header.
            0xD9 | 0xDA => return None,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*jpeg.get(i)?, *jpeg.get(i + 1)?]));
        if len < 2 {
            return None;
        }
        // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            return jpeg.get(i + 2).copied();
        }
        i += len;
    }
}

/// Decodes one 12-bit JPEG frame to little-endian 16-bit samples (colour interleaved and
/// converted to RGB).
pub(super) fn decode(stored: &Stored, jpeg: &[u8]) -> Result<Vec<u8>, PixelError> {
    if stored.bits_allocated != 16 {
        return Err(PixelError::Unsupported(format!(
            "12-bit JPEG with BitsAllocated {}",
            stored.bits_allocated
        )));
    }
    if jpeg.is_empty() {
        return Err(PixelError::Truncated);
    }
    let io = |what: &str, e: std::io::Error| {
        PixelError::Decode(format!("12-bit JPEG: {what}: {}", e.kind()))
    };
    let dir = tempfile::Builder::new()
        .prefix("enkaku-jpeg12-")
        .tempdir()
        .map_err(|e| io("temporary directory", e))?;
    let (input, output) = (dir.path().join("in.dcm"), dir.path().join("out.dcm"));
    std::fs::write(&input, wrap(stored, jpeg)).map_err(|e| io("writing", e))?;
    run(&input, &output)?;

    let frame_len =
        usize::from(stored.rows) * usize::from(stored.columns) * usize::from(stored.samples) * 2;
    let limit = frame_len as u64 + HEADER_ALLOWANCE;
    let file = std::fs::File::open(&output).map_err(|e| io("reading the output", e))?;
    let size = file
        .metadata()
        .map_err(|e| io("reading the output", e))?
        .len();
    if size > limit {
        return Err(PixelError::Decode(format!(
            "12-bit JPEG: the decoder wrote {size} bytes for a {frame_len}-byte frame"
        )));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| io("reading the output", e))?;
    drop(dir);

    let decoded = Pixels::parse(Bytes::from(bytes))
        .map_err(|e| PixelError::Decode(format!("12-bit JPEG: the decoder's output: {e}")))?;
    if decoded.is_encapsulated() {
        return Err(PixelError::Decode(
            "12-bit JPEG: the decoder left the frame compressed".into(),
        ));
    }
    let frame = decoded.raw_frame(1)?;
    let info = &frame.info;
    if (
        info.rows,
        info.columns,
        info.samples_per_pixel,
        info.bits_allocated,
    ) != (stored.rows, stored.columns, stored.samples, 16)
    {
        return Err(PixelError::Decode(
            "12-bit JPEG: the decoded frame does not match the pixel description".into(),
        ));
    }
    Ok(frame.data.to_vec())
}

/// Runs `dcmdjpeg input output`, killing it after [`TIME_LIMIT`].
fn run(input: &Path, output: &Path) -> Result<(), PixelError> {
    let mut child = match Command::new(PROGRAM)
        .arg("--quiet")
        .arg(input)
        .arg(output)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(PixelError::Unsupported(
                "12-bit JPEG Extended (process 4): dcmtk's dcmdjpeg is not installed".into(),
            ))
        }
        Err(e) => {
            return Err(PixelError::Decode(format!(
                "12-bit JPEG: starting {PROGRAM}: {}",
                e.kind()
            )))
        }
    };
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(PixelError::Decode(format!(
                    "12-bit JPEG: {PROGRAM} failed ({status})"
                )))
            }
            Ok(None) if started.elapsed() < TIME_LIMIT => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(PixelError::Decode(format!(
                    "12-bit JPEG: {PROGRAM} took longer than {} s",
                    TIME_LIMIT.as_secs()
                )));
            }
        }
    }
}

/// A minimal Part 10 file (Explicit VR Little Endian data set) holding the pixel
/// description and `jpeg` as the one fragment of a one-frame JPEG Extended image.
fn wrap(stored: &Stored, jpeg: &[u8]) -> Vec<u8> {
    let mut meta = Vec::new();
    element(&mut meta, 0x0002, 0x0001, b"OB", &[0, 1]);
    element(&mut meta, 0x0002, 0x0002, b"UI", &uid(SECONDARY_CAPTURE));
    element(&mut meta, 0x0002, 0x0003, b"UI", &uid(PLACEHOLDER_UID));
    element(&mut meta, 0x0002, 0x0010, b"UI", &uid(JPEG_EXTENDED));

    let mut out = Vec::with_capacity(jpeg.len() + 512);
    out.extend_from_slice(&[0u8; 128]);
    out.extend_from_slice(b"DICM");
    element(
        &mut out,
        0x0002,
        0x0000,
        b"UL",
        &u32::try_from(meta.len()).unwrap_or(0).to_le_bytes(),
    );
    out.extend_from_slice(&meta);

    element(&mut out, 0x0008, 0x0016, b"UI", &uid(SECONDARY_CAPTURE));
    element(&mut out, 0x0008, 0x0018, b"UI", &uid(PLACEHOLDER_UID));
    let us = |v: u16| v.to_le_bytes();
    element(&mut out, 0x0028, 0x0002, b"US", &us(stored.samples));
    let mut photometric = stored.photometric.clone().into_bytes();
    if !photometric.len().is_multiple_of(2) {
        photometric.push(b' ');
    }
    element(&mut out, 0x0028, 0x0004, b"CS", &photometric);
    if stored.samples > 1 {
        element(&mut out, 0x0028, 0x0006, b"US", &us(stored.planar));
    }
    element(&mut out, 0x0028, 0x0010, b"US", &us(stored.rows));
    element(&mut out, 0x0028, 0x0011, b"US", &us(stored.columns));
    element(&mut out, 0x0028, 0x0100, b"US", &us(stored.bits_allocated));
    element(&mut out, 0x0028, 0x0101, b"US", &us(stored.bits_stored));
    element(
        &mut out,
        0x0028,
        0x0102,
        b"US",
        &us(stored.bits_stored.saturating_sub(1)),
    );
    element(
        &mut out,
        0x0028,
        0x0103,
        b"US",
        &us(stored.pixel_representation),
    );
    // Pixel Data, OB of undefined length: an empty Basic Offset Table, one fragment
    // (padded to even length), the sequence delimiter.
    out.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0]);
    out.extend_from_slice(&u32::MAX.to_le_bytes());
    item(&mut out, 0xE000, &[]);
    if jpeg.len().is_multiple_of(2) {
        item(&mut out, 0xE000, jpeg);
    } else {
        let mut padded = Vec::with_capacity(jpeg.len() + 1);
        padded.extend_from_slice(jpeg);
        padded.push(0);
        item(&mut out, 0xE000, &padded);
    }
    item(&mut out, 0xE0DD, &[]);
    out
}

/// A UID value, NUL-padded to even length.
fn uid(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    if !v.len().is_multiple_of(2) {
        v.push(0);
    }
    v
}

/// One explicit VR little endian element with a 2-byte length (OB: 4-byte).
fn element(out: &mut Vec<u8>, group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) {
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&elem.to_le_bytes());
    out.extend_from_slice(vr);
    if vr == b"OB" {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&u32::try_from(value.len()).unwrap_or(0).to_le_bytes());
    } else {
        out.extend_from_slice(&u16::try_from(value.len()).unwrap_or(0).to_le_bytes());
    }
    out.extend_from_slice(value);
}

/// An item (or delimiter) in the FFFE group.
fn item(out: &mut Vec<u8>, tag: u16, value: &[u8]) {
    out.extend_from_slice(&0xFFFEu16.to_le_bytes());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&u32::try_from(value.len()).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::precision;

    #[test]
    fn precision_is_read_from_the_frame_header() {
        // SOI, APP0 (length 4), SOF1 with precision 12.
        let j = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC1, 0x00, 0x0B, 12,
        ];
        assert_eq!(precision(&j), Some(12));
        // Fill bytes before a marker, then SOF0 with precision 8.
        let j = [0xFF, 0xD8, 0xFF, 0xFF, 0xC0, 0x00, 0x0B, 8];
        assert_eq!(precision(&j), Some(8));
        // DHT is not a frame header; a scan before any frame ends the walk.
        let j = [0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x02, 0xFF, 0xDA, 0x00, 0x02];
        assert_eq!(precision(&j), None);
        for bad in [
            &[][..],
            &[0xFF, 0xD8],
            &[0xFF, 0xD8, 0x00],
            &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01],
        ] {
            assert_eq!(precision(bad), None);
        }
    }
}
