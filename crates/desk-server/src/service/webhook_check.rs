//! The webhook step in words: whether LINE can reach this server at its public URL, and what
//! LINE's webhook test answered, as something an admin can act on.

use std::net::IpAddr;

use line_api::LineError;
use line_api::client::WebhookTestResult;
use serde::{Deserialize, Serialize};

/// Why LINE cannot reach this server at `LINEDESK_PUBLIC_URL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Reachability {
    /// `LINEDESK_PUBLIC_URL` is not set: no webhook URL can be built.
    NotSet,
    /// Not a URL.
    Invalid { url: String },
    /// LINE only calls `https://` webhooks.
    NotHttps { url: String },
    /// A name or address only this machine or its network knows.
    NotPublic { url: String, host: String },
}

/// How to fix any [`Reachability`] problem.
const FIX: &str = "Put linedesk behind a reverse proxy with an HTTPS certificate (for example Caddy or \
                   nginx) or a tunnel (for example cloudflared or ngrok), and set LINEDESK_PUBLIC_URL \
                   to that public https:// address.";

impl Reachability {
    /// English text for the JSON API (the console uses the catalog key `webhook.reach.<code>`).
    pub fn message(&self) -> String {
        let why = match self {
            Reachability::NotSet => "LINEDESK_PUBLIC_URL is not set".to_owned(),
            Reachability::Invalid { url } => format!("LINEDESK_PUBLIC_URL ({url}) is not a URL"),
            Reachability::NotHttps { url } => {
                format!("LINEDESK_PUBLIC_URL ({url}) is not an https:// URL")
            }
            Reachability::NotPublic { url, host } => format!(
                "LINEDESK_PUBLIC_URL ({url}) points at {host}, which is not reachable from the internet"
            ),
        };
        format!("LINE cannot reach this server: {why}. {FIX}")
    }
}

/// `None` when `public_url` looks reachable by LINE: https and a public host name or address.
pub fn reachability(public_url: Option<&str>) -> Option<Reachability> {
    let Some(url) = public_url else {
        return Some(Reachability::NotSet);
    };
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Some(Reachability::Invalid { url: url.into() });
    };
    let Some(host_str) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Some(Reachability::Invalid { url: url.into() });
    };
    let bare = host_str.trim_start_matches('[').trim_end_matches(']');
    let host = match bare.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) => Host::Name(bare.to_ascii_lowercase()),
    };
    let private = match &host {
        Host::Name(name) => {
            name == "localhost"
                || !name.contains('.')
                || [".localhost", ".local", ".internal", ".lan", ".home.arpa"]
                    .iter()
                    .any(|suffix| name.ends_with(suffix))
        }
        Host::Ip(ip) => !is_public(*ip),
    };
    if private {
        return Some(Reachability::NotPublic {
            url: url.into(),
            host: host_str.to_owned(),
        });
    }
    if parsed.scheme() != "https" {
        return Some(Reachability::NotHttps { url: url.into() });
    }
    None
}

enum Host {
    Name(String),
    Ip(IpAddr),
}

/// Whether an address is routable on the internet.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                // Carrier-grade NAT (100.64.0.0/10).
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                // Unique local (fc00::/7) and link-local (fe80::/10).
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// What LINE's webhook test found, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum TestOutcome {
    /// LINE reached the webhook and got a 2xx.
    Ok,
    /// No connection (DNS, refused, unreachable).
    CouldNotConnect,
    /// Connected, but no answer in time.
    Timeout,
    /// The webhook answered with this non-2xx status.
    ErrorStatus { status: i32 },
    /// The HTTPS handshake failed (certificate or TLS setup).
    Tls,
    /// LINE refused to set or test the URL; its message says why.
    Refused { message: String },
    /// Anything else LINE reported.
    Other { reason: String },
}

impl TestOutcome {
    /// Classifies LINE's `TestWebhookEndpointResponse`.
    pub fn from_result(result: &WebhookTestResult) -> Self {
        let text = format!("{} {}", result.reason, result.detail).to_ascii_lowercase();
        if result.success == Some(true) || (result.success.is_none() && result.reason == "OK") {
            return TestOutcome::Ok;
        }
        if ["tls", "ssl", "certificate", "handshake"]
            .iter()
            .any(|w| text.contains(w))
        {
            return TestOutcome::Tls;
        }
        match result.reason.as_str() {
            "COULD_NOT_CONNECT" => TestOutcome::CouldNotConnect,
            "REQUEST_TIMEOUT" => TestOutcome::Timeout,
            "ERROR_STATUS_CODE" => TestOutcome::ErrorStatus {
                status: result.status_code,
            },
            _ if result.status_code > 0 => TestOutcome::ErrorStatus {
                status: result.status_code,
            },
            other => TestOutcome::Other {
                reason: format!("{other}: {}", result.detail),
            },
        }
    }

    /// LINE answered a webhook call with an error (e.g. 400 "Invalid webhook endpoint URL").
    pub fn from_error(error: &LineError) -> Self {
        TestOutcome::Refused {
            message: error
                .api_message()
                .map_or_else(|| error.to_string(), str::to_owned),
        }
    }

    pub fn is_ok(&self) -> bool {
        *self == TestOutcome::Ok
    }

    /// English text for the JSON API (the console uses the catalog key `webhook.test.<code>`).
    pub fn message(&self) -> String {
        match self {
            TestOutcome::Ok => "OK: LINE reached the webhook.".into(),
            TestOutcome::CouldNotConnect => {
                "Could not connect: LINE found no server answering at the webhook URL.".into()
            }
            TestOutcome::Timeout => "Timeout: the webhook URL did not answer LINE in time.".into(),
            TestOutcome::ErrorStatus { status } => {
                format!("Error status {status}: the webhook URL answered LINE with HTTP {status}.")
            }
            TestOutcome::Tls => "TLS problem: LINE could not set up HTTPS with the webhook URL \
                                 (check the certificate: it must be valid and not self-signed)."
                .into(),
            TestOutcome::Refused { message } => {
                format!("LINE refused the webhook URL: {message}")
            }
            TestOutcome::Other { reason } => format!("The webhook test failed: {reason}"),
        }
    }
}

/// Said when LINE has the URL but does not send to it.
pub const INACTIVE: &str = "The webhook is switched off: in the LINE Developers Console, open the \
                            channel's Messaging API tab and switch \"Use webhook\" on, then test again.";

#[cfg(test)]
mod tests {
    use super::*;

    fn result(success: bool, status: i32, reason: &str, detail: &str) -> WebhookTestResult {
        WebhookTestResult {
            success: Some(success),
            timestamp: "2026-01-01T00:00:00.000Z".into(),
            status_code: status,
            reason: reason.into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn each_line_reason_has_words() {
        let cases = [
            (result(true, 200, "OK", "200"), TestOutcome::Ok),
            (
                result(false, 0, "COULD_NOT_CONNECT", "could not connect"),
                TestOutcome::CouldNotConnect,
            ),
            (
                result(false, 0, "REQUEST_TIMEOUT", "no response"),
                TestOutcome::Timeout,
            ),
            (
                result(false, 404, "ERROR_STATUS_CODE", "404 Not Found"),
                TestOutcome::ErrorStatus { status: 404 },
            ),
            (
                result(false, 0, "UNCLASSIFIED", "SSL handshake failed"),
                TestOutcome::Tls,
            ),
            (
                result(
                    false,
                    0,
                    "COULD_NOT_CONNECT",
                    "PKIX certificate path failed",
                ),
                TestOutcome::Tls,
            ),
        ];
        for (r, want) in cases {
            let got = TestOutcome::from_result(&r);
            assert_eq!(got, want, "{r:?}");
        }
        assert!(
            TestOutcome::ErrorStatus { status: 500 }
                .message()
                .contains("500")
        );
        assert!(matches!(
            TestOutcome::from_result(&result(false, 0, "UNCLASSIFIED", "odd")),
            TestOutcome::Other { .. }
        ));
    }

    #[test]
    fn public_urls_must_be_https_and_public() {
        assert_eq!(reachability(Some("https://desk.example.com")), None);
        assert_eq!(
            reachability(Some("https://203.0.113.9"))
                .map(|r| matches!(r, Reachability::NotPublic { .. })),
            Some(true)
        );
        assert_eq!(reachability(None), Some(Reachability::NotSet));
        assert!(matches!(
            reachability(Some("http://desk.example.com")),
            Some(Reachability::NotHttps { .. })
        ));
        for local in [
            "https://localhost:8080",
            "https://127.0.0.1",
            "https://192.168.1.20",
            "https://10.0.0.5",
            "https://172.20.0.1",
            "https://100.80.1.1",
            "https://[::1]:8443",
            "https://[fd00::1]",
            "https://deskbox",
            "https://desk.local",
            "http://127.0.0.1:9000",
        ] {
            assert!(
                matches!(
                    reachability(Some(local)),
                    Some(Reachability::NotPublic { .. })
                ),
                "{local}"
            );
        }
        assert!(matches!(
            reachability(Some("not a url")),
            Some(Reachability::Invalid { .. })
        ));
        let message = reachability(Some("http://127.0.0.1:8080"))
            .expect("problem")
            .message();
        assert!(
            message.contains("reverse proxy") && message.contains("tunnel"),
            "{message}"
        );
    }
}
