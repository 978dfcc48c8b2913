//! The media library's work: what an upload is (`detect`), images checked and cleaned
//! (`images`), videos measured and cleaned (`video`), where the bytes live (`files`), and the
//! upload from first byte to stored row (`library`). The row is creo-core's `media::Medium`;
//! the HTTP shell is `http/media.rs`.

pub mod detect;
pub mod files;
pub mod images;
pub mod library;
pub mod links;
pub mod renditions;
pub mod video;

pub use library::{Library, Upload, UploadError};
