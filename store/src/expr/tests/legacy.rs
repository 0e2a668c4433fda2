//! The legacy parameters: Expected, QueryFilter/ScanFilter, KeyConditions,
//! AttributeUpdates, AttributesToGet.

use std::collections::BTreeMap;

use super::*;
use crate::expr::legacy::{
    self, AttributeValueUpdate, ConditionalOperator, ExpectedAttributeValue, LegacyCondition,
};

fn expect(
    value: Option<AttributeValue>,
    exists: Option<bool>,
    op: Option<&str>,
    list: Option<Vec<AttributeValue>>,
) -> ExpectedAttributeValue {
    ExpectedAttributeValue {
        value,
        exists,
        comparison_operator: op.map(str::to_string),
        attribute_value_list: list,
    }
}

fn expected_on(attr: &str, e: ExpectedAttributeValue, it: &Item) -> Result<bool, String> {
    let map: BTreeMap<String, ExpectedAttributeValue> =
        [(attr.to_string(), e)].into_iter().collect();
    legacy::expected(&map, None)
        .map_err(|e| e.0)?
        .evaluate(it)
        .map_err(|e| e.0)
}

#[test]
fn expected_semantics() {
    let it = item(&[
        ("a", s("hello")),
        ("b", ns(&[2, 4, 7])),
        ("c", l(vec![n(2), n(4)])),
        ("x", n(3)),
    ]);
    let op = |o: &str, list: Vec<AttributeValue>| expect(None, None, Some(o), Some(list));
    assert_eq!(expected_on("q", op("NE", vec![n(1)]), &it), Ok(true));
    assert_eq!(expected_on("x", op("NE", vec![s("3")]), &it), Ok(true));
    assert_eq!(expected_on("c", op("CONTAINS", vec![n(4)]), &it), Ok(true));
    assert_eq!(
        expected_on("a", op("NOT_CONTAINS", vec![n(1)]), &it),
        Ok(true)
    );
    assert_eq!(
        expected_on("q", op("NOT_CONTAINS", vec![n(1)]), &it),
        Ok(false)
    );
    assert_eq!(expected_on("b", op("IN", vec![n(2)]), &it), Ok(false));
    assert_eq!(expected_on("x", op("IN", vec![n(2), n(3)]), &it), Ok(true));
    assert_eq!(
        expected_on("x", op("BETWEEN", vec![n(1), n(3)]), &it),
        Ok(true)
    );
    assert_eq!(
        expected_on("q", expect(None, None, Some("NULL"), None), &it),
        Ok(true)
    );
    assert_eq!(
        expected_on("a", expect(None, None, Some("NOT_NULL"), Some(vec![])), &it),
        Ok(true)
    );
    assert_eq!(
        expected_on("x", expect(Some(n(3)), None, None, None), &it),
        Ok(true)
    );
    assert_eq!(
        expected_on("z", expect(Some(n(3)), Some(true), None, None), &it),
        Ok(false)
    );
    assert_eq!(
        expected_on("z", expect(None, Some(false), None, None), &it),
        Ok(true)
    );
}

#[test]
fn expected_misuse_gets_dynamodb_messages() {
    let it = Item::new();
    let bad = |attr: &str, e: ExpectedAttributeValue| err(expected_on(attr, e, &it));
    assert_eq!(bad("a", expect(None, Some(true), None, None)), "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: a");
    assert_eq!(bad("a", expect(None, None, None, None)), "One or more parameter values were invalid: Value must be provided when Exists is null for Attribute: a");
    assert_eq!(bad("a", expect(Some(n(1)), Some(false), None, None)), "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: a");
    assert_eq!(bad("a", expect(None, Some(false), Some("EQ"), Some(vec![n(3)]))), "One or more parameter values were invalid: Exists and ComparisonOperator cannot be used together for Attribute: a");
    assert_eq!(bad("a", expect(Some(n(3)), None, Some("EQ"), Some(vec![n(3)]))), "One or more parameter values were invalid: Value and AttributeValueList cannot be used together for Attribute: a");
    assert_eq!(bad("a", expect(None, None, Some("EQ"), Some(vec![n(2), n(3)]))), "One or more parameter values were invalid: Invalid number of argument(s) for the EQ ComparisonOperator");
    assert_eq!(bad("a", expect(None, None, Some("BEGINS_WITH"), Some(vec![n(3)]))), "One or more parameter values were invalid: ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type");
    assert_eq!(bad("a", expect(None, None, Some("IN"), Some(vec![n(3), s("dog")]))), "One or more parameter values were invalid: AttributeValues inside AttributeValueList must be of same type");
    assert_eq!(bad("a", expect(None, None, Some("BETWEEN"), Some(vec![n(4), n(3)]))), "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound");
    assert!(bad(
        "a",
        expect(None, None, Some("CONTAINS"), Some(vec![l(vec![n(1)])]))
    )
    .contains("not valid for L"));
    assert!(
        bad("a", expect(None, None, Some("eq"), Some(vec![n(1)]))).contains("comparisonOperator")
    );
    let two: BTreeMap<String, ExpectedAttributeValue> = [
        ("a".to_string(), expect(Some(n(1)), None, None, None)),
        ("b".to_string(), expect(Some(n(2)), None, None, None)),
    ]
    .into_iter()
    .collect();
    let either =
        legacy::expected(&two, Some(ConditionalOperator::Or)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(either.evaluate(&item(&[("b", n(2))])), Ok(true));
    assert!(
        legacy::expected(&BTreeMap::new(), Some(ConditionalOperator::And))
            .err()
            .is_some_and(|e| e.0.contains("ConditionalOperator"))
    );
}

#[test]
fn legacy_filters_and_key_conditions() {
    let conds: BTreeMap<String, LegacyCondition> = [
        (
            "i".to_string(),
            LegacyCondition {
                comparison_operator: "LT".into(),
                attribute_value_list: Some(vec![n(5)]),
            },
        ),
        (
            "s".to_string(),
            LegacyCondition {
                comparison_operator: "BEGINS_WITH".into(),
                attribute_value_list: Some(vec![s("ab")]),
            },
        ),
    ]
    .into_iter()
    .collect();
    let f = legacy::filter(&conds, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.evaluate(&item(&[("i", n(4)), ("s", s("abc"))])), Ok(true));
    assert_eq!(
        f.evaluate(&item(&[("i", n(4)), ("s", s("xbc"))])),
        Ok(false)
    );
    let key = KeyNames {
        partition: vec!["p".into()],
        sort: vec!["c".into()],
    };
    let kc = |pairs: &[(&str, &str, Vec<AttributeValue>)]| {
        let m: BTreeMap<String, LegacyCondition> = pairs
            .iter()
            .map(|(a, op, list)| {
                (
                    a.to_string(),
                    LegacyCondition {
                        comparison_operator: op.to_string(),
                        attribute_value_list: Some(list.clone()),
                    },
                )
            })
            .collect();
        legacy::key_conditions(&m, &key).map_err(|e| e.0)
    };
    assert_eq!(
        kc(&[
            ("p", "EQ", vec![s("k")]),
            ("c", "BETWEEN", vec![n(1), n(2)])
        ])
        .map(|k| k.sort),
        Ok(Some(SortKeyCondition::Between(n(1), n(2))))
    );
    assert_eq!(
        err(kc(&[("p", "LE", vec![s("k")])])),
        "Query key condition not supported"
    );
    assert_eq!(
        err(kc(&[("c", "EQ", vec![n(3)])])),
        "Query condition missed key schema element: p"
    );
    assert_eq!(
        err(kc(&[("p", "EQ", vec![s("k")]), ("c", "NE", vec![n(3)])])),
        "Attempted conditional constraint is not an indexable operation"
    );
    assert!(err(kc(&[("p", "EQ", vec![])])).contains("EQ"));
    assert!(err(kc(&[
        ("p", "EQ", vec![s("k")]),
        ("c", "BEGINS_WITH", vec![n(3)])
    ]))
    .contains("BEGINS_WITH"));
    assert!(err(kc(&[("p", "DOG", vec![s("k")])])).contains("comparisonOperator"));
}

#[test]
fn legacy_attribute_updates() {
    let up = |attr: &str, action: &str, value: Option<AttributeValue>, old: &Item| {
        let m: BTreeMap<String, AttributeValueUpdate> = [(
            attr.to_string(),
            AttributeValueUpdate {
                value,
                action: Some(action.to_string()),
            },
        )]
        .into_iter()
        .collect();
        legacy::attribute_updates(&m)
            .map_err(|e| e.0)?
            .apply(old, &["p"])
            .map_err(|e| e.0)
    };
    let old = item(&[
        ("p", s("k")),
        ("a", l(vec![n(1), n(2)])),
        ("s", ns(&[1, 2])),
        ("x", n(7)),
    ]);
    assert_eq!(
        up("a", "ADD", Some(l(vec![n(3), n(1)])), &old).map(|i| i["a"].clone()),
        Ok(l(vec![n(1), n(2), n(3), n(1)]))
    );
    assert_eq!(
        up("x", "ADD", Some(nd("-3.5")), &old).map(|i| i["x"].clone()),
        Ok(nd("3.5"))
    );
    assert_eq!(
        up("new", "ADD", Some(l(vec![n(7)])), &old).map(|i| i["new"].clone()),
        Ok(l(vec![n(7)]))
    );
    assert_eq!(
        up("s", "DELETE", Some(ns(&[1, 2])), &old).map(|i| i.contains_key("s")),
        Ok(false)
    );
    assert_eq!(
        up("s", "DELETE", None, &old).map(|i| i.contains_key("s")),
        Ok(false)
    );
    assert_eq!(
        err(up("s", "ADD", Some(ss(&["a"])), &old)),
        "Type mismatch for attribute to update"
    );
    assert_eq!(
        err(up("x", "ADD", Some(l(vec![])), &old)),
        "Type mismatch for attribute to update"
    );
    assert!(err(up("a", "ADD", Some(s("s")), &old)).contains("type"));
    assert!(err(up("a", "DELETE", Some(l(vec![])), &old)).contains("type"));
    assert_eq!(err(up("a", "PUT", None, &old)), "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified");
    assert_eq!(err(up("p", "PUT", Some(s("x")), &old)), "One or more parameter values were invalid: Cannot update attribute p. This attribute is part of the key");
    assert!(legacy::attributes_to_get(&["a".into(), "a".into()])
        .err()
        .is_some_and(|e| e.0.contains("Duplicate value in attribute name: a")));
    let p = legacy::attributes_to_get(&["a".into(), "x".into()]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.apply(&old),
        item(&[("a", l(vec![n(1), n(2)])), ("x", n(7))])
    );
}

#[test]
fn helper_messages() {
    assert_eq!(
        legacy::mixed_error(&["Expected"], &["ConditionExpression"]).0,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}"
    );
    assert_eq!(only_with_expressions_error(true, &["ConditionExpression"]).0, "ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null");
    assert_eq!(
        only_with_expressions_error(true, &["UpdateExpression", "ConditionExpression"]).0,
        "ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null"
    );
    assert_eq!(
        only_with_expressions_error(false, &[]).0,
        "ExpressionAttributeNames can only be specified when using expressions"
    );
}
