//! Reading the imaging attributes ([`ImagingAttributes`]) from the top-level data set.
//! Values that cannot be read are left out (never guessed); none refuses the instance.

use shared::imaging::{parse_ds, parse_ds_1, parse_ds_n, ImagingAttributes};

use super::header::Syntax;
use super::values::{code_string, is_valid_uid, read_us};
use super::walker::Walker;

pub(super) fn imaging_attributes(w: &Walker<'_>, syntax: Syntax) -> ImagingAttributes {
    let us = |tag| read_us(w.get(tag), syntax);
    let text = |tag| {
        let s = code_string(w.get(tag));
        let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
        // Code strings are short upper-case ASCII; anything else is not a code string.
        (!s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"_ ".contains(&b)))
        .then(|| s.to_owned())
    };
    let ds = |tag| code_string(w.get(tag));
    let (window_center, window_width) = windows(&ds(0x0028_1050), &ds(0x0028_1051));
    let frame_of_reference_uid = Some(code_string(w.get(0x0020_0052)))
        .map(|s| s.trim_matches(|c: char| c == ' ' || c == '\0').to_owned())
        .filter(|s| is_valid_uid(s));
    ImagingAttributes {
        samples_per_pixel: us(0x0028_0002),
        photometric: text(0x0028_0004),
        planar_configuration: us(0x0028_0006),
        bits_allocated: us(0x0028_0100),
        bits_stored: us(0x0028_0101),
        high_bit: us(0x0028_0102),
        pixel_representation: us(0x0028_0103).filter(|&r| r <= 1),
        pixel_spacing: parse_ds_n::<2>(&ds(0x0028_0030)).filter(|s| s.iter().all(|&v| v > 0.0)),
        imager_pixel_spacing: parse_ds_n::<2>(&ds(0x0018_1164))
            .filter(|s| s.iter().all(|&v| v > 0.0)),
        slice_thickness: parse_ds_1(&ds(0x0018_0050)).filter(|&v| v >= 0.0),
        image_position: parse_ds_n::<3>(&ds(0x0020_0032)),
        image_orientation: parse_ds_n::<6>(&ds(0x0020_0037)),
        frame_of_reference_uid,
        slice_location: parse_ds_1(&ds(0x0020_1041)),
        laterality: text(0x0020_0062),
        view_position: text(0x0018_5101),
        window_center,
        window_width,
        rescale_intercept: parse_ds_1(&ds(0x0028_1052)),
        rescale_slope: parse_ds_1(&ds(0x0028_1053)).filter(|&s| s != 0.0),
        rescale_type: text(0x0028_1054),
    }
}

/// Window centres and widths pair up; a pair whose width is below 1 (PS3.3 C.11.2.1.2) is
/// dropped, and so are unpaired values.
fn windows(centres: &str, widths: &str) -> (Vec<f64>, Vec<f64>) {
    let (Some(c), Some(w)) = (parse_ds(centres), parse_ds(widths)) else {
        return (Vec::new(), Vec::new());
    };
    c.into_iter()
        .zip(w)
        .filter(|&(_, w)| w >= 1.0)
        .take(8)
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::windows;

    #[test]
    fn window_pairs() {
        assert_eq!(
            windows("40\\-600", "400\\1500"),
            (vec![40.0, -600.0], vec![400.0, 1500.0])
        );
        assert_eq!(windows("40\\50", "0\\350"), (vec![50.0], vec![350.0]));
        assert_eq!(windows("40\\50\\60", "400"), (vec![40.0], vec![400.0]));
        assert_eq!(windows("", "400"), (vec![], vec![]));
        assert_eq!(windows("x", "400"), (vec![], vec![]));
    }
}
