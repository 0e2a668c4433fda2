//! Throttling tests' fixtures: a store on a manual clock with a chosen
//! capacity configuration, an SDK client that reports throttling instead of
//! retrying it, and one-line provisioned tables, puts and gets.

use std::sync::Arc;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue as Av, BillingMode, KeyType, ProvisionedThroughput, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_store::capacity::CapacityConfig;
use ferrodyn_store::clock::{Clock, ManualClock};
use ferrodyn_store::StoreConfig;

use crate::server::{TempDir, TestStore};
use crate::tables::{attribute, key_element};

pub const TABLE_MESSAGE: &str = "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.";
pub const INDEX_MESSAGE: &str = "The level of configured provisioned throughput for one or more global secondary indexes of the table was exceeded.";
pub const TABLE_ARN: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/";

/// A store on a manual clock with `capacity`.
pub async fn store(capacity: CapacityConfig) -> (TestStore, Arc<ManualClock>) {
    let dir = TempDir::new("throughput");
    let clock = ManualClock::new(1_700_000_000_000);
    let mut config = StoreConfig::new(dir.path());
    config.engine.clock = clock.clone() as Arc<dyn Clock>;
    config.capacity = capacity;
    (TestStore::start_with(dir, config).await, clock)
}

pub async fn enforcing() -> (TestStore, Arc<ManualClock>) {
    store(CapacityConfig::default()).await
}

/// A client that reports throttling instead of retrying it.
pub fn no_retry(server: &TestStore) -> Client {
    let config = server
        .client()
        .config()
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

pub fn throughput(read: i64, write: i64) -> ProvisionedThroughput {
    ProvisionedThroughput::builder()
        .read_capacity_units(read)
        .write_capacity_units(write)
        .build()
        .expect("throughput")
}

/// A provisioned table keyed by `p` (S).
pub async fn provisioned(client: &Client, name: &str, read: i64, write: i64) {
    client
        .create_table()
        .table_name(name)
        .key_schema(key_element("p", KeyType::Hash))
        .attribute_definitions(attribute("p", ScalarAttributeType::S))
        .billing_mode(BillingMode::Provisioned)
        .provisioned_throughput(throughput(read, write))
        .send()
        .await
        .expect("create table");
}

/// An item `{p: key, pad: <bytes>}` of about `bytes` bytes.
pub fn item(key: &str, bytes: usize) -> std::collections::HashMap<String, Av> {
    [
        ("p".to_owned(), Av::S(key.to_owned())),
        ("pad".to_owned(), Av::S("x".repeat(bytes.max(1)))),
    ]
    .into()
}

pub async fn put(client: &Client, table: &str, key: &str, bytes: usize) -> Result<(), String> {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item(key, bytes)))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            let e = e.into_service_error();
            format!(
                "{}: {}",
                e.code().unwrap_or_default(),
                e.message().unwrap_or_default()
            )
        })
}

pub async fn get(client: &Client, table: &str, key: &str) -> Result<(), String> {
    client
        .get_item()
        .table_name(table)
        .key("p", Av::S(key.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| e.into_service_error().code().unwrap_or_default().to_owned())
}

/// Strongly consistent reads of absent items (one RCU each) until one is
/// throttled; how many were admitted.
pub async fn reads_until_throttled(client: &Client, table: &str, at_most: usize) -> usize {
    for n in 0..at_most {
        if get(client, table, &format!("k{n}")).await.is_err() {
            return n;
        }
    }
    at_most
}
