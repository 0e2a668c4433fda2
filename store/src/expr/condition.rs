//! Resolved conditions and their evaluation against an item.
//!
//! Owns DynamoDB's comparison semantics: equality is deep and ignores set
//! order; ordering (`<`, BETWEEN) is defined only between two N, two S or two
//! B values and is simply false otherwise; a missing operand makes every
//! comparison false except `<>`, which is then true. Checks that depend only
//! on the request (operand types of constants, BETWEEN bounds) happen in
//! `resolve.rs`, so evaluation itself never fails on well-resolved input.
//!
//! Invariant: evaluation recursion follows the condition tree, whose depth
//! the parser bounds, and value trees, whose depth the API layer bounds.

use std::borrow::Cow;
use std::cmp::Ordering;

pub use super::ast::CmpOp;
use super::path::DocPath;
use super::ExprError;
use crate::model::number::Number;
use crate::model::value::{AttributeValue, Item, ValueType};

/// A value-producing term of a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(DocPath),
    Value(AttributeValue),
    Size(Box<Operand>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Always true: an empty legacy condition map.
    True,
    Cmp(CmpOp, Operand, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    Exists(DocPath),
    NotExists(DocPath),
    Type(Operand, ValueType),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
    Not(Box<Condition>),
    And(Vec<Condition>),
    Or(Vec<Condition>),
}

impl Operand {
    /// The operand's value for `item`, or `None` if a path is missing or a
    /// function is undefined for its argument.
    pub fn eval<'a>(&'a self, item: &'a Item) -> Option<Cow<'a, AttributeValue>> {
        match self {
            Operand::Path(p) => p.get(item).map(Cow::Borrowed),
            Operand::Value(v) => Some(Cow::Borrowed(v)),
            Operand::Size(inner) => {
                let v = inner.eval(item)?;
                size_of(&v).map(|n| Cow::Owned(AttributeValue::N(Number::from_i64(n))))
            }
        }
    }
}

/// What `size()` returns, or `None` for types it is not defined on.
pub(crate) fn size_of(v: &AttributeValue) -> Option<i64> {
    let n = match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::Ss(s) => s.len(),
        AttributeValue::Ns(s) => s.len(),
        AttributeValue::Bs(s) => s.len(),
        AttributeValue::M(m) => m.len(),
        AttributeValue::L(l) => l.len(),
        AttributeValue::N(_) | AttributeValue::Bool(_) | AttributeValue::Null => return None,
    };
    i64::try_from(n).ok()
}

impl Operand {
    fn collect_attributes<'a>(&'a self, out: &mut std::collections::BTreeSet<&'a str>) {
        match self {
            Operand::Path(p) => {
                out.insert(p.top());
            }
            Operand::Value(_) => {}
            Operand::Size(inner) => inner.collect_attributes(out),
        }
    }
}

impl Condition {
    /// The top-level attributes the condition reads (for Query's rule that
    /// filters may not use key attributes).
    pub fn attributes(&self) -> std::collections::BTreeSet<&str> {
        let mut out = std::collections::BTreeSet::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut std::collections::BTreeSet<&'a str>) {
        match self {
            Condition::True => {}
            Condition::Cmp(_, a, b) | Condition::BeginsWith(a, b) | Condition::Contains(a, b) => {
                a.collect_attributes(out);
                b.collect_attributes(out);
            }
            Condition::Between(a, b, c) => {
                for o in [a, b, c] {
                    o.collect_attributes(out);
                }
            }
            Condition::In(a, list) => {
                a.collect_attributes(out);
                for o in list {
                    o.collect_attributes(out);
                }
            }
            Condition::Exists(p) | Condition::NotExists(p) => {
                out.insert(p.top());
            }
            Condition::Type(a, _) => a.collect_attributes(out),
            Condition::Not(c) => c.collect(out),
            Condition::And(cs) | Condition::Or(cs) => {
                for c in cs {
                    c.collect(out);
                }
            }
        }
    }

    /// Whether `item` satisfies the condition (an absent item is an empty one).
    pub fn evaluate(&self, item: &Item) -> Result<bool, ExprError> {
        Ok(self.holds(item))
    }

    fn holds(&self, item: &Item) -> bool {
        match self {
            Condition::True => true,
            Condition::Cmp(op, a, b) => {
                let (a, b) = (a.eval(item), b.eval(item));
                match (a, b) {
                    (Some(a), Some(b)) => compare(*op, &a, &b),
                    // A missing operand is unequal to everything, itself included.
                    _ => *op == CmpOp::Ne,
                }
            }
            Condition::Between(x, lo, hi) => match (x.eval(item), lo.eval(item), hi.eval(item)) {
                (Some(x), Some(lo), Some(hi)) => {
                    matches!(order(&lo, &x), Some(Ordering::Less | Ordering::Equal))
                        && matches!(order(&x, &hi), Some(Ordering::Less | Ordering::Equal))
                }
                _ => false,
            },
            Condition::In(x, list) => match x.eval(item) {
                Some(x) => list
                    .iter()
                    .any(|o| o.eval(item).is_some_and(|v| values_equal(&x, &v))),
                None => false,
            },
            Condition::Exists(p) => p.get(item).is_some(),
            Condition::NotExists(p) => p.get(item).is_none(),
            Condition::Type(x, t) => x.eval(item).is_some_and(|v| v.value_type() == *t),
            Condition::BeginsWith(a, b) => match (a.eval(item), b.eval(item)) {
                (Some(a), Some(b)) => begins_with(&a, &b),
                _ => false,
            },
            Condition::Contains(a, b) => match (a.eval(item), b.eval(item)) {
                (Some(a), Some(b)) => contains(&a, &b),
                _ => false,
            },
            Condition::Not(c) => !c.holds(item),
            Condition::And(cs) => cs.iter().all(|c| c.holds(item)),
            Condition::Or(cs) => cs.iter().any(|c| c.holds(item)),
        }
    }
}

pub(crate) fn compare(op: CmpOp, a: &AttributeValue, b: &AttributeValue) -> bool {
    match op {
        CmpOp::Eq => values_equal(a, b),
        CmpOp::Ne => !values_equal(a, b),
        CmpOp::Lt => order(a, b) == Some(Ordering::Less),
        CmpOp::Le => matches!(order(a, b), Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => order(a, b) == Some(Ordering::Greater),
        CmpOp::Ge => matches!(order(a, b), Some(Ordering::Greater | Ordering::Equal)),
    }
}

/// DynamoDB's ordering: numbers numerically, strings and binaries bytewise,
/// nothing else (and nothing across types).
pub(crate) fn order(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::N(x), AttributeValue::N(y)) => Some(x.cmp(y)),
        (AttributeValue::S(x), AttributeValue::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (AttributeValue::B(x), AttributeValue::B(y)) => Some(x.as_ref().cmp(y.as_ref())),
        _ => None,
    }
}

fn same_members<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    // Sets hold no duplicates, so equal length plus inclusion is equality.
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

/// Deep equality, numbers compared numerically and sets as sets.
pub(crate) fn values_equal(a: &AttributeValue, b: &AttributeValue) -> bool {
    use AttributeValue as V;
    match (a, b) {
        (V::Ss(x), V::Ss(y)) => same_members(x, y),
        (V::Ns(x), V::Ns(y)) => same_members(x, y),
        (V::Bs(x), V::Bs(y)) => same_members(x, y),
        (V::L(x), V::L(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (V::M(x), V::M(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

pub(crate) fn begins_with(a: &AttributeValue, prefix: &AttributeValue) -> bool {
    match (a, prefix) {
        (AttributeValue::S(s), AttributeValue::S(p)) => s.starts_with(p.as_str()),
        (AttributeValue::B(s), AttributeValue::B(p)) => s.starts_with(p),
        _ => false,
    }
}

/// `contains(a, b)`: substring of a string, byte substring of a binary,
/// member of a set (of the matching element type) or element of a list.
pub(crate) fn contains(a: &AttributeValue, b: &AttributeValue) -> bool {
    use AttributeValue as V;
    match (a, b) {
        (V::S(s), V::S(x)) => s.contains(x.as_str()),
        (V::B(s), V::B(x)) => x.is_empty() || s.windows(x.len()).any(|w| w == x.as_ref()),
        (V::Ss(s), V::S(x)) => s.contains(x),
        (V::Ns(s), V::N(x)) => s.contains(x),
        (V::Bs(s), V::B(x)) => s.contains(x),
        (V::L(l), x) => l.iter().any(|e| values_equal(e, x)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn n(s: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(s).unwrap_or_else(|_| Number::from_i64(0)))
    }

    #[test]
    fn sets_compare_as_sets() {
        let a = AttributeValue::Ss(vec!["x".into(), "y".into()]);
        let b = AttributeValue::Ss(vec!["y".into(), "x".into()]);
        assert!(values_equal(&a, &b));
        assert!(!values_equal(&a, &AttributeValue::Ss(vec!["x".into()])));
    }

    #[test]
    fn ordering_only_within_scalar_types() {
        assert_eq!(order(&n("2"), &n("10")), Some(Ordering::Less));
        assert_eq!(
            order(
                &AttributeValue::S("2".into()),
                &AttributeValue::S("10".into())
            ),
            Some(Ordering::Greater)
        );
        assert_eq!(order(&n("1"), &AttributeValue::S("1".into())), None);
        assert_eq!(
            order(&AttributeValue::Bool(true), &AttributeValue::Bool(true)),
            None
        );
    }

    #[test]
    fn missing_operands() {
        let item = Item::new();
        let missing = || Operand::Path(DocPath::attr("q"));
        let ne = Condition::Cmp(CmpOp::Ne, missing(), Operand::Path(DocPath::attr("z")));
        assert_eq!(ne.evaluate(&item), Ok(true));
        let lt = Condition::Cmp(CmpOp::Lt, missing(), Operand::Value(n("1")));
        assert_eq!(lt.evaluate(&item), Ok(false));
        assert_eq!(
            Condition::NotExists(DocPath::attr("q")).evaluate(&item),
            Ok(true)
        );
    }

    #[test]
    fn contains_and_begins_with() {
        let l = AttributeValue::L(vec![n("1"), AttributeValue::S("dog".into())]);
        assert!(contains(&l, &AttributeValue::S("dog".into())));
        assert!(contains(
            &AttributeValue::Ns(vec![Number::from_i64(3)]),
            &n("3")
        ));
        assert!(!contains(&AttributeValue::Ss(vec!["3".into()]), &n("3")));
        assert!(contains(
            &AttributeValue::B(Bytes::from_static(b"abc")),
            &AttributeValue::B(Bytes::from_static(b"bc"))
        ));
        assert!(begins_with(
            &AttributeValue::S("hello".into()),
            &AttributeValue::S("he".into())
        ));
        assert!(!begins_with(&n("12"), &n("1")));
    }

    #[test]
    fn size_of_types() {
        assert_eq!(size_of(&AttributeValue::S("hello".into())), Some(5));
        assert_eq!(size_of(&n("5")), None);
        assert_eq!(size_of(&AttributeValue::Null), None);
    }
}
