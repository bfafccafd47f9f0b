//! Console sessions: one row per logged-in browser, found by the SHA-256 of its cookie token.
//! A session ends when it has been idle too long, at its absolute expiry, at logout, or when
//! its operator is deactivated.

use desk_core::{Millis, OperatorId};

use crate::{Operator, Result, Store, execute, fetch_optional, on_read, on_write};

/// A session to store.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// SHA-256 of the cookie token.
    pub token_hash: &'a [u8],
    pub operator: OperatorId,
    pub csrf_token: &'a str,
    pub user_agent: Option<&'a str>,
    /// Absolute end, whatever the activity.
    pub expires_ms: Millis,
}

/// A live session with its operator and their console preferences.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SessionRecord {
    #[sqlx(flatten)]
    pub operator: Operator,
    pub csrf_token: String,
    /// `en`, `ja`, or `None` to follow the browser.
    pub locale: Option<String>,
    /// IANA name, or `None` to follow the browser.
    pub time_zone: Option<String>,
    pub last_seen_ms: Millis,
    pub expires_ms: Millis,
}

impl Store {
    /// Stores a new session.
    pub async fn create_session(&self, new: NewSession<'_>, now: Millis) -> Result<()> {
        execute!(
            self,
            "INSERT INTO sessions (token_hash, operator_id, csrf_token, user_agent, created_ms, last_seen_ms, expires_ms)
                 VALUES ($1, $2, $3, $4, $5, $5, $6)",
            new.token_hash,
            new.operator.0,
            new.csrf_token,
            new.user_agent,
            now,
            new.expires_ms,
        )?;
        Ok(())
    }

    /// The session with this token hash if it is live at `now`: before its absolute expiry,
    /// seen within `idle_ms`, and its operator active.
    pub async fn session(
        &self,
        token_hash: &[u8],
        now: Millis,
        idle_ms: Millis,
    ) -> Result<Option<SessionRecord>> {
        Ok(fetch_optional!(
            self,
            "SELECT o.id, o.brand_id, o.email, o.display_name, o.role, o.capacity, o.created_ms,
                        o.locale, o.time_zone, s.csrf_token, s.last_seen_ms, s.expires_ms
                 FROM sessions s JOIN operators o ON o.id = s.operator_id
                 WHERE s.token_hash = $1 AND s.expires_ms > $2 AND s.last_seen_ms > $3
                   AND o.deactivated_ms IS NULL",
            token_hash,
            now,
            now - idle_ms
        )?)
    }

    /// Records activity on a session (its idle timeout counts from here).
    pub async fn touch_session(&self, token_hash: &[u8], now: Millis) -> Result<()> {
        execute!(
            self,
            "UPDATE sessions SET last_seen_ms = $1 WHERE token_hash = $2",
            now,
            token_hash
        )?;
        Ok(())
    }

    /// Ends one session (logout).
    pub async fn delete_session(&self, token_hash: &[u8]) -> Result<()> {
        execute!(
            self,
            "DELETE FROM sessions WHERE token_hash = $1",
            token_hash
        )?;
        Ok(())
    }

    /// Ends every session of an operator except `keep` (the one changing the password);
    /// returns how many ended.
    pub async fn delete_sessions_of(
        &self,
        operator: OperatorId,
        keep: Option<&[u8]>,
    ) -> Result<u64> {
        Ok(execute!(
            self,
            "DELETE FROM sessions WHERE operator_id = $1 AND ($2 IS NULL OR token_hash <> $2)",
            operator.0,
            keep
        )?)
    }

    /// Deletes sessions that can no longer be used at `now`.
    pub async fn purge_sessions(&self, now: Millis, idle_ms: Millis) -> Result<u64> {
        Ok(execute!(
            self,
            "DELETE FROM sessions WHERE expires_ms <= $1 OR last_seen_ms <= $2",
            now,
            now - idle_ms
        )?)
    }
}
