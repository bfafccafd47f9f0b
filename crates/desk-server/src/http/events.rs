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
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::IntoResponse;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use desk_core::BrandId;
use serde::Deserialize;
use tracing::Instrument as _;

use crate::error::ApiError;
use crate::http::auth::ApiOperator;
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
    if !op.may_see(brand) {
        return Err(ApiError::Forbidden("this brand is not yours"));
    }
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
    let shutdown = state.hub.shutdown().clone();
    let span = tracing::info_span!("sse", operator = %op.0.id, %brand, last_event_id = last);
    tracing::debug!(parent: &span, "SSE stream opened");
    let events = futures::stream::unfold(
        (subscription, shutdown),
        move |(mut subscription, shutdown)| {
            async move {
                let next = tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    next = subscription.next() => next,
                };
                match next {
                    Ok(Some(frame)) => {
                        let event = SseEvent::default()
                            .id(frame.id.to_string())
                            .event(frame.kind)
                            .data(frame.data);
                        Some((Ok::<_, Infallible>(event), (subscription, shutdown)))
                    }
                    Ok(None) => None,
                    Err(e) => {
                        // End the stream: the client reconnects with its Last-Event-ID and
                        // loses nothing.
                        tracing::warn!(error = %e, "SSE stream ended: reading events failed");
                        None
                    }
                }
            }
            .instrument(span.clone())
        },
    );
    Ok((
        // Tells nginx-like proxies not to buffer the stream.
        [(
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        )],
        Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)),
    ))
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
