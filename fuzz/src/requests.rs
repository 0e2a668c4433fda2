//! Whole requests: a valid-ish JSON body for each data-plane and
//! control-plane operation, aimed at the fuzz tables ([`SCHEMAS`]).

use ferrodyn_store::api::Operation;
use serde_json::{json, Map, Value};

use crate::gen::{self, Refs, Schema, SCHEMAS};
use crate::rng::Rng;

/// The operations the generators write requests for.
pub const OPERATIONS: [Operation; 20] = [
    Operation::PutItem,
    Operation::PutItem,
    Operation::GetItem,
    Operation::UpdateItem,
    Operation::UpdateItem,
    Operation::DeleteItem,
    Operation::Query,
    Operation::Scan,
    Operation::BatchGetItem,
    Operation::BatchWriteItem,
    Operation::TransactWriteItems,
    Operation::TransactGetItems,
    Operation::CreateTable,
    Operation::DeleteTable,
    Operation::DescribeTable,
    Operation::UpdateTable,
    Operation::ListTables,
    Operation::UpdateTimeToLive,
    Operation::ListStreams,
    Operation::GetChanges,
];

/// The `X-Amz-Target` header value of `op`.
pub fn target(op: Operation) -> String {
    let prefix = match op {
        Operation::ListStreams
        | Operation::DescribeStream
        | Operation::GetShardIterator
        | Operation::GetRecords => ferrodyn_store::api::operation::STREAMS_PREFIX,
        Operation::GetChanges => ferrodyn_store::api::operation::FEED_PREFIX,
        _ => ferrodyn_store::api::operation::DYNAMODB_PREFIX,
    };
    format!("{prefix}{}", op.name())
}

/// Table names: the fuzz tables, ones that do not exist, invalid ones.
fn table_name(rng: &mut Rng, schema: &Schema) -> Value {
    match rng.below(40) {
        0 => json!("fz_missing"),
        1 => json!("a"),
        2 => json!("bad name!"),
        3 => json!("t".repeat(300)),
        4 => json!(""),
        _ => json!(schema.table),
    }
}

fn schema(rng: &mut Rng) -> &'static Schema {
    rng.pick(&SCHEMAS)
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn maybe(rng: &mut Rng, m: &mut Map<String, Value>, key: &str, choices: &[&str]) {
    if rng.one_in(3) {
        m.insert(key.to_owned(), json!(rng.pick(choices)));
    }
}

/// A request for `op`.
pub fn request(rng: &mut Rng, op: Operation) -> Value {
    let s = schema(rng);
    let table = table_name(rng, s);
    let body = match op {
        Operation::PutItem => {
            let mut m = obj(json!({"TableName": table, "Item": gen::item(rng, s)}));
            if rng.one_in(3) {
                let mut refs = Refs::default();
                let c = refs.condition(rng, 2);
                m.insert("ConditionExpression".to_owned(), json!(c));
                refs.attach(rng, &mut m);
            }
            maybe(
                rng,
                &mut m,
                "ReturnValues",
                &["NONE", "ALL_OLD", "ALL_NEW", "bogus"],
            );
            maybe(
                rng,
                &mut m,
                "ReturnValuesOnConditionCheckFailure",
                &["ALL_OLD", "NONE"],
            );
            m
        }
        Operation::GetItem => {
            let mut m = obj(json!({"TableName": table, "Key": gen::key(rng, s)}));
            if rng.one_in(2) {
                let mut refs = Refs::default();
                let p = refs.projection(rng);
                m.insert("ProjectionExpression".to_owned(), json!(p));
                refs.attach(rng, &mut m);
            }
            if rng.one_in(2) {
                m.insert("ConsistentRead".to_owned(), json!(rng.one_in(2)));
            }
            m
        }
        Operation::UpdateItem => {
            let mut m = obj(json!({"TableName": table, "Key": gen::key(rng, s)}));
            let mut refs = Refs::default();
            let u = refs.update(rng);
            m.insert("UpdateExpression".to_owned(), json!(u));
            if rng.one_in(3) {
                let c = refs.condition(rng, 2);
                m.insert("ConditionExpression".to_owned(), json!(c));
            }
            refs.attach(rng, &mut m);
            maybe(
                rng,
                &mut m,
                "ReturnValues",
                &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"],
            );
            m
        }
        Operation::DeleteItem => {
            let mut m = obj(json!({"TableName": table, "Key": gen::key(rng, s)}));
            if rng.one_in(3) {
                let mut refs = Refs::default();
                let c = refs.condition(rng, 2);
                m.insert("ConditionExpression".to_owned(), json!(c));
                refs.attach(rng, &mut m);
            }
            maybe(rng, &mut m, "ReturnValues", &["NONE", "ALL_OLD"]);
            m
        }
        Operation::Query | Operation::Scan => search(rng, op, s, table),
        Operation::BatchGetItem => {
            let n = 1 + rng.size(5);
            let keys: Vec<Value> = (0..n).map(|_| Value::Object(gen::key(rng, s))).collect();
            let mut per_table = obj(json!({"Keys": keys}));
            if rng.one_in(3) {
                per_table.insert("ConsistentRead".to_owned(), json!(true));
            }
            json_map(json!({"RequestItems": {s.table: per_table}}))
        }
        Operation::BatchWriteItem => {
            let n = if rng.one_in(10) {
                25 + rng.below(2)
            } else {
                1 + rng.size(8)
            };
            let writes: Vec<Value> = (0..n)
                .map(|_| {
                    if rng.one_in(3) {
                        json!({"DeleteRequest": {"Key": gen::key(rng, s)}})
                    } else {
                        json!({"PutRequest": {"Item": gen::item(rng, s)}})
                    }
                })
                .collect();
            json_map(json!({"RequestItems": {s.table: writes}}))
        }
        Operation::TransactWriteItems => {
            let n = if rng.one_in(10) {
                100 + rng.below(2)
            } else {
                1 + rng.size(5)
            };
            let mut items: Vec<Value> = (0..n).map(|_| transact_write(rng)).collect();
            if rng.one_in(5) {
                // Two actions on one item.
                let twin = items[rng.below(items.len())].clone();
                items.push(twin);
            }
            let mut m = obj(json!({"TransactItems": items}));
            if rng.one_in(4) {
                m.insert(
                    "ClientRequestToken".to_owned(),
                    json!(format!("tok{}", rng.below(3))),
                );
            }
            m
        }
        Operation::TransactGetItems => {
            let n = 1 + rng.size(5);
            let items: Vec<Value> = (0..n)
                .map(|_| {
                    let s = schema(rng);
                    json!({"Get": {"TableName": s.table, "Key": gen::key(rng, s)}})
                })
                .collect();
            json_map(json!({ "TransactItems": items }))
        }
        Operation::CreateTable => {
            let mut req = rng.pick(&SCHEMAS).create_request();
            req["TableName"] = json!(format!("fz_tmp{}", rng.below(3)));
            json_map(req)
        }
        Operation::DeleteTable => json_map(json!({"TableName": format!("fz_tmp{}", rng.below(4))})),
        Operation::DescribeTable => json_map(json!({ "TableName": table })),
        Operation::UpdateTable => json_map(json!({
            "TableName": format!("fz_tmp{}", rng.below(3)),
            "StreamSpecification": {"StreamEnabled": rng.one_in(2), "StreamViewType": "KEYS_ONLY"},
        })),
        Operation::ListTables => {
            json_map(json!({"Limit": rng.below(120), "ExclusiveStartTableName": "fz_hash"}))
        }
        Operation::UpdateTimeToLive => json_map(json!({
            "TableName": table,
            "TimeToLiveSpecification": {"Enabled": rng.one_in(2), "AttributeName": "n"},
        })),
        Operation::ListStreams => json_map(json!({ "TableName": table })),
        Operation::GetChanges => json_map(json!({
            "Cursor": rng.next_u64() % 1000,
            "Limit": rng.below(50),
            "WaitMs": 0,
        })),
        _ => Map::new(),
    };
    Value::Object(body)
}

fn json_map(v: Value) -> Map<String, Value> {
    obj(v)
}

fn search(rng: &mut Rng, op: Operation, s: &Schema, table: Value) -> Map<String, Value> {
    let mut m = obj(json!({ "TableName": table }));
    let mut refs = Refs::default();
    let use_index = s.gsi.is_some() && rng.one_in(3);
    if op == Operation::Query {
        let text = match (use_index, s.gsi) {
            (true, Some((index, attr, _))) => {
                m.insert("IndexName".to_owned(), json!(index));
                refs.key_condition(rng, attr, None)
            }
            _ => refs.key_condition(rng, s.pk.0, s.sk.map(|(n, _)| n)),
        };
        m.insert("KeyConditionExpression".to_owned(), json!(text));
        maybe(rng, &mut m, "ScanIndexForward", &["x"]);
        if rng.one_in(2) {
            m.insert("ScanIndexForward".to_owned(), json!(rng.one_in(2)));
        }
    } else if let (true, Some((index, _, _))) = (use_index, s.gsi) {
        m.insert("IndexName".to_owned(), json!(index));
    }
    if rng.one_in(2) {
        let f = refs.condition(rng, 2);
        m.insert("FilterExpression".to_owned(), json!(f));
    }
    if rng.one_in(3) {
        let p = refs.projection(rng);
        m.insert("ProjectionExpression".to_owned(), json!(p));
    }
    refs.attach(rng, &mut m);
    if rng.one_in(2) {
        m.insert("Limit".to_owned(), json!(rng.below(12)));
    }
    maybe(
        rng,
        &mut m,
        "Select",
        &[
            "ALL_ATTRIBUTES",
            "COUNT",
            "SPECIFIC_ATTRIBUTES",
            "ALL_PROJECTED_ATTRIBUTES",
        ],
    );
    if rng.one_in(4) {
        m.insert(
            "ExclusiveStartKey".to_owned(),
            Value::Object(gen::key(rng, s)),
        );
    }
    if op == Operation::Scan && rng.one_in(4) {
        let total = 1 + rng.below(4);
        m.insert("TotalSegments".to_owned(), json!(total));
        m.insert("Segment".to_owned(), json!(rng.below(total + 1)));
    }
    if rng.one_in(3) {
        m.insert("ConsistentRead".to_owned(), json!(rng.one_in(2)));
    }
    m
}

fn transact_write(rng: &mut Rng) -> Value {
    let s = schema(rng);
    let mut refs = Refs::default();
    let mut m = obj(json!({ "TableName": s.table }));
    let kind = match rng.below(4) {
        0 => {
            m.insert("Item".to_owned(), Value::Object(gen::item(rng, s)));
            if rng.one_in(3) {
                let c = refs.condition(rng, 1);
                m.insert("ConditionExpression".to_owned(), json!(c));
            }
            "Put"
        }
        1 => {
            m.insert("Key".to_owned(), Value::Object(gen::key(rng, s)));
            let u = refs.update(rng);
            m.insert("UpdateExpression".to_owned(), json!(u));
            "Update"
        }
        2 => {
            m.insert("Key".to_owned(), Value::Object(gen::key(rng, s)));
            "Delete"
        }
        _ => {
            m.insert("Key".to_owned(), Value::Object(gen::key(rng, s)));
            let c = refs.condition(rng, 1);
            m.insert("ConditionExpression".to_owned(), json!(c));
            "ConditionCheck"
        }
    };
    refs.attach(rng, &mut m);
    json!({ kind: m })
}
