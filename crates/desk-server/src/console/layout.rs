//! What every console page shares: the logged-in [`Viewer`], the [`Layout`] the base
//! templates read (top bar, brand switcher, presence, language, settings sidebar), rendering
//! and the HTML error page.

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use desk_core::access::Access;
use desk_core::{BrandId, ChannelId, Presence};
use desk_store::{Brand, Channel, Operator};
use jiff::tz::TimeZone;

use super::assets;
use super::i18n::{Locale, Tr};
use crate::error::ApiError;
use crate::http::auth::ConsoleSession;
use crate::state::AppState;

/// The logged-in operator looking at a page, with their language and time zone.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub operator: Operator,
    /// Sent back in the `X-CSRF-Token` header (scripts) or the `_csrf` field (forms).
    pub csrf_token: String,
    pub locale: Locale,
    pub time_zone: TimeZone,
    /// What they may see and change.
    pub access: Access,
}

/// The browser's time zone, which `layout.js` stores in this cookie; used when the operator
/// set none.
pub const TIME_ZONE_COOKIE: &str = "linedesk_tz";

impl Viewer {
    /// The translator for this viewer's language.
    pub fn tr(&self) -> Tr {
        Tr::new(self.locale)
    }

    /// Whether the viewer may see the brand.
    pub fn may_see(&self, brand: BrandId) -> bool {
        self.access.brand(brand).is_ok()
    }

    /// Whether the viewer may change the brand's settings.
    pub fn manages(&self, brand: BrandId) -> bool {
        self.access.manage(brand).is_ok()
    }

    /// The brand named by a URL segment, if the viewer may change its settings (else 403/404
    /// pages).
    pub async fn managed_brand(&self, state: &AppState, id: &str) -> Result<Brand, PageError> {
        let brand = self.brand(state, id).await?;
        if !self.manages(brand.id) {
            return Err(PageError::new(
                self.tr(),
                StatusCode::FORBIDDEN,
                "common.error.forbidden",
            ));
        }
        Ok(brand)
    }

    /// A channel of a brand the viewer manages, both named by URL segments (else 403/404
    /// pages; a channel of another brand is not found).
    pub async fn managed_channel(
        &self,
        state: &AppState,
        brand: &str,
        channel: &str,
    ) -> Result<(Brand, Channel), PageError> {
        let brand = self.managed_brand(state, brand).await?;
        let id: ChannelId = channel.parse().map_err(|_| self.not_found())?;
        let channel = state.store.channel(id).await.map_err(|e| self.error(e))?;
        if channel.brand_id != brand.id {
            return Err(self.not_found());
        }
        Ok((brand, channel))
    }

    /// The "not found" page in the viewer's language.
    pub fn not_found(&self) -> PageError {
        PageError::new(self.tr(), StatusCode::NOT_FOUND, "common.error.not_found")
    }

    /// The brands the viewer may switch between, by name.
    pub async fn brands(&self, state: &AppState) -> Result<Vec<Brand>, PageError> {
        let brands = state.store.list_brands().await.map_err(|e| self.error(e))?;
        Ok(brands.into_iter().filter(|b| self.may_see(b.id)).collect())
    }

    /// The brand named by a URL segment, if the viewer may see it (else 403/404 pages).
    pub async fn brand(&self, state: &AppState, id: &str) -> Result<Brand, PageError> {
        let id: BrandId = id.parse().map_err(|_| {
            PageError::new(self.tr(), StatusCode::NOT_FOUND, "common.error.not_found")
        })?;
        if !self.may_see(id) {
            return Err(PageError::new(
                self.tr(),
                StatusCode::FORBIDDEN,
                "common.error.forbidden",
            ));
        }
        self.brands(state)
            .await?
            .into_iter()
            .find(|b| b.id == id)
            .ok_or_else(|| {
                PageError::new(self.tr(), StatusCode::NOT_FOUND, "common.error.not_found")
            })
    }

    /// An API failure as an error page in the viewer's language.
    pub fn error(&self, e: impl Into<ApiError>) -> PageError {
        PageError::from_api(self.tr(), e.into())
    }

    /// A time as the viewer reads it: `14:03` today, `2026-11-24 14:03` otherwise.
    pub fn time(&self, ms: i64, now_ms: i64) -> String {
        format_time(&self.time_zone, ms, now_ms)
    }
}

/// `14:03` when `ms` is on the same day as `now_ms` in `tz`, else `2026-11-24 14:03`.
pub fn format_time(tz: &TimeZone, ms: i64, now_ms: i64) -> String {
    let (Ok(at), Ok(now)) = (
        jiff::Timestamp::from_millisecond(ms),
        jiff::Timestamp::from_millisecond(now_ms),
    ) else {
        return String::new();
    };
    let at = at.to_zoned(tz.clone());
    if at.date() == now.to_zoned(tz.clone()).date() {
        at.strftime("%H:%M").to_string()
    } else {
        at.strftime("%Y-%m-%d %H:%M").to_string()
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = ConsoleSession::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let time_zone = session
            .time_zone
            .as_deref()
            .or_else(|| cookie(parts, TIME_ZONE_COOKIE))
            .and_then(|name| TimeZone::get(name).ok())
            .unwrap_or_else(TimeZone::system);
        let locale = Locale::negotiate(
            session.locale.as_deref(),
            parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        );
        Ok(Viewer {
            operator: session.operator,
            csrf_token: session.csrf_token,
            locale,
            time_zone,
            access: session.access,
        })
    }
}

/// A cookie's value from the request.
pub(crate) fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// The language of a request from someone not logged in: `Accept-Language`.
pub fn request_locale(headers: &axum::http::HeaderMap) -> Locale {
    Locale::negotiate(
        None,
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// A settings page in the sidebar: `/brands/{id}/settings/{slug}`.
#[derive(Debug, Clone, Copy)]
pub struct SettingsPage {
    pub slug: &'static str,
    /// The catalog key of its name.
    pub key: &'static str,
    /// Only admins and supervisors see it.
    pub managers_only: bool,
}

/// The settings sidebar. Add a line for a new settings page.
pub const SETTINGS_PAGES: &[SettingsPage] = &[
    SettingsPage {
        slug: "channels",
        key: "settings.nav.channels",
        managers_only: true,
    },
    SettingsPage {
        slug: "auto-close",
        key: "settings.nav.auto_close",
        managers_only: true,
    },
    SettingsPage {
        slug: "routing",
        key: "settings.nav.routing",
        managers_only: true,
    },
    SettingsPage {
        slug: "hours",
        key: "settings.nav.hours",
        managers_only: true,
    },
    SettingsPage {
        slug: "canned",
        key: "settings.nav.canned",
        managers_only: false,
    },
    SettingsPage {
        slug: "operators",
        key: "settings.nav.operators",
        managers_only: true,
    },
    SettingsPage {
        slug: "audit",
        key: "channels.nav.audit",
        managers_only: true,
    },
];

/// A link in a menu.
#[derive(Debug, Clone)]
pub struct NavLink {
    pub href: String,
    pub label: &'static str,
    pub current: bool,
}

/// A brand in the switcher.
#[derive(Debug, Clone)]
pub struct BrandLink {
    pub id: String,
    pub name: String,
    pub href: String,
    pub current: bool,
}

/// The page area, for the top bar's highlight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Chats,
    Settings,
}

/// What the layout templates (`console/app.html`, `console/settings.html`) read.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    pub lang: &'static str,
    pub csrf_token: String,
    pub operator_id: String,
    pub operator_name: String,
    pub operator_initial: String,
    pub operator_email: String,
    pub role: &'static str,
    pub presence: &'static str,
    pub brands: Vec<BrandLink>,
    pub brand_id: String,
    pub brand_name: String,
    pub area: Area,
    pub settings_nav: Vec<NavLink>,
    pub catalog_url: String,
    pub locales: Vec<(&'static str, &'static str, bool)>,
}

impl Layout {
    /// The layout of a page of `brand` in `area`; `title_key` names the page.
    pub async fn new(
        state: &AppState,
        viewer: &Viewer,
        brand: &Brand,
        area: Area,
        settings_slug: Option<&str>,
        title_key: &str,
    ) -> Result<Layout, PageError> {
        let t = viewer.tr();
        let brands = viewer.brands(state).await?;
        let presence = state
            .store
            .presence(viewer.operator.id)
            .await
            .unwrap_or(Presence::Offline);
        let manager = viewer.manages(brand.id);
        let settings_nav = SETTINGS_PAGES
            .iter()
            .filter(|p| manager || !p.managers_only)
            .map(|p| NavLink {
                href: format!("/brands/{}/settings/{}", brand.id, p.slug),
                label: t.get(p.key),
                current: settings_slug == Some(p.slug),
            })
            .collect();
        Ok(Layout {
            title: t.get(title_key).to_owned(),
            lang: viewer.locale.tag(),
            csrf_token: viewer.csrf_token.clone(),
            operator_id: viewer.operator.id.to_string(),
            operator_name: viewer.operator.display_name.clone(),
            operator_initial: viewer
                .operator
                .display_name
                .chars()
                .next()
                .map(String::from)
                .unwrap_or_default(),
            operator_email: viewer.operator.email.clone(),
            role: viewer.operator.role.as_str(),
            presence: presence.as_str(),
            brands: brands
                .iter()
                .map(|b| BrandLink {
                    id: b.id.to_string(),
                    name: b.name.clone(),
                    href: format!("/brands/{}/chats", b.id),
                    current: b.id == brand.id,
                })
                .collect(),
            brand_id: brand.id.to_string(),
            brand_name: brand.name.clone(),
            area,
            settings_nav,
            catalog_url: t.catalog_url(),
            locales: Locale::ALL
                .iter()
                .map(|l| (l.tag(), language_name(*l), *l == viewer.locale))
                .collect(),
        })
    }

    /// The layout of a settings page (`slug` as in [`SETTINGS_PAGES`]).
    pub async fn settings(
        state: &AppState,
        viewer: &Viewer,
        brand: &Brand,
        slug: &str,
        title_key: &str,
    ) -> Result<Layout, PageError> {
        Layout::new(state, viewer, brand, Area::Settings, Some(slug), title_key).await
    }

    /// An asset's URL: `{{ layout.asset("js/chats.js") }}`.
    pub fn asset(&self, path: &str) -> String {
        assets::url(path)
    }

    /// Whether the page is in `area` (`"chats"` or `"settings"`), for the top bar.
    pub fn in_area(&self, area: &str) -> bool {
        matches!(
            (self.area, area),
            (Area::Chats, "chats") | (Area::Settings, "settings")
        )
    }
}

/// A language's name in itself, for the language menu.
fn language_name(locale: Locale) -> &'static str {
    match locale {
        Locale::En => "English",
        Locale::Ja => "日本語",
    }
}

/// The head every page shares, for pages without the app layout (login, setup).
#[derive(Debug, Clone)]
pub struct Head {
    pub title: String,
    pub lang: &'static str,
    pub catalog_url: String,
}

impl Head {
    pub fn new(t: Tr, title_key: &str) -> Head {
        Head {
            title: t.get(title_key).to_owned(),
            lang: t.locale.tag(),
            catalog_url: t.catalog_url(),
        }
    }

    /// An asset's URL.
    pub fn asset(&self, path: &str) -> String {
        assets::url(path)
    }
}

/// Renders a template into an HTML response.
pub fn render(template: &impl Template) -> Result<Response, PageError> {
    match template.render() {
        Ok(html) => Ok(Html(html).into_response()),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            Err(PageError::new(
                Tr::new(Locale::En),
                StatusCode::INTERNAL_SERVER_ERROR,
                "common.error.internal",
            ))
        }
    }
}

/// A page that cannot be shown: rendered as a small page in the viewer's language.
#[derive(Debug)]
pub enum PageError {
    /// An error page with this status and message key.
    Page {
        t: Tr,
        status: StatusCode,
        key: &'static str,
    },
    /// Go elsewhere instead (e.g. the login page).
    Redirect(String),
}

impl PageError {
    pub fn new(t: Tr, status: StatusCode, key: &'static str) -> PageError {
        PageError::Page { t, status, key }
    }

    /// The page for an API error.
    pub fn from_api(t: Tr, e: ApiError) -> PageError {
        let (status, key) = match e {
            ApiError::NotFound(_) | ApiError::BadRequest { .. } => {
                (StatusCode::NOT_FOUND, "common.error.not_found")
            }
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "common.error.forbidden"),
            ApiError::Unauthorized(_) => return PageError::Redirect("/login".into()),
            other => {
                tracing::error!(error = %other, "console page failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "common.error.internal")
            }
        };
        PageError::new(t, status, key)
    }
}

impl<E: Into<ApiError>> From<(Tr, E)> for PageError {
    fn from((t, e): (Tr, E)) -> Self {
        PageError::from_api(t, e.into())
    }
}

/// `templates/console/error.html`.
#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    t: Tr,
    head: Head,
    key: &'static str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Redirect(to) => Redirect::to(&to).into_response(),
            PageError::Page { t, status, key } => {
                let page = ErrorPage {
                    t,
                    head: Head::new(t, key),
                    key,
                };
                match page.render() {
                    Ok(html) => (status, Html(html)).into_response(),
                    Err(_) => status.into_response(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_in_the_viewers_zone_with_the_date_unless_today() {
        let tokyo = TimeZone::get("Asia/Tokyo").expect("zone");
        // 2026-11-25 23:30 UTC is 08:30 on the 26th in Tokyo.
        let at = 1_795_649_400_000;
        assert_eq!(format_time(&TimeZone::UTC, at, at + 60_000), "23:30");
        assert_eq!(format_time(&tokyo, at, at + 60_000), "08:30");
        // Two hours later it is the next day in UTC, still the same day in Tokyo.
        let later = at + 2 * 3_600_000;
        assert_eq!(format_time(&TimeZone::UTC, at, later), "2026-11-25 23:30");
        assert_eq!(format_time(&tokyo, at, later), "08:30");
    }
}
