//! Mutations: of raw bytes (bit flips, splices, truncation, tokens that
//! parsers treat specially), of expression text, and of JSON trees (a node
//! replaced by another shape, deep nesting).

use serde_json::{json, Value};

use crate::rng::Rng;

/// Byte strings that parsers of JSON and HTTP treat specially.
const TOKENS: [&[u8]; 24] = [
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b",",
    b":",
    b"null",
    b"true",
    b"1e999",
    b"-",
    b"\r\n",
    b"\r\n\r\n",
    b"\0",
    b"\xff\xfe",
    b"\xc3\x28",
    b"Content-Length: 5\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"0\r\n\r\n",
    b"Content-Encoding: gzip\r\n",
    b"Expect: 100-continue\r\n",
];

/// Apply one to four byte-level mutations to `data`.
pub fn bytes(rng: &mut Rng, data: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = *rng.pick(&[0u8, 0x7f, 0x80, 0xff, b'"', b'{', b'0', b' ']);
            }
            2 => {
                let i = rng.below(len + 1);
                let n = rng.size(16);
                let b = rng.bytes(n);
                data.splice(i..i, b);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = rng.size(len - i);
                data.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = rng.size(len - i);
                let copy = data[i..i + n].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, copy);
            }
            5 => {
                let i = rng.below(len + 1);
                let t = rng.pick(&TOKENS).to_vec();
                data.splice(i..i, t);
            }
            6 if len > 0 => data.truncate(rng.below(len)),
            _ => {
                // Deep nesting where the parser is.
                let i = rng.below(len + 1);
                let n = 1 + rng.below(400);
                let open = rng.pick(&[b"[" as &[u8], b"{\"a\":", b"{\"M\":{\"a\":"]);
                let nest: Vec<u8> = open.repeat(n);
                data.splice(i..i, nest);
            }
        }
    }
}

/// Tokens of the expression language, and a few it lacks.
const EXPR_TOKENS: [&str; 30] = [
    "(",
    ")",
    "AND",
    "OR",
    "NOT",
    ",",
    "=",
    "<>",
    "<",
    ">=",
    "BETWEEN",
    "IN",
    "SET",
    "REMOVE",
    "ADD",
    "DELETE",
    ".",
    "[",
    "]",
    "#",
    ":",
    "size(",
    "0",
    "-1",
    "99999999999999999999",
    "\0",
    "é",
    " ",
    "#n0",
    ":v0",
];

/// Mutate expression text: tokens inserted, parts removed or repeated,
/// extreme nesting and long paths.
pub fn expression(rng: &mut Rng, text: &mut String) {
    for _ in 0..1 + rng.below(3) {
        let bounds: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        let at = *rng.pick(&bounds);
        match rng.below(7) {
            0 | 1 => text.insert_str(at, &format!(" {} ", rng.pick(&EXPR_TOKENS))),
            2 => {
                let end = *rng.pick(&bounds);
                let (a, b) = if at <= end { (at, end) } else { (end, at) };
                text.replace_range(a..b, "");
            }
            3 => {
                let n = 1 + rng.below(3000);
                *text = format!("{}{text}{}", "(".repeat(n), ")".repeat(n));
            }
            4 => {
                let n = 1 + rng.below(2000);
                *text = format!("{}{text}", "NOT ".repeat(n));
            }
            5 => {
                let n = 1 + rng.below(1000);
                let step = rng.pick(&[".a", "[0]", ".#n0"]);
                text.insert_str(at, &format!("a{}", step.repeat(n)));
            }
            _ => {
                let n = 1 + rng.below(200);
                let clause = rng.pick(&[" AND a = :v0", " OR a < :v1", ", a = :v0", ", a"]);
                text.push_str(&clause.repeat(n));
            }
        }
    }
}

/// Replace one node of `v` (reached by a random walk) with another shape.
pub fn json(rng: &mut Rng, v: &mut Value) {
    // Choose the walk first, then follow it mutably.
    let mut steps = Vec::new();
    let mut at: &Value = v;
    loop {
        let next = match at {
            Value::Object(m) if !m.is_empty() && !rng.one_in(4) => {
                let i = rng.below(m.len());
                m.values().nth(i).map(|n| (i, n))
            }
            Value::Array(a) if !a.is_empty() && !rng.one_in(4) => {
                let i = rng.below(a.len());
                a.get(i).map(|n| (i, n))
            }
            _ => None,
        };
        match next {
            Some((i, n)) => {
                steps.push(i);
                at = n;
            }
            None => break,
        }
    }
    let mut node = v;
    for i in steps {
        node = match node {
            Value::Object(m) => match m.values_mut().nth(i) {
                Some(n) => n,
                None => return,
            },
            Value::Array(a) => match a.get_mut(i) {
                Some(n) => n,
                None => return,
            },
            _ => return,
        };
    }
    *node = match rng.below(10) {
        0 => Value::Null,
        1 => json!(rng.next_u64() as i64),
        2 => json!(-1.5e300),
        3 => json!(""),
        4 => json!("x".repeat(rng.size(70_000))),
        5 => json!([]),
        6 => json!({}),
        7 => {
            // Nested values past the 32-level limit (and past serde_json's).
            let depth = 1 + rng.below(200);
            let mut deep = json!({"S": "leaf"});
            for _ in 0..depth {
                deep = if rng.one_in(2) {
                    json!({ "M": { "a": deep } })
                } else {
                    json!({ "L": [deep] })
                };
            }
            deep
        }
        8 => json!(true),
        _ => {
            let mut copy = node.clone();
            if let Value::Object(m) = &mut copy {
                m.insert(format!("Extra{}", rng.below(3)), json!(1));
            }
            copy
        }
    };
}
