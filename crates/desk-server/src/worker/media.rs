//! The media worker: downloads users' content from LINE as soon as the inbox processor stores
//! the message (202 "still preparing": back off and retry; 410: the user unsent it), deletes
//! the objects of unsent media and, when a retention is set, of old incoming media.

use std::time::Duration;

use desk_core::{MediaState, Millis};
use desk_store::Media as MediaRow;
use futures::StreamExt;
use line_api::client::Content;
use tokio_util::sync::CancellationToken;

use crate::media::inbound;
use crate::state::AppState;

const BATCH: i64 = 8;
const PARALLEL: usize = 4;
/// Longer than a download and its conversions can take.
const LEASE_MS: Millis = 300_000;
const MAX_SLEEP: Duration = Duration::from_secs(5);
/// Attempts before a download is given up.
const MAX_ATTEMPTS: i32 = 12;
/// How often retention is applied.
const RETENTION_EVERY_MS: Millis = 3_600_000;

/// Runs the worker.
pub async fn run(state: AppState, cancel: CancellationToken) {
    let mut retention_due: Millis = 0;
    loop {
        let now = state.clock.now_ms();
        if now >= retention_due {
            apply_retention(&state, now).await;
            retention_due = now + RETENTION_EVERY_MS;
        }
        let jobs = match state.store.media_claim(now, LEASE_MS, BATCH).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::error!(error = %e, "media claim failed");
                Vec::new()
            }
        };
        let busy = !jobs.is_empty();
        futures::stream::iter(jobs)
            .for_each_concurrent(PARALLEL, |job| {
                let state = &state;
                async move {
                    match job.state {
                        MediaState::Purge => purge(state, &job).await,
                        _ => download(state, &job).await,
                    }
                    state.hub.nudge();
                }
            })
            .await;
        if cancel.is_cancelled() {
            return;
        }
        if busy {
            continue;
        }
        let next = state.store.media_next_due().await.ok().flatten();
        if !super::idle(
            &cancel,
            &state.wake.media,
            next,
            state.clock.now_ms(),
            MAX_SLEEP,
        )
        .await
        {
            return;
        }
    }
}

/// Fetches one content from LINE and stores it.
#[tracing::instrument(skip_all, fields(media = %job.id, attempt = job.attempts))]
async fn download(state: &AppState, job: &MediaRow) {
    let now = state.clock.now_ms();
    let Some(line_message_id) = job.line_message_id.as_deref() else {
        give_up(state, job, MediaState::Failed, "no LINE message id").await;
        return;
    };
    let token = match state
        .tokens
        .get(&state.store, &state.line, job.channel_id, now)
        .await
    {
        Ok(token) => token,
        Err(e) => return retry(state, job, &format!("no access token: {e}")).await,
    };
    let (content_type, bytes) = match state.line.content(&token, line_message_id).await {
        Ok(Content::Ready {
            content_type,
            bytes,
        }) => (content_type, bytes),
        Ok(Content::Preparing) => {
            return retry(state, job, "LINE is still preparing the content").await;
        }
        Err(e) if e.status() == Some(410) => {
            return give_up(
                state,
                job,
                MediaState::Gone,
                "LINE no longer has the content (unsent)",
            )
            .await;
        }
        Err(e) if e.status() == Some(404) => {
            return give_up(state, job, MediaState::Failed, &e.to_string()).await;
        }
        Err(e) => {
            if e.is_unauthorized() {
                let _ = state.tokens.invalidate(&state.store, job.channel_id).await;
            }
            return retry(state, job, &e.to_string()).await;
        }
    };
    let objects = match inbound::store(
        &state.media,
        job.id,
        job.kind,
        content_type.as_deref(),
        bytes,
    )
    .await
    {
        Ok(objects) => objects,
        Err(e) => return retry(state, job, &e.to_string()).await,
    };
    match state
        .store
        .media_downloaded(job.id, &objects, state.clock.now_ms())
        .await
    {
        Ok(true) => {
            tracing::info!(bytes = objects.size_bytes, content_type = %objects.content_type, "content stored")
        }
        // Unsent while downloading: nothing may stay behind.
        Ok(false) => {
            delete_objects(
                state,
                [
                    Some(objects.object_key),
                    objects.preview_key,
                    objects.thumb_key,
                ],
            )
            .await;
        }
        Err(e) => {
            tracing::error!(error = %e, "could not record the stored content; retried after the lease")
        }
    }
}

/// Backs off exponentially (2 s doubling, at most 10 minutes), then gives up.
async fn retry(state: &AppState, job: &MediaRow, error: &str) {
    if job.attempts >= MAX_ATTEMPTS {
        return give_up(state, job, MediaState::Failed, error).await;
    }
    let exponent = u32::try_from(job.attempts.clamp(1, 20)).unwrap_or(1) - 1;
    let delay = (2_000i64 << exponent).min(600_000);
    tracing::info!(error, delay_ms = delay, "content download retried later");
    if let Err(e) = state
        .store
        .media_retry(job.id, state.clock.now_ms() + delay, error)
        .await
    {
        tracing::error!(error = %e, "could not schedule the retry");
    }
}

async fn give_up(state: &AppState, job: &MediaRow, to: MediaState, error: &str) {
    tracing::warn!(error, state = %to, "content download ended without content");
    if let Err(e) = state
        .store
        .media_give_up(job.id, to, error, state.clock.now_ms())
        .await
    {
        tracing::error!(error = %e, "could not record the download outcome");
    }
}

/// Deletes an unsent or expired item's objects, then marks it deleted.
#[tracing::instrument(skip_all, fields(media = %job.id))]
async fn purge(state: &AppState, job: &MediaRow) {
    let keys = [
        job.object_key.clone(),
        job.preview_key.clone(),
        job.thumb_key.clone(),
    ];
    if !delete_objects(state, keys).await {
        // The lease runs out and the purge is tried again.
        return;
    }
    if let Err(e) = state.store.media_purged(job.id, state.clock.now_ms()).await {
        tracing::error!(error = %e, "could not record the purge");
    }
}

/// Deletes the objects; false if any deletion failed.
async fn delete_objects(state: &AppState, keys: [Option<String>; 3]) -> bool {
    let mut ok = true;
    for key in keys.into_iter().flatten() {
        if let Err(e) = state.media.objects().delete(&key).await {
            tracing::error!(error = %e, key, "could not delete a media object");
            ok = false;
        }
    }
    ok
}

async fn apply_retention(state: &AppState, now: Millis) {
    let Some(keep) = state.media.retention() else {
        return;
    };
    let keep_ms = Millis::try_from(keep.as_millis()).unwrap_or(Millis::MAX);
    match state
        .store
        .media_expire_incoming(now.saturating_sub(keep_ms))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            items = n,
            "incoming media past retention queued for deletion"
        ),
        Err(e) => tracing::error!(error = %e, "retention failed"),
    }
}
