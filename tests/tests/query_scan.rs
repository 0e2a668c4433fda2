//! Query and Scan through the AWS SDK: ordering, paging (Limit and the 1 MB
//! page), filters and their counts, projections, Select, parallel Scan
//! segments, and DynamoDB's validation errors.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::{
    AttributeValue as Av, ComparisonOperator, Condition, PutRequest, ScalarAttributeType, Select,
    WriteRequest,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::values::num;
use ferrodyn_tests::{assert_error, create_table, n, s, TableSpec, TestStore};

/// Write items with BatchWriteItem, 25 at a time, several batches in flight.
async fn load(client: &Client, table: &str, items: Vec<HashMap<String, Av>>) {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in items.chunks(25) {
        let requests: Vec<WriteRequest> = chunk
            .iter()
            .map(|i| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(i.clone()))
                            .build()
                            .expect("put"),
                    )
                    .build()
            })
            .collect();
        let client = client.clone();
        let table = table.to_owned();
        tasks.spawn(async move {
            client
                .batch_write_item()
                .request_items(table, requests)
                .send()
                .await
                .expect("batch write")
        });
        while tasks.len() >= 8 {
            tasks.join_next().await.expect("task").expect("join");
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("join");
    }
}

const N: i64 = 10_000;

#[tokio::test(flavor = "multi_thread")]
async fn query_pages_through_ten_thousand_items_both_ways() {
    let server = TestStore::start().await;
    let client = server.client();
    TableSpec::new("big")
        .hash("p", ScalarAttributeType::S)
        .range("c", ScalarAttributeType::N)
        .create(&client)
        .await;
    let pad = "x".repeat(200);
    let items = (0..N)
        .map(|i| {
            HashMap::from([
                ("p".to_owned(), s("one")),
                ("c".to_owned(), n(i)),
                ("m".to_owned(), n(i % 7)),
                ("pad".to_owned(), s(&pad)),
            ])
        })
        .collect();
    load(&client, "big", items).await;
    // Another partition, which a Query of "one" must never see.
    client
        .put_item()
        .table_name("big")
        .item("p", s("two"))
        .item("c", n(5))
        .send()
        .await
        .expect("put");

    for forward in [true, false] {
        for filtered in [false, true] {
            let mut req = client
                .query()
                .table_name("big")
                .key_condition_expression("p = :p")
                .expression_attribute_values(":p", s("one"))
                .scan_index_forward(forward);
            if filtered {
                req = req
                    .filter_expression("m = :zero")
                    .expression_attribute_values(":zero", n(0));
            }
            let mut pages = req.into_paginator().send();
            let (mut got, mut scanned, mut count, mut page_count) = (Vec::new(), 0, 0, 0);
            while let Some(page) = pages.next().await {
                let page = page.expect("page");
                page_count += 1;
                scanned += page.scanned_count();
                count += page.count();
                got.extend(page.items().iter().map(|i| num(i, "c")));
            }
            let mut want: Vec<i64> = (0..N).filter(|i| !filtered || i % 7 == 0).collect();
            if !forward {
                want.reverse();
            }
            assert_eq!(got, want, "forward={forward} filtered={filtered}");
            // ~2.3 MB of items: the 1 MB page limit splits them, counted
            // before the filter.
            assert!(page_count >= 3, "{page_count} pages");
            assert_eq!(scanned as i64, N);
            assert_eq!(count as usize, want.len());
        }
    }

    // Limit pages: each page reads at most Limit items, the filter applied after.
    let mut pages = client
        .query()
        .table_name("big")
        .key_condition_expression("p = :p AND c BETWEEN :lo AND :hi")
        .filter_expression("m = :zero")
        .expression_attribute_values(":p", s("one"))
        .expression_attribute_values(":lo", n(100))
        .expression_attribute_values(":hi", n(199))
        .expression_attribute_values(":zero", n(0))
        .limit(30)
        .into_paginator()
        .send();
    let mut got = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.expect("page");
        assert!(page.scanned_count() <= 30);
        got.extend(page.items().iter().map(|i| num(i, "c")));
    }
    assert_eq!(got, (100..200).filter(|i| i % 7 == 0).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_scan_segments_return_every_item_exactly_once() {
    let server = TestStore::start().await;
    let client = server.client();
    TableSpec::new("par")
        .hash("p", ScalarAttributeType::S)
        .range("c", ScalarAttributeType::S)
        .create(&client)
        .await;
    let items = (0..1500)
        .map(|i| {
            HashMap::from([
                ("p".to_owned(), s(&format!("p{}", i % 300))),
                ("c".to_owned(), s(&format!("c{i}"))),
            ])
        })
        .collect();
    load(&client, "par", items).await;
    for total in [1, 4, 16] {
        let mut seen = HashSet::new();
        let mut nonempty = 0;
        for segment in 0..total {
            let mut pages = client
                .scan()
                .table_name("par")
                .segment(segment)
                .total_segments(total)
                .limit(97)
                .into_paginator()
                .send();
            let mut here = 0;
            while let Some(page) = pages.next().await {
                for item in page.expect("page").items() {
                    let key = match (item.get("p"), item.get("c")) {
                        (Some(Av::S(p)), Some(Av::S(c))) => format!("{p}/{c}"),
                        other => panic!("bad item {other:?}"),
                    };
                    assert!(seen.insert(key), "item returned twice");
                    here += 1;
                }
            }
            if here > 0 {
                nonempty += 1;
            }
        }
        assert_eq!(seen.len(), 1500, "TotalSegments={total}");
        assert!(nonempty > total / 2, "segments are not spread: {nonempty}");
    }
    let err = client
        .scan()
        .table_name("par")
        .segment(7)
        .total_segments(5)
        .send()
        .await
        .expect_err("segment out of range");
    assert_error(
        &err,
        "ValidationException",
        "Segment: 7 is not less than TotalSegments: 5",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn query_sort_key_conditions_select_and_projection() {
    let server = TestStore::start().await;
    let client = server.client();
    TableSpec::new("tbl")
        .hash("p", ScalarAttributeType::S)
        .range("c", ScalarAttributeType::S)
        .create(&client)
        .await;
    let keys = ["a", "ab", "abc", "b", "ba", "c"];
    let items = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            HashMap::from([
                ("p".to_owned(), s("k")),
                ("c".to_owned(), s(k)),
                ("x".to_owned(), n(i as i64)),
            ])
        })
        .collect();
    load(&client, "tbl", items).await;
    let query = |cond: &'static str, vals: Vec<(&'static str, &'static str)>| {
        let mut q = client
            .query()
            .table_name("tbl")
            .key_condition_expression(cond)
            .expression_attribute_values(":p", s("k"));
        for (k, v) in vals {
            q = q.expression_attribute_values(k, s(v));
        }
        q
    };
    let sorts = |out: &aws_sdk_dynamodb::operation::query::QueryOutput| -> Vec<String> {
        out.items()
            .iter()
            .map(|i| match i.get("c") {
                Some(Av::S(c)) => c.clone(),
                _ => String::new(),
            })
            .collect()
    };
    type Case = (
        &'static str,
        Vec<(&'static str, &'static str)>,
        Vec<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            "p = :p AND begins_with(c, :v)",
            vec![(":v", "ab")],
            vec!["ab", "abc"],
        ),
        (
            "p = :p AND c < :v",
            vec![(":v", "b")],
            vec!["a", "ab", "abc"],
        ),
        (
            "p = :p AND c <= :v",
            vec![(":v", "b")],
            vec!["a", "ab", "abc", "b"],
        ),
        ("p = :p AND c > :v", vec![(":v", "b")], vec!["ba", "c"]),
        (
            "p = :p AND c >= :v",
            vec![(":v", "b")],
            vec!["b", "ba", "c"],
        ),
        ("p = :p AND c = :v", vec![(":v", "ab")], vec!["ab"]),
        (
            "p = :p AND c BETWEEN :v AND :w",
            vec![(":v", "ab"), (":w", "b")],
            vec!["ab", "abc", "b"],
        ),
    ];
    for (cond, vals, want) in cases {
        let out = query(cond, vals).send().await.expect(cond);
        assert_eq!(sorts(&out), want, "{cond}");
    }
    // Legacy KeyConditions, reversed.
    let out = client
        .query()
        .table_name("tbl")
        .key_conditions(
            "p",
            Condition::builder()
                .comparison_operator(ComparisonOperator::Eq)
                .attribute_value_list(s("k"))
                .build()
                .expect("cond"),
        )
        .key_conditions(
            "c",
            Condition::builder()
                .comparison_operator(ComparisonOperator::BeginsWith)
                .attribute_value_list(s("b"))
                .build()
                .expect("cond"),
        )
        .scan_index_forward(false)
        .send()
        .await
        .expect("legacy query");
    assert_eq!(sorts(&out), vec!["ba", "b"]);
    // Select=COUNT: a count and no items.
    let out = query("p = :p", vec![])
        .select(Select::Count)
        .send()
        .await
        .expect("count");
    assert_eq!((out.count(), out.items.is_none()), (6, true));
    // Projection.
    let out = query("p = :p AND c = :v", vec![(":v", "b")])
        .projection_expression("x")
        .send()
        .await
        .expect("projection");
    assert_eq!(out.items(), &[HashMap::from([("x".to_owned(), n(3))])]);
    // Limit stops early and returns the last key read.
    let out = query("p = :p", vec![])
        .limit(2)
        .send()
        .await
        .expect("limit");
    assert_eq!(sorts(&out), vec!["a", "ab"]);
    let last = out.last_evaluated_key().expect("last key").clone();
    assert_eq!(last.get("c"), Some(&s("ab")));
    let out = query("p = :p", vec![])
        .set_exclusive_start_key(Some(last))
        .send()
        .await
        .expect("resume");
    assert_eq!(sorts(&out), vec!["abc", "b", "ba", "c"]);
    assert!(out.last_evaluated_key().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn query_and_scan_reject_invalid_requests_with_dynamodb_messages() {
    let server = TestStore::start().await;
    let client = server.client();
    TableSpec::new("tbl")
        .hash("p", ScalarAttributeType::S)
        .range("c", ScalarAttributeType::N)
        .create(&client)
        .await;
    let base = || {
        client
            .query()
            .table_name("tbl")
            .key_condition_expression("p = :p")
            .expression_attribute_values(":p", s("k"))
    };
    let cases = [
        (
            client.query().table_name("tbl").send().await.expect_err("no key"),
            "Either the KeyConditions or KeyConditionExpression parameter must be specified",
        ),
        (
            base().limit(0).send().await.expect_err("limit"),
            "Member must have value greater than or equal to 1",
        ),
        (
            base().select(Select::SpecificAttributes).send().await.expect_err("select"),
            "Must specify the AttributesToGet or ProjectionExpression",
        ),
        (
            base()
                .select(Select::AllAttributes)
                .projection_expression("x")
                .send()
                .await
                .expect_err("select"),
            "Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES",
        ),
        (
            base()
                .select(Select::AllProjectedAttributes)
                .send()
                .await
                .expect_err("select"),
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
        ),
        (
            base()
                .filter_expression("c > :p")
                .send()
                .await
                .expect_err("key in filter"),
            "Filter Expression can only contain non-primary key attributes: Primary key attribute: c",
        ),
        (
            base()
                .exclusive_start_key("p", s("other"))
                .exclusive_start_key("c", n(1))
                .send()
                .await
                .expect_err("start key"),
            "The provided starting key is outside query boundaries",
        ),
        (
            base()
                .exclusive_start_key("p", s("k"))
                .send()
                .await
                .expect_err("start key"),
            "The provided starting key is invalid",
        ),
        (
            client
                .query()
                .table_name("tbl")
                .key_condition_expression("p = :p")
                .expression_attribute_values(":p", n(1))
                .send()
                .await
                .expect_err("type"),
            "Condition parameter type does not match schema type",
        ),
    ];
    for (err, needle) in cases {
        assert_error(&err, "ValidationException", needle);
    }
    let err = client
        .query()
        .table_name("nope")
        .key_condition_expression("p = :p")
        .expression_attribute_values(":p", s("k"))
        .send()
        .await
        .expect_err("no table");
    assert_error(
        &err,
        "ResourceNotFoundException",
        "Requested resource not found",
    );
    let err = client
        .scan()
        .table_name("tbl")
        .segment(1)
        .send()
        .await
        .expect_err("segment alone");
    assert_error(&err, "ValidationException", "TotalSegments");
    let err = client
        .scan()
        .table_name("tbl")
        .select(Select::Count)
        .attributes_to_get("x")
        .send()
        .await
        .expect_err("count with attributes");
    assert_error(&err, "ValidationException", "AttributesToGet");
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_filters_count_matches_and_reads() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "tbl").await;
    let items = (0..50)
        .map(|i| {
            HashMap::from([
                ("p".to_owned(), s(&format!("k{i}"))),
                ("x".to_owned(), n(i)),
            ])
        })
        .collect();
    load(&client, "tbl", items).await;
    let out = client
        .scan()
        .table_name("tbl")
        .filter_expression("x < :ten")
        .expression_attribute_values(":ten", n(10))
        .send()
        .await
        .expect("scan");
    assert_eq!((out.count(), out.scanned_count()), (10, 50));
    let out = client
        .scan()
        .table_name("tbl")
        .scan_filter(
            "x",
            Condition::builder()
                .comparison_operator(ComparisonOperator::Ge)
                .attribute_value_list(n(45))
                .build()
                .expect("cond"),
        )
        .attributes_to_get("x")
        .send()
        .await
        .expect("legacy scan");
    let mut xs: Vec<i64> = out.items().iter().map(|i| num(i, "x")).collect();
    xs.sort();
    assert_eq!(xs, vec![45, 46, 47, 48, 49]);
    assert!(out.items().iter().all(|i| i.len() == 1));
    // Scan with a key attribute in the filter is fine (unlike Query).
    let out = client
        .scan()
        .table_name("tbl")
        .filter_expression("p = :k")
        .expression_attribute_values(":k", s("k7"))
        .select(Select::Count)
        .send()
        .await
        .expect("scan by key");
    assert_eq!(out.count(), 1);
}
