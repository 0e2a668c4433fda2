//! Export to and import from S3-compatible storage, in DynamoDB's layout.
//!
//! Owns where "S3" is ([`location`]: an S3-compatible endpoint through the
//! `object_store` crate, or folders standing in for buckets), the records of
//! export and import jobs ([`jobs`], kept as files in the data directory so
//! they outlive restarts), and the jobs themselves ([`export`], [`import`]),
//! which run on blocking threads in the background, and the shapes of their
//! files' lines (`lines`: DynamoDB JSON and CSV; `ion`: Amazon Ion). The
//! wire operations that start and describe them are `ops::transfer`.
//!
//! Invariants:
//! * Memory is bounded whatever the table or file size: exports stream the
//!   table from one LMDB read transaction into multipart uploads of a few
//!   MiB at a time; imports stream objects, decompress and parse them line
//!   by line and write items in batches.
//! * Nothing half-done looks finished: an export's manifests are written
//!   after its data files, and it is COMPLETED only then; an imported table
//!   is CREATING (not usable) until its import completes and is deleted if
//!   the import fails. A job found IN_PROGRESS when the store opens was cut
//!   short by a stop: it is marked FAILED and its table, for an import,
//!   deleted.

pub mod cli;
pub mod export;
pub mod import;
mod ion;
pub mod jobs;
mod lines;
pub mod location;
mod stream;

use crate::calendar::DateTime;

pub use jobs::Jobs;
pub use location::{Locations, TransferArgs, TransferConfig};

/// Failures of a running export or import job (reported in its description,
/// never to a request).
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
    #[error("storage engine: {0}")]
    Engine(#[from] crate::engine::EngineError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("the bucket {0} does not exist")]
    NoSuchBucket(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the table was deleted while the job ran")]
    TableGone,
}

/// A random id in DynamoDB's style for exports and imports:
/// `<milliseconds, 14 digits>-<8 hex digits>`.
pub fn job_id(now_ms: u64) -> String {
    let random = uuid::Uuid::new_v4();
    let b = random.as_bytes();
    format!(
        "{now_ms:014}-{:02x}{:02x}{:02x}{:02x}",
        b[0], b[1], b[2], b[3]
    )
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// ISO 8601 UTC with milliseconds, as the manifests write times.
pub(crate) fn iso_time(ms: u64) -> String {
    let t = DateTime::from_unix_ms(ms);
    format!("{}.{:03}Z", t.iso_seconds(), t.millis)
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_times_match_known_instants() {
        assert_eq!(super::iso_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::iso_time(1_604_474_914_028),
            "2020-11-04T07:28:34.028Z"
        );
    }

    #[test]
    fn job_ids_have_dynamodb_shape() {
        let id = super::job_id(1_658_528_578_619);
        assert!(id.starts_with("01658528578619-"));
        assert_eq!(id.len(), 23);
    }
}
