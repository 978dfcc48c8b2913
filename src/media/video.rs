//! An uploaded video measured with Debian's `ffprobe` and its container metadata (creation
//! time, GPS position, device and owner tags, data tracks such as a camera's GPS log) dropped
//! with `ffmpeg`, streams copied as they are. Both run as plain processes, never through a
//! shell, on a file of creo's own naming, with a timeout, a memory and CPU cap, and killed if
//! creo stops waiting.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// How long one `ffprobe` or `ffmpeg` run may take.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Address space and CPU seconds one run may use.
const MAX_MEMORY: u64 = 1 << 30;
const MAX_CPU_SECONDS: u64 = 60;
/// The longest and largest video taken ("short videos").
pub const MAX_DURATION_MS: u64 = 15 * 60 * 1000;
pub const MAX_SIDE: u32 = 4_096;

#[derive(Debug, Clone, PartialEq)]
pub struct Probed {
    /// As shown (a phone's portrait video recorded sideways with a rotation is tall).
    pub width: u32,
    pub height: u32,
    pub duration_ms: u64,
    pub frame_rate: Option<f64>,
    pub video_codec: String,
    pub audio_codec: Option<String>,
    pub pixel_format: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("the video cannot be read: {0}")]
    Unreadable(String),
    #[error("the video is {0}")]
    Limits(String),
    /// `ffprobe` or `ffmpeg` is missing or failed on creo's side.
    #[error("the video could not be processed: {0}")]
    Tool(String),
}

/// `program` with `args`, capped, and its standard output when it succeeds.
async fn run(program: &str, args: &[OsString]) -> Result<Vec<u8>, Refused> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // SAFETY: between fork and exec only setrlimit(2) runs, which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            rlimit::setrlimit(rlimit::Resource::AS, MAX_MEMORY, MAX_MEMORY)?;
            rlimit::setrlimit(rlimit::Resource::CPU, MAX_CPU_SECONDS, MAX_CPU_SECONDS)?;
            Ok(())
        });
    }
    let output = tokio::time::timeout(TIMEOUT, command.output())
        .await
        .map_err(|_| Refused::Limits(format!("not processed within {}s", TIMEOUT.as_secs())))?
        .map_err(|e| Refused::Tool(format!("{program}: {e}")))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let said: String = said
            .lines()
            .last()
            .unwrap_or("no message")
            .chars()
            .take(300)
            .collect();
        return Err(Refused::Unreadable(said));
    }
    Ok(output.stdout)
}

fn words(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

/// What the video at `path` is.
pub async fn probe(path: &Path) -> Result<Probed, Refused> {
    let mut args = words(&[
        "-v",
        "error",
        "-probesize",
        "32M",
        "-analyzeduration",
        "20M",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
    ]);
    args.push(path.into());
    let out = run("ffprobe", &args).await?;
    let probe: serde_json::Value =
        serde_json::from_slice(&out).map_err(|e| Refused::Tool(format!("ffprobe: {e}")))?;
    read(&probe)
}

/// What `ffprobe`'s JSON says, checked against the limits.
pub fn read(probe: &serde_json::Value) -> Result<Probed, Refused> {
    let empty = Vec::new();
    let streams = probe["streams"].as_array().unwrap_or(&empty);
    let video = streams
        .iter()
        // A cover picture is a "video" stream too: the video is the one that is not.
        .find(|s| s["codec_type"] == "video" && s["disposition"]["attached_pic"] != 1)
        .ok_or_else(|| Refused::Unreadable("it has no video stream".into()))?;
    let audio = streams.iter().find(|s| s["codec_type"] == "audio");
    let (mut width, mut height) = (
        video["width"].as_u64().unwrap_or(0) as u32,
        video["height"].as_u64().unwrap_or(0) as u32,
    );
    // A rotation of a quarter turn swaps what people see.
    let rotation = video["side_data_list"]
        .as_array()
        .and_then(|l| l.iter().find_map(|d| d["rotation"].as_f64()))
        .or_else(|| {
            video["tags"]["rotate"]
                .as_str()
                .and_then(|r| r.parse().ok())
        })
        .unwrap_or(0.0);
    if (rotation.abs() - 90.0).abs() < 1.0 || (rotation.abs() - 270.0).abs() < 1.0 {
        std::mem::swap(&mut width, &mut height);
    }
    let seconds: f64 = probe["format"]["duration"]
        .as_str()
        .or_else(|| video["duration"].as_str())
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| Refused::Unreadable("it does not say how long it is".into()))?;
    let duration_ms = (seconds * 1000.0).round().max(0.0) as u64;
    let frame_rate = video["avg_frame_rate"]
        .as_str()
        .or_else(|| video["r_frame_rate"].as_str())
        .and_then(|r| {
            let (n, d) = r.split_once('/')?;
            let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
            (d > 0.0 && n > 0.0).then(|| (n / d * 1000.0).round() / 1000.0)
        });
    if width == 0 || height == 0 {
        return Err(Refused::Unreadable("its video stream has no size".into()));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(Refused::Limits(format!(
            "{width} x {height}: at most {MAX_SIDE} on a side"
        )));
    }
    if duration_ms > MAX_DURATION_MS {
        return Err(Refused::Limits(format!(
            "{} s long: at most {} s",
            duration_ms / 1000,
            MAX_DURATION_MS / 1000
        )));
    }
    Ok(Probed {
        width,
        height,
        duration_ms,
        frame_rate,
        video_codec: video["codec_name"]
            .as_str()
            .unwrap_or("unknown")
            .to_string(),
        audio_codec: audio
            .and_then(|a| a["codec_name"].as_str())
            .map(str::to_string),
        pixel_format: video["pix_fmt"].as_str().map(str::to_string),
    })
}

/// The video at `input` written to `output` with its video and audio streams copied as they
/// are and nothing else: no container metadata, no chapters, no data or subtitle tracks.
pub async fn strip(input: &Path, output: &Path, content_type: &str) -> Result<(), Refused> {
    let format = match content_type {
        "video/quicktime" => "mov",
        "video/webm" => "webm",
        _ => "mp4",
    };
    let mut args = words(&["-v", "error", "-nostdin", "-y", "-i"]);
    args.push(input.into());
    args.extend(words(&[
        "-map",
        // Capital V: video streams that are not attached pictures (cover art is a JPEG with
        // its own EXIF).
        "0:V",
        "-map",
        "0:a?",
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
        "-c",
        "copy",
    ]));
    if format != "webm" {
        // Playable while it downloads.
        args.extend(words(&["-movflags", "+faststart"]));
    }
    args.extend(words(&["-f", format]));
    args.push(output.into());
    run("ffmpeg", &args).await.map(|_| ())
}

/// The frame of the video at `input` shown `at_ms` in (the first, for a shorter video), written
/// to `output` as a PNG at the size people see it (rotation applied): what its thumbnails are
/// made from.
pub async fn frame(input: &Path, output: &Path, at_ms: u64) -> Result<(), Refused> {
    let mut args = words(&["-v", "error", "-nostdin", "-y", "-ss"]);
    args.push(format!("{}.{:03}", at_ms / 1000, at_ms % 1000).into());
    args.push("-i".into());
    args.push(input.into());
    args.extend(words(&[
        "-map",
        "0:V:0",
        "-frames:v",
        "1",
        "-an",
        "-f",
        "image2",
        "-c:v",
        "png",
    ]));
    args.push(output.into());
    run("ffmpeg", &args).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_sideways_phone_video_is_tall_and_limits_hold() {
        let probe = json!({
            "streams": [
                { "codec_type": "video", "codec_name": "h264", "width": 1920, "height": 1080,
                  "avg_frame_rate": "30000/1001", "pix_fmt": "yuv420p",
                  "side_data_list": [{ "rotation": -90 }] },
                { "codec_type": "audio", "codec_name": "aac" }
            ],
            "format": { "duration": "12.480000" }
        });
        let p = read(&probe).unwrap();
        assert_eq!((p.width, p.height), (1080, 1920));
        assert_eq!(p.duration_ms, 12_480);
        assert_eq!(p.frame_rate, Some(29.97));
        assert_eq!(p.audio_codec.as_deref(), Some("aac"));
        let long = json!({ "streams": [{ "codec_type": "video", "width": 640, "height": 360 }],
                           "format": { "duration": "3600" } });
        assert!(matches!(read(&long), Err(Refused::Limits(_))));
        let timeless = json!({ "streams": [{ "codec_type": "video", "width": 640, "height": 360 }],
                               "format": {} });
        assert!(matches!(read(&timeless), Err(Refused::Unreadable(_))));
        let cover_only = json!({ "streams": [{ "codec_type": "video", "width": 600, "height": 600,
                                               "disposition": { "attached_pic": 1 } }],
                                 "format": { "duration": "3" } });
        assert!(matches!(read(&cover_only), Err(Refused::Unreadable(_))));
        let sound = json!({ "streams": [{ "codec_type": "audio" }], "format": {} });
        assert!(matches!(read(&sound), Err(Refused::Unreadable(_))));
    }
}
