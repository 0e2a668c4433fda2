//! Tokens of DynamoDB's PartiQL dialect.
//!
//! Keywords are not told apart from identifiers here: an unquoted word is a
//! `Word` and the parser compares it case-insensitively, so a quoted
//! `"select"` stays an attribute name. Strings are single-quoted (`''`
//! escapes a quote), identifiers double-quoted (`""` escapes a quote).

use super::PartiqlError;
use crate::expr::CmpOp;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    /// An unquoted identifier or keyword.
    Word(String),
    /// A double-quoted identifier.
    Quoted(String),
    /// A single-quoted string literal.
    Str(String),
    /// A number literal, as written.
    Num(String),
    /// `?`, a parameter.
    Param,
    Sym(Sym),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sym {
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    /// `<<`, opening a set.
    LSet,
    /// `>>`, closing a set.
    RSet,
    Comma,
    Dot,
    Colon,
    Star,
    Plus,
    Minus,
    /// `=`, `<>` (or `!=`), `<`, `<=`, `>`, `>=`.
    Cmp(CmpOp),
    Semicolon,
}

/// Splits `text` into tokens.
pub(crate) fn lex(text: &str) -> Result<Vec<Token>, PartiqlError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // Comments: `--` to the end of the line.
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '\'' || c == '"' {
            let (s, next) = quoted(&chars, i, c)?;
            out.push(if c == '\'' {
                Token::Str(s)
            } else {
                Token::Quoted(s)
            });
            i = next;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            out.push(Token::Num(chars[start..i].iter().collect()));
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
            continue;
        }
        let next = chars.get(i + 1).copied();
        let (sym, len) = match (c, next) {
            ('<', Some('<')) => (Sym::LSet, 2),
            ('>', Some('>')) => (Sym::RSet, 2),
            ('<', Some('>')) => (Sym::Cmp(CmpOp::Ne), 2),
            ('!', Some('=')) => (Sym::Cmp(CmpOp::Ne), 2),
            ('<', Some('=')) => (Sym::Cmp(CmpOp::Le), 2),
            ('>', Some('=')) => (Sym::Cmp(CmpOp::Ge), 2),
            ('<', _) => (Sym::Cmp(CmpOp::Lt), 1),
            ('>', _) => (Sym::Cmp(CmpOp::Gt), 1),
            ('=', _) => (Sym::Cmp(CmpOp::Eq), 1),
            ('(', _) => (Sym::LParen, 1),
            (')', _) => (Sym::RParen, 1),
            ('[', _) => (Sym::LBracket, 1),
            (']', _) => (Sym::RBracket, 1),
            ('{', _) => (Sym::LBrace, 1),
            ('}', _) => (Sym::RBrace, 1),
            (',', _) => (Sym::Comma, 1),
            ('.', _) => (Sym::Dot, 1),
            (':', _) => (Sym::Colon, 1),
            ('*', _) => (Sym::Star, 1),
            ('+', _) => (Sym::Plus, 1),
            ('-', _) => (Sym::Minus, 1),
            (';', _) => (Sym::Semicolon, 1),
            ('?', _) => {
                out.push(Token::Param);
                i += 1;
                continue;
            }
            _ => return Err(PartiqlError::syntax(format!("Unexpected character: {c}"))),
        };
        out.push(Token::Sym(sym));
        i += len;
    }
    Ok(out)
}

/// A quoted string or identifier starting at `start`; a doubled quote
/// stands for one. Returns the text and the index after the closing quote.
fn quoted(chars: &[char], start: usize, q: char) -> Result<(String, usize), PartiqlError> {
    let mut s = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => {
                return Err(PartiqlError::syntax(if q == '\'' {
                    "Unterminated string literal"
                } else {
                    "Unterminated quoted identifier"
                }))
            }
            Some(&c) if c == q => {
                if chars.get(i + 1) == Some(&q) {
                    s.push(q);
                    i += 2;
                } else {
                    return Ok((s, i + 1));
                }
            }
            Some(&c) => {
                s.push(c);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes_sets_strings_and_operators() {
        let t = lex("SELECT * FROM \"t\" WHERE a <> 'it''s' AND b IN <<1, 2.5e3>>")
            .expect("must succeed");
        assert_eq!(t[3], Token::Quoted("t".into()));
        assert_eq!(t[6], Token::Sym(Sym::Cmp(CmpOp::Ne)));
        assert_eq!(t[7], Token::Str("it's".into()));
        assert!(t.contains(&Token::Sym(Sym::LSet)));
        assert!(t.contains(&Token::Num("2.5e3".into())));
    }

    #[test]
    fn unterminated_string_is_a_syntax_error() {
        assert!(lex("SELECT * FROM t WHERE a = 'x").is_err());
    }
}
