use std::time::Duration;

use creo::auth::Role;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_with_1001_flushes_and_edits_survive_restart() {
    let mut server = Server::start();
    let tok = token("acme", "u", Role::Editor);
    let a = YClient::connect(&server.ws("brief", &tok)).await;
    let b = YClient::connect(&server.ws("brief", &tok)).await;
    assert!(a.synced().await && b.synced().await);
    for i in 0..100 {
        a.append(&format!("a{i};"));
        b.append(&format!("b{i};"));
    }
    // Both clients must hold all 200 appends before the shutdown: equal lengths part way
    // through the exchange would snapshot a text the server later outgrows.
    let full: usize = (0..100).map(|i| format!("a{i};b{i};").len()).sum();
    assert!(a.wait(10, |c| c.text().len() == full).await);
    assert!(b.wait(10, |c| c.text().len() == full).await);
    let before = a.text();
    assert_eq!(b.text(), before);

    let status = server.terminate();
    assert!(status.success(), "SIGTERM exit status {status:?}");
    assert_eq!(a.closed_with(5).await, Some(1001));
    assert_eq!(b.closed_with(5).await, Some(1001));

    server.restart();
    let c = YClient::connect(&server.ws("brief", &tok)).await;
    assert!(c.synced().await);
    assert_eq!(c.text(), before);
}

/// Clients edit and observe while the server is SIGKILLed; every update any client had
/// received, and every update acknowledged as durable, is there after restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_loses_no_update_that_anyone_saw() {
    let mut server = Server::start();
    let tok = token("acme", "u", Role::Editor);
    let observer = YClient::connect(&server.ws("hot-doc", &tok)).await;
    assert!(observer.synced().await);
    let mut writers = Vec::new();
    for _ in 0..4 {
        let w = YClient::connect(&format!("{}&ack=1", server.ws("hot-doc", &tok))).await;
        assert!(w.synced().await);
        writers.push(w);
    }
    let writers = std::sync::Arc::new(writers);
    let typing = {
        let writers = writers.clone();
        tokio::spawn(async move {
            for n in 0.. {
                for (i, w) in writers.iter().enumerate() {
                    w.append(&format!("<{i}:{n}>"));
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
                if n > 5000 {
                    break;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    server.kill();
    typing.abort();
    // What the observer received is everything that was broadcast, hence durable.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let observed = observer.text();
    let acked: Vec<u64> = writers
        .iter()
        .map(|w| w.seen.lock().unwrap().acked)
        .collect();
    assert!(
        observed.len() > 100,
        "too little traffic before the kill: {observed}"
    );

    server.restart();
    let stored = stored_text(&server, &tok, "hot-doc").await;
    let tokens: Vec<&str> = observed.split_inclusive('>').collect();
    for t in &tokens {
        assert!(
            stored.contains(t),
            "update {t} was seen by a client but lost"
        );
    }
    for (i, n) in acked.iter().enumerate() {
        for k in 0..*n {
            let t = format!("<{i}:{k}>");
            assert!(stored.contains(&t), "update {t} was acknowledged but lost");
        }
    }
    println!(
        "sigkill: {} updates observed, {:?} acknowledged, all present after restart",
        tokens.len(),
        acked
    );
}

/// Documents unload as soon as their last editor leaves; clients and REST writers that arrive
/// while one is unloading must reach a live actor and lose nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unload_then_rejoin_race_loses_nothing() {
    let server = Server::start_with(&[("CREO_UNLOAD_GRACE_MS", "0")]);
    let tok = token("acme", "u", Role::Editor);
    let mut expected = Vec::new();
    for round in 0..40 {
        let c = YClient::connect(&format!("{}&ack=1", server.ws("flicker", &tok))).await;
        assert!(c.synced().await, "round {round}: no sync");
        let text = c.text();
        for t in &expected {
            assert!(text.contains(t), "round {round}: lost {t}");
        }
        let mine = format!("<ws{round}>");
        c.append(&mine);
        assert!(c.wait(5, |c| c.seen.lock().unwrap().acked == 1).await);
        expected.push(mine);
        c.close().await;
        drop(c);
        // A REST write lands right as the document starts unloading.
        let resp = post_update(
            &server,
            &tok,
            "flicker",
            text_update(&format!("<rest{round}>")),
        )
        .await;
        assert_eq!(resp.status(), 200, "round {round}");
        expected.push(format!("<rest{round}>"));
        if round % 3 == 0 {
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    }
    let stored = stored_text(&server, &tok, "flicker").await;
    for t in &expected {
        assert!(stored.contains(t), "lost {t}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_histories_are_compacted_and_reload_intact() {
    let mut server = Server::start_with(&[("CREO_COMPACT_AFTER_UPDATES", "200")]);
    let tok = token("acme", "u", Role::Editor);
    let c = YClient::connect(&format!("{}&ack=1", server.ws("long", &tok))).await;
    assert!(c.synced().await);
    for i in 0..1000 {
        c.append(&format!("{i} "));
    }
    assert!(c.wait(10, |c| c.seen.lock().unwrap().acked == 1000).await);
    let text = c.text();
    // Compaction keeps the log tail short while editors type...
    let mut settled = doc_info(&server, &tok, "long").await;
    for _ in 0..100 {
        if settled["log_len"].as_u64().unwrap() < 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        settled = doc_info(&server, &tok, "long").await;
    }
    assert!(settled["log_len"].as_u64().unwrap() < 200, "{settled}");
    assert!(server.metric("creo_compactions_total").await >= 1.0);
    server.kill();
    server.restart();
    // ...so a cold load reads one snapshot plus that tail, and finds every edit.
    assert_eq!(stored_text(&server, &tok, "long").await, text);
    let reloaded = doc_info(&server, &tok, "long").await;
    assert!(reloaded["epoch"].as_i64().unwrap() >= 1, "{reloaded}");
    assert!(reloaded["log_len"].as_u64().unwrap() < 200, "{reloaded}");
}
