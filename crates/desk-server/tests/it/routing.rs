//! Routing end to end: department modes, operators' presence and capacity, and the line of
//! chats waiting for room. Operators are members of the test channel's department; each
//! user's message opens a chat the server routes at once.

use std::time::Duration;

use desk_core::Role;
use desk_server::clock::now_ms;
use desk_server::setup::add_user;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::*;

/// A department member with their API token.
struct Member {
    id: String,
    token: String,
}

impl TestApp {
    /// Adds an operator of the test brand to the test department.
    async fn member(&self, name: &str) -> Member {
        let (op, token) = add_user(
            self.store(),
            &format!("{name}@test.linedesk"),
            name,
            Role::Operator,
            Some(self.channel.brand_id),
            now_ms(),
        )
        .await
        .expect("operator");
        self.store()
            .add_department_member(self.channel.department_id, op.id)
            .await
            .expect("member");
        Member {
            id: op.id.to_string(),
            token,
        }
    }

    /// A JSON request with the given token.
    async fn send_as(
        &self,
        method: Method,
        token: &str,
        path: &str,
        body: Value,
    ) -> reqwest::Response {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    async fn routing_mode(&self, mode: &str) {
        let path = format!("/api/v1/departments/{}/routing", self.channel.department_id);
        let r = self
            .send_json(Method::PUT, &path, json!({"mode": mode}))
            .await;
        assert_eq!(r.status(), 200, "set routing mode");
    }

    async fn presence(&self, m: &Member, presence: &str) {
        let path = format!("/api/v1/operators/{}/presence", m.id);
        // Operators set their own presence.
        let r = self
            .send_as(Method::PUT, &m.token, &path, json!({"presence": presence}))
            .await;
        assert_eq!(r.status(), 200, "set presence");
    }

    async fn capacity(&self, m: &Member, capacity: u32) {
        let path = format!("/api/v1/operators/{}/capacity", m.id);
        let r = self
            .send_json(Method::PUT, &path, json!({"capacity": capacity}))
            .await;
        assert_eq!(r.status(), 200, "set capacity");
    }

    /// A user writes; returns their live chat once it exists. The clock moves a second
    /// first, so arrivals and round-robin turns are strictly ordered.
    async fn new_chat(&self, line_id: &str) -> String {
        self.advance(Duration::from_secs(1));
        let user = self.user(line_id, line_id);
        self.say(&user, "hello").await;
        self.inbox_drained().await;
        self.eventually("the chat", || async {
            self.conversations()
                .await
                .into_iter()
                .find(|c| c["contact_line_id"] == line_id && c["state"] != "closed")
                .and_then(|c| c["id"].as_str().map(str::to_owned))
        })
        .await
    }

    /// Waits until the chat is assigned to `member`.
    async fn assigned_to(&self, chat: &str, member: &Member) {
        self.eventually(&format!("{chat} to go to {}", member.id), || async {
            (self.conversation(chat).await["assignee_id"] == member.id.as_str()).then_some(())
        })
        .await;
    }

    /// Checks, after routing had time to run, that the chat still waits for an operator.
    async fn still_queued(&self, chat: &str) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let c = self.conversation(chat).await;
        assert_eq!(
            (c["state"].as_str(), c["assignee_id"].is_null()),
            (Some("waiting"), true),
            "{c}"
        );
    }

    async fn close(&self, chat: &str) {
        let r = self
            .send_json(
                Method::POST,
                &format!("/api/v1/conversations/{chat}/close"),
                json!({}),
            )
            .await;
        assert_eq!(r.status(), 200, "close");
    }
}

/// Orders two members by id: round robin breaks ties (never assigned) by operator id.
fn by_id(a: Member, b: Member) -> (Member, Member) {
    if a.id < b.id { (a, b) } else { (b, a) }
}

fn line_id(n: u32) -> String {
    format!("U{:032x}", 0xabc000 + n)
}

both!(
    round_robin_takes_turns_least_recently_assigned_first,
    |app| {
        app.routing_mode("round_robin").await;
        let a = app.member("ayumi").await;
        let b = app.member("ben").await;
        let (first, second) = by_id(a, b);
        app.presence(&first, "online").await;
        app.presence(&second, "online").await;

        let one = app.new_chat(&line_id(1)).await;
        app.assigned_to(&one, &first).await;
        let two = app.new_chat(&line_id(2)).await;
        app.assigned_to(&two, &second).await;
        let three = app.new_chat(&line_id(3)).await;
        app.assigned_to(&three, &first).await;
        // Assigned, not yet answered.
        assert_eq!(app.conversation(&three).await["state"], "waiting");
    }
);

both!(full_operators_leave_chats_queued_in_arrival_order, |app| {
    app.routing_mode("round_robin").await;
    let a = app.member("akira").await;
    let b = app.member("bich").await;
    app.capacity(&a, 1).await;
    app.capacity(&b, 1).await;
    app.presence(&a, "online").await;

    let one = app.new_chat(&line_id(11)).await;
    app.assigned_to(&one, &a).await;
    let two = app.new_chat(&line_id(12)).await;
    app.still_queued(&two).await;
    let three = app.new_chat(&line_id(13)).await;
    app.still_queued(&three).await;

    // Room appears: an operator comes online and takes the oldest waiting chat.
    app.presence(&b, "online").await;
    app.assigned_to(&two, &b).await;
    app.still_queued(&three).await;

    // A close frees the closer's slot for the next in line.
    app.close(&one).await;
    app.assigned_to(&three, &a).await;
});

both!(away_and_offline_operators_get_nothing_new, |app| {
    app.routing_mode("round_robin").await;
    let a = app.member("aoi").await;
    let b = app.member("bora").await;
    let c = app.member("chen").await;
    app.presence(&a, "online").await;
    app.presence(&b, "away").await;
    // `c` stays offline (the default).
    for n in 21..24 {
        let chat = app.new_chat(&line_id(n)).await;
        app.assigned_to(&chat, &a).await;
    }
    let _ = c;

    // Going away keeps held chats but stops new ones.
    app.presence(&a, "away").await;
    let waiting = app.new_chat(&line_id(24)).await;
    app.still_queued(&waiting).await;
});

both!(
    last_attender_first_returns_a_contact_to_their_operator,
    |app| {
        app.routing_mode("last_attender_first").await;
        let a = app.member("ai").await;
        let b = app.member("bo").await;
        let (x, y) = by_id(a, b);
        app.presence(&x, "online").await;
        app.presence(&y, "online").await;

        let returning = line_id(31);
        let first = app.new_chat(&returning).await;
        app.assigned_to(&first, &x).await;
        app.close(&first).await;
        let other = app.new_chat(&line_id(32)).await;
        app.assigned_to(&other, &y).await;
        app.close(&other).await;
        let third = app.new_chat(&line_id(33)).await;
        app.assigned_to(&third, &x).await;
        app.close(&third).await;

        // Round robin would now pick `y` (assigned longest ago); the returning contact goes
        // back to `x`, who served them before.
        let again = app.new_chat(&returning).await;
        assert_ne!(again, first);
        app.assigned_to(&again, &x).await;
    }
);

both!(
    notify_all_offers_to_everyone_available_and_assigns_nobody,
    |app| {
        // notify_all is the default mode.
        let a = app.member("aya").await;
        let b = app.member("bin").await;
        let c = app.member("cy").await;
        app.presence(&a, "online").await;
        app.presence(&b, "online").await;
        app.presence(&c, "away").await;

        let chat = app.new_chat(&line_id(41)).await;
        let offered = app
            .eventually("the offer", || async {
                app.store()
                    .events_after(app.channel.brand_id, 0, 1_000)
                    .await
                    .expect("events")
                    .into_iter()
                    .find(|e| e.kind == "conversation.offered")
            })
            .await;
        assert_eq!(offered.payload.0["conversation_id"], chat.as_str());
        let mut to: Vec<String> = offered.payload.0["operator_ids"]
            .as_array()
            .expect("operator ids")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        to.sort();
        let mut expected = vec![a.id.clone(), b.id.clone()];
        expected.sort();
        assert_eq!(to, expected, "away operators are not offered chats");
        app.still_queued(&chat).await;

        // Another chat arriving routes the department again, but nobody is told twice.
        let next = app.new_chat(&line_id(42)).await;
        app.eventually("the second offer", || async {
            let events = app
                .store()
                .events_after(app.channel.brand_id, 0, 1_000)
                .await
                .expect("events");
            let offers = |id: &str| {
                events
                    .iter()
                    .filter(|e| e.kind == "conversation.offered")
                    .filter(|e| e.payload.0["conversation_id"] == id)
                    .count()
            };
            (offers(&next) == 1).then(|| assert_eq!(offers(&chat), 1, "offered once"))
        })
        .await;
    }
);

both!(routing_settings_are_validated_with_the_field_named, |app| {
    let a = app.member("aki").await;
    let b = app.member("bea").await;
    let op_path = |m: &Member, what: &str| format!("/api/v1/operators/{}/{what}", m.id);
    let dept_path = format!("/api/v1/departments/{}/routing", app.channel.department_id);

    async fn field_of(r: reqwest::Response, status: u16) -> String {
        assert_eq!(r.status(), status);
        let body: Value = r.json().await.expect("json");
        body["error"]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    let r = app
        .send_json(
            Method::PUT,
            &op_path(&a, "capacity"),
            json!({"capacity": 0}),
        )
        .await;
    assert_eq!(field_of(r, 400).await, "capacity");
    let r = app
        .send_json(
            Method::PUT,
            &op_path(&a, "capacity"),
            json!({"capacity": 51}),
        )
        .await;
    assert_eq!(field_of(r, 400).await, "capacity");
    let r = app
        .send_json(
            Method::PUT,
            &op_path(&a, "presence"),
            json!({"presence": "busy"}),
        )
        .await;
    assert_eq!(field_of(r, 400).await, "presence");
    let r = app
        .send_json(Method::PUT, &dept_path, json!({"mode": "random"}))
        .await;
    assert_eq!(field_of(r, 400).await, "mode");

    // Capacity and mode are for admins; presence for the operator themself (or an admin).
    let r = app
        .send_as(
            Method::PUT,
            &a.token,
            &op_path(&a, "capacity"),
            json!({"capacity": 3}),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = app
        .send_as(
            Method::PUT,
            &a.token,
            &dept_path,
            json!({"mode": "round_robin"}),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = app
        .send_as(
            Method::PUT,
            &a.token,
            &op_path(&b, "presence"),
            json!({"presence": "online"}),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = app
        .send_json(
            Method::PUT,
            &op_path(&b, "presence"),
            json!({"presence": "away"}),
        )
        .await;
    assert_eq!(r.status(), 200);
});

both!(a_deactivated_operators_chats_go_to_someone_online, |app| {
    app.routing_mode("round_robin").await;
    let a = app.member("azusa").await;
    let b = app.member("bao").await;
    app.presence(&a, "online").await;
    let chat = app.new_chat(&line_id(61)).await;
    app.assigned_to(&chat, &a).await;
    let accepted = app
        .send_as(
            Method::POST,
            &a.token,
            &format!("/api/v1/conversations/{chat}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status(), 200, "accept");
    assert_eq!(app.conversation(&chat).await["state"], "open");
    app.presence(&b, "online").await;
    app.still_open_with(&chat, &a).await;

    let r = app
        .send_json(
            Method::POST,
            &format!("/api/v1/operators/{}/deactivate", a.id),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200, "deactivate");
    // Back in the line, and offered to the one online.
    app.assigned_to(&chat, &b).await;
    assert_eq!(app.conversation(&chat).await["state"], "waiting");
});

impl TestApp {
    /// Checks, after routing had time to run, that the chat is still open with `member`.
    async fn still_open_with(&self, chat: &str, member: &Member) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let c = self.conversation(chat).await;
        assert_eq!(
            (c["state"].as_str(), c["assignee_id"].as_str()),
            (Some("open"), Some(member.id.as_str())),
            "{c}"
        );
    }
}
