//! Reply messages: single-use, expiring reply tokens and message validation.

use std::time::Duration;

use line_sim::{ChannelSpec, EventKind, SendApi, Source};
use serde_json::{Value, json};

use crate::common::{CH, USER, authed_env, env, send, text};

const REPLY: &str = "/v2/bot/message/reply";

#[tokio::test]
async fn reply_token_is_single_use() {
    let (env, token) = authed_env().await;
    let rt = env.reply_token();
    let messages = [
        text("hello"),
        json!({"type": "sticker", "packageId": "446", "stickerId": "1988"}),
    ];
    let a = env.reply(&token, &rt, &messages).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let sent = a.body["sentMessages"].as_array().expect("sentMessages");
    assert_eq!(sent.len(), 2);
    for m in sent {
        assert!(
            m["id"]
                .as_str()
                .is_some_and(|id| id.chars().all(|c| c.is_ascii_digit()))
        );
        assert!(m["quoteToken"].is_string());
    }
    assert!(a.header("x-line-request-id").is_some());

    let again = env.reply(&token, &rt, &messages).await;
    assert_eq!(again.status, 400);
    assert_eq!(again.body, json!({"message": "Invalid reply token"}));

    let sent = env.sim.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].api, SendApi::Reply);
    assert_eq!(sent[0].to, USER);
    assert_eq!(sent[0].channel_id, CH);
    assert!(sent[0].delivered);
    assert_eq!(sent[0].status, 200);
    assert_eq!(sent[0].messages.len(), 2);
    assert!(!sent[1].delivered);
    assert_eq!(sent[1].status, 400);
    assert_eq!(env.sim.delivered().len(), 1);
}

#[tokio::test]
async fn reply_token_expires_after_60_seconds() {
    let (env, token) = authed_env().await;
    // A text event from the same user as `Env::user_event`, `age` ago.
    let aged = |text: &str, age| {
        env.sim.event_at(
            CH,
            Source::User(USER.into()),
            EventKind::Text(text.into()),
            age,
        )
    };
    let old = aged("old", Duration::from_secs(61));
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_millis(),
    )
    .expect("ms");
    let ts = old["timestamp"].as_i64().expect("timestamp");
    assert!(
        (now_ms - ts - 61_000).abs() < 5_000,
        "timestamp is 61 s ago"
    );
    let a = env.reply(&token, &old["replyToken"], &[text("late")]).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["message"], "Invalid reply token");

    let recent = aged("recent", Duration::from_secs(50));
    let a = env
        .reply(&token, &recent["replyToken"], &[text("in time")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn reply_token_belongs_to_its_channel() {
    let env = env().await;
    env.sim
        .add_channel(ChannelSpec::new("2000000002", "other-secret"));
    let other = env.issue_token_for("2000000002", "other-secret").await;
    let other = other.body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let rt = env.reply_token();
    let a = env.reply(&other, &rt, &[text("x")]).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["message"], "Invalid reply token");
    // Still usable by its own channel.
    let token = env.token().await;
    let a = env.reply(&token, &rt, &[text("x")]).await;
    assert_eq!(a.status, 200);
}

fn details(body: &Value) -> Vec<(String, String)> {
    body["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| {
            (
                d["message"].as_str().expect("message").to_owned(),
                d["property"].as_str().expect("property").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn invalid_messages_name_their_properties() {
    let (env, token) = authed_env().await;
    let rt = env.reply_token();
    let messages = [
        json!({"type": "text", "text": ""}),
        json!({"type": "sticker", "packageId": "446"}),
        json!({"type": "image", "originalContentUrl": "http://example.com/a.jpg", "previewImageUrl": "https://example.com/p.jpg"}),
        json!({"type": "audio", "originalContentUrl": "https://example.com/a.m4a"}),
        json!({"type": "hologram"}),
    ];
    let a = env.reply(&token, &rt, &messages).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["message"], "The request body has 5 error(s)");
    let d = details(&a.body);
    assert_eq!(d[0], ("May not be empty".into(), "messages[0].text".into()));
    assert_eq!(
        d[1],
        ("May not be empty".into(), "messages[1].stickerId".into())
    );
    assert_eq!(d[2].1, "messages[2].originalContentUrl");
    assert_eq!(
        d[3],
        ("May not be empty".into(), "messages[3].duration".into())
    );
    assert_eq!(d[4].1, "messages[4].type");

    // A rejected body does not use up the reply token.
    let a = env.reply(&token, &rt, &[text("fine")]).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn image_urls_may_be_local_http() {
    let (env, token) = authed_env().await;
    let image = json!({
        "type": "image",
        "originalContentUrl": "http://127.0.0.1:9/a.jpg",
        "previewImageUrl": "http://localhost:9/p.jpg",
    });
    let a = env.reply(&token, env.reply_token(), &[image]).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn text_limit_is_5000_utf16_units() {
    let (env, token) = authed_env().await;
    // "𠮷" is a single character but two UTF-16 code units.
    let exact = format!("{}{}", "𠮷".repeat(2_499), "ab");
    assert_eq!(exact.encode_utf16().count(), 5_000);
    let a = env.reply(&token, env.reply_token(), &[text(&exact)]).await;
    assert_eq!(a.status, 200, "{}", a.body);

    let over = format!("{exact}c");
    let a = env.reply(&token, env.reply_token(), &[text(&over)]).await;
    assert_eq!(a.status, 400);
    assert_eq!(
        details(&a.body),
        vec![(
            "Length must be between 0 and 5000".into(),
            "messages[0].text".into()
        )]
    );
}

#[tokio::test]
async fn one_to_five_messages() {
    let (env, token) = authed_env().await;
    for n in [0usize, 6] {
        let msgs: Vec<Value> = (0..n).map(|_| text("x")).collect();
        let a = env.reply(&token, env.reply_token(), &msgs).await;
        assert_eq!(a.status, 400);
        assert_eq!(
            details(&a.body),
            vec![("Size must be between 1 and 5".into(), "messages".into())]
        );
    }
    let a = env
        .post(&token, REPLY, &json!({"messages": [text("x")]}))
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        details(&a.body),
        vec![("May not be empty".into(), "replyToken".into())]
    );
}

#[tokio::test]
async fn malformed_json_is_a_line_error() {
    let (env, token) = authed_env().await;
    let a = send(
        env.http
            .post(env.url(REPLY))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(a.body["message"].is_string());
}

#[tokio::test]
async fn quote_tokens_from_events_are_accepted() {
    let (env, token) = authed_env().await;
    let ev = env.user_event(EventKind::Text("quote me".into()));
    let qt = ev["message"]["quoteToken"].as_str().expect("quoteToken");
    let quoting = |qt: &str| json!({"type": "text", "text": "quoted", "quoteToken": qt});
    let a = env.reply(&token, &ev["replyToken"], &[quoting(qt)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = env
        .reply(&token, env.reply_token(), &[quoting("bogus")])
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(details(&a.body)[0].1, "messages[0].quoteToken");
}

#[tokio::test]
async fn reply_to_a_group_goes_to_the_group() {
    let (env, token) = authed_env().await;
    let ev = env.sim.event(
        CH,
        Source::Group {
            group_id: "Cgroup".into(),
            user_id: Some(USER.into()),
        },
        EventKind::Text("hi all".into()),
    );
    let a = env
        .reply(&token, &ev["replyToken"], &[text("hello group")])
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(env.sim.sent()[0].to, "Cgroup");
}
