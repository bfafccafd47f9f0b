//! The connect wizard's JSON API. Every answer is the whole wizard ([`WizardView`]), so a
//! page can render the step it is at; its state is kept server-side.
//!
//! - `POST /brands/{id}/channel-wizards` → start (201)
//! - `GET /channel-wizards/{id}`
//! - `POST /channel-wizards/{id}/credentials` `{"channel_id", "channel_secret"}`
//! - `POST /channel-wizards/{id}/response-mode/recheck`
//! - `POST /channel-wizards/{id}/webhook/test`
//! - `POST /channel-wizards/{id}/department` `{"department_id"}` or `{"department_name"}`
//! - `POST /channel-wizards/{id}/next`, `POST /channel-wizards/{id}/back`
//!
//! Also answers LINE's connectivity check on the future webhook URL of a wizard in progress.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{MethodRouter, get, post};
use desk_core::WizardId;
use line_api::signature::{SIGNATURE_HEADER, verify};
use serde::Deserialize;

use crate::crypto::Purpose;
use crate::error::ApiError;
use crate::http::api::{json_body, parse_field};
use crate::http::auth::ApiOperator;
use crate::http::channels::managed_brand;
use crate::service::wizard::{self, Wizard, WizardView};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/brands/{id}/channel-wizards", post(start))
        .route("/channel-wizards/{id}", get(show))
        .route(
            "/channel-wizards/{id}/credentials",
            Action::Credentials.post(),
        )
        .route(
            "/channel-wizards/{id}/response-mode/recheck",
            Action::Recheck.post(),
        )
        .route(
            "/channel-wizards/{id}/webhook/test",
            Action::WebhookTest.post(),
        )
        .route(
            "/channel-wizards/{id}/department",
            Action::Department.post(),
        )
        .route("/channel-wizards/{id}/next", Action::Next.post())
        .route("/channel-wizards/{id}/back", Action::Back.post())
}

/// The wizard, if this operator may manage its brand.
pub(crate) async fn wizard_for(
    state: &AppState,
    op: &ApiOperator,
    id: &str,
) -> Result<Wizard, ApiError> {
    let id: WizardId = parse_field("id", id)?;
    let wizard = wizard::load(state, id).await?;
    op.require_manager(wizard.row.brand_id)?;
    Ok(wizard)
}

/// `POST /brands/{id}/channel-wizards`: starts connecting a LINE channel to the brand.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, brand = %id))]
async fn start(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<WizardView>), ApiError> {
    let brand = managed_brand(&op, &id)?;
    let wizard = wizard::start(&state, brand, Some(op.id())).await?;
    Ok((StatusCode::CREATED, Json(wizard.view(&state))))
}

/// `GET /channel-wizards/{id}`.
#[tracing::instrument(skip_all, fields(operator = %op.0.id, wizard = %id))]
async fn show(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
) -> Result<Json<WizardView>, ApiError> {
    Ok(Json(wizard_for(&state, &op, &id).await?.view(&state)))
}

/// No `Debug`: it holds the secret in clear.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CredentialsBody {
    pub channel_id: String,
    pub channel_secret: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DepartmentBody {
    pub department_id: Option<String>,
    pub department_name: Option<String>,
}

/// The wizard's steps: each loads the wizard, acts on it and answers its new view.
#[derive(Debug, Clone, Copy)]
enum Action {
    /// `POST /channel-wizards/{id}/credentials` with a [`CredentialsBody`].
    Credentials,
    /// `POST /channel-wizards/{id}/department` with a [`DepartmentBody`].
    Department,
    /// `POST /channel-wizards/{id}/response-mode/recheck`.
    Recheck,
    /// `POST /channel-wizards/{id}/webhook/test`: sets the endpoint and runs LINE's test.
    WebhookTest,
    /// `POST /channel-wizards/{id}/next`: 409 with the reason when the step is not done.
    Next,
    /// `POST /channel-wizards/{id}/back`.
    Back,
}

impl Action {
    fn post(self) -> MethodRouter<AppState> {
        post(
            move |state: State<AppState>, op: ApiOperator, id: Path<String>, body: Bytes| {
                self.run(state, op, id, body)
            },
        )
    }

    #[tracing::instrument(skip_all, fields(operator = %op.0.id, wizard = %id, action = ?self))]
    async fn run(
        self,
        State(state): State<AppState>,
        op: ApiOperator,
        Path(id): Path<String>,
        body: Bytes,
    ) -> Result<Json<WizardView>, ApiError> {
        let state = &state;
        let mut wizard = wizard_for(state, &op, &id).await?;
        match self {
            Action::Credentials => {
                let body: CredentialsBody = json_body("body", &body)?;
                let (id, secret) = (&body.channel_id, &body.channel_secret);
                wizard::submit_credentials(state, &mut wizard, id, secret).await?
            }
            Action::Department => {
                let body: DepartmentBody = json_body("body", &body)?;
                let department = body
                    .department_id
                    .as_deref()
                    .filter(|d| !d.is_empty())
                    .map(|d| parse_field("department_id", d))
                    .transpose()?;
                let name = body.department_name.as_deref();
                wizard::choose_department(state, &mut wizard, department, name).await?
            }
            Action::Recheck => wizard::recheck_response_mode(state, &mut wizard).await?,
            Action::WebhookTest => wizard::run_webhook(state, &mut wizard).await?,
            Action::Next => wizard::next(state, &mut wizard, op.actor()).await?,
            Action::Back => wizard::back(state, &mut wizard).await?,
        }
        Ok(Json(wizard.view(state)))
    }
}

/// A webhook request for a key no live channel has. If a wizard in progress will give its
/// channel this key, LINE's connectivity check (`{"events": []}`, signed with the wizard's
/// secret) is answered 200 so the webhook test passes before the channel goes live; real
/// events get 503 so LINE redelivers them once it is live. Otherwise 404.
pub async fn probe(state: &AppState, key: &str, headers: &HeaderMap, body: &Bytes) -> Response {
    let unknown = || {
        (
            StatusCode::NOT_FOUND,
            "unknown webhook URL: no channel has this key",
        )
            .into_response()
    };
    let sealed = match state.store.wizard_secret_by_key(key).await {
        Ok(Some(sealed)) => sealed,
        Ok(None) => return unknown(),
        Err(e) => {
            tracing::error!(error = %e, "wizard lookup failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable").into_response();
        }
    };
    let Ok(secret) = state.cipher.open(Purpose::ChannelSecret, &sealed) else {
        return unknown();
    };
    let signed = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sig| verify(secret.expose(), body, sig));
    if !signed {
        return (StatusCode::UNAUTHORIZED, "invalid signature").into_response();
    }
    match line_api::webhook::parse_body(body) {
        Ok(parsed) if parsed.events.is_empty() => StatusCode::OK.into_response(),
        Ok(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "this channel is still being connected; events are accepted once it is live",
        )
            .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            format!("malformed webhook body: {e}"),
        )
            .into_response(),
    }
}
