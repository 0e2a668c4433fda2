//! Recursive-descent parser for the five expression kinds.
//!
//! Owns the grammar and every check that depends only on the expression's
//! text: syntax, length, operator count, nesting, redundant parentheses,
//! reserved words, function names and placement. It does not look at
//! ExpressionAttributeNames/Values, nor at function arities and operand
//! types (`resolve.rs` checks those, in DynamoDB's order relative to
//! undefined references).
//!
//! Error precedence follows DynamoDB, whose parser builds a full parse tree
//! before validating it: a syntax error anywhere wins over any semantic
//! error, and semantic errors are recorded per category (`Cat`) and reported
//! by the category's priority for the expression kind, earliest first within
//! a category.
//!
//! Invariant: recursion is bounded. Parenthesised groups and function
//! arguments count against `MAX_DEPTH`, NOT chains are parsed in a loop, and
//! operators are capped at `MAX_OPERATORS`, so no input can exhaust the stack
//! here or in the passes that walk the tree afterwards.

use super::ast::{
    Action, Ast, Clause, CmpOp, Cond, Func, Kind, Name, Operand, Path, ProjectionAst, Step,
    UpdateAst,
};
use super::lexer::{tokenize, Tok, Token};
use super::reserved::is_reserved;
use super::ExprError;

/// DynamoDB's limit on the length of any expression parameter, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 4096;
/// DynamoDB rejects expressions with more than this many operators.
pub const MAX_OPERATORS: usize = 300;
/// Deepest nesting of parentheses and function calls we follow. A valid
/// expression nests about one level per operator, and DynamoDB accepts some
/// 150 levels within its limits, so this leaves headroom while keeping the
/// recursion far from the stack's limit.
const MAX_DEPTH: usize = 256;
/// DynamoDB documents nest at most 32 levels, and so may paths.
const MAX_PATH_DEPTH: usize = 32;
/// List indexes are signed 32-bit in DynamoDB.
const MAX_LIST_INDEX: u32 = i32::MAX as u32;

/// Words that are tokens of a grammar. As path names they are syntax errors;
/// every other reserved word is a "reserved keyword" error instead.
const CONDITION_KEYWORDS: &[&str] = &["AND", "OR", "NOT", "BETWEEN", "IN"];
const UPDATE_KEYWORDS: &[&str] = &["SET", "REMOVE", "ADD", "DELETE"];

/// Categories of semantic errors found while parsing.
#[derive(Clone, Copy)]
enum Cat {
    Parens,
    UnknownFunction,
    MisusedFunction,
    Reserved,
    Section,
    Other,
}

const CATEGORIES: usize = 6;

impl Kind {
    /// The order in which DynamoDB reports parse-time semantic errors.
    fn priority(self) -> [Cat; CATEGORIES] {
        match self {
            Kind::Update => [
                Cat::Reserved,
                Cat::UnknownFunction,
                Cat::Section,
                Cat::MisusedFunction,
                Cat::Parens,
                Cat::Other,
            ],
            _ => [
                Cat::Parens,
                Cat::UnknownFunction,
                Cat::MisusedFunction,
                Cat::Reserved,
                Cat::Section,
                Cat::Other,
            ],
        }
    }

    fn keywords(self) -> &'static [&'static str] {
        match self {
            Kind::Update => UPDATE_KEYWORDS,
            Kind::Projection => &[],
            _ => CONDITION_KEYWORDS,
        }
    }
}

/// Parses `text` as an expression of `kind`.
pub fn parse(kind: Kind, text: &str) -> Result<Ast, ExprError> {
    let label = kind.label();
    if text.len() > MAX_EXPRESSION_BYTES {
        return Err(ExprError(format!(
            "Invalid {label}: Expression size has exceeded the maximum allowed size; expression size: {}",
            text.len()
        )));
    }
    if text
        .trim_matches(|c| c == ' ' || c == '\t' || c == '\n' || c == '\r')
        .is_empty()
    {
        return Err(ExprError(format!(
            "Invalid {label}: The expression can not be empty;"
        )));
    }
    let toks = tokenize(text);
    let close_of = match_parens(&toks);
    let mut p = Parser {
        src: text,
        toks,
        close_of,
        pos: 0,
        kind,
        depth: 0,
        operators: 0,
        deferred: Default::default(),
    };
    let ast = match kind {
        Kind::Condition | Kind::Filter | Kind::KeyCondition => Ast::Condition(p.condition()?),
        Kind::Update => Ast::Update(p.update()?),
        Kind::Projection => Ast::Projection(p.projection()?),
    };
    p.expect_eof()?;
    match p.first_deferred() {
        Some(e) => Err(e),
        None => Ok(ast),
    }
}

/// For each '(' token, the index of its matching ')' (usize::MAX if none).
fn match_parens(toks: &[Token]) -> Vec<usize> {
    let mut close_of = vec![usize::MAX; toks.len()];
    let mut open = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            Tok::Sym("(") => open.push(i),
            Tok::Sym(")") => {
                if let Some(o) = open.pop() {
                    close_of[o] = i;
                }
            }
            _ => {}
        }
    }
    close_of
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    close_of: Vec<usize>,
    pos: usize,
    kind: Kind,
    depth: usize,
    operators: usize,
    /// First semantic error of each category, reported only if the whole
    /// text parses.
    deferred: [Option<ExprError>; CATEGORIES],
}

type PResult<T> = Result<T, ExprError>;

impl<'s> Parser<'s> {
    // ---- token access -------------------------------------------------

    fn tok(&self, i: usize) -> &Token {
        // The token list always ends with Eof and the parser never advances
        // past it; clamping only guards against our own bugs.
        &self.toks[i.min(self.toks.len() - 1)]
    }

    fn peek(&self) -> &Tok {
        &self.tok(self.pos).kind
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        &self.tok(self.pos + ahead).kind
    }

    fn text(&self, i: usize) -> &'s str {
        let t = self.tok(i);
        &self.src[t.start..t.end]
    }

    fn bump(&mut self) {
        if !matches!(self.peek(), Tok::Eof) {
            self.pos += 1;
        }
    }

    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Sym(x) if *x == s)
    }

    fn keyword_at(&self, i: usize, kw: &str) -> bool {
        matches!(self.tok(i).kind, Tok::Name) && self.text(i).eq_ignore_ascii_case(kw)
    }

    fn is_keyword(&self, kw: &str) -> bool {
        self.keyword_at(self.pos, kw)
    }

    fn expect_sym(&mut self, s: &str) -> PResult<()> {
        if self.is_sym(s) {
            self.bump();
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    fn expect_eof(&self) -> PResult<()> {
        if matches!(self.peek(), Tok::Eof) {
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    /// Whether the token at `i` continues an operand into a condition
    /// (comparator, BETWEEN or IN).
    fn starts_comparison(&self, i: usize) -> bool {
        matches!(
            self.tok(i).kind,
            Tok::Sym("=" | "<>" | "<" | "<=" | ">" | ">=")
        ) || self.keyword_at(i, "BETWEEN")
            || self.keyword_at(i, "IN")
    }

    // ---- errors -------------------------------------------------------

    fn error(&self, msg: impl std::fmt::Display) -> ExprError {
        ExprError(format!("Invalid {}: {msg}", self.kind.label()))
    }

    fn defer(&mut self, cat: Cat, msg: impl std::fmt::Display) {
        if self.deferred[cat as usize].is_none() {
            self.deferred[cat as usize] = Some(self.error(msg));
        }
    }

    fn first_deferred(&self) -> Option<ExprError> {
        self.kind
            .priority()
            .iter()
            .find_map(|c| self.deferred[*c as usize].clone())
    }

    /// DynamoDB's syntax error: the offending token, and the source text from
    /// the token before it to the token after it. At end of input it shows
    /// the last two tokens.
    fn syntax_error(&self) -> ExprError {
        self.syntax_error_at(self.pos.min(self.toks.len() - 1))
    }

    fn syntax_error_at(&self, i: usize) -> ExprError {
        let t = self.tok(i);
        let (token, start, end) = if matches!(t.kind, Tok::Eof) {
            let start = if i >= 2 {
                self.tok(i - 2).start
            } else {
                self.tok(i.saturating_sub(1)).start
            };
            let end = if i >= 1 { self.tok(i - 1).end } else { t.end };
            ("<EOF>", start, end)
        } else {
            let start = if i >= 1 {
                self.tok(i - 1).start
            } else {
                t.start
            };
            let next = self.tok(i + 1);
            let end = if matches!(next.kind, Tok::Eof) {
                t.end
            } else {
                next.end
            };
            (&self.src[t.start..t.end], start, end)
        };
        self.error(format_args!(
            "Syntax error; token: \"{token}\", near: \"{}\"",
            &self.src[start..end]
        ))
    }

    fn count_operator(&mut self) -> PResult<()> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return Err(self.error(format_args!(
                "The expression contains too many operators; operator count: {}",
                self.operators
            )));
        }
        Ok(())
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.too_deep());
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Nesting deeper than any DynamoDB-valid expression. Report what
    /// DynamoDB would report after parsing the whole text, as far as that can
    /// be told without recursing further: a recorded semantic error, a syntax
    /// error for unbalanced parentheses, or else redundant parentheses.
    fn too_deep(&self) -> ExprError {
        if let Some(e) = self.first_deferred() {
            return e;
        }
        let unmatched_open = self
            .toks
            .iter()
            .enumerate()
            .find(|(i, t)| matches!(t.kind, Tok::Sym("(")) && self.close_of[*i] == usize::MAX);
        if unmatched_open.is_some() {
            return self.syntax_error_at(self.toks.len() - 1);
        }
        self.error("The expression has redundant parentheses;")
    }

    // ---- paths and operands ------------------------------------------

    /// A name usable as the start or a `.step` of a document path.
    fn path_name(&mut self) -> PResult<Name> {
        match self.peek() {
            Tok::NameRef => {
                let n = self.text(self.pos).to_string();
                self.bump();
                Ok(Name::Ref(n))
            }
            Tok::Name => {
                let n = self.text(self.pos);
                if self
                    .kind
                    .keywords()
                    .iter()
                    .any(|k| n.eq_ignore_ascii_case(k))
                {
                    return Err(self.syntax_error());
                }
                if is_reserved(n) {
                    self.defer(
                        Cat::Reserved,
                        format_args!("Attribute name is a reserved keyword; reserved keyword: {n}"),
                    );
                }
                self.bump();
                Ok(Name::Plain(n.to_string()))
            }
            _ => Err(self.syntax_error()),
        }
    }

    fn path(&mut self) -> PResult<Path> {
        let mut steps = vec![Step::Name(self.path_name()?)];
        loop {
            if self.is_sym(".") {
                self.bump();
                steps.push(Step::Name(self.path_name()?));
            } else if self.is_sym("[") {
                self.bump();
                if !matches!(self.peek(), Tok::Int) {
                    return Err(self.syntax_error());
                }
                let text = self.text(self.pos);
                let index = match text.parse::<u32>() {
                    Ok(i) if i <= MAX_LIST_INDEX => i,
                    _ => {
                        self.defer(
                            Cat::Other,
                            format_args!(
                                "List index is not within the allowable range; index: [{text}]"
                            ),
                        );
                        0
                    }
                };
                self.bump();
                self.expect_sym("]")?;
                steps.push(Step::Index(index));
            } else {
                if steps.len() > MAX_PATH_DEPTH {
                    self.defer(
                        Cat::Other,
                        format_args!(
                            "The document path has too many nesting levels; nesting levels: {}",
                            steps.len()
                        ),
                    );
                }
                return Ok(Path(steps));
            }
        }
    }

    /// A term: path, `:value`, function call, or one of those in
    /// parentheses.
    fn operand(&mut self) -> PResult<Operand> {
        match self.peek() {
            Tok::Sym("(") => {
                let open = self.pos;
                let close = self.close_of[open];
                self.bump();
                self.enter()?;
                let inner = self.pos;
                let op = self.operand()?;
                self.expect_sym(")")?;
                self.leave();
                if self.close_of.get(inner) == Some(&close.wrapping_sub(1)) {
                    self.defer(Cat::Parens, "The expression has redundant parentheses;");
                }
                Ok(op)
            }
            Tok::ValueRef => {
                let v = self.text(self.pos).to_string();
                self.bump();
                Ok(Operand::Value(v))
            }
            Tok::Name if matches!(self.peek_at(1), Tok::Sym("(")) => self.call(),
            Tok::Name | Tok::NameRef => Ok(Operand::Path(self.path()?)),
            _ => Err(self.syntax_error()),
        }
    }

    /// `name(operand, ...)`. Unknown names and misplaced functions are
    /// semantic errors; the arguments are still parsed so that a later
    /// syntax error takes precedence, as in DynamoDB.
    fn call(&mut self) -> PResult<Operand> {
        let name = self.text(self.pos);
        let func = Func::from_name(name);
        match func {
            None => self.defer(
                Cat::UnknownFunction,
                format_args!("Invalid function name; function: {name}"),
            ),
            Some(f) if self.kind.is_condition() && f.is_update_only() => self.defer(
                Cat::MisusedFunction,
                format_args!(
                    "The function is not allowed in a condition expression; function: {name}"
                ),
            ),
            Some(f) if self.kind == Kind::Update && !f.is_update_only() => self.defer(
                Cat::UnknownFunction,
                format_args!(
                    "The function is not allowed in an update expression; function: {name}"
                ),
            ),
            Some(_) => {}
        }
        self.bump(); // name
        self.bump(); // '('
        self.enter()?;
        let mut args = vec![self.operand()?];
        while self.is_sym(",") {
            self.bump();
            args.push(self.operand()?);
        }
        self.expect_sym(")")?;
        self.leave();
        if self.kind.is_condition() {
            for a in &args {
                self.check_value_position(a);
            }
        }
        // An unknown function stands in as attribute_exists so the grammar
        // carries on; the deferred error fails the parse anyway.
        Ok(Operand::Call(func.unwrap_or(Func::AttributeExists), args))
    }

    /// A boolean function (or any function but size) where a value is
    /// needed is misplaced.
    fn check_value_position(&mut self, op: &Operand) {
        if let Operand::Call(f, _) = op {
            if *f != Func::Size && !f.is_update_only() {
                self.defer(
                    Cat::MisusedFunction,
                    format_args!("The function is not allowed to be used this way in an expression; function: {}", f.name()),
                );
            }
        }
    }

    fn value_operand(&mut self) -> PResult<Operand> {
        let op = self.operand()?;
        self.check_value_position(&op);
        Ok(op)
    }

    // ---- conditions ---------------------------------------------------

    fn condition(&mut self) -> PResult<Cond> {
        let mut left = self.and_condition()?;
        while self.is_keyword("OR") {
            self.bump();
            self.count_operator()?;
            let right = self.and_condition()?;
            left = Cond::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_condition(&mut self) -> PResult<Cond> {
        let mut left = self.not_condition()?;
        while self.is_keyword("AND") {
            self.bump();
            self.count_operator()?;
            let right = self.not_condition()?;
            left = Cond::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not_condition(&mut self) -> PResult<Cond> {
        let mut nots = 0;
        while self.is_keyword("NOT") {
            self.bump();
            self.count_operator()?;
            nots += 1;
        }
        let mut c = self.primary_condition()?;
        for _ in 0..nots {
            c = Cond::Not(Box::new(c));
        }
        Ok(c)
    }

    fn primary_condition(&mut self) -> PResult<Cond> {
        if self.is_sym("(") {
            let open = self.pos;
            let close = self.close_of[open];
            // "(a) = :v": a parenthesised operand, not a condition group.
            if close == usize::MAX || !self.starts_comparison(close + 1) {
                self.bump();
                self.enter()?;
                let inner = self.pos;
                let c = self.condition()?;
                self.expect_sym(")")?;
                self.leave();
                // "((x))": the group's content is exactly one other group.
                if self.close_of.get(inner) == Some(&close.wrapping_sub(1)) {
                    self.defer(Cat::Parens, "The expression has redundant parentheses;");
                }
                return Ok(c);
            }
        }
        let left = self.operand()?;
        let cmp = match self.peek() {
            Tok::Sym("=") => Some(CmpOp::Eq),
            Tok::Sym("<>") => Some(CmpOp::Ne),
            Tok::Sym("<") => Some(CmpOp::Lt),
            Tok::Sym("<=") => Some(CmpOp::Le),
            Tok::Sym(">") => Some(CmpOp::Gt),
            Tok::Sym(">=") => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = cmp {
            self.check_value_position(&left);
            self.bump();
            self.count_operator()?;
            let right = self.value_operand()?;
            return Ok(Cond::Cmp(op, left, right));
        }
        if self.is_keyword("BETWEEN") {
            self.check_value_position(&left);
            self.bump();
            self.count_operator()?;
            let lo = self.value_operand()?;
            if !self.is_keyword("AND") {
                return Err(self.syntax_error());
            }
            self.bump();
            let hi = self.value_operand()?;
            return Ok(Cond::Between(left, lo, hi));
        }
        if self.is_keyword("IN") {
            self.check_value_position(&left);
            self.bump();
            self.count_operator()?;
            self.expect_sym("(")?;
            let mut list = vec![self.value_operand()?];
            while self.is_sym(",") {
                self.bump();
                list.push(self.value_operand()?);
            }
            self.expect_sym(")")?;
            return Ok(Cond::In(left, list));
        }
        match left {
            Operand::Call(f, args) => {
                if f == Func::Size {
                    self.defer(
                        Cat::MisusedFunction,
                        "The function is not allowed to be used this way in an expression; function: size",
                    );
                }
                Ok(Cond::Call(f, args))
            }
            _ => Err(self.syntax_error()),
        }
    }

    // ---- update -------------------------------------------------------

    fn clause_keyword(&self) -> Option<Clause> {
        if !matches!(self.peek(), Tok::Name) {
            return None;
        }
        let t = self.text(self.pos);
        [Clause::Set, Clause::Remove, Clause::Add, Clause::Delete]
            .into_iter()
            .find(|c| t.eq_ignore_ascii_case(c.keyword()))
    }

    fn update(&mut self) -> PResult<UpdateAst> {
        let mut clauses: Vec<(Clause, Vec<Action>)> = Vec::new();
        loop {
            let Some(clause) = self.clause_keyword() else {
                return Err(self.syntax_error());
            };
            if clauses.iter().any(|(c, _)| *c == clause) {
                self.defer(
                    Cat::Section,
                    format_args!(
                        "The \"{}\" section can only be used once in an update expression;",
                        clause.keyword()
                    ),
                );
            }
            self.bump();
            let mut actions = vec![self.update_action(clause)?];
            while self.is_sym(",") {
                self.bump();
                actions.push(self.update_action(clause)?);
            }
            clauses.push((clause, actions));
            if matches!(self.peek(), Tok::Eof) {
                return Ok(UpdateAst { clauses });
            }
        }
    }

    fn update_action(&mut self, clause: Clause) -> PResult<Action> {
        let path = self.path()?;
        match clause {
            Clause::Set => {
                self.expect_sym("=")?;
                Ok(Action::Set(path, self.set_value()?))
            }
            Clause::Remove => Ok(Action::Remove(path)),
            Clause::Add | Clause::Delete => {
                if !matches!(self.peek(), Tok::ValueRef) {
                    return Err(self.syntax_error());
                }
                let v = Operand::Value(self.text(self.pos).to_string());
                self.bump();
                Ok(if clause == Clause::Add {
                    Action::Add(path, v)
                } else {
                    Action::Delete(path, v)
                })
            }
        }
    }

    /// `operand`, `operand + operand` or `operand - operand`, the whole
    /// optionally in parentheses.
    fn set_value(&mut self) -> PResult<Operand> {
        let open = self.pos;
        if self.is_sym("(") {
            let close = self.close_of[open];
            let after = self.tok(close.saturating_add(1)).kind.clone();
            // "(a + b)" rather than "(a) + b" or "(a)".
            let wraps_sum = close != usize::MAX && !matches!(after, Tok::Sym("+" | "-"));
            if wraps_sum && !matches!(self.tok(open + 1).kind, Tok::Sym("(")) {
                self.bump();
                self.enter()?;
                let v = self.sum()?;
                self.expect_sym(")")?;
                self.leave();
                return Ok(v);
            }
        }
        self.sum()
    }

    fn sum(&mut self) -> PResult<Operand> {
        let left = self.operand()?;
        if self.is_sym("+") || self.is_sym("-") {
            let plus = self.is_sym("+");
            self.bump();
            self.count_operator()?;
            let right = self.operand()?;
            return Ok(if plus {
                Operand::Plus(Box::new(left), Box::new(right))
            } else {
                Operand::Minus(Box::new(left), Box::new(right))
            });
        }
        Ok(left)
    }

    // ---- projection ---------------------------------------------------

    fn projection(&mut self) -> PResult<ProjectionAst> {
        let mut paths = vec![self.path()?];
        while self.is_sym(",") {
            self.bump();
            paths.push(self.path()?);
        }
        Ok(ProjectionAst { paths })
    }
}
