//! Key-range planning against the key conditions it implements: for any
//! sort-key condition, a stored key lies inside the planned bounds exactly
//! when its sort key satisfies the condition — for table keys, and for index
//! entry keys, which continue past the sort key (with the table key's hash,
//! or with more sort attributes). Query relies on this: it checks no sort
//! condition item by item.

use std::ops::Bound;

use proptest::prelude::*;

use super::{sort_bounds, successor};
use crate::expr::{KeyCondition, SortKeyCondition};
use crate::model::key::encode_sortable;
use crate::model::number::Number;
use crate::model::value::AttributeValue;

fn inside(key: &[u8], (start, end): &(Bound<Vec<u8>>, Bound<Vec<u8>>)) -> bool {
    let above = match start {
        Bound::Included(s) => key >= s.as_slice(),
        Bound::Excluded(s) => key > s.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match end {
        Bound::Included(e) => key <= e.as_slice(),
        Bound::Excluded(e) => key < e.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

fn string() -> BoxedStrategy<AttributeValue> {
    proptest::collection::vec(
        prop_oneof![Just('\0'), Just('a'), Just('b'), Just('\u{ff}')],
        0..4,
    )
    .prop_map(|c| AttributeValue::S(c.into_iter().collect()))
    .boxed()
}

fn binary() -> BoxedStrategy<AttributeValue> {
    proptest::collection::vec(
        prop_oneof![Just(0u8), Just(1), Just(0x7F), Just(0xFF)],
        0..4,
    )
    .prop_map(|b| AttributeValue::B(b.into()))
    .boxed()
}

/// Small integers at a few scales (many equal and adjacent values), and
/// numbers of up to 38 digits at any exponent.
fn number() -> BoxedStrategy<AttributeValue> {
    let small = (-50i64..50).prop_map(|i| format!("{}E{}", i, i.rem_euclid(3)));
    let wide = (any::<i64>(), 0u32..20, -130i32..110)
        .prop_map(|(m, extra, e)| format!("{m}{}E{e}", "7".repeat(extra as usize)));
    prop_oneof![small, wide]
        .prop_filter_map("number", |text| {
            Number::parse(&text).ok().map(AttributeValue::N)
        })
        .boxed()
}

fn condition(v: BoxedStrategy<AttributeValue>, strings: bool) -> BoxedStrategy<SortKeyCondition> {
    let mut options = vec![
        v.clone().prop_map(SortKeyCondition::Eq).boxed(),
        v.clone().prop_map(SortKeyCondition::Lt).boxed(),
        v.clone().prop_map(SortKeyCondition::Le).boxed(),
        v.clone().prop_map(SortKeyCondition::Gt).boxed(),
        v.clone().prop_map(SortKeyCondition::Ge).boxed(),
        (v.clone(), v.clone())
            .prop_map(|(a, b)| SortKeyCondition::Between(a, b))
            .boxed(),
    ];
    if strings {
        options.push(v.prop_map(SortKeyCondition::BeginsWith).boxed());
    }
    proptest::strategy::Union::new(options).boxed()
}

fn check(
    cond: SortKeyCondition,
    values: Vec<AttributeValue>,
    tail: Vec<u8>,
) -> Result<(), TestCaseError> {
    let prefix = vec![0, 0, 0, 7, 1, 2, 3];
    let bounds = sort_bounds(&prefix, Some(&cond));
    let kc = KeyCondition {
        partition_values: vec![AttributeValue::S("p".into())],
        sort_prefix: Vec::new(),
        sort: Some(cond),
    };
    for v in values {
        let mut key = prefix.clone();
        encode_sortable(&v, &mut key);
        let want = kc.sort_matches(&v);
        prop_assert_eq!(inside(&key, &bounds), want, "table key {:?}", v);
        key.extend_from_slice(&tail);
        prop_assert_eq!(inside(&key, &bounds), want, "index entry {:?}", v);
    }
    Ok(())
}

proptest! {
    #[test]
    fn string_bounds_match_the_condition(
        cond in condition(string(), true),
        values in proptest::collection::vec(string(), 0..24),
        tail in proptest::collection::vec(any::<u8>(), 16),
    ) {
        check(cond, values, tail)?;
    }

    #[test]
    fn binary_bounds_match_the_condition(
        cond in condition(binary(), true),
        values in proptest::collection::vec(binary(), 0..24),
        tail in proptest::collection::vec(any::<u8>(), 16),
    ) {
        check(cond, values, tail)?;
    }

    #[test]
    fn number_bounds_match_the_condition(
        cond in condition(number(), false),
        values in proptest::collection::vec(number(), 0..24),
        tail in proptest::collection::vec(any::<u8>(), 16),
    ) {
        check(cond, values, tail)?;
    }
}

#[test]
fn successor_skips_trailing_ff() {
    assert_eq!(successor(&[1, 2, 0xFF, 0xFF]), Some(vec![1, 3]));
    assert_eq!(successor(&[0xFF]), None);
    assert_eq!(successor(&[]), None);
}
