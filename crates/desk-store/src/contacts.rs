//! Contacts: LINE users, groups and rooms as the desk knows them, and their LINE profiles.
//!
//! An inbound event stores its contact at once (see `chat`); the profile comes later, from a
//! fetch off the message path, so a slow or failing LINE API never holds up a chat.

use std::collections::HashMap;

use desk_core::{BrandId, ChannelId, ContactId, Millis};
use serde_json::json;
use uuid::Uuid;

use crate::{Contact, Profile, Result, Store, on_read, on_write};

/// A profile LINE gave for a contact of a channel (see [`Store::set_contact_profiles`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileUpdate {
    pub brand_id: BrandId,
    pub channel_id: ChannelId,
    pub line_id: String,
    pub profile: Profile,
}

/// A group or room member's name LINE gave (see [`Store::set_member_names`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberName {
    pub brand_id: BrandId,
    pub channel_id: ChannelId,
    /// The group or room.
    pub chat_line_id: String,
    /// The member.
    pub user_line_id: String,
    pub name: String,
}

/// The profile columns of a stored contact, to tell a change.
type StoredProfile = (
    Uuid,
    Uuid,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Store {
    /// A contact by its LINE id on a channel.
    pub async fn contact_by_line_id(
        &self,
        channel: ChannelId,
        line_id: &str,
    ) -> Result<Option<Contact>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(
                "SELECT id, channel_id, kind, line_id, display_name, picture_url, status_message, language,
                 friend_status, profile_ms, created_ms, updated_ms FROM contacts WHERE channel_id = $1 AND line_id = $2",
            )
            .bind(channel.0)
            .bind(line_id)
            .fetch_optional(pool)
            .await
        })?)
    }

    /// When each contact's profile was last fetched, by `(channel, LINE id)`; contacts not
    /// stored are absent, contacts without a profile map to `None`.
    pub async fn contact_profile_times(
        &self,
        keys: &[(ChannelId, String)],
    ) -> Result<HashMap<(ChannelId, String), Option<Millis>>> {
        if keys.is_empty() {
            return Ok(Default::default());
        }
        let rows: Vec<(Uuid, String, Option<Millis>)> = on_read!(self.backend(), |pool| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT channel_id, line_id, profile_ms FROM contacts WHERE ",
            );
            crate::push_key_pairs(
                &mut q,
                ("channel_id", "line_id"),
                keys.iter()
                    .map(|(channel, line_id)| (channel.0, line_id.as_str())),
            );
            q.build_query_as().persistent(false).fetch_all(pool).await
        })?;
        Ok(rows
            .into_iter()
            .map(|(channel, line_id, at)| ((ChannelId(channel), line_id), at))
            .collect())
    }

    /// Stores fetched profiles on their contacts (fetched at `now`), in one transaction of a
    /// few statements whatever their number, and
    /// tells the consoles of each contact whose name, picture, status or language changed
    /// (`contact.updated`). A contact not stored is skipped. Returns the changed contacts.
    pub async fn set_contact_profiles(
        &self,
        updates: &[ProfileUpdate],
        now: Millis,
    ) -> Result<Vec<ContactId>> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let mut q = sqlx::QueryBuilder::new(
                "SELECT id, channel_id, line_id, display_name, picture_url, status_message, language
                 FROM contacts WHERE ",
            );
            crate::push_key_pairs(
                &mut q,
                ("channel_id", "line_id"),
                updates.iter().map(|u| (u.channel_id.0, u.line_id.as_str())),
            );
            let stored: Vec<StoredProfile> = q
                .build_query_as()
                .persistent(false)
                .fetch_all(&mut *tx)
                .await?;
            let stored: HashMap<(Uuid, &str), &StoredProfile> = stored
                .iter()
                .map(|row| ((row.1, row.2.as_str()), row))
                .collect();
            let found: Vec<(&StoredProfile, &ProfileUpdate)> = updates
                .iter()
                .filter_map(|u| Some((*stored.get(&(u.channel_id.0, u.line_id.as_str()))?, u)))
                .collect();
            if !found.is_empty() {
                let mut q = sqlx::QueryBuilder::new(
                    "WITH v (id, display_name, picture_url, status_message, language) AS (",
                );
                q.push_values(&found, |mut row, (stored, update)| {
                    let p = &update.profile;
                    row.push_bind(stored.0)
                        .push_bind(p.display_name.as_deref())
                        .push_bind(p.picture_url.as_deref())
                        .push_bind(p.status_message.as_deref())
                        .push_bind(p.language.as_deref());
                });
                q.push(") UPDATE contacts SET display_name = v.display_name, picture_url = v.picture_url,
                     status_message = v.status_message, language = v.language, profile_ms = ");
                q.push_bind(now);
                q.push(", updated_ms = ");
                q.push_bind(now);
                q.push(" FROM v WHERE contacts.id = v.id");
                q.build().persistent(false).execute(&mut *tx).await?;
            }
            let mut changed = Vec::new();
            let mut events = Vec::new();
            for (row, update) in found {
                let p = &update.profile;
                let before = (&row.3, &row.4, &row.5, &row.6);
                if before
                    != (
                        &p.display_name,
                        &p.picture_url,
                        &p.status_message,
                        &p.language,
                    )
                {
                    changed.push(ContactId(row.0));
                    events.push(crate::tx::NewEvent {
                        brand: update.brand_id,
                        conversation: None,
                        kind: "contact.updated",
                        payload: json!({
                            "contact_id": row.0,
                            "display_name": p.display_name,
                            "picture_url": p.picture_url,
                        }),
                    });
                }
            }
            append_events!(&mut *tx, &events, now);
            tx.commit().await?;
            Ok(changed)
        })
    }

    /// Names the member's messages in their group or room that were stored without a name,
    /// in one transaction, and tells the consoles of each chat changed (`message.updated`).
    pub async fn set_member_names(&self, names: &[MemberName], now: Millis) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        on_write!(self.backend(), |pool| {
            let mut tx = pool.begin().await?;
            let mut events = Vec::new();
            for member in names {
                let chats: Vec<(Uuid,)> = sqlx::query_as(
                    "UPDATE messages SET sender_name = $1
                     WHERE sender_name IS NULL AND direction = 'in' AND sender_line_id = $2
                     AND conversation_id IN (
                         SELECT c.id FROM conversations c JOIN contacts k ON k.id = c.contact_id
                         WHERE k.channel_id = $3 AND k.line_id = $4)
                     RETURNING conversation_id",
                )
                .bind(&member.name)
                .bind(&member.user_line_id)
                .bind(member.channel_id.0)
                .bind(&member.chat_line_id)
                .fetch_all(&mut *tx)
                .await?;
                let mut chats: Vec<Uuid> = chats.into_iter().map(|(id,)| id).collect();
                chats.sort_unstable();
                chats.dedup();
                events.extend(chats.into_iter().map(|chat| crate::tx::NewEvent {
                    brand: member.brand_id,
                    conversation: Some(desk_core::ConversationId(chat)),
                    kind: "message.updated",
                    payload: json!({
                        "conversation_id": chat,
                        "sender_line_id": member.user_line_id,
                        "sender_name": member.name,
                    }),
                }));
            }
            append_events!(&mut *tx, &events, now);
            tx.commit().await?;
            Ok(())
        })
    }
}
