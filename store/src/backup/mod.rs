//! On-demand backups on disk: the backup directory and its records.
//!
//! Owns `--backup-dir` (default `<data-dir>/backups`). Each backup is two
//! files named by the backup's id (`<millis>-<8 hex>`, the ARN's tail):
//! `<id>.json`, its record (what DescribeBackup reports, the source table's
//! definition, the snapshot's checksum), and `<id>.snap`, the items (see
//! [`snapshot`]). It does not read tables or restore them (that is
//! `ops::backup` and `ops::restore`).
//!
//! Invariants:
//! * A record is written (atomically: temporary file, sync, rename) as
//!   CREATING before its snapshot is written, and again as AVAILABLE only
//!   after the snapshot is complete and synced. A backup found CREATING
//!   when the directory is opened was cut short by a crash: its files are
//!   removed, so nothing half-done is ever AVAILABLE.
//! * Backups are independent of the tables: deleting a table keeps them.

pub mod cli;
pub mod snapshot;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::model::table::TableMeta;

/// Version of a backup record. Never reuse a value.
pub const RECORD_FORMAT: u8 = 1;

/// Stored as text in the record: never rename a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackupState {
    Creating,
    Available,
}

/// Everything kept about one backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupRecord {
    pub format: u8,
    pub id: String,
    pub arn: String,
    pub name: String,
    pub state: BackupState,
    pub created_ms: u64,
    /// The source table's definition at the moment of the backup.
    pub table: TableMeta,
    /// Items and bytes of the table when the backup was taken.
    pub item_count: u64,
    pub table_size_bytes: u64,
    /// The snapshot file's size and checksum, once AVAILABLE.
    pub size_bytes: Option<u64>,
    pub checksum: Option<u32>,
}

/// Failures of the backup directory (internal faults for clients).
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("I/O error on {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("backup record {path} is corrupt")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Snapshot(#[from] snapshot::SnapshotError),
}

/// The backup directory and its records, in memory and on disk.
#[derive(Debug)]
pub struct Backups {
    dir: PathBuf,
    /// By ARN: ordered by table name, then creation time (the id starts
    /// with the time), which is ListBackups' order.
    records: Mutex<BTreeMap<String, BackupRecord>>,
}

impl Backups {
    /// Open (creating if needed) `dir`, dropping backups cut short by a crash.
    pub fn open(dir: &Path) -> Result<Backups, BackupError> {
        let ioe = |path: &Path| {
            let path = path.to_owned();
            move |source| BackupError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(ioe(dir))?;
        let mut records = BTreeMap::new();
        let mut removed = false;
        for entry in std::fs::read_dir(dir).map_err(ioe(dir))? {
            let path = entry.map_err(ioe(dir))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".tmp") {
                let _ = std::fs::remove_file(&path);
                removed = true;
                continue;
            }
            if !name.ends_with(".json") {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(ioe(&path))?;
            // One unreadable record must not keep the store from starting:
            // it is left in place (for the operator) and not listed.
            let record: BackupRecord = match serde_json::from_slice(&bytes) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "skipping an unreadable backup record");
                    continue;
                }
            };
            if record.state == BackupState::Creating {
                tracing::warn!(backup = %record.arn, "removing a backup cut short by a restart");
                let _ = std::fs::remove_file(dir.join(format!("{}.snap", record.id)));
                let _ = std::fs::remove_file(&path);
                removed = true;
                continue;
            }
            records.insert(record.arn.clone(), record);
        }
        if removed {
            snapshot::sync_dir(dir);
        }
        Ok(Backups {
            dir: dir.to_owned(),
            records: Mutex::new(records),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The snapshot file of backup `id`.
    pub fn snapshot_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.snap"))
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn write_record(&self, record: &BackupRecord) -> Result<(), BackupError> {
        let path = self.record_path(&record.id);
        let tmp = snapshot::tmp_path(&path);
        let ioe = |p: &Path| {
            let path = p.to_owned();
            move |source| BackupError::Io { path, source }
        };
        let bytes = serde_json::to_vec_pretty(record).map_err(|source| BackupError::Corrupt {
            path: path.clone(),
            source,
        })?;
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(ioe(&tmp))?;
            f.write_all(&bytes).map_err(ioe(&tmp))?;
            f.sync_all().map_err(ioe(&tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(ioe(&path))?;
        snapshot::sync_dir(&self.dir);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, BackupRecord>> {
        // A panic while holding the lock leaves the map itself consistent
        // (every change is one insert or remove).
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record a new backup as CREATING.
    pub fn begin(&self, record: BackupRecord) -> Result<(), BackupError> {
        self.write_record(&record)?;
        self.lock().insert(record.arn.clone(), record);
        Ok(())
    }

    /// Mark a backup AVAILABLE once its snapshot is complete.
    pub fn complete(&self, arn: &str, summary: snapshot::Summary) -> Result<(), BackupError> {
        let Some(mut record) = self.get(arn) else {
            return Ok(());
        };
        record.state = BackupState::Available;
        record.size_bytes = Some(summary.bytes);
        record.checksum = Some(summary.checksum);
        self.write_record(&record)?;
        self.lock().insert(arn.to_owned(), record);
        Ok(())
    }

    /// Record the table's counters as of the backup's instant.
    pub fn set_counts(&self, arn: &str, items: u64, bytes: u64) {
        if let Some(r) = self.lock().get_mut(arn) {
            r.item_count = items;
            r.table_size_bytes = bytes;
        }
    }

    /// Forget a backup and remove its files; returns its record.
    pub fn remove(&self, arn: &str) -> Option<BackupRecord> {
        let record = self.lock().remove(arn)?;
        let _ = std::fs::remove_file(self.record_path(&record.id));
        let _ = std::fs::remove_file(self.snapshot_path(&record.id));
        let _ = std::fs::remove_file(snapshot::tmp_path(&self.snapshot_path(&record.id)));
        snapshot::sync_dir(&self.dir);
        Some(record)
    }

    pub fn get(&self, arn: &str) -> Option<BackupRecord> {
        self.lock().get(arn).cloned()
    }

    /// Every backup, in ListBackups' order (table name, then creation).
    pub fn all(&self) -> Vec<BackupRecord> {
        let mut v: Vec<BackupRecord> = self.lock().values().cloned().collect();
        v.sort_by(|a, b| {
            (a.table.name.as_str(), a.created_ms, a.id.as_str()).cmp(&(
                b.table.name.as_str(),
                b.created_ms,
                b.id.as_str(),
            ))
        });
        v
    }

    /// Whether a backup of table `name` is still being written.
    pub fn creating_for(&self, name: &str) -> bool {
        self.lock()
            .values()
            .any(|r| r.state == BackupState::Creating && r.table.name == name)
    }
}
