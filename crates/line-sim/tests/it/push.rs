//! Push messages: retry keys, injected failures, monthly limit, blocked users.

use line_sim::{EventKind, FailWhen, Faults, SendApi, Source};
use serde_json::json;

use crate::common::{CH, USER, env, text};

const PUSH: &str = "/v2/bot/message/push";
const KEY: &str = "123e4567-e89b-12d3-a456-426614174000";

#[tokio::test]
async fn repeated_retry_key_is_409_and_delivered_once() {
    let env = env().await;
    let token = env.token().await;
    let body = json!({"to": USER, "messages": [text("once")]});
    let first = env.post_with(&token, PUSH, &body, Some(KEY)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let first_id = first.header("x-line-request-id").expect("request id");

    let second = env.post_with(&token, PUSH, &body, Some(KEY)).await;
    assert_eq!(second.status, 409);
    assert_eq!(second.body["message"], "The retry key is already accepted");
    assert_eq!(second.body["sentMessages"], first.body["sentMessages"]);
    assert_eq!(
        second.header("x-line-accepted-request-id").as_deref(),
        Some(first_id.as_str())
    );
    assert_ne!(second.header("x-line-request-id"), Some(first_id));

    assert_eq!(env.sim.delivered().len(), 1);
    let sent = env.sim.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].status, 409);
    assert!(!sent[1].delivered);
    assert_eq!(sent[1].retry_key.as_deref(), Some(KEY));

    // Another key goes through.
    let other = env
        .post_with(
            &token,
            PUSH,
            &body,
            Some("123e4567-e89b-12d3-a456-426614174001"),
        )
        .await;
    assert_eq!(other.status, 200);
    assert_eq!(env.sim.delivered().len(), 2);

    let logged: Vec<_> = env
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.path == PUSH)
        .collect();
    assert_eq!(logged.len(), 3);
    assert_eq!(logged[0].retry_key.as_deref(), Some(KEY));
    assert_eq!(logged[1].status, 409);
}

#[tokio::test]
async fn retry_key_must_be_a_uuid() {
    let env = env().await;
    let token = env.token().await;
    let a = env
        .post_with(
            &token,
            PUSH,
            &json!({"to": USER, "messages": [text("x")]}),
            Some("not-a-uuid"),
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(a.body["message"].is_string());
    assert!(env.sim.delivered().is_empty());
}

#[tokio::test]
async fn fail_before_accept_delivers_nothing() {
    let env = env().await;
    let token = env.token().await;
    env.sim
        .fail_next(SendApi::Push, 500, FailWhen::BeforeAccept, 1);
    let body = json!({"to": USER, "messages": [text("retry me")]});
    let a = env.post_with(&token, PUSH, &body, Some(KEY)).await;
    assert_eq!(a.status, 500);
    assert!(a.body["message"].is_string());
    assert!(env.sim.delivered().is_empty());
    // The key was not accepted, so the retry goes through.
    let a = env.post_with(&token, PUSH, &body, Some(KEY)).await;
    assert_eq!(a.status, 200);
    assert_eq!(env.sim.delivered().len(), 1);
    assert_eq!(env.sim.sent().len(), 2);
}

#[tokio::test]
async fn fail_after_accept_delivers_then_retry_conflicts() {
    let env = env().await;
    let token = env.token().await;
    env.sim
        .fail_next(SendApi::Push, 500, FailWhen::AfterAccept, 1);
    let body = json!({"to": USER, "messages": [text("lost response")]});
    let a = env.post_with(&token, PUSH, &body, Some(KEY)).await;
    assert_eq!(a.status, 500);
    let delivered = env.sim.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].status, 500);
    let a = env.post_with(&token, PUSH, &body, Some(KEY)).await;
    assert_eq!(a.status, 409);
    assert_eq!(env.sim.delivered().len(), 1);
}

#[tokio::test]
async fn reply_failures_before_and_after_accept() {
    let env = env().await;
    let token = env.token().await;
    let rt = env.reply_token();
    let body = json!({"replyToken": rt, "messages": [text("x")]});

    env.sim
        .fail_next(SendApi::Reply, 503, FailWhen::BeforeAccept, 2);
    assert_eq!(
        env.post(&token, "/v2/bot/message/reply", &body)
            .await
            .status,
        503
    );
    assert_eq!(
        env.post(&token, "/v2/bot/message/reply", &body)
            .await
            .status,
        503
    );
    assert!(env.sim.delivered().is_empty());

    env.sim
        .fail_next(SendApi::Reply, 500, FailWhen::AfterAccept, 1);
    assert_eq!(
        env.post(&token, "/v2/bot/message/reply", &body)
            .await
            .status,
        500
    );
    assert_eq!(env.sim.delivered().len(), 1);
    let a = env.post(&token, "/v2/bot/message/reply", &body).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["message"], "Invalid reply token");
    assert_eq!(env.sim.delivered().len(), 1);
    // Push is unaffected by reply failures.
    let a = env
        .post(&token, PUSH, &json!({"to": USER, "messages": [text("p")]}))
        .await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn monthly_limit_blocks_pushes_not_replies() {
    let env = env().await;
    let token = env.token().await;
    env.sim.set_faults(Faults {
        monthly_limit: true,
        ..Faults::default()
    });
    let a = env
        .post(&token, PUSH, &json!({"to": USER, "messages": [text("x")]}))
        .await;
    assert_eq!(a.status, 429);
    assert_eq!(
        a.body,
        json!({"message": "You have reached your monthly limit."})
    );
    let a = env
        .post(
            &token,
            "/v2/bot/message/reply",
            &json!({"replyToken": env.reply_token(), "messages": [text("x")]}),
        )
        .await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn quota_and_consumption() {
    let env = env().await;
    let token = env.token().await;
    env.sim.set_quota(CH, Some(2));
    let q = env.get(&token, "/v2/bot/message/quota").await;
    assert_eq!(q.body, json!({"type": "limited", "value": 2}));
    for _ in 0..2 {
        let a = env
            .post(
                &token,
                PUSH,
                &json!({"to": USER, "messages": [text("x"), text("y")]}),
            )
            .await;
        assert_eq!(a.status, 200);
    }
    let a = env
        .post(&token, PUSH, &json!({"to": USER, "messages": [text("z")]}))
        .await;
    assert_eq!(a.status, 429);
    let c = env.get(&token, "/v2/bot/message/quota/consumption").await;
    assert_eq!(c.body, json!({"totalUsage": 2}));
    env.sim.set_quota(CH, None);
    let q = env.get(&token, "/v2/bot/message/quota").await;
    assert_eq!(q.body, json!({"type": "none"}));
}

#[tokio::test]
async fn push_to_blocked_user_is_accepted_but_not_delivered() {
    let env = env().await;
    let token = env.token().await;
    env.sim
        .event(CH, Source::User(USER.into()), EventKind::Unfollow);
    let a = env
        .post(
            &token,
            PUSH,
            &json!({"to": USER, "messages": [text("anyone?")]}),
        )
        .await;
    assert_eq!(a.status, 200);
    let sent = env.sim.sent();
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].delivered);
    let c = env.get(&token, "/v2/bot/message/quota/consumption").await;
    assert_eq!(c.body["totalUsage"], 0);
    // Following again makes pushes arrive.
    env.sim.event(
        CH,
        Source::User(USER.into()),
        EventKind::Follow { is_unblocked: true },
    );
    let a = env
        .post(
            &token,
            PUSH,
            &json!({"to": USER, "messages": [text("welcome back")]}),
        )
        .await;
    assert_eq!(a.status, 200);
    assert!(env.sim.sent()[1].delivered);
}

#[tokio::test]
async fn push_to_unknown_recipient_fails() {
    let env = env().await;
    let token = env.token().await;
    let a = env
        .post(
            &token,
            PUSH,
            &json!({"to": "U00000000000000000000000000000000", "messages": [text("x")]}),
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["message"], "Failed to send messages");
    let a = env
        .post(&token, PUSH, &json!({"messages": [text("x")]}))
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["details"][0]["property"], "to");
}

#[tokio::test]
async fn random_faults_apply() {
    let env = env().await;
    let token = env.token().await;
    env.sim.set_faults(Faults {
        rate_429: 1.0,
        ..Faults::default()
    });
    let a = env
        .post(&token, PUSH, &json!({"to": USER, "messages": [text("x")]}))
        .await;
    assert_eq!(a.status, 429);
    env.sim.set_faults(Faults {
        rate_500: 1.0,
        latency: std::time::Duration::from_millis(50),
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    let a = env
        .post(&token, PUSH, &json!({"to": USER, "messages": [text("x")]}))
        .await;
    assert_eq!(a.status, 500);
    assert!(started.elapsed() >= std::time::Duration::from_millis(50));
    env.sim.set_faults(Faults::default());
    let a = env
        .post(&token, PUSH, &json!({"to": USER, "messages": [text("x")]}))
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(env.sim.delivered().len(), 1);
}
