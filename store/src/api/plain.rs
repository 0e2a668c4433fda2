//! GetItem bodies of the usual shape, read without a JSON parser.
//!
//! SDKs write a GetItem as a few members — `TableName`, `Key` of one or two
//! `S` or `N` attributes, perhaps `ConsistentRead` and
//! `ReturnConsumedCapacity` — with no escapes in any string. Such a body is
//! read here straight into the [`GetItemInput`] that [`super::decode`]
//! would give for it. Anything else (another member, a member twice, an
//! escape, a `null`, another value type, a number that does not parse) is
//! left to the full decode, which reads it or reports DynamoDB's error for
//! it: a `None` from here costs only time.

use super::types::GetItemInput;
use crate::model::stored::plain_string;
use crate::model::{AttributeValue, Item, Number};

/// `body` as a GetItem input, if it has the usual shape.
pub(crate) fn get_item(body: &[u8]) -> Option<GetItemInput> {
    let mut s = Scanner { text: body, at: 0 };
    s.expect(b'{')?;
    let mut input = GetItemInput::default();
    loop {
        let name = s.raw()?;
        s.expect(b':')?;
        match name {
            b"TableName" if input.table_name.is_none() => {
                input.table_name = Some(s.string()?.to_owned());
            }
            b"Key" if input.key.is_none() => input.key = Some(key(&mut s)?),
            b"ConsistentRead" if input.consistent_read.is_none() => {
                input.consistent_read = Some(s.boolean()?);
            }
            b"ReturnConsumedCapacity" if input.return_consumed_capacity.is_none() => {
                input.return_consumed_capacity = Some(s.string()?.to_owned());
            }
            _ => return None,
        }
        if !s.more()? {
            break;
        }
    }
    s.skip_space();
    (s.at == body.len()).then_some(input)
}

/// A key: an object of attributes, each `{"S":..}` or `{"N":..}`.
fn key(s: &mut Scanner<'_>) -> Option<Item> {
    s.expect(b'{')?;
    let mut key = Item::new();
    loop {
        let name = s.string()?;
        s.expect(b':')?;
        s.expect(b'{')?;
        let kind = s.raw()?;
        s.expect(b':')?;
        let text = s.string()?;
        let value = match kind {
            b"S" => AttributeValue::S(text.to_owned()),
            b"N" => AttributeValue::N(Number::parse(text).ok()?),
            _ => return None,
        };
        s.expect(b'}')?;
        if key.insert(name.to_owned(), value).is_some() {
            return None;
        }
        if !s.more()? {
            return Some(key);
        }
    }
}

/// A position in a JSON text.
struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.text.get(self.at) {
            self.at += 1;
        }
    }

    /// `byte` next, after any whitespace.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_space();
        if self.text.get(self.at) != Some(&byte) {
            return None;
        }
        self.at += 1;
        Some(())
    }

    /// After a member: `true` at a `,` (another follows), `false` at the
    /// object's `}`.
    fn more(&mut self) -> Option<bool> {
        self.skip_space();
        let more = match self.text.get(self.at)? {
            b',' => true,
            b'}' => false,
            _ => return None,
        };
        self.at += 1;
        Some(more)
    }

    /// The bytes of a string with no escape or control character in it
    /// (compared with names, not yet known to be UTF-8).
    fn raw(&mut self) -> Option<&'a [u8]> {
        self.skip_space();
        let (contents, next) = plain_string(self.text, self.at)?;
        self.at = next;
        Some(contents)
    }

    /// A string with no escape or control character in it.
    fn string(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.raw()?).ok()
    }

    fn boolean(&mut self) -> Option<bool> {
        self.skip_space();
        let rest = self.text.get(self.at..)?;
        let (value, len) = if rest.starts_with(b"true") {
            (true, 4)
        } else if rest.starts_with(b"false") {
            (false, 5)
        } else {
            return None;
        };
        self.at += len;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the full decode gives, in a form that compares.
    fn full(body: &str) -> Option<String> {
        super::super::decode::<GetItemInput>(body.as_bytes())
            .ok()
            .map(|i| format!("{i:?}"))
    }

    fn plain(body: &str) -> Option<String> {
        get_item(body.as_bytes()).map(|i| format!("{i:?}"))
    }

    #[test]
    fn usual_bodies_are_read_as_the_full_decode_reads_them() {
        for body in [
            r#"{"TableName":"usertable","Key":{"ycsb_key":{"S":"user42"}}}"#,
            r#"{"Key":{"pk":{"S":"a"},"sk":{"N":"42"}},"TableName":"t-1.x_y"}"#,
            r#"{"TableName":"t","Key":{"sk":{"N":"-1.50E+3"},"pk":{"S":"é ü"}},"ConsistentRead":true}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":""}},"ConsistentRead":false,"ReturnConsumedCapacity":"TOTAL"}"#,
            "{ \"TableName\" : \"t\" ,\n\t\"Key\" : { \"pk\" : { \"N\" : \"0007\" } } }\r\n",
            // Odd but read the same: the store's checks reject them later.
            r#"{"TableName":"","Key":{"":{"S":"x"}},"ReturnConsumedCapacity":"MAYBE"}"#,
            r#"{"TableName":"t","Key":{"a":{"S":"1"},"b":{"S":"2"},"c":{"S":"3"}}}"#,
            r#"{"TableName":"t"}"#,
        ] {
            let got = plain(body);
            assert!(got.is_some(), "not read: {body}");
            assert_eq!(got, full(body), "{body}");
        }
    }

    #[test]
    fn other_bodies_are_left_to_the_full_decode() {
        for body in [
            "",
            "{}",
            "[]",
            r#"{"TableName":"t","Key":{}}"#,
            r#"{"TableName":"t\u0031","Key":{"pk":{"S":"a"}}}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a\"b"}}}"#,
            "{\"TableName\":\"t\",\"Key\":{\"pk\":{\"S\":\"a\u{1}b\"}}}",
            r#"{"TableName":"t","Key":{"pk":{"B":"AAE="}}}"#,
            r#"{"TableName":"t","Key":{"pk":{"N":"1e999"}}}"#,
            r#"{"TableName":"t","Key":{"pk":{"N":"x"}}}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a","N":"1"}}}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"},"pk":{"S":"b"}}}"#,
            r#"{"TableName":"t","TableName":"u","Key":{"pk":{"S":"a"}}}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}},"ConsistentRead":null}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}},"ConsistentRead":"true"}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}},"ProjectionExpression":"a"}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}},"Unknown":1}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}}}x"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}},}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}}"#,
            r#"{"TableName":"t","Key":{"pk":{"S":"a"}}}}"#,
        ] {
            assert_eq!(plain(body), None, "{body}");
        }
        // Not UTF-8.
        assert!(get_item(b"{\"TableName\":\"t\xff\",\"Key\":{\"pk\":{\"S\":\"a\"}}}").is_none());
    }

    /// Pieces bodies are made of: usual and unusual members, values and
    /// spacing, so generated bodies land on both sides of the fast path.
    fn member() -> impl Strategy<Value = String> {
        let string = prop_oneof![
            Just("t".to_owned()),
            Just("usertable".to_owned()),
            Just(String::new()),
            Just("a\\\"b".to_owned()),
            Just("é".to_owned()),
            Just("\\u00e9".to_owned()),
        ];
        let value = prop_oneof![
            string.clone().prop_map(|s| format!(r#"{{"S":"{s}"}}"#)),
            prop_oneof![
                Just("1"),
                Just("-0.50"),
                Just("1E+2"),
                Just("x"),
                Just("1e200")
            ]
            .prop_map(|n| format!(r#"{{"N":"{n}"}}"#)),
            Just(r#"{"B":"AA=="}"#.to_owned()),
            Just(r#"{"S":"a","N":"1"}"#.to_owned()),
            Just("{}".to_owned()),
            Just("null".to_owned()),
        ];
        let key = proptest::collection::vec(
            (prop_oneof![Just("pk"), Just("sk"), Just("x")], value),
            0..3,
        )
        .prop_map(|attrs| {
            let parts: Vec<String> = attrs
                .iter()
                .map(|(name, value)| format!(r#""{name}":{value}"#))
                .collect();
            format!("{{{}}}", parts.join(","))
        });
        prop_oneof![
            string.clone().prop_map(|s| format!(r#""TableName":"{s}""#)),
            key.prop_map(|k| format!(r#""Key":{k}"#)),
            prop_oneof![Just("true"), Just("false"), Just("null"), Just("1")]
                .prop_map(|b| format!(r#""ConsistentRead":{b}"#)),
            prop_oneof![Just("NONE"), Just("TOTAL"), Just("indexes")]
                .prop_map(|r| format!(r#""ReturnConsumedCapacity":"{r}""#)),
            Just(r#""ProjectionExpression":"a""#.to_owned()),
        ]
    }

    proptest! {
        /// Whatever the fast path reads, it reads as the full decode does.
        #[test]
        fn what_the_fast_path_reads_the_full_decode_reads_alike(
            members in proptest::collection::vec(member(), 0..5),
            space in prop_oneof![Just(""), Just(" "), Just("\n  ")],
        ) {
            let body = format!("{{{space}{}{space}}}", members.join(&format!(",{space}")));
            if let Some(got) = plain(&body) {
                prop_assert_eq!(Some(got), full(&body), "{}", body);
            }
        }
    }
}
