//! Target (b): the expression language. Text generated from the grammar
//! (then sometimes damaged) is parsed as each kind; what parses must print
//! to text that parses to the same print (a fixed point). Then it is
//! resolved with its names and values and evaluated against a generated
//! item: condition and filter evaluate, update applies, projection
//! projects. Every failure must be an `ExprError` with a message.

use std::collections::HashMap;

use ferrodyn_store::expr::{self, KeyNames, Kind, Resolver};
use ferrodyn_store::model::{AttributeValue, Item};

use crate::gen::{self, Refs, SCHEMAS};
use crate::mutate;
use crate::rng::Rng;
use crate::runner::{Case, Target};

pub struct Expr;

const KINDS: [Kind; 5] = [
    Kind::Condition,
    Kind::Filter,
    Kind::KeyCondition,
    Kind::Update,
    Kind::Projection,
];

impl Target for Expr {
    fn name(&self) -> &'static str {
        "expr"
    }

    async fn run_case(&mut self, rng: &mut Rng) -> Case {
        let kind = *rng.pick(&KINDS);
        let mut refs = Refs::default();
        let mut text = match kind {
            Kind::Condition | Kind::Filter => refs.condition(rng, 4),
            Kind::KeyCondition => refs.key_condition(rng, "pk", Some("sk")),
            Kind::Update => refs.update(rng),
            Kind::Projection => refs.projection(rng),
        };
        if rng.one_in(3) {
            mutate::expression(rng, &mut text);
        }
        let names: HashMap<String, String> = refs.names.clone().into_iter().collect();
        // Values that do not decode are dropped: the decoder is the wire
        // target's business.
        let values: HashMap<String, AttributeValue> = refs
            .values
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), serde_json::from_value(v.clone()).ok()?)))
            .collect();
        let item: Item = gen::item(rng, &SCHEMAS[1])
            .into_iter()
            .filter_map(|(k, v)| Some((k, serde_json::from_value(v).ok()?)))
            .collect();
        let mut case = Case::new(format!(
            "{} {text:?} names {names:?} values {:?}",
            kind.label(),
            refs.values
        ));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check(kind, &text, &names, &values, &item)
        }));
        match outcome {
            Ok(Err(problem)) => case.fail(problem),
            Ok(Ok(accepted)) => case.accepted = accepted,
            // The runner reports the panic with its message and place.
            Err(_) => {}
        }
        case
    }
}

fn check(
    kind: Kind,
    text: &str,
    names: &HashMap<String, String>,
    values: &HashMap<String, AttributeValue>,
    item: &Item,
) -> Result<bool, String> {
    match expr::parse_uncached(kind, text) {
        Ok(ast) => {
            let printed = ast.to_string();
            match expr::parse_uncached(kind, &printed) {
                Ok(again) if again.to_string() == printed => {}
                Ok(again) => {
                    return Err(format!(
                        "print is not a fixed point: {printed:?} -> {:?}",
                        again.to_string()
                    ))
                }
                Err(e) => return Err(format!("printed form {printed:?} does not parse: {e}")),
            }
        }
        Err(e) if e.0.is_empty() => return Err("parse error without a message".to_owned()),
        Err(_) => {}
    }
    let names = (!names.is_empty()).then_some(names);
    let values = (!values.is_empty()).then_some(values);
    let mut resolver = match Resolver::new(names, values) {
        Ok(r) => r,
        Err(e) if e.0.is_empty() => return Err("empty message".to_owned()),
        Err(_) => return Ok(false),
    };
    let evaluated = match kind {
        Kind::Condition => resolver
            .condition(text)
            .and_then(|c| c.evaluate(item).map(drop)),
        Kind::Filter => resolver
            .filter(text)
            .and_then(|c| c.evaluate(item).map(drop)),
        Kind::KeyCondition => {
            let key = KeyNames {
                partition: vec!["pk".to_owned()],
                sort: vec!["sk".to_owned()],
            };
            resolver.key_condition(text, &key).map(drop)
        }
        Kind::Update => resolver
            .update(text)
            .and_then(|u| u.apply(item, &["pk", "sk"]).map(drop)),
        Kind::Projection => resolver.projection(text).map(|p| drop(p.apply(item))),
    };
    let result = evaluated.and_then(|()| resolver.finish());
    match result {
        Err(e) if e.0.is_empty() => Err("error without a message".to_owned()),
        Err(_) => Ok(false),
        Ok(()) => Ok(true),
    }
}
