//! Stored attachments: what kind of media a message carries and where its content stands.

use crate::message::MessageKind;
use crate::text_enum;

text_enum! {
    /// The kinds of message whose content is a stored file.
    pub enum MediaKind ("media kind") {
        /// A picture (JPEG or PNG towards LINE).
        Image = "image",
        /// A video clip (mp4 towards LINE).
        Video = "video",
        /// A voice message or audio clip (m4a or mp3 towards LINE).
        Audio = "audio",
        /// Any file a user sent (bots cannot send files).
        File = "file",
    }
}

impl MediaKind {
    /// The media kind of a message kind; `None` for kinds without stored content.
    pub fn of_message(kind: MessageKind) -> Option<Self> {
        match kind {
            MessageKind::Image => Some(MediaKind::Image),
            MessageKind::Video => Some(MediaKind::Video),
            MessageKind::Audio => Some(MediaKind::Audio),
            MessageKind::File => Some(MediaKind::File),
            MessageKind::Text
            | MessageKind::Location
            | MessageKind::Sticker
            | MessageKind::Unknown => None,
        }
    }

    /// The message kind that carries this media.
    pub fn message_kind(self) -> MessageKind {
        match self {
            MediaKind::Image => MessageKind::Image,
            MediaKind::Video => MessageKind::Video,
            MediaKind::Audio => MessageKind::Audio,
            MediaKind::File => MessageKind::File,
        }
    }
}

text_enum! {
    /// Where a stored attachment stands.
    pub enum MediaState ("media state") {
        /// Incoming: waiting to be downloaded from LINE.
        Pending = "pending",
        /// Stored: the content can be served.
        Ready = "ready",
        /// Incoming: LINE no longer has it (the user unsent it before we fetched it).
        Gone = "gone",
        /// Incoming: the download kept failing and was given up.
        Failed = "failed",
        /// Unsent or past retention: its objects are about to be deleted.
        Purge = "purge",
        /// Its objects were deleted.
        Deleted = "deleted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_content_kinds_are_media() {
        for kind in MessageKind::ALL {
            match MediaKind::of_message(*kind) {
                Some(media) => assert_eq!(media.message_kind(), *kind),
                None => assert!(matches!(
                    kind,
                    MessageKind::Text
                        | MessageKind::Location
                        | MessageKind::Sticker
                        | MessageKind::Unknown
                )),
            }
        }
    }
}
