//! Push messages: retry keys, injected failures, monthly limit, blocked users.

use line_sim::{EventKind, FailWhen, Faults, SendApi};
use serde_json::json;

use crate::common::{CH, USER, authed_env, text};

const PUSH: &str = "/v2/bot/message/push";
const KEY: &str = "123e4567-e89b-12d3-a456-426614174000";

#[tokio::test]
async fn repeated_retry_key_is_409_and_delivered_once() {
    let (env, token) = authed_env().await;
    let push = async |key| {
        env.push_with(&token, USER, &[text("once")], Some(key))
            .await
    };
    let first = push(KEY).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let first_id = first.header("x-line-request-id").expect("request id");

    let second = push(KEY).await;
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
    let other = push("123e4567-e89b-12d3-a456-426614174001").await;
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
    let (env, token) = authed_env().await;
    let a = env
        .push_with(&token, USER, &[text("x")], Some("not-a-uuid"))
        .await;
    assert_eq!(a.status, 400);
    assert!(a.body["message"].is_string());
    assert!(env.sim.delivered().is_empty());
}

#[tokio::test]
async fn fail_before_accept_delivers_nothing() {
    let (env, token) = authed_env().await;
    env.sim
        .fail_next(SendApi::Push, 500, FailWhen::BeforeAccept, 1);
    let push = async || {
        env.push_with(&token, USER, &[text("retry me")], Some(KEY))
            .await
    };
    let a = push().await;
    assert_eq!(a.status, 500);
    assert!(a.body["message"].is_string());
    assert!(env.sim.delivered().is_empty());
    // The key was not accepted, so the retry goes through.
    let a = push().await;
    assert_eq!(a.status, 200);
    assert_eq!(env.sim.delivered().len(), 1);
    assert_eq!(env.sim.sent().len(), 2);
}

#[tokio::test]
async fn fail_after_accept_delivers_then_retry_conflicts() {
    let (env, token) = authed_env().await;
    env.sim
        .fail_next(SendApi::Push, 500, FailWhen::AfterAccept, 1);
    let push = async || {
        env.push_with(&token, USER, &[text("lost response")], Some(KEY))
            .await
    };
    let a = push().await;
    assert_eq!(a.status, 500);
    let delivered = env.sim.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].status, 500);
    let a = push().await;
    assert_eq!(a.status, 409);
    assert_eq!(env.sim.delivered().len(), 1);
}

#[tokio::test]
async fn reply_failures_before_and_after_accept() {
    let (env, token) = authed_env().await;
    let rt = env.reply_token();
    let reply = async || env.reply(&token, &rt, &[text("x")]).await;

    env.sim
        .fail_next(SendApi::Reply, 503, FailWhen::BeforeAccept, 2);
    assert_eq!(reply().await.status, 503);
    assert_eq!(reply().await.status, 503);
    assert!(env.sim.delivered().is_empty());

    env.sim
        .fail_next(SendApi::Reply, 500, FailWhen::AfterAccept, 1);
    assert_eq!(reply().await.status, 500);
    assert_eq!(env.sim.delivered().len(), 1);
    let a = reply().await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["message"], "Invalid reply token");
    assert_eq!(env.sim.delivered().len(), 1);
    // Push is unaffected by reply failures.
    let a = env.push(&token, USER, &[text("p")]).await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn monthly_limit_blocks_pushes_not_replies() {
    let (env, token) = authed_env().await;
    env.sim.set_faults(Faults {
        monthly_limit: true,
        ..Faults::default()
    });
    let a = env.push(&token, USER, &[text("x")]).await;
    assert_eq!(a.status, 429);
    assert_eq!(
        a.body,
        json!({"message": "You have reached your monthly limit."})
    );
    let a = env.reply(&token, env.reply_token(), &[text("x")]).await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn quota_and_consumption() {
    let (env, token) = authed_env().await;
    env.sim.set_quota(CH, Some(2));
    let q = env.get(&token, "/v2/bot/message/quota").await;
    assert_eq!(q.body, json!({"type": "limited", "value": 2}));
    for _ in 0..2 {
        let a = env.push(&token, USER, &[text("x"), text("y")]).await;
        assert_eq!(a.status, 200);
    }
    let a = env.push(&token, USER, &[text("z")]).await;
    assert_eq!(a.status, 429);
    let c = env.get(&token, "/v2/bot/message/quota/consumption").await;
    assert_eq!(c.body, json!({"totalUsage": 2}));
    env.sim.set_quota(CH, None);
    let q = env.get(&token, "/v2/bot/message/quota").await;
    assert_eq!(q.body, json!({"type": "none"}));
}

#[tokio::test]
async fn push_to_blocked_user_is_accepted_but_not_delivered() {
    let (env, token) = authed_env().await;
    env.user_event(EventKind::Unfollow);
    let a = env.push(&token, USER, &[text("anyone?")]).await;
    assert_eq!(a.status, 200);
    let sent = env.sim.sent();
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].delivered);
    let c = env.get(&token, "/v2/bot/message/quota/consumption").await;
    assert_eq!(c.body["totalUsage"], 0);
    // Following again makes pushes arrive.
    env.user_event(EventKind::Follow { is_unblocked: true });
    let a = env.push(&token, USER, &[text("welcome back")]).await;
    assert_eq!(a.status, 200);
    assert!(env.sim.sent()[1].delivered);
}

#[tokio::test]
async fn push_to_unknown_recipient_fails() {
    let (env, token) = authed_env().await;
    let a = env
        .push(&token, "U00000000000000000000000000000000", &[text("x")])
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
    let (env, token) = authed_env().await;
    env.sim.set_faults(Faults {
        rate_429: 1.0,
        ..Faults::default()
    });
    let a = env.push(&token, USER, &[text("x")]).await;
    assert_eq!(a.status, 429);
    env.sim.set_faults(Faults {
        rate_500: 1.0,
        latency: std::time::Duration::from_millis(50),
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    let a = env.push(&token, USER, &[text("x")]).await;
    assert_eq!(a.status, 500);
    assert!(started.elapsed() >= std::time::Duration::from_millis(50));
    env.sim.set_faults(Faults::default());
    let a = env.push(&token, USER, &[text("x")]).await;
    assert_eq!(a.status, 200);
    assert_eq!(env.sim.delivered().len(), 1);
}
