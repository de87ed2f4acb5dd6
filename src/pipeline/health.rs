//! Readiness of the validator, one flag per dependency. Invariant: `/readyz` is 200 only while
//! the loop runs and every dependency can take work — the sink has had a success within
//! `--unhealthy-after` whenever work was pending (a call that errors and a call whose every
//! entry fails count the same), and neither the sink nor the rejects producer is in a fatal
//! state (configuration, authorization, a missing stream or topic). A dependency that recovers
//! makes the process ready again by itself.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The dependencies readiness is made of (fixed metric labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    /// Firehose or the file sink.
    Sink,
    /// The rejects topic's producer.
    Rejects,
}

impl Dependency {
    /// The stable label.
    pub fn code(self) -> &'static str {
        match self {
            Dependency::Sink => "sink",
            Dependency::Rejects => "rejects",
        }
    }
}

#[derive(Debug)]
struct Progress {
    /// Deliveries in progress.
    pending: AtomicUsize,
    /// Last success, or when work became pending after an idle time.
    mark: Mutex<Instant>,
    /// A fatal failure is being retried.
    fatal: AtomicBool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            pending: AtomicUsize::new(0),
            mark: Mutex::new(Instant::now()),
            fatal: AtomicBool::new(false),
        }
    }

    fn mark(&self) -> std::sync::MutexGuard<'_, Instant> {
        self.mark.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn healthy(&self, unhealthy_after: Duration, now: Instant) -> bool {
        !self.fatal.load(Ordering::Relaxed)
            && (self.pending.load(Ordering::Relaxed) == 0
                || now.saturating_duration_since(*self.mark()) < unhealthy_after)
    }
}

/// Shared readiness state.
#[derive(Debug)]
pub struct Health {
    running: AtomicBool,
    sink: Progress,
    rejects: Progress,
    unhealthy_after: Duration,
}

impl Health {
    /// Readiness that turns false after `unhealthy_after` without progress.
    pub fn new(unhealthy_after: Duration) -> Health {
        Health {
            running: AtomicBool::new(false),
            sink: Progress::new(),
            rejects: Progress::new(),
            unhealthy_after,
        }
    }

    fn of(&self, d: Dependency) -> &Progress {
        match d {
            Dependency::Sink => &self.sink,
            Dependency::Rejects => &self.rejects,
        }
    }

    /// The consumer loop started (true) or is stopping (false).
    pub fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::Relaxed);
    }

    /// A delivery to `d` starts; pair with [`Health::finished`].
    pub fn started(&self, d: Dependency) {
        let p = self.of(d);
        if p.pending.fetch_add(1, Ordering::Relaxed) == 0 {
            *p.mark() = Instant::now();
        }
    }

    /// A delivery to `d` ended (it always ends delivered: failures are retried inside it).
    pub fn finished(&self, d: Dependency) {
        let p = self.of(d);
        let _ = p.pending.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// `d` took some work: it is making progress and not in a fatal state.
    pub fn succeeded(&self, d: Dependency) {
        let p = self.of(d);
        *p.mark() = Instant::now();
        p.fatal.store(false, Ordering::Relaxed);
    }

    /// `d` failed in a way only an operator can fix (it is still being retried).
    pub fn fatal(&self, d: Dependency) {
        self.of(d).fatal.store(true, Ordering::Relaxed);
    }

    /// Whether `d` can take work now.
    pub fn healthy(&self, d: Dependency) -> bool {
        self.of(d).healthy(self.unhealthy_after, Instant::now())
    }

    /// Ready: running, and every dependency healthy.
    pub fn ready(&self) -> bool {
        self.running.load(Ordering::Relaxed)
            && self.healthy(Dependency::Sink)
            && self.healthy(Dependency::Rejects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_progress_while_work_is_pending() {
        let h = Health::new(Duration::from_millis(50));
        assert!(!h.ready(), "not before the loop runs");
        h.set_running(true);
        assert!(h.ready());
        h.started(Dependency::Sink);
        assert!(h.ready(), "work just became pending");
        std::thread::sleep(Duration::from_millis(80));
        assert!(!h.ready(), "pending with no success for longer than the limit");
        h.succeeded(Dependency::Sink);
        assert!(h.ready());
        h.finished(Dependency::Sink);
        std::thread::sleep(Duration::from_millis(80));
        assert!(h.ready(), "idle is not unhealthy");
        h.started(Dependency::Sink);
        assert!(h.ready(), "the idle time does not count against new work");
        h.finished(Dependency::Sink);
        h.finished(Dependency::Sink); // an extra finish never underflows
        h.fatal(Dependency::Rejects);
        assert!(!h.ready() && !h.healthy(Dependency::Rejects) && h.healthy(Dependency::Sink));
        h.succeeded(Dependency::Rejects);
        assert!(h.ready());
    }
}
