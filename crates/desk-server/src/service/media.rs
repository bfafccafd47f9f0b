//! Sending an attachment: an upload that went through the media pipeline becomes a LINE
//! image, audio or video message with signed public URLs, queued in the outbox like text.

use desk_core::{Millis, OperatorId};
use desk_store::{Conversation, Message, StoreError};
use line_api::message::Message as LineMessage;

use crate::media::Media;
use crate::media::format::Format;
use crate::media::signing::Variant;
use crate::media::upload::Prepared;
use crate::state::AppState;

/// Records the stored upload and queues its message into `conversation`; returns the message
/// (status `pending`).
pub async fn queue_attachment(
    state: &AppState,
    conversation: &Conversation,
    operator: OperatorId,
    prepared: &Prepared,
    now: Millis,
) -> Result<Message, StoreError> {
    let id = prepared.id;
    state
        .store
        .insert_outgoing_media(
            id,
            conversation.brand_id,
            conversation.channel_id,
            prepared.format.kind(),
            &prepared.objects,
            now,
        )
        .await?;
    let queued = async {
        let message = line_message(&state.media, prepared, now)?;
        let body = serde_json::to_value(&message).map_err(|e| StoreError::Invalid {
            field: "message",
            message: e.to_string(),
        })?;
        let rules = state
            .rules
            .get(&state.store, conversation.channel_id, now)
            .await?;
        state
            .store
            .enqueue_message(
                conversation.id,
                operator,
                prepared.format.kind().message_kind(),
                body,
                &rules,
                now,
            )
            .await
    }
    .await;
    let stored = match queued {
        Ok(stored) => stored,
        Err(e) => {
            // Refused (completed chat, blocked user, …): nothing is sent, nothing stays stored.
            if let Err(discard) = state.store.media_discard(id).await {
                tracing::error!(error = %discard, media = %id, "could not discard the upload");
            }
            state.wake.media.notify_one();
            return Err(e);
        }
    };
    state.store.attach_media(id, stored.id).await?;
    state.wake.outbox.notify_one();
    state.hub.nudge();
    Ok(stored)
}

/// The LINE message for a stored upload: URLs signed for LINE's lazy fetch.
fn line_message(
    media: &Media,
    prepared: &Prepared,
    now: Millis,
) -> Result<LineMessage, StoreError> {
    let id = prepared.id;
    let original = media.public_url(id, Variant::Original, now);
    Ok(match prepared.format {
        Format::Jpeg | Format::Png => {
            LineMessage::image(original, media.public_url(id, Variant::Preview, now))
        }
        Format::Mp4 | Format::ThreeGp => {
            let mut video =
                LineMessage::video(original, media.public_url(id, Variant::Preview, now));
            // Lets LINE report "watched to the end" for this message.
            if let LineMessage::Video { tracking_id, .. } = &mut video {
                *tracking_id = Some(id.to_string());
            }
            video
        }
        Format::Ogg | Format::M4a | Format::Mp3 => {
            let duration = prepared
                .objects
                .duration_ms
                .and_then(|d| u64::try_from(d).ok())
                .ok_or(StoreError::Invalid {
                    field: "duration",
                    message: "the audio's length was not measured".into(),
                })?;
            LineMessage::audio(original, duration)
        }
    })
}
