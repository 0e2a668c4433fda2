//! The feed pause: while a `PauseFeed` fault lasts, GetChanges and
//! GetRecords answer as if nothing new had been committed — no records, and
//! the position the client sent, so it reads them once the pause ends.
//!
//! The store still answers the request (so a bad cursor or iterator gets
//! its usual error); only a successful answer is emptied.

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::Faults;
use crate::api::feed::{GetChangesInput, GetChangesOutput};
use crate::api::Operation;

/// The longest a paused GetChanges is held (its own `WaitMs` permitting).
const MAX_HOLD: Duration = Duration::from_secs(20);

/// How to answer one feed request during a pause.
#[derive(Debug)]
pub struct FeedPause(Position);

#[derive(Debug)]
enum Position {
    Cursor(u64),
    Iterator(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RecordsRequest {
    shard_iterator: Option<String>,
}

/// GetRecords' answer while paused.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PausedRecords<'a> {
    records: [(); 0],
    next_shard_iterator: &'a str,
}

impl Faults {
    /// For a GetChanges or GetRecords request while the feed is paused:
    /// wait for the pause to end (GetChanges: at most its `WaitMs`); if it
    /// has not, how to answer, and the request to send the store instead.
    pub async fn pause_feed(&self, op: Operation, body: &Bytes) -> Option<(FeedPause, Bytes)> {
        match op {
            Operation::GetChanges => {
                let input: GetChangesInput = serde_json::from_slice(body).ok()?;
                // The first, cursor-less request only asks where the log ends.
                let cursor = input.cursor?;
                let wait = Duration::from_millis(input.wait_ms.unwrap_or(0)).min(MAX_HOLD);
                if !self.hold_feed(op, wait).await {
                    return None;
                }
                let now = GetChangesInput {
                    cursor: Some(cursor),
                    wait_ms: Some(0),
                    limit: Some(1),
                };
                let body = serde_json::to_vec(&now).ok()?;
                Some((FeedPause(Position::Cursor(cursor)), Bytes::from(body)))
            }
            Operation::GetRecords => {
                let input: RecordsRequest = serde_json::from_slice(body).ok()?;
                let iterator = input.shard_iterator?;
                if !self.hold_feed(op, Duration::ZERO).await {
                    return None;
                }
                Some((FeedPause(Position::Iterator(iterator)), body.clone()))
            }
            _ => None,
        }
    }
}

impl FeedPause {
    /// The answer to send instead of the store's successful `body`.
    pub fn answer(&self, body: &[u8]) -> Option<Vec<u8>> {
        match &self.0 {
            Position::Cursor(cursor) => {
                let mut output: GetChangesOutput = serde_json::from_slice(body).ok()?;
                withhold(&mut output, *cursor);
                serde_json::to_vec(&output).ok()
            }
            Position::Iterator(iterator) => serde_json::to_vec(&PausedRecords {
                records: [],
                next_shard_iterator: iterator,
            })
            .ok(),
        }
    }
}

/// Empty a GetChanges answer for a paused feed: nothing new, and the same
/// cursor again (the tables it lists stay current).
pub fn withhold(output: &mut GetChangesOutput, cursor: u64) {
    output.changes.clear();
    output.lost_tables.clear();
    output.next_cursor = cursor;
}
