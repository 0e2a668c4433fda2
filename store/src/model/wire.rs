//! DynamoDB JSON for `AttributeValue`: `{"S": "..."}`, `{"N": "1"}`, ...
//!
//! Decoding validates everything that does not depend on a table schema
//! (exactly one type per value, numbers, base64, non-empty sets without
//! duplicates, `NULL: true`). serde can only report a string, so schema-free
//! *validation* failures (which DynamoDB reports as ValidationException, not
//! SerializationException) are tagged with [`VALIDATION_TAG`]; the api layer
//! turns a tagged message back into a ValidationException. Besides that
//! reader, only [`expression_values`] looks at the tag, to reword the message
//! with the placeholder of the offending value.

use std::fmt;

use base64::Engine as _;
use bytes::Bytes;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::number::Number;
use super::value::{AttributeValue, Item};

/// Prefix of a serde error message that is really a ValidationException.
pub const VALIDATION_TAG: &str = "\u{1}validation\u{1}";

fn validation<E: de::Error>(message: impl fmt::Display) -> E {
    E::custom(format_args!("{VALIDATION_TAG}{message}"))
}

const INVALID: &str = "One or more parameter values were invalid: ";

fn decode_base64<E: de::Error>(s: &str) -> Result<Bytes, E> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map(Bytes::from)
        .map_err(|_| E::custom(format_args!("Base64 encoded value is invalid: {s}")))
}

fn parse_number<E: de::Error>(s: &str) -> Result<Number, E> {
    Number::parse(s).map_err(validation)
}

/// DynamoDB's message for a set with repeated members.
fn duplicates<E: de::Error, T: fmt::Display>(members: &[T]) -> E {
    let list: Vec<String> = members.iter().map(|m| m.to_string()).collect();
    validation(format_args!(
        "{INVALID}Input collection [{}] contains duplicates.",
        list.join(", ")
    ))
}

fn check_unique_strings<E: de::Error>(v: &[String]) -> Result<(), E> {
    let mut seen = std::collections::HashSet::with_capacity(v.len());
    if v.iter().all(|s| seen.insert(s.as_str())) {
        Ok(())
    } else {
        Err(duplicates(v))
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = AttributeValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AttributeValue object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AttributeValue, A::Error> {
        let mut found: Option<AttributeValue> = None;
        let mut count = 0usize;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let value = match key.as_ref() {
                "S" => map.next_value::<Option<String>>()?.map(AttributeValue::S),
                "N" => match map.next_value::<Option<std::borrow::Cow<'de, str>>>()? {
                    Some(s) => Some(AttributeValue::N(parse_number(&s)?)),
                    None => None,
                },
                "B" => match map.next_value::<Option<std::borrow::Cow<'de, str>>>()? {
                    Some(s) => Some(AttributeValue::B(decode_base64(&s)?)),
                    None => None,
                },
                "BOOL" => map.next_value::<Option<bool>>()?.map(AttributeValue::Bool),
                "NULL" => match map.next_value::<Option<bool>>()? {
                    Some(true) => Some(AttributeValue::Null),
                    Some(false) => {
                        return Err(validation(format_args!(
                            "{INVALID}Null attribute value types must have the value of true"
                        )))
                    }
                    None => None,
                },
                "M" => map.next_value::<Option<Item>>()?.map(AttributeValue::M),
                "L" => map
                    .next_value::<Option<Vec<AttributeValue>>>()?
                    .map(AttributeValue::L),
                "SS" => match map.next_value::<Option<Vec<String>>>()? {
                    Some(v) => {
                        if v.is_empty() {
                            return Err(validation(format_args!(
                                "{INVALID}An string set  may not be empty"
                            )));
                        }
                        check_unique_strings(&v)?;
                        Some(AttributeValue::Ss(v))
                    }
                    None => None,
                },
                "NS" => match map.next_value::<Option<Vec<std::borrow::Cow<'de, str>>>>()? {
                    Some(v) => {
                        if v.is_empty() {
                            return Err(validation(format_args!(
                                "{INVALID}An number set  may not be empty"
                            )));
                        }
                        let nums = v
                            .iter()
                            .map(|s| parse_number(s))
                            .collect::<Result<Vec<_>, _>>()?;
                        let mut seen = std::collections::HashSet::with_capacity(nums.len());
                        if !nums.iter().all(|n| seen.insert(n)) {
                            return Err(duplicates(&v));
                        }
                        Some(AttributeValue::Ns(nums))
                    }
                    None => None,
                },
                "BS" => match map.next_value::<Option<Vec<std::borrow::Cow<'de, str>>>>()? {
                    Some(v) => {
                        if v.is_empty() {
                            return Err(validation(format_args!(
                                "{INVALID}Binary sets should not be empty"
                            )));
                        }
                        let bins = v
                            .iter()
                            .map(|s| decode_base64(s))
                            .collect::<Result<Vec<_>, _>>()?;
                        let mut seen = std::collections::HashSet::with_capacity(bins.len());
                        if !bins.iter().all(|b| seen.insert(b)) {
                            return Err(duplicates(&v));
                        }
                        Some(AttributeValue::Bs(bins))
                    }
                    None => None,
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    None
                }
            };
            if let Some(v) = value {
                count += 1;
                found = Some(v);
            }
        }
        match (count, found) {
            (1, Some(v)) => Ok(v),
            (0, _) | (_, None) => Err(validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
            )),
            _ => Err(validation(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            )),
        }
    }
}

/// Decodes `ExpressionAttributeValues`. DynamoDB names the placeholder of an
/// invalid value (`ExpressionAttributeValues contains invalid value: <why>
/// for key :v`), where the same value inside `Item` gets the bare message;
/// use with `#[serde(default, deserialize_with = "...")]`.
pub fn expression_values<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<std::collections::HashMap<String, AttributeValue>>, D::Error> {
    Ok(Option::<ExpressionValues>::deserialize(d)?.map(|v| v.0))
}

struct ExpressionValues(std::collections::HashMap<String, AttributeValue>);

impl<'de> Deserialize<'de> for ExpressionValues {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ExpressionValuesVisitor)
    }
}

struct ExpressionValuesVisitor;

impl<'de> Visitor<'de> for ExpressionValuesVisitor {
    type Value = ExpressionValues;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of AttributeValue objects")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExpressionValues, A::Error> {
        let mut out = std::collections::HashMap::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key::<String>()? {
            let value = map
                .next_value::<AttributeValue>()
                .map_err(|e| name_placeholder(e, &key))?;
            out.insert(key, value);
        }
        Ok(ExpressionValues(out))
    }
}

/// Rewords a validation failure of the value under `key`; other errors
/// (wrong JSON types: SerializationException) pass through.
fn name_placeholder<E: de::Error>(e: E, key: &str) -> E {
    let text = e.to_string();
    let Some(start) = text.find(VALIDATION_TAG) else {
        return e;
    };
    let why = &text[start + VALIDATION_TAG.len()..];
    // The inner error may already carry serde_json's " at line L column C".
    let why = why.rfind(" at line ").map_or(why, |i| &why[..i]);
    validation(format_args!(
        "ExpressionAttributeValues contains invalid value: {why} for key {key}"
    ))
}

impl<'de> Deserialize<'de> for AttributeValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AttributeValue, D::Error> {
        d.deserialize_map(ValueVisitor)
    }
}

pub(super) struct Base64<'a>(pub(super) &'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(self.0))
    }
}

struct Display<'a, T>(&'a T);

impl<T: fmt::Display> Serialize for Display<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

impl Serialize for AttributeValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        match self {
            AttributeValue::S(v) => m.serialize_entry("S", v)?,
            AttributeValue::N(v) => m.serialize_entry("N", &Display(v))?,
            AttributeValue::B(v) => m.serialize_entry("B", &Base64(v))?,
            AttributeValue::Bool(v) => m.serialize_entry("BOOL", v)?,
            AttributeValue::Null => m.serialize_entry("NULL", &true)?,
            AttributeValue::M(v) => m.serialize_entry("M", v)?,
            AttributeValue::L(v) => m.serialize_entry("L", v)?,
            AttributeValue::Ss(v) => m.serialize_entry("SS", v)?,
            AttributeValue::Ns(v) => m.serialize_entry("NS", &Seq(v, display_number))?,
            AttributeValue::Bs(v) => m.serialize_entry("BS", &Seq(v, base64_bytes))?,
        }
        m.end()
    }
}

fn display_number(n: &Number) -> Display<'_, Number> {
    Display(n)
}

fn base64_bytes(b: &Bytes) -> Base64<'_> {
    Base64(b)
}

struct Seq<'a, T, F>(&'a [T], F);

impl<'a, T, F, R> Serialize for Seq<'a, T, F>
where
    F: Fn(&'a T) -> R,
    R: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for v in self.0 {
            seq.serialize_element(&(self.1)(v))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(json: &str) -> Result<AttributeValue, String> {
        serde_json::from_str::<AttributeValue>(json).map_err(|e| e.to_string())
    }

    #[test]
    fn round_trips_every_type() {
        for json in [
            r#"{"S":"a"}"#,
            r#"{"N":"12.5"}"#,
            r#"{"B":"AAEC"}"#,
            r#"{"BOOL":true}"#,
            r#"{"NULL":true}"#,
            r#"{"M":{"a":{"S":"x"},"b":{"L":[{"N":"1"}]}}}"#,
            r#"{"SS":["a","b"]}"#,
            r#"{"NS":["1","2"]}"#,
            r#"{"BS":["AA==","AQ=="]}"#,
        ] {
            let v = decode(json).expect(json);
            assert_eq!(serde_json::to_string(&v).expect("encode"), json);
        }
    }

    #[test]
    fn rejects_empty_and_ambiguous_values_as_validation() {
        for json in [
            r#"{}"#,
            r#"{"S":"a","N":"1"}"#,
            r#"{"SS":[]}"#,
            r#"{"NS":["1","1.0"]}"#,
        ] {
            let err = decode(json).expect_err(json);
            assert!(err.starts_with(VALIDATION_TAG), "{json}: {err}");
        }
    }

    #[test]
    fn rejects_wrong_json_types_as_serialization() {
        for json in [
            r#"{"S":1}"#,
            r#"{"N":1}"#,
            r#"{"B":"!!"}"#,
            r#"[]"#,
            r#"{"L":{}}"#,
        ] {
            let err = decode(json).expect_err(json);
            assert!(!err.starts_with(VALIDATION_TAG), "{json}: {err}");
        }
    }
}
