//! Signing in and one's own account.
//!
//! Form endpoints (the console renders the pages; their forms post here, and every answer is
//! a `303 See Other`):
//! - `POST /login` (`email`, `password`, `next`): to `next` with the session cookie, or back
//!   to `/login?error=invalid|rate_limited&next=…` (rate limited also carries `Retry-After`
//!   and `retry_after=<seconds>`).
//! - `POST /logout` (`_csrf`): ends the session, clears the cookie, to `/login`.
//! - `POST /setup/{token}` (`email`, `name`, `password`, `password_confirm`): creates the first
//!   admin, to `/`; errors to `/setup/{token}?error=<code>` (see [`FormError::code`]).
//! - `POST /invite/{token}` (`password`, `password_confirm`): the invited operator's password,
//!   to `/`; errors to `/invite/{token}?error=<code>`.
//!
//! JSON: `GET` and `PATCH /api/v1/me`, `POST /api/v1/me/password`.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use desk_core::{BrandId, DisplayName, Locale, NewPassword, OperatorId, Role, TimeZoneName};
use desk_store::{Department, ProfileChange};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ApiError;
use crate::http::api::json_body;
use crate::http::auth::{
    ApiOperator, SESSION_IDLE_MS, clear_session_cookie, client_ip, encode_component, over_https,
    safe_next, same_origin, same_secret, session_cookie, set_session_cookie, token_hash,
};
use crate::service::accounts::{self, FormFailure, LoginError, SetupForm, StartedSession};
use crate::state::AppState;

/// The form endpoints (outside `/api/v1`).
pub fn form_routes() -> Router<AppState> {
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/setup/{token}", post(setup))
        .route("/invite/{token}", post(accept_invite))
}

/// The JSON routes under `/api/v1`.
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/me", get(show_me).patch(update_me))
        .route("/me/password", post(change_password))
}

/// Where a browser form post came from: client address, user agent, HTTPS. Rejects posts
/// from another site's page (403), so nobody can be logged in or out by a forged form.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: Option<String>,
    pub secure: bool,
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if !same_origin(&parts.headers, state) {
            return Err(ApiError::Forbidden(
                "this form was sent from another site; open linedesk itself and try again",
            ));
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(ClientInfo {
            ip: client_ip(&parts.headers, peer),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            secure: over_https(&parts.headers, state),
        })
    }
}

/// A 303 that also sets or clears the session cookie.
fn see_other_with_cookie(to: &str, cookie: HeaderValue) -> Response {
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// Logged in: the cookie, then where they were going.
fn signed_in(to: &str, session: &StartedSession, client: &ClientInfo) -> Response {
    see_other_with_cookie(to, set_session_cookie(&session.token, client.secure))
}

/// Body of `POST /login`.
#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// `POST /login`.
#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let next = safe_next(&form.next).unwrap_or("/");
    let back = |error: &str| format!("/login?error={error}&next={}", encode_component(next));
    match accounts::login(
        &state,
        &form.email,
        &form.password,
        &client.ip,
        client.user_agent.as_deref(),
    )
    .await
    {
        Ok(session) => Ok(signed_in(next, &session, &client)),
        Err(LoginError::Invalid) => Ok(Redirect::to(&back("invalid")).into_response()),
        Err(LoginError::RateLimited { retry_after_secs }) => {
            let to = format!("{}&retry_after={retry_after_secs}", back("rate_limited"));
            let mut response = Redirect::to(&to).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            Ok(response)
        }
        Err(LoginError::Store(e)) => Err(e.into()),
        Err(LoginError::Hashing(e)) => Err(ApiError::Internal(e)),
    }
}

/// Body of `POST /logout`.
#[derive(Debug, Deserialize)]
struct LogoutForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

/// `POST /logout`: needs the session's CSRF token, so another site cannot log people out.
#[tracing::instrument(skip_all)]
async fn logout(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Result<Response, ApiError> {
    if let Some(token) = session_cookie(&headers) {
        let hash = token_hash(token);
        let now = state.clock.now_ms();
        if let Some(session) = state.store.session(&hash, now, SESSION_IDLE_MS).await? {
            if !same_secret(&form.csrf, &session.csrf_token) {
                return Err(ApiError::Forbidden("CSRF token missing or wrong"));
            }
            state.store.delete_session(&hash).await?;
            tracing::info!(operator = %session.operator.id, "logged out");
        }
    }
    Ok(see_other_with_cookie(
        "/login",
        clear_session_cookie(client.secure),
    ))
}

/// Body of `POST /setup/{token}`.
#[derive(Debug, Deserialize)]
struct SetupBody {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// The answer to a one-time link's form (`/setup/…`, `/invite/…`): signed in and on to the
/// inbox; back to the form (`page`) saying what was wrong; or the error for a failure on our
/// side.
fn link_form_answer<T>(
    page: &str,
    done: Result<(T, StartedSession), FormFailure>,
    client: &ClientInfo,
) -> Result<Response, ApiError> {
    match done {
        Ok((_, session)) => Ok(signed_in("/", &session, client)),
        Err(FormFailure::Form(e)) => {
            Ok(Redirect::to(&format!("{page}?error={}", e.code())).into_response())
        }
        Err(FormFailure::Internal(e)) => Err(e),
    }
}

/// `POST /setup/{token}`.
#[tracing::instrument(skip_all)]
async fn setup(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(token): Path<String>,
    Form(form): Form<SetupBody>,
) -> Result<Response, ApiError> {
    let page = format!("/setup/{}", encode_component(&token));
    let done = accounts::complete_setup(
        &state,
        &token,
        SetupForm {
            email: &form.email,
            name: &form.name,
            password: &form.password,
            password_confirm: &form.password_confirm,
            user_agent: client.user_agent.as_deref(),
        },
    )
    .await;
    link_form_answer(&page, done, &client)
}

/// Body of `POST /invite/{token}`.
#[derive(Debug, Deserialize)]
struct InviteBody {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// `POST /invite/{token}`.
#[tracing::instrument(skip_all)]
async fn accept_invite(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(token): Path<String>,
    Form(form): Form<InviteBody>,
) -> Result<Response, ApiError> {
    let page = format!("/invite/{}", encode_component(&token));
    let done = accounts::accept_invite(
        &state,
        &token,
        &form.password,
        &form.password_confirm,
        client.user_agent.as_deref(),
    )
    .await;
    link_form_answer(&page, done, &client)
}

/// Answer of `GET /me`.
#[derive(Debug, Serialize)]
pub struct Me {
    pub id: OperatorId,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub brand_id: Option<BrandId>,
    /// Departments they are a member of.
    pub departments: Vec<Department>,
    /// `en`, `ja`, or `null` (follow the browser).
    pub locale: Option<String>,
    /// IANA name, or `null` (follow the browser).
    pub time_zone: Option<String>,
    /// The session's CSRF token; `null` with an API token.
    pub csrf_token: Option<String>,
}

async fn me(state: &AppState, op: &ApiOperator) -> Result<Me, ApiError> {
    let operator = state.store.operator(op.id()).await?;
    let preferences = state.store.preferences(op.id()).await?;
    Ok(Me {
        id: operator.id,
        name: operator.display_name,
        email: operator.email,
        role: operator.role,
        brand_id: operator.brand_id.map(BrandId),
        departments: state.store.member_departments(op.id()).await?,
        locale: preferences.locale,
        time_zone: preferences.time_zone,
        csrf_token: op.csrf_token().map(str::to_owned),
    })
}

/// `GET /me`: who is signed in.
#[tracing::instrument(skip_all, fields(operator = %op.0.id))]
async fn show_me(State(state): State<AppState>, op: ApiOperator) -> Result<Json<Me>, ApiError> {
    Ok(Json(me(&state, &op).await?))
}

/// Reads a present JSON field, `null` included, as `Some(..)`; an absent one stays `None`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Body of `PATCH /me`: each field optional; `locale`/`time_zone` `null` means "follow the
/// browser".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MeChange {
    display_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    locale: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    time_zone: Option<Option<String>>,
}

/// A field's value parsed, keeping `None` (absent) and `Some(None)` (cleared).
fn parse_patch<T>(
    field: &str,
    value: Option<Option<String>>,
    parse: impl Fn(&str) -> Result<T, desk_core::AccountError>,
) -> Result<Option<Option<T>>, ApiError> {
    value
        .map(|v| {
            v.map(|s| parse(&s).map_err(|e| ApiError::bad_request(field, e.to_string())))
                .transpose()
        })
        .transpose()
}

/// `PATCH /me` `{"display_name"?, "locale"?: "en"|"ja"|null, "time_zone"?: "Asia/Tokyo"|null}`.
#[tracing::instrument(skip_all, fields(operator = %op.0.id))]
async fn update_me(
    State(state): State<AppState>,
    op: ApiOperator,
    body: Bytes,
) -> Result<Json<Me>, ApiError> {
    let change: MeChange = json_body("body", &body)?;
    let display_name = change
        .display_name
        .map(|n| {
            DisplayName::parse(&n).map_err(|e| ApiError::bad_request("display_name", e.to_string()))
        })
        .transpose()?;
    let change = ProfileChange {
        display_name: display_name.map(|n| n.as_str().to_owned()),
        locale: parse_patch("locale", change.locale, Locale::parse)?,
        time_zone: parse_patch("time_zone", change.time_zone, TimeZoneName::parse)?,
    };
    state.store.update_profile(op.id(), &change).await?;
    Ok(Json(me(&state, &op).await?))
}

/// Body of `POST /me/password`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// `POST /me/password` `{"current_password", "new_password"}` (at least 10 characters): 204.
/// Every other session of the operator ends.
#[tracing::instrument(skip_all, fields(operator = %op.0.id))]
async fn change_password(
    State(state): State<AppState>,
    op: ApiOperator,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let change: PasswordChange = json_body("body", &body)?;
    let current = state.store.password_hash(op.id()).await?;
    if !accounts::verify_password(&change.current_password, current).await? {
        return Err(ApiError::bad_request(
            "current_password",
            "the current password is wrong",
        ));
    }
    let new = NewPassword::parse(&change.new_password)
        .map_err(|e| ApiError::bad_request("new_password", e.to_string()))?;
    let hash = accounts::hash_password(&new).await?;
    state.store.set_password_hash(op.id(), &hash).await?;
    let ended = state
        .store
        .delete_sessions_of(op.id(), op.session_hash())
        .await?;
    tracing::info!(other_sessions_ended = ended, "password changed");
    Ok(StatusCode::NO_CONTENT)
}
