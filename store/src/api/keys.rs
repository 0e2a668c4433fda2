//! Key schemas as the caches in front of a store need them: which
//! attributes form a table's primary key and each secondary index's key,
//! by name and in key order. The store answers them for its own tables
//! (`Store::table_keys`); a proxy in front of another engine learns them
//! from DescribeTable.

use crate::model::stored;
use crate::model::value::{AttributeValue, Item};

/// The key attributes of one table and of its secondary indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableKeys {
    pub partition: String,
    pub sort: Option<String>,
    /// `None`: the indexes' keys are not known (an index key this proxy
    /// cannot represent), so index partitions cannot be told apart.
    pub indexes: Option<Vec<IndexKeys>>,
}

/// A secondary index's key attributes, in key order (a GSI's key may have
/// up to four partition and four sort attributes; an LSI's, one of each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexKeys {
    pub name: String,
    pub partition: Vec<String>,
    pub sort: Vec<String>,
}

impl IndexKeys {
    /// The index partition `item` belongs to (its partition attributes'
    /// values, in key order); `None` if it lacks one, and so is not in the
    /// index.
    pub fn partition_of<'a>(&self, item: &'a Item) -> Option<Vec<&'a AttributeValue>> {
        self.partition.iter().map(|n| item.get(n)).collect()
    }
}

impl TableKeys {
    /// The primary key of `item` (its key attributes only).
    pub fn key_of(&self, item: &Item) -> Item {
        std::iter::once(&self.partition)
            .chain(self.sort.as_ref())
            .filter_map(|n| item.get(n).map(|v| (n.clone(), v.clone())))
            .collect()
    }

    /// The JSON of `item`'s primary key: the same bytes as
    /// `serde_json::to_vec(&self.key_of(item))` (attributes by name), written
    /// straight from the item's names and values.
    pub fn key_json_of<'a>(&'a self, item: &'a Item) -> Vec<u8> {
        let get = |n: &'a String| item.get(n).map(|v| (n, v));
        let mut pair = [get(&self.partition), self.sort.as_ref().and_then(get)];
        if let [Some((a, _)), Some((b, _))] = &pair {
            if b < a {
                pair.swap(0, 1);
            }
        }
        write_key_json(pair.into_iter().flatten())
    }

    /// The base table's partition key value in `keys`.
    pub fn partition_of<'a>(&self, keys: &'a Item) -> Option<&'a AttributeValue> {
        keys.get(&self.partition)
    }

    /// The partition and sort attributes of the table (`None`) or of the
    /// named index, in key order.
    pub fn target(&self, index: Option<&str>) -> Option<(Vec<String>, Vec<String>)> {
        match index {
            None => Some((
                vec![self.partition.clone()],
                self.sort.iter().cloned().collect(),
            )),
            Some(name) => self
                .indexes
                .as_ref()?
                .iter()
                .find(|i| i.name == name)
                .map(|i| (i.partition.clone(), i.sort.clone())),
        }
    }
}

/// The JSON of `key`, a request's key (or any item): the same bytes as
/// `serde_json::to_vec(key)`, with `S`, `N` and `B` values written
/// directly.
pub fn key_json(key: &Item) -> Vec<u8> {
    write_key_json(key.iter())
}

/// The JSON object of `attributes`, given in name order.
fn write_key_json<'a>(
    attributes: impl Iterator<Item = (&'a String, &'a AttributeValue)>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(b'{');
    for (i, (name, value)) in attributes.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        stored::write_json_str(name, &mut out);
        out.push(b':');
        write_key_value(value, &mut out);
    }
    out.push(b'}');
    out
}

/// A key attribute's value as the wire model writes it (`{"S":"…"}`). Key
/// values are strings, numbers and binaries; any other value (an item the
/// store will refuse) is written by the wire model itself.
fn write_key_value(value: &AttributeValue, out: &mut Vec<u8>) {
    match value {
        AttributeValue::S(s) => {
            out.extend_from_slice(br#"{"S":"#);
            stored::write_json_str(s, out);
            out.push(b'}');
        }
        AttributeValue::N(n) => {
            // A number's text is digits, a sign and a point: nothing JSON
            // escapes.
            out.extend_from_slice(br#"{"N":""#);
            n.write_text(out);
            out.extend_from_slice(br#""}"#);
        }
        AttributeValue::B(b) => {
            out.extend_from_slice(br#"{"B":"#);
            stored::write_base64(b, out);
            out.push(b'}');
        }
        // Writing to a vector fails only for a value serde_json refuses,
        // which an `AttributeValue` never is.
        other => {
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TableKeys;
    use crate::model::number::Number;
    use crate::model::value::{AttributeValue, Item};

    fn keys(partition: &str, sort: Option<&str>) -> TableKeys {
        TableKeys {
            partition: partition.to_owned(),
            sort: sort.map(str::to_owned),
            indexes: None,
        }
    }

    #[test]
    fn the_key_json_of_an_item_is_the_json_of_its_key() {
        let item: Item = [
            ("p", AttributeValue::S("x\"y".into())),
            (
                "a",
                AttributeValue::N(Number::parse("1.50").expect("number")),
            ),
            ("z", AttributeValue::B(vec![1, 2, 250].into())),
            ("v", AttributeValue::Bool(true)),
            ("n\"\u{1}\u{7f}é", AttributeValue::S("é\n\\\u{1f}x".into())),
            (
                "e",
                AttributeValue::N(Number::parse("-12.5E-20").expect("number")),
            ),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .collect();
        for schema in [
            keys("p", None),
            // The sort attribute's name sorts before the partition's, and after.
            keys("p", Some("a")),
            keys("p", Some("z")),
            // An attribute the item lacks is left out, as `key_of` does.
            keys("p", Some("missing")),
            keys("missing", None),
            // Names and strings JSON escapes; a number with an exponent;
            // a value no key may have (the store refuses the item).
            keys("n\"\u{1}\u{7f}é", Some("e")),
            keys("v", Some("n\"\u{1}\u{7f}é")),
        ] {
            let key = schema.key_of(&item);
            let expected = serde_json::to_vec(&key).expect("json");
            assert_eq!(
                String::from_utf8_lossy(&schema.key_json_of(&item)),
                String::from_utf8_lossy(&expected),
                "{schema:?}"
            );
            assert_eq!(
                String::from_utf8_lossy(&super::key_json(&key)),
                String::from_utf8_lossy(&expected),
                "{schema:?}"
            );
        }
        // Every attribute of the item, whatever its type.
        assert_eq!(
            String::from_utf8_lossy(&super::key_json(&item)),
            String::from_utf8_lossy(&serde_json::to_vec(&item).expect("json"))
        );
        assert_eq!(super::key_json(&Item::new()), b"{}");
    }
}
