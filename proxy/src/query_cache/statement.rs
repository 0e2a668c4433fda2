//! PartiQL SELECTs through the query cache: an eventually consistent
//! ExecuteStatement SELECT (no `ReturnConsumedCapacity`) that the store's
//! planner makes a Query or a Scan is cached like that Query or Scan —
//! keyed by the plan's canonical form (plus the statement's Limit and
//! NextToken, and the operation, since the answer's shape differs), tagged
//! with the partition it reads or its table, filled under a lease — so the
//! same writes and changes invalidate it.

use bytes::Bytes;
use ferrodyn_store::api::partiql::ExecuteStatementInput;
use ferrodyn_store::api::{self, Operation};
use ferrodyn_store::partiql::{self, Plan};
use ferrodyn_store::server::BackendRequest;

use super::storage::ReadTag;
use super::{canonical_query, canonical_scan, QueryCacheLayer};
use crate::read_request::asks_no_capacity;
use crate::service::Inner;

impl QueryCacheLayer {
    /// The cache key and tag of a SELECT planned as a Query or Scan;
    /// `None` for anything else.
    pub(super) async fn statement_read_key<S>(
        &self,
        inner: &S,
        req: &BackendRequest,
    ) -> Option<(Bytes, ReadTag)>
    where
        S: Inner,
    {
        if req.op != Operation::ExecuteStatement || !self.cache.enabled() {
            return None;
        }
        let input: ExecuteStatementInput = api::decode(&req.body).ok()?;
        if input.consistent_read == Some(true)
            || !asks_no_capacity(input.return_consumed_capacity.as_deref())
        {
            return None;
        }
        let stmt = partiql::parse(input.statement.as_deref()?).ok()?;
        if !stmt.is_read() {
            return None;
        }
        let keys = self.schemas.get(stmt.table(), inner).await?;
        let params = input.parameters.unwrap_or_default();
        let (plan_key, tag) = match partiql::plan(&stmt, &params, &keys).ok()? {
            Plan::Query(q) => canonical_query(&q, &keys)?,
            Plan::Scan(s) => canonical_scan(&s)?,
            _ => return None,
        };
        let mut key = format!(
            "ExecuteStatement\0{:?}\0{:?}\0",
            input.limit, input.next_token
        )
        .into_bytes();
        key.extend_from_slice(&plan_key);
        Some((Bytes::from(key), tag))
    }
}
