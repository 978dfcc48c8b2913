//! What creo checks in uploaded bytes, with no I/O, so the fuzz targets reach it as it runs:
//! what an upload is (`detect`), images decoded with limits and cleaned (`images`), their
//! smaller copies (`renditions`), and brand font files (`fonts`). The server's `media` module
//! streams, stores and runs `ffprobe` around it.

pub mod detect;
pub mod fonts;
pub mod images;
pub mod renditions;
