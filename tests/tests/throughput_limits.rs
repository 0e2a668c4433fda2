//! Throughput limits besides provisioned capacity: on-demand maximums
//! (OnDemandThroughput, of a table or of a GSI) answered with
//! ThrottlingException, per-partition limits behind `--partition-limits`
//! (one hot key throttles, the others do not), and `--capacity off`, which
//! never throttles. Time is a manual clock the tests move.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue as Av, BillingMode, KeyType, OnDemandThroughput, ScalarAttributeType,
};
use ferrodyn_store::capacity::{CapacityConfig, Enforcement};
use ferrodyn_tests::tables::{attribute, key_element};
use ferrodyn_tests::throttling::{
    enforcing, item, no_retry, provisioned, put, reads_until_throttled, store, TABLE_ARN,
};

#[tokio::test]
async fn capacity_off_never_throttles() {
    let (server, _clock) = store(CapacityConfig {
        enforcement: Enforcement::Off,
        partition_limits: true,
    })
    .await;
    let client = no_retry(&server);
    provisioned(&client, "tbl", 1, 1).await;
    // Ten times the 300 WCU a 1 WCU table banks, and as many reads.
    for i in 0..30 {
        put(&client, "tbl", &format!("k{i}"), 100 * 1024 - 100)
            .await
            .expect("never throttled");
    }
    assert_eq!(reads_until_throttled(&client, "tbl", 400).await, 400);
}

#[tokio::test]
async fn on_demand_maximum_throttles_above_it() {
    let (server, clock) = enforcing().await;
    let client = no_retry(&server);
    client
        .create_table()
        .table_name("on-demand")
        .key_schema(key_element("p", KeyType::Hash))
        .attribute_definitions(attribute("p", ScalarAttributeType::S))
        .billing_mode(BillingMode::PayPerRequest)
        .on_demand_throughput(
            OnDemandThroughput::builder()
                .max_read_request_units(10)
                .build(),
        )
        .send()
        .await
        .expect("create table");
    let described = client
        .describe_table()
        .table_name("on-demand")
        .send()
        .await
        .expect("describe");
    let od = described
        .table()
        .and_then(|t| t.on_demand_throughput())
        .expect("on-demand throughput");
    assert_eq!(
        (od.max_read_request_units(), od.max_write_request_units()),
        (Some(10), Some(-1))
    );
    assert_eq!(reads_until_throttled(&client, "on-demand", 100).await, 10);
    let err = client
        .get_item()
        .table_name("on-demand")
        .key("p", Av::S("a".into()))
        .consistent_read(true)
        .send()
        .await
        .expect_err("throttled")
        .into_service_error();
    assert_eq!(err.code(), Some("ThrottlingException"), "{err:?}");
    let aws_sdk_dynamodb::operation::get_item::GetItemError::ThrottlingException(e) = err else {
        panic!("not ThrottlingException");
    };
    assert_eq!(
        e.throttling_reasons()[0].reason(),
        Some("TableReadMaxOnDemandThroughputExceeded")
    );
    // Writes have no maximum.
    for i in 0..50 {
        put(&client, "on-demand", &format!("w{i}"), 10)
            .await
            .expect("no write maximum");
    }
    clock.advance_ms(1000);
    assert_eq!(reads_until_throttled(&client, "on-demand", 100).await, 10);
}

#[tokio::test]
async fn partition_limits_throttle_a_hot_key_but_not_the_others() {
    let (server, _clock) = store(CapacityConfig {
        enforcement: Enforcement::Enforce,
        partition_limits: true,
    })
    .await;
    let client = no_retry(&server);
    ferrodyn_tests::tables::TableSpec::new("hot")
        .hash("p", ScalarAttributeType::S)
        .create(&client)
        .await;
    // Three writes of ~381 WCU spend one key's 1,000 WCU per second.
    let big = 390_000;
    for _ in 0..3 {
        put(&client, "hot", "hot-key", big)
            .await
            .expect("under the partition limit");
    }
    let err = put(&client, "hot", "hot-key", 10)
        .await
        .expect_err("hot key throttled");
    assert!(
        err.starts_with("ProvisionedThroughputExceededException"),
        "{err}"
    );
    for i in 0..5 {
        put(&client, "hot", &format!("cold-{i}"), big)
            .await
            .expect("other keys go on");
    }
    let err = client
        .put_item()
        .table_name("hot")
        .set_item(Some(item("hot-key", 10)))
        .send()
        .await
        .expect_err("still hot")
        .into_service_error();
    let aws_sdk_dynamodb::operation::put_item::PutItemError::ProvisionedThroughputExceededException(
        e,
    ) = err
    else {
        panic!("not ProvisionedThroughputExceededException");
    };
    assert_eq!(
        e.throttling_reasons()[0].reason(),
        Some("TableWriteKeyRangeThroughputExceeded")
    );
}

#[tokio::test]
async fn partition_limits_are_off_by_default() {
    let (server, _clock) = enforcing().await;
    let client = no_retry(&server);
    ferrodyn_tests::tables::TableSpec::new("hot")
        .hash("p", ScalarAttributeType::S)
        .create(&client)
        .await;
    for _ in 0..6 {
        put(&client, "hot", "hot-key", 390_000)
            .await
            .expect("no partition limit");
    }
}

#[tokio::test]
async fn a_gsi_on_demand_maximum_set_by_update_table_throttles_its_reads() {
    let (server, _clock) = enforcing().await;
    let client = no_retry(&server);
    ferrodyn_tests::tables::TableSpec::new("gsi-on-demand")
        .hash("p", ScalarAttributeType::S)
        .gsi(ferrodyn_tests::tables::IndexSpec::new("by-g").hash("g", ScalarAttributeType::S))
        .create(&client)
        .await;
    client
        .update_table()
        .table_name("gsi-on-demand")
        .global_secondary_index_updates(
            aws_sdk_dynamodb::types::GlobalSecondaryIndexUpdate::builder()
                .update(
                    aws_sdk_dynamodb::types::UpdateGlobalSecondaryIndexAction::builder()
                        .index_name("by-g")
                        .on_demand_throughput(
                            OnDemandThroughput::builder()
                                .max_read_request_units(2)
                                .build(),
                        )
                        .build()
                        .expect("update action"),
                )
                .build(),
        )
        .send()
        .await
        .expect("update table");
    let described = client
        .describe_table()
        .table_name("gsi-on-demand")
        .send()
        .await
        .expect("describe");
    let gsi = &described.table().expect("table").global_secondary_indexes()[0];
    let od = gsi
        .on_demand_throughput()
        .expect("index on-demand throughput");
    assert_eq!(od.max_read_request_units(), Some(2));
    // An empty eventually consistent Query costs half a unit: four fit in
    // the index's 2 units per second.
    let query = || {
        client
            .query()
            .table_name("gsi-on-demand")
            .index_name("by-g")
            .key_condition_expression("g = :g")
            .expression_attribute_values(":g", Av::S("x".into()))
            .send()
    };
    for _ in 0..4 {
        query().await.expect("under the index maximum");
    }
    let err = query().await.expect_err("throttled").into_service_error();
    let aws_sdk_dynamodb::operation::query::QueryError::ThrottlingException(e) = err else {
        panic!("not ThrottlingException: {err:?}");
    };
    let reason = &e.throttling_reasons()[0];
    assert_eq!(
        reason.reason(),
        Some("IndexReadMaxOnDemandThroughputExceeded")
    );
    assert_eq!(
        reason.resource(),
        Some(format!("{TABLE_ARN}gsi-on-demand/index/by-g").as_str())
    );
    // The table itself has no maximum.
    assert_eq!(
        reads_until_throttled(&client, "gsi-on-demand", 20).await,
        20
    );
}
