//! The server run in this process (`creo::server::serve_on`), as a test that wants no child
//! process or an application embedding creo would: it serves a real edit over a real socket and
//! stops, documents flushed, when its shutdown future completes.

use std::time::{Duration, Instant};

use creo::auth::Role;

use crate::common::{http, token, YClient, SECRET};

#[test]
fn the_server_runs_in_process_and_stops_when_asked() {
    let data = tempfile::tempdir().unwrap();
    let mut config = creo::config::Config::default();
    config.data = data.path().to_path_buf();
    config.jwt_secret = Some(SECRET.into());
    config.models = "/nonexistent".into();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        actix_rt::System::new().block_on(creo::server::serve_on(config, listener, async {
            let _ = stopped.await;
        }))
    });

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answer = http().get(format!("{base}/healthz")).send().await;
            if answer.is_ok_and(|r| r.status() == 200) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the in-process server never answered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let editor = token("acme", "ada", Role::Editor);
        let ws = format!(
            "{}/ws/in-process?token={editor}",
            base.replace("http://", "ws://")
        );
        let writer = YClient::connect(&ws).await;
        assert!(writer.synced().await);
        writer.append("written in process");
        let reader = YClient::connect(&ws).await;
        assert!(
            reader.wait(10, |c| c.text() == "written in process").await,
            "another editor receives the edit"
        );
    });
    stop.send(()).unwrap();
    server.join().unwrap().expect("a clean shutdown");
}
