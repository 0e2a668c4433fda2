//! What every written item must satisfy whatever the operation: attribute
//! names, nesting depth, and the types and sizes of its secondary-index key
//! attributes — DynamoDB's checks and messages, shared by the single-item,
//! batch and transaction writes.

use crate::api::{ApiError, ApiResult};
use crate::model::key::KeyError;
use crate::model::table::TableMeta;
use crate::model::value::{AttributeValue, Item};

/// Deepest level of a value in an item, the attribute itself being level 1.
pub const MAX_NESTING: usize = 32;
/// Longest attribute name, in bytes.
pub const MAX_NAME_BYTES: usize = 65535;

pub(super) const INVALID: &str = "One or more parameter values were invalid: ";

/// DynamoDB's rules for the secondary-index key attributes of an item being
/// written: when present they must have the index's type and not be empty,
/// each partition attribute within the partition key size limit and the
/// sort attributes together within the sort key size limit.
pub(super) fn check_index_keys(table: &TableMeta, item: &Item) -> ApiResult<()> {
    for index in table.local_indexes.iter().chain(&table.global_indexes) {
        let mut sort_bytes = 0;
        for attr in index.key.attributes() {
            if table.key.is_key_attribute(&attr.name) {
                continue;
            }
            let Some(value) = item.get(&attr.name) else {
                continue;
            };
            if value.value_type() != attr.scalar.value_type() {
                return Err(ApiError::validation(format!(
                    "{INVALID}Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                    attr.name,
                    attr.scalar.as_str(),
                    value.value_type().as_str(),
                    index.name
                )));
            }
            let empty = match value {
                AttributeValue::S(x) => x.is_empty(),
                AttributeValue::B(x) => x.is_empty(),
                _ => false,
            };
            let len = match value {
                AttributeValue::S(x) => x.len(),
                AttributeValue::B(x) => x.len(),
                _ => 0,
            };
            let is_partition = index.key.partition_attrs().any(|a| a.name == attr.name);
            if is_partition && len > crate::model::key::MAX_PARTITION_KEY_BYTES {
                return Err(ApiError::validation(
                    KeyError::PartitionTooLarge.to_string(),
                ));
            }
            if !is_partition {
                sort_bytes += len;
                if sort_bytes > crate::model::key::MAX_SORT_KEY_BYTES {
                    return Err(ApiError::validation(KeyError::SortTooLarge.to_string()));
                }
            }
            if empty {
                return Err(ApiError::validation(format!(
                    "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {} value. IndexName: {}, IndexKey: {}",
                    if matches!(value, AttributeValue::S(_)) { "string" } else { "binary" },
                    index.name,
                    attr.name
                )));
            }
        }
    }
    Ok(())
}

/// Schema-free checks of a whole item: attribute names and nesting depth.
pub(crate) fn validate_item(item: &Item) -> ApiResult<()> {
    for (name, value) in item {
        check_name(name)?;
        check_depth(value, 1)?;
    }
    Ok(())
}

pub(super) fn check_name(name: &str) -> ApiResult<()> {
    if name.is_empty() {
        return Err(ApiError::validation(format!(
            "{INVALID}Empty attribute name"
        )));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(ApiError::validation(format!(
            "{INVALID}Attribute name exceeds the size limit of {MAX_NAME_BYTES} bytes: length {}",
            name.len()
        )));
    }
    Ok(())
}

/// Whether `value`, at level `depth`, goes deeper than an item may.
pub(super) fn too_deep(value: &AttributeValue, depth: usize) -> bool {
    depth > MAX_NESTING
        || match value {
            AttributeValue::M(m) => m.values().any(|c| too_deep(c, depth + 1)),
            AttributeValue::L(l) => l.iter().any(|c| too_deep(c, depth + 1)),
            _ => false,
        }
}

/// `depth` is the value's level: a top-level attribute is level 1, and a
/// scalar counts as a level as much as a map or a list does.
fn check_depth(value: &AttributeValue, depth: usize) -> ApiResult<()> {
    if depth > MAX_NESTING {
        return Err(ApiError::validation(
            "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit",
        ));
    }
    let children: Box<dyn Iterator<Item = &AttributeValue>> = match value {
        AttributeValue::M(m) => {
            for k in m.keys() {
                check_name(k)?;
            }
            Box::new(m.values())
        }
        AttributeValue::L(l) => Box::new(l.iter()),
        _ => return Ok(()),
    };
    for c in children {
        check_depth(c, depth + 1)?;
    }
    Ok(())
}
