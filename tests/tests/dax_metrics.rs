//! `docs/dax-metrics.md` maps every DAX CloudWatch metric to Ferrodyn's
//! Prometheus metrics: the map covers DAX's whole list, and every metric it
//! names exists in a running proxy's `/metrics`.

use std::collections::BTreeSet;

use ferrodyn_tests::{create_table, s, TestProxy};

/// The metrics of the DAX developer guide's "DAX metrics" list.
const DAX_METRICS: [&str; 34] = [
    "CPUUtilization",
    "CacheMemoryUtilization",
    "NetworkBytesIn",
    "NetworkBytesOut",
    "NetworkPacketsIn",
    "NetworkPacketsOut",
    "GetItemRequestCount",
    "BatchGetItemRequestCount",
    "BatchWriteItemRequestCount",
    "DeleteItemRequestCount",
    "PutItemRequestCount",
    "UpdateItemRequestCount",
    "TransactWriteItemsCount",
    "TransactGetItemsCount",
    "ItemCacheHits",
    "ItemCacheMisses",
    "QueryCacheHits",
    "QueryCacheMisses",
    "ScanCacheHits",
    "ScanCacheMisses",
    "TotalRequestCount",
    "ErrorRequestCount",
    "ThrottledRequestCount",
    "FaultRequestCount",
    "FailedRequestCount",
    "QueryRequestCount",
    "ScanRequestCount",
    "ClientConnections",
    "EstimatedDbSize",
    "EvictedSize",
    "CPUCreditUsage",
    "CPUCreditBalance",
    "CPUSurplusCreditBalance",
    "CPUSurplusCreditsCharged",
];

/// (DAX metric, Ferrodyn metrics) for each row of the document's table.
fn map() -> Vec<(String, Vec<String>)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/dax-metrics.md");
    let text = std::fs::read_to_string(path).expect("read docs/dax-metrics.md");
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().strip_prefix('|')?.split('|').collect();
            let dax = cells.first()?.trim();
            if dax.is_empty() || dax == "DAX metric" || dax.starts_with("---") {
                return None;
            }
            let names = cells
                .get(1)?
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect();
            Some((dax.to_owned(), names))
        })
        .collect()
}

#[tokio::test]
async fn the_map_covers_every_dax_metric() {
    let mapped: BTreeSet<String> = map().into_iter().map(|(dax, _)| dax).collect();
    for metric in DAX_METRICS {
        assert!(mapped.contains(metric), "{metric} is not in the map");
    }
}

#[tokio::test]
async fn every_metric_in_the_map_exists_in_a_running_proxy() {
    let proxy = TestProxy::embedded().await;
    let c = proxy.client();
    // Traffic, so that series created on first use exist: reads of each
    // cache, a write, and an error.
    create_table(&c, "mapped").await;
    c.put_item()
        .table_name("mapped")
        .item("p", s("k"))
        .send()
        .await
        .expect("put");
    for _ in 0..2 {
        c.get_item()
            .table_name("mapped")
            .key("p", s("k"))
            .send()
            .await
            .expect("get");
        c.query()
            .table_name("mapped")
            .key_condition_expression("p = :p")
            .expression_attribute_values(":p", s("k"))
            .send()
            .await
            .expect("query");
        c.scan().table_name("mapped").send().await.expect("scan");
    }
    c.get_item()
        .table_name("absent")
        .key("p", s("k"))
        .send()
        .await
        .expect_err("no such table");

    let (status, text) = proxy.admin_get("/metrics").await;
    assert_eq!(status, 200);
    let exported: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let named: BTreeSet<String> = map().into_iter().flat_map(|(_, names)| names).collect();
    assert!(named.len() > 10, "the map names too few metrics: {named:?}");
    for name in &named {
        assert!(
            exported.contains(name.as_str()),
            "{name} is in docs/dax-metrics.md but not in /metrics"
        );
    }
    // A connection is open while the client keeps it alive.
    assert!(proxy.metric("proxy_client_connections").await >= 1.0);
    assert!(proxy.metric("proxy_received_bytes_total").await > 0.0);
    assert!(proxy.metric("proxy_sent_bytes_total").await > 0.0);
}
