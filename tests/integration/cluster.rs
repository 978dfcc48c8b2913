//! Cluster mode: several creo processes sharing one embedded store and one real Redis. Each test
//! runs its own `redis-server` (from Debian's package) on a free port, so it can kill and
//! restart it without disturbing other tests; a missing `redis-server` fails the test.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use creo::auth::Role;
use creo::bus::envelope::{DocMessage, Envelope, Origin};
use reqwest::Method;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, Text, Transact};

use crate::common::*;

pub(crate) struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    pub(crate) fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = Redis { port, child: None };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    async fn publish(&self, channel: &str, payload: Vec<u8>) {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Settings every node of a test cluster shares: fast heartbeats so lost nodes are noticed
/// within a second, and short presence expiry.
fn cluster_env<'a>(redis: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("CREO_REDIS_URL", redis),
        ("CREO_BUS_HEARTBEAT_MS", "200"),
        ("CREO_BUS_NODE_TIMEOUT_MS", "1000"),
        ("CREO_REDIS_TIMEOUT_MS", "500"),
        ("CREO_AWARENESS_TIMEOUT_MS", "3000"),
    ];
    env.extend_from_slice(extra);
    env
}

pub(crate) fn cluster(n: usize, redis: &Redis, extra: &[(&str, &str)]) -> Vec<Server> {
    let url = redis.url();
    let env = cluster_env(&url, extra);
    let first = Server::start_with(&env);
    let mut nodes = vec![];
    for _ in 1..n {
        nodes.push(Server::start_sharing(&first, &env));
    }
    nodes.insert(0, first);
    nodes
}

/// Waits until every client's text is the same and has every marker.
async fn converged(clients: &[&YClient], markers: &[String], secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let texts: Vec<String> = clients.iter().map(|c| c.text()).collect();
        let same = texts.windows(2).all(|w| w[0] == w[1]);
        if same && markers.iter().all(|m| texts[0].contains(m.as_str())) {
            return true;
        }
        if Instant::now() > deadline {
            for (i, t) in texts.iter().enumerate() {
                let missing = markers.iter().filter(|m| !t.contains(m.as_str())).count();
                eprintln!("client {i}: {} chars, {missing} markers missing", t.len());
            }
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A bodiless REST call; its status.
async fn send(method: Method, server: &Server, token: &str, path: &str) -> u16 {
    http()
        .request(method, server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn user_of(v: &serde_json::Value) -> Option<&str> {
    v["creo"]["userId"].as_str()
}

/// The shared message rate costs a trip to Redis per batch of tokens, not per frame: an editor
/// typing 200 edits on one node is counted cluster-wide in a handful of round trips, and the
/// other node's editor still converges with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_shared_message_rate_is_counted_in_batches_of_tokens() {
    let redis = Redis::start();
    let nodes = cluster(2, &redis, &[]);
    let doc = "cluster-tokens";
    let writer = YClient::connect(&nodes[0].ws(doc, &token("acme", "w", Role::Editor))).await;
    let reader = YClient::connect(&nodes[1].ws(doc, &token("acme", "r", Role::Editor))).await;
    assert!(writer.synced().await && reader.synced().await);
    let before = nodes[0].metric("creo_shared_rate_requests_total").await;
    let mut markers = vec![];
    for i in 0..200 {
        let m = format!("<{i}>");
        writer.append(&m);
        markers.push(m);
        if i % 20 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    assert!(converged(&[&writer, &reader], &markers, 20).await);
    let trips = nodes[0].metric("creo_shared_rate_requests_total").await - before;
    // 32 tokens a trip by default: about 7 trips, a few more when tokens lapse between frames.
    assert!(trips <= 40.0, "{trips} trips to Redis for 200 frames");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn editors_on_three_nodes_converge_and_see_each_others_presence() {
    let redis = Redis::start();
    let nodes = cluster(3, &redis, &[]);
    let doc = "cluster-converge";
    let mut clients = vec![];
    for (i, node) in nodes.iter().enumerate() {
        for j in 0..2 {
            let t = token("acme", &format!("u{i}{j}"), Role::Editor);
            let c = YClient::connect(&node.ws(doc, &t)).await;
            assert!(c.synced().await);
            clients.push(c);
        }
    }
    let mut markers = vec![];
    for round in 0..15 {
        for (k, c) in clients.iter().enumerate() {
            let m = format!("<{k}.{round}>");
            c.append(&m);
            markers.push(m);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let refs: Vec<&YClient> = clients.iter().collect();
    assert!(
        converged(&refs, &markers, 20).await,
        "editors on three nodes diverged"
    );

    // Presence published on node 0 reaches nodes 1 and 2, with the server-attested identity.
    let id0 = clients[0].client_id();
    clients[0].set_awareness(id0, r#"{"user":{"name":"Ann"}}"#);
    for c in &clients[2..] {
        assert!(
            c.wait(5, |c| c
                .seen
                .lock()
                .unwrap()
                .awareness
                .get(&id0)
                .and_then(user_of)
                == Some("u00"))
                .await,
            "presence did not cross nodes"
        );
    }
    // A newcomer on another node sees who is already there in its first frames.
    let t = token("acme", "late", Role::Viewer);
    let late = YClient::connect(&nodes[2].ws(doc, &t)).await;
    assert!(
        late.wait(5, |c| c.seen.lock().unwrap().awareness.contains_key(&id0))
            .await,
        "a newcomer on another node did not see existing presence"
    );
    // Leaving is seen everywhere too.
    clients[0].close().await;
    assert!(
        clients[5]
            .wait(5, |c| !c.seen.lock().unwrap().awareness.contains_key(&id0))
            .await,
        "a departure did not cross nodes"
    );
    assert!(nodes[1].metric("creo_bus_updates_applied_total").await > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_node_loses_nothing_and_its_presence_expires() {
    let redis = Redis::start();
    let mut nodes = cluster(3, &redis, &[]);
    let doc = "cluster-kill";
    let ta = token("acme", "a", Role::Editor);
    let tc = token("acme", "c", Role::Editor);
    let a = YClient::connect(&nodes[0].ws(doc, &ta)).await;
    let c = YClient::connect(&format!("{}&ack=1", nodes[2].ws(doc, &tc))).await;
    assert!(a.synced().await && c.synced().await);
    let cid = c.client_id();
    let mut c = c;
    c.set_awareness(cid, r#"{"user":{"name":"Cy"}}"#);
    assert!(
        a.wait(5, |a| a.seen.lock().unwrap().awareness.contains_key(&cid))
            .await
    );
    let mut markers = vec![];
    for i in 0..60 {
        let m = format!("<c{i}>");
        c.append(&m);
        markers.push(m);
        let m = format!("<a{i}>");
        a.append(&m);
        markers.push(m);
        tokio::time::sleep(Duration::from_millis(3)).await;
        if i == 40 {
            nodes[2].kill(); // mid-edit, no flush, no goodbye
        }
    }
    let acked = c.seen.lock().unwrap().acked;
    assert!(acked > 0, "node 2 acknowledged nothing before it died");
    // Its editor's presence goes once the node is declared gone (well within the awareness
    // timeout), on the nodes still alive.
    assert!(
        a.wait(5, |a| !a.seen.lock().unwrap().awareness.contains_key(&cid))
            .await,
        "a dead node's presence stayed"
    );
    // The orphaned editor reconnects to another node with its document and loses nothing.
    let c_doc = {
        let d = Doc::new();
        let state = encoded_state(&c.doc.lock().unwrap());
        d.transact_mut()
            .apply_update(yrs::Update::decode_v1(&state).unwrap())
            .unwrap();
        d
    };
    let c2 = YClient::connect_doc(&nodes[1].ws(doc, &tc), c_doc).await;
    assert!(c2.synced().await);
    assert!(
        converged(&[&a, &c2], &markers, 15).await,
        "edits were lost with the node"
    );
    // Everything node 2 acknowledged was durable: the store has it without any client's help.
    let stored = stored_text(&nodes[0], &ta, doc).await;
    for m in markers
        .iter()
        .filter(|m| m.starts_with("<c"))
        .take(acked as usize)
    {
        assert!(
            stored.contains(m.as_str()),
            "acknowledged {m} missing from the store"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_restart_mid_edit_converges_without_a_node_restart() {
    let mut redis = Redis::start();
    let nodes = cluster(2, &redis, &[]);
    let doc = "cluster-redis-restart";
    let t0 = token("acme", "x", Role::Editor);
    let t1 = token("acme", "y", Role::Editor);
    let x = YClient::connect(&nodes[0].ws(doc, &t0)).await;
    let y = YClient::connect(&nodes[1].ws(doc, &t1)).await;
    assert!(x.synced().await && y.synced().await);
    assert!(nodes[0].ready().await);
    let mut markers = vec![];
    for i in 0..90 {
        if i == 30 {
            redis.kill();
        }
        if i == 60 {
            // Cut off from each other, both nodes still serve their own editors...
            assert!(
                !nodes[0].ready().await,
                "a node without its bus must report not ready"
            );
            redis.restart();
        }
        let (mx, my) = (format!("<x{i}>"), format!("<y{i}>"));
        x.append(&mx);
        y.append(&my);
        markers.extend([mx, my]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ...and once Redis is back every open document resyncs from the store.
    assert!(
        converged(&[&x, &y], &markers, 20).await,
        "nodes diverged after the Redis restart"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(nodes[0].ready().await && nodes[1].ready().await) {
        assert!(
            Instant::now() < deadline,
            "nodes did not become ready again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(nodes[0].metric("creo_bus_resyncs_total").await > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gap_in_the_bus_is_noticed_and_recovered_from_the_store() {
    let redis = Redis::start();
    let nodes = cluster(1, &redis, &[]);
    let doc = "cluster-gap";
    let t = token("acme", "g", Role::Editor);
    let watcher = YClient::connect(&nodes[0].ws(doc, &t)).await;
    assert!(watcher.synced().await);
    // Another "node" stores an update but its publication never arrives: write it to the shared
    // store directly, then publish that node's next message, one sequence number further on.
    let store = creo::store::embedded::EmbeddedStore::open(&nodes[0].data, "full").unwrap();
    let lost = {
        let d = Doc::new();
        let text = d.get_or_insert_text(TEXT);
        let mut txn = d.transact_mut();
        text.insert(&mut txn, 0, "<stored but never published>");
        txn.encode_update_v1()
    };
    use creo::store::DocumentLog;
    store.append(doc, vec![lost.into()]).await.unwrap();
    let channel = format!("creo:doc:{doc}");
    let origin = Origin { node: 99, actor: 1 };
    for seq in [1, 3] {
        let e = Envelope::Doc {
            origin,
            seq,
            message: DocMessage::Awareness(
                yrs::sync::AwarenessUpdate {
                    clients: Default::default(),
                }
                .encode_v1()
                .into(),
            ),
        };
        redis.publish(&channel, e.encode()).await;
    }
    assert!(
        watcher
            .wait(10, |w| w.text().contains("<stored but never published>"))
            .await,
        "the gap was not recovered"
    );
    assert!(nodes[0].metric("creo_bus_gaps_total").await >= 1.0);
    // Garbage on a document's channel is counted and ignored.
    redis.publish(&channel, b"\x01garbage".to_vec()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        nodes[0]
            .metric("creo_bus_dropped_total{reason=\"malformed\"}")
            .await
            >= 1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocation_closes_the_users_sessions_on_every_node_within_a_second() {
    let redis = Redis::start();
    let nodes = cluster(3, &redis, &[]);
    let admin = token("acme", "boss", Role::Admin);
    let bob = token("acme", "bob", Role::Editor);
    let alice = token("acme", "alice", Role::Editor);
    let b1 = YClient::connect(&nodes[1].ws("rv-1", &bob)).await;
    let b2 = YClient::connect(&nodes[2].ws("rv-1", &bob)).await;
    let b_other = YClient::connect(&nodes[2].ws("rv-2", &bob)).await;
    let a1 = YClient::connect(&nodes[1].ws("rv-1", &alice)).await;
    for c in [&b1, &b2, &b_other, &a1] {
        assert!(c.synced().await);
    }
    let doc_revocation = "/api/v1/documents/rv-1/revocations/bob";
    let account_revocation = "/api/v1/accounts/acme/revocations/bob";
    // Only owners and admins may revoke, and only in their own account.
    assert_eq!(
        send(Method::PUT, &nodes[0], &alice, doc_revocation).await,
        403
    );
    // Another account's owner: the document answers as one that does not exist.
    let other = token("globex", "boss", Role::Owner);
    assert_eq!(
        send(Method::PUT, &nodes[0], &other, doc_revocation).await,
        404
    );

    let started = Instant::now();
    assert_eq!(
        send(Method::PUT, &nodes[0], &admin, doc_revocation).await,
        200
    );
    assert_eq!(b1.closed_with(1).await, Some(4403));
    assert_eq!(b2.closed_with(1).await, Some(4403));
    eprintln!(
        "both sessions closed {:?} after the revocation was sent",
        started.elapsed()
    );
    // Only that user, only that document.
    assert!(a1.seen.lock().unwrap().closed.is_none());
    assert!(b_other.seen.lock().unwrap().closed.is_none());
    // New connections and REST are refused on every node.
    for node in &nodes {
        assert_eq!(upgrade_status(&node.ws("rv-1", &bob)).await, 403);
    }
    assert_eq!(
        api_get(&nodes[2], &bob, "/api/v1/documents/rv-1")
            .await
            .status(),
        403
    );

    // Account-wide revocation closes the rest; lifting it lets bob back in.
    assert_eq!(
        send(Method::PUT, &nodes[1], &admin, account_revocation).await,
        200
    );
    assert_eq!(b_other.closed_with(1).await, Some(4403));
    let listed: serde_json::Value = api_get(&nodes[2], &admin, "/api/v1/accounts/acme/revocations")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    for path in [account_revocation, doc_revocation] {
        assert_eq!(send(Method::DELETE, &nodes[0], &admin, path).await, 204);
    }
    let back = YClient::connect(&nodes[2].ws("rv-1", &bob)).await;
    assert!(back.synced().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connection_and_rate_limits_hold_across_nodes() {
    let redis = Redis::start();
    let nodes = cluster(
        3,
        &redis,
        &[
            ("CREO_MAX_CONNECTIONS_PER_USER", "3"),
            ("CREO_MAX_CONNECTIONS_PER_DOCUMENT", "4"),
            ("CREO_USER_MESSAGES_PER_SECOND", "5"),
            ("CREO_USER_MESSAGE_BURST", "20"),
        ],
    );
    // Three connections of one user, one per node: a fourth is refused anywhere.
    let t = token("acme", "many", Role::Editor);
    let mut held = vec![];
    for node in &nodes {
        let c = YClient::connect(&node.ws("lim-user", &t)).await;
        assert!(c.synced().await);
        held.push(c);
    }
    for node in &nodes {
        assert_eq!(upgrade_status(&node.ws("lim-user", &t)).await, 429);
    }
    // Closing one frees a place (released at once, not after the lease expires).
    held.pop().unwrap().close().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while upgrade_status(&nodes[0].ws("lim-probe", &t)).await != 101 {
        assert!(
            Instant::now() < deadline,
            "a closed connection's place was not freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(held);

    // Four connections to one document, spread over nodes: a fifth is refused anywhere.
    let mut on_doc = vec![];
    for i in 0..4 {
        // Editors: opening an unknown id creates it for them (a viewer would get 404).
        let t = token("acme", &format!("d{i}"), Role::Editor);
        let c = YClient::connect(&nodes[i % 3].ws("lim-doc", &t)).await;
        assert!(c.synced().await);
        on_doc.push(c);
    }
    let t5 = token("acme", "d5", Role::Viewer);
    for node in &nodes {
        assert_eq!(upgrade_status(&node.ws("lim-doc", &t5)).await, 429);
    }

    // 5 messages/s with a burst of 20, shared: 60 REST updates sent round-robin to the three
    // nodes are mostly refused. Per-node counting would have let up to 60 through.
    let w = token("acme", "writer", Role::Editor);
    let started = Instant::now();
    let mut accepted = 0;
    let mut refused = 0;
    for i in 0..60 {
        let r = post_update(&nodes[i % 3], &w, "lim-rate", text_update("x")).await;
        match r.status().as_u16() {
            200 => accepted += 1,
            429 => {
                assert!(r.headers().contains_key("retry-after"));
                refused += 1
            }
            s => panic!("unexpected status {s}"),
        }
    }
    let allowed = 20.0 + 5.0 * started.elapsed().as_secs_f64() + 1.0;
    eprintln!(
        "accepted {accepted}, refused {refused} in {:?}",
        started.elapsed()
    );
    assert!(accepted >= 20, "the burst was not honoured: {accepted}");
    assert!(
        (accepted as f64) <= allowed,
        "{accepted} accepted, at most {allowed} allowed"
    );
    assert!(refused > 0);
}

#[tokio::test]
async fn a_role_change_on_one_node_reaches_open_sockets_on_another_within_a_second() {
    let redis = Redis::start();
    let nodes = cluster(2, &redis, &crate::rest::billing_env());
    let (a, b) = (&nodes[0], &nodes[1]);
    let owner = crate::rest::register(a, "owner@example.com").await;
    let bob = crate::rest::register(b, "bob@example.com").await;
    let bob = crate::rest::join(b, &owner, &bob, "editor").await;
    let (s, _) = crate::rest::post(
        a,
        "/api/v1/documents",
        &owner.access,
        serde_json::json!({ "id": "shared" }),
    )
    .await;
    assert_eq!(s, 201);
    let bob_ws = YClient::connect(&b.ws("shared", &bob.access)).await;
    assert!(bob_ws.synced().await);
    bob_ws.append("one");
    assert!(bob_ws.wait(5, |_| true).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stored_text(a, &owner.access, "shared").await, "one");

    // Demoted on node A; Bob's socket is on node B.
    let members = format!(
        "/api/v1/accounts/{}/members/{}",
        owner.account_id, bob.user_id
    );
    let (s, v, _) = crate::rest::call(
        a,
        Method::PUT,
        &members,
        Some(&owner.access),
        Some(serde_json::json!({ "role": "commenter" })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    bob_ws.append(" two");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        stored_text(a, &owner.access, "shared").await,
        "one",
        "the demotion reached node B's socket within a second"
    );
    // Node B's cached membership changed too: REST there refuses the write.
    assert_eq!(
        post_update(b, &bob.access, "shared", text_update("x"))
            .await
            .status(),
        403
    );

    // Removed on node A: Bob's socket on node B closes with 4403.
    let (s, _, _) = crate::rest::call(a, Method::DELETE, &members, Some(&owner.access), None).await;
    assert_eq!(s, 204);
    assert_eq!(bob_ws.closed_with(2).await, Some(4403));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_made_on_one_node_reaches_event_sockets_on_another() {
    let redis = Redis::start();
    let nodes = cluster(2, &redis, &crate::rest::billing_env());
    let (a, b) = (&nodes[0], &nodes[1]);
    let owner = crate::rest::register(a, "owner@example.com").await;
    let (s, _) = crate::rest::post(
        a,
        "/api/v1/documents",
        &owner.access,
        serde_json::json!({ "id": "shared" }),
    )
    .await;
    assert_eq!(s, 201);
    let on_b = YClient::connect(&format!("{}&events=1", b.ws("shared", &owner.access))).await;
    assert!(on_b.synced().await);
    let (s, _) = crate::rest::post(
        a,
        "/api/v1/documents/shared/comments",
        &owner.access,
        serde_json::json!({ "body": "from node A" }),
    )
    .await;
    assert_eq!(s, 201);
    let heard = |c: &YClient| {
        c.seen
            .lock()
            .unwrap()
            .events
            .iter()
            .any(|e| e["comment"]["body"] == "from node A")
    };
    assert!(on_b.wait(3, heard).await, "the event crossed the bus");
}
