//! The conversation lifecycle end to end, with the server's clock moved forward instead of
//! sleeping: missed after the pick-up time, closed after the missed window, idle close with
//! its closing message, and a new chat after a completed one.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::*;

const MINUTE: Duration = Duration::from_secs(60);

impl TestApp {
    /// Changes some of the channel's settings (the rest keep their values).
    async fn settings(&self, changes: Value) -> reqwest::Response {
        let path = format!("/api/v1/channels/{}/settings", self.channel.id);
        let mut settings = self.get_json(&path).await;
        for (k, v) in changes.as_object().expect("object") {
            settings[k] = v.clone();
        }
        self.send_json(Method::PUT, &path, settings).await
    }
}

both!(
    an_unanswered_chat_goes_missed_then_closes_and_the_user_starts_a_new_one,
    |app| {
        assert_eq!(
            app.settings(json!({"missed_window": "fifteen_minutes", "pickup_ms": 120_000}))
                .await
                .status(),
            200
        );
        let user = app.user("U00000000000000000000000000000a11", "Aiko");
        app.say(&user, "誰かいますか？").await;
        let id = app.only_conversation().await;
        assert_eq!(app.conversation(&id).await["state"], "waiting");

        app.advance(MINUTE);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            app.conversation(&id).await["state"],
            "waiting",
            "not missed before the pick-up time"
        );
        app.advance(MINUTE + Duration::from_secs(1));
        app.wait_state(&id, "missed").await;

        // Still answerable while missed... but nobody answers within 15 minutes.
        app.advance(14 * MINUTE);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.conversation(&id).await["state"], "missed");
        app.advance(MINUTE + Duration::from_secs(1));
        let closed = app.wait_state(&id, "closed").await;
        assert_eq!(closed["close_reason"], "missed_timeout");

        let refused = app
            .post_message(&id, json!({"text": "sorry for the wait"}))
            .await;
        assert_eq!(refused.status(), 409);
        let body: Value = refused.json().await.expect("json");
        assert_eq!(body["error"]["message"], "this chat is completed");

        app.say(&user, "もう一度お願いします").await;
        app.inbox_drained().await;
        let list = app.conversations().await;
        assert_eq!(list.len(), 2);
        let new = list
            .iter()
            .find(|c| c["id"] != id.as_str())
            .expect("a new chat");
        assert_eq!(
            (new["state"].as_str(), new["previous_id"].as_str()),
            (Some("waiting"), Some(id.as_str()))
        );
        assert!(app.sim.sent().is_empty(), "nothing was sent to the user");
    }
);

both!(
    a_missed_chat_can_still_be_answered_and_then_closes_for_idleness,
    |app| {
        let status = app
            .settings(
                json!({"idle_close_ms": 60_000, "closing_message": "ご利用ありがとうございました"}),
            )
            .await
            .status();
        assert_eq!(status, 200);
        let user = app.user("U00000000000000000000000000000b22", "Bao");
        app.say(&user, "hello?").await;
        let id = app.only_conversation().await;
        app.advance(3 * MINUTE);
        app.wait_state(&id, "missed").await;

        // Answering a missed chat opens it.
        let answered = app
            .post_message(&id, json!({"text": "お待たせしました"}))
            .await;
        assert_eq!(answered.status(), 202);
        assert_eq!(app.conversation(&id).await["state"], "open");

        // The user's message resets the idle timer.
        app.advance(Duration::from_secs(40));
        app.say(&user, "one more question").await;
        app.inbox_drained().await;
        app.advance(Duration::from_secs(40));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            app.conversation(&id).await["state"],
            "open",
            "reset by the user's message"
        );
        app.advance(Duration::from_secs(21));
        let closed = app.wait_state(&id, "closed").await;
        assert_eq!(closed["close_reason"], "idle");
        let closing = app
            .eventually("the closing message", || async {
                app.sim
                    .delivered()
                    .into_iter()
                    .find(|s| s.messages[0]["text"] == "ご利用ありがとうございました")
            })
            .await;
        assert_eq!(closing.to, "U00000000000000000000000000000b22");
    }
);

both!(operators_accept_transfer_and_close, |app| {
    let user = app.user("U00000000000000000000000000000c33", "Chai");
    app.say(&user, "help").await;
    let id = app.only_conversation().await;
    let accepted = app
        .send_json(
            Method::POST,
            &format!("/api/v1/conversations/{id}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status(), 200);
    let accepted: Value = accepted.json().await.expect("json");
    assert_eq!(accepted["state"], "open");
    assert!(accepted["assignee_id"].is_string());

    let bad = app
        .send_json(
            Method::POST,
            &format!("/api/v1/conversations/{id}/transfer"),
            json!({"note": "?"}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let to_department =
        json!({"department_id": app.channel.department_id.to_string(), "note": "billing question"});
    let moved = app
        .send_json(
            Method::POST,
            &format!("/api/v1/conversations/{id}/transfer"),
            to_department,
        )
        .await;
    assert_eq!(moved.status(), 200);
    let moved: Value = moved.json().await.expect("json");
    assert_eq!(
        (moved["state"].as_str(), moved["assignee_id"].is_null()),
        (Some("waiting"), true)
    );

    let closed = app
        .send_json(
            Method::POST,
            &format!("/api/v1/conversations/{id}/close"),
            json!({}),
        )
        .await;
    assert_eq!(closed.status(), 200);
    assert_eq!(app.conversation(&id).await["close_reason"], "operator");
    let again = app
        .send_json(
            Method::POST,
            &format!("/api/v1/conversations/{id}/accept"),
            json!({}),
        )
        .await;
    assert_eq!(again.status(), 409);

    let timeline: Vec<String> = app
        .store()
        .events_after(app.channel.brand_id, 0, 1_000)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == "timeline")
        .filter_map(|e| e.payload.0["event"]["type"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(timeline, ["started", "accepted", "transferred", "closed"]);
});

both!(settings_are_validated_with_the_field_named, |app| {
    let bad_window = app.settings(json!({"missed_window": "two_days"})).await;
    assert_eq!(bad_window.status(), 400);
    let body: Value = bad_window.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("fifteen_minutes")),
        "{body}"
    );
    let bad_idle = app.settings(json!({"idle_close_ms": 1_000})).await;
    assert_eq!(bad_idle.status(), 400);
    let body: Value = bad_idle.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("idle close")),
        "{body}"
    );
    let path = format!("/api/v1/channels/{}/settings", app.channel.id);
    assert_eq!(
        app.get_json(&path).await["missed_window"],
        "one_day",
        "nothing changed"
    );
});

/// Two instances on one Postgres database: each due chat is closed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_close_each_due_chat_exactly_once() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        eprintln!("LINEDESK_TEST_POSTGRES_URL not set: Postgres run skipped");
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let second = desk_server::Server::start(app.config.clone(), listener)
        .await
        .expect("second instance");
    let users: Vec<_> = (0..30)
        .map(|i| app.user(&format!("U{:032x}", 0xd00 + i), &format!("User {i}")))
        .collect();
    let events = users
        .iter()
        .map(|u| app.event(u, line_sim::EventKind::Text("hi".into())))
        .collect();
    assert_eq!(app.deliver(events).await.status, 200);
    app.inbox_drained().await;
    assert_eq!(app.conversations().await.len(), 30);

    // Both clocks jump past pick-up (2 min) and the missed window (1 day): both workers race.
    second.state.clock.advance(25 * 3_600_000);
    second.state.wake.timers.notify_one();
    app.advance(Duration::from_secs(25 * 3_600));
    app.eventually("every chat to close", || async {
        let open = app
            .conversations()
            .await
            .into_iter()
            .filter(|c| c["state"] != "closed")
            .count();
        (open == 0).then_some(())
    })
    .await;
    second.shutdown().await;

    let events = app
        .store()
        .events_after(app.channel.brand_id, 0, 10_000)
        .await
        .expect("events");
    let closes: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "timeline" && e.payload.0["event"]["type"] == "closed")
        .filter_map(|e| e.conversation_id)
        .collect();
    let distinct: std::collections::HashSet<_> = closes.iter().collect();
    assert_eq!(
        (closes.len(), distinct.len()),
        (30, 30),
        "each chat closed once"
    );
    let missed = events
        .iter()
        .filter(|e| e.kind == "timeline" && e.payload.0["event"]["type"] == "missed")
        .count();
    assert_eq!(missed, 30, "each chat went missed once");
    app.finish().await;
}

both!(idle_close_waits_for_business_hours_when_asked, |app| {
    // The department is open one hour a day, starting 12 hours from now (UTC): now is outside.
    let weekly = weekly_hours_closed_now();
    let path = format!("/api/v1/departments/{}/hours", app.channel.department_id);
    let bad = app
        .send_json(
            Method::PUT,
            &path,
            json!({"time_zone": "Mars/Olympus", "weekly": {}}),
        )
        .await;
    assert_eq!(bad.status(), 400, "unknown time zone");
    let nowhere = format!("/api/v1/departments/{}/hours", uuid::Uuid::now_v7());
    assert_eq!(
        app.send_json(Method::PUT, &nowhere, json!(null))
            .await
            .status(),
        404
    );
    let set = app
        .send_json(
            Method::PUT,
            &path,
            json!({"time_zone": "UTC", "weekly": weekly}),
        )
        .await;
    assert_eq!(set.status(), 200);
    assert_eq!(
        app.settings(json!({"idle_close_ms": 60_000, "postpone_outside_business_hours": true}))
            .await
            .status(),
        200
    );

    let user = app.user("U00000000000000000000000000000d44", "Dai");
    app.say(&user, "夜遅くにすみません").await;
    let id = app.only_conversation().await;
    assert_eq!(
        app.post_message(&id, json!({"text": "承知しました"}))
            .await
            .status(),
        202
    );
    app.advance(5 * MINUTE);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.conversation(&id).await["state"],
        "open",
        "not closed while the department is away"
    );
    app.advance(Duration::from_secs(14 * 3_600));
    let closed = app.wait_state(&id, "closed").await;
    assert_eq!(closed["close_reason"], "idle");
});

both!(a_deliberate_pick_up_still_respects_capacity, |app| {
    let me = app
        .store()
        .operator_by_token_hash(&desk_server::http::auth::token_hash(&app.admin_token))
        .await
        .expect("lookup")
        .expect("admin");
    let capacity = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/operators/{}/capacity", me.id),
            json!({"capacity": 1}),
        )
        .await;
    assert_eq!(capacity.status(), 200);
    for (id, name) in [
        ("U00000000000000000000000000000e51", "Eri"),
        ("U00000000000000000000000000000e52", "Fumi"),
    ] {
        let user = app.user(id, name);
        app.say(&user, "こんにちは").await;
    }
    app.inbox_drained().await;
    let ids: Vec<String> = app
        .conversations()
        .await
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    let first = app
        .send_json(
            Method::POST,
            &format!("/api/v1/conversations/{}/accept", ids[0]),
            json!({}),
        )
        .await;
    assert_eq!(first.status(), 200);
    let second = app
        .send_json(
            Method::POST,
            &format!("/api/v1/conversations/{}/accept", ids[1]),
            json!({}),
        )
        .await;
    assert_eq!(second.status(), 409);
    let body: Value = second.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("capacity")),
        "{body}"
    );
    let answer = app
        .post_message(&ids[1], json!({"text": "taking this one too"}))
        .await;
    assert_eq!(answer.status(), 409, "answering would pick it up too");
    assert_eq!(app.conversation(&ids[1]).await["state"], "waiting");
});
