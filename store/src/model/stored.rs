//! An item as stored ([`super::codec`]'s format), read without building it:
//! its billing size, a few named attributes, and its DynamoDB JSON written
//! straight from the stored bytes. A Query or Scan page that returns whole
//! items answers this way, so each item costs one walk over its bytes
//! instead of a decode into maps and strings, an encode, and a drop.
//!
//! The JSON is the same, byte for byte, as serializing the decoded
//! [`Item`]: attributes come in name order (the stored order), numbers are
//! stored as their canonical text (what `Display` prints), and every string
//! goes through the same serializer.

use bytes::Bytes;
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::codec::{encode_item, tag, CodecError, Reader};
use super::json_scan;
use super::number::Number;
use super::value::Item;
use super::wire::Base64;

/// The stored bytes of one item (its attribute count first).
#[derive(Debug, Clone, Copy)]
pub struct StoredItem<'a>(pub &'a [u8]);

impl<'a> StoredItem<'a> {
    /// DynamoDB's size of the item, as [`super::value::item_size`] of the
    /// decoded item; walks (and so checks) the whole encoding.
    pub fn size(&self) -> Result<usize, CodecError> {
        let mut r = Reader::new(self.0);
        let mut size = 0;
        for _ in 0..r.count()? {
            size += r.bytes()?.len() + value_size(&mut r)?;
        }
        Ok(size)
    }

    /// A bound on [`StoredItem::size`] read off the encoding's length
    /// alone: an item's size is at most twice its stored bytes. (A value's
    /// size is at most twice its stored bytes less one: a string, number or
    /// set never counts more than it stores, a boolean or null counts its
    /// one stored byte, and a list or map counts three bytes for the two or
    /// more it stores, plus one per element, whose value stores at least
    /// one byte.) What a read costs is counted in 4 KB steps, so an item
    /// whose bound is within the first step needs no walk to price it.
    pub fn size_at_most(&self) -> usize {
        2 * self.0.len()
    }

    /// The attributes called `names`, decoded; the others are skipped, and
    /// the walk stops once every name is found.
    pub fn pick<N: AsRef<str>>(&self, names: &[N]) -> Result<Item, CodecError> {
        let mut r = Reader::new(self.0);
        let mut item = Item::new();
        for _ in 0..r.count()? {
            if item.len() == names.len() {
                break;
            }
            let name = r.bytes()?;
            if let Some(n) = names.iter().find(|n| n.as_ref().as_bytes() == name) {
                item.insert(n.as_ref().to_owned(), r.value()?);
            } else {
                skip_value(&mut r)?;
            }
        }
        Ok(item)
    }
}

impl StoredItem<'_> {
    /// Append the item's DynamoDB JSON to `out`: the same bytes its
    /// `Serialize` gives through serde_json, written without serde (a Query
    /// page writes a hundred items per request). Every string is checked to
    /// be UTF-8; on an error `out` is left as it was.
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let start = out.len();
        let written = write_map(&mut Reader::new(self.0), out);
        if written.is_err() {
            out.truncate(start);
        }
        written
    }
}

fn write_map(r: &mut Reader<'_>, out: &mut Vec<u8>) -> Result<(), CodecError> {
    out.push(b'{');
    for i in 0..r.count()? {
        if i > 0 {
            out.push(b',');
        }
        let name = r.bytes()?;
        write_text(r, name, out)?;
        out.push(b':');
        write_value(r, out)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_value(r: &mut Reader<'_>, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let tag = r.u8()?;
    // Strings and numbers, most values, each with its own constant opening:
    // copied in place, where a slice chosen at run time is a call.
    let scalar: Option<&[u8; 5]> = match tag {
        tag::S => Some(br#"{"S":"#),
        tag::N => Some(br#"{"N":"#),
        _ => None,
    };
    if let Some(open) = scalar {
        out.extend_from_slice(open);
        let text = r.bytes()?;
        write_text(r, text, out)?;
        out.push(b'}');
        return Ok(());
    }
    let (open, close): (&[u8], &[u8]) = match tag {
        tag::S => (br#"{"S":"#, b"}"),
        tag::N => (br#"{"N":"#, b"}"),
        tag::B => (br#"{"B":"#, b"}"),
        tag::FALSE => (br#"{"BOOL":false}"#, b""),
        tag::TRUE => (br#"{"BOOL":true}"#, b""),
        tag::NULL => (br#"{"NULL":true}"#, b""),
        tag::M => (br#"{"M":"#, b"}"),
        tag::L => (br#"{"L":["#, b"]}"),
        tag::SS => (br#"{"SS":["#, b"]}"),
        tag::NS => (br#"{"NS":["#, b"]}"),
        tag::BS => (br#"{"BS":["#, b"]}"),
        _ => return Err(r.err("unknown value tag")),
    };
    out.extend_from_slice(open);
    match tag {
        tag::S | tag::N => {
            let text = r.bytes()?;
            write_text(r, text, out)?;
        }
        tag::B => write_base64(r.bytes()?, out),
        tag::M => write_map(r, out)?,
        tag::L | tag::SS | tag::NS | tag::BS => {
            for i in 0..r.count()? {
                if i > 0 {
                    out.push(b',');
                }
                match tag {
                    tag::L => write_value(r, out)?,
                    tag::BS => write_base64(r.bytes()?, out),
                    _ => {
                        let text = r.bytes()?;
                        write_text(r, text, out)?;
                    }
                }
            }
        }
        _ => {}
    }
    out.extend_from_slice(close);
    Ok(())
}

/// `bytes` in base64 as a JSON string (as the wire model encodes `B`).
pub(crate) fn write_base64(bytes: &[u8], out: &mut Vec<u8>) {
    use base64::Engine as _;
    out.push(b'"');
    let start = out.len();
    out.resize(
        start + base64::encoded_len(bytes.len(), true).unwrap_or(0),
        0,
    );
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + written);
    out.push(b'"');
}

/// A JSON string of `text` (stored text, checked to be UTF-8), escaped
/// exactly as serde_json escapes: `"` and `\` with a backslash, control
/// characters as `\b \t \n \f \r` or `\u00xx`, everything else as is.
/// Runs that need no escaping are found and copied a word at a time, and
/// the same pass notes whether the text is all ASCII (always UTF-8), so
/// only other text is validated.
fn write_text(r: &Reader<'_>, text: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
    if !write_escaped(text, out) && std::str::from_utf8(text).is_err() {
        return Err(r.err("invalid utf-8"));
    }
    Ok(())
}

/// `text` as a JSON string, escaped as serde_json escapes (see
/// [`write_text`]), for text known to be UTF-8.
pub(crate) fn write_json_str(text: &str, out: &mut Vec<u8>) {
    write_escaped(text.as_bytes(), out);
}

/// Write `text` as a JSON string; whether it is all ASCII (always UTF-8).
fn write_escaped(text: &[u8], out: &mut Vec<u8>) -> bool {
    out.reserve(text.len() + 2);
    out.push(b'"');
    let mut at = 0;
    let mut ascii = true;
    loop {
        let run = json_scan::plain_run(&text[at..]);
        ascii &= run.ascii;
        out.extend_from_slice(&text[at..at + run.len]);
        at += run.len;
        let Some(&b) = text.get(at) else {
            break;
        };
        write_escape(b, out);
        at += 1;
    }
    out.push(b'"');
    ascii
}

/// The escape of `b`, a byte [`unescaped_len`] stops at.
fn write_escape(b: u8, out: &mut Vec<u8>) {
    let escape: &[u8] = match b {
        b'"' => br#"\""#,
        b'\\' => br"\\",
        b'\n' => br"\n",
        b'\r' => br"\r",
        b'\t' => br"\t",
        0x08 => br"\b",
        0x0C => br"\f",
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(br"\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xF)]);
            return;
        }
    };
    out.extend_from_slice(escape);
}

/// How many leading bytes of `text` a JSON string holds as they are: the
/// index of its first `"`, `\` or control character (its length if it has
/// none).
pub fn unescaped_len(text: &[u8]) -> usize {
    json_scan::plain_run(text).len
}

/// The JSON string starting at `text[at]` (a `"`), if it has no escape or
/// control character: its contents and the index after its closing quote.
/// `None` for anything else, which only a JSON parser reads.
pub fn plain_string(text: &[u8], at: usize) -> Option<(&[u8], usize)> {
    if text.get(at) != Some(&b'"') {
        return None;
    }
    let rest = text.get(at + 1..)?;
    let len = unescaped_len(rest);
    if rest.get(len) != Some(&b'"') {
        return None;
    }
    Some((rest.get(..len)?, at + 1 + len + 1))
}

/// An item held in the stored encoding: what the change log records, passed
/// on without being decoded. Its JSON (both ways) is the item's DynamoDB
/// JSON; two equal items have equal bytes (the encoding is canonical:
/// attributes in name order, numbers as their canonical text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedItem(Bytes);

impl EncodedItem {
    pub fn encode(item: &Item) -> EncodedItem {
        let mut out = Vec::new();
        encode_item(item, &mut out);
        EncodedItem(Bytes::from(out))
    }

    /// The item at the start of `r`, reading past it; its bytes are sliced
    /// out of `whole`, which `r` reads (no copy).
    pub(crate) fn read(r: &mut Reader<'_>, whole: &Bytes) -> Result<EncodedItem, CodecError> {
        let rest = r.rest();
        for _ in 0..r.count()? {
            r.bytes()?;
            skip_value(r)?;
        }
        let len = rest.len() - r.rest().len();
        let start = whole.len() - rest.len();
        Ok(EncodedItem(whole.slice(start..start + len)))
    }

    pub fn stored(&self) -> StoredItem<'_> {
        StoredItem(&self.0)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn decode(&self) -> Result<Item, CodecError> {
        Reader::new(&self.0).item()
    }
}

impl Serialize for EncodedItem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.stored().serialize(s)
    }
}

impl<'de> Deserialize<'de> for EncodedItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EncodedItem, D::Error> {
        Item::deserialize(d).map(|item| EncodedItem::encode(&item))
    }
}

/// The size of the value at `r` (DynamoDB's rules, as
/// `AttributeValue::size`), reading past it.
fn value_size(r: &mut Reader<'_>) -> Result<usize, CodecError> {
    Ok(match r.u8()? {
        tag::S | tag::B => r.bytes()?.len(),
        tag::N => {
            let text = r.bytes()?;
            Number::size_of_text(text).ok_or_else(|| r.err("invalid number"))?
        }
        tag::FALSE | tag::TRUE | tag::NULL => 1,
        tag::M => {
            let mut size = 3;
            for _ in 0..r.count()? {
                size += 1 + r.bytes()?.len() + value_size(r)?;
            }
            size
        }
        tag::L => {
            let mut size = 3;
            for _ in 0..r.count()? {
                size += 1 + value_size(r)?;
            }
            size
        }
        tag::SS | tag::BS => {
            let mut size = 0;
            for _ in 0..r.count()? {
                size += r.bytes()?.len();
            }
            size
        }
        tag::NS => {
            let mut size = 0;
            for _ in 0..r.count()? {
                let text = r.bytes()?;
                size += Number::size_of_text(text).ok_or_else(|| r.err("invalid number"))?;
            }
            size
        }
        _ => return Err(r.err("unknown value tag")),
    })
}

/// Read past the value at `r` (its structure is checked, its contents are
/// not).
fn skip_value(r: &mut Reader<'_>) -> Result<(), CodecError> {
    match r.u8()? {
        tag::S | tag::B | tag::N => {
            r.bytes()?;
        }
        tag::FALSE | tag::TRUE | tag::NULL => {}
        tag::M => {
            for _ in 0..r.count()? {
                r.bytes()?;
                skip_value(r)?;
            }
        }
        tag::L => {
            for _ in 0..r.count()? {
                skip_value(r)?;
            }
        }
        tag::SS | tag::BS | tag::NS => {
            for _ in 0..r.count()? {
                r.bytes()?;
            }
        }
        _ => return Err(r.err("unknown value tag")),
    }
    Ok(())
}

/// The bytes of the value at `r`, reading past it.
fn value_bytes<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], CodecError> {
    let rest = r.rest();
    skip_value(r)?;
    Ok(&rest[..rest.len() - r.rest().len()])
}

fn text<E: serde::ser::Error>(bytes: &[u8]) -> Result<&str, E> {
    std::str::from_utf8(bytes).map_err(|_| E::custom("stored text is not UTF-8"))
}

fn corrupt<E: serde::ser::Error>(e: CodecError) -> E {
    E::custom(e)
}

impl Serialize for StoredItem<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut r = Reader::new(self.0);
        let n = r.count().map_err(corrupt)?;
        let mut map = s.serialize_map(Some(n))?;
        for _ in 0..n {
            let name = text(r.bytes().map_err(corrupt)?)?;
            map.serialize_entry(name, &StoredValue(value_bytes(&mut r).map_err(corrupt)?))?;
        }
        map.end()
    }
}

/// The stored bytes of one value (its tag first).
struct StoredValue<'a>(&'a [u8]);

/// The elements of a stored list or set: `count` values (or, for a set,
/// payloads) of kind `tag`.
struct StoredSeq<'a> {
    tag: u8,
    bytes: &'a [u8],
}

impl Serialize for StoredValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut r = Reader::new(self.0);
        let tag = r.u8().map_err(corrupt)?;
        let mut m = s.serialize_map(Some(1))?;
        match tag {
            tag::S => m.serialize_entry("S", text(r.bytes().map_err(corrupt)?)?)?,
            tag::N => m.serialize_entry("N", text(r.bytes().map_err(corrupt)?)?)?,
            tag::B => m.serialize_entry("B", &Base64(r.bytes().map_err(corrupt)?))?,
            tag::FALSE => m.serialize_entry("BOOL", &false)?,
            tag::TRUE => m.serialize_entry("BOOL", &true)?,
            tag::NULL => m.serialize_entry("NULL", &true)?,
            tag::M => m.serialize_entry("M", &StoredItem(r.rest()))?,
            tag::L | tag::SS | tag::NS | tag::BS => {
                let name = match tag {
                    tag::L => "L",
                    tag::SS => "SS",
                    tag::NS => "NS",
                    _ => "BS",
                };
                m.serialize_entry(
                    name,
                    &StoredSeq {
                        tag,
                        bytes: r.rest(),
                    },
                )?
            }
            _ => return Err(S::Error::custom("unknown value tag")),
        }
        m.end()
    }
}

impl Serialize for StoredSeq<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut r = Reader::new(self.bytes);
        let n = r.count().map_err(corrupt)?;
        let mut seq = s.serialize_seq(Some(n))?;
        for _ in 0..n {
            match self.tag {
                tag::L => {
                    seq.serialize_element(&StoredValue(value_bytes(&mut r).map_err(corrupt)?))?
                }
                tag::BS => seq.serialize_element(&Base64(r.bytes().map_err(corrupt)?))?,
                _ => seq.serialize_element(text::<S::Error>(r.bytes().map_err(corrupt)?)?)?,
            }
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::codec::encode_item;
    use crate::model::value::{item_size, AttributeValue};
    use proptest::prelude::*;

    fn stored(json: &str) -> (Item, Vec<u8>) {
        let item: Item = serde_json::from_str(json).expect("test item");
        let mut bytes = Vec::new();
        encode_item(&item, &mut bytes);
        (item, bytes)
    }

    const EVERY_TYPE: &str = r#"{
        "s": {"S": "a \"quoted\"\n line é"}, "n": {"N": "-12.500"}, "b": {"B": "AAEC/w=="},
        "t": {"BOOL": true}, "f": {"BOOL": false}, "z": {"NULL": true},
        "m": {"M": {"x": {"N": "1E+3"}, "a": {"L": [{"S": "y"}, {"M": {}}, {"L": []}]}}},
        "l": {"L": [{"N": "7"}, {"SS": ["p", "q"]}, {"B": ""}]},
        "ss": {"SS": ["b", "a"]}, "ns": {"NS": ["3", "0.1"]}, "bs": {"BS": ["AQ==", ""]},
        "e": {"S": ""}
    }"#;

    #[test]
    fn json_is_the_decoded_items_json() {
        let (item, bytes) = stored(EVERY_TYPE);
        assert_eq!(
            serde_json::to_string(&StoredItem(&bytes)).expect("encodes"),
            serde_json::to_string(&item).expect("encodes")
        );
        let (empty, bytes) = stored("{}");
        assert_eq!(
            serde_json::to_string(&StoredItem(&bytes)).expect("encodes"),
            serde_json::to_string(&empty).expect("encodes")
        );
    }

    #[test]
    fn written_json_is_the_serialized_json() {
        for json in [
            EVERY_TYPE,
            "{}",
            r#"{"c": {"S": "\u0000\u001f\u0008\u000c\t\r\n\\/\"\u007f"}}"#,
        ] {
            let (item, bytes) = stored(json);
            let mut out = b"prefix".to_vec();
            StoredItem(&bytes).write_json(&mut out).expect("writes");
            let expected = serde_json::to_vec(&item).expect("encodes");
            assert_eq!(
                String::from_utf8_lossy(&out[6..]),
                String::from_utf8_lossy(&expected)
            );
        }
    }

    fn value() -> impl Strategy<Value = AttributeValue> {
        let text = || proptest::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter);
        let blob = || proptest::collection::vec(any::<u8>(), 0..12).prop_map(Bytes::from);
        let leaf = prop_oneof![
            text().prop_map(AttributeValue::S),
            any::<i64>().prop_map(|i| AttributeValue::N(Number::from_i64(i))),
            (1u64..u64::MAX, -125i32..=100).prop_filter_map("in range", |(m, e)| {
                Number::parse(&format!("{m}E{e}"))
                    .ok()
                    .map(AttributeValue::N)
            }),
            blob().prop_map(AttributeValue::B),
            any::<bool>().prop_map(AttributeValue::Bool),
            Just(AttributeValue::Null),
            proptest::collection::vec(text(), 1..3).prop_map(AttributeValue::Ss),
            proptest::collection::vec(any::<i32>(), 1..3).prop_map(|v| AttributeValue::Ns(
                v.into_iter()
                    .map(|i| Number::from_i64(i64::from(i)))
                    .collect()
            )),
            proptest::collection::vec(blob(), 1..3).prop_map(AttributeValue::Bs),
        ];
        leaf.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(AttributeValue::L),
                proptest::collection::btree_map(text(), inner, 0..4).prop_map(AttributeValue::M),
            ]
        })
    }

    fn item() -> impl Strategy<Value = Item> {
        proptest::collection::btree_map(
            proptest::collection::vec(any::<char>(), 1..8).prop_map(String::from_iter),
            value(),
            0..6,
        )
    }

    proptest! {
        #[test]
        fn unescaped_len_stops_at_the_first_byte_json_escapes(
            text in proptest::collection::vec(prop_oneof![
                4 => 0x20u8..0x7F,
                1 => any::<u8>(),
            ], 0..40)
        ) {
            let naive = text
                .iter()
                .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
                .unwrap_or(text.len());
            prop_assert_eq!(unescaped_len(&text), naive);
        }

        #[test]
        fn any_items_written_json_is_its_serialized_json(
            item in item()
        ) {
            let mut bytes = Vec::new();
            encode_item(&item, &mut bytes);
            let mut out = Vec::new();
            StoredItem(&bytes).write_json(&mut out).expect("writes");
            prop_assert_eq!(out, serde_json::to_vec(&item).expect("encodes"));
        }

        #[test]
        fn any_items_size_is_at_most_its_bound(
            item in item()
        ) {
            let mut bytes = Vec::new();
            encode_item(&item, &mut bytes);
            let stored = StoredItem(&bytes);
            prop_assert!(stored.size().expect("size") <= stored.size_at_most());
        }
    }

    #[test]
    fn a_list_of_nulls_nears_the_size_bound() {
        // Each element: one stored byte, two bytes of size.
        let item = Item::from([(
            "l".to_owned(),
            AttributeValue::L(vec![AttributeValue::Null; 100]),
        )]);
        let mut bytes = Vec::new();
        encode_item(&item, &mut bytes);
        let stored = StoredItem(&bytes);
        let size = stored.size().expect("size");
        assert_eq!(size, item_size(&item));
        assert!(size > bytes.len() * 19 / 10, "{size} vs {}", bytes.len());
        assert!(size <= stored.size_at_most());
    }

    #[test]
    fn size_is_the_decoded_items_size() {
        let (item, bytes) = stored(EVERY_TYPE);
        assert_eq!(StoredItem(&bytes).size().expect("size"), item_size(&item));
    }

    #[test]
    fn pick_decodes_only_the_named_attributes() {
        let (item, bytes) = stored(EVERY_TYPE);
        let names = ["n".to_owned(), "m".to_owned(), "absent".to_owned()];
        let picked = StoredItem(&bytes).pick(&names).expect("pick");
        assert_eq!(picked.len(), 2);
        assert_eq!(picked.get("n"), item.get("n"));
        assert_eq!(picked.get("m"), item.get("m"));
    }

    #[test]
    fn corrupt_bytes_are_errors_not_panics() {
        let (_, bytes) = stored(EVERY_TYPE);
        for cut in 0..bytes.len() {
            let part = StoredItem(&bytes[..cut]);
            assert!(part.size().is_err(), "cut at {cut}");
            assert!(serde_json::to_vec(&part).is_err(), "cut at {cut}");
            let mut out = b"kept".to_vec();
            assert!(part.write_json(&mut out).is_err(), "cut at {cut}");
            assert_eq!(out, b"kept");
        }
    }

    #[test]
    fn text_that_is_not_utf8_is_an_error_wherever_it_sits() {
        // Invalid bytes in a whole eight-byte word, in the tail after the
        // last whole word, in an attribute name, and before or after an
        // escaped byte of the same word.
        for json in [
            r#"{"s": {"S": "abcdefghijéklmnopqrstuvwxyz"}}"#,
            r#"{"s": {"S": "abcdefghé"}}"#,
            r#"{"sé": {"N": "1"}}"#,
            r#"{"s": {"S": "abé\"cdefghijkl"}}"#,
            r#"{"s": {"S": "ab\"cdé"}}"#,
            r#"{"s": {"S": "abcdefgh\nijé"}}"#,
        ] {
            let (_, mut bytes) = stored(json);
            let at = bytes
                .windows(2)
                .position(|w| w == "é".as_bytes())
                .expect("the text is stored as it is");
            // A lead byte followed by a byte that cannot continue it.
            bytes[at + 1] = b'(';
            let mut out = b"kept".to_vec();
            assert!(StoredItem(&bytes).write_json(&mut out).is_err(), "{json}");
            assert_eq!(out, b"kept");
            // The same bytes without the damage write.
            bytes[at + 1] = "é".as_bytes()[1];
            assert!(StoredItem(&bytes).write_json(&mut out).is_ok(), "{json}");
        }
    }

    #[test]
    fn an_encoded_item_reads_out_of_a_larger_buffer_and_round_trips_its_json() {
        let (item, bytes) = stored(EVERY_TYPE);
        let (small, small_bytes) = stored(r#"{"k": {"S": "v"}}"#);
        // Two items back to back, as a change record holds keys and images.
        let whole = Bytes::from([small_bytes.as_slice(), &bytes, &[7]].concat());
        let mut r = Reader::new(&whole);
        let first = EncodedItem::read(&mut r, &whole).expect("first item");
        let second = EncodedItem::read(&mut r, &whole).expect("second item");
        assert_eq!(r.rest(), &[7]);
        assert_eq!(first.decode().expect("decodes"), small);
        assert_eq!(second.as_bytes(), bytes.as_slice());
        assert_eq!(second, EncodedItem::encode(&item));
        let json = serde_json::to_vec(&second).expect("json");
        assert_eq!(json, serde_json::to_vec(&item).expect("json"));
        let back: EncodedItem = serde_json::from_slice(&json).expect("from json");
        assert_eq!(back, second);
        // A cut item is an error, not a panic.
        let cut = Bytes::copy_from_slice(&bytes[..bytes.len() - 1]);
        assert!(EncodedItem::read(&mut Reader::new(&cut), &cut).is_err());
    }
}
