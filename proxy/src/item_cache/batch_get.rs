//! BatchGetItem from the item cache: hits answered here, every miss in one
//! upstream batch.

use super::*;

impl ItemCacheLayer {
    /// Answer `batch` if the cache holds every one of its keys: the hit
    /// path, which the stack takes at its edge before any layer runs. The
    /// answer is the one `ItemCacheLayer::batch_get_item` gives, spliced
    /// from the entries' encoded items instead of encoded again. `None`:
    /// the request goes down the layers (misses are counted there).
    pub fn batch_hit(&self, batch: &crate::read_request::BatchGet<'_>) -> Option<BackendResponse> {
        let mut found: Vec<Vec<Arc<Entry>>> = Vec::with_capacity(batch.tables.len());
        for t in &batch.tables {
            let mut entries = Vec::with_capacity(t.keys.len());
            for (_, key) in &t.keys {
                entries.push(self.cache.get(&self.cache.key(&t.table, key.clone()))?);
            }
            found.push(entries);
        }
        let size: usize = found.iter().flatten().map(|e| e.body().len() + 1).sum();
        let mut body = Vec::with_capacity(size + 64);
        body.extend_from_slice(br#"{"Responses":{"#);
        for (i, (t, entries)) in batch.tables.iter().zip(&found).enumerate() {
            if i > 0 {
                body.push(b',');
            }
            serde_json::to_writer(&mut body, &*t.table).ok()?;
            body.extend_from_slice(b":[");
            let mut first = true;
            for entry in entries {
                if !entry.has_item() {
                    continue;
                }
                if !first {
                    body.push(b',');
                }
                first = false;
                match (&t.projection, entry.item_json()) {
                    (None, Some(json)) => body.extend_from_slice(json),
                    (projection, _) => {
                        let item = entry.item().unwrap_or_default();
                        serde_json::to_writer(&mut body, &project(&item, projection.as_ref()))
                            .ok()?;
                    }
                }
            }
            body.push(b']');
        }
        body.extend_from_slice(br#"},"UnprocessedKeys":{}}"#);
        let keys: usize = found.iter().map(Vec::len).sum();
        self.metrics.hits.inc_by(keys as u64);
        Some(BackendResponse {
            status: StatusCode::OK,
            body: Bytes::from(body),
            crc32: None,
        })
    }

    /// BatchGetItem: hits answered here, every miss in one upstream
    /// BatchGetItem asking for full items (cached under leases taken before
    /// it), projections applied here per table. Anything unusual passes the
    /// whole request through.
    pub(super) async fn batch_get_item<S>(&self, inner: &S, req: BackendRequest) -> BackendResponse
    where
        S: Inner,
    {
        let Some(plan) = self.plan_batch_get(&req) else {
            return inner.call(req).await;
        };
        let mut responses: BTreeMap<String, Vec<Item>> = BTreeMap::new();
        let mut misses: BTreeMap<&str, Vec<&BatchKey>> = BTreeMap::new();
        for (table, t) in &plan {
            let found = responses.entry(table.clone()).or_default();
            for k in &t.keys {
                match self.cache.get(&k.cache_key) {
                    Some(entry) => {
                        self.metrics.hits.inc();
                        if let Some(item) = entry.item() {
                            found.push(project(&item, t.projection.as_ref()));
                        }
                    }
                    None => {
                        self.metrics.misses.inc();
                        misses.entry(table.as_str()).or_default().push(k);
                    }
                }
            }
        }
        let mut unprocessed: BTreeMap<String, KeysAndAttributes> = BTreeMap::new();
        if !misses.is_empty() {
            let request = BatchGetRequest {
                request_items: misses
                    .iter()
                    .map(|(t, keys)| {
                        (
                            *t,
                            FullKeys {
                                keys: keys.iter().map(|k| &k.key).collect(),
                            },
                        )
                    })
                    .collect(),
            };
            let Ok(body) = serde_json::to_vec(&request) else {
                return inner.call(req).await;
            };
            self.metrics.upstream_batches.inc();
            let resp = inner
                .call(BackendRequest::new(
                    req.op,
                    req.headers.clone(),
                    Bytes::from(body),
                ))
                .await;
            if resp.status != StatusCode::OK {
                return resp;
            }
            let Ok(answer) = serde_json::from_slice::<BatchGetAnswer>(&resp.body) else {
                return resp;
            };
            for (table, mut keys_back) in answer.unprocessed_keys {
                // Retries must read what the client asked for: its own
                // projection, not the full items this proxy asked for.
                if let Some(t) = plan.get(&table) {
                    keys_back.attributes_to_get = t.request.attributes_to_get.clone();
                    keys_back.projection_expression = t.request.projection_expression.clone();
                    keys_back.expression_attribute_names =
                        t.request.expression_attribute_names.clone();
                    keys_back.consistent_read = t.request.consistent_read;
                }
                unprocessed.insert(table, keys_back);
            }
            for (table, keys) in &misses {
                let items = answer.responses.get(*table);
                let projection = plan.get(*table).and_then(|t| t.projection.as_ref());
                let found = responses.entry((*table).to_owned()).or_default();
                let pending = unprocessed.get(*table).and_then(|u| u.keys.as_ref());
                for k in keys {
                    let item = items.and_then(|items| items.iter().find(|i| has_key(i, &k.key)));
                    if let Some(item) = item {
                        found.push(project(item, projection));
                    } else if pending.is_some_and(|p| p.contains(&k.key)) {
                        continue; // not read: nothing to cache
                    }
                    let entry = Arc::new(Entry::new(item.cloned()));
                    if !self.cache.fill(k.cache_key.clone(), k.lease, entry) {
                        self.metrics.fills_discarded.inc();
                    }
                }
            }
        }
        let body = serde_json::to_vec(&BatchGetOutput {
            responses,
            unprocessed_keys: unprocessed,
        });
        match body {
            Ok(body) => BackendResponse {
                status: StatusCode::OK,
                body: Bytes::from(body),
                crc32: None,
            },
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a BatchGetItem answer");
                let err =
                    api::ApiError::new(api::ErrorCode::InternalServer, "Internal server error");
                BackendResponse {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    body: Bytes::from(err.body()),
                    crc32: None,
                }
            }
        }
    }

    /// The request's keys with their cache keys and leases, per table; `None`
    /// when the request is not one this layer answers (strongly consistent
    /// reads, consumed capacity, anything it cannot decode or that the
    /// upstream would refuse).
    fn plan_batch_get(&self, req: &BackendRequest) -> Option<BTreeMap<String, BatchTable>> {
        let Input::BatchGetItem(input) = req.input()? else {
            return None;
        };
        if !matches!(
            input.return_consumed_capacity.as_deref(),
            None | Some("NONE")
        ) {
            return None;
        }
        let tables = input.request_items.as_ref()?;
        let total: usize = tables
            .values()
            .map(|t| t.keys.as_ref().map_or(0, Vec::len))
            .sum();
        if tables.is_empty() || total == 0 || total > 100 {
            return None;
        }
        let mut plan = BTreeMap::new();
        for (table, request) in tables {
            if request.consistent_read == Some(true) {
                return None;
            }
            let keys = request.keys.as_ref()?;
            let projection = ferrodyn_store::ops::read_projection(
                request.projection_expression.as_deref(),
                request.attributes_to_get.as_deref(),
                request.expression_attribute_names.as_ref(),
            )
            .ok()?;
            let mut planned: Vec<BatchKey> = Vec::with_capacity(keys.len());
            for key in keys {
                if key.is_empty() || planned.iter().any(|k| &k.key == key) {
                    return None; // the upstream's error, not ours
                }
                let cache_key = self.cache.key(table, key_json(key));
                let lease = self.cache.lease(&cache_key);
                planned.push(BatchKey {
                    key: key.clone(),
                    cache_key,
                    lease,
                });
            }
            plan.insert(
                table.clone(),
                BatchTable {
                    keys: planned,
                    projection,
                    request: request.clone(),
                },
            );
        }
        Some(plan)
    }
}

/// One table's share of a BatchGetItem.
struct BatchTable {
    keys: Vec<BatchKey>,
    projection: Option<ferrodyn_store::expr::Projection>,
    request: KeysAndAttributes,
}

struct BatchKey {
    key: Item,
    cache_key: CacheKey,
    lease: Lease,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchGetRequest<'a> {
    request_items: BTreeMap<&'a str, FullKeys<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct FullKeys<'a> {
    keys: Vec<&'a Item>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchGetAnswer {
    #[serde(default)]
    responses: BTreeMap<String, Vec<Item>>,
    #[serde(default)]
    unprocessed_keys: BTreeMap<String, KeysAndAttributes>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchGetOutput {
    responses: BTreeMap<String, Vec<Item>>,
    unprocessed_keys: BTreeMap<String, KeysAndAttributes>,
}

/// Whether `item` has every attribute of `key`, with the same value.
fn has_key(item: &Item, key: &Item) -> bool {
    key.iter().all(|(n, v)| item.get(n) == Some(v))
}

fn project(item: &Item, projection: Option<&ferrodyn_store::expr::Projection>) -> Item {
    match projection {
        Some(p) => p.apply(item),
        None => item.clone(),
    }
}
