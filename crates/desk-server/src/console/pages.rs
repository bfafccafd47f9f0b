//! The console's pages: the chat desk (lists, conversation, contact), its live fragments, and
//! the login, setup and invite pages.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use desk_core::{ContactKind, ConversationId, ConversationState, FriendStatus};
use desk_store::{Brand, CannedResponse, ChatList, ListScope};
use serde::Deserialize;

use super::courtesy;
use super::i18n::{self, Locale, Tr};
use super::layout::{Area, Head, Layout, PageError, Viewer, render, request_locale};
use super::settings::department_options;
use super::stickers;
use super::view::{self, Body, ChatRow, Names, TextPart, ThreadItem};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/brands/{brand}", get(brand_home))
        .route("/brands/{brand}/chats", get(desk))
        .route("/brands/{brand}/chats/_lists", get(lists_fragment))
        .route("/brands/{brand}/chats/{conversation}", get(desk_with_chat))
        .route(
            "/brands/{brand}/chats/{conversation}/_view",
            get(conversation_fragment),
        )
        .route("/login", get(login))
        .route("/setup/{token}", get(setup))
        .route("/invite/{token}", get(invite))
}

/// `GET /console/i18n/{lang}.{hash}.json` (cached for good; pages link it) or
/// `GET /console/i18n/{lang}.json` (always fresh): a language's catalog for scripts.
pub async fn catalog_json(Path(file): Path<String>) -> Response {
    let Some(stem) = file.strip_suffix(".json") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let tag = stem.split_once('.').map_or(stem, |(tag, _hash)| tag);
    let Some(locale) = Locale::from_tag(tag) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let catalog = i18n::catalog(locale);
    let cache = if file == format!("{tag}.{}.json", catalog.hash()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        catalog.json().to_owned(),
    )
        .into_response()
}

/// `GET /`: the first brand's chats.
async fn home(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    match viewer.brands(&state).await?.first() {
        Some(brand) => Ok(Redirect::to(&format!("/brands/{}/chats", brand.id)).into_response()),
        None => Err(PageError::new(
            viewer.tr(),
            StatusCode::NOT_FOUND,
            "common.error.no_brand",
        )),
    }
}

/// `GET /brands/{brand}`.
async fn brand_home(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(brand): Path<String>,
) -> Result<Response, PageError> {
    let brand = viewer.brand(&state, &brand).await?;
    Ok(Redirect::to(&format!("/brands/{}/chats", brand.id)).into_response())
}

/// Query of the desk and its fragments.
#[derive(Debug, Deserialize)]
struct DeskParams {
    list: Option<String>,
    /// The open conversation (for the lists fragment's highlight).
    active: Option<String>,
}

impl DeskParams {
    fn list(&self) -> ChatList {
        self.list
            .as_deref()
            .and_then(|l| l.parse().ok())
            .unwrap_or(ChatList::Open)
    }
}

/// A tab of the chat lists.
#[derive(Debug, Clone)]
pub struct Tab {
    pub slug: &'static str,
    pub label: &'static str,
    pub count: Option<i64>,
    pub href: String,
    pub current: bool,
}

/// The chat lists: tabs with counts and the current list's rows.
#[derive(Template)]
#[template(path = "console/chat_lists.html")]
struct ListsFragment {
    t: Tr,
    tabs: Vec<Tab>,
    rows: Vec<ChatRow>,
    unread_chats: i64,
}

/// The lists for the viewer; `active` is highlighted.
async fn lists(
    state: &AppState,
    viewer: &Viewer,
    brand: &Brand,
    list: ChatList,
    active: Option<&str>,
) -> Result<ListsFragment, PageError> {
    let t = viewer.tr();
    let scope = ListScope {
        brand: brand.id,
        operator: viewer.operator.id,
        own_departments_only: viewer.access.department_filter().is_some(),
    };
    let counts = state
        .store
        .chat_list_counts(scope)
        .await
        .map_err(|e| viewer.error(e))?;
    let items = state
        .store
        .chat_list(scope, list, 200)
        .await
        .map_err(|e| viewer.error(e))?;
    let now = state.clock.now_ms();
    let rows = items
        .iter()
        .map(|item| {
            let id = item.conversation.id.to_string();
            let href = format!("/brands/{}/chats/{id}?list={}", brand.id, list.as_str());
            view::chat_row(item, viewer, href, active == Some(id.as_str()), now)
        })
        .collect();
    let tabs = ChatList::ALL
        .iter()
        .map(|l| Tab {
            slug: l.as_str(),
            label: t.code("chats.list.", l.as_str(), "chats.list.open"),
            count: counts.of(*l),
            href: match active {
                Some(c) => format!("/brands/{}/chats/{c}?list={}", brand.id, l.as_str()),
                None => format!("/brands/{}/chats?list={}", brand.id, l.as_str()),
            },
            current: *l == list,
        })
        .collect();
    Ok(ListsFragment {
        t,
        tabs,
        rows,
        unread_chats: counts.unread_chats,
    })
}

/// `GET /brands/{brand}/chats/_lists?list=&active=`: the lists, for live updates.
async fn lists_fragment(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(brand): Path<String>,
    Query(params): Query<DeskParams>,
) -> Result<Response, PageError> {
    let brand = viewer.brand(&state, &brand).await?;
    let fragment = lists(
        &state,
        &viewer,
        &brand,
        params.list(),
        params.active.as_deref(),
    )
    .await?;
    render(&fragment)
}

/// An earlier chat of the contact.
#[derive(Debug, Clone)]
pub struct PastChatView {
    pub href: String,
    pub time: String,
    pub label: String,
    pub current: bool,
}

/// A note on the contact.
#[derive(Debug, Clone)]
pub struct NoteView {
    pub id: String,
    pub author: String,
    pub body: String,
    pub time: String,
}

/// The open conversation: header, thread and contact panel.
#[derive(Debug, Clone)]
pub struct ConversationPane {
    pub id: String,
    pub contact_id: String,
    pub name: String,
    pub initial: String,
    pub picture_url: Option<String>,
    pub status_message: Option<String>,
    pub line_id: String,
    pub kind: &'static str,
    pub friend_status: &'static str,
    pub state: &'static str,
    pub state_label: &'static str,
    pub assignee_name: Option<String>,
    pub department_id: desk_core::DepartmentId,
    pub department_name: String,
    pub channel_name: String,
    pub opened: String,
    pub one_to_one: bool,
    pub can_reply: bool,
    /// Why the composer is off, in words ("" when it is on).
    pub disabled_reason: &'static str,
    pub can_accept: bool,
    /// The chatbot holds it: an operator may take it over.
    pub can_take_over: bool,
    /// An operator holds it (or it waits) and the channel has a chatbot to give it back to.
    pub can_hand_back: bool,
    pub can_transfer: bool,
    pub can_close: bool,
    pub items: Vec<ThreadItem>,
    pub past_chats: Vec<PastChatView>,
    pub notes: Vec<NoteView>,
}

/// `templates/console/conversation.html` alone, for live updates.
#[derive(Template)]
#[template(path = "console/conversation_fragment.html")]
struct ConversationFragment {
    t: Tr,
    c: ConversationPane,
}

/// Operator and department names of a brand.
async fn names(state: &AppState, viewer: &Viewer, brand: &Brand) -> Result<Names, PageError> {
    let operators = state
        .store
        .brand_operators(brand.id)
        .await
        .map_err(|e| viewer.error(e))?;
    let departments = state
        .store
        .list_departments(brand.id)
        .await
        .map_err(|e| viewer.error(e))?;
    let mut names = Names {
        operators: operators
            .into_iter()
            .map(|o| (o.operator.id.0, o.operator.display_name))
            .collect(),
        departments: departments.into_iter().map(|d| (d.id.0, d.name)).collect(),
    };
    names
        .operators
        .entry(viewer.operator.id.0)
        .or_insert_with(|| viewer.operator.display_name.clone());
    Ok(names)
}

/// Builds the pane of a conversation of `brand` and marks it read for the viewer (and, on
/// LINE, for the user).
async fn conversation_pane(
    state: &AppState,
    viewer: &Viewer,
    brand: &Brand,
    id: &str,
    list: ChatList,
) -> Result<ConversationPane, PageError> {
    let t = viewer.tr();
    let not_found = || PageError::new(t, StatusCode::NOT_FOUND, "common.error.not_found");
    let id: ConversationId = id.parse().map_err(|_| not_found())?;
    let c = state
        .store
        .conversation(id)
        .await
        .map_err(|e| viewer.error(e))?;
    if viewer
        .access
        .conversation(c.brand_id, c.department_id)
        .is_err()
    {
        return Err(PageError::new(
            t,
            StatusCode::FORBIDDEN,
            "common.error.forbidden",
        ));
    }
    if c.brand_id != brand.id {
        return Err(not_found());
    }
    let store = &state.store;
    let err = |e| viewer.error(e);
    let messages = store.list_messages(c.id).await.map_err(err)?;
    let messages = crate::http::media::with_media(state, c.id, messages)
        .await
        .map_err(|e| viewer.error(e))?;
    let (events, past, notes, contact, channel, names) = (
        store.timeline(c.id).await.map_err(err)?,
        store.contact_chats(c.contact_id, 20).await.map_err(err)?,
        store.contact_notes(c.contact_id).await.map_err(err)?,
        store
            .contact_by_line_id(c.channel_id, &c.contact_line_id)
            .await
            .map_err(err)?,
        store.channel(c.channel_id).await.map_err(err)?,
        names(state, viewer, brand).await?,
    );
    store
        .mark_read(viewer.operator.id, c.id)
        .await
        .map_err(err)?;
    if c.contact_kind == ContactKind::User {
        courtesy::mark_as_read(state, c.id, c.channel_id);
    }
    let now = state.clock.now_ms();
    let name = view::contact_name(c.contact_name.as_deref(), t);
    let blocked = c.friend_status == FriendStatus::Blocked;
    let live = c.state.accepts_replies();
    let with_bot = c.state == ConversationState::Bot;
    // Blocked first: it is why a blocked user's chat closed, and the more useful reason.
    let disabled_reason = if blocked {
        t.get("composer.disabled.blocked")
    } else if !live {
        t.get("composer.disabled.completed")
    } else if with_bot {
        t.get("bot.chat.held")
    } else {
        ""
    };
    let state_key = format!("chats.state.{}", c.state.as_str());
    let bot_on = state
        .rules
        .get(&state.store, c.channel_id, now)
        .await
        .is_ok_and(|r| r.settings.bot_enabled());
    Ok(ConversationPane {
        id: c.id.to_string(),
        contact_id: c.contact_id.to_string(),
        initial: name.chars().next().map(String::from).unwrap_or_default(),
        name,
        picture_url: view::picture(c.contact_picture_url.as_deref()),
        status_message: contact.and_then(|k| k.status_message),
        line_id: c.contact_line_id.clone(),
        kind: c.contact_kind.as_str(),
        friend_status: c.friend_status.as_str(),
        state: c.state.as_str(),
        state_label: t.get(&state_key),
        assignee_name: c
            .assignee_id
            .map(|a| names.operators.get(&a).cloned().unwrap_or_default()),
        department_id: c.department_id,
        department_name: names
            .departments
            .get(&c.department_id.0)
            .cloned()
            .unwrap_or_default(),
        channel_name: channel.display_name.clone(),
        opened: viewer.time(c.opened_ms, now),
        one_to_one: c.contact_kind == ContactKind::User,
        can_reply: live && !blocked && !with_bot,
        disabled_reason,
        can_accept: matches!(
            c.state,
            ConversationState::Waiting | ConversationState::Missed
        ),
        can_take_over: with_bot,
        can_hand_back: live && !with_bot && bot_on,
        can_transfer: live,
        can_close: live,
        items: view::thread(&messages, &events, viewer, &names, now, live && !blocked),
        past_chats: past
            .iter()
            .map(|p| PastChatView {
                href: format!("/brands/{}/chats/{}?list={}", brand.id, p.id, list.as_str()),
                time: viewer.time(p.opened_ms, now),
                label: match &p.close_reason {
                    Some(reason) => t
                        .code(
                            "timeline.close_reason.",
                            reason,
                            "timeline.close_reason.other",
                        )
                        .to_owned(),
                    None => t
                        .code("chats.state.", &p.state, "chats.state.open")
                        .to_owned(),
                },
                current: p.id == c.id,
            })
            .collect(),
        notes: notes
            .into_iter()
            .map(|n| NoteView {
                id: n.id.to_string(),
                author: n
                    .author_name
                    .unwrap_or_else(|| t.get("timeline.someone").to_owned()),
                body: n.body,
                time: viewer.time(n.created_ms, now),
            })
            .collect(),
    })
}

/// `GET /brands/{brand}/chats/{conversation}/_view`: the conversation, for live updates.
async fn conversation_fragment(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((brand, conversation)): Path<(String, String)>,
    Query(params): Query<DeskParams>,
) -> Result<Response, PageError> {
    let brand = viewer.brand(&state, &brand).await?;
    let c = conversation_pane(&state, &viewer, &brand, &conversation, params.list()).await?;
    render(&ConversationFragment { t: viewer.tr(), c })
}

/// A sticker package in the picker.
#[derive(Debug, Clone)]
pub struct StickerPackView {
    pub package_id: String,
    pub cover_url: String,
    /// `(sticker id, image URL)`.
    pub stickers: Vec<(u64, String)>,
}

/// The desk: lists, the open conversation with its composer, and the contact.
#[derive(Template)]
#[template(path = "console/chats.html")]
struct DeskPage {
    t: Tr,
    layout: Layout,
    list: &'static str,
    tabs: Vec<Tab>,
    rows: Vec<ChatRow>,
    unread_chats: i64,
    conversation: Option<ConversationPane>,
    last_event_id: i64,
    stickers: Vec<StickerPackView>,
    canned: Vec<CannedResponse>,
    departments: Vec<(String, String)>,
    operators: Vec<(String, String, String)>,
}

/// The desk page, with `conversation` open if given.
async fn desk_page(
    state: &AppState,
    viewer: &Viewer,
    brand: &str,
    conversation: Option<&str>,
    params: &DeskParams,
) -> Result<Response, PageError> {
    let brand = viewer.brand(state, brand).await?;
    let list = params.list();
    // Before anything is read: events after this id reach the page over SSE.
    let last_event_id = state
        .store
        .latest_event_id(brand.id)
        .await
        .map_err(|e| viewer.error(e))?;
    let pane = match conversation {
        Some(id) => Some(conversation_pane(state, viewer, &brand, id, list).await?),
        None => None,
    };
    let ListsFragment {
        tabs,
        rows,
        unread_chats,
        ..
    } = lists(state, viewer, &brand, list, conversation).await?;
    let department = pane.as_ref().map(|p| p.department_id);
    let canned = state
        .store
        .canned_responses(brand.id, department)
        .await
        .map_err(|e| viewer.error(e))?;
    let departments = department_options(state, viewer, brand.id).await?;
    let operators = state
        .store
        .brand_operators(brand.id)
        .await
        .map_err(|e| viewer.error(e))?
        .into_iter()
        .filter(|o| o.operator.id != viewer.operator.id)
        .map(|o| {
            (
                o.operator.id.to_string(),
                o.operator.display_name,
                o.presence,
            )
        })
        .collect();
    let mut layout = Layout::new(state, viewer, &brand, Area::Chats, None, "chats.title").await?;
    if let Some(p) = &pane {
        layout.title = format!("{} · {}", p.name, layout.title);
    }
    render(&DeskPage {
        t: viewer.tr(),
        layout,
        list: list.as_str(),
        tabs,
        rows,
        unread_chats,
        conversation: pane,
        last_event_id,
        stickers: sticker_packs(),
        canned,
        departments,
        operators,
    })
}

fn sticker_packs() -> Vec<StickerPackView> {
    stickers::packages()
        .iter()
        .map(|p| StickerPackView {
            package_id: p.package_id.clone(),
            cover_url: view::sticker_url(&p.first.to_string()),
            stickers: p
                .sticker_ids()
                .map(|id| (id, view::sticker_url(&id.to_string())))
                .collect(),
        })
        .collect()
}

/// `GET /brands/{brand}/chats?list=`.
async fn desk(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(brand): Path<String>,
    Query(params): Query<DeskParams>,
) -> Result<Response, PageError> {
    desk_page(&state, &viewer, &brand, None, &params).await
}

/// `GET /brands/{brand}/chats/{conversation}?list=`.
async fn desk_with_chat(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((brand, conversation)): Path<(String, String)>,
    Query(params): Query<DeskParams>,
) -> Result<Response, PageError> {
    desk_page(&state, &viewer, &brand, Some(&conversation), &params).await
}

/// Query of the login, setup and invite pages: where to go after, and what went wrong.
#[derive(Debug, Deserialize)]
struct AuthParams {
    next: Option<String>,
    error: Option<String>,
    email: Option<String>,
}

/// `templates/auth/login.html`.
#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    t: Tr,
    head: Head,
    next: String,
    email: String,
    error: Option<&'static str>,
}

/// `GET /login?next=&error=`.
async fn login(
    headers: HeaderMap,
    Query(params): Query<AuthParams>,
) -> Result<Response, PageError> {
    let t = Tr::new(request_locale(&headers));
    render(&LoginPage {
        t,
        head: Head::new(t, "auth.login.title"),
        // Only paths on this site: `next` must not send the operator elsewhere.
        next: params
            .next
            .as_deref()
            .and_then(crate::http::auth::safe_next)
            .unwrap_or("/")
            .to_owned(),
        email: params.email.unwrap_or_default(),
        error: params
            .error
            .as_deref()
            .map(|code| t.code("auth.error.", code, "auth.error.unknown")),
    })
}

/// `templates/auth/setup.html`: the first admin's setup and an invited operator's password.
#[derive(Template)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    t: Tr,
    head: Head,
    title_key: &'static str,
    intro_key: &'static str,
    submit_key: &'static str,
    action: String,
    with_identity: bool,
    error: Option<&'static str>,
}

/// A token from the URL, kept only if it looks like one (it is put back into a form action).
fn token_segment(token: &str) -> Option<&str> {
    (!token.is_empty()
        && token.len() <= 200
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    .then_some(token)
}

/// `GET /setup/{token}`: create the first admin.
async fn setup(
    headers: HeaderMap,
    Path(token): Path<String>,
    Query(params): Query<AuthParams>,
) -> Result<Response, PageError> {
    account_page(&headers, &token, &params, true).await
}

/// `GET /invite/{token}`: an invited operator chooses a password.
async fn invite(
    headers: HeaderMap,
    Path(token): Path<String>,
    Query(params): Query<AuthParams>,
) -> Result<Response, PageError> {
    account_page(&headers, &token, &params, false).await
}

async fn account_page(
    headers: &HeaderMap,
    token: &str,
    params: &AuthParams,
    setup: bool,
) -> Result<Response, PageError> {
    let t = Tr::new(request_locale(headers));
    let token = token_segment(token)
        .ok_or_else(|| PageError::new(t, StatusCode::NOT_FOUND, "common.error.not_found"))?;
    let (title_key, intro_key, submit_key, path) = if setup {
        (
            "auth.setup.title",
            "auth.setup.intro",
            "auth.setup.submit",
            "setup",
        )
    } else {
        (
            "auth.invite.title",
            "auth.invite.intro",
            "auth.invite.submit",
            "invite",
        )
    };
    render(&SetupPage {
        t,
        head: Head::new(t, title_key),
        title_key,
        intro_key,
        submit_key,
        action: format!("/{path}/{token}"),
        with_identity: setup,
        error: params
            .error
            .as_deref()
            .map(|code| t.code("auth.error.", code, "auth.error.unknown")),
    })
}
