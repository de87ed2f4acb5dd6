//! Emits a few typed events straight to Kafka as Confluent-framed Avro (feature `kafka`),
//! retrying what a retry can help, and prints where each one landed.
//!
//! ```sh
//! KAFKA_BROKERS=localhost:9092 SCHEMA_REGISTRY_URL=http://localhost:8081 \
//!   cargo run -p playstream-sdk --features kafka --example kafka_emit
//! ```

use std::time::Duration;

use playstream_sdk::event::{Currency, EventContext, Install, Platform, Purchase, SessionStart, Store};
use playstream_sdk::{EmitError, Event, KafkaEmitter};
use rust_decimal::Decimal;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "localhost:9092".into());
    let registry = std::env::var("SCHEMA_REGISTRY_URL").unwrap_or_else(|_| "http://localhost:8081".into());
    let topic = std::env::var("PLAYSTREAM_RAW_TOPIC").unwrap_or_else(|_| "game-events.raw".into());
    let emitter =
        KafkaEmitter::builder(brokers, topic, registry).delivery_timeout(Duration::from_secs(10)).build()?;
    for (event_type, id) in emitter.register_schemas().await? {
        println!("{event_type}: schema id {id}");
    }

    let player = EventContext::new("player-42", "space-miner", Platform::Ios, "backend-7.1");
    let session = player.clone().session("session-1");
    let events = [
        player.event(Install::new().source("organic")).build()?,
        session.event(SessionStart).build()?,
        session
            .event(Purchase::new("gems_100", Decimal::new(499, 2), Currency::USD, Store::AppStore))
            .build()?,
    ];
    for event in &events {
        let d = emit_with_retries(&emitter, event).await?;
        println!(
            "{} {} → partition {} offset {}",
            event.payload().event_type(),
            event.event_id(),
            d.partition,
            d.offset
        );
    }
    emitter.flush(Duration::from_secs(5)).await?;
    Ok(())
}

/// Emits `event`, trying again (three times at most, a second apart) while the error says a
/// retry can help. The event keeps its `event_id`, so a duplicate is removed downstream.
async fn emit_with_retries(
    emitter: &KafkaEmitter,
    event: &Event,
) -> Result<playstream_sdk::Delivered, EmitError> {
    let mut attempt = 1;
    loop {
        match emitter.emit(event).await {
            Err(e) if e.is_retryable() && attempt < 3 => {
                eprintln!("attempt {attempt}: {e}");
                attempt += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            other => return other,
        }
    }
}
