//! Where media bytes live, through the `object_store` crate: a folder in the data directory by
//! default, or an S3-compatible bucket (`s3://bucket/prefix`, credentials and endpoint from
//! the usual `AWS_*` variables) when several instances share the media.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt as _;

/// Chunk size for streaming a file into the store (S3's minimum multipart part is 5 MiB).
const PART: usize = 5 * 1024 * 1024;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("media store: {0}")]
    Store(#[from] object_store::Error),
    #[error("media store: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "LINEDESK_MEDIA_STORE `{0}` is not understood: use s3://bucket/prefix, or leave it unset for the data directory"
    )]
    BadUrl(String),
}

/// An object's bytes as a stream, with the slice of the object they are.
pub struct Fetched {
    pub stream: BoxStream<'static, Result<Bytes, object_store::Error>>,
    pub range: Range<u64>,
    pub total: u64,
}

/// The media object store.
#[derive(Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    /// Where it is, for logs and `/readyz`.
    pub location: String,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objects")
            .field("location", &self.location)
            .finish()
    }
}

impl Objects {
    /// `url` unset: `{data_dir}/media`. `s3://bucket/prefix`: that bucket.
    pub fn open(url: Option<&str>, data_dir: &Path) -> Result<Self, StorageError> {
        match url {
            None | Some("") => {
                let dir = data_dir.join("media");
                std::fs::create_dir_all(&dir)?;
                Ok(Self {
                    store: Arc::new(LocalFileSystem::new_with_prefix(&dir)?),
                    location: dir.display().to_string(),
                })
            }
            Some(url) if url.starts_with("s3://") => {
                let rest = &url["s3://".len()..];
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(StorageError::BadUrl(url.to_owned()));
                }
                let s3 = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()?;
                let store: Arc<dyn ObjectStore> = match prefix.trim_matches('/') {
                    "" => Arc::new(s3),
                    prefix => Arc::new(PrefixStore::new(s3, prefix)),
                };
                Ok(Self {
                    store,
                    location: url.to_owned(),
                })
            }
            Some(other) => Err(StorageError::BadUrl(other.to_owned())),
        }
    }

    /// Stores small bytes (previews, thumbnails).
    pub async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<u64, StorageError> {
        let len = bytes.len() as u64;
        self.store
            .put(&ObjectPath::from(key), PutPayload::from(bytes))
            .await?;
        Ok(len)
    }

    /// Streams a file into the store part by part; returns its size.
    pub async fn put_file(&self, key: &str, file: &Path) -> Result<u64, StorageError> {
        let upload = self.store.put_multipart(&ObjectPath::from(key)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut source = tokio::fs::File::open(file).await?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            let n = match source.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e.into());
                }
            };
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(2).await?;
            writer.write(&buf[..n]);
            total += n as u64;
        }
        writer.finish().await?;
        Ok(total)
    }

    /// The whole object, or `range` of it.
    pub async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Fetched, StorageError> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let result = self.store.get_opts(&ObjectPath::from(key), options).await?;
        let range = result.range.clone();
        let total = result.meta.size;
        Ok(Fetched {
            stream: result.into_stream(),
            range,
            total,
        })
    }

    /// The size of an object.
    pub async fn size(&self, key: &str) -> Result<u64, StorageError> {
        Ok(self.store.head(&ObjectPath::from(key)).await?.size)
    }

    /// Deletes an object; a missing one counts as deleted.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
