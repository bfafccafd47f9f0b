use crate::conformance;
use crate::support::*;
use desk_core::{ConversationState, FriendStatus};
use desk_store::InboundEffect;

conformance!(messages_open_one_conversation_and_never_double, |store| {
    let (channel, scope) = seed(store).await;
    let msg = InboundEffect::Message {
        contact: user("U1"),
        message: text("m1", "hello"),
        reply_token: Some("rt1".into()),
    };
    let first = apply(store, scope, "ev1", msg.clone()).await;
    assert!(first.opened);
    name(store, scope, "U1", "Aiko", NOW).await;
    let conversation = first.conversation_id.expect("conversation");

    // The same message again (say, a redelivery with a new event id) is not stored twice.
    let again = apply(store, scope, "ev1-again", msg).await;
    assert_eq!(again.conversation_id, Some(conversation));
    assert!(!again.opened && again.message_id.is_none());

    let msg2 = InboundEffect::Message {
        contact: user("U1"),
        message: text("m2", "are you there?"),
        reply_token: Some("rt2".into()),
    };
    let later = {
        store
            .inbox_append(
                vec![desk_store::NewInboxEvent {
                    channel_id: channel.id,
                    dedupe_key: "ev2".into(),
                    chat_key: None,
                    event_type: "message".into(),
                    event_ms: NOW + 5,
                    raw: "{}".into(),
                }],
                NOW,
            )
            .await
            .expect("append");
        store
            .inbox_claim(NOW, 1_000, 10)
            .await
            .expect("claim")
            .remove(0)
            .id
    };
    store
        .apply_inbound(later, scope, NOW + 5, msg2, NOW + 5)
        .await
        .expect("apply");

    let messages = store.list_messages(conversation).await.expect("messages");
    let texts: Vec<_> = messages
        .iter()
        .map(|m| m.body.0["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(texts, ["hello", "are you there?"]);
    let listed = store
        .list_conversations(&Default::default())
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, ConversationState::Waiting);
    assert_eq!(
        listed[0].contact_name.as_deref(),
        Some("Aiko"),
        "a later message keeps the profile"
    );
    assert_eq!(
        store.inbox_counts().await.expect("counts").1,
        0,
        "applied rows are processed"
    );

    // The newest reply token is kept, and only one sender can take it.
    let token = store
        .reply_token(conversation)
        .await
        .expect("token")
        .expect("some");
    assert_eq!((token.token.as_str(), token.issued_ms), ("rt2", NOW + 5));
    assert!(
        store
            .take_reply_token(conversation, "rt2")
            .await
            .expect("take")
    );
    assert!(
        !store
            .take_reply_token(conversation, "rt2")
            .await
            .expect("take")
    );
    assert!(
        store
            .reply_token(conversation)
            .await
            .expect("token")
            .is_none()
    );
});

conformance!(
    a_closed_chat_stays_closed_and_the_next_message_opens_a_linked_one,
    |store| {
        let (_, scope) = seed(store).await;
        let first = apply(store, scope, "a", says("m1", "hi")).await;
        let old = first.conversation_id.expect("conversation");
        let op = operator(store, "op@example.com").await;
        let close = || desk_core::lifecycle::Command::Close { operator: op.id };
        let rules = desk_store::ChatRules::default();
        let closed = store
            .command(old, close(), &rules, NOW + 1)
            .await
            .expect("close");
        assert!(closed.changed);
        match store.command(old, close(), &rules, NOW + 2).await {
            Err(desk_store::StoreError::Conflict(m)) => {
                assert_eq!(m, "this chat is completed", "closes once")
            }
            other => panic!("a second close must be refused, got {other:?}"),
        }
        let next = apply(store, scope, "b", says("m2", "again")).await;
        assert!(next.opened);
        let new = store
            .conversation(next.conversation_id.expect("new"))
            .await
            .expect("load");
        assert_eq!(new.previous_id, Some(old.0));
        let old = store.conversation(old).await.expect("load");
        assert_eq!(
            (old.state, old.close_reason()),
            (
                ConversationState::Closed,
                Some(desk_core::CloseReason::Operator)
            )
        );
    }
);

/// The stored contact U1.
async fn contact_u1(
    store: &desk_store::Store,
    channel: desk_core::ChannelId,
) -> desk_store::Contact {
    store
        .contact_by_line_id(channel, "U1")
        .await
        .expect("load")
        .expect("contact")
}

conformance!(follow_unfollow_and_unsend, |store| {
    let (channel, scope) = seed(store).await;
    apply(
        store,
        scope,
        "f",
        InboundEffect::FriendStatus {
            contact: user("U1"),
            status: FriendStatus::Friend,
            unblocked: false,
        },
    )
    .await;
    let contact = contact_u1(store, channel.id).await;
    assert_eq!(contact.friend_status, FriendStatus::Friend);
    name(store, scope, "U1", "Aiko", NOW).await;

    let applied = apply(store, scope, "m", says("m9", "oops")).await;
    apply(
        store,
        scope,
        "u",
        InboundEffect::Unsend {
            line_message_id: "m9".into(),
        },
    )
    .await;
    let message = store
        .message(applied.message_id.expect("id"))
        .await
        .expect("message");
    assert!(message.unsent);

    apply(
        store,
        scope,
        "x",
        InboundEffect::FriendStatus {
            contact: user("U1"),
            status: FriendStatus::Blocked,
            unblocked: false,
        },
    )
    .await;
    let contact = contact_u1(store, channel.id).await;
    assert_eq!(contact.friend_status, FriendStatus::Blocked);
    assert_eq!(contact.display_name.as_deref(), Some("Aiko"));
    let events = store
        .events_after(scope.brand_id, 0, 100)
        .await
        .expect("events");
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "contact.friend_status",
            "contact.updated",
            "conversation.opened",
            "timeline",
            "conversation.updated",
            "message.created",
            "message.unsent",
            "timeline",
            "timeline",
            "conversation.updated",
            "contact.friend_status"
        ]
    );
    let unfollow = events
        .iter()
        .find(|e| e.kind == "timeline" && e.payload.0["kind"] == "unfollow");
    let unfollow = unfollow.expect("the unfollow is on the chat's timeline");
    assert_eq!(
        unfollow.conversation_id,
        applied.conversation_id.map(|c| c.0)
    );
});

conformance!(an_event_is_applied_once_even_if_claimed_twice, |store| {
    let (_, scope) = seed(store).await;
    store
        .inbox_append(
            vec![desk_store::NewInboxEvent {
                channel_id: scope.channel_id,
                dedupe_key: "twice".into(),
                chat_key: Some("U1".into()),
                event_type: "follow".into(),
                event_ms: NOW,
                raw: "{}".into(),
            }],
            NOW,
        )
        .await
        .expect("append");
    let row = store
        .inbox_claim(NOW, 1_000, 1)
        .await
        .expect("claim")
        .remove(0);
    // The lease runs out while the first processor is still busy: a second one claims it too.
    let again = store
        .inbox_claim(NOW + 2_000, 1_000, 1)
        .await
        .expect("claim")
        .remove(0);
    assert_eq!(row.id, again.id);
    let follow = || InboundEffect::FriendStatus {
        contact: user("U1"),
        status: FriendStatus::Friend,
        unblocked: false,
    };
    let first = store
        .apply_inbound(row.id, scope, NOW, follow(), NOW)
        .await
        .expect("apply");
    let second = store
        .apply_inbound(again.id, scope, NOW, follow(), NOW)
        .await
        .expect("apply");
    assert!(first.contact_id.is_some());
    assert_eq!(
        second,
        desk_store::Applied::default(),
        "the second apply is a no-op"
    );
    let events = store
        .events_after(scope.brand_id, 0, 100)
        .await
        .expect("events");
    assert_eq!(events.len(), 1, "one timeline entry, not two");
});

conformance!(
    one_batch_keeps_each_chats_order_across_runs_of_messages,
    |store| {
        let (channel, scope) = seed(store).await;
        let from = |who: &str, id: &str, words: &str, reply: Option<&str>| {
            let mut message = text(id, words);
            message.sender_line_id = Some(who.into());
            InboundEffect::Message {
                contact: user(who),
                message,
                reply_token: reply.map(str::to_owned),
            }
        };
        let blocked = InboundEffect::FriendStatus {
            contact: user("U1"),
            status: FriendStatus::Blocked,
            unblocked: false,
        };
        // U1 writes twice (U2 in between), m1 comes again under another event id, U1 blocks
        // the account, then writes once more: a run of messages, one other event, a run.
        let effects = [
            (NOW, from("U1", "m1", "hi", Some("rt1"))),
            (NOW, from("U2", "n1", "hello", Some("rt-n1"))),
            (NOW + 1, from("U1", "m2", "anyone?", Some("rt2"))),
            (NOW + 1, from("U1", "m1", "hi", None)),
            (NOW + 2, blocked),
            (NOW + 3, from("U1", "m3", "back", None)),
        ];
        let events: Vec<_> = effects
            .iter()
            .enumerate()
            .map(|(i, (at, _))| desk_store::NewInboxEvent {
                channel_id: channel.id,
                dedupe_key: format!("ev{i}"),
                chat_key: None,
                event_type: "message".into(),
                event_ms: *at,
                raw: "{}".into(),
            })
            .collect();
        store.inbox_append(events, NOW).await.expect("append");
        let rows = store.inbox_claim(NOW, 1_000, 10).await.expect("claim");
        let rules = std::sync::Arc::new(desk_store::ChatRules::default());
        let items: Vec<desk_store::InboundItem> = rows
            .iter()
            .zip(effects)
            .map(|(row, (at, effect))| desk_store::InboundItem {
                inbox_id: row.id,
                scope,
                rules: rules.clone(),
                event_ms: at,
                effect,
            })
            .collect();
        let applied = store
            .apply_inbound_batch(items.clone(), NOW + 10)
            .await
            .expect("apply");

        let first = applied[0].conversation_id.expect("U1's chat");
        let other = applied[1].conversation_id.expect("U2's chat");
        assert!(applied[0].opened && applied[1].opened && first != other);
        assert_eq!(applied[2].conversation_id, Some(first));
        assert!(!applied[2].opened && applied[2].message_id.is_some());
        assert_eq!(
            (applied[3].conversation_id, applied[3].message_id),
            (Some(first), None),
            "the repeated message is stored once"
        );
        let next = applied[5].conversation_id.expect("U1's next chat");
        assert!(
            applied[5].opened && next != first,
            "blocking closed the first chat"
        );

        let texts = |messages: Vec<desk_store::Message>| -> Vec<String> {
            messages
                .iter()
                .map(|m| m.body.0["text"].as_str().unwrap_or_default().to_owned())
                .collect()
        };
        assert_eq!(
            texts(store.list_messages(first).await.expect("messages")),
            ["hi", "anyone?"]
        );
        assert_eq!(
            texts(store.list_messages(next).await.expect("messages")),
            ["back"]
        );
        let first = store.conversation(first).await.expect("chat");
        assert_eq!(
            (first.state, first.close_reason()),
            (
                ConversationState::Closed,
                Some(desk_core::CloseReason::Blocked)
            )
        );
        assert_eq!(
            first.last_message_ms,
            NOW + 10,
            "when the desk took the messages (its deadlines count from then)"
        );
        let next = store.conversation(next).await.expect("chat");
        assert_eq!(next.previous_id, Some(first.id.0));
        assert_eq!(
            store
                .reply_token(other)
                .await
                .expect("token")
                .map(|t| t.token),
            Some("rt-n1".into())
        );

        // The realtime log tells it in the same order: each chat opens before its first
        // message, U1's messages come in order, and the block before U1's next chat.
        let log = store
            .events_after(scope.brand_id, 0, 100)
            .await
            .expect("events");
        let position = |kind: &str, key: &str, value: String| {
            log.iter()
                .position(|e| e.kind == kind && e.payload.0[key] == value.as_str())
                .unwrap_or_else(|| panic!("no {kind} with {key} {value}"))
        };
        let message_ids: Vec<String> = applied
            .iter()
            .filter_map(|a| a.message_id.map(|m| m.0.to_string()))
            .collect();
        assert_eq!(message_ids.len(), 4, "m1, n1, m2, m3");
        let created: Vec<usize> = message_ids
            .iter()
            .map(|id| position("message.created", "message_id", id.clone()))
            .collect();
        let opened_first = position(
            "conversation.opened",
            "conversation_id",
            first.id.0.to_string(),
        );
        let opened_next = position(
            "conversation.opened",
            "conversation_id",
            next.id.0.to_string(),
        );
        let status = log
            .iter()
            .position(|e| e.kind == "contact.friend_status")
            .expect("friend status");
        assert!(opened_first < created[0] && created[0] < created[2]);
        assert!(created[2] < status && status < opened_next && opened_next < created[3]);

        // Claimed again (an expired lease): nothing is applied twice.
        let again = store
            .apply_inbound_batch(items, NOW + 20)
            .await
            .expect("apply again");
        assert!(again.iter().all(|a| *a == desk_store::Applied::default()));
        assert_eq!(
            store
                .events_after(scope.brand_id, 0, 100)
                .await
                .expect("events")
                .len(),
            log.len()
        );
    }
);

conformance!(
    profiles_are_stored_apart_and_told_only_when_they_change,
    |store| {
        let (channel, scope) = seed(store).await;
        let said = apply(store, scope, "ev1", says("m1", "hi")).await;
        let contact = contact_u1(store, channel.id).await;
        assert_eq!(
            (contact.display_name.as_deref(), contact.profile_ms),
            (None, None),
            "a new contact has no profile until one is fetched"
        );

        let changed = name(store, scope, "U1", "Aiko", NOW + 1).await;
        assert_eq!(changed, [said.contact_id.expect("contact")]);
        let contact = contact_u1(store, channel.id).await;
        assert_eq!(
            (contact.display_name.as_deref(), contact.profile_ms),
            (Some("Aiko"), Some(NOW + 1))
        );
        let listed = store
            .list_conversations(&Default::default())
            .await
            .expect("list");
        assert_eq!(listed[0].contact_name.as_deref(), Some("Aiko"));

        // The same profile fetched again: its time moves, the consoles hear nothing.
        assert!(name(store, scope, "U1", "Aiko", NOW + 2).await.is_empty());
        assert_eq!(
            contact_u1(store, channel.id).await.profile_ms,
            Some(NOW + 2)
        );
        // A user the desk does not know (yet) is skipped.
        assert!(name(store, scope, "U9", "Nobody", NOW + 3).await.is_empty());
        assert!(
            store
                .contact_by_line_id(channel.id, "U9")
                .await
                .expect("load")
                .is_none()
        );

        let events = store
            .events_after(scope.brand_id, 0, 100)
            .await
            .expect("events");
        let updates: Vec<_> = events
            .iter()
            .filter(|e| e.kind == "contact.updated")
            .map(|e| e.payload.0.clone())
            .collect();
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0]["display_name"], "Aiko");
        assert_eq!(
            updates[0]["contact_id"],
            serde_json::json!(said.contact_id.expect("contact"))
        );
    }
);

conformance!(handed_off_events_are_applied_and_marked, |store| {
    let (channel, scope) = seed(store).await;
    store.hand_off_inbox(30_000, 100);
    store
        .inbox_append(vec![event(channel.id, "ev", "U1", NOW)], NOW)
        .await
        .expect("append");
    let rows = store.inbox_next(NOW, 30_000, 10).await.expect("next");
    assert_eq!(rows.len(), 1);
    let item = desk_store::InboundItem {
        inbox_id: rows[0].id,
        scope,
        rules: Default::default(),
        event_ms: NOW,
        effect: says("m1", "hi"),
    };
    let applied = store
        .apply_inbound_batch(vec![item.clone()], NOW + 1)
        .await
        .expect("apply");
    assert!(applied[0].message_id.is_some());
    // On SQLite the mark is written in the background, a moment later.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while store.inbox_counts().await.expect("counts").1 > 0 {
        assert!(std::time::Instant::now() < deadline, "never marked");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // Taken again (its process died before the mark): found applied, not applied twice.
    let again = store
        .apply_inbound_batch(vec![item], NOW + 2)
        .await
        .expect("apply again");
    assert_eq!(again[0].message_id, None);
});

conformance!(
    a_message_that_moves_the_idle_deadline_on_leaves_an_early_wake_up,
    |store| {
        let (channel, scope) = seed(store).await;
        let op = operator(store, "op@example.com").await;
        let input = desk_core::ChannelSettingsInput {
            idle_close_ms: Some(60_000),
            ..Default::default()
        };
        let rules = std::sync::Arc::new(desk_store::ChatRules {
            settings: desk_core::ChannelSettings::new(input).expect("valid settings"),
            hours: None,
        });
        let write = |key: &'static str, at: i64| {
            let rules = rules.clone();
            async move {
                store
                    .inbox_append(vec![event(channel.id, key, "U1", at)], at)
                    .await
                    .expect("append");
                let rows = store.inbox_next(at, 30_000, 10).await.expect("next");
                let item = desk_store::InboundItem {
                    inbox_id: rows[0].id,
                    scope,
                    rules,
                    event_ms: at,
                    effect: says(key, "hello"),
                };
                store
                    .apply_inbound_batch(vec![item], at)
                    .await
                    .expect("apply")
                    .remove(0)
            }
        };
        let chat = write("m1", NOW).await.conversation_id.expect("opened");
        store
            .command(
                chat,
                desk_core::lifecycle::Command::Accept { operator: op.id },
                &rules,
                NOW + 1,
            )
            .await
            .expect("accept");
        let first_deadline = NOW + 1 + 60_000;
        assert_eq!(
            store.next_deadline().await.expect("next"),
            Some(first_deadline)
        );

        // The user writes again: the chat closes a minute after that, but the timer worker is
        // still woken at the first deadline (moving it would rewrite an index for every message).
        let seen = store
            .events_after(scope.brand_id, 0, 100)
            .await
            .expect("events")
            .last()
            .map_or(0, |e| e.id);
        write("m2", NOW + 10_000).await;
        let told: Vec<String> = store
            .events_after(scope.brand_id, seen, 100)
            .await
            .expect("events")
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            told,
            ["message.created"],
            "consoles are told of the message only"
        );
        let due = store
            .due_conversations(first_deadline, 10)
            .await
            .expect("due");
        assert_eq!(due.iter().map(|d| d.id).collect::<Vec<_>>(), [chat]);

        // Timers due at `at` fire: how many changed, and the chat's state after.
        let fire = |at| {
            let rules = rules.clone();
            async move {
                let fired = store
                    .fire_due_timers(&[(chat, rules)], at)
                    .await
                    .expect("fire");
                (fired, store.conversation(chat).await.expect("chat").state)
            }
        };
        // Woken early, the timer changes nothing and sets the wake-up to the real deadline.
        assert_eq!(fire(first_deadline).await, (0, ConversationState::Open));
        assert!(
            store
                .due_conversations(first_deadline, 10)
                .await
                .expect("due")
                .is_empty()
        );
        let deadline = NOW + 10_000 + 60_000;
        assert_eq!(store.next_deadline().await.expect("next"), Some(deadline));

        assert_eq!(fire(deadline).await, (1, ConversationState::Closed));
    }
);
