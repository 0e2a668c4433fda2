//! Binary encoding of items as stored on disk.
//!
//! Format (documented in docs/storage-format.md): an item is a varint count
//! followed by `(varint name length, name bytes, value)` in name order; a
//! value is a tag byte followed by its payload. Numbers are stored as their
//! canonical decimal text, so the stored form never depends on the in-memory
//! representation.

use bytes::Bytes;

use super::number::Number;
use super::value::{AttributeValue, Item};

/// Value tags. Part of the on-disk format: never reorder or reuse a value.
pub(super) mod tag {
    pub const S: u8 = 0;
    pub const N: u8 = 1;
    pub const B: u8 = 2;
    pub const FALSE: u8 = 3;
    pub const TRUE: u8 = 4;
    pub const NULL: u8 = 5;
    pub const M: u8 = 6;
    pub const L: u8 = 7;
    pub const SS: u8 = 8;
    pub const NS: u8 = 9;
    pub const BS: u8 = 10;
}

/// The stored bytes do not decode: the data is corrupt (or from a newer format).
#[derive(Debug, thiserror::Error)]
#[error("corrupt item encoding at byte {offset}: {what}")]
pub struct CodecError {
    pub offset: usize,
    pub what: &'static str,
}

/// `item`'s encoding in a vector of its own, sized for it in advance.
pub fn encoded_item(item: &Item) -> Vec<u8> {
    // Names and values, plus a type tag and a length or two per attribute.
    let mut out = Vec::with_capacity(crate::model::value::item_size(item) + 4 * item.len() + 8);
    encode_item(item, &mut out);
    out
}

pub fn encode_item(item: &Item, out: &mut Vec<u8>) {
    put_varint(out, item.len() as u64);
    for (name, value) in item {
        put_bytes(out, name.as_bytes());
        encode_value(value, out);
    }
}

fn encode_value(v: &AttributeValue, out: &mut Vec<u8>) {
    match v {
        AttributeValue::S(s) => {
            out.push(tag::S);
            put_bytes(out, s.as_bytes());
        }
        AttributeValue::N(n) => {
            out.push(tag::N);
            put_number(out, n);
        }
        AttributeValue::B(b) => {
            out.push(tag::B);
            put_bytes(out, b);
        }
        AttributeValue::Bool(b) => out.push(if *b { tag::TRUE } else { tag::FALSE }),
        AttributeValue::Null => out.push(tag::NULL),
        AttributeValue::M(m) => {
            out.push(tag::M);
            encode_item(m, out);
        }
        AttributeValue::L(l) => {
            out.push(tag::L);
            put_varint(out, l.len() as u64);
            for e in l {
                encode_value(e, out);
            }
        }
        AttributeValue::Ss(v) => {
            out.push(tag::SS);
            put_varint(out, v.len() as u64);
            for s in v {
                put_bytes(out, s.as_bytes());
            }
        }
        AttributeValue::Ns(v) => {
            out.push(tag::NS);
            put_varint(out, v.len() as u64);
            for n in v {
                put_number(out, n);
            }
        }
        AttributeValue::Bs(v) => {
            out.push(tag::BS);
            put_varint(out, v.len() as u64);
            for b in v {
                put_bytes(out, b);
            }
        }
    }
}

pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// [`put_bytes`] of `n`'s canonical text, written in place: the length goes
/// in the byte reserved before the text, which holds any text under 128
/// bytes (a number's text is longer only with many zeros).
fn put_number(out: &mut Vec<u8>, n: &Number) {
    let at = out.len();
    out.push(0);
    n.write_text(out);
    let len = out.len() - at - 1;
    match u8::try_from(len) {
        Ok(short) if short < 0x80 => out[at] = short,
        _ => {
            let mut prefix = Vec::with_capacity(2);
            put_varint(&mut prefix, len as u64);
            out.splice(at..=at, prefix);
        }
    }
}

/// A cursor over stored bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub(super) fn err(&self, what: &'static str) -> CodecError {
        CodecError {
            offset: self.pos,
            what,
        }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn u8(&mut self) -> Result<u8, CodecError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.err("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    pub fn varint(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7F) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.err("varint too long"))
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], CodecError> {
        let len = usize::try_from(self.varint()?).map_err(|_| self.err("length overflow"))?;
        let end = self
            .pos
            .checked_add(len)
            .ok_or_else(|| self.err("length overflow"))?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| self.err("truncated"))?;
        self.pos = end;
        Ok(s)
    }

    pub(super) fn string(&mut self) -> Result<String, CodecError> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| self.err("invalid utf-8"))
    }

    pub(super) fn number(&mut self) -> Result<Number, CodecError> {
        let b = self.bytes()?;
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| Number::parse(s).ok())
            .ok_or_else(|| self.err("invalid number"))
    }

    pub(super) fn count(&mut self) -> Result<usize, CodecError> {
        let n = usize::try_from(self.varint()?).map_err(|_| self.err("count overflow"))?;
        // Every element takes at least one byte: a larger count is corrupt,
        // and checking here keeps a corrupt count from allocating.
        if n > self.buf.len() - self.pos.min(self.buf.len()) {
            return Err(self.err("count exceeds data"));
        }
        Ok(n)
    }

    pub fn item(&mut self) -> Result<Item, CodecError> {
        let n = self.count()?;
        let mut item = Item::new();
        for _ in 0..n {
            let name = self.string()?;
            let value = self.value()?;
            item.insert(name, value);
        }
        Ok(item)
    }

    pub(super) fn value(&mut self) -> Result<AttributeValue, CodecError> {
        Ok(match self.u8()? {
            tag::S => AttributeValue::S(self.string()?),
            tag::N => AttributeValue::N(self.number()?),
            tag::B => AttributeValue::B(Bytes::copy_from_slice(self.bytes()?)),
            tag::FALSE => AttributeValue::Bool(false),
            tag::TRUE => AttributeValue::Bool(true),
            tag::NULL => AttributeValue::Null,
            tag::M => AttributeValue::M(self.item()?),
            tag::L => {
                let n = self.count()?;
                let mut l = Vec::with_capacity(n);
                for _ in 0..n {
                    l.push(self.value()?);
                }
                AttributeValue::L(l)
            }
            tag::SS => {
                let n = self.count()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.string()?);
                }
                AttributeValue::Ss(v)
            }
            tag::NS => {
                let n = self.count()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.number()?);
                }
                AttributeValue::Ns(v)
            }
            tag::BS => {
                let n = self.count()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(Bytes::copy_from_slice(self.bytes()?));
                }
                AttributeValue::Bs(v)
            }
            _ => return Err(self.err("unknown value tag")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_an_item_of_every_type() {
        let json = r#"{"s":{"S":"x"},"n":{"N":"-1.5E-20"},"b":{"B":"AAE="},"t":{"BOOL":true},
            "f":{"BOOL":false},"z":{"NULL":true},"m":{"M":{"in":{"L":[{"N":"1"},{"SS":["a","b"]}]}}},
            "ns":{"NS":["1","2"]},"bs":{"BS":["AA=="]}}"#;
        let item: Item = serde_json::from_str(json).expect("decode");
        let mut buf = Vec::new();
        encode_item(&item, &mut buf);
        let back = Reader::new(&buf).item().expect("stored item decodes");
        assert_eq!(back, item);
    }

    #[test]
    fn numbers_are_stored_as_their_text_whatever_its_length() {
        // Texts of 1 to 170 bytes: the length prefix takes two bytes from 128.
        let texts = [
            "0".to_owned(),
            "-7".to_owned(),
            format!("1{}", "0".repeat(125)),
            format!("-9.{}", "9".repeat(37)),
            format!("0.{}1", "0".repeat(129)),
            format!("-0.{}{}", "0".repeat(129), "1".repeat(38)),
        ];
        for text in texts {
            let n: Number = text.parse().expect("valid number");
            let item = Item::from([
                ("n".to_owned(), AttributeValue::N(n.clone())),
                ("ns".to_owned(), AttributeValue::Ns(vec![n.clone()])),
            ]);
            let mut buf = Vec::new();
            encode_item(&item, &mut buf);
            let mut expected = Vec::new();
            put_varint(&mut expected, 2);
            put_bytes(&mut expected, b"n");
            expected.push(tag::N);
            put_bytes(&mut expected, text.as_bytes());
            put_bytes(&mut expected, b"ns");
            expected.push(tag::NS);
            put_varint(&mut expected, 1);
            put_bytes(&mut expected, text.as_bytes());
            assert_eq!(buf, expected, "{text}");
            assert_eq!(Reader::new(&buf).item().expect("decodes"), item);
        }
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let item: Item =
            serde_json::from_str(r#"{"a":{"L":[{"S":"hello"},{"N":"1"}]}}"#).expect("decode");
        let mut buf = Vec::new();
        encode_item(&item, &mut buf);
        for cut in 0..buf.len() {
            assert!(Reader::new(&buf[..cut]).item().is_err());
        }
    }
}
