//! `GET /api/v1/brands/{id}/events`: a brand's realtime log as Server-Sent Events.
//!
//! Each SSE event is one row of the events table: `id:` is `events.id`, `event:` its kind,
//! `data:` the row as JSON. A client that reconnects with `Last-Event-ID` (browsers'
//! `EventSource` does so by itself) first gets every event after that id from the table, then
//! live ones, with none missing or repeated across the switch (see [`crate::hub`]). Clients
//! that cannot set headers may pass `?last_event_id=` instead; the header wins when both are
//! present, because `EventSource` keeps the URL of the first request but sends a fresher
//! header on every reconnect.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;
use desk_core::BrandId;
use serde::Deserialize;
use tokio::time::{Instant, MissedTickBehavior};

use crate::error::ApiError;
use crate::http::auth::ApiOperator;
use crate::http::event_scope::DepartmentScope;
use crate::hub::Subscription;
use crate::state::AppState;

/// Proxies and load balancers drop connections that stay silent; a comment this often keeps
/// an idle stream open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The header browsers send when they reconnect.
const LAST_EVENT_ID: &str = "last-event-id";

pub fn routes() -> Router<AppState> {
    Router::new().route("/brands/{id}/events", get(stream))
}

/// Query of `GET /brands/{id}/events`.
#[derive(Debug, Deserialize)]
struct StreamParams {
    last_event_id: Option<String>,
}

/// Where replay starts: the `Last-Event-ID` header, else the `last_event_id` query parameter.
fn last_event_id(headers: &HeaderMap, params: &StreamParams) -> Result<Option<i64>, ApiError> {
    let (field, value) = match headers.get(LAST_EVENT_ID) {
        Some(header) => (
            "Last-Event-ID",
            header
                .to_str()
                .map_err(|_| ApiError::bad_request("Last-Event-ID", "must be a number"))?,
        ),
        None => match &params.last_event_id {
            Some(query) => ("last_event_id", query.as_str()),
            None => return Ok(None),
        },
    };
    let value = value.trim();
    if value.is_empty() {
        // EventSource sends an empty header when no event carried an id yet.
        return Ok(None);
    }
    value
        .parse::<i64>()
        .ok()
        .filter(|id| *id >= 0)
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                field,
                format!("`{value}` is not an event id (a non-negative integer)"),
            )
        })
}

/// `GET /brands/{id}/events` (`text/event-stream`).
#[tracing::instrument(skip_all, fields(operator = %op.0.id, brand = %id))]
async fn stream(
    State(state): State<AppState>,
    op: ApiOperator,
    Path(id): Path<String>,
    Query(params): Query<StreamParams>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let brand: BrandId = id
        .parse()
        .map_err(|e| ApiError::bad_request("id", format!("`{id}` is not valid: {e}")))?;
    op.require_brand(brand)?;
    let last = last_event_id(&headers, &params)?;
    if !state
        .store
        .list_brands()
        .await?
        .iter()
        .any(|b| b.id == brand)
    {
        return Err(ApiError::NotFound("brand"));
    }
    // Subscribe here, before the response goes out: once a client sees the headers, nothing
    // committed afterwards can be missed.
    let subscription = state.hub.subscribe(brand, last);
    // Operators follow their departments' chats only.
    let scope = op
        .access()
        .department_filter()
        .map(|d| DepartmentScope::new(d.to_vec()));
    let span = tracing::info_span!("sse", operator = %op.0.id, %brand, last_event_id = last);
    tracing::debug!(parent: &span, "SSE stream opened");
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            // Tells nginx-like proxies not to buffer the stream.
            (
                HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        Body::from_stream(sse_body(scope, subscription, span)),
    ))
}

/// The response body: each event exactly as the hub encoded it (shared bytes: nothing is
/// encoded or copied per stream, and events that are ready together go out in one write),
/// plus a comment every [`KEEP_ALIVE`]; with a `scope`, only the events it allows. Ends when
/// the hub stops.
fn sse_body(
    scope: Option<DepartmentScope>,
    subscription: Subscription,
    span: tracing::Span,
) -> impl futures::Stream<Item = Result<Bytes, Infallible>> {
    let mut keep_alive = tokio::time::interval_at(Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    keep_alive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    futures::stream::unfold(
        (subscription, keep_alive, span, scope),
        |(mut subscription, mut keep_alive, span, mut scope)| {
            async move {
                let chunk = loop {
                    let chunk = tokio::select! {
                    next = subscription.next() => match next {
                        Ok(Some(frame)) => {
                            if let Some(scope) = &mut scope
                                && !scope.allows(&frame)
                            {
                                continue;
                            }
                            frame.sse
                        }
                        Ok(None) => return None,
                        Err(e) => {
                            // End the stream: the client reconnects with its Last-Event-ID and
                            // loses nothing.
                            tracing::warn!(parent: &span, error = %e, "SSE stream ended: reading events failed");
                            return None;
                        }
                    },
                    _ = keep_alive.tick() => Bytes::from_static(b": keep-alive\n\n"),
                    };
                    break chunk;
                };
                Some((Ok(chunk), (subscription, keep_alive, span, scope)))
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: Option<&str>) -> StreamParams {
        StreamParams {
            last_event_id: q.map(str::to_owned),
        }
    }

    #[test]
    fn the_header_wins_over_the_query() {
        let mut headers = HeaderMap::new();
        assert_eq!(last_event_id(&headers, &params(None)).expect("ok"), None);
        assert_eq!(
            last_event_id(&headers, &params(Some("7"))).expect("ok"),
            Some(7)
        );
        headers.insert(LAST_EVENT_ID, HeaderValue::from_static("42"));
        assert_eq!(
            last_event_id(&headers, &params(Some("7"))).expect("ok"),
            Some(42)
        );
        headers.insert(LAST_EVENT_ID, HeaderValue::from_static(""));
        assert_eq!(last_event_id(&headers, &params(None)).expect("ok"), None);
        headers.insert(LAST_EVENT_ID, HeaderValue::from_static("-1"));
        assert!(last_event_id(&headers, &params(None)).is_err());
        assert!(last_event_id(&HeaderMap::new(), &params(Some("x"))).is_err());
    }
}
