//! Accounts: Argon2id passwords, login with a rate limit, console sessions, the first-run
//! setup link and operator invites.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use desk_core::time::{DAY, MINUTE};
use desk_core::{AccountError, DisplayName, Email, Millis, NewPassword, OperatorId, Role};
use desk_store::{
    LinkPurpose, NewAccountLink, NewOperator, NewSession, Operator, Store, StoreError,
};

use crate::error::ApiError;
use crate::http::auth::{SESSION_IDLE_MS, SESSION_MAX_MS, new_secret, token_hash};
use crate::state::AppState;

/// Failed logins are counted over this window.
pub const LOGIN_WINDOW_MS: Millis = 15 * MINUTE;
/// Failed logins for one e-mail within the window before logins for it are refused.
pub const MAX_FAILURES_PER_EMAIL: i64 = 5;
/// Failed logins from one address within the window before it is refused. Higher than per
/// e-mail: an office shares one address.
pub const MAX_FAILURES_PER_IP: i64 = 20;
/// How long a setup or invite link works.
pub const LINK_TTL_MS: Millis = 7 * DAY;

/// Why a login failed. Deliberately does not say whether the e-mail or the password was wrong.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown e-mail, wrong password, deactivated account, or no password set yet.
    #[error("e-mail or password is wrong")]
    Invalid,
    /// Too many failures recently; try again after this many seconds.
    #[error("too many failed logins; try again in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// Why a setup or invite form was refused. [`FormError::code`] is what the form page gets back
/// in `?error=` and translates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// Unknown, used or expired link.
    #[error("this link is not valid any more")]
    InvalidLink,
    /// Setup after an account exists.
    #[error("linedesk is already set up")]
    AlreadySetUp,
    #[error("not an e-mail address")]
    EmailInvalid,
    #[error("an account with this e-mail exists")]
    EmailTaken,
    #[error("name is empty")]
    NameMissing,
    #[error("name is too long")]
    NameTooLong,
    #[error("password is too short")]
    PasswordTooShort,
    #[error("password is too long")]
    PasswordTooLong,
    #[error("the two passwords differ")]
    PasswordMismatch,
}

impl FormError {
    /// Every code, for the console's translations.
    pub const ALL: &'static [FormError] = &[
        FormError::InvalidLink,
        FormError::AlreadySetUp,
        FormError::EmailInvalid,
        FormError::EmailTaken,
        FormError::NameMissing,
        FormError::NameTooLong,
        FormError::PasswordTooShort,
        FormError::PasswordTooLong,
        FormError::PasswordMismatch,
    ];

    /// The code in `?error=`.
    pub fn code(self) -> &'static str {
        match self {
            FormError::InvalidLink => "invalid_link",
            FormError::AlreadySetUp => "already_set_up",
            FormError::EmailInvalid => "email_invalid",
            FormError::EmailTaken => "email_taken",
            FormError::NameMissing => "name_missing",
            FormError::NameTooLong => "name_too_long",
            FormError::PasswordTooShort => "password_too_short",
            FormError::PasswordTooLong => "password_too_long",
            FormError::PasswordMismatch => "password_mismatch",
        }
    }
}

impl From<AccountError> for FormError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::EmailInvalid(_) => FormError::EmailInvalid,
            AccountError::NameMissing => FormError::NameMissing,
            AccountError::NameTooLong => FormError::NameTooLong,
            AccountError::PasswordTooShort => FormError::PasswordTooShort,
            AccountError::PasswordTooLong => FormError::PasswordTooLong,
            // Not asked for by these forms.
            AccountError::TimeZoneUnknown(_) | AccountError::LocaleUnknown(_) => {
                FormError::InvalidLink
            }
        }
    }
}

/// A form failed: either the person can fix it (`Form`), or something broke on our side.
#[derive(Debug, thiserror::Error)]
pub enum FormFailure {
    #[error(transparent)]
    Form(#[from] FormError),
    #[error(transparent)]
    Internal(#[from] ApiError),
}

impl From<StoreError> for FormFailure {
    fn from(e: StoreError) -> Self {
        FormFailure::Internal(e.into())
    }
}

/// A new session: the cookie value (shown once, stored hashed) and its CSRF token.
#[derive(Debug, Clone)]
pub struct StartedSession {
    pub token: String,
    pub csrf_token: String,
}

/// Hashes a password with Argon2id (a fresh salt each time), off the async threads.
pub async fn hash_password(password: &NewPassword) -> Result<String, ApiError> {
    let password = password.expose().to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("password hashing task failed: {e}")))?
}

/// Whether `password` matches the stored hash; verified off the async threads. With no hash
/// (unknown e-mail, no password yet) a dummy hash is checked, so the answer takes as long
/// and timing does not tell which accounts exist.
pub async fn verify_password(password: &str, hash: Option<String>) -> Result<bool, ApiError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let real = hash.is_some();
        let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok();
        real && matches
    })
    .await
    .map_err(|e| ApiError::Internal(format!("password check task failed: {e}")))
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        Argon2::default()
            .hash_password(b"linedesk timing equalizer")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Checks an e-mail and password, with the rate limit, and starts a session.
#[tracing::instrument(skip_all, fields(ip = %ip))]
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    ip: &str,
    user_agent: Option<&str>,
) -> Result<StartedSession, LoginError> {
    // An unparseable e-mail is counted under its raw text, so it is limited all the same.
    let email =
        Email::parse(email).map_or_else(|_| email.trim().to_lowercase(), |e| e.as_str().to_owned());
    let now = state.clock.now_ms();
    let since = now - LOGIN_WINDOW_MS;
    let failures = state.store.login_failures(&email, ip, since).await?;
    let blocked_until = [
        (failures.by_email >= MAX_FAILURES_PER_EMAIL)
            .then_some(failures.oldest_by_email)
            .flatten(),
        (failures.by_ip >= MAX_FAILURES_PER_IP)
            .then_some(failures.oldest_by_ip)
            .flatten(),
    ]
    .into_iter()
    .flatten()
    .map(|oldest| oldest + LOGIN_WINDOW_MS)
    .max();
    if let Some(until) = blocked_until {
        tracing::warn!(email = %email, "login refused: too many failures");
        let secs = u64::try_from((until - now).max(1_000) / 1_000).unwrap_or(1);
        return Err(LoginError::RateLimited {
            retry_after_secs: secs,
        });
    }
    let credentials = state.store.login_credentials(&email).await?;
    let hash = credentials.as_ref().and_then(|c| c.password_hash.clone());
    let valid = verify_password(password, hash)
        .await
        .map_err(|e| LoginError::Hashing(e.to_string()))?;
    let operator = match credentials {
        Some(c) if valid => c.operator,
        _ => {
            state
                .store
                .record_login_failure(&email, ip, now, since)
                .await?;
            tracing::info!(email = %email, "login failed");
            return Err(LoginError::Invalid);
        }
    };
    tracing::info!(operator = %operator.id, "logged in");
    // Old sessions are swept here rather than by a worker: logins are rare, and an expired
    // session is refused by its lookup anyway.
    state.store.purge_sessions(now, SESSION_IDLE_MS).await?;
    Ok(start_session(state, operator.id, user_agent).await?)
}

/// Starts a console session for an operator.
pub async fn start_session(
    state: &AppState,
    operator: OperatorId,
    user_agent: Option<&str>,
) -> Result<StartedSession, StoreError> {
    let token = new_secret();
    let csrf_token = new_secret();
    let now = state.clock.now_ms();
    // Browsers send long user agents; keep enough to recognise the device.
    let user_agent = user_agent.map(|ua| ua.chars().take(300).collect::<String>());
    state
        .store
        .create_session(
            NewSession {
                token_hash: &token_hash(&token),
                operator,
                csrf_token: &csrf_token,
                user_agent: user_agent.as_deref(),
                expires_ms: now + SESSION_MAX_MS,
            },
            now,
        )
        .await?;
    Ok(StartedSession { token, csrf_token })
}

/// On a desk with no accounts, makes a one-time setup link and returns its URL (on `base`);
/// `None` once anyone has an account.
pub async fn setup_link(
    store: &Store,
    base: &str,
    now: Millis,
) -> Result<Option<String>, StoreError> {
    if store.operator_count().await? > 0 {
        return Ok(None);
    }
    let token = new_secret();
    store
        .create_account_link(
            NewAccountLink {
                token_hash: &token_hash(&token),
                purpose: LinkPurpose::Setup,
                created_by: None,
                expires_ms: now + LINK_TTL_MS,
            },
            now,
        )
        .await?;
    Ok(Some(format!(
        "{}/setup/{token}",
        base.trim_end_matches('/')
    )))
}

/// Whether a link token is live and for this purpose (for the console to show the form or
/// an "invalid link" page). For invites, the invited operator.
pub async fn link_target(
    state: &AppState,
    token: &str,
) -> Result<Option<desk_store::AccountLink>, StoreError> {
    state
        .store
        .account_link(&token_hash(token), state.clock.now_ms())
        .await
}

/// The setup form: creates the first admin with the link, and logs them in.
pub async fn complete_setup(
    state: &AppState,
    token: &str,
    form: SetupForm<'_>,
) -> Result<(Operator, StartedSession), FormFailure> {
    let email = Email::parse(form.email).map_err(FormError::from)?;
    let name = DisplayName::parse(form.name).map_err(FormError::from)?;
    let password = new_password(form.password, form.password_confirm)?;
    let hash = hash_password(&password).await?;
    let now = state.clock.now_ms();
    let admin = state
        .store
        .complete_setup(
            &token_hash(token),
            NewOperator {
                brand_id: None,
                email: email.as_str().to_owned(),
                display_name: name.as_str().to_owned(),
                role: Role::Admin,
                password_hash: Some(hash),
            },
            now,
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => FormFailure::Form(FormError::InvalidLink),
            StoreError::Conflict(_) => FormFailure::Form(FormError::AlreadySetUp),
            other => other.into(),
        })?;
    tracing::info!(operator = %admin.id, "first admin created with the setup link");
    let session = start_session(state, admin.id, form.user_agent).await?;
    Ok((admin, session))
}

/// What the setup form sends.
#[derive(Debug, Clone, Copy)]
pub struct SetupForm<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password: &'a str,
    pub password_confirm: &'a str,
    pub user_agent: Option<&'a str>,
}

/// The invite form: the invited operator sets their password and is logged in.
pub async fn accept_invite(
    state: &AppState,
    token: &str,
    password: &str,
    password_confirm: &str,
    user_agent: Option<&str>,
) -> Result<(Operator, StartedSession), FormFailure> {
    let password = new_password(password, password_confirm)?;
    let hash = hash_password(&password).await?;
    let operator = state
        .store
        .accept_invite(&token_hash(token), &hash, state.clock.now_ms())
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => FormFailure::Form(FormError::InvalidLink),
            other => other.into(),
        })?;
    tracing::info!(operator = %operator.id, "invite accepted");
    let session = start_session(state, operator.id, user_agent).await?;
    Ok((operator, session))
}

/// Makes an invite link for an operator (a new one voids the previous); returns the token.
pub async fn issue_invite(
    state: &AppState,
    operator: OperatorId,
    by: OperatorId,
) -> Result<(String, Millis), StoreError> {
    let token = new_secret();
    let now = state.clock.now_ms();
    let expires_ms = now + LINK_TTL_MS;
    state
        .store
        .create_account_link(
            NewAccountLink {
                token_hash: &token_hash(&token),
                purpose: LinkPurpose::Invite(operator),
                created_by: Some(by),
                expires_ms,
            },
            now,
        )
        .await?;
    Ok((token, expires_ms))
}

/// Sets an operator's password (the command line and the demo; the console uses invites).
pub async fn set_password(
    store: &Store,
    operator: OperatorId,
    password: &str,
) -> Result<(), ApiError> {
    let password = NewPassword::parse(password)
        .map_err(|e| ApiError::bad_request("password", e.to_string()))?;
    let hash = hash_password(&password).await?;
    Ok(store.set_password_hash(operator, &hash).await?)
}

/// Checks a chosen password and its confirmation.
pub fn new_password(password: &str, confirm: &str) -> Result<NewPassword, FormError> {
    let password = NewPassword::parse(password)?;
    if password.expose() != confirm {
        return Err(FormError::PasswordMismatch);
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ_per_salt() {
        let password = NewPassword::parse("correct horse battery").expect("valid");
        let a = hash_password(&password).await.expect("hash");
        let b = hash_password(&password).await.expect("hash");
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(
            verify_password("correct horse battery", Some(a.clone()))
                .await
                .expect("ok")
        );
        assert!(
            !verify_password("wrong horse battery", Some(a))
                .await
                .expect("ok")
        );
        assert!(
            !verify_password("linedesk timing equalizer", None)
                .await
                .expect("ok")
        );
    }

    #[test]
    fn form_codes_are_distinct() {
        let mut codes: Vec<_> = FormError::ALL.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), FormError::ALL.len());
        assert_eq!(
            new_password("long enough pw", "long enough pX"),
            Err(FormError::PasswordMismatch)
        );
        assert_eq!(
            new_password("short", "short"),
            Err(FormError::PasswordTooShort)
        );
    }
}
