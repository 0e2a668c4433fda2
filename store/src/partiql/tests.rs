//! Parser and planner tests: statements from DynamoDB's PartiQL reference
//! and the plans DynamoDB makes of them.

use super::*;
use crate::api::keys::{IndexKeys, TableKeys};
use crate::model::value::AttributeValue;

fn keys() -> TableKeys {
    TableKeys {
        partition: "pk".into(),
        sort: Some("sk".into()),
        indexes: Some(vec![IndexKeys {
            name: "byColor".into(),
            partition: vec!["color".into()],
            sort: vec!["size".into()],
        }]),
    }
}

fn plan_of(text: &str, params: &[AttributeValue]) -> Result<Plan, PartiqlError> {
    plan(&parse_uncached(text)?, params, &keys())
}

#[test]
fn full_key_equality_is_a_get() {
    let p = plan_of("SELECT a, b.c[0] FROM \"t\" WHERE pk = 'x' AND sk = 3", &[])
        .expect("must succeed");
    let Plan::Get(g) = p else { panic!("{p:?}") };
    let key = g.key.expect("must succeed");
    assert_eq!(key["pk"], AttributeValue::S("x".into()));
    assert_eq!(g.projection_expression.as_deref(), Some("#n0, #n1.#n2[0]"));
}

#[test]
fn partition_equality_with_more_is_a_query() {
    let p = plan_of(
        "SELECT * FROM t WHERE 'x' = pk AND 3 < sk AND color = ? ORDER BY sk DESC",
        &[AttributeValue::S("red".into())],
    )
    .expect("must succeed");
    let Plan::Query(q) = p else { panic!("{p:?}") };
    assert_eq!(
        q.key_condition_expression.as_deref(),
        Some("#n0 = :v0 AND #n1 > :v1")
    );
    assert_eq!(q.filter_expression.as_deref(), Some("#n2 = :v2"));
    assert_eq!(q.scan_index_forward, Some(false));
}

#[test]
fn an_index_partition_is_a_query_on_the_index() {
    let p =
        plan_of("SELECT * FROM \"t\".\"byColor\" WHERE color = 'red'", &[]).expect("must succeed");
    let Plan::Query(q) = p else { panic!("{p:?}") };
    assert_eq!(q.index_name.as_deref(), Some("byColor"));
}

#[test]
fn anything_else_is_a_scan() {
    for text in [
        "SELECT * FROM t",
        "SELECT * FROM t WHERE pk > 'a'",
        "SELECT * FROM t WHERE pk = 'a' OR x = 1",
        "SELECT * FROM t WHERE pk = 'a' AND (sk = 1 OR sk = 2)",
        "SELECT * FROM t WHERE x IS NOT MISSING AND begins_with(y, 'a') AND size(z) > 2",
    ] {
        assert!(matches!(plan_of(text, &[]), Ok(Plan::Scan(_))), "{text}");
    }
}

#[test]
fn writes_need_the_whole_key() {
    let e = plan_of("DELETE FROM t WHERE pk = 'a'", &[]).expect_err("must fail");
    assert_eq!(e, PartiqlError::Validation(KEY_REQUIRED.into()));
    let p = plan_of(
        "UPDATE t SET a = a + 1 SET s = set_add(s, <<'x'>>) REMOVE b WHERE pk = 'a' AND sk = 1 AND a < 10 RETURNING ALL NEW *",
        &[],
    )
    .expect("must succeed");
    let Plan::Update(u) = p else { panic!("{p:?}") };
    assert_eq!(
        u.update_expression.as_deref(),
        Some("SET #n0 = #n0 + :v0 REMOVE #n2 ADD #n1 :v1")
    );
    assert_eq!(
        u.condition_expression.as_deref(),
        Some("attribute_exists(#n3) AND (#n0 < :v2)")
    );
    assert_eq!(u.return_values.as_deref(), Some("ALL_NEW"));
}

#[test]
fn insert_is_a_put_that_must_not_find_the_key() {
    let p = plan_of(
        "INSERT INTO t VALUE {'pk': 'a', 'sk': 1, 'l': [1, 'x'], 'm': {'n': null}, 'b': true}",
        &[],
    )
    .expect("must succeed");
    let Plan::Insert(put) = p else {
        panic!("{p:?}")
    };
    assert_eq!(put.item.expect("must succeed").len(), 5);
    assert_eq!(
        put.condition_expression.as_deref(),
        Some("attribute_not_exists(#n0)")
    );
}

#[test]
fn syntax_errors_use_dynamodbs_envelope() {
    for text in [
        "",
        "SELEC * FROM t",
        "SELECT * FROM",
        "SELECT * FROM t WHERE",
        "SELECT * FROM t WHERE a = 'x",
    ] {
        let e = parse_uncached(text).expect_err("must fail");
        assert!(
            e.to_string()
                .starts_with("Statement wasn't well formed, can't be processed: "),
            "{text}: {e}"
        );
    }
    assert_eq!(
        parse_uncached("UPSERT INTO t VALUE {}")
            .expect_err("must fail")
            .to_string(),
        "Statement wasn't well formed, can't be processed: Expected data manipulation"
    );
}

#[test]
fn parameters_must_match_in_number() {
    let e = plan_of("SELECT * FROM t WHERE pk = ?", &[]).expect_err("must fail");
    assert_eq!(e, PartiqlError::parameter_count());
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let text = format!(
        "SELECT * FROM t WHERE {}a = 1{}",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert!(parse_uncached(&text).is_err());
    let text = format!("INSERT INTO t VALUE {}", "[".repeat(10_000));
    assert!(parse_uncached(&text).is_err());
    let text = format!("SELECT * FROM t WHERE {}a = 1", "NOT ".repeat(10_000));
    assert!(parse_uncached(&text).is_err());
}
