//! Process-wide cache of parsed statements, keyed by text.
//!
//! Same scheme as the expression cache: two bounded generations, a hit in
//! the old one is promoted, a full young generation replaces the old one.
//! Only successful parses are cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::ast::Statement;
use super::{parser, PartiqlError, MAX_STATEMENT_CHARS};

const GENERATION: usize = 1024;

#[derive(Default)]
struct Generations {
    young: HashMap<String, Arc<Statement>>,
    old: HashMap<String, Arc<Statement>>,
}

impl Generations {
    fn get(&mut self, text: &str) -> Option<Arc<Statement>> {
        if let Some(s) = self.young.get(text) {
            return Some(s.clone());
        }
        let (key, s) = self.old.remove_entry(text)?;
        self.insert(key, s.clone());
        Some(s)
    }

    fn insert(&mut self, text: String, stmt: Arc<Statement>) {
        if self.young.len() >= GENERATION {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(text, stmt);
    }
}

fn cache() -> &'static Mutex<Generations> {
    static CACHE: OnceLock<Mutex<Generations>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Generations::default()))
}

/// Parse through the cache; parsing happens outside the lock.
pub(super) fn parse_cached(text: &str) -> Result<Arc<Statement>, PartiqlError> {
    let cacheable = text.len() <= MAX_STATEMENT_CHARS * 4;
    if cacheable {
        // Every operation on the maps is one call, so a poisoned lock
        // cannot have left them inconsistent.
        let mut g = cache().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = g.get(text) {
            return Ok(s);
        }
    }
    let stmt = Arc::new(parser::parse(text)?);
    if cacheable {
        let mut g = cache().lock().unwrap_or_else(|e| e.into_inner());
        g.insert(text.to_owned(), stmt.clone());
    }
    Ok(stmt)
}
