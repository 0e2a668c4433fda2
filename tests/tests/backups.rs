//! On-demand backups through the SDK: CreateBackup, DescribeBackup,
//! ListBackups, DeleteBackup and RestoreTableFromBackup, their errors, and
//! what a restored table holds.

use aws_sdk_dynamodb::primitives::DateTime;
use aws_sdk_dynamodb::types::ScalarAttributeType as T;
use aws_sdk_dynamodb::types::{
    BackupStatus, BackupTypeFilter, BillingMode, ProvisionedThroughput, TableStatus,
};
use ferrodyn_store::api::Operation;
use ferrodyn_tests::backups::{
    backup, restore, scan_all, table_status, until_backup_available, until_table_active,
};
use ferrodyn_tests::wait::{until, PATIENCE};
use ferrodyn_tests::{assert_error, create_table, item, n, s, IndexSpec, TableSpec, TestStore};

#[tokio::test]
async fn backup_operations_answer_dynamodb_errors() {
    let store = TestStore::start().await;
    let client = store.client();
    create_table(&client, "tab1").await;
    let e = client
        .create_backup()
        .table_name("missing")
        .backup_name("bkp1")
        .send()
        .await
        .expect_err("missing table");
    assert_error(&e, "TableNotFoundException", "Table not found: missing");
    let e = client
        .create_backup()
        .table_name("tab1")
        .backup_name("no spaces")
        .send()
        .await
        .expect_err("bad name");
    assert_error(&e, "ValidationException", "at 'backupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
    let e = client
        .create_backup()
        .table_name("tab1")
        .send()
        .await
        .expect_err("no name");
    assert_error(
        &e,
        "ValidationException",
        "Value null at 'backupName' failed to satisfy constraint: Member must not be null",
    );

    let unknown =
        "arn:aws:dynamodb:us-east-1:000000000000:table/tab1/backup/01700000000000-0123abcd";
    let e = client
        .describe_backup()
        .backup_arn(unknown)
        .send()
        .await
        .expect_err("unknown");
    assert_error(&e, "BackupNotFoundException", unknown);
    let e = client
        .delete_backup()
        .backup_arn(unknown)
        .send()
        .await
        .expect_err("unknown");
    assert_error(&e, "BackupNotFoundException", unknown);
    let e = client
        .restore_table_from_backup()
        .backup_arn(unknown)
        .target_table_name("tab2")
        .send()
        .await
        .expect_err("unknown");
    assert_error(&e, "BackupNotFoundException", unknown);
    let e = client
        .describe_backup()
        .backup_arn("short")
        .send()
        .await
        .expect_err("short arn");
    assert_error(
        &e,
        "ValidationException",
        "Member must have length greater than or equal to 37",
    );

    let arn = backup(&client, "tab1", "bkp1").await;
    assert!(
        arn.starts_with("arn:aws:dynamodb:us-east-1:000000000000:table/tab1/backup/"),
        "{arn}"
    );
    let tail = arn.rsplit('/').next().unwrap_or_default();
    let (millis, hex) = tail.split_once('-').expect("millis-hex");
    assert!(
        millis.len() >= 13 && millis.bytes().all(|b| b.is_ascii_digit()),
        "{tail}"
    );
    assert!(
        hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{tail}"
    );
    until_backup_available(&client, &arn).await;
    let e = client
        .restore_table_from_backup()
        .backup_arn(&arn)
        .target_table_name("tab1")
        .send()
        .await
        .expect_err("exists");
    assert_error(
        &e,
        "TableAlreadyExistsException",
        "Table already exists: tab1",
    );
    let e = client
        .list_backups()
        .limit(0)
        .send()
        .await
        .expect_err("limit");
    assert_error(
        &e,
        "ValidationException",
        "Member must have value greater than or equal to 1",
    );
    let e = client
        .restore_table_from_backup()
        .backup_arn(&arn)
        .target_table_name("tab3")
        .billing_mode_override(BillingMode::from("FREE"))
        .send()
        .await
        .expect_err("bad billing mode");
    assert_error(
        &e,
        "ValidationException",
        "Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
    );
    assert_eq!(
        table_status(&client, "tab3").await,
        None,
        "a refused restore creates nothing"
    );
}

#[tokio::test]
async fn list_backups_filters_by_table_time_and_type_and_pages() {
    let store = TestStore::start().await;
    let client = store.client();
    create_table(&client, "alpha").await;
    create_table(&client, "beta").await;
    let mut alpha = Vec::new();
    for k in 0..3 {
        alpha.push(backup(&client, "alpha", &format!("bk-a{k}")).await);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let beta = backup(&client, "beta", "bk-b0").await;
    let mut all = alpha.clone();
    all.push(beta.clone());
    for arn in &all {
        until_backup_available(&client, arn).await;
    }
    // Pages of two, in table then creation order.
    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = client
            .list_backups()
            .limit(2)
            .set_exclusive_start_backup_arn(start)
            .send()
            .await
            .expect("list");
        assert!(page.backup_summaries().len() <= 2);
        seen.extend(
            page.backup_summaries()
                .iter()
                .filter_map(|b| b.backup_arn().map(str::to_owned)),
        );
        match page.last_evaluated_backup_arn() {
            Some(a) => start = Some(a.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, all);
    let only_beta = client
        .list_backups()
        .table_name("beta")
        .send()
        .await
        .expect("list");
    let s0 = &only_beta.backup_summaries()[0];
    assert_eq!(only_beta.backup_summaries().len(), 1);
    assert_eq!(
        (s0.backup_arn(), s0.table_name()),
        (Some(beta.as_str()), Some("beta"))
    );
    assert_eq!(s0.backup_status(), Some(&BackupStatus::Available));
    assert!(s0.backup_size_bytes().is_some());
    // A time range holding only the second alpha backup (a few ms wide:
    // creation times travel as fractional seconds, so a client's reading
    // may be a millisecond off).
    let described = client
        .describe_backup()
        .backup_arn(&alpha[1])
        .send()
        .await
        .expect("describe");
    let created = described
        .backup_description()
        .and_then(|d| d.backup_details())
        .map(|d| d.backup_creation_date_time().to_millis().expect("millis"))
        .expect("creation time");
    let ranged = client
        .list_backups()
        .table_name("alpha")
        .time_range_lower_bound(DateTime::from_millis(created - 2))
        .time_range_upper_bound(DateTime::from_millis(created + 2))
        .send()
        .await
        .expect("list");
    let arns: Vec<_> = ranged
        .backup_summaries()
        .iter()
        .filter_map(|b| b.backup_arn())
        .collect();
    assert_eq!(arns, vec![alpha[1].as_str()]);
    let system = client
        .list_backups()
        .backup_type(BackupTypeFilter::System)
        .send()
        .await
        .expect("list");
    assert!(system.backup_summaries().is_empty());
    let user = client
        .list_backups()
        .backup_type(BackupTypeFilter::User)
        .send()
        .await
        .expect("list");
    assert_eq!(user.backup_summaries().len(), 4);
}

#[tokio::test]
async fn backups_outlive_their_table_and_a_restart_and_delete_backup_removes_them() {
    let store = TestStore::start().await;
    let client = store.client();
    create_table(&client, "gone").await;
    ferrodyn_tests::items::put(&client, "gone", item([("p", s("k")), ("v", n(1))])).await;
    let arn = backup(&client, "gone", "keep").await;
    until_backup_available(&client, &arn).await;
    client
        .delete_table()
        .table_name("gone")
        .send()
        .await
        .expect("delete table");
    let dir = store.stop().await;
    let store = TestStore::start_in(dir).await;
    let client = store.client();
    let listed = client.list_backups().send().await.expect("list");
    assert_eq!(listed.backup_summaries().len(), 1);
    // Restored under the deleted table's own name.
    restore(&client, &arn, "gone").await;
    until_table_active(&client, "gone").await;
    assert_eq!(
        scan_all(&client, "gone", None).await,
        vec![item([("p", s("k")), ("v", n(1))])]
    );
    let deleted = client
        .delete_backup()
        .backup_arn(&arn)
        .send()
        .await
        .expect("delete backup");
    assert_eq!(
        deleted
            .backup_description()
            .and_then(|d| d.backup_details())
            .map(|d| d.backup_status()),
        Some(&BackupStatus::Deleted)
    );
    let e = client
        .describe_backup()
        .backup_arn(&arn)
        .send()
        .await
        .expect_err("deleted");
    assert_error(&e, "BackupNotFoundException", &arn);
    assert!(client
        .list_backups()
        .send()
        .await
        .expect("list")
        .backup_summaries()
        .is_empty());
    let files = std::fs::read_dir(store.dir.path().join("backups"))
        .expect("backup dir")
        .count();
    assert_eq!(files, 0, "a deleted backup leaves no files");
}

#[tokio::test]
async fn restore_overrides_change_billing_indexes_and_encryption() {
    let store = TestStore::start().await;
    let client = store.client();
    TableSpec::new("over")
        .hash("p", T::S)
        .range("s", T::N)
        .lsi(IndexSpec::new("byL").hash("p", T::S).range("l", T::N))
        .gsi(IndexSpec::new("byG").hash("g", T::S))
        .create(&client)
        .await;
    ferrodyn_tests::items::put(
        &client,
        "over",
        item([("p", s("a")), ("s", n(1)), ("l", n(2)), ("g", s("x"))]),
    )
    .await;
    let arn = backup(&client, "over", "ovr").await;
    until_backup_available(&client, &arn).await;
    client
        .restore_table_from_backup()
        .backup_arn(&arn)
        .target_table_name("over2")
        .billing_mode_override(BillingMode::Provisioned)
        .provisioned_throughput_override(
            ProvisionedThroughput::builder()
                .read_capacity_units(7)
                .write_capacity_units(3)
                .build()
                .expect("pt"),
        )
        .set_global_secondary_index_override(Some(Vec::new()))
        .set_local_secondary_index_override(Some(Vec::new()))
        .sse_specification_override(
            aws_sdk_dynamodb::types::SseSpecification::builder()
                .enabled(true)
                .build(),
        )
        .send()
        .await
        .expect("restore with overrides");
    until_table_active(&client, "over2").await;
    let t = client
        .describe_table()
        .table_name("over2")
        .send()
        .await
        .expect("describe");
    let t = t.table().expect("table");
    assert!(t.global_secondary_indexes().is_empty());
    assert!(t.local_secondary_indexes().is_empty());
    let pt = t.provisioned_throughput().expect("throughput");
    assert_eq!(
        (pt.read_capacity_units(), pt.write_capacity_units()),
        (Some(7), Some(3))
    );
    assert_eq!(
        t.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&BillingMode::Provisioned)
    );
    assert!(t.sse_description().is_some());
    assert_eq!(scan_all(&client, "over2", None).await.len(), 1);
    let e = client
        .scan()
        .table_name("over2")
        .index_name("byG")
        .send()
        .await
        .expect_err("no index");
    assert_error(&e, "ValidationException", "byG");
}

#[tokio::test]
async fn a_damaged_backup_never_becomes_an_active_table() {
    let store = TestStore::start().await;
    let client = store.client();
    create_table(&client, "dmg").await;
    for k in 0..50 {
        ferrodyn_tests::items::put(
            &client,
            "dmg",
            item([("p", s(&format!("k{k}"))), ("v", n(k))]),
        )
        .await;
    }
    let arn = backup(&client, "dmg", "dmg").await;
    until_backup_available(&client, &arn).await;
    let id = arn.rsplit('/').next().expect("id");
    let snap = store.dir.path().join("backups").join(format!("{id}.snap"));
    let mut bytes = std::fs::read(&snap).expect("snapshot");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&snap, &bytes).expect("damage");
    restore(&client, &arn, "dmg2").await;
    until(PATIENCE, "damaged restore dropped", || async {
        let status = table_status(&client, "dmg2").await;
        assert_ne!(
            status,
            Some(TableStatus::Active),
            "a damaged backup became ACTIVE"
        );
        status.is_none()
    })
    .await;
    // The source is untouched.
    assert_eq!(scan_all(&client, "dmg", None).await.len(), 50);
}

/// Until its restore finishes, a table is CREATING and item operations are
/// refused. Runs on one thread: the restore task cannot run between the
/// in-process calls below, which do not yield before answering.
#[tokio::test(flavor = "current_thread")]
async fn a_table_being_restored_is_creating_and_refuses_item_operations() {
    let store = TestStore::start().await;
    let client = store.client();
    create_table(&client, "busy1").await;
    ferrodyn_tests::items::put(&client, "busy1", item([("p", s("k")), ("v", n(1))])).await;
    let arn = backup(&client, "busy1", "bk1").await;
    until_backup_available(&client, &arn).await;
    let call = |op: Operation, body: serde_json::Value| {
        let store = store.store.clone();
        async move {
            store
                .handle(op, &serde_json::to_vec(&body).expect("body"))
                .await
        }
    };
    call(
        Operation::RestoreTableFromBackup,
        serde_json::json!({"BackupArn": arn, "TargetTableName": "busy2"}),
    )
    .await
    .expect("restore");
    let described = call(
        Operation::DescribeTable,
        serde_json::json!({"TableName": "busy2"}),
    )
    .await
    .expect("describe");
    let described: serde_json::Value = serde_json::from_slice(&described).expect("json");
    assert_eq!(described["Table"]["TableStatus"], "CREATING");
    let e = call(
        Operation::GetItem,
        serde_json::json!({"TableName": "busy2", "Key": {"p": {"S": "k"}}}),
    )
    .await
    .expect_err("get on a CREATING table");
    assert_eq!(e.message, "Requested resource not found");
    let e = call(
        Operation::PutItem,
        serde_json::json!({"TableName": "busy2", "Item": {"p": {"S": "x"}}}),
    )
    .await
    .expect_err("put on a CREATING table");
    assert_eq!(e.message, "Requested resource not found");
    until_table_active(&client, "busy2").await;
    assert_eq!(
        scan_all(&client, "busy2", None).await,
        vec![item([("p", s("k")), ("v", n(1))])]
    );
}

#[tokio::test]
async fn backups_and_restores_pass_through_the_proxy() {
    let proxy = ferrodyn_tests::TestProxy::embedded().await;
    let client = proxy.client();
    create_table(&client, "viaproxy").await;
    ferrodyn_tests::items::put(&client, "viaproxy", item([("p", s("k")), ("v", n(1))])).await;
    let arn = backup(&client, "viaproxy", "bkp").await;
    until_backup_available(&client, &arn).await;
    restore(&client, &arn, "viaproxy2").await;
    until_table_active(&client, "viaproxy2").await;
    assert_eq!(
        ferrodyn_tests::items::get(&client, "viaproxy2", "k").await,
        Some(item([("p", s("k")), ("v", n(1))]))
    );
    let listed = client.list_backups().send().await.expect("list");
    assert_eq!(listed.backup_summaries().len(), 1);
}
