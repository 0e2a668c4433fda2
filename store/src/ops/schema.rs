//! Turning a request's key schemas, attribute definitions, projections and
//! secondary indexes into the catalog's model, with DynamoDB's checks and
//! messages; shared by CreateTable, UpdateTable and the GSI changes of
//! UpdateTable.

use std::collections::HashSet;

use crate::api::types::{AttributeDefinition, KeySchemaElement, SecondaryIndex};
use crate::api::validate::Violations;
use crate::api::{ApiError, ApiResult};
use crate::model::key::{KeyAttribute, KeySchema, ScalarType, MAX_KEY_ATTRIBUTES};
use crate::model::table::{Billing, IndexMeta, ProjectionMeta};

pub(super) const INVALID: &str = "One or more parameter values were invalid: ";
pub(super) const MAX_KEY_NAME: usize = 255;
const SAME_NAME: &str =
    "Both the Hash Key and the Range Key element in the KeySchema have the same name";

/// Key schema elements → a `KeySchema`, with DynamoDB's checks. `defs` are
/// the attribute definitions; `index` names the index, if the schema is one.
/// A GSI (`multi`) may have up to four HASH and four RANGE elements, all
/// HASH elements first; tables and LSIs have one HASH and at most one RANGE.
pub(super) fn key_schema(
    elements: &[KeySchemaElement],
    defs: &[(String, ScalarType)],
    index: Option<&str>,
    multi: bool,
) -> ApiResult<KeySchema> {
    let undefined = || {
        let keys: Vec<&str> = elements
            .iter()
            .filter_map(|e| e.attribute_name.as_deref())
            .collect();
        let all: Vec<&str> = defs.iter().map(|(n, _)| n.as_str()).collect();
        ApiError::validation(format!(
            "{INVALID}Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            keys.join(", "),
            all.join(", ")
        ))
    };
    let same_name = elements.len() == 2 && elements[0].attribute_name == elements[1].attribute_name;
    if index.is_none() {
        // A table's schema is checked against its definitions before its
        // key types: more key elements than definitions, then undefined
        // names, then one name used twice.
        if elements.len() > defs.len() {
            return Err(ApiError::validation(
                "Invalid KeySchema: Some index key attribute have no definition",
            ));
        }
        let defined = |e: &KeySchemaElement| {
            defs.iter()
                .any(|(n, _)| Some(n.as_str()) == e.attribute_name.as_deref())
        };
        if !elements.iter().all(defined) {
            return Err(undefined());
        }
    }
    if same_name && !multi {
        return Err(ApiError::validation(SAME_NAME));
    }
    let hash_first = elements.first().and_then(|e| e.key_type.as_deref()) == Some("HASH");
    if !hash_first {
        return Err(ApiError::validation(match index {
            None => "Invalid KeySchema: The first KeySchemaElement is not a HASH key type".to_owned(),
            Some(i) => format!("{INVALID}Index KeySchema: The first KeySchemaElement is not a HASH key type for index: {i}"),
        }));
    }
    let is_hash = |e: &KeySchemaElement| e.key_type.as_deref() == Some("HASH");
    let hashes = elements.iter().take_while(|e| is_hash(e)).count();
    if multi && (elements.len() > 2 || hashes == 2) {
        // Multi-attribute GSI key: the rules of its own.
        let i = index.unwrap_or_default();
        if elements[hashes..].iter().any(is_hash) {
            return Err(ApiError::validation(format!(
                "{INVALID}Index KeySchema of {i}: all HASH key elements must precede all RANGE key elements"
            )));
        }
        if hashes > MAX_KEY_ATTRIBUTES {
            return Err(ApiError::validation(format!(
                "{INVALID}Index KeySchema of {i} has {hashes} HASH key elements; at most {MAX_KEY_ATTRIBUTES} are allowed"
            )));
        }
        let ranges = elements.len() - hashes;
        if ranges > MAX_KEY_ATTRIBUTES {
            return Err(ApiError::validation(format!(
                "{INVALID}Index KeySchema of {i} has {ranges} RANGE key elements; at most {MAX_KEY_ATTRIBUTES} are allowed"
            )));
        }
        let mut seen = HashSet::new();
        if let Some(dup) = elements
            .iter()
            .filter_map(|e| e.attribute_name.as_deref())
            .find(|n| !seen.insert(*n))
        {
            return Err(ApiError::validation(format!(
                "{INVALID}Index KeySchema of {i} has more than one key element with the same name: {dup}"
            )));
        }
    } else {
        if elements.len() == 2 && elements[1].key_type.as_deref() != Some("RANGE") {
            return Err(ApiError::validation(match index {
                None => "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type".to_owned(),
                Some(i) => format!("{INVALID}Index KeySchema: The second KeySchemaElement is not a RANGE key type for index: {i}"),
            }));
        }
        if same_name {
            return Err(ApiError::validation(SAME_NAME));
        }
    }
    let lookup = |e: &KeySchemaElement| -> ApiResult<KeyAttribute> {
        let name = e.attribute_name.clone().unwrap_or_default();
        match defs.iter().find(|(n, _)| *n == name) {
            Some((_, t)) => Ok(KeyAttribute { name, scalar: *t }),
            None => Err(undefined()),
        }
    };
    let attrs = elements.iter().map(lookup).collect::<ApiResult<Vec<_>>>()?;
    let (partition, sort) = attrs.split_at(hashes.max(1));
    Ok(KeySchema {
        partition: partition[0].clone(),
        sort: sort.first().cloned(),
        more_partition: partition[1..].to_vec(),
        more_sort: sort
            .get(1..)
            .map(<[KeyAttribute]>::to_vec)
            .unwrap_or_default(),
    })
}

/// Member checks of a KeySchema; `max` is its longest allowed length (2,
/// or for a GSI with a multi-attribute key 8).
pub(super) fn check_key_schema_members(
    elements: Option<&Vec<KeySchemaElement>>,
    path: &str,
    max: usize,
    v: &mut Violations,
) {
    let Some(elements) = elements else {
        v.null(path);
        return;
    };
    if elements.is_empty() {
        v.push(
            "'[]'",
            path,
            "Member must have length greater than or equal to 1",
        );
    }
    if elements.len() > max {
        v.push(
            &format!("'{}'", render_key_schema(elements)),
            path,
            &format!("Member must have length less than or equal to {max}"),
        );
    }
    for (i, e) in elements.iter().enumerate() {
        let member = format!("{path}.{}.member", i + 1);
        match e.attribute_name.as_deref() {
            None => v.null(&format!("{member}.attributeName")),
            Some(n) if n.len() > MAX_KEY_NAME => v.push(
                &format!("'{n}'"),
                &format!("{member}.attributeName"),
                "Member must have length less than or equal to 255",
            ),
            Some("") => v.push(
                "''",
                &format!("{member}.attributeName"),
                "Member must have length greater than or equal to 1",
            ),
            Some(_) => {}
        }
        match e.key_type.as_deref() {
            None => v.null(&format!("{member}.keyType")),
            other => v.one_of(other, &format!("{member}.keyType"), &["HASH", "RANGE"]),
        }
    }
}

pub(super) fn render_key_schema(elements: &[KeySchemaElement]) -> String {
    let parts: Vec<String> = elements
        .iter()
        .map(|e| {
            format!(
                "KeySchemaElement(attributeName={}, keyType={})",
                e.attribute_name.as_deref().unwrap_or("null"),
                e.key_type.as_deref().unwrap_or("null")
            )
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

pub(super) fn attribute_definitions(
    defs: &[AttributeDefinition],
    v: &mut Violations,
) -> Vec<(String, ScalarType)> {
    let mut out = Vec::new();
    for (i, d) in defs.iter().enumerate() {
        let member = format!("attributeDefinitions.{}.member", i + 1);
        match d.attribute_name.as_deref() {
            None => v.null(&format!("{member}.attributeName")),
            Some(n) if n.len() > MAX_KEY_NAME => v.push(
                &format!("'{n}'"),
                &format!("{member}.attributeName"),
                "Member must have length less than or equal to 255",
            ),
            Some(_) => {}
        }
        match d.attribute_type.as_deref() {
            None => v.null(&format!("{member}.attributeType")),
            Some(t) => v.one_of(
                Some(t),
                &format!("{member}.attributeType"),
                &["B", "N", "S"],
            ),
        }
        if let (Some(n), Some(t)) = (
            &d.attribute_name,
            d.attribute_type.as_deref().and_then(ScalarType::parse),
        ) {
            out.push((n.clone(), t));
        }
    }
    out
}

pub(super) fn projection(
    p: Option<&crate::api::types::Projection>,
    index: &str,
) -> ApiResult<ProjectionMeta> {
    let Some(p) = p else {
        return Err(ApiError::validation(format!(
            "{INVALID}Projection is required for index: {index}"
        )));
    };
    let projection_type = p
        .projection_type
        .clone()
        .unwrap_or_else(|| "INCLUDE".to_owned());
    let non_key = p.non_key_attributes.clone().unwrap_or_default();
    if let Some(long) = non_key.iter().find(|n| n.len() > MAX_KEY_NAME) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '[{long}]' at 'projection.nonKeyAttributes' failed to satisfy constraint: Member must have length less than or equal to 255"
        )));
    }
    let mut seen = HashSet::new();
    if let Some(dup) = non_key.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(ApiError::validation(format!(
            "{INVALID}Duplicate NonKeyAttributes in the projection of index {index}: {dup}"
        )));
    }
    match projection_type.as_str() {
        "ALL" | "KEYS_ONLY" if !non_key.is_empty() => Err(ApiError::validation(format!(
            "{INVALID}ProjectionType is {projection_type}, but NonKeyAttributes is specified"
        ))),
        "INCLUDE" if non_key.is_empty() => Err(ApiError::validation(format!(
            "{INVALID}ProjectionType is INCLUDE, but NonKeyAttributes is not specified"
        ))),
        "ALL" | "KEYS_ONLY" | "INCLUDE" => Ok(ProjectionMeta { projection_type, non_key_attributes: non_key }),
        other => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{other}' at 'projection.projectionType' failed to satisfy constraint: Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]"
        ))),
    }
}

pub(super) fn index_meta(
    index: &SecondaryIndex,
    defs: &[(String, ScalarType)],
    billing: &Billing,
    global: bool,
) -> ApiResult<IndexMeta> {
    let mut v = Violations::new();
    let which = if global {
        "globalSecondaryIndexes"
    } else {
        "localSecondaryIndexes"
    };
    match index.index_name.as_deref() {
        None => v.null(&format!("{which}.member.indexName")),
        Some(n) => {
            if n.len() < 3 || n.len() > 255 {
                v.push(
                    &format!("'{n}'"),
                    &format!("{which}.member.indexName"),
                    "Member must have length between 3 and 255",
                );
            }
            if !n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
            {
                v.push(
                    &format!("'{n}'"),
                    &format!("{which}.member.indexName"),
                    "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
                );
            }
        }
    }
    check_key_schema_members(
        index.key_schema.as_ref(),
        &format!("{which}.member.keySchema"),
        if global { 2 * MAX_KEY_ATTRIBUTES } else { 2 },
        &mut v,
    );
    v.finish()?;
    let name = index.index_name.clone().unwrap_or_default();
    let key = key_schema(
        index.key_schema.as_deref().unwrap_or_default(),
        defs,
        Some(&name),
        global,
    )?;
    let projection = projection(index.projection.as_ref(), &name)?;
    let provisioned = match (global, billing, &index.provisioned_throughput) {
        (true, Billing::Provisioned { .. }, None) => {
            return Err(ApiError::validation(format!(
                "{INVALID}ProvisionedThroughput is not specified for index: {name}"
            )))
        }
        (true, Billing::PayPerRequest, Some(_)) => {
            return Err(ApiError::validation(format!(
                "{INVALID}ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
            )))
        }
        (_, _, Some(pt)) => Some((pt.read_capacity_units.unwrap_or(1) as u64, pt.write_capacity_units.unwrap_or(1) as u64)),
        _ => None,
    };
    Ok(IndexMeta {
        name,
        id: 0,
        key,
        projection,
        provisioned,
        backfill: None,
        on_demand: super::throughput::on_demand(
            Default::default(),
            index.on_demand_throughput.as_ref(),
        ),
        warm: super::throughput::warm(None, index.warm_throughput.as_ref()),

        contributor_insights: None,
    })
}
