//! A table's items as they were at an earlier time, from its current items
//! and its change log: the read that point-in-time recovery (and exports of
//! a past moment) are built on.
//!
//! The change log keeps each change's old image, so the state at time `T`
//! is the current state with every change committed after `T` undone: for
//! each key changed after `T`, the old image of its first change after `T`
//! is what it held at `T` (none: it did not exist). Everything is read in
//! one read transaction, so the answer is exact for that transaction's
//! instant. Memory grows with the number of distinct keys changed after
//! `T`, not with the table.
//!
//! Correct only while the log is complete back to `T` — the caller checks
//! `T` against the table's recovery window — and while commit times never
//! go backwards along the log (they come from the writer's clock).

use std::collections::BTreeMap;
use std::ops::Bound;

use super::store::ReadView;
use super::{changelog, EngineError};
use crate::model::table::TableMeta;
use crate::model::value::Item;

impl ReadView<'_> {
    /// Visit every item of `table` as it was once all changes committed at
    /// or before `time_ms` (and none after) had been applied, until `visit`
    /// returns false. Items come in storage order, then those deleted since
    /// `time_ms` in storage-key order.
    pub fn items_as_of(
        &self,
        table: &TableMeta,
        time_ms: u64,
        mut visit: impl FnMut(Item) -> Result<bool, EngineError>,
    ) -> Result<(), EngineError> {
        // Storage key → the item at `time_ms` (None: absent then).
        let mut then: BTreeMap<Vec<u8>, Option<Item>> = BTreeMap::new();
        changelog::for_each_newest_first(self.txn, self.dbs, table.id, |rec| {
            if rec.time_ms <= time_ms {
                return Ok(false);
            }
            // A record always carries its key; one that does not decode
            // cannot name a stored item either.
            if let Ok(key) = table.key.key_of_item(&rec.keys) {
                // Newest first: the last insert wins, leaving the oldest
                // change after `time_ms`, whose old image is the answer.
                then.insert(key.storage_key(table.id), rec.old);
            }
            Ok(true)
        })?;
        let first = table.id.to_be_bytes();
        let end = (table.id + 1).to_be_bytes();
        let mut go_on = true;
        self.range(
            Bound::Included(&first[..]),
            Bound::Excluded(&end[..]),
            false,
            None,
            |key, item| {
                go_on = match then.remove(key) {
                    Some(Some(old)) => visit(old)?,
                    Some(None) => true,
                    None => visit(item)?,
                };
                Ok(go_on)
            },
        )?;
        if !go_on {
            return Ok(());
        }
        // Keys with no item now that had one then: deleted since.
        for old in then.into_values().flatten() {
            if !visit(old)? {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::clock::ManualClock;
    use crate::engine::{Abort, Engine, EngineOptions};
    use crate::model::table::TableMeta;
    use crate::model::value::{AttributeValue, Item};

    fn table_meta() -> TableMeta {
        let json = r#"{"format":1,"id":0,"name":"t","uuid":"u",
            "key":{"partition":{"name":"p","scalar":"S"},"sort":null},
            "attribute_definitions":[["p","S"]],"billing":"PayPerRequest",
            "local_indexes":[],"global_indexes":[],"stream":null,
            "tags":[],"sse":null,"table_class":null,"deletion_protection":false,
            "created_ms":1,"billing_changed_ms":1}"#;
        serde_json::from_str(json).expect("table meta")
    }

    fn item(p: &str, x: u32) -> Item {
        let mut i = Item::new();
        i.insert("p".into(), AttributeValue::S(p.into()));
        i.insert("x".into(), AttributeValue::S(x.to_string()));
        i
    }

    /// Put (`Some(x)`) or delete (`None`) the item `p`.
    async fn write(engine: &Engine, p: &'static str, x: Option<u32>) {
        engine
            .write(move |ctx| {
                let table = ctx.table("t").ok_or(Abort::Op(()))?;
                let key = table
                    .key
                    .key_of_item(&item(p, 0))
                    .map_err(|_| Abort::Op(()))?;
                let old = ctx.get_item(&table, &key)?;
                match (x, old) {
                    (Some(x), old) => ctx.put_item(&table, &key, &item(p, x), old.as_ref())?,
                    (None, Some(old)) => ctx.delete_item(&table, &key, &old)?,
                    (None, None) => {}
                }
                Ok(())
            })
            .await
            .expect("write");
    }

    fn state_at(engine: &Engine, t: u64) -> Vec<Item> {
        let meta = engine.table("t").expect("table");
        let mut out = Vec::new();
        engine
            .read(|r| {
                r.items_as_of(&meta, t, |i| {
                    out.push(i);
                    Ok(true)
                })
            })
            .expect("read");
        out.sort_by_key(|i| format!("{:?}", i.get("p")));
        out
    }

    #[tokio::test]
    async fn items_as_of_undo_later_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = ManualClock::new(1_000);
        let options = EngineOptions {
            initial_map_size: 1 << 24,
            clock: clock.clone(),
            ..EngineOptions::default()
        };
        let engine = Engine::open(dir.path(), options).expect("open");
        engine
            .write(|ctx| {
                let mut meta = table_meta();
                meta.id = ctx.next_id()?;
                ctx.put_table(meta).map_err(Abort::<()>::Engine)
            })
            .await
            .expect("create table");
        write(&engine, "a", Some(1)).await; // t=1000
        clock.advance_ms(1000);
        write(&engine, "b", Some(1)).await; // t=2000
        write(&engine, "a", Some(2)).await; // t=2000
        clock.advance_ms(1000);
        write(&engine, "a", None).await; // t=3000
        write(&engine, "c", Some(1)).await; // t=3000
        clock.advance_ms(1000);
        write(&engine, "c", None).await; // t=4000

        assert_eq!(state_at(&engine, 999), Vec::<Item>::new());
        assert_eq!(state_at(&engine, 1000), vec![item("a", 1)]);
        assert_eq!(state_at(&engine, 2500), vec![item("a", 2), item("b", 1)]);
        assert_eq!(state_at(&engine, 3000), vec![item("b", 1), item("c", 1)]);
        assert_eq!(state_at(&engine, 9000), vec![item("b", 1)]);
    }
}
