//! Real sample files made in the test: pictures with the image crate, audio and video with
//! ffmpeg's lavfi test sources (`sine`, `testsrc`).

use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

/// A sample upload: its name, bytes and what it is.
pub struct Sample {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    /// The LINE message type it must arrive as.
    pub line_type: &'static str,
}

/// A picture with smooth gradients (compresses like a photo).
pub fn picture(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
    let image = RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x + y) % 256) as u8,
        ])
    });
    encode(image, format)
}

/// A picture of noise: PNG cannot compress it, so `w × h × 3` bytes make a big file.
pub fn noise_png(w: u32, h: u32) -> Vec<u8> {
    let mut seed = 0x2545_f491_u32;
    let image = RgbImage::from_fn(w, h, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let [a, b, c, _] = seed.to_le_bytes();
        Rgb([a, b, c])
    });
    encode(image, ImageFormat::Png)
}

/// A noisy photo-sized JPEG (noise keeps it large, as a real photo is).
pub fn noise_jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut seed = 0x9e37_79b9_u32;
    let image = RgbImage::from_fn(w, h, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let n = (seed & 0x3f) as u8;
        Rgb([(x % 256) as u8 / 2 + n, (y % 256) as u8 / 2 + n, 96 + n])
    });
    encode(image, ImageFormat::Jpeg)
}

fn encode(image: RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(image)
        .write_to(&mut Cursor::new(&mut out), format)
        .expect("encode");
    out
}

/// Runs ffmpeg with lavfi inputs and returns the output file's bytes.
pub fn ffmpeg(dir: &Path, out_name: &str, args: &[&str]) -> Vec<u8> {
    let out = dir.join(out_name);
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(&out)
        .status()
        .expect("ffmpeg runs (Debian package ffmpeg)");
    assert!(status.success(), "ffmpeg failed making {out_name}");
    std::fs::read(out).expect("ffmpeg output")
}

/// A tone of `secs` seconds with `codec` in `format`.
pub fn tone(dir: &Path, name: &str, secs: u32, codec: &str, format: &str) -> Vec<u8> {
    let source = format!("sine=frequency=440:sample_rate=48000:duration={secs}");
    ffmpeg(
        dir,
        name,
        &["-f", "lavfi", "-i", &source, "-c:a", codec, "-f", format],
    )
}

/// A test pattern video with a tone: `size` like `640x360`.
pub fn clip(dir: &Path, name: &str, size: &str, secs: u32, extra: &[&str]) -> Vec<u8> {
    let video = format!("testsrc=size={size}:rate=15:duration={secs}");
    let audio = format!("sine=frequency=330:sample_rate=16000:duration={secs}");
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        &video,
        "-f",
        "lavfi",
        "-i",
        &audio,
        "-shortest",
    ];
    args.extend_from_slice(extra);
    ffmpeg(dir, name, &args)
}

/// One sample of every format operators may attach.
pub fn every_accepted_format(dir: &Path) -> Vec<Sample> {
    vec![
        Sample {
            name: "photo.jpg",
            bytes: picture(1600, 1200, ImageFormat::Jpeg),
            line_type: "image",
        },
        Sample {
            name: "screenshot.png",
            bytes: picture(800, 1400, ImageFormat::Png),
            line_type: "image",
        },
        Sample {
            name: "voice.ogg",
            bytes: tone(dir, "vorbis.ogg", 3, "libvorbis", "ogg"),
            line_type: "audio",
        },
        Sample {
            name: "voice-opus.ogg",
            bytes: tone(dir, "opus.ogg", 2, "libopus", "ogg"),
            line_type: "audio",
        },
        Sample {
            name: "song.m4a",
            bytes: tone(dir, "song.m4a", 4, "aac", "ipod"),
            line_type: "audio",
        },
        Sample {
            name: "song.mp3",
            bytes: tone(dir, "song.mp3", 5, "libmp3lame", "mp3"),
            line_type: "audio",
        },
        Sample {
            // No faststart: the desk must move `moov` to the front.
            name: "clip.mp4",
            bytes: clip(
                dir,
                "clip.mp4",
                "640x360",
                2,
                &[
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mp4",
                ],
            ),
            line_type: "video",
        },
        Sample {
            name: "phone.3gp",
            bytes: clip(
                dir,
                "phone.3gp",
                "352x288",
                2,
                &["-c:v", "mpeg4", "-c:a", "aac", "-ac", "1", "-f", "3gp"],
            ),
            line_type: "video",
        },
    ]
}

/// A `multipart/form-data` body with one file field; returns (content type, body).
pub fn multipart(field: &str, file_name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "linedesk-test-boundary-7d3c";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
