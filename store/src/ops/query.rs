//! Query and Scan: ordered range reads over a table's items.
//!
//! Both operations are planned into a [`RangeRead`] — storage-key bounds, a
//! direction, the filter, the projection and the limits — and run by one
//! paging loop ([`RangeRead::run`]) in a single read transaction, so a page
//! is a consistent snapshot.
//!
//! Paging follows DynamoDB: a page ends when `Limit` items have been *read*
//! or when the items read reach 1 MB, both counted before the filter; the
//! key of the last item read is then returned as `LastEvaluatedKey`, even if
//! the filter dropped that item. `Count` counts items that passed the
//! filter, `ScannedCount` items read.
//!
//! Key ranges: a Query reads one partition, `table id | partition hash`,
//! narrowed by the sort-key condition through the order-preserving sort-key
//! encoding. A Scan reads the whole key space of the table; a parallel Scan's
//! segment is a slice of the partition-hash space (the first eight bytes of
//! the hash, split into `TotalSegments` equal ranges), so segments are
//! disjoint and together cover every item.

use std::ops::Bound;
use std::sync::Arc;

use super::capacity::{self, Spent};
use super::range_read::{key_of, PageItems, RangeRead, ReadOutput};
use super::read_request::{common_members, resolve_query, resolve_scan, CommonMembers};
use super::table::checked_table_name;
use super::telemetry_hooks::Throttlee;
use super::Store;
use crate::api::types::{QueryInput, ReturnConsumedCapacity, ScanInput, Select};
use crate::api::{encode, encode_with_first, ApiError, ApiResult};
use crate::capacity::Access;
use crate::expr::{self, legacy, Condition, DocPath, KeyNames, Projection, SortKeyCondition};
use crate::model::key::{
    encode_prefix, encode_sortable, index_entry_key, partition_hash, partition_raw, Key, KeySchema,
};
use crate::model::table::{IndexMeta, TableMeta};
use crate::model::value::{AttributeValue, Item};

/// The order in which Query lists its members' violations.
const QUERY_MEMBER_ORDER: &[&str] = &[
    "select",
    "indexName",
    "returnConsumedCapacity",
    "queryFilter",
    "tableName",
    "conditionalOperator",
    "attributesToGet",
    "keyConditions",
];
/// The order in which Scan lists its members' violations.
const SCAN_MEMBER_ORDER: &[&str] = &[
    "select",
    "indexName",
    "totalSegments",
    "returnConsumedCapacity",
    "tableName",
    "conditionalOperator",
    "scanFilter",
    "segment",
    "attributesToGet",
];

/// Largest `TotalSegments` of a parallel Scan.
const MAX_SEGMENTS: i64 = 1_000_000;

/// The smallest byte string greater than every string starting with `prefix`
/// (`None`: there is none, the range is unbounded above).
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last != 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

fn upper(prefix: &[u8]) -> Bound<Vec<u8>> {
    successor(prefix).map_or(Bound::Unbounded, Bound::Excluded)
}

/// What a Query or Scan reads: the table itself or one of its indexes.
struct Target<'a> {
    table: &'a Arc<TableMeta>,
    index: Option<&'a IndexMeta>,
    global: bool,
}

impl<'a> Target<'a> {
    fn new(table: &'a Arc<TableMeta>, index: Option<&str>) -> ApiResult<Target<'a>> {
        let Some(name) = index else {
            return Ok(Target {
                table,
                index: None,
                global: false,
            });
        };
        if let Some(i) = table.local_indexes.iter().find(|i| i.name == name) {
            return Ok(Target {
                table,
                index: Some(i),
                global: false,
            });
        }
        if let Some(i) = table.global_indexes.iter().find(|i| i.name == name) {
            if i.backfill.is_some() {
                return Err(ApiError::validation(format!(
                    "Cannot read from backfilling global secondary index: {name}"
                )));
            }
            return Ok(Target {
                table,
                index: Some(i),
                global: true,
            });
        }
        Err(ApiError::validation(format!(
            "The table does not have the specified index: {name}"
        )))
    }

    fn id(&self) -> u32 {
        self.index.map_or(self.table.id, |i| i.id)
    }

    fn key(&self) -> &'a KeySchema {
        self.index.map_or(&self.table.key, |i| &i.key)
    }

    /// LastEvaluatedKey's attributes: the table's key, then the index's.
    fn key_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.table.key.names().map(str::to_owned).collect();
        if let Some(i) = self.index {
            for n in i.key.names() {
                if !names.iter().any(|m| m == n) {
                    names.push(n.to_owned());
                }
            }
        }
        names
    }

    /// A forward read of this target from `start` to `end`, with the
    /// request's Select, filter, projection and Limit; a Query narrows it
    /// to its partition.
    fn range_read(
        &self,
        (start, end): (Bound<Vec<u8>>, Bound<Vec<u8>>),
        select: Select,
        filter: Option<Condition>,
        projection: Option<Projection>,
        limit: Option<i64>,
    ) -> ApiResult<RangeRead> {
        Ok(RangeRead {
            table: self.table.clone(),
            index: self.index.map(|i| (self.global, i.name.clone())),
            key_names: self.key_names(),
            sort_names: Vec::new(),
            index_projection: self.projection(select)?,
            start,
            end,
            reverse: false,
            partition: None,
            key_condition: None,
            filter,
            projection,
            count_only: select == Select::Count,
            limit: limit.map(|l| l as usize),
        })
    }

    /// The index projection a read with `select` applies before its own.
    fn projection(&self, select: Select) -> ApiResult<Option<Projection>> {
        let Some(index) = self.index else {
            return Ok(None);
        };
        let all = index.projection.projection_type == "ALL";
        if select == Select::SpecificAttributes && !self.global {
            // A local index reads unprojected attributes from the table (here:
            // the entry holds the whole item).
            return Ok(None);
        }
        if select == Select::AllAttributes {
            if self.global && !all {
                return Err(ApiError::validation(format!(
                    "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
                    index.name
                )));
            }
            // A local index reads the rest from the table (here: the entry
            // holds the whole item).
            return Ok(None);
        }
        if all {
            return Ok(None);
        }
        let mut names = self.key_names();
        if index.projection.projection_type == "INCLUDE" {
            names.extend(index.projection.non_key_attributes.iter().cloned());
        }
        Ok(Some(Projection::from_paths_lenient(
            names.into_iter().map(DocPath::attr).collect(),
        )))
    }

    /// A global index without ALL projection cannot return attributes it
    /// does not project: asking for one is an error, not an empty answer.
    fn check_projected(&self, requested: Option<&Projection>) -> ApiResult<()> {
        let (Some(index), Some(requested)) = (self.index, requested) else {
            return Ok(());
        };
        if !self.global || index.projection.projection_type == "ALL" {
            return Ok(());
        }
        let mut projected = self.key_names();
        if index.projection.projection_type == "INCLUDE" {
            projected.extend(index.projection.non_key_attributes.iter().cloned());
        }
        let missing: Vec<&str> = requested
            .top_level_names()
            .into_iter()
            .filter(|n| !projected.iter().any(|p| p == n))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(ApiError::validation(format!(
            "One or more parameter values were invalid: Global secondary index {} does not project [{}]",
            index.name,
            missing.join(", ")
        )))
    }

    /// The storage key ExclusiveStartKey names, validated.
    fn start_key(&self, key: &Item) -> ApiResult<(Key, Vec<u8>)> {
        let invalid = |e: &dyn std::fmt::Display| {
            ApiError::validation(format!("The provided starting key is invalid: {e}"))
        };
        let expected = self.key_names();
        if key.len() != expected.len() || expected.iter().any(|n| !key.contains_key(n)) {
            return Err(invalid(
                &"The provided key element does not match the schema",
            ));
        }
        let base_item: Item = key_of(
            &self
                .table
                .key
                .names()
                .map(str::to_owned)
                .collect::<Vec<_>>(),
            key,
        );
        let base = self
            .table
            .key
            .key_of_request(&base_item)
            .map_err(|e| invalid(&e))?;
        match self.index {
            None => {
                let storage = base.storage_key(self.table.id);
                Ok((base, storage))
            }
            Some(index) => {
                let (storage, _) =
                    index_entry_key(index.id, &index.key, &base, key).ok_or_else(|| {
                        invalid(&"The provided key element does not match the schema")
                    })?;
                Ok((base, storage))
            }
        }
    }
}

/// Narrow the bounds so the read resumes after `after` (exclusive).
fn resume_after(read: &mut RangeRead, after: Vec<u8>) {
    if read.reverse {
        let tighter = match &read.end {
            Bound::Unbounded => true,
            Bound::Included(e) | Bound::Excluded(e) => after <= *e,
        };
        if tighter {
            read.end = Bound::Excluded(after);
        }
    } else {
        let tighter = match &read.start {
            Bound::Unbounded => true,
            Bound::Included(s) | Bound::Excluded(s) => after >= *s,
        };
        if tighter {
            read.start = Bound::Excluded(after);
        }
    }
}

const NO_KEY_CONDITION: &str =
    "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.";

impl Store {
    pub(super) fn query(&self, input: QueryInput) -> ApiResult<Vec<u8>> {
        let members = common_members!(input);
        let (mut v, requested) = members.check()?;
        let mode = capacity::requested(input.return_consumed_capacity.as_deref(), &mut v);
        v.finish_in(QUERY_MEMBER_ORDER)?;
        let table = self.table(checked_table_name(members.table_name)?)?;
        let target = Target::new(&table, members.index_name)?;
        let (consistent, select) =
            members.read_mode(requested, target.index.is_some(), target.global, "Querying")?;
        if input.key_conditions.is_none() && input.key_condition_expression.is_none() {
            return Err(ApiError::validation(NO_KEY_CONDITION));
        }
        let schema = target.key();
        let key_names = KeyNames {
            partition: schema.partition_attrs().map(|a| a.name.clone()).collect(),
            sort: schema.sort_attrs().map(|a| a.name.clone()).collect(),
        };
        let resolved = resolve_query(&input, &key_names)?;
        target.check_projected(resolved.projection.as_ref())?;
        let Some(kc) = resolved.key else {
            return Err(ApiError::validation(NO_KEY_CONDITION));
        };
        let partition_types: Vec<_> = schema
            .partition_attrs()
            .map(|a| a.scalar.value_type())
            .collect();
        let sort_types: Vec<_> = schema.sort_attrs().map(|a| a.scalar.value_type()).collect();
        kc.check_types(&partition_types, &sort_types)?;
        if let Some(f) = &resolved.filter {
            if let Some(attr) = f
                .attributes()
                .into_iter()
                .find(|a| schema.is_key_attribute(a))
            {
                return Err(expr::key_in_filter_error(attr, input.query_filter.is_some()).into());
            }
        }
        // The partition key values must themselves be valid key values.
        for (attr, v) in schema.partition_attrs().zip(&kc.partition_values) {
            attr.check_request_value(v)
                .map_err(|e| ApiError::validation(e.to_string()))?;
        }
        let raw = partition_raw(&kc.partition_values);
        let mut prefix = target.id().to_be_bytes().to_vec();
        prefix.extend_from_slice(&partition_hash(&raw));
        // Leading sort attributes fixed by equality narrow the partition to
        // the entries whose sort key encoding starts with theirs.
        for v in &kc.sort_prefix {
            encode_sortable(v, &mut prefix);
        }
        let bounds = sort_bounds(&prefix, kc.sort.as_ref());
        let mut read = RangeRead {
            sort_names: key_names.sort.clone(),
            reverse: input.scan_index_forward == Some(false),
            partition: Some(raw),
            key_condition: Some(kc.clone()),
            ..target.range_read(
                bounds,
                select,
                resolved.filter,
                resolved.projection,
                input.limit,
            )?
        };
        if let Some(esk) = &input.exclusive_start_key {
            if schema.sort.is_none() {
                // Exclusive of the only item a partition can hold: nothing
                // could follow it, and DynamoDB refuses the request.
                return Err(ApiError::validation(format!(
                    "The provided exclusive start key is invalid: ExclusiveStartKey: {}",
                    render_key(esk)
                )));
            }
            let (_, storage) = target.start_key(esk)?;
            let sort_outside = !kc.sort_matches_item(esk, &key_names.sort);
            let partition_outside = key_names
                .partition
                .iter()
                .zip(&kc.partition_values)
                .any(|(n, v)| esk.get(n) != Some(v));
            if partition_outside || sort_outside {
                return Err(ApiError::validation(
                    "The provided starting key is outside query boundaries based on provided conditions",
                ));
            }
            resume_after(&mut read, storage);
        }
        self.respond(&read, consistent, mode)
    }

    pub(super) fn scan(&self, input: ScanInput) -> ApiResult<Vec<u8>> {
        let members = common_members!(input);
        let (mut v, requested) = members.check()?;
        v.in_range(input.total_segments, "totalSegments", 1, MAX_SEGMENTS);
        v.in_range(input.segment, "segment", 0, MAX_SEGMENTS - 1);
        let mode = capacity::requested(input.return_consumed_capacity.as_deref(), &mut v);
        v.finish_in(SCAN_MEMBER_ORDER)?;
        let segments = match (input.segment, input.total_segments) {
            (None, None) => None,
            (Some(_), None) => return Err(ApiError::validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            )),
            (None, Some(_)) => return Err(ApiError::validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            )),
            (Some(s), Some(t)) if s >= t => {
                return Err(ApiError::validation(format!(
                    "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {s} is not less than TotalSegments: {t}"
                )))
            }
            (Some(s), Some(t)) => Some((s as u64, t as u64)),
        };
        let table = self.table(checked_table_name(members.table_name)?)?;
        let target = Target::new(&table, members.index_name)?;
        let (consistent, select) =
            members.read_mode(requested, target.index.is_some(), target.global, "Scanning")?;
        let resolved = resolve_scan(&input)?;
        target.check_projected(resolved.projection.as_ref())?;
        let space = target.id().to_be_bytes().to_vec();
        let bounds = match segments {
            None => (Bound::Included(space.clone()), upper(&space)),
            Some((segment, total)) => {
                let boundary = |i: u64| {
                    let mut k = space.clone();
                    let b = ((u128::from(i) << 64) / u128::from(total)) as u64;
                    k.extend_from_slice(&b.to_be_bytes());
                    k
                };
                let end = if segment + 1 == total {
                    upper(&space)
                } else {
                    Bound::Excluded(boundary(segment + 1))
                };
                (Bound::Included(boundary(segment)), end)
            }
        };
        let mut read = target.range_read(
            bounds,
            select,
            resolved.filter,
            resolved.projection,
            input.limit,
        )?;
        if let Some(esk) = &input.exclusive_start_key {
            let (_, sk) = target.start_key(esk)?;
            let inside = match &read.start {
                Bound::Included(s) => sk >= *s,
                _ => true,
            } && match &read.end {
                Bound::Excluded(e) => sk < *e,
                _ => true,
            };
            if !inside {
                return Err(ApiError::validation(format!(
                    "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: {} Segment: {}",
                    input.total_segments.unwrap_or(1),
                    input.segment.unwrap_or(0)
                )));
            }
            resume_after(&mut read, sk);
        }
        self.respond(&read, consistent, mode)
    }

    fn respond(
        &self,
        read: &RangeRead,
        consistent: bool,
        mode: ReturnConsumedCapacity,
    ) -> ApiResult<Vec<u8>> {
        // A read of a GSI spends the GSI's capacity; of an LSI, the table's.
        let gsi = read
            .index
            .as_ref()
            .filter(|(global, _)| *global)
            .map(|(_, name)| name.as_str());
        let partition = read
            .partition
            .as_ref()
            .and_then(|raw| self.capacity.partition_of(|| raw.clone()));
        let pk = read
            .key_condition
            .as_ref()
            .and_then(|k| k.partition_values.first());
        self.admit(
            &read.table,
            gsi,
            Access::Read,
            partition.as_deref(),
            Throttlee::Partition(pk),
        )?;
        let page = self.engine.read(|view| read.run(view))?;
        // Charged on what was read, before any filter.
        let units = capacity::read_units(page.bytes, consistent);
        // A read of an index spends the index's capacity, not the table's.
        let spent = match &read.index {
            None => Spent::table(units),
            Some((global, name)) => {
                let mut s = Spent::default();
                let map = if *global { &mut s.global } else { &mut s.local };
                map.insert(name.clone(), units);
                s
            }
        };
        spent.charge(
            &self.capacity,
            &read.table,
            Access::Read,
            partition.as_deref(),
        );
        self.count_range_read(
            &read.table.name,
            read.index.as_ref(),
            read.key_condition
                .as_ref()
                .and_then(|k| k.partition_values.first()),
            &spent,
            page.count,
        );
        let mut output = ReadOutput {
            items: None,
            count: page.count,
            scanned_count: page.scanned,
            last_evaluated_key: page.last_key,
            consumed_capacity: capacity::report_parts(mode, &read.table.name, &spent),
        };
        match page.items {
            _ if read.count_only => encode(&output),
            PageItems::Stored { bytes, ends } => encode_with_first(
                "Items",
                bytes.len(),
                |out| PageItems::write_stored(&bytes, &ends, out),
                &output,
            ),
            items => {
                output.items = Some(items);
                encode(&output)
            }
        }
    }
}

/// Storage-key bounds of one partition (`prefix`: key space and partition
/// hash), narrowed by a sort-key condition.
fn sort_bounds(prefix: &[u8], sort: Option<&SortKeyCondition>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let with = |v: &AttributeValue| {
        let mut k = prefix.to_vec();
        encode_sortable(v, &mut k);
        k
    };
    // An index entry's key continues after the sort key (with the hash of
    // the table key), so "up to and including x" means "every key starting
    // with x's encoding": the bound past x is the successor of its encoding.
    let past = |v: &AttributeValue| upper(&with(v));
    let after = |v: &AttributeValue| match successor(&with(v)) {
        Some(s) => Bound::Included(s),
        None => Bound::Excluded(with(v)),
    };
    let whole = || Bound::Included(prefix.to_vec());
    match sort {
        None => (whole(), upper(prefix)),
        Some(SortKeyCondition::Eq(x)) => (Bound::Included(with(x)), past(x)),
        Some(SortKeyCondition::Lt(x)) => (whole(), Bound::Excluded(with(x))),
        Some(SortKeyCondition::Le(x)) => (whole(), past(x)),
        Some(SortKeyCondition::Gt(x)) => (after(x), upper(prefix)),
        Some(SortKeyCondition::Ge(x)) => (Bound::Included(with(x)), upper(prefix)),
        Some(SortKeyCondition::Between(a, b)) => (Bound::Included(with(a)), past(b)),
        Some(SortKeyCondition::BeginsWith(x)) => {
            let mut k = prefix.to_vec();
            encode_prefix(x, &mut k);
            let end = upper(&k);
            (Bound::Included(k), end)
        }
    }
}

/// A key as DynamoDB renders it in messages: `{p=AttributeValue: {S:abc}}`.
fn render_key(key: &Item) -> String {
    let parts: Vec<String> = key
        .iter()
        .map(|(name, v)| {
            let value = match v {
                AttributeValue::S(x) => format!("S:{x}"),
                AttributeValue::N(x) => format!("N:{x}"),
                AttributeValue::B(x) => format!("B:{}", legacy::base64(x)),
                other => other.value_type().as_str().to_owned(),
            };
            format!("{name}=AttributeValue: {{{value}}}")
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
