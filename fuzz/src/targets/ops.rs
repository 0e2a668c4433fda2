//! Target (d): whole requests. Valid-ish operations (Put, Get, Update,
//! Delete, Query, Scan, batches, transactions, table management, the change
//! feed), sometimes damaged, run against an in-process store through the
//! same `Backend::call` the HTTP front end uses, each in its own task with
//! a time limit. Invariants: no panic, no hang, every answer is 200 or a
//! DynamoDB error with its type's HTTP status, never an internal error.
//!
//! The same target runs through an embedded `ferrodyn` proxy over HTTP
//! ([`Ops::start_proxy`]): then the model check reads with eventually
//! consistent GetItems, twice (the second may be a cache hit), since a read
//! through a proxy is never older than a write acknowledged by it.
//!
//! One case in five is a model check instead: a clean item is put, read
//! back with a consistent GetItem (it must be exactly what was written),
//! updated with `ReturnValues: ALL_NEW` (the read must equal the returned
//! item) and deleted (the read must find nothing).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use ferrodyn_store::api::Operation;
use ferrodyn_store::model::Item;
use ferrodyn_store::server::{Backend, BackendRequest};
use ferrodyn_store::{Store, StoreConfig};
use serde_json::{json, Map, Value};

use crate::gen::{self, Schema, SCHEMAS};
use crate::mutate;
use crate::requests::{request, target, OPERATIONS};
use crate::rng::Rng;
use crate::runner::{show_bytes, Case, Target};
use crate::targets::http::{exchange, parse_answer, well_formed, CASE_LIMIT};
use crate::targets::{check_error_body, volume_full};

/// How long one request may take.
pub const REQUEST_LIMIT: Duration = Duration::from_secs(20);

/// Where requests go.
enum Via {
    Store(Store),
    /// An embedded `ferrodyn` serving on this address.
    Proxy(SocketAddr),
}

pub struct Ops {
    via: Via,
    /// Stops the proxy when dropped.
    _stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Ops {
    pub async fn start() -> anyhow::Result<Ops> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(&StoreConfig::new(dir.path()))?;
        for schema in &SCHEMAS {
            let body = serde_json::to_vec(&schema.create_request())?;
            store
                .handle(Operation::CreateTable, &body)
                .await
                .map_err(|e| anyhow::anyhow!("create {}: {}", schema.table, e.message))?;
        }
        Ok(Ops {
            via: Via::Store(store),
            _stop: None,
            _dir: dir,
        })
    }

    /// Start an embedded `ferrodyn` (proxy and store) on an ephemeral port
    /// and create the fuzz tables through it.
    pub async fn start_proxy() -> anyhow::Result<Ops> {
        let dir = tempfile::tempdir()?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let config = ferrodyn_proxy::Config::new(dir.path());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            if let Err(e) = ferrodyn_proxy::run(listener, None, config, shutdown).await {
                eprintln!("ferrodyn-fuzz: the proxy stopped: {e}");
            }
        });
        let ops = Ops {
            via: Via::Proxy(addr),
            _stop: Some(tx),
            _dir: dir,
        };
        for schema in &SCHEMAS {
            let body = serde_json::to_vec(&schema.create_request())?;
            match ops.call(Operation::CreateTable, body).await {
                Ok((200, _)) => {}
                other => anyhow::bail!("create {} through the proxy: {other:?}", schema.table),
            }
        }
        Ok(ops)
    }

    /// One request in its own task (or over HTTP to the proxy); (status,
    /// body) or a problem.
    async fn call(&self, op: Operation, body: Vec<u8>) -> Result<(u16, Bytes), String> {
        let store = match &self.via {
            Via::Store(store) => store.clone(),
            Via::Proxy(addr) => {
                let request = well_formed(*addr, &target(op), &body, "");
                return match exchange(*addr, &request, false).await {
                    None => Err(format!("{} took longer than {CASE_LIMIT:?}", op.name())),
                    Some(answer) => match parse_answer(&answer) {
                        Some((status, body)) => Ok((status, Bytes::from(body))),
                        None => Err(format!(
                            "{}: not an HTTP answer: {}",
                            op.name(),
                            show_bytes(&answer)
                        )),
                    },
                };
            }
        };
        let req = BackendRequest::new(op, http::HeaderMap::new(), Bytes::from(body));
        let task = tokio::spawn(async move { store.call(req).await });
        match tokio::time::timeout(REQUEST_LIMIT, task).await {
            Err(_) => Err(format!("{} took longer than {REQUEST_LIMIT:?}", op.name())),
            Ok(Err(e)) if e.is_panic() => Err(format!("{} panicked", op.name())),
            Ok(Err(e)) => Err(format!("{} task failed: {e}", op.name())),
            Ok(Ok(resp)) => Ok((resp.status.as_u16(), resp.body)),
        }
    }

    /// Call and check the answer's shape; the body of a 200.
    async fn checked(&self, op: Operation, body: Vec<u8>, case: &mut Case) -> Option<Value> {
        match self.call(op, body).await {
            Err(problem) => {
                case.fail(problem);
                None
            }
            Ok((200, body)) => match serde_json::from_slice(&body) {
                Ok(v) => {
                    case.accepted = true;
                    Some(v)
                }
                Err(e) => {
                    case.fail(format!(
                        "200 answer is not JSON ({e}): {}",
                        show_bytes(&body)
                    ));
                    None
                }
            },
            Ok((status, body)) => {
                if let Some(problem) = check_error_body(status, &body) {
                    case.fail(format!("{}: {problem}", op.name()));
                }
                None
            }
        }
    }

    async fn model_check(&self, rng: &mut Rng, case: &mut Case) {
        let schema = rng.pick(&SCHEMAS);
        let item = gen::clean_item(rng, schema);
        let key: Map<String, Value> = schema
            .key_names()
            .into_iter()
            .filter_map(|k| Some((k.to_owned(), item.get(k)?.clone())))
            .collect();
        case.input = format!(
            "model check on {}: {}",
            schema.table,
            Value::Object(item.clone())
        );
        let put = json!({"TableName": schema.table, "Item": item});
        if self
            .must_succeed(Operation::PutItem, &put, case)
            .await
            .is_none()
        {
            return;
        }
        self.expect_item(schema, &key, Some(&item), "after PutItem", case)
            .await;
        let update = json!({
            "TableName": schema.table,
            "Key": key,
            "UpdateExpression": "SET a = :a ADD c :one",
            "ExpressionAttributeValues": {":a": {"S": format!("u{}", rng.below(9))}, ":one": {"N": "1"}},
            "ReturnValues": "ALL_NEW",
        });
        let Some(updated) = self
            .must_succeed(Operation::UpdateItem, &update, case)
            .await
        else {
            return;
        };
        let Some(Value::Object(new)) = updated.get("Attributes").cloned() else {
            // `c` may hold a non-number: then ADD fails and nothing is checked.
            return;
        };
        self.expect_item(schema, &key, Some(&new), "after UpdateItem", case)
            .await;
        if rng.one_in(2) {
            let delete = json!({"TableName": schema.table, "Key": key});
            if self
                .must_succeed(Operation::DeleteItem, &delete, case)
                .await
                .is_some()
            {
                self.expect_item(schema, &key, None, "after DeleteItem", case)
                    .await;
            }
        }
    }

    /// A request that must succeed (or fail only as a condition on data
    /// another case left, which returns None without a finding).
    async fn must_succeed(&self, op: Operation, body: &Value, case: &mut Case) -> Option<Value> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        match self.call(op, bytes).await {
            Err(problem) => {
                case.fail(problem);
                None
            }
            Ok((200, b)) => serde_json::from_slice(&b).ok(),
            Ok((status, b)) => {
                let text = String::from_utf8_lossy(&b);
                // ADD on an attribute another case set to a non-number.
                let refused = op == Operation::UpdateItem && text.contains("ValidationException");
                if !refused && !volume_full(&text) {
                    case.fail(format!(
                        "{} of a clean request failed: {status} {text}",
                        op.name()
                    ));
                }
                None
            }
        }
    }

    async fn expect_item(
        &self,
        schema: &Schema,
        key: &Map<String, Value>,
        expected: Option<&Map<String, Value>>,
        when: &str,
        case: &mut Case,
    ) {
        let table = schema.table;
        let proxy = matches!(self.via, Via::Proxy(..));
        let get = json!({"TableName": table, "Key": key, "ConsistentRead": !proxy});
        for read in 0..1 + usize::from(proxy) {
            let Some(answer) = self.must_succeed(Operation::GetItem, &get, case).await else {
                return;
            };
            let found = answer.get("Item").map(decode_item);
            let wanted = expected.map(|m| decode_item(&Value::Object(m.clone())));
            if found != wanted {
                case.fail(format!(
                    "{when}: GetItem {read} returned {:?}, expected {wanted:?}",
                    answer.get("Item")
                ));
            }
        }
        // The item's partition through Query (the proxy's query cache).
        let pk = schema.pk.0;
        let query = json!({
            "TableName": table,
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": pk},
            "ExpressionAttributeValues": {":p": key.get(pk)},
            "ConsistentRead": !proxy,
        });
        for read in 0..1 + usize::from(proxy) {
            let Some(answer) = self.must_succeed(Operation::Query, &query, case).await else {
                return;
            };
            let items = answer.get("Items").and_then(Value::as_array);
            let found = items.into_iter().flatten().find(|item| {
                key.iter()
                    .all(|(name, v)| item.get(name).map(decode_value) == Some(decode_value(v)))
            });
            let complete = answer.get("LastEvaluatedKey").is_none();
            let found = found.map(decode_item);
            let wanted = expected.map(|m| decode_item(&Value::Object(m.clone())));
            if (complete || found.is_some()) && found != wanted {
                case.fail(format!(
                    "{when}: Query {read} found {found:?}, expected {wanted:?}"
                ));
            }
        }
    }
}

fn decode_value(v: &Value) -> Option<ferrodyn_store::model::AttributeValue> {
    serde_json::from_value(v.clone()).ok()
}

impl Ops {
    /// Several UpdateItems on one item that nest it deeper or make it
    /// larger step by step, past the 32-level and 400 KB limits: each step
    /// must succeed or be refused with a DynamoDB error, and a consistent
    /// read must always find an item within the limits.
    async fn growth_chain(&self, rng: &mut Rng, case: &mut Case) {
        let schema = rng.pick(&SCHEMAS);
        let item = gen::clean_item(rng, schema);
        let key: Map<String, Value> = schema
            .key_names()
            .into_iter()
            .filter_map(|k| Some((k.to_owned(), item.get(k)?.clone())))
            .collect();
        let mut steps = Vec::new();
        let put = json!({"TableName": schema.table, "Item": item});
        if self
            .must_succeed(Operation::PutItem, &put, case)
            .await
            .is_none()
        {
            return;
        }
        let deep = rng.one_in(2);
        let mut path = "d".to_owned();
        for step in 0..4 + rng.below(8) {
            let (expr, value) = if deep {
                let levels = 4 + rng.below(8);
                let v = gen::deep_value(rng, levels);
                let text = format!("SET {path} = :v");
                path = format!("{path}.d");
                for _ in 1..levels {
                    // Follow the map branch only: a list level ends the path.
                    path.push_str(".d");
                }
                (text, v)
            } else {
                let n = 30_000 + rng.below(70_000);
                let text = "SET big = list_append(if_not_exists(big, :empty), :v)".to_owned();
                (text, json!({"L": [{"S": "y".repeat(n)}]}))
            };
            let mut values = json!({ ":v": value });
            if !deep {
                values[":empty"] = json!({"L": []});
            }
            let update = json!({
                "TableName": schema.table,
                "Key": key,
                "UpdateExpression": expr,
                "ExpressionAttributeValues": values,
            });
            let body = serde_json::to_vec(&update).unwrap_or_default();
            steps.push(format!("step {step}: {expr}"));
            let answered = self.checked(Operation::UpdateItem, body, case).await;
            if case.problem.is_some() || answered.is_none() {
                break;
            }
        }
        let get = json!({"TableName": schema.table, "Key": key, "ConsistentRead": true});
        let body = serde_json::to_vec(&get).unwrap_or_default();
        if let Some(answer) = self.checked(Operation::GetItem, body, case).await {
            let size = answer.to_string().len();
            let depth = answer.get("Item").map_or(0, |i| nesting(i) / 2);
            if depth > 34 || size > 600_000 {
                case.fail(format!(
                    "the item grew past the limits: depth {depth}, {size} bytes of JSON"
                ));
            }
        }
        case.input = format!("growth chain on {}: {}", schema.table, steps.join("; "));
    }
}

/// JSON nesting depth of `v`.
fn nesting(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(nesting).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(nesting).max().unwrap_or(0),
        _ => 0,
    }
}

fn decode_item(v: &Value) -> Option<Item> {
    serde_json::from_value(v.clone()).ok()
}

impl Target for Ops {
    fn name(&self) -> &'static str {
        match self.via {
            Via::Store(_) => "ops",
            Via::Proxy(..) => "proxy",
        }
    }

    async fn run_case(&mut self, rng: &mut Rng) -> Case {
        let mut case = Case::default();
        if rng.one_in(5) {
            self.model_check(rng, &mut case).await;
            case.accepted = case.problem.is_none();
            return case;
        }
        if rng.one_in(20) {
            self.growth_chain(rng, &mut case).await;
            return case;
        }
        let op = *rng.pick(&OPERATIONS);
        let mut v = request(rng, op);
        if rng.one_in(4) {
            mutate::json(rng, &mut v);
        }
        let mut body = serde_json::to_vec(&v).unwrap_or_default();
        if rng.one_in(8) {
            mutate::bytes(rng, &mut body);
        }
        case.input = format!("{} {}", op.name(), show_bytes(&body));
        self.checked(op, body, &mut case).await;
        case
    }
}
