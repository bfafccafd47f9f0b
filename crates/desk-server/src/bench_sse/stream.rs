//! A minimal SSE client for the bench: reads `GET /api/v1/brands/{id}/events` and yields the
//! message ids of `message.created` events, without building a JSON tree per event (a run
//! parses about a million events a second).

use bytes::{Buf, BytesMut};

/// An open stream, read chunk by chunk.
pub struct SseStream {
    response: reqwest::Response,
    buffer: BytesMut,
}

impl SseStream {
    /// Opens the stream; fails unless the server answers 200.
    pub async fn open(
        http: &reqwest::Client,
        base: &str,
        brand: &str,
        token: &str,
    ) -> anyhow::Result<SseStream> {
        let response = http
            .get(format!("{base}/api/v1/brands/{brand}/events"))
            .bearer_auth(token)
            .header("accept", "text/event-stream")
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "events stream refused: {}",
            response.status()
        );
        Ok(SseStream {
            response,
            buffer: BytesMut::new(),
        })
    }

    /// Reads what arrived and appends the message ids of its complete `message.created`
    /// frames to `out`. `Ok(false)`: the server closed the stream.
    pub async fn read(&mut self, out: &mut Vec<u128>) -> anyhow::Result<bool> {
        let Some(chunk) = self.response.chunk().await? else {
            return Ok(false);
        };
        self.buffer.extend_from_slice(&chunk);
        while let Some(end) = find(&self.buffer, b"\n\n") {
            if let Some(id) = created_message_id(&self.buffer[..end]) {
                out.push(id);
            }
            self.buffer.advance(end + 2);
        }
        Ok(true)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The `payload.message_id` (a UUID, as its 128 bits) of a `message.created` frame; `None`
/// for any other frame.
fn created_message_id(frame: &[u8]) -> Option<u128> {
    let text = std::str::from_utf8(frame).ok()?;
    let mut created = false;
    let mut data = None;
    for line in text.lines() {
        if let Some(kind) = line.strip_prefix("event:") {
            created = kind.trim() == "message.created";
        } else if let Some(d) = line.strip_prefix("data:") {
            data = Some(d);
        }
    }
    const KEY: &str = "\"message_id\":\"";
    let data = data.filter(|_| created)?;
    let start = data.find(KEY)? + KEY.len();
    let len = data[start..].find('"')?;
    uuid::Uuid::try_parse(&data[start..start + len])
        .ok()
        .map(|id| id.as_u128())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_message_ids_of_created_frames_only() {
        let frame = b"id: 7\nevent: message.created\ndata: {\"id\":7,\"payload\":{\"message_id\":\"00000000-0000-0000-0000-0000000000ab\",\"conversation_id\":\"x\"}}";
        assert_eq!(created_message_id(frame), Some(0xab));
        let other =
            b"id: 8\nevent: conversation.opened\ndata: {\"payload\":{\"message_id\":\"no\"}}";
        assert_eq!(created_message_id(other), None);
        assert_eq!(created_message_id(b": keep-alive"), None);
        assert_eq!(find(b"ab\n\ncd", b"\n\n"), Some(2));
    }
}
