//! Landed NDJSON objects → the distinct events of each fact table. The invariant: objects are
//! taken in name order and lines in file order, and of several lines with one `event_id` in one
//! fact table only the first is kept — the warehouse's dedup rule (sql/README.md), where the
//! business columns of every copy are the same. Every non-blank line is counted: as an event,
//! as a duplicate, or as malformed (with the first few reasons kept), never silently dropped.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::ReportError;
use super::events::{Event, Fact, Names, parse_line};

/// Where landed events are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A directory in the file sink's layout (`YYYY/MM/DD/HH/*.ndjson`), read recursively.
    File(PathBuf),
    /// Every object under a prefix of an S3 bucket (Firehose's layout).
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix (may be empty).
        prefix: String,
    },
}

impl std::str::FromStr for Source {
    type Err = String;

    fn from_str(s: &str) -> Result<Source, String> {
        if let Some(dir) = s.strip_prefix("file://").filter(|d| !d.is_empty()) {
            return Ok(Source::File(PathBuf::from(dir)));
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if !bucket.is_empty() {
                return Ok(Source::S3 { bucket: bucket.to_string(), prefix: prefix.to_string() });
            }
        }
        Err(format!("expected file://DIR or s3://BUCKET/PREFIX, got {s:?}"))
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(dir) => write!(f, "file://{}", dir.display()),
            Source::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// How many malformed lines are quoted in the report.
const EXAMPLES: usize = 10;

/// What was read: the distinct events and the accounting of every line.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Distinct events (first copy per fact table and `event_id`), in landing order.
    pub events: Vec<Event>,
    /// Game and user ids.
    pub names: Names,
    /// Objects (files) read.
    pub objects: u64,
    /// Non-blank lines read.
    pub lines: u64,
    /// Lines beyond the first of their `event_id` in their fact table.
    pub duplicates: u64,
    /// Lines that are not an event (see `events::parse_line`).
    pub malformed: u64,
    /// The first few malformed lines as `object:line: reason`.
    pub malformed_examples: Vec<String>,
    seen: HashSet<(Fact, String)>,
}

impl Loaded {
    /// Adds one object's lines (call in object-name order).
    pub fn add_object(&mut self, name: &str, body: &[u8]) {
        self.objects += 1;
        let text = String::from_utf8_lossy(body);
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            self.lines += 1;
            match parse_line(line, &mut self.names) {
                Ok(event) => {
                    if self.seen.insert((event.fact, event.event_id.clone())) {
                        self.events.push(event);
                    } else {
                        self.duplicates += 1;
                    }
                }
                Err(why) => {
                    self.malformed += 1;
                    if self.malformed_examples.len() < EXAMPLES {
                        self.malformed_examples.push(format!("{name}:{}: {why}", number + 1));
                    }
                }
            }
        }
    }

    /// Drops the dedup index once every object is in.
    pub fn finish(mut self) -> Loaded {
        self.seen = HashSet::new();
        self
    }
}

/// Whether a file in a landing directory holds NDJSON: not hidden (the file sink's `.…tmp`
/// files are), and `.ndjson`, `.jsonl`, `.json` or no extension (objects synced from S3).
fn is_landed_file(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    if name.starts_with('.') {
        return false;
    }
    match path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()) {
        None => true,
        Some(e) => matches!(e.as_str(), "ndjson" | "jsonl" | "json"),
    }
}

/// Every landed file under `dir`, sorted by path.
pub fn landed_files(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let io = |e: std::io::Error| ReportError::Read { what: dir.display().to_string(), source: e };
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.is_dir() {
                stack.push(path);
            } else if is_landed_file(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Reads a `file://` source.
pub fn read_dir(dir: &Path) -> Result<Loaded, ReportError> {
    let mut loaded = Loaded::default();
    for path in landed_files(dir)? {
        let body = std::fs::read(&path)
            .map_err(|e| ReportError::Read { what: path.display().to_string(), source: e })?;
        let name = path.strip_prefix(dir).unwrap_or(&path).display().to_string();
        loaded.add_object(&name, &body);
    }
    Ok(loaded.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"event_id":"e1","event_type":"session_start","timestamp":"2026-10-01T08:00:00Z","user_id":"u","game_id":"g","session_id":"s"}"#;

    #[test]
    fn sources_parse() {
        assert_eq!("file:///tmp/x".parse(), Ok(Source::File(PathBuf::from("/tmp/x"))));
        assert_eq!(
            "s3://b/landed/2026".parse(),
            Ok(Source::S3 { bucket: "b".into(), prefix: "landed/2026".into() })
        );
        assert_eq!("s3://b".parse(), Ok(Source::S3 { bucket: "b".into(), prefix: String::new() }));
        assert!("http://x".parse::<Source>().is_err());
        assert!("s3://".parse::<Source>().is_err());
        assert_eq!(Source::S3 { bucket: "b".into(), prefix: "p/".into() }.to_string(), "s3://b/p/");
    }

    #[test]
    fn every_line_is_accounted_for() {
        let mut l = Loaded::default();
        let install = LINE.replace("session_start", "install");
        let body = format!("{LINE}\n\n{LINE}\nnot json\n{install}\n");
        l.add_object("a.ndjson", body.as_bytes());
        l.add_object("b.ndjson", LINE.as_bytes());
        let l = l.finish();
        assert_eq!((l.objects, l.lines, l.duplicates, l.malformed), (2, 5, 2, 1));
        // the same id in another fact table is another row, as in the warehouse
        assert_eq!(l.events.len(), 2);
        assert_eq!(l.malformed_examples, vec!["a.ndjson:4: not a JSON object of the expected shape"]);
    }

    #[test]
    fn landing_files_are_found_in_order_and_temp_files_skipped() {
        let dir = std::env::temp_dir().join(format!("playstream-report-load-{}", std::process::id()));
        let hour = dir.join("2026/10/01/08");
        std::fs::create_dir_all(&hour).unwrap();
        std::fs::write(hour.join("b.ndjson"), LINE).unwrap();
        std::fs::write(hour.join("a.ndjson"), format!("{LINE}\n")).unwrap();
        std::fs::write(hour.join(".c.ndjson.tmp"), "half").unwrap();
        std::fs::write(dir.join("notes.txt"), "x").unwrap();
        let files = landed_files(&dir).unwrap();
        let names: Vec<_> =
            files.iter().map(|f| f.strip_prefix(&dir).unwrap().display().to_string()).collect();
        assert_eq!(names, ["2026/10/01/08/a.ndjson", "2026/10/01/08/b.ndjson"]);
        let l = read_dir(&dir).unwrap();
        assert_eq!((l.lines, l.duplicates, l.events.len()), (2, 1, 1));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(read_dir(&dir), Err(ReportError::Read { .. })));
    }
}
