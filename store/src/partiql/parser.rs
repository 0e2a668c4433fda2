//! Recursive-descent parser: tokens → [`Statement`].
//!
//! Grammar (DynamoDB's PartiQL reference; keywords case-insensitive):
//!
//! ```text
//! statement := select | insert | update | delete [';']
//! select    := SELECT ('*' | path (',' path)*) FROM name ['.' name]
//!              [WHERE expr] [ORDER BY path [ASC|DESC]]
//! insert    := INSERT INTO name VALUE literal
//! update    := UPDATE name (SET path '=' setvalue (',' path '=' setvalue)* | REMOVE path (',' path)*)+
//!              WHERE expr [RETURNING (ALL|MODIFIED) (OLD|NEW) '*']
//! delete    := DELETE FROM name WHERE expr [RETURNING ALL OLD '*']
//! expr      := and (OR and)*       and := not (AND not)*     not := NOT not | predicate
//! predicate := '(' expr ')' | func '(' path ',' operand ')'
//!            | operand (cmp operand | [NOT] BETWEEN operand AND operand
//!                       | [NOT] IN ('[' | '(') operand, … (']' | ')') | IS [NOT] MISSING)
//! operand   := path | literal | '?' | size '(' path ')'
//! ```
//!
//! Nesting of conditions and literals is bounded, so hostile input cannot
//! exhaust the stack.

use super::ast::{
    CmpOp, Delete, Expr, Function, Insert, Literal, Operand, Order, Path, Returning, Select,
    SetValue, Statement, Step, Update, UpdateAction,
};
use super::lexer::{lex, Sym, Token};
use super::PartiqlError;

/// Deepest nesting of parentheses, NOTs and literals.
const MAX_DEPTH: usize = 64;

pub(crate) fn parse(text: &str) -> Result<Statement, PartiqlError> {
    let tokens = lex(text)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        params: 0,
        depth: 0,
    };
    let stmt = p.statement()?;
    if p.peek_sym(Sym::Semicolon) {
        p.pos += 1;
    }
    if let Some(t) = p.tokens.get(p.pos) {
        return Err(unexpected(t));
    }
    Ok(stmt)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    params: usize,
    depth: usize,
}

fn unexpected(t: &Token) -> PartiqlError {
    match t {
        Token::Word(w) if is_keyword(w) => PartiqlError::syntax("Unexpected keyword"),
        _ => PartiqlError::syntax("Unexpected token"),
    }
}

const KEYWORDS: &[&str] = &[
    "select",
    "from",
    "where",
    "insert",
    "into",
    "value",
    "values",
    "update",
    "set",
    "remove",
    "delete",
    "and",
    "or",
    "not",
    "between",
    "in",
    "is",
    "missing",
    "order",
    "by",
    "asc",
    "desc",
    "returning",
    "all",
    "modified",
    "old",
    "new",
];

fn is_keyword(w: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(w))
}

fn end() -> PartiqlError {
    PartiqlError::syntax("Unexpected end of statement")
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Result<Token, PartiqlError> {
        let t = self.tokens.get(self.pos).cloned().ok_or_else(end)?;
        self.pos += 1;
        Ok(t)
    }

    fn peek_word(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn peek_sym(&self, s: Sym) -> bool {
        self.peek() == Some(&Token::Sym(s))
    }

    fn eat_word(&mut self, kw: &str) -> bool {
        let yes = self.peek_word(kw);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn eat_sym(&mut self, s: Sym) -> bool {
        let yes = self.peek_sym(s);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect_word(&mut self, kw: &str) -> Result<(), PartiqlError> {
        if self.eat_word(kw) {
            return Ok(());
        }
        match self.peek() {
            None => Err(end()),
            Some(t) => Err(unexpected(t)),
        }
    }

    fn expect_sym(&mut self, s: Sym) -> Result<(), PartiqlError> {
        if self.eat_sym(s) {
            return Ok(());
        }
        match self.peek() {
            None => Err(end()),
            Some(t) => Err(unexpected(t)),
        }
    }

    fn enter(&mut self) -> Result<(), PartiqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(PartiqlError::syntax("Statement nesting is too deep"));
        }
        Ok(())
    }

    fn statement(&mut self) -> Result<Statement, PartiqlError> {
        if self.eat_word("select") {
            self.select()
        } else if self.eat_word("insert") {
            self.insert()
        } else if self.eat_word("update") {
            self.update()
        } else if self.eat_word("delete") {
            self.delete()
        } else {
            Err(PartiqlError::syntax("Expected data manipulation"))
        }
    }

    /// A table or index name: quoted, or a bare word that is not a keyword.
    fn name(&mut self) -> Result<String, PartiqlError> {
        match self.next()? {
            Token::Quoted(s) => Ok(s),
            Token::Word(w) if !is_keyword(&w) => Ok(w),
            t => Err(unexpected(&t)),
        }
    }

    fn select(&mut self) -> Result<Statement, PartiqlError> {
        let projection = if self.eat_sym(Sym::Star) {
            None
        } else {
            let mut paths = vec![self.path()?];
            while self.eat_sym(Sym::Comma) {
                paths.push(self.path()?);
            }
            Some(paths)
        };
        self.expect_word("from")?;
        let table = self.name()?;
        let index = if self.eat_sym(Sym::Dot) {
            Some(self.name()?)
        } else {
            None
        };
        let filter = if self.eat_word("where") {
            Some(self.expr()?)
        } else {
            None
        };
        let order = if self.eat_word("order") {
            self.expect_word("by")?;
            let path = self.path()?;
            let descending = if self.eat_word("desc") {
                true
            } else {
                self.eat_word("asc");
                false
            };
            Some(Order { path, descending })
        } else {
            None
        };
        Ok(Statement::Select(Select {
            projection,
            table,
            index,
            filter,
            order,
            parameters: self.params,
        }))
    }

    fn insert(&mut self) -> Result<Statement, PartiqlError> {
        self.expect_word("into")?;
        let table = self.name()?;
        self.expect_word("value")?;
        let item = self.literal()?;
        Ok(Statement::Insert(Insert {
            table,
            item,
            parameters: self.params,
        }))
    }

    fn update(&mut self) -> Result<Statement, PartiqlError> {
        let table = self.name()?;
        let mut actions = Vec::new();
        loop {
            if self.eat_word("set") {
                loop {
                    let path = self.path()?;
                    self.expect_sym(Sym::Cmp(CmpOp::Eq))?;
                    let value = self.set_value()?;
                    actions.push(UpdateAction::Set(path, value));
                    if !self.eat_sym(Sym::Comma) {
                        break;
                    }
                }
            } else if self.eat_word("remove") {
                loop {
                    actions.push(UpdateAction::Remove(self.path()?));
                    if !self.eat_sym(Sym::Comma) {
                        break;
                    }
                }
            } else {
                break;
            }
        }
        if actions.is_empty() {
            return match self.peek() {
                None => Err(end()),
                Some(t) => Err(unexpected(t)),
            };
        }
        self.expect_word("where")?;
        let filter = self.expr()?;
        let returning = self.returning()?;
        Ok(Statement::Update(Update {
            table,
            actions,
            filter,
            returning,
            parameters: self.params,
        }))
    }

    fn delete(&mut self) -> Result<Statement, PartiqlError> {
        self.expect_word("from")?;
        let table = self.name()?;
        self.expect_word("where")?;
        let filter = self.expr()?;
        let returning = self.returning()?;
        Ok(Statement::Delete(Delete {
            table,
            filter,
            returning,
            parameters: self.params,
        }))
    }

    fn returning(&mut self) -> Result<Option<Returning>, PartiqlError> {
        if !self.eat_word("returning") {
            return Ok(None);
        }
        let all = if self.eat_word("all") {
            true
        } else {
            self.expect_word("modified")?;
            false
        };
        let old = if self.eat_word("old") {
            true
        } else {
            self.expect_word("new")?;
            false
        };
        self.expect_sym(Sym::Star)?;
        Ok(Some(match (all, old) {
            (true, true) => Returning::AllOld,
            (false, true) => Returning::ModifiedOld,
            (true, false) => Returning::AllNew,
            (false, false) => Returning::ModifiedNew,
        }))
    }

    fn set_value(&mut self) -> Result<SetValue, PartiqlError> {
        for (name, make) in [("list_append", 0u8), ("set_add", 1), ("set_delete", 2)] {
            if self.peek_word(name)
                && self.tokens.get(self.pos + 1) == Some(&Token::Sym(Sym::LParen))
            {
                self.pos += 2;
                let value = if make == 0 {
                    let a = self.operand()?;
                    self.expect_sym(Sym::Comma)?;
                    let b = self.operand()?;
                    SetValue::ListAppend(a, b)
                } else {
                    let p = self.path()?;
                    self.expect_sym(Sym::Comma)?;
                    let b = self.operand()?;
                    if make == 1 {
                        SetValue::SetAdd(p, b)
                    } else {
                        SetValue::SetDelete(p, b)
                    }
                };
                self.expect_sym(Sym::RParen)?;
                return Ok(value);
            }
        }
        let a = self.operand()?;
        if self.eat_sym(Sym::Plus) {
            Ok(SetValue::Plus(a, self.operand()?))
        } else if self.eat_sym(Sym::Minus) {
            Ok(SetValue::Minus(a, self.operand()?))
        } else {
            Ok(SetValue::Operand(a))
        }
    }

    fn path(&mut self) -> Result<Path, PartiqlError> {
        let first = match self.next()? {
            Token::Quoted(s) => s,
            Token::Word(w) if !is_keyword(&w) => w,
            t => return Err(unexpected(&t)),
        };
        let mut steps = vec![Step::Name(first)];
        loop {
            if self.peek_sym(Sym::Dot) {
                self.pos += 1;
                match self.next()? {
                    Token::Quoted(s) | Token::Word(s) => steps.push(Step::Name(s)),
                    t => return Err(unexpected(&t)),
                }
            } else if self.peek_sym(Sym::LBracket) {
                self.pos += 1;
                match self.next()? {
                    Token::Num(n) => {
                        let i = n.parse::<u32>().map_err(|_| {
                            PartiqlError::syntax("List index must be a non-negative integer")
                        })?;
                        steps.push(Step::Index(i));
                    }
                    Token::Str(s) => steps.push(Step::Name(s)),
                    t => return Err(unexpected(&t)),
                }
                self.expect_sym(Sym::RBracket)?;
            } else {
                return Ok(Path(steps));
            }
        }
    }

    fn expr(&mut self) -> Result<Expr, PartiqlError> {
        let mut left = self.and()?;
        while self.eat_word("or") {
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, PartiqlError> {
        let mut left = self.not()?;
        while self.eat_word("and") {
            let right = self.not()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, PartiqlError> {
        if self.eat_word("not") {
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, PartiqlError> {
        if self.eat_sym(Sym::LParen) {
            self.enter()?;
            let e = self.expr()?;
            self.depth -= 1;
            self.expect_sym(Sym::RParen)?;
            return Ok(e);
        }
        for f in [
            Function::BeginsWith,
            Function::Contains,
            Function::AttributeType,
        ] {
            if self.peek_word(f.name())
                && self.tokens.get(self.pos + 1) == Some(&Token::Sym(Sym::LParen))
            {
                self.pos += 2;
                let path = self.path()?;
                self.expect_sym(Sym::Comma)?;
                let arg = self.operand()?;
                self.expect_sym(Sym::RParen)?;
                return Ok(Expr::Call(f, path, arg));
            }
        }
        let left = self.operand()?;
        if self.eat_word("is") {
            let negated = self.eat_word("not");
            self.expect_word("missing")?;
            let Operand::Path(p) = left else {
                return Err(PartiqlError::syntax("Unexpected keyword"));
            };
            return Ok(Expr::Present(p, negated));
        }
        let negated = self.eat_word("not");
        let e = if self.eat_word("between") {
            let low = self.operand()?;
            self.expect_word("and")?;
            let high = self.operand()?;
            Expr::Between(left, low, high)
        } else if self.eat_word("in") {
            let close = if self.eat_sym(Sym::LBracket) {
                Sym::RBracket
            } else {
                self.expect_sym(Sym::LParen)?;
                Sym::RParen
            };
            let mut list = vec![self.operand()?];
            while self.eat_sym(Sym::Comma) {
                list.push(self.operand()?);
            }
            self.expect_sym(close)?;
            Expr::In(left, list)
        } else if negated {
            return match self.peek() {
                None => Err(end()),
                Some(t) => Err(unexpected(t)),
            };
        } else {
            let op = match self.next()? {
                Token::Sym(Sym::Cmp(op)) => op,
                t => return Err(unexpected(&t)),
            };
            Expr::Cmp(left, op, self.operand()?)
        };
        Ok(if negated { Expr::Not(Box::new(e)) } else { e })
    }

    fn operand(&mut self) -> Result<Operand, PartiqlError> {
        if self.peek_word("size") && self.tokens.get(self.pos + 1) == Some(&Token::Sym(Sym::LParen))
        {
            self.pos += 2;
            let p = self.path()?;
            self.expect_sym(Sym::RParen)?;
            return Ok(Operand::Size(p));
        }
        match self.peek() {
            Some(Token::Quoted(_)) => Ok(Operand::Path(self.path()?)),
            Some(Token::Word(w))
                if !["true", "false", "null"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(w)) =>
            {
                Ok(Operand::Path(self.path()?))
            }
            Some(_) => Ok(Operand::Value(self.literal()?)),
            None => Err(end()),
        }
    }

    fn literal(&mut self) -> Result<Literal, PartiqlError> {
        self.enter()?;
        let lit = self.literal_inner();
        self.depth -= 1;
        lit
    }

    fn literal_inner(&mut self) -> Result<Literal, PartiqlError> {
        match self.next()? {
            Token::Str(s) => Ok(Literal::Str(s)),
            Token::Num(n) => Ok(Literal::Num(n)),
            Token::Sym(Sym::Minus) => match self.next()? {
                Token::Num(n) => Ok(Literal::Num(format!("-{n}"))),
                t => Err(unexpected(&t)),
            },
            Token::Sym(Sym::Plus) => match self.next()? {
                Token::Num(n) => Ok(Literal::Num(n)),
                t => Err(unexpected(&t)),
            },
            Token::Param => {
                self.params += 1;
                Ok(Literal::Param(self.params - 1))
            }
            Token::Word(w) if w.eq_ignore_ascii_case("true") => Ok(Literal::Bool(true)),
            Token::Word(w) if w.eq_ignore_ascii_case("false") => Ok(Literal::Bool(false)),
            Token::Word(w) if w.eq_ignore_ascii_case("null") => Ok(Literal::Null),
            Token::Sym(Sym::LBrace) => {
                let mut entries = Vec::new();
                if !self.eat_sym(Sym::RBrace) {
                    loop {
                        let key = match self.next()? {
                            Token::Str(s) | Token::Quoted(s) => s,
                            t => return Err(unexpected(&t)),
                        };
                        self.expect_sym(Sym::Colon)?;
                        entries.push((key, self.literal()?));
                        if self.eat_sym(Sym::RBrace) {
                            break;
                        }
                        self.expect_sym(Sym::Comma)?;
                    }
                }
                Ok(Literal::Map(entries))
            }
            Token::Sym(Sym::LBracket) => Ok(Literal::List(self.sequence(Sym::RBracket)?)),
            Token::Sym(Sym::LSet) => Ok(Literal::Set(self.sequence(Sym::RSet)?)),
            t => Err(unexpected(&t)),
        }
    }

    fn sequence(&mut self, close: Sym) -> Result<Vec<Literal>, PartiqlError> {
        let mut items = Vec::new();
        if self.eat_sym(close) {
            return Ok(items);
        }
        loop {
            items.push(self.literal()?);
            if self.eat_sym(close) {
                return Ok(items);
            }
            self.expect_sym(Sym::Comma)?;
        }
    }
}
