//! An account's brand kit: its colours, logos (images of its media library), fonts (uploaded
//! font files creo checked), hashtags it always uses, and its voice: a description and example
//! posts. The generation and brand-voice features read it; the editor shows it.
//!
//! The kit is one record changed as a whole, with a revision for compare-and-set, so two
//! managers editing it at once never silently undo each other. Fonts are rows of their own:
//! uploading one never races an edit of the rest.

use serde::{Deserialize, Serialize};

pub const MAX_COLORS: usize = 24;
pub const MAX_NAME_CHARS: usize = 40;
pub const MAX_LOGOS: usize = 10;
pub const MAX_HASHTAGS: usize = 10;
pub const MAX_HASHTAG_CHARS: usize = 50;
pub const MAX_VOICE_EXAMPLES: usize = 50;
pub const MAX_VOICE_EXAMPLE_CHARS: usize = 2_000;
pub const MAX_VOICE_CHARS: usize = 500;
pub const MAX_FONTS: usize = 20;

/// A named colour of the brand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Color {
    /// What the team calls it: `Primary`, `Ink`, `Sunrise` (1-40 characters).
    pub name: String,
    /// `#rrggbb`, lower case (`#RGB` and upper case are taken and written so).
    pub hex: String,
}

/// A logo: an image of the account's media library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Logo {
    pub media_id: String,
    /// Which logo it is: `Primary`, `On dark`, `Icon` (1-40 characters).
    pub name: String,
}

/// The brand kit as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BrandKit {
    pub account_id: String,
    pub colors: Vec<Color>,
    pub logos: Vec<Logo>,
    /// Hashtags every post may carry (`#creo`): generation offers them first.
    pub hashtags: Vec<String>,
    /// How the brand speaks, in a sentence or two (at most 500 characters).
    pub voice: String,
    /// Posts in the brand's voice (at most 50): the brand-voice score and generation compare
    /// with them.
    pub voice_examples: Vec<String>,
    /// Counts the changes: 0 before the first. A change names the revision it was made
    /// against and is refused when the kit moved on meanwhile.
    pub revision: u64,
    pub updated_at: i64,
    /// Who made the last change (`user:…`), empty before the first.
    pub updated_by: String,
}

impl BrandKit {
    /// The kit of an account that has none yet.
    pub fn empty(account_id: &str) -> BrandKit {
        BrandKit {
            account_id: account_id.to_string(),
            colors: Vec::new(),
            logos: Vec::new(),
            hashtags: Vec::new(),
            voice: String::new(),
            voice_examples: Vec::new(),
            revision: 0,
            updated_at: 0,
            updated_by: String::new(),
        }
    }

    pub fn uses_logo(&self, media_id: &str) -> bool {
        self.logos.iter().any(|l| l.media_id == media_id)
    }
}

/// What a change to the kit sends: each part given replaces that part; parts left out stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KitChange {
    #[serde(default)]
    pub colors: Option<Vec<Color>>,
    #[serde(default)]
    pub logos: Option<Vec<Logo>>,
    #[serde(default)]
    pub hashtags: Option<Vec<String>>,
    #[serde(default)]
    pub voice: Option<String>,
    #[serde(default)]
    pub voice_examples: Option<Vec<String>>,
}

/// `#rgb` or `#rrggbb` (either case) as `#rrggbb`.
pub fn normalize_hex(hex: &str) -> Option<String> {
    let digits = hex.strip_prefix('#')?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let full = match digits.len() {
        3 => digits.chars().flat_map(|c| [c, c]).collect::<String>(),
        6 => digits.to_string(),
        _ => return None,
    };
    Some(format!("#{}", full.to_ascii_lowercase()))
}

fn name_ok(name: &str) -> bool {
    let n = name.trim().chars().count();
    (1..=MAX_NAME_CHARS).contains(&n) && !name.chars().any(char::is_control)
}

/// `tag` as a hashtag (`#` added when missing), if it is one: letters, digits and `_` only.
pub fn normalize_hashtag(tag: &str) -> Option<String> {
    let word = tag.trim().trim_start_matches('#');
    let n = word.chars().count();
    ((1..MAX_HASHTAG_CHARS).contains(&n) && word.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .then(|| format!("#{word}"))
}

impl KitChange {
    /// `kit` with this change applied, each part checked and written in its normal form; the
    /// first problem otherwise, in words for the person who sent it. Whether each logo is an
    /// image of the library is for the caller to check (it needs the store).
    pub fn apply(self, kit: &BrandKit) -> Result<BrandKit, String> {
        let mut next = kit.clone();
        if let Some(colors) = self.colors {
            if colors.len() > MAX_COLORS {
                return Err(format!("at most {MAX_COLORS} colours"));
            }
            next.colors = colors
                .into_iter()
                .map(|c| {
                    if !name_ok(&c.name) {
                        return Err(format!("a colour's name is 1-{MAX_NAME_CHARS} characters"));
                    }
                    let hex = normalize_hex(&c.hex).ok_or_else(|| {
                        format!("{:?} is no colour: write it #rrggbb", truncate(&c.hex))
                    })?;
                    Ok(Color {
                        name: c.name.trim().to_string(),
                        hex,
                    })
                })
                .collect::<Result<_, String>>()?;
        }
        if let Some(logos) = self.logos {
            if logos.len() > MAX_LOGOS {
                return Err(format!("at most {MAX_LOGOS} logos"));
            }
            let mut seen = std::collections::HashSet::new();
            next.logos = logos
                .into_iter()
                .map(|l| {
                    if !name_ok(&l.name) {
                        return Err(format!("a logo's name is 1-{MAX_NAME_CHARS} characters"));
                    }
                    if l.media_id.is_empty() || l.media_id.len() > 100 {
                        return Err("a logo names a medium of the library by its id".into());
                    }
                    if !seen.insert(l.media_id.clone()) {
                        return Err(format!("{} is listed twice", l.media_id));
                    }
                    Ok(Logo {
                        media_id: l.media_id,
                        name: l.name.trim().to_string(),
                    })
                })
                .collect::<Result<_, String>>()?;
        }
        if let Some(tags) = self.hashtags {
            if tags.len() > MAX_HASHTAGS {
                return Err(format!("at most {MAX_HASHTAGS} hashtags"));
            }
            let mut normal: Vec<String> = Vec::new();
            for t in tags {
                let tag = normalize_hashtag(&t).ok_or_else(|| {
                    format!(
                        "{:?} is no hashtag: letters, digits and _, at most {} of them",
                        truncate(&t),
                        MAX_HASHTAG_CHARS - 1
                    )
                })?;
                if !normal
                    .iter()
                    .any(|n| n.to_lowercase() == tag.to_lowercase())
                {
                    normal.push(tag);
                }
            }
            next.hashtags = normal;
        }
        if let Some(voice) = self.voice {
            if voice.chars().count() > MAX_VOICE_CHARS {
                return Err(format!(
                    "the voice is described in at most {MAX_VOICE_CHARS} characters"
                ));
            }
            next.voice = voice.trim().to_string();
        }
        if let Some(examples) = self.voice_examples {
            if examples.len() > MAX_VOICE_EXAMPLES {
                return Err(format!("at most {MAX_VOICE_EXAMPLES} voice examples"));
            }
            next.voice_examples = examples
                .into_iter()
                .map(|e| {
                    let n = e.trim().chars().count();
                    if n == 0 || n > MAX_VOICE_EXAMPLE_CHARS {
                        return Err(format!(
                            "a voice example is 1-{MAX_VOICE_EXAMPLE_CHARS} characters"
                        ));
                    }
                    Ok(e.trim().to_string())
                })
                .collect::<Result<_, String>>()?;
        }
        Ok(next)
    }
}

/// At most 40 characters of what someone sent, for an error message.
fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// A font file of the brand, as creo checked it (its bytes are in object storage under `key`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BrandFont {
    /// `fnt_…`.
    pub font_id: String,
    pub account_id: String,
    /// Read from the font's own name table (typographic family first).
    pub family: String,
    /// `Regular`, `Bold Italic`, …
    pub style: String,
    /// 100-900, from the font's OS/2 table (400 when it has none).
    pub weight: u16,
    pub italic: bool,
    /// `font/ttf` (TrueType outlines) or `font/otf` (CFF outlines), from the content.
    pub content_type: String,
    pub glyphs: u16,
    pub file_name: String,
    pub bytes: u64,
    pub sha256: String,
    pub key: String,
    pub uploaded_by: String,
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kit() -> BrandKit {
        BrandKit::empty("acc")
    }

    #[test]
    fn colours_are_written_in_one_form_and_bad_ones_refused() {
        let change = KitChange {
            colors: Some(vec![
                Color {
                    name: " Primary ".into(),
                    hex: "#1A2B3C".into(),
                },
                Color {
                    name: "Ink".into(),
                    hex: "#fa0".into(),
                },
            ]),
            ..Default::default()
        };
        let next = change.apply(&kit()).unwrap();
        assert_eq!(next.colors[0].name, "Primary");
        assert_eq!(next.colors[0].hex, "#1a2b3c");
        assert_eq!(next.colors[1].hex, "#ffaa00");
        for bad in ["1a2b3c", "#12345", "#ggg", "#1234567", "red"] {
            let change = KitChange {
                colors: Some(vec![Color {
                    name: "x".into(),
                    hex: bad.into(),
                }]),
                ..Default::default()
            };
            assert!(change.apply(&kit()).is_err(), "{bad}");
        }
    }

    #[test]
    fn parts_left_out_stay_and_lists_are_bounded() {
        let mut start = kit();
        start.voice = "Warm".into();
        start.hashtags = vec!["#creo".into()];
        let next = KitChange {
            voice_examples: Some(vec!["  Hello there.  ".into()]),
            ..Default::default()
        }
        .apply(&start)
        .unwrap();
        assert_eq!(next.voice, "Warm");
        assert_eq!(next.hashtags, ["#creo"]);
        assert_eq!(next.voice_examples, ["Hello there."]);
        let many = KitChange {
            voice_examples: Some(vec!["x".into(); MAX_VOICE_EXAMPLES + 1]),
            ..Default::default()
        };
        assert!(many.apply(&start).is_err());
        let empty = KitChange {
            voice_examples: Some(vec!["  ".into()]),
            ..Default::default()
        };
        assert!(empty.apply(&start).is_err());
    }

    #[test]
    fn hashtags_get_their_mark_once_and_logos_are_not_listed_twice() {
        let next = KitChange {
            hashtags: Some(vec!["creo".into(), "#Creo".into(), "#spring_2027".into()]),
            ..Default::default()
        }
        .apply(&kit())
        .unwrap();
        assert_eq!(next.hashtags, ["#creo", "#spring_2027"]);
        let bad = KitChange {
            hashtags: Some(vec!["two words".into()]),
            ..Default::default()
        };
        assert!(bad.apply(&kit()).is_err());
        let logo = |id: &str| Logo {
            media_id: id.into(),
            name: "Primary".into(),
        };
        let twice = KitChange {
            logos: Some(vec![logo("med_a"), logo("med_a")]),
            ..Default::default()
        };
        assert!(twice.apply(&kit()).is_err());
    }
}
