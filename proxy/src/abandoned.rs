//! Writes whose client went away before the answer.
//!
//! When a client disconnects, the front end drops the request's future, and
//! with it the layers' work after the upstream's answer: the item cache
//! never stores or drops what the write left, the query cache never
//! invalidates a second time. A remote upstream's change still reaches the
//! change-feed follower, which judges it like any other. An embedded
//! store's does not: a single-item write through the caches is stamped with
//! the item cache's origin, and the follower passes over those changes (the
//! write settles both caches itself). Yet the write job, once handed to the
//! store, still commits — possibly after a read that missed meanwhile has
//! filled a cache with what the write replaces. So a layer whose write is
//! abandoned asks [`Abandoned::after_settled`] to invalidate again once the
//! embedded store has settled every write it was handed by then.

use ferrodyn_store::Store;

/// The embedded store whose writes an abandoned write waits for (`None`
/// with a remote upstream: its changes reach the follower).
#[derive(Clone, Default)]
pub struct Abandoned(Option<Store>);

impl Abandoned {
    /// `embedded`: the store in this process, if the upstream is one.
    pub fn new(embedded: Option<Store>) -> Abandoned {
        Abandoned(embedded)
    }

    /// Run `invalidate` once every write handed to the embedded store so far
    /// is committed or refused. Nothing to do without an embedded store:
    /// the change feed judges a remote write's change when it comes. Called
    /// from `Drop`, so it spawns; outside a runtime (the process is
    /// stopping) nothing is left to keep coherent.
    pub fn after_settled(&self, invalidate: impl FnOnce() + Send + 'static) {
        let Some(store) = self.0.clone() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            store.writes_settled().await;
            invalidate();
        });
    }
}
