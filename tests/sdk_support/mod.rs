//! Real processes for the SDK's tests: the `playstream ingest` binary (killed on drop) and a
//! recording TCP proxy in front of it, so a test can see what the client put on the wire.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic, clippy::expect_used)] // test code

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::common::free_port;

/// The API key every ingest started here accepts.
pub const KEY: &str = "sdk-test-key-0123456789";

/// A `playstream ingest` process.
pub struct Ingest {
    pub url: String,
    pub port: u16,
    child: Child,
}

impl Ingest {
    /// Starts the binary against `bootstrap`/`topic` with extra flags; waits for `/healthz`.
    pub fn start(bootstrap: &str, topic: &str, extra: &[&str]) -> Ingest {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("playstream-sdk-ingest-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let keys = dir.join("keys");
        std::fs::write(&keys, format!("sdk:{KEY}\n")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_playstream"))
            .args(["ingest", "--brokers", bootstrap, "--raw-topic", topic])
            .args(["--listen", &format!("127.0.0.1:{port}"), "--api-keys-file"])
            .arg(&keys)
            .args(["--produce-timeout-ms", "3000"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start playstream ingest");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "ingest did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Ingest { url: format!("http://127.0.0.1:{port}"), port, child }
    }

    /// `GET /metrics` as text.
    pub fn metrics(&self) -> String {
        ureq::get(&format!("{}/metrics", self.url)).call().unwrap().into_string().unwrap()
    }

    /// The value of `playstream_ingest_requests_total{status="..."}`.
    pub fn requests(&self, status: u16) -> u64 {
        let needle = format!("playstream_ingest_requests_total{{status=\"{status}\"}} ");
        self.metrics()
            .lines()
            .find_map(|l| l.strip_prefix(&needle))
            .map_or(0, |v| v.trim().parse::<f64>().unwrap_or(0.0) as u64)
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a [`Proxy`] saw the client send.
#[derive(Debug, Default, Clone)]
pub struct Wire {
    /// Request heads, lower-cased.
    pub heads: Vec<String>,
}

/// A TCP proxy to `upstream` recording every request head the client sends.
pub struct Proxy {
    pub url: String,
    pub wire: Arc<Mutex<Wire>>,
}

impl Proxy {
    pub async fn start(upstream: u16) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let wire = Arc::new(Mutex::new(Wire::default()));
        let w = wire.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let w = w.clone();
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    let (mut sr, mut sw) = server.into_split();
                    let (mut cr, mut cw) = client.split();
                    let up = async {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let text = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                            if let Some(start) = text.find("post /v1/events") {
                                let head = text[start..].split("\r\n\r\n").next().unwrap_or("").to_string();
                                w.lock().unwrap().heads.push(head);
                            }
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    let down = async {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        Proxy { url, wire }
    }
}

/// A fresh directory under the temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let d =
        std::env::temp_dir().join(format!("playstream-sdk-{name}-{}-{}", std::process::id(), free_port()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
