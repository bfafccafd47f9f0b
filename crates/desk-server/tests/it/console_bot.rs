//! What the console shows of the chatbot's side of a chat: the chat list names the bot (not
//! "you") as the last writer, the thread shows the quick-reply buttons the bot offered, and
//! the chat-start entry comes before the message that started the chat.

use line_sim::EventKind;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::console::{admin, html};

/// A rules bot answering "hours" with three quick-reply buttons.
fn hours_bot() -> Value {
    json!({
        "mode": "rules",
        "rules": {
            "default_language": "en",
            "rules": [
                {"name": "hours", "trigger": {"type": "keyword", "keywords": ["hours"]},
                 "reply": {"messages": [{"type": "text", "text": {"en": "We are open 9-18"}}],
                           "quick_replies": [
                               {"label": {"en": "Shops"}, "action": {"type": "postback", "data": "shops"}},
                               {"label": {"en": "Menu"}, "action": {"type": "message", "text": {"en": "menu"}}},
                               {"label": {"en": "Talk to a person"}, "action": {"type": "handoff"}}
                           ]}}
            ],
            "fallback": {"messages": [{"type": "text", "text": {"en": "Sorry, I don't know"}}]}
        }
    })
}

both!(
    bot_replies_read_as_the_bot_with_their_quick_replies,
    |app| {
        let path = format!("/api/v1/channels/{}/bot", app.channel.id);
        let saved = app.send_json(Method::PUT, &path, hours_bot()).await;
        assert_eq!(
            saved.status(),
            200,
            "{}",
            saved.text().await.unwrap_or_default()
        );

        // LINE stamps an event when the user sends it; the webhook (and the chat-start entry it
        // records) arrives a little later.
        let user = app.user("U00000000000000000000000000c0b01", "Chika");
        let mut event = app.event(&user, EventKind::Text("What are your hours?".into()));
        let stamped = event["timestamp"].as_i64().expect("timestamp") - 2_000;
        event["timestamp"] = json!(stamped);
        assert_eq!(app.deliver(vec![event]).await.status, 200);
        let chat = app.only_conversation().await;
        app.eventually("the bot's answer to be sent", || async {
            app.messages(&chat)
                .await
                .into_iter()
                .find(|m| m["sender_bot"] == true && m["status"] == "sent")
        })
        .await;

        let browser = admin(app).await;
        let brand = app.channel.brand_id;
        let list = html(
            app,
            &browser,
            &format!("/brands/{brand}/chats?list=open"),
            "en",
        )
        .await;
        assert!(list.contains("Bot: We are open 9-18"), "{list}");
        assert!(!list.contains("You: We are open"), "{list}");
        let list = html(
            app,
            &browser,
            &format!("/brands/{brand}/chats?list=open"),
            "ja",
        )
        .await;
        assert!(list.contains("ボット: We are open 9-18"), "{list}");

        let thread = html(
            app,
            &browser,
            &format!("/brands/{brand}/chats/{chat}"),
            "en",
        )
        .await;
        for label in ["Shops", "Menu", "Talk to a person"] {
            assert!(
                thread.contains(&format!("<li class=\"chip\">{label}</li>")),
                "chip {label}: {thread}"
            );
        }
        let started = thread.find("The chat started.").expect("chat-start entry");
        let first = thread
            .find("What are your hours?")
            .expect("the user's message");
        assert!(started < first, "the chat-start entry must come first");
    }
);
