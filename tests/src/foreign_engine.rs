//! [`ForeignEngine`]: a DynamoDB-API endpoint that behaves the way other
//! engines do where Ferrodyn's own store does not, for the proxy's
//! foreign-upstream tests. Its tables and items are a real in-process
//! store's, and the records its streams show are that store's own stream
//! records; only the shape around them changes:
//!
//! * it offers no Ferrodyn change feed (`GetChanges` is an unknown
//!   operation), so the proxy follows it through the DynamoDB Streams API;
//! * with [`EngineOptions::require_signature`] it refuses any request
//!   without a SigV4 `Authorization` header, with
//!   `MissingAuthenticationTokenException`, and accepts any key, as
//!   emulators (Dynoxide, DynamoDB Local, LocalStack) do;
//! * with [`EngineOptions::shards_on_first_record`] a stream has no shard
//!   until its first record, as some engines create them;
//! * [`ForeignEngine::roll`] closes a stream's open shard and opens a child
//!   of it, as DynamoDB does over time (its periodic rollover, or a split);
//! * [`ForeignEngine::expire_iterators`] answers GetRecords with
//!   `ExpiredIteratorException`.
//!
//! Shards are numbered `shardId-00001`, `shardId-00002`, … per stream; the
//! records of the store's one shard go to the stream's open shard in the
//! order the store committed them, when any Streams call reads them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use ferrodyn_store::api::Operation;
use ferrodyn_store::server::{self, Backend, BackendRequest, BackendResponse};
use ferrodyn_store::Store;
use http::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::server::TestStore;

/// How the engine behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineOptions {
    pub require_signature: bool,
    pub shards_on_first_record: bool,
}

/// The engine, serving on `127.0.0.1:<port>` until dropped.
pub struct ForeignEngine {
    pub endpoint: String,
    shared: Arc<Shared>,
    _stop: tokio::sync::oneshot::Sender<()>,
    _store: TestStore,
}

impl ForeignEngine {
    pub async fn start(options: EngineOptions) -> ForeignEngine {
        let store = TestStore::start().await;
        let shared = Arc::new(Shared {
            store: store.store.clone(),
            options,
            streams: Mutex::new(HashMap::new()),
            children_asked: AtomicUsize::new(0),
            expire: AtomicUsize::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let backend = Engine(shared.clone());
        tokio::spawn(async move {
            let _ = server::serve(listener, backend, server::ServeOptions::default(), async {
                let _ = stopped.await;
            })
            .await;
        });
        ForeignEngine {
            endpoint,
            shared,
            _stop: stop,
            _store: store,
        }
    }

    /// Close the open shard of `stream_arn` and open a child of it; the
    /// records committed after this call go to the child.
    pub async fn roll(&self, stream_arn: &str) {
        self.shared.sync(stream_arn).await;
        let mut streams = self.shared.streams.lock().expect("streams");
        let stream = streams.get_mut(stream_arn).expect("a stream read before");
        let parent = stream.shards.iter_mut().rev().find(|s| !s.closed);
        let parent_id = parent.map(|p| {
            p.closed = true;
            p.id.clone()
        });
        stream.open_shard(parent_id);
    }

    /// Answer the next `calls` GetRecords with ExpiredIteratorException, as
    /// DynamoDB does for an iterator older than 15 minutes.
    pub fn expire_iterators(&self, calls: usize) {
        self.shared.expire.store(calls, Ordering::SeqCst);
    }

    /// DescribeStream calls that asked for a shard's children
    /// (`ShardFilter`).
    pub fn children_asked(&self) -> usize {
        self.shared.children_asked.load(Ordering::SeqCst)
    }

    /// How many shards `stream_arn` has shown so far.
    pub fn shard_count(&self, stream_arn: &str) -> usize {
        let streams = self.shared.streams.lock().expect("streams");
        streams.get(stream_arn).map_or(0, |s| s.shards.len())
    }
}

struct Shared {
    store: Store,
    options: EngineOptions,
    streams: Mutex<HashMap<String, ScriptedStream>>,
    /// DescribeStream calls with a `CHILD_SHARDS` ShardFilter.
    children_asked: AtomicUsize,
    /// GetRecords calls still to answer with ExpiredIteratorException.
    expire: AtomicUsize,
}

#[derive(Default)]
struct ScriptedStream {
    shards: Vec<ScriptedShard>,
    /// The store's own iterator, where the records not yet placed start.
    source: Option<String>,
}

struct ScriptedShard {
    id: String,
    parent: Option<String>,
    records: Vec<Value>,
    closed: bool,
}

impl ScriptedStream {
    fn open_shard(&mut self, parent: Option<String>) {
        let id = format!("shardId-{:05}", self.shards.len() + 1);
        self.shards.push(ScriptedShard {
            id,
            parent,
            records: Vec::new(),
            closed: false,
        });
    }

    fn shard(&self, id: &str) -> Option<&ScriptedShard> {
        self.shards.iter().find(|s| s.id == id)
    }
}

#[derive(Clone)]
struct Engine(Arc<Shared>);

fn error(kind: &str, namespace: &str, message: &str) -> BackendResponse {
    BackendResponse {
        status: StatusCode::BAD_REQUEST,
        body: Bytes::from(
            json!({"__type": format!("{namespace}#{kind}"), "message": message}).to_string(),
        ),
        crc32: None,
    }
}

fn no_such_shard() -> BackendResponse {
    error(
        "ResourceNotFoundException",
        "com.amazonaws.dynamodb.v20120810",
        "Requested resource not found: Shard does not exist",
    )
}

fn ok(body: Value) -> BackendResponse {
    BackendResponse {
        status: StatusCode::OK,
        body: Bytes::from(body.to_string()),
        crc32: None,
    }
}

impl Backend for Engine {
    async fn call(&self, req: BackendRequest) -> BackendResponse {
        let signed = req
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 Credential="));
        if self.0.options.require_signature && !signed {
            return error(
                "MissingAuthenticationTokenException",
                "com.amazon.coral.service",
                "Request is missing Authentication Token",
            );
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        match req.op {
            Operation::GetChanges => {
                error("UnknownOperationException", "com.amazon.coral.service", "")
            }
            Operation::DescribeStream => self.0.describe_stream(&body).await,
            Operation::GetShardIterator => self.0.shard_iterator(&body).await,
            Operation::GetRecords => self.0.records(&body).await,
            _ => self.0.store.call(req).await,
        }
    }
}

impl Shared {
    async fn store_call(&self, op: Operation, body: Value) -> Value {
        let resp = self
            .store
            .call(BackendRequest::new(
                op,
                http::HeaderMap::new(),
                Bytes::from(body.to_string()),
            ))
            .await;
        assert!(resp.status.is_success(), "the store refused {op:?}");
        serde_json::from_slice(&resp.body).expect("store answer")
    }

    /// Place the store's new records of `arn` in the stream's open shard.
    async fn sync(&self, arn: &str) {
        let source = {
            let streams = self.streams.lock().expect("streams");
            streams.get(arn).and_then(|s| s.source.clone())
        };
        let mut iterator = match source {
            Some(it) => it,
            None => {
                let desc = self
                    .store_call(Operation::DescribeStream, json!({"StreamArn": arn}))
                    .await;
                let shard = desc["StreamDescription"]["Shards"][0]["ShardId"]
                    .as_str()
                    .expect("the store's shard")
                    .to_owned();
                let it = self
                    .store_call(
                        Operation::GetShardIterator,
                        json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
                    )
                    .await;
                it["ShardIterator"].as_str().expect("iterator").to_owned()
            }
        };
        let mut fresh = Vec::new();
        loop {
            let page = self
                .store_call(Operation::GetRecords, json!({"ShardIterator": iterator}))
                .await;
            let records = page["Records"].as_array().cloned().unwrap_or_default();
            let done = records.is_empty();
            fresh.extend(records);
            match page["NextShardIterator"].as_str() {
                Some(next) => iterator = next.to_owned(),
                None => break,
            }
            if done {
                break;
            }
        }
        let mut streams = self.streams.lock().expect("streams");
        let stream = streams.entry(arn.to_owned()).or_default();
        stream.source = Some(iterator);
        let lazy = self.options.shards_on_first_record;
        if stream.shards.is_empty() && (!lazy || !fresh.is_empty()) {
            stream.open_shard(None);
        }
        if let Some(open) = stream.shards.iter_mut().rev().find(|s| !s.closed) {
            open.records.extend(fresh);
        }
    }

    async fn describe_stream(&self, body: &Value) -> BackendResponse {
        let Some(arn) = body["StreamArn"].as_str() else {
            return error(
                "ValidationException",
                "com.amazon.coral.validate",
                "StreamArn",
            );
        };
        self.sync(arn).await;
        let children_of = body["ShardFilter"]["ShardId"].as_str();
        if children_of.is_some() {
            self.children_asked.fetch_add(1, Ordering::SeqCst);
        }
        let streams = self.streams.lock().expect("streams");
        let stream = streams.get(arn).expect("synced");
        let shards: Vec<Value> = stream
            .shards
            .iter()
            .filter(|s| children_of.is_none_or(|p| s.parent.as_deref() == Some(p)))
            .map(|s| {
                let seq = |r: Option<&Value>| {
                    r.and_then(|r| r["dynamodb"]["SequenceNumber"].as_str())
                        .unwrap_or("0")
                        .to_owned()
                };
                let mut range = json!({"StartingSequenceNumber": seq(s.records.first())});
                if s.closed {
                    range["EndingSequenceNumber"] = json!(seq(s.records.last()));
                }
                let mut shard = json!({"ShardId": s.id, "SequenceNumberRange": range});
                if let Some(p) = &s.parent {
                    shard["ParentShardId"] = json!(p);
                }
                shard
            })
            .collect();
        ok(json!({"StreamDescription": {
            "StreamArn": arn, "StreamStatus": "ENABLED",
            "StreamViewType": "NEW_AND_OLD_IMAGES", "Shards": shards,
        }}))
    }

    async fn shard_iterator(&self, body: &Value) -> BackendResponse {
        let (Some(arn), Some(shard)) = (body["StreamArn"].as_str(), body["ShardId"].as_str())
        else {
            return error(
                "ValidationException",
                "com.amazon.coral.validate",
                "StreamArn, ShardId",
            );
        };
        self.sync(arn).await;
        let streams = self.streams.lock().expect("streams");
        let Some(s) = streams.get(arn).and_then(|s| s.shard(shard)) else {
            return no_such_shard();
        };
        let position = match body["ShardIteratorType"].as_str() {
            Some("TRIM_HORIZON") => 0,
            Some("LATEST") => s.records.len(),
            _ => {
                return error(
                    "ValidationException",
                    "com.amazon.coral.validate",
                    "only TRIM_HORIZON and LATEST",
                )
            }
        };
        ok(json!({"ShardIterator": format!("{arn}|{shard}|{position}")}))
    }

    async fn records(&self, body: &Value) -> BackendResponse {
        let expire = self
            .expire
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if expire.is_ok() {
            return error(
                "ExpiredIteratorException",
                "com.amazonaws.dynamodb.v20120810",
                "Iterator expired. The iterator was created over 15 minutes ago.",
            );
        }
        let text = body["ShardIterator"].as_str().unwrap_or_default();
        let mut parts = text.rsplitn(3, '|');
        let (Some(position), Some(shard), Some(arn)) = (parts.next(), parts.next(), parts.next())
        else {
            return error(
                "ValidationException",
                "com.amazon.coral.validate",
                "ShardIterator",
            );
        };
        let position: usize = position.parse().unwrap_or(0);
        let limit = body["Limit"].as_u64().unwrap_or(1000) as usize;
        self.sync(arn).await;
        let streams = self.streams.lock().expect("streams");
        let Some(s) = streams.get(arn).and_then(|s| s.shard(shard)) else {
            return no_such_shard();
        };
        let end = (position + limit).min(s.records.len());
        let records = &s.records[position.min(end)..end];
        let mut page = json!({"Records": records});
        if !(s.closed && end == s.records.len()) {
            page["NextShardIterator"] = json!(format!("{arn}|{shard}|{end}"));
        }
        ok(page)
    }
}
