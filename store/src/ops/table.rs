//! Table management: CreateTable, DescribeTable, ListTables, DeleteTable,
//! UpdateTable.
//!
//! Tables become ACTIVE as soon as they are created: the engine creates a
//! table in the same commit that acknowledges the request, so there is no
//! CREATING phase to wait through.

use std::collections::HashSet;

use super::description::{describe, index_stats, IndexStats};
use super::schema::{
    attribute_definitions, check_key_schema_members, index_meta, key_schema, INVALID,
};
use super::{abort_to_api, now_ms, throughput, Store};
use crate::api::tables::{
    BillingMode, DescribeTableOutput, ListTablesOutput, TableDescription, TableDescriptionOutput,
};
use crate::api::types::{
    CreateTableInput, ListTablesInput, ProvisionedThroughput, StreamSpecification, StreamViewType,
    TableNameInput, UpdateTableInput,
};
use crate::api::validate::{Violations, WireEnum};
use crate::api::{encode, ApiError, ApiResult, ErrorCode};
use crate::calendar::DateTime;
use crate::engine::{Abort, Stats};
use crate::model::table::{Billing, SseMeta, StreamMeta, TableMeta, TABLE_META_FORMAT};

impl Store {
    pub(super) async fn create_table(&self, input: CreateTableInput) -> ApiResult<Vec<u8>> {
        let meta = validate_create(input)?;
        let created = self.add_table(meta, table_exists).await?;
        encode(&TableDescriptionOutput {
            table_description: describe(&created, Stats::default(), &IndexStats::new(), "ACTIVE"),
        })
    }

    /// Store a new table (CreateTable, an import, a restore), its ids and
    /// its indexes' ids given in the same commit; refused with the error
    /// `exists` gives if a table of its name exists.
    pub(super) async fn add_table(
        &self,
        meta: TableMeta,
        exists: fn(&TableMeta) -> ApiError,
    ) -> ApiResult<TableMeta> {
        self.engine
            .write(move |ctx| {
                if let Some(existing) = ctx.table(&meta.name) {
                    return Err(Abort::Op(exists(&existing)));
                }
                let mut meta = meta.clone();
                meta.id = ctx.next_id()?;
                for index in meta
                    .local_indexes
                    .iter_mut()
                    .chain(meta.global_indexes.iter_mut())
                {
                    index.id = ctx.next_id()?;
                }
                ctx.put_table(meta.clone())?;
                Ok(meta)
            })
            .await
            .map_err(abort_to_api)
    }

    pub(super) fn describe_table(&self, input: TableNameInput) -> ApiResult<Vec<u8>> {
        let name = table_operation_name(input.table_name.as_deref(), true)?;
        let meta = self
            .engine
            .table(name)
            .ok_or_else(|| ApiError::table_not_found(name))?;
        let (stats, indexes) = self
            .engine
            .read(|r| Ok((r.stats(meta.id)?, index_stats(&meta, |id| r.stats(id))?)))?;
        encode(&DescribeTableOutput {
            table: describe(&meta, stats, &indexes, table_status(&meta)),
        })
    }

    pub(super) fn list_tables(&self, input: ListTablesInput) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        v.in_range(input.limit, "limit", 1, 100);
        if let Some(start) = input.exclusive_start_table_name.as_deref() {
            v.table_name(Some(start), "exclusiveStartTableName");
        }
        v.finish()?;
        let limit = input.limit.unwrap_or(100) as usize;
        let names = self.engine.table_names();
        let start = match input.exclusive_start_table_name.as_deref() {
            Some(s) => names.partition_point(|n| n.as_str() <= s),
            None => 0,
        };
        let page: Vec<&String> = names[start..].iter().take(limit).collect();
        let more = start + page.len() < names.len();
        encode(&ListTablesOutput {
            last_evaluated_table_name: page.last().filter(|_| more).map(|s| s.as_str()),
            table_names: page,
        })
    }

    pub(super) async fn delete_table(&self, input: TableNameInput) -> ApiResult<Vec<u8>> {
        let name = table_operation_name(input.table_name.as_deref(), true)?.to_owned();
        self.refuse_while_backing_up(&name)?;
        let deleted = self
            .engine
            .write(move |ctx| {
                let meta = ctx.table(&name).ok_or_else(|| Abort::Op(ApiError::table_not_found(&name)))?;
                if meta.is_creating() {
                    return Err(Abort::Op(ApiError::in_use(format!(
                        "Attempt to change a resource which is still in use: Table is being created: {name}"
                    ))));
                }
                if meta.deletion_protection {
                    return Err(Abort::Op(ApiError::validation(format!(
                        "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first. Table: {name}"
                    ))));
                }
                let stats = ctx.stats(meta.id)?;
                ctx.drop_table(&meta)?;
                Ok((meta, stats))
            })
            .await
            .map_err(abort_to_api)?;
        let (meta, stats) = deleted;
        self.capacity.forget(meta.id);
        // DynamoDB's DeleteTable answer is a summary: no schema, no indexes.
        let desc = TableDescription {
            creation_date_time: None,
            key_schema: None,
            attribute_definitions: None,
            global_secondary_indexes: None,
            local_secondary_indexes: None,
            ..describe(&meta, stats, &IndexStats::new(), "DELETING")
        };
        encode(&TableDescriptionOutput {
            table_description: desc,
        })
    }

    pub(super) async fn update_table(&self, input: UpdateTableInput) -> ApiResult<Vec<u8>> {
        let name = table_operation_name(input.table_name.as_deref(), true)?.to_owned();
        let mut v = Violations::new();
        let billing = check_billing(
            input.billing_mode.as_deref(),
            input.table_class.as_deref(),
            input.provisioned_throughput.as_ref(),
            &mut v,
        );
        let stream = check_stream_spec(input.stream_specification.as_ref(), &mut v);
        // Member constraints first, as DynamoDB checks them: a name too long
        // is reported even when the definitions do not match the index.
        if let Some(defs) = &input.attribute_definitions {
            attribute_definitions(defs, &mut v);
        }
        v.finish()?;
        if input.replica_updates.is_some() {
            return Err(ApiError::validation(
                "ReplicaUpdates are not supported: Ferrodyn has no global tables",
            ));
        }
        let gsi = super::gsi::plan(&input)?;
        let changes_something = gsi.is_some()
            || input.billing_mode.is_some()
            || input.provisioned_throughput.is_some()
            || input.stream_specification.is_some()
            || input.sse_specification.is_some()
            || input.table_class.is_some()
            || input.deletion_protection_enabled.is_some()
            || input.on_demand_throughput.is_some()
            || input.warm_throughput.is_some();
        if !changes_something {
            return Err(ApiError::validation(
                "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
            ));
        }
        let creates = matches!(gsi, Some(super::gsi::GsiChange::Create(_)));
        let updated = self
            .engine
            .write(move |ctx| {
                let current = ctx
                    .table(&name)
                    .ok_or_else(|| Abort::Op(ApiError::table_not_found(&name)))?;
                let mut meta =
                    apply_update(&current, &input, billing, stream).map_err(Abort::Op)?;
                if let Some(change) = &gsi {
                    super::gsi::apply(ctx, &mut meta, change, &input)?;
                }
                ctx.put_table(meta.clone())?;
                let stats = ctx.stats(meta.id)?;
                let indexes = index_stats(&meta, |id| ctx.stats(id))?;
                Ok((meta, stats, indexes))
            })
            .await
            .map_err(abort_to_api)?;
        if creates {
            self.backfill_wake.notify_one();
        }
        let (meta, stats, indexes) = updated;
        encode(&TableDescriptionOutput {
            table_description: describe(&meta, stats, &indexes, "ACTIVE"),
        })
    }
}

/// CreateTable's and an import's refusal of a table name in use.
pub(super) fn table_exists(existing: &TableMeta) -> ApiError {
    ApiError::in_use(format!("Table already exists: {}", existing.name))
}

/// The TableName of a table operation (CreateTable, DescribeTable,
/// DeleteTable, UpdateTable, the TTL operations), checked before any other
/// member and reported alone: a missing name has a sentence of its own; a
/// malformed one is a constraint violation (CreateTable's name cannot be an
/// ARN, so `arn_allowed` is false for it).
pub(super) fn table_operation_name(name: Option<&str>, arn_allowed: bool) -> ApiResult<&str> {
    let Some(name) = name else {
        return Err(ApiError::validation(
            "The parameter 'TableName' is required but was not present in the request",
        ));
    };
    let mut v = Violations::new();
    if arn_allowed {
        v.table_name_or_arn(Some(name), "tableName");
    } else {
        v.table_name(Some(name), "tableName");
    }
    v.finish()?;
    Ok(name)
}

/// The table name of a request on an existing table: present and well-formed
/// (a malformed name is a ValidationException, not ResourceNotFound).
pub(super) fn checked_table_name(name: Option<&str>) -> ApiResult<&str> {
    let mut v = Violations::new();
    v.table_name(name, "tableName");
    v.finish()?;
    Ok(name.unwrap_or_default())
}

/// BillingMode, TableClass and ProvisionedThroughput, which CreateTable and
/// UpdateTable check alike.
fn check_billing(
    billing_mode: Option<&str>,
    table_class: Option<&str>,
    throughput: Option<&ProvisionedThroughput>,
    v: &mut Violations,
) -> BillingRequest {
    let mode = v.parse(billing_mode, "billingMode");
    v.one_of(
        table_class,
        "tableClass",
        &["STANDARD", "STANDARD_INFREQUENT_ACCESS"],
    );
    let throughput = throughput.and_then(|pt| check_throughput(pt, "provisionedThroughput", v));
    BillingRequest { mode, throughput }
}

/// What a request's BillingMode and ProvisionedThroughput ask for, once
/// checked: `throughput` is there whenever the request's is.
#[derive(Debug, Clone, Copy)]
struct BillingRequest {
    mode: Option<BillingMode>,
    /// Read and write capacity units.
    throughput: Option<(u64, u64)>,
}

/// The capacity units of a ProvisionedThroughput, if both are valid.
fn check_throughput(
    pt: &ProvisionedThroughput,
    path: &str,
    v: &mut Violations,
) -> Option<(u64, u64)> {
    let mut units = |value: Option<i64>, member: &str| match value {
        None => {
            v.null(&format!("{path}.{member}"));
            None
        }
        Some(n) if n < 1 => {
            v.push(
                &format!("'{n}'"),
                &format!("{path}.{member}"),
                "Member must have value greater than or equal to 1",
            );
            None
        }
        Some(n) => Some(n as u64),
    };
    let read = units(pt.read_capacity_units, "readCapacityUnits");
    let write = units(pt.write_capacity_units, "writeCapacityUnits");
    read.zip(write)
}

/// The StreamSpecification's members; gives its StreamViewType.
fn check_stream_spec(
    spec: Option<&StreamSpecification>,
    v: &mut Violations,
) -> Option<StreamViewType> {
    let s = spec?;
    if s.stream_enabled.is_none() {
        v.null("streamSpecification.streamEnabled");
    }
    v.parse(
        s.stream_view_type.as_deref(),
        "streamSpecification.streamViewType",
    )
}

fn stream_label() -> String {
    // DynamoDB's labels are ISO 8601 timestamps with milliseconds.
    let t = DateTime::from_unix_ms(now_ms());
    format!("{}.{:03}", t.iso_seconds(), t.millis)
}

/// DynamoDB's refusal of a throughput decrease beyond the daily limit.
fn decrease_limited(d: throughput::DecreaseLimited) -> ApiError {
    ApiError::new(
        ErrorCode::LimitExceeded,
        format!(
            "Subscriber limit exceeded: Provisioned throughput decreases are limited within a given UTC day. \
             After the first 4 decreases, each subsequent decrease in the same UTC day can be performed at most once every 60 minutes. \
             Number of decreases today: {}. Last decrease at {}. Next decrease can be made at {}",
            d.today,
            utc_seconds(d.last_ms),
            utc_seconds(d.next_ms)
        ),
    )
}

/// An instant as `2024-01-31T12:00:00Z`.
fn utc_seconds(ms: u64) -> String {
    format!("{}Z", DateTime::from_unix_ms(ms).iso_seconds())
}

/// The stream a StreamSpecification enabling one with `view_type` starts;
/// `None` if it does not enable one.
fn stream_meta(
    spec: Option<&StreamSpecification>,
    view_type: Option<StreamViewType>,
) -> ApiResult<Option<StreamMeta>> {
    if spec.and_then(|s| s.stream_enabled) != Some(true) {
        return Ok(None);
    }
    match view_type {
        Some(t) => Ok(Some(StreamMeta {
            enabled: true,
            view_type: t.wire_name().to_owned(),
            label: stream_label(),
            // Set by the engine when the table is stored.
            start_seq: 0,
            end_seq: None,
        })),
        None => Err(ApiError::validation(format!(
            "{INVALID}You must specify a StreamViewType when enabling a stream"
        ))),
    }
}

pub(super) fn validate_create(input: CreateTableInput) -> ApiResult<TableMeta> {
    let name = table_operation_name(input.table_name.as_deref(), false)?.to_owned();
    let mut v = Violations::new();
    check_key_schema_members(input.key_schema.as_ref(), "keySchema", 2, &mut v);
    let defs = match &input.attribute_definitions {
        Some(d) => attribute_definitions(d, &mut v),
        None => {
            v.null("attributeDefinitions");
            Vec::new()
        }
    };
    let requested = check_billing(
        input.billing_mode.as_deref(),
        input.table_class.as_deref(),
        input.provisioned_throughput.as_ref(),
        &mut v,
    );
    if let Some(o) = &input.on_demand_throughput {
        throughput::check_on_demand(o, "onDemandThroughput", &mut v);
    }
    if let Some(w) = &input.warm_throughput {
        throughput::check_warm(w, "warmThroughput", &mut v);
    }
    let view_type = check_stream_spec(input.stream_specification.as_ref(), &mut v);
    v.finish()?;
    let elements = input.key_schema.clone().unwrap_or_default();

    let mut seen = HashSet::new();
    for (n, _) in &defs {
        if !seen.insert(n.as_str()) {
            return Err(ApiError::validation(format!(
                "{INVALID}Duplicate AttributeName in AttributeDefinitions: {n}"
            )));
        }
    }
    let key = key_schema(&elements, &defs, None, false)?;

    let billing = match (requested.mode, requested.throughput) {
        (Some(BillingMode::PayPerRequest), Some(_)) => return Err(neither_with_pay_per_request()),
        (Some(BillingMode::PayPerRequest), None) => Billing::PayPerRequest,
        (_, None) => {
            return Err(ApiError::validation(format!(
                "{INVALID}ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED"
            )))
        }
        (_, Some((read, write))) => Billing::Provisioned { read, write },
    };

    let mut used: HashSet<&str> = key.names().collect();
    let mut index_names = HashSet::new();
    let mut local_indexes = Vec::new();
    for lsi in input.local_secondary_indexes.iter().flatten() {
        let meta = index_meta(lsi, &defs, &billing, false)?;
        if key.sort.is_none() {
            return Err(ApiError::validation(format!(
                "{INVALID}Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex"
            )));
        }
        if meta.key.partition.name != key.partition.name || meta.key.sort.is_none() {
            return Err(ApiError::validation(format!(
                "{INVALID}Index KeySchema does not have the same leading hash key as table KeySchema for index: {}. index hash key: {}, table hash key: {}",
                meta.name, meta.key.partition.name, key.partition.name
            )));
        }
        if !index_names.insert(meta.name.clone()) {
            return Err(ApiError::validation(format!(
                "{INVALID}Duplicate index name: {}",
                meta.name
            )));
        }
        local_indexes.push(meta);
    }
    let mut global_indexes = Vec::new();
    for gsi in input.global_secondary_indexes.iter().flatten() {
        let meta = index_meta(gsi, &defs, &billing, true)?;
        if !index_names.insert(meta.name.clone()) {
            return Err(ApiError::validation(format!(
                "{INVALID}Duplicate index name: {}",
                meta.name
            )));
        }
        global_indexes.push(meta);
    }
    for index in local_indexes.iter().chain(&global_indexes) {
        used.extend(index.key.names());
    }
    if defs.len() != used.len() || defs.iter().any(|(n, _)| !used.contains(n.as_str())) {
        return Err(ApiError::validation(format!(
            "{INVALID}Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions"
        )));
    }

    let stream = stream_meta(input.stream_specification.as_ref(), view_type)?;
    let sse = input
        .sse_specification
        .as_ref()
        .filter(|s| s.enabled == Some(true))
        .map(|s| SseMeta {
            enabled: true,
            sse_type: s.sse_type.clone(),
            kms_master_key_id: s.kms_master_key_id.clone(),
        });
    let tags = super::tags::check_create_tags(input.tags.as_deref().unwrap_or_default())?;
    let now = now_ms();
    Ok(TableMeta {
        format: TABLE_META_FORMAT,
        id: 0,
        name,
        uuid: table_uuid(now),
        key,
        attribute_definitions: defs,
        billing,
        local_indexes,
        global_indexes,
        stream,
        tags,
        sse,
        table_class: input.table_class.clone(),
        deletion_protection: input.deletion_protection_enabled.unwrap_or(false),
        created_ms: now,
        billing_changed_ms: now,
        ttl_attribute: None,
        previous_streams: Vec::new(),
        importing: None,

        contributor_insights: None,
        pitr: None,
        restore: None,

        on_demand: throughput::on_demand(Default::default(), input.on_demand_throughput.as_ref()),
        warm: throughput::warm(None, input.warm_throughput.as_ref()),
        throughput_changes: Default::default(),
    })
}

/// DynamoDB's refusal of capacity units for an on-demand table.
fn neither_with_pay_per_request() -> ApiError {
    ApiError::validation(format!(
        "{INVALID}Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST"
    ))
}

fn apply_update(
    current: &TableMeta,
    input: &UpdateTableInput,
    requested: BillingRequest,
    view_type: Option<StreamViewType>,
) -> ApiResult<TableMeta> {
    let mut meta = current.clone();
    match (requested.mode, requested.throughput) {
        (Some(BillingMode::PayPerRequest), Some(_)) => return Err(neither_with_pay_per_request()),
        (Some(BillingMode::PayPerRequest), None) if meta.billing != Billing::PayPerRequest => {
            meta.billing = Billing::PayPerRequest;
            meta.billing_changed_ms = now_ms();
        }
        (Some(BillingMode::Provisioned), None) if meta.billing == Billing::PayPerRequest => {
            return Err(ApiError::validation(format!(
                "{INVALID}ProvisionedThroughput must be specified when BillingMode is PROVISIONED"
            )))
        }
        (mode, Some((read, write))) => {
            if mode.is_none() && meta.billing == Billing::PayPerRequest {
                return Err(neither_with_pay_per_request());
            }
            if let Billing::Provisioned {
                read: current_read,
                write: current_write,
            } = meta.billing
            {
                if (current_read, current_write) == (read, write) {
                    return Err(ApiError::validation(format!(
                        "The provisioned throughput for the table will not change. The requested value equals the current value. \
                         Current ReadCapacityUnits provisioned for the table: {current_read}. Requested ReadCapacityUnits: {read}. \
                         Current WriteCapacityUnits provisioned for the table: {current_write}. Requested WriteCapacityUnits: {write}. \
                         Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits."
                    )));
                }
            }
            match meta.billing {
                Billing::PayPerRequest => meta.billing_changed_ms = now_ms(),
                Billing::Provisioned {
                    read: old_read,
                    write: old_write,
                } => throughput::record_change(
                    &mut meta.throughput_changes,
                    (old_read, old_write),
                    (read, write),
                    now_ms(),
                )
                .map_err(decrease_limited)?,
            }
            meta.billing = Billing::Provisioned { read, write };
        }
        _ => {}
    }
    if let Some(spec) = &input.stream_specification {
        let currently = meta.stream.as_ref().is_some_and(|s| s.enabled);
        match (spec.stream_enabled, currently) {
            (Some(true), true) => {
                return Err(ApiError::validation(format!(
                    "Table already has an enabled stream: TableName: {}",
                    meta.name
                )))
            }
            (Some(true), false) => meta.stream = stream_meta(Some(spec), view_type)?,
            (Some(false), false) => {
                return Err(ApiError::validation(format!(
                    "Table has no stream to disable: TableName: {}",
                    meta.name
                )))
            }
            (Some(false), true) => {
                if let Some(s) = meta.stream.as_mut() {
                    s.enabled = false;
                }
            }
            (None, _) => {}
        }
    }
    if let Some(sse) = &input.sse_specification {
        meta.sse = (sse.enabled == Some(true)).then(|| SseMeta {
            enabled: true,
            sse_type: sse.sse_type.clone(),
            kms_master_key_id: sse.kms_master_key_id.clone(),
        });
    }
    if let Some(class) = &input.table_class {
        meta.table_class = Some(class.clone());
    }
    if let Some(p) = input.deletion_protection_enabled {
        meta.deletion_protection = p;
    }
    meta.on_demand = throughput::on_demand(meta.on_demand, input.on_demand_throughput.as_ref());
    meta.warm = throughput::warm(meta.warm, input.warm_throughput.as_ref());
    Ok(meta)
}

/// A version-4-shaped UUID derived from the creation time and a process-wide
/// counter: unique per table, stable once stored.
fn table_uuid(now_ms: u64) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(now_ms);
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let a = h.finish();
    h.write_u64(a);
    let b = h.finish();
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// A table's status: CREATING while a restore builds it, else ACTIVE.
pub(super) fn table_status(meta: &TableMeta) -> &'static str {
    if meta.is_creating() {
        "CREATING"
    } else {
        "ACTIVE"
    }
}
