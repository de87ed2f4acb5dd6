//! Sends a few typed events to an ingest service and waits until every one is acknowledged.
//!
//! ```sh
//! PLAYSTREAM_URL=http://localhost:8080 PLAYSTREAM_API_KEY=dev-key \
//!   cargo run -p playstream-sdk --example quickstart
//! ```

use std::time::Duration;

use playstream_sdk::event::{
    AdType, AdWatched, Country, Currency, EventContext, LevelComplete, LevelStart, Platform, Purchase,
    SessionStart, Store,
};
use playstream_sdk::{Client, ClientConfig};
use rust_decimal::Decimal;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("PLAYSTREAM_URL").unwrap_or_else(|_| "http://localhost:8080".into());
    let key = std::env::var("PLAYSTREAM_API_KEY").unwrap_or_else(|_| "dev-key".into());
    let config = ClientConfig::new(url, key)
        .on_error(|d| eprintln!("dropped {} event(s): {:?} — {}", d.event_ids.len(), d.reason, d.message));
    let client = Client::start(config)?;

    let player = EventContext::new("player-42", "space-miner", Platform::Android, "2.3.1")
        .session("session-1")
        .country(Country::new("DE")?);
    client.track(&player.event(SessionStart).build()?).await?;
    client.track(&player.event(LevelStart::new(3)).build()?).await?;
    client.track(&player.event(LevelComplete::new(3, 95_000, true).score(1200)).build()?).await?;
    let price = Decimal::new(499, 2); // 4.99, exact: money never goes through f64
    let purchase = Purchase::new("gems_100", price, Currency::EUR, Store::GooglePlay).quantity(1);
    client.track(&player.event(purchase).build()?).await?;
    client.track(&player.event(AdWatched::new("level_end", AdType::Rewarded)).build()?).await?;

    let report = client.flush_within(Duration::from_secs(30)).await;
    println!(
        "acknowledged {}, failed {}, pending {}; stats: {:?}",
        report.acknowledged,
        report.failed_total(),
        report.pending,
        client.stats()
    );
    client.shutdown(Duration::from_secs(5)).await;
    Ok(())
}
