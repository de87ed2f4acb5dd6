#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test code

use super::*;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("playstream-sdk-journal-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

fn seqs(p: &[(u64, Bytes)]) -> Vec<u64> {
    p.iter().map(|(s, _)| *s).collect()
}

#[test]
fn unresolved_events_come_back_after_reopening_and_numbers_are_never_reused() {
    let d = dir("reopen");
    let (mut j, pending) = Journal::open(&d).unwrap();
    assert!(pending.is_empty());
    for seq in 0..5 {
        j.append(seq, format!("{{\"n\":{seq}}}").as_bytes()).unwrap();
    }
    j.resolve([1, 3].into_iter());
    drop(j);
    let (mut j, pending) = Journal::open(&d).unwrap();
    assert_eq!(seqs(&pending), vec![0, 2, 4]);
    assert_eq!(&pending[1].1[..], b"{\"n\":2}");
    assert_eq!(j.next_seq(), 5);
    j.resolve([0, 2, 4].into_iter());
    drop(j);
    let (j, pending) = Journal::open(&d).unwrap();
    assert!(pending.is_empty());
    assert_eq!(j.next_seq(), 5);
    // Fully resolved segments are gone: only the active one is left.
    let segs = fs::read_dir(&d)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "seg"))
        .count();
    assert_eq!(segs, 1);
}

#[test]
fn a_torn_tail_is_cut_off_and_the_rest_kept() {
    let d = dir("torn");
    let (mut j, _) = Journal::open(&d).unwrap();
    j.append(0, b"{\"a\":1}").unwrap();
    j.append(1, b"{\"b\":2}").unwrap();
    drop(j);
    let seg = fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| fs::metadata(p).unwrap().len() > 0 && p.extension().is_some_and(|x| x == "seg"))
        .unwrap();
    let len = fs::metadata(&seg).unwrap().len();
    OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 3).unwrap();
    let (mut j, pending) = Journal::open(&d).unwrap();
    assert_eq!(seqs(&pending), vec![0]);
    j.append(2, b"{\"c\":3}").unwrap();
    drop(j);
    let (_, pending) = Journal::open(&d).unwrap();
    assert_eq!(seqs(&pending), vec![0, 2]);
}

#[test]
fn acks_are_compacted_without_forgetting_live_records() {
    let d = dir("compact");
    let (mut j, _) = Journal::open(&d).unwrap();
    j.acks_compact = 4;
    let n = 40;
    for seq in 0..n {
        j.append(seq, b"{}").unwrap();
        if seq != 7 {
            j.resolve(std::iter::once(seq));
        }
    }
    // Everything is in the active segment, so compaction keeps its 39 resolved numbers
    // (they are needed); it still rewrites the file without duplicates or torn numbers.
    j.compact_acks().unwrap();
    assert_eq!(fs::metadata(d.join("acks")).unwrap().len(), 8 * (n - 1));
    drop(j);
    let (j, pending) = Journal::open(&d).unwrap();
    assert_eq!(seqs(&pending), vec![7]);
    assert_eq!(j.next_seq(), n);
}
