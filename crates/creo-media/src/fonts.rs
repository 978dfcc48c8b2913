//! A brand font file checked before it is kept: TrueType or OpenType (CFF) by its first bytes,
//! parsed with `ttf-parser` (which never allocates and bounds every read by the table it is
//! in), named by its own name table, able to draw the letters a post is written in, and
//! licensed for embedding. Collections (`.ttc`) and web-packed files (WOFF, WOFF2) are refused
//! with what to upload instead.

use ttf_parser::{name_id, Face, OutlineBuilder, Permissions};

/// The largest font file taken (a full CJK font is about 20 MB).
pub const MAX_FONT_BYTES: usize = 32 << 20;

/// What creo read from a font.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// `font/ttf` or `font/otf`.
    pub content_type: &'static str,
    pub family: String,
    pub style: String,
    pub weight: u16,
    pub italic: bool,
    pub glyphs: u16,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("{0}")]
    Unsupported(String),
    #[error("the font cannot be read: {0}")]
    Invalid(String),
    #[error("the font's licence does not allow embedding it (its OS/2 table says restricted)")]
    Restricted,
}

/// The font's type from its first four bytes.
fn kind(data: &[u8]) -> Result<&'static str, Refused> {
    match data.get(..4) {
        Some([0, 1, 0, 0]) | Some(b"true") => Ok("font/ttf"),
        Some(b"OTTO") => Ok("font/otf"),
        Some(b"ttcf") => Err(Refused::Unsupported(
            "a font collection (.ttc): upload each face as its own .ttf or .otf".into(),
        )),
        Some(b"wOFF") | Some(b"wOF2") => Err(Refused::Unsupported(
            "a web font (WOFF): upload the .ttf or .otf it was made from".into(),
        )),
        _ => Err(Refused::Unsupported(
            "no TrueType or OpenType font: upload a .ttf or .otf file".into(),
        )),
    }
}

/// The first name with `id` that decodes (Unicode entries; Mac Roman ones do not).
fn name(face: &Face, id: u16) -> Option<String> {
    face.names()
        .into_iter()
        .filter(|n| n.name_id == id)
        .find_map(|n| n.to_string())
        .map(|s| {
            s.chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect::<String>()
        })
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Counts the segments of an outline (it is drawn to prove it can be).
#[derive(Default)]
struct Segments(usize);

impl OutlineBuilder for Segments {
    fn move_to(&mut self, _: f32, _: f32) {
        self.0 += 1;
    }
    fn line_to(&mut self, _: f32, _: f32) {
        self.0 += 1;
    }
    fn quad_to(&mut self, _: f32, _: f32, _: f32, _: f32) {
        self.0 += 1;
    }
    fn curve_to(&mut self, _: f32, _: f32, _: f32, _: f32, _: f32, _: f32) {
        self.0 += 1;
    }
    fn close(&mut self) {}
}

/// Checks `data` as a font to keep, and what it is.
pub fn check(data: &[u8]) -> Result<Checked, Refused> {
    // ttf-parser refuses every read outside the file, but in builds with debug assertions it
    // asserts where a count in a table points past 4 GiB (`Stream::read_bytes`) instead of
    // refusing it (the fuzzer's `table-past-4gib.ttf`). Such a font is refused the same way in
    // every build.
    std::panic::catch_unwind(|| parse(data))
        .unwrap_or_else(|_| Err(Refused::Invalid("its tables point outside the file".into())))
}

fn parse(data: &[u8]) -> Result<Checked, Refused> {
    if data.len() > MAX_FONT_BYTES {
        return Err(Refused::Invalid(format!(
            "it is larger than {} MB",
            MAX_FONT_BYTES >> 20
        )));
    }
    let content_type = kind(data)?;
    let face = Face::parse(data, 0).map_err(|e| Refused::Invalid(e.to_string()))?;
    if face.permissions() == Some(Permissions::Restricted) {
        return Err(Refused::Restricted);
    }
    let family = name(&face, name_id::TYPOGRAPHIC_FAMILY)
        .or_else(|| name(&face, name_id::FAMILY))
        .ok_or_else(|| Refused::Invalid("it has no family name".into()))?;
    let style = name(&face, name_id::TYPOGRAPHIC_SUBFAMILY)
        .or_else(|| name(&face, name_id::SUBFAMILY))
        .unwrap_or_else(|| "Regular".into());
    // A brand font sets the letters of posts: it must map them and draw them.
    let mut drawn = 0;
    for c in ['A', 'a', 'e', 'o', '0'] {
        let Some(glyph) = face.glyph_index(c) else {
            continue;
        };
        let mut segments = Segments::default();
        if face.outline_glyph(glyph, &mut segments).is_some() && segments.0 > 0 {
            drawn += 1;
        }
    }
    if drawn == 0 {
        return Err(Refused::Invalid(
            "it draws none of the letters A, a, e, o or the digit 0".into(),
        ));
    }
    Ok(Checked {
        content_type,
        family,
        style,
        weight: face.weight().to_number().clamp(1, 1000),
        italic: face.is_italic(),
        glyphs: face.number_of_glyphs(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_no_font_is_told_apart_from_a_broken_one() {
        assert!(
            matches!(check(b"wOF2\0\0\0\0"), Err(Refused::Unsupported(m)) if m.contains("WOFF"))
        );
        assert!(
            matches!(check(b"ttcf\0\0\0\0"), Err(Refused::Unsupported(m)) if m.contains(".ttc"))
        );
        assert!(matches!(
            check(b"\x89PNG\r\n"),
            Err(Refused::Unsupported(_))
        ));
        assert!(matches!(
            check(&[0, 1, 0, 0, 0, 3]),
            Err(Refused::Invalid(_))
        ));
        assert!(matches!(check(b"OTTO"), Err(Refused::Invalid(_))));
    }

    /// A system font, where the machine has one (the test suite installs DejaVu).
    #[test]
    fn a_real_font_is_named_by_its_own_tables() {
        let path = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";
        let Ok(data) = std::fs::read(path) else {
            panic!("{path} is missing: apt-get install fonts-dejavu-core");
        };
        let f = check(&data).unwrap();
        assert_eq!(f.content_type, "font/ttf");
        assert_eq!(f.family, "DejaVu Sans");
        assert_eq!(f.style, "Bold");
        assert_eq!(f.weight, 700);
        assert!(!f.italic);
        assert!(f.glyphs > 1000);
        // Cut short, it no longer parses, and nothing panics on the way.
        for cut in [12, 100, 1_000, data.len() / 2] {
            let _ = check(&data[..cut]);
        }
    }
}
