//! Property: for random items and random supported WHERE clauses, a PartiQL
//! SELECT returns exactly the items a Scan with the equivalent
//! FilterExpression returns, whatever the planner made of it (GetItem,
//! Query on the table, or Scan).

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue as Av, ScalarAttributeType};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::{n, s, TableSpec, TestStore};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// A WHERE clause over the attributes `a` (number), `b` (string) and the
/// sort key `k` (number).
#[derive(Debug, Clone)]
enum Clause {
    Cmp(&'static str, &'static str, i64),
    CmpS(&'static str, &'static str),
    Between(&'static str, i64, i64),
    In(&'static str, Vec<i64>),
    BeginsWith(&'static str),
    Contains(&'static str),
    Missing(&'static str, bool),
    And(Box<Clause>, Box<Clause>),
    Or(Box<Clause>, Box<Clause>),
    Not(Box<Clause>),
}

fn clause() -> impl Strategy<Value = Clause> {
    let num_attr = prop_oneof![Just("a"), Just("k")];
    let op = prop_oneof![
        Just("="),
        Just("<>"),
        Just("<"),
        Just("<="),
        Just(">"),
        Just(">=")
    ];
    let leaf = prop_oneof![
        (num_attr.clone(), op.clone(), 0i64..12).prop_map(|(a, o, v)| Clause::Cmp(a, o, v)),
        (op, prop_oneof![Just("x"), Just("xy"), Just("yz")]).prop_map(|(o, v)| Clause::CmpS(o, v)),
        (num_attr.clone(), 0i64..12, 0i64..12).prop_map(|(a, x, y)| Clause::Between(
            a,
            x.min(y),
            x.max(y)
        )),
        (num_attr, prop::collection::vec(0i64..12, 1..4)).prop_map(|(a, v)| Clause::In(a, v)),
        prop_oneof![Just("x"), Just("y")].prop_map(Clause::BeginsWith),
        prop_oneof![Just("y"), Just("z")].prop_map(Clause::Contains),
        (prop_oneof![Just("a"), Just("b")], any::<bool>()).prop_map(|(a, n)| Clause::Missing(a, n)),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(x, y)| Clause::And(Box::new(x), Box::new(y))),
            (inner.clone(), inner.clone()).prop_map(|(x, y)| Clause::Or(Box::new(x), Box::new(y))),
            inner.prop_map(|x| Clause::Not(Box::new(x))),
        ]
    })
}

impl Clause {
    fn partiql(&self) -> String {
        match self {
            Clause::Cmp(a, o, v) => format!("{a} {o} {v}"),
            Clause::CmpS(o, v) => format!("b {o} '{v}'"),
            Clause::Between(a, x, y) => format!("{a} BETWEEN {x} AND {y}"),
            Clause::In(a, v) => format!(
                "{a} IN [{}]",
                v.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Clause::BeginsWith(p) => format!("begins_with(b, '{p}')"),
            Clause::Contains(p) => format!("contains(b, '{p}')"),
            Clause::Missing(a, false) => format!("{a} IS MISSING"),
            Clause::Missing(a, true) => format!("{a} IS NOT MISSING"),
            Clause::And(x, y) => format!("({}) AND ({})", x.partiql(), y.partiql()),
            Clause::Or(x, y) => format!("({}) OR ({})", x.partiql(), y.partiql()),
            Clause::Not(x) => format!("NOT ({})", x.partiql()),
        }
    }

    /// The FilterExpression, with its values added to `values`.
    fn filter(&self, values: &mut HashMap<String, Av>) -> String {
        let mut value = |v: Av| {
            let name = format!(":v{}", values.len());
            values.insert(name.clone(), v);
            name
        };
        match self {
            Clause::Cmp(a, o, v) => format!("{a} {o} {}", value(n(v))),
            Clause::CmpS(o, v) => format!("b {o} {}", value(s(v))),
            Clause::Between(a, x, y) => {
                let x = value(n(x));
                let y = value(n(y));
                format!("{a} BETWEEN {x} AND {y}")
            }
            Clause::In(a, v) => {
                let list: Vec<String> = v.iter().map(|x| value(n(x))).collect();
                format!("{a} IN ({})", list.join(", "))
            }
            Clause::BeginsWith(p) => format!("begins_with(b, {})", value(s(p))),
            Clause::Contains(p) => format!("contains(b, {})", value(s(p))),
            Clause::Missing(a, false) => format!("attribute_not_exists({a})"),
            Clause::Missing(a, true) => format!("attribute_exists({a})"),
            Clause::And(x, y) => format!("({}) AND ({})", x.filter(values), y.filter(values)),
            Clause::Or(x, y) => format!("({}) OR ({})", x.filter(values), y.filter(values)),
            Clause::Not(x) => format!("NOT ({})", x.filter(values)),
        }
    }
}

type Keys = BTreeSet<(String, String)>;

fn key_of(item: &HashMap<String, Av>) -> (String, String) {
    let p = item["p"].as_s().cloned().unwrap_or_default();
    let k = item["k"].as_n().cloned().unwrap_or_default();
    (p, k)
}

async fn partiql(client: &Client, statement: &str) -> Keys {
    let mut out = Keys::new();
    let mut token = None;
    loop {
        let page = client
            .execute_statement()
            .statement(statement)
            .limit(7)
            .set_next_token(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e:?}"));
        out.extend(page.items.unwrap_or_default().iter().map(key_of));
        token = page.next_token;
        if token.is_none() {
            return out;
        }
    }
}

async fn scan(client: &Client, partition: Option<&str>, c: &Clause) -> Keys {
    let mut values = HashMap::new();
    let mut filter = c.filter(&mut values);
    if let Some(p) = partition {
        values.insert(":part".into(), s(p));
        filter = format!("p = :part AND ({filter})");
    }
    let mut out = Keys::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name("prop")
            .filter_expression(&filter)
            .set_expression_attribute_values((!values.is_empty()).then(|| values.clone()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{filter}: {e:?}"));
        out.extend(page.items.unwrap_or_default().iter().map(key_of));
        start = page.last_evaluated_key;
        if start.is_none() {
            return out;
        }
    }
}

#[test]
fn partiql_select_returns_what_the_equivalent_scan_returns() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let store = rt.block_on(TestStore::start());
    let client = store.client();
    rt.block_on(async {
        TableSpec::new("prop")
            .hash("p", ScalarAttributeType::S)
            .range("k", ScalarAttributeType::N)
            .create(&client)
            .await;
    });
    // Random items: a random subset of keys, each with optional `a` and `b`.
    let mut runner = TestRunner::new(Config {
        cases: 32,
        ..Config::default()
    });
    let items = prop::collection::vec(
        (
            prop_oneof![Just("a"), Just("b"), Just("c")],
            0i64..12,
            prop::option::of(0i64..12),
            prop::option::of(prop_oneof![Just("x"), Just("xy"), Just("yz")]),
        ),
        20..60,
    );
    let cases = (
        items,
        clause(),
        prop::option::of(prop_oneof![Just("a"), Just("b")]),
    );
    runner
        .run(&cases, |(items, c, partition)| {
            rt.block_on(async {
                // Start from an empty table each case.
                for key in partiql(&client, "SELECT * FROM prop").await {
                    client
                        .execute_statement()
                        .statement(format!(
                            "DELETE FROM prop WHERE p = '{}' AND k = {}",
                            key.0, key.1
                        ))
                        .send()
                        .await
                        .expect("delete");
                }
                for (p, k, a, b) in &items {
                    let mut req = client
                        .put_item()
                        .table_name("prop")
                        .item("p", s(p))
                        .item("k", n(k));
                    if let Some(a) = a {
                        req = req.item("a", n(a));
                    }
                    if let Some(b) = b {
                        req = req.item("b", s(b));
                    }
                    req.send().await.expect("put");
                }
                let where_clause = match partition {
                    Some(p) => format!("p = '{p}' AND ({})", c.partiql()),
                    None => c.partiql(),
                };
                let statement = format!("SELECT * FROM \"prop\" WHERE {where_clause}");
                let got = partiql(&client, &statement).await;
                let want = scan(&client, partition, &c).await;
                prop_assert_eq!(got, want, "{}", statement);
                Ok(())
            })
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
