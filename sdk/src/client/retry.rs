//! One classification of every answer the ingest service can give, and the backoff. Pure:
//! status, `Retry-After` and body in, a decision out — unit-tested here.
//!
//! | answer | decision |
//! |---|---|
//! | 202 | every event acknowledged |
//! | 503 with `not_accepted` | the others acknowledged; resend only those, after the wait |
//! | 429, 503, 408, 5xx, a connection or timeout error | resend the batch after the wait |
//! | 400 or 413 with `index` | drop that event, resend the rest at once |
//! | 413 without `index`, several events | split the batch in two, resend both halves |
//! | 400, 401, 413, 415, other 4xx | drop the batch (retrying the same bytes cannot help) |

use std::time::Duration;

use serde_json::Value;

use super::config::RetryPolicy;
use super::stats::DropReason;

/// What to do after one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Everything acknowledged.
    Accepted,
    /// Acknowledged except these indices, which are retried after `wait`.
    Partial { not_accepted: Vec<usize>, retry_after: Option<Duration> },
    /// Nothing acknowledged; retry all after the wait.
    Retry { retry_after: Option<Duration>, why: String },
    /// Drop the event at `index` and resend the others now.
    DropOne { index: usize, reason: DropReason, message: String },
    /// Split the batch in two and resend both.
    Split,
    /// Drop the whole batch.
    DropAll { reason: DropReason, message: String },
}

/// `Retry-After` as delay-seconds (the form the service sends); an HTTP date is ignored.
pub(crate) fn parse_retry_after(v: Option<&str>) -> Option<Duration> {
    v?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn message(body: &Value, status: u16) -> String {
    let text = body.get("message").and_then(Value::as_str).unwrap_or("no message");
    let code = body.get("error").and_then(Value::as_str).unwrap_or("");
    format!("HTTP {status} {code}: {text}")
}

/// Classifies one HTTP answer to a batch of `n` events.
pub(crate) fn classify(status: u16, retry_after: Option<Duration>, body: &Value, n: usize) -> Decision {
    let index =
        body.get("index").and_then(Value::as_u64).and_then(|i| usize::try_from(i).ok()).filter(|i| *i < n);
    match status {
        200..=299 => Decision::Accepted,
        503 => match body.get("not_accepted").and_then(Value::as_array) {
            Some(list) => {
                let mut not_accepted: Vec<usize> = list
                    .iter()
                    .filter_map(Value::as_u64)
                    .filter_map(|i| usize::try_from(i).ok())
                    .filter(|i| *i < n)
                    .collect();
                not_accepted.sort_unstable();
                not_accepted.dedup();
                if not_accepted.len() == n || not_accepted.len() != list.len() {
                    // All failed, or a list we cannot trust: resend everything.
                    Decision::Retry { retry_after, why: message(body, status) }
                } else {
                    Decision::Partial { not_accepted, retry_after }
                }
            }
            None => Decision::Retry { retry_after, why: message(body, status) },
        },
        408 | 429 | 500..=599 => Decision::Retry { retry_after, why: message(body, status) },
        400 | 413 if index.is_some() => {
            let reason = if status == 400 { DropReason::BadEvent } else { DropReason::PayloadTooLarge };
            Decision::DropOne { index: index.unwrap_or(0), reason, message: message(body, status) }
        }
        413 if n > 1 => Decision::Split,
        _ => {
            let reason = match status {
                400 => DropReason::BadRequest,
                401 => DropReason::Unauthorized,
                413 => DropReason::PayloadTooLarge,
                415 => DropReason::UnsupportedMediaType,
                _ => DropReason::ClientError,
            };
            Decision::DropAll { reason, message: message(body, status) }
        }
    }
}

/// The wait before retry `attempt` (0 = first retry): full jitter under the exponential bound,
/// but never shorter than the service's `Retry-After`.
pub(crate) fn backoff(
    policy: &RetryPolicy,
    attempt: u32,
    retry_after: Option<Duration>,
    rng: &mut fastrand::Rng,
) -> Duration {
    let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
    let bound = policy.initial_backoff.saturating_mul(factor).min(policy.max_backoff);
    let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
    let jitter = Duration::from_nanos(rng.u64(0..=nanos));
    retry_after.map_or(jitter, |r| jitter.max(r))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn every_answer_has_one_decision() {
        let ra = Some(Duration::from_secs(2));
        assert_eq!(classify(202, None, &json!({"accepted": 3}), 3), Decision::Accepted);
        assert_eq!(
            classify(503, ra, &json!({"not_accepted": [2, 0]}), 3),
            Decision::Partial { not_accepted: vec![0, 2], retry_after: ra }
        );
        assert!(matches!(classify(503, ra, &json!({"not_accepted": [0, 1, 2]}), 3), Decision::Retry { .. }));
        assert!(matches!(classify(503, ra, &json!({"not_accepted": [7]}), 3), Decision::Retry { .. }));
        assert!(matches!(classify(503, ra, &json!({"error": "overloaded"}), 3), Decision::Retry { .. }));
        assert!(matches!(classify(429, ra, &json!({}), 3), Decision::Retry { retry_after: Some(_), .. }));
        assert!(matches!(classify(502, None, &Value::Null, 3), Decision::Retry { .. }));
        assert!(matches!(
            classify(400, None, &json!({"error": "bad_event", "index": 1}), 3),
            Decision::DropOne { index: 1, reason: DropReason::BadEvent, .. }
        ));
        assert!(matches!(
            classify(400, None, &json!({"index": 9}), 3),
            Decision::DropAll { reason: DropReason::BadRequest, .. }
        ));
        assert!(matches!(
            classify(413, None, &json!({"index": 0}), 3),
            Decision::DropOne { index: 0, reason: DropReason::PayloadTooLarge, .. }
        ));
        assert_eq!(classify(413, None, &json!({}), 3), Decision::Split);
        assert!(matches!(
            classify(413, None, &json!({}), 1),
            Decision::DropAll { reason: DropReason::PayloadTooLarge, .. }
        ));
        assert!(matches!(
            classify(401, None, &json!({}), 1),
            Decision::DropAll { reason: DropReason::Unauthorized, .. }
        ));
        assert!(matches!(
            classify(415, None, &json!({}), 1),
            Decision::DropAll { reason: DropReason::UnsupportedMediaType, .. }
        ));
        assert!(matches!(
            classify(404, None, &json!({}), 1),
            Decision::DropAll { reason: DropReason::ClientError, .. }
        ));
    }

    #[test]
    fn backoff_is_jittered_under_the_bound_and_honours_retry_after() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            max_attempts: None,
        };
        let mut rng = fastrand::Rng::with_seed(7);
        let waits: Vec<Duration> = (0..200).map(|_| backoff(&p, 3, None, &mut rng)).collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_millis(800)));
        assert!(
            waits.iter().any(|w| *w < Duration::from_millis(200))
                && waits.iter().any(|w| *w > Duration::from_millis(600))
        );
        assert!((0..50).all(|_| backoff(&p, 40, None, &mut rng) <= Duration::from_secs(1)));
        assert!(
            (0..50).all(|_| backoff(&p, 0, Some(Duration::from_secs(3)), &mut rng) == Duration::from_secs(3))
        );
        assert_eq!(parse_retry_after(Some(" 2 ")), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
    }
}
