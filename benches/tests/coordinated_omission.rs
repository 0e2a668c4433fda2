//! Open-loop mode charges a server stall to every request it delayed
//! (coordinated-omission correction), while the uncorrected service time
//! sees the stall once — checked against a local server that stalls on
//! purpose.

// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use ferrodyn_bench::client::Client;
use ferrodyn_bench::driver::{self, Pacing, PhaseSpec, Workload};
use ferrodyn_bench::fixed::{self, Responder};
use ferrodyn_bench::keys::Distribution;
use ferrodyn_bench::stats::{ticks_ms, TICKS_PER_MS};
use ferrodyn_bench::workload::{Mix, Op, Shape};
use http::StatusCode;

/// Answers at once, except request number `stall_at`, which takes `stall`.
struct Stalling {
    stall_at: u64,
    stall: Duration,
}

impl Responder for Stalling {
    async fn respond(&self, n: u64) -> (StatusCode, Bytes) {
        if n == self.stall_at {
            tokio::time::sleep(self.stall).await;
        }
        (StatusCode::OK, Bytes::from_static(b"{}"))
    }
}

fn shape() -> Shape {
    Shape {
        table: "t".into(),
        per_partition: 1,
        fields: 1,
        field_bytes: 10,
        consistent_read: false,
        max_scan_length: 1,
        distribution: Distribution::Uniform,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_latency_runs_from_the_intended_send_time() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stall = Duration::from_millis(400);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(fixed::run(
        listener,
        Stalling {
            stall_at: 20,
            stall,
        },
        async {
            let _ = stopped.await;
        },
    ));
    let client = Client::new(&url, 1).unwrap();
    let workload = Workload::new(shape(), Mix::new(vec![(Op::Get, 1.0)]).unwrap(), 10);
    // 100 requests/s on one connection for 1 s: request 20 (at 200 ms)
    // stalls 400 ms, so the ~40 requests due 210..600 ms go out late.
    let spec = PhaseSpec {
        connections: 1,
        pacing: Pacing::Open { rate: 100.0 },
        duration: Duration::from_secs(1),
        max_ops: None,
        seed: 1,
    };
    let rec = driver::run_phase(&client, &workload, &spec).await;
    let _ = stop.send(());
    let _ = server.await;

    let s = &rec.ops[&Op::Get];
    assert_eq!(rec.errors(), 0);
    assert_eq!(s.successes(), 100, "every intended request is sent");
    let over =
        |h: &hdrhistogram::Histogram<u64>, ms: u64| h.count_between(ms * TICKS_PER_MS, u64::MAX);
    // Corrected: the stalled request and the ~19 due in its first 200 ms
    // all waited at least 200 ms.
    assert!(
        over(&s.latency, 200) >= 15,
        "corrected ≥200ms: {}",
        over(&s.latency, 200)
    );
    assert!(
        over(&s.latency, 100) >= 25,
        "corrected ≥100ms: {}",
        over(&s.latency, 100)
    );
    assert!(
        s.latency.max() >= 350 * TICKS_PER_MS,
        "corrected max {} ms",
        ticks_ms(s.latency.max())
    );
    // Uncorrected: only the stalled request itself was slow.
    assert!(
        over(&s.service, 200) <= 2,
        "service ≥200ms: {}",
        over(&s.service, 200)
    );
    assert!(s.service.max() >= 350 * TICKS_PER_MS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_records_service_time_only() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(fixed::run(
        listener,
        Stalling {
            stall_at: 5,
            stall: Duration::from_millis(200),
        },
        async {
            let _ = stopped.await;
        },
    ));
    let client = Client::new(&url, 1).unwrap();
    let workload = Workload::new(shape(), Mix::new(vec![(Op::Get, 1.0)]).unwrap(), 10);
    let spec = PhaseSpec {
        connections: 1,
        pacing: Pacing::Closed,
        duration: Duration::from_secs(30),
        max_ops: Some(50),
        seed: 1,
    };
    let rec = driver::run_phase(&client, &workload, &spec).await;
    let _ = stop.send(());
    let _ = server.await;
    let s = &rec.ops[&Op::Get];
    assert_eq!(s.successes(), 50);
    // A closed loop cannot see the requests it did not send: one slow sample.
    assert_eq!(s.latency.count_between(150 * TICKS_PER_MS, u64::MAX), 1);
}
