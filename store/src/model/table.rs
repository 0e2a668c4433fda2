//! `TableMeta`: everything the store knows about a table, as persisted in the
//! catalog (JSON with a `format` field; see docs/storage-format.md).

use serde::{Deserialize, Serialize};

use super::key::{KeySchema, ScalarType};
use super::value::{item_size, Item};

/// Catalog format version written by this build.
pub const TABLE_META_FORMAT: u8 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Billing {
    PayPerRequest,
    Provisioned { read: u64, write: u64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectionMeta {
    /// ALL, KEYS_ONLY or INCLUDE.
    pub projection_type: String,
    pub non_key_attributes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexMeta {
    pub name: String,
    /// Key space of the index's entries (unique across all tables and indexes).
    pub id: u32,
    pub key: KeySchema,
    pub projection: ProjectionMeta,
    /// GSIs only: their own throughput when the table is provisioned.
    pub provisioned: Option<(u64, u64)>,
    /// GSIs added by UpdateTable: present while the existing items are being
    /// copied into the index (the index is CREATING); absent once ACTIVE.
    #[serde(default)]
    pub backfill: Option<Backfill>,
    /// GSIs only: contributor insights, once enabled (kept when disabled,
    /// for the time of the change).
    #[serde(default)]
    pub contributor_insights: Option<InsightsMeta>,
    /// GSIs of on-demand tables: their maximum throughput.
    #[serde(default)]
    pub on_demand: OnDemandMeta,
    /// GSIs: the warm throughput asked for, if any.
    #[serde(default)]
    pub warm: Option<WarmMeta>,
}

impl IndexMeta {
    /// Bytes an entry of this (local) index holds for `item` of a table
    /// keyed by `table_key`: the item projected onto the index.
    pub fn entry_size(&self, table_key: &KeySchema, item: &Item) -> usize {
        if self.projection.projection_type == "ALL" {
            return item_size(item);
        }
        let keep = |name: &str| {
            table_key.is_key_attribute(name)
                || self.key.is_key_attribute(name)
                || self.projection.non_key_attributes.iter().any(|n| n == name)
        };
        let projected: Item = item
            .iter()
            .filter(|(name, _)| keep(name))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        item_size(&projected)
    }
}

/// `OnDemandThroughput`: request units per second at most (`None`: no
/// maximum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OnDemandMeta {
    pub max_read: Option<u64>,
    pub max_write: Option<u64>,
}

/// `WarmThroughput` as set by CreateTable or UpdateTable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WarmMeta {
    pub read: u64,
    pub write: u64,
}

/// When a provisioned throughput last changed, for DescribeTable and for
/// DynamoDB's daily limit on decreases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ThroughputChanges {
    pub last_increase_ms: Option<u64>,
    pub last_decrease_ms: Option<u64>,
    /// Decreases during the UTC day of `last_decrease_ms`.
    pub decreases_that_day: u32,
}

/// Which events contributor insights count. Persisted by these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InsightsMode {
    AccessedAndThrottledKeys,
    ThrottledKeys,
}

/// Contributor insights of a table or GSI, as UpdateContributorInsights
/// last left them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InsightsMeta {
    pub enabled: bool,
    pub mode: InsightsMode,
    /// Time of the last change (LastUpdateDateTime), ms since the epoch.
    pub updated_ms: u64,
    /// When the current rules were created (their names carry it).
    pub rules_created_ms: u64,
}

/// Progress of a GSI backfill, persisted with the table so that a restarted
/// store resumes where it stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Backfill {
    /// Storage key of the last base-table item already indexed; `None`
    /// before the first chunk.
    #[serde(default)]
    pub resume_after: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamMeta {
    pub enabled: bool,
    pub view_type: String,
    /// Label (a timestamp) of the latest stream; a new one each time a stream is enabled.
    pub label: String,
    /// First change-log sequence number that belongs to this stream.
    #[serde(default)]
    pub start_seq: u64,
    /// Set when the stream is disabled: the first sequence number that does
    /// not belong to it (its shard is closed there).
    #[serde(default)]
    pub end_seq: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SseMeta {
    pub enabled: bool,
    pub sse_type: Option<String>,
    pub kms_master_key_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableMeta {
    pub format: u8,
    /// Key space of the table's items; never reused, so a re-created table
    /// cannot see a deleted table's data.
    pub id: u32,
    pub name: String,
    /// Random-looking stable identifier shown as `TableId`.
    pub uuid: String,
    pub key: KeySchema,
    pub attribute_definitions: Vec<(String, ScalarType)>,
    pub billing: Billing,
    pub local_indexes: Vec<IndexMeta>,
    pub global_indexes: Vec<IndexMeta>,
    pub stream: Option<StreamMeta>,
    pub tags: Vec<(String, String)>,
    pub sse: Option<SseMeta>,
    pub table_class: Option<String>,
    pub deletion_protection: bool,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Time of the last change of billing mode (for BillingModeSummary).
    pub billing_changed_ms: u64,
    /// The Time to Live attribute, when TTL is enabled.
    #[serde(default)]
    pub ttl_attribute: Option<String>,
    /// Streams replaced by re-enabling, oldest first; each is closed and
    /// stays readable until its records are trimmed.
    #[serde(default)]
    pub previous_streams: Vec<StreamMeta>,
    /// On-demand tables: their maximum throughput.
    #[serde(default)]
    pub on_demand: OnDemandMeta,
    /// The warm throughput asked for, if any.
    #[serde(default)]
    pub warm: Option<WarmMeta>,
    /// Provisioned throughput changes.
    #[serde(default)]
    pub throughput_changes: ThroughputChanges,
    /// ARN of the import that is filling the table: while set the table is
    /// CREATING (not readable or writable); cleared when the import
    /// completes, and the table is deleted if it fails.
    #[serde(default)]
    pub importing: Option<String>,
    /// Contributor insights of the table itself, once enabled.
    #[serde(default)]
    pub contributor_insights: Option<InsightsMeta>,
    /// Point-in-time recovery, when enabled.
    #[serde(default)]
    pub pitr: Option<PitrMeta>,
    /// Set on a table made by a restore: where it came from and, while it
    /// is being built (CREATING), what is left to load.
    #[serde(default)]
    pub restore: Option<RestoreMeta>,
}

/// Point-in-time recovery settings of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PitrMeta {
    /// The change log holds every change of the table since this time
    /// (milliseconds since the Unix epoch): when recovery was enabled, or
    /// the start of the window when its length last changed.
    pub complete_since_ms: u64,
    /// Length of the recovery window (1 to 35 days).
    pub period_days: u32,
}

impl PitrMeta {
    /// Milliseconds in the recovery window.
    pub fn period_ms(&self) -> u64 {
        u64::from(self.period_days) * 86_400_000
    }

    /// The earliest restorable time (ms) at `now_ms`.
    pub fn earliest_ms(&self, now_ms: u64) -> u64 {
        self.complete_since_ms
            .max(now_ms.saturating_sub(self.period_ms()))
    }
}

/// Where a restored table's items come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RestoreSource {
    /// An on-demand backup (its ARN).
    Backup { arn: String },
    /// Another table as of a point in time: the table's key-space id guards
    /// against a table deleted and re-created under the same name.
    PointInTime {
        table_name: String,
        table_id: u32,
        time_ms: u64,
    },
}

/// A restored table: its source, and while CREATING its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreMeta {
    pub source: RestoreSource,
    /// The moment restored (the backup's creation or the point in time).
    pub restore_ms: u64,
    /// Whether the table is still being built (its status is CREATING).
    pub in_progress: bool,
    /// The snapshot file being loaded, once it exists (a point-in-time
    /// restore writes one first).
    #[serde(default)]
    pub snapshot: Option<std::path::PathBuf>,
    /// Byte offset in the snapshot of the first record not yet loaded.
    #[serde(default)]
    pub resume_offset: u64,
}

impl TableMeta {
    /// Whether a restore is still building the table (status CREATING).
    pub fn is_restoring(&self) -> bool {
        self.restore.as_ref().is_some_and(|r| r.in_progress)
    }

    /// Whether the table is CREATING: being built by a restore or filled
    /// by an import. Such a table is not readable or writable yet.
    pub fn is_creating(&self) -> bool {
        self.is_restoring() || self.importing.is_some()
    }
}

impl TableMeta {
    /// `arn:aws:dynamodb:<region>:<account>:table/<name>`.
    pub fn arn(&self) -> String {
        table_arn(&self.name)
    }
}

/// Region reported in ARNs and stream records.
pub const REGION: &str = "us-east-1";
/// Account reported in ARNs.
pub const ACCOUNT: &str = "000000000000";

pub fn table_arn(name: &str) -> String {
    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A catalog entry as written before TTL and change-log stream bounds
    /// existed must still load, with those members defaulted.
    #[test]
    fn catalog_entry_without_ttl_or_stream_bounds_loads() {
        let old = r#"{"format":1,"id":3,"name":"t","uuid":"u",
            "key":{"partition":{"name":"p","scalar":"S"},"sort":null},
            "attribute_definitions":[["p","S"]],"billing":"PayPerRequest",
            "local_indexes":[],"global_indexes":[],
            "stream":{"enabled":true,"view_type":"KEYS_ONLY","label":"2024-01-01T00:00:00.000"},
            "tags":[],"sse":null,"table_class":null,"deletion_protection":false,
            "created_ms":1,"billing_changed_ms":1}"#;
        let meta: TableMeta = serde_json::from_str(old).expect("old catalog entry");
        assert_eq!(meta.ttl_attribute, None);
        assert!(meta.previous_streams.is_empty());
        assert_eq!((meta.pitr.clone(), meta.restore.clone()), (None, None));
        assert!(!meta.is_restoring());

        assert_eq!(meta.on_demand, OnDemandMeta::default());
        assert_eq!(meta.warm, None);
        assert_eq!(meta.throughput_changes, ThroughputChanges::default());
        assert_eq!(meta.contributor_insights, None);
        let stream = meta.stream.expect("stream");
        assert_eq!((stream.start_seq, stream.end_seq), (0, None));
    }
}
