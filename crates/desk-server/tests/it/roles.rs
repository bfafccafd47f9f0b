//! Roles enforced by the API: admins reach every brand, supervisors their brand, operators the
//! chats of their departments. Wrong brand or department: 403 saying why.

use desk_core::{DepartmentId, Role};
use desk_server::clock::now_ms;
use desk_store::Operator;
use reqwest::Method;
use serde_json::{Value, json};

use crate::auth::{Browser, PASSWORD, account};
use crate::both;
#[allow(unused_imports)]
use crate::helpers::*;

/// The cast: a chat in the test brand's Support department, a second department (Sales), and
/// a second brand.
struct Cast {
    chat: String,
    sales: DepartmentId,
    other_department: DepartmentId,
    support_op: (Operator, String),
    sales_op: (Operator, String),
    supervisor: (Operator, String),
    other_supervisor: (Operator, String),
    other_op: (Operator, String),
}

async fn cast(app: &TestApp) -> Cast {
    let brand = app.channel.brand_id;
    let support = app.channel.department_id;
    let now = now_ms();
    let sales = app
        .store()
        .create_department(brand, "Sales", now)
        .await
        .expect("sales");
    let other = app
        .store()
        .create_brand("Other Shop", now)
        .await
        .expect("brand");
    let other_department = app
        .store()
        .create_department(other.id, "Support", now)
        .await
        .expect("department");
    let user = app.user("U00000000000000000000000000000a11", "Aki");
    app.say(&user, "hello").await;
    let chat = app.only_conversation().await;
    Cast {
        chat,
        sales: sales.id,
        other_department: other_department.id,
        support_op: account(
            app,
            "support@test.linedesk",
            Role::Operator,
            Some(brand),
            &[support],
        )
        .await,
        sales_op: account(
            app,
            "sales@test.linedesk",
            Role::Operator,
            Some(brand),
            &[sales.id],
        )
        .await,
        supervisor: account(
            app,
            "lead@test.linedesk",
            Role::Supervisor,
            Some(brand),
            &[],
        )
        .await,
        other_supervisor: account(
            app,
            "lead@other.linedesk",
            Role::Supervisor,
            Some(other.id),
            &[],
        )
        .await,
        other_op: account(
            app,
            "op@other.linedesk",
            Role::Operator,
            Some(other.id),
            &[other_department.id],
        )
        .await,
    }
}

async fn call(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .http
        .request(method, format!("{}/api/v1{path}", app.base))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

/// Asserts a 403 whose message contains `why`.
async fn refused(response: reqwest::Response, why: &str) {
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(why)),
        "{why}: {body}"
    );
}

/// What a call should get: this status, or a 403 whose message contains the reason.
#[derive(Debug, Clone, Copy)]
enum Want {
    Status(u16),
    Refused(&'static str),
}

const OK: Want = Want::Status(200);
const ELSEWHERE: Want = Want::Refused("another brand");
const NOT_MANAGER: Want = Want::Refused("admin or a supervisor");
const NOT_ADMIN: Want = Want::Refused("needs an admin");
const NOT_MEMBER: Want = Want::Refused("department");

/// Makes the calls (token, method, path, body) in turn, since each may change what the next
/// sees, and checks that every one gets what it should.
async fn check(
    app: &TestApp,
    checks: impl IntoIterator<
        Item = (
            impl AsRef<str>,
            Method,
            impl AsRef<str>,
            Option<Value>,
            Want,
        ),
    >,
) {
    for (token, method, path, body, want) in checks {
        let path = path.as_ref();
        let response = call(app, token.as_ref(), method.clone(), path, body).await;
        match want {
            Want::Status(status) => assert_eq!(response.status(), status, "{method} {path}"),
            Want::Refused(why) => refused(response, why).await,
        }
    }
}

/// The JSON body of a GET, whatever its status.
async fn get_json(app: &TestApp, token: &str, path: &str) -> Value {
    call(app, token, Method::GET, path, None)
        .await
        .json()
        .await
        .expect("json")
}

both!(an_operator_cannot_open_another_brands_chat, |app| {
    let c = cast(app).await;
    let brand = app.channel.brand_id;
    let (op, other_lead) = (c.other_op.1.as_str(), c.other_supervisor.1.as_str());
    let chat = format!("/conversations/{}", c.chat);
    let messages = format!("{chat}/messages");
    #[rustfmt::skip]
    let checks = [
        (op, Method::GET, &chat, None, ELSEWHERE),
        (op, Method::GET, &messages, None, ELSEWHERE),
        (op, Method::POST, &messages, Some(json!({"text": "hi"})), ELSEWHERE),
        (op, Method::POST, &format!("{chat}/accept"), None, ELSEWHERE),
        (other_lead, Method::POST, &format!("{chat}/close"), None, ELSEWHERE),
    ];
    check(app, checks).await;
    // Their list does not show it, and asking for the brand is refused.
    assert_eq!(get_json(app, op, "/conversations").await, json!([]));
    #[rustfmt::skip]
    let checks = [
        (op, Method::GET, &format!("/conversations?brand_id={brand}"), None, ELSEWHERE),
        (op, Method::GET, &format!("/brands/{brand}/events"), None, ELSEWHERE),
    ];
    check(app, checks).await;

    // The same holds with a console session.
    let mut browser = Browser::new(app);
    browser.login(&c.other_op.0.email, PASSWORD).await;
    refused(
        browser.json(Method::GET, &chat, None, false).await,
        "another brand",
    )
    .await;
    assert!(app.sim.sent().is_empty(), "nothing was sent");
});

both!(operators_see_only_their_departments_chats, |app| {
    let c = cast(app).await;
    let (support, sales) = (c.support_op.1.as_str(), c.sales_op.1.as_str());
    let chat = format!("/conversations/{}", c.chat);
    let accept = format!("{chat}/accept");
    let outsider = Want::Refused("department you are not a member of");
    #[rustfmt::skip]
    let checks = [
        (sales, Method::GET, &chat, None, outsider),
        (sales, Method::POST, &accept, None, NOT_MEMBER),
    ];
    check(app, checks).await;
    assert_eq!(get_json(app, sales, "/conversations").await, json!([]));
    let list = get_json(app, support, "/conversations").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    // Transferred to Sales, it changes hands.
    let to_sales = Some(json!({"department_id": c.sales}));
    #[rustfmt::skip]
    let checks = [
        (support, Method::GET, &chat, None, OK),
        (support, Method::POST, &accept, None, OK),
        (support, Method::POST, &format!("{chat}/transfer"), to_sales, OK),
        (support, Method::GET, &chat, None, NOT_MEMBER),
        (sales, Method::GET, &chat, None, OK),
    ];
    check(app, checks).await;
});

both!(chats_stay_in_their_brand_when_transferred, |app| {
    let c = cast(app).await;
    let admin = app.admin_token.as_str();
    let chat = format!("/conversations/{}/transfer", c.chat);
    let to_department = call(
        app,
        admin,
        Method::POST,
        &chat,
        Some(json!({"department_id": c.other_department})),
    )
    .await;
    assert_eq!(to_department.status(), 400);
    let body: Value = to_department.json().await.expect("json");
    assert_eq!(body["error"]["field"], "department_id");
    let to = |target: &Operator| Some(json!({"operator_id": target.id}));
    #[rustfmt::skip]
    let checks = [
        (admin, Method::POST, &chat, to(&c.other_op.0), Want::Status(400)),
        (admin, Method::POST, &chat, to(&c.sales_op.0), Want::Status(400)),
        (admin, Method::POST, &chat, to(&c.support_op.0), OK),
    ];
    check(app, checks).await;
});

both!(supervisors_manage_their_brand_only, |app| {
    let c = cast(app).await;
    let brand = app.channel.brand_id;
    let (lead, other_lead) = (c.supervisor.1.as_str(), c.other_supervisor.1.as_str());
    let (support, sales) = (c.support_op.1.as_str(), c.sales_op.1.as_str());
    let settings = format!("/channels/{}/settings", app.channel.id);
    let current = get_json(app, lead, &settings).await;
    let routing = format!("/departments/{}/routing", app.channel.department_id);
    let hours = format!("/departments/{}/hours", app.channel.department_id);
    let capacity = format!("/operators/{}/capacity", c.support_op.0.id);
    let own = format!("/operators/{}/presence", c.support_op.0.id);
    #[rustfmt::skip]
    let checks = [
        (lead, Method::GET, &format!("/conversations/{}", c.chat), None, OK),
        (lead, Method::PUT, &settings, Some(current.clone()), OK),
        (other_lead, Method::PUT, &settings, Some(current.clone()), ELSEWHERE),
        (support, Method::PUT, &settings, Some(current), NOT_MANAGER),
        (lead, Method::PUT, &routing, Some(json!({"mode": "round_robin"})), OK),
        (other_lead, Method::PUT, &routing, Some(json!({"mode": "notify_all"})), ELSEWHERE),
        (support, Method::PUT, &hours, Some(Value::Null), NOT_MANAGER),
        (lead, Method::PUT, &hours, Some(Value::Null), OK),
        // Capacity and presence of colleagues.
        (lead, Method::PUT, &capacity, Some(json!({"capacity": 7})), OK),
        (other_lead, Method::PUT, &capacity, Some(json!({"capacity": 2})), ELSEWHERE),
        (sales, Method::PUT, &capacity, Some(json!({"capacity": 2})), NOT_MANAGER),
        (support, Method::PUT, &own, Some(json!({"presence": "online"})), OK),
        (sales, Method::PUT, &own, Some(json!({"presence": "offline"})), NOT_MANAGER),
    ];
    check(app, checks).await;

    // Listing operators: anyone of the brand (the transfer picker), nobody from elsewhere.
    let operators = format!("/brands/{brand}/operators");
    let listed = get_json(app, support, &operators).await;
    let emails: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|o| o["email"].as_str())
        .collect();
    assert!(
        emails.contains(&"sales@test.linedesk") && emails.contains(&"admin@test.linedesk"),
        "{emails:?}"
    );
    assert!(!emails.contains(&"op@other.linedesk"), "{emails:?}");
    check(
        app,
        [(&c.other_op.1, Method::GET, &operators, None, ELSEWHERE)],
    )
    .await;
});

both!(only_admins_make_admins, |app| {
    let c = cast(app).await;
    let brand = app.channel.brand_id;
    let (lead, other_lead) = (c.supervisor.1.as_str(), c.other_supervisor.1.as_str());
    let (support, sales) = (c.support_op.1.as_str(), c.sales_op.1.as_str());
    let invite = |role: &str, email: &str| {
        Some(
            json!({"email": email, "name": "New", "role": role, "departments": [app.channel.department_id]}),
        )
    };
    let path = format!("/brands/{brand}/operators");

    #[rustfmt::skip]
    let checks = [
        (lead, Method::POST, &path, invite("admin", "a1@test.linedesk"), NOT_ADMIN),
        (support, Method::POST, &path, invite("operator", "a2@test.linedesk"), NOT_MANAGER),
        (other_lead, Method::POST, &path, invite("operator", "a3@test.linedesk"), ELSEWHERE),
        (lead, Method::POST, &path, invite("supervisor", "a4@test.linedesk"), Want::Status(201)),
    ];
    check(app, checks).await;
    let made = call(
        app,
        &app.admin_token,
        Method::POST,
        &path,
        invite("admin", "a5@test.linedesk"),
    )
    .await;
    assert_eq!(made.status(), 201);
    let made: Value = made.json().await.expect("json");
    assert_eq!(
        made["operator"]["brand_id"],
        Value::Null,
        "admins serve every brand"
    );

    // Changing accounts: supervisors cannot touch or promote to admin; nobody changes their
    // own role or deactivates themself.
    let admin_id = made["operator"]["id"].as_str().expect("id").to_owned();
    let op = format!("/operators/{}", c.sales_op.0.id);
    #[rustfmt::skip]
    let checks = [
        (lead, Method::PATCH, &format!("/operators/{admin_id}"), Some(json!({"capacity": 2})), NOT_ADMIN),
        (lead, Method::PATCH, &op, Some(json!({"role": "admin"})), NOT_ADMIN),
    ];
    check(app, checks).await;
    let changed = call(
        app,
        lead,
        Method::PATCH,
        &op,
        Some(json!({"departments": [app.channel.department_id, c.sales], "capacity": 4})),
    )
    .await;
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.expect("json");
    assert_eq!(changed["capacity"], 4);
    assert_eq!(changed["departments"].as_array().map(Vec::len), Some(2));
    let own = format!("/operators/{}", c.supervisor.0.id);
    #[rustfmt::skip]
    let checks = [
        // Now a Support member too, they see the chat.
        (sales, Method::GET, &format!("/conversations/{}", c.chat), None, OK),
        (lead, Method::PATCH, &op, Some(json!({"departments": [c.other_department]})), Want::Status(400)),
        (lead, Method::PATCH, &own, Some(json!({"role": "operator"})), Want::Refused("own role")),
        (lead, Method::POST, &format!("{own}/deactivate"), None, Want::Refused("own account")),
        (other_lead, Method::POST, &format!("{op}/deactivate"), None, ELSEWHERE),
    ];
    check(app, checks).await;

    // Each change is in the audit log, with who made it.
    let log = app
        .store()
        .list_audit(Some(brand), None, 50)
        .await
        .expect("audit");
    let sales_target = format!("operator:{}", c.sales_op.0.id);
    let change = log
        .iter()
        .find(|e| e.action == "operator.changed" && e.target == sales_target)
        .expect("the change is logged");
    assert_eq!(change.actor_id, Some(c.supervisor.0.id.0));
    assert_eq!(change.detail.0["capacity"], 4);
    assert!(log.iter().any(|e| e.action == "operator.invited"));
    assert!(
        !log.iter().any(|e| e.action == "operator.deactivated"),
        "refused changes are not logged"
    );
});

/// Reads an SSE stream for `wait`; returns everything received.
async fn read_for(stream: &mut reqwest::Response, wait: std::time::Duration) -> String {
    let deadline = tokio::time::Instant::now() + wait;
    let mut text = String::new();
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, stream.chunk()).await {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

async fn events(app: &TestApp, token: &str) -> reqwest::Response {
    let stream = app
        .http
        .get(format!(
            "{}/api/v1/brands/{}/events",
            app.base, app.channel.brand_id
        ))
        .bearer_auth(token)
        .header("Last-Event-ID", "0")
        .send()
        .await
        .expect("GET events");
    assert_eq!(stream.status(), 200);
    stream
}

both!(
    operators_live_streams_carry_their_departments_chats_only,
    |app| {
        let c = cast(app).await;
        app.inbox_drained().await;
        let wait = std::time::Duration::from_millis(800);
        let mut support = events(app, &c.support_op.1).await;
        let mut sales = events(app, &c.sales_op.1).await;
        let mut admin = events(app, &app.admin_token).await;
        let seen = read_for(&mut support, wait).await;
        assert!(
            seen.contains("message.created") && seen.contains(&c.chat),
            "{seen}"
        );
        let seen = read_for(&mut sales, wait).await;
        assert!(
            !seen.contains(&c.chat),
            "a Sales operator saw a Support chat: {seen}"
        );
        assert!(read_for(&mut admin, wait).await.contains(&c.chat));

        // Moved to Sales: Support sees it leave, Sales sees it arrive.
        let transfer = format!("/conversations/{}/transfer", c.chat);
        let to_sales = Some(json!({"department_id": c.sales}));
        check(
            app,
            [(&app.admin_token, Method::POST, &transfer, to_sales, OK)],
        )
        .await;
        let left = read_for(&mut support, wait).await;
        assert!(
            left.contains("conversation.updated") && left.contains(&c.chat),
            "{left}"
        );
        let arrived = read_for(&mut sales, wait).await;
        assert!(arrived.contains(&c.chat), "{arrived}");
        // Afterwards Support hears nothing more of it.
        app.say(
            &line_sim::Source::User("U00000000000000000000000000000a11".into()),
            "still there?",
        )
        .await;
        app.inbox_drained().await;
        assert!(read_for(&mut sales, wait).await.contains("message.created"));
        assert!(!read_for(&mut support, wait).await.contains(&c.chat));
    }
);
