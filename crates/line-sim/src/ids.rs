//! Generators for the opaque identifiers LINE hands out: user/group/room IDs, webhook event IDs
//! (ULID), reply/quote/mark-as-read tokens, access tokens and request IDs.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::Rng as _;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn hex32() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A random user ID in LINE's format: `U` followed by 32 lowercase hex digits.
pub fn user_id() -> String {
    format!("U{}", hex32())
}

/// A random group ID in LINE's format: `C` followed by 32 lowercase hex digits.
pub fn group_id() -> String {
    format!("C{}", hex32())
}

/// A random room ID in LINE's format: `R` followed by 32 lowercase hex digits.
pub fn room_id() -> String {
    format!("R{}", hex32())
}

/// A ULID (26 characters of Crockford base32, uppercase) whose time part is `ms`.
pub(crate) fn ulid(ms: i64) -> String {
    let time = u128::try_from(ms.max(0)).unwrap_or(0) & ((1u128 << 48) - 1);
    let random: u128 = rand::rng().random::<u128>() & ((1u128 << 80) - 1);
    let value = (time << 80) | random;
    (0..26)
        .rev()
        .map(|i| {
            let idx = ((value >> (i * 5)) & 0x1f) as usize;
            char::from(CROCKFORD[idx])
        })
        .collect()
}

fn random_b64url(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::rng().fill(&mut bytes[..]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A reply token: 32 hex digits, like LINE's.
pub(crate) fn reply_token() -> String {
    hex32()
}

/// A quote token (opaque, URL-safe base64).
pub(crate) fn quote_token() -> String {
    random_b64url(66)
}

/// A mark-as-read token (opaque, URL-safe base64).
pub(crate) fn mark_as_read_token() -> String {
    random_b64url(36)
}

/// A short-lived channel access token (opaque, standard base64 like LINE's).
pub(crate) fn access_token() -> String {
    let mut bytes = vec![0u8; 129];
    rand::rng().fill(&mut bytes[..]);
    STANDARD.encode(bytes)
}

/// An `x-line-request-id` value.
pub(crate) fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A random starting point for numeric message IDs (18 digits).
pub(crate) fn message_id_base() -> u64 {
    rand::rng().random_range(100_000_000_000_000_000u64..500_000_000_000_000_000u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulid_shape() {
        let id = ulid(1_700_000_000_000);
        assert_eq!(id.len(), 26);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        // Same millisecond → same 10-character time prefix.
        assert_eq!(&id[..10], &ulid(1_700_000_000_000)[..10]);
        assert!(ulid(1_700_000_000_001)[..10] > ulid(1_700_000_000_000)[..10]);
    }

    #[test]
    fn id_formats() {
        let u = user_id();
        assert_eq!(u.len(), 33);
        assert!(u.starts_with('U'));
        assert!(
            u[1..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert!(group_id().starts_with('C'));
        assert!(room_id().starts_with('R'));
        assert_eq!(reply_token().len(), 32);
    }
}
