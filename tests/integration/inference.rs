//! The supervised inference pool with real ONNX models, through the real server: the tiny dense
//! fixtures (tests/fixtures/models) for the pool's mechanics, and all-MiniLM-L6-v2 (installed by
//! scripts/install-models.sh, which scripts/test.sh runs) for the AI features.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::rest::{self, call, get, post, register};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn runtime_library() -> PathBuf {
    let lib = repo().join("models/.vendor/onnxruntime/capi/libonnxruntime.so.1.31.1");
    assert!(
        lib.exists(),
        "ONNX Runtime is missing: run scripts/install-models.sh (scripts/test.sh does)"
    );
    lib
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A models folder of its own (tests change it to check hot reload): the tiny fixtures, and
/// MiniLM when `with_minilm`.
fn models(with_minilm: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &repo().join("tests/fixtures/models/tiny-dense"),
        &dir.path().join("tiny-dense"),
    );
    if with_minilm {
        let minilm = repo().join("models/all-minilm-l6-v2");
        assert!(
            minilm.join("1/model.onnx").exists(),
            "all-MiniLM-L6-v2 is missing: run scripts/install-models.sh"
        );
        std::os::unix::fs::symlink(minilm, dir.path().join("all-minilm-l6-v2")).unwrap();
    }
    dir
}

fn ai_server(models: &Path, extra: &[(&str, &str)]) -> Server {
    let lib = runtime_library();
    let mut env = rest::billing_env();
    env.push(("CREO_MODELS", models.to_str().unwrap()));
    env.push(("CREO_ONNXRUNTIME_LIB", lib.to_str().unwrap()));
    env.push(("CREO_MODEL_SCAN_MS", "200"));
    env.push(("CREO_FAULT_INJECTION", "true"));
    env.push(("CREO_INFERENCE_THREADS", "1"));
    env.extend_from_slice(extra);
    // The strings above live in this function; the server copies them at spawn.
    let owned: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let refs: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Server::start_with(&refs)
}

async fn model_status(server: &Server, token: &str, model: &str, version: u64) -> Value {
    let (s, all) = get(server, "/api/v1/ai/models", token).await;
    assert_eq!(s, 200, "{all}");
    all.as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == model && m["version"] == version)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Waits until the model's version reports ready.
async fn ready(server: &Server, token: &str, model: &str, version: u64, secs: u64) {
    let is_ready = async || model_status(server, token, model, version).await["health"] == "ready";
    assert!(
        wait_for(secs, is_ready).await,
        "{model} {version} never became ready"
    );
}

async fn wait_for(secs: u64, mut cond: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn infer(
    server: &Server,
    token: &str,
    rows: Value,
) -> (u16, Value, reqwest::header::HeaderMap) {
    call(
        server,
        Method::POST,
        "/api/v1/ai/infer/tiny-dense",
        Some(token),
        Some(json!({ "rows": rows })),
    )
    .await
}

async fn faults(server: &Server, model: &str, plan: Value) {
    let resp = http()
        .put(server.url(&format!("/debug/inference-faults/{model}")))
        .json(&plan)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

fn row(i: usize) -> Vec<f32> {
    vec![
        i as f32 * 0.1,
        1.0 - i as f32 * 0.05,
        (i % 3) as f32,
        -(i as f32) * 0.02,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_results_equal_single_results() {
    let dir = models(false);
    let server = ai_server(dir.path(), &[]);
    let t = token("acme", "u", creo::auth::Role::Editor);
    ready(&server, &t, "tiny-dense", 1, 10).await;
    // One at a time: every request runs alone.
    let mut alone = Vec::new();
    for i in 0..24 {
        let (s, v, _) = infer(&server, &t, json!([row(i)])).await;
        assert_eq!(s, 200, "{v}");
        alone.push(v["outputs"][0].clone());
    }
    let before = server
        .metric(
            "creo_inference_batch_size_count{model=\"tiny-dense\",version=\"1\",device=\"cpu\"}",
        )
        .await;
    // All at once: gathered into batches. A lone request runs at once, so the worker is slowed
    // (every batch first waits 50 ms) to make the others queue behind it, as they do under load;
    // on a busy machine 24 requests to a microsecond model could otherwise never overlap.
    faults(&server, "tiny-dense", json!({ "delay_ms": 50 })).await;
    let together = join_all((0..24).map(|i| {
        let (server, t) = (&server, &t);
        async move { infer(server, t, json!([row(i)])).await }
    }))
    .await;
    let batches = server
        .metric(
            "creo_inference_batch_size_count{model=\"tiny-dense\",version=\"1\",device=\"cpu\"}",
        )
        .await
        - before;
    assert!(
        batches < 24.0,
        "24 concurrent requests ran in {batches} batches: none were batched"
    );
    faults(&server, "tiny-dense", json!({ "delay_ms": 0 })).await;
    for (i, (s, v, _)) in together.iter().enumerate() {
        assert_eq!(*s, 200);
        for (a, b) in alone[i]
            .as_array()
            .unwrap()
            .iter()
            .zip(v["outputs"][0].as_array().unwrap())
        {
            assert!(
                (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-5,
                "row {i}: {a} vs {b}"
            );
        }
    }
    let (s, v, _) = infer(&server, &t, json!([[1.0, 2.0]])).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_input")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_and_expired_requests_are_dropped() {
    let dir = models(false);
    let server = ai_server(dir.path(), &[("CREO_INFERENCE_TIMEOUT_MS", "700")]);
    let t = token("acme", "u", creo::auth::Role::Editor);
    ready(&server, &t, "tiny-dense", 1, 10).await;
    // Every batch takes 300 ms: the 64-deep queue (max batch 8) fills up.
    faults(&server, "tiny-dense", json!({ "delay_ms": 300 })).await;
    let burst = join_all((0..120).map(|i| {
        let (server, t) = (&server, &t);
        async move { infer(server, t, json!([row(i)])).await }
    }))
    .await;
    let busy: Vec<_> = burst.iter().filter(|(s, _, _)| *s == 503).collect();
    assert!(!busy.is_empty(), "no request was refused");
    for (_, v, h) in &busy {
        assert_eq!(v["error"]["code"], "busy");
        assert_eq!(h["retry-after"], "1");
    }
    let late = burst.iter().filter(|(s, _, _)| *s == 504).count();
    assert!(
        late > 0,
        "with 700 ms deadlines and 300 ms batches some requests time out"
    );
    assert!(
        server
            .metric(
                "creo_inference_rejected_total{model=\"tiny-dense\",version=\"1\",device=\"cpu\"}"
            )
            .await
            >= busy.len() as f64
    );
    assert!(
        wait_for(10, async || server
            .metric("creo_inference_dropped_total{reason=\"deadline\"}")
            .await
            > 0.0)
        .await,
        "expired requests are dropped from their batch, not run"
    );
}

/// In process (actix-web does not cancel a handler when its HTTP client hangs up, so this is
/// about callers inside creo that give up: a job, the indexer, a handler's deadline).
#[test]
fn requests_whose_callers_gave_up_are_dropped_from_their_batch() {
    use creo::gpu::supervisor::InferenceSupervisor;
    use creo::gpu::{Input, Pool};
    actix_rt::System::new().block_on(async {
        use actix::Actor;
        let dir = models(false);
        let pool = Pool::default();
        InferenceSupervisor::new(
            pool.clone(),
            dir.path().into(),
            runtime_library(),
            1,
            Duration::from_millis(100),
        )
        .start();
        let status = |pool: &Pool| {
            pool.status()
                .into_iter()
                .find(|m| m.model == "tiny-dense" && m.version == 1)
        };
        assert!(
            wait_for(10, async || status(&pool)
                .is_some_and(|m| m.health == creo::gpu::Health::Ready))
            .await
        );
        pool.faults("tiny-dense")
            .delay_ms
            .store(300, std::sync::atomic::Ordering::SeqCst);
        // 24 callers give up after 50 ms; the worker is busy 300 ms per batch of 8.
        join_all((0..24).map(|i| {
            let pool = pool.clone();
            async move {
                let call = pool.infer(
                    "tiny-dense",
                    vec![Input::Row(row(i))],
                    Duration::from_secs(10),
                );
                assert!(tokio::time::timeout(Duration::from_millis(50), call)
                    .await
                    .is_err());
            }
        }))
        .await;
        assert!(
            wait_for(5, async || status(&pool).unwrap().dropped >= 16).await,
            "{:?}",
            status(&pool)
        );
        let m = status(&pool).unwrap();
        assert!(
            m.served <= 8,
            "at most the batch already running when they gave up was run: {m:?}"
        );
        pool.faults("tiny-dense")
            .delay_ms
            .store(0, std::sync::atomic::Ordering::SeqCst);
        let out = pool
            .infer(
                "tiny-dense",
                vec![Input::Row(row(1))],
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        assert_eq!(out[0].vector.len(), 3);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_worker_restarts_within_a_second_and_its_requests_cost_nothing() {
    let dir = models(false);
    let server = ai_server(dir.path(), &[]);
    let alice = register(&server, "alice@example.com").await;
    ready(&server, &alice.access, "tiny-dense", 1, 10).await;
    let balance = rest::balance(&server, &alice).await;
    faults(&server, "tiny-dense", json!({ "panic_batches": 1 })).await;
    let (s, v, h) = infer(&server, &alice.access, json!([row(1), row(2)])).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (503, Some("worker_restarted")),
        "{v}"
    );
    assert_eq!(h["retry-after"], "1");
    let crashed_at = Instant::now();
    assert_eq!(
        rest::balance(&server, &alice).await,
        balance,
        "a crashed request is not charged"
    );
    assert!(
        wait_for(5, async || {
            let m = model_status(&server, &alice.access, "tiny-dense", 1).await;
            m["restarts"] == 1 && m["health"] != "unhealthy"
        })
        .await
    );
    let (s, _, _) = infer(&server, &alice.access, json!([row(1), row(2)])).await;
    assert_eq!(s, 200, "the restarted worker answers");
    println!(
        "worker answering again {:?} after the crash",
        crashed_at.elapsed()
    );
    assert!(crashed_at.elapsed() < Duration::from_secs(2));
    assert_eq!(
        rest::balance(&server, &alice).await,
        balance - 20,
        "two inferences charged once they succeed"
    );
    let (_, ledger) = get(
        &server,
        &format!("/api/v1/accounts/{}/ledger", alice.account_id),
        &alice.access,
    )
    .await;
    let captures = ledger["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "inference")
        .count();
    assert_eq!(captures, 1, "only the successful call is in the ledger");

    // Crashing again and again: backed off and reported unhealthy.
    faults(&server, "tiny-dense", json!({ "panic_batches": 3 })).await;
    for _ in 0..3 {
        let _ = infer(&server, &alice.access, json!([row(0)])).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        wait_for(10, async || model_status(
            &server,
            &alice.access,
            "tiny-dense",
            1
        )
        .await["health"]
            == "unhealthy")
        .await,
        "three crashes within a minute mark the model unhealthy"
    );
    let ready: Value = reqwest::get(server.url("/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = ready["ai"]["models"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|m| m["model"] == "tiny-dense" && m["health"] == "unhealthy"),
        "{ready}"
    );
    assert_eq!(
        server
            .metric("creo_model_healthy{model=\"tiny-dense\",version=\"1\",device=\"cpu\"}")
            .await,
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_weights_route_traffic_and_models_reload_without_a_restart() {
    let dir = models(false);
    let server = ai_server(dir.path(), &[]);
    let t = token("acme", "u", creo::auth::Role::Editor);
    ready(&server, &t, "tiny-dense", 2, 10).await;
    let versions = async || {
        let mut answers = Vec::new();
        for wave in 0..5 {
            answers.extend(
                join_all((0..20).map(|i| {
                    let (server, t) = (&server, &t);
                    async move {
                        let (s, v, _) = infer(server, t, json!([row(wave * 20 + i)])).await;
                        assert_eq!(s, 200, "{v}");
                        v["version"].as_u64().unwrap()
                    }
                }))
                .await,
            );
        }
        (
            answers.iter().filter(|v| **v == 1).count(),
            answers.iter().filter(|v| **v == 2).count(),
        )
    };
    assert_eq!(versions().await, (100, 0), "version 2 starts with weight 0");
    // Give the canary a quarter of the traffic by editing its manifest on disk.
    let manifest = dir.path().join("tiny-dense/2/manifest.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("weight = 0", "weight = 25");
    std::fs::write(&manifest, text).unwrap();
    assert!(
        wait_for(10, async || {
            let m = model_status(&server, &t, "tiny-dense", 2).await;
            m["weight"] == 25 && m["health"] == "ready"
        })
        .await
    );
    let (v1, v2) = versions().await;
    assert!(
        (8..=45).contains(&v2) && v1 + v2 == 100,
        "a 25% canary got {v2} of 100"
    );
    // A new version appears, and a removed one goes, while the server runs.
    copy_dir(
        &dir.path().join("tiny-dense/1"),
        &dir.path().join("tiny-dense/3"),
    );
    ready(&server, &t, "tiny-dense", 3, 10).await;
    std::fs::remove_dir_all(dir.path().join("tiny-dense/2")).unwrap();
    assert!(
        wait_for(10, async || model_status(&server, &t, "tiny-dense", 2)
            .await
            .is_null())
        .await
    );
    let (s, _, _) = infer(&server, &t, json!([row(1)])).await;
    assert_eq!(s, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_onnx_runtime_documents_work_and_ai_answers_503() {
    let dir = models(false);
    let server = Server::start_with(&[
        ("CREO_MODELS", dir.path().to_str().unwrap()),
        ("CREO_ONNXRUNTIME_LIB", "/nonexistent/libonnxruntime.so"),
    ]);
    let t = token("acme", "u", creo::auth::Role::Editor);
    let (s, v, h) = call(
        &server,
        Method::POST,
        "/api/v1/ai/embed",
        Some(&t),
        Some(json!({ "texts": ["hi"] })),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (503, Some("ai_unavailable")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not installed"),
        "{v}"
    );
    assert!(h.get("retry-after").is_some());
    assert_eq!(
        post(
            &server,
            "/api/v1/documents",
            &t,
            json!({ "id": "still-works" })
        )
        .await
        .0,
        201
    );
    let ready: Value = reqwest::get(server.url("/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["ai"]["available"], false);
}

/// Types `text` into a new document over a socket.
async fn document_with(server: &Server, token: &str, id: &str, text: &str) -> YClient {
    assert_eq!(
        post(server, "/api/v1/documents", token, json!({ "id": id }))
            .await
            .0,
        201
    );
    let c = YClient::connect(&server.ws(id, token)).await;
    assert!(c.synced().await);
    c.append(text);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minilm_embeds_searches_suggests_and_writes_as_a_collaborator() {
    let dir = models(true);
    let server = ai_server(dir.path(), &[("CREO_SEARCH_SETTLE_MS", "300")]);
    let alice = register(&server, "alice@example.com").await;
    let t = alice.access.clone();
    ready(&server, &t, "all-minilm-l6-v2", 1, 20).await;

    // Embeddings: unit vectors; batched equals alone.
    let (s, v) = post(&server, "/api/v1/ai/embed", &t, json!({ "texts": ["the cat sat on the mat", "a kitten rests on a rug", "quarterly revenue grew"] })).await;
    assert_eq!(s, 200, "{v}");
    let vecs: Vec<Vec<f64>> = v["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            x.as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_f64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!((v["dimensions"].as_u64(), vecs.len()), (Some(384), 3));
    let cos = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    assert!((cos(&vecs[0], &vecs[0]) - 1.0).abs() < 1e-3);
    assert!(
        cos(&vecs[0], &vecs[1]) > cos(&vecs[0], &vecs[2]) + 0.2,
        "similar sentences are closer"
    );
    let (_, alone) = post(
        &server,
        "/api/v1/ai/embed",
        &t,
        json!({ "texts": ["a kitten rests on a rug"] }),
    )
    .await;
    let alone: Vec<f64> = alone["vectors"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_f64().unwrap())
        .collect();
    assert!(
        cos(&alone, &vecs[1]) > 0.9999,
        "padding in a batch does not change a text's vector"
    );

    // Search, kept current as documents change.
    let _a = document_with(
        &server,
        &t,
        "beach",
        "Sunny days at the beach: surfing, sand and summer waves",
    )
    .await;
    let _b = document_with(
        &server,
        &t,
        "earnings",
        "Our quarterly earnings call: revenue, margins and guidance",
    )
    .await;
    let _c = document_with(
        &server,
        &t,
        "pasta",
        "A quick recipe for fresh pasta with tomato and basil",
    )
    .await;
    assert!(
        wait_for(20, async || get(&server, "/api/v1/search?q=x", &t).await.1
            ["indexed"]
            == 3)
        .await,
        "the three posts are indexed once their edits settle"
    );
    let first_hit = async |q: &str| {
        let (s, v) = get(
            &server,
            &format!("/api/v1/search?q={}", q.replace(' ', "+")),
            &t,
        )
        .await;
        assert_eq!(s, 200, "{v}");
        v["hits"][0]["doc_id"].as_str().unwrap_or("").to_string()
    };
    assert_eq!(first_hit("ocean vacation").await, "beach");
    assert_eq!(first_hit("financial results").await, "earnings");
    assert_eq!(first_hit("italian cooking").await, "pasta");
    // The pasta post is rewritten: once the edits settle the index follows.
    let d = YClient::connect(&server.ws("pasta", &t)).await;
    assert!(d.synced().await);
    d.append(" ... no, this is now about football, goals and the league table");
    assert!(
        wait_for(20, async || first_hit("soccer match").await == "pasta").await,
        "the index follows edits"
    );

    // Similar content and hashtags.
    let (_, similar) = get(&server, "/api/v1/documents/beach/similar", &t).await;
    assert!(similar
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["doc_id"] != "beach"));
    let (s, tags) = get(&server, "/api/v1/documents/beach/hashtags?limit=5", &t).await;
    assert_eq!(s, 200, "{tags}");
    let tags: Vec<&str> = tags
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["doc_id"].as_str().unwrap())
        .collect();
    assert!(
        tags.iter().any(|t| [
            "#beach",
            "#summer",
            "#travel",
            "#outdoors",
            "#travelgram",
            "#wanderlust",
            "#adventure"
        ]
        .contains(t)),
        "{tags:?}"
    );

    // Brand voice.
    let voice = format!("/api/v1/accounts/{}/brand-voice", alice.account_id);
    let (s, _, _) = call(&server, Method::PUT, &voice, Some(&t), Some(json!({ "examples": ["Fresh pasta, made with love in our kitchen", "Try our new basil pesto tonight", "Homemade ravioli every Sunday"] }))).await;
    assert_eq!(s, 204);
    let kit = format!("/api/v1/accounts/{}/brand-kit", alice.account_id);
    let (_, kit) = get(&server, &kit, &t).await;
    assert_eq!(
        kit["voice_examples"].as_array().map(Vec::len),
        Some(3),
        "the brand voice is the brand kit's: {kit}"
    );
    let score = async |text: &str| {
        post(
            &server,
            "/api/v1/ai/brand-voice/score",
            &t,
            json!({ "text": text }),
        )
        .await
        .1["score"]
            .as_u64()
            .unwrap()
    };
    assert!(
        score("Tonight: handmade gnocchi with sage butter").await
            > score("Server maintenance window on Tuesday").await
    );

    // The AI as a collaborator: its presence and its edit reach an editor live; undo takes it back.
    let bob_view = YClient::connect(&server.ws("beach", &t)).await;
    assert!(bob_view.synced().await);
    let suggesting = post(
        &server,
        "/api/v1/documents/beach/ai/suggestions",
        &t,
        json!({ "kind": "hashtags" }),
    );
    let watching = async {
        let mut seen_ai = None;
        for _ in 0..400 {
            let present =
                bob_view
                    .seen
                    .lock()
                    .unwrap()
                    .awareness
                    .iter()
                    .find_map(|(client, state)| {
                        state.to_string().contains("creo AI").then_some(*client)
                    });
            if present.is_some() {
                seen_ai = present;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        seen_ai
    };
    let ((s, sug), seen_ai) = tokio::join!(suggesting, watching);
    assert_eq!(s, 201, "{sug}");
    let inserted = sug["inserted"].as_str().unwrap().to_string();
    assert!(
        bob_view.wait(5, |c| c.text().ends_with(&inserted)).await,
        "the AI's edit arrives live"
    );
    assert_eq!(
        seen_ai,
        sug["client_id"].as_u64(),
        "the editor saw the AI's presence while it worked"
    );
    assert!(
        bob_view
            .wait(5, |c| c
                .seen
                .lock()
                .unwrap()
                .awareness
                .values()
                .all(|s| !s.to_string().contains("creo AI")))
            .await,
        "the AI leaves when done"
    );
    let undo = format!(
        "/api/v1/documents/beach/ai/suggestions/{}/undo",
        sug["suggestion_id"].as_str().unwrap()
    );
    assert_eq!(post(&server, &undo, &t, json!({})).await.0, 200);
    assert!(
        bob_view.wait(5, |c| !c.text().contains(&inserted)).await,
        "undo removes exactly the AI's text"
    );
    assert!(bob_view.text().starts_with("Sunny days at the beach"));
}

/// Four variations through RabbitMQ and the pool: credits held up front, the result shown live
/// on the editors' sockets, one variation selected into the document; then a generation the
/// pool fails on entirely costs nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_variations_reach_the_editors_and_only_what_succeeded_is_paid() {
    let dir = models(true);
    let p = crate::jobs::prefix();
    let server = ai_server(
        dir.path(),
        &[
            ("CREO_AMQP_URL", crate::jobs::AMQP),
            ("CREO_AMQP_PREFIX", &p),
        ],
    );
    let alice = register(&server, "alice@example.com").await;
    let t = alice.access.clone();
    ready(&server, &t, "all-minilm-l6-v2", 1, 20).await;
    let purchase = json!({ "id": "evt_gen", "type": "credits.purchased",
        "data": { "account_id": alice.account_id, "credits_milli": 10_000 } });
    assert_eq!(
        rest::webhook(&server, purchase, rest::WEBHOOK_SECRET, 0)
            .await
            .0,
        200
    );
    let post_text = "Our autumn menu is here! Pumpkin soup, roasted chestnuts and warm cider. \
                     Come by this weekend and bring a friend. #autumn";
    let writer = document_with(&server, &t, "menu", post_text).await;
    let kit = format!("/api/v1/accounts/{}/brand-kit", alice.account_id);
    let (s, _, _) = call(
        &server,
        Method::PUT,
        &kit,
        Some(&t),
        Some(json!({ "hashtags": ["#cafecreo"] })),
    )
    .await;
    assert_eq!(s, 200, "the brand kit's hashtag");
    let watcher = YClient::connect(&format!("{}&events=1", server.ws("menu", &t))).await;
    assert!(watcher.synced().await);
    assert!(writer.wait(5, |c| c.text() == post_text).await);
    tokio::time::sleep(Duration::from_millis(300)).await; // the edit is stored

    let (s, quote) = get(&server, "/api/v1/documents/menu/generations/quote", &t).await;
    assert_eq!(s, 200);
    let each = quote["price_milli_each"].as_i64().unwrap();
    assert_eq!(quote["total_milli"].as_i64(), Some(4 * each));
    let before = rest::balance(&server, &alice).await;
    let requested = Instant::now();
    let (s, g) = post(&server, "/api/v1/documents/menu/generations", &t, json!({})).await;
    assert_eq!((s, g["status"].as_str()), (202, Some("pending")), "{g}");
    let id = g["generation_id"].as_str().unwrap().to_string();
    let generation_event = |c: &YClient| {
        c.seen
            .lock()
            .unwrap()
            .events
            .iter()
            .rev()
            .find(|e| e["type"] == "generation" && e["generation"]["generation_id"] == id.as_str())
            .cloned()
    };
    assert!(
        watcher.wait(30, |c| generation_event(c).is_some()).await,
        "the result reaches the editors' sockets"
    );
    println!(
        "generation: request to the result on the socket in {} ms",
        requested.elapsed().as_millis()
    );
    let shown = generation_event(&watcher).unwrap()["generation"].clone();
    assert_eq!(shown["status"], "done", "{shown}");
    let variations = shown["variations"].as_array().unwrap();
    assert_eq!(variations.len(), 4);
    let texts: Vec<&str> = variations
        .iter()
        .map(|v| v["text"].as_str().unwrap())
        .collect();
    let tagged = variations
        .iter()
        .find(|v| v["style"] == "hashtags")
        .unwrap();
    assert!(
        tagged["text"].as_str().unwrap().contains("#cafecreo"),
        "the brand's hashtag comes first: {tagged}"
    );
    // A variation that came out as the post itself is not offered, and not paid for.
    let same = |t: &str| t.split_whitespace().eq(post_text.split_whitespace());
    let mut succeeded = 0;
    for v in variations {
        if same(v["text"].as_str().unwrap()) {
            assert!(v["similarity"].is_null() && v["error"].is_string(), "{v}");
        } else {
            let similarity = v["similarity"].as_f64().unwrap();
            assert!(similarity > 0.5, "faithful to the post: {v}");
            succeeded += 1;
        }
    }
    assert!(succeeded >= 3, "{variations:?}");
    assert!(
        texts[1].chars().count() < post_text.chars().count() && !same(texts[1]),
        "the short variation is shorter than the post: {}",
        texts[1]
    );
    assert!(
        texts[2].matches('#').count() > 1,
        "hashtags close in meaning were added: {}",
        texts[2]
    );
    assert_eq!(shown["charged_milli"].as_i64(), Some(succeeded * each));
    assert_eq!(
        rest::balance(&server, &alice).await,
        before - succeeded * each,
        "charged once, for the variations offered"
    );
    let (_, bill) = get(
        &server,
        &format!("/api/v1/accounts/{}/billing", alice.account_id),
        &t,
    )
    .await;
    assert_eq!(
        bill["month"]["generations"], 1,
        "one request is one generation of the month's allowance: {bill}"
    );

    // Selecting writes the variation into the document as a live edit.
    let (s, selected) = post(
        &server,
        &format!("/api/v1/documents/menu/generations/{id}/select"),
        &t,
        json!({ "index": 2 }),
    )
    .await;
    assert_eq!(
        (s, selected["selected"].as_u64()),
        (200, Some(2)),
        "{selected}"
    );
    assert!(
        writer.wait(5, |c| c.text() == texts[2]).await,
        "the editor sees the chosen variation: {:?}",
        writer.text()
    );
    let (_, versions) = get(&server, "/api/v1/documents/menu/versions", &t).await;
    assert!(versions
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["name"] == "Before the AI variation “With hashtags”"));

    // Every batch fails: the generation fails, and the held credits all come back.
    faults(
        &server,
        "all-minilm-l6-v2",
        json!({ "panic_batches": 1000 }),
    )
    .await;
    let before = rest::balance(&server, &alice).await;
    let (s, g) = post(&server, "/api/v1/documents/menu/generations", &t, json!({})).await;
    assert_eq!(s, 202);
    let failed_id = g["generation_id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/documents/menu/generations/{failed_id}");
    let settled = wait_for(60, async || {
        get(&server, &path, &t).await.1["status"] != "pending"
    })
    .await;
    assert!(settled);
    let (_, g) = get(&server, &path, &t).await;
    assert_eq!(
        (g["status"].as_str(), g["charged_milli"].as_i64()),
        (Some("failed"), Some(0)),
        "{g}"
    );
    assert!(g["error"].as_str().is_some());
    assert_eq!(
        rest::balance(&server, &alice).await,
        before,
        "nothing charged"
    );
    faults(&server, "all-minilm-l6-v2", json!({ "panic_batches": 0 })).await;
    crate::jobs::clean_up(&p).await;
}

/// Retention (seed 004 §7.5): once a generation is old enough (here 8 s, in production 30
/// days), the variations nobody chose are dropped; the chosen one stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generations_unchosen_variations_are_dropped_when_it_is_old_enough() {
    let dir = models(true);
    let server = ai_server(dir.path(), &[("CREO_GENERATION_RETENTION_MS", "8000")]);
    let alice = register(&server, "alice@example.com").await;
    let t = alice.access.clone();
    ready(&server, &t, "all-minilm-l6-v2", 1, 20).await;
    let purchase = json!({ "id": "evt_keep", "type": "credits.purchased",
        "data": { "account_id": alice.account_id, "credits_milli": 10_000 } });
    assert_eq!(
        rest::webhook(&server, purchase, rest::WEBHOOK_SECRET, 0)
            .await
            .0,
        200
    );
    let text = "Fresh bread every morning from six. Sourdough, rye and croissants. #bakery";
    let _writer = document_with(&server, &t, "bread", text).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (s, g) = post(
        &server,
        "/api/v1/documents/bread/generations",
        &t,
        json!({}),
    )
    .await;
    assert_eq!(s, 202, "{g}");
    let path = format!(
        "/api/v1/documents/bread/generations/{}",
        g["generation_id"].as_str().unwrap()
    );
    assert!(
        wait_for(60, async || get(&server, &path, &t).await.1["status"]
            == "done")
        .await
    );
    let (s, chosen) = post(
        &server,
        &format!("{path}/select"),
        &t,
        json!({ "index": 1 }),
    )
    .await;
    assert_eq!(s, 200, "{chosen}");
    assert_eq!(
        chosen["variations"].as_array().unwrap().len(),
        4,
        "all four until retention"
    );
    assert!(
        wait_for(30, async || !get(&server, &path, &t).await.1["pruned_at"]
            .is_null())
        .await,
        "pruned once old enough"
    );
    let (_, kept) = get(&server, &path, &t).await;
    let left: Vec<u64> = kept["variations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["index"].as_u64().unwrap())
        .collect();
    assert_eq!(left, [1], "only the chosen variation stays: {kept}");
    assert_eq!(kept["selected"], 1);
}
