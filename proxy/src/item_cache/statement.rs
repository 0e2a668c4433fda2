//! PartiQL through the item cache.
//!
//! * An eventually consistent ExecuteStatement SELECT that the store's
//!   planner makes a GetItem (equality on the whole primary key, nothing
//!   else; no `ReturnConsumedCapacity`, no `NextToken`) is answered from the
//!   same entry a JSON GetItem uses: a hit applies the SELECT's projection
//!   to the cached item; a miss reads the full item upstream with a GetItem
//!   under a lease, exactly as a GetItem miss does.
//! * A PartiQL write (ExecuteStatement INSERT/UPDATE/DELETE, the writes of
//!   a BatchExecuteStatement or an ExecuteTransaction) invalidates every key
//!   it names before it is forwarded and again once it was answered (a
//!   whole table when the key cannot be named), so a client reads its own
//!   write through the proxy whatever the upstream.
//! * Everything else passes through.

use bytes::Bytes;
use ferrodyn_store::api::keys::key_json;
use ferrodyn_store::api::partiql::ExecuteStatementInput;
use ferrodyn_store::api::{self, Operation};
use ferrodyn_store::expr::Projection;
use ferrodyn_store::model::value::Item;
use ferrodyn_store::partiql::{self, Plan};
use ferrodyn_store::server::{BackendRequest, BackendResponse};
use http::StatusCode;
use serde::Serialize;

use super::storage::{Entry, ItemCache};
use super::ItemCacheLayer;
use crate::service::Inner;
use crate::statements::{writes, Write};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ItemsOutput<'a> {
    items: Vec<&'a Item>,
}

impl ItemCacheLayer {
    pub(super) async fn statement<S>(&self, inner: &S, req: BackendRequest) -> BackendResponse
    where
        S: Inner,
    {
        if req.op == Operation::ExecuteStatement {
            if let Some(resp) = self.select(inner, &req).await {
                return resp;
            }
        }
        match writes(&req, &self.schemas, inner).await {
            None => inner.call(req).await,
            Some(written) => {
                self.around_write(inner, req, |c| invalidate(c, &written))
                    .await
            }
        }
    }

    /// The answer to a SELECT planned as a GetItem; `None` for any other
    /// statement (it goes upstream as it is).
    async fn select<S>(&self, inner: &S, req: &BackendRequest) -> Option<BackendResponse>
    where
        S: Inner,
    {
        let input: ExecuteStatementInput = api::decode(&req.body).ok()?;
        let cacheable = input.consistent_read != Some(true)
            && input.next_token.is_none()
            && matches!(
                input.return_consumed_capacity.as_deref(),
                None | Some("NONE")
            );
        if !cacheable {
            return None;
        }
        let stmt = partiql::parse(input.statement.as_deref()?).ok()?;
        if !stmt.is_read() {
            return None;
        }
        let keys = self.schemas.get(stmt.table(), inner).await?;
        let params = input.parameters.unwrap_or_default();
        let Plan::Get(get) = partiql::plan(&stmt, &params, &keys).ok()? else {
            return None;
        };
        let (table, key) = (get.table_name?, get.key?);
        let projection = ferrodyn_store::ops::read_projection(
            get.projection_expression.as_deref(),
            None,
            get.expression_attribute_names.as_ref(),
        )
        .ok()?;
        let cache_key = self.cache.key(&table, key_json(&key));
        if let Some(entry) = self.cache.get(&cache_key) {
            self.metrics.hits.inc();
            return Some(respond_items(&entry, projection.as_ref()));
        }
        let lease = self.cache.lease(&cache_key);
        self.metrics.misses.inc();
        // The fill is a plain GetItem of the full item, as for a GetItem miss.
        let mut headers = req.headers.clone();
        headers.remove("x-amz-target");
        let get_req = BackendRequest::new(Operation::GetItem, headers, req.body.clone());
        Some(
            match self
                .fetch(inner, &get_req, &table, &key, cache_key, lease)
                .await
            {
                Ok(entry) => respond_items(&entry, projection.as_ref()),
                Err(resp) => resp,
            },
        )
    }
}

fn invalidate(cache: &ItemCache, written: &[Write]) {
    for w in written {
        match w {
            Write::Key(table, key) => cache.invalidate(&cache.key(table, key_json(key))),
            Write::Table(table) => cache.invalidate_table(table),
        }
    }
}

/// An ExecuteStatement answer from a cache entry: the item (projected) or
/// no items.
fn respond_items(entry: &Entry, projection: Option<&Projection>) -> BackendResponse {
    let item = entry.item();
    let item = match (item, projection) {
        (Some(i), Some(p)) => Some(p.apply(&i)),
        (item, _) => item,
    };
    let body = serde_json::to_vec(&ItemsOutput {
        items: item.iter().collect(),
    })
    .map_or_else(|_| Bytes::from_static(br#"{"Items":[]}"#), Bytes::from);
    BackendResponse {
        status: StatusCode::OK,
        body,
        crc32: None,
    }
}
