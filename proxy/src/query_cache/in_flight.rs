//! A write the query cache layer has forwarded and not yet seen answered:
//! what finishing it invalidates, done later if the write is abandoned
//! (see [`crate::abandoned`]).

use ferrodyn_store::server::{BackendRequest, BackendResponse};

use super::{QueryCacheLayer, Touched};
use crate::service::Inner;

/// A write forwarded and not yet answered, and what finishing it
/// invalidates.
pub(super) enum Unfinished<'a> {
    /// A write to a table none of whose results could be cached
    /// ([`super::QueryCache::finish_unheld_write`]).
    Unheld(&'a str),
    /// The second half of [`QueryCacheLayer::around_write`].
    Touched(&'a Touched),
}

/// Held while a write is forwarded. Dropped unfinished, the write was
/// abandoned (its client went away) and may still be committed by an
/// embedded store, whose change the change feed then passes over: what
/// finishing it invalidates is invalidated once that store has settled it.
struct InFlight<'a> {
    layer: &'a QueryCacheLayer,
    write: Unfinished<'a>,
    done: bool,
}

impl QueryCacheLayer {
    /// Forward the write `req`, whose finishing is `write`, held as
    /// [`InFlight`] until it is answered. The caller finishes it.
    pub(super) async fn forward_write<S: Inner>(
        &self,
        inner: &S,
        req: BackendRequest,
        write: Unfinished<'_>,
    ) -> BackendResponse {
        let mut guard = InFlight {
            layer: self,
            write,
            done: false,
        };
        let resp = inner.call(req).await;
        guard.done = true;
        resp
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let layer = self.layer.clone();
        match self.write {
            Unfinished::Unheld(table) => {
                let table = table.to_owned();
                self.layer
                    .abandoned
                    .after_settled(move || layer.cache.finish_unheld_write(&table));
            }
            Unfinished::Touched(touched) => {
                let touched = touched.clone();
                self.layer
                    .abandoned
                    .after_settled(move || layer.invalidate(&touched));
            }
        }
    }
}
