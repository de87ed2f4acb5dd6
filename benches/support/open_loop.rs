//! A lean open-loop HTTP/1.1 load client in the manner of wrk2, so that the load generator costs
//! the shared 2-core machine as little as possible. Each of `connections` keep-alive
//! connections owns every `connections`-th request of the schedule (request `i` is due at
//! `start + i * interval`), writes its prebuilt bytes when due and reads the whole answer
//! before its next one. Latency counts from the scheduled time, so an answer that comes late
//! delays the next request of that connection and the queueing shows in the percentiles.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One complete HTTP/1.1 POST with `body`.
pub(crate) fn request(path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut r = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        r.push_str(&format!("{name}: {value}\r\n"));
    }
    r.push_str("\r\n");
    let mut r = r.into_bytes();
    r.extend_from_slice(body);
    r
}

/// Reads one response; its status, or `None` when the connection failed or closed.
async fn answer(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<u16> {
    buf.clear();
    loop {
        if stream.read_buf(buf).await.ok()? == 0 {
            return None;
        }
        let mut headers = [httparse::EMPTY_HEADER; 24];
        let mut resp = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(head) = resp.parse(buf).ok()? else { continue };
        let length = resp
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse::<usize>().ok())?;
        let status = resp.code?;
        while buf.len() < head + length {
            if stream.read_buf(buf).await.ok()? == 0 {
                return None;
            }
        }
        return Some(status);
    }
}

/// Sends `count` requests (cycling through `requests`) from `start` at one every `interval` over
/// `connections` connections; returns (status, latency) per request, status 0 for a failed
/// connection (the connection is then re-opened for its next request).
pub(crate) async fn run(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    start: Instant,
    count: usize,
    interval: Duration,
    connections: usize,
) -> Vec<(u16, Duration)> {
    let mut tasks = Vec::with_capacity(connections);
    for c in 0..connections {
        let requests = requests.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(count / connections + 1);
            let mut stream: Option<TcpStream> = None;
            let mut buf = Vec::with_capacity(4096);
            for i in (c..count).step_by(connections) {
                let scheduled = start + interval * i as u32;
                tokio::time::sleep_until(scheduled.into()).await;
                if stream.is_none() {
                    stream = TcpStream::connect(addr).await.ok();
                    if let Some(s) = &stream {
                        let _ = s.set_nodelay(true);
                    }
                }
                let status = match stream.as_mut() {
                    Some(s) => match s.write_all(&requests[i % requests.len()]).await {
                        Ok(()) => answer(s, &mut buf).await,
                        Err(_) => None,
                    },
                    None => None,
                };
                if status.is_none() {
                    stream = None;
                }
                out.push((status.unwrap_or(0), scheduled.elapsed()));
            }
            out
        }));
    }
    let mut all = Vec::with_capacity(count);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}
