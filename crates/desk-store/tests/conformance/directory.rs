use crate::conformance;
use crate::support::*;
use desk_store::StoreError;

conformance!(migrations_are_idempotent_and_twins, |store| {
    store.migrate().await.expect("second migrate is a no-op");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let names = |backend: &str| {
        let mut v: Vec<String> = std::fs::read_dir(format!("{dir}/{backend}"))
            .expect("migrations dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names("sqlite"),
        names("postgres"),
        "each migration needs its twin on the other backend"
    );
    store.ping().await.expect("ping");
});

conformance!(channels_are_unique_and_found_by_key, |store| {
    let (channel, scope) = seed(store).await;
    let found = store
        .channel_by_key(&channel.channel_key)
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found.id, channel.id);
    assert_eq!(found.secret.as_bytes(), b"sealed-secret");
    assert!(
        store
            .channel_by_key("nope")
            .await
            .expect("lookup")
            .is_none()
    );

    let again = desk_store::NewChannel {
        brand_id: scope.brand_id,
        department_id: scope.department_id,
        line_channel_id: channel.line_channel_id.clone(),
        channel_key: "another-key".into(),
        secret: desk_core::Sealed::from_bytes(b"x".to_vec()),
        bot_user_id: None,
        basic_id: None,
        display_name: String::new(),
        picture_url: None,
    };
    match store.create_channel(again, NOW).await {
        Err(StoreError::Conflict(m)) => {
            assert_eq!(m, "LINE channel 1234567890 is already connected")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    store
        .record_signature_failure(channel.id)
        .await
        .expect("count");
    store
        .set_channel_token(
            channel.id,
            Some(&desk_core::Sealed::from_bytes(b"tok".to_vec())),
            Some(NOW + 1000),
        )
        .await
        .expect("token");
    let reread = store.channel(channel.id).await.expect("reread");
    assert_eq!(reread.signature_failures, 1);
    assert_eq!(
        reread
            .access_token
            .as_ref()
            .map(desk_core::Sealed::as_bytes),
        Some(&b"tok"[..])
    );
    assert_eq!(
        store
            .list_channels(Some(scope.brand_id))
            .await
            .expect("list")
            .len(),
        1
    );
});

conformance!(api_tokens_resolve_to_operators, |store| {
    let op = operator(store, "admin@example.com").await;
    store
        .create_api_token(op.id, b"hash-of-token", "cli", NOW)
        .await
        .expect("token");
    let found = store
        .operator_by_token_hash(b"hash-of-token")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found.id, op.id);
    assert!(
        store
            .operator_by_token_hash(b"other")
            .await
            .expect("lookup")
            .is_none()
    );
    match store
        .create_operator(
            desk_store::NewOperator {
                brand_id: None,
                email: "admin@example.com".into(),
                display_name: "Dup".into(),
                role: desk_core::Role::Operator,
                password_hash: None,
            },
            NOW,
        )
        .await
    {
        Err(StoreError::Conflict(m)) => assert!(m.contains("admin@example.com")),
        other => panic!("expected a conflict, got {other:?}"),
    }
});
