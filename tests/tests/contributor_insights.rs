//! Contributor insights on the store: UpdateContributorInsights,
//! DescribeContributorInsights and ListContributorInsights through the SDK
//! (statuses, rule names, modes, paging, errors, persistence across a
//! restart), and the ranked keys on the admin endpoint's `/insights`:
//! accesses from real requests, throttles from the capacity code's hook.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    ContributorInsightsAction as Action, ContributorInsightsMode as Mode,
    ContributorInsightsStatus as Status, DeleteGlobalSecondaryIndexAction,
    GlobalSecondaryIndexUpdate, ScalarAttributeType as St,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_bench::keys::Zipfian;
use ferrodyn_bench::rng::Rng;
use ferrodyn_store::model::value::AttributeValue as Av;
use ferrodyn_tests::{
    assert_error, assert_validation, s, IndexSpec, StoreAdmin, TableSpec, TestProxy, TestStore,
};
use serde_json::Value;

fn pk_table(name: &str) -> TableSpec {
    TableSpec::new(name).hash("pk", St::S)
}

fn pk_sk_table(name: &str) -> TableSpec {
    TableSpec::new(name)
        .hash("pk", St::S)
        .range("sk", St::S)
        .gsi(IndexSpec::new("by_g").hash("g", St::S))
}

async fn enable(c: &Client, table: &str, index: Option<&str>, mode: Option<Mode>) -> Status {
    let out = c
        .update_contributor_insights()
        .table_name(table)
        .set_index_name(index.map(str::to_owned))
        .contributor_insights_action(Action::Enable)
        .set_contributor_insights_mode(mode)
        .send()
        .await
        .expect("enable contributor insights");
    assert_eq!(out.table_name(), Some(table));
    assert_eq!(out.index_name(), index);
    out.contributor_insights_status().cloned().expect("status")
}

async fn get(c: &Client, table: &str, pk: &str) {
    c.get_item()
        .table_name(table)
        .key("pk", s(pk))
        .send()
        .await
        .expect("get item");
}

async fn report(admin: &StoreAdmin, query: &str) -> Value {
    let (status, body) = admin.get(&format!("/insights?{query}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("insights are JSON")
}

/// The ranked keys' partition key values of the report's only rule.
fn ranked(report: &Value) -> Vec<(String, u64)> {
    let rules = report["Rules"].as_array().expect("Rules");
    assert_eq!(rules.len(), 1, "{report}");
    rules[0]["Keys"]
        .as_array()
        .expect("Keys")
        .iter()
        .map(|k| {
            (
                k["Key"]["pk"]["S"].as_str().expect("pk").to_owned(),
                k["Count"].as_u64().expect("Count"),
            )
        })
        .collect()
}

#[tokio::test]
async fn enabling_describes_rules_and_disabling_turns_them_off() {
    let store = TestStore::start().await;
    let c = store.client();
    pk_sk_table("orders").create(&c).await;

    let before = c
        .describe_contributor_insights()
        .table_name("orders")
        .send()
        .await
        .expect("describe");
    assert_eq!(
        before.contributor_insights_status(),
        Some(&Status::Disabled)
    );
    assert!(before.contributor_insights_rule_list().is_empty());
    assert!(before.last_update_date_time().is_none());

    assert_eq!(enable(&c, "orders", None, None).await, Status::Enabling);
    let on = c
        .describe_contributor_insights()
        .table_name("orders")
        .send()
        .await
        .expect("describe");
    assert_eq!(on.table_name(), Some("orders"));
    assert_eq!(on.contributor_insights_status(), Some(&Status::Enabled));
    assert_eq!(
        on.contributor_insights_mode(),
        Some(&Mode::AccessedAndThrottledKeys)
    );
    assert!(on.last_update_date_time().is_some());
    assert!(on.failure_exception().is_none());
    // A table with a sort key gets DynamoDB's four rules.
    let rules = on.contributor_insights_rule_list();
    assert_eq!(rules.len(), 4, "{rules:?}");
    for (rule, code) in rules.iter().zip(["PKC", "PKT", "SKC", "SKT"]) {
        assert!(
            rule.starts_with(&format!("DynamoDBContributorInsights-{code}-orders-")),
            "{rule}"
        );
    }

    let off = c
        .update_contributor_insights()
        .table_name("orders")
        .contributor_insights_action(Action::Disable)
        .send()
        .await
        .expect("disable");
    assert_eq!(off.contributor_insights_status(), Some(&Status::Disabling));
    let after = c
        .describe_contributor_insights()
        .table_name("orders")
        .send()
        .await
        .expect("describe");
    assert_eq!(after.contributor_insights_status(), Some(&Status::Disabled));
    assert!(after.contributor_insights_rule_list().is_empty());
    assert!(after.last_update_date_time().is_some());
}

#[tokio::test]
async fn throttled_keys_mode_and_tables_without_sort_keys_have_fewer_rules() {
    let store = TestStore::start().await;
    let c = store.client();
    pk_table("simple").create(&c).await;
    pk_sk_table("composite").create(&c).await;
    enable(&c, "simple", None, None).await;
    enable(&c, "composite", None, Some(Mode::ThrottledKeys)).await;

    let simple = c
        .describe_contributor_insights()
        .table_name("simple")
        .send()
        .await
        .expect("describe");
    let codes: Vec<&str> = simple
        .contributor_insights_rule_list()
        .iter()
        .map(|r| &r["DynamoDBContributorInsights-".len()..][..3])
        .collect();
    assert_eq!(codes, ["PKC", "PKT"]);

    let composite = c
        .describe_contributor_insights()
        .table_name("composite")
        .send()
        .await
        .expect("describe");
    assert_eq!(
        composite.contributor_insights_mode(),
        Some(&Mode::ThrottledKeys)
    );
    let codes: Vec<&str> = composite
        .contributor_insights_rule_list()
        .iter()
        .map(|r| &r["DynamoDBContributorInsights-".len()..][..3])
        .collect();
    assert_eq!(codes, ["PKT", "SKT"]);
}

#[tokio::test]
async fn a_global_secondary_index_has_insights_of_its_own() {
    let store = TestStore::start().await;
    let c = store.client();
    pk_sk_table("orders").create(&c).await;
    assert_eq!(
        enable(&c, "orders", Some("by_g"), None).await,
        Status::Enabling
    );
    let index = c
        .describe_contributor_insights()
        .table_name("orders")
        .index_name("by_g")
        .send()
        .await
        .expect("describe index");
    assert_eq!(index.index_name(), Some("by_g"));
    assert_eq!(index.contributor_insights_status(), Some(&Status::Enabled));
    // The index has no sort key: two rules, named after table and index.
    let rules = index.contributor_insights_rule_list();
    assert_eq!(rules.len(), 2);
    assert!(rules[0].starts_with("DynamoDBContributorInsights-PKC-orders-by_g-"));
    // The table itself is unaffected.
    let table = c
        .describe_contributor_insights()
        .table_name("orders")
        .send()
        .await
        .expect("describe table");
    assert_eq!(table.contributor_insights_status(), Some(&Status::Disabled));

    // Deleting the index drops its insights.
    let admin = StoreAdmin::start(&store.store, None).await;
    assert_eq!(admin.get("/insights?table=orders&index=by_g").await.0, 200);
    c.update_table()
        .table_name("orders")
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .delete(
                    DeleteGlobalSecondaryIndexAction::builder()
                        .index_name("by_g")
                        .build()
                        .expect("delete action"),
                )
                .build(),
        )
        .send()
        .await
        .expect("delete index");
    assert_eq!(admin.get("/insights?table=orders&index=by_g").await.0, 404);
}

#[tokio::test]
async fn list_pages_through_tables_and_their_indexes() {
    let store = TestStore::start().await;
    let c = store.client();
    pk_sk_table("t_a").create(&c).await;
    pk_table("t_b").create(&c).await;
    pk_table("t_c").create(&c).await;
    enable(&c, "t_b", None, Some(Mode::ThrottledKeys)).await;

    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let out = c
            .list_contributor_insights()
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .expect("list");
        pages += 1;
        assert!(out.contributor_insights_summaries().len() <= 2);
        for sum in out.contributor_insights_summaries() {
            seen.push((
                sum.table_name().unwrap_or_default().to_owned(),
                sum.index_name().map(str::to_owned),
                sum.contributor_insights_status().cloned(),
                sum.contributor_insights_mode().cloned(),
            ));
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 2);
    let names: Vec<(&str, Option<&str>)> = seen
        .iter()
        .map(|(t, i, _, _)| (t.as_str(), i.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            ("t_a", None),
            ("t_a", Some("by_g")),
            ("t_b", None),
            ("t_c", None)
        ]
    );
    assert_eq!(seen[2].2, Some(Status::Enabled));
    assert_eq!(seen[2].3, Some(Mode::ThrottledKeys));
    assert_eq!(seen[0].2, Some(Status::Disabled));

    // TableName narrows the list to one table and its indexes.
    let one = c
        .list_contributor_insights()
        .table_name("t_a")
        .send()
        .await
        .expect("list one table");
    assert_eq!(one.contributor_insights_summaries().len(), 2);
    assert!(one.next_token().is_none());
}

#[tokio::test]
async fn bad_requests_get_dynamodbs_errors_and_change_nothing() {
    let store = TestStore::start().await;
    let c = store.client();
    pk_table("present").create(&c).await;

    let err = c
        .update_contributor_insights()
        .table_name("absent")
        .contributor_insights_action(Action::Enable)
        .send()
        .await
        .expect_err("absent table");
    assert_error(
        &err.into_service_error(),
        "ResourceNotFoundException",
        "Requested resource not found",
    );
    let err = c
        .describe_contributor_insights()
        .table_name("absent")
        .send()
        .await
        .expect_err("absent table");
    assert_error(
        &err.into_service_error(),
        "ResourceNotFoundException",
        "Requested resource not found",
    );
    let err = c
        .list_contributor_insights()
        .table_name("absent")
        .send()
        .await
        .expect_err("absent table");
    assert_error(
        &err.into_service_error(),
        "ResourceNotFoundException",
        "Requested resource not found",
    );
    let err = c
        .update_contributor_insights()
        .table_name("present")
        .index_name("nope")
        .contributor_insights_action(Action::Enable)
        .send()
        .await
        .expect_err("absent index");
    assert_error(
        &err.into_service_error(),
        "ResourceNotFoundException",
        "Requested resource not found",
    );
    let err = c
        .update_contributor_insights()
        .table_name("present")
        .contributor_insights_action(Action::from("TOGGLE"))
        .send()
        .await
        .expect_err("unknown action");
    assert_validation(
        &err.into_service_error(),
        "1 validation error detected: Value 'TOGGLE' at 'contributorInsightsAction' failed to satisfy constraint: Member must satisfy enum value set: [ENABLE, DISABLE]",
    );
    let err = c
        .update_contributor_insights()
        .table_name("present")
        .contributor_insights_action(Action::Enable)
        .contributor_insights_mode(Mode::from("ALL_KEYS"))
        .send()
        .await
        .expect_err("unknown mode");
    assert_validation(
        &err.into_service_error(),
        "1 validation error detected: Value 'ALL_KEYS' at 'contributorInsightsMode' failed to satisfy constraint: Member must satisfy enum value set: [ACCESSED_AND_THROTTLED_KEYS, THROTTLED_KEYS]",
    );
    let err = c
        .list_contributor_insights()
        .max_results(101)
        .send()
        .await
        .expect_err("page too large");
    assert_validation(
        &err.into_service_error(),
        "1 validation error detected: Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100",
    );
    let err = c
        .describe_contributor_insights()
        .table_name("x")
        .send()
        .await
        .expect_err("short name");
    assert_validation(
        &err.into_service_error(),
        "1 validation error detected: Value 'x' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3",
    );
    // None of it enabled anything.
    let d = c
        .describe_contributor_insights()
        .table_name("present")
        .send()
        .await
        .expect("describe");
    assert_eq!(d.contributor_insights_status(), Some(&Status::Disabled));
}

#[tokio::test]
async fn a_missing_action_is_a_validation_error() {
    let store = TestStore::start().await;
    let c = store.client();
    pk_table("present").create(&c).await;
    let (status, _, body) = ferrodyn_tests::raw_post(
        store.addr,
        Some("DynamoDB_20120810.UpdateContributorInsights"),
        &[],
        br#"{"TableName":"present"}"#,
    )
    .await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("ValidationException"), "{body}");
    assert!(
        body.contains("Value null at 'contributorInsightsAction' failed to satisfy constraint: Member must not be null"),
        "{body}"
    );
}

#[tokio::test]
async fn the_enabled_state_survives_a_restart() {
    let store = TestStore::start().await;
    let c = store.client();
    pk_sk_table("kept").create(&c).await;
    enable(&c, "kept", None, Some(Mode::ThrottledKeys)).await;
    enable(&c, "kept", Some("by_g"), None).await;
    let before = c
        .describe_contributor_insights()
        .table_name("kept")
        .send()
        .await
        .expect("describe");

    let dir = store.stop().await;
    let store = TestStore::start_in(dir).await;
    let c = store.client();
    let after = c
        .describe_contributor_insights()
        .table_name("kept")
        .send()
        .await
        .expect("describe");
    assert_eq!(after.contributor_insights_status(), Some(&Status::Enabled));
    assert_eq!(
        after.contributor_insights_mode(),
        Some(&Mode::ThrottledKeys)
    );
    assert_eq!(
        after.contributor_insights_rule_list(),
        before.contributor_insights_rule_list()
    );
    let index = c
        .describe_contributor_insights()
        .table_name("kept")
        .index_name("by_g")
        .send()
        .await
        .expect("describe index");
    assert_eq!(index.contributor_insights_status(), Some(&Status::Enabled));
    // And the reopened store counts again.
    let admin = StoreAdmin::start(&store.store, None).await;
    let (status, _) = admin.get("/insights?table=kept&index=by_g").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_admin_endpoint_ranks_the_most_accessed_keys() {
    let store = TestStore::start().await;
    let admin = StoreAdmin::start(&store.store, None).await;
    let c = store.client();
    pk_sk_table("hot").create(&c).await;
    pk_table("cold").create(&c).await;
    // Not enabled: nothing to report.
    let (status, _) = admin.get("/insights?table=hot").await;
    assert_eq!(status, 404);
    enable(&c, "hot", None, None).await;

    for (pk, sk, times) in [
        ("celebrity", "a", 8),
        ("celebrity", "b", 4),
        ("fan", "a", 3),
    ] {
        for _ in 0..times {
            c.get_item()
                .table_name("hot")
                .key("pk", s(pk))
                .key("sk", s(sk))
                .send()
                .await
                .expect("get");
        }
    }
    // A write weighs three read units (ConsumedThroughputUnits).
    c.put_item()
        .table_name("hot")
        .item("pk", s("writer"))
        .item("sk", s("a"))
        .item("g", s("x"))
        .send()
        .await
        .expect("put");
    // A Query counts for its partition.
    c.query()
        .table_name("hot")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("fan"))
        .send()
        .await
        .expect("query");
    // Another table's traffic is not counted here.
    get(&c, "cold", "celebrity").await;

    let pkc = report(&admin, "table=hot&rule=PKC&top=3").await;
    assert_eq!(pkc["TableName"], "hot");
    assert_eq!(
        pkc["ContributorInsightsMode"],
        "ACCESSED_AND_THROTTLED_KEYS"
    );
    let rule = &pkc["Rules"][0];
    assert_eq!(rule["Rule"], "PKC");
    assert!(rule["RuleName"]
        .as_str()
        .expect("RuleName")
        .starts_with("DynamoDBContributorInsights-PKC-hot-"));
    assert_eq!(rule["Total"], 12 + 3 + 3 + 1);
    assert_eq!(
        ranked(&pkc),
        [
            ("celebrity".to_owned(), 12),
            ("fan".to_owned(), 4),
            ("writer".to_owned(), 3)
        ]
    );

    let skc = report(&admin, "table=hot&rule=SKC&top=2").await;
    let keys = skc["Rules"][0]["Keys"].as_array().expect("Keys");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["Key"]["pk"]["S"], "celebrity");
    assert_eq!(keys[0]["Key"]["sk"]["S"], "a");
    assert_eq!(keys[0]["Count"], 8);
    assert_eq!(keys[0]["Error"], 0);
    assert_eq!(keys[1]["Key"]["sk"]["S"], "b");

    // Without a rule, every rule the table keeps.
    let all = report(&admin, "table=hot").await;
    let rules: Vec<&str> = all["Rules"]
        .as_array()
        .expect("Rules")
        .iter()
        .map(|r| r["Rule"].as_str().expect("Rule"))
        .collect();
    assert_eq!(rules, ["PKC", "PKT", "SKC", "SKT"]);
    let (status, _) = admin.get("/insights?table=hot&rule=XYZ").await;
    assert_eq!(status, 400);
    let (status, _) = admin.get("/insights").await;
    assert_eq!(status, 400);

    // Deleting the table forgets its insights.
    c.delete_table()
        .table_name("hot")
        .send()
        .await
        .expect("delete");
    let (status, _) = admin.get("/insights?table=hot").await;
    assert_eq!(status, 404);
}

/// The throttling code reports each refused request through
/// `Store::record_throttle`: the key lands in the throttle rules (and the
/// throttle event in the metrics) of the table or index it was refused for.
#[tokio::test]
async fn throttles_reported_by_the_capacity_code_rank_the_most_throttled_keys() {
    let store = TestStore::start().await;
    let admin = StoreAdmin::start(&store.store, None).await;
    let c = store.client();
    pk_sk_table("busy").create(&c).await;
    enable(&c, "busy", None, Some(Mode::ThrottledKeys)).await;
    enable(&c, "busy", Some("by_g"), None).await;

    let key = |pk: &str, sk: &str| {
        ferrodyn_store::model::value::Item::from([
            ("pk".to_owned(), Av::S(pk.into())),
            ("sk".to_owned(), Av::S(sk.into())),
            ("g".to_owned(), Av::S("grp".into())),
        ])
    };
    for _ in 0..5 {
        store
            .store
            .record_throttle("busy", None, &key("hot", "1"), false);
    }
    store
        .store
        .record_throttle("busy", None, &key("hot", "2"), true);
    store
        .store
        .record_throttle("busy", None, &key("warm", "1"), true);
    store
        .store
        .record_throttle("busy", Some("by_g"), &key("hot", "1"), true);
    // Accesses are not counted in THROTTLED_KEYS mode.
    c.get_item()
        .table_name("busy")
        .key("pk", s("hot"))
        .key("sk", s("1"))
        .send()
        .await
        .expect("get");

    let pkt = report(&admin, "table=busy&rule=PKT").await;
    assert_eq!(pkt["ContributorInsightsMode"], "THROTTLED_KEYS");
    assert_eq!(
        ranked(&pkt),
        [("hot".to_owned(), 6), ("warm".to_owned(), 1)]
    );
    let skt = report(&admin, "table=busy&rule=SKT&top=1").await;
    assert_eq!(skt["Rules"][0]["Keys"][0]["Key"]["sk"]["S"], "1");
    assert_eq!(skt["Rules"][0]["Keys"][0]["Count"], 5);
    let (status, _) = admin.get("/insights?table=busy&rule=PKC").await;
    assert_eq!(status, 200);
    let none = report(&admin, "table=busy&rule=PKC").await;
    assert!(none["Rules"].as_array().expect("Rules").is_empty());

    // The index counted its own throttle, by its own key.
    let gsi = report(&admin, "table=busy&index=by_g&rule=PKT").await;
    let keys = gsi["Rules"][0]["Keys"].as_array().expect("Keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["Key"]["g"]["S"], "grp");

    // Throttle events, read and write, on the table and on the index.
    let m = |name: &str, index: &str| format!("{name}{{index=\"{index}\",table=\"busy\"}}");
    assert_eq!(
        admin
            .metric(&m("ferrodyn_store_read_throttle_events_total", ""))
            .await,
        Some(5.0)
    );
    assert_eq!(
        admin
            .metric(&m("ferrodyn_store_write_throttle_events_total", ""))
            .await,
        Some(2.0)
    );
    assert_eq!(
        admin
            .metric(&m("ferrodyn_store_write_throttle_events_total", "by_g"))
            .await,
        Some(1.0)
    );
}

/// The accuracy promise: under ferrodyn-bench's zipfian workload over ten
/// thousand keys, the five keys reported hottest are the five the
/// generator drew most often, with their exact counts.
#[tokio::test]
async fn the_top_five_of_a_zipfian_workload_are_exact() {
    const KEYS: u64 = 10_000;
    const REQUESTS: usize = 6_000;
    let store = TestStore::start().await;
    let admin = StoreAdmin::start(&store.store, None).await;
    let c = store.client();
    pk_table("zipf").create(&c).await;
    enable(&c, "zipf", None, None).await;

    let zipf = Zipfian::new(KEYS, 0.99);
    let mut rng = Rng::new(42);
    let draws: Vec<u64> = (0..REQUESTS).map(|_| zipf.sample(&mut rng)).collect();
    let mut truth: HashMap<u64, u64> = HashMap::new();
    for d in &draws {
        *truth.entry(*d).or_default() += 1;
    }
    let mut hottest: Vec<(u64, u64)> = truth.into_iter().collect();
    hottest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    // Ranks 5 and 6 must differ for "the top five" to be well defined.
    assert!(hottest[4].1 > hottest[5].1, "{:?}", &hottest[..6]);

    // One request at a time, in the generator's order: Space-Saving's
    // counts depend on arrival order, and this order is the seed's.
    for k in &draws {
        get(&c, "zipf", &format!("user{k}")).await;
    }

    let r = report(&admin, "table=zipf&rule=PKC&top=5").await;
    assert_eq!(r["Rules"][0]["Total"], REQUESTS as u64);
    let want: Vec<(String, u64)> = hottest[..5]
        .iter()
        .map(|(k, n)| (format!("user{k}"), *n))
        .collect();
    assert_eq!(ranked(&r), want);
}

/// The embedded `ferrodyn` serves the store's insights on its own admin
/// endpoint (`/insights?table=T`): requests that reach the store (cache
/// misses, consistent reads, writes) are counted.
#[tokio::test]
async fn the_embedded_proxy_serves_the_stores_insights() {
    let proxy = TestProxy::embedded().await;
    let c = proxy.client();
    pk_table("through").create(&c).await;
    enable(&c, "through", None, None).await;
    for _ in 0..3 {
        c.get_item()
            .table_name("through")
            .key("pk", s("k1"))
            .consistent_read(true)
            .send()
            .await
            .expect("get");
    }
    let (status, body) = proxy.admin_get("/insights?table=through&rule=PKC").await;
    assert_eq!(status, 200, "{body}");
    let r: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(ranked(&r), [("k1".to_owned(), 3)]);
}
