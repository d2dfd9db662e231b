//! Rendering one frame for display: the Modality LUT (Rescale Slope and Intercept), the VOI
//! window (asked for, else the file's first Window Center/Width, else the frame's range),
//! MONOCHROME1 inversion, palette colour, down to 8-bit grey or RGB; then scaled to fit a
//! viewport (keeping the aspect ratio: area averaging when shrinking, bilinear when
//! enlarging) and encoded as PNG or JPEG.

use super::dataset::Dataset;
use super::{Frame, PixelError};

/// Largest rendered width or height.
pub const MAX_VIEWPORT: u32 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
}

impl Format {
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
        }
    }
}

/// The VOI LUT function (PS3.3 C.11.2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoiFunction {
    Linear,
    LinearExact,
    Sigmoid,
}

impl VoiFunction {
    /// The PS3.18 query value (`linear`, `linear-exact`, `sigmoid`) or the attribute's
    /// (`LINEAR`, `LINEAR_EXACT`, `SIGMOID`).
    pub fn parse(s: &str) -> Option<VoiFunction> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "linear" => Some(VoiFunction::Linear),
            "linear-exact" => Some(VoiFunction::LinearExact),
            "sigmoid" => Some(VoiFunction::Sigmoid),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// Window centre and width in modality units (after the rescale); width > 0.
    pub window: Option<(f64, f64)>,
    /// The VOI function; the file's VOI LUT Function, else linear, when `None`.
    pub function: Option<VoiFunction>,
    /// Fit within this width and height (the image's own size when `None`).
    pub viewport: Option<(u32, u32)>,
    pub format: Format,
    /// JPEG quality, 1 to 100.
    pub quality: u8,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            window: None,
            function: None,
            viewport: None,
            format: Format::Jpeg,
            quality: 90,
        }
    }
}

/// An encoded image.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub format: Format,
}

/// 8-bit pixels, 1 or 3 channels.
struct Image8 {
    width: u32,
    height: u32,
    channels: u8,
    data: Vec<u8>,
}

pub(super) fn render(
    ds: &Dataset,
    frame: &Frame,
    options: &RenderOptions,
) -> Result<Rendered, PixelError> {
    let info = &frame.info;
    let image = match (info.samples_per_pixel, info.photometric.as_str()) {
        (3, _) => colour(frame)?,
        (1, "PALETTE COLOR") => palette(ds, frame)?,
        (1, _) => grey(ds, frame, options)?,
        (s, _) => return Err(PixelError::Unsupported(format!("SamplesPerPixel {s}"))),
    };
    let (w, h) = fit(image.width, image.height, options.viewport);
    let image = resize(&image, w, h);
    encode(&image, options)
}

/// Each sample of a monochrome frame as a number.
fn samples(frame: &Frame) -> Vec<f64> {
    let signed = frame.info.pixel_representation == 1;
    let d = &frame.data;
    match frame.info.bits_allocated {
        8 if signed => d.iter().map(|b| f64::from(*b as i8)).collect(),
        8 => d.iter().map(|b| f64::from(*b)).collect(),
        16 if signed => d
            .chunks_exact(2)
            .map(|c| f64::from(i16::from_le_bytes([c[0], c[1]])))
            .collect(),
        16 => d
            .chunks_exact(2)
            .map(|c| f64::from(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        _ if signed => d
            .chunks_exact(4)
            .map(|c| f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => d
            .chunks_exact(4)
            .map(|c| f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
    }
}

fn first(v: Vec<f64>) -> Option<f64> {
    v.first().copied()
}

/// Modality LUT, VOI, inversion: 8-bit grey.
fn grey(ds: &Dataset, frame: &Frame, options: &RenderOptions) -> Result<Image8, PixelError> {
    let slope = first(ds.numbers(0x0028_1053))
        .filter(|s| *s != 0.0)
        .unwrap_or(1.0);
    let intercept = first(ds.numbers(0x0028_1052)).unwrap_or(0.0);
    let values: Vec<f64> = samples(frame)
        .into_iter()
        .map(|v| v * slope + intercept)
        .collect();
    let file_window = match (
        first(ds.numbers(0x0028_1050)),
        first(ds.numbers(0x0028_1051)),
    ) {
        (Some(c), Some(w)) if w > 0.0 => Some((c, w)),
        _ => None,
    };
    let function = options
        .function
        .or_else(|| ds.text(0x0028_1056).and_then(|f| VoiFunction::parse(&f)))
        .unwrap_or(VoiFunction::Linear);
    let voi: Box<dyn Fn(f64) -> f64> = match options.window.or(file_window) {
        Some((c, w)) => window_function(c, w, function),
        None => {
            // The frame's own range.
            let (lo, hi) = values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(*v), hi.max(*v))
                });
            if hi > lo {
                Box::new(move |x| (x - lo) / (hi - lo))
            } else {
                Box::new(|_| 0.0)
            }
        }
    };
    let invert = frame.info.photometric == "MONOCHROME1";
    let data = values
        .iter()
        .map(|v| {
            let y = voi(*v).clamp(0.0, 1.0);
            let y = if invert { 1.0 - y } else { y };
            (y * 255.0).round() as u8
        })
        .collect();
    Ok(Image8 {
        width: u32::from(frame.info.columns),
        height: u32::from(frame.info.rows),
        channels: 1,
        data,
    })
}

/// The VOI function of PS3.3 C.11.2.1.2, to 0..=1.
fn window_function(c: f64, w: f64, function: VoiFunction) -> Box<dyn Fn(f64) -> f64> {
    match function {
        VoiFunction::Linear if w >= 1.0 => Box::new(move |x| {
            if w <= 1.0 {
                if x < c - 0.5 {
                    0.0
                } else {
                    1.0
                }
            } else {
                (x - (c - 0.5)) / (w - 1.0) + 0.5
            }
        }),
        VoiFunction::Linear | VoiFunction::LinearExact => {
            Box::new(move |x| (x - c) / w.max(f64::MIN_POSITIVE) + 0.5)
        }
        VoiFunction::Sigmoid => {
            Box::new(move |x| 1.0 / (1.0 + (-4.0 * (x - c) / w.max(f64::MIN_POSITIVE)).exp()))
        }
    }
}

/// RGB frames: 8-bit as is, deeper samples shifted down to 8 bits.
fn colour(frame: &Frame) -> Result<Image8, PixelError> {
    let info = &frame.info;
    let shift = u32::from(info.bits_stored.saturating_sub(8));
    let data = match info.bits_allocated {
        8 => frame.data.to_vec(),
        16 => frame
            .data
            .chunks_exact(2)
            .map(|c| (u32::from(u16::from_le_bytes([c[0], c[1]])) >> shift).min(255) as u8)
            .collect(),
        _ => frame
            .data
            .chunks_exact(4)
            .map(|c| (u32::from_le_bytes([c[0], c[1], c[2], c[3]]) >> shift).min(255) as u8)
            .collect(),
    };
    Ok(Image8 {
        width: u32::from(info.columns),
        height: u32::from(info.rows),
        channels: 3,
        data,
    })
}

/// PALETTE COLOR through the file's red, green and blue lookup tables.
fn palette(ds: &Dataset, frame: &Frame) -> Result<Image8, PixelError> {
    let mut luts = Vec::with_capacity(3);
    for (desc, data) in [
        (0x0028_1101, 0x0028_1201),
        (0x0028_1102, 0x0028_1202),
        (0x0028_1103, 0x0028_1203),
    ] {
        let d = ds.us_all(desc);
        let (Some(&entries), Some(&first), Some(&bits)) = (d.first(), d.get(1), d.get(2)) else {
            return Err(PixelError::Missing("Palette Color Lookup Table Descriptor"));
        };
        let entries = if entries == 0 {
            65536
        } else {
            usize::from(entries)
        };
        let table = ds.us_all(data);
        if table.len() < entries {
            return Err(PixelError::Unsupported(
                "palette without full lookup table data (segmented palettes are not supported)"
                    .into(),
            ));
        }
        let table: Vec<u8> = table
            .iter()
            .take(entries)
            .map(|v| if bits > 8 { (v >> 8) as u8 } else { *v as u8 })
            .collect();
        let first = if frame.info.pixel_representation == 1 {
            i64::from(first as i16)
        } else {
            i64::from(first)
        };
        luts.push((first, table));
    }
    let values = samples(frame);
    let mut data = Vec::with_capacity(values.len() * 3);
    for v in values {
        for (first, table) in &luts {
            let i = (v as i64 - first).clamp(0, table.len() as i64 - 1) as usize;
            data.push(table.get(i).copied().unwrap_or(0));
        }
    }
    Ok(Image8 {
        width: u32::from(frame.info.columns),
        height: u32::from(frame.info.rows),
        channels: 3,
        data,
    })
}

/// The size that fits `viewport` keeping the aspect ratio (at least 1×1, at most
/// [`MAX_VIEWPORT`]).
fn fit(width: u32, height: u32, viewport: Option<(u32, u32)>) -> (u32, u32) {
    let (vw, vh) = viewport.unwrap_or((width, height));
    let (vw, vh) = (vw.clamp(1, MAX_VIEWPORT), vh.clamp(1, MAX_VIEWPORT));
    let scale = (f64::from(vw) / f64::from(width)).min(f64::from(vh) / f64::from(height));
    let w = (f64::from(width) * scale).round().clamp(1.0, f64::from(vw)) as u32;
    let h = (f64::from(height) * scale)
        .round()
        .clamp(1.0, f64::from(vh)) as u32;
    (w, h)
}

/// For each output position: the first source index and the weights from there on.
fn weights(src: u32, dst: u32) -> Vec<(usize, Vec<f32>)> {
    let scale = f64::from(src) / f64::from(dst);
    (0..dst)
        .map(|i| {
            if scale > 1.0 {
                // Area average over the output pixel's footprint.
                let (a, b) = (f64::from(i) * scale, f64::from(i + 1) * scale);
                let first = a.floor() as u32;
                let last = (b.ceil() as u32).min(src);
                let w = (first..last)
                    .map(|j| {
                        let lo = a.max(f64::from(j));
                        let hi = b.min(f64::from(j + 1));
                        ((hi - lo).max(0.0) / scale) as f32
                    })
                    .collect();
                (first as usize, w)
            } else {
                // Bilinear between the two nearest source pixels.
                let centre = ((f64::from(i) + 0.5) * scale - 0.5).max(0.0);
                let j = (centre.floor() as u32).min(src - 1);
                let frac = (centre - f64::from(j)) as f32;
                if j + 1 < src {
                    (j as usize, vec![1.0 - frac, frac])
                } else {
                    (j as usize, vec![1.0])
                }
            }
        })
        .collect()
}

/// Separable resampling to `w` × `h`.
fn resize(img: &Image8, w: u32, h: u32) -> Image8 {
    if (w, h) == (img.width, img.height) {
        return Image8 {
            width: w,
            height: h,
            channels: img.channels,
            data: img.data.clone(),
        };
    }
    let ch = usize::from(img.channels);
    let (sw, sh) = (img.width as usize, img.height as usize);
    let (dw, dh) = (w as usize, h as usize);
    // Horizontal pass: sh rows of dw pixels.
    let xw = weights(img.width, w);
    let mut mid = vec![0f32; sh * dw * ch];
    for y in 0..sh {
        let row = img
            .data
            .get(y * sw * ch..(y + 1) * sw * ch)
            .unwrap_or_default();
        for (x, (start, ws)) in xw.iter().enumerate() {
            for c in 0..ch {
                let mut acc = 0f32;
                for (k, wt) in ws.iter().enumerate() {
                    acc += wt * f32::from(row.get((start + k) * ch + c).copied().unwrap_or(0));
                }
                if let Some(m) = mid.get_mut((y * dw + x) * ch + c) {
                    *m = acc;
                }
            }
        }
    }
    // Vertical pass.
    let yw = weights(img.height, h);
    let mut out = vec![0u8; dw * dh * ch];
    for (y, (start, ws)) in yw.iter().enumerate() {
        for x in 0..dw * ch {
            let mut acc = 0f32;
            for (k, wt) in ws.iter().enumerate() {
                acc += wt * mid.get((start + k) * dw * ch + x).copied().unwrap_or(0.0);
            }
            if let Some(o) = out.get_mut(y * dw * ch + x) {
                *o = acc.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    Image8 {
        width: w,
        height: h,
        channels: img.channels,
        data: out,
    }
}

fn encode(img: &Image8, options: &RenderOptions) -> Result<Rendered, PixelError> {
    let enc = |e: &dyn std::fmt::Display| PixelError::Encode(e.to_string());
    let mut bytes = Vec::new();
    match options.format {
        Format::Png => {
            let mut e = png::Encoder::new(&mut bytes, img.width, img.height);
            e.set_color(if img.channels == 3 {
                png::ColorType::Rgb
            } else {
                png::ColorType::Grayscale
            });
            e.set_depth(png::BitDepth::Eight);
            e.set_compression(png::Compression::Fast);
            let mut w = e.write_header().map_err(|e| enc(&e))?;
            w.write_image_data(&img.data).map_err(|e| enc(&e))?;
            w.finish().map_err(|e| enc(&e))?;
        }
        Format::Jpeg => {
            let (w, h) = (
                u16::try_from(img.width).map_err(|e| enc(&e))?,
                u16::try_from(img.height).map_err(|e| enc(&e))?,
            );
            let e = jpeg_encoder::Encoder::new(&mut bytes, options.quality.clamp(1, 100));
            let colour = if img.channels == 3 {
                jpeg_encoder::ColorType::Rgb
            } else {
                jpeg_encoder::ColorType::Luma
            };
            e.encode(&img.data, w, h, colour).map_err(|e| enc(&e))?;
        }
    }
    Ok(Rendered {
        bytes,
        width: img.width,
        height: img.height,
        format: options.format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_keep_aspect() {
        assert_eq!(fit(512, 256, Some((128, 128))), (128, 64));
        assert_eq!(fit(256, 512, Some((128, 128))), (64, 128));
        assert_eq!(fit(64, 64, Some((128, 100))), (100, 100));
        assert_eq!(fit(64, 64, None), (64, 64));
        assert_eq!(fit(10_000, 1, Some((100, 100))), (100, 1));
    }

    #[test]
    fn linear_window_matches_the_standard() {
        let f = window_function(40.0, 400.0, VoiFunction::Linear);
        assert_eq!(f(-1000.0).clamp(0.0, 1.0), 0.0);
        assert_eq!(f(1000.0).clamp(0.0, 1.0), 1.0);
        assert!((f(40.0) - 0.5).abs() < 0.01);
        let s = window_function(0.0, 10.0, VoiFunction::Sigmoid);
        assert!((s(0.0) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn shrinking_averages() {
        let img = Image8 {
            width: 2,
            height: 2,
            channels: 1,
            data: vec![0, 255, 255, 0],
        };
        let out = resize(&img, 1, 1);
        assert_eq!(out.data, vec![128]);
    }
}
