//! The records that flow through playstream. An [`InboundRecord`] is one Kafka record exactly as
//! it was read (key, value and headers byte for byte) plus where it came from; nothing in the
//! pipeline mutates it, so a reject can always reproduce the original.

/// Where a record was read: topic, partition and offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// Kafka topic.
    pub topic: String,
    /// Partition within the topic.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
}

/// One record read from the raw topic, unmodified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundRecord {
    /// Where it was read.
    pub origin: Origin,
    /// The record key, if any.
    pub key: Option<Vec<u8>>,
    /// The record value (empty for a null value).
    pub value: Vec<u8>,
    /// The record headers in order; a header value may be null.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Header the ingest service sets: RFC 3339 time the HTTP request was received.
pub const HEADER_RECEIVED_AT: &str = "ingest.received_at";
/// Header the ingest service sets: id of the API key that sent the event (never the key).
pub const HEADER_KEY_ID: &str = "ingest.key_id";

/// The headers the ingest service puts on every record it produces.
pub fn ingest_headers(received_at: &str, key_id: &str) -> rdkafka::message::OwnedHeaders {
    use rdkafka::message::{Header, OwnedHeaders};
    OwnedHeaders::new_with_capacity(3)
        .insert(Header { key: "content-type", value: Some("application/json") })
        .insert(Header { key: HEADER_RECEIVED_AT, value: Some(received_at) })
        .insert(Header { key: HEADER_KEY_ID, value: Some(key_id) })
}

/// Producer settings every playstream producer shares: nothing counts as written until all
/// in-sync replicas have it, retries never duplicate, batches are lz4-compressed. Callers add
/// their own latency and timeout settings.
pub fn reliable_producer_config(brokers: &str) -> rdkafka::ClientConfig {
    let mut cc = rdkafka::ClientConfig::new();
    cc.set("bootstrap.servers", brokers)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("compression.type", "lz4");
    cc
}

impl InboundRecord {
    /// An owned copy of a record fetched from Kafka.
    pub fn from_message<M: rdkafka::message::Message>(m: &M) -> InboundRecord {
        use rdkafka::message::Headers;
        InboundRecord {
            origin: Origin { topic: m.topic().to_string(), partition: m.partition(), offset: m.offset() },
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
            headers: m
                .headers()
                .map(|h| h.iter().map(|x| (x.key.to_string(), x.value.map(<[u8]>::to_vec))).collect())
                .unwrap_or_default(),
        }
    }

    /// The first header with this name, if present and not null.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lookup_skips_null_values() {
        let r = InboundRecord {
            origin: Origin { topic: "t".into(), partition: 0, offset: 1 },
            key: None,
            value: vec![],
            headers: vec![("a".into(), None), ("b".into(), Some(b"x".to_vec()))],
        };
        assert_eq!(r.header("a"), None);
        assert_eq!(r.header("b"), Some(&b"x"[..]));
        assert_eq!(r.header("c"), None);
    }
}
