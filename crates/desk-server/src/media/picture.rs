//! Still pictures: decode (with limits against decompression bombs), apply the EXIF
//! orientation, and make the JPEG previews LINE and the console show. CPU work: call from
//! `spawn_blocking`.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

/// LINE's limit for `previewImageUrl`.
pub const PREVIEW_MAX_BYTES: usize = 1024 * 1024;
/// Longest side of the preview LINE shows in the chat.
pub const PREVIEW_SIDE: u32 = 1024;
/// Longest side of the console's thumbnail.
pub const THUMB_SIDE: u32 = 320;
/// Most bytes a console thumbnail may take.
pub const THUMB_MAX_BYTES: usize = 100 * 1024;
/// Largest picture decoded (each side), far beyond any phone photo.
const MAX_SIDE: u32 = 16_384;
/// Most memory one decode may take.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// Why a picture cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("the image cannot be decoded (damaged, truncated or too large): {0}")]
    Decode(#[from] image::ImageError),
    #[error("the image cannot be read: {0}")]
    Io(#[from] std::io::Error),
}

/// What the desk keeps beside a picture: LINE's preview and the console's thumbnail (both
/// JPEG), and the upright width and height.
pub type Previews = (Vec<u8>, Vec<u8>, (u32, u32));

/// Decodes `bytes` and makes its [`Previews`].
pub fn previews(bytes: &[u8]) -> Result<Previews, PictureError> {
    let picture = Picture::decode(bytes)?;
    Ok((
        picture.jpeg(PREVIEW_SIDE, PREVIEW_MAX_BYTES)?,
        picture.jpeg(THUMB_SIDE, THUMB_MAX_BYTES)?,
        picture.dimensions(),
    ))
}

/// A decoded picture, upright.
pub struct Picture(DynamicImage);

impl Picture {
    /// Decodes `bytes` (JPEG or PNG) and turns it upright per its EXIF orientation.
    pub fn decode(bytes: &[u8]) -> Result<Self, PictureError> {
        let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format()?;
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        limits.max_alloc = Some(MAX_ALLOC);
        reader.limits(limits);
        let mut decoder = reader.into_decoder()?;
        let orientation = decoder.orientation()?;
        let mut image = DynamicImage::from_decoder(decoder)?;
        image.apply_orientation(orientation);
        Ok(Self(image))
    }

    /// Width and height, upright.
    pub fn dimensions(&self) -> (u32, u32) {
        (self.0.width(), self.0.height())
    }

    /// A JPEG of at most `max_side` pixels on the longest side and at most `max_bytes`,
    /// keeping the aspect ratio: smaller and smaller until it fits.
    pub fn jpeg(&self, max_side: u32, max_bytes: usize) -> Result<Vec<u8>, PictureError> {
        let (w, h) = self.dimensions();
        let mut side = max_side.min(w.max(h)).max(1);
        loop {
            let scaled = if side >= w.max(h) {
                self.0.clone()
            } else {
                // `thumbnail` keeps the aspect ratio within a side × side box.
                self.0.thumbnail(side, side)
            };
            let mut out = Vec::new();
            JpegEncoder::new_with_quality(&mut out, 85).encode_image(&scaled.to_rgb8())?;
            if out.len() <= max_bytes || side <= 64 {
                return Ok(out);
            }
            side = side * 3 / 4;
        }
    }
}

#[cfg(test)]
mod tests {
    use image::{ImageFormat, Rgb, RgbImage};

    use super::*;

    fn noise(w: u32, h: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(w, h, |x, y| {
            let v = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) as u8;
            Rgb([v, v.wrapping_mul(3), v.wrapping_add(y as u8)])
        });
        let mut png = Vec::new();
        DynamicImage::ImageRgb8(image)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .expect("png");
        png
    }

    #[test]
    fn previews_fit_the_limit_and_keep_the_aspect_ratio() {
        let picture = Picture::decode(&noise(3000, 1500)).expect("decodes");
        let jpeg = picture.jpeg(PREVIEW_SIDE, 200 * 1024).expect("jpeg");
        assert!(jpeg.len() <= 200 * 1024, "{} bytes", jpeg.len());
        let preview = Picture::decode(&jpeg).expect("preview decodes");
        let (w, h) = preview.dimensions();
        assert!(w <= PREVIEW_SIDE && (f64::from(w) / f64::from(h) - 2.0).abs() < 0.01);
    }

    #[test]
    fn exif_orientation_turns_the_picture_upright() {
        let mut jpeg = Vec::new();
        DynamicImage::ImageRgb8(RgbImage::new(40, 20))
            .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .expect("jpeg");
        // APP1 "Exif": one IFD entry, Orientation (0x0112) = 6, "rotate 90° clockwise".
        let mut exif = vec![0xFF, 0xE1, 0x00, 34];
        exif.extend(b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0");
        jpeg.splice(2..2, exif);
        let picture = Picture::decode(&jpeg).expect("decodes");
        assert_eq!(picture.dimensions(), (20, 40));
    }

    #[test]
    fn truncated_pictures_are_refused() {
        let png = noise(200, 200);
        assert!(Picture::decode(&png[..png.len() / 2]).is_err());
    }
}
