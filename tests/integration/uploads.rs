//! Resumable uploads (tus 1.0) against the real server: an upload cut off goes on from where
//! the server says it stands, also after a restart, and ends as the same medium a one-request
//! upload makes; each refusal (protocol, role, limits, liars, offsets, a second writer) leaves
//! nothing stored or counted, and an editor is served normally after them; untouched uploads
//! expire with their bytes.

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use reqwest::{RequestBuilder, Response};
use serde_json::Value;

use crate::common::{http, Server};
use crate::media::{self, picture};
use crate::rest::{self, get, register, User};

/// A picture no compressor shrinks: about 3 bytes a pixel as a PNG.
pub fn noisy_png(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let img = image::RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [a, b, c, _] = state.to_le_bytes();
        image::Rgb([a, b, c])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn uploads(server: &Server, user: &User) -> String {
    server.url(&format!("/api/v1/accounts/{}/uploads", user.account_id))
}

fn tus(req: RequestBuilder, user: &User) -> RequestBuilder {
    req.bearer_auth(&user.access)
        .header("Tus-Resumable", "1.0.0")
}

/// Opens an upload of `length` bytes named `name`: its URL, or the refusal.
async fn create(server: &Server, user: &User, length: u64, name: &str) -> Result<String, Response> {
    let name = base64::engine::general_purpose::STANDARD.encode(name);
    let r = tus(http().post(uploads(server, user)), user)
        .header("Upload-Length", length.to_string())
        .header(
            "Upload-Metadata",
            format!("filename {name},filetype aW1hZ2UvcG5n"),
        )
        .send()
        .await
        .unwrap();
    if r.status() != 201 {
        return Err(r);
    }
    assert_eq!(r.headers()["tus-resumable"], "1.0.0");
    assert!(r.headers().contains_key("upload-expires"));
    Ok(server.url(r.headers()["location"].to_str().unwrap()))
}

async fn offset(url: &str, user: &User) -> (u16, Option<u64>) {
    let r = tus(http().head(url), user).send().await.unwrap();
    let offset = r
        .headers()
        .get("upload-offset")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (r.status().as_u16(), offset)
}

fn patch(url: &str, user: &User, at: u64) -> RequestBuilder {
    tus(http().patch(url), user)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", at.to_string())
}

/// Sends `bytes` at `at`, waiting while the server still finishes an earlier request (423).
async fn append(url: &str, user: &User, at: u64, bytes: &[u8]) -> Response {
    for _ in 0..100 {
        let r = patch(url, user, at)
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        if r.status() != 423 {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the upload stayed locked");
}

/// A body that gives `first` and then breaks, as a connection lost mid-request does.
fn cut_after(first: Vec<u8>) -> reqwest::Body {
    let pieces: Vec<Result<Bytes, std::io::Error>> = first
        .chunks(64 << 10)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .chain([Err(std::io::Error::other("the train went into a tunnel"))])
        .collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(pieces))
}

/// The offset once the server has stopped taking the cut request's bytes.
async fn settled_offset(url: &str, user: &User) -> u64 {
    let mut last = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (status, now) = offset(url, user).await;
        assert_eq!(status, 200);
        if now.is_some() && now == last {
            return now.unwrap();
        }
        last = now;
    }
    panic!("the offset kept moving");
}

async fn usage(server: &Server, user: &User) -> u64 {
    get(
        server,
        &format!("/api/v1/accounts/{}/media-usage", user.account_id),
        &user.access,
    )
    .await
    .1["used_bytes"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_off_goes_on_from_where_the_server_stands_even_after_a_restart() {
    let mut server = media::start(&[]);
    let owner = register(&server, "owner@example.com").await;
    let image = noisy_png(900, 700);
    let length = image.len() as u64;
    let url = create(&server, &owner, length, "roof terrace.png")
        .await
        .unwrap();
    assert_eq!(offset(&url, &owner).await, (200, Some(0)));

    // The first megabyte, and then the connection drops.
    let first = image[..1 << 20].to_vec();
    let cut = patch(&url, &owner, 0).body(cut_after(first)).send().await;
    assert!(cut.is_err(), "a body that breaks gets no answer: {cut:?}");
    let kept = settled_offset(&url, &owner).await;
    assert!(kept > 0 && kept <= 1 << 20, "what arrived is kept: {kept}");

    // The process goes away and comes back: the upload is where it was.
    server.kill();
    server.restart();
    let url = server.url(&url[url.find("/api/").unwrap()..]);
    assert_eq!(offset(&url, &owner).await, (200, Some(kept)));

    // A client that thinks it is elsewhere is told where the upload stands.
    let r = append(&url, &owner, 0, &image[..100]).await;
    assert_eq!(r.status(), 409);
    assert_eq!(r.headers()["upload-offset"], kept.to_string().as_str());
    assert_eq!(r.headers()["tus-resumable"], "1.0.0");
    assert_eq!(
        server
            .metric("creo_bad_requests_total{reason=\"upload_offset_mismatch\"}")
            .await,
        1.0
    );

    // The rest, in two requests; the last answers with the medium it made.
    let middle = kept + (length - kept) / 2;
    let r = append(&url, &owner, kept, &image[kept as usize..middle as usize]).await;
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["upload-offset"], middle.to_string().as_str());
    assert!(!r.headers().contains_key("creo-media-id"));
    let r = append(&url, &owner, middle, &image[middle as usize..]).await;
    assert_eq!(r.status(), 204, "{:?}", r.text().await);
    assert_eq!(r.headers()["upload-offset"], length.to_string().as_str());
    let media_id = r.headers()["creo-media-id"].to_str().unwrap().to_string();

    let (_, m) = get(
        &server,
        &format!("/api/v1/accounts/{}/media/{media_id}", owner.account_id),
        &owner.access,
    )
    .await;
    assert_eq!(
        (
            &m["width"],
            &m["height"],
            &m["file_name"],
            &m["content_type"]
        ),
        (
            &900.into(),
            &700.into(),
            &"roof terrace.png".into(),
            &"image/png".into()
        ),
        "{m}"
    );
    let stored = http()
        .get(server.url(&format!(
            "/api/v1/accounts/{}/media/{media_id}/content",
            owner.account_id
        )))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        image::load_from_memory(&stored).unwrap().to_rgb8(),
        image::load_from_memory(&image).unwrap().to_rgb8(),
        "every pixel arrived, in order"
    );
    assert_eq!(usage(&server, &owner).await, m["bytes"].as_u64().unwrap());

    // Asked again, the upload says it is done and names its medium.
    let (status, done) = get(&server, &url[url.find("/api/").unwrap()..], &owner.access).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&done["state"], &done["media_id"]),
        (&"done".into(), &media_id.clone().into())
    );
    let r = tus(http().head(&url), &owner).send().await.unwrap();
    assert_eq!(r.headers()["upload-offset"], length.to_string().as_str());
    assert_eq!(r.headers()["creo-media-id"], media_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumable_upload_refusals_leave_nothing_behind_and_editors_are_served_after() {
    let server = media::start(&[("CREO_TIERS__FREE__MEDIA_STORAGE_BYTES", "100000000")]);
    let owner = register(&server, "owner@example.com").await;
    let viewer = rest::member(&server, &owner, "viewer@example.com", "viewer").await;
    let editor = rest::member(&server, &owner, "editor@example.com", "editor").await;

    // Not tus 1.0: told which version to speak.
    let r = http()
        .post(uploads(&server, &owner))
        .bearer_auth(&owner.access)
        .header("Upload-Length", "100")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    assert_eq!(r.headers()["tus-version"], "1.0.0");
    let r = tus(
        http().request(reqwest::Method::OPTIONS, uploads(&server, &owner)),
        &owner,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["tus-extension"],
        "creation,termination,expiration"
    );

    // A viewer may not upload; nobody may upload more than the tier takes, or its quota holds
    // with what is already open.
    assert_eq!(
        create(&server, &viewer, 100, "a.png")
            .await
            .unwrap_err()
            .status(),
        403
    );
    let r = create(&server, &owner, 101 << 20, "huge.mp4")
        .await
        .unwrap_err();
    assert_eq!(r.status(), 413);
    let big = create(&server, &owner, 60_000_000, "big.mp4")
        .await
        .unwrap();
    let r = create(&server, &owner, 60_000_000, "bigger.mp4")
        .await
        .unwrap_err();
    assert_eq!(r.status(), 402);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "storage_quota_exceeded"
    );
    let r = tus(http().delete(&big), &owner).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(offset(&big, &owner).await.0, 404);

    // Ten open at once, and no more.
    let mut open = Vec::new();
    for i in 0..10 {
        open.push(
            create(&server, &owner, 1_000, &format!("{i}.png"))
                .await
                .unwrap(),
        );
    }
    let r = create(&server, &owner, 1_000, "eleventh.png")
        .await
        .unwrap_err();
    assert_eq!(r.status(), 429);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "too_many_uploads"
    );
    assert_eq!(server.metric("creo_media_upload_sessions").await, 10.0);
    for url in &open[1..] {
        assert_eq!(
            tus(http().delete(url), &owner)
                .send()
                .await
                .unwrap()
                .status(),
            204
        );
    }
    let url = &open[0];

    // Another member cannot see or add to it; bytes that are not offset+octet-stream, or go past
    // the length, are refused and the upload stays where it was.
    assert_eq!(offset(url, &editor).await.0, 404);
    assert_eq!(append(url, &editor, 0, b"....").await.status(), 404);
    let r = tus(http().patch(url), &owner)
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/octet-stream")
        .body("....")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let image = noisy_png(40, 40);
    let too_much = [image.clone(), vec![0; 1_000]].concat();
    assert_eq!(append(url, &owner, 0, &too_much).await.status(), 413);
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(
        too_much
            .chunks(600)
            .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    ));
    let r = patch(url, &owner, 0).body(streamed).send().await.unwrap();
    assert_eq!(
        r.status(),
        413,
        "a length undeclared is counted as it comes"
    );
    assert_eq!(offset(url, &owner).await, (200, Some(0)));
    let r = tus(http().patch(url), &owner)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "-1")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Two requests at once: the second is told to wait; a cancel too.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let slow = tokio::spawn({
        let (url, owner_access) = (url.clone(), owner.access.clone());
        async move {
            http()
                .patch(&url)
                .bearer_auth(owner_access)
                .header("Tus-Resumable", "1.0.0")
                .header("Content-Type", "application/offset+octet-stream")
                .header("Upload-Offset", "0")
                .body(reqwest::Body::wrap_stream(
                    tokio_stream::wrappers::ReceiverStream::new(rx),
                ))
                .send()
                .await
                .unwrap()
        }
    });
    tx.send(Ok(Bytes::copy_from_slice(&image[..100])))
        .await
        .unwrap();
    while offset(url, &owner).await.1 != Some(100) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = patch(url, &owner, 100)
        .body(image[100..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 423);
    assert_eq!(
        tus(http().delete(url), &owner)
            .send()
            .await
            .unwrap()
            .status(),
        423
    );
    drop(tx);
    assert_eq!(slow.await.unwrap().status(), 204);
    assert_eq!(offset(url, &owner).await, (200, Some(100)));
    assert_eq!(
        tus(http().delete(url), &owner)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );

    // A ZIP named like a picture is refused by its first bytes, and its upload is gone.
    let zip = [b"PK\x03\x04".as_slice(), &[0u8; 996]].concat();
    let liar = create(&server, &owner, 100_000, "photo.png").await.unwrap();
    let r = append(&liar, &owner, 0, &zip).await;
    assert_eq!(r.status(), 415);
    assert!(r.text().await.unwrap().contains("zip"));
    assert_eq!(offset(&liar, &owner).await.0, 404);

    // An image longer than creo decodes is refused as soon as its type shows.
    let long = create(&server, &owner, 60_000_000, "poster.png")
        .await
        .unwrap();
    assert_eq!(
        append(&long, &owner, 0, &image[..image.len().min(600)])
            .await
            .status(),
        413
    );
    assert_eq!(offset(&long, &owner).await.0, 404);

    // A truncated image is refused when it is complete: nothing stored, nothing counted.
    let truncated = &noisy_png(64, 64)[..5_000];
    let cut = create(&server, &owner, truncated.len() as u64, "cut.png")
        .await
        .unwrap();
    let r = append(&cut, &owner, 0, truncated).await;
    assert_eq!(r.status(), 422);
    assert_eq!(offset(&cut, &owner).await.0, 404);
    assert_eq!(usage(&server, &owner).await, 0);
    assert_eq!(server.metric("creo_media_upload_sessions").await, 0.0);
    assert!(
        server
            .metric("creo_media_uploads_total{outcome=\"unsupported_media_type\"}")
            .await
            >= 1.0
    );
    assert!(
        !server
            .data
            .join("media-uploads")
            .read_dir()
            .unwrap()
            .any(|e| { e.unwrap().path().extension().is_some_and(|x| x == "part") }),
        "no bytes are left on disk"
    );

    // And an editor uploads as before, in one request or resumably.
    let (status, _) = media::upload(&server, &editor, "ok.png", image.clone()).await;
    assert_eq!(status, 201);
    let ok = create(&server, &editor, image.len() as u64, "ok.png")
        .await
        .unwrap();
    let r = append(&ok, &editor, 0, &image).await;
    assert_eq!(r.status(), 204);
    assert!(r.headers().contains_key("creo-media-id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_left_untouched_expires_with_its_bytes() {
    let server = media::start(&[
        ("CREO_UPLOAD_EXPIRY_SECS", "1"),
        ("CREO_TIERS__FREE__MEDIA_STORAGE_BYTES", "10000"),
    ]);
    let owner = register(&server, "owner@example.com").await;
    let url = create(&server, &owner, 10_000, "later.png").await.unwrap();
    let image = picture(20, 20, image::ImageFormat::Png);
    assert_eq!(append(&url, &owner, 0, &image[..100]).await.status(), 204);
    // While it is open, the quota it would take is taken.
    assert_eq!(
        create(&server, &owner, 10_000, "other.png")
            .await
            .unwrap_err()
            .status(),
        402
    );
    let mut gone = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if offset(&url, &owner).await.0 == 404 {
            gone = true;
            break;
        }
    }
    assert!(gone, "the upload expired");
    // The sweep removes its files, and what it held is free again.
    let mut swept = false;
    for _ in 0..50 {
        if server
            .metric("creo_media_upload_sessions_expired_total")
            .await
            >= 1.0
        {
            swept = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(swept);
    assert_eq!(
        server
            .data
            .join("media-uploads")
            .read_dir()
            .unwrap()
            .count(),
        0
    );
    create(&server, &owner, 10_000, "other.png").await.unwrap();
}

/// The official `tus-js-client` (pinned in tests/interop): an upload stopped at 40% resumes
/// from the server's offset and ends as the medium; a liar and a viewer are refused with the
/// statuses it reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_tus_client_resumes_a_stopped_upload() {
    let server = media::start(&[]);
    let owner = register(&server, "owner@example.com").await;
    let viewer = rest::member(&server, &owner, "viewer@example.com", "viewer").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("roof.png");
    std::fs::write(&file, noisy_png(1200, 900)).unwrap();
    let env = [
        ("CREO_HTTP", server.base.clone()),
        ("ACCOUNT", owner.account_id.clone()),
        ("TOKEN", owner.access.clone()),
        ("VIEWER_TOKEN", viewer.access.clone()),
        ("FILE", file.display().to_string()),
        ("WIDTH", "1200".into()),
        ("HEIGHT", "900".into()),
    ];
    let out = crate::interop::run_node(
        &server,
        "tus.mjs",
        env.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
    .await;
    assert!(out.contains("tus: all checks passed"));
    assert_eq!(
        get(
            &server,
            &format!("/api/v1/accounts/{}/media", owner.account_id),
            &owner.access
        )
        .await
        .1
        .as_array()
        .unwrap()
        .len(),
        1,
        "one medium, from the resumed upload; nothing from the liar"
    );
}
