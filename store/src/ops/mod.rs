//! Operations: one module per family, each turning a typed input into a
//! response body, using the engine for storage and `expr` for expressions.
//!
//! [`Store`] is the whole store as a callable service: the HTTP server and
//! the embedding proxy both call [`Store::handle`].

mod account;
mod backup;
mod batch;
mod capacity;
mod collection;
mod contributor_insights;
mod description;
mod export;
mod feed;
mod gsi;
mod import;
mod item;
mod item_checks;
mod legacy_params;
mod maintenance;
mod partiql;
mod partiql_multi;
mod pitr;
mod query;
mod range_read;
mod read_request;
#[cfg(test)]
mod reclaim_tests;
mod restore;
mod rounds;
mod schema;
mod streams;
mod table;
mod tags;
mod telemetry_hooks;
mod throughput;
mod transact;
mod transfer;
mod ttl;

pub use capacity::ConsumedCapacity;
pub use item::read_projection;
pub use read_request::{resolve_query, resolve_scan, Resolved};

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

pub use maintenance::{MaintenanceConfig, Progress};
pub use transfer::Transfers;
pub use ttl::SweepCursors;

use crate::api::{self, ApiError, ApiResult, ErrorCode, Operation};
use crate::backend::{Backend, BackendRequest, BackendResponse, Health, InProcess, Input};
use crate::capacity::{Capacity, CapacityConfig};
use crate::engine::{Abort, Engine, EngineError, EngineOptions};
use crate::model::key::partition_hash;
use crate::telemetry::Telemetry;

/// Store configuration.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    pub engine: EngineOptions,
    /// TTL sweeping and change-log retention.
    pub maintenance: MaintenanceConfig,
    /// Where exports go and imports come from.
    pub transfer: crate::transfer::TransferConfig,
    /// Where on-demand backups are kept (`None`: `<data_dir>/backups`).
    pub backup_dir: Option<PathBuf>,

    /// Throughput enforcement (`--capacity`, `--partition-limits`).
    pub capacity: CapacityConfig,
}

impl StoreConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            data_dir: data_dir.into(),
            engine: EngineOptions::default(),
            maintenance: MaintenanceConfig::default(),
            transfer: Default::default(),
            backup_dir: None,

            capacity: CapacityConfig::default(),
        }
    }
}

/// The store: engine plus operations. Cheap to clone: one `Arc`, since
/// every request's path (the front end's, and each layer of an embedding
/// proxy's) clones it, and each clone is an atomic shared by all requests.
#[derive(Clone)]
pub struct Store(Arc<StoreParts>);

/// What a [`Store`] shares between its clones.
pub struct StoreParts {
    engine: Arc<Engine>,
    progress: Option<Progress>,
    /// TransactWriteItems' remembered ClientRequestTokens.
    tokens: transact::Tokens,
    /// Wakes the GSI backfill task when UpdateTable adds an index.
    backfill_wake: Arc<tokio::sync::Notify>,
    /// Exports and imports (`None` in the background tasks' handle).
    transfers: Option<Arc<Transfers>>,
    /// Per-table metrics and contributor insights.
    telemetry: Arc<Telemetry>,
    /// On-demand backups (`None` in the background tasks' handles).
    backups: Option<Arc<crate::backup::Backups>>,
    /// Wakes the restore task when a restore begins.
    restore_wake: Arc<tokio::sync::Notify>,

    /// Throughput accounting and throttling.
    capacity: Arc<Capacity>,
    /// What [`Store::table_keys`] handed out.
    key_schemas: KeySchemas,
}

impl std::ops::Deref for Store {
    type Target = StoreParts;

    fn deref(&self) -> &StoreParts {
        &self.0
    }
}

/// The key schemas [`Store::table_keys`] built, each with the table
/// description it was built from. A description is replaced, never changed
/// in place, when its table changes, so one that is still the table's
/// current one vouches for the schema built from it: callers that ask on
/// every request (the proxy, for each write and each Query hit) share one
/// schema instead of building one each time.
#[derive(Default)]
struct KeySchemas(
    std::sync::RwLock<std::collections::HashMap<String, BuiltKeys, foldhash::fast::RandomState>>,
);

/// A table's description and the key schema built from it.
type BuiltKeys = (
    Arc<crate::model::table::TableMeta>,
    Arc<crate::api::keys::TableKeys>,
);

/// Schemas [`KeySchemas`] keeps before it starts over (tables deleted long
/// ago keep theirs until then).
const KEY_SCHEMAS_KEPT: usize = 1024;

impl Store {
    /// Open the store; inside a tokio runtime this also starts its
    /// background tasks (TTL sweeper, change-log trimming).
    pub fn open(config: &StoreConfig) -> Result<Store, EngineError> {
        Store::open_with_registry(config, &prometheus::Registry::new())
    }

    /// Open the store as [`Store::open`] does, registering its metrics in
    /// `registry` (an embedding process exports one registry). If they
    /// cannot be registered there (already registered), they go to a
    /// private registry and a warning is logged.
    pub fn open_with_registry(
        config: &StoreConfig,
        registry: &prometheus::Registry,
    ) -> Result<Store, EngineError> {
        let engine = Arc::new(Engine::open(&config.data_dir, config.engine.clone())?);
        let clock = engine.clock().clone();
        let telemetry = match Telemetry::new(registry, clock.clone()) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "store metrics kept in a private registry");
                Telemetry::new(&prometheus::Registry::new(), clock)
                    .map_err(|_| EngineError::CorruptMeta("metrics registry"))?
            }
        };
        let telemetry = Arc::new(telemetry);
        contributor_insights::load(&engine, &telemetry);
        let backfill_wake = Arc::new(tokio::sync::Notify::new());
        let progress = maintenance::spawn(
            &engine,
            config.maintenance.clone(),
            backfill_wake.clone(),
            telemetry.clone(),
        );
        let (transfers, _interrupted) = Transfers::open(&config.transfer, &config.data_dir);
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(transfer::drop_unfinished_imports(engine.clone()));
        }
        let backup_dir = config
            .backup_dir
            .clone()
            .unwrap_or_else(|| config.data_dir.join("backups"));
        let backups =
            Arc::new(
                crate::backup::Backups::open(&backup_dir).map_err(|e| EngineError::Io {
                    path: backup_dir.clone(),
                    source: std::io::Error::other(e.to_string()),
                })?,
            );
        let restore_wake = Arc::new(tokio::sync::Notify::new());
        restore::spawn(&engine, backups.clone(), restore_wake.clone());

        let capacity = Arc::new(Capacity::new(config.capacity, engine.clock().clone()));
        Ok(Store(Arc::new(StoreParts {
            engine,
            progress,
            tokens: Default::default(),
            backfill_wake,
            transfers: Some(Arc::new(transfers)),
            telemetry,
            backups: Some(backups),
            restore_wake,

            capacity,
            key_schemas: Default::default(),
        })))
    }

    fn from_engine(engine: Arc<Engine>, telemetry: Arc<Telemetry>) -> Store {
        let capacity = Arc::new(Capacity::new(
            CapacityConfig::default(),
            engine.clock().clone(),
        ));
        Store(Arc::new(StoreParts {
            capacity,
            engine,
            progress: None,
            tokens: Default::default(),
            backfill_wake: Default::default(),
            transfers: None,
            telemetry,
            backups: None,
            restore_wake: Default::default(),
            key_schemas: Default::default(),
        }))
    }

    /// The store's metrics and contributor insights.
    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Progress of the background tasks (`None` if opened outside a runtime).
    pub fn progress(&self) -> Option<&Progress> {
        self.progress.as_ref()
    }

    /// The key attributes of `table` and of its indexes, if it exists.
    pub fn table_keys(&self, table: &str) -> Option<Arc<crate::api::keys::TableKeys>> {
        use crate::api::keys::{IndexKeys, TableKeys};
        let meta = self.engine.table(table)?;
        if let Ok(kept) = self.key_schemas.0.read() {
            if let Some((built_from, keys)) = kept.get(table) {
                if Arc::ptr_eq(built_from, &meta) {
                    return Some(keys.clone());
                }
            }
        }
        let index = |i: &crate::model::table::IndexMeta| IndexKeys {
            name: i.name.clone(),
            partition: i.key.partition_attrs().map(|a| a.name.clone()).collect(),
            sort: i.key.sort_attrs().map(|a| a.name.clone()).collect(),
        };
        let keys = Arc::new(TableKeys {
            partition: meta.key.partition.name.clone(),
            sort: meta.key.sort.as_ref().map(|s| s.name.clone()),
            indexes: Some(
                meta.local_indexes
                    .iter()
                    .chain(&meta.global_indexes)
                    .map(index)
                    .collect(),
            ),
        });
        if let Ok(mut kept) = self.key_schemas.0.write() {
            if kept.len() >= KEY_SCHEMAS_KEPT && !kept.contains_key(table) {
                kept.clear();
            }
            kept.insert(table.to_owned(), (meta, keys.clone()));
        }
        Some(keys)
    }

    /// Whether the store takes writes (see [`crate::engine::Health`]).
    pub fn health(&self) -> crate::engine::Health {
        self.engine.health()
    }

    /// Execute one request: `body` is the raw JSON of the request.
    pub async fn handle(&self, op: Operation, body: &[u8]) -> ApiResult<Vec<u8>> {
        self.handle_decoded(op, body, None, InProcess::default())
            .await
    }

    /// Execute one request whose typed input a caller may already have
    /// decoded from `body` (see [`crate::backend::Input`]); `None`: decode
    /// it here.
    pub async fn handle_decoded(
        &self,
        op: Operation,
        body: &[u8],
        input: Option<Box<Input>>,
        from: InProcess,
    ) -> ApiResult<Vec<u8>> {
        let start = std::time::Instant::now();
        // Decoded here unless a holder did: then the table the metrics
        // count the request against is read off the input (scanning the
        // body for it cost as much as a small request's decode). A body that
        // does not decode goes to `dispatch`, which reports why.
        let input = input.or_else(|| Input::decode(op, body).map(Box::new));
        let table: Option<Cow<'_, str>> = match input.as_deref().and_then(Input::table_name) {
            Some(name) => name
                .filter(|n| api::validate::is_table_name(n))
                .map(|n| Cow::Owned(n.to_owned())),
            None => crate::telemetry::table_named(op, body).map(Cow::Borrowed),
        };
        let result = match input {
            Some(input) => self.dispatch_input(input, body, from).await,
            // Boxed: the future of every operation is kept inline in this
            // one's, so the item operations' own would be as large as the
            // largest of all (table management, imports, restores) and be
            // copied whole into each box a caller puts it in.
            None => Box::pin(self.dispatch(op, body)).await,
        };
        self.observe(op, table.as_deref(), body, &result, start.elapsed());
        result
    }

    /// Like [`Store::dispatch`], for an input already decoded.
    async fn dispatch_input(
        &self,
        input: Box<Input>,
        body: &[u8],
        from: InProcess,
    ) -> ApiResult<Vec<u8>> {
        let origin = from.origin;
        match *input {
            Input::GetItem(i) => self.get_item(i),
            Input::PutItem(i) => self.put_item(i, origin, from.encoded_item).await,
            Input::UpdateItem(i) => self.update_item(i, origin).await,
            Input::DeleteItem(i) => self.delete_item(i, origin).await,
            Input::Query(i) => self.query(i),
            Input::Scan(i) => self.scan(i),
            Input::BatchGetItem(i) => self.batch_get_item(i),
            Input::BatchWriteItem(i) => self.batch_write_item(i).await,
            Input::TransactWriteItems(i) => {
                self.transact_write_items(i, partition_hash(body)).await
            }
        }
    }

    async fn dispatch(&self, op: Operation, body: &[u8]) -> ApiResult<Vec<u8>> {
        match op {
            Operation::CreateTable => self.create_table(api::decode(body)?).await,
            Operation::DescribeTable => self.describe_table(api::decode(body)?),
            Operation::ListTables => self.list_tables(api::decode(body)?),
            Operation::DeleteTable => self.delete_table(api::decode(body)?).await,
            Operation::UpdateTable => self.update_table(api::decode(body)?).await,
            Operation::PutItem => self.put_item(api::decode(body)?, None, None).await,
            Operation::GetItem => self.get_item(api::decode(body)?),
            Operation::DeleteItem => self.delete_item(api::decode(body)?, None).await,
            Operation::UpdateItem => self.update_item(api::decode(body)?, None).await,
            Operation::Query => self.query(api::decode(body)?),
            Operation::Scan => self.scan(api::decode(body)?),
            Operation::BatchGetItem => self.batch_get_item(api::decode(body)?),
            Operation::BatchWriteItem => self.batch_write_item(api::decode(body)?).await,
            Operation::TransactWriteItems => {
                self.transact_write_items(api::decode(body)?, partition_hash(body))
                    .await
            }
            Operation::TransactGetItems => self.transact_get_items(api::decode(body)?),
            Operation::ExecuteStatement => self.execute_statement(api::decode(body)?).await,
            Operation::BatchExecuteStatement => {
                self.batch_execute_statement(api::decode(body)?).await
            }
            Operation::ExecuteTransaction => {
                self.execute_transaction(api::decode(body)?, partition_hash(body))
                    .await
            }
            Operation::TagResource => self.tag_resource(api::decode(body)?).await,
            Operation::UntagResource => self.untag_resource(api::decode(body)?).await,
            Operation::ListTagsOfResource => self.list_tags_of_resource(api::decode(body)?),
            Operation::UpdateTimeToLive => self.update_time_to_live(api::decode(body)?).await,
            Operation::DescribeTimeToLive => self.describe_time_to_live(api::decode(body)?),
            Operation::ListStreams => self.list_streams(api::decode(body)?),
            Operation::DescribeStream => self.describe_stream(api::decode(body)?),
            Operation::GetShardIterator => self.get_shard_iterator(api::decode(body)?),
            Operation::GetRecords => self.get_records(api::decode(body)?),
            Operation::GetChanges => api::encode(&self.changes(api::decode(body)?).await?),
            Operation::DescribeLimits => self.describe_limits(),
            Operation::DescribeContinuousBackups => {
                self.describe_continuous_backups(api::decode(body)?)
            }
            Operation::ExportTableToPointInTime => {
                self.export_table_to_point_in_time(api::decode(body)?).await
            }
            Operation::DescribeExport => self.describe_export(api::decode(body)?),
            Operation::ListExports => self.list_exports(api::decode(body)?),
            Operation::ImportTable => self.import_table(api::decode(body)?).await,
            Operation::DescribeImport => self.describe_import(api::decode(body)?),
            Operation::ListImports => self.list_imports(api::decode(body)?),
            Operation::UpdateContinuousBackups => {
                self.update_continuous_backups(api::decode(body)?).await
            }
            Operation::RestoreTableToPointInTime => {
                self.restore_table_to_point_in_time(api::decode(body)?)
                    .await
            }
            Operation::CreateBackup => self.create_backup(api::decode(body)?).await,
            Operation::DescribeBackup => self.describe_backup(api::decode(body)?),
            Operation::ListBackups => self.list_backups(api::decode(body)?),
            Operation::DeleteBackup => self.delete_backup(api::decode(body)?),
            Operation::RestoreTableFromBackup => {
                self.restore_table_from_backup(api::decode(body)?).await
            }
            // The HTTP server answers with the request's Host; embedded callers
            // have no address of their own.
            Operation::DescribeEndpoints => self.describe_endpoints("localhost"),
            Operation::UpdateContributorInsights => {
                self.update_contributor_insights(api::decode(body)?).await
            }
            Operation::DescribeContributorInsights => {
                self.describe_contributor_insights(api::decode(body)?)
            }
            Operation::ListContributorInsights => {
                self.list_contributor_insights(api::decode(body)?)
            }
            other => Err(ApiError::new(
                ErrorCode::UnknownOperation,
                format!(
                    "Operation {} is not supported by this version of Ferrodyn",
                    other.name()
                ),
            )),
        }
    }
}

/// Map a write job's failure to the wire error.
fn abort_to_api(a: Abort<ApiError>) -> ApiError {
    match a {
        Abort::Op(e) => e,
        Abort::Engine(e) => ApiError::from(e),
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The store as the front end (or the proxy's embedded upstream) calls it.
impl Backend for Store {
    async fn call(&self, mut req: BackendRequest) -> BackendResponse {
        if req.op == Operation::DescribeEndpoints {
            // The endpoint is the address the client used.
            let host = req
                .headers
                .get(http::header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("localhost");
            return BackendResponse::from_result(self.describe_endpoints(host));
        }
        let from = InProcess {
            origin: req.origin,
            encoded_item: req.encoded_item.take(),
        };
        let (op, body, input) = req.into_decoded();
        BackendResponse::from_result(self.handle_decoded(op, &body, input, from).await)
    }

    fn health(&self) -> Health {
        Store::health(self)
    }
}
