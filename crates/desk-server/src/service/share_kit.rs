//! The share kit of a connected account: the add-friend link, its QR code (SVG and PNG, made
//! here, no third-party service), an HTML snippet for a website, and the LINE ID as text.

use std::io::Cursor;

use desk_core::channel_setup::BasicId;
use qrcode::render::svg;
use qrcode::{Color, EcLevel, QrCode};
use serde::Serialize;

/// Download sizes of the QR code: the width in pixels (quiet zone included) is at least this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QrSize {
    S,
    M,
    L,
}

impl QrSize {
    pub const ALL: [QrSize; 3] = [QrSize::S, QrSize::M, QrSize::L];

    pub fn parse(s: &str) -> Option<QrSize> {
        match s.to_ascii_lowercase().as_str() {
            "s" => Some(QrSize::S),
            "m" => Some(QrSize::M),
            "l" => Some(QrSize::L),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            QrSize::S => "s",
            QrSize::M => "m",
            QrSize::L => "l",
        }
    }

    /// Minimum width in pixels: small for a web page, large for print.
    pub fn min_pixels(self) -> u32 {
        match self {
            QrSize::S => 160,
            QrSize::M => 320,
            QrSize::L => 960,
        }
    }
}

/// The modules of a QR code around which a quiet zone of this many modules is kept.
const QUIET: usize = 4;

/// The share kit of one account.
#[derive(Clone)]
pub struct ShareKit {
    basic_id: BasicId,
    url: String,
    code: QrCode,
}

impl std::fmt::Debug for ShareKit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareKit")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Why no share kit can be made.
#[derive(Debug, thiserror::Error)]
pub enum ShareKitError {
    #[error("the account's LINE ID is not known yet: refresh it from LINE")]
    NoBasicId,
    #[error("the account's LINE ID `{0}` is not a LINE ID")]
    BadBasicId(String),
    #[error("could not make the QR code: {0}")]
    Qr(#[from] qrcode::types::QrError),
    #[error("could not encode the PNG: {0}")]
    Png(#[from] image::ImageError),
}

impl ShareKit {
    /// The kit for an account with this basic ID (as LINE reports it, with its `@`).
    pub fn new(basic_id: Option<&str>) -> Result<Self, ShareKitError> {
        let raw = basic_id.ok_or(ShareKitError::NoBasicId)?;
        let basic_id = BasicId::parse(raw).map_err(|_| ShareKitError::BadBasicId(raw.into()))?;
        let url = basic_id.add_friend_url();
        // M: survives a smudged flyer, and the link is short enough to stay a small code.
        let code = QrCode::with_error_correction_level(&url, EcLevel::M)?;
        Ok(Self {
            basic_id,
            url,
            code,
        })
    }

    /// `https://line.me/R/ti/p/%40…`.
    pub fn add_friend_url(&self) -> &str {
        &self.url
    }

    /// The LINE ID to print on flyers, e.g. `@123abcde`.
    pub fn line_id(&self) -> &str {
        self.basic_id.as_str()
    }

    /// Module size in pixels so the whole code is at least `size` wide.
    fn module_px(&self, size: QrSize) -> u32 {
        let modules = u32::try_from(self.code.width() + 2 * QUIET).unwrap_or(u32::MAX);
        size.min_pixels().div_ceil(modules).max(1)
    }

    /// The QR code as an SVG document.
    pub fn svg(&self, size: QrSize) -> String {
        let px = self.module_px(size);
        self.code
            .render::<svg::Color<'_>>()
            .quiet_zone(true)
            .module_dimensions(px, px)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build()
    }

    /// The QR code as a PNG (8-bit greyscale).
    pub fn png(&self, size: QrSize) -> Result<Vec<u8>, ShareKitError> {
        let px = self.module_px(size) as usize;
        let modules = self.code.width();
        let side = (modules + 2 * QUIET) * px;
        let colors = self.code.to_colors();
        let side_u32 = u32::try_from(side).unwrap_or(u32::MAX);
        let image = image::GrayImage::from_fn(side_u32, side_u32, |x, y| {
            let (mx, my) = (x as usize / px, y as usize / px);
            let dark = (QUIET..QUIET + modules).contains(&mx)
                && (QUIET..QUIET + modules).contains(&my)
                && colors[(my - QUIET) * modules + (mx - QUIET)] == Color::Dark;
            image::Luma([if dark { 0 } else { 255 }])
        });
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png)?;
        Ok(out.into_inner())
    }

    /// A self-contained snippet for a website: an "add friend" button and the QR code
    /// (inline SVG: nothing is fetched from linedesk or elsewhere).
    pub fn html_snippet(&self, button_label: &str) -> String {
        let url = escape(&self.url);
        let label = escape(button_label);
        let qr = self.svg(QrSize::S);
        let qr = qr
            .strip_prefix(r#"<?xml version="1.0" standalone="yes"?>"#)
            .unwrap_or(&qr);
        format!(
            "<div class=\"line-add-friend\" style=\"display:inline-flex;flex-direction:column;align-items:center;gap:8px\">\n  \
             <a href=\"{url}\" target=\"_blank\" rel=\"noopener\" style=\"background:#06C755;color:#fff;font:bold 16px sans-serif;padding:10px 20px;border-radius:6px;text-decoration:none\">{label}</a>\n  \
             <a href=\"{url}\" target=\"_blank\" rel=\"noopener\" aria-label=\"{label}\">{qr}</a>\n</div>"
        )
    }
}

/// Escapes text for HTML content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_grow_and_svg_is_an_svg() {
        let kit = ShareKit::new(Some("@123abcde")).expect("kit");
        assert_eq!(kit.add_friend_url(), "https://line.me/R/ti/p/%40123abcde");
        assert_eq!(kit.line_id(), "@123abcde");
        let widths: Vec<usize> = QrSize::ALL
            .iter()
            .map(|s| kit.png(*s).expect("png").len())
            .collect();
        assert!(widths[0] < widths[1] && widths[1] < widths[2], "{widths:?}");
        let svg = kit.svg(QrSize::M);
        assert!(svg.contains("<svg") && svg.contains("#000000"));
        let snippet = kit.html_snippet("Add friend");
        assert!(snippet.contains("href=\"https://line.me/R/ti/p/%40123abcde\""));
        assert!(snippet.contains("<svg") && !snippet.contains("<?xml"));
        assert!(matches!(ShareKit::new(None), Err(ShareKitError::NoBasicId)));
        assert!(matches!(
            ShareKit::new(Some("nope")),
            Err(ShareKitError::BadBasicId(_))
        ));
    }

    #[test]
    fn snippet_escapes_the_label() {
        let kit = ShareKit::new(Some("@shop")).expect("kit");
        assert!(
            kit.html_snippet("<b>hi</b>")
                .contains("&lt;b&gt;hi&lt;/b&gt;")
        );
    }
}
