//! Where validated lines go: Firehose (`firehose://STREAM`) or a local directory
//! (`file://DIR`) laid out like Firehose's S3 prefixes (`YYYY/MM/DD/HH/`). The file sink writes
//! each batch to a temporary file, fsyncs it, renames it into place and fsyncs the directory
//! before reporting the batch delivered, so an acknowledged line survives a crash.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::batch::{Batch, Ticket};
use super::firehose::FirehoseSink;
use super::health::{Dependency, Health};
use super::retry::FailureClass;
use super::wire::{Encoding, Frame};

/// A parsed `--sink` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// A Firehose delivery stream name.
    Firehose(String),
    /// A local directory.
    File(PathBuf),
}

impl std::str::FromStr for SinkSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<SinkSpec, String> {
        if let Some(stream) = s.strip_prefix("firehose://").filter(|v| !v.is_empty()) {
            return Ok(SinkSpec::Firehose(stream.to_string()));
        }
        if let Some(dir) = s.strip_prefix("file://").filter(|v| !v.is_empty()) {
            return Ok(SinkSpec::File(PathBuf::from(dir)));
        }
        Err(format!("expected firehose://STREAM or file://DIR, got {s:?}"))
    }
}

/// A ready sink.
#[derive(Debug, Clone)]
pub enum Sink {
    /// Firehose.
    Firehose(FirehoseSink),
    /// Local files, with the readiness they report to.
    File(PathBuf, Arc<Health>),
}

/// Startup check of a file sink: the directory can be created. An error is a configuration
/// error (not retryable).
pub fn check_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

impl Sink {
    /// How this sink wants validated lines encoded.
    pub fn encoding(&self) -> Encoding {
        match self {
            Sink::Firehose(_) => Encoding::Firehose,
            Sink::File(..) => Encoding::Ndjson,
        }
    }

    /// How this sink wants a batch's entries framed into one request body.
    pub fn frame(&self) -> Frame {
        match self {
            Sink::Firehose(f) => f.frame().clone(),
            Sink::File(..) => Frame::none(),
        }
    }

    /// Delivers every entry of `batch` (encoded and framed as [`Sink::encoding`] and
    /// [`Sink::frame`] say); returns the batch's tickets only when all are durably stored.
    pub async fn deliver(&self, batch: Batch, now_micros: i64) -> Vec<Ticket> {
        match self {
            Sink::Firehose(f) => f.deliver(batch).await,
            Sink::File(dir, health) => {
                let mut attempt = 0;
                // NDJSON entries are the lines back to back: the body is the file.
                let Batch { buf, tickets, .. } = batch;
                let body = bytes::Bytes::from(buf);
                health.started(Dependency::Sink);
                loop {
                    let dir = dir.clone();
                    let body = body.clone();
                    let written =
                        tokio::task::spawn_blocking(move || write_file(&dir, &body, now_micros)).await;
                    let class = match written {
                        Ok(Ok(_)) => break,
                        Ok(Err(e)) => {
                            tracing::error!(error = %e, "file sink write failed; retrying");
                            if e.kind() == std::io::ErrorKind::PermissionDenied {
                                FailureClass::Fatal
                            } else {
                                FailureClass::Transient
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "file sink task failed; retrying");
                            FailureClass::Transient
                        }
                    };
                    if class == FailureClass::Fatal {
                        health.fatal(Dependency::Sink);
                    }
                    attempt += 1;
                    tokio::time::sleep(class.backoff(attempt)).await;
                }
                health.succeeded(Dependency::Sink);
                health.finished(Dependency::Sink);
                tickets
            }
        }
    }
}

/// The `YYYY/MM/DD/HH` prefix of a time (µs since the epoch).
pub fn hour_prefix(micros: i64) -> String {
    let text = crate::validate::time::to_rfc3339(micros);
    let b = text.as_bytes();
    let part = |r: std::ops::Range<usize>| {
        b.get(r).map(|s| String::from_utf8_lossy(s).into_owned()).unwrap_or_default()
    };
    format!("{}/{}/{}/{}", part(0..4), part(5..7), part(8..10), part(11..13))
}

/// Writes one object durably and returns its path.
pub fn write_file(root: &Path, body: &[u8], now_micros: i64) -> std::io::Result<PathBuf> {
    let dir = root.join(hour_prefix(now_micros));
    std::fs::create_dir_all(&dir)?;
    let name = format!("playstream-{now_micros}-{:016x}.ndjson", fastrand::u64(..));
    let tmp = dir.join(format!(".{name}.tmp"));
    let path = dir.join(name);
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(body).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        // Leave nothing half-written behind; the caller retries with a new name.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!("firehose://game-events".parse(), Ok(SinkSpec::Firehose("game-events".into())));
        assert_eq!("file:///tmp/x".parse(), Ok(SinkSpec::File("/tmp/x".into())));
        assert!("s3://b".parse::<SinkSpec>().is_err());
        assert!("firehose://".parse::<SinkSpec>().is_err());
    }

    #[test]
    fn files_land_under_hour_prefixes() {
        let root = std::env::temp_dir().join(format!("playstream-sink-{}", fastrand::u64(..)));
        let t = crate::validate::time::parse_rfc3339("2026-11-22T07:30:00Z").unwrap();
        assert_eq!(hour_prefix(t), "2026/11/22/07");
        let path = write_file(&root, b"{\"a\":1}\n", t).unwrap();
        assert!(path.starts_with(root.join("2026/11/22/07")));
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}\n");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(root).unwrap();
    }
}
