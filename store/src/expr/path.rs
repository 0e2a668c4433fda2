//! Resolved document paths (`a.b[2].c` with `#names` substituted) and
//! reading through them.
//!
//! Invariant: a `DocPath` is non-empty and starts with an attribute name.
//! Paths are at most a few thousand steps (they come from a 4 KB expression
//! or a legacy attribute name), and every walk here is a loop, not recursion.

use std::fmt;

use crate::model::value::{AttributeValue, Item};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathStep {
    /// A map key (or, first, a top-level attribute name).
    Attr(String),
    /// A list index.
    Index(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocPath {
    steps: Vec<PathStep>,
}

impl DocPath {
    /// A path written as its steps, numbers being list indexes (tests).
    #[cfg(test)]
    pub(crate) fn from_steps(steps: &[&str]) -> DocPath {
        DocPath::new(
            steps
                .iter()
                .map(|s| match s.parse::<usize>() {
                    Ok(i) => PathStep::Index(i),
                    Err(_) => PathStep::Attr(s.to_string()),
                })
                .collect(),
        )
    }

    /// `steps` must be non-empty and begin with `Attr`; callers construct
    /// paths only from parsed expressions, which guarantee that.
    pub(crate) fn new(steps: Vec<PathStep>) -> DocPath {
        debug_assert!(matches!(steps.first(), Some(PathStep::Attr(_))));
        DocPath { steps }
    }

    /// A path naming one top-level attribute.
    pub fn attr(name: impl Into<String>) -> DocPath {
        DocPath {
            steps: vec![PathStep::Attr(name.into())],
        }
    }

    pub fn steps(&self) -> &[PathStep] {
        &self.steps
    }

    /// The top-level attribute this path starts at.
    pub fn top(&self) -> &str {
        match self.steps.first() {
            Some(PathStep::Attr(a)) => a,
            _ => "",
        }
    }

    pub fn is_top_level(&self) -> bool {
        self.steps.len() == 1
    }

    /// The value at this path, if every step exists.
    pub fn get<'a>(&self, item: &'a Item) -> Option<&'a AttributeValue> {
        let mut steps = self.steps.iter();
        let mut cur = match steps.next() {
            Some(PathStep::Attr(a)) => item.get(a)?,
            _ => return None,
        };
        for step in steps {
            cur = step_into(cur, step)?;
        }
        Some(cur)
    }
}

/// One step down from `v`, if `v` has that member.
pub(crate) fn step_into<'a>(v: &'a AttributeValue, step: &PathStep) -> Option<&'a AttributeValue> {
    match (v, step) {
        (AttributeValue::M(m), PathStep::Attr(k)) => m.get(k),
        (AttributeValue::L(l), PathStep::Index(i)) => l.get(*i),
        _ => None,
    }
}

pub(crate) fn step_into_mut<'a>(
    v: &'a mut AttributeValue,
    step: &PathStep,
) -> Option<&'a mut AttributeValue> {
    match (v, step) {
        (AttributeValue::M(m), PathStep::Attr(k)) => m.get_mut(k),
        (AttributeValue::L(l), PathStep::Index(i)) => l.get_mut(*i),
        _ => None,
    }
}

/// Written as an expression would write it (`a.b[2]`), for tests and logs.
impl fmt::Display for DocPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.steps.iter().enumerate() {
            match s {
                PathStep::Attr(a) if i == 0 => f.write_str(a)?,
                PathStep::Attr(a) => write!(f, ".{a}")?,
                PathStep::Index(ix) => write!(f, "[{ix}]")?,
            }
        }
        Ok(())
    }
}

/// DynamoDB's rendering of a path in overlap/conflict messages:
/// `[a, b, [2]]`.
pub(crate) fn bracketed(p: &DocPath) -> String {
    let parts: Vec<String> = p
        .steps
        .iter()
        .map(|s| match s {
            PathStep::Attr(a) => a.clone(),
            PathStep::Index(i) => format!("[{i}]"),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// How two paths relate, for the "overlap"/"conflict" checks of updates and
/// projections.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Relation {
    Disjoint,
    /// One is a prefix of the other (or they are equal).
    Overlap,
    /// They share a prefix and then one indexes a list where the other names a
    /// map key, so they cannot both denote existing values.
    Conflict,
}

pub(crate) fn relation(a: &DocPath, b: &DocPath) -> Relation {
    for (x, y) in a.steps.iter().zip(b.steps.iter()) {
        match (x, y) {
            (PathStep::Attr(p), PathStep::Attr(q)) if p == q => {}
            (PathStep::Index(p), PathStep::Index(q)) if p == q => {}
            (PathStep::Attr(_), PathStep::Attr(_)) | (PathStep::Index(_), PathStep::Index(_)) => {
                return Relation::Disjoint
            }
            _ => return Relation::Conflict,
        }
    }
    Relation::Overlap
}

/// The first overlapping pair of `paths` or, if none overlap, the first
/// conflicting pair, with DynamoDB's description (without the
/// "Invalid ...Expression: " prefix).
pub(crate) fn collision(paths: &[DocPath]) -> Option<(Relation, String)> {
    let mut conflict = None;
    for i in 0..paths.len() {
        for j in 0..i {
            match relation(&paths[j], &paths[i]) {
                Relation::Disjoint => {}
                Relation::Overlap => {
                    return Some((Relation::Overlap, describe("overlap", &paths[j], &paths[i])))
                }
                Relation::Conflict => {
                    if conflict.is_none() {
                        conflict = Some((
                            Relation::Conflict,
                            describe("conflict", &paths[j], &paths[i]),
                        ));
                    }
                }
            }
        }
    }
    conflict
}

fn describe(what: &str, one: &DocPath, two: &DocPath) -> String {
    format!(
        "Two document paths {what} with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
        bracketed(one),
        bracketed(two)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(steps: &[&str]) -> DocPath {
        DocPath::from_steps(steps)
    }

    #[test]
    fn relations() {
        assert_eq!(relation(&p(&["a"]), &p(&["a", "b"])), Relation::Overlap);
        assert_eq!(
            relation(&p(&["a", "b"]), &p(&["a", "b"])),
            Relation::Overlap
        );
        assert_eq!(
            relation(&p(&["a", "b"]), &p(&["a", "c"])),
            Relation::Disjoint
        );
        assert_eq!(
            relation(&p(&["a", "1"]), &p(&["a", "2"])),
            Relation::Disjoint
        );
        assert_eq!(
            relation(&p(&["a", "b"]), &p(&["a", "1"])),
            Relation::Conflict
        );
        assert_eq!(bracketed(&p(&["a", "1", "c"])), "[a, [1], c]");
    }

    #[test]
    fn get_walks_maps_and_lists() {
        let mut inner = Item::new();
        inner.insert("c".into(), AttributeValue::Bool(true));
        let mut item = Item::new();
        item.insert(
            "a".into(),
            AttributeValue::L(vec![AttributeValue::Null, AttributeValue::M(inner)]),
        );
        assert_eq!(
            p(&["a", "1", "c"]).get(&item),
            Some(&AttributeValue::Bool(true))
        );
        assert_eq!(p(&["a", "2", "c"]).get(&item), None);
        assert_eq!(p(&["a", "x"]).get(&item), None);
        assert_eq!(p(&["a", "1", "c"]).to_string(), "a[1].c");
    }
}
