//! First-party CSS, JavaScript modules and images, compiled into the binary.
//!
//! Every file is served under `/assets/{version}/{path}`, where `version` is a hash of all
//! the files together: a new build gets new URLs, so responses can be cached forever
//! (`immutable`), and ES modules keep importing each other by relative path
//! (`import { t } from "./i18n.js"`) without a bundler or an import map.
//!
//! To add a file, put it under `assets/` and add one line to [`ASSETS`].

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::i18n::hex8;

/// One embedded file: `(path under assets/, content type, bytes)`.
macro_rules! asset {
    ($path:literal, $type:literal) => {
        (
            $path,
            $type,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $path)).as_slice(),
        )
    };
}

/// Every asset. Add yours here (one line).
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("js/api.js", "text/javascript; charset=utf-8"),
    asset!("js/i18n.js", "text/javascript; charset=utf-8"),
    asset!("js/dom.js", "text/javascript; charset=utf-8"),
    asset!("js/layout.js", "text/javascript; charset=utf-8"),
    asset!("js/chats.js", "text/javascript; charset=utf-8"),
    asset!("js/live.js", "text/javascript; charset=utf-8"),
    asset!("js/composer.js", "text/javascript; charset=utf-8"),
    asset!("js/shortcuts.js", "text/javascript; charset=utf-8"),
    asset!("js/forms.js", "text/javascript; charset=utf-8"),
    asset!("js/channels.js", "text/javascript; charset=utf-8"),
    asset!("js/bot.js", "text/javascript; charset=utf-8"),
    asset!("channels.css", "text/css; charset=utf-8"),
    asset!("sounds/new-chat.wav", "audio/wav"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// The hash of all assets together: the `{version}` in their URLs.
pub static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hasher = Sha256::new();
    for (path, _, bytes) in ASSETS {
        hasher.update(path.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hex8(&hasher.finalize())
});

/// The URL of an asset, for templates: `{{ asset("console.css") }}`.
pub fn url(path: &str) -> String {
    format!("/assets/{}/{path}", *VERSION)
}

/// `GET /assets/{version}/{*path}`. A stale version (a page from an older build still open)
/// gets the current file without the long cache, so it is not pinned under the wrong URL.
pub async fn serve(Path((version, path)): Path<(String, String)>) -> Response {
    let Some((_, content_type, bytes)) = ASSETS.iter().find(|(p, _, _)| *p == path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let cache = if version == *VERSION {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        *bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_under_assets_is_listed() {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else if let Ok(rel) = path.strip_prefix(root) {
                    out.push(rel.display().to_string());
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
        let mut files = Vec::new();
        walk(&root, &root, &mut files);
        for file in files {
            assert!(
                ASSETS.iter().any(|(p, _, _)| *p == file),
                "assets/{file} is not in ASSETS, so it is not served"
            );
        }
    }

    #[test]
    fn scripts_use_no_html_sinks() {
        // User data reaches the page only through textContent / attributes set by DOM calls
        // or through server-rendered (escaped) fragments parsed inertly.
        for (path, _, bytes) in ASSETS.iter().filter(|(p, _, _)| p.ends_with(".js")) {
            let text = String::from_utf8_lossy(bytes);
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
            ] {
                assert!(!text.contains(sink), "assets/{path} uses {sink}");
            }
        }
    }
}
