//! GetItem and BatchGetItem decoded once, at the edge of the stack, into
//! what a cache hit needs — tables, keys, consistency, consumed capacity,
//! projections — with tables and keys borrowed from the body. The stack answers item-cache
//! hits from it before any layer runs (see [`crate::stack`]); whatever it
//! does not accept goes down the layers, which decode the request in full.
//!
//! It accepts exactly the requests the item-cache layer would answer from
//! the cache: the members it reads have the same types as in the store's
//! `GetItemInput` and `BatchGetItemInput`, a batch is refused for the same
//! reasons (more than 100 keys, a repeated or empty key, ...), and the key's cache form is the same
//! canonical JSON (attribute names sorted, numbers canonical). A key already
//! sent in that form — the usual case: SDKs write one or two scalar
//! attributes in name order — is used as sent, without decoding it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::Bytes;
use ferrodyn_store::api::keys::key_json;
use ferrodyn_store::api::types::{Names, ReturnConsumedCapacity};
use ferrodyn_store::expr::Projection;
use ferrodyn_store::model::stored::plain_string;
use ferrodyn_store::model::value::Item;
use serde::Deserialize;
use serde_json::value::RawValue;

/// An eventually consistent GetItem the item cache may answer.
pub struct GetItem<'a> {
    pub table: Cow<'a, str>,
    /// The key's JSON text as the client sent it (what insights count).
    pub key_text: &'a str,
    /// The key in canonical JSON, the item cache's form.
    pub key: Bytes,
    pub projection: Option<Projection>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetItemMembers<'a> {
    #[serde(borrow)]
    table_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    key: Option<&'a RawValue>,
    consistent_read: Option<bool>,
    #[serde(borrow)]
    return_consumed_capacity: Option<Cow<'a, str>>,
    projection_expression: Option<String>,
    expression_attribute_names: Option<Names>,
    attributes_to_get: Option<Vec<String>>,
}

/// The GetItem in `body`, if the item cache may answer it.
pub fn get_item(body: &Bytes) -> Option<GetItem<'_>> {
    if let Some(read) = plain_get_item(body) {
        return Some(read);
    }
    let m: GetItemMembers<'_> = serde_json::from_slice(body).ok()?;
    if m.consistent_read == Some(true) || !asks_no_capacity(m.return_consumed_capacity.as_deref()) {
        return None;
    }
    let key_text = m.key?.get();
    let key = canonical_key(body, key_text)?;
    let projection = ferrodyn_store::ops::read_projection(
        m.projection_expression.as_deref(),
        m.attributes_to_get.as_deref(),
        m.expression_attribute_names.as_ref(),
    )
    .ok()?;
    Some(GetItem {
        table: m.table_name?,
        key_text,
        key,
        projection,
    })
}

/// Whether `rcc`, a request's ReturnConsumedCapacity as sent, asks for no
/// capacity figures (an answer from the cache has none).
pub fn asks_no_capacity(rcc: Option<&str>) -> bool {
    ReturnConsumedCapacity::requested(rcc) == Some(ReturnConsumedCapacity::None)
}

/// A GetItem written the usual way — no whitespace, no escapes, members
/// among TableName, Key (in canonical form), ConsistentRead false and
/// ReturnConsumedCapacity NONE, each at most once — read without a JSON
/// parser. `None`: anything else, which the full decode then reads.
fn plain_get_item(body: &Bytes) -> Option<GetItem<'_>> {
    let b: &[u8] = body;
    if b.first() != Some(&b'{') {
        return None;
    }
    let mut at = 1;
    let (mut table, mut key) = (None, None);
    let (mut consistent, mut capacity) = (false, false);
    loop {
        let (name, next) = plain_string(b, at)?;
        if b.get(next) != Some(&b':') {
            return None;
        }
        at = next + 1;
        match name {
            b"TableName" if table.is_none() => {
                let (t, next) = plain_string(b, at)?;
                table = Some(std::str::from_utf8(t).ok()?);
                at = next;
            }
            b"Key" if key.is_none() => {
                let end = canonical_end(b, at)?;
                key = Some(std::str::from_utf8(b.get(at..end)?).ok()?);
                at = end;
            }
            b"ConsistentRead" if !consistent && b.get(at..at + 5) == Some(b"false") => {
                consistent = true;
                at += 5;
            }
            b"ReturnConsumedCapacity" if !capacity && b.get(at..at + 6) == Some(br#""NONE""#) => {
                capacity = true;
                at += 6;
            }
            _ => return None,
        }
        match b.get(at) {
            Some(b',') => at += 1,
            Some(b'}') if at + 1 == b.len() => break,
            _ => return None,
        }
    }
    let key_text = key?;
    Some(GetItem {
        table: Cow::Borrowed(table?),
        key_text,
        key: part_of(body, key_text),
        projection: None,
    })
}

/// An eventually consistent BatchGetItem the item cache may answer.
pub struct BatchGet<'a> {
    /// By table name (the order of the answer's `Responses`).
    pub tables: Vec<BatchTable<'a>>,
}

/// One table's keys in a [`BatchGet`].
pub struct BatchTable<'a> {
    pub table: Cow<'a, str>,
    /// Each key's text as sent (what insights count) and canonical JSON.
    pub keys: Vec<(&'a str, Bytes)>,
    pub projection: Option<Projection>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchGetMembers<'a> {
    #[serde(borrow)]
    request_items: Option<BTreeMap<Cow<'a, str>, KeysMembers<'a>>>,
    #[serde(borrow)]
    return_consumed_capacity: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeysMembers<'a> {
    #[serde(borrow)]
    keys: Option<Vec<&'a RawValue>>,
    consistent_read: Option<bool>,
    projection_expression: Option<String>,
    expression_attribute_names: Option<Names>,
    attributes_to_get: Option<Vec<String>>,
}

/// Most keys one BatchGetItem may name.
const MAX_BATCH_KEYS: usize = 100;

/// The BatchGetItem in `body`, if the item cache may answer it.
pub fn batch_get_item(body: &Bytes) -> Option<BatchGet<'_>> {
    let m: BatchGetMembers<'_> = serde_json::from_slice(body).ok()?;
    if !asks_no_capacity(m.return_consumed_capacity.as_deref()) {
        return None;
    }
    let items = m.request_items?;
    let mut total = 0;
    let mut tables = Vec::with_capacity(items.len());
    for (table, t) in items {
        if t.consistent_read == Some(true) {
            return None;
        }
        let raw = t.keys?;
        total += raw.len();
        if total > MAX_BATCH_KEYS {
            return None;
        }
        let mut keys: Vec<(&str, Bytes)> = Vec::with_capacity(raw.len());
        for k in raw {
            let text = k.get();
            let key = canonical_key(body, text)?;
            // Empty and repeated keys are the upstream's error to give.
            if &key[..] == b"{}" || keys.iter().any(|(_, other)| *other == key) {
                return None;
            }
            keys.push((text, key));
        }
        let projection = ferrodyn_store::ops::read_projection(
            t.projection_expression.as_deref(),
            t.attributes_to_get.as_deref(),
            t.expression_attribute_names.as_ref(),
        )
        .ok()?;
        tables.push(BatchTable {
            table,
            keys,
            projection,
        });
    }
    if total == 0 {
        return None;
    }
    Some(BatchGet { tables })
}

/// The canonical JSON of the key whose text is `text` (a part of `body`):
/// that part of the body itself when it is already canonical, else the key
/// decoded and encoded again. `None`: not a key.
pub fn canonical_key(body: &Bytes, text: &str) -> Option<Bytes> {
    if is_canonical(text.as_bytes()) {
        return Some(part_of(body, text));
    }
    let key: Item = serde_json::from_str(text).ok()?;
    Some(Bytes::from(key_json(&key)))
}

/// `part` as a slice of `body` (no copy) when it lies in it, else a copy.
fn part_of(body: &Bytes, part: &str) -> Bytes {
    let start = (part.as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
    match body.get(start..start.wrapping_add(part.len())) {
        Some(b) if std::ptr::eq(b.as_ptr(), part.as_ptr()) => body.slice(start..start + part.len()),
        _ => Bytes::copy_from_slice(part.as_bytes()),
    }
}

/// Whether `text` is a key exactly as `serde_json` writes an [`Item`]: no
/// whitespace, attribute names strictly ascending, each value an `S` or an
/// `N` written canonically (an integer of at most 38 digits without leading
/// zeros), no escapes in any string. Anything else (other types, escapes,
/// decimals) is left to the full decode, so a `false` costs only time.
fn is_canonical(text: &[u8]) -> bool {
    canonical_end(text, 0) == Some(text.len())
}

/// Where the canonical key starting at `text[at]` ends (the index after its
/// closing brace); `None` if there is none (see [`is_canonical`]).
fn canonical_end(text: &[u8], mut at: usize) -> Option<usize> {
    if text.get(at) != Some(&b'{') {
        return None;
    }
    at += 1;
    let mut previous: Option<&[u8]> = None;
    loop {
        let (name, next) = plain_string(text, at)?;
        if previous.is_some_and(|p| p >= name) {
            return None;
        }
        previous = Some(name);
        at = next;
        let number = match text.get(at..at + 6) {
            Some(br#":{"S":"#) => false,
            Some(br#":{"N":"#) => true,
            _ => return None,
        };
        let (value, next) = plain_string(text, at + 6)?;
        if number && !canonical_integer(value) {
            return None;
        }
        at = next;
        if text.get(at) != Some(&b'}') {
            return None;
        }
        match text.get(at + 1) {
            Some(b',') => at += 2,
            Some(b'}') => return Some(at + 2),
            _ => return None,
        }
    }
}

fn canonical_integer(n: &[u8]) -> bool {
    let digits = n.strip_prefix(b"-").unwrap_or(n);
    match digits {
        [b'0'] => digits.len() == n.len(),
        [b'1'..=b'9', rest @ ..] => rest.len() < 38 && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full decode and encode, which the fast path must agree with.
    fn round_trip(text: &str) -> Option<Vec<u8>> {
        let key: Item = serde_json::from_str(text).ok()?;
        serde_json::to_vec(&key).ok()
    }

    #[test]
    fn keys_used_as_sent_are_exactly_the_canonical_ones() {
        let samples = [
            r#"{"pk":{"S":"a"}}"#,
            r#"{"pk":{"S":"a"},"sk":{"N":"42"}}"#,
            r#"{"sk":{"N":"42"},"pk":{"S":"a"}}"#,
            r#"{"pk":{"S":"a"}, "sk":{"N":"1"}}"#,
            r#"{"pk":{"S":"a\"b"}}"#,
            r#"{"pk":{"S":"a\u0062"}}"#,
            r#"{"pk":{"S":"é ü"}}"#,
            r#"{"pk":{"S":""}}"#,
            r#"{"pk":{"N":"0"}}"#,
            r#"{"pk":{"N":"-0"}}"#,
            r#"{"pk":{"N":"-7"}}"#,
            r#"{"pk":{"N":"007"}}"#,
            r#"{"pk":{"N":"1.50"}}"#,
            r#"{"pk":{"N":"1.5"}}"#,
            r#"{"pk":{"N":"1e3"}}"#,
            r#"{"pk":{"N":"12345678901234567890123456789012345678"}}"#,
            r#"{"pk":{"N":"123456789012345678901234567890123456789"}}"#,
            r#"{"pk":{"N":"100000000000000000000000000000000000000"}}"#,
            r#"{"pk":{"B":"YQ=="}}"#,
            r#"{"a":{"S":"x"},"a":{"S":"y"}}"#,
            r#"{"pk":{"S":"a","N":"1"}}"#,
            r#"{}"#,
            r#"{"pk":{"S":"a"}}x"#,
        ];
        for text in samples {
            let fast = is_canonical(text.as_bytes());
            let canonical = round_trip(text).is_some_and(|c| c == text.as_bytes());
            // Used as sent only if that is what decoding would give; the
            // common forms are recognised.
            assert!(!fast || canonical, "{text} is not canonical");
            let body = Bytes::copy_from_slice(text.as_bytes());
            let full = round_trip(text).map(Bytes::from);
            let text = std::str::from_utf8(&body).expect("utf-8");
            assert_eq!(canonical_key(&body, text), full, "{text}");
        }
        for common in [
            r#"{"pk":{"S":"user#123"},"sk":{"N":"7"}}"#,
            r#"{"id":{"S":"p3f2a9c0d1e4b5a6"}}"#,
        ] {
            assert!(is_canonical(common.as_bytes()), "{common}");
        }
    }

    #[test]
    fn plain_requests_read_as_the_full_decode_reads_them() {
        let samples = [
            r#"{"TableName":"t","Key":{"pk":{"S":"a"},"sk":{"N":"1"}}}"#,
            r#"{"Key":{"pk":{"S":"a"}},"TableName":"t","ConsistentRead":false}"#,
            r#"{"ConsistentRead":false,"Key":{"pk":{"S":"a"}},"TableName":"tbl","ReturnConsumedCapacity":"NONE"}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}},"ConsistentRead":true}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}},"ReturnConsumedCapacity":"TOTAL"}"#,
            r#"{"TableName":"t","TableName":"u","Key":{"pk":{"S":"a"}}}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}},"Key":{"pk":{"S":"b"}}}"#,
            r#"{"TableName":"t","Key":{"sk":{"N":"1"},"pk":{"S":"a"}}}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}}, "ConsistentRead":false}"#,
            r#"{"TableName":"t1","Key":{"pk":{"S":"a"}}}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}},"ProjectionExpression":"a"}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}},"Other":1}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}}}  "#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}}}x"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}},}"#,
            r#"{"TableName":"t"}"#,
            r#"{"TableName":1,"Key":{"pk":{"S":"a"}}}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}}"#,
        ];
        for text in samples {
            let body = Bytes::copy_from_slice(text.as_bytes());
            let Some(plain) = plain_get_item(&body) else {
                continue;
            };
            // Accepted without a parser only if the full decode agrees.
            let m: GetItemMembers<'_> = serde_json::from_slice(&body).expect(text);
            assert_ne!(m.consistent_read, Some(true), "{text}");
            assert!(matches!(
                m.return_consumed_capacity.as_deref(),
                None | Some("NONE")
            ));
            assert!(m.projection_expression.is_none() && m.attributes_to_get.is_none());
            assert_eq!(m.table_name.as_deref(), Some(&*plain.table), "{text}");
            let key = m.key.expect(text).get();
            assert_eq!(plain.key_text, key, "{text}");
            assert_eq!(canonical_key(&body, key), Some(plain.key.clone()), "{text}");
        }
        for usual in [samples[0], samples[1], samples[2]] {
            assert!(plain_get_item(&Bytes::from(usual)).is_some(), "{usual}");
        }
    }

    #[test]
    fn only_cacheable_reads_are_accepted() {
        let get = |json: &str| get_item(&Bytes::copy_from_slice(json.as_bytes())).is_some();
        assert!(get(
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}},"ConsistentRead":false}"#
        ));
        assert!(get(
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}},"ProjectionExpression":"a, b"}"#
        ));
        assert!(!get(
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}},"ConsistentRead":true}"#
        ));
        assert!(!get(
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}},"ReturnConsumedCapacity":"TOTAL"}"#
        ));
        assert!(!get(
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}},"ConsistentRead":"yes"}"#
        ));
        assert!(!get(r#"{"TableName":"t","Key":{"pk":{"X":"a"}}}"#));
        assert!(!get(r#"{"TableName":"t"}"#));
        assert!(!get(r#"{"Key":{"pk":{"S":"a"}}}"#));
        assert!(!get(
            r##"{"TableName":"t","Key":{"pk":{"S":"a"}},"ProjectionExpression":"#x"}"##
        ));
        assert!(!get("not json"));
    }

    #[test]
    fn batches_are_accepted_as_the_item_cache_layer_plans_them() {
        let batch = |json: &str| batch_get_item(&Bytes::copy_from_slice(json.as_bytes())).is_some();
        let body = Bytes::from_static(
            br#"{"RequestItems":{"u":{"Keys":[{"pk":{"S":"a"}},{"pk":{"S":"b"}}]},"t":{"Keys":[{"k":{"N":"1.0"}}],"ProjectionExpression":"x"}}}"#,
        );
        let read = batch_get_item(&body).expect("cacheable");
        let tables: Vec<&str> = read.tables.iter().map(|t| &*t.table).collect();
        assert_eq!(tables, ["t", "u"]);
        assert_eq!(&read.tables[0].keys[0].1[..], br#"{"k":{"N":"1"}}"#);
        assert!(read.tables[0].projection.is_some());
        assert_eq!(read.tables[1].keys.len(), 2);
        for refused in [
            r#"{"RequestItems":{"t":{"Keys":[{"pk":{"S":"a"}}],"ConsistentRead":true}}}"#,
            r#"{"RequestItems":{"t":{"Keys":[{"pk":{"S":"a"}}]}},"ReturnConsumedCapacity":"TOTAL"}"#,
            r#"{"RequestItems":{"t":{"Keys":[{"pk":{"S":"a"}},{"pk":{"S":"a"}}]}}}"#,
            r#"{"RequestItems":{"t":{"Keys":[{}]}}}"#,
            r#"{"RequestItems":{"t":{"Keys":[]}}}"#,
            r#"{"RequestItems":{}}"#,
            r#"{"RequestItems":{"t":{}}}"#,
        ] {
            assert!(!batch(refused), "{refused}");
        }
        let many: Vec<String> = (0..101)
            .map(|i| format!(r#"{{"pk":{{"N":"{i}"}}}}"#))
            .collect();
        let body = format!(
            r#"{{"RequestItems":{{"t":{{"Keys":[{}]}}}}}}"#,
            many.join(",")
        );
        assert!(!batch(&body));
    }

    #[test]
    fn a_canonical_key_is_a_slice_of_the_body() {
        let body = Bytes::from_static(br#"{"TableName":"t","Key":{"pk":{"S":"a"}}}"#);
        let read = get_item(&body).expect("cacheable");
        assert_eq!(&read.key[..], br#"{"pk":{"S":"a"}}"#);
        assert_eq!(read.key_text, r#"{"pk":{"S":"a"}}"#);
        assert!(body.as_ptr_range().contains(&read.key.as_ptr()));
    }
}
