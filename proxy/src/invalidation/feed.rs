//! Following a Ferrodyn change log — the embedded store's, called
//! in-process, or a remote `ferrodyn-store`'s, through the long-polling
//! `FerrodynFeed_20261124.GetChanges` extension operation. Both answer the
//! same typed batches (the store's `api::feed`) from the same code, so one
//! follower handles both: it feeds every change to [`Targets`], drops the
//! tables whose records were trimmed unread or that were deleted or
//! re-created, notices a replaced store by its identity, and opens the
//! caches only once it knows its position in the log.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use ferrodyn_store::api::feed::{Commits, GetChangesInput, GetChangesOutput};
use ferrodyn_store::api::Operation;
use ferrodyn_store::faults::{self, Faults};
use ferrodyn_store::Store;
use prometheus::IntCounter;
use serde::Deserialize;

use super::{Metrics, Targets};
use crate::upstream::HttpUpstream;

/// Where the change log is read.
pub enum Source {
    /// The embedded store, and the process's faults (a feed pause holds
    /// this follower as it holds remote ones).
    Embedded(Store, Faults),
    Remote(Box<HttpUpstream>),
}

/// How long one request waits for a change.
const WAIT_MS: u64 = 10_000;

/// An embedded store's commits, watched so that the echoes of this proxy's
/// own writes are passed over unread. They need nothing from the follower:
/// the write-through already settled both caches for them (see
/// `Targets::change_encoded`), and reading each back costs a read
/// transaction, a copy of its images and a wake-up of the follower per
/// commit — a large share of a write's cost.
struct Echoes {
    commits: tokio::sync::watch::Receiver<Commits>,
    faults: Faults,
    /// The origin the store stamps on this proxy's writes.
    origin: u64,
    /// The catalog version the last answer's tables are from (or older).
    catalog: u64,
}

impl Echoes {
    /// Called before each read of the log: the commits so far are the
    /// read's to answer.
    fn reading(&mut self) {
        self.catalog = self.commits.borrow_and_update().catalog;
    }

    /// Wait (at most `wait`) until the log holds something at or after
    /// `cursor` besides the echoes of this proxy's writes (records left
    /// unread by the last answer included), or the catalog changed, moving
    /// `cursor` past the echoes committed meanwhile and counting them as
    /// `received`. Stops at once while a fault is injected: a paused feed
    /// holds echoes too.
    async fn pass(&mut self, cursor: &mut u64, wait: Duration, received: &IntCounter) {
        let deadline = tokio::time::Instant::now() + wait;
        while !self.faults.is_active() {
            let now = *self.commits.borrow_and_update();
            if let Some(to) = now.past_echoes(*cursor, self.origin, self.catalog) {
                received.inc_by(to.saturating_sub(*cursor));
                *cursor = to;
            }
            if *cursor < now.end || now.catalog != self.catalog {
                break;
            }
            match tokio::time::timeout_at(deadline, self.commits.changed()).await {
                Ok(Ok(())) => {}
                // The store is shutting down: no commit will come (and the
                // read after this must not turn into a busy loop).
                Ok(Err(_)) => {
                    tokio::time::sleep_until(deadline).await;
                    break;
                }
                Err(_) => break,
            }
        }
    }
}

impl Source {
    async fn poll(&self, cursor: Option<u64>, wait_ms: u64) -> Result<GetChangesOutput, PollError> {
        match self {
            Source::Embedded(store, faults) => {
                let paused = match cursor {
                    Some(c) if faults.is_active() => faults
                        .hold_feed(Operation::GetChanges, Duration::from_millis(wait_ms))
                        .await
                        .then_some(c),
                    _ => None,
                };
                let mut output = store
                    .changes(GetChangesInput {
                        cursor,
                        wait_ms: Some(if paused.is_some() { 0 } else { wait_ms }),
                        limit: Some(10_000),
                    })
                    .await
                    .map_err(|e| PollError::Failed(e.to_string()))?;
                // Paused before the poll, or while it waited for changes.
                let paused = paused.or(cursor.filter(|_| faults.feed_paused()));
                if let Some(c) = paused {
                    faults::withhold(&mut output, c);
                }
                Ok(output)
            }
            Source::Remote(upstream) => poll(upstream, cursor, wait_ms).await,
        }
    }

    async fn probe(&self) -> Result<GetChangesOutput, PollError> {
        match self {
            Source::Embedded(..) => self.poll(None, 0).await,
            Source::Remote(upstream) => probe(upstream).await,
        }
    }
}

/// The error part of a DynamoDB-API error answer.
#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(rename = "__type")]
    kind: String,
}

/// Why a poll of the Ferrodyn feed failed.
#[derive(Debug)]
enum PollError {
    /// The upstream is a DynamoDB-API endpoint that does not know the feed
    /// operation (decided only from a cursor-less probe, see [`probe`]).
    NoFeed(String),
    /// Unreachable, an error, an answer that cannot be read: try again.
    Failed(String),
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}

async fn poll(
    upstream: &HttpUpstream,
    cursor: Option<u64>,
    wait_ms: u64,
) -> Result<GetChangesOutput, PollError> {
    let input = match cursor {
        Some(c) => GetChangesInput {
            cursor: Some(c),
            wait_ms: Some(wait_ms),
            limit: Some(1000),
        },
        None => GetChangesInput::default(),
    };
    let body = serde_json::to_vec(&input).map_err(|e| PollError::Failed(e.to_string()))?;
    let timeout = Duration::from_millis(wait_ms) + Duration::from_secs(30);
    let resp = upstream
        .call(
            "FerrodynFeed_20261124.GetChanges",
            Bytes::from(body),
            timeout,
        )
        .await
        .map_err(|e| PollError::Failed(e.to_string()))?;
    if !resp.status.is_success() {
        // DynamoDB and Alternator answer UnknownOperationException (as
        // their error type, not merely somewhere in the text).
        if let Ok(error) = serde_json::from_slice::<ErrorAnswer>(&resp.body) {
            if error.kind.rsplit('#').next() == Some("UnknownOperationException") {
                return Err(PollError::NoFeed(snippet(&resp.body)));
            }
        }
        return Err(PollError::Failed(format!(
            "{}: {}",
            resp.status,
            snippet(&resp.body)
        )));
    }
    serde_json::from_slice(&resp.body)
        .map_err(|e| PollError::Failed(format!("unreadable change-feed answer: {e}")))
}

/// The first, cursor-less request: where the log ends now, or whether this
/// upstream has no feed at all. Other DynamoDB-API engines either name the
/// operation unknown, or (moto) answer something that is not a DynamoDB
/// answer at all; in the second case the upstream is taken to have no feed
/// only if it answers a standard operation (ListTables) normally — an
/// error page from a load balancer in front of a store fails that too, and
/// is retried like any other failure.
async fn probe(upstream: &HttpUpstream) -> Result<GetChangesOutput, PollError> {
    match poll(upstream, None, 0).await {
        Err(PollError::Failed(why)) => {
            let listed = upstream
                .call(
                    "DynamoDB_20120810.ListTables",
                    Bytes::from_static(br#"{"Limit":1}"#),
                    Duration::from_secs(30),
                )
                .await;
            match listed {
                Ok(r)
                    if r.status.is_success()
                        && serde_json::from_slice::<serde::de::IgnoredAny>(&r.body).is_ok() =>
                {
                    Err(PollError::NoFeed(why))
                }
                _ => Err(PollError::Failed(why)),
            }
        }
        other => other,
    }
}

/// Follow a change log until aborted. Returns only if a remote upstream has
/// no Ferrodyn change feed (it is not a `ferrodyn-store`): the caller then
/// follows DynamoDB Streams.
///
/// The caches stay closed (nothing filled, nothing served) until the first
/// answer gives the log's current end, and again whenever the feed cannot
/// be followed: a change committed while nobody listens would otherwise be
/// missed for good. Every failure after the first answer is temporary.
pub async fn follow(source: Source, targets: Targets, metrics: Metrics) {
    let mut failures = 0u32;
    // Outer loop: one run per store identity.
    loop {
        let (mut cursor, store_id) = match source.probe().await {
            Ok(feed) => (feed.next_cursor, feed.store_id),
            Err(PollError::NoFeed(answer)) => {
                tracing::info!(answer = %answer, "the upstream has no Ferrodyn change feed");
                return;
            }
            Err(PollError::Failed(e)) => {
                failed(&metrics, &mut failures, &e).await;
                continue;
            }
        };
        let mut tables: BTreeMap<String, u32> = BTreeMap::new();
        let mut echoes = match &source {
            Source::Embedded(store, faults) => Some(Echoes {
                commits: store.commits(),
                faults: faults.clone(),
                origin: targets.items.origin(),
                catalog: 0,
            }),
            Source::Remote(_) => None,
        };
        failures = 0;
        targets.open();
        metrics.connected.set(1);
        loop {
            // Embedded, the wait happens in `Echoes::pass` below, unless a
            // fault is injected (the poll then holds the feed as asked).
            let wait = match &mut echoes {
                Some(e) if !e.faults.is_active() => {
                    e.reading();
                    0
                }
                _ => WAIT_MS,
            };
            let feed = match source.poll(Some(cursor), wait).await {
                Ok(feed) => feed,
                Err(PollError::NoFeed(e) | PollError::Failed(e)) => {
                    // Whatever changes meanwhile is unknown until the feed
                    // answers again: serve nothing from the caches.
                    targets.close();
                    failed(&metrics, &mut failures, &e).await;
                    continue;
                }
            };
            if feed.store_id != store_id {
                tracing::warn!(
                    was = ?store_id,
                    now = ?feed.store_id,
                    "the upstream store was replaced or restored: every cache entry dropped"
                );
                targets.close();
                metrics.connected.set(0);
                break;
            }
            if failures > 0 {
                failures = 0;
                targets.open();
                metrics.connected.set(1);
                tracing::info!("change feed resumed");
            }
            for c in &feed.changes {
                let (old, new) = (c.old_image.as_ref(), c.new_image.as_ref());
                if old.is_none() && new.is_none() {
                    // Every change has an image: this feed carries none.
                    match c.keys.decode() {
                        Ok(keys) => targets.change(&c.table_name, &keys, None, None),
                        Err(_) => targets.drop_table(&c.table_name),
                    }
                } else {
                    targets.change_encoded(&c.table_name, &c.keys, old, new, c.origin);
                }
                if let Some(ms) = c.created_at_ms {
                    metrics.observe_lag(ms);
                }
            }
            metrics.changes.inc_by(feed.changes.len() as u64);
            let mut dropped: Vec<&String> = feed.lost_tables.iter().collect();
            // Tables gone or re-created since the last answer.
            for (name, id) in &tables {
                if feed.tables.get(name) != Some(id) {
                    dropped.push(name);
                }
            }
            for name in dropped {
                targets.drop_table(name);
                metrics.tables_dropped.inc();
            }
            tables = feed.tables;
            cursor = feed.next_cursor;
            if let Some(e) = &mut echoes {
                e.pass(
                    &mut cursor,
                    Duration::from_millis(WAIT_MS),
                    &metrics.changes,
                )
                .await;
            }
        }
    }
}

/// Record a failed feed request and wait before the next one.
async fn failed(metrics: &Metrics, failures: &mut u32, error: &str) {
    metrics.connected.set(0);
    metrics.failures.inc();
    *failures = failures.saturating_add(1);
    if *failures == 1 {
        tracing::warn!(error = %error, "change feed interrupted; cache bypassed until it answers again");
    }
    tokio::time::sleep(Duration::from_millis(
        100u64.saturating_mul(u64::from((*failures).min(50))),
    ))
    .await;
}
