//! Assembles the proxy's service stack — the one place that decides the
//! order of the layers.

use std::convert::Infallible;
use std::sync::Arc;

use ferrodyn_store::server::{Backend, BackendRequest, BackendResponse};
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt};

use crate::insights::{Insights, InsightsLayer};
use crate::item_cache::{ItemCacheLayer, KeySchemas};
use crate::upstream::Upstream;
use crate::{cache::ItemCache, item_cache, metrics};

/// The assembled stack, callable by the HTTP front end.
#[derive(Clone)]
pub struct Stack {
    service: BoxCloneSyncService<BackendRequest, BackendResponse, Infallible>,
    item_cache: ItemCacheLayer,
    insights: Insights,
}

/// Build the stack, outermost layer first:
///
/// 1. **metrics** — outermost, so latency and counts cover everything a
///    client waits for, cache hits included;
/// 2. **insights** — counts the keys every request names (hits included),
///    so the hottest keys are those clients ask for, not those that missed;
/// 3. **item cache / write-through** — below metrics so hits are measured,
///    above the upstream so hits never reach it and every write passes
///    through its invalidation;
/// 4. **upstream** — the embedded store or the remote endpoint.
///
/// (Request classification happens in the front end, which decodes the
/// operation from `X-Amz-Target` once; each layer decodes only the members
/// it needs.)
pub fn build(
    upstream: Upstream,
    cache: Arc<ItemCache>,
    schemas: KeySchemas,
    request_metrics: metrics::Metrics,
    cache_metrics: item_cache::Metrics,
) -> Stack {
    let item_cache = ItemCacheLayer::new(cache, schemas, cache_metrics);
    let insights = Insights::default();
    let service = ServiceBuilder::new()
        .layer(metrics::MetricsLayer(request_metrics))
        .layer(InsightsLayer(insights.clone()))
        .layer(item_cache.clone())
        .service(upstream);
    Stack {
        service: BoxCloneSyncService::new(service),
        item_cache,
        insights,
    }
}

impl Stack {
    /// The contributor-insights counters (hottest keys per table).
    pub fn insights(&self) -> &Insights {
        &self.insights
    }

    pub fn refresh_gauges(&self) {
        self.item_cache.refresh_gauges();
    }
}

impl Backend for Stack {
    async fn call(&self, req: BackendRequest) -> BackendResponse {
        match self.service.clone().oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        }
    }
}
