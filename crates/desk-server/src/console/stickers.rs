//! The stickers operators may send: LINE lets bots send only the packages on its "sendable
//! stickers" list. The console offers a curated subset, defined in
//! `data/sendable_stickers.json`.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// One sendable package: its stickers are the ids `first..=last`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct StickerPackage {
    pub package_id: String,
    pub first: u64,
    pub last: u64,
}

impl StickerPackage {
    /// The package's sticker ids.
    pub fn sticker_ids(&self) -> impl Iterator<Item = u64> {
        self.first..=self.last
    }
}

#[derive(Debug, Deserialize)]
struct File {
    packages: Vec<StickerPackage>,
}

static PACKAGES: LazyLock<Vec<StickerPackage>> = LazyLock::new(|| {
    let file: File = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/sendable_stickers.json"
    )))
    // Part of the binary and checked by a test.
    .unwrap_or_else(|e| panic!("data/sendable_stickers.json: {e}"));
    file.packages
});

/// Every sendable package.
pub fn packages() -> &'static [StickerPackage] {
    &PACKAGES
}

/// Whether `package_id`/`sticker_id` is a sticker the console lets operators send.
pub fn is_sendable(package_id: &str, sticker_id: &str) -> bool {
    let Ok(sticker) = sticker_id.parse::<u64>() else {
        return false;
    };
    packages()
        .iter()
        .any(|p| p.package_id == package_id && (p.first..=p.last).contains(&sticker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_loads_and_checks_ranges() {
        assert!(packages().len() >= 5);
        for p in packages() {
            assert!(p.first <= p.last && p.last - p.first < 100, "{p:?}");
        }
        assert!(is_sendable("446", "1988"));
        assert!(is_sendable("446", "2027"));
        assert!(!is_sendable("446", "2028"));
        assert!(!is_sendable("446", "x"));
        assert!(!is_sendable("999999", "1988"));
    }
}
