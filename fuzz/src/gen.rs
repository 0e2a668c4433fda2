//! Generators of DynamoDB-shaped input: attribute values (DynamoDB JSON),
//! items and keys for the fuzz tables, and expressions with the names and
//! values they refer to.
//!
//! Everything is *valid-ish*: mostly well-formed, now and then wrong in one
//! place (a bad number, a wrong key type, an unused or missing reference),
//! so that inputs reach deep into the code instead of stopping at the first
//! check.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::rng::Rng;

/// The type of a key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    S,
    N,
    B,
}

impl KeyType {
    pub fn tag(self) -> &'static str {
        match self {
            KeyType::S => "S",
            KeyType::N => "N",
            KeyType::B => "B",
        }
    }
}

/// One of the tables the targets create before they start.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    pub table: &'static str,
    pub pk: (&'static str, KeyType),
    pub sk: Option<(&'static str, KeyType)>,
    /// A global secondary index: (name, partition attribute, its type).
    pub gsi: Option<(&'static str, &'static str, KeyType)>,
}

pub const SCHEMAS: [Schema; 3] = [
    Schema {
        table: "fz_hash",
        pk: ("pk", KeyType::S),
        sk: None,
        gsi: None,
    },
    Schema {
        table: "fz_range",
        pk: ("pk", KeyType::S),
        sk: Some(("sk", KeyType::N)),
        gsi: Some(("by_g", "g", KeyType::S)),
    },
    Schema {
        table: "fz_bin",
        pk: ("bk", KeyType::B),
        sk: Some(("sk", KeyType::S)),
        gsi: None,
    },
];

impl Schema {
    /// The CreateTable request for this table.
    pub fn create_request(&self) -> Value {
        let mut keys = vec![json!({"AttributeName": self.pk.0, "KeyType": "HASH"})];
        let mut defs = vec![json!({"AttributeName": self.pk.0, "AttributeType": self.pk.1.tag()})];
        if let Some((name, t)) = self.sk {
            keys.push(json!({"AttributeName": name, "KeyType": "RANGE"}));
            defs.push(json!({"AttributeName": name, "AttributeType": t.tag()}));
        }
        let mut req = json!({
            "TableName": self.table,
            "KeySchema": keys,
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        });
        if let Some((index, attr, t)) = self.gsi {
            defs.push(json!({"AttributeName": attr, "AttributeType": t.tag()}));
            req["GlobalSecondaryIndexes"] = json!([{
                "IndexName": index,
                "KeySchema": [{"AttributeName": attr, "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }]);
        }
        req["AttributeDefinitions"] = Value::Array(defs);
        req
    }

    pub fn key_names(&self) -> Vec<&'static str> {
        std::iter::once(self.pk.0)
            .chain(self.sk.map(|(n, _)| n))
            .collect()
    }
}

/// Non-key attribute names the generators use.
const ATTRS: [&str; 8] = ["a", "b", "c", "g", "list", "map", "n", "tags"];

/// Names an `#ref` may stand for: plain ones, key attributes, reserved
/// words, odd characters.
const REF_TARGETS: [&str; 10] = [
    "a", "pk", "sk", "g", "size", "status", "x.y", "é", "list", "map",
];

pub fn string(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => String::new(),
        1 => "é\u{1F600}\u{0}".to_owned(),
        2 => "x".repeat(rng.size(2000)),
        3 => {
            let n = rng.size(24);
            String::from_utf8_lossy(&rng.bytes(n)).into_owned()
        }
        4 => format!("k{}", rng.below(4)),
        _ => format!("v{}", rng.below(50)),
    }
}

pub fn number(rng: &mut Rng) -> String {
    const ODD: [&str; 22] = [
        "0",
        "-0",
        "1E+125",
        "9.9999999999999999999999999999999999999E+125",
        "1E126",
        "1E-130",
        "1E-131",
        "12345678901234567890123456789012345678",
        "123456789012345678901234567890123456789",
        "0.000000000000000000000000000000000000001",
        "-1e5",
        "1.5e-3",
        "00012",
        "1.",
        ".5",
        "+3",
        "1e",
        "NaN",
        "Infinity",
        "",
        " 1",
        "0x10",
    ];
    if rng.one_in(6) {
        rng.pick(&ODD).to_string()
    } else {
        let n = rng.below(2000) as i64 - 1000;
        match rng.below(3) {
            0 => n.to_string(),
            1 => format!("{n}.{}", rng.below(100)),
            _ => format!("{n}E{}", rng.below(20) as i64 - 10),
        }
    }
}

pub fn binary(rng: &mut Rng) -> String {
    if rng.one_in(15) {
        return rng.pick(&["@@", "YQ", "YQ==x", "", "===="]).to_string();
    }
    let n = rng.size(64);
    base64::engine::general_purpose::STANDARD.encode(rng.bytes(n))
}

/// A value nested `levels` deep (maps and lists), around the 32-level limit.
pub fn deep_value(rng: &mut Rng, levels: usize) -> Value {
    let mut v = json!({"S": "leaf"});
    for _ in 1..levels {
        v = if rng.one_in(2) {
            json!({ "M": { "d": v } })
        } else {
            json!({ "L": [v] })
        };
    }
    v
}

/// A value whose size is near a limit: the 400 KB item, the 1,024- and
/// 2,048-byte key attributes.
pub fn large_value(rng: &mut Rng) -> Value {
    let n = *rng.pick(&[1024, 1025, 2048, 2049, 200_000, 399_990, 409_600]);
    if rng.one_in(3) {
        json!({"B": base64::engine::general_purpose::STANDARD.encode(vec![7u8; n])})
    } else {
        json!({"S": "x".repeat(n)})
    }
}

/// Any attribute value, nesting at most `depth` more levels.
pub fn value(rng: &mut Rng, depth: usize) -> Value {
    if rng.one_in(60) {
        return if rng.one_in(2) {
            let levels = 28 + rng.below(8);
            deep_value(rng, levels)
        } else {
            large_value(rng)
        };
    }
    let pick = if depth == 0 {
        rng.below(9)
    } else {
        rng.below(13)
    };
    match pick {
        0 | 1 => json!({"S": string(rng)}),
        2 | 3 => json!({"N": number(rng)}),
        4 => json!({"B": binary(rng)}),
        5 => json!({"BOOL": rng.one_in(2)}),
        6 => json!({"NULL": !rng.one_in(20)}),
        7 => {
            let n = rng.size(5);
            json!({"SS": (0..n).map(|_| string(rng)).collect::<Vec<_>>()})
        }
        8 => {
            let n = rng.size(5);
            json!({"NS": (0..n).map(|_| number(rng)).collect::<Vec<_>>()})
        }
        9 => {
            let n = rng.size(3);
            json!({"BS": (0..n).map(|_| binary(rng)).collect::<Vec<_>>()})
        }
        10 => {
            let n = rng.size(6);
            json!({"L": (0..n).map(|_| value(rng, depth - 1)).collect::<Vec<_>>()})
        }
        11 => {
            let n = rng.size(6);
            let m: Map<String, Value> = (0..n)
                .map(|_| (rng.pick(&ATTRS).to_string(), value(rng, depth - 1)))
                .collect();
            json!({ "M": m })
        }
        _ => match rng.below(6) {
            // Shapes no value has.
            0 => json!({}),
            1 => json!({"S": 5}),
            2 => json!({"S": "a", "N": "1"}),
            3 => json!({"Q": "x"}),
            4 => json!({"NULL": false}),
            _ => json!(null),
        },
    }
}

/// A well-typed value for a key attribute of type `t` (now and then not).
pub fn key_value(rng: &mut Rng, t: KeyType) -> Value {
    if rng.one_in(25) {
        return value(rng, 1);
    }
    if rng.one_in(60) && t != KeyType::N {
        return large_value(rng);
    }
    match t {
        KeyType::S => json!({"S": format!("k{}", rng.below(40))}),
        KeyType::N => json!({"N": (rng.below(40) as i64 - 5).to_string()}),
        KeyType::B => {
            json!({"B": base64::engine::general_purpose::STANDARD.encode([rng.below(40) as u8])})
        }
    }
}

/// The primary key of an item of `schema`.
pub fn key(rng: &mut Rng, schema: &Schema) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(schema.pk.0.to_owned(), key_value(rng, schema.pk.1));
    if let Some((name, t)) = schema.sk {
        if !rng.one_in(30) {
            m.insert(name.to_owned(), key_value(rng, t));
        }
    }
    if rng.one_in(30) {
        m.insert("a".to_owned(), value(rng, 0));
    }
    m
}

/// A whole item of `schema`: its key and a few attributes.
pub fn item(rng: &mut Rng, schema: &Schema) -> Map<String, Value> {
    let mut m = key(rng, schema);
    for _ in 0..rng.size(6) {
        m.insert(rng.pick(&ATTRS).to_string(), value(rng, 3));
    }
    if let Some((_, attr, _)) = schema.gsi {
        if rng.one_in(2) {
            m.insert(attr.to_owned(), json!({"S": format!("g{}", rng.below(5))}));
        }
    }
    m
}

/// An item that the store must accept as it is: well-formed values only,
/// so a model can check what a read returns after the write.
pub fn clean_item(rng: &mut Rng, schema: &Schema) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(schema.pk.0.to_owned(), clean_key_value(rng, schema.pk.1));
    if let Some((name, t)) = schema.sk {
        m.insert(name.to_owned(), clean_key_value(rng, t));
    }
    for _ in 0..rng.size(4) {
        let v = match rng.below(5) {
            0 => json!({"S": format!("s{}", rng.below(100))}),
            1 => json!({"N": (rng.below(1000) as i64 - 500).to_string()}),
            2 => json!({"BOOL": rng.one_in(2)}),
            3 => json!({"L": [{"N": "1"}, {"S": "x"}]}),
            _ => json!({"M": {"inner": {"S": "y"}}}),
        };
        // Not `n`: the TTL attribute some cases enable, whose sweeper
        // would delete the item under the model's feet.
        m.insert(rng.pick(&["a", "b", "c"]).to_string(), v);
    }
    m
}

fn clean_key_value(rng: &mut Rng, t: KeyType) -> Value {
    match t {
        KeyType::S => json!({"S": format!("k{}", rng.below(40))}),
        KeyType::N => json!({"N": rng.below(40).to_string()}),
        KeyType::B => {
            json!({"B": base64::engine::general_purpose::STANDARD.encode([rng.below(40) as u8])})
        }
    }
}

/// An expression being written, with the `#names` and `:values` it used.
#[derive(Debug, Default)]
pub struct Refs {
    pub names: BTreeMap<String, String>,
    pub values: BTreeMap<String, Value>,
}

impl Refs {
    fn name(&mut self, rng: &mut Rng) -> String {
        if rng.one_in(3) {
            let r = format!("#n{}", rng.below(4));
            let target = rng.pick(&REF_TARGETS).to_string();
            self.names.entry(r.clone()).or_insert(target);
            r
        } else {
            rng.pick(&ATTRS).to_string()
        }
    }

    pub fn value(&mut self, rng: &mut Rng) -> String {
        let r = format!(":v{}", rng.below(6));
        if !self.values.contains_key(&r) {
            let v = value(rng, 2);
            self.values.insert(r.clone(), v);
        }
        r
    }

    pub fn path(&mut self, rng: &mut Rng) -> String {
        let mut p = self.name(rng);
        for _ in 0..rng.size(3) {
            if rng.one_in(2) {
                p.push('.');
                p.push_str(&self.name(rng));
            } else {
                p.push_str(&format!("[{}]", rng.below(4)));
            }
        }
        p
    }

    fn operand(&mut self, rng: &mut Rng) -> String {
        match rng.below(5) {
            0 | 1 => self.path(rng),
            2 | 3 => self.value(rng),
            _ => format!("size({})", self.path(rng)),
        }
    }

    pub fn condition(&mut self, rng: &mut Rng, depth: usize) -> String {
        let top = if depth == 0 { 6 } else { 9 };
        match rng.below(top) {
            0 | 1 => {
                let op = rng.pick(&["=", "<>", "<", "<=", ">", ">="]);
                format!("{} {op} {}", self.operand(rng), self.operand(rng))
            }
            2 => format!(
                "{} BETWEEN {} AND {}",
                self.operand(rng),
                self.operand(rng),
                self.operand(rng)
            ),
            3 => {
                let n = 1 + rng.size(4);
                let list: Vec<String> = (0..n).map(|_| self.operand(rng)).collect();
                format!("{} IN ({})", self.operand(rng), list.join(", "))
            }
            4 => match rng.below(5) {
                0 => format!("attribute_exists({})", self.path(rng)),
                1 => format!("attribute_not_exists({})", self.path(rng)),
                2 => format!("attribute_type({}, {})", self.path(rng), self.value(rng)),
                3 => format!("begins_with({}, {})", self.path(rng), self.operand(rng)),
                _ => format!("contains({}, {})", self.path(rng), self.operand(rng)),
            },
            5 => format!("size({}) > {}", self.path(rng), self.value(rng)),
            6 => format!("NOT {}", self.condition(rng, depth - 1)),
            7 => format!("({})", self.condition(rng, depth - 1)),
            _ => {
                let op = rng.pick(&["AND", "OR"]);
                format!(
                    "{} {op} {}",
                    self.condition(rng, depth - 1),
                    self.condition(rng, depth - 1)
                )
            }
        }
    }

    fn set_value(&mut self, rng: &mut Rng) -> String {
        match rng.below(6) {
            0 => format!("{} + {}", self.operand(rng), self.operand(rng)),
            1 => format!("{} - {}", self.operand(rng), self.operand(rng)),
            2 => format!("if_not_exists({}, {})", self.path(rng), self.operand(rng)),
            3 => format!("list_append({}, {})", self.operand(rng), self.operand(rng)),
            _ => self.operand(rng),
        }
    }

    pub fn update(&mut self, rng: &mut Rng) -> String {
        let mut clauses = Vec::new();
        for _ in 0..1 + rng.size(3) {
            let n = 1 + rng.size(3);
            let clause = match rng.below(4) {
                0 => {
                    let actions: Vec<String> = (0..n)
                        .map(|_| format!("{} = {}", self.path(rng), self.set_value(rng)))
                        .collect();
                    format!("SET {}", actions.join(", "))
                }
                1 => {
                    let paths: Vec<String> = (0..n).map(|_| self.path(rng)).collect();
                    format!("REMOVE {}", paths.join(", "))
                }
                2 => format!("ADD {} {}", self.path(rng), self.value(rng)),
                _ => format!("DELETE {} {}", self.path(rng), self.value(rng)),
            };
            clauses.push(clause);
        }
        clauses.join(" ")
    }

    pub fn projection(&mut self, rng: &mut Rng) -> String {
        let n = 1 + rng.size(5);
        let paths: Vec<String> = (0..n).map(|_| self.path(rng)).collect();
        paths.join(", ")
    }

    /// A key condition on `schema` (or on its index when `index` is set).
    pub fn key_condition(&mut self, rng: &mut Rng, pk: &str, sk: Option<&str>) -> String {
        let pk = if rng.one_in(3) {
            let r = "#pk".to_owned();
            self.names.insert(r.clone(), pk.to_owned());
            r
        } else {
            pk.to_owned()
        };
        let mut text = format!("{pk} = {}", self.value(rng));
        if let Some(sk) = sk {
            if rng.one_in(2) {
                let cond = match rng.below(3) {
                    0 => format!("begins_with({sk}, {})", self.value(rng)),
                    1 => format!("{sk} BETWEEN {} AND {}", self.value(rng), self.value(rng)),
                    _ => format!(
                        "{sk} {} {}",
                        rng.pick(&["=", "<", "<=", ">", ">="]),
                        self.value(rng)
                    ),
                };
                text = format!("{text} AND {cond}");
            }
        }
        if rng.one_in(10) {
            text = self.condition(rng, 2);
        }
        text
    }

    /// Puts the maps into `request`: usually exactly what was used, now and
    /// then with one reference left out, one unused, or an empty map.
    pub fn attach(mut self, rng: &mut Rng, request: &mut Map<String, Value>) {
        match rng.below(12) {
            0 => {
                self.names.pop_first();
            }
            1 => {
                self.values.pop_last();
            }
            2 => {
                self.names.insert("#unused".to_owned(), "u".to_owned());
            }
            3 => {
                self.values.insert(":unused".to_owned(), json!({"S": "u"}));
            }
            _ => {}
        }
        if !self.names.is_empty() || rng.one_in(40) {
            let names: Map<String, Value> = self
                .names
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            request.insert("ExpressionAttributeNames".to_owned(), Value::Object(names));
        }
        if !self.values.is_empty() || rng.one_in(40) {
            let values: Map<String, Value> = self.values.into_iter().collect();
            request.insert(
                "ExpressionAttributeValues".to_owned(),
                Value::Object(values),
            );
        }
    }
}
