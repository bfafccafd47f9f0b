use crate::conformance;
use crate::support::*;
use desk_core::bot::rules::RulesBot;
use desk_core::bot::{After, BotMode};
use desk_core::{
    ChannelSettings, ChannelSettingsInput, ConversationState, FriendStatus, MessageKind,
    MessageStatus, ReplyToken, Sealed, SentVia,
};
use desk_store::{
    BotSettings, BotTurn, BotTurnOutcome, ChatRules, InboundEffect, InboundItem, NewInboxEvent,
    Remember, SendOutcome,
};
use serde_json::json;

fn bot_rules() -> ChatRules {
    let settings = ChannelSettings::new(ChannelSettingsInput {
        bot_enabled: true,
        ..Default::default()
    })
    .expect("valid settings");
    ChatRules {
        settings,
        hours: None,
    }
}

fn turn(conversation: desk_core::ConversationId, texts: &[&str], then: After) -> BotTurn {
    BotTurn {
        conversation,
        messages: texts
            .iter()
            .map(|t| (MessageKind::Text, json!({"type": "text", "text": t})))
            .collect(),
        reply_token: None,
        then,
        remember: Remember::Unchanged,
        queued: None,
    }
}

conformance!(bot_settings_round_trip_with_the_channel_settings, |store| {
    let (channel, _) = seed(store).await;
    assert_eq!(
        store.bot_settings(channel.id).await.expect("settings"),
        BotSettings::default()
    );
    let rules: RulesBot = serde_json::from_value(json!({"greet_on_follow": true})).expect("bot");
    let bot = BotSettings {
        mode: BotMode::Rules,
        rules: Some(rules),
        external_url: None,
        external_secret: Some(Sealed::from_bytes(b"sealed".to_vec())),
    };
    store
        .set_bot_settings(channel.id, &bot, &bot_rules().settings, NOW)
        .await
        .expect("stored");
    assert_eq!(store.bot_settings(channel.id).await.expect("settings"), bot);
    assert!(
        store
            .chat_rules(channel.id)
            .await
            .expect("rules")
            .settings
            .bot_enabled()
    );
});

conformance!(a_bot_turn_is_one_send_and_yields_to_operators, |store| {
    let (channel, scope) = seed(store).await;
    let follow = InboundEffect::FriendStatus {
        contact: user("U1"),
        status: FriendStatus::Friend,
        unblocked: false,
    };
    let contact = apply(store, scope, "follow", follow)
        .await
        .contact_id
        .expect("contact");
    let rules = bot_rules();
    let (conv, started) = store
        .bot_chat(scope, contact, &rules, NOW)
        .await
        .expect("chat");
    assert!(started);
    assert_eq!(
        store
            .bot_chat(scope, contact, &rules, NOW)
            .await
            .expect("chat"),
        (conv, false),
        "the live chat is reused"
    );

    // Two messages, the follow's reply token kept, the unanswered question remembered.
    let mut greeting = turn(conv, &["hello", "how can I help?"], After::Stay);
    greeting.reply_token = Some(ReplyToken {
        token: "rt-follow".into(),
        issued_ms: NOW,
    });
    greeting.remember = Remember::Unanswered(Some("bikes".into()));
    let written = store
        .bot_turn(greeting, &rules, NOW + 1)
        .await
        .expect("turn");
    assert!(matches!(
        written,
        BotTurnOutcome::Written {
            message: Some(_),
            routed: None
        }
    ));
    assert_eq!(
        store.bot_unanswered(conv).await.expect("memory").as_deref(),
        Some("bikes")
    );
    assert_eq!(
        store
            .reply_token(conv)
            .await
            .expect("token")
            .map(|t| t.token),
        Some("rt-follow".into())
    );
    let jobs = store
        .outbox_claim(NOW + 1, 30_000, 10)
        .await
        .expect("claim");
    assert_eq!(jobs.len(), 1, "one LINE call for the whole turn");
    assert_eq!(jobs[0].payload.0.as_array().map(Vec::len), Some(2));
    let sent = SendOutcome::Sent {
        via: SentVia::Reply,
        line_message_id: Some("L1".into()),
        quote_token: None,
    };
    store
        .outbox_finish(&jobs[0], &sent, NOW + 2)
        .await
        .expect("finish");
    let messages = store.list_messages(conv).await.expect("messages");
    assert_eq!(messages.len(), 2);
    for m in &messages {
        assert!(m.sender_bot);
        assert_eq!(
            (m.status, m.sent_via.as_deref()),
            (MessageStatus::Sent, Some("reply"))
        );
    }
    let counts = store.send_counts(channel.id).await.expect("counts");
    assert_eq!(
        (counts.reply, counts.push, counts.bot_reply, counts.bot_push),
        (1, 0, 2, 0)
    );

    // The bot hands off: the chat waits in the channel's department.
    let handed = store
        .bot_turn(
            turn(conv, &[], After::Handoff { department: None }),
            &rules,
            NOW + 3,
        )
        .await
        .expect("handoff");
    assert_eq!(
        handed,
        BotTurnOutcome::Written {
            message: None,
            routed: Some(scope.department_id)
        }
    );
    assert_eq!(
        store.conversation(conv).await.expect("chat").state,
        ConversationState::Waiting
    );
    // A late bot answer after that is dropped whole.
    let late = store
        .bot_turn(turn(conv, &["too late"], After::Stay), &rules, NOW + 4)
        .await
        .expect("late");
    assert_eq!(late, BotTurnOutcome::NotWithBot);
    assert_eq!(store.outbox_pending().await.expect("pending"), 0);
    assert_eq!(store.list_messages(conv).await.expect("messages").len(), 2);
});

conformance!(
    bot_turns_are_queued_with_the_event_and_written_once,
    |store| {
        let (_, scope) = seed(store).await;
        let rules = std::sync::Arc::new(bot_rules());
        // Two messages of one chat, and the first again under another event id.
        let keys = ["e1", "e2", "e1-again"];
        let events = keys.map(|key| NewInboxEvent {
            channel_id: scope.channel_id,
            dedupe_key: key.into(),
            chat_key: Some("U1".into()),
            event_type: "message".into(),
            event_ms: NOW,
            raw: json!({"type": "message", "webhookEventId": key}).to_string(),
        });
        store
            .inbox_append(events.to_vec(), NOW)
            .await
            .expect("append");
        let mut rows = store.inbox_claim(NOW, 1_000, 10).await.expect("claim");
        rows.sort_by_key(|r| r.id);
        let items = rows
            .iter()
            .zip([says("m1", "hi"), says("m2", "bikes?"), says("m1", "hi")])
            .map(|(row, effect)| InboundItem {
                inbox_id: row.id,
                scope,
                rules: rules.clone(),
                event_ms: NOW,
                effect,
            })
            .collect();
        let applied = store.apply_inbound_batch(items, NOW).await.expect("apply");
        let conv = applied[0].conversation_id.expect("chat");
        assert_eq!(
            store.conversation(conv).await.expect("chat").state,
            ConversationState::Bot
        );
        assert_eq!(
            store.bot_turns_pending().await.expect("pending"),
            2,
            "one turn per new message, none for the duplicate"
        );

        // Only the chat's first turn is claimable, and only once while leased.
        let lease = 30_000;
        let first = store.bot_turns_claim(NOW, lease, 10).await.expect("claim");
        assert_eq!(first.len(), 1);
        assert_eq!(
            (
                first[0].conversation(),
                first[0].new_message,
                first[0].attempts
            ),
            (Some(conv), true, 1)
        );
        assert!(first[0].raw.contains("\"e1\""));
        assert!(
            store
                .bot_turns_claim(NOW + 1, lease, 10)
                .await
                .expect("claim")
                .is_empty()
        );

        // The worker died: the lease runs out and the same turn is claimed again.
        let again = store
            .bot_turns_claim(NOW + lease + 1, lease, 10)
            .await
            .expect("claim");
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].id, again[0].attempts), (first[0].id, 2));

        // Both runs answer; only the first answer is written.
        let mut answer = turn(conv, &["hello"], After::Stay);
        answer.queued = Some(first[0].id);
        let written = store
            .bot_turn(answer.clone(), &rules, NOW + lease + 2)
            .await
            .expect("turn");
        assert!(matches!(
            written,
            BotTurnOutcome::Written {
                message: Some(_),
                ..
            }
        ));
        assert_eq!(
            store
                .bot_turn(answer, &rules, NOW + lease + 3)
                .await
                .expect("turn"),
            BotTurnOutcome::AlreadyDone
        );
        assert_eq!(
            store.outbox_pending().await.expect("outbox"),
            1,
            "sent once"
        );

        // Then the chat's next turn; finishing it without an answer is also once.
        let next = store
            .bot_turns_claim(NOW + lease + 4, lease, 10)
            .await
            .expect("claim");
        assert_eq!(next.len(), 1);
        assert!(next[0].id > first[0].id);
        assert!(
            store
                .bot_turn_done(next[0].id, NOW + lease + 5)
                .await
                .expect("done")
        );
        assert!(
            !store
                .bot_turn_done(next[0].id, NOW + lease + 6)
                .await
                .expect("done")
        );
        assert_eq!(store.bot_turns_pending().await.expect("pending"), 0);
    }
);

conformance!(old_events_and_answered_turns_are_deleted, |store| {
    let (_, scope) = seed(store).await;
    let rules = std::sync::Arc::new(bot_rules());
    let (old, new) = (NOW, NOW + 7 * 86_400_000);
    let append = |key: &'static str, at| async move {
        let event = NewInboxEvent {
            channel_id: scope.channel_id,
            dedupe_key: key.into(),
            chat_key: Some("U1".into()),
            event_type: "message".into(),
            event_ms: at,
            raw: json!({"type": "message", "webhookEventId": key}).to_string(),
        };
        store.inbox_append(vec![event], at).await.expect("append");
        store.inbox_claim(at, 30_000, 10).await.expect("claim")
    };
    // Two applied events, each with a chatbot turn; then one set aside with an error, one
    // not applied yet, and one received after the cutoff.
    let applied = append("e1", old).await;
    let applied = [applied, append("e2", old).await].concat();
    let items = applied
        .iter()
        .zip([says("m1", "hi"), says("m2", "bikes?")])
        .map(|(row, effect)| InboundItem {
            inbox_id: row.id,
            scope,
            rules: rules.clone(),
            event_ms: old,
            effect,
        })
        .collect();
    store.apply_inbound_batch(items, old).await.expect("apply");
    let bad = append("e3", old).await;
    store
        .inbox_failed(bad[0].id, "bad event", old + 1, true, old)
        .await
        .expect("set aside");
    append("e4", old).await;
    let _ = append("e5", new).await;
    assert_eq!(store.inbox_counts().await.expect("counts"), (5, 2));

    // The first turn is answered; the second still waits and reads its event.
    let first = store.bot_turns_claim(old, 30_000, 10).await.expect("claim");
    assert!(store.bot_turn_done(first[0].id, old).await.expect("done"));
    // One round: (turns deleted, events deleted), with the event cut it used.
    let round = || async {
        let cut = store.retention_cut(new - 1).await.expect("cut");
        let turns = store.prune_bot_turns(cut.bot_turns_below, 10).await;
        let events = store.prune_inbox(cut.inbox_below, 10).await;
        (
            turns.expect("turns"),
            events.expect("events"),
            cut.inbox_below,
        )
    };
    assert_eq!(
        round().await,
        (1, 1, applied[1].id),
        "the pending turn's event stays"
    );
    assert_eq!(store.inbox_counts().await.expect("counts"), (4, 2));
    assert_eq!(store.bot_turns_pending().await.expect("pending"), 1);

    // Once answered, its turn and event go too; the set-aside, the unapplied and the recent
    // events stay, round after round.
    let second = store
        .bot_turns_claim(old + 1, 30_000, 10)
        .await
        .expect("claim");
    assert!(second[0].raw.contains("\"e2\""));
    assert!(
        store
            .bot_turn_done(second[0].id, old + 1)
            .await
            .expect("done")
    );
    let (turns, events, _) = round().await;
    assert_eq!((turns, events), (1, 1));
    let (turns, events, _) = round().await;
    assert_eq!((turns, events), (0, 0), "nothing more to delete");
    assert_eq!(store.inbox_counts().await.expect("counts"), (3, 2));
});
