//! Media both ways: every accepted format arrives playable in LINE (the simulator fetches the
//! signed URLs and checks them as LINE would), refused files send nothing, signed links refuse
//! tampering and expiry and serve ranges, and users' media is downloaded, shown and removed on
//! unsend.

use std::time::{Duration, Instant};

use line_sim::EventKind;
use serde_json::Value;

use crate::both;
use crate::helpers::*;
use crate::media_samples::*;

const USER: &str = "U00000000000000000000000000000a11";

impl TestApp {
    /// A user writes, so there is a conversation to answer; returns its id.
    async fn chat(&self) -> String {
        let user = self.user(USER, "Aiko");
        self.say(&user, "here is my question").await;
        self.inbox_drained().await;
        self.only_conversation().await
    }

    /// Uploads a file as an attachment of the conversation.
    async fn upload(&self, conversation: &str, name: &str, bytes: &[u8]) -> reqwest::Response {
        let (content_type, body) = multipart("file", name, bytes);
        self.http
            .post(format!(
                "{}/api/v1/conversations/{conversation}/attachments",
                self.base
            ))
            .bearer_auth(&self.admin_token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("upload")
    }

    /// Fetches a URL without credentials (as LINE does).
    async fn fetch(&self, url: &str, range: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(url);
        if let Some(range) = range {
            request = request.header("range", range);
        }
        request.send().await.expect("fetch")
    }

    /// Uploads `bytes` and waits until LINE (the simulator) accepted the message; returns the
    /// message as the simulator got it.
    async fn send_attachment(&self, conversation: &str, name: &str, bytes: &[u8]) -> Value {
        let response = self.upload(conversation, name, bytes).await;
        assert_eq!(
            response.status(),
            202,
            "{name}: {}",
            response.text().await.unwrap_or_default()
        );
        let queued: Value = response.json().await.expect("json");
        let id = queued["message"]["id"].as_str().expect("message id");
        let message = self.settled(conversation, id).await;
        assert_eq!(message["status"], "sent", "{name}: {message}");
        message["body"].clone()
    }

    /// The conversation's message whose `media` satisfies `check`.
    async fn media_where(
        &self,
        conversation: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        self.eventually(what, || async {
            self.messages(conversation)
                .await
                .into_iter()
                .find(|m| check(&m["media"]))
        })
        .await
    }
}

both!(every_accepted_format_arrives_playable_in_line, |app| {
    let conversation = app.chat().await;
    let dir = tempfile::tempdir().expect("dir");
    let samples = every_accepted_format(dir.path());
    let mut timings = Vec::new();
    for sample in &samples {
        let started = Instant::now();
        let response = app.upload(&conversation, sample.name, &sample.bytes).await;
        let elapsed = started.elapsed();
        assert_eq!(
            response.status(),
            202,
            "{}: {}",
            sample.name,
            response.text().await.unwrap_or_default()
        );
        let queued: Value = response.json().await.expect("json");
        assert_eq!(
            queued["message"]["kind"], sample.line_type,
            "{}",
            sample.name
        );
        assert_eq!(queued["media"]["state"], "ready");
        let id = queued["message"]["id"].as_str().expect("id");
        let settled = app.settled(&conversation, id).await;
        assert_eq!(settled["status"], "sent", "{}: {settled}", sample.name);
        timings.push(format!(
            "{} ({} KB): {} ms",
            sample.name,
            sample.bytes.len() / 1024,
            elapsed.as_millis()
        ));
    }
    // Upload to sendable (stored, converted, queued), per format.
    eprintln!("media pipeline timings: {}", timings.join("; "));

    let verdicts = app.sim.check_media().await;
    assert_eq!(verdicts.len(), samples.len());
    for (verdict, sample) in verdicts.iter().zip(&samples) {
        assert_eq!(verdict.message_type, sample.line_type, "{}", sample.name);
        assert!(
            verdict.ok(),
            "{}: LINE would refuse it: {:?}",
            sample.name,
            verdict.problems
        );
    }
    // The measurements behind the verdicts: tones of 3, 2, 4 and 5 s; 16:9 and 352:288 video.
    let audio: Vec<u64> = verdicts
        .iter()
        .filter_map(|v| v.declared_duration_ms)
        .collect();
    assert_eq!(audio.len(), 4);
    for (declared, expected) in audio.iter().zip([3_000u64, 2_000, 4_000, 5_000]) {
        assert!(
            declared.abs_diff(expected) < 150,
            "declared {declared} ms, tone is {expected} ms"
        );
    }
    let aspects: Vec<f64> = verdicts.iter().filter_map(|v| v.preview_aspect).collect();
    let expected = [
        1600.0 / 1200.0,
        800.0 / 1400.0,
        640.0 / 360.0,
        352.0 / 288.0,
    ];
    for (aspect, expected) in aspects.iter().zip(expected) {
        assert!(
            (aspect / expected - 1.0).abs() < 0.01,
            "preview aspect {aspect}, expected {expected}"
        );
    }
    // The messages list shows each attachment to the console.
    let messages = app.messages(&conversation).await;
    let shown: Vec<&Value> = messages.iter().filter(|m| m["media"].is_object()).collect();
    assert_eq!(shown.len(), samples.len());
    let png = shown
        .iter()
        .find(|m| m["media"]["content_type"] == "image/png")
        .expect("the PNG stays PNG");
    assert_eq!(
        (
            png["media"]["width"].as_i64(),
            png["media"]["height"].as_i64()
        ),
        (Some(800), Some(1400))
    );
    let thumb = app
        .get(png["media"]["thumb_url"].as_str().expect("thumb url"))
        .await;
    assert_eq!(thumb.status(), 200);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
});

both!(refused_files_say_why_and_send_nothing, |app| {
    let conversation = app.chat().await;
    let dir = tempfile::tempdir().expect("dir");
    let ogg = tone(dir.path(), "cut.ogg", 3, "libvorbis", "ogg");
    let mut big_video = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41".to_vec();
    big_video.resize(25 * 1024 * 1024, 0);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("big.png", noise_png(2100, 2000), "larger than 10 MB"),
        (
            "invoice.jpg",
            b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".repeat(8),
            "PDF document",
        ),
        ("long.mp4", big_video, "larger than 20 MB"),
        ("cut.ogg", ogg[..ogg.len() / 2].to_vec(), "truncated"),
    ];
    for (name, bytes, reason) in cases {
        let response = app.upload(&conversation, name, &bytes).await;
        assert_eq!(response.status(), 400, "{name}");
        let body: Value = response.json().await.expect("json");
        let message = body["error"]["message"].as_str().expect("message");
        assert_eq!(body["error"]["field"], "file", "{name}");
        assert!(message.contains(reason), "{name}: {message}");
        if reason != "truncated" {
            assert!(
                message.contains("JPEG or PNG up to 10 MB")
                    && message.contains("LINE cannot deliver documents"),
                "{name}: the message names what is allowed: {message}"
            );
        }
    }
    assert!(app.sim.sent().is_empty(), "nothing reached LINE");
    let outgoing = app
        .messages(&conversation)
        .await
        .into_iter()
        .filter(|m| m["direction"] == "out")
        .count();
    assert_eq!(outgoing, 0, "nothing was queued");
});

both!(
    signed_links_refuse_tampering_and_expiry_and_serve_ranges,
    |app| {
        let conversation = app.chat().await;
        let png = picture(640, 480, image::ImageFormat::Png);
        let sent = app.send_attachment(&conversation, "plan.png", &png).await;
        let url = sent["originalContentUrl"].as_str().expect("url").to_owned();
        assert!(url.starts_with(&format!("{}/media/", app.base)), "{url}");

        let whole = app.fetch(&url, None).await;
        assert_eq!(whole.status(), 200);
        assert_eq!(whole.headers()["content-type"], "image/png");
        assert_eq!(
            whole.headers()["content-length"],
            png.len().to_string().as_str()
        );
        assert_eq!(
            whole.bytes().await.expect("body").as_ref(),
            png.as_slice(),
            "the original is kept as sent"
        );

        let part = app.fetch(&url, Some("bytes=100-199")).await;
        assert_eq!(part.status(), 206);
        assert_eq!(
            part.headers()["content-range"],
            format!("bytes 100-199/{}", png.len()).as_str()
        );
        assert_eq!(part.bytes().await.expect("body").as_ref(), &png[100..200]);
        let tail = app.fetch(&url, Some("bytes=-10")).await;
        assert_eq!(tail.status(), 206);
        assert_eq!(
            tail.bytes().await.expect("body").as_ref(),
            &png[png.len() - 10..]
        );
        let beyond = app
            .fetch(&url, Some(&format!("bytes={}-", png.len())))
            .await;
        assert_eq!(beyond.status(), 416);
        assert_eq!(
            beyond.headers()["content-range"],
            format!("bytes */{}", png.len()).as_str()
        );

        // Token: {variant}.{expires}.{mac}.
        let (base, token) = url.rsplit_once('/').expect("token");
        let parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let expires: i64 = parts[1].parse().expect("expiry");
        let mut tampered = parts.clone();
        // Change the MAC's first character to a different one (it may already be 'A').
        let swapped = if parts[2].starts_with('A') { 'B' } else { 'A' };
        tampered[2] = format!("{swapped}{}", &parts[2][1..]);
        let mut extended = parts.clone();
        extended[1] = (expires + 86_400).to_string();
        let mut preview_with_original_mac = parts.clone();
        preview_with_original_mac[0] = "p".into();
        for forged in [tampered, extended, preview_with_original_mac] {
            let response = app
                .fetch(&format!("{base}/{}", forged.join(".")), None)
                .await;
            assert_eq!(response.status(), 403, "{}", forged.join("."));
        }
        // Another media's id with this token.
        let other = format!("{}/media/{}/{token}", app.base, uuid::Uuid::now_v7());
        assert_eq!(app.fetch(&other, None).await.status(), 403);
        // Valid for 30 days, then refused.
        let now_s = app.server.as_ref().expect("running").state.clock.now_ms() / 1000;
        assert!(
            (expires - now_s - 30 * 86_400).abs() < 60,
            "expires in 30 days"
        );
        app.advance(Duration::from_secs(31 * 86_400));
        assert_eq!(app.fetch(&url, None).await.status(), 403);

        // Behind login, the console reaches it through the API, not anonymous callers.
        let messages = app.messages(&conversation).await;
        let media_url = messages
            .iter()
            .find_map(|m| m["media"]["url"].as_str())
            .expect("media url");
        assert_eq!(app.get(media_url).await.status(), 200);
        let anonymous = app.fetch(&format!("{}{media_url}", app.base), None).await;
        assert_eq!(anonymous.status(), 401);
    }
);

both!(
    users_media_is_downloaded_shown_and_removed_on_unsend,
    |app| {
        let user = app.user(USER, "Aiko");
        let dir = tempfile::tempdir().expect("dir");
        let photo = picture(900, 600, image::ImageFormat::Jpeg);
        let video = clip(
            dir.path(),
            "user.mp4",
            "480x270",
            1,
            &[
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-movflags",
                "+faststart",
                "-f",
                "mp4",
            ],
        );
        let document = b"%PDF-1.4 quotation".to_vec();

        let image_event = app.event(
            &user,
            EventKind::Image {
                content_type: "image/jpeg".into(),
                bytes: photo.clone(),
            },
        );
        let video_event = app.event(
            &user,
            EventKind::Video {
                content_type: "video/mp4".into(),
                bytes: video.clone(),
                duration_ms: 1_000,
            },
        );
        let file_event = app.event(
            &user,
            EventKind::File {
                name: "見積書.pdf".into(),
                bytes: document.clone(),
            },
        );
        let voice = tone(dir.path(), "voice.m4a", 2, "aac", "ipod");
        let voice_event = app.event(
            &user,
            EventKind::Audio {
                content_type: "audio/x-m4a".into(),
                bytes: voice.clone(),
                duration_ms: 2_000,
            },
        );
        let video_id = video_event["message"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        // LINE is still preparing the video the first time it is asked.
        app.sim.content_preparing(&video_id, 1);
        assert_eq!(
            app.deliver(vec![
                image_event.clone(),
                video_event,
                file_event,
                voice_event
            ])
            .await
            .status,
            200
        );
        app.inbox_drained().await;
        let conversation = app.only_conversation().await;

        let image = app
            .media_where(&conversation, "the image stored", |m| {
                m["kind"] == "image" && m["state"] == "ready"
            })
            .await;
        let video_msg = app
            .media_where(&conversation, "the video stored", |m| {
                m["kind"] == "video" && m["state"] == "ready"
            })
            .await;
        let file = app
            .media_where(&conversation, "the file stored", |m| {
                m["kind"] == "file" && m["state"] == "ready"
            })
            .await;
        let voice_msg = app
            .media_where(&conversation, "the voice message stored", |m| {
                m["kind"] == "audio" && m["state"] == "ready"
            })
            .await;
        assert_eq!(voice_msg["media"]["content_type"], "audio/mp4");
        let measured = voice_msg["media"]["duration_ms"]
            .as_i64()
            .expect("duration");
        assert!((measured - 2_000).abs() < 100, "measured {measured} ms");
        let content_requests = app
            .sim
            .requests()
            .iter()
            .filter(|r| r.path.contains(&video_id))
            .count();
        assert!(
            content_requests >= 2,
            "the 202 was retried ({content_requests} requests)"
        );

        // Stored with the sniffed type and size, thumbnails for pictures and videos.
        assert_eq!(image["media"]["content_type"], "image/jpeg");
        assert_eq!(image["media"]["size_bytes"], photo.len());
        assert_eq!(
            (
                image["media"]["width"].as_i64(),
                image["media"]["height"].as_i64()
            ),
            (Some(900), Some(600))
        );
        let stored = app.get(image["media"]["url"].as_str().expect("url")).await;
        assert_eq!(
            stored.bytes().await.expect("body").as_ref(),
            photo.as_slice()
        );
        assert_eq!(video_msg["media"]["content_type"], "video/mp4");
        assert_eq!(video_msg["media"]["size_bytes"], video.len());
        for m in [&image, &video_msg] {
            let thumb = app
                .get(m["media"]["thumb_url"].as_str().expect("thumb"))
                .await;
            assert_eq!(thumb.status(), 200);
            assert_eq!(thumb.headers()["content-type"], "image/jpeg");
        }
        assert_eq!(file["media"]["file_name"], "見積書.pdf");
        assert_eq!(file["media"]["content_type"], "application/pdf");
        assert!(file["media"]["thumb_url"].is_null());
        let download = app.get(file["media"]["url"].as_str().expect("url")).await;
        assert!(
            download.headers()["content-disposition"]
                .to_str()
                .expect("ascii")
                .starts_with("attachment;")
        );
        assert_eq!(
            download.bytes().await.expect("body").as_ref(),
            document.as_slice()
        );

        // Admins see the storage each brand uses.
        let usage = app.get_json("/api/v1/media/usage").await;
        let used = usage["brands"][0]["bytes"].as_i64().expect("bytes");
        assert!(
            used >= (photo.len() + video.len() + document.len() + voice.len()) as i64,
            "{usage}"
        );
        assert_eq!(usage["brands"][0]["items"], 4);

        // The user unsends the image: its content is deleted.
        let image_line_id = image_event["message"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let unsend = app.event(
            &user,
            EventKind::Unsend {
                message_id: image_line_id,
            },
        );
        assert_eq!(app.deliver(vec![unsend]).await.status, 200);
        let removed = app
            .media_where(&conversation, "the image deleted", |m| {
                m["kind"] == "image" && m["state"] == "deleted"
            })
            .await;
        assert!(removed["unsent"].as_bool().expect("unsent"));
        assert!(removed["media"]["url"].is_null());
        // The bytes are gone from the media folder, the other media's are not.
        let folder = app.config.media.data_dir.join("media");
        let stored_under = |m: &Value| folder.join(m["media"]["id"].as_str().expect("id"));
        assert!(!stored_under(&image).join("original").exists());
        assert!(!stored_under(&image).join("thumb.jpg").exists());
        assert!(stored_under(&video_msg).join("original").exists());
        assert_eq!(
            app.get(image["media"]["url"].as_str().expect("url"))
                .await
                .status(),
            404
        );
        let usage = app.get_json("/api/v1/media/usage").await;
        assert_eq!(usage["brands"][0]["items"], 3);
    }
);

both!(content_unsent_before_download_is_marked_gone, |app| {
    let user = app.user(USER, "Aiko");
    let photo = picture(300, 200, image::ImageFormat::Png);
    let image_event = app.event(
        &user,
        EventKind::Image {
            content_type: "image/png".into(),
            bytes: photo,
        },
    );
    // LINE already forgot it (410) when the desk asks.
    let line_id = image_event["message"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let _ = app.event(
        &user,
        EventKind::Unsend {
            message_id: line_id,
        },
    );
    assert_eq!(app.deliver(vec![image_event]).await.status, 200);
    app.inbox_drained().await;
    let conversation = app.only_conversation().await;
    let gone = app
        .media_where(&conversation, "the image gone", |m| m["state"] == "gone")
        .await;
    assert!(gone["media"]["url"].is_null());
});

both!(without_ffmpeg_only_what_needs_it_is_refused, |app| {
    let conversation = app.chat().await;
    // A second instance on the same database, on a machine without ffmpeg.
    let mut config = app.config.clone();
    config.media.ffmpeg = "/nonexistent/ffmpeg".into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = desk_server::Server::start(config, listener)
        .await
        .expect("starts without ffmpeg");
    let base = format!("http://{}", server.addr);
    let ready: Value = app
        .http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert!(
        ready["ffmpeg"]
            .as_str()
            .expect("ffmpeg")
            .starts_with("missing"),
        "{ready}"
    );
    let accepted: Value = app
        .http
        .get(format!("{base}/api/v1/media/accepted"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("accepted")
        .json()
        .await
        .expect("json");
    let available: Vec<&str> = accepted["formats"]
        .as_array()
        .expect("formats")
        .iter()
        .filter(|f| f["available"] == true)
        .filter_map(|f| f["extension"].as_str())
        .collect();
    assert_eq!(available, ["jpg", "png", "m4a", "mp3"], "{accepted}");
    let dir = tempfile::tempdir().expect("dir");
    let upload = |name: &'static str, bytes: Vec<u8>| {
        let (content_type, body) = multipart("file", name, &bytes);
        app.http
            .post(format!(
                "{base}/api/v1/conversations/{conversation}/attachments"
            ))
            .bearer_auth(&app.admin_token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let ogg = upload(
        "voice.ogg",
        tone(dir.path(), "v.ogg", 1, "libvorbis", "ogg"),
    )
    .await
    .expect("upload");
    assert_eq!(ogg.status(), 400);
    let body: Value = ogg.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("needs ffmpeg"),
        "{body}"
    );
    // Pictures and m4a/mp3 need no ffmpeg.
    for (name, bytes) in [
        ("photo.png", picture(320, 240, image::ImageFormat::Png)),
        (
            "song.mp3",
            tone(dir.path(), "s.mp3", 2, "libmp3lame", "mp3"),
        ),
        ("song.m4a", tone(dir.path(), "s.m4a", 2, "aac", "ipod")),
    ] {
        let response = upload(name, bytes).await.expect("upload");
        assert_eq!(response.status(), 202, "{name}");
        let queued: Value = response.json().await.expect("json");
        let id = queued["message"]["id"].as_str().expect("id");
        assert_eq!(app.settled(&conversation, id).await["status"], "sent");
    }
    server.shutdown().await;
    let verdicts = app.sim.check_media().await;
    assert_eq!(verdicts.len(), 3);
    assert!(verdicts.iter().all(|v| v.ok()), "{verdicts:?}");
});

both!(retention_deletes_old_incoming_media_only, |app| {
    let user = app.user(USER, "Aiko");
    let photo = picture(320, 240, image::ImageFormat::Jpeg);
    let event = app.event(
        &user,
        EventKind::Image {
            content_type: "image/jpeg".into(),
            bytes: photo.clone(),
        },
    );
    assert_eq!(app.deliver(vec![event]).await.status, 200);
    app.inbox_drained().await;
    let conversation = app.only_conversation().await;
    app.media_where(&conversation, "the user's image stored", |m| {
        m["state"] == "ready"
    })
    .await;
    app.send_attachment(&conversation, "answer.jpg", &photo)
        .await;

    // An instance whose retention has passed for everything stored so far.
    let mut config = app.config.clone();
    config.media.retention = Some(Duration::from_millis(1));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = desk_server::Server::start(config, listener)
        .await
        .expect("starts");
    let gone = app
        .media_where(&conversation, "the user's image deleted", |m| {
            m["state"] == "deleted"
        })
        .await;
    assert_eq!(gone["direction"], "in");
    server.shutdown().await;
    let outgoing: Vec<Value> = app
        .messages(&conversation)
        .await
        .into_iter()
        .filter(|m| m["direction"] == "out")
        .collect();
    assert_eq!(outgoing.len(), 1);
    assert_eq!(
        outgoing[0]["media"]["state"], "ready",
        "operators' media is kept"
    );
});

/// Upload-to-sendable time at realistic sizes (run on demand: `cargo test -p desk-server
/// --test it media::pipeline_timings -- --ignored --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check; takes a minute"]
async fn pipeline_timings() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let conversation = app.chat().await;
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let samples: Vec<(&str, Vec<u8>)> = vec![
        ("photo-12mp.jpg", noise_jpeg(4000, 3000)),
        (
            "screenshot-4mp.png",
            picture(1440, 2960, image::ImageFormat::Png),
        ),
        ("voice-60s.ogg", tone(d, "v.ogg", 60, "libvorbis", "ogg")),
        ("voice-60s-opus.ogg", tone(d, "o.ogg", 60, "libopus", "ogg")),
        ("song-180s.m4a", tone(d, "s.m4a", 180, "aac", "ipod")),
        ("song-180s.mp3", tone(d, "s.mp3", 180, "libmp3lame", "mp3")),
        (
            "clip-30s-720p.mp4",
            clip(
                d,
                "c.mp4",
                "1280x720",
                30,
                &[
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-b:v",
                    "4M",
                    "-pix_fmt",
                    "yuv420p",
                    "-c:a",
                    "aac",
                    "-f",
                    "mp4",
                ],
            ),
        ),
        (
            "phone-30s.3gp",
            clip(
                d,
                "p.3gp",
                "352x288",
                30,
                &[
                    "-c:v", "mpeg4", "-b:v", "1M", "-c:a", "aac", "-ac", "1", "-f", "3gp",
                ],
            ),
        ),
    ];
    for (name, bytes) in samples {
        let started = Instant::now();
        let response = app.upload(&conversation, name, &bytes).await;
        assert_eq!(response.status(), 202, "{name}");
        eprintln!(
            "{name}: {:.1} MB, upload to sendable {} ms",
            bytes.len() as f64 / 1_048_576.0,
            started.elapsed().as_millis()
        );
    }
    app.finish().await;
}
