//! Media both ways. Operators' uploads are checked by their magic bytes, converted into what
//! LINE plays (JPEG/PNG + a JPEG preview ≤ 1 MB; m4a/mp3 with a duration; mp4 + a preview
//! frame), stored, and sent as LINE messages whose URLs are signed public links LINE fetches
//! lazily. Users' images, videos, audio and files are downloaded from LINE's content endpoint
//! by the media worker and shown to operators behind login.
//!
//! - [`format`]: what a file is, and what is accepted;
//! - [`container`]: checks and durations of mp4/m4a, mp3 and ogg without ffmpeg;
//! - [`picture`]: decoding and JPEG previews;
//! - [`ffmpeg`]: conversions in a bounded pool with a time limit;
//! - [`storage`]: the object store (data directory or S3);
//! - [`signing`]: the signed public URLs;
//! - [`upload`]: an operator's upload, from the request body to stored objects;
//! - [`inbound`]: one download of a user's content.

pub mod container;
pub mod ffmpeg;
pub mod format;
pub mod inbound;
pub mod picture;
pub mod signing;
pub mod storage;
pub mod upload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use desk_core::{MediaId, Millis};

use self::ffmpeg::Ffmpeg;
use self::signing::{UrlSigner, Variant};
use self::storage::{Objects, StorageError};

/// How media is stored, signed and converted.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Holds `media.key`, temporary files and (by default) the media folder.
    pub data_dir: PathBuf,
    /// `s3://bucket/prefix`; `None`: `{data_dir}/media`.
    pub store_url: Option<String>,
    /// How long signed public URLs stay valid (LINE fetches lazily: keep ≥ 14 days).
    pub url_ttl: Duration,
    /// Incoming media older than this is deleted; `None` keeps it.
    pub retention: Option<Duration>,
    /// The ffmpeg program (a name on `PATH` or a path).
    pub ffmpeg: PathBuf,
    /// Longest one ffmpeg run may take.
    pub convert_timeout: Duration,
}

impl MediaConfig {
    /// Defaults for a data directory: local storage, 30-day links, media kept, `ffmpeg` on
    /// `PATH`, two minutes per conversion.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            store_url: None,
            url_ttl: Duration::from_secs(30 * 86_400),
            retention: None,
            ffmpeg: PathBuf::from("ffmpeg"),
            convert_timeout: Duration::from_secs(120),
        }
    }
}

/// Why media could not be set up at start.
#[derive(Debug, thiserror::Error)]
pub enum MediaSetupError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("media key in {path}: {source}")]
    Key {
        path: String,
        source: std::io::Error,
    },
}

/// The media service: storage, signer, ffmpeg pool. Cheap to clone.
#[derive(Clone)]
pub struct Media(Arc<Inner>);

struct Inner {
    objects: Objects,
    signer: UrlSigner,
    ffmpeg: Option<Ffmpeg>,
    temp_dir: PathBuf,
    url_ttl: Duration,
    retention: Option<Duration>,
    /// Public base URL that media links start with.
    public_base: String,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media")
            .field("objects", &self.0.objects)
            .field("ffmpeg", &self.0.ffmpeg.as_ref().map(|f| &f.version))
            .finish()
    }
}

impl Media {
    /// Opens the store and the key, and looks for ffmpeg. `public_base` is the URL LINE
    /// reaches this server at.
    pub async fn start(config: &MediaConfig, public_base: String) -> Result<Self, MediaSetupError> {
        let objects = Objects::open(config.store_url.as_deref(), &config.data_dir)?;
        let signer =
            UrlSigner::load_or_create(&config.data_dir).map_err(|source| MediaSetupError::Key {
                path: config
                    .data_dir
                    .join(signing::KEY_FILE)
                    .display()
                    .to_string(),
                source,
            })?;
        let temp_dir = config.data_dir.join("tmp");
        std::fs::create_dir_all(&temp_dir).map_err(StorageError::from)?;
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let ffmpeg = Ffmpeg::detect(&config.ffmpeg, workers, config.convert_timeout).await;
        match &ffmpeg {
            Some(f) => tracing::info!(version = %f.version, workers, "ffmpeg found"),
            None => tracing::warn!(
                program = %config.ffmpeg.display(),
                "ffmpeg not found: ogg audio and video attachments are refused until it is installed"
            ),
        }
        tracing::info!(store = %objects.location, "media store");
        Ok(Self(Arc::new(Inner {
            objects,
            signer,
            ffmpeg,
            temp_dir,
            url_ttl: config.url_ttl,
            retention: config.retention,
            public_base: public_base.trim_end_matches('/').to_owned(),
        })))
    }

    /// The object store.
    pub fn objects(&self) -> &Objects {
        &self.0.objects
    }

    /// ffmpeg, if installed.
    pub fn ffmpeg(&self) -> Option<&Ffmpeg> {
        self.0.ffmpeg.as_ref()
    }

    /// The URL signer.
    pub fn signer(&self) -> &UrlSigner {
        &self.0.signer
    }

    /// How long incoming media is kept (`None`: for ever).
    pub fn retention(&self) -> Option<Duration> {
        self.0.retention
    }

    /// A signed public URL for `id`'s `variant`, valid for the configured time from `now`.
    pub fn public_url(&self, id: MediaId, variant: Variant, now: Millis) -> String {
        let ttl = i64::try_from(self.0.url_ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let expires = now / 1000 + ttl;
        format!(
            "{}/media/{id}/{}",
            self.0.public_base,
            self.0.signer.token(id, variant, expires)
        )
    }

    /// A new temporary file in the data directory (deleted when dropped).
    pub fn temp_file(&self) -> std::io::Result<tempfile::NamedTempFile> {
        tempfile::NamedTempFile::new_in(&self.0.temp_dir)
    }

    /// A temporary path for a tool's output (removed when the guard drops).
    pub fn temp_path(&self, suffix: &str) -> std::io::Result<tempfile::TempPath> {
        Ok(tempfile::Builder::new()
            .suffix(suffix)
            .tempfile_in(&self.0.temp_dir)?
            .into_temp_path())
    }
}

/// Object keys of one media item.
pub(crate) fn object_key(id: MediaId, name: &str) -> String {
    format!("{id}/{name}")
}
