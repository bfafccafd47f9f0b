//! Just enough of three container formats to check a file is whole and measure it, without
//! ffmpeg and without reading it all into memory: MP4/M4A boxes (duration from `mvhd`, and
//! whether `moov` comes before `mdat`), MP3 frames (duration from the frame count) and Ogg
//! pages (complete, ending with an end-of-stream page).

use std::io::{self, Read, Seek, SeekFrom};

/// Why a file is not a whole, valid container.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("the file is truncated or damaged ({0})")]
    Damaged(&'static str),
    #[error("cannot read the file: {0}")]
    Io(#[from] io::Error),
}

fn damaged(why: &'static str) -> ContainerError {
    ContainerError::Damaged(why)
}

/// What the MP4 boxes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mp4Info {
    pub duration_ms: u64,
    /// `moov` precedes `mdat`, so a player can start before the whole file arrives.
    pub faststart: bool,
}

/// Walks the top-level boxes of an MP4/M4A/3GP file: every box must fit the file, and `moov`
/// must hold an `mvhd` with a duration.
pub fn mp4_info<R: Read + Seek>(mut r: R) -> Result<Mp4Info, ContainerError> {
    let len = r.seek(SeekFrom::End(0))?;
    let mut at = r.seek(SeekFrom::Start(0))?;
    let mut duration_ms = None;
    let mut seen_mdat = false;
    let mut faststart = false;
    while at < len {
        let (kind, header, size) = box_header(&mut r, at, len)?;
        match &kind {
            b"moov" => {
                faststart = !seen_mdat;
                duration_ms = Some(moov_duration(&mut r, at + header, at + size)?);
            }
            b"mdat" => seen_mdat = true,
            _ => {}
        }
        at += size;
    }
    let duration_ms = duration_ms.ok_or(damaged("no moov box"))?;
    if !seen_mdat {
        return Err(damaged("no media data"));
    }
    Ok(Mp4Info {
        duration_ms,
        faststart,
    })
}

/// Reads the box header at `at`: (type, header length, total size). The box must end within
/// `end`.
fn box_header<R: Read + Seek>(
    r: &mut R,
    at: u64,
    end: u64,
) -> Result<([u8; 4], u64, u64), ContainerError> {
    r.seek(SeekFrom::Start(at))?;
    let mut head = [0u8; 8];
    read_exact(r, &mut head, "box header cut off")?;
    let kind = [head[4], head[5], head[6], head[7]];
    let (size, header) = match u32::from_be_bytes([head[0], head[1], head[2], head[3]]) {
        0 => (end - at, 8),
        1 => {
            let mut large = [0u8; 8];
            read_exact(r, &mut large, "box header cut off")?;
            (u64::from_be_bytes(large), 16)
        }
        n => (u64::from(n), 8),
    };
    if size < header || at.checked_add(size).is_none_or(|e| e > end) {
        return Err(damaged("a box runs past the end of the file"));
    }
    Ok((kind, header, size))
}

/// Finds `mvhd` inside `moov` (`start..end`) and converts its duration to milliseconds.
fn moov_duration<R: Read + Seek>(r: &mut R, start: u64, end: u64) -> Result<u64, ContainerError> {
    let mut at = start;
    while at < end {
        let (kind, header, size) = box_header(r, at, end)?;
        if &kind == b"mvhd" {
            r.seek(SeekFrom::Start(at + header))?;
            let mut version = [0u8; 4];
            read_exact(r, &mut version, "mvhd cut off")?;
            let (timescale, duration) = if version[0] == 1 {
                let mut b = [0u8; 28];
                read_exact(r, &mut b, "mvhd cut off")?;
                (
                    u32::from_be_bytes([b[16], b[17], b[18], b[19]]),
                    u64::from_be_bytes([b[20], b[21], b[22], b[23], b[24], b[25], b[26], b[27]]),
                )
            } else {
                let mut b = [0u8; 16];
                read_exact(r, &mut b, "mvhd cut off")?;
                (
                    u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
                    u64::from(u32::from_be_bytes([b[12], b[13], b[14], b[15]])),
                )
            };
            if timescale == 0 || duration == 0 {
                return Err(damaged("mvhd has no duration"));
            }
            return Ok(duration.saturating_mul(1000) / u64::from(timescale));
        }
        at += size;
    }
    Err(damaged("moov has no mvhd"))
}

/// The duration of an MP3 file, from its frames (after any ID3v2 tag). Stops at the first
/// bytes that are not a frame (an ID3v1 tag, padding); needs at least one whole frame.
pub fn mp3_duration_ms<R: Read + Seek>(mut r: R) -> Result<u64, ContainerError> {
    let len = r.seek(SeekFrom::End(0))?;
    r.seek(SeekFrom::Start(0))?;
    let mut at = 0u64;
    let mut tag = [0u8; 10];
    if len >= 10 {
        read_exact(&mut r, &mut tag, "ID3 tag cut off")?;
        if &tag[..3] == b"ID3" {
            let size = tag[6..10]
                .iter()
                .fold(0u64, |acc, b| (acc << 7) | u64::from(b & 0x7F));
            let footer = if tag[5] & 0x10 != 0 { 10 } else { 0 };
            at = 10 + size + footer;
        }
    }
    let mut samples = 0u64;
    let mut sample_rate = 0u32;
    let mut frames = 0u64;
    let mut header = [0u8; 4];
    while at + 4 <= len {
        r.seek(SeekFrom::Start(at))?;
        read_exact(&mut r, &mut header, "frame cut off")?;
        let Some(frame) = Mp3Frame::parse(header) else {
            break;
        };
        if at + frame.length > len {
            // The last frame is cut short: count what is whole.
            break;
        }
        samples += u64::from(frame.samples);
        sample_rate = frame.sample_rate;
        frames += 1;
        at += frame.length;
    }
    if frames == 0 || sample_rate == 0 {
        return Err(damaged("no MP3 audio frames"));
    }
    Ok(samples * 1000 / u64::from(sample_rate))
}

/// One MPEG audio layer III frame header.
struct Mp3Frame {
    length: u64,
    samples: u32,
    sample_rate: u32,
}

impl Mp3Frame {
    fn parse(h: [u8; 4]) -> Option<Self> {
        if h[0] != 0xFF || h[1] & 0xE0 != 0xE0 {
            return None;
        }
        // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5; layer bits 01 = layer III.
        let version = (h[1] >> 3) & 0b11;
        if version == 1 || (h[1] >> 1) & 0b11 != 1 {
            return None;
        }
        let bitrate_index = usize::from(h[2] >> 4);
        let rate_index = usize::from((h[2] >> 2) & 0b11);
        if bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
            return None;
        }
        const V1: [u32; 15] = [
            0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
        ];
        const V2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
        const RATES: [u32; 3] = [44_100, 48_000, 32_000];
        let mpeg1 = version == 3;
        let bitrate = if mpeg1 { V1 } else { V2 }[bitrate_index] * 1000;
        let sample_rate = match version {
            3 => RATES[rate_index],
            2 => RATES[rate_index] / 2,
            _ => RATES[rate_index] / 4,
        };
        let samples: u32 = if mpeg1 { 1152 } else { 576 };
        let padding = u32::from((h[2] >> 1) & 1);
        let length = samples / 8 * bitrate / sample_rate + padding;
        Some(Mp3Frame {
            length: u64::from(length),
            samples,
            sample_rate,
        })
    }
}

/// Checks an Ogg stream page by page: every page whole and the last one marked end of stream,
/// so a truncated upload is refused before conversion.
pub fn ogg_check<R: Read + Seek>(mut r: R) -> Result<(), ContainerError> {
    let len = r.seek(SeekFrom::End(0))?;
    let mut at = r.seek(SeekFrom::Start(0))?;
    let mut last_flags = None;
    while at < len {
        r.seek(SeekFrom::Start(at))?;
        let mut header = [0u8; 27];
        read_exact(&mut r, &mut header, "page header cut off")?;
        if &header[..4] != b"OggS" {
            return Err(damaged("bytes between Ogg pages"));
        }
        let segments = usize::from(header[26]);
        let mut table = vec![0u8; segments];
        read_exact(&mut r, &mut table, "page segment table cut off")?;
        let body: u64 = table.iter().map(|&b| u64::from(b)).sum();
        let end = at + 27 + segments as u64 + body;
        if end > len {
            return Err(damaged("the last Ogg page is cut off"));
        }
        last_flags = Some(header[5]);
        at = end;
    }
    match last_flags {
        Some(flags) if flags & 0x04 != 0 => Ok(()),
        Some(_) => Err(damaged("the Ogg stream has no end-of-stream page")),
        None => Err(damaged("no Ogg pages")),
    }
}

fn read_exact<R: Read>(r: &mut R, buf: &mut [u8], why: &'static str) -> Result<(), ContainerError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => damaged(why),
        _ => ContainerError::Io(e),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let size = u32::try_from(body.len() + 8).expect("small box");
        [&size.to_be_bytes()[..], kind, body].concat()
    }

    fn mvhd(timescale: u32, duration: u32) -> Vec<u8> {
        let mut body = vec![0u8; 12];
        body.extend(timescale.to_be_bytes());
        body.extend(duration.to_be_bytes());
        body.extend([0u8; 80]);
        mp4_box(b"mvhd", &body)
    }

    #[test]
    fn mp4_duration_and_box_order() {
        let ftyp = mp4_box(b"ftyp", b"isom\0\0\0\0");
        let moov = mp4_box(b"moov", &mvhd(600, 1500));
        let mdat = mp4_box(b"mdat", &[0u8; 32]);
        let fast = [ftyp.clone(), moov.clone(), mdat.clone()].concat();
        let info = mp4_info(Cursor::new(&fast)).expect("valid");
        assert_eq!(
            info,
            Mp4Info {
                duration_ms: 2500,
                faststart: true
            }
        );
        let slow = [ftyp.clone(), mdat.clone(), moov.clone()].concat();
        assert!(!mp4_info(Cursor::new(&slow)).expect("valid").faststart);
        let cut = &slow[..slow.len() - 10];
        assert!(matches!(
            mp4_info(Cursor::new(cut)),
            Err(ContainerError::Damaged(_))
        ));
    }

    #[test]
    fn mp3_duration_counts_whole_frames() {
        // MPEG-1 layer III, 128 kbit/s, 44.1 kHz, no padding: 417 bytes, 1152 samples.
        let mut frame = vec![0xFF, 0xFB, 0x90, 0x64];
        frame.resize(417, 0);
        let file = frame.repeat(100);
        assert_eq!(mp3_duration_ms(Cursor::new(&file)).expect("mp3"), 2612);
        let mut tagged = b"ID3\x04\0\0\0\0\0\x05abcde".to_vec();
        tagged.extend(&file[..417 * 10 + 100]);
        assert_eq!(mp3_duration_ms(Cursor::new(&tagged)).expect("mp3"), 261);
        assert!(mp3_duration_ms(Cursor::new(b"not audio at all")).is_err());
    }

    fn ogg_page(flags: u8, body: &[u8]) -> Vec<u8> {
        let mut page = b"OggS\0".to_vec();
        page.push(flags);
        page.extend([0u8; 20]);
        page.push(1);
        page.push(u8::try_from(body.len()).expect("one segment"));
        page.extend(body);
        page
    }

    #[test]
    fn ogg_must_be_whole_and_ended() {
        let whole = [
            ogg_page(0x02, b"OpusHead"),
            ogg_page(0, &[1; 50]),
            ogg_page(0x04, &[2; 30]),
        ]
        .concat();
        ogg_check(Cursor::new(&whole)).expect("whole stream");
        let cut = &whole[..whole.len() - 5];
        assert!(matches!(
            ogg_check(Cursor::new(cut)),
            Err(ContainerError::Damaged(_))
        ));
        let unended = [ogg_page(0x02, b"OpusHead"), ogg_page(0, &[1; 50])].concat();
        assert!(matches!(
            ogg_check(Cursor::new(&unended)),
            Err(ContainerError::Damaged(_))
        ));
    }
}
