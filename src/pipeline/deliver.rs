//! From a tracked chunk to acknowledged offsets: a fixed pool of validation threads takes chunks
//! from an unbounded queue (bounded in practice by the in-flight budget, since every queued
//! record is tracked), sends accepted lines to the batcher and each reject to the rejects
//! producer; the batcher groups lines into PutRecordBatch-sized batches and delivers them with a
//! bounded number of calls in flight. Invariant: a record's ticket is acknowledged only after
//! its line is on the sink or its reject is on the topic, and nothing here ever blocks the
//! consumer loop — a stalled sink fills the budget, and the loop pauses instead.

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};

use super::assignment::Shared;
use super::batch::{Batch, Batcher, Ticket};
use super::chunk::{Chunk, validate_chunk};
use super::rejects::RejectsProducer;
use super::sink::Sink;
use super::wire::{Encoded, Encoding};
use crate::validate::{Context, SchemaSource};

/// Accepted records of one chunk, encoded for the sink, on their way to the batcher.
pub type Lines = Encoded;

/// What a validation thread needs.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// Writer and reader schemas.
    pub schemas: Arc<dyn SchemaSource>,
    /// Shared state (acks, metrics).
    pub shared: Arc<Shared>,
    /// To the batcher.
    pub lines: mpsc::Sender<Lines>,
    /// The rejects producer.
    pub rejects: Arc<RejectsProducer>,
    /// How the sink wants its records.
    pub encoding: Encoding,
    /// Largest future skew of event timestamps, µs.
    pub max_future_micros: i64,
    /// The runtime rejects are produced on.
    pub runtime: tokio::runtime::Handle,
}

/// The validation threads.
#[derive(Debug)]
pub struct Pool {
    queue: std_mpsc::Sender<Chunk>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Pool {
    /// Starts `n` validation threads.
    pub fn start(n: usize, ctx: JobContext) -> std::io::Result<Pool> {
        let (queue, rx) = std_mpsc::channel::<Chunk>();
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::with_capacity(n);
        for i in 0..n.max(1) {
            let (rx, ctx) = (rx.clone(), ctx.clone());
            threads.push(std::thread::Builder::new().name(format!("validate-{i}")).spawn(move || {
                loop {
                    let next = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
                    match next {
                        Ok(chunk) => run_job(&ctx, chunk),
                        Err(_) => return,
                    }
                }
            })?);
        }
        Ok(Pool { queue, threads })
    }

    /// Queues a tracked chunk (never blocks).
    pub fn submit(&self, chunk: Chunk) -> bool {
        self.queue.send(chunk).is_ok()
    }

    /// Stops taking chunks; returns once every queued chunk was validated.
    pub fn finish(self) {
        drop(self.queue);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn run_job(job: &JobContext, chunk: Chunk) {
    let mut ctx = Context::now();
    ctx.max_future_micros = job.max_future_micros;
    let shared = &job.shared;
    let still_ours = |t: Ticket| shared.offsets().owns(t.partition, t.generation);
    let outcome =
        validate_chunk(&chunk, &shared.topic, &ctx, job.schemas.as_ref(), job.encoding, &still_ours);
    drop(chunk);
    if outcome.dropped > 0 {
        shared.metrics.stale_records.inc_by(outcome.dropped as u64);
    }
    let at: Arc<str> = Arc::from(String::from_utf8_lossy(ctx.stamp()).as_ref());
    for (record, reject, ticket) in outcome.rejected {
        let (rejects, shared, at) = (job.rejects.clone(), job.shared.clone(), at.clone());
        job.runtime.spawn(async move {
            rejects.send(&record, &reject, &at).await;
            shared.metrics.rejected.with_label_values(&[reject.code.code()]).inc();
            shared.ack(ticket);
        });
    }
    if !outcome.accepted.is_empty() && job.lines.blocking_send(outcome.accepted).is_err() {
        tracing::error!("batcher stopped; accepted records stay uncommitted");
    }
}

/// Groups lines into batches and delivers them, `concurrency` calls at a time, until the line
/// channel closes; then flushes and waits for every call.
pub async fn batch_loop(
    mut rx: mpsc::Receiver<Lines>,
    sink: Sink,
    shared: Arc<Shared>,
    linger: Duration,
    concurrency: usize,
) {
    let concurrency = concurrency.max(1);
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut batcher = Batcher::new(linger).framed(sink.frame());
    let mut incoming = Vec::with_capacity(64);
    // One timer, re-armed only when the open batch's deadline changes (not per record).
    let timer = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    loop {
        if batcher.deadline() != armed {
            armed = batcher.deadline();
            if let Some(d) = armed {
                timer.as_mut().reset(d.into());
            }
        }
        tokio::select! {
            n = rx.recv_many(&mut incoming, 64) => {
                if n == 0 {
                    if let Some(b) = batcher.take() {
                        dispatch(b, &sink, &shared, &permits).await;
                    }
                    break;
                }
                let now = Instant::now();
                for lines in incoming.drain(..) {
                    for e in &lines.entries {
                        if let Some(b) = batcher.push(lines.bytes(e), e.line_len, e.ticket, now) {
                            dispatch(b, &sink, &shared, &permits).await;
                        }
                    }
                }
            }
            () = &mut timer, if armed.is_some() => {
                if let Some(b) = batcher.take_due(Instant::now()) {
                    dispatch(b, &sink, &shared, &permits).await;
                }
                armed = None;
            }
        }
    }
    let _ = permits.acquire_many(u32::try_from(concurrency).unwrap_or(u32::MAX)).await;
}

async fn dispatch(batch: Batch, sink: &Sink, shared: &Arc<Shared>, permits: &Arc<Semaphore>) {
    let Ok(permit) = permits.clone().acquire_owned().await else { return };
    let sink = sink.clone();
    let shared = shared.clone();
    tokio::spawn(async move {
        let tickets = sink.deliver(batch, Context::now().now_micros()).await;
        let n = tickets.len();
        {
            let mut o = shared.offsets();
            for t in &tickets {
                o.ack(t.partition, t.generation, t.offset);
            }
        }
        shared.metrics.accepted.inc_by(n as u64);
        drop(permit);
    });
}
