//! The operator console: server-rendered pages (askama templates), first-party ES modules and
//! CSS compiled into the binary, message catalogs in English and Japanese.
//!
//! # Adding a page (for other modules)
//!
//! 1. Write a template under `templates/`, extending the layout:
//!    ```text
//!    {% extends "console/settings.html" %}   (or "console/app.html" for a full-width page)
//!    {% block settings %} … {{ t.get("myarea.title") }} … {% endblock %}
//!    ```
//!    Every string comes from the catalog: `t.get("key")`, `t.fmt1("key", "name", value)`.
//!    Never mark user data `|safe`.
//! 2. Give the template struct two fields the layout reads, `t: Tr` and `layout: Layout`, and
//!    build them in the handler from the logged-in [`Viewer`]:
//!    ```ignore
//!    async fn page(State(state): State<AppState>, viewer: Viewer, Path(brand): Path<String>)
//!        -> Result<Response, PageError> {
//!        let brand = viewer.brand(&state, &brand).await?;
//!        let layout = Layout::settings(&state, &viewer, &brand, "channels", "myarea.title").await?;
//!        render(&MyPage { t: viewer.tr(), layout, … })
//!    }
//!    ```
//!    A settings page also adds one line to [`layout::SETTINGS_PAGES`] for the sidebar.
//! 3. Strings: create `i18n/en/<area>.json` and `i18n/ja/<area>.json` (flat keys starting with
//!    `<area>.`, the same keys and `{placeholders}` in both) and add `catalog!("<area>")` to
//!    [`i18n::CATALOGS`]. `cargo test -p desk-server console::i18n` checks both languages.
//! 4. Scripts and styles: files under `assets/`, one line each in [`assets::ASSETS`]; load a
//!    module with `<script type="module" src="{{ layout.asset("js/x.js") }}"></script>` in the
//!    template's `scripts` block. No inline script or style (the CSP forbids them). Scripts get
//!    strings with `t("key")` from `./i18n.js` and call the API with `api()` from `./api.js`
//!    (it sends the CSRF header). Build DOM with `el()` from `./dom.js` (textContent), never
//!    from HTML strings holding data.
//! 5. Forms that change settings can post JSON to the API without writing a script: see
//!    `assets/js/forms.js` (`<form data-json-form data-method="PUT" data-action="/api/v1/…">`).

pub mod assets;
pub mod bot;
pub mod channel_pages;
pub mod courtesy;
pub mod i18n;
pub mod layout;
pub mod pages;
pub mod security;
pub mod settings;
pub mod stickers;
pub mod view;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub use i18n::{Locale, Tr};
pub use layout::{Layout, PageError, Viewer, render};

/// The console's routes: pages, their HTML fragments, assets and catalogs.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/assets/{version}/{*path}", get(assets::serve))
        .route("/console/i18n/{file}", get(pages::catalog_json))
        .merge(pages::routes())
        .merge(settings::routes())
        .merge(channel_pages::routes())
        .merge(bot::routes())
}
