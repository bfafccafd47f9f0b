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

both!(an_operator_cannot_open_another_brands_chat, |app| {
    let c = cast(app).await;
    let token = &c.other_op.1;
    for path in [
        format!("/conversations/{}", c.chat),
        format!("/conversations/{}/messages", c.chat),
    ] {
        refused(
            call(app, token, Method::GET, &path, None).await,
            "another brand",
        )
        .await;
    }
    refused(
        call(
            app,
            token,
            Method::POST,
            &format!("/conversations/{}/messages", c.chat),
            Some(json!({"text": "hi"})),
        )
        .await,
        "another brand",
    )
    .await;
    refused(
        call(
            app,
            token,
            Method::POST,
            &format!("/conversations/{}/accept", c.chat),
            None,
        )
        .await,
        "another brand",
    )
    .await;
    refused(
        call(
            app,
            &c.other_supervisor.1,
            Method::POST,
            &format!("/conversations/{}/close", c.chat),
            None,
        )
        .await,
        "another brand",
    )
    .await;
    // Their list does not show it, and asking for the brand is refused.
    let list: Value = call(app, token, Method::GET, "/conversations", None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list, json!([]));
    refused(
        call(
            app,
            token,
            Method::GET,
            &format!("/conversations?brand_id={}", app.channel.brand_id),
            None,
        )
        .await,
        "another brand",
    )
    .await;
    refused(
        call(
            app,
            token,
            Method::GET,
            &format!("/brands/{}/events", app.channel.brand_id),
            None,
        )
        .await,
        "another brand",
    )
    .await;

    // The same holds with a console session.
    let mut browser = Browser::new(app);
    browser.login(&c.other_op.0.email, PASSWORD).await;
    refused(
        browser
            .json(
                Method::GET,
                &format!("/conversations/{}", c.chat),
                None,
                false,
            )
            .await,
        "another brand",
    )
    .await;
    assert!(app.sim.sent().is_empty(), "nothing was sent");
});

both!(operators_see_only_their_departments_chats, |app| {
    let c = cast(app).await;
    let chat = format!("/conversations/{}", c.chat);
    refused(
        call(app, &c.sales_op.1, Method::GET, &chat, None).await,
        "department you are not a member of",
    )
    .await;
    refused(
        call(
            app,
            &c.sales_op.1,
            Method::POST,
            &format!("{chat}/accept"),
            None,
        )
        .await,
        "department",
    )
    .await;
    let list: Value = call(app, &c.sales_op.1, Method::GET, "/conversations", None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list, json!([]));

    let list: Value = call(app, &c.support_op.1, Method::GET, "/conversations", None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(
        call(app, &c.support_op.1, Method::GET, &chat, None)
            .await
            .status(),
        200
    );
    assert_eq!(
        call(
            app,
            &c.support_op.1,
            Method::POST,
            &format!("{chat}/accept"),
            None
        )
        .await
        .status(),
        200
    );

    // Transferred to Sales, it changes hands.
    let moved = call(
        app,
        &c.support_op.1,
        Method::POST,
        &format!("{chat}/transfer"),
        Some(json!({"department_id": c.sales})),
    )
    .await;
    assert_eq!(moved.status(), 200);
    refused(
        call(app, &c.support_op.1, Method::GET, &chat, None).await,
        "department",
    )
    .await;
    assert_eq!(
        call(app, &c.sales_op.1, Method::GET, &chat, None)
            .await
            .status(),
        200
    );
});

both!(chats_stay_in_their_brand_when_transferred, |app| {
    let c = cast(app).await;
    let chat = format!("/conversations/{}/transfer", c.chat);
    let to_department = call(
        app,
        &app.admin_token,
        Method::POST,
        &chat,
        Some(json!({"department_id": c.other_department})),
    )
    .await;
    assert_eq!(to_department.status(), 400);
    let body: Value = to_department.json().await.expect("json");
    assert_eq!(body["error"]["field"], "department_id");
    for target in [&c.other_op.0, &c.sales_op.0] {
        let to_operator = call(
            app,
            &app.admin_token,
            Method::POST,
            &chat,
            Some(json!({"operator_id": target.id})),
        )
        .await;
        assert_eq!(to_operator.status(), 400, "{}", target.email);
    }
    let ok = call(
        app,
        &app.admin_token,
        Method::POST,
        &chat,
        Some(json!({"operator_id": c.support_op.0.id})),
    )
    .await;
    assert_eq!(ok.status(), 200);
});

both!(supervisors_manage_their_brand_only, |app| {
    let c = cast(app).await;
    let brand = app.channel.brand_id;
    let settings = format!("/channels/{}/settings", app.channel.id);
    let current: Value = call(app, &c.supervisor.1, Method::GET, &settings, None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        call(
            app,
            &c.supervisor.1,
            Method::GET,
            &format!("/conversations/{}", c.chat),
            None
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        call(
            app,
            &c.supervisor.1,
            Method::PUT,
            &settings,
            Some(current.clone())
        )
        .await
        .status(),
        200
    );
    refused(
        call(
            app,
            &c.other_supervisor.1,
            Method::PUT,
            &settings,
            Some(current.clone()),
        )
        .await,
        "another brand",
    )
    .await;
    refused(
        call(app, &c.support_op.1, Method::PUT, &settings, Some(current)).await,
        "admin or a supervisor",
    )
    .await;

    let routing = format!("/departments/{}/routing", app.channel.department_id);
    assert_eq!(
        call(
            app,
            &c.supervisor.1,
            Method::PUT,
            &routing,
            Some(json!({"mode": "round_robin"}))
        )
        .await
        .status(),
        200
    );
    refused(
        call(
            app,
            &c.other_supervisor.1,
            Method::PUT,
            &routing,
            Some(json!({"mode": "notify_all"})),
        )
        .await,
        "another brand",
    )
    .await;
    let hours = format!("/departments/{}/hours", app.channel.department_id);
    refused(
        call(app, &c.support_op.1, Method::PUT, &hours, Some(Value::Null)).await,
        "admin or a supervisor",
    )
    .await;
    assert_eq!(
        call(app, &c.supervisor.1, Method::PUT, &hours, Some(Value::Null))
            .await
            .status(),
        200
    );

    // Capacity and presence of colleagues.
    let capacity = format!("/operators/{}/capacity", c.support_op.0.id);
    assert_eq!(
        call(
            app,
            &c.supervisor.1,
            Method::PUT,
            &capacity,
            Some(json!({"capacity": 7}))
        )
        .await
        .status(),
        200
    );
    refused(
        call(
            app,
            &c.other_supervisor.1,
            Method::PUT,
            &capacity,
            Some(json!({"capacity": 2})),
        )
        .await,
        "another brand",
    )
    .await;
    refused(
        call(
            app,
            &c.sales_op.1,
            Method::PUT,
            &capacity,
            Some(json!({"capacity": 2})),
        )
        .await,
        "admin or a supervisor",
    )
    .await;
    let own = format!("/operators/{}/presence", c.support_op.0.id);
    assert_eq!(
        call(
            app,
            &c.support_op.1,
            Method::PUT,
            &own,
            Some(json!({"presence": "online"}))
        )
        .await
        .status(),
        200
    );
    refused(
        call(
            app,
            &c.sales_op.1,
            Method::PUT,
            &own,
            Some(json!({"presence": "offline"})),
        )
        .await,
        "admin or a supervisor",
    )
    .await;

    // Listing operators: anyone of the brand (the transfer picker), nobody from elsewhere.
    let listed: Value = call(
        app,
        &c.support_op.1,
        Method::GET,
        &format!("/brands/{brand}/operators"),
        None,
    )
    .await
    .json()
    .await
    .expect("json");
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
    refused(
        call(
            app,
            &c.other_op.1,
            Method::GET,
            &format!("/brands/{brand}/operators"),
            None,
        )
        .await,
        "another brand",
    )
    .await;
});

both!(only_admins_make_admins, |app| {
    let c = cast(app).await;
    let brand = app.channel.brand_id;
    let invite = |role: &str, email: &str| json!({"email": email, "name": "New", "role": role, "departments": [app.channel.department_id]});
    let path = format!("/brands/{brand}/operators");

    refused(
        call(
            app,
            &c.supervisor.1,
            Method::POST,
            &path,
            Some(invite("admin", "a1@test.linedesk")),
        )
        .await,
        "needs an admin",
    )
    .await;
    refused(
        call(
            app,
            &c.support_op.1,
            Method::POST,
            &path,
            Some(invite("operator", "a2@test.linedesk")),
        )
        .await,
        "admin or a supervisor",
    )
    .await;
    refused(
        call(
            app,
            &c.other_supervisor.1,
            Method::POST,
            &path,
            Some(invite("operator", "a3@test.linedesk")),
        )
        .await,
        "another brand",
    )
    .await;
    let made = call(
        app,
        &c.supervisor.1,
        Method::POST,
        &path,
        Some(invite("supervisor", "a4@test.linedesk")),
    )
    .await;
    assert_eq!(made.status(), 201);
    let made = call(
        app,
        &app.admin_token,
        Method::POST,
        &path,
        Some(invite("admin", "a5@test.linedesk")),
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
    refused(
        call(
            app,
            &c.supervisor.1,
            Method::PATCH,
            &format!("/operators/{admin_id}"),
            Some(json!({"capacity": 2})),
        )
        .await,
        "needs an admin",
    )
    .await;
    let op = format!("/operators/{}", c.sales_op.0.id);
    refused(
        call(
            app,
            &c.supervisor.1,
            Method::PATCH,
            &op,
            Some(json!({"role": "admin"})),
        )
        .await,
        "needs an admin",
    )
    .await;
    let changed = call(
        app,
        &c.supervisor.1,
        Method::PATCH,
        &op,
        Some(json!({"departments": [app.channel.department_id, c.sales], "capacity": 4})),
    )
    .await;
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.expect("json");
    assert_eq!(changed["capacity"], 4);
    assert_eq!(changed["departments"].as_array().map(Vec::len), Some(2));
    // Now a Support member too, they see the chat.
    assert_eq!(
        call(
            app,
            &c.sales_op.1,
            Method::GET,
            &format!("/conversations/{}", c.chat),
            None
        )
        .await
        .status(),
        200
    );
    let wrong_brand = call(
        app,
        &c.supervisor.1,
        Method::PATCH,
        &op,
        Some(json!({"departments": [c.other_department]})),
    )
    .await;
    assert_eq!(wrong_brand.status(), 400);
    refused(
        call(
            app,
            &c.supervisor.1,
            Method::PATCH,
            &format!("/operators/{}", c.supervisor.0.id),
            Some(json!({"role": "operator"})),
        )
        .await,
        "own role",
    )
    .await;
    refused(
        call(
            app,
            &c.supervisor.1,
            Method::POST,
            &format!("/operators/{}/deactivate", c.supervisor.0.id),
            None,
        )
        .await,
        "own account",
    )
    .await;
    refused(
        call(
            app,
            &c.other_supervisor.1,
            Method::POST,
            &format!("/operators/{}/deactivate", c.sales_op.0.id),
            None,
        )
        .await,
        "another brand",
    )
    .await;

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
        let moved = call(
            app,
            &app.admin_token,
            Method::POST,
            &format!("/conversations/{}/transfer", c.chat),
            Some(json!({"department_id": c.sales})),
        )
        .await;
        assert_eq!(moved.status(), 200);
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
