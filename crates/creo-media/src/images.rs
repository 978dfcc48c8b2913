//! An uploaded image checked and cleaned before it is stored: its header read with limits
//! first (a decompression bomb is refused before a pixel is allocated), then decoded whole (a
//! truncated or corrupt file is refused), then its metadata taken out: EXIF (camera, GPS
//! position, owner and other personal tags), XMP, IPTC, comments and PNG text. When its EXIF
//! orientation turns it, the turn is applied to the pixels and the image re-encoded, so every
//! viewer shows it upright once the tag is gone; otherwise the metadata is cut out of the file
//! as it is (`img-parts`), without re-encoding.
//!
//! Whole-image work, so it runs on the blocking pool, never on an async worker.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use img_parts::jpeg::{markers, Jpeg};
use img_parts::png::Png;
use img_parts::webp::WebP;
use img_parts::{Bytes, ImageEXIF};

/// The widest or tallest image taken, and the most pixels (a 12,000 x 12,000 PNG of zeros is a
/// few hundred KB on disk and 576 MB in memory).
pub const MAX_SIDE: u32 = 12_000;
pub const MAX_PIXELS: u64 = 100_000_000;
/// The most memory one decode may take.
const MAX_DECODE_BYTES: u64 = 512 << 20;
/// JPEG quality when a turned image is re-encoded.
const JPEG_QUALITY: u8 = 90;

/// An image as it will be stored.
#[derive(Debug)]
pub struct Cleaned {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub color: String,
    pub stripped: Vec<String>,
}

/// Why an image is not taken.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(
        "the image is {width} x {height}: at most {MAX_SIDE} on a side and {MAX_PIXELS} pixels"
    )]
    TooLarge { width: u32, height: u32 },
    #[error("the image cannot be decoded: {0}")]
    Corrupt(String),
}

fn format_of(content_type: &str) -> Option<ImageFormat> {
    Some(match content_type {
        "image/png" => ImageFormat::Png,
        "image/jpeg" => ImageFormat::Jpeg,
        "image/webp" => ImageFormat::WebP,
        "image/gif" => ImageFormat::Gif,
        _ => return None,
    })
}

/// A decoder of `bytes` as `format`, held to creo's limits (`MAX_SIDE`, `MAX_DECODE_BYTES`).
fn decoder(bytes: &[u8], format: ImageFormat) -> Result<impl ImageDecoder + '_, Refused> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    reader.into_decoder().map_err(|e| match e {
        image::ImageError::Limits(_) => Refused::TooLarge {
            width: 0,
            height: 0,
        },
        e => Refused::Corrupt(e.to_string()),
    })
}

/// Decodes every pixel: what proves an image is the image it claims to be.
fn pixels(decoder: impl ImageDecoder, width: u32, height: u32) -> Result<DynamicImage, Refused> {
    DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => Refused::TooLarge { width, height },
        e => Refused::Corrupt(e.to_string()),
    })
}

/// Checks and cleans `bytes`, detected as `content_type`. What comes out is decoded whole
/// before it is returned, so what is stored is an image every later step can read.
pub fn clean(bytes: Vec<u8>, content_type: &str) -> Result<Cleaned, Refused> {
    let format = format_of(content_type)
        .ok_or_else(|| Refused::Corrupt(format!("{content_type} is not an image")))?;
    let corrupt = |e: image::ImageError| Refused::Corrupt(e.to_string());
    let mut header = decoder(&bytes, format)?;
    let (width, height) = header.dimensions();
    // A picture of no pixels decodes (a GIF may say its screen is 0 wide), but nothing can be
    // drawn from it: no rendition, no preview, no platform takes it.
    if width == 0 || height == 0 {
        return Err(Refused::Corrupt(format!(
            "the image is {width} x {height}: it has no pixels"
        )));
    }
    if width > MAX_SIDE || height > MAX_SIDE || width as u64 * height as u64 > MAX_PIXELS {
        return Err(Refused::TooLarge { width, height });
    }
    let orientation = header.orientation().map_err(corrupt)?;
    let color = format!("{:?}", header.color_type()).to_lowercase();

    let turned = orientation != image::metadata::Orientation::NoTransforms;
    if turned {
        let mut pixels = pixels(header, width, height)?;
        pixels.apply_orientation(orientation);
        return encoded(pixels, format, color, vec!["exif".into(), "rotated".into()]);
    }
    drop(header);
    // Cutting the metadata rewrites the file's structure, so the bytes kept are the ones decoded
    // whole. A file can decode before and not after (the fuzzer found a JPEG with two frame
    // headers that does): such a file is decoded as it came and encoded afresh.
    let original = Bytes::from(bytes);
    let (kept, mut cut) = strip(original.clone(), format)?;
    let decoded = decoder(&kept, format).and_then(|d| pixels(d, width, height));
    let Ok(decoded) = decoded else {
        let decoded = pixels(decoder(&original, format)?, width, height)?;
        cut.push("reencoded".into());
        return encoded(decoded, format, color, cut);
    };
    cut.sort();
    cut.dedup();
    Ok(Cleaned {
        bytes: kept,
        width: decoded.width(),
        height: decoded.height(),
        color,
        stripped: cut,
    })
}

/// `pixels` encoded afresh as `format` (WebP losslessly, GIF as PNG): nothing of the file
/// they came from is kept. `stripped` says what went.
fn encoded(
    pixels: DynamicImage,
    format: ImageFormat,
    color: String,
    mut stripped: Vec<String>,
) -> Result<Cleaned, Refused> {
    let corrupt = |e: image::ImageError| Refused::Corrupt(e.to_string());
    let mut out = Vec::new();
    match format {
        ImageFormat::Jpeg => {
            let encoder =
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
            pixels.write_with_encoder(encoder).map_err(corrupt)?;
        }
        ImageFormat::WebP => {
            let encoder = image::codecs::webp::WebPEncoder::new_lossless(&mut out);
            pixels.write_with_encoder(encoder).map_err(corrupt)?;
        }
        _ => pixels
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .map_err(corrupt)?,
    }
    stripped.sort();
    stripped.dedup();
    Ok(Cleaned {
        bytes: out,
        width: pixels.width(),
        height: pixels.height(),
        color,
        stripped,
    })
}

/// The metadata cut out of an image without touching its pixels, and what was cut.
fn strip(bytes: Bytes, format: ImageFormat) -> Result<(Vec<u8>, Vec<String>), Refused> {
    let corrupt = |e: img_parts::Error| Refused::Corrupt(e.to_string());
    let mut cut = Vec::new();
    let out = match format {
        ImageFormat::Jpeg => {
            let mut jpeg = Jpeg::from_bytes(bytes).map_err(corrupt)?;
            for (marker, what) in [
                (markers::APP1, "exif"),
                (markers::APP13, "iptc"),
                (markers::COM, "comments"),
            ] {
                let segments = jpeg.segments_by_marker(marker).collect::<Vec<_>>();
                if !segments.is_empty() {
                    // APP1 holds EXIF or XMP.
                    if marker == markers::APP1
                        && segments
                            .iter()
                            .any(|s| s.contents().starts_with(b"http://ns.adobe.com/xap/1.0/"))
                    {
                        cut.push("xmp".to_string());
                    }
                    if marker != markers::APP1
                        || segments
                            .iter()
                            .any(|s| s.contents().starts_with(b"Exif\0\0"))
                    {
                        cut.push(what.to_string());
                    }
                    jpeg.remove_segments_by_marker(marker);
                }
            }
            jpeg.encoder().bytes().to_vec()
        }
        ImageFormat::Png => {
            let mut png = Png::from_bytes(bytes).map_err(corrupt)?;
            for (kind, what) in [
                (*b"eXIf", "exif"),
                (*b"tEXt", "text"),
                (*b"iTXt", "text"),
                (*b"zTXt", "text"),
                (*b"tIME", "text"),
            ] {
                if png.chunk_by_type(kind).is_some() {
                    png.remove_chunks_by_type(kind);
                    cut.push(what.to_string());
                }
            }
            png.encoder().bytes().to_vec()
        }
        ImageFormat::WebP => {
            let mut webp = WebP::from_bytes(bytes).map_err(corrupt)?;
            if webp.exif().is_some() {
                webp.set_exif(None);
                cut.push("exif".to_string());
            }
            if webp.chunk_by_id(*b"XMP ").is_some() {
                webp.remove_chunks_by_id(*b"XMP ");
                cut.push("xmp".to_string());
            }
            webp.encoder().bytes().to_vec()
        }
        // GIF carries no EXIF; its comment extensions stay.
        _ => bytes.to_vec(),
    };
    Ok((out, cut))
}
