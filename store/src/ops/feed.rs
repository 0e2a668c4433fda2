//! The change feed: Ferrodyn's own extension operation
//! (`X-Amz-Target: FerrodynFeed_20261124.GetChanges`) through which a remote
//! proxy follows every committed change, across all tables, with one
//! long-polling request at a time instead of busy polling.
//!
//! Request: `{"Cursor": n, "WaitMs": ms, "Limit": n}` — all optional. Without
//! a cursor the answer is empty and carries the current end of the log (a
//! consumer's starting point). With one, the answer holds the changes with
//! sequence numbers `>= Cursor`, waiting up to `WaitMs` (at most 20 000) for
//! the first one. Response: `{"Changes": [{"SequenceNumber", "TableName",
//! "EventName", "Keys", "CreatedAtMs", "OldImage", "NewImage"}],
//! "NextCursor": n, "Tables": {name: id}, "LostTables": [name], "StoreId": uuid}`.
//! `CreatedAtMs` is the change's commit time (milliseconds since the Unix
//! epoch), for consumers to measure their lag; consumers must tolerate its
//! absence (it was added later). `OldImage` and `NewImage` are the item
//! before and after the change (absent for an insert's old and a removal's
//! new image), whatever the table's StreamViewType: a consumer needs both to
//! find every secondary-index partition the change touched. Because images
//! can be large, an answer also stops once its items reach about 4 MB (it
//! always holds at least one change); `NextCursor` then names the first
//! change left out. `LostTables` names tables whose records at or
//! after the cursor were trimmed before being read: a consumer must drop
//! everything it derived from them. `Tables` lets it notice tables deleted
//! or re-created (a new id) without a change record. `StoreId` is the data
//! directory's identity: cursors mean something only with it, so a consumer
//! that sees it change (the store was replaced or restored) must drop
//! everything and start again from a cursor-less request.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Store;
use crate::api::feed::{Change, Commits, EventName, GetChangesInput, GetChangesOutput};
use crate::api::{ApiError, ApiResult};
use crate::engine::changelog::ChangeKind;

const MAX_WAIT_MS: u64 = 20_000;
const MAX_LIMIT: usize = 10_000;
/// Item bytes (keys and images, as stored) after which an answer stops
/// early.
const MAX_ANSWER_BYTES: usize = 4 << 20;

impl Store {
    /// The in-process subscription to the change log: it changes after
    /// every durable commit, and tells a reader whose own writes the newest
    /// records all are ([`Commits::past_echoes`]).
    pub fn commits(&self) -> tokio::sync::watch::Receiver<Commits> {
        self.engine.subscribe()
    }

    /// Returns once every write handed to the store before the call is
    /// committed (durably) or refused, including writes whose callers
    /// stopped waiting for them: a write job, once submitted, runs to its
    /// end, and jobs run in the order they were submitted. An in-process
    /// cache whose own writes' changes it passes over
    /// ([`Commits::past_echoes`]) calls this when one of them is abandoned
    /// (its client went away), to learn when that write can no longer
    /// change anything.
    pub async fn writes_settled(&self) {
        // An empty job: queued behind every job submitted so far, answered
        // after the commit of the batch that holds it. Its only error is a
        // writer that is gone, which settles nothing further either.
        let _ = self
            .engine
            .write(|_| Ok::<(), crate::engine::Abort<()>>(()))
            .await;
    }

    /// One answer of the change feed (see the module doc); the remote
    /// operation encodes it, an embedded proxy calls it in-process.
    pub async fn changes(&self, input: GetChangesInput) -> ApiResult<GetChangesOutput> {
        let limit = input.limit.unwrap_or(1000);
        if limit == 0 || limit > MAX_LIMIT as u64 {
            return Err(ApiError::validation(format!(
                "Limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        let wait = Duration::from_millis(input.wait_ms.unwrap_or(0).min(MAX_WAIT_MS));
        let deadline = tokio::time::Instant::now() + wait;
        // Subscribe before reading, so a commit between the read and the wait
        // still wakes us.
        let mut commits = self.engine.subscribe();
        let mut first_tables: Option<BTreeMap<String, u32>> = None;
        loop {
            commits.borrow_and_update();
            let tables = self.engine.tables();
            let ids: Vec<u32> = tables.iter().map(|t| t.id).collect();
            let (records, next, lost, foreign) = self.engine.read(|view| {
                let changes = view.changes();
                let Some(from) = input.cursor else {
                    return Ok((Vec::new(), changes.next_seq()?, Vec::new(), false));
                };
                let mut lost = Vec::new();
                for t in &tables {
                    let trimmed = changes.trimmed_through(t.id)?;
                    if trimmed > 0 && trimmed >= from {
                        lost.push(t.name.clone());
                    }
                }
                let (records, next, _) =
                    changes.read_since(&ids, from, limit as usize, MAX_ANSWER_BYTES)?;
                // A cursor beyond the end of this log was not handed out by
                // it (the store was replaced or restored): answer at once,
                // so the consumer sees the StoreId without waiting.
                let foreign = from > changes.next_seq()?;
                Ok((records, next, lost, foreign))
            })?;
            // A table created, deleted or re-created leaves no change record
            // but matters to the consumer: answer at once.
            let table_set: BTreeMap<String, u32> =
                tables.iter().map(|t| (t.name.clone(), t.id)).collect();
            let tables_changed =
                first_tables.get_or_insert_with(|| table_set.clone()) != &table_set;
            let done = !records.is_empty()
                || !lost.is_empty()
                || input.cursor.is_none()
                || tables_changed
                || foreign;
            if done || tokio::time::Instant::now() >= deadline {
                let names: BTreeMap<u32, &str> =
                    tables.iter().map(|t| (t.id, t.name.as_str())).collect();
                // Images make records large: an answer stops after about
                // MAX_ANSWER_BYTES (always holding at least one record) and
                // its NextCursor is the first record left out.
                let mut next = next;
                let mut bytes = 0usize;
                let mut changes = Vec::with_capacity(records.len());
                for r in records {
                    let size = [Some(&r.keys), r.old.as_ref(), r.new.as_ref()]
                        .into_iter()
                        .flatten()
                        .map(|i| i.as_bytes().len())
                        .sum::<usize>();
                    if !changes.is_empty() && bytes + size > MAX_ANSWER_BYTES {
                        next = r.seq;
                        break;
                    }
                    bytes += size;
                    let Some(table) = names.get(&r.table_id) else {
                        continue;
                    };
                    changes.push(Change {
                        sequence_number: r.seq,
                        table_name: (*table).to_owned(),
                        event_name: match r.kind {
                            ChangeKind::Insert => EventName::Insert,
                            ChangeKind::Modify => EventName::Modify,
                            ChangeKind::Remove => EventName::Remove,
                        },
                        keys: r.keys,
                        created_at_ms: Some(r.time_ms),
                        old_image: r.old,
                        new_image: r.new,
                        origin: r.origin,
                    });
                }
                return Ok(GetChangesOutput {
                    changes,
                    next_cursor: next,
                    tables: table_set,
                    lost_tables: lost,
                    store_id: Some(self.engine.data_id().to_string()),
                });
            }
            // Nothing yet: wait for the next commit or the deadline.
            match tokio::time::timeout_at(deadline, commits.changed()).await {
                Ok(Ok(())) | Err(_) => {} // a commit, or the deadline: look again
                // The engine is shutting down: no commit will come.
                Ok(Err(_)) => tokio::time::sleep_until(deadline).await,
            }
        }
    }
}
