//! Game code links the SDK without librdkafka or the AWS SDK: `cargo tree` of
//! `playstream-sdk` with its default features (normal dependencies) names neither.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

use std::process::Command;

#[test]
fn the_sdk_default_features_pull_no_rdkafka_and_no_aws_crate() {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "-p", "playstream-sdk", "-e", "normal", "--prefix", "none", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(crates.first() == Some(&"playstream-sdk"), "{tree}");
    assert!(
        crates.contains(&"hyper") && crates.contains(&"rustls"),
        "the tree lists the real dependencies: {tree}"
    );
    let banned: Vec<&&str> = crates
        .iter()
        .filter(|c| c.contains("rdkafka") || c.starts_with("aws-") || c.starts_with("aws_"))
        .collect();
    assert!(banned.is_empty(), "the SDK pulls {banned:?}");
}
