use crate::conformance;
use crate::support::*;
use desk_core::{FriendStatus, MessageKind, MessageStatus, SentVia};
use desk_store::{InboundEffect, SendOutcome, StoreError};
use serde_json::json;

async fn conversation(
    store: &desk_store::Store,
) -> (
    desk_store::Channel,
    desk_store::ChannelScope,
    desk_core::ConversationId,
) {
    let (channel, scope) = seed(store).await;
    let applied = apply(store, scope, "e", says("m1", "hi")).await;
    (
        channel,
        scope,
        applied.conversation_id.expect("conversation"),
    )
}

/// The operator sends `text` into `conv` under default rules.
async fn send(
    store: &desk_store::Store,
    conv: desk_core::ConversationId,
    op: desk_core::OperatorId,
    text: &str,
) -> Result<desk_store::Message, StoreError> {
    let body = json!({"type": "text", "text": text});
    let rules = desk_store::ChatRules::default();
    store
        .enqueue_message(conv, op, MessageKind::Text, body, &rules, NOW)
        .await
}

conformance!(sends_go_through_the_outbox, |store| {
    let (channel, _, conv) = conversation(store).await;
    let op = operator(store, "op@example.com").await;
    let message = send(store, conv, op.id, "hello").await.expect("enqueue");
    assert_eq!(message.status, MessageStatus::Pending);
    assert_eq!(store.outbox_pending().await.expect("pending"), 1);
    assert_eq!(store.outbox_next_due().await.expect("due"), Some(NOW));

    let job = store
        .outbox_claim(NOW, 30_000, 10)
        .await
        .expect("claim")
        .remove(0);
    assert_eq!(job.to_line_id, "U1");
    assert_eq!(job.payload.0, json!([{"type": "text", "text": "hello"}]));
    assert!(
        store
            .outbox_claim(NOW, 30_000, 10)
            .await
            .expect("claim")
            .is_empty(),
        "leased"
    );
    // A send in progress is not due again before its lease runs out.
    assert_eq!(
        store.outbox_next_due().await.expect("due"),
        Some(NOW + 30_000)
    );

    store
        .outbox_finish(
            &job,
            &SendOutcome::Retry {
                next_attempt_ms: NOW + 500,
                error: "500".into(),
            },
            NOW,
        )
        .await
        .expect("retry");
    assert!(
        store
            .outbox_claim(NOW + 100, 30_000, 10)
            .await
            .expect("claim")
            .is_empty(),
        "not due yet"
    );
    let job = store
        .outbox_claim(NOW + 600, 30_000, 10)
        .await
        .expect("claim")
        .remove(0);
    assert_eq!(job.attempts, 2);
    store
        .outbox_finish(
            &job,
            &SendOutcome::Sent {
                via: SentVia::Push,
                line_message_id: Some("L1".into()),
                quote_token: Some("Q".into()),
            },
            NOW,
        )
        .await
        .expect("sent");
    let message = store.message(message.id).await.expect("message");
    assert_eq!(
        (
            message.status,
            message.sent_via.as_deref(),
            message.line_message_id.as_deref()
        ),
        (MessageStatus::Sent, Some("push"), Some("L1"))
    );
    assert_eq!(store.outbox_pending().await.expect("pending"), 0);
    let channel = store.channel(channel.id).await.expect("channel");
    assert_eq!((channel.reply_count, channel.push_count), (0, 1));

    let failing = send(store, conv, op.id, "again").await.expect("enqueue");
    let job = store
        .outbox_claim(NOW, 30_000, 10)
        .await
        .expect("claim")
        .remove(0);
    store
        .outbox_finish(
            &job,
            &SendOutcome::Failed {
                reason: "You have reached your monthly limit.".into(),
            },
            NOW,
        )
        .await
        .expect("failed");
    let failing = store.message(failing.id).await.expect("message");
    assert_eq!(failing.status, MessageStatus::Failed);
    assert_eq!(
        failing.failure_reason.as_deref(),
        Some("You have reached your monthly limit.")
    );
});

conformance!(completed_chats_and_blocked_users_refuse_sends, |store| {
    let (_, scope, conv) = conversation(store).await;
    let op = operator(store, "op@example.com").await;
    let close = desk_core::lifecycle::Command::Close { operator: op.id };
    store
        .command(conv, close, &desk_store::ChatRules::default(), NOW)
        .await
        .expect("close");
    match send(store, conv, op.id, "x").await {
        Err(StoreError::Conflict(m)) => assert_eq!(m, "this chat is completed"),
        other => panic!("expected refusal, got {other:?}"),
    }
    // A blocked user's live chat refuses too.
    let conv2 = apply(store, scope, "b", says("m2", "back"))
        .await
        .conversation_id
        .expect("conv");
    apply(
        store,
        scope,
        "u",
        InboundEffect::FriendStatus {
            contact: user("U1"),
            status: FriendStatus::Blocked,
            unblocked: false,
        },
    )
    .await;
    match send(store, conv2, op.id, "x").await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("blocked"), "{m}"),
        other => panic!("expected refusal, got {other:?}"),
    }
    let closed = store.conversation(conv2).await.expect("conversation");
    assert_eq!(
        closed.close_reason(),
        Some(desk_core::CloseReason::Blocked),
        "unfollow closes the chat"
    );
    assert_eq!(store.outbox_pending().await.expect("pending"), 0);
});
