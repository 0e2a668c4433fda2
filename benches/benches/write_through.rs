//! Criterion benchmarks of what a write through the proxy costs its item
//! cache, without the store or HTTP: the bookkeeping of one single-item
//! write (`invalidate_fills`, `begin_write`, `finish_write` storing a
//! ~1 KB item), for
//!
//! * `cache_off`: a cache of size zero (the bookkeeping alone, the baseline);
//! * `new_key_full_cache`: a key never written before, into a full cache
//!   (inserts of fresh items, as `--mix insert` drives): the cache makes
//!   no entry for it, as TinyLFU would not keep one;
//! * `rewrite_cached_key`: a key the cache holds (updates of existing items,
//!   as YCSB A, B and F drive).
//!
//! `cargo bench -p ferrodyn-bench --bench write_through`. Under `cargo test`
//! each benchmark runs once.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
// Allocates through mimalloc, as the shipped binaries do.
use ferrodyn_bench as _;
use ferrodyn_proxy::item_cache::storage::{Finished, ItemCache};

/// The stored item: the size of the items `ferrodyn-bench --item-size 1000`
/// writes.
const ITEM_BYTES: usize = 1000;

/// Cached keys for `rewrite_cached_key`: well within the cache.
const CACHED_KEYS: u64 = 20_000;

fn write(cache: &ItemCache, n: u64) -> Finished {
    let key = cache.key("usertable", format!(r#"{{"pk":{{"S":"user{n}"}}}}"#));
    cache.invalidate_fills(&key);
    cache.begin_write(&key);
    let stored = vec![n as u8; ITEM_BYTES].into_boxed_slice();
    black_box(cache.finish_write(&key, Some(Some(stored))))
}

fn write_through(c: &mut Criterion) {
    let mut g = c.benchmark_group("write_through");
    let off = ItemCache::new(0, Duration::from_secs(300));
    let mut n = 0u64;
    g.bench_function("cache_off", |b| {
        b.iter(|| {
            n += 1;
            write(&off, n)
        })
    });

    // 64 MB: ~14,000 entries of this size, full after the warm-up below.
    let full = ItemCache::new(64 << 20, Duration::from_secs(300));
    let mut n = 0u64;
    let mut finished = Finished::Stored;
    while finished == Finished::Stored && n < 1_000_000 {
        n += 1;
        finished = write(&full, n);
    }
    assert_eq!(finished, Finished::NoRoom, "the cache never filled");
    g.bench_function("new_key_full_cache", |b| {
        b.iter(|| {
            n += 1;
            write(&full, n)
        })
    });

    let held = ItemCache::new(256 << 20, Duration::from_secs(300));
    for k in 0..CACHED_KEYS {
        assert_eq!(write(&held, k), Finished::Stored);
    }
    let mut n = 0u64;
    g.bench_function("rewrite_cached_key", |b| {
        b.iter(|| {
            // A stride through the keys, so successive writes touch memory
            // apart, as a workload's key choice does.
            n = (n + 7919) % CACHED_KEYS;
            write(&held, n)
        })
    });
    g.finish();
}

criterion_group!(benches, write_through);
criterion_main!(benches);
