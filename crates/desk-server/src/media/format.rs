//! What an uploaded file really is, from its first bytes (never its name or declared type),
//! and what the desk accepts: the product's promise, which LINE can then play.

use desk_core::MediaKind;

/// How many leading bytes [`sniff`] needs.
pub const SNIFF_LEN: usize = 64;

const MB: u64 = 1024 * 1024;

/// What operators may attach, for error messages.
pub const ALLOWED: &str = "Allowed: images JPEG or PNG up to 10 MB; audio ogg (Vorbis or Opus) up to 20 MB, \
     m4a or mp3 up to 20 MB; video mp4 or 3gp up to 20 MB. LINE cannot deliver documents or other files.";

/// A file format the desk accepts from operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    /// Ogg with Vorbis or Opus audio: converted to m4a.
    Ogg,
    /// MPEG-4 audio (`M4A ` brand).
    M4a,
    Mp3,
    Mp4,
    /// 3GPP video: converted to mp4.
    ThreeGp,
}

impl Format {
    /// Every accepted format.
    pub const ALL: [Format; 7] = [
        Format::Jpeg,
        Format::Png,
        Format::Ogg,
        Format::M4a,
        Format::Mp3,
        Format::Mp4,
        Format::ThreeGp,
    ];

    /// The usual file extension (for the composer's file picker).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Ogg => "ogg",
            Format::M4a => "m4a",
            Format::Mp3 => "mp3",
            Format::Mp4 => "mp4",
            Format::ThreeGp => "3gp",
        }
    }

    /// Which message kind the format is sent as.
    pub fn kind(self) -> MediaKind {
        match self {
            Format::Jpeg | Format::Png => MediaKind::Image,
            Format::Ogg | Format::M4a | Format::Mp3 => MediaKind::Audio,
            Format::Mp4 | Format::ThreeGp => MediaKind::Video,
        }
    }

    /// The largest file accepted in this format.
    pub fn max_bytes(self) -> u64 {
        match self.kind() {
            MediaKind::Image => 10 * MB,
            MediaKind::Audio | MediaKind::Video | MediaKind::File => 20 * MB,
        }
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG image",
            Format::Png => "PNG image",
            Format::Ogg => "ogg audio",
            Format::M4a => "m4a audio",
            Format::Mp3 => "mp3 audio",
            Format::Mp4 => "mp4 video",
            Format::ThreeGp => "3gp video",
        }
    }

    /// Whether the desk needs ffmpeg to make this playable in LINE (conversion or a
    /// preview frame).
    pub fn needs_ffmpeg(self) -> bool {
        matches!(self, Format::Ogg | Format::Mp4 | Format::ThreeGp)
    }
}

/// What the first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// An accepted format.
    Accepted(Format),
    /// Something recognisable the desk refuses (named in the error).
    Refused(&'static str),
    /// Nothing recognisable.
    Unknown,
}

/// Identifies a file by its magic bytes. `head` is the first [`SNIFF_LEN`] bytes (or the
/// whole file, if shorter).
pub fn sniff(head: &[u8]) -> Sniffed {
    use Sniffed::{Accepted, Refused};
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Accepted(Format::Jpeg);
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Accepted(Format::Png);
    }
    if head.starts_with(b"OggS") {
        // The first page holds the codec's identification header.
        return if contains(head, b"\x01vorbis") || contains(head, b"OpusHead") {
            Accepted(Format::Ogg)
        } else {
            Refused("ogg file with neither Vorbis nor Opus audio")
        };
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        let brand = &head[8..12];
        return match brand {
            b"M4A " | b"M4B " => Accepted(Format::M4a),
            b if b.starts_with(b"3g") => Accepted(Format::ThreeGp),
            b"qt  " => Refused("QuickTime (.mov) video"),
            b"heic" | b"heix" | b"mif1" | b"msf1" | b"avif" => Refused("HEIC/AVIF image"),
            _ => Accepted(Format::Mp4),
        };
    }
    if head.starts_with(b"ID3") || is_mp3_frame(head) {
        return Accepted(Format::Mp3);
    }
    if head.starts_with(b"%PDF") {
        return Refused("PDF document");
    }
    if head.starts_with(b"PK\x03\x04") {
        return Refused("ZIP archive or office document");
    }
    if head.starts_with(b"GIF8") {
        return Refused("GIF image");
    }
    if head.starts_with(b"RIFF") && head.len() >= 12 {
        return match &head[8..12] {
            b"WEBP" => Refused("WebP image"),
            b"WAVE" => Refused("WAV audio"),
            b"AVI " => Refused("AVI video"),
            _ => Sniffed::Unknown,
        };
    }
    if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Refused("WebM/Matroska video");
    }
    Sniffed::Unknown
}

/// An MPEG audio layer III frame header.
fn is_mp3_frame(head: &[u8]) -> bool {
    head.len() >= 4 && head[0] == 0xFF && head[1] & 0xE6 == 0xE2 && head[2] & 0xF0 != 0xF0
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_decide_not_names() {
        assert_eq!(
            sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF"),
            Sniffed::Accepted(Format::Jpeg)
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0"),
            Sniffed::Accepted(Format::Png)
        );
        assert_eq!(
            sniff(b"\0\0\0\x20ftypM4A \0\0\0\0"),
            Sniffed::Accepted(Format::M4a)
        );
        assert_eq!(
            sniff(b"\0\0\0\x20ftyp3gp4\0\0\0\0"),
            Sniffed::Accepted(Format::ThreeGp)
        );
        assert_eq!(
            sniff(b"\0\0\0\x20ftypisom\0\0\0\0"),
            Sniffed::Accepted(Format::Mp4)
        );
        assert_eq!(sniff(b"ID3\x04\0"), Sniffed::Accepted(Format::Mp3));
        assert_eq!(sniff(b"\xFF\xFB\x90\x64"), Sniffed::Accepted(Format::Mp3));
        assert_eq!(sniff(b"%PDF-1.7\n"), Sniffed::Refused("PDF document"));
        assert_eq!(
            sniff(b"OggS\0\x02\0\0\0\0\0\0\0\0\x01\x1eOpusHead"),
            Sniffed::Accepted(Format::Ogg)
        );
        assert_eq!(
            sniff(b"OggS\0\x02 theora"),
            Sniffed::Refused("ogg file with neither Vorbis nor Opus audio")
        );
        assert_eq!(sniff(b"hello"), Sniffed::Unknown);
    }

    #[test]
    fn limits_follow_the_kind() {
        assert_eq!(Format::Png.max_bytes(), 10 * MB);
        assert_eq!(Format::Ogg.max_bytes(), 20 * MB);
        assert_eq!(Format::ThreeGp.kind(), MediaKind::Video);
        assert!(!Format::Mp3.needs_ffmpeg());
        assert!(Format::Mp4.needs_ffmpeg());
    }
}
