//! The metrics layer: per-operation request counts, error counts and latency
//! histograms, measured around everything below it (caches and upstream).

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
    pub fn register(registry: &Registry) -> prometheus::Result<Metrics> {
        let requests = IntCounterVec::new(
            Opts::new("proxy_requests_total", "Requests by operation"),
            &["operation"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "proxy_request_errors_total",
                "Error responses by operation and HTTP status",
            ),
            &["operation", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "proxy_request_duration_seconds",
                "Time to answer a request, by operation",
            )
            .buckets(vec![
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
