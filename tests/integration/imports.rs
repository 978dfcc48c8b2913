//! Bulk scheduling from CSV over the real server: a file with bad rows is refused with every
//! problem named by row and nothing made; a good one becomes scheduled posts on the channels it
//! names, at its local times; where more approvals are required the posts wait in review.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{http, Server};
use crate::receiver::receiver;
use crate::rest::{self, get, post, register, User};

async fn import(server: &Server, who: &User, csv: &str) -> (u16, Value) {
    let r = http()
        .post(server.url(&format!(
            "/api/v1/accounts/{}/imports?timezone=UTC",
            who.account_id
        )))
        .bearer_auth(&who.access)
        .header("Content-Type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn channel(server: &Server, owner: &User, name: &str, url: &str) -> String {
    let (s, v) = post(
        server,
        &format!("/api/v1/accounts/{}/channels", owner.account_id),
        &owner.access,
        json!({ "name": name, "url": url }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["channel_id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_with_bad_rows_is_refused_row_by_row_and_a_good_one_is_scheduled() {
    let dest = receiver(|_| (200, Duration::ZERO)).await;
    let server = rest::start();
    let owner = register(&server, "owner@example.com").await;
    let site = channel(&server, &owner, "Site", &dest.url).await;
    let shop = channel(&server, &owner, "Shop", &dest.url).await;
    let long = "word ".repeat(600);
    let bad = format!(
        "text,channels,time\n\
         Fine post,Site,2031-01-05 09:00\n\
         Nowhere,Blog,2031-01-05 09:00\n\
         Too late,Site,2020-01-01 09:00\n\
         {long},Shop,2031-01-05 09:00\n\
         Garbled,Site,next tuesday\n"
    );
    let (s, report) = import(&server, &owner, &bad).await;
    assert_eq!(s, 422, "{report}");
    assert_eq!(report["imported"], false);
    let errors: Vec<String> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap())
                .collect::<Vec<_>>()
                .join("; ")
        })
        .collect();
    assert_eq!(errors[0], "", "row 1 is fine");
    assert!(errors[1].contains("no channel \"Blog\""), "{errors:?}");
    assert!(errors[2].contains("has passed"), "{errors:?}");
    assert!(errors[3].contains("characters; the limit is"), "{errors:?}");
    assert!(errors[4].contains("is like 2026-12-01 09:00"), "{errors:?}");
    let (_, docs) = get(&server, "/api/v1/documents", &owner.access).await;
    assert!(
        docs["documents"].as_array().unwrap().is_empty(),
        "nothing was made: {docs}"
    );

    let editor = rest::member(&server, &owner, "editor@example.com", "editor").await;
    assert_eq!(
        import(
            &server,
            &editor,
            "text,channels,time\nx,Site,2031-01-05 09:00\n"
        )
        .await
        .0,
        403
    );

    let good = "title,text,channels,time,timezone\n\
                Winter,\"Cold days, warm coats.\nSee you soon\",Site;Shop,2031-01-05 09:00,Europe/Paris\n\
                ,Second post,shop,2031-01-06T10:30:00Z,\n";
    let (s, report) = import(&server, &owner, good).await;
    assert_eq!(s, 201, "{report}");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["state"] == "scheduled"), "{report}");
    let first = rows[0]["doc_id"].as_str().unwrap();
    let (_, w) = get(
        &server,
        &format!("/api/v1/documents/{first}/workflow"),
        &owner.access,
    )
    .await;
    assert_eq!(
        w["workflow"]["scheduled_at"], 1_925_366_400_000_i64,
        "09:00 in Paris: {w}"
    );
    let channels: Vec<&str> = w["workflow"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["channel_id"].as_str().unwrap())
        .collect();
    assert_eq!(channels, [site.as_str(), shop.as_str()]);
    let (_, meta) = get(
        &server,
        &format!("/api/v1/documents/{first}"),
        &owner.access,
    )
    .await;
    assert_eq!(meta["title"], "Winter");
    let state = http()
        .get(server.url(&format!("/api/v1/documents/{first}/state")))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let doc = yrs::Doc::new();
    {
        use yrs::updates::decoder::Decode;
        use yrs::Transact;
        doc.transact_mut()
            .apply_update(yrs::Update::decode_v1(&state).unwrap())
            .unwrap();
    }
    let text = creo::text::document_text(&doc);
    assert!(
        text.contains("Cold days, warm coats.") && text.contains("See you soon"),
        "{text:?}"
    );
    let second = rows[1]["doc_id"].as_str().unwrap();
    let (_, meta) = get(
        &server,
        &format!("/api/v1/documents/{second}"),
        &owner.access,
    )
    .await;
    assert_eq!(meta["title"], "Second post", "titled by its text");

    // Where two approvals are required, imported posts wait in review.
    let (s, _, _) = rest::call(
        &server,
        Method::PUT,
        &format!("/api/v1/accounts/{}/workflow-settings", owner.account_id),
        Some(&owner.access),
        Some(json!({ "required_approvals": 2 })),
    )
    .await;
    assert_eq!(s, 200);
    let (s, report) = import(
        &server,
        &owner,
        "text,channels,time\nNeeds two,Site,2031-02-01 09:00\n",
    )
    .await;
    assert_eq!(s, 201, "{report}");
    assert_eq!(report["rows"][0]["state"], "in_review");
}
