//! Property tests: printing and re-parsing any expression gives the same
//! AST; arbitrary token soup never panics the parser; comparisons agree with
//! the model's own orders; updates are total (a result or an error, never a
//! panic).

use std::cmp::Ordering;
use std::collections::HashMap;

use bytes::Bytes;
use proptest::prelude::*;

use super::ast::{
    Action, Ast, Clause, CmpOp, Cond, Func, Kind, Name, Operand, Path, ProjectionAst, Step,
    UpdateAst,
};
use super::{parse, Resolver};
use crate::model::number::Number;
use crate::model::value::{AttributeValue, Item};

const PLAIN: [&str; 5] = ["a", "b", "c1", "x_y", "Foo9"];
const REFS: [&str; 3] = ["#n", "#n1", "#_"];
const VALUES: [&str; 3] = [":v", ":v1", ":_w"];

fn name() -> impl Strategy<Value = Name> {
    prop_oneof![
        prop::sample::select(&PLAIN[..]).prop_map(|s| Name::Plain(s.to_string())),
        prop::sample::select(&REFS[..]).prop_map(|s| Name::Ref(s.to_string())),
    ]
}

fn path() -> impl Strategy<Value = Path> {
    let step = prop_oneof![
        name().prop_map(Step::Name),
        (0u32..12).prop_map(Step::Index)
    ];
    (name(), prop::collection::vec(step, 0..4)).prop_map(|(first, rest)| {
        let mut steps = vec![Step::Name(first)];
        steps.extend(rest);
        Path(steps)
    })
}

fn value() -> impl Strategy<Value = Operand> {
    prop::sample::select(&VALUES[..]).prop_map(|v| Operand::Value(v.to_string()))
}

fn leaf() -> impl Strategy<Value = Operand> {
    prop_oneof![path().prop_map(Operand::Path), value()]
}

fn cond_operand() -> impl Strategy<Value = Operand> {
    prop_oneof![3 => leaf(), 1 => path().prop_map(|p| Operand::Call(Func::Size, vec![Operand::Path(p)]))]
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(vec![
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ])
}

fn primitive() -> impl Strategy<Value = Cond> {
    prop_oneof![
        (cmp_op(), cond_operand(), cond_operand()).prop_map(|(op, a, b)| Cond::Cmp(op, a, b)),
        (cond_operand(), cond_operand(), cond_operand())
            .prop_map(|(a, b, c)| Cond::Between(a, b, c)),
        (cond_operand(), prop::collection::vec(cond_operand(), 1..4))
            .prop_map(|(a, l)| Cond::In(a, l)),
        path().prop_map(|p| Cond::Call(Func::AttributeExists, vec![Operand::Path(p)])),
        path().prop_map(|p| Cond::Call(Func::AttributeNotExists, vec![Operand::Path(p)])),
        (leaf(), value()).prop_map(|(a, t)| Cond::Call(Func::AttributeType, vec![a, t])),
        (leaf(), leaf()).prop_map(|(a, b)| Cond::Call(Func::BeginsWith, vec![a, b])),
        (leaf(), leaf()).prop_map(|(a, b)| Cond::Call(Func::Contains, vec![a, b])),
    ]
}

fn condition() -> impl Strategy<Value = Cond> {
    primitive().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| Cond::Not(Box::new(c))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Cond::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Cond::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn set_operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        3 => leaf(),
        1 => (path(), leaf()).prop_map(|(p, d)| Operand::Call(Func::IfNotExists, vec![Operand::Path(p), d])),
        1 => (leaf(), leaf()).prop_map(|(a, b)| Operand::Call(Func::ListAppend, vec![a, b])),
    ]
}

fn set_value() -> impl Strategy<Value = Operand> {
    prop_oneof![
        2 => set_operand(),
        1 => (set_operand(), set_operand()).prop_map(|(a, b)| Operand::Plus(Box::new(a), Box::new(b))),
        1 => (set_operand(), set_operand()).prop_map(|(a, b)| Operand::Minus(Box::new(a), Box::new(b))),
    ]
}

fn action(clause: Clause) -> BoxedStrategy<Action> {
    match clause {
        Clause::Set => (path(), set_value())
            .prop_map(|(p, v)| Action::Set(p, v))
            .boxed(),
        Clause::Remove => path().prop_map(Action::Remove).boxed(),
        Clause::Add => (path(), value())
            .prop_map(|(p, v)| Action::Add(p, v))
            .boxed(),
        Clause::Delete => (path(), value())
            .prop_map(|(p, v)| Action::Delete(p, v))
            .boxed(),
    }
}

fn update() -> impl Strategy<Value = UpdateAst> {
    let clauses = vec![Clause::Set, Clause::Remove, Clause::Add, Clause::Delete];
    Just(clauses)
        .prop_shuffle()
        .prop_flat_map(|order| {
            (1..=4usize).prop_flat_map(move |k| {
                let chosen: Vec<Clause> = order.iter().copied().take(k).collect();
                chosen
                    .into_iter()
                    .map(|c| prop::collection::vec(action(c), 1..4).prop_map(move |a| (c, a)))
                    .collect::<Vec<_>>()
            })
        })
        .prop_map(|clauses| UpdateAst { clauses })
}

fn reparse(kind: Kind, ast: Ast) -> Result<(), TestCaseError> {
    let text = ast.to_string();
    match parse(kind, &text) {
        Ok(again) => prop_assert_eq!(&*again, &ast, "text: {}", text),
        Err(e) => return Err(TestCaseError::fail(format!("{text:?} does not parse: {e}"))),
    }
    Ok(())
}

const SOUP: [&str; 34] = [
    "a",
    "b",
    "#n",
    ":v",
    "(",
    ")",
    "[",
    "]",
    ".",
    ",",
    "=",
    "<",
    ">",
    "<>",
    "<=",
    ">=",
    "+",
    "-",
    "AND",
    "OR",
    "NOT",
    "BETWEEN",
    "IN",
    "SET",
    "REMOVE",
    "ADD",
    "DELETE",
    "size",
    "attribute_exists",
    "list_append",
    "0",
    "12",
    "_",
    "!",
];

fn number() -> impl Strategy<Value = Number> {
    (any::<i64>(), -40i32..40).prop_filter_map("out of range", |(m, e)| {
        Number::parse(&format!("{m}E{e}")).ok()
    })
}

fn scalar() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        number().prop_map(AttributeValue::N),
        "[a-c]{0,4}".prop_map(AttributeValue::S),
        prop::collection::vec(any::<u8>(), 0..4).prop_map(|v| AttributeValue::B(Bytes::from(v))),
    ]
}

fn model_order(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::N(x), AttributeValue::N(y)) => Some(x.cmp(y)),
        (AttributeValue::S(x), AttributeValue::S(y)) => Some(x.cmp(y)),
        (AttributeValue::B(x), AttributeValue::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn doc() -> impl Strategy<Value = AttributeValue> {
    let leaf = prop_oneof![
        scalar(),
        Just(AttributeValue::Null),
        any::<bool>().prop_map(AttributeValue::Bool)
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(AttributeValue::L),
            prop::collection::btree_map(
                prop::sample::select(&PLAIN[..]).prop_map(str::to_string),
                inner,
                0..3
            )
            .prop_map(AttributeValue::M),
        ]
    })
}

fn item() -> impl Strategy<Value = Item> {
    prop::collection::btree_map(
        prop::sample::select(&PLAIN[..]).prop_map(str::to_string),
        doc(),
        0..4,
    )
}

proptest! {
    // Failures are reported, not written next to the sources.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn conditions_print_and_parse_back(c in condition()) {
        reparse(Kind::Condition, Ast::Condition(c))?;
    }

    #[test]
    fn updates_print_and_parse_back(u in update()) {
        reparse(Kind::Update, Ast::Update(u))?;
    }

    #[test]
    fn projections_print_and_parse_back(paths in prop::collection::vec(path(), 1..5)) {
        reparse(Kind::Projection, Ast::Projection(ProjectionAst { paths }))?;
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(&SOUP[..]), 0..40), spaced in any::<bool>()) {
        let text = tokens.join(if spaced { " " } else { "" });
        for kind in [Kind::Condition, Kind::Update, Kind::Projection] {
            if let Ok(ast) = parse(kind, &text) {
                reparse(kind, (*ast).clone())?;
            }
        }
    }

    #[test]
    fn comparisons_agree_with_the_model_order(a in scalar(), b in scalar()) {
        let values: HashMap<String, AttributeValue> = [(":a".to_string(), a.clone()), (":b".to_string(), b.clone())].into_iter().collect();
        let want = model_order(&a, &b);
        for (op, holds) in [
            ("=", want == Some(Ordering::Equal)),
            ("<>", want != Some(Ordering::Equal)),
            ("<", want == Some(Ordering::Less)),
            ("<=", matches!(want, Some(Ordering::Less | Ordering::Equal))),
            (">", want == Some(Ordering::Greater)),
            (">=", matches!(want, Some(Ordering::Greater | Ordering::Equal))),
        ] {
            let mut r = Resolver::new(None, Some(&values)).map_err(|e| TestCaseError::fail(e.0))?;
            let c = r.condition(&format!(":a {op} :b")).map_err(|e| TestCaseError::fail(e.0))?;
            prop_assert_eq!(c.evaluate(&Item::new()), Ok(holds), "{:?} {} {:?}", a, op, b);
        }
    }

    #[test]
    fn updates_are_total(u in update(), old in item(), v in doc()) {
        let names: HashMap<String, String> = REFS.iter().map(|r| (r.to_string(), "b".to_string())).collect();
        let values: HashMap<String, AttributeValue> = VALUES.iter().map(|k| (k.to_string(), v.clone())).collect();
        let text = u.to_string();
        let Ok(mut r) = Resolver::new(Some(&names), Some(&values)) else { return Ok(()) };
        if let Ok(update) = r.update(&text) {
            if let Ok(new) = update.apply(&old, &[]) {
                let _ = update.updated_part(&new);
            }
        }
    }

    /// Without list indexes (which compact the lists they select from),
    /// projecting a projection changes nothing.
    #[test]
    fn projection_without_indexes_is_idempotent(paths in prop::collection::vec(path(), 1..4), it in item()) {
        let names: HashMap<String, String> = REFS.iter().map(|r| (r.to_string(), "b".to_string())).collect();
        let paths: Vec<Path> =
            paths.into_iter().map(|p| Path(p.0.into_iter().filter(|s| matches!(s, Step::Name(_))).collect())).collect();
        let text = ProjectionAst { paths }.to_string();
        let mut r = Resolver::new(Some(&names), None).map_err(|e| TestCaseError::fail(e.0))?;
        if let Ok(p) = r.projection(&text) {
            let once = p.apply(&it);
            prop_assert_eq!(p.apply(&once), once);
        }
    }
}
