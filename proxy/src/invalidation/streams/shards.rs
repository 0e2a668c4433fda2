//! Following one table's stream: its shards, as the engine opens and closes
//! them, each read with GetRecords within DynamoDB's per-shard rate.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use super::wire::{
    call, DescribeStreamInput, DescribeStreamOutput, FollowError, GetRecordsInput,
    GetRecordsOutput, GetShardIteratorInput, GetShardIteratorOutput, Shard, ShardFilter, Timestamp,
};
use crate::invalidation::{Interruption, Metrics, Targets};
use crate::upstream::HttpUpstream;

/// How often an idle shard is polled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// The shortest time between two GetRecords on one shard (DynamoDB allows
/// five per second per shard).
pub const MIN_SHARD_CALL_SPACING: Duration = Duration::from_millis(200);
/// How often a followed stream's shard list is refreshed while a shard is
/// open (a closing shard has its children looked for at once).
pub const DESCRIBE_INTERVAL: Duration = Duration::from_secs(60);
/// How often it is refreshed while no shard is open.
pub const EMPTY_STREAM_DESCRIBE_INTERVAL: Duration = Duration::from_secs(1);
/// GetRecords page size (DynamoDB's maximum).
const RECORDS_LIMIT: usize = 1000;
/// Consecutive transient GetRecords failures on one shard before its
/// table's follow is restarted.
pub const TRANSIENT_RETRIES: u32 = 5;

/// One table's stream, and what its follow reports to.
pub(super) struct Stream {
    pub streams: HttpUpstream,
    pub table: String,
    pub arn: String,
    pub targets: Targets,
    pub metrics: Metrics,
    /// Woken when the stream is gone: the tables are looked at again.
    pub table_changes: Arc<Notify>,
}

/// Follow one table's stream until aborted, restarting after failures.
pub(super) async fn follow_table(stream: Stream, started: oneshot::Sender<()>) {
    let mut failures = 0u32;
    let mut started = Some(started);
    loop {
        let e = match follow_stream(&stream, &mut failures, &mut started).await {
            Ok(never) => match never {},
            Err(e) => e,
        };
        let table = &stream.table;
        // Whatever happened since the last record read is unknown.
        stream.targets.drop_table(table);
        stream.metrics.tables_dropped.inc();
        let why = e.interruption();
        stream.metrics.interrupted(table, why, &e.to_string());
        if why == Interruption::StreamNotFound {
            // The table may have been deleted, or its stream replaced.
            stream.table_changes.notify_one();
        }
        failures = failures.saturating_add(1);
        if failures == 1 {
            tracing::warn!(table = %table, error = %e, "stream follow interrupted; its cache entries were dropped; restarting");
        }
        let backoff = POLL_INTERVAL
            .saturating_mul(1 << failures.min(7))
            .min(Duration::from_secs(30));
        tokio::time::sleep(backoff).await;
    }
}

struct ShardCursor {
    iterator: String,
    next_poll: Instant,
    /// Consecutive transient GetRecords failures.
    transient: u32,
}

/// The shards of the stream `arn` (every page), or only the children of
/// one shard with `children_of`.
async fn shards(
    streams: &HttpUpstream,
    arn: &str,
    children_of: Option<&str>,
) -> Result<Vec<Shard>, FollowError> {
    let mut all = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page: DescribeStreamOutput = call(
            streams,
            "DescribeStream",
            "DynamoDBStreams_20120810.DescribeStream",
            &DescribeStreamInput {
                stream_arn: arn,
                exclusive_start_shard_id: start.as_deref(),
                shard_filter: children_of.map(|shard_id| ShardFilter {
                    kind: "CHILD_SHARDS",
                    shard_id,
                }),
            },
        )
        .await?;
        let desc = page.stream_description;
        all.extend(desc.shards);
        match desc.last_evaluated_shard_id {
            Some(next) if Some(&next) != start.as_ref() => start = Some(next),
            _ => return Ok(all),
        }
    }
}

/// The shards being read and those finished with.
struct Reading {
    open: BTreeMap<String, ShardCursor>,
    done: BTreeSet<String>,
    /// Whether the first description was read (shards found later are read
    /// from their start).
    started: bool,
}

impl Reading {
    /// Start reading the shards not seen before: at the start from LATEST,
    /// later from TRIM_HORIZON, so a new shard's first record is read. A
    /// shard that says it is closed is read at the start too: some engines
    /// (Dynoxide) give an open shard an ending sequence number, that of its
    /// last record; a shard that really is closed answers its first
    /// GetRecords with no next iterator and is done.
    async fn add(
        &mut self,
        streams: &HttpUpstream,
        arn: &str,
        found: Vec<Shard>,
    ) -> Result<(), FollowError> {
        for shard in found {
            if self.open.contains_key(&shard.shard_id) || self.done.contains(&shard.shard_id) {
                continue;
            }
            let from = if self.started {
                "TRIM_HORIZON"
            } else {
                "LATEST"
            };
            let it: GetShardIteratorOutput = call(
                streams,
                "GetShardIterator",
                "DynamoDBStreams_20120810.GetShardIterator",
                &GetShardIteratorInput {
                    stream_arn: arn,
                    shard_id: &shard.shard_id,
                    shard_iterator_type: from,
                },
            )
            .await?;
            match it.shard_iterator {
                Some(iterator) => {
                    self.open.insert(
                        shard.shard_id,
                        ShardCursor {
                            iterator,
                            next_poll: Instant::now(),
                            transient: 0,
                        },
                    );
                }
                None => {
                    self.done.insert(shard.shard_id);
                }
            }
        }
        Ok(())
    }
}

/// Whether an engine's error says it does not know `ShardFilter`.
fn filter_unsupported(e: &FollowError) -> bool {
    matches!(
        e.kind(),
        Some("ValidationException" | "SerializationException" | "UnknownOperationException")
    )
}

/// Read the stream until an error (never returns otherwise).
async fn follow_stream(
    stream: &Stream,
    failures: &mut u32,
    on_start: &mut Option<oneshot::Sender<()>>,
) -> Result<std::convert::Infallible, FollowError> {
    let Stream {
        streams,
        table,
        arn,
        targets,
        metrics,
        ..
    } = stream;
    let (table, arn) = (table.as_str(), arn.as_str());
    let mut reading = Reading {
        open: BTreeMap::new(),
        done: BTreeSet::new(),
        started: false,
    };
    let mut describe_at = Instant::now();
    // Shards that closed, whose children are still to be found.
    let mut parents: Vec<String> = Vec::new();
    // Whether the engine answers DescribeStream's ShardFilter.
    let mut filter_works = true;
    loop {
        if filter_works && !parents.is_empty() && Instant::now() < describe_at {
            // Only the children of the shards that closed (DynamoDB's way
            // of following a shard into its successors).
            for parent in std::mem::take(&mut parents) {
                match shards(streams, arn, Some(&parent)).await {
                    Ok(children) if children.is_empty() => {
                        // Not created yet: look again soon.
                        describe_at =
                            describe_at.min(Instant::now() + EMPTY_STREAM_DESCRIBE_INTERVAL);
                    }
                    Ok(children) => reading.add(streams, arn, children).await?,
                    Err(e) if filter_unsupported(&e) => {
                        filter_works = false;
                        describe_at = Instant::now();
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        if Instant::now() >= describe_at {
            parents.clear();
            let found = shards(streams, arn, None).await?;
            reading.add(streams, arn, found).await?;
            if !reading.started {
                // Entries cached before the iterators existed may predate
                // changes no iterator will show.
                targets.drop_table(table);
                reading.started = true;
                metrics.resumed(table);
                if let Some(tx) = on_start.take() {
                    let _ = tx.send(());
                }
                tracing::info!(
                    table,
                    shards = reading.open.len(),
                    "following the table's stream"
                );
            }
            // A stream without an open shard (an engine that opens its
            // first shard with the first record, or children not created
            // yet) is looked at again soon; otherwise now and then, to
            // catch shards the engine opened without closing one.
            describe_at = Instant::now()
                + if reading.open.is_empty() {
                    EMPTY_STREAM_DESCRIBE_INTERVAL
                } else {
                    DESCRIBE_INTERVAL
                };
        }
        let mut closed_now = Vec::new();
        for (id, cursor) in reading.open.iter_mut() {
            if cursor.next_poll > Instant::now() {
                continue;
            }
            let called = Instant::now();
            let page: GetRecordsOutput = match call(
                streams,
                "GetRecords",
                "DynamoDBStreams_20120810.GetRecords",
                &GetRecordsInput {
                    shard_iterator: &cursor.iterator,
                    limit: RECORDS_LIMIT,
                },
            )
            .await
            {
                Ok(page) => page,
                Err(e) if e.is_transient() && cursor.transient < TRANSIENT_RETRIES => {
                    cursor.transient += 1;
                    if cursor.transient == 1 {
                        tracing::warn!(table, shard = %id, error = %e, "GetRecords failed; retrying");
                    }
                    cursor.next_poll =
                        Instant::now() + POLL_INTERVAL.saturating_mul(1 << cursor.transient);
                    continue;
                }
                Err(e) => return Err(e),
            };
            cursor.transient = 0;
            *failures = 0;
            let full = page.records.len() >= RECORDS_LIMIT;
            for record in &page.records {
                let Some(r) = &record.dynamodb else { continue };
                match &r.keys {
                    Some(keys) => {
                        targets.change(table, keys, r.old_image.as_ref(), r.new_image.as_ref())
                    }
                    // A record without keys cannot be placed: be safe.
                    None => targets.drop_table(table),
                }
                if let Some(Timestamp::Seconds(s)) = r.approximate_creation_date_time {
                    if s.is_finite() && s > 0.0 {
                        metrics.observe_lag((s * 1000.0) as u64);
                    }
                }
            }
            metrics.changes.inc_by(page.records.len() as u64);
            match page.next_shard_iterator {
                Some(next) => {
                    cursor.iterator = next;
                    // A full page: more is waiting, read it as soon as the
                    // per-shard rate allows; otherwise poll when idle.
                    let wait = if full {
                        MIN_SHARD_CALL_SPACING
                    } else {
                        POLL_INTERVAL
                    };
                    cursor.next_poll = called + wait.max(MIN_SHARD_CALL_SPACING);
                }
                None => closed_now.push(id.clone()),
            }
        }
        if !closed_now.is_empty() {
            for id in closed_now {
                reading.open.remove(&id);
                reading.done.insert(id.clone());
                parents.push(id);
            }
            if !filter_works {
                // A closed shard's children carry on from where it ended.
                describe_at = Instant::now();
            }
        }
        let wake = reading
            .open
            .values()
            .map(|c| c.next_poll)
            .min()
            .unwrap_or(describe_at)
            .min(describe_at);
        if parents.is_empty() {
            tokio::time::sleep_until(wake).await;
        }
    }
}
