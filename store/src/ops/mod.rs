//! Operations: one module per family, each turning a typed input into a
//! response body, using the engine for storage and `expr` for expressions.
//!
//! [`Store`] is the whole store as a callable service: the HTTP server and
//! the embedding proxy both call [`Store::handle`].

mod batch;
mod capacity;
mod item;
mod query;
mod read_request;
mod table;
mod transact;

use std::path::PathBuf;

use crate::api::{self, ApiError, ApiResult, ErrorCode, Operation};
use crate::engine::{Abort, Engine, EngineError, EngineOptions};
use crate::model::key::partition_hash;

/// Store configuration.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    pub engine: EngineOptions,
}

impl StoreConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            data_dir: data_dir.into(),
            engine: EngineOptions::default(),
        }
    }
}

/// The store: engine plus operations. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    engine: Engine,
    /// TransactWriteItems' remembered ClientRequestTokens.
    tokens: std::sync::Arc<transact::Tokens>,
}

impl Store {
    pub fn open(config: &StoreConfig) -> Result<Store, EngineError> {
        let engine = Engine::open(&config.data_dir, config.engine.clone())?;
        Ok(Store {
            engine,
            tokens: Default::default(),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Execute one request: `body` is the raw JSON of the request.
    pub async fn handle(&self, op: Operation, body: &[u8]) -> ApiResult<Vec<u8>> {
        match op {
            Operation::CreateTable => self.create_table(api::decode(body)?).await,
            Operation::DescribeTable => self.describe_table(api::decode(body)?),
            Operation::ListTables => self.list_tables(api::decode(body)?),
            Operation::DeleteTable => self.delete_table(api::decode(body)?).await,
            Operation::UpdateTable => self.update_table(api::decode(body)?).await,
            Operation::PutItem => self.put_item(api::decode(body)?).await,
            Operation::GetItem => self.get_item(api::decode(body)?),
            Operation::DeleteItem => self.delete_item(api::decode(body)?).await,
            Operation::UpdateItem => self.update_item(api::decode(body)?).await,
            Operation::Query => self.query(api::decode(body)?),
            Operation::Scan => self.scan(api::decode(body)?),
            Operation::BatchGetItem => self.batch_get_item(api::decode(body)?),
            Operation::BatchWriteItem => self.batch_write_item(api::decode(body)?).await,
            Operation::TransactWriteItems => {
                self.transact_write_items(api::decode(body)?, partition_hash(body))
                    .await
            }
            Operation::TransactGetItems => self.transact_get_items(api::decode(body)?),
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
