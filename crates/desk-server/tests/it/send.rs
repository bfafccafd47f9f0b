//! Operator replies: reply token first, push with a stable retry key otherwise, and LINE's
//! failures handled without losing or doubling a message.

use std::time::Duration;

use line_sim::{EventKind, FailWhen, Faults, SendApi};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::*;

impl TestApp {
    /// Every push request the simulator saw, accepted or not.
    fn pushes(&self) -> Vec<line_sim::SentRecord> {
        self.sim
            .sent()
            .into_iter()
            .filter(|s| s.api == SendApi::Push)
            .collect()
    }

    /// The operator answers the (only) conversation again; returns the settled message.
    async fn answer_again(&self, text: &str) -> Value {
        let conversation = self.only_conversation().await;
        let queued: Value = self
            .post_message(&conversation, json!({"text": text}))
            .await
            .json()
            .await
            .expect("json");
        self.settled(&conversation, queued["id"].as_str().expect("id"))
            .await
    }

    /// A user writes (the event `age` old) and the operator answers; returns the settled message.
    async fn answer(&self, age: Duration, text: &str) -> Value {
        let user = self.user("U0000000000000000000000000000c0de", "Chihiro");
        let event = self
            .sim
            .event_at(LINE_CHANNEL_ID, user, EventKind::Text("hello?".into()), age);
        assert_eq!(self.deliver(vec![event]).await.status, 200);
        self.inbox_drained().await;
        let conversation = self.only_conversation().await;
        let response = self
            .post_message(&conversation, json!({"text": text}))
            .await;
        assert_eq!(response.status(), 202);
        let queued: Value = response.json().await.expect("json");
        assert_eq!(queued["status"], "pending");
        self.settled(&conversation, queued["id"].as_str().expect("id"))
            .await
    }
}

both!(a_fresh_reply_token_is_used_first, |app| {
    let message = app.answer(Duration::from_secs(5), "いらっしゃいませ").await;
    assert_eq!(
        (message["status"].as_str(), message["sent_via"].as_str()),
        (Some("sent"), Some("reply"))
    );
    let sent = app.sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].api, SendApi::Reply);
    assert_eq!(sent[0].messages[0]["text"], "いらっしゃいませ");
    assert!(
        message["line_message_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    let channel = app.store().channel(app.channel.id).await.expect("channel");
    assert_eq!((channel.reply_count, channel.push_count), (1, 0));
});

both!(an_old_reply_token_is_not_risked_push_is_used, |app| {
    let message = app
        .answer(Duration::from_secs(55), "お待たせしました")
        .await;
    assert_eq!(
        (message["status"].as_str(), message["sent_via"].as_str()),
        (Some("sent"), Some("push"))
    );
    let sent = app.sim.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].api, SendApi::Push);
    assert_eq!(sent[0].to, "U0000000000000000000000000000c0de");
    let key = sent[0].retry_key.clone().expect("push carries a retry key");
    assert!(uuid::Uuid::parse_str(&key).is_ok());
});

both!(a_second_answer_pushes_because_the_token_is_spent, |app| {
    let first = app.answer(Duration::from_secs(1), "one").await;
    assert_eq!(first["sent_via"], "reply");
    let second = app.answer_again("two").await;
    assert_eq!(second["sent_via"], "push");
    assert_eq!(app.sim.delivered().len(), 2);
});

both!(a_500_then_success_delivers_exactly_once, |app| {
    app.sim
        .fail_next(SendApi::Push, 500, FailWhen::BeforeAccept, 1);
    let message = app.answer(Duration::from_secs(55), "retry me").await;
    assert_eq!(message["status"], "sent");
    let pushes = app.pushes();
    assert_eq!(pushes.len(), 2, "seen twice");
    assert_eq!(
        pushes[0].retry_key, pushes[1].retry_key,
        "with the same retry key"
    );
    assert_eq!((pushes[0].status, pushes[1].status), (500, 200));
    assert_eq!(app.sim.delivered().len(), 1, "delivered once");
});

both!(a_lost_response_is_retried_and_409_counts_as_sent, |app| {
    // LINE delivers, but the answer is lost as a 500: the retry gets 409, not a second copy.
    app.sim
        .fail_next(SendApi::Push, 500, FailWhen::AfterAccept, 1);
    let message = app.answer(Duration::from_secs(55), "exactly once").await;
    assert_eq!(message["status"], "sent");
    let pushes = app.pushes();
    assert_eq!(
        pushes.iter().map(|p| p.status).collect::<Vec<_>>(),
        [500, 409]
    );
    assert_eq!(pushes[0].retry_key, pushes[1].retry_key);
    assert_eq!(app.sim.delivered().len(), 1, "delivered once");
});

both!(
    rate_limits_back_off_and_the_monthly_limit_fails_with_its_reason,
    |app| {
        app.sim
            .fail_next(SendApi::Push, 429, FailWhen::BeforeAccept, 2);
        let message = app.answer(Duration::from_secs(55), "after a pause").await;
        assert_eq!(message["status"], "sent");
        assert_eq!(app.sim.delivered().len(), 1);

        app.sim.set_faults(Faults {
            monthly_limit: true,
            ..Faults::default()
        });
        let failed = app.answer_again("over quota").await;
        assert_eq!(failed["status"], "failed");
        assert!(
            failed["failure_reason"]
                .as_str()
                .is_some_and(|r| r.contains("monthly limit")),
            "{failed}"
        );
        assert_eq!(app.sim.delivered().len(), 1, "nothing more delivered");
    }
);

both!(operators_answer_a_group_chat, |app| {
    let member = "U00000000000000000000000000000f1f";
    app.user(member, "Gen");
    let group = line_sim::Source::Group {
        group_id: format!("C{:032x}", 0xfeed),
        user_id: Some(member.into()),
    };
    // Old enough that the reply token is not risked: the answer goes by push, to the group.
    let event = app.sim.event_at(
        LINE_CHANNEL_ID,
        group,
        EventKind::Text("みなさん、こんにちは".into()),
        Duration::from_secs(55),
    );
    assert_eq!(app.deliver(vec![event]).await.status, 200);
    app.inbox_drained().await;
    let id = app.only_conversation().await;
    app.eventually("the writer's name", || async {
        (app.messages(&id).await[0]["sender_name"] == "Gen").then_some(())
    })
    .await;
    let queued: Value = app
        .post_message(&id, json!({"text": "こんにちは、サポートです"}))
        .await
        .json()
        .await
        .expect("json");
    let sent = app.settled(&id, queued["id"].as_str().expect("id")).await;
    assert_eq!(
        (sent["status"].as_str(), sent["sent_via"].as_str()),
        (Some("sent"), Some("push"))
    );
    let delivered = app.sim.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].to,
        format!("C{:032x}", 0xfeed),
        "pushed to the group, not to the member"
    );
});
