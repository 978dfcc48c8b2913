//! The brand kit against the real server: colours, hashtags and a logo from the media library
//! kept in one form; two managers' edits never silently undo each other; viewers read it and
//! change nothing; a real font file (Debian's DejaVu) checked and served back, and files that
//! are no font, a web font or a cut-off one refused with nothing stored. The voice examples
//! reaching the brand-voice score and the hashtags reaching generation are in `inference.rs`,
//! where the model runs.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{http, Server};
use crate::media::{picture, start, upload};
use crate::rest::{call, get, member, register, User};

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

fn kit_path(user: &User) -> String {
    format!("/api/v1/accounts/{}/brand-kit", user.account_id)
}

/// PUT of `body` to the kit, with `If-Match` when `revision` is given: status, body.
async fn change(server: &Server, user: &User, revision: Option<u64>, body: Value) -> (u16, Value) {
    let mut r = http()
        .put(server.url(&kit_path(user)))
        .bearer_auth(&user.access)
        .json(&body);
    if let Some(rev) = revision {
        r = r.header("If-Match", format!("\"{rev}\""));
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn upload_font(server: &Server, user: &User, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let r = http()
        .post(server.url(&format!("{}/fonts?name={name}", kit_path(user))))
        .bearer_auth(&user.access)
        .header("Content-Type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn used(server: &Server, user: &User) -> u64 {
    let path = format!("/api/v1/accounts/{}/media-usage", user.account_id);
    let (s, v) = get(server, &path, &user.access).await;
    assert_eq!(s, 200, "{v}");
    v["used_bytes"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brand_kit_keeps_its_colours_and_logo_and_two_managers_never_undo_each_other() {
    let server = start(&[]);
    let owner = register(&server, "owner@example.com").await;
    let admin = member(&server, &owner, "admin@example.com", "admin").await;
    let viewer = member(&server, &owner, "viewer@example.com", "viewer").await;

    let (s, empty) = get(&server, &kit_path(&owner), &owner.access).await;
    assert_eq!(s, 200, "{empty}");
    assert_eq!(empty["revision"], 0);
    assert_eq!(empty["colors"], json!([]));

    let (s, logo) = upload(
        &server,
        &owner,
        "logo.png",
        picture(64, 64, image::ImageFormat::Png),
    )
    .await;
    assert_eq!(s, 201, "{logo}");
    let logo_id = logo["media_id"].as_str().unwrap();
    let (s, kit) = change(
        &server,
        &owner,
        Some(0),
        json!({
            "colors": [{ "name": "Primary", "hex": "#1A2B3C" }, { "name": "Sun", "hex": "#fa0" }],
            "hashtags": ["creo", "#Creo", "#spring_launch"],
            "voice": "Warm, brief, never shouty.",
            "logos": [{ "media_id": logo_id, "name": "Primary" }],
        }),
    )
    .await;
    assert_eq!(s, 200, "{kit}");
    assert_eq!(kit["revision"], 1);
    assert_eq!(
        kit["colors"],
        json!([{ "name": "Primary", "hex": "#1a2b3c" }, { "name": "Sun", "hex": "#ffaa00" }])
    );
    assert_eq!(kit["hashtags"], json!(["#creo", "#spring_launch"]));
    assert!(kit["updated_by"].as_str().unwrap().contains(&owner.user_id));

    // Both managers read revision 1; the admin's change lands, the owner's stale one is refused
    // and changes nothing.
    let (s, _) = change(&server, &admin, Some(1), json!({ "voice": "Playful." })).await;
    assert_eq!(s, 200);
    let (s, stale) = change(&server, &owner, Some(1), json!({ "colors": [] })).await;
    assert_eq!(
        (s, &stale["error"]["code"]),
        (412, &json!("brand_kit_changed")),
        "{stale}"
    );
    let (_, now) = get(&server, &kit_path(&viewer), &viewer.access).await;
    assert_eq!(
        (now["revision"].as_u64(), &now["voice"]),
        (Some(2), &json!("Playful."))
    );
    assert_eq!(
        now["colors"].as_array().unwrap().len(),
        2,
        "the stale change took nothing"
    );
    // Without If-Match a change applies to whatever is current.
    let (s, _) = change(&server, &owner, None, json!({ "hashtags": ["#creo"] })).await;
    assert_eq!(s, 200);

    // Refusals, each with nothing changed.
    let (s, v) = change(&server, &viewer, None, json!({ "voice": "Mine now" })).await;
    assert_eq!(s, 403, "{v}");
    for bad in [
        json!({ "colors": [{ "name": "Red", "hex": "red" }] }),
        json!({ "hashtags": ["two words"] }),
        json!({ "logos": [{ "media_id": "med_nothere", "name": "Ghost" }] }),
        json!({ "colors": (0..25).map(|i| json!({ "name": format!("c{i}"), "hex": "#000" })).collect::<Vec<_>>() }),
    ] {
        let (s, v) = change(&server, &owner, None, bad.clone()).await;
        assert_eq!(
            (s, &v["error"]["code"]),
            (400, &json!("invalid_brand_kit")),
            "{bad} → {v}"
        );
    }
    let (_, after) = get(&server, &kit_path(&owner), &owner.access).await;
    assert_eq!(after["revision"], 3);
    assert_eq!(after["voice"], "Playful.");

    // The logo cannot leave the library while the kit shows it.
    let media = server.url(&format!(
        "/api/v1/accounts/{}/media/{logo_id}",
        owner.account_id
    ));
    let r = http()
        .delete(&media)
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "media_in_use", "{v}");
    let (s, _) = change(&server, &owner, None, json!({ "logos": [] })).await;
    assert_eq!(s, 200);
    let r = http()
        .delete(&media)
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_font_is_read_from_its_own_tables_and_what_is_no_font_is_refused() {
    let server = start(&[]);
    let owner = register(&server, "owner@example.com").await;
    let viewer = member(&server, &owner, "viewer@example.com", "viewer").await;
    let dejavu =
        std::fs::read(FONT).unwrap_or_else(|_| panic!("{FONT}: apt-get install fonts-dejavu-core"));

    let before = used(&server, &owner).await;
    // Not fonts, each refused with nothing stored.
    let png = picture(8, 8, image::ImageFormat::Png);
    let mut woff = b"wOF2".to_vec();
    woff.extend_from_slice(&dejavu[4..2_000]);
    for (name, bytes, status, code) in [
        ("brand.ttf", png, 415, "unsupported_media_type"),
        ("brand.woff2", woff, 415, "unsupported_media_type"),
        ("cut.ttf", dejavu[..4_000].to_vec(), 422, "invalid_font"),
    ] {
        let (s, v) = upload_font(&server, &owner, name, bytes).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{name}: {v}"
        );
    }
    let (s, v) = upload_font(&server, &viewer, "DejaVuSans-Bold.ttf", dejavu.clone()).await;
    assert_eq!(s, 403, "viewers upload nothing: {v}");
    assert_eq!(used(&server, &owner).await, before);

    // The editor is still served: the real font goes in.
    let (s, font) = upload_font(&server, &owner, "DejaVuSans-Bold.ttf", dejavu.clone()).await;
    assert_eq!(s, 201, "{font}");
    assert_eq!(
        (
            &font["family"],
            &font["style"],
            &font["weight"],
            &font["content_type"]
        ),
        (
            &json!("DejaVu Sans"),
            &json!("Bold"),
            &json!(700),
            &json!("font/ttf")
        ),
        "{font}"
    );
    assert_eq!(font["bytes"].as_u64(), Some(dejavu.len() as u64));
    assert_eq!(
        used(&server, &owner).await,
        before + dejavu.len() as u64,
        "counted in the quota"
    );
    let font_id = font["font_id"].as_str().unwrap();

    let (_, kit) = get(&server, &kit_path(&viewer), &viewer.access).await;
    assert_eq!(kit["fonts"][0]["font_id"], font_id, "{kit}");
    let url = server.url(&format!("{}/fonts/{font_id}", kit_path(&owner)));
    let r = http()
        .get(&url)
        .bearer_auth(&viewer.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "font/ttf");
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        &dejavu[..],
        "the same bytes back"
    );

    let (s, _, _) = call(
        &server,
        Method::DELETE,
        &format!("{}/fonts/{font_id}", kit_path(&owner)),
        Some(&viewer.access),
        None,
    )
    .await;
    assert_eq!(s, 403);
    let (s, _, _) = call(
        &server,
        Method::DELETE,
        &format!("{}/fonts/{font_id}", kit_path(&owner)),
        Some(&owner.access),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let r = http()
        .get(&url)
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(used(&server, &owner).await, before, "its bytes given back");
}
