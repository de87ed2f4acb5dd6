//! The one-command demo, as a user runs it (the binary): a small workload through the embedded
//! broker, the ingest service and three validator replicas must reconcile — every valid event
//! landed, rejects by reason equal to the manifest, nothing unaccounted — and exit 0.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used, clippy::indexing_slicing)] // test code

use serde_json::Value;

#[test]
fn a_small_demo_reconciles() {
    let out = std::env::temp_dir().join(format!("playstream-demo-test-{}", std::process::id()));
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_playstream"))
        .args(["demo", "--players", "200", "--days", "3", "--seed", "7", "--json", "--out"])
        .arg(&out)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "the demo failed:\n{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    let summary: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("one JSON object");
    let manifest: Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(summary["unaccounted"], 0, "{summary}");
    assert_eq!(summary["rejected_by_reason"], manifest["expected_rejects"], "{summary}");
    assert_eq!(summary["accepted"], manifest["distinct_valid_event_ids"], "every valid event landed");
    assert_eq!(summary["sent"], manifest["generated"]);
    assert!(summary["duplicates"].as_u64().unwrap() >= manifest["duplicates"].as_u64().unwrap());
    assert!(manifest["expected_rejects"].as_object().unwrap().len() >= 5, "many reject codes exercised");
    // The report of what landed: written, and counting the same distinct events.
    assert_eq!(summary["report"], out.join("report.html").display().to_string());
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        page.contains(&format!("{} distinct events", summary["landed_distinct"])),
        "the report saw what landed"
    );
    // A second run into the same folder starts from an empty landing folder: the first run's
    // lines (same seed, same ids) must not count for it.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_playstream"))
        .args(["demo", "--players", "200", "--days", "3", "--seed", "7", "--json", "--out"])
        .arg(&out)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let second: Value =
        serde_json::from_str(String::from_utf8_lossy(&again.stdout).lines().last().unwrap_or_default())
            .unwrap();
    assert_eq!(second["landed_distinct"], summary["landed_distinct"], "{second}");
    assert_eq!(
        second["duplicates"], summary["duplicates"],
        "nothing of the first run counted twice: {second}"
    );
    for key in [
        "generated",
        "sent",
        "accepted",
        "rejected",
        "rejected_by_reason",
        "expected_rejected_by_reason",
        "landed_distinct",
        "duplicates",
        "unaccounted",
        "out_dir",
        "report",
        "elapsed_s",
    ] {
        assert!(summary.get(key).is_some(), "the summary has {key}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn loadgen_writes_the_same_bytes_for_a_seed_and_its_manifest_counts_them() {
    let dir = std::env::temp_dir().join(format!("playstream-loadgen-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |name: &str| {
        let file = dir.join(name);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_playstream"))
            .args(["loadgen", "--players", "100", "--days", "2", "--seed", "3", "--to"])
            .arg(format!("file://{}", file.display()))
            .arg("--manifest")
            .arg(dir.join(format!("{name}.manifest")))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (std::fs::read(&file).unwrap(), std::fs::read(dir.join(format!("{name}.manifest"))).unwrap())
    };
    let (a, ma) = run("a");
    let (b, mb) = run("b");
    assert_eq!(a, b, "same seed, same bytes");
    assert_eq!(ma, mb);
    let m: Value = serde_json::from_slice(&ma).unwrap();
    assert_eq!(
        a.split(|c| *c == b'\n').filter(|l| !l.is_empty()).count() as u64,
        m["generated"].as_u64().unwrap()
    );
    // A file target may carry defects the HTTP ingest would refuse (not JSON, not an object).
    let codes = m["expected_rejects"].as_object().unwrap();
    assert!(codes.values().map(|v| v.as_u64().unwrap()).sum::<u64>() > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
