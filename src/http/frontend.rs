//! The browser editor: the files `npm run build` leaves in `frontend/dist` (`frontend` in the
//! configuration), served at `/`.
//!
//! - Files under `assets/` carry a content hash in their names, so they are cached for a year
//!   (`immutable`); the build writes a brotli (`.br`) and a gzip (`.gz`) copy beside each, and
//!   the smallest one the browser accepts is sent, with no compression work per request.
//! - `index.html` must never be cached (it names the current assets): `no-cache`, as for any
//!   page.
//! - A path with no file extension is one of the editor's own addresses and gets `index.html`;
//!   a missing file (`/favicon.ico`, an old asset, a source map) is a plain 404, never the page.

use std::path::{Component, Path, PathBuf};

use actix_files::NamedFile;
use actix_web::http::header::{self, CacheControl, CacheDirective, ContentEncoding};
use actix_web::{web, HttpRequest, HttpResponse};

/// Where the editor's files are, for the handlers.
#[derive(Clone)]
struct Dist(PathBuf);

pub fn routes(cfg: &mut web::ServiceConfig, dir: &Path) {
    if !dir.join("index.html").is_file() {
        return;
    }
    cfg.app_data(web::Data::new(Dist(dir.to_path_buf())))
        .route("/", web::get().to(file))
        .route("/{path:.*}", web::get().to(file));
}

/// The encodings the build wrote, best first, with the suffix of their files.
const ENCODED: [(&str, &str, ContentEncoding); 2] = [
    ("br", ".br", ContentEncoding::Brotli),
    ("gzip", ".gz", ContentEncoding::Gzip),
];

async fn file(req: HttpRequest, dist: web::Data<Dist>) -> actix_web::Result<HttpResponse> {
    let path = req.match_info().get("path").unwrap_or("");
    // An unknown API or socket address is the API's 404, never the editor's page.
    let api = path.starts_with("api/") || path == "api" || path.starts_with("ws");
    let Some(relative) = safe_relative(path).filter(|_| !api) else {
        return Ok(HttpResponse::NotFound().finish());
    };
    let target = dist.0.join(&relative);
    let is_file = relative.extension().is_some();
    if is_file && !target.is_file() {
        return Ok(HttpResponse::NotFound().finish());
    }
    let page = !is_file || relative.extension().is_some_and(|e| e == "html");
    if page {
        let file = if is_file {
            target
        } else {
            dist.0.join("index.html")
        };
        let index = NamedFile::open_async(file).await?;
        let mut response = index.into_response(&req);
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-cache"),
        );
        return Ok(response);
    }
    let hashed = relative.starts_with("assets");
    let accepted = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = mime_guess::from_path(&target).first_or_octet_stream();
    let encoded = ENCODED.iter().find_map(|(name, suffix, encoding)| {
        let mut variant = target.clone().into_os_string();
        variant.push(suffix);
        let variant = PathBuf::from(variant);
        (accepts(accepted, name) && variant.is_file()).then_some((variant, *encoding))
    });
    let file = match &encoded {
        Some((variant, encoding)) => NamedFile::open_async(variant)
            .await?
            .set_content_encoding(*encoding),
        None => NamedFile::open_async(&target).await?,
    };
    let mut response = file.set_content_type(mime).into_response(&req);
    let headers = response.headers_mut();
    headers.insert(
        header::VARY,
        header::HeaderValue::from_static("Accept-Encoding"),
    );
    let cache = if hashed {
        CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(365 * 24 * 3600),
            CacheDirective::Extension("immutable".into(), None),
        ])
    } else {
        CacheControl(vec![CacheDirective::Public, CacheDirective::MaxAge(3600)])
    };
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_str(&cache.to_string()).expect("ascii"),
    );
    Ok(response)
}

/// `path` as a relative path inside the dist folder: no `..`, no root, no hidden files.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) if !part.to_string_lossy().starts_with('.') => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

/// Whether an `Accept-Encoding` value accepts `name` (a `q=0` refuses it).
fn accepts(header: &str, name: &str) -> bool {
    header.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        parts.next() == Some(name) && !parts.any(|p| p.replace(' ', "") == "q=0")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_never_leave_the_dist_folder() {
        assert_eq!(
            safe_relative("assets/index-1.js"),
            Some("assets/index-1.js".into())
        );
        assert_eq!(safe_relative("../etc/passwd"), None);
        assert_eq!(safe_relative("assets/../../x"), None);
        assert_eq!(safe_relative("/etc/passwd"), None);
        assert_eq!(safe_relative(".env"), None);
        assert_eq!(safe_relative(""), Some(PathBuf::new()));
    }

    #[test]
    fn encodings_follow_accept_encoding() {
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("gzip;q=1.0, br; q=0.5", "br"));
        assert!(!accepts("gzip, br;q=0", "br"));
        assert!(!accepts("", "gzip"));
        assert!(!accepts("brotli", "br"));
    }
}
