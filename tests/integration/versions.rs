//! Versions: named and automatic snapshots, "who changed what" between two, and restoring one as
//! a new edit that every editor receives live.

use serde_json::json;

use crate::common::{stored_text, YClient};
use crate::rest::{self, get, member, post, register};

#[tokio::test]
async fn a_version_is_restored_as_a_live_edit_and_compared_with_its_author() {
    let server = rest::start();
    let owner = register(&server, "owner@example.com").await;
    let editor = member(&server, &owner, "ed@example.com", "editor").await;
    let viewer = member(&server, &owner, "vi@example.com", "viewer").await;
    assert_eq!(
        post(
            &server,
            "/api/v1/documents",
            &editor.access,
            json!({ "id": "sale" })
        )
        .await
        .0,
        201
    );
    let writer = YClient::connect(&server.ws("sale", &editor.access)).await;
    let watcher = YClient::connect(&server.ws("sale", &viewer.access)).await;
    assert!(writer.synced().await && watcher.synced().await);
    writer.append("Summer sale: 20% off");
    assert!(
        watcher
            .wait(5, |c| c.text() == "Summer sale: 20% off")
            .await
    );

    let versions = "/api/v1/documents/sale/versions";
    assert_eq!(
        post(&server, versions, &viewer.access, json!({ "name": "mine" }))
            .await
            .0,
        403,
        "viewers take no versions"
    );
    let (s, v1) = post(
        &server,
        versions,
        &owner.access,
        json!({ "name": "first copy" }),
    )
    .await;
    assert_eq!(s, 201, "{v1}");
    assert_eq!(
        v1["changed_by"],
        json!([editor.user_id]),
        "the editor wrote before the first version"
    );
    writer.append(" - now 50% off!");
    assert!(watcher.wait(5, |c| c.text().ends_with("50% off!")).await);
    let (_, v2) = post(
        &server,
        versions,
        &owner.access,
        json!({ "name": "bigger discount" }),
    )
    .await;

    let (s, cmp) = get(
        &server,
        &format!(
            "{versions}/compare?from={}&to={}",
            v1["version_id"].as_str().unwrap(),
            v2["version_id"].as_str().unwrap()
        ),
        &viewer.access,
    )
    .await;
    assert_eq!(s, 200, "{cmp}");
    assert_eq!(
        cmp["changes"],
        json!([{ "field": "post", "removed": "", "inserted": " - now 50% off!" }])
    );
    assert_eq!(cmp["changed_by"], json!([editor.user_id]));

    let restore = format!("{versions}/{}/restore", v1["version_id"].as_str().unwrap());
    assert_eq!(
        post(&server, &restore, &viewer.access, json!({})).await.0,
        403
    );
    let (s, before) = post(&server, &restore, &owner.access, json!({})).await;
    assert_eq!(s, 200, "{before}");
    assert!(
        watcher
            .wait(5, |c| c.text() == "Summer sale: 20% off")
            .await,
        "the restore arrives live: {}",
        watcher.text()
    );
    assert!(writer.wait(5, |c| c.text() == "Summer sale: 20% off").await);
    assert_eq!(
        stored_text(&server, &owner.access, "sale").await,
        "Summer sale: 20% off"
    );
    // Nothing was lost: what was there before the restore is a version too.
    let (_, all) = get(&server, versions, &viewer.access).await;
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "first copy",
            "bigger discount",
            "Before restoring “first copy”"
        ]
    );
    assert_eq!(all[2]["automatic"], true);

    // A workflow transition takes an automatic version.
    let (s, _) = post(
        &server,
        "/api/v1/documents/sale/workflow",
        &editor.access,
        json!({ "action": "submit" }),
    )
    .await;
    assert_eq!(s, 200);
    let (_, all) = get(&server, versions, &viewer.access).await;
    assert_eq!(
        all.as_array().unwrap().last().unwrap()["name"],
        "Submitted for review"
    );
    let stranger = register(&server, "x@example.com").await;
    // Another account's document answers as one that does not exist.
    assert_eq!(get(&server, versions, &stranger.access).await.0, 404);
}
