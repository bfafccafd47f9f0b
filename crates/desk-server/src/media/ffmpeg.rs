//! ffmpeg, an external program (Debian package `ffmpeg`): found at start, run in a bounded
//! pool (no more processes at once than permits, normally the CPU count) with a time limit,
//! killed when the limit passes or the caller gives up.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::Semaphore;

/// Why an ffmpeg run failed.
#[derive(Debug, thiserror::Error)]
pub enum FfmpegError {
    #[error("ffmpeg could not be started: {0}")]
    Spawn(std::io::Error),
    #[error("ffmpeg took longer than {0:?} and was stopped")]
    Timeout(Duration),
    #[error("ffmpeg could not convert the file: {0}")]
    Failed(String),
}

/// A found ffmpeg and the pool that runs it.
#[derive(Debug, Clone)]
pub struct Ffmpeg {
    program: PathBuf,
    /// `ffmpeg -version`'s first line, for `/readyz`.
    pub version: String,
    permits: Arc<Semaphore>,
    timeout: Duration,
}

impl Ffmpeg {
    /// Runs `program -version`; `None` when it cannot be run.
    pub async fn detect(program: &Path, workers: usize, timeout: Duration) -> Option<Self> {
        let output = Command::new(program)
            .arg("-version")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .ok()?;
        if !output.status.success() {
            return None;
        }
        let version = String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or("ffmpeg")
            .to_owned();
        Some(Self {
            program: program.to_owned(),
            version,
            permits: Arc::new(Semaphore::new(workers.max(1))),
            timeout,
        })
    }

    /// Converts audio to AAC in an m4a container.
    pub async fn audio_to_m4a(&self, input: &Path, output: &Path) -> Result<(), FfmpegError> {
        self.run(&[
            "-i".as_ref(),
            input.as_os_str(),
            "-vn".as_ref(),
            "-c:a".as_ref(),
            "aac".as_ref(),
            "-b:a".as_ref(),
            "128k".as_ref(),
            "-movflags".as_ref(),
            "+faststart".as_ref(),
            "-f".as_ref(),
            "ipod".as_ref(),
            output.as_os_str(),
        ])
        .await
    }

    /// Converts video to H.264/AAC mp4 (even dimensions, 4:2:0, `moov` first).
    pub async fn video_to_mp4(&self, input: &Path, output: &Path) -> Result<(), FfmpegError> {
        self.run(&[
            "-i".as_ref(),
            input.as_os_str(),
            "-c:v".as_ref(),
            "libx264".as_ref(),
            "-preset".as_ref(),
            "veryfast".as_ref(),
            "-pix_fmt".as_ref(),
            "yuv420p".as_ref(),
            "-vf".as_ref(),
            "scale=trunc(iw/2)*2:trunc(ih/2)*2".as_ref(),
            "-c:a".as_ref(),
            "aac".as_ref(),
            "-movflags".as_ref(),
            "+faststart".as_ref(),
            "-f".as_ref(),
            "mp4".as_ref(),
            output.as_os_str(),
        ])
        .await
    }

    /// Rewrites an mp4 with `moov` first, streams copied as they are.
    pub async fn faststart(&self, input: &Path, output: &Path) -> Result<(), FfmpegError> {
        self.run(&[
            "-i".as_ref(),
            input.as_os_str(),
            "-map".as_ref(),
            "0".as_ref(),
            "-c".as_ref(),
            "copy".as_ref(),
            "-movflags".as_ref(),
            "+faststart".as_ref(),
            "-f".as_ref(),
            "mp4".as_ref(),
            output.as_os_str(),
        ])
        .await
    }

    /// The first video frame as a JPEG at display proportions (non-square pixels stretched),
    /// so a preview made from it has the video's aspect ratio.
    pub async fn first_frame(&self, input: &Path, output: &Path) -> Result<(), FfmpegError> {
        self.run(&[
            "-i".as_ref(),
            input.as_os_str(),
            "-frames:v".as_ref(),
            "1".as_ref(),
            "-vf".as_ref(),
            "scale=trunc(iw*sar):ih,setsar=1".as_ref(),
            "-q:v".as_ref(),
            "2".as_ref(),
            "-f".as_ref(),
            "image2".as_ref(),
            output.as_os_str(),
        ])
        .await
    }

    /// Runs ffmpeg with `args` once a permit is free; kills it after the time limit.
    async fn run(&self, args: &[&OsStr]) -> Result<(), FfmpegError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| FfmpegError::Failed("the conversion pool is closed".into()))?;
        let child = Command::new(&self.program)
            .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Dropping the future (timeout, cancelled request) kills the process.
            .kill_on_drop(true)
            .spawn()
            .map_err(FfmpegError::Spawn)?;
        let output = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| FfmpegError::Timeout(self.timeout))?
            .map_err(FfmpegError::Spawn)?;
        if output.status.success() {
            Ok(())
        } else {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
            Err(FfmpegError::Failed(
                last.unwrap_or("no error output").trim().to_owned(),
            ))
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;
    use std::time::Instant;

    use super::*;

    /// A stand-in "ffmpeg" that answers `-version` and otherwise hangs.
    fn hanging_ffmpeg(dir: &Path) -> PathBuf {
        let path = dir.join("ffmpeg");
        std::fs::write(
            &path,
            "#!/bin/sh\n[ \"$1\" = -version ] && { echo 'ffmpeg version test'; exit 0; }\nexec sleep 30\n",
        )
        .expect("script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    #[tokio::test]
    async fn a_hanging_conversion_is_stopped_at_the_time_limit() {
        let dir = tempfile::tempdir().expect("dir");
        let program = hanging_ffmpeg(dir.path());
        // A script just written cannot be run (ETXTBSY) while another test's child process,
        // forked meanwhile, still holds the written file open until it execs: try again.
        let mut ffmpeg = None;
        for _ in 0..40 {
            ffmpeg = Ffmpeg::detect(&program, 1, Duration::from_millis(300)).await;
            if ffmpeg.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let ffmpeg = ffmpeg.expect("detected");
        assert_eq!(ffmpeg.version, "ffmpeg version test");
        let started = Instant::now();
        let result = ffmpeg
            .audio_to_m4a(&dir.path().join("in.ogg"), &dir.path().join("out.m4a"))
            .await;
        assert!(matches!(result, Err(FfmpegError::Timeout(_))), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        // The permit came back: the next run starts (and times out) too.
        let again = ffmpeg
            .first_frame(&dir.path().join("in.mp4"), &dir.path().join("f.jpg"))
            .await;
        assert!(matches!(again, Err(FfmpegError::Timeout(_))));
    }

    #[tokio::test]
    async fn a_missing_program_is_not_detected() {
        let missing = Path::new("/nonexistent/ffmpeg");
        assert!(
            Ffmpeg::detect(missing, 1, Duration::from_secs(1))
                .await
                .is_none()
        );
    }
}
