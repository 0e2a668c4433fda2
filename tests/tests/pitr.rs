//! Point-in-time recovery through the SDK: UpdateContinuousBackups,
//! DescribeContinuousBackups and RestoreTableToPointInTime, against a store
//! whose clock the tests drive (commit times are the clock's reading).

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_dynamodb::primitives::DateTime;
use aws_sdk_dynamodb::types::{
    AttributeValue as Av, Delete, PointInTimeRecoverySpecification, PointInTimeRecoveryStatus, Put,
    TableStatus, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_store::clock::{Clock, ManualClock};
use ferrodyn_store::StoreConfig;
use ferrodyn_tests::backups::{render, scan_all, until_table_active};
use ferrodyn_tests::wait::{until, PATIENCE};
use ferrodyn_tests::{assert_error, create_table, item, n, s, Item, TempDir, TestStore};

const START_MS: u64 = 1_700_000_000_000;
const DAY_MS: u64 = 86_400_000;

async fn store_with_clock() -> (TestStore, Arc<ManualClock>) {
    let clock = ManualClock::new(START_MS);
    let dir = TempDir::new("pitr");
    let mut config = StoreConfig::new(dir.path());
    config.engine.clock = clock.clone();
    (TestStore::start_with(dir, config).await, clock)
}

async fn enable(client: &Client, table: &str, days: Option<i32>) {
    let out = client
        .update_continuous_backups()
        .table_name(table)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .set_recovery_period_in_days(days)
                .build()
                .expect("spec"),
        )
        .send()
        .await
        .expect("enable point-in-time recovery");
    let d = out
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .expect("description");
    assert_eq!(
        d.point_in_time_recovery_status(),
        Some(&PointInTimeRecoveryStatus::Enabled)
    );
}

/// Restores `source` as of `ms` into `target` and returns its items.
async fn restore_at(client: &Client, source: &str, target: &str, ms: u64) -> Vec<Item> {
    let out = client
        .restore_table_to_point_in_time()
        .source_table_name(source)
        .target_table_name(target)
        .restore_date_time(DateTime::from_millis(ms as i64))
        .send()
        .await
        .expect("restore to point in time");
    let t = out.table_description().expect("description");
    assert_eq!(t.table_status(), Some(&TableStatus::Creating));
    let summary = t.restore_summary().expect("summary");
    let said = summary.restore_date_time().to_millis().expect("millis");
    assert!(said.abs_diff(ms as i64) <= 1, "{said} for {ms}");
    until_table_active(client, target).await;
    scan_all(client, target, None).await
}

/// A small deterministic generator (xorshift), so a failing history can
/// be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

type Model = BTreeMap<String, Item>;

fn key(k: &str) -> Item {
    item([("p", s(k))])
}

fn sorted(model: &Model) -> Vec<Item> {
    let mut v: Vec<Item> = model.values().cloned().collect();
    v.sort_by_key(render);
    v
}

/// One random write (put, update, delete, or a transaction of up to three
/// of them on distinct keys), applied to the table and to `model`.
async fn random_write(client: &Client, table: &str, rng: &mut Rng, model: &mut Model, step: u64) {
    let k = |rng: &mut Rng| format!("k{}", rng.below(12));
    match rng.below(4) {
        0 => {
            let p = k(rng);
            let it = item([
                ("p", s(&p)),
                ("v", n(step)),
                ("w", s(&"z".repeat(rng.below(40) as usize))),
            ]);
            client
                .put_item()
                .table_name(table)
                .set_item(Some(it.clone()))
                .send()
                .await
                .expect("put");
            model.insert(p, it);
        }
        1 => {
            let p = k(rng);
            client
                .update_item()
                .table_name(table)
                .set_key(Some(key(&p)))
                .update_expression("SET v = :v, c = if_not_exists(c, :z) + :one")
                .expression_attribute_values(":v", n(step))
                .expression_attribute_values(":z", n(0))
                .expression_attribute_values(":one", n(1))
                .send()
                .await
                .expect("update");
            let e = model.entry(p.clone()).or_insert_with(|| key(&p));
            let c = match e.get("c") {
                Some(Av::N(c)) => c.parse::<u64>().expect("count") + 1,
                _ => 1,
            };
            e.insert("v".into(), n(step));
            e.insert("c".into(), n(c));
        }
        2 => {
            let p = k(rng);
            client
                .delete_item()
                .table_name(table)
                .set_key(Some(key(&p)))
                .send()
                .await
                .expect("delete");
            model.remove(&p);
        }
        _ => {
            let mut keys: Vec<String> = Vec::new();
            for _ in 0..3 {
                let p = k(rng);
                if !keys.contains(&p) {
                    keys.push(p);
                }
            }
            let mut request = client.transact_write_items();
            for p in &keys {
                let action = match rng.below(3) {
                    0 => {
                        let it = item([("p", s(p)), ("v", n(step)), ("t", s("tx"))]);
                        model.insert(p.clone(), it.clone());
                        TransactWriteItem::builder()
                            .put(
                                Put::builder()
                                    .table_name(table)
                                    .set_item(Some(it))
                                    .build()
                                    .expect("put"),
                            )
                            .build()
                    }
                    1 => {
                        model.remove(p);
                        TransactWriteItem::builder()
                            .delete(
                                Delete::builder()
                                    .table_name(table)
                                    .set_key(Some(key(p)))
                                    .build()
                                    .expect("delete"),
                            )
                            .build()
                    }
                    _ => {
                        let e = model.entry(p.clone()).or_insert_with(|| key(p));
                        e.insert("v".into(), n(step));
                        TransactWriteItem::builder()
                            .update(
                                Update::builder()
                                    .table_name(table)
                                    .set_key(Some(key(p)))
                                    .update_expression("SET v = :v")
                                    .expression_attribute_values(":v", n(step))
                                    .build()
                                    .expect("update"),
                            )
                            .build()
                    }
                };
                request = request.transact_items(action);
            }
            request.send().await.expect("transaction");
        }
    }
}

/// A random history of writes with known commit times; restoring at 20
/// instants (one before the first write, one after the last, some exactly
/// at commit times) gives exactly the state replayed up to each instant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_at_any_instant_equals_the_replayed_history() {
    let (store, clock) = store_with_clock().await;
    let client = store.client();
    for seed in [0x9e37_79b9_7f4a_7c15u64, 0x2545_f491_4f6c_dd1d, 7] {
        let table = format!("hist-{}", seed % 1000);
        create_table(&client, &table).await;
        enable(&client, &table, None).await;
        let enabled_at = clock.now_ms();
        let mut rng = Rng(seed);
        let mut model = Model::new();
        // (commit time, state after that write)
        let mut history: Vec<(u64, Vec<Item>)> = Vec::new();
        clock.advance_ms(1000);
        for step in 0..60 {
            random_write(&client, &table, &mut rng, &mut model, step).await;
            history.push((clock.now_ms(), sorted(&model)));
            // Sometimes several writes share a millisecond.
            let gap = [0, 1, 999, 1000, 1500][rng.below(5) as usize];
            clock.advance_ms(gap);
        }
        clock.advance_ms(2000);
        let first = history[0].0;
        let last = clock.now_ms();
        let mut instants = vec![enabled_at, first - 500, first, last];
        for _ in 0..8 {
            instants.push(history[rng.below(history.len() as u64) as usize].0);
        }
        while instants.len() < 20 {
            instants.push(first + rng.below(last - first));
        }
        for (i, t) in instants.iter().enumerate() {
            let expected = history
                .iter()
                .rev()
                .find(|(at, _)| at <= t)
                .map(|(_, state)| state.clone())
                .unwrap_or_default();
            let target = format!("{table}-r{i}");
            let got = restore_at(&client, &table, &target, *t).await;
            assert_eq!(got, expected, "seed {seed:#x}, instant {t} ({i})");
        }
        // The latest restorable time is the last state.
        let out = client
            .restore_table_to_point_in_time()
            .source_table_name(&table)
            .target_table_name(format!("{table}-latest"))
            .use_latest_restorable_time(true)
            .send()
            .await
            .expect("restore latest");
        assert!(out.table_description().is_some());
        until_table_active(&client, &format!("{table}-latest")).await;
        assert_eq!(
            scan_all(&client, &format!("{table}-latest"), None).await,
            sorted(&model)
        );
    }
}

#[tokio::test]
async fn continuous_backups_are_described_enabled_changed_and_disabled() {
    let (store, clock) = store_with_clock().await;
    let client = store.client();
    create_table(&client, "cb1").await;
    let describe = || async {
        client
            .describe_continuous_backups()
            .table_name("cb1")
            .send()
            .await
            .expect("describe")
            .continuous_backups_description
            .expect("description")
    };
    let d = describe().await;
    assert_eq!(d.continuous_backups_status().as_str(), "ENABLED");
    let p = d.point_in_time_recovery_description().expect("pitr");
    assert_eq!(
        p.point_in_time_recovery_status(),
        Some(&PointInTimeRecoveryStatus::Disabled)
    );
    assert!(p.earliest_restorable_date_time().is_none());

    enable(&client, "cb1", None).await;
    clock.advance_ms(5000);
    let d = describe().await;
    let p = d.point_in_time_recovery_description().expect("pitr");
    assert_eq!(p.recovery_period_in_days(), Some(35));
    let ms = |t: Option<&DateTime>| t.and_then(|t| t.to_millis().ok()).expect("time") as u64;
    assert_eq!(ms(p.earliest_restorable_date_time()), START_MS);
    assert_eq!(ms(p.latest_restorable_date_time()), START_MS + 5000);

    // A shorter window: the earliest time follows it once it is over.
    enable(&client, "cb1", Some(1)).await;
    clock.advance_ms(2 * DAY_MS);
    let d = describe().await;
    let p = d.point_in_time_recovery_description().expect("pitr");
    assert_eq!(p.recovery_period_in_days(), Some(1));
    assert_eq!(
        ms(p.earliest_restorable_date_time()),
        clock.now_ms() - DAY_MS
    );

    let out = client
        .update_continuous_backups()
        .table_name("cb1")
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(false)
                .build()
                .expect("spec"),
        )
        .send()
        .await
        .expect("disable");
    let p = out
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .expect("pitr");
    assert_eq!(
        p.point_in_time_recovery_status(),
        Some(&PointInTimeRecoveryStatus::Disabled)
    );
    let e = client
        .restore_table_to_point_in_time()
        .source_table_name("cb1")
        .target_table_name("cb2")
        .use_latest_restorable_time(true)
        .send()
        .await
        .expect_err("disabled");
    assert_error(&e, "PointInTimeRecoveryUnavailableException", "cb1");
    // Enabled again: the window starts anew.
    enable(&client, "cb1", None).await;
    let d = describe().await;
    let p = d.point_in_time_recovery_description().expect("pitr");
    assert_eq!(ms(p.earliest_restorable_date_time()), clock.now_ms());
}

#[tokio::test]
async fn point_in_time_operations_answer_dynamodb_errors() {
    let (store, clock) = store_with_clock().await;
    let client = store.client();
    create_table(&client, "err1").await;
    create_table(&client, "err2").await;
    let spec = |days: i32| {
        PointInTimeRecoverySpecification::builder()
            .point_in_time_recovery_enabled(true)
            .recovery_period_in_days(days)
            .build()
            .expect("spec")
    };
    let e = client
        .update_continuous_backups()
        .table_name("err1")
        .point_in_time_recovery_specification(spec(36))
        .send()
        .await
        .expect_err("36 days");
    assert_error(&e, "ValidationException", "Value '36' at 'pointInTimeRecoverySpecification.recoveryPeriodInDays' failed to satisfy constraint: Member must have value less than or equal to 35");
    let e = client
        .update_continuous_backups()
        .table_name("err1")
        .point_in_time_recovery_specification(spec(0))
        .send()
        .await
        .expect_err("0 days");
    assert_error(
        &e,
        "ValidationException",
        "Member must have value greater than or equal to 1",
    );
    let e = client
        .update_continuous_backups()
        .table_name("err1")
        .send()
        .await
        .expect_err("no spec");
    assert_error(&e, "ValidationException", "Value null at 'pointInTimeRecoverySpecification' failed to satisfy constraint: Member must not be null");
    let e = client
        .update_continuous_backups()
        .table_name("nope")
        .point_in_time_recovery_specification(spec(3))
        .send()
        .await
        .expect_err("missing table");
    assert_error(&e, "TableNotFoundException", "Table not found: nope");
    let e = client
        .describe_continuous_backups()
        .table_name("nope")
        .send()
        .await
        .expect_err("missing");
    assert_error(&e, "TableNotFoundException", "Table not found: nope");

    enable(&client, "err1", None).await;
    clock.advance_ms(10_000);
    let restore = |target: &'static str, source: &'static str| {
        client
            .restore_table_to_point_in_time()
            .source_table_name(source)
            .target_table_name(target)
    };
    let e = restore("err3", "err1")
        .restore_date_time(DateTime::from_millis(START_MS as i64 - 1))
        .send()
        .await
        .expect_err("before the window");
    assert_error(
        &e,
        "InvalidRestoreTimeException",
        "EarliestRestorableDateTime",
    );
    let e = restore("err3", "err1")
        .restore_date_time(DateTime::from_millis(clock.now_ms() as i64 + 1000))
        .send()
        .await
        .expect_err("after the window");
    assert_error(
        &e,
        "InvalidRestoreTimeException",
        "LatestRestorableDateTime",
    );
    let e = restore("err2", "err1")
        .use_latest_restorable_time(true)
        .send()
        .await
        .expect_err("target exists");
    assert_error(
        &e,
        "TableAlreadyExistsException",
        "Table already exists: err2",
    );
    let e = restore("err3", "nope")
        .use_latest_restorable_time(true)
        .send()
        .await
        .expect_err("no source");
    assert_error(&e, "TableNotFoundException", "Table not found: nope");
    let e = restore("err3", "err2")
        .use_latest_restorable_time(true)
        .send()
        .await
        .expect_err("not enabled");
    assert_error(&e, "PointInTimeRecoveryUnavailableException", "err2");
    let e = restore("err3", "err1").send().await.expect_err("no time");
    assert_error(&e, "ValidationException", "RestoreDateTime");
    assert!(
        ferrodyn_tests::backups::table_status(&client, "err3")
            .await
            .is_none(),
        "refused restores create nothing"
    );
    // By ARN.
    let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/err1";
    client
        .restore_table_to_point_in_time()
        .source_table_arn(arn)
        .target_table_name("err4")
        .use_latest_restorable_time(true)
        .send()
        .await
        .expect("restore by ARN");
    until_table_active(&client, "err4").await;
}

/// The change log of a table with recovery enabled is kept for its whole
/// window, beyond the 24 hours Streams keep.
#[tokio::test]
async fn change_log_trimming_keeps_the_recovery_window() {
    let (store, clock) = store_with_clock().await;
    let client = store.client();
    create_table(&client, "trim1").await;
    enable(&client, "trim1", Some(3)).await;
    clock.advance_ms(1000);
    let at_first = clock.now_ms();
    ferrodyn_tests::items::put(&client, "trim1", item([("p", s("k")), ("v", n(1))])).await;
    clock.advance_ms(3_600_000);
    ferrodyn_tests::items::put(&client, "trim1", item([("p", s("k")), ("v", n(2))])).await;
    clock.advance_ms(30 * 3_600_000);
    let now = clock.now_ms();
    let mut trimmed = store
        .store
        .progress()
        .expect("background tasks")
        .trim
        .clone();
    until(PATIENCE, "a trim round after the jump", || {
        let done = *trimmed.borrow_and_update() >= now;
        async move { done }
    })
    .await;
    let got = restore_at(&client, "trim1", "trim2", at_first + 60_000).await;
    assert_eq!(got, vec![item([("p", s("k")), ("v", n(1))])]);
}
