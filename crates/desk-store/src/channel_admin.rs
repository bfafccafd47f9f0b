//! Changes to brands and connected channels made from the settings pages: each one commits
//! together with its audit entry, so the log never misses a change nor records one that failed.

use desk_core::{BrandId, ChannelId, DepartmentId, Millis, Sealed};

use crate::audit::{SettingsChange, audit_in_tx};
use crate::{
    Brand, Result, Store, StoreError, execute, execute_in, fetch_optional, on_read, on_write,
};

/// Runs `$body` (statements on `&mut *$tx`) and the audit insert in one write transaction;
/// evaluates to the body's value.
macro_rules! audited {
    ($store:expr, $entry:expr, $now:expr, |$tx:ident| $body:expr) => {
        on_write!($store.backend(), |pool| {
            let mut $tx = pool.begin().await?;
            let out = $body;
            audit_in_tx!(&mut *$tx, $entry, $now)?;
            $tx.commit().await?;
            out
        })
    };
}
pub(crate) use audited;

/// What LINE says about an account (`GET /v2/bot/info`).
#[derive(Debug, Clone, PartialEq)]
pub struct AccountProfile {
    pub bot_user_id: String,
    pub basic_id: String,
    pub display_name: String,
    pub picture_url: Option<String>,
}

/// A channel whose secrets an older version left in clear columns.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClearSecrets {
    #[sqlx(try_from = "uuid::Uuid")]
    pub id: ChannelId,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub access_token: Option<String>,
}

impl Store {
    /// One brand.
    pub async fn brand(&self, id: BrandId) -> Result<Brand> {
        fetch_optional!(
            self,
            "SELECT id, name, created_ms FROM brands WHERE id = $1",
            id.0
        )?
        .ok_or(StoreError::NotFound("brand"))
    }

    /// Renames a brand.
    pub async fn rename_brand(
        &self,
        id: BrandId,
        name: &str,
        entry: &SettingsChange,
        now: Millis,
    ) -> Result<Brand> {
        let updated = audited!(self, entry, now, |tx| execute_in!(
            &mut *tx,
            "UPDATE brands SET name = $1 WHERE id = $2",
            name,
            id.0
        )?);
        if updated == 0 {
            return Err(StoreError::NotFound("brand"));
        }
        self.brand(id).await
    }

    /// The live channel connected to this LINE channel, if any.
    pub async fn channel_by_line_id(&self, line_channel_id: &str) -> Result<Option<ChannelId>> {
        let row: Option<(uuid::Uuid,)> = fetch_optional!(
            self,
            "SELECT id FROM line_channels WHERE line_channel_id = $1 AND removed_ms IS NULL",
            line_channel_id
        )?;
        Ok(row.map(|(id,)| ChannelId(id)))
    }

    /// Replaces the channel secret. The old one stays valid for webhook signatures until
    /// `grace_until`, so events LINE signed before the switch are not refused.
    pub async fn rotate_channel_secret(
        &self,
        channel: ChannelId,
        secret: &Sealed,
        grace_until: Millis,
        entry: &SettingsChange,
        now: Millis,
    ) -> Result<()> {
        let updated = audited!(self, entry, now, |tx| {
            execute_in!(
                &mut *tx,
                "UPDATE line_channels SET previous_secret_sealed = secret_sealed, previous_secret_until_ms = $1,
             secret_sealed = $2, secret_rotated_ms = $3 WHERE id = $4 AND removed_ms IS NULL",
                grace_until,
                secret.as_bytes(),
                now,
                channel.0,
            )?
        });
        if updated == 0 {
            return Err(StoreError::NotFound("channel"));
        }
        Ok(())
    }

    /// Routes the channel's new chats to another department of its brand.
    pub async fn set_channel_department(
        &self,
        channel: ChannelId,
        department: DepartmentId,
        entry: &SettingsChange,
        now: Millis,
    ) -> Result<()> {
        let updated = audited!(self, entry, now, |tx| execute_in!(
            &mut *tx,
            "UPDATE line_channels SET department_id = $1
             WHERE id = $2 AND removed_ms IS NULL
               AND brand_id = (SELECT brand_id FROM departments WHERE id = $1)",
            department.0,
            channel.0
        )?);
        if updated == 0 {
            return Err(StoreError::Invalid {
                field: "department_id",
                message: "not a department of this channel's brand".into(),
            });
        }
        Ok(())
    }

    /// Stores the account's name, picture and IDs as LINE reported them.
    pub async fn set_channel_profile(
        &self,
        channel: ChannelId,
        profile: &AccountProfile,
    ) -> Result<()> {
        execute!(
            self,
            "UPDATE line_channels SET bot_user_id = $1, basic_id = $2, display_name = $3, picture_url = $4
                 WHERE id = $5",
            &profile.bot_user_id,
            &profile.basic_id,
            &profile.display_name,
            &profile.picture_url,
            channel.0,
        )?;
        Ok(())
    }

    /// Disconnects a channel: its webhook URL stops answering, its chats and messages stay.
    pub async fn remove_channel(
        &self,
        channel: ChannelId,
        entry: &SettingsChange,
        now: Millis,
    ) -> Result<()> {
        let updated = audited!(self, entry, now, |tx| execute_in!(
            &mut *tx,
            "UPDATE line_channels SET removed_ms = $1, access_token_sealed = NULL,
             previous_secret_sealed = NULL WHERE id = $2 AND removed_ms IS NULL",
            now,
            channel.0
        )?);
        if updated == 0 {
            return Err(StoreError::NotFound("channel"));
        }
        Ok(())
    }

    /// Channels (removed ones too) with a secret or token still in a clear column.
    pub async fn channels_with_clear_secrets(&self) -> Result<Vec<ClearSecrets>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(
                "SELECT id, secret, previous_secret, access_token FROM line_channels
                 WHERE secret <> '' OR previous_secret IS NOT NULL OR access_token IS NOT NULL",
            )
            .fetch_all(pool)
            .await
        })?)
    }

    /// Replaces a channel's clear secrets by their sealed forms.
    pub async fn seal_clear_secrets(
        &self,
        channel: ChannelId,
        secret: Option<&Sealed>,
        previous: Option<&Sealed>,
        token: Option<&Sealed>,
    ) -> Result<()> {
        execute!(
            self,
            "UPDATE line_channels SET
                   secret_sealed = COALESCE($1, secret_sealed), secret = '',
                   previous_secret_sealed = COALESCE($2, previous_secret_sealed), previous_secret = NULL,
                   access_token_sealed = COALESCE($3, access_token_sealed), access_token = NULL
                 WHERE id = $4",
            secret.map(Sealed::as_bytes),
            previous.map(Sealed::as_bytes),
            token.map(Sealed::as_bytes),
            channel.0,
        )?;
        Ok(())
    }
}
