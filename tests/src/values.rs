//! Short constructors for `AttributeValue`s and items (`s("x")`,
//! `n(3)`, `item([("p", s("k"))])`), and readers of one attribute of an
//! item. Only values: nothing here talks to a server.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue as Av;

/// An item (or a key): attribute name to value.
pub type Item = HashMap<String, Av>;

/// Builds an item from `(name, value)` pairs.
pub fn item<const N: usize>(pairs: [(&str, Av); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

pub fn s(v: &str) -> Av {
    Av::S(v.to_owned())
}

/// A number, written as given: `n(3)`, `n("1.5")`, `n(-7i64)`.
pub fn n(v: impl std::fmt::Display) -> Av {
    Av::N(v.to_string())
}

pub fn b(v: &[u8]) -> Av {
    Av::B(Blob::new(v.to_vec()))
}

pub fn ss(v: &[&str]) -> Av {
    Av::Ss(v.iter().map(|x| (*x).to_owned()).collect())
}

pub fn ns(v: &[&str]) -> Av {
    Av::Ns(v.iter().map(|x| (*x).to_owned()).collect())
}

pub fn bs(v: &[&[u8]]) -> Av {
    Av::Bs(v.iter().map(|x| Blob::new(x.to_vec())).collect())
}

pub fn l(v: Vec<Av>) -> Av {
    Av::L(v)
}

pub fn m<const N: usize>(pairs: [(&str, Av); N]) -> Av {
    Av::M(item(pairs))
}

/// Sorts the members of a set so that sets compare regardless of order.
pub fn sorted(v: Av) -> Av {
    match v {
        Av::Ss(mut x) => {
            x.sort();
            Av::Ss(x)
        }
        Av::Ns(mut x) => {
            x.sort_by(|a, b| {
                let a: f64 = a.parse().expect("number");
                let b: f64 = b.parse().expect("number");
                a.total_cmp(&b)
            });
            Av::Ns(x)
        }
        Av::Bs(mut x) => {
            x.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
            Av::Bs(x)
        }
        other => other,
    }
}

/// The integer attribute `name` of `item`; panics if it is not a number.
pub fn num(item: &Item, name: &str) -> i64 {
    match item.get(name) {
        Some(Av::N(x)) => x.parse().expect("number"),
        other => panic!("{name} is {other:?}"),
    }
}

/// The string attribute `name` of `item`; panics if it is not a string.
pub fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or_else(|| panic!("{name} missing from {item:?}"))
}
