//! Webhook event objects are shaped as webhook.yml says.

use std::collections::HashSet;

use line_sim::{ChannelSpec, EventKind, LineSim, Source};
use serde_json::{Value, json};

const CH: &str = "1657000009";

fn sim() -> LineSim {
    let sim = LineSim::new();
    sim.add_channel(ChannelSpec::new(CH, "s"));
    sim
}

fn user() -> Source {
    Source::User("Uuser".into())
}

fn group() -> Source {
    Source::Group {
        group_id: "Cgroup".into(),
        user_id: Some("Uuser".into()),
    }
}

fn keys(v: &Value) -> HashSet<String> {
    v.as_object().expect("object").keys().cloned().collect()
}

fn assert_common(ev: &Value) {
    for k in [
        "type",
        "timestamp",
        "mode",
        "webhookEventId",
        "deliveryContext",
    ] {
        assert!(ev.get(k).is_some(), "missing {k} in {ev}");
    }
    assert_eq!(ev["mode"], "active");
    assert_eq!(ev["deliveryContext"], json!({"isRedelivery": false}));
    let id = ev["webhookEventId"].as_str().expect("id");
    assert_eq!(id.len(), 26);
    assert!(
        id.chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    );
}

#[test]
fn text_message_in_one_to_one_chat() {
    let sim = sim();
    let ev = sim.event(CH, user(), EventKind::Text("hello".into()));
    assert_common(&ev);
    assert_eq!(ev["type"], "message");
    assert_eq!(ev["source"], json!({"type": "user", "userId": "Uuser"}));
    let rt = ev["replyToken"].as_str().expect("replyToken");
    assert_eq!(rt.len(), 32);
    let m = &ev["message"];
    assert_eq!(
        keys(m),
        ["type", "id", "text", "quoteToken", "markAsReadToken"]
            .map(String::from)
            .into()
    );
    assert!(
        m["id"]
            .as_str()
            .expect("id")
            .chars()
            .all(|c| c.is_ascii_digit())
    );
}

#[test]
fn group_messages_have_no_mark_as_read_token() {
    let sim = sim();
    let ev = sim.event(CH, group(), EventKind::Text("hello".into()));
    assert_eq!(
        ev["source"],
        json!({"type": "group", "groupId": "Cgroup", "userId": "Uuser"})
    );
    assert!(ev["message"].get("markAsReadToken").is_none());
    let ev = sim.event(
        CH,
        Source::Room {
            room_id: "Rroom".into(),
            user_id: None,
        },
        EventKind::Join,
    );
    assert_eq!(ev["source"], json!({"type": "room", "roomId": "Rroom"}));
}

#[test]
fn every_message_type_has_its_required_fields() {
    let sim = sim();
    let cases: Vec<(EventKind, &str, &[&str], bool)> = vec![
        (
            EventKind::RichText {
                text: "@bot hi".into(),
                emojis: vec![],
                mention: Some(
                    json!({"mentionees": [{"index": 0, "length": 4, "type": "user", "userId": "Ubot", "isSelf": true}]}),
                ),
                quoted_message_id: Some("123".into()),
            },
            "text",
            &["text", "quoteToken", "mention", "quotedMessageId"],
            true,
        ),
        (
            EventKind::Sticker {
                package_id: "446".into(),
                sticker_id: "1988".into(),
                resource_type: "STATIC".into(),
            },
            "sticker",
            &[
                "packageId",
                "stickerId",
                "stickerResourceType",
                "quoteToken",
            ],
            true,
        ),
        (
            EventKind::Image {
                content_type: "image/jpeg".into(),
                bytes: vec![1],
            },
            "image",
            &["contentProvider", "quoteToken"],
            true,
        ),
        (
            EventKind::Video {
                content_type: "video/mp4".into(),
                bytes: vec![1],
                duration_ms: 1000,
            },
            "video",
            &["contentProvider", "quoteToken", "duration"],
            true,
        ),
        (
            EventKind::Audio {
                content_type: "audio/m4a".into(),
                bytes: vec![1],
                duration_ms: 1000,
            },
            "audio",
            &["contentProvider", "duration"],
            false,
        ),
        (
            EventKind::File {
                name: "a.txt".into(),
                bytes: vec![1, 2],
            },
            "file",
            &["fileName", "fileSize"],
            false,
        ),
        (
            EventKind::Location {
                title: Some("Tower".into()),
                address: Some("Tokyo".into()),
                latitude: 35.65910807942215,
                longitude: 139.70372892916203,
            },
            "location",
            &["title", "address", "latitude", "longitude"],
            false,
        ),
    ];
    let mut ids = HashSet::new();
    for (kind, ty, required, quotable) in cases {
        let ev = sim.event(CH, user(), kind);
        assert_common(&ev);
        assert_eq!(ev["type"], "message");
        assert!(ev["replyToken"].is_string());
        let m = &ev["message"];
        assert_eq!(m["type"], ty);
        for k in required {
            assert!(m.get(*k).is_some(), "{ty}: missing {k} in {m}");
        }
        assert_eq!(m.get("quoteToken").is_some(), quotable, "{ty} quoteToken");
        assert!(m["markAsReadToken"].is_string());
        assert!(ids.insert(m["id"].as_str().expect("id").to_owned()));
    }
}

#[test]
fn every_event_type_is_shaped_per_spec() {
    let sim = sim();
    // (kind, source, type, required fields, replyToken?, source?)
    type Case = (
        EventKind,
        Source,
        &'static str,
        &'static [&'static str],
        bool,
        bool,
    );
    let cases: Vec<Case> = vec![
        (
            EventKind::Follow {
                is_unblocked: false,
            },
            user(),
            "follow",
            &["follow"],
            true,
            true,
        ),
        (EventKind::Unfollow, user(), "unfollow", &[], false, true),
        (EventKind::Join, group(), "join", &[], true, true),
        (EventKind::Leave, group(), "leave", &[], false, true),
        (
            EventKind::MemberJoined(vec!["U2".into()]),
            group(),
            "memberJoined",
            &["joined"],
            true,
            true,
        ),
        (
            EventKind::MemberLeft(vec!["U2".into()]),
            group(),
            "memberLeft",
            &["left"],
            false,
            true,
        ),
        (
            EventKind::Postback {
                data: "a=1".into(),
                params: Some(json!({"date": "2017-09-03"})),
            },
            user(),
            "postback",
            &["postback"],
            true,
            true,
        ),
        (
            EventKind::Unsend {
                message_id: "1".into(),
            },
            user(),
            "unsend",
            &["unsend"],
            false,
            true,
        ),
        (
            EventKind::VideoPlayComplete {
                tracking_id: "t".into(),
            },
            user(),
            "videoPlayComplete",
            &["videoPlayComplete"],
            true,
            true,
        ),
        (
            EventKind::Beacon {
                hwid: "d41d8cd98f".into(),
                beacon_type: "enter".into(),
            },
            user(),
            "beacon",
            &["beacon"],
            true,
            true,
        ),
        (
            EventKind::AccountLink {
                nonce: "n".into(),
                result: "ok".into(),
            },
            user(),
            "accountLink",
            &["link"],
            true,
            true,
        ),
        (
            EventKind::AccountLink {
                nonce: "n".into(),
                result: "failed".into(),
            },
            user(),
            "accountLink",
            &["link"],
            false,
            true,
        ),
        (
            EventKind::Membership {
                membership_type: "joined".into(),
                membership_id: 3189,
            },
            user(),
            "membership",
            &["membership"],
            true,
            true,
        ),
        (
            EventKind::ModuleAttached {
                bot_id: "Ubot".into(),
                scopes: vec!["message:send".into()],
            },
            user(),
            "module",
            &["module"],
            false,
            false,
        ),
        (
            EventKind::ModuleDetached {
                bot_id: "Ubot".into(),
                reason: "bot_deleted".into(),
            },
            user(),
            "module",
            &["module"],
            false,
            false,
        ),
        (
            EventKind::Activated,
            user(),
            "activated",
            &["chatControl"],
            false,
            true,
        ),
        (
            EventKind::Deactivated,
            user(),
            "deactivated",
            &[],
            false,
            true,
        ),
        (
            EventKind::BotSuspended,
            user(),
            "botSuspended",
            &[],
            false,
            false,
        ),
        (
            EventKind::BotResumed,
            user(),
            "botResumed",
            &[],
            false,
            false,
        ),
        (
            EventKind::Delivery {
                data: "hash".into(),
            },
            user(),
            "delivery",
            &["delivery"],
            false,
            false,
        ),
        (
            EventKind::Things {
                device_id: "t1".into(),
                things_type: "link".into(),
                result: None,
            },
            user(),
            "things",
            &["things"],
            true,
            true,
        ),
    ];
    for (kind, source, ty, required, replyable, with_source) in cases {
        let ev = sim.event(CH, source, kind);
        assert_common(&ev);
        assert_eq!(ev["type"], ty);
        for k in required {
            assert!(ev.get(*k).is_some(), "{ty}: missing {k} in {ev}");
        }
        assert_eq!(
            ev.get("replyToken").is_some(),
            replyable,
            "{ty}: replyToken in {ev}"
        );
        assert_eq!(
            ev.get("source").is_some(),
            with_source,
            "{ty}: source in {ev}"
        );
    }
    let ev = sim.event(
        CH,
        group(),
        EventKind::MemberJoined(vec!["U2".into(), "U3".into()]),
    );
    assert_eq!(
        ev["joined"],
        json!({"members": [{"type": "user", "userId": "U2"}, {"type": "user", "userId": "U3"}]})
    );
    let ev = sim.event(
        CH,
        user(),
        EventKind::Membership {
            membership_type: "renewed".into(),
            membership_id: 7,
        },
    );
    assert_eq!(
        ev["membership"],
        json!({"type": "renewed", "membershipId": 7})
    );
}

#[test]
fn raw_events_are_untouched() {
    let sim = sim();
    let raw = json!({"type": "somethingNew", "foo": 1});
    assert_eq!(sim.event(CH, user(), EventKind::Raw(raw.clone())), raw);
}

#[test]
fn event_ids_are_unique() {
    let sim = sim();
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let ev = sim.event(CH, user(), EventKind::Text("x".into()));
        assert!(seen.insert(ev["webhookEventId"].as_str().expect("id").to_owned()));
        assert!(seen.insert(ev["message"]["id"].as_str().expect("id").to_owned()));
        assert!(seen.insert(ev["replyToken"].as_str().expect("rt").to_owned()));
    }
}
