//! Binding literals and `?` parameters to `AttributeValue`s.
//!
//! PartiQL's notation maps onto DynamoDB's types: `'…'` is S, a number is
//! N, `true`/`false` BOOL, `null` NULL, `{…}` M, `[…]` L, and `<<…>>` a set
//! whose type is its members' (all strings: SS, all numbers: NS, all
//! binaries, which only parameters can supply: BS). Binary values have no
//! literal form; they come in as parameters.

use std::collections::BTreeMap;

use super::ast::Literal;
use super::PartiqlError;
use crate::model::number::Number;
use crate::model::value::AttributeValue;

/// The value of `lit`, with parameters taken from `params`.
pub fn bind(lit: &Literal, params: &[AttributeValue]) -> Result<AttributeValue, PartiqlError> {
    Ok(match lit {
        Literal::Str(s) => AttributeValue::S(s.clone()),
        Literal::Num(n) => AttributeValue::N(
            Number::parse(n).map_err(|e| PartiqlError::Validation(e.to_string()))?,
        ),
        Literal::Bool(b) => AttributeValue::Bool(*b),
        Literal::Null => AttributeValue::Null,
        Literal::Param(i) => params
            .get(*i)
            .cloned()
            .ok_or_else(PartiqlError::parameter_count)?,
        Literal::Map(entries) => {
            let mut m = BTreeMap::new();
            for (k, v) in entries {
                if m.insert(k.clone(), bind(v, params)?).is_some() {
                    return Err(PartiqlError::Validation(format!(
                        "Duplicate attribute name in the tuple: {k}"
                    )));
                }
            }
            AttributeValue::M(m)
        }
        Literal::List(items) => AttributeValue::L(
            items
                .iter()
                .map(|v| bind(v, params))
                .collect::<Result<_, _>>()?,
        ),
        Literal::Set(items) => set(items
            .iter()
            .map(|v| bind(v, params))
            .collect::<Result<_, _>>()?)?,
    })
}

/// A set from its members, which must all be strings, all numbers or all
/// binaries; duplicates collapse, as sets do.
fn set(members: Vec<AttributeValue>) -> Result<AttributeValue, PartiqlError> {
    let mismatch = || {
        PartiqlError::Validation(
            "Set values must all be of the same type: string, number or binary".into(),
        )
    };
    match members.first() {
        None => Err(PartiqlError::Validation(
            "One or more parameter values were invalid: An string set  may not be empty".into(),
        )),
        Some(AttributeValue::S(_)) => {
            let mut out: Vec<String> = Vec::new();
            for m in members {
                let AttributeValue::S(s) = m else {
                    return Err(mismatch());
                };
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            Ok(AttributeValue::Ss(out))
        }
        Some(AttributeValue::N(_)) => {
            let mut out: Vec<Number> = Vec::new();
            for m in members {
                let AttributeValue::N(n) = m else {
                    return Err(mismatch());
                };
                if !out.contains(&n) {
                    out.push(n);
                }
            }
            Ok(AttributeValue::Ns(out))
        }
        Some(AttributeValue::B(_)) => {
            let mut out = Vec::new();
            for m in members {
                let AttributeValue::B(b) = m else {
                    return Err(mismatch());
                };
                if !out.contains(&b) {
                    out.push(b);
                }
            }
            Ok(AttributeValue::Bs(out))
        }
        Some(_) => Err(mismatch()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_take_their_members_type_and_drop_duplicates() {
        let lit = Literal::Set(vec![
            Literal::Num("1".into()),
            Literal::Num("1.0".into()),
            Literal::Num("2".into()),
        ]);
        match bind(&lit, &[]).expect("must succeed") {
            AttributeValue::Ns(v) => assert_eq!(v.len(), 2),
            other => panic!("{other:?}"),
        }
        let mixed = Literal::Set(vec![Literal::Num("1".into()), Literal::Str("a".into())]);
        assert!(bind(&mixed, &[]).is_err());
    }

    #[test]
    fn a_missing_parameter_is_an_error() {
        assert!(bind(&Literal::Param(0), &[]).is_err());
    }
}
