//! `playstream report`: the dashboard figures of sql/'s views — DAU, installs, revenue in USD,
//! ARPU and ARPDAU, payer conversion, retention cohorts, the level funnel, ad revenue, rejects
//! by reason per day — computed from the landed NDJSON on a laptop, with no warehouse. The
//! invariant: on the same lines and rates every figure equals its view's, exactly (the modules
//! below each own one view family and state its rule); what cannot be known (no FX rate, a day
//! not reached yet) is shown as unknown, never as 0. I/O is here and in `s3`; the rest is pure.

pub mod charts;
pub mod cohorts;
pub mod events;
pub mod funnel;
pub mod fx;
pub mod html;
pub mod json;
pub mod kpis;
pub mod load;
pub mod rejects;
pub mod revenue;
pub mod s3;
pub mod text;

use std::collections::BTreeMap;
use std::path::PathBuf;

use events::{Event, format_day};
use fx::FxTable;
use json::{Fx, GameReport, Input, Report, Totals};
use load::{Loaded, Source};
use rejects::RejectsSummary;

/// Why a report could not be made, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A local file or directory cannot be read (not retryable: the path is wrong).
    #[error("cannot read {what}: {source}")]
    Read {
        /// The path.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The report cannot be written (not retryable).
    #[error("cannot write {what}: {source}")]
    Write {
        /// The path.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The FX rates file is not usable (not retryable: fix the file).
    #[error(transparent)]
    Fx(#[from] fx::FxError),
    /// S3 refused or failed; `retryable` says whether trying again can help.
    #[error("S3 {operation} failed ({}): {message}", if *.retryable { "transient, retry" } else { "permanent" })]
    S3 {
        /// ListObjectsV2 or GetObject and the key.
        operation: String,
        /// The SDK's error, with its source chain.
        message: String,
        /// True for throttling, timeouts, 5xx and connection errors.
        retryable: bool,
    },
    /// The rejects topic could not be read (retryable: the broker may come back).
    #[error("reading the rejects topic (transient, retry): {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// A flag's value is wrong (not retryable).
    #[error("{0}")]
    Usage(String),
}

impl ReportError {
    /// Whether running again unchanged may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ReportError::S3 { retryable, .. } => *retryable,
            ReportError::Kafka(_) => true,
            ReportError::Read { .. }
            | ReportError::Write { .. }
            | ReportError::Fx(_)
            | ReportError::Usage(_) => false,
        }
    }
}

/// Builds the report from loaded events: pure.
pub fn build(
    loaded: &Loaded,
    source: &str,
    fx: &FxTable,
    fx_label: Option<String>,
    rejects: Option<RejectsSummary>,
) -> Report {
    let mut by_game: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for e in &loaded.events {
        by_game.entry(loaded.names.name(e.game)).or_default().push(e);
    }
    let mut missing = Vec::new();
    let games = by_game
        .into_iter()
        .map(|(game, events)| {
            let rows = revenue::revenue_rows(&events, fx);
            missing.extend(revenue::fx_missing(&events, &rows, &loaded.names));
            game_report(game, &events, &rows)
        })
        .collect();
    Report {
        input: Input {
            source: source.to_string(),
            objects: loaded.objects,
            lines: loaded.lines,
            events: loaded.events.len() as u64,
            duplicates: loaded.duplicates,
            malformed_lines: loaded.malformed,
            malformed_examples: loaded.malformed_examples.clone(),
        },
        fx: Fx { table: fx_label, rates: fx.len(), missing },
        games,
        rejects,
    }
}

fn game_report(game: &str, events: &[&Event], rows: &[revenue::RevenueRow]) -> GameReport {
    let activity = kpis::activity(events);
    let daily = revenue::daily_revenue(rows);
    let days = kpis::days(&activity, &daily);
    let (installs, by_source) = kpis::installs(events);
    let players = cohorts::players(events);
    let retention = cohorts::retention(&players, &activity);
    let mut sum = revenue::RevenueSum::default();
    for r in rows {
        sum.add(r);
    }
    let total = sum.revenue();
    let dau_sum: u64 = days.iter().map(|d| d.dau).sum();
    let n_players = players.len() as u64;
    let payers = players.values().filter(|p| p.payer).count() as u64;
    let avg_dau = rust_decimal::Decimal::from(dau_sum)
        .checked_div(rust_decimal::Decimal::from(days.len() as u64))
        .map(|m| m.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero));
    let totals = Totals {
        first_date: activity.iter().next().map(|(d, _)| format_day(*d)).unwrap_or_default(),
        last_date: activity.iter().next_back().map(|(d, _)| format_day(*d)).unwrap_or_default(),
        players: n_players,
        new_users: installs.iter().map(|i| i.new_users).sum(),
        installs: installs.iter().map(|i| i.installs).sum(),
        payers,
        payer_pct: kpis::pct(payers, n_players),
        revenue: total,
        unpriced_count: sum.unpriced(),
        arpu_usd: kpis::ratio6(total.revenue_usd, n_players),
        arpdau_usd: kpis::ratio6(total.revenue_usd, dau_sum),
        avg_dau,
        d1_pct: cohorts::pooled(&retention, |r| r.d1_users),
        d7_pct: cohorts::pooled(&retention, |r| r.d7_users),
        d30_pct: cohorts::pooled(&retention, |r| r.d30_users),
    };
    GameReport {
        game_id: game.to_string(),
        totals,
        installs,
        installs_by_source_country: by_source,
        ads: revenue::daily_ads(events, rows),
        monthly_arpu: revenue::monthly(&activity, rows),
        payer_conversion: cohorts::conversion(&players),
        retention,
        level_funnel: funnel::funnel(events),
        revenue: daily,
        days,
    }
}

/// Where the rejects section comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectsSource {
    /// A `playstream rejects export` file (rows of `rejected_events`).
    File(PathBuf),
    /// The rejects topic: `kafka://BROKERS/TOPIC`.
    Kafka {
        /// Bootstrap servers.
        brokers: String,
        /// Topic.
        topic: String,
    },
}

impl std::str::FromStr for RejectsSource {
    type Err = String;

    fn from_str(s: &str) -> Result<RejectsSource, String> {
        if let Some(rest) = s.strip_prefix("kafka://") {
            return match rest.split_once('/') {
                Some((b, t)) if !b.is_empty() && !t.is_empty() => {
                    Ok(RejectsSource::Kafka { brokers: b.to_string(), topic: t.to_string() })
                }
                _ => Err(format!("expected kafka://BROKERS/TOPIC, got {s:?}")),
            };
        }
        let path = s.strip_prefix("file://").unwrap_or(s);
        if path.is_empty() {
            return Err("expected a rejects export file or kafka://BROKERS/TOPIC".into());
        }
        Ok(RejectsSource::File(PathBuf::from(path)))
    }
}

/// Reads the rejects section (blocking: the topic is read to its end).
pub fn read_rejects(
    source: &RejectsSource,
    kafka_options: &[(String, String)],
) -> Result<RejectsSummary, ReportError> {
    match source {
        RejectsSource::File(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ReportError::Read { what: path.display().to_string(), source: e })?;
            let (rows, bad) = rejects::parse_export(&text);
            Ok(rejects::summarize(&path.display().to_string(), &rows, bad))
        }
        RejectsSource::Kafka { brokers, topic } => {
            use crate::rejects_cli::read::{Selection, Start, read};
            let (mut rows, mut bad) = (Vec::new(), 0);
            read(brokers, topic, kafka_options, &Selection::default(), Start::Beginning, false, |r| {
                match rejects::from_record(&r) {
                    Some(row) => rows.push(row),
                    None => bad += 1,
                }
            })?;
            Ok(rejects::summarize(&format!("kafka://{brokers}/{topic}"), &rows, bad))
        }
    }
}

/// Reads the landed events of a source.
pub async fn load(source: &Source) -> Result<Loaded, ReportError> {
    match source {
        Source::File(dir) => {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || load::read_dir(&dir))
                .await
                .map_err(|e| ReportError::Usage(format!("the reading task failed: {e}")))?
        }
        Source::S3 { bucket, prefix } => s3::read(bucket, prefix).await,
    }
}

/// Writes the page for a report.
pub fn write_html(report: &Report, out: &std::path::Path) -> Result<(), ReportError> {
    std::fs::write(out, html::page(report))
        .map_err(|e| ReportError::Write { what: out.display().to_string(), source: e })
}

/// Reads an FX rates file (`--fx`).
pub fn read_fx(path: &std::path::Path) -> Result<FxTable, ReportError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ReportError::Read { what: path.display().to_string(), source: e })?;
    Ok(FxTable::parse(&text)?)
}

/// The demo's report: the landed folder, a rates file and the rejects it read, into `page`.
pub async fn write_for_dir(
    landed: &std::path::Path,
    fx_path: &std::path::Path,
    rejects: &[rejects::RejectRow],
    page: &std::path::Path,
) -> Result<Report, ReportError> {
    let fx = read_fx(fx_path)?;
    let source = Source::File(landed.to_path_buf());
    let loaded = load(&source).await?;
    let summary = rejects::summarize("the demo's rejects topic", rejects, 0);
    let report = build(&loaded, &source.to_string(), &fx, Some(fx_path.display().to_string()), Some(summary));
    write_html(&report, page)?;
    Ok(report)
}

/// Illustrative USD rates for the demo's eight currencies, valid from `day` on (`--fx` rows).
/// They are round recent values, not a feed: the demo has no network and needs some rate for
/// every currency its players pay in.
pub fn demo_fx_csv(day: events::Day) -> String {
    let date = format_day(day);
    let mut out = String::from(
        "# illustrative rates written by playstream demo (not a rates feed)\nrate_date,currency,usd_per_unit\n",
    );
    for (currency, rate) in [
        ("EUR", "1.08"),
        ("GBP", "1.27"),
        ("JPY", "0.0067"),
        ("KRW", "0.00073"),
        ("BRL", "0.18"),
        ("KWD", "3.25"),
        ("INR", "0.012"),
    ] {
        out.push_str(&format!("{date},{currency},{rate}\n"));
    }
    out
}
