//! Security headers. Every response gets `nosniff`; HTML pages also get a strict Content
//! Security Policy (no inline script or style, nothing from other origins except LINE's image
//! hosts) and may not be framed.

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// LINE's hosts for profile pictures, stickers and LINE emojis.
pub const LINE_IMAGE_HOSTS: &str =
    "https://profile.line-scdn.net https://stickershop.line-scdn.net https://obs.line-scdn.net";

/// The console's Content Security Policy.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: {LINE_IMAGE_HOSTS}; \
         media-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// Adds the security headers to a response (an `axum::middleware::map_response` function).
pub async fn headers(mut response: Response) -> Response {
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if is_html {
        if let Ok(csp) = HeaderValue::from_str(&content_security_policy()) {
            headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        // Pages show live, per-operator data: never from a shared cache.
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    response
}
