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

/// The contact's live conversation, opened (state `waiting`, linked to the contact's previous
/// chat) when there is none. Evaluates to `(ConversationId, opened)`.
macro_rules! live_conversation {
    ($exec:expr, $scope:expr, $contact:expr, $event_ms:expr, $now:expr) => {{
        let contact: desk_core::ContactId = $contact;
        let live: Option<(uuid::Uuid,)> =
            sqlx::query_as("SELECT id FROM conversations WHERE contact_id = $1 AND state <> 'closed'")
                .bind(contact.0)
                .fetch_optional(&mut *$exec)
                .await?;
        match live {
            Some((id,)) => (desk_core::ConversationId(id), false),
            None => {
                let previous: Option<(uuid::Uuid,)> = sqlx::query_as(
                    "SELECT id FROM conversations WHERE contact_id = $1 ORDER BY opened_ms DESC, id DESC LIMIT 1",
                )
                .bind(contact.0)
                .fetch_optional(&mut *$exec)
                .await?;
                let id = desk_core::ConversationId::new();
                sqlx::query(
                    "INSERT INTO conversations (id, brand_id, channel_id, contact_id, department_id, previous_id, state,
                     opened_ms, last_message_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(id.0)
                .bind($scope.brand_id.0)
                .bind($scope.channel_id.0)
                .bind(contact.0)
                .bind($scope.department_id.0)
                .bind(previous.map(|(p,)| p))
                .bind(desk_core::ConversationState::Waiting.as_str())
                .bind($now)
                .bind($event_ms)
                .execute(&mut *$exec)
                .await?;
                append_event!(&mut *$exec, $scope.brand_id, Some(id), "conversation.opened",
                    serde_json::json!({"conversation_id": id, "contact_id": contact}), $now);
                (id, true)
            }
        }
    }};
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
