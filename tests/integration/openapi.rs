//! The OpenAPI document served at `/api/v1/openapi.json` validates with
//! `openapi-spec-validator`, the check client generators (openapi-typescript, openapi-generator)
//! rely on: every path parameter declared, every operation id unique.

use std::path::PathBuf;
use std::process::Command;

use crate::common::{http, Server};

#[tokio::test]
async fn the_openapi_document_validates_for_client_generators() {
    let vendor = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py-openapi");
    assert!(
        vendor.join("openapi_spec_validator").exists(),
        "openapi-spec-validator is missing: run scripts/install-openapi-validator.sh (scripts/test.sh does)"
    );
    let server = Server::start();
    let document = http()
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let file = tempfile::Builder::new().suffix(".json").tempfile().unwrap();
    std::fs::write(file.path(), document).unwrap();
    let out = Command::new("python3")
        .env("PYTHONPATH", &vendor)
        .args(["-m", "openapi_spec_validator"])
        .arg(file.path())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
