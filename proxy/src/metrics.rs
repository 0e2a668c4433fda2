//! The metrics layer: per-operation request counts, error counts and latency
//! histograms, measured around everything below it. The stack uses it twice:
//! outermost (what clients see) and right above the upstream (what the
//! caches sent on).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use ferrodyn_store::server::{BackendRequest, BackendResponse};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use tower::{Layer, Service};

#[derive(Clone)]
pub struct Metrics {
    requests: IntCounterVec,
    errors: IntCounterVec,
    latency: HistogramVec,
}

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
        Ok(Metrics {
            requests,
            errors,
            latency,
        })
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

impl<S> Service<BackendRequest> for MetricsService<S>
where
    S: Service<BackendRequest, Response = BackendResponse, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = BackendResponse;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<BackendResponse, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: BackendRequest) -> Self::Future {
        let op = req.op.name();
        let metrics = self.metrics.clone();
        let start = Instant::now();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            metrics.requests.with_label_values(&[op]).inc();
            metrics
                .latency
                .with_label_values(&[op])
                .observe(start.elapsed().as_secs_f64());
            if !resp.status.is_success() {
                metrics
                    .errors
                    .with_label_values(&[op, resp.status.as_str()])
                    .inc();
            }
            Ok(resp)
        })
    }
}
