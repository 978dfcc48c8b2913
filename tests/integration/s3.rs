//! A real S3-compatible server for the media storage tests: moto's server (PyPI, installed
//! into target/py-moto by scripts/install-s3-server.sh, which scripts/test.sh runs), on a free
//! port, with one bucket. It speaks the S3 REST protocol; creo signs its requests as it would
//! for AWS.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "creo-test-key";
pub const SECRET_KEY: &str = "creo-test-secret";
pub const REGION: &str = "eu-west-1";

pub struct S3 {
    pub endpoint: String,
    child: Child,
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn vendor() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py-moto");
    assert!(
        dir.join("moto").exists(),
        "moto is missing: run scripts/install-s3-server.sh (scripts/test.sh does)"
    );
    dir
}

impl S3 {
    /// A running server holding an empty bucket named `bucket`.
    pub async fn start(bucket: &str) -> S3 {
        let port = crate::smtp::free_port();
        let child = Command::new("python3")
            .env("PYTHONPATH", vendor())
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs moto's server");
        let s3 = S3 {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto's server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let made = reqwest::Client::new()
            .put(format!("{}/{bucket}", s3.endpoint))
            .body(format!(
                "<CreateBucketConfiguration><LocationConstraint>{REGION}</LocationConstraint></CreateBucketConfiguration>"
            ))
            .send()
            .await
            .unwrap();
        assert!(made.status().is_success(), "bucket: {}", made.status());
        s3
    }

    /// What a creo process needs to keep its media in `bucket` here.
    pub fn env(&self, bucket: &str) -> Vec<(String, String)> {
        vec![
            ("CREO_MEDIA_STORE".into(), format!("s3://{bucket}/media")),
            ("CREO_MEDIA_S3_ENDPOINT".into(), self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".into(), ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), SECRET_KEY.into()),
            ("AWS_REGION".into(), REGION.into()),
        ]
    }
}
