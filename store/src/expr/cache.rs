//! Process-wide cache of parsed expressions, keyed by (kind, text).
//!
//! Applications send the same few expression texts over and over with
//! different values, so parsing once per text pays. Only successful parses
//! are cached: a failing text is cheap to re-parse and caching errors would
//! let junk evict useful entries.
//!
//! Invariant: bounded. Two generations of at most `GENERATION` entries each
//! (texts are at most 4 KB): a hit in the old generation is promoted; when
//! the young generation fills, it becomes the old one and the previous old
//! generation is dropped. That approximates LRU without per-hit bookkeeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::ast::{Ast, Kind};
use super::parser;
use super::ExprError;

const GENERATION: usize = 1024;

#[derive(Default)]
struct Generations {
    young: HashMap<(Kind, String), Arc<Ast>>,
    old: HashMap<(Kind, String), Arc<Ast>>,
}

impl Generations {
    fn get(&mut self, key: &(Kind, String)) -> Option<Arc<Ast>> {
        if let Some(a) = self.young.get(key) {
            return Some(a.clone());
        }
        let a = self.old.remove(key)?;
        self.insert(key.clone(), a.clone());
        Some(a)
    }

    fn insert(&mut self, key: (Kind, String), ast: Arc<Ast>) {
        if self.young.len() >= GENERATION {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key, ast);
    }
}

fn cache() -> &'static Mutex<Generations> {
    static CACHE: OnceLock<Mutex<Generations>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Generations::default()))
}

/// Parses through the cache. Parsing happens outside the lock, so a slow
/// parse never blocks other requests.
pub fn parse_cached(kind: Kind, text: &str) -> Result<Arc<Ast>, ExprError> {
    // Oversized texts are rejected by the parser; don't use them as keys.
    let cacheable = text.len() <= parser::MAX_EXPRESSION_BYTES;
    let key = (kind, text.to_string());
    if cacheable {
        // A panic while holding the lock cannot leave the maps inconsistent
        // (every operation is a single map call), so a poisoned lock is safe
        // to keep using.
        let mut g = cache().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = g.get(&key) {
            return Ok(a);
        }
    }
    let ast = Arc::new(parser::parse(kind, text)?);
    if cacheable {
        let mut g = cache().lock().unwrap_or_else(|e| e.into_inner());
        g.insert(key, ast.clone());
    }
    Ok(ast)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_shares_one_ast() {
        let a = parse_cached(Kind::Condition, "cache_test_a = :v").ok();
        let b = parse_cached(Kind::Condition, "cache_test_a = :v").ok();
        assert!(matches!((a, b), (Some(a), Some(b)) if Arc::ptr_eq(&a, &b)));
    }

    #[test]
    fn generations_stay_bounded() {
        let mut g = Generations::default();
        let ast = Arc::new(Ast::Projection(super::super::ast::ProjectionAst {
            paths: vec![],
        }));
        for i in 0..(3 * GENERATION) {
            g.insert((Kind::Projection, i.to_string()), ast.clone());
        }
        assert!(g.young.len() + g.old.len() <= 2 * GENERATION);
        assert!(g
            .get(&(Kind::Projection, (3 * GENERATION - 1).to_string()))
            .is_some());
        assert!(g.get(&(Kind::Projection, "0".to_string())).is_none());
    }
}
