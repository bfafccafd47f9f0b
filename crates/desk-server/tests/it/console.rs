//! The operator console: pages and fragments (escaping, CSP, sessions, brands), unread counts,
//! LINE's courtesy calls (mark-as-read, loading animation), stickers, retrying a failed send,
//! notes and canned responses, assets and catalogs.

use std::time::Duration;

use desk_core::Role;
use desk_server::clock::now_ms;
use line_sim::{EventKind, FailWhen, SendApi};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::auth::{Browser, PASSWORD, account};
use crate::both;
#[allow(unused_imports)]
use crate::helpers::*;

/// A logged-in admin's browser.
pub(crate) async fn admin(app: &TestApp) -> Browser {
    let (operator, _) = account(app, "console-admin@test.linedesk", Role::Admin, None, &[]).await;
    let mut browser = Browser::new(app);
    let response = browser.login(&operator.email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "login");
    browser
}

/// `GET path` as a browser page: with the session cookie, no redirects followed.
pub(crate) async fn page(
    app: &TestApp,
    browser: &Browser,
    path: &str,
    lang: &str,
) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut request = client
        .get(format!("{}{path}", app.base))
        .header(header::ACCEPT_LANGUAGE, lang);
    if let Some(cookie) = &browser.cookie {
        request = request.header(header::COOKIE, format!("linedesk_session={cookie}"));
    }
    request.send().await.expect("GET page")
}

/// The page's HTML, asserting 200 and the security headers every HTML response carries.
pub(crate) async fn html(app: &TestApp, browser: &Browser, path: &str, lang: &str) -> String {
    let response = page(app, browser, path, lang).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    let headers = response.headers();
    let csp = headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(
        csp.contains("script-src 'self';"),
        "no inline script: {csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    // Askama writes `<`, `>`, `&` and `"` as numeric references; read them as named ones.
    response
        .text()
        .await
        .expect("body")
        .replace("&#60;", "&lt;")
        .replace("&#62;", "&gt;")
        .replace("&#38;", "&amp;")
        .replace("&#34;", "&quot;")
}

/// Every `<script` tag loads a same-origin file: nothing inline.
fn assert_no_inline_script(body: &str) {
    for tag in body.split("<script").skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        assert!(
            tag.contains("src=\"/assets/"),
            "inline script: <script{tag}>"
        );
    }
    assert!(!body.contains(" style=\""), "inline style attribute");
    assert!(!body.contains("<style"), "inline style element");
}

/// `POST /api/v1/conversations/{chat}/{action}` from the browser (with its CSRF header if
/// `csrf`): the status.
async fn chat_action(browser: &Browser, chat: &str, action: &str, csrf: bool) -> StatusCode {
    browser
        .json(
            Method::POST,
            &format!("/conversations/{chat}/{action}"),
            None,
            csrf,
        )
        .await
        .status()
}

fn brand(app: &TestApp) -> String {
    app.channel.brand_id.to_string()
}

const SCRIPT: &str = "<script>alert(1)</script>";
const IMG: &str = "<img src=x onerror=alert(1)>";

both!(a_script_in_a_line_message_renders_as_text, |app| {
    let user = app.user("U0000000000000000000000000000x55", IMG);
    app.say(&user, SCRIPT).await;
    app.say(&user, &format!("{IMG} and {SCRIPT}")).await;
    let chat = app.only_conversation().await;
    app.eventually("both messages", || async {
        (app.messages(&chat).await.len() == 2).then_some(())
    })
    .await;
    let browser = admin(app).await;
    let brand = brand(app);
    for path in [
        format!("/brands/{brand}/chats/{chat}"),
        format!("/brands/{brand}/chats/_lists?list=open"),
        format!("/brands/{brand}/chats/{chat}/_view"),
    ] {
        let body = html(app, &browser, &path, "en").await;
        assert!(!body.contains(SCRIPT), "{path} holds a live <script>");
        assert!(
            !body.contains("<img src=x"),
            "{path} holds a live <img onerror>"
        );
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path} shows the text escaped"
        );
        assert!(
            body.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{path}: the name, escaped"
        );
        assert_no_inline_script(&body);
    }
});

both!(pages_need_a_session_and_keep_to_their_brand, |app| {
    let user = app.user("U0000000000000000000000000000b01", "Aki");
    app.say(&user, "hello").await;
    let chat = app.only_conversation().await;
    // Named before the other brand looks, so that not seeing the name means something.
    app.named(&chat, "Aki").await;
    let brand = brand(app);
    let path = format!("/brands/{brand}/chats/{chat}?list=open");

    let anonymous = Browser::new(app);
    let response = page(app, &anonymous, &path, "en").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .expect("location");
    assert!(location.starts_with("/login?next="), "{location}");

    // A supervisor of another brand sees neither the page nor the API's lists.
    let other = app
        .store()
        .create_brand("Other Shop", now_ms())
        .await
        .expect("brand");
    let (stranger, _) = account(
        app,
        "stranger@test.linedesk",
        Role::Supervisor,
        Some(other.id),
        &[],
    )
    .await;
    let mut browser = Browser::new(app);
    browser.login(&stranger.email, PASSWORD).await;
    let response = page(app, &browser, &path, "en").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = response.text().await.expect("body");
    assert!(body.contains("You do not have access"), "{body}");
    assert!(!body.contains("hello"));
    let api = browser
        .json(
            Method::GET,
            &format!("/brands/{brand}/chat-lists/open"),
            None,
            false,
        )
        .await;
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
    // Their own brand's desk works, in Japanese when the browser asks for it.
    let own = html(
        app,
        &browser,
        &format!("/brands/{}/chats", other.id),
        "ja,en;q=0.5",
    )
    .await;
    assert!(own.contains("lang=\"ja\""));
    assert!(own.contains("チャット"));
    assert!(!own.contains("Aki"));
});

both!(unread_counts_drop_when_the_chat_is_read, |app| {
    let user = app.user("U0000000000000000000000000000c01", "Ren");
    app.say(&user, "one").await;
    app.say(&user, "two").await;
    let chat = app.only_conversation().await;
    let browser = admin(app).await;
    let brand = brand(app);
    let list = |name: &'static str| {
        let browser = &browser;
        let brand = brand.clone();
        async move {
            let response = browser
                .json(
                    Method::GET,
                    &format!("/brands/{brand}/chat-lists/{name}"),
                    None,
                    false,
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.expect("json")
        }
    };
    let open = app
        .eventually("two unread", || async {
            let open = list("open").await;
            (open["chats"][0]["unread"] == 2).then_some(open)
        })
        .await;
    assert_eq!(open["counts"]["open"], 1);
    assert_eq!(open["counts"]["waiting"], 1);
    assert_eq!(open["counts"]["unread_chats"], 1);
    assert_eq!(open["chats"][0]["last_body"]["text"], "two");
    assert_eq!(
        list("waiting").await["chats"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        list("mine").await["chats"].as_array().map(Vec::len),
        Some(0)
    );

    // Reading needs the CSRF header with a cookie.
    assert_eq!(
        chat_action(&browser, &chat, "read", false).await,
        StatusCode::FORBIDDEN,
        "refused"
    );
    assert_eq!(
        chat_action(&browser, &chat, "read", true).await,
        StatusCode::NO_CONTENT,
        "read"
    );
    let open = list("open").await;
    assert_eq!(open["chats"][0]["unread"], 0);
    assert_eq!(open["counts"]["unread_chats"], 0);

    app.say(&user, "three").await;
    app.eventually("one unread again", || async {
        (list("open").await["chats"][0]["unread"] == 1).then_some(())
    })
    .await;
    // Opening the chat's page reads it too.
    html(
        app,
        &browser,
        &format!("/brands/{brand}/chats/{chat}"),
        "en",
    )
    .await;
    assert_eq!(list("open").await["chats"][0]["unread"], 0);

    assert_eq!(
        chat_action(&browser, &chat, "accept", true).await,
        StatusCode::OK,
        "accepted"
    );
    assert_eq!(
        list("mine").await["chats"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        chat_action(&browser, &chat, "close", true).await,
        StatusCode::OK,
        "closed"
    );
    let completed = list("completed").await;
    assert_eq!(completed["chats"][0]["conversation"]["id"], chat.as_str());
    assert_eq!(completed["counts"]["open"], 0);
});

both!(opening_a_chat_marks_it_read_on_line_once, |app| {
    let user = app.user("U0000000000000000000000000000d01", "Mio");
    app.say(&user, "are you there?").await;
    let chat = app.only_conversation().await;
    let browser = admin(app).await;
    let path = format!("/brands/{}/chats/{chat}", brand(app));
    html(app, &browser, &path, "en").await;
    let marks = app
        .eventually("a markAsRead call", || async {
            let marks = app.sim.read_marks();
            (!marks.is_empty()).then_some(marks)
        })
        .await;
    assert_eq!(marks.len(), 1);
    // Nothing new: opening it again calls LINE no more.
    html(app, &browser, &path, "en").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sim.read_marks().len(), 1);
    // A new message brings a new token, marked on the next look.
    app.say(&user, "hello?").await;
    app.eventually("two messages", || async {
        (app.messages(&chat).await.len() == 2).then_some(())
    })
    .await;
    html(app, &browser, &format!("{path}/_view"), "en").await;
    app.eventually("a second markAsRead", || async {
        (app.sim.read_marks().len() == 2).then_some(())
    })
    .await;
    assert_ne!(app.sim.read_marks()[0], app.sim.read_marks()[1]);
});

both!(
    typing_starts_the_loading_animation_at_most_every_20_s,
    |app| {
        let user = app.user("U0000000000000000000000000000e01", "Sora");
        app.say(&user, "hi").await;
        let chat = app.only_conversation().await;
        let typing = || async {
            let response = app
                .send_json(
                    Method::POST,
                    &format!("/api/v1/conversations/{chat}/typing"),
                    json!({}),
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.expect("json")["loading_started"].clone()
        };
        assert_eq!(typing().await, true);
        assert_eq!(typing().await, false, "throttled");
        app.advance(Duration::from_secs(21));
        assert_eq!(typing().await, true);
        let starts = app.sim.loading_starts();
        assert_eq!(starts.len(), 2);
        assert_eq!(starts[0].0, "U0000000000000000000000000000e01");
    }
);

both!(sendable_stickers_reach_line_and_others_are_refused, |app| {
    let user = app.user("U0000000000000000000000000000f01", "Yui");
    app.say(&user, "sticker please").await;
    let chat = app.only_conversation().await;
    let path = format!("/api/v1/conversations/{chat}/stickers");
    let refused = app
        .send_json(
            Method::POST,
            &path,
            json!({"package_id": "446", "sticker_id": "9"}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let error: Value = refused.json().await.expect("json");
    assert_eq!(error["error"]["field"], "sticker_id");
    let sent = app
        .send_json(
            Method::POST,
            &path,
            json!({"package_id": "446", "sticker_id": "1988"}),
        )
        .await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let message: Value = sent.json().await.expect("json");
    let settled = app
        .settled(&chat, message["id"].as_str().expect("id"))
        .await;
    assert_eq!(settled["status"], "sent");
    let delivered = app.sim.delivered();
    assert_eq!(delivered.len(), 1);
    let line_message = serde_json::to_value(&delivered[0].messages[0]).expect("json");
    assert_eq!(line_message["type"], "sticker");
    assert_eq!(line_message["packageId"], "446");
    assert_eq!(line_message["stickerId"], "1988");
});

both!(
    a_failed_send_shows_its_reason_and_can_be_sent_again,
    |app| {
        let user = app.user("U0000000000000000000000000000a02", "Kai");
        app.say(&user, "help").await;
        let chat = app.only_conversation().await;
        // Past the reply token's safe life (and before the 2-minute pick-up time), so the send
        // is a push; LINE refuses it once.
        app.advance(Duration::from_secs(55));
        app.sim
            .fail_next(SendApi::Push, 400, FailWhen::BeforeAccept, 1);
        let response = app.post_message(&chat, json!({"text": "try this"})).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let id = response.json::<Value>().await.expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let failed = app.settled(&chat, &id).await;
        assert_eq!(failed["status"], "failed");
        assert!(
            failed["failure_reason"]
                .as_str()
                .is_some_and(|r| !r.is_empty())
        );
        let browser = admin(app).await;
        let view = html(
            app,
            &browser,
            &format!("/brands/{}/chats/{chat}/_view", brand(app)),
            "en",
        )
        .await;
        assert!(
            view.contains("LINE did not accept this message"),
            "reason shown"
        );
        assert!(
            view.contains(&format!("data-retry=\"{id}\"")),
            "retry button"
        );

        let retried = app
            .send_json(
                Method::POST,
                &format!("/api/v1/messages/{id}/retry"),
                json!({}),
            )
            .await;
        assert_eq!(
            retried.status(),
            StatusCode::ACCEPTED,
            "{:?}",
            retried.text().await
        );
        let sent = app.settled(&chat, &id).await;
        assert_eq!(sent["status"], "sent");
        assert_eq!(app.sim.delivered().len(), 1);
        // A sent message cannot be retried.
        let again = app
            .send_json(
                Method::POST,
                &format!("/api/v1/messages/{id}/retry"),
                json!({}),
            )
            .await;
        assert_eq!(again.status(), StatusCode::NOT_FOUND);
    }
);

both!(notes_and_canned_responses, |app| {
    let user = app.user("U0000000000000000000000000000a03", "Nao");
    app.say(&user, "hi").await;
    let chat = app.only_conversation().await;
    let contact = app.conversation(&chat).await["contact_id"]
        .as_str()
        .expect("contact")
        .to_owned();
    let notes = format!("/api/v1/contacts/{contact}/notes");
    let blank = app
        .send_json(Method::POST, &notes, json!({"body": "  "}))
        .await;
    assert_eq!(blank.status(), StatusCode::BAD_REQUEST);
    let note: Value = app
        .send_json(Method::POST, &notes, json!({"body": "VIP <b>customer</b>"}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(note["body"], "VIP <b>customer</b>");
    assert_eq!(app.get_json(&notes).await.as_array().map(Vec::len), Some(1));
    let browser = admin(app).await;
    let view = html(
        app,
        &browser,
        &format!("/brands/{}/chats/{chat}/_view", brand(app)),
        "en",
    )
    .await;
    assert!(view.contains("VIP &lt;b&gt;customer&lt;/b&gt;"));
    let deleted = app
        .send_json(
            Method::DELETE,
            &format!("{notes}/{}", note["id"].as_str().expect("id")),
            json!({}),
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get_json(&notes).await.as_array().map(Vec::len), Some(0));

    let canned = format!("/api/v1/brands/{}/canned-responses", brand(app));
    let support = app.channel.department_id.to_string();
    let created = app
        .send_json(
            Method::POST,
            &canned,
            json!({"title": "Hours", "body": "We open at 9.", "department_id": support}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.expect("json");
    let everywhere = app
        .send_json(
            Method::POST,
            &canned,
            json!({"title": "Thanks", "body": "Thank you!", "department_id": null}),
        )
        .await;
    assert_eq!(everywhere.status(), StatusCode::CREATED);
    let too_long = app
        .send_json(
            Method::POST,
            &canned,
            json!({"title": "Long", "body": "あ".repeat(5001)}),
        )
        .await;
    assert_eq!(too_long.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        too_long.json::<Value>().await.expect("json")["error"]["field"],
        "body"
    );
    // Another department sees only the brand-wide one.
    let sales = app
        .store()
        .create_department(app.channel.brand_id, "Sales", now_ms())
        .await
        .expect("sales");
    let for_sales = app
        .get_json(&format!("{canned}?department_id={}", sales.id))
        .await;
    assert_eq!(for_sales.as_array().map(Vec::len), Some(1));
    assert_eq!(for_sales[0]["title"], "Thanks");
    assert_eq!(
        app.get_json(&canned).await.as_array().map(Vec::len),
        Some(2)
    );
    let id = created["id"].as_str().expect("id");
    let updated = app
        .send_json(
            Method::PUT,
            &format!("{canned}/{id}"),
            json!({"title": "Opening hours", "body": "We open at 10.", "department_id": null}),
        )
        .await;
    assert_eq!(updated.status(), StatusCode::OK);
    assert_eq!(
        updated.json::<Value>().await.expect("json")["department_id"],
        Value::Null
    );
    // Operators use canned responses but do not edit them.
    let (_, operator_token) = account(
        app,
        "op@test.linedesk",
        Role::Operator,
        Some(app.channel.brand_id),
        &[app.channel.department_id],
    )
    .await;
    let forbidden = app
        .http
        .post(format!("{}{canned}", app.base))
        .bearer_auth(&operator_token)
        .json(&json!({"title": "x", "body": "y"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let desk = html(
        app,
        &browser,
        &format!("/brands/{}/chats/{chat}", brand(app)),
        "en",
    )
    .await;
    assert!(
        desk.contains("We open at 10."),
        "canned responses in the composer"
    );
    let gone = app
        .send_json(Method::DELETE, &format!("{canned}/{id}"), json!({}))
        .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_json(&canned).await.as_array().map(Vec::len),
        Some(1)
    );
});

both!(assets_catalogs_and_public_pages, |app| {
    let browser = admin(app).await;
    let body = html(
        app,
        &browser,
        &format!("/brands/{}/chats", brand(app)),
        "en",
    )
    .await;
    assert_no_inline_script(&body);
    let css = body
        .split("href=\"")
        .find_map(|s| s.split('"').next().filter(|u| u.ends_with("console.css")))
        .expect("stylesheet link")
        .to_owned();
    let response = page(app, &browser, &css, "en").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CACHE_CONTROL]
            .to_str()
            .expect("cache")
            .contains("immutable")
    );
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("type")
            .starts_with("text/css")
    );
    let catalog = body
        .split("data-catalog=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("catalog url")
        .to_owned();
    let strings: Value = page(app, &browser, &catalog, "en")
        .await
        .json()
        .await
        .expect("catalog json");
    assert_eq!(strings["composer.send"], "Send");

    // Login, setup and invite pages: no session needed, errors translated.
    let anonymous = Browser::new(app);
    let login = html(app, &anonymous, "/login?error=invalid&next=/brands", "ja").await;
    assert!(login.contains("メールアドレスまたはパスワードが正しくありません。"));
    assert!(login.contains("value=\"/brands\""));
    let evil = html(app, &anonymous, "/login?next=//evil.example", "en").await;
    assert!(
        !evil.contains("evil.example"),
        "an off-site next is dropped"
    );
    let setup = html(
        app,
        &anonymous,
        "/setup/abc_DEF-123?error=password_mismatch",
        "en",
    )
    .await;
    assert!(setup.contains("action=\"/setup/abc_DEF-123\""));
    assert!(setup.contains("The two passwords are not the same."));
    let invite = html(app, &anonymous, "/invite/tok123", "en").await;
    assert!(invite.contains("action=\"/invite/tok123\""));
    assert!(
        !invite.contains("name=\"email\""),
        "an invite only sets the password"
    );
});

both!(settings_pages_render_for_managers_only, |app| {
    let browser = admin(app).await;
    let brand = brand(app);
    for slug in [
        "channels",
        "auto-close",
        "routing",
        "hours",
        "canned",
        "operators",
    ] {
        let body = html(
            app,
            &browser,
            &format!("/brands/{brand}/settings/{slug}"),
            "ja",
        )
        .await;
        assert!(body.contains("aria-current=\"page\""), "{slug}: sidebar");
        assert_no_inline_script(&body);
    }
    let channels = html(
        app,
        &browser,
        &format!("/brands/{brand}/settings/channels"),
        "en",
    )
    .await;
    assert!(channels.contains("Test Shop"));
    assert!(channels.contains(&format!(
        "/brands/{brand}/settings/channels/{}",
        app.channel.id
    )));

    let (operator, _) = account(
        app,
        "plain@test.linedesk",
        Role::Operator,
        Some(app.channel.brand_id),
        &[app.channel.department_id],
    )
    .await;
    let mut plain = Browser::new(app);
    plain.login(&operator.email, PASSWORD).await;
    for slug in ["channels", "auto-close", "routing", "hours", "operators"] {
        let refused = page(
            app,
            &plain,
            &format!("/brands/{brand}/settings/{slug}"),
            "en",
        )
        .await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{slug}");
    }
    let first = page(app, &plain, &format!("/brands/{brand}/settings"), "en").await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert!(
        first.headers()[header::LOCATION]
            .to_str()
            .expect("location")
            .ends_with("/settings/canned")
    );
    html(
        app,
        &plain,
        &format!("/brands/{brand}/settings/canned"),
        "en",
    )
    .await;
});

both!(every_message_kind_and_timeline_entry_renders, |app| {
    let user = app.user("U0000000000000000000000000000a04", "Hana");
    let emoji =
        json!({"index": 6, "length": 1, "productId": "5ac1bfd5040ab15980c9b435", "emojiId": "001"});
    let events = vec![
        app.event(
            &user,
            EventKind::RichText {
                text: "Hello $!".into(),
                emojis: vec![emoji],
                mention: None,
                quoted_message_id: None,
            },
        ),
        app.event(
            &user,
            EventKind::Sticker {
                package_id: "446".into(),
                sticker_id: "1989".into(),
                resource_type: "STATIC".into(),
            },
        ),
        app.event(
            &user,
            EventKind::Image {
                content_type: "image/png".into(),
                bytes: crate::media_samples::picture(64, 48, image::ImageFormat::Png),
            },
        ),
        app.event(
            &user,
            EventKind::File {
                name: "invoice <2026>.pdf".into(),
                bytes: b"%PDF-1.4 test".to_vec(),
            },
        ),
        app.event(
            &user,
            EventKind::Location {
                title: Some("Shibuya".into()),
                address: Some("Tokyo".into()),
                latitude: 35.6595,
                longitude: 139.7005,
            },
        ),
        app.event(
            &user,
            EventKind::Postback {
                data: "action=buy&item=42".into(),
                params: None,
            },
        ),
    ];
    app.deliver(events).await;
    let chat = app.only_conversation().await;
    app.eventually("five messages", || async {
        (app.messages(&chat).await.len() == 5).then_some(())
    })
    .await;
    let browser = admin(app).await;
    let path = format!("/brands/{}/chats/{chat}/_view", brand(app));
    let view = html(app, &browser, &path, "en").await;
    assert!(view.contains("<p class=\"text\">Hello <img class=\"emoji\" src=\"https://stickershop.line-scdn.net/sticonshop/v1/sticon/5ac1bfd5040ab15980c9b435/iphone/001.png\" alt=\"$\">!</p>"), "LINE emoji");
    assert!(view.contains(
        "https://stickershop.line-scdn.net/stickershop/v1/sticker/1989/android/sticker.png"
    ));
    assert!(
        view.contains("invoice &lt;2026&gt;.pdf"),
        "file name, escaped"
    );
    assert!(view.contains("https://www.openstreetmap.org/?mlat=35.6595&amp;mlon=139.7005"));
    assert!(view.contains("Shibuya"));
    assert!(view.contains("The user tapped a button (postback “action=buy&amp;item=42”)."));
    // The picture: once the media worker stored it, the thread shows our copy.
    let view = app
        .eventually("the stored picture", || async {
            let view = html(app, &browser, &path, "en").await;
            view.contains("<img class=\"media\" src=\"/api/v1/media/")
                .then_some(view)
        })
        .await;
    assert!(view.contains("data-can-reply=\"true\""));

    // Blocking closes the chat: the composer is off with the reason, the timeline says why.
    app.deliver(vec![app.event(&user, EventKind::Unfollow)])
        .await;
    app.wait_state(&chat, "closed").await;
    let view = html(app, &browser, &path, "en").await;
    assert!(view.contains("data-can-reply=\"false\""));
    assert!(view.contains(
        "data-disabled-reason=\"The user blocked this account, so no message can reach them.\""
    ));
    assert!(view.contains("The user blocked the account."));
    assert!(
        view.contains("the user blocked the account"),
        "close reason"
    );
    assert!(
        !view.contains("data-quote="),
        "nothing to quote in a closed chat"
    );
});
