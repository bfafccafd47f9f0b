use crate::conformance;
use crate::support::*;

conformance!(appends_deduplicate_within_and_across_batches, |store| {
    let (channel, _) = seed(store).await;
    let first = store
        .inbox_append(
            vec![
                event(channel.id, "a", "U1", 1),
                event(channel.id, "b", "U1", 2),
                event(channel.id, "a", "U1", 1),
            ],
            NOW,
        )
        .await
        .expect("append");
    assert_eq!((first.inserted, first.duplicates), (2, 1));
    let again = store
        .inbox_append(vec![event(channel.id, "b", "U1", 2)], NOW)
        .await
        .expect("append");
    assert_eq!((again.inserted, again.duplicates), (0, 1));
    assert_eq!(
        store.inbox_keys(channel.id).await.expect("keys"),
        vec!["a", "b"]
    );
    // Activity is counted by LINE's event time: the two events have timestamps 1 and 2.
    assert_eq!(
        store
            .channel_activity(channel.id, 0)
            .await
            .expect("activity"),
        (2, Some(2))
    );
    assert_eq!(
        store
            .channel_activity(channel.id, 3)
            .await
            .expect("activity"),
        (0, None)
    );
});

conformance!(concurrent_appends_all_land_once, |store| {
    let (channel, _) = seed(store).await;
    let mut tasks = Vec::new();
    for t in 0..16 {
        let store = store.store.clone();
        let id = channel.id;
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                // Every key is sent by two tasks, so half of all appends are duplicates.
                let key = format!("k{}", (t / 2) * 100 + i);
                store
                    .inbox_append(vec![event(id, &key, "U", i)], NOW)
                    .await
                    .expect("append");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let keys = store.inbox_keys(channel.id).await.expect("keys");
    assert_eq!(keys.len(), 8 * 25);
    let (all, pending) = store.inbox_counts().await.expect("counts");
    assert_eq!((all, pending), (200, 200));
});

conformance!(claims_lease_and_expire, |store| {
    let (channel, _) = seed(store).await;
    store
        .inbox_append(
            (0..5)
                .map(|i| event(channel.id, &format!("e{i}"), "U", i))
                .collect(),
            NOW,
        )
        .await
        .expect("append");
    let claimed = store.inbox_claim(NOW, 30_000, 3).await.expect("claim");
    assert_eq!(
        claimed
            .iter()
            .map(|r| r.dedupe_key.as_str())
            .collect::<Vec<_>>(),
        ["e0", "e1", "e2"]
    );
    assert!(claimed.iter().all(|r| r.attempts == 1));
    let rest = store.inbox_claim(NOW, 30_000, 10).await.expect("claim");
    assert_eq!(rest.len(), 2, "leased rows are not claimed twice");
    assert!(
        store
            .inbox_claim(NOW + 1_000, 30_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let expired = store
        .inbox_claim(NOW + 31_000, 30_000, 10)
        .await
        .expect("claim");
    assert_eq!(expired.len(), 5, "a crashed processor's lease runs out");
    assert!(expired.iter().all(|r| r.attempts == 2));
    store
        .inbox_failed(expired[0].id, "boom", NOW + 99_000, true, NOW)
        .await
        .expect("give up");
    let (_, pending) = store.inbox_counts().await.expect("counts");
    assert_eq!(pending, 4);
});

conformance!(
    handed_off_events_skip_the_table_until_their_lease_runs_out,
    |store| {
        let (channel, _) = seed(store).await;
        let keys = |rows: &[desk_store::InboxRow]| {
            rows.iter()
                .map(|r| r.dedupe_key.clone())
                .collect::<Vec<_>>()
        };
        store.hand_off_inbox(30_000, 3);
        let events = |range: std::ops::Range<i64>| {
            range
                .map(|i| event(channel.id, &format!("e{i}"), "U", i))
                .collect::<Vec<_>>()
        };
        store.inbox_append(events(0..2), NOW).await.expect("append");
        assert!(
            store
                .inbox_claim(NOW + 1_000, 30_000, 10)
                .await
                .expect("claim")
                .is_empty(),
            "leased to this process as they are stored"
        );
        let handed = store.inbox_next(NOW, 30_000, 10).await.expect("next");
        assert_eq!(keys(&handed), ["e0", "e1"], "taken from memory");
        assert!(
            handed
                .iter()
                .all(|r| r.attempts == 1 && r.received_ms == NOW)
        );
        // A redelivery is not handed over again.
        store.inbox_append(events(0..1), NOW).await.expect("append");
        assert!(
            store
                .inbox_next(NOW, 30_000, 10)
                .await
                .expect("next")
                .is_empty()
        );

        // More than the queue has room for: stored for the table, unleased.
        store.inbox_append(events(2..3), NOW).await.expect("append");
        store.inbox_append(events(3..6), NOW).await.expect("append");
        let unleased = store.inbox_claim(NOW, 30_000, 10).await.expect("claim");
        assert_eq!(keys(&unleased), ["e3", "e4", "e5"]);
        assert_eq!(
            keys(&store.inbox_next(NOW, 30_000, 10).await.expect("next")),
            ["e2"]
        );
        // Left to the table, they are claimed from it at once, not at the next poll.
        store
            .inbox_append(events(6..10), NOW)
            .await
            .expect("append");
        let overflow = store.inbox_next(NOW, 30_000, 3).await.expect("next");
        assert_eq!(keys(&overflow), ["e6", "e7", "e8"]);
        let rest = store.inbox_next(NOW, 30_000, 3).await.expect("next");
        assert_eq!(keys(&rest), ["e9"], "a full claim leaves the table due");

        // Never applied (their process died): claimed from the table once the lease runs out.
        let expired = store
            .inbox_next(NOW + 31_000, 30_000, 20)
            .await
            .expect("next");
        assert_eq!(expired.len(), 10);
        assert!(expired.iter().all(|r| r.attempts == 2));
    }
);

conformance!(
    ingest_load_tells_a_writer_at_capacity_from_bursts,
    |store| {
        use desk_store::IngestLoad;
        let (channel, _) = seed(store).await;
        assert_eq!(store.ingest_load(NOW), IngestLoad::Quiet);
        let burst = |round: usize| {
            let appends = (0..32).map(|i| {
                let store = (*store).clone();
                let row = event(channel.id, &format!("k{round}-{i}"), "U1", NOW);
                async move { store.inbox_append(vec![row], NOW).await }
            });
            futures::future::try_join_all(appends)
        };
        // Requests waiting on the writer back to back: it never rests.
        for round in 0..30 {
            burst(round).await.expect("append");
        }
        assert_ne!(store.ingest_load(NOW), IngestLoad::Quiet);
        // Bursts as big, with room between them: one quick commit absorbs each.
        for round in 30..60 {
            burst(round).await.expect("append");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(store.ingest_load(NOW), IngestLoad::Quiet);
        // Nothing for a while: quiet whatever came before.
        for round in 60..90 {
            burst(round).await.expect("append");
        }
        assert_eq!(store.ingest_load(NOW + 1_000), IngestLoad::Quiet);
    }
);
