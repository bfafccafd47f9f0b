//! Secrets at rest: channel secrets and access tokens are sealed with XChaCha20-Poly1305
//! before they reach the database, as `key_version(1) ‖ nonce(24) ‖ ciphertext+tag`.
//!
//! The 32-byte key comes from `LINEDESK_SECRET_KEY` (base64 or hex), or from the file
//! `secret.key` in the data directory, created with mode 0600 on first run. Several instances
//! sharing a Postgres database must share the key, so set `LINEDESK_SECRET_KEY` there.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use desk_core::{Sealed, Secret};

/// The version byte written in front of every sealed value. A future key rotation bumps it,
/// so values sealed with the old key stay readable while they are re-sealed.
pub const KEY_VERSION: u8 = 1;
/// Name of the key file in the data directory.
pub const KEY_FILE: &str = "secret.key";
const NONCE_LEN: usize = 24;

/// A 32-byte secret key. `Debug` never prints it.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

/// Why no key could be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "LINEDESK_SECRET_KEY must be 32 bytes written as base64 (44 characters) or hex (64 characters); \
         the value given decodes to {0}. Make one with `openssl rand -base64 32`"
    )]
    Malformed(String),
    #[error("cannot read or create the key file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl SecretKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self(rand::random())
    }

    /// Parses a key written as base64 (any common alphabet, padded or not) or as hex.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|e| KeyError::Malformed(format!("invalid hex ({e})")))?
        } else {
            [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(text).ok())
                .ok_or_else(|| KeyError::Malformed("neither base64 nor hex".into()))?
        };
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Malformed(format!("{} bytes", bytes.len())))?;
        Ok(Self(key))
    }

    /// The key given in `LINEDESK_SECRET_KEY` (`explicit`), or else the one in
    /// `{data_dir}/secret.key`, created (0600) with a random key when missing.
    pub fn load(explicit: Option<&str>, data_dir: &Path) -> Result<Self, KeyError> {
        if let Some(text) = explicit {
            return Self::parse(text);
        }
        let path = data_dir.join(KEY_FILE);
        let file_error = |source| KeyError::File {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(file_error)?;
                let key = Self::generate();
                let mut file = create_private(&path).map_err(file_error)?;
                writeln!(file, "{}", STANDARD.encode(key.0)).map_err(file_error)?;
                file.sync_all().map_err(file_error)?;
                tracing::info!(path = %path.display(), "created a new secret key file; back it up with the database");
                Ok(key)
            }
            Err(e) => Err(file_error(e)),
        }
    }
}

/// Creates a file only its owner can read; fails if it exists (another process won the race).
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// What a sealed value is; bound into the seal, so a sealed token cannot pass for a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    ChannelSecret,
    AccessToken,
    /// The signing secret of a channel's external chatbot.
    BotSecret,
}

impl Purpose {
    fn aad(self) -> &'static [u8] {
        match self {
            Purpose::ChannelSecret => b"linedesk/channel-secret",
            Purpose::AccessToken => b"linedesk/access-token",
            Purpose::BotSecret => b"linedesk/bot-secret",
        }
    }
}

/// Why a sealed value could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("no sealed value stored")]
    Empty,
    #[error(
        "sealed with key version {0}, but this server has version {KEY_VERSION}: is LINEDESK_SECRET_KEY the one the data was written with?"
    )]
    UnknownVersion(u8),
    #[error(
        "the sealed value does not open with this key (wrong LINEDESK_SECRET_KEY or secret.key, or damaged data)"
    )]
    Mismatch,
}

/// Seals and opens secrets with the server's key.
#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cipher")
            .field("key_version", &KEY_VERSION)
            .finish_non_exhaustive()
    }
}

impl Cipher {
    pub fn new(key: &SecretKey) -> Self {
        Self {
            aead: XChaCha20Poly1305::new(&key.0.into()),
        }
    }

    /// Seals `plaintext` with a fresh random nonce.
    pub fn seal(&self, purpose: Purpose, plaintext: &str) -> Sealed {
        let nonce = XNonce::generate();
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: purpose.aad(),
        };
        // Encryption into a Vec fails only beyond 2^38 bytes; a secret is a few dozen.
        let ciphertext = self
            .aead
            .encrypt(&nonce, payload)
            .unwrap_or_else(|_| unreachable!("XChaCha20-Poly1305 cannot fail on a short input"));
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(KEY_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Sealed::from_bytes(out)
    }

    /// Opens a value sealed by [`Cipher::seal`] for the same purpose.
    pub fn open(&self, purpose: Purpose, sealed: &Sealed) -> Result<Secret, OpenError> {
        let bytes = sealed.as_bytes();
        let (&version, rest) = bytes.split_first().ok_or(OpenError::Empty)?;
        if version != KEY_VERSION {
            return Err(OpenError::UnknownVersion(version));
        }
        if rest.len() < NONCE_LEN {
            return Err(OpenError::Mismatch);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| OpenError::Mismatch)?;
        let plaintext = self
            .aead
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: purpose.aad(),
                },
            )
            .map_err(|_| OpenError::Mismatch)?;
        String::from_utf8(plaintext)
            .map(Secret::new)
            .map_err(|_| OpenError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let cipher = Cipher::new(&SecretKey::generate());
        let sealed = cipher.seal(Purpose::ChannelSecret, "8f14e45fceea167a5a36dedd4bea2543");
        let bytes = sealed.as_bytes();
        assert_eq!(bytes[0], KEY_VERSION);
        assert_eq!(bytes.len(), 1 + 24 + 32 + 16);
        assert!(!bytes.windows(8).any(|w| w == b"8f14e45f"));
        let opened = cipher.open(Purpose::ChannelSecret, &sealed).expect("opens");
        assert_eq!(opened.expose(), "8f14e45fceea167a5a36dedd4bea2543");
        // Fresh nonce every time.
        assert_ne!(
            cipher.seal(Purpose::ChannelSecret, "x"),
            cipher.seal(Purpose::ChannelSecret, "x")
        );
    }

    #[test]
    fn refuses_other_purpose_key_and_tampering() {
        let cipher = Cipher::new(&SecretKey::generate());
        let sealed = cipher.seal(Purpose::AccessToken, "token");
        assert!(matches!(
            cipher.open(Purpose::ChannelSecret, &sealed),
            Err(OpenError::Mismatch)
        ));
        let other = Cipher::new(&SecretKey::generate());
        assert!(matches!(
            other.open(Purpose::AccessToken, &sealed),
            Err(OpenError::Mismatch)
        ));
        let mut bytes = sealed.as_bytes().to_vec();
        *bytes.last_mut().expect("tag") ^= 1;
        assert!(
            cipher
                .open(Purpose::AccessToken, &Sealed::from_bytes(bytes))
                .is_err()
        );
        let mut v2 = sealed.as_bytes().to_vec();
        v2[0] = 2;
        assert!(matches!(
            cipher.open(Purpose::AccessToken, &Sealed::from_bytes(v2)),
            Err(OpenError::UnknownVersion(2))
        ));
        assert!(matches!(
            cipher.open(Purpose::AccessToken, &Sealed::from_bytes(Vec::new())),
            Err(OpenError::Empty)
        ));
    }

    #[test]
    fn keys_parse_from_base64_or_hex_and_say_what_is_wrong() {
        let key = [7u8; 32];
        let b64 = STANDARD.encode(key);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(SecretKey::parse(&b64).expect("b64").0, key);
        assert_eq!(SecretKey::parse(&format!(" {hex}\n")).expect("hex").0, key);
        let short = SecretKey::parse(&STANDARD.encode([1u8; 16])).expect_err("short");
        assert!(short.to_string().contains("16 bytes"), "{short}");
        assert!(SecretKey::parse("not a key!").is_err());
        assert_eq!(
            format!("{:?}", SecretKey::generate()),
            "SecretKey([redacted])"
        );
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().expect("dir");
        let first = SecretKey::load(None, dir.path()).expect("created");
        let again = SecretKey::load(None, dir.path()).expect("read");
        assert_eq!(first.0, again.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let explicit = SecretKey::load(Some(&STANDARD.encode([9u8; 32])), dir.path()).expect("env");
        assert_eq!(explicit.0, [9u8; 32]);
    }
}
