//! Assembles the proxy's service stack — the one place that decides the
//! order of the layers — and answers cache hits at its edge.

use std::sync::Arc;
use std::time::Instant;

use ferrodyn_store::api::Operation;
use ferrodyn_store::server::{Backend, BackendRequest, BackendResponse, Health};
use tower::ServiceBuilder;

use crate::abandoned::Abandoned;
use crate::insights::{Insights, InsightsLayer, InsightsService};
use crate::item_cache::storage::ItemCache;
use crate::item_cache::ItemCacheLayer;
use crate::metrics::MetricsService;
use crate::query_cache::storage::QueryCache;
use crate::query_cache::QueryCacheLayer;
use crate::schemas::KeySchemas;
use crate::service::{HandleLayer, HandleService, Inner};
use crate::upstream::Upstream;
use crate::{item_cache, metrics, query_cache};

/// The layers [`build`] assembles, outermost first. Named rather than
/// boxed, so that a request's future is one value, each layer's nested in
/// the one above (see [`crate::service`]).
type Layers = MetricsService<
    InsightsService<
        HandleService<QueryCacheLayer, HandleService<ItemCacheLayer, MetricsService<Upstream>>>,
    >,
>;

/// The assembled stack, callable by the HTTP front end.
#[derive(Clone)]
pub struct Stack {
    service: Layers,
    item_cache: ItemCacheLayer,
    query_cache: QueryCacheLayer,
    insights: Insights,
    /// The outermost metrics layer's, which hits answered at the edge
    /// record to as well.
    request_metrics: metrics::Metrics,
    /// The embedded store, whose health the health checks report.
    embedded: Option<ferrodyn_store::Store>,
}

/// The caches' storage, shared with the change-feed follower.
pub struct Caches {
    pub items: Arc<ItemCache>,
    pub queries: Arc<QueryCache>,
}

/// Build the stack, outermost layer first:
///
/// 1. **metrics** — outermost, so latency and counts cover everything a
///    client waits for, cache hits included;
/// 2. **insights** — counts the keys every request names (hits included),
///    so the hottest keys are those clients ask for, not those that missed;
///    hence above both caches;
/// 3. **query cache** — answers Query/Scan hits without touching the layers
///    below, and wraps every write so that its invalidations (before the
///    write is forwarded and after it is answered) enclose the item cache's
///    own: when the client gets its answer both caches have forgotten what
///    the write replaced;
/// 4. **item cache / write-through** — below the query cache, which passes
///    item reads and writes on untouched; above the upstream so hits never
///    reach it and every write passes through its invalidation and fill;
/// 5. **upstream metrics** — counts, errors and latency of what actually
///    reached the upstream (misses, writes, pass-through);
/// 6. **upstream** — the embedded store or the remote endpoint.
///
/// (The front end decodes the operation from `X-Amz-Target` once; the
/// body's typed input is decoded once too, by the first layer that needs it
/// ([`BackendRequest::input`]), and travels down with the request to the
/// embedded store.) Both cache layers read key schemas from one shared
/// [`KeySchemas`], so a remote table is described once.
///
/// **The hit path.** A hit is the answer clients wait for most and the
/// cheapest one the proxy gives, so it does not pay for the layers'
/// plumbing (one boxed future, each layer's branch on the operation) nor
/// for each layer decoding the body again: [`Stack`] decodes an
/// eventually consistent GetItem or BatchGetItem once
/// ([`crate::read_request`]) and asks the item cache, and hands a Query or
/// Scan to the query cache's lookup, before calling the layers. A hit is
/// recorded exactly as the layers above the caches would record it — the
/// request metrics and the insights counter of each key it names — and is
/// then answered. Anything else, misses
/// included, goes down the layers, which count it there (a miss is never
/// counted twice: the edge records nothing unless it answers). A layer
/// added above the caches must be added to `Stack::answer_hit` too.
pub fn build(
    upstream: Upstream,
    caches: Caches,
    schemas: KeySchemas,
    request_metrics: metrics::Metrics,
    upstream_metrics: metrics::Metrics,
    cache_metrics: item_cache::Metrics,
    query_metrics: query_cache::Metrics,
) -> Stack {
    let embedded = match &upstream {
        Upstream::Embedded(store) => Some(store.clone()),
        Upstream::Http(_) => None,
    };
    let abandoned = Abandoned::new(embedded.clone());
    let query_cache = QueryCacheLayer::new(
        caches.queries,
        schemas.clone(),
        query_metrics,
        abandoned.clone(),
    );
    let item_cache = ItemCacheLayer::new(caches.items, schemas, cache_metrics, abandoned);
    let insights = Insights::default();
    let service = ServiceBuilder::new()
        .layer(metrics::MetricsLayer(request_metrics.clone()))
        .layer(InsightsLayer(insights.clone()))
        .layer(HandleLayer(query_cache.clone()))
        .layer(HandleLayer(item_cache.clone()))
        .layer(metrics::MetricsLayer(upstream_metrics))
        .service(upstream);
    Stack {
        service,
        item_cache,
        query_cache,
        insights,
        request_metrics,
        embedded,
    }
}

impl Stack {
    /// The contributor-insights counters (hottest keys per table).
    pub fn insights(&self) -> &Insights {
        &self.insights
    }

    pub fn refresh_gauges(&self) {
        self.item_cache.refresh_gauges();
        self.query_cache.refresh_gauges();
        if let Some(store) = &self.embedded {
            store.refresh_gauges();
        }
    }

    /// The embedded store, if the upstream is in this process.
    pub fn embedded_store(&self) -> Option<&ferrodyn_store::Store> {
        self.embedded.as_ref()
    }
}

impl Stack {
    /// The answer to `req` from a cache, recorded as the layers above the
    /// caches would record it; `None` if no cache holds it.
    fn answer_hit(&self, req: &BackendRequest) -> Option<BackendResponse> {
        match req.op {
            Operation::GetItem => {
                let read = crate::read_request::get_item(&req.body)?;
                let resp = self.item_cache.hit(&read)?;
                self.insights.record(&read.table, read.key_text);
                Some(resp)
            }
            Operation::BatchGetItem => {
                let batch = crate::read_request::batch_get_item(&req.body)?;
                let resp = self.item_cache.batch_hit(&batch)?;
                for t in &batch.tables {
                    for (text, _) in &t.keys {
                        self.insights.record(&t.table, text);
                    }
                }
                Some(resp)
            }
            // Query and Scan name no key insights count.
            Operation::Query | Operation::Scan => self.query_cache.hit(req),
            _ => None,
        }
    }
}

impl Backend for Stack {
    async fn call(&self, req: BackendRequest) -> BackendResponse {
        let start = Instant::now();
        if let Some(resp) = self.answer_hit(&req) {
            self.request_metrics
                .record(req.op, resp.status, start.elapsed());
            return resp;
        }
        // Boxed: the layers' nested future is large, and the hit path's
        // future, which the front end moves for every request, stays small.
        Box::pin(self.service.call(req)).await
    }

    fn health(&self) -> Health {
        self.embedded.as_ref().map_or(Health::Ok, |s| s.health())
    }
}
