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
    Cursor { cursor: u64, wait: Duration },
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
        let pause = FeedPause::of(op, body)?;
        let wait = match &pause.0 {
            Position::Cursor { wait, .. } => *wait,
            Position::Iterator(_) => Duration::ZERO,
        };
        if !self.hold_feed(op, wait).await {
            return None;
        }
        let body = match &pause.0 {
            Position::Cursor { cursor, .. } => Bytes::from(
                serde_json::to_vec(&GetChangesInput {
                    cursor: Some(*cursor),
                    wait_ms: Some(0),
                    limit: Some(1),
                })
                .ok()?,
            ),
            Position::Iterator(_) => body.clone(),
        };
        Some((pause, body))
    }
}

impl FeedPause {
    /// The position a feed request `body` of `op` reads from (none for
    /// other operations, and for GetChanges' first, cursor-less request,
    /// which only asks where the log ends).
    pub fn of(op: Operation, body: &[u8]) -> Option<FeedPause> {
        let position = match op {
            Operation::GetChanges => {
                let input: GetChangesInput = serde_json::from_slice(body).ok()?;
                Position::Cursor {
                    cursor: input.cursor?,
                    wait: Duration::from_millis(input.wait_ms.unwrap_or(0)).min(MAX_HOLD),
                }
            }
            Operation::GetRecords => {
                let input: RecordsRequest = serde_json::from_slice(body).ok()?;
                Position::Iterator(input.shard_iterator?)
            }
            _ => return None,
        };
        Some(FeedPause(position))
    }

    /// The answer to send instead of the store's successful `body`.
    pub fn answer(&self, body: &[u8]) -> Option<Vec<u8>> {
        match &self.0 {
            Position::Cursor { cursor, .. } => {
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
