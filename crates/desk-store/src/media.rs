//! Stored attachments (`media`): outgoing uploads and incoming downloads, the media worker's
//! queue (downloads to fetch, objects to purge), and per-brand storage usage.
//!
//! An incoming message with content gets its `media` row in the transaction that stores the
//! message ([`schedule_download!`]), so a download is never lost to a crash; unsend moves the
//! row to `purge` in the unsend's transaction ([`purge_media_of!`]).

use desk_core::{
    BrandId, ChannelId, ConversationId, Direction, MediaId, MediaKind, MediaState, MessageId,
    Millis,
};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::{Result, Store, StoreError, claim, execute, next_due, on_read, on_write, set_one};

/// A stored attachment.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Media {
    #[sqlx(try_from = "Uuid")]
    pub id: MediaId,
    #[sqlx(try_from = "Uuid")]
    pub brand_id: BrandId,
    #[sqlx(try_from = "Uuid")]
    pub channel_id: ChannelId,
    pub message_id: Option<Uuid>,
    #[sqlx(try_from = "String")]
    pub direction: Direction,
    #[sqlx(try_from = "String")]
    pub kind: MediaKind,
    #[sqlx(try_from = "String")]
    pub state: MediaState,
    pub content_type: Option<String>,
    /// Size of the original (what LINE or the console downloads).
    pub size_bytes: i64,
    /// Original plus preview and thumbnail.
    pub stored_bytes: i64,
    pub object_key: Option<String>,
    pub preview_key: Option<String>,
    pub thumb_key: Option<String>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_ms: Option<i64>,
    pub file_name: Option<String>,
    pub line_message_id: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_ms: Millis,
    pub stored_ms: Option<Millis>,
}

/// What was written to object storage for one attachment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoredObjects {
    pub content_type: String,
    pub size_bytes: i64,
    pub stored_bytes: i64,
    pub object_key: String,
    pub preview_key: Option<String>,
    pub thumb_key: Option<String>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_ms: Option<i64>,
}

/// Storage used by one brand's media.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct MediaUsage {
    #[sqlx(try_from = "Uuid")]
    pub brand_id: BrandId,
    pub brand_name: String,
    /// Attachments currently stored.
    pub items: i64,
    /// Bytes they take, previews and thumbnails included.
    pub bytes: i64,
}

/// A `media` query; `$tail` filters (table alias `m`).
macro_rules! media_sql {
    ($tail:literal) => {
        concat!(
            "SELECT m.id, m.brand_id, m.channel_id, m.message_id, m.direction, m.kind, m.state, m.content_type, ",
            "m.size_bytes, m.stored_bytes, m.object_key, m.preview_key, m.thumb_key, m.width, m.height, ",
            "m.duration_ms, m.file_name, m.line_message_id, m.attempts, m.last_error, m.created_ms, m.stored_ms ",
            "FROM media m ",
            $tail
        )
    };
}

/// Binds `$objects`' columns to `$query`, in the order `content_type, size_bytes,
/// stored_bytes, object_key, preview_key, thumb_key, width, height, duration_ms`.
macro_rules! bind_objects {
    ($query:expr, $objects:expr) => {{
        let objects: &StoredObjects = $objects;
        $query
            .bind(&objects.content_type)
            .bind(objects.size_bytes)
            .bind(objects.stored_bytes)
            .bind(&objects.object_key)
            .bind(&objects.preview_key)
            .bind(&objects.thumb_key)
            .bind(objects.width)
            .bind(objects.height)
            .bind(objects.duration_ms)
    }};
}

/// Inserts the pending download of an incoming message's content.
pub(crate) const SCHEDULE_DOWNLOAD: &str = "INSERT INTO media (id, brand_id, channel_id, message_id, direction, kind, state, file_name, \
     line_message_id, next_attempt_ms, created_ms) VALUES ($1, $2, $3, $4, 'in', $5, 'pending', $6, $7, $8, $8)";

/// Moves a message's media to `purge` (the worker deletes the objects).
pub(crate) const PURGE_MESSAGE_MEDIA: &str = "UPDATE media SET state = 'purge', next_attempt_ms = 0, lease_until_ms = NULL \
     WHERE message_id = $1 AND state <> 'deleted'";

/// In the transaction storing an incoming message: when the message carries content
/// (image, video, audio, file), schedules its download. `$message` is an
/// [`InboundMessage`](crate::InboundMessage); files keep their `fileName`.
macro_rules! schedule_download {
    ($exec:expr, $scope:expr, $message_id:expr, $message:expr, $now:expr) => {{
        let message: &$crate::InboundMessage = $message;
        if let Some(kind) = desk_core::MediaKind::of_message(message.kind) {
            let file_name = message
                .body
                .get("fileName")
                .and_then(serde_json::Value::as_str);
            sqlx::query($crate::media::SCHEDULE_DOWNLOAD)
                .bind(desk_core::MediaId::new().0)
                .bind($scope.brand_id.0)
                .bind($scope.channel_id.0)
                .bind($message_id.0)
                .bind(kind.as_str())
                .bind(file_name)
                .bind(&message.line_message_id)
                .bind($now)
                .execute($exec)
                .await?;
        }
    }};
}

/// In the unsend's transaction: the message's stored media is to be deleted.
macro_rules! purge_media_of {
    ($exec:expr, $message_id:expr) => {{
        let message: uuid::Uuid = $message_id;
        sqlx::query($crate::media::PURGE_MESSAGE_MEDIA)
            .bind(message)
            .execute($exec)
            .await?;
    }};
}

/// Appends `media.updated` to the brand's realtime log, for the conversation of `$message`.
macro_rules! media_event {
    ($tx:expr, $brand:expr, $message:expr, $media:expr, $state:expr, $now:expr) => {{
        let message: Option<Uuid> = $message;
        let conversation = match message {
            Some(message) => sqlx::query_as::<_, (Uuid,)>(
                "SELECT conversation_id FROM messages WHERE id = $1",
            )
            .bind(message)
            .fetch_optional(&mut **$tx)
            .await?
            .map(|(c,)| ConversationId(c)),
            None => None,
        };
        append_event!(
            &mut **$tx,
            BrandId($brand),
            conversation,
            "media.updated",
            json!({"media_id": $media, "message_id": message, "conversation_id": conversation, "state": $state}),
            $now
        );
    }};
}

impl Store {
    /// Records an operator's converted upload as `id` (`ready`, not yet linked to a message).
    pub async fn insert_outgoing_media(
        &self,
        id: MediaId,
        brand: BrandId,
        channel: ChannelId,
        kind: MediaKind,
        objects: &StoredObjects,
        now: Millis,
    ) -> Result<()> {
        on_write!(self.backend(), |pool| {
            let insert = sqlx::query(
                "INSERT INTO media (id, brand_id, channel_id, direction, kind, state, content_type, size_bytes, stored_bytes,
                 object_key, preview_key, thumb_key, width, height, duration_ms, created_ms, stored_ms)
                 VALUES ($1, $2, $3, 'out', $4, 'ready', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
            )
            .bind(id.0)
            .bind(brand.0)
            .bind(channel.0)
            .bind(kind.as_str());
            bind_objects!(insert, objects)
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Queues an attachment's objects for deletion (an upload whose message was refused).
    pub async fn media_discard(&self, id: MediaId) -> Result<()> {
        execute!(
            self,
            "UPDATE media SET state = 'purge', next_attempt_ms = 0, lease_until_ms = NULL WHERE id = $1 AND state <> 'deleted'",
            id.0
        )?;
        Ok(())
    }

    /// Links an outgoing attachment to the message that sends it.
    pub async fn attach_media(&self, media: MediaId, message: MessageId) -> Result<()> {
        set_one!(
            self,
            "UPDATE media SET message_id = $1 WHERE id = $2",
            message.0,
            media.0,
            "media"
        );
        Ok(())
    }

    /// One attachment.
    pub async fn media(&self, id: MediaId) -> Result<Media> {
        on_read!(self.backend(), |pool| {
            sqlx::query_as(media_sql!("WHERE m.id = $1"))
                .bind(id.0)
                .fetch_optional(pool)
                .await
        })?
        .ok_or(StoreError::NotFound("media"))
    }

    /// The attachments of a conversation's messages.
    pub async fn conversation_media(&self, conversation: ConversationId) -> Result<Vec<Media>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(media_sql!(
                "JOIN messages g ON g.id = m.message_id WHERE g.conversation_id = $1"
            ))
            .bind(conversation.0)
            .fetch_all(pool)
            .await
        })?)
    }

    /// Leases due downloads and purges (each attempt counted).
    pub async fn media_claim(
        &self,
        now: Millis,
        lease_ms: Millis,
        limit: i64,
    ) -> Result<Vec<Media>> {
        Ok(claim!(
            self,
            "media",
            "SELECT id FROM media WHERE state IN ('pending', 'purge') AND next_attempt_ms <= $2 \
             AND (lease_until_ms IS NULL OR lease_until_ms < $2) ORDER BY next_attempt_ms LIMIT $3",
            "id, brand_id, channel_id, message_id, direction, kind, state, content_type, size_bytes, \
             stored_bytes, object_key, preview_key, thumb_key, width, height, duration_ms, file_name, \
             line_message_id, attempts, last_error, created_ms, stored_ms",
            now,
            lease_ms,
            limit
        )?)
    }

    /// The earliest time queued media work can be claimed, to sleep until then.
    pub async fn media_next_due(&self) -> Result<Option<Millis>> {
        next_due!(self, "FROM media WHERE state IN ('pending', 'purge')")
    }

    /// A download finished: the content is stored. `false` if the row is no longer pending
    /// (unsent meanwhile): the caller deletes what it wrote.
    pub async fn media_downloaded(
        &self,
        id: MediaId,
        objects: &StoredObjects,
        now: Millis,
    ) -> Result<bool> {
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let update = sqlx::query_as(
                "UPDATE media SET state = 'ready', content_type = $1, size_bytes = $2, stored_bytes = $3, object_key = $4,
                 preview_key = $5, thumb_key = $6, width = $7, height = $8, duration_ms = $9, stored_ms = $10,
                 lease_until_ms = NULL, last_error = NULL
                 WHERE id = $11 AND state = 'pending' RETURNING brand_id, message_id",
            );
            let row: Option<(Uuid, Option<Uuid>)> = bind_objects!(update, objects)
                .bind(now)
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((brand, message)) = row else {
                return Ok(false);
            };
            media_event!(&mut tx, brand, message, id, MediaState::Ready, now);
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        })
    }

    /// A download failed for now: try again at `next_attempt_ms`.
    pub async fn media_retry(
        &self,
        id: MediaId,
        next_attempt_ms: Millis,
        error: &str,
    ) -> Result<()> {
        execute!(
            self,
            "UPDATE media SET next_attempt_ms = $1, last_error = $2, lease_until_ms = NULL WHERE id = $3 AND state = 'pending'",
            next_attempt_ms,
            error,
            id.0
        )?;
        Ok(())
    }

    /// A download ended without content: `gone` (LINE answered 410) or `failed`.
    pub async fn media_give_up(
        &self,
        id: MediaId,
        state: MediaState,
        error: &str,
        now: Millis,
    ) -> Result<()> {
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let row: Option<(Uuid, Option<Uuid>)> = sqlx::query_as(
                "UPDATE media SET state = $1, last_error = $2, lease_until_ms = NULL
                 WHERE id = $3 AND state = 'pending' RETURNING brand_id, message_id",
            )
            .bind(state.as_str())
            .bind(error)
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((brand, message)) = row {
                media_event!(&mut tx, brand, message, id, state, now);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    /// A purge finished: the objects are deleted; the row stays as `deleted`.
    pub async fn media_purged(&self, id: MediaId, now: Millis) -> Result<()> {
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let row: Option<(Uuid, Option<Uuid>)> = sqlx::query_as(
                "UPDATE media SET state = 'deleted', object_key = NULL, preview_key = NULL, thumb_key = NULL,
                 stored_bytes = 0, lease_until_ms = NULL WHERE id = $1 AND state = 'purge' RETURNING brand_id, message_id",
            )
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((brand, message)) = row {
                media_event!(&mut tx, brand, message, id, MediaState::Deleted, now);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    /// Retention: incoming media stored before `before_ms` is queued for deletion. Returns
    /// how many were.
    pub async fn media_expire_incoming(&self, before_ms: Millis) -> Result<u64> {
        Ok(execute!(
            self,
            "UPDATE media SET state = 'purge', next_attempt_ms = 0, lease_until_ms = NULL
             WHERE direction = 'in' AND state = 'ready' AND created_ms < $1",
            before_ms
        )?)
    }

    /// Storage used per brand (stored media only), largest first.
    pub async fn media_usage(&self) -> Result<Vec<MediaUsage>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(
                "SELECT b.id AS brand_id, b.name AS brand_name, COUNT(m.id) AS items, CAST(COALESCE(SUM(m.stored_bytes), 0) AS BIGINT) AS bytes
                 FROM brands b LEFT JOIN media m ON m.brand_id = b.id AND m.state = 'ready'
                 GROUP BY b.id, b.name ORDER BY bytes DESC, b.name",
            )
            .fetch_all(pool)
            .await
        })?)
    }
}
