//! Signed public media URLs: `{public URL}/media/{id}/{token}` with the token
//! `{variant}.{expires}.{mac}`, an HMAC-SHA256 over the id, variant and expiry (unix seconds)
//! with a server key. LINE fetches lazily, so the URLs live long (30 days by default); no
//! login, no cookie, nothing else about the media is public.
//!
//! The key lives in `media.key` (32 random bytes, mode 0600) in the data directory, created on
//! first start. Several instances must share the file (or the data directory).

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use desk_core::MediaId;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Which stored object of a media item a URL serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The original (converted for LINE when needed).
    Original,
    /// The JPEG preview LINE shows before opening an image or video (≤ 1 MB).
    Preview,
    /// A small JPEG for the console's message list.
    Thumb,
}

impl Variant {
    fn code(self) -> char {
        match self {
            Variant::Original => 'o',
            Variant::Preview => 'p',
            Variant::Thumb => 't',
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        match code {
            "o" => Some(Variant::Original),
            "p" => Some(Variant::Preview),
            "t" => Some(Variant::Thumb),
            _ => None,
        }
    }

    /// Parses the console API's `?variant=` (`original` when absent).
    pub fn from_query(value: Option<&str>) -> Option<Self> {
        match value {
            None | Some("original") => Some(Variant::Original),
            Some("preview") => Some(Variant::Preview),
            Some("thumb") => Some(Variant::Thumb),
            Some(_) => None,
        }
    }
}

/// Why a signed URL is refused (all answered with 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.as_str())]
pub enum SignatureError {
    Malformed,
    Expired,
    Invalid,
}

impl SignatureError {
    /// What the refusal says.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureError::Malformed => "the media link is malformed",
            SignatureError::Expired => "the media link has expired",
            SignatureError::Invalid => "the media link's signature is not valid",
        }
    }
}

/// Signs and checks media URLs.
#[derive(Clone)]
pub struct UrlSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner(..)")
    }
}

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "media.key";

impl UrlSigner {
    /// A signer with this key.
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// Reads `media.key` from `dir`, creating it (random, owner-only) if missing.
    pub fn load_or_create(dir: &Path) -> std::io::Result<Self> {
        let path = dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{} must hold exactly 32 bytes", path.display()),
                    )
                })?;
                Ok(Self::new(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)?;
                let key: [u8; 32] = rand::random();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(&path) {
                    Ok(mut file) => {
                        file.write_all(&key)?;
                        file.sync_all()?;
                        Ok(Self::new(key))
                    }
                    // Another instance sharing the directory created it first.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(dir)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The token for `id`'s `variant`, valid until `expires` (unix seconds).
    pub fn token(&self, id: MediaId, variant: Variant, expires: i64) -> String {
        let mac = self.mac(id, variant, expires).finalize().into_bytes();
        format!(
            "{}.{expires}.{}",
            variant.code(),
            URL_SAFE_NO_PAD.encode(mac)
        )
    }

    /// Checks a token for `id` at `now` (unix seconds); returns the variant it grants.
    pub fn verify(&self, id: MediaId, token: &str, now: i64) -> Result<Variant, SignatureError> {
        let mut parts = token.splitn(3, '.');
        let (Some(code), Some(expires), Some(mac)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SignatureError::Malformed);
        };
        let variant = Variant::from_code(code).ok_or(SignatureError::Malformed)?;
        let expires: i64 = expires.parse().map_err(|_| SignatureError::Malformed)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| SignatureError::Malformed)?;
        // Checked before the expiry, so an expired link says so only when it was genuine.
        self.mac(id, variant, expires)
            .verify_slice(&mac)
            .map_err(|_| SignatureError::Invalid)?;
        if expires < now {
            return Err(SignatureError::Expired);
        }
        Ok(variant)
    }

    fn mac(&self, id: MediaId, variant: Variant, expires: i64) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("HMAC takes any key size");
        mac.update(format!("{id}|{}|{expires}", variant.code()).as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_refuse_tampering_and_expiry() {
        let signer = UrlSigner::new([7; 32]);
        let id = MediaId::new();
        let token = signer.token(id, Variant::Preview, 1_000);
        assert_eq!(signer.verify(id, &token, 999), Ok(Variant::Preview));
        assert_eq!(
            signer.verify(id, &token, 1_001),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            signer.verify(MediaId::new(), &token, 999),
            Err(SignatureError::Invalid)
        );
        // Another variant or a later expiry with the same MAC.
        let forged = token.replacen("p.", "o.", 1);
        assert_eq!(
            signer.verify(id, &forged, 999),
            Err(SignatureError::Invalid)
        );
        let extended = token.replacen("1000", "9000", 1);
        assert_eq!(
            signer.verify(id, &extended, 999),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify(id, "nonsense", 999),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn the_key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().expect("dir");
        let first = UrlSigner::load_or_create(dir.path()).expect("created");
        let again = UrlSigner::load_or_create(dir.path()).expect("read");
        assert_eq!(first.key, again.key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
