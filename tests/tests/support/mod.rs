//! Helpers shared by the expression test files (`condition_expression.rs`,
//! `update_expression.rs`, …): a one-call table, short `AttributeValue`
//! constructors, and the error assertion that checks DynamoDB's error type
//! and message together.
//!
//! Each test file is its own crate and uses only some of these, hence the
//! `dead_code` allowance.
#![allow(dead_code)]

use std::collections::HashMap;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;

pub type Item = HashMap<String, Av>;

/// Creates an on-demand table keyed by the string attribute `p`.
pub async fn table(client: &Client, name: &str) {
    client
        .create_table()
        .table_name(name)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("p")
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("p")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
}

/// Puts `item` (which must include `p`).
pub async fn put(client: &Client, table: &str, item: Item) {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .expect("put item");
}

/// The whole item stored under `p = key`, if any.
pub async fn get(client: &Client, table: &str, key: &str) -> Option<Item> {
    client
        .get_item()
        .table_name(table)
        .key("p", s(key))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item
}

/// Builds an item from `(name, value)` pairs.
pub fn item<const N: usize>(pairs: [(&str, Av); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

pub fn s(v: &str) -> Av {
    Av::S(v.to_owned())
}

pub fn n(v: &str) -> Av {
    Av::N(v.to_owned())
}

pub fn b(v: &[u8]) -> Av {
    Av::B(Blob::new(v.to_vec()))
}

pub fn ss(v: &[&str]) -> Av {
    Av::Ss(v.iter().map(|x| (*x).to_owned()).collect())
}

pub fn ns(v: &[&str]) -> Av {
    Av::Ns(v.iter().map(|x| (*x).to_owned()).collect())
}

pub fn bs(v: &[&[u8]]) -> Av {
    Av::Bs(v.iter().map(|x| Blob::new(x.to_vec())).collect())
}

pub fn l(v: Vec<Av>) -> Av {
    Av::L(v)
}

pub fn m<const N: usize>(pairs: [(&str, Av); N]) -> Av {
    Av::M(item(pairs))
}

/// Sorts the members of a set so that sets compare regardless of order.
pub fn sorted(v: Av) -> Av {
    match v {
        Av::Ss(mut x) => {
            x.sort();
            Av::Ss(x)
        }
        Av::Ns(mut x) => {
            x.sort_by(|a, b| {
                let a: f64 = a.parse().expect("number");
                let b: f64 = b.parse().expect("number");
                a.total_cmp(&b)
            });
            Av::Ns(x)
        }
        Av::Bs(mut x) => {
            x.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
            Av::Bs(x)
        }
        other => other,
    }
}

/// Asserts that `err` is DynamoDB's error `code` and that its message
/// contains `needle`.
pub fn assert_error<E: ProvideErrorMetadata + std::fmt::Debug>(err: &E, code: &str, needle: &str) {
    assert_eq!(err.code(), Some(code), "{err:?}");
    let message = err.message().unwrap_or_default();
    assert!(
        message.contains(needle),
        "message {message:?} lacks {needle:?}"
    );
}

/// Asserts a ValidationException whose message is exactly `message`.
pub fn assert_validation<E: ProvideErrorMetadata + std::fmt::Debug>(err: &E, message: &str) {
    assert_eq!(err.code(), Some("ValidationException"), "{err:?}");
    assert_eq!(err.message(), Some(message), "{err:?}");
}
