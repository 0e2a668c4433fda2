//! Waiting on backups and restores, and reading a whole table or index for
//! comparison: what the backup and point-in-time recovery tests share.

use aws_sdk_dynamodb::types::{BackupStatus, TableStatus};
use aws_sdk_dynamodb::Client;

use crate::values::Item;
use crate::wait::{until, PATIENCE};

/// Waits until the backup `arn` is AVAILABLE.
pub async fn until_backup_available(client: &Client, arn: &str) {
    until(PATIENCE * 6, "backup AVAILABLE", || async {
        let out = client
            .describe_backup()
            .backup_arn(arn)
            .send()
            .await
            .expect("describe backup");
        out.backup_description()
            .and_then(|d| d.backup_details())
            .map(|d| d.backup_status())
            == Some(&BackupStatus::Available)
    })
    .await;
}

/// The status of table `name` (`None`: it does not exist).
pub async fn table_status(client: &Client, name: &str) -> Option<TableStatus> {
    match client.describe_table().table_name(name).send().await {
        Ok(out) => out.table().and_then(|t| t.table_status()).cloned(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            None
        }
        Err(e) => panic!("describe table {name}: {e:?}"),
    }
}

/// Waits until the restored table `name` is ACTIVE.
pub async fn until_table_active(client: &Client, name: &str) {
    until(PATIENCE * 6, "restored table ACTIVE", || async {
        table_status(client, name).await == Some(TableStatus::Active)
    })
    .await;
}

/// A stable rendering of an item, for sorting and comparing.
pub fn render(item: &Item) -> String {
    let mut pairs: Vec<(&String, String)> =
        item.iter().map(|(k, v)| (k, format!("{v:?}"))).collect();
    pairs.sort();
    format!("{pairs:?}")
}

/// Every item of `table` (or of its `index`), by consistent paged Scans,
/// sorted by [`render`].
pub async fn scan_all(client: &Client, table: &str, index: Option<&str>) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_index_name(index.map(str::to_owned))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        out.extend(page.items().iter().cloned());
        match page.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => break,
        }
    }
    out.sort_by_key(render);
    out
}

/// CreateBackup of `table` named `name`; returns the backup's ARN.
pub async fn backup(client: &Client, table: &str, name: &str) -> String {
    let out = client
        .create_backup()
        .table_name(table)
        .backup_name(name)
        .send()
        .await
        .expect("create backup");
    let d = out.backup_details().expect("details");
    assert_eq!(d.backup_name(), name);
    d.backup_arn().to_owned()
}

/// RestoreTableFromBackup into `target`; checks the answer says CREATING
/// and names the backup.
pub async fn restore(client: &Client, arn: &str, target: &str) {
    let out = client
        .restore_table_from_backup()
        .backup_arn(arn)
        .target_table_name(target)
        .send()
        .await
        .expect("restore");
    let t = out.table_description().expect("description");
    assert_eq!(t.table_status(), Some(&TableStatus::Creating));
    let summary = t.restore_summary().expect("restore summary");
    assert_eq!(summary.source_backup_arn(), Some(arn));
}
