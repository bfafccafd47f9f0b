//! Webhook delivery (signed POSTs to the desk) and the webhook endpoint API.

use line_api::signature::verify;
use line_sim::{DeliverOpts, EventKind, SimError};
use serde_json::{Value, json};

use crate::common::{CH, SECRET, authed_env, env, receiver};

#[tokio::test]
async fn delivery_is_compact_and_signed() {
    let env = env().await;
    let rx = receiver(200).await;
    env.sim.set_webhook(CH, &rx.url());
    let d = env.user_says(CH, "hello").await.expect("deliver");
    assert_eq!(d.status, 200);
    assert_eq!(d.body, "ok");

    let got = rx.received();
    assert_eq!(got.len(), 1);
    let sig = got[0].headers["x-line-signature"].to_str().expect("sig");
    assert!(verify(SECRET, &got[0].body, sig));
    assert!(!verify("other secret", &got[0].body, sig));
    let content_type = got[0].headers["content-type"].to_str().expect("ct");
    assert!(content_type.starts_with("application/json"));

    let body: Value = serde_json::from_slice(&got[0].body).expect("json");
    // Compact serialization: re-serializing gives the same bytes.
    assert_eq!(
        serde_json::to_vec(&body).expect("vec"),
        got[0].body.to_vec()
    );
    let bot = env.sim.channel(CH).expect("channel").bot_user_id;
    assert_eq!(body["destination"], bot.as_str());
    assert_eq!(body["events"][0]["message"]["text"], "hello");
    assert_eq!(body["events"][0]["deliveryContext"]["isRedelivery"], false);
}

#[tokio::test]
async fn redelivery_and_overrides() {
    let env = env().await;
    let rx = receiver(200).await;
    env.sim.set_webhook(CH, &rx.url());
    let evs = vec![
        env.user_event(EventKind::Text("a".into())),
        env.user_event(EventKind::Text("b".into())),
    ];
    let deliveries = [
        (
            evs.clone(),
            DeliverOpts {
                redelivery: true,
                ..DeliverOpts::default()
            },
        ),
        (
            evs,
            DeliverOpts {
                signature: Some("forged".into()),
                ..DeliverOpts::default()
            },
        ),
        (
            Vec::new(),
            DeliverOpts {
                raw_body: Some(b"{\"destination\":\"x\",\"events\":[{}]}".to_vec()),
                ..DeliverOpts::default()
            },
        ),
    ];
    for (events, opts) in deliveries {
        env.sim.deliver(CH, events, opts).await.expect("deliver");
    }

    let got = rx.received();
    assert_eq!(got.len(), 3);
    let first: Value = serde_json::from_slice(&got[0].body).expect("json");
    for ev in first["events"].as_array().expect("events") {
        assert_eq!(ev["deliveryContext"]["isRedelivery"], true);
    }
    assert_eq!(got[1].headers["x-line-signature"], "forged");
    assert_eq!(
        got[2].body.as_ref(),
        b"{\"destination\":\"x\",\"events\":[{}]}"
    );
    let sig = got[2].headers["x-line-signature"].to_str().expect("sig");
    assert!(verify(SECRET, &got[2].body, sig));
}

#[tokio::test]
async fn inactive_or_missing_webhook_is_an_error() {
    let env = env().await;
    let err = env.user_says(CH, "x").await.expect_err("no webhook");
    assert!(matches!(err, SimError::NoWebhook(_)));
    let rx = receiver(200).await;
    env.sim.set_webhook(CH, &rx.url());
    env.sim.set_webhook_active(CH, false);
    let err = env.user_says(CH, "x").await.expect_err("inactive");
    assert!(matches!(err, SimError::WebhookInactive(_)));
    assert!(rx.received().is_empty());
    let err = env.user_says("nope", "x").await.expect_err("unknown");
    assert!(matches!(err, SimError::UnknownChannel(_)));
}

#[tokio::test]
async fn endpoint_get_put_and_test_success() {
    let (env, token) = authed_env().await;
    let a = env.get(&token, "/v2/bot/channel/webhook/endpoint").await;
    assert_eq!(a.body, json!({"endpoint": "", "active": false}));

    let rx = receiver(200).await;
    let a = env
        .put(
            &token,
            "/v2/bot/channel/webhook/endpoint",
            &json!({"endpoint": rx.url()}),
        )
        .await;
    assert_eq!(a.status, 200);
    let a = env.get(&token, "/v2/bot/channel/webhook/endpoint").await;
    assert_eq!(a.body, json!({"endpoint": rx.url(), "active": true}));

    let a = env
        .post(&token, "/v2/bot/channel/webhook/test", &json!({}))
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["success"], true);
    assert_eq!(a.body["statusCode"], 200);
    assert_eq!(a.body["reason"], "OK");
    assert_eq!(a.body["detail"], "200");
    let ts = a.body["timestamp"].as_str().expect("timestamp");
    assert_eq!(ts.len(), 24);
    assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T');

    let got = rx.received();
    assert_eq!(got.len(), 1);
    let body: Value = serde_json::from_slice(&got[0].body).expect("json");
    let bot = env.sim.channel(CH).expect("channel").bot_user_id;
    assert_eq!(body, json!({"destination": bot, "events": []}));
    let sig = got[0].headers["x-line-signature"].to_str().expect("sig");
    assert!(verify(SECRET, &got[0].body, sig));
}

#[tokio::test]
async fn endpoint_test_failures() {
    let (env, token) = authed_env().await;
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let a = env
        .post(
            &token,
            "/v2/bot/channel/webhook/test",
            &json!({"endpoint": format!("http://{closed}/webhook")}),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["success"], false);
    assert_eq!(a.body["reason"], "COULD_NOT_CONNECT");
    assert_eq!(a.body["statusCode"], 0);

    let rx = receiver(500).await;
    let a = env
        .post(
            &token,
            "/v2/bot/channel/webhook/test",
            &json!({"endpoint": rx.url()}),
        )
        .await;
    assert_eq!(a.body["success"], false);
    assert_eq!(a.body["reason"], "ERROR_STATUS_CODE");
    assert_eq!(a.body["statusCode"], 500);

    // No endpoint given and none stored.
    let a = env
        .post(&token, "/v2/bot/channel/webhook/test", &json!({}))
        .await;
    assert_eq!(a.status, 400);
    assert!(a.body["message"].is_string());

    // Plain-HTTP URLs elsewhere than this machine are refused.
    let a = env
        .put(
            &token,
            "/v2/bot/channel/webhook/endpoint",
            &json!({"endpoint": "http://example.com/hook"}),
        )
        .await;
    assert_eq!(a.status, 400);
}
