//! The persistent queue (feature `disk-queue`): the client's own at-least-once promise. An
//! event is appended to a segment file and fsync'd before `track` returns; an event resolved
//! (acknowledged or dropped) has its sequence number appended to `acks`. On open, every record
//! whose number is not in `acks` is queued again. Invariant: **a record is removed from disk
//! only after its resolution is recorded**, so a crash at any point can duplicate an event,
//! never lose one (the pipeline deduplicates by `event_id`).
//!
//! Layout of the directory: `NNNNNNNNNNNNNNNNNNNN.seg` (the first sequence number it may hold,
//! zero-padded), each a run of records `len: u32 LE | crc32: u32 LE | seq: u64 LE | json`
//! (the CRC covers `seq` and `json`); a torn tail left by a crash is cut off at the first record
//! that does not check. `acks` is a run of `seq: u64 LE`. A segment whose records are all
//! resolved is deleted once it is not the one being written; `acks` is rewritten without the
//! numbers of deleted segments when it grows.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

/// A segment is closed (and a new one started) past this size.
const SEGMENT_BYTES: u64 = 8 * 1024 * 1024;
/// `acks` is compacted when it holds this many more numbers than live records need.
const ACKS_COMPACT: usize = 64 * 1024;
/// Record header: length, CRC, sequence number.
const HEADER: usize = 16;

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    /// Unresolved records in it.
    live: usize,
}

/// The open queue directory.
#[derive(Debug)]
pub(crate) struct Journal {
    dir: PathBuf,
    /// Segments by first sequence number; the last one is being written.
    segments: BTreeMap<u64, Segment>,
    active: File,
    active_bytes: u64,
    /// Unresolved seq → the segment (by first seq) holding it.
    live: HashMap<u64, u64>,
    acks: File,
    acks_written: usize,
    /// Compact `acks` past this many numbers more than live records.
    acks_compact: usize,
    next_seq: u64,
}

fn crc(seq: u64, json: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(&seq.to_le_bytes());
    c.update(json);
    c.sum()
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)?.try_into().ok().map(u32::from_le_bytes)
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8)?.try_into().ok().map(u64::from_le_bytes)
}

/// The records of one segment that check, and the length of that good prefix.
fn read_segment(path: &Path) -> io::Result<(Vec<(u64, Bytes)>, u64)> {
    let mut buf = Vec::new();
    File::open(path)?.read_to_end(&mut buf)?;
    let mut out = Vec::new();
    let mut at = 0usize;
    while let (Some(len), Some(sum), Some(seq)) =
        (u32_at(&buf, at), u32_at(&buf, at + 4), u64_at(&buf, at + 8))
    {
        let Ok(len) = usize::try_from(len) else { break };
        let Some(json) = buf.get(at + HEADER..at + HEADER + len) else { break };
        if crc(seq, json) != sum {
            break;
        }
        out.push((seq, Bytes::copy_from_slice(json)));
        at += HEADER + len;
    }
    Ok((out, u64::try_from(at).unwrap_or(u64::MAX)))
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.seg"))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Journal {
    /// Opens (or creates) the queue in `dir`; returns it with every unresolved record, oldest
    /// first.
    pub(crate) fn open(dir: &Path) -> io::Result<(Journal, Vec<(u64, Bytes)>)> {
        fs::create_dir_all(dir)?;
        let mut acked = HashSet::new();
        let acks_path = dir.join("acks");
        if let Ok(mut f) = File::open(&acks_path) {
            let mut buf = Vec::new();
            f.read_to_end(&mut buf)?;
            acked.extend(buf.chunks_exact(8).filter_map(|c| c.try_into().ok().map(u64::from_le_bytes)));
        }
        let mut firsts: Vec<u64> = fs::read_dir(dir)?
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
            .collect();
        firsts.sort_unstable();
        let mut next_seq = acked.iter().max().map_or(0, |m| m + 1);
        let (mut segments, mut live, mut pending) = (BTreeMap::new(), HashMap::new(), Vec::new());
        for first in firsts {
            let path = segment_path(dir, first);
            let (records, good) = read_segment(&path)?;
            if fs::metadata(&path)?.len() > good {
                // A torn tail from a crash mid-append: that event's `track` never returned.
                OpenOptions::new().write(true).open(&path)?.set_len(good)?;
            }
            next_seq = next_seq.max(first);
            let mut n = 0;
            for (seq, json) in records {
                next_seq = next_seq.max(seq + 1);
                if !acked.contains(&seq) && live.insert(seq, first).is_none() {
                    n += 1;
                    pending.push((seq, json));
                }
            }
            segments.insert(first, Segment { path, live: n });
        }
        pending.sort_by_key(|(seq, _)| *seq);
        // Always write into a fresh segment: the old ones are read-only from here on.
        let path = segment_path(dir, next_seq);
        let active = OpenOptions::new().create(true).append(true).open(&path)?;
        segments.insert(next_seq, Segment { path, live: 0 });
        let acks = OpenOptions::new().create(true).append(true).open(&acks_path)?;
        let acks_written = acked.len();
        let mut j = Journal {
            dir: dir.to_path_buf(),
            segments,
            active,
            active_bytes: 0,
            live,
            acks,
            acks_written,
            acks_compact: ACKS_COMPACT,
            next_seq,
        };
        sync_dir(dir)?;
        j.collect_garbage()?;
        Ok((j, pending))
    }

    /// The first sequence number not used by anything on disk.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Appends one event and fsyncs it.
    pub(crate) fn append(&mut self, seq: u64, json: &[u8]) -> io::Result<()> {
        if self.active_bytes >= SEGMENT_BYTES {
            let path = segment_path(&self.dir, seq);
            self.active = OpenOptions::new().create(true).append(true).open(&path)?;
            self.active_bytes = 0;
            self.segments.insert(seq, Segment { path, live: 0 });
            sync_dir(&self.dir)?;
            self.collect_garbage()?;
        }
        let len = u32::try_from(json.len()).map_err(|_| io::Error::other("event too large"))?;
        let mut rec = Vec::with_capacity(HEADER + json.len());
        rec.extend_from_slice(&len.to_le_bytes());
        rec.extend_from_slice(&crc(seq, json).to_le_bytes());
        rec.extend_from_slice(&seq.to_le_bytes());
        rec.extend_from_slice(json);
        self.active.write_all(&rec)?;
        self.active.sync_data()?;
        self.active_bytes += u64::try_from(rec.len()).unwrap_or(u64::MAX);
        let first = self.segments.keys().next_back().copied().unwrap_or(seq);
        self.live.insert(seq, first);
        if let Some(s) = self.segments.get_mut(&first) {
            s.live += 1;
        }
        self.next_seq = self.next_seq.max(seq + 1);
        Ok(())
    }

    /// Records that these events are resolved (written, not fsync'd: losing the tail of `acks`
    /// in a crash only resends those events).
    pub(crate) fn resolve(&mut self, seqs: impl Iterator<Item = u64>) {
        let mut buf = Vec::new();
        let mut emptied = false;
        for seq in seqs {
            let Some(first) = self.live.remove(&seq) else { continue };
            buf.extend_from_slice(&seq.to_le_bytes());
            if let Some(s) = self.segments.get_mut(&first) {
                s.live = s.live.saturating_sub(1);
                emptied |= s.live == 0;
            }
        }
        if buf.is_empty() {
            return;
        }
        // An ack that cannot be written leaves the event to be resent after a restart: a
        // duplicate, never a loss. Segments are deleted only after their acks are written.
        if self.acks.write_all(&buf).is_ok() {
            self.acks_written += buf.len() / 8;
            if emptied {
                let _ = self.acks.sync_data().and_then(|()| self.collect_garbage());
            }
        }
    }

    /// Deletes every fully resolved segment but the active one; compacts `acks` when it is
    /// mostly about deleted segments.
    fn collect_garbage(&mut self) -> io::Result<()> {
        let active = self.segments.keys().next_back().copied();
        let dead: Vec<u64> = self
            .segments
            .iter()
            .filter(|(f, s)| s.live == 0 && Some(**f) != active)
            .map(|(f, _)| *f)
            .collect();
        for first in dead {
            if let Some(s) = self.segments.remove(&first) {
                fs::remove_file(&s.path)?;
            }
        }
        if self.acks_written > self.acks_compact + self.live.len() {
            self.compact_acks()?;
        }
        Ok(())
    }

    /// Rewrites `acks` with only the numbers still needed: resolved records of segments that
    /// still exist.
    fn compact_acks(&mut self) -> io::Result<()> {
        let mut keep = Vec::new();
        for s in self.segments.values() {
            let (records, _) = read_segment(&s.path)?;
            let resolved = records.iter().map(|(seq, _)| *seq).filter(|seq| !self.live.contains_key(seq));
            keep.extend(resolved.flat_map(u64::to_le_bytes));
        }
        let tmp = self.dir.join("acks.tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(&keep)?;
        f.sync_all()?;
        fs::rename(&tmp, self.dir.join("acks"))?;
        sync_dir(&self.dir)?;
        self.acks = OpenOptions::new().append(true).open(self.dir.join("acks"))?;
        self.acks_written = keep.len() / 8;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
