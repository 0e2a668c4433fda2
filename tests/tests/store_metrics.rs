//! The store's admin endpoint (`ferrodyn-store --admin-listen`): per-table
//! metrics under CloudWatch's names move for the requests they name;
//! `/healthz` and `/readyz` answer; HTTP Basic guards the rest when the
//! store has credentials; the embedded `ferrodyn` exports the same metrics
//! on its own admin endpoint.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ProvisionedThroughput, ScalarAttributeType as St, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_store::clock::{Clock, ManualClock};
use ferrodyn_store::StoreConfig;
use ferrodyn_tests::admin::sample;
use ferrodyn_tests::{
    n, s, streams_client_for, StoreAdmin, TableSpec, TempDir, TestProxy, TestStore,
};

fn throughput(read: i64, write: i64) -> ProvisionedThroughput {
    ProvisionedThroughput::builder()
        .read_capacity_units(read)
        .write_capacity_units(write)
        .build()
        .expect("throughput")
}

/// Table `name` provisioned at 50 / 40 units, keyed by `pk` (S) and `sk`
/// (N), with GSI `by_g` (key `g`) at 30 / 20 units.
async fn provisioned_table(c: &Client, name: &str) {
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .expect("key")
    };
    let attr = |n: &str, t: St| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(t)
            .build()
            .expect("attribute")
    };
    c.create_table()
        .table_name(name)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(attr("pk", St::S))
        .attribute_definitions(attr("sk", St::N))
        .attribute_definitions(attr("g", St::S))
        .provisioned_throughput(throughput(50, 40))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_g")
                .key_schema(key("g", KeyType::Hash))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .provisioned_throughput(throughput(30, 20))
                .build()
                .expect("gsi"),
        )
        .send()
        .await
        .expect("create provisioned table");
}

async fn metrics(admin: &StoreAdmin) -> String {
    let (status, text) = admin.get("/metrics").await;
    assert_eq!(status, 200);
    text
}

fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("{series} not exported:\n{text}"))
}

#[tokio::test]
async fn counters_move_for_the_operations_they_name() {
    let store = TestStore::start().await;
    let admin = StoreAdmin::start(&store.store, None).await;
    let c = store.client();
    provisioned_table(&c, "metered").await;
    for i in 0..3 {
        c.put_item()
            .table_name("metered")
            .item("pk", s("a"))
            .item("sk", n(i))
            .item("g", s("grp"))
            .send()
            .await
            .expect("put");
    }
    let text = metrics(&admin).await;
    let tbl = |name: &str| format!("{name}{{index=\"\",table=\"metered\"}}");
    let gsi = |name: &str| format!("{name}{{index=\"by_g\",table=\"metered\"}}");
    // One write unit per small item, on the table and on its GSI.
    assert_eq!(
        value(
            &text,
            &tbl("ferrodyn_store_consumed_write_capacity_units_total")
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            &gsi("ferrodyn_store_consumed_write_capacity_units_total")
        ),
        3.0
    );
    // Provisioned capacity, item count and size come from the catalog.
    assert_eq!(
        value(
            &text,
            &tbl("ferrodyn_store_provisioned_read_capacity_units")
        ),
        50.0
    );
    assert_eq!(
        value(
            &text,
            &tbl("ferrodyn_store_provisioned_write_capacity_units")
        ),
        40.0
    );
    assert_eq!(
        value(
            &text,
            &gsi("ferrodyn_store_provisioned_read_capacity_units")
        ),
        30.0
    );
    assert_eq!(
        value(
            &text,
            &gsi("ferrodyn_store_provisioned_write_capacity_units")
        ),
        20.0
    );
    assert_eq!(value(&text, &tbl("ferrodyn_store_item_count")), 3.0);
    assert_eq!(value(&text, &gsi("ferrodyn_store_item_count")), 3.0);
    assert!(value(&text, &tbl("ferrodyn_store_table_size_bytes")) > 0.0);

    // An eventually consistent read of a small item costs half a unit.
    c.get_item()
        .table_name("metered")
        .key("pk", s("a"))
        .key("sk", n("0"))
        .send()
        .await
        .expect("get");
    // A Query of the GSI spends the GSI's read capacity.
    let q = c
        .query()
        .table_name("metered")
        .index_name("by_g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("grp"))
        .send()
        .await
        .expect("query");
    assert_eq!(q.count(), 3);
    c.scan()
        .table_name("metered")
        .limit(2)
        .send()
        .await
        .expect("scan");
    // A failed condition, and a request refused as invalid.
    let failed = c
        .put_item()
        .table_name("metered")
        .item("pk", s("a"))
        .item("sk", n("0"))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    assert!(failed.is_err());
    let invalid = c
        .get_item()
        .table_name("metered")
        .key("nope", s("a"))
        .send()
        .await;
    assert!(invalid.is_err());

    let text = metrics(&admin).await;
    assert_eq!(
        value(
            &text,
            &tbl("ferrodyn_store_consumed_read_capacity_units_total")
        ),
        0.5 + 0.5
    );
    assert_eq!(
        value(
            &text,
            &gsi("ferrodyn_store_consumed_read_capacity_units_total")
        ),
        0.5
    );
    let op = |name: &str, op: &str| format!("{name}{{operation=\"{op}\",table=\"metered\"}}");
    assert_eq!(
        value(
            &text,
            &op(
                "ferrodyn_store_successful_request_latency_seconds_count",
                "GetItem"
            )
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            &op(
                "ferrodyn_store_successful_request_latency_seconds_count",
                "PutItem"
            )
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            &op("ferrodyn_store_returned_item_count_total", "Query")
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            &op("ferrodyn_store_returned_item_count_total", "Scan")
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            &op("ferrodyn_store_throttled_requests_total", "GetItem")
        ),
        0.0
    );
    assert_eq!(
        value(&text, &op("ferrodyn_store_system_errors_total", "GetItem")),
        0.0
    );
    assert_eq!(
        value(
            &text,
            "ferrodyn_store_conditional_check_failed_requests_total{table=\"metered\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "ferrodyn_store_user_errors_total{operation=\"GetItem\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "ferrodyn_store_transaction_conflicts_total{table=\"metered\"}"
        ),
        0.0
    );

    // A deleted table's gauges go; its counters stay.
    c.delete_table()
        .table_name("metered")
        .send()
        .await
        .expect("delete");
    let text = metrics(&admin).await;
    assert_eq!(sample(&text, &tbl("ferrodyn_store_item_count")), None);
    assert!(sample(
        &text,
        &tbl("ferrodyn_store_consumed_write_capacity_units_total")
    )
    .is_some());
}

#[tokio::test]
async fn time_to_live_deletions_are_counted() {
    let clock = ManualClock::new(1_700_000_000_000);
    let dir = TempDir::new("ttl-metrics");
    let mut config = StoreConfig::new(dir.path());
    config.engine.clock = clock.clone() as Arc<dyn Clock>;
    // Rounds run only when the test moves the clock.
    config.maintenance.ttl_interval = Duration::from_secs(24 * 3600);
    let store = TestStore::start_with(dir, config).await;
    let admin = StoreAdmin::start(&store.store, None).await;
    let c = store.client();
    TableSpec::new("expiring")
        .hash("pk", St::S)
        .create(&c)
        .await;
    c.update_time_to_live()
        .table_name("expiring")
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("exp")
                .enabled(true)
                .build()
                .expect("ttl"),
        )
        .send()
        .await
        .expect("enable ttl");
    // Expired (DynamoDB ignores values more than five years old).
    for (pk, exp) in [
        ("old1", 1_699_999_990),
        ("old2", 1_699_999_980),
        ("new", 1_800_000_000),
    ] {
        c.put_item()
            .table_name("expiring")
            .item("pk", s(pk))
            .item("exp", n(exp))
            .send()
            .await
            .expect("put");
    }
    let mut progress = store
        .store
        .progress()
        .expect("background tasks")
        .ttl
        .clone();
    clock.advance_ms(200_000);
    let target = clock.now_ms();
    progress
        .wait_for(|started| *started >= target)
        .await
        .expect("sweeper alive");
    assert_eq!(
        admin
            .metric("ferrodyn_store_time_to_live_deleted_items_total{table=\"expiring\"}")
            .await,
        Some(2.0)
    );
}

#[tokio::test]
async fn stream_records_returned_by_get_records_are_counted() {
    let store = TestStore::start().await;
    let admin = StoreAdmin::start(&store.store, None).await;
    let c = store.client();
    let desc = TableSpec::new("streamed")
        .hash("pk", St::S)
        .stream(StreamViewType::NewImage)
        .create(&c)
        .await;
    for pk in ["a", "b"] {
        c.put_item()
            .table_name("streamed")
            .item("pk", s(pk))
            .send()
            .await
            .expect("put");
    }
    let streams = streams_client_for(&store.endpoint());
    let arn = desc.latest_stream_arn().expect("stream arn");
    let shards = streams
        .describe_stream()
        .stream_arn(arn)
        .send()
        .await
        .expect("describe stream");
    let shard = shards
        .stream_description()
        .and_then(|d| d.shards().first())
        .and_then(|s| s.shard_id())
        .expect("shard")
        .to_owned();
    let it = streams
        .get_shard_iterator()
        .stream_arn(arn)
        .shard_id(shard)
        .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .expect("iterator");
    let records = streams
        .get_records()
        .shard_iterator(it.shard_iterator().expect("iterator"))
        .send()
        .await
        .expect("records");
    assert_eq!(records.records().len(), 2);
    assert_eq!(
        admin
            .metric("ferrodyn_store_stream_returned_records_total{table=\"streamed\"}")
            .await,
        Some(2.0)
    );
}

#[tokio::test]
async fn health_checks_are_open_and_the_rest_needs_the_stores_credentials() {
    let store = TestStore::start_authenticated("alice:secret").await;
    let verifier =
        ferrodyn_store::auth::verify::Verifier::parse("alice:secret").expect("credentials");
    let admin = StoreAdmin::start(&store.store, Some(verifier)).await;
    assert_eq!(admin.get("/healthz").await.0, 200);
    assert_eq!(admin.get("/readyz").await.0, 200);
    assert_eq!(admin.get("/metrics").await.0, 401);
    assert_eq!(admin.get("/insights?table=any").await.0, 401);
    // alice:secret
    let basic = [("Authorization", "Basic YWxpY2U6c2VjcmV0")];
    let (status, text) = admin.get_with("/metrics", &basic).await;
    assert_eq!(status, 200);
    assert!(text.is_empty() || text.contains("# TYPE"));
    // alice:wrong
    let wrong = [("Authorization", "Basic YWxpY2U6d3Jvbmc=")];
    assert_eq!(admin.get_with("/metrics", &wrong).await.0, 401);
    assert_eq!(admin.get("/nope").await.0, 401);
    assert_eq!(admin.get_with("/nope", &basic).await.0, 404);
}

#[tokio::test]
async fn the_embedded_proxy_exports_the_stores_metrics() {
    let proxy = TestProxy::embedded().await;
    let c = proxy.client();
    TableSpec::new("inside").hash("pk", St::S).create(&c).await;
    c.put_item()
        .table_name("inside")
        .item("pk", s("a"))
        .send()
        .await
        .expect("put");
    let (status, text) = proxy.admin_get("/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        sample(
            &text,
            "ferrodyn_store_consumed_write_capacity_units_total{index=\"\",table=\"inside\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "ferrodyn_store_item_count{index=\"\",table=\"inside\"}"
        ),
        Some(1.0)
    );
    // The proxy's own metrics are in the same registry.
    assert!(text.contains("proxy_requests_total{operation=\"PutItem\"}"));
}
