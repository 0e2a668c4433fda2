//! The metrics layer: per-operation request counts, error counts and latency
//! histograms, measured around everything below it. The stack uses it twice:
//! outermost (what clients see) and right above the upstream (what the
//! caches sent on).
//!
//! Every request is recorded, cache hits included, so recording must cost
//! a few atomic operations: each operation's counter and histogram are
//! resolved by label once, on the operation's first request, and kept in a
//! slot indexed by the operation; only error responses look their series
//! up by label.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ferrodyn_store::api::Operation;
use ferrodyn_store::server::{BackendRequest, BackendResponse, FrontEndStats};
use http::StatusCode;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};
use tower::Layer;

use crate::service::Inner;

/// Slots for per-operation series; more than there are operations (an
/// operation past the last slot is recorded by label lookup).
const SLOTS: usize = 128;

/// One operation's series, resolved once.
struct Series {
    requests: IntCounter,
    latency: Histogram,
}

struct Families {
    requests: IntCounterVec,
    errors: IntCounterVec,
    latency: HistogramVec,
    /// Indexed by `Operation as usize`; filled on first use, so operations
    /// never requested export no series.
    series: Box<[OnceLock<Series>]>,
}

#[derive(Clone)]
pub struct Metrics(Arc<Families>);

impl Metrics {
    /// What clients see: every request, cache hits included.
    pub fn register(registry: &Registry) -> prometheus::Result<Metrics> {
        Self::register_as(
            registry,
            [
                ("proxy_requests_total", "Requests by operation"),
                (
                    "proxy_request_errors_total",
                    "Error responses by operation and HTTP status",
                ),
                (
                    "proxy_request_duration_seconds",
                    "Time to answer a request, by operation",
                ),
            ],
        )
    }

    /// What the upstream sees: the requests the caches could not answer
    /// (misses, writes, pass-through), its errors and its latency.
    pub fn register_upstream(registry: &Registry) -> prometheus::Result<Metrics> {
        Self::register_as(
            registry,
            [
                (
                    "proxy_upstream_requests_total",
                    "Requests sent upstream by operation",
                ),
                (
                    "proxy_upstream_errors_total",
                    "Upstream error responses by operation and HTTP status (500: unreachable)",
                ),
                (
                    "proxy_upstream_duration_seconds",
                    "Time the upstream took to answer, by operation",
                ),
            ],
        )
    }

    fn register_as(registry: &Registry, names: [(&str, &str); 3]) -> prometheus::Result<Metrics> {
        let [(requests_name, requests_help), (errors_name, errors_help), (latency_name, latency_help)] =
            names;
        let requests = IntCounterVec::new(Opts::new(requests_name, requests_help), &["operation"])?;
        let errors = IntCounterVec::new(
            Opts::new(errors_name, errors_help),
            &["operation", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(latency_name, latency_help).buckets(vec![
                0.000_02, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
                0.05, 0.1, 0.25, 1.0,
            ]),
            &["operation"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Metrics(Arc::new(Families {
            requests,
            errors,
            latency,
            series: (0..SLOTS).map(|_| OnceLock::new()).collect(),
        })))
    }

    /// Record one answered request of `op`.
    pub fn record(&self, op: Operation, status: StatusCode, elapsed: Duration) {
        let f = &*self.0;
        let name = op.name();
        match f.series.get(op as usize) {
            Some(slot) => {
                let series = slot.get_or_init(|| Series {
                    requests: f.requests.with_label_values(&[name]),
                    latency: f.latency.with_label_values(&[name]),
                });
                series.requests.inc();
                series.latency.observe(elapsed.as_secs_f64());
            }
            None => {
                f.requests.with_label_values(&[name]).inc();
                f.latency
                    .with_label_values(&[name])
                    .observe(elapsed.as_secs_f64());
            }
        }
        if !status.is_success() {
            f.errors.with_label_values(&[name, status.as_str()]).inc();
        }
    }
}

#[derive(Clone)]
pub struct MetricsLayer(pub Metrics);

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> MetricsService<S> {
        MetricsService {
            inner,
            metrics: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Metrics,
}

impl<S: Inner> Inner for MetricsService<S> {
    async fn call(&self, req: BackendRequest) -> BackendResponse {
        let (op, start) = (req.op, Instant::now());
        let resp = self.inner.call(req).await;
        self.metrics.record(op, resp.status, start.elapsed());
        resp
    }
}

/// The front end's own counts ([`FrontEndStats`]: connections, requests
/// refused by `--max-in-flight`, body bytes), exported when `/metrics` is
/// read.
#[derive(Clone)]
pub struct FrontEnd {
    stats: FrontEndStats,
    connections: IntGauge,
    throttled: IntCounter,
    received: IntCounter,
    sent: IntCounter,
}

impl FrontEnd {
    pub fn register(registry: &Registry, stats: FrontEndStats) -> prometheus::Result<FrontEnd> {
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let connections = IntGauge::new("proxy_client_connections", "Client connections open")?;
        registry.register(Box::new(connections.clone()))?;
        Ok(FrontEnd {
            stats,
            connections,
            throttled: counter(
                "proxy_throttled_requests_total",
                "Requests refused with ThrottlingException because --max-in-flight requests were being handled",
            )?,
            received: counter(
                "proxy_received_bytes_total",
                "Request body bytes received from clients",
            )?,
            sent: counter(
                "proxy_sent_bytes_total",
                "Response body bytes sent to clients",
            )?,
        })
    }

    /// Bring the exported series up to the front end's counts.
    pub fn refresh(&self) {
        self.connections
            .set(i64::try_from(self.stats.connections()).unwrap_or(i64::MAX));
        for (counter, now) in [
            (&self.throttled, self.stats.throttled()),
            (&self.received, self.stats.received_bytes()),
            (&self.sent, self.stats.sent_bytes()),
        ] {
            let reported = counter.get();
            if now > reported {
                counter.inc_by(now - reported);
            }
        }
    }
}
