//! Message catalogs: every string the console shows, in English and Japanese.
//!
//! A catalog is one JSON object of flat keys per area and language:
//! `i18n/en/<area>.json` and `i18n/ja/<area>.json`. Keys start with `<area>.` so a key says
//! where it lives. Values may hold `{name}` placeholders, filled by [`Tr::fmt`]. Both files
//! of an area must have the same keys with the same placeholders (a test checks it, and that
//! every key a template or script uses exists).
//!
//! To add an area, add one line to [`CATALOGS`].

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::LazyLock;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// One area's catalogs: `(area, English JSON, Japanese JSON)`.
macro_rules! catalog {
    ($area:literal) => {
        (
            $area,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/i18n/en/",
                $area,
                ".json"
            )),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/i18n/ja/",
                $area,
                ".json"
            )),
        )
    };
}

/// Every catalog area. Add yours here (one line).
pub const CATALOGS: &[(&str, &str, &str)] = &[
    catalog!("common"),
    catalog!("auth"),
    catalog!("chats"),
    catalog!("composer"),
    catalog!("timeline"),
    catalog!("settings"),
    catalog!("channels"),
    catalog!("bot"),
];

/// A console language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    En,
    Ja,
}

impl Locale {
    /// Every language, in the order the language menu lists them.
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Ja];

    /// The BCP 47 tag (`lang` attribute, catalog folder).
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Ja => "ja",
        }
    }

    /// The language by its tag (`en`, `ja`, `ja-JP`, …), if the console has it.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Locale::En),
            "ja" => Some(Locale::Ja),
            _ => None,
        }
    }

    /// The operator's own setting if they made one, else the best match of the browser's
    /// `Accept-Language` (by q-value), else English.
    pub fn negotiate(setting: Option<&str>, accept_language: Option<&str>) -> Locale {
        if let Some(locale) = setting.and_then(Locale::from_tag) {
            return locale;
        }
        let mut best: Option<(f32, Locale)> = None;
        for range in accept_language.unwrap_or_default().split(',') {
            let mut parts = range.split(';');
            let Some(locale) = parts.next().and_then(Locale::from_tag) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, locale));
            }
        }
        best.map_or(Locale::En, |(_, l)| l)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// All keys of one language, merged over the areas.
#[derive(Debug)]
pub struct Catalog {
    messages: BTreeMap<String, String>,
    /// The catalog as JSON, for scripts (served at a content-hashed URL).
    json: String,
    hash: String,
}

impl Catalog {
    fn load(locale: Locale) -> Catalog {
        let mut messages = BTreeMap::new();
        for (area, en, ja) in CATALOGS {
            let source = match locale {
                Locale::En => en,
                Locale::Ja => ja,
            };
            // The files are part of the binary and checked by tests; a broken one is a
            // build mistake, so it fails loudly at the first page.
            let parsed: BTreeMap<String, String> = serde_json::from_str(source)
                .unwrap_or_else(|e| panic!("i18n/{}/{area}.json: {e}", locale.tag()));
            messages.extend(parsed);
        }
        let json = serde_json::to_string(&messages).unwrap_or_default();
        let hash = hex8(&Sha256::digest(json.as_bytes()));
        Catalog {
            messages,
            json,
            hash,
        }
    }

    /// The message for `key`, if there is one.
    pub fn lookup(&self, key: &str) -> Option<&str> {
        self.messages.get(key).map(String::as_str)
    }

    /// Every key and message.
    pub fn messages(&self) -> &BTreeMap<String, String> {
        &self.messages
    }

    /// The whole catalog as one JSON object.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// A short hash of [`Catalog::json`], part of its URL.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

/// The first 8 bytes of a digest in hex: enough to tell versions apart in a URL.
pub(crate) fn hex8(digest: &[u8]) -> String {
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

static CATALOGS_LOADED: LazyLock<[Catalog; 2]> =
    LazyLock::new(|| [Catalog::load(Locale::En), Catalog::load(Locale::Ja)]);

/// The catalog of a language.
pub fn catalog(locale: Locale) -> &'static Catalog {
    &CATALOGS_LOADED[locale.index()]
}

/// The translator a page renders with: `{{ t.get("chats.mine") }}` in a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tr {
    pub locale: Locale,
}

impl Tr {
    pub fn new(locale: Locale) -> Tr {
        Tr { locale }
    }

    /// The message for `key`. A missing key shows as the key itself (and is logged), so a
    /// gap is visible instead of blank; the catalog tests keep it from happening.
    pub fn get(&self, key: &str) -> &'static str {
        match catalog(self.locale).lookup(key) {
            Some(message) => message,
            None => {
                tracing::warn!(key, locale = self.locale.tag(), "missing message");
                // Leaking is bounded: only keys that a template names can miss.
                Box::leak(key.to_owned().into_boxed_str())
            }
        }
    }

    /// The message for `key` with its `{name}` placeholders filled.
    pub fn fmt(&self, key: &str, args: &[(&str, &dyn Display)]) -> String {
        fill(self.get(key), args)
    }

    /// [`Tr::fmt`] with one placeholder, for templates.
    pub fn fmt1(&self, key: &str, name: &str, value: impl Display) -> String {
        self.fmt(key, &[(name, &value)])
    }

    /// [`Tr::fmt`] with two placeholders, for templates.
    pub fn fmt2(
        &self,
        key: &str,
        name1: &str,
        value1: impl Display,
        name2: &str,
        value2: impl Display,
    ) -> String {
        self.fmt(key, &[(name1, &value1), (name2, &value2)])
    }

    /// The message for a key made of a prefix and a code (`auth.error.` + `invalid`), or
    /// `fallback` when the code is not in the catalog (codes come from URLs and data).
    pub fn code(&self, prefix: &str, code: &str, fallback: &str) -> &'static str {
        let key = format!("{prefix}{code}");
        match catalog(self.locale).lookup(&key) {
            Some(message) => message,
            None => self.get(fallback),
        }
    }

    /// The URL scripts load this language's catalog from.
    pub fn catalog_url(&self) -> String {
        let catalog = catalog(self.locale);
        format!(
            "/console/i18n/{}.{}.json",
            self.locale.tag(),
            catalog.hash()
        )
    }
}

/// Replaces each `{name}` in `template` by its argument; unknown placeholders stay as written.
pub fn fill(template: &str, args: &[(&str, &dyn Display)]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match args.iter().find(|(n, _)| *n == name) {
                    Some((_, value)) => out.push_str(&value.to_string()),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `{name}` placeholders of a message, sorted.
pub fn placeholders(message: &str) -> Vec<&str> {
    let mut names: Vec<&str> = message
        .split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    fn area_files() -> impl Iterator<
        Item = (
            &'static str,
            BTreeMap<String, String>,
            BTreeMap<String, String>,
        ),
    > {
        CATALOGS.iter().map(|(area, en, ja)| {
            let en: BTreeMap<String, String> =
                serde_json::from_str(en).unwrap_or_else(|e| panic!("en/{area}.json: {e}"));
            let ja: BTreeMap<String, String> =
                serde_json::from_str(ja).unwrap_or_else(|e| panic!("ja/{area}.json: {e}"));
            (*area, en, ja)
        })
    }

    #[test]
    fn both_languages_have_the_same_keys_and_placeholders() {
        for (area, en, ja) in area_files() {
            let en_keys: BTreeSet<&String> = en.keys().collect();
            let ja_keys: BTreeSet<&String> = ja.keys().collect();
            assert_eq!(
                en_keys.symmetric_difference(&ja_keys).collect::<Vec<_>>(),
                Vec::<&&String>::new(),
                "area {area}: keys in one language only"
            );
            for (key, message) in &en {
                assert!(
                    key.starts_with(&format!("{area}.")),
                    "{key} must start with `{area}.`"
                );
                assert!(!message.trim().is_empty(), "en {key} is empty");
                assert!(!ja[key].trim().is_empty(), "ja {key} is empty");
                assert_eq!(
                    placeholders(message),
                    placeholders(&ja[key]),
                    "{key}: placeholders differ between en and ja"
                );
            }
        }
    }

    #[test]
    fn no_key_is_defined_twice_across_areas() {
        let mut seen = BTreeMap::new();
        for (area, en, _) in area_files() {
            for key in en.keys() {
                if let Some(other) = seen.insert(key.clone(), area) {
                    panic!("{key} is in both {other} and {area}");
                }
            }
        }
    }

    /// Every `"key"` argument of `calls` (e.g. `t.get(`) in the files under `dir`.
    fn keys_used(dir: &Path, extension: &str, calls: &[&str], found: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                keys_used(&path, extension, calls, found);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some(extension)
                || path.ends_with("console/i18n.rs")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for call in calls {
                for (at, _) in text.match_indices(call) {
                    // A whole word only: `t(` must not match the end of `split(`.
                    let before = text[..at].chars().next_back();
                    // Examples in comments are not uses.
                    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                    if text[line_start..at].trim_start().starts_with("//") {
                        continue;
                    }
                    if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                        continue;
                    }
                    let rest = &text[at + call.len()..];
                    let quote = match rest.chars().next() {
                        Some(q @ ('"' | '\'')) => q,
                        _ => continue,
                    };
                    if let Some(end) = rest[1..].find(quote) {
                        found.push((path.display().to_string(), rest[1..1 + end].to_owned()));
                    }
                }
            }
        }
    }

    #[test]
    fn every_key_used_by_templates_and_scripts_exists() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut used = Vec::new();
        keys_used(
            &root.join("templates"),
            "html",
            &["t.get(", "t.fmt1(", "t.fmt2(", "data-t="],
            &mut used,
        );
        keys_used(&root.join("assets"), "js", &["t(", "tf("], &mut used);
        keys_used(
            &root.join("src"),
            "rs",
            &["t.get(", "tr.get(", "tr.fmt("],
            &mut used,
        );
        assert!(
            used.len() > 50,
            "the scan found too few keys: {}",
            used.len()
        );
        for locale in Locale::ALL {
            let catalog = catalog(locale);
            for (file, key) in &used {
                // Keys built at run time (`prefix.` + code) are checked where they are made.
                if key.ends_with('.') {
                    continue;
                }
                assert!(
                    catalog.lookup(key).is_some(),
                    "{file} uses `{key}`, missing in {}",
                    locale.tag()
                );
            }
        }
    }

    #[test]
    fn negotiation_prefers_the_setting_then_the_best_q_value() {
        assert_eq!(Locale::negotiate(Some("ja"), Some("en")), Locale::Ja);
        assert_eq!(
            Locale::negotiate(None, Some("ja-JP,ja;q=0.9,en;q=0.8")),
            Locale::Ja
        );
        assert_eq!(
            Locale::negotiate(None, Some("fr, en;q=0.5, ja;q=0.7")),
            Locale::Ja
        );
        assert_eq!(Locale::negotiate(None, Some("fr")), Locale::En);
        assert_eq!(Locale::negotiate(Some("xx"), None), Locale::En);
    }

    #[test]
    fn fill_replaces_known_placeholders_only() {
        assert_eq!(fill("{n} of {m}", &[("n", &3), ("m", &"5")]), "3 of 5");
        assert_eq!(fill("{x} {", &[]), "{x} {");
        assert_eq!(placeholders("a {b} c {a} {b}"), vec!["a", "b"]);
    }
}

#[cfg(test)]
mod form_error_tests {
    use super::*;
    use crate::service::accounts::FormError;

    #[test]
    fn every_account_form_error_is_translated() {
        for locale in Locale::ALL {
            for error in FormError::ALL {
                let key = format!("auth.error.{}", error.code());
                assert!(
                    catalog(locale).lookup(&key).is_some(),
                    "{key} missing in {}",
                    locale.tag()
                );
            }
            for code in ["invalid", "rate_limited", "unknown"] {
                assert!(
                    catalog(locale)
                        .lookup(&format!("auth.error.{code}"))
                        .is_some()
                );
            }
        }
    }
}
