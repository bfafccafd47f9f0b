//! Accounts: login and logout, the session cookie, CSRF, the login rate limit, the setup
//! link, invites, one's own profile and password, deactivation, and the command line.

use std::time::Duration;

use desk_core::{BrandId, DepartmentId, Role};
use desk_server::clock::now_ms;
use desk_server::service::accounts::{set_password, setup_link};
use desk_server::setup::add_user;
use desk_server::{Server, ServerConfig};
use desk_store::Operator;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::both;
#[allow(unused_imports)]
use crate::helpers::*;

/// The password every test account gets.
pub const PASSWORD: &str = "correct horse battery";

/// Adds an account with [`PASSWORD`] and an API token, a member of `departments`.
pub async fn account(
    app: &TestApp,
    email: &str,
    role: Role,
    brand: Option<BrandId>,
    departments: &[DepartmentId],
) -> (Operator, String) {
    let (operator, token) = add_user(app.store(), email, email, role, brand, now_ms())
        .await
        .expect("account");
    for department in departments {
        app.store()
            .add_department_member(*department, operator.id)
            .await
            .expect("member");
    }
    set_password(app.store(), operator.id, PASSWORD)
        .await
        .expect("password");
    (operator, token)
}

/// A browser: follows no redirects, keeps the session cookie and its CSRF token.
pub struct Browser {
    base: String,
    http: reqwest::Client,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

/// The session token a response sets, if any (`Some("")` when it clears it).
pub fn session_set(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("linedesk_session="))
        .map(|c| c.split(';').next().unwrap_or("").to_owned())
}

/// Where a redirect goes.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self {
            base: app.base.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookie: None,
            csrf: None,
        }
    }

    fn with_cookie(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie {
            Some(c) => request.header(header::COOKIE, format!("theme=x; linedesk_session={c}")),
            None => request,
        }
    }

    /// Posts a form; a session cookie it sets is kept.
    pub async fn form(&mut self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let response = self
            .with_cookie(self.http.post(format!("{}{path}", self.base)))
            .form(fields)
            .send()
            .await
            .expect("POST form");
        if let Some(token) = session_set(&response).filter(|t| !t.is_empty()) {
            self.cookie = Some(token);
            self.csrf = self.me().await["csrf_token"].as_str().map(str::to_owned);
        }
        response
    }

    /// Logs in; returns the redirect.
    pub async fn login(&mut self, email: &str, password: &str) -> reqwest::Response {
        self.form(
            "/login",
            &[("email", email), ("password", password), ("next", "/")],
        )
        .await
    }

    /// A JSON request with the cookie, and the CSRF header when `csrf`.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        csrf: bool,
    ) -> reqwest::Response {
        let mut request = self.with_cookie(
            self.http
                .request(method, format!("{}/api/v1{path}", self.base)),
        );
        if csrf && let Some(token) = &self.csrf {
            request = request.header("X-CSRF-Token", token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request")
    }

    /// `GET /api/v1/me` (asserting 200).
    pub async fn me(&self) -> Value {
        let response = self.json(Method::GET, "/me", None, false).await;
        assert_eq!(response.status(), 200, "GET /me");
        response.json().await.expect("json")
    }
}

both!(
    login_sets_a_lax_http_only_cookie_and_logout_ends_it,
    |app| {
        let (operator, _) = account(
            app,
            "aoi@test.linedesk",
            Role::Operator,
            Some(app.channel.brand_id),
            &[app.channel.department_id],
        )
        .await;
        let mut browser = Browser::new(app);

        let wrong = browser
            .form(
                "/login",
                &[
                    ("email", "aoi@test.linedesk"),
                    ("password", "not the password"),
                    ("next", "/brands/x?tab=1"),
                ],
            )
            .await;
        assert_eq!(wrong.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            location(&wrong),
            "/login?error=invalid&next=/brands/x%3Ftab%3D1"
        );
        assert_eq!(session_set(&wrong), None);
        // An unknown e-mail reads exactly the same.
        let unknown = browser
            .form(
                "/login",
                &[
                    ("email", "nobody@test.linedesk"),
                    ("password", PASSWORD),
                    ("next", "/brands/x?tab=1"),
                ],
            )
            .await;
        assert_eq!(location(&unknown), location(&wrong));

        // E-mail is case-insensitive; `next` is followed.
        let ok = browser
            .form(
                "/login",
                &[
                    ("email", " AOI@Test.Linedesk "),
                    ("password", PASSWORD),
                    ("next", "/brands/x?tab=1"),
                ],
            )
            .await;
        assert_eq!(ok.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&ok), "/brands/x?tab=1");
        let cookie = ok
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .expect("Set-Cookie")
            .to_owned();
        assert!(
            cookie.contains("; Path=/; HttpOnly; SameSite=Lax"),
            "{cookie}"
        );
        assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");

        let me = browser.me().await;
        assert_eq!(me["id"], operator.id.to_string());
        assert_eq!(me["role"], "operator");
        assert_eq!(
            me["departments"][0]["id"],
            app.channel.department_id.to_string()
        );
        assert!(
            me["csrf_token"].as_str().is_some_and(|t| t.len() >= 43),
            "{me}"
        );

        // Logout needs the CSRF token, so another site cannot log anyone out.
        let forged = browser.form("/logout", &[("_csrf", "guess")]).await;
        assert_eq!(forged.status(), 403);
        assert_eq!(
            browser.json(Method::GET, "/me", None, false).await.status(),
            200
        );
        let csrf = browser.csrf.clone().expect("csrf");
        let out = browser.form("/logout", &[("_csrf", &csrf)]).await;
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&out), "/login");
        assert_eq!(session_set(&out).as_deref(), Some(""));
        assert_eq!(
            browser.json(Method::GET, "/me", None, false).await.status(),
            401
        );
    }
);

both!(forms_posted_from_another_site_are_refused, |app| {
    account(app, "kou@test.linedesk", Role::Admin, None, &[]).await;
    let post = |origin: String| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .post(format!("{}/login", app.base))
            .header(header::ORIGIN, origin)
            .form(&[("email", "kou@test.linedesk"), ("password", PASSWORD)])
            .send()
    };
    let forged = post("https://evil.example".into()).await.expect("POST");
    assert_eq!(forged.status(), 403);
    assert_eq!(session_set(&forged), None);
    let own = post(app.base.clone()).await.expect("POST");
    assert_eq!(own.status(), StatusCode::SEE_OTHER);
    assert!(session_set(&own).is_some_and(|t| !t.is_empty()));
});

both!(next_only_goes_to_this_site, |app| {
    account(app, "ren@test.linedesk", Role::Admin, None, &[]).await;
    for (next, to) in [
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/chats", "/chats"),
    ] {
        let mut browser = Browser::new(app);
        let ok = browser
            .form(
                "/login",
                &[
                    ("email", "ren@test.linedesk"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(location(&ok), to, "next={next}");
    }
});

both!(secure_cookies_behind_https, |app| {
    account(app, "sae@test.linedesk", Role::Admin, None, &[]).await;
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(format!("{}/login", app.base))
        .header("X-Forwarded-Proto", "https")
        .form(&[("email", "sae@test.linedesk"), ("password", PASSWORD)])
        .send()
        .await
        .expect("POST");
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
});

both!(
    cookie_changes_need_the_csrf_token_but_bearer_calls_do_not,
    |app| {
        let (_, token) = account(app, "yui@test.linedesk", Role::Admin, None, &[]).await;
        let mut browser = Browser::new(app);
        browser.login("yui@test.linedesk", PASSWORD).await;

        let change = json!({"locale": "ja"});
        let without = browser
            .json(Method::PATCH, "/me", Some(change.clone()), false)
            .await;
        assert_eq!(without.status(), 403);
        let body: Value = without.json().await.expect("json");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("CSRF token missing or wrong")),
            "{body}"
        );
        assert_eq!(browser.me().await["locale"], Value::Null, "nothing changed");

        let mut wrong = Browser::new(app);
        wrong.cookie = browser.cookie.clone();
        wrong.csrf = Some("x".repeat(43));
        assert_eq!(
            wrong
                .json(Method::PATCH, "/me", Some(change.clone()), true)
                .await
                .status(),
            403
        );

        let with = browser
            .json(Method::PATCH, "/me", Some(change.clone()), true)
            .await;
        assert_eq!(with.status(), 200);
        assert_eq!(browser.me().await["locale"], "ja");

        // An API token needs no CSRF token, and /me then has none to give.
        let bearer = app
            .http
            .patch(format!("{}/api/v1/me", app.base))
            .bearer_auth(&token)
            .json(&json!({"locale": "en"}))
            .send()
            .await
            .expect("PATCH");
        assert_eq!(bearer.status(), 200);
        let me: Value = bearer.json().await.expect("json");
        assert_eq!(me["locale"], "en");
        assert_eq!(me["csrf_token"], Value::Null);
    }
);

both!(logins_are_rate_limited_per_email, |app| {
    account(app, "kai@test.linedesk", Role::Admin, None, &[]).await;
    let mut browser = Browser::new(app);
    for _ in 0..5 {
        let r = browser.login("kai@test.linedesk", "wrong password!").await;
        assert!(
            location(&r).starts_with("/login?error=invalid"),
            "{}",
            location(&r)
        );
    }
    // Even the right password is refused now, with how long to wait.
    let limited = browser.login("kai@test.linedesk", PASSWORD).await;
    assert_eq!(limited.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&limited).starts_with("/login?error=rate_limited&next=/&retry_after="),
        "{}",
        location(&limited)
    );
    let retry: u64 = limited
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=900).contains(&retry), "{retry}");
    assert_eq!(session_set(&limited), None);

    // Another account from the same address is not locked out by these five.
    account(app, "mio@test.linedesk", Role::Admin, None, &[]).await;
    let other = Browser::new(app).login("mio@test.linedesk", PASSWORD).await;
    assert_eq!(location(&other), "/");

    // One address trying many e-mails is stopped too (20 failures in the window).
    let mut sprayer = Browser::new(app);
    for i in 0..15 {
        sprayer
            .login(&format!("guess{i}@test.linedesk"), "wrong password!")
            .await;
    }
    let sprayed = sprayer.login("mio@test.linedesk", PASSWORD).await;
    assert!(
        location(&sprayed).starts_with("/login?error=rate_limited"),
        "{}",
        location(&sprayed)
    );

    // After the window the right password works again.
    app.advance(Duration::from_secs(15 * 60 + 1));
    let later = browser.login("kai@test.linedesk", PASSWORD).await;
    assert_eq!(location(&later), "/");
    assert!(browser.cookie.is_some());
});

both!(sessions_slide_and_expire_when_idle, |app| {
    account(app, "nao@test.linedesk", Role::Admin, None, &[]).await;
    let mut browser = Browser::new(app);
    browser.login("nao@test.linedesk", PASSWORD).await;
    // Used every 11 hours, a session lives past its 12-hour idle limit…
    for _ in 0..3 {
        app.advance(Duration::from_secs(11 * 3600));
        assert_eq!(
            browser.json(Method::GET, "/me", None, false).await.status(),
            200
        );
    }
    // …but not past 12 idle hours.
    app.advance(Duration::from_secs(12 * 3600 + 1));
    assert_eq!(
        browser.json(Method::GET, "/me", None, false).await.status(),
        401
    );

    // And never past 7 days, however busy.
    browser.login("nao@test.linedesk", PASSWORD).await;
    for _ in 0..16 {
        app.advance(Duration::from_secs(11 * 3600));
        browser.json(Method::GET, "/me", None, false).await;
    }
    assert_eq!(
        browser.json(Method::GET, "/me", None, false).await.status(),
        401
    );
});

/// A server like `app`'s but on its own, empty database: nobody has an account yet.
async fn empty_desk(app: &TestApp, backend: Backend, dir: &std::path::Path) -> Option<Server> {
    let config = ServerConfig {
        store: store_config(backend, dir).await?,
        ..app.config.clone()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    Some(Server::start(config, listener).await.expect("server"))
}

async fn setup_creates_the_first_admin_once(app: &TestApp, backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    let Some(server) = empty_desk(app, backend, dir.path()).await else {
        return;
    };
    let base = format!("http://{}", server.addr);
    let link = setup_link(&server.state.store, &base, now_ms())
        .await
        .expect("link")
        .expect("no accounts yet: a link");
    let path = link.strip_prefix(&base).expect("on this server").to_owned();
    assert!(path.starts_with("/setup/"), "{link}");
    let mut browser = Browser {
        base: base.clone(),
        ..Browser::new(app)
    };

    let fields = |password_confirm: &'static str, password: &'static str, email: &'static str| {
        vec![
            ("email", email),
            ("name", "Hana"),
            ("password", password),
            ("password_confirm", password_confirm),
        ]
    };
    for (fields, code) in [
        (
            fields(
                "correct horse battery",
                "correct horse battery",
                "not-an-email",
            ),
            "email_invalid",
        ),
        (
            fields("short", "short", "hana@shop.jp"),
            "password_too_short",
        ),
        (
            fields(
                "correct horse batterx",
                "correct horse battery",
                "hana@shop.jp",
            ),
            "password_mismatch",
        ),
    ] {
        let refused = browser.form(&path, &fields).await;
        assert_eq!(refused.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&refused), format!("{path}?error={code}"));
    }
    let no_name = browser
        .form(
            &path,
            &[
                ("email", "hana@shop.jp"),
                ("name", " "),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&no_name), format!("{path}?error=name_missing"));
    let bad_link = browser
        .form(
            "/setup/not-the-token",
            &fields(PASSWORD, PASSWORD, "hana@shop.jp"),
        )
        .await;
    assert_eq!(
        location(&bad_link),
        "/setup/not-the-token?error=invalid_link"
    );

    let done = browser
        .form(&path, &fields(PASSWORD, PASSWORD, "Hana@Shop.jp"))
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/");
    let me = browser.me().await;
    assert_eq!(me["role"], "admin");
    assert_eq!(me["email"], "hana@shop.jp");

    // The link is spent, and a desk with an admin makes no new one.
    let again = Browser {
        base,
        ..Browser::new(app)
    }
    .form(&path, &fields(PASSWORD, PASSWORD, "eve@shop.jp"))
    .await;
    assert_eq!(location(&again), format!("{path}?error=invalid_link"));
    assert_eq!(
        setup_link(&server.state.store, "http://x", now_ms())
            .await
            .expect("ok"),
        None
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_link_creates_the_first_admin_once_sqlite() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    setup_creates_the_first_admin_once(&app, Backend::Sqlite).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_link_creates_the_first_admin_once_postgres() {
    if let Some(app) = TestApp::spawn(Backend::Postgres).await {
        setup_creates_the_first_admin_once(&app, Backend::Postgres).await;
        app.finish().await;
    }
}

both!(invited_operators_set_a_password_and_log_in, |app| {
    let brand = app.channel.brand_id;
    let invited = app
        .send_json(
            Method::POST,
            &format!("/api/v1/brands/{brand}/operators"),
            json!({"email": "Sora@Test.linedesk", "name": "Sora", "role": "operator",
                   "departments": [app.channel.department_id], "capacity": 3}),
        )
        .await;
    assert_eq!(invited.status(), 201);
    let invited: Value = invited.json().await.expect("json");
    assert_eq!(invited["operator"]["email"], "sora@test.linedesk");
    assert_eq!(invited["operator"]["capacity"], 3);
    assert_eq!(invited["operator"]["has_password"], false);
    assert_eq!(
        invited["operator"]["departments"],
        json!([app.channel.department_id])
    );
    let path = invited["invite_path"].as_str().expect("path").to_owned();
    assert_eq!(invited["invite_url"], format!("{}{path}", app.base));

    // Before accepting, nobody can log in as them.
    let mut browser = Browser::new(app);
    let early = browser.login("sora@test.linedesk", PASSWORD).await;
    assert!(location(&early).starts_with("/login?error=invalid"));

    let mismatch = browser
        .form(
            &path,
            &[
                ("password", PASSWORD),
                ("password_confirm", "something else"),
            ],
        )
        .await;
    assert_eq!(
        location(&mismatch),
        format!("{path}?error=password_mismatch")
    );
    let accepted = browser
        .form(
            &path,
            &[("password", PASSWORD), ("password_confirm", PASSWORD)],
        )
        .await;
    assert_eq!(location(&accepted), "/");
    assert_eq!(browser.me().await["email"], "sora@test.linedesk");
    let reused = Browser::new(app)
        .form(
            &path,
            &[
                ("password", "another password"),
                ("password_confirm", "another password"),
            ],
        )
        .await;
    assert_eq!(location(&reused), format!("{path}?error=invalid_link"));
    let login = Browser::new(app)
        .login("sora@test.linedesk", PASSWORD)
        .await;
    assert_eq!(location(&login), "/");

    // Taken e-mail: 409.
    let duplicate = app
        .send_json(
            Method::POST,
            &format!("/api/v1/brands/{brand}/operators"),
            json!({"email": "sora@test.linedesk", "name": "Sora 2", "role": "operator"}),
        )
        .await;
    assert_eq!(duplicate.status(), 409);
    let bad = app
        .send_json(
            Method::POST,
            &format!("/api/v1/brands/{brand}/operators"),
            json!({"email": "x@test.linedesk", "name": "X", "role": "operator", "departments": [uuid::Uuid::now_v7()]}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["error"]["field"], "departments");
});

both!(deactivation_ends_sessions_logins_and_tokens, |app| {
    let (operator, token) = account(
        app,
        "riku@test.linedesk",
        Role::Operator,
        Some(app.channel.brand_id),
        &[],
    )
    .await;
    let mut browser = Browser::new(app);
    browser.login("riku@test.linedesk", PASSWORD).await;
    assert_eq!(
        browser.json(Method::GET, "/me", None, false).await.status(),
        200
    );

    let done = app
        .send_json(
            Method::POST,
            &format!("/api/v1/operators/{}/deactivate", operator.id),
            json!({}),
        )
        .await;
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.expect("json");
    assert!(done["deactivated_ms"].is_i64());
    assert_eq!(done["presence"], "offline");

    assert_eq!(
        browser.json(Method::GET, "/me", None, false).await.status(),
        401
    );
    let login = Browser::new(app)
        .login("riku@test.linedesk", PASSWORD)
        .await;
    assert!(location(&login).starts_with("/login?error=invalid"));
    let api = app
        .http
        .get(format!("{}/api/v1/me", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET");
    assert_eq!(api.status(), 401);
});

both!(profile_changes_are_checked, |app| {
    let (_, token) = account(app, "emi@test.linedesk", Role::Admin, None, &[]).await;
    let patch = |body: Value| {
        app.http
            .patch(format!("{}/api/v1/me", app.base))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    for (body, field) in [
        (json!({"locale": "fr"}), "locale"),
        (json!({"time_zone": "Mars/Olympus"}), "time_zone"),
        (json!({"display_name": "  "}), "display_name"),
        (json!({"nickname": "x"}), "body"),
    ] {
        let r = patch(body).await.expect("PATCH");
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["error"]["field"], field);
    }
    let ok: Value =
        patch(json!({"locale": "ja", "time_zone": "Asia/Tokyo", "display_name": " Emi "}))
            .await
            .expect("PATCH")
            .json()
            .await
            .expect("json");
    assert_eq!(
        (
            ok["locale"].as_str(),
            ok["time_zone"].as_str(),
            ok["name"].as_str()
        ),
        (Some("ja"), Some("Asia/Tokyo"), Some("Emi"))
    );
    // Absent fields stay; null follows the browser again.
    let cleared: Value = patch(json!({"locale": null}))
        .await
        .expect("PATCH")
        .json()
        .await
        .expect("json");
    assert_eq!(cleared["locale"], Value::Null);
    assert_eq!(cleared["time_zone"], "Asia/Tokyo");
});

both!(changing_the_password_ends_other_sessions, |app| {
    account(app, "jun@test.linedesk", Role::Admin, None, &[]).await;
    let mut here = Browser::new(app);
    here.login("jun@test.linedesk", PASSWORD).await;
    let mut elsewhere = Browser::new(app);
    elsewhere.login("jun@test.linedesk", PASSWORD).await;

    let change_password = async |current: &str, new: &str| {
        let body = json!({"current_password": current, "new_password": new});
        let answer = here.json(Method::POST, "/me/password", Some(body), true);
        answer.await.status()
    };
    let long = "a new long password";
    assert_eq!(change_password("nope", long).await, 400);
    assert_eq!(change_password(PASSWORD, "short").await, 400);
    assert_eq!(change_password(PASSWORD, long).await, 204);

    assert_eq!(
        here.json(Method::GET, "/me", None, false).await.status(),
        200
    );
    assert_eq!(
        elsewhere
            .json(Method::GET, "/me", None, false)
            .await
            .status(),
        401
    );
    let old = Browser::new(app).login("jun@test.linedesk", PASSWORD).await;
    assert!(location(&old).starts_with("/login?error=invalid"));
    let new = Browser::new(app)
        .login("jun@test.linedesk", "a new long password")
        .await;
    assert_eq!(location(&new), "/");
});

/// The binary: `linedesk user add --password` makes a console login, and a first
/// `linedesk serve` on an empty desk prints the setup link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_sets_passwords_and_prints_the_setup_link() {
    use tokio::io::AsyncBufReadExt as _;

    let dir = tempfile::tempdir().expect("dir");
    let data_dir = dir.path().to_str().expect("utf-8").to_owned();
    let linedesk = env!("CARGO_BIN_EXE_linedesk");

    // A fresh desk: serve prints the one-time link.
    let mut serve = tokio::process::Command::new(linedesk)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &data_dir])
        .env_remove("LINEDESK_DATABASE_URL")
        .env_remove("LINEDESK_PUBLIC_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("linedesk serve");
    let mut lines = tokio::io::BufReader::new(serve.stdout.take().expect("stdout")).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("a line in time")
        .expect("read")
        .expect("a line");
    assert!(line.starts_with("Open http://127.0.0.1:"), "{line}");
    assert!(
        line.contains("/setup/") && line.ends_with(" to create the admin account"),
        "{line}"
    );
    serve.kill().await.expect("kill");
    let _ = serve.wait().await;

    let add = |password: &'static str| {
        std::process::Command::new(linedesk)
            .args([
                "user",
                "add",
                "--email",
                "cli@test.linedesk",
                "--name",
                "Cli",
                "--admin",
                "--data-dir",
                &data_dir,
            ])
            .env_remove("LINEDESK_DATABASE_URL")
            .env("LINEDESK_USER_PASSWORD", password)
            .output()
            .expect("linedesk user add")
    };
    let short = add("short");
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("at least 10 characters"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
    let ok = add(PASSWORD);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("console password set"));

    // The password works against that database.
    let store = desk_server::open_store(&desk_store::StoreConfig::Sqlite {
        path: dir.path().join("linedesk.db"),
    })
    .await
    .expect("store");
    let credentials = store
        .login_credentials("cli@test.linedesk")
        .await
        .expect("query")
        .expect("the user");
    assert!(
        credentials
            .password_hash
            .is_some_and(|h| h.starts_with("$argon2id$"))
    );
    store.close().await;
}
