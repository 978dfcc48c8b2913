//! The media library's work: what an upload is, images checked and cleaned, renditions and
//! fonts (`creo_media`, re-exported here), videos measured and cleaned (`video`), where the
//! bytes live (`files`), signed links (`links`), the upload from first byte to stored row
//! (`library`), and uploads that come in several requests (`resumable`). The row is creo-core's `media::Medium`;
//! the HTTP shell is `http/media.rs`.

pub mod files;
pub mod library;
pub mod links;
pub mod resumable;
pub mod video;

pub use creo_media::{detect, fonts, images, renditions};

pub use library::{Library, Upload, UploadError};
