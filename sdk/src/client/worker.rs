//! The sender: one task that takes batches off the queue and does not let go of a batch until
//! each of its events is resolved — acknowledged by a 202 (or by its absence from a 503's
//! `not_accepted`), or dropped with a reason the classification in [`retry`](super::retry)
//! gives. One request at a time, oldest events first.

use std::time::Duration;

use super::config::ClientConfig;
use super::http::Transport;
use super::retry::{Decision, backoff, classify};
use super::state::{Entry, SharedRef};
use super::stats::{Counters, DropReason};

pub(crate) struct Worker {
    pub(crate) shared: SharedRef,
    pub(crate) transport: Transport,
    pub(crate) config: ClientConfig,
    pub(crate) rng: fastrand::Rng,
}

impl Worker {
    /// Runs until the client is closed and its queue is empty.
    pub(crate) async fn run(mut self) {
        loop {
            let batch = loop {
                let wait = {
                    let mut st = self.shared.lock();
                    let (max_e, max_b) = (self.config.max_batch_events, self.config.max_batch_bytes);
                    if st.ready(max_e, max_b, self.config.flush_interval) {
                        let batch = st.take_batch(max_e, max_b);
                        st.inflight.clone_from(&batch);
                        break batch;
                    }
                    if st.closed && st.queue.is_empty() {
                        return;
                    }
                    st.oldest_at.map(|t| self.config.flush_interval.saturating_sub(t.elapsed()))
                };
                let notified = self.shared.work.notified();
                match wait {
                    Some(d) => {
                        let _ = tokio::time::timeout(d, notified).await;
                    }
                    None => notified.await,
                }
            };
            self.deliver(batch).await;
            self.shared.lock().inflight.clear();
        }
    }

    fn resolve(&self, entries: &[Entry], outcome: Option<DropReason>, status: Option<u16>, message: &str) {
        self.shared.resolve(entries, outcome, status, message);
    }

    /// Sends `batch` until every event in it is resolved.
    async fn deliver(&mut self, mut batch: Vec<Entry>) {
        let mut attempt: u32 = 0;
        let mut resend = false;
        while !batch.is_empty() {
            let counters = &self.shared.counters;
            Counters::add(&counters.sent, batch.len());
            Counters::add(&counters.requests, 1);
            if resend {
                Counters::add(&counters.retried, batch.len());
            }
            resend = true;
            let body = self.transport.body(&batch);
            let (decision, status) = match self.transport.post(body).await {
                Ok(a) => (classify(a.status, a.retry_after, &a.body, batch.len()), Some(a.status)),
                Err(why) => (Decision::Retry { retry_after: None, why }, None),
            };
            let retry_after = match decision {
                Decision::Accepted => {
                    self.resolve(&batch, None, status, "");
                    return;
                }
                Decision::DropAll { reason, message } => {
                    self.resolve(&batch, Some(reason), status, &message);
                    return;
                }
                Decision::DropOne { index, reason, message } => {
                    if index < batch.len() {
                        let bad = batch.remove(index);
                        self.resolve(std::slice::from_ref(&bad), Some(reason), status, &message);
                    }
                    continue; // the rest was not produced: resend it at once
                }
                Decision::Split => {
                    let back = batch.split_off(batch.len() / 2);
                    self.shared.lock().unshift(back);
                    continue;
                }
                Decision::Partial { not_accepted, retry_after } => {
                    let (mut keep, mut acked) = (Vec::with_capacity(not_accepted.len()), Vec::new());
                    for (i, e) in batch.into_iter().enumerate() {
                        if not_accepted.binary_search(&i).is_ok() { keep.push(e) } else { acked.push(e) }
                    }
                    self.resolve(&acked, None, status, "");
                    batch = keep;
                    retry_after
                }
                Decision::Retry { retry_after, .. } => retry_after,
            };
            if self.config.retry.max_attempts.is_some_and(|max| attempt + 1 >= max) {
                let message = format!("gave up after {} attempts", attempt + 1);
                self.resolve(&batch, Some(DropReason::RetriesExhausted), status, &message);
                return;
            }
            let wait: Duration = backoff(&self.config.retry, attempt, retry_after, &mut self.rng);
            attempt = attempt.saturating_add(1);
            tokio::time::sleep(wait).await;
        }
    }
}
