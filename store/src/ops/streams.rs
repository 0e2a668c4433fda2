//! The DynamoDB Streams API, served from the change log: ListStreams,
//! DescribeStream, GetShardIterator, GetRecords.
//!
//! Each table has at most one stream (its latest): enabling a stream gives it
//! a new label and ARN, disabling it closes it. A stream has exactly one
//! shard, covering the change-log sequence numbers from the stream's start
//! to its end (open-ended while the stream is enabled) — DynamoDB splits
//! shards by partition and time, but a reader that follows the documented
//! protocol (list shards, read each to its end) works unchanged.
//!
//! Shard iterators are self-describing strings (table, stream label,
//! position, issue time, checksum); they expire 15 minutes after issue, as
//! in DynamoDB. The `GetRecords` response's `NextShardIterator` is absent
//! once a closed shard has been read to its end.

use super::table::checked_table_name;
use super::Store;
use crate::api::streams::{
    DescribeStreamInput, DescribeStreamOutput, EventName, GetRecordsInput, GetRecordsOutput,
    GetShardIteratorInput, GetShardIteratorOutput, Identity, KeySchemaElement, KeyType,
    ListStreamsInput, ListStreamsOutput, Record, SequenceNumberRange, Shard, StreamDescription,
    StreamRecord, StreamStatus, StreamSummary,
};
use crate::api::types::StreamViewType;
use crate::api::validate::{Violations, WireEnum};
use crate::api::{encode, ApiError, ApiResult, ErrorCode};
use crate::calendar::days_from_civil;
use crate::engine::changelog::{record_size, ChangeKind, ChangeRecord};
use crate::model::table::{table_arn, StreamMeta, TableMeta, REGION};
use crate::model::value::Item;

/// How long a shard iterator stays valid.
const ITERATOR_LIFETIME_MS: u64 = 15 * 60 * 1000;
const MAX_LIST_LIMIT: i64 = 100;
const MAX_RECORDS_LIMIT: i64 = 1000;
/// GetRecords returns at most 1 MB of records, as DynamoDB does.
const MAX_RECORDS_BYTES: usize = 1 << 20;
const ITERATOR_TYPES: &[&str] = &[
    "TRIM_HORIZON",
    "LATEST",
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
];
const ITERATOR_TAG: &str = "ferrodyn1";

/// A table's stream as the Streams API sees it.
struct StreamRef {
    table: std::sync::Arc<TableMeta>,
    stream: StreamMeta,
}

impl StreamRef {
    fn shard_id(&self) -> String {
        format!(
            "shardId-{:020}-{:08x}",
            self.stream.start_seq, self.table.id
        )
    }
}

fn stream_arn(table: &str, label: &str) -> String {
    format!("{}/stream/{label}", table_arn(table))
}

/// DynamoDB's sequence numbers are decimal strings of 21 or more digits.
fn sequence_number(seq: u64) -> String {
    format!("{seq:021}")
}

fn stream_not_found(arn: &str) -> ApiError {
    ApiError::new(
        ErrorCode::StreamResourceNotFound,
        format!("Requested resource not found: Stream: {arn} not found"),
    )
}

/// `(table name, label)` of a stream ARN, or a ValidationException.
fn parse_stream_arn(arn: &str) -> ApiResult<(&str, &str)> {
    let invalid = || ApiError::validation(format!("Invalid StreamArn: {arn}"));
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", _, "dynamodb", _, _, resource] = parts.as_slice() else {
        return Err(invalid());
    };
    let rest = resource.strip_prefix("table/").ok_or_else(invalid)?;
    let (table, label) = rest.split_once("/stream/").ok_or_else(invalid)?;
    if table.is_empty() || label.is_empty() {
        return Err(invalid());
    }
    Ok((table, label))
}

fn check_limit(limit: Option<i64>, max: i64, v: &mut Violations) {
    v.in_range(limit, "limit", 1, max);
}

impl Store {
    /// The stream `arn` names: the current or a previous stream of an
    /// existing table.
    fn stream(&self, arn: &str) -> ApiResult<StreamRef> {
        let (name, label) = parse_stream_arn(arn)?;
        let table = self
            .engine
            .table(name)
            .ok_or_else(|| stream_not_found(arn))?;
        let stream = all_streams(&table)
            .find(|s| s.label == label)
            .cloned()
            .ok_or_else(|| stream_not_found(arn))?;
        Ok(StreamRef { table, stream })
    }

    pub(super) fn list_streams(&self, input: ListStreamsInput) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        check_limit(input.limit, MAX_LIST_LIMIT, &mut v);
        if let Some(t) = &input.table_name {
            v.table_name(Some(t), "tableName");
        }
        v.finish()?;
        let limit = input.limit.unwrap_or(MAX_LIST_LIMIT) as usize;
        let after = match &input.exclusive_start_stream_arn {
            Some(arn) => {
                parse_stream_arn(arn)?;
                Some(arn.clone())
            }
            None => None,
        };
        if let Some(name) = &input.table_name {
            checked_table_name(Some(name))?;
            if self.engine.table(name).is_none() {
                return Err(ApiError::table_not_found(name));
            }
        }
        let mut streams = Vec::new();
        let mut last = None;
        'tables: for name in self.engine.table_names() {
            if input.table_name.as_ref().is_some_and(|t| *t != name) {
                continue;
            }
            let Some(table) = self.engine.table(&name) else {
                continue;
            };
            for stream in all_streams(&table) {
                let arn = stream_arn(&name, &stream.label);
                if after.as_ref().is_some_and(|a| arn <= *a) {
                    continue;
                }
                if streams.len() == limit {
                    break 'tables;
                }
                streams.push((arn.clone(), name.clone(), stream.label.clone()));
                last = Some(arn);
            }
        }
        let full = streams.len() == limit;
        encode(&ListStreamsOutput {
            streams: streams
                .iter()
                .map(|(arn, table, label)| StreamSummary {
                    stream_arn: arn.clone(),
                    table_name: table,
                    stream_label: label,
                })
                .collect(),
            last_evaluated_stream_arn: last.filter(|_| full),
        })
    }

    pub(super) fn describe_stream(&self, input: DescribeStreamInput) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        if input.stream_arn.is_none() {
            v.null("streamArn");
        }
        check_limit(input.limit, MAX_LIST_LIMIT, &mut v);
        if let Some(f) = &input.shard_filter {
            match &f.filter_type {
                None => v.null("shardFilter.type"),
                Some(t) => v.one_of(Some(t), "shardFilter.type", &["CHILD_SHARDS"]),
            }
            match &f.shard_id {
                None => v.null("shardFilter.shardId"),
                Some(id) => check_shard_id(id, "shardFilter.shardId", &mut v),
            }
        }
        if let Some(id) = &input.exclusive_start_shard_id {
            check_shard_id(id, "exclusiveStartShardId", &mut v);
        }
        v.finish()?;
        let arn = input.stream_arn.unwrap_or_default();
        let s = self.stream(&arn)?;
        let trimmed = self
            .engine
            .read(|r| r.changes().trimmed_through(s.table.id))?;
        let range = SequenceNumberRange {
            starting_sequence_number: sequence_number(s.stream.start_seq.max(trimmed + 1)),
            ending_sequence_number: s
                .stream
                .end_seq
                .map(|end| sequence_number(end.saturating_sub(1))),
        };
        let shards = if input.exclusive_start_shard_id.is_some() || input.shard_filter.is_some() {
            // One shard per stream: nothing comes after it, and it has no children.
            vec![]
        } else {
            vec![Shard {
                shard_id: s.shard_id(),
                sequence_number_range: range,
            }]
        };
        let mut key_schema = vec![KeySchemaElement {
            attribute_name: &s.table.key.partition.name,
            key_type: KeyType::Hash,
        }];
        if let Some(sort) = &s.table.key.sort {
            key_schema.push(KeySchemaElement {
                attribute_name: &sort.name,
                key_type: KeyType::Range,
            });
        }
        encode(&DescribeStreamOutput {
            stream_description: StreamDescription {
                stream_arn: arn,
                stream_label: &s.stream.label,
                stream_status: if s.stream.enabled {
                    StreamStatus::Enabled
                } else {
                    StreamStatus::Disabled
                },
                stream_view_type: &s.stream.view_type,
                creation_request_date_time: label_seconds(&s.stream.label),
                table_name: &s.table.name,
                key_schema,
                shards,
            },
        })
    }

    pub(super) fn get_shard_iterator(&self, input: GetShardIteratorInput) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        if input.stream_arn.is_none() {
            v.null("streamArn");
        }
        if input.shard_id.is_none() {
            v.null("shardId");
        }
        match &input.shard_iterator_type {
            None => v.null("shardIteratorType"),
            Some(t) => v.one_of(Some(t), "shardIteratorType", ITERATOR_TYPES),
        }
        v.finish()?;
        let kind = input.shard_iterator_type.as_deref().unwrap_or_default();
        let needs_seq = kind.ends_with("SEQUENCE_NUMBER");
        let seq = match (&input.sequence_number, needs_seq) {
            (None, true) => {
                return Err(ApiError::validation(format!(
                    "Must specify sequence number with shard iterator type {kind}"
                )))
            }
            (Some(_), false) => {
                return Err(ApiError::validation(format!(
                    "Sequence number must not be specified with shard iterator type {kind}"
                )))
            }
            (Some(s), true) => Some(
                s.parse::<u64>()
                    .ok()
                    .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| ApiError::validation(format!("Invalid SequenceNumber: {s}")))?,
            ),
            (None, false) => None,
        };
        let arn = input.stream_arn.unwrap_or_default();
        let s = self.stream(&arn)?;
        if input.shard_id.as_deref() != Some(s.shard_id().as_str()) {
            return Err(ApiError::new(
                ErrorCode::StreamResourceNotFound,
                format!(
                    "Requested resource not found: Shard does not exist: {}",
                    input.shard_id.unwrap_or_default()
                ),
            ));
        }
        let (next, trimmed) = self.engine.read(|r| {
            let c = r.changes();
            Ok((c.next_seq()?, c.trimmed_through(s.table.id)?))
        })?;
        let first = s.stream.start_seq.max(trimmed + 1);
        let end = s.stream.end_seq.unwrap_or(next);
        let position = match (kind, seq) {
            ("TRIM_HORIZON", _) => first,
            ("LATEST", _) => end,
            (_, Some(n)) => {
                if n < s.stream.start_seq || n > end {
                    return Err(ApiError::validation(format!(
                        "Invalid SequenceNumber: {} is not in shard {}",
                        sequence_number(n),
                        s.shard_id()
                    )));
                }
                if n <= trimmed {
                    return Err(trimmed_error());
                }
                if kind == "AFTER_SEQUENCE_NUMBER" {
                    n + 1
                } else {
                    n
                }
            }
            _ => first,
        };
        let iterator = Iterator {
            table_id: s.table.id,
            table: s.table.name.clone(),
            label: s.stream.label.clone(),
            position,
            issued_ms: self.engine.clock().now_ms(),
        };
        encode(&GetShardIteratorOutput {
            shard_iterator: iterator.encode(),
        })
    }

    pub(super) fn get_records(&self, input: GetRecordsInput) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        if input.shard_iterator.is_none() {
            v.null("shardIterator");
        }
        check_limit(input.limit, MAX_RECORDS_LIMIT, &mut v);
        v.finish()?;
        let text = input.shard_iterator.unwrap_or_default();
        let it = Iterator::decode(&text)
            .ok_or_else(|| ApiError::validation(format!("Invalid ShardIterator: {text}")))?;
        let now = self.engine.clock().now_ms();
        if now.saturating_sub(it.issued_ms) > ITERATOR_LIFETIME_MS {
            return Err(ApiError::new(
                ErrorCode::ExpiredIterator,
                format!(
                    "Iterator expired. The iterator was created at time {} while right now the time is {}",
                    it.issued_ms, now
                ),
            ));
        }
        let arn = stream_arn(&it.table, &it.label);
        let s = self.stream(&arn)?;
        if s.table.id != it.table_id {
            return Err(stream_not_found(&arn));
        }
        let limit = input.limit.unwrap_or(MAX_RECORDS_LIMIT) as usize;
        let until = s.stream.end_seq;
        let (records, next, trimmed) = self.engine.read(|r| {
            let c = r.changes();
            let trimmed = c.trimmed_through(it.table_id)?;
            let records = c.read(it.table_id, it.position, until, limit, MAX_RECORDS_BYTES)?;
            Ok((records, c.next_seq()?, trimmed))
        })?;
        let (records, early) = records;
        if it.position <= trimmed {
            return Err(trimmed_error());
        }
        // Having stopped for neither bound, we saw every record of this
        // table below `next`, so the reader may continue from there.
        let after = match records.last() {
            Some(last) if early => last.seq + 1,
            _ => until.map_or(next, |u| u.min(next)),
        };
        let after = after.max(it.position);
        let view = s.stream.view_type.as_str();
        let rendered: Vec<Record<'_>> = records.iter().map(|r| render(r, view)).collect();
        self.telemetry.stream_records(&it.table, rendered.len());
        let closed_and_done = until.is_some_and(|u| after >= u);
        let next_shard_iterator = (!closed_and_done).then(|| {
            Iterator {
                position: after,
                issued_ms: now,
                ..it
            }
            .encode()
        });
        encode(&GetRecordsOutput {
            records: rendered,
            next_shard_iterator,
        })
    }
}

/// A table's streams, previous ones first.
fn all_streams(table: &TableMeta) -> impl std::iter::Iterator<Item = &StreamMeta> {
    table.previous_streams.iter().chain(&table.stream)
}

/// Shard ids are 28 to 65 characters long.
fn check_shard_id(id: &str, path: &str, v: &mut Violations) {
    let quoted = format!("'{id}'");
    if id.len() < 28 {
        v.push(
            &quoted,
            path,
            "Member must have length greater than or equal to 28",
        );
    }
    if id.len() > 65 {
        v.push(
            &quoted,
            path,
            "Member must have length less than or equal to 65",
        );
    }
}

/// Seconds since the epoch of a stream label (`YYYY-MM-DDTHH:MM:SS.mmm`, UTC).
fn label_seconds(label: &str) -> f64 {
    let num = |r: std::ops::Range<usize>| label.get(r).and_then(|t| t.parse::<i64>().ok());
    let parts = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
        num(20..23),
    );
    let (Some(y), Some(m), Some(d), Some(h), Some(min), Some(sec), Some(ms)) = parts else {
        return 0.0;
    };
    let days = days_from_civil(y, m, d);
    let secs = days * 86_400 + h * 3600 + min * 60 + sec;
    secs as f64 + ms as f64 / 1000.0
}

fn trimmed_error() -> ApiError {
    ApiError::new(
        ErrorCode::TrimmedDataAccess,
        "Attempted to access data that has been trimmed from the stream",
    )
}

/// One stream record in the Streams wire format.
fn render<'a>(r: &'a ChangeRecord, view: &'a str) -> Record<'a> {
    let (show_old, show_new) =
        StreamViewType::from_wire(view).map_or((false, false), StreamViewType::images);
    let old: Option<&Item> = r.old.as_ref().filter(|_| show_old);
    let new: Option<&Item> = r.new.as_ref().filter(|_| show_new);
    Record {
        aws_region: REGION,
        dynamodb: StreamRecord {
            approximate_creation_date_time: r.time_ms / 1000,
            keys: &r.keys,
            new_image: new,
            old_image: old,
            sequence_number: sequence_number(r.seq),
            size_bytes: record_size(&r.keys, old, new),
            stream_view_type: view,
        },
        event_id: format!("{:08x}{:024x}", r.table_id, r.seq),
        event_name: match r.kind {
            ChangeKind::Insert => EventName::Insert,
            ChangeKind::Modify => EventName::Modify,
            ChangeKind::Remove => EventName::Remove,
        },
        event_source: "aws:dynamodb",
        event_version: "1.1",
        user_identity: r.by_service.then_some(Identity {
            principal_id: "dynamodb.amazonaws.com",
            kind: "Service",
        }),
    }
}

/// A decoded shard iterator.
#[derive(Debug, Clone, PartialEq)]
struct Iterator {
    table_id: u32,
    table: String,
    label: String,
    /// First sequence number this iterator reads.
    position: u64,
    issued_ms: u64,
}

impl Iterator {
    fn encode(&self) -> String {
        let body = format!(
            "{ITERATOR_TAG}|{}|{}|{}|{}|{}",
            self.table_id, self.table, self.label, self.position, self.issued_ms
        );
        let check = crc32fast::hash(body.as_bytes());
        format!("{body}|{check:08x}")
    }

    fn decode(s: &str) -> Option<Iterator> {
        let (body, check) = s.rsplit_once('|')?;
        if format!("{:08x}", crc32fast::hash(body.as_bytes())) != check {
            return None;
        }
        let parts: Vec<&str> = body.split('|').collect();
        let [ITERATOR_TAG, id, table, label, position, issued] = parts.as_slice() else {
            return None;
        };
        Some(Iterator {
            table_id: id.parse().ok()?,
            table: (*table).to_owned(),
            label: (*label).to_owned(),
            position: position.parse().ok()?,
            issued_ms: issued.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterators_round_trip_and_reject_tampering() {
        let it = Iterator {
            table_id: 7,
            table: "t.x-1".into(),
            label: "2024-01-01T00:00:00.000".into(),
            position: 42,
            issued_ms: 1000,
        };
        let s = it.encode();
        assert_eq!(Iterator::decode(&s), Some(it));
        assert_eq!(Iterator::decode(&s.replace("|42|", "|43|")), None);
        assert_eq!(Iterator::decode("garbage"), None);
        assert_eq!(Iterator::decode(""), None);
    }

    #[test]
    fn stream_arns_parse() {
        let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/t1/stream/2024-01-01T00:00:00.000";
        assert_eq!(
            parse_stream_arn(arn).ok(),
            Some(("t1", "2024-01-01T00:00:00.000"))
        );
        assert!(parse_stream_arn("sdfadfsdfnlfkajakfgjalksfgklasjklasdjfklasdfasdfgasf").is_err());
        assert!(parse_stream_arn("arn:aws:dynamodb:us-east-1:0:table/t1").is_err());
    }

    #[test]
    fn labels_convert_to_epoch_seconds() {
        assert_eq!(label_seconds("1970-01-01T00:00:00.000"), 0.0);
        assert_eq!(label_seconds("2024-03-01T12:00:01.500"), 1_709_294_401.5);
        assert_eq!(label_seconds("nonsense"), 0.0);
    }

    #[test]
    fn sequence_numbers_have_21_digits() {
        assert_eq!(sequence_number(1), "000000000000000000001");
        assert_eq!(sequence_number(u64::MAX).len(), 21);
    }
}
