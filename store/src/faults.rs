//! Fault injection, for testing how applications survive DynamoDB's
//! transient failures: a registry of rules, each naming what to inject
//! (one of DynamoDB's retryable errors, added latency, or a pause of the
//! change feed and Streams), where (an operation and/or a table) and how
//! often (a probability, a number of times, for a duration).
//!
//! The HTTP front end (`server.rs`) consults the registry for every request,
//! so both binaries honour it; the rules come from `--fault` flags
//! ([`FaultSpec::parse`]) and from the admin routes in [`admin`], which any
//! admin endpoint mounts. A feed follower inside the process (the embedded
//! proxy's) asks [`Faults::hold_feed`] itself.
//!
//! Invariants: with no rule the front end pays one atomic load per request
//! ([`Faults::is_active`]); a fault never changes stored data (an injected
//! error answers before the request reaches the store, a paused feed still
//! reads the log but hands out nothing and keeps the client's position).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::api::operation::{DYNAMODB_PREFIX, FEED_PREFIX, STREAMS_PREFIX};
use crate::api::{ApiError, ErrorCode, Operation};

pub mod admin;
mod feed;

pub use feed::{withhold, FeedPause};

/// The errors a fault may inject: DynamoDB's transient ones, which the AWS
/// SDKs retry (the throttling codes by name, 500 and 503 by status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransientError {
    ThrottlingException,
    ProvisionedThroughputExceededException,
    InternalServerError,
    ServiceUnavailable,
    RequestLimitExceeded,
}

impl TransientError {
    fn parse(name: &str) -> Option<TransientError> {
        Some(match name {
            "ThrottlingException" => TransientError::ThrottlingException,
            "ProvisionedThroughputExceededException" => {
                TransientError::ProvisionedThroughputExceededException
            }
            "InternalServerError" => TransientError::InternalServerError,
            "ServiceUnavailable" => TransientError::ServiceUnavailable,
            "RequestLimitExceeded" => TransientError::RequestLimitExceeded,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            TransientError::ThrottlingException => "ThrottlingException",
            TransientError::ProvisionedThroughputExceededException => {
                "ProvisionedThroughputExceededException"
            }
            TransientError::InternalServerError => "InternalServerError",
            TransientError::ServiceUnavailable => "ServiceUnavailable",
            TransientError::RequestLimitExceeded => "RequestLimitExceeded",
        }
    }

    /// The error as DynamoDB sends it (type, status, message).
    pub fn api_error(self) -> ApiError {
        let (code, message) = match self {
            TransientError::ThrottlingException => (
                ErrorCode::Throttling,
                "Rate of requests exceeds the allowed throughput.",
            ),
            TransientError::ProvisionedThroughputExceededException => (
                ErrorCode::ProvisionedThroughputExceeded,
                "You exceeded your maximum allowed provisioned throughput for a table or for one or more global secondary indexes. To view performance metrics for provisioned throughput vs. consumed throughput, open the Amazon CloudWatch console.",
            ),
            TransientError::InternalServerError => {
                (ErrorCode::InternalServer, "Internal server error")
            }
            TransientError::ServiceUnavailable => (
                ErrorCode::ServiceUnavailable,
                "DynamoDB is currently unavailable. (This should be a temporary state.)",
            ),
            TransientError::RequestLimitExceeded => (
                ErrorCode::RequestLimitExceeded,
                "Throughput exceeds the current throughput limit for your account. To request a limit increase, contact AWS Support at https://aws.amazon.com/support.",
            ),
        };
        ApiError::new(code, message)
    }
}

/// One fault as the admin API and `--fault` describe it. Exactly one of
/// `Error`, `LatencyMs` and `PauseFeed` says what to inject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FaultSpec {
    /// Only requests of this operation (by name, e.g. `GetItem`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Only requests naming this table in `TableName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TransientError>,
    /// Delay each matching request by this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Hand out no new change-feed or Streams records (GetChanges,
    /// GetRecords) while the fault lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_feed: Option<bool>,
    /// Chance that a matching request is hit, 0 to 1 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// The fault ends after this many seconds (default: when removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    /// The fault ends after hitting this many requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

impl FaultSpec {
    /// Parse a `--fault` value: comma-separated `key=value` pairs, e.g.
    /// `op=GetItem,table=T,error=ThrottlingException,probability=0.3,duration=60s`;
    /// keys `op`, `table`, `error`, `latency` (`200ms`, `2s`), `pause=feed`,
    /// `probability`, `duration` (`60s`, `5m`, `500ms`), `count`.
    pub fn parse(text: &str) -> Result<FaultSpec, String> {
        let mut spec = FaultSpec::default();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not key=value"))?;
            let value = value.trim();
            match key.trim() {
                "op" | "operation" => spec.operation = Some(value.to_owned()),
                "table" => spec.table_name = Some(value.to_owned()),
                "error" => {
                    spec.error = Some(TransientError::parse(value).ok_or_else(|| {
                        format!("unknown error {value:?}: use one of {}", ERROR_NAMES)
                    })?)
                }
                "latency" => {
                    spec.latency_ms =
                        Some(u64::try_from(parse_duration(value)?.as_millis()).unwrap_or(u64::MAX))
                }
                "pause" if value == "feed" => spec.pause_feed = Some(true),
                "pause" => return Err(format!("pause={value}: only pause=feed exists")),
                "probability" => {
                    spec.probability = Some(
                        value
                            .parse()
                            .map_err(|_| format!("probability {value:?} is not a number"))?,
                    )
                }
                "duration" => spec.duration_seconds = Some(parse_duration(value)?.as_secs_f64()),
                "count" => {
                    spec.count = Some(
                        value
                            .parse()
                            .map_err(|_| format!("count {value:?} is not a whole number"))?,
                    )
                }
                other => return Err(format!("unknown fault key {other:?}")),
            }
        }
        Ok(spec)
    }
}

impl FaultSpec {
    /// [`FaultSpec::parse`], and the result checked as [`Faults::add`]
    /// checks it (for the command line, which should refuse a bad fault
    /// before starting).
    pub fn parse_flag(text: &str) -> Result<FaultSpec, String> {
        let spec = FaultSpec::parse(text)?;
        Rule::new(0, spec.clone())?;
        Ok(spec)
    }
}

const ERROR_NAMES: &str = "ThrottlingException, ProvisionedThroughputExceededException, InternalServerError, ServiceUnavailable, RequestLimitExceeded";

/// `500ms`, `2s`, `5m`, `1h`; a bare number is seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: use e.g. 500ms, 60s, 5m"))?;
    let seconds = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration unit in {text:?}: use ms, s, m or h"
            ))
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("invalid duration {text:?}"))
}

/// What a rule injects.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Effect {
    Error(TransientError),
    Latency(Duration),
    PauseFeed,
}

impl Effect {
    /// The `kind` label of the injected-faults metric.
    fn kind(self) -> &'static str {
        match self {
            Effect::Error(e) => e.name(),
            Effect::Latency(_) => "Latency",
            Effect::PauseFeed => "PauseFeed",
        }
    }
}

#[derive(Debug)]
struct Rule {
    id: u64,
    spec: FaultSpec,
    op: Option<Operation>,
    effect: Effect,
    probability: f64,
    expires: Option<Instant>,
    remaining: Option<u64>,
    injected: u64,
}

impl Rule {
    fn new(id: u64, spec: FaultSpec) -> Result<Rule, String> {
        let op = match spec.operation.as_deref() {
            None => None,
            Some(name) => {
                Some(operation(name).ok_or_else(|| format!("unknown operation {name:?}"))?)
            }
        };
        let effect = match (spec.error, spec.latency_ms, spec.pause_feed) {
            (Some(e), None, None | Some(false)) => Effect::Error(e),
            (None, Some(ms), None | Some(false)) => Effect::Latency(Duration::from_millis(ms)),
            (None, None, Some(true)) => Effect::PauseFeed,
            _ => {
                return Err(
                    "a fault injects exactly one of Error, LatencyMs and PauseFeed".to_owned(),
                )
            }
        };
        let probability = spec.probability.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&probability) {
            return Err("Probability must be between 0 and 1".to_owned());
        }
        if effect == Effect::PauseFeed
            && (spec.operation.is_some()
                || spec.table_name.is_some()
                || spec.probability.is_some()
                || spec.count.is_some())
        {
            return Err(
                "PauseFeed pauses the whole change feed: it takes only DurationSeconds".to_owned(),
            );
        }
        let expires = match spec.duration_seconds {
            None => None,
            Some(s) => Some(
                Instant::now()
                    + Duration::try_from_secs_f64(s)
                        .map_err(|_| "DurationSeconds must be a positive number".to_owned())?,
            ),
        };
        Ok(Rule {
            id,
            op,
            effect,
            probability,
            expires,
            remaining: spec.count,
            injected: 0,
            spec,
        })
    }

    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|t| now < t) && self.remaining != Some(0)
    }

    fn matches(&self, op: Operation, table: Option<&str>) -> bool {
        self.effect != Effect::PauseFeed
            && self.op.is_none_or(|o| o == op)
            && self
                .spec
                .table_name
                .as_deref()
                .is_none_or(|t| table == Some(t))
    }
}

/// An operation by its name, in any of the APIs the front end serves.
fn operation(name: &str) -> Option<Operation> {
    [DYNAMODB_PREFIX, STREAMS_PREFIX, FEED_PREFIX]
        .iter()
        .find_map(|prefix| Operation::from_target(&format!("{prefix}{name}")))
}

/// A fault as the admin API lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FaultInfo {
    pub id: u64,
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// Requests it has hit so far.
    pub injected: u64,
}

#[derive(Debug, Default)]
struct Inner {
    /// Whether any rule exists: the only thing the hot path reads.
    active: AtomicBool,
    rules: Mutex<Vec<Rule>>,
    next_id: AtomicU64,
    /// Injected faults by (kind, operation), for the metrics.
    counts: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    rng: AtomicU64,
    /// Woken when rules are removed, so a held feed request sees it.
    changed: tokio::sync::Notify,
}

/// The fault registry one process shares (cheap to clone). Empty by
/// default, which costs nothing.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Inner>);

/// What the front end should do to one request.
#[derive(Debug, Default)]
pub struct Injection {
    pub latency: Duration,
    pub error: Option<ApiError>,
}

impl Faults {
    pub fn new() -> Faults {
        Faults::default()
    }

    /// Whether any fault is configured (one atomic load).
    #[inline]
    pub fn is_active(&self) -> bool {
        self.0.active.load(Ordering::Relaxed)
    }

    fn rules(&self) -> MutexGuard<'_, Vec<Rule>> {
        self.0.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Add a fault; its id.
    pub fn add(&self, spec: FaultSpec) -> Result<u64, String> {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let rule = Rule::new(id, spec)?;
        let mut rules = self.rules();
        rules.push(rule);
        self.0.active.store(true, Ordering::Relaxed);
        Ok(id)
    }

    /// Remove one fault; whether it existed.
    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.rules();
        let before = rules.len();
        rules.retain(|r| r.id != id);
        let removed = rules.len() != before;
        self.0.active.store(!rules.is_empty(), Ordering::Relaxed);
        drop(rules);
        self.0.changed.notify_waiters();
        removed
    }

    /// Remove every fault.
    pub fn clear(&self) {
        self.rules().clear();
        self.0.active.store(false, Ordering::Relaxed);
        self.0.changed.notify_waiters();
    }

    /// The faults still in effect.
    pub fn list(&self) -> Vec<FaultInfo> {
        let mut rules = self.rules();
        self.prune(&mut rules);
        rules
            .iter()
            .map(|r| FaultInfo {
                id: r.id,
                spec: r.spec.clone(),
                injected: r.injected,
            })
            .collect()
    }

    fn prune(&self, rules: &mut Vec<Rule>) {
        let now = Instant::now();
        rules.retain(|r| r.live(now));
        self.0.active.store(!rules.is_empty(), Ordering::Relaxed);
    }

    /// A uniform number in [0, 1) (xorshift: faults need no strong randomness).
    fn random(&self) -> f64 {
        let mut x = self.0.rng.load(Ordering::Relaxed);
        if x == 0 {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(self.0.next_id.load(Ordering::Relaxed));
            x = h.finish() | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0.rng.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    fn count(&self, kind: &'static str, op: Operation) {
        let mut counts = self.0.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry((kind, op.name())).or_default() += 1;
    }

    /// Decide the faults of one request of `op` whose body is `body`: the
    /// latency to add, and the error to answer instead of calling the store.
    pub fn decide(&self, op: Operation, body: &[u8]) -> Injection {
        let table = table_name(body);
        let mut injection = Injection::default();
        let mut hits = Vec::new();
        {
            let mut rules = self.rules();
            self.prune(&mut rules);
            for i in 0..rules.len() {
                if !rules[i].matches(op, table.as_deref()) {
                    continue;
                }
                let p = rules[i].probability;
                if p < 1.0 && self.random() >= p {
                    continue;
                }
                let rule = &mut rules[i];
                match rule.effect {
                    Effect::Latency(d) => injection.latency += d,
                    Effect::Error(e) if injection.error.is_none() => {
                        injection.error = Some(e.api_error())
                    }
                    Effect::Error(_) | Effect::PauseFeed => continue,
                }
                rule.injected += 1;
                if let Some(n) = rule.remaining.as_mut() {
                    *n -= 1;
                }
                hits.push(rule.effect.kind());
            }
        }
        for kind in hits {
            self.count(kind, op);
        }
        injection
    }

    /// Whether a feed pause is in effect now.
    pub fn feed_paused(&self) -> bool {
        if !self.is_active() {
            return false;
        }
        let mut rules = self.rules();
        self.prune(&mut rules);
        rules.iter().any(|r| r.effect == Effect::PauseFeed)
    }

    /// For a feed request that may wait up to `wait`: while the feed is
    /// paused, wait (at most `wait`) for the pause to end. Whether it is
    /// still paused; a paused answer is counted once per request.
    pub async fn hold_feed(&self, op: Operation, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let changed = self.0.changed.notified();
            if !self.feed_paused() {
                return false;
            }
            // A pause that ends by its duration wakes nobody: look again
            // at least every 50 ms.
            let step = (deadline - tokio::time::Instant::now()).min(Duration::from_millis(50));
            if step.is_zero() {
                self.count(Effect::PauseFeed.kind(), op);
                self.count_pause_hit();
                return true;
            }
            let _ = tokio::time::timeout(step, changed).await;
        }
    }

    fn count_pause_hit(&self) {
        for r in self.rules().iter_mut() {
            if r.effect == Effect::PauseFeed {
                r.injected += 1;
            }
        }
    }

    /// The injected-faults counter in Prometheus text format, named
    /// `<prefix>_faults_injected_total` (nothing when none was injected).
    pub fn render_metrics(&self, prefix: &str) -> String {
        use std::fmt::Write;
        let counts = self.0.counts.lock().unwrap_or_else(|e| e.into_inner());
        let name = format!("{prefix}_faults_injected_total");
        let mut out = format!(
            "# HELP {name} Faults injected, by kind and operation\n# TYPE {name} counter\n"
        );
        for ((kind, op), n) in counts.iter() {
            let _ = writeln!(out, "{name}{{kind=\"{kind}\",operation=\"{op}\"}} {n}");
        }
        out
    }
}

/// The request's `TableName`, if it names one.
fn table_name(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Named {
        #[serde(rename = "TableName")]
        table_name: Option<String>,
    }
    serde_json::from_slice::<Named>(body).ok()?.table_name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_into_specs() {
        let spec = FaultSpec::parse(
            "op=GetItem,table=T,error=ThrottlingException,probability=0.3,duration=60s",
        )
        .expect("valid");
        assert_eq!(spec.operation.as_deref(), Some("GetItem"));
        assert_eq!(spec.table_name.as_deref(), Some("T"));
        assert_eq!(spec.error, Some(TransientError::ThrottlingException));
        assert_eq!(spec.probability, Some(0.3));
        assert_eq!(spec.duration_seconds, Some(60.0));
        let spec = FaultSpec::parse("latency=250ms,count=2").expect("valid");
        assert_eq!((spec.latency_ms, spec.count), (Some(250), Some(2)));
        assert_eq!(
            FaultSpec::parse("pause=feed").expect("valid").pause_feed,
            Some(true)
        );
        assert!(FaultSpec::parse("error=Oops").is_err());
        assert!(FaultSpec::parse("color=red").is_err());
        assert!(FaultSpec::parse("latency=5x").is_err());
    }

    #[test]
    fn rules_are_checked_when_added() {
        let faults = Faults::new();
        let bad = |s: &str| faults.add(FaultSpec::parse(s).expect("parses")).is_err();
        assert!(bad("op=GetItem"));
        assert!(bad("error=ThrottlingException,latency=1s"));
        assert!(bad("op=NoSuchOp,error=ThrottlingException"));
        assert!(bad("error=ThrottlingException,probability=1.5"));
        assert!(bad("pause=feed,table=T"));
        assert!(!faults.is_active());
    }

    #[test]
    fn a_counted_fault_hits_that_many_matching_requests() {
        let faults = Faults::new();
        faults
            .add(
                FaultSpec::parse("op=GetItem,table=T,error=InternalServerError,count=2")
                    .expect("ok"),
            )
            .expect("valid");
        let get = |table: &str| {
            let body = format!(r#"{{"TableName":"{table}"}}"#);
            faults.decide(Operation::GetItem, body.as_bytes()).error
        };
        assert!(get("Other").is_none());
        assert!(faults
            .decide(Operation::PutItem, br#"{"TableName":"T"}"#)
            .error
            .is_none());
        assert_eq!(get("T").map(|e| e.code), Some(ErrorCode::InternalServer));
        assert!(get("T").is_some());
        assert!(get("T").is_none());
        assert!(!faults.is_active());
        assert!(faults.render_metrics("store").contains(
            r#"store_faults_injected_total{kind="InternalServerError",operation="GetItem"} 2"#
        ));
    }

    #[test]
    fn probability_hits_about_that_share() {
        let faults = Faults::new();
        faults
            .add(FaultSpec::parse("error=ThrottlingException,probability=0.3").expect("ok"))
            .expect("valid");
        let hits = (0..10_000)
            .filter(|_| faults.decide(Operation::Scan, b"{}").error.is_some())
            .count();
        assert!((2_000..4_000).contains(&hits), "{hits} of 10000");
    }
}
