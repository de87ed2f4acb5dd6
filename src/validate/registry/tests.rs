//! The registry source against a fake Schema Registry (a few lines of HTTP, or HTTPS with a
//! certificate made on the spot, on a local socket): no real registry can run on these machines.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Mutex;

use super::*;

type Hits = Arc<Mutex<HashMap<u32, usize>>>;

/// How the fake registry is reached: TLS with this server configuration, and this
/// `Authorization` header required.
#[derive(Default, Clone)]
struct Guard {
    tls: Option<Arc<rustls::ServerConfig>>,
    auth: Option<String>,
}

/// Serves `GET /schemas/ids/{id}` from `answers` (status, body) and `GET /subjects`; counts
/// requests per id.
fn fake_registry(answers: HashMap<u32, (u16, String)>) -> (String, Hits) {
    fake(answers, Guard::default())
}

fn fake(answers: HashMap<u32, (u16, String)>, guard: Guard) -> (String, Hits) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
    let scheme = if guard.tls.is_some() { "https" } else { "http" };
    let hits = Arc::new(Mutex::new(HashMap::new()));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
            match &guard.tls {
                None => serve(tcp, &answers, &counted, guard.auth.as_deref()),
                Some(config) => {
                    let Ok(conn) = rustls::ServerConnection::new(config.clone()) else { continue };
                    let mut tls = rustls::StreamOwned::new(conn, tcp);
                    serve(&mut tls, &answers, &counted, guard.auth.as_deref());
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                }
            }
        }
    });
    (format!("{scheme}://{addr}"), hits)
}

/// Answers one request on `stream` (which may fail its TLS handshake: then nothing happens).
fn serve(
    mut stream: impl Read + Write,
    answers: &HashMap<u32, (u16, String)>,
    hits: &Hits,
    auth: Option<&str>,
) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.extend_from_slice(&byte),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let line = head.lines().next().unwrap_or_default();
    let given = head.lines().find_map(|l| l.strip_prefix("Authorization: "));
    let (status, body) = if auth.is_some() && given != auth {
        (401, r#"{"error_code":401,"message":"Unauthorized"}"#.to_string())
    } else if line.starts_with("GET /subjects ") {
        (200, "[]".to_string())
    } else {
        match line.split('/').nth(3).and_then(|s| s.split(' ').next()?.parse::<u32>().ok()) {
            Some(id) => {
                *hits.lock().unwrap_or_else(|e| e.into_inner()).entry(id).or_insert(0) += 1;
                answers.get(&id).cloned().unwrap_or((404, r#"{"error_code":40403}"#.into()))
            }
            None => (400, "{}".into()),
        }
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

fn catalog() -> Arc<Catalog> {
    Arc::new(Catalog::embedded())
}

fn hits(h: &Hits, id: u32) -> usize {
    h.lock().unwrap_or_else(|e| e.into_inner()).get(&id).copied().unwrap_or(0)
}

#[test]
fn registry_answers_are_cached_and_refusals_too() {
    let cat = catalog();
    let install = cat.latest("install").unwrap_or_else(|| panic!("install schema"));
    let text = serde_json::to_string(&install.avro).unwrap_or_default();
    let mut answers = HashMap::new();
    answers.insert(7, (200, serde_json::json!({ "schema": text }).to_string()));
    answers.insert(
        8,
        (200, serde_json::json!({"schemaType": "PROTOBUF", "schema": "syntax = \"proto3\";"}).to_string()),
    );
    let stranger = r#"{"type":"record","name":"Stranger","fields":[{"name":"x","type":"long"}]}"#;
    answers.insert(9, (200, serde_json::json!({ "schema": stranger }).to_string()));
    answers.insert(10, (500, "{}".into()));
    let mut no_price: serde_json::Value =
        serde_json::from_str(include_str!("../../../schemas/purchase.v1.avsc")).unwrap_or_default();
    if let Some(fields) = no_price["fields"].as_array_mut() {
        fields.retain(|f| f["name"] != "price");
    }
    answers.insert(12, (200, serde_json::json!({ "schema": no_price.to_string() }).to_string()));
    let (url, h) = fake_registry(answers);
    let source = RegistrySchemas::new(&url, cat).with_not_found_ttl(Duration::from_millis(300));

    for _ in 0..5 {
        let w = source.writer(7).unwrap_or_else(|e| panic!("id 7: {e}"));
        assert_eq!((w.id, w.reader.event_type.as_str()), (7, "install"));
    }
    assert_eq!(hits(&h, 7), 1, "a found schema is fetched once");

    for _ in 0..5 {
        assert!(matches!(source.writer(8), Err(LookupError::Unusable { code: RejectCode::InvalidAvro, .. })));
        assert!(matches!(
            source.writer(9),
            Err(LookupError::Unusable { code: RejectCode::UnknownEventType, .. })
        ));
    }
    for _ in 0..5 {
        assert!(matches!(
            source.writer(12),
            Err(LookupError::Unusable { code: RejectCode::IncompatibleSchema, ref reason, .. })
                if reason.contains("no field price")
        ));
    }
    assert_eq!((hits(&h, 8), hits(&h, 9)), (1, 1), "unusable schemas are remembered for good");
    assert_eq!(hits(&h, 12), 1, "so is the verdict that a writer does not resolve to ours");

    for _ in 0..5 {
        assert_eq!(source.writer(11).err(), Some(LookupError::NotFound(11)));
    }
    assert_eq!(hits(&h, 11), 1, "a missing id is remembered for the TTL");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(source.writer(11).err(), Some(LookupError::NotFound(11)));
    assert_eq!(hits(&h, 11), 2, "and asked again after it");

    for _ in 0..3 {
        let e = source.writer(10).err().unwrap_or_else(|| panic!("id 10 must fail"));
        assert!(e.is_retryable(), "{e}");
    }
    assert_eq!(hits(&h, 10), 3, "an unavailable registry is asked again every time");
}

/// A private CA and a server certificate for 127.0.0.1 signed by it: the CA's PEM and the
/// server's rustls configuration.
fn certificates() -> (String, Arc<rustls::ServerConfig>) {
    let ca_key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap_or_else(|e| panic!("{e}"));
    let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap_or_else(|e| panic!("{e}"));
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap_or_else(|e| panic!("{e}"));
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(vec![cert.der().clone()], key))
            .unwrap_or_else(|e| panic!("{e}"));
    (ca.pem(), Arc::new(config))
}

fn install_answers() -> HashMap<u32, (u16, String)> {
    let cat = catalog();
    let install = cat.latest("install").unwrap_or_else(|| panic!("install schema"));
    let text = serde_json::to_string(&install.avro).unwrap_or_default();
    HashMap::from([(7, (200, serde_json::json!({ "schema": text }).to_string()))])
}

#[test]
fn https_registry_with_basic_auth() {
    let (ca_pem, server) = certificates();
    let dir = std::env::temp_dir().join(format!("playstream-registry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap_or_else(|e| panic!("{e}"));
    let guard = Guard { tls: Some(server), auth: Some(BasicAuth::new("alice", "s3cr:et").header()) };
    let (url, h) = fake(install_answers(), guard);
    let access = |auth: Option<&str>| RegistryAccess {
        basic_auth: auth.map(|a| a.parse().unwrap_or_else(|e| panic!("{e}"))),
        ca_file: Some(ca_file.clone()),
    };
    let source = |url: &str, auth: Option<&str>| {
        RegistrySchemas::with_access(url, catalog(), access(auth)).unwrap_or_else(|e| panic!("{e}"))
    };

    let good = source(&url, Some("alice:s3cr:et"));
    assert_eq!(good.probe(), Ok(()));
    assert_eq!(good.check(), Probe::Ok);
    let w = good.writer(7).unwrap_or_else(|e| panic!("id 7: {e}"));
    assert_eq!(w.reader.event_type, "install");
    assert!(!format!("{good:?}{:?}", access(Some("alice:s3cr:et"))).contains("s3cr"), "no password in Debug");

    // Credentials in the URL work too, percent-encoded.
    let in_url = url.replace("https://", "https://alice:s3cr%3Aet@");
    assert!(source(&in_url, None).writer(7).is_ok());
    assert!(!format!("{:?}", source(&in_url, None)).contains("s3cr"));

    // Wrong or no credentials: our misconfiguration, so retryable and never a reject.
    for auth in [Some("alice:wrong"), None] {
        let bad = source(&url, auth);
        let e = bad.writer(7).err().unwrap_or_else(|| panic!("{auth:?} must be refused"));
        assert!(e.is_retryable(), "{e}");
        assert!(e.to_string().contains("HTTP 401"), "{e}");
        let probe = bad.probe().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(probe.contains("refused") && probe.contains("401"), "{probe}");
        assert!(!probe.contains("wrong"), "{probe}");
        assert!(matches!(bad.check(), Probe::Misconfigured(_)), "refused credentials fail the start");
        assert!(bad.writer(7).is_err(), "a refusal of ours is not cached as the schema's");
    }
    assert_eq!(hits(&h, 7), 2, "the refused requests never reached the schema");

    // A certificate we do not trust (no CA file): retryable, with the reason.
    let untrusted = RegistrySchemas::new(&url, catalog());
    let e = untrusted.writer(7).err().unwrap_or_else(|| panic!("untrusted certificate accepted"));
    assert!(e.is_retryable(), "{e}");
    let probe = untrusted.probe().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(probe.contains("cannot reach") && probe.to_lowercase().contains("certificate"), "{probe}");
    assert!(matches!(untrusted.check(), Probe::Down(_)));
    assert!(good.writer(7).is_ok());
    let counts = good.lookup_counts();
    assert!(
        counts.contains(&("found", 1)) && counts.iter().any(|(o, n)| *o == "cached" && *n >= 1),
        "{counts:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn configuration_errors_and_plain_http_probe() {
    let (url, _) = fake_registry(install_answers());
    assert_eq!(RegistrySchemas::new(&url, catalog()).probe(), Ok(()));
    let bad_url = RegistrySchemas::new("htp//nowhere", catalog()).probe().err().map(|e| e.to_string());
    assert!(bad_url.as_deref().is_some_and(|m| m.contains("not a valid http(s) URL")), "{bad_url:?}");
    let missing = RegistryAccess { basic_auth: None, ca_file: Some("/nonexistent/ca.pem".into()) };
    let e = RegistrySchemas::with_access(&url, catalog(), missing).err().map(|e| e.to_string());
    assert!(e.as_deref().is_some_and(|m| m.contains("cannot read the Schema Registry CA file")), "{e:?}");
    assert!("no-colon".parse::<BasicAuth>().is_err());
    assert!(":pw".parse::<BasicAuth>().is_err());
    assert_eq!("u:".parse::<BasicAuth>().ok(), Some(BasicAuth::new("u", "")));
    let (plain, auth) = split_userinfo("https://a%40b:p@ss@host:8081/base?x=1");
    assert_eq!((plain.as_str(), auth), ("https://host:8081/base?x=1", Some(BasicAuth::new("a@b", "p@ss"))));
    assert_eq!(split_userinfo("http://host:1/p@q"), ("http://host:1/p@q".into(), None));
}
