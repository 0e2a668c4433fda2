//! Rendering PartiQL conditions, paths and update actions as DynamoDB
//! expressions: every attribute name becomes a `#n<i>` placeholder and
//! every value a `:v<i>` placeholder, so the texts depend only on the
//! statement's shape (the expression cache serves them) and the store's one
//! expression parser and evaluator does the rest.

use std::collections::HashMap;

use super::ast::{Expr, Literal, Operand, Path, SetValue, Step, UpdateAction};
use super::literal::bind;
use super::PartiqlError;
use crate::api::types::{Names, Values};
use crate::model::value::AttributeValue;

pub(crate) struct Render<'a> {
    params: &'a [AttributeValue],
    names: HashMap<String, String>,
    values: Values,
}

impl<'a> Render<'a> {
    pub(crate) fn new(params: &'a [AttributeValue]) -> Render<'a> {
        Render {
            params,
            names: HashMap::new(),
            values: Values::new(),
        }
    }

    /// The placeholders used so far: `(ExpressionAttributeNames,
    /// ExpressionAttributeValues)`, each `None` when empty.
    pub(crate) fn finish(self) -> (Option<Names>, Option<Values>) {
        let names: Names = self.names.into_iter().map(|(n, p)| (p, n)).collect();
        (
            (!names.is_empty()).then_some(names),
            (!self.values.is_empty()).then_some(self.values),
        )
    }

    pub(crate) fn name(&mut self, n: &str) -> String {
        let next = self.names.len();
        self.names
            .entry(n.to_owned())
            .or_insert_with(|| format!("#n{next}"))
            .clone()
    }

    pub(crate) fn value(&mut self, v: AttributeValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), v);
        p
    }

    pub(crate) fn literal(&mut self, lit: &Literal) -> Result<String, PartiqlError> {
        let v = bind(lit, self.params)?;
        Ok(self.value(v))
    }

    pub(crate) fn path(&mut self, p: &Path) -> String {
        let mut out = String::new();
        for step in &p.0 {
            match step {
                Step::Name(n) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    let placeholder = self.name(n);
                    out.push_str(&placeholder);
                }
                Step::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }

    pub(crate) fn operand(&mut self, o: &Operand) -> Result<String, PartiqlError> {
        Ok(match o {
            Operand::Path(p) => self.path(p),
            Operand::Size(p) => format!("size({})", self.path(p)),
            Operand::Value(lit) => self.literal(lit)?,
        })
    }

    pub(crate) fn expr(&mut self, e: &Expr) -> Result<String, PartiqlError> {
        Ok(match e {
            Expr::Or(a, b) => format!("({}) OR ({})", self.expr(a)?, self.expr(b)?),
            Expr::And(a, b) => format!("({}) AND ({})", self.expr(a)?, self.expr(b)?),
            Expr::Not(a) => format!("NOT ({})", self.expr(a)?),
            Expr::Cmp(a, op, b) => {
                format!("{} {} {}", self.operand(a)?, op.symbol(), self.operand(b)?)
            }
            Expr::Between(a, lo, hi) => format!(
                "{} BETWEEN {} AND {}",
                self.operand(a)?,
                self.operand(lo)?,
                self.operand(hi)?
            ),
            Expr::In(a, list) => {
                let a = self.operand(a)?;
                let list = list
                    .iter()
                    .map(|o| self.operand(o))
                    .collect::<Result<Vec<_>, _>>()?;
                format!("{a} IN ({})", list.join(", "))
            }
            Expr::Present(p, true) => format!("attribute_exists({})", self.path(p)),
            Expr::Present(p, false) => format!("attribute_not_exists({})", self.path(p)),
            Expr::Call(f, p, arg) => {
                let p = self.path(p);
                format!("{}({p}, {})", f.name(), self.operand(arg)?)
            }
        })
    }

    /// The conjunction of `parts`, each parenthesized.
    pub(crate) fn all(&mut self, parts: &[&Expr]) -> Result<Option<String>, PartiqlError> {
        let texts = parts
            .iter()
            .map(|e| self.expr(e))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(match texts.len() {
            0 => None,
            1 => texts.into_iter().next(),
            _ => Some(
                texts
                    .iter()
                    .map(|t| format!("({t})"))
                    .collect::<Vec<_>>()
                    .join(" AND "),
            ),
        })
    }

    /// An UpdateExpression for `actions`.
    pub(crate) fn update(&mut self, actions: &[UpdateAction]) -> Result<String, PartiqlError> {
        let (mut set, mut remove, mut add, mut delete) = (vec![], vec![], vec![], vec![]);
        for a in actions {
            match a {
                UpdateAction::Remove(p) => remove.push(self.path(p)),
                UpdateAction::Set(p, v) => {
                    let target = self.path(p);
                    match v {
                        SetValue::Operand(o) => {
                            set.push(format!("{target} = {}", self.operand(o)?))
                        }
                        SetValue::Plus(a, b) => set.push(format!(
                            "{target} = {} + {}",
                            self.operand(a)?,
                            self.operand(b)?
                        )),
                        SetValue::Minus(a, b) => set.push(format!(
                            "{target} = {} - {}",
                            self.operand(a)?,
                            self.operand(b)?
                        )),
                        SetValue::ListAppend(a, b) => set.push(format!(
                            "{target} = list_append({}, {})",
                            self.operand(a)?,
                            self.operand(b)?
                        )),
                        SetValue::SetAdd(from, v) => {
                            same_target("set_add", from, p)?;
                            add.push(format!("{target} {}", self.operand(v)?));
                        }
                        SetValue::SetDelete(from, v) => {
                            same_target("set_delete", from, p)?;
                            delete.push(format!("{target} {}", self.operand(v)?));
                        }
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (kw, parts) in [
            ("SET", set),
            ("REMOVE", remove),
            ("ADD", add),
            ("DELETE", delete),
        ] {
            if !parts.is_empty() {
                out.push(format!("{kw} {}", parts.join(", ")));
            }
        }
        Ok(out.join(" "))
    }
}

/// `set_add`/`set_delete` change the attribute they are assigned to.
fn same_target(function: &str, from: &Path, target: &Path) -> Result<(), PartiqlError> {
    if from == target {
        Ok(())
    } else {
        Err(PartiqlError::Validation(format!(
            "The first argument of {function} must be the path being set"
        )))
    }
}
