//! End-to-end tests of the expression engine: text + names/values + item
//! through the public API, checked against DynamoDB's behaviour and messages
//! (as recorded by black-box tests run against DynamoDB). One file per
//! topic; this one holds the shared helpers.

use std::collections::HashMap;

use bytes::Bytes;

use super::*;
use crate::model::number::Number;
use crate::model::value::{AttributeValue, Item};

mod evaluate;
mod legacy;
mod parse;
mod query;
mod resolve;
mod update;

/// A condition text, its values, and the expected message.
type Case<'a> = (&'a str, Vec<(&'a str, AttributeValue)>, &'a str);

// ---- value helpers ------------------------------------------------------

fn n(x: i64) -> AttributeValue {
    AttributeValue::N(Number::from_i64(x))
}

fn nd(x: &str) -> AttributeValue {
    match Number::parse(x) {
        Ok(v) => AttributeValue::N(v),
        Err(e) => panic!("bad number {x}: {e}"),
    }
}

fn s(x: &str) -> AttributeValue {
    AttributeValue::S(x.to_string())
}

fn b(x: &[u8]) -> AttributeValue {
    AttributeValue::B(Bytes::copy_from_slice(x))
}

fn l(v: Vec<AttributeValue>) -> AttributeValue {
    AttributeValue::L(v)
}

fn m(pairs: &[(&str, AttributeValue)]) -> AttributeValue {
    AttributeValue::M(item(pairs))
}

fn ss(v: &[&str]) -> AttributeValue {
    AttributeValue::Ss(v.iter().map(|x| x.to_string()).collect())
}

fn ns(v: &[i64]) -> AttributeValue {
    AttributeValue::Ns(v.iter().map(|x| Number::from_i64(*x)).collect())
}

fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

// ---- request helper -----------------------------------------------------

/// One request's ExpressionAttributeNames/Values.
struct Req {
    names: Option<HashMap<String, String>>,
    values: Option<HashMap<String, AttributeValue>>,
}

fn req(names: &[(&str, &str)], values: &[(&str, AttributeValue)]) -> Req {
    Req {
        names: (!names.is_empty()).then(|| {
            names
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        }),
        values: (!values.is_empty()).then(|| {
            values
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        }),
    }
}

fn vals(values: &[(&str, AttributeValue)]) -> Req {
    req(&[], values)
}

fn none() -> Req {
    req(&[], &[])
}

impl Req {
    fn resolver(&self) -> Result<Resolver<'_>, String> {
        Resolver::new(self.names.as_ref(), self.values.as_ref()).map_err(|e| e.0)
    }

    fn condition(&self, text: &str) -> Result<Condition, String> {
        let mut r = self.resolver()?;
        let c = r.condition(text).map_err(|e| e.0)?;
        r.finish().map_err(|e| e.0)?;
        Ok(c)
    }

    fn check(&self, text: &str, it: &Item) -> Result<bool, String> {
        self.condition(text)?.evaluate(it).map_err(|e| e.0)
    }

    fn update(&self, text: &str) -> Result<Update, String> {
        let mut r = self.resolver()?;
        let u = r.update(text).map_err(|e| e.0)?;
        r.finish().map_err(|e| e.0)?;
        Ok(u)
    }

    fn apply(&self, text: &str, old: &Item) -> Result<Item, String> {
        self.update(text)?.apply(old, &["p"]).map_err(|e| e.0)
    }

    fn project(&self, text: &str, it: &Item) -> Result<Item, String> {
        let mut r = self.resolver()?;
        let p = r.projection(text).map_err(|e| e.0)?;
        r.finish().map_err(|e| e.0)?;
        Ok(p.apply(it))
    }

    fn key(&self, text: &str) -> Result<KeyCondition, String> {
        let key = KeyNames {
            partition: vec!["p".into()],
            sort: vec!["c".into()],
        };
        let mut r = self.resolver()?;
        let k = r.key_condition(text, &key).map_err(|e| e.0)?;
        r.finish().map_err(|e| e.0)?;
        Ok(k)
    }
}

fn err<T: std::fmt::Debug>(r: Result<T, String>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

fn parse_err(kind: Kind, text: &str) -> String {
    match parse(kind, text) {
        Ok(a) => panic!("parsed {text:?} as {a}"),
        Err(e) => e.0,
    }
}
