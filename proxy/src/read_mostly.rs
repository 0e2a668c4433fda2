//! A value read on every request and changed rarely, readable without
//! touching memory that other threads write.
//!
//! A `std::sync::RwLock` read takes the lock: an atomic update of one cache
//! line that every reading thread shares, so on many cores every read
//! moves that line between them. [`ReadMostly`] keeps the value behind an
//! `Arc` and a version number instead. A writer replaces the value and
//! bumps the version, under a mutex. Each thread remembers the last value it
//! saw with its version; a read loads the version (a plain load of a line
//! that changes only when the value does) and uses the remembered value
//! while the version is unchanged.
//!
//! Invariant: a read that starts after [`ReadMostly::update`] returned sees
//! the update (the version is bumped, with release ordering, before the
//! writer's mutex is released; the read's acquire load of the version then
//! finds it changed and fetches the new value). A read concurrent with an
//! update may see the value before it.
//!
//! Each thread remembers at most `REMEMBERED` values (one per
//! `ReadMostly` it read lately), so threads that outlive many instances
//! (tests) keep bounded memory.

use std::any::Any;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Values each thread remembers, across all instances.
const REMEMBERED: usize = 8;

/// Instance ids, so a thread's memory tells instances apart.
static INSTANCES: AtomicU64 = AtomicU64::new(0);

type Remembered = (u64, u64, Arc<dyn Any + Send + Sync>);

thread_local! {
    /// (instance id, version, value) of the instances this thread read lately.
    static SEEN: RefCell<Vec<Remembered>> = const { RefCell::new(Vec::new()) };
}

pub struct ReadMostly<T> {
    id: u64,
    /// Changed only while `current` is locked, so the two read together
    /// under the lock belong together.
    version: AtomicU64,
    current: Mutex<Arc<T>>,
}

impl<T: Send + Sync + 'static> ReadMostly<T> {
    pub fn new(value: T) -> ReadMostly<T> {
        ReadMostly {
            id: INSTANCES.fetch_add(1, Ordering::Relaxed),
            version: AtomicU64::new(0),
            current: Mutex::new(Arc::new(value)),
        }
    }

    /// `f` of the current value. The value this thread remembers is read
    /// in place (cloning its `Arc` would write the shared count again).
    pub fn read<R>(&self, f: impl Fn(&T) -> R) -> R {
        let version = self.version.load(Ordering::Acquire);
        let remembered = SEEN
            .try_with(|seen| {
                let seen = seen.try_borrow().ok()?;
                let (_, _, value) = seen
                    .iter()
                    .find(|(id, v, _)| *id == self.id && *v == version)?;
                value.downcast_ref::<T>().map(&f)
            })
            .ok()
            .flatten();
        if let Some(out) = remembered {
            return out;
        }
        let (version, value) = self.fetch();
        let _ = SEEN.try_with(|seen| {
            // Not remembered if `f` of an enclosing read is running.
            if let Ok(mut seen) = seen.try_borrow_mut() {
                seen.retain(|(id, _, _)| *id != self.id);
                if seen.len() >= REMEMBERED {
                    seen.remove(0);
                }
                let any: Arc<dyn Any + Send + Sync> = value.clone();
                seen.push((self.id, version, any));
            }
        });
        f(&value)
    }

    /// Replace the value with `f` of the current one; reads that start
    /// after this returns see the new value.
    pub fn update(&self, f: impl FnOnce(&T) -> T) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        *current = Arc::new(f(&current));
        let version = self.version.load(Ordering::Relaxed) + 1;
        self.version.store(version, Ordering::Release);
    }

    fn fetch(&self) -> (u64, Arc<T>) {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        (self.version.load(Ordering::Relaxed), current.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_after_an_update_sees_it_on_every_thread() {
        let shared = Arc::new(ReadMostly::new(0u64));
        // Every thread remembers the first value before the update.
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let shared = shared.clone();
                let (seen_tx, seen_rx) = std::sync::mpsc::channel();
                let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
                let handle = std::thread::spawn(move || {
                    let _ = seen_tx.send(shared.read(|v| *v));
                    let _ = go_rx.recv();
                    shared.read(|v| *v)
                });
                (seen_rx, go_tx, handle)
            })
            .collect();
        for (seen, _, _) in &readers {
            assert_eq!(seen.recv().ok(), Some(0));
        }
        assert_eq!(shared.read(|v| *v), 0);
        shared.update(|v| v + 7);
        assert_eq!(shared.read(|v| *v), 7);
        for (_, go, handle) in readers {
            let _ = go.send(());
            assert_eq!(handle.join().ok(), Some(7));
        }
    }

    #[test]
    fn instances_read_on_one_thread_keep_their_own_values() {
        let many: Vec<_> = (0..3 * REMEMBERED as u64).map(ReadMostly::new).collect();
        for _ in 0..2 {
            for (i, m) in many.iter().enumerate() {
                assert_eq!(m.read(|v| *v), i as u64);
            }
        }
        many[1].update(|v| v * 100);
        assert_eq!(many[1].read(|v| *v), 100);
        assert_eq!(many[2].read(|v| *v), 2);
        SEEN.with(|seen| assert!(seen.borrow().len() <= REMEMBERED));
    }
}
