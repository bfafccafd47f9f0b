//! The JSON API's checks: authentication, validation with field names, completed chats.

use serde_json::{Value, json};

use crate::both;
#[allow(unused_imports)]
use crate::helpers::*;

both!(the_api_needs_a_token, |app| {
    let anonymous = app
        .http
        .get(format!("{}/api/v1/conversations", app.base))
        .send()
        .await
        .expect("GET");
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unauthorized");
    let wrong = app
        .http
        .get(format!("{}/api/v1/conversations", app.base))
        .bearer_auth("ldk_nope")
        .send()
        .await
        .expect("GET");
    assert_eq!(wrong.status(), 401);
});

both!(bad_input_names_the_field, |app| {
    let user = app.user("U0000000000000000000000000000beef", "Dai");
    app.say(&user, "hi").await;
    let conversation = app.only_conversation().await;

    let too_long = app
        .post_message(&conversation, json!({"text": "あ".repeat(5_001)}))
        .await;
    assert_eq!(too_long.status(), 400);
    let body: Value = too_long.json().await.expect("json");
    assert_eq!(body["error"]["field"], "text");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("5000")),
        "{body}"
    );

    let blank = app
        .post_message(&conversation, json!({"text": "   "}))
        .await;
    assert_eq!(blank.status(), 400);
    let missing = app
        .post_message(&conversation, json!({"txt": "typo"}))
        .await;
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json().await.expect("json");
    assert_eq!(body["error"]["field"], "body");

    let bad_id = app.get("/api/v1/conversations/not-a-uuid/messages").await;
    assert_eq!(bad_id.status(), 400);
    let unknown = app
        .get(&format!(
            "/api/v1/conversations/{}/messages",
            uuid::Uuid::now_v7()
        ))
        .await;
    assert_eq!(unknown.status(), 404);
    let bad_state = app.get("/api/v1/conversations?state=sleeping").await;
    assert_eq!(bad_state.status(), 400);
    assert!(app.sim.sent().is_empty(), "nothing was sent");
});

both!(a_completed_chat_refuses_replies, |app| {
    let user = app.user("U0000000000000000000000000000f00d", "Emi");
    app.say(&user, "thanks, bye").await;
    let conversation = app.only_conversation().await;
    let closed = app
        .send_json(
            reqwest::Method::POST,
            &format!("/api/v1/conversations/{conversation}/close"),
            json!({}),
        )
        .await;
    assert_eq!(closed.status(), 200);
    let refused = app
        .post_message(&conversation, json!({"text": "one more thing"}))
        .await;
    assert_eq!(refused.status(), 409);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["message"], "this chat is completed");

    // The user's next message opens a new chat, linked to the old one.
    app.say(&user, "actually, one more question").await;
    app.inbox_drained().await;
    let list = app.conversations().await;
    assert_eq!(list.len(), 2);
    let new = list
        .iter()
        .find(|c| c["state"] == "waiting")
        .expect("new chat");
    assert_eq!(new["previous_id"], conversation.as_str());
});
