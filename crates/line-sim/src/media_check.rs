//! LINE's side of media messages: the LINE app fetches `originalContentUrl` and
//! `previewImageUrl` from the sender's server and plays them only if they are what LINE
//! supports. [`LineSim::check_media`] does the same with every image, audio and video message
//! the desk sent, and says what LINE would reject:
//!
//! - image: JPEG or PNG, at most 10 MB; preview JPEG or PNG, at most 1 MB;
//! - audio: m4a or mp3, with `duration` within 5 % of the file's real length;
//! - video: mp4 (not 3gp), with a video stream; preview JPEG or PNG ≤ 1 MB with the video's
//!   aspect ratio (±1 %).
//!
//! The files are measured with `ffprobe` (Debian package `ffmpeg`), independently of the
//! desk's own parsing; without it the check reports that it could not measure.

use std::path::PathBuf;
use std::process::Command;

use serde::Serialize;
use serde_json::Value;

use crate::sim::LineSim;

const MB: usize = 1024 * 1024;
const IMAGE_MAX: usize = 10 * MB;
const PREVIEW_MAX: usize = MB;

/// What fetching one media message's URLs showed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaVerdict {
    /// `image`, `audio` or `video`.
    pub message_type: String,
    /// `originalContentUrl`.
    pub url: String,
    /// The original's `Content-Type` and size.
    pub content_type: Option<String>,
    pub bytes: usize,
    /// Audio and video: the length ffprobe measured, and the `duration` declared (audio).
    pub measured_duration_ms: Option<u64>,
    pub declared_duration_ms: Option<u64>,
    /// Video: display width / height; preview: width / height.
    pub video_aspect: Option<f64>,
    pub preview_aspect: Option<f64>,
    pub preview_bytes: Option<usize>,
    /// Why LINE would not show it; empty when it would.
    pub problems: Vec<String>,
}

impl MediaVerdict {
    /// LINE would show it.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One fetched URL.
struct Fetched {
    content_type: Option<String>,
    body: Vec<u8>,
}

/// What ffprobe says about a file.
#[derive(Debug, Default)]
struct Probe {
    format_name: String,
    duration_ms: Option<u64>,
    /// (codec type, codec name, display aspect ratio).
    streams: Vec<(String, String, Option<f64>)>,
}

impl LineSim {
    /// Fetches and checks the media of every message accepted so far, as the LINE app would.
    pub async fn check_media(&self) -> Vec<MediaVerdict> {
        let http = reqwest::Client::new();
        let mut verdicts = Vec::new();
        let messages: Vec<Value> = self
            .sent()
            .into_iter()
            .filter(|r| r.delivered)
            .flat_map(|r| r.messages)
            .collect();
        for message in messages {
            let kind = message["type"].as_str().unwrap_or_default().to_owned();
            if matches!(kind.as_str(), "image" | "audio" | "video") {
                verdicts.push(check(&http, &kind, &message).await);
            }
        }
        verdicts
    }
}

async fn check(http: &reqwest::Client, kind: &str, message: &Value) -> MediaVerdict {
    let url = message["originalContentUrl"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut v = MediaVerdict {
        message_type: kind.to_owned(),
        url: url.clone(),
        content_type: None,
        bytes: 0,
        measured_duration_ms: None,
        declared_duration_ms: message["duration"].as_u64(),
        video_aspect: None,
        preview_aspect: None,
        preview_bytes: None,
        problems: Vec::new(),
    };
    let original = match fetch(http, &url).await {
        Ok(f) => f,
        Err(e) => {
            v.problems.push(format!("originalContentUrl: {e}"));
            return v;
        }
    };
    v.content_type = original.content_type.clone();
    v.bytes = original.body.len();
    let probed = probe(&original.body).await;
    match kind {
        "image" => {
            image_rules("originalContentUrl", &original, IMAGE_MAX, &mut v.problems);
        }
        "audio" => {
            let is_m4a = is_iso_media(&original.body) && !is_3gp(&original.body);
            let is_mp3 = original.body.starts_with(b"ID3")
                || (original.body.len() > 2
                    && original.body[0] == 0xFF
                    && original.body[1] & 0xE0 == 0xE0);
            if !(is_m4a || is_mp3) {
                v.problems.push("originalContentUrl: not m4a or mp3".into());
            }
            match probed {
                Ok(p) => {
                    v.measured_duration_ms = p.duration_ms;
                    if !(p.format_name.contains("mp3") || p.format_name.contains("mp4")) {
                        v.problems
                            .push(format!("ffprobe reads it as `{}`", p.format_name));
                    }
                    match (p.duration_ms, v.declared_duration_ms) {
                        (Some(real), Some(declared)) => {
                            let off = real.abs_diff(declared) as f64 / real.max(1) as f64;
                            if off > 0.05 {
                                v.problems.push(format!(
                                    "duration {declared} ms is {:.1} % off the file's {real} ms",
                                    off * 100.0
                                ));
                            }
                        }
                        (None, _) => v.problems.push("the audio has no measurable length".into()),
                        (_, None) => v.problems.push("duration is missing".into()),
                    }
                }
                Err(e) => v.problems.push(e),
            }
        }
        "video" => {
            if !is_iso_media(&original.body) || is_3gp(&original.body) {
                v.problems
                    .push("originalContentUrl: not an mp4 file".into());
            }
            match probed {
                Ok(p) => {
                    v.measured_duration_ms = p.duration_ms;
                    v.video_aspect = p
                        .streams
                        .iter()
                        .find(|(t, _, _)| t == "video")
                        .and_then(|(_, _, a)| *a);
                    if v.video_aspect.is_none() {
                        v.problems.push("the mp4 has no video stream".into());
                    }
                }
                Err(e) => v.problems.push(e),
            }
        }
        _ => {}
    }
    if kind == "image" || kind == "video" {
        let preview_url = message["previewImageUrl"].as_str().unwrap_or_default();
        match fetch(http, preview_url).await {
            Ok(preview) => {
                v.preview_bytes = Some(preview.body.len());
                image_rules("previewImageUrl", &preview, PREVIEW_MAX, &mut v.problems);
                match probe(&preview.body).await {
                    Ok(p) => {
                        v.preview_aspect = p.streams.first().and_then(|(_, _, a)| *a);
                    }
                    Err(e) => v.problems.push(e),
                }
                if let (Some(video), Some(preview)) = (v.video_aspect, v.preview_aspect)
                    && (preview / video - 1.0).abs() > 0.01
                {
                    v.problems.push(format!(
                        "preview aspect ratio {preview:.4} differs from the video's {video:.4} by more than 1 %"
                    ));
                }
            }
            Err(e) => v.problems.push(format!("previewImageUrl: {e}")),
        }
    }
    v
}

/// JPEG or PNG (bytes and `Content-Type` agree), within `max` bytes.
fn image_rules(field: &str, f: &Fetched, max: usize, problems: &mut Vec<String>) {
    let jpeg = f.body.starts_with(&[0xFF, 0xD8, 0xFF]);
    let png = f.body.starts_with(b"\x89PNG\r\n\x1a\n");
    if !(jpeg || png) {
        problems.push(format!("{field}: not a JPEG or PNG image"));
    }
    let declared = f.content_type.as_deref().unwrap_or_default();
    if (jpeg && declared != "image/jpeg") || (png && declared != "image/png") {
        problems.push(format!("{field}: served as `{declared}`"));
    }
    if f.body.len() > max {
        problems.push(format!(
            "{field}: {} bytes, more than LINE's {max}",
            f.body.len()
        ));
    }
}

fn is_iso_media(b: &[u8]) -> bool {
    b.len() >= 12 && &b[4..8] == b"ftyp"
}

fn is_3gp(b: &[u8]) -> bool {
    is_iso_media(b) && b[8..10] == *b"3g"
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Fetched, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("cannot fetch: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("answered {}", response.status()));
    }
    let declared_len = response.content_length();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_vec();
    if declared_len.is_some_and(|l| l != body.len() as u64) {
        return Err("Content-Length does not match the body".into());
    }
    Ok(Fetched { content_type, body })
}

/// Runs ffprobe on the bytes (through a temporary file).
async fn probe(bytes: &[u8]) -> Result<Probe, String> {
    let path: PathBuf = std::env::temp_dir().join(format!("line-sim-{}", uuid::Uuid::new_v4()));
    std::fs::write(&path, bytes).map_err(|e| format!("temporary file: {e}"))?;
    let probe_path = path.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "format=format_name,duration:stream=codec_type,codec_name,width,height,sample_aspect_ratio",
                "-of",
                "json",
            ])
            .arg(&probe_path)
            .output()
    })
    .await;
    let _ = std::fs::remove_file(&path);
    let output = match output {
        Ok(Ok(o)) if o.status.success() => o,
        Ok(Ok(o)) => {
            return Err(format!(
                "ffprobe cannot read it: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        _ => return Err("cannot measure: ffprobe (Debian package ffmpeg) is not installed".into()),
    };
    let json: Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("ffprobe output: {e}"))?;
    let duration_ms = json["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse::<f64>().ok())
        .map(|s| (s * 1000.0).round() as u64);
    let streams = json["streams"]
        .as_array()
        .map(|streams| {
            streams
                .iter()
                .map(|s| {
                    let sar = s["sample_aspect_ratio"]
                        .as_str()
                        .and_then(|r| r.split_once(':'))
                        .and_then(|(n, d)| Some(n.parse::<f64>().ok()? / d.parse::<f64>().ok()?))
                        .filter(|r| r.is_finite() && *r > 0.0)
                        .unwrap_or(1.0);
                    let aspect = match (s["width"].as_f64(), s["height"].as_f64()) {
                        (Some(w), Some(h)) if h > 0.0 => Some(w * sar / h),
                        _ => None,
                    };
                    (
                        s["codec_type"].as_str().unwrap_or_default().to_owned(),
                        s["codec_name"].as_str().unwrap_or_default().to_owned(),
                        aspect,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Probe {
        format_name: json["format"]["format_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        duration_ms,
        streams,
    })
}
