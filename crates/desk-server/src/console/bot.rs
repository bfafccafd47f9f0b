//! The chatbot settings page of a channel (`/brands/{brand}/settings/channels/{channel}/bot`).
//! The page is a form over `GET`/`PUT /api/v1/channels/{id}/bot`; `assets/js/bot.js` fills
//! and saves it, so the page and the API cannot disagree on what a bot is.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;

use super::i18n::Tr;
use super::layout::{Layout, PageError, Viewer, render};
use crate::state::AppState;

/// The pieces of rules-bot content the page edits as text, in page order.
const PARTS: &[&str] = &["greeting", "fallback", "away", "handoff_message"];

pub fn routes() -> Router<AppState> {
    Router::new().route("/brands/{brand}/settings/channels/{channel}/bot", get(page))
}

#[derive(Template)]
#[template(path = "bot/settings.html")]
struct BotPage {
    t: Tr,
    layout: Layout,
    channel_id: String,
    channel_name: String,
    parts: &'static [&'static str],
}

/// The page, for the brand's managers (admins and its supervisors).
#[tracing::instrument(skip_all, fields(operator = %viewer.operator.id, channel = %channel))]
async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((brand, channel)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (brand, channel) = viewer.managed_channel(&state, &brand, &channel).await?;
    let layout = Layout::settings(&state, &viewer, &brand, "channels", "bot.title").await?;
    render(&BotPage {
        t: viewer.tr(),
        layout,
        channel_id: channel.id.to_string(),
        channel_name: channel.display_name.clone(),
        parts: PARTS,
    })
}
