//! Ingest: what the webhook accepts, refuses and stores.

use line_api::signature::sign;
use line_sim::{DeliverOpts, EventKind};
use serde_json::json;

use crate::both;
use crate::helpers::*;

impl TestApp {
    pub(crate) async fn post_webhook(
        &self,
        key: &str,
        body: Vec<u8>,
        signature: Option<String>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/line/webhook/{key}", self.base))
            .body(body);
        if let Some(sig) = signature {
            request = request.header("X-Line-Signature", sig);
        }
        request.send().await.expect("POST webhook")
    }

    /// The first chat's id, once it shows a message; fails unless that was within `limit`
    /// of `started`.
    async fn chat_shown_within(
        &self,
        started: std::time::Instant,
        limit: std::time::Duration,
    ) -> String {
        let id = self
            .eventually("the message in a chat", || async {
                let id = self.conversations().await.first()?["id"]
                    .as_str()?
                    .to_owned();
                (!self.messages(&id).await.is_empty()).then_some(id)
            })
            .await;
        assert!(
            started.elapsed() < limit,
            "the message was shown after {:?}",
            started.elapsed()
        );
        id
    }

    /// The first stored event of `kind` for the brand.
    async fn first_event(&self, kind: &str) -> desk_store::Event {
        let events = self
            .store()
            .events_after(self.channel.brand_id, 0, 1_000)
            .await
            .expect("events");
        events
            .into_iter()
            .find(|e| e.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} event"))
    }

    async fn inbox_len(&self) -> usize {
        self.store()
            .inbox_keys(self.channel.id)
            .await
            .expect("keys")
            .len()
    }
}

both!(bad_requests_store_nothing, |app| {
    let user = app.user("U00000000000000000000000000000001", "Aiko");
    let body = serde_json::to_vec(
        &json!({"destination": "Ux", "events": [app.event(&user, EventKind::Text("hi".into()))]}),
    )
    .expect("json");
    let key = app.channel.channel_key.clone();

    let wrong = app
        .post_webhook(
            &key,
            body.clone(),
            Some(sign("0".repeat(32).as_str(), &body)),
        )
        .await;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong
            .text()
            .await
            .expect("text")
            .contains("signature does not match")
    );
    let missing = app.post_webhook(&key, body.clone(), None).await;
    assert_eq!(missing.status(), 401);

    let unknown = app
        .post_webhook("no-such-key", body.clone(), Some(sign(SECRET, &body)))
        .await;
    assert_eq!(unknown.status(), 404);

    let huge = vec![b' '; (1 << 20) + 1];
    let sig = sign(SECRET, &huge);
    assert_eq!(app.post_webhook(&key, huge, Some(sig)).await.status(), 413);

    let malformed = br#"{"destination":"Ux","events":[{"type":"message","mode":"active","timestamp":1,"message":{"type":"text"}}]}"#.to_vec();
    let sig = sign(SECRET, &malformed);
    let answer = app.post_webhook(&key, malformed, Some(sig)).await;
    assert_eq!(answer.status(), 400);
    let text = answer.text().await.expect("text");
    assert!(
        text.contains("events[0].message") && text.contains("id"),
        "names the field: {text}"
    );

    let not_json = b"{not json".to_vec();
    let sig = sign(SECRET, &not_json);
    assert_eq!(
        app.post_webhook(&key, not_json, Some(sig)).await.status(),
        400
    );

    assert_eq!(app.inbox_len().await, 0, "nothing stored");
    let channel = app.store().channel(app.channel.id).await.expect("channel");
    assert_eq!(channel.signature_failures, 2, "both bad signatures counted");

    // LINE's connectivity check.
    let empty = br#"{"destination":"Ux","events":[]}"#.to_vec();
    let sig = sign(SECRET, &empty);
    assert_eq!(app.post_webhook(&key, empty, Some(sig)).await.status(), 200);
});

both!(signature_header_name_is_case_insensitive, |app| {
    let body = br#"{"destination":"Ux","events":[]}"#.to_vec();
    let response = app
        .http
        .post(format!(
            "{}/line/webhook/{}",
            app.base, app.channel.channel_key
        ))
        .header("x-LINE-signature", sign(SECRET, &body))
        .body(body)
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 200);
});

both!(a_slow_line_profile_api_holds_up_no_message, |app| {
    // LINE's profile API answers after 2 s: the message must not wait for it.
    let latency = std::time::Duration::from_secs(2);
    app.sim.set_faults(line_sim::Faults {
        latency,
        ..Default::default()
    });
    let user = app.user("U000000000000000000000000000005a0", "Sora");
    let started = std::time::Instant::now();
    assert_eq!(app.say(&user, "届いていますか").await.status, 200);
    let id = app.chat_shown_within(started, latency).await;
    assert_eq!(app.conversation(&id).await["contact_name"], json!(null));

    // The name follows, and the consoles are told.
    app.named(&id, "Sora").await;
    let updated = app.first_event("contact.updated").await;
    assert_eq!(updated.payload.0["display_name"], "Sora");
});

both!(a_batch_from_three_users_makes_three_conversations, |app| {
    let users: Vec<_> = ["Aiko", "Bao", "Chai"]
        .iter()
        .enumerate()
        .map(|(i, name)| app.user(&format!("U{:032x}", i + 1), name))
        .collect();
    let events = users
        .iter()
        .map(|u| app.event(u, EventKind::Text("こんにちは".into())))
        .collect();
    assert_eq!(app.deliver(events).await.status, 200);
    app.inbox_drained().await;
    let conversations = app.conversations().await;
    assert_eq!(conversations.len(), 3);
    // The names come from LINE profiles, fetched right after.
    app.eventually("the three names", || async {
        let mut names: Vec<_> = app
            .conversations()
            .await
            .iter()
            .map(|c| c["contact_name"].as_str().unwrap_or("?").to_owned())
            .collect();
        names.sort();
        (names == ["Aiko", "Bao", "Chai"]).then_some(())
    })
    .await;
    for c in &conversations {
        let messages = app.messages(c["id"].as_str().expect("id")).await;
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["body"]["text"], "こんにちは");
        assert_eq!(messages[0]["direction"], "in");
    }
});

both!(
    redelivered_three_times_in_shuffled_order_is_stored_once,
    |app| {
        use rand::seq::SliceRandom;
        let users: Vec<_> = (0..3)
            .map(|i| app.user(&format!("U{:032x}", 100 + i), &format!("User {i}")))
            .collect();
        let mut events = Vec::new();
        for round in 0..4u64 {
            for user in &users {
                // Distinct LINE timestamps per round (a few ms apart, as a typing user's are).
                let age = std::time::Duration::from_millis(40 - 10 * round);
                events.push(app.sim.event_at(
                    LINE_CHANNEL_ID,
                    user.clone(),
                    EventKind::Text(format!("message {round}")),
                    age,
                ));
            }
        }
        // One event without a webhookEventId: de-duplicated by its content hash instead.
        let mut anonymous = app.event(
            &users[0],
            EventKind::Follow {
                is_unblocked: false,
            },
        );
        anonymous
            .as_object_mut()
            .expect("object")
            .remove("webhookEventId");
        events.push(anonymous);

        let mut deliveries: Vec<serde_json::Value> = events
            .iter()
            .cloned()
            .chain(events.iter().cloned())
            .chain(events.iter().cloned())
            .collect();
        deliveries.shuffle(&mut rand::rng());
        for batch in deliveries.chunks(5) {
            let opts = DeliverOpts {
                redelivery: true,
                ..DeliverOpts::default()
            };
            let d = app
                .sim
                .deliver(LINE_CHANNEL_ID, batch.to_vec(), opts)
                .await
                .expect("deliver");
            assert_eq!(d.status, 200);
        }
        app.inbox_drained().await;
        assert_eq!(app.inbox_len().await, events.len());
        let conversations = app.conversations().await;
        assert_eq!(conversations.len(), 3);
        for c in conversations {
            let texts: Vec<_> = app
                .messages(c["id"].as_str().expect("id"))
                .await
                .iter()
                .map(|m| m["body"]["text"].as_str().unwrap_or_default().to_owned())
                .collect();
            assert_eq!(
                texts,
                ["message 0", "message 1", "message 2", "message 3"],
                "once each, in timestamp order"
            );
        }
    }
);

both!(
    applied_events_are_deleted_after_a_week_and_the_chat_stays,
    |app| {
        let user = app.user("U00000000000000000000000000000a1", "Aiko");
        assert_eq!(app.say(&user, "hello").await.status, 200);
        app.inbox_drained().await;
        let state = &app.server.as_ref().expect("running").state;
        let cancel = tokio_util::sync::CancellationToken::new();
        let round = || desk_server::worker::housekeeping::round(state, &cancel);

        // A day later the event is still kept: LINE may still redeliver it.
        app.advance(std::time::Duration::from_secs(86_400));
        round().await;
        assert_eq!(app.inbox_len().await, 1);

        app.advance(std::time::Duration::from_secs(7 * 86_400));
        round().await;
        assert_eq!(app.inbox_len().await, 0, "applied and a week old");
        let chat = app.only_conversation().await;
        assert_eq!(
            app.messages(&chat).await.len(),
            1,
            "the chat keeps its message"
        );
    }
);

both!(a_slow_member_profile_api_holds_up_no_group_message, |app| {
    // LINE's member-profile API answers after 2 s: the group message must not wait for it.
    let latency = std::time::Duration::from_secs(2);
    let member = "U00000000000000000000000000000b17";
    app.user(member, "Hana");
    app.sim.set_faults(line_sim::Faults {
        latency,
        ..Default::default()
    });
    let group = line_sim::Source::Group {
        group_id: format!("C{:032x}", 0xb17),
        user_id: Some(member.into()),
    };
    let started = std::time::Instant::now();
    let event = app.event(&group, EventKind::Text("皆さん、おはよう".into()));
    assert_eq!(app.deliver(vec![event]).await.status, 200);
    let id = app.chat_shown_within(started, latency).await;
    assert_eq!(app.messages(&id).await[0]["sender_name"], json!(null));

    // The writer's name follows, and the consoles are told.
    app.eventually("the writer's name", || async {
        (app.messages(&id).await[0]["sender_name"] == "Hana").then_some(())
    })
    .await;
    let updated = app.first_event("message.updated").await;
    assert_eq!(updated.payload.0["sender_name"], "Hana");
    assert_eq!(updated.conversation_id.map(|c| c.to_string()), Some(id));
});
