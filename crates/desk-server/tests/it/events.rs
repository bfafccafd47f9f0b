//! Every event type, message type and source type LINE defines is accepted, stored, and
//! applied; unknown types are kept with their raw JSON.

use std::collections::BTreeSet;

use line_sim::{EventKind, Source};
use serde_json::json;

use crate::both;
#[allow(unused_imports)]
use crate::helpers::*;

/// The sticker resource types in webhook.yml.
const STICKER_TYPES: &[&str] = &[
    "STATIC",
    "ANIMATION",
    "SOUND",
    "ANIMATION_SOUND",
    "POPUP",
    "POPUP_SOUND",
    "CUSTOM",
    "MESSAGE",
    "NAME_TEXT",
    "PER_STICKER_TEXT",
];

both!(every_event_type_is_accepted_and_stored, |app| {
    let user = app.user("U0000000000000000000000000000000a", "Aiko");
    let group = Source::Group {
        group_id: format!("C{:032x}", 7),
        user_id: Some("U0000000000000000000000000000000a".into()),
    };
    let room = Source::Room {
        room_id: format!("R{:032x}", 8),
        user_id: Some("U0000000000000000000000000000000a".into()),
    };
    let png = vec![0x89, b'P', b'N', b'G', 13, 10, 26, 10, 0, 0];
    let mut kinds = vec![
        (user.clone(), EventKind::Text("hello".into())),
        (
            user.clone(),
            EventKind::RichText {
                text: "hi $ @Bao".into(),
                emojis: vec![
                    json!({"index": 3, "length": 1, "productId": "5ac1bfd5040ab15980c9b435", "emojiId": "001"}),
                ],
                mention: None,
                quoted_message_id: None,
            },
        ),
        (
            user.clone(),
            EventKind::Image {
                content_type: "image/png".into(),
                bytes: png.clone(),
            },
        ),
        (
            user.clone(),
            EventKind::Video {
                content_type: "video/mp4".into(),
                bytes: vec![0; 64],
                duration_ms: 1_200,
            },
        ),
        (
            user.clone(),
            EventKind::Audio {
                content_type: "audio/m4a".into(),
                bytes: vec![0; 64],
                duration_ms: 3_000,
            },
        ),
        (
            user.clone(),
            EventKind::File {
                name: "invoice.pdf".into(),
                bytes: b"%PDF-1.4".to_vec(),
            },
        ),
        (
            user.clone(),
            EventKind::Location {
                title: Some("Tokyo Tower".into()),
                address: Some("4 Chome-2-8 Shibakoen".into()),
                latitude: 35.6586,
                longitude: 139.7454,
            },
        ),
        (
            user.clone(),
            EventKind::Follow {
                is_unblocked: false,
            },
        ),
        (user.clone(), EventKind::Follow { is_unblocked: true }),
        (
            user.clone(),
            EventKind::Postback {
                data: "action=buy&item=1".into(),
                params: Some(json!({"datetime": "2026-12-01T10:00"})),
            },
        ),
        (
            user.clone(),
            EventKind::VideoPlayComplete {
                tracking_id: "track-1".into(),
            },
        ),
        (
            user.clone(),
            EventKind::Beacon {
                hwid: "d41d8cd98f".into(),
                beacon_type: "enter".into(),
            },
        ),
        (
            user.clone(),
            EventKind::AccountLink {
                nonce: "nonce".into(),
                result: "ok".into(),
            },
        ),
        (
            user.clone(),
            EventKind::Membership {
                membership_type: "joined".into(),
                membership_id: 3189,
            },
        ),
        (group.clone(), EventKind::Join),
        (group.clone(), EventKind::Text("group hello".into())),
        (
            group.clone(),
            EventKind::MemberJoined(vec!["U0000000000000000000000000000000b".into()]),
        ),
        (
            group.clone(),
            EventKind::MemberLeft(vec!["U0000000000000000000000000000000b".into()]),
        ),
        (room.clone(), EventKind::Text("room hello".into())),
        (
            user.clone(),
            EventKind::ModuleAttached {
                bot_id: "Ubot".into(),
                scopes: vec!["message:send".into()],
            },
        ),
        (
            user.clone(),
            EventKind::ModuleDetached {
                bot_id: "Ubot".into(),
                reason: "bot_deleted".into(),
            },
        ),
        (user.clone(), EventKind::Activated),
        (user.clone(), EventKind::Deactivated),
        (user.clone(), EventKind::BotSuspended),
        (user.clone(), EventKind::BotResumed),
        (
            user.clone(),
            EventKind::Delivery {
                data: "hashed-phone".into(),
            },
        ),
        (
            user.clone(),
            EventKind::Things {
                device_id: "t2c1".into(),
                things_type: "link".into(),
                result: None,
            },
        ),
    ];
    for resource in STICKER_TYPES {
        kinds.push((
            user.clone(),
            EventKind::Sticker {
                package_id: "446".into(),
                sticker_id: "1988".into(),
                resource_type: (*resource).into(),
            },
        ));
    }
    let mut events: Vec<serde_json::Value> =
        kinds.into_iter().map(|(s, k)| app.event(&s, k)).collect();
    // Types this version does not know: kept, never a 500.
    let mut unknown_message = app.event(&user, EventKind::Text("x".into()));
    unknown_message["message"] =
        json!({"id": "990000001", "type": "hologram", "quoteToken": "q", "depth": 3});
    events.push(unknown_message);
    let mut unknown_sticker = app.event(
        &user,
        EventKind::Sticker {
            package_id: "1".into(),
            sticker_id: "2".into(),
            resource_type: "STATIC".into(),
        },
    );
    unknown_sticker["message"]["stickerResourceType"] = json!("HOLOGRAPHIC");
    events.push(unknown_sticker);
    let mut unknown_source = app.event(&user, EventKind::Text("from afar".into()));
    unknown_source["source"] = json!({"type": "space", "spaceId": "S1"});
    events.push(unknown_source);
    events.push(json!({"type": "teleport", "mode": "active", "timestamp": 1_760_000_000_000_i64, "webhookEventId": "01TELEPORT00000000000000000", "deliveryContext": {"isRedelivery": false}, "source": {"type": "user", "userId": "U0000000000000000000000000000000a"}, "portal": {"to": "mars"}}));
    // Unsend last: it retracts the first text.
    let first_text_id = events[0]["message"]["id"].as_str().expect("id").to_owned();
    events.push(app.event(
        &user,
        EventKind::Unsend {
            message_id: first_text_id.clone(),
        },
    ));
    events.push(app.event(&user, EventKind::Unfollow));

    let expected_types: BTreeSet<String> = events
        .iter()
        .map(|e| e["type"].as_str().expect("type").to_owned())
        .collect();
    let delivery = app.deliver(events.clone()).await;
    assert_eq!(delivery.status, 200, "{}", delivery.body);
    app.inbox_drained().await;

    // Nothing lost: one inbox row per event, raw JSON kept.
    let keys = app.store().inbox_keys(app.channel.id).await.expect("keys");
    assert_eq!(keys.len(), events.len());

    // Messages landed in their chats with LINE's message object kept whole.
    let conversations = app.conversations().await;
    let kinds: BTreeSet<String> = conversations
        .iter()
        .map(|c| c["contact_kind"].as_str().expect("kind").to_owned())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["user".to_owned(), "group".to_owned(), "room".to_owned()])
    );
    let one_to_one = conversations
        .iter()
        .find(|c| c["contact_kind"] == "user")
        .expect("1:1 chat");
    assert_eq!(
        one_to_one["friend_status"], "blocked",
        "the last event was an unfollow"
    );
    let messages = app.messages(one_to_one["id"].as_str().expect("id")).await;
    let message_kinds: BTreeSet<String> = messages
        .iter()
        .map(|m| m["kind"].as_str().expect("kind").to_owned())
        .collect();
    for k in [
        "text", "image", "video", "audio", "file", "location", "sticker", "unknown",
    ] {
        assert!(
            message_kinds.contains(k),
            "a `{k}` message is stored: {message_kinds:?}"
        );
    }
    let stickers: Vec<_> = messages.iter().filter(|m| m["kind"] == "sticker").collect();
    assert_eq!(stickers.len(), STICKER_TYPES.len() + 1);
    assert!(
        stickers
            .iter()
            .any(|m| m["body"]["stickerResourceType"] == "HOLOGRAPHIC")
    );
    let hologram = messages
        .iter()
        .find(|m| m["kind"] == "unknown")
        .expect("unknown message");
    assert_eq!(
        hologram["body"]["depth"], 3,
        "unknown message JSON kept whole"
    );
    let file = messages.iter().find(|m| m["kind"] == "file").expect("file");
    assert_eq!(file["body"]["fileName"], "invoice.pdf");
    let location = messages
        .iter()
        .find(|m| m["kind"] == "location")
        .expect("location");
    assert_eq!(location["body"]["latitude"], 35.6586);
    let unsent = messages
        .iter()
        .find(|m| m["line_message_id"] == first_text_id.as_str())
        .expect("first text");
    assert_eq!(unsent["unsent"], true);

    // Group and room messages name their writer (LINE's member profile, looked up just
    // after the message is stored).
    for kind in ["group", "room"] {
        let chat = conversations
            .iter()
            .find(|c| c["contact_kind"] == kind)
            .expect("chat");
        let id = chat["id"].as_str().expect("id");
        let text = app
            .eventually(&format!("the {kind} message's writer"), || async {
                let messages = app.messages(id).await;
                let text = messages.into_iter().find(|m| m["kind"] == "text")?;
                (text["sender_name"] == "Aiko").then_some(text)
            })
            .await;
        assert_eq!(text["sender_line_id"], "U0000000000000000000000000000000a");
    }

    // The bot leaves the group last: LINE gives no member profiles after that.
    assert_eq!(
        app.deliver(vec![app.event(&group, EventKind::Leave)])
            .await
            .status,
        200
    );
    app.inbox_drained().await;
    let stored_types: BTreeSet<String> = app
        .store()
        .inbox_event_types(app.channel.id)
        .await
        .expect("types")
        .into_iter()
        .collect();
    let mut expected_types = expected_types;
    expected_types.insert("leave".to_owned());
    assert_eq!(
        stored_types, expected_types,
        "every type sent is in the inbox"
    );

    // Events without a message are on the brand's timeline.
    let timeline = app
        .store()
        .events_after(app.channel.brand_id, 0, 1_000)
        .await
        .expect("events");
    let timeline_kinds: BTreeSet<String> = timeline
        .iter()
        .filter(|e| e.kind == "timeline")
        .map(|e| e.payload.0["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    for t in [
        "join",
        "leave",
        "memberJoined",
        "memberLeft",
        "postback",
        "beacon",
        "teleport",
    ] {
        assert!(
            timeline_kinds.contains(t),
            "`{t}` is on the timeline: {timeline_kinds:?}"
        );
    }
});
