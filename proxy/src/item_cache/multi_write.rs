//! BatchWriteItem and TransactWriteItems through the item cache: the same
//! write-through protocol as a single write, key by key.

use super::*;

impl ItemCacheLayer {
    /// Every key a BatchWriteItem or TransactWriteItems writes, and what it
    /// holds once the upstream acknowledged the request (`None` when any
    /// key cannot be named, e.g. a table whose schema is unavailable).
    pub(super) async fn multi_written<S>(
        &self,
        inner: &S,
        req: &BackendRequest,
    ) -> Option<MultiWrite>
    where
        S: Inner,
    {
        // (table, item or key, what the cache holds after: Some(Some) an
        // item, Some(None) absence, None just invalidate)
        let mut raw: Vec<(String, Item, bool, Option<Option<Item>>)> = Vec::new();
        match req.input()? {
            Input::BatchWriteItem(input) => {
                for (table, requests) in input.request_items.as_ref()? {
                    for r in requests {
                        match (&r.put_request, &r.delete_request) {
                            (Some(PutRequest { item: Some(item) }), None) => {
                                raw.push((
                                    table.clone(),
                                    item.clone(),
                                    true,
                                    Some(Some(item.clone())),
                                ));
                            }
                            (None, Some(DeleteRequest { key: Some(key) })) => {
                                raw.push((table.clone(), key.clone(), false, Some(None)));
                            }
                            _ => return None,
                        }
                    }
                }
            }
            Input::TransactWriteItems(input) => {
                for t in input.transact_items.as_ref()? {
                    match (&t.put, &t.delete, &t.update, &t.condition_check) {
                        (Some(a), None, None, None) => {
                            let item = a.item.clone()?;
                            let table = a.table_name.clone()?;
                            raw.push((table, item.clone(), true, Some(Some(item))));
                        }
                        (None, Some(a), None, None) => {
                            raw.push((a.table_name.clone()?, a.key.clone()?, false, Some(None)));
                        }
                        // The new item is not in the answer: invalidate.
                        (None, None, Some(a), None) => {
                            raw.push((a.table_name.clone()?, a.key.clone()?, false, None));
                        }
                        // Writes nothing.
                        (None, None, None, Some(_)) => {}
                        _ => return None,
                    }
                }
            }
            _ => return None,
        }
        let mut schemas = HashMap::new();
        let mut writes = Vec::with_capacity(raw.len());
        for (table, value, is_item, stored) in raw {
            if !schemas.contains_key(&table) {
                let schema = self.schemas.get(&table, inner).await?;
                schemas.insert(table.clone(), schema);
            }
            let bytes = Bytes::from(if is_item {
                schemas.get(&table)?.key_json_of(&value)
            } else {
                key_json(&value)
            });
            writes.push(KeyWrite {
                cache_key: self.cache.key(&table, bytes.clone()),
                table,
                key_bytes: bytes,
                stored: stored.map(|s| s.as_ref().map(encode)),
            });
        }
        Some(MultiWrite { writes, schemas })
    }

    /// Forward a BatchWriteItem or TransactWriteItems and, once the
    /// upstream acknowledged it, keep what each written key now holds —
    /// under the same protocol as a single write (invalidate, record the
    /// write in flight, fill only if nothing else touched the key). Keys the
    /// upstream returned in UnprocessedItems, and every key of a failed
    /// request, are just invalidated.
    pub(super) async fn multi_write_through<S>(
        &self,
        inner: &S,
        req: BackendRequest,
        multi: MultiWrite,
    ) -> BackendResponse
    where
        S: Inner,
    {
        for w in &multi.writes {
            self.cache.invalidate(&w.cache_key);
            self.cache.begin_write(&w.cache_key);
        }
        self.metrics.invalidations.inc();
        let mut guard = MultiWriteGuard {
            cache: &self.cache,
            keys: multi.writes.iter().map(|w| w.cache_key.clone()).collect(),
            done: false,
        };
        let op = req.op;
        let resp = inner.call(req).await;
        guard.done = true;
        drop(guard);
        let succeeded = resp.status == StatusCode::OK;
        let unprocessed = if succeeded && op == Operation::BatchWriteItem {
            unprocessed_keys(&resp.body, &multi.schemas)
        } else {
            Some(Vec::new())
        };
        for w in multi.writes {
            let done = unprocessed
                .as_ref()
                .is_some_and(|u| !u.iter().any(|(t, k)| *t == w.table && *k == w.key_bytes));
            let written = if succeeded && done { w.stored } else { None };
            let filling = written.is_some();
            let finished = self.cache.finish_write(&w.cache_key, written);
            self.metrics.count_finished(finished, filling);
        }
        resp
    }
}

/// The keys of a BatchWriteItem or TransactWriteItems.
pub(super) struct MultiWrite {
    writes: Vec<KeyWrite>,
    /// The key schema of every table written (to name unprocessed items).
    schemas: HashMap<String, Arc<crate::schemas::TableKeys>>,
}

pub(super) struct KeyWrite {
    table: String,
    /// The primary key in canonical JSON.
    key_bytes: Bytes,
    cache_key: CacheKey,
    /// What the key holds once written: an item, absence, or unknown.
    stored: Option<Option<Box<[u8]>>>,
}

/// [`WriteGuard`] for the keys of one multi-item write.
struct MultiWriteGuard<'a> {
    cache: &'a ItemCache,
    keys: Vec<CacheKey>,
    done: bool,
}

impl Drop for MultiWriteGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            for key in &self.keys {
                self.cache.finish_write(key, None);
            }
        }
    }
}

/// The (table, canonical key) of every request a BatchWriteItem answer
/// returned unprocessed; `None` if the answer cannot be read (then no key
/// may be trusted as written).
fn unprocessed_keys(
    body: &[u8],
    schemas: &HashMap<String, Arc<crate::schemas::TableKeys>>,
) -> Option<Vec<(String, Bytes)>> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Output {
        unprocessed_items: Option<BTreeMap<String, Vec<WriteRequest>>>,
    }
    let out = serde_json::from_slice::<Output>(body).ok()?;
    let mut keys = Vec::new();
    for (table, requests) in out.unprocessed_items.unwrap_or_default() {
        for r in requests {
            let bytes = match (r.put_request, r.delete_request) {
                (Some(PutRequest { item: Some(item) }), _) => {
                    schemas.get(&table).map(|s| s.key_json_of(&item))
                }
                (_, Some(DeleteRequest { key: Some(key) })) => Some(key_json(&key)),
                _ => None,
            };
            let bytes = bytes?;
            keys.push((table.clone(), Bytes::from(bytes)));
        }
    }
    Some(keys)
}
