//! The single writer thread and its group commit.
//!
//! Requests queue on a channel. The writer takes everything queued (up to
//! `MAX_BATCH`), runs each request in a nested transaction of one parent
//! transaction, commits the parent once (LMDB fsyncs on commit), then
//! publishes catalog changes and answers every request. Under load many
//! requests share one fsync; alone, a request pays exactly one.
//!
//! If the map fills up mid-batch the whole batch is discarded, the map
//! doubles, and the batch runs again from the start — which is why jobs are
//! `Fn` and must be pure functions of what they read.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;

use heed::RwTxn;
use tokio::sync::oneshot;

use super::commits::Appended;
use super::{changelog, reclaim, store, Catalog, EngineError, Shared};
use crate::model::codec;
use crate::model::key::Key;
use crate::model::table::TableMeta;
use crate::model::value::Item;

const MAX_BATCH: usize = 512;

/// Most write jobs queued or running at once. Callers beyond it wait for a
/// place before their job is queued, so the queue's memory is bounded
/// whatever the front end's in-flight limit (and a caller that gives up
/// while waiting leaves nothing behind).
pub const MAX_QUEUED: usize = 8192;

/// Why a write job did not complete: its own (logical) failure, which aborts
/// only its nested transaction, or a storage failure.
#[derive(Debug)]
pub enum Abort<E> {
    Op(E),
    Engine(EngineError),
}

impl<E> From<EngineError> for Abort<E> {
    fn from(e: EngineError) -> Self {
        Abort::Engine(e)
    }
}

impl<E> From<heed::Error> for Abort<E> {
    fn from(e: heed::Error) -> Self {
        Abort::Engine(EngineError::Lmdb(e))
    }
}

/// What a write job can see and do, inside its nested transaction.
pub struct WriteCtx<'a, 'p> {
    txn: &'a mut RwTxn<'p>,
    dbs: &'a super::Dbs,
    catalog: &'a Catalog,
    /// Catalog changes made by this job; applied only if it succeeds.
    staged: Vec<(String, Option<Arc<TableMeta>>)>,
    /// Time of this batch, stamped on its change-log records.
    now_ms: u64,
    /// See [`super::EngineOptions::item_collection_limit`].
    collection_limit: u64,
    /// Stamped on this job's change records (see [`WriteCtx::set_origin`]).
    origin: Option<u64>,
    /// The change records this job appended.
    appended: Appended,
}

impl WriteCtx<'_, '_> {
    /// The table as of this point in the write order.
    pub fn table(&self, name: &str) -> Option<Arc<TableMeta>> {
        for (n, meta) in self.staged.iter().rev() {
            if n == name {
                return meta.clone();
            }
        }
        self.catalog.get(name).cloned()
    }

    /// Allocate a fresh key-space id for a table or an index.
    pub fn next_id(&mut self) -> Result<u32, EngineError> {
        store::next_id(self.txn, self.dbs)
    }

    /// Create or replace a table's catalog entry.
    pub fn put_table(&mut self, mut meta: TableMeta) -> Result<(), EngineError> {
        let old = self.table(&meta.name);
        changelog::on_table_change(self.txn, self.dbs, old.as_deref(), &mut meta)?;
        store::put_catalog(self.txn, self.dbs, &meta)?;
        self.staged.push((meta.name.clone(), Some(Arc::new(meta))));
        Ok(())
    }

    /// Delete a table: it is gone from the catalog at once; its items, its
    /// indexes' entries and its change records are freed in the background
    /// (see `reclaim`).
    pub fn drop_table(&mut self, meta: &TableMeta) -> Result<(), EngineError> {
        store::delete_catalog(self.txn, self.dbs, &meta.name)?;
        reclaim::schedule(self.txn, self.dbs, reclaim::Space::Items(meta.id))?;
        if !meta.local_indexes.is_empty() {
            reclaim::schedule(self.txn, self.dbs, reclaim::Space::Collections(meta.id))?;
        }
        for index in meta.local_indexes.iter().chain(&meta.global_indexes) {
            reclaim::schedule(self.txn, self.dbs, reclaim::Space::Items(index.id))?;
            store::delete_stats(self.txn, self.dbs, index.id)?;
        }
        store::delete_stats(self.txn, self.dbs, meta.id)?;
        changelog::drop_table(self.txn, self.dbs, meta.id)?;
        self.staged.push((meta.name.clone(), None));
        Ok(())
    }

    /// Remove a (deleted) secondary index's counters at once and its
    /// entries in the background (see `reclaim`).
    pub fn drop_index_entries(&mut self, index_id: u32) -> Result<(), EngineError> {
        reclaim::schedule(self.txn, self.dbs, reclaim::Space::Items(index_id))?;
        store::delete_stats(self.txn, self.dbs, index_id)
    }

    /// Free at most `limit` entries of deleted tables and indexes; returns
    /// how many were freed and whether work may remain.
    pub fn reclaim_step(&mut self, limit: usize) -> Result<(usize, bool), EngineError> {
        reclaim::step(self.txn, self.dbs, limit)
    }

    /// One chunk of a GSI backfill: index up to `limit` items after
    /// `after`; returns where the next chunk starts, `None` when done.
    pub fn backfill_index(
        &mut self,
        table: &TableMeta,
        index: &crate::model::table::IndexMeta,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Option<Vec<u8>>, EngineError> {
        store::backfill_chunk(self.txn, self.dbs, table, index, after, limit)
    }

    pub fn stats(&self, table_id: u32) -> Result<super::Stats, EngineError> {
        store::stats(self.txn, self.dbs, table_id)
    }

    pub fn get_item(&self, table: &TableMeta, key: &Key) -> Result<Option<Item>, EngineError> {
        store::get_item(self.txn, self.dbs, table, key)
    }

    /// Store `item` under `key`; `old` must be what `get_item` returned.
    pub fn put_item(
        &mut self,
        table: &TableMeta,
        key: &Key,
        item: &Item,
        old: Option<&Item>,
    ) -> Result<(), EngineError> {
        let encoded = codec::encoded_item(item);
        self.put_item_encoded(table, key, item, &encoded, old)
    }

    /// [`Self::put_item`] with `encoded`, the item's encoding
    /// ([`codec::encoded_item`]), made beforehand: a caller that encodes
    /// the item before submitting its job takes that work off the writer
    /// thread, the one serial step of every write.
    pub fn put_item_encoded(
        &mut self,
        table: &TableMeta,
        key: &Key,
        item: &Item,
        encoded: &[u8],
        old: Option<&Item>,
    ) -> Result<(), EngineError> {
        store::put_item(
            self.txn,
            self.dbs,
            table,
            key,
            item,
            encoded,
            old,
            Some(self.collection_limit),
        )?;
        self.record(table, key, old, Some((item, encoded)), false)
    }

    /// Delete the item under `key`; `old` must be what `get_item` returned.
    pub fn delete_item(
        &mut self,
        table: &TableMeta,
        key: &Key,
        old: &Item,
    ) -> Result<(), EngineError> {
        self.delete(table, key, old, false)
    }

    /// Delete an expired item on the service's behalf (TTL): an ordinary
    /// delete whose change record is flagged as a service deletion.
    pub fn delete_expired_item(
        &mut self,
        table: &TableMeta,
        key: &Key,
        old: &Item,
    ) -> Result<(), EngineError> {
        self.delete(table, key, old, true)
    }

    fn delete(
        &mut self,
        table: &TableMeta,
        key: &Key,
        old: &Item,
        by_service: bool,
    ) -> Result<(), EngineError> {
        store::delete_item(self.txn, self.dbs, table, key, old)?;
        self.record(table, key, Some(old), None, by_service)
    }

    /// The change-log record of a change to the item under `key`; `new`
    /// comes with its encoding.
    fn record(
        &mut self,
        table: &TableMeta,
        key: &Key,
        old: Option<&Item>,
        new: Option<(&Item, &[u8])>,
        by_service: bool,
    ) -> Result<(), EngineError> {
        let keys = key.to_item(&table.key);
        let seq = changelog::append(
            self.txn,
            self.dbs,
            table,
            keys,
            old,
            new,
            by_service,
            self.origin,
            self.now_ms,
        )?;
        if let Some(seq) = seq {
            self.appended.add(seq, self.origin);
        }
        Ok(())
    }

    /// Stamp the change records this job writes with `origin`: the change
    /// log's in-process readers then know which changes their own writes
    /// made ([`super::changelog::ChangeRecord::origin`]).
    pub fn set_origin(&mut self, origin: Option<u64>) {
        self.origin = origin;
    }

    /// Store an item of a table being restored. Unlike [`Self::put_item`]
    /// it writes no change record: a restored table's history starts with
    /// the restore.
    pub fn load_item(
        &mut self,
        table: &TableMeta,
        key: &Key,
        item: &Item,
    ) -> Result<(), EngineError> {
        let old = store::get_item(self.txn, self.dbs, table, key)?;
        let encoded = codec::encoded_item(item);
        store::put_item(
            self.txn,
            self.dbs,
            table,
            key,
            item,
            &encoded,
            old.as_ref(),
            None,
        )
    }

    /// Drop up to `limit` change records of `table_id` older than `cutoff_ms`.
    pub fn trim_changelog(
        &mut self,
        table_id: u32,
        cutoff_ms: u64,
        limit: usize,
    ) -> Result<usize, EngineError> {
        changelog::trim(self.txn, self.dbs, table_id, cutoff_ms, limit)
    }

    /// The batch's time (milliseconds since the Unix epoch).
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }
}

enum Outcome {
    Commit,
    Abort,
    MapFull,
}

/// Why a batch was not committed.
#[derive(Debug, Clone, Copy)]
enum Failure {
    Poisoned,
    StorageFull,
}

trait Job: Send {
    fn run(&mut self, ctx: &mut WriteCtx<'_, '_>) -> Outcome;
    /// Deliver the result; `failure` says why the batch was not committed.
    fn complete(self: Box<Self>, failure: Option<Failure>);
}

struct TypedJob<R, E, F> {
    f: F,
    result: Option<Result<R, Abort<E>>>,
    reply: oneshot::Sender<Result<R, Abort<E>>>,
}

/// Free space under which an I/O error on commit is taken for a full
/// volume: a batch writes at most a few MB, so a short write with more free
/// space than this was not for lack of space.
const NEARLY_FULL_BYTES: u64 = 16 << 20;

/// A commit that failed for lack of space (see the engine's invariants).
fn is_storage_full(e: &EngineError, shared: &Shared) -> bool {
    let EngineError::Lmdb(heed::Error::Io(io)) = e else {
        return false;
    };
    match io.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => true,
        // LMDB turns a short write into EIO.
        _ if io.raw_os_error() == Some(5) => rustix::fs::statvfs(&shared.dir)
            .is_ok_and(|v| v.f_bavail.saturating_mul(v.f_frsize) < NEARLY_FULL_BYTES),
        _ => false,
    }
}

fn is_map_full(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Lmdb(heed::Error::Mdb(heed::MdbError::MapFull))
    )
}

impl<R, E, F> Job for TypedJob<R, E, F>
where
    R: Send + 'static,
    E: Send + 'static,
    F: Fn(&mut WriteCtx<'_, '_>) -> Result<R, Abort<E>> + Send + 'static,
{
    fn run(&mut self, ctx: &mut WriteCtx<'_, '_>) -> Outcome {
        // A panic fails this request only: LMDB's calls do not unwind, so
        // the nested transaction is consistent and is aborted below.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.f)(ctx)))
            .unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(Abort::Engine(EngineError::JobPanicked(what)))
            });
        let outcome = match &r {
            Ok(_) => Outcome::Commit,
            Err(Abort::Engine(e)) if is_map_full(e) => Outcome::MapFull,
            Err(_) => Outcome::Abort,
        };
        self.result = Some(r);
        outcome
    }

    fn complete(self: Box<Self>, failure: Option<Failure>) {
        let TypedJob { f, result, reply } = *self;
        // What the job holds is let go before the requester is woken: it
        // may be shared with it (an in-process cache's encoded item).
        drop(f);
        let result = match (failure, result) {
            (None, Some(r)) => r,
            (Some(Failure::StorageFull), _) => Err(Abort::Engine(EngineError::StorageFull)),
            _ => Err(Abort::Engine(EngineError::Poisoned)),
        };
        // The requester may have gone away (client disconnected); the write
        // stands regardless.
        let _ = reply.send(result);
    }
}

/// The way to the writer thread. When the last handle goes, the channel
/// closes, the writer finishes what is queued and exits, and the drop waits
/// for it — so once every `Engine` is dropped the environment and its lock
/// are released, and the directory can be opened again at once.
#[derive(Clone)]
pub(crate) struct Handle {
    // Declared before `_thread`: fields drop in order, so the last handle's
    // sender is gone (the channel closed) before the join.
    tx: mpsc::Sender<Box<dyn Job>>,
    /// One permit per job queued or running (see [`MAX_QUEUED`]).
    places: Arc<tokio::sync::Semaphore>,
    _thread: Arc<WriterThread>,
}

struct WriterThread(Option<std::thread::JoinHandle<()>>);

impl Drop for WriterThread {
    fn drop(&mut self) {
        if let Some(j) = self.0.take() {
            let _ = j.join();
        }
    }
}

impl Handle {
    /// Jobs queued or running now.
    pub fn queued(&self) -> usize {
        MAX_QUEUED - self.places.available_permits()
    }

    pub async fn submit<R, E, F>(&self, f: F) -> Result<R, Abort<E>>
    where
        R: Send + 'static,
        E: Send + 'static,
        F: Fn(&mut WriteCtx<'_, '_>) -> Result<R, Abort<E>> + Send + 'static,
    {
        // Held until the job is answered; the semaphore is never closed.
        let _place = self
            .places
            .acquire()
            .await
            .map_err(|_| Abort::Engine(EngineError::WriterGone))?;
        let (reply, rx) = oneshot::channel();
        let job = Box::new(TypedJob {
            f,
            result: None,
            reply,
        });
        self.tx
            .send(job)
            .map_err(|_| Abort::Engine(EngineError::WriterGone))?;
        rx.await
            .map_err(|_| Abort::Engine(EngineError::WriterGone))?
    }
}

pub(crate) fn spawn(shared: Arc<Shared>) -> Result<Handle, EngineError> {
    let (tx, rx) = mpsc::channel::<Box<dyn Job>>();
    let join = std::thread::Builder::new()
        .name("ferrodyn-writer".into())
        .spawn(move || run(shared, rx))
        .map_err(|source| EngineError::Io {
            path: "writer thread".into(),
            source,
        })?;
    Ok(Handle {
        tx,
        places: Arc::new(tokio::sync::Semaphore::new(MAX_QUEUED)),
        _thread: Arc::new(WriterThread(Some(join))),
    })
}

fn run(shared: Arc<Shared>, rx: mpsc::Receiver<Box<dyn Job>>) {
    let mut catalog: Catalog = match shared.tables.read() {
        Ok(t) => t.clone(),
        Err(_) => return,
    };
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if shared.poisoned.load(Ordering::Acquire) {
            batch
                .into_iter()
                .for_each(|j| j.complete(Some(Failure::Poisoned)));
            continue;
        }
        let failure = loop {
            match run_batch(&shared, &mut batch, &catalog) {
                Ok(BatchResult::Committed(changes, appended)) => {
                    let catalog_changed = !changes.is_empty();
                    for (name, meta) in changes {
                        match meta {
                            Some(m) => catalog.insert(name, m),
                            None => catalog.remove(&name),
                        };
                    }
                    if let Ok(mut published) = shared.tables.write() {
                        *published = catalog.clone();
                    }
                    // Wake change-log subscribers: what they read now is durable.
                    shared
                        .commits
                        .send_modify(|c| c.committed(&appended, catalog_changed));
                    if shared.storage_full.swap(false, Ordering::AcqRel) {
                        tracing::info!("space available again: writes resumed");
                    }
                    break None;
                }
                Ok(BatchResult::MapFull) => {
                    if let Err(e) = grow_map(&shared) {
                        tracing::error!(error = %e, "cannot grow the storage map; refusing further writes");
                        shared.poisoned.store(true, Ordering::Release);
                        break Some(Failure::Poisoned);
                    }
                }
                Err(e) if is_storage_full(&e, &shared) => {
                    if !shared.storage_full.swap(true, Ordering::AcqRel) {
                        tracing::error!(error = %chain(&e), "storage volume full: writes refused until space is freed");
                    }
                    break Some(Failure::StorageFull);
                }
                Err(e) => {
                    tracing::error!(error = %chain(&e), "commit failed; refusing further writes");
                    shared.poisoned.store(true, Ordering::Release);
                    break Some(Failure::Poisoned);
                }
            }
        };
        batch.into_iter().for_each(|j| j.complete(failure));
    }
}

/// An error with its sources, for the log.
fn chain(e: &EngineError) -> String {
    let mut chain = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    chain
}

enum BatchResult {
    /// The catalog's changes, and the change records appended.
    Committed(Vec<(String, Option<Arc<TableMeta>>)>, Appended),
    MapFull,
}

/// Run `batch` in one transaction and commit it. The map can fill in a
/// job or in LMDB's own work at commit (saving the free list, the page
/// tree's splits): either way nothing was committed, and the batch is run
/// again once the map has grown.
fn run_batch(
    shared: &Shared,
    batch: &mut [Box<dyn Job>],
    catalog: &Catalog,
) -> Result<BatchResult, EngineError> {
    match try_batch(shared, batch, catalog) {
        Err(e) if is_map_full(&e) => Ok(BatchResult::MapFull),
        result => result,
    }
}

fn try_batch(
    shared: &Shared,
    batch: &mut [Box<dyn Job>],
    catalog: &Catalog,
) -> Result<BatchResult, EngineError> {
    let _guard = shared
        .resize_lock
        .read()
        .map_err(|_| EngineError::Poisoned)?;
    let mut parent = shared.env.write_txn()?;
    // Catalog as seen by later jobs in this batch: earlier jobs' committed changes.
    let mut view = catalog.clone();
    let mut changes = Vec::new();
    let mut appended = Appended::default();
    let now_ms = shared.clock.now_ms();
    for job in batch.iter_mut() {
        let mut nested = shared.env.nested_write_txn(&mut parent)?;
        let mut ctx = WriteCtx {
            txn: &mut nested,
            dbs: &shared.dbs,
            catalog: &view,
            staged: Vec::new(),
            now_ms,
            collection_limit: shared.collection_limit,
            origin: None,
            appended: Appended::default(),
        };
        match job.run(&mut ctx) {
            Outcome::Commit => {
                let staged = std::mem::take(&mut ctx.staged);
                appended.extend(std::mem::take(&mut ctx.appended));
                nested.commit()?;
                for (name, meta) in staged {
                    match &meta {
                        Some(m) => view.insert(name.clone(), m.clone()),
                        None => view.remove(&name),
                    };
                    changes.push((name, meta));
                }
            }
            Outcome::Abort => nested.abort(),
            Outcome::MapFull => {
                nested.abort();
                parent.abort();
                return Ok(BatchResult::MapFull);
            }
        }
    }
    #[cfg(test)]
    if shared
        .fail_commits
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
    {
        parent.abort();
        return Err(EngineError::Lmdb(heed::Error::Mdb(heed::MdbError::MapFull)));
    }
    parent.commit()?;
    Ok(BatchResult::Committed(changes, appended))
}

fn grow_map(shared: &Shared) -> Result<(), EngineError> {
    let _guard = shared
        .resize_lock
        .write()
        .map_err(|_| EngineError::Poisoned)?;
    let current = shared.env.info().map_size;
    let new_size = current.saturating_mul(2);
    tracing::info!(from = current, to = new_size, "growing the storage map");
    // SAFETY: we hold `resize_lock` exclusively, and every transaction in
    // this process holds it shared for its whole life, so no transaction is
    // active (heed's requirement for resize).
    unsafe { shared.env.resize(new_size)? };
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::engine::{Abort, Engine, EngineError, EngineOptions};

    #[tokio::test(flavor = "multi_thread")]
    async fn a_write_job_that_panics_fails_its_own_request_only() {
        let dir = std::env::temp_dir().join(format!(
            "ferrodyn-writer-panic-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        let engine = Arc::new(Engine::open(&dir, EngineOptions::default()).expect("open"));
        // Jobs queued with the panicking one, so they share its batch.
        let mut others = Vec::new();
        for i in 0..16u32 {
            let engine = engine.clone();
            others.push(tokio::spawn(async move {
                engine
                    .write(move |ctx| -> Result<u32, Abort<()>> {
                        ctx.next_id().map_err(Abort::Engine)?;
                        Ok(i)
                    })
                    .await
            }));
        }
        let panicked = engine
            .write(|_ctx| -> Result<(), Abort<()>> { panic!("a bug in a write job") })
            .await;
        assert!(
            matches!(panicked, Err(Abort::Engine(EngineError::JobPanicked(ref m))) if m.contains("a bug")),
            "{panicked:?}"
        );
        for (i, job) in others.into_iter().enumerate() {
            let got = job.await.expect("task");
            assert_eq!(got.ok(), Some(i as u32), "the other jobs succeed");
        }
        let after = engine
            .write(|ctx| ctx.next_id().map_err(Abort::<()>::Engine))
            .await;
        assert!(after.is_ok(), "writes go on: {after:?}");
        assert!(!engine.is_poisoned());
        drop(engine);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A commit that finds the map full (LMDB allocates pages in its
    /// commit too, for the free list) is retried after the map grows: the
    /// writes succeed and the engine is not poisoned.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_commit_that_fills_the_map_is_retried_after_growing_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::open(dir.path(), EngineOptions::default()).expect("open");
        let before = engine.shared.env.info().map_size;
        engine
            .shared
            .fail_commits
            .store(1, std::sync::atomic::Ordering::Release);
        let written = engine
            .write(|ctx| -> Result<(), Abort<()>> {
                ctx.dbs
                    .items
                    .put(ctx.txn, b"key", b"value")
                    .map_err(|e| Abort::Engine(e.into()))
            })
            .await;
        assert!(written.is_ok(), "{written:?}");
        assert!(!engine.is_poisoned());
        assert!(engine.shared.env.info().map_size > before, "the map grew");
        let rtxn = engine.shared.env.read_txn().expect("read");
        let got = engine.shared.dbs.items.get(&rtxn, b"key").expect("get");
        assert_eq!(got, Some(&b"value"[..]));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_write_queue_is_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Arc::new(Engine::open(dir.path(), EngineOptions::default()).expect("open"));
        // Hold the writer thread inside a job until `release` is dropped.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let held = std::sync::Mutex::new(held);
        let (entered, inside) = tokio::sync::oneshot::channel::<()>();
        let entered = std::sync::Mutex::new(Some(entered));
        let blocker = {
            let engine = engine.clone();
            tokio::spawn(async move {
                engine
                    .write(move |_ctx| -> Result<(), Abort<()>> {
                        if let Some(tx) = entered.lock().ok().and_then(|mut e| e.take()) {
                            let _ = tx.send(());
                        }
                        if let Ok(rx) = held.lock() {
                            let _ = rx.recv_timeout(std::time::Duration::from_secs(60));
                        }
                        Ok(())
                    })
                    .await
            })
        };
        // The writer is inside the blocking job before anyone else queues,
        // so no later job rides in its batch.
        inside.await.expect("the blocking job runs");
        let extra = 100;
        let mut writers = Vec::new();
        for _ in 0..super::MAX_QUEUED + extra {
            let engine = engine.clone();
            writers.push(tokio::spawn(async move {
                engine
                    .write(|ctx| ctx.next_id().map_err(Abort::<()>::Engine))
                    .await
            }));
        }
        // Every caller has had its chance to queue: the queue is full, and
        // no fuller.
        let started = std::time::Instant::now();
        while engine.writes_queued() < super::MAX_QUEUED {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "the queue never filled: {}",
                engine.writes_queued()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(engine.writes_queued(), super::MAX_QUEUED);
        drop(release);
        blocker.await.expect("task").expect("blocking job");
        for w in writers {
            w.await.expect("task").expect("queued write");
        }
        assert_eq!(engine.writes_queued(), 0);
    }
}
