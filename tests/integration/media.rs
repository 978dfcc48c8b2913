//! The media library against the real server: images and a video made here, uploaded over
//! HTTP, measured from their content, stripped of GPS and personal tags, served back by range;
//! liars, truncated files and decompression bombs refused with nothing stored; the storage
//! quota held under concurrent uploads.

use std::io::Cursor;

use img_parts::{Bytes, ImageEXIF};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{http, Server};
use crate::rest::{self, get, register, User};

pub fn start(extra: &[(&str, &str)]) -> Server {
    let mut env = rest::billing_env();
    env.extend_from_slice(extra);
    Server::start_with(&env)
}

pub async fn upload(server: &Server, user: &User, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let r = http()
        .post(server.url(&format!(
            "/api/v1/accounts/{}/media?name={name}",
            user.account_id
        )))
        .bearer_auth(&user.access)
        .header("Content-Type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn content(server: &Server, user: &User, id: &str) -> Vec<u8> {
    let r = http()
        .get(server.url(&format!(
            "/api/v1/accounts/{}/media/{id}/content",
            user.account_id
        )))
        .bearer_auth(&user.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap().to_vec()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A `width` x `height` picture with something on it, encoded as `format`.
pub fn picture(width: u32, height: u32, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), format)
        .unwrap();
    out
}

/// A TIFF-form EXIF block: an orientation, and a GPS position (latitude N 48°51').
fn exif(orientation: u16) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(b"II*\0");
    t.extend(8u32.to_le_bytes());
    t.extend(2u16.to_le_bytes());
    t.extend(0x0112u16.to_le_bytes());
    t.extend(3u16.to_le_bytes());
    t.extend(1u32.to_le_bytes());
    t.extend(orientation.to_le_bytes());
    t.extend([0, 0]);
    // GPSInfo: the GPS IFD right after this one (8 + 2 + 2 * 12 + 4 = 38).
    t.extend(0x8825u16.to_le_bytes());
    t.extend(4u16.to_le_bytes());
    t.extend(1u32.to_le_bytes());
    t.extend(38u32.to_le_bytes());
    t.extend(0u32.to_le_bytes());
    t.extend(2u16.to_le_bytes());
    // GPSLatitudeRef "N", GPSLatitude as three rationals at offset 38 + 2 + 2 * 12 + 4 = 68.
    t.extend(0x0001u16.to_le_bytes());
    t.extend(2u16.to_le_bytes());
    t.extend(2u32.to_le_bytes());
    t.extend(b"N\0\0\0");
    t.extend(0x0002u16.to_le_bytes());
    t.extend(5u16.to_le_bytes());
    t.extend(3u32.to_le_bytes());
    t.extend(68u32.to_le_bytes());
    t.extend(0u32.to_le_bytes());
    for (n, d) in [(48u32, 1u32), (51, 1), (2400, 100)] {
        t.extend(n.to_le_bytes());
        t.extend(d.to_le_bytes());
    }
    t
}

/// A JPEG taken "with a phone": the EXIF above in it.
fn photo(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let plain = picture(width, height, image::ImageFormat::Jpeg);
    let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(Bytes::from(plain)).unwrap();
    jpeg.set_exif(Some(Bytes::from(exif(orientation))));
    jpeg.encoder().bytes().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_are_measured_from_their_content_and_lose_their_gps_and_personal_tags() {
    let server = start(&[]);
    let owner = register(&server, "owner@example.com").await;

    // A phone photo held sideways: stored upright, 30 x 40, with no EXIF left.
    let sideways = photo(40, 30, 6);
    assert!(contains(&sideways, b"Exif\0\0"));
    let (s, m) = upload(&server, &owner, "IMG_0001.JPG", sideways).await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(
        (&m["kind"], &m["content_type"], &m["width"], &m["height"]),
        (
            &"image".into(),
            &"image/jpeg".into(),
            &30.into(),
            &40.into()
        ),
        "{m}"
    );
    let stripped: Vec<&str> = m["stripped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        stripped.contains(&"exif") && stripped.contains(&"rotated"),
        "{m}"
    );
    let stored = content(&server, &owner, m["media_id"].as_str().unwrap()).await;
    assert!(!contains(&stored, b"Exif\0\0"), "no EXIF, so no GPS");
    let back = image::load_from_memory(&stored).unwrap();
    assert_eq!((back.width(), back.height()), (30, 40));

    // Upright already: the EXIF (and its GPS) cut out, the pixels untouched.
    let upright = photo(40, 30, 1);
    let (s, m) = upload(&server, &owner, "upright.jpg", upright.clone()).await;
    assert_eq!(s, 201, "{m}");
    assert_eq!((&m["width"], &m["height"]), (&40.into(), &30.into()));
    assert_eq!(m["stripped"], serde_json::json!(["exif"]));
    let stored = content(&server, &owner, m["media_id"].as_str().unwrap()).await;
    assert!(!contains(&stored, b"Exif\0\0"));
    assert_eq!(
        stored.len(),
        upright.len() - (exif(1).len() + 6 + 4),
        "only the EXIF segment went"
    );
    assert_eq!(m["bytes"], stored.len());

    // A PNG with its author in a text chunk.
    let png = picture(64, 48, image::ImageFormat::Png);
    let mut with_text = img_parts::png::Png::from_bytes(Bytes::from(png)).unwrap();
    with_text.chunks_mut().insert(
        1,
        img_parts::png::PngChunk::new(*b"tEXt", Bytes::from_static(b"Author\0Ada Lovelace")),
    );
    let (s, m) = upload(
        &server,
        &owner,
        "chart.png",
        with_text.encoder().bytes().to_vec(),
    )
    .await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(
        (&m["width"], &m["height"], &m["color"]),
        (&64.into(), &48.into(), &"rgb8".into())
    );
    assert_eq!(m["stripped"], serde_json::json!(["text"]));
    let stored = content(&server, &owner, m["media_id"].as_str().unwrap()).await;
    assert!(!contains(&stored, b"Ada Lovelace"));

    let webp = picture(50, 50, image::ImageFormat::WebP);
    let (s, m) = upload(&server, &owner, "square.webp", webp).await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(
        (&m["content_type"], &m["width"]),
        (&"image/webp".into(), &50.into())
    );

    let (s, listed) = get(
        &server,
        &format!("/api/v1/accounts/{}/media", owner.account_id),
        &owner.access,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(listed.as_array().unwrap().len(), 4);
    assert_eq!(listed[0]["file_name"], "square.webp", "newest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liars_truncated_files_and_bombs_are_refused_and_nothing_is_stored() {
    let server = start(&[]);
    let owner = register(&server, "owner@example.com").await;

    // A ZIP named like a PNG.
    let mut zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
    zip.extend(vec![0u8; 2_000]);
    let (s, v) = upload(&server, &owner, "photo.png", zip).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (415, Some("unsupported_media_type")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("zip"),
        "{v}"
    );

    let (s, v) = upload(
        &server,
        &owner,
        "notes.jpg",
        b"just some words, not a picture".to_vec(),
    )
    .await;
    assert_eq!(s, 415, "{v}");

    // Half a PNG.
    let png = picture(200, 200, image::ImageFormat::Png);
    let (s, v) = upload(&server, &owner, "cut.png", png[..png.len() / 2].to_vec()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_media")),
        "{v}"
    );

    // A bomb: a few bytes that claim 60,000 x 60,000 pixels (14 GB of RGB).
    let small = picture(1, 1, image::ImageFormat::Png);
    let mut bomb = img_parts::png::Png::from_bytes(Bytes::from(small)).unwrap();
    let header = bomb.chunk_by_type(*b"IHDR").unwrap().contents().to_vec();
    let mut huge = header.clone();
    huge[..4].copy_from_slice(&60_000u32.to_be_bytes());
    huge[4..8].copy_from_slice(&60_000u32.to_be_bytes());
    bomb.remove_chunks_by_type(*b"IHDR");
    bomb.chunks_mut().insert(
        0,
        img_parts::png::PngChunk::new(*b"IHDR", Bytes::from(huge)),
    );
    let (s, v) = upload(&server, &owner, "bomb.png", bomb.encoder().bytes().to_vec()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_media")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("at most"),
        "{v}"
    );

    let (s, v) = upload(&server, &owner, "empty.png", Vec::new()).await;
    assert_eq!(s, 422, "{v}");

    let (_, listed) = get(
        &server,
        &format!("/api/v1/accounts/{}/media", owner.account_id),
        &owner.access,
    )
    .await;
    assert_eq!(listed, serde_json::json!([]), "nothing was stored");
    let (_, usage) = get(
        &server,
        &format!("/api/v1/accounts/{}/media-usage", owner.account_id),
        &owner.access,
    )
    .await;
    assert_eq!(usage["used_bytes"], 0, "nothing was counted");
    let scrape = http()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        scrape.contains("creo_media_uploads_total{outcome=\"unsupported_media_type\"} 2"),
        "{scrape}"
    );

    // A normal upload is still served.
    let (s, v) = upload(
        &server,
        &owner,
        "fine.png",
        picture(10, 10, image::ImageFormat::Png),
    )
    .await;
    assert_eq!(s, 201, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_video_is_measured_by_ffprobe_and_keeps_no_location() {
    let server = start(&[]);
    let owner = register(&server, "owner@example.com").await;
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=360x640:rate=25",
            "-f",
            "lavfi",
        ])
        .args([
            "-i",
            "sine=frequency=440",
            "-t",
            "2",
            "-c:v",
            "mpeg4",
            "-c:a",
            "aac",
        ])
        .args([
            "-metadata",
            "location=+48.8584+002.2945/",
            "-metadata",
            "artist=Ada Lovelace",
        ])
        .arg(&clip)
        .status()
        .expect("Debian's ffmpeg is installed (scripts/test.sh installs it)");
    assert!(made.success());
    let bytes = std::fs::read(&clip).unwrap();
    assert!(contains(&bytes, b"Ada Lovelace"));

    let (s, m) = upload(&server, &owner, "clip.mp4", bytes).await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(
        (&m["kind"], &m["content_type"], &m["width"], &m["height"]),
        (
            &"video".into(),
            &"video/mp4".into(),
            &360.into(),
            &640.into()
        ),
        "{m}"
    );
    let ms = m["duration_ms"].as_u64().unwrap();
    assert!((1_900..=2_200).contains(&ms), "{m}");
    assert_eq!(m["frame_rate"], 25.0);
    assert_eq!(
        (&m["video_codec"], &m["audio_codec"]),
        (&"mpeg4".into(), &"aac".into())
    );

    let stored = content(&server, &owner, m["media_id"].as_str().unwrap()).await;
    assert!(!contains(&stored, b"Ada Lovelace") && !contains(&stored, b"+48.8584"));
    let back = dir.path().join("back.mp4");
    std::fs::write(&back, &stored).unwrap();
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(&back)
        .output()
        .unwrap();
    let probe: Value = serde_json::from_slice(&probe.stdout).unwrap();
    assert!(probe["format"]["tags"]["location"].is_null(), "{probe}");
    assert_eq!(
        probe["streams"].as_array().unwrap().len(),
        2,
        "video and audio, nothing else"
    );

    // Its thumbnail: a still from the video, made by the renditions job, upright like it.
    let id = m["media_id"].as_str().unwrap();
    let path = format!("/api/v1/accounts/{}/media/{id}", owner.account_id);
    let mut listed = Value::Null;
    for _ in 0..150 {
        listed = get(&server, &path, &owner.access).await.1;
        if !listed["renditions"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let thumb = listed["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "thumb")
        .unwrap_or_else(|| panic!("a thumbnail: {listed}"))
        .clone();
    assert_eq!(
        (&thumb["content_type"], &thumb["width"], &thumb["height"]),
        (&"image/jpeg".into(), &180.into(), &320.into()),
        "{thumb}"
    );
    let r = http()
        .get(server.url(&format!("{path}/content?rendition=thumb")))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let still = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!((still.width(), still.height()), (180, 320));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_at_the_edge_of_the_quota_never_exceed_it() {
    let image = picture(120, 80, image::ImageFormat::Png);
    // Room for three and a half.
    let quota = (image.len() * 7 / 2).to_string();
    let server = start(&[("CREO_TIERS__FREE__MEDIA_STORAGE_BYTES", quota.as_str())]);
    let owner = register(&server, "owner@example.com").await;
    let tries = (0..8).map(|i| {
        let (server, owner, image) = (&server, &owner, image.clone());
        async move { upload(server, owner, &format!("copy-{i}.png"), image).await }
    });
    let answers = futures_util::future::join_all(tries).await;
    let stored: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, v)| v)
        .collect();
    let refused = answers
        .iter()
        .filter(|(s, v)| *s == 402 && v["error"]["code"] == "storage_quota_exceeded")
        .count();
    assert_eq!(stored.len(), 3, "{answers:?}");
    assert_eq!(refused, 5, "{answers:?}");
    let (_, usage) = get(
        &server,
        &format!("/api/v1/accounts/{}/media-usage", owner.account_id),
        &owner.access,
    )
    .await;
    let used = usage["used_bytes"].as_u64().unwrap();
    assert_eq!(
        used,
        stored
            .iter()
            .map(|m| m["bytes"].as_u64().unwrap())
            .sum::<u64>()
    );
    assert!(used <= quota.parse::<u64>().unwrap(), "{usage}");
    assert_eq!(usage["quota_bytes"], quota.parse::<u64>().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_cannot_upload_and_ranges_and_etags_are_served() {
    let server = start(&[]);
    let owner = register(&server, "owner@example.com").await;
    let viewer = rest::member(&server, &owner, "viewer@example.com", "viewer").await;
    let editor = rest::member(&server, &owner, "editor@example.com", "editor").await;
    let image = picture(100, 100, image::ImageFormat::Png);
    let (s, v) = upload(&server, &viewer, "mine.png", image.clone()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );

    let (s, m) = upload(&server, &editor, "team photo.png", image).await;
    assert_eq!(s, 201, "{m}");
    let id = m["media_id"].as_str().unwrap();
    let size = m["bytes"].as_u64().unwrap();
    let url = server.url(&format!(
        "/api/v1/accounts/{}/media/{id}/content",
        owner.account_id
    ));

    // The viewer may look at it, a piece at a time.
    let r = http()
        .get(&url)
        .bearer_auth(&viewer.access)
        .header("Range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 0-9/{size}").as_str()
    );
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", m["sha256"].as_str().unwrap()));
    assert_eq!(&r.bytes().await.unwrap()[..4], b"\x89PNG");
    let r = http()
        .get(&url)
        .bearer_auth(&viewer.access)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = http()
        .get(&url)
        .bearer_auth(&viewer.access)
        .header("Range", format!("bytes={}-", size + 10))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // Alt text and tags make it findable.
    let r = http()
        .patch(server.url(&format!("/api/v1/accounts/{}/media/{id}", owner.account_id)))
        .bearer_auth(&editor.access)
        .json(&serde_json::json!({ "alt_text": "The team on the studio roof", "tags": ["Team", "summer"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let search = |q: &'static str| {
        let (server, owner) = (&server, &owner);
        async move {
            get(
                server,
                &format!("/api/v1/accounts/{}/media?q={q}", owner.account_id),
                &owner.access,
            )
            .await
            .1
            .as_array()
            .unwrap()
            .len()
        }
    };
    assert_eq!(search("roof").await, 1);
    assert_eq!(search("team%20summer").await, 1);
    assert_eq!(search("winter").await, 0);

    // Another workspace sees none of it.
    let other = register(&server, "other@example.com").await;
    let r = http()
        .get(&url)
        .bearer_auth(&other.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

/// A document `id` whose post names `media_id` from the library (with numbers beside it that
/// are not believed), submitted and approved.
async fn approved_naming(server: &Server, owner: &User, id: &str, media_id: &str) {
    let named = [
        ("media_id".to_string(), yrs::Any::from(media_id)),
        ("width".to_string(), yrs::Any::from(1080.0)),
        ("height".to_string(), yrs::Any::from(1920.0)),
    ]
    .into();
    crate::channels::approved_with_entries(server, owner, id, "From the library", vec![named])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_names_a_library_medium_by_id_and_platforms_fetch_it_from_a_signed_link() {
    let server = start(&[]);
    let owner = register(&server, "owner@example.com").await;
    let square = picture(300, 300, image::ImageFormat::Png);
    let (s, m) = upload(&server, &owner, "square.png", square).await;
    assert_eq!(s, 201, "{m}");
    let media_id = m["media_id"].as_str().unwrap().to_string();
    let stored = content(&server, &owner, &media_id).await;
    approved_naming(&server, &owner, "story", &media_id).await;

    // A 1:1 image is no story, whatever the document says its size is.
    let (s, v) = rest::post(
        &server,
        "/api/v1/documents/story/workflow",
        &owner.access,
        serde_json::json!({ "action": "publish_now", "targets": [{ "platform": "instagram", "format": "story" }] }),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("platform_checks")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("300x300"),
        "the stored size: {v}"
    );

    // Scheduled to the team's site, it cannot be deleted under the post.
    let site = crate::receiver::receiver(|_| (200, std::time::Duration::ZERO)).await;
    let (_, hook) = rest::post(
        &server,
        &format!("/api/v1/accounts/{}/channels", owner.account_id),
        &owner.access,
        serde_json::json!({ "name": "Site", "url": site.url }),
    )
    .await;
    let channel = hook["channel_id"].as_str().unwrap().to_string();
    let at = (chrono::Utc::now() + chrono::Duration::days(2))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let (s, v) = rest::post(
        &server,
        "/api/v1/documents/story/workflow",
        &owner.access,
        serde_json::json!({ "action": "schedule", "at": at, "timezone": "UTC", "targets": [{ "channel_id": channel }] }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let media_url = server.url(&format!(
        "/api/v1/accounts/{}/media/{media_id}",
        owner.account_id
    ));
    let r = http()
        .delete(&media_url)
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "media_in_use");
    assert_eq!(v["error"]["documents"], serde_json::json!(["story"]), "{v}");

    // Published now instead: the site gets a signed link, which works without an account.
    for action in [
        serde_json::json!({ "action": "unschedule" }),
        serde_json::json!({ "action": "publish_now", "targets": [{ "channel_id": channel }] }),
    ] {
        let (s, v) = rest::post(
            &server,
            "/api/v1/documents/story/workflow",
            &owner.access,
            action,
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
    let mut delivered = None;
    for _ in 0..200 {
        delivered = site.got.lock().unwrap().first().cloned();
        if delivered.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let post = delivered.expect("the site got the post").json()["post"].clone();
    let medium = &post["media"][0];
    assert_eq!(
        (&medium["width"], &medium["height"]),
        (&300.0.into(), &300.0.into()),
        "{post}"
    );
    let link = medium["url"].as_str().unwrap().to_string();
    assert!(
        link.contains(&format!("/media/{}/{media_id}?expires=", owner.account_id)),
        "{link}"
    );
    // A free workspace's exports carry the mark: what the link serves is the watermarked copy
    // (made by the renditions job; until then the link says to try again).
    let mut fetched = http().get(&link).send().await.unwrap();
    for _ in 0..100 {
        if fetched.status() != 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        fetched = http().get(&link).send().await.unwrap();
    }
    assert_eq!(fetched.status(), 200);
    let exported = fetched.bytes().await.unwrap().to_vec();
    assert_ne!(exported, stored, "not the original");
    let marked = image::load_from_memory(&exported).unwrap().to_rgb8();
    let original = image::load_from_memory(&stored).unwrap().to_rgb8();
    assert_eq!(marked.dimensions(), (300, 300));
    let (corner, centre) = ((290, 290), (150, 150));
    assert_ne!(
        marked.get_pixel(corner.0, corner.1),
        original.get_pixel(corner.0, corner.1),
        "the mark"
    );
    let same = |a: &image::Rgb<u8>, b: &image::Rgb<u8>| {
        a.0.iter()
            .zip(b.0)
            .all(|(x, y)| (*x as i32 - y as i32).abs() < 40)
    };
    assert!(
        same(
            marked.get_pixel(centre.0, centre.1),
            original.get_pixel(centre.0, centre.1)
        ),
        "the picture itself"
    );
    let forged = link.replace("signature=", "signature=00");
    assert_eq!(http().get(&forged).send().await.unwrap().status(), 404);
    let stale = {
        let (base, _) = link.split_once("?expires=").unwrap();
        format!(
            "{base}?expires=1&signature={}",
            link.rsplit_once("signature=").unwrap().1
        )
    };
    assert_eq!(http().get(&stale).send().await.unwrap().status(), 404);

    // Out, it may go: its bytes stop counting.
    let r = http()
        .delete(&media_url)
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(http().get(&link).send().await.unwrap().status(), 404);
    let (_, usage) = get(
        &server,
        &format!("/api/v1/accounts/{}/media-usage", owner.account_id),
        &owner.access,
    )
    .await;
    assert_eq!(usage["used_bytes"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renditions_are_made_by_a_job_and_served_by_name() {
    let server = start(&[]);
    let owner = register(&server, "owner@example.com").await;
    let (s, m) = upload(
        &server,
        &owner,
        "wide.png",
        picture(1600, 900, image::ImageFormat::Png),
    )
    .await;
    assert_eq!(s, 201, "{m}");
    let id = m["media_id"].as_str().unwrap();
    let path = format!("/api/v1/accounts/{}/media/{id}", owner.account_id);
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = get(&server, &path, &owner.access).await.1;
        if !listed["renditions"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let made: Vec<(String, u64, u64)> = listed["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["width"].as_u64().unwrap(),
                r["height"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        made,
        [
            ("thumb".into(), 320, 180),
            ("large".into(), 1080, 608),
            ("export".into(), 1600, 900)
        ],
        "never larger than the original; the export because a free workspace watermarks: {listed}"
    );
    let thumb = http()
        .get(server.url(&format!("{path}/content?rendition=thumb")))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status(), 200);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    let etag = thumb.headers()["etag"].to_str().unwrap().to_string();
    let bytes = thumb.bytes().await.unwrap();
    assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 320);
    assert_ne!(
        etag,
        format!("\"{}\"", m["sha256"].as_str().unwrap()),
        "its own ETag"
    );
    let (s, _) = get(
        &server,
        &format!("{path}/content?rendition=huge"),
        &owner.access,
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_keeps_its_media_in_an_s3_compatible_store() {
    let s3 = crate::s3::S3::start("team-media").await;
    let mut env: Vec<(String, String)> = rest::billing_env()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.extend(s3.env("team-media"));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Server::start_with(&env);
    let owner = register(&server, "owner@example.com").await;
    let image = picture(1200, 800, image::ImageFormat::Png);
    let (s, m) = upload(&server, &owner, "office.png", image).await;
    assert_eq!(s, 201, "{m}");
    let id = m["media_id"].as_str().unwrap();
    let stored = content(&server, &owner, id).await;
    assert_eq!(stored.len() as u64, m["bytes"].as_u64().unwrap());

    // In the bucket, under the prefix, with its renditions beside it.
    let mut listing = String::new();
    for _ in 0..100 {
        listing = reqwest::get(format!("{}/team-media?list-type=2", s3.endpoint))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if listing.contains(&format!("{id}.thumb")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        listing.contains(&format!("<Key>media/{}/{id}</Key>", owner.account_id)),
        "{listing}"
    );
    assert!(listing.contains(&format!("{id}.thumb")), "{listing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deletes_at_once_give_a_mediums_bytes_back_once() {
    let server = start(&[]);
    let owner = register(&server, "owner@example.com").await;
    let (_, kept) = upload(
        &server,
        &owner,
        "kept.png",
        picture(64, 64, image::ImageFormat::Png),
    )
    .await;
    let (_, gone) = upload(
        &server,
        &owner,
        "gone.png",
        picture(80, 80, image::ImageFormat::Png),
    )
    .await;
    let url = server.url(&format!(
        "/api/v1/accounts/{}/media/{}",
        owner.account_id,
        gone["media_id"].as_str().unwrap()
    ));
    let delete = || http().delete(&url).bearer_auth(&owner.access).send();
    let (a, b) = tokio::join!(delete(), delete());
    let statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    assert!(statuses.contains(&204), "{statuses:?}");
    let (_, usage) = get(
        &server,
        &format!("/api/v1/accounts/{}/media-usage", owner.account_id),
        &owner.access,
    )
    .await;
    assert_eq!(
        usage["used_bytes"], kept["bytes"],
        "the kept medium still counts, whole"
    );
}
