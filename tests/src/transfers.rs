//! Helpers of the export and import tests: a store whose buckets are a
//! [`Buckets`], waiting for a job to end, and a whole table read back.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, ExportDescription, ExportStatus, ImportStatus,
    ImportTableDescription, KeySchemaElement, KeyType, ScalarAttributeType,
    TableCreationParameters,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_store::StoreConfig;

use crate::buckets::Buckets;
use crate::server::{TempDir, TestStore};
use crate::values::{sorted, Item};

/// How long an export or import of a test's size may take.
pub const JOB_PATIENCE: Duration = Duration::from_secs(120);

/// A store exporting to and importing from `buckets`.
pub async fn store_with(buckets: &Buckets) -> TestStore {
    let dir = TempDir::new("store");
    store_in(dir, buckets).await
}

/// A store on an existing data directory with `buckets`.
pub async fn store_in(dir: TempDir, buckets: &Buckets) -> TestStore {
    let mut config = StoreConfig::new(dir.path());
    config.transfer = buckets.config();
    TestStore::start_with(dir, config).await
}

/// DescribeExport until the export is no longer IN_PROGRESS.
pub async fn finished_export(client: &Client, arn: &str) -> ExportDescription {
    let start = std::time::Instant::now();
    loop {
        let d = client
            .describe_export()
            .export_arn(arn)
            .send()
            .await
            .expect("describe export")
            .export_description
            .expect("export description");
        if d.export_status() != Some(&ExportStatus::InProgress) {
            return d;
        }
        assert!(
            start.elapsed() < JOB_PATIENCE,
            "export still running: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// DescribeImport until the import is no longer IN_PROGRESS.
pub async fn finished_import(client: &Client, arn: &str) -> ImportTableDescription {
    let start = std::time::Instant::now();
    loop {
        let d = client
            .describe_import()
            .import_arn(arn)
            .send()
            .await
            .expect("describe import")
            .import_table_description
            .expect("import description");
        if d.import_status() != Some(&ImportStatus::InProgress) {
            return d;
        }
        assert!(
            start.elapsed() < JOB_PATIENCE,
            "import still running: {d:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every item of `table` (a full Scan), with sets sorted, in a stable order.
pub async fn all_items(client: &Client, table: &str) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        out.extend(page.items().iter().cloned());
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    let mut items: Vec<Item> = out
        .into_iter()
        .map(|i| i.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        .collect();
    items.sort_by_key(|i| format!("{:?}", sorted_pairs(i)));
    items
}

fn sorted_pairs(item: &Item) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = item
        .iter()
        .map(|(k, v)| (k.clone(), format!("{v:?}")))
        .collect();
    pairs.sort();
    pairs
}

/// TableCreationParameters of an on-demand table keyed by `pk` (of type `t`).
pub fn simple_table(name: &str, t: ScalarAttributeType) -> TableCreationParameters {
    TableCreationParameters::builder()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(t)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .build()
        .expect("table creation parameters")
}

/// Turn point-in-time recovery on for `table` (exports need it).
pub async fn enable_pitr(client: &Client, table: &str) {
    client
        .update_continuous_backups()
        .table_name(table)
        .point_in_time_recovery_specification(
            aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .expect("specification"),
        )
        .send()
        .await
        .expect("enable point-in-time recovery");
}
