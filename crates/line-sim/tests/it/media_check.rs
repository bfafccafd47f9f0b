//! `LineSim::check_media`: LINE's view of media messages. Files made with ffmpeg's lavfi
//! sources are served by a tiny server; what LINE would refuse is reported.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};

use crate::common::{USER, authed_env};

/// Runs ffmpeg with `args` and returns the output's bytes.
fn ffmpeg(ext: &str, args: &[&str]) -> Vec<u8> {
    let out: PathBuf =
        std::env::temp_dir().join(format!("sim-media-{}.{ext}", uuid::Uuid::new_v4()));
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(&out)
        .status()
        .expect("ffmpeg runs (Debian package ffmpeg)");
    assert!(status.success());
    let bytes = std::fs::read(&out).expect("output");
    let _ = std::fs::remove_file(out);
    bytes
}

/// File name → (content type, bytes).
type Files = HashMap<&'static str, (&'static str, Vec<u8>)>;

/// Serves `files`; returns the base URL.
async fn serve(files: Files) -> String {
    let files = Arc::new(files);
    let app = axum::Router::new()
        .route(
            "/{name}",
            get(
                |State(files): State<Arc<Files>>, Path(name): Path<String>| async move {
                    let (content_type, bytes) = files[name.as_str()].clone();
                    ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
                },
            ),
        )
        .with_state(files);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn media_is_checked_as_line_would() {
    let tone = ffmpeg(
        "mp3",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=duration=2",
            "-c:a",
            "libmp3lame",
            "-f",
            "mp3",
        ],
    );
    let video_3gp = ffmpeg(
        "3gp",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=10:duration=1",
            "-c:v",
            "mpeg4",
            "-f",
            "3gp",
        ],
    );
    let video_mp4 = ffmpeg(
        "mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=10:duration=1",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-f",
            "mp4",
        ],
    );
    let square = ffmpeg(
        "jpg",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=100x100",
            "-frames:v",
            "1",
            "-f",
            "image2",
        ],
    );
    let four_three = ffmpeg(
        "jpg",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=160x120",
            "-frames:v",
            "1",
            "-f",
            "image2",
        ],
    );
    let base = serve(HashMap::from([
        ("tone.mp3", ("audio/mpeg", tone)),
        (
            "doc.jpg",
            ("image/jpeg", b"%PDF-1.7 not a picture".to_vec()),
        ),
        ("clip.3gp", ("video/3gpp", video_3gp)),
        ("clip.mp4", ("video/mp4", video_mp4)),
        ("square.jpg", ("image/jpeg", square)),
        ("four-three.jpg", ("image/jpeg", four_three.clone())),
        ("mislabelled.png", ("image/png", four_three)),
    ]))
    .await;
    let url = |name: &str| format!("{base}/{name}");
    let messages: Vec<Value> = vec![
        json!({"type": "audio", "originalContentUrl": url("tone.mp3"), "duration": 2_000}),
        json!({"type": "audio", "originalContentUrl": url("tone.mp3"), "duration": 9_000}),
        json!({"type": "image", "originalContentUrl": url("doc.jpg"), "previewImageUrl": url("four-three.jpg")}),
        json!({"type": "video", "originalContentUrl": url("clip.mp4"), "previewImageUrl": url("four-three.jpg")}),
        json!({"type": "video", "originalContentUrl": url("clip.3gp"), "previewImageUrl": url("square.jpg")}),
    ];
    let (env, token) = authed_env().await;
    assert_eq!(env.push(&token, USER, &messages).await.status, 200);
    // A second request: the image's preview is a JPEG served as PNG.
    let mislabelled = json!({"type": "image", "originalContentUrl": url("four-three.jpg"), "previewImageUrl": url("mislabelled.png")});
    assert_eq!(env.push(&token, USER, &[mislabelled]).await.status, 200);

    let verdicts = env.sim.check_media().await;
    let problems: Vec<String> = verdicts.iter().map(|v| v.problems.join(" | ")).collect();
    assert_eq!(verdicts.len(), 6);
    assert!(verdicts[0].ok(), "{problems:?}");
    let measured = verdicts[0].measured_duration_ms.expect("measured");
    assert!(measured.abs_diff(2_000) < 100, "{measured}");
    assert!(problems[1].contains("% off the file's"), "{problems:?}");
    assert!(problems[2].contains("not a JPEG or PNG"), "{problems:?}");
    assert!(verdicts[3].ok(), "{problems:?}");
    assert!(problems[4].contains("not an mp4"), "{problems:?}");
    assert!(problems[4].contains("aspect ratio"), "{problems:?}");
    assert!(
        problems[5].contains("served as `image/png`"),
        "{problems:?}"
    );
}
