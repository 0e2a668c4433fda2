//! Resolution: from a cached `Ast` to evaluable types, substituting
//! ExpressionAttributeNames and ExpressionAttributeValues.
//!
//! Owns the per-request checks: the maps' own validity, undefined and unused
//! references (tracked across every expression of the request, as DynamoDB
//! does), function arities, and the type checks that need the values (a
//! list compared with `<`, a number given to begins_with, BETWEEN bounds out
//! of order, ADD of a string...). Problems found in an item's data are not
//! errors here; they make a condition false or an update fail when applied.
//!
//! DynamoDB validates a whole expression before reporting, in a fixed order
//! of error kinds; `Found` collects the first error of each kind and reports
//! by that order, so e.g. an undefined name wins over an arity error that
//! occurs earlier in the text.

use std::collections::{BTreeSet, HashMap};

use super::ast::{self, Action, Ast, Clause, CmpOp, Cond, Func, Kind, Name, Step};
use super::condition::{Condition, Operand};
use super::key::{self, KeyCondition, KeyNames};
use super::path::{bracketed, collision, DocPath, PathStep, Relation};
use super::projection::Projection;
use super::update::{Update, UpdateAction, UpdateValue};
use super::{cache, ExprError};
use crate::model::value::{AttributeValue, ValueType};

/// Longest attribute name DynamoDB accepts outside keys.
const MAX_NAME_BYTES: usize = 65535;
/// IN takes at most this many operands besides the tested one.
const MAX_IN_LIST: usize = 99;

/// Kinds of resolution errors, for reporting in DynamoDB's order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    Name,
    Value,
    Arity,
    Distinct,
    Overlap,
    Conflict,
    Operand,
    Function,
}

/// The first error of each kind found in one expression.
struct Found {
    kind: Kind,
    slots: [Option<ExprError>; 8],
}

impl Found {
    fn new(kind: Kind) -> Found {
        Found {
            kind,
            slots: Default::default(),
        }
    }

    fn put(&mut self, e: Fault, msg: impl std::fmt::Display) {
        // Conditions report undefined names and values as one kind; updates
        // report arity with the other function errors.
        let e = match (self.kind, e) {
            (Kind::Update, Fault::Arity) => Fault::Function,
            (Kind::Update, e) => e,
            (_, Fault::Value) => Fault::Name,
            (_, e) => e,
        };
        let slot = &mut self.slots[e as usize];
        if slot.is_none() {
            *slot = Some(ExprError(format!("Invalid {}: {msg}", self.kind.label())));
        }
    }

    fn first(&mut self) -> Option<ExprError> {
        use Fault as F;
        let order: &[Fault] = match self.kind {
            Kind::Update => &[
                F::Name,
                F::Value,
                F::Overlap,
                F::Conflict,
                F::Operand,
                F::Function,
            ],
            Kind::Projection => &[F::Name, F::Overlap, F::Conflict],
            _ => &[F::Name, F::Arity, F::Distinct, F::Function],
        };
        order.iter().find_map(|e| self.slots[*e as usize].take())
    }

    fn into_result<T>(mut self, v: T) -> Result<T, ExprError> {
        match self.first() {
            Some(e) => Err(e),
            None => Ok(v),
        }
    }

    fn operand_type(&mut self, op: &str, t: ValueType) {
        self.put(
            Fault::Function,
            format_args!("Incorrect operand type for operator or function; operator or function: {op}, operand type: {}", t.as_str()),
        );
    }

    fn arity(&mut self, f: Func, n: usize) {
        self.put(
            Fault::Arity,
            format_args!(
                "Incorrect number of operands for operator or function; operator or function: {}, number of operands: {n}",
                f.name()
            ),
        );
    }

    fn needs_path(&mut self, f: Func) {
        self.put(
            Fault::Function,
            format_args!(
                "Operator or function requires a document path; operator or function: {}",
                f.name()
            ),
        );
    }

    /// Reports `a` and `b` if they are the same path (DynamoDB wants the
    /// operands of a comparison or two-argument function to differ).
    fn distinct(&mut self, op: &str, a: &Operand, b: &Operand) {
        if let (Operand::Path(p), Operand::Path(q)) = (a, b) {
            if p == q {
                self.put(
                    Fault::Distinct,
                    format_args!(
                        "The first operand must be distinct from the remaining operands for this operator or function; operator: {op}, first operand: {}",
                        bracketed(p)
                    ),
                );
            }
        }
    }

    /// Reports overlapping (or, failing that, conflicting) paths.
    fn overlaps(&mut self, paths: &[DocPath]) {
        if let Some((rel, message)) = collision(paths) {
            self.put(
                if rel == Relation::Overlap {
                    Fault::Overlap
                } else {
                    Fault::Conflict
                },
                message,
            );
        }
    }
}

/// Resolves the expressions of one request against its
/// ExpressionAttributeNames/Values, remembering which were used.
///
/// Call the expression methods in DynamoDB's validation order — update,
/// condition, key condition, filter, projection — then `finish`.
pub struct Resolver<'a> {
    names: Option<&'a HashMap<String, String>>,
    values: Option<&'a HashMap<String, AttributeValue>>,
    used_names: BTreeSet<&'a str>,
    used_values: BTreeSet<&'a str>,
}

fn is_ref(key: &str, sigil: char) -> bool {
    let mut chars = key.chars();
    chars.next() == Some(sigil)
        && key.len() > 1
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn sorted_keys<V>(m: &HashMap<String, V>) -> Vec<&String> {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    keys
}

/// The message for an empty set given as a value, if `v` is one.
fn empty_set_message(v: &AttributeValue) -> Option<&'static str> {
    match v {
        AttributeValue::Ss(s) if s.is_empty() => Some("An string set  may not be empty"),
        AttributeValue::Ns(s) if s.is_empty() => Some("An number set  may not be empty"),
        AttributeValue::Bs(s) if s.is_empty() => Some("Binary sets should not be empty"),
        _ => None,
    }
}

/// DynamoDB's long type names, used in ADD/DELETE operand errors.
fn long_type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::S => "STRING",
        ValueType::N => "NUMBER",
        ValueType::B => "BINARY",
        ValueType::Bool => "BOOLEAN",
        ValueType::Null => "NULL",
        ValueType::M => "MAP",
        ValueType::L => "LIST",
        ValueType::Ss => "STRING_SET",
        ValueType::Ns => "NUMBER_SET",
        ValueType::Bs => "BINARY_SET",
    }
}

/// `{N:20}`-style rendering used in BETWEEN errors.
fn render(v: &AttributeValue) -> String {
    match v {
        AttributeValue::S(s) => format!("{{S:{s}}}"),
        AttributeValue::N(n) => format!("{{N:{n}}}"),
        AttributeValue::B(b) => format!("{{B:{}}}", super::legacy::base64(b)),
        other => format!("{{{}}}", other.value_type().as_str()),
    }
}

/// The type an operand is known to have before any item is seen.
fn static_type(o: &Operand) -> Option<ValueType> {
    match o {
        Operand::Value(v) => Some(v.value_type()),
        Operand::Size(_) => Some(ValueType::N),
        Operand::Path(_) => None,
    }
}

fn orderable(t: ValueType) -> bool {
    matches!(t, ValueType::N | ValueType::S | ValueType::B)
}

impl<'a> Resolver<'a> {
    /// Validates the maps themselves, as DynamoDB does before looking at any
    /// expression: present maps must be non-empty and keys well-formed.
    pub fn new(
        names: Option<&'a HashMap<String, String>>,
        values: Option<&'a HashMap<String, AttributeValue>>,
    ) -> Result<Self, ExprError> {
        if let Some(n) = names {
            if n.is_empty() {
                return Err(ExprError::new("ExpressionAttributeNames must not be empty"));
            }
            for k in sorted_keys(n) {
                if !is_ref(k, '#') {
                    return Err(ExprError(format!(
                        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{k}\""
                    )));
                }
            }
            for k in sorted_keys(n) {
                let len = n.get(k).map_or(0, String::len);
                if len == 0 {
                    return Err(ExprError(format!(
                        "ExpressionAttributeNames contains invalid value: Empty attribute name for key {k}"
                    )));
                }
                if len > MAX_NAME_BYTES {
                    return Err(ExprError(format!(
                        "ExpressionAttributeNames contains invalid value: Attribute name is too large, must be less than 65536 bytes for key {k}"
                    )));
                }
            }
        }
        if let Some(vs) = values {
            if vs.is_empty() {
                return Err(ExprError::new(
                    "ExpressionAttributeValues must not be empty",
                ));
            }
            for k in sorted_keys(vs) {
                if !is_ref(k, ':') {
                    return Err(ExprError(format!("ExpressionAttributeValues contains invalid key: Syntax error; key: \"{k}\"")));
                }
            }
            for k in sorted_keys(vs) {
                if let Some(msg) = vs.get(k).and_then(empty_set_message) {
                    return Err(ExprError(format!(
                        "ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: {msg} for key {k}"
                    )));
                }
            }
        }
        Ok(Resolver {
            names,
            values,
            used_names: BTreeSet::new(),
            used_values: BTreeSet::new(),
        })
    }

    /// A ConditionExpression.
    pub fn condition(&mut self, text: &str) -> Result<Condition, ExprError> {
        self.resolve_condition(Kind::Condition, text)
    }

    /// A FilterExpression.
    pub fn filter(&mut self, text: &str) -> Result<Condition, ExprError> {
        self.resolve_condition(Kind::Filter, text)
    }

    /// A KeyConditionExpression for the table or index keyed by `key`.
    pub fn key_condition(&mut self, text: &str, key: &KeyNames) -> Result<KeyCondition, ExprError> {
        let c = self.resolve_condition(Kind::KeyCondition, text)?;
        key::assemble(key::parts(&c, key.max_parts())?, key)
    }

    pub fn update(&mut self, text: &str) -> Result<Update, ExprError> {
        let ast = cache::parse_cached(Kind::Update, text)?;
        let Ast::Update(u) = &*ast else {
            return Err(ExprError::new("Invalid UpdateExpression: Syntax error"));
        };
        let mut found = Found::new(Kind::Update);
        let mut actions = Vec::new();
        for (clause, list) in &u.clauses {
            for a in list {
                actions.push(self.action(&mut found, *clause, a));
            }
        }
        let paths: Vec<DocPath> = actions.iter().map(UpdateAction::path).collect();
        found.overlaps(&paths);
        found.into_result(())?;
        Ok(Update::from_distinct(actions))
    }

    pub fn projection(&mut self, text: &str) -> Result<Projection, ExprError> {
        let ast = cache::parse_cached(Kind::Projection, text)?;
        let Ast::Projection(p) = &*ast else {
            return Err(ExprError::new("Invalid ProjectionExpression: Syntax error"));
        };
        let mut found = Found::new(Kind::Projection);
        let paths: Vec<DocPath> = p
            .paths
            .iter()
            .map(|path| self.path(&mut found, path))
            .collect();
        found.overlaps(&paths);
        found.into_result(Projection::from_paths_lenient(paths))
    }

    /// Rejects names and values no expression used.
    pub fn finish(self) -> Result<(), ExprError> {
        if let Some(n) = self.names {
            let unused: Vec<&str> = sorted_keys(n)
                .into_iter()
                .map(String::as_str)
                .filter(|k| !self.used_names.contains(k))
                .collect();
            if !unused.is_empty() {
                return Err(ExprError(format!(
                    "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                    unused.join(", ")
                )));
            }
        }
        if let Some(v) = self.values {
            let unused: Vec<&str> = sorted_keys(v)
                .into_iter()
                .map(String::as_str)
                .filter(|k| !self.used_values.contains(k))
                .collect();
            if !unused.is_empty() {
                return Err(ExprError(format!(
                    "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                    unused.join(", ")
                )));
            }
        }
        Ok(())
    }

    // ---- references ---------------------------------------------------

    /// The attribute name `n` stands for; undefined references are recorded
    /// and resolve to an empty name (the expression fails anyway).
    fn name(&mut self, found: &mut Found, n: &Name) -> String {
        match n {
            Name::Plain(s) => s.clone(),
            Name::Ref(r) => match self.names.and_then(|m| m.get_key_value(r)) {
                Some((k, v)) => {
                    self.used_names.insert(k.as_str());
                    v.clone()
                }
                None => {
                    found.put(
                        Fault::Name,
                        format_args!("An expression attribute name used in the document path is not defined; attribute name: {r}"),
                    );
                    String::new()
                }
            },
        }
    }

    fn value(&mut self, found: &mut Found, r: &str) -> Option<AttributeValue> {
        match self.values.and_then(|m| m.get_key_value(r)) {
            Some((k, v)) => {
                self.used_values.insert(k.as_str());
                Some(v.clone())
            }
            None => {
                found.put(
                    Fault::Value,
                    format_args!("An expression attribute value used in expression is not defined; attribute value: {r}"),
                );
                None
            }
        }
    }

    fn path(&mut self, found: &mut Found, p: &ast::Path) -> DocPath {
        let steps =
            p.0.iter()
                .map(|s| match s {
                    Step::Name(n) => PathStep::Attr(self.name(found, n)),
                    Step::Index(i) => PathStep::Index(*i as usize),
                })
                .collect();
        DocPath::new(steps)
    }

    // ---- conditions ---------------------------------------------------

    fn resolve_condition(&mut self, kind: Kind, text: &str) -> Result<Condition, ExprError> {
        let ast = cache::parse_cached(kind, text)?;
        let Ast::Condition(c) = &*ast else {
            return Err(ExprError(format!("Invalid {}: Syntax error", kind.label())));
        };
        let mut found = Found::new(kind);
        let c = self.cond(&mut found, c);
        found.into_result(c)
    }

    fn cond(&mut self, found: &mut Found, c: &Cond) -> Condition {
        match c {
            Cond::Cmp(op, a, b) => {
                let (a, b) = (self.operand(found, a), self.operand(found, b));
                found.distinct(op.symbol(), &a, &b);
                if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    for o in [&a, &b] {
                        require_orderable(found, op.symbol(), o);
                    }
                }
                Condition::Cmp(*op, a, b)
            }
            Cond::Between(x, lo, hi) => {
                let (x, lo, hi) = (
                    self.operand(found, x),
                    self.operand(found, lo),
                    self.operand(found, hi),
                );
                for o in [&x, &lo, &hi] {
                    require_orderable(found, "BETWEEN", o);
                }
                if let (Operand::Value(l), Operand::Value(h)) = (&lo, &hi) {
                    check_bounds(found, l, h);
                }
                Condition::Between(x, lo, hi)
            }
            Cond::In(x, list) => {
                if list.len() > MAX_IN_LIST {
                    found.put(
                        Fault::Function,
                        format_args!("The IN operator is provided with too many operands; number of operands: {}", list.len() + 1),
                    );
                }
                let x = self.operand(found, x);
                let list = list.iter().map(|o| self.operand(found, o)).collect();
                Condition::In(x, list)
            }
            Cond::Call(f, args) => self.bool_call(found, *f, args),
            Cond::Not(inner) => Condition::Not(Box::new(self.cond(found, inner))),
            Cond::And(a, b) => Condition::And(vec![self.cond(found, a), self.cond(found, b)]),
            Cond::Or(a, b) => Condition::Or(vec![self.cond(found, a), self.cond(found, b)]),
        }
    }

    fn operand(&mut self, found: &mut Found, o: &ast::Operand) -> Operand {
        match o {
            ast::Operand::Path(p) => Operand::Path(self.path(found, p)),
            ast::Operand::Value(v) => {
                Operand::Value(self.value(found, v).unwrap_or(AttributeValue::Null))
            }
            ast::Operand::Call(Func::Size, args) => {
                let resolved: Vec<Operand> = args.iter().map(|a| self.operand(found, a)).collect();
                if resolved.len() != 1 {
                    found.arity(Func::Size, resolved.len());
                }
                let arg = resolved
                    .into_iter()
                    .next()
                    .unwrap_or(Operand::Value(AttributeValue::Null));
                if let Some(t) = static_type(&arg) {
                    if matches!(t, ValueType::N | ValueType::Bool | ValueType::Null) {
                        found.operand_type("size", t);
                    }
                }
                Operand::Size(Box::new(arg))
            }
            // The parser rejects every other function and arithmetic in a
            // condition's operands; stay an error if one is ever reached.
            ast::Operand::Call(f, _) => {
                found.put(
                    Fault::Function,
                    format_args!("The function is not allowed to be used this way in an expression; function: {}", f.name()),
                );
                Operand::Value(AttributeValue::Null)
            }
            ast::Operand::Plus(..) | ast::Operand::Minus(..) => {
                found.put(Fault::Function, "Syntax error");
                Operand::Value(AttributeValue::Null)
            }
        }
    }

    fn bool_call(&mut self, found: &mut Found, f: Func, args: &[ast::Operand]) -> Condition {
        let resolved: Vec<Operand> = args.iter().map(|a| self.operand(found, a)).collect();
        if resolved.len() != f.arity() {
            found.arity(f, resolved.len());
            return Condition::True;
        }
        let mut it = resolved.into_iter();
        let (Some(a), b) = (it.next(), it.next()) else {
            return Condition::True;
        };
        if let Some(b) = &b {
            found.distinct(f.name(), &a, b);
        }
        match (f, a, b) {
            (Func::AttributeExists, Operand::Path(p), None) => Condition::Exists(p),
            (Func::AttributeNotExists, Operand::Path(p), None) => Condition::NotExists(p),
            (Func::AttributeType, a, Some(t)) => {
                let vt = match &t {
                    Operand::Value(AttributeValue::S(name)) => match ValueType::parse(name) {
                        Some(vt) => vt,
                        None => {
                            found.put(
                                Fault::Function,
                                format_args!("Invalid attribute type name found; type: {name}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"),
                            );
                            ValueType::Null
                        }
                    },
                    other => {
                        let shown = static_type(other)
                            .map_or("{NS,SS,L,BS,N,M,B,BOOL,NULL,S}", ValueType::as_str);
                        found.put(
                            Fault::Function,
                            format_args!("Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {shown}"),
                        );
                        ValueType::Null
                    }
                };
                Condition::Type(a, vt)
            }
            (Func::BeginsWith, a, Some(b)) => {
                for o in [&a, &b] {
                    if let Some(t) = static_type(o) {
                        if !matches!(t, ValueType::S | ValueType::B) {
                            found.operand_type("begins_with", t);
                        }
                    }
                }
                Condition::BeginsWith(a, b)
            }
            (Func::Contains, a, Some(b)) => Condition::Contains(a, b),
            (f @ (Func::AttributeExists | Func::AttributeNotExists), _, _) => {
                found.needs_path(f);
                Condition::True
            }
            (f, _, _) => {
                found.put(
                    Fault::Function,
                    format_args!("The function is not allowed to be used this way in an expression; function: {}", f.name()),
                );
                Condition::True
            }
        }
    }

    // ---- updates ------------------------------------------------------

    fn action(&mut self, found: &mut Found, clause: Clause, a: &Action) -> UpdateAction {
        match a {
            Action::Set(p, v) => {
                let p = self.path(found, p);
                UpdateAction::Set(p, self.update_value(found, v))
            }
            Action::Remove(p) => UpdateAction::Remove(self.path(found, p)),
            Action::Add(p, v) | Action::Delete(p, v) => {
                let p = self.path(found, p);
                let v = match v {
                    ast::Operand::Value(r) => self.value(found, r),
                    _ => None,
                };
                if let Some(v) = &v {
                    // Sets are always accepted here (mismatches surface when
                    // applied); ADD also takes a number.
                    let set = matches!(
                        v,
                        AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)
                    );
                    let number_add = clause == Clause::Add && matches!(v, AttributeValue::N(_));
                    if !set && !number_add {
                        found.put(
                            Fault::Operand,
                            format_args!(
                                "Incorrect operand type for operator or function; operator: {}, operand type: {}",
                                clause.keyword(),
                                long_type_name(v.value_type())
                            ),
                        );
                    }
                }
                let v = v.unwrap_or(AttributeValue::Null);
                if clause == Clause::Add {
                    UpdateAction::Add(p, v)
                } else {
                    UpdateAction::Delete(p, v)
                }
            }
        }
    }

    fn update_value(&mut self, found: &mut Found, v: &ast::Operand) -> UpdateValue {
        match v {
            ast::Operand::Path(p) => UpdateValue::Path(self.path(found, p)),
            ast::Operand::Value(r) => {
                UpdateValue::Value(self.value(found, r).unwrap_or(AttributeValue::Null))
            }
            ast::Operand::Plus(a, b) | ast::Operand::Minus(a, b) => {
                let (a, b) = (self.update_value(found, a), self.update_value(found, b));
                let sym = if matches!(v, ast::Operand::Plus(..)) {
                    "+"
                } else {
                    "-"
                };
                for o in [&a, &b] {
                    if let UpdateValue::Value(x) = o {
                        if x.value_type() != ValueType::N {
                            found.operand_type(sym, x.value_type());
                        }
                    }
                }
                if sym == "+" {
                    UpdateValue::Plus(Box::new(a), Box::new(b))
                } else {
                    UpdateValue::Minus(Box::new(a), Box::new(b))
                }
            }
            ast::Operand::Call(f, args) => {
                let resolved: Vec<UpdateValue> =
                    args.iter().map(|a| self.update_value(found, a)).collect();
                if resolved.len() != f.arity() {
                    found.arity(*f, resolved.len());
                    return UpdateValue::Value(AttributeValue::Null);
                }
                let mut it = resolved.into_iter();
                let (Some(a), Some(b)) = (it.next(), it.next()) else {
                    return UpdateValue::Value(AttributeValue::Null);
                };
                match f {
                    Func::IfNotExists => match a {
                        UpdateValue::Path(p) => UpdateValue::IfNotExists(p, Box::new(b)),
                        _ => {
                            found.needs_path(*f);
                            UpdateValue::Value(AttributeValue::Null)
                        }
                    },
                    Func::ListAppend => {
                        for o in [&a, &b] {
                            match o {
                                UpdateValue::ListAppend(..) => found.put(
                                    Fault::Function,
                                    "The function is not allowed to be used this way in an expression; function: list_append",
                                ),
                                UpdateValue::Value(x) if x.value_type() != ValueType::L => {
                                    found.operand_type("list_append", x.value_type())
                                }
                                _ => {}
                            }
                        }
                        UpdateValue::ListAppend(Box::new(a), Box::new(b))
                    }
                    other => {
                        found.put(
                            Fault::Function,
                            format_args!(
                                "The function is not allowed in an update expression; function: {}",
                                other.name()
                            ),
                        );
                        UpdateValue::Value(AttributeValue::Null)
                    }
                }
            }
        }
    }
}

fn require_orderable(found: &mut Found, op: &str, o: &Operand) {
    if let Some(t) = static_type(o) {
        if !orderable(t) {
            found.operand_type(op, t);
        }
    }
}

/// BETWEEN with two constant bounds: same type, lower <= upper.
fn check_bounds(found: &mut Found, l: &AttributeValue, h: &AttributeValue) {
    if !orderable(l.value_type()) || !orderable(h.value_type()) {
        return;
    }
    if l.value_type() != h.value_type() {
        found.put(
            Fault::Function,
            format_args!(
                "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}",
                render(l),
                render(h)
            ),
        );
    } else if super::condition::order(l, h) == Some(std::cmp::Ordering::Greater) {
        found.put(
            Fault::Function,
            format_args!(
                "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}",
                render(l),
                render(h)
            ),
        );
    }
}
