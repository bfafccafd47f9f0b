//! What an admin types to connect a LINE channel, validated before anything is sent to LINE:
//! the Channel ID and Channel secret from the LINE Developers Console, and the account's
//! basic ID from which the add-friend link is made.

use crate::Secret;

/// Why a value typed into the connect form is not acceptable; `field` names the form field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SetupError {
    pub field: &'static str,
    pub message: &'static str,
}

impl SetupError {
    /// Makes the errors of one field.
    fn on(field: &'static str) -> impl Fn(&'static str) -> SetupError {
        move |message| SetupError { field, message }
    }
}

/// A LINE Channel ID: digits only (LINE's are 10 digits; up to 20 are accepted).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct LineChannelId(String);

impl LineChannelId {
    /// Parses what was typed (surrounding spaces ignored).
    pub fn parse(input: &str) -> Result<Self, SetupError> {
        let id = input.trim();
        let error = SetupError::on("channel_id");
        if id.is_empty() {
            return Err(error(
                "enter the Channel ID from the LINE Developers Console (Basic settings)",
            ));
        }
        if !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error("a Channel ID is digits only"));
        }
        if id.len() > 20 {
            return Err(error("a Channel ID has at most 20 digits"));
        }
        Ok(Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for LineChannelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a Channel secret: 32 hexadecimal characters (surrounding spaces ignored).
pub fn parse_channel_secret(input: &str) -> Result<Secret, SetupError> {
    let secret = input.trim();
    let error = SetupError::on("channel_secret");
    if secret.is_empty() {
        return Err(error(
            "enter the Channel secret from the LINE Developers Console (Basic settings)",
        ));
    }
    if secret.len() != 32 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(error(
            "a Channel secret is 32 hexadecimal characters (0-9, a-f)",
        ));
    }
    Ok(Secret::new(secret.to_ascii_lowercase()))
}

/// A LINE Official Account's basic ID as LINE reports it, e.g. `@123abcde`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct BasicId(String);

impl BasicId {
    /// A basic (or premium) ID: `@` followed by at least one character, no spaces.
    pub fn parse(input: &str) -> Result<Self, SetupError> {
        let error = SetupError::on("basic_id");
        match input.strip_prefix('@') {
            Some(rest) if !rest.is_empty() && !rest.chars().any(char::is_whitespace) => {
                Ok(Self(input.to_owned()))
            }
            _ => Err(error("a LINE ID starts with @ and has no spaces")),
        }
    }

    /// With its leading `@`, as printed on flyers.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The link that opens "add friend" in LINE: `https://line.me/R/ti/p/%40{id}`, the ID
    /// without its `@` and percent-encoded.
    pub fn add_friend_url(&self) -> String {
        let mut url = String::from("https://line.me/R/ti/p/%40");
        for b in self.0[1..].bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                url.push(char::from(b));
            } else {
                url.push_str(&format!("%{b:02X}"));
            }
        }
        url
    }
}

impl std::fmt::Display for BasicId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_ids_are_digits() {
        assert_eq!(
            LineChannelId::parse(" 1650000001 ").expect("ok").as_str(),
            "1650000001"
        );
        for bad in ["", "12a4", "1".repeat(21).as_str(), "-1"] {
            let e = LineChannelId::parse(bad).expect_err(bad);
            assert_eq!(e.field, "channel_id");
        }
    }

    #[test]
    fn secrets_are_32_hex_characters() {
        let s = parse_channel_secret("8F14E45FCEEA167A5A36DEDD4BEA2543").expect("ok");
        assert_eq!(s.expose(), "8f14e45fceea167a5a36dedd4bea2543");
        for bad in ["", "8f14e45f", "zf14e45fceea167a5a36dedd4bea2543"] {
            assert_eq!(
                parse_channel_secret(bad).expect_err(bad).field,
                "channel_secret"
            );
        }
    }

    #[test]
    fn add_friend_url_drops_the_at_and_encodes() {
        let id = BasicId::parse("@123abcde").expect("ok");
        assert_eq!(id.add_friend_url(), "https://line.me/R/ti/p/%40123abcde");
        let odd = BasicId::parse("@shop+jp").expect("ok");
        assert_eq!(odd.add_friend_url(), "https://line.me/R/ti/p/%40shop%2Bjp");
        assert!(BasicId::parse("123").is_err());
        assert!(BasicId::parse("@").is_err());
    }
}
