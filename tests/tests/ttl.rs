//! Time to Live through the SDK: UpdateTimeToLive / DescribeTimeToLive and
//! their errors, and the background sweeper driven by a manual clock.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue as Av, TimeToLiveSpecification, TimeToLiveStatus};
use aws_sdk_dynamodb::Client;
use ferrodyn_store::clock::{Clock, ManualClock};
use ferrodyn_store::StoreConfig;
use ferrodyn_tests::create_table;
use ferrodyn_tests::{TempDir, TestStore};

fn spec(attr: Option<&str>, enabled: Option<bool>) -> TimeToLiveSpecification {
    TimeToLiveSpecification::builder()
        .set_attribute_name(attr.map(str::to_owned))
        .set_enabled(enabled)
        .build()
        .expect("spec")
}

async fn update_error(c: &Client, table: &str, s: TimeToLiveSpecification) -> (String, String) {
    let e = c
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(s)
        .send()
        .await
        .expect_err("should fail");
    (
        e.code().unwrap_or_default().to_owned(),
        e.message().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn ttl_is_enabled_described_and_disabled() {
    let s = TestStore::start().await;
    let c = s.client();
    create_table(&c, "ttl").await;
    let d = c.describe_time_to_live().table_name("ttl").send().await;
    let d = d.expect("describe");
    let desc = d.time_to_live_description().expect("description");
    assert_eq!(
        desc.time_to_live_status(),
        Some(&TimeToLiveStatus::Disabled)
    );
    assert_eq!(desc.attribute_name(), None);

    let out = c
        .update_time_to_live()
        .table_name("ttl")
        .time_to_live_specification(spec(Some("exp"), Some(true)))
        .send()
        .await
        .expect("enable");
    let echoed = out.time_to_live_specification().expect("spec");
    assert_eq!(echoed.attribute_name(), "exp");
    assert!(echoed.enabled());
    let d = c.describe_time_to_live().table_name("ttl").send().await;
    let d = d.expect("describe");
    let desc = d.time_to_live_description().expect("description");
    assert_eq!(desc.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(desc.attribute_name(), Some("exp"));

    let (code, msg) = update_error(&c, "ttl", spec(Some("exp"), Some(true))).await;
    assert_eq!(code, "ValidationException");
    assert_eq!(msg, "TimeToLive is already enabled");
    let (code, msg) = update_error(&c, "ttl", spec(Some("other"), Some(true))).await;
    assert_eq!(code, "ValidationException");
    assert!(msg.contains("active on a different AttributeName"), "{msg}");
    let (_, msg) = update_error(&c, "ttl", spec(Some("other"), Some(false))).await;
    assert!(msg.contains("different"), "{msg}");

    c.update_time_to_live()
        .table_name("ttl")
        .time_to_live_specification(spec(Some("exp"), Some(false)))
        .send()
        .await
        .expect("disable");
    let (_, msg) = update_error(&c, "ttl", spec(Some("exp"), Some(false))).await;
    assert_eq!(msg, "TimeToLive is already disabled");
}

#[tokio::test]
async fn ttl_request_errors_follow_dynamodb() {
    let s = TestStore::start().await;
    let c = s.client();
    let (code, _) = update_error(&c, "missing", spec(Some("exp"), Some(true))).await;
    assert_eq!(code, "ResourceNotFoundException");
    create_table(&c, "ttlerr").await;
    let long = "x".repeat(256);
    for (s, needle) in [
        (spec(Some(""), Some(true)), "length"),
        (spec(Some(&long), Some(true)), "length"),
    ] {
        let (code, msg) = update_error(&c, "ttlerr", s).await;
        assert_eq!(code, "ValidationException");
        assert!(msg.contains(needle), "{msg}");
    }
}

fn item(p: &str, exp: Option<Av>) -> std::collections::HashMap<String, Av> {
    let mut i = std::collections::HashMap::new();
    i.insert("p".to_owned(), Av::S(p.to_owned()));
    if let Some(e) = exp {
        i.insert("exp".to_owned(), e);
    }
    i
}

async fn exists(c: &Client, p: &str) -> bool {
    let out = c
        .get_item()
        .table_name("swept")
        .key("p", Av::S(p.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("get");
    out.item().is_some()
}

#[tokio::test]
async fn sweeper_deletes_only_expired_numeric_ttls_when_time_passes() {
    let clock = ManualClock::new(1_700_000_000_000);
    let dir = TempDir::new("ttl");
    let mut config = StoreConfig::new(dir.path());
    config.engine.clock = clock.clone() as Arc<dyn Clock>;
    // Rounds run only when the test moves the clock.
    config.maintenance.ttl_interval = Duration::from_secs(24 * 3600);
    let s = TestStore::start_with(dir, config).await;
    let c = s.client();
    create_table(&c, "swept").await;
    c.update_time_to_live()
        .table_name("swept")
        .time_to_live_specification(spec(Some("exp"), Some(true)))
        .send()
        .await
        .expect("enable");
    let now = 1_700_000_000i64;
    let items = [
        ("past", Some(Av::N((now - 10).to_string()))),
        ("soon", Some(Av::N((now + 100).to_string()))),
        ("later", Some(Av::N((now + 10_000).to_string()))),
        ("text", Some(Av::S((now - 10).to_string()))),
        ("ancient", Some(Av::N("1".to_owned()))),
        ("none", None),
    ];
    for (p, exp) in items {
        c.put_item()
            .table_name("swept")
            .set_item(Some(item(p, exp)))
            .send()
            .await
            .expect("put");
    }
    // Expired but not yet swept: still readable.
    assert!(exists(&c, "past").await);

    let mut progress = s.store.progress().expect("background tasks").ttl.clone();
    clock.advance_ms(200_000);
    let target = clock.now_ms();
    progress
        .wait_for(|started| *started >= target)
        .await
        .expect("sweeper alive");
    assert!(!exists(&c, "past").await);
    assert!(!exists(&c, "soon").await);
    for p in ["later", "text", "ancient", "none"] {
        assert!(exists(&c, p).await, "{p}");
    }
}
