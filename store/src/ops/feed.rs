//! Ferrodyn's change-feed extension: `FerrodynFeed_20240101.GetChanges`, a
//! long-poll over the whole change log, for caches that must invalidate on
//! every write (the proxy's coherence feed).
//!
//! Unlike the Streams API it needs no stream to be enabled, covers every
//! table, and returns keys only (a cache invalidates by key). A caller
//! passes the last sequence number it has seen and gets the records after
//! it in commit order; with `WaitTimeMillis` the call waits until there is
//! at least one or the time is up. Resuming from `LastSequenceNumber` never
//! skips or repeats a record, unless it has been trimmed (records older than
//! the retention) — then the answer says `Trimmed: true` and the caller must
//! drop what it cached.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::Store;
use crate::api::control_types::GetChangesInput;
use crate::api::validate::Violations;
use crate::api::{encode, ApiError, ApiResult};
use crate::engine::changelog::{ChangeKind, ChangeRecord};

const MAX_LIMIT: i64 = 1000;
const DEFAULT_LIMIT: i64 = 100;
const MAX_WAIT_MS: i64 = 20_000;

impl Store {
    pub(super) async fn get_changes(&self, input: GetChangesInput) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        if let Some(l) = input.limit {
            if !(1..=MAX_LIMIT).contains(&l) {
                v.push(
                    &format!("'{l}'"),
                    "limit",
                    &format!("Member must have value between 1 and {MAX_LIMIT}"),
                );
            }
        }
        if let Some(w) = input.wait_time_millis {
            if !(0..=MAX_WAIT_MS).contains(&w) {
                v.push(
                    &format!("'{w}'"),
                    "waitTimeMillis",
                    &format!("Member must have value between 0 and {MAX_WAIT_MS}"),
                );
            }
        }
        v.finish()?;
        let after = match &input.after_sequence_number {
            None => 0,
            Some(s) => s
                .parse::<u64>()
                .ok()
                .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| ApiError::validation(format!("Invalid SequenceNumber: {s}")))?,
        };
        let limit = input.limit.unwrap_or(DEFAULT_LIMIT) as usize;
        let wait = Duration::from_millis(input.wait_time_millis.unwrap_or(0) as u64);
        let deadline = tokio::time::Instant::now() + wait;
        let mut commits = self.engine.commits();
        loop {
            commits.borrow_and_update();
            let (changes, last, trimmed) = self.changes_after(after, limit)?;
            let done = !changes.is_empty() || tokio::time::Instant::now() >= deadline;
            if done {
                return encode(&json!({
                    "Changes": changes,
                    "LastSequenceNumber": sequence(last),
                    "Trimmed": trimmed,
                }));
            }
            // Woken by the next commit, or give up at the deadline.
            let _ = tokio::time::timeout_at(deadline, commits.changed()).await;
        }
    }

    /// Up to `limit` records after `after`, across all tables, in sequence
    /// order; the sequence number to resume after; whether records after
    /// `after` were trimmed.
    fn changes_after(&self, after: u64, limit: usize) -> ApiResult<(Vec<Value>, u64, bool)> {
        let mut names = HashMap::new();
        for name in self.engine.table_names() {
            if let Some(t) = self.engine.table(&name) {
                names.insert(t.id, name);
            }
        }
        let (mut records, next, trimmed) = self.engine.read(|r| {
            let c = r.changes();
            let mut all: Vec<ChangeRecord> = Vec::new();
            let mut trimmed = false;
            for id in names.keys() {
                trimmed |= c.trimmed_through(*id)? > after;
                all.extend(c.read(*id, after + 1, None, limit)?);
            }
            Ok((all, c.next_seq()?, trimmed))
        })?;
        records.sort_by_key(|r| r.seq);
        // Every table contributed its first `limit` records, so the first
        // `limit` of the merge are exactly the next `limit` records overall.
        records.truncate(limit);
        let last = match records.last() {
            Some(r) if records.len() == limit => r.seq,
            _ => next.saturating_sub(1).max(after),
        };
        let changes = records
            .iter()
            .map(|r| {
                json!({
                    "SequenceNumber": sequence(r.seq),
                    "TableName": names.get(&r.table_id),
                    "EventName": match r.kind {
                        ChangeKind::Insert => "INSERT",
                        ChangeKind::Modify => "MODIFY",
                        ChangeKind::Remove => "REMOVE",
                    },
                    "Keys": r.keys,
                    "ApproximateCreationDateTime": r.time_ms / 1000,
                    "ByService": r.by_service,
                })
            })
            .collect();
        Ok((changes, last, trimmed))
    }
}

fn sequence(seq: u64) -> String {
    format!("{seq:021}")
}
