//! The proxy in front of a foreign engine that behaves as engines other
//! than Ferrodyn's store do ([`ForeignEngine`]): it requires a signature on
//! every request, opens a stream's first shard only with its first record,
//! and closes shards into children. Writes made straight to the engine must
//! still reach the proxy's cache through the DynamoDB Streams API, well
//! within the 30 s table listing.

use std::time::Duration;

use aws_sdk_dynamodb::types::StreamViewType;
use ferrodyn_proxy::credentials::Setting;
use ferrodyn_tests::items::{put_v, until_value, value};
use ferrodyn_tests::wait::until;
use ferrodyn_tests::{
    client_for, create_table_with_stream, s, EngineOptions, ForeignEngine, TestProxy,
};

/// Well under the follower's 30 s listing and 60 s shard refresh: a test
/// that passes within it did not wait for either.
const SEEN_WITHIN: Duration = Duration::from_secs(8);

/// A proxy without credentials of its own in front of `engine`.
async fn proxy_without_credentials(engine: &ForeignEngine) -> TestProxy {
    let upstream = engine.endpoint.clone();
    TestProxy::start_with(move |c| {
        c.upstream = Some(upstream);
        c.credentials = Setting::Unsigned;
        c.region = Some("us-east-1".into());
        c.item_ttl = Duration::from_secs(300);
    })
    .await
}

async fn stream_arn(engine: &ForeignEngine, table: &str) -> String {
    let described = client_for(&engine.endpoint)
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("DescribeTable");
    described
        .table()
        .and_then(|t| t.latest_stream_arn())
        .expect("a stream")
        .to_owned()
}

/// Read `key` through the proxy until it shows `v` and the answer is served
/// from the cache (a read that hits).
async fn cached_value(proxy: &TestProxy, table: &str, key: &str, v: &str) {
    let client = proxy.client();
    until(
        SEEN_WITHIN,
        &format!("{table}/{key} = {v} cached"),
        || async {
            let hits = proxy.metric("proxy_item_cache_hits_total").await;
            value(&client, table, key).await == Some(s(v))
                && proxy.metric("proxy_item_cache_hits_total").await > hits
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_without_credentials_becomes_ready_in_front_of_an_engine_that_requires_signatures()
{
    let engine = ForeignEngine::start(EngineOptions {
        require_signature: true,
        ..EngineOptions::default()
    })
    .await;
    let direct = client_for(&engine.endpoint);
    create_table_with_stream(&direct, "signed", StreamViewType::NewAndOldImages).await;
    put_v(&direct, "signed", "k", "1").await;

    // `start_with` returns once /readyz answers 200: the follower listed
    // the tables and described the stream, with signed calls.
    let proxy = proxy_without_credentials(&engine).await;
    let (status, text) = proxy.admin_get("/readyz").await;
    assert_eq!((status, text.as_str()), (200, "ready\n"));
    cached_value(&proxy, "signed", "k", "1").await;
    put_v(&direct, "signed", "k", "2").await;
    until_value(&proxy.client(), "signed", "k", "2", SEEN_WITHIN).await;
    assert!(proxy.metric("proxy_invalidations_received_total").await >= 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_without_a_shard_at_discovery_is_followed_once_its_first_shard_appears() {
    let engine = ForeignEngine::start(EngineOptions {
        require_signature: true,
        shards_on_first_record: true,
    })
    .await;
    let direct = client_for(&engine.endpoint);
    create_table_with_stream(&direct, "lazy", StreamViewType::NewAndOldImages).await;
    let arn = stream_arn(&engine, "lazy").await;

    let proxy = proxy_without_credentials(&engine).await;
    let cached = proxy.client();
    // Absent, and cached as absent, while the stream has no shard.
    assert_eq!(value(&cached, "lazy", "k").await, None);
    assert_eq!(value(&cached, "lazy", "k").await, None);
    assert_eq!(engine.shard_count(&arn), 0);

    // The first record opens the first shard.
    put_v(&direct, "lazy", "k", "1").await;
    until_value(&cached, "lazy", "k", "1", SEEN_WITHIN).await;
    assert_eq!(engine.shard_count(&arn), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shard_that_closes_is_followed_into_its_child() {
    let engine = ForeignEngine::start(EngineOptions::default()).await;
    let direct = client_for(&engine.endpoint);
    create_table_with_stream(&direct, "rolling", StreamViewType::NewAndOldImages).await;
    put_v(&direct, "rolling", "k", "1").await;
    let arn = stream_arn(&engine, "rolling").await;

    let proxy = proxy_without_credentials(&engine).await;
    for round in 2..5 {
        cached_value(&proxy, "rolling", "k", &(round - 1).to_string()).await;
        engine.roll(&arn).await;
        // Written after the roll: only the new child shard has it.
        put_v(&direct, "rolling", "k", &round.to_string()).await;
        until_value(
            &proxy.client(),
            "rolling",
            "k",
            &round.to_string(),
            SEEN_WITHIN,
        )
        .await;
    }
    assert_eq!(engine.shard_count(&arn), 4);
    assert!(
        engine.children_asked() >= 3,
        "the children of a closed shard are asked for with ShardFilter"
    );
    assert_eq!(
        proxy
            .metric("proxy_stream_interruptions_total{reason=\"other\"}")
            .await,
        0.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_created_straight_on_the_engine_is_followed_from_the_first_request_naming_it() {
    let engine = ForeignEngine::start(EngineOptions {
        require_signature: true,
        ..EngineOptions::default()
    })
    .await;
    // Ready with no table at all: the next listing is 30 s away.
    let proxy = proxy_without_credentials(&engine).await;
    let direct = client_for(&engine.endpoint);
    create_table_with_stream(&direct, "newcomer", StreamViewType::NewAndOldImages).await;
    put_v(&direct, "newcomer", "k", "1").await;

    cached_value(&proxy, "newcomer", "k", "1").await;
    put_v(&direct, "newcomer", "k", "2").await;
    until_value(&proxy.client(), "newcomer", "k", "2", SEEN_WITHIN).await;
    // And it stays followed.
    cached_value(&proxy, "newcomer", "k", "2").await;
    put_v(&direct, "newcomer", "k", "3").await;
    until_value(&proxy.client(), "newcomer", "k", "3", SEEN_WITHIN).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_iterator_drops_the_tables_entries_shows_in_readyz_and_the_follow_resumes() {
    let engine = ForeignEngine::start(EngineOptions::default()).await;
    let direct = client_for(&engine.endpoint);
    create_table_with_stream(&direct, "expiring", StreamViewType::NewAndOldImages).await;
    put_v(&direct, "expiring", "k", "1").await;
    let proxy = proxy_without_credentials(&engine).await;
    cached_value(&proxy, "expiring", "k", "1").await;
    let metric = "proxy_stream_interruptions_total{reason=\"expired_iterator\"}";
    assert_eq!(proxy.metric(metric).await, 0.0);

    // Every GetRecords fails for a while: the follow stops and restarts
    // with backoff, and /readyz names the table meanwhile.
    engine.expire_iterators(3);
    until(SEEN_WITHIN, "the interruption counted", || async {
        proxy.metric(metric).await >= 1.0
    })
    .await;
    until(SEEN_WITHIN, "/readyz names the table", || async {
        let (status, text) = proxy.admin_get("/readyz").await;
        status == 200 && text.contains("table expiring: stream not followed (expired_iterator")
    })
    .await;
    // Its entries were dropped: the next read goes to the engine.
    let misses = proxy.metric("proxy_item_cache_misses_total").await;
    assert_eq!(value(&proxy.client(), "expiring", "k").await, Some(s("1")));
    assert!(proxy.metric("proxy_item_cache_misses_total").await > misses);

    // The follow resumes: /readyz is plain again, and writes are seen.
    until(SEEN_WITHIN, "/readyz plain again", || async {
        proxy.admin_get("/readyz").await == (200, "ready\n".to_owned())
    })
    .await;
    cached_value(&proxy, "expiring", "k", "1").await;
    put_v(&direct, "expiring", "k", "2").await;
    until_value(&proxy.client(), "expiring", "k", "2", SEEN_WITHIN).await;
}
