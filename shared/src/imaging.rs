//! The imaging attributes of an instance that a viewer needs before it fetches pixels:
//! pixel description, spacing, window, rescale, position and orientation. They are read at
//! ingest from the top-level data set, kept in the index (one JSON object per instance, the
//! `instances.imaging` column) and served as WADO-RS metadata, so that opening a 2,000-slice
//! series never re-reads 2,000 files.
//!
//! Multi-frame "enhanced" objects keep these in functional group sequences; only the
//! top-level values are indexed (a viewer falls back to the pixel data itself).

use serde::{Deserialize, Serialize};

/// Every field is optional: absent in the instance, or not valid (a DS that is not a finite
/// number, a value count that does not fit) is `None` — the index never stores a value it
/// could not read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImagingAttributes {
    /// (0028,0002) Samples per Pixel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples_per_pixel: Option<u16>,
    /// (0028,0004) Photometric Interpretation as stored (e.g. `MONOCHROME2`, `YBR_FULL_422`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photometric: Option<String>,
    /// (0028,0006) Planar Configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planar_configuration: Option<u16>,
    /// (0028,0100) Bits Allocated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits_allocated: Option<u16>,
    /// (0028,0101) Bits Stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits_stored: Option<u16>,
    /// (0028,0102) High Bit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high_bit: Option<u16>,
    /// (0028,0103) Pixel Representation: 0 unsigned, 1 two's complement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pixel_representation: Option<u16>,
    /// (0028,0030) Pixel Spacing in mm: row spacing, column spacing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pixel_spacing: Option<[f64; 2]>,
    /// (0018,1164) Imager Pixel Spacing in mm (projection radiography, mammography).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imager_pixel_spacing: Option<[f64; 2]>,
    /// (0018,0050) Slice Thickness in mm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice_thickness: Option<f64>,
    /// (0020,0032) Image Position (Patient) in mm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_position: Option<[f64; 3]>,
    /// (0020,0037) Image Orientation (Patient): row then column direction cosines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_orientation: Option<[f64; 6]>,
    /// (0020,0052) Frame of Reference UID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_of_reference_uid: Option<String>,
    /// (0020,1041) Slice Location in mm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice_location: Option<f64>,
    /// (0020,0062) Image Laterality (`R`, `L`, `U`, `B`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub laterality: Option<String>,
    /// (0018,5101) View Position (e.g. `CC`, `MLO`, `PA`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view_position: Option<String>,
    /// (0028,1050) Window Center, every value.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub window_center: Vec<f64>,
    /// (0028,1051) Window Width, every value (widths below 1 are dropped with their centre).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub window_width: Vec<f64>,
    /// (0028,1052) Rescale Intercept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rescale_intercept: Option<f64>,
    /// (0028,1053) Rescale Slope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rescale_slope: Option<f64>,
    /// (0028,1054) Rescale Type (e.g. `HU`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rescale_type: Option<String>,
}

impl ImagingAttributes {
    /// The JSON stored in the index.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Reads the stored JSON; anything unreadable (a row from before the column existed,
    /// or damage) reads as "nothing known" rather than failing a retrieval.
    pub fn from_json(s: &str) -> ImagingAttributes {
        serde_json::from_str(s).unwrap_or_default()
    }
}

/// Parses a Decimal String value (PS3.5 6.2: optional leading/trailing spaces, a finite
/// number of at most 16 characters — longer ones are accepted, many devices send them).
/// Multi-valued strings are split on `\`; a value that is not a finite number makes the
/// whole attribute unreadable (`None`).
pub fn parse_ds(s: &str) -> Option<Vec<f64>> {
    let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
    if s.is_empty() {
        return None;
    }
    s.split('\\')
        .map(|v| {
            let v = v.trim();
            let v = v.strip_prefix('+').unwrap_or(v);
            if v.is_empty()
                || v.len() > 32
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'e' | b'E' | b'+'))
            {
                return None;
            }
            v.parse::<f64>().ok().filter(|x| x.is_finite())
        })
        .collect()
}

/// A DS with exactly `N` values.
pub fn parse_ds_n<const N: usize>(s: &str) -> Option<[f64; N]> {
    parse_ds(s)?.try_into().ok()
}

/// A DS with one value.
pub fn parse_ds_1(s: &str) -> Option<f64> {
    parse_ds_n::<1>(s).map(|[x]| x)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings() {
        assert_eq!(parse_ds("0.5\\0.5 "), Some(vec![0.5, 0.5]));
        assert_eq!(parse_ds(" -1024"), Some(vec![-1024.0]));
        assert_eq!(parse_ds("+1.5E2"), Some(vec![150.0]));
        assert_eq!(parse_ds("40\\400"), Some(vec![40.0, 400.0]));
        assert_eq!(parse_ds(""), None);
        assert_eq!(parse_ds("1\\"), None);
        assert_eq!(parse_ds("NaN"), None);
        assert_eq!(parse_ds("inf"), None);
        assert_eq!(parse_ds("1e999"), None);
        assert_eq!(parse_ds("0x10"), None);
        assert_eq!(parse_ds_n::<2>("0.7"), None);
        assert_eq!(parse_ds_n::<3>("1\\2\\3"), Some([1.0, 2.0, 3.0]));
        assert_eq!(parse_ds_1("2.5"), Some(2.5));
    }

    #[test]
    fn json_round_trip_and_tolerance() {
        let a = ImagingAttributes {
            pixel_spacing: Some([0.5, 0.5]),
            window_center: vec![40.0],
            window_width: vec![400.0],
            photometric: Some("MONOCHROME2".into()),
            ..Default::default()
        };
        let j = a.to_json();
        assert_eq!(ImagingAttributes::from_json(&j), a);
        assert_eq!(
            ImagingAttributes::from_json("{}"),
            ImagingAttributes::default()
        );
        assert_eq!(
            ImagingAttributes::from_json("not json"),
            ImagingAttributes::default()
        );
        assert_eq!(ImagingAttributes::default().to_json(), "{}");
    }
}
