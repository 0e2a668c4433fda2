//! The DynamoDB Streams API through `aws-sdk-dynamodbstreams`: listing and
//! describing streams, every shard-iterator type, the exact record format
//! per view type, no-op writes, TTL deletions as service records, disabled
//! streams, iterator expiry and bad iterators.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeValue as Av, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodbstreams::error::ProvideErrorMetadata;
use aws_sdk_dynamodbstreams::types::{OperationType, Record, ShardIteratorType, StreamStatus};
use ferrodyn_store::clock::{Clock, ManualClock};
use ferrodyn_store::StoreConfig;
use ferrodyn_tests::create_table_with_stream;
use ferrodyn_tests::{s, streams_client_for, TempDir, TestStore};

type Streams = aws_sdk_dynamodbstreams::Client;

async fn put(c: &Client, table: &str, p: &str, x: &str) {
    c.put_item()
        .table_name(table)
        .item("p", Av::S(p.to_owned()))
        .item("x", Av::S(x.to_owned()))
        .send()
        .await
        .expect("put");
}

async fn stream_arn(s: &Streams, table: &str) -> String {
    let out = s.list_streams().table_name(table).send().await;
    let out = out.expect("list streams");
    out.streams()[0].stream_arn().unwrap_or_default().to_owned()
}

async fn shard(s: &Streams, arn: &str) -> (String, String) {
    let d = s.describe_stream().stream_arn(arn).send().await;
    let d = d.expect("describe stream");
    let sd = d.stream_description().expect("description");
    let shard = &sd.shards()[0];
    let start = shard
        .sequence_number_range()
        .and_then(|r| r.starting_sequence_number())
        .unwrap_or_default();
    (
        shard.shard_id().unwrap_or_default().to_owned(),
        start.to_owned(),
    )
}

async fn iterator(
    s: &Streams,
    arn: &str,
    shard: &str,
    kind: ShardIteratorType,
    seq: Option<&str>,
) -> String {
    let out = s
        .get_shard_iterator()
        .stream_arn(arn)
        .shard_id(shard)
        .shard_iterator_type(kind)
        .set_sequence_number(seq.map(str::to_owned))
        .send()
        .await
        .expect("get shard iterator");
    out.shard_iterator().unwrap_or_default().to_owned()
}

async fn records(s: &Streams, it: &str) -> (Vec<Record>, Option<String>) {
    let out = s.get_records().shard_iterator(it).send().await;
    let out = out.expect("get records");
    (
        out.records().to_vec(),
        out.next_shard_iterator().map(str::to_owned),
    )
}

fn image(
    pairs: &[(&str, &str)],
) -> HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue> {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                (*k).to_owned(),
                aws_sdk_dynamodbstreams::types::AttributeValue::S((*v).to_owned()),
            )
        })
        .collect()
}

#[tokio::test]
async fn records_follow_dynamodb_format_and_skip_noop_writes() {
    let st = TestStore::start().await;
    let c = st.client();
    let sc = streams_client_for(&st.endpoint());
    create_table_with_stream(&c, "events", StreamViewType::NewAndOldImages).await;
    let arn = stream_arn(&sc, "events").await;
    let d = sc.describe_stream().stream_arn(&arn).send().await;
    let d = d.expect("describe");
    let sd = d.stream_description().expect("description");
    assert_eq!(sd.stream_status(), Some(&StreamStatus::Enabled));
    assert_eq!(sd.table_name(), Some("events"));
    let (shard_id, start) = shard(&sc, &arn).await;
    assert!(start.len() >= 21 && start.bytes().all(|b| b.is_ascii_digit()));

    put(&c, "events", "a", "1").await;
    put(&c, "events", "a", "1").await; // identical: no record
    put(&c, "events", "a", "2").await;
    c.update_item()
        .table_name("events")
        .key("p", s("a"))
        .update_expression("SET x = :v")
        .expression_attribute_values(":v", s("2"))
        .send()
        .await
        .expect("no-op update");
    let failed = c
        .put_item()
        .table_name("events")
        .item("p", s("a"))
        .item("x", s("3"))
        .condition_expression("attribute_not_exists(p)")
        .send()
        .await;
    assert!(failed.is_err(), "failed conditions leave no record");
    c.delete_item()
        .table_name("events")
        .key("p", s("missing"))
        .send()
        .await
        .expect("delete of nothing");
    c.delete_item()
        .table_name("events")
        .key("p", s("a"))
        .send()
        .await
        .expect("delete");

    let it = iterator(&sc, &arn, &shard_id, ShardIteratorType::TrimHorizon, None).await;
    let (recs, next) = records(&sc, &it).await;
    let names: Vec<_> = recs.iter().map(|r| r.event_name().cloned()).collect();
    assert_eq!(
        names,
        vec![
            Some(OperationType::Insert),
            Some(OperationType::Modify),
            Some(OperationType::Remove)
        ]
    );
    let first = &recs[0];
    assert_eq!(first.event_source(), Some("aws:dynamodb"));
    assert_eq!(first.event_version(), Some("1.1"));
    assert_eq!(first.aws_region(), Some("us-east-1"));
    assert!(first.user_identity().is_none());
    let d = first.dynamodb().expect("stream record");
    assert_eq!(d.keys(), Some(&image(&[("p", "a")])));
    assert_eq!(d.new_image(), Some(&image(&[("p", "a"), ("x", "1")])));
    assert!(d.old_image().is_none());
    assert!(d.approximate_creation_date_time().is_some());
    assert!(d.size_bytes().unwrap_or(0) > 0);
    let modify = recs[1].dynamodb().expect("record");
    assert_eq!(modify.old_image(), Some(&image(&[("p", "a"), ("x", "1")])));
    assert_eq!(modify.new_image(), Some(&image(&[("p", "a"), ("x", "2")])));
    let remove = recs[2].dynamodb().expect("record");
    assert!(remove.new_image().is_none());
    let seqs: Vec<u128> = recs
        .iter()
        .filter_map(|r| r.dynamodb()?.sequence_number()?.parse().ok())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // The open shard always offers a next iterator; nothing new yet.
    let next = next.expect("open shard continues");
    assert!(records(&sc, &next).await.0.is_empty());
    put(&c, "events", "b", "1").await;
    let (more, _) = records(&sc, &next).await;
    assert_eq!(more.len(), 1);

    // AT and AFTER a sequence number.
    let second = recs[1]
        .dynamodb()
        .and_then(|d| d.sequence_number())
        .unwrap_or_default();
    let at = iterator(
        &sc,
        &arn,
        &shard_id,
        ShardIteratorType::AtSequenceNumber,
        Some(second),
    )
    .await;
    assert_eq!(records(&sc, &at).await.0.len(), 3);
    let after = iterator(
        &sc,
        &arn,
        &shard_id,
        ShardIteratorType::AfterSequenceNumber,
        Some(second),
    )
    .await;
    assert_eq!(records(&sc, &after).await.0.len(), 2);
    let latest = iterator(&sc, &arn, &shard_id, ShardIteratorType::Latest, None).await;
    assert!(records(&sc, &latest).await.0.is_empty());
}

#[tokio::test]
async fn view_types_select_images() {
    let st = TestStore::start().await;
    let c = st.client();
    let sc = streams_client_for(&st.endpoint());
    for (table, view) in [
        ("keys", StreamViewType::KeysOnly),
        ("new", StreamViewType::NewImage),
        ("old", StreamViewType::OldImage),
    ] {
        create_table_with_stream(&c, table, view).await;
        put(&c, table, "k", "1").await;
        put(&c, table, "k", "2").await;
        let arn = stream_arn(&sc, table).await;
        let (shard_id, _) = shard(&sc, &arn).await;
        let it = iterator(&sc, &arn, &shard_id, ShardIteratorType::TrimHorizon, None).await;
        let (recs, _) = records(&sc, &it).await;
        let d = recs[1].dynamodb().expect("record");
        assert_eq!(d.keys(), Some(&image(&[("p", "k")])), "{table}");
        match table {
            "keys" => assert!(d.new_image().is_none() && d.old_image().is_none()),
            "new" => {
                assert_eq!(d.new_image(), Some(&image(&[("p", "k"), ("x", "2")])));
                assert!(d.old_image().is_none());
            }
            _ => {
                assert_eq!(d.old_image(), Some(&image(&[("p", "k"), ("x", "1")])));
                assert!(d.new_image().is_none());
            }
        }
    }
}

#[tokio::test]
async fn disabling_closes_the_shard_and_enabling_starts_a_new_stream() {
    let st = TestStore::start().await;
    let c = st.client();
    let sc = streams_client_for(&st.endpoint());
    create_table_with_stream(&c, "toggle", StreamViewType::KeysOnly).await;
    put(&c, "toggle", "a", "1").await;
    let first_arn = stream_arn(&sc, "toggle").await;
    let spec = |on: bool| {
        let b = StreamSpecification::builder().stream_enabled(on);
        let b = if on {
            b.stream_view_type(StreamViewType::NewImage)
        } else {
            b
        };
        b.build().expect("spec")
    };
    c.update_table()
        .table_name("toggle")
        .stream_specification(spec(false))
        .send()
        .await
        .expect("disable");
    put(&c, "toggle", "b", "1").await; // not in any stream
    let d = sc.describe_stream().stream_arn(&first_arn).send().await;
    let d = d.expect("describe disabled");
    let sd = d.stream_description().expect("description");
    assert_eq!(sd.stream_status(), Some(&StreamStatus::Disabled));
    let range = sd.shards()[0].sequence_number_range().expect("range");
    assert!(range.ending_sequence_number().is_some());
    let shard_id = sd.shards()[0].shard_id().unwrap_or_default().to_owned();
    let it = iterator(
        &sc,
        &first_arn,
        &shard_id,
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let (recs, next) = records(&sc, &it).await;
    assert_eq!(recs.len(), 1);
    assert!(
        next.is_none(),
        "a closed shard read to its end has no next iterator"
    );

    tokio::task::yield_now().await;
    c.update_table()
        .table_name("toggle")
        .stream_specification(spec(true))
        .send()
        .await
        .expect("enable again");
    let second_arn = stream_arn(&sc, "toggle").await;
    if second_arn == first_arn {
        // Labels are millisecond timestamps; both changes fell in one millisecond.
        return;
    }
    put(&c, "toggle", "c", "1").await;
    let (shard_id, _) = shard(&sc, &second_arn).await;
    let it = iterator(
        &sc,
        &second_arn,
        &shard_id,
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let (recs, _) = records(&sc, &it).await;
    assert_eq!(recs.len(), 1);
    let keys = recs[0].dynamodb().and_then(|d| d.keys()).cloned();
    assert_eq!(keys, Some(image(&[("p", "c")])));

    // The replaced stream is still listed and readable, and stays closed.
    let listed = sc.list_streams().table_name("toggle").send().await;
    assert_eq!(listed.expect("list").streams().len(), 2);
    let (old_shard, _) = shard(&sc, &first_arn).await;
    let it = iterator(
        &sc,
        &first_arn,
        &old_shard,
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let (recs, next) = records(&sc, &it).await;
    assert_eq!(recs.len(), 1);
    assert!(next.is_none());
}

#[tokio::test]
async fn bad_requests_get_streams_errors() {
    let st = TestStore::start().await;
    let c = st.client();
    let sc = streams_client_for(&st.endpoint());
    create_table_with_stream(&c, "errs", StreamViewType::KeysOnly).await;
    let arn = stream_arn(&sc, "errs").await;
    let (shard_id, start) = shard(&sc, &arn).await;

    let e = sc.describe_stream().stream_arn("not-an-arn").send().await;
    assert_eq!(e.expect_err("bad arn").code(), Some("ValidationException"));
    let other = arn.replace("table/errs/", "table/errs2/");
    let e = sc.describe_stream().stream_arn(other).send().await;
    assert_eq!(
        e.expect_err("no table").code(),
        Some("ResourceNotFoundException")
    );
    let e = sc
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id("shardId-nope")
        .shard_iterator_type(ShardIteratorType::Latest)
        .send()
        .await;
    assert_eq!(
        e.expect_err("no shard").code(),
        Some("ResourceNotFoundException")
    );
    for (kind, seq) in [
        (ShardIteratorType::AtSequenceNumber, None),
        (ShardIteratorType::Latest, Some(start.as_str())),
        (ShardIteratorType::AtSequenceNumber, Some("12x")),
    ] {
        let e = sc
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(&shard_id)
            .shard_iterator_type(kind)
            .set_sequence_number(seq.map(str::to_owned))
            .send()
            .await;
        assert_eq!(e.expect_err("bad seq").code(), Some("ValidationException"));
    }
    let e = sc.get_records().shard_iterator("garbage").send().await;
    assert_eq!(e.expect_err("bad iter").code(), Some("ValidationException"));
    let it = iterator(&sc, &arn, &shard_id, ShardIteratorType::Latest, None).await;
    let e = sc
        .get_records()
        .shard_iterator(&it)
        .limit(1001)
        .send()
        .await;
    let e = e.expect_err("limit");
    assert_eq!(e.code(), Some("ValidationException"));
    assert!(e.message().unwrap_or_default().contains("limit"));
    let e = sc.list_streams().limit(0).send().await;
    assert_eq!(e.expect_err("limit 0").code(), Some("ValidationException"));
}

#[tokio::test]
async fn iterators_expire_and_ttl_deletions_are_service_records() {
    let clock = ManualClock::starting_now();
    let dir = TempDir::new("streams");
    let mut config = StoreConfig::new(dir.path());
    config.engine.clock = clock.clone() as Arc<dyn Clock>;
    config.maintenance.ttl_interval = Duration::from_secs(24 * 3600);
    config.maintenance.trim_interval = Duration::from_secs(24 * 3600);
    let st = TestStore::start_with(dir, config).await;
    let c = st.client();
    let sc = streams_client_for(&st.endpoint());
    create_table_with_stream(&c, "expiry", StreamViewType::OldImage).await;
    c.update_time_to_live()
        .table_name("expiry")
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("exp")
                .enabled(true)
                .build()
                .expect("spec"),
        )
        .send()
        .await
        .expect("ttl");
    let now_secs = clock.now_ms() / 1000;
    c.put_item()
        .table_name("expiry")
        .item("p", s("gone"))
        .item("exp", Av::N((now_secs + 60).to_string()))
        .send()
        .await
        .expect("put");
    let arn = stream_arn(&sc, "expiry").await;
    let (shard_id, _) = shard(&sc, &arn).await;
    let it = iterator(&sc, &arn, &shard_id, ShardIteratorType::TrimHorizon, None).await;

    let mut ttl_rounds = st.store.progress().expect("background").ttl.clone();
    clock.advance_ms(16 * 60 * 1000);
    let target = clock.now_ms();
    ttl_rounds
        .wait_for(|t| *t >= target)
        .await
        .expect("sweeper alive");

    let e = sc.get_records().shard_iterator(&it).send().await;
    assert_eq!(
        e.expect_err("expired").code(),
        Some("ExpiredIteratorException")
    );
    let it = iterator(&sc, &arn, &shard_id, ShardIteratorType::TrimHorizon, None).await;
    let (recs, _) = records(&sc, &it).await;
    assert_eq!(recs.len(), 2);
    assert!(recs[0].user_identity().is_none());
    let remove = &recs[1];
    assert_eq!(remove.event_name(), Some(&OperationType::Remove));
    let who = remove.user_identity().expect("service identity");
    assert_eq!(who.r#type(), Some("Service"));
    assert_eq!(who.principal_id(), Some("dynamodb.amazonaws.com"));
}

#[tokio::test]
async fn trimmed_records_are_reported() {
    let clock = ManualClock::starting_now();
    let dir = TempDir::new("trim");
    let mut config = StoreConfig::new(dir.path());
    config.engine.clock = clock.clone() as Arc<dyn Clock>;
    config.maintenance.ttl_interval = Duration::from_secs(24 * 3600);
    config.maintenance.trim_interval = Duration::from_secs(24 * 3600);
    let st = TestStore::start_with(dir, config).await;
    let c = st.client();
    let sc = streams_client_for(&st.endpoint());
    create_table_with_stream(&c, "trimmed", StreamViewType::KeysOnly).await;
    put(&c, "trimmed", "a", "1").await;
    let arn = stream_arn(&sc, "trimmed").await;
    let (shard_id, start) = shard(&sc, &arn).await;

    let mut trims = st.store.progress().expect("background").trim.clone();
    clock.advance_ms(25 * 3600 * 1000);
    let target = clock.now_ms();
    trims
        .wait_for(|t| *t >= target)
        .await
        .expect("trimmer alive");
    put(&c, "trimmed", "b", "1").await;

    let e = sc
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&start)
        .send()
        .await;
    assert_eq!(
        e.expect_err("trimmed").code(),
        Some("TrimmedDataAccessException")
    );
    let it = iterator(&sc, &arn, &shard_id, ShardIteratorType::TrimHorizon, None).await;
    let (recs, _) = records(&sc, &it).await;
    assert_eq!(recs.len(), 1);
    let keys = recs[0].dynamodb().and_then(|d| d.keys()).cloned();
    assert_eq!(keys, Some(image(&[("p", "b")])));
}

#[tokio::test]
async fn change_log_survives_restart_without_gaps() {
    let st = TestStore::start().await;
    let c = st.client();
    create_table_with_stream(&c, "durable", StreamViewType::NewImage).await;
    for i in 0..5 {
        put(&c, "durable", &format!("k{i}"), "v").await;
    }
    let sc = streams_client_for(&st.endpoint());
    let arn = stream_arn(&sc, "durable").await;
    let (shard_id, _) = shard(&sc, &arn).await;
    let it = iterator(&sc, &arn, &shard_id, ShardIteratorType::TrimHorizon, None).await;
    let before: Vec<String> = records(&sc, &it)
        .await
        .0
        .iter()
        .filter_map(|r| r.dynamodb()?.sequence_number().map(str::to_owned))
        .collect();
    assert_eq!(before.len(), 5);

    let dir = st.stop().await;
    let st = TestStore::start_in(dir).await;
    let c = st.client();
    let sc = streams_client_for(&st.endpoint());
    put(&c, "durable", "after", "v").await;
    let it = iterator(&sc, &arn, &shard_id, ShardIteratorType::TrimHorizon, None).await;
    let after: Vec<u128> = records(&sc, &it)
        .await
        .0
        .iter()
        .filter_map(|r| r.dynamodb()?.sequence_number()?.parse().ok())
        .collect();
    assert_eq!(after.len(), 6);
    let first: Vec<u128> = before.iter().filter_map(|s| s.parse().ok()).collect();
    assert_eq!(&after[..5], &first[..]);
    // One counter for the whole store: consecutive, no gap across the restart.
    assert!(after.windows(2).all(|w| w[1] == w[0] + 1), "{after:?}");
}

#[tokio::test]
async fn get_records_returns_at_most_a_megabyte_and_continues_after_it() {
    let st = TestStore::start().await;
    let c = st.client();
    let sc = streams_client_for(&st.endpoint());
    create_table_with_stream(&c, "big_records", StreamViewType::NewImage).await;
    // 30 records of about 100 KB: 3 MB in all.
    let big = "x".repeat(100 * 1024);
    for i in 0..30 {
        put(&c, "big_records", &format!("k{i:02}"), &big).await;
    }
    let arn = stream_arn(&sc, "big_records").await;
    let (shard_id, _) = shard(&sc, &arn).await;
    let mut it = iterator(&sc, &arn, &shard_id, ShardIteratorType::TrimHorizon, None).await;
    let mut seen = Vec::new();
    let mut pages = 0;
    while seen.len() < 30 {
        let (page, next) = records(&sc, &it).await;
        let bytes: usize = page.len() * big.len();
        assert!(
            bytes <= (1 << 20) + big.len(),
            "a page of {} records",
            page.len()
        );
        for r in page {
            let keys = r
                .dynamodb()
                .and_then(|d| d.keys())
                .cloned()
                .unwrap_or_default();
            if let Some(aws_sdk_dynamodbstreams::types::AttributeValue::S(p)) = keys.get("p") {
                seen.push(p.clone());
            }
        }
        it = next.expect("an open shard has a next iterator");
        pages += 1;
        assert!(pages < 20, "the reader makes no progress");
    }
    let want: Vec<String> = (0..30).map(|i| format!("k{i:02}")).collect();
    assert_eq!(seen, want);
    assert!(pages >= 3, "3 MB came back in {pages} pages");
}
