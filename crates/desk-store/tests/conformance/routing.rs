use crate::conformance;
use crate::support::*;
use desk_core::{Presence, Routing, RoutingMode};
use desk_store::StoreError;

/// A message from a user of our own choosing (the support helpers write as U1).
fn from(user_id: &str, message_id: &str) -> desk_store::InboundEffect {
    desk_store::InboundEffect::Message {
        contact: user(user_id),
        message: text(message_id, "hi"),
        reply_token: None,
    }
}

/// Sets several operators' presence.
async fn presences(store: &desk_store::Store, changes: &[(desk_core::OperatorId, Presence)]) {
    for (op, presence) in changes {
        store.set_presence(*op, *presence).await.expect("presence");
    }
}

conformance!(route_department_assigns_queues_and_offers, |store| {
    let (_, scope) = seed(store).await;
    let department = scope.department_id;
    let a = operator(store, "a@example.com").await;
    let b = operator(store, "b@example.com").await;
    for op in [&a, &b] {
        store
            .add_department_member(department, op.id)
            .await
            .expect("member");
    }
    assert_eq!(
        store.departments_of(a.id).await.expect("departments"),
        [department]
    );
    assert_eq!(
        store.routing_mode(department).await.expect("mode"),
        RoutingMode::NotifyAll
    );

    // Notify-all: offered to the one online member, assigned to nobody.
    store
        .set_presence(a.id, Presence::Online)
        .await
        .expect("presence");
    let first = apply(store, scope, "e1", from("U1", "m1"))
        .await
        .conversation_id
        .expect("chat");
    let routed = store
        .route_department(department, NOW)
        .await
        .expect("route");
    assert_eq!(
        routed,
        [Routing::Offered {
            chat: first,
            operators: vec![a.id]
        }]
    );
    let events = store
        .events_after(scope.brand_id, 0, 1_000)
        .await
        .expect("events");
    let offered = events
        .iter()
        .find(|e| e.kind == "conversation.offered")
        .expect("offered event");
    assert_eq!(
        offered.payload.0["operator_ids"],
        serde_json::json!([a.id.to_string()])
    );
    assert!(
        store
            .conversation(first)
            .await
            .expect("chat")
            .assignee_id
            .is_none()
    );

    // Routing again tells nobody twice; someone arriving is told; someone who left and
    // came back is told again.
    assert!(
        store
            .route_department(department, NOW)
            .await
            .expect("route")
            .is_empty()
    );
    presences(store, &[(b.id, Presence::Online), (a.id, Presence::Away)]).await;
    assert_eq!(
        store
            .route_department(department, NOW)
            .await
            .expect("route"),
        [Routing::Offered {
            chat: first,
            operators: vec![b.id]
        }]
    );
    presences(
        store,
        &[(a.id, Presence::Online), (b.id, Presence::Offline)],
    )
    .await;
    assert_eq!(
        store
            .route_department(department, NOW)
            .await
            .expect("route"),
        [Routing::Offered {
            chat: first,
            operators: vec![a.id]
        }]
    );

    // Round robin with room for one: the waiting chat goes to `a`, the next one waits.
    match store.set_capacity(a.id, 0).await {
        Err(StoreError::Invalid { field, message }) => {
            assert_eq!(field, "capacity");
            assert!(message.contains("between 1 and 50"), "{message}");
        }
        other => panic!("capacity 0 accepted: {other:?}"),
    }
    store.set_capacity(a.id, 1).await.expect("capacity");
    store
        .set_routing_mode(department, RoutingMode::RoundRobin)
        .await
        .expect("mode");
    let routed = store
        .route_department(department, NOW)
        .await
        .expect("route");
    assert_eq!(
        routed,
        [Routing::Assigned {
            chat: first,
            operator: a.id
        }]
    );
    let chat = store.conversation(first).await.expect("chat");
    assert_eq!(chat.assignee_id, Some(a.id.0));
    assert_eq!(chat.state, desk_core::ConversationState::Waiting);

    let second = apply(store, scope, "e2", from("U2", "m2"))
        .await
        .conversation_id
        .expect("chat");
    assert!(
        store
            .route_department(department, NOW + 1)
            .await
            .expect("route")
            .is_empty(),
        "`a` is full and `b` offline"
    );
    store
        .set_presence(b.id, Presence::Online)
        .await
        .expect("presence");
    let routed = store
        .route_department(department, NOW + 2)
        .await
        .expect("route");
    assert_eq!(
        routed,
        [Routing::Assigned {
            chat: second,
            operator: b.id
        }]
    );
    // Routing again changes nothing.
    assert!(
        store
            .route_department(department, NOW + 3)
            .await
            .expect("route")
            .is_empty()
    );
    assert!(matches!(
        store
            .route_department(desk_core::DepartmentId::new(), NOW)
            .await,
        Err(StoreError::NotFound("department"))
    ));
});

conformance!(
    routing_is_skipped_only_where_it_could_change_nothing,
    |store| {
        let (_, scope) = seed(store).await;
        let department = scope.department_id;
        let a = operator(store, "a@example.com").await;
        store
            .add_department_member(department, a.id)
            .await
            .expect("member");
        // A chat waits; its one member is offline: routing has nobody to give it to.
        let chat = apply(store, scope, "e1", from("U1", "m1"))
            .await
            .conversation_id
            .expect("chat");
        assert!(!store.may_route(department).await.expect("check"));

        // Online: the chat is offered.
        presences(store, &[(a.id, Presence::Online)]).await;
        assert!(store.may_route(department).await.expect("check"));
        let routed = store
            .route_department(department, NOW)
            .await
            .expect("route");
        assert_eq!(routed.len(), 1);

        // Away again: nobody takes chats, but the offer still shows, so routing must run to
        // withdraw it; after that there is nothing left to do.
        presences(store, &[(a.id, Presence::Away)]).await;
        assert!(store.may_route(department).await.expect("check"));
        store
            .route_department(department, NOW)
            .await
            .expect("route");
        assert!(
            !store.may_route(department).await.expect("check"),
            "the offer was withdrawn"
        );
        assert!(
            store
                .conversation(chat)
                .await
                .expect("chat")
                .assignee_id
                .is_none()
        );
    }
);
