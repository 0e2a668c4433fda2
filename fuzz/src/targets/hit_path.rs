//! Target `hitpath`: the proxy's read of a GetItem at the edge of its
//! stack (`ferrodyn_proxy::read_request::get_item`), which answers cache
//! hits without the full decode and, for the usual request, without a
//! JSON parser at all. Differential: whenever it accepts a body, the
//! store's own decode of the same body must accept it too and agree on the
//! table, on the key (the cache's canonical form is the key decoded and
//! encoded again) and on the read being eventually consistent with no
//! capacity report.

use bytes::Bytes;
use ferrodyn_store::api::{self, types::GetItemInput};
use serde_json::{json, Map, Value};

use crate::mutate;
use crate::rng::Rng;
use crate::runner::{show_bytes, Case, Target};

pub struct HitPath;

/// Strings that are hard to get right by hand: escapes, quotes, unicode.
fn key_string(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => "a\"b".to_owned(),
        1 => "back\\slash".to_owned(),
        2 => "é\u{1F600}".to_owned(),
        3 => "\u{0}\u{1f}".to_owned(),
        4 => String::new(),
        _ => format!("k{}", rng.below(50)),
    }
}

fn key_number(rng: &mut Rng) -> String {
    rng.pick(&[
        "0",
        "-0",
        "1",
        "-1",
        "01",
        "1.0",
        "1e2",
        "100",
        "1E+2",
        "0.5",
        "-0.0",
        "12345678901234567890123456789012345678",
        "123456789012345678901234567890123456789",
        "99999999999999999999999999999999999999",
        "1.5",
        "+1",
        " 1",
        "1 ",
    ])
    .to_string()
}

fn body(rng: &mut Rng) -> Vec<u8> {
    let mut key = Map::new();
    for _ in 0..1 + rng.below(2) {
        let name = rng.pick(&["pk", "sk", "a", "Pk", "p\"k", "é"]).to_string();
        let v = match rng.below(5) {
            0 | 1 => json!({"S": key_string(rng)}),
            2 | 3 => json!({"N": key_number(rng)}),
            _ => json!({"B": "AAE="}),
        };
        key.insert(name, v);
    }
    let mut req = Map::new();
    req.insert(
        "TableName".to_owned(),
        json!(rng.pick(&["fz_hash", "fz\"x", "t"]).to_string()),
    );
    req.insert("Key".to_owned(), Value::Object(key));
    if rng.one_in(3) {
        req.insert("ConsistentRead".to_owned(), json!(rng.one_in(4)));
    }
    if rng.one_in(4) {
        req.insert(
            "ReturnConsumedCapacity".to_owned(),
            json!(rng.pick(&["NONE", "TOTAL", "INDEXES"]).to_string()),
        );
    }
    if rng.one_in(5) {
        req.insert("ProjectionExpression".to_owned(), json!("a, #n"));
        req.insert("ExpressionAttributeNames".to_owned(), json!({"#n": "b"}));
    }
    let mut text = serde_json::to_vec(&Value::Object(req)).unwrap_or_default();
    match rng.below(4) {
        0 => mutate::bytes(rng, &mut text),
        1 => {
            // Members in another order, or one twice.
            let s = String::from_utf8_lossy(&text).into_owned();
            let s = s.replacen(
                "{\"Key\"",
                "{\"TableName\":\"other\",\"Key\"",
                usize::from(rng.one_in(2)),
            );
            text = s.into_bytes();
        }
        _ => {}
    }
    text
}

impl Target for HitPath {
    fn name(&self) -> &'static str {
        "hitpath"
    }

    async fn run_case(&mut self, rng: &mut Rng) -> Case {
        let body = Bytes::from(body(rng));
        let mut case = Case::new(show_bytes(&body));
        let Some(read) = ferrodyn_proxy::read_request::get_item(&body) else {
            return case;
        };
        case.accepted = true;
        let input: GetItemInput = match api::decode(&body) {
            Ok(i) => i,
            Err(e) => {
                case.fail(format!(
                    "the hit path accepts a GetItem the store refuses: {} {}",
                    e.code.as_str(),
                    e.message
                ));
                return case;
            }
        };
        if input.table_name.as_deref() != Some(&*read.table) {
            case.fail(format!(
                "table: hit path {:?}, store {:?}",
                read.table, input.table_name
            ));
        }
        let canonical = input
            .key
            .as_ref()
            .and_then(|k| serde_json::to_vec(k).ok())
            .unwrap_or_default();
        if read.key[..] != canonical[..] {
            case.fail(format!(
                "key: hit path {}, store {}",
                show_bytes(&read.key),
                show_bytes(&canonical)
            ));
        }
        if input.consistent_read == Some(true) {
            case.fail("the hit path accepts a strongly consistent read");
        }
        if !matches!(
            input.return_consumed_capacity.as_deref(),
            None | Some("NONE")
        ) {
            case.fail("the hit path accepts a request for consumed capacity");
        }
        case
    }
}
