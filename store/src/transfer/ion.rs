//! The Amazon Ion shape of export and import files (ExportFormat and
//! InputFormat ION), through Amazon's `ion-rs`.
//!
//! A data file is Ion text: the version marker `$ion_1_0`, then one
//! top-level struct per line — `{Item:{...}}` for a full export and an
//! import, `{Metadata:{...},Keys:{...},NewImage:{...},OldImage:{...}}` for
//! an incremental export — in ion-rs's compact text (`{Item: {pk: "a"}}`:
//! a space after each colon and comma, strings escaped onto one line).
//! Values map as DynamoDB maps them:
//!
//! | DynamoDB | Ion |
//! | --- | --- |
//! | S, N, B, BOOL, NULL | string, decimal, blob, bool, `null` |
//! | L, M | list, struct |
//! | SS, NS, BS | lists annotated `$dynamodb_SS`, `$dynamodb_NS`, `$dynamodb_BS` |
//!
//! Numbers stay exact both ways: a [`Number`]'s canonical text becomes a
//! decimal's coefficient and exponent (38 digits fit an `i128`), and a
//! decimal read back is parsed by [`Number::parse`] from its coefficient and
//! exponent, so the store's limits apply unchanged. Reading is lenient
//! where nothing is lost: an Ion int is a number too. Floats, symbols,
//! timestamps and the like have no DynamoDB type and make the value an
//! error. Imports also take binary Ion (an object opening with the binary
//! version marker), read a value at a time. No object I/O here: the jobs
//! hand in lines, or a reader for binary Ion.

use std::collections::HashSet;
use std::io::Write;

use bytes::Bytes;
use ion_rs::{Decimal, Element, IonType, List, Sequence, Struct, Value};

use crate::model::number::Number;
use crate::model::value::{AttributeValue, Item};

/// What every ION data file starts with.
pub(super) const VERSION_MARKER: &[u8] = b"$ion_1_0\n";

const SS: &str = "$dynamodb_SS";
const NS: &str = "$dynamodb_NS";
const BS: &str = "$dynamodb_BS";

/// Encode a full export's line, newline included.
pub(super) fn item_line(item: &Item, out: &mut Vec<u8>) -> std::io::Result<()> {
    let line = Struct::from_iter([("Item", item_struct(item))]);
    writeln!(out, "{}", Element::from(line))
}

/// Encode an incremental export's line (the counterpart of
/// `lines::ChangeLine`), newline included.
pub(super) fn change_line(
    time_micros: u64,
    keys: &Item,
    new_image: Option<&Item>,
    old_image: Option<&Item>,
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    let metadata = Struct::from_iter([(
        "WriteTimestampMicros",
        Element::from(Decimal::from(time_micros)),
    )]);
    let mut fields = vec![
        ("Metadata", Element::from(metadata)),
        ("Keys", item_struct(keys)),
    ];
    if let Some(new) = new_image {
        fields.push(("NewImage", item_struct(new)));
    }
    if let Some(old) = old_image {
        fields.push(("OldImage", item_struct(old)));
    }
    writeln!(out, "{}", Element::from(Struct::from_iter(fields)))
}

fn item_struct(item: &Item) -> Element {
    Element::from(Struct::from_iter(
        item.iter()
            .map(|(name, value)| (name.as_str(), element(value))),
    ))
}

fn element(value: &AttributeValue) -> Element {
    match value {
        AttributeValue::S(s) => Element::string(s.as_str()),
        AttributeValue::N(n) => Element::from(decimal(n)),
        AttributeValue::B(b) => Element::blob(b),
        AttributeValue::Bool(b) => Element::boolean(*b),
        AttributeValue::Null => Element::null(IonType::Null),
        AttributeValue::M(m) => item_struct(m),
        AttributeValue::L(l) => Element::from(List::from_iter(l.iter().map(element))),
        AttributeValue::Ss(v) => {
            let members = v.iter().map(|s| Element::string(s.as_str()));
            Element::from(List::from_iter(members)).with_annotations([SS])
        }
        AttributeValue::Ns(v) => {
            let members = v.iter().map(|n| Element::from(decimal(n)));
            Element::from(List::from_iter(members)).with_annotations([NS])
        }
        AttributeValue::Bs(v) => {
            let members = v.iter().map(Element::blob);
            Element::from(List::from_iter(members)).with_annotations([BS])
        }
    }
}

/// The exact decimal of a number, from its canonical text (plain
/// positional notation, at most 38 significant digits).
fn decimal(n: &Number) -> Decimal {
    let text = n.to_string();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (int_part, frac_part) = text.split_once('.').unwrap_or((text, ""));
    let mut digits = format!("{int_part}{frac_part}");
    let mut exponent = -(frac_part.len() as i64);
    // Integers carry their trailing zeros as an exponent, so the
    // coefficient keeps to the significant digits.
    while frac_part.is_empty() && digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
        exponent += 1;
    }
    // At most 38 significant digits: always within an i128.
    let magnitude = digits.parse::<i128>().unwrap_or(0);
    Decimal::new(if negative { -magnitude } else { magnitude }, exponent)
}

/// Parse the Ion text of one or more whole top-level values (a line of a
/// data file, or the lines of a value that [`Depth`] saw run over them).
/// The version marker and blank text give no values. `Err` is the text's
/// syntax error; each value is then its item or the reason it is not one.
pub(super) fn parse_values(text: &str) -> Result<Vec<Result<Item, String>>, String> {
    match Element::read_all(text.as_bytes()) {
        Ok(values) => Ok(values.iter().map(item_of_value).collect()),
        Err(e) => Err(format!("Unable to parse the item: {e}")),
    }
}

/// The binary Ion version marker that opens a binary stream.
const BINARY_MARKER: [u8; 4] = [0xE0, 0x01, 0x00, 0xEA];

/// Whether an object starting with `head` is binary Ion.
pub(super) fn is_binary(head: &[u8]) -> bool {
    head.starts_with(&BINARY_MARKER)
}

/// The items of a binary Ion stream, read a value at a time. Each is `Ok`
/// with the item or the reason it is not one, or `Err` with a read or
/// syntax failure, after which nothing more can be read (binary Ion has no
/// lines to resume at).
pub(super) fn binary_items<R: std::io::Read + 'static>(
    input: std::io::BufReader<R>,
) -> Result<impl Iterator<Item = Result<Result<Item, String>, String>>, String> {
    let values = Element::iter(input).map_err(|e| e.to_string())?;
    Ok(values.map(|value| match value {
        Ok(v) => Ok(item_of_value(&v)),
        Err(e) => Err(e.to_string()),
    }))
}

/// The values of `text` if it is, by itself, one or more whole
/// `{Item:...}` structs: a line like that starts afresh, so Ion text still
/// open before it was a malformed value (an unclosed struct), not the
/// beginning of a longer one.
pub(super) fn items_alone(text: &str) -> Option<Vec<Result<Item, String>>> {
    let mut depth = Depth::default();
    depth.feed(text);
    if depth.open != 0 || depth.inside_value() {
        return None;
    }
    let values = Element::read_all(text.as_bytes()).ok()?;
    let items = !values.is_empty()
        && values
            .iter()
            .all(|v| v.as_struct().is_some_and(|s| s.get("Item").is_some()));
    items.then(|| values.iter().map(item_of_value).collect())
}

/// Whether Ion text fed a line at a time ends inside a value: an open
/// struct, list, s-expression or lob, a long string or a block comment.
/// Only these may go on past a line; anything else malformed is left to the
/// parser to report. Constant memory, each line scanned once.
#[derive(Debug, Default)]
pub(super) struct Depth {
    open: i64,
    long_string: bool,
    block_comment: bool,
}

impl Depth {
    pub(super) fn feed(&mut self, line: &str) {
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let rest = &bytes[i..];
            if self.block_comment {
                if rest.starts_with(b"*/") {
                    self.block_comment = false;
                    i += 2;
                } else {
                    i += 1;
                }
                continue;
            }
            if self.long_string {
                match rest {
                    [b'\\', _, ..] => i += 2,
                    [b'\'', b'\'', b'\'', ..] => {
                        self.long_string = false;
                        i += 3;
                    }
                    _ => i += 1,
                }
                continue;
            }
            match rest {
                [b'\'', b'\'', b'\'', ..] => {
                    self.long_string = true;
                    i += 3;
                }
                [b'/', b'*', ..] => {
                    self.block_comment = true;
                    i += 2;
                }
                // A line comment ends the line.
                [b'/', b'/', ..] => return,
                [quote @ (b'"' | b'\''), ..] => {
                    // Short strings and quoted symbols end on their line.
                    let quote = *quote;
                    i += 1;
                    while i < bytes.len() && bytes[i] != quote {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
                [b'{' | b'[' | b'(', ..] => {
                    self.open += 1;
                    i += 1;
                }
                [b'}' | b']' | b')', ..] => {
                    self.open -= 1;
                    i += 1;
                }
                _ => i += 1,
            }
        }
    }

    /// True while the text fed so far ends inside a value.
    pub(super) fn inside_value(&self) -> bool {
        self.open > 0 || self.long_string || self.block_comment
    }
}

fn item_of_value(value: &Element) -> Result<Item, String> {
    let top = value.as_struct().ok_or_else(|| {
        format!(
            "Expected a struct {{Item:{{...}}}}, found {}",
            value.ion_type()
        )
    })?;
    let item = top
        .get("Item")
        .ok_or_else(|| "The struct has no field Item".to_owned())?;
    let fields = item
        .as_struct()
        .ok_or_else(|| format!("Item must be a struct, found {}", item.ion_type()))?;
    item_of_struct(fields)
}

fn item_of_struct(fields: &Struct) -> Result<Item, String> {
    let mut item = Item::new();
    for (name, value) in fields.fields() {
        let name = name
            .text()
            .ok_or_else(|| "An attribute name has no text".to_owned())?;
        item.insert(name.to_owned(), attribute(value)?);
    }
    Ok(item)
}

fn attribute(value: &Element) -> Result<AttributeValue, String> {
    let annotations = value.annotations();
    if let Some(annotation) = annotations.first() {
        let list = value
            .as_list()
            .ok_or_else(|| format!("{annotation} must annotate a list"))?;
        return set(annotation, list);
    }
    Ok(match value.value() {
        Value::Null(IonType::Null) => AttributeValue::Null,
        Value::String(s) => AttributeValue::S(s.text().to_owned()),
        Value::Decimal(_) | Value::Int(_) => AttributeValue::N(number(value)?),
        Value::Blob(b) => AttributeValue::B(Bytes::copy_from_slice(b.as_ref())),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::List(l) => AttributeValue::L(l.iter().map(attribute).collect::<Result<_, _>>()?),
        Value::Struct(s) => AttributeValue::M(item_of_struct(s)?),
        other => return Err(format!("An Ion {} has no DynamoDB type", other.ion_type())),
    })
}

fn set(annotation: &str, list: &Sequence) -> Result<AttributeValue, String> {
    if list.is_empty() {
        return Err(format!("{annotation}: a set may not be empty"));
    }
    let value = match annotation {
        SS => AttributeValue::Ss(
            list.iter()
                .map(|e| {
                    e.as_string()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{SS} holds a {}", e.ion_type()))
                })
                .collect::<Result<_, _>>()?,
        ),
        NS => AttributeValue::Ns(list.iter().map(number).collect::<Result<_, _>>()?),
        BS => AttributeValue::Bs(
            list.iter()
                .map(|e| {
                    e.as_blob()
                        .map(Bytes::copy_from_slice)
                        .ok_or_else(|| format!("{BS} holds a {}", e.ion_type()))
                })
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(format!("Unknown annotation {other}")),
    };
    let unique = match &value {
        AttributeValue::Ss(v) => v.iter().collect::<HashSet<_>>().len() == v.len(),
        AttributeValue::Ns(v) => v.iter().collect::<HashSet<_>>().len() == v.len(),
        AttributeValue::Bs(v) => v.iter().collect::<HashSet<_>>().len() == v.len(),
        _ => true,
    };
    if !unique {
        return Err(format!("{annotation}: the set contains duplicates"));
    }
    Ok(value)
}

/// A DynamoDB number from an Ion decimal or int, exactly.
fn number(value: &Element) -> Result<Number, String> {
    let text = match value.value() {
        Value::Int(i) => i.to_string(),
        Value::Decimal(d) if d.is_zero() => "0".to_owned(),
        Value::Decimal(d) => {
            let coefficient = ion_rs::Int::try_from(d.coefficient()).map_err(|e| e.to_string())?;
            format!("{coefficient}e{}", d.exponent())
        }
        other => return Err(format!("Expected a decimal, found {}", other.ion_type())),
    };
    Number::parse(&text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).expect("test number")
    }

    fn every_type() -> Item {
        let mut nested = Item::new();
        nested.insert("deep".into(), AttributeValue::L(vec![AttributeValue::Null]));
        let mut item = Item::new();
        item.insert("s".into(), AttributeValue::S("a \"quoted\"\nline".into()));
        item.insert(
            "n".into(),
            AttributeValue::N(n("-12345678901234567890123456789012345678")),
        );
        item.insert("big".into(), AttributeValue::N(n("1e125")));
        item.insert("tiny".into(), AttributeValue::N(n("-1.5e-120")));
        item.insert("zero".into(), AttributeValue::N(n("0")));
        item.insert(
            "b".into(),
            AttributeValue::B(Bytes::from_static(&[0, 255, 7])),
        );
        item.insert("t".into(), AttributeValue::Bool(true));
        item.insert("z".into(), AttributeValue::Null);
        for tricky in ["null", "true", "nan", "$ion_1_0", "$1", "a'b", "é"] {
            item.insert(tricky.into(), AttributeValue::S(tricky.into()));
        }
        item.insert("odd name".into(), AttributeValue::M(nested));
        item.insert(
            "ss".into(),
            AttributeValue::Ss(vec!["x".into(), "y".into()]),
        );
        item.insert("ns".into(), AttributeValue::Ns(vec![n("1"), n("0.25")]));
        item.insert(
            "bs".into(),
            AttributeValue::Bs(vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]),
        );
        item
    }

    #[test]
    fn items_round_trip_exactly() {
        let item = every_type();
        let mut out = VERSION_MARKER.to_vec();
        item_line(&item, &mut out).expect("test value");
        let text = String::from_utf8(out).expect("test value");
        let (marker, line) = text.split_once('\n').expect("test value");
        assert_eq!(marker, "$ion_1_0");
        let value = Element::read_one(line.as_bytes()).expect("test value");
        let fields = value
            .as_struct()
            .and_then(|v| v.get("Item"))
            .and_then(Element::as_struct)
            .expect("test value");
        let ss = fields.get("ss").expect("test value");
        assert_eq!(ss.annotations().first(), Some(SS));
        let mut items = Vec::new();
        for line in text.lines() {
            items.extend(parse_values(line).expect("test value"));
        }
        assert_eq!(items, [Ok(item)]);
    }

    #[test]
    fn change_lines_hold_keys_and_images() {
        let keys: Item = [("pk".to_owned(), AttributeValue::S("a".into()))].into();
        let mut out = Vec::new();
        change_line(
            1_700_000_000_000_000,
            &keys,
            Some(&every_type()),
            None,
            &mut out,
        )
        .expect("test value");
        let value = Element::read_one(&out).expect("test value");
        let fields = value.as_struct().expect("test value");
        assert!(fields.get("Keys").is_some());
        assert!(fields.get("NewImage").is_some());
        assert!(fields.get("OldImage").is_none());
    }

    #[test]
    fn ints_are_numbers_and_other_types_are_errors() {
        let parsed = parse_values("{Item:{a:5, b:\"x\"}}").expect("test value");
        assert_eq!(
            parsed[0].as_ref().expect("test value")["a"],
            AttributeValue::N(n("5"))
        );
        for bad in [
            "{Item:{a:1e0}}",
            "{Item:{a:sym}}",
            "{Item:{a:$dynamodb_SS::[]}}",
            "{Item:{a:$dynamodb_SS::[\"x\",\"x\"]}}",
            "{Item:{a:$dynamodb_NS::[\"x\"]}}",
            "{Item:{a:1.0d200}}",
            "{Other:{}}",
            "[1]",
        ] {
            let parsed = parse_values(bad).expect("test value");
            assert!(parsed[0].is_err(), "{bad}");
        }
        assert!(parse_values("$ion_1_0").expect("test value").is_empty());
        assert!(parse_values("{Item:{pk:\"b\",oops:}").is_err());
        assert!(parse_values("{Item:}}}").is_err());
    }

    #[test]
    fn depth_tells_a_value_running_over_lines() {
        let inside = |lines: &[&str]| {
            let mut depth = Depth::default();
            for line in lines {
                depth.feed(line);
            }
            depth.inside_value()
        };
        assert!(!inside(&["$ion_1_0", "{Item:{a:1}} {Item:{b:[]}}"]));
        assert!(inside(&["{Item:{a:"]));
        assert!(inside(&["{Item:{a:[1,", "2]"]));
        assert!(!inside(&["{Item:{a:[1,", "2]}}"]));
        assert!(!inside(&[r#"{Item:{s:"}{[\"", 'q}': {{aGk=}}}}"#]));
        assert!(inside(&["{Item:{s:'''a}", "b"]));
        assert!(!inside(&["{Item:{s:'''a}", "b'''}}"]));
        assert!(inside(&["{Item:{a:1 /* }}", "still"]));
        assert!(!inside(&["{Item:{a:1 // }}", "}}"]));
        assert!(inside(&[r#"{Item:{pk:"b",oops:}"#]));
        assert!(items_alone(r#"{Item:{pk:"b",oops:}"#).is_none());
        assert!(items_alone("{a:1}").is_none());
        assert!(items_alone(r#"  "x""#).is_none());
        assert_eq!(
            items_alone("{Item:{}} {Item:{a:1e0}}").map(|v| v.len()),
            Some(2)
        );
    }
}
