//! The tables requests name, for the DynamoDB Streams follower: a table
//! created straight on a foreign engine is followed from the first request
//! that names it, not from the next table listing.
//!
//! The upstream notes every request it forwards ([`NamedTables::note`]);
//! a name seen for the first time is queued and the follower woken. A hit
//! never reaches the upstream, but the miss that filled it did, so every
//! table the caches hold was noted. Until the follower activates it, noting
//! costs one atomic load (the embedded store and a `ferrodyn-store` feed
//! need none of this).
//!
//! Memory stays bounded whatever names clients send: only names DynamoDB
//! accepts are kept, and past [`MAX_NAMES`] the set starts over (names are
//! then noted again, which only costs a DescribeTable each).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};

use ferrodyn_store::server::BackendRequest;
use tokio::sync::Notify;

use crate::request_tables::{is_table_name, tables_named};

/// Most names remembered before the set starts over.
pub const MAX_NAMES: usize = 10_000;

#[derive(Default)]
pub struct NamedTables {
    active: AtomicBool,
    /// Names already handed to the follower.
    seen: RwLock<HashSet<String>>,
    /// Names not yet taken by the follower.
    pending: Mutex<Vec<String>>,
    wake: Notify,
}

impl NamedTables {
    /// Start noting names (the follower calls this once it runs).
    pub fn activate(&self) {
        self.active.store(true, Ordering::Release);
    }

    /// Note the tables `req` names.
    pub fn note(&self, req: &BackendRequest) {
        if !self.active.load(Ordering::Acquire) {
            return;
        }
        for name in tables_named(req) {
            self.note_name(name);
        }
    }

    fn note_name(&self, name: String) {
        if !is_table_name(&name) {
            return;
        }
        if self.seen.read().is_ok_and(|s| s.contains(&name)) {
            return;
        }
        let Ok(mut seen) = self.seen.write() else {
            return;
        };
        if seen.len() >= MAX_NAMES {
            seen.clear();
        }
        if !seen.insert(name.clone()) {
            return;
        }
        drop(seen);
        if let Ok(mut pending) = self.pending.lock() {
            pending.push(name);
        }
        // A stored permit: the follower sees it even if busy now.
        self.wake.notify_one();
    }

    /// The names noted since the last call.
    pub fn take(&self) -> Vec<String> {
        self.pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }

    /// Wait until a new name is noted.
    pub async fn noted(&self) {
        self.wake.notified().await;
    }

    /// Note `name` again the next time a request names it (it did not
    /// exist when the follower looked, or its follow was given up).
    pub fn forget(&self, name: &str) {
        if let Ok(mut seen) = self.seen.write() {
            seen.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use ferrodyn_store::api::Operation;

    use super::*;

    fn request(op: Operation, body: &str) -> BackendRequest {
        BackendRequest::new(op, http::HeaderMap::new(), Bytes::from(body.to_owned()))
    }

    #[test]
    fn names_are_noted_once_and_only_when_active() {
        let named = NamedTables::default();
        let get = request(Operation::GetItem, r#"{"TableName":"orders","Key":{}}"#);
        named.note(&get);
        assert!(named.take().is_empty(), "inactive: nothing noted");
        named.activate();
        named.note(&get);
        named.note(&get);
        assert_eq!(named.take(), vec!["orders".to_owned()]);
        named.note(&get);
        assert!(named.take().is_empty(), "already handed over");
        named.forget("orders");
        named.note(&get);
        assert_eq!(named.take(), vec!["orders".to_owned()]);
    }

    #[test]
    fn batch_and_transaction_reads_name_their_tables() {
        let named = NamedTables::default();
        named.activate();
        named.note(&request(
            Operation::BatchGetItem,
            r#"{"RequestItems":{"aaa":{"Keys":[]},"bbb":{"Keys":[]}}}"#,
        ));
        named.note(&request(
            Operation::TransactGetItems,
            r#"{"TransactItems":[{"Get":{"TableName":"ccc","Key":{}}}]}"#,
        ));
        named.note(&request(Operation::GetItem, r#"{"TableName":"x y"}"#));
        let mut names = named.take();
        names.sort();
        assert_eq!(names, ["aaa", "bbb", "ccc"]);
    }
}
