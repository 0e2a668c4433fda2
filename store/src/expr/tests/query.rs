//! Projections and key conditions.

use super::*;

#[test]
fn projections_shape_nested_documents() {
    let it = item(&[
        ("p", s("k")),
        (
            "a",
            m(&[
                (
                    "b",
                    l(vec![n(2), n(4), m(&[("x", s("hi")), ("y", s("yo"))])]),
                ),
                ("c", n(5)),
            ]),
        ),
        ("b", s("hello")),
    ]);
    let p = |text: &str| none().project(text, &it);
    assert_eq!(
        p("a.b[2].y"),
        Ok(item(&[("a", m(&[("b", l(vec![m(&[("y", s("yo"))])]))]))]))
    );
    assert_eq!(
        p("a.b[0], a.c, b"),
        Ok(item(&[
            ("a", m(&[("b", l(vec![n(2)])), ("c", n(5))])),
            ("b", s("hello"))
        ]))
    );
    for missing in [
        "x",
        "a.b[3]",
        "a.x",
        "a.x.y",
        "a.b.x",
        "a[0]",
        "a.b[0].x",
        "a.b[0][0]",
    ] {
        assert_eq!(p(missing), Ok(Item::new()), "{missing}");
    }
    assert!(err(p("a, a.b")).contains("overlap"));
    assert!(err(p("a.b, a[0]")).contains("conflict"));
    assert_eq!(
        req(&[("#n", "a")], &[]).project("#n.c", &it),
        Ok(item(&[("a", m(&[("c", n(5))]))]))
    );
}

#[test]
fn key_conditions_accept_dynamodb_shapes() {
    let two = vals(&[(":p", s("k")), (":c", n(3))]);
    let three = vals(&[(":p", s("k")), (":c", n(3)), (":d", n(7))]);
    assert_eq!(
        two.key("p = :p AND c >= :c").map(|k| k.sort),
        Ok(Some(SortKeyCondition::Ge(n(3))))
    );
    assert_eq!(
        two.key(":c < c AND :p = p").map(|k| k.sort),
        Ok(Some(SortKeyCondition::Gt(n(3))))
    );
    let between = three.key("c BETWEEN :c AND :d AND p = :p").map(|k| k.sort);
    assert_eq!(between, Ok(Some(SortKeyCondition::Between(n(3), n(7)))));
    let only_p = vals(&[(":p", s("k"))]);
    assert_eq!(
        only_p.key("p = :p").map(|k| k.partition_values),
        Ok(vec![s("k")])
    );
    let kc = vals(&[(":p", s("k")), (":d", n(7))])
        .key("p = :p AND c <= :d")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(kc.sort_matches(&n(7)) && !kc.sort_matches(&n(8)) && !kc.sort_matches(&s("1")));
    use crate::model::value::ValueType;
    assert!(kc.check_types(&[ValueType::S], &[ValueType::N]).is_ok());
    assert!(kc.check_types(&[ValueType::N], &[]).is_err());
}

/// A GSI key `h1`, `h2` (HASH) and `r1`, `r2`, `r3` (RANGE).
fn multi() -> KeyNames {
    KeyNames {
        partition: vec!["h1".into(), "h2".into()],
        sort: vec!["r1".into(), "r2".into(), "r3".into()],
    }
}

fn multi_key(text: &str) -> Result<KeyCondition, String> {
    let v = vals(&[
        (":a", s("a")),
        (":b", n(2)),
        (":x", s("x")),
        (":y", n(5)),
        (":z", s("z")),
    ]);
    let mut r = v.resolver()?;
    let k = r.key_condition(text, &multi()).map_err(|e| e.0)?;
    Ok(k)
}

#[test]
fn multi_attribute_key_condition_fixes_leading_range_attributes() {
    let kc =
        multi_key("r2 <= :y AND h2 = :b AND r1 = :x AND h1 = :a").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(kc.partition_values, vec![s("a"), n(2)]);
    assert_eq!(kc.sort_prefix, vec![s("x")]);
    assert_eq!(kc.sort, Some(SortKeyCondition::Le(n(5))));
    let hash_only = multi_key("h1 = :a AND h2 = :b").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((hash_only.sort_prefix.len(), hash_only.sort), (0, None));

    use crate::model::value::ValueType::{B, N, S};
    assert!(kc.check_types(&[S, N], &[S, N, B]).is_ok());
    assert!(kc.check_types(&[S, N], &[S, S, B]).is_err());
    assert!(kc.check_types(&[S, S], &[S, N, B]).is_err());

    let names: Vec<String> = multi().sort;
    let row = item(&[("r1", s("x")), ("r2", n(4))]);
    assert!(kc.sort_matches_item(&row, &names));
    assert!(!kc.sort_matches_item(&item(&[("r1", s("w")), ("r2", n(4))]), &names));
    assert!(!kc.sort_matches_item(&item(&[("r1", s("x")), ("r2", n(6))]), &names));
}

#[test]
fn multi_attribute_key_condition_shape_errors_name_the_rule() {
    for (text, needles) in [
        ("h1 = :a", &["HASH", "equality", "h2"][..]),
        ("h1 = :a AND h2 > :b", &["HASH", "equality", "h2"]),
        (
            "h1 = :a AND h2 = :b AND r2 = :y",
            &["RANGE", "equality", "r1", "r2"],
        ),
        (
            "h1 = :a AND h2 = :b AND r1 = :x AND r3 = :z",
            &["RANGE", "r2", "r3"],
        ),
        (
            "h1 = :a AND h2 = :b AND r1 > :x AND r2 = :y",
            &["RANGE", "equality", "r1"],
        ),
        (
            "h1 = :a AND h2 = :b AND begins_with(r1, :x) AND r2 = :y",
            &["RANGE", "r1"],
        ),
        ("h1 = :a AND h2 = :b AND other = :x", &["other"]),
    ] {
        let msg = err(multi_key(text));
        for needle in needles {
            assert!(msg.contains(needle), "{text}: {msg}");
        }
    }
}

#[test]
fn key_condition_misuse_gets_dynamodb_messages() {
    let r = vals(&[(":p", s("k")), (":c", n(3)), (":a", n(1))]);
    let cases = [
        ("p = :p AND p = :p", "KeyConditionExpressions must only contain one condition per key"),
        ("p < :p", "Query key condition not supported"),
        ("c = :c", "Query condition missed key schema element: p"),
        ("p = :p AND a < :a", "Query condition missed key schema element: c"),
        ("p = :p AND c < :c AND a < :a", "Conditions can be of length 1 or 2 only"),
        ("p = :p AND a.b < :a", "KeyConditionExpressions cannot have conditions on nested attributes"),
        ("p = :p AND c <> :c", "Invalid operator used in KeyConditionExpression: <>"),
        ("p = :p AND c IN (:c)", "Invalid operator used in KeyConditionExpression: IN"),
        ("c = :c OR p = :p", "Invalid operator used in KeyConditionExpression: OR"),
        ("NOT c = :c AND p = :p", "Invalid operator used in KeyConditionExpression: NOT"),
        ("p = :p AND attribute_exists(c)", "Invalid operator used in KeyConditionExpression: attribute_exists"),
        ("p = :p AND size(c) = :c", "KeyConditionExpressions cannot contain nested operations"),
        ("p = c", "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"),
        (":p = :a", "Invalid condition in KeyConditionExpression: No key attribute specified"),
        ("p = :p AND begins_with(:p, c)", "Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand"),
    ];
    for (text, msg) in cases {
        let mut res = r.resolver().unwrap_or_else(|e| panic!("{e}"));
        let key = KeyNames {
            partition: vec!["p".into()],
            sort: vec!["c".into()],
        };
        assert_eq!(
            res.key_condition(text, &key).err().map(|e| e.0).as_deref(),
            Some(msg),
            "{text}"
        );
    }
    assert_eq!(
        err(r.key("p = :p AND begins_with(c, :c)")),
        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"
    );
    assert!(err(r.key("p = :p AND dog(c, :c)")).contains("dog"));
    assert!(err(r.key("p = :p AND c != :c")).contains("Syntax error"));
    let hash_only = KeyNames {
        partition: vec!["p".into()],
        sort: Vec::new(),
    };
    let mut res = r.resolver().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        res.key_condition("p = :p AND c = :c", &hash_only)
            .err()
            .map(|e| e.0)
            .as_deref(),
        Some("Query key condition not supported")
    );
}
