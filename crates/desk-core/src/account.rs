//! Console accounts: validated e-mail, display name, new password, UI language and time zone.
//! Parse, don't validate: a value of these types is known good.

use crate::hours::tz_database;
use crate::text_enum;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (hashing cost grows with length; no person needs more).
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Longest display name.
pub const MAX_NAME_CHARS: usize = 100;

/// Why an account field is refused. Each variant names one field and one reason, so a form
/// can show it next to that field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// Not an e-mail address.
    #[error("email: `{0}` is not an e-mail address")]
    EmailInvalid(String),
    /// Blank name.
    #[error("name: must not be empty")]
    NameMissing,
    /// Name too long.
    #[error("name: at most {MAX_NAME_CHARS} characters")]
    NameTooLong,
    /// Password too short.
    #[error("password: at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    /// Password too long.
    #[error("password: at most {MAX_PASSWORD_CHARS} characters")]
    PasswordTooLong,
    /// Unknown IANA time zone.
    #[error("time_zone: `{0}` is not an IANA time zone such as Asia/Tokyo")]
    TimeZoneUnknown(String),
    /// Unsupported UI language.
    #[error("locale: `{0}` is not supported; use `en` or `ja`")]
    LocaleUnknown(String),
}

impl AccountError {
    /// The field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            AccountError::EmailInvalid(_) => "email",
            AccountError::NameMissing | AccountError::NameTooLong => "name",
            AccountError::PasswordTooShort | AccountError::PasswordTooLong => "password",
            AccountError::TimeZoneUnknown(_) => "time_zone",
            AccountError::LocaleUnknown(_) => "locale",
        }
    }
}

/// An e-mail address, trimmed and lower-cased (the login is case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Checks the shape `local@domain.tld` loosely: the real check is the invite reaching them.
    pub fn parse(raw: &str) -> Result<Self, AccountError> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(char::is_whitespace)
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if valid {
            Ok(Self(email))
        } else {
            Err(AccountError::EmailInvalid(raw.trim().to_owned()))
        }
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: trimmed, not empty, not too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Trims and checks the length.
    pub fn parse(raw: &str) -> Result<Self, AccountError> {
        let name = raw.trim();
        match name.chars().count() {
            0 => Err(AccountError::NameMissing),
            n if n > MAX_NAME_CHARS => Err(AccountError::NameTooLong),
            _ => Ok(Self(name.to_owned())),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password someone chose, long enough to keep. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(..)")
    }
}

impl NewPassword {
    /// Checks the length in characters (not bytes, so Japanese passphrases count fairly).
    /// Spaces are kept: they are part of a passphrase.
    pub fn parse(raw: &str) -> Result<Self, AccountError> {
        match raw.chars().count() {
            n if n < MIN_PASSWORD_CHARS => Err(AccountError::PasswordTooShort),
            n if n > MAX_PASSWORD_CHARS => Err(AccountError::PasswordTooLong),
            _ => Ok(Self(raw.to_owned())),
        }
    }

    /// The password, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

text_enum! {
    /// A console language with a complete message catalog.
    pub enum Locale ("locale") {
        /// English.
        En = "en",
        /// Japanese.
        Ja = "ja",
    }
}

impl Locale {
    /// Parses a stored or submitted value, with an error naming the field.
    pub fn parse(raw: &str) -> Result<Self, AccountError> {
        raw.trim()
            .parse()
            .map_err(|_| AccountError::LocaleUnknown(raw.trim().to_owned()))
    }
}

/// An IANA time-zone name known to the bundled time-zone database (e.g. `Asia/Tokyo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZoneName(String);

impl TimeZoneName {
    /// Checks the name against jiff's bundled database.
    pub fn parse(raw: &str) -> Result<Self, AccountError> {
        let name = raw.trim();
        if name.is_empty() || tz_database().get(name).is_err() {
            return Err(AccountError::TimeZoneUnknown(name.to_owned()));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            Email::parse("  Aiko@Example.JP ").map(|e| e.as_str().to_owned()),
            Ok("aiko@example.jp".into())
        );
        for bad in [
            "",
            "aiko",
            "@example.jp",
            "aiko@",
            "aiko@jp",
            "a b@x.jp",
            "a@b@c.jp",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_count_characters() {
        assert_eq!(
            NewPassword::parse("short"),
            Err(AccountError::PasswordTooShort)
        );
        assert!(NewPassword::parse("パスワードは十文字以上").is_ok());
        assert_eq!(
            NewPassword::parse(&"x".repeat(MAX_PASSWORD_CHARS + 1)),
            Err(AccountError::PasswordTooLong)
        );
        assert_eq!(
            format!("{:?}", NewPassword::parse("correct horse").expect("ok")),
            "NewPassword(..)"
        );
    }

    #[test]
    fn names_locales_and_zones() {
        assert_eq!(DisplayName::parse("  "), Err(AccountError::NameMissing));
        assert_eq!(Locale::parse("ja"), Ok(Locale::Ja));
        assert_eq!(Locale::parse("fr").map_err(|e| e.field()), Err("locale"));
        assert!(TimeZoneName::parse("Asia/Tokyo").is_ok());
        assert!(TimeZoneName::parse("Mars/Olympus").is_err());
        assert!(TimeZoneName::parse("").is_err());
    }
}
