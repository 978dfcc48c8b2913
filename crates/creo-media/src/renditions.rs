//! A stored image's smaller copies: scaled to fit a long side (never up), and on tiers that
//! watermark exports, the copy platforms are sent with creo's mark in its corner. Whole-image
//! work: it runs on the blocking pool, from the `renditions` job, never in a request.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView, ImageFormat, Rgba};

/// Each rendition's name and the long side it is scaled to fit.
pub const SIZES: [(&str, u32); 3] = [("thumb", 320), ("large", 1_080), ("xlarge", 2_048)];
/// The long side of the watermarked export.
const EXPORT_SIDE: u32 = 2_048;
const JPEG_QUALITY: u8 = 85;

/// One rendition made: its name, media type, size and bytes.
pub struct Made {
    pub name: &'static str,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

/// The renditions of `original` (already checked at upload, so it decodes): each size that is
/// smaller than the original, and with `watermark`, the export.
pub fn render(original: &[u8], watermark: bool) -> Result<Vec<Made>, String> {
    let image = image::load_from_memory(original).map_err(|e| e.to_string())?;
    let (width, height) = image.dimensions();
    let long = width.max(height);
    let mut made = Vec::new();
    for (name, side) in SIZES {
        if side < long {
            made.push(encode(
                name,
                &image.resize(side, side, FilterType::Triangle),
            )?);
        }
    }
    if watermark {
        let mut export = if long > EXPORT_SIDE {
            image.resize(EXPORT_SIDE, EXPORT_SIDE, FilterType::Triangle)
        } else {
            image.clone()
        };
        mark(&mut export);
        made.push(encode("export", &export)?);
    }
    Ok(made)
}

/// The thumbnails of a video, from one of its frames (a PNG `ffmpeg` wrote): each size smaller
/// than the frame, and always a `thumb`, however small the video (the frame as it is).
pub fn render_frame(frame: &[u8]) -> Result<Vec<Made>, String> {
    let mut made = render(frame, false)?;
    if !made.iter().any(|m| m.name == "thumb") {
        let image = image::load_from_memory(frame).map_err(|e| e.to_string())?;
        made.insert(0, encode("thumb", &image)?);
    }
    Ok(made)
}

/// JPEG, or PNG when the image has transparency to keep.
fn encode(name: &'static str, image: &DynamicImage) -> Result<Made, String> {
    let mut bytes = Vec::new();
    let content_type = if image.color().has_alpha() {
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .map_err(|e| e.to_string())?;
        "image/png"
    } else {
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY);
        image
            .to_rgb8()
            .write_with_encoder(encoder)
            .map_err(|e| e.to_string())?;
        "image/jpeg"
    };
    Ok(Made {
        name,
        content_type,
        width: image.width(),
        height: image.height(),
        bytes,
    })
}

/// "CREO" in a 5 x 7 pixel font, a row per line, `#` set.
const GLYPHS: [[&str; 7]; 4] = [
    [
        " ### ", "#   #", "#    ", "#    ", "#    ", "#   #", " ### ",
    ],
    [
        "#### ", "#   #", "#   #", "#### ", "# #  ", "#  # ", "#   #",
    ],
    [
        "#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#####",
    ],
    [
        " ### ", "#   #", "#   #", "#   #", "#   #", "#   #", " ### ",
    ],
];

/// Draws the mark in the bottom-right corner: white letters on a dark translucent plate, a
/// fortieth of the image's width per font pixel (at least one).
pub fn mark(image: &mut DynamicImage) {
    let mut rgba = image.to_rgba8();
    let (w, h) = rgba.dimensions();
    let px = (w / 160).max(1);
    let (text_w, text_h) = ((4 * 6 - 1) * px, 7 * px);
    let pad = 2 * px;
    let (plate_w, plate_h) = (text_w + 2 * pad, text_h + 2 * pad);
    if plate_w + pad > w || plate_h + pad > h {
        return;
    }
    let (x0, y0) = (w - plate_w - pad, h - plate_h - pad);
    let blend = |p: &mut Rgba<u8>, c: [u8; 3], alpha: f32| {
        for i in 0..3 {
            p[i] = (p[i] as f32 * (1.0 - alpha) + c[i] as f32 * alpha) as u8;
        }
    };
    for y in y0..y0 + plate_h {
        for x in x0..x0 + plate_w {
            blend(rgba.get_pixel_mut(x, y), [15, 23, 42], 0.55);
        }
    }
    for (g, glyph) in GLYPHS.iter().enumerate() {
        for (row, line) in glyph.iter().enumerate() {
            for (col, c) in line.bytes().enumerate() {
                if c != b'#' {
                    continue;
                }
                let (gx, gy) = (
                    x0 + pad + (g as u32 * 6 + col as u32) * px,
                    y0 + pad + row as u32 * px,
                );
                for y in gy..gy + px {
                    for x in gx..gx + px {
                        blend(rgba.get_pixel_mut(x, y), [255, 255, 255], 0.9);
                    }
                }
            }
        }
    }
    *image = if image.color().has_alpha() {
        DynamicImage::ImageRgba8(rgba)
    } else {
        DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba).to_rgb8())
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            w,
            h,
            image::Rgb([128, 128, 128]),
        ));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn sizes_fit_their_long_side_and_never_grow() {
        let made = render(&grey(1600, 900), false).unwrap();
        let sizes: Vec<_> = made.iter().map(|m| (m.name, m.width, m.height)).collect();
        assert_eq!(sizes, [("thumb", 320, 180), ("large", 1080, 608)]);
        assert!(made.iter().all(|m| m.content_type == "image/jpeg"));
    }

    #[test]
    fn a_small_videos_frame_is_its_own_thumbnail() {
        let made = render_frame(&grey(160, 90)).unwrap();
        let sizes: Vec<_> = made.iter().map(|m| (m.name, m.width, m.height)).collect();
        assert_eq!(sizes, [("thumb", 160, 90)]);
        let made = render_frame(&grey(1920, 1080)).unwrap();
        assert_eq!(made.len(), 2, "thumb and large");
    }

    #[test]
    fn the_export_carries_the_mark_in_its_corner() {
        let made = render(&grey(800, 600), true).unwrap();
        let export = made.iter().find(|m| m.name == "export").unwrap();
        let img = image::load_from_memory(&export.bytes).unwrap().to_rgb8();
        let corner = img.get_pixel(800 - 12, 600 - 12);
        let middle = img.get_pixel(400, 300);
        assert!(corner[0] < 100, "the dark plate: {corner:?}");
        assert!(
            (middle[0] as i32 - 128).abs() < 6,
            "untouched elsewhere: {middle:?}"
        );
    }
}
