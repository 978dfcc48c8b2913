//! What each social platform accepts, checked when a document is scheduled (so the person sees
//! the problem at once) and again when it is published (the text may have changed since):
//! caption length, hashtag count, and the aspect ratio of the media for the chosen format.
//!
//! A post's text for a platform is its variant (the root text `post.<platform>`) when one was
//! written, the document's `post` otherwise; its media are the entries of the root array
//! `media`: each either names a medium of the workspace's library (`{"media_id": "med_…"}`,
//! whose stored measurements count, never numbers a client typed) or gives a `width`, a
//! `height` and a `url` itself.

use serde::{Deserialize, Serialize};
use yrs::{Any, Doc, ReadTxn, Transact};
use yrs::{Array, Map};

/// Where and how a scheduled document goes out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Target {
    /// `instagram`, `x`, `linkedin`, `facebook`, `tiktok`, `pinterest`, `youtube`, or `generic`
    /// (the destination's own limits: `publish_max_chars`, `publish_max_hashtags`). A target on
    /// a platform channel takes the channel's platform; one on a webhook channel keeps the one
    /// given (whose limits apply), `generic` when none is.
    #[serde(default)]
    pub platform: String,
    /// One of the platform's formats (`feed`, `story`, `reel`, `video`, `short`, `pin`);
    /// default `feed`, or the platform's first format where it has no feed (`video` on
    /// TikTok and YouTube, `pin` on Pinterest).
    #[serde(default)]
    pub format: Option<String>,
    /// One of the account's channels (`/accounts/{id}/channels`): the post goes out there, with
    /// the channel's platform. None: the server-wide destination (`publish_webhook_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
}

/// A platform's limits.
pub struct Rules {
    pub name: &'static str,
    pub max_chars: usize,
    pub max_hashtags: usize,
    /// Formats with the range of aspect ratios (width / height) their media may have, and
    /// whether the format needs media at all.
    pub formats: &'static [Format],
}

pub struct Format {
    pub name: &'static str,
    pub min_ratio: f64,
    pub max_ratio: f64,
    pub needs_media: bool,
}

const VERTICAL: f64 = 9.0 / 16.0;

/// The platforms' published limits (captions, hashtags, media shapes) as of 2026.
pub const PLATFORMS: &[Rules] = &[
    Rules {
        name: "instagram",
        max_chars: 2_200,
        max_hashtags: 30,
        formats: &[
            Format {
                name: "feed",
                min_ratio: 4.0 / 5.0,
                max_ratio: 1.91,
                needs_media: true,
            },
            Format {
                name: "story",
                min_ratio: VERTICAL,
                max_ratio: VERTICAL,
                needs_media: true,
            },
            Format {
                name: "reel",
                min_ratio: VERTICAL,
                max_ratio: VERTICAL,
                needs_media: true,
            },
        ],
    },
    Rules {
        name: "x",
        max_chars: 280,
        max_hashtags: 10,
        formats: &[Format {
            name: "feed",
            min_ratio: 0.5,
            max_ratio: 2.0,
            needs_media: false,
        }],
    },
    Rules {
        name: "linkedin",
        max_chars: 3_000,
        max_hashtags: 30,
        formats: &[Format {
            name: "feed",
            min_ratio: 1.0 / 1.91,
            max_ratio: 1.91,
            needs_media: false,
        }],
    },
    Rules {
        name: "facebook",
        max_chars: 63_206,
        max_hashtags: 30,
        formats: &[
            Format {
                name: "feed",
                min_ratio: 4.0 / 5.0,
                max_ratio: 1.91,
                needs_media: false,
            },
            Format {
                name: "story",
                min_ratio: VERTICAL,
                max_ratio: VERTICAL,
                needs_media: true,
            },
        ],
    },
    Rules {
        name: "tiktok",
        max_chars: 2_200,
        max_hashtags: 30,
        formats: &[Format {
            name: "video",
            min_ratio: VERTICAL,
            max_ratio: VERTICAL,
            needs_media: true,
        }],
    },
    Rules {
        name: "pinterest",
        // A pin's description; a pin is an image.
        max_chars: 500,
        max_hashtags: 20,
        formats: &[Format {
            name: "pin",
            min_ratio: 1.0 / 2.1,
            max_ratio: 1.91,
            needs_media: true,
        }],
    },
    Rules {
        name: "youtube",
        // The description (YouTube drops every hashtag past 60; it shows 3 above the title).
        max_chars: 5_000,
        max_hashtags: 15,
        formats: &[
            Format {
                name: "video",
                min_ratio: VERTICAL,
                max_ratio: 16.0 / 9.0,
                needs_media: true,
            },
            Format {
                name: "short",
                min_ratio: VERTICAL,
                max_ratio: 1.0,
                needs_media: true,
            },
        ],
    },
];

/// Ratios within 1% of a format's range pass (a 1080x1920 frame is 9:16; so is 720x1281).
const RATIO_TOLERANCE: f64 = 0.01;

/// What one target would publish.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Post {
    pub platform: String,
    pub format: String,
    pub text: String,
    pub media: Vec<Media>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Media {
    pub width: f64,
    pub height: f64,
    pub url: Option<String>,
    /// The library medium this is, when the post named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
}

/// The workspace's library media a post may name, by id, as stored: measured size, and the
/// address platforms fetch them from.
pub type Library = std::collections::HashMap<String, Media>;

/// Most targets one post has.
pub const MAX_TARGETS: usize = 20;
/// Most media one post carries (no platform takes more than 20).
pub const MAX_MEDIA: usize = 20;

/// Checks targets before they are stored: known platforms and formats.
pub fn validate(targets: &[Target]) -> Result<(), String> {
    if targets.len() > MAX_TARGETS {
        return Err(format!("at most {MAX_TARGETS} targets"));
    }
    let mut channels: Vec<&str> = targets
        .iter()
        .filter_map(|t| t.channel_id.as_deref())
        .collect();
    channels.sort_unstable();
    if channels.windows(2).any(|w| w[0] == w[1]) {
        return Err("a channel is named twice".into());
    }
    for t in targets {
        if t.platform != "generic" {
            format_of(t)?;
        }
    }
    Ok(())
}

fn rules(platform: &str) -> Result<&'static Rules, String> {
    PLATFORMS
        .iter()
        .find(|r| r.name == platform)
        .ok_or_else(|| {
            let known: Vec<&str> = PLATFORMS.iter().map(|r| r.name).collect();
            format!(
                "unknown platform {platform:?} (known: generic, {})",
                known.join(", ")
            )
        })
}

fn format_of(t: &Target) -> Result<&'static Format, String> {
    let rules = rules(&t.platform)?;
    let wanted = t.format.as_deref().unwrap_or_else(|| {
        let feed = rules.formats.iter().find(|f| f.name == "feed");
        feed.unwrap_or(&rules.formats[0]).name
    });
    rules
        .formats
        .iter()
        .find(|f| f.name == wanted)
        .ok_or_else(|| {
            let known: Vec<&str> = rules.formats.iter().map(|f| f.name).collect();
            format!(
                "{} has no format {wanted:?} (formats: {})",
                t.platform,
                known.join(", ")
            )
        })
}

pub fn hashtags(text: &str) -> usize {
    text.split_whitespace()
        .filter(|w| w.starts_with('#') && w.chars().nth(1).is_some_and(char::is_alphanumeric))
        .count()
}

/// The posts `doc` makes for `targets` (one generic post when there are none), each checked
/// against its platform; `Err` says every reason a post cannot go out.
pub fn posts(
    doc: &Doc,
    targets: &[Target],
    generic_chars: usize,
    generic_hashtags: usize,
    library: &Library,
) -> Result<Vec<Post>, String> {
    let generic = [Target {
        platform: "generic".into(),
        format: None,
        channel_id: None,
    }];
    let targets = if targets.is_empty() {
        &generic[..]
    } else {
        targets
    };
    let mut posts = Vec::new();
    let mut problems = Vec::new();
    let entries = entries(doc);
    if entries.len() > MAX_MEDIA {
        problems.push(format!("a post carries at most {MAX_MEDIA} media"));
    }
    let media: Vec<Media> = entries
        .into_iter()
        .take(MAX_MEDIA)
        .filter_map(|entry| match entry {
            Entry::Given(m) => Some(m),
            Entry::Named(id) => {
                let found = library.get(&id).cloned();
                if found.is_none() {
                    problems.push(format!(
                        "media {id} is not in this workspace's library (was it deleted?)"
                    ));
                }
                found
            }
        })
        .collect();
    for t in targets {
        let text = text_for(doc, &t.platform);
        let (max_chars, max_hashtags, format) = if t.platform == "generic" {
            (generic_chars, generic_hashtags, None)
        } else {
            let rules = rules(&t.platform)?;
            (rules.max_chars, rules.max_hashtags, Some(format_of(t)?))
        };
        let chars = text.chars().count();
        if text.trim().is_empty() {
            problems.push(format!("{}: the post is empty", t.platform));
        }
        if chars > max_chars {
            problems.push(format!(
                "{}: the post has {chars} characters; the limit is {max_chars}",
                t.platform
            ));
        }
        let tags = hashtags(&text);
        if tags > max_hashtags {
            problems.push(format!(
                "{}: the post has {tags} hashtags; the limit is {max_hashtags}",
                t.platform
            ));
        }
        if let Some(f) = format {
            if f.needs_media && media.is_empty() {
                problems.push(format!(
                    "{} {}: needs an image or a video",
                    t.platform, f.name
                ));
            }
            for m in &media {
                let ratio = m.width / m.height;
                let fits = ratio >= f.min_ratio * (1.0 - RATIO_TOLERANCE)
                    && ratio <= f.max_ratio * (1.0 + RATIO_TOLERANCE);
                if !fits {
                    problems.push(format!(
                        "{} {}: media {}x{} has aspect ratio {ratio:.2}; the format takes {:.2} to {:.2}",
                        t.platform, f.name, m.width, m.height, f.min_ratio, f.max_ratio
                    ));
                }
            }
        }
        posts.push(Post {
            platform: t.platform.clone(),
            format: format.map_or("post", |f| f.name).to_string(),
            text,
            media: media.clone(),
        });
    }
    if problems.is_empty() {
        Ok(posts)
    } else {
        Err(problems.join("; "))
    }
}

/// The platform's variant when it has one, the post otherwise (the whole document's text for a
/// document with no `post`).
fn text_for(doc: &Doc, platform: &str) -> String {
    let read = |name: &str| crate::fields::read(doc, name);
    if let Some(variant) = read(&format!("post.{platform}")).filter(|t| !t.trim().is_empty()) {
        return variant;
    }
    match read("post") {
        Some(post) if !post.trim().is_empty() => post,
        _ => crate::text::document_text(doc),
    }
}

/// One entry of a document's `media`.
enum Entry {
    Given(Media),
    Named(String),
}

/// The library media the document names, in order.
pub fn media_ids(doc: &Doc) -> Vec<String> {
    entries(doc)
        .into_iter()
        .filter_map(|e| match e {
            Entry::Named(id) => Some(id),
            Entry::Given(_) => None,
        })
        .collect()
}

fn entries(doc: &Doc) -> Vec<Entry> {
    let txn = doc.transact();
    let Some(array) = txn.get_array("media") else {
        return Vec::new();
    };
    // Each item read by itself, as a plain value or a map one level deep: `to_json` on the
    // whole array would recurse through whatever shared types an editor nested in it.
    let items: Vec<Any> = array
        .iter(&txn)
        .filter_map(|item| match item {
            yrs::Out::Any(any) => Some(any),
            yrs::Out::YMap(m) => Some(Any::from(
                m.iter(&txn)
                    .filter_map(|(k, v)| match v {
                        yrs::Out::Any(any) => Some((k.to_string(), any)),
                        _ => None,
                    })
                    .collect::<std::collections::HashMap<_, _>>(),
            )),
            _ => None,
        })
        .collect();
    items
        .iter()
        .filter_map(|item| {
            let Any::Map(m) = item else { return None };
            if let Some(Any::String(id)) = m.get("media_id") {
                return Some(Entry::Named(id.to_string()));
            }
            let number = |k: &str| match m.get(k) {
                Some(Any::Number(n)) => n.as_f64(),
                _ => None,
            };
            let (width, height) = (number("width")?, number("height")?);
            (width > 0.0 && height > 0.0).then(|| {
                Entry::Given(Media {
                    width,
                    height,
                    url: match m.get("url") {
                        Some(Any::String(s)) => Some(s.to_string()),
                        _ => None,
                    },
                    media_id: None,
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Array, Text};

    fn doc(post: &str, media: &[(f64, f64)]) -> Doc {
        let doc = Doc::new();
        let text = doc.get_or_insert_text("post");
        let array = doc.get_or_insert_array("media");
        let mut txn = doc.transact_mut();
        text.insert(&mut txn, 0, post);
        for (w, h) in media {
            array.push_back(
                &mut txn,
                Any::from(std::collections::HashMap::from([
                    ("width".to_string(), Any::from(*w)),
                    ("height".to_string(), Any::from(*h)),
                ])),
            );
        }
        drop(txn);
        doc
    }

    fn target(platform: &str, format: Option<&str>) -> Target {
        Target {
            platform: platform.into(),
            format: format.map(str::to_string),
            channel_id: None,
        }
    }

    #[test]
    fn x_refuses_a_long_post_that_instagram_takes() {
        let d = doc(&"word ".repeat(100), &[(1080.0, 1080.0)]);
        assert!(posts(&d, &[target("instagram", None)], 100, 10, &Library::new()).is_ok());
        let err = posts(&d, &[target("x", None)], 100, 10, &Library::new()).unwrap_err();
        assert!(err.contains("500 characters; the limit is 280"), "{err}");
    }

    #[test]
    fn a_target_without_a_format_takes_feed_or_the_first_format() {
        let tall = doc("behind the scenes", &[(1080.0, 1920.0)]);
        let made = posts(
            &tall,
            &[target("youtube", None), target("tiktok", None)],
            100,
            10,
            &Library::new(),
        );
        let formats: Vec<String> = made.unwrap().into_iter().map(|p| p.format).collect();
        assert_eq!(formats, ["video", "video"]);
        let square = doc("hello", &[(1080.0, 1080.0)]);
        assert_eq!(
            posts(
                &square,
                &[target("facebook", None)],
                100,
                10,
                &Library::new()
            )
            .unwrap()[0]
                .format,
            "feed"
        );
    }

    #[test]
    fn hashtags_are_counted_per_platform() {
        let tags: String = (0..31).map(|i| format!("#tag{i} ")).collect();
        let d = doc(&tags, &[(1080.0, 1080.0)]);
        let err = posts(&d, &[target("instagram", None)], 5000, 100, &Library::new()).unwrap_err();
        assert!(err.contains("31 hashtags; the limit is 30"), "{err}");
        assert_eq!(hashtags("# alone #ok #1 ##"), 2);
    }

    #[test]
    fn aspect_ratio_depends_on_the_format() {
        let square = doc("hello", &[(1080.0, 1080.0)]);
        assert!(posts(
            &square,
            &[target("instagram", Some("feed"))],
            100,
            10,
            &Library::new()
        )
        .is_ok());
        let err = posts(
            &square,
            &[target("instagram", Some("story"))],
            100,
            10,
            &Library::new(),
        )
        .unwrap_err();
        assert!(err.contains("aspect ratio 1.00"), "{err}");
        let vertical = doc("hello", &[(1080.0, 1920.0)]);
        assert!(posts(
            &vertical,
            &[target("tiktok", None)],
            100,
            10,
            &Library::new()
        )
        .is_ok());
        let bare = doc("hello", &[]);
        let err = posts(&bare, &[target("tiktok", None)], 100, 10, &Library::new()).unwrap_err();
        assert!(err.contains("needs an image or a video"), "{err}");
    }

    #[test]
    fn a_variant_replaces_the_post_for_its_platform() {
        let d = doc(&"long ".repeat(80), &[]);
        {
            let variant = d.get_or_insert_text("post.x");
            variant.insert(&mut d.transact_mut(), 0, "short for X");
        }
        let out = posts(
            &d,
            &[target("x", None), target("linkedin", None)],
            100,
            10,
            &Library::new(),
        )
        .unwrap();
        assert_eq!(out[0].text, "short for X");
        assert!(out[1].text.starts_with("long long"));
    }

    #[test]
    fn unknown_platforms_and_formats_are_named() {
        assert!(validate(&[target("myspace", None)])
            .unwrap_err()
            .contains("unknown platform"));
        assert!(validate(&[target("x", Some("reel"))])
            .unwrap_err()
            .contains("formats: feed"));
        assert!(validate(&[target("instagram", Some("reel")), target("generic", None)]).is_ok());
    }

    #[test]
    fn a_named_medium_counts_with_its_stored_size_and_an_unknown_one_is_refused() {
        let d = Doc::new();
        {
            let text = d.get_or_insert_text("post");
            let array = d.get_or_insert_array("media");
            let mut txn = d.transact_mut();
            text.insert(&mut txn, 0, "our story");
            // The client's numbers beside the id are not believed.
            array.push_back(
                &mut txn,
                Any::from(std::collections::HashMap::from([
                    ("media_id".to_string(), Any::from("med_square")),
                    ("width".to_string(), Any::from(1080.0)),
                    ("height".to_string(), Any::from(1920.0)),
                ])),
            );
        }
        assert_eq!(media_ids(&d), ["med_square"]);
        let story = [target("instagram", Some("story"))];
        let err = posts(&d, &story, 100, 10, &Library::new()).unwrap_err();
        assert!(
            err.contains("med_square is not in this workspace's library"),
            "{err}"
        );
        let library = Library::from([(
            "med_square".to_string(),
            Media {
                width: 1080.0,
                height: 1080.0,
                url: Some("https://creo.example/media/a/med_square".into()),
                media_id: Some("med_square".into()),
            },
        )]);
        let err = posts(&d, &story, 100, 10, &library).unwrap_err();
        assert!(err.contains("media 1080x1080"), "the stored size: {err}");
        let feed = posts(&d, &[target("instagram", Some("feed"))], 100, 10, &library).unwrap();
        assert_eq!(
            feed[0].media[0].url.as_deref(),
            Some("https://creo.example/media/a/med_square")
        );
    }
}
