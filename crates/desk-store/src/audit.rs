//! The audit log: who changed which setting, when. Every settings change records one entry,
//! in the same transaction as the change where the store makes it (`audit_in_tx!`), or with
//! [`Store::record_audit`] from the server.

use desk_core::{BrandId, Millis, OperatorId};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use crate::{Result, Store, on_read, on_write};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A console user or API token holder.
    Operator { id: OperatorId, name: String },
    /// The command line (`linedesk channel add`, …).
    Cli,
    /// linedesk itself (e.g. sealing secrets left in clear by an older version).
    System,
}

impl Actor {
    pub(crate) fn id(&self) -> Option<Uuid> {
        match self {
            Actor::Operator { id, .. } => Some(id.0),
            Actor::Cli | Actor::System => None,
        }
    }

    /// The name shown in the log.
    pub fn label(&self) -> &str {
        match self {
            Actor::Operator { name, .. } => name,
            Actor::Cli => "command line",
            Actor::System => "linedesk",
        }
    }
}

/// One change to record. `action` is a dotted verb such as `channel.secret_replaced`;
/// `target` names what changed (`channel:<id>`); `detail` says how (never a secret).
#[derive(Debug, Clone)]
pub struct SettingsChange {
    pub brand_id: Option<BrandId>,
    pub actor: Actor,
    pub action: &'static str,
    pub target: String,
    pub detail: Value,
}

/// An entry as listed to admins.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: i64,
    pub brand_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: Json<Value>,
    pub created_ms: Millis,
}

/// Inserts an [`SettingsChange`] with `$exec` (a pool or a transaction); evaluates to a
/// `Result<_, sqlx::Error>`.
macro_rules! audit_in_tx {
    ($exec:expr, $entry:expr, $now:expr) => {{
        let entry: &$crate::audit::SettingsChange = $entry;
        sqlx::query(
            "INSERT INTO audit_log (brand_id, actor_id, actor, action, target, detail, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(entry.brand_id.map(|b| b.0))
        .bind(entry.actor.id())
        .bind(entry.actor.label())
        .bind(entry.action)
        .bind(&entry.target)
        .bind(sqlx::types::Json(&entry.detail))
        .bind($now)
        .execute($exec)
        .await
    }};
}
pub(crate) use audit_in_tx;

impl Store {
    /// Records one settings change.
    pub async fn record_audit(&self, entry: &SettingsChange, now: Millis) -> Result<()> {
        on_write!(self.backend(), |pool| audit_in_tx!(pool, entry, now)
            .map(|_| ()))?;
        Ok(())
    }

    /// The newest entries first, of one brand (`None`: all brands and global changes), older
    /// than `before` (an entry id) when paging.
    pub async fn list_audit(
        &self,
        brand: Option<BrandId>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>> {
        Ok(on_read!(self.backend(), |pool| {
            sqlx::query_as(
                "SELECT id, brand_id, actor_id, actor, action, target, detail, created_ms FROM audit_log
                 WHERE ($1 IS NULL OR brand_id = $1) AND ($2 IS NULL OR id < $2)
                 ORDER BY id DESC LIMIT $3",
            )
            .bind(brand.map(|b| b.0))
            .bind(before)
            .bind(limit.clamp(1, 500))
            .fetch_all(pool)
            .await
        })?)
    }
}
