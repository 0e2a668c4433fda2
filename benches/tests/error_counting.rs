//! Failures are counted by their DynamoDB `__type` (or HTTP status), never
//! as successes; and the whole tool runs against the real store.

// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use ferrodyn_bench::cli::{self, Args};
use ferrodyn_bench::client::Client;
use ferrodyn_bench::driver::{self, Pacing, PhaseSpec, Workload};
use ferrodyn_bench::fixed::{self, Fixed, Responder};
use ferrodyn_bench::keys::Distribution;
use ferrodyn_bench::report;
use ferrodyn_bench::workload::{Mix, Op, Shape};
use ferrodyn_store::{server, Store, StoreConfig};
use http::StatusCode;

/// Cycles through a success, two DynamoDB errors and a bare HTTP 500.
struct Cycling;

impl Responder for Cycling {
    async fn respond(&self, n: u64) -> (StatusCode, Bytes) {
        match n % 4 {
            0 => (StatusCode::OK, Bytes::from_static(b"{}")),
            1 => (
                StatusCode::BAD_REQUEST,
                Bytes::from_static(
                    br#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#,
                ),
            ),
            2 => (
                StatusCode::BAD_REQUEST,
                Bytes::from_static(
                    br#"{"__type":"com.amazon.coral.validate#ValidationException","message":"bad"}"#,
                ),
            ),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, Bytes::from_static(b"oops")),
        }
    }
}

fn shape(table: &str) -> Shape {
    Shape {
        table: table.into(),
        per_partition: 10,
        fields: 2,
        field_bytes: 20,
        consistent_read: false,
        max_scan_length: 5,
        distribution: Distribution::Uniform,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_counted_by_type_and_not_as_successes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(fixed::run(listener, Cycling, async {
        let _ = stopped.await;
    }));
    let client = Client::new(&url, 4).unwrap();
    let workload = Workload::new(shape("t"), Mix::new(vec![(Op::Update, 1.0)]).unwrap(), 100);
    let spec = PhaseSpec {
        connections: 4,
        pacing: Pacing::Closed,
        duration: Duration::from_secs(60),
        max_ops: Some(400),
        seed: 3,
    };
    let rec = driver::run_phase(&client, &workload, &spec).await;
    let _ = stop.send(());
    let _ = server.await;
    let s = &rec.ops[&Op::Update];
    assert_eq!(s.successes(), 100);
    assert_eq!(s.latency.len(), 100, "only successes have latencies");
    assert_eq!(s.errors.get("ConditionalCheckFailedException"), Some(&100));
    assert_eq!(s.errors.get("ValidationException"), Some(&100));
    assert_eq!(s.errors.get("HTTP 500"), Some(&100));
    assert_eq!(rec.errors(), 300);
    assert!(rec.throughput() > 0.0);
    let csv = report::csv(&[report::TargetResult {
        url,
        rounds: vec![rec],
    }]);
    assert!(
        csv.lines()
            .nth(1)
            .is_some_and(|l| l.contains(",UpdateItem,100,300,")),
        "{csv}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target_counts_connection_errors() {
    // Bind and drop to find a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::new(&format!("http://127.0.0.1:{port}"), 1).unwrap();
    let workload = Workload::new(shape("t"), Mix::new(vec![(Op::Get, 1.0)]).unwrap(), 10);
    let spec = PhaseSpec {
        connections: 1,
        pacing: Pacing::Closed,
        duration: Duration::from_secs(10),
        max_ops: Some(3),
        seed: 1,
    };
    let rec = driver::run_phase(&client, &workload, &spec).await;
    assert_eq!(rec.successes(), 0);
    assert_eq!(rec.ops[&Op::Get].errors.get("ConnectionError"), Some(&3));
}

#[test]
fn bad_targets_and_flags_are_refused_without_panicking() {
    assert!(Client::new("not a url", 1).is_err());
    assert!(Client::new("ftp://127.0.0.1:21", 1).is_err());
    assert!(Args::try_parse_from(["ferrodyn-bench"]).is_err());
    assert!(
        Args::try_parse_from(["ferrodyn-bench", "--target", "http://x", "--mix", "get=x"]).is_err()
    );
    assert!(
        Args::try_parse_from(["ferrodyn-bench", "--target", "http://x", "--workload", "z"])
            .is_err()
    );
    let args = Args::try_parse_from(["ferrodyn-bench", "--target", "http://x", "--zipf-theta=-1"])
        .unwrap();
    assert!(args.shape().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_mode_interleaves_rounds_and_reports_ratios() {
    let mut urls = Vec::new();
    let mut stops = Vec::new();
    for _ in 0..2 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        urls.push(format!("http://{}", listener.local_addr().unwrap()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(fixed::run(
            listener,
            Fixed(Bytes::from_static(b"{}")),
            async {
                let _ = stopped.await;
            },
        ));
        stops.push(stop);
    }
    let args = Args::try_parse_from([
        "ferrodyn-bench",
        "--target",
        &urls[0],
        "--target",
        &urls[1],
        "--skip-load",
        "--rounds",
        "3",
        "--duration",
        "100ms",
        "--warmup",
        "0s",
        "--connections",
        "2",
        "--workload",
        "c",
        "--quiet",
    ])
    .unwrap();
    let results = cli::run(&args).await.unwrap();
    assert_eq!(results.len(), 2);
    assert!(results
        .iter()
        .all(|t| t.rounds.len() == 3 && t.total().errors() == 0));
    let ratios = report::ratios(&results);
    assert_eq!(ratios.len(), 1);
    assert_eq!(ratios[0].per_round.len(), 3);
    assert!(ratios[0].medians()[0] > 0.0);
    let text = report::text(&args.description(), &results, false);
    assert!(text.contains("median"), "{text}");
    for s in stops {
        let _ = s.send(());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drives_the_real_store_through_load_and_ycsb_workloads() {
    let dir = std::env::temp_dir().join(format!("ferrodyn-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(&StoreConfig::new(&dir)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::run(listener, store, async {
        let _ = stopped.await;
    }));
    let base = [
        "ferrodyn-bench",
        "--target",
        &url,
        "--records",
        "200",
        "--duration",
        "300ms",
        "--warmup",
        "0s",
        "--connections",
        "4",
        "--item-size",
        "200",
        "--quiet",
    ];
    let run = |extra: &[&str]| {
        let mut argv: Vec<&str> = base.to_vec();
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).unwrap()
    };
    // Workload A: GetItem + UpdateItem, all must succeed.
    let a = run(&["--workload", "a"]);
    let results = cli::run(&a).await.unwrap();
    let total = results[0].total();
    assert_eq!(total.errors(), 0, "{}", report::text("", &results, false));
    assert!(total.ops[&Op::Get].successes() > 0 && total.ops[&Op::Update].successes() > 0);
    let json = report::json(&a.description(), &results);
    assert!(json["targets"][0]["operations"]["GetItem"]["latency_ms"]["p99.99"].is_number());
    assert!(ferrodyn_bench::plot::svg("a", &results).contains("<polyline"));

    // Workload E: inserts succeed; Query either works or is reported by
    // its `__type` while the store lacks it.
    let e = run(&[
        "--workload",
        "e",
        "--skip-load",
        "--mix",
        "query=50,insert=50",
    ]);
    let results = cli::run(&e).await.unwrap();
    let total = results[0].total();
    assert_eq!(total.ops[&Op::Insert].error_count(), 0);
    for kind in total.ops[&Op::Query].errors.keys() {
        assert_eq!(kind, "UnknownOperationException");
    }
    let _ = stop.send(());
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Never answers within the test.
struct Hang;

impl Responder for Hang {
    async fn respond(&self, _n: u64) -> (StatusCode, Bytes) {
        tokio::time::sleep(Duration::from_secs(60)).await;
        (StatusCode::OK, Bytes::from_static(b"{}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_endpoint_counts_timeouts_instead_of_hanging() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(fixed::run(listener, Hang, std::future::pending()));
    let client = Client::new(&url, 2)
        .unwrap()
        .with_timeout(Duration::from_millis(200));
    let workload = Workload::new(shape("t"), Mix::new(vec![(Op::Get, 1.0)]).unwrap(), 10);
    let spec = PhaseSpec {
        connections: 2,
        pacing: Pacing::Closed,
        duration: Duration::from_secs(30),
        max_ops: Some(4),
        seed: 1,
    };
    let rec = driver::run_phase(&client, &workload, &spec).await;
    assert_eq!(rec.successes(), 0);
    assert_eq!(rec.ops[&Op::Get].errors.get("Timeout"), Some(&4));
}
