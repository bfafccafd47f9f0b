//! The content endpoint (api-data host).

use line_sim::EventKind;

use crate::common::authed_env;

#[tokio::test]
async fn content_prepares_then_serves() {
    let (env, token) = authed_env().await;
    let bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
    let ev = env.user_event(EventKind::Image {
        content_type: "image/jpeg".into(),
        bytes: bytes.clone(),
    });
    assert_eq!(ev["message"]["contentProvider"]["type"], "line");
    let id = ev["message"]["id"].as_str().expect("id").to_owned();
    env.sim.content_preparing(&id, 2);
    let path = format!("/v2/bot/message/{id}/content");
    for _ in 0..2 {
        let r = env.get_raw(&token, &path).await;
        assert_eq!(r.status(), 202);
    }
    let t = env
        .get(&token, &format!("/v2/bot/message/{id}/content/transcoding"))
        .await;
    assert_eq!(t.body["status"], "succeeded");
    let r = env.get_raw(&token, &path).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/jpeg")
    );
    assert!(r.headers().contains_key("x-line-request-id"));
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), bytes);
}

#[tokio::test]
async fn unknown_and_unsent_content() {
    let (env, token) = authed_env().await;
    let a = env.get(&token, "/v2/bot/message/123/content").await;
    assert_eq!(a.status, 404);
    assert_eq!(a.body, serde_json::json!({"message": "Not found"}));

    let ev = env.user_event(EventKind::File {
        name: "a.pdf".into(),
        bytes: b"%PDF".to_vec(),
    });
    assert_eq!(ev["message"]["fileSize"], 4);
    let id = ev["message"]["id"].as_str().expect("id").to_owned();
    let r = env
        .get_raw(&token, &format!("/v2/bot/message/{id}/content"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.expect("bytes").as_ref(), b"%PDF");

    env.user_event(EventKind::Unsend {
        message_id: id.clone(),
    });
    let a = env
        .get(&token, &format!("/v2/bot/message/{id}/content"))
        .await;
    assert_eq!(a.status, 410);
}

#[tokio::test]
async fn set_content_serves_any_channel() {
    let (env, token) = authed_env().await;
    env.sim.set_content("777", "audio/m4a", vec![9, 9]);
    let r = env.get_raw(&token, "/v2/bot/message/777/content").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.expect("bytes").as_ref(), &[9, 9]);
}
