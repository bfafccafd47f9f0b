//! The chatbot end to end: a rules bot greeting, answering keywords with quick replies and
//! postback menus, handing off (button, repeated question, outside business hours); an
//! external bot over signed HTTP answering, handing off and failing; the bot's own idle
//! close; operators taking a chat over and handing it back. Every bot message must go out
//! with the reply token (free), which the simulator records.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use desk_core::Role;
use line_sim::{EventKind, SendApi, SentRecord, SimUser, Source};
use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::*;

const MINUTE: Duration = Duration::from_secs(60);

/// A shop's rules bot (Japanese and English), as the console would save it.
fn shop_bot() -> Value {
    json!({
        "mode": "rules",
        "idle_close_ms": 300_000,
        "closing_message": "またどうぞ / See you",
        "rules": {
            "default_language": "ja",
            "greeting": {"messages": [{"type": "text", "text": {"ja": "いらっしゃいませ", "en": "Welcome"}}]},
            "greet_on_follow": true,
            "rules": [
                {"name": "hours", "trigger": {"type": "keyword", "keywords": ["営業時間", "hours"]},
                 "reply": {"messages": [{"type": "text", "text": {"ja": "9時〜18時です", "en": "We are open 9–18"}}],
                           "quick_replies": [
                               {"label": {"ja": "店舗", "en": "Shops"}, "action": {"type": "postback", "data": "shops"}},
                               {"label": {"ja": "メニュー", "en": "Menu"}, "action": {"type": "message", "text": {"ja": "メニュー", "en": "menu"}}},
                               {"label": {"ja": "担当者と話す", "en": "Talk to a person"}, "action": {"type": "handoff"}}
                           ]}},
                {"trigger": {"type": "postback", "data": "shops"},
                 "reply": {"messages": [{"type": "sticker", "package_id": "446", "sticker_id": "1988"},
                                        {"type": "image", "url": "https://shop.example/map.png"}]}},
                {"trigger": {"type": "regex", "pattern": "order\\s*#?\\d{4,}"},
                 "reply": {"messages": [{"type": "text", "text": {"en": "Let me check that order."}}]}}
            ],
            "fallback": {"messages": [{"type": "text", "text": {"ja": "すみません、分かりません", "en": "Sorry, I don't know"}}]},
            "away": {"messages": [{"type": "text", "text": {"ja": "営業時間外です。開店後にご連絡します", "en": "We are closed; we will answer when we open"}}]},
            "handoff": {"keywords": ["オペレーター", "human"],
                        "message": {"messages": [{"type": "text", "text": {"ja": "担当者におつなぎします", "en": "Connecting you to a person"}}]}}
        }
    })
}

impl TestApp {
    async fn put_bot(&self, body: Value) -> reqwest::Response {
        let path = format!("/api/v1/channels/{}/bot", self.channel.id);
        self.send_json(Method::PUT, &path, body).await
    }

    async fn bot(&self) -> Value {
        self.get_json(&format!("/api/v1/channels/{}/bot", self.channel.id))
            .await
    }

    /// A user whose LINE profile says `language`.
    fn speaker(&self, id: &str, name: &str, language: Option<&str>) -> Source {
        let mut user = SimUser::new(id, name);
        user.language = language.map(str::to_owned);
        self.sim.add_user(LINE_CHANNEL_ID, user);
        Source::User(id.into())
    }

    async fn tap(&self, source: &Source, data: &str) {
        let event = self.event(
            source,
            EventKind::Postback {
                data: data.into(),
                params: None,
            },
        );
        assert_eq!(self.deliver(vec![event]).await.status, 200);
    }

    /// Waits until the simulator has accepted `n` sends, and returns them.
    async fn sends(&self, n: usize) -> Vec<SentRecord> {
        self.eventually(&format!("{n} sends"), || async {
            let sent = self.sim.sent();
            (sent.len() >= n).then_some(sent)
        })
        .await
    }

    /// The live conversation of `source`.
    async fn chat_of(&self, source: &Source) -> Value {
        self.eventually("the user's chat", || async {
            self.conversations()
                .await
                .into_iter()
                .find(|c| c["contact_line_id"] == source.chat_id() && c["state"] != "closed")
        })
        .await
    }

    async fn act(&self, conversation: &str, action: &str) -> reqwest::Response {
        self.send_json(
            Method::POST,
            &format!("/api/v1/conversations/{conversation}/{action}"),
            json!({}),
        )
        .await
    }
}

/// Texts of a send, in order.
fn texts(record: &SentRecord) -> Vec<&str> {
    record
        .messages
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect()
}

/// Every bot send went by reply token: none cost quota.
fn all_replies(sent: &[SentRecord]) {
    let pushes: Vec<_> = sent.iter().filter(|s| s.api == SendApi::Push).collect();
    assert!(pushes.is_empty(), "bot messages pushed: {pushes:?}");
    eprintln!(
        "bot sends: {} by reply, {} by push",
        sent.len() - pushes.len(),
        pushes.len()
    );
}

both!(greeting_on_follow_is_a_free_reply, |app| {
    assert_eq!(app.put_bot(shop_bot()).await.status(), 200);
    let user = app.speaker("U00000000000000000000000000b0001", "Aiko", None);
    let follow = app.event(
        &user,
        EventKind::Follow {
            is_unblocked: false,
        },
    );
    assert_eq!(app.deliver(vec![follow]).await.status, 200);

    let sent = app.sends(1).await;
    assert_eq!(sent[0].api, SendApi::Reply);
    assert_eq!(texts(&sent[0]), vec!["いらっしゃいませ"]);
    let chat = app.chat_of(&user).await;
    assert_eq!(chat["state"], "bot");
    let id = chat["id"].as_str().expect("id");
    let greeting = app
        .eventually("the greeting to settle", || async {
            app.messages(id)
                .await
                .into_iter()
                .find(|m| m["status"] == "sent")
        })
        .await;
    assert_eq!(
        (
            greeting["sender_bot"].as_bool(),
            greeting["sent_via"].as_str()
        ),
        (Some(true), Some("reply"))
    );
    // Writing next does not greet again.
    app.say(&user, "営業時間は？").await;
    let sent = app.sends(2).await;
    assert_eq!(texts(&sent[1]), vec!["9時〜18時です"]);
    all_replies(&sent);
    // LINE took the answer; its outcome is recorded right after.
    let counts = app
        .eventually("both answers counted", || async {
            let counts = app.bot().await["sends"].clone();
            (counts["bot_reply"].as_i64() == Some(2)).then_some(counts)
        })
        .await;
    assert_eq!(counts["bot_push"].as_i64(), Some(0));
});

both!(
    keyword_answers_with_quick_replies_and_postback_menus,
    |app| {
        assert_eq!(app.put_bot(shop_bot()).await.status(), 200);
        let user = app.speaker("U00000000000000000000000000b0002", "Ben", Some("en-US"));
        app.say(&user, "What are your HOURS?").await;

        // A new chat: greeting and answer in one reply, buttons under the last message.
        let sent = app.sends(1).await;
        assert_eq!(sent[0].api, SendApi::Reply);
        assert_eq!(texts(&sent[0]), vec!["Welcome", "We are open 9–18"]);
        let items = sent[0].messages[1]["quickReply"]["items"]
            .as_array()
            .cloned()
            .expect("quick reply items");
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[0],
            json!({"type": "action", "action": {"type": "postback", "label": "Shops", "data": "shops"}})
        );
        assert_eq!(
            items[1]["action"],
            json!({"type": "message", "label": "Menu", "text": "menu"})
        );
        assert!(sent[0].messages[0].get("quickReply").is_none());

        // The user taps "Shops": the postback rule answers with a sticker and a picture.
        app.tap(&user, "shops").await;
        let sent = app.sends(2).await;
        assert_eq!(sent[1].api, SendApi::Reply);
        assert_eq!(sent[1].messages[0]["type"], "sticker");
        assert_eq!(
            sent[1].messages[1],
            json!({"type": "image", "originalContentUrl": "https://shop.example/map.png",
               "previewImageUrl": "https://shop.example/map.png"})
        );

        // Operators see the chat with the bot, read-only.
        let chat = app.chat_of(&user).await;
        let id = chat["id"].as_str().expect("id");
        let bots = app.get_json("/api/v1/conversations?state=bot").await;
        assert_eq!(bots.as_array().map(Vec::len), Some(1));
        let refused = app
            .post_message(id, json!({"text": "hi from a person"}))
            .await;
        assert_eq!(refused.status(), 409);
        let body: Value = refused.json().await.expect("json");
        assert_eq!(
            body["error"]["message"],
            "the chatbot is handling this chat; take it over first"
        );
        // The transcript holds the user's message and the bot's, in order; each turn was one
        // reply call, and every message of it shows as sent by reply.
        let expected = [
            ("text", false, ""),
            ("text", true, "reply"),
            ("text", true, "reply"),
            ("sticker", true, "reply"),
            ("image", true, "reply"),
        ];
        app.eventually("both bot turns sent", || async {
            let messages = app.messages(id).await;
            let got: Vec<(&str, bool, &str)> = messages
                .iter()
                .map(|m| {
                    (
                        m["kind"].as_str().unwrap_or_default(),
                        m["sender_bot"].as_bool().unwrap_or(false),
                        m["sent_via"].as_str().unwrap_or_default(),
                    )
                })
                .collect();
            (got == expected).then_some(())
        })
        .await;
        all_replies(&app.sim.sent());
    }
);

both!(handoff_by_button_and_by_repeated_question, |app| {
    assert_eq!(app.put_bot(shop_bot()).await.status(), 200);
    // The "talk to a person" button.
    let aiko = app.speaker("U00000000000000000000000000b0003", "Aiko", Some("ja"));
    app.say(&aiko, "営業時間").await;
    app.sends(1).await;
    app.tap(&aiko, "linedesk:handoff").await;
    let sent = app.sends(2).await;
    assert_eq!(texts(&sent[1]), vec!["担当者におつなぎします"]);
    let chat = app.chat_of(&aiko).await;
    let id = chat["id"].as_str().expect("id").to_owned();
    app.wait_state(&id, "waiting").await;
    assert_eq!(
        app.conversation(&id).await["department_id"],
        app.channel.department_id.to_string()
    );

    // The same unanswered question twice.
    let ben = app.speaker("U00000000000000000000000000b0004", "Ben", Some("en"));
    app.say(&ben, "Do you sell bikes?").await;
    let sent = app.sends(3).await;
    assert_eq!(texts(&sent[2]), vec!["Welcome", "Sorry, I don't know"]);
    let ben_chat = app.chat_of(&ben).await;
    let ben_id = ben_chat["id"].as_str().expect("id").to_owned();
    assert_eq!(app.conversation(&ben_id).await["state"], "bot");
    app.say(&ben, "do you sell bikes").await;
    app.wait_state(&ben_id, "waiting").await;
    let sent = app.sends(4).await;
    assert_eq!(texts(&sent[3]), vec!["Connecting you to a person"]);

    // The operator sees the whole bot transcript and answers.
    let transcript = app.messages(&ben_id).await;
    assert_eq!(transcript.len(), 5, "{transcript:?}");
    let answered = app
        .post_message(&ben_id, json!({"text": "Hi Ben, yes we do"}))
        .await;
    assert_eq!(answered.status(), 202);
    app.wait_state(&ben_id, "open").await;
    let sent = app.sends(5).await;
    all_replies(&sent[..4]);
    // The bot used the user's reply token, so the operator's answer is a push.
    assert_eq!(
        (sent[4].api, texts(&sent[4])),
        (SendApi::Push, vec!["Hi Ben, yes we do"])
    );
});

both!(
    outside_business_hours_the_chat_waits_for_the_opening,
    |app| {
        // Open one hour a day, twelve hours from now: closed now.
        let weekly = weekly_hours_closed_now();
        let hours = format!("/api/v1/departments/{}/hours", app.channel.department_id);
        assert_eq!(
            app.send_json(
                Method::PUT,
                &hours,
                json!({"time_zone": "UTC", "weekly": weekly})
            )
            .await
            .status(),
            200
        );
        assert_eq!(app.put_bot(shop_bot()).await.status(), 200);
        let user = app.speaker("U00000000000000000000000000b0005", "Chika", Some("ja"));
        app.say(&user, "オペレーターと話したい").await;
        let sent = app.sends(1).await;
        assert_eq!(
            texts(&sent[0]),
            vec!["いらっしゃいませ", "営業時間外です。開店後にご連絡します"]
        );
        let chat = app.chat_of(&user).await;
        let id = chat["id"].as_str().expect("id").to_owned();
        app.wait_state(&id, "waiting").await;
        // Queued for the opening: the 2-minute pickup time does not run while closed.
        app.advance(3 * MINUTE);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.conversation(&id).await["state"], "waiting");
        all_replies(&sent);
    }
);

both!(
    bot_idle_close_uses_the_bots_timeout_not_the_operators,
    |app| {
        let settings = format!("/api/v1/channels/{}/settings", app.channel.id);
        let mut s = app.get_json(&settings).await;
        s["idle_close_ms"] = json!(3_600_000);
        s["closing_message"] = json!("operator bye");
        assert_eq!(app.send_json(Method::PUT, &settings, s).await.status(), 200);
        assert_eq!(app.put_bot(shop_bot()).await.status(), 200);

        let held = app.speaker("U00000000000000000000000000b0006", "Dai", Some("ja"));
        let taken = app.speaker("U00000000000000000000000000b0007", "Emi", Some("ja"));
        app.say(&held, "営業時間").await;
        app.say(&taken, "営業時間").await;
        app.sends(2).await;
        let held_id = app.chat_of(&held).await["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let taken_id = app.chat_of(&taken).await["id"]
            .as_str()
            .expect("id")
            .to_owned();
        assert_eq!(app.act(&taken_id, "take-over").await.status(), 200);

        // Five minutes of silence: the bot's chat closes with its message; the operator's stays.
        app.advance(5 * MINUTE + Duration::from_secs(1));
        let closed = app.wait_state(&held_id, "closed").await;
        assert_eq!(closed["close_reason"], "bot_idle");
        let sent = app.sends(3).await;
        assert_eq!(texts(&sent[2]), vec!["またどうぞ / See you"]);
        // Five minutes after the last message its reply token is of no use: the goodbye is pushed.
        assert_eq!(sent[2].api, SendApi::Push);
        let goodbye = app
            .eventually("the goodbye to settle", || async {
                app.messages(&held_id)
                    .await
                    .into_iter()
                    .find(|m| m["body"]["text"] == "またどうぞ / See you" && m["status"] == "sent")
            })
            .await;
        assert_eq!(goodbye["sender_bot"], true);
        assert_eq!(app.conversation(&taken_id).await["state"], "open");
        app.advance(MINUTE * 60);
        let closed = app.wait_state(&taken_id, "closed").await;
        assert_eq!(closed["close_reason"], "idle");
        let sent = app.sends(4).await;
        assert_eq!(texts(&sent[3]), vec!["operator bye"]);
        let counts = app.bot().await["sends"].clone();
        eprintln!(
            "bot messages: {} by reply, {} by push",
            counts["bot_reply"], counts["bot_push"]
        );
        assert_eq!(
            (counts["bot_reply"].as_i64(), counts["bot_push"].as_i64()),
            (Some(4), Some(1)),
            "greeting + answer in two chats by reply, the goodbye by push"
        );
    }
);

both!(operators_take_over_and_hand_back, |app| {
    assert_eq!(app.put_bot(shop_bot()).await.status(), 200);
    let user = app.speaker("U00000000000000000000000000b0008", "Fumi", Some("en"));
    app.say(&user, "order #12345 is late").await;
    let sent = app.sends(1).await;
    assert_eq!(texts(&sent[0]), vec!["Welcome", "Let me check that order."]);
    let id = app.chat_of(&user).await["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let taken: Value = app.act(&id, "take-over").await.json().await.expect("json");
    assert_eq!(taken["state"], "open");
    assert!(taken["assignee_id"].is_string());
    // A second take-over is refused: the bot no longer has it.
    assert_eq!(app.act(&id, "take-over").await.status(), 409);
    assert_eq!(
        app.post_message(&id, json!({"text": "I'm checking it now"}))
            .await
            .status(),
        202
    );
    app.sends(2).await;
    // While an operator holds the chat, the bot stays quiet.
    app.say(&user, "hours?").await;
    app.inbox_drained().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sim.sent().len(), 2);

    let back: Value = app.act(&id, "hand-back").await.json().await.expect("json");
    assert_eq!(back["state"], "bot");
    assert!(back["assignee_id"].is_null());
    app.say(&user, "hours?").await;
    let sent = app.sends(3).await;
    assert_eq!(texts(&sent[2]), vec!["We are open 9–18"]);
    // The bot answered by reply both times; the operator, whose turn came after the bot had
    // used the user's token, by push.
    assert_eq!(
        sent.iter().map(|s| s.api).collect::<Vec<_>>(),
        vec![SendApi::Reply, SendApi::Push, SendApi::Reply]
    );
    assert_eq!(app.act(&id, "hand-back").await.status(), 409);
});

both!(bot_settings_are_validated_and_guarded, |app| {
    let refused = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 400);
        let body: Value = r.json().await.expect("json");
        body["error"]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let mut bad = shop_bot();
    bad["rules"]["rules"][2]["trigger"]["pattern"] = json!("(unclosed");
    assert_eq!(
        refused(app.put_bot(bad).await).await,
        "rules.rules[2].trigger.pattern"
    );
    let mut bad = shop_bot();
    bad["idle_close_ms"] = json!(10_000);
    assert_eq!(refused(app.put_bot(bad).await).await, "idle_close_ms");
    assert_eq!(
        refused(app.put_bot(json!({"mode": "external"})).await).await,
        "external_url"
    );
    assert_eq!(
        refused(
            app.put_bot(json!({"mode": "external", "external_url": "http://bot.example.com/"}))
                .await
        )
        .await,
        "external_url"
    );
    // Nothing was stored; the bot is still off.
    let bot = app.bot().await;
    assert_eq!(bot["mode"], "off");
    let settings = app
        .get_json(&format!("/api/v1/channels/{}/settings", app.channel.id))
        .await;
    assert_eq!(settings["bot_enabled"], false);
    // The switch follows the bot configuration: no turning it on without a bot.
    let path = format!("/api/v1/channels/{}/settings", app.channel.id);
    let mut switched = settings.clone();
    switched["bot_enabled"] = json!(true);
    assert_eq!(
        refused(app.send_json(Method::PUT, &path, switched).await).await,
        "bot_enabled"
    );
    // Sent back as read, the settings save.
    let saved = app.send_json(Method::PUT, &path, settings.clone()).await;
    assert_eq!(saved.status(), 200);

    // Operators may not configure the bot.
    let (_, token) = desk_server::setup::add_user(
        app.store(),
        "op@test.linedesk",
        "Op",
        Role::Operator,
        Some(app.channel.brand_id),
        desk_server::clock::now_ms(),
    )
    .await
    .expect("operator");
    let denied = app
        .http
        .put(format!(
            "{}/api/v1/channels/{}/bot",
            app.base, app.channel.id
        ))
        .bearer_auth(token)
        .json(&shop_bot())
        .send()
        .await
        .expect("PUT");
    assert_eq!(denied.status(), 403);
});

/// What the test's external bot saw and how it answers.
#[derive(Clone, Default)]
struct FakeBot {
    secret: Arc<Mutex<String>>,
    requests: Arc<Mutex<Vec<Value>>>,
}

/// The external bot: checks the signature, then answers by the user's text.
async fn fake_bot(
    axum::extract::State(bot): axum::extract::State<FakeBot>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let secret = bot.secret.lock().expect("lock").clone();
    let signature = headers
        .get("x-linedesk-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !line_api::signature::verify(&secret, &body, signature) {
        return (StatusCode::UNAUTHORIZED, "bad signature".into());
    }
    let request: Value = serde_json::from_slice(&body).expect("json request");
    bot.requests.lock().expect("lock").push(request.clone());
    let text = request["event"]["message"]["text"]
        .as_str()
        .unwrap_or_default();
    let answer = match text {
        "hi" => json!({"messages": [{"type": "text", "text": "Hello from the bot"}],
                       "quick_replies": [{"label": "Person", "action": {"type": "message", "text": "person"}}]}),
        "person" => {
            json!({"messages": [{"type": "text", "text": "A person will answer"}], "handoff": {}})
        }
        "broken" => return (StatusCode::INTERNAL_SERVER_ERROR, "oops".into()),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(7)).await;
            json!({})
        }
        "think" => {
            tokio::time::sleep(Duration::from_secs(1)).await;
            json!({"messages": [{"type": "text", "text": "Too late"}]})
        }
        _ => json!({"messages": [{"type": "text", "text": ""}]}),
    };
    (StatusCode::OK, answer.to_string())
}

async fn spawn_fake_bot(bot: FakeBot) -> String {
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(fake_bot))
        .with_state(bot);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hook")
}

both!(
    external_bot_answers_hands_off_and_fails_over_to_operators,
    |app| {
        let fake = FakeBot::default();
        let url = spawn_fake_bot(fake.clone()).await;
        let configured: Value = app
            .put_bot(json!({"mode": "external", "external_url": url}))
            .await
            .json()
            .await
            .expect("json");
        let secret = configured["secret"].as_str().expect("secret shown once");
        *fake.secret.lock().expect("lock") = secret.to_owned();
        let shown = app.bot().await;
        assert!(
            shown.get("secret").is_none(),
            "the secret is shown only once"
        );
        assert_eq!(shown["secret_set"], true);

        // It answers, with buttons.
        let user = app.speaker("U00000000000000000000000000b0009", "Gen", Some("ja"));
        app.say(&user, "hi").await;
        let sent = app.sends(1).await;
        assert_eq!(sent[0].api, SendApi::Reply);
        assert_eq!(texts(&sent[0]), vec!["Hello from the bot"]);
        assert_eq!(
            sent[0].messages[0]["quickReply"]["items"][0]["action"],
            json!({"type": "message", "label": "Person", "text": "person"})
        );
        let request = fake.requests.lock().expect("lock")[0].clone();
        assert_eq!(request["version"], 1);
        assert_eq!(request["new_chat"], true);
        assert_eq!(request["user"]["display_name"], "Gen");
        assert_eq!(request["event"]["message"]["type"], "text");
        // A repeat after a crash would carry the same key (see crash.rs).
        assert!(
            request["idempotency_key"]
                .as_str()
                .is_some_and(|k| !k.is_empty())
        );
        assert!(request["webhook_event_id"].is_string());
        let id = app.chat_of(&user).await["id"]
            .as_str()
            .expect("id")
            .to_owned();
        assert_eq!(request["conversation_id"], id.as_str());

        // It hands off.
        app.say(&user, "person").await;
        app.wait_state(&id, "waiting").await;
        assert_eq!(texts(&app.sends(2).await[1]), vec!["A person will answer"]);

        // An operator takes a chat over while the bot is still thinking: its answer is dropped.
        let late = app.speaker("U00000000000000000000000000b000a", "Iori", None);
        app.say(&late, "think").await;
        let late_id = app.chat_of(&late).await["id"]
            .as_str()
            .expect("id")
            .to_owned();
        app.eventually("the bot to have been asked", || async {
            (fake.requests.lock().expect("lock").len() == 3).then_some(())
        })
        .await;
        assert_eq!(app.act(&late_id, "take-over").await.status(), 200);
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(app.sim.sent().len(), 2, "the late answer was not sent");
        assert!(
            app.messages(&late_id)
                .await
                .iter()
                .all(|m| m["sender_bot"] == false)
        );

        // It fails: an error status, an invalid answer, a timeout. Each chat goes to operators.
        let mut failing = Vec::new();
        for (n, text) in ["broken", "nonsense", "slow"].iter().enumerate() {
            let who = app.speaker(&format!("U00000000000000000000000000b00f{n}"), "Hana", None);
            app.say(&who, text).await;
            failing.push(who);
        }
        for who in &failing {
            let chat = app
                .eventually("the failed chat to reach operators", || async {
                    let chat = app.chat_of(who).await;
                    (chat["state"] == "waiting").then_some(chat)
                })
                .await;
            assert_eq!(chat["state"], "waiting");
        }
        let failures = app.bot().await["failures"].clone();
        assert_eq!(failures["total"], 3);
        let mut kinds: Vec<&str> = failures["recent"]
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|f| f["kind"].as_str())
            .collect();
        kinds.sort_unstable();
        assert_eq!(kinds, vec!["answer", "status", "timeout"]);
        // Nothing was sent for the failures: the operators answer.
        all_replies(&app.sends(2).await);
        assert_eq!(app.sim.sent().len(), 2);
    }
);

both!(group_chats_go_straight_to_operators, |app| {
    assert_eq!(app.put_bot(shop_bot()).await.status(), 200);
    app.speaker("U00000000000000000000000000b000b", "Jun", None);
    let group = Source::Group {
        group_id: "C00000000000000000000000000b000b".into(),
        user_id: Some("U00000000000000000000000000b000b".into()),
    };
    app.say(&group, "営業時間は？").await;
    let chat = app
        .eventually("the group chat to reach operators", || async {
            let chat = app.chat_of(&group).await;
            (chat["state"] == "waiting").then_some(chat)
        })
        .await;
    assert_eq!(chat["contact_kind"], "group");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.sim.sent().is_empty(), "the bot does not talk in groups");
});

/// In headless Chromium (`e2e/bot.spec.mjs`): an admin configures a keyword rule on the
/// channel's chatbot page; a simulated LINE user triggers it and gets the answer by reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_configures_a_rule_that_a_user_triggers() {
    let Some(tools) = crate::browser::Toolchain::find() else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let (admin, _) =
        crate::auth::account(&app, "bot-admin@test.linedesk", Role::Admin, None, &[]).await;
    tools
        .run(
            "bot.spec.mjs",
            vec![
                ("BASE_URL", app.base.clone()),
                ("SIM_URL", app.sim.base_url().expect("sim serving")),
                ("LINE_CHANNEL_ID", LINE_CHANNEL_ID.into()),
                ("BRAND_ID", app.channel.brand_id.to_string()),
                ("CHANNEL_ID", app.channel.id.to_string()),
                ("ADMIN_EMAIL", admin.email.clone()),
                ("PASSWORD", crate::auth::PASSWORD.into()),
            ],
        )
        .await;
    app.finish().await;
}

/// The bot worker claimed a turn and died before answering (a crash between the inbox commit
/// and the bot's answer): after a restart the turn is answered, once, and a late write of the
/// dead worker's answer is refused.
async fn claimed_turn_is_answered_once_after_a_restart(backend: Backend) {
    let Some(mut app) = TestApp::spawn(backend).await else {
        eprintln!("LINEDESK_TEST_POSTGRES_URL not set: Postgres run skipped");
        return;
    };
    assert_eq!(app.put_bot(shop_bot()).await.status(), 200);
    let user = app.speaker("U00000000000000000000000000b0901", "Ken", None);
    let event = app.event(&user, EventKind::Text("hours".into()));
    let server = app.server.take().expect("running");
    let addr = server.addr;
    server.shutdown().await;

    // What the stopped server had done: stored the event, applied it (which queued the bot's
    // turn) and claimed the turn.
    let store = desk_server::open_store(&app.config.store)
        .await
        .expect("store");
    let now = desk_server::clock::now_ms();
    let chat_key = user.chat_id().to_owned();
    let inbox = desk_store::NewInboxEvent {
        channel_id: app.channel.id,
        dedupe_key: event["webhookEventId"].as_str().expect("id").into(),
        chat_key: Some(chat_key.clone()),
        event_type: "message".into(),
        event_ms: event["timestamp"].as_i64().expect("timestamp"),
        raw: event.to_string(),
    };
    store.inbox_append(vec![inbox], now).await.expect("append");
    let row = store.inbox_claim(now, 1_000, 10).await.expect("claim");
    let rules = Arc::new(store.chat_rules(app.channel.id).await.expect("rules"));
    let item = desk_store::InboundItem {
        inbox_id: row[0].id,
        scope: desk_store::ChannelScope {
            channel_id: app.channel.id,
            brand_id: app.channel.brand_id,
            department_id: app.channel.department_id,
        },
        rules: rules.clone(),
        event_ms: row[0].event_ms,
        effect: desk_store::InboundEffect::Message {
            contact: desk_store::ContactRef {
                kind: desk_core::ContactKind::User,
                line_id: chat_key,
            },
            message: desk_store::InboundMessage {
                line_message_id: event["message"]["id"].as_str().expect("id").into(),
                kind: desk_core::MessageKind::Text,
                body: event["message"].clone(),
                quote_token: None,
                mark_as_read_token: None,
                sender_line_id: None,
                sender_name: None,
            },
            reply_token: event["replyToken"].as_str().map(str::to_owned),
        },
    };
    let applied = store
        .apply_inbound_batch(vec![item], now)
        .await
        .expect("apply");
    let conversation = applied[0].conversation_id.expect("chat");
    // On SQLite the restart frees a crashed run's leases at once; on Postgres another instance
    // may still be alive, so the lease has to run out (here: it already has).
    let lease = match backend {
        Backend::Sqlite => 60_000,
        Backend::Postgres => 1,
    };
    let claimed = store.bot_turns_claim(now, lease, 10).await.expect("claim");
    assert_eq!(claimed.len(), 1, "the turn was queued with the event");
    store.close().await;

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("same address");
    app.server = Some(
        desk_server::Server::start(app.config.clone(), listener)
            .await
            .expect("restarted"),
    );
    let sent = app.sends(1).await;
    assert_eq!(sent[0].to, user.chat_id());
    // A new chat: the greeting, then the answer, in one reply.
    let texts: Vec<&Value> = sent[0].messages.iter().map(|m| &m["text"]).collect();
    assert_eq!(texts, [&json!("いらっしゃいませ"), &json!("9時〜18時です")]);
    all_replies(&sent);

    // The dead worker comes back with its own answer: it is not written.
    let late = desk_store::BotTurn {
        conversation,
        messages: vec![(
            desk_core::MessageKind::Text,
            json!({"type": "text", "text": "late"}),
        )],
        reply_token: None,
        then: desk_core::bot::After::Stay,
        remember: desk_store::Remember::Unchanged,
        queued: Some(claimed[0].id),
    };
    let outcome = app.store().bot_turn(late, &rules, now).await.expect("turn");
    assert_eq!(outcome, desk_store::BotTurnOutcome::AlreadyDone);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sim.sent().len(), 1, "answered exactly once");
    assert_eq!(app.store().bot_turns_pending().await.expect("pending"), 0);
    let bot_messages = app
        .messages(&conversation.to_string())
        .await
        .into_iter()
        .filter(|m| m["direction"] == "out")
        .count();
    assert_eq!(bot_messages, 2, "one turn of two messages");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claimed_turn_is_answered_once_after_a_restart_sqlite() {
    claimed_turn_is_answered_once_after_a_restart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claimed_turn_is_answered_once_after_a_restart_postgres() {
    claimed_turn_is_answered_once_after_a_restart(Backend::Postgres).await;
}
