//! The change feed's wire model (Ferrodyn's extension operation
//! `FerrodynFeed_20261124.GetChanges`, described in `ops::feed`): served by
//! the store, read by proxies, so both directions use these types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::engine::commits::{Commits, OriginRun};
use crate::model::stored::EncodedItem;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetChangesInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// What a change did to its item, as DynamoDB Streams names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventName {
    Insert,
    Modify,
    Remove,
}

/// One committed change. Its items stay in the stored encoding from the
/// change log to the consumer (written as DynamoDB JSON for a remote one).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Change {
    pub sequence_number: u64,
    pub table_name: String,
    pub event_name: EventName,
    pub keys: EncodedItem,
    /// Commit time, milliseconds since the Unix epoch (absent from stores
    /// that predate it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at_ms: Option<u64>,
    /// The item before the change (none for an insert, or from stores that
    /// predate images in the feed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_image: Option<EncodedItem>,
    /// The item after the change (none for a removal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_image: Option<EncodedItem>,
    /// The origin an in-process cache gave the write
    /// (`BackendRequest::origin`). In-process only: never on the wire,
    /// where any client could claim one.
    #[serde(skip)]
    pub origin: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetChangesOutput {
    #[serde(default)]
    pub changes: Vec<Change>,
    pub next_cursor: u64,
    /// Every table, by name, with its id (a new id: re-created).
    #[serde(default)]
    pub tables: BTreeMap<String, u32>,
    /// Tables whose records at or after the cursor were trimmed unread.
    #[serde(default)]
    pub lost_tables: Vec<String>,
    /// The data directory's identity (absent from stores that predate it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
}
