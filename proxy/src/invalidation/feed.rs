//! The two followers of a Ferrodyn change log: the embedded store's, by
//! an in-process subscription woken by every commit, and a remote
//! `ferrodyn-store`'s, by the long-polling
//! `FerrodynFeed_20261124.GetChanges` extension operation (the format is in
//! the store's `ops::feed`). Both feed every change to [`Targets`], and
//! open the caches only once they know their position in the log.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use ferrodyn_store::model::value::Item;
use ferrodyn_store::Store;
use serde::Deserialize;

use super::{Metrics, Targets};
use crate::upstream::HttpUpstream;

/// Follow the embedded store's change log until the store goes away.
pub async fn follow_embedded(store: Store, targets: Targets, metrics: Metrics) {
    let engine = store.engine();
    let mut commits = engine.subscribe();
    let Ok(mut cursor) = engine.read(|v| v.changes().next_seq()) else {
        return;
    };
    targets.open();
    metrics.connected.set(1);
    loop {
        commits.borrow_and_update();
        let tables = engine.tables();
        let ids: Vec<u32> = tables.iter().map(|t| t.id).collect();
        match engine.read(|v| v.changes().read_since(&ids, cursor, 10_000, 4 << 20)) {
            Ok((records, next, more)) => {
                let names: BTreeMap<u32, &str> =
                    tables.iter().map(|t| (t.id, t.name.as_str())).collect();
                for r in &records {
                    if let Some(table) = names.get(&r.table_id) {
                        targets.change_images(table, &r.keys, r.old.as_ref(), r.new.as_ref());
                        metrics.observe_lag(r.time_ms);
                    }
                }
                metrics.changes.inc_by(records.len() as u64);
                cursor = next;
                if more {
                    continue; // more to read before waiting
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the change log"),
        }
        if commits.changed().await.is_err() {
            metrics.connected.set(0);
            return;
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FeedChange {
    table_name: String,
    keys: Item,
    /// Absent from stores older than the field.
    created_at_ms: Option<u64>,
    /// Absent from stores that predate images in the feed.
    #[serde(default)]
    old_image: Option<Item>,
    #[serde(default)]
    new_image: Option<Item>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FeedResponse {
    #[serde(default)]
    changes: Vec<FeedChange>,
    next_cursor: u64,
    #[serde(default)]
    tables: BTreeMap<String, u32>,
    #[serde(default)]
    lost_tables: Vec<String>,
    /// The store's data identity; absent from stores that predate it.
    #[serde(default)]
    store_id: Option<String>,
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
) -> Result<FeedResponse, PollError> {
    let body = match cursor {
        Some(c) => format!(r#"{{"Cursor":{c},"WaitMs":{wait_ms},"Limit":1000}}"#),
        None => "{}".to_owned(),
    };
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
async fn probe(upstream: &HttpUpstream) -> Result<FeedResponse, PollError> {
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

/// Follow a remote store's change feed until aborted. Returns only if the
/// upstream has no Ferrodyn change feed (it is not a `ferrodyn-store`): the
/// caller then follows DynamoDB Streams.
///
/// The caches stay closed (nothing filled, nothing served) until the first
/// answer gives the log's current end, and again whenever the feed cannot
/// be followed: a change committed while nobody listens would otherwise be
/// missed for good. Every failure after the first answer is temporary.
pub async fn follow_remote(upstream: HttpUpstream, targets: Targets, metrics: Metrics) {
    let mut failures = 0u32;
    // Outer loop: one run per store identity.
    loop {
        let (mut cursor, store_id) = match probe(&upstream).await {
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
        failures = 0;
        targets.open();
        metrics.connected.set(1);
        loop {
            let feed = match poll(&upstream, Some(cursor), 10_000).await {
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
                    targets.change(&c.table_name, &c.keys, None, None);
                } else {
                    targets.change_images(&c.table_name, &c.keys, old, new);
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
