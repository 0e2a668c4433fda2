//! Contributor insights: the most accessed and most throttled keys of each
//! table and global secondary index whose insights are enabled.
//!
//! Each enabled table or index has a [`Tracker`] with DynamoDB's four rules:
//! most accessed partition keys (PKC), most throttled partition keys (PKT)
//! and, when it has a sort key, most accessed and most throttled
//! partition + sort keys (SKC, SKT). Each rule is a bounded streaming top-K
//! ([`crate::topk`]) per time window of [`WINDOW_MS`]; a report merges the
//! current window with the one before it, so it covers the last five to
//! ten minutes.
//!
//! Accesses are weighted as DynamoDB's `ConsumedThroughputUnits`: read
//! units plus three times write units (rounded up to whole units, at least
//! one). A tracker in THROTTLED_KEYS mode keeps only the throttled rules.
//!
//! Cost: a table without insights pays one read-lock and one hash lookup
//! per request (none at all while no table has insights enabled); an
//! enabled one also encodes the key as JSON text, its identity in the
//! summaries.
//!
//! The enabled state itself lives in the catalog (`TableMeta`); this module
//! only mirrors it ([`Insights::enable`], [`Insights::disable`],
//! [`Insights::forget`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::api::insights::{ContributorInsightsMode, HotKeyReport, InsightsRule, RuleReport};
use crate::model::key::KeySchema;
use crate::model::value::{AttributeValue, Item};
use crate::topk::TopK;

/// Counters per rule and window.
pub const RULE_CAPACITY: usize = 128;
/// Length of one window of counts.
pub const WINDOW_MS: u64 = 5 * 60 * 1000;

/// What a recorded event was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// An access consuming this many throughput units.
    Access(u64),
    /// A throttled request.
    Throttle,
}

/// One rule's counts: the current window and the one before.
struct Windowed {
    started_ms: u64,
    current: TopK<String>,
    previous: Option<TopK<String>>,
}

impl Windowed {
    fn new(now_ms: u64) -> Windowed {
        Windowed {
            started_ms: now_ms,
            current: TopK::new(RULE_CAPACITY),
            previous: None,
        }
    }

    fn roll(&mut self, now_ms: u64) {
        let age = now_ms.saturating_sub(self.started_ms);
        if age < WINDOW_MS {
            return;
        }
        let old = std::mem::replace(&mut self.current, TopK::new(RULE_CAPACITY));
        self.previous = (age < 2 * WINDOW_MS).then_some(old);
        self.started_ms = now_ms - age % WINDOW_MS;
    }

    fn record(&mut self, key: &str, weight: u64, now_ms: u64) {
        self.roll(now_ms);
        self.current.record(key, weight);
    }

    /// Total weight and the `top` heaviest keys of both windows.
    fn report(&mut self, now_ms: u64, top: usize) -> (u64, Vec<(String, u64, u64)>) {
        self.roll(now_ms);
        let mut merged: HashMap<&String, (u64, u64)> = HashMap::new();
        let mut total = self.current.total();
        let windows = std::iter::once(&self.current).chain(self.previous.as_ref());
        if let Some(p) = &self.previous {
            total += p.total();
        }
        for w in windows {
            for (k, c) in w.iter() {
                let m = merged.entry(k).or_default();
                m.0 += c.count;
                m.1 += c.error;
            }
        }
        let mut keys: Vec<(String, u64, u64)> = merged
            .into_iter()
            .map(|(k, (n, e))| (k.clone(), n, e))
            .collect();
        keys.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        keys.truncate(top);
        (total, keys)
    }
}

/// The rules of one table or index.
pub struct Tracker {
    mode: ContributorInsightsMode,
    /// Key attributes of the table or index.
    partition: String,
    sort: Option<String>,
    /// Indexed by `InsightsRule as usize`; `None` where the rule does not
    /// apply (no sort key, or an access rule in THROTTLED_KEYS mode).
    rules: [Option<Mutex<Windowed>>; 4],
}

impl Tracker {
    pub fn new(mode: ContributorInsightsMode, key: &KeySchema, now_ms: u64) -> Tracker {
        let sort = key.sort.as_ref().map(|s| s.name.clone());
        let rule = |r: InsightsRule| {
            let applies = (sort.is_some() || !r.sort_key())
                && (mode == ContributorInsightsMode::AccessedAndThrottledKeys || r.throttled());
            applies.then(|| Mutex::new(Windowed::new(now_ms)))
        };
        Tracker {
            mode,
            partition: key.partition.name.clone(),
            rules: InsightsRule::ALL.map(rule),
            sort,
        }
    }

    pub fn mode(&self) -> ContributorInsightsMode {
        self.mode
    }

    /// The rules this tracker keeps.
    pub fn rules(&self) -> impl Iterator<Item = InsightsRule> + '_ {
        InsightsRule::ALL
            .into_iter()
            .filter(|r| self.rules[*r as usize].is_some())
    }

    /// Record `event` for the item (or partition) `key` names: its
    /// partition key, and its sort key if it has one.
    pub fn record(&self, key: &Item, event: Event, now_ms: u64) {
        let Some(pk) = key.get(&self.partition) else {
            return;
        };
        let (part_rule, item_rule, weight) = match event {
            Event::Access(units) => (
                InsightsRule::PartitionAccessed,
                InsightsRule::ItemAccessed,
                units.max(1),
            ),
            Event::Throttle => (
                InsightsRule::PartitionThrottled,
                InsightsRule::ItemThrottled,
                1,
            ),
        };
        let sk = self.sort.as_ref().and_then(|s| Some((s, key.get(s)?)));
        if let Some(rule) = &self.rules[part_rule as usize] {
            let text = key_text(&self.partition, pk, None);
            if let Ok(mut w) = rule.lock() {
                w.record(&text, weight, now_ms);
            }
        }
        if let (Some(rule), Some(sk)) = (&self.rules[item_rule as usize], sk) {
            let text = key_text(&self.partition, pk, Some(sk));
            if let Ok(mut w) = rule.lock() {
                w.record(&text, weight, now_ms);
            }
        }
    }

    /// Record `event` for the whole partition `pk` (a Query): partition
    /// rules only.
    pub fn record_partition(&self, pk: &AttributeValue, event: Event, now_ms: u64) {
        let (rule, weight) = match event {
            Event::Access(units) => (InsightsRule::PartitionAccessed, units.max(1)),
            Event::Throttle => (InsightsRule::PartitionThrottled, 1),
        };
        if let Some(rule) = &self.rules[rule as usize] {
            let text = key_text(&self.partition, pk, None);
            if let Ok(mut w) = rule.lock() {
                w.record(&text, weight, now_ms);
            }
        }
    }

    /// `rule`'s `top` heaviest keys (`None` if this tracker has no such rule).
    pub fn report(&self, rule: InsightsRule, top: usize, now_ms: u64) -> Option<RuleReport> {
        let summary = self.rules[rule as usize].as_ref()?;
        let (total, keys) = summary.lock().ok()?.report(now_ms, top);
        Some(RuleReport {
            rule,
            total,
            keys: keys
                .into_iter()
                .filter_map(|(text, count, error)| {
                    Some(HotKeyReport {
                        key: serde_json::from_str(&text).ok()?,
                        count,
                        error,
                    })
                })
                .collect(),
        })
    }
}

/// The JSON text of a key: `{"pk":{...}}` or `{"pk":{...},"sk":{...}}`
/// (attributes in name order, as an `Item` serialises).
fn key_text(pk_name: &str, pk: &AttributeValue, sk: Option<(&String, &AttributeValue)>) -> String {
    let mut item: std::collections::BTreeMap<&str, &AttributeValue> = Default::default();
    item.insert(pk_name, pk);
    if let Some((name, v)) = sk {
        item.insert(name, v);
    }
    serde_json::to_string(&item).unwrap_or_default()
}

#[derive(Default)]
struct TableTrackers {
    table: Option<Arc<Tracker>>,
    indexes: HashMap<String, Arc<Tracker>>,
}

/// The trackers of every table and index with insights enabled.
#[derive(Default)]
pub struct Insights {
    /// False while no tracker exists: the common case costs one load.
    any: AtomicBool,
    tables: RwLock<HashMap<String, TableTrackers>>,
}

impl Insights {
    /// The tracker of `table` (`index`: one of its GSIs), if enabled.
    pub fn tracker(&self, table: &str, index: Option<&str>) -> Option<Arc<Tracker>> {
        if !self.any.load(Ordering::Relaxed) {
            return None;
        }
        let tables = self.tables.read().ok()?;
        let t = tables.get(table)?;
        match index {
            None => t.table.clone(),
            Some(i) => t.indexes.get(i).cloned(),
        }
    }

    /// Start tracking `table` (or its `index`) with `tracker`, unless it is
    /// already tracked in the same mode (its counts are kept then).
    pub fn enable(&self, table: &str, index: Option<&str>, tracker: Tracker) {
        let Ok(mut tables) = self.tables.write() else {
            return;
        };
        let t = tables.entry(table.to_owned()).or_default();
        let slot = match index {
            None => &mut t.table,
            Some(i) => {
                if t.indexes.get(i).is_some_and(|x| x.mode == tracker.mode) {
                    return;
                }
                t.indexes.insert(i.to_owned(), Arc::new(tracker));
                self.any.store(true, Ordering::Relaxed);
                return;
            }
        };
        if slot.as_ref().is_some_and(|x| x.mode == tracker.mode) {
            return;
        }
        *slot = Some(Arc::new(tracker));
        self.any.store(true, Ordering::Relaxed);
    }

    /// Stop tracking `table` (or its `index`) and drop its counts.
    pub fn disable(&self, table: &str, index: Option<&str>) {
        let Ok(mut tables) = self.tables.write() else {
            return;
        };
        if let Some(t) = tables.get_mut(table) {
            match index {
                None => t.table = None,
                Some(i) => {
                    t.indexes.remove(i);
                }
            }
            if t.table.is_none() && t.indexes.is_empty() {
                tables.remove(table);
            }
        }
        self.any.store(!tables.is_empty(), Ordering::Relaxed);
    }

    /// The GSIs of `table` being tracked.
    pub fn tracked_indexes(&self, table: &str) -> Vec<String> {
        self.tables
            .read()
            .ok()
            .and_then(|t| t.get(table).map(|t| t.indexes.keys().cloned().collect()))
            .unwrap_or_default()
    }

    /// Drop everything about `table` (it was deleted).
    pub fn forget(&self, table: &str) {
        let Ok(mut tables) = self.tables.write() else {
            return;
        };
        tables.remove(table);
        self.any.store(!tables.is_empty(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::key::{KeyAttribute, ScalarType};

    fn schema(sort: bool) -> KeySchema {
        KeySchema::simple(
            KeyAttribute {
                name: "pk".into(),
                scalar: ScalarType::S,
            },
            sort.then(|| KeyAttribute {
                name: "sk".into(),
                scalar: ScalarType::S,
            }),
        )
    }

    fn key(pk: &str, sk: Option<&str>) -> Item {
        let mut item = Item::new();
        item.insert("pk".into(), AttributeValue::S(pk.into()));
        if let Some(sk) = sk {
            item.insert("sk".into(), AttributeValue::S(sk.into()));
        }
        item
    }

    #[test]
    fn windows_roll_and_old_counts_expire() {
        let t = Tracker::new(
            ContributorInsightsMode::AccessedAndThrottledKeys,
            &schema(false),
            0,
        );
        t.record(&key("a", None), Event::Access(1), 0);
        t.record(&key("a", None), Event::Access(2), WINDOW_MS + 1);
        let r = t
            .report(InsightsRule::PartitionAccessed, 5, WINDOW_MS + 2)
            .expect("rule");
        assert_eq!((r.total, r.keys[0].count), (3, 3));
        // Two windows later the first access is gone, the second stays
        // until a further window passes.
        let r = t
            .report(InsightsRule::PartitionAccessed, 5, 2 * WINDOW_MS + 2)
            .expect("rule");
        assert_eq!(r.total, 2);
        let r = t
            .report(InsightsRule::PartitionAccessed, 5, 4 * WINDOW_MS)
            .expect("rule");
        assert!(r.keys.is_empty());
    }

    #[test]
    fn throttled_keys_mode_keeps_only_throttle_rules() {
        let t = Tracker::new(ContributorInsightsMode::ThrottledKeys, &schema(true), 0);
        let rules: Vec<_> = t.rules().collect();
        assert_eq!(
            rules,
            [
                InsightsRule::PartitionThrottled,
                InsightsRule::ItemThrottled
            ]
        );
        t.record(&key("a", Some("1")), Event::Access(1), 0);
        t.record(&key("a", Some("1")), Event::Throttle, 0);
        assert!(t.report(InsightsRule::PartitionAccessed, 5, 0).is_none());
        let r = t.report(InsightsRule::ItemThrottled, 5, 0).expect("rule");
        assert_eq!(r.keys[0].key, key("a", Some("1")));
    }

    #[test]
    fn tables_without_sort_keys_have_two_rules() {
        let t = Tracker::new(
            ContributorInsightsMode::AccessedAndThrottledKeys,
            &schema(false),
            0,
        );
        assert_eq!(t.rules().count(), 2);
    }
}
