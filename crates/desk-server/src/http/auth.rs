//! Who is calling, and what they may reach.
//!
//! Two ways in:
//! - **API tokens**: `Authorization: Bearer ldk_…`, made by `linedesk user add` (or the demo).
//!   No CSRF check: a browser never sends this header on its own.
//! - **Console sessions**: the `linedesk_session` cookie set by `POST /login` (an opaque
//!   256-bit token; only its SHA-256 is stored). Because browsers send cookies on their own,
//!   every cookie-authenticated request that changes something (not GET/HEAD/OPTIONS) must
//!   carry the session's CSRF token in `X-CSRF-Token` (forms: the `_csrf` field).
//!
//! Sessions slide: each use moves the idle timeout ([`SESSION_IDLE_MS`]) forward, up to an
//! absolute end ([`SESSION_MAX_MS`] after login). Either extractor also builds the caller's
//! [`Access`], the policy every route asks before reading or changing anything.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use desk_core::time::{DAY, HOUR, MINUTE};
use desk_core::{Access, BrandId, Denied, Millis, OperatorId, Role};
use desk_store::{Operator, SessionRecord};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::ApiError;
use crate::state::AppState;

/// Name of the console session cookie.
pub const SESSION_COOKIE: &str = "linedesk_session";
/// Header carrying the CSRF token on cookie-authenticated changes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session unused this long ends.
pub const SESSION_IDLE_MS: Millis = 12 * HOUR;
/// A session ends this long after login, however active.
pub const SESSION_MAX_MS: Millis = 7 * DAY;
/// Last-seen is written at most this often per session, so reading a page is not a write.
const TOUCH_EVERY_MS: Millis = MINUTE;

const CSRF_REFUSED: &str = "CSRF token missing or wrong: send the session's token in X-CSRF-Token";

/// A fresh random secret (256 bits), URL-safe: session cookies, CSRF tokens, one-time links.
pub fn new_secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// A fresh random API token (256 bits) and the hash to store for it.
pub fn new_api_token() -> (String, Vec<u8>) {
    let token = format!("ldk_{}", new_secret());
    let hash = token_hash(&token);
    (token, hash)
}

/// What is stored for a token (API token, session cookie or one-time link).
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Compares secrets in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        ApiError::Forbidden(denied.0)
    }
}

/// The operator making an API request, by Bearer token or session cookie.
///
/// `op.0` is the [`Operator`]; [`ApiOperator::access`] answers what they may reach;
/// [`ApiOperator::csrf_token`] is the session's CSRF token when the request came with the
/// cookie (already checked on changes). Rejections: 401 without valid credentials, 403
/// "CSRF token missing or wrong" for a cookie-authenticated change without the token.
#[derive(Debug, Clone)]
pub struct ApiOperator(pub Operator, Caller);

/// How the caller signed in, and what they may reach.
#[derive(Debug, Clone)]
pub struct Caller {
    access: Access,
    session: Option<SessionKey>,
}

/// The cookie session behind a request.
#[derive(Debug, Clone)]
struct SessionKey {
    token_hash: Vec<u8>,
    csrf_token: String,
}

impl ApiOperator {
    /// The operator's id.
    pub fn id(&self) -> OperatorId {
        self.0.id
    }

    /// What this operator may see and change.
    pub fn access(&self) -> &Access {
        &self.1.access
    }

    /// The session's CSRF token, when signed in with the console cookie.
    pub fn csrf_token(&self) -> Option<&str> {
        self.1.session.as_ref().map(|s| s.csrf_token.as_str())
    }

    /// The hash of the session cookie, when signed in with it.
    pub fn session_hash(&self) -> Option<&[u8]> {
        self.1.session.as_ref().map(|s| s.token_hash.as_slice())
    }

    /// Refuses unless the operator is an admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        Ok(self.access().admin()?)
    }

    /// Refuses unless the operator may see this brand.
    pub fn require_brand(&self, brand: BrandId) -> Result<(), ApiError> {
        Ok(self.access().brand(brand)?)
    }

    /// Refuses unless the operator may change this brand's settings (admin, or its
    /// supervisor).
    pub fn require_manager(&self, brand: BrandId) -> Result<(), ApiError> {
        Ok(self.access().manage(brand)?)
    }
}

impl FromRequestParts<AppState> for ApiOperator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(header) = parts.headers.get(header::AUTHORIZATION) {
            let token = header
                .to_str()
                .ok()
                .and_then(|h| h.strip_prefix("Bearer "))
                .ok_or(ApiError::Unauthorized(
                    "Authorization header must be `Bearer <API token>`",
                ))?;
            let operator = state
                .store
                .operator_by_token_hash(&token_hash(token.trim()))
                .await?
                .ok_or(ApiError::Unauthorized("unknown API token"))?;
            let access = access_of(state, &operator).await?;
            return Ok(ApiOperator(
                operator,
                Caller {
                    access,
                    session: None,
                },
            ));
        }
        let Some((record, hash)) = live_session(&parts.headers, state).await? else {
            return Err(ApiError::Unauthorized(
                "not signed in: log in to the console, or send `Authorization: Bearer <API token>`",
            ));
        };
        if !is_safe(&parts.method) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same_secret(sent, &record.csrf_token) {
                return Err(ApiError::Forbidden(CSRF_REFUSED));
            }
        }
        let access = access_of(state, &record.operator).await?;
        Ok(ApiOperator(
            record.operator,
            Caller {
                access,
                session: Some(SessionKey {
                    token_hash: hash,
                    csrf_token: record.csrf_token,
                }),
            },
        ))
    }
}

/// A signed-in console user, from the session cookie only (for console pages).
///
/// When the cookie is missing, unknown or expired, the rejection is a `303 See Other` to
/// `/login?next=<the requested path and query>`. Forms posted by console pages must call
/// [`ConsoleSession::check_csrf`] with their `_csrf` field.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub operator: Operator,
    /// Put it in a `<meta>` for scripts (`X-CSRF-Token`) and in forms (`_csrf`).
    pub csrf_token: String,
    /// `en`, `ja`, or `None` to follow `Accept-Language`.
    pub locale: Option<String>,
    /// IANA time zone, or `None` to follow the browser.
    pub time_zone: Option<String>,
    /// What they may see and change.
    pub access: Access,
    token_hash: Vec<u8>,
}

impl ConsoleSession {
    /// Refuses a form whose `_csrf` field is not this session's token.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), ApiError> {
        if same_secret(submitted, &self.csrf_token) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(CSRF_REFUSED))
        }
    }

    /// The hash of the session cookie.
    pub fn session_hash(&self) -> &[u8] {
        &self.token_hash
    }
}

/// Why a console page was refused.
#[derive(Debug)]
pub enum ConsoleRejection {
    /// Not signed in: go to the login page, then come back to `next`.
    Login { next: String },
    /// The session could not be read.
    Failed(ApiError),
}

impl IntoResponse for ConsoleRejection {
    fn into_response(self) -> Response {
        match self {
            ConsoleRejection::Login { next } => {
                Redirect::to(&format!("/login?next={}", encode_component(&next))).into_response()
            }
            ConsoleRejection::Failed(e) => e.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for ConsoleSession {
    type Rejection = ConsoleRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let found = live_session(&parts.headers, state)
            .await
            .map_err(ConsoleRejection::Failed)?;
        let Some((record, token_hash)) = found else {
            let next = parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            return Err(ConsoleRejection::Login { next });
        };
        let access = access_of(state, &record.operator)
            .await
            .map_err(ConsoleRejection::Failed)?;
        Ok(ConsoleSession {
            operator: record.operator,
            csrf_token: record.csrf_token,
            locale: record.locale,
            time_zone: record.time_zone,
            access,
            token_hash,
        })
    }
}

/// The caller's access: an operator's reach depends on their department memberships.
pub async fn access_of(state: &AppState, operator: &Operator) -> Result<Access, ApiError> {
    let departments = match operator.role {
        Role::Operator => state.store.departments_of(operator.id).await?,
        Role::Admin | Role::Supervisor => Vec::new(),
    };
    Ok(Access::new(
        operator.id,
        operator.role,
        operator.brand_id.map(BrandId),
        departments,
    ))
}

/// The live session named by the request's cookie, with its token hash; slides its idle
/// timeout.
async fn live_session(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<Option<(SessionRecord, Vec<u8>)>, ApiError> {
    let Some(token) = session_cookie(headers) else {
        return Ok(None);
    };
    let hash = token_hash(token);
    let now = state.clock.now_ms();
    let Some(record) = state.store.session(&hash, now, SESSION_IDLE_MS).await? else {
        return Ok(None);
    };
    if now - record.last_seen_ms >= TOUCH_EVERY_MS {
        state.store.touch_session(&hash, now).await?;
    }
    Ok(Some((record, hash)))
}

/// The session token from the `Cookie` header(s), if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// `Set-Cookie` for a new session. `Secure` when the browser reached us over HTTPS.
pub fn set_session_cookie(token: &str, secure: bool) -> HeaderValue {
    cookie(token, SESSION_MAX_MS / 1000, secure)
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie(secure: bool) -> HeaderValue {
    cookie("", 0, secure)
}

fn cookie(value: &str, max_age_secs: Millis, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    );
    // The token is URL-safe base64 and the rest is fixed text, so this cannot fail.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether the browser reached us over HTTPS: a proxy said so, or the public URL is HTTPS.
pub fn over_https(headers: &HeaderMap, state: &AppState) -> bool {
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    forwarded
        || state
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
}

/// The client's address for rate limiting. Behind a reverse proxy on this machine (the peer
/// is a loopback address) the proxy's `X-Forwarded-For` names the client; from anywhere else
/// that header could be forged, so the peer address is used.
pub fn client_ip(headers: &HeaderMap, peer: Option<&ConnectInfo<SocketAddr>>) -> String {
    let peer = peer.map(|c| c.0.ip());
    if peer.is_none_or(|ip| ip.is_loopback())
        && let Some(forwarded) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    {
        return forwarded.to_owned();
    }
    peer.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// Whether a browser form post comes from this site. Browsers send `Origin` on every POST;
/// when it names another site (a forged login or logout form elsewhere), the post is refused.
/// Without the header (older clients, scripts) there is nothing to compare.
pub fn same_origin(headers: &HeaderMap, state: &AppState) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let from_host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|h| h.eq_ignore_ascii_case(host));
    let from_public = state.public_url.as_deref().is_some_and(|public| {
        public
            .trim_end_matches('/')
            .eq_ignore_ascii_case(origin.trim_end_matches('/'))
    });
    from_host || from_public
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Percent-encodes a query-string component.
pub fn encode_component(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether `next` is a safe place to send a browser after login: a path on this site
/// (`/…`), not `//host` or `/\host` (which browsers treat as another site).
pub fn safe_next(next: &str) -> Option<&str> {
    let rest = next.strip_prefix('/')?;
    let bad = rest.starts_with('/')
        || rest.starts_with('\\')
        || next.chars().any(|c| c.is_control() || c == '\\');
    (!bad).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        assert_eq!(session_cookie(&headers), None);
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; linedesk_session=abc_-1 ; x=y"),
        );
        assert_eq!(session_cookie(&headers), Some("abc_-1"));
        let mut empty = HeaderMap::new();
        empty.append(
            header::COOKIE,
            HeaderValue::from_static("linedesk_session="),
        );
        assert_eq!(session_cookie(&empty), None);
    }

    #[test]
    fn only_same_site_paths_are_followed() {
        assert_eq!(safe_next("/"), Some("/"));
        assert_eq!(safe_next("/brands/1?x=2"), Some("/brands/1?x=2"));
        for bad in [
            "",
            "https://evil.example",
            "//evil.example",
            "/\\evil",
            "x/y",
            "/a\nb",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cookies_are_http_only_and_lax() {
        let set = set_session_cookie("tok", true);
        let set = set.to_str().expect("ascii");
        assert!(set.starts_with("linedesk_session=tok; Path=/; HttpOnly; SameSite=Lax"));
        assert!(set.ends_with("; Secure"));
        let clear = clear_session_cookie(false);
        assert!(clear.to_str().expect("ascii").contains("Max-Age=0"));
        assert!(!clear.to_str().expect("ascii").contains("Secure"));
    }

    #[test]
    fn a_missing_session_sends_the_browser_to_login() {
        let response = ConsoleRejection::Login {
            next: "/brands/1?list=mine".into(),
        }
        .into_response();
        assert_eq!(response.status(), axum::http::StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers().get(header::LOCATION),
            Some(&HeaderValue::from_static(
                "/login?next=/brands/1%3Flist%3Dmine"
            ))
        );
    }

    #[test]
    fn next_is_encoded_for_the_login_redirect() {
        assert_eq!(encode_component("/a?b=c&d"), "/a%3Fb%3Dc%26d");
    }

    #[test]
    fn forwarded_for_is_trusted_only_from_loopback() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 10.0.0.9"),
        );
        let local = ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 5000)));
        let remote = ConnectInfo(SocketAddr::from(([203, 0, 113, 7], 5000)));
        assert_eq!(client_ip(&headers, Some(&local)), "10.0.0.9");
        assert_eq!(client_ip(&headers, Some(&remote)), "203.0.113.7");
    }
}
