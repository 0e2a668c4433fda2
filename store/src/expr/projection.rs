//! Projections (ProjectionExpression, AttributesToGet, and the shaping of
//! UPDATED_OLD/UPDATED_NEW return values).
//!
//! DynamoDB's shaping: each requested path that exists in the item is copied
//! into the result inside the same chain of maps; list indexes select
//! elements, and the selected elements of one list come back as a shorter
//! list in index order (`a.b[2].y` of `{a:{b:[2,4,{x,y}]}}` is
//! `{a:{b:[{y}]}}`). Paths that do not exist contribute nothing.
//!
//! Invariant: the intermediate tree only follows paths that exist in the
//! item, so its depth is bounded by the item's nesting depth.

use std::collections::BTreeMap;

use super::path::{collision, DocPath, PathStep};
use super::ExprError;
use crate::model::value::{AttributeValue, Item};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    paths: Vec<DocPath>,
}

enum Node {
    Whole(AttributeValue),
    Map(BTreeMap<String, Node>),
    List(BTreeMap<usize, Node>),
}

impl Projection {
    /// A projection of `paths`, rejecting overlapping or conflicting ones
    /// with DynamoDB's ProjectionExpression messages.
    pub fn new(paths: Vec<DocPath>) -> Result<Projection, ExprError> {
        match collision(&paths) {
            Some((_, message)) => Err(ExprError(format!(
                "Invalid ProjectionExpression: {message}"
            ))),
            None => Ok(Projection { paths }),
        }
    }

    /// A projection that tolerates overlapping paths (a path covered by a
    /// shorter one adds nothing).
    pub(crate) fn from_paths_lenient(paths: Vec<DocPath>) -> Projection {
        Projection { paths }
    }

    pub fn paths(&self) -> &[DocPath] {
        &self.paths
    }

    /// The top-level attribute names the projection reads.
    pub fn top_level_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.paths.iter().map(DocPath::top).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    pub fn apply(&self, item: &Item) -> Item {
        let mut root: BTreeMap<String, Node> = BTreeMap::new();
        for p in &self.paths {
            if let Some(v) = p.get(item) {
                insert(&mut root, p.steps(), v);
            }
        }
        root.into_iter().map(|(k, n)| (k, n.into_value())).collect()
    }
}

fn insert(root: &mut BTreeMap<String, Node>, steps: &[PathStep], v: &AttributeValue) {
    let Some((PathStep::Attr(top), rest)) = steps.split_first() else {
        return;
    };
    if rest.is_empty() {
        root.insert(top.clone(), Node::Whole(v.clone()));
        return;
    }
    let mut cur = root
        .entry(top.clone())
        .or_insert_with(|| Node::for_step(&rest[0]));
    for (i, step) in rest.iter().enumerate() {
        let last = i + 1 == rest.len();
        let next = match (cur, step) {
            // Already covered by a shorter path.
            (Node::Whole(_), _) => return,
            (Node::Map(m), PathStep::Attr(k)) => {
                if last {
                    m.insert(k.clone(), Node::Whole(v.clone()));
                    return;
                }
                m.entry(k.clone())
                    .or_insert_with(|| Node::for_step(&rest[i + 1]))
            }
            (Node::List(l), PathStep::Index(ix)) => {
                if last {
                    l.insert(*ix, Node::Whole(v.clone()));
                    return;
                }
                l.entry(*ix).or_insert_with(|| Node::for_step(&rest[i + 1]))
            }
            // The path exists in the item, so its steps agree with the
            // containers created for earlier paths; nothing to do otherwise.
            _ => return,
        };
        cur = next;
    }
}

impl Node {
    fn for_step(step: &PathStep) -> Node {
        match step {
            PathStep::Attr(_) => Node::Map(BTreeMap::new()),
            PathStep::Index(_) => Node::List(BTreeMap::new()),
        }
    }

    fn into_value(self) -> AttributeValue {
        match self {
            Node::Whole(v) => v,
            Node::Map(m) => {
                AttributeValue::M(m.into_iter().map(|(k, n)| (k, n.into_value())).collect())
            }
            Node::List(l) => AttributeValue::L(l.into_values().map(Node::into_value).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> AttributeValue {
        AttributeValue::S(x.into())
    }

    fn path(steps: &[&str]) -> DocPath {
        DocPath::from_steps(steps)
    }

    fn sample() -> Item {
        let mut xy = Item::new();
        xy.insert("x".into(), s("hi"));
        xy.insert("y".into(), s("yo"));
        let mut a = Item::new();
        a.insert(
            "b".into(),
            AttributeValue::L(vec![s("2"), s("4"), AttributeValue::M(xy)]),
        );
        a.insert("c".into(), s("5"));
        let mut item = Item::new();
        item.insert("a".into(), AttributeValue::M(a));
        item.insert("b".into(), s("hello"));
        item
    }

    fn project(paths: &[&[&str]]) -> Item {
        let p = Projection::new(paths.iter().map(|p| path(p)).collect());
        match p {
            Ok(p) => p.apply(&sample()),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn nested_list_elements_collapse_in_index_order() {
        let got = project(&[&["a", "b", "2", "y"], &["a", "b", "0"]]);
        let mut y = Item::new();
        y.insert("y".into(), s("yo"));
        let mut a = Item::new();
        a.insert(
            "b".into(),
            AttributeValue::L(vec![s("2"), AttributeValue::M(y)]),
        );
        let mut want = Item::new();
        want.insert("a".into(), AttributeValue::M(a));
        assert_eq!(got, want);
    }

    #[test]
    fn missing_paths_contribute_nothing() {
        for p in [
            &["x"][..],
            &["a", "b", "3"],
            &["a", "x", "y"],
            &["a", "0"],
            &["a", "b", "0", "0"],
            &["a", "b", "x"],
        ] {
            assert!(project(&[p]).is_empty(), "{p:?}");
        }
    }

    #[test]
    fn overlap_and_conflict_are_rejected() {
        let e = Projection::new(vec![path(&["a"]), path(&["a", "b"])]);
        assert_eq!(
            e.err().map(|e| e.0),
            Some("Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]".to_string())
        );
        let e = Projection::new(vec![path(&["a", "b"]), path(&["a", "0"])]);
        assert!(e.err().is_some_and(|e| e.0.contains("conflict")));
    }
}
