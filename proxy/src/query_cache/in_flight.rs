//! A write the query cache layer has forwarded and not yet seen answered:
//! what finishing it invalidates, done later if the write is abandoned
//! (see [`crate::abandoned`]).

use super::{QueryCacheLayer, Touched};

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
pub(super) struct InFlight<'a> {
    pub(super) layer: &'a QueryCacheLayer,
    pub(super) write: Unfinished<'a>,
    pub(super) done: bool,
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
