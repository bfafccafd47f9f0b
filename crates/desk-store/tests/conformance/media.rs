//! The media queue: an incoming image, video, audio or file message schedules its download in
//! the message's transaction; claims lease rows once; retries wait; unsend and retention move
//! stored media to purge; usage counts what is stored.

use desk_core::{MediaKind, MediaState, MessageKind};
use desk_store::{InboundEffect, InboundMessage, StoredObjects};
use serde_json::json;

use crate::conformance;
use crate::support::*;

fn image(id: &str) -> InboundEffect {
    InboundEffect::Message {
        contact: user("U1"),
        message: InboundMessage {
            line_message_id: id.into(),
            kind: MessageKind::Image,
            body: json!({"type": "image", "id": id}),
            quote_token: None,
            mark_as_read_token: None,
            sender_line_id: Some("U1".into()),
            sender_name: None,
        },
        reply_token: None,
    }
}

fn file(id: &str, name: &str) -> InboundEffect {
    InboundEffect::Message {
        contact: user("U1"),
        message: InboundMessage {
            line_message_id: id.into(),
            kind: MessageKind::File,
            body: json!({"type": "file", "id": id, "fileName": name, "fileSize": 3}),
            quote_token: None,
            mark_as_read_token: None,
            sender_line_id: Some("U1".into()),
            sender_name: None,
        },
        reply_token: None,
    }
}

fn stored(key: &str, bytes: i64) -> StoredObjects {
    StoredObjects {
        content_type: "image/jpeg".into(),
        size_bytes: bytes,
        stored_bytes: bytes + 100,
        object_key: key.into(),
        thumb_key: Some(format!("{key}.thumb")),
        ..StoredObjects::default()
    }
}

conformance!(content_messages_queue_one_download_each, |store| {
    let (_, scope) = seed(store).await;
    apply(store, scope, "e-text", says("m0", "hello")).await;
    let applied = apply(store, scope, "e-img", image("m1")).await;
    apply(store, scope, "e-file", file("m2", "見積書.pdf")).await;
    // Redelivered: no second download.
    apply(store, scope, "e-img-again", image("m1")).await;

    let claimed = store.media_claim(NOW, 60_000, 10).await.expect("claim");
    assert_eq!(
        claimed.len(),
        2,
        "one download per content message, none for text"
    );
    assert!(
        claimed
            .iter()
            .all(|m| m.state == MediaState::Pending && m.attempts == 1)
    );
    let img = claimed
        .iter()
        .find(|m| m.kind == MediaKind::Image)
        .expect("image");
    assert_eq!(img.message_id, applied.message_id.map(|m| m.0));
    assert_eq!(img.line_message_id.as_deref(), Some("m1"));
    let doc = claimed
        .iter()
        .find(|m| m.kind == MediaKind::File)
        .expect("file");
    assert_eq!(doc.file_name.as_deref(), Some("見積書.pdf"));
    // Leased: not claimed again until the lease runs out.
    assert!(
        store
            .media_claim(NOW, 60_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );

    // 202: retried later, not before.
    store
        .media_retry(img.id, NOW + 2_000, "preparing")
        .await
        .expect("retry");
    assert!(
        store
            .media_claim(NOW + 1_000, 60_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        store.media_next_due().await.expect("due"),
        Some(NOW + 2_000)
    );
    let again = store
        .media_claim(NOW + 2_000, 60_000, 10)
        .await
        .expect("claim");
    assert_eq!((again.len(), again[0].attempts), (1, 2));

    assert!(
        store
            .media_downloaded(img.id, &stored("a/original", 1_000), NOW)
            .await
            .expect("stored")
    );
    store
        .media_give_up(doc.id, MediaState::Gone, "410", NOW)
        .await
        .expect("gone");
    let img_row = store.media(img.id).await.expect("media");
    assert_eq!(
        (img_row.state, img_row.size_bytes),
        (MediaState::Ready, 1_000)
    );
    assert_eq!(
        store.media(doc.id).await.expect("media").state,
        MediaState::Gone
    );
    let usage = store.media_usage().await.expect("usage");
    assert_eq!((usage[0].items, usage[0].bytes), (1, 1_100));
    let conversation = applied.conversation_id.expect("conversation");
    assert_eq!(
        store
            .conversation_media(conversation)
            .await
            .expect("list")
            .len(),
        2
    );
});

conformance!(unsend_and_retention_purge_stored_media, |store| {
    let (_, scope) = seed(store).await;
    apply(store, scope, "e1", image("m1")).await;
    apply(store, scope, "e2", image("m2")).await;
    let claimed = store.media_claim(NOW, 60_000, 10).await.expect("claim");
    for (i, m) in claimed.iter().enumerate() {
        let key = format!("k{i}");
        assert!(
            store
                .media_downloaded(m.id, &stored(&key, 10), NOW)
                .await
                .expect("stored")
        );
    }
    let first = claimed
        .iter()
        .find(|m| m.line_message_id.as_deref() == Some("m1"))
        .expect("m1");

    apply(
        store,
        scope,
        "e3",
        InboundEffect::Unsend {
            line_message_id: "m1".into(),
        },
    )
    .await;
    let purge = store.media_claim(NOW, 60_000, 10).await.expect("claim");
    assert_eq!(purge.len(), 1);
    assert_eq!((purge[0].id, purge[0].state), (first.id, MediaState::Purge));
    // A download that finishes after the unsend does not bring it back.
    assert!(
        !store
            .media_downloaded(first.id, &stored("late", 10), NOW)
            .await
            .expect("late")
    );
    store.media_purged(first.id, NOW).await.expect("purged");
    let row = store.media(first.id).await.expect("media");
    assert_eq!(
        (row.state, row.object_key, row.stored_bytes),
        (MediaState::Deleted, None, 0)
    );

    // Retention: everything stored before the cut-off goes.
    assert_eq!(store.media_expire_incoming(NOW).await.expect("expire"), 0);
    assert_eq!(
        store.media_expire_incoming(NOW + 1).await.expect("expire"),
        1
    );
    let usage = store.media_usage().await.expect("usage");
    assert_eq!(usage[0].items, 0);
});
