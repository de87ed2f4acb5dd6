//! Game code links the SDK without librdkafka or the AWS SDK: `cargo tree` of
//! `playstream-sdk` with its default features (normal dependencies) names neither. The `kafka`
//! feature is the only one that brings rdkafka in, and it still brings no AWS crate.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

use std::process::Command;

/// The crate names in `cargo tree -p playstream-sdk` with `args` (normal dependencies only).
fn sdk_tree(args: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "-p", "playstream-sdk", "-e", "normal", "--prefix", "none", "--offline"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<String> =
        tree.lines().filter_map(|l| l.split_whitespace().next()).map(String::from).collect();
    assert!(crates.first().map(String::as_str) == Some("playstream-sdk"), "{tree}");
    assert!(
        crates.iter().any(|c| c == "hyper") && crates.iter().any(|c| c == "rustls"),
        "the tree lists the real dependencies: {tree}"
    );
    crates
}

fn aws(crates: &[String]) -> Vec<&String> {
    crates.iter().filter(|c| c.starts_with("aws-") || c.starts_with("aws_")).collect()
}

#[test]
fn the_sdk_default_features_pull_no_rdkafka_and_no_aws_crate() {
    let crates = sdk_tree(&[]);
    let kafka: Vec<&String> = crates.iter().filter(|c| c.contains("rdkafka")).collect();
    assert!(kafka.is_empty(), "the SDK pulls {kafka:?}");
    assert!(aws(&crates).is_empty(), "the SDK pulls {:?}", aws(&crates));
}

#[test]
fn the_kafka_feature_pulls_rdkafka_and_still_no_aws_crate() {
    let crates = sdk_tree(&["--features", "kafka"]);
    assert!(crates.iter().any(|c| c == "rdkafka") && crates.iter().any(|c| c == "rdkafka-sys"), "{crates:?}");
    assert!(aws(&crates).is_empty(), "the kafka feature pulls {:?}", aws(&crates));
}
