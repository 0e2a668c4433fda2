//! One line of an export or import file: DynamoDB JSON `{"Item":{...}}`,
//! an incremental export's change line, and CSV records.
//!
//! Pure functions, unit-tested here; the jobs do the I/O.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::model::key::ScalarType;
use crate::model::number::Number;
use crate::model::value::{AttributeValue, Item};

/// A full export's line, and what a DYNAMODB_JSON import reads.
#[derive(Serialize, Deserialize)]
pub(super) struct ItemLine {
    #[serde(rename = "Item")]
    pub item: Item,
}

/// `{"N": "..."}` inside an incremental line's metadata.
#[derive(Serialize)]
pub(super) struct NumberValue {
    #[serde(rename = "N")]
    pub n: String,
}

#[derive(Serialize)]
pub(super) struct ChangeMetadata {
    #[serde(rename = "WriteTimestampMicros")]
    pub write_timestamp_micros: NumberValue,
}

/// An incremental export's line: the item's keys, its image before the
/// window (NEW_AND_OLD_IMAGES) and after it (absent when deleted).
#[derive(Serialize)]
pub(super) struct ChangeLine<'a> {
    #[serde(rename = "Metadata")]
    pub metadata: ChangeMetadata,
    #[serde(rename = "Keys")]
    pub keys: &'a Item,
    #[serde(rename = "NewImage", skip_serializing_if = "Option::is_none")]
    pub new_image: Option<&'a Item>,
    #[serde(rename = "OldImage", skip_serializing_if = "Option::is_none")]
    pub old_image: Option<&'a Item>,
}

/// Encode a full export's line, newline included.
pub(super) fn item_line(item: &Item, out: &mut Vec<u8>) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"Item\":");
    serde_json::to_writer(&mut *out, item)?;
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// Parse a DYNAMODB_JSON line into its item.
pub(super) fn parse_item_line(line: &str) -> Result<Item, String> {
    match serde_json::from_str::<ItemLine>(line) {
        Ok(l) => Ok(l.item),
        Err(e) => {
            let text = e.to_string();
            let text = text
                .strip_prefix(crate::model::wire::VALIDATION_TAG)
                .map(str::to_owned)
                .unwrap_or(text);
            Err(format!("Unable to parse the item: {text}"))
        }
    }
}

/// How CSV lines become items.
pub(super) struct CsvShape {
    pub delimiter: char,
    /// Column names; `None` until the header line was read.
    pub header: Option<Vec<String>>,
    /// Types of the key attributes of the table and its indexes.
    pub key_types: HashMap<String, ScalarType>,
}

impl CsvShape {
    /// Turn one CSV line into an item: key attributes get their defined
    /// type, every other non-empty column is a string.
    pub(super) fn item(&self, line: &str) -> Result<Item, String> {
        let header = self.header.as_deref().unwrap_or_default();
        let fields = split_csv(line, self.delimiter)?;
        if fields.len() != header.len() {
            return Err(format!(
                "The line has {} columns, the header {}",
                fields.len(),
                header.len()
            ));
        }
        let mut item = Item::new();
        for (name, field) in header.iter().zip(fields) {
            let value = match self.key_types.get(name) {
                Some(ScalarType::N) => match Number::parse(&field) {
                    Ok(n) => AttributeValue::N(n),
                    Err(_) => {
                        return Err(format!(
                            "One or more parameter values were invalid: Type mismatch for key {name}: '{field}' is not a number"
                        ))
                    }
                },
                Some(ScalarType::B) => {
                    use base64::Engine as _;
                    match base64::engine::general_purpose::STANDARD.decode(field.as_bytes()) {
                        Ok(b) => AttributeValue::B(b.into()),
                        Err(_) => {
                            return Err(format!(
                                "One or more parameter values were invalid: Type mismatch for key {name}: '{field}' is not base64"
                            ))
                        }
                    }
                }
                Some(ScalarType::S) | None => {
                    if field.is_empty() {
                        continue;
                    }
                    AttributeValue::S(field)
                }
            };
            item.insert(name.clone(), value);
        }
        Ok(item)
    }
}

/// Split one CSV line into fields (RFC 4180 quoting: a field in double
/// quotes may hold the delimiter, and `""` stands for one quote).
pub(super) fn split_csv(line: &str, delimiter: char) -> Result<Vec<String>, String> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("A quoted field is not closed".to_owned()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(c) if c == delimiter => fields.push(field),
                Some(_) => return Err("Unexpected text after a quoted field".to_owned()),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(c) if c == delimiter => break,
                    Some('"') => return Err("A quote inside an unquoted field".to_owned()),
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_split_with_quotes_and_escaped_quotes() {
        assert_eq!(
            split_csv("a,b,c", ',').expect("test value"),
            ["a", "b", "c"]
        );
        assert_eq!(
            split_csv("\"a,b\",\"say \"\"hi\"\"\",", ',').expect("test value"),
            ["a,b", "say \"hi\"", ""]
        );
        assert_eq!(split_csv("x|y\r", '|').expect("test value"), ["x", "y"]);
        assert!(split_csv("\"open", ',').is_err());
        assert!(split_csv("a\"b", ',').is_err());
    }

    #[test]
    fn csv_key_columns_take_their_defined_type_and_others_are_strings() {
        let shape = CsvShape {
            delimiter: ',',
            header: Some(vec!["pk".into(), "n".into(), "note".into()]),
            key_types: [("pk".to_owned(), ScalarType::N)].into(),
        };
        let item = shape.item("7,42,").expect("test value");
        assert_eq!(
            item["pk"],
            AttributeValue::N(Number::parse("7").expect("test value"))
        );
        assert_eq!(item["n"], AttributeValue::S("42".into()));
        assert!(!item.contains_key("note"));
        assert!(shape.item("x,1,2").is_err());
        assert!(shape.item("1,2").is_err());
    }

    #[test]
    fn item_lines_round_trip() {
        let mut item = Item::new();
        item.insert("p".into(), AttributeValue::S("a\"b".into()));
        item.insert(
            "n".into(),
            AttributeValue::N(Number::parse("1.5").expect("test value")),
        );
        let mut out = Vec::new();
        item_line(&item, &mut out).expect("test value");
        let text = String::from_utf8(out).expect("test value");
        assert!(text.ends_with('\n'));
        assert_eq!(parse_item_line(text.trim_end()).expect("test value"), item);
        assert!(parse_item_line("{\"Item\":{\"p\":{\"X\":1}}}").is_err());
    }
}
