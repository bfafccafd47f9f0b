//! Storing what a user sent: the bytes from LINE's content endpoint, typed by their magic
//! bytes (LINE's `Content-Type` only as a fallback), plus a preview and a thumbnail for the
//! console when the content is a picture or a video.

use std::io::Cursor;

use bytes::Bytes;
use desk_core::{MediaId, MediaKind};
use desk_store::StoredObjects;

use super::container;
use super::format::{self, Format, Sniffed};
use super::picture::{Previews, previews};
use super::storage::StorageError;
use super::upload::{blocking, file_previews, store_with_pictures};
use super::{Media, object_key};

/// Stores a downloaded content as media `id`. Previews are best effort: content that cannot
/// be decoded is still stored and offered as a download.
#[tracing::instrument(skip_all, fields(media = %id, kind = %kind, bytes = bytes.len()))]
pub async fn store(
    media: &Media,
    id: MediaId,
    kind: MediaKind,
    declared_type: Option<&str>,
    bytes: Bytes,
) -> Result<StoredObjects, StorageError> {
    let sniffed = format::sniff(&bytes[..bytes.len().min(format::SNIFF_LEN)]);
    let content_type = content_type(sniffed, &bytes, declared_type);
    let file = media.temp_path(".in")?;
    tokio::fs::write(&file, &bytes).await?;
    let pictures = match kind {
        MediaKind::Image => {
            let data = bytes.clone();
            blocking(move || previews(&data)).await
        }
        MediaKind::Video => video_pictures(media, &file).await,
        MediaKind::Audio | MediaKind::File => Err("no picture".into()),
    };
    let duration_ms = match sniffed {
        Sniffed::Accepted(Format::Mp4 | Format::M4a | Format::ThreeGp) => {
            container::mp4_info(Cursor::new(&bytes))
                .ok()
                .map(|i| i.duration_ms)
        }
        _ => None,
    };
    let mut objects = match pictures {
        Ok((preview, thumb, (w, h))) => {
            let mut objects =
                store_with_pictures(media, id, &file, "original", preview, thumb).await?;
            objects.width = i32::try_from(w).ok();
            objects.height = i32::try_from(h).ok();
            objects
        }
        Err(why) => {
            if matches!(kind, MediaKind::Image | MediaKind::Video) {
                tracing::info!(%why, "no preview for this content");
            }
            let key = object_key(id, "original");
            let size = media.objects().put_file(&key, &file).await?;
            StoredObjects {
                size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
                stored_bytes: i64::try_from(size).unwrap_or(i64::MAX),
                object_key: key,
                ..StoredObjects::default()
            }
        }
    };
    objects.content_type = content_type;
    objects.duration_ms = duration_ms.and_then(|d| i64::try_from(d).ok());
    Ok(objects)
}

async fn video_pictures(media: &Media, file: &std::path::Path) -> Result<Previews, String> {
    let ffmpeg = media.ffmpeg().ok_or("ffmpeg is not installed")?;
    let frame = media.temp_path(".jpg").map_err(|e| e.to_string())?;
    ffmpeg
        .first_frame(file, &frame)
        .await
        .map_err(|e| e.to_string())?;
    file_previews(frame.to_path_buf()).await
}

/// The content type to serve: from the bytes when recognised, else what LINE said.
fn content_type(sniffed: Sniffed, bytes: &[u8], declared: Option<&str>) -> String {
    let known = match sniffed {
        Sniffed::Accepted(Format::Jpeg) => Some("image/jpeg"),
        Sniffed::Accepted(Format::Png) => Some("image/png"),
        Sniffed::Accepted(Format::Ogg) => Some("audio/ogg"),
        Sniffed::Accepted(Format::M4a) => Some("audio/mp4"),
        Sniffed::Accepted(Format::Mp3) => Some("audio/mpeg"),
        Sniffed::Accepted(Format::Mp4) => Some("video/mp4"),
        Sniffed::Accepted(Format::ThreeGp) => Some("video/3gpp"),
        Sniffed::Refused(_) | Sniffed::Unknown => None,
    };
    let known = known.or_else(|| {
        let head = &bytes[..bytes.len().min(16)];
        [
            (&b"%PDF"[..], "application/pdf"),
            (b"PK\x03\x04", "application/zip"),
            (b"GIF8", "image/gif"),
        ]
        .into_iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|(_, ct)| ct)
    });
    known
        .or(declared)
        .unwrap_or("application/octet-stream")
        .to_owned()
}
