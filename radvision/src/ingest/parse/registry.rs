//! The accepted transfer syntaxes and storage SOP classes.

/// Accepted transfer syntaxes: UID, name, whether pixel data is encapsulated.
pub const TRANSFER_SYNTAXES: &[(&str, &str, bool)] = &[
    ("1.2.840.10008.1.2", "Implicit VR Little Endian", false),
    ("1.2.840.10008.1.2.1", "Explicit VR Little Endian", false),
    (
        "1.2.840.10008.1.2.1.99",
        "Deflated Explicit VR Little Endian",
        false,
    ),
    (
        "1.2.840.10008.1.2.2",
        "Explicit VR Big Endian (retired)",
        false,
    ),
    ("1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1)", true),
    (
        "1.2.840.10008.1.2.4.51",
        "JPEG Extended (Process 2 & 4)",
        true,
    ),
    ("1.2.840.10008.1.2.4.57", "JPEG Lossless (Process 14)", true),
    ("1.2.840.10008.1.2.4.70", "JPEG Lossless SV1", true),
    ("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless", true),
    ("1.2.840.10008.1.2.4.81", "JPEG-LS Near-Lossless", true),
    ("1.2.840.10008.1.2.4.90", "JPEG 2000 Lossless", true),
    ("1.2.840.10008.1.2.4.91", "JPEG 2000", true),
    ("1.2.840.10008.1.2.4.201", "HTJ2K Lossless", true),
    ("1.2.840.10008.1.2.4.202", "HTJ2K Lossless RPCL", true),
    ("1.2.840.10008.1.2.4.203", "HTJ2K", true),
    ("1.2.840.10008.1.2.4.110", "JPEG XL Lossless", true),
    (
        "1.2.840.10008.1.2.4.111",
        "JPEG XL JPEG Recompression",
        true,
    ),
    ("1.2.840.10008.1.2.4.112", "JPEG XL", true),
    ("1.2.840.10008.1.2.5", "RLE Lossless", true),
];

/// Accepted storage SOP classes: UID, name, whether instances must carry Pixel Data.
pub const SOP_CLASSES: &[(&str, &str, bool)] = &[
    ("1.2.840.10008.5.1.4.1.1.2", "CT Image Storage", true),
    (
        "1.2.840.10008.5.1.4.1.1.2.1",
        "Enhanced CT Image Storage",
        true,
    ),
    ("1.2.840.10008.5.1.4.1.1.4", "MR Image Storage", true),
    (
        "1.2.840.10008.5.1.4.1.1.4.1",
        "Enhanced MR Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.1",
        "Computed Radiography Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.1.1",
        "Digital X-Ray Image Storage - For Presentation",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.1.1.1",
        "Digital X-Ray Image Storage - For Processing",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.1.2",
        "Digital Mammography X-Ray Image Storage - For Presentation",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.1.2.1",
        "Digital Mammography X-Ray Image Storage - For Processing",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.13.1.3",
        "Breast Tomosynthesis Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.6.1",
        "Ultrasound Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.3.1",
        "Ultrasound Multi-frame Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.20",
        "Nuclear Medicine Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.128",
        "Positron Emission Tomography Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.130",
        "Enhanced PET Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.12.1",
        "X-Ray Angiographic Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.12.2",
        "X-Ray Radiofluoroscopic Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.7",
        "Secondary Capture Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.7.1",
        "Multi-frame Single Bit Secondary Capture Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.7.2",
        "Multi-frame Grayscale Byte Secondary Capture Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.7.3",
        "Multi-frame Grayscale Word Secondary Capture Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.7.4",
        "Multi-frame True Color Secondary Capture Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.88.11",
        "Basic Text SR Storage",
        false,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.88.22",
        "Enhanced SR Storage",
        false,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.88.33",
        "Comprehensive SR Storage",
        false,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.88.59",
        "Key Object Selection Document Storage",
        false,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.104.1",
        "Encapsulated PDF Storage",
        false,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.11.1",
        "Grayscale Softcopy Presentation State Storage",
        false,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.77.1.4",
        "VL Photographic Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.77.1.5.1",
        "Ophthalmic Photography 8 Bit Image Storage",
        true,
    ),
    (
        "1.2.840.10008.5.1.4.1.1.77.1.5.2",
        "Ophthalmic Photography 16 Bit Image Storage",
        true,
    ),
];
