//! An operator's upload: the request body is written to a temporary file chunk by chunk (never
//! held whole in memory), identified by its first bytes and stopped as soon as it passes its
//! format's limit; then it is checked, converted and stored, and described for the LINE
//! message.

use std::fs::File;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use desk_core::MediaId;
use desk_store::StoredObjects;
use futures::{Stream, StreamExt as _};
use tokio::io::AsyncWriteExt as _;

use super::container::{self, ContainerError};
use super::ffmpeg::FfmpegError;
use super::format::{self, ALLOWED, Format, SNIFF_LEN, Sniffed};
use super::picture::{Previews, previews};
use super::storage::StorageError;
use super::{Media, object_key};

/// Why an upload is refused or failed. Everything but `Storage`/`Io`/`Internal` is the
/// operator's to fix, and says how.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the file is empty. {ALLOWED}", ALLOWED = ALLOWED)]
    Empty,
    #[error("this file type cannot be sent: {0}. {ALLOWED}", ALLOWED = ALLOWED)]
    Unsupported(String),
    #[error("the {} is larger than {} MB. {ALLOWED}", .0.name(), .0.max_bytes() / (1024 * 1024), ALLOWED = ALLOWED)]
    TooLarge(Format),
    #[error("sending a {} needs ffmpeg on the server, and it is not installed (Debian: apt-get install ffmpeg). Images, m4a and mp3 can still be sent.", .0.name())]
    NeedsFfmpeg(Format),
    #[error("the {} cannot be used: {}", .0.name(), .1)]
    Damaged(Format, String),
    #[error("the {} could not be converted: {}", .0.name(), .1)]
    Conversion(Format, FfmpegError),
    #[error("the upload was interrupted: {0}")]
    Body(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("temporary file: {0}")]
    Io(#[from] std::io::Error),
}

impl UploadError {
    /// Whether the operator can fix it (a bad file), as opposed to a server fault.
    pub fn is_input(&self) -> bool {
        !matches!(self, UploadError::Storage(_) | UploadError::Io(_))
    }
}

/// A received upload, waiting in a temporary file.
pub struct Received {
    file: tempfile::NamedTempFile,
    pub format: Format,
    pub size: u64,
}

/// Writes `body` to a temporary file, identifying it from the first bytes and stopping at the
/// format's limit.
pub async fn receive<S, E>(media: &Media, body: S) -> Result<Received, UploadError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut body = std::pin::pin!(body);
    let file = media.temp_file()?;
    let mut writer = tokio::fs::File::from_std(file.as_file().try_clone()?);
    let mut head = Vec::with_capacity(SNIFF_LEN);
    let mut format = None;
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| UploadError::Body(e.to_string()))?;
        size += chunk.len() as u64;
        if format.is_none() {
            let take = (SNIFF_LEN - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
            if head.len() == SNIFF_LEN {
                format = Some(identify(&head)?);
            }
        }
        if let Some(f) = format
            && size > f.max_bytes()
        {
            return Err(UploadError::TooLarge(f));
        }
        writer.write_all(&chunk).await?;
    }
    if size == 0 {
        return Err(UploadError::Empty);
    }
    let format = match format {
        Some(f) => f,
        None => identify(&head)?,
    };
    writer.flush().await?;
    Ok(Received { file, format, size })
}

fn identify(head: &[u8]) -> Result<Format, UploadError> {
    match format::sniff(head) {
        Sniffed::Accepted(f) => Ok(f),
        Sniffed::Refused(what) => Err(UploadError::Unsupported(format!("it is a {what}"))),
        Sniffed::Unknown => Err(UploadError::Unsupported(
            "its content is not a recognised image, audio or video format".into(),
        )),
    }
}

/// What was stored for an upload: the objects, and the format they were sent as.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub id: MediaId,
    /// The format uploaded (ogg and 3gp were converted to m4a and mp4).
    pub format: Format,
    pub objects: StoredObjects,
}

/// Checks, converts and stores a received upload as media `id`.
#[tracing::instrument(skip_all, fields(media = %id, format = ?received.format, bytes = received.size))]
pub async fn prepare(
    media: &Media,
    received: Received,
    id: MediaId,
) -> Result<Prepared, UploadError> {
    let format = received.format;
    if format.needs_ffmpeg() && media.ffmpeg().is_none() {
        return Err(UploadError::NeedsFfmpeg(format));
    }
    let input = received.file.path();
    let objects = match format {
        Format::Jpeg | Format::Png => image(media, id, format, input).await?,
        Format::Ogg | Format::M4a | Format::Mp3 => audio(media, id, format, input).await?,
        Format::Mp4 | Format::ThreeGp => video(media, id, format, input).await?,
    };
    Ok(Prepared {
        id,
        format,
        objects,
    })
}

/// JPEG/PNG: the original as it is, a preview ≤ 1 MB and a thumbnail, both upright.
async fn image(
    media: &Media,
    id: MediaId,
    format: Format,
    input: &Path,
) -> Result<StoredObjects, UploadError> {
    let (preview, thumb, (width, height)) = file_previews(input.to_owned())
        .await
        .map_err(|e| UploadError::Damaged(format, e))?;
    let (name, content_type) = match format {
        Format::Png => ("original.png", "image/png"),
        _ => ("original.jpg", "image/jpeg"),
    };
    let mut objects = store_with_pictures(media, id, input, name, preview, thumb).await?;
    objects.content_type = content_type.into();
    objects.width = i32::try_from(width).ok();
    objects.height = i32::try_from(height).ok();
    Ok(objects)
}

/// Audio: m4a and mp3 as they are; ogg converted to m4a. Duration measured from the file sent.
async fn audio(
    media: &Media,
    id: MediaId,
    format: Format,
    input: &Path,
) -> Result<StoredObjects, UploadError> {
    let converted;
    let (sent, name, content_type) = match format {
        Format::Mp3 => (input, "original.mp3", "audio/mpeg"),
        Format::M4a => (input, "original.m4a", "audio/mp4"),
        _ => {
            check(format, input, container::ogg_check).await?;
            converted = media.temp_path(".m4a")?;
            ffmpeg(media, format)?
                .audio_to_m4a(input, &converted)
                .await
                .map_err(|e| UploadError::Conversion(format, e))?;
            (converted.as_ref(), "original.m4a", "audio/mp4")
        }
    };
    let duration_ms = match format {
        Format::Mp3 => check(format, sent, container::mp3_duration_ms).await?,
        _ => check(format, sent, container::mp4_info).await?.duration_ms,
    };
    let size = media
        .objects()
        .put_file(&object_key(id, name), sent)
        .await?;
    Ok(StoredObjects {
        content_type: content_type.into(),
        size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
        stored_bytes: i64::try_from(size).unwrap_or(i64::MAX),
        object_key: object_key(id, name),
        duration_ms: i64::try_from(duration_ms).ok(),
        ..StoredObjects::default()
    })
}

/// Video: 3gp converted to H.264/AAC mp4, mp4 kept (rewritten with `moov` first if needed);
/// a preview from the first frame at the video's aspect ratio.
async fn video(
    media: &Media,
    id: MediaId,
    format: Format,
    input: &Path,
) -> Result<StoredObjects, UploadError> {
    let ffmpeg = ffmpeg(media, format)?;
    let info = check(format, input, container::mp4_info).await?;
    let converted;
    let sent = if format == Format::ThreeGp || !info.faststart {
        converted = media.temp_path(".mp4")?;
        let done = if format == Format::ThreeGp {
            ffmpeg.video_to_mp4(input, &converted).await
        } else {
            ffmpeg.faststart(input, &converted).await
        };
        done.map_err(|e| UploadError::Conversion(format, e))?;
        converted.as_ref()
    } else {
        input
    };
    let frame = media.temp_path(".jpg")?;
    ffmpeg
        .first_frame(sent, &frame)
        .await
        .map_err(|e| UploadError::Conversion(format, e))?;
    let (preview, thumb, (width, height)) = file_previews(frame.to_path_buf())
        .await
        .map_err(|e| UploadError::Damaged(format, e))?;
    let duration_ms = check(format, sent, container::mp4_info).await?.duration_ms;
    let mut objects = store_with_pictures(media, id, sent, "original.mp4", preview, thumb).await?;
    objects.content_type = "video/mp4".into();
    objects.width = i32::try_from(width).ok();
    objects.height = i32::try_from(height).ok();
    objects.duration_ms = i64::try_from(duration_ms).ok();
    Ok(objects)
}

/// Stores the original from `file` and the preview and thumbnail JPEGs.
pub(crate) async fn store_with_pictures(
    media: &Media,
    id: MediaId,
    file: &Path,
    name: &str,
    preview: Vec<u8>,
    thumb: Vec<u8>,
) -> Result<StoredObjects, StorageError> {
    let objects = media.objects();
    let size = objects.put_file(&object_key(id, name), file).await?;
    let preview_size = objects
        .put_bytes(&object_key(id, "preview.jpg"), preview)
        .await?;
    let thumb_size = objects
        .put_bytes(&object_key(id, "thumb.jpg"), thumb)
        .await?;
    Ok(StoredObjects {
        size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
        stored_bytes: i64::try_from(size + preview_size + thumb_size).unwrap_or(i64::MAX),
        object_key: object_key(id, name),
        preview_key: Some(object_key(id, "preview.jpg")),
        thumb_key: Some(object_key(id, "thumb.jpg")),
        ..StoredObjects::default()
    })
}

fn ffmpeg(media: &Media, format: Format) -> Result<&super::ffmpeg::Ffmpeg, UploadError> {
    media.ffmpeg().ok_or(UploadError::NeedsFfmpeg(format))
}

/// Runs a container check on the file at `path` off the async threads.
async fn check<T: Send + 'static>(
    format: Format,
    path: &Path,
    f: fn(File) -> Result<T, ContainerError>,
) -> Result<T, UploadError> {
    let path = path.to_owned();
    blocking(move || f(File::open(path)?))
        .await
        .map_err(|e| UploadError::Damaged(format, e))
}

/// Reads a picture file and makes its previews, on the blocking pool; the error as text.
pub(crate) async fn file_previews(path: PathBuf) -> Result<Previews, String> {
    blocking(move || previews(&std::fs::read(path)?)).await
}

/// Runs CPU or file work on the blocking pool; the error as text.
pub(crate) async fn blocking<T, E>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, String>
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("the worker stopped: {e}")),
    }
}
