//! Statements used inside several transactions. They are macros, not functions, because a
//! SQLite and a Postgres transaction are different types: each use expands once per backend.

/// A contact to insert or refresh (see [`upsert_contacts!`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ContactUpsert<'a> {
    pub channel: desk_core::ChannelId,
    pub contact: &'a crate::ContactRef,
    pub status: Option<desk_core::FriendStatus>,
}

/// Inserts contacts not stored yet and refreshes given friend statuses, in one statement;
/// evaluates to their ids by `(channel, LINE id)`. The same contact given twice is written
/// once, with the last status given (one statement may not touch a row twice).
macro_rules! upsert_contacts {
    ($exec:expr, $contacts:expr, $now:expr) => {{
        let mut merged: Vec<$crate::tx::ContactUpsert<'_>> = Vec::new();
        for c in $contacts {
            let c: $crate::tx::ContactUpsert<'_> = c;
            match merged.iter_mut().find(|m| {
                m.channel == c.channel && m.contact.line_id == c.contact.line_id
            }) {
                Some(m) => m.status = c.status.or(m.status),
                None => merged.push(c),
            }
        }
        let mut ids: std::collections::HashMap<(uuid::Uuid, String), desk_core::ContactId> =
            std::collections::HashMap::with_capacity(merged.len());
        if !merged.is_empty() {
            let now: desk_core::Millis = $now;
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO contacts (id, channel_id, kind, line_id, friend_status, created_ms, updated_ms) ",
            );
            q.push_values(&merged, |mut row, c| {
                row.push_bind(desk_core::ContactId::new().0)
                    .push_bind(c.channel.0)
                    .push_bind(c.contact.kind.as_str())
                    .push_bind(c.contact.line_id.as_str())
                    .push_bind(c.status.unwrap_or(desk_core::FriendStatus::Unknown).as_str())
                    .push_bind(now)
                    .push_bind(now);
            });
            // A row without a status ('unknown') keeps the stored one.
            q.push(
                " ON CONFLICT (channel_id, line_id) DO UPDATE SET
                   friend_status = CASE WHEN excluded.friend_status = 'unknown' THEN contacts.friend_status ELSE excluded.friend_status END,
                   updated_ms = excluded.updated_ms
                 RETURNING id, channel_id, line_id",
            );
            // One contact (a follow, a block, a postback) is the common statement: worth
            // preparing once.
            let rows: Vec<(uuid::Uuid, uuid::Uuid, String)> =
                q.build_query_as().persistent(merged.len() == 1).fetch_all($exec).await?;
            ids.extend(
                rows.into_iter()
                    .map(|(id, channel, line_id)| ((channel, line_id), desk_core::ContactId(id))),
            );
        }
        ids
    }};
}

/// Inserts or refreshes one contact; evaluates to its [`desk_core::ContactId`].
macro_rules! upsert_contact {
    ($exec:expr, $scope:expr, $contact:expr, $status:expr, $now:expr) => {{
        let contact: $crate::ContactRef = $contact;
        let channel: desk_core::ChannelId = $scope.channel_id;
        let one = $crate::tx::ContactUpsert {
            channel,
            contact: &contact,
            status: $status,
        };
        upsert_contacts!($exec, [one], $now)
            .remove(&(channel.0, contact.line_id.clone()))
            .ok_or($crate::StoreError::NotFound("contact"))?
    }};
}

/// A new conversation for a contact that has no live one (linked to its previous chat): with
/// the chatbot when it is on, otherwise in the department's line. Evaluates to the started
/// transition and its `conversation.opened` event; nothing is written yet.
pub(crate) fn opening(
    scope: crate::ChannelScope,
    rules: &crate::ChatRules,
    contact: desk_core::ContactId,
    previous: Option<desk_core::ConversationId>,
    now: desk_core::Millis,
) -> (desk_core::lifecycle::Transition, NewEvent) {
    let id = desk_core::ConversationId::new();
    let started = desk_core::lifecycle::Conversation::start(
        desk_core::lifecycle::NewConversation {
            id,
            contact,
            department: scope.department_id,
            previous,
        },
        &rules.settings,
        now,
    );
    let opened = NewEvent {
        brand: scope.brand_id,
        conversation: Some(id),
        kind: "conversation.opened",
        payload: serde_json::json!({"conversation_id": id, "contact_id": contact}),
    };
    (started, opened)
}

/// The contact's latest chat, live or closed, in `$exec`; evaluates to
/// `Option<desk_core::ConversationId>`.
macro_rules! latest_conversation {
    ($exec:expr, $contact:expr) => {{
        let contact: desk_core::ContactId = $contact;
        let latest: Option<(uuid::Uuid,)> = sqlx::query_as(
            "SELECT id FROM conversations WHERE contact_id = $1 ORDER BY opened_ms DESC, id DESC LIMIT 1",
        )
        .bind(contact.0)
        .fetch_optional($exec)
        .await?;
        latest.map(|(id,)| desk_core::ConversationId(id))
    }};
}

/// Starts a conversation for a contact that has no live one (see [`opening`]). `$tx` is a
/// `&mut Transaction`. Evaluates to the new [`desk_core::ConversationId`].
macro_rules! start_conversation {
    ($tx:expr, $scope:expr, $rules:expr, $contact:expr, $now:expr) => {{
        let contact: desk_core::ContactId = $contact;
        let scope: $crate::ChannelScope = $scope;
        let previous = latest_conversation!(&mut **$tx, contact);
        let (started, opened) = $crate::tx::opening(scope, $rules, contact, previous, $now);
        insert_conversations!(
            &mut **$tx,
            [(scope.brand_id.0, scope.channel_id.0, &started.conversation)]
        );
        append_events!(&mut **$tx, std::slice::from_ref(&opened), $now);
        record_transition!($tx, scope.brand_id.0, scope.channel_id.0, &started, $now);
        started.conversation.id
    }};
}

/// The user blocked the account: their live conversation (if any) closes with `blocked`.
/// `$tx` is a `&mut Transaction`.
macro_rules! user_blocked {
    ($tx:expr, $capacity_sql:expr, $contact:expr, $now:expr) => {{
        let contact: desk_core::ContactId = $contact;
        let live: Option<(uuid::Uuid,)> = sqlx::query_as(
            "SELECT id FROM conversations WHERE contact_id = $1 AND state <> 'closed'",
        )
        .bind(contact.0)
        .fetch_optional(&mut **$tx)
        .await?;
        if let Some((id,)) = live {
            // Blocking needs no settings: it closes at once and sends nothing.
            let command = Some(desk_core::lifecycle::Command::Blocked);
            let rules = $crate::ChatRules::default();
            transition_in_tx!(
                &mut *$tx,
                $capacity_sql,
                desk_core::ConversationId(id),
                command,
                &rules,
                $now
            )?
            .ok_or_else(|| $crate::StoreError::Conflict($crate::lifecycle::CHAT_CHANGED.into()))?;
        }
    }};
}

/// The start of every read of the events table: the row plus the department its chat is in
/// now, so a stream limited to some departments needs no look-up per event. Append a
/// `WHERE` on `e.` columns with `concat!`.
macro_rules! events_select {
    () => {
        "SELECT e.id, e.brand_id, e.conversation_id, e.kind, e.payload, e.created_ms, c.department_id
         FROM events e LEFT JOIN conversations c ON c.id = e.conversation_id"
    };
}

/// Appends to the brand's realtime log.
macro_rules! append_event {
    ($exec:expr, $brand:expr, $conversation:expr, $kind:expr, $payload:expr, $now:expr) => {{
        let event = $crate::tx::NewEvent {
            brand: $brand,
            conversation: $conversation,
            kind: $kind,
            payload: $payload,
        };
        append_events!($exec, std::slice::from_ref(&event), $now);
    }};
}

/// A row for the realtime log, to append with others (see [`append_events!`]).
#[derive(Debug, Clone)]
pub(crate) struct NewEvent {
    pub brand: desk_core::BrandId,
    pub conversation: Option<desk_core::ConversationId>,
    pub kind: &'static str,
    pub payload: serde_json::Value,
}

/// Appends events to the realtime log in order, a thousand rows per statement.
macro_rules! append_events {
    ($exec:expr, $events:expr, $now:expr) => {{
        let events: &[$crate::tx::NewEvent] = $events;
        for chunk in events.chunks(1_000) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO events (brand_id, conversation_id, kind, payload, created_ms) ",
            );
            q.push_values(chunk, |mut row, e| {
                row.push_bind(e.brand.0)
                    .push_bind(e.conversation.map(|c| c.0))
                    .push_bind(e.kind)
                    .push_bind(sqlx::types::Json(&e.payload))
                    .push_bind($now);
            });
            // One row is the common statement (every event written on its own): worth
            // preparing once.
            q.build()
                .persistent(chunk.len() == 1)
                .execute($exec)
                .await?;
        }
    }};
}

/// Inserts an outgoing message (status `pending`) and its send job; evaluates to the
/// message id. `$tx` is a `&mut Transaction`. `$line_message` is the LINE message object to send.
macro_rules! queue_send {
    ($tx:expr, $brand:expr, $channel:expr, $conversation:expr, $sender:expr, $to:expr, $kind:expr, $line_message:expr, $now:expr) => {{
        let id = desk_core::MessageId::new();
        let conversation: desk_core::ConversationId = $conversation;
        let line_message: serde_json::Value = $line_message;
        let kind: desk_core::MessageKind = $kind;
        let sender: Option<uuid::Uuid> = $sender;
        sqlx::query(
            "INSERT INTO messages (id, conversation_id, channel_id, direction, kind, body, sender_operator_id,
             status, event_ms, created_ms) VALUES ($1, $2, $3, 'out', $4, $5, $6, 'pending', $7, $7)",
        )
        .bind(id.0)
        .bind(conversation.0)
        .bind($channel)
        .bind(kind.as_str())
        .bind(sqlx::types::Json(&line_message))
        .bind(sender)
        .bind($now)
        .execute(&mut **$tx)
        .await?;
        sqlx::query(
            "INSERT INTO outbox (id, message_id, conversation_id, channel_id, to_line_id, payload, status,
             next_attempt_ms, created_ms) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7)",
        )
        .bind(desk_core::OutboxId::new().0)
        .bind(id.0)
        .bind(conversation.0)
        .bind($channel)
        .bind($to)
        .bind(sqlx::types::Json(serde_json::json!([line_message])))
        .bind($now)
        .execute(&mut **$tx)
        .await?;
        append_event!(&mut **$tx, $brand, Some(conversation), "message.created",
            serde_json::json!({"message_id": id, "conversation_id": conversation}), $now);
        id
    }};
}
