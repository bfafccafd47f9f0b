//! Statements used inside several transactions. They are macros, not functions, because a
//! SQLite and a Postgres transaction are different types: each use expands once per backend.

/// Inserts or refreshes a contact; evaluates to its [`desk_core::ContactId`].
/// A given profile replaces the stored one; a given friend status replaces the stored one.
macro_rules! upsert_contact {
    ($exec:expr, $scope:expr, $contact:expr, $status:expr, $now:expr) => {{
        let contact: $crate::ContactRef = $contact;
        let status: Option<desk_core::FriendStatus> = $status;
        let has_profile = contact.profile.is_some();
        let profile = contact.profile.unwrap_or_default();
        let (id,): (uuid::Uuid,) = sqlx::query_as(
            "INSERT INTO contacts (id, channel_id, kind, line_id, display_name, picture_url, status_message, language,
             friend_status, profile_ms, created_ms, updated_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, COALESCE($9, 'unknown'), CASE WHEN $10 THEN $11 ELSE NULL END, $11, $11)
             ON CONFLICT (channel_id, line_id) DO UPDATE SET
               display_name = CASE WHEN $10 THEN excluded.display_name ELSE contacts.display_name END,
               picture_url = CASE WHEN $10 THEN excluded.picture_url ELSE contacts.picture_url END,
               status_message = CASE WHEN $10 THEN excluded.status_message ELSE contacts.status_message END,
               language = CASE WHEN $10 THEN excluded.language ELSE contacts.language END,
               profile_ms = CASE WHEN $10 THEN excluded.profile_ms ELSE contacts.profile_ms END,
               friend_status = COALESCE($9, contacts.friend_status),
               updated_ms = excluded.updated_ms
             RETURNING id",
        )
        .bind(desk_core::ContactId::new().0)
        .bind($scope.channel_id.0)
        .bind(contact.kind.as_str())
        .bind(&contact.line_id)
        .bind(&profile.display_name)
        .bind(&profile.picture_url)
        .bind(&profile.status_message)
        .bind(&profile.language)
        .bind(status.map(desk_core::FriendStatus::as_str))
        .bind(has_profile)
        .bind($now)
        .fetch_one($exec)
        .await?;
        desk_core::ContactId(id)
    }};
}

/// A user wrote: the contact's live conversation takes the message through the lifecycle
/// (resetting its idle timer), or, when there is none, a new one starts (linked to the
/// contact's previous chat). `$tx` is a `&mut Transaction`. Evaluates to
/// `(ConversationId, opened)`.
///
/// Deadlines count from `$now`, when the desk applies the message, not from LINE's event
/// timestamp: every deadline then lives on one clock (the timer worker's), whatever the skew
/// between LINE and this server. LINE's timestamp still orders the messages.
macro_rules! user_wrote {
    ($tx:expr, $capacity_sql:expr, $scope:expr, $rules:expr, $contact:expr, $now:expr) => {{
        let contact: desk_core::ContactId = $contact;
        let rules: &$crate::ChatRules = $rules;
        let live: Option<(uuid::Uuid,)> = sqlx::query_as(
            "SELECT id FROM conversations WHERE contact_id = $1 AND state <> 'closed'",
        )
        .bind(contact.0)
        .fetch_optional(&mut **$tx)
        .await?;
        match live {
            Some((id,)) => {
                let id = desk_core::ConversationId(id);
                let command = Some(desk_core::lifecycle::Command::UserMessage);
                transition_in_tx!(&mut *$tx, $capacity_sql, id, command, rules, $now)?.ok_or_else(
                    || $crate::StoreError::Conflict($crate::lifecycle::CHAT_CHANGED.into()),
                )?;
                (id, false)
            }
            None => (start_conversation!($tx, $scope, rules, contact, $now), true),
        }
    }};
}

/// Starts a conversation for a contact that has no live one (linked to its previous chat):
/// with the chatbot when it is on, otherwise in the department's line. `$tx` is a
/// `&mut Transaction`. Evaluates to the new [`desk_core::ConversationId`].
macro_rules! start_conversation {
    ($tx:expr, $scope:expr, $rules:expr, $contact:expr, $now:expr) => {{
        let contact: desk_core::ContactId = $contact;
        let rules: &$crate::ChatRules = $rules;
        let previous: Option<(uuid::Uuid,)> = sqlx::query_as(
            "SELECT id FROM conversations WHERE contact_id = $1 ORDER BY opened_ms DESC, id DESC LIMIT 1",
        )
        .bind(contact.0)
        .fetch_optional(&mut **$tx)
        .await?;
        let id = desk_core::ConversationId::new();
        let started = desk_core::lifecycle::Conversation::start(
            desk_core::lifecycle::NewConversation {
                id,
                contact,
                department: $scope.department_id,
                previous: previous.map(|(p,)| desk_core::ConversationId(p)),
            },
            &rules.settings,
            $now,
        );
        insert_conversation!(&mut **$tx, $scope.brand_id.0, $scope.channel_id.0, &started.conversation);
        append_event!(&mut **$tx, $scope.brand_id, Some(id), "conversation.opened",
            serde_json::json!({"conversation_id": id, "contact_id": contact}), $now);
        record_transition!($tx, $scope.brand_id.0, $scope.channel_id.0, &started, $now);
        id
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
        let conversation: Option<desk_core::ConversationId> = $conversation;
        sqlx::query("INSERT INTO events (brand_id, conversation_id, kind, payload, created_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind($brand.0)
            .bind(conversation.map(|c| c.0))
            .bind($kind)
            .bind(sqlx::types::Json($payload))
            .bind($now)
            .execute($exec)
            .await?;
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
