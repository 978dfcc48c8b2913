//! The browser editor: the files `npm run build` leaves in `frontend/dist` (`frontend` in the
//! configuration), served at `/`. Paths that are no file get `index.html`, so a reload on any of
//! the editor's own addresses opens the editor.

use std::path::Path;

use actix_files::{Files, NamedFile};
use actix_web::dev::{fn_service, ServiceRequest, ServiceResponse};
use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig, dir: &Path) {
    let index = dir.join("index.html");
    if !index.is_file() {
        return;
    }
    cfg.service(
        Files::new("/", dir)
            .index_file("index.html")
            .default_handler(fn_service(move |req: ServiceRequest| {
                let index = index.clone();
                async move {
                    let (req, _) = req.into_parts();
                    let file = NamedFile::open_async(&index).await?;
                    Ok(ServiceResponse::new(req.clone(), file.into_response(&req)))
                }
            })),
    );
}
