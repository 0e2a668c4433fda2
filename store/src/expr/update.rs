//! Resolved updates (UpdateExpression and legacy AttributeUpdates) and their
//! pure application `old item -> new item`.
//!
//! DynamoDB's rules, in the order `apply` enforces them:
//! * key attributes cannot be updated;
//! * every value is computed from the *old* item before anything is written
//!   ("SET x = :v, y = x" reads the old x);
//! * SETs are applied in path order, so several SETs past the end of one
//!   list append in index order; REMOVEs run last, highest index first, so
//!   list indexes in one expression all refer to the original list;
//! * a nested path needs its parent to exist with the right type, otherwise
//!   "The document path provided in the update expression is invalid for
//!   update" (REMOVE on an absent item is the one exception: a no-op).
//!
//! Invariant: paths of one `Update` never overlap or conflict (checked when
//! it is built), so the order above cannot change the result.

use std::collections::BTreeSet;

use super::path::{collision, step_into_mut, DocPath, PathStep};
use super::projection::Projection;
use super::ExprError;
use crate::model::number::Number;
use crate::model::value::{AttributeValue, Item};

/// The right-hand side of a SET.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateValue {
    Path(DocPath),
    Value(AttributeValue),
    IfNotExists(DocPath, Box<UpdateValue>),
    ListAppend(Box<UpdateValue>, Box<UpdateValue>),
    Plus(Box<UpdateValue>, Box<UpdateValue>),
    Minus(Box<UpdateValue>, Box<UpdateValue>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum UpdateAction {
    Set(DocPath, UpdateValue),
    Remove(DocPath),
    /// Expression ADD: number addition or set union; creates if absent.
    Add(DocPath, AttributeValue),
    /// Expression DELETE: set difference; an emptied set is removed.
    Delete(DocPath, AttributeValue),
    /// Legacy AttributeUpdates ADD, which also appends to lists.
    LegacyAdd(String, AttributeValue),
    /// Legacy AttributeUpdates DELETE with a value: set difference, and a
    /// type mismatch with the stored value is an error.
    LegacyDelete(String, AttributeValue),
}

impl UpdateAction {
    pub fn path(&self) -> DocPath {
        match self {
            UpdateAction::Set(p, _)
            | UpdateAction::Remove(p)
            | UpdateAction::Add(p, _)
            | UpdateAction::Delete(p, _) => p.clone(),
            UpdateAction::LegacyAdd(a, _) | UpdateAction::LegacyDelete(a, _) => {
                DocPath::attr(a.clone())
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    actions: Vec<UpdateAction>,
}

pub(crate) const INCORRECT_TYPE: &str =
    "An operand in the update expression has an incorrect data type";
const MISSING_ATTRIBUTE: &str =
    "The provided expression refers to an attribute that does not exist in the item";
const INVALID_PATH: &str =
    "The document path provided in the update expression is invalid for update";

fn invalid_path() -> ExprError {
    ExprError::new(INVALID_PATH)
}

fn incorrect_type() -> ExprError {
    ExprError::new(INCORRECT_TYPE)
}

impl Update {
    /// Builds an update, rejecting overlapping or conflicting paths with
    /// DynamoDB's UpdateExpression messages.
    pub fn new(actions: Vec<UpdateAction>) -> Result<Update, ExprError> {
        let paths: Vec<DocPath> = actions.iter().map(UpdateAction::path).collect();
        match collision(&paths) {
            Some((_, message)) => Err(ExprError(format!("Invalid UpdateExpression: {message}"))),
            None => Ok(Update { actions }),
        }
    }

    /// An update whose paths are known not to collide (legacy
    /// AttributeUpdates, keyed by distinct top-level names).
    pub(crate) fn from_distinct(actions: Vec<UpdateAction>) -> Update {
        Update { actions }
    }

    pub fn actions(&self) -> &[UpdateAction] {
        &self.actions
    }

    /// DynamoDB's error if the update touches a key attribute.
    pub fn check_keys(&self, key_attributes: &[&str]) -> Result<(), ExprError> {
        for a in &self.actions {
            let p = a.path();
            if !key_attributes.contains(&p.top()) {
                continue;
            }
            return Err(ExprError(if p.is_top_level() {
                format!(
                    "One or more parameter values were invalid: Cannot update attribute {}. This attribute is part of the key",
                    p.top()
                )
            } else {
                format!(
                    "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: {}",
                    p.top()
                )
            }));
        }
        Ok(())
    }

    /// Pure: the old item (empty, or just its key, if absent) -> the new item.
    pub fn apply(&self, old: &Item, key_attributes: &[&str]) -> Result<Item, ExprError> {
        self.check_keys(key_attributes)?;
        // Every right-hand side reads the old item, before any write.
        let mut sets: Vec<(&DocPath, AttributeValue)> = Vec::new();
        for a in &self.actions {
            if let UpdateAction::Set(p, v) = a {
                sets.push((p, eval(v, old)?));
            }
        }
        sets.sort_by(|a, b| a.0.cmp(b.0));
        // DynamoDB ignores nested REMOVEs on an absent item. Callers pass an
        // absent item either empty or as just its key, so both count.
        let absent = old.keys().all(|k| key_attributes.contains(&k.as_str()));
        let mut item = old.clone();
        for (p, v) in sets {
            set_at(&mut item, p, v)?;
        }
        for a in &self.actions {
            match a {
                UpdateAction::Add(p, v) => add_at(&mut item, p, v)?,
                UpdateAction::Delete(p, v) => delete_at(&mut item, p, v, absent)?,
                UpdateAction::LegacyAdd(name, v) => legacy_add(&mut item, name, v)?,
                UpdateAction::LegacyDelete(name, v) => legacy_delete(&mut item, name, v)?,
                UpdateAction::Set(..) | UpdateAction::Remove(_) => {}
            }
        }
        let mut removes: Vec<&DocPath> = self
            .actions
            .iter()
            .filter_map(|a| match a {
                UpdateAction::Remove(p) => Some(p),
                _ => None,
            })
            .collect();
        // Highest list index first, so earlier removals don't shift later ones.
        removes.sort();
        for p in removes.into_iter().rev() {
            if absent && !p.is_top_level() {
                continue;
            }
            remove_at(&mut item, p)?;
        }
        Ok(item)
    }

    /// For ReturnValues UPDATED_OLD / UPDATED_NEW: the parts of `item` at the
    /// paths this update touches, shaped like a projection of those paths.
    pub fn updated_part(&self, item: &Item) -> Item {
        let paths: BTreeSet<DocPath> = self.actions.iter().map(UpdateAction::path).collect();
        Projection::from_paths_lenient(paths.into_iter().collect()).apply(item)
    }
}

fn eval(v: &UpdateValue, old: &Item) -> Result<AttributeValue, ExprError> {
    match v {
        UpdateValue::Value(v) => Ok(v.clone()),
        UpdateValue::Path(p) => p
            .get(old)
            .cloned()
            .ok_or_else(|| ExprError::new(MISSING_ATTRIBUTE)),
        UpdateValue::IfNotExists(p, default) => match p.get(old) {
            Some(v) => Ok(v.clone()),
            None => eval(default, old),
        },
        UpdateValue::ListAppend(a, b) => {
            let (a, b) = (eval(a, old)?, eval(b, old)?);
            match (a, b) {
                (AttributeValue::L(mut a), AttributeValue::L(b)) => {
                    a.extend(b);
                    Ok(AttributeValue::L(a))
                }
                _ => Err(incorrect_type()),
            }
        }
        UpdateValue::Plus(a, b) | UpdateValue::Minus(a, b) => {
            let (a, b) = (eval(a, old)?, eval(b, old)?);
            let (AttributeValue::N(a), AttributeValue::N(b)) = (a, b) else {
                return Err(incorrect_type());
            };
            let r = if matches!(v, UpdateValue::Plus(..)) {
                a.checked_add(&b)
            } else {
                a.checked_sub(&b)
            };
            r.map(AttributeValue::N)
                .map_err(|e| ExprError::new(e.to_string()))
        }
    }
}

/// The container holding the last step of `p`, which must exist.
fn parent_mut<'a>(item: &'a mut Item, p: &DocPath) -> Result<&'a mut AttributeValue, ExprError> {
    let steps = p.steps();
    let Some(PathStep::Attr(top)) = steps.first() else {
        return Err(invalid_path());
    };
    let mut cur = item.get_mut(top).ok_or_else(invalid_path)?;
    for step in &steps[1..steps.len() - 1] {
        cur = step_into_mut(cur, step).ok_or_else(invalid_path)?;
    }
    Ok(cur)
}

fn last_step(p: &DocPath) -> &PathStep {
    // Paths are never empty (DocPath invariant); the fallback is unreachable.
    static TOP: PathStep = PathStep::Index(0);
    p.steps().last().unwrap_or(&TOP)
}

fn set_at(item: &mut Item, p: &DocPath, v: AttributeValue) -> Result<(), ExprError> {
    if p.is_top_level() {
        item.insert(p.top().to_string(), v);
        return Ok(());
    }
    let parent = parent_mut(item, p)?;
    match (parent, last_step(p)) {
        (AttributeValue::M(m), PathStep::Attr(k)) => {
            m.insert(k.clone(), v);
        }
        (AttributeValue::L(l), PathStep::Index(i)) => {
            // Setting past the end appends.
            match l.get_mut(*i) {
                Some(slot) => *slot = v,
                None => l.push(v),
            }
        }
        _ => return Err(invalid_path()),
    }
    Ok(())
}

fn remove_at(item: &mut Item, p: &DocPath) -> Result<(), ExprError> {
    if p.is_top_level() {
        item.remove(p.top());
        return Ok(());
    }
    let parent = parent_mut(item, p)?;
    match (parent, last_step(p)) {
        (AttributeValue::M(m), PathStep::Attr(k)) => {
            m.remove(k);
        }
        (AttributeValue::L(l), PathStep::Index(i)) => {
            if *i < l.len() {
                l.remove(*i);
            }
        }
        _ => return Err(invalid_path()),
    }
    Ok(())
}

fn get_mut<'a>(item: &'a mut Item, p: &DocPath) -> Option<&'a mut AttributeValue> {
    let mut steps = p.steps().iter();
    let mut cur = match steps.next() {
        Some(PathStep::Attr(a)) => item.get_mut(a)?,
        _ => return None,
    };
    for s in steps {
        cur = step_into_mut(cur, s)?;
    }
    Some(cur)
}

/// Union of two sets of the same type, keeping the existing order and
/// appending new members.
fn union(existing: &mut AttributeValue, add: &AttributeValue) -> Result<(), ExprError> {
    fn merge<T: PartialEq + Clone>(a: &mut Vec<T>, b: &[T]) {
        for x in b {
            if !a.contains(x) {
                a.push(x.clone());
            }
        }
    }
    match (existing, add) {
        (AttributeValue::Ss(a), AttributeValue::Ss(b)) => merge(a, b),
        (AttributeValue::Ns(a), AttributeValue::Ns(b)) => merge(a, b),
        (AttributeValue::Bs(a), AttributeValue::Bs(b)) => merge(a, b),
        _ => return Err(incorrect_type()),
    }
    Ok(())
}

/// Removes `del`'s members from `existing`; returns whether it is now empty.
fn difference(existing: &mut AttributeValue, del: &AttributeValue) -> Result<bool, ExprError> {
    Ok(match (existing, del) {
        (AttributeValue::Ss(a), AttributeValue::Ss(b)) => {
            a.retain(|x| !b.contains(x));
            a.is_empty()
        }
        (AttributeValue::Ns(a), AttributeValue::Ns(b)) => {
            a.retain(|x| !b.contains(x));
            a.is_empty()
        }
        (AttributeValue::Bs(a), AttributeValue::Bs(b)) => {
            a.retain(|x| !b.contains(x));
            a.is_empty()
        }
        _ => return Err(incorrect_type()),
    })
}

fn add_number(existing: &mut AttributeValue, n: &Number) -> Result<(), ExprError> {
    let AttributeValue::N(cur) = existing else {
        return Err(incorrect_type());
    };
    *cur = cur
        .checked_add(n)
        .map_err(|e| ExprError::new(e.to_string()))?;
    Ok(())
}

fn add_at(item: &mut Item, p: &DocPath, v: &AttributeValue) -> Result<(), ExprError> {
    match get_mut(item, p) {
        None => set_at(item, p, v.clone()),
        Some(existing) => match v {
            AttributeValue::N(n) => add_number(existing, n),
            _ => union(existing, v),
        },
    }
}

fn delete_at(
    item: &mut Item,
    p: &DocPath,
    v: &AttributeValue,
    absent: bool,
) -> Result<(), ExprError> {
    let Some(existing) = get_mut(item, p) else {
        // Like REMOVE: a missing element is fine, a missing parent is not
        // (except on an absent item).
        if !p.is_top_level() && !absent {
            match (parent_mut(item, p)?, last_step(p)) {
                (AttributeValue::M(_), PathStep::Attr(_))
                | (AttributeValue::L(_), PathStep::Index(_)) => {}
                _ => return Err(invalid_path()),
            }
        }
        return Ok(());
    };
    if difference(existing, v)? {
        remove_at(item, p)?;
    }
    Ok(())
}

fn legacy_add(item: &mut Item, name: &str, v: &AttributeValue) -> Result<(), ExprError> {
    let Some(existing) = item.get_mut(name) else {
        item.insert(name.to_string(), v.clone());
        return Ok(());
    };
    match (existing, v) {
        (AttributeValue::L(a), AttributeValue::L(b)) => {
            a.extend(b.iter().cloned());
            Ok(())
        }
        (existing @ AttributeValue::N(_), AttributeValue::N(n)) => add_number(existing, n),
        (existing, v) if existing.value_type() == v.value_type() => union(existing, v),
        _ => Err(legacy_type_mismatch()),
    }
}

fn legacy_delete(item: &mut Item, name: &str, v: &AttributeValue) -> Result<(), ExprError> {
    let Some(existing) = item.get_mut(name) else {
        return Ok(());
    };
    if existing.value_type() != v.value_type() {
        return Err(legacy_type_mismatch());
    }
    if difference(existing, v)? {
        item.remove(name);
    }
    Ok(())
}

fn legacy_type_mismatch() -> ExprError {
    ExprError::new("Type mismatch for attribute to update")
}
