//! Server-side state of "connect a LINE channel" wizards: one row per wizard, so a reload (or
//! another browser tab) resumes at the step it reached. The secret and the token issued
//! during the wizard are kept sealed, like a channel's.

use desk_core::{BrandId, ChannelId, Millis, OperatorId, Sealed, WizardId};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use crate::audit::{SettingsChange, audit_in_tx};
use crate::channel_admin::audited;
use crate::directory::{already_connected, insert_channel};
use crate::{
    Channel, NewChannel, Result, Store, StoreError, execute, execute_in, fetch_optional, on_read,
    on_write,
};

/// A wizard as stored. `step` and `state` belong to the server's wizard logic; the store
/// only keeps them.
#[derive(Debug, Clone, PartialEq)]
pub struct WizardRow {
    pub id: WizardId,
    pub brand_id: BrandId,
    pub operator_id: Option<OperatorId>,
    /// The key of the webhook URL the channel will have.
    pub channel_key: String,
    pub step: String,
    pub state: Value,
    pub secret: Option<Sealed>,
    pub token: Option<Sealed>,
    pub channel_id: Option<ChannelId>,
    pub created_ms: Millis,
    pub updated_ms: Millis,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    brand_id: Uuid,
    operator_id: Option<Uuid>,
    channel_key: String,
    step: String,
    state: Json<Value>,
    secret_sealed: Option<Vec<u8>>,
    token_sealed: Option<Vec<u8>>,
    channel_id: Option<Uuid>,
    created_ms: Millis,
    updated_ms: Millis,
}

impl From<Row> for WizardRow {
    fn from(r: Row) -> Self {
        WizardRow {
            id: WizardId(r.id),
            brand_id: BrandId(r.brand_id),
            operator_id: r.operator_id.map(OperatorId),
            channel_key: r.channel_key,
            step: r.step,
            state: r.state.0,
            secret: r.secret_sealed.map(Sealed::from_bytes),
            token: r.token_sealed.map(Sealed::from_bytes),
            channel_id: r.channel_id.map(ChannelId),
            created_ms: r.created_ms,
            updated_ms: r.updated_ms,
        }
    }
}

/// The token issued during a wizard, handed to the channel it creates.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: Sealed,
    pub expires_ms: Millis,
}

impl Store {
    /// Starts a wizard for a brand at its first step.
    pub async fn create_wizard(
        &self,
        brand: BrandId,
        operator: Option<OperatorId>,
        channel_key: &str,
        step: &str,
        now: Millis,
    ) -> Result<WizardRow> {
        let id = WizardId::new();
        execute!(
            self,
            "INSERT INTO channel_wizards (id, brand_id, operator_id, channel_key, step, state, created_ms, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            id.0,
            brand.0,
            operator.map(|o| o.0),
            channel_key,
            step,
            Json(Value::Object(Default::default())),
            now,
        )?;
        self.wizard(id).await
    }

    /// One wizard.
    pub async fn wizard(&self, id: WizardId) -> Result<WizardRow> {
        // Read from the writer on SQLite: a wizard step reads back what the last one wrote.
        on_write!(self.backend(), |pool| {
            sqlx::query_as::<_, Row>(
                "SELECT id, brand_id, operator_id, channel_key, step, state, secret_sealed, token_sealed, channel_id,
                 created_ms, updated_ms FROM channel_wizards WHERE id = $1",
            )
            .bind(id.0)
            .fetch_optional(pool)
            .await
        })?
        .map(WizardRow::from)
        .ok_or(StoreError::NotFound("wizard"))
    }

    /// Saves a wizard's step, state and sealed credentials.
    pub async fn save_wizard(&self, wizard: &WizardRow, now: Millis) -> Result<()> {
        let updated = execute!(
            self,
            "UPDATE channel_wizards SET step = $1, state = $2, secret_sealed = $3, token_sealed = $4,
                 updated_ms = $5 WHERE id = $6 AND channel_id IS NULL",
            &wizard.step,
            Json(&wizard.state),
            wizard.secret.as_ref().map(Sealed::as_bytes),
            wizard.token.as_ref().map(Sealed::as_bytes),
            now,
            wizard.id.0,
        )?;
        if updated == 0 {
            return Err(StoreError::Conflict(
                "this wizard has already connected its channel".into(),
            ));
        }
        Ok(())
    }

    /// Connects the wizard's channel, hands it the token issued during the wizard, marks the
    /// wizard done (forgetting its sealed credentials) and records the change, in one
    /// transaction. A LINE channel already connected is a [`StoreError::Conflict`].
    pub async fn finish_wizard(
        &self,
        wizard: &WizardRow,
        step: &str,
        new: NewChannel,
        token: Option<IssuedToken>,
        entry: &SettingsChange,
        now: Millis,
    ) -> Result<Channel> {
        let id = ChannelId::new();
        let created: std::result::Result<u64, StoreError> = async {
            Ok(audited!(self, entry, now, |tx| {
                insert_channel!(&mut *tx, id, &new, token.as_ref(), now)?;
                execute_in!(
                    &mut *tx,
                    "UPDATE channel_wizards SET step = $1, channel_id = $2, secret_sealed = NULL,
                     token_sealed = NULL, updated_ms = $3 WHERE id = $4 AND channel_id IS NULL",
                    step,
                    id.0,
                    now,
                    wizard.id.0,
                )?
            }))
        }
        .await;
        let done = created.map_err(|e| already_connected(e, &new.line_channel_id))?;
        if done == 0 {
            return Err(StoreError::Conflict(
                "this wizard has already connected its channel".into(),
            ));
        }
        self.channel(id).await
    }

    /// The sealed secret of the wizard in progress whose future webhook URL has this key.
    pub async fn wizard_secret_by_key(&self, key: &str) -> Result<Option<Sealed>> {
        let row: Option<(Vec<u8>,)> = fetch_optional!(
            self,
            "SELECT secret_sealed FROM channel_wizards
                 WHERE channel_key = $1 AND channel_id IS NULL AND secret_sealed IS NOT NULL",
            key
        )?;
        Ok(row.map(|(bytes,)| Sealed::from_bytes(bytes)))
    }

    /// Deletes wizards left unfinished since before `before`, with their sealed credentials.
    pub async fn purge_stale_wizards(&self, before: Millis) -> Result<u64> {
        Ok(execute!(
            self,
            "DELETE FROM channel_wizards WHERE channel_id IS NULL AND updated_ms < $1",
            before
        )?)
    }
}
