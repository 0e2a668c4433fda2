//! The legacy write parameters (Expected, AttributeUpdates) of a request,
//! in the terms of the expression evaluator's legacy translation.

use std::collections::BTreeMap;

use crate::api::types;
use crate::expr::legacy;

/// Expected, member by member.
pub(super) fn convert_expected(
    e: &BTreeMap<String, types::ExpectedAttributeValue>,
) -> BTreeMap<String, legacy::ExpectedAttributeValue> {
    e.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                legacy::ExpectedAttributeValue {
                    value: v.value.clone(),
                    exists: v.exists,
                    comparison_operator: v.comparison_operator.clone(),
                    attribute_value_list: v.attribute_value_list.clone(),
                },
            )
        })
        .collect()
}

/// AttributeUpdates, member by member.
pub(super) fn convert_updates(
    u: &BTreeMap<String, types::AttributeValueUpdate>,
) -> BTreeMap<String, legacy::AttributeValueUpdate> {
    u.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                legacy::AttributeValueUpdate {
                    value: v.value.clone(),
                    action: v.action.clone(),
                },
            )
        })
        .collect()
}
