//! Tests of the item cache's storage: coherence, and what counts as an eviction.

use bytes::Bytes;
use ferrodyn_store::model::value::Item;

use super::*;

fn entry() -> Arc<Entry> {
    Arc::new(Entry::new(None))
}

#[test]
fn fill_after_invalidation_is_discarded() {
    let cache = ItemCache::new(1 << 20, Duration::from_secs(60));
    let key = cache.key("tbl", Bytes::from_static(b"k"));
    let lease = cache.lease(&key);
    cache.invalidate(&key);
    assert!(!cache.fill(key.clone(), lease, entry()));
    assert!(cache.get(&key).is_none());
    let lease = cache.lease(&key);
    assert!(cache.fill(key.clone(), lease, entry()));
    assert!(cache.get(&key).is_some());
}

#[test]
fn table_invalidation_hides_old_entries_and_stale_fills() {
    let cache = ItemCache::new(1 << 20, Duration::from_secs(60));
    let key = cache.key("tbl", Bytes::from_static(b"k"));
    assert!(cache.fill(key.clone(), cache.lease(&key), entry()));
    let lease = cache.lease(&key);
    cache.invalidate_table("tbl");
    assert!(cache
        .get(&cache.key("tbl", Bytes::from_static(b"k")))
        .is_none());
    assert!(!cache.fill(key, lease, entry()));
}

fn item(v: &str) -> Item {
    let mut i = Item::new();
    i.insert(
        "a".to_owned(),
        ferrodyn_store::model::value::AttributeValue::S(v.to_owned()),
    );
    i
}

#[test]
fn written_item_is_kept_only_if_nothing_but_its_echo_touched_the_key() {
    let cache = ItemCache::new(1 << 20, Duration::from_secs(60));
    let key = cache.key("tbl", Bytes::from_static(b"k"));
    let new = Some(encode(&item("new")));
    // Quiet: the write fills; a reader's older lease may not.
    cache.invalidate(&key);
    cache.begin_write(&key);
    let reader = cache.lease(&key);
    assert_eq!(
        cache.finish_write(&key, Some(new.clone())),
        Finished::Stored
    );
    assert!(!cache.fill(key.clone(), reader, entry()));
    assert_eq!(cache.get(&key).and_then(|e| e.item()), Some(item("new")));
    // Its echo arrives before the answer: still fine.
    cache.begin_write(&key);
    cache.invalidate_unless_equal(&key, new.as_deref());
    assert_eq!(
        cache.finish_write(&key, Some(new.clone())),
        Finished::Stored
    );
    // A different change arrives meanwhile: no fill.
    cache.begin_write(&key);
    cache.invalidate_unless_equal(&key, Some(&encode(&item("other"))));
    assert_eq!(
        cache.finish_write(&key, Some(new.clone())),
        Finished::Dropped
    );
    assert!(cache.get(&key).is_none());
    // Any other invalidation meanwhile, or a failed write: no fill.
    cache.begin_write(&key);
    cache.invalidate(&key);
    assert_eq!(
        cache.finish_write(&key, Some(new.clone())),
        Finished::Dropped
    );
    cache.begin_write(&key);
    assert_eq!(cache.finish_write(&key, None), Finished::Dropped);
    // Two writes of the key in flight: neither fills.
    cache.begin_write(&key);
    cache.begin_write(&key);
    assert_eq!(
        cache.finish_write(&key, Some(new.clone())),
        Finished::Dropped
    );
    assert_eq!(cache.finish_write(&key, Some(new)), Finished::Dropped);
    assert!(cache.get(&key).is_none());
}

#[test]
fn feed_echo_keeps_an_equal_entry_and_drops_a_different_one() {
    let cache = ItemCache::new(1 << 20, Duration::from_secs(60));
    let key = cache.key("tbl", Bytes::from_static(b"k"));
    let fill = |v: &str| {
        let lease = cache.lease(&key);
        assert!(cache.fill(key.clone(), lease, Arc::new(Entry::new(Some(item(v))))));
    };
    fill("x");
    let reader = cache.lease(&key);
    cache.invalidate_unless_equal(&key, Some(&encode(&item("x"))));
    assert!(cache.get(&key).is_some());
    // A read in flight across the change still cannot fill.
    assert!(!cache.fill(key.clone(), reader, entry()));
    fill("x");
    cache.invalidate_unless_equal(&key, Some(&encode(&item("y"))));
    assert!(cache.get(&key).is_none());
    fill("x");
    cache.invalidate_unless_equal(&key, None);
    assert!(cache.get(&key).is_none());
}

#[test]
fn a_closed_cache_keeps_no_fill_and_opening_drops_older_reads() {
    let cache = ItemCache::new(1 << 20, Duration::from_secs(60));
    let key = cache.key("tbl", Bytes::from_static(b"k"));
    assert!(cache.fill(key.clone(), cache.lease(&key), entry()));
    cache.close();
    assert!(cache
        .get(&cache.key("tbl", Bytes::from_static(b"k")))
        .is_none());
    let key = cache.key("tbl", Bytes::from_static(b"k"));
    let lease = cache.lease(&key);
    assert!(!cache.fill(key.clone(), lease, entry()));
    // A read that started while closed may not fill after opening.
    cache.open();
    assert!(!cache.fill(key.clone(), lease, entry()));
    cache.begin_write(&key);
    assert_eq!(cache.finish_write(&key, Some(None)), Finished::Dropped);
    let key = cache.key("tbl", Bytes::from_static(b"k"));
    assert!(cache.fill(key.clone(), cache.lease(&key), entry()));
    assert!(cache.get(&key).is_some());
}

#[test]
fn per_table_state_is_bounded_whatever_names_clients_send() {
    let cache = ItemCache::new(1 << 20, Duration::from_secs(60));
    cache.invalidate_table(&"x".repeat(15 << 20));
    cache.invalidate_table("no");
    assert_eq!(cache.tracked_tables(), 0);
    let key = cache.key("kept", Bytes::from_static(b"k"));
    assert!(cache.fill(key.clone(), cache.lease(&key), entry()));
    for i in 0..MAX_TABLES + 1 {
        cache.invalidate_table(&format!("table{i}"));
    }
    assert!(cache.tracked_tables() <= MAX_TABLES);
    // Starting over dropped everything, so no old entry came back.
    assert!(cache
        .get(&cache.key("kept", Bytes::from_static(b"k")))
        .is_none());
}

#[test]
fn zero_size_disables_the_cache() {
    let cache = ItemCache::new(0, Duration::from_secs(60));
    let key = cache.key("tbl", Bytes::from_static(b"k"));
    assert!(!cache.fill(key.clone(), cache.lease(&key), entry()));
    assert!(cache.get(&key).is_none());
    cache.begin_write(&key);
    assert_eq!(cache.finish_write(&key, Some(None)), Finished::NoRoom);
    cache.begin_write(&key);
    assert_eq!(cache.finish_write(&key, None), Finished::Dropped);
}

fn filled(cache: &ItemCache, key: &str) -> bool {
    let key = cache.key("tbl", Bytes::from(key.to_owned()));
    cache.fill(
        key.clone(),
        cache.lease(&key),
        Arc::new(Entry::new(Some(item("v")))),
    )
}

#[test]
fn only_entries_the_size_bound_drops_count_as_evicted() {
    // Room for about ten entries.
    let cache = ItemCache::new(8 * 1024, Duration::from_secs(60));
    // Replaced and removed entries are not evicted.
    for _ in 0..3 {
        assert!(filled(&cache, "k"));
    }
    cache.invalidate(&cache.key("tbl", Bytes::from_static(b"k")));
    let _ = cache.usage();
    assert_eq!((cache.evictions(), cache.evicted_bytes()), (0, 0));
    // Far past the bound: evictions, each with its weight.
    for i in 0..200 {
        filled(&cache, &format!("k{i}"));
    }
    let (held, count) = cache.usage();
    assert!(held <= 8 * 1024 && count > 0, "{held} {count}");
    let evicted = cache.evictions();
    assert!(evicted >= 150, "{evicted}");
    assert!(
        cache.evicted_bytes() >= evicted * ENTRY_OVERHEAD as u64,
        "{}",
        cache.evicted_bytes()
    );
    // Dropping the cache with its entries evicts none of them.
    let counts = cache.evictions.clone();
    drop(cache);
    assert_eq!(counts.entries.load(Ordering::Relaxed), evicted);
}

#[test]
fn emptied_or_expired_entries_are_not_evicted() {
    let cache = ItemCache::new(1 << 20, Duration::from_secs(60));
    for i in 0..20 {
        assert!(filled(&cache, &format!("k{i}")));
    }
    cache.drop_all();
    for _ in 0..3 {
        let _ = cache.usage();
    }
    let counts = cache.evictions.clone();
    let expiring = ItemCache::new(1 << 20, Duration::from_millis(50));
    for i in 0..20 {
        assert!(filled(&expiring, &format!("k{i}")));
    }
    std::thread::sleep(Duration::from_millis(120));
    for _ in 0..3 {
        let _ = expiring.usage();
    }
    let expired = expiring.evictions.clone();
    // Every entry is gone (each held the counts).
    assert_eq!(
        (Arc::strong_count(&counts), Arc::strong_count(&expired)),
        (2, 2)
    );
    assert_eq!(counts.entries.load(Ordering::Relaxed), 0);
    assert_eq!(expired.entries.load(Ordering::Relaxed), 0);
}

#[test]
fn a_keys_presence_is_counted_while_its_entries_live() {
    let cache = ItemCache::new(1 << 20, Duration::from_secs(60));
    let key = cache.key("tbl", Bytes::from_static(b"k"));
    let slot = cache.evictions.slot(&key);
    assert!(!cache.evictions.may_hold(slot));
    assert!(filled(&cache, "k"));
    assert!(cache.evictions.may_hold(slot));
    // Replaced: the old entry's count goes with it. moka frees what it
    // let go once no thread may still read it (other tests' threads may),
    // so each check waits a while for it.
    let present = || cache.evictions.present[slot as usize].load(Ordering::Relaxed);
    let settles_at = |count: u8| {
        (0..200).any(|_| {
            let _ = cache.usage();
            std::thread::sleep(Duration::from_millis(5));
            present() == count
        })
    };
    assert!(filled(&cache, "k"));
    assert!(settles_at(1), "{}", present());
    cache.invalidate(&key);
    assert!(settles_at(0), "{}", present());
    // A count that reached the top stays there (it no longer counts).
    let counts = &cache.evictions;
    let held: Vec<Held> = (0..300)
        .map(|_| {
            let tally = Tally {
                evictions: counts.clone(),
                weight: 0,
                generation: 0,
                put_ms: 0,
                released: AtomicBool::new(true),
                slot,
                replaced: 0,
            };
            Held::new(entry(), tally)
        })
        .collect();
    drop(held);
    assert_eq!(
        counts.present[slot as usize].load(Ordering::Relaxed),
        u8::MAX
    );
}

#[test]
fn a_key_keeps_its_table_and_key_apart() {
    let cache = ItemCache::new(1 << 20, Duration::from_secs(60));
    let joined = cache.key("tbl", br#"{"pk":{"S":"a"}}"#);
    assert_eq!(joined.table(), "tbl");
    // The same bytes split elsewhere name another key of another table.
    let shifted = cache.key("tb", br#"l{"pk":{"S":"a"}}"#);
    assert_eq!(shifted.table(), "tb");
    assert_ne!(joined, shifted);
    assert!(cache.fill(joined.clone(), cache.lease(&joined), entry()));
    assert!(cache.get(&shifted).is_none());
    assert!(cache.get(&joined).is_some());
    // Long names and keys (joined off the stack) are kept whole.
    let long = "t".repeat(255);
    let key = format!(r#"{{"pk":{{"S":"{}"}}}}"#, "k".repeat(400));
    let made = cache.key(&long, key.as_bytes());
    assert_eq!(made.table(), long);
    assert_eq!(made, cache.key(&long, key.as_bytes()));
    assert_ne!(made, cache.key(&long, &key.as_bytes()[1..]));
}

/// Write `v` under `k` through the write protocol, as a write-through does.
fn written(cache: &ItemCache, k: &str, v: Option<&str>) -> Finished {
    let key = cache.key("tbl", Bytes::from(k.to_owned()));
    cache.invalidate_fills(&key);
    cache.begin_write(&key);
    cache.finish_write(&key, Some(v.map(|v| encode(&item(v)))))
}

#[test]
fn a_full_cache_keeps_written_items_only_for_keys_it_holds() {
    // Room for about ten entries.
    let cache = ItemCache::new(8 * 1024, Duration::from_secs(60));
    let mut held = Vec::new();
    loop {
        let k = format!("k{}", held.len());
        let _ = cache.usage();
        match written(&cache, &k, Some("v")) {
            Finished::Stored => held.push(k),
            finished => {
                assert_eq!(finished, Finished::NoRoom);
                break;
            }
        }
        assert!(held.len() < 20, "the cache never filled");
    }
    assert!(held.len() >= 5, "{}", held.len());
    let get = |k: &str| cache.get(&cache.key("tbl", Bytes::from(k.to_owned())));
    let _ = cache.usage();
    assert_eq!(cache.evictions(), 0);
    // Keys it does not hold, whether or not they share a presence slot
    // with one it does: neither an item nor an absence is stored.
    let shares_slot = |k: &String| {
        let key = cache.key("tbl", Bytes::from(k.clone()));
        cache.evictions.may_hold(cache.evictions.slot(&key))
    };
    let mut new = (0..).map(|i| format!("new{i}"));
    let apart = new.find(|k| !shares_slot(k)).unwrap_or_default();
    let sharing = new.find(shares_slot).unwrap_or_default();
    for k in [&apart, &sharing] {
        assert_eq!(written(&cache, k, Some("v")), Finished::NoRoom, "{k}");
        assert_eq!(written(&cache, k, None), Finished::NoRoom, "{k}");
        assert!(get(k).is_none());
    }
    let new = apart;
    // A key it holds is replaced, by an item or an absence.
    assert_eq!(written(&cache, &held[0], Some("w")), Finished::Stored);
    assert_eq!(get(&held[0]).and_then(|e| e.item()), Some(item("w")));
    assert_eq!(written(&cache, &held[1], None), Finished::Stored);
    assert!(get(&held[1]).is_some_and(|e| !e.has_item()));
    let _ = cache.usage();
    assert_eq!(cache.evictions(), 0);
    // A read of the new key still fills it.
    assert!(filled(&cache, &new));
}

#[test]
fn a_write_over_a_held_key_swaps_its_entry_in_place_while_it_fits() {
    let cache = ItemCache::new(1 << 20, Duration::from_secs(60));
    let key = cache.key("tbl", Bytes::from_static(b"k"));
    let held = |c: &ItemCache| c.entries.as_ref().and_then(|e| e.get(&key));
    let weighed = |c: &ItemCache| {
        let _ = c.usage();
        c.entries
            .as_ref()
            .map_or(0, moka::sync::Cache::weighted_size)
    };
    assert!(filled(&cache, "k"));
    let first = held(&cache).unwrap_or_else(|| panic!("no entry"));
    let weight = weighed(&cache);
    // An item of the same size: the same place, the new item.
    assert_eq!(written(&cache, "k", Some("w")), Finished::Stored);
    let now = held(&cache).unwrap_or_else(|| panic!("no entry"));
    assert!(Arc::ptr_eq(&first, &now));
    assert_eq!(cache.get(&key).and_then(|e| e.item()), Some(item("w")));
    assert_eq!(weighed(&cache), weight);
    // A larger item is put in again, at its weight.
    let large = "x".repeat(300);
    assert_eq!(written(&cache, "k", Some(&large)), Finished::Stored);
    let grown = held(&cache).unwrap_or_else(|| panic!("no entry"));
    assert!(!Arc::ptr_eq(&first, &grown));
    assert_eq!(cache.get(&key).and_then(|e| e.item()), Some(item(&large)));
    assert!(weighed(&cache) > weight + 4 * 290);
    // One slightly smaller swaps in place; the weight counted stays.
    let smaller = "x".repeat(280);
    let counted = weighed(&cache);
    assert_eq!(written(&cache, "k", Some(&smaller)), Finished::Stored);
    let same = held(&cache).unwrap_or_else(|| panic!("no entry"));
    assert!(Arc::ptr_eq(&grown, &same));
    assert_eq!(cache.get(&key).and_then(|e| e.item()), Some(item(&smaller)));
    assert_eq!(weighed(&cache), counted);
    // An absence (far smaller) is put in again, at its own weight.
    assert_eq!(written(&cache, "k", None), Finished::Stored);
    let absent = held(&cache).unwrap_or_else(|| panic!("no entry"));
    assert!(!Arc::ptr_eq(&grown, &absent));
    assert!(cache.get(&key).is_some_and(|e| !e.has_item()));
    assert!(weighed(&cache) < weight);
    // None of it was an eviction.
    assert_eq!(cache.evictions(), 0);
}

#[test]
fn a_swapped_entry_is_gone_once_its_key_is_invalidated() {
    let cache = ItemCache::new(1 << 20, Duration::from_secs(60));
    let key = cache.key("tbl", Bytes::from_static(b"k"));
    assert!(filled(&cache, "k"));
    assert_eq!(written(&cache, "k", Some("w")), Finished::Stored);
    // The feed reports a later change: the swapped item is not it.
    cache.invalidate_unless_equal(&key, Some(&encode(&item("z"))));
    assert!(cache.get(&key).is_none());
    // Its echo keeps it.
    assert!(filled(&cache, "k"));
    assert_eq!(written(&cache, "k", Some("w")), Finished::Stored);
    cache.invalidate_unless_equal(&key, Some(&encode(&item("w"))));
    assert_eq!(cache.get(&key).and_then(|e| e.item()), Some(item("w")));
}
