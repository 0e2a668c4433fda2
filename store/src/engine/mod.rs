//! The storage engine: LMDB (through `heed`) behind a narrow API.
//!
//! Owns the data directory, the catalog of tables, item storage and the
//! single writer. Knows nothing of the wire protocol or of expressions: write
//! operations arrive as closures that read and write through a [`WriteCtx`].
//!
//! Invariants:
//! * All writes go through one writer thread (`writer`) that commits many
//!   requests in one durable LMDB transaction (group commit). Each request
//!   runs in its own nested transaction, so a failed condition aborts only
//!   that request. A write is acknowledged only after the commit returned,
//!   i.e. after LMDB's fsync.
//! * Because there is exactly one writer and each request's closure sees the
//!   effects of every request committed or applied before it, requests are
//!   serializable in the order the writer runs them.
//! * After a failed commit the engine is poisoned: it refuses all further
//!   writes (fail-stop) instead of continuing in an unknown state — except
//!   when the commit failed for lack of space: LMDB writes a transaction's
//!   pages copy-on-write into pages the last durable meta page does not
//!   reference, and writes the new meta page only after all of them, so a
//!   commit that ran out of space left the last durable state intact; its
//!   requests fail, and later batches try again (writes resume once space
//!   is freed). LMDB reports a short write as EIO, so a failed commit counts
//!   as "out of space" when the error is ENOSPC/EDQUOT, or EIO while the
//!   volume has almost no space left; a failure writing the meta page makes
//!   LMDB refuse every later transaction, which poisons the engine anyway.
//! * A write job that panics fails its own request only: its nested
//!   transaction is aborted and the batch goes on.
//! * Readers use short read transactions and never block the writer.
//!
//! `unsafe` is allowed in this module only for the two heed calls that are
//! unsafe by contract: opening the environment (the caller must not open the
//! same file twice in one process — we hold an exclusive lock file for the
//! directory) and resizing the map (no transaction may be active in this
//! process — we hold `resize_lock` exclusively, which every transaction takes
//! shared).

#![allow(unsafe_code)]

mod as_of;
pub mod changelog;
pub mod commits;
mod expiry;
pub(crate) mod reclaim;
mod store;
mod writer;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use heed::types::Bytes as RawBytes;
use heed::{Database, Env, EnvOpenOptions};

use crate::clock::{Clock, SystemClock};
use crate::model::table::TableMeta;

pub use expiry::{is_expired, ExpiredBatch};
pub use store::{ItemRecord, Stats};
pub use writer::{Abort, WriteCtx, MAX_QUEUED as MAX_WRITES_QUEUED};

/// Storage-layer failures. Everything here is an internal fault from the
/// client's point of view.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("LMDB error")]
    Lmdb(#[from] heed::Error),
    #[error("cannot create data directory {path}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("data directory {0} is in use by another process")]
    Locked(PathBuf),
    #[error("I/O error on {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the storage engine refuses writes after an earlier storage failure")]
    Poisoned,
    #[error("the writer has stopped")]
    WriterGone,
    #[error("the storage volume is full: writes are refused until space is freed")]
    StorageFull,
    #[error("a write job panicked: {0}")]
    JobPanicked(String),
    #[error("stored data is corrupt")]
    Corrupt(#[from] crate::model::codec::CodecError),
    #[error("stored catalog entry is corrupt")]
    CorruptCatalog(#[source] serde_json::Error),
    #[error("two partition keys share a storage hash")]
    HashCollision,
    #[error("corrupt engine metadata: {0}")]
    CorruptMeta(&'static str),
    #[error("item collection size limit exceeded")]
    CollectionTooLarge,
    #[error("data directory format {found} is not supported (this build reads {supported})")]
    UnsupportedFormat { found: u8, supported: u8 },
}

/// Whether the engine can take writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// A commit failed for lack of space; writes fail until space is freed.
    StorageFull,
    /// A storage failure stopped writes for good (restart to recover).
    Poisoned,
}

impl Health {
    /// A sentence for health checks.
    pub fn describe(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::StorageFull => "storage full: writes are refused until space is freed",
            Health::Poisoned => "storage failure: writes are refused until restart",
        }
    }
}

/// Prefix of the item-collection sizes in the meta database: then the
/// table id (4 bytes, big endian) and the partition key's bytes.
pub(crate) const COLLECTION_PREFIX: &[u8] = b"coll/";

/// On-disk format version of the data directory.
pub const FORMAT_VERSION: u8 = 1;

/// Options for [`Engine::open`].
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Initial LMDB map size in bytes; the map doubles whenever it fills up.
    pub initial_map_size: usize,
    /// Time source for change-log record times.
    pub clock: Arc<dyn Clock>,
    /// Largest item collection (a partition key's items and their entries
    /// in the table's local secondary indexes) a write may grow, in bytes:
    /// DynamoDB's 10 GB.
    pub item_collection_limit: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            initial_map_size: 1 << 30,
            clock: Arc::new(SystemClock),
            item_collection_limit: 10 << 30,
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Dbs {
    /// table name → TableMeta JSON
    pub catalog: Database<heed::types::Str, RawBytes>,
    /// storage key → stored item
    pub items: Database<RawBytes, RawBytes>,
    /// engine metadata: format version, id counters, per-table stats
    pub meta: Database<RawBytes, RawBytes>,
    /// table id (u32 BE) | sequence number (u64 BE) → change record
    pub changelog: Database<RawBytes, RawBytes>,
}

/// Every table's description, by name. Looked up on every request, so
/// with a fast hash: names are short, and only tables a client created
/// are ever inserted (DynamoDB caps how many an account has).
pub type Catalog = HashMap<String, Arc<TableMeta>, foldhash::fast::RandomState>;

pub(crate) struct Shared {
    pub env: Env,
    pub dbs: Dbs,
    pub poisoned: AtomicBool,
    /// The last commit failed because the volume is full (see `writer`).
    pub storage_full: AtomicBool,
    /// See [`EngineOptions::item_collection_limit`].
    pub collection_limit: u64,
    /// The data directory.
    pub dir: PathBuf,
    /// The data directory's identity (see [`Engine::data_id`]).
    pub data_id: uuid::Uuid,
    /// Taken shared by every transaction, exclusively to resize the map.
    pub resize_lock: RwLock<()>,
    /// Published catalog: what readers see. Only the writer replaces it,
    /// after the commit that changed it.
    pub tables: RwLock<Catalog>,
    pub clock: Arc<dyn Clock>,
    /// Changes with every durable commit; subscribers of the change log
    /// wait on it.
    pub commits: tokio::sync::watch::Sender<commits::Commits>,
    /// Tests: this many batch commits fail as if the map were full.
    #[cfg(test)]
    pub fail_commits: std::sync::atomic::AtomicU32,
    _lock_file: File,
}

/// A handle to the engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
    writer: writer::Handle,
}

impl Engine {
    /// Open (creating if needed) the data directory.
    pub fn open(dir: &Path, options: EngineOptions) -> Result<Engine, EngineError> {
        std::fs::create_dir_all(dir).map_err(|source| EngineError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
        let lock_path = dir.join("ferrodyn.lock");
        let lock_file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| EngineError::Io {
                path: lock_path.clone(),
                source,
            })?;
        if lock_file.try_lock().is_err() {
            return Err(EngineError::Locked(dir.to_owned()));
        }
        let mut opts = EnvOpenOptions::new();
        opts.map_size(options.initial_map_size)
            .max_dbs(8)
            .max_readers(1024);
        // SAFETY: this process holds the directory's exclusive lock file, so
        // the environment is opened at most once per process (heed's
        // requirement), and other processes are kept out too.
        let env = unsafe { opts.open(dir)? };
        let mut wtxn = env.write_txn()?;
        let dbs = Dbs {
            catalog: env.create_database(&mut wtxn, Some("catalog"))?,
            items: env.create_database(&mut wtxn, Some("items"))?,
            meta: env.create_database(&mut wtxn, Some("meta"))?,
            changelog: env.create_database(&mut wtxn, Some("changelog"))?,
        };
        match dbs.meta.get(&wtxn, store::FORMAT_KEY)? {
            Some([v]) if *v == FORMAT_VERSION => {}
            Some(other) => {
                return Err(EngineError::UnsupportedFormat {
                    found: other.first().copied().unwrap_or(0),
                    supported: FORMAT_VERSION,
                })
            }
            None => dbs
                .meta
                .put(&mut wtxn, store::FORMAT_KEY, &[FORMAT_VERSION])?,
        }
        let data_id = match dbs.meta.get(&wtxn, store::DATA_ID_KEY)? {
            Some(bytes) => uuid::Uuid::from_slice(bytes)
                .map_err(|_| EngineError::CorruptMeta("the data directory's identity"))?,
            None => {
                let id = uuid::Uuid::new_v4();
                dbs.meta.put(&mut wtxn, store::DATA_ID_KEY, id.as_bytes())?;
                id
            }
        };
        let tables = store::load_catalog(&wtxn, &dbs)?;
        wtxn.commit()?;
        let shared = Arc::new(Shared {
            env,
            dbs,
            poisoned: AtomicBool::new(false),
            storage_full: AtomicBool::new(false),
            collection_limit: options.item_collection_limit,
            dir: dir.to_owned(),
            data_id,
            resize_lock: RwLock::new(()),
            tables: RwLock::new(tables),
            clock: options.clock.clone(),
            commits: tokio::sync::watch::Sender::new(commits::Commits::default()),
            #[cfg(test)]
            fail_commits: std::sync::atomic::AtomicU32::new(0),
            _lock_file: lock_file,
        });
        let writer = writer::spawn(shared.clone())?;
        Ok(Engine { shared, writer })
    }

    /// A random identity created with the data directory and kept for its
    /// life: change-log sequence numbers are meaningful only together with
    /// it (a consumer that sees it change must forget what it derived from
    /// the log — the directory was replaced or restored).
    pub fn data_id(&self) -> uuid::Uuid {
        self.shared.data_id
    }

    /// Whether writes are possible: [`Health::Poisoned`] after a storage
    /// failure (until restart), [`Health::StorageFull`] while the last
    /// commit failed for lack of space (until one succeeds).
    pub fn health(&self) -> Health {
        if self.is_poisoned() {
            Health::Poisoned
        } else if self.shared.storage_full.load(Ordering::Acquire) {
            Health::StorageFull
        } else {
            Health::Ok
        }
    }

    /// Whether an earlier storage failure stopped writes.
    pub fn is_poisoned(&self) -> bool {
        self.shared.poisoned.load(Ordering::Acquire)
    }

    /// Run `job` in the writer, in its own nested transaction, and return its
    /// result once the enclosing commit is durable.
    ///
    /// `job` must be a pure function of what it reads through the context:
    /// the writer may run it again if the map had to grow.
    pub async fn write<R, E, F>(&self, job: F) -> Result<R, Abort<E>>
    where
        R: Send + 'static,
        E: Send + 'static,
        F: Fn(&mut WriteCtx<'_, '_>) -> Result<R, Abort<E>> + Send + 'static,
    {
        self.writer.submit(job).await
    }

    /// Write jobs queued or running now (at most [`MAX_WRITES_QUEUED`]).
    pub fn writes_queued(&self) -> usize {
        self.writer.queued()
    }

    /// The engine's time source.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.shared.clock
    }

    /// The published description of a table.
    pub fn table(&self, name: &str) -> Option<Arc<TableMeta>> {
        self.shared.tables.read().ok()?.get(name).cloned()
    }

    /// A receiver that changes after every durable commit: the in-process
    /// subscription to the change log (read the records with
    /// `read(|v| v.changes().read_since(..))`).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<commits::Commits> {
        self.shared.commits.subscribe()
    }

    /// Every table's description.
    pub fn tables(&self) -> Vec<Arc<TableMeta>> {
        match self.shared.tables.read() {
            Ok(t) => t.values().cloned().collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Names of all tables, sorted.
    pub fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = match self.shared.tables.read() {
            Ok(t) => t.keys().cloned().collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    /// Run a read-only closure in a short read transaction.
    pub fn read<R>(
        &self,
        f: impl FnOnce(&store::ReadView<'_>) -> Result<R, EngineError>,
    ) -> Result<R, EngineError> {
        let _guard = self
            .shared
            .resize_lock
            .read()
            .map_err(|_| EngineError::Poisoned)?;
        let rtxn = self.shared.env.read_txn()?;
        let view = store::ReadView {
            txn: &rtxn,
            dbs: &self.shared.dbs,
        };
        f(&view)
    }
}

pub use store::ReadView;

/// Run `f` with an empty buffer this thread keeps (the writer encodes the
/// values and change records it stores into one: LMDB copies them into its
/// pages), or with a fresh one if the thread's is in use.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let result = f(&mut buf);
            // One large item does not keep its memory for good.
            if buf.capacity() > 1 << 20 {
                *buf = Vec::new();
            }
            result
        }
        Err(_) => f(&mut Vec::new()),
    })
}
