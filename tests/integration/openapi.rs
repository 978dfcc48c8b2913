//! The OpenAPI document served at `/api/v1/openapi.json` validates with
//! `openapi-spec-validator`, the check client generators (openapi-typescript, openapi-generator)
//! rely on: every path parameter declared, every operation id unique. The browser editor's API
//! types are generated from it (`frontend/src/generated/openapi.d.ts`, by openapi-typescript),
//! and must match what the server serves now.

use std::path::PathBuf;
use std::process::Command;

use crate::common::{http, Server};

/// The server's OpenAPI document, as a file.
async fn served_document() -> tempfile::NamedTempFile {
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
    file
}

#[tokio::test]
async fn the_openapi_document_validates_for_client_generators() {
    let vendor = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py-openapi");
    assert!(
        vendor.join("openapi_spec_validator").exists(),
        "openapi-spec-validator is missing: run scripts/install-openapi-validator.sh (scripts/test.sh does)"
    );
    let file = served_document().await;
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

/// The editor's API types are what openapi-typescript makes of the served document. When the
/// API changes, `CREO_WRITE_API_TYPES=1 cargo test --test integration openapi` rewrites them.
#[tokio::test]
async fn the_editor_api_types_are_generated_from_the_served_document() {
    let frontend = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("frontend");
    let generator = frontend.join("node_modules/.bin/openapi-typescript");
    assert!(
        generator.exists(),
        "openapi-typescript is missing: run `npm ci --prefix frontend` (scripts/test.sh does)"
    );
    let file = served_document().await;
    let generated = tempfile::Builder::new().suffix(".d.ts").tempfile().unwrap();
    let out = Command::new(&generator)
        .arg(file.path())
        .arg("-o")
        .arg(generated.path())
        .output()
        .expect("openapi-typescript runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fresh = std::fs::read_to_string(generated.path()).unwrap();
    let committed_path = frontend.join("src/generated/openapi.d.ts");
    if std::env::var_os("CREO_WRITE_API_TYPES").is_some() {
        std::fs::write(&committed_path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == fresh,
        "frontend/src/generated/openapi.d.ts is not what the server's OpenAPI document generates: \
         run `CREO_WRITE_API_TYPES=1 cargo test --test integration openapi` and commit it"
    );
}
