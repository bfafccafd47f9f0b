//! Validation of request bodies the desk sends, reporting LINE-style `details`
//! (`{"message": "May not be empty", "property": "messages[0].text"}`).
//!
//! Message objects follow `messaging-api.yml`'s `Message` schemas (required fields per type)
//! plus the documented limits (text ≤ 5,000 UTF-16 code units, URLs HTTPS and ≤ 2,000 chars,
//! 1–5 messages, quick reply ≤ 13 items, sender name ≤ 20 chars).

use serde_json::Value;

use crate::error::Detail;

/// Message types the Messaging API accepts (`Message.discriminator.mapping`).
pub(crate) const MESSAGE_TYPES: &[&str] = &[
    "text", "textV2", "sticker", "image", "video", "audio", "location", "imagemap", "template",
    "flex", "coupon",
];

/// Message types that get a `quoteToken` in `sentMessages`.
pub(crate) fn is_quotable(msg_type: &str) -> bool {
    matches!(msg_type, "text" | "textV2" | "sticker" | "image" | "video")
}

const MAY_NOT_BE_EMPTY: &str = "May not be empty";
const MAX_TEXT: usize = 5_000;
const MAX_URL: usize = 2_000;

/// Length in UTF-16 code units, as LINE counts text.
pub(crate) fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

fn length_msg(max: usize) -> String {
    format!("Length must be between 0 and {max}")
}

/// Whether `url` is acceptable where LINE requires HTTPS: any `https://` URL, or `http://` to
/// the local machine (so tests can serve media).
pub(crate) fn is_acceptable_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let (rest, https) = if let Some(r) = lower.strip_prefix("https://") {
        (r, true)
    } else if let Some(r) = lower.strip_prefix("http://") {
        (r, false)
    } else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(stripped) = host_port.strip_prefix('[') {
        stripped.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    if host.is_empty() || url.chars().any(char::is_whitespace) {
        return false;
    }
    https || matches!(host, "127.0.0.1" | "localhost" | "::1")
}

/// Collects details for one request body.
pub(crate) struct Checker<'q> {
    pub details: Vec<Detail>,
    /// Decides whether a `quoteToken` is valid for the sending channel.
    quote_ok: &'q dyn Fn(&str) -> bool,
}

impl<'q> Checker<'q> {
    pub(crate) fn new(quote_ok: &'q dyn Fn(&str) -> bool) -> Self {
        Self {
            details: Vec::new(),
            quote_ok,
        }
    }

    fn err(&mut self, message: impl Into<String>, property: impl Into<String>) {
        self.details.push(Detail::new(message, property));
    }

    /// A required non-empty string field; returns it when present.
    pub(crate) fn required_str<'v>(
        &mut self,
        obj: &'v Value,
        field: &str,
        path: &str,
    ) -> Option<&'v str> {
        let prop = join(path, field);
        match obj.get(field) {
            None | Some(Value::Null) => {
                self.err(MAY_NOT_BE_EMPTY, prop);
                None
            }
            Some(Value::String(s)) if s.is_empty() => {
                self.err(MAY_NOT_BE_EMPTY, prop);
                None
            }
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.err("Must be a string", prop);
                None
            }
        }
    }

    fn optional_str<'v>(&mut self, obj: &'v Value, field: &str, path: &str) -> Option<&'v str> {
        match obj.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.err("Must be a string", join(path, field));
                None
            }
        }
    }

    fn max_len(&mut self, value: Option<&str>, max: usize, prop: String) {
        if let Some(v) = value
            && utf16_len(v) > max
        {
            self.err(length_msg(max), prop);
        }
    }

    fn url(&mut self, obj: &Value, field: &str, path: &str) {
        let prop = join(path, field);
        if let Some(u) = self.required_str(obj, field, path) {
            if utf16_len(u) > MAX_URL {
                self.err(length_msg(MAX_URL), prop);
            } else if !is_acceptable_url(u) {
                self.err("Must be a valid HTTPS URL", prop);
            }
        }
    }

    fn number(&mut self, obj: &Value, field: &str, path: &str) {
        match obj.get(field) {
            None | Some(Value::Null) => self.err(MAY_NOT_BE_EMPTY, join(path, field)),
            Some(Value::Number(_)) => {}
            Some(_) => self.err("Must be a number", join(path, field)),
        }
    }

    fn object<'v>(&mut self, obj: &'v Value, field: &str, path: &str) -> Option<&'v Value> {
        match obj.get(field) {
            None | Some(Value::Null) => {
                self.err(MAY_NOT_BE_EMPTY, join(path, field));
                None
            }
            Some(v @ Value::Object(_)) => Some(v),
            Some(_) => {
                self.err("Must be an object", join(path, field));
                None
            }
        }
    }

    fn quote_token(&mut self, msg: &Value, path: &str) {
        if let Some(q) = self.optional_str(msg, "quoteToken", path)
            && !(self.quote_ok)(q)
        {
            self.err("Invalid quote token", join(path, "quoteToken"));
        }
    }

    fn one_of(&mut self, value: Option<&str>, allowed: &[&str], prop: String) {
        if let Some(v) = value
            && !allowed.contains(&v)
        {
            self.err(
                format!(
                    "Must be one of the following values: [{}]",
                    allowed.join(", ")
                ),
                prop,
            );
        }
    }

    /// Template and flex messages: a required `altText` of at most `alt_max`, and a required
    /// object `field` whose own `type` is one of `types`.
    fn alt_text_and_typed_object(
        &mut self,
        msg: &Value,
        path: &str,
        alt_max: usize,
        field: &str,
        types: &[&str],
    ) {
        let alt = self.required_str(msg, "altText", path);
        self.max_len(alt, alt_max, join(path, "altText"));
        if let Some(object) = self.object(msg, field, path) {
            let p = join(path, field);
            let ty = self.required_str(object, "type", &p);
            self.one_of(ty, types, join(&p, "type"));
        }
    }

    /// Validates the `messages` array of a reply or push body.
    pub(crate) fn messages(&mut self, body: &Value) {
        let messages = match body.get("messages") {
            None | Some(Value::Null) => {
                self.err(MAY_NOT_BE_EMPTY, "messages");
                return;
            }
            Some(Value::Array(a)) => a,
            Some(_) => {
                self.err("Must be an array", "messages");
                return;
            }
        };
        if messages.is_empty() || messages.len() > 5 {
            self.err("Size must be between 1 and 5", "messages");
            return;
        }
        for (i, msg) in messages.iter().enumerate() {
            self.message(msg, &format!("messages[{i}]"));
        }
    }

    fn message(&mut self, msg: &Value, path: &str) {
        if !msg.is_object() {
            self.err("Must be an object", path);
            return;
        }
        let Some(ty) = self.required_str(msg, "type", path) else {
            return;
        };
        match ty {
            "text" | "textV2" => {
                let text = self.required_str(msg, "text", path);
                self.max_len(text, MAX_TEXT, join(path, "text"));
                if ty == "text"
                    && let Some(emojis) = msg.get("emojis")
                {
                    match emojis.as_array() {
                        Some(a) if a.len() > 20 => {
                            self.err("Size must be between 0 and 20", join(path, "emojis"));
                        }
                        Some(_) => {}
                        None => self.err("Must be an array", join(path, "emojis")),
                    }
                }
                if ty == "textV2"
                    && let Some(sub) = msg.get("substitution")
                    && !sub.is_object()
                {
                    self.err("Must be an object", join(path, "substitution"));
                }
                self.quote_token(msg, path);
            }
            "sticker" => {
                self.required_str(msg, "packageId", path);
                self.required_str(msg, "stickerId", path);
                self.quote_token(msg, path);
            }
            "image" => {
                self.url(msg, "originalContentUrl", path);
                self.url(msg, "previewImageUrl", path);
            }
            "video" => {
                self.url(msg, "originalContentUrl", path);
                self.url(msg, "previewImageUrl", path);
                let tracking = self.optional_str(msg, "trackingId", path);
                self.max_len(tracking, 100, join(path, "trackingId"));
            }
            "audio" => {
                self.url(msg, "originalContentUrl", path);
                match msg.get("duration") {
                    None | Some(Value::Null) => self.err(MAY_NOT_BE_EMPTY, join(path, "duration")),
                    Some(Value::Number(n)) if n.as_u64().is_some_and(|d| d > 0) => {}
                    Some(_) => self.err("Must be a positive integer", join(path, "duration")),
                }
            }
            "location" => {
                let title = self.required_str(msg, "title", path);
                self.max_len(title, 100, join(path, "title"));
                let address = self.required_str(msg, "address", path);
                self.max_len(address, 100, join(path, "address"));
                self.number(msg, "latitude", path);
                self.number(msg, "longitude", path);
            }
            "imagemap" => {
                self.url(msg, "baseUrl", path);
                let alt = self.required_str(msg, "altText", path);
                self.max_len(alt, 1_500, join(path, "altText"));
                if let Some(size) = self.object(msg, "baseSize", path) {
                    let p = join(path, "baseSize");
                    self.number(size, "width", &p);
                    self.number(size, "height", &p);
                }
                match msg.get("actions") {
                    None | Some(Value::Null) => self.err(MAY_NOT_BE_EMPTY, join(path, "actions")),
                    Some(Value::Array(a)) if a.len() > 50 => {
                        self.err("Size must be between 0 and 50", join(path, "actions"));
                    }
                    Some(Value::Array(_)) => {}
                    Some(_) => self.err("Must be an array", join(path, "actions")),
                }
            }
            "template" => self.alt_text_and_typed_object(
                msg,
                path,
                400,
                "template",
                &["buttons", "confirm", "carousel", "image_carousel"],
            ),
            "flex" => {
                self.alt_text_and_typed_object(
                    msg,
                    path,
                    1_500,
                    "contents",
                    &["bubble", "carousel"],
                );
            }
            "coupon" => {
                self.required_str(msg, "couponId", path);
                let tag = self.optional_str(msg, "deliveryTag", path);
                self.max_len(tag, 30, join(path, "deliveryTag"));
            }
            _ => {
                self.one_of(Some(ty), MESSAGE_TYPES, join(path, "type"));
                return;
            }
        }
        if let Some(qr) = msg.get("quickReply") {
            let p = join(path, "quickReply");
            match qr.get("items") {
                Some(Value::Array(items)) if items.len() > 13 => {
                    self.err("Size must be between 0 and 13", join(&p, "items"));
                }
                Some(Value::Array(_)) => {}
                _ => self.err(MAY_NOT_BE_EMPTY, join(&p, "items")),
            }
        }
        if let Some(sender) = msg.get("sender") {
            let p = join(path, "sender");
            let name = self.optional_str(sender, "name", &p);
            self.max_len(name, 20, join(&p, "name"));
            if let Some(icon) = self.optional_str(sender, "iconUrl", &p)
                && !is_acceptable_url(icon)
            {
                self.err("Must be a valid HTTPS URL", join(&p, "iconUrl"));
            }
        }
    }

    /// `notificationDisabled`, when present, must be a boolean.
    pub(crate) fn notification_disabled(&mut self, body: &Value) {
        if let Some(v) = body.get("notificationDisabled")
            && !v.is_boolean()
            && !v.is_null()
        {
            self.err("Must be a boolean", "notificationDisabled");
        }
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(body: Value) -> Vec<(String, Option<String>)> {
        let ok = |_: &str| true;
        let mut c = Checker::new(&ok);
        c.messages(&body);
        c.details
            .into_iter()
            .map(|d| (d.message, d.property))
            .collect()
    }

    #[test]
    fn text_limits_count_utf16() {
        // "𠮷" is one char but two UTF-16 code units.
        let ok = "𠮷".repeat(2_500);
        assert!(check(json!({"messages": [{"type": "text", "text": ok}]})).is_empty());
        let too_long = format!("{ok}a");
        assert_eq!(
            check(json!({"messages": [{"type": "text", "text": too_long}]})),
            vec![(
                "Length must be between 0 and 5000".into(),
                Some("messages[0].text".into())
            )]
        );
    }

    #[test]
    fn required_fields_per_type() {
        let d = check(json!({"messages": [
            {"type": "text", "text": ""},
            {"type": "sticker", "packageId": "1"},
            {"type": "image", "originalContentUrl": "http://example.com/a.jpg"},
            {"type": "audio", "originalContentUrl": "https://example.com/a.m4a"},
            {"type": "nope"},
        ]}));
        let props: Vec<_> = d.iter().filter_map(|(_, p)| p.clone()).collect();
        assert_eq!(
            props,
            vec![
                "messages[0].text",
                "messages[1].stickerId",
                "messages[2].originalContentUrl",
                "messages[2].previewImageUrl",
                "messages[3].duration",
                "messages[4].type",
            ]
        );
    }

    #[test]
    fn urls() {
        assert!(is_acceptable_url("https://example.com/x.jpg"));
        assert!(is_acceptable_url("http://127.0.0.1:8080/x.jpg"));
        assert!(is_acceptable_url("http://localhost/x.jpg"));
        assert!(is_acceptable_url("http://[::1]:9/x"));
        assert!(!is_acceptable_url("http://example.com/x.jpg"));
        assert!(!is_acceptable_url("ftp://example.com/x.jpg"));
        assert!(!is_acceptable_url("https://"));
    }

    #[test]
    fn message_count() {
        assert_eq!(
            check(json!({"messages": []})),
            vec![(
                "Size must be between 1 and 5".into(),
                Some("messages".into())
            )]
        );
        let six: Vec<Value> = (0..6).map(|_| json!({"type":"text","text":"x"})).collect();
        assert_eq!(check(json!({ "messages": six })).len(), 1);
        assert_eq!(
            check(json!({})),
            vec![("May not be empty".into(), Some("messages".into()))]
        );
    }
}
