//! Connecting LINE channels: the wizard against line-sim for each branch (good credentials,
//! wrong secret, wrong ID, chat mode on, webhook test failing, webhook switched off, a channel
//! connected twice), the account page, the share kit, removal, brands and the audit log.

use std::time::Duration;

use line_sim::{ChannelSpec, ChatMode, EventKind, SimUser, Source};
use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::*;

const NEW_ID: &str = "1650000042";
const NEW_SECRET: &str = "00112233445566778899aabbccddeeff";

/// A LINE channel the simulator knows and the desk does not yet.
fn sim_channel(app: &TestApp, mode: ChatMode) -> ChannelSpec {
    let mut spec = ChannelSpec::new(NEW_ID, NEW_SECRET);
    spec.basic_id = "@042shop".into();
    spec.display_name = "New Shop".into();
    spec.picture_url = Some("https://example.com/new-shop.png".into());
    spec.chat_mode = mode;
    app.sim.add_channel(spec.clone());
    spec
}

/// A wizard driven through the JSON API.
struct Wiz<'a> {
    app: &'a TestApp,
    id: String,
}

impl<'a> Wiz<'a> {
    async fn start(app: &'a TestApp) -> Wiz<'a> {
        let brand = app.channel.brand_id;
        let response = app
            .send_json(
                Method::POST,
                &format!("/api/v1/brands/{brand}/channel-wizards"),
                json!({}),
            )
            .await;
        assert_eq!(response.status(), 201);
        let view: Value = response.json().await.expect("json");
        assert_eq!(view["step"], "credentials");
        Wiz {
            app,
            id: view["id"].as_str().expect("id").to_owned(),
        }
    }

    /// POSTs to a wizard action; returns (status, body).
    async fn post(&self, action: &str, body: Value) -> (u16, Value) {
        let response = self
            .app
            .send_json(
                Method::POST,
                &format!("/api/v1/channel-wizards/{}/{action}", self.id),
                body,
            )
            .await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("json"))
    }

    async fn ok(&self, action: &str, body: Value) -> Value {
        let (status, view) = self.post(action, body).await;
        assert_eq!(status, 200, "{action}: {view}");
        view
    }

    async fn view(&self) -> Value {
        self.app
            .get_json(&format!("/api/v1/channel-wizards/{}", self.id))
            .await
    }

    async fn credentials(&self, id: &str, secret: &str) -> (u16, Value) {
        self.post(
            "credentials",
            json!({"channel_id": id, "channel_secret": secret}),
        )
        .await
    }

    /// From a fresh wizard to the Review step with the simulator's good channel.
    async fn to_review(&self) -> Value {
        let (status, view) = self.credentials(NEW_ID, NEW_SECRET).await;
        assert_eq!(status, 200, "{view}");
        let view = self.ok("next", json!({})).await;
        assert_eq!(view["step"], "webhook", "{view}");
        assert_eq!(view["webhook"]["ok"], true, "{view}");
        let view = self.ok("next", json!({})).await;
        assert_eq!(view["step"], "department");
        let view = self.ok("next", json!({})).await;
        assert_eq!(view["step"], "review");
        view
    }
}

both!(good_credentials_walk_to_a_live_channel, |app| {
    let spec = sim_channel(app, ChatMode::Bot);
    let wiz = Wiz::start(app).await;
    let blocked = wiz.post("next", json!({})).await;
    assert_eq!(blocked.0, 409, "no Next before credentials");

    let (status, view) = wiz
        .credentials(&format!(" {NEW_ID} "), &NEW_SECRET.to_uppercase())
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["step"], "response_mode");
    assert_eq!(view["account"]["display_name"], "New Shop");
    assert_eq!(view["account"]["basic_id"], "@042shop");
    assert_eq!(
        view["account"]["picture_url"],
        "https://example.com/new-shop.png"
    );
    assert_eq!(view["account"]["chat_mode"], "bot");
    assert_eq!(view["can_continue"], true);
    // A reload resumes where it was.
    assert_eq!(wiz.view().await["step"], "response_mode");

    let view = wiz.ok("next", json!({})).await;
    assert_eq!(view["step"], "webhook");
    let url = view["webhook_url"].as_str().expect("url").to_owned();
    assert!(
        url.starts_with(&app.base) && url.contains("/line/webhook/"),
        "{url}"
    );
    assert_eq!(view["webhook"]["outcome"]["code"], "ok", "{view}");
    assert_eq!(view["webhook"]["active"], true);
    assert_eq!(view["webhook"]["message"], "OK: LINE reached the webhook.");
    // The test server's public URL is plain http on 127.0.0.1: said, not hidden.
    assert_eq!(view["reachability"]["code"], "not_public");
    assert!(
        view["reachability_message"]
            .as_str()
            .expect("message")
            .contains("tunnel")
    );

    let back = wiz.ok("back", json!({})).await;
    assert_eq!(back["step"], "response_mode");
    let view = wiz.ok("next", json!({})).await;
    assert_eq!(view["step"], "webhook");
    let view = wiz.ok("next", json!({})).await;
    assert_eq!(view["step"], "department");
    // The brand's only department is chosen already.
    assert_eq!(view["department_id"], app.channel.department_id.to_string());
    let view = wiz
        .ok("department", json!({"department_name": "Sales"}))
        .await;
    let sales = view["department_id"]
        .as_str()
        .expect("department")
        .to_owned();
    assert_ne!(sales, app.channel.department_id.to_string());
    let view = wiz.ok("next", json!({})).await;
    assert_eq!(view["step"], "review");
    let done = wiz.ok("next", json!({})).await;
    assert_eq!(done["step"], "done");
    let channel_id = done["channel_id"].as_str().expect("channel").to_owned();
    assert_eq!(
        wiz.post("back", json!({})).await.0,
        409,
        "no Back from Done"
    );

    // Live: LINE (the simulator) delivers to the URL the wizard registered.
    assert_eq!(
        app.sim.channel(NEW_ID).expect("spec").bot_user_id,
        spec.bot_user_id
    );
    app.sim.add_user(
        NEW_ID,
        SimUser::new("U00000000000000000000000000000042", "Kenta"),
    );
    let delivery = app
        .sim
        .send(
            NEW_ID,
            Source::User("U00000000000000000000000000000042".into()),
            EventKind::Text("こんにちは".into()),
        )
        .await
        .expect("send");
    assert_eq!(delivery.status, 200, "{}", delivery.body);
    app.inbox_drained().await;
    let chats = app.conversations().await;
    let chat = chats
        .iter()
        .find(|c| c["channel_id"] == channel_id.as_str())
        .expect("a chat on the new channel");
    assert_eq!(chat["department_id"], sales.as_str());
    app.named(chat["id"].as_str().expect("id"), "Kenta").await;

    let list = app
        .get_json(&format!("/api/v1/brands/{}/channels", app.channel.brand_id))
        .await;
    let row = list
        .as_array()
        .expect("array")
        .iter()
        .find(|c| c["id"] == channel_id.as_str())
        .cloned()
        .expect("listed");
    assert_eq!(row["status"], "live");
    assert_eq!(row["webhook_url"], url.as_str());

    let info = app
        .get_json(&format!("/api/v1/channels/{channel_id}"))
        .await;
    assert_eq!(info["basic_id"], "@042shop");
    assert_eq!(info["add_friend_url"], "https://line.me/R/ti/p/%40042shop");
    assert_eq!(info["status"]["events_today"], 1);
    assert_eq!(info["status"]["quota"]["limit"], 5000);
    assert_eq!(info["status"]["webhook_active"], true);
    assert!(info["status"]["token_expires_ms"].as_i64().expect("expiry") > 0);
    assert!(!info.to_string().contains(NEW_SECRET));

    let audit = app.get_json("/api/v1/audit").await;
    assert!(
        audit
            .as_array()
            .expect("array")
            .iter()
            .any(|e| e["action"] == "channel.connected" && e["detail"]["line_channel_id"] == NEW_ID),
        "{audit}"
    );
});

both!(wrong_secret_and_wrong_id_are_named, |app| {
    sim_channel(app, ChatMode::Bot);
    let wiz = Wiz::start(app).await;
    let token_calls = || {
        app.sim
            .requests()
            .iter()
            .filter(|r| r.path == "/v2/oauth/accessToken")
            .count()
    };
    let before = token_calls();
    for (id, secret, field) in [
        ("16500x0042", NEW_SECRET, "channel_id"),
        ("", NEW_SECRET, "channel_id"),
        (NEW_ID, "00112233", "channel_secret"),
        (NEW_ID, "zz112233445566778899aabbccddeeff", "channel_secret"),
    ] {
        let (status, body) = wiz.credentials(id, secret).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}"
        );
    }
    assert_eq!(token_calls(), before, "malformed input never reaches LINE");

    let (status, body) = wiz
        .credentials(NEW_ID, "ffeeddccbbaa99887766554433221100")
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "channel_secret");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("m")
            .starts_with("LINE rejected the channel secret"),
        "{body}"
    );

    let (status, body) = wiz.credentials("1650009999", NEW_SECRET).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["field"], "channel_id");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("m")
            .starts_with("LINE rejected the channel ID"),
        "{body}"
    );
    assert_eq!(token_calls(), before + 2);
    assert_eq!(wiz.view().await["step"], "credentials");

    let (status, view) = wiz.credentials(NEW_ID, NEW_SECRET).await;
    assert_eq!(
        (status, view["step"].as_str()),
        (200, Some("response_mode"))
    );
});

both!(
    chat_mode_on_blocks_until_switched_off_and_rechecked,
    |app| {
        sim_channel(app, ChatMode::Chat);
        let wiz = Wiz::start(app).await;
        let (status, view) = wiz.credentials(NEW_ID, NEW_SECRET).await;
        assert_eq!(status, 200);
        assert_eq!(view["account"]["chat_mode"], "chat");
        assert_eq!(view["can_continue"], false);
        let problem = view["response_mode_problem"].as_str().expect("explained");
        assert!(
            problem.contains("Settings › Response settings")
                && problem.contains("LINE Official Account Manager"),
            "{problem}"
        );
        let (status, body) = wiz.post("next", json!({})).await;
        assert_eq!(status, 409);
        assert!(
            body["error"]["message"]
                .as_str()
                .expect("m")
                .contains("Response settings")
        );

        // Re-check before switching: still blocked.
        let view = wiz.ok("response-mode/recheck", json!({})).await;
        assert_eq!(view["can_continue"], false);
        app.sim.set_chat_mode(NEW_ID, ChatMode::Bot);
        let view = wiz.ok("response-mode/recheck", json!({})).await;
        assert_eq!(view["account"]["chat_mode"], "bot");
        assert_eq!(view["response_mode_problem"], Value::Null);
        assert_eq!(view["can_continue"], true);
        assert_eq!(wiz.ok("next", json!({})).await["step"], "webhook");
    }
);

both!(webhook_test_failing_then_passing, |app| {
    sim_channel(app, ChatMode::Bot);
    let wiz = Wiz::start(app).await;
    assert_eq!(wiz.credentials(NEW_ID, NEW_SECRET).await.0, 200);
    // LINE gives up before the desk can answer.
    app.sim.set_webhook_test_timeout(Duration::from_nanos(1));
    let view = wiz.ok("next", json!({})).await;
    assert_eq!(view["step"], "webhook");
    assert_eq!(view["webhook"]["outcome"]["code"], "timeout", "{view}");
    assert!(
        view["webhook"]["message"]
            .as_str()
            .expect("m")
            .starts_with("Timeout")
    );
    assert_eq!(view["can_continue"], false);
    assert_eq!(wiz.post("next", json!({})).await.0, 409);

    app.sim.set_webhook_test_timeout(Duration::from_secs(5));
    let view = wiz.ok("webhook/test", json!({})).await;
    assert_eq!(view["webhook"]["outcome"]["code"], "ok", "{view}");
    assert_eq!(view["can_continue"], true);
    assert_eq!(wiz.ok("next", json!({})).await["step"], "department");
});

both!(
    webhook_switched_off_tells_the_admin_where_to_switch_it_on,
    |app| {
        sim_channel(app, ChatMode::Bot);
        app.sim.set_webhook_active(NEW_ID, false);
        let wiz = Wiz::start(app).await;
        assert_eq!(wiz.credentials(NEW_ID, NEW_SECRET).await.0, 200);
        let view = wiz.ok("next", json!({})).await;
        assert_eq!(view["webhook"]["outcome"]["code"], "ok");
        assert_eq!(view["webhook"]["active"], false);
        let hint = view["webhook"]["inactive_message"].as_str().expect("hint");
        assert!(
            hint.contains("Use webhook") && hint.contains("LINE Developers Console"),
            "{hint}"
        );
        assert_eq!(view["can_continue"], false);

        app.sim.set_webhook_active(NEW_ID, true);
        let view = wiz.ok("webhook/test", json!({})).await;
        assert_eq!(view["webhook"]["active"], true);
        assert_eq!(view["can_continue"], true);
    }
);

both!(a_channel_cannot_be_connected_twice, |app| {
    // The test app's own channel is connected already.
    let wiz = Wiz::start(app).await;
    let (status, body) = wiz.credentials(LINE_CHANNEL_ID, SECRET).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("m")
            .contains("already connected")
    );

    // Two wizards for one new channel: the second to finish is refused.
    sim_channel(app, ChatMode::Bot);
    let first = Wiz::start(app).await;
    let second = Wiz::start(app).await;
    first.to_review().await;
    second.to_review().await;
    assert_eq!(first.ok("next", json!({})).await["step"], "done");
    let (status, body) = second.post("next", json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("m")
            .contains("already connected")
    );
    assert_eq!(second.view().await["step"], "review");
});

both!(share_kit_qr_decodes_to_the_add_friend_url, |app| {
    sim_channel(app, ChatMode::Bot);
    let wiz = Wiz::start(app).await;
    wiz.to_review().await;
    let done = wiz.ok("next", json!({})).await;
    let channel = done["channel_id"].as_str().expect("channel").to_owned();
    let kit = app
        .get_json(&format!("/api/v1/channels/{channel}/share-kit"))
        .await;
    assert_eq!(kit["add_friend_url"], "https://line.me/R/ti/p/%40042shop");
    assert_eq!(kit["line_id"], "@042shop");
    assert!(
        kit["html_snippet"]
            .as_str()
            .expect("snippet")
            .contains("https://line.me/R/ti/p/%40042shop")
    );

    let mut sizes = Vec::new();
    for size in ["s", "m", "l"] {
        let response = app.get(kit["qr"][size]["png"].as_str().expect("png")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "image/png");
        assert!(
            response.headers()["content-disposition"]
                .to_str()
                .expect("h")
                .contains("attachment")
        );
        let png = response.bytes().await.expect("bytes");
        let image = image::load_from_memory(&png).expect("a PNG").to_luma8();
        sizes.push(image.width());
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
            image.width() as usize,
            image.height() as usize,
            |x, y| image.get_pixel(x as u32, y as u32).0[0],
        );
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the {size} PNG");
        let (_, text) = grids[0].decode().expect("decodes");
        assert_eq!(text, "https://line.me/R/ti/p/%40042shop");

        let svg = app.get(kit["qr"][size]["svg"].as_str().expect("svg")).await;
        assert_eq!(svg.headers()["content-type"], "image/svg+xml");
        assert!(svg.text().await.expect("svg").contains("<svg"));
    }
    assert!(sizes[0] < sizes[1] && sizes[1] < sizes[2], "{sizes:?}");
    assert_eq!(
        app.get(&format!("/api/v1/channels/{channel}/share-kit/qr/qr-x.png"))
            .await
            .status(),
        400
    );
});

/// One string field of each object in a JSON array.
fn field_of_each(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|item| item[field].as_str().expect(field).to_owned())
        .collect()
}

both!(account_page_refresh_department_and_removal, |app| {
    let id = app.channel.id;
    // The account page's buttons: a bodiless POST answered with JSON.
    let press = async |action: &str| -> Value {
        let path = format!("/api/v1/channels/{id}/{action}");
        let response = app.send_json(Method::POST, &path, json!({})).await;
        response.json().await.expect("json")
    };
    // Refresh reads the name from LINE.
    let mut spec = app.sim.channel(LINE_CHANNEL_ID).expect("spec");
    spec.display_name = "Renamed Shop".into();
    app.sim.add_channel(spec);
    let info = press("refresh").await;
    assert_eq!(info["display_name"], "Renamed Shop");
    assert!(
        info["basic_id"]
            .as_str()
            .expect("basic id")
            .starts_with('@')
    );

    // Department change, audited.
    let sales: Value = app
        .send_json(
            Method::POST,
            &format!("/api/v1/brands/{}/departments", app.channel.brand_id),
            json!({"name": "Sales"}),
        )
        .await
        .json()
        .await
        .expect("json");
    let moved = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/channels/{id}/department"),
            json!({"department_id": sales["id"]}),
        )
        .await;
    assert_eq!(moved.status(), 200);
    let moved: Value = moved.json().await.expect("json");
    assert_eq!(moved["department_name"], "Sales");

    // Test again.
    let test = press("webhook/test").await;
    assert_eq!(test["ok"], true, "{test}");

    // Remove: confirmation required; then the webhook answers 404 and the chats stay.
    let user = app.user("U00000000000000000000000000000c33", "Chika");
    app.say(&user, "before removal").await;
    app.inbox_drained().await;
    let refused = app
        .send_json(Method::DELETE, &format!("/api/v1/channels/{id}"), json!({}))
        .await;
    assert_eq!(refused.status(), 400);
    let removed = app
        .send_json(
            Method::DELETE,
            &format!("/api/v1/channels/{id}?confirm={LINE_CHANNEL_ID}"),
            json!({}),
        )
        .await;
    assert_eq!(removed.status(), 204);
    let after = app
        .sim
        .send(
            LINE_CHANNEL_ID,
            user.clone(),
            EventKind::Text("after".into()),
        )
        .await
        .expect("send");
    assert_eq!(after.status, 404);
    assert_eq!(app.conversations().await.len(), 1, "history kept");
    assert_eq!(
        app.get(&format!("/api/v1/channels/{id}")).await.status(),
        404
    );

    let actions = field_of_each(&app.get_json("/api/v1/audit").await, "action");
    for action in [
        "department.created",
        "channel.department_changed",
        "channel.removed",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
});

both!(brands_are_created_renamed_and_listed, |app| {
    let created = app
        .send_json(
            Method::POST,
            "/api/v1/brands",
            json!({"name": "  Second Shop "}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let brand: Value = created.json().await.expect("json");
    assert_eq!(brand["name"], "Second Shop");
    let id = brand["id"].as_str().expect("id");
    let empty = app
        .send_json(Method::POST, "/api/v1/brands", json!({"name": " "}))
        .await;
    assert_eq!(empty.status(), 400);
    let renamed: Value = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/brands/{id}"),
            json!({"name": "2nd Shop"}),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(renamed["name"], "2nd Shop");
    let names = field_of_each(&app.get_json("/api/v1/brands").await, "name");
    assert_eq!(names, ["2nd Shop", "Test Shop"]);
    assert_eq!(
        app.get_json(&format!("/api/v1/brands/{id}/channels")).await,
        json!([])
    );
    let audit = app.get_json(&format!("/api/v1/audit?brand_id={id}")).await;
    let actions = field_of_each(&audit, "action");
    assert_eq!(actions, ["brand.renamed", "brand.created"]);
    assert_eq!(
        audit[0]["detail"],
        json!({"from": "Second Shop", "to": "2nd Shop"})
    );
});

both!(settings_changes_are_audited, |app| {
    let channel = app.channel.id;
    let department = app.channel.department_id;
    let settings = app
        .get_json(&format!("/api/v1/channels/{channel}/settings"))
        .await;
    for (method, path, body) in [
        (
            Method::PUT,
            format!("/api/v1/channels/{channel}/settings"),
            settings,
        ),
        (
            Method::PUT,
            format!("/api/v1/departments/{department}/routing"),
            json!({"mode": "round_robin"}),
        ),
        (
            Method::PUT,
            format!("/api/v1/departments/{department}/hours"),
            Value::Null,
        ),
    ] {
        let response = app.send_json(method, &path, body).await;
        assert_eq!(response.status(), 200, "{path}");
    }
    let audit = app
        .get_json(&format!("/api/v1/audit?brand_id={}", app.channel.brand_id))
        .await;
    let entries = audit.as_array().expect("array");
    let actions = field_of_each(&audit, "action");
    assert_eq!(
        actions,
        [
            "department.hours_changed",
            "department.routing_changed",
            "channel.settings_changed"
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| e["actor"] == "admin@test.linedesk" && e["created_ms"].as_i64() > Some(0))
    );
    assert_eq!(entries[1]["detail"], json!({"mode": "round_robin"}));
    assert_eq!(entries[2]["target"], format!("channel:{channel}"));
});

both!(wizard_account_and_audit_pages_render_each_step, |app| {
    use crate::console;
    let browser = console::admin(app).await;
    let brand = app.channel.brand_id;
    let settings = format!("/brands/{brand}/settings");

    let html = console::html(app, &browser, &format!("{settings}/channels/new"), "en").await;
    assert!(html.contains("id=\"wizard-credentials\"") && html.contains("Check with LINE"));
    assert!(html.contains("data-testid=\"wizard-step-credentials\" aria-current=\"step\""));

    sim_channel(app, ChatMode::Chat);
    let wiz = Wiz::start(app).await;
    let url = format!("{settings}/channels/new/{}", wiz.id);
    assert_eq!(wiz.credentials(NEW_ID, NEW_SECRET).await.0, 200);
    let html = console::html(app, &browser, &url, "ja").await;
    assert!(html.contains("data-testid=\"chat-mode-warning\""), "{html}");
    assert!(html.contains("設定 › 応答設定"), "Japanese catalog");
    assert!(html.contains("data-testid=\"wizard-next\" disabled"));

    app.sim.set_chat_mode(NEW_ID, ChatMode::Bot);
    wiz.ok("response-mode/recheck", json!({})).await;
    wiz.ok("next", json!({})).await;
    let html = console::html(app, &browser, &url, "en").await;
    assert!(
        html.contains("data-testid=\"webhook-result\" data-outcome=\"ok\""),
        "{html}"
    );
    // LINE reached the webhook, so the guess from the URL's shape is not shown against it.
    assert!(
        !html.contains("data-testid=\"public-url-warning\""),
        "{html}"
    );
    // When LINE cannot reach it, the page says why the URL cannot work.
    app.sim.set_webhook_test_timeout(Duration::from_nanos(1));
    wiz.ok("webhook/test", json!({})).await;
    app.sim.set_webhook_test_timeout(Duration::from_secs(5));
    let html = console::html(app, &browser, &url, "en").await;
    assert!(html.contains("data-outcome=\"timeout\""), "{html}");
    assert!(html.contains("data-reach=\"not_public\""), "{html}");
    assert!(html.contains("reverse proxy"));
    wiz.ok("webhook/test", json!({})).await;

    wiz.ok("next", json!({})).await;
    let html = console::html(app, &browser, &url, "en").await;
    assert!(html.contains("id=\"department-select\""));
    wiz.ok("next", json!({})).await;
    let html = console::html(app, &browser, &url, "en").await;
    assert!(html.contains("data-testid=\"wizard-review\"") && html.contains(NEW_ID));
    let done = wiz.ok("next", json!({})).await;
    let html = console::html(app, &browser, &url, "en").await;
    assert!(html.contains("data-testid=\"wizard-done\""));
    assert!(
        html.contains("https://line.me/R/ti/p/%40042shop"),
        "share kit on Done"
    );
    assert!(!html.contains("data-testid=\"wizard-back\""));

    let channel = done["channel_id"].as_str().expect("channel");
    let html = console::html(
        app,
        &browser,
        &format!("{settings}/channels/{channel}"),
        "en",
    )
    .await;
    for marker in [
        "account-name",
        "status-events-today",
        "status-quota",
        "secret-form",
        "remove-form",
        "share-qr",
    ] {
        assert!(
            html.contains(&format!("data-testid=\"{marker}\"")),
            "{marker}"
        );
    }
    assert!(!html.contains(NEW_SECRET));
    assert!(html.contains("0 of 5000"), "quota shown");

    let html = console::html(app, &browser, &format!("{settings}/channels"), "en").await;
    assert_eq!(
        html.matches("data-testid=\"channel-status\" data-status=\"waiting\"")
            .count(),
        2,
        "{html}"
    );
    assert!(html.contains("No message yet"));

    let html = console::html(app, &browser, &format!("{settings}/audit"), "en").await;
    assert!(
        html.contains("data-action=\"channel.connected\"")
            && html.contains("LINE account connected")
    );

    // Another brand's wizard is not reachable under this brand.
    let other: Value = app
        .send_json(Method::POST, "/api/v1/brands", json!({"name": "Other"}))
        .await
        .json()
        .await
        .expect("json");
    let status = console::page(
        app,
        &browser,
        &format!(
            "/brands/{}/settings/channels/new/{}",
            other["id"].as_str().expect("id"),
            wiz.id
        ),
        "en",
    )
    .await
    .status();
    assert_eq!(status, 404);
});

both!(webhook_test_outcomes_are_told_apart, |app| {
    use desk_server::service::webhook_check::TestOutcome;
    use desk_server::service::wizard::check_webhook;
    let state = &app.server.as_ref().expect("running").state;
    let token = app.access_token().await;
    let own = format!("{}/line/webhook/{}", app.base, app.channel.channel_key);
    let cases = [
        (own.clone(), TestOutcome::Ok),
        // HTTPS to a server that speaks plain HTTP: the handshake fails.
        (own.replace("http://", "https://"), TestOutcome::Tls),
        (
            "http://127.0.0.1:9/line/webhook/x".to_owned(),
            TestOutcome::CouldNotConnect,
        ),
        (
            format!("{}/line/webhook/no-such-key", app.base),
            TestOutcome::ErrorStatus { status: 404 },
        ),
    ];
    for (url, want) in cases {
        let status = check_webhook(state, &token, &url).await;
        assert_eq!(status.outcome, want, "{url}");
    }
    // LINE refuses a URL that is not https (or local http) outright.
    let refused = check_webhook(state, &token, "ftp://example.com/hook").await;
    assert!(
        matches!(&refused.outcome, TestOutcome::Refused { message } if message.contains("Invalid webhook endpoint URL")),
        "{refused:?}"
    );
    app.sim.set_webhook(LINE_CHANNEL_ID, &own);
});

both!(abandoned_wizards_are_purged_with_their_credentials, |app| {
    sim_channel(app, ChatMode::Bot);
    let abandoned = Wiz::start(app).await;
    assert_eq!(abandoned.credentials(NEW_ID, NEW_SECRET).await.0, 200);
    let finished = Wiz::start(app).await;
    finished.to_review().await;
    finished.ok("next", json!({})).await;
    let later = desk_server::clock::now_ms() + 1;
    assert_eq!(
        app.store().purge_stale_wizards(later).await.expect("purge"),
        1
    );
    let gone = app
        .get(&format!("/api/v1/channel-wizards/{}", abandoned.id))
        .await;
    assert_eq!(gone.status(), 404);
    assert_eq!(
        finished.view().await["step"],
        "done",
        "finished wizards stay"
    );
});
